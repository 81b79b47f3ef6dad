"""Principles: the YAML schema (pydantic v2, ``extra="forbid"``) and the composed :class:`Constitution`.

A principles folder holds YAML files of three kinds (the ``kind`` key): ``principle_set`` (comparison principles),
``safety_policy`` (hazard categories for single-response checks) and at most one ``constitution`` (which sets, with
what weights, which templates, and how principles are sampled per comparison). :mod:`constitution.loader` reads the
files into these models, with ``file:line`` in every error.

For ``constitution revise`` (Constitutional AI's supervised stage) a principle may also carry a ``critique`` and a
``revision`` request; a set's, else the constitution file's ``revise:`` texts, else built-in ones, apply where it
has none. They never change a principle's comparison hash nor the constitution's hash: labels do not depend on them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from constitution.errors import InputError
from constitution.hashing import content_hash, joined_digest

Id = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$", max_length=80)]
NonEmptyText = Annotated[str, Field(min_length=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class FewShotExample(_Strict):
    """A worked comparison shown to the judge: which response the principle prefers."""

    conversation: NonEmptyText
    response_a: str
    response_b: str
    answer: Literal["A", "B"]


class Principle(_Strict):
    """One comparison principle: the question put to the judge."""

    id: Id
    text: NonEmptyText = Field(description="The multiple-choice question; the answer names the better response.")
    examples: list[FewShotExample] = Field(default_factory=list, description="Optional few-shot examples.")
    weight: float = Field(default=1.0, ge=0.0, description="Share in the ensemble (times the set's weight).")
    tags: list[str] = Field(default_factory=list)
    template: str | None = Field(default=None, description="Name of a template that replaces the default.")
    critique: NonEmptyText | None = Field(
        default=None, description="`constitution revise`: what to look for in a reply (default: the set's, else the constitution's)."
    )
    revision: NonEmptyText | None = Field(
        default=None, description="`constitution revise`: how to rewrite the reply after the critique (default as for critique)."
    )


class PrincipleSetFile(_Strict):
    """A ``kind: principle_set`` file."""

    kind: Literal["principle_set"]
    id: Id
    description: str = ""
    template: str | None = Field(default=None, description="Default template for this set's principles.")
    templates: dict[str, NonEmptyText] = Field(default_factory=dict, description="Inline templates, by name.")
    critique: NonEmptyText | None = Field(default=None, description="Default critique request of this set's principles.")
    revision: NonEmptyText | None = Field(default=None, description="Default revision request of this set's principles.")
    principles: list[Principle] = Field(min_length=1)


class SafetyCategory(_Strict):
    """One hazard category of a safety policy."""

    id: Id
    name: NonEmptyText
    description: NonEmptyText


class SafetyPolicyFile(_Strict):
    """A ``kind: safety_policy`` file."""

    kind: Literal["safety_policy"]
    id: Id
    description: str = ""
    categories: list[SafetyCategory] = Field(min_length=1)


class SetRef(_Strict):
    """A principle set used by the constitution, with its weight."""

    id: Id
    weight: float = Field(default=1.0, ge=0.0)


class Sampling(_Strict):
    """How principles are chosen per comparison: one sampled (CAI), ``k`` sampled, or all."""

    rule: Literal["one", "k", "all"] = "all"
    k: int = Field(default=1, ge=1)
    seed: int = 0


LABEL_TEMPLATE_KINDS = ("comparison", "cot", "safety")
"""The template kinds labels depend on (the constitution's hash covers these, not the revise ones)."""


class TemplateChoice(_Strict):
    """Which template renders each kind of prompt: the judge's, and the critique and revision of ``revise``."""

    comparison: str = "cai_comparison"
    cot: str = "cot_comparison"
    safety: str = "safety_check"
    critique: str = "critique"
    revision: str = "revision"


class RevisionRequests(_Strict):
    """The critique and revision requests of principles that have none of their own (nor their set)."""

    critique: NonEmptyText = (
        "Identify specific ways in which the assistant's last reply is harmful, unethical, dishonest, disrespectful "
        "or unhelpful. If it has no such problem, say so."
    )
    revision: NonEmptyText = (
        "Rewrite the assistant's last reply to fix every problem the critique found while keeping whatever was "
        "helpful. If the critique found no problem, repeat the reply unchanged."
    )


class ConstitutionFile(_Strict):
    """A ``kind: constitution`` file."""

    kind: Literal["constitution"]
    id: Id
    description: str = ""
    sets: list[SetRef] = Field(min_length=1)
    safety_policy: str | None = None
    templates: TemplateChoice = Field(default_factory=TemplateChoice)
    sampling: Sampling = Field(default_factory=Sampling)
    revise: RevisionRequests = Field(default_factory=RevisionRequests)

    @model_validator(mode="after")
    def _unique_sets(self) -> ConstitutionFile:
        ids = [s.id for s in self.sets]
        if len(ids) != len(set(ids)):
            raise ValueError(f"a set is listed twice: {ids}")
        return self


class ResolvedPrinciple(BaseModel):
    """A principle as used: its set, effective weight, template name, comparison hash and revise requests."""

    model_config = ConfigDict(frozen=True)

    id: str
    set_id: str
    text: str
    examples: tuple[FewShotExample, ...]
    weight: float
    tags: tuple[str, ...]
    template: str | None
    hash: str
    where: str
    critique: str
    revision: str

    def example_messages(self) -> list[dict[str, str]]:
        """Examples as plain dicts for templates."""
        return [e.model_dump() for e in self.examples]


class TemplateSource(BaseModel):
    """A Jinja2 template's source and where it came from (package, a .j2 file, or inline in a set file)."""

    model_config = ConfigDict(frozen=True)

    name: str
    source: str
    origin: str
    trusted: bool

    @property
    def hash(self) -> str:
        """Content hash of the source: it keys the label cache."""
        return content_hash(self.source)


class Constitution(BaseModel):
    """The composed constitution: principles with effective weights, templates, sampling and safety policy."""

    model_config = ConfigDict(frozen=True)

    id: str
    description: str = ""
    principles: tuple[ResolvedPrinciple, ...]
    templates: dict[str, TemplateSource]
    choice: TemplateChoice
    sampling: Sampling
    safety_policy: SafetyPolicyFile | None = None
    files: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        """Stable hash of everything that changes labels: principles, weights, sampling, templates, policy."""
        return content_hash(
            [(p.id, p.hash, p.weight, p.template) for p in self.principles],
            self.sampling.model_dump(),
            self.choice.model_dump(include=set(LABEL_TEMPLATE_KINDS)),
            {n: self.templates[n].hash for n in self.used_template_names()},
            self.safety_policy.model_dump() if self.safety_policy else None,
        )

    def principle(self, principle_id: str) -> ResolvedPrinciple:
        """Look a principle up by id."""
        for p in self.principles:
            if p.id == principle_id:
                return p
        raise InputError(f"no principle {principle_id!r}; known: {', '.join(p.id for p in self.principles)}")

    def template_name(self, principle: ResolvedPrinciple | None, kind: str = "comparison") -> str:
        """The template a principle is rendered with (its override, else the constitution's choice)."""
        if principle is not None and principle.template and kind == "comparison":
            return principle.template
        return getattr(self.choice, kind)

    def used_template_names(self) -> list[str]:
        """Every template name this constitution's labels use (not those of ``revise``)."""
        names = {self.choice.comparison, self.choice.cot, self.choice.safety}
        names.update(p.template for p in self.principles if p.template)
        return sorted(names)

    def pinned(self, principle_ids: list[str] | tuple[str, ...]) -> Constitution:
        """This constitution reduced to the given principles, every one asked of every pair (rule ``all``); an error
        when none of them has a positive weight (there would be nothing to ask)."""
        chosen = tuple(self.principle(pid) for pid in principle_ids)
        if not any(p.weight > 0 for p in chosen):
            raise InputError(f"principle(s) {', '.join(p.id for p in chosen)} have weight 0 in this constitution: nothing to ask")
        return self.model_copy(update={"principles": chosen, "sampling": Sampling(rule="all")})

    def plan(self, pair_hash: str) -> list[ResolvedPrinciple]:
        """Principles to ask for one pair by the sampling rule (in the constitution's order): every principle with a
        positive weight (``all``), or a weighted draw of ``k`` (``one``: 1) of them by :func:`weighted_draw` keyed on
        the pair. Deterministic in (seed, pair, principle ids, weights); see :func:`weighted_draw` for what an edit
        re-draws."""
        active = [p for p in self.principles if p.weight > 0]
        if self.sampling.rule == "all":
            return active
        k = 1 if self.sampling.rule == "one" else self.sampling.k
        chosen = weighted_draw(self.principles, k, self.sampling.seed, pair_hash)
        return sorted(chosen, key=self.principles.index)


def hash_uniform(digest: bytes) -> float:
    """u in [0, 1) from a digest's first 8 bytes: their top 53 bits, so every value is exact and the largest is
    1 - 2**-53 (dividing all 64 bits by 2**64 rounds the top ones to 1.0)."""
    return (int.from_bytes(digest[:8], "big") >> 11) * 2.0**-53


def _draw_key(seed: int, key: str, principle: ResolvedPrinciple) -> float:
    """A principle's key in the draw for ``key``: ln(u) / weight (weight > 0), with u uniform in [0, 1) from a hash
    of (seed, key, principle id): the log of Efraimidis–Spirakis' u^(1/w); u = 0 ranks last (-inf)."""
    u = hash_uniform(joined_digest(seed, key, principle.id))
    return math.log(u) / principle.weight if u > 0 else -math.inf


def weighted_draw(principles: Sequence[ResolvedPrinciple], k: int, seed: int, key: str) -> list[ResolvedPrinciple]:
    """The ``k`` principles drawn for ``key`` (a pair, or a prompt and revision round), without replacement and
    weighted: the ``k`` largest keys ln(u)/w (u from a hash of (seed, key, principle id)) among
    those with a positive weight (Efraimidis–Spirakis), largest first. A principle's chance to be the first drawn is its share of the weights.

    A principle's key depends only on (seed, key, its id, its weight), so an edit re-draws only where the ranking of
    the edited principle changes: weight 0 removes exactly that principle, and the pairs that had drawn it draw the
    next one in its place; lowering (raising) a weight can only drop it from (bring it into) a pair's draw, with the
    principle next in line leaving or entering in exchange; adding or removing a principle changes only the draws it
    enters or leaves (about k/K of them). Any other principle is never re-drawn.
    """
    active = [p for p in principles if p.weight > 0]
    return sorted(active, key=lambda p: _draw_key(seed, key, p), reverse=True)[:k]
