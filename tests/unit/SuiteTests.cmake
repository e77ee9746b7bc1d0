# One ctest test per GoogleTest suite of a test executable (run after it is
# built, as gtest_discover_tests's POST_BUILD mode, which makes one per
# case). kiln-kernel-test builds every case's inputs and references when it
# starts (about 2.5 s), so one process per case spent 2800 of a fresh
# clone's 6800 test seconds starting 778 processes; per suite it starts
# about 125.
#
#   cmake -D TEST_EXECUTABLE=EXE -D OUTPUT=FILE.cmake
#         -D "PROPERTIES=NAME VALUE ..." -P SuiteTests.cmake
#
# OUTPUT gets add_test + set_tests_properties lines for ctest's
# TEST_INCLUDE_FILES; each test runs its suite with --gtest_filter=SUITE.*.
execute_process(
  COMMAND "${TEST_EXECUTABLE}" --gtest_list_tests
  OUTPUT_VARIABLE listing
  ERROR_VARIABLE errors
  RESULT_VARIABLE result)
if(NOT result EQUAL 0)
  message(FATAL_ERROR
    "${TEST_EXECUTABLE} --gtest_list_tests failed (${result}): ${errors}")
endif()
# Suite lines start in column 0 and end with '.'; cases are indented.
string(REGEX MATCHALL "(^|\n)[A-Za-z_][A-Za-z0-9_/]*\\." suites "${listing}")
set(script "")
set(count 0)
foreach(line IN LISTS suites)
  string(STRIP "${line}" suite)
  string(REGEX REPLACE "\\.$" "" suite "${suite}")
  string(APPEND script
    "add_test([==[${suite}]==] [==[${TEST_EXECUTABLE}]==] "
    "[==[--gtest_filter=${suite}.*]==])\n"
    "set_tests_properties([==[${suite}]==] PROPERTIES ${PROPERTIES})\n")
  math(EXPR count "${count} + 1")
endforeach()
if(count EQUAL 0)
  message(FATAL_ERROR "${TEST_EXECUTABLE} lists no test suites")
endif()
file(WRITE "${OUTPUT}" "${script}")
