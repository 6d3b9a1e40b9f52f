"""Every optimizer, scheduler, loss module, recurrent utility and the DataLoader take the
arguments of their PyTorch signature: same names, same kinds (positional or keyword-only), same
defaults. Arguments we cannot honour are still accepted by name and refused with an error
naming them (tested in test_surface_errors)."""
import inspect

import pytest

import tinygrad_rnn as tg

torch = pytest.importorskip("torch")

PAIRS = [(f"optim.{name}", getattr(tg.optim, name), getattr(torch.optim, name))
         for name in ("SGD", "Adam", "AdamW", "RMSprop", "Adagrad")]
PAIRS += [(f"lr_scheduler.{name}", getattr(tg.optim.lr_scheduler, name), getattr(torch.optim.lr_scheduler, name))
          for name in ("StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR", "ReduceLROnPlateau", "OneCycleLR")]
PAIRS += [(f"nn.{name}", getattr(tg.nn, name), getattr(torch.nn, name))
          for name in ("CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss", "Flatten")]
PAIRS += [(f"nn.utils.rnn.{name}", getattr(tg.nn.utils.rnn, name), getattr(torch.nn.utils.rnn, name))
          for name in ("pad_sequence", "pack_padded_sequence", "pad_packed_sequence")]
PAIRS += [(f"nn.Module.{name}", getattr(tg.nn.Module, name), getattr(torch.nn.Module, name))
          for name in ("named_modules", "apply", "zero_grad", "requires_grad_", "named_parameters", "parameters")]
PAIRS += [("utils.data.DataLoader", tg.utils.data.DataLoader, torch.utils.data.DataLoader),
          ("utils.data.TensorDataset", tg.utils.data.TensorDataset, torch.utils.data.TensorDataset)]


def _plain(default):
    """Whether a default is a plain value that can be compared across libraries."""
    return default is None or isinstance(default, (bool, int, float, str, tuple))


@pytest.mark.parametrize("name, ours, theirs", PAIRS, ids=[p[0] for p in PAIRS])
def test_signature_matches_pytorch(name, ours, theirs):
    mine = inspect.signature(ours).parameters
    for parameter in inspect.signature(theirs).parameters.values():
        assert parameter.name in mine, f"{name}: PyTorch's argument {parameter.name} is missing"
        own = mine[parameter.name]
        assert own.kind == parameter.kind, f"{name}: {parameter.name} is {own.kind}, PyTorch's is {parameter.kind}"
        if parameter.default is not inspect.Parameter.empty and _plain(parameter.default):
            assert own.default == parameter.default, (
                f"{name}: {parameter.name} defaults to {own.default!r}, PyTorch's to {parameter.default!r}")
