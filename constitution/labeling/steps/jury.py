"""A jury of step judges (``label-steps --judge A --judge B``): each judge labels every trace into
``OUT/judges/<name>/`` (one after the other, loaded and released in turn, through one judgment cache told apart by
the judge's identity); a step's jury label is the judges' weighted mean of P(step good), written for the traces at
least ``quorum`` judges labelled (the others are listed in ``skipped.jsonl``). The judges' labels are held as
floats per step while the jury combines them.
"""

from __future__ import annotations

import time
from pathlib import Path

from constitution.data.steps import StepReader
from constitution.errors import InputError
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.jury.config import JudgeSpec, check_quorum, juror_names
from constitution.labeling.steps.output import StepLabelWriter, label_steps_to_folder
from constitution.labeling.steps.labeler import StepLabelConfig, StepLabeler, StepLabelRecord, StepLabelSummary
from constitution.llm.factory import make_llm
from constitution.step_principles import StepPrinciples


def _mean(values: list[list[float]], weights: list[float]) -> list[float]:
    total = sum(weights)
    return [sum(w * v[k] for v, w in zip(values, weights)) / total for k in range(len(values[0]))]


def step_jury(
    principles: StepPrinciples, judges: list[JudgeSpec], cache: JudgmentCache, config: StepLabelConfig, reader: StepReader,
    out: str | Path, *, quorum: int | None = None, show_progress: bool = True,
) -> StepLabelSummary:  # fmt: skip
    """Label with every judge, then combine (see the module docstring); returns the jury's summary."""
    started = time.perf_counter()
    out = Path(out)
    need = check_quorum(quorum, len(judges))
    names = juror_names(judges)
    votes: dict[str, list[tuple[float, StepLabelRecord]]] = {}
    identities: dict[str, str] = {}
    members: list[StepLabelSummary] = []
    for spec, name in zip(judges, names):
        llm = make_llm(spec.llm)
        try:
            if llm.identity in identities:
                raise InputError(f"judges {identities[llm.identity]!r} and {name!r} are the same judge ({llm.identity})")
            identities[llm.identity] = name
            folder = out / "judges" / name
            members.append(label_steps_to_folder(StepLabeler(principles, llm, cache, config), reader, folder, show_progress=show_progress))
        finally:
            llm.close()
        for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines():
            record = StepLabelRecord.model_validate_json(line)
            votes.setdefault(record.id, []).append((spec.weight, record))
    jury = "jury:" + "+".join(names)
    labelled = below = steps = 0
    with StepLabelWriter(out) as writer:
        reader.on_bad = writer.bad_row
        for trace in reader:
            got = votes.pop(trace.id, [])
            if len(got) < need:
                below += 1
                writer.skipped(trace.id, f"below quorum: {len(got)} of {len(judges)} judges labelled it (quorum {need})")
                continue
            weights = [w for w, _ in got]
            per_principle = {pid: _mean([r.per_principle[pid] for _, r in got], weights) for pid in got[0][1].per_principle}
            labelled += 1
            steps += len(trace.completions)
            writer.write(got[0][1].model_copy(update={
                "labels": _mean([r.labels for _, r in got], weights), "per_principle": per_principle, "judge": jury,
            }))  # fmt: skip
        summary = StepLabelSummary(
            judge=jury, step_principles_hash=principles.hash, traces=labelled, traces_skipped=below,
            traces_failed=sum(m.traces_failed for m in members), rows_bad=reader.report.bad_rows,
            steps=steps, judgments=sum(m.judgments for m in members),
            judgments_computed=sum(m.judgments_computed for m in members), judgments_cached=sum(m.judgments_cached for m in members),
            seconds=time.perf_counter() - started,
        )  # fmt: skip
        writer.finish(summary)
    return summary
