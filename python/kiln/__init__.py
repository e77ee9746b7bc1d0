"""kiln from Python: compile a model and run it on NumPy arrays.

    import kiln, numpy as np
    model = kiln.compile("model.onnx", batch=8)
    outputs = model(np.zeros((8, 3, 224, 224), np.float32))  # {name: array}

`kiln.compile` takes a path to a `.mlir` or `.onnx` file, kiln dialect
text, ONNX bytes, a `torch.nn.Module` with `example` inputs (exported to
ONNX in eval mode), or a graph built here (`kiln.Sequential`,
`kiln.Graph`; kiln.layers). Errors are `kiln.Error`, with kiln's messages. The GIL
is released while kernels run; a `Model` is not thread-safe (one per
thread). docs/python.md.
"""

import hashlib
import io
import math
import os
import shutil
import tempfile
import warnings

import numpy as np

from . import _kiln
from . import layers
from . import optim
from .layers import Graph, Sequential, Tensor

Error = _kiln.Error
__all__ = ["Callback", "EarlyStopping", "Error", "Graph",
           "LearningRateScheduler", "Model", "ModelCheckpoint", "Sequential",
           "Tensor", "Trainer", "compile", "layers", "load_data", "optim",
           "read_safetensors", "version", "write_safetensors"]


def version():
    """kiln's, MLIR's and Halide's versions and the host target."""
    return _kiln.version()


class Model:
    """A compiled model with its kernels loaded.

    `model(*arrays, **arrays)` binds the inputs (by position, then by
    name), runs, and returns `{output name: array}`; with one output,
    `model.run1(...)` returns the array alone. An array that is already of
    the input's dtype (float32 or int32), C-contiguous and aligned is read
    in place during the call (no copy); others are converted and copied
    once. Outputs are new arrays, or with `out={name: array}` (or, for a
    one-output model, `out=array`) the caller's arrays, written in place:
    each of the output's shape and dtype, C-contiguous and writeable.
    """

    def __init__(self, impl, source):
        self._impl = impl
        self.source = source

    inputs = property(lambda self: self._impl.inputs,
                      doc="[{'name', 'shape', 'dtype'}] of the inputs")
    outputs = property(lambda self: self._impl.outputs,
                       doc="[{'name', 'shape', 'dtype'}] of the outputs")
    parameters = property(lambda self: self._impl.parameters,
                          doc="[{'name', 'shape', 'dtype'}] of the weights")
    cached = property(lambda self: self._impl.cached,
                      doc="whether the whole plan came from the cache")
    kernels = property(lambda self: self._impl.kernels,
                       doc="distinct kernels in the model's library")
    calls = property(lambda self: self._impl.calls,
                     doc="kernel calls per run (load-time ones excluded)")
    pipeline = property(lambda self: self._impl.pipeline,
                        doc="the pass pipeline, for kiln-opt --pass-pipeline")

    def __call__(self, *arrays, out=None, **named):
        return self._impl.run(arrays, named, self._destinations(out))

    def run1(self, *arrays, out=None, **named):
        """The only output of a one-output model."""
        if len(self.outputs) != 1:
            raise Error("run1: the model has %d outputs" % len(self.outputs))
        outputs = self._impl.run(arrays, named, self._destinations(out))
        return next(iter(outputs.values()))

    def _destinations(self, out):
        if out is None:
            return {}
        if isinstance(out, dict):
            return out
        if len(self.outputs) != 1:
            raise Error("out: the model has %d outputs; give {name: array}"
                        % len(self.outputs))
        return {self.outputs[0]["name"]: out}

    def input_address(self, name):
        """The address the next run reads input `name` from: the model's
        own buffer (a call reads its float32 C-contiguous arrays in place
        and lets go of them when it returns)."""
        return self._impl.input_address(name)

    def bench(self, runs=50):
        """{'median_ms', 'min_ms', 'runs'} over `runs` timed runs."""
        return self._impl.bench(runs)

    def inspect(self):
        """`kiln inspect`: {"ops": [{"op", "result", "label", "operands"}],
        "inputs", "outputs", "kernel_ops", "view_ops", "params",
        "load_time_ops", "parameter_elements", "ir"} of the graph after
        the pass pipeline."""
        return self._impl.inspect()

    def memory(self):
        """`kiln inspect --memory --json`: the memory plan ("arena_bytes",
        "peak_live_bytes", "naive_bytes", "buffers": [...])."""
        import json
        return json.loads(self._impl.memory())

    def dump_kernels(self, directory):
        """Compiles the kernels again, writing each one's Halide .stmt and
        assembly into `directory`; returns the files written there."""
        directory = os.fspath(directory)
        os.makedirs(directory, exist_ok=True)
        self._impl.dump_kernels(directory)
        return sorted(os.listdir(directory))

    def parameter(self, name):
        return self._impl.parameter(name)

    def set_parameter(self, name, value):
        self._impl.set_parameter(name, value)

    def load_weights(self, path):
        """Parameters from a safetensors file (as `kiln run --weights`).
        Returns the names of the model's parameters that the file lacks
        (sorted), which keep their values, and warns when there are any."""
        absent = self._impl.load_weights(os.fspath(path))
        if absent:
            warnings.warn(_kiln.absent_parameters_note(os.fspath(path), absent),
                          stacklevel=2)
        return absent

    def save_weights(self, path):
        self._impl.save_weights(os.fspath(path))


def _model_file(model, example, batch, cache_dir, training=False):
    """A path to a model file for `model`: itself, or a file written under
    the cache directory, named by the content's hash. `training`: a torch
    module is exported for training (see _export_torch)."""
    if isinstance(model, os.PathLike) or (
            isinstance(model, str) and "\n" not in model
            and model.endswith((".mlir", ".onnx"))):
        return os.fspath(model), os.fspath(model)
    if isinstance(model, (Graph, Sequential)):
        data, suffix = model.to_mlir().encode(), ".mlir"
        source = "<kiln.%s>" % type(model).__name__
    elif isinstance(model, str):
        data, suffix, source = model.encode(), ".mlir", "<mlir text>"
    elif isinstance(model, (bytes, bytearray)):
        data, suffix, source = bytes(model), ".onnx", "<onnx bytes>"
    elif _is_torch_module(model):
        if example is None:
            raise Error("compiling a torch.nn.Module needs example inputs")
        data, suffix = _export_torch(model, example, batch, training), ".onnx"
        source = "<%s>" % type(model).__name__
    else:
        raise Error("cannot compile a %s: give a path, MLIR text, ONNX bytes "
                    "or a torch.nn.Module" % type(model).__name__)
    directory = os.path.join(cache_dir or _kiln.default_cache_dir(), "python")
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory,
                        hashlib.sha256(data).hexdigest()[:24] + suffix)
    if not os.path.exists(path):
        # Written whole, then renamed: a reader never sees half a file.
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=suffix)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    return path, source


def _is_torch_module(model):
    try:
        import torch
    except ImportError:
        return False
    return isinstance(model, torch.nn.Module)


def _export_torch(module, example, batch, training=False):
    """ONNX bytes of `module` traced on `example` in eval mode; with
    `batch`, on examples of that leading dim (an export bakes the traced
    batch into shapes such as Flatten's). For training, without constant
    folding and with the BatchNormalization nodes kept (TrainingMode
    PRESERVE; kiln switches them to batch statistics itself): the
    initializers keep the module's state_dict names and values."""
    import torch
    args = tuple(example) if isinstance(example, (tuple, list)) else (example,)
    if batch:
        args = tuple(a.new_zeros((batch,) + tuple(a.shape[1:]))
                     if isinstance(a, torch.Tensor) and a.dim() > 0 else a
                     for a in args)
    buffer = io.BytesIO()
    was_training = module.training
    module.eval()
    try:
        if training:
            torch.onnx.export(module, args, buffer, opset_version=17,
                              do_constant_folding=False,
                              training=torch.onnx.TrainingMode.PRESERVE)
        else:
            torch.onnx.export(module, args, buffer, opset_version=17,
                              do_constant_folding=True)
    finally:
        module.train(was_training)
    return buffer.getvalue()


def compile(model, example=None, *, batch=None, target="host", fusion=True,
            fold_batch_norm=True, winograd=None, weight_packing=True,
            batch_split=True, fuse=None, cache_dir=None, seed=0,
            layout="nchw16c", schedule="hand"):
    """Compile `model` for inference and load it: a `Model`.

    batch: the leading dim of every input (None keeps the model's).
    winograd: 0, 2 or 4 (None: kiln's default, 2 for inference).
    layout: the intermediates' physical layout, "nchw16c" (channels in
    blocks of 16 between kernels that have a blocked form; AVX-512 CPU
    targets) or "nchw" (kiln's --layout; docs/layout.md).
    schedule: "hand" (kiln's schedules) or "auto:Adams2019",
    "auto:Li2018", "auto:Mullapudi2016": one of Halide's autoschedulers on
    every kernel, for comparison (kiln's --schedule; docs/codegen.md).
    fuse: kiln-fuse's patterns switched one by one, {"epilogue": False,
    "elementwise": ..., "prologue": ..., "producer": ..., "attention": ...,
    "sinks": ..., "recompute": ..., "pool": ..., "recompute_conv": ...}
    (kiln's --no-<pattern>-fusion); fusion=False turns all of them off.
    The other options are `kiln run`'s (--no-fusion,
    --no-batch-norm-folding, --no-weight-packing, --no-batch-split,
    --cache-dir, --seed).
    """
    path, source = _model_file(model, example, batch, cache_dir)
    impl = _kiln.Model(path, batch=batch or 0, target=target, fusion=fusion,
                       fold_batch_norm=fold_batch_norm,
                       winograd=-1 if winograd is None else winograd,
                       weight_packing=weight_packing, batch_split=batch_split,
                       cache_dir=cache_dir or "", seed=seed,
                       fuse=dict(fuse or {}), layout=layout,
                       schedule=schedule)
    return Model(impl, source)


def load_data(spec="fashion-mnist"):
    """`((x_train, y_train), (x_test, y_test) or None)` as arrays, from a
    DATA spec of `kiln train`: "fashion-mnist" (Debian's
    dataset-fashion-mnist), a folder of IDX files, "X.npy,Y.npy[,XT.npy,
    YT.npy]" or a CSV file. Images are [N, 1, H, W] floats in [0, 1]."""
    return _kiln.load_data(os.fspath(spec))


def read_safetensors(path):
    """{name: array} of a safetensors file (weights or a checkpoint)."""
    return _kiln.read_safetensors(os.fspath(path))


def write_safetensors(path, tensors, metadata=None):
    """Writes {name: array} (float32; integer arrays as int32) to a
    safetensors file, atomically (a temporary file renamed over it)."""
    _kiln.write_safetensors(os.fspath(path), dict(tensors), metadata or {})


class Callback:
    """The base of `Trainer.fit`'s callbacks, with Keras's hooks. `logs`
    holds the epoch's "loss", "accuracy", "val_loss", "val_accuracy",
    "test_loss", "test_accuracy" (None where not measured), "seconds" and
    "lr". `self.trainer` is the Trainer; setting `trainer.stop_training`
    ends the fit after the current epoch."""

    trainer = None

    def on_train_begin(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass


class _Monitor:
    """A metric to watch: lower is better, or higher ('accuracy' in the
    name, or mode="max")."""

    def __init__(self, owner, monitor, mode, min_delta):
        if mode not in ("auto", "min", "max"):
            raise Error("%s: mode must be auto, min or max, got %r"
                        % (owner, mode))
        self.owner, self.monitor = owner, monitor
        self.higher = mode == "max" or (mode == "auto" and "acc" in monitor)
        self.min_delta = abs(min_delta)
        self.best = -math.inf if self.higher else math.inf

    def value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            raise Error("%s: the epoch's logs have no '%s' (have: %s)" % (
                self.owner, self.monitor,
                ", ".join(k for k, v in sorted((logs or {}).items())
                          if v is not None)))
        return value

    def improves(self, value):
        if self.higher:
            return value > self.best + self.min_delta
        return value < self.best - self.min_delta


class EarlyStopping(Callback):
    """Stops when `monitor` has not improved by more than `min_delta` for
    `patience` epochs (Keras's EarlyStopping); with
    `restore_best_weights`, the weights of the best epoch are put back."""

    def __init__(self, monitor="val_loss", min_delta=0.0, patience=0,
                 mode="auto", restore_best_weights=False):
        self.monitor, self.min_delta, self.mode = monitor, min_delta, mode
        self.patience = patience
        self.restore_best_weights = restore_best_weights
        self.stopped_epoch = None

    def on_train_begin(self, logs=None):
        self._watch = _Monitor("EarlyStopping", self.monitor, self.mode,
                               self.min_delta)
        self.wait, self.best_weights, self.stopped_epoch = 0, None, None

    def on_epoch_end(self, epoch, logs=None):
        value = self._watch.value(logs)
        if self._watch.improves(value):
            self._watch.best, self.wait = value, 0
            if self.restore_best_weights:
                self.best_weights = self.trainer.state_dict()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.trainer.stop_training = True
            if self.best_weights is not None:
                self.trainer.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves the trainer's checkpoint (`Trainer.save`: weights, optimizer
    state, progress) after every epoch to `filepath`, which may name
    `{epoch}` and the logs' keys (`"ckpt-{epoch:02d}-{val_loss:.3f}
    .safetensors"`); with `save_best_only`, only when `monitor`
    improved."""

    def __init__(self, filepath, monitor="val_loss", save_best_only=False,
                 mode="auto"):
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self._watch = _Monitor("ModelCheckpoint", monitor, mode, 0.0)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_best_only:
            value = self._watch.value(logs)
            if not self._watch.improves(value):
                return
            self._watch.best = value
        fields = {k: v for k, v in (logs or {}).items() if v is not None}
        self.trainer.save(self.filepath.format(epoch=epoch + 1, **fields))


class LearningRateScheduler(Callback):
    """Sets the learning rate before each epoch to `schedule(epoch, lr)`
    (epoch from 0, lr the current one), as Keras's callback does."""

    def __init__(self, schedule):
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(self.schedule(epoch, self.trainer.lr))
        if not math.isfinite(lr) or lr <= 0:
            raise Error("LearningRateScheduler: the schedule gave lr=%r for "
                        "epoch %d; it must be finite and > 0" % (lr, epoch))
        self.trainer.lr = lr


class Trainer:
    """Trains a model with kiln's compiled training step (`kiln train`).

        trainer = kiln.Trainer("examples/cnn.mlir", optimizer="adam")
        history = trainer.fit(x, y, epochs=5, batch_size=64,
                              test=(x_test, y_test),
                              callbacks=[kiln.EarlyStopping(patience=2)])
        history["test_accuracy"]

    `regularizers={"l1": a, "l2": b}` adds kiln.regularizer terms on every
    weight (parameters of rank 2 or more) to the loss, as kiln train's
    --l1/--l2 do (docs/training.md); `metrics` chooses
    the history's metrics besides the loss ("accuracy", the default, is
    None where the targets have no classes).

    `model` is what `kiln.compile` takes. A torch module (with `example`
    inputs) is exported for training: BatchNormalization kept, no constant
    folding, so its parameters keep the module's state_dict names
    (`state_dict()` and `load_state_dict()` move weights both ways). The
    weights live in a checkpoint (`checkpoint`, default: a file under the
    cache directory): each `fit` continues from the previous one, as
    Keras's `initial_epoch` does; `evaluate`, `predict` and `model()` (the
    trained network compiled for inference) use them.
    """

    def __init__(self, model, example=None, *, loss="sparse-cce",
                 optimizer="adam", lr=None, momentum=None, weight_decay=None,
                 regularizers=None, metrics=("accuracy",), memory_budget=0,
                 seed=0, checkpoint=None, target="host", fusion=True,
                 fuse=None, winograd=None, cache_dir=None):
        self._path, self.source = _model_file(model, example, None, cache_dir,
                                              training=True)
        penalties = dict(regularizers or {})
        unknown = sorted(set(penalties) - {"l1", "l2"})
        if unknown or any(not math.isfinite(v) or v < 0
                          for v in penalties.values()):
            raise Error("regularizers: {'l1': x, 'l2': y} with finite x, y "
                        ">= 0 (penalties on the weights added to the loss), "
                        "got %r" % (regularizers,))
        self.metrics = tuple(metrics or ())
        bad = [m for m in self.metrics if m not in _METRICS]
        if bad:
            raise Error("metrics: unknown %s (kiln reports %s)"
                        % (", ".join(map(repr, bad)), ", ".join(_METRICS)))
        if isinstance(optimizer, optim.Optimizer):
            if lr is not None or momentum is not None or \
                    weight_decay is not None:
                raise Error("give lr, momentum and weight_decay to the "
                            "kiln.optim object, not to Trainer")
            kind, lr, hyper = optimizer.kind, optimizer.lr, dict(
                optimizer.hyper)
        else:
            kind, hyper = optimizer, {}
            hyper["momentum"] = 0.9 if momentum is None else momentum
            hyper["weight_decay"] = weight_decay or 0.0
        if memory_budget:
            hyper["memory_budget"] = int(memory_budget)
        self._settings = dict(loss=loss, optimizer=kind, lr=lr or 0.0,
                              target=target, fusion=fusion,
                              winograd=-1 if winograd is None else winograd,
                              cache_dir=cache_dir or "",
                              l1=float(penalties.get("l1", 0.0)),
                              l2=float(penalties.get("l2", 0.0)),
                              fuse=dict(fuse or {}), hyper=hyper)
        self._stepper = None  # train_step's session: (batch, TrainStepper)
        self._step = 0        # global steps done by train_step since load
        self.seed = seed
        self.epochs_done = 0
        self.stop_training = False
        self._weights = False  # the checkpoint holds weights to start from
        if checkpoint is None:
            directory = os.path.join(cache_dir or _kiln.default_cache_dir(),
                                     "python")
            os.makedirs(directory, exist_ok=True)
            fd, checkpoint = tempfile.mkstemp(dir=directory,
                                              suffix=".safetensors")
            os.close(fd)
            os.unlink(checkpoint)
        self.checkpoint = os.fspath(checkpoint)

    @property
    def lr(self):
        """The learning rate of the next epoch (the optimizer's default
        until set)."""
        return (self._settings["lr"] or
                _kiln.default_learning_rate(self._settings["optimizer"]))

    @lr.setter
    def lr(self, value):
        value = float(value)
        if not math.isfinite(value) or value <= 0:
            raise Error("lr must be finite and > 0, got %r" % value)
        self._settings["lr"] = value

    def _train_settings(self, lr):
        settings = dict(self._settings, lr=lr)
        settings.update(momentum=settings["hyper"].get("momentum", 0.9),
                        weight_decay=settings["hyper"].get("weight_decay",
                                                           0.0))
        return settings

    def _trained(self):
        self._flush()
        return self.epochs_done > 0 or self._weights

    def train_step(self, x, y):
        """One optimizer step on the batch (x, y): the training step
        compiled at len(x) (kept for the next call of that size),
        continuing from the checkpoint's weights, optimizer state and step
        count. Returns the loss. The weights reach the checkpoint before
        the next fit, evaluate, predict, model, state_dict or save; a
        non-finite loss raises kiln.Error and leaves the checkpoint at the
        last good step."""
        x = np.asarray(x)
        batch = len(x)
        if batch == 0 or len(np.asarray(y)) != batch:
            raise Error("train_step: x and y need the same number of rows "
                        "(at least one), got %d and %d"
                        % (batch, len(np.asarray(y))))
        if self._stepper is None or self._stepper[0] != batch:
            self._flush()  # a session of another batch size: its steps first
            start = self.epochs_done > 0 or self._weights
            metadata = (_kiln.read_safetensors_metadata(self.checkpoint)
                        if start else {})
            self._step = int(metadata.get("step", 0))
            s = self._settings
            self._stepper = (batch, _kiln.TrainStepper(
                self._path, batch=batch, loss=s["loss"],
                optimizer=s["optimizer"], l1=s["l1"], l2=s["l2"],
                hyper=s["hyper"], target=s["target"], fusion=s["fusion"],
                winograd=s["winograd"], cache_dir=s["cache_dir"],
                fuse=s["fuse"], seed=self.seed,
                load=self.checkpoint if start else ""), False)
        loss = self._stepper[1].step(x, y, self.lr, self._step + 1)
        if not math.isfinite(loss):
            self._stepper = None
            raise Error("train_step: the training loss is %r at step %d; "
                        "the checkpoint keeps the last good weights"
                        % (loss, self._step + 1))
        self._step += 1
        self._stepper = (self._stepper[0], self._stepper[1], True)
        return loss

    def _flush(self):
        """train_step's weights and optimizer state into the checkpoint
        (its progress: the step count), then lets the session go."""
        if self._stepper is None:
            return
        batch, stepper, dirty = self._stepper
        self._stepper = None
        if not dirty:
            return
        metadata = {}
        if self.epochs_done > 0 or self._weights:
            metadata = _kiln.read_safetensors_metadata(self.checkpoint)
        if metadata.get("format") == "kiln-checkpoint":
            metadata["step"] = str(self._step)
        write_safetensors(self.checkpoint, stepper.state(), metadata)
        self._weights = True

    def fit(self, x, y, *, epochs=1, batch_size=32, validation_split=0.0,
            shuffle=True, test=None, patience=0, callbacks=(), progress=None):
        """Trains `epochs` more epochs on arrays x [N, ...] and y [N]
        (integer class labels, or float targets). `test=(x, y)` is
        evaluated after every epoch. `callbacks`: Callback objects
        (EarlyStopping, ModelCheckpoint, LearningRateScheduler or your
        own); with callbacks the epochs run one `kiln train` call each,
        resuming from the checkpoint (the same steps as one call). Ctrl-C
        finishes the current step and keeps the checkpoint; the history
        then says `interrupted`. Returns a Keras-style history: {"loss":
        [...], "accuracy": [...], "val_loss", "val_accuracy", "test_loss",
        "test_accuracy", "seconds", "lr" (lists per epoch), "steps",
        "seconds_per_step", "stopped_early", "interrupted"}."""
        callbacks = list(callbacks or ())
        if not callbacks:
            return self._fit(x, y, epochs, batch_size, validation_split,
                             shuffle, test, patience, progress)
        self.stop_training = False
        for cb in callbacks:
            cb.trainer = self
            cb.on_train_begin({})
        history, logs, steps, seconds = None, {}, 0, 0.0
        for _ in range(epochs):
            epoch = self.epochs_done
            for cb in callbacks:
                cb.on_epoch_begin(epoch, {"lr": self.lr})
            h = self._fit(x, y, 1, batch_size, validation_split, shuffle,
                          test, patience, progress)
            keys = self._epoch_keys()
            if history is None:
                history = {k: [] for k in keys}
            if not h["loss"]:
                history.update(interrupted=h["interrupted"])
                break
            logs = {k: h[k][0] for k in keys}
            for k in keys:
                history[k].append(logs[k])
            steps += h["steps"]
            seconds += h["steps"] * h["seconds_per_step"]
            for cb in callbacks:
                cb.on_epoch_end(epoch, logs)
            if self.stop_training or h["stopped_early"] or h["interrupted"]:
                history.update(interrupted=h["interrupted"])
                break
        for cb in callbacks:
            cb.on_train_end(logs)
        history = history or {k: [] for k in self._epoch_keys()}
        history.update(steps=steps,
                       seconds_per_step=seconds / steps if steps else 0.0,
                       stopped_early=self.stop_training or
                       history.get("stopped_early", False))
        history.setdefault("interrupted", False)
        return history

    def _fit(self, x, y, epochs, batch_size, validation_split, shuffle, test,
             patience, progress):
        x_test, y_test = test if test is not None else (None, None)
        if progress is None:
            progress = _stderr_is_tty()
        lr = self.lr
        result = _kiln.train(
            self._path, x, y, x_test, y_test,
            epochs=epochs, initial_epoch=self.epochs_done, batch=batch_size,
            validation_split=validation_split, shuffle=shuffle,
            seed=self.seed, save=self.checkpoint,
            load=self.checkpoint if self._trained() else "",
            progress=progress, patience=patience,
            **self._train_settings(lr))
        self.epochs_done += len(result["epochs"])
        history = {key: [e[key] for e in result["epochs"]]
                   for key in self._epoch_keys() if key != "lr"}
        history["lr"] = [lr] * len(result["epochs"])
        history.update(steps=result["steps"],
                       seconds_per_step=result["seconds_per_step"],
                       stopped_early=result["stopped_early"],
                       interrupted=result["interrupted"])
        return history

    def _epoch_keys(self):
        """The history's per-epoch keys: the losses, and the metrics asked
        for (accuracy: None where the targets have no classes)."""
        keys = ["loss", "val_loss", "test_loss", "seconds", "lr"]
        if "accuracy" in self.metrics:
            keys += ["accuracy", "val_accuracy", "test_accuracy"]
        return keys

    def evaluate(self, x, y, *, batch_size=32):
        """{"loss", "accuracy"} of the current weights on x, y (accuracy
        None where the loss has none), by kiln's evaluation step (the
        model's loss, inference behaviour)."""
        result = _kiln.train(
            self._path, x, y, x, y, epochs=0,
            initial_epoch=self.epochs_done, batch=batch_size,
            validation_split=0.0, shuffle=False, seed=self.seed, save="",
            load=self.checkpoint if self._trained() else "",
            progress=False, patience=0, **self._train_settings(self.lr))
        return {"loss": result["test_loss"],
                "accuracy": result["test_accuracy"]}

    def predict(self, x, *, batch_size=256):
        """The trained network's outputs for x, in batches: an array for a
        one-output model, else {name: array}."""
        x = np.asarray(x)
        if len(x) == 0:
            raise Error("predict: no rows in x")
        models = {}
        parts = []
        for start in range(0, len(x), batch_size):
            rows = x[start:start + batch_size]
            if len(rows) not in models:
                models[len(rows)] = self.model(batch=len(rows))
            parts.append(models[len(rows)](rows))
        names = list(parts[0])
        joined = {n: np.concatenate([p[n] for p in parts]) for n in names}
        return joined[names[0]] if len(names) == 1 else joined

    def model(self, batch=None):
        """The trained network compiled for inference, with its weights."""
        model = compile(self._path, batch=batch,
                        target=self._settings["target"],
                        fusion=self._settings["fusion"],
                        cache_dir=self._settings["cache_dir"] or None,
                        seed=self.seed)
        if self._trained():
            model.load_weights(self.checkpoint)
        return model

    def state_dict(self):
        """{name: array} of every parameter (BatchNorm's running statistics
        included), by the model's names: a torch module's state_dict names
        (without num_batches_tracked)."""
        model = self.model()
        return {p["name"]: model.parameter(p["name"])
                for p in model.parameters}

    def load_state_dict(self, state, strict=True):
        """Sets parameters from {name: array} (a state_dict of this model,
        or a torch module's, as NumPy arrays or tensors). With `strict`,
        the names must be exactly this model's parameters. The next fit,
        evaluate, predict or model() uses them; a checkpoint keeps its
        optimizer state and progress."""
        expected = {p["name"]: tuple(p["shape"])
                    for p in self.model().parameters}
        values = {}
        for name, value in state.items():
            if hasattr(value, "detach"):  # a torch tensor
                value = value.detach().cpu().numpy()
            if name not in expected:
                if strict:
                    raise Error("load_state_dict: the model has no parameter "
                                "'%s'" % name)
                continue
            value = np.asarray(value)
            if tuple(value.shape) != expected[name]:
                raise Error("load_state_dict: '%s' has shape %s, the model's "
                            "is %s" % (name, tuple(value.shape),
                                       expected[name]))
            values[name] = value
        missing = sorted(set(expected) - set(values))
        if strict and missing:
            raise Error("load_state_dict: missing %s" % ", ".join(missing))
        tensors, metadata = {}, {}
        if self._trained():
            tensors = read_safetensors(self.checkpoint)
            metadata = _kiln.read_safetensors_metadata(self.checkpoint)
        tensors.update(values)
        write_safetensors(self.checkpoint, tensors, metadata)
        self._weights = True

    def save(self, path):
        """Writes the checkpoint (weights, optimizer state, epoch and step)
        to `path` (safetensors)."""
        if not self._trained():
            raise Error("save: nothing trained or loaded yet")
        path = os.fspath(path)
        directory = os.path.dirname(path) or "."
        fd, tmp = tempfile.mkstemp(dir=directory, suffix=".safetensors")
        os.close(fd)
        shutil.copyfile(self.checkpoint, tmp)
        os.replace(tmp, path)

    def load(self, path):
        """Continues from a checkpoint written by `save` (or `kiln train
        --save`), or starts from plain weights (a safetensors file of
        parameters: epoch 0)."""
        path = os.fspath(path)
        metadata = _kiln.read_safetensors_metadata(path)
        read_safetensors(path)  # a clear error for a bad file, now
        self._stepper = None  # steps not yet saved give way to the file
        shutil.copyfile(path, self.checkpoint)
        self.epochs_done = (int(metadata["epoch"])
                            if metadata.get("format") == "kiln-checkpoint"
                            else 0)
        self._weights = True


_METRICS = ("accuracy", "loss")


def _stderr_is_tty():
    import sys
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
