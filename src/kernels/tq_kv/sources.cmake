set(TGK_tq_kv_SOURCES ${CMAKE_CURRENT_LIST_DIR}/tq_kv.cc)
set(TGK_tq_kv_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/tq_kv.h)
set(TGK_tq_kv_TESTS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_test.cc)
set(TGK_tq_kv_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_bench.cc)
# The `tgk run` commands of this family (tools/tgk builds them in) and their factories.
set(TGK_tq_kv_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_command.cc)
set(TGK_tq_kv_COMMAND_FACTORIES "MakeTqEncodeCommand;MakeTqDequantCommand")
