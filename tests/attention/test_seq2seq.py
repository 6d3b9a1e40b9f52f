"""Seq2Seq: shapes, padding invariance, teacher forcing, greedy = one-beam search, beam search
against brute-force enumeration, and bad input."""
import itertools

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn.nn.seq2seq import Seq2Seq

PAD, BOS, EOS = 0, 1, 2


def make_model(seed=0, src_vocab=9, tgt_vocab=7, scale=1.0, **options):
    """A random float64 model; ``scale`` multiplies the output layer to make it more decisive."""
    tg.manual_seed(seed)
    options = {"embedding_size": 5, "hidden_size": 6, "dtype": np.float64, **options}
    model = Seq2Seq(src_vocab, tgt_vocab, **options)
    model.decoder.output.weight.data = model.decoder.output.weight.data * scale
    return model


def make_batch(seed=0, batch=4, src_len=6, tgt_len=5, src_vocab=9, tgt_vocab=7):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, src_len + 1, batch)
    lengths[0] = src_len
    src = rng.integers(3, src_vocab, (batch, src_len))
    src[np.arange(src_len)[None, :] >= lengths[:, None]] = PAD
    tgt = rng.integers(3, tgt_vocab, (batch, tgt_len))
    return src, lengths, tgt


def sequence_log_prob(model, src, lengths, tgt):
    """log p(tgt | src) per row from teacher-forced logits, padding excluded."""
    log_probs = tg.functional.log_softmax(model(src, lengths, tgt), axis=-1).numpy()
    picked = np.take_along_axis(log_probs, tgt[..., None], axis=-1)[..., 0]
    return (picked * (tgt != PAD)).sum(-1)


CONFIGS = [dict(cell=c, input_feeding=f, bidirectional=b, num_layers=n)
           for c, f, b, n in [("lstm", True, True, 1), ("lstm", False, False, 2), ("gru", True, False, 1),
                              ("gru", False, True, 2)]]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_shapes_and_gradients_reach_every_parameter(config):
    model = make_model(**config)
    src, lengths, tgt = make_batch()
    logits = model(src, lengths, tgt)
    assert logits.shape == (4, 5, 7)
    model.loss(logits, tgt).backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and np.all(np.isfinite(parameter.grad.numpy())), name
    out = model.generate(src, lengths, max_len=4, beam_size=3)
    steps = out.tokens.shape[1]
    assert out.tokens.shape == (4, steps) and 1 <= steps <= 4 and out.lengths.shape == out.scores.shape == (4,)
    assert out.weights.shape == (4, steps, 6)


@pytest.mark.parametrize("config", CONFIGS[:2], ids=["feeding", "parallel"])
def test_padding_and_its_content_do_not_change_the_output(config):
    model = make_model(**config)
    src, lengths, tgt = make_batch()
    logits = model(src, lengths, tgt).numpy()
    padded = np.concatenate([src, np.full((4, 3), PAD)], axis=1)
    noisy = np.where(np.arange(9)[None, :] >= lengths[:, None], np.random.default_rng(1).integers(0, 9, (4, 9)), padded)
    for longer in (padded, noisy):
        np.testing.assert_allclose(model(longer, lengths, tgt).numpy(), logits, rtol=1e-12, atol=1e-12)
    alone = model(src[1:2, :lengths[1]], lengths[1:2], tgt[1:2]).numpy()
    np.testing.assert_allclose(alone, logits[1:2], rtol=1e-12, atol=1e-12)
    # padded target positions are ignored by the loss
    tgt_padded = tgt.copy()
    tgt_padded[:, 3:] = PAD
    loss = model.loss(model(src, lengths, tgt_padded), tgt_padded).item()
    log_probs = tg.functional.log_softmax(model(src, lengths, tgt_padded), axis=-1).numpy()[:, :3]
    np.testing.assert_allclose(loss, -np.take_along_axis(log_probs, tgt[:, :3, None], -1).mean(), rtol=1e-12)


def test_parallel_teacher_forcing_equals_the_step_loop():
    model = make_model(input_feeding=False)
    src, lengths, tgt = make_batch()
    logits = model(src, lengths, tgt).numpy()
    memory, state = model.encode(src, lengths)
    inputs = np.concatenate([np.full((4, 1), BOS), tgt[:, :-1]], axis=1)
    for t in range(tgt.shape[1]):
        step_logits, state, _ = model.decoder.step(inputs[:, t], state, memory)
        np.testing.assert_allclose(step_logits.numpy(), logits[:, t], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("input_feeding", [True, False])
def test_no_teacher_forcing_follows_the_greedy_decoder(input_feeding):
    model = make_model(scale=3.0, input_feeding=input_feeding)
    src, lengths, tgt = make_batch(tgt_len=6)
    free = model(src, lengths, tgt, teacher_forcing=0.0)
    greedy = model.generate(src, lengths, max_len=6)
    free_tokens = free.numpy().copy()
    free_tokens[..., [PAD, BOS]] = -np.inf
    free_tokens = free_tokens.argmax(-1)
    for row, length in enumerate(greedy.lengths.numpy()):
        np.testing.assert_array_equal(free_tokens[row, :length], greedy.tokens.numpy()[row, :length])
    forced = model(src, lengths, tgt, teacher_forcing=1.0)
    assert not np.allclose(forced.numpy()[:, 1:], free.numpy()[:, 1:])  # the inputs differ after step 0
    np.testing.assert_allclose(forced.numpy()[:, 0], free.numpy()[:, 0], rtol=1e-12)  # both start at BOS


def test_partial_teacher_forcing_is_seeded_and_mixes():
    model = make_model(scale=3.0)
    src, lengths, tgt = make_batch(tgt_len=6)
    runs = []
    for _ in range(2):
        tg.manual_seed(5)
        runs.append(model(src, lengths, tgt, teacher_forcing=0.5).numpy())
    np.testing.assert_array_equal(runs[0], runs[1])
    ends = [model(src, lengths, tgt, teacher_forcing=p).numpy() for p in (0.0, 1.0)]
    assert not np.allclose(runs[0], ends[0]) and not np.allclose(runs[0], ends[1])


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("input_feeding", [True, False])
def test_one_beam_search_equals_greedy(seed, input_feeding):
    model = make_model(seed, scale=2.0, input_feeding=input_feeding)
    src, lengths, _ = make_batch(seed)
    greedy = model.generate(src, lengths, max_len=7, beam_size=1)
    memory, state = model.encode(src, lengths)
    with tg.no_grad():
        beam = model._beam_search(memory, state, 7, 1, 1.0)  # the beam code path with one beam
    for a, b in zip(greedy, beam):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def all_outputs(vocab, max_len):
    """Every output the decoder can produce: w EOS with len(w) < max_len, or w of max_len tokens."""
    words = [t for t in range(vocab) if t not in (PAD, BOS, EOS)]
    for length in range(max_len + 1):
        for word in itertools.product(words, repeat=length):
            if length < max_len:
                yield list(word) + [EOS]
            else:
                yield list(word)


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
def test_beam_search_finds_the_brute_force_optimum_where_greedy_fails(length_penalty):
    vocab, max_len, greedy_missed, beam_beat_greedy = 5, 3, 0, 0
    for seed in range(6):
        model = make_model(seed, tgt_vocab=vocab, scale=4.0)
        src, lengths, _ = make_batch(seed, batch=3, tgt_vocab=vocab)
        candidates = list(all_outputs(vocab, max_len))  # 1 + 2 + 4 + 8 = 15
        padded = np.array([c + [PAD] * (max_len - len(c)) for c in candidates])
        best = []
        for row in range(3):
            repeat = lambda a: np.repeat(a[row:row + 1], len(candidates), axis=0)  # noqa: E731
            log_p = sequence_log_prob(model, repeat(src), repeat(lengths), padded)
            normalised = log_p / np.array([len(c) for c in candidates]) ** length_penalty
            best.append((candidates[int(normalised.argmax())], normalised.max()))
        exhaustive = model.generate(src, lengths, max_len, beam_size=len(candidates), length_penalty=length_penalty)
        greedy = model.generate(src, lengths, max_len, length_penalty=length_penalty)
        narrow = model.generate(src, lengths, max_len, beam_size=2, length_penalty=length_penalty)
        for row, (tokens, score) in enumerate(best):
            length = int(exhaustive.lengths.numpy()[row])
            assert exhaustive.tokens.numpy()[row, :length].tolist() == tokens
            np.testing.assert_allclose(exhaustive.scores.numpy()[row], score, rtol=1e-10)
            assert greedy.scores.numpy()[row] <= score + 1e-10 and narrow.scores.numpy()[row] <= score + 1e-10
            greedy_missed += greedy.scores.numpy()[row] < score - 1e-9
            beam_beat_greedy += narrow.scores.numpy()[row] > greedy.scores.numpy()[row] + 1e-9
    assert greedy_missed > 0 and beam_beat_greedy > 0  # the check is not vacuous


def test_generated_scores_are_the_model_probabilities():
    model = make_model(3, scale=3.0)
    src, lengths, _ = make_batch(3)
    out = model.generate(src, lengths, max_len=5, beam_size=3, length_penalty=0.0)
    tokens = out.tokens.numpy()
    np.testing.assert_allclose(sequence_log_prob(model, src, lengths, tokens), out.scores.numpy(), rtol=1e-10)
    after_end = np.arange(tokens.shape[1])[None, :] >= out.lengths.numpy()[:, None]
    assert np.all(tokens[after_end] == PAD) and np.all(out.weights.numpy()[after_end] == 0)
    ends_with_eos = tokens[np.arange(4), out.lengths.numpy() - 1] == EOS
    assert np.all(ends_with_eos | (out.lengths.numpy() == 5))
    np.testing.assert_allclose(out.weights.numpy()[~after_end].sum(-1), 1, rtol=1e-12)


def test_bad_input_names_what_is_wrong():
    model = make_model()
    src, lengths, tgt = make_batch()
    with pytest.raises(ValueError, match="beam_size must be a positive integer, got 0"):
        model.generate(src, lengths, max_len=3, beam_size=0)
    with pytest.raises(ValueError, match="max_len must be a positive integer, got 0"):
        model.generate(src, lengths, max_len=0)
    with pytest.raises(ValueError, match=r"Seq2Seq.forward: src holds token id 9, outside the vocabulary \[0, 9\)"):
        model(np.where(src == 3, 9, src), lengths, tgt)
    with pytest.raises(ValueError, match=r"Seq2Seq.generate: src holds token id -1"):
        model.generate(np.where(src == 3, -1, src), lengths, max_len=3)
    with pytest.raises(ValueError, match=r"Seq2Seq.forward: tgt holds token id 7, outside the vocabulary \[0, 7\)"):
        model(src, lengths, np.where(tgt == 3, 7, tgt))
    with pytest.raises(ValueError, match=r"batch sizes differ: src has 4 sequences, tgt \(3, 5\) has 3"):
        model(src, lengths, tgt[:3])
    with pytest.raises(ValueError, match=r"src_lengths must be \(4,\) integers"):
        model(src, lengths[:3], tgt)
    with pytest.raises(ValueError, match=r"src_lengths must lie in \[1, 6\]"):
        model(src, np.array([6, 0, 1, 2]), tgt)
    with pytest.raises(ValueError, match="teacher_forcing is a probability"):
        model(src, lengths, tgt, teacher_forcing=1.5)
    with pytest.raises(ValueError, match="Encoder: cell must be one of"):
        Seq2Seq(5, 5, cell="rnn")
    with pytest.raises(ValueError, match="Seq2Seq: eos_id=9 is outside the target vocabulary"):
        Seq2Seq(5, 5, eos_id=9)


def test_runs_on_every_device_like_on_cpu(device):
    src, lengths, tgt = make_batch()
    results = []
    for where in ("cpu", device):
        model = make_model(device=where)
        loss = model.loss(model(src, lengths, tgt, teacher_forcing=0.5), tgt)
        loss.backward()
        out = model.generate(src, lengths, max_len=4, beam_size=2)
        results.append([loss.numpy(), model.encoder.embedding.weight.grad.numpy(), *(o.numpy() for o in out)])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_token_ids_given_as_device_arrays(device):
    """Raw backend arrays of ids work: on the model's device they give the same loss as NumPy
    ids; another device's arrays raise naming both devices (never a NumPy conversion error)."""
    src, lengths, tgt = make_batch()
    model = make_model(device=device)
    on_device = tg.backend.get_device(device)
    expected = model.loss(model(src, lengths, tgt), tgt).numpy()
    raw = model.loss(model(on_device.asarray(src), lengths, on_device.asarray(tgt)), on_device.asarray(tgt))
    np.testing.assert_array_equal(raw.numpy(), expected)
    if device != "strict":  # NumPy arrays are host data for every device; strict arrays are not
        with pytest.raises(RuntimeError, match=f"src is on device 'strict' but the model is on '{device}'"):
            model(tg.backend.get_device("strict").asarray(src), lengths, tgt)
