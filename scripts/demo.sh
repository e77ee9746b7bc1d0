#!/usr/bin/env bash
# Installs what is missing, builds, and runs the example CNN with kiln run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-$PWD/build/kernel-cache}"
echo "== kiln inspect examples/cnn.mlir"
build/bin/kiln inspect examples/cnn.mlir
echo "== kiln run examples/cnn.mlir --batch 8 (seeded random image, seeded weights)"
build/bin/kiln run examples/cnn.mlir --batch 8 --seed 1 --output build/demo --verbose
echo "== again: every kernel comes from the cache"
build/bin/kiln run examples/cnn.mlir --batch 8 --seed 1 --output build/demo --verbose
echo "outputs written to build/demo/"
