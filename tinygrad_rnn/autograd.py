"""Reverse-mode automatic differentiation: the Function node, grad mode and the backward walk.

Every differentiable op is a :class:`Function` with ``forward`` (on backend arrays) and
``backward`` (on Tensors) side by side. ``Function.apply`` runs the forward and, when a
gradient is wanted, records the node in the output tensor. ``backward`` walks those nodes in
reverse topological order (iteratively: an unrolled RNN can be 10^5 nodes deep), calls each
node's ``backward`` and reduces the gradient to the input's shape and dtype in one place
(:func:`_reduce_to_input`), so that no op has to handle broadcasting itself. Because every
``backward`` is written in Tensor ops, running it with recording switched on
(``create_graph=True``) yields differentiable gradients: Hessian-vector products and
gradient penalties come for free; without it nothing is recorded, so the backward stays cheap.
An op whose gradient is a scatter into its input (``x[t]``) may also have
``backward_into(buffer, g)``, which the walk calls instead when it records nothing, to add
``g`` in place (:func:`_gradient_buffer`).
``tinygrad_rnn.anomaly.detect_anomaly`` plugs a NaN/Inf check into ``apply`` and the
backward walk with :func:`set_anomaly_checker` (None, i.e. one global read per op, when off).
"""
import contextlib
import weakref

from .backend import device_of
from .tensor import Tensor

_grad_enabled = True
# The NaN/Inf checker of tinygrad_rnn.anomaly.detect_anomaly while it is active, else None:
# one global read per op, so anomaly detection costs nothing when off.
_anomaly = None


def set_anomaly_checker(checker):
    """Install ``checker`` (an object with ``check_forward(node, inputs, data)`` and
    ``run_backward(node, grad_output)``, or None to switch checking off); returns the previous
    one so that :func:`tinygrad_rnn.anomaly.detect_anomaly` can restore it."""
    global _anomaly
    previous, _anomaly = _anomaly, checker
    return previous


def is_grad_enabled():
    return _grad_enabled


@contextlib.contextmanager
def set_grad_enabled(mode):
    """Switch graph recording on or off inside the block."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, bool(mode)
    try:
        yield
    finally:
        _grad_enabled = previous


def no_grad():
    """Block in which ops record no graph (inference, optimizer updates)."""
    return set_grad_enabled(False)


def enable_grad():
    """Block in which ops record the graph again (inside ``no_grad``)."""
    return set_grad_enabled(True)


class Function:
    """A differentiable op. Subclasses implement::

        forward(self, *arrays, **options) -> array      # backend arrays in, array out
        backward(self, grad_output) -> Tensor | tuple   # one gradient (or None) per input

    ``backward`` may read ``self.inputs`` (Tensors), ``self.output`` (Tensor),
    ``self.needs_input_grad`` and anything ``forward`` stored on ``self``. It is written in
    Tensor ops, so it is itself differentiable. Gradients may have the output's broadcast
    shape: the engine sums them back to each input's shape.
    """

    inputs = ()
    needs_input_grad = ()
    _output_ref = None
    freed = False
    device = None

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors; record the node when some input requires a gradient.

        This runs once per op call, so it is kept lean: attribute reads are hoisted, and
        with recording off (``no_grad``, or no input requiring grad) no node is kept.
        """
        node = cls.__new__(cls)
        array_type = type(inputs[0].data)
        for other in inputs:
            if type(other.data) is not array_type:
                _raise_bad_inputs(cls.__name__.lower(), inputs)
        node.device = device_of(inputs[0].data)
        data = node.forward(*[t.data for t in inputs], **options)
        if _anomaly is not None:
            _anomaly.check_forward(node, inputs, data)
        if _grad_enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                out = Tensor._from_op(data, node)
                node.inputs = inputs
                node.needs_input_grad = needs
                node._output_ref = weakref.ref(out)
                return out
        return Tensor._from_op(data, None)

    @property
    def xp(self):
        """The array namespace (NumPy, CuPy, ...) of this node's device."""
        return self.device.xp

    @property
    def output(self):
        return self._output_ref()

    @property
    def name(self):
        return type(self).__name__

    def release(self):
        """Drop the references kept for backward (after a backward without retain_graph)."""
        self.__dict__.clear()
        self.inputs = ()
        self.freed = True

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad_output):
        raise NotImplementedError(f"{self.name} has no backward")

    def __repr__(self):
        return f"<{self.name}>"


def _raise_bad_inputs(op, inputs):
    """The error for inputs that are not Tensors of one device."""
    for position, value in enumerate(inputs):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}: input {position} is a {type(value).__name__}, not a Tensor "
                            f"(Function.apply takes Tensors; pass other values as keyword options)")
    raise RuntimeError(f"{op}: tensors are on different devices: "
                       + " and ".join(sorted({t.device.name for t in inputs})))


def _sum_to_shape(grad, shape, op_name):
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    leading = grad.ndim - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad.shape[leading + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if leading:
        grad = grad.reshape(shape)
    if grad.shape != shape:
        raise RuntimeError(f"{op_name}.backward returned a gradient of shape {grad.shape} "
                           f"for an input of shape {shape}")
    return grad


def _reduce_to_input(grad, tensor, op_name):
    """The one place where gradients are brought back to their input's shape and dtype
    (the backward loop calls it only when one of them differs)."""
    if grad.shape != tensor.shape:
        grad = _sum_to_shape(grad, tensor.shape, op_name)
    if grad.dtype != tensor.dtype:
        grad = grad.astype(tensor.dtype)
    return grad


def _accumulate(previous, grad, create_graph, handed_out):
    """The new ``.grad`` of a tensor: ``previous + grad``, or ``grad`` itself the first time.

    Without ``create_graph`` the stored array must belong to this tensor alone: a gradient can
    be a read-only broadcast view (the backward of ``sum``) or the very array another input
    received (the backward of ``a + b``), and an optimizer updating one ``.grad`` in place
    would then fail or change the other. Such gradients are copied; fresh ones are kept.
    """
    if previous is not None:
        return previous + grad
    if not create_graph:
        data = grad.data
        if data.base is not None or id(data) in handed_out:
            grad = Tensor._from_op(data.copy(), None)
        handed_out.add(id(grad.data))
    return grad


def _add_gradient(grads, buffers, key, grad):
    """``grads[key] += grad``: in place when the array is a buffer of this backward's own."""
    if key in buffers:
        grads[key].data += grad.data
    else:
        grads[key] = grads[key] + grad if key in grads else grad


def _gradient_buffer(grads, buffers, tensor):
    """The gradient of ``tensor`` gathered so far, as an array that this backward owns (zeros at
    first), for an op's ``backward_into`` to add into.

    The backward of ``x[t]`` is ``g`` scattered into zeros shaped like ``x``; an unrolled RNN
    takes ``x[t]`` at every one of its T steps, so building that array each time and adding it
    up would cost T full-sized arrays, O(T^2) in all. Added into one buffer, it costs O(T)."""
    key = id(tensor)
    if key not in buffers:
        gathered = grads.get(key)
        data = (tensor.xp.zeros(tensor.shape, tensor.dtype) if gathered is None
                else gathered.data.copy())
        grads[key] = Tensor._from_op(data, None)
        buffers.add(key)
    return grads[key].data


def _topological_order(roots):
    """Tensors reachable from ``roots`` that need a gradient, every input before its users."""
    order, visited = [], set()
    stack = [(root, False) for root in roots]
    while stack:
        tensor, inputs_done = stack.pop()
        if inputs_done:
            order.append(tensor)
            continue
        if id(tensor) in visited:
            continue
        visited.add(id(tensor))
        stack.append((tensor, True))
        node = tensor._node
        if node is not None:
            if node.freed:
                raise RuntimeError(
                    "backward: trying to backward through the graph a second time (its saved "
                    "values were freed after the first backward); pass retain_graph=True to the "
                    "first backward if you need to call it twice")
            stack.extend((t, False) for t in node.inputs if t.requires_grad and id(t) not in visited)
    return order


def _leading_to(order, wanted_ids):
    """For ``grad``: the tensors of ``order`` (inputs first) from which a path leads back to a
    wanted one, and the ids of those among them whose backward must run (an input leads to a
    wanted tensor). No other backward runs."""
    expanded, leading = set(), set(wanted_ids)
    for tensor in order:
        node = tensor._node
        if node is not None and any(id(t) in leading for t in node.inputs):
            expanded.add(id(tensor))
            leading.add(id(tensor))
    return [tensor for tensor in order if id(tensor) in leading], expanded


def _check_root_grad(tensor, grad):
    if grad is None:
        if tensor.numel() != 1:
            raise RuntimeError(f"backward: grad can be created implicitly only for a scalar output, "
                               f"but the output has shape {tensor.shape}; pass grad=")
        return Tensor(tensor.xp.ones(tensor.shape, dtype=tensor.dtype), device=tensor.device)
    grad = grad if isinstance(grad, Tensor) else Tensor(grad, dtype=tensor.dtype, device=tensor.device)
    if grad.shape != tensor.shape:
        raise RuntimeError(f"backward: grad has shape {grad.shape} but the output has shape {tensor.shape}")
    if grad.device is not tensor.device:
        raise RuntimeError(f"backward: grad is on device {grad.device.name} but the output is on "
                           f"{tensor.device.name}")
    return grad if grad.dtype == tensor.dtype else grad.astype(tensor.dtype)


def _backpropagate(roots, root_grads, retain_graph, create_graph, wanted=None):
    """Propagate ``root_grads`` from ``roots`` to every tensor of the graph.

    Without ``wanted`` the gradients of leaves accumulate into ``.grad`` (``backward``); with
    ``wanted`` (a list of tensors) they are returned instead and no ``.grad`` changes (``grad``).
    """
    for root in roots:
        if not root.requires_grad:
            raise RuntimeError("backward: the output does not require grad (no input of the graph "
                               "has requires_grad=True, or it was computed under no_grad)")
    retain_graph = create_graph if retain_graph is None else retain_graph
    wanted_ids = None if wanted is None else {id(t): i for i, t in enumerate(wanted)}
    found = [None] * len(wanted or ())
    grads, buffers = {}, set()  # buffers: keys of grads whose array this backward owns
    for root, grad in zip(roots, root_grads):
        _add_gradient(grads, buffers, id(root), grad)
    handed_out = set()  # ids of the arrays stored in some .grad by this backward
    scatter_in_place = not create_graph and _anomaly is None
    with set_grad_enabled(create_graph):
        order, expanded = _topological_order(roots), None
        if wanted is not None:
            order, expanded = _leading_to(order, wanted_ids)
        for tensor in reversed(order):
            grad = grads.pop(id(tensor), None)
            buffers.discard(id(tensor))
            if grad is None:
                continue
            for hook in tensor._hooks:
                replaced = hook(grad)
                grad = grad if replaced is None else replaced
            node = tensor._node
            if wanted_ids is not None:
                if id(tensor) in wanted_ids:
                    found[wanted_ids[id(tensor)]] = grad
            elif node is None or tensor._retains_grad:
                tensor.grad = _accumulate(tensor.grad, grad, create_graph, handed_out)
            if node is None or expanded is not None and id(tensor) not in expanded:
                continue
            if scatter_in_place and hasattr(node, "backward_into"):
                node.backward_into(_gradient_buffer(grads, buffers, node.inputs[0]), grad.data)
                if not retain_graph:
                    node.release()
                continue
            input_grads = node.backward(grad) if _anomaly is None else _anomaly.run_backward(node, grad)
            if type(input_grads) is not tuple:
                input_grads = (input_grads,)
            for parent, needed, parent_grad in zip(node.inputs, node.needs_input_grad, input_grads):
                if not needed or parent_grad is None:
                    continue
                if parent_grad.shape != parent.shape or parent_grad.dtype != parent.dtype:
                    parent_grad = _reduce_to_input(parent_grad, parent, node.name)
                _add_gradient(grads, buffers, id(parent), parent_grad)
            if not retain_graph:
                node.release()
    return found


def backward(tensor, grad=None, retain_graph=None, create_graph=False):
    """Accumulate d(tensor)/d(leaf) into ``leaf.grad`` for every leaf that requires grad."""
    _backpropagate([tensor], [_check_root_grad(tensor, grad)], retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, allow_unused=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned instead of stored in ``.grad``.

    ``outputs`` and ``inputs`` are Tensors or sequences of Tensors; ``grad_outputs`` holds one
    gradient per output (may be omitted for scalar outputs). With ``create_graph=True`` the
    returned gradients are themselves differentiable.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    single = isinstance(inputs, Tensor)
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, Tensor):
        grad_outputs = [grad_outputs] * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: {len(grad_outputs)} grad_outputs given for {len(outputs)} outputs")
    for tensor in inputs:
        if not tensor.requires_grad:
            raise RuntimeError(f"grad: an input of shape {tensor.shape} does not require grad")
    root_grads = [_check_root_grad(out, g) for out, g in zip(outputs, grad_outputs)]
    found = _backpropagate(outputs, root_grads, retain_graph, create_graph, wanted=inputs)
    for tensor, g in zip(inputs, found):
        if g is None and not allow_unused:
            raise RuntimeError(f"grad: an input of shape {tensor.shape} was not used to compute the "
                               "outputs; pass allow_unused=True to get None for it")
    return found[0] if single else tuple(found)
