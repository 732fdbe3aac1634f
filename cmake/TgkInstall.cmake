# cmake --install: headers, the library, an exported CMake package (find_package(tgk) gives
# tgk::tgk) and a pkg-config file. Both are relocatable: they find the prefix from their own
# location, so `cmake --install --prefix DIR` and DESTDIR staging work.
include(CMakePackageConfigHelpers)

install(TARGETS tgk EXPORT tgkTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The whole programming model, per-target headers included: users write kernels of their own.
install(DIRECTORY include/tgk DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(TGK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tgk)
install(EXPORT tgkTargets NAMESPACE tgk:: DESTINATION ${TGK_CMAKE_DIR})
configure_package_config_file(cmake/tgkConfig.cmake.in ${PROJECT_BINARY_DIR}/tgkConfig.cmake
  INSTALL_DESTINATION ${TGK_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tgkConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tgkConfig.cmake ${PROJECT_BINARY_DIR}/tgkConfigVersion.cmake
              cmake/TgkFindHwy.cmake
        DESTINATION ${TGK_CMAKE_DIR})

# pkg-config: the same contract flags as tgk::tgk's interface. Their spelling must survive a
# shell and make unquoted (`$(pkg-config --cflags tgk)`): no parentheses or `|` in them.
set(TGK_PC_CFLAGS ${TGK_CONTRACT_OPTIONS})
foreach(definition IN LISTS TGK_HWY_DEFINITIONS)
  list(APPEND TGK_PC_CFLAGS -D${definition})
endforeach()
list(JOIN TGK_PC_CFLAGS " " TGK_PC_CFLAGS)
file(RELATIVE_PATH TGK_PC_PREFIX_FROM_PCFILEDIR /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" TGK_PC_PREFIX_FROM_PCFILEDIR ${TGK_PC_PREFIX_FROM_PCFILEDIR})
configure_file(cmake/tgk.pc.in ${PROJECT_BINARY_DIR}/tgk.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tgk.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
