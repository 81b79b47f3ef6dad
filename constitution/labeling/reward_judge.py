"""A reward model as a judge (``backend: reward``): ``P(first slot preferred) = σ((r_first − r_second) / T)``.

A per-principle model answers each principle with that principle's head (so the label record's ``per_principle``
comes from the heads, ensembled by the constitution's weights like any judge's); a scalar model answers every
principle with its one reward. Rewards are the raw outputs, the Bradley–Terry scale the model was trained on, so
``T = 1`` gives back the model's own preference probability. It is registered here, above both the LLM and the
reward engines it joins; importing :mod:`constitution.labeling` registers it.

Its identity (the judgment cache's key) is a content hash of the model folder's files with T and the compute dtype:
the same weights give cached answers wherever the folder lives, a retrained model never does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any, ClassVar, Literal

from pydantic import Field

from constitution.errors import InputError
from constitution.llm.base import OptionRequest, OptionResult, PairRequest
from constitution.llm.config import BackendSettings, register_backend
from constitution.embedded_models import display_name, resolve_model
from constitution.model_identity import model_identity

ROWS_PER_CALL = 4  # batches' worth of requests handed to the model at once (it sorts them by length)


class RewardJudgeConfig(BackendSettings):
    """A reward model folder judging pairs."""

    runtime_fields: ClassVar[frozenset[str]] = frozenset({"reward_batch_size", "device"})
    backend: Literal["reward"] = "reward"
    model: str = Field(description="reward model folder (from `constitution train`)")
    reward_temperature: float = Field(1.0, gt=0.0, description="p_a = σ((r_a − r_b) / reward_temperature)")
    reward_batch_size: int = Field(64, ge=1, description="responses per forward pass of the reward model")
    device: str = Field("auto", description="torch device; 'auto': cuda when available, else cpu")


def log_sigmoid(x: float) -> float:
    """log σ(x), without overflow for large |x|."""
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


class RewardJudge:
    """A :class:`~constitution.llm.base.PairJudge` backed by a :class:`~constitution.reward.model.RewardModel`."""

    tokenizer = None
    max_model_len = None

    def __init__(self, config: RewardJudgeConfig) -> None:
        from constitution.reward.model import RewardModel

        self.config = config
        folder = resolve_model(config.model)
        try:
            self.model = RewardModel.load(folder, device=None if config.device == "auto" else config.device)
        except OSError as exc:
            raise InputError(f"not a reward model folder (or hub id) that loads: {exc}", where=config.model) from exc
        content = model_identity(str(folder))
        self.name = f"reward:{display_name(config.model)}"
        self.identity = f"reward:{content}:T={config.reward_temperature!r}:{'bf16' if self.model.bf16 else 'fp32'}"

    def _column(self, principle: str) -> int:
        heads = self.model.heads
        if not heads:
            return 0
        if principle not in heads:
            raise InputError(
                f"reward model {self.name} has no head for principle {principle!r} (heads: {', '.join(heads)}); "
                "label with the principles it was trained on, or judge with a scalar reward model"
            )
        return heads.index(principle)

    def compare(self, requests: Iterable[PairRequest]) -> Iterator[OptionResult]:
        """Log-probs (log σ(d), log σ(−d)), d = (r_first − r_second) / T, a few batches of requests at a time."""
        it = iter(requests)
        while chunk := list(islice(it, ROWS_PER_CALL * self.config.reward_batch_size)):
            yield from self._compare(chunk)

    def _compare(self, chunk: Sequence[PairRequest]) -> Iterator[OptionResult]:
        columns = [self._column(r.principle) for r in chunk]
        conversations = [tuple((m.role, m.content) for m in r.prompt) for r in chunk]
        rows: dict[tuple[Any, str], int] = {}  # each (conversation, response) scored once: both orders share it
        items: list[Any] = []
        for r, conversation in zip(chunk, conversations):
            for response in (r.first, r.second):
                if (conversation, response) not in rows:
                    rows[(conversation, response)] = len(items)
                    items.append((r.prompt, response))
        heads = self.model.score_heads(items, batch_size=self.config.reward_batch_size)
        for r, conversation, column in zip(chunk, conversations, columns):
            first, second = heads[rows[(conversation, r.first)]][column], heads[rows[(conversation, r.second)]][column]
            d = (first - second) / self.config.reward_temperature
            yield OptionResult(r.key, (log_sigmoid(d), log_sigmoid(-d)))

    def score_options(self, requests: Iterable[OptionRequest]) -> Iterator[OptionResult]:
        raise InputError(f"{self.name} compares pairs; it cannot score the options of a prompt")

    def generate(self, prompts: list[str], **_: Any) -> list[list[str]]:
        raise InputError(f"{self.name} compares pairs; it cannot generate text")

    def close(self) -> None:
        """Drop the model."""
        self.model = None  # type: ignore[assignment]


register_backend("reward", RewardJudgeConfig, RewardJudge, generates=False)
