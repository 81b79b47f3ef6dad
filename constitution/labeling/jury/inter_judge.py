"""Agreement between judges on hard labels: Cohen's κ for two judges, Krippendorff's α (nominal) for any number.

A soft label becomes a hard one by which response it prefers: ``"a"`` (p_a > 0.5), ``"b"`` (p_a < 0.5) or ``"tie"``.
Both statistics are accumulated one pair at a time (counts only: memory does not grow with the run) and are None
where they are undefined (no pairs, or no variation at all: chance agreement is then 1 and κ, α are 0/0).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Sequence
from itertools import permutations


def hard_label(p_a: float) -> str:
    """The response a soft label prefers: ``"a"``, ``"b"`` or ``"tie"``."""
    return "a" if p_a > 0.5 else "b" if p_a < 0.5 else "tie"


class CohenKappa:
    """Cohen's κ of two raters over the items both rated: (p_o − p_e) / (1 − p_e)."""

    def __init__(self) -> None:
        self.pairs: Counter[tuple[Hashable, Hashable]] = Counter()
        self.n = 0

    def add(self, first: Hashable, second: Hashable) -> None:
        self.pairs[(first, second)] += 1
        self.n += 1

    @property
    def observed(self) -> float | None:
        """Share of items with the same label (p_o)."""
        return sum(c for (x, y), c in self.pairs.items() if x == y) / self.n if self.n else None

    @property
    def kappa(self) -> float | None:
        if not self.n:
            return None
        first: Counter[Hashable] = Counter()
        second: Counter[Hashable] = Counter()
        for (x, y), c in self.pairs.items():
            first[x] += c
            second[y] += c
        expected = sum(first[k] * second[k] for k in first) / self.n**2
        if expected >= 1.0:
            return None
        return (self.observed - expected) / (1.0 - expected)  # type: ignore[operator]


class KrippendorffAlpha:
    """Krippendorff's α for nominal values, any number of raters, missing values allowed: 1 − D_o / D_e from the
    coincidence matrix. An item rated by fewer than two raters carries no information and is left out."""

    def __init__(self) -> None:
        self.coincidences: Counter[tuple[Hashable, Hashable]] = Counter()
        self.units = 0

    def add(self, values: Sequence[Hashable]) -> None:
        """The labels one item got (one per rater that rated it)."""
        m = len(values)
        if m < 2:
            return
        self.units += 1
        for x, y in permutations(values, 2):
            self.coincidences[(x, y)] += 1.0 / (m - 1)

    @property
    def alpha(self) -> float | None:
        totals: Counter[Hashable] = Counter()
        for (x, _), c in self.coincidences.items():
            totals[x] += c
        n = sum(totals.values())
        disagree = sum(c for (x, y), c in self.coincidences.items() if x != y)
        expected = sum(totals[x] * totals[y] for x in totals for y in totals if x != y)
        if n <= 1 or expected == 0:
            return None
        return 1.0 - (n - 1) * disagree / expected
