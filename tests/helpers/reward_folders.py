"""Small real reward folders for service tests, made without training (MiniLM with a seeded head): untrained heads
are fine where the test checks that the service gives what the library gives."""

from __future__ import annotations

from pathlib import Path

PRINCIPLES = ["polite", "cites", "concise"]


def headed_folder(folder: Path, scale: float = 30.0) -> Path:
    """A per-principle folder (heads polite, cites, concise; training weights 1, 1, 3) whose seeded head is scaled
    by ``scale`` so that the heads' outputs differ clearly; made-up head statistics (means, covariance)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from constitution.embedded_models import BACKBONE_ALIAS, resolve_model
    from constitution.reward.metadata import HeadInfo, RewardMetadata, write_metadata
    from constitution.reward.temperature import apply_temperature

    torch.manual_seed(0)
    src = resolve_model(BACKBONE_ALIAS)
    model = AutoModelForSequenceClassification.from_pretrained(src, num_labels=len(PRINCIPLES))
    apply_temperature(model, [1.0 / scale] * len(PRINCIPLES))
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(src).save_pretrained(folder)
    write_metadata(folder, RewardMetadata(
        base_model=BACKBONE_ALIAS, max_length=64, heads=PRINCIPLES,
        head_info={h: HeadInfo(weight=w) for h, w in zip(PRINCIPLES, (1.0, 1.0, 3.0))},
        head_mean=[0.1, -0.2, 0.3], head_cov=[[0.5, 0.1, 0.0], [0.1, 0.8, 0.2], [0.0, 0.2, 2.0]],
    ))  # fmt: skip
    return folder


def shifted_folder(source: Path, folder: Path, shift: float) -> Path:
    """A copy of the scalar folder ``source`` whose head's bias is ``shift`` higher: every raw reward is ``shift``
    higher (in fp32), so answers from the two models cannot be mistaken for each other."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(source)
    with torch.no_grad():
        model.classifier.bias += shift
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(source).save_pretrained(folder)
    return folder


def process_folder(folder: Path, *, bias: float = 0.0, aggregate: str = "min") -> Path:
    """A process reward folder (MiniLM token classification with a seeded head, max_length 64) whose step scores
    differ from step to step; ``bias`` is added to the head's logit (two folders told apart by their scores)."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from constitution.embedded_models import BACKBONE_ALIAS, resolve_model
    from constitution.reward.process.encoding import marker_id
    from constitution.reward.process.model import ProcessMetadata, write_process_metadata

    torch.manual_seed(0)
    src = resolve_model(BACKBONE_ALIAS)
    model = AutoModelForTokenClassification.from_pretrained(src, num_labels=1)
    with torch.no_grad():
        model.classifier.weight *= 30.0
        model.classifier.bias += bias
    tokenizer = AutoTokenizer.from_pretrained(src)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    meta = ProcessMetadata(base_model=BACKBONE_ALIAS, max_length=64, marker_token_id=marker_id(tokenizer), aggregate=aggregate)
    write_process_metadata(folder, meta)
    return folder
