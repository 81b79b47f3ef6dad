"""The records that flow through the library: chat turns, preference pairs, AI-feedback labels, load reports."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.hashing import content_hash

Role = Literal["system", "user", "assistant"]


class Message(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    role: Role
    content: str


class Pair(BaseModel):
    """A prompt (conversation so far) with two candidate responses and, where known, a preference label."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: list[Message]
    response_a: str
    response_b: str
    p_a: float | None = Field(default=None, ge=0.0, le=1.0, description="P(A preferred) from the source's label")
    source: str = ""

    def pair_hash(self) -> str:
        """Content hash of the pair (prompt and both responses, in this order)."""
        return content_hash([m.model_dump() for m in self.prompt], self.response_a, self.response_b)


class FeedbackRecord(BaseModel):
    """One AI-feedback label (BRIEF section 4); ``chosen``/``rejected`` follow TRL's conversational format."""

    model_config = ConfigDict(extra="forbid")

    id: str
    prompt: list[Message]
    response_a: str
    response_b: str
    p_a: float
    chosen: list[Message]
    rejected: list[Message]
    p_chosen: float
    per_principle: dict[str, float]
    position_consistent: bool | None = Field(
        description="whether both orders, ensembled, prefer the same response; None when only one order was asked"
    )
    judge: str
    constitution_hash: str
    truncated: bool = Field(False, description="the judge saw the conversation with its earliest turns dropped")
    reference_p_a: float | None = Field(default=None, description="the input's own label (human, for HH/TRL data)")

    @classmethod
    def of(
        cls,
        pair: Pair,
        p_a: float,
        per_principle: dict[str, float],
        *,
        position_consistent: bool | None,
        judge: str,
        constitution_hash: str,
        truncated: bool = False,
    ) -> FeedbackRecord:
        """The record of a labelled pair: chosen/rejected follow ``p_a`` (A on a tie), the input's label kept."""
        a = Message(role="assistant", content=pair.response_a)
        b = Message(role="assistant", content=pair.response_b)
        return cls(
            id=pair.id,
            prompt=pair.prompt,
            response_a=pair.response_a,
            response_b=pair.response_b,
            p_a=p_a,
            chosen=[a] if p_a >= 0.5 else [b],
            rejected=[b] if p_a >= 0.5 else [a],
            p_chosen=max(p_a, 1.0 - p_a),
            per_principle=per_principle,
            position_consistent=position_consistent,
            judge=judge,
            constitution_hash=constitution_hash,
            truncated=truncated,
            reference_p_a=pair.p_a,
        )


class LoadReport(BaseModel):
    """What a read kept and dropped (e.g. HH dialogue pairs whose earlier turns differ)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    format: str = ""
    rows: int = 0
    kept: int = 0
    dropped_mismatched: int = 0
    bad_rows: int = Field(0, description="rows skipped because they could not be read (reported one by one)")
    dropped_where: list[str] = Field(default_factory=list, description="where the first few dropped rows are")
