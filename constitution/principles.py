"""Principles: the YAML schema (pydantic v2, ``extra="forbid"``), the loader and the composed Constitution.

A principles folder holds YAML files of three kinds (the ``kind`` key): ``principle_set`` (comparison principles),
``safety_policy`` (hazard categories for single-response checks) and at most one ``constitution`` (which sets, with
what weights, which templates, and how principles are sampled per comparison). Without a constitution file every set
is used with weight 1 and every principle is asked. Every error names ``file:line`` and the key.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from constitution.data import content_hash
from constitution.errors import InputError, InputErrors
from constitution.yaml_lines import LocatedYaml, load_located_yaml, validate_located

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


class PrincipleSetFile(_Strict):
    """A ``kind: principle_set`` file."""

    kind: Literal["principle_set"]
    id: Id
    description: str = ""
    template: str | None = Field(default=None, description="Default template for this set's principles.")
    templates: dict[str, NonEmptyText] = Field(default_factory=dict, description="Inline templates, by name.")
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


class TemplateChoice(_Strict):
    """Which template renders each kind of judge prompt."""

    comparison: str = "cai_comparison"
    cot: str = "cot_comparison"
    safety: str = "safety_check"


class ConstitutionFile(_Strict):
    """A ``kind: constitution`` file."""

    kind: Literal["constitution"]
    id: Id
    description: str = ""
    sets: list[SetRef] = Field(min_length=1)
    safety_policy: str | None = None
    templates: TemplateChoice = Field(default_factory=TemplateChoice)
    sampling: Sampling = Field(default_factory=Sampling)

    @model_validator(mode="after")
    def _unique_sets(self) -> ConstitutionFile:
        ids = [s.id for s in self.sets]
        if len(ids) != len(set(ids)):
            raise ValueError(f"a set is listed twice: {ids}")
        return self


class ResolvedPrinciple(BaseModel):
    """A principle as used: its set, effective weight, template name and content hash."""

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
            self.choice.model_dump(),
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
        """Every template name this constitution refers to."""
        names = {self.choice.comparison, self.choice.cot, self.choice.safety}
        names.update(p.template for p in self.principles if p.template)
        return sorted(names)

    def plan(self, pair_hash: str) -> list[ResolvedPrinciple]:
        """Principles to ask for one pair, by the sampling rule; deterministic in (seed, pair)."""
        active = [p for p in self.principles if p.weight > 0]
        if self.sampling.rule == "all":
            return active
        k = 1 if self.sampling.rule == "one" else min(self.sampling.k, len(active))
        rng = random.Random(f"{self.sampling.seed}:{pair_hash}")
        return sorted(rng.sample(active, k), key=active.index)


def _package_templates() -> dict[str, TemplateSource]:
    folder = Path(__file__).parent / "templates"
    return {
        f.stem: TemplateSource(name=f.stem, source=f.read_text(encoding="utf-8"), origin=str(f), trusted=True)
        for f in sorted(folder.glob("*.j2"))
    }


_KINDS: dict[str, type[BaseModel]] = {
    "principle_set": PrincipleSetFile,
    "safety_policy": SafetyPolicyFile,
    "constitution": ConstitutionFile,
}


def _yaml_files(paths: list[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"}))
        elif path.is_file():
            files.append(path)
        else:
            raise InputError("no such file or folder", where=str(path))
    if not files:
        raise InputError("no YAML files found", where=", ".join(map(str, paths)))
    return files


def _user_templates(files: list[Path]) -> dict[str, TemplateSource]:
    """``templates/*.j2`` beside the YAML files: user-supplied, so rendered sandboxed like everything else."""
    found: dict[str, TemplateSource] = {}
    for folder in sorted({f.parent / "templates" for f in files}):
        for f in sorted(folder.glob("*.j2")) if folder.is_dir() else []:
            found[f.stem] = TemplateSource(name=f.stem, source=f.read_text(encoding="utf-8"), origin=str(f), trusted=False)
    return found


class _Collected(BaseModel):
    """Validated files, by kind, with their located YAML for cross-file error messages."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    sets: list[tuple[PrincipleSetFile, LocatedYaml]] = []
    policies: list[tuple[SafetyPolicyFile, LocatedYaml]] = []
    constitutions: list[tuple[ConstitutionFile, LocatedYaml]] = []


def _collect(files: list[Path], errors: list[InputError]) -> _Collected:
    out = _Collected()
    for path in files:
        try:
            doc = load_located_yaml(path)
        except InputError as exc:
            errors.append(exc)
            continue
        if not isinstance(doc.data, dict):
            errors.append(InputError("expected a mapping with a `kind` key", where=doc.where(())))
            continue
        kind = doc.data.get("kind")
        if kind not in _KINDS:
            errors.append(InputError(f"kind: must be one of {sorted(_KINDS)}, got {kind!r}", where=doc.where(("kind",))))
            continue
        model, errs = validate_located(_KINDS[kind], doc)
        errors.extend(errs)
        if isinstance(model, PrincipleSetFile):
            out.sets.append((model, doc))
        elif isinstance(model, SafetyPolicyFile):
            out.policies.append((model, doc))
        elif isinstance(model, ConstitutionFile):
            out.constitutions.append((model, doc))
    return out


def _check_unique(items: list[tuple[str, str]], what: str, errors: list[InputError]) -> None:
    first: dict[str, str] = {}
    for item_id, where in items:
        if item_id in first:
            errors.append(InputError(f"duplicate {what} id {item_id!r} (first defined at {first[item_id]})", where=where))
        else:
            first[item_id] = where


def load_constitution(paths: str | Path | list[str | Path] = "principles") -> Constitution:
    """Load and validate principle files (folders are scanned for *.yaml); raises InputErrors listing every problem."""
    path_list = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
    files = _yaml_files(path_list)
    errors: list[InputError] = []
    found = _collect(files, errors)

    _check_unique([(s.id, d.where(("id",))) for s, d in found.sets], "principle set", errors)
    _check_unique([(p.id, d.where(("id",))) for p, d in found.policies], "safety policy", errors)
    _check_unique(
        [(p.id, d.where(("principles", i, "id"))) for s, d in found.sets for i, p in enumerate(s.principles)],
        "principle",
        errors,
    )
    for extra, doc in found.constitutions[1:]:
        errors.append(InputError(f"more than one constitution file (also {found.constitutions[0][1].path})", where=doc.where(("kind",))))

    templates = _package_templates()
    templates.update(_user_templates(files))
    for s, doc in found.sets:
        for name, source in s.templates.items():
            templates[name] = TemplateSource(name=name, source=source, origin=doc.where(("templates", name)), trusted=False)

    sets_by_id = {s.id: (s, d) for s, d in found.sets}
    policies = {p.id: p for p, _ in found.policies}
    if found.constitutions:
        spec, spec_doc = found.constitutions[0]
    elif not found.sets:
        raise InputErrors(errors or [InputError("no principle_set file", where=", ".join(map(str, path_list)))])
    else:
        spec = ConstitutionFile(kind="constitution", id="all", sets=[SetRef(id=s.id) for s, _ in found.sets])
        spec_doc = None
        if len(policies) == 1:
            spec = spec.model_copy(update={"safety_policy": next(iter(policies))})
    where = spec_doc.where if spec_doc else (lambda loc: str(files[0]))

    for i, ref in enumerate(spec.sets):
        if ref.id not in sets_by_id:
            errors.append(InputError(f"sets.{i}.id: no principle set {ref.id!r} (known: {sorted(sets_by_id)})", where=where(("sets", i, "id"))))
    if spec.safety_policy and spec.safety_policy not in policies:
        errors.append(InputError(f"safety_policy: no safety policy {spec.safety_policy!r} (known: {sorted(policies)})", where=where(("safety_policy",))))
    for field in ("comparison", "cot", "safety"):
        name = getattr(spec.templates, field)
        if name not in templates:
            errors.append(InputError(f"templates.{field}: no template {name!r} (known: {sorted(templates)})", where=where(("templates", field))))

    principles: list[ResolvedPrinciple] = []
    for ref in spec.sets:
        if ref.id not in sets_by_id:
            continue
        pset, doc = sets_by_id[ref.id]
        for i, p in enumerate(pset.principles):
            template = p.template or pset.template
            loc = ("principles", i, "template") if p.template else ("template",)
            if template and template not in templates:
                errors.append(InputError(f"{'.'.join(map(str, loc))}: no template {template!r} (known: {sorted(templates)})", where=doc.where(loc)))
            principles.append(
                ResolvedPrinciple(
                    id=p.id,
                    set_id=pset.id,
                    text=p.text,
                    examples=tuple(p.examples),
                    weight=p.weight * ref.weight,
                    tags=tuple(p.tags),
                    template=template,
                    hash=content_hash(p.id, p.text, [e.model_dump() for e in p.examples]),
                    where=doc.where(("principles", i)),
                )
            )
    if not errors and not any(p.weight > 0 for p in principles):
        errors.append(InputError("every principle has weight 0", where=where(("sets",))))
    if errors:
        raise InputErrors(errors)

    constitution = Constitution(
        id=spec.id,
        description=spec.description,
        principles=tuple(principles),
        templates=templates,
        choice=spec.templates,
        sampling=spec.sampling,
        safety_policy=policies.get(spec.safety_policy) if spec.safety_policy else None,
        files=tuple(str(f) for f in files),
    )
    from constitution.prompts import check_templates  # templates are compiled and trial-rendered, sandboxed

    check_templates(constitution)
    return constitution

