"""Step principles: questions asked of one step of a reasoning trace (``constitution label-steps``).

A principles folder may hold ``kind: step_principle_set`` files beside the comparison principles (the comparison
loader ignores them). Each sets the two answer ``options`` (one token each for the judge), a ``template`` (default
``step_check``; inline ``templates`` or ``templates/*.j2`` beside the files, as for comparison principles) and its
principles, each with the answer that means the step is good (``good_answer``). Every problem is reported with
``file:line``; templates are trial-rendered, sandboxed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from constitution.data.steps import StepTrace
from constitution.errors import InputError, InputErrors
from constitution.hashing import content_hash
from constitution.loader import _package_templates, _user_templates, _yaml_files
from constitution.principles import Id, NonEmptyText, TemplateSource, _Strict
from constitution.prompts import JudgePrompt, Order, chat_text, conversation_text, render_template
from constitution.yaml_lines import load_located_yaml, validate_located

KIND = "step_principle_set"


class StepPrinciple(_Strict):
    """One step principle: a question about a step with two answers."""

    id: Id
    text: NonEmptyText = Field(description="The question asked of the step.")
    good_answer: NonEmptyText = Field("Yes", description="The option that means the step is good (e.g. 'No' for 'Does this step move toward harm?').")
    weight: float = Field(1.0, ge=0.0, description="Share in the step label's ensemble.")
    template: str | None = Field(None, description="Template replacing the set's.")


class StepPrincipleSetFile(_Strict):
    """A ``kind: step_principle_set`` file."""

    kind: str = Field(pattern=f"^{KIND}$")
    id: Id
    description: str = ""
    template: str = "step_check"
    templates: dict[str, NonEmptyText] = Field(default_factory=dict, description="Inline templates, by name.")
    options: tuple[NonEmptyText, NonEmptyText] = ("Yes", "No")
    principles: list[StepPrinciple] = Field(min_length=1)


class ResolvedStepPrinciple(BaseModel):
    """A step principle as used: its options, template and content hash (which keys its cached judgments)."""

    model_config = ConfigDict(frozen=True)

    id: str
    text: str
    options: tuple[str, str]
    good_answer: str
    weight: float
    template: TemplateSource
    hash: str
    where: str


class StepPrinciples(BaseModel):
    """Every step principle of a folder."""

    model_config = ConfigDict(frozen=True)

    principles: tuple[ResolvedStepPrinciple, ...]
    files: tuple[str, ...] = ()

    @property
    def hash(self) -> str:
        """What step labels depend on: the principles, weights, options and templates."""
        return content_hash([(p.id, p.hash, p.weight, p.template.hash) for p in self.principles])

    @property
    def active(self) -> list[ResolvedStepPrinciple]:
        return [p for p in self.principles if p.weight > 0]


def step_prompt(principle: ResolvedStepPrinciple, trace: StepTrace, k: int, order: Order, tokenizer: Any | None = None) -> JudgePrompt:
    """The judge prompt for step ``k`` of ``trace``; ``order="ba"`` shows the options swapped."""
    choices = list(principle.options if order == "ab" else principle.options[::-1])
    variables = {
        "conversation": conversation_text(trace.messages),
        "previous": trace.completions[:k],
        "step": trace.completions[k],
        "index": k + 1,
        "principle": principle.text,
        "principle_id": principle.id,
        "choices": choices,
    }
    rendered = render_template(principle.template, variables)
    if sorted(rendered.options) != sorted(principle.options):
        raise InputError(f"template {principle.template.name!r} must set `options = choices`", where=principle.template.origin)
    return JudgePrompt(
        text=chat_text(rendered.body, tokenizer, rendered.answer_prefix), options=rendered.options,
        principle_id=principle.id, order=order, template_hash=principle.template.hash, answer_prefix=rendered.answer_prefix,
    )  # fmt: skip


_SAMPLE = StepTrace(id="check", prompt="What is 2 + 3 + 4?", completions=["2 + 3 = 5", "5 + 4 = 9"])


def load_step_principles(paths: str | Path | list[str | Path]) -> StepPrinciples:
    """The ``step_principle_set`` files among ``paths`` (folders are scanned), validated; InputErrors lists every
    problem (InputError when there is none)."""
    path_list = [Path(p) for p in (paths if isinstance(paths, list) else [paths])]
    files = _yaml_files(path_list)
    errors: list[InputError] = []
    templates = {**_package_templates(), **_user_templates(files)}
    sets = []
    for path in files:
        try:
            doc = load_located_yaml(path)
        except InputError as exc:
            errors.append(exc)
            continue
        if isinstance(doc.data, dict) and doc.data.get("kind") == KIND:
            model, errs = validate_located(StepPrincipleSetFile, doc)
            errors.extend(errs)
            if model is not None:
                sets.append((model, doc))
                for name, source in model.templates.items():
                    templates[name] = TemplateSource(name=name, source=source, origin=doc.where(("templates", name)), trusted=False)
    if not sets and not errors:
        raise InputError(f"no {KIND} file", where=", ".join(map(str, path_list)))
    principles: list[ResolvedStepPrinciple] = []
    seen: dict[str, str] = {}
    for s, doc in sets:
        for i, p in enumerate(s.principles):
            where = doc.where(("principles", i))
            if p.id in seen:
                errors.append(InputError(f"duplicate step principle id {p.id!r} (first defined at {seen[p.id]})", where=doc.where(("principles", i, "id"))))
            seen.setdefault(p.id, where)
            name = p.template or s.template
            if name not in templates:
                loc = ("principles", i, "template") if p.template else ("template",)
                errors.append(InputError(f"no template {name!r} (known: {sorted(templates)})", where=doc.where(loc)))
                continue
            if p.good_answer not in s.options:
                errors.append(InputError(f"good_answer {p.good_answer!r} is not one of the options {list(s.options)}", where=doc.where(("principles", i, "good_answer"))))
                continue
            template = templates[name]
            principles.append(ResolvedStepPrinciple(
                id=p.id, text=p.text, options=s.options, good_answer=p.good_answer, weight=p.weight, template=template,
                hash=content_hash(p.id, p.text, list(s.options), p.good_answer), where=where,
            ))  # fmt: skip
    if not errors and not any(p.weight > 0 for p in principles):
        errors.append(InputError("every step principle has weight 0", where=str(files[0])))
    for p in principles:
        try:
            step_prompt(p, _SAMPLE, 1, "ba")
        except InputError as exc:
            errors.append(InputError(f"step principle {p.id}: {exc}", where=p.where))
    if errors:
        raise InputErrors(errors)
    return StepPrinciples(principles=tuple(principles), files=tuple(str(f) for f in files))
