"""Every tutorial runs as a script and its "check yourself" assertions hold.

Each ``tutorials/NN_name.py`` runs with this interpreter in a fresh temporary folder (its
pictures land there) under matplotlib's non-interactive backend; a raised exception, a failed
assertion or a missing picture fails the test. The tutorials that read data (06, 09) find it in
the repository's data/ folder next to them; the package is the installed one.
"""
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
TUTORIALS = sorted((ROOT / "tutorials").glob("[0-9][0-9]_*.py"))
NEEDS = ("matplotlib", "hypothesis")  # the examples extra and the test extra
MISSING = [name for name in NEEDS if importlib.util.find_spec(name) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"the tutorials need {MISSING} (pip install -e '.[examples,test]')")
@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[path.name for path in TUTORIALS])
def test_tutorial_runs_and_its_checks_pass(tutorial, tmp_path):
    run = subprocess.run([sys.executable, str(tutorial)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, f"{tutorial.name} failed:\n{run.stdout[-2000:]}\n{run.stderr[-3000:]}"
    assert list(tmp_path.glob("*.png")), f"{tutorial.name} drew no picture in its working folder"


@pytest.mark.parametrize("tutorial", TUTORIALS, ids=[path.name for path in TUTORIALS])
def test_tutorial_is_a_lesson(tutorial):
    """Jupytext percent cells, markdown with the goals, the notation link and a check-yourself cell."""
    text = tutorial.read_text(encoding="utf-8")
    assert "# %% [markdown]" in text and re.search(r"^# %%$", text, re.M), "not in jupytext percent format"
    assert re.search(r"what you will learn", text, re.I), "say what the reader will learn"
    assert "(NOTATION.md)" in text, "link the notation table, tutorials/NOTATION.md"
    check = re.search(r"^# #+ check yourself", text, re.M | re.I)
    assert check and "assert " in text[check.end():], "end with a 'Check yourself' cell of assertions"


def test_reading_order_lists_every_tutorial():
    reading_order = (ROOT / "tutorials" / "README.md").read_text(encoding="utf-8")
    missing = [path.name for path in TUTORIALS if f"({path.name})" not in reading_order]
    assert not missing, f"tutorials/README.md does not link {missing}"
    assert TUTORIALS, "no tutorials found"


def test_the_site_hook_points_file_links_at_the_tutorial_pages():
    """On the site a tutorial is the page ``tutorials/NN_name/``; its file-to-file links
    (``03_x.py``, ``NOTATION.md``, ``../docs/kernels.md``) would be 404s there as written."""
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "docs" / "hooks.py")
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)

    def page(src_uri):
        return type("Page", (), {"file": type("File", (), {"src_uri": src_uri})()})()

    html = ('<a href="03_vanishing_exploding.py">3</a> <a href="NOTATION.md#symbols">n</a> '
            '<a href="../docs/kernels.md">k</a> <a href="https://example.org/a.py">x</a>')
    assert hooks.on_page_content(html, page("tutorials/02_bptt_by_hand.py"), None, None) == (
        '<a href="../03_vanishing_exploding/">3</a> <a href="../NOTATION/#symbols">n</a> '
        '<a href="../../kernels/">k</a> <a href="https://example.org/a.py">x</a>')
    assert hooks.on_page_content(html, page("howto/add-an-op.md"), None, None) == html
