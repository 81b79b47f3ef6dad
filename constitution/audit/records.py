"""What an audit reports: per probe, the change of the normalised reward (mean, 95% interval, share of items raised),
its change against a length-matched neutral control and, for a per-principle model, which heads move; and the
``--fail-on PROBE>X`` gates checked against the interval of what the probe is judged by."""

from __future__ import annotations

import math
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
    control: Change | None = Field(None, description="length-matched neutral rewrite minus original: what length alone does")
    vs_control: Change | None = Field(None, description="edited minus its length-matched neutral rewrite: what the content does")
    judged_vs_control: bool = Field(False, description="flagged (and gated) only when both change and vs_control rise")
    share_raised: float = Field(description="share of items whose reward rose")
    flagged: bool = Field(
        description="no_raise: the reward rose (interval above 0; with judged_vs_control, against the control too); "
        "lower: it did not clearly fall (interval reaches 0)"
    )
    heads: list[HeadMove] = Field(
        default_factory=list,
        description="per-principle model: each head's move, from the control for a probe judged against it, largest first",
    )

    def judged_on(self) -> list[tuple[str, Change]]:
        """The changes the probe is judged on, by name: against the original and, for a probe judged against its
        length-matched control, against that too (it is flagged only when the reward rises against both)."""
        if self.judged_vs_control and self.vs_control is not None:
            return [("change", self.change), ("change against its length-matched control", self.vs_control)]
        return [("change", self.change)]


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
    """``PROBE>X`` (``PROBE<X``): fail unless the 95% interval of what the probe is judged by lies at or below (above)
    X; a probe asked of fewer than two items has no interval and fails."""

    model_config = ConfigDict(extra="forbid")

    probe: str
    op: str = Field(pattern=r"^[<>]$")
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Gate:
        """InputError (exit 2) for anything but ``PROBE>X``/``PROBE<X`` with a finite number X."""
        match = re.fullmatch(r"\s*([A-Za-z0-9_-]+)\s*([<>])\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*", text)
        if not match or not math.isfinite(float(match[3])):
            raise InputError(f"--fail-on {text!r}: expected PROBE>X or PROBE<X with a number X (e.g. filler>0.1)")
        return cls(probe=match[1], op=match[2], threshold=float(match[3]))

    def failure(self, report: AuditReport) -> str | None:
        """Why the report fails this gate (None when it passes): it passes when the interval of one of the changes
        the probe is judged on lies on the allowed side of X."""
        result = report.result(self.probe)
        if result.items < 2:
            return f"{self.probe}: asked of {result.items} item(s), too few for an interval (gate {self.probe}{self.op}{self.threshold:g})"
        reasons = []
        for name, c in result.judged_on():
            assert c.ci_low is not None and c.ci_high is not None  # two items or more
            if (c.ci_high <= self.threshold) if self.op == ">" else (c.ci_low >= self.threshold):
                return None
            reasons.append(f"{name} [{c.ci_low:+.3f}, {c.ci_high:+.3f}]")
        side = "above" if self.op == ">" else "below"
        return f"{self.probe}: {' and '.join(reasons)} reach{'es' if len(reasons) == 1 else ''} {side} {self.threshold:g}"


class AuditSettings(BaseModel):
    """How an audit runs."""

    model_config = ConfigDict(extra="forbid")

    batch_size: int = Field(64, ge=1, description="responses per forward pass of the reward model")
    limit: int | None = Field(None, ge=1, description="audit only the first N responses")
