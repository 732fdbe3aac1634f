set(TGK_tq_kv_SOURCES ${CMAKE_CURRENT_LIST_DIR}/tq_kv.cc)
set(TGK_tq_kv_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/tq_kv.h)
set(TGK_tq_kv_TESTS
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_parity_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_accuracy_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_validation_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_reference.cc)
set(TGK_tq_kv_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_bench.cc)
# The `tgk run` commands of this family (tools/tgk builds them in) and their factories.
set(TGK_tq_kv_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_command.cc)
set(TGK_tq_kv_COMMAND_FACTORIES "MakeTqEncodeCommand;MakeTqDequantCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_tq_kv_HINTED_KERNELS "TqEncodeFastKernel<[0-9u, ]+>")
