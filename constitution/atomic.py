"""Atomic writes: a reader (or a crash) sees the old file or folder or the new one, never half of either."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; when the block ends without error it is fsynced and renamed
    over ``path`` (for writers that want a file name, e.g. Parquet)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def atomic_write(path: str | Path, write: Callable[[IO[str]], None]) -> Path:
    """Call ``write(fh)`` on a temporary file beside ``path``, then rename it over ``path`` (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        write(fh)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_write(path, lambda fh: fh.write(text))


def atomic_write_lines(path: str | Path, lines: object) -> Path:
    """Write an iterable of lines (each ending in a newline) to ``path`` atomically, without joining them first."""

    def write(fh: IO[str]) -> None:
        for line in lines:  # type: ignore[attr-defined]
            fh.write(line)

    return atomic_write(path, write)


def move_into(folder: Path, files: Sequence[tuple[Path, str]]) -> None:
    """Move finished files (each ``(path, new name)``, on the same file system) into ``folder``: each is synced
    first, so a file that appears under its new name is whole."""
    for path, name in files:
        with open(path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(path, folder / name)
    _fsync_dir(folder)


def replace_dir(staged: Path, out: Path, carry: Sequence[str] = ()) -> None:
    """Swap the finished folder ``staged`` in at ``out``; the entries named in ``carry`` move over from the old
    ``out``, which is then removed.

    A crash between the two renames leaves ``.<name>.old`` beside ``out``; :func:`recover_dir` puts it back.
    """
    old = out.with_name(f".{out.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out.exists():
        os.rename(out, old)
    os.rename(staged, out)
    for name in carry:
        if (old / name).exists():
            os.rename(old / name, out / name)
    shutil.rmtree(old, ignore_errors=True)
    _fsync_dir(out.parent)


def recover_dir(out: Path) -> None:
    """Bring back the old folder if a crash in :func:`replace_dir` left ``out`` missing."""
    old = out.with_name(f".{out.name}.old")
    if old.exists() and not out.exists():
        os.rename(old, out)
    shutil.rmtree(old, ignore_errors=True)


class PartialFiles:
    """Several text files written line by line as ``NAME.partial`` (synced every ``sync_every`` lines and when
    closed), renamed into place together by :meth:`publish`: a reader sees whole files or the previous ones, and a
    crash leaves the ``.partial`` files with every line written so far."""

    def __init__(self, folder: Path, names: Sequence[str], sync_every: int = 256) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.names = tuple(names)
        self.sync_every = sync_every
        self._files: dict[str, IO[str]] = {name: open(self.partial(name), "w", encoding="utf-8") for name in self.names}
        self._unsynced = 0

    def partial(self, name: str) -> Path:
        return self.folder / f"{name}.partial"

    def write(self, name: str, line: str) -> None:
        """Append one line (without its newline) to ``name``."""
        self._files[name].write(line + "\n")
        self._unsynced += 1
        if self._unsynced >= self.sync_every:
            self._sync()

    def _sync(self) -> None:
        for fh in self._files.values():
            fh.flush()
            os.fsync(fh.fileno())
        self._unsynced = 0

    def close(self) -> None:
        """Sync and close the partial files (what a crash leaves behind)."""
        if self._files:
            self._sync()
            for fh in self._files.values():
                fh.close()
            self._files = {}

    def publish(self) -> None:
        """Close the files and rename each into place."""
        self.close()
        for name in self.names:
            os.replace(self.partial(name), self.folder / name)
        _fsync_dir(self.folder)
