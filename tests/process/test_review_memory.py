"""Issue 34 item 6 (memory): the step labeler's summary keeps running sums, not every label; the step jury keeps
floats per trace id, not its judges' whole records; ``score-steps`` scores before it has read its whole input.

Memory is measured with ``tracemalloc`` (bytes held, never time). The judges are :class:`QuietJudge`, a stand-in
(fake) for a loaded model: it isolates our own memory from a model's, keeps nothing per question and answers from
the chain checker of tests/process/chains.py.
"""

from __future__ import annotations

import gc
import json
import math
import random
import tracemalloc
import zlib
from pathlib import Path

import pytest

from constitution.data.steps import StepReader, StepTrace, write_steps
from constitution.labeling.cache import JudgmentCache
from constitution.labeling.steps.labeler import StepLabelConfig, StepLabeler, StepLabelRecord
from constitution.llm.base import OptionResult
from constitution.step_principles import load_step_principles
from tests.process.chains import JUDGED, ChainJudge, make_chain

STEPS = 40  # users' traces


class QuietJudge(ChainJudge):
    """The stand-in judge, keeping nothing per question (``ChainJudge`` records every prompt). P(right answer) is
    the same in both option orders and varies from step to step (and from judge to judge, by ``salt``)."""

    def __init__(self, salt: str = "") -> None:
        super().__init__()
        self.salt = salt

    def score_options(self, requests):
        for request in requests:
            _, _, first_right = self.verdict(request.text)
            step = JUDGED.search(request.text).group(3)
            p_right = 0.55 + 0.44 * (zlib.crc32((self.salt + step).encode()) % 1000) / 1000
            p = p_right if first_right else 1.0 - p_right
            yield OptionResult(request.key, (math.log(p), math.log(1.0 - p)))


def _chains(n: int, *, seed: int = 0, prompt_tail: str = "") -> list[StepTrace]:
    """``n`` chains of :data:`STEPS` steps, most with one wrong step; ``prompt_tail`` is appended to each prompt."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        trace = make_chain(rng, i, STEPS, rng.randrange(STEPS) if rng.random() < 0.7 else None)[0]
        out.append(trace.model_copy(update={"prompt": trace.prompt + prompt_tail}))
    return out


def _held_by(pattern: str) -> int:
    """Bytes still allocated (and reachable: garbage is collected first) from lines of the files matching
    ``pattern`` (tracemalloc must be tracing)."""
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, pattern)])
    return sum(stat.size for stat in snapshot.statistics("filename"))


class _MeasuringSink:
    """Writes each record as a JSON line; at the last record it measures what the library's code (any file of the
    ``constitution`` package) still holds: the summary's state is alive then, the last chunk being written."""

    def __init__(self, path: Path, expected: int, package_files: str) -> None:
        self.fh = path.open("w", encoding="utf-8")
        self.expected, self.package_files = expected, package_files
        self.written = 0
        self.held: int | None = None

    def write(self, record: StepLabelRecord) -> None:
        self.fh.write(record.model_dump_json() + "\n")
        self.written += 1
        if self.written == self.expected:
            self.held = _held_by(self.package_files)

    def skipped(self, trace_id: str, reason: str) -> None:
        raise AssertionError(f"{trace_id} skipped: {reason}")

    def failed(self, trace_id: str, error: str) -> None:
        raise AssertionError(f"{trace_id} failed: {error}")


def test_the_step_labelers_summary_does_not_grow_with_the_labels(tmp_path: Path, step_folder: Path):
    """Label 16 and then 64 traces of 40 steps (a chunk of 4 at a time): what the library holds while the last
    record is written must not grow with the number of labels (it held every label and every principle's label in
    lists: ~64 bytes a step, ~130 KB more for the 48 more traces), and the summary's figures are the brute-force
    ones over the written labels."""
    import constitution

    principles = load_step_principles(step_folder)
    traces = _chains(64)
    held, summaries, written = [], [], []
    for n in (1, 16, 64):  # the last n traces (each run ends on the same chunk); the first run makes the first calls' caches
        labeler = StepLabeler(principles, QuietJudge(), JudgmentCache(tmp_path / f"c{n}.sqlite"), StepLabelConfig(chunk_traces=4))
        sink = _MeasuringSink(tmp_path / f"labels{n}.jsonl", n, str(Path(constitution.__file__).parent / "*"))
        tracemalloc.start()
        try:
            summaries.append(labeler.label(iter(traces[-n:]), sink))
        finally:
            tracemalloc.stop()
            sink.fh.close()
        held.append(sink.held)
        written.append([json.loads(line) for line in (tmp_path / f"labels{n}.jsonl").read_text().splitlines()])
    assert held[2] - held[1] < 24_000, f"the library held {held[1]} bytes after 16 traces, {held[2]} after 64"
    for summary, rows in zip(summaries[1:], written[1:]):
        labels = [x for row in rows for x in row["soft_labels"]]
        correct = [x for row in rows for x in row["per_principle"]["step-correct"]]
        assert (summary.traces, summary.steps) == (len(rows), len(labels)) == (len(rows), STEPS * len(rows))
        assert summary.mean_label == pytest.approx(sum(labels) / len(labels), rel=1e-12)
        assert summary.per_principle_mean == pytest.approx({"step-correct": sum(correct) / len(correct)}, rel=1e-12)
        assert summary.traces_with_bad_step_pct == 100.0 * sum(any(x < 0.5 for x in r["soft_labels"]) for r in rows) / len(rows)
        assert summary.order_flip_pct == 0.0  # the stand-in answers alike in both orders
        assert 0.0 < summary.traces_with_bad_step_pct < 100.0 and 0.3 < summary.mean_label < 0.95  # not a trivial case


def test_the_step_jury_holds_floats_per_trace_not_its_judges_records(tmp_path: Path, step_folder: Path, monkeypatch):
    """Three judges (weights 1, 3, 2) label 12 traces of 40 steps, once with short prompts and once with 6 KB more
    prompt each: the memory the jury holds when it starts combining must not grow with the traces' text (it held
    every judge's whole record of every trace: ~190 KB more here); each combined label is the judges' weighted mean
    of their own written labels."""
    import datasets  # noqa: F401  (imported before measuring: a first import is not the jury's memory)

    from constitution.labeling.jury.config import JudgeSpec
    from constitution.labeling.steps import jury as step_jury

    monkeypatch.setattr(step_jury, "make_llm", lambda config: _named(QuietJudge(salt=config.model), config.model))
    measured: list[int] = []

    class MeasuringWriter(step_jury.StepLabelWriter):  # the jury's own writer: made once every judge is done
        def __init__(self, out):
            gc.collect()
            measured.append(tracemalloc.get_traced_memory()[0])
            super().__init__(out)

    monkeypatch.setattr(step_jury, "StepLabelWriter", MeasuringWriter)
    weights = {"a": 1.0, "b": 3.0, "c": 2.0}
    judges = [JudgeSpec.model_validate({"backend": "hf", "model": m, "weight": w}) for m, w in weights.items()]
    principles = load_step_principles(step_folder)

    def run(name: str, traces: list[StepTrace]) -> int:
        source = write_steps(tmp_path / f"{name}.jsonl", traces)
        tracemalloc.start()
        try:
            gc.collect()
            before = tracemalloc.get_traced_memory()[0]
            cache = JudgmentCache(tmp_path / f"{name}.sqlite")
            step_jury.step_jury(principles, judges, cache, StepLabelConfig(), StepReader(source), tmp_path / name, show_progress=False)
            return measured[-1] - before
        finally:
            tracemalloc.stop()

    run("warm", _chains(1, seed=9))  # first calls (imports, caches) outside the comparison
    tail = " Mind every carry and copy each number from the step before." * 100  # ~6 KB
    short, long = run("short", _chains(12)), run("long", _chains(12, prompt_tail=tail))
    assert long - short < 24_000, f"the jury held {short} bytes with short prompts, {long} with 6 KB more each"
    rows = [json.loads(line) for line in (tmp_path / "long" / "labels.jsonl").read_text().splitlines()]
    votes = {m: [json.loads(x) for x in (tmp_path / "long" / "judges" / f"hf-{m}" / "labels.jsonl").read_text().splitlines()] for m in weights}
    traces = _chains(12, prompt_tail=tail)
    assert [r["id"] for r in rows] == [t.id for t in traces] and all(len(votes[m]) == len(traces) for m in weights)
    for k, (row, trace) in enumerate(zip(rows, traces)):
        assert row["prompt"] == trace.prompt and row["completions"] == trace.completions and row["labels"] == trace.labels
        expected = [sum(w * votes[m][k]["soft_labels"][s] for m, w in weights.items()) / 6.0 for s in range(STEPS)]
        assert row["soft_labels"] == pytest.approx(expected, rel=1e-12)


def _named(judge: QuietJudge, model: str) -> QuietJudge:
    judge.identity = judge.name = model
    return judge


class _Stop(BaseException):
    """Ends the scoring run at the model's first forward pass (past the CLI's ``except Exception``)."""


def test_score_steps_scores_before_it_has_read_the_whole_input(tmp_path: Path, monkeypatch):
    """600 one-step traces (more than one chunk of the stream): the model's first forward pass must come before the
    reader reaches the last trace (it read every trace into a list before scoring any). A spy counts the traces
    read (it wraps the reader's row-to-trace step and changes nothing); MiniLM's forward is replaced by one that
    records that count and stops the run (an injected stop, so that the test does not pay for scoring 600 traces on
    the CPU: other tests check the rows)."""
    from transformers import BertForTokenClassification

    from constitution.cli import main
    from constitution.data import steps
    from tests.helpers.reward_folders import process_folder

    traces = [StepTrace(id=f"t{i}", prompt="Add one.", completions=[f"{i} + 1 = {i + 1}"]) for i in range(600)]
    source = write_steps(tmp_path / "traces.jsonl", traces)
    model = process_folder(tmp_path / "prm")
    read: list[int] = []
    read_at_first_forward: list[int] = []
    real_row_to_trace = steps.row_to_trace

    def counting_row_to_trace(*args, **kwargs):
        read.append(1)
        return real_row_to_trace(*args, **kwargs)

    def first_forward(self, *args, **kwargs):
        read_at_first_forward.append(len(read))
        raise _Stop

    monkeypatch.setattr(steps, "row_to_trace", counting_row_to_trace)
    monkeypatch.setattr(BertForTokenClassification, "forward", first_forward)
    with pytest.raises(_Stop):
        main(["score-steps", str(model), str(source), "--out", str(tmp_path / "scores.jsonl")])
    assert 0 < read_at_first_forward[0] < len(traces), f"the model first ran after {read_at_first_forward[0]} of {len(traces)} traces were read"
