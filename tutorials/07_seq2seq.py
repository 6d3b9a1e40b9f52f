# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 7. Sequence to sequence
#
# **What you will learn**
#
# - how an **encoder** RNN reads an input sequence into a state and a **decoder** RNN writes an
#   output sequence of another length from it (Sutskever, Vinyals & Le 2014; Cho et al. 2014),
#   built here from the framework's layers so every piece is visible;
# - one-hot inputs, and why multiplying a one-hot vector by a matrix is an embedding lookup;
# - **teacher forcing** (the decoder reads the true previous token while training) against
#   **feeding back its own predictions**, trained side by side, and *exposure bias*: a model
#   trained with teacher forcing has never seen its own mistakes;
# - **greedy** decoding against **beam search**, written out by hand, with measured accuracies
#   and log-probabilities.
#
# The task, made by the tutorial: **reverse a string of digits**, "4 0 7 2" → "2 7 0 4", for
# strings of 3 to 6 digits. Prerequisite: [tutorial 4](04_lstm.py); the LSTM's parameter names
# are in [the notation table](NOTATION.md).

# %%
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is fastest

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn.apps.plotting import save_and_show  # noqa: E402
from tinygrad_rnn import functional as F, nn, optim  # noqa: E402

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## The data and one-hot vectors
#
# Source tokens are the digits 0-9. The decoder has two more: **EOS** (10), which it emits to end
# its output, and **BOS** (11), which it reads as its first input. Every token enters an RNN as a
# one-hot vector $x = e_k$. The first thing the RNN does with it is a matrix product,
# $W_{xh} e_k$, which is just column $k$ of $W_{xh}$: a one-hot input *is* an embedding lookup
# (`nn.Embedding` does the same with the row index and no multiplications).

# %%
DIGITS, EOS, BOS = 10, 10, 11
MIN_LEN, MAX_LEN = 3, 6


def make_batch(rng, batch):
    """Random digit strings (padded with 0) and their lengths; the target is the reverse."""
    lengths = rng.integers(MIN_LEN, MAX_LEN + 1, batch)
    source = rng.integers(0, DIGITS, (batch, MAX_LEN)) * (np.arange(MAX_LEN) < lengths[:, None])
    target = np.full((batch, MAX_LEN + 1), -100)                    # -100: ignored by the loss
    for row, n in enumerate(lengths):
        target[row, :n] = source[row, :n][::-1]
        target[row, n] = EOS
    return source, lengths, target


def one_hot(ids, size):
    return np.eye(size, dtype=np.float32)[ids]


source, lengths, target = make_batch(np.random.default_rng(0), 3)
for s, n, t in zip(source, lengths, target):
    print("source", s[:n], "-> target", t[:n + 1], "(10 = EOS)")
tg.manual_seed(0)
layer = nn.Linear(DIGITS, 4, bias=False)
lookup_error = np.abs(layer(tg.tensor(one_hot(source[0], DIGITS))).numpy() - layer.weight.numpy().T[source[0]]).max()
print("one-hot @ Wᵀ vs picking the columns of W, largest difference:", lookup_error)

# %% [markdown]
# ## Encoder and decoder
#
# $$\text{encoder: } h_s = \mathrm{LSTM}_{\text{enc}}(e_{x_s}, h_{s-1}),\ s = 1..S; \qquad
#   \text{decoder: } g_0 = h_S,\quad g_t = \mathrm{LSTM}_{\text{dec}}(e_{y_{t-1}}, g_{t-1}),\quad
#   p(y_t \mid y_{<t}, x) = \operatorname{softmax}(W_{hy} g_t + b_y).$$
#
# The encoder's last state (both $h$ and $c$ of the LSTM) is all the decoder knows about the
# source: a fixed-size bottleneck that tutorial 8's attention removes. The encoder reads a padded
# batch with `lengths=`, so each string's state is taken at its own last digit. The decoder's
# output layer scores the 10 digits and EOS.
#
# **Teacher forcing**: while training, the decoder's input at step $t$ is the *true* previous
# token $y_{t-1}$ (BOS first), so the whole target is known in advance and the decoder runs over
# it in one call. **Feeding back predictions** (free running): the input at step $t$ is the
# model's own most probable token from step $t-1$, as at test time; the decoder must then run
# one step at a time. The loss is the same cross-entropy either way.

# %%
H = 64


class Seq2Seq(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.LSTM(DIGITS, H, batch_first=True)
        self.decoder = nn.LSTM(DIGITS + 2, H, batch_first=True)
        self.output = nn.Linear(H, DIGITS + 1)                          # digits and EOS

    def encode(self, source, lengths):
        _, state = self.encoder(tg.tensor(one_hot(source, DIGITS)), lengths=lengths)
        return state                                                     # (h, c), each (1, N, H)

    def step(self, tokens, state):
        """One decoder step: tokens (N,) -> log-probabilities (N, 11) and the new state."""
        out, state = self.decoder(tg.tensor(one_hot(tokens, DIGITS + 2))[:, None], state)
        return F.log_softmax(self.output(out[:, 0]), axis=-1), state

    def teacher_forced(self, source, lengths, target):
        inputs = np.concatenate([np.full((len(source), 1), BOS), np.maximum(target[:, :-1], 0)], axis=1)
        out, _ = self.decoder(tg.tensor(one_hot(inputs, DIGITS + 2)), self.encode(source, lengths))
        return F.log_softmax(self.output(out), axis=-1)                 # (N, T, 11)

    def free_running(self, source, lengths, steps):
        state, tokens, outputs = self.encode(source, lengths), np.full(len(source), BOS), []
        for _ in range(steps):
            log_probs, state = self.step(tokens, state)
            outputs.append(log_probs)
            tokens = log_probs.numpy().argmax(axis=-1)                 # its own prediction, no gradient
        return F.stack(outputs, axis=1)


def sequence_loss(log_probs, target):
    return F.nll_loss(log_probs.reshape(-1, DIGITS + 1), tg.tensor(target.reshape(-1)))

# %% [markdown]
# Two models, identical at the start (same seed), train for 500 steps of Adam (learning rate
# $5 \cdot 10^{-3}$, batches of 64 strings, gradient norm clipped at 1) on the same batches:
# one with teacher forcing, one on its own predictions. We record, every 50 steps, the exact-match
# accuracy of greedy decoding on 500 fixed held-out strings.

# %%
STEPS, BATCH = 500, 64
held_out = make_batch(np.random.default_rng(999), 500)


def greedy_decode(model, source, lengths, max_steps=MAX_LEN + 1):
    """The most probable token at each step; returns the tokens (N, steps) and log p of each output."""
    with tg.no_grad():
        state, tokens = model.encode(source, lengths), np.full(len(source), BOS)
        finished, total, outputs = np.zeros(len(source), bool), np.zeros(len(source)), []
        for _ in range(max_steps):
            log_probs, state = model.step(tokens, state)
            log_probs = log_probs.numpy()
            tokens = log_probs.argmax(axis=-1)
            total += np.where(finished, 0.0, log_probs[np.arange(len(tokens)), tokens])
            outputs.append(np.where(finished, EOS, tokens))
            finished |= tokens == EOS
    return np.stack(outputs, axis=1), total


def exact_match(outputs, target):
    """Whole strings right, EOS included (what follows EOS is ignored)."""
    return float(np.mean([np.array_equal(o[:np.argmax(t == EOS) + 1], t[:np.argmax(t == EOS) + 1])
                          for o, t in zip(outputs, target)]))


def train(mode, steps=STEPS):
    tg.manual_seed(0)
    model = Seq2Seq()
    optimizer = optim.Adam(model.parameters(), lr=5e-3)
    data = np.random.default_rng(0)
    curve, start = [], time.perf_counter()
    for step in range(1, steps + 1):
        source, lengths, target = make_batch(data, BATCH)
        if mode == "teacher forcing":
            log_probs = model.teacher_forced(source, lengths, target)
        else:
            log_probs = model.free_running(source, lengths, target.shape[1])
        loss = sequence_loss(log_probs, target)
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % 50 == 0:
            curve.append(exact_match(greedy_decode(model, *held_out[:2])[0], held_out[2]))
    return model, np.array(curve), time.perf_counter() - start


models, curves = {}, {}
for mode in ("teacher forcing", "own predictions"):
    models[mode], curves[mode], seconds = train(mode)
    print(f"{mode:16s} held-out exact match every 50 steps: {curves[mode]}   ({seconds:.0f} s)")
first_above = {mode: 50 * (1 + int(np.argmax(curve >= 0.6))) for mode, curve in curves.items()}
print("first reached 0.6 at step:", first_above)

# %% [markdown]
# Teacher forcing learns faster: every step of every target gets a useful gradient from the
# start, while the free-running model's early predictions are mostly wrong, so it trains on
# prefixes that lead nowhere. Feeding
# back catches up later, because it trains in the conditions of testing; the curves above show
# how far it has come by step 500.

# %% [markdown]
# **Exposure bias.** The teacher-forced model was only ever shown correct prefixes. Measured per
# token on the held-out strings, its accuracy with the *true* previous tokens as input is higher
# than with its *own* previous outputs, because one early mistake puts it in a state it never
# trained in. The free-running model, trained on its own outputs, is measured the same way for
# comparison. (Scheduled sampling, `teacher_forcing=p` in `nn.Seq2Seq`, mixes the two.)

# %%
def token_accuracy(model, source, lengths, target, forced):
    with tg.no_grad():
        log_probs = (model.teacher_forced(source, lengths, target) if forced
                     else model.free_running(source, lengths, target.shape[1]))
    predicted, real = log_probs.numpy().argmax(axis=-1), target != -100
    return float((predicted == target)[real].mean())


tf_model = models["teacher forcing"]
forced_accuracy = token_accuracy(tf_model, *held_out, forced=True)
own_accuracy = token_accuracy(tf_model, *held_out, forced=False)
print(f"teacher-forced model, per-token accuracy: given the true prefix {forced_accuracy:.4f}, "
      f"given its own outputs {own_accuracy:.4f}")
own_model_own_accuracy = token_accuracy(models["own predictions"], *held_out, forced=False)
print(f"free-running model, per-token accuracy given its own outputs {own_model_own_accuracy:.4f}")

# %% [markdown]
# ## Greedy decoding and beam search
#
# We want the output $y$ that maximises $\log p(y \mid x) = \sum_t \log p(y_t \mid y_{<t}, x)$.
# **Greedy** decoding takes the most probable token at each step; a good first token may lead
# to a worse whole sequence. **Beam search** keeps the $k$ most probable prefixes at every step:
# each is extended by every token, and the $k$ best of the $k \times 11$ extensions survive. A
# prefix that has emitted EOS is finished and keeps its score. At the end, the best finished
# hypothesis wins (`nn.Seq2Seq.generate(beam_size=k)` does the same, batched). Beam search is
# not exhaustive: the greedy path can drop out of the beam when $k$ other prefixes are ahead of
# it for a while, so on a few strings greedy may still find the more probable output (also
# when greedy's output never ended, which the beam does not count).
#
# The difference shows on a model that is not yet perfect, so we decode a copy of the
# teacher-forced model trained for 150 steps only.

# %%
def beam_search(model, source, length, beam_size, max_steps=MAX_LEN + 1):
    """One source string; returns (tokens, log p) of the best hypothesis."""
    with tg.no_grad():
        state = model.encode(source[None], np.array([length]))
        beams = [([], 0.0, False)]                                     # (tokens, log p, finished)
        for _ in range(max_steps):
            if all(done for _, _, done in beams):
                break
            last = np.array([tokens[-1] if tokens else BOS for tokens, _, _ in beams])
            log_probs, new_state = model.step(last, state)             # one row per beam
            log_probs = log_probs.numpy()
            candidates = []
            for b, (tokens, score, done) in enumerate(beams):
                if done:
                    candidates.append((score, b, None))                # finished: carried as it is
                else:
                    candidates += [(score + log_probs[b, k], b, k) for k in range(DIGITS + 1)]
            candidates.sort(key=lambda item: -item[0])
            chosen = candidates[:beam_size]
            beams = [(beams[b][0] + ([] if k is None else [k]), score, beams[b][2] or k == EOS)
                     for score, b, k in chosen]
            rows = np.array([b for _, b, _ in chosen])                 # each survivor's parent
            state = (new_state[0][:, rows], new_state[1][:, rows])
        tokens, score, _ = max(beams, key=lambda beam: beam[1] if beam[2] else -np.inf)
    return tokens, score


early_model = train("teacher forcing", steps=150)[0]
test_source, test_lengths, test_target = (a[:200] for a in held_out)
greedy_outputs, greedy_log_p = greedy_decode(early_model, test_source, test_lengths)
beam_results = [beam_search(early_model, s, n, beam_size=4) for s, n in zip(test_source, test_lengths)]
beam_outputs = np.array([(tokens + [EOS] * (MAX_LEN + 1))[:MAX_LEN + 1] for tokens, _ in beam_results])
beam_log_p = np.array([score for _, score in beam_results])
greedy_exact, beam_exact = exact_match(greedy_outputs, test_target), exact_match(beam_outputs, test_target)
# a beam of width 1 is greedy decoding: the same tokens and the same log p (where greedy ended)
width_one = [beam_search(early_model, s, n, beam_size=1) for s, n in zip(test_source[:50], test_lengths[:50])]
ended = [i for i in range(50) if EOS in greedy_outputs[i]]
width_one_agrees = all(width_one[i][0] == greedy_outputs[i][:np.argmax(greedy_outputs[i] == EOS) + 1].tolist()
                       and abs(width_one[i][1] - greedy_log_p[i]) < 1e-4 for i in ended)
print(f"beam search with k = 1 reproduces greedy decoding on the {len(ended)} of 50 strings where greedy ended: "
      f"{width_one_agrees}")
differ = [i for i in range(len(test_source)) if not np.array_equal(greedy_outputs[i], beam_outputs[i])]
print(f"model after 150 steps, 200 held-out strings: exact match greedy {greedy_exact:.3f}, beam (k=4) {beam_exact:.3f}")
print(f"mean log p of the output: greedy {greedy_log_p.mean():.3f}, beam {beam_log_p.mean():.3f}; "
      f"the outputs differ on {len(differ)} strings, beam's log p ≥ greedy's on "
      f"{np.mean(beam_log_p >= greedy_log_p - 1e-6):.3f} of them all")
greedy_right = np.array([exact_match(greedy_outputs[i:i + 1], test_target[i:i + 1]) for i in range(len(test_source))])
beam_right = np.array([exact_match(beam_outputs[i:i + 1], test_target[i:i + 1]) for i in range(len(test_source))])
print(f"beam right where greedy was wrong: {int(np.sum(beam_right > greedy_right))}; "
      f"greedy right where beam was wrong: {int(np.sum(greedy_right > beam_right))}")
for i in differ[:4]:
    n = test_lengths[i]
    print(f"  {test_source[i][:n]} -> greedy {greedy_outputs[i][:np.argmax(greedy_outputs[i] == EOS)]} "
          f"(log p {greedy_log_p[i]:.2f}), beam {beam_outputs[i][:np.argmax(beam_outputs[i] == EOS)]} "
          f"(log p {beam_log_p[i]:.2f}), truth {test_target[i][:n]}")

# %% [markdown]
# Beam search maximises the probability of the whole output, not its accuracy: while the model
# is unsure it fixes more of greedy's mistakes than it makes, but it can also find a more
# probable *wrong* output where greedy was right (both counts are printed above).

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
for mode, curve in curves.items():
    axes[0].plot(np.arange(50, STEPS + 1, 50), curve, marker="o", label=f"trained with {mode}")
axes[0].set_xlabel("training step")
axes[0].set_ylabel("held-out exact match (greedy)")
axes[0].set_ylim(-0.02, 1.02)
axes[0].set_title("Reversing 3-6 digits: teacher forcing vs own predictions", fontsize=10)
axes[0].legend()
axes[1].scatter(greedy_log_p, beam_log_p, s=12, alpha=0.6)
low = min(greedy_log_p.min(), beam_log_p.min())
axes[1].plot([low, 0], [low, 0], color="0.5", ls="--", lw=0.8, label="equal")
axes[1].set_xlabel("log p(output) with greedy decoding")
axes[1].set_ylabel("log p(output) with beam search, k = 4")
axes[1].set_title(f"Model after 150 steps: exact match greedy {greedy_exact:.2f}, beam {beam_exact:.2f}", fontsize=10)
axes[1].legend()
fig.tight_layout()
save_and_show(fig, "07_seq2seq.png")

# %% [markdown]
# ## Check yourself

# %%
# a one-hot input times a matrix picks a column
assert lookup_error == 0
# both learn the task in 500 steps; teacher forcing gets there sooner (a better mean over the curve
# and 0.6 reached earlier)
assert curves["teacher forcing"][-1] > 0.85 and curves["own predictions"][-1] > 0.85
assert curves["teacher forcing"].mean() > curves["own predictions"].mean()
assert first_above["teacher forcing"] < first_above["own predictions"]
# exposure bias: the teacher-forced model is better given true prefixes than its own
assert forced_accuracy > own_accuracy
# the hand-written beam search with k = 1 is greedy decoding
assert width_one_agrees and len(ended) > 40
# beam search finds outputs at least as probable as greedy's on almost every string, more
# probable on average, and that also makes more of them right
assert np.mean(beam_log_p >= greedy_log_p - 1e-6) >= 0.95 and beam_log_p.mean() > greedy_log_p.mean()
assert beam_exact > greedy_exact and len(differ) > 0
print("all checks passed")
