"""What a ``revise`` run writes: each chain in full, and the run's summary."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.data.records import Message


class RevisionRound(BaseModel):
    """One critique-revision round: the principle drawn, both requests and both answers."""

    model_config = ConfigDict(extra="forbid")

    round: int
    principle_id: str
    critique_request: str
    critique: str
    revision_request: str
    revision: str


class Chain(BaseModel):
    """A reply and its rounds of critique and revision; ``final`` is the last revision."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: list[Message]
    response: str
    response_source: Literal["input", "policy"]
    rounds: list[RevisionRound]
    final: str
    policy: str


class ReviseSummary(BaseModel):
    """What a run did; ``generated`` and ``cached`` count texts by step (response, critique, revision)."""

    model_config = ConfigDict(extra="forbid")

    inputs: int
    chains: int = 0
    skipped: int = Field(0, description="chains dropped because a request did not fit the policy (listed in skipped.jsonl)")
    rounds: int
    generated: dict[str, int] = Field(default_factory=dict)
    cached: dict[str, int] = Field(default_factory=dict)
    sft_rows: int = 0
    pairs: int = 0
    unchanged: int = Field(0, description="chains whose final revision is the original reply (no pair)")
    blank: int = Field(0, description="chains whose final revision is empty (no SFT row, no pair)")
    policy: str
    policy_identity: str
    seconds: float = 0.0
