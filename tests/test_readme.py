"""The README's code runs as written, and its test command is the one CI runs."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_tour_runs():
    tour = re.search(r"## A tour\s+(?:<!--.*?-->\s+)?```python\n(.*?)```", README, re.S).group(1)
    namespace = {}
    exec(compile(tour, "README tour", "exec"), namespace)
    assert namespace["out"].shape == (20, 5, 32)
    assert namespace["x"].grad is not None


def test_ci_runs_the_readme_test_command():
    commands = re.findall(r"```\n(python3 -m venv .*?)\n```", README)
    assert len(commands) == 2, "the README holds exactly two set-up commands"
    assert commands[1] in (ROOT / ".ci" / "run").read_text()
