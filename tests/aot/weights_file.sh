#!/bin/bash
# --weights file: DIR/N.weights next to the executable is read at start-up
# (same outputs as the embedded build); a missing, short or foreign file is
# an `error:`, not a crash.
#   weights_file.sh KILN MODEL WORKDIR
set -euo pipefail
kiln=$1 model=$2 work=$3
name=$(basename "$model" .mlir)
rm -rf "$work"
mkdir -p "$work"
"$kiln" compile "$model" -o "$work/embed" --exe --seed 9
"$kiln" compile "$model" -o "$work/file" --exe --seed 9 --weights file
test -f "$work/file/$name.weights"
"$work/embed/$name" --seed 2 --output "$work/out-embed" > /dev/null
"$work/file/$name" --seed 2 --output "$work/out-file" > /dev/null
for f in "$work"/out-embed/*.npy; do
  cmp "$f" "$work/out-file/$(basename "$f")"
done
# The file is smaller than the embedded library by about the weights.
embed_size=$(stat -c %s "$work/embed/$name")
file_size=$(stat -c %s "$work/file/$name")
test "$file_size" -lt "$embed_size"

expect_error() {
  local stderr status
  set +e
  stderr=$("$@" 2>&1 >/dev/null)
  status=$?
  set -e
  if [ "$status" -eq 0 ] || [[ "$stderr" != error:* ]]; then
    echo "FAIL: $* -> status $status, stderr: $stderr" >&2
    exit 1
  fi
  echo "ok: $stderr"
}
cp "$work/file/$name.weights" "$work/full.weights"
head -c 1000 "$work/full.weights" > "$work/short.weights"
expect_error "$work/file/$name" --weights "$work/short.weights"
expect_error "$work/file/$name" --weights "$work/missing.weights"
# Another seed's weights: same size, different checksum.
"$kiln" compile "$model" -o "$work/other" --seed 10 --weights file
expect_error "$work/file/$name" --weights "$work/other/$name.weights"
mv "$work/file/$name.weights" "$work/moved.weights"
expect_error "$work/file/$name"
"$work/file/$name" --weights "$work/moved.weights" > /dev/null
echo "PASS"
