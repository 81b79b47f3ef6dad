"""``constitution diff OLD NEW --pairs FILE``: what an edit of the constitution changed.

OLD and NEW are principle folders or files, or git revisions of one (``HEAD~1:principles``: the path as
``git show`` reads it, from the repository of the working directory). First the constitution itself (principles
added, removed, reworded, re-weighted; templates, sampling, safety policy), then its effect on the same pairs:
labels that flipped, the distribution of |Δp|, per-principle changes and the pairs that moved most, each with the
principle texts before and after. Both versions label the pairs through one judgment cache, so the judge is asked
only what the edit invalidated (a reworded principle: its own judgments; a weight change: only the pairs whose
weighted draw it changes, none under rule ``all``). Pass the cache of an earlier ``constitution label`` run
(``--cache LABEL_OUT/judgments.sqlite``) and the old labels cost nothing.

OUT receives ``diff.json``, ``diff.md`` and ``diff_dp.png`` (|Δp|). An OLD or NEW that does not validate is
reported as ``constitution validate`` reports it (file:line), exit 2.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from constitution.cli._common import print_errors
from constitution.cli._flags import add_fields, build, given
from constitution.cli._llm_flags import add_llm_flags, llm_from_args
from constitution.cli.label import LABELING
from constitution.labeling.config import LabelConfig

DEFAULT_OUT = "runs/diff"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("diff", help="what an edit of the constitution changed: its labels (and rewards) before and after", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("old", help="the old version: principles folder or file, or REV:PATH in git (e.g. HEAD~1:principles)")
    p.add_argument("new", help="the new version, in the same forms")
    p.add_argument("--pairs", required=True, help="pairs to label: JSONL/Parquet/CSV/datasets folder or hub id")
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default: ./{DEFAULT_OUT}, beside `run`'s folders)")
    p.add_argument("--cache", default=None, help="judgment cache (default OUT/judgments.sqlite)")
    p.add_argument("--limit", type=int, default=None, help="only the first N pairs")
    p.add_argument("--top", type=int, default=10, help="pairs (and responses) that moved most to show (default 10)")
    p.add_argument("--model", default=None, help="a reward model with per-principle heads: also which rewards and safety decisions moved")
    p.add_argument("--batch-size", type=int, default=64, help="--model: responses per forward pass (default 64)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_fields(p.add_argument_group("labeling"), LabelConfig, names=LABELING)
    add_llm_flags(p, "judge", model_flag="--judge")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.data.pairs import load_pairs
    from constitution.diff import diff_job, format_diff, write_diff
    from constitution.errors import InputError, InputErrors
    from constitution.sources import load_version

    versions, bad = [], 0
    for side, spec in (("OLD", args.old), ("NEW", args.new)):
        try:
            versions.append((spec, load_version(spec)))
        except InputErrors as exc:
            print_errors(exc, f"{side} ({spec})")
            bad += 1
    if bad:
        return 2
    config = build(LabelConfig, given(args, LabelConfig.model_fields), "labeling", LABELING)
    judge = llm_from_args(args, "judge")
    pairs, _ = load_pairs(args.pairs, limit=args.limit)
    if not pairs:
        raise InputError("no pairs to label", where=args.pairs)
    out = Path(args.out)
    report = diff_job(versions[0], versions[1], pairs, judge, args.cache or out / "judgments.sqlite", config,
                      model=args.model, top=args.top, batch_size=args.batch_size, show_progress=not args.no_progress)  # fmt: skip
    written = write_diff(report, out)
    print(format_diff(report))
    print(f"wrote {', '.join(str(p) for p in written)}")
    return 0
