"""Loss modules with ``torch.nn``'s names and arguments, each calling its function in
``tinygrad_rnn.functional`` (the math is documented there).

PyTorch's deprecated ``size_average``/``reduce`` and the per-class ``weight``/``pos_weight``
are refused with an error naming them, rather than ignored.
"""
from .. import functional as F
from .module import Module


def _refuse(loss, **unsupported):
    for name, value in unsupported.items():
        if value is not None:
            raise ValueError(f"{loss}: {name}= is not supported (use reduction=, and no per-class weights)")


class _Loss(Module):
    def __init__(self, reduction):
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"{type(self).__name__}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits (N, C, …) and integer targets (N, …); see ``F.cross_entropy``."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                 label_smoothing=0.0):
        _refuse("CrossEntropyLoss", weight=weight, size_average=size_average, reduce=reduce)
        super().__init__(reduction)
        self.ignore_index, self.label_smoothing = ignore_index, label_smoothing

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.ignore_index, self.reduction, self.label_smoothing)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (N, C, …) and integer targets; see ``F.nll_loss``."""

    def __init__(self, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
        _refuse("NLLLoss", weight=weight, size_average=size_average, reduce=reduce)
        super().__init__(reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return F.nll_loss(input, target, self.ignore_index, self.reduction)


class MSELoss(_Loss):
    """Squared error (input - target)² (shapes must match); see ``F.mse_loss``."""

    def __init__(self, size_average=None, reduce=None, reduction="mean"):
        _refuse("MSELoss", size_average=size_average, reduce=reduce)
        super().__init__(reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits and targets in [0, 1]; see ``F.binary_cross_entropy_with_logits``."""

    def __init__(self, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None):
        _refuse("BCEWithLogitsLoss", weight=weight, size_average=size_average, reduce=reduce, pos_weight=pos_weight)
        super().__init__(reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)
