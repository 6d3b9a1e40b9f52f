"""Adagrad (Duchi, Hazan & Singer 2011)."""
from .optimizer import Optimizer, xp_of


class Adagrad(Optimizer):
    """With g = ∇ + λθ and the decayed rate lr_t = lr / (1 + (t - 1)·lr_decay):

        s_t = s_{t-1} + g²        (s₀ = initial_accumulator_value)
        θ ← θ - lr_t · g / (√s_t + ε)

    exactly PyTorch's ``torch.optim.Adagrad``.
    """

    def __init__(self, params, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize, foreach=foreach, differentiable=differentiable,
                                      fused=fused))

    non_negative = Optimizer.non_negative + ("lr_decay", "initial_accumulator_value", "eps")

    def _initial_state(self, param, group):
        return {"step": 0, "sum": xp_of(param).full_like(param, group["initial_accumulator_value"])}

    def _update(self, param, grad, state, group):
        state["step"] = step = state["step"] + 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        rate = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        state["sum"] = accumulated = state["sum"] + grad * grad
        return param - rate * (grad / (xp_of(param).sqrt(accumulated) + group["eps"]))
