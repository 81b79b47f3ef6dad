"""Build the scorer a command asks for: reward mode (a reward model folder) or judge mode (an LLM judge and the
constitution's safety policy)."""

from __future__ import annotations

from pathlib import Path

from constitution.llm.config import LLMConfig
from constitution.safety.scorers import SafetyScorer


def make_scorer(
    *,
    model: str | Path | None = None,
    judge: LLMConfig | None = None,
    constitution: str | Path | None = None,
    batch_size: int = 64,
) -> SafetyScorer:
    """Reward mode with ``model`` (a reward model folder; ``batch_size`` responses per forward pass), or judge mode
    with ``judge`` and a ``constitution`` (the backend keeps its own window of prompts in flight)."""
    if (model is None) == (judge is None):
        raise ValueError("give exactly one of model (reward mode) or judge (judge mode)")
    if model is not None:
        from constitution.safety.reward_mode import RewardSafetyScorer

        return RewardSafetyScorer.load(model, batch_size=batch_size)
    from constitution.llm.factory import make_llm
    from constitution.loader import load_constitution
    from constitution.safety.judge import JudgeSafetyScorer

    loaded = load_constitution(constitution)  # type: ignore[arg-type]
    return JudgeSafetyScorer(loaded, make_llm(judge))  # type: ignore[arg-type]
