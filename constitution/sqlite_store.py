"""SQLite files that hold finished work (the judgment and generation caches): WAL mode, one transaction per write
(so a SIGKILL loses nothing written), ``INSERT OR IGNORE`` on a primary key (so nothing is ever stored twice), and a
clear error naming a file that is not a database."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from constitution.errors import InputError


class SqliteStore:
    """One table of finished work in one SQLite file."""

    def __init__(self, path: str | Path, *, table: str, schema: str, what: str) -> None:
        self.path = Path(path)
        self.table = table
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0)
            self._db.executescript(f"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; {schema};")
        except sqlite3.DatabaseError as exc:
            raise InputError(f"the {what} is not a readable SQLite database ({exc}); move it away to start afresh", where=str(self.path)) from exc

    def insert_new(self, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        """Insert rows in one transaction, keeping any existing row with the same key; returns the rows added."""
        placeholders = ", ".join("?" * len(columns))
        with self._db:
            before = self._db.total_changes
            self._db.executemany(f"INSERT OR IGNORE INTO {self.table} ({', '.join(columns)}) VALUES ({placeholders})", rows)
            return self._db.total_changes - before

    def select(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows a query returns."""
        return self._db.execute(query, params).fetchall()

    def count(self, where: str = "", params: tuple[Any, ...] = ()) -> int:
        """Number of stored rows (matching ``where``, if given)."""
        query = f"SELECT COUNT(*) FROM {self.table}" + (f" WHERE {where}" if where else "")
        return int(self._db.execute(query, params).fetchone()[0])

    def close(self) -> None:
        self._db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
