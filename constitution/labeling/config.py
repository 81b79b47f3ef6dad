"""How pairs are judged: orders, chain-of-thought, and the streaming labeler's knobs."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator


class LabelConfig(BaseModel):
    """How pairs are judged."""

    model_config = ConfigDict(extra="forbid")

    both_orders: bool = Field(True, description="ask A/B and B/A and average them (position debiasing)")
    chain_of_thought: bool = Field(False, description="generate a rationale first, then score the options")
    cot_clamp: tuple[float, float] = Field(
        (0.4, 0.6), description="clamp chain-of-thought probabilities to [low, high], symmetric around 0.5"
    )
    cot_max_tokens: int = Field(96, ge=1, description="rationale length limit, in tokens")
    chunk_pairs: int = Field(
        512, ge=1, description="pairs planned and looked up in the cache together (memory holds a few chunks)"
    )
    flush_every: int = Field(
        256, ge=1, description="answers stored in the cache per write (also every 2 s): at most this many are lost to a kill"
    )
    max_failure_streak: int = Field(
        200, ge=1, description="stop after this many judgments in a row failed (the judge is down); rerun to resume"
    )

    @model_validator(mode="after")
    def _clamp_in_range(self) -> LabelConfig:
        lo, hi = self.cot_clamp
        if not 0.0 <= lo <= 0.5 <= hi <= 1.0:
            raise ValueError("cot_clamp must satisfy 0 <= low <= 0.5 <= high <= 1")
        if abs(lo + hi - 1.0) > 1e-9:
            raise ValueError(
                f"cot_clamp must be symmetric around 0.5 (low + high = 1), got {lo} + {hi}: otherwise the A/B and "
                "B/A orders of the same judgment are clamped differently"
            )
        return self
