#!/usr/bin/env python3
"""PyTorch on the GPU, the peer of scripts/gpu-check.sh's ResNet-18 rows.

The same architecture (torchvision resnet18, random weights), eager mode,
cuDNN autotuned: batch 1 and 64 inference and the SGD + cross-entropy
training step at batch 64, medians of CUDA-event timings (50 inferences,
20 steps; each step ends reading the loss, as a kiln bundle's does). First
in strict FP32, as kiln computes (TF32 off), then in PyTorch's default,
where cuDNN's convolutions use TF32. Run it in the same session as
gpu-check's `run`, on the same GPU (docs/gpu.md, Measured):

    python3 bench/gpu/torch_resnet18.py
"""
import statistics

import torch
import torchvision

def median_ms(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record(); b.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)

dev = torch.device("cuda")
print("torch", torch.__version__, torch.cuda.get_device_name(0), flush=True)
torch.backends.cudnn.benchmark = True
for tf32 in (False, True):
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    mode = "tf32" if tf32 else "fp32"
    torch.manual_seed(0)
    m = torchvision.models.resnet18(num_classes=1000).to(dev).eval()
    for batch in (1, 64):
        x = torch.randn(batch, 3, 224, 224, device=dev)
        with torch.no_grad():
            ms = median_ms(lambda: m(x), 10, 50)
        print(f"torch-eager {mode} resnet18 infer b{batch}: median {ms:.4f} ms", flush=True)
    m.train()
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    x = torch.randn(64, 3, 224, 224, device=dev)
    y = torch.randint(0, 1000, (64,), device=dev)
    def step():
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        return loss.item()
    ms = median_ms(step, 5, 20)
    print(f"torch-eager {mode} resnet18 train-sgd b64: median {ms:.4f} ms", flush=True)
