"""Judge prompts: Jinja2 templates rendered in a sandbox, then wrapped in the judge's chat template.

Templates may come from other people (a ``templates/`` folder beside the principles, or inline in a set file), so
every template, ours included, runs in ``jinja2.sandbox.ImmutableSandboxedEnvironment`` with ``StrictUndefined``:
reaching Python internals (``{{ ''.__class__.__mro__ }}``), changing what it was given (``{{ xs.append(1) }}``) or
an undefined variable is an error that names the template.
A template declares its own answer format with top-level ``{% set %}``: ``answer_prefix`` (text after which the
option tokens are scored), ``options`` (one token each) and, for chain-of-thought, ``rationale_prefix``. The
critique and revision templates of ``constitution revise`` declare ``generation_prefix`` (text after the opened
assistant turn from which the model writes; default none).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Literal, TypeVar

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from pydantic import BaseModel, ConfigDict

from constitution.data.dialogue import format_dialogue
from constitution.data.records import Message, Pair
from constitution.errors import InputError, InputErrors
from constitution.principles import Constitution, ResolvedPrinciple, TemplateSource

Order = Literal["ab", "ba"]
T = TypeVar("T")


class RenderedTemplate(BaseModel):
    """A template's rendered body and the answer format it declares."""

    model_config = ConfigDict(frozen=True)

    body: str
    answer_prefix: str
    options: tuple[str, ...]
    rationale_prefix: str | None = None


class JudgePrompt(BaseModel):
    """One prompt for the judge: the full text (chat template applied) up to where the options are scored."""

    model_config = ConfigDict(frozen=True)

    text: str
    options: tuple[str, ...]
    principle_id: str | None
    order: Order = "ab"
    template_hash: str
    rationale_prompt: str | None = None
    answer_prefix: str = ""

    def with_rationale(self, rationale: str) -> str:
        """Chain-of-thought: the scoring text once the judge's rationale is known."""
        if self.rationale_prompt is None:
            raise ValueError("not a chain-of-thought prompt")
        return self.rationale_prompt + rationale.rstrip() + self.answer_prefix


_ENV = ImmutableSandboxedEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=False)


@lru_cache(maxsize=256)
def _compile(source: str, origin: str):
    try:
        return _ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise InputError(f"template syntax error: {exc.message}", where=_where(origin, exc.lineno)) from exc


def _where(origin: str, lineno: int | None) -> str:
    """A .j2 file's own line; an inline template's line is counted from its YAML key."""
    if lineno is None:
        return origin
    if origin.endswith(".j2"):
        return f"{origin}:{lineno}"
    file, _, line = origin.rpartition(":")
    return f"{file}:{int(line) + lineno}" if line.isdigit() else origin


def _render(template: TemplateSource, variables: dict[str, Any], read: Callable[[Any], T]) -> T:
    """Render one template, sandboxed, and ``read`` what it declares from the rendered module; sandbox violations
    and undefined names raise InputError naming the template."""
    compiled = _compile(template.source, template.origin)
    try:
        return read(compiled.make_module(variables))
    except SecurityError as exc:
        raise InputError(f"template {template.name!r} is not allowed to do this (sandbox): {exc}", where=template.origin) from exc
    except UndefinedError as exc:
        raise InputError(f"template {template.name!r}: {exc.message}", where=template.origin) from exc
    except TypeError as exc:  # e.g. calling something that is not callable
        raise InputError(f"template {template.name!r}: {exc}", where=template.origin) from exc


def render_text(template: TemplateSource, variables: dict[str, Any]) -> str:
    """Render a template to plain text in the same sandbox (e.g. an audit probe's edited response)."""
    return _render(template, variables, str)


def render_template(template: TemplateSource, variables: dict[str, Any]) -> RenderedTemplate:
    """Render one judge template, sandboxed; sandbox violations and undefined names raise InputError."""
    body, options, prefix, rationale = _render(
        template,
        variables,
        lambda module: (
            str(module).strip(),
            tuple(str(o) for o in getattr(module, "options", ("A", "B"))),
            str(getattr(module, "answer_prefix", "The answer is: (")),
            getattr(module, "rationale_prefix", None),
        ),
    )
    if len(options) < 2:
        raise InputError(f"template {template.name!r}: `options` must list at least two answers", where=template.origin)
    return RenderedTemplate(body=body, answer_prefix=prefix, options=options, rationale_prefix=rationale)


def chat_text(body: str, tokenizer: Any | None, assistant_prefix: str) -> str:
    """The judge's input: the chat template for instruct models (user turn + generation prompt), raw text otherwise."""
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        head = tokenizer.apply_chat_template(
            [{"role": "user", "content": body}], tokenize=False, add_generation_prompt=True
        )
        return head + assistant_prefix
    return f"{body}\n\n{assistant_prefix}"


def conversation_text(messages: list[Message]) -> str:
    """The conversation as the judge reads it (``Human: …`` / ``Assistant: …`` turns)."""
    return format_dialogue(messages).strip()


def comparison_variables(principle: ResolvedPrinciple, pair: Pair, order: Order) -> dict[str, Any]:
    """Template variables for one comparison; ``order="ba"`` shows response B in slot (A)."""
    a, b = (pair.response_a, pair.response_b) if order == "ab" else (pair.response_b, pair.response_a)
    return {
        "conversation": conversation_text(pair.prompt),
        "response_a": a,
        "response_b": b,
        "principle": principle.text,
        "principle_id": principle.id,
        "examples": principle.example_messages(),
    }


def _to_prompt(template: TemplateSource, rendered: RenderedTemplate, tokenizer: Any | None, principle_id: str | None, order: Order) -> JudgePrompt:
    if rendered.rationale_prefix is not None:
        rationale_prompt = chat_text(rendered.body, tokenizer, rendered.rationale_prefix)
        return JudgePrompt(
            text=rationale_prompt,
            options=rendered.options,
            principle_id=principle_id,
            order=order,
            template_hash=template.hash,
            rationale_prompt=rationale_prompt,
            answer_prefix=rendered.answer_prefix,
        )
    return JudgePrompt(
        text=chat_text(rendered.body, tokenizer, rendered.answer_prefix),
        options=rendered.options,
        principle_id=principle_id,
        order=order,
        template_hash=template.hash,
        answer_prefix=rendered.answer_prefix,
    )


def comparison_prompt(
    constitution: Constitution,
    principle: ResolvedPrinciple,
    pair: Pair,
    order: Order = "ab",
    tokenizer: Any | None = None,
    kind: Literal["comparison", "cot"] = "comparison",
) -> JudgePrompt:
    """The judge prompt comparing a pair under one principle, in one order."""
    template = constitution.templates[constitution.template_name(principle, kind)]
    rendered = render_template(template, comparison_variables(principle, pair, order))
    return _to_prompt(template, rendered, tokenizer, principle.id, order)


def safety_prompt(
    constitution: Constitution,
    conversation: list[Message],
    response: str,
    tokenizer: Any | None = None,
    category_id: str | None = None,
) -> JudgePrompt:
    """Llama-Guard-style check of one response against the constitution's safety policy (or one category)."""
    policy = constitution.safety_policy
    if policy is None:
        raise InputError("the constitution has no safety_policy")
    category = None
    if category_id is not None:
        category = next((c for c in policy.categories if c.id == category_id), None)
        if category is None:
            raise InputError(f"no safety category {category_id!r}")
    template = constitution.templates[constitution.choice.safety]
    variables = {
        "policy_description": policy.description,
        "categories": [c.model_dump() for c in policy.categories],
        "category": category.model_dump() if category else None,
        "conversation": conversation_text(conversation),
        "response": response,
    }
    return _to_prompt(template, render_template(template, variables), tokenizer, category_id, "ab")


def revise_variables(
    principle: ResolvedPrinciple, conversation: list[Message], response: str, critique: str | None = None
) -> dict[str, Any]:
    """Template variables for a critique (``critique`` None) or a revision of ``response`` under one principle."""
    variables = {
        "conversation": conversation_text(conversation),
        "response": response,
        "principle": principle.text,
        "principle_id": principle.id,
        "critique_request": principle.critique,
        "revision_request": principle.revision,
    }
    if critique is not None:
        variables["critique"] = critique
    return variables


def _generation_text(template: TemplateSource, variables: dict[str, Any], tokenizer: Any | None) -> str:
    body, prefix = _render(template, variables, lambda m: (str(m).strip(), str(getattr(m, "generation_prefix", ""))))
    return chat_text(body, tokenizer, prefix)


def critique_prompt(
    constitution: Constitution, principle: ResolvedPrinciple, conversation: list[Message], response: str, tokenizer: Any | None = None
) -> str:
    """The model's input asking it to critique ``response`` by the principle's critique request."""
    template = constitution.templates[constitution.choice.critique]
    return _generation_text(template, revise_variables(principle, conversation, response), tokenizer)


def revision_prompt(
    constitution: Constitution,
    principle: ResolvedPrinciple,
    conversation: list[Message],
    response: str,
    critique: str,
    tokenizer: Any | None = None,
) -> str:
    """The model's input asking it to rewrite ``response`` after its ``critique``, by the principle's revision request."""
    template = constitution.templates[constitution.choice.revision]
    return _generation_text(template, revise_variables(principle, conversation, response, critique), tokenizer)


_SAMPLE_PAIR = Pair(
    id="check",
    prompt=[Message(role="user", content="How do I boil an egg?")],
    response_a="Put it in boiling water for eight minutes.",
    response_b="I can't help with that.",
)


def check_templates(constitution: Constitution) -> None:
    """Compile and trial-render every template the constitution uses; raise InputErrors naming each bad one."""
    errors: list[InputError] = []
    checks: list[tuple[str, Any]] = []
    sample = (_SAMPLE_PAIR.prompt, _SAMPLE_PAIR.response_b)
    for principle in constitution.principles:
        checks.append((f"principle {principle.id}", lambda p=principle: comparison_prompt(constitution, p, _SAMPLE_PAIR)))
        checks.append((f"critique {principle.id}", lambda p=principle: critique_prompt(constitution, p, *sample)))
        checks.append((f"revision {principle.id}", lambda p=principle: revision_prompt(constitution, p, *sample, "Too curt.")))
    if constitution.principles:
        first = constitution.principles[0]
        checks.append(("cot", lambda: comparison_prompt(constitution, first, _SAMPLE_PAIR, kind="cot")))
    if constitution.safety_policy is not None:
        checks.append(("safety", lambda: safety_prompt(constitution, _SAMPLE_PAIR.prompt, _SAMPLE_PAIR.response_a)))
    for template in constitution.templates.values():
        if not template.trusted:
            checks.append((template.name, lambda t=template: _compile(t.source, t.origin)))
    seen: set[str] = set()
    for _, check in checks:
        try:
            check()
        except InputError as exc:
            if str(exc) not in seen:
                seen.add(str(exc))
                errors.append(exc)
    if errors:
        raise InputErrors(errors)
