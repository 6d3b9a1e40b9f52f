"""The PyTorch-compatible surface as a table: each case is ONE lambda ``fn(lib, *inputs)`` run
with ``lib = torch`` and with ``lib = tinygrad_rnn``, whose results (values, dtypes, shapes,
plain numbers) and input gradients must agree.

``inputs`` are NumPy arrays: floating ones become float64 tensors that require grad, integer
and bool ones plain tensors; a name starting with ``np_`` is passed as the NumPy array itself.
``names`` are the PyTorch names a case exercises; ``REQUIRED`` lists every name the surface
promises, and a test checks that each one is covered here.
"""
from dataclasses import dataclass, field

import numpy as np

REQUIRED = [
    # dim/keepdim (with axis/keepdims aliases), reductions and the softmax family
    "dim=", "keepdim=", "sum", "mean", "amax", "amin", "max(dim)", "min(dim)", "logsumexp", "var",
    "argmax", "argmin", "softmax", "log_softmax", "squeeze", "unsqueeze", "all", "any",
    # top level
    "cat", "stack", "where", "split", "chunk", "unbind", "from_numpy", "zeros", "ones", "full", "empty",
    "arange", "linspace", "eye", "dtype=", "device=", "requires_grad=", "manual_seed", "Generator", "cuda.is_available",
    # Tensor methods
    "size", "dim", "numel", "clone", "t", "contiguous", "cpu", "float", "double", "long", "int", "bool",
    "Tensor.chunk", "Tensor.split", "Tensor.unbind", "repeat", "expand", "expand_as", "masked_fill",
    "clamp", "clip", "topk", "flip", "gather", "index_select", "new_zeros", "new_ones", "zero_", "fill_",
    # modules
    "nn.functional", "CrossEntropyLoss", "NLLLoss", "MSELoss", "BCEWithLogitsLoss", "Tanh", "ReLU", "Sigmoid", "Identity",
    "Flatten", "Module.apply", "named_modules", "Module.requires_grad_", "Module.zero_grad",
    # recurrent utilities
    "pad_sequence", "pack_padded_sequence", "pad_packed_sequence", "PackedSequence->RNN",
    "PackedSequence->LSTM", "PackedSequence->GRU",
    # optimizers and schedulers
    "SGD(momentum, dampening, nesterov, weight_decay)", "Adam(amsgrad)", "AdamW", "RMSprop", "Adagrad",
    "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR", "ReduceLROnPlateau", "OneCycleLR",
    # data
    "Dataset", "TensorDataset", "DataLoader", "collate_fn", "drop_last",
]


@dataclass
class Case:
    name: str
    fn: object
    inputs: dict
    names: list = field(default_factory=list)


def _rng(seed):
    return np.random.default_rng(seed)


def _x(*shape, seed=0):
    return _rng(seed).standard_normal(shape)


def _distinct(*shape, seed=0):
    """Values with no ties (max/min/topk/argmax are not differentiable at a tie)."""
    count = int(np.prod(shape))
    return (_rng(seed).permutation(count) / count - 0.5 + _rng(seed + 1).uniform(0, 1e-3, count)).reshape(shape)


def _load(lib, module, seed):
    """Give ``module`` the same float64 weights in both libraries (drawn from NumPy in its
    state_dict's order, which is PyTorch's in both)."""
    rng = _rng(seed)
    module.double()
    module.load_state_dict({k: lib.tensor(0.5 * rng.standard_normal(tuple(v.shape)))
                            for k, v in module.state_dict().items()})
    return module


def _reseeded(lib):
    lib.manual_seed(3)
    first = lib.randn(4)
    lib.manual_seed(3)
    return bool((first == lib.randn(4)).all())


def _shares_memory(lib, np_a):
    array = np_a.copy()
    tensor = lib.from_numpy(array)
    array[0] = 7.0
    return tensor


def _in_place(lib, x):
    zeros, filled = x.detach().clone(), x.detach().clone()
    return zeros.zero_(), filled.fill_(2.5), zeros.dtype


def _model(lib):
    return _load(lib, lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.Tanh(), lib.nn.Sequential(
        lib.nn.Linear(4, 2), lib.nn.ReLU()), lib.nn.Sigmoid(), lib.nn.Identity(), lib.nn.Flatten(0)), seed=1)


def _module_tree(lib, x):
    model = _model(lib)
    visited = []
    model.apply(lambda m: visited.append(type(m).__name__))
    out = model(x)
    out.sum().backward(retain_graph=True)  # the harness differentiates ``out`` again
    had_grads = [p.grad is not None for p in model.parameters()]
    model.zero_grad()
    cleared = [p.grad is None for p in model.parameters()]
    model[2].requires_grad_(False)
    return (out, visited, [name for name, _ in model.named_modules()], had_grads, cleared,
            [p.requires_grad for p in model.parameters()])


def _packed_layer(lib, kind, x, lengths, batch_first, enforce_sorted, h0=None):
    """A 2-layer bidirectional layer on a PackedSequence (``h0`` in the original batch order)."""
    layer = _load(lib, getattr(lib.nn, kind)(2, 3, num_layers=2, bidirectional=True, batch_first=batch_first), 2)
    rnn = lib.nn.utils.rnn
    packed = rnn.pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    out, state = layer(packed, h0)
    steps = x.shape[1] if batch_first else x.shape[0]
    padded, out_lengths = rnn.pad_packed_sequence(out, batch_first=batch_first, total_length=steps)
    return out, padded, out_lengths, state


def _train(lib, optimizer, kwargs, w0, x):
    w = lib.nn.Parameter(w0.detach().clone())
    opt = getattr(lib.optim, optimizer)([w], **kwargs)
    for _ in range(6):
        opt.zero_grad()
        ((x.detach() @ w).tanh() ** 2).sum().backward()
        opt.step()
    return w.detach(), opt.state_dict()["param_groups"][0]["lr"]


def _schedule(lib, scheduler, kwargs, metrics=None):
    groups = [{"params": [lib.nn.Parameter(lib.zeros(1))], "lr": lr} for lr in (0.1, 0.02)]
    opt = lib.optim.SGD(groups, lr=0.1, momentum=0.9)
    sched = getattr(lib.optim.lr_scheduler, scheduler)(opt, **kwargs)
    rates = []
    for step in range(24):
        opt.step()
        sched.step(*([] if metrics is None else [metrics[step]]))
        rates.append(sched.get_last_lr() + [g["momentum"] for g in opt.param_groups])
    return rates


def _squares(lib):
    class Squares(lib.utils.data.Dataset):
        def __getitem__(self, i):
            return {"x": float(i), "y": i * i}

        def __len__(self):
            return 7
    return Squares()


def _loaders(lib, x, y):
    data = lib.utils.data
    pairs = data.TensorDataset(x, y)
    plain = list(data.DataLoader(pairs, batch_size=3))
    dropped = list(data.DataLoader(pairs, batch_size=2, drop_last=True))
    summed = list(data.DataLoader(pairs, batch_size=4, collate_fn=lambda batch: sum(b[0] for b in batch)))
    squares = list(data.DataLoader(_squares(lib), batch_size=3))
    return plain, dropped, summed, squares, len(data.DataLoader(pairs, batch_size=4, drop_last=True))


def _loss_inputs(seed):
    target = _rng(seed).integers(0, 5, (4, 3))
    target[1, 1] = target[3, 0] = -1
    return {"logits": _x(4, 5, 3, seed=seed), "target": target}


CASES = [
    # ----- dim/keepdim and reductions
    Case("reductions_dim_keepdim", lambda lib, x: [x.sum(dim=1), x.mean(dim=(0, 2), keepdim=True),
                                                    x.logsumexp(dim=-1, keepdim=True), x.var(dim=0),
                                                    x.amax(dim=(1, 2)), x.amin(dim=0, keepdim=True)],
         {"x": _distinct(2, 3, 4)}, ["dim=", "keepdim=", "sum", "mean", "logsumexp", "var", "amax", "amin"]),
    Case("max_min_dim", lambda lib, x: [x.max(dim=1), x.min(1, keepdim=True), x.max(), x.min()],
         {"x": _distinct(3, 4)}, ["max(dim)", "min(dim)"]),
    Case("arg_extremes", lambda lib, x: [x.argmax(), x.argmax(dim=1), x.argmin(dim=0, keepdim=True),
                                         x.argmax(1, keepdim=True)],
         {"x": _distinct(3, 4)}, ["argmax", "argmin"]),
    Case("truth_tests", lambda lib, m: [m.all(), m.all(dim=1), m.any(dim=0, keepdim=True), m[:1, :1].any(),
                                        lib.ones(2, 3).all(dim=(0, 1))],
         {"m": np.array([[True, False, True], [True, True, True]])}, ["all", "any"]),
    Case("softmax_family", lambda lib, x: [x.softmax(dim=0), x.log_softmax(dim=-1), x.softmax(-1)],
         {"x": _x(3, 4)}, ["softmax", "log_softmax"]),
    Case("squeeze_unsqueeze", lambda lib, x: [x.unsqueeze(dim=1), x.unsqueeze(-1).squeeze(dim=-1), x.squeeze()],
         {"x": _x(3, 1, 2)}, ["squeeze", "unsqueeze"]),
    # ----- top level
    Case("cat_stack", lambda lib, a, b: [lib.cat([a, b], dim=0), lib.cat((a, b), 1), lib.stack([a, b], dim=2)],
         {"a": _x(2, 3), "b": _x(2, 3, seed=1)}, ["cat", "stack"]),
    Case("where", lambda lib, a, b, m: [lib.where(m, a, b), lib.where(m, a, 0.5)],
         {"a": _x(3, 4), "b": _x(3, 4, seed=1), "m": _x(3, 4, seed=2) > 0}, ["where"]),
    Case("split_chunk_unbind", lambda lib, x: [lib.split(x, 2, dim=1), lib.split(x, [1, 4], 1),
                                               lib.chunk(x, 3, dim=1), lib.unbind(x, dim=1),
                                               x.split(3, dim=1), x.chunk(2, 0), x.unbind(0)],
         {"x": _x(2, 5)}, ["split", "chunk", "unbind", "Tensor.split", "Tensor.chunk", "Tensor.unbind"]),
    Case("from_numpy", _shares_memory, {"np_a": _x(3)}, ["from_numpy"]),
    Case("factories", lambda lib: [lib.zeros(2, 3, dtype=lib.float64, requires_grad=True), lib.ones((2,), dtype=lib.int64),
                                   lib.full((2, 2), 1.5), lib.arange(1, 7, 2), lib.arange(5),
                                   lib.arange(0.0, 1.0, 0.25, requires_grad=True), lib.linspace(0, 1, 5, dtype=lib.float64),
                                   lib.eye(2, 3), lib.eye(2, dtype=lib.float64), lib.zeros(2, device="cpu"),
                                   lib.empty(2, 3, dtype=lib.float64).shape, lib.empty(2).dtype,
                                   lib.ones(2, requires_grad=True).requires_grad],
         {}, ["zeros", "ones", "full", "empty", "arange", "linspace", "eye", "dtype=", "device=", "requires_grad="]),
    Case("manual_seed", lambda lib: _reseeded(lib), {}, ["manual_seed"]),
    Case("generator_seed", lambda lib: [lib.Generator().manual_seed(7).initial_seed(),
                                        type(lib.Generator().manual_seed(3)).__name__],
         {}, ["Generator"]),
    Case("cuda_is_available", lambda lib: type(lib.cuda.is_available()).__name__, {}, ["cuda.is_available"]),
    # ----- Tensor methods
    Case("sizes", lambda lib, x: [x.size(), x.size(1), x.size(-1), x.dim(), x.numel(), x.t().shape],
         {"x": _x(3, 4)}, ["size", "dim", "numel"]),
    Case("copies_and_views", lambda lib, x: [x.clone() * 2, x.t(), x[0].t(), x.contiguous(), x.cpu() + 1],
         {"x": _x(3, 4)}, ["clone", "t", "contiguous", "cpu"]),
    Case("conversions", lambda lib, x: [x.float(), x.double(), (x * 3).long(), (x * 3).int(), (x > 0).bool(),
                                        x.float().double() * 2],
         {"x": _x(3, 4)}, ["float", "double", "long", "int", "bool"]),
    Case("repeat_expand", lambda lib, x, y: [x.repeat(2, 3), x.repeat(2, 1, 1), x[:, :1].expand(3, 4),
                                             x[:1].expand(2, -1, 4), x[:, :1].expand_as(y)],
         {"x": _x(3, 4), "y": _x(3, 4, seed=1)}, ["repeat", "expand", "expand_as"]),
    Case("masked_fill_clamp", lambda lib, x, m: [x.masked_fill(m, 0.0), x.masked_fill(m[0], -1.5),
                                                 x.clamp(min=-0.5), x.clamp(max=0.5), x.clamp(-0.3, 0.4),
                                                 x.clip(min=-0.2, max=0.2)],
         {"x": _distinct(3, 4), "m": _x(3, 4, seed=2) > 0}, ["masked_fill", "clamp", "clip"]),
    Case("topk_flip", lambda lib, x: [x.topk(2), x.topk(2, dim=0, largest=False), x.flip(0), x.flip(dims=(0, 1)),
                                      x.flip([1])],
         {"x": _distinct(3, 4)}, ["topk", "flip"]),
    Case("gather_index_select", lambda lib, x, i, j: [x.gather(1, i), x.gather(0, j), x.index_select(1, i[0]),
                                                      x.index_select(dim=0, index=j[0])],
         {"x": _x(3, 4), "i": np.array([[0, 3], [1, 1], [2, 0]]), "j": np.array([[2, 0, 1, 1]])},
         ["gather", "index_select"]),
    Case("new_tensors", lambda lib, x: [x.new_zeros(2, 3), x.new_ones((2,)), x.new_zeros(2, dtype=lib.int64),
                                        x.new_ones(1, requires_grad=True).requires_grad],
         {"x": _x(3, 4)}, ["new_zeros", "new_ones"]),
    Case("in_place_outside_autograd", _in_place, {"x": _x(2, 3)}, ["zero_", "fill_"]),
    # ----- modules
    Case("cross_entropy_loss", lambda lib, logits, target: [
        lib.nn.CrossEntropyLoss(ignore_index=-1)(logits, target),
        lib.nn.CrossEntropyLoss(reduction="sum", label_smoothing=0.1, ignore_index=-1)(logits, target),
        lib.nn.CrossEntropyLoss(reduction="none", label_smoothing=0.3, ignore_index=-1)(logits, target),
        lib.nn.CrossEntropyLoss()(logits[:, :, 0], target[:, 2])],
         _loss_inputs(3), ["CrossEntropyLoss"]),
    Case("nn_functional", lambda lib, logits, target: [
        lib.nn.functional.cross_entropy(logits, target, ignore_index=-1, label_smoothing=0.1),
        lib.nn.functional.softmax(logits, dim=1), lib.nn.functional.log_softmax(logits, dim=-1)],
         _loss_inputs(5), ["nn.functional"]),
    Case("nll_loss", lambda lib, logits, target: [
        lib.nn.NLLLoss(ignore_index=-1)(logits.log_softmax(dim=1), target),
        lib.nn.NLLLoss(reduction="none", ignore_index=-1)(logits, target)],
         _loss_inputs(4), ["NLLLoss"]),
    Case("mse_bce_losses", lambda lib, a, b, p: [lib.nn.MSELoss()(a, b), lib.nn.MSELoss(reduction="sum")(a, b),
                                                 lib.nn.BCEWithLogitsLoss()(a, p),
                                                 lib.nn.BCEWithLogitsLoss(reduction="none")(a, p)],
         {"a": _x(3, 4), "b": _x(3, 4, seed=1), "p": _rng(2).uniform(0, 1, (3, 4))}, ["MSELoss", "BCEWithLogitsLoss"]),
    Case("module_tree", _module_tree, {"x": _x(3)},
         ["Tanh", "ReLU", "Sigmoid", "Identity", "Flatten", "Module.apply", "named_modules",
          "Module.requires_grad_", "Module.zero_grad"]),
    # ----- recurrent utilities
    Case("pad_sequence", lambda lib, a, b, c: [lib.nn.utils.rnn.pad_sequence([a, b, c]),
                                               lib.nn.utils.rnn.pad_sequence([a, b, c], batch_first=True,
                                                                             padding_value=-1.0)],
         {"a": _x(3, 2), "b": _x(5, 2, seed=1), "c": _x(1, 2, seed=2)}, ["pad_sequence"]),
    Case("pack_pad_roundtrip", lambda lib, x: [
        lib.nn.utils.rnn.pack_padded_sequence(x, [5, 3, 3, 1], batch_first=True),
        lib.nn.utils.rnn.pad_packed_sequence(lib.nn.utils.rnn.pack_padded_sequence(
            x.transpose(0, 1), lib.tensor([2, 5, 1, 3]), enforce_sorted=False), padding_value=9.0, total_length=6),
        lib.nn.utils.rnn.pad_packed_sequence(lib.nn.utils.rnn.pack_padded_sequence(
            x, [2, 5, 1, 3], batch_first=True, enforce_sorted=False), batch_first=True)],
         {"x": _x(4, 5, 2)}, ["pack_padded_sequence", "pad_packed_sequence"]),
    Case("packed_lstm", lambda lib, x: _packed_layer(lib, "LSTM", x, [2, 5, 1, 3], False, False),
         {"x": _x(5, 4, 2)}, ["PackedSequence->LSTM"]),
    Case("packed_gru_batch_first", lambda lib, x: _packed_layer(lib, "GRU", x, [4, 4, 2], True, True),
         {"x": _x(3, 4, 2)}, ["PackedSequence->GRU"]),
    Case("packed_rnn", lambda lib, x, h0: _packed_layer(lib, "RNN", x, [3, 1, 4], False, False, h0),
         {"x": _x(4, 3, 2), "h0": _x(4, 3, 3, seed=1)}, ["PackedSequence->RNN"]),
    # ----- optimizers and schedulers
    Case("sgd_options", lambda lib, w, x: [
        _train(lib, "SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01), w, x),
        _train(lib, "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, maximize=True, foreach=False), w, x)],
         {"w": _x(3, 2), "x": _x(4, 3, seed=1)}, ["SGD(momentum, dampening, nesterov, weight_decay)"]),
    Case("adam_family", lambda lib, w, x: [
        _train(lib, "Adam", dict(lr=0.05, amsgrad=True, weight_decay=0.1), w, x),
        _train(lib, "Adam", dict(lr=0.05, decoupled_weight_decay=True, weight_decay=0.1, foreach=None), w, x),
        _train(lib, "AdamW", dict(lr=0.05, betas=(0.8, 0.9), amsgrad=True), w, x),
        _train(lib, "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1), w, x),
        _train(lib, "Adagrad", dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1), w, x)],
         {"w": _x(3, 2), "x": _x(4, 3, seed=1)}, ["Adam(amsgrad)", "AdamW", "RMSprop", "Adagrad"]),
    Case("epoch_schedulers", lambda lib: [
        _schedule(lib, "StepLR", dict(step_size=3, gamma=0.5)), _schedule(lib, "ExponentialLR", dict(gamma=0.9)),
        _schedule(lib, "CosineAnnealingLR", dict(T_max=5, eta_min=0.001)),
        _schedule(lib, "LambdaLR", dict(lr_lambda=lambda epoch: 1 / (1 + epoch)))],
         {}, ["StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR"]),
    Case("one_cycle", lambda lib: [_schedule(lib, "OneCycleLR", dict(max_lr=1.0, total_steps=25)),
                                   _schedule(lib, "OneCycleLR", dict(max_lr=[1.0, 0.3], epochs=5, steps_per_epoch=6,
                                                                     three_phase=True, anneal_strategy="linear"))],
         {}, ["OneCycleLR"]),
    Case("reduce_on_plateau", lambda lib: [
        _schedule(lib, "ReduceLROnPlateau", dict(patience=2), np.r_[np.linspace(1, 0.5, 6), np.ones(18)]),
        _schedule(lib, "ReduceLROnPlateau", dict(mode="max", factor=0.5, patience=1, cooldown=2, threshold_mode="abs",
                                                 min_lr=[0.02, 0.001]), np.r_[np.linspace(0, 1, 6), np.ones(18)])],
         {}, ["ReduceLROnPlateau"]),
    # ----- data
    Case("data_loading", _loaders, {"x": _x(7, 2), "y": np.arange(7)},
         ["Dataset", "TensorDataset", "DataLoader", "collate_fn", "drop_last"]),
]
