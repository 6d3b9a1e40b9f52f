"""Every example runs with ``--quick`` from a fresh copy of the repository's tracked files.

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
EXAMPLES = sorted(path.name for path in (ROOT / "examples").glob("*.py"))
EXAMPLES_EXTRA = ("matplotlib", "sklearn", "statsmodels", "gensim")  # what `pip install .[examples]` adds
MISSING = [name for name in EXAMPLES_EXTRA if importlib.util.find_spec(name) is None]

pytestmark = pytest.mark.skipif(bool(MISSING), reason=f"the examples extra is not installed (no {MISSING})")


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


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_runs_quick_from_a_fresh_copy(fresh_copy, script):
    run = subprocess.run([sys.executable, f"examples/{script}", "--quick"], cwd=fresh_copy, capture_output=True,
                         text=True, timeout=600, env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, f"{script} --quick failed:\n{run.stderr[-3000:]}"
    assert run.stdout.strip(), f"{script} --quick printed nothing"
