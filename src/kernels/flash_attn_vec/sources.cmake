set(TGK_flash_attn_vec_SOURCES ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec.cc)
set(TGK_flash_attn_vec_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec.h)
set(TGK_flash_attn_vec_TESTS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_test.cc
                             ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_reference.cc)
set(TGK_flash_attn_vec_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_bench.cc)
# The `tgk run` commands of this family (tools/tgk builds them in) and their factories.
set(TGK_flash_attn_vec_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/flash_attn_vec_command.cc)
set(TGK_flash_attn_vec_COMMAND_FACTORIES "MakeFlashAttnVecCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_flash_attn_vec_HINTED_KERNELS "fav::VecKernel<[0-9]+u>::Run<[0-9]+u")
