# Installation: headers under include/wisp/ (folder layout kept), static libraries, and an
# exported CMake package so that a user project can do
#   find_package(wisp 0.1 REQUIRED)
#   target_link_libraries(app PRIVATE wisp::wisp)
#
# Layout of an install prefix:
#   include/wisp/wisp.h                      the umbrella header (#include <wisp/wisp.h>)
#   include/wisp/<folder>/*.h                core/ (with core/cuda/ and the generated config.h), kernels/
#                                            (with kernels/cpu/ and kernels/cuda/), autograd/, ops/,
#                                            layers/, optim/, serialization/, data/
#   lib/libwisp_*.a                          one static library per folder
#   lib/cmake/wisp/wisp{Config,ConfigVersion,Targets*}.cmake
#
# The exported targets' only include directory is include/: wisp's headers include each other as
# "wisp/core/tensor.h", so a user project's own core/ or data/ headers cannot shadow them.
#
# wisp_compile_options is not installed: wisp's warning, -march=native and sanitizer flags apply to
# wisp's own sources only and reach the libraries through $<BUILD_INTERFACE:...>, so nothing in the
# exported interface refers to it and user projects keep their own flags.

install(TARGETS ${WISP_LIBRARY_TARGETS} wisp
        EXPORT wispTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

# Headers, recursively per folder (kernels/ brings kernels/cpu/ and kernels/cuda/ with it).
install(FILES ${PROJECT_SOURCE_DIR}/wisp.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wisp)
foreach(folder core kernels autograd ops layers optim serialization data distributed)
  if(EXISTS ${PROJECT_SOURCE_DIR}/${folder})
    install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wisp/${folder}
            FILES_MATCHING PATTERN "*.h" PATTERN "*.cuh")
  endif()
endforeach()
install(FILES ${PROJECT_BINARY_DIR}/generated/wisp/core/config.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/wisp/core)

# The CMake package.
set(WISP_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/wisp)
install(EXPORT wispTargets NAMESPACE wisp:: DESTINATION ${WISP_INSTALL_CMAKEDIR})
# Where the build found the CUDA toolkit: the installed config uses it as a hint for CUDAToolkit.
if(WISP_WITH_CUDA AND DEFINED CUDAToolkit_BIN_DIR)
  get_filename_component(WISP_CUDA_TOOLKIT_ROOT "${CUDAToolkit_BIN_DIR}" DIRECTORY)
else()
  set(WISP_CUDA_TOOLKIT_ROOT "")
endif()
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/wispConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/wispConfig.cmake
                              INSTALL_DESTINATION ${WISP_INSTALL_CMAKEDIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/wispConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/wispConfig.cmake ${PROJECT_BINARY_DIR}/wispConfigVersion.cmake
        DESTINATION ${WISP_INSTALL_CMAKEDIR})
