"""The primitive differentiable ops, grouped by kind. Each is a :class:`~tinygrad_rnn.autograd.Function`
with its forward and backward side by side and the derivative in its docstring; the plain
functions next to them are what Tensor methods and :mod:`tinygrad_rnn.functional` call."""
