include(GoogleTest)

# tgk_add_test(NAME SOURCES...): a GoogleTest program registered with CTest, linked with the
# testing library (tests/testing/).
function(tgk_add_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE tgk::tgk tgk_testing GTest::gtest GTest::gtest_main)
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/src ${PROJECT_SOURCE_DIR}/tests)
  tgk_apply_warnings(${name})
  # Tests run 3 and 7 threads on small machines on purpose (results must not depend on the
  # thread count); passive waiting keeps idle OpenMP threads from spinning the cores away.
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES TIMEOUT 900 ENVIRONMENT OMP_WAIT_POLICY=passive)
endfunction()
