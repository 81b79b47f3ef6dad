"""Every SHA-256 the project computes: the canonical content hash that keys caches and fingerprints stages, the
digest behind deterministic draws, and the digest of a file's bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

_BLOCK = 1 << 20


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    raise TypeError(f"not hashable as JSON: {type(value).__name__}")


def content_hash(*parts: Any) -> str:
    """SHA-256 (16 hex chars) of JSON-serialisable parts in canonical form (sorted keys, compact, UTF-8).

    Pydantic models are dumped in JSON mode; anything else that JSON cannot encode is an error, never ``str()``-ed
    (a repr that hides a change would make two different inputs share a hash).
    """
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=_plain)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def joined_digest(*parts: str | int) -> bytes:
    """The 32-byte SHA-256 of the parts joined by NUL: for draws (and fingerprints) that depend on nothing else."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).digest()


def file_sha256(path: str | Path) -> str:
    """SHA-256 (64 hex chars) of a file's bytes, read a block at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()
