"""Every example and benchmark runs with ``--quick`` from a fresh copy of the tracked files.

A data file that was never committed, a default path outside the repository or a broken
option fails here rather than in a new user's first minutes. The copy sits in a temporary
folder with no ``../shared`` beside it; the package itself is the installed one, as after the
README's install.
"""
import importlib.util
import os
import pathlib
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


@pytest.mark.parametrize("script", scripts("examples", "examples", EXAMPLES_EXTRA)
                         + scripts("benchmarks", "bench", BENCH_EXTRA))
def test_script_runs_quick_from_a_fresh_copy(fresh_copy, script):
    run = subprocess.run([sys.executable, script, "--quick"], cwd=fresh_copy, capture_output=True, text=True,
                         timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, f"{script} --quick failed:\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), f"{script} --quick printed nothing"
