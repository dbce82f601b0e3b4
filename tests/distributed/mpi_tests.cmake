# [mpi] tests (label mpi): tests/distributed/mpi/test_*.cpp as one Catch2 executable that ctest runs
# under `mpirun -np N` for N = 2, 3 and 4, every rank running every test case (their collectives
# match), started by WISP_MPIRUN (the top-level CMakeLists.txt). WISP_DISTRIBUTED_TIMEOUT turns a
# hang (a rank that failed an assertion and skipped a collective) into a failure within a minute.
if(NOT WISP_WITH_MPI)
  return()
endif()
file(GLOB WISP_MPI_TEST_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/distributed/mpi/test_*.cpp)
add_executable(distributed_mpi_tests ${WISP_MPI_TEST_SOURCES})
target_link_libraries(distributed_mpi_tests PRIVATE wisp_test_main wisp_compile_options)
target_precompile_headers(distributed_mpi_tests REUSE_FROM ${WISP_TEST_PCH_OWNER})

foreach(ranks 2 3 4)
  set(name "distributed/[mpi] collectives and data parallelism on ${ranks} ranks")
  add_test(NAME "${name}" COMMAND ${WISP_MPIRUN} ${MPIEXEC_NUMPROC_FLAG} ${ranks} $<TARGET_FILE:distributed_mpi_tests>)
  set_tests_properties("${name}" PROPERTIES LABELS "distributed;mpi" TIMEOUT 900 RUN_SERIAL TRUE
                       ENVIRONMENT "WISP_DISTRIBUTED_TIMEOUT=60;OMP_NUM_THREADS=1")
endforeach()
