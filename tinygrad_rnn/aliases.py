"""PyTorch's and NumPy's names for the same argument: ``dim``/``axis`` and ``keepdim``/``keepdims``.

Every public function or method that takes an axis is wrapped by ``dim_aliases``, so both
spellings work everywhere and a PyTorch user's ``x.mean(dim=1, keepdim=True)`` and a NumPy
user's ``x.mean(axis=1, keepdims=True)`` reach the same code. Passing both spellings of one
argument is an error, never a silent choice.
"""
import functools
import inspect

_PAIRS = (("dim", "axis"), ("keepdim", "keepdims"))


def dim_aliases(function):
    """Wrap ``function`` so that the other spelling of each of its axis arguments is accepted
    as a keyword (the spelling in its own signature is the canonical one)."""
    own = inspect.signature(function).parameters
    renames = {}
    for torch_name, numpy_name in _PAIRS:
        if torch_name in own:
            renames[numpy_name] = torch_name
        elif numpy_name in own:
            renames[torch_name] = numpy_name
    if not renames:
        raise TypeError(f"dim_aliases: {function.__qualname__} has no dim/axis or keepdim/keepdims argument")

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        if kwargs:
            for alias, name in renames.items():
                if alias in kwargs:
                    if name in kwargs:
                        raise TypeError(f"{function.__name__}: got both {name}= and its alias {alias}=; pass one")
                    kwargs[name] = kwargs.pop(alias)
        return function(*args, **kwargs)
    return wrapper
