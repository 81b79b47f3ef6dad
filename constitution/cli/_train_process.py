"""``constitution train --kind process``: a process reward model on step labels (``label-steps`` output or any TRL
stepwise file); the training flags shared with the scalar model apply, plus --aggregate, --threshold, --separator."""

from __future__ import annotations

import argparse
import json

from constitution.cli._flags import add_fields, build, given
from constitution.reward.process.config import ProcessTrainingConfig
from constitution.reward.config import RewardTrainingConfig

OWN = [name for name in ProcessTrainingConfig.model_fields if name not in RewardTrainingConfig.model_fields]


def add_process_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("process reward model (--kind process)")
    group.add_argument(
        "--kind", choices=["outcome", "process"], default="outcome",
        help="outcome: a reward per response from preference pairs; process: a score per step from step labels",
    )  # fmt: skip
    add_fields(group, ProcessTrainingConfig, OWN)


def train_process(args: argparse.Namespace, shared: dict) -> int:
    """Train from DATA's step labels into OUT; prints the result as JSON."""
    from constitution.config_files import load_config_file
    from constitution.data.rows import constitution_hashes
    from constitution.data.steps import StepReader
    from constitution.reward.process.trainer import train_process_model

    flags = {k: v for k, v in shared.items() if k in ProcessTrainingConfig.model_fields}
    flags.update(given(args, OWN))
    if args.lora_r:
        flags["lora"] = {"r": args.lora_r, "alpha": 2 * args.lora_r}
    config = load_config_file(ProcessTrainingConfig, args.config, flags) if args.config else build(ProcessTrainingConfig, flags, "training config")
    traces = list(StepReader(args.data, separator=config.separator, limit=args.limit))
    held = list(StepReader(args.eval_data, separator=config.separator)) if args.eval_data else None
    hashes = sorted(constitution_hashes(args.data, "step_principles_hash"))
    result = train_process_model(config, traces, args.out, eval_traces=held, train_data=str(args.data), step_principles_hash=hashes)
    print(json.dumps(result.model_dump()))
    return 0
