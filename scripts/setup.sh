#!/usr/bin/env bash
# Installs every Debian package kiln needs. Idempotent: when everything is
# present it only checks (no apt-get run) and returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  mlir-19-tools libmlir-19-dev llvm-19-dev llvm-19-tools
  libhalide14-0-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libcli11-dev libfmt-dev zlib1g-dev
  graphviz python3 dataset-fashion-mnist
  libonnx-dev libprotobuf-dev protobuf-compiler
  python3-onnx python3-numpy python3-torch python3-torchvision
  pybind11-dev python3-dev python3-pytest
  clang-16 libfuzzer-16-dev libclang-rt-16-dev
  pocl-opencl-icd ocl-icd-opencl-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#packages[@]} packages present"
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  sudo_cmd=(sudo)
fi
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
