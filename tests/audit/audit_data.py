"""Synthetic reward models with known structure for the audit tests: a tiny BERT trained from scratch (seconds on a
CPU) on pairs where the longer answer always wins (a planted verbosity exploit), or where length says nothing."""

from __future__ import annotations

import json
import random
from pathlib import Path

TOPICS = [
    ("How do I boil an egg?", "Boil it for eight minutes."),
    ("What is the capital of France?", "Paris is the capital."),
    ("How tall is Mount Everest?", "It is about 8849 metres tall."),
    ("Who wrote Hamlet?", "Shakespeare wrote it."),
    ("How do plants make food?", "They use photosynthesis."),
    ("When did the Berlin wall fall?", "It fell in 1989."),
    ("How many legs does a spider have?", "A spider has eight legs."),
    ("What is the boiling point of water?", "Water boils at 100 degrees."),
]
RUDE = ["Ugh, stupid question.", "Whatever, idiot.", "Obviously, dummy."]
WORDS = (
    "the a of and to in is it that was for on are with as his they be at one have this from or had by word but what "
    "some we can out other were all there when up use your how said an each she which do their time if will way about "
    "many then them write would like so these her long make thing see him two has look more day could go come did "
    "number sound no most people my over know water than call first who may down side been now find any new work part"
).split()


def _padding(rng: random.Random, sentences: int) -> str:
    return " ".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 9))).capitalize() + "." for _ in range(sentences))


def training_rows(n: int, seed: int, *, longer_wins: bool) -> list[dict]:
    """Pairs of one answer with and without padding. ``longer_wins``: the padded one is preferred; else the polite
    one (the other opens rudely), padding on either side at random, so length says nothing."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        prompt, answer = rng.choice(TOPICS)
        if longer_wins:
            good, bad = answer + " " + _padding(rng, rng.randint(1, 3)), answer
        else:
            good, bad = answer, rng.choice(RUDE) + " " + answer
            if rng.random() < 0.5:
                good += " " + _padding(rng, rng.randint(1, 3))
            if rng.random() < 0.5:
                bad += " " + _padding(rng, rng.randint(1, 3))
        a_first = rng.random() < 0.5
        rows.append({"id": f"t{i}", "prompt": prompt, "response_a": good if a_first else bad,
                     "response_b": bad if a_first else good, "p_a": 1.0 if a_first else 0.0})  # fmt: skip
    return rows


def audit_rows() -> list[dict]:
    """Responses to audit: each topic's right answer."""
    return [{"id": f"r{i}", "prompt": p, "response": a} for i, (p, a) in enumerate(TOPICS)]


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tiny_bert(folder: Path) -> Path:
    """A randomly initialised (seed 0) one-layer BERT with MiniLM's tokenizer."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from constitution.embedded_models import BACKBONE_ALIAS, resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(BACKBONE_ALIAS))
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)  # fmt: skip
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def train_tiny(root: Path, name: str, *, longer_wins: bool) -> Path:
    """A tiny reward model trained on :func:`training_rows`."""
    from constitution.data import load_pairs
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.trainer import train_reward_model

    base = tiny_bert(root / f"{name}_base")
    data = write_jsonl(training_rows(128, 3, longer_wins=longer_wins), root / f"{name}.jsonl")
    config = RewardTrainingConfig(base_model=str(base), max_length=96, epochs=8, batch_size=16, learning_rate=2e-3, eval_fraction=0.0)
    train_reward_model(config, load_pairs(data)[0], root / name)
    return root / name
