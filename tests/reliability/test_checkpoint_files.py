"""Checkpoint files get the permissions of any new file (the user's umask, not the temporary
file's 0600), and the leftovers of a killed save are removed by the next save into the
folder (issue 18, item 15)."""
import os
import stat
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import tinygrad_rnn as tg

posix_only = pytest.mark.skipif(os.name != "posix", reason="umask and process checks are POSIX")


@posix_only
@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_file_mode_follows_the_umask(tmp_path, umask, mode):
    previous = os.umask(umask)
    try:
        path = tg.save({"w": np.ones(2)}, tmp_path / "c.npz")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(os.stat(path).st_mode) == mode
    assert sorted(os.listdir(tmp_path)) == ["c.npz"]


KILLED_SAVE = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import tinygrad_rnn as tg

    def killed_midway(file, **members):  # the process dies while writing the temporary file
        file.write(b"PK partial")
        file.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    np.savez = killed_midway
    tg.save({"w": np.zeros(2)}, sys.argv[1])
""")


@posix_only
def test_next_save_removes_the_temporary_file_of_a_killed_save(tmp_path):
    target = tmp_path / "c.npz"
    tg.save({"w": np.ones(2)}, target)
    killed = subprocess.run([sys.executable, "-c", KILLED_SAVE, str(target)], capture_output=True)
    assert killed.returncode == -9, killed.stderr.decode()
    leftovers = [name for name in os.listdir(tmp_path) if name.startswith(".tmp-")]
    assert len(leftovers) == 1  # the kill left a temporary file, and the old checkpoint intact
    np.testing.assert_array_equal(tg.load(target)["w"], np.ones(2))
    in_progress = tmp_path / f".tmp-{os.getpid()}-{'0' * 16}.npz"  # a live writer's: kept
    unrelated = tmp_path / ".tmp-notes.txt"                          # not our naming: kept
    in_progress.write_bytes(b"")
    unrelated.write_bytes(b"")
    tg.save({"w": np.full(2, 3.0)}, tmp_path / "other.npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["c.npz", "other.npz", in_progress.name, unrelated.name])
