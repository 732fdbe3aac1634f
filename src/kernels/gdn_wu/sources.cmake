set(TGK_gdn_wu_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_wu.cc)
set(TGK_gdn_wu_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_wu.h)
set(TGK_gdn_wu_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_wu_test.cc
                     ${CMAKE_CURRENT_LIST_DIR}/gdn_wu_reference.cc)
set(TGK_gdn_wu_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_wu_bench.cc)
set(TGK_gdn_wu_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_wu_command.cc)
set(TGK_gdn_wu_COMMAND_FACTORIES "MakeGdnWuCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_gdn_wu_HINTED_KERNELS GdnWuKernel)
