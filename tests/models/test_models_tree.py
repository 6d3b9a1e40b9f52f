"""Recursive networks over binary trees: parsing, level batching, gradients, bad trees."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import tinygrad_rnn as tg
from tinygrad_rnn.models import Tree, TreeLSTM, TreeRNN, TreeSchedule, encode_trees, tree_lstm_cell, tree_rnn_cell
from tinygrad_rnn.testing import gradcheck

DIGITS, OPERATORS = list(range(10)), ["+", "-", "*"]


def random_tree(rng, depth, labelled=True):
    """A random expression tree of exactly ``depth`` (nested tuples)."""
    if depth == 0:
        return int(rng.integers(10))
    deep = (random_tree(rng, depth - 1, labelled), random_tree(rng, int(rng.integers(depth)), labelled))
    children = deep if rng.random() < 0.5 else deep[::-1]
    return (OPERATORS[rng.integers(3)],) + children if labelled and rng.random() < 0.8 else children


trees_strategy = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 2**31)), min_size=1, max_size=4).map(
    lambda specs: [random_tree(np.random.default_rng(seed), depth) for depth, seed in specs])


# ----- the tree structure ----------------------------------------------------------------

def test_nested_tuples_round_trip_and_depth():
    nested = ("+", 3, ("*", (4, 5), 6))
    tree = Tree.from_nested(nested)
    assert tree.to_nested() == nested and tree.depth() == 3
    assert [leaf.label for leaf in tree.leaves()] == [3, 4, 5, 6]
    assert Tree.from_nested(7).is_leaf and Tree.from_nested(7).depth() == 0
    assert Tree.from_nested(tree) is tree


def test_schedule_groups_nodes_by_height_across_trees():
    schedule = TreeSchedule([("+", 1, ("*", 2, 3)), 4], {d: d for d in DIGITS}, {"+": 10, "*": 11})
    assert [len(level["labels"]) for level in schedule.levels] == [4, 1, 1]  # 4 leaves, *, +
    assert schedule.levels[0]["labels"].tolist() == [1, 2, 3, 4]
    star, plus = schedule.levels[1], schedule.levels[2]
    assert star["labels"].tolist() == [11] and (star["left"][0], star["right"][0]) == (2, 3)
    assert plus["labels"].tolist() == [10] and (plus["left"][0], plus["right"][0]) == (1, 5)
    assert schedule.roots.tolist() == [6, 4]


def test_deep_trees_need_no_recursion():
    tree = 0
    for _ in range(3000):  # deeper than Python's recursion limit
        tree = ("+", tree, 1)
    model = TreeRNN(DIGITS, 2, 3, node_labels=OPERATORS)
    assert model([tree]).shape == (1, 3)


# ----- the networks against a node-by-node NumPy reference ---------------------------------

def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def reference_encode(model, tree):
    """The root state, computed one node at a time by recursion, in NumPy."""
    embedding, weight, bias = (p.numpy().astype(np.float64) for p in (model.embedding, model.weight, model.bias))
    hidden = model.hidden_size

    def visit(node):
        if node.is_leaf:
            children = [(np.zeros(hidden), np.zeros(hidden))] * 2
            x = embedding[model.leaf_ids[node.label]]
        else:
            children = [visit(child) for child in node.children]
            x = np.zeros(embedding.shape[1]) if node.label is None else embedding[model.node_ids[node.label]]
        z = weight @ np.concatenate([x, children[0][0], children[1][0]]) + bias
        if isinstance(model, TreeRNN):
            return np.tanh(z), None
        i, f_left, f_right, g, o = np.split(z, 5)
        c = _sigmoid(i) * np.tanh(g) + _sigmoid(f_left) * children[0][1] + _sigmoid(f_right) * children[1][1]
        return _sigmoid(o) * np.tanh(c), c

    return visit(Tree.from_nested(tree))


@pytest.mark.parametrize("network", [TreeRNN, TreeLSTM])
@settings(max_examples=25, deadline=None)
@given(trees=trees_strategy)
def test_level_batched_encoding_equals_node_by_node_recursion(network, trees):
    model = network(DIGITS, 4, 5, node_labels=OPERATORS, dtype=np.float64)
    states = model.encode(trees)
    for row, tree in enumerate(trees):
        h, c = reference_encode(model, tree)
        np.testing.assert_allclose(states[0].numpy()[row], h, rtol=1e-12, atol=1e-12)
        if c is not None:
            np.testing.assert_allclose(states[1].numpy()[row], c, rtol=1e-12, atol=1e-12)


def _op_count(output, name):
    """How many nodes named ``name`` the graph of ``output`` holds."""
    seen, stack, count = set(), [output.grad_fn], 0
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        count += node.name == name
        stack.extend(t.grad_fn for t in node.inputs)
    return count


def test_one_matmul_per_level_whatever_the_batch_size():
    model = TreeLSTM(DIGITS, 4, 5, node_labels=OPERATORS)
    rng = np.random.default_rng(0)
    trees = [random_tree(rng, 3) for _ in range(40)]  # height 3: levels 0..3
    h, c = model(trees)
    assert h.shape == (40, 5) and _op_count(h, "MatMul") == 4


def test_all_node_states_hold_the_root_states():
    model = TreeLSTM(DIGITS, 4, 5, node_labels=OPERATORS, dtype=np.float64)
    trees = [("+", 1, ("*", 2, 3)), 4, ((5, 6), 7)]
    schedule = model.schedule(trees)
    every_h, _ = model.encode(schedule, all_nodes=True)
    assert every_h.shape == (len(schedule.nodes), 5) == (11, 5)
    np.testing.assert_array_equal(every_h.numpy()[schedule.roots - 1], model(trees)[0].numpy())


@pytest.mark.parametrize("network", [TreeRNN, TreeLSTM])
def test_runs_on_the_strict_backend(network):
    trees = [("+", 1, ("*", 2, 3)), (4, 5)]
    cpu = network(DIGITS, 4, 5, node_labels=OPERATORS, dtype=np.float64)
    strict = network(DIGITS, 4, 5, node_labels=OPERATORS, dtype=np.float64, device="strict")
    strict.load_state_dict(cpu.state_dict())
    out = strict.encode(trees)[0]
    out.sum().backward()
    np.testing.assert_allclose(out.numpy(), cpu.encode(trees)[0].numpy(), rtol=1e-12)
    assert strict.weight.grad.shape == strict.weight.shape


@pytest.mark.parametrize("cell,gates,num_states", [(tree_rnn_cell, 1, 1), (tree_lstm_cell, 5, 2)])
def test_gradcheck_on_small_random_trees(cell, gates, num_states):
    rng = np.random.default_rng(0)
    trees = [random_tree(rng, depth) for depth in (0, 1, 2, 3)] + [((1, 2), ("-", 3, 4))]
    schedule = TreeSchedule(trees, {d: d for d in DIGITS}, {op: 10 + i for i, op in enumerate(OPERATORS)})
    embedding = tg.Tensor(rng.standard_normal((13, 2)), requires_grad=True)
    weight = tg.Tensor(rng.standard_normal((gates * 3, 2 + 2 * 3)) * 0.5, requires_grad=True)
    bias = tg.Tensor(rng.standard_normal(gates * 3) * 0.5, requires_grad=True)
    assert gradcheck(lambda e, w, b: encode_trees(schedule, e, w, b, cell, num_states), [embedding, weight, bias])


# ----- malformed trees -------------------------------------------------------------------

@pytest.mark.parametrize("tree,message", [
    (("+", 1), "unknown leaf label '\\+' \\(it is a node label: a node with one child where two are required"),
    ((1,), "tuple of 1 elements.*one child where two are required"),
    ((1, 2, 3, 4), "tuple of 4 elements"),
    (("+", 1, 12), "unknown leaf label 12"),
    (("/", 1, 2), "unknown node label '/'"),
    ((1, (3, "x")), "unknown leaf label 'x'"),
])
def test_malformed_trees_are_clear_errors(tree, message):
    model = TreeLSTM(DIGITS, 2, 3, node_labels=OPERATORS)
    with pytest.raises(ValueError, match=message):
        model([tree])


def test_tree_class_refuses_one_child_and_unlabelled_leaves():
    with pytest.raises(ValueError, match="0 or 2 children, got 1"):
        Tree("+", [Tree(1)])
    with pytest.raises(ValueError, match="a leaf needs a label"):
        Tree()
    with pytest.raises(TypeError, match="children must be Trees"):
        Tree("+", [1, 2])
    with pytest.raises(ValueError, match="non-empty"):
        TreeRNN(DIGITS, 2, 3)([])
    with pytest.raises(ValueError, match="distinct"):
        TreeRNN([1, 2], 2, 3, node_labels=[2])
