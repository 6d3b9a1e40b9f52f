"""The char-LM's fast paths against the plain layer calls they replace: the fused head loss
(CharLM.loss) and one-step sampling (nn.stepper)."""
import math

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import functional as F
from tinygrad_rnn.apps import charlm
from tinygrad_rnn.datasets import Vocab

TEXT = "the quick brown fox jumps over the lazy dog. " * 20


def _model(cell, dtype=None):
    vocab = Vocab(sorted(set(TEXT)), specials=())
    model = charlm.CharLM(len(vocab), hidden=24, layers=2, cell=cell, embedding=8)
    if dtype is not None:
        model.load_state_dict({k: v.numpy().astype(dtype) for k, v in model.state_dict().items()})
    return model, vocab


def _sample_through_the_layer(model, vocab, prime, length, temperature, seed, state=None):
    """charlm.sample as it was: the whole model called on one character at a time."""
    rng = np.random.default_rng(seed)
    out = list(prime)
    with tg.no_grad():
        logits, state = model(tg.Tensor(vocab.encode(prime)[:, None]), state)
        for _ in range(length):
            z = logits.numpy()[-1, 0].astype(np.float64) / temperature
            p = np.exp(z - z.max())
            index = rng.choice(len(p), p=p / p.sum())
            out.append(vocab.itos[index])
            logits, state = model(tg.Tensor(np.array([[index]])), state)
    return "".join(out)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_sample_equals_sampling_through_the_layer(cell):
    model, vocab = _model(cell, np.float64)   # float64: no draw can flip on a rounding difference
    for seed in range(3):
        assert (charlm.sample(model, vocab, "the ", 60, 0.8, seed)
                == _sample_through_the_layer(model, vocab, "the ", 60, 0.8, seed))


def test_sample_starts_from_the_given_state():
    model, vocab = _model("lstm", np.float64)
    weights = model.state_dict()
    model.load_state_dict({**weights, "head.weight": weights["head.weight"].numpy() * 30})  # h matters
    rng = np.random.default_rng(0)
    dtype = model.rnn.weight_hh_l0.dtype
    state = tuple(tg.Tensor(rng.normal(size=(2, 1, 24)), dtype=dtype) for _ in range(2))   # (h0, c0), batch 1
    for seed in range(3):
        assert (charlm.sample(model, vocab, "t", 40, 0.8, seed, state=state)
                == _sample_through_the_layer(model, vocab, "t", 40, 0.8, seed, state))
    assert charlm.sample(model, vocab, "t", 40, 0.8, 0, state=state) != charlm.sample(model, vocab, "t", 40, 0.8, 0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_loss_and_bpc_equal_the_logits_path(cell):
    model, vocab = _model(cell)
    ids = vocab.encode(TEXT)
    inputs, targets = ids[:40].reshape(4, 10).T, ids[1:41].reshape(4, 10).T
    loss, _ = model.loss(tg.Tensor(inputs), targets)
    logits, _ = model(tg.Tensor(inputs))
    expected = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.Tensor(targets.reshape(-1)))
    np.testing.assert_allclose(loss.numpy(), expected.numpy(), rtol=1e-6)
    with tg.no_grad():
        logits, _ = model(tg.Tensor(ids[:-1, None]))
        nats = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tg.Tensor(ids[1:])).item()
    np.testing.assert_allclose(charlm.evaluate_bpc(model, ids, seq_len=len(ids), batch_size=1),
                               nats / math.log(2), rtol=1e-5)


def _log2_probability(model, vocab, prime, text):
    """log2 p(text[len(prime):] | prime) from one whole-sequence call of the model."""
    ids = vocab.encode(text)
    with tg.no_grad():
        logits, _ = model(tg.Tensor(ids[:-1, None]))
        log_p = F.log_softmax(logits.reshape(len(ids) - 1, -1), axis=-1).numpy()
    picked = log_p[np.arange(len(ids) - 1), ids[1:]]
    return float(picked[len(prime) - 1:].sum() / math.log(2))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_beam_of_one_is_greedy_decoding_through_the_layer(cell):
    model, vocab = _model(cell)
    text, bits = charlm.beam_search(model, vocab, "the ", 25, beam=1)
    greedy = list("the ")
    with tg.no_grad():
        for _ in range(25):
            logits, _ = model(tg.Tensor(vocab.encode("".join(greedy))[:, None]))
            greedy.append(vocab.itos[int(np.argmax(logits.numpy()[-1, 0]))])
    assert text == "".join(greedy)
    assert bits == pytest.approx(_log2_probability(model, vocab, "the ", text), abs=1e-4)


def test_beam_search_reports_the_log_probability_of_what_it_returns():
    model, vocab = _model("lstm")
    text, bits = charlm.beam_search(model, vocab, "the q", 20, beam=5)
    assert text.startswith("the q") and len(text) == 25
    assert bits == pytest.approx(_log2_probability(model, vocab, "the q", text), abs=1e-4)
