set(TGK_tq_kv_SOURCES ${CMAKE_CURRENT_LIST_DIR}/tq_kv.cc)
set(TGK_tq_kv_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/tq_kv.h)
set(TGK_tq_kv_TESTS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_test.cc)
set(TGK_tq_kv_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_bench.cc)
