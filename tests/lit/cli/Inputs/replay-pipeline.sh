#!/usr/bin/env bash
# replay-pipeline.sh KILN_ARGS...: runs `kiln KILN_ARGS... --verbose`, then
# replays the reported pass pipeline with kiln-opt on the same model and
# prints the diff against the IR kiln compiled (model.mlir next to the
# reported plan); empty when kiln-opt reproduces kiln's compilation.
set -euo pipefail
log=$(kiln "$@" --verbose 2>&1 >/dev/null)
pipeline=$(sed -n 's/^kiln: pipeline //p' <<<"$log")
plan=$(sed -n 's/^kiln: plan //p' <<<"$log")
model=$2
test -n "$pipeline" -a -n "$plan"
kiln-opt "$model" --pass-pipeline="$pipeline" | diff -B - "$(dirname "$plan")/model.mlir"
echo "replayed: $pipeline"
