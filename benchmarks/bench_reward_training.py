"""Reward training: ours (constitution train) vs TRL's RewardTrainer, side by side in one run.

HH-RLHF harmless human labels, deterministic split (seed 0: 1,800 train via data.split_pairs, the rest test),
MiniLM backbone. Each contender trains in its own spawned process (peak RSS is its own); both are then scored
on the same test pairs by the same evaluator (left truncation at --max-length). Writes
``<out>/bench_reward_training.json`` with samples/s, peak RSS, test accuracy, ECE and the ratios.

Full run:  python benchmarks/bench_reward_training.py --train 1800
Smoke run: python benchmarks/bench_reward_training.py --train 200 --test 200
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import HH, hh_split, machine, run_isolated, write_results  # noqa: E402


def test_pair_metrics(model, tokenizer, pairs, max_length: int) -> dict:
    from constitution.reward.evaluate import evaluate_pairs
    from constitution.reward.metadata import RewardMetadata
    from constitution.reward.model import RewardModel

    scorer = RewardModel(model, tokenizer, RewardMetadata(base_model="bench", max_length=max_length))
    report = evaluate_pairs(scorer, pairs)
    return {"test_pairs": report.n, "test_accuracy": report.accuracy, "test_ece": report.ece}


def run_trl(data: str, n_train: int, n_test: int | None, max_length: int, lr: float, epochs: float, batch: int,
            out: str, base_model: str = "all-minilm-l6-v2", seed: int = 0, bf16: bool | None = None) -> dict:
    """TRL RewardTrainer as documented: text pairs (implicit prompt), drops pairs over max_length.

    Same precision as ours: fp32 on this CPU, bf16 autocast where ours turns it on (CUDA, AMX CPUs).
    """
    import datasets
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from constitution.models import resolve_model
    from constitution.reward.inputs import build_text
    from constitution.reward.model import bf16_supported

    if bf16 is None:
        bf16 = bf16_supported(torch.device("cuda" if torch.cuda.is_available() else "cpu"))

    train, test = hh_split(Path(data), n_train, n_test)
    path = resolve_model(base_model)
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1, dtype=torch.float32)
    # BERT has no EOS (TRL's add_eos would fail): hand TRL token ids, exactly what its own tokenisation gives.
    rows = {"chosen_ids": [], "rejected_ids": []}
    for p in train:
        chosen, rejected = (p.response_a, p.response_b) if p.p_a >= 0.5 else (p.response_b, p.response_a)
        rows["chosen_ids"].append(tok(build_text(tok, "hh", p.prompt, chosen))["input_ids"])
        rows["rejected_ids"].append(tok(build_text(tok, "hh", p.prompt, rejected))["input_ids"])
    args = RewardConfig(
        output_dir=out, max_length=max_length, per_device_train_batch_size=batch, learning_rate=lr,
        num_train_epochs=epochs, bf16=bf16, report_to=[], save_strategy="no", logging_steps=10,
        use_cpu=not torch.cuda.is_available(), seed=seed,
    )
    trainer = RewardTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_dict(rows),
                            processing_class=tok)
    metrics = trainer.train().metrics
    kept = len(trainer.train_dataset)
    return {
        "train_pairs_given": len(train), "train_pairs_used": kept, "epochs": epochs, "bf16": bf16,
        "train_runtime_s": metrics["train_runtime"], "train_samples_per_second": kept * epochs / metrics["train_runtime"],
        **test_pair_metrics(trainer.model, tok, test, max_length),
    }


def run_ours(data: str, n_train: int, n_test: int | None, max_length: int, overrides: dict, out: str) -> dict:
    """constitution's trainer with its defaults (plus overrides)."""
    from transformers import AutoModelForSequenceClassification

    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.trainer import train_reward_model

    train, test = hh_split(Path(data), n_train, n_test)
    config = RewardTrainingConfig(max_length=max_length, **overrides)
    t0 = time.perf_counter()
    result = train_reward_model(config, train, out)
    total = time.perf_counter() - t0
    from constitution.reward.model import RewardModel

    rm = RewardModel.load(out)
    assert isinstance(rm.model, type(AutoModelForSequenceClassification.from_pretrained(out)))
    return {
        "config": config.model_dump(), "train_pairs_given": len(train), "train_pairs_used": result.train_pairs,
        "heldout_pairs": result.eval_pairs, "epochs": config.epochs, "train_runtime_s": result.train_runtime_s,
        "train_samples_per_second": result.train_pairs * config.epochs / result.train_runtime_s,
        "total_with_save_and_stats_s": round(total, 1), "heldout_metrics": result.eval_metrics,
        **test_pair_metrics(rm.model, rm.tokenizer, test, max_length),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(HH))
    parser.add_argument("--train", type=int, default=1800, help="train pairs (of the 1,800-pair split)")
    parser.add_argument("--test", type=int, default=None, help="test pairs (default: all the rest)")
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--base-model", default="all-minilm-l6-v2", help="backbone of both (alias or folder)")
    parser.add_argument("--trl-lr", type=float, default=5e-5)
    parser.add_argument("--trl-epochs", type=float, default=1.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--ours", default="{}", help="JSON overrides of RewardTrainingConfig for ours")
    parser.add_argument("--seed", type=int, default=0, help="training seed of both (the data split stays seed 0)")
    parser.add_argument("--bf16", choices=["auto", "on", "off"], default="auto", help="precision of both")
    parser.add_argument("--only", choices=["ours", "trl"], default=None, help="run one side (tuning)")
    parser.add_argument("--out", default="runs/bench_reward_training")
    a = parser.parse_args()
    out = Path(a.out)
    bf16 = {"auto": None, "on": True, "off": False}[a.bf16]
    common = {"data": a.data, "n_train": a.train, "n_test": a.test, "max_length": a.max_length}
    results: dict = {"machine": machine(), "args": vars(a)}
    if a.only != "trl":
        overrides = {"batch_size": a.batch_size, "base_model": a.base_model, "seed": a.seed, "bf16": bf16,
                     **json.loads(a.ours)}
        results["ours"] = run_isolated(run_ours, overrides=overrides, out=str(out / "ours_model"), **common)
    if a.only != "ours":
        results["trl"] = run_isolated(run_trl, lr=a.trl_lr, epochs=a.trl_epochs, batch=a.batch_size,
                                      out=str(out / "trl_tmp"), base_model=a.base_model, seed=a.seed, bf16=bf16,
                                      **common)
    if "ours" in results and "trl" in results:
        o, t = results["ours"], results["trl"]
        results["ratios"] = {
            "samples_per_second": o["train_samples_per_second"] / t["train_samples_per_second"],
            "accuracy_points": 100 * (o["test_accuracy"] - t["test_accuracy"]),
            "peak_rss": o["peak_rss_mib"] / t["peak_rss_mib"],
        }
    suffix = (f"_{a.only}" if a.only else "") + (f"_seed{a.seed}" if a.seed else "")
    write_results(out, "bench_reward_training" + suffix, results)


if __name__ == "__main__":
    main()
