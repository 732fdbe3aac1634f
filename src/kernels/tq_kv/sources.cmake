set(TGK_tq_kv_SOURCES ${CMAKE_CURRENT_LIST_DIR}/tq_kv.cc)
set(TGK_tq_kv_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/tq_kv.h)
set(TGK_tq_kv_TESTS
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_parity_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_accuracy_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_validation_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/tq_kv_reference.cc)
set(TGK_tq_kv_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/tq_kv_bench.cc)
