"""Atomic file writes: write to a temporary name in the same folder, then rename.

A crash, Ctrl-C or a full disk leaves either the old file or the new one, never a
half-written file (only a ``.tmp-*`` file, which :func:`remove_temporaries` clears).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from synthmed.errors import OutputError

TMP_PREFIX = ".tmp-"
_UMASK = os.umask(0)
os.umask(_UMASK)

__all__ = ["cache_dir", "atomic_path", "atomic_write_bytes", "atomic_write_text", "sha256_file",
           "remove_temporaries"]


def cache_dir(name: str) -> Path:
    """``$SYNTHMED_CACHE_DIR/<name>`` or ``~/.cache/synthmed/<name>`` (not created here)."""
    root = os.environ.get("SYNTHMED_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "synthmed") / name


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` if the block succeeds.

    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> with atomic_path(d / "a.txt") as tmp:
    ...     _ = tmp.write_text("hello")
    >>> (d / "a.txt").read_text()
    'hello'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; files get the usual permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if exc.errno == errno.ENOSPC:
            raise OutputError(f"no space left on the device while writing {path}; free some "
                              "space and run the same command again to resume") from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def remove_temporaries(root: str | os.PathLike) -> int:
    """Delete leftover ``.tmp-*`` files under ``root`` (from a killed run); return how many."""
    n = 0
    for p in Path(root).rglob(TMP_PREFIX + "*"):
        if p.is_file():
            p.unlink(missing_ok=True)
            n += 1
    return n
