"""Reverse-mode automatic differentiation: the backward walk over the graph of Function nodes.

The chain rule, one node at a time: visiting the nodes from the output back to the inputs
(reverse topological order, iteratively, since an unrolled RNN can be 10^5 nodes deep), each
node turns the gradients of its outputs into gradients of its inputs (its ``backward``), and an
input used by several nodes sums what they hand it. Leaves keep the sum in ``.grad``.

Because every ``backward`` is written in Tensor ops, running the walk with recording on
(``create_graph=True``) makes the gradients themselves differentiable.
"""
from .function import Function  # noqa: F401  (ops import Function from here)
from .grad_mode import enable_grad, is_grad_enabled, no_grad, set_grad_enabled, state  # noqa: F401
from .tensor import Tensor


def _backpropagate(roots, root_grads, retain_graph, create_graph, wanted=None):
    """Carry ``root_grads`` from ``roots`` back through the graph.

    Without ``wanted`` the gradients of leaves accumulate into ``.grad`` (``backward``); with
    ``wanted`` (a list of tensors) they are returned instead and no ``.grad`` changes (``grad``),
    and only the nodes on a path to a wanted tensor run.
    """
    retain_graph = create_graph if retain_graph is None else retain_graph
    nodes, leaves = _graph_of(roots)
    if wanted is not None:
        nodes = _leading_to(nodes, wanted)
    gradients = _Gradients(create_graph, wanted)
    for root, grad in zip(roots, root_grads):
        gradients.add(root, grad)
    with set_grad_enabled(create_graph):
        for node, outputs in reversed(nodes):
            grad_outputs = [gradients.take(out) for out in outputs]
            if grad_outputs[0] is not None or any(g is not None for g in grad_outputs):
                if gradients.in_place and hasattr(node, "backward_into"):
                    node.backward_into(gradients.buffer(node.inputs[0]), grad_outputs[0].data)
                else:
                    input_grads = _run_backward(node, grad_outputs)
                    for parent, needed, grad in zip(node.inputs, node.needs_input_grad, input_grads):
                        if needed and grad is not None:
                            gradients.add(parent, grad, node)
            if not retain_graph:
                node.release()
        for tensor in leaves if wanted is None else wanted:
            gradients.take(tensor)
    return gradients.found


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


def _run_backward(node, grad_outputs):
    """The node's input gradients as a tuple, one per input (None for one it does not give)."""
    if state.anomaly is not None:
        grads = state.anomaly.run_backward(node, grad_outputs)
    else:
        grads = node.backward(*grad_outputs)
    return grads if type(grads) is tuple else (grads,)


class _Gradients:
    """The gradients gathered during one backward walk, keyed by tensor.

    ``add`` sums a gradient into a tensor's (reduced to its shape and dtype first); ``take``
    removes a tensor's finished gradient, runs its hooks and hands it out: to ``.grad`` for a
    leaf or a tensor that retains its gradient, or to the result of ``grad()`` for a wanted one.
    """

    def __init__(self, create_graph, wanted):
        self.create_graph = create_graph
        self.wanted = None if wanted is None else {id(t): i for i, t in enumerate(wanted)}
        self.found = [None] * len(wanted or ())
        self.sums = {}          # id(tensor) -> Tensor
        self.owned = set()      # ids whose array in sums this walk allocated (may add in place)
        self.handed_out = set()  # ids of the arrays stored in some .grad by this walk
        # backward_into (add in place) only when nothing is recorded or checked
        self.in_place = not create_graph and state.anomaly is None

    def add(self, tensor, grad, node=None):
        """Sum ``grad`` (from ``node``'s backward, None for a root) into ``tensor``'s gradient."""
        if grad.shape != tensor.shape or grad.dtype != tensor.dtype:
            grad = _reduce_to_input(grad, tensor, "backward" if node is None else node.name)
        key = id(tensor)
        previous = self.sums.get(key)
        if previous is None:
            self.sums[key] = grad
            if self.in_place and node is not None and node.fresh_gradients:
                self.owned.add(key)
        elif key in self.owned:
            previous.data += grad.data
        else:
            self.sums[key] = previous + grad

    def buffer(self, tensor):
        """The gradient of ``tensor`` gathered so far, as an array this walk owns (zeros at
        first), for an op's ``backward_into`` to add into.

        The backward of ``x[t]`` is ``g`` scattered into zeros shaped like ``x``; an unrolled RNN
        takes ``x[t]`` at every one of its T steps, so building that array each time and adding
        it up would cost T full-sized arrays, O(T^2) in all. Added into one buffer, it costs O(T).
        """
        key = id(tensor)
        if key not in self.owned:
            gathered = self.sums.get(key)
            data = (tensor.xp.zeros(tensor.shape, tensor.dtype) if gathered is None
                    else gathered.data.copy())
            self.sums[key] = Tensor._from_op(data, None)
            self.owned.add(key)
        return self.sums[key].data

    def take(self, tensor):
        key = id(tensor)   # a dead output (None) has no gradient here
        grad = self.sums.pop(key, None)
        if grad is None:
            return None
        self.owned.discard(key)
        for hook in tensor._hooks:
            replaced = hook(grad)
            grad = grad if replaced is None else replaced
        if self.wanted is not None:
            if key in self.wanted:
                self.found[self.wanted[key]] = grad
        elif tensor._node is None or tensor._retains_grad:
            tensor.grad = _accumulate(tensor.grad, grad, self.create_graph, self.handed_out)
        return grad


def _graph_of(roots):
    """The nodes reachable from ``roots`` with their outputs, every node after the nodes of its
    inputs, and the leaves (tensors without a node) that require grad.

    The outputs are held here because a node holds them weakly: once the node that used one
    releases its inputs, nothing else might."""
    for root in roots:
        if not root.requires_grad:
            raise RuntimeError("backward: the output does not require grad (no input of the graph "
                               "has requires_grad=True, or it was computed under no_grad)")
    order, leaves, visited = [], [], set()
    stack = [(root, False) for root in roots]
    while stack:
        tensor, inputs_done = stack.pop()
        node = tensor._node
        if inputs_done:
            order.append((node, node.outputs))
            continue
        key = id(tensor if node is None else node)
        if key in visited:
            continue
        visited.add(key)
        if node is None:
            leaves.append(tensor)
            continue
        if node.freed:
            raise RuntimeError(
                "backward: trying to backward through the graph a second time (its saved "
                "values were freed after the first backward); pass retain_graph=True to the "
                "first backward if you need to call it twice")
        stack.append((tensor, True))
        stack.extend((t, False) for t in node.inputs if t.requires_grad)
    return order, leaves


def _leading_to(nodes, wanted):
    """For ``grad``: the nodes (inputs first) from which a path leads back to a wanted tensor;
    no other backward needs to run."""
    leading, kept = {id(t) for t in wanted}, []
    for node, outputs in nodes:
        if any(id(t) in leading for t in node.inputs):
            kept.append((node, outputs))
            leading.update(id(out) for out in outputs if out is not None)
    return kept


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
    """The one place where gradients are brought back to their input's shape and dtype."""
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
