# cmake --install: headers, both libraries, an exported, versioned CMake package
# (find_package(tgk 0.2) gives tgk::tgk, tgk::tgk_static and tgk::kernel_author) and two
# pkg-config files (tgk.pc, tgk-kernel-author.pc). All are relocatable: they find the prefix
# from their own location, so `cmake --install --prefix DIR` and DESTDIR staging work.
include(CMakePackageConfigHelpers)

install(TARGETS tgk tgk_static tgk_kernel_author EXPORT tgkTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
# The whole programming model, per-target headers included: users write kernels of their own.
install(DIRECTORY include/tgk DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/tgk/version.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/tgk)

set(TGK_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/tgk)
install(EXPORT tgkTargets NAMESPACE tgk:: DESTINATION ${TGK_CMAKE_DIR})
configure_package_config_file(cmake/tgkConfig.cmake.in ${PROJECT_BINARY_DIR}/tgkConfig.cmake
  INSTALL_DESTINATION ${TGK_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tgkConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tgkConfig.cmake ${PROJECT_BINARY_DIR}/tgkConfigVersion.cmake
              cmake/TgkFindHwy.cmake
        DESTINATION ${TGK_CMAKE_DIR})

# pkg-config: tgk.pc to call kernels (headers and the shared library), tgk-kernel-author.pc to
# write them (adds the contract flags of tgk::kernel_author and Highway). Their spelling must
# survive a shell and make unquoted (`$(pkg-config --cflags tgk)`): no parentheses or `|`.
set(TGK_PC_CFLAGS ${TGK_CONTRACT_OPTIONS})
foreach(definition IN LISTS TGK_HWY_DEFINITIONS)
  list(APPEND TGK_PC_CFLAGS -D${definition})
endforeach()
list(JOIN TGK_PC_CFLAGS " " TGK_PC_CFLAGS)
file(RELATIVE_PATH TGK_PC_PREFIX_FROM_PCFILEDIR /${CMAKE_INSTALL_LIBDIR}/pkgconfig /)
string(REGEX REPLACE "/$" "" TGK_PC_PREFIX_FROM_PCFILEDIR ${TGK_PC_PREFIX_FROM_PCFILEDIR})
foreach(pc_file tgk tgk-kernel-author)
  configure_file(cmake/${pc_file}.pc.in ${PROJECT_BINARY_DIR}/${pc_file}.pc @ONLY)
  install(FILES ${PROJECT_BINARY_DIR}/${pc_file}.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
endforeach()
