"""What changed between two versions of a constitution: principles added, removed, reworded, re-weighted or moved
to another template, the templates themselves, the sampling rule and the safety policy.

Only what labels depend on is compared (weights are effective weights: principle weight × set weight), plus the
constitution's id and description and the principles' tags, which change no label but are worth seeing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from constitution.principles import Constitution, ResolvedPrinciple

Change = Literal["added", "removed", "reworded", "examples", "reweighted", "template", "set", "tags"]


class PrincipleEdit(BaseModel):
    """One principle that differs: what changed, and its text, weight and template before and after."""

    id: str
    changes: list[Change]
    text_old: str | None = None
    text_new: str | None = None
    weight_old: float | None = None
    weight_new: float | None = None
    template_old: str | None = None
    template_new: str | None = None

    @property
    def rejudged(self) -> bool:
        """Whether its judgments are asked again (new wording, examples or template; or new altogether)."""
        return bool({"added", "reworded", "examples", "template"} & set(self.changes))


class FieldEdit(BaseModel):
    """A setting that differs (``old``/``new`` None where it is absent on that side)."""

    what: str
    old: Any = None
    new: Any = None


class SpecDiff(BaseModel):
    """Every difference between two constitutions."""

    old_hash: str
    new_hash: str
    principles: list[PrincipleEdit] = Field(default_factory=list)
    templates: list[FieldEdit] = Field(default_factory=list, description="template choices and template sources")
    sampling: FieldEdit | None = None
    safety_policy: list[FieldEdit] = Field(default_factory=list)
    other: list[FieldEdit] = Field(default_factory=list, description="id and description")

    @property
    def unchanged(self) -> bool:
        return not (self.principles or self.templates or self.sampling or self.safety_policy or self.other)


def _principle_edit(pid: str, old: ResolvedPrinciple | None, new: ResolvedPrinciple | None) -> PrincipleEdit | None:
    changes: list[Change] = []
    if old is None:
        changes.append("added")
    elif new is None:
        changes.append("removed")
    else:
        checks: list[tuple[Change, bool]] = [
            ("reworded", old.text != new.text),
            ("examples", old.examples != new.examples),
            ("reweighted", old.weight != new.weight),
            ("template", old.template != new.template),
            ("set", old.set_id != new.set_id),
            ("tags", old.tags != new.tags),
        ]
        changes = [name for name, differs in checks if differs]
        if not changes:
            return None
    return PrincipleEdit(
        id=pid,
        changes=changes,
        text_old=old.text if old else None,
        text_new=new.text if new else None,
        weight_old=old.weight if old else None,
        weight_new=new.weight if new else None,
        template_old=old.template if old else None,
        template_new=new.template if new else None,
    )


def _template_edits(old: Constitution, new: Constitution) -> list[FieldEdit]:
    edits = [
        FieldEdit(what=f"templates.{kind}", old=getattr(old.choice, kind), new=getattr(new.choice, kind))
        for kind in type(old.choice).model_fields
        if getattr(old.choice, kind) != getattr(new.choice, kind)
    ]
    for name in sorted(set(old.used_template_names()) & set(new.used_template_names())):
        if old.templates[name].hash != new.templates[name].hash:
            edits.append(FieldEdit(what=f"template {name} (source)", old=old.templates[name].hash, new=new.templates[name].hash))
    return edits


def _policy_edits(old: Constitution, new: Constitution) -> list[FieldEdit]:
    a, b = old.safety_policy, new.safety_policy
    if a is None or b is None:
        return [] if a is b else [FieldEdit(what="safety_policy", old=a and a.id, new=b and b.id)]
    edits = [FieldEdit(what=f"safety_policy.{key}", old=getattr(a, key), new=getattr(b, key)) for key in ("id", "description") if getattr(a, key) != getattr(b, key)]
    cats_a = {c.id: c.model_dump() for c in a.categories}
    cats_b = {c.id: c.model_dump() for c in b.categories}
    for cid in sorted(cats_a.keys() | cats_b.keys()):
        if cats_a.get(cid) != cats_b.get(cid):
            edits.append(FieldEdit(what=f"safety category {cid}", old=cats_a.get(cid), new=cats_b.get(cid)))
    return edits


def diff_constitutions(old: Constitution, new: Constitution) -> SpecDiff:
    """Every difference between ``old`` and ``new``; principles in the new order, then the removed ones."""
    before = {p.id: p for p in old.principles}
    after = {p.id: p for p in new.principles}
    ids = [p.id for p in new.principles] + [p.id for p in old.principles if p.id not in after]
    principles = [e for pid in ids if (e := _principle_edit(pid, before.get(pid), after.get(pid))) is not None]
    sampling = None
    if old.sampling != new.sampling:
        sampling = FieldEdit(what="sampling", old=old.sampling.model_dump(), new=new.sampling.model_dump())
    other = [FieldEdit(what=key, old=getattr(old, key), new=getattr(new, key)) for key in ("id", "description") if getattr(old, key) != getattr(new, key)]
    return SpecDiff(
        old_hash=old.hash,
        new_hash=new.hash,
        principles=principles,
        templates=_template_edits(old, new),
        sampling=sampling,
        safety_policy=_policy_edits(old, new),
        other=other,
    )
