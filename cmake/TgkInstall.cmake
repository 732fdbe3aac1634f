# cmake --install: headers, the library, an exported CMake package (find_package(tgk) gives
# tgk::tgk) and a pkg-config file.
include(CMakePackageConfigHelpers)

install(TARGETS tgk EXPORT tgkTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/tgk DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT tgkTargets NAMESPACE tgk:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tgk)

# Which OpenMP runtime tgk was built with; a consumer must use the same one (one runtime per
# process).
set(TGK_OPENMP_FLAGS "${OpenMP_CXX_FLAGS}")
configure_package_config_file(cmake/tgkConfig.cmake.in
  ${PROJECT_BINARY_DIR}/tgkConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tgk)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/tgkConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/tgkConfig.cmake ${PROJECT_BINARY_DIR}/tgkConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/tgk)

string(REPLACE ";" " -D" TGK_PC_DEFINITIONS "-D${TGK_HWY_DEFINITIONS}")
string(REPLACE ";" " " TGK_PC_OPTIONS "${TGK_CONTRACT_OPTIONS}")
configure_file(cmake/tgk.pc.in ${PROJECT_BINARY_DIR}/tgk.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/tgk.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
