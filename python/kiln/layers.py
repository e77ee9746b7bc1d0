"""Building kiln graphs in Python: `kiln.Sequential` and the functional
`kiln.Graph`, over the C++ builder (frontend/Builder.h), so shapes are
inferred and checked by the dialect itself and a mistake is a `kiln.Error`
naming the op.

    net = kiln.Sequential([
        kiln.layers.Conv2D(16, 3, padding=1), kiln.layers.BatchNorm(),
        kiln.layers.ReLU(), kiln.layers.MaxPool2D(2),
        kiln.layers.Flatten(), kiln.layers.Dense(10),
    ], input_shape=(1, 1, 28, 28))
    model = kiln.compile(net)          # or kiln.Trainer(net, ...)

    g = kiln.Graph()
    x = g.input("image", (1, 1, 28, 28))
    h = kiln.layers.Conv2D(8, 3, padding=1)(x)
    y = kiln.layers.ReLU()(h) + h      # residual: Tensor arithmetic
    g.output("out", y)

Layers with parameters are named as the C++ Sequential names them,
`<kind><n>` per graph (conv1, bn1, ln1, fc1, prelu1), unless given a
`name`; their parameters are `<name>.weight`, `<name>.bias`, ... with
PyTorch's default initialization. Shapes include the batch dimension
(`kiln.compile(batch=)` and the Trainer change it). docs/python.md.
"""

from . import _kiln

__all__ = [
    "AvgPool2D", "BatchNorm", "Conv2D", "Dense", "Dropout", "ELU", "Flatten",
    "GELU", "GlobalAvgPool2D", "Graph", "Layer", "LayerNorm", "LeakyReLU",
    "LogSoftmax", "MaxPool2D", "Mish", "PReLU", "ReLU", "ReLU6", "Reshape",
    "SELU", "Sequential", "SiLU", "Sigmoid", "Softmax", "Softplus", "Tanh",
    "Tensor", "add", "concat", "div", "mul", "sub",
]


class Tensor:
    """A value of a Graph under construction (NumPy-style `+ - * /`)."""

    def __init__(self, graph, index):
        self.graph, self.index = graph, index

    @property
    def shape(self):
        return tuple(self.graph._builder.shape(self.index))

    def _binary(self, kind, other):
        if not isinstance(other, Tensor) or other.graph is not self.graph:
            raise _kiln.Error("%s: both operands must be tensors of one graph"
                              % kind)
        return Tensor(self.graph,
                      self.graph._builder.binary(kind, self.index, other.index))

    def __add__(self, other):
        return self._binary("add", other)

    def __sub__(self, other):
        return self._binary("sub", other)

    def __mul__(self, other):
        return self._binary("mul", other)

    def __truediv__(self, other):
        return self._binary("div", other)

    def __repr__(self):
        return "kiln.Tensor(shape=%s)" % (self.shape,)


def add(a, b):
    return a + b


def sub(a, b):
    return a - b


def mul(a, b):
    return a * b


def div(a, b):
    return a / b


def concat(tensors, axis=1):
    tensors = list(tensors)
    if not tensors:
        raise _kiln.Error("concat: no tensors")
    graph = tensors[0].graph
    return Tensor(graph, graph._builder.concat([t.index for t in tensors],
                                               axis))


class Graph:
    """A graph in the functional style: `input`, layers called on tensors,
    `output`; `to_mlir()` is its kiln dialect text (what kiln.compile and
    kiln.Trainer take)."""

    def __init__(self):
        self._builder = _kiln.GraphBuilder()
        self._counts = {}
        self._text = None

    def input(self, name, shape, dtype="float32"):
        return Tensor(self, self._builder.input(name, list(shape), dtype))

    def output(self, name, tensor):
        if self._text is not None:
            raise _kiln.Error("the graph was already finished (to_mlir)")
        self._builder.output(name, tensor.index)

    def to_mlir(self):
        """The module's text; the graph takes no more ops afterwards."""
        if self._text is None:
            self._text = self._builder.finish()
        return self._text

    def _name(self, layer):
        if layer.name:
            return layer.name
        self._counts[layer.kind] = self._counts.get(layer.kind, 0) + 1
        return "%s%d" % (layer.kind, self._counts[layer.kind])


class Layer:
    """A layer: `layer(tensor)` adds it to the tensor's graph."""

    kind = None  # the name prefix of layers with parameters

    def __init__(self, name=None):
        self.name = name

    def __call__(self, tensor):
        graph = tensor.graph
        name = graph._name(self) if self.kind else None
        return Tensor(graph, self.build(graph._builder, tensor.index, name))

    def build(self, builder, x, name):
        raise NotImplementedError


def _pair(value, what):
    if isinstance(value, int):
        return [value, value]
    value = list(value)
    if len(value) != 2:
        raise _kiln.Error("%s must be an int or a pair, got %r" % (what, value))
    return value


def _pads(padding, kernel, strides, dilation, what):
    """top, left, bottom, right from an int, a pair (height, width), four
    ints, "valid" or "same" (stride 1: the output keeps the input's
    size)."""
    if padding == "valid":
        return [0, 0, 0, 0]
    if padding == "same":
        if any(s != 1 for s in strides):
            raise _kiln.Error("%s: padding='same' needs stride 1" % what)
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return [total[0] // 2, total[1] // 2, total[0] - total[0] // 2,
                total[1] - total[1] // 2]
    if isinstance(padding, int):
        return [padding] * 4
    padding = list(padding)
    if len(padding) == 2:
        return padding + padding
    if len(padding) == 4:
        return padding
    raise _kiln.Error("%s: padding must be an int, a pair, four ints, "
                      "'valid' or 'same', got %r" % (what, padding))


class Dense(Layer):
    """`units` outputs from the last dim: x @ weight.T + bias (nn.Linear)."""

    kind = "fc"

    def __init__(self, units, use_bias=True, name=None):
        super().__init__(name)
        self.units, self.use_bias = units, use_bias

    def build(self, builder, x, name):
        return builder.dense(x, self.units, name, self.use_bias)


class Conv2D(Layer):
    """nn.Conv2d over NCHW: `filters` output channels, `kernel_size`,
    `strides`, `padding` (an int, a pair, four ints top/left/bottom/right,
    "valid" or "same"), `dilation`, `groups`, `padding_mode` (zeros,
    replicate, reflect)."""

    kind = "conv"

    def __init__(self, filters, kernel_size, strides=1, padding=0,
                 dilation=1, groups=1, use_bias=True, padding_mode="zeros",
                 name=None):
        super().__init__(name)
        self.filters = filters
        self.kernel = _pair(kernel_size, "Conv2D kernel_size")
        self.strides = _pair(strides, "Conv2D strides")
        self.dilation = _pair(dilation, "Conv2D dilation")
        self.pads = _pads(padding, self.kernel, self.strides, self.dilation,
                          "Conv2D")
        self.groups, self.use_bias = groups, use_bias
        self.padding_mode = padding_mode

    def build(self, builder, x, name):
        return builder.conv2d(x, self.filters, self.kernel, self.strides,
                              self.pads, self.dilation, self.groups,
                              self.use_bias, self.padding_mode, name)


class BatchNorm(Layer):
    """nn.BatchNorm2d (or 1d) over dim 1: weight, bias, running statistics;
    batch statistics when training."""

    kind = "bn"

    def __init__(self, epsilon=1e-5, momentum=0.1, name=None):
        super().__init__(name)
        self.epsilon, self.momentum = epsilon, momentum

    def build(self, builder, x, name):
        return builder.batch_norm(x, name, self.epsilon, self.momentum)


class LayerNorm(Layer):
    kind = "ln"

    def __init__(self, axis=-1, epsilon=1e-5, name=None):
        super().__init__(name)
        self.axis, self.epsilon = axis, epsilon

    def build(self, builder, x, name):
        return builder.layer_norm(x, name, self.axis, self.epsilon)


class PReLU(Layer):
    kind = "prelu"

    def __init__(self, channels=1, name=None):
        super().__init__(name)
        self.channels = channels

    def build(self, builder, x, name):
        return builder.prelu(x, name, self.channels)


class _Activation(Layer):
    op = None

    def __init__(self, a=0.0, b=0.0, approximate="none"):
        super().__init__()
        self.a, self.b, self.approximate = a, b, approximate

    def build(self, builder, x, name):
        return builder.activation(x, self.op, self.a, self.b, self.approximate)


def _activation(class_name, op, doc):
    return type(class_name, (_Activation,), {"op": op, "__doc__": doc})


ReLU = _activation("ReLU", "relu", "max(x, 0)")
ReLU6 = _activation("ReLU6", "relu6", "min(max(x, 0), 6)")
Sigmoid = _activation("Sigmoid", "sigmoid", "1 / (1 + exp(-x))")
Tanh = _activation("Tanh", "tanh", "tanh(x)")
SELU = _activation("SELU", "selu", "PyTorch's SELU")
SiLU = _activation("SiLU", "silu", "x * sigmoid(x)")
Mish = _activation("Mish", "mish", "x * tanh(softplus(x))")


class LeakyReLU(_Activation):
    op = "leaky_relu"

    def __init__(self, alpha=0.01):
        super().__init__(alpha)


class ELU(_Activation):
    op = "elu"

    def __init__(self, alpha=1.0):
        super().__init__(alpha)


class Softplus(_Activation):
    op = "softplus"

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__(beta, threshold)


class GELU(_Activation):
    op = "gelu"

    def __init__(self, approximate="none"):
        super().__init__(approximate=approximate)


class Softmax(_Activation):
    op = "softmax"

    def __init__(self, axis=-1):
        super().__init__(axis)


class LogSoftmax(_Activation):
    op = "log_softmax"

    def __init__(self, axis=-1):
        super().__init__(axis)


class MaxPool2D(Layer):
    def __init__(self, pool_size, strides=None, padding=0, ceil_mode=False):
        super().__init__()
        self.kernel = _pair(pool_size, "MaxPool2D pool_size")
        self.strides = [] if strides is None else _pair(strides,
                                                        "MaxPool2D strides")
        self.pads = _pads(padding, self.kernel, self.strides or self.kernel,
                          [1, 1], "MaxPool2D")
        self.ceil_mode = ceil_mode

    def build(self, builder, x, name):
        return builder.max_pool2d(x, self.kernel, self.strides, self.pads,
                                  self.ceil_mode)


class AvgPool2D(MaxPool2D):
    def __init__(self, pool_size, strides=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__(pool_size, strides, padding, ceil_mode)
        self.count_include_pad = count_include_pad

    def build(self, builder, x, name):
        return builder.avg_pool2d(x, self.kernel, self.strides, self.pads,
                                  self.ceil_mode, self.count_include_pad)


class GlobalAvgPool2D(Layer):
    def build(self, builder, x, name):
        return builder.global_avg_pool(x)


class Flatten(Layer):
    def __init__(self, axis=1):
        super().__init__()
        self.axis = axis

    def build(self, builder, x, name):
        return builder.flatten(x, self.axis)


class Reshape(Layer):
    """ONNX's Reshape: 0 copies the input's dim, -1 is inferred."""

    def __init__(self, shape):
        super().__init__()
        self.shape = list(shape)

    def build(self, builder, x, name):
        return builder.reshape(x, self.shape)


class Dropout(Layer):
    def __init__(self, rate=0.5):
        super().__init__()
        self.rate = rate

    def build(self, builder, x, name):
        return builder.dropout(x, self.rate)


class Sequential:
    """Layers applied in turn to one input of `input_shape` (with the
    batch dimension): `to_mlir()` is the model's kiln dialect text, with
    input `input_name` and output `output_name`."""

    def __init__(self, layers, input_shape, input_name="input",
                 output_name="output", input_dtype="float32"):
        self.layers = list(layers)
        for layer in self.layers:
            if not isinstance(layer, Layer):
                raise _kiln.Error("Sequential takes kiln.layers objects, got "
                                  "a %s" % type(layer).__name__)
        self.input_shape = tuple(input_shape)
        self.input_name, self.output_name = input_name, output_name
        self.input_dtype = input_dtype

    def add(self, layer):
        if not isinstance(layer, Layer):
            raise _kiln.Error("Sequential takes kiln.layers objects, got a %s"
                              % type(layer).__name__)
        self.layers.append(layer)

    def to_mlir(self):
        graph = Graph()
        x = graph.input(self.input_name, self.input_shape, self.input_dtype)
        for layer in self.layers:
            x = layer(x)
        graph.output(self.output_name, x)
        return graph.to_mlir()
