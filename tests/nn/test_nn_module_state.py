"""Module state and modes: state_dict round trips from every source, all-or-nothing loading,
train/eval, to(dtype/device), zero_grad, repr, and PyTorch's key names and order."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def make_tagger(n=nn):
    """A small nested model built from ``n`` (our nn or torch.nn): embedding, a ModuleList of
    blocks, a LayerNorm and a head."""

    class Tagger(n.Module):
        def __init__(self):
            super().__init__()
            self.embed = n.Embedding(6, 4)
            self.blocks = n.ModuleList([n.Sequential(n.Linear(4, 4), n.Tanh(), n.Dropout(0.5)) for _ in range(2)])
            self.norm = n.LayerNorm(4)
            self.head = n.Linear(4, 3)

        def forward(self, ids):
            x = self.embed(ids)
            for block in self.blocks:
                x = block(x)
            return self.head(self.norm(x))

    return Tagger()


def _host_state(model):
    return {k: v.numpy() for k, v in model.state_dict().items()}


def test_round_trip_through_numpy_reproduces_the_model(device):
    source = make_tagger().to(device).eval()
    target = make_tagger().to(device).eval()
    ids = tg.Tensor(np.array([[1, 2, 5]]), device=device)
    assert not np.allclose(source(ids).numpy(), target(ids).numpy())
    assert target.load_state_dict(_host_state(source)) == ([], [])
    np.testing.assert_array_equal(source(ids).numpy(), target(ids).numpy())


@pytest.mark.parametrize("convert", [lambda t: t, lambda t: tg.Tensor(t.numpy(), device="strict"),
                                     lambda t: t.numpy().astype(np.float64)],
                         ids=["our tensors", "another device", "numpy float64"])
def test_load_converts_sources_to_the_modules_device_and_dtype(convert):
    source, target = make_tagger(), make_tagger()
    target.load_state_dict({k: convert(v) for k, v in source.state_dict().items()})
    for (key, mine), theirs in zip(target.state_dict().items(), source.state_dict().values()):
        assert mine.dtype == np.float32 and mine.device.name == "cpu", key
        np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    assert target.head.weight.data is not source.head.weight.data  # values are copied


def test_load_from_torch_and_keys_match_torch():
    torch = pytest.importorskip("torch")
    theirs, ours = make_tagger(torch.nn), make_tagger()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    theirs.eval(), ours.eval()
    ids = np.array([[0, 3, 5, 1]])
    np.testing.assert_allclose(ours(tg.Tensor(ids)).numpy(), theirs(torch.tensor(ids)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_tied_weights_and_buffers_appear_like_in_torch():
    torch = pytest.importorskip("torch")

    def build(n):
        class Tied(n.Module):
            def __init__(self):
                super().__init__()
                self.embed = n.Embedding(5, 3)
                self.out = n.Linear(3, 5, bias=False)
                self.out.weight = self.embed.weight
                self.register_buffer("scale", (torch.ones(1) if n is torch.nn else tg.ones(1)))
        return Tied()

    ours, theirs = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["scale", "embed.weight", "out.weight"]
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()] == ["embed.weight"]
    ours.load_state_dict(theirs.state_dict())
    assert ours.out.weight is ours.embed.weight


def _corrupt(state, key, value):
    return {**state, key: value}


@pytest.mark.parametrize("edit, error, message", [
    (lambda s: {k: v for k, v in s.items() if k != "head.bias"}, KeyError, r"missing keys \['head.bias'\]"),
    (lambda s: _corrupt(s, "head.extra", np.ones(2)), KeyError, r"unexpected keys \['head.extra'\]"),
    (lambda s: _corrupt(s, "head.bias", np.ones(4)), ValueError,
     r"shape mismatch for 'head.bias': the module has \(3,\), the state_dict has \(4,\)"),
    (lambda s: _corrupt(s, "head.bias", "zeros"), TypeError, "head.bias"),
])
def test_bad_state_dict_raises_and_leaves_module_unchanged(edit, error, message):
    model = make_tagger()
    before = _host_state(model)
    state = {k: v + 1 for k, v in before.items()}  # every other value would change the model
    with pytest.raises(error, match=message):
        model.load_state_dict(edit(state))
    for key, value in _host_state(model).items():
        np.testing.assert_array_equal(value, before[key], err_msg=key)


def test_non_strict_loading_skips_and_reports_keys():
    model = make_tagger()
    state = _host_state(make_tagger())
    del state["embed.weight"]
    state["stray"] = np.zeros(1)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert missing == ["embed.weight"] and unexpected == ["stray"]
    np.testing.assert_array_equal(model.head.weight.numpy(), state["head.weight"])
    with pytest.raises(ValueError, match="head.weight"):
        model.load_state_dict({"head.weight": np.zeros((1, 1))}, strict=False)


def test_train_and_eval_reach_every_submodule():
    model = make_tagger()
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    ids = tg.Tensor(np.array([[1, 2]]))
    np.testing.assert_array_equal(model(ids).numpy(), model(ids).numpy())  # dropout is off
    model.train()
    assert all(m.training for m in model.modules())


def test_to_dtype_and_device_keep_parameter_identity():
    model = make_tagger()
    model.register_buffer("counts", tg.Tensor(np.arange(3)))
    weight = model.head.weight
    assert model.to(np.float64) is model
    assert model.head.weight is weight and weight.dtype == np.float64 and isinstance(weight, nn.Parameter)
    assert model.counts.dtype == np.int64  # only floating tensors change dtype
    model.to(dtype=np.float32)
    assert weight.dtype == np.float32
    model.to("strict")
    assert weight.device.name == "strict" and model.counts.device.name == "strict"
    assert model(tg.Tensor(np.array([1]), device="strict")).device.name == "strict"


def test_zero_grad_clears_every_parameter():
    model = make_tagger()
    model(tg.Tensor(np.array([[1, 2]]))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_repr_is_readable():
    model = nn.Sequential(nn.Linear(2, 3), nn.ModuleList([nn.ReLU(), nn.Dropout(0.2)]))
    assert repr(model) == (
        "Sequential(\n"
        "  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): ModuleList(\n"
        "    (0): ReLU()\n"
        "    (1): Dropout(p=0.2)\n"
        "  )\n"
        ")")


def test_reassigning_a_submodule_keeps_its_place():
    model = make_tagger()
    keys = list(model.state_dict())
    model.embed = nn.Embedding(6, 4)
    assert list(model.state_dict()) == keys
