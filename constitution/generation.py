"""Sample response pairs from a policy model: prompts -> ``{id, prompt, response_a, response_b}`` JSONL.

Prompts come from JSONL/JSON/CSV/Parquet (a ``prompt`` column: a string or chat messages; optional ``id``) or a
``.txt`` file (one prompt per line). Each prompt is rendered with the policy's chat template and sampled ``n``
times. ``n == 2`` gives one pair per prompt (id = the prompt id); ``n > 2`` gives **consecutive** pairs
(0,1), (2,3), … so every response is used exactly once and pairs stay independent (an odd last sample is
dropped); ids are ``<prompt id>-<k>``. ``pairing="all"`` gives every one of the n·(n-1)/2 pairs instead.

The output is crash-safe: each prompt's pairs are appended in one write, flushed and fsynced; a rerun skips the
prompts already written and first drops (atomically) a torn last line or a prompt whose pairs were written only in
part.
"""

from __future__ import annotations

import itertools
import json
import os
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from constitution.atomic import atomic_write_lines
from constitution.data.dialogue import as_messages, format_dialogue
from constitution.data.records import Message
from constitution.data.rows import iter_rows
from constitution.errors import InputError
from constitution.hashing import content_hash
from constitution.llm.base import LLM
from constitution.llm.config import LLMConfig, VllmConfig
from constitution.llm.factory import make_llm
from constitution.embedded_models import display_name


class GenerationConfig(BaseModel):
    """Sampling settings for ``constitution generate``."""

    model_config = ConfigDict(extra="forbid")

    policy: LLMConfig = Field(default_factory=VllmConfig, description="the policy model and the backend that runs it")
    n: int = Field(2, ge=2, description="samples per prompt")
    pairing: Literal["consecutive", "all"] = "consecutive"
    max_tokens: int = Field(128, ge=1)
    temperature: float = Field(0.8, ge=0.0)
    seed: int = Field(0, description="a batch starting at prompt k (of those still to do) samples with seed + k")
    batch_size: int = Field(16, ge=1, description="prompts per backend call (written after each call)")


class PromptItem(BaseModel):
    """One prompt to sample from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    messages: list[Message]


class GenerationReport(BaseModel):
    """What a run did."""

    model_config = ConfigDict(extra="forbid")

    out: str
    prompts: int
    skipped_done: int
    generated_prompts: int
    written_pairs: int
    dropped_partial: int = 0


def load_prompts(source: str | Path) -> list[PromptItem]:
    """Prompts from a .txt (one per line) or any tabular file ``data.iter_rows`` reads (a ``prompt`` column).

    Ids: the ``id`` column if present, else a content hash of the messages (so a reordered file resumes right).
    Duplicate ids keep the first occurrence.
    """
    path = Path(source)
    items: list[PromptItem] = []
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise InputError("no such file", where=str(path))
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                messages = [Message(role="user", content=line.strip())]
                items.append(PromptItem(id=prompt_id(messages), messages=messages))
    else:
        for where, row in iter_rows(path):
            if row.get("prompt") in (None, ""):
                raise InputError("missing column 'prompt'", where=where)
            messages = as_messages(row["prompt"], where, "prompt")
            raw_id = row.get("id")
            item_id = str(raw_id) if raw_id not in (None, "") else prompt_id(messages)
            items.append(PromptItem(id=item_id, messages=messages))
    if not items:
        raise InputError("no prompts", where=str(path))
    seen: set[str] = set()
    return [i for i in items if not (i.id in seen or seen.add(i.id))]


def prompt_id(messages: list[Message]) -> str:
    """Stable id of a prompt: ``p-`` + content hash of its messages."""
    return "p-" + content_hash([m.model_dump() for m in messages])


def pair_indices(n: int, pairing: str) -> list[tuple[int, int]]:
    """Which samples are paired: consecutive (0,1),(2,3),… or all combinations."""
    if pairing == "all":
        return list(itertools.combinations(range(n), 2))
    return [(i, i + 1) for i in range(0, n - 1, 2)]


def render_prompt(tokenizer, messages: list[Message]) -> str:  # tokenizer: PreTrainedTokenizerBase
    """The policy's chat template with the generation prompt; HH-style text if the tokenizer has no template."""
    chat = [m.model_dump() for m in messages]
    if getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True)
    return (tokenizer.bos_token or "") + format_dialogue(messages) + "\n\nAssistant:"


def pair_rows(item: PromptItem, samples: list[str], pairing: str, policy: str) -> list[dict]:
    """Output rows for one prompt."""
    indices = pair_indices(len(samples), pairing)
    rows = []
    for k, (i, j) in enumerate(indices):
        rows.append(
            {
                "id": item.id if len(indices) == 1 else f"{item.id}-{k}",
                "prompt_id": item.id,
                "prompt": [m.model_dump() for m in item.messages],
                "response_a": samples[i],
                "response_b": samples[j],
                "policy": policy,
            }
        )
    return rows


def recover_output(out: Path, pairs_per_prompt: int) -> tuple[set[str], int]:
    """Prompt ids fully written in ``out``; rewrites it without a torn last line or partly written prompts."""
    if not out.exists():
        return set(), 0
    raw = out.read_bytes()
    rows: list[dict] = []
    torn = False
    for lineno, line in enumerate(raw.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            rows.append(row)
        except json.JSONDecodeError:
            if raw.endswith(line):  # only the last line may be torn by a crash
                torn = True
                continue
            raise InputError("invalid JSON in an existing output file; not resuming", where=f"{out}:{lineno}")
    counts = Counter(str(r.get("prompt_id", r.get("id"))) for r in rows)
    done = {pid for pid, c in counts.items() if c >= pairs_per_prompt}
    keep = [r for r in rows if str(r.get("prompt_id", r.get("id"))) in done]
    dropped = len(rows) - len(keep)
    if torn or dropped:
        atomic_write_lines(out, (json.dumps(r, ensure_ascii=False) + "\n" for r in keep))
    return done, dropped


def generate_pairs(
    config: GenerationConfig,
    prompts_path: str | Path,
    out: str | Path,
    *,
    backend: LLM | None = None,
) -> GenerationReport:
    """Sample ``config.n`` responses per prompt and append pairs to ``out`` (resuming a previous run)."""
    out = Path(out)
    items = load_prompts(prompts_path)
    per_prompt = len(pair_indices(config.n, config.pairing))
    done, dropped = recover_output(out, per_prompt)
    todo = [i for i in items if i.id not in done]
    report = GenerationReport(
        out=str(out), prompts=len(items), skipped_done=len(items) - len(todo),
        generated_prompts=0, written_pairs=0, dropped_partial=dropped,
    )  # fmt: skip
    if not todo:
        return report
    owned = backend is None
    if backend is None:
        backend = make_llm(config.policy)
    policy = display_name(config.policy.model)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(out, "a", encoding="utf-8") as fh:
            for start in range(0, len(todo), config.batch_size):
                batch = todo[start : start + config.batch_size]
                texts = [render_prompt(backend.tokenizer, i.messages) for i in batch]
                samples = backend.generate(
                    texts, max_tokens=config.max_tokens, temperature=config.temperature, n=config.n,
                    seed=config.seed + start,
                )  # fmt: skip
                for item, responses in zip(batch, samples):
                    rows = pair_rows(item, responses, config.pairing, policy)
                    fh.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
                    fh.flush()
                    os.fsync(fh.fileno())
                    report.generated_prompts += 1
                    report.written_pairs += len(rows)
    finally:
        if owned:
            backend.close()
    return report
