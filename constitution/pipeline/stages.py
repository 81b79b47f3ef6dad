"""Resumable stages: each stage's output lives in the run folder and is reused while its inputs are unchanged.

A stage's fingerprint hashes its own settings and its inputs' fingerprints; ``pipeline_state.json`` records the
fingerprint each stage finished with. A stage runs again when its fingerprint changed, its outputs are missing, or
``--from`` names it or an earlier stage.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from constitution.atomic import atomic_write_text
from constitution.embedded_models import cache_dir
from constitution.file_digests import FileDigests
from constitution.hashing import content_hash, joined_digest

STAGES = ["generate", "label", "train", "evaluate", "audit", "report"]


class StageRecord(BaseModel):
    """What a finished stage left behind."""

    fingerprint: str
    seconds: float
    outputs: list[str]
    info: dict[str, Any] = Field(default_factory=dict)
    reused: bool = False


def file_fingerprint(source: str | Path) -> str:
    """Content hash of a file, or of a folder's files (their relative names and contents); anything else (a hub id)
    its name. Digests are remembered per (path, size, mtime, inode), so an unchanged input is read once."""
    path = Path(source)
    if not path.exists():
        return joined_digest(str(source)).hex()[:16]
    with FileDigests(cache_dir() / "file_digests.sqlite") as digests:
        if path.is_file():
            return digests.sha256(path)[:16]
        return content_hash([[str(f.relative_to(path)), digests.sha256(f)] for f in sorted(path.rglob("*")) if f.is_file()])


class StageRunner:
    """Runs stages in order, reusing finished ones, and keeps the state file atomically up to date."""

    def __init__(self, run_dir: Path, order: list[str], rerun_from: str | None = None, log: Callable[[str], None] = print) -> None:
        self.run_dir = run_dir
        self.state_path = run_dir / "pipeline_state.json"
        self.order = order
        self.log = log
        self.state: dict[str, StageRecord] = {}
        if self.state_path.exists():
            raw = json.loads(self.state_path.read_text())
            self.state = {name: StageRecord(**rec) for name, rec in raw.items()}
        self.forced = set(order[order.index(rerun_from) :]) if rerun_from else set()

    def _save(self) -> None:
        atomic_write_text(self.state_path, json.dumps({k: v.model_dump() for k, v in self.state.items()}, indent=2))

    def run(self, name: str, fp: str, outputs: list[Path], fn: Callable[[], dict[str, Any]]) -> StageRecord:
        """Run ``fn`` unless the stage already finished with fingerprint ``fp`` and its outputs exist."""
        done = self.state.get(name)
        if name not in self.forced and done and done.fingerprint == fp and all(p.exists() for p in outputs):
            self.log(f"[{name}] up to date, reused ({done.seconds:.1f}s when it ran)")
            done = done.model_copy(update={"reused": True})
            self.state[name] = done
            return done
        self.log(f"[{name}] running")
        start = time.perf_counter()
        info = fn()
        record = StageRecord(fingerprint=fp, seconds=time.perf_counter() - start, outputs=[str(p) for p in outputs], info=info)
        self.state[name] = record
        self._save()
        self.log(f"[{name}] done in {record.seconds:.1f}s")
        return record
