#!/bin/bash
# Bad arguments to a kiln compile --exe executable: one `error:` line on
# stderr and a non-zero exit, every time.
#   bad_arguments.sh EXE WORKDIR
set -uo pipefail
exe=$1 work=$2
mkdir -p "$work"
printf 'not an npy file' > "$work/junk.npy"
failures=0
expect_error() {
  local stderr status
  stderr=$("$exe" "$@" 2>&1 >/dev/null)
  status=$?
  if [ "$status" -eq 0 ] || [ "$(printf '%s\n' "$stderr" | wc -l)" -ne 1 ] ||
     [[ "$stderr" != error:* ]]; then
    echo "FAIL: $* -> status $status, stderr: $stderr" >&2
    failures=$((failures + 1))
  else
    echo "ok: $* -> $stderr"
  fi
}
expect_error --bogus
expect_error --seed
expect_error --seed abc
expect_error --seed -3
expect_error --input image
expect_error --input =x.npy
expect_error --input nosuch=x.npy
expect_error --input "image=$work/missing.npy"
expect_error --input "image=$work/junk.npy"
expect_error --repeat 0
expect_error positional
exit $failures
