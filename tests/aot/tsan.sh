#!/bin/bash
# threads.c under ThreadSanitizer: two threads run one AOT model
# concurrently, with the library's generated C (the plan runner) and the
# caller instrumented; any report fails. Halide's own synchronization is
# suppressed (tsan.supp says why).
#   tsan.sh BUNDLE_DIR MODEL WORKDIR
set -euo pipefail
bundle=$1 model=$2 work=$3
here=$(dirname "$0")
mkdir -p "$work"
cc -std=c11 -O1 -g -fsanitize=thread -I"$bundle" -I/usr/include/halide14 \
  -DMODEL_HEADER="\"$model.h\"" -DMODEL_LIBRARY="${model}_library" \
  "$here/threads.c" "$bundle/$model.c" "$bundle/lib$model.a" \
  -lpthread -ldl -lm -o "$work/threads_tsan_$model"
TSAN_OPTIONS="halt_on_error=1 exitcode=66 suppressions=$here/tsan.supp" \
  "$work/threads_tsan_$model"
