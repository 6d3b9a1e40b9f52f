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
# # 8. Attention
#
# **What you will learn**
#
# - why attention: tutorial 7's decoder knew the source only through the encoder's last state;
#   with attention it looks back at every encoder state at every output step;
# - Luong's three scores, **dot**, **general** and **concat**, the softmax that turns them into
#   alignment weights, the **context vector** and the attentional state, all computed by hand
#   and checked against `nn.LuongAttention`;
# - the **alignment heatmap** of a trained `nn.Seq2Seq` on a small date-normalisation task
#   ("26 nov 2026" → "2026-11-26"), and a measurement of where each output digit looks;
# - **why masking matters**: in a padded batch, padding positions get weight without the mask
#   (and the answer depends on how much padding there is); with the mask their weight is exactly
#   zero and a sentence gets the same context alone or in any batch.
#
# Prerequisite: [tutorial 7](07_seq2seq.py). The recurrent layers' parameter names are in
# [the notation table](NOTATION.md).

# %%
import datetime
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one BLAS thread is fastest

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import tinygrad_rnn as tg  # noqa: E402
from tinygrad_rnn.apps.plotting import save_and_show  # noqa: E402
from tinygrad_rnn import nn, optim  # noqa: E402

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## Scores, weights and the context vector
#
# At output step $t$ the decoder's state $h_t$ (the *query*) is compared with every encoder
# state $\bar h_s$, $s = 1..S$ (the *keys*). Luong, Pham and Manning (2015) give three scores:
#
# $$\operatorname{score}(h_t, \bar h_s) = \begin{cases}
#   h_t^\top \bar h_s & \text{dot}\\
#   h_t^\top W_a \bar h_s & \text{general}\\
#   v_a^\top \tanh(W_a [h_t ; \bar h_s]) & \text{concat}
# \end{cases}$$
#
# A softmax over the source positions turns the scores into **alignment weights**, and the
# **context vector** is the weighted average of the encoder states; it is combined with $h_t$
# into the *attentional state* from which the next token is predicted:
#
# $$\alpha_{ts} = \frac{\exp \operatorname{score}(h_t, \bar h_s)}{\sum_{s'} \exp \operatorname{score}(h_t, \bar h_{s'})},
#   \qquad c_t = \sum_s \alpha_{ts} \bar h_s, \qquad \tilde h_t = \tanh(W_c [c_t ; h_t]).$$
#
# In `nn.LuongAttention(H, score=...)`, $W_a$ is `linear_a.weight` ($H \times H$ for general,
# $H \times 2H$ for concat, whose first $H$ columns meet $h_t$), $v_a$ is `v_a` and $W_c$ is
# `linear_c.weight`. We compute all three by hand for one query and five keys, in float64.

# %%
H, S = 4, 5
rng = np.random.default_rng(0)
query, keys = rng.standard_normal((1, H)), rng.standard_normal((1, S, H))


def softmax(e):
    e = np.exp(e - e.max())
    return e / e.sum()


by_hand, by_layer = {}, {}
for score in ("dot", "general", "concat"):
    tg.manual_seed(0)
    attention = nn.LuongAttention(H, score=score, dtype="float64")
    h_t, h_bar = query[0], keys[0]                                     # (H,), (S, H)
    if score == "dot":
        e = h_bar @ h_t
    elif score == "general":
        e = h_bar @ (attention.linear_a.weight.numpy().T @ h_t)        # h_tᵀ W_a h̄_s
    else:
        W_a, v_a = attention.linear_a.weight.numpy(), attention.v_a.numpy()
        e = np.array([v_a @ np.tanh(W_a @ np.concatenate([h_t, h_s])) for h_s in h_bar])
    alpha = softmax(e)
    context = alpha @ h_bar
    attentional = np.tanh(attention.linear_c.weight.numpy() @ np.concatenate([context, h_t]))
    by_hand[score] = (alpha, context, attentional)
    result = attention(tg.tensor(query), tg.tensor(keys))
    by_layer[score] = (result.weights.numpy()[0], result.context.numpy()[0], result.attentional.numpy()[0])
    print(f"{score:8s} scores {e}\n         weights α {alpha}  (sum {alpha.sum():.3f})\n"
          f"         context c {context}\n         largest difference from nn.LuongAttention: "
          f"{max(np.abs(a - b).max() for a, b in zip(by_hand[score], by_layer[score])):.1e}")

# %% [markdown]
# ## Why masking matters
#
# Sources in a batch have different lengths, so the shorter ones are padded. An LSTM run with
# `lengths=` outputs zeros at the padding; but a zero key still has a score (for dot, exactly 0)
# and so gets a weight $e^0 / \sum$ that the softmax takes away from the real positions. The
# result then depends on the batch: the same sentence gets a different context when it shares
# a batch with a longer one. A **mask** (True = a real position) sets the weights of the padding
# to exactly zero, $\alpha_{ts} \propto \text{mask}_s \exp(\text{score}_{ts})$.
#
# Below, sentence A has 3 positions and is padded to 6 to share a batch with sentence B.

# %%
tg.manual_seed(0)
attention = nn.LuongAttention(H, score="dot", dtype="float64")
keys_a = rng.standard_normal((1, 3, H))
keys_b = rng.standard_normal((1, 6, H))
padded = np.concatenate([np.concatenate([keys_a, np.zeros((1, 3, H))], axis=1), keys_b])     # (2, 6, H)
queries = rng.standard_normal((2, H))
mask = np.arange(6)[None, :] < np.array([3, 6])[:, None]                                    # (2, 6) bool
alone = attention(tg.tensor(queries[:1]), tg.tensor(keys_a))
unmasked = attention(tg.tensor(queries), tg.tensor(padded))
masked = attention(tg.tensor(queries), tg.tensor(padded), mask=mask)
print("sentence A alone:        weights", alone.weights.numpy()[0])
print("in the batch, no mask:   weights", unmasked.weights.numpy()[0])
print("in the batch, with mask: weights", masked.weights.numpy()[0])
padding_weight_unmasked = unmasked.weights.numpy()[0, 3:].sum()
context_error_unmasked = np.abs(unmasked.context.numpy()[0] - alone.context.numpy()[0]).max()
context_error_masked = np.abs(masked.context.numpy()[0] - alone.context.numpy()[0]).max()
print(f"weight on the padding without the mask: {padding_weight_unmasked:.3f}; context differs from A alone by "
      f"{context_error_unmasked:.3f} without the mask, {context_error_masked:.1e} with it")

# gradients: with the mask, no gradient reaches the padded keys
keys_tensor = tg.tensor(padded, requires_grad=True)
attention(tg.tensor(queries), keys_tensor, mask=mask).context.sum().backward()
padding_gradient = np.abs(keys_tensor.grad.numpy()[0, 3:]).max()
print("largest gradient on a padded key, with the mask:", padding_gradient)

# %% [markdown]
# ## A trained alignment: normalising dates
#
# The task, made here: a date written as "26 nov 2026", "nov 26, 2026" or "26/11/2026" (days
# from 1950 to 2049) becomes "2026-11-26", one character at a time. `nn.Seq2Seq` packages what
# tutorial 7 built by hand, plus attention: an embedding of each source character, a
# bidirectional LSTM encoder ($2 \times 16$ units), an LSTM decoder (32 units) started from the
# encoder's final state, Luong "general" attention over the encoder's outputs (masked by the
# source lengths), and teacher forcing. It trains for 200 steps of Adam (learning rate
# $10^{-2}$, batches of 64, gradient norm clipped at 5), then decodes 300 held-out dates greedily.

# %%
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
SPECIALS = ["<pad>", "<bos>", "<eos>"]
SOURCE_CHARS = SPECIALS + sorted(set("0123456789 ,/" + "".join(MONTHS)))
TARGET_CHARS = SPECIALS + list("0123456789-")
EOS = 2
FIRST, DAYS = datetime.date(1950, 1, 1), (datetime.date(2049, 12, 31) - datetime.date(1950, 1, 1)).days + 1


def write_date(d, style):
    """The source string and where its day, month and year are: {field: (start, stop)}."""
    day, month = str(d.day), MONTHS[d.month - 1]
    if style == 0:                                                   # 26 nov 2026
        text = f"{day} {month} {d.year}"
        spans = dict(day=(0, len(day)), month=(len(day) + 1, len(day) + 4))
    elif style == 1:                                                 # nov 26, 2026
        text = f"{month} {day}, {d.year}"
        spans = dict(month=(0, 3), day=(4, 4 + len(day)))
    else:                                                            # 26/11/2026
        text = f"{d.day:02d}/{d.month:02d}/{d.year}"
        spans = dict(day=(0, 2), month=(3, 5))
    spans["year"] = (len(text) - 4, len(text))
    return text, spans


def make_dates(rng, count):
    dates = [FIRST + datetime.timedelta(days=int(k)) for k in rng.integers(0, DAYS, count)]
    written = [write_date(d, style) for d, style in zip(dates, rng.integers(0, 3, count))]
    lengths = np.array([len(text) for text, _ in written])
    source = np.zeros((count, lengths.max()), np.int64)
    for row, (text, _) in enumerate(written):
        source[row, :len(text)] = [SOURCE_CHARS.index(c) for c in text]
    target = np.array([[TARGET_CHARS.index(c) for c in d.isoformat()] + [EOS] for d in dates])
    return source, lengths, target, written


tg.manual_seed(0)
model = nn.Seq2Seq(len(SOURCE_CHARS), len(TARGET_CHARS), embedding_size=16, hidden_size=32,
                   attention="general", input_feeding=False)
optimizer = optim.Adam(model.parameters(), lr=1e-2)
data, losses, start = np.random.default_rng(0), [], time.perf_counter()
for step in range(200):
    source, lengths, target, _ = make_dates(data, 64)
    loss = model.loss(model(source, lengths, target), target)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 5.0)
    optimizer.step()
    losses.append(loss.item())
test_source, test_lengths, test_target, test_written = make_dates(np.random.default_rng(1), 300)
generation = model.generate(test_source, test_lengths, max_len=12)
outputs = generation.tokens.numpy()
exact = float(np.mean([np.array_equal(o[:11], t) for o, t in zip(outputs, test_target)]))
print(f"trained in {time.perf_counter() - start:.0f} s; last loss {losses[-1]:.4f}; "
      f"held-out exact match (greedy) {exact:.3f}")

# %% [markdown]
# Where does each output digit look? For every held-out date whose output is right, we take
# the source position of largest weight for each digit of the year (output characters 1-4), the
# month (6-7) and the day (9-10), and count how often it falls inside that field of the source
# (the year's four digits, the month's name or number, the day's number).

# %%
weights = generation.weights.numpy()                                   # (N, output steps, S)
fields = dict(year=range(0, 4), month=range(5, 7), day=range(8, 10))
inside, near = {field: [] for field in fields}, {field: [] for field in fields}
for n, (text, spans) in enumerate(test_written):
    if not np.array_equal(outputs[n][:11], test_target[n]):
        continue
    for field, positions in fields.items():
        low, high = spans[field]
        peaks = [weights[n, t, :len(text)].argmax() for t in positions]
        inside[field] += [low <= peak < high for peak in peaks]
        near[field] += [low - 1 <= peak <= high for peak in peaks]       # or one character beside it
inside_share = {field: float(np.mean(hits)) for field, hits in inside.items()}
near_share = {field: float(np.mean(hits)) for field, hits in near.items()}
print("share of output digits whose strongest source position is in the right field:",
      {field: round(share, 3) for field, share in inside_share.items()})
print("... in it or one character beside it:", {field: round(share, 3) for field, share in near_share.items()})
padding_weight_trained = max(weights[n, :, test_lengths[n]:].max(initial=0) for n in range(len(test_lengths)))
print("largest weight any output step gives a padded source position:", padding_weight_trained)

# %% [markdown]
# The year's digits look at the year. The month's and the day's look at their field most of the
# time, and otherwise mostly at the character beside it (the space or separator next to the
# field): the encoder is bidirectional, so its state there has read the field too, and the
# decoder may use either. The heatmaps below show one date in each format.

# %%
examples = [next(n for n, (text, spans) in enumerate(test_written) if style_test(text))
            for style_test in (lambda s: s[0].isdigit() and "/" not in s, lambda s: s[0].isalpha(), lambda s: "/" in s)]
fig, axes = plt.subplots(1, 3, figsize=(14, 4.6))
for ax, n in zip(axes, examples):
    text = test_written[n][0]
    out_length = int(generation.lengths.numpy()[n])
    out_text = [TARGET_CHARS[k] for k in outputs[n][:out_length]]
    image = ax.imshow(weights[n, :out_length, :len(text)], cmap="Greys", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(text)))
    ax.set_xticklabels([c if c != " " else "␣" for c in text], fontsize=10)
    ax.set_yticks(range(out_length))
    ax.set_yticklabels([c if c != "<eos>" else "EOS" for c in out_text], fontsize=10)
    ax.set_xlabel("source character")
    ax.set_title(f'"{text}" → "{"".join(out_text[:10])}"', fontsize=10)
axes[0].set_ylabel("output character")
fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="attention weight α")
fig.suptitle(f"Alignment weights of the trained model (held-out exact match {exact:.3f})")
save_and_show(fig, "08_alignment.png")

# %% [markdown]
# ## Check yourself

# %%
# the three scores, the weights, the context and the attentional state by hand are the layer's
for score in ("dot", "general", "concat"):
    for a, b in zip(by_hand[score], by_layer[score]):
        assert np.abs(a - b).max() < 1e-12
    assert abs(by_hand[score][0].sum() - 1) < 1e-12                   # the weights are a distribution
# masking: without the mask the padding takes weight and changes the context; with it the padding
# gets exactly zero weight and zero gradient, and the context is the sentence's own
assert padding_weight_unmasked > 0.1 and context_error_unmasked > 1e-3
assert np.all(masked.weights.numpy()[0, 3:] == 0) and context_error_masked < 1e-12
assert padding_gradient == 0
# the trained model normalises held-out dates, never attends to padding, and its year, month and
# day digits mostly look at the year, month and day of the source (the year almost always)
assert exact > 0.9
assert padding_weight_trained == 0
assert inside_share["year"] > 0.9 and min(inside_share.values()) > 0.5 and min(near_share.values()) > 0.9
print("all checks passed")
