# Usage: cmake -DBINARY=<executable> -P CheckNoCompilerLinks.cmake
# Fails if `ldd BINARY` lists libMLIR, libLLVM or libHalide.
if(NOT BINARY OR NOT EXISTS "${BINARY}")
  message(FATAL_ERROR "BINARY '${BINARY}' does not exist")
endif()
execute_process(COMMAND ldd "${BINARY}"
  OUTPUT_VARIABLE libraries RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "ldd ${BINARY} failed (${status})")
endif()
string(REGEX MATCHALL "lib(MLIR|LLVM|Halide)[^ \t\n]*" compiler "${libraries}")
if(compiler)
  message(FATAL_ERROR "${BINARY} links compiler libraries: ${compiler}")
endif()
message(STATUS "${BINARY}: no MLIR, LLVM or Halide libraries")
