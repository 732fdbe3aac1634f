set(TGK_gdn_recurrent_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_recurrent.cc
                              ${CMAKE_CURRENT_LIST_DIR}/gdn_recurrent_reference.cc)
set(TGK_gdn_recurrent_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_recurrent.h)
set(TGK_gdn_recurrent_TESTS ${CMAKE_CURRENT_LIST_DIR}/gdn_recurrent_test.cc)
set(TGK_gdn_recurrent_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_recurrent_bench.cc)
set(TGK_gdn_recurrent_TEST_DEFINITIONS
    TGK_GDN_RECURRENT_TESTDATA="${CMAKE_CURRENT_LIST_DIR}/testdata")
set(TGK_gdn_recurrent_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_recurrent_command.cc)
set(TGK_gdn_recurrent_COMMAND_FACTORIES "MakeGdnRecurrentCommand")
# Kernels whose cache hints must survive compilation (tests/codegen/keeps_cache_hints.sh).
set(TGK_gdn_recurrent_HINTED_KERNELS "GdnRecurrentKernelT<[0-9]+u>")
