# Finds Highway and defines hwy::hwy; shared by tgk's own build and its installed package, so
# that a consumer resolves Highway the same way tgk did. Debian 12 patches a CMake config into
# libhwy-dev; upstream 1.0.3 ships only pkg-config files, so fall back to those. Leaves hwy::hwy
# undefined when neither is found: the caller reports it.
if(NOT TARGET hwy::hwy)
  find_package(hwy CONFIG QUIET)
endif()
if(NOT TARGET hwy::hwy)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(libhwy QUIET IMPORTED_TARGET libhwy)
  endif()
  if(TARGET PkgConfig::libhwy)
    add_library(hwy::hwy INTERFACE IMPORTED)
    target_link_libraries(hwy::hwy INTERFACE PkgConfig::libhwy)
  endif()
endif()
