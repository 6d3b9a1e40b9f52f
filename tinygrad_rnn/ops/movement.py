"""Ops that move, select or combine elements without arithmetic. ``g`` is the output gradient."""
import itertools

from ..autograd import Function
from ..dtypes import check_real
from ..tensor import Tensor, shape_args
from .reduce import normalize_axes


class Reshape(Function):
    """y = a viewed with another shape;  dy/da: g reshaped back."""

    def forward(self, a, shape):
        return a.reshape(shape)

    def backward(self, g):
        return g.reshape(self.inputs[0].shape)


class Permute(Function):
    """y = a with its axes reordered;  dy/da: g with the inverse order."""

    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, g):
        inverse = [0] * len(self.axes)
        for i, axis in enumerate(self.axes):
            inverse[axis] = i
        return g.permute(*inverse)


class Expand(Function):
    """y = a broadcast to a larger shape;  dy/da = g summed over the broadcast axes (which
    the engine does centrally for every op, so the backward is the identity)."""

    def forward(self, a, shape):
        return self.xp.broadcast_to(a, shape)

    def backward(self, g):
        return g


class Flip(Function):
    """y = a reversed along ``axes``;  dy/da: g reversed along the same axes."""

    def forward(self, a, axes):
        self.axes = axes
        return self.xp.flip(a, axis=axes)

    def backward(self, g):
        return g.flip(self.axes)


class Clone(Function):
    """y = a copy of a in its own array;  dy/da = 1."""

    def forward(self, a):
        return a.copy()

    def backward(self, g):
        return g


class GetItem(Function):
    """y = a[index] (basic or advanced indexing);  dy/da: g scattered back into zeros,
    accumulating where an index repeats (the gather/scatter pair of embeddings)."""

    def forward(self, a, index):
        self.index = index
        return a[index]

    def backward(self, g):
        return ScatterAdd.apply(g, index=self.index, shape=self.inputs[0].shape)

    def backward_into(self, buffer, g):
        """``buffer[index] += g``: the same gradient, added into the engine's buffer for ``a``
        (the backward walk's fast path when it records nothing)."""
        _scatter_add(buffer, self.index, g, self.device)


class ScatterAdd(Function):
    """y = zeros(shape) with y[index] += a;  dy/da = g[index]."""

    def forward(self, a, index, shape):
        self.index = index
        out = self.xp.zeros(shape, dtype=a.dtype)
        _scatter_add(out, index, a, self.device)
        return out

    def backward(self, g):
        return GetItem.apply(g, index=self.index)


def _scatter_add(out, index, values, device):
    """``out[index] += values``; an advanced index may repeat, and each repeat adds."""
    if any(isinstance(i, device.array_type) for i in index):
        device.index_add(out, index, values)
    else:  # basic indexing selects each element at most once
        out[index] += values


class Concatenate(Function):
    """y = [a₀, a₁, …] joined along ``axis``;  dy/daᵢ = the slice of g where aᵢ went."""

    def forward(self, *arrays, axis):
        self.axis = axis
        return self.xp.concatenate(arrays, axis=axis)

    def backward(self, g):
        grads, start = [], 0
        for tensor, needed in zip(self.inputs, self.needs_input_grad):
            stop = start + tensor.shape[self.axis]
            grads.append(g[(slice(None),) * self.axis + (slice(start, stop),)] if needed else None)
            start = stop
        return tuple(grads)


class Split(Function):
    """(y₀, y₁, …) = consecutive slices of a along ``axis``, of the given sizes;
    dL/da = [g₀, g₁, …] joined along ``axis`` (zeros for a piece that received no gradient)."""

    def forward(self, a, sizes, axis):
        self.axis, stops = axis, tuple(itertools.accumulate(sizes))
        pieces = tuple(a[(slice(None),) * axis + (slice(stop - size, stop),)]
                       for size, stop in zip(sizes, stops))
        self.shapes = [piece.shape for piece in pieces]
        return pieces

    def backward(self, *grads):
        return concatenate(_zeros_for_missing(self, grads), self.axis)


class Unbind(Function):
    """(y₀, y₁, …) = a[…, i, …] for each index i of ``axis``;  dL/da = stack(g₀, g₁, …) along
    ``axis`` (zeros for a slice that received no gradient)."""

    def forward(self, a, axis):
        self.axis = axis
        slices = tuple(a[(slice(None),) * axis + (i,)] for i in range(a.shape[axis]))
        self.shapes = [piece.shape for piece in slices]
        return slices

    def backward(self, *grads):
        return stack(_zeros_for_missing(self, grads), self.axis)


def _zeros_for_missing(node, grads):
    """The gradients of a multi-output node's outputs, zeros where an output received none."""
    dtype = node.inputs[0].dtype
    return [Tensor(node.xp.zeros(shape, dtype), device=node.device) if g is None else g
            for g, shape in zip(grads, node.shapes)]


class Pad(Function):
    """y = a surrounded by ``value`` (widths per axis as (before, after));  dy/da: the
    inner slice of g."""

    def forward(self, a, widths, value):
        self.widths = widths
        return self.xp.pad(a, widths, mode="constant", constant_values=value)

    def backward(self, g):
        return g[tuple(slice(before, size - after) for (before, after), size in zip(self.widths, g.shape))]


def one_axis(axis, ndim, op):
    """One axis (negatives count from the end) as a non-negative int, or an error naming ``op``."""
    if not isinstance(axis, int):
        raise TypeError(f"{op}: dim must be an int, got {axis!r}")
    return normalize_axes(axis, ndim, op)[0]


def reshape(a, *shape):
    shape = shape_args(shape)
    size = 1
    for s in a.shape:
        size *= s
    known = 1
    for s in shape:
        known *= s if s != -1 else 1
    if shape.count(-1) > 1 or (-1 in shape and (known == 0 or size % known)) or (
            -1 not in shape and known != size):
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} ({size} elements) into {shape}")
    if -1 in shape:
        shape = tuple(size // known if s == -1 else s for s in shape)
    return a if shape == a.shape else Reshape.apply(a, shape=shape)


def permute(a, *axes):
    axes = shape_args(axes)
    if sorted(normalize_axes(axes, a.ndim, "permute")) != list(range(a.ndim)) or len(axes) != a.ndim:
        raise ValueError(f"permute: {axes} is not a permutation of the axes of a tensor of shape {a.shape}")
    axes = tuple(x % a.ndim for x in axes)
    return a if axes == tuple(range(a.ndim)) else Permute.apply(a, axes=axes)


def transpose(a, axis0=-2, axis1=-1):
    """Swap two axes (PyTorch's ``transpose(dim0, dim1)``; defaults swap the last two)."""
    axes = list(range(a.ndim))
    i, j = normalize_axes(axis0, a.ndim, "transpose")[0], normalize_axes(axis1, a.ndim, "transpose")[0]
    axes[i], axes[j] = axes[j], axes[i]
    return permute(a, axes)


def expand(a, *shape):
    shape = shape_args(shape)
    lead = len(shape) - a.ndim
    if lead < 0 or any(s != t and s != 1 for s, t in zip(a.shape, shape[lead:])):
        raise ValueError(f"expand: a tensor of shape {a.shape} cannot be expanded to {shape}")
    shape = shape[:lead] + tuple(s if t == -1 else t for s, t in zip(a.shape, shape[lead:]))
    return a if shape == a.shape else Expand.apply(a, shape=shape)


def squeeze(a, axis=None):
    """Remove axes of size 1 (all of them, or the given ones)."""
    axes = [i for i, s in enumerate(a.shape) if s == 1] if axis is None else normalize_axes(axis, a.ndim, "squeeze")
    for i in axes:
        if a.shape[i] != 1:
            raise ValueError(f"squeeze: axis {i} of a tensor of shape {a.shape} has size {a.shape[i]}, not 1")
    return reshape(a, tuple(s for i, s in enumerate(a.shape) if i not in axes))


def unsqueeze(a, axis):
    """Insert an axis of size 1 at position ``axis`` (negative counts from the new end)."""
    position = normalize_axes(axis, a.ndim + 1, "unsqueeze")[0]
    return Reshape.apply(a, shape=a.shape[:position] + (1,) + a.shape[position:])


def flip(a, axis=None):
    axes = normalize_axes(axis, a.ndim, "flip")
    return Flip.apply(a, axes=axes) if axes else a


def repeat(a, *sizes):
    """Tile ``a``: ``sizes[i]`` copies along each axis (leading sizes add new axes), as PyTorch's
    ``repeat``. Built as reshape → expand → reshape, so the backward sums the copies."""
    sizes = shape_args(sizes)
    if len(sizes) < a.ndim or any(s < 0 for s in sizes):
        raise ValueError(f"repeat: got sizes {sizes} for a tensor of shape {a.shape}; expected "
                         f"{a.ndim} or more non-negative sizes")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    interleaved = tuple(x for size in shape for x in (1, size))
    target = tuple(x for count, size in zip(sizes, shape) for x in (count, size))
    tiled = expand(reshape(a, interleaved), target)
    return reshape(tiled, tuple(count * size for count, size in zip(sizes, shape)))


def gather(a, axis, index):
    """y[i₀…iₙ] = a[i₀…index[i₀…iₙ]…iₙ] (the index replaces position ``axis``), as
    ``torch.gather``: ``index`` has a's number of axes and no axis longer than a's."""
    axis = one_axis(axis, a.ndim, "gather")
    data = index.data if isinstance(index, Tensor) else a.device.asarray(index)
    if data.ndim != a.ndim or any(n > m for d, (n, m) in enumerate(zip(data.shape, a.shape)) if d != axis):
        raise ValueError(f"gather: index of shape {tuple(data.shape)} does not fit a tensor of shape {a.shape} "
                         f"along dim {axis} (same number of dims, no other dim longer)")
    if data.dtype.kind not in "iu":
        raise TypeError(f"gather: index must hold integers, got {data.dtype}")
    if data.size and (int(data.min()) < 0 or int(data.max()) >= a.shape[axis]):
        raise IndexError(f"gather: index values must be in [0, {a.shape[axis]}) for dim {axis}")
    grids = [a.xp.arange(n).reshape((1,) * d + (n,) + (1,) * (data.ndim - d - 1)) for d, n in enumerate(data.shape)]
    grids[axis] = data
    return GetItem.apply(a, index=tuple(grids))


def index_select(a, axis, index):
    """The slices of ``a`` at the 1-D integer ``index`` along ``axis`` (``torch.index_select``)."""
    axis = one_axis(axis, a.ndim, "index_select")
    data = index.data if isinstance(index, Tensor) else a.device.asarray(index)
    if data.ndim != 1 or data.dtype.kind not in "iu":
        raise ValueError(f"index_select: index must be a 1-D integer tensor, got {data.dtype} of shape "
                         f"{tuple(data.shape)}")
    if data.size and (int(data.min()) < 0 or int(data.max()) >= a.shape[axis]):
        raise IndexError(f"index_select: index values must be in [0, {a.shape[axis]}) for dim {axis}")
    return getitem(a, (slice(None),) * axis + (data,))


def _index_part(part, a, position):
    """One element of an index tuple, as the device understands it."""
    if isinstance(part, Tensor):
        part = part.data
    elif isinstance(part, (list, tuple)):
        part = a.device.asarray(part, dtype=None if len(part) else "int64")  # [] selects nothing, as in NumPy
        if part.dtype.kind not in "biu":
            raise IndexError(f"getitem: index lists must hold integers or bools, got {part.dtype}")
    if isinstance(part, a.device.array_type):
        if part.dtype.kind == "b" and part.ndim == 0:
            raise IndexError(f"getitem: a 0-d boolean index at position {position} is not supported; "
                             "use None to add an axis")
        if part.dtype.kind not in "biu":
            raise IndexError(f"getitem: index arrays must be integer or bool, got {part.dtype} at position {position}")
        return part
    if part is not None and not isinstance(part, (int, slice, type(Ellipsis))):
        raise IndexError(f"getitem: unsupported index {part!r} of type {type(part).__name__}")
    return part


def _is_mask(part, a):
    return isinstance(part, a.device.array_type) and part.dtype.kind == "b"


def _masks_to_positions(parts, a):
    """The index with each bool mask replaced by the integer arrays of its True positions,
    after checking that the mask's shape is that of the axes it covers: NumPy and PyTorch raise
    IndexError for a mask of the wrong length, and nonzero alone would silently accept it."""
    def width(part):  # how many axes of ``a`` an index part consumes (None and True add one)
        return part.ndim if _is_mask(part, a) else 0 if part is None or isinstance(part, bool) else 1
    explicit = sum(width(p) for p in parts if p is not Ellipsis)
    axis, result = 0, []
    for position, part in enumerate(parts):
        if part is Ellipsis:
            axis += max(a.ndim - explicit, 0)
        elif _is_mask(part, a):
            covered = a.shape[axis:axis + part.ndim]
            if tuple(part.shape) != covered:
                raise IndexError(f"getitem: the boolean mask at position {position} has shape {tuple(part.shape)} "
                                 f"but indexes axes of sizes {covered} of a tensor of shape {a.shape}")
            result.extend(a.xp.nonzero(part))
            axis += part.ndim
            continue
        else:
            axis += width(part)
        result.append(part)
    return tuple(result)


def getitem(a, index):
    """``a[index]`` with basic slicing, integer arrays and bool masks (bool masks become the
    integer arrays of their True positions, so one scatter handles every backward)."""
    index = index if isinstance(index, tuple) else (index,)
    parts = [_index_part(part, a, position) for position, part in enumerate(index)]
    return GetItem.apply(a, index=_masks_to_positions(parts, a))


def concatenate(tensors, axis=0):
    """Join tensors along an existing axis (``torch.cat``)."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("cat: expected a non-empty sequence of tensors")
    first = tensors[0]
    axis = normalize_axes(axis, first.ndim, "cat")[0]
    for t in tensors[1:]:
        if t.ndim != first.ndim or t.shape[:axis] + t.shape[axis + 1:] != first.shape[:axis] + first.shape[axis + 1:]:
            raise ValueError(f"cat: shapes {first.shape} and {t.shape} differ outside axis {axis}")
        if t.dtype != first.dtype:
            raise TypeError(f"cat: dtypes {first.dtype} and {t.dtype} differ; cast first")
    return Concatenate.apply(*tensors, axis=axis) if len(tensors) > 1 else first


def stack(tensors, axis=0):
    """Join same-shaped tensors along a new axis."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise ValueError(f"stack: shapes {tensors[0].shape} and {t.shape} differ")
    axis = normalize_axes(axis, tensors[0].ndim + 1, "stack")[0]
    return concatenate([unsqueeze(t, axis) for t in tensors], axis)


def split(a, split_size_or_sections, axis=0):
    """Split along ``axis`` into chunks of a given size (an int, the last chunk may be
    smaller) or of the given sizes (a list that must add up to the axis length); one node."""
    axis = normalize_axes(axis, a.ndim, "split")[0]
    length = a.shape[axis]
    if isinstance(split_size_or_sections, int):
        if split_size_or_sections <= 0:
            raise ValueError(f"split: chunk size must be positive, got {split_size_or_sections}")
        sizes = [min(split_size_or_sections, length - s) for s in range(0, length, split_size_or_sections)]
        sizes = sizes or [0]  # an empty axis is one empty chunk, as in PyTorch
    else:
        sizes = list(split_size_or_sections)
        if any(size < 0 for size in sizes):  # [3, -1] adds up too, but would slice past the end
            raise ValueError(f"split: sizes {sizes} must be non-negative")
        if sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} do not add up to {length}, the length of axis {axis}")
    return Split.apply(a, sizes=tuple(sizes), axis=axis)


def chunk(a, chunks, axis=0):
    """Split along ``axis`` into ``chunks`` pieces of ceil(n / chunks) (the last may be smaller,
    and there may be fewer pieces), as ``torch.chunk``."""
    if not isinstance(chunks, int) or chunks <= 0:
        raise ValueError(f"chunk: the number of chunks must be a positive int, got {chunks!r}")
    axis = normalize_axes(axis, a.ndim, "chunk")[0]
    return split(a, max(-(-a.shape[axis] // chunks), 1), axis)


def unbind(a, axis=0):
    """The slices of ``a`` along ``axis``, that axis removed (``tuple(a)`` for axis 0); one node."""
    axis = normalize_axes(axis, a.ndim, "unbind")[0]
    return Unbind.apply(a, axis=axis)


def pad(a, widths, value=0.0):
    """Constant padding. ``widths`` is PyTorch-style (last axis first: (left, right, top,
    bottom, ...)) or NumPy-style (a pair per axis, in axis order)."""
    if widths and isinstance(widths[0], (tuple, list)):
        pairs = [tuple(p) for p in widths]
        if len(pairs) != a.ndim:
            raise ValueError(f"pad: {len(pairs)} (before, after) pairs for a tensor with {a.ndim} dimensions")
    else:
        if len(widths) % 2 or len(widths) // 2 > a.ndim:
            raise ValueError(f"pad: {widths} must hold an even number of widths, at most 2 per axis of {a.shape}")
        pairs = [(0, 0)] * (a.ndim - len(widths) // 2) + [
            (widths[i], widths[i + 1]) for i in range(len(widths) - 2, -1, -2)]
    if any(before < 0 or after < 0 for before, after in pairs):
        raise ValueError(f"pad: negative widths {widths} are not supported")
    check_real(value, "pad: the fill value")
    return Pad.apply(a, widths=tuple(pairs), value=value)
