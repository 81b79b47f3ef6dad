"""``--verbose`` on every command. Without it, vLLM keeps to errors (~300 lines per judge start otherwise),
transformers gives no advisory warnings, datasets no progress bars of its own and libraries' FutureWarnings are
hidden, so our own lines are what a run prints; with it, they log as they normally do. transformers stays at its
default level: raising it would also turn off the Trainer's progress bar. Environment variables, so that vLLM's
engine and worker processes (which configure their logging when they import vLLM) inherit them; a value the user
set is kept."""

from __future__ import annotations

import argparse
import os
import warnings
from collections.abc import MutableMapping

QUIET = {
    "VLLM_LOGGING_LEVEL": "ERROR",  # ~300 lines per judge start (135 about loading fp32 weights into bf16)
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",  # "Generating train split", "Saving the dataset" (hub downloads keep theirs)
    "PYTHONWARNINGS": "ignore::FutureWarning,ignore::DeprecationWarning",  # libraries' notes to their own callers
}


def add_verbose_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--verbose", action="store_true", help="let vLLM, transformers and datasets log as they normally do (default: vLLM errors only)")


def quiet_libraries(verbose: bool, environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Unless ``verbose``, set each :data:`QUIET` variable the user has not set in ``environ`` (default
    ``os.environ``; call it before vLLM or transformers is imported); returns the ones it set."""
    target = os.environ if environ is None else environ
    if verbose:
        return {}
    applied = {k: v for k, v in QUIET.items() if k not in target}
    target.update(applied)
    if "PYTHONWARNINGS" in applied and environ is None:  # this process read it at start: the same filter here
        warnings.filterwarnings("ignore", category=FutureWarning)
    return applied
