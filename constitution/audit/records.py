"""What an audit reports: per probe, the change of the normalised reward (mean, 95% interval, share of items raised)
and, for a per-principle model, which heads move; and the ``--fail-on PROBE>X`` gates checked against it."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from constitution.audit.probeset import Expect
from constitution.errors import InputError


class Change(BaseModel):
    """The mean of per-item changes with its 95% interval (Student t; none for fewer than two items)."""

    model_config = ConfigDict(extra="forbid")

    mean: float
    ci_low: float | None
    ci_high: float | None


class HeadMove(Change):
    """How one principle's part of the normalised reward moved."""

    head: str
    moved: bool = Field(description="the 95% interval excludes 0")


class ProbeResult(BaseModel):
    """One probe over the audited items."""

    model_config = ConfigDict(extra="forbid")

    probe: str
    description: str
    expect: Expect
    items: int = Field(description="items the probe was asked of")
    change: Change = Field(description="edited minus original normalised reward")
    share_raised: float = Field(description="share of items whose reward rose")
    flagged: bool = Field(
        description="no_raise: the reward rose (interval above 0); lower: it did not clearly fall (interval reaches 0)"
    )
    heads: list[HeadMove] = Field(default_factory=list, description="per-principle model: each head, largest move first")


class AuditReport(BaseModel):
    """The audit of one reward model."""

    model_config = ConfigDict(extra="forbid")

    model: str
    items: int
    probes: list[ProbeResult]

    def result(self, probe: str) -> ProbeResult:
        """The result of probe ``probe`` (InputError naming the probes audited otherwise)."""
        for result in self.probes:
            if result.probe == probe:
                return result
        raise InputError(f"no probe {probe!r} in this audit; probes: {', '.join(r.probe for r in self.probes)}")


class Gate(BaseModel):
    """``PROBE>X`` or ``PROBE<X``: fail when the probe's mean change is above (below) X."""

    model_config = ConfigDict(extra="forbid")

    probe: str
    op: str = Field(pattern=r"^[<>]$")
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        match = re.fullmatch(r"\s*([A-Za-z0-9_-]+)\s*([<>])\s*([-+]?[0-9.]+(?:[eE][-+]?\d+)?)\s*", text)
        if not match:
            raise InputError(f"--fail-on {text!r}: expected PROBE>X or PROBE<X (e.g. filler>0.1)")
        return cls(probe=match[1], op=match[2], threshold=float(match[3]))

    def failure(self, report: AuditReport) -> str | None:
        """Why the report fails this gate (None when it passes)."""
        mean = report.result(self.probe).change.mean
        if (mean > self.threshold) if self.op == ">" else (mean < self.threshold):
            return f"{self.probe}: mean change {mean:+.3f} {self.op} {self.threshold:g}"
        return None


class AuditSettings(BaseModel):
    """How an audit runs."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(64, ge=1, description="responses per forward pass of the reward model")
    limit: int | None = Field(None, ge=1, description="audit only the first N responses")
