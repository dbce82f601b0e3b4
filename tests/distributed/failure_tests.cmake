# [mpi] failure tests (label mpi): failure_program run under mpirun with 2 ranks, one of which fails
# in a different way per test; failure_test.sh checks that the job then ends with a non-zero status
# within a bound (the 5 s collective timeout plus mpirun's start and teardown) and with an error
# that names what went wrong. Included after mpi_tests.cmake, whose WISP_MPIRUN it reuses.
if(NOT WISP_WITH_MPI)
  return()
endif()
add_executable(distributed_failure_program distributed/failure_program.cpp)
target_link_libraries(distributed_failure_program PRIVATE wisp::wisp wisp_compile_options)

# wisp_add_failure_test(<what happens> <mode> <expected regex> <max seconds> [ENVIRONMENT ...])
function(wisp_add_failure_test what mode expected max_seconds)
  cmake_parse_arguments(ARG "" "" "ENVIRONMENT" ${ARGN})
  set(name "distributed/[mpi] ${what} ends the job with a clear error")
  add_test(NAME "${name}"
           COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/distributed/failure_test.sh ${mode} "${expected}" ${max_seconds}
                   ${WISP_MPIRUN} ${MPIEXEC_NUMPROC_FLAG} 2 $<TARGET_FILE:distributed_failure_program>)
  set_tests_properties("${name}" PROPERTIES LABELS "distributed;mpi" TIMEOUT 120 RUN_SERIAL TRUE)
  if(ARG_ENVIRONMENT)
    set_tests_properties("${name}" PROPERTIES ENVIRONMENT "${ARG_ENVIRONMENT}")
  endif()
endfunction()

# A rank that left the job is reported by rank 0 at once; one that is alive but absent, at the timeout.
set(left_after "was matched with rank 1 leaving the job after its collective")
wisp_add_failure_test("a rank that skips the last collective" skip-last
                      "collective #5 [(]all_reduce[(]sum[)] of 4 float32[)] ${left_after} #4: a rank skipped" 15)
wisp_add_failure_test("a rank that skips a collective in the middle" skip-middle
                      "collective #5 [(]all_reduce[(]sum[)] of 4 float32[)] ${left_after} #4: a rank skipped" 15)
wisp_add_failure_test("a rank that stalls past the timeout" stall
                      "collective #5 .* did not complete within 5 s .*ranks that did not arrive at it: 1[.]" 15)
wisp_add_failure_test("a rank killed by a signal" kill "rank 1 .*exited on signal 9" 15)
wisp_add_failure_test("a collective of another size in debug mode" debug-mismatch
                      "rank 0 calls collective #2, all_reduce[(]sum[)] of 4 float32, but rank 1 calls collective #2, all_reduce[(]sum[)] of 6 float32"
                      15 ENVIRONMENT WISP_DISTRIBUTED_DEBUG=1)
wisp_add_failure_test("an exception on one rank" exception "collective #2 .*${left_after} #1: a rank skipped" 15)
