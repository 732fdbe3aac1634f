set(TGK_kkt_SOURCES ${CMAKE_CURRENT_LIST_DIR}/kkt.cc)
set(TGK_kkt_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/kkt.h)
set(TGK_kkt_TESTS ${CMAKE_CURRENT_LIST_DIR}/kkt_test.cc ${CMAKE_CURRENT_LIST_DIR}/kkt_reference.cc)
set(TGK_kkt_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/kkt_bench.cc)
set(TGK_kkt_TEST_DEFINITIONS TGK_KKT_TESTDATA="${CMAKE_CURRENT_LIST_DIR}/testdata")
# The `tgk run` commands of this family (tools/tgk builds them in) and their factories.
set(TGK_kkt_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/kkt_command.cc)
set(TGK_kkt_COMMAND_FACTORIES "MakeKktCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_kkt_HINTED_KERNELS KktKernel)
