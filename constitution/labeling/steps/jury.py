"""A jury of step judges (``label-steps --judge A --judge B``): each judge labels every trace into
``OUT/judges/<name>/`` (one after the other, loaded and released in turn, through one judgment cache told apart by
the judge's identity); a step's jury label is the judges' weighted mean of P(step good), written for the traces at
least ``quorum`` judges labelled (the others are listed in ``skipped.jsonl``). Each judge's labels are read back
one line at a time and held as floats per trace id (no text) while the jury combines them. Votes are matched by
trace id, so a source whose ids repeat is refused before any judge runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import NamedTuple

from constitution.data.steps import StepReader, hard_labels
from constitution.errors import InputError
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.jury.config import JudgeSpec, check_quorum, juror_names
from constitution.labeling.steps.output import StepLabelWriter, label_steps_to_folder
from constitution.labeling.steps.labeler import StepLabelConfig, StepLabeler, StepLabelRecord, StepLabelSummary
from constitution.llm.factory import make_llm
from constitution.step_principles import StepPrinciples


class _Vote(NamedTuple):
    """One judge's labels of one trace."""

    weight: float
    labels: list[float]
    per_principle: dict[str, list[float]]


def _mean(values: list[list[float]], weights: list[float]) -> list[float]:
    total = sum(weights)
    return [sum(w * v[k] for v, w in zip(values, weights)) / total for k in range(len(values[0]))]


def refuse_repeated_ids(reader: StepReader) -> None:
    """InputError naming the first trace id that appears twice (its two places among the readable traces)."""
    seen: dict[str, int] = {}
    on_bad, reader.on_bad = reader.on_bad, lambda error: None  # unreadable rows are reported by the labeling pass
    try:
        for index, trace in enumerate(reader):
            first = seen.setdefault(trace.id, index)
            if first != index:
                raise InputError(
                    f"trace id {trace.id!r} appears twice (traces {first + 1} and {index + 1}): a jury combines its "
                    "judges' labels by trace id, so every trace needs its own id", where=str(reader.source),
                )  # fmt: skip
    finally:
        reader.on_bad = on_bad


def _read_votes(labels: Path, weight: float, votes: dict[str, list[_Vote]]) -> None:
    with open(labels, encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            votes.setdefault(record["id"], []).append(_Vote(weight, record["soft_labels"], record["per_principle"]))


def step_jury(
    principles: StepPrinciples, judges: list[JudgeSpec], cache: JudgmentCache, config: StepLabelConfig, reader: StepReader,
    out: str | Path, *, quorum: int | None = None, show_progress: bool = True,
) -> StepLabelSummary:  # fmt: skip
    """Label with every judge, then combine (see the module docstring); returns the jury's summary."""
    started = time.perf_counter()
    out = Path(out)
    need = check_quorum(quorum, len(judges))
    names = juror_names(judges)
    refuse_repeated_ids(reader)
    votes: dict[str, list[_Vote]] = {}
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
        _read_votes(folder / "labels.jsonl", spec.weight, votes)
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
            weights = [v.weight for v in got]
            per_principle = {pid: _mean([v.per_principle[pid] for v in got], weights) for pid in got[0].per_principle}
            labelled += 1
            steps += len(trace.completions)
            soft = _mean([v.labels for v in got], weights)
            writer.write(StepLabelRecord(
                id=trace.id, prompt=trace.prompt, completions=trace.completions, labels=hard_labels(soft), soft_labels=soft,
                per_principle=per_principle, judge=jury, step_principles_hash=principles.hash,
            ))  # fmt: skip
        summary = StepLabelSummary(
            judge=jury, step_principles_hash=principles.hash, traces=labelled, traces_skipped=below,
            traces_failed=sum(m.traces_failed for m in members), rows_bad=reader.report.bad_rows,
            steps=steps, judgments=sum(m.judgments for m in members),
            judgments_computed=sum(m.judgments_computed for m in members), judgments_cached=sum(m.judgments_cached for m in members),
            seconds=time.perf_counter() - started,
        )  # fmt: skip
        writer.finish(summary)
    return summary
