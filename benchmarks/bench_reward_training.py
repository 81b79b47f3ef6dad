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
* ``--trl-length-grouped`` gives TRL the length-grouped batches ours trains on: ours' own sampler
  (``constitution.reward.hf_trainer.RewardTrainer._get_train_sampler``, seeded by (data seed, epoch), on a ``length``
  column = the longer side of each pair), so at one seed and batch size both see the same batches. TRL's default
  draws random batches and pads every row to the batch's longest. With ``--same-hparams`` this is TRL at its best on
  this machine: the same optimisation and the same padding as ours.
* the same seed for the model's new weights: ``run_trl`` calls ``transformers.set_seed`` before it builds the model
  (ours' trainer does the same), so with ``--trl-freeze-like-ours`` both start from the same reward head.
* ``--trl-freeze-like-ours`` gives TRL ours' model set-up (``reward.backbone.load_backbone`` with ours' config:
  the frozen token embeddings and first ``freeze_layers`` layers, and the mean-pooling layer where ours adds one), so
  both train the same weights; every run records its ``trainable_parameters`` so a reader can check they match.
  The other way round, ``--ours '{"freeze_layers": 0, "freeze_embeddings": false, "pooling": "native"}'`` trains
  every weight of ours, as TRL does by default.
* the same tuning budget: ``--trl-lrs 3e-5 1e-4 3e-4`` and ``--ours-lrs 3e-5 1e-4 3e-4`` train each contender at
  each learning rate per seed (each run records its lr). With ``--val N`` the last N of the 1,800-pair train side
  (after the ``--train`` pairs, so disjoint from both the train and the test pairs) are scored by every run; the
  summary picks each contender's lr by its best mean validation accuracy over the seeds every rate of that contender
  has, and compares the two at their chosen lrs (the test pairs play no part in the choice).

Timing: each child process times its own phases (``setup_s``, ``train_call_s``, ``save_s``, ``evaluation_s``; both
save their model). ``end_to_end_s`` is the process's wall time minus ``evaluation_s`` (the benchmark's own scoring of
the test and validation pairs, and ours' reload for it, which neither library does when it trains). Ours also scores
``norm_stats_pairs`` pairs for the reward's mean/std before it saves (OpenRLHF's normalisation reads them): work TRL
does not do, inside ours' ``end_to_end_s`` and listed on its own as ``normalisation_s``.

Every (seed, contender) trains in its own spawned process (fresh imports, its own peak RSS); the order alternates
per seed (ours first on even seeds, TRL first on odd ones). Both are scored on the same test pairs by the same
evaluator. Writes one JSON file with every run's raw values and a summary (mean ± sd over seeds of test accuracy,
ECE, wall time per epoch and pairs/s; per-seed paired differences, and the paired TRL/ours ratios of both ``train()``
time and end-to-end time, each per seed with median and min–max). The file is rewritten after every run, and a rerun
of the same command skips the (contender, lr, seed) runs it already holds. Every run carries its invocation (commit,
uncommitted changes, CPU model and flags); a rerun from other code or on another CPU is refused (exit 2).

Full run:  python benchmarks/bench_reward_training.py --train 1800 --seeds 0 1 2 3 4 --epochs 1 --out benchmarks/results
Smoke run: python benchmarks/bench_reward_training.py --train 64 --test 64 --seeds 0 1 --epochs 1 --out /tmp/bench
Like for like: ... --train 1600 --val 200 --same-hparams --trl-length-grouped --trl-freeze-like-ours --trl-lrs 3e-5 1e-4 3e-4
               --ours-lrs 3e-5 1e-4 3e-4
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, provenance, run_isolated, write_results  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


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


class Phases(dict):
    """Seconds per named phase of one child process (``<name>_s``)."""

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self[f"{name}_s"] = self.get(f"{name}_s", 0.0) + time.perf_counter() - start

    @contextmanager
    def calls(self, owner, method: str, name: str):
        """Add the time spent in ``owner.method`` while inside the block to phase ``name``."""
        original = getattr(owner, method)

        def timed(*args, **kwargs):
            with self(name):
                return original(*args, **kwargs)

        self.setdefault(f"{name}_s", 0.0)
        setattr(owner, method, timed)
        try:
            yield
        finally:
            setattr(owner, method, original)


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


def trl_trainer(data: str, n_train: int, n_test: int | None, max_length: int, epochs: float, out: str, base_model: str,
                seed: int, bf16: bool | None, hparams: dict, length_grouped: bool = False, n_val: int = 0,
                model_like: dict | None = None):  # fmt: skip
    """(TRL RewardTrainer, tokenizer, validation pairs, test pairs, train pairs given): TRL at its defaults (plus
    ``hparams``; with ``length_grouped`` ours' own seeded length-grouped sampler) on ids left-truncated exactly as
    ours are; with ``model_like`` (ours' config) on the model ours' trainer builds from that config."""
    import datasets
    import torch
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from constitution.devices import bf16_supported
    from constitution.embedded_models import resolve_model
    from constitution.reward.backbone import load_backbone
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.hf_trainer import RewardTrainer as OursTrainer
    from constitution.reward.inputs import build_text, encode

    transformers.set_seed(seed)  # before the model is built: its new head's weights come from this seed, as ours'
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
    trainer_class = RewardTrainer
    if length_grouped:  # ours' sampler reads `length`; TRL's collator ignores the extra column, so it may stay
        rows["length"] = [max(len(c), len(r)) for c, r in zip(rows["chosen_ids"], rows["rejected_ids"])]
        hparams = {**hparams, "remove_unused_columns": False}
        trainer_class = type("LengthGroupedRewardTrainer", (RewardTrainer,), {"_get_train_sampler": OursTrainer._get_train_sampler})
    args = RewardConfig(
        output_dir=out, max_length=max_length, num_train_epochs=epochs, bf16=bf16, gradient_checkpointing=False,
        report_to=[], save_strategy="no", use_cpu=not torch.cuda.is_available(), seed=seed, data_seed=seed, **hparams,
    )  # fmt: skip
    trainer = trainer_class(model=model, args=args, train_dataset=datasets.Dataset.from_dict(rows), processing_class=tok)
    return trainer, tok, val, test, len(train)


def run_trl(data: str, n_train: int, n_test: int | None, max_length: int, epochs: float, out: str, base_model: str,
            seed: int, bf16: bool | None, hparams: dict, length_grouped: bool = False, n_val: int = 0,
            model_like: dict | None = None) -> dict:  # fmt: skip
    """Train TRL (see ``trl_trainer``), save its model to ``out``, score it; each phase timed."""
    phases = Phases()
    with phases("setup"):
        trainer, tok, val, test, given = trl_trainer(data, n_train, n_test, max_length, epochs, out, base_model, seed,
                                                     bf16, hparams, length_grouped, n_val, model_like)  # fmt: skip
    with phases("train_call"):
        runtime = trainer.train().metrics["train_runtime"]
    with phases("save"):
        trainer.save_model(out)
    with phases("evaluation"):
        scores = _scores(trainer.model, tok, test, val, max_length)
    args, used = trainer.args, len(trainer.train_dataset)
    return {
        "train_pairs_given": given, "train_pairs_used": used, "epochs": epochs, "bf16": args.bf16,
        "trainable_parameters": trainable_parameters(trainer.model), "learning_rate": args.learning_rate,
        "hparams": {k: getattr(args, k) for k in ("learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
                                                  "lr_scheduler_type", "warmup_steps", "weight_decay", "data_seed")},
        "sampler": type(trainer._get_train_sampler()).__name__,
        **_timing(used, epochs, runtime), **phases, **scores,
    }  # fmt: skip


def run_ours(data: str, n_train: int, n_test: int | None, max_length: int, config: dict, out: str, n_val: int = 0) -> dict:
    """constitution's trainer with ``config`` (see ``ours_config``); each phase timed, its normalisation pass apart."""
    phases = Phases()
    with phases("setup"):
        from constitution.reward.config import RewardTrainingConfig
        from constitution.reward.model import RewardModel
        from constitution.reward.trainer import train_reward_model
        from constitution.reward.training_args import training_arguments

        train, val, test = _split(data, n_train, n_val, n_test)
        settings = RewardTrainingConfig(**config)
        resolved_bf16 = training_arguments(settings, Path(out), False).bf16  # what the trainer will run at
    with phases("train_call"), phases.calls(RewardModel, "score", "normalisation"):  # setup, train, stats, save
        result = train_reward_model(settings, train, out)
    with phases("evaluation"):  # the reload is the benchmark's: ours' trainer keeps no model in memory for it
        rm = RewardModel.load(out)
        scores = _scores(rm.model, rm.tokenizer, test, val, max_length)
    return {
        "train_pairs_given": len(train), "train_pairs_used": result.train_pairs, "heldout_pairs": result.eval_pairs,
        "epochs": settings.epochs, "bf16": resolved_bf16, "learning_rate": settings.learning_rate,
        "hparams": {k: config[k] for k in ("learning_rate", "batch_size", "gradient_accumulation_steps", "lr_scheduler",
                                           "warmup_ratio", "weight_decay", "seed", "freeze_layers", "freeze_embeddings", "pooling")},
        "sampler": "EpochSeededLengthSampler",
        **_timing(result.train_pairs, settings.epochs, result.train_runtime_s), **phases, **scores,
    }  # fmt: skip


def _mean_sd(values: list[float]) -> dict:
    return {"mean": statistics.fmean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def _spread(per_seed: dict[int, float]) -> dict:
    """Per-seed values with their median, min–max, mean and sd."""
    values = list(per_seed.values())
    return {"per_seed": per_seed, "median": statistics.median(values), "min": min(values), "max": max(values), **_mean_sd(values)}


KEYS = ("test_accuracy", "test_ece", "val_accuracy", "wall_s_per_epoch", "train_pairs_per_second", "end_to_end_s",
        "normalisation_s", "save_s", "evaluation_s", "process_wall_s", "peak_rss_mib")  # fmt: skip


def _stats(runs: list[dict]) -> dict:
    stats = {k: _mean_sd([r[k] for r in runs]) for k in KEYS if all(k in r for r in runs)}
    return {**stats, "trainable_parameters": sorted({r.get("trainable_parameters") for r in runs}, key=str)}


def paired(ours: list[dict], trl: list[dict]) -> dict:
    """Per seed: accuracy points ours − TRL, and TRL/ours for ``train()`` time and for end-to-end time."""
    by_seed = {t["seed"]: t for t in trl}
    pairs = {o["seed"]: (o, by_seed[o["seed"]]) for o in ours if o["seed"] in by_seed}
    if not pairs:
        return {}
    return {
        "seeds": sorted(pairs),
        "accuracy_points_ours_minus_trl": _spread({s: 100 * (o["test_accuracy"] - t["test_accuracy"]) for s, (o, t) in pairs.items()}),
        "train_time_trl_over_ours": _spread({s: t["train_runtime_s"] / o["train_runtime_s"] for s, (o, t) in pairs.items()}),
        "end_to_end_trl_over_ours": _spread({s: t["end_to_end_s"] / o["end_to_end_s"] for s, (o, t) in pairs.items()}),
        "end_to_end_note": "process wall time minus the benchmark's evaluation; ours' includes its normalisation pass "
                           "(normalisation_s, work TRL does not do)",
        "trainable_parameters_match": all(o.get("trainable_parameters") == t.get("trainable_parameters") for o, t in pairs.values()),
    }  # fmt: skip


def choose_lr(by_lr: dict[float, list[dict]]) -> tuple[float | None, str]:
    """The learning rate with the best mean validation accuracy over the seeds every rate has (so an interrupted or
    extended sweep compares each rate on the same seeds), and how it was chosen."""
    if len(by_lr) == 1:
        return next(iter(by_lr)), "the only learning rate run"
    seeds = set.intersection(*({r["seed"] for r in runs} for runs in by_lr.values()))
    if not seeds:
        return None, "not chosen: no seed has run every learning rate yet"
    best = max(by_lr, key=lambda lr: statistics.fmean(r["val_accuracy"] for r in by_lr[lr] if r["seed"] in seeds))
    return best, (f"highest mean validation accuracy over seeds {sorted(seeds)}, the seeds every rate has "
                  "(train-side pairs disjoint from the train and test pairs)")  # fmt: skip


def summarize(runs: list[dict]) -> dict:
    """Mean ± sd over seeds per contender and learning rate, each contender's lr chosen alike by validation accuracy,
    and the per-seed paired comparison of the two at their chosen lrs."""
    summary: dict = {}
    best: dict[str, list[dict]] = {}
    for contender in ("ours", "trl"):
        by_lr: dict[float, list[dict]] = {}
        for r in (r for r in runs if r["contender"] == contender):
            by_lr.setdefault(r["learning_rate"], []).append(r)
        if not by_lr:
            continue
        lr, how = choose_lr(by_lr)
        summary[f"{contender}_by_lr"] = {str(k): _stats(rs) for k, rs in sorted(by_lr.items())}
        summary[f"{contender}_best_lr"] = {"learning_rate": lr, "chosen_by": how}
        if lr is not None:
            best[contender] = by_lr[lr]
            summary[contender] = _stats(by_lr[lr])
    if len(best) == 2:
        for lr, stats in summary["trl_by_lr"].items():
            stats["paired_with_ours"] = paired(best["ours"], [r for r in runs if r["contender"] == "trl" and str(r["learning_rate"]) == lr])
        summary["paired"] = paired(best["ours"], best["trl"])
    return summary


def run_key(run: dict) -> tuple:
    """What a run is, for resuming: (contender, learning rate, seed)."""
    return run["contender"], run["learning_rate"], run["seed"]


RESUME_FREE = ("seeds", "trl_lrs", "ours_lrs", "only", "out")
"""Arguments a resumed run may change: which runs to do, not how each one runs."""


def invocation_tag() -> dict:
    """What a run's code and machine were: commit, whether the tree had uncommitted changes (and a digest of
    ``git diff HEAD``, so two dirty trees compare too), CPU model and flags. Runs resume only under the same tag."""
    info = provenance()
    try:
        diff = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD"], capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        diff = b""
    return {
        "git_commit": info["git_commit"].removesuffix(" (uncommitted changes)"),
        "dirty": info["git_commit"].endswith("(uncommitted changes)"),
        "diff_sha256": hashlib.sha256(diff).hexdigest()[:16] if diff else None,
        "cpu": info["cpu"], "cpu_flags": info["cpu_flags"],
    }  # fmt: skip


def refuse(message: str) -> None:
    print(message, file=sys.stderr)
    raise SystemExit(2)


def done_runs(path: Path, args: dict, tag: dict) -> dict:
    """What earlier invocations saved in ``path`` (``runs``, ``invocations``; empty if none); their settings must be
    this one's, apart from which runs to do, and their runs must carry this invocation's ``tag`` (else exit 2)."""
    if not path.exists():
        return {}
    blob = json.loads(path.read_text())
    theirs = {k: v for k, v in blob["args"].items() if k not in RESUME_FREE}
    mine = {k: v for k, v in args.items() if k not in RESUME_FREE}
    if theirs != mine:
        changed = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        refuse(f"{path} holds runs made with other settings ({', '.join(changed)}): pass another --out or remove it")
    for run in blob["runs"]:
        other = run.get("invocation") or {}
        changed = sorted(k for k in tag if other.get(k) != tag[k])
        if changed:
            refuse(f"{path} holds a run ({run['contender']}, lr {run['learning_rate']:g}, seed {run['seed']}) made with other "
                   f"code or on another machine ({', '.join(changed)} differ): pass another --out or remove it")  # fmt: skip
    return {"runs": blob["runs"], "invocations": blob.get("invocations", [blob["provenance"]])}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
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
    parser.add_argument("--trl-length-grouped", action="store_true", help="TRL gets ours' length-grouped, seeded batches")
    parser.add_argument("--trl-freeze-like-ours", action="store_true",
                        help="TRL trains ours' model set-up: the same frozen embeddings and layers, the same pooling layer")
    parser.add_argument("--trl-lrs", type=float, nargs="+", default=None,
                        help="TRL learning rates to sweep per seed (several need --val: the best is chosen on it)")
    parser.add_argument("--ours-lrs", type=float, nargs="+", default=None,
                        help="ours' learning rates to sweep per seed, chosen alike (default: ours' configured lr)")
    parser.add_argument("--ours", default="{}", help="JSON overrides of RewardTrainingConfig for ours (--same-hparams follows them)")
    parser.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="precision of both")
    parser.add_argument("--only", choices=["ours", "trl"], default=None, help="run one side")
    parser.add_argument("--out", default="runs/bench_reward_training")
    a = parser.parse_args(argv)
    if a.train + a.val > 1800:
        parser.error("--train + --val must fit the 1,800-pair train side")
    for flag, lrs in (("--trl-lrs", a.trl_lrs), ("--ours-lrs", a.ours_lrs)):
        if lrs and len(lrs) > 1 and not a.val:
            parser.error(f"{flag} with several learning rates needs --val: the best lr is chosen on validation pairs, not test pairs")
    return a


def jobs(a: argparse.Namespace, seed: int, bf16: bool | None) -> list[tuple[str, float, dict]]:
    """This seed's (contender, lr, kwargs of run_ours / run_trl), ours first; ours' kwargs hold its config at that lr."""
    common = {"data": a.data, "n_train": a.train, "n_test": a.test, "max_length": a.max_length, "n_val": a.val}
    config = ours_config(a.max_length, a.base_model, a.epochs, seed, bf16, json.loads(a.ours))
    trl_hparams = same_hparams(config) if a.same_hparams else {}
    ours = [("ours", lr, {**common, "config": {**config, "learning_rate": lr}}) for lr in (a.ours_lrs or [config["learning_rate"]])]
    trl = [("trl", lr, {**common, "epochs": a.epochs, "base_model": a.base_model, "seed": seed, "bf16": bf16,
                        "hparams": {**trl_hparams, "learning_rate": lr}, "length_grouped": a.trl_length_grouped,
                        "model_like": config if a.trl_freeze_like_ours else None})
           for lr in (a.trl_lrs or [trl_hparams.get("learning_rate", 1e-4)])]  # fmt: skip
    return ours + trl


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    out = Path(a.out)
    bf16 = {"auto": None, "on": True, "off": False}[a.bf16]
    name = "bench_reward_training" + ("_same_hparams" if a.same_hparams else "") + ("_length_grouped" if a.trl_length_grouped else "")
    name += ("_trl_frozen" if a.trl_freeze_like_ours else "") + ("_trl_lr_sweep" if a.trl_lrs else "")
    name += ("_ours_lr_sweep" if a.ours_lrs else "") + (f"_{a.only}" if a.only else "")
    tag = invocation_tag()
    previous = done_runs(out / f"{name}.json", vars(a), tag)
    runs, invocations = previous.get("runs", []), [*previous.get("invocations", []), provenance()]
    done = {run_key(r) for r in runs}
    # counted here, outside the timed processes: ours' trainer builds its model internally (seeds change no count)
    ours_trainable = None
    if a.only != "trl":
        ours_trainable = ours_trainable_parameters(ours_config(a.max_length, a.base_model, a.epochs, 0, bf16, json.loads(a.ours)))
    for i, seed in enumerate(a.seeds):
        todo = jobs(a, seed, bf16)
        for contender, lr, kwargs in (todo if i % 2 == 0 else todo[::-1]):
            if a.only not in (None, contender) or (contender, lr, seed) in done:
                continue
            model_dir = out / f"{contender}_model"
            shutil.rmtree(model_dir, ignore_errors=True)  # outside the timed window; never resume a killed run's checkpoint
            start = time.perf_counter()
            result = run_isolated(run_ours if contender == "ours" else run_trl, out=str(model_dir), **kwargs)
            wall = time.perf_counter() - start
            if contender == "ours":
                result["trainable_parameters"] = ours_trainable
            end_to_end = wall - result["evaluation_s"]
            runs.append({"contender": contender, "seed": seed, "invocation": tag, "process_wall_s": wall, "end_to_end_s": end_to_end, **result})
            print(f"seed {seed} {contender} lr {lr:g}: accuracy {result['test_accuracy']:.3f}, {result['wall_s_per_epoch']:.1f} s/epoch, "
                  f"{end_to_end:.1f} s end to end, {result['trainable_parameters']:,} trainable", flush=True)  # fmt: skip
            blob = {"args": vars(a), "invocations": invocations, "summary": summarize(runs), "runs": runs}
            write_results(out, name, blob, echo=False)  # after every run: a rerun of the command resumes from here
    write_results(out, name, {"args": vars(a), "invocations": invocations, "summary": summarize(runs), "runs": runs})


if __name__ == "__main__":
    main()
