"""``constitution run [--config FILE]``: the main job, prompts -> pairs (policy) -> AI feedback (judge +
constitution) -> reward model -> evaluation -> report.

With no config it runs the embedded demo (SmolLM2 as policy and judge, MiniLM reward model, 156 prompts shipped
with the package). Stages reuse their output in the run folder while their inputs are unchanged; the judgment cache
makes a re-run after editing one principle ask the judge only about that principle.
"""

from __future__ import annotations

import argparse
import json

from constitution.cli._common import constitution_path
from constitution.pipeline.stages import STAGES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the label-then-train job (the embedded demo without --config)", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", help="YAML or JSON config (see --print-config)")
    p.add_argument("--print-config", action="store_true", help="print the config (defaults, or --config's), documented, and exit")
    p.add_argument("--from", dest="rerun_from", choices=STAGES, help="re-run this stage and every later one")
    p.add_argument("--run-dir", help="override the config's run_dir")
    p.add_argument("--human-eval", help="override the config's human_eval (human-labelled pairs to evaluate on)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.config_files import load_config_file
    from constitution.pipeline.config import PipelineConfig, config_yaml

    overrides = {k: v for k, v in {"run_dir": args.run_dir, "human_eval": args.human_eval}.items() if v is not None}
    config = load_config_file(PipelineConfig, args.config, overrides) if args.config else PipelineConfig(**overrides)
    if config.constitution is None:  # ./principles when there is one (`constitution init`), else the packaged one
        config = config.model_copy(update={"constitution": str(constitution_path(None))})
    if args.print_config:
        print(config_yaml(config), end="")
        return 0
    from constitution.pipeline.run import Pipeline
    from constitution.reward.backbone import check_max_length

    check_max_length(config.training.base_model, config.training.max_length, "training.max_length")

    headline = Pipeline(config, rerun_from=args.rerun_from).run()
    print(json.dumps(headline, indent=2))
    return 0
