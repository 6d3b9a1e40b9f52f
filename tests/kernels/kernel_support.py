"""Shared by the kernel tests: random problems and a step-by-step NumPy reference of one layer,
one direction (independent of the engine and of the kernels)."""
import numpy as np

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_reset_before": 3}
ARGUMENTS = ("x", "h0", "c0", "weight_ih", "weight_hh", "bias_ih", "bias_hh", "peephole")


def make_problem(mode, steps, batch, inputs, hidden, dtype=np.float64, bias=True, peephole=False,
                 seed=0, scale=0.5):
    """Random arguments of a kernel, keyed by the kernel's argument names (None when absent)."""
    rng = np.random.default_rng(seed)
    gates = GATES[mode] * hidden

    def draw(*shape):
        return (scale * rng.standard_normal(shape)).astype(dtype)

    lstm = mode == "lstm"
    return {"x": draw(steps, batch, inputs), "h0": draw(batch, hidden),
            "c0": draw(batch, hidden) if lstm else None,
            "weight_ih": draw(gates, inputs), "weight_hh": draw(gates, hidden),
            "bias_ih": draw(gates) if bias else None, "bias_hh": draw(gates) if bias else None,
            "peephole": draw(3, hidden) if lstm and peephole else None}


def call_kernel(kernel, problem, lengths=None, reverse=False, save=True, into=None):
    p = problem
    return kernel.forward(p["x"], p["h0"], p["c0"], p["weight_ih"], p["weight_hh"], p["bias_ih"],
                          p["bias_hh"], p["peephole"], lengths, reverse, save, into)


def check_output_into_shared_columns(kernel, mode, save, reverse):
    """``forward(..., into=(array, column))`` writes the output that ``forward`` returns alone into
    those columns of the array, returns them as a view, leaves the other columns as they were
    and changes neither the final states nor the gradients (B = 19, H = 32: two LSTM blocks or
    two batch shards where the threads and work allow)."""
    problem = make_problem(mode, 6, 19, 4, 32, peephole=mode == "lstm")
    lengths = np.random.default_rng(1).integers(0, 7, 19)
    alone = call_kernel(kernel, problem, lengths, reverse, save)
    shared = np.random.default_rng(2).standard_normal((6, 19, 72))
    before, columns = shared.copy(), range(8, 40)
    into = call_kernel(kernel, problem, lengths, reverse, save, into=(shared, 8))
    assert np.array_equal(into[0], alone[0]) and np.shares_memory(into[0], shared)
    assert np.array_equal(shared[:, :, 8:40], alone[0])
    assert np.array_equal(np.delete(shared, columns, axis=2), np.delete(before, columns, axis=2))
    for a, b in zip(alone[1:3], into[1:3]):
        assert (a is None and b is None) or np.array_equal(a, b)
    if save:
        d_out = np.random.default_rng(3).standard_normal(alone[0].shape)
        want, got = (kernel.backward(run[3], d_out, None, None) for run in (alone, into))
        assert want.keys() == got.keys() and all(np.array_equal(want[k], got[k]) for k in want)


def check_gradients_are_fresh(kernel, mode):
    """What the fused node's ``fresh_gradients`` promises the engine: ``backward`` returns
    writable arrays that share no memory with one another, the arguments, the outputs, what
    forward saved or a second backward's, with either bias alone, both or none (and peepholes)."""
    for bias_ih, bias_hh in ((True, True), (True, False), (False, True), (False, False)):
        problem = make_problem(mode, 5, 19, 4, 32, peephole=mode == "lstm")
        problem.update(bias_ih=problem["bias_ih"] if bias_ih else None,
                       bias_hh=problem["bias_hh"] if bias_hh else None)
        out, h_n, c_n, saved = call_kernel(kernel, problem, [5, 3] * 9 + [1])
        d_out, d_hn = np.ones_like(out), np.ones_like(h_n)
        grads = kernel.backward(saved, d_out, d_hn, None if c_n is None else np.ones_like(c_n))
        again = kernel.backward(saved, d_out, d_hn, None)
        held = [a for a in (*problem.values(), out, h_n, c_n, d_out, d_hn, saved.x, saved.acts,
                            *saved.states.values(), *again.values()) if isinstance(a, np.ndarray)]
        for name, grad in grads.items():
            assert grad.flags.writeable, name
            others = [g for other, g in grads.items() if other != name] + held
            assert not any(np.shares_memory(grad, other) for other in others), name


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def reference(mode, problem, lengths=None, reverse=False):
    """(out, h_n, c_n) computed one step at a time with NumPy (float64), PyTorch's formulas
    (and Keras's for the GRU with ``reset_after=False``, "gru_reset_before")."""
    p = {k: None if v is None else v.astype(np.float64) for k, v in problem.items()}
    x, h, c = p["x"], p["h0"].copy(), None if p["c0"] is None else p["c0"].copy()
    steps, batch, _ = x.shape
    hidden = h.shape[1]
    zero = np.zeros(GATES[mode] * hidden)
    b_ih = zero if p["bias_ih"] is None else p["bias_ih"]
    b_hh = zero if p["bias_hh"] is None else p["bias_hh"]
    peep = np.zeros((3, hidden)) if p["peephole"] is None else p["peephole"]
    lengths = np.full(batch, steps) if lengths is None else np.asarray(lengths)
    out = np.zeros((steps, batch, hidden))
    for t in (reversed(range(steps)) if reverse else range(steps)):
        gi = x[t] @ p["weight_ih"].T + b_ih
        gh = h @ p["weight_hh"].T + b_hh
        c_new = None
        if mode == "rnn_tanh":
            h_new = np.tanh(gi + gh)
        elif mode == "rnn_relu":
            h_new = np.maximum(gi + gh, 0)
        elif mode == "lstm":
            a_i, a_f, a_g, a_o = np.split(gi + gh, 4, axis=1)
            i, f = _sigmoid(a_i + peep[0] * c), _sigmoid(a_f + peep[1] * c)
            c_new = f * c + i * np.tanh(a_g)
            h_new = _sigmoid(a_o + peep[2] * c_new) * np.tanh(c_new)
        else:
            (r_i, z_i, n_i), (r_h, z_h, n_h) = np.split(gi, 3, axis=1), np.split(gh, 3, axis=1)
            r, z = _sigmoid(r_i + r_h), _sigmoid(z_i + z_h)
            if mode == "gru":
                n = np.tanh(n_i + r * n_h)
            else:
                n = np.tanh(n_i + (r * h) @ p["weight_hh"][2 * hidden:].T + b_hh[2 * hidden:])
            h_new = (1 - z) * n + z * h
        valid = (t < lengths)[:, None]
        out[t] = np.where(valid, h_new, 0)
        h = np.where(valid, h_new, h)
        c = None if c is None else np.where(valid, c_new, c)
    return out, h, c


def assert_close(got, want, rtol, name="", scale=None):
    """Agreement within ``rtol`` relative to ``scale`` (default: the largest magnitude of ``want``)."""
    assert got.shape == want.shape, f"{name}: shape {got.shape}, expected {want.shape}"
    scale = max(np.abs(want).max(initial=0.0) if scale is None else scale, np.finfo(np.float64).tiny)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=name)


def assert_all_close(got, want, rtol, by_group=False, output_terms=0.0):
    """Every array of the dict ``want`` matched in ``got`` within ``rtol`` of its largest
    magnitude, or, ``by_group``, of the largest magnitude of its group (outputs, or the arrays
    named ``grad_*``), the outputs' at least ``output_terms`` (``summed_terms``). Float32 checks
    use groups: a float32 result that is a sum of terms which nearly cancel carries the rounding
    error of its terms, not of its small value: found by hypothesis, grad_weight_ci = -2.8050e-05
    (reference) vs -2.8034e-05 (fused), both 8e-9 from the float64 value -2.8042e-05, on
    opposite sides; and a one-step relu RNN whose outputs were all 0 or 0.00155, 6e-8 apart."""
    assert sorted(got) == sorted(want)
    for name in want:
        group = [a for k, a in want.items() if k.startswith("grad_") == name.startswith("grad_")]
        scale = max(np.abs(a).max(initial=0.0) for a in group) if by_group else None
        if by_group and not name.startswith("grad_"):
            scale = max(scale, output_terms)
        assert_close(got[name], want[name], rtol, name, scale)


def summed_terms(problem, states):
    """A bound on the terms a step sums into one pre-activation, |x| |W_ih|^T + |h| |W_hh|^T +
    |b_ih| + |b_hh| (+ |w_c| |c| for peepholes), with every |h| and |c| at most ``states``:
    float32 rounds an output to about eps times this, however small the output is."""
    def row_sums(w):
        return np.abs(w).sum(axis=1).max(initial=0.0)

    biases = sum(np.abs(problem[k]).max(initial=0.0) for k in ("bias_ih", "bias_hh") if problem[k] is not None)
    peephole = 0.0 if problem["peephole"] is None else np.abs(problem["peephole"]).max() * states
    return (np.abs(problem["x"]).max(initial=0.0) * row_sums(problem["weight_ih"])
            + states * row_sums(problem["weight_hh"]) + biases + peephole)
