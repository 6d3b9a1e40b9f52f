"""Users' text files decoded with errors that say which file and where it goes wrong.

An empty file, a binary one (NUL bytes) or one in another encoding raises ``TextFileError``
naming the path, the line and the byte offset, instead of an ``IndexError`` or a bare
``UnicodeDecodeError`` (which names neither) somewhere later.
"""
from pathlib import Path


class TextFileError(ValueError):
    """A file that should hold text but is empty, binary or not in the expected encoding."""


def read_text(path, encoding="utf-8"):
    """The content of the text file ``path``; FileNotFoundError or TextFileError when it is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    data = path.read_bytes()
    if not data:
        raise TextFileError(f"{path}: the file is empty; expected {encoding} text")
    return decode_text(data, path, encoding)


def decode_text(data, path, encoding="utf-8", line=1, offset=0):
    """``data`` decoded; ``line`` and ``offset`` are where ``data`` starts in the file ``path``
    (for a file read in pieces), so that an error points at the right place."""
    nul = data.find(b"\0")
    if nul >= 0:
        raise TextFileError(f"{path}: binary data, not text (a NUL byte at {_where(data, nul, line, offset)})")
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise TextFileError(f"{path}: not {encoding} text: byte 0x{data[error.start]:02x} at "
                            f"{_where(data, error.start, line, offset)} ({error.reason})") from None


def _where(data, index, line, offset):
    newlines = data.count(b"\n", 0, index)
    return f"line {line + newlines}, byte offset {offset + index}"
