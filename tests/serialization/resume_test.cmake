# Bit-exact resume across processes: cmake -DPROGRAM=<resume_program> -DDIR=<scratch folder> -P resume_test.cmake
# Runs resume_program uninterrupted (2 epochs), first-half (epoch 1, save) and second-half (a new
# process: load, epoch 2), and requires the uninterrupted run's output (every step's loss bits, each
# epoch's state hash and RigL/SET counters) to equal the two halves' outputs one after the other,
# and its final checkpoint to equal the resumed run's byte for byte.
foreach(variable PROGRAM DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "resume_test.cmake: -D${variable}=... is required")
  endif()
endforeach()
file(REMOVE_RECURSE "${DIR}")
file(MAKE_DIRECTORY "${DIR}")

function(run mode output_variable)
  execute_process(COMMAND "${PROGRAM}" ${mode} "${DIR}" OUTPUT_VARIABLE output ERROR_VARIABLE errors
                  RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "resume_program ${mode} failed (${status}):\n${output}${errors}")
  endif()
  set(${output_variable} "${output}" PARENT_SCOPE)
endfunction()

run(uninterrupted uninterrupted)
run(first-half first_half)
run(second-half second_half)
message("uninterrupted:\n${uninterrupted}")
message("first half, then second half in a new process:\n${first_half}${second_half}")
if(NOT uninterrupted STREQUAL "${first_half}${second_half}")
  message(FATAL_ERROR "the resumed run differs from the uninterrupted run (outputs above)")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" -E compare_files "${DIR}/uninterrupted.safetensors"
                        "${DIR}/resumed.safetensors" RESULT_VARIABLE different)
if(NOT different EQUAL 0)
  message(FATAL_ERROR "the final checkpoints of the uninterrupted and the resumed run differ")
endif()
file(REMOVE_RECURSE "${DIR}")
message("the resumed run equals the uninterrupted run bit for bit")
