"""Settings of a ``constitution revise`` run."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from constitution.hashing import content_hash
from constitution.llm.config import LLMConfig, VllmConfig


class ReviseConfig(BaseModel):
    """The policy and how it answers, critiques and revises."""

    model_config = ConfigDict(extra="forbid")

    policy: LLMConfig = Field(default_factory=VllmConfig, description="the model that answers, critiques and revises")
    rounds: int = Field(2, ge=1, description="critique-revision rounds per response")
    max_tokens: int = Field(192, ge=1, description="length limit of each response, critique and revision, in tokens")
    temperature: float = Field(0.0, ge=0.0, description="sampling temperature (0: greedy, reproducible)")
    seed: int = Field(0, description="seeds the principle drawn per prompt and round, and the policy's sampling")
    batch_size: int = Field(
        64, ge=1, description="chains taken through their rounds together: prompts per policy call (each call is cached at once)"
    )

    def sampling_hash(self) -> str:
        """What of these settings changes a generation's text: part of every generation's cache key."""
        return content_hash({"max_tokens": self.max_tokens, "temperature": self.temperature, "seed": self.seed})
