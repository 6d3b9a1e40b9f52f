"""The pieces together: a small classifier trained with each optimizer, gradient clipping and
a schedule learns XOR (a problem no linear model solves)."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.functional import cross_entropy

SETTINGS = [(optim.SGD, dict(lr=0.5, momentum=0.9)), (optim.Adam, dict(lr=0.05)), (optim.AdamW, dict(lr=0.05)),
            (optim.RMSprop, dict(lr=0.02)), (optim.Adagrad, dict(lr=0.3))]


@pytest.mark.parametrize("cls, kwargs", SETTINGS, ids=[c.__name__ for c, _ in SETTINGS])
def test_mlp_learns_xor(cls, kwargs):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 2)).astype(np.float32)
    y = ((x[:, 0] > 0) ^ (x[:, 1] > 0)).astype(np.int64)
    model = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.LayerNorm(16), nn.Linear(16, 2))
    opt = cls(model.parameters(), **kwargs)
    schedule = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=300, eta_min=0.1 * kwargs["lr"])
    inputs, targets = tg.Tensor(x), tg.Tensor(y)
    first = None
    for _ in range(300):
        opt.zero_grad()
        loss = cross_entropy(model(inputs), targets)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        first = first if first is not None else loss.item()
    accuracy = (model(inputs).argmax(axis=1).numpy() == y).mean()
    assert loss.item() < 0.3 * first and accuracy >= 0.95
