"""tinygrad_rnn.utils.data: seeded shuffling, batching options, bucketing, and refusals."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn.utils.rnn import pad_sequence
from tinygrad_rnn.utils.data import BucketBatchSampler, DataLoader, Dataset, TensorDataset


def _batches(loader):
    return [x.tolist() for x, in loader]


def test_seeded_generator_gives_the_same_epochs():
    data = TensorDataset(tg.arange(10))
    first = DataLoader(data, batch_size=3, shuffle=True, generator=np.random.default_rng(5))
    again = DataLoader(data, batch_size=3, shuffle=True, generator=np.random.default_rng(5))
    epochs = [_batches(first), _batches(first)]
    assert epochs == [_batches(again), _batches(again)]
    assert epochs[0] != epochs[1], "each epoch draws a new order"
    assert sorted(sum(epochs[0], [])) == list(range(10))


def test_torch_style_generator():
    data = TensorDataset(tg.arange(10))
    generator = tg.Generator().manual_seed(7)
    first = _batches(DataLoader(data, batch_size=4, shuffle=True, generator=generator))
    assert generator.initial_seed() == 7
    assert _batches(DataLoader(data, batch_size=4, shuffle=True, generator=generator.manual_seed(7))) == first
    with pytest.raises(ValueError, match="Generator: only device 'cpu' is supported"):
        tg.Generator("cuda")


def test_global_seed_drives_shuffling_without_a_generator():
    data = TensorDataset(tg.arange(10))
    tg.manual_seed(11)
    first = _batches(DataLoader(data, batch_size=4, shuffle=True))
    tg.manual_seed(11)
    assert _batches(DataLoader(data, batch_size=4, shuffle=True)) == first


def test_drop_last_and_lengths():
    data = TensorDataset(tg.arange(10), tg.arange(10) * 2)
    loader = DataLoader(data, batch_size=4, drop_last=True)
    assert len(loader) == 2 and [x.tolist() for x, _ in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(data, batch_size=4)) == 3
    assert [x.item() for x, _ in DataLoader(data, batch_size=None)][:3] == [0, 1, 2]


def test_bucketing_with_a_padding_collate():
    sequences = [np.arange(n) for n in [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]]

    class Sequences(Dataset):
        def __getitem__(self, i):
            return tg.tensor(sequences[i])

        def __len__(self):
            return len(sequences)
    sampler = BucketBatchSampler([len(s) for s in sequences], 3, generator=np.random.default_rng(0), pool=2)
    loader = DataLoader(Sequences(), batch_sampler=sampler,
                        collate_fn=lambda batch: (pad_sequence(batch, batch_first=True), [len(s) for s in batch]))
    seen = []
    for padded, lengths in loader:
        assert padded.shape == (len(lengths), max(lengths)) and lengths == sorted(lengths, reverse=True)
        seen += lengths
    assert sorted(seen) == sorted(len(s) for s in sequences) and len(loader) == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(num_workers=2), "num_workers=2 is not supported: batches are loaded in the calling process"),
    (dict(pin_memory=True), "pin_memory=True is not supported"),
    (dict(batch_size=0), "batch_size must be a positive int or None, got 0"),
    (dict(batch_sampler=[[0]], batch_size=2), "batch_sampler replaces batch_size, shuffle, sampler and drop_last"),
    (dict(sampler=[0, 1], shuffle=True), "sampler gives the order; pass shuffle=False"),
])
def test_loader_refusals_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(TensorDataset(tg.arange(3)), **kwargs)


def test_dataset_checks():
    with pytest.raises(ValueError, match="TensorDataset: every tensor needs the same first dimension"):
        TensorDataset(tg.zeros(3), tg.zeros(4))
    with pytest.raises(TypeError, match="generator must be a tg.Generator or a numpy.random.Generator, got int"):
        list(DataLoader(TensorDataset(tg.arange(3)), shuffle=True, generator=5))
    with pytest.raises(TypeError, match="default_collate: cannot batch samples of type object"):
        list(DataLoader([object(), object()], batch_size=2))
