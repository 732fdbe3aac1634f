set(TGK_gdn_solve_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_solve.cc)
set(TGK_gdn_solve_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_solve.h)
set(TGK_gdn_solve_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_solve_test.cc
                        ${CMAKE_CURRENT_LIST_DIR}/gdn_solve_reference.cc)
set(TGK_gdn_solve_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_solve_bench.cc)
set(TGK_gdn_solve_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_solve_command.cc)
set(TGK_gdn_solve_COMMAND_FACTORIES "MakeGdnSolveCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_gdn_solve_HINTED_KERNELS GdnSolveKernel)
