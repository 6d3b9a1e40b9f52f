"""The PyTorch-style surface beyond value conformance: float64 gradient checks of the new ops,
the errors that name what was expected, and the deliberate differences from PyTorch."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn, optim
from tinygrad_rnn.aliases import dim_aliases
from tinygrad_rnn.nn.utils import rnn
from tinygrad_rnn.testing import gradcheck


def x64(*shape, requires_grad=True):
    return tg.randn(*shape, dtype="float64", requires_grad=requires_grad)


# ----- gradients (float64 central differences: see tinygrad_rnn.testing.gradcheck) ----------
@pytest.mark.parametrize("name, fn", [
    ("gather_repeated_indices", lambda x: x.gather(1, tg.tensor([[0, 0, 3], [2, 2, 2], [1, 0, 1]]))),
    ("topk_values", lambda x: x.topk(2, dim=0).values),
    ("repeat", lambda x: x.repeat(2, 1, 3)),
    ("clone", lambda x: x.clone() * x),
    ("masked_fill", lambda x: x.masked_fill(x > 0, 0.5)),
    ("index_select", lambda x: x.index_select(1, tg.tensor([3, 0, 3]))),
    ("expand_as", lambda x: x[:, :1].expand_as(x) * x),
    ("chunk_unbind", lambda x: tg.cat([c.sum(dim=1) for c in x.chunk(2, dim=1)] + list(x.unbind(0)))),
    ("cross_entropy_smoothing", lambda x: nn.CrossEntropyLoss(label_smoothing=0.2, ignore_index=1)(
        x, tg.tensor([0, 1, 3]))),
    ("pack_then_pad", lambda x: rnn.pad_packed_sequence(rnn.pack_padded_sequence(
        x.reshape(3, 2, 2), [1, 3], enforce_sorted=False), padding_value=0.5)[0]),
])
def test_new_ops_pass_gradcheck(name, fn):
    assert gradcheck(fn, [x64(3, 4)])


def test_pad_sequence_gradcheck():
    assert gradcheck(lambda a, b: rnn.pad_sequence([a, b], batch_first=True, padding_value=-2.0),
                     [x64(3, 2), x64(1, 2)])


# ----- dim/keepdim aliases ---------------------------------------------------------------------
def test_dim_and_axis_spell_the_same_argument():
    x = tg.randn(3, 4)
    for method in ("sum", "mean", "amax", "logsumexp", "softmax", "log_softmax", "argmax"):
        by_dim = getattr(x, method)(dim=1)
        np.testing.assert_array_equal(by_dim.numpy(), getattr(x, method)(axis=1).numpy())
    np.testing.assert_array_equal(x.sum(dim=0, keepdim=True).numpy(), x.sum(axis=0, keepdims=True).numpy())
    np.testing.assert_array_equal(tg.cat([x, x], dim=1).numpy(), tg.functional.cat([x, x], axis=1).numpy())


def test_both_spellings_at_once_are_refused():
    with pytest.raises(TypeError, match="sum: got both dim= and its alias axis="):
        tg.randn(2, 3).sum(dim=0, axis=1)
    with pytest.raises(TypeError, match="concatenate: got both axis= and its alias dim="):
        tg.cat([tg.randn(2)], axis=0, dim=0)


def test_dim_aliases_needs_an_axis_argument():
    with pytest.raises(TypeError, match="no dim/axis or keepdim/keepdims argument"):
        dim_aliases(lambda x: x)


# ----- Tensor methods: errors name the op and what it expected ----------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.max(dim=(0, 1)), TypeError, "max: dim must be one int .* use amax"),
    (lambda x: x.t().t().reshape(2, 3, 2).t(), ValueError, "t: expects a tensor with at most 2 dims"),
    (lambda x: x.repeat(2), ValueError, r"repeat: got sizes \(2,\) for a tensor of shape \(3, 4\)"),
    (lambda x: x.gather(0, tg.tensor([[0, 1, 2, 0, 1]])), ValueError, "gather: index of shape"),
    (lambda x: x.gather(0, tg.tensor([[3]])), IndexError, r"gather: index values must be in \[0, 3\)"),
    (lambda x: x.index_select(0, tg.tensor([[0]])), ValueError, "index_select: index must be a 1-D integer"),
    (lambda x: x.topk(5), ValueError, "topk: k=5 is out of range for dim -1 of size 4"),
    (lambda x: x.masked_fill(x, 0.0), TypeError, "masked_fill: mask must be a bool tensor"),
    (lambda x: x.masked_fill(tg.ones(2, 3, 4, dtype=bool), 0.0), ValueError, "masked_fill: mask of shape"),
    (lambda x: x.chunk(0), ValueError, "chunk: the number of chunks must be a positive int"),
    (lambda x: x.size(2), ValueError, "size: axis 2 is out of range"),
    (lambda x: x.flip(0, dims=1), TypeError, "flip: got dims both as arguments"),
    (lambda x: tg.linspace(0, 1, -1), ValueError, "linspace: steps must be a non-negative int"),
    (lambda x: tg.from_numpy([1.0]), TypeError, "from_numpy: expected a numpy.ndarray, got list"),
])
def test_errors_name_the_op(call, error, message):
    with pytest.raises(error, match=message):
        call(tg.randn(3, 4))


def test_in_place_fill_only_outside_autograd():
    x = tg.randn(2, 3, requires_grad=True)
    with pytest.raises(RuntimeError, match="fill_/zero_: in-place change of a tensor that requires grad"):
        x.zero_()
    (x * x).sum().backward()
    shared = x.grad.data
    x.grad.zero_()  # a gradient array may be shared: zero_ gives the tensor a fresh one
    assert np.all(x.grad.numpy() == 0) and not np.all(shared == 0)


def test_item_assignment_says_what_to_do_instead():
    x = tg.zeros(2, 3)
    with pytest.raises(TypeError, match=r"Tensor item assignment \(in place\) is not supported .*masked_fill"):
        x[0] = 1.0


def test_max_over_one_dim_returns_values_and_indices():
    x = tg.tensor([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    values, indices = x.max(dim=1)
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert x.min(0).indices.tolist() == [0, 1, 0]


def test_integer_casts_leave_the_graph():
    x = x64(3)
    assert not x.long().requires_grad and not (x > 0).int().requires_grad and x.float().requires_grad


# ----- modules -------------------------------------------------------------------------------------
@pytest.mark.parametrize("make, message", [
    (lambda: nn.CrossEntropyLoss(weight=tg.ones(3)), "CrossEntropyLoss: weight= is not supported"),
    (lambda: nn.NLLLoss(size_average=True), "NLLLoss: size_average= is not supported"),
    (lambda: nn.BCEWithLogitsLoss(pos_weight=tg.ones(1)), "BCEWithLogitsLoss: pos_weight= is not supported"),
    (lambda: nn.MSELoss(reduction="avg"), "MSELoss: reduction must be 'mean', 'sum' or 'none', got 'avg'"),
])
def test_loss_modules_refuse_what_they_cannot_honour(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_module_tree_traversal():
    shared = nn.Linear(2, 2)
    model = nn.Sequential(shared, nn.Sequential(shared, nn.ReLU()))
    assert [name for name, _ in model.named_modules()] == ["", "0", "1", "1.1"]
    assert [name for name, _ in model.named_modules(remove_duplicate=False)] == ["", "0", "1", "1.0", "1.1"]
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]  # as PyTorch
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias"]
    assert [name for name, _ in model.named_parameters(remove_duplicate=False)] == [
        "0.weight", "0.bias", "1.0.weight", "1.0.bias"]
    order = []
    model.apply(lambda m: order.append(type(m).__name__))
    assert order == ["Linear", "Linear", "ReLU", "Sequential", "Sequential"]
    model(tg.randn(3, 2)).sum().backward()
    model.zero_grad(set_to_none=False)
    assert all(np.all(p.grad.numpy() == 0) for p in model.parameters())
    assert model.requires_grad_(False) is model and not shared.weight.requires_grad


# ----- recurrent utilities ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_packed_input_equals_lengths(kind):
    layer = getattr(nn, kind)(2, 3, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    x, lengths = x64(4, 5, 2), [2, 5, 1, 3]
    out, state = layer(x, lengths=lengths)
    packed_out, packed_state = layer(rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False))
    padded, got_lengths = rnn.pad_packed_sequence(packed_out, batch_first=True)
    assert isinstance(packed_out, rnn.PackedSequence) and got_lengths.tolist() == lengths
    np.testing.assert_array_equal(padded.numpy(), out.numpy())
    states = (state, packed_state) if kind != "LSTM" else (tg.stack(state), tg.stack(packed_state))
    np.testing.assert_array_equal(states[1].numpy(), states[0].numpy())


def test_packing_errors():
    with pytest.raises(ValueError, match="not sorted in decreasing order; sort the batch or pass enforce_sorted=False"):
        rnn.pack_padded_sequence(tg.randn(3, 2, 1), [1, 3])
    with pytest.raises(ValueError, match=r"every length must be in \[1, 3\]"):
        rnn.pack_padded_sequence(tg.randn(3, 2, 1), [4, 3])
    with pytest.raises(ValueError, match=r"every length must be in \[1, 3\], got \[\]"):
        rnn.pack_padded_sequence(tg.randn(3, 0, 1), np.zeros(0, dtype=np.int64))
    packed = rnn.pack_padded_sequence(tg.randn(3, 2, 1), [3, 2])
    with pytest.raises(ValueError, match="LSTM: a PackedSequence input carries its lengths"):
        nn.LSTM(1, 2)(packed, lengths=[3, 2])
    with pytest.raises(ValueError, match="total_length=2 is shorter than the longest sequence"):
        rnn.pad_packed_sequence(packed, total_length=2)


# ----- optimizers and schedulers -------------------------------------------------------------------
def test_optimizer_switches():
    w = nn.Parameter(tg.zeros(2))
    with pytest.raises(ValueError, match="SGD: differentiable must be False .*cannot be differentiated"):
        optim.SGD([w], lr=0.1, differentiable=True)
    opt = optim.Adam([w], foreach=True, fused=False, capturable=False)
    assert opt.param_groups[0]["foreach"] is True
    named = optim.SGD(nn.Linear(2, 1).named_parameters(), lr=0.1)
    assert named.param_groups[0]["param_names"] == ["weight", "bias"]


def test_scheduler_errors():
    opt = optim.SGD([nn.Parameter(tg.zeros(1))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match="ReduceLROnPlateau: factor must be < 1.0"):
        optim.lr_scheduler.ReduceLROnPlateau(opt, factor=1.0)
    cycle = optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=2)
    cycle.step()
    cycle.step()
    with pytest.raises(ValueError, match="OneCycleLR: stepped 3 times, past total_steps=2"):
        cycle.step()
    with pytest.raises(ValueError, match="OneCycleLR: cycle_momentum needs an optimizer with momentum or betas"):
        optim.lr_scheduler.OneCycleLR(optim.Adagrad([nn.Parameter(tg.zeros(1))]), max_lr=1.0, total_steps=5)
    with pytest.raises(ValueError, match="OneCycleLR: give total_steps, or positive ints epochs and steps_per_epoch"):
        optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0)


# ----- devices: the new ops take the device's namespace, never NumPy ("strict" proves it) ---------
DEVICE_CASES = {
    "gather": lambda x: x.gather(1, tg.tensor([[0, 0, 3], [2, 2, 2], [1, 0, 1]], device=x.device)),
    "topk": lambda x: x.topk(2, dim=0).values,
    "repeat_clone": lambda x: x.repeat(2, 1).clone(),
    "masked_fill": lambda x: x.masked_fill(x > 0, 0.5),
    "index_select": lambda x: x.index_select(1, tg.tensor([3, 0, 3], device=x.device)),
    "chunk_unbind": lambda x: tg.cat([c.sum(dim=1) for c in x.chunk(2, dim=1)] + list(x.unbind(0))),
    "max_dim": lambda x: x.max(dim=1).values + x.argmax(dim=1).double() + x.amin(dim=0).sum(),
    "pack_pad": lambda x: rnn.pad_packed_sequence(rnn.pack_padded_sequence(
        x.reshape(3, 2, 2), [1, 3], enforce_sorted=False), padding_value=0.5)[0],
    "label_smoothing": lambda x: nn.CrossEntropyLoss(label_smoothing=0.1)(x, tg.tensor([0, 1, 3], device=x.device)),
}


@pytest.mark.parametrize("name", sorted(DEVICE_CASES))
def test_new_ops_agree_across_devices(name, device):
    host = np.random.default_rng(0).standard_normal((3, 4))
    results = []
    for where in ("cpu", device):
        x = tg.tensor(host, requires_grad=True, device=where)
        out = DEVICE_CASES[name](x)
        out.backward(tg.tensor(np.cos(np.arange(out.numel())).reshape(out.shape), device=where))
        assert out.device.name == where and x.grad.device.name == where
        results.append((out.numpy(), x.grad.numpy()))
    for ours, reference in zip(results[1], results[0]):
        np.testing.assert_allclose(ours, reference, rtol=1e-12, atol=1e-14)


def test_cuda_and_cpu_methods():
    x = x64(2, 3)
    assert x.cpu() is x and tg.cuda.is_available() == tg.is_available("cuda")
    if not tg.cuda.is_available():
        with pytest.raises(RuntimeError, match="device 'cuda' needs CuPy"):
            x.cuda()
        return
    on_gpu = x.cuda()
    assert on_gpu.device.name == "cuda"
    (on_gpu * on_gpu).sum().backward()
    assert x.grad.device.name == "cpu"
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy(), rtol=1e-15)


@pytest.mark.parametrize("make, step", [
    (lambda opt: optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10, three_phase=True), lambda s, i: s.step()),
    (lambda opt: optim.lr_scheduler.ReduceLROnPlateau(opt, patience=1), lambda s, i: s.step(1.0 if i > 1 else 2.0 - i)),
])
def test_new_schedulers_resume_from_a_checkpoint(tmp_path, make, step):
    def fresh():
        opt = optim.SGD([nn.Parameter(tg.zeros(1))], lr=0.1, momentum=0.9)
        return opt, make(opt)
    opt, scheduler = fresh()
    for i in range(4):
        step(scheduler, i)
    tg.save({"optimizer": opt.state_dict(), "scheduler": scheduler.state_dict()}, tmp_path / "state.npz")
    saved = tg.load(tmp_path / "state.npz")
    resumed_opt, resumed = fresh()
    resumed_opt.load_state_dict(saved["optimizer"])
    resumed.load_state_dict(saved["scheduler"])
    for i in range(4, 8):
        step(scheduler, i)
        step(resumed, i)
        assert resumed.get_last_lr() == scheduler.get_last_lr()
        assert resumed_opt.param_groups[0]["momentum"] == opt.param_groups[0]["momentum"]
