"""SQLite files that hold finished work (the judgment, generation and file-digest caches): WAL mode, one transaction
per write (so a SIGKILL loses nothing written), ``INSERT OR IGNORE`` on a primary key (so nothing is ever stored
twice), and clear errors naming the file: a file that is not a database or is damaged (when it is opened or at any
later read or write) is an :class:`InputError`; any other SQLite failure (locked, disk full) a :class:`StoreError`."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from constitution.errors import InputError

_DAMAGED = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}


class StoreError(RuntimeError):
    """A SQLite store failed for another reason than damage (locked, I/O error, disk full)."""


class SqliteStore:
    """One table of finished work in one SQLite file."""

    def __init__(self, path: str | Path, *, table: str, schema: str, what: str) -> None:
        self.path = Path(path)
        self.table = table
        self.what = what
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._guard():
            self._db = sqlite3.connect(self.path, timeout=60.0)
            self._db.executescript(f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; {schema};")

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """SQLite's errors, turned into errors that name the file and say what to do."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            if getattr(exc, "sqlite_errorcode", None) in _DAMAGED or type(exc) is sqlite3.DatabaseError:
                raise InputError(
                    f"the {self.what} is not a readable SQLite database ({exc}); move it away to start afresh",
                    where=str(self.path),
                ) from exc
            raise StoreError(f"{self.path}: the {self.what} failed: {exc}") from exc

    def select(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows a query returns."""
        with self._guard():
            return self._db.execute(query, params).fetchall()

    def insert_new(self, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        """Insert rows in one transaction, keeping any existing row with the same key; returns the rows added."""
        placeholders = ", ".join("?" * len(columns))
        with self._guard(), self._db:
            before = self._db.total_changes
            self._db.executemany(f"INSERT OR IGNORE INTO {self.table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
            return self._db.total_changes - before

    def count(self, where: str = "", params: tuple[Any, ...] = ()) -> int:
        """Number of stored rows (matching ``where``, if given)."""
        query = f"SELECT COUNT(*) FROM {self.table}" + (f" WHERE {where}" if where else "")
        return int(self.select(query, params)[0][0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
