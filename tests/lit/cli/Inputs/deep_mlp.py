#!/usr/bin/python3
"""deep_mlp.py DIR: writes DIR/sigmoid.mlir (a 16-layer sigmoid MLP with
PyTorch's default init: its first layers' gradients vanish), DIR/relu.mlir
(the same with ReLU and He init) and a 4-class dataset DIR/x.npy, DIR/y.npy
(256 samples of 16 features, the label the argmax of a fixed projection);
DIR/dropout.mlir is the ReLU net with dropout 0.5 after each activation."""
import sys

import numpy as np

out = sys.argv[1]
rng = np.random.default_rng(0)
x = rng.standard_normal((256, 16)).astype(np.float32)
y = np.argmax(x @ rng.standard_normal((16, 4)), axis=1).astype(np.int32)
np.save(f"{out}/x.npy", x)
np.save(f"{out}/y.npy", y)


def mlp(activation, init, layers, width=16, dropout=None):
    lines = ['func.func @main(%x: tensor<1x16xf32> {kiln.name = "x"})',
             '    -> (tensor<1x4xf32> {kiln.name = "logits"}) {']
    h, fan = "%x", 16
    for i in range(1, layers + 1):
        o = 4 if i == layers else width
        lines.append(f'  %w{i} = kiln.param "fc{i}.weight" {{init = "{init}"}} : tensor<{o}x{fan}xf32>')
        lines.append(f'  %b{i} = kiln.param "fc{i}.bias" {{init = "torch_default", fan_in = {fan} : i64}} : tensor<{o}xf32>')
        lines.append(f'  %d{i} = kiln.dense {h}, %w{i}, %b{i} : (tensor<1x{fan}xf32>, tensor<{o}x{fan}xf32>, tensor<{o}xf32>) -> tensor<1x{o}xf32>')
        h = f"%d{i}"
        if i < layers:
            lines.append(f'  %a{i} = kiln.{activation} %d{i} : (tensor<1x{o}xf32>) -> tensor<1x{o}xf32>')
            h = f"%a{i}"
            if dropout is not None:
                lines.append(f'  %q{i} = kiln.dropout %a{i} {{rate = {dropout} : f32}} : (tensor<1x{o}xf32>) -> tensor<1x{o}xf32>')
                h = f"%q{i}"
        fan = o
    lines.append(f"  return {h} : tensor<1x4xf32>")
    lines.append("}")
    return "\n".join(lines) + "\n"


layers = int(sys.argv[2]) if len(sys.argv) > 2 else 16
open(f"{out}/sigmoid.mlir", "w").write(mlp("sigmoid", "torch_default", layers))
open(f"{out}/relu.mlir", "w").write(mlp("relu", "he_normal", layers))
open(f"{out}/dropout.mlir", "w").write(
    mlp("relu", "he_normal", layers, dropout=0.5))
