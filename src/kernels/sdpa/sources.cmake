set(TGK_sdpa_SOURCES ${CMAKE_CURRENT_LIST_DIR}/sdpa.cc)
set(TGK_sdpa_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/sdpa.h)
set(TGK_sdpa_TESTS ${CMAKE_CURRENT_LIST_DIR}/sdpa_test.cc ${CMAKE_CURRENT_LIST_DIR}/sdpa_reference.cc)
set(TGK_sdpa_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/sdpa_bench.cc)
