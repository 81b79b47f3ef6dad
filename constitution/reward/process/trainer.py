"""Process reward training on ``transformers.Trainer``: a token-classification head (one logit) read at the end of
each step (:mod:`.encoding`), trained with binary cross-entropy on soft step labels (P(step good)).

A plain Trainer, so ``accelerate launch`` runs it unchanged; LoRA (peft, ``TOKEN_CLS``) as for the scalar model,
merged on save. The folder (model, tokenizer, ``constitution_process.json``, a README model card) is written beside
``out`` and swapped in with one rename.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field
from transformers import Trainer

from constitution.atomic import recover_dir, replace_dir
from constitution.data.pairs import split_by_prompt
from constitution.data.steps import StepTrace
from constitution.devices import bf16_supported
from constitution.errors import InputError
from constitution.embedded_models import resolve_model
from constitution.reward.inputs import prepare_tokenizer
from constitution.reward.process.config import ProcessTrainingConfig
from constitution.reward.process.encoding import IGNORE, StepCollator, encode_traces, marker_id, prompt_text
from constitution.reward.process.metrics import process_metrics
from constitution.reward.process.model import PROCESS_FILE, ProcessMetadata, ProcessRewardModel, write_process_metadata


class ProcessTrainer(Trainer):
    """A Trainer whose loss is BCE at the step ends (every other position is ignored)."""

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        labels = inputs.pop("labels")
        logits = model(**inputs).logits[..., 0].float()
        mask = labels != IGNORE
        loss = F.binary_cross_entropy_with_logits(logits[mask], labels[mask])
        return (loss, {"logits": logits}) if return_outputs else loss


class ProcessTrainResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out_dir: str
    train_traces: int
    train_steps_truncated: int = Field(description="steps trained in a truncated window (without their whole prefix)")
    train_traces_unlabelled: int = Field(description="traces without step labels: not trained on")
    eval_traces: int
    eval_traces_unlabelled: int = Field(0, description="held-out traces without step labels: left out of the metrics")
    train_runtime_s: float
    eval_metrics: dict[str, float]


def _dataset(tokenizer, traces: Sequence[StepTrace], config: ProcessTrainingConfig, marker: int):
    """One row per window (:mod:`.encoding`): its token ids, the positions read for its steps and their labels;
    with the number of steps trained in a truncated window."""
    import datasets

    encoded = encode_traces(tokenizer, [prompt_text(t.prompt) for t in traces], [t.completions for t in traces], config.max_length, marker)
    rows: dict[str, list] = {"input_ids": [], "positions": [], "labels": []}
    for trace, enc in zip(traces, encoded):
        labels = trace.soft_labels() or []
        if config.hard_labels:
            labels = [y if y == 0.5 else float(y > 0.5) for y in labels]
        for window in enc.windows:
            rows["input_ids"].append(window.ids)
            rows["positions"].append([pos for _, pos in window.steps])
            rows["labels"].append([labels[k] for k, _ in window.steps])
    return datasets.Dataset.from_dict(rows), sum(e.truncated_steps for e in encoded)


def _backbone(config: ProcessTrainingConfig):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    folder = resolve_model(config.base_model)
    tokenizer = prepare_tokenizer(AutoTokenizer.from_pretrained(folder), config.max_length)
    model = AutoModelForTokenClassification.from_pretrained(folder, num_labels=1, dtype=torch.float32)
    model.config.pad_token_id = tokenizer.pad_token_id
    if config.freeze_embeddings:
        model.get_input_embeddings().requires_grad_(False)
    if config.freeze_layers:
        n = model.config.num_hidden_layers
        stacks = [m for m in model.base_model.modules() if isinstance(m, torch.nn.ModuleList) and len(m) == n]
        for layer in stacks[0][: config.freeze_layers] if stacks else []:
            layer.requires_grad_(False)
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0
    if config.lora:
        from peft import LoraConfig, TaskType, get_peft_model

        lora = config.lora
        model = get_peft_model(model, LoraConfig(
            task_type=TaskType.TOKEN_CLS, r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
            exclude_modules=["classifier", "score"],  # the head is trained whole (TOKEN_CLS saves it), not adapted
        ))  # fmt: skip
    return model, tokenizer


def _arguments(config: ProcessTrainingConfig, scratch: Path):
    from transformers import TrainingArguments

    cuda = torch.cuda.is_available()
    bf16 = bf16_supported(torch.device("cuda" if cuda else "cpu")) if config.bf16 is None else config.bf16
    return TrainingArguments(
        output_dir=str(scratch), num_train_epochs=config.epochs, per_device_train_batch_size=config.batch_size,
        learning_rate=config.learning_rate, weight_decay=config.weight_decay, warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.lr_scheduler, save_strategy="no", eval_strategy="no", label_names=["labels"],
        remove_unused_columns=False, bf16=bf16, use_cpu=not cuda, seed=config.seed, data_seed=config.seed,
        logging_steps=config.logging_steps, report_to=[], dataloader_pin_memory=cuda,
    )  # fmt: skip


def _split(traces: list[StepTrace], fraction: float, seed: int) -> tuple[list[StepTrace], list[StepTrace]]:
    """The held-out traces, by prompt (a prompt's traces never straddle the split: :func:`split_by_prompt`)."""
    if fraction <= 0 or len(traces) < 10:
        return traces, []
    n_train = len(traces) - max(1, round(fraction * len(traces)))
    return split_by_prompt(traces, n_train, seed, lambda t: t.prompt if isinstance(t.prompt, str) else [m.model_dump() for m in t.prompt])


def train_process_model(
    config: ProcessTrainingConfig,
    traces: Sequence[StepTrace],
    out_dir: str | Path,
    *,
    eval_traces: Sequence[StepTrace] | None = None,
    train_data: str = "",
    step_principles_hash: Sequence[str] = (),
) -> ProcessTrainResult:
    """Train on labelled traces, measure held-out step accuracy and first-error F1, save the folder atomically."""
    from transformers import set_seed

    set_seed(config.seed)
    out = Path(out_dir).resolve()
    if out.exists() and not (out / PROCESS_FILE).exists() and any(out.iterdir()):
        raise InputError("exists and is not a process reward model folder; it would be replaced, pick another --out", where=str(out))
    labelled = [t for t in traces if t.labels is not None]
    if not labelled:
        raise InputError("no traces with step labels", where=train_data or None)
    train, held = (labelled, list(eval_traces)) if eval_traces is not None else _split(labelled, config.eval_fraction, config.seed)
    held_unlabelled = sum(t.labels is None for t in held)
    held = [t for t in held if t.labels is not None]  # an unlabelled trace has no first error to find
    recover_dir(out)
    staged = out.with_name(f".{out.name}.saving")
    model, tokenizer = _backbone(config)
    marker = marker_id(tokenizer)
    dataset, truncated = _dataset(tokenizer, train, config, marker)
    trainer = ProcessTrainer(
        model=model, args=_arguments(config, staged / "trainer"), train_dataset=dataset,
        data_collator=StepCollator(tokenizer.pad_token_id),
    )  # fmt: skip
    stats = trainer.train().metrics
    final = trainer.accelerator.unwrap_model(trainer.model)
    if config.lora:
        final = final.merge_and_unload()
    meta = ProcessMetadata(
        base_model=config.base_model, architecture=type(final).__name__, max_length=config.max_length, marker_token_id=marker,
        separator=config.separator, aggregate=config.aggregate, threshold=config.threshold, train_data=train_data,
        train_traces=len(train), train_steps=sum(len(t.completions) for t in train), train_steps_truncated=truncated,
        train_traces_unlabelled=len(traces) - len(labelled), step_principles_hash=list(step_principles_hash),
        training_config=config.model_dump(),
    )  # fmt: skip
    if held:
        scorer = ProcessRewardModel(final, tokenizer, meta)
        scores = scorer.step_scores([(t.prompt, t.completions) for t in held], config.batch_size)
        meta.eval_metrics = process_metrics(scores, [t.soft_labels() or [] for t in held], config.threshold)
    if trainer.is_world_process_zero():
        _save(final, tokenizer, meta, staged, out)
    trainer.accelerator.wait_for_everyone()
    return ProcessTrainResult(
        out_dir=str(out_dir), train_traces=len(train), train_steps_truncated=truncated,
        train_traces_unlabelled=meta.train_traces_unlabelled, eval_traces=len(held), eval_traces_unlabelled=held_unlabelled,
        train_runtime_s=float(stats.get("train_runtime", 0.0)), eval_metrics=meta.eval_metrics,
    )  # fmt: skip


def _save(model, tokenizer, meta: ProcessMetadata, staged: Path, out: Path) -> None:
    """Model, tokenizer, metadata and model card into ``staged``, then swapped in at ``out``."""
    import shutil

    shutil.rmtree(staged / "trainer", ignore_errors=True)
    staged.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(staged)
    tokenizer.save_pretrained(staged)
    write_process_metadata(staged, meta)
    (staged / "README.md").write_text(
        f"# Process reward model\n\nBase: `{meta.base_model}`; trained with `constitution train --kind process` on "
        f"{meta.train_traces} traces ({meta.train_steps} steps) of soft step labels.\n\n"
        f"Input: `START prompt M step M step M …` (START: [CLS] or BOS) with marker token id M = {meta.marker_token_id} after each step, "
        f"read in left-truncated windows of {meta.max_length} tokens past that length; "
        f"`AutoModelForTokenClassification` (one label) gives each step's logit at its last token, P(step good) = sigmoid(logit). A trace's score is the `{meta.aggregate}` of its step "
        f"scores; a step below {meta.threshold} is an error. Metadata in `{PROCESS_FILE}`; held-out metrics:\n\n"
        f"```json\n{json.dumps(meta.eval_metrics, indent=2)}\n```\n"
    )
    replace_dir(staged, out)
