"""What the diff tests share: a judge whose answers the test controls, pairs made of known words, and a principles
folder written from (id, question, weight) rows."""

from __future__ import annotations

import math
import re
from itertools import product
from pathlib import Path

from constitution.data import Message, Pair
from constitution.llm.base import OptionResult

SLOTS = re.compile(r"\(A\) (.*?)\n\n\(B\) (.*?)\n\nQuestion: (.*?)\n", re.S)
QUESTION = re.compile(r"Which response is (more|less) (\w+)")
WORDS = ("kind", "short", "polite")


class WordJudge:
    """Scripted: to "Which response is more WORD…?" it prefers the response containing WORD, to "less WORD…?" the
    one without it (by ``margin`` nats), and adds ``bias`` nats to slot (B). It records every prompt it scores."""

    name = identity = "word-judge"
    tokenizer = None
    max_model_len = None

    def __init__(self, margin: float = 2.0, bias: float = 0.5) -> None:
        self.margin, self.bias = margin, bias
        self.scored: list[str] = []

    def score_options(self, requests):
        for request in requests:
            a, b, question = SLOTS.search(request.text).groups()
            direction, word = QUESTION.search(question).groups()
            has_a, has_b = word in a.split(), word in b.split()
            if direction == "less":
                has_a, has_b = not has_a, not has_b
            la, lb = self.margin * has_a, self.margin * has_b + self.bias
            z = math.log(math.exp(la) + math.exp(lb))
            self.scored.append(request.text)
            yield OptionResult(request.key, (la - z, lb - z))

    def close(self) -> None:
        pass


def word_pairs() -> list[Pair]:
    """Every pair of different word sets (from WORDS) as responses: 56 pairs."""
    sets = [[w for w, on in zip(WORDS, bits) if on] for bits in product([0, 1], repeat=len(WORDS))]
    pairs = []
    for a, b in product(sets, sets):
        if a != b:
            pairs.append(Pair(id=f"{'+'.join(a) or '-'}|{'+'.join(b) or '-'}", prompt=[Message(role="user", content="Say something.")],
                              response_a=" ".join(["reply", *a]), response_b=" ".join(["reply", *b])))  # fmt: skip
    return pairs


def write_principles(folder: Path, rows: list[tuple[str, str, float]], rule: str = "all") -> Path:
    """A one-set constitution of (id, question, weight) rows, every principle asked by default."""
    folder.mkdir(parents=True, exist_ok=True)
    body = "".join(f"  - id: {pid}\n    text: {text}\n    weight: {weight}\n" for pid, text, weight in rows)
    (folder / "set.yaml").write_text(f"kind: principle_set\nid: s\nprinciples:\n{body}")
    (folder / "constitution.yaml").write_text(f"kind: constitution\nid: c\nsets:\n  - id: s\nsampling: {{rule: {rule}, k: 2}}\n")
    return folder
