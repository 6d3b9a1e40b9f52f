"""The primitive differentiable ops, grouped by kind. Each is a ``Function``
with its forward and backward side by side and the derivative in its docstring; the plain
functions next to them are what Tensor methods and ``tinygrad_rnn.functional`` call."""
