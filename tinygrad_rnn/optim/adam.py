"""Adam (Kingma & Ba 2015) and AdamW (Loshchilov & Hutter 2019)."""
import math

from .optimizer import Optimizer, lerp, xp_of


class Adam(Optimizer):
    """With g = ∇ (+ λθ for Adam's L2 weight decay; with ``decoupled_weight_decay``, AdamW's
    rule, θ ← θ(1 - lr·λ) instead):

        m_t = β₁ m_{t-1} + (1 - β₁) g,     v_t = β₂ v_{t-1} + (1 - β₂) g²
        v̂ = max(v̂, v_t) with amsgrad, else v_t
        θ ← θ - lr/(1 - β₁ᵗ) · m_t / (√v̂ / √(1 - β₂ᵗ) + ε)

    exactly PyTorch's ``torch.optim.Adam``.
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=decoupled_weight_decay))

    non_negative = Optimizer.non_negative + ("eps",)

    def _validate(self, group):
        super()._validate(group)
        self._require(group, "betas", len(group["betas"]) == 2 and all(0 <= b < 1 for b in group["betas"]),
                      "two numbers in [0, 1)")

    def _initial_state(self, param, group):
        xp = xp_of(param)
        state = {"step": 0, "exp_avg": xp.zeros_like(param), "exp_avg_sq": xp.zeros_like(param)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = xp.zeros_like(param)
        return state

    def _update(self, param, grad, state, group):
        lr, (beta1, beta2), decay = group["lr"], group["betas"], group["weight_decay"]
        state["step"] = step = state["step"] + 1
        if decay and group["decoupled_weight_decay"]:
            param = param * (1 - lr * decay)
        elif decay:
            grad = grad + decay * param
        state["exp_avg"] = exp_avg = lerp(state["exp_avg"], grad, 1 - beta1)
        state["exp_avg_sq"] = second_moment = state["exp_avg_sq"] * beta2 + (1 - beta2) * (grad * grad)
        xp = xp_of(param)
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = second_moment = xp.maximum(state["max_exp_avg_sq"], second_moment)
        denominator = xp.sqrt(second_moment) / math.sqrt(1 - beta2 ** step) + group["eps"]
        return param - lr / (1 - beta1 ** step) * (exp_avg / denominator)


class AdamW(Adam):
    """Adam with decoupled weight decay θ ← θ(1 - lr·λ) applied before the Adam step
    (default λ = 0.01), exactly PyTorch's ``torch.optim.AdamW``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
