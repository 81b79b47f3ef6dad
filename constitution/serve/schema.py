"""The wire format of the reward service: request and response bodies (pydantic, strict)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from constitution.data import Message


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
    them) and ``prompts`` (the templated prompts); ``labels`` and other keys are accepted and ignored."""

    model_config = ConfigDict(extra="allow")

    query: list[str]
    prompts: list[str] | None = None


class Rewards(BaseModel):
    """One reward per input, in input order."""

    rewards: list[float]


class ExplainedRewards(Rewards):
    """Rewards with each weighted principle's share of them (per-principle models, ``explain: true``)."""

    contributions: list[dict[str, float]]


class OpenRLHFRewards(Rewards):
    """/get_reward's answer in OpenRLHF's own reward-server shape (versions before 2026 read every key)."""

    scores: list[float]
    extra_logs: dict[str, list[float]] = Field(default_factory=dict)


class Decision(BaseModel):
    """/classify's verdict on one input: the unsafe score ``sigmoid(-normalised reward)`` against the threshold."""

    decision: Literal["safe", "unsafe"]
    score: float
    threshold: float


class Decisions(BaseModel):
    """One decision per input, in input order."""

    results: list[Decision]


class Health(BaseModel):
    """Liveness, the model served, and how many batches it has scored."""

    status: Literal["ok"] = "ok"
    model: str
    batches: int
