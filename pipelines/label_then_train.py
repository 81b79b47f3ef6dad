"""The main job: prompts -> pairs (policy) -> AI feedback (judge + constitution) -> reward model -> eval -> report.

    python pipelines/label_then_train.py                      # the embedded demo (SmolLM2 + MiniLM, ~10 min on 2 CPUs)
    python pipelines/label_then_train.py --config run.yaml    # a real run (hub models, vllm serve endpoints, HH-RLHF…)
    python pipelines/label_then_train.py --print-config       # every config field, documented, with its default
    python pipelines/label_then_train.py --from label         # re-run from a stage (generate, label, train, evaluate, report)

Stages reuse their output in the run folder while their inputs are unchanged; the judgment cache makes a re-run
after editing one principle ask the judge only about that principle.
"""

from __future__ import annotations

import argparse
import json
import sys

from constitution.errors import InputError
from constitution.pipeline.config import PipelineConfig, config_yaml, load_config
from constitution.pipeline.run import STAGES, Pipeline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", help="YAML config (see --print-config)")
    parser.add_argument("--print-config", action="store_true", help="print the config (defaults, or --config's) and exit")
    parser.add_argument("--from", dest="rerun_from", choices=STAGES, help="re-run this stage and every later one")
    parser.add_argument("--run-dir", help="override the config's run_dir")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config) if args.config else PipelineConfig()
        if args.run_dir:
            config = config.model_copy(update={"run_dir": args.run_dir})
        if args.print_config:
            print(config_yaml(config), end="")
            return 0
        headline = Pipeline(config, rerun_from=args.rerun_from).run()
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(headline, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
