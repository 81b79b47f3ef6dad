"""Principle files -> a validated :class:`Constitution`: discovery, YAML with line numbers, cross-file checks.

Every problem in a folder is collected and raised together as :class:`InputErrors`, each naming ``file:line`` and
the key: YAML syntax, duplicate keys, unknown keys, empty texts, negative weights, duplicate ids (across files too),
missing sets, policies or templates, and templates that fail to compile or render (sandboxed).
A principle's critique and revision requests resolve to its own, else its set's, else the constitution file's.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from constitution.errors import InputError, InputErrors
from constitution.hashing import content_hash
from constitution.principles import (
    Constitution,
    ConstitutionFile,
    PrincipleSetFile,
    ResolvedPrinciple,
    SafetyPolicyFile,
    SetRef,
    TemplateSource,
)
from constitution.prompts import check_templates
from constitution.yaml_lines import LocatedYaml, load_located_yaml, validate_located


def _package_templates() -> dict[str, TemplateSource]:
    folder = resources.files("constitution") / "templates"
    return {
        f.name[:-3]: TemplateSource(name=f.name[:-3], source=f.read_text(encoding="utf-8"), origin=str(f), trusted=True)
        for f in sorted(folder.iterdir(), key=lambda f: f.name)
        if f.name.endswith(".j2")
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
        if kind == "step_principle_set":  # read by constitution.step_principles (label-steps)
            continue
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


def load_constitution(paths: str | Path | list[str | Path]) -> Constitution:
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
    for field in type(spec.templates).model_fields:
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
                    critique=p.critique or pset.critique or spec.revise.critique,
                    revision=p.revision or pset.revision or spec.revise.revision,
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
    check_templates(constitution)  # compiled and trial-rendered, sandboxed
    return constitution

