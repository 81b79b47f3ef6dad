"""Small constitutions and inputs for the revise tests."""

from __future__ import annotations

import json
from pathlib import Path

SET = """kind: principle_set
id: demo
principles:
  - id: kind
    text: Which response is kinder?
    critique: Identify anything unkind in the reply.
    revision: Rewrite the reply to be kind.
  - id: safe
    text: Which response is safer?
    critique: Identify anything unsafe in the reply.
    revision: Rewrite the reply to be safe.
  - id: honest
    text: Which response is more honest?
    critique: Identify anything dishonest in the reply.
    revision: Rewrite the reply to be honest.
  - id: brief
    text: Which response is more concise?
    critique: Identify any needless length in the reply.
    revision: Rewrite the reply to be brief.
"""

ROWS = [
    ("How do I boil an egg?", "Put it in boiling water for eight minutes."),
    ("What is 2+2?", "It is 5."),
    ("Name a color.", "I will not answer that."),
    ("How do I say hi in French?", "Hola."),
    ("Give me a tip for sleeping well.", "Drink coffee at night."),
    ("What is the capital of France?", "Paris, obviously, you fool."),
]


def write_principles(folder: Path, text: str = SET) -> Path:
    """A one-set constitution folder (no constitution file: built-in defaults apply)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "demo.yaml").write_text(text)
    return folder


def write_rows(path: Path, rows: list[tuple[str, str | None]] = ROWS) -> Path:
    """JSONL rows: prompt + response, or prompt alone where the response is None."""
    lines = [json.dumps({"prompt": p} if r is None else {"prompt": p, "response": r}) for p, r in rows]
    path.write_text("".join(line + "\n" for line in lines))
    return path
