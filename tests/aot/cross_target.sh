#!/bin/bash
# A foreign target (arm-64-linux): the archive holds the target's kernels and
# Halide runtime, N.c / N.h / the weights are left for its toolchain, and
# --exe is skipped with a note, not an error.
#   cross_target.sh KILN MODEL WORKDIR
set -euo pipefail
kiln=$1 model=$2 work=$3
name=$(basename "$model" .mlir)
rm -rf "$work"
"$kiln" compile "$model" -o "$work" --target arm-64-linux --exe > "$work.log"
cat "$work.log"
grep -q "note: --exe skipped" "$work.log"
test -f "$work/lib$name.a" -a -f "$work/$name.h" -a -f "$work/$name.c"
test -f "$work/${name}_weights.S" -a -f "$work/${name}_weights.bin"
test -f "$work/HalideRuntime.h"
test ! -e "$work/$name"
grep -q '#define [A-Z_]*_TARGET "arm-64-linux"' "$work/$name.h"
# Every member is an AArch64 object.
mkdir -p "$work/members"
(cd "$work/members" && ar x "../lib$name.a")
for object in "$work"/members/*.o; do
  file "$object" | grep -q "aarch64" || {
    echo "FAIL: $object is not AArch64: $(file "$object")" >&2
    exit 1
  }
done
echo "PASS"
