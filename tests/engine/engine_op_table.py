"""The op metadata table from which the engine's property tests are generated.

Each row is an :class:`OpSpec`: the op's name, our function, the number of differentiable
inputs, the value domain and kinks of each input, whether it is smooth enough for a second-
order check, and the PyTorch equivalent (``None``: the same expression runs on torch tensors).
``cases`` is a hypothesis strategy of ``(arrays, kwargs)``: float64 NumPy inputs and the
op's other arguments (NumPy integer/bool arrays among them become index/target tensors).
"""
import dataclasses
from typing import Callable, Optional

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.testing.strategies import axes, broadcastable_shapes, float_arrays, shapes


class _LazyTorch:
    """``torch`` imported on first use, so this table loads on machines without it."""

    def __getattr__(self, name):
        import torch
        return getattr(torch, name)


torch = _LazyTorch()


@dataclasses.dataclass(frozen=True)
class Domain:
    """Values in [low, high], at least ``margin`` from every kink."""
    low: float = -3.0
    high: float = 3.0
    kinks: tuple = ()
    margin: float = 0.05

    def arrays(self, shape, unique=False):
        return float_arrays(shape, self.low, self.high, avoid=self.kinks, margin=self.margin, unique=unique)


ANY = Domain()
POSITIVE = Domain(0.2, 3.0)
NONZERO = Domain(kinks=(0.0,), margin=0.3)


@dataclasses.dataclass(frozen=True)
class OpSpec:
    name: str
    fn: Callable
    arity: int
    cases: st.SearchStrategy
    domains: tuple = (ANY,)
    smooth: bool = True            # C² on the domain: gradgradcheck applies
    torch: Optional[Callable] = None  # None: ``fn`` itself runs on torch tensors
    has_torch: bool = True         # False: no deterministic torch equivalent (dropout)
    exact_gradient: bool = True    # False: the gradient is deliberately not the derivative

    @property
    def torch_fn(self):
        return self.torch or self.fn


# ----- case strategies ----------------------------------------------------------------------
def no_kwargs(arrays):
    return st.tuples(arrays, st.just({}))


def elementwise(*domains, max_dims=3, apart=False):
    """Broadcastable arrays, one per domain; ``apart``: no ties between two inputs."""
    cases = broadcastable_shapes(len(domains), max_dims=max_dims).flatmap(
        lambda shape_tuple: st.tuples(*[d.arrays(s) for d, s in zip(domains, shape_tuple)]))
    if apart:
        cases = cases.filter(lambda arrays: np.all(np.abs(arrays[0] - arrays[1]) >= 0.05))
    return no_kwargs(cases)


def reduction(domain=ANY, unique=False, correction=False):
    """An array, ``axis`` (None, int or tuple) and ``keepdims`` (and ``correction`` for var)."""
    @st.composite
    def case(draw):
        shape = draw(shapes(0, 3))
        kwargs = {"axis": draw(axes(len(shape))), "keepdims": draw(st.booleans())}
        if correction:
            kwargs["correction"] = draw(st.integers(0, 1))
            counted = np.prod([shape[a] for a in _axes(kwargs["axis"], len(shape))], dtype=int)
            if counted <= kwargs["correction"]:
                kwargs["correction"] = 0
        return (draw(domain.arrays(shape, unique=unique)),), kwargs
    return case()


def _axes(axis, ndim):
    return tuple(range(ndim)) if axis is None else ((axis,) if isinstance(axis, int) else axis)


@st.composite
def one_array(draw, min_dims=1, max_dims=3, domain=ANY, **kwarg_strategies):
    """An array plus keyword arguments drawn from functions of its shape."""
    shape = draw(shapes(min_dims, max_dims))
    return (draw(domain.arrays(shape)),), {k: draw(make(shape)) for k, make in kwarg_strategies.items()}


@st.composite
def matmul_cases(draw):
    """1-D or batched 2-D operands; batch axes broadcast."""
    n, k, p = (draw(st.integers(1, 3)) for _ in range(3))
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=2, max_side=3))
    a_shape = (k,) if draw(st.booleans()) and not batch_a else batch_a + (n, k)
    b_shape = (k,) if draw(st.booleans()) and not batch_b else batch_b + (k, p)
    return (draw(ANY.arrays(a_shape)), draw(ANY.arrays(b_shape))), {}


@st.composite
def basic_index(draw, shape):
    """Ints, slices (steps 1-2), None and Ellipsis, encoded as JSON-able lists."""
    parts = [["none"]] if draw(st.booleans()) else []
    for size in shape[:draw(st.integers(1, len(shape)))]:
        if draw(st.booleans()):
            parts.append(["int", draw(st.integers(-size, size - 1))])
        else:
            start = draw(st.integers(0, size - 1))
            parts.append(["slice", start, draw(st.integers(start + 1, size)), draw(st.integers(1, 2))])
    if draw(st.booleans()):
        parts.append(["ellipsis"])
    return parts


def decode_index(parts, idx=None, mask=None):
    """The index tuple from :func:`basic_index` parts (``array``/``mask`` name the extra args)."""
    decoded = {"none": lambda: None, "ellipsis": lambda: Ellipsis, "array": lambda: idx, "mask": lambda: mask,
               "int": lambda i: i, "slice": lambda *bounds: slice(*bounds)}
    return tuple(decoded[kind](*rest) for kind, *rest in parts)


@st.composite
def getitem_cases(draw, advanced):
    shape = draw(shapes(1, 3, min_side=2))
    x = draw(ANY.arrays(shape))
    if advanced == "array":  # repeats make the backward accumulate
        axis = draw(st.integers(0, len(shape) - 1))
        idx_shape = draw(shapes(1, 2, max_side=4))
        idx = draw(hnp.arrays(np.int64, idx_shape, elements=st.integers(0, shape[axis] - 1)))
        return (x,), {"index": [["slice", 0, s, 1] for s in shape[:axis]] + [["array"]], "idx": idx}
    if advanced == "mask":
        leading = draw(st.integers(1, len(shape)))
        mask = draw(hnp.arrays(np.bool_, shape[:leading]))
        return (x,), {"index": [["mask"]], "mask": mask}
    return (x,), {"index": draw(basic_index(shape))}


@st.composite
def joined_cases(draw, count, same_shape):
    """``count`` arrays that agree outside ``axis`` (all equal for stack)."""
    shape = list(draw(shapes(1, 3)))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    arrays = []
    for _ in range(count):
        if not same_shape:
            shape[axis] = draw(st.integers(1, 3))
        arrays.append(draw(ANY.arrays(tuple(shape))))
    return tuple(arrays), {"axis": axis}


@st.composite
def split_cases(draw):
    shape = draw(shapes(1, 3, max_side=5))
    axis = draw(st.integers(0, len(shape) - 1))
    if draw(st.booleans()):
        sections = draw(st.integers(1, shape[axis]))
    else:
        cuts = sorted(draw(st.lists(st.integers(0, shape[axis]), max_size=3)))
        sections = [b - a for a, b in zip([0] + cuts, cuts + [shape[axis]])]
    return (draw(ANY.arrays(shape)),), {"sections": sections, "axis": axis}


@st.composite
def pad_cases(draw):
    shape = draw(shapes(1, 3))
    widths = draw(st.lists(st.integers(0, 2), min_size=2, max_size=2 * len(shape)).filter(lambda w: len(w) % 2 == 0))
    return (draw(ANY.arrays(shape)),), {"widths": widths, "value": draw(st.sampled_from([0.0, -1.5]))}


@st.composite
def take_cases(draw):
    shape = draw(shapes(1, 3, min_side=1))
    axis = draw(st.integers(0, len(shape) - 1))
    idx = draw(hnp.arrays(np.int64, draw(shapes(1, 2, max_side=4)), elements=st.integers(0, shape[axis] - 1)))
    return (draw(ANY.arrays(shape)),), {"idx": idx, "axis": axis}


@st.composite
def embedding_cases(draw, with_padding):
    rows, dim = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    idx = draw(hnp.arrays(np.int64, draw(shapes(1, 2, max_side=4)), elements=st.integers(0, rows - 1)))
    padding_idx = draw(st.integers(0, rows - 1)) if with_padding else None
    return (draw(ANY.arrays((rows, dim))),), {"idx": idx, "padding_idx": padding_idx}


@st.composite
def classification_cases(draw, log_probs=False):
    """Logits (C,), (N, C) or (N, C, d); targets with some ``ignore_index`` (never all)."""
    classes = draw(st.integers(2, 4))
    layout = draw(st.sampled_from(["single", "batch", "spatial"]))
    batch = {"single": (), "batch": (draw(st.integers(1, 4)),),
             "spatial": (draw(st.integers(1, 3)), draw(st.integers(1, 3)))}[layout]
    logits_shape = batch[:1] + (classes,) + batch[1:] if batch else (classes,)
    ignore_index = draw(st.sampled_from([-100, 1]))
    target = draw(hnp.arrays(np.int64, batch, elements=st.integers(0, classes - 1)))
    ignored = draw(hnp.arrays(np.bool_, batch))
    target = np.where(ignored, ignore_index, target)
    if np.all(target == ignore_index):
        target.reshape(-1)[0] = 0
    domain = Domain(-4.0, 0.0) if log_probs else ANY
    return (draw(domain.arrays(logits_shape)),), {
        "target": target, "ignore_index": ignore_index, "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


@st.composite
def paired_loss_cases(draw, target_domain):
    shape = draw(shapes(0, 3))
    return (draw(ANY.arrays(shape)), draw(target_domain.arrays(shape))), {
        "reduction": draw(st.sampled_from(["mean", "sum", "none"]))}


@st.composite
def where_cases(draw):
    cond_shape, a_shape, b_shape = draw(broadcastable_shapes(3))
    return (draw(ANY.arrays(a_shape)), draw(ANY.arrays(b_shape))), {"condition": draw(hnp.arrays(np.bool_, cond_shape))}


def unary(name, fn, domain=ANY, smooth=True, torch_fn=None):
    return OpSpec(name, fn, 1, elementwise(domain), (domain,), smooth, torch_fn)


def binary(name, fn, domains=(ANY, ANY), smooth=True, torch_fn=None, apart=False):
    return OpSpec(name, fn, 2, elementwise(*domains, apart=apart), domains, smooth, torch_fn)


def _seeded_dropout(x, p, seed):
    tg.manual_seed(seed)
    return F.dropout(x, p)


CLIP = Domain(kinks=(-1.0, 1.5))

OPS = [
    # arithmetic, with NumPy broadcasting, reflected scalars
    binary("add", lambda a, b: a + b),
    binary("sub", lambda a, b: a - b),
    binary("mul", lambda a, b: a * b),
    binary("div", lambda a, b: a / b, (ANY, NONZERO)),
    binary("pow", lambda a, b: a ** b, (POSITIVE, ANY)),
    unary("rsub_scalar", lambda x: 2.5 - x),
    unary("rdiv_scalar", lambda x: 2.5 / x, NONZERO),
    unary("rpow_scalar", lambda x: 1.5 ** x),
    unary("pow_scalar", lambda x: x ** 3),
    unary("neg", lambda x: -x),
    # elementwise functions
    unary("exp", lambda x: x.exp()),
    unary("log", lambda x: x.log(), POSITIVE),
    unary("sqrt", lambda x: x.sqrt(), POSITIVE),
    unary("abs", lambda x: x.abs(), NONZERO, smooth=False),
    unary("tanh", lambda x: x.tanh()),
    unary("sigmoid", lambda x: x.sigmoid(), Domain(-8.0, 8.0)),
    unary("relu", lambda x: x.relu(), Domain(kinks=(0.0,)), smooth=False),
    unary("leaky_relu", lambda x: F.leaky_relu(x, 0.1), Domain(kinks=(0.0,)), smooth=False,
          torch_fn=lambda x: torch.nn.functional.leaky_relu(x, 0.1)),
    unary("softplus", lambda x: F.softplus(x), torch_fn=lambda x: torch.nn.functional.softplus(x)),
    unary("clip", lambda x: x.clamp(-1.0, 1.5), CLIP, smooth=False),
    unary("clip_high_only", lambda x: x.clamp(None, 1.5), CLIP, smooth=False),
    binary("maximum", lambda a, b: a.maximum(b), smooth=False, apart=True),
    binary("minimum", lambda a, b: a.minimum(b), smooth=False, apart=True),
    OpSpec("where", lambda a, b, condition: F.where(condition, a, b), 2, where_cases(), (ANY, ANY),
           torch=lambda a, b, condition: torch.where(condition, a, b)),
    # reductions over any axes, keepdims
    OpSpec("sum", lambda x, axis, keepdims: x.sum(axis, keepdims), 1, reduction(),
           torch=lambda x, axis, keepdims: x.sum(dim=axis, keepdim=keepdims)),
    OpSpec("mean", lambda x, axis, keepdims: x.mean(axis, keepdims), 1, reduction(),
           torch=lambda x, axis, keepdims: x.mean(dim=axis, keepdim=keepdims)),
    OpSpec("max", lambda x, axis, keepdims: x.amax(axis, keepdims), 1, reduction(unique=True), smooth=False,
           torch=lambda x, axis, keepdims: torch.amax(x, dim=_axes(axis, x.ndim), keepdim=keepdims)),
    OpSpec("min", lambda x, axis, keepdims: x.amin(axis, keepdims), 1, reduction(unique=True), smooth=False,
           torch=lambda x, axis, keepdims: torch.amin(x, dim=_axes(axis, x.ndim), keepdim=keepdims)),
    OpSpec("logsumexp", lambda x, axis, keepdims: x.logsumexp(axis, keepdims), 1, reduction(),
           torch=lambda x, axis, keepdims: torch.logsumexp(x, dim=_axes(axis, x.ndim), keepdim=keepdims)),
    OpSpec("var", lambda x, axis, keepdims, correction: x.var(axis, keepdims, correction), 1,
           reduction(correction=True),
           torch=lambda x, axis, keepdims, correction: x.var(dim=axis, correction=correction, keepdim=keepdims)),
    OpSpec("softmax", lambda x, axis: F.softmax(x, axis), 1,
           one_array(axis=lambda s: st.integers(-len(s), len(s) - 1)),
           torch=lambda x, axis: torch.softmax(x, dim=axis)),
    OpSpec("log_softmax", lambda x, axis: F.log_softmax(x, axis), 1,
           one_array(axis=lambda s: st.integers(-len(s), len(s) - 1)),
           torch=lambda x, axis: torch.log_softmax(x, dim=axis)),
    # matrix product: batched, broadcasting, 1-D operands
    OpSpec("matmul", lambda a, b: a @ b, 2, matmul_cases(), (ANY, ANY)),
    # movement
    OpSpec("reshape", lambda x, shape: x.reshape(shape), 1,
           one_array(shape=lambda s: st.sampled_from([tuple(reversed(s)), (-1,), s[:1] + (-1,)]))),
    OpSpec("transpose", lambda x, axis0, axis1: x.transpose(axis0, axis1), 1,
           one_array(axis0=lambda s: st.integers(-len(s), len(s) - 1), axis1=lambda s: st.integers(0, len(s) - 1))),
    OpSpec("permute", lambda x, axes: x.permute(*axes), 1,
           one_array(axes=lambda s: st.permutations(range(len(s))).map(tuple))),
    OpSpec("expand", lambda x, shape: x.expand(*shape), 1,
           one_array(max_dims=2, shape=lambda s: st.tuples(st.integers(1, 3), *[
               st.just(n) if n > 1 else st.integers(1, 3) for n in s]))),
    OpSpec("squeeze", lambda x, axis: x.squeeze(axis) if axis is not None else x.squeeze(), 1,
           one_array(axis=lambda s: st.sampled_from([None] + [i for i, n in enumerate(s) if n == 1]))),
    OpSpec("unsqueeze", lambda x, axis: x.unsqueeze(axis), 1,
           one_array(axis=lambda s: st.integers(-len(s) - 1, len(s)))),
    OpSpec("flip", lambda x, axis: x.flip(axis), 1,
           one_array(axis=lambda s: axes(len(s), allow_none=False).map(lambda a: a if isinstance(a, tuple) else (a,)))),
    OpSpec("getitem_basic", lambda x, index: x[decode_index(index)], 1, getitem_cases("basic")),
    OpSpec("getitem_int_array", lambda x, index, idx: x[decode_index(index, idx=idx)], 1, getitem_cases("array")),
    OpSpec("getitem_bool_mask", lambda x, index, mask: x[decode_index(index, mask=mask)], 1, getitem_cases("mask")),
    OpSpec("cat", lambda a, b, c, axis: F.cat([a, b, c], axis), 3, joined_cases(3, same_shape=False), (ANY,) * 3,
           torch=lambda a, b, c, axis: torch.cat([a, b, c], dim=axis)),
    OpSpec("stack", lambda a, b, c, axis: F.stack([a, b, c], axis), 3, joined_cases(3, same_shape=True), (ANY,) * 3,
           torch=lambda a, b, c, axis: torch.stack([a, b, c], dim=axis)),
    OpSpec("split", lambda x, sections, axis: x.split(sections, axis), 1, split_cases()),
    OpSpec("chunk", lambda x, chunks, axis: F.chunk(x, chunks, axis), 1,
           one_array(chunks=lambda s: st.integers(1, 4), axis=lambda s: st.integers(-len(s), len(s) - 1)),
           torch=lambda x, chunks, axis: torch.chunk(x, chunks, dim=axis)),
    OpSpec("unbind", lambda x, axis: F.unbind(x, axis), 1,
           one_array(axis=lambda s: st.integers(-len(s), len(s) - 1)),
           torch=lambda x, axis: torch.unbind(x, dim=axis)),
    OpSpec("pad", lambda x, widths, value: F.pad(x, widths, value), 1, pad_cases(),
           torch=lambda x, widths, value: torch.nn.functional.pad(x, widths, value=value)),
    OpSpec("take", lambda x, idx, axis: F.take(x, idx, axis), 1, take_cases(),
           torch=lambda x, idx, axis: torch.index_select(x, axis, idx.reshape(-1)).reshape(
               x.shape[:axis] + idx.shape + x.shape[axis + 1:])),
    OpSpec("embedding", lambda w, idx, padding_idx: F.embedding(idx, w, padding_idx), 1, embedding_cases(False),
           torch=lambda w, idx, padding_idx: torch.nn.functional.embedding(idx, w, padding_idx=padding_idx)),
    # the padding row gets no gradient although the output depends on it (PyTorch's rule)
    OpSpec("embedding_padding_idx", lambda w, idx, padding_idx: F.embedding(idx, w, padding_idx), 1,
           embedding_cases(True), exact_gradient=False,
           torch=lambda w, idx, padding_idx: torch.nn.functional.embedding(idx, w, padding_idx=padding_idx)),
    OpSpec("dropout", _seeded_dropout, 1,
           one_array(p=lambda s: st.sampled_from([0.2, 0.5]), seed=lambda s: st.integers(0, 100)),
           has_torch=False),
    # losses
    OpSpec("cross_entropy", lambda x, target, ignore_index, reduction: F.cross_entropy(
        x, target, ignore_index=ignore_index, reduction=reduction), 1, classification_cases(),
        torch=lambda x, target, ignore_index, reduction: torch.nn.functional.cross_entropy(
            x, target, ignore_index=ignore_index, reduction=reduction)),
    OpSpec("nll_loss", lambda x, target, ignore_index, reduction: F.nll_loss(
        x, target, ignore_index=ignore_index, reduction=reduction), 1, classification_cases(log_probs=True),
        (Domain(-4.0, 0.0),),
        torch=lambda x, target, ignore_index, reduction: torch.nn.functional.nll_loss(
            x, target, ignore_index=ignore_index, reduction=reduction)),
    OpSpec("mse_loss", lambda a, b, reduction: F.mse_loss(a, b, reduction=reduction), 2, paired_loss_cases(ANY),
           (ANY, ANY), torch=lambda a, b, reduction: torch.nn.functional.mse_loss(a, b, reduction=reduction)),
    OpSpec("binary_cross_entropy_with_logits",
           lambda x, y, reduction: F.binary_cross_entropy_with_logits(x, y, reduction=reduction), 2,
           paired_loss_cases(Domain(0.0, 1.0)), (ANY, Domain(0.0, 1.0)),
           torch=lambda x, y, reduction: torch.nn.functional.binary_cross_entropy_with_logits(x, y, reduction=reduction)),
]

OPS_BY_NAME = {spec.name: spec for spec in OPS}
EXACT_OPS = [spec for spec in OPS if spec.exact_gradient]
SMOOTH_OPS = [spec for spec in EXACT_OPS if spec.smooth]
TORCH_OPS = [spec for spec in OPS if spec.has_torch]
