"""An in-process engine started on its first request: labeling plans every pair (and reads the judgment cache)
with only the judge's name, cache identity, tokenizer and context length, so a run whose judgments are all cached
never starts vLLM (or loads the transformers model) at all.

A backend class offers this with a ``preview(config) -> Preview | None`` classmethod: those four things without
starting the engine (None when they cannot be known before it loads, e.g. a hub id's commit).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

from constitution.llm.base import LLM, FeedbackError, OptionRequest, OptionResult
from constitution.llm.options import OptionScoring


class Preview(NamedTuple):
    """What a backend is, known before its engine starts."""

    name: str
    identity: str
    tokenizer: Any
    max_model_len: int | None


class LazyBackend(OptionScoring):
    """The :class:`LLM` protocol over an engine that ``start()`` builds when the first prompt arrives (what else the
    backend has is on :meth:`engine`)."""

    def __init__(self, start: Callable[[], LLM], preview: Preview) -> None:
        self._start = start
        self._engine: LLM | None = None
        self.name, self.identity, self.tokenizer, self.max_model_len = preview

    @property
    def started(self) -> bool:
        """Whether the engine has been started."""
        return self._engine is not None

    def engine(self) -> LLM:
        """The engine, started now if it was not (its identity must be the one previewed: the cache keys used it)."""
        if self._engine is None:
            engine = self._start()
            if engine.identity != self.identity:
                engine.close()
                raise FeedbackError(f"the judge loaded as {engine.identity}, not the {self.identity} its answers were planned for")
            self._engine = engine
        return self._engine

    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        pending = iter(requests)
        for first in pending:  # the engine starts only once there is a first request
            yield from self.engine().score_options(itertools.chain([first], pending))
            return

    def generate(self, prompts: list[str], **kwargs: Any) -> list[list[str]]:
        return self.engine().generate(prompts, **kwargs) if prompts else []

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None
