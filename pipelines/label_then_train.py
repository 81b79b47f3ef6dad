"""The main job, as a script: the same as ``constitution run`` (see ``constitution run --help``).

    python pipelines/label_then_train.py                      # the embedded demo (SmolLM2 + MiniLM, ~10 min on 2 CPUs)
    python pipelines/label_then_train.py --config run.yaml    # a real run (hub models, vllm serve endpoints, HH-RLHF…)
    python pipelines/label_then_train.py --print-config       # every config field, documented, with its default
    python pipelines/label_then_train.py --from label         # re-run from a stage (generate, label, train, evaluate, audit, report)
"""

from __future__ import annotations

import sys

from constitution.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["run", *sys.argv[1:]]))
