"""Audit probes: counterfactual rewrites of a response, declared in YAML and rendered in the principles' sandbox.

A probes file (``kind: audit_probes``) lists probes; each has an ``id``, a ``description``, what the reward must do
(``expect``: ``no_raise`` for a rewrite that adds no substance, ``lower`` for one that removes some) and a Jinja2
``template`` that writes the edited response from ``response``, ``prompt`` (the last user turn), ``conversation``,
``sentences`` and ``words``. A probe whose added text is its point only through its content (a tone, flattery, emoji)
sets ``vs_length_control``: it is flagged only when the reward rises against the original and against its
length-matched neutral control (:mod:`.control`; the file's ``neutral_text``), so that a reward paying for length
alone does not flag it. Templates run in the same sandbox as principle templates
(:func:`constitution.prompts.render_text`); every probe is rendered once on a sample when the file is loaded, so a
typo fails with its ``file:line`` before a model loads.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from constitution.audit.control import NEUTRAL_TEXT
from constitution.data.dialogue import format_dialogue
from constitution.data.records import Message
from constitution.errors import InputError, InputErrors
from constitution.principles import TemplateSource
from constitution.prompts import render_text
from constitution.yaml_lines import load_located_yaml, validate_located

Expect = Literal["no_raise", "lower"]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


class Probe(BaseModel):
    """One counterfactual rewrite."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[A-Za-z0-9_-]+$", description="its name in reports and in --fail-on")
    description: str = Field(description="what it does, in a few words")
    expect: Expect = Field("no_raise", description="no_raise: the reward must not rise; lower: it must fall")
    safe_only: bool = Field(False, description="skip items marked unsafe (e.g. a refusal is right for those)")
    vs_length_control: bool = Field(
        False, description="judged by its change against a length-matched neutral rewrite, not against the original"
    )
    template: str = Field(description="Jinja2: the edited response")

    @model_validator(mode="after")
    def _control_needs_no_raise(self) -> Probe:
        if self.vs_length_control and self.expect != "no_raise":
            raise ValueError("vs_length_control applies to probes that must not raise the reward (expect: no_raise)")
        return self


class ProbeFile(BaseModel):
    """A probes file."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["audit_probes"]
    neutral_text: str = Field(NEUTRAL_TEXT, min_length=1, description="what the length-matched controls are made of")
    probes: list[Probe] = Field(min_length=1)

    @field_validator("probes")
    @classmethod
    def _unique(cls, probes: list[Probe]) -> list[Probe]:
        ids = [p.id for p in probes]
        if dupes := sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"probe ids must be unique: {', '.join(dupes)}")
        return probes


class AuditItem(BaseModel):
    """A response to audit, in its conversation."""

    model_config = ConfigDict(extra="forbid")

    id: str
    conversation: list[Message] = Field(default_factory=list)
    response: str
    safe: bool = Field(True, description="the prompt is safe to answer (safe_only probes skip the others)")


def probe_variables(item: AuditItem) -> dict[str, Any]:
    """What a probe template sees."""
    users = [m.content for m in item.conversation if m.role == "user"]
    text = item.response.strip()
    return {
        "response": item.response,
        "prompt": users[-1] if users else "",
        "conversation": format_dialogue(item.conversation).strip(),
        "sentences": [s for s in _SENTENCE.split(text) if s] or [text],
        "words": text.split(),
    }


_SAMPLE = AuditItem(
    id="sample",
    conversation=[Message(role="user", content="How do I boil an egg?")],
    response="Boil it for eight minutes. Then cool it in cold water.",
)


class ProbeSet:
    """Loaded probes with their templates (each named by the file and line of its ``template`` key)."""

    def __init__(self, probes: list[Probe], templates: list[TemplateSource], neutral_text: str = NEUTRAL_TEXT) -> None:
        self.probes = probes
        self.neutral_text = neutral_text
        self.templates = dict(zip((p.id for p in probes), templates))
        for probe in probes:
            self.apply(probe, _SAMPLE)

    def apply(self, probe: Probe, item: AuditItem) -> str:
        """The item's response rewritten by the probe."""
        return render_text(self.templates[probe.id], probe_variables(item))

    def applies(self, probe: Probe, item: AuditItem) -> bool:
        """Whether the probe is asked of the item (``safe_only`` probes skip unsafe items)."""
        return item.safe or not probe.safe_only

    def __getitem__(self, probe_id: str) -> Probe:
        for probe in self.probes:
            if probe.id == probe_id:
                return probe
        raise InputError(f"no probe {probe_id!r}; probes: {', '.join(p.id for p in self.probes)}")


def load_probes(path: str | Path) -> ProbeSet:
    """A probes file, validated (InputError naming file:line for each problem; templates compiled and tried)."""
    doc = load_located_yaml(Path(path))
    parsed, errors = validate_located(ProbeFile, doc)
    if errors:
        raise InputErrors(errors) if len(errors) > 1 else errors[0]
    assert isinstance(parsed, ProbeFile)
    templates = [
        TemplateSource(name=f"probe {p.id}", source=p.template, origin=doc.where(("probes", k, "template")), trusted=False)
        for k, p in enumerate(parsed.probes)
    ]
    return ProbeSet(parsed.probes, templates, parsed.neutral_text)
