"""Every example and benchmark runs with ``--quick`` from a fresh copy of the tracked files.

A data file that was never committed, a default path outside the repository or a broken
option fails here rather than in a new user's first minutes. The copy sits in a temporary
folder with no ``../shared`` beside it; the package itself is the installed one, as after the
README's install.
"""
import importlib.util
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLES_EXTRA = ("matplotlib", "sklearn", "statsmodels", "gensim")  # what `pip install .[examples]` adds
BENCH_EXTRA = EXAMPLES_EXTRA + ("torch",)                             # and `.[bench]`


def scripts(folder, extra, needs):
    """One test parameter per script in ``folder``, skipped where a module of ``needs`` is missing."""
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    skip = pytest.mark.skipif(bool(missing), reason=f"the {extra} extra is not installed (no {missing})")
    return [pytest.param(f"{folder}/{path.name}", marks=skip, id=f"{folder}/{path.name}")
            for path in sorted((ROOT / folder).glob("*.py"))]


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The files git tracks (committed or staged), copied into an empty folder."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs a git checkout to know which files are tracked")
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    copy = tmp_path_factory.mktemp("fresh") / "repository"
    for name in listed.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, copy / name)
    assert not (copy.parent / "shared").exists()
    return copy


_QUICK_OUTPUT = {}


def quick_output(copy, script, *options):
    """What ``script --quick [options]`` prints when run in ``copy``, after checking it succeeded
    (run once per copy)."""
    command = (script, "--quick", *options)
    if (copy, command) not in _QUICK_OUTPUT:
        run = subprocess.run([sys.executable, *command], cwd=copy, capture_output=True, text=True,
                             timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
        assert run.returncode == 0, f"{' '.join(command)} failed:\n{run.stderr[-3000:]}"
        _QUICK_OUTPUT[copy, command] = run.stdout
    return _QUICK_OUTPUT[copy, command]


@pytest.mark.parametrize("script", scripts("examples", "examples", EXAMPLES_EXTRA)
                         + scripts("benchmarks", "bench", BENCH_EXTRA))
def test_script_runs_quick_from_a_fresh_copy(fresh_copy, script):
    assert quick_output(fresh_copy, script).strip(), f"{script} --quick printed nothing"


def test_peephole_timing_prints_both_models_with_finite_scores(fresh_copy):
    out = quick_output(fresh_copy, "examples/peephole_timing.py")
    results = re.findall(r"^result (\w+): mean test loss (\S+), exact accuracy (\S+), ±1 accuracy (\S+), "
                         r"solved (\d+)/(\d+) seeds$", out, re.MULTILINE)
    assert [row[0] for row in results] == ["plain", "peephole"], out
    for _, loss, exact, near, solved, seeds in results:
        assert 0 < float(loss) < math.inf and 0 <= float(exact) <= float(near) <= 1, out
        assert int(seeds) >= 1 and 0 <= int(solved) <= int(seeds), out


@pytest.mark.parametrize("options", [(), ("--every-step",)], ids=["initial-state", "every-step"])
def test_conditioned_generation_reports_its_classifications(fresh_copy, options):
    out = quick_output(fresh_copy, "examples/conditioned_generation.py", *options)
    bits = re.search(r"^held-out (\S+) bits/char given the true category, (\S+) given the other$", out, re.MULTILINE)
    assert bits and all(0 < float(b) < 8 for b in bits.groups()), out  # log2 of the ~30 characters is 4.9
    gaps = re.search(r"^bits/char the wrong category costs, by quarter of the line: (.*)$", out, re.MULTILINE)
    assert gaps and [abs(float(g)) < 8 for g in gaps[1].split(", ")] == [True] * 4, out
    result = re.search(r"^result: likelihood classification of held-out lines (\S+), trigram classification "
                       r"of generated lines (\S+) \(of held-out real lines (\S+)\), chance 0.500$", out, re.MULTILINE)
    assert result and all(0 <= float(a) <= 1 for a in result.groups()), out
    assert float(result[3]) > 0.6, out   # the trigram reference tells the two sources apart even at quick size
    for name in ("bible", "austen"):
        assert re.search(rf"^seed 0 +{name}: ", out, re.MULTILINE), out


@pytest.mark.skipif(importlib.util.find_spec("gensim") is None, reason="needs gensim (the bench extra)")
@pytest.mark.parametrize("variant", ["sg-hs", "cbow-hs"])
def test_word2vec_replay_runs_each_objective(fresh_copy, variant):
    """The replay trains the variant it names in both libraries (sg-ns is the script's default,
    run above)."""
    out = quick_output(fresh_copy, "benchmarks/word2vec_replay.py", "--variant", variant)
    assert re.search(rf"^corpus .*, {variant}, 1 epochs;", out, re.MULTILINE), out
    assert re.search(r"^replay - gensim Spearman: mean [-+]\d\.\d{4}", out, re.MULTILINE), out
