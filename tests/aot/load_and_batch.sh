#!/bin/bash
# kiln compile --load FILE.safetensors bakes those parameters in (equal to
# `kiln run --weights FILE`), and --batch B re-shapes like `kiln run --batch`.
#   load_and_batch.sh KILN MODEL WORKDIR
set -euo pipefail
kiln=$1 model=$2 work=$3
name=$(basename "$model" .mlir)
rm -rf "$work"
mkdir -p "$work"
# A safetensors file replacing two of the mlp's parameters, with Adam's
# state of one of them as a training checkpoint holds it: an inference
# bundle has no slot for it, so both commands skip it.
python3 - "$work/params.safetensors" <<'PY'
import json, math, struct, sys
tensors = {"fc3.bias": [10], "fc2.bias": [128], "fc3.bias.adam.m": [10],
           "fc3.bias.adam.v": [10]}
header, data, offset = {}, b"", 0
for name, shape in tensors.items():
    count = math.prod(shape)
    blob = b"".join(struct.pack("<f", math.cos(i * 0.5) * 0.25) for i in range(count))
    header[name] = {"dtype": "F32", "shape": shape,
                    "data_offsets": [offset, offset + len(blob)]}
    data += blob
    offset += len(blob)
text = json.dumps(header).encode()
text += b" " * ((8 - len(text) % 8) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + data)
PY
"$kiln" compile "$model" -o "$work/load" --exe --seed 3 --load "$work/params.safetensors" > "$work/compile-load.txt"
"$kiln" run "$model" --seed 3 --weights "$work/params.safetensors" --output "$work/run-load" 2> "$work/run-load.err" > /dev/null
# Both name the four parameters that the file lacks.
absent="params.safetensors lacks 4 of the model's parameters, which keep their initial values: 'fc1.bias', 'fc1.weight', 'fc2.weight', 'fc3.weight'"
grep -qF "note: $work/$absent" "$work/compile-load.txt" || { echo "FAIL: kiln compile --load did not name the absent parameters" >&2; cat "$work/compile-load.txt" >&2; exit 1; }
grep -qF "kiln run: note: $work/$absent" "$work/run-load.err" || { echo "FAIL: kiln run --weights did not name the absent parameters" >&2; cat "$work/run-load.err" >&2; exit 1; }
"$work/load/$name" --seed 3 --output "$work/exe-load" > /dev/null
cmp "$work/run-load/logits.npy" "$work/exe-load/logits.npy"
"$kiln" run "$model" --seed 3 --output "$work/run-plain" > /dev/null
if cmp -s "$work/run-plain/logits.npy" "$work/exe-load/logits.npy"; then
  echo "FAIL: --load changed nothing" >&2
  exit 1
fi

"$kiln" compile "$model" -o "$work/batch" --exe --batch 4
grep -q "image 4x1x28x28xf32" "$work/batch/$name.h"
"$kiln" run "$model" --batch 4 --output "$work/run-batch" > "$work/run-batch.txt"
"$work/batch/$name" --output "$work/exe-batch" > "$work/exe-batch.txt"
diff "$work/run-batch.txt" "$work/exe-batch.txt"
cmp "$work/run-batch/logits.npy" "$work/exe-batch/logits.npy"

# Errors from kiln compile: one line, non-zero.
for bad in "--name 9lives" "--weights nowhere" "--target not-a-target" "--load $work/missing.safetensors"; do
  set +e
  # shellcheck disable=SC2086
  stderr=$("$kiln" compile "$model" -o "$work/bad" $bad 2>&1 >/dev/null)
  status=$?
  set -e
  if [ "$status" -eq 0 ] || [[ "$stderr" != error:* ]] ||
     [ "$(printf '%s\n' "$stderr" | wc -l)" -ne 1 ]; then
    echo "FAIL: kiln compile $bad -> status $status: $stderr" >&2
    exit 1
  fi
  echo "ok: $bad -> $stderr"
done
echo "PASS"
