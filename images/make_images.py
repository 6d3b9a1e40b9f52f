"""Redraws every picture of the README's learning-tools section with the commands themselves.

Run:  python images/make_images.py [--out images]

From a fresh clone with the ``examples`` extra (matplotlib, scikit-learn): it trains a tiny
character model with ``train-charlm`` (1,500 steps: one to four minutes on a busy 2-core CPU) for
the commands that read a checkpoint, runs each command at small settings in a scratch folder,
copies the pictures that the README shows (PICTURES) into ``--out`` and prints every command's
output: the numbers quoted beside each picture and the beam-search text shown as a code block.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CLI = ["-m", "tinygrad_rnn"]
TINY_MODEL = ["--hidden", "128", "--layers", "1", "--embedding", "32", "--seq-len", "64", "--batch-size", "32",
              "--steps", "1500", "--time-budget", "3600", "--sample-every", "1000", "--sample-length", "0",
              "--valid-chars", "5000"]
QUOTED = ('The call print("spam") writes the string "spam", and the list [1, (2, 3)] holds a tuple.\n'
          'A string such as "it is not a bug, it is a feature" ends at the second quote; f(x, [y]) does not.\n'
          'Write "yes" or "no" (the default is "no").')
# (the arguments after `python`, {tmp} standing for the scratch folder; the pictures it draws that the README shows)
COMMANDS = [
    (CLI + ["train-charlm", "--out", "{tmp}/run", *TINY_MODEL], []),
    (CLI + ["graph", "--cell", "lstm", "--layers", "2", "--out", "{tmp}/graph.png"], ["graph.png"]),
    (CLI + ["gradflow", "--seq-len", "60", "--hidden", "32", "--train-steps", "10", "--compare-clipping",
            "--out", "{tmp}/gradflow.png"], ["gradflow.png", "gradflow-clipping.png"]),
    (CLI + ["gradflow", "--seq-len", "60", "--hidden", "32", "--train-steps", "0", "--recurrent-scale", "4",
            "--out", "{tmp}/gradflow-exploding.png"], ["gradflow-exploding.png"]),
    (CLI + ["score", "{tmp}/run", "--text", "The old man the boat.", "--out", "{tmp}/score.png"], ["score.png"]),
    (CLI + ["inspect", "{tmp}/run", "--text", QUOTED, "--find", "quote", "--gates-chars", "60",
            "--out", "{tmp}/inspect.png"], ["inspect.png", "inspect-gates.png"]),
    (CLI + ["sample", "{tmp}/run", "--prime", "In the ", "--beam", "4", "--length", "60"], []),
    (["examples/hopfield_recall.py", "--plot", "{tmp}/hopfield_recall.png"], ["hopfield_recall.png"]),
]
PICTURES = [picture for _, pictures in COMMANDS for picture in pictures]


def run(arguments):
    """Run one command from the repository root with this Python; its output is printed."""
    print("$ python " + " ".join(shlex.quote(a) for a in arguments), flush=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
           "MPLBACKEND": "Agg"}
    done = subprocess.run([sys.executable, *arguments], cwd=ROOT, env=env, capture_output=True, text=True)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        sys.exit(f"failed with exit code {done.returncode}:\n{done.stderr[-3000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where the pictures go")
    out = parser.parse_args().out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for arguments, pictures in COMMANDS:
            run([a.replace("{tmp}", tmp) for a in arguments])
            for picture in pictures:
                shutil.copyfile(Path(tmp) / picture, out / picture)
    for picture in PICTURES:
        print(f"{out / picture}: {(out / picture).stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
