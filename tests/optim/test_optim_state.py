"""Optimizer mechanics: groups, zero_grad, closures, checkpoints, validation, schedulers' state."""
import numpy as np
import pytest

import tinygrad_rnn as tg
from tinygrad_rnn import optim
from tinygrad_rnn.nn import Parameter

ALL = [optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad]
STATEFUL = dict(SGD=dict(momentum=0.9), Adam=dict(amsgrad=True), AdamW=dict(), RMSprop=dict(momentum=0.5, centered=True),
                Adagrad=dict(lr_decay=0.1))


def _params(device="cpu"):
    rng = np.random.default_rng(0)
    return [Parameter(rng.standard_normal((3, 2)), device=device), Parameter(rng.standard_normal(2), device=device)]


def _train(opt, params, steps):
    for _ in range(steps):
        opt.zero_grad()
        loss = sum(((p * p).sum() - p.sum()) for p in params)
        loss.backward()
        opt.step()


def _walk(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _walk(v)
    elif isinstance(value, (list, tuple)):
        for v in value:
            yield from _walk(v)
    else:
        yield value


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_state_dict_round_trip_resumes_identically(cls, device):
    kwargs = STATEFUL[cls.__name__]
    params = _params(device)
    opt = cls(params, lr=0.01, **kwargs)
    _train(opt, params, 3)
    saved = opt.state_dict()
    assert all(isinstance(v, (bool, int, float, str, type(None), tg.get_device(device).array_type))
               for v in _walk(saved)), "a state_dict holds arrays and numbers only"
    snapshot = {i: {k: tg.Tensor(v).numpy() if hasattr(v, "shape") else v for k, v in s.items()}
                for i, s in saved["state"].items()}

    resumed_params = [Parameter(p.data.copy()) for p in params]
    resumed = cls(resumed_params, lr=0.5)
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.01
    _train(opt, params, 3)
    _train(resumed, resumed_params, 3)
    for a, b in zip(params, resumed_params):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for i, s in saved["state"].items():  # the earlier state_dict is a snapshot
        for k, v in s.items():
            np.testing.assert_array_equal(tg.Tensor(v).numpy() if hasattr(v, "shape") else v, snapshot[i][k])


def test_load_state_dict_accepts_numpy_arrays_string_keys_and_any_device():
    params = _params()
    opt = optim.Adam(params)
    _train(opt, params, 2)
    saved = opt.state_dict()
    host = {"param_groups": saved["param_groups"],
            "state": {str(i): {k: np.asarray(v) if hasattr(v, "shape") else v for k, v in s.items()}
                      for i, s in saved["state"].items()}}
    strict_params = [Parameter(p.numpy(), device="strict") for p in params]
    strict_opt = optim.Adam(strict_params)
    strict_opt.load_state_dict(host)
    assert type(strict_opt.state[strict_params[0]]["exp_avg"]) is tg.get_device("strict").array_type
    _train(opt, params, 1)
    _train(strict_opt, strict_params, 1)
    np.testing.assert_allclose(strict_params[0].numpy(), params[0].numpy(), rtol=1e-12)


@pytest.mark.parametrize("mutate, message", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "2 parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "has 2 parameters, the state_dict's has 1"),
    (lambda sd: sd["state"][0].update(exp_avg=np.zeros((2, 3))), r"state\[0\]\['exp_avg'\] has shape \(2, 3\) but the parameter has shape \(3, 2\)"),
    (lambda sd: sd["state"].update({7: {}}), "parameter 7"),
])
def test_bad_state_dict_raises_and_leaves_optimizer_unchanged(mutate, message):
    params = _params()
    opt = optim.Adam(params, lr=0.1)
    _train(opt, params, 2)
    saved = opt.state_dict()
    broken = {"param_groups": [dict(g, params=list(g["params"])) for g in saved["param_groups"]],
              "state": {i: dict(s) for i, s in saved["state"].items()}}
    mutate(broken)
    broken["param_groups"][0]["lr"] = 99.0
    before = {k: v for k, v in opt.state[params[0]].items()}
    with pytest.raises((ValueError, KeyError), match=message):
        opt.load_state_dict(broken)
    assert opt.param_groups[0]["lr"] == 0.1
    assert all(opt.state[params[0]][k] is v for k, v in before.items())


def test_param_groups_have_their_own_hyperparameters():
    w, b = _params()
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 1.0}], lr=0.0)
    for p in (w, b):
        p.grad = tg.ones_like(p)
    w0 = w.numpy()
    opt.step()
    np.testing.assert_array_equal(w.numpy(), w0)
    assert opt.param_groups[1]["lr"] == 1.0 and opt.param_groups[1]["momentum"] == 0.0
    opt.add_param_group({"params": [Parameter(np.ones(2))], "lr": 0.3})
    assert len(opt.param_groups) == 3 and opt.param_groups[2]["lr"] == 0.3


def test_zero_grad_and_parameters_without_gradients():
    w, b = _params()
    opt = optim.Adam([w, b])
    w.grad = tg.ones_like(w)
    b0 = b.numpy()
    opt.step()
    np.testing.assert_array_equal(b.numpy(), b0)
    assert b not in opt.state and w in opt.state
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(w.grad.numpy(), np.zeros((3, 2)))
    opt.zero_grad()
    assert w.grad is None


def test_step_leaves_leaves_and_never_writes_into_gradient_arrays():
    w, _ = _params()
    shared = tg.Tensor(np.full((3, 2), 0.5))
    w.grad = shared
    other = tg.Tensor(shared.data)  # the engine may hand the same array to two tensors
    opt = optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt.step()
    opt.step()
    np.testing.assert_array_equal(other.numpy(), np.full((3, 2), 0.5))
    assert w.is_leaf and w.requires_grad and isinstance(w, Parameter)


def test_closure_is_evaluated_with_gradients_and_its_loss_returned():
    w, _ = _params()
    opt = optim.SGD([w], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() > 0 and w.grad is not None


@pytest.mark.parametrize("make, message", [
    (lambda p: optim.SGD(p, lr=-1), "lr must be non-negative"),
    (lambda p: optim.SGD(p, momentum=-0.1), "momentum must be non-negative"),
    (lambda p: optim.SGD(p, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.Adam(p, betas=(0.9, 1.0)), "betas must be two numbers in"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps must be non-negative"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay must be non-negative"),
    (lambda p: optim.RMSprop(p, alpha=-0.5), "alpha must be non-negative"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "lr_decay must be non-negative"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
    (lambda p: optim.Adam([{"params": p, "betaz": (0.9, 0.9)}]), "unknown hyperparameters"),
    (lambda p: optim.Adam([]), "empty parameter list"),
    (lambda p: optim.Adam(p + p[:1]), "more than once"),
    (lambda p: optim.Adam([p[0] * 2]), "non-leaf"),
    (lambda p: optim.Adam([np.ones(3)]), "can only optimize Tensors"),
])
def test_bad_hyperparameters_raise(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make(_params())


def test_repr_lists_each_group():
    text = repr(optim.Adam([{"params": _params()[:1]}, {"params": _params()[1:], "lr": 0.5}]))
    assert text.startswith("Adam (") and "Parameter Group 1" in text and "lr: 0.5" in text


# ----- schedulers ---------------------------------------------------------------------------
def test_scheduler_state_dict_round_trip():
    opt = optim.SGD(_params(), lr=1.0)
    sched = optim.lr_scheduler.LambdaLR(opt, lambda e: 0.5 ** e)
    for _ in range(3):
        sched.step()
    saved = sched.state_dict()
    assert "lr_lambdas" not in saved and "optimizer" not in saved
    fresh_opt = optim.SGD(_params(), lr=1.0)
    fresh = optim.lr_scheduler.LambdaLR(fresh_opt, lambda e: 0.5 ** e)
    fresh.load_state_dict(saved)
    fresh.step()
    sched.step()
    assert fresh.get_last_lr() == sched.get_last_lr() == [0.5 ** 4]
    assert fresh_opt.param_groups[0]["lr"] == 0.5 ** 4


@pytest.mark.parametrize("make, error, message", [
    (lambda o: optim.lr_scheduler.StepLR(o, step_size=0), ValueError, "step_size must be a positive integer"),
    (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, T_max=0), ValueError, "T_max must be positive"),
    (lambda o: optim.lr_scheduler.LambdaLR(o, [lambda e: 1, lambda e: 1]), ValueError, "expected 1 lr_lambdas"),
    (lambda o: optim.lr_scheduler.ExponentialLR(o, 0.9, last_epoch=4), KeyError, "initial_lr"),
    (lambda o: optim.lr_scheduler.StepLR(object(), 3), TypeError, "is not an Optimizer"),
])
def test_bad_scheduler_arguments_raise(make, error, message):
    with pytest.raises(error, match=message):
        make(optim.SGD(_params(), lr=0.1))


def test_scheduler_sets_lr_used_by_the_optimizer():
    (w,) = _params()[:1]
    opt = optim.SGD([w], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    w.grad = tg.ones_like(w)
    before = w.numpy()
    opt.step()
    np.testing.assert_allclose(before - w.numpy(), 0.5)
