"""Synthetic per-principle labels with known structure, and a constitution over them (no judge, no hub).

Each response is built from three independent features; each principle prefers one of them:

* ``polite``: polite wording ("Thank you for asking! ...") over curt wording ("Obviously, ...");
* ``cites``: a response that ends with a source URL over one that does not;
* ``concise``: the short version of the answer over the long, rambling one.

A pair's label for a principle is ``soft`` (or ``1 - soft``) where the two responses differ in its feature and 0.5
where they do not; ``p_a`` is their weighted mean under the constitution's weights, as the labeler ensembles them.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

PRINCIPLES = ("polite", "cites", "concise")
TRAIN_WEIGHTS = {"polite": 1.0, "cites": 1.0, "concise": 3.0}  # the constitution the test models are trained with
TEXTS = {
    "polite": "Which response is more polite?",
    "cites": "Which response cites a source?",
    "concise": "Which response is shorter?",
}
TOPICS = [
    ("How do I boil an egg?", "Boil it for eight minutes", "cook it in water"),
    ("What is the capital of France?", "Paris is the capital", "the city is Paris"),
    ("How tall is Mount Everest?", "It is about 8849 metres", "the height is 8849 m"),
    ("When did the Berlin wall fall?", "It fell in 1989", "that was in November 1989"),
    ("How do plants make food?", "They use photosynthesis", "sunlight becomes sugar"),
    ("What is the boiling point of water?", "It boils at 100 degrees", "water boils at 100 C"),
    ("Who wrote Hamlet?", "Shakespeare wrote it", "William Shakespeare did"),
    ("How many legs does a spider have?", "A spider has eight legs", "eight legs in total"),
]
POLITE = ["Thank you for asking! ", "Great question, happy to help. ", "Thanks so much for your question. "]
CURT = ["Obviously, ", "Ugh, fine. ", "Whatever. "]
PADDING = " Also, there is much more to say about this, and many people have written at length about it over the years, so keep reading."
URLS = [" Source: https://en.wikipedia.org/wiki/Topic", " See https://www.britannica.com/facts for details.", " (ref: https://example.org/answer)"]


def response(rng: random.Random, topic: tuple[str, str, str], polite: bool, cites: bool, concise: bool) -> str:
    """One response with the given features."""
    core = rng.choice(topic[1:])
    text = rng.choice(POLITE if polite else CURT) + core + "."
    if not concise:
        text += PADDING
    if cites:
        text += rng.choice(URLS)
    return text


def principle_rows(
    n: int,
    seed: int,
    weights: dict[str, float],
    *,
    soft: float = 0.9,
    judged: int = 3,
    features: tuple[dict[str, bool], dict[str, bool]] | None = None,
) -> list[dict]:
    """AI-feedback-like rows {id, prompt, response_a, response_b, p_a, per_principle}; ``judged`` principles (of 3)
    judge each pair, chosen at random (as the constitution's ``k`` sampling rule does); ``features`` fixes the two
    responses' features (else they are drawn at random)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic = rng.choice(TOPICS)
        fa, fb = features or ({p: rng.random() < 0.5 for p in PRINCIPLES}, {p: rng.random() < 0.5 for p in PRINCIPLES})
        labels = {p: 0.5 if fa[p] == fb[p] else (soft if fa[p] else 1.0 - soft) for p in PRINCIPLES}
        asked = sorted(rng.sample(PRINCIPLES, judged), key=PRINCIPLES.index)
        per_principle = {p: labels[p] for p in asked}
        total = sum(weights[p] for p in asked)
        p_a = sum(weights[p] * per_principle[p] for p in asked) / total if total else 0.5
        rows.append(
            {
                "id": f"h{seed}-{i}",
                "prompt": topic[0],
                "response_a": response(rng, topic, **fa),
                "response_b": response(rng, topic, **fb),
                "p_a": p_a,
                "per_principle": per_principle,
                "features_a": fa,
                "features_b": fb,
            }
        )
    return rows


def write_principle_jsonl(rows: list[dict], path: Path) -> Path:
    """The rows as JSONL (without the test-only ``features_*`` keys)."""
    path.write_text("".join(json.dumps({k: v for k, v in r.items() if not k.startswith("features")}) + "\n" for r in rows))
    return path


def write_constitution(folder: Path, weights: dict[str, float]) -> Path:
    """A principles folder: one set with the principles named in ``weights`` (ours in PRINCIPLES order, then any
    others), and a constitution file that uses it."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["kind: principle_set", "id: style", "principles:"]
    for pid in sorted(weights, key=lambda p: PRINCIPLES.index(p) if p in PRINCIPLES else len(PRINCIPLES)):
        text = TEXTS.get(pid, f"Which response is more {pid}?")
        lines += [f"  - id: {pid}", f"    text: {text}", f"    weight: {weights[pid]}"]
    (folder / "style.yaml").write_text("\n".join(lines) + "\n")
    (folder / "constitution.yaml").write_text("kind: constitution\nid: test\nsets:\n  - id: style\nsampling: {rule: all}\n")
    return folder
