# Writes the ctest file of one Catch2 executable: one ctest test per test case that
# `<executable> --list-test-names-only` prints. catch_discover_tests (Catch.cmake) runs it after each
# build of the executable, with the -D variables of Catch2 v2's own CatchAddTests.cmake, which it
# replaces (tests/CMakeLists.txt) because that script
#   - splits the listing into a CMake list, where a name with an unmatched '[' ("sparsities outside
#     [0, 1)") swallows every name after it and a ';' cuts a name in two, so test cases went missing
#     without a word;
#   - lets a test pass when its name filter matches no test case (Catch2 v2 exits 0 then).
# This one decodes the listing line by line, checks that it found as many names as the executable
# says it listed, and runs each test with --warn NoTests (exit code 2 when the filter matches none).
#
# Variables used: TEST_EXECUTABLE, TEST_WORKING_DIR, TEST_PREFIX, TEST_SUFFIX, TEST_SPEC,
# TEST_EXTRA_ARGS, TEST_PROPERTIES, TEST_LIST, CTEST_FILE.

if(NOT EXISTS "${TEST_EXECUTABLE}")
  message(FATAL_ERROR "discover_catch_tests: the test executable ${TEST_EXECUTABLE} does not exist")
endif()
execute_process(
  COMMAND "${TEST_EXECUTABLE}" ${TEST_SPEC} --list-test-names-only
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE listing_errors
  RESULT_VARIABLE listed_count
  WORKING_DIRECTORY "${TEST_WORKING_DIR}")
# Catch2 v2 exits with the number of test cases it listed, capped at 255; anything else (a crash, a
# sanitizer report, a main that refuses to list) is an error.
if(NOT listed_count MATCHES "^[0-9]+$" OR listed_count EQUAL 0)
  message(FATAL_ERROR "discover_catch_tests: `${TEST_EXECUTABLE} --list-test-names-only` should exit with the "
                      "number of test cases (at least 1) but exited with '${listed_count}'.\n"
                      "Output:\n${listing}\n${listing_errors}")
endif()

# Bracket arguments keep every character of a name as it is in the generated ctest file.
function(bracket_argument value output_variable)
  if(value MATCHES "]==]")
    message(FATAL_ERROR "discover_catch_tests: cannot quote '${value}' (it contains ']==]')")
  endif()
  set(${output_variable} "[==[${value}]==]" PARENT_SCOPE)
endfunction()

set(extra_arguments "")
foreach(argument IN LISTS TEST_EXTRA_ARGS)
  bracket_argument("${argument}" quoted)
  string(APPEND extra_arguments " ${quoted}")
endforeach()
set(properties "")
foreach(property IN LISTS TEST_PROPERTIES)
  bracket_argument("${property}" quoted)
  string(APPEND properties " ${quoted}")
endforeach()
bracket_argument("${TEST_EXECUTABLE}" quoted_executable)
bracket_argument("${TEST_WORKING_DIR}" quoted_working_directory)

set(script "")
set(names "")
set(name_count 0)
string(LENGTH "${listing}" remaining)
while(remaining GREATER 0)
  # One line at a time with string(FIND): no CMake list, so '[', ']' and ';' stay plain characters
  # (in bracket arguments, ctest takes a ';' in a test name and in an argument as it is).
  string(FIND "${listing}" "\n" end)
  if(end EQUAL -1)
    set(line "${listing}")
    set(listing "")
  else()
    string(SUBSTRING "${listing}" 0 ${end} line)
    math(EXPR next "${end} + 1")
    string(SUBSTRING "${listing}" ${next} -1 listing)
  endif()
  string(LENGTH "${listing}" remaining)
  if(line STREQUAL "")
    continue()
  endif()
  # The name as a Catch2 filter: '\', ',', '[' and ']' would otherwise be escapes, separators and tags.
  string(REGEX REPLACE "([],[\\\\])" "\\\\\\1" filter "${line}")
  bracket_argument("${TEST_PREFIX}${line}${TEST_SUFFIX}" test_name)
  bracket_argument("${filter}" quoted_filter)
  string(APPEND script "add_test(${test_name} ${quoted_executable} ${quoted_filter} --warn NoTests${extra_arguments})\n"
         "set_tests_properties(${test_name} PROPERTIES WORKING_DIRECTORY ${quoted_working_directory}${properties})\n")
  string(APPEND names " ${test_name}")
  math(EXPR name_count "${name_count} + 1")
endwhile()

# The exit code says how many names the listing holds; a name the parsing above lost or split shows here.
if(NOT (name_count EQUAL listed_count OR (listed_count EQUAL 255 AND name_count GREATER_EQUAL 255)))
  message(FATAL_ERROR "discover_catch_tests: ${TEST_EXECUTABLE} listed ${listed_count} test cases but "
                      "${name_count} names were read from its output")
endif()
if(TEST_LIST)
  string(APPEND script "set(${TEST_LIST}${names})\n")
endif()
file(WRITE "${CTEST_FILE}" "${script}")
