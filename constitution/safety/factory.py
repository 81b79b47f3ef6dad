"""Build the scorer a command asks for: reward mode (a reward model folder) or judge mode (an LLM judge and the
constitution's safety policy)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from constitution.llm.config import LLMConfig
from constitution.safety.scorers import SafetyScorer

if TYPE_CHECKING:
    from constitution.principles import Constitution


def make_scorer(
    *,
    model: str | Path | None = None,
    judge: LLMConfig | None = None,
    constitution: Constitution | None = None,
    batch_size: int = 64,
    categories: bool = False,
) -> SafetyScorer:
    """Reward mode with ``model`` (a reward model folder; ``batch_size`` responses per forward pass; a
    ``constitution`` weighs a per-principle model's heads, None: its training weights; ``categories`` loads its
    safety-category heads), or judge mode with ``judge`` and a ``constitution`` (required: its safety policy; the
    backend keeps its own window of prompts in flight)."""
    if (model is None) == (judge is None):
        raise ValueError("give exactly one of model (reward mode) or judge (judge mode)")
    if model is not None:
        from constitution.safety.reward_mode import RewardSafetyScorer

        return RewardSafetyScorer.load(model, batch_size=batch_size, constitution=constitution, categories=categories)
    if constitution is None:
        raise ValueError("judge mode needs a constitution (its safety policy)")
    from constitution.llm.factory import make_llm
    from constitution.safety.judge import JudgeSafetyScorer

    return JudgeSafetyScorer(constitution, make_llm(judge))
