"""Layers and models: Module, Parameter, and the layers built on them."""
from .module import Module, Parameter  # noqa: F401
