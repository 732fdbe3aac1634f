set(TGK_gdn_output_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_output.cc)
set(TGK_gdn_output_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_output.h)
set(TGK_gdn_output_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_output_test.cc
                         ${CMAKE_CURRENT_LIST_DIR}/gdn_output_reference.cc)
set(TGK_gdn_output_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_output_bench.cc)
set(TGK_gdn_output_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_output_command.cc)
set(TGK_gdn_output_COMMAND_FACTORIES "MakeGdnOutputCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_gdn_output_HINTED_KERNELS GdnOutputKernel)
