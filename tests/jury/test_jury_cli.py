"""`constitution label` with a jury, end to end with real judges.

The two judges are the embedded SmolLM2-135M on its transformers backend in fp32 and a small reward model judging
pairs (``backend=reward``; a bf16 SmolLM2 costs minutes on a CPU without native bf16): different cache
identities and separate judgments, which is all the mechanism needs. A dead judge is the openai backend pointed at a port nobody listens on (no retries), and
a judge that cannot be loaded is a model folder that does not exist.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import datasets
import pytest
from tests.helpers.vllm_server import free_port
from sklearn.metrics import cohen_kappa_score

from constitution.cli import main
from constitution.data import load_pairs
from constitution.labeling.jury.inter_judge import KrippendorffAlpha, hard_label
from constitution.labeling.stats import agreement_score

PAIRS = [
    ("How do I boil an egg?", "Boil it for eight minutes.", "Eggs are hard.", 1.0),
    ("What is 2+2?", "It is 5.", "4.", 0.0),
    ("How do I pick a lock to get into my neighbour's house?", "I can't help with breaking in.", "Use a tension wrench.", 1.0),
]
FP32 = "smollm2-135m-instruct,backend=hf,dtype=float32,name=fp32"


def _pairs(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"prompt": p, "response_a": a, "response_b": b, "p_a": l}) + "\n" for p, a, b, l in PAIRS))
    return path


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _label(tmp_path: Path, *judges: str, extra: tuple[str, ...] = ()) -> tuple[int, Path]:
    out = tmp_path / "out"
    flags = [flag for judge in judges for flag in ("--judge", judge)]
    return main(["label", str(_pairs(tmp_path)), "--out", str(out), "--no-progress", *flags, *extra]), out


def _rm(folder: Path) -> str:
    return f"{folder},backend=reward,weight=3,name=rm"


def _dead(port: int) -> str:
    return f"smollm2-135m-instruct,backend=openai,base_url=http://127.0.0.1:{port},max_retries=0,backoff_s=0,endpoint_cooldown_s=0,timeout_s=5,name=dead"


@pytest.mark.slow
def test_two_judges_label_three_pairs_and_the_jury_combines_them(tmp_path: Path, judge_model_path: str, reward_folder: Path, capsys: pytest.CaptureFixture[str]):
    RM = _rm(reward_folder)
    code, out = _label(tmp_path, FP32, RM)
    assert code == 0, capsys.readouterr().err[-2000:]
    screen = capsys.readouterr().out
    assert "jury of 2 judges, quorum 2: 3 pairs labelled" in screen and "Cohen's kappa fp32 ~ rm" in screen

    judges = {name: {r["id"]: r for r in _jsonl(out / "judges" / name / "labels.jsonl")} for name in ("fp32", "rm")}
    labels = _jsonl(out / "labels.jsonl")
    assert [r["id"] for r in labels] == ["0", "1", "2"]  # input order
    for r in labels:
        a, b = judges["fp32"][r["id"]], judges["rm"][r["id"]]
        assert a["p_a"] != b["p_a"]  # two judges really judged
        assert r["p_a"] == pytest.approx((a["p_a"] + 3 * b["p_a"]) / 4)
        assert r["per_principle"] == pytest.approx({k: (a["per_principle"][k] + 3 * v) / 4 for k, v in b["per_principle"].items()})
        assert r["judge"] == "jury:fp32+rm" and r["reference_p_a"] in (0.0, 1.0)
        assert r["position_consistent"] == (a["position_consistent"] and b["position_consistent"])
    assert len(load_pairs(out)[0]) == 3  # the AI-feedback dataset

    summary = json.loads((out / "summary.json").read_text())
    fp32, rm = summary["members"]
    assert fp32["identity"].endswith(":float32") and rm["identity"].startswith("reward:")
    assert (fp32["pairs"], rm["pairs"], fp32["weight"], rm["weight"]) == (3, 3, 1.0, 3.0)
    hard = {name: [hard_label(judges[name][i]["p_a"]) for i in "012"] for name in judges}
    (pair,) = summary["pairwise"]
    assert pair["judges"] == ["fp32", "rm"] and pair["pairs"] == 3
    if len(set(hard["fp32"]) | set(hard["rm"])) > 1:
        assert pair["kappa"] == pytest.approx(cohen_kappa_score(hard["fp32"], hard["rm"]))
    else:
        assert pair["kappa"] is None  # every label the same: kappa is 0/0
    alpha = KrippendorffAlpha()
    for i in range(3):
        alpha.add([hard["fp32"][i], hard["rm"][i]])
    assert (summary["alpha"], summary["alpha_pairs"]) == (alpha.alpha, 3)
    for member, name in zip(summary["members"], ("fp32", "rm")):
        expected = [agreement_score(judges[name][r["id"]]["p_a"], r["p_a"]) for r in labels]
        expected = [x for x in expected if x is not None]
        assert member["jury_agreement"] == pytest.approx(sum(expected) / len(expected))
        assert member["slot_a_pct"] == json.loads((out / "judges" / name / "summary.json").read_text())["slot_a_pct"]
    reference = [agreement_score(r["p_a"], r["reference_p_a"]) for r in labels]
    assert summary["agreement"] == pytest.approx(sum(reference) / 3)
    with sqlite3.connect(out / "judgments.sqlite") as con:  # one cache, each judge's judgments under its identity
        counts = dict(con.execute("SELECT judge, COUNT(*) FROM judgments_v2 GROUP BY judge").fetchall())
    assert sorted(counts) == sorted([fp32["identity"], rm["identity"]]) and set(counts.values()) == {summary["judgments"] // 2}

    code, _ = _label(tmp_path, FP32, RM)  # the rerun asks nothing
    assert code == 0 and f"computed 0, cached {summary['judgments']}" in capsys.readouterr().out
    assert _jsonl(out / "labels.jsonl") == labels


@pytest.mark.slow
@pytest.mark.reliability
def test_a_dead_judge_without_a_quorum_labels_nothing_and_lists_every_pair(tmp_path: Path, judge_model_path: str, capsys: pytest.CaptureFixture[str]):
    code, out = _label(tmp_path, FP32, _dead(free_port()))
    err = capsys.readouterr().err
    assert code == 1 and "error: 3 pair(s) failed" in err and "warning: judge dead: 3 pair(s) failed" in err
    assert _jsonl(out / "labels.jsonl") == []
    assert datasets.load_from_disk(str(out)).num_rows == 0  # an empty dataset, not a crash
    skipped = _jsonl(out / "skipped.jsonl")
    assert [s["id"] for s in skipped] == ["0", "1", "2"]
    assert all(s["reason"].startswith("below quorum: 1 of 2 judges labelled it (quorum 2); no label from dead") for s in skipped)
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["pairs"], summary["pairs_below_quorum"], summary["pairs_failed"]) == (0, 3, 3)
    live, dead = summary["members"]
    assert (live["pairs"], dead["pairs"], dead["pairs_failed"]) == (3, 0, 3)
    assert "ConnectError" in dead["first_failure"] and dead["error"] is None


@pytest.mark.slow
@pytest.mark.reliability
def test_with_a_quorum_the_judges_that_answered_label(tmp_path: Path, judge_model_path: str, capsys: pytest.CaptureFixture[str]):
    missing = f"{tmp_path / 'no-such-model'},backend=hf,name=missing"
    code, out = _label(tmp_path, FP32, _dead(free_port()), missing, extra=("--quorum", "1"))
    err = capsys.readouterr().err
    assert code == 0, err[-2000:]
    assert "warning: judge dead: 3 pair(s) failed" in err and "warning: judge missing: failed: could not load" in err
    live = {r["id"]: r for r in _jsonl(out / "judges" / "fp32" / "labels.jsonl")}
    labels = _jsonl(out / "labels.jsonl")
    assert [r["id"] for r in labels] == ["0", "1", "2"]
    assert all(r["p_a"] == pytest.approx(live[r["id"]]["p_a"]) for r in labels)  # only the live judge voted
    summary = json.loads((out / "summary.json").read_text())
    assert (summary["pairs"], summary["pairs_below_quorum"], summary["quorum"]) == (3, 0, 1)
    _, dead, unloadable = summary["members"]
    assert dead["pairs_failed"] == 3 and unloadable["error"].startswith("could not load") and unloadable["identity"] is None
    assert len(summary["pairwise"]) == 3 and all(p["pairs"] == 0 and p["kappa"] is None for p in summary["pairwise"])
    assert summary["alpha_pairs"] == 0 and summary["alpha"] is None
    assert not (out / "judges" / "missing").exists()


@pytest.mark.slow
def test_the_same_judge_twice_is_an_input_error(tmp_path: Path, judge_model_path: str, capsys: pytest.CaptureFixture[str]):
    code, _ = _label(tmp_path, FP32, FP32.replace("name=fp32", "name=again"))
    assert code == 2 and "judges 'fp32' and 'again' are the same judge" in capsys.readouterr().err
