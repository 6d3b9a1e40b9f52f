"""Stochastic gradient descent with momentum (Polyak; Nesterov as in Sutskever et al. 2013)."""
from .optimizer import Optimizer


class SGD(Optimizer):
    """With g = ∇ + λθ (weight decay λ) and momentum μ, dampening τ:

        b₁ = g,  b_t = μ b_{t-1} + (1 - τ) g       (momentum buffer, when μ ≠ 0)
        d = g + μ b_t  (nesterov)  |  b_t  (momentum)  |  g  (plain)
        θ ← θ - lr · d

    exactly PyTorch's ``torch.optim.SGD``.
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False,
                 *, maximize=False, foreach=None, differentiable=False, fused=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    non_negative = Optimizer.non_negative + ("momentum",)

    def _validate(self, group):
        super()._validate(group)
        self._require(group, "nesterov", not group["nesterov"] or (group["momentum"] > 0 and group["dampening"] == 0),
                      "False unless momentum > 0 and dampening == 0")

    def _update(self, param, grad, state, group):
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * param
        momentum = group["momentum"]
        if momentum:
            buffer = state.get("momentum_buffer")
            buffer = grad.copy() if buffer is None else buffer * momentum + (1 - group["dampening"]) * grad
            state["momentum_buffer"] = buffer
            grad = grad + momentum * buffer if group["nesterov"] else buffer
        return param - group["lr"] * grad
