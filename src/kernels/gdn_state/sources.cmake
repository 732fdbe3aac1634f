set(TGK_gdn_state_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_state.cc)
set(TGK_gdn_state_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_state.h)
set(TGK_gdn_state_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_state_test.cc
                        ${CMAKE_CURRENT_LIST_DIR}/gdn_state_reference.cc)
set(TGK_gdn_state_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_state_bench.cc)
set(TGK_gdn_state_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_state_command.cc)
set(TGK_gdn_state_COMMAND_FACTORIES "MakeGdnStateCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_gdn_state_HINTED_KERNELS GdnStateKernel)
