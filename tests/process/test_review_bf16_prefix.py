"""Review of issue 34 item 1 under bf16 (the default on GPUs with bf16): a step's score depends on its prefix alone.

Each window ran at a width set by its own length (:func:`constitution.batching.bucket_width`), so appending a step
to a trace changed the forward shape of the window its earlier steps are read in, and with it the bf16 kernels'
reduction order: earlier scores moved by ~1e-3 (measured on the AMX Xeon), where fp32 keeps them to 1e-7."""

from __future__ import annotations

import torch


def test_appending_steps_leaves_earlier_scores_unchanged_under_bf16():
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from constitution.embedded_models import resolve_model
    from constitution.reward.process.encoding import marker_id
    from constitution.reward.process.model import ProcessMetadata, ProcessRewardModel

    torch.manual_seed(0)
    folder = resolve_model("smollm2-135m-instruct")  # the default causal backbone; an untrained head will do
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForTokenClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32)
    meta = ProcessMetadata(base_model="smollm2-135m-instruct", max_length=64, marker_token_id=marker_id(tokenizer))
    prm = ProcessRewardModel(model, tokenizer, meta, bf16=True)  # forced: bf16 is the default on GPUs only
    steps = [f"x{k} = {k * 7} + {k * 3} = {k * 10}" for k in range(24)]  # 24 steps: past max_length, in windows
    scored = [prm.scored([("Compute the chain.", steps[:n])])[0] for n in (3, 6, 24)]
    assert scored[-1].truncated_steps > 0
    for longer in scored[1:]:
        assert longer.scores[:3] == scored[0].scores  # bit for bit, as in fp32 up to rounding
    assert scored[-1].scores[:6] == scored[1].scores
