"""Reward training: ours (constitution train) vs TRL's RewardTrainer, like with like, over several seeds.

HH-RLHF harmless human labels, deterministic split (seed 0: 1,800 train via data.split_pairs, the rest test),
MiniLM backbone. What both contenders share:

* the same train pairs: ours runs with ``eval_fraction=0`` and temperature scaling off, so it holds nothing out
  (no best-epoch choice, no calibration) and trains on exactly the pairs TRL trains on;
* the same truncation: TRL gets token ids that ``reward.inputs.encode`` already cut from the left to
  ``--max-length`` (what ours does), so its length filter drops nothing;
* the same number of epochs (``--epochs``), seed, precision (``--bf16``), and no gradient checkpointing (TRL turns
  it on by default; it trades speed for memory and changes no result);
* hyper-parameters: by default each library's own defaults (TRL ``RewardConfig``: lr 1e-4, batch 8, linear
  schedule, no warm-up; ours: ``RewardTrainingConfig``). ``--same-hparams`` gives TRL ours' learning rate, batch
  size, gradient accumulation, schedule, warm-up and weight decay.
* ``--trl-length-grouped`` gives TRL the length-grouped batches ours trains on (transformers'
  ``train_sampling_strategy="group_by_length"`` on a ``length`` column = the longer side of each pair): TRL's
  default draws random batches and pads every row to the batch's longest. With ``--same-hparams`` this is TRL at its
  best on this machine: the same optimisation and the same padding as ours.

Every (seed, contender) trains in its own spawned process (fresh imports, its own peak RSS); the order alternates
per seed (ours first on even seeds, TRL first on odd ones). Both are scored on the same test pairs by the same
evaluator. Writes one JSON file with every run's raw values and a summary (mean ± sd over seeds of test accuracy,
ECE, wall time per epoch and pairs/s; per-seed paired differences).

Full run:  python benchmarks/bench_reward_training.py --train 1800 --seeds 0 1 2 3 4 --epochs 1 --out benchmarks/results
Smoke run: python benchmarks/bench_reward_training.py --train 64 --test 64 --seeds 0 1 --epochs 1 --out /tmp/bench
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, run_isolated, write_results  # noqa: E402


def test_pair_metrics(model, tokenizer, pairs, max_length: int) -> dict:
    from constitution.reward.evaluate import evaluate_pairs
    from constitution.reward.metadata import RewardMetadata
    from constitution.reward.model import RewardModel

    scorer = RewardModel(model, tokenizer, RewardMetadata(base_model="bench", max_length=max_length))
    report = evaluate_pairs(scorer, pairs)
    return {"test_pairs": report.n, "test_accuracy": report.accuracy, "test_ece": report.ece}


def _timing(pairs: int, epochs: float, runtime_s: float) -> dict:
    return {"train_runtime_s": runtime_s, "wall_s_per_epoch": runtime_s / epochs, "train_pairs_per_second": pairs * epochs / runtime_s}


def ours_config(max_length: int, base_model: str, epochs: float, seed: int, bf16: bool | None, overrides: dict) -> dict:
    """Ours' settings: its defaults, the shared ones, nothing held out (so it trains on TRL's pairs), then overrides."""
    from constitution.reward.config import RewardTrainingConfig

    if overrides.get("eval_fraction"):
        sys.exit("--ours may not set eval_fraction: ours would then train on fewer pairs than TRL")
    shared = {"max_length": max_length, "base_model": base_model, "epochs": epochs, "seed": seed, "bf16": bf16}
    return RewardTrainingConfig(**{**shared, "eval_fraction": 0.0, "calibrate_temperature": False, **overrides}).model_dump()


def same_hparams(config: dict) -> dict:
    """TRL ``RewardConfig`` fields that make its optimisation match ours (``--same-hparams``)."""
    return {
        "learning_rate": config["learning_rate"], "per_device_train_batch_size": config["batch_size"],
        "gradient_accumulation_steps": config["gradient_accumulation_steps"], "lr_scheduler_type": config["lr_scheduler"],
        "warmup_steps": config["warmup_ratio"], "weight_decay": config["weight_decay"],
    }  # fmt: skip


def run_trl(data: str, n_train: int, n_test: int | None, max_length: int, epochs: float, out: str, base_model: str,
            seed: int, bf16: bool | None, hparams: dict, length_grouped: bool = False) -> dict:  # fmt: skip
    """TRL RewardTrainer at its defaults (plus ``hparams``, optionally length-grouped batches) on ids left-truncated
    exactly as ours are."""
    import datasets
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from constitution.embedded_models import resolve_model
    from constitution.reward.inputs import build_text, encode
    from constitution.devices import bf16_supported

    if bf16 is None:
        bf16 = bf16_supported(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    train, test = hh_split(Path(data), n_train, n_test)
    path = resolve_model(base_model)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    chosen, rejected = [], []
    for p in train:
        good, bad = (p.response_a, p.response_b) if p.p_a >= 0.5 else (p.response_b, p.response_a)
        chosen.append(build_text(tok, "hh", p.prompt, good))
        rejected.append(build_text(tok, "hh", p.prompt, bad))
    # BERT has no EOS (TRL's add_eos would fail), and TRL drops over-long pairs: hand it ids cut like ours.
    rows = {"chosen_ids": encode(tok, "hh", chosen, max_length), "rejected_ids": encode(tok, "hh", rejected, max_length)}
    if length_grouped:  # the sampler reads `length`; TRL's collator ignores the extra column, so it may stay
        rows["length"] = [max(len(c), len(r)) for c, r in zip(rows["chosen_ids"], rows["rejected_ids"])]
        hparams = {**hparams, "train_sampling_strategy": "group_by_length", "remove_unused_columns": False}
    args = RewardConfig(
        output_dir=out, max_length=max_length, num_train_epochs=epochs, bf16=bf16, gradient_checkpointing=False,
        report_to=[], save_strategy="no", use_cpu=not torch.cuda.is_available(), seed=seed, data_seed=seed, **hparams,
    )  # fmt: skip
    trainer = RewardTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_dict(rows), processing_class=tok)
    runtime = trainer.train().metrics["train_runtime"]
    used = len(trainer.train_dataset)
    return {
        "train_pairs_given": len(train), "train_pairs_used": used, "epochs": epochs, "bf16": bf16,
        "hparams": {k: getattr(args, k) for k in ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
                                                  "lr_scheduler_type", "warmup_steps", "weight_decay", "train_sampling_strategy")},
        **_timing(used, epochs, runtime), **test_pair_metrics(trainer.model, tok, test, max_length),
    }  # fmt: skip


def run_ours(data: str, n_train: int, n_test: int | None, max_length: int, config: dict, out: str) -> dict:
    """constitution's trainer with ``config`` (see ``ours_config``)."""
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.trainer import train_reward_model

    train, test = hh_split(Path(data), n_train, n_test)
    settings = RewardTrainingConfig(**config)
    result = train_reward_model(settings, train, out)
    rm = RewardModel.load(out)
    return {
        "train_pairs_given": len(train), "train_pairs_used": result.train_pairs, "heldout_pairs": result.eval_pairs,
        "epochs": settings.epochs, **_timing(result.train_pairs, settings.epochs, result.train_runtime_s),
        **test_pair_metrics(rm.model, rm.tokenizer, test, max_length),
    }  # fmt: skip


def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def summarize(runs: list[dict]) -> dict:
    """Mean ± sd over seeds per contender, and per-seed paired differences where both ran."""
    keys = ("test_accuracy", "test_ece", "wall_s_per_epoch", "train_pairs_per_second", "peak_rss_mib")
    by = {name: [r for r in runs if r["contender"] == name] for name in ("ours", "trl")}
    summary: dict = {name: {k: _mean_sd([r[k] for r in rs]) for k in keys} for name, rs in by.items() if rs}
    pairs = [(o, t) for o in by["ours"] for t in by["trl"] if o["seed"] == t["seed"]]
    if pairs:
        summary["paired"] = {
            "accuracy_points_ours_minus_trl": _mean_sd([100 * (o["test_accuracy"] - t["test_accuracy"]) for o, t in pairs]),
            "epoch_time_trl_over_ours": _mean_sd([t["wall_s_per_epoch"] / o["wall_s_per_epoch"] for o, t in pairs]),
        }
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HH))
    parser.add_argument("--train", type=int, default=1800, help="train pairs (of the 1,800-pair split)")
    parser.add_argument("--test", type=int, default=None, help="test pairs (default: all the rest)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--base-model", default="all-minilm-l6-v2", help="backbone of both (alias or folder)")
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs of both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds (the data split stays seed 0)")
    parser.add_argument("--same-hparams", action="store_true", help="TRL gets ours' lr, batch, schedule, warm-up, weight decay")
    parser.add_argument("--trl-length-grouped", action="store_true", help="TRL gets length-grouped batches, as ours")
    parser.add_argument("--ours", default="{}", help="JSON overrides of RewardTrainingConfig for ours (--same-hparams follows them)")
    parser.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="precision of both")
    parser.add_argument("--only", choices=["ours", "trl"], default=None, help="run one side")
    parser.add_argument("--out", default="runs/bench_reward_training")
    a = parser.parse_args()
    out = Path(a.out)
    bf16 = {"auto": None, "on": True, "off": False}[a.bf16]
    common = {"data": a.data, "n_train": a.train, "n_test": a.test, "max_length": a.max_length}
    runs: list[dict] = []
    for i, seed in enumerate(a.seeds):
        config = ours_config(a.max_length, a.base_model, a.epochs, seed, bf16, json.loads(a.ours))
        jobs = {
            "ours": lambda: run_isolated(run_ours, config=config, out=str(out / "ours_model"), **common),
            "trl": lambda: run_isolated(run_trl, epochs=a.epochs, out=str(out / "trl_tmp"), base_model=a.base_model, seed=seed,
                                        bf16=bf16, hparams=same_hparams(config) if a.same_hparams else {},
                                        length_grouped=a.trl_length_grouped, **common),
        }  # fmt: skip
        order = ["ours", "trl"] if i % 2 == 0 else ["trl", "ours"]
        for name in (n for n in order if a.only in (None, n)):
            start = time.perf_counter()
            result = jobs[name]()
            runs.append({"contender": name, "seed": seed, "process_wall_s": time.perf_counter() - start, **result})
            print(f"seed {seed} {name}: accuracy {result['test_accuracy']:.3f}, {result['wall_s_per_epoch']:.1f} s/epoch", flush=True)
    blob = {"args": vars(a), "summary": summarize(runs), "runs": runs}
    name = "bench_reward_training" + ("_same_hparams" if a.same_hparams else "") + ("_length_grouped" if a.trl_length_grouped else "")
    name += f"_{a.only}" if a.only else ""
    write_results(out, name, blob)


if __name__ == "__main__":
    main()
