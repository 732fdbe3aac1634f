set(TGK_gdn_chunk_SOURCES ${CMAKE_CURRENT_LIST_DIR}/gdn_chunk.cc)
set(TGK_gdn_chunk_PUBLIC_HEADERS ${CMAKE_CURRENT_LIST_DIR}/gdn_chunk.h)
set(TGK_gdn_chunk_TESTS
    ${CMAKE_CURRENT_LIST_DIR}/gdn_chunk_test.cc
    ${CMAKE_CURRENT_LIST_DIR}/gdn_chunk_reference.cc
    ${CMAKE_CURRENT_LIST_DIR}/../gdn_solve/gdn_solve_reference.cc
    ${CMAKE_CURRENT_LIST_DIR}/../gdn_wu/gdn_wu_reference.cc
    ${CMAKE_CURRENT_LIST_DIR}/../gdn_state/gdn_state_reference.cc
    ${CMAKE_CURRENT_LIST_DIR}/../gdn_output/gdn_output_reference.cc)
set(TGK_gdn_chunk_TEST_DEFINITIONS TGK_GDN_TESTDATA="${CMAKE_CURRENT_LIST_DIR}/testdata")
set(TGK_gdn_chunk_BENCHMARKS ${CMAKE_CURRENT_LIST_DIR}/gdn_chunk_bench.cc)
set(TGK_gdn_chunk_COMMANDS ${CMAKE_CURRENT_LIST_DIR}/gdn_chunk_command.cc)
set(TGK_gdn_chunk_COMMAND_FACTORIES "MakeGdnChunkCommand")
