"""The label diff through the judgment cache, on a judge whose answers the test controls (:class:`WordJudge`):
which judgments an edit makes the judge answer again, and which labels it flips."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from constitution.diff import compare_labels, diff_versions, format_diff, write_diff
from constitution.errors import InputError
from constitution.labeling import JudgmentCache, Labeler, label_pairs
from constitution.loader import load_constitution

from tests.diff.helpers import WordJudge, word_pairs, write_principles

KIND_SHORT = [("kind", "Which response is more kind?", 3.0), ("short", "Which response is more short?", 1.0)]


def _label_first(folder: Path, cache: Path, pairs) -> None:
    """An earlier `label` run under the old constitution: its judgments are in the cache."""
    with JudgmentCache(cache) as c:
        label_pairs(Labeler(load_constitution(folder), WordJudge(), c), pairs)


def _diff(old: Path, new: Path, cache: Path, pairs, judge: WordJudge, **kw):
    with JudgmentCache(cache) as c:
        return diff_versions((str(old), load_constitution(old)), (str(new), load_constitution(new)), pairs, judge, c, **kw)


def _vote(pair, word: str) -> int:
    """+1 when only response A has the word, -1 when only B has it, 0 for a tie."""
    return (word in pair.response_a.split()) - (word in pair.response_b.split())


def _flipped(report) -> set[str]:
    assert report.labels.flipped == len(report.labels.flipped_ids)
    return set(report.labels.flipped_ids)


def test_a_reworded_principle_asks_only_its_own_judgments(tmp_path: Path):
    pairs = word_pairs()
    old = write_principles(tmp_path / "old", KIND_SHORT)
    new = write_principles(tmp_path / "new", [KIND_SHORT[0], ("short", "Which response is more polite?", 1.0)])
    _label_first(old, tmp_path / "c.sqlite", pairs)
    judge = WordJudge()
    report = _diff(old, new, tmp_path / "c.sqlite", pairs, judge)

    assert len(judge.scored) == len(pairs) * 2  # 'short' only, both orders; the old labels came from the cache
    assert all("Question: Which response is more polite?" in text for text in judge.scored)
    assert (report.cost_old.computed, report.cost_new.computed, report.cost_new.cached) == (0, len(pairs) * 2, len(pairs) * 2)
    [edit] = report.spec.principles
    assert (edit.id, edit.changes, edit.text_old, edit.text_new) == ("short", ["reworded"], "Which response is more short?", "Which response is more polite?")
    effects = {e.id: e for e in report.labels.per_principle}
    assert effects["kind"].mean_abs_delta == 0 and effects["kind"].verdict_flips == 0
    # 'short' now judges politeness: its verdict (A on a tie, as labels decide) flips where the two words disagree
    assert effects["short"].verdict_flips == sum((_vote(p, "short") >= 0) != (_vote(p, "polite") >= 0) for p in pairs) > 0
    # with 'kind' at weight 3 of 4, a label flips only where 'kind' ties and then the two words disagree
    expected = {p.id for p in pairs if _vote(p, "kind") == 0 and (_vote(p, "short") >= 0) != (_vote(p, "polite") >= 0)}
    assert _flipped(report) == expected and report.labels.flipped == len(expected) > 0
    mover = report.labels.moved_most[0]
    assert {v.id: (v.text_old, v.text_new) for v in mover.principles}["short"] == ("Which response is more short?", "Which response is more polite?")


def test_a_weight_change_flips_labels_without_asking_the_judge(tmp_path: Path):
    pairs = word_pairs()
    old = write_principles(tmp_path / "old", KIND_SHORT)
    new = write_principles(tmp_path / "new", [("kind", KIND_SHORT[0][1], 1.0), ("short", KIND_SHORT[1][1], 3.0)])
    _label_first(old, tmp_path / "c.sqlite", pairs)
    judge = WordJudge()
    report = _diff(old, new, tmp_path / "c.sqlite", pairs, judge)

    assert judge.scored == [] and report.cost_new.computed == 0 == report.cost_old.computed
    assert [(e.id, e.changes) for e in report.spec.principles] == [("kind", ["reweighted"]), ("short", ["reweighted"])]
    # 'kind' decided before and 'short' after: every pair where the two principles disagree flips, and no other
    disagree = {p.id for p in pairs if _vote(p, "kind") * _vote(p, "short") < 0}
    assert _flipped(report) == disagree and report.labels.flipped == len(disagree) > 0
    effects = {e.id: e for e in report.labels.per_principle}
    assert effects["kind"].verdict_flips == 0 and effects["kind"].label_flips == len(disagree)
    assert (effects["short"].weight_old, effects["short"].weight_new) == (1.0, 3.0)


def test_inverting_a_principle_flips_every_label_it_decided(tmp_path: Path):
    pairs = word_pairs()
    rows = [("kind", "Which response is more kind?", 2.0), ("short", "Which response is more short?", 1.0), ("polite", "Which response is more polite?", 1.0)]
    old = write_principles(tmp_path / "old", rows)
    new = write_principles(tmp_path / "new", [("kind", "Which response is less kind?", 2.0), *rows[1:]])  # asks for the worse one
    judge = WordJudge()
    report = _diff(old, new, tmp_path / "c.sqlite", pairs, judge, top=3)

    assert report.cost_old.computed == len(pairs) * 3 * 2 and report.cost_new.computed == len(pairs) * 2
    # the labels 'kind' decided: those the other principles alone would have decided the other way
    with JudgmentCache(tmp_path / "c.sqlite") as c:
        records, _ = label_pairs(Labeler(load_constitution(old), WordJudge(), c), pairs)
    decided = set()
    for r in records:
        rest = (r.per_principle["short"] + r.per_principle["polite"]) / 2
        if (r.p_a >= 0.5) != (rest >= 0.5):
            decided.add(r.id)
    assert decided and decided <= _flipped(report)
    effects = {e.id: e for e in report.labels.per_principle}
    assert effects["kind"].label_flips == report.labels.flipped and effects["short"].label_flips == 0
    moved = report.labels.moved_most
    assert len(moved) == 3 and abs(moved[0].delta) == pytest.approx(max(abs(p.p_new - p.p_old) for p in report.labels.per_pair))
    assert {v.id: (v.text_old, v.text_new) for v in moved[0].principles}["kind"] == ("Which response is more kind?", "Which response is less kind?")


def test_outputs_are_written(tmp_path: Path):
    pairs = word_pairs()[:12]
    old = write_principles(tmp_path / "old", KIND_SHORT)
    new = write_principles(tmp_path / "new", [("kind", "Which response is less kind?", 3.0), KIND_SHORT[1]], rule="k")
    report = _diff(old, new, tmp_path / "c.sqlite", pairs, WordJudge())
    written = write_diff(report, tmp_path / "out")
    assert sorted(p.name for p in written) == ["diff.json", "diff.md", "diff_dp.png"]
    assert json.loads((tmp_path / "out" / "diff.json").read_text())["labels"]["flipped"] == report.labels.flipped
    assert (tmp_path / "out" / "diff_dp.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "out" / "diff.md").read_text()
    assert "| kind | 3 | " in md and "Which response is less kind?" in md and "sampling:" in md
    assert "![|Δp|](diff_dp.png)" in md
    table = md[md.index("### Per principle") : md.index("### Pairs that moved most")]
    assert "| kind | 3 | 12 → 12 |" in table and "| short |" not in table and "1 principle(s) unchanged in every pair." in table
    screen = format_diff(report)
    assert f"{report.labels.flipped} labels flipped" in screen and "kind: reworded" in screen


def test_a_pair_id_used_twice_is_an_error_naming_it(tmp_path: Path):
    folder = write_principles(tmp_path / "p", KIND_SHORT)
    pairs = word_pairs()
    twice = [*pairs, pairs[1].model_copy(update={"response_a": "another reply"})]
    judge = WordJudge()
    with pytest.raises(InputError, match=re.escape(f"pair id '{pairs[1].id}' is used twice")):
        _diff(folder, folder, tmp_path / "c.sqlite", twice, judge)
    records, _ = label_pairs(Labeler(load_constitution(folder), judge, JudgmentCache(tmp_path / "d.sqlite")), twice)
    with pytest.raises(InputError, match="is used twice") as info:
        compare_labels(records[:-1], records, load_constitution(folder), load_constitution(folder))
    assert info.value.where == "the new labels"
