"""The README's pictures are committed, small, shown on the docs site too, and exactly those that
images/make_images.py draws (the default run only reads files; --runslow redraws them)."""
import importlib.util
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
SHOWN = re.findall(r"!\[[^\]]*\]\(images/([^)\s]+)\)", README)


def make_images():
    spec = importlib.util.spec_from_file_location("make_images", ROOT / "images" / "make_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_picture_the_readme_shows_is_in_the_repository_and_small():
    assert SHOWN, "the README shows no picture from images/"
    assert not re.findall(r"!\[[^\]]*\]\((?!images/)", README), "a README picture outside images/"
    for name in SHOWN:
        path = ROOT / "images" / name
        assert path.is_file(), f"the README shows images/{name}, which is missing"
        assert path.stat().st_size < 150 * 1024, f"images/{name} is over 150 KB"


def test_the_script_draws_exactly_the_pictures_the_readme_shows():
    assert sorted(make_images().PICTURES) == sorted(SHOWN)


def test_the_docs_site_finds_the_pictures_where_the_readme_does():
    # docs/learning-tools.md includes the README's section, so its image paths resolve from docs/
    assert (ROOT / "docs" / "images").resolve() == (ROOT / "images").resolve()


@pytest.mark.slow
def test_the_script_redraws_every_picture(tmp_path):
    pytest.importorskip("matplotlib")
    pytest.importorskip("sklearn")
    run = subprocess.run([sys.executable, str(ROOT / "images" / "make_images.py"), "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(make_images().PICTURES)
