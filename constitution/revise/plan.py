"""Which principle a chain's critique and revision use in each round: one drawn per (prompt, round), by a hash.

Each principle with a positive weight draws ``-ln(u) / weight`` with ``u`` from a hash of (seed, prompt, round,
principle id), and the smallest draw wins: a weighted draw (a principle's chance is its share of the weights) that
is deterministic, independent of the input's order, and changes only where an added or removed principle wins.
"""

from __future__ import annotations

import math

from constitution.hashing import joined_digest
from constitution.principles import Constitution, ResolvedPrinciple


def _draw(seed: int, prompt_key: str, round_: int, principle: ResolvedPrinciple) -> float:
    digest = joined_digest(seed, prompt_key, round_, principle.id)
    u = (int.from_bytes(digest[:8], "big") + 0.5) / 2.0**64
    return -math.log(u) / principle.weight


def round_principles(constitution: Constitution, prompt_key: str, rounds: int, seed: int) -> list[ResolvedPrinciple]:
    """The principle of rounds 1..``rounds`` for one prompt (``prompt_key``: a stable hash of its conversation)."""
    active = [p for p in constitution.principles if p.weight > 0]
    return [min(active, key=lambda p: _draw(seed, prompt_key, r, p)) for r in range(1, rounds + 1)]
