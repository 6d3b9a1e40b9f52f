"""RMSprop (Hinton's lecture 6e), optionally centred (Graves 2013) and with momentum."""
from .optimizer import Optimizer, lerp, xp_of


class RMSprop(Optimizer):
    """With g = ∇ + λθ:

        v_t = α v_{t-1} + (1 - α) g²
        s = √(v_t - ḡ_t²) with ḡ_t = α ḡ_{t-1} + (1 - α) g (centred), else √v_t
        b_t = μ b_{t-1} + g / (s + ε);  θ ← θ - lr · b_t      (momentum μ > 0)
        θ ← θ - lr · g / (s + ε)                             (otherwise)

    exactly PyTorch's ``torch.optim.RMSprop``.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize, capturable=capturable,
                                      foreach=foreach, differentiable=differentiable))

    non_negative = Optimizer.non_negative + ("alpha", "eps", "momentum")

    def _initial_state(self, param, group):
        xp = xp_of(param)
        state = {"step": 0, "square_avg": xp.zeros_like(param)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = xp.zeros_like(param)
        if group["centered"]:
            state["grad_avg"] = xp.zeros_like(param)
        return state

    def _update(self, param, grad, state, group):
        alpha, momentum = group["alpha"], group["momentum"]
        xp = xp_of(param)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        state["square_avg"] = square_avg = state["square_avg"] * alpha + (1 - alpha) * (grad * grad)
        if group["centered"]:
            state["grad_avg"] = grad_avg = lerp(state["grad_avg"], grad, 1 - alpha)
            square_avg = square_avg - grad_avg * grad_avg
        scale = xp.sqrt(square_avg) + group["eps"]
        if momentum > 0:
            state["momentum_buffer"] = buffer = state["momentum_buffer"] * momentum + grad / scale
            return param - group["lr"] * buffer
        return param - group["lr"] * (grad / scale)
