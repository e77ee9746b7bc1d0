#!/usr/bin/python3
"""ResNet-18, MobileNetV2 and a small BatchNorm CNN from PyTorch through ONNX.

Usage: torch_models.py WORK_DIR [MODEL ...]

For each model (random weights, random BatchNorm running statistics, eval
mode): export to ONNX with torch.onnx, import with `kiln-onnx-driver import`
(IR + initializer values as safetensors), run with `kiln run --weights
... --input x=FILE.npy --output DIR` and compare with PyTorch's output
(rtol 1e-3 on max|diff| / max|reference|, plus elementwise allclose with
rtol 1e-3, atol 1e-4). The CNN is exported in training mode (BatchNorm kept
as BatchNormalization) and trained for a few steps with `kiln train`, whose
loss must fall; ResNet-18 with a new head is fine-tuned with its body
frozen, which must stay bit for bit as loaded. With $KILN_GPU_TARGET
(host-opencl in CI, on PoCL), ResNet-18 and MobileNetV2 also run on that
target and must equal the CPU run within 1e-4 relative.
"""
import os
import subprocess
import sys
import warnings

import numpy as np
import onnx
import torch
import torchvision

DRIVER = os.environ.get("KILN_ONNX_DRIVER", "kiln-onnx-driver")
KILN = os.environ.get("KILN_BIN", "kiln")


def randomize_bn(model, gen):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
            m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.weight.data.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
            m.bias.data.copy_(torch.randn(c, generator=gen) * 0.1)


def run(cmd):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def check_inference(name, model, shape, work, split_batch=False):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    randomize_bn(model, gen)
    model.eval()
    x = torch.randn(*shape, generator=gen)
    with torch.no_grad():
        want = model(x).numpy()
    onnx_path = os.path.join(work, name + ".onnx")
    torch.onnx.export(model, x, onnx_path, input_names=["x"],
                      output_names=["y"], opset_version=13,
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    mlir = os.path.join(work, name + ".mlir")
    weights = os.path.join(work, name + ".safetensors")
    run([KILN, "import", onnx_path, "-o", mlir, "--weights", weights,
         "--batch", str(shape[0])])
    x_path = os.path.join(work, name + "_x.npy")
    np.save(x_path, x.numpy())
    out_dir = os.path.join(work, name + "_out")
    run([KILN, "run", mlir, "--weights", weights, "--input", "x=" + x_path,
         "--output", out_dir])
    got = np.load(os.path.join(out_dir, "y.npy"))
    # The .onnx file straight into kiln run: same kernels, same weights.
    direct_dir = os.path.join(work, name + "_direct")
    run([KILN, "run", onnx_path, "--batch", str(shape[0]), "--input",
         "x=" + x_path, "--output", direct_dir])
    direct = np.load(os.path.join(direct_dir, "y.npy"))
    if not np.array_equal(direct, got):
        print(f"{name}: kiln run on the .onnx differs from the imported .mlir",
              flush=True)
        return False

    def bundle_output(suffix, extra):
        # kiln compile --exe: the executable (its weights embedded) on x.
        bundle = os.path.join(work, f"{name}_{suffix}")
        run([KILN, "compile", onnx_path, "-o", bundle, "--exe", "--batch",
             str(shape[0]), "--name", name] + extra)
        out = bundle + "_out"
        run([os.path.join(bundle, name), "--input", "x=" + x_path,
             "--output", out])
        return np.load(os.path.join(out, "y.npy"))

    if name in ("resnet18", "mobilenet_v2"):
        # The bundle holds the model's own weights and runs the same kernels.
        if not np.array_equal(bundle_output("bundle", []), got):
            print(f"{name}: the kiln compile executable differs from kiln run",
                  flush=True)
            return False

    def same_as_got(suffix, extra, what, bound):
        # The .onnx run again with other options: relative to the first run.
        out = os.path.join(work, f"{name}_{suffix}")
        run([KILN, "run", onnx_path, "--batch", str(shape[0]), "--input",
             "x=" + x_path, "--output", out] + extra)
        value = np.load(os.path.join(out, "y.npy"))
        diff = float(np.max(np.abs(value - got))) / float(np.max(np.abs(got)))
        print(f"{name}: {what}, relative {diff:.3g}", flush=True)
        return diff <= bound

    gpu = os.environ.get("KILN_GPU_TARGET")
    if gpu and name in ("resnet18", "mobilenet_v2"):
        # The same model on a GPU target (OpenCL on PoCL in CI): every
        # kernel on the device, equal to the CPU run within 1e-4.
        extra = ["--target", gpu]
        if os.environ.get("KILN_GPU_CACHE_DIR"):
            extra += ["--cache-dir", os.environ["KILN_GPU_CACHE_DIR"]]
        if not same_as_got("gpu", extra, f"{gpu} against the CPU", 1e-4):
            return False
        # And its AOT bundle: weights on the device, the same kernels.
        value = bundle_output("gpu_bundle", extra)
        diff = float(np.max(np.abs(value - got))) / float(np.max(np.abs(got)))
        print(f"{name}: {gpu} bundle against the CPU, relative {diff:.3g}",
              flush=True)
        if not diff <= 1e-4:
            return False
    # kiln-split-batch runs the head piece by piece (batch 4 splits
    # MobileNetV2's first blocks in 2 pieces of 2 images): the same values
    # as the whole batch.
    if split_batch and not same_as_got("whole", ["--no-batch-split"],
                                       "split batch against whole batch",
                                       1e-5):
        return False
    err = float(np.max(np.abs(got - want)))
    rel = err / float(np.max(np.abs(want)))
    ok = got.shape == want.shape and rel <= 1e-3 and np.allclose(
        got, want, rtol=1e-3, atol=1e-4)
    print(f"{name}: max abs error {err:.3g}, relative {rel:.3g} "
          f"-> {'OK' if ok else 'MISMATCH'}", flush=True)
    return ok


class SmallViT(torch.nn.Module):
    """A ViT-style classifier: 7x7 stride-7 patches of a 28x28 image as 16
    tokens, a learned position embedding, a 2-layer TransformerEncoder (4
    heads, GELU; exported at opset 13 its LayerNorms decompose into
    ReduceMean, Pow, Sqrt and Div, and attention's products are batched
    MatMuls), a LayerNorm, mean pooling over tokens and a linear head."""

    def __init__(self, dim=32):
        super().__init__()
        self.patch = torch.nn.Conv2d(1, dim, 7, stride=7)
        self.pos = torch.nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        layer = torch.nn.TransformerEncoderLayer(
            dim, 4, dim * 2, dropout=0.0, activation="gelu", batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, 2)
        self.norm = torch.nn.LayerNorm(dim)
        self.head = torch.nn.Linear(dim, 10)

    def forward(self, x):
        t = self.patch(x).flatten(2).transpose(1, 2) + self.pos
        return self.head(self.norm(self.enc(t)).mean(1))


class SmallDecoder(torch.nn.Module):
    """An encoder-decoder (U-Net-style upsampling): a strided conv, then
    ConvTranspose2d back up (stride 2 with output_padding, then grouped
    and dilated), imported as kiln.conv2d_grad_input."""

    def __init__(self):
        super().__init__()
        self.down = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.up1 = torch.nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1,
                                            output_padding=1)
        self.up2 = torch.nn.ConvTranspose2d(6, 4, 2, groups=2, dilation=2)

    def forward(self, x):
        x = torch.relu(self.bn(self.down(x)))
        return self.up2(torch.relu(self.up1(x)))


class SmallFPN(torch.nn.Module):
    """A feature-pyramid head (FPN, U-Net decoders, YOLO's neck): a coarse
    map upsampled by nn.Upsample (nearest, x2), added to a lateral 1x1
    conv, then bilinear (align_corners False and True) and bicubic
    F.interpolate to odd sizes; imported as kiln.resize."""

    def __init__(self):
        super().__init__()
        self.down = torch.nn.Conv2d(3, 8, 3, stride=2, padding=1)
        self.lateral = torch.nn.Conv2d(3, 8, 1)
        self.up = torch.nn.Upsample(scale_factor=2, mode="nearest")

    def forward(self, x):
        f = self.lateral(x) + self.up(torch.relu(self.down(x)))
        a = torch.nn.functional.interpolate(f, size=(11, 13),
                                            mode="bilinear",
                                            align_corners=False)
        b = torch.nn.functional.interpolate(f, size=(11, 13),
                                            mode="bilinear",
                                            align_corners=True)
        c = torch.nn.functional.interpolate(f, size=(7, 9), mode="bicubic",
                                            align_corners=False)
        return torch.cat([a.flatten(1), b.flatten(1), c.flatten(1)], 1)


class SmallCNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 8, 3, padding=1)
        self.bn1 = torch.nn.BatchNorm2d(8)
        self.conv2 = torch.nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.bn2 = torch.nn.BatchNorm2d(16)
        self.pool = torch.nn.MaxPool2d(2)
        self.fc = torch.nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        x = self.pool(torch.relu(self.bn2(self.conv2(x))))
        return self.fc(torch.flatten(x, 1))


def export_for_training(model, x, name, batch, work):
    """Exports `model` (eval mode) with its BatchNormalization nodes kept
    (PRESERVE: not folded into the convolutions) and imports it for `batch`;
    returns the .mlir and the weights' .safetensors paths."""
    model.eval()
    onnx_path = os.path.join(work, name + ".onnx")
    torch.onnx.export(model, x, onnx_path, input_names=["x"],
                      output_names=["logits"], opset_version=13,
                      training=torch.onnx.TrainingMode.PRESERVE,
                      do_constant_folding=False,
                      dynamic_axes={"x": {0: "batch"}})
    mlir = os.path.join(work, name + ".mlir")
    weights = os.path.join(work, name + ".safetensors")
    run([DRIVER, "import", onnx_path, mlir, weights, "--batch", str(batch)])
    return mlir, weights


def save_dataset(xs, ys, name, work):
    """Writes NAME_x.npy and NAME_y.npy; returns kiln train's --data."""
    x_path = os.path.join(work, name + "_x.npy")
    y_path = os.path.join(work, name + "_y.npy")
    np.save(x_path, xs)
    np.save(y_path, ys)
    return x_path + "," + y_path


def check_training(work):
    mlir, weights = export_for_training(SmallCNN(), torch.randn(4, 1, 28, 28),
                                        "cnn", 32, work)
    text = open(mlir).read()
    assert "kiln.batch_norm" in text, "BatchNorm was folded away"
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((256, 1, 28, 28)).astype(np.float32)
    ys = (xs.reshape(256, -1)[:, :10].argmax(axis=1)).astype(np.int32)
    data = save_dataset(xs, ys, "cnn", work)
    log = os.path.join(work, "cnn_log.csv")
    run([KILN, "train", mlir, "--data", data, "--loss", "sparse-cce", "--optimizer", "adam", "--lr", "0.003",
         "--epochs", "3", "--batch", "32", "--load", weights,
         "--save", os.path.join(work, "cnn_trained.safetensors"),
         "--log", log])
    rows = [l.split(",") for l in open(log).read().split("\n")[1:] if l]
    losses = [float(r[1]) for r in rows]
    ok = len(losses) >= 2 and losses[-1] < losses[0]
    print(f"cnn training losses {losses} -> {'OK' if ok else 'NOT FALLING'}",
          flush=True)
    return ok


def check_bn_merged_init(work):
    """BatchNorm at initialization, exported as is: torch.onnx.export merges
    initializers of equal values, so both BNs (32 channels) read one
    initializer as scale and running variance (ones) and one as shift and
    running mean (zeros). The ONNX model ties the two BNs' scales and shifts
    (so does the PyTorch model below), but each BN keeps its own running
    statistics: two SGD steps of `kiln train` against PyTorch, compared on
    the trained models' eval outputs (running statistics included). Before
    the importer gave each BN its own statistics, training wrote them into
    the scale and shift."""
    torch.manual_seed(2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.Conv2d(32, 32, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(32), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(32, 3))
    mlir, weights = export_for_training(model, torch.randn(8, 3, 16, 16),
                                        "bn_merged", 8, work)
    onnx_path = os.path.join(work, "bn_merged.onnx")
    vectors = [i for i in onnx.load(onnx_path).graph.initializer
               if list(i.dims) == [32]]
    if len(vectors) >= 8:
        print(f"bn merged init: the export kept {len(vectors)} BN vectors "
              "apart; nothing to check", flush=True)
        return False
    model[4].weight = model[1].weight
    model[4].bias = model[1].bias
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((16, 3, 16, 16)).astype(np.float32)
    ys = rng.integers(0, 3, 16).astype(np.int32)
    trained = two_sgd_steps(model, mlir, weights, xs, ys, "bn_merged", work)
    x_path = os.path.join(work, "bn_merged_x8.npy")
    np.save(x_path, xs[:8])
    out = os.path.join(work, "bn_merged_out")
    run([KILN, "run", mlir, "--weights", trained, "--input", "x=" + x_path,
         "--output", out])
    model.eval()
    with torch.no_grad():
        want = model(torch.from_numpy(xs[:8])).numpy()
    return matches("bn merged init: 2 SGD steps, eval outputs",
                   np.load(os.path.join(out, "logits.npy")), want, 1e-4)


def read_safetensors(path):
    """{name: numpy array} of a safetensors file (F32 tensors)."""
    import json
    import struct
    data = open(path, "rb").read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        begin, end = info["data_offsets"]
        raw = data[8 + size + begin:8 + size + end]
        tensors[name] = np.frombuffer(raw, np.float32).reshape(info["shape"])
    return tensors


def check_finetune(work):
    """Fine-tuning ResNet-18's head (issue 16): torchvision's ResNet-18 with
    a 10-class head, exported with its BatchNormalization nodes, trained one
    epoch with everything but fc.* frozen. Every frozen weight must come out
    bit for bit as loaded (BatchNorm's running statistics are state and keep
    updating, as in PyTorch's train()); the head must change."""
    torch.manual_seed(1)
    model = torchvision.models.resnet18(num_classes=10)
    # Distinct BatchNorm values: the exporter merges equal initializers, and
    # a fresh model's weight (ones) and running_var (ones) would become one
    # tensor, which training-mode statistics then update.
    randomize_bn(model, torch.Generator().manual_seed(1))
    mlir, weights = export_for_training(model, torch.randn(8, 3, 64, 64),
                                        "resnet18_ft", 8, work)
    rng = np.random.default_rng(1)
    data = save_dataset(rng.standard_normal((16, 3, 64, 64)).astype(np.float32),
                        rng.integers(0, 10, 16).astype(np.int32), "ft", work)
    out = os.path.join(work, "resnet18_ft_trained.safetensors")
    run([KILN, "train", mlir, "--data", data, "--loss", "sparse-cce", "--optimizer", "adam", "--lr", "0.01",
         "--epochs", "1", "--batch", "8", "--load", weights,
         "--freeze", "conv1.*", "--freeze", "bn1.*", "--freeze", "layer*",
         "--save", out, "--no-progress"])
    before, after = read_safetensors(weights), read_safetensors(out)
    frozen = [n for n in before if not n.startswith("fc.")
              and "running_" not in n and "num_batches" not in n]
    same = [n for n in frozen if np.array_equal(before[n], after[n])]
    head_moved = not np.array_equal(before["fc.weight"], after["fc.weight"])
    ok = len(frozen) > 40 and len(same) == len(frozen) and head_moved
    print(f"resnet18 fine-tune: {len(same)}/{len(frozen)} frozen tensors "
          f"bit-identical, head changed: {head_moved} -> "
          f"{'OK' if ok else 'MISMATCH'}", flush=True)
    return ok


class TokenClassifier(torch.nn.Module):
    """An embedding table read at run-time token ids (int64 input), a tanh,
    the mean over the sequence and a linear head."""

    def __init__(self, vocab=50, dim=24, classes=5):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        self.fc = torch.nn.Linear(dim, classes)

    def forward(self, ids):
        return self.fc(torch.tanh(self.emb(ids)).mean(1))


def two_sgd_steps(model, mlir, weights, xs, ys, name, work):
    """Two SGD steps (lr 0.5, batches of 8 in order, cross-entropy) by
    `kiln train` from `weights` and the same two on `model` in PyTorch;
    returns kiln's trained safetensors."""
    data = save_dataset(xs, ys, name, work)
    trained = os.path.join(work, name + "_trained.safetensors")
    run([KILN, "train", mlir, "--data", data, "--loss", "sparse-cce",
         "--optimizer", "sgd", "--lr", "0.5", "--epochs", "1", "--batch", "8",
         "--no-shuffle", "--load", weights, "--save", trained, "--no-progress"])
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    model.train()
    for b in range(2):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(
            model(torch.from_numpy(xs[8 * b:8 * b + 8])),
            torch.from_numpy(ys[8 * b:8 * b + 8]).long())
        loss.backward()
        optimizer.step()
    return trained


def matches(label, got, want, tolerance):
    """Prints and returns whether `got` is within `tolerance` of `want`,
    relative to want's largest magnitude."""
    err = float(np.abs(got - want).max() / np.abs(want).max())
    ok = err <= tolerance
    print(f"{label}: relative error {err:.2e} -> "
          f"{'OK' if ok else 'MISMATCH'}", flush=True)
    return ok


def run_and_train(model, xs, ys, name, label, opset, work, ops=()):
    """Exports `model` (input x, output y) at `opset`, imports it for batch
    8 and checks `kiln run` against PyTorch on xs[:8]; then two SGD steps of
    `kiln train` against the same steps in PyTorch, compared on the trained
    models' outputs (exports may rename the weights). `ops`: ONNX op types
    the export must contain."""
    onnx_path = os.path.join(work, name + ".onnx")
    torch.onnx.export(model, torch.from_numpy(xs[:8]), onnx_path,
                      input_names=["x"], output_names=["y"],
                      opset_version=opset)
    missing = set(ops) - {n.op_type for n in onnx.load(onnx_path).graph.node}
    if missing:
        print(f"{label}: the export has no {sorted(missing)}", flush=True)
        return False
    mlir = os.path.join(work, name + ".mlir")
    weights = os.path.join(work, name + ".safetensors")
    run([KILN, "import", onnx_path, "-o", mlir, "--weights", weights,
         "--batch", "8"])
    x_path = os.path.join(work, name + "_x8.npy")
    np.save(x_path, xs[:8])

    def outputs(extra, out_name):
        out = os.path.join(work, name + out_name)
        run([KILN, "run", mlir, "--input", "x=" + x_path, "--output", out]
            + extra)
        return np.load(os.path.join(out, "y.npy"))

    with torch.no_grad():
        want = model(torch.from_numpy(xs[:8])).numpy()
    got = outputs(["--weights", weights], "_out")
    ok = matches(f"{label} inference", got, want, 1e-5)

    trained = two_sgd_steps(model, mlir, weights, xs, ys, name, work)
    model.eval()
    with torch.no_grad():
        want = model(torch.from_numpy(xs[:8])).numpy()
    got = outputs(["--weights", trained], "_trained_out")
    moved = float(np.abs(want - outputs(["--weights", weights],
                                        "_before")).max())
    err = float(np.abs(got - want).max() / np.abs(want).max())
    train_ok = err <= 1e-4 and moved > 1e-3
    print(f"{label} training: 2 SGD steps, outputs moved by {moved:.3g}, "
          f"relative error after {err:.2e} -> "
          f"{'OK' if train_ok else 'MISMATCH'}", flush=True)
    return ok and train_ok


def run_and_train_random(model, seed, shape, name, work, ops):
    """run_and_train on 16 standard normal inputs of `shape` (their first
    dim 16) and 3-class labels, drawn with `seed`, at opset 13."""
    rng = np.random.default_rng(seed)
    xs = rng.standard_normal(shape).astype(np.float32)
    ys = rng.integers(0, 3, 16).astype(np.int32)
    return run_and_train(model, xs, ys, name, name, 13, work, ops)


def check_embedding(work):
    """Gather at run-time indices: `kiln run` with int64 token ids against
    PyTorch, then two SGD steps of `kiln train` (few distinct tokens, so
    that rows repeat and their gradients add up) against the same two steps
    in PyTorch, weight by weight."""
    torch.manual_seed(3)
    model = TokenClassifier().eval()
    onnx_path = os.path.join(work, "tokens.onnx")
    torch.onnx.export(model, torch.randint(0, 50, (4, 7)), onnx_path,
                      input_names=["ids"], output_names=["logits"],
                      opset_version=17, dynamic_axes={"ids": {0: "batch"}})
    rng = np.random.default_rng(3)
    ids = rng.integers(-50, 50, (4, 7)).astype(np.int64)  # negatives too
    np.save(os.path.join(work, "tokens_ids.npy"), ids)
    out_dir = os.path.join(work, "tokens_out")
    run([KILN, "run", onnx_path, "--batch", "4", "--input",
         "ids=" + os.path.join(work, "tokens_ids.npy"), "--output", out_dir])
    with torch.no_grad():
        want = model(torch.from_numpy(ids % 50)).numpy()
    got = np.load(os.path.join(out_dir, "logits.npy"))
    ok = matches("tokens inference", got, want, 1e-5)

    mlir = os.path.join(work, "tokens.mlir")
    weights = os.path.join(work, "tokens.safetensors")
    run([DRIVER, "import", onnx_path, mlir, weights, "--batch", "8"])
    xs = rng.integers(0, 12, (16, 7)).astype(np.int64)
    ys = rng.integers(0, 5, 16).astype(np.int32)
    trained = two_sgd_steps(model, mlir, weights, xs, ys, "tokens", work)
    after = read_safetensors(trained)
    worst = 0.0
    for name, p in model.named_parameters():
        want = p.detach().numpy()
        worst = max(worst, float(np.abs(after[name] - want).max() /
                                 np.abs(want).max()))
    train_ok = worst <= 1e-5
    print(f"tokens training: 2 SGD steps, worst relative weight error "
          f"{worst:.2e} -> {'OK' if train_ok else 'MISMATCH'}", flush=True)
    return ok and train_ok


class SmallIntInputs(torch.nn.Module):
    """An 8-bit image (uint8, scaled to [0, 1] inside the model, as
    deployed classifiers take camera frames) and int16 token ids into an
    embedding: both narrow integer graph inputs."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        self.emb = torch.nn.Embedding(300, 4)

    def forward(self, image, ids):
        x = self.conv(image.float() / 255.0).mean(dim=(2, 3))
        return x + self.emb(ids.long()).sum(dim=1)


def check_small_ints(work):
    """uint8 and int16 graph inputs (read from uint8 / int16 .npy files)
    against PyTorch."""
    torch.manual_seed(5)
    model = SmallIntInputs().eval()
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (2, 3, 9, 11)).astype(np.uint8)
    ids = rng.integers(0, 300, (2, 5)).astype(np.int16)
    onnx_path = os.path.join(work, "small_ints.onnx")
    torch.onnx.export(model, (torch.from_numpy(image), torch.from_numpy(ids)),
                      onnx_path, input_names=["image", "ids"],
                      output_names=["y"], opset_version=17)
    np.save(os.path.join(work, "small_ints_image.npy"), image)
    np.save(os.path.join(work, "small_ints_ids.npy"), ids)
    out_dir = os.path.join(work, "small_ints_out")
    run([KILN, "run", onnx_path, "--input",
         "image=" + os.path.join(work, "small_ints_image.npy"), "--input",
         "ids=" + os.path.join(work, "small_ints_ids.npy"),
         "--output", out_dir])
    with torch.no_grad():
        want = model(torch.from_numpy(image), torch.from_numpy(ids)).numpy()
    got = np.load(os.path.join(out_dir, "y.npy"))
    return matches("uint8 image + int16 ids", got, want, 1e-5)


def check_uint64_ids(work):
    """A uint64 graph input (ids read from a u8 .npy file; PyTorch has no
    uint64 tensors, so the model is built with onnx.helper): Cast to int64,
    Gather from an embedding table, ReduceSum, against NumPy; then an id
    past i32's range is refused naming the file, the element and its
    value."""
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    table = rng.standard_normal((50, 3)).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("Cast", ["ids"], ["ids64"], to=TensorProto.INT64),
         helper.make_node("Gather", ["table", "ids64"], ["rows"], axis=0),
         helper.make_node("ReduceSum", ["rows"], ["y"], axes=[1],
                          keepdims=0)],
        "uint64_ids",
        [helper.make_tensor_value_info("ids", TensorProto.UINT64, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [numpy_helper.from_array(table, "table")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])
    onnx_path = os.path.join(work, "uint64_ids.onnx")
    onnx.save(model, onnx_path)
    ids = rng.integers(0, 50, (2, 4)).astype(np.uint64)
    ids_path = os.path.join(work, "uint64_ids.npy")
    np.save(ids_path, ids)
    out_dir = os.path.join(work, "uint64_ids_out")
    run([KILN, "run", onnx_path, "--input", "ids=" + ids_path,
         "--output", out_dir])
    got = np.load(os.path.join(out_dir, "y.npy"))
    ok = matches("uint64 ids", got, table[ids.astype(np.int64)].sum(axis=1),
                 1e-6)
    ids[1, 2] = 2**40
    np.save(ids_path, ids)
    result = subprocess.run([KILN, "run", onnx_path, "--input",
                             "ids=" + ids_path], capture_output=True, text=True)
    want = "element 6 (1099511627776) does not fit in i32"
    if result.returncode == 0 or want not in result.stderr:
        print(f"uint64 ids: an id past i32 ran or was not named: "
              f"{result.stderr.strip()}")
        return False
    return ok


class SeqClassifier(torch.nn.Module):
    """Recurrent layers: a bidirectional LSTM (batch first), a GRU and an
    Elman RNN over its outputs, a linear head on the last step; exported
    as ONNX LSTM, GRU and RNN, which kiln unrolls over the sequence."""

    def __init__(self, features=5, classes=3):
        super().__init__()
        self.lstm = torch.nn.LSTM(features, 8, batch_first=True,
                                  bidirectional=True)
        self.gru = torch.nn.GRU(16, 6, batch_first=True)
        self.rnn = torch.nn.RNN(6, 5, batch_first=True)
        self.fc = torch.nn.Linear(5, classes)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        y, _ = self.rnn(y)
        return self.fc(y[:, -1])


def check_recurrent(work):
    """LSTM, GRU and RNN: `kiln run` against PyTorch, then two SGD steps of
    `kiln train` against the same steps in PyTorch, compared on the
    trained models' outputs (the export reorders the gates into new
    initializers, so the weights do not keep PyTorch's names)."""
    torch.manual_seed(5)
    model = SeqClassifier().eval()
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((16, 7, 5)).astype(np.float32)
    ys = rng.integers(0, 3, 16).astype(np.int32)
    return run_and_train(model, xs, ys, "seq", "recurrent", 14, work)


class FirstStepClassifier(torch.nn.Module):
    """An LSTM then a GRU over 12 steps, a linear head on the last step."""

    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(2, 12, batch_first=True)
        self.gru = torch.nn.GRU(12, 8, batch_first=True)
        self.fc = torch.nn.Linear(8, 2)

    def forward(self, x):
        y, _ = self.lstm(x)
        y, _ = self.gru(y)
        return self.fc(y[:, -1])


def check_sequence_task(work):
    """A small sequence task learnt by `kiln train` alone: the class of a
    sequence of 12 noise steps is the sign of its first step's first
    feature, so the recurrent layers must carry it through 11 more steps
    (the last step alone says nothing: 50%). Adam from PyTorch's
    initialization, then `kiln run` on held-out sequences: at least 90%
    correct."""
    torch.manual_seed(11)
    rng = np.random.default_rng(11)

    def sequences(count):
        xs = rng.standard_normal((count, 12, 2)).astype(np.float32)
        return xs, (xs[:, 0, 0] > 0).astype(np.int32)

    xs, ys = sequences(2048)
    test_xs, test_ys = sequences(512)
    onnx_path = os.path.join(work, "first_step.onnx")
    torch.onnx.export(FirstStepClassifier().eval(), torch.from_numpy(xs[:8]),
                      onnx_path, input_names=["x"], output_names=["y"],
                      opset_version=14, dynamic_axes={"x": {0: "batch"}})
    trained = os.path.join(work, "first_step_trained.safetensors")
    run([KILN, "train", onnx_path, "--data",
         save_dataset(xs, ys, "first_step", work), "--loss", "sparse-cce",
         "--optimizer", "adam", "--lr", "0.01", "--epochs", "8", "--batch",
         "32", "--seed", "1", "--save", trained, "--no-progress"])
    x_path = os.path.join(work, "first_step_test.npy")
    np.save(x_path, test_xs)
    out = os.path.join(work, "first_step_out")
    run([KILN, "run", onnx_path, "--batch", "512", "--input", "x=" + x_path,
         "--weights", trained, "--output", out])
    logits = np.load(os.path.join(out, "y.npy"))
    accuracy = float((logits.argmax(1) == test_ys).mean())
    ok = accuracy >= 0.9
    print(f"sequence task (LSTM + GRU, 12 steps): held-out accuracy "
          f"{accuracy:.3f} -> {'OK' if ok else 'TOO LOW'}", flush=True)
    return ok


class PixelNet(torch.nn.Module):
    """InstanceNorm2d (ONNX InstanceNormalization), PixelShuffle
    (DepthToSpace, CRD), PixelUnshuffle and a repeat along the width (Tile),
    then a linear head."""

    def __init__(self, classes=3):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 16, 3, padding=1)
        self.norm = torch.nn.InstanceNorm2d(16, affine=True)
        self.shuffle = torch.nn.PixelShuffle(2)
        self.conv2 = torch.nn.Conv2d(4, 8, 3, padding=1)
        self.unshuffle = torch.nn.PixelUnshuffle(2)
        self.fc = torch.nn.Linear(32 * 6 * 10, classes)

    def forward(self, x):
        y = self.shuffle(torch.relu(self.norm(self.conv1(x))))
        y = self.unshuffle(torch.tanh(self.conv2(y)))
        return self.fc(torch.flatten(y.repeat(1, 1, 1, 2), 1))


def check_pixel(work):
    """InstanceNormalization, DepthToSpace and Tile: `kiln run` against
    PyTorch, then two SGD steps of `kiln train` against the same steps in
    PyTorch, compared on the trained models' outputs."""
    torch.manual_seed(7)
    model = PixelNet().eval()
    with torch.no_grad():
        model.norm.weight.uniform_(0.5, 1.5)
        model.norm.bias.uniform_(-0.5, 0.5)
    return run_and_train_random(model, 7, (16, 3, 6, 5), "pixel", work,
                                {"InstanceNormalization", "DepthToSpace",
                                 "Tile"})


class IndexNet(torch.nn.Module):
    """Advanced-index assignment at constant indices (ONNX ScatterND) of a
    function of the gathered elements, behind a learned scale."""

    def __init__(self, classes=3):
        super().__init__()
        self.w = torch.nn.Parameter(torch.linspace(0.5, 1.5, 12).reshape(3, 4))
        self.fc = torch.nn.Linear(12, classes)
        self.register_buffer("rows", torch.tensor([0, 2, 1, 2]))
        self.register_buffer("cols", torch.tensor([1, 0, 3, 3]))

    def forward(self, x):
        z = x * self.w
        g = z[:, self.rows, self.cols]
        y = z.clone()
        y[:, self.rows, self.cols] = torch.tanh(g)
        return self.fc(y.flatten(1)) + g.sum(1, keepdim=True)


def check_scatter_nd(work):
    """ScatterND: `kiln run` and two SGD steps of `kiln train` against
    PyTorch (the gradient reaches the scale through the scattered and the
    kept elements)."""
    torch.manual_seed(11)
    model = IndexNet().eval()
    return run_and_train_random(model, 11, (16, 3, 4), "scatternd", work,
                                {"ScatterND"})


class EinsumNet(torch.nn.Module):
    """torch.einsum in the forms models write (ONNX Einsum): projections
    with an ellipsis, attention scores over a batch, a contraction that sums
    a subscript of one operand only, a diagonal, a broadcast size-1
    subscript and an implicit output."""

    def __init__(self, classes=3):
        super().__init__()
        g = torch.Generator().manual_seed(5)
        self.wq = torch.nn.Parameter(torch.randn(4, 5, generator=g) * 0.5)
        self.wk = torch.nn.Parameter(torch.randn(4, 5, generator=g) * 0.5)
        self.gate = torch.nn.Parameter(torch.randn(1, 3, generator=g))
        self.fc = torch.nn.Linear(9 + 5 + 3 + 3, classes)

    def forward(self, x):  # x: [B, 3, 4]
        q = torch.einsum("bik,kj->bij", x, self.wq)
        k = torch.einsum("...k,kj->...j", x, self.wk)
        s = torch.einsum("bid,bjd->bij", q, k).softmax(-1)
        v = torch.einsum("bij,bjd->bd", s, k)
        d = torch.einsum("bii->bi", s)
        g = torch.einsum("bi,oi->bi", d, self.gate)
        t = torch.einsum("...ij,...kj", x, x).sum(-1)
        return self.fc(torch.cat([s.flatten(1), v, g, t], 1))


def check_einsum(work):
    """Einsum: `kiln run` and two SGD steps of `kiln train` against
    PyTorch."""
    torch.manual_seed(12)
    model = EinsumNet().eval()
    return run_and_train_random(model, 12, (16, 3, 4), "einsum", work,
                                {"Einsum"})


class TopKNet(torch.nn.Module):
    """torch.topk (ONNX TopK): the 4 largest of 10 features and the
    smallest of each row of the input, behind learned layers, so that the
    gradient reaches fc1 through the chosen elements only."""

    def __init__(self, classes=3):
        super().__init__()
        self.fc1 = torch.nn.Linear(12, 10)
        self.fc2 = torch.nn.Linear(4 + 3, classes)

    def forward(self, x):  # x: [B, 3, 4]
        top = torch.topk(self.fc1(x.flatten(1)), 4, dim=1).values
        low = torch.topk(x, 1, dim=2, largest=False).values.flatten(1)
        return self.fc2(torch.cat([top, low], 1))


def check_top_k(work):
    """TopK: `kiln run` and two SGD steps of `kiln train` against
    PyTorch."""
    torch.manual_seed(13)
    return run_and_train_random(TopKNet().eval(), 13, (16, 3, 4), "topk",
                                work, {"TopK"})


class StridedSlices(torch.nn.Module):
    """YOLOv5's Focus layer (the four pixel phases of x[..., ::2, ::2]
    stacked on channels, then a conv) and a flip along the width (ONNX
    Slice with steps 2 and -1 at run time)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(12, 4, 3, padding=1)
        self.fc = torch.nn.Linear(4 * 3 * 4, 3)

    def forward(self, x):
        x = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2],
                       x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)
        y = torch.relu(self.conv(x))
        return self.fc((y - torch.flip(y, [3]) * 0.5).flatten(1))


def check_strided_slices(work):
    """Slices with steps 2 and -1: `kiln run` and two SGD steps of `kiln
    train` against PyTorch."""
    torch.manual_seed(19)
    return run_and_train_random(StridedSlices().eval(), 19, (16, 3, 6, 8),
                                "strided_slices", work, {"Slice"})


class Conv1dNet(torch.nn.Module):
    """A 1-D CNN over sequences of 4 features (audio and time-series
    models): Conv1d with padding, a strided and dilated Conv1d,
    MaxPool1d, AvgPool1d, ConvTranspose1d and an adaptive average pool
    (ONNX's rank-3 Conv, ConvTranspose, MaxPool, AveragePool and
    GlobalAveragePool, which kiln imports as 2-D over a unit height)."""

    def __init__(self):
        super().__init__()
        self.conv1 = torch.nn.Conv1d(4, 8, 5, padding=2)
        self.conv2 = torch.nn.Conv1d(8, 8, 3, stride=2, dilation=2, padding=2)
        self.up = torch.nn.ConvTranspose1d(8, 6, 4, stride=2, padding=1)
        self.fc = torch.nn.Linear(6, 3)

    def forward(self, x):
        x = torch.nn.functional.max_pool1d(torch.relu(self.conv1(x)), 2)
        x = torch.nn.functional.avg_pool1d(torch.relu(self.conv2(x)), 2)
        x = torch.tanh(self.up(x))
        return self.fc(torch.nn.functional.adaptive_avg_pool1d(x, 1).flatten(1))


def check_conv1d(work):
    """1-D convolutions and pools: `kiln run` and two SGD steps of `kiln
    train` against PyTorch."""
    torch.manual_seed(23)
    return run_and_train_random(Conv1dNet().eval(), 23, (16, 4, 32),
                                "conv1d", work,
                                {"Conv", "ConvTranspose", "MaxPool",
                                 "AveragePool", "GlobalAveragePool"})


class GridSampler(torch.nn.Module):
    """Features sampled at a run-time grid (spatial transformers, optical
    flow warps): a conv, then F.grid_sample in its three modes, each with
    another padding mode and corner convention (ONNX GridSample, opset
    16)."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x, grid):
        f = torch.tanh(self.conv(x))
        sample = torch.nn.functional.grid_sample
        return (sample(f, grid, "bilinear", "zeros", align_corners=False) +
                sample(f, grid, "nearest", "border", align_corners=True) +
                sample(f, grid, "bicubic", "reflection", align_corners=False))


def check_grid_sample(work):
    """GridSample at a grid reaching past the image (every padding mode's
    outside): `kiln run` with the image and the grid as inputs, against
    PyTorch."""
    torch.manual_seed(29)
    model = GridSampler().eval()
    rng = np.random.default_rng(29)
    x = rng.standard_normal((2, 3, 9, 11)).astype(np.float32)
    grid = rng.uniform(-1.3, 1.3, (2, 7, 6, 2)).astype(np.float32)
    onnx_path = os.path.join(work, "grid_sample.onnx")
    torch.onnx.export(model, (torch.from_numpy(x), torch.from_numpy(grid)),
                      onnx_path, input_names=["x", "grid"],
                      output_names=["y"], opset_version=16)
    inputs = []
    for name, value in (("x", x), ("grid", grid)):
        path = os.path.join(work, f"grid_sample_{name}.npy")
        np.save(path, value)
        inputs += ["--input", f"{name}={path}"]
    out_dir = os.path.join(work, "grid_sample_out")
    run([KILN, "run", onnx_path, "--batch", "2"] + inputs +
        ["--output", out_dir])
    with torch.no_grad():
        want = model(torch.from_numpy(x), torch.from_numpy(grid)).numpy()
    got = np.load(os.path.join(out_dir, "y.npy"))
    return matches("grid_sample inference", got, want, 1e-5)


class WarpNet(torch.nn.Module):
    """A spatial transformer's learned warp: per image, offsets predicted
    from the pooled features move a learned grid, and the features are
    sampled there (bilinear with zeros padding, bicubic with reflection):
    the grid's gradient trains the offset layer."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        ys, xs = torch.meshgrid(torch.linspace(-1.2, 1.1, 5),
                                torch.linspace(-1.1, 1.2, 6), indexing="ij")
        # A parameter: kiln trains every initializer the data path reads
        # (ONNX does not mark buffers), so PyTorch must train it too.
        self.base = torch.nn.Parameter(torch.stack([xs, ys], -1)[None])
        self.loc = torch.nn.Linear(4, 5 * 6 * 2)
        self.fc = torch.nn.Linear(2 * 4 * 5 * 6, 3)

    def forward(self, x):
        f = torch.tanh(self.conv(x))
        offset = torch.tanh(self.loc(f.mean((2, 3)))).reshape(-1, 5, 6, 2)
        grid = self.base + 0.3 * offset
        sample = torch.nn.functional.grid_sample
        a = sample(f, grid, "bilinear", "zeros", align_corners=False)
        b = sample(f, grid, "bicubic", "reflection", align_corners=True)
        return self.fc(torch.cat([a, b], 1).flatten(1))


def check_warp(work):
    """GridSample's gradients, in the input and in the grid (a trained
    offset): `kiln run` and two SGD steps of `kiln train` against
    PyTorch."""
    torch.manual_seed(31)
    rng = np.random.default_rng(31)
    xs = rng.standard_normal((16, 3, 7, 8)).astype(np.float32)
    ys = rng.integers(0, 3, 16).astype(np.int32)
    return run_and_train(WarpNet().eval(), xs, ys, "warp", "warp", 16, work,
                         {"GridSample"})


class ControlFlowNet(torch.nn.Module):
    """Scripted control flow: residual steps repeated once per pair of
    input features (ONNX Loop, its trip count known from the shape) and a
    branch on the sign of the batch's sum (ONNX If, its condition computed
    at run time)."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(6, 6)
        self.head = torch.nn.Linear(6, 3)

    def forward(self, x):
        h = x
        for _ in range(x.size(1) // 2):
            h = h + torch.tanh(self.fc(h))
        if bool(h.sum() > 0):
            h = h * 2.0
        else:
            h = -h
        return self.head(h)


def check_control_flow(work):
    """If and Loop from TorchScript: `kiln run` and two SGD steps of
    `kiln train` against PyTorch."""
    torch.manual_seed(17)
    model = torch.jit.script(ControlFlowNet().eval())
    return run_and_train_random(model, 17, (16, 6), "control_flow", work,
                                {"If", "Loop"})


class MaskedEncoder(torch.nn.Module):
    """A BERT-style encoder: token embeddings (run-time int64 ids), two
    TransformerEncoder layers with a boolean key padding mask (True: a
    padding token), mean over tokens, a linear head."""

    def __init__(self, vocab=100, dim=32):
        super().__init__()
        self.emb = torch.nn.Embedding(vocab, dim)
        layer = torch.nn.TransformerEncoderLayer(dim, 4, 64, dropout=0.0,
                                                 batch_first=True)
        self.enc = torch.nn.TransformerEncoder(layer, 2,
                                               enable_nested_tensor=False)
        self.fc = torch.nn.Linear(dim, 3)

    def forward(self, ids, mask):
        return self.fc(self.enc(self.emb(ids), src_key_padding_mask=mask)
                       .mean(1))


def check_masked_encoder(work):
    """The BERT-style encoder against PyTorch: int64 ids and a BOOL padding
    mask (its -inf scores must stay out of the softmax's other entries)."""
    torch.manual_seed(4)
    model = MaskedEncoder().eval()
    ids = torch.randint(0, 100, (2, 9))
    mask = torch.zeros(2, 9, dtype=torch.bool)
    mask[1, 6:] = True
    onnx_path = os.path.join(work, "encoder.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (ids, mask), onnx_path,
                          input_names=["ids", "mask"], output_names=["y"],
                          opset_version=17)
    np.save(os.path.join(work, "encoder_ids.npy"), ids.numpy())
    np.save(os.path.join(work, "encoder_mask.npy"), mask.numpy())
    out_dir = os.path.join(work, "encoder_out")
    run([KILN, "run", onnx_path,
         "--input", "ids=" + os.path.join(work, "encoder_ids.npy"),
         "--input", "mask=" + os.path.join(work, "encoder_mask.npy"),
         "--output", out_dir])
    with torch.no_grad():
        want = model(ids, mask).numpy()
    got = np.load(os.path.join(out_dir, "y.npy"))
    return matches("masked encoder", got, want, 1e-4)


def main():
    work = sys.argv[1]
    os.makedirs(work, exist_ok=True)
    wanted = sys.argv[2:] or ["resnet18", "mobilenet_v2", "vit", "decoder",
                              "fpn",
                              "cnn_train", "resnet18_finetune",
                              "bn_merged_init", "embedding",
                              "masked_encoder", "recurrent",
                              "sequence_task", "pixel",
                              "scatternd", "small_ints", "uint64_ids",
                              "einsum", "top_k", "control_flow",
                              "strided_slices", "conv1d", "grid_sample", "warp"]
    ok = True
    torch.manual_seed(0)
    if "resnet18" in wanted:
        ok &= check_inference("resnet18", torchvision.models.resnet18(),
                              (2, 3, 224, 224), work)
    if "mobilenet_v2" in wanted:
        ok &= check_inference("mobilenet_v2",
                              torchvision.models.mobilenet_v2(),
                              (4, 3, 224, 224), work, split_batch=True)
    if "vit" in wanted:
        ok &= check_inference("vit", SmallViT(), (2, 1, 28, 28), work)
    if "decoder" in wanted:
        ok &= check_inference("decoder", SmallDecoder(), (2, 3, 15, 17), work)
    if "fpn" in wanted:
        ok &= check_inference("fpn", SmallFPN(), (2, 3, 16, 20), work)
    if "cnn_train" in wanted:
        ok &= check_training(work)
    if "resnet18_finetune" in wanted:
        ok &= check_finetune(work)
    if "bn_merged_init" in wanted:
        ok &= check_bn_merged_init(work)
    if "embedding" in wanted:
        ok &= check_embedding(work)
    if "recurrent" in wanted:
        ok &= check_recurrent(work)
    if "sequence_task" in wanted:
        ok &= check_sequence_task(work)
    if "masked_encoder" in wanted:
        ok &= check_masked_encoder(work)
    if "pixel" in wanted:
        ok &= check_pixel(work)
    if "scatternd" in wanted:
        ok &= check_scatter_nd(work)
    if "small_ints" in wanted:
        ok &= check_small_ints(work)
    if "uint64_ids" in wanted:
        ok &= check_uint64_ids(work)
    if "einsum" in wanted:
        ok &= check_einsum(work)
    if "top_k" in wanted:
        ok &= check_top_k(work)
    if "control_flow" in wanted:
        ok &= check_control_flow(work)
    if "strided_slices" in wanted:
        ok &= check_strided_slices(work)
    if "conv1d" in wanted:
        ok &= check_conv1d(work)
    if "grid_sample" in wanted:
        ok &= check_grid_sample(work)
    if "warp" in wanted:
        ok &= check_warp(work)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
