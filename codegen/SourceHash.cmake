# Writes KILN_CODEGEN_SOURCE_HASH (a hash of every codegen source) into a
# header, so that any change to a kernel's algorithm or schedule changes the
# cache key of every kernel: a stale object is never reused.
#   cmake -DOUTPUT=<header> -DSOURCES=<a;b;c> -P SourceHash.cmake
set(text "")
foreach(source IN LISTS SOURCES)
  file(SHA256 "${source}" digest)
  string(APPEND text "${digest}")
endforeach()
string(SHA256 hash "${text}")
string(SUBSTRING "${hash}" 0 16 hash)
set(content "#define KILN_CODEGEN_SOURCE_HASH \"${hash}\"\n")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUTPUT}" "${content}")
endif()
