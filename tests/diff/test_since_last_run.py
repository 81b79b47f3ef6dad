"""The pipeline keeps the labels it replaces when the constitution changed, and its report says what changed.

The pipeline's own label step runs (its judge replaced by :class:`WordJudge`, whose answers the test controls); the
report section is rendered from what that step left in the run folder."""

from __future__ import annotations

import json
from pathlib import Path

from constitution.diff import diff_folders
from constitution.pipeline.config import PipelineConfig
from constitution.pipeline.report import since_last_run
from constitution.pipeline.run import Pipeline
from constitution.pipeline.stages import StageRecord

from tests.diff.helpers import WordJudge, word_pairs, write_principles

RAN = {"label": StageRecord(fingerprint="f", seconds=1.0, outputs=[])}


def _label(run_dir: Path, principles: Path, pairs: Path) -> Pipeline:
    pipeline = Pipeline(PipelineConfig(run_dir=str(run_dir), pairs=str(pairs), constitution=str(principles)), log=lambda _: None)
    judge = WordJudge()
    pipeline._model = lambda role: judge  # the judge is the only part replaced
    pipeline._label(str(pairs))
    return pipeline


def test_the_report_shows_what_the_edit_changed_since_the_last_run(tmp_path: Path):
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"id": p.id, "prompt": "Say something.", "response_a": p.response_a, "response_b": p.response_b}) + "\n" for p in word_pairs()))
    run_dir, plots = tmp_path / "run", tmp_path / "run" / "plots"
    plots.mkdir(parents=True)
    old = write_principles(tmp_path / "old", [("kind", "Which response is more kind?", 3.0), ("short", "Which response is more short?", 1.0)])
    new = write_principles(tmp_path / "new", [("kind", "Which response is more kind?", 1.0), ("short", "Which response is more short?", 3.0)])

    first = _label(run_dir, old, pairs)
    assert not (run_dir / "previous").exists() and since_last_run(run_dir, first.labels_dir, plots, RAN) == []

    second = _label(run_dir, new, pairs)
    assert sorted(p.name for p in (run_dir / "previous").iterdir()) == ["constitution.json", "labels.jsonl"]
    report = diff_folders(run_dir / "previous", second.labels_dir)
    assert report.spec.old_hash == first.constitution.hash and report.spec.new_hash == second.constitution.hash
    assert report.labels.pairs == len(word_pairs()) and report.labels.flipped > 0
    section = "\n".join(since_last_run(run_dir, second.labels_dir, plots, RAN))
    assert section.startswith("## Since the last run\n")
    assert "- kind: reweighted; weight 3 → 1" in section and f"{report.labels.flipped} labels flipped" in section
    assert "![|Δp|](plots/since_last_run.png)" in section and (plots / "since_last_run.png").read_bytes()[:4] == b"\x89PNG"
    reused = {"label": RAN["label"].model_copy(update={"reused": True})}
    assert since_last_run(run_dir, second.labels_dir, plots, reused) == []  # labels not redone in this run: nothing new

    third = _label(run_dir, new, pairs)  # relabelled under the same constitution: the old comparison is stale
    assert not (run_dir / "previous").exists() and since_last_run(run_dir, third.labels_dir, plots, RAN) == []


def test_a_pair_id_used_twice_is_named_in_the_section_not_raised(tmp_path: Path):
    rows = [{"id": p.id, "prompt": "Say something.", "response_a": p.response_a, "response_b": p.response_b} for p in word_pairs()[:6]]
    rows.append({**rows[0], "response_a": "reply kind short"})
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("".join(json.dumps(r) + "\n" for r in rows))
    run_dir, plots = tmp_path / "run", tmp_path / "run" / "plots"
    plots.mkdir(parents=True)
    _label(run_dir, write_principles(tmp_path / "old", [("kind", "Which response is more kind?", 3.0)]), pairs)
    second = _label(run_dir, write_principles(tmp_path / "new", [("kind", "Which response is more kind or polite?", 3.0)]), pairs)
    section = since_last_run(run_dir, second.labels_dir, plots, RAN)
    assert section[0] == "## Since the last run" and f"pair id '{rows[0]['id']}' is used twice" in section[2]
