"""One canonical content hash for everything that keys a cache or fingerprints a stage."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel


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
