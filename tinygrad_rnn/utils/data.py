"""Datasets and batching the PyTorch way: ``Dataset``, ``TensorDataset``, ``DataLoader``,
``default_collate``, and ``BucketBatchSampler`` (the bucketing of
``tinygrad_rnn.datasets.bucket_batches``, for variable-length text).

Shuffling draws from ``generator=tg.Generator().manual_seed(seed)`` (or a NumPy
``np.random.default_rng(seed)``), or from the global seed set by ``tg.manual_seed`` when none is
given: the same seed gives the same batches every run (not the same order as PyTorch, whose
generator is another algorithm).
Loading runs in the calling process (``num_workers=0``).
"""
import numbers

import numpy as np

from .. import backend
from ..datasets import bucket_indices
from ..functional import stack
from ..tensor import Tensor


class Dataset:
    """Base class of map-style datasets: ``dataset[i]`` is sample i, ``len(dataset)`` their number."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} has no __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} has no __len__")


class TensorDataset(Dataset):
    """Sample i is ``(t[i] for t in tensors)``; every tensor has the same first dimension."""

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if None in sizes or len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: every tensor needs the same first dimension, got shapes "
                             f"{[t.shape for t in tensors]}")
        self.tensors = tensors

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


def default_collate(samples):
    """Join a list of samples into a batch: tensors and NumPy arrays are stacked on a new first
    axis, numbers become a 1-D tensor, and tuples, lists and dicts are joined field by field."""
    first = samples[0]
    if isinstance(first, Tensor):
        return stack(samples)
    if isinstance(first, (np.ndarray, np.generic)):
        return Tensor(np.stack(samples))
    if isinstance(first, (bool, numbers.Number)):
        return Tensor(np.array(samples))
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError(f"default_collate: samples have different numbers of fields "
                             f"({sorted({len(s) for s in samples})}); pass a collate_fn")
        return type(first)(default_collate(list(field)) for field in zip(*samples))
    if isinstance(first, str):
        return list(samples)
    raise TypeError(f"default_collate: cannot batch samples of type {type(first).__name__}; pass a collate_fn")


class Generator:
    """A seeded random source for shuffling, as ``torch.Generator`` on the CPU:
    ``Generator().manual_seed(0)``; it holds a NumPy Generator, ``rng``."""

    def __init__(self, device="cpu"):
        if str(device) != "cpu":
            raise ValueError(f"Generator: only device 'cpu' is supported (shuffling runs on the host), got {device!r}")
        self.manual_seed(0)

    def manual_seed(self, seed):
        """Restart the stream from ``seed``; returns the generator, as PyTorch's does."""
        self._seed = int(seed)
        self.rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self):
        return self._seed


def _seed_from(generator):
    """A fresh seed for one epoch, from ``generator`` or the global seed (``tg.manual_seed``)."""
    if generator is None:
        return int(backend.get_device("cpu").integers(0, 2 ** 63 - 1, ()))
    rng = generator.rng if isinstance(generator, Generator) else generator
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"DataLoader: generator must be a tg.Generator or a numpy.random.Generator, "
                        f"got {type(generator).__name__}")
    return int(rng.integers(0, 2 ** 63 - 1))


class BucketBatchSampler:
    """Batches of positions with similar ``lengths`` (little padding per batch) in a random
    order each epoch; pass as ``DataLoader(dataset, batch_sampler=...)`` with a padding
    ``collate_fn`` (e.g. one built on ``nn.utils.rnn.pad_sequence``)."""

    def __init__(self, lengths, batch_size, shuffle=True, generator=None, pool=50):
        self.lengths, self.batch_size, self.shuffle = np.asarray(lengths), batch_size, shuffle
        self.generator, self.pool = generator, pool

    def __iter__(self):
        rng = np.random.default_rng(_seed_from(self.generator))
        return iter([b.tolist() for b in bucket_indices(self.lengths, self.batch_size, self.shuffle, rng, self.pool)])

    def __len__(self):
        return -(-len(self.lengths) // self.batch_size)


# Arguments of torch's DataLoader that only configure worker processes or pinned memory: each
# is accepted at its default (the value that changes nothing here) and refused otherwise.
_PROCESS_OPTIONS = {"num_workers": 0, "pin_memory": False, "timeout": 0, "worker_init_fn": None,
                    "multiprocessing_context": None, "prefetch_factor": None, "persistent_workers": False,
                    "pin_memory_device": "", "in_order": True}


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples joined by ``collate_fn``
    (``default_collate``): in order, or shuffled anew each epoch (``shuffle=True``, drawn from
    ``generator``); ``drop_last`` drops a last incomplete batch. A ``sampler`` (an iterable of
    positions) or a ``batch_sampler`` (of lists of positions) replaces the built-in order;
    ``batch_size=None`` yields single samples, uncollated."""

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", in_order=True):
        given = dict(num_workers=num_workers, pin_memory=pin_memory, timeout=timeout, worker_init_fn=worker_init_fn,
                     multiprocessing_context=multiprocessing_context, prefetch_factor=prefetch_factor,
                     persistent_workers=persistent_workers, pin_memory_device=pin_memory_device, in_order=in_order)
        for name, value in given.items():
            if value != _PROCESS_OPTIONS[name]:
                raise ValueError(f"DataLoader: {name}={value!r} is not supported: batches are loaded in the "
                                 f"calling process (leave {name} at {_PROCESS_OPTIONS[name]!r})")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int)
                                       or batch_size < 1):
            raise ValueError(f"DataLoader: batch_size must be a positive int or None, got {batch_size!r}")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("DataLoader: batch_sampler replaces batch_size, shuffle, sampler and drop_last; "
                             "pass none of them with it")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler gives the order; pass shuffle=False (or nothing) with it")
        self.dataset, self.batch_size, self.shuffle, self.drop_last = dataset, batch_size, bool(shuffle), drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        self.collate_fn = collate_fn if collate_fn is not None else (default_collate if batch_size else None)

    def _order(self):
        if self.sampler is not None:
            return list(self.sampler)
        if self.shuffle:
            return np.random.default_rng(_seed_from(self.generator)).permutation(len(self.dataset)).tolist()
        return list(range(len(self.dataset)))

    def _batches(self):
        if self.batch_sampler is not None:
            return iter(self.batch_sampler)
        order = self._order()
        if self.batch_size is None:
            return iter(order)
        stop = len(order) - len(order) % self.batch_size if self.drop_last else len(order)
        return (order[i:i + self.batch_size] for i in range(0, stop, self.batch_size))

    def __iter__(self):
        for batch in self._batches():
            if self.batch_size is None and self.batch_sampler is None:
                yield self.dataset[batch] if self.collate_fn is None else self.collate_fn(self.dataset[batch])
            else:
                yield self.collate_fn([self.dataset[i] for i in batch])

    def __len__(self):
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        count = len(self.sampler) if self.sampler is not None else len(self.dataset)
        if self.batch_size is None:
            return count
        return count // self.batch_size if self.drop_last else -(-count // self.batch_size)
