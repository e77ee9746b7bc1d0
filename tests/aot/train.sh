#!/bin/bash
# kiln compile --train: the library also trains (train.c).
#   train.sh KILN MODEL WORKDIR TRAIN_C
set -euo pipefail
kiln=$1 model=$2 work=$3 source=$4
rm -rf "$work"
"$kiln" compile "$model" -o "$work" --train --loss sparse-cce --optimizer sgd
cc -std=c11 -O2 -Wall -I"$work" "$source" "$work/libmlp.a" -lpthread -ldl -lm \
  -o "$work/train"
"$work/train"
