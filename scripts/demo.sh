#!/usr/bin/env bash
# Installs what is missing, builds, runs the example CNN with `kiln run`, then
# trains it on Fashion-MNIST with `kiln train` and runs it with the trained
# weights. EPOCHS=1 ./scripts/demo.sh for a shorter run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
export KILN_CACHE_DIR="${KILN_CACHE_DIR:-$PWD/build/kernel-cache}"
out=build/demo
mkdir -p "$out"

echo "== kiln inspect examples/cnn.mlir"
build/bin/kiln inspect examples/cnn.mlir
echo "== kiln run examples/cnn.mlir --batch 8 (seeded random image and weights)"
build/bin/kiln run examples/cnn.mlir --batch 8 --seed 1 --output "$out" --verbose
echo "== again: every kernel comes from the cache"
build/bin/kiln run examples/cnn.mlir --batch 8 --seed 1 --output "$out" --verbose

echo "== kiln train examples/cnn.mlir on Fashion-MNIST (Adam, ${EPOCHS:-5} epochs)"
build/bin/kiln train examples/cnn.mlir --data fashion-mnist --loss sparse-cce \
  --optimizer adam --lr 0.001 --epochs "${EPOCHS:-5}" --batch 64 --seed 1 \
  --save "$out/cnn.safetensors" --log "$out/cnn.csv" --verbose
echo "== the trained CNN on a random input"
build/bin/kiln run examples/cnn.mlir --weights "$out/cnn.safetensors" --seed 2
echo "checkpoint: $out/cnn.safetensors, per-epoch log: $out/cnn.csv, plot: $out/cnn.svg"
