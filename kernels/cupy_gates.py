"""The per-step gate arithmetic of the CuPy kernels (cupy_recurrent), as CUDA source in plain C.

One ``Gate`` per mode, direction and phase: parameter lists in ``cupy.ElementwiseKernel``'s
syntax and a body run once per element ``i`` of the (B, H) state (``b = i / hidden`` the row,
``j = i % hidden`` the unit); all parameters are ``raw``, indexed by hand in C order. Forward
adds ``rec = h W_hh^T`` to the hoisted ``gates[t]``, writes the activations over it, the new
state into ``h`` (and ``c``), the output and the saved states; masked rows keep their state
and output 0. Backward: ``dh`` holds the state gradient that does not go through W_hh and
``back`` the part that does (``da W_hh`` of the step run before); the kernel writes ``da`` (0
for masked rows, so ``back`` is 0 there) and leaves in ``dh`` the new direct part. The
reset-before GRU has two phases each way: (r, z, q = r h), then (n, h'); (da_z, da_n), then da_r.

The bodies use only scalar C over ``T`` (float or double, per launch) and ``exp_``, ``tanh_``,
``sigmoid_``, so tests/kernels/test_cupy_gates_source.py compiles the same strings with a C
compiler and runs them on the CPU. Integer literals keep float arithmetic in float.
"""
from dataclasses import dataclass
from functools import cached_property

# CUDA: the float functions for float, the double ones for double (T is chosen per launch).
CUDA_MATH = """
__device__ __forceinline__ float exp_(float x) { return expf(x); }
__device__ __forceinline__ double exp_(double x) { return exp(x); }
__device__ __forceinline__ float tanh_(float x) { return tanhf(x); }
__device__ __forceinline__ double tanh_(double x) { return tanh(x); }
"""
# exp(-x) overflows to inf for very negative x and the result is then exactly 0, never NaN.
SIGMOID = "#define sigmoid_(x) (1 / (1 + exp_(-(x))))\n"
PREAMBLE = CUDA_MATH + SIGMOID


@dataclass(frozen=True)
class Gate:
    """One elementwise kernel: CuPy parameter lists (inputs, outputs) and the per-element body."""
    name: str
    inputs: str
    outputs: str
    body: str

    @cached_property
    def parameters(self):
        """``[(type, name, raw)]`` in launch order: inputs, then outputs."""
        found = []
        for declaration in f"{self.inputs}, {self.outputs}".split(","):
            *words, name = declaration.split()
            found.append((words[-1], name, words[0] == "raw"))
        return found

    @cached_property
    def names(self):
        return tuple(name for _, name, _ in self.parameters)

    def arguments(self, **named):
        """The launch arguments in parameter order, from keyword arguments named as the
        parameters (raises on a missing or unexpected name)."""
        if named.keys() != set(self.names):
            raise TypeError(f"{self.name}: expected arguments {sorted(self.names)}, got {sorted(named)}")
        return tuple(named[name] for name in self.names)


_STEP = "raw int64 lengths, int64 t, int64 hidden"   # which rows run at step t, and H

RNN_FORWARD = Gate("rnn_forward_step", f"raw T rec, {_STEP}, int32 relu",
                   "raw T gates, raw T h, raw T output, raw T h_prev", """
    const ptrdiff_t b = i / hidden;
    h_prev[i] = h[i];
    if (t >= lengths[b]) {
        output[i] = 0;
    } else {
        const T a = gates[i] + rec[i];
        const T h_new = relu ? (a > 0 ? a : 0) : tanh_(a);
        gates[i] = h_new;
        h[i] = h_new;
        output[i] = h_new;
    }
""")

RNN_BACKWARD = Gate("rnn_backward_step", f"raw T acts, raw T d_out, raw T back, {_STEP}, int32 relu",
                    "raw T dh, raw T da", """
    const ptrdiff_t b = i / hidden;
    const T dh_in = dh[i] + back[i];
    if (t >= lengths[b]) {
        dh[i] = dh_in;
        da[i] = 0;
    } else {
        const T d_h = dh_in + d_out[i];
        const T act = acts[i];
        da[i] = relu ? (act > 0 ? d_h : 0) : d_h * (1 - act * act);
        dh[i] = 0;
    }
""")

# gates, acts, da: (B, 4H) rows, gate order i, f, g, o; g0 indexes gate i of unit j in row b.
LSTM_FORWARD = Gate("lstm_forward_step", f"raw T rec, raw T peephole, {_STEP}",
                    "raw T gates, raw T h, raw T c, raw T output, raw T h_prev, raw T c_prev, "
                    "raw T tanh_c", """
    const ptrdiff_t b = i / hidden, j = i % hidden, g0 = b * 4 * hidden + j;
    const T c_old = c[i];
    h_prev[i] = h[i];
    c_prev[i] = c_old;
    if (t >= lengths[b]) {
        output[i] = 0;
    } else {
        const T in_gate = sigmoid_(gates[g0] + rec[g0] + peephole[j] * c_old);
        const T forget = sigmoid_(gates[g0 + hidden] + rec[g0 + hidden]
                                  + peephole[hidden + j] * c_old);
        const T cell = tanh_(gates[g0 + 2 * hidden] + rec[g0 + 2 * hidden]);
        const T c_new = forget * c_old + in_gate * cell;
        const T out_gate = sigmoid_(gates[g0 + 3 * hidden] + rec[g0 + 3 * hidden]
                                    + peephole[2 * hidden + j] * c_new);
        const T tanh_c_new = tanh_(c_new);
        gates[g0] = in_gate;
        gates[g0 + hidden] = forget;
        gates[g0 + 2 * hidden] = cell;
        gates[g0 + 3 * hidden] = out_gate;
        tanh_c[i] = tanh_c_new;
        c[i] = c_new;
        h[i] = out_gate * tanh_c_new;
        output[i] = out_gate * tanh_c_new;
    }
""")

LSTM_BACKWARD = Gate("lstm_backward_step",
                     f"raw T acts, raw T c_prev, raw T tanh_c, raw T peephole, raw T d_out, "
                     f"raw T back, {_STEP}", "raw T dh, raw T dc, raw T da", """
    const ptrdiff_t b = i / hidden, j = i % hidden, g0 = b * 4 * hidden + j;
    const T dh_in = dh[i] + back[i];
    if (t >= lengths[b]) {
        dh[i] = dh_in;
        da[g0] = 0;
        da[g0 + hidden] = 0;
        da[g0 + 2 * hidden] = 0;
        da[g0 + 3 * hidden] = 0;
    } else {
        const T d_h = dh_in + d_out[i];
        const T in_gate = acts[g0], forget = acts[g0 + hidden];
        const T cell = acts[g0 + 2 * hidden], out_gate = acts[g0 + 3 * hidden];
        const T tanh_cell = tanh_c[i];
        const T d_o = d_h * tanh_cell * out_gate * (1 - out_gate);
        const T d_c = dc[i] + d_h * out_gate * (1 - tanh_cell * tanh_cell) + peephole[2 * hidden + j] * d_o;
        const T d_i = d_c * cell * in_gate * (1 - in_gate);
        const T d_f = d_c * c_prev[i] * forget * (1 - forget);
        const T d_g = d_c * in_gate * (1 - cell * cell);
        dc[i] = d_c * forget + peephole[j] * d_i + peephole[hidden + j] * d_f;
        dh[i] = 0;
        da[g0] = d_i;
        da[g0 + hidden] = d_f;
        da[g0 + 2 * hidden] = d_g;
        da[g0 + 3 * hidden] = d_o;
    }
""")

# gates, acts, d_gi, d_gh: (B, 3H) rows, gate order r, z, n; m = (h W_hh^T)_n + b_hn.
# The two GRU forms share the pieces below: a row's indices, h' from n and z, and the backward
# start (masked rows pass dh through and get zero gradients; others get d_h, d_z and d_n).
_GRU_ROW = "const ptrdiff_t b = i / hidden, j = i % hidden, g0 = b * 3 * hidden + j"
_GRU_NEW_STATE = """
        const T h_new = cand + update * (h_old - cand);
        gates[g0 + 2 * hidden] = cand;
        h[i] = h_new;
        output[i] = h_new;"""


def _gru_backward(zeroed, body):
    """The body of a GRU backward step: ``zeroed`` the gradient arrays that masked rows zero,
    ``body`` what the other rows do with d_h, update, cand, d_z and d_n."""
    zeros = "".join(f"\n        {name}[{index}] = 0;" for name in zeroed
                    for index in ("g0", "g0 + hidden", "g0 + 2 * hidden"))
    return f"""
    {_GRU_ROW};
    const T dh_in = dh[i] + back[i];
    if (t >= lengths[b]) {{
        dh[i] = dh_in;{zeros}
    }} else {{
        const T d_h = dh_in + d_out[i];
        const T update = acts[g0 + hidden], cand = acts[g0 + 2 * hidden];
        const T d_n = d_h * (1 - update) * (1 - cand * cand);
        const T d_z = d_h * (h_prev[i] - cand) * update * (1 - update);{body}
    }}
"""


GRU_FORWARD = Gate("gru_forward_step", f"raw T rec, raw T b_hn, {_STEP}",
                   "raw T gates, raw T h, raw T output, raw T h_prev, raw T m_saved", f"""
    {_GRU_ROW};
    const T h_old = h[i];
    h_prev[i] = h_old;
    if (t >= lengths[b]) {{
        output[i] = 0;
    }} else {{
        const T reset = sigmoid_(gates[g0] + rec[g0]);
        const T update = sigmoid_(gates[g0 + hidden] + rec[g0 + hidden]);
        const T m = rec[g0 + 2 * hidden] + b_hn[j];
        const T cand = tanh_(gates[g0 + 2 * hidden] + reset * m);
        gates[g0] = reset;
        gates[g0 + hidden] = update;
        m_saved[i] = m;{_GRU_NEW_STATE}
    }}
""")

GRU_BACKWARD = Gate("gru_backward_step",
                    f"raw T acts, raw T h_prev, raw T m_saved, raw T d_out, raw T back, {_STEP}",
                    "raw T dh, raw T d_gi, raw T d_gh", _gru_backward(("d_gi", "d_gh"), """
        const T reset = acts[g0];
        const T d_r = d_n * m_saved[i] * reset * (1 - reset);
        d_gi[g0] = d_r;
        d_gi[g0 + hidden] = d_z;
        d_gi[g0 + 2 * hidden] = d_n;
        d_gh[g0] = d_r;
        d_gh[g0 + hidden] = d_z;
        d_gh[g0 + 2 * hidden] = d_n * reset;
        dh[i] = d_h * update;"""))

# The reset-before GRU: rec (B, 2H) = h W_h[rz]^T, rec_n (B, H) = q W_hn^T, q = r h.
GRU_RESET_FORWARD = Gate("gru_reset_forward_step", f"raw T rec, raw T h, {_STEP}",
                         "raw T gates, raw T h_prev, raw T q_saved", f"""
    {_GRU_ROW}, r0 = b * 2 * hidden + j;
    const T h_old = h[i];
    h_prev[i] = h_old;
    if (t >= lengths[b]) {{
        q_saved[i] = 0;
    }} else {{
        const T reset = sigmoid_(gates[g0] + rec[r0]);
        gates[g0] = reset;
        gates[g0 + hidden] = sigmoid_(gates[g0 + hidden] + rec[r0 + hidden]);
        q_saved[i] = reset * h_old;
    }}
""")

GRU_CANDIDATE_FORWARD = Gate("gru_candidate_forward_step", f"raw T rec_n, {_STEP}",
                             "raw T gates, raw T h, raw T output", f"""
    {_GRU_ROW};
    if (t >= lengths[b]) {{
        output[i] = 0;
    }} else {{
        const T cand = tanh_(gates[g0 + 2 * hidden] + rec_n[i]);
        const T update = gates[g0 + hidden], h_old = h[i];{_GRU_NEW_STATE}
    }}
""")

GRU_CANDIDATE_BACKWARD = Gate("gru_candidate_backward_step",
                              f"raw T acts, raw T h_prev, raw T d_out, raw T back, {_STEP}",
                              "raw T dh, raw T da", _gru_backward(("da",), """
        da[g0 + hidden] = d_z;
        da[g0 + 2 * hidden] = d_n;
        dh[i] = d_h;"""))

GRU_RESET_BACKWARD = Gate("gru_reset_backward_step", f"raw T acts, raw T h_prev, raw T d_reset, {_STEP}",
                          "raw T dh, raw T da", f"""
    {_GRU_ROW};
    if (t < lengths[b]) {{
        const T reset = acts[g0], update = acts[g0 + hidden];
        da[g0] = d_reset[i] * h_prev[i] * reset * (1 - reset);
        dh[i] = dh[i] * update + d_reset[i] * reset;
    }}
""")

# (forward phases, backward phases) per mode; rnn_tanh and rnn_relu share theirs (the ``relu`` flag).
STEPS = {"rnn_tanh": ((RNN_FORWARD,), (RNN_BACKWARD,)), "rnn_relu": ((RNN_FORWARD,), (RNN_BACKWARD,)),
         "lstm": ((LSTM_FORWARD,), (LSTM_BACKWARD,)), "gru": ((GRU_FORWARD,), (GRU_BACKWARD,)),
         "gru_reset_before": ((GRU_RESET_FORWARD, GRU_CANDIDATE_FORWARD),
                              (GRU_CANDIDATE_BACKWARD, GRU_RESET_BACKWARD))}
