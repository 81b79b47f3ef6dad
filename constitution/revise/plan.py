"""Which principle a chain's critique and revision use in each round: one drawn per (prompt, round), by a hash.

The draw is the constitution's weighted draw (:func:`constitution.principles.weighted_draw`, the one labeling uses),
keyed on the prompt and the round: a principle's chance is its share of the weights, the draw is deterministic,
independent of the input's order, and changes only where an edited, added or removed principle wins or stops winning.
"""

from __future__ import annotations

from constitution.principles import Constitution, ResolvedPrinciple, weighted_draw


def round_principles(constitution: Constitution, prompt_key: str, rounds: int, seed: int) -> list[ResolvedPrinciple]:
    """The principle of rounds 1..``rounds`` for one prompt (``prompt_key``: a stable hash of its conversation)."""
    return [weighted_draw(constitution.principles, 1, seed, f"{prompt_key}\0{r}")[0] for r in range(1, rounds + 1)]
