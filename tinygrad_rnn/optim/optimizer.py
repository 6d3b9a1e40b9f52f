"""The Optimizer base class: parameter groups, per-parameter state, zero_grad, step, state_dict.

A subclass gives its hyperparameter ``defaults``, checks them in ``_validate`` and writes
one update rule in ``_update(param, grad, state, group) -> new param array``, on the backend
arrays of one parameter. Updates build new arrays (for the parameter and for its state)
rather than writing into existing ones: gradient arrays may be shared between tensors, and
a state_dict handed out earlier stays a snapshot.
"""
from .. import backend
from ..autograd import enable_grad, no_grad
from ..tensor import Tensor, as_device_array


def xp_of(array):
    """The array namespace (NumPy, CuPy, ...) of a parameter's data."""
    return backend.device_of(array).xp


def lerp(start, end, weight):
    """start + weight·(end - start), evaluated as PyTorch's ``lerp`` does (the form with the
    smaller factor), so that float32 results round the same way."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (end - start) * (1 - weight)


class Optimizer:
    """Base class of the optimizers (PyTorch's ``torch.optim.Optimizer``).

    ``params`` is an iterable of Tensors or of dicts (parameter groups), each dict holding
    ``"params"`` and any hyperparameters that override the defaults for that group.
    """

    non_negative = ("lr", "weight_decay")  # hyperparameters that must be >= 0

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.state = {}
        self.param_groups = []
        params = [params] if isinstance(params, Tensor) else list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        for group in params if isinstance(params[0], dict) else [{"params": params}]:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add a group of parameters with their own hyperparameters (e.g. a smaller lr)."""
        name = type(self).__name__
        if not isinstance(group, dict) or "params" not in group:
            raise TypeError(f"{name}: a parameter group is a dict with a 'params' entry, got {group!r}")
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        if params and all(isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) for p in params):
            group = {**group, "param_names": [n for n, _ in params]}  # named_parameters(), as PyTorch
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"{name}: can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError(f"{name}: can't optimize a non-leaf Tensor (shape {p.shape})")
        taken = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in taken for p in params):
            raise ValueError(f"{name}: some parameters appear more than once (in one group or in several)")
        unknown = set(group) - set(self.defaults) - {"params", "param_names", "initial_lr"}
        if unknown:
            raise ValueError(f"{name}: unknown hyperparameters {sorted(unknown)}; expected some of "
                             f"{sorted(self.defaults)}")
        group = {**self.defaults, **group, "params": params}
        self._validate(group)
        self.param_groups.append(group)

    def _validate(self, group):
        """Raise ValueError for hyperparameters out of range (subclasses add other checks)."""
        for key in self.non_negative:
            self._require(group, key, group[key] >= 0, "non-negative")
        # PyTorch's switches between implementations of one rule (foreach, fused, capturable) are
        # kept in the groups and change nothing here (there is one implementation); differentiable
        # would need the updates recorded by autograd.
        if "differentiable" in group:
            self._require(group, "differentiable", not group["differentiable"],
                          "False (updates run outside autograd here, so they cannot be differentiated)")

    def _require(self, group, key, condition, expectation):
        """The ValueError of ``_validate`` when ``condition`` fails: names the optimizer, the
        hyperparameter, what it must be and the value given."""
        if not condition:
            raise ValueError(f"{type(self).__name__}: {key} must be {expectation}, got {group[key]!r}")

    def zero_grad(self, set_to_none=True):
        """Forget the gradients (or replace them by zeros with ``set_to_none=False``)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else p.grad.zeros_like()

    def step(self, closure=None):
        """Update every parameter that has a gradient; ``closure`` (re-evaluating the loss,
        with gradients) is called first when given, and its loss is returned."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = -p.grad.data if group["maximize"] else p.grad.data
                    state = self.state.get(p)
                    if state is None:
                        state = self.state[p] = self._initial_state(p.data, group)
                    p.data = self._update(p.data, grad, state, group)
        return loss

    def _initial_state(self, param, group):
        return {}

    def _update(self, param, grad, state, group):
        raise NotImplementedError(f"{type(self).__name__} has no update rule")

    # ----- checkpoints ----------------------------------------------------------------------
    def _all_params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self):
        """``{"state": {index: {name: array | number}}, "param_groups": [{hyperparameters,
        "params": [index, ...]}]}`` with parameters numbered in group order, as in PyTorch."""
        index = {id(p): i for i, p in enumerate(self._all_params())}
        groups = [{**{k: v for k, v in g.items() if k != "params"}, "params": [index[id(p)] for p in g["params"]]}
                  for g in self.param_groups]
        state = {index[id(p)]: dict(s) for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore state and hyperparameters saved by ``state_dict`` (ours or PyTorch's: arrays
        may be NumPy, CuPy, our Tensors or torch tensors). Everything is checked before anything
        changes, so a mismatching state_dict leaves the optimizer as it was."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the state_dict has {len(saved_groups)} parameter "
                             f"groups, the optimizer has {len(self.param_groups)}")
        by_index = {}
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"{name}.load_state_dict: parameter group {i} has {len(group['params'])} "
                                 f"parameters, the state_dict's has {len(saved['params'])}")
            by_index.update(zip((int(k) for k in saved["params"]), group["params"]))
        state = {}
        for index, values in state_dict["state"].items():
            index = int(index)  # a checkpoint format may have turned the keys into strings
            if index not in by_index:
                raise KeyError(f"{name}.load_state_dict: state for parameter {index}, which no group lists")
            p = by_index[index]
            state[p] = {key: _state_value(value, p, key, f"{name}.load_state_dict: state[{index}][{key!r}]")
                        for key, value in values.items()}
        self.state = state
        for group, saved in zip(self.param_groups, saved_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {key}: {group[key]}" for key in sorted(group) if key != "params")
        return "\n".join(lines + [")"])


def _state_value(value, param, key, where):
    """A saved state entry for ``param``: numbers stay numbers ("step", a tensor in PyTorch, an
    int), arrays go to the parameter's device and floating dtype and must have its shape."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    array = as_device_array(value, param.device, where)
    if key == "step":
        return int(float(array))
    if array.ndim and tuple(array.shape) != param.shape:
        raise ValueError(f"{where} has shape {tuple(array.shape)} but the parameter has shape {param.shape}")
    return array.astype(param.dtype, copy=True) if array.dtype.kind == "f" else array
