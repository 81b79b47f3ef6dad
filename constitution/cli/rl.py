"""``constitution rl --reward-model RM_DIR --out DIR``: GRPO (TRL) of the policy against the reward model.

The prompts are --prompts, or the demo prompts shipped with the package. --rewards per_principle gives a
per-principle model's principles to TRL one by one (weighted by the constitution, each logged); --aggregation
normalize_then_sum normalises each principle within its GRPO group before weighting them.

--gold-judge MODEL turns on the gold monitor: every --monitor-every steps, pairs of the policy's own completions are
labelled by that judge (against --constitution, through OUT/gold_judgments.sqlite), and the proxy–gold agreement,
proxy reward, KL and length go to OUT/monitor.jsonl and the trainer's loggers, with an alarm when the agreement
is below --monitor-threshold at --monitor-confidence (on at least --monitor-min-decisive decisive pairs). --refresh fine-tunes the reward model on those pairs (plus --refresh-replay-data) on the alarm
or every --refresh-every steps, and swaps it into the running reward. Writes OUT/log.jsonl and OUT/result.json, and
with the gold monitor OUT/overoptimization.png (proxy reward and gold checks against √sequence-KL and the step,
alarms and refreshes marked; needs matplotlib).
A rerun into the same OUT replaces monitor.jsonl, log.jsonl and result.json (the gold judgments stay cached).
Under a multi-process launcher (WORLD_SIZE > 1) only rank 0 runs the gold checks; --refresh, --monitor-stop-on-alarm
and --monitor-win-rate-prompts need one process and are refused (exit 2).
Needs TRL (`pip install -e '.[bench]'`).
"""

from __future__ import annotations

import argparse

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._flags import add_fields, build, given
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.rl.config import MonitorConfig, RefreshConfig, RLConfig

FIELDS = [f for f in RLConfig.model_fields if f not in ("gold_judge", "monitor", "refresh")]
NAMES = {"learning_rate": "--lr"}
SUB = {"monitor": MonitorConfig, "refresh": RefreshConfig}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rl", help="GRPO of a policy against the reward model, with a gold monitor", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="output folder (log, monitor records, refreshed reward models)")
    p.add_argument("--config", default=None, help="YAML or JSON file of RL settings (flags override it)")
    add_fields(p.add_argument_group("GRPO"), RLConfig, FIELDS, names=NAMES)
    add_constitution_flag(p)
    for name, model in SUB.items():
        group = p.add_argument_group(f"{name} ({model.__doc__.splitlines()[0]})")
        if name == "refresh":
            group.add_argument("--refresh", action="store_true", help="refresh the reward model (needs --gold-judge)")
        add_fields(group, model, prefix=f"{name}_", names={f: f"--{name}-{f.replace('_', '-')}" for f in model.model_fields})
    add_llm_flags(p, "gold", model_flag="--gold-judge", skip=("seed",))
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> RLConfig:
    """The RL config: --config's file (if any) under the flags given."""
    from constitution.config_files import load_config_file

    flags = given(args, FIELDS)
    nested = {name: given(args, model.model_fields, prefix=f"{name}_") for name, model in SUB.items()}
    if args.gold_model:
        flags["gold_judge"] = llm_from_args(args, "gold")
    base = load_config_file(RLConfig, args.config, flags) if args.config else build(RLConfig, flags, "rl config", NAMES)
    update = {}
    for name, model in SUB.items():
        current = getattr(base, name)
        if nested[name] or (name == "refresh" and args.refresh):
            merged = {**(current.model_dump() if current is not None else {}), **nested[name]}
            update[name] = build(model, merged, f"{name} config", {f: f"--{name}-{f.replace('_', '-')}" for f in model.model_fields})
    return base.model_copy(update=update)


def run(args: argparse.Namespace) -> int:
    from constitution.errors import InputError
    from constitution.loader import load_constitution
    from constitution.rl.grpo import run_grpo
    from constitution.rl.ranks import launch_ranks

    config = config_from_args(args)
    if config.refresh is not None and config.gold_judge is None:
        raise InputError("--refresh needs the gold monitor (--gold-judge)")
    constitution = load_constitution(args.constitution) if args.constitution else None
    gold = load_constitution(constitution_path(args.constitution)) if config.gold_judge is not None else None
    result = run_grpo(config, args.out, constitution=constitution, gold=gold)
    for row in result.log:
        print(f"step {int(row['step']):>3}  reward {row['reward']:+.3f}" + (f"  seq kl {row['seq_kl']:.3f}" if row.get("seq_kl") is not None else ""))
    for check in result.monitor:
        print(check.line())
    print(f"{result.steps} steps in {result.seconds:.0f} s; reward model version {result.reward_version}; wrote {result.out_dir}")
    if config.gold_judge is not None and launch_ranks().main:  # one figure, by the rank that wrote monitor.jsonl
        from constitution.overoptimization.figure import draw_overoptimization, why_not_drawn

        figure = draw_overoptimization(result.out_dir)
        print(f"over-optimisation figure: {figure}" if figure else f"over-optimisation figure: not drawn ({why_not_drawn(result.out_dir)})")
    return 0
