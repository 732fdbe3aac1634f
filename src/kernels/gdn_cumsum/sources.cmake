set(TGK_gdn_cumsum_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_cumsum.cc
                           ${CMAKE_CURRENT_LIST_DIR}/gdn_cumsum_reference.cc)
set(TGK_gdn_cumsum_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_cumsum.h)
set(TGK_gdn_cumsum_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_cumsum_test.cc)
set(TGK_gdn_cumsum_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_cumsum_bench.cc)
set(TGK_gdn_cumsum_TEST_DEFINITIONS TGK_GDN_CUMSUM_TESTDATA="${CMAKE_CURRENT_LIST_DIR}/testdata")
set(TGK_gdn_cumsum_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_cumsum_command.cc)
set(TGK_gdn_cumsum_COMMAND_FACTORIES "MakeGdnCumsumCommand")
