"""Recursive neural networks over binary trees: TreeRNN and the binary TreeLSTM.

Every node j has an input xⱼ (the embedding of its label; zero for an unlabelled internal
node) and two children l, r (leaves read the zero state for both). With z = [xⱼ; h_l; h_r]:

TreeRNN (Socher et al. 2011; the input term added so labelled nodes, e.g. operators, count):

    hⱼ = tanh(W z + b)

Binary TreeLSTM (the N-ary TreeLSTM of Tai et al. 2015 with N = 2; a forget gate per child,
each gate seeing both children):

    [i, f_l, f_r, g, o] = W z + b          (W has 5·hidden rows, in this order)
    cⱼ = σ(i) ⊙ tanh(g) + σ(f_l) ⊙ c_l + σ(f_r) ⊙ c_r
    hⱼ = σ(o) ⊙ tanh(cⱼ)

The backward pass is backpropagation through structure: the same tape as BPTT, over a tree
instead of a chain. Nodes are evaluated level by level (``TreeSchedule``), all
nodes of a height across the batch in one matmul. ``encode_trees`` is the functional
form (used by the gradient checks); the modules hold the parameters.
"""
import math

from .. import backend, functional as F
from ..dtypes import get_default_dtype
from ..nn.module import Module, Parameter
from ..tensor import Tensor
from .tree import TreeSchedule


def tree_rnn_cell(z, weight, bias, child_states):
    """hⱼ = tanh(W z + b); the state is the tuple (h,)."""
    return (F.linear(z, weight, bias).tanh(),)


def tree_lstm_cell(z, weight, bias, child_states):
    """cⱼ = σ(i)⊙tanh(g) + σ(f_l)⊙c_l + σ(f_r)⊙c_r, hⱼ = σ(o)⊙tanh(cⱼ); the state is (h, c)."""
    (_, c_left), (_, c_right) = child_states
    i, f_left, f_right, g, o = F.linear(z, weight, bias).split(weight.shape[0] // 5, axis=1)
    c = i.sigmoid() * g.tanh() + f_left.sigmoid() * c_left + f_right.sigmoid() * c_right
    return (o.sigmoid() * c.tanh(), c)


def encode_trees(schedule, embedding, weight, bias, cell, num_states, all_nodes=False):
    """The root states of the trees of ``schedule``: a tuple of ``num_states`` Tensors
    (num_trees, hidden) — (h,) for ``tree_rnn_cell``, (h, c) for ``tree_lstm_cell``.
    With ``all_nodes`` the states of every node instead, (num_nodes, hidden) in the order of
    ``schedule.nodes`` (for losses on every subtree, as in Tai et al.'s sentiment treebank)."""
    device, dtype = embedding.device, embedding.dtype
    hidden_size = (weight.shape[1] - embedding.shape[1]) // 2  # W acts on [x; h_l; h_r]
    # one table per state component: row 0 is the zero state leaves read as children,
    # then the nodes level by level
    tables = [Tensor(device.xp.zeros((1, hidden_size), dtype=dtype))] * num_states
    for level in schedule.levels:
        labels, labelled, left, right = (device.asarray(level[key]) for key in ("labels", "labelled", "left", "right"))
        x = F.embedding(labels, embedding) * Tensor(labelled.astype(dtype))
        left_states = tuple(table[left] for table in tables)
        right_states = tuple(table[right] for table in tables)
        states = cell(F.cat([x, left_states[0], right_states[0]], axis=1), weight, bias, (left_states, right_states))
        tables = [F.cat([table, state], axis=0) for table, state in zip(tables, states)]
    if all_nodes:
        return tuple(table[1:] for table in tables)
    roots = device.asarray(schedule.roots)
    return tuple(table[roots] for table in tables)


class _TreeNetwork(Module):
    """The shared part of TreeRNN and TreeLSTM: label vocabulary, embedding, one fused
    weight over [x; h_l; h_r]."""

    cell = None
    gates = 1       # blocks of hidden_size rows in the weight
    num_states = 1  # state components per node: (h,) or (h, c)

    def __init__(self, leaf_labels, embedding_dim, hidden_size, node_labels=(), device=None, dtype=None):
        super().__init__()
        leaf_labels, node_labels = list(leaf_labels), list(node_labels)
        labels = leaf_labels + node_labels
        if len(set(labels)) != len(labels):
            raise ValueError(f"{type(self).__name__}: leaf and node labels must be distinct, got "
                             f"{leaf_labels} and {node_labels}")
        # one embedding table: leaf labels first, then node labels
        self.leaf_ids = {label: i for i, label in enumerate(leaf_labels)}
        self.node_ids = {label: len(leaf_labels) + i for i, label in enumerate(node_labels)}
        self.embedding_dim, self.hidden_size = embedding_dim, hidden_size
        device = backend.get_device(device)
        dtype = dtype or get_default_dtype()
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's RNN initialisation, U(-bound, bound)
        uniform = lambda *shape: (device.uniform(shape, dtype) * 2 - 1) * bound  # noqa: E731
        self.embedding = Parameter(device.standard_normal((len(labels), embedding_dim), dtype))
        self.weight = Parameter(uniform(self.gates * hidden_size, embedding_dim + 2 * hidden_size))
        self.bias = Parameter(uniform(self.gates * hidden_size))

    def schedule(self, trees):
        return TreeSchedule(trees, self.leaf_ids, self.node_ids, owner=type(self).__name__)

    def encode(self, trees, all_nodes=False):
        """The root states (a tuple) of a list of trees (Trees or nested tuples) or of a
        ``TreeSchedule``; every node's states with ``all_nodes`` (see ``encode_trees``)."""
        schedule = trees if isinstance(trees, TreeSchedule) else self.schedule(trees)
        return encode_trees(schedule, self.embedding, self.weight, self.bias, self.cell, self.num_states, all_nodes)

    def extra_repr(self):
        return (f"{len(self.leaf_ids)} leaf labels, {len(self.node_ids)} node labels, "
                f"{self.embedding_dim}, {self.hidden_size}")


class TreeRNN(_TreeNetwork):
    """hⱼ = tanh(W [xⱼ; h_l; h_r] + b) over binary trees; ``forward(trees)`` -> root h (B, hidden)."""

    cell = staticmethod(tree_rnn_cell)

    def forward(self, trees):
        return self.encode(trees)[0]


class TreeLSTM(_TreeNetwork):
    """Binary TreeLSTM (Tai et al. 2015); ``forward(trees)`` -> (h, c) of the roots, each (B, hidden)."""

    cell = staticmethod(tree_lstm_cell)
    gates = 5
    num_states = 2

    def forward(self, trees):
        return self.encode(trees)
