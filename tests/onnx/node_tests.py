#!/usr/bin/python3
"""ONNX backend node tests for kiln.

Usage: node_tests.py DATA_DIR [SUBSTRING]

Writes the node test cases of Debian's python3-onnx (its
onnx.backend.test.case.node generators: model.onnx + test_data_set_0/
input_*.pb, output_*.pb) to DATA_DIR once, then runs them all with
`kiln-onnx-driver node-tests` ($KILN_ONNX_DRIVER) in one process, which
prints one PASS/SKIP/FAIL line per test, the skip reasons and the counts.
"""
import os
import subprocess
import sys

import numpy as np

# numpy 1.24 removed these aliases; onnx 1.12's generators still use them.
for alias, target in (("float", float), ("int", int), ("bool", bool),
                      ("object", object), ("str", str), ("complex", complex)):
    if alias not in np.__dict__:
        setattr(np, alias, target)

STAMP = "generated.stamp"


def generate(out_dir):
    from onnx import numpy_helper
    from onnx.backend.test.case import node as node_test

    os.makedirs(out_dir, exist_ok=True)
    written = skipped = 0
    for case in node_test.collect_testcases(None):
        graph = case.model.graph
        if not all(v.type.HasField("tensor_type")
                   for v in list(graph.input) + list(graph.output)):
            skipped += 1  # sequences, maps, optionals: not tensors
            continue
        case_dir = os.path.join(out_dir, case.name)
        data_dir = os.path.join(case_dir, "test_data_set_0")
        os.makedirs(data_dir, exist_ok=True)
        with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        inputs, outputs = case.data_sets[0]
        for prefix, values, infos in (("input", inputs, graph.input),
                                      ("output", outputs, graph.output)):
            for j, value in enumerate(values):
                tensor = numpy_helper.from_array(np.asarray(value), infos[j].name)
                with open(os.path.join(data_dir, f"{prefix}_{j}.pb"), "wb") as f:
                    f.write(tensor.SerializeToString())
        written += 1
    with open(os.path.join(out_dir, STAMP), "w") as f:
        f.write(f"{written} written, {skipped} non-tensor cases left out\n")
    print(f"generated {written} node tests in {out_dir} "
          f"({skipped} non-tensor cases left out)", flush=True)


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    out_dir = sys.argv[1]
    if not os.path.exists(os.path.join(out_dir, STAMP)):
        generate(out_dir)
    driver = os.environ.get("KILN_ONNX_DRIVER", "kiln-onnx-driver")
    return subprocess.call([driver, "node-tests", out_dir] + sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
