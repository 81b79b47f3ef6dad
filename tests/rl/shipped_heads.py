"""A per-principle reward model of the shipped constitution (24 heads) made without training, and GRPO-like batches
for the scripted judge (tests/helpers/scripted_judge.py: it prefers the response with "short" in it, or "kind" for a
principle that asks about kindness)."""

from __future__ import annotations

from pathlib import Path

ANSWERS = ["A short kind answer.", "A short answer, thanks.", "A long rambling answer that goes on.", "Another long answer."]


def shipped_folder(folder: Path, scale: float = 30.0) -> Path:
    """MiniLM with one seeded head per principle of the shipped constitution (their ids, order and weights), scaled
    by ``scale`` so the heads differ clearly; identity head covariance, zero head means."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.embedded_models import BACKBONE_ALIAS, resolve_model
    from constitution.loader import load_constitution
    from constitution.resources import default_principles
    from constitution.reward.metadata import HeadInfo, RewardMetadata, write_metadata
    from constitution.reward.temperature import apply_temperature

    principles = load_constitution(default_principles()).principles
    torch.manual_seed(0)
    src = resolve_model(BACKBONE_ALIAS)
    ids = [p.id for p in principles]
    model = AutoModelForSequenceClassification.from_pretrained(src, id2label=dict(enumerate(ids)), label2id={h: i for i, h in enumerate(ids)})
    apply_temperature(model, [1.0 / scale] * len(ids))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    k = len(ids)
    write_metadata(folder, RewardMetadata(
        base_model=BACKBONE_ALIAS, max_length=48, heads=ids, head_info={p.id: HeadInfo(weight=p.weight) for p in principles},
        head_mean=[0.0] * k, head_cov=[[float(i == j) for j in range(k)] for i in range(k)],
    ))  # fmt: skip
    return folder


def answers_batch(prompts: int) -> tuple[list[str], list[str]]:
    """``prompts`` groups of the four :data:`ANSWERS` (one GRPO batch)."""
    questions = [f"Question number {i}?" for i in range(prompts)]
    return [q for q in questions for _ in ANSWERS], [a for _ in questions for a in ANSWERS]
