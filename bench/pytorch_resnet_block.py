#!/usr/bin/python3
"""PyTorch on the ResNet basic block of bench/models/resnet_basic_block64.mlir
(64 channels, 56x56), for comparison with `kiln bench` (docs/results.md):
inference at batch 1 and 8, and a training step (MSE + Adam) at batch 32.

    /usr/bin/python3 bench/pytorch_resnet_block.py [--threads 2]

Prints one line per case: median and minimum milliseconds.
"""
import argparse
import statistics

import torch
import torch.nn as nn

from pytorch_compare import times_ms


class BasicBlock(nn.Module):
    """conv-BN-ReLU-conv-BN + skip + ReLU, as the kiln model."""

    def __init__(self, channels=64):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


def time_ms(fn, runs):
    times = times_ms(fn, runs, warmup=3)
    return statistics.median(times), min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    block = BasicBlock()
    block.eval()
    for batch in (1, 8):
        x = torch.randn(batch, 64, 56, 56)
        with torch.no_grad():
            median, best = time_ms(lambda: block(x), runs=40)
        print(f"inference batch={batch} median_ms={median:.3f} min_ms={best:.3f}")
    block.train()
    optimizer = torch.optim.Adam(block.parameters(), lr=1e-3)
    x = torch.randn(32, 64, 56, 56)
    target = torch.randn(32, 64, 56, 56)

    def step():
        optimizer.zero_grad()
        loss = ((block(x) - target) ** 2).mean()
        loss.backward()
        optimizer.step()

    median, best = time_ms(step, runs=8)
    print(f"training step batch=32 median_ms={median:.3f} min_ms={best:.3f}")


if __name__ == "__main__":
    main()
