# Installation: headers under include/wisp/ (folder layout kept), static libraries, and an
# exported CMake package so that a user project can do
#   find_package(wisp REQUIRED)
#   target_link_libraries(app PRIVATE wisp::wisp)
install(TARGETS ${WISP_LIBRARY_TARGETS} wisp wisp_compile_options
        EXPORT wispTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(FILES ${PROJECT_SOURCE_DIR}/wisp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wisp)
foreach(folder core autograd kernels kernels/cpu kernels/cuda layers optim data)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${folder})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wisp/${folder}
            FILES_MATCHING PATTERN "*.h" PATTERN "cpu" EXCLUDE PATTERN "cuda" EXCLUDE)
  endif()
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/core/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wisp/core)

install(EXPORT wispTargets NAMESPACE wisp:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wisp)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/wispConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/wispConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wisp)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/wispConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/wispConfig.cmake ${PROJECT_BINARY_DIR}/wispConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/wisp)
