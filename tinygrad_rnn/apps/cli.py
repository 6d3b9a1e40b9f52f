"""The command line: ``tinygrad-rnn COMMAND`` (or ``python -m tinygrad_rnn COMMAND``).

Commands: ``train-charlm`` (a character-level language model, the main job), ``sample``
(text from a trained checkpoint), ``score`` (its surprisal at each character of a text),
``inspect`` (its gates and cell states over a text, and units that track quotes, brackets or
the position in a line), ``gradflow`` (vanishing and exploding gradients made visible) and
``graph`` (the unrolled graph of a tiny recurrent net, at the lecture's level or op by op).

A user's mistake (an option out of range, a missing or unreadable file, a bad checkpoint, an
output folder that cannot be written) ends the command with one line,
``tinygrad-rnn COMMAND: error: ...``, and exit code 2, as argparse does; ``--debug`` shows the
traceback instead. Ctrl-C exits with code 130 (128 + SIGINT), after saving the run in train-charlm.
"""
import argparse
import sys
from dataclasses import fields
from pathlib import Path

from ..backend import get_device
from ..serialization import CheckpointError
from ..textio import TextFileError
from . import charlm
from .charlm_run import checkpoint_file
from .ranges import ANY_NUMBER, above, at_least

DESCRIPTION = ("Train and inspect recurrent networks built with tinygrad_rnn. "
               "Run tinygrad-rnn COMMAND --help for a command's options.")


class UsageError(Exception):
    """A command's inputs that cannot work, found before any work is done."""


USER_ERRORS = (OSError, CheckpointError, TextFileError, charlm.CharLMError, UsageError)
INTERRUPTED = 130


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default after its help, except for options without one."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False:  # `is`: a default of 0 is shown
            return action.help
        return super()._get_help_string(action)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, with an error as the single line ``PROG: error: MESSAGE`` (exit code 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _train_charlm(args):
    from ..datasets import pydoc_text, text_file
    given = {f.name: getattr(args, f.name) for f in fields(charlm.CharLMConfig) if hasattr(args, f.name)}
    if args.resume is None:
        config, out = charlm.CharLMConfig(**given), args.out or "charlm-run"
    else:
        config = charlm.resumed_config(args.resume, given)
        out = args.out or checkpoint_file(args.resume).parent
    _check_device(config.device)
    if args.export is not None:
        _check_output_folder(args.export)
    text = pydoc_text() if config.text is None else text_file(config.text)
    model, vocab, results = charlm.train(text, config, out, resume=args.resume, overwrite=args.overwrite)
    if results["interrupted"]:
        return INTERRUPTED
    if args.export is not None:
        print(f"train-charlm: exported the weights to {charlm.export_weights(model, vocab, config, args.export)}")
    return 0


def _safetensors_path(text):
    if not text.endswith(".safetensors"):
        raise argparse.ArgumentTypeError(f"expected a path ending in .safetensors, got {text!r}")
    return text


def _check_device(name):
    try:
        get_device(name)
    except RuntimeError as error:  # CuPy missing or no GPU
        raise UsageError(f"--device {name}: {error}") from None


def _check_output_folder(path):
    """Refuse an output file whose folder is missing or is a file, before a long computation."""
    folder = Path(path).absolute().parent
    if not folder.is_dir():
        raise UsageError(f"cannot write {path}: {folder} is not a folder")


def _sample(args):
    model, vocab, _ = charlm.load_checkpoint(checkpoint_file(args.checkpoint))
    if args.beam is None:
        print(charlm.sample(model, vocab, args.prime, args.length, args.temperature, args.seed))
        return
    for width in dict.fromkeys((1, args.beam)):   # greedy first, for the comparison
        text, bits = charlm.beam_search(model, vocab, args.prime, args.length, width)
        print(f"--- {'greedy' if width == 1 else f'beam search, width {width}'}: log2 p = {bits:.2f} bits ---")
        print(text)


def _gradflow(args):
    from . import gradflow
    _check_output_folder(args.out)
    cells = ("rnn", "lstm", "gru") if args.cell == "all" else (args.cell,)
    results = gradflow.measure(cells, args.seq_len, args.hidden, args.forget_bias, args.train_steps,
                               args.batch_size, seed=args.seed, recurrent_scale=args.recurrent_scale)
    written = gradflow.plot(results, args.out, args.forget_bias)
    if written:
        print(f"gradflow: wrote {written}")
    if args.compare_clipping:
        runs = gradflow.clipping_study(seq_len=min(args.seq_len, 30), clip=args.clip, seed=args.seed,
                                       recurrent_scale=args.recurrent_scale if args.recurrent_scale != 1 else 2.0)
        for name, run in runs.items():
            print(f"gradflow: SGD {'without clipping' if name == 'none' else f'clipped at {args.clip:g}'}: "
                  f"final loss {run['loss'][-10:].mean():.2f} nats, largest gradient norm {run['grad_norm'].max():.1f}")
        clipping = gradflow.plot_clipping(runs, Path(args.out).with_name(Path(args.out).stem + "-clipping.png"),
                                          args.clip)
        if clipping:
            print(f"gradflow: wrote {clipping}")


def _pyplot(command):
    from .plotting import pyplot_or_none
    plt = pyplot_or_none(print, f"{command}: matplotlib is not installed")
    if plt is None:
        raise UsageError("matplotlib is needed for this picture (pip install matplotlib)")
    return plt


def _text_argument(args, vocab):
    """The text of --text or --text-file, refused when the model cannot read it."""
    from ..datasets import text_file
    text = text_file(args.text_file) if args.text_file else args.text
    unknown = sorted(set(text) - set(vocab.itos))
    if unknown:
        raise UsageError(f"the text has characters {unknown} that are not in the model's vocabulary")
    if len(text) < 2:
        raise UsageError("the text needs at least two characters")
    return text


def _score(args):
    from . import surprisal
    _check_output_folder(args.out)
    model, vocab, _ = charlm.load_checkpoint(checkpoint_file(args.checkpoint))
    text = _text_argument(args, vocab)
    bits = surprisal.surprisal(model, vocab, text)
    print("char  bits")
    for char, value in zip(text[1:], bits):
        print(f"{char!r:5} {value:5.2f}")
    print(f"score: {bits.mean():.3f} bits per character, perplexity {surprisal.perplexity(bits):.2f}")
    print(f"score: wrote {surprisal.plot(text, bits, args.out, _pyplot('score'))}")


def _inspect(args):
    from . import inspect_units
    _check_output_folder(args.out)
    model, vocab, _ = charlm.load_checkpoint(checkpoint_file(args.checkpoint))
    text = _text_argument(args, vocab)
    found = inspect_units.activations(model, vocab, text, args.layer)
    units = list(args.units)
    if any(unit >= found["h"].shape[1] for unit in units):
        raise UsageError(f"--units: the layer has {found['h'].shape[1]} units, got {units}")
    state, title = "c" if "c" in found else "h", None
    if args.find:
        state, unit, r = inspect_units.best_unit(found, inspect_units.text_feature(text, args.find))
        print(f"inspect: the unit that tracks '{args.find}' best is {state} unit {unit} (r = {r:+.3f})")
        units, title = [unit] + [u for u in units if u != unit], f"{state} unit {unit}: r = {r:+.2f} with '{args.find}'"
    plt = _pyplot("inspect")
    out = Path(args.out)
    inspect_units.draw_text(text, found[state][:, units[0]], out, title or f"{state} unit {units[0]}", plt)
    gates = inspect_units.draw_gates(text[:args.gates_chars], {k: v[:args.gates_chars] for k, v in found.items()},
                                     units, out.with_name(out.stem + "-gates.png"), plt)
    print(f"inspect: wrote {out} and {gates}")


def _graph(args):
    if args.detail == "steps":
        from . import unrolled
        out = Path(args.out or "graph.png")
        _check_output_folder(out)
        if out.suffix.lower() != ".png":
            raise UsageError(f"--detail steps draws a PNG, not {out.suffix or 'a file without suffix'}; "
                             "use --detail ops for .dot or .svg")
        net = unrolled.unroll(args.cell, args.seq_len, args.layers, args.bidirectional)
        unrolled.draw(net, out, _pyplot("graph"))
        print(f"graph: wrote {out} (the {args.cell.upper()} unrolled over {args.seq_len} steps, a box per "
              f"cell and step with the ops it records; each weight is one tensor used by every step)")
        return 0
    if args.layers != 1 or args.bidirectional:
        raise UsageError("--layers and --bidirectional are for --detail steps (the op view draws one cell)")
    args.out = args.out or "graph.svg"
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


def _add_config_options(parser):
    """One option per setting of CharLMConfig, with its help, range or choices.
    Their default is SUPPRESS, so the parsed arguments hold only the options given: a resumed
    run keeps its saved settings except those (the help still shows the defaults)."""
    for setting in fields(charlm.CharLMConfig):
        values, choices = setting.metadata["range"], setting.metadata["choices"]
        parser.add_argument("--" + setting.name.replace("_", "-"), default=argparse.SUPPRESS,
                            type=values.parse if values is not None else None, choices=choices,
                            metavar=setting.metadata["metavar"],
                            help=setting.metadata["help"] + ("" if setting.default is None
                                                             else f" (default: {setting.default})"))


def _add_model_and_text(parser, verb):
    """The checkpoint argument and the text, given inline or as a file."""
    parser.add_argument("checkpoint", help="the charlm.npz written by train-charlm, or its folder")
    given = parser.add_mutually_exclusive_group(required=True)
    given.add_argument("--text", help=f"the text to {verb}")
    given.add_argument("--text-file", metavar="FILE", help=f"a UTF-8 file holding the text to {verb}")


def _parser():
    parser = _Parser(prog="tinygrad-rnn", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show the traceback of an error")

    def command(name, run, help, description=None):
        sub = commands.add_parser(name, help=help, description=description or help, parents=[common],
                                  formatter_class=_HelpFormatter)
        sub.set_defaults(run=run, parser=sub)
        return sub

    train = command("train-charlm", _train_charlm, "train a character-level language model",
                    charlm.__doc__.splitlines()[0])
    _add_config_options(train)
    train.add_argument("--out", default=None, metavar="DIR",
                       help="folder for charlm.npz, loss.png, samples.txt (default: charlm-run, or the "
                            "folder of the run given to --resume)")
    train.add_argument("--resume", metavar="RUN", help="continue the run in this folder (or checkpoint) "
                       "exactly where its checkpoint stopped; only --steps, --time-budget, --text (the same "
                       "text, moved) and the sampling, checkpoint and held-out options may change")
    train.add_argument("--overwrite", action="store_true", help="replace a run already in --out")
    train.add_argument("--export", type=_safetensors_path, metavar="FILE.safetensors",
                       help="when training finishes, also write the weights there, for PyTorch (default: none)")

    sample = command("sample", _sample, "generate text from a train-charlm checkpoint")
    sample.add_argument("checkpoint", help="the charlm.npz written by train-charlm, or its folder")
    sample.add_argument("--prime", default="The ", help="text the sample starts from")
    sample.add_argument("--temperature", type=above(0).parse, default=0.8,
                        help="below 1: safer; above 1: wilder")
    sample.add_argument("--length", type=at_least(0).parse, default=500, help="characters to generate")
    sample.add_argument("--seed", type=at_least(0).parse, default=0, help="random seed of the sampling")
    sample.add_argument("--beam", type=at_least(1).parse, default=None, metavar="K",
                        help="decode by beam search of width K instead of sampling, printed after greedy decoding")

    flow = command("gradflow", _gradflow, "plot ‖∂L/∂h_t‖ through time for RNN, LSTM and GRU")
    flow.add_argument("--cell", choices=["rnn", "lstm", "gru", "all"], default="all", help="cells to measure")
    flow.add_argument("--seq-len", type=at_least(1).parse, default=100, help="steps unrolled")
    flow.add_argument("--hidden", type=at_least(1).parse, default=128, help="hidden units")
    flow.add_argument("--forget-bias", type=ANY_NUMBER.parse, default=1.0, help="initial LSTM forget-gate bias")
    flow.add_argument("--train-steps", type=at_least(0).parse, default=30,
                      help="Adam steps before the second measurement")
    flow.add_argument("--batch-size", type=at_least(1).parse, default=16, help="text windows per batch")
    flow.add_argument("--seed", type=at_least(0).parse, default=0, help="random seed")
    flow.add_argument("--recurrent-scale", type=above(0).parse, default=1.0,
                      help="multiply W_hh by this after initialisation (about 4: the tanh RNN's gradients explode)")
    flow.add_argument("--compare-clipping", action="store_true",
                      help="also train a tanh RNN by SGD with and without clipping and plot both (OUT-clipping.png)")
    flow.add_argument("--clip", type=above(0).parse, default=1.0, help="the clipping norm of --compare-clipping")
    flow.add_argument("--out", default="gradflow.png", help="the plot (PNG)")

    score = command("score", _score, "per-character surprisal and perplexity of a text under a train-charlm model")
    _add_model_and_text(score, "score")
    score.add_argument("--out", default="surprisal.png", help="the plot (PNG)")

    inspect = command("inspect", _inspect, "gates and cell states of a train-charlm model over a text")
    _add_model_and_text(inspect, "read")
    inspect.add_argument("--units", type=lambda v: [at_least(0).parse(u) for u in v.split(",")], default=[0],
                         help="comma-separated units to draw")
    inspect.add_argument("--find", choices=["quote", "bracket", "line"],
                         help="search for the unit that best tracks being inside quotes, the bracket depth "
                              "or the position in the line, and draw it first")
    inspect.add_argument("--layer", type=int, default=-1, help="the recurrent layer (-1: the last)")
    inspect.add_argument("--gates-chars", type=at_least(1).parse, default=80,
                         help="characters shown in the gates heatmap")
    inspect.add_argument("--out", default="inspect.png", help="the text coloured by the unit (PNG); the gates "
                                                              "go to OUT-gates.png")

    graph = command("graph", _graph, "draw the unrolled graph of a tiny recurrent net")
    graph.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="rnn", help="the cell to unroll")
    graph.add_argument("--seq-len", type=at_least(1).parse, default=3, help="steps unrolled")
    graph.add_argument("--detail", choices=["steps", "ops"], default="steps",
                       help="steps: a box per cell and time step (matplotlib PNG); ops: every engine op (Graphviz)")
    graph.add_argument("--layers", type=at_least(1).parse, default=1, help="stacked layers (--detail steps)")
    graph.add_argument("--bidirectional", action="store_true", help="a reverse row per layer (--detail steps)")
    graph.add_argument("--out", default=None, help="graph.png for --detail steps; FILE.svg (needs Graphviz) or "
                                                   "FILE.dot for --detail ops (default graph.svg)")
    return parser


def _message(error, command):
    """One line for a user error: without the command's own prefix (the line starts with it) and
    with the file an OSError is about."""
    if isinstance(error, OSError) and error.strerror and error.filename:
        return f"{error.filename}: {error.strerror}"
    return str(error).removeprefix(f"{command}: ")


def main(argv=None):
    """Run one command; returns the exit status (0 on success, 130 when interrupted). Parse
    errors and user errors exit with code 2 (SystemExit) after one line on stderr."""
    args = _parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"\n{args.parser.prog}: aborted", file=sys.stderr)
        return INTERRUPTED
    except USER_ERRORS as error:
        if args.debug:
            raise
        args.parser.error(_message(error, args.command))


if __name__ == "__main__":
    sys.exit(main())
