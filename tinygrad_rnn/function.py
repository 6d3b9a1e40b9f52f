"""Function: a differentiable op, its forward and backward side by side.

``Function.apply`` runs ``forward`` on the inputs' arrays and, when a gradient is wanted,
records the op as a node of the graph: the node keeps its inputs (strongly, so the graph lives as
long as its outputs) and its outputs (weakly, so a graph nobody holds is freed).
"""
import weakref

from .backend import device_of
from .grad_mode import state
from .tensor import Tensor


class Function:
    """A differentiable op. Subclasses implement::

        forward(self, *arrays, **options) -> array | tuple of arrays
        backward(self, *grad_outputs) -> Tensor | tuple      # one gradient (or None) per input

    ``forward`` takes and returns backend arrays; an op with several outputs returns a tuple, and
    ``apply`` then returns a tuple of Tensors. ``backward`` receives one gradient per output
    (None for an output that received no gradient; it runs only when at least one is not None)
    and may read ``self.inputs`` (Tensors), ``self.output`` / ``self.outputs``,
    ``self.needs_input_grad`` and anything ``forward`` stored on ``self``. It is written in
    Tensor ops, so it is itself differentiable. Gradients may have the output's broadcast shape:
    the engine sums them back to each input's shape. An op whose ``backward`` returns arrays that
    nothing else holds, a distinct one per input, may set ``fresh_gradients = True``: the engine
    then adds an input's other gradients into them in place instead of into a new array.
    """

    inputs = ()
    fresh_gradients = False
    needs_input_grad = ()
    _output_refs = ()
    freed = False
    device = None

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on Tensors; record the node when some input requires a gradient.

        This runs once per op call, so it is kept lean: with recording off (``no_grad``, or no
        input requiring grad) no node is kept.
        """
        node = cls.__new__(cls)
        first = inputs[0].data
        array_type = type(first)
        for other in inputs:
            if type(other.data) is not array_type:
                _raise_bad_inputs(cls.__name__.lower(), inputs)
        node.device = device_of(first)
        data = node.forward(*[t.data for t in inputs], **options)
        switches = state
        if switches.anomaly is not None:
            switches.anomaly.check_forward(node, inputs, data if type(data) is tuple else (data,))
        if switches.grad_enabled:
            needs = tuple([t.requires_grad for t in inputs])
            if True in needs:
                node.inputs, node.needs_input_grad = inputs, needs
                if type(data) is tuple:
                    outputs = tuple([Tensor._from_op(array, node) for array in data])
                    node._output_refs = tuple([weakref.ref(out) for out in outputs])
                    return outputs
                output = Tensor._from_op(data, node)
                node._output_refs = (weakref.ref(output),)
                return output
        if type(data) is tuple:
            return tuple([Tensor._from_op(array, None) for array in data])
        return Tensor._from_op(data, None)

    @property
    def xp(self):
        """The array namespace (NumPy, CuPy, ...) of this node's device."""
        return self.device.xp

    @property
    def outputs(self):
        """The output Tensors, None for one that no longer exists (nothing can use it)."""
        return tuple([ref() for ref in self._output_refs])

    @property
    def output(self):
        """The output Tensor of a one-output op."""
        return self._output_refs[0]()

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

    def backward(self, *grad_outputs):
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
