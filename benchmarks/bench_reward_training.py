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
* ``--trl-freeze-like-ours`` gives TRL ours' model set-up (``reward.backbone.load_backbone`` with ours' config:
  the frozen token embeddings and first ``freeze_layers`` layers, and the mean-pooling layer where ours adds one), so
  both train the same weights; every run records its ``trainable_parameters`` so a reader can check they match.
  The other way round, ``--ours '{"freeze_layers": 0, "freeze_embeddings": false, "pooling": "native"}'`` trains
  every weight of ours, as TRL does by default.
* ``--trl-lrs 3e-5 1e-4 3e-4`` trains TRL at each learning rate per seed (each run records its lr). With ``--val N``
  the last N of the 1,800-pair train side (after the ``--train`` pairs, so disjoint from both the train and the test
  pairs) are scored by every run; the summary picks TRL's lr with the best mean validation accuracy over seeds and
  compares ours with TRL at that lr (the test pairs play no part in the choice).

Every (seed, contender) trains in its own spawned process (fresh imports, its own peak RSS); the order alternates
per seed (ours first on even seeds, TRL first on odd ones). Both are scored on the same test pairs by the same
evaluator. Writes one JSON file with every run's raw values and a summary (mean ± sd over seeds of test accuracy,
ECE, wall time per epoch and pairs/s; per-seed paired differences, and the paired TRL/ours ratios of both ``train()``
time and the whole process's wall time, each per seed with median and min–max). The file is rewritten after every
run, and a rerun of the same command skips the (contender, lr, seed) runs it already holds.

Full run:  python benchmarks/bench_reward_training.py --train 1800 --seeds 0 1 2 3 4 --epochs 1 --out benchmarks/results
Smoke run: python benchmarks/bench_reward_training.py --train 64 --test 64 --seeds 0 1 --epochs 1 --out /tmp/bench
Like for like: ... --train 1600 --val 200 --same-hparams --trl-length-grouped --trl-freeze-like-ours --trl-lrs 3e-5 1e-4 3e-4
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, provenance, run_isolated, write_results  # noqa: E402


def test_pair_metrics(model, tokenizer, pairs, max_length: int, prefix: str = "test") -> dict:
    from constitution.reward.evaluate import evaluate_pairs
    from constitution.reward.metadata import RewardMetadata
    from constitution.reward.model import RewardModel

    scorer = RewardModel(model, tokenizer, RewardMetadata(base_model="bench", max_length=max_length))
    report = evaluate_pairs(scorer, pairs)
    return {f"{prefix}_pairs": report.n, f"{prefix}_accuracy": report.accuracy, f"{prefix}_ece": report.ece}


def _scores(model, tokenizer, test, val, max_length: int) -> dict:
    """Test metrics, and validation metrics when there are validation pairs."""
    scores = test_pair_metrics(model, tokenizer, test, max_length)
    return {**scores, **test_pair_metrics(model, tokenizer, val, max_length, "val")} if val else scores


def _split(data: str, n_train: int, n_val: int, n_test: int | None):
    """(train, validation, test): validation is the ``n_val`` train-side pairs after the first ``n_train``."""
    train, test = hh_split(Path(data), n_train + n_val, n_test)
    return train[:n_train], train[n_train:], test


def trainable_parameters(model) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def ours_trainable_parameters(config: dict) -> int:
    """What ours trains under ``config``: the model its trainer builds (``load_backbone``), counted here."""
    from constitution.reward.backbone import load_backbone
    from constitution.reward.config import RewardTrainingConfig

    return trainable_parameters(load_backbone(RewardTrainingConfig(**config))[0])


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
            seed: int, bf16: bool | None, hparams: dict, length_grouped: bool = False, n_val: int = 0,
            model_like: dict | None = None) -> dict:  # fmt: skip
    """TRL RewardTrainer at its defaults (plus ``hparams``, optionally length-grouped batches) on ids left-truncated
    exactly as ours are; with ``model_like`` (ours' config) on the model ours' trainer builds from that config (the
    same frozen parts and pooling layer)."""
    import datasets
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from constitution.embedded_models import resolve_model
    from constitution.reward.backbone import load_backbone
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.inputs import build_text, encode
    from constitution.devices import bf16_supported

    if bf16 is None:
        bf16 = bf16_supported(torch.device("cuda" if torch.cuda.is_available() else "cpu"))
    train, val, test = _split(data, n_train, n_val, n_test)
    path = resolve_model(base_model)
    tok = AutoTokenizer.from_pretrained(path)
    if model_like is None:
        model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    else:
        model = load_backbone(RewardTrainingConfig(**model_like))[0]
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
        "trainable_parameters": trainable_parameters(trainer.model), "learning_rate": args.learning_rate,
        "hparams": {k: getattr(args, k) for k in ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
                                                  "lr_scheduler_type", "warmup_steps", "weight_decay", "train_sampling_strategy")},
        **_timing(used, epochs, runtime), **_scores(trainer.model, tok, test, val, max_length),
    }  # fmt: skip


def run_ours(data: str, n_train: int, n_test: int | None, max_length: int, config: dict, out: str, n_val: int = 0) -> dict:
    """constitution's trainer with ``config`` (see ``ours_config``)."""
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.model import RewardModel
    from constitution.reward.trainer import train_reward_model

    train, val, test = _split(data, n_train, n_val, n_test)
    settings = RewardTrainingConfig(**config)
    result = train_reward_model(settings, train, out)
    rm = RewardModel.load(out)
    return {
        "train_pairs_given": len(train), "train_pairs_used": result.train_pairs, "heldout_pairs": result.eval_pairs,
        "epochs": settings.epochs, "learning_rate": settings.learning_rate,
        **_timing(result.train_pairs, settings.epochs, result.train_runtime_s), **_scores(rm.model, rm.tokenizer, test, val, max_length),
    }  # fmt: skip


def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def _spread(per_seed: dict[int, float]) -> dict:
    """Per-seed values with their median, min–max, mean and sd."""
    values = list(per_seed.values())
    return {"per_seed": per_seed, "median": statistics.median(values), "min": min(values), "max": max(values), **_mean_sd(values)}


KEYS = ("test_accuracy", "test_ece", "val_accuracy", "wall_s_per_epoch", "train_pairs_per_second", "process_wall_s", "peak_rss_mib")


def _stats(runs: list[dict]) -> dict:
    stats = {k: _mean_sd([r[k] for r in runs]) for k in KEYS if all(k in r for r in runs)}
    return {**stats, "trainable_parameters": sorted({r.get("trainable_parameters") for r in runs}, key=str)}


def paired(ours: list[dict], trl: list[dict]) -> dict:
    """Per seed: accuracy points ours − TRL, and TRL/ours for ``train()`` time and for the whole process's wall time."""
    by_seed = {t["seed"]: t for t in trl}
    pairs = {o["seed"]: (o, by_seed[o["seed"]]) for o in ours if o["seed"] in by_seed}
    if not pairs:
        return {}
    return {
        "seeds": sorted(pairs),
        "accuracy_points_ours_minus_trl": _spread({s: 100 * (o["test_accuracy"] - t["test_accuracy"]) for s, (o, t) in pairs.items()}),
        "train_time_trl_over_ours": _spread({s: t["train_runtime_s"] / o["train_runtime_s"] for s, (o, t) in pairs.items()}),
        "process_wall_trl_over_ours": _spread({s: t["process_wall_s"] / o["process_wall_s"] for s, (o, t) in pairs.items()}),
        "trainable_parameters_match": all(o.get("trainable_parameters") == t.get("trainable_parameters") for o, t in pairs.values()),
    }  # fmt: skip


def summarize(runs: list[dict]) -> dict:
    """Mean ± sd over seeds per contender (TRL per learning rate), TRL's lr chosen by validation accuracy, and the
    per-seed paired comparison of ours with TRL at that lr."""
    ours = [r for r in runs if r["contender"] == "ours"]
    trl_by_lr: dict[float, list[dict]] = {}
    for r in (r for r in runs if r["contender"] == "trl"):
        trl_by_lr.setdefault(r["learning_rate"], []).append(r)
    summary: dict = {}
    if ours:
        summary["ours"] = _stats(ours)
    if not trl_by_lr:
        return summary
    summary["trl_by_lr"] = {str(lr): {**_stats(rs), "paired_with_ours": paired(ours, rs)} for lr, rs in sorted(trl_by_lr.items())}
    if len(trl_by_lr) == 1:
        best, how = next(iter(trl_by_lr)), "the only learning rate run"
    else:
        best = max(trl_by_lr, key=lambda lr: statistics.fmean(r["val_accuracy"] for r in trl_by_lr[lr]))
        how = "highest mean validation accuracy over seeds (train-side pairs disjoint from the train and test pairs)"
    summary["trl_best_lr"] = {"learning_rate": best, "chosen_by": how}
    summary["trl"] = _stats(trl_by_lr[best])
    if ours:
        summary["paired"] = paired(ours, trl_by_lr[best])
    return summary


def run_key(run: dict) -> tuple:
    """What a run is, for resuming: (contender, learning rate, seed)."""
    return run["contender"], run["learning_rate"], run["seed"]


RESUME_FREE = ("seeds", "trl_lrs", "only", "out")
"""Arguments a resumed run may change: which runs to do, not how each one runs."""


def done_runs(path: Path, args: dict) -> dict:
    """What earlier invocations saved in ``path`` (``runs``, ``invocations``; empty if none); their settings must be
    this one's, apart from which runs to do."""
    if not path.exists():
        return {}
    blob = json.loads(path.read_text())
    theirs = {k: v for k, v in blob["args"].items() if k not in RESUME_FREE}
    mine = {k: v for k, v in args.items() if k not in RESUME_FREE}
    if theirs != mine:
        changed = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        sys.exit(f"{path} holds runs made with other settings ({', '.join(changed)}): pass another --out or remove it")
    return {"runs": blob["runs"], "invocations": blob.get("invocations", [blob["provenance"]])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HH))
    parser.add_argument("--train", type=int, default=1800, help="train pairs (of the 1,800-pair split)")
    parser.add_argument("--val", type=int, default=0, help="validation pairs: the train-side pairs after --train (--train + --val <= 1800)")
    parser.add_argument("--test", type=int, default=None, help="test pairs (default: all the rest)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--base-model", default="all-minilm-l6-v2", help="backbone of both (alias or folder)")
    parser.add_argument("--epochs", type=float, default=1.0, help="epochs of both")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="training seeds (the data split stays seed 0)")
    parser.add_argument("--same-hparams", action="store_true", help="TRL gets ours' lr, batch, schedule, warm-up, weight decay")
    parser.add_argument("--trl-length-grouped", action="store_true", help="TRL gets length-grouped batches, as ours")
    parser.add_argument("--trl-freeze-like-ours", action="store_true",
                        help="TRL trains ours' model set-up: the same frozen embeddings and layers, the same pooling layer")
    parser.add_argument("--trl-lrs", type=float, nargs="+", default=None,
                        help="TRL learning rates to sweep per seed (several need --val: the best is chosen on it)")
    parser.add_argument("--ours", default="{}", help="JSON overrides of RewardTrainingConfig for ours (--same-hparams follows them)")
    parser.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="precision of both")
    parser.add_argument("--only", choices=["ours", "trl"], default=None, help="run one side")
    parser.add_argument("--out", default="runs/bench_reward_training")
    a = parser.parse_args()
    if a.train + a.val > 1800:
        sys.exit("--train + --val must fit the 1,800-pair train side")
    if a.trl_lrs and len(a.trl_lrs) > 1 and not a.val:
        sys.exit("--trl-lrs with several learning rates needs --val: TRL's best lr is chosen on validation pairs, not test pairs")
    out = Path(a.out)
    bf16 = {"auto": None, "on": True, "off": False}[a.bf16]
    common = {"data": a.data, "n_train": a.train, "n_test": a.test, "max_length": a.max_length, "n_val": a.val}
    name = "bench_reward_training" + ("_same_hparams" if a.same_hparams else "") + ("_length_grouped" if a.trl_length_grouped else "")
    name += ("_trl_frozen" if a.trl_freeze_like_ours else "") + ("_trl_lr_sweep" if a.trl_lrs else "") + (f"_{a.only}" if a.only else "")
    previous = done_runs(out / f"{name}.json", vars(a))
    runs, invocations = previous.get("runs", []), [*previous.get("invocations", []), provenance()]
    done = {run_key(r) for r in runs}
    overrides = json.loads(a.ours)
    # counted here, outside the timed processes: ours' trainer builds its model internally (seeds change no count)
    ours_trainable = ours_trainable_parameters(ours_config(a.max_length, a.base_model, a.epochs, 0, bf16, overrides)) if a.only != "trl" else None
    for i, seed in enumerate(a.seeds):
        config = ours_config(a.max_length, a.base_model, a.epochs, seed, bf16, overrides)
        trl_hparams = same_hparams(config) if a.same_hparams else {}
        jobs = [("ours", config["learning_rate"])] + [("trl", lr) for lr in (a.trl_lrs or [trl_hparams.get("learning_rate", 1e-4)])]
        for contender, lr in (jobs if i % 2 == 0 else jobs[::-1]):
            if a.only not in (None, contender) or (contender, lr, seed) in done:
                continue
            start = time.perf_counter()
            if contender == "ours":
                shutil.rmtree(out / "ours_model", ignore_errors=True)  # never resume a killed run's checkpoint
                result = run_isolated(run_ours, config=config, out=str(out / "ours_model"), **common)
                result["trainable_parameters"] = ours_trainable
            else:
                result = run_isolated(run_trl, epochs=a.epochs, out=str(out / "trl_tmp"), base_model=a.base_model, seed=seed,
                                      bf16=bf16, hparams={**trl_hparams, "learning_rate": lr}, length_grouped=a.trl_length_grouped,
                                      model_like=config if a.trl_freeze_like_ours else None, **common)  # fmt: skip
            runs.append({"contender": contender, "seed": seed, "process_wall_s": time.perf_counter() - start, **result})
            print(f"seed {seed} {contender} lr {lr:g}: accuracy {result['test_accuracy']:.3f}, {result['wall_s_per_epoch']:.1f} s/epoch, "
                  f"{result['trainable_parameters']:,} trainable", flush=True)  # fmt: skip
            blob = {"args": vars(a), "invocations": invocations, "summary": summarize(runs), "runs": runs}
            write_results(out, name, blob, echo=False)  # after every run: a rerun of the command resumes from here
    write_results(out, name, {"args": vars(a), "invocations": invocations, "summary": summarize(runs), "runs": runs})

if __name__ == "__main__":
    main()
