"""``constitution train DATA --out DIR``: train a scalar reward model (soft-label Bradley–Terry) on preference pairs.

DATA is any pair file or `datasets` folder that ``constitution label`` writes or TRL/HH-RLHF use. The output folder
is a standard transformers model (AutoModelForSequenceClassification, num_labels=1) plus constitution_reward.json.
Runs unchanged under ``accelerate launch`` (DDP/FSDP/DeepSpeed). Prints the training result as JSON.

Crash-safe: checkpoints go to OUT/checkpoints every --checkpoint-steps updates (and per epoch with held-out pairs);
running the same command again after a crash or kill resumes from the newest complete one. OUT is replaced as a
whole, in one rename, once the new model is fully written. A nan/inf loss, reward or gradient stops training with
exit code 1, naming the step and the last good checkpoint (which is kept).
"""

from __future__ import annotations

import argparse
import json

from constitution.cli._reward_common import validated


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a reward model on preference pairs", description=__doc__)
    p.add_argument("data", help="pairs: JSONL/Parquet/CSV file, datasets folder or hub id")
    p.add_argument("--out", required=True, help="output folder (replaced as a whole when the new model is complete)")
    p.add_argument("--base-model", default=None, help="alias, folder or hub id (default: all-minilm-l6-v2)")
    p.add_argument("--epochs", type=float, default=None)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate")
    p.add_argument("--max-length", type=int, default=None, help="tokens per sequence (left-truncated)")
    p.add_argument("--limit", type=int, default=None, help="use the first N pairs")
    p.add_argument("--batch-size", type=int, default=None, help="pairs per device per step")
    p.add_argument("--eval-data", default=None, help="held-out pairs for per-epoch eval (default: a slice of DATA)")
    p.add_argument("--eval-fraction", type=float, default=None, help="share of DATA held out when no --eval-data")
    p.add_argument("--pooling", choices=["auto", "native", "mean"], default=None, help="default: auto (mean for BERT-like encoders)")
    p.add_argument("--margin", type=float, default=None)
    p.add_argument("--center-rewards", type=float, default=None, help="reward-centering coefficient")
    p.add_argument("--hard-labels", action="store_true", help="round soft labels to 0/1")
    p.add_argument("--lora-r", type=int, default=None, help="train LoRA adapters of this rank (merged on save)")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None, help="default: auto")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument(
        "--checkpoint-steps", type=int, default=None, help="resumable checkpoint every N updates (0: per epoch only)"
    )
    p.add_argument("--config", default=None, help="JSON file of RewardTrainingConfig fields (flags override it)")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace):
    from pathlib import Path

    from constitution.reward.config import RewardTrainingConfig

    fields: dict = json.loads(Path(args.config).read_text()) if args.config else {}
    flags = {
        "base_model": args.base_model,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "max_length": args.max_length,
        "batch_size": args.batch_size,
        "eval_fraction": args.eval_fraction,
        "pooling": args.pooling,
        "margin": args.margin,
        "center_rewards_coefficient": args.center_rewards,
        "bf16": args.bf16,
        "seed": args.seed,
        "checkpoint_steps": args.checkpoint_steps,
        "lora": {"r": args.lora_r, "alpha": 2 * args.lora_r} if args.lora_r else None,
        "hard_labels": args.hard_labels or None,
    }
    fields.update({k: v for k, v in flags.items() if v is not None})
    return validated(lambda: RewardTrainingConfig(**fields), "training config")


def run(args: argparse.Namespace) -> int:
    from constitution.data import load_pairs
    from constitution.errors import InputError
    from constitution.reward.trainer import data_constitution_hashes, train_reward_model

    config = _config(args)
    pairs, report = load_pairs(args.data, limit=args.limit)
    if not any(p.p_a is not None for p in pairs):
        raise InputError("no labelled pairs (need p_a, or chosen/rejected columns)", where=args.data)
    eval_pairs = load_pairs(args.eval_data)[0] if args.eval_data else None
    result = train_reward_model(
        config,
        pairs,
        args.out,
        eval_pairs=eval_pairs,
        train_data=str(args.data),
        constitution_hash=data_constitution_hashes(args.data),
    )
    if result.process_index == 0:  # under accelerate launch, one JSON line from the main process
        print(json.dumps({"load": report.model_dump(), **result.model_dump()}))
    return 0
