"""Sequential and ModuleList: list behaviour, registration, PyTorch's parameter names."""
from collections import OrderedDict

import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import nn


def test_sequential_chains_its_modules():
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    x = tg.randn(5, 4)
    expected = model[2](model[1](model[0](x)))
    np.testing.assert_array_equal(model(x).numpy(), expected.numpy())
    assert len(model) == 3 and isinstance(model[-1], nn.Linear)
    assert [k for k, _ in model.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_with_names_and_slices():
    model = nn.Sequential(OrderedDict(embed=nn.Embedding(5, 3), proj=nn.Linear(3, 2), act=nn.ReLU()))
    assert list(model.state_dict()) == ["embed.weight", "proj.weight", "proj.bias"]
    head = model[1:]
    assert isinstance(head, nn.Sequential) and list(dict(head.named_children())) == ["proj", "act"]
    assert head[0] is model.proj
    model[2] = nn.Sigmoid()
    assert isinstance(model.act, nn.Sigmoid)
    assert model([1, 2]).shape == (2, 2)


def test_module_list_behaves_like_a_list():
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(layers) == 3 and list(layers) == [layers[0], layers[1], layers[2]]
    extra = nn.Linear(2, 2)
    layers.append(extra)
    assert layers[-1] is extra and len(layers) == 4
    layers.insert(1, nn.Tanh())
    assert isinstance(layers[1], nn.Tanh) and layers[4] is extra
    assert [k for k, _ in layers.named_parameters()][-2:] == ["4.weight", "4.bias"]
    layers[0] = nn.Linear(2, 5)
    assert layers[0].out_features == 5
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    layers.extend([nn.ReLU(), nn.ReLU()])
    assert len(layers) == 7


def test_module_list_registers_parameters_in_its_owner():
    class Stack(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.ModuleList([nn.Linear(3, 3), nn.Linear(3, 3)])
            self.head = nn.Linear(3, 1)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x).tanh()
            return self.head(x)

    model = Stack()
    assert [k for k, _ in model.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.1.weight", "layers.1.bias", "head.weight", "head.bias"]
    model(tg.randn(2, 3)).sum().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("call, error, message", [
    (lambda m: m[5], IndexError, "index 5 is out of range for length 2"),
    (lambda m: m[-3], IndexError, "index -3 is out of range"),
    (lambda m: m.append(np.ones(2)), TypeError, "ndarray is not a Module"),
    (lambda m: m(tg.zeros(2)), NotImplementedError, "container"),
])
def test_module_list_bad_use(call, error, message):
    with pytest.raises(error, match=message):
        call(nn.ModuleList([nn.ReLU(), nn.Tanh()]))


def test_sequential_rejects_non_modules():
    with pytest.raises(TypeError, match="Sequential: function is not a Module"):
        nn.Sequential(nn.ReLU(), lambda x: x)


def test_nested_names_match_torch():
    torch = pytest.importorskip("torch")

    def build(n):
        class Model(n.Module):
            def __init__(self):
                super().__init__()
                self.embed = n.Embedding(10, 4, padding_idx=0)
                self.blocks = n.ModuleList([n.Sequential(n.Linear(4, 4), n.LayerNorm(4), n.Dropout(0.1))
                                            for _ in range(2)])
                self.head = n.Sequential(n.Linear(4, 8), n.ReLU(), n.Sequential(n.Linear(8, 2, bias=False)))
        return Model()

    ours, theirs = build(nn), build(torch.nn)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [k for k, _ in ours.named_parameters()] == [k for k, _ in theirs.named_parameters()]
    ours.load_state_dict(theirs.state_dict())
    np.testing.assert_array_equal(ours.head[2][0].weight.numpy(), theirs.head[2][0].weight.detach().numpy())
