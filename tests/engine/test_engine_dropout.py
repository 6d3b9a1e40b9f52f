"""Dropout: inverted-dropout mask semantics, seeding, and the gradient through the mask."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F


@pytest.mark.parametrize("p", [0.2, 0.5, 0.9])
def test_kept_elements_are_scaled_and_gradient_follows_the_mask(p, device):
    x = tg.Tensor(np.random.default_rng(0).uniform(1, 2, (200, 50)), requires_grad=True, device=device)
    y = F.dropout(x, p)
    out, values = y.numpy(), x.numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], values[kept] / (1 - p), rtol=1e-12)
    # 10,000 Bernoulli(1 - p) draws: the kept fraction is within 5 standard deviations
    assert abs(kept.mean() - (1 - p)) < 5 * np.sqrt(p * (1 - p) / kept.size)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / (1 - p), rtol=1e-12)


def test_same_seed_same_mask(device):
    x = tg.ones(100, device=device)
    tg.manual_seed(7)
    first = F.dropout(x, 0.5).numpy()
    tg.manual_seed(7)
    np.testing.assert_array_equal(F.dropout(x, 0.5).numpy(), first)
    assert not np.array_equal(F.dropout(x, 0.5).numpy(), first)


def test_identity_when_not_training_or_p_zero():
    x = tg.randn(3, 4, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_invalid_probability(p):
    with pytest.raises(ValueError, match=r"dropout: probability must be in \[0, 1\)"):
        F.dropout(tg.ones(3), p)
