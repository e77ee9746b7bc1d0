#!/usr/bin/env python3
"""ResNet-18 for scripts/gpu-check.sh prepare --onnx (docs/gpu.md).

torchvision's ResNet-18 (random weights, seed 0) exported with its
BatchNormalization nodes (training PRESERVE) and a dynamic batch axis, so
one ONNX file gives the batch-1 and batch-64 bundles and the training step.
Weights are rounded to multiples of 2^-10 (--round-bits 10; 0 keeps them):
gpu-check's OUT then compresses from ~100 MB to ~24 MB with xz, under the
64 MiB a device machine's working tree may carry. Rounding changes no
timing, and the checks compare kiln's GPU with kiln's CPU on the same
weights.

    /usr/bin/python3 bench/gpu/export_resnet18.py resnet18.onnx
"""
import argparse

import torch
import torchvision


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("output")
    parser.add_argument("--round-bits", type=int, default=10)
    args = parser.parse_args()
    torch.manual_seed(0)
    model = torchvision.models.resnet18(num_classes=1000)
    if args.round_bits > 0:
        scale = float(1 << args.round_bits)
        with torch.no_grad():
            for tensor in list(model.parameters()) + list(model.buffers()):
                if tensor.dtype == torch.float32:
                    tensor.copy_(torch.round(tensor * scale) / scale)
    model.eval()
    torch.onnx.export(model, torch.randn(1, 3, 224, 224), args.output,
                      input_names=["x"], output_names=["logits"],
                      opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False,
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}})


if __name__ == "__main__":
    main()
