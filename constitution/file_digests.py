"""SHA-256 of files, remembered by (path, size, modification time, inode): a file that has not changed since it was
last hashed is not read again, so identifying a model by the content of its weights costs one read per machine.
The key only finds the digest; the digest is of the content alone."""

from __future__ import annotations

import os
from pathlib import Path

from constitution.hashing import file_sha256
from constitution.sqlite_store import SqliteStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS file_digests_v1 (
    path TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, inode INTEGER NOT NULL, sha256 TEXT NOT NULL,
    PRIMARY KEY (path, size, mtime_ns, inode)
) WITHOUT ROWID
"""


def _key(file: Path) -> tuple[str, int, int, int]:
    st = os.stat(file)
    return str(file.resolve()), st.st_size, st.st_mtime_ns, st.st_ino


class FileDigests(SqliteStore):
    """A cache of file digests in one SQLite file (safe for several processes of one machine at once)."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, table="file_digests_v1", schema=_SCHEMA, what="file-digest cache")

    def sha256(self, file: str | Path) -> str:
        """The file's SHA-256, read from disk only when the file changed since it was last hashed."""
        file = Path(file)
        key = _key(file)
        rows = self.select("SELECT sha256 FROM file_digests_v1 WHERE path=? AND size=? AND mtime_ns=? AND inode=?", key)
        if rows:
            return str(rows[0][0])
        digest = file_sha256(file)
        if _key(file) == key:  # unchanged while it was read: the digest is of this version
            self.insert_new(("path", "size", "mtime_ns", "inode", "sha256"), [(*key, digest)])
        return digest
