"""Safety scorers: what they offer, the one unsafe-score formula of reward mode, and the one threshold rule.

* reward mode: a trained reward model's score, ``unsafe = sigmoid(-(r - mean) / std)`` (a low reward means likely
  unsafe), so it lies in (0, 1) like the judge's P("Yes");
* judge mode: an LLM judge reads the constitution's safety policy and the unsafe score is P("Yes").

The decision threshold is the one given, else the one stored in the reward model's metadata, else 0.5.
"""

from __future__ import annotations

import math
from typing import Protocol

from constitution.safety.datasets import SafetyExample

DEFAULT_THRESHOLD = 0.5


class SafetyScorer(Protocol):
    """Anything that gives unsafe scores in [0, 1] (higher = more likely unsafe)."""

    mode: str
    threshold: float | None
    """A stored, calibrated threshold (reward mode), or None."""

    def unsafe_scores(self, examples: list[SafetyExample]) -> list[float]: ...

    def category_scores(self, examples: list[SafetyExample]) -> list[dict[str, float]]:
        """P(violates category) per policy category, per example."""
        ...

    def close(self) -> None: ...


def unsafe_score(reward: float) -> float:
    """sigmoid(-reward) of a normalised reward, without overflow for large |reward|."""
    if reward >= 0:
        e = math.exp(-reward)
        return e / (1.0 + e)
    return 1.0 / (1.0 + math.exp(reward))


def resolve_threshold(given: float | None, stored: float | None) -> float:
    """The threshold to decide with: ``given``, else ``stored`` (0.0 is a threshold too), else 0.5."""
    if given is not None:
        return given
    if stored is not None:
        return stored
    return DEFAULT_THRESHOLD
