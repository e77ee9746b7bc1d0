# Writes MACRO (default KILN_CODEGEN_SOURCE_HASH), a hash of every source
# in SOURCES, into a header, so that any change to a kernel's algorithm or
# schedule (or, for the compiler's plan cache, to a pass) changes the cache
# key: a stale object or plan is never reused.
#   cmake -DOUTPUT=<header> -DSOURCES=<a;b;c> [-DMACRO=NAME] -P SourceHash.cmake
if(NOT MACRO)
  set(MACRO KILN_CODEGEN_SOURCE_HASH)
endif()
set(text "")
foreach(source IN LISTS SOURCES)
  file(SHA256 "${source}" digest)
  string(APPEND text "${digest}")
endforeach()
string(SHA256 hash "${text}")
string(SUBSTRING "${hash}" 0 16 hash)
set(content "#define ${MACRO} \"${hash}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUTPUT}" "${content}")
endif()
