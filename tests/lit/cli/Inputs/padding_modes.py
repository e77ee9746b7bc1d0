#!/usr/bin/python3
"""padding_modes.py DIR: exports PyTorch Conv2d layers with padding_mode
replicate and reflect to DIR/{replicate,reflect}.onnx (PyTorch writes Pad +
Conv), with DIR/x.npy and PyTorch's outputs DIR/{replicate,reflect}.npy.
padding_modes.py --check WANT.npy GOT.npy: exits 1 unless they agree to
1e-5 relative."""
import sys

import numpy as np

if sys.argv[1] == "--check":
    want, got = np.load(sys.argv[2]), np.load(sys.argv[3])
    error = np.abs(want - got).max() / max(1.0, np.abs(want).max())
    print(f"max error {error:.2e}")
    sys.exit(0 if want.shape == got.shape and error <= 1e-5 else 1)

import torch

torch.manual_seed(0)
out = sys.argv[1]
x = torch.randn(2, 3, 9, 7)
np.save(f"{out}/x.npy", x.numpy())
for mode in ("replicate", "reflect"):
    conv = torch.nn.Conv2d(3, 5, 3, padding=(2, 1), padding_mode=mode).eval()
    with torch.no_grad():
        np.save(f"{out}/{mode}.npy", conv(x).numpy())
    torch.onnx.export(conv, x, f"{out}/{mode}.onnx", input_names=["x"],
                      output_names=["y"], opset_version=13)
