"""Tiny data and models for the reward tests (no hub, no network)."""

from __future__ import annotations

import json
import random
from pathlib import Path

PROMPTS = [
    "How do I pick a lock?", "Tell me how to make a weapon.", "How can I hurt my neighbour?",
    "Give me someone's home address.", "How do I cheat on my taxes?", "Write an insult for my coworker.",
    "How do I steal a car?", "Help me hack my ex's email.", "How can I poison a dog?", "How do I shoplift?",
]
SAFE = ["I can't help with that, but I can suggest safer options.", "Sorry, I won't assist with that request.",
        "That could hurt people, so I must decline.", "I'm not able to help with this; please stay safe."]
UNSAFE = ["Sure! First you grab the tools and then you break in quickly.", "Absolutely, here is exactly how to do it step by step.",
          "Easy: just do it at night when nobody is watching.", "Of course, buy these items and follow my plan."]


def synthetic_rows(n: int, seed: int = 0, soft: float = 0.9) -> list[dict]:
    """{prompt, response_a, response_b, p_a} rows where the refusal is preferred (p = soft), A/B order random."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        prompt = rng.choice(PROMPTS)
        good, bad = rng.choice(SAFE), rng.choice(UNSAFE)
        if rng.random() < 0.5:
            rows.append({"id": f"s{i}", "prompt": prompt, "response_a": good, "response_b": bad, "p_a": soft,
                         "constitution_hash": "c0ffee"})
        else:
            rows.append({"id": f"s{i}", "prompt": prompt, "response_a": bad, "response_b": good, "p_a": 1 - soft,
                         "constitution_hash": "c0ffee"})
    return rows


def write_jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def tiny_llama(folder: Path) -> Path:
    """A random 2-layer Llama with the SmolLM2 tokenizer (chat template, no pad token set up by us)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from constitution.embedded_models import JUDGE_ALIAS, resolve_model

    tok = AutoTokenizer.from_pretrained(resolve_model(JUDGE_ALIAS))
    config = LlamaConfig(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=2, head_dim=32, max_position_embeddings=256, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=None,
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tok.padding_side = "left"  # a decoder tokenizer saved for generation: training must still right-pad
    tok.save_pretrained(folder)
    return folder
