"""Atomic file writes: a temporary file in the target's folder, fsync, then ``os.replace``.

A crash never leaves a half-written file under the final name. The temporary file is created
with ``os.open(..., 0o666)``, so the kernel applies the user's umask and the result gets the
permissions any other new file would (``tempfile.mkstemp`` would always give 0600). Its name
``.tmp-<pid>-<random><suffix>`` records the writer, so that the next write into the folder can
remove the leftovers of writers that were killed (their process no longer exists) and that
belong to this user, without touching a write still in progress elsewhere.
"""
import os
import re
import secrets

_PREFIX = ".tmp-"
_STALE = re.compile(r"\.tmp-(\d{1,9})-[0-9a-f]{16}(\.[A-Za-z0-9]+)?\Z")  # pid, random, suffix


def write_atomically(path, write, suffix=".npz"):
    """Call ``write(file)`` on a new temporary file beside ``path``, then move it to ``path``.
    On any error (or KeyboardInterrupt) the temporary file is removed and ``path`` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(folder)
    temporary, handle = _create_temporary(folder, suffix)
    try:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise
    return path


def _create_temporary(folder, suffix):
    """(path, descriptor) of a new file named after this process; O_EXCL makes it ours alone."""
    while True:
        path = os.path.join(folder, f"{_PREFIX}{os.getpid()}-{secrets.token_hex(8)}{suffix}")
        try:
            return path, os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue


def remove_stale_temporaries(folder):
    """Remove this user's temporary files in ``folder`` whose writing process has ended (a
    killed save). POSIX only: elsewhere there is no cheap, safe test of a process's life."""
    if os.name != "posix":
        return
    try:
        names = os.listdir(folder)
    except OSError:
        return  # the write itself will report an unusable folder
    for name in names:
        match = _STALE.match(name)
        if match is None or _process_exists(int(match.group(1))):
            continue
        path = os.path.join(folder, name)
        try:
            if os.lstat(path).st_uid == os.getuid():
                os.remove(path)
        except FileNotFoundError:
            pass  # another writer cleaned it first


def _process_exists(pid):
    try:
        os.kill(pid, 0)  # signal 0: only checks that the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
