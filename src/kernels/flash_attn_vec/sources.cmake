set(TGK_flash_attn_vec_SOURCES ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec.cc)
set(TGK_flash_attn_vec_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec.h)
set(TGK_flash_attn_vec_TESTS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_test.cc
                             ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_reference.cc)
set(TGK_flash_attn_vec_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_bench.cc)
