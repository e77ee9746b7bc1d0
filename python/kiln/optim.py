"""Optimizers for `kiln.Trainer`, with PyTorch's names and defaults: the
optimizer kinds and flags of `kiln train` (docs/training.md).

    trainer = kiln.Trainer(net, optimizer=kiln.optim.Adam(lr=1e-3))
"""

__all__ = ["Adadelta", "Adagrad", "Adam", "Optimizer", "RMSprop", "SGD"]


class Optimizer:
    """kind: kiln's optimizer name; lr; hyper: kiln train's flags by name
    (beta1, beta2, eps, rho, alpha, lr_decay, momentum, dampening,
    weight_decay, clip_value, clip_norm)."""

    kind = None

    def __init__(self, lr, **hyper):
        self.lr = lr
        self.hyper = {k: float(v) for k, v in hyper.items()}

    def __repr__(self):
        args = ", ".join("%s=%r" % kv for kv in sorted(self.hyper.items()))
        return "kiln.optim.%s(lr=%r, %s)" % (type(self).__name__, self.lr,
                                              args)


class SGD(Optimizer):
    """Plain SGD; with `momentum`, heavy-ball momentum (or Nesterov's with
    `nesterov=True`), as torch.optim.SGD."""

    def __init__(self, lr=1e-2, momentum=0.0, dampening=0.0, nesterov=False,
                 weight_decay=0.0, clip_value=0.0, clip_norm=0.0):
        super().__init__(lr, momentum=momentum, dampening=dampening,
                         weight_decay=weight_decay, clip_value=clip_value,
                         clip_norm=clip_norm)
        self.kind = ("nesterov" if nesterov else
                     "momentum" if momentum else "sgd")


class Adam(Optimizer):
    kind = "adam"

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0, clip_value=0.0, clip_norm=0.0):
        super().__init__(lr, beta1=betas[0], beta2=betas[1], eps=eps,
                         weight_decay=weight_decay, clip_value=clip_value,
                         clip_norm=clip_norm)


class RMSprop(Optimizer):
    kind = "rmsprop"

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                 clip_value=0.0, clip_norm=0.0):
        super().__init__(lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                         clip_value=clip_value, clip_norm=clip_norm)


class Adagrad(Optimizer):
    kind = "adagrad"

    def __init__(self, lr=1e-2, lr_decay=0.0, eps=1e-10, weight_decay=0.0,
                 clip_value=0.0, clip_norm=0.0):
        super().__init__(lr, lr_decay=lr_decay, eps=eps,
                         weight_decay=weight_decay, clip_value=clip_value,
                         clip_norm=clip_norm)


class Adadelta(Optimizer):
    kind = "adadelta"

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0,
                 clip_value=0.0, clip_norm=0.0):
        super().__init__(lr, rho=rho, eps=eps, weight_decay=weight_decay,
                         clip_value=clip_value, clip_norm=clip_norm)
