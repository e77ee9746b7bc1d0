"""kiln from Python: compile a model and run it on NumPy arrays.

    import kiln, numpy as np
    model = kiln.compile("model.onnx", batch=8)
    outputs = model(np.zeros((8, 3, 224, 224), np.float32))  # {name: array}

`kiln.compile` takes a path to a `.mlir` or `.onnx` file, kiln dialect
text, ONNX bytes, or a `torch.nn.Module` with `example` inputs (exported to
ONNX in eval mode). Errors are `kiln.Error`, with kiln's messages. The GIL
is released while kernels run; a `Model` is not thread-safe (one per
thread). docs/python.md.
"""

import hashlib
import io
import os
import tempfile

import numpy as np

from . import _kiln

Error = _kiln.Error
__all__ = ["Error", "Model", "Trainer", "compile", "load_data", "version"]


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
    once. Outputs are new arrays.
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
    pipeline = property(lambda self: self._impl.pipeline,
                        doc="the pass pipeline, for kiln-opt --pass-pipeline")

    def __call__(self, *arrays, **named):
        return self._impl.run(*arrays, **named)

    def run1(self, *arrays, **named):
        """The only output of a one-output model."""
        outputs = self._impl.run(*arrays, **named)
        if len(outputs) != 1:
            raise Error("run1: the model has %d outputs" % len(outputs))
        return next(iter(outputs.values()))

    def input_address(self, name):
        """The address the next run reads input `name` from: the model's
        own buffer (a call reads its float32 C-contiguous arrays in place
        and lets go of them when it returns)."""
        return self._impl.input_address(name)

    def bench(self, runs=50):
        """{'median_ms', 'min_ms', 'runs'} over `runs` timed runs."""
        return self._impl.bench(runs)

    def parameter(self, name):
        return self._impl.parameter(name)

    def set_parameter(self, name, value):
        self._impl.set_parameter(name, value)

    def load_weights(self, path):
        """Parameters from a safetensors file (as `kiln run --weights`)."""
        self._impl.load_weights(os.fspath(path))

    def save_weights(self, path):
        self._impl.save_weights(os.fspath(path))


def _model_file(model, example, batch, cache_dir):
    """A path to a model file for `model`: itself, or a file written under
    the cache directory, named by the content's hash."""
    if isinstance(model, os.PathLike) or (
            isinstance(model, str) and "\n" not in model
            and model.endswith((".mlir", ".onnx"))):
        return os.fspath(model), os.fspath(model)
    if isinstance(model, str):
        data, suffix, source = model.encode(), ".mlir", "<mlir text>"
    elif isinstance(model, (bytes, bytearray)):
        data, suffix, source = bytes(model), ".onnx", "<onnx bytes>"
    elif _is_torch_module(model):
        if example is None:
            raise Error("compiling a torch.nn.Module needs example inputs")
        data, suffix = _export_torch(model, example, batch), ".onnx"
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


def _export_torch(module, example, batch):
    """ONNX bytes of `module` traced on `example` in eval mode; with
    `batch`, on examples of that leading dim (an export bakes the traced
    batch into shapes such as Flatten's)."""
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
        torch.onnx.export(module, args, buffer, opset_version=17,
                          do_constant_folding=True)
    finally:
        module.train(was_training)
    return buffer.getvalue()


def compile(model, example=None, *, batch=None, target="host", fusion=True,
            fold_batch_norm=True, winograd=None, weight_packing=True,
            batch_split=True, cache_dir=None, seed=0):
    """Compile `model` for inference and load it: a `Model`.

    batch: the leading dim of every input (None keeps the model's).
    winograd: 0, 2 or 4 (None: kiln's default, 2 for inference).
    The other options are `kiln run`'s (--no-fusion,
    --no-batch-norm-folding, --no-weight-packing, --no-batch-split,
    --cache-dir, --seed).
    """
    path, source = _model_file(model, example, batch, cache_dir)
    impl = _kiln.Model(path, batch=batch or 0, target=target, fusion=fusion,
                       fold_batch_norm=fold_batch_norm,
                       winograd=-1 if winograd is None else winograd,
                       weight_packing=weight_packing, batch_split=batch_split,
                       cache_dir=cache_dir or "", seed=seed)
    return Model(impl, source)


def load_data(spec="fashion-mnist"):
    """`((x_train, y_train), (x_test, y_test) or None)` as arrays, from a
    DATA spec of `kiln train`: "fashion-mnist" (Debian's
    dataset-fashion-mnist), a folder of IDX files, "X.npy,Y.npy[,XT.npy,
    YT.npy]" or a CSV file. Images are [N, 1, H, W] floats in [0, 1]."""
    return _kiln.load_data(os.fspath(spec))


class Trainer:
    """Trains a model with kiln's compiled training step (`kiln train`).

        trainer = kiln.Trainer("examples/cnn.mlir", optimizer="adam")
        history = trainer.fit(x, y, epochs=5, batch_size=64,
                              test=(x_test, y_test))
        history["test_accuracy"]

    `model` is what `kiln.compile` takes (a torch module is exported in
    eval mode: BatchNorm folds into the convolutions, so export such a
    module to ONNX with TrainingMode.TRAINING yourself). The weights live
    in a checkpoint (`checkpoint`, default: a file under the cache
    directory): each `fit` continues from the previous one, as Keras's
    `initial_epoch` does; `evaluate`, `predict` and `model()` (the trained
    network compiled for inference) use them.
    """

    def __init__(self, model, example=None, *, loss="sparse-cce",
                 optimizer="adam", lr=None, momentum=0.9, weight_decay=0.0,
                 seed=0, checkpoint=None, target="host", fusion=True,
                 winograd=None, cache_dir=None):
        self._path, self.source = _model_file(model, example, None, cache_dir)
        self._settings = dict(loss=loss, optimizer=optimizer, lr=lr or 0.0,
                              momentum=momentum, weight_decay=weight_decay,
                              target=target, fusion=fusion,
                              winograd=-1 if winograd is None else winograd,
                              cache_dir=cache_dir or "")
        self.seed = seed
        self.epochs_done = 0
        if checkpoint is None:
            directory = os.path.join(cache_dir or _kiln.default_cache_dir(),
                                     "python")
            os.makedirs(directory, exist_ok=True)
            fd, checkpoint = tempfile.mkstemp(dir=directory,
                                              suffix=".safetensors")
            os.close(fd)
            os.unlink(checkpoint)
        self.checkpoint = os.fspath(checkpoint)

    def fit(self, x, y, *, epochs=1, batch_size=32, validation_split=0.0,
            shuffle=True, test=None, patience=0, progress=None):
        """Trains `epochs` more epochs on arrays x [N, ...] and y [N]
        (integer class labels, or float targets). `test=(x, y)` is
        evaluated after every epoch. Returns a Keras-style history:
        {"loss": [...], "accuracy": [...], "val_loss", "val_accuracy",
        "test_loss", "test_accuracy" (lists per epoch), "steps",
        "seconds_per_step"}."""
        x_test, y_test = test if test is not None else (None, None)
        if progress is None:
            progress = _stderr_is_tty()
        result = _kiln.train(
            self._path, x, y, x_test, y_test,
            epochs=epochs, initial_epoch=self.epochs_done, batch=batch_size,
            validation_split=validation_split, shuffle=shuffle,
            seed=self.seed, save=self.checkpoint,
            load=self.checkpoint if self.epochs_done else "",
            progress=progress, patience=patience, **self._settings)
        self.epochs_done += len(result["epochs"])
        history = {key: [e[key] for e in result["epochs"]]
                   for key in ("loss", "accuracy", "val_loss",
                               "val_accuracy", "test_loss", "test_accuracy",
                               "seconds")}
        history.update(steps=result["steps"],
                       seconds_per_step=result["seconds_per_step"],
                       stopped_early=result["stopped_early"])
        return history

    def evaluate(self, x, y, *, batch_size=32):
        """{"loss", "accuracy"} of the current weights on x, y (accuracy
        None where the loss has none), by kiln's evaluation step (the
        model's loss, inference behaviour)."""
        result = _kiln.train(
            self._path, x, y, x, y, epochs=0,
            initial_epoch=self.epochs_done, batch=batch_size,
            validation_split=0.0, shuffle=False, seed=self.seed, save="",
            load=self.checkpoint if self.epochs_done else "",
            progress=False, patience=0, **self._settings)
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
                        cache_dir=self._settings["cache_dir"] or None)
        if self.epochs_done:
            model.load_weights(self.checkpoint)
        return model


def _stderr_is_tty():
    import sys
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
