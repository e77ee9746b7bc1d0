#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (lit + GoogleTest).
# Compiled kernels are cached in build/kernel-cache, so a second run is fast.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
export KILN_CACHE_DIR="$PWD/build/kernel-cache"
ctest --test-dir build --output-on-failure -j"$(nproc)" "$@"
