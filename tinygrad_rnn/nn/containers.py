"""Containers of modules: Sequential (a chain) and ModuleList (an indexable list).

Sub-modules are registered under their position ("0", "1", ...), so parameter names are
PyTorch's ("0.weight", "layers.1.bias") and a PyTorch state_dict loads unchanged.
"""
from collections import OrderedDict

from .module import Module


class ModuleList(Module):
    """A list of modules whose parameters belong to the owner: indexing (negative indices and
    slices too), ``len``, iteration, ``append``, ``extend``, ``insert``."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _index(self, index):
        if not -len(self) <= index < len(self):
            raise IndexError(f"{type(self).__name__}: index {index} is out of range for length {len(self)}")
        return index % len(self)

    def __getitem__(self, index):
        items = list(self._modules.values())
        if isinstance(index, slice):
            return type(self)(items[index])
        return items[self._index(index)]

    def __setitem__(self, index, module):
        setattr(self, str(self._index(index)), _checked(module, type(self).__name__))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def append(self, module):
        setattr(self, str(len(self)), _checked(module, type(self).__name__))
        return self

    def extend(self, modules):
        for module in modules:
            self.append(module)
        return self

    def insert(self, index, module):
        """Insert ``module`` before position ``index``; later modules move up one place."""
        items = list(self._modules.values())
        items.insert(index, _checked(module, type(self).__name__))
        self._modules.clear()
        for position, item in enumerate(items):
            setattr(self, str(position), item)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} is a container: iterate over it and call its modules")


class Sequential(ModuleList):
    """Modules called in order, each on the previous one's output.

    ``Sequential(m0, m1, ...)`` names them "0", "1", ...; ``Sequential(OrderedDict(name=m))``
    keeps the given names. Slicing returns a Sequential with the same names.
    """

    def __init__(self, *modules):
        Module.__init__(self)
        if len(modules) == 1 and isinstance(modules[0], OrderedDict):
            for name, module in modules[0].items():
                setattr(self, name, _checked(module, "Sequential"))
        else:
            self.extend(modules)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Sequential(OrderedDict(list(self._modules.items())[index]))
        return super().__getitem__(index)

    def __setitem__(self, index, module):
        setattr(self, list(self._modules)[self._index(index)], _checked(module, "Sequential"))

    def forward(self, x):
        for module in self:
            x = module(x)
        return x


def _checked(module, container):
    if not isinstance(module, Module):
        raise TypeError(f"{container}: {type(module).__name__} is not a Module")
    return module
