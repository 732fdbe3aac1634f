# Every dependency comes from the system (Debian packages); nothing is downloaded.

find_package(OpenMP REQUIRED COMPONENTS CXX)

# Highway: Debian 12 patches in a CMake config (hwy::hwy); upstream 1.0.3 ships only
# pkg-config files, so fall back to those.
find_package(hwy CONFIG QUIET)
if(NOT TARGET hwy::hwy)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(libhwy REQUIRED IMPORTED_TARGET libhwy)
  add_library(hwy::hwy INTERFACE IMPORTED)
  target_link_libraries(hwy::hwy INTERFACE PkgConfig::libhwy)
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
endif()
