"""The wheel must ship every subpackage, and kernels/ only as tinygrad_rnn.kernels."""
import pathlib

import pytest

tomllib = pytest.importorskip("tomllib")
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_subpackage_is_listed_in_pyproject():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "tinygrad_rnn").rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages"
    assert config["package-dir"] == {"tinygrad_rnn.kernels": "kernels"}
    assert "kernels" not in listed  # never a top-level 'kernels' module in site-packages
