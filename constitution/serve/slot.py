"""The model slot: the served model, and the one mechanism that replaces it without a restart.

``POST /reload`` (behind the admin key; disabled without one) asks the slot for a new :class:`ServedModel`: the loader
builds it completely on a worker thread (a new model folder read from disk, and/or a re-read constitution weighing
the heads) while the old one keeps scoring; then the slot's reference is swapped on the event loop. The batcher reads
the reference once per batch, so every batch is scored by exactly one fully loaded model, and the batches that start
after the swap use the new one. Nothing queued is dropped. Versions start at 1 and go up by one per reload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from constitution.serve.schema import Reloaded, ReloadRequest
from constitution.serve.served import Scored, ServedModel
from constitution.serve.served_process import ScoredSteps, ServedProcessModel

log = logging.getLogger(__name__)

Served = ServedModel | ServedProcessModel  # an outcome or a process reward model; one kind per service
# (request, the model served now, the new version number) -> the new model, fully loaded
Loader = Callable[[ReloadRequest, Served, int], Served]


class ReloadBusy(Exception):
    """Another reload is still loading."""


class ModelSlot:
    """Holds the served model; :meth:`reload` replaces it, one reload at a time."""

    def __init__(self, current: Served, loader: Loader | None = None) -> None:
        self.current = current
        self.loader = loader
        self._lock = asyncio.Lock()

    def score(self, items: list[Any]) -> list[Scored] | list[ScoredSteps]:
        """Score a batch with the model served when the batch starts (the batcher's worker calls this)."""
        return self.current.score(items)

    async def reload(self, request: ReloadRequest) -> Reloaded:
        """Load what ``request`` names beside the served model, then swap it in. The loader's errors propagate and
        leave the served model as it was; ReloadBusy while another reload runs. Only reached with a loader: without
        one the Guard refuses /reload (403, see :func:`constitution.serve.app.create_app`)."""
        if self._lock.locked():
            raise ReloadBusy("a reload is already in progress")
        async with self._lock:
            previous = self.current.identity.version
            loaded = await asyncio.to_thread(self.loader, request, self.current, previous + 1)
            self.current = loaded
        log.warning("now serving version %d: %s (constitution %s)", previous + 1, loaded.identity.model, loaded.identity.constitution_hash)
        return Reloaded(**loaded.identity.model_dump(), previous_version=previous)
