#!/usr/bin/env python3
"""Per-call overhead of kiln's Python path against Session::run in C++.

    PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py

A tiny model (dense 4x6 -> 5 + relu): `Model.bench` times Session::run in
a C++ loop; the Python loop times `model(x, w, b)` (binding three NumPy
arrays, running, returning the output arrays). Prints medians in
microseconds over repeats of 2000 calls each.
"""
import statistics
import time

import numpy as np

import kiln

DENSE = """
func.func @main(%x: tensor<4x6xf32> {kiln.name = "x"}, %w: tensor<5x6xf32> {kiln.name = "w"}, %b: tensor<5xf32> {kiln.name = "b"}) -> (tensor<4x5xf32> {kiln.name = "y"}) {
  %d = kiln.dense %x, %w, %b : (tensor<4x6xf32>, tensor<5x6xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  %r = kiln.relu %d : (tensor<4x5xf32>) -> tensor<4x5xf32>
  return %r : tensor<4x5xf32>
}
"""


def main():
    model = kiln.compile(DENSE)
    x = np.ones((4, 6), np.float32)
    w = np.ones((5, 6), np.float32)
    b = np.ones((5,), np.float32)
    calls = 2000
    python_us, cxx_us = [], []
    for _ in range(7):
        start = time.perf_counter()
        for _ in range(calls):
            model(x, w, b)
        python_us.append((time.perf_counter() - start) / calls * 1e6)
        cxx_us.append(model.bench(runs=calls)["median_ms"] * 1e3)
    py, cc = statistics.median(python_us), statistics.median(cxx_us)
    print("Session::run in C++: %.2f us per call (median of per-run medians)" % cc)
    print("model(x, w, b) from Python: %.2f us per call" % py)
    print("Python path overhead: %.2f us per call" % (py - cc))


if __name__ == "__main__":
    main()
