#!/usr/bin/python3
"""kiln against its peers, in one run, on the same number of threads.

    /usr/bin/python3 bench/compare/run.py [--threads 2] [--runs N]
        [--cases resnet18,conv3x3_bn_relu-b8,...] [--peers eager,ort,kiln,...]
        [--kiln build/bin/kiln] [--kiln-before OLD_KILN] [--json results.json]
        [--train] [--train-runs N] [--rounds N]

Peers, each timed on the same models (random weights, eval mode) one after
another, all with --threads threads:

  eager        PyTorch eager (torch.no_grad, torch.set_num_threads); Debian's
               torch calls libblas.so.3 for its dense layers: the run refuses
               when that is the reference BLAS (20-70x slower) until
               libopenblas0-pthread is installed (or --allow-reference-blas)
  torchscript  PyTorch frozen TorchScript: optimize_for_inference(freeze(trace))
  ort          ONNX Runtime 1.20.1 (CPU) through onnxruntime-node; installed
               into bench/compare/node/ with npm on first use
  onednn       oneDNN (Debian's libdnnl-dev, installed with apt when missing):
               the conv3x3 64->64 56x56 (+bias +ReLU) cases only
  kiln         `kiln bench MODEL.onnx --batch B --json`, HL_NUM_THREADS=threads
  kiln-before  the same with --kiln-before OLD_KILN (e.g. a build of the
               base commit): a before/after ratio measured beside the peers

It also measures the machine's single-precision FMA peak (fma_peak.cpp) on
the same threads and how long a cache line takes between the first two CPUs
and back (the host's core placement: a 2-vCPU guest's two CPUs may be SMT
siblings, cores sharing a cache, or cores far apart), counts each model's conv/dense FLOPs from its ONNX graph,
and prints Markdown tables (stdout; progress goes to stderr): medians, kiln's
speed-up over each peer (peer ms / kiln ms, above 1 = kiln faster), and
GFLOP/s with the fraction of the FMA peak. Exported models and compiled
helpers are cached in bench/compare/.models/. A peer that is missing or fails
on a case reads "n/a"; the reason is listed under the tables.

--rounds N measures every engine N times per case, round-robin (engine A,
B, C, A, B, C, ...), and reports the median of its N medians (the per-round
medians go into the JSON as "round_ms"). On a host whose speed changes for
seconds at a time (another tenant on the same cores), one measurement per
engine can fall into a slow phase and make a ratio of the run wrong by
1.3-1.7x; alternating rounds spread the phases over every engine.

Training cases (train-resnet18-b16, train-mobilenet_v2-b16, train-lenet-b64,
train-lenet-b256, train-mlp-b64, and ResNet-18, LeNet and the MLP again with
"-sgd": plain SGD instead of Adam; family "train" selects them all) time one
training step: Adam (lr 1e-3, PyTorch's
defaults), cross-entropy on the logits, BatchNorm on batch statistics. They
run with --train (added to the default inference cases) or when --cases
names them (--cases train: the training cases only), and only two peers
apply:

  eager        model.train(); zero_grad + forward + CrossEntropyLoss +
               backward + Adam (or SGD) step, timed per step after warm-up
               steps
  kiln         `kiln bench MODEL.onnx --train --loss sparse-cce --optimizer
               adam|sgd --json`, HL_NUM_THREADS=threads, on the
               model exported in eval mode with do_constant_folding=False and
               TrainingMode.PRESERVE (BatchNormalization nodes kept, without
               training_mode; kiln switches them to batch statistics itself)
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
CACHE = HERE / ".models"
NODE_DIR = HERE / "node"
ORT_VERSION = "1.20.1"
OPSET = 17

BUSY = 0.10  # other processes' share of the CPUs above which a number is flagged
PEERS = ["eager", "torchscript", "ort", "onednn", "kiln-before", "kiln"]
PEER_LABEL = {
    "eager": "PyTorch eager",
    "torchscript": "TorchScript (frozen)",
    "ort": "ONNX Runtime",
    "onednn": "oneDNN conv",
    "kiln-before": "kiln before",  # --kiln-before: an older build, same run
    "kiln": "kiln",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- the cases

class Case:
    def __init__(self, name, family, batch, shape, runs, onednn=False,
                 train=False, classes=None, optimizer="adam"):
        self.name = name          # e.g. resnet18-b8, train-resnet18-b16
        self.family = family      # e.g. resnet18, train-resnet18
        self.batch = batch
        self.shape = shape        # input shape, batch first
        self.runs = runs          # default timed runs
        self.onednn = onednn      # has a oneDNN conv equivalent
        self.train = train        # times the training step, not inference
        self.classes = classes    # training: number of classes (logits)
        self.optimizer = optimizer  # training: "adam" or "sgd"

    @property
    def onnx_path(self):
        stem = self.family.replace("-", "_")
        return CACHE / f"{stem}_b{self.batch}_opset{OPSET}.onnx"


def all_cases():
    cases = []
    for b in (1, 8):
        cases.append(Case(f"resnet18-b{b}", "resnet18", b, (b, 3, 224, 224), 30))
    for b in (1, 8):
        cases.append(Case(f"mobilenet_v2-b{b}", "mobilenet_v2", b, (b, 3, 224, 224), 30))
    cases.append(Case("resnet50-b1", "resnet50", 1, (1, 3, 224, 224), 20))
    cases.append(Case("resnet50-b8", "resnet50", 8, (8, 3, 224, 224), 8))
    cases.append(Case("vit_b_16-b1", "vit_b_16", 1, (1, 3, 224, 224), 8))
    for b in (1, 8):
        cases.append(Case(f"conv3x3_bn_relu-b{b}", "conv3x3_bn_relu", b,
                          (b, 64, 56, 56), 100, onednn=True))
    cases.append(Case("inverted_residual-b8", "inverted_residual", 8, (8, 24, 56, 56), 100))
    cases.append(Case("cnn-b1", "cnn", 1, (1, 1, 28, 28), 300))
    cases.append(Case("cnn-b64", "cnn", 64, (64, 1, 28, 28), 100))
    return cases


TRAIN_GROUP = "train"                # --cases train: every training case
TRAIN_PEERS = ("eager", "kiln-before", "kiln")  # peers that time a training step


def train_cases():
    """Training-step cases: family "train-<model>" (build_train_model)."""
    return [
        Case("train-resnet18-b16", "train-resnet18", 16, (16, 3, 224, 224), 10,
             train=True, classes=1000),
        Case("train-mobilenet_v2-b16", "train-mobilenet_v2", 16,
             (16, 3, 224, 224), 10, train=True, classes=1000),
        Case("train-lenet-b64", "train-lenet", 64, (64, 1, 28, 28), 50,
             train=True, classes=10),
        Case("train-lenet-b256", "train-lenet", 256, (256, 1, 28, 28), 20,
             train=True, classes=10),
        Case("train-mlp-b64", "train-mlp", 64, (64, 1, 28, 28), 100,
             train=True, classes=10),
        # The same steps with plain SGD (lr 1e-2, no momentum): the
        # optimizer's share of the step.
        Case("train-resnet18-b16-sgd", "train-resnet18", 16,
             (16, 3, 224, 224), 10, train=True, classes=1000,
             optimizer="sgd"),
        Case("train-lenet-b64-sgd", "train-lenet", 64, (64, 1, 28, 28), 50,
             train=True, classes=10, optimizer="sgd"),
        Case("train-mlp-b64-sgd", "train-mlp", 64, (64, 1, 28, 28), 100,
             train=True, classes=10, optimizer="sgd"),
    ]


def randomize_batch_norm(model, gen):
    """Random but reasonable BatchNorm parameters and running statistics
    (positive variances), so that nothing folds to a degenerate layer."""
    import torch
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(c, generator=gen) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
                m.weight.copy_(torch.rand(c, generator=gen) * 0.5 + 0.75)
                m.bias.copy_(torch.randn(c, generator=gen) * 0.1)


def build_model(family):
    """The family's model, eval mode, seeded random weights (the same on
    every call, so the cached .onnx holds the weights PyTorch runs)."""
    import torch
    import torch.nn as nn
    import torchvision
    torch.manual_seed(0)
    if family in ("resnet18", "resnet50", "vit_b_16"):
        model = getattr(torchvision.models, family)(weights=None)
    elif family == "mobilenet_v2":
        model = torchvision.models.mobilenet_v2(weights=None)
    elif family == "conv3x3_bn_relu":
        model = nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, bias=False),
                              nn.BatchNorm2d(64), nn.ReLU())
    elif family == "inverted_residual":
        from torchvision.models.mobilenetv2 import InvertedResidual
        model = InvertedResidual(24, 24, 1, 6)
    elif family == "cnn":
        sys.path.insert(0, str(ROOT / "bench"))
        from pytorch_compare import cnn
        model = cnn()
    else:
        raise ValueError(family)
    randomize_batch_norm(model, torch.Generator().manual_seed(1))
    return model.eval()


def build_train_model(family):
    """A training case's model, seeded: PyTorch's default initialization but
    random BatchNorm parameters and statistics, returned in eval mode for
    the export; bench_torch_train switches it to train mode.

    The BatchNorm randomization is needed: an eval-mode export merges
    initializers of equal value (torch.onnx's initializer deduplication), so
    the default ones / zeros would make every BatchNorm's weight, bias and
    running statistics of one shape a single ONNX initializer (read through
    Identity nodes), which kiln would then train as one shared tensor."""
    import torch
    import torch.nn as nn
    import torchvision
    torch.manual_seed(0)
    kind = family[len("train-"):] if family.startswith("train-") else family
    if kind == "resnet18":
        model = torchvision.models.resnet18(weights=None, num_classes=1000)
    elif kind == "mobilenet_v2":
        model = torchvision.models.mobilenet_v2(weights=None, num_classes=1000)
    elif kind == "lenet":
        # 1x28x28 -> 32x28x28 -> 32x14x14 -> 64x14x14 -> 64x7x7 -> 128 -> 10
        model = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
            nn.Linear(128, 10))
    elif kind == "mlp":
        model = nn.Sequential(nn.Flatten(), nn.Linear(784, 256), nn.ReLU(),
                              nn.Linear(256, 128), nn.ReLU(), nn.Linear(128, 10))
    else:
        raise ValueError(family)
    randomize_batch_norm(model, torch.Generator().manual_seed(1))
    return model.eval()


def check_distinct_initializers(path):
    """Raises when the exporter merged parameters of equal value: an
    Identity node that reads an initializer (see build_train_model)."""
    import onnx
    g = onnx.load(str(path)).graph
    inits = {i.name for i in g.initializer}
    shared = [n.output[0] for n in g.node
              if n.op_type == "Identity" and n.input and n.input[0] in inits]
    if shared:
        raise RuntimeError(f"the export shares initializers between parameters "
                           f"({len(shared)}, e.g. {shared[0]}): training would tie them")


def export_onnx(case, model):
    """Exports the model at the case's fixed batch unless cached. Inference
    cases fold constants (BatchNorm into the convs); training cases keep
    every BatchNormalization node (no constant folding, TrainingMode.PRESERVE
    on the eval-mode model: no training_mode attribute, which kiln refuses)
    so that kiln can train their parameters and switch them to batch
    statistics."""
    import torch
    path = case.onnx_path
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    x = torch.randn(*case.shape, generator=torch.Generator().manual_seed(2))
    if case.train:
        model.eval()
        options = {"do_constant_folding": False,
                   "training": torch.onnx.TrainingMode.PRESERVE}
    else:
        options = {"do_constant_folding": True}
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=CACHE)
    os.close(fd)
    try:
        # ViT's attention exports with autograd on: under no_grad an
        # eval-mode nn.MultiheadAttention takes PyTorch's fused fast path,
        # which has no ONNX form.
        grad = torch.enable_grad() if case.family == "vit_b_16" else torch.no_grad()
        with warnings.catch_warnings(), grad:
            warnings.simplefilter("ignore")
            torch.onnx.export(model, x, tmp, opset_version=OPSET,
                              input_names=["x"], output_names=["y"], **options)
        if case.train:
            check_distinct_initializers(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


# ------------------------------------------------------------------ FLOPs

def onnx_flops(path):
    """2*MACs of the Conv, Gemm and MatMul nodes of an ONNX model (shapes
    from ONNX shape inference); None when a shape is unknown."""
    import onnx
    from onnx import numpy_helper, shape_inference
    model = shape_inference.infer_shapes(onnx.load(str(path)))
    g = model.graph
    shapes = {}
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        dims = [d.dim_value if d.HasField("dim_value") else None
                for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    for node in g.node:
        if node.op_type == "Constant":
            for a in node.attribute:
                if a.name == "value":
                    shapes[node.output[0]] = list(numpy_helper.to_array(a.t).shape)

    def known(dims):
        return dims is not None and all(isinstance(d, int) and d > 0 for d in dims)

    total = 0
    for node in g.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "Conv":
            out, w = shapes.get(node.output[0]), shapes.get(node.input[1])
            if not (known(out) and known(w)):
                return None
            # 2 * N * O * OH * OW * (C/g) * KH * KW; w is [O, C/g, KH, KW].
            per_output = 1
            for d in w[1:]:
                per_output *= d
            n_out = 1
            for d in out:
                n_out *= d
            total += 2 * n_out * per_output
        elif node.op_type == "Gemm":
            a, b = shapes.get(node.input[0]), shapes.get(node.input[1])
            if not (known(a) and known(b)):
                return None
            m, k = (a[1], a[0]) if attrs.get("transA", 0) else (a[0], a[1])
            n = b[0] if attrs.get("transB", 0) else b[1]
            total += 2 * m * n * k
        elif node.op_type == "MatMul":
            a, b, out = (shapes.get(node.input[0]), shapes.get(node.input[1]),
                         shapes.get(node.output[0]))
            if not (known(a) and known(out)):
                return None
            k = a[-1]
            n_out = 1
            for d in out:
                n_out *= d
            total += 2 * n_out * k
    return total


# ------------------------------------------------------- machine and tools

def cpu_info():
    info = {"model_name": platform.processor() or "unknown", "vendor": "",
            "flags": set(), "online": os.cpu_count()}
    try:
        with open("/proc/cpuinfo") as f:
            text = f.read()
        first = text.split("\n\n")[0]
        for line in first.splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                info["model_name"] = value
            elif key == "vendor_id":
                info["vendor"] = value
            elif key == "flags":
                info["flags"] = set(value.split())
            elif key in ("cpu family", "model", "stepping"):
                info[key.replace(" ", "_")] = value
    except OSError:
        pass
    try:
        info["affinity"] = len(os.sched_getaffinity(0))
    except AttributeError:
        pass
    return info


def cpu_busy(seconds=1.0):
    """Fraction of all CPUs' time spent busy over `seconds` (this process is
    asleep meanwhile): other load that would distort every number."""
    def sample():
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
        return sum(fields), idle
    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except (OSError, ValueError, IndexError):
        return None
    total = total1 - total0
    return None if total <= 0 else 1.0 - (idle1 - idle0) / total


class OtherLoad:
    """Share of the machine's CPU time that other processes (or the
    hypervisor, as steal time) took while the block ran: /proc/stat's busy
    time minus this process's and its waited-for children's CPU time."""
    HZ = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    @staticmethod
    def _stat():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
        v += [0] * (8 - len(v))
        user, nice, system, idle, iowait, irq, softirq, steal = v
        return user + nice + system + irq + softirq + steal, sum(v)

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system + t.children_user + t.children_system

    def __enter__(self):
        self.fraction = None
        try:
            self._b0, self._t0 = self._stat()
        except (OSError, ValueError):
            self._b0 = None
        self._o0 = self._own()
        return self

    def __exit__(self, *exc):
        if self._b0 is None:
            return False
        try:
            b1, t1 = self._stat()
        except (OSError, ValueError):
            return False
        total = (t1 - self._t0) / self.HZ
        if total > 0:
            others = (b1 - self._b0) / self.HZ - (self._own() - self._o0)
            self.fraction = max(0.0, min(1.0, others / total))
        return False


def compile_cpp(source, binary, flags, libs=()):
    """g++ source -> binary in the cache, unless the binary is newer."""
    CACHE.mkdir(parents=True, exist_ok=True)
    if binary.exists() and binary.stat().st_mtime >= source.stat().st_mtime:
        return binary
    cmd = ["g++", *flags, str(source), "-o", str(binary), *libs]
    log("+ " + " ".join(cmd))
    subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                   text=True)
    return binary


def last_json(stdout):
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{"):
            return json.loads(line)
    raise ValueError("no JSON object in the output")


def run_json(cmd, env=None, timeout=600, cwd=None):
    """Runs cmd, returns the last JSON line of its stdout; raises with the
    tail of stderr on failure."""
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env, timeout=timeout, cwd=cwd)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise RuntimeError(f"exit {proc.returncode}: " + " | ".join(tail))
    return last_json(proc.stdout)


def child_env(threads, **extra):
    env = dict(os.environ)
    env["OMP_NUM_THREADS"] = str(threads)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def fma_peak(threads):
    binary = compile_cpp(HERE / "fma_peak.cpp", CACHE / "fma_peak",
                         ["-O2", "-march=native", "-pthread"])
    return run_json([str(binary), "--threads", str(threads), "--seconds", "0.5",
                     "--repeats", "3"], timeout=120)


def ensure_onednn():
    """Installs libdnnl-dev with apt when dpkg does not have it."""
    q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", "libdnnl-dev"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    if "install ok installed" in q.stdout:
        return
    log("libdnnl-dev is missing: installing it with apt-get")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = prefix + ["apt-get", "install", "-y", "-q", "libdnnl-dev"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(prefix + ["apt-get", "update", "-q"], env=env,
                       stdout=subprocess.DEVNULL)
        subprocess.run(install, env=env, stdout=subprocess.DEVNULL, check=True)


def onednn_binary():
    ensure_onednn()
    return compile_cpp(HERE / "dnnl_conv.cpp", CACHE / "dnnl_conv",
                       ["-O2"], ["-ldnnl", "-fopenmp"])


def ensure_ort():
    """onnxruntime-node under bench/compare/node/ (npm, no install scripts:
    the CPU binaries ship inside the npm package)."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not installed (apt-get install nodejs npm)")
    if not (NODE_DIR / "node_modules" / "onnxruntime-node" / "package.json").exists():
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is not installed (apt-get install npm)")
        log(f"installing onnxruntime-node@{ORT_VERSION} into {NODE_DIR}")
        subprocess.run([npm, "install", f"onnxruntime-node@{ORT_VERSION}",
                        "--save-exact", "--ignore-scripts", "--no-audit",
                        "--no-fund"], cwd=NODE_DIR, check=True,
                       stdout=subprocess.DEVNULL)
    return node


def torch_blas():
    """The libblas.so.3 that Debian's PyTorch loads (its Linear layers and
    their gradients call it): the alternatives link's target, or None.
    The reference BLAS (.../blas/libblas.so.3) is several times slower than
    OpenBLAS (.../openblas-pthread/libblas.so.3)."""
    link = Path("/etc/alternatives/libblas.so.3-x86_64-linux-gnu")
    try:
        return os.path.realpath(link) if link.exists() else None
    except OSError:
        return None


def kiln_version(kiln):
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             text=True).stdout.strip()
    except OSError:
        rev = ""
    built = ""
    if kiln.exists():
        built = datetime.datetime.fromtimestamp(kiln.stat().st_mtime).strftime(
            "%Y-%m-%d %H:%M")
    return rev, built


# ----------------------------------------------------------------- timing

def time_calls(fn, runs, warmup):
    for _ in range(warmup):
        fn()
    ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t0) * 1e3)
    return {"median_ms": statistics.median(ms), "min_ms": min(ms), "runs": runs}


def bench_torch(case, model, runs, mode):
    import torch
    x = torch.randn(*case.shape, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        if mode == "eager":
            return time_calls(lambda: model(x), runs, warmup=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            traced = torch.jit.trace(model, x)
            frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced))
        # The profiling executor specializes during the first runs.
        return time_calls(lambda: frozen(x), runs, warmup=10)


def bench_torch_train(case, model, runs):
    """PyTorch eager training step: zero_grad + forward + cross-entropy +
    backward + Adam step (lr 1e-3, PyTorch's defaults) or SGD step (lr
    1e-2), BatchNorm in train mode; 3 warm-up steps (Adam allocates its
    state in the first)."""
    import torch
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(*case.shape, generator=gen)
    target = torch.randint(0, case.classes, (case.batch,), generator=gen)
    model.train()
    if case.optimizer == "sgd":
        optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
    else:
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step():
        optimizer.zero_grad()
        loss = loss_fn(model(x), target)
        loss.backward()
        optimizer.step()

    try:
        return time_calls(step, runs, warmup=3)
    finally:
        model.eval()


def bench_ort(case, runs, threads):
    node = ensure_ort()
    out = run_json([node, str(HERE / "ort_bench.js"), str(case.onnx_path),
                    "--shape", ",".join(map(str, case.shape)),
                    "--threads", str(threads), "--runs", str(runs), "--warmup", "5"],
                   env=child_env(threads), timeout=600)
    return {"median_ms": out["median_ms"], "min_ms": out["min_ms"], "runs": runs}


def bench_onednn(case, runs, threads):
    binary = onednn_binary()
    out = run_json([str(binary), "--batch", str(case.batch), "--threads",
                    str(threads), "--runs", str(runs)],
                   env=child_env(threads), timeout=300)
    return {"median_ms": out["median_ms"], "min_ms": out["min_ms"], "runs": runs,
            "impl": out.get("impl"), "onednn": out.get("onednn"),
            "gflops": out.get("gflops")}


def bench_kiln(case, runs, threads, kiln, timeout):
    if not kiln.exists() or not os.access(kiln, os.X_OK):
        raise RuntimeError(f"{kiln} not built")
    cmd = [str(kiln), "bench", str(case.onnx_path), "--batch", str(case.batch),
           "--json", "--runs", str(runs)]
    if case.train:
        # bench --train: Adam (lr 1e-3, betas 0.9/0.999, eps 1e-8) or SGD,
        # 3 warm-up steps.
        cmd += ["--train", "--loss", "sparse-cce"]
        if case.optimizer != "adam":
            # Adam is bench's default: a binary from before --optimizer
            # (the --kiln-before peer) still times the Adam cases.
            cmd += ["--optimizer", case.optimizer]
    t0 = time.perf_counter()
    out = run_json(cmd, env=child_env(threads, HL_NUM_THREADS=threads), timeout=timeout)
    return {"median_ms": out["median_ms"], "min_ms": out.get("min_ms"), "runs": runs,
            "kernels": out.get("kernels"),
            "wall_s": round(time.perf_counter() - t0, 1)}


def wait_quiet(max_s=30):
    """Waits (up to max_s) until the CPUs are idle for a second."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        busy = cpu_busy(1.0)
        if busy is None or busy <= BUSY:
            return


def combine_rounds(rs):
    """One engine's results of several rounds on one case: the median of
    the rounds' medians (and the least of their minimums), the per-round
    medians as round_ms, the highest other load; an error only when every
    round failed."""
    ok = [r for r in rs if "error" not in r]
    if len(rs) == 1 or not ok:
        return rs[0]
    r = dict(ok[0])
    r["round_ms"] = [x["median_ms"] for x in ok]
    r["median_ms"] = statistics.median(r["round_ms"])
    mins = [x["min_ms"] for x in ok if x.get("min_ms") is not None]
    r["min_ms"] = min(mins) if mins else None
    r["other_load"] = max(x.get("other_load", 0) for x in ok)
    if len(ok) < len(rs):
        r["failed_rounds"] = len(rs) - len(ok)
    return r


def less_disturbed(a, b):
    """Of two results of one peer: a success over an error, an undisturbed
    one over a disturbed one, else the faster (the less disturbed)."""
    if "error" in a or "error" in b:
        return b if "error" in a else a
    busy_a, busy_b = a.get("other_load", 0) > BUSY, b.get("other_load", 0) > BUSY
    if busy_a != busy_b:
        return b if busy_a else a
    return a if a["median_ms"] <= b["median_ms"] else b


def settle_own_threads(max_s=3.0, window_s=0.02):
    """Waits (up to max_s) until this process's own threads stop using CPU.
    PyTorch's peers run in this process, and their worker threads spin for
    a while after the last call (OpenBLAS's busy-wait): an engine started in
    a subprocess meanwhile shares the cores with them. kiln's MLP training
    step measured 0.55 ms instead of 0.34 in rounds that followed PyTorch's
    (2026-12-03), and OtherLoad does not see it, since it leaves this
    process's own CPU time out."""
    start = time.monotonic()
    while time.monotonic() < start + max_s:
        t0 = os.times()
        time.sleep(window_s)
        t1 = os.times()
        used = (t1.user + t1.system) - (t0.user + t0.system)
        if used < 0.1 * window_s:
            break
    waited = time.monotonic() - start
    if waited > 0.1:
        log(f"waited {waited:.2f} s for PyTorch's threads to go idle")


def measure(p, case, model, runs, threads, kiln, args):
    """One peer on one case: its result dict, with the share of the CPUs
    that other processes took meanwhile, or {"error": ...}."""
    if p not in ("eager", "torchscript"):
        settle_own_threads()
    try:
        with OtherLoad() as load:
            if case.train and p == "eager":
                r = bench_torch_train(case, model, runs)
            elif case.train and p not in ("kiln", "kiln-before"):
                raise RuntimeError("no training step for this peer")
            elif p in ("eager", "torchscript"):
                r = bench_torch(case, model, runs, p)
            elif p == "ort":
                r = bench_ort(case, runs, threads)
            elif p == "onednn":
                r = bench_onednn(case, runs, threads)
            elif p == "kiln-before":
                r = bench_kiln(case, runs, threads, args.kiln_before_path,
                               args.kiln_timeout)
            else:
                r = bench_kiln(case, runs, threads, kiln, args.kiln_timeout)
        if load.fraction is not None:
            r["other_load"] = round(load.fraction, 3)
        log(f"{case.name}: {PEER_LABEL[p]} median {r['median_ms']:.3f} ms"
            + (f" (other load {100 * load.fraction:.0f}%)" if load.fraction is not None else ""))
        return r
    except subprocess.TimeoutExpired as e:
        r = {"error": f"timed out after {e.timeout} s"}
    except Exception as e:  # noqa: BLE001 - a report, not a crash
        msg = str(e).strip().replace("\n", " ")
        r = {"error": msg[:300] or type(e).__name__}
    log(f"{case.name}: {PEER_LABEL[p]} n/a: {r['error']}")
    return r


# ----------------------------------------------------------------- report

def fmt_ms(r):
    if r is None or "median_ms" not in r:
        return "n/a"
    v = r["median_ms"]
    text = f"{v:.3f}" if v < 10 else f"{v:.2f}" if v < 100 else f"{v:.1f}"
    return text + (" (busy)" if r.get("other_load", 0) > BUSY else "")


def markdown(meta, results, peers):
    lines = []
    cpu = meta["cpu"]
    lines.append(f"## kiln vs peers, {meta['date']}")
    lines.append("")
    lines.append(f"- CPU: {cpu['model_name']} ({cpu['vendor']}, family {cpu.get('cpu_family', '?')} "
                 f"model {cpu.get('model', '?')}, {cpu['online']} logical CPUs online, "
                 f"avx512f: {'yes' if cpu['avx512f'] else 'no'})")
    peak = meta.get("fma_peak")
    if peak:
        if (peak.get("other_load") or 0) > BUSY:
            lines.append(f"- **FMA peak measured while other processes took "
                         f"{100 * peak['other_load']:.0f}% of the CPUs: too low**")
        lines.append(f"- threads: {meta['threads']} for every engine; FMA peak measured on "
                     f"{peak['threads']} threads ({peak['isa']}, {peak['chains']} chains, "
                     f"pinned: {'yes' if peak['pinned'] else 'no'}): "
                     f"**{peak['gflops']:.1f} GFLOP/s** ({peak['gflops_per_thread']:.1f} per thread)")
        if peak.get("round_trip_ns"):
            lines.append(f"- a cache line between the first two CPUs and back (pinned threads): "
                         f"{peak['round_trip_ns']:.0f} ns (tens of ns: one core's SMT siblings "
                         f"or one cache domain; hundreds: cores apart, where data one thread "
                         f"writes and the other reads is slow)")
    else:
        lines.append(f"- threads: {meta['threads']} for every engine; FMA peak: n/a")
    lines.append(f"- versions: {meta['versions']}")
    busy = meta.get("busy_before")
    if busy is not None:
        warn = (" **(other load: timings distorted, rerun on an idle machine)**"
                if busy > 0.15 else "")
        lines.append(f"- CPU busy in the second before the start: {100 * busy:.0f}%{warn}; "
                     f"whole run {meta.get('wall_s', '?')} s")
    if meta.get("rounds", 1) > 1:
        lines.append(f"- {meta['rounds']} rounds per case, the engines round-robin; "
                     "each time is the median of the rounds' medians")
    lines.append("")
    infer_rows = [row for row in results if not row.get("train")]
    train_rows = [row for row in results if row.get("train")]
    if infer_rows:
        lines.extend(inference_tables(infer_rows, peers, peak))
    if train_rows:
        if infer_rows:
            lines.append("")
        lines.extend(training_tables(train_rows, [p for p in peers if p in TRAIN_PEERS],
                                     peak))
    notes = []
    for row in results:
        for p in peers:
            r = row["peers"].get(p)
            if r and r.get("other_load", 0) > BUSY:
                notes.append(f"- {row['case']}, {PEER_LABEL[p]}: (busy) other processes took "
                             f"{100 * r['other_load']:.0f}% of the CPUs during this measurement")
            if r and "error" in r:
                notes.append(f"- {row['case']}, {PEER_LABEL[p]}: n/a ({r['error']})")
            if r and p == "onednn" and r.get("impl"):
                notes.append(f"- {row['case']}, oneDNN {r.get('onednn', '')}: kernel "
                             f"{r['impl']}, conv + bias + ReLU, layouts chosen by oneDNN")
            if r and p == "kiln" and r.get("wall_s") is not None:
                what = "`kiln bench --train`" if row.get("train") else "`kiln bench`"
                notes.append(f"- {row['case']}, kiln: {r['wall_s']} s wall for the whole "
                             f"{what} (compile or cache load + runs)")
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines.append("")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def inference_tables(results, peers, peak):
    """Markdown lines: inference medians with kiln's speed-ups, then
    GFLOP/s and % of the FMA peak."""
    lines = []
    others = [p for p in peers if p != "kiln"]
    # Table 1: medians and kiln's speed-up.
    head = ["case", "GFLOP"] + [f"{PEER_LABEL[p]} ms" for p in peers]
    if "kiln" in peers:
        head += [f"kiln speed-up vs {PEER_LABEL[p]}" for p in others]
    lines.append("Median milliseconds per inference. Speed-up = peer ms / kiln ms "
                 "(above 1: kiln is faster).")
    lines.append("")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in results:
        cells = [row["case"], f"{row['gflop']:.3g}" if row["gflop"] else "?"]
        cells += ["" if p not in row["peers"] else fmt_ms(row["peers"][p])
                  for p in peers]
        if "kiln" in peers:
            k = row["peers"].get("kiln") or {}
            for p in others:
                r = row["peers"].get(p) or {}
                if "median_ms" in k and "median_ms" in r:
                    cells.append(f"{r['median_ms'] / k['median_ms']:.2f}x")
                else:
                    cells.append("n/a" if p != "onednn" or "onednn" in row["peers"] else "")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    # Table 2: GFLOP/s and % of the FMA peak.
    lines.append("Conv/dense GFLOP/s at the median (FLOPs = 2 x MACs of Conv, Gemm, MatMul "
                 "from the ONNX graph) and % of the measured FMA peak.")
    lines.append("")
    head = ["case"] + [PEER_LABEL[p] for p in peers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in results:
        cells = [row["case"]]
        for p in peers:
            r = row["peers"].get(p)
            if r is None:
                cells.append("")
            elif "median_ms" not in r or not row["gflop"]:
                cells.append("n/a")
            else:
                gf = row["gflop"] / (r["median_ms"] / 1e3)
                pct = f" ({100 * gf / peak['gflops']:.0f}%)" if peak else ""
                cells.append(f"{gf:.1f}{pct}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def training_tables(results, peers, peak):
    """Markdown lines: training-step medians, PyTorch eager / kiln, then
    estimated GFLOP/s (3 x the forward conv/dense FLOPs per step)."""
    lines = []
    lines.append("Training step: median milliseconds per step (PyTorch eager: zero_grad + "
                 "forward + CrossEntropyLoss + backward + optimizer step; kiln: one "
                 "`kiln bench --train --loss sparse-cce --optimizer adam|sgd` step). "
                 "Adam lr 1e-3 with PyTorch's defaults; \"-sgd\" cases plain SGD, lr "
                 "1e-2; BatchNorm on batch statistics. Speed-up = "
                 "PyTorch eager ms / kiln ms (above 1: kiln is faster).")
    lines.append("")
    both = "eager" in peers and "kiln" in peers
    head = ["case", "batch"] + [f"{PEER_LABEL[p]} ms" for p in peers]
    before = "kiln-before" in peers and "kiln" in peers
    if both:
        head.append("speed-up PyTorch eager / kiln")
    if before:
        head.append("speed-up kiln before / kiln")
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in results:
        cells = [row["case"], str(row["batch"])]
        cells += [fmt_ms(row["peers"].get(p)) for p in peers]
        if both:
            e, k = row["peers"].get("eager") or {}, row["peers"].get("kiln") or {}
            cells.append(f"{e['median_ms'] / k['median_ms']:.2f}x"
                         if "median_ms" in e and "median_ms" in k else "n/a")
        if before:
            b, k = row["peers"].get("kiln-before") or {}, row["peers"].get("kiln") or {}
            cells.append(f"{b['median_ms'] / k['median_ms']:.2f}x"
                         if "median_ms" in b and "median_ms" in k else "n/a")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Estimated GFLOP per training step = 3 x the forward conv/dense FLOPs "
                 "of the ONNX graph (forward + input gradient + weight gradient; an "
                 "estimate: it counts the first layer's unneeded input gradient and "
                 "leaves out BatchNorm, pooling, loss and Adam), the GFLOP/s it "
                 "implies at the median and % of the measured FMA peak.")
    lines.append("")
    head = ["case", "GFLOP/step (est.)"] + [f"{PEER_LABEL[p]} GFLOP/s (est.)"
                                            for p in peers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for row in results:
        est = row.get("train_gflop_est")
        cells = [row["case"], f"{est:.3g}" if est else "?"]
        for p in peers:
            r = row["peers"].get(p)
            if r is None or "median_ms" not in r or not est:
                cells.append("n/a")
            else:
                gf = est / (r["median_ms"] / 1e3)
                pct = f" ({100 * gf / peak['gflops']:.0f}%)" if peak else ""
                cells.append(f"{gf:.1f}{pct}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


# ------------------------------------------------------------------- main

def select_cases(spec, train=False):
    """The cases --cases names (case names, families, or "train" for every
    training case; default: every inference case), plus every training case
    with --train."""
    cases = all_cases() + train_cases()

    def keys(c):
        return (c.name, c.family) + ((TRAIN_GROUP,) if c.train else ())

    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    unknown = [w for w in wanted if not any(w in keys(c) for c in cases)]
    if unknown:
        names = ", ".join([c.name for c in cases] + [TRAIN_GROUP])
        raise SystemExit(f"unknown case(s) {', '.join(unknown)}; known: {names}")
    return [c for c in cases
            if (any(w in keys(c) for w in wanted) if wanted else not c.train)
            or (train and c.train)]


def main():
    parser = argparse.ArgumentParser(
        description="Time kiln against PyTorch, TorchScript, ONNX Runtime and oneDNN.")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads for every engine (default 2)")
    parser.add_argument("--runs", type=int, default=None,
                        help="timed runs per engine and case (default: 30 for "
                             "the whole networks, 100-300 for the small cases)")
    parser.add_argument("--cases", default="",
                        help="comma list of cases or families (default: every "
                             "inference case): " + ", ".join(c.name for c in all_cases())
                             + "; training steps: " + ", ".join(c.name for c in train_cases())
                             + f" ('{TRAIN_GROUP}': all three)")
    parser.add_argument("--train", action="store_true",
                        help="also time the training cases (PyTorch eager and kiln "
                             "only); --cases train times only them")
    parser.add_argument("--train-runs", type=int, default=None,
                        help="timed steps per engine and training case (default: "
                             "--runs if given, else 10 for ResNet-18, 50-100 for the "
                             "small models)")
    parser.add_argument("--peers", default=",".join(PEERS),
                        help="comma list of engines (default: %(default)s)")
    parser.add_argument("--kiln", default="build/bin/kiln",
                        help="kiln binary; a relative path is tried from the current "
                             "directory, then the repository root (default %(default)s)")
    parser.add_argument("--kiln-before", default=None,
                        help="an older kiln binary, timed in the same run beside "
                             "the others: its column and kiln's speed-up over it "
                             "give a before/after ratio beside the peers")
    parser.add_argument("--kiln-timeout", type=int, default=600,
                        help="seconds per `kiln bench` call, compilation included")
    parser.add_argument("--retries", type=int, default=1,
                        help="measure a peer again (keeping the less disturbed result) "
                             "when other processes took over 10%% of the CPUs meanwhile")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every engine this many times per case, "
                             "round-robin, and report the median of the rounds' "
                             "medians (for hosts whose speed changes; default 1)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--allow-reference-blas", action="store_true",
                        help="time PyTorch even when it would load the reference "
                             "BLAS (refused by default: 20-70x slower than OpenBLAS)")
    args = parser.parse_args()

    threads = max(1, args.threads)
    rounds = max(1, args.rounds)
    cases = select_cases(args.cases, args.train)
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    bad = [p for p in peers if p not in PEERS]
    if bad:
        raise SystemExit(f"unknown peer(s) {', '.join(bad)}; known: {', '.join(PEERS)}")
    if args.kiln_before:
        peers.append("kiln-before")
        args.kiln_before_path = Path(args.kiln_before).resolve()
    elif "kiln-before" in peers:
        raise SystemExit("peer kiln-before needs --kiln-before PATH")
    peers = [p for p in PEERS if p in peers]  # fixed column order
    kiln = Path(args.kiln)
    if not kiln.is_absolute() and not kiln.exists():
        kiln = ROOT / kiln
    kiln = kiln.resolve()

    blas = torch_blas()
    torch_peers = [p for p in peers if p in ("eager", "torchscript")]
    if (torch_peers and blas and "/blas/" in blas and not args.allow_reference_blas):
        raise SystemExit(
            f"PyTorch would load the reference BLAS ({blas}), 20-70x slower than "
            "OpenBLAS in its dense layers, so peers "
            f"{', '.join(torch_peers)} would be handicapped. Install "
            "libopenblas0-pthread (apt-get install libopenblas0-pthread), or pass "
            "--allow-reference-blas to time them anyway.")

    import torch
    import torchvision
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass

    cpu = cpu_info()
    cpu["avx512f"] = "avx512f" in cpu["flags"]
    meta = {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "threads": threads,
        "rounds": rounds,
        "cpu": {k: v for k, v in cpu.items() if k != "flags"},
    }
    log(f"CPU: {cpu['model_name']}, avx512f: {cpu['avx512f']}, threads: {threads}")
    busy = cpu_busy()
    meta["busy_before"] = busy
    if busy is not None and busy > 0.15:
        log(f"WARNING: the CPUs were {100 * busy:.0f}% busy before the start: "
            "other processes will distort the timings")

    meta["fma_peak"] = None
    for attempt in range(3):
        try:
            with OtherLoad() as load:
                peak = fma_peak(threads)
            peak["other_load"] = load.fraction
            log(f"FMA peak: {peak['gflops']:.1f} GFLOP/s ({peak['isa']})")
        except Exception as e:  # noqa: BLE001 - a report, not a crash
            log(f"FMA peak: n/a ({e})")
            break
        if meta["fma_peak"] is None or peak["gflops"] > meta["fma_peak"]["gflops"]:
            meta["fma_peak"] = peak
        if (load.fraction or 0) <= BUSY:
            break
        log("FMA peak: other processes were busy; measuring again")
        wait_quiet()

    rev, built = kiln_version(kiln)
    versions = [f"torch {torch.__version__}", f"torchvision {torchvision.__version__}",
                f"onnxruntime-node {ORT_VERSION}"]
    try:
        v = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libdnnl-dev"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           text=True).stdout.strip()
        if v:
            versions.append(f"oneDNN (libdnnl-dev) {v}")
    except OSError:
        pass
    if blas:
        versions.append(f"PyTorch's libblas.so.3: {blas}")
    versions.append(f"kiln {rev or '?'}" + (f" (binary built {built})" if built else
                                            " (binary not built)"))
    meta["versions"] = ", ".join(versions)
    meta["kiln"] = str(kiln)

    results = []
    started = time.perf_counter()
    for case in cases:
        row = {"case": case.name, "batch": case.batch, "shape": list(case.shape),
               "onnx": str(case.onnx_path), "gflop": None, "peers": {}}
        if case.train:
            # gflop: the forward pass; train_gflop_est: 3 x that per step.
            row.update({"train": True, "classes": case.classes, "train_gflop_est": None})
        results.append(row)
        if case.train:
            runs = args.train_runs or args.runs or case.runs
        else:
            runs = args.runs or case.runs

        def applies(p):
            if case.train:
                return p in TRAIN_PEERS
            return p != "onednn" or case.onednn

        try:
            model = (build_train_model if case.train else build_model)(case.family)
            export_onnx(case, model)
        except Exception as e:  # noqa: BLE001
            log(f"{case.name}: model/export failed: {e}")
            for p in peers:
                if applies(p):
                    row["peers"][p] = {"error": f"export failed: {e}"}
            continue
        try:
            flops = onnx_flops(case.onnx_path)
            row["gflop"] = flops / 1e9 if flops else None
            if case.train and flops:
                row["train_gflop_est"] = 3 * flops / 1e9
        except Exception as e:  # noqa: BLE001
            log(f"{case.name}: FLOP count failed: {e}")
        # Round-robin over the engines, --rounds times (see the docstring).
        measured = {p: [] for p in peers if applies(p)}
        for rnd in range(rounds):
            for p in measured:
                r = None
                attempts = 1 + max(0, args.retries)
                for attempt in range(attempts):
                    log(f"{case.name}: {PEER_LABEL[p]} ({runs} runs"
                        + (f", round {rnd + 1} of {rounds}" if rounds > 1 else "")
                        + ")...")
                    this = measure(p, case, model, runs, threads, kiln, args)
                    r = this if r is None else less_disturbed(r, this)
                    if "error" in r or r.get("other_load", 0) <= BUSY:
                        break
                    if attempt + 1 < attempts:
                        log(f"{case.name}: {PEER_LABEL[p]}: other processes took "
                            f"{100 * this['other_load']:.0f}% of the CPUs; waiting for a "
                            "quiet moment and measuring again")
                        wait_quiet()
                measured[p].append(r)
        for p, rs in measured.items():
            row["peers"][p] = combine_rounds(rs)
        del model
    meta["wall_s"] = round(time.perf_counter() - started, 1)

    print(markdown(meta, results, peers), end="")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "cases": results}, f, indent=2)
            f.write("\n")
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
