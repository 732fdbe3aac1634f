set(TGK_gdn_l2norm_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_l2norm.cc
                           ${CMAKE_CURRENT_LIST_DIR}/gdn_l2norm_reference.cc)
set(TGK_gdn_l2norm_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_l2norm.h)
set(TGK_gdn_l2norm_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_l2norm_test.cc)
set(TGK_gdn_l2norm_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_l2norm_bench.cc)
set(TGK_gdn_l2norm_TEST_DEFINITIONS TGK_GDN_L2NORM_TESTDATA="${CMAKE_CURRENT_LIST_DIR}/testdata")
set(TGK_gdn_l2norm_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_l2norm_command.cc)
set(TGK_gdn_l2norm_COMMAND_FACTORIES "MakeGdnL2NormCommand")
