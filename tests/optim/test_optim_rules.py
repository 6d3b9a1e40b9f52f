"""Every optimizer's update rule and every LR schedule against PyTorch: golden fixtures
(tests/fixtures/optim_golden.npz, always) and live torch with hypothesis-drawn settings."""
import importlib.util
import pathlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.nn import Parameter

_SCRIPT = pathlib.Path(__file__).parents[1] / "fixtures" / "make_optim_golden.py"
_spec = importlib.util.spec_from_file_location("make_optim_golden", _SCRIPT)
golden = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(golden)
FIXTURE = np.load(golden.PATH)


def our_trajectory(optimizer, kwargs, bias_group, data, device="cpu", dtype=np.float64):
    """The same run as golden.torch_trajectory, on our engine."""
    W = Parameter(data["W"].astype(dtype), device=device)
    b = Parameter(data["b"].astype(dtype), device=device)
    X, Y = (tg.Tensor(data[k].astype(dtype), device=device) for k in "XY")
    params = [W, b] if bias_group is None else [{"params": [W]}, {"params": [b], **bias_group}]
    opt = getattr(optim, optimizer)(params, **kwargs)
    weights, biases = [W.numpy()], [b.numpy()]
    for _ in range(golden.STEPS):
        opt.zero_grad()
        golden.loss(W, b, X, Y).backward()
        opt.step()
        weights.append(W.numpy())
        biases.append(b.numpy())
    return np.stack(weights), np.stack(biases)


def our_lrs(scheduler, kwargs):
    groups = [{"params": [Parameter(np.zeros(1))], "lr": lr} for lr in golden.SCHEDULER_LRS]
    opt = optim.SGD(groups, lr=golden.SCHEDULER_LRS[0])
    kwargs = {**kwargs, "lr_lambda": golden.lr_lambda(kwargs["lr_lambda"])} if "lr_lambda" in kwargs else kwargs
    sched = getattr(optim.lr_scheduler, scheduler)(opt, **kwargs)
    lrs = [sched.get_last_lr()]
    for _ in range(golden.STEPS):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return np.array(lrs)


@pytest.mark.parametrize("name", sorted(golden.OPTIMIZER_CASES))
def test_optimizer_matches_golden_float64(name, device):
    W, b = our_trajectory(*golden.OPTIMIZER_CASES[name], golden.problem(), device)
    np.testing.assert_allclose(W, FIXTURE[f"{name}/W"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b, FIXTURE[f"{name}/b"], rtol=1e-10, atol=1e-12)
    assert not np.allclose(W[-1], W[0]), "the run must move the weights"


@pytest.mark.parametrize("name", ["sgd_nesterov_groups", "adam_decay_amsgrad", "adamw",
                                  "rmsprop_centered_momentum_decay", "adagrad_decay_accumulator"])
def test_optimizer_matches_golden_float32(name):
    W, b = our_trajectory(*golden.OPTIMIZER_CASES[name], golden.problem(), dtype=np.float32)
    assert W.dtype == np.float32
    np.testing.assert_allclose(W, FIXTURE[f"{name}/W"], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b, FIXTURE[f"{name}/b"], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(golden.SCHEDULER_CASES))
def test_scheduler_matches_golden(name):
    np.testing.assert_allclose(our_lrs(*golden.SCHEDULER_CASES[name]), FIXTURE[f"lr/{name}"], rtol=1e-12, atol=0)


def test_fixture_cases_are_current():
    """The committed fixture covers exactly the cases of the script (regenerate it otherwise)."""
    expected = {f"{n}/{p}" for n in golden.OPTIMIZER_CASES for p in "Wb"}
    expected |= {f"lr/{n}" for n in golden.SCHEDULER_CASES} | {f"problem/{k}" for k in golden.problem()}
    assert set(FIXTURE.files) == expected
    for key, value in golden.problem().items():
        np.testing.assert_array_equal(FIXTURE[f"problem/{key}"], value)


# ----- live PyTorch, hypothesis choosing the hyperparameters --------------------------------
# Free-running trajectories of sign-like optimizers (Adam with small beta1, RMSprop with small
# alpha) amplify rounding differences about 4x per step near sign flips, so here every step
# starts from PyTorch's exact parameters, gradients and optimizer state (loaded from torch's
# own state_dict) and only that one update is compared.
_unit = st.floats(0.0, 0.95)
_decay = st.sampled_from([0.0, 1e-3, 0.05])
_HYPERPARAMETERS = {
    "SGD": st.fixed_dictionaries({"lr": st.floats(1e-3, 0.2), "momentum": _unit, "dampening": _unit,
                                  "weight_decay": _decay, "maximize": st.booleans()}),
    "Adam": st.fixed_dictionaries({"lr": st.floats(1e-4, 0.05), "betas": st.tuples(_unit, st.floats(0.5, 0.999)),
                                   "eps": st.sampled_from([1e-8, 1e-4]), "weight_decay": _decay,
                                   "amsgrad": st.booleans()}),
    "RMSprop": st.fixed_dictionaries({"lr": st.floats(1e-4, 0.02), "alpha": st.floats(0.5, 0.99),
                                      "momentum": st.sampled_from([0.0, 0.5, 0.9]), "centered": st.booleans(),
                                      "weight_decay": _decay, "eps": st.sampled_from([1e-8, 1e-4])}),
    "Adagrad": st.fixed_dictionaries({"lr": st.floats(1e-3, 0.3), "lr_decay": st.sampled_from([0.0, 0.01, 0.3]),
                                      "initial_accumulator_value": st.sampled_from([0.0, 0.1, 1.0]),
                                      "weight_decay": _decay}),
}
_HYPERPARAMETERS["AdamW"] = _HYPERPARAMETERS["Adam"]


@pytest.mark.parametrize("optimizer", sorted(_HYPERPARAMETERS))
def test_each_step_matches_live_torch(optimizer):
    torch = pytest.importorskip("torch")

    @settings(max_examples=10, deadline=None)
    @given(kwargs=_HYPERPARAMETERS[optimizer], bias_lr=st.none() | st.floats(1e-3, 0.1))
    def check(kwargs, bias_lr):
        data = golden.problem()
        theirs = [torch.tensor(data[k], requires_grad=True) for k in "Wb"]
        ours = [Parameter(data[k]) for k in "Wb"]
        X, Y = torch.tensor(data["X"]), torch.tensor(data["Y"])

        def groups(W, b):
            return [W, b] if bias_lr is None else [{"params": [W]}, {"params": [b], "lr": bias_lr}]
        reference = getattr(torch.optim, optimizer)(groups(*theirs), **kwargs)
        opt = getattr(optim, optimizer)(groups(*ours), **kwargs)
        for _ in range(golden.STEPS):
            reference.zero_grad()
            golden.loss(*theirs, X, Y).backward()
            for mine, their in zip(ours, theirs):
                mine.data = their.detach().numpy().copy()
                mine.grad = tg.Tensor(their.grad.numpy().copy())
            opt.load_state_dict(reference.state_dict())
            reference.step()
            opt.step()
            for mine, their in zip(ours, theirs):
                np.testing.assert_allclose(mine.numpy(), their.detach().numpy(), rtol=1e-12, atol=1e-15)

    check()


_SCHEDULES = {
    "StepLR": st.fixed_dictionaries({"step_size": st.integers(1, 12), "gamma": st.floats(0.05, 1.0)}),
    "ExponentialLR": st.fixed_dictionaries({"gamma": st.floats(0.5, 1.0)}),
    "CosineAnnealingLR": st.fixed_dictionaries({"T_max": st.integers(1, 60), "eta_min": st.floats(0.0, 0.04)}),
    "LambdaLR": st.fixed_dictionaries({"lr_lambda": st.sampled_from(["inverse", "warmup", ["warmup", "inverse"]])}),
}


@pytest.mark.parametrize("scheduler", sorted(_SCHEDULES))
def test_scheduler_matches_live_torch(scheduler):
    pytest.importorskip("torch")

    @settings(max_examples=20, deadline=None)
    @given(kwargs=_SCHEDULES[scheduler])
    def check(kwargs):
        np.testing.assert_allclose(our_lrs(scheduler, kwargs), golden.torch_lrs(scheduler, kwargs), rtol=1e-12)

    check()
