"""``constitution audit RM --responses FILE --out DIR``: does the reward model pay for what it should not?

Every response in FILE (rows with ``prompt`` and ``response``, as ``score`` reads them; an optional boolean ``safe``)
is rewritten by each probe: filler, a restatement, repetition, a confident tone, flattery, self-praise, a markdown
list, emoji, a fake citation and the prompt parroted must not raise the reward; refusal boilerplate (safe prompts
only) and the answer cut in half must lower it. Each rewrite also gets a length-matched neutral control (the original
with as much neutral text, in the model's tokens, where the probe added its text); the probes whose content or form
is the point (tone, flattery, self-praise, a list, emoji, a citation, the parroted prompt) are flagged only when the reward
rises against the original and against the control, so that a reward paying for length alone is flagged by the
verbosity probes only. Probes are YAML (``--probes FILE``; default
the shipped set, ``constitution/resources/audit_probes.yaml``, to copy and edit), rendered in the principles'
template sandbox.
DIR gets ``audit.json`` and ``audit.md``: per probe the items, the mean change of the normalised reward with a 95%
interval, the same against the control, the share of items raised and, for a per-principle model, the heads that
move. ``--fail-on PROBE>X`` (repeatable; also ``PROBE<X``) exits 1 unless the 95% interval of the probe's change
lies at or below X (at or above, with ``<``), or, for a probe judged against its control, that of its change against
the control does; a probe asked of fewer than two items fails its gate: a gate for CI.
A malformed gate or an unknown probe exits 2 before the model loads.
"""

from __future__ import annotations

import argparse
import sys

from constitution.audit.records import AuditSettings
from constitution.cli._flags import add_fields, build, given
from constitution.cli._heads_flag import add_heads_constitution_flag, heads_constitution


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="counterfactual probes of a reward model (verbosity, flattery, …)", description=__doc__)
    p.add_argument("model", help="reward model folder")
    p.add_argument("--responses", required=True, help="responses to rewrite: JSONL/Parquet/CSV/datasets folder")
    p.add_argument("--out", required=True, help="output folder (audit.json, audit.md)")
    p.add_argument("--probes", default=None, help="probes YAML (default: the shipped set)")
    p.add_argument("--fail-on", action="append", default=[], metavar="PROBE>X", help="exit 1 unless the probe's 95%% interval lies at or below X (at or above, with <); quote it in a shell")
    add_heads_constitution_flag(p)
    add_fields(p, AuditSettings)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from constitution.audit import Gate, audit_reward_model, load_probes, read_items, write_audit
    from constitution.embedded_models import display_name
    from constitution.resources import default_audit_probes
    from constitution.reward.model import RewardModel

    settings = build(AuditSettings, given(args, AuditSettings.model_fields), "audit")
    gates = [Gate.parse(text) for text in args.fail_on]
    probes = load_probes(args.probes or default_audit_probes())
    for gate in gates:
        probes[gate.probe]  # an unknown probe is an error before the model loads
    items = read_items(args.responses, settings.limit)
    model = RewardModel.load(args.model, constitution=heads_constitution(args.constitution))
    report = audit_reward_model(model, probes, items, name=display_name(args.model), batch_size=settings.batch_size)
    out = write_audit(report, args.out)
    print((out / "audit.md").read_text())
    failures = [f for f in (gate.failure(report) for gate in gates) if f]
    for failure in failures:
        print(f"audit gate failed: {failure}", file=sys.stderr)
    return 1 if failures else 0
