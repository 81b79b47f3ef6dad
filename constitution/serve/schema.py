"""The wire format of the reward service: request and response bodies (pydantic, strict)."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, StrictBool, ValidationError, model_validator

from constitution.data import Message

NON_FINITE = "non_finite"  # a 500's `error_kind` when the model gave a NaN or an infinity (the client's BadAnswer)
Aggregate = Literal["min", "product", "last"]  # as constitution.reward.process.config's (schema stays torch-free)


ITEM_INDEX = re.compile(r"\[(\d+)\]")  # an answer field's first index is its item's: rewards[3], results[3].score


def item_of(where: str) -> int | None:
    """The item an answer's field belongs to (``principles.polite[3]``: 3), or None for one of no item."""
    found = ITEM_INDEX.search(where)
    return int(found.group(1)) if found else None


def non_finite(value: Any, path: str = "") -> str | None:
    """Where the first NaN or infinity in an answer is (its dumped fields: ``rewards[3]``, ``principles.polite[0]``),
    or None: JSON has no such number (pydantic writes them as ``null``), so an answer holding one is an error."""
    if isinstance(value, float):
        return None if math.isfinite(value) else path
    if isinstance(value, BaseModel):
        value = value.model_dump()
    if isinstance(value, dict):
        found = (non_finite(v, f"{path}.{k}" if path else str(k)) for k, v in value.items())
    elif isinstance(value, list):
        found = (non_finite(v, f"{path}[{i}]") for i, v in enumerate(value))
    else:
        return None
    return next((where for where in found if where is not None), None)


class ScoreItem(BaseModel):
    """A response in its conversation."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | list[Message] = ""
    response: str


class ScoreRequest(BaseModel):
    """Items or plain texts (exactly one of them)."""

    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem] | None = None
    texts: list[str] | None = None
    normalize: StrictBool = True
    explain: StrictBool = False

    @model_validator(mode="after")
    def _one_input(self) -> ScoreRequest:
        if (self.items is None) == (self.texts is None):
            raise ValueError("give exactly one of `items` or `texts`")
        return self

    def scoring_items(self) -> list[Any]:
        """Texts as they are; items as (messages, response), an empty prompt meaning no prompt turn."""
        if self.texts is not None:
            return list(self.texts)
        return [(i.prompt if isinstance(i.prompt, list) else ([Message(role="user", content=i.prompt)] if i.prompt else []), i.response) for i in self.items or []]


class RewardQuery(BaseModel):
    """OpenRLHF's remote reward request: ``query`` (templated prompt + response, as the policy's tokenizer decoded
    them), ``prompts`` (the templated prompts) and ``labels`` (accepted and ignored), the keys OpenRLHF sends. Other
    keys (forks add ``datasources``, ``metadata``...) are accepted beside ``prompts`` and kept in ``model_extra``;
    without ``prompts`` they are refused (422 naming them): a misspelled ``prompts`` must not be read as its absence,
    which scores each query as raw text."""

    model_config = ConfigDict(extra="allow")

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _no_unknown_key_without_prompts(cls, data: Any, handler: ModelWrapValidatorHandler[RewardQuery]) -> RewardQuery:
        """Unknown keys are refused without ``prompts``, and named beside any other error (a misspelled ``query``)."""
        unknown = [k for k in data if k not in cls.model_fields] if isinstance(data, dict) else []
        try:
            query, errors = handler(data), []
        except ValidationError as exc:
            if not unknown:
                raise
            query, errors = None, list(exc.errors())
        if query is not None and (not unknown or "prompts" in data):
            return query
        raise ValidationError.from_exception_data(cls.__name__, [*errors, *({"type": "extra_forbidden", "loc": (k,), "input": data[k]} for k in unknown)])


class ServedBy(BaseModel):
    """Which model scored a response: the service's version number (1 at start, +1 per reload), the reward model
    folder, its content identity (``model_id``: ``sha256:`` of the files that decide its answers, the same for a
    copy anywhere and new when the folder is rewritten in place; see :mod:`constitution.model_identity`) and the
    hash of the constitution its rewards follow: the one weighing a per-principle model's heads, else the one(s)
    its training labels were made under, as its metadata records them (several joined by ``+``; None when it
    records none)."""

    version: int
    model: str
    model_id: str | None = None
    constitution_hash: str | None = None


class Stats(BaseModel):
    """Mean and std of raw rewards over the model's training responses."""

    mean: float
    std: float


class Normalization(BaseModel):
    """The statistics that normalised a response's rewards: ``(r − mean) / std`` for the combined reward and, for a
    per-principle model, for each principle's head."""

    reward: Stats
    principles: dict[str, Stats] = Field(default_factory=dict)


class Rewards(ServedBy):
    """One reward per input, in input order; for a per-principle model also each principle's reward (one list per
    principle, in input order); the statistics used when normalised (else None)."""

    rewards: list[float]
    principles: dict[str, list[float]] = Field(default_factory=dict)
    normalization: Normalization | None = None


class ExplainedRewards(Rewards):
    """Rewards with each weighted principle's share of them (per-principle models, ``explain: true``)."""

    contributions: list[dict[str, float]]


class OpenRLHFRewards(ServedBy):
    """/get_reward's answer in OpenRLHF's reward-server shape (``rewards``, ``scores``, ``extra_logs``: one list per
    principle for a per-principle model), normalised, with the statistics used (None for a process model: its
    aggregate step score is a probability, never normalised)."""

    rewards: list[float]
    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)
    normalization: Normalization | None


class StepsRequest(BaseModel):
    """Reasoning traces for a process reward model: one prompt (text or chat messages) per trace, and either
    ``traces`` (each a list of steps) or ``completions`` (plain texts split into steps at the model's separator);
    ``aggregate`` overrides the model's way of making one score per trace."""

    model_config = ConfigDict(extra="forbid")

    prompts: list[str | list[Message]]
    traces: list[list[str]] | None = None
    completions: list[str] | None = None
    aggregate: Aggregate | None = None

    @model_validator(mode="after")
    def _one_input(self) -> StepsRequest:
        if (self.traces is None) == (self.completions is None):
            raise ValueError("give exactly one of `traces` or `completions`")
        given = self.traces if self.completions is None else self.completions
        if len(given) != len(self.prompts):
            raise ValueError(f"{len(self.prompts)} prompts for {len(given)} traces")
        empty = next((k for k, t in enumerate(self.traces or []) if not t), None)
        if empty is not None:
            raise ValueError(f"trace {empty} has no steps")
        return self


class StepScores(ServedBy):
    """Per trace: each step's score (P(step good)), how many of its steps were read without their whole prefix (the
    trace is longer than the model's max_length), the trace's score (``aggregate`` of its steps) and its first step
    scored below ``threshold`` (-1: none), in input order."""

    step_scores: list[list[float]]
    truncated_steps: list[int]
    scores: list[float]
    first_error: list[int]
    aggregate: Aggregate
    threshold: float


class Decision(BaseModel):
    """/classify's verdict on one input: the unsafe score ``sigmoid(-normalised reward)`` against the threshold."""

    decision: Literal["safe", "unsafe"]
    score: float
    threshold: float


class Decisions(ServedBy):
    """One decision per input, in input order."""

    results: list[Decision]


class Limits(BaseModel):
    """The largest request the service takes (a client sends longer ones in parts)."""

    max_items: int
    max_body_bytes: int


class Health(BaseModel):
    """Liveness, the version served and its content identity (not its folder: /health needs no key), how much it
    has scored, and the request limits."""

    status: Literal["ok"] = "ok"
    version: int
    model_id: str | None = None
    constitution_hash: str | None = None
    idempotency: bool = Field(description="whether an Idempotency-Key is honoured (not by several Ray Serve replicas)")
    limits: Limits
    batches: int
    items_scored: int
    queued_items: int
    refused: int = Field(description="requests answered 503 because the queue was full")
    threads: int | None = Field(
        None, description="threads a forward pass uses (torch's); under Ray Serve, the replica's reserved CPUs (None: a server before it said)"
    )


class ReloadRequest(BaseModel):
    """What to serve from now on. ``model``: a reward model folder to load (default: keep the loaded one);
    ``constitution``: a principles folder or file weighing a per-principle model's heads (default: re-read the one
    being served, if any); ``training_weights``: weigh the heads as trained, dropping the constitution."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = None
    constitution: str | None = None
    training_weights: StrictBool = False

    @model_validator(mode="after")
    def _one_weighting(self) -> ReloadRequest:
        if self.constitution is not None and self.training_weights:
            raise ValueError("give `constitution` or `training_weights`, not both")
        return self


class Reloaded(ServedBy):
    """The model now served, and the version it replaced."""

    previous_version: int
