# Every dependency comes from the system (Debian packages); nothing is downloaded.

find_package(OpenMP REQUIRED COMPONENTS CXX)

include(${CMAKE_CURRENT_LIST_DIR}/TgkFindHwy.cmake)
if(NOT TARGET hwy::hwy)
  message(FATAL_ERROR "Highway not found: install libhwy-dev (CMake config or libhwy.pc)")
endif()

if(TGK_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
if(TGK_BUILD_PERF)
  find_package(benchmark REQUIRED)
endif()
if(TGK_BUILD_TOOL)
  find_package(CLI11 CONFIG REQUIRED)
  find_package(nlohmann_json 3 CONFIG REQUIRED)
  # `tgk scaling --plot`: PLplot (libplplot-dev) draws through its cairo device
  # (plplot-driver-cairo, needed at run time).
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(PLPLOT REQUIRED IMPORTED_TARGET plplot)
endif()
