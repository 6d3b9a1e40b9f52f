"""Functions users call on tensors: activations, softmax family, losses, dropout, gathers.

Everything here is composed from the primitive ops, so gradients (of any order) follow.
"""
from . import backend
from .dtypes import get_default_dtype
from .ops.elementwise import maximum, minimum, where, clip  # noqa: F401  (public re-exports)
from .ops.linalg import matmul  # noqa: F401
from .ops.movement import concatenate, stack, split, chunk, unbind, pad, getitem  # noqa: F401
from .ops.reduce import normalize_axes
from .tensor import Tensor

cat = concatenate


def relu(x): return x.relu()
def tanh(x): return x.tanh()
def sigmoid(x): return x.sigmoid()
def softplus(x): return x.softplus()
def leaky_relu(x, negative_slope=0.01): return x.leaky_relu(negative_slope)
def logsumexp(x, axis=None, keepdims=False): return x.logsumexp(axis, keepdims)


def softmax(x, axis=-1):
    """softmax(x)ᵢ = e^(xᵢ - logsumexp(x)) along ``axis``; stable for any magnitude."""
    return x.softmax(axis)


def log_softmax(x, axis=-1):
    """log softmax(x) = x - logsumexp(x) along ``axis``; stable for any magnitude."""
    return x.log_softmax(axis)


def linear(x, weight, bias=None):
    """y = x Wᵀ + b with W of shape (out_features, in_features), as ``torch.nn.functional.linear``."""
    if x.shape[-1] != weight.shape[-1]:
        raise ValueError(f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the "
                         f"weight expects {weight.shape[-1]} (shape {weight.shape})")
    y = x @ weight.transpose(0, 1)
    return y if bias is None else y + bias


def take(x, indices, axis=0):
    """Gather the slices of ``x`` at integer ``indices`` along ``axis`` (``np.take``);
    the backward scatters with accumulation, so repeated indices sum their gradients."""
    axis = normalize_axes(axis, x.ndim, "take")[0]
    indices = _integer_indices(indices, x, "take")
    size = x.shape[axis]
    if indices.size and (int(indices.min()) < -size or int(indices.max()) >= size):
        raise IndexError(f"take: index out of range for axis {axis} of size {size}")
    return x[(slice(None),) * axis + (indices,)]


def embedding(indices, weight, padding_idx=None):
    """Rows of ``weight`` (num_embeddings, dim) at ``indices`` (any integer shape), as
    ``torch.nn.functional.embedding``: ids outside [0, num_embeddings) raise (no wrap-around of
    negative ids), and rows at ``padding_idx`` (negative counts from the end) get no gradient."""
    data = _integer_indices(indices, weight, "embedding")
    rows = weight.shape[0]
    if data.size:
        low, high = int(data.min()), int(data.max())
        if low < 0 or high >= rows:
            raise IndexError(f"embedding: index out of range: ids must be in [0, {rows}), got values from "
                             f"{low} to {high} (weight of shape {weight.shape})")
    out = weight[data]
    if padding_idx is None:
        return out
    if not -rows <= padding_idx < rows:
        raise ValueError(f"embedding: padding_idx {padding_idx} is outside [-{rows}, {rows}) for a weight "
                         f"of shape {weight.shape}")
    keep = data != padding_idx % rows
    return where(Tensor._from_op(keep[..., None], None), out, out.detach())


def one_hot(indices, num_classes, dtype=None):
    """Integer indices (...,) -> one-hot (..., num_classes), outside the graph."""
    device = indices.device if isinstance(indices, Tensor) else backend.get_device(None)
    data = _integer_indices(indices, None, "one_hot", device)
    if data.size and (int(data.min()) < 0 or int(data.max()) >= num_classes):
        raise IndexError(f"one_hot: class values must be in [0, {num_classes}), got {int(data.min())}..{int(data.max())}")
    eye = device.xp.eye(num_classes, dtype=dtype or get_default_dtype())
    return Tensor._from_op(eye[data], None)


def dropout(x, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted
    dropout); the identity when not training. Random numbers come from the device's
    generator, seeded by ``manual_seed``."""
    if not 0 <= p < 1:
        raise ValueError(f"dropout: probability must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = x.device.uniform(x.shape, x.dtype) >= p
    return x * Tensor._from_op(keep.astype(x.dtype) / (1 - p), None)


def _integer_indices(indices, like, op, device=None):
    device = device or like.device
    data = indices.data if isinstance(indices, Tensor) else device.asarray(indices)
    if type(data) is not device.array_type:
        raise RuntimeError(f"{op}: indices are on device '{backend.device_of(data).name}' but the tensor "
                           f"is on '{device.name}'")
    if data.dtype.kind not in "iu":
        raise TypeError(f"{op}: indices must be integers, got dtype {data.dtype}")
    return data


def _reduce_loss(loss, reduction, op, weight_sum=None):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.sum() / weight_sum if weight_sum is not None else loss.mean()
    raise ValueError(f"{op}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def nll_loss(log_probs, target, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer targets: loss_n = -log_probs[n, target_n].

    ``log_probs`` is (N, C) or (N, C, d₁, …) or (C,) with ``target`` (N,) / (N, d₁, …) / ();
    targets equal to ``ignore_index`` contribute nothing and are left out of the mean.
    ``reduction="none"`` returns the losses in the target's shape."""
    if log_probs.ndim == 0:
        raise ValueError("nll_loss: input must have a class axis, got a 0-d tensor")
    loss_shape = (log_probs.shape[0],) + log_probs.shape[2:] if log_probs.ndim > 1 else ()
    classes = log_probs.shape[1 if log_probs.ndim > 1 else 0]
    if log_probs.ndim != 2:  # (C,) -> (1, C); (N, C, d...) -> (N·d..., C)
        axes = (0,) + tuple(range(2, log_probs.ndim)) + (1,)
        log_probs = log_probs.permute(*axes).reshape(-1, classes) if log_probs.ndim > 2 else log_probs.reshape(1, classes)
    target = _integer_indices(target, log_probs, "nll_loss")
    if tuple(target.shape) != loss_shape:
        raise ValueError(f"nll_loss: target of shape {tuple(target.shape)} does not match input "
                         f"(expected target shape {loss_shape})")
    target = target.reshape(-1)
    xp = log_probs.xp
    valid = target != ignore_index
    if bool(xp.any(valid & ((target < 0) | (target >= classes)))):
        raise IndexError(f"nll_loss: target values must be in [0, {classes}) or ignore_index={ignore_index}")
    safe_target = xp.where(valid, target, 0)
    picked = log_probs[xp.arange(log_probs.shape[0]), safe_target]
    # Select, never multiply by a 0/1 mask: an ignored row's -inf or NaN times 0 would be NaN.
    loss = where(valid, -picked, 0.0).reshape(loss_shape)
    return _reduce_loss(loss, reduction, "nll_loss",
                        weight_sum=Tensor._from_op(valid.sum().astype(log_probs.dtype), None))


def cross_entropy(logits, target, ignore_index=-100, reduction="mean"):
    """Softmax cross-entropy of logits (N, C, …) against integer targets:
    loss_n = logsumexp(logits_n) - logits_n[target_n], stable for any magnitude of the logits."""
    return nll_loss(log_softmax(logits, axis=1 if logits.ndim > 1 else 0), target, ignore_index, reduction)


def mse_loss(prediction, target, reduction="mean"):
    """Mean squared error (prediction - target)²; shapes must match exactly (no silent broadcast)."""
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=prediction.dtype, device=prediction.device)
    if prediction.shape != target.shape:
        raise ValueError(f"mse_loss: prediction shape {prediction.shape} differs from target shape {target.shape}")
    diff = prediction - target
    return _reduce_loss(diff * diff, reduction, "mse_loss")


def binary_cross_entropy_with_logits(logits, target, reduction="mean"):
    """-[y log σ(x) + (1-y) log(1-σ(x))] = softplus(x) - x·y, which never overflows."""
    target = target if isinstance(target, Tensor) else Tensor(target, dtype=logits.dtype, device=logits.device)
    if logits.shape != target.shape:
        raise ValueError(f"binary_cross_entropy_with_logits: logits shape {logits.shape} differs from target shape {target.shape}")
    return _reduce_loss(logits.softplus() - logits * target, reduction, "binary_cross_entropy_with_logits")
