#!/usr/bin/python3
"""Times the example models in PyTorch on this machine, for comparison with
kiln-bench (same architectures as examples/mlp.mlir and examples/cnn.mlir).

    /usr/bin/python3 bench/pytorch_compare.py [--threads 2]

Debian's PyTorch calls the system BLAS: install libopenblas0-pthread so the
comparison is against OpenBLAS, not the reference BLAS. Prints one line per
case: model, mode, batch, median milliseconds over the timed runs.
"""
import argparse
import statistics
import time

import torch
import torch.nn as nn


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                         nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(1568, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))


def times_ms(fn, runs, warmup=5):
    """Milliseconds of each of `runs` calls of fn, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1e3)
    return times


def median_ms(fn, runs, warmup=5):
    return statistics.median(times_ms(fn, runs, warmup))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, make in (("mlp", mlp), ("cnn", cnn)):
        model = make()
        model.eval()
        for batch in (1, 64):
            x = torch.randn(batch, 1, 28, 28)
            with torch.no_grad():
                ms = median_ms(lambda: model(x), args.runs)
            print(f"{name} inference batch={batch} median_ms={ms:.3f}")
        model.train()
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = nn.CrossEntropyLoss()
        x = torch.randn(64, 1, 28, 28)
        y = torch.randint(0, 10, (64,))

        def step():
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()

        ms = median_ms(step, args.runs)
        print(f"{name} train_step batch=64 median_ms={ms:.3f}")


if __name__ == "__main__":
    main()
