"""The kiln Python package against independent references: NumPy, PyTorch
and the kiln CLI. Run by ctest (`python`) with PYTHONPATH=build/python."""

import os
import subprocess
import tempfile

import numpy as np
import pytest

import kiln

DENSE = """
func.func @main(%x: tensor<4x6xf32> {kiln.name = "x"}, %w: tensor<5x6xf32> {kiln.name = "w"}, %b: tensor<5xf32> {kiln.name = "b"}) -> (tensor<4x5xf32> {kiln.name = "y"}, tensor<4x5xf32> {kiln.name = "z"}) {
  %d = kiln.dense %x, %w, %b : (tensor<4x6xf32>, tensor<5x6xf32>, tensor<5xf32>) -> tensor<4x5xf32>
  %r = kiln.relu %d : (tensor<4x5xf32>) -> tensor<4x5xf32>
  %s = kiln.sigmoid %d : (tensor<4x5xf32>) -> tensor<4x5xf32>
  return %r, %s : tensor<4x5xf32>, tensor<4x5xf32>
}
"""


def rng_arrays(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-1, 1, s).astype(np.float32) for s in shapes]


def test_mlir_text_matches_numpy():
    model = kiln.compile(DENSE)
    assert [i["name"] for i in model.inputs] == ["x", "w", "b"]
    assert model.outputs[0]["shape"] == (4, 5)
    x, w, b = rng_arrays(1, (4, 6), (5, 6), (5,))
    d = x.astype(np.float64) @ w.T.astype(np.float64) + b
    # Positional, then by name, in any order; float64 inputs are converted.
    out = model(x, b=b.astype(np.float64), w=w)
    np.testing.assert_allclose(out["y"], np.maximum(d, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["z"], 1 / (1 + np.exp(-d)), rtol=1e-5,
                               atol=1e-6)
    assert out["y"].dtype == np.float32


def test_opencl_target_matches_numpy(tmp_path):
    # The same model on OpenCL (PoCL in CI: docs/gpu.md), with the caller's
    # input arrays and output arrays: the session copies to and from the
    # device.
    model = kiln.compile(DENSE, target="host-opencl",
                         cache_dir=os.environ.get("KILN_GPU_CACHE_DIR"))
    x, w, b = rng_arrays(2, (4, 6), (5, 6), (5,))
    d = x.astype(np.float64) @ w.T.astype(np.float64) + b
    y = np.empty((4, 5), np.float32)
    out = model(x, w, b, out={"y": y})
    assert out["y"] is y
    np.testing.assert_allclose(y, np.maximum(d, 0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["z"], 1 / (1 + np.exp(-d)), rtol=1e-5,
                               atol=1e-6)


def test_inputs_read_in_place_or_converted():
    """float32 C-contiguous arrays are read in place (bound for the run,
    unbound after it), others converted; both give the same results, and no
    binding outlives the call."""
    model = kiln.compile(DENSE)
    x, w, b = rng_arrays(4, (4, 6), (5, 6), (5,))
    bound = model(x, w, b)
    wide = np.zeros((4, 12), np.float32)
    wide[:, ::2] = x
    converted = model(wide[:, ::2], w.astype(np.float64), b.tolist())
    np.testing.assert_array_equal(bound["y"], converted["y"])
    np.testing.assert_array_equal(bound["z"], converted["z"])
    assert model.input_address("x") != x.ctypes.data
    with pytest.raises(kiln.Error, match="input 'b' is missing"):
        model(x, w)
    assert model.input_address("x") != x.ctypes.data


def test_bad_inputs_raise_kiln_error():
    model = kiln.compile(DENSE)
    x, w, b = rng_arrays(2, (4, 6), (5, 6), (5,))
    with pytest.raises(kiln.Error, match=r"input 'x': expected 4x6xf32, got 3x6xf32"):
        model(x[:3], w, b)
    with pytest.raises(kiln.Error, match="input 'b' is missing"):
        model(x, w)
    with pytest.raises(kiln.Error, match="no input 'bias'"):
        model(x, w, bias=b)
    with pytest.raises(kiln.Error, match="input 'w' given twice"):
        model(x, w, b, w=w)


IDS = """
func.func @main(%i: tensor<4xi32> {kiln.name = "i"}) -> (tensor<4xf32> {kiln.name = "y"}) {
  %c = kiln.cast %i : (tensor<4xi32>) -> tensor<4xf32>
  return %c : tensor<4xf32>
}
"""


def test_integer_inputs_are_checked():
    """An i32 input takes any integer array whose values it holds, and
    integral floats; wider values, fractions and NaN are an error naming
    the input, never wrapped or truncated."""
    model = kiln.compile(IDS)
    for array in (np.array([1, -2, 300, 7], np.int64),
                  np.array([1, 255, 3, 0], np.uint8),
                  np.array([-30000, 2, 3, 4], np.int16),
                  np.array([2.0, -1.0, 0.0, 5.0])):
        np.testing.assert_array_equal(model(array)["y"],
                                      array.astype(np.float32))
    with pytest.raises(kiln.Error, match=r"input 'i' holds 4294967296, "
                                         r"which an i32 input cannot hold"):
        model(np.array([1, 2, 3, 2**32], np.int64))
    with pytest.raises(kiln.Error, match="input 'i' holds 4294967295"):
        model(np.array([0, 1, 2, 2**32 - 1], np.uint32))
    with pytest.raises(kiln.Error, match="input 'i' holds fractional values"):
        model(np.array([0.5, 1, 2, 3]))
    with pytest.raises(kiln.Error, match="input 'i' holds nan"):
        model(np.array([np.nan, 1, 2, 3]))


def test_bad_model_raises_kiln_error():
    with pytest.raises(kiln.Error, match="no_such_model.onnx"):
        kiln.compile("/nonexistent/no_such_model.onnx")
    with pytest.raises(kiln.Error, match="kiln.relu"):
        kiln.compile("func.func @main(%x: tensor<2xf32>) -> tensor<3xf32> {\n"
                     "  %r = kiln.relu %x : (tensor<2xf32>) -> tensor<3xf32>\n"
                     "  return %r : tensor<3xf32>\n}\n")


def small_cnn():
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        # Strided, 16 input and 32 output channels: kiln packs its weight.
        torch.nn.Conv2d(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
        torch.nn.Linear(32, 10))
    with torch.no_grad():
        bn = net[1]
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
    return net.eval()


def test_torch_module_matches_pytorch():
    import torch
    net = small_cnn()
    x = torch.randn(2, 3, 20, 20)
    model = kiln.compile(net, x)
    got = model.run1(x.numpy())
    want = net(x).detach().numpy()
    assert got.shape == (2, 10)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    # batch= recompiles the same module for another batch size.
    model4 = kiln.compile(net, x, batch=4)
    x4 = torch.randn(4, 3, 20, 20)
    np.testing.assert_allclose(model4.run1(x4.numpy()),
                               net(x4).detach().numpy(), rtol=1e-4, atol=1e-5)


def test_torchvision_resnet18_matches_pytorch():
    import torch
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.resnet18().eval()
    x = torch.randn(1, 3, 224, 224)
    got = kiln.compile(net, x).run1(x.numpy())
    want = net(x).detach().numpy()
    scale = np.abs(want).max()
    assert np.abs(got - want).max() <= 1e-4 * scale


def test_matches_the_cli():
    """The same model through `kiln run` gives the same numbers."""
    binary = os.environ.get("KILN_BIN")
    if not binary:
        pytest.skip("KILN_BIN not set (ctest sets it)")
    model = kiln.compile(DENSE)
    x, w, b = rng_arrays(3, (4, 6), (5, 6), (5,))
    out = model(x, w, b)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "dense.mlir")
        with open(path, "w") as f:
            f.write(DENSE)
        for name, value in (("x", x), ("w", w), ("b", b)):
            np.save(os.path.join(d, name + ".npy"), value)
        subprocess.run([binary, "run", path, "--input", "x=" + d + "/x.npy",
                        "--input", "w=" + d + "/w.npy", "--input",
                        "b=" + d + "/b.npy", "--output", d + "/out"],
                       check=True, capture_output=True)
        for name in ("y", "z"):
            np.testing.assert_array_equal(
                out[name], np.load(os.path.join(d, "out", name + ".npy")))


HEAD = """
func.func @main(%x: tensor<8x32x96x96xf32> {kiln.name = "x"}, %wd: tensor<32x1x3x3xf32> {kiln.name = "wd"}, %wp: tensor<1x32x1x1xf32> {kiln.name = "wp"}) -> (tensor<8x1x1x1xf32> {kiln.name = "y"}) {
  %d = kiln.conv2d %x, %wd {groups = 32 : i64, pads = array<i64: 1, 1, 1, 1>} : (tensor<8x32x96x96xf32>, tensor<32x1x3x3xf32>) -> tensor<8x32x96x96xf32>
  %p = kiln.conv2d %d, %wp : (tensor<8x32x96x96xf32>, tensor<1x32x1x1xf32>) -> tensor<8x1x96x96xf32>
  %g = kiln.global_avg_pool %p : (tensor<8x1x96x96xf32>) -> tensor<8x1x1x1xf32>
  return %g : tensor<8x1x1x1xf32>
}
"""


def test_batch_split_matches_numpy():
    """A depthwise conv of 9.4 MB at batch 8 is split image by image
    (kiln-split-batch): the same numbers as the whole batch and NumPy."""
    x, wd, wp = rng_arrays(4, (8, 32, 96, 96), (32, 1, 3, 3), (1, 32, 1, 1))
    split = kiln.compile(HEAD)
    whole = kiln.compile(HEAD, batch_split=False)
    assert "kiln-split-batch" in split.pipeline
    assert "kiln-split-batch" not in whole.pipeline
    got = split(x, wd, wp)["y"]
    np.testing.assert_array_equal(got, whole(x, wd, wp)["y"])
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    d = sum(xp[:, :, i:i + 96, j:j + 96] * wd[None, :, 0, i, j, None, None]
            for i in range(3) for j in range(3))
    want = np.einsum("nchw,c->n", d, wp[0, :, 0, 0].astype(np.float64))
    np.testing.assert_allclose(got.reshape(8), want / (96 * 96), rtol=1e-5,
                               atol=1e-6)


def test_parameters_round_trip(tmp_path):
    net = small_cnn()
    import torch
    x = torch.randn(1, 3, 20, 20)
    model = kiln.compile(net, x)
    names = [p["name"] for p in model.parameters]
    assert names
    first = names[0]
    value = model.parameter(first)
    path = tmp_path / "weights.safetensors"
    model.save_weights(path)
    model.set_parameter(first, np.zeros_like(value))
    assert not model.parameter(first).any()
    assert model.load_weights(path) == []
    np.testing.assert_array_equal(model.parameter(first), value)
    with pytest.raises(kiln.Error, match="no parameter 'nope'"):
        model.set_parameter("nope", value)

    # A file with the first parameter only: the others are named, with a
    # warning (safetensors written by hand: 8-byte header size, JSON, data).
    import json
    import struct
    data = np.ascontiguousarray(value, dtype=np.float32).tobytes()
    header = json.dumps({first: {"dtype": "F32", "shape": list(value.shape),
                                 "data_offsets": [0, len(data)]}}).encode()
    partial = tmp_path / "partial.safetensors"
    partial.write_bytes(struct.pack("<Q", len(header)) + header + data)
    with pytest.warns(UserWarning, match=f"lacks {len(names) - 1} of the model's parameters"):
        absent = model.load_weights(partial)
    assert absent == sorted(names[1:])


def test_bench_reports_times():
    model = kiln.compile(DENSE)
    result = model.bench(runs=5)
    assert result["runs"] == 5
    assert 0 < result["min_ms"] <= result["median_ms"]
    with pytest.raises(kiln.Error, match="runs must be >= 1"):
        model.bench(runs=0)


def test_trainer_fits_fashion_mnist():
    """Five epochs of the example CNN (two fits: the second continues from
    the first's checkpoint) reach 0.90 test accuracy, and the trained
    weights give that accuracy through kiln.compile, counted here."""
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    (x, y), (x_test, y_test) = kiln.load_data("fashion-mnist")
    assert x.shape == (60000, 1, 28, 28) and y.dtype == np.int32
    trainer = kiln.Trainer(os.path.join(root, "examples", "cnn.mlir"),
                           optimizer="adam")
    first = trainer.fit(x, y, epochs=2, batch_size=64, test=(x_test, y_test),
                        progress=False)
    second = trainer.fit(x, y, epochs=3, batch_size=64, test=(x_test, y_test),
                         progress=False)
    assert len(first["loss"]) == 2 and len(second["loss"]) == 3
    assert trainer.epochs_done == 5
    assert second["loss"][-1] < first["loss"][0]
    assert second["test_accuracy"][-1] >= 0.90
    model = trainer.model(batch=1000)
    correct = 0
    for i in range(0, len(x_test), 1000):
        logits = model.run1(x_test[i:i + 1000])
        correct += int((logits.argmax(axis=1) == y_test[i:i + 1000]).sum())
    assert abs(correct / len(x_test) - second["test_accuracy"][-1]) < 1e-3
    # predict (batches of 3000 and a remainder of 1000) and evaluate agree.
    logits = trainer.predict(x_test, batch_size=3000)
    assert logits.shape == (10000, 10)
    assert (logits.argmax(axis=1) == y_test).sum() == correct
    scores = trainer.evaluate(x_test, y_test, batch_size=1000)
    assert scores["accuracy"] == pytest.approx(correct / len(x_test))
    assert scores["loss"] == pytest.approx(second["test_loss"][-1], rel=1e-5)


def test_outputs_into_caller_arrays():
    """out= writes the outputs into the caller's arrays (same objects
    returned), checked against NumPy; a wrong array is a kiln.Error."""
    model = kiln.compile(DENSE)
    x, w, b = rng_arrays(11, (4, 6), (5, 6), (5,))
    y = np.full((4, 5), np.nan, np.float32)
    result = model(x, w, b, out={"y": y})
    assert result["y"] is y
    np.testing.assert_allclose(y, np.maximum(x @ w.T + b, 0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(result["z"], 1 / (1 + np.exp(-(x @ w.T + b))),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(kiln.Error, match=r"out\['y'\] must be 4x5xf32"):
        model(x, w, b, out={"y": np.zeros((5, 4), np.float32)})
    with pytest.raises(kiln.Error, match=r"out\['y'\] must be 4x5xf32"):
        model(x, w, b, out={"y": np.zeros((4, 5), np.float64)})
    with pytest.raises(kiln.Error, match="C-contiguous and writeable"):
        model(x, w, b, out={"y": np.zeros((5, 4), np.float32).T})
    with pytest.raises(kiln.Error, match="no output 'q'"):
        model(x, w, b, out={"q": y})
    with pytest.raises(kiln.Error, match="give {name: array}"):
        model(x, w, b, out=y)


def fashion_subset(rows=2048):
    (x, y), (x_test, y_test) = kiln.load_data("fashion-mnist")
    return (x[:rows], y[:rows]), (x_test[:1024], y_test[:1024])


def examples_path(name):
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))))
    return os.path.join(root, "examples", name)


def test_callbacks_run_the_same_steps(tmp_path):
    """With callbacks the epochs run one call each, resuming from the
    checkpoint: the losses equal one two-epoch call's."""
    (x, y), test = fashion_subset()
    plain = kiln.Trainer(examples_path("mlp.mlir"), optimizer="adam",
                         checkpoint=tmp_path / "a.safetensors")
    one = plain.fit(x, y, epochs=2, batch_size=64, test=test, progress=False)
    stepped = kiln.Trainer(examples_path("mlp.mlir"), optimizer="adam",
                           checkpoint=tmp_path / "b.safetensors")
    seen = []

    class Record(kiln.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append((epoch, logs["loss"]))

    two = stepped.fit(x, y, epochs=2, batch_size=64, test=test,
                      callbacks=[Record()], progress=False)
    assert seen == [(0, two["loss"][0]), (1, two["loss"][1])]
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-6)
    np.testing.assert_allclose(two["test_loss"], one["test_loss"], rtol=1e-6)
    assert two["steps"] == one["steps"] and stepped.epochs_done == 2


def test_scheduler_early_stopping_and_checkpoints(tmp_path):
    (x, y), test = fashion_subset()
    trainer = kiln.Trainer(examples_path("mlp.mlir"), optimizer="sgd",
                           checkpoint=tmp_path / "run.safetensors")
    stop = kiln.EarlyStopping(monitor="test_loss", min_delta=1e9,
                              restore_best_weights=True)
    history = trainer.fit(
        x, y, epochs=4, batch_size=64, test=test, progress=False,
        callbacks=[kiln.LearningRateScheduler(lambda e, lr: 0.02 * 0.5 ** e),
                   kiln.ModelCheckpoint(tmp_path / "ckpt-{epoch}.safetensors",
                                        monitor="test_loss"),
                   stop])
    # The first epoch sets the best; no later one improves by 1e9: stop
    # after the second, with the first epoch's weights back.
    assert history["lr"] == [0.02, 0.01]
    assert len(history["loss"]) == 2 and history["stopped_early"]
    assert stop.stopped_epoch == 1
    assert sorted(os.listdir(tmp_path)) == [
        "ckpt-1.safetensors", "ckpt-2.safetensors", "run.safetensors"]
    first = kiln.read_safetensors(tmp_path / "ckpt-1.safetensors")
    restored = trainer.state_dict()
    for name, value in restored.items():
        np.testing.assert_array_equal(value, first[name])
    scores = trainer.evaluate(*test, batch_size=64)
    assert scores["loss"] == pytest.approx(history["test_loss"][0], rel=1e-5)
    # load() resumes a saved checkpoint's progress.
    other = kiln.Trainer(examples_path("mlp.mlir"), optimizer="sgd",
                         checkpoint=tmp_path / "other.safetensors")
    other.load(tmp_path / "ckpt-2.safetensors")
    assert other.epochs_done == 2
    with pytest.raises(kiln.Error, match="lr must be finite and > 0"):
        trainer.lr = float("nan")
    with pytest.raises(kiln.Error, match="no 'val_loss'"):
        trainer.fit(x, y, epochs=1, batch_size=64, progress=False,
                    callbacks=[kiln.EarlyStopping()])


def test_state_dict_moves_weights_both_ways():
    """A torch module's state_dict goes into the Trainer and back under
    PyTorch's names; the inference model then matches the module."""
    import torch
    net = small_cnn()
    x = torch.randn(2, 3, 20, 20)
    trainer = kiln.Trainer(net, x)
    theirs = {k: v for k, v in net.state_dict().items()
              if not k.endswith("num_batches_tracked")}
    ours = trainer.state_dict()
    assert set(ours) == set(theirs)
    trainer.load_state_dict(theirs)
    with torch.no_grad():
        expected = net(x).numpy()
    got = trainer.model(batch=2).run1(x.numpy())
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    back = small_cnn()
    with torch.no_grad():
        for p in back.parameters():
            p.zero_()
    missing = back.load_state_dict(
        {k: torch.from_numpy(v) for k, v in trainer.state_dict().items()},
        strict=False)
    assert all(k.endswith("num_batches_tracked") for k in missing.missing_keys)
    with torch.no_grad():
        np.testing.assert_allclose(back.eval()(x).numpy(), expected,
                                   rtol=1e-5, atol=1e-6)
    with pytest.raises(kiln.Error, match="no parameter 'nope'"):
        trainer.load_state_dict(dict(theirs, nope=np.zeros(1)))
    with pytest.raises(kiln.Error, match="missing"):
        trainer.load_state_dict({"0.weight": theirs["0.weight"]})


def test_inspect_memory_and_kernel_dumps(tmp_path):
    """Model.inspect(), memory() and dump_kernels() report this model: its
    ops and names, a memory plan that holds its buffers, and one .stmt
    and one assembly file per kernel; the memory plan is `kiln inspect
    --memory --json`'s."""
    model = kiln.compile(DENSE)
    info = model.inspect()
    assert info["inputs"] == ["x", "w", "b"] and info["outputs"] == ["y", "z"]
    ops = [op["op"] for op in info["ops"]]
    assert "kiln.dense" in ops and "kiln.sigmoid" in ops
    assert "kiln.dense" in info["ir"]
    plan = model.memory()
    shapes = [b["shape"] for b in plan["buffers"]]
    assert [4, 5] in shapes
    assert plan["naive_bytes"] >= plan["arena_bytes"] >= plan["peak_live_bytes"]
    assert plan["peak_live_bytes"] >= 4 * 5 * 4
    files = model.dump_kernels(tmp_path / "dump")
    stmts = [f for f in files if f.endswith(".stmt")]
    assert stmts and len([f for f in files if f.endswith(".s")]) == len(stmts)
    assert "produce" in (tmp_path / "dump" / stmts[0]).read_text()
    binary = os.environ.get("KILN_BIN")
    if binary:
        path = tmp_path / "dense.mlir"
        path.write_text(DENSE)
        cli = subprocess.run([binary, "inspect", str(path), "--memory",
                              "--json"], check=True, capture_output=True,
                             text=True).stdout
        import json
        assert json.loads(cli)["arena_bytes"] == plan["arena_bytes"]


def test_sequential_matches_pytorch():
    """kiln.Sequential builds the same network as torch.nn.Sequential:
    PyTorch's weights under kiln's layer names give PyTorch's outputs."""
    import torch
    from kiln import layers as L
    net = kiln.Sequential([
        L.Conv2D(4, 3, padding=1), L.BatchNorm(), L.ReLU(), L.MaxPool2D(2),
        L.Conv2D(6, 3, strides=2, padding="valid", use_bias=False), L.GELU(),
        L.AvgPool2D(2, strides=1, padding=1, count_include_pad=False),
        L.Flatten(), L.Dense(5), L.LogSoftmax(axis=1),
    ], input_shape=(2, 3, 12, 12), input_name="image", output_name="logp")
    torch.manual_seed(1)
    ref = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Conv2d(4, 6, 3, stride=2, bias=False), torch.nn.GELU(),
        torch.nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False),
        torch.nn.Flatten(), torch.nn.Linear(6 * 3 * 3, 5),
        torch.nn.LogSoftmax(dim=1)).eval()
    with torch.no_grad():
        ref[1].running_mean.uniform_(-0.5, 0.5)
        ref[1].running_var.uniform_(0.5, 2.0)
        ref[1].weight.uniform_(0.5, 1.5)
    names = {"conv1": ref[0], "bn1": ref[1], "conv2": ref[4], "fc1": ref[8]}
    model = kiln.compile(net)
    assert {p["name"] for p in model.parameters} == {
        "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias",
        "bn1.running_mean", "bn1.running_var", "conv2.weight", "fc1.weight",
        "fc1.bias"}
    for p in model.parameters:
        layer, field = p["name"].split(".")
        model.set_parameter(p["name"],
                            getattr(names[layer], field).detach().numpy())
    x = torch.randn(2, 3, 12, 12)
    with torch.no_grad():
        want = ref(x).numpy()
    got = model(image=x.numpy())["logp"]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_functional_graph_and_errors():
    """kiln.Graph: branches, a residual add, concat; compared with NumPy.
    Shape errors are kiln.Errors naming the op; a failed layer leaves the
    graph usable."""
    from kiln import layers as L
    g = kiln.Graph()
    x = g.input("x", (3, 8))
    a = L.Dense(8, name="a")(x)
    y = L.ReLU()(a) + x
    z = L.concat([y, L.Sigmoid()(x)], axis=1)
    assert z.shape == (3, 16)
    with pytest.raises(kiln.Error, match="add"):
        _ = y + z  # [3, 8] + [3, 16]
    g.output("z", z)
    model = kiln.compile(g)
    w, b = rng_arrays(5, (8, 8), (8,))
    model.set_parameter("a.weight", w)
    model.set_parameter("a.bias", b)
    (xv,) = rng_arrays(6, (3, 8))
    got = model.run1(xv)
    want = np.concatenate([np.maximum(xv @ w.T + b, 0) + xv,
                           1 / (1 + np.exp(-xv))], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    with pytest.raises(kiln.Error, match="conv2d"):
        kiln.Sequential([L.Conv2D(4, 3, groups=3)],
                        input_shape=(1, 4, 8, 8)).to_mlir()
    with pytest.raises(kiln.Error, match="padding='same' needs stride 1"):
        L.Conv2D(4, 3, strides=2, padding="same")
    with pytest.raises(kiln.Error, match="kiln.layers objects"):
        kiln.Sequential([lambda t: t], input_shape=(1, 4))


def test_trainer_fits_a_sequential(tmp_path):
    from kiln import layers as L
    (x, y), test = fashion_subset()
    net = kiln.Sequential([L.Flatten(), L.Dense(64), L.ReLU(), L.Dense(10)],
                          input_shape=(1, 1, 28, 28))
    trainer = kiln.Trainer(net, optimizer="adam",
                           checkpoint=tmp_path / "seq.safetensors")
    history = trainer.fit(x, y, epochs=2, batch_size=64, test=test,
                          progress=False)
    assert history["loss"][1] < history["loss"][0]
    assert history["test_accuracy"][-1] > 0.6
    assert set(trainer.state_dict()) == {"fc1.weight", "fc1.bias",
                                         "fc2.weight", "fc2.bias"}


def test_trainer_regularizers_and_metrics(tmp_path):
    """An L2 penalty shrinks the trained weights against the same run
    without it; metrics chooses the history's keys."""
    (x, y), test = fashion_subset()

    def run(name, **kw):
        trainer = kiln.Trainer(examples_path("mlp.mlir"), optimizer="sgd",
                               checkpoint=tmp_path / name, **kw)
        history = trainer.fit(x, y, epochs=1, batch_size=64, progress=False)
        weights = trainer.state_dict()
        return history, sum(float((v ** 2).sum()) for k, v in weights.items()
                            if v.ndim >= 2)

    plain, plain_norm = run("a.safetensors")
    shrunk, shrunk_norm = run("b.safetensors", regularizers={"l2": 0.5},
                              metrics=["loss"])
    assert shrunk_norm < 0.9 * plain_norm
    assert shrunk["loss"][0] > plain["loss"][0]  # the penalty is in the loss
    assert "accuracy" in plain and "accuracy" not in shrunk
    with pytest.raises(kiln.Error, match="metrics: unknown 'auc'"):
        kiln.Trainer(examples_path("mlp.mlir"), metrics=["auc"])
    with pytest.raises(kiln.Error, match="regularizers"):
        kiln.Trainer(examples_path("mlp.mlir"), regularizers={"l3": 1.0})


def test_train_step_takes_fits_steps(tmp_path):
    """train_step on the batches a fit without shuffling takes gives the
    fit's weights (same step count, seeds, learning rate and optimizer
    state); kiln.optim objects set the optimizer."""
    (x, y), _ = fashion_subset(256)
    opt = kiln.optim.Adam(lr=2e-3, betas=(0.8, 0.99))
    fitted = kiln.Trainer(examples_path("mlp.mlir"), optimizer=opt,
                          checkpoint=tmp_path / "fit.safetensors")
    fitted.fit(x, y, epochs=1, batch_size=64, shuffle=False, progress=False)
    stepped = kiln.Trainer(examples_path("mlp.mlir"), optimizer=opt,
                           checkpoint=tmp_path / "steps.safetensors")
    losses = [stepped.train_step(x[i:i + 64], y[i:i + 64])
              for i in range(0, 256, 64)]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    want, got = fitted.state_dict(), stepped.state_dict()
    assert set(want) == set(got)
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5,
                                   atol=1e-7)
    # A step at another batch size continues from the steps before it: the
    # first session's weights reach the checkpoint first, whether or not
    # something read them in between (state_dict above did, here nothing).
    stepped.train_step(x[:32], y[:32])
    direct = kiln.Trainer(examples_path("mlp.mlir"), optimizer=opt,
                          checkpoint=tmp_path / "direct.safetensors")
    for i in range(0, 256, 64):
        direct.train_step(x[i:i + 64], y[i:i + 64])
    direct.train_step(x[:32], y[:32])
    theirs = direct.state_dict()
    for name, value in stepped.state_dict().items():
        np.testing.assert_allclose(theirs[name], value, rtol=1e-6, atol=1e-7)
    # A second epoch of fit continues after the steps.
    history = stepped.fit(x, y, epochs=1, batch_size=64, progress=False)
    assert len(history["loss"]) == 1
    with pytest.raises(kiln.Error, match="to the kiln.optim object"):
        kiln.Trainer(examples_path("mlp.mlir"), optimizer=opt, lr=0.1)
    with pytest.raises(kiln.Error, match="same number of rows"):
        stepped.train_step(x[:4], y[:3])


CHAIN = """
func.func @main(%x: tensor<4x6xf32> {kiln.name = "x"}, %w: tensor<5x6xf32> {kiln.name = "w"}) -> (tensor<4x5xf32> {kiln.name = "y"}) {
  %d = kiln.dense %x, %w : (tensor<4x6xf32>, tensor<5x6xf32>) -> tensor<4x5xf32>
  %r = kiln.relu %d : (tensor<4x5xf32>) -> tensor<4x5xf32>
  %s = kiln.sigmoid %r : (tensor<4x5xf32>) -> tensor<4x5xf32>
  return %s : tensor<4x5xf32>
}
"""


def test_fuse_switches_match_unfused():
    """fuse={...} turns kiln-fuse's patterns off one by one: more kernel
    calls, the same numbers (NumPy); an unknown pattern is an error."""
    x, w = rng_arrays(8, (4, 6), (5, 6))
    want = 1 / (1 + np.exp(-np.maximum(x @ w.T, 0)))
    calls = {}
    for key, fuse in (("all", None), ("no epilogue", {"epilogue": False}),
                      ("none", {"epilogue": False, "elementwise": False})):
        model = kiln.compile(CHAIN, fuse=fuse)
        calls[key] = model.calls
        np.testing.assert_allclose(model.run1(x, w), want, rtol=1e-5,
                                   atol=1e-6)
    assert calls == {"all": 1, "no epilogue": 2, "none": 3}
    with pytest.raises(kiln.Error, match="unknown pattern 'loops'"):
        kiln.compile(CHAIN, fuse={"loops": False})


def test_blocked_layout_matches_pytorch():
    """layout="nchw16c" (the default) stores the intermediates between a
    strided conv, a depthwise conv, a 1x1 conv with a residual and the
    global pool channel-blocked (docs/layout.md); both layouts match
    PyTorch, and only the default runs kiln-layout."""
    import torch

    class Block(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.down = torch.nn.Conv2d(16, 32, 3, stride=2, padding=1)
            self.dw = torch.nn.Conv2d(32, 32, 3, padding=1, groups=32)
            self.pw = torch.nn.Conv2d(32, 32, 1)
            self.head = torch.nn.Linear(32, 10)

        def forward(self, x):
            a = torch.relu(self.down(x))
            b = torch.nn.functional.relu6(self.dw(a))
            c = torch.relu(self.pw(b) + a)
            return self.head(c.mean((2, 3)))

    torch.manual_seed(3)
    net = Block().eval()
    x = torch.randn(2, 16, 14, 14)
    want = net(x).detach().numpy()
    for layout in ("nchw16c", "nchw"):
        model = kiln.compile(net, x, layout=layout)
        np.testing.assert_allclose(model.run1(x.numpy()), want, rtol=1e-4,
                                   atol=1e-5)
        # The pass runs where weights are packed by 16 (AVX-512 hosts).
        avx512 = "avx512f" in open("/proc/cpuinfo").read()
        assert ("kiln-layout" in model.pipeline) == (
            layout == "nchw16c" and avx512)
    with pytest.raises(kiln.Error, match="unknown layout 'nhwc'"):
        kiln.compile(net, x, layout="nhwc")


def test_autoscheduled_model_matches_pytorch():
    """schedule="auto:Mullapudi2016" has Halide's autoscheduler schedule
    every kernel of a small CNN (conv + BN + ReLU, pool, dense) in place of
    kiln's hand schedules (docs/codegen.md); the result still matches
    PyTorch, and an unknown schedule is refused by name."""
    import torch

    torch.manual_seed(5)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
        torch.nn.Linear(8 * 5 * 5, 10)).eval()
    x = torch.randn(2, 3, 10, 10)
    want = net(x).detach().numpy()
    model = kiln.compile(net, x, schedule="auto:Mullapudi2016")
    np.testing.assert_allclose(model.run1(x.numpy()), want, rtol=1e-4,
                               atol=1e-5)
    with pytest.raises(kiln.Error, match="unknown schedule 'auto:Fast'"):
        kiln.compile(net, x, schedule="auto:Fast")
