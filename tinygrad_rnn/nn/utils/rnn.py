"""Variable-length batches as PyTorch packs them: ``pad_sequence``, ``pack_padded_sequence``,
``pad_packed_sequence`` and ``PackedSequence``.

A PackedSequence holds the valid steps only, time-major: ``data`` (Σ lengths, *) is step 0 of
every sequence (longest first), then step 1 of those still running, ...; ``batch_sizes[t]``
counts the sequences running at step t. The recurrent layers take one wherever they take a
padded input with ``lengths=``, and give their output packed the same way. Packing and
unpacking are gathers and scatters of the engine, so gradients flow through both.
"""
import collections

import numpy as np

from ...ops.movement import ScatterAdd, pad
from ...ops.elementwise import where
from ...tensor import Tensor, tensor
from ...functional import stack

PackedSequence = collections.namedtuple("PackedSequence", "data batch_sizes sorted_indices unsorted_indices")
PackedSequence.__doc__ = """Sequences of several lengths packed time-major (see the module docstring).

``data`` (Σ lengths, *); ``batch_sizes`` (int64, one per step); ``sorted_indices`` (the batch
order by decreasing length, None when the input was sorted) and ``unsorted_indices`` (its
inverse)."""


def _host(values, what):
    values = values.numpy() if isinstance(values, Tensor) else np.asarray(values)
    if values.ndim != 1 or values.dtype.kind not in "iu":
        raise ValueError(f"{what}: expected a 1-D sequence of integers, got {values.dtype} of shape {values.shape}")
    return values.astype(np.int64)


def _positions(sorted_lengths):
    """Host index arrays (step, sorted batch row) of every valid step, in packed order."""
    steps = np.arange(int(sorted_lengths[0]))[:, None]
    valid = steps < sorted_lengths[None, :]
    return np.nonzero(valid)


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack tensors (Lᵢ, *) into (L_max, N, *) (or (N, L_max, *)), padding each to L_max."""
    sequences = list(sequences)
    if not sequences:
        raise ValueError("pad_sequence: expected a non-empty list of tensors")
    if padding_side not in ("right", "left"):
        raise ValueError(f"pad_sequence: padding_side must be 'right' or 'left', got {padding_side!r}")
    trailing = sequences[0].shape[1:]
    for s in sequences:
        if s.ndim == 0 or s.shape[1:] != trailing:
            raise ValueError(f"pad_sequence: every sequence must have shape (L, *{trailing}), got {s.shape}")
    longest = max(s.shape[0] for s in sequences)
    padded = []
    for s in sequences:
        extra = longest - s.shape[0]
        widths = ((0, extra) if padding_side == "right" else (extra, 0),) + ((0, 0),) * len(trailing)
        padded.append(pad(s, widths, padding_value) if extra else s)
    return stack(padded, 0 if batch_first else 1)


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (L, N, *) (or (N, L, *)) of sequences with the given ``lengths``;
    with ``enforce_sorted`` the lengths must be decreasing, else they are sorted here and the
    order is recorded in the PackedSequence."""
    lengths = _host(lengths, "pack_padded_sequence: lengths")
    batch_axis = 0 if batch_first else 1
    if input.ndim < 2 or input.shape[batch_axis] != lengths.shape[0]:
        raise ValueError(f"pack_padded_sequence: {lengths.shape[0]} lengths for an input of shape {input.shape} "
                         f"(batch on dim {batch_axis})")
    steps = input.shape[1 - batch_axis]
    if not lengths.size or lengths.min() < 1 or lengths.max() > steps:
        raise ValueError(f"pack_padded_sequence: every length must be in [1, {steps}], got {lengths.tolist()}")
    if enforce_sorted:
        if np.any(np.diff(lengths) > 0):
            raise ValueError(f"pack_padded_sequence: lengths {lengths.tolist()} are not sorted in decreasing "
                             "order; sort the batch or pass enforce_sorted=False")
        order = None
    else:
        order = np.argsort(-lengths, kind="stable")
    return _pack(input if batch_first else input.transpose(0, 1), lengths, order)


def _pack(batch_major, lengths, order):
    """Pack (N, L, *) whose rows have ``lengths`` (original order), sorting rows by ``order``."""
    sorted_lengths = lengths if order is None else lengths[order]
    steps, rows = _positions(sorted_lengths)
    original_rows = rows if order is None else order[rows]
    device = batch_major.device
    data = batch_major[device.asarray(original_rows), device.asarray(steps)]
    batch_sizes = tensor((sorted_lengths[None, :] > np.arange(int(sorted_lengths[0]))[:, None]).sum(axis=1))
    if order is None:
        return PackedSequence(data, batch_sizes, None, None)
    return PackedSequence(data, batch_sizes, tensor(order), tensor(np.argsort(order)))


def packed_lengths(sequence):
    """The length of each sequence of a PackedSequence, in the original batch order (host int64)."""
    batch_sizes = _host(sequence.batch_sizes, "PackedSequence.batch_sizes")
    sorted_lengths = (batch_sizes[None, :] > np.arange(int(batch_sizes[0]))[:, None]).sum(axis=1)
    if sequence.unsorted_indices is None:
        return sorted_lengths
    return sorted_lengths[_host(sequence.unsorted_indices, "PackedSequence.unsorted_indices")]


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo ``pack_padded_sequence``: returns ``(padded (L, N, *) or (N, L, *), lengths)`` in
    the original batch order, L = ``total_length`` or the longest length."""
    lengths = packed_lengths(sequence)
    longest = int(lengths.max())
    total_length = longest if total_length is None else total_length
    if total_length < longest:
        raise ValueError(f"pad_packed_sequence: total_length={total_length} is shorter than the longest "
                         f"sequence ({longest})")
    order = None if sequence.sorted_indices is None else _host(sequence.sorted_indices, "sorted_indices")
    sorted_lengths = lengths if order is None else lengths[order]
    steps, rows = _positions(sorted_lengths)
    original_rows = rows if order is None else order[rows]
    data = sequence.data
    device = data.device
    index = (device.asarray(original_rows), device.asarray(steps))
    shape = (lengths.shape[0], total_length) + data.shape[1:]
    padded = ScatterAdd.apply(data, index=index, shape=shape)
    if padding_value != 0:
        valid = np.arange(total_length)[None, :] < lengths[:, None]
        padded = where(device.asarray(valid.reshape(valid.shape + (1,) * (data.ndim - 1))), padded, padding_value)
    return (padded if batch_first else padded.transpose(0, 1)), tensor(lengths)


def unpack_input(layer, x, lengths):
    """For a recurrent ``layer``'s forward: a PackedSequence input as (padded input in the
    layer's layout, host lengths, the PackedSequence); other inputs pass through with None."""
    if not isinstance(x, PackedSequence):
        return x, lengths, None
    if lengths is not None:
        raise ValueError(f"{type(layer).__name__}: a PackedSequence input carries its lengths; do not pass lengths=")
    padded, _ = pad_packed_sequence(x, layer.batch_first)
    return padded, packed_lengths(x), x


def repack_output(layer, out, packed):
    """The layer's padded output packed like the input ``packed`` (PyTorch returns the output of
    a packed input packed); ``out`` as it is when the input was not packed."""
    if packed is None:
        return out
    order = None if packed.sorted_indices is None else _host(packed.sorted_indices, "sorted_indices")
    result = _pack(out if layer.batch_first else out.transpose(0, 1), packed_lengths(packed), order)
    return result._replace(batch_sizes=packed.batch_sizes, sorted_indices=packed.sorted_indices,
                           unsorted_indices=packed.unsorted_indices)
