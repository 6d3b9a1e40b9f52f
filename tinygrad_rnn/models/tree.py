"""Binary trees for recursive networks, and the level schedule that batches them.

A tree is a ``Tree`` (a label and zero or two children) or nested tuples:

    leaf                      any non-tuple value: its label, e.g. 7 or "cat"
    (left, right)             an internal node without a label
    (label, left, right)      an internal node with a label, e.g. ("+", 3, ("*", 4, 5))

A recursive network computes a node's state from its children's states, so a node can be
computed once its children are. ``TreeSchedule`` groups the nodes of a whole batch of
trees by height (leaves 0, a parent 1 + the larger height of its children): every node of a
height depends only on lower heights, so one level of all trees is one batched matmul, and a
batch of trees of height d takes d + 1 steps whatever its size.
"""
from collections.abc import Hashable

import numpy as np


class Tree:
    """A node of a binary tree: ``label`` (None for an unlabelled internal node) and
    ``children``, either empty (a leaf) or exactly two Trees."""

    __slots__ = ("label", "children")

    def __init__(self, label=None, children=()):
        children = tuple(children)
        if len(children) not in (0, 2):
            raise ValueError(f"Tree: a node has 0 or 2 children, got {len(children)} "
                             f"(label {label!r}); a binary tree needs two children where one is given")
        if not children and label is None:
            raise ValueError("Tree: a leaf needs a label")
        for child in children:
            if not isinstance(child, Tree):
                raise TypeError(f"Tree: children must be Trees, got {type(child).__name__} (use Tree.from_nested)")
        self.label, self.children = label, children

    @classmethod
    def from_nested(cls, nested):
        """A Tree from nested tuples (see the module docstring); Trees pass through. Built
        without recursion, so any depth works."""
        built, stack = [], [(nested, False)]  # built: finished subtrees, in post-order
        while stack:
            item, children_built = stack.pop()
            if isinstance(item, Tree):
                built.append(item)
            elif not isinstance(item, tuple):
                built.append(cls(item))
            elif children_built:
                right, left = built.pop(), built.pop()
                built.append(cls(item[0] if len(item) == 3 else None, (left, right)))
            elif len(item) in (2, 3):
                stack.append((item, True))
                stack.extend((child, False) for child in reversed(item[-2:]))
            else:
                hint = " (a node with one child where two are required)" if len(item) < 2 else ""
                raise ValueError(f"Tree.from_nested: a node is a leaf, (left, right) or (label, left, right); "
                                 f"got a tuple of {len(item)} elements: {item!r}{hint}")
        return built[0]

    @property
    def is_leaf(self):
        return not self.children

    def nodes(self):
        """Every node, children before parents (post-order), without recursion."""
        order, stack = [], [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded or node.is_leaf:
                order.append(node)
            else:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node.children))
        return order

    def leaves(self):
        return [node for node in self.nodes() if node.is_leaf]

    def depth(self):
        """Edges on the longest root-to-leaf path (a leaf has depth 0)."""
        return _heights(self)[id(self)]

    def to_nested(self):
        """The nested-tuple form (the inverse of ``from_nested``)."""
        built = []
        for node in self.nodes():
            if node.is_leaf:
                built.append(node.label)
            else:
                right, left = built.pop(), built.pop()
                built.append((left, right) if node.label is None else (node.label, left, right))
        return built[0]

    def __repr__(self):
        return f"Tree.from_nested({self.to_nested()!r})"


def _heights(tree):
    heights = {}
    for node in tree.nodes():
        heights[id(node)] = 0 if node.is_leaf else 1 + max(heights[id(c)] for c in node.children)
    return heights


class TreeSchedule:
    """The nodes of a batch of trees as rows of one state table, grouped by height.

    Row 0 of the table is the zero state that leaves read as their children; then come the
    rows of height 0 (all leaves of all trees), height 1, ... For each height,
    ``levels[k]`` holds NumPy arrays ``labels`` (label ids; 0 where unlabelled),
    ``labelled`` (1.0 / 0.0) and ``left``/``right`` (the children's rows; 0 for leaves);
    the level's own rows follow all earlier rows. ``roots`` holds each tree's row, ``nodes``
    the Tree of every row from 1 on (``nodes[r - 1]`` is row r), e.g. to attach per-node targets.
    """

    def __init__(self, trees, leaf_ids, node_ids, owner="TreeSchedule"):
        """``leaf_ids`` / ``node_ids``: label -> id dicts for leaves and for internal nodes."""
        trees = [trees] if isinstance(trees, Tree) else list(trees)
        if not trees:
            raise ValueError(f"{owner}: expected a non-empty list of trees")
        trees = [Tree.from_nested(t) for t in trees]
        by_height = []
        for tree in trees:
            heights = _heights(tree)
            for node in tree.nodes():
                h = heights[id(node)]
                by_height.extend([] for _ in range(h + 1 - len(by_height)))
                by_height[h].append(node)
        self.nodes = [node for nodes in by_height for node in nodes]
        row = {id(node): r for r, node in enumerate(self.nodes, 1)}
        self.levels = []
        for nodes in by_height:
            labels, labelled, left, right = [], [], [], []
            for node in nodes:
                if node.label is None:
                    labels.append(0)
                    labelled.append(0.0)
                else:
                    labels.append(_label_id(node, leaf_ids, node_ids, owner))
                    labelled.append(1.0)
                children = node.children or (None, None)
                left.append(row[id(children[0])] if children[0] is not None else 0)
                right.append(row[id(children[1])] if children[1] is not None else 0)
            self.levels.append({"labels": np.array(labels, dtype=np.int64),
                                "labelled": np.array(labelled)[:, None],
                                "left": np.array(left, dtype=np.int64),
                                "right": np.array(right, dtype=np.int64)})
        self.roots = np.array([row[id(t)] for t in trees], dtype=np.int64)
        self.num_trees = len(trees)


def _label_id(node, leaf_ids, node_ids, owner):
    ids, other, kind = (leaf_ids, node_ids, "leaf") if node.is_leaf else (node_ids, leaf_ids, "node")
    try:
        return ids[node.label]
    except (KeyError, TypeError):
        hint = ""
        if isinstance(node.label, Hashable) and node.label in other:
            hint = (" (it is a node label: a node with one child where two are required?)" if node.is_leaf
                    else " (it is a leaf label: a leaf given children?)")
        raise ValueError(f"{owner}: unknown {kind} label {node.label!r}{hint}; known {kind} labels: "
                         f"{list(ids)}") from None
