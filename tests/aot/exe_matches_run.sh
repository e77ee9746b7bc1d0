#!/bin/bash
# kiln compile --exe MODEL: the executable's outputs equal `kiln run`'s
# byte for byte (same seed; seeded random inputs and inputs from a file),
# and it links no compiler library.
#   exe_matches_run.sh KILN MODEL WORKDIR
set -euo pipefail
kiln=$1 model=$2 work=$3
name=$(basename "$model" .mlir)
rm -rf "$work"
mkdir -p "$work"
"$kiln" compile "$model" -o "$work/bundle" --exe --seed 5
exe="$work/bundle/$name"
test -x "$exe"
test -f "$work/bundle/lib$name.a" -a -f "$work/bundle/$name.h"

# Seeded random inputs.
"$kiln" run "$model" --seed 5 --output "$work/run" > "$work/run.txt"
"$exe" --seed 5 --output "$work/exe" > "$work/exe.txt"
diff "$work/run.txt" "$work/exe.txt"
for f in "$work"/run/*.npy; do
  cmp "$f" "$work/exe/$(basename "$f")"
done

# Inputs from .npy files: the outputs of a differently seeded kiln run are
# not inputs, so write some with the exe's own header description.
python3 - "$work/bundle/$name.h" "$work/inputs" <<'PY'
import re, struct, sys, os, math
header, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
text = open(header).read()
table = re.search(r'_inputs\[\];', text)
for m in re.finditer(r'^ \*   inputs:(.*)$', text, re.M):
    for item in m.group(1).split(';'):
        item = item.strip()
        if not item:
            continue
        name, shape = item.rsplit(' ', 1)
        dims = [int(d) for d in shape[:-4].split('x') if d]
        dtype = shape[-3:]
        count = math.prod(dims)
        descr = '<f4' if dtype == 'f32' else '<i4'
        hdr = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
            descr, ''.join(f'{d}, ' for d in dims) if len(dims) != 1 else f'{dims[0]},')
        pad = 64 - (10 + len(hdr) + 1) % 64
        hdr = hdr + ' ' * pad + '\n'
        with open(os.path.join(out, name + '.npy'), 'wb') as f:
            f.write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(hdr)) + hdr.encode())
            for i in range(count):
                if dtype == 'f32':
                    f.write(struct.pack('<f', math.sin(i * 0.37) * 2.0))
                else:
                    f.write(struct.pack('<i', i % 3))
    break  # the first block describes N_run
PY
args=()
for f in "$work"/inputs/*.npy; do
  args+=(--input "$(basename "$f" .npy)=$f")
done
"$kiln" run "$model" --seed 5 "${args[@]}" --output "$work/run2" > "$work/run2.txt"
"$exe" --seed 5 "${args[@]}" --output "$work/exe2" > "$work/exe2.txt"
diff "$work/run2.txt" "$work/exe2.txt"
for f in "$work"/run2/*.npy; do
  cmp "$f" "$work/exe2/$(basename "$f")"
done

# No compiler library in the executable.
if ldd "$exe" | grep -Ei 'libMLIR|libLLVM|libHalide'; then
  echo "FAIL: $exe links a compiler library" >&2
  exit 1
fi
echo "PASS: $name"
