"""Module and Parameter: the containers that hold a model's weights and sub-models."""
from collections import OrderedDict

import numpy as np

from .. import backend
from ..tensor import Tensor, as_device_array


class Parameter(Tensor):
    """A Tensor that is a module's weight: it requires grad by default and is registered
    when assigned as a module attribute."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True, dtype=None, device=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, device=device)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of every layer and model (PyTorch's ``nn.Module``).

    Assigning a ``Parameter``, a ``Module`` or a buffer (``register_buffer``) as
    an attribute registers it; ``named_parameters``, ``state_dict`` and ``to`` walk the tree.
    Subclasses implement ``forward``; call the module itself.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__() before assigning attributes")
        if isinstance(value, Parameter):
            target = self._parameters
        elif isinstance(value, Module):
            target = self._modules
        elif name in self.__dict__.get("_buffer_names", ()):
            target = self._buffers
        else:
            target = None
        for registry in (self._parameters, self._modules, self._buffers):
            if registry is not target:
                registry.pop(name, None)
        if target is not None:
            target[name] = value  # replacing keeps the entry's place (and the state_dict order)
        object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor):
        """A non-trainable tensor saved in the state_dict (e.g. running statistics)."""
        self.__dict__.setdefault("_buffer_names", set()).add(name)
        setattr(self, name, tensor)

    def register_parameter(self, name, parameter):
        """Register ``parameter`` (or None, for an absent optional weight such as a bias)."""
        if parameter is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
        else:
            setattr(self, name, parameter)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----- traversal ----------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """(dotted name, module) for this module and every descendant, depth first; a module
        reached twice is listed once unless ``remove_duplicate=False``."""
        memo = set() if memo is None else memo
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(memo, f"{prefix}.{name}" if prefix else name, remove_duplicate)

    def apply(self, fn):
        """Call ``fn(module)`` on every descendant, then on this module (children first, as
        PyTorch, e.g. for a custom initialisation); returns self."""
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    def modules(self):
        return (module for _, module in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_children(self):
        return iter(self._modules.items())

    def named_parameters(self, prefix="", recurse=True, remove_duplicate=True):
        """(name, Parameter) pairs with dotted names; a parameter shared by several modules (tied
        weights) comes once, unless ``remove_duplicate=False``."""
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, parameter in module._parameters.items():
                if remove_duplicate and id(parameter) in seen:
                    continue
                seen.add(id(parameter))
                yield (f"{module_prefix}.{name}" if module_prefix else name), parameter

    def parameters(self, recurse=True):
        return (p for _, p in self.named_parameters(recurse=recurse))

    def named_buffers(self):
        for module_prefix, module in self.named_modules():
            for name, buffer in module._buffers.items():
                yield (f"{module_prefix}.{name}" if module_prefix else name), buffer

    # ----- modes and devices --------------------------------------------------------------
    def train(self, mode=True):
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        """Forget the parameters' gradients (or set them to zeros with ``set_to_none=False``)."""
        for parameter in self.parameters():
            if parameter.grad is not None:
                parameter.grad = None if set_to_none else parameter.grad.zeros_like()

    def requires_grad_(self, requires_grad=True):
        """Switch gradient tracking of every parameter (e.g. freeze a pretrained part); returns self."""
        for parameter in self.parameters():
            parameter.requires_grad_(requires_grad)
        return self

    def to(self, device=None, dtype=None):
        """Move (and/or cast) every parameter and buffer in place; returns self. A dtype
        (``to(np.float64)``, ``to(dtype=...)``) applies to floating tensors only."""
        if device is not None and not isinstance(device, (str, backend.Device)):
            device, dtype = None, device
        for module in self.modules():
            for registry in (module._parameters, module._buffers):
                for name, tensor in registry.items():
                    if tensor is None:
                        continue
                    moved = tensor.detach().to(device, dtype if tensor.dtype.kind == "f" else None).data
                    tensor.data = moved
                    tensor.grad = None
        return self

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def cpu(self):
        return self.to("cpu")

    def cuda(self):
        return self.to("cuda")

    # ----- state ------------------------------------------------------------------------
    def state_dict(self):
        """Ordered name -> Tensor (the tensors, not copies), in PyTorch's order: each module's
        parameters, then its buffers, then its children's; a tensor shared by two modules
        appears under both names, as in a PyTorch state_dict."""
        state = OrderedDict()
        for module_prefix, module in self.named_modules(remove_duplicate=False):
            for registry in (module._parameters, module._buffers):
                for name, tensor in registry.items():
                    if tensor is not None:
                        state[f"{module_prefix}.{name}" if module_prefix else name] = tensor
        return state

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into this module's parameters and buffers.

        Accepts our Tensors, NumPy or CuPy arrays and torch tensors. Every value is checked
        before any is written, so a missing/unexpected key or a shape mismatch raises
        (naming the key and both shapes) and leaves the module unchanged. With
        ``strict=False`` missing and unexpected keys are skipped and returned.
        """
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict into {type(self).__name__}: missing keys {missing}, "
                           f"unexpected keys {unexpected}")
        staged = {}
        for key, target in own.items():
            if key not in state_dict:
                continue
            array = as_device_array(state_dict[key], target.device, f"load_state_dict: value for '{key}'")
            if tuple(array.shape) != target.shape:
                raise ValueError(f"load_state_dict: shape mismatch for '{key}': the module has "
                                 f"{target.shape}, the state_dict has {tuple(array.shape)}")
            staged[key] = array.astype(target.dtype, copy=True)
        for key, array in staged.items():
            own[key].data = array
        return missing, unexpected

    # ----- printing ---------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = [f"({name}): " + repr(module).replace("\n", "\n  ") for name, module in self._modules.items()]
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + ")" if not lines else head + "\n  " + "\n  ".join(lines) + "\n)"
