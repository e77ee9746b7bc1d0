#!/bin/bash
# kiln compile --train: the library also trains (train.c), and every entry
# point refuses bad arguments (api_arguments.c, next to train.c).
#   train.sh KILN MODEL WORKDIR TRAIN_C
set -euo pipefail
kiln=$1 model=$2 work=$3 source=$4
rm -rf "$work"
"$kiln" compile "$model" -o "$work" --train --loss sparse-cce --optimizer sgd
for program in train api_arguments; do
  cc -std=c11 -O2 -Wall -Werror -I"$work" "$(dirname "$source")/$program.c" \
    "$work/libmlp.a" -lpthread -ldl -lm -o "$work/$program"
  "$work/$program"
done
