"""``constitution train DATA --out DIR``: train a scalar reward model (soft-label Bradley–Terry) on preference pairs.

DATA is any pair file or `datasets` folder that ``constitution label`` writes or TRL/HH-RLHF use. The output folder
is a standard transformers model (AutoModelForSequenceClassification, num_labels=1) plus constitution_reward.json.
Runs unchanged under ``accelerate launch`` (DDP/FSDP/DeepSpeed). Prints the training result as JSON.

Per-principle heads (--heads per_principle): DATA must be AI-feedback records (`constitution label` output), whose
per_principle labels train one head per principle of --constitution, each only on the pairs its principle judged.
The reward is then the constitution-weighted mean of the heads (Σ w_k r_k / Σ w_k, on the scale of the labels' p_a), read when the model is loaded: `score`,
`classify`, `best-of-n`, `serve` and the RL reward take --constitution, and a weight edit needs no retraining.
--add-principle ID adds one head to such a model (OUT, or --from MODEL written to OUT): the pairs missing its label
are judged through the judgment cache (only that principle, only what is not cached), and only the new head is
fitted, on frozen features. A principle deleted from the constitution simply drops out of the reward (its head
stays in the folder, with weight 0). --category-labels JUDGED fits safety-category heads for OUT (see its help).

--kind process trains a process reward model instead: DATA holds step labels (`label-steps` output or TRL's
stepwise layout); see constitution.reward.process.trainer.

Crash-safe: checkpoints go to OUT/checkpoints every --checkpoint-steps updates (and per epoch with held-out pairs);
running the same command again after a crash or kill resumes from the newest complete one. OUT is replaced as a
whole, in one rename, once the new model is fully written. A nan/inf loss, reward or gradient stops training with
exit code 1, naming the step and the last good checkpoint (which is kept).
"""

from __future__ import annotations

import argparse
import json
import sys

from constitution.cli._common import add_constitution_flag, constitution_path
from constitution.cli._flags import add_fields, build, given
from constitution.cli._llm_flags import add_llm_flags
from constitution.cli._train_process import add_process_flags, train_process
from constitution.reward.config import RewardTrainingConfig

NAMES = {"learning_rate": "--lr"}
FIELDS = [name for name in RewardTrainingConfig.model_fields if name != "lora"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a reward model on preference pairs", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("data", help="pairs: JSONL/Parquet/CSV file, datasets folder or hub id")
    p.add_argument("--out", required=True, help="output folder (replaced as a whole when the new model is complete)")
    p.add_argument("--limit", type=int, default=None, help="use the first N pairs")
    p.add_argument("--eval-data", default=None, help="held-out pairs for per-epoch eval (default: a slice of DATA)")
    p.add_argument("--config", default=None, help="YAML or JSON file of training settings (flags override it)")
    settings = p.add_argument_group("training settings")
    add_fields(settings, RewardTrainingConfig, FIELDS, names=NAMES)
    settings.add_argument("--lora-r", type=int, default=None, help="train LoRA adapters of this rank, alpha 2r (merged on save)")
    heads = p.add_argument_group("per-principle heads")
    add_constitution_flag(heads)
    heads.add_argument("--add-principle", default=None, metavar="ID", help="add this principle's head to a per-principle model (see above)")
    heads.add_argument("--from", dest="from_model", default=None, metavar="MODEL", help="--add-principle: the model to extend (default: OUT, replaced)")
    heads.add_argument("--cache", default=None, help="--add-principle: judgment cache (default: DATA/judgments.sqlite, or beside a DATA file)")
    heads.add_argument(
        "--category-labels", default=None, metavar="JUDGED",
        help="fit safety-category heads for the reward model OUT instead: DATA is what judge-mode `classify "
        "--categories --threshold 0` read, JUDGED its output (per-category scores, joined by id)",
    )  # fmt: skip
    add_llm_flags(p, "judge", model_flag="--judge", skip=("seed",))  # --add-principle's judge
    add_process_flags(p)
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> RewardTrainingConfig:
    from constitution.config_files import load_config_file

    flags = given(args, FIELDS)
    if args.lora_r:
        flags["lora"] = {"r": args.lora_r, "alpha": 2 * args.lora_r}
    if args.config:
        return load_config_file(RewardTrainingConfig, args.config, flags)
    return build(RewardTrainingConfig, flags, "training config", NAMES)


def _add_principle(args: argparse.Namespace, config: RewardTrainingConfig) -> int:
    from constitution.cli._llm_flags import llm_from_args
    from constitution.labeling.principle_judge import default_cache, principle_judge
    from constitution.loader import load_constitution
    from constitution.reward.add_principle import add_principle
    from constitution.reward.principle_pairs import load_principle_pairs

    constitution = load_constitution(constitution_path(args.constitution))
    pairs = load_principle_pairs(args.data, limit=args.limit)
    judge = principle_judge(llm_from_args(args, "judge"), args.cache or default_cache(args.data))
    result = add_principle(args.from_model or args.out, args.out, constitution, args.add_principle, pairs, judge=judge, config=config)
    print(
        f"principle {result.principle}: {result.judgments_computed} judgments asked, {result.judgments_cached} cached, "
        f"{result.pairs_unlabelled} pair(s) not labelled",
        file=sys.stderr,
    )
    print(json.dumps(result.model_dump()))
    return 0


def run(args: argparse.Namespace) -> int:
    from constitution.data.rows import constitution_hashes
    from constitution.loader import load_constitution
    from constitution.reward.backbone import check_max_length
    from constitution.reward.head_kinds import head_kind
    from constitution.reward.training import load_training_pairs, train

    if args.kind == "process":
        return train_process(args, given(args, FIELDS))
    config = _config(args)
    if args.category_labels:
        from constitution.safety.category_labels import fit_categories

        fitted = fit_categories(args.data, args.category_labels, args.out, l2=config.frozen_head_l2, limit=args.limit)
        print(fitted.model_dump_json())
        return 0
    if args.add_principle:
        return _add_principle(args, config)
    check_max_length(config.base_model, config.max_length)
    kind = head_kind(config.heads)
    constitution = load_constitution(constitution_path(args.constitution)) if kind.needs_constitution else None
    pairs, load = load_training_pairs(config, args.data, args.limit)
    eval_pairs = load_training_pairs(config, args.eval_data)[0] if args.eval_data else None
    identical = sum(p.response_a == p.response_b for p in pairs)
    if identical:
        print(f"note: {identical} pair(s) have identical responses: a tie whatever the label, they teach nothing", file=sys.stderr)
    result = train(
        config, pairs, args.out, eval_pairs=eval_pairs, train_data=str(args.data),
        constitution_hash=constitution_hashes(args.data), constitution=constitution,
    )  # fmt: skip
    if result.process_index == 0:  # under accelerate launch, one JSON line from the main process
        print(json.dumps({"load": load, **result.model_dump()}))
    return 0
