"""The command line: ``python -m tinygrad_rnn COMMAND`` (or the ``tinygrad-rnn`` script).

Commands: ``train-charlm`` (a character-level language model, the main job), ``sample``
(text from a trained checkpoint), ``gradflow`` (vanishing gradients made visible) and
``graph`` (the unrolled computation graph of a tiny recurrent net).
"""
import argparse
import sys
from dataclasses import fields
from pathlib import Path

from . import charlm


def _train_charlm(args):
    from ..datasets import pydoc_text, text_file
    text = pydoc_text() if args.text is None else text_file(args.text)
    config = charlm.CharLMConfig(**{f.name: getattr(args, f.name) for f in fields(charlm.CharLMConfig)
                                    if getattr(args, f.name, None) is not None})
    model, vocab, _ = charlm.train(text, config, out_dir=args.out)
    if args.export:
        print(f"train-charlm: exported the weights to {charlm.export_weights(model, vocab, config, args.export)}")


def _sample(args):
    model, vocab, _ = charlm.load_checkpoint(args.checkpoint)
    print(charlm.sample(model, vocab, args.prime, args.length, args.temperature, args.seed))


def _gradflow(args):
    from . import gradflow
    cells = ("rnn", "lstm", "gru") if args.cell == "all" else (args.cell,)
    results = gradflow.measure(cells, args.seq_len, args.hidden, args.forget_bias, args.train_steps,
                               args.batch_size, seed=args.seed)
    written = gradflow.plot(results, args.out, args.forget_bias)
    if written:
        print(f"gradflow: wrote {written}")


def _graph(args):
    import numpy as np
    from .. import viz
    from .gradflow import LastStepNet
    net = LastStepNet(args.cell, vocab_size=3, hidden_size=2)
    ids = np.random.default_rng(0).integers(0, 3, (args.seq_len, 1))
    states = net.states(ids)
    loss = net.loss(states[-1], ids[-1])
    names = {net.hidden(state): f"h{t + 1}" for t, state in enumerate(states)}
    names[loss] = "loss"
    params = dict(net.named_parameters())
    out = Path(args.out)
    what = f"the {args.cell.upper()} unrolled over {args.seq_len} steps; each weight is one node used by every step"
    if out.suffix != ".dot":
        try:
            viz.render(loss, out, names, params)
            print(f"graph: wrote {out} ({what})")
            return 0
        except RuntimeError as error:
            out = out.with_suffix(".dot")
            print(f"graph: {error}\ngraph: writing the DOT text to {out} instead", file=sys.stderr)
    out.write_text(viz.to_dot(loss, names, params), "utf-8")
    print(f"graph: wrote {out} ({what})")
    return 0 if Path(args.out).suffix == ".dot" else 1


def _safetensors_path(text):
    if not text.endswith(".safetensors"):
        raise argparse.ArgumentTypeError(f"expected a path ending in .safetensors, got {text!r}")
    return text


def _parser():
    parser = argparse.ArgumentParser(prog="tinygrad-rnn", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = charlm.CharLMConfig()

    train = commands.add_parser("train-charlm", help="train a character-level language model",
                                description=charlm.__doc__.splitlines()[0])
    train.add_argument("--text", help="UTF-8 text file to learn (default: Python's reference docs, pydoc_data)")
    train.add_argument("--cell", choices=sorted(charlm.LAYERS), default=defaults.cell)
    train.add_argument("--hidden", type=int, default=defaults.hidden, help="hidden units per layer")
    train.add_argument("--layers", type=int, default=defaults.layers)
    train.add_argument("--embedding", type=int, default=defaults.embedding, help="character embedding size")
    train.add_argument("--dropout", type=float, default=defaults.dropout, help="between stacked layers")
    train.add_argument("--seq-len", type=int, default=defaults.seq_len, help="truncated-BPTT chunk length")
    train.add_argument("--batch-size", type=int, default=defaults.batch_size, help="parallel text streams")
    train.add_argument("--steps", type=int, default=defaults.steps, help="optimizer steps (at most)")
    train.add_argument("--time-budget", type=float, default=defaults.time_budget,
                       help="stop training after this many seconds (default %(default)s)")
    train.add_argument("--lr", type=float, default=defaults.lr, help="Adam learning rate")
    train.add_argument("--clip", type=float, default=defaults.clip, help="global gradient-norm clip")
    train.add_argument("--sample-every", type=int, default=defaults.sample_every)
    train.add_argument("--sample-length", type=int, default=defaults.sample_length)
    train.add_argument("--sample-temperature", type=float, default=defaults.sample_temperature)
    train.add_argument("--valid-chars", type=int, default=defaults.valid_chars,
                       help="held-out characters scored at the end")
    train.add_argument("--seed", type=int, default=defaults.seed)
    train.add_argument("--device", choices=["cpu", "cuda"], default=defaults.device)
    train.add_argument("--out", default="charlm-run", help="folder for charlm.npz, loss.png, samples.txt")
    train.add_argument("--export", type=_safetensors_path, metavar="FILE.safetensors",
                       help="also write the trained weights there, for PyTorch (default: none)")
    train.set_defaults(run=_train_charlm)

    sample = commands.add_parser("sample", help="generate text from a train-charlm checkpoint")
    sample.add_argument("checkpoint", help="the charlm.npz written by train-charlm")
    sample.add_argument("--prime", default="The ", help="text the sample starts from")
    sample.add_argument("--temperature", type=float, default=0.8, help="below 1: safer; above 1: wilder")
    sample.add_argument("--length", type=int, default=500, help="characters to generate")
    sample.add_argument("--seed", type=int, default=0)
    sample.set_defaults(run=_sample)

    flow = commands.add_parser("gradflow", help="plot ‖∂L/∂h_t‖ through time for RNN, LSTM and GRU")
    flow.add_argument("--cell", choices=["rnn", "lstm", "gru", "all"], default="all")
    flow.add_argument("--seq-len", type=int, default=100)
    flow.add_argument("--hidden", type=int, default=128)
    flow.add_argument("--forget-bias", type=float, default=1.0, help="initial LSTM forget-gate bias")
    flow.add_argument("--train-steps", type=int, default=30, help="Adam steps before the second measurement")
    flow.add_argument("--batch-size", type=int, default=16)
    flow.add_argument("--seed", type=int, default=0)
    flow.add_argument("--out", default="gradflow.png")
    flow.set_defaults(run=_gradflow)

    graph = commands.add_parser("graph", help="draw the unrolled graph of a tiny recurrent net")
    graph.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="rnn")
    graph.add_argument("--seq-len", type=int, default=3)
    graph.add_argument("--out", default="graph.svg", help="FILE.svg (needs Graphviz) or FILE.dot")
    graph.set_defaults(run=_graph)
    return parser


def main(argv=None):
    """Run one command; returns the exit status (0 on success)."""
    args = _parser().parse_args(argv)
    return args.run(args) or 0


if __name__ == "__main__":
    sys.exit(main())
