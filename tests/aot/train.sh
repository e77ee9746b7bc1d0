#!/bin/bash
# kiln compile --train: the library also trains (train.c), and every entry
# point refuses bad arguments (api_arguments.c, next to train.c); the
# executable's --train-steps trains too (its loss falls on its one batch).
#   train.sh KILN MODEL WORKDIR TRAIN_C
set -euo pipefail
kiln=$1 model=$2 work=$3 source=$4
rm -rf "$work"
"$kiln" compile "$model" -o "$work" --train --loss sparse-cce --optimizer sgd \
  --exe
out=$("$work/mlp" --train-steps 10 --lr 0.05 --seed 3 2> "$work/steps.txt")
echo "$out"
grep -q "mlp: 10 training steps, median" "$work/steps.txt"
echo "$out" | awk '/^loss: step 1 /{ gsub(",", "", $4); exit !($4 > 0 && $7 < 0.5 * $4) }'
# Without --train the executable has no training steps.
"$kiln" compile "$model" -o "$work/infer" --exe > /dev/null
if "$work/infer/mlp" --train-steps 2 2> "$work/refused.txt"; then
  echo "FAIL: --train-steps accepted without --train" >&2
  exit 1
fi
grep -q "unknown argument '--train-steps'" "$work/refused.txt"
for program in train api_arguments; do
  cc -std=c11 -O2 -Wall -Werror -I"$work" "$(dirname "$source")/$program.c" \
    "$work/libmlp.a" -lpthread -ldl -lm -o "$work/$program"
  "$work/$program"
done
