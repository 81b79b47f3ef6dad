"""Per-principle models through their faces: `score --explain`, `classify`/`serve` with --constitution, `/score`
with `explain: true` (a real server process), `train --heads per_principle` on a `datasets` folder (per_principle
as JSON strings), bad per-principle data, and the run report's section."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

from constitution.cli import main
from tests.reward.principle_data import TRAIN_WEIGHTS, principle_rows, write_constitution, write_principle_jsonl


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_score_explain_gives_contributions_that_sum_to_the_reward(headed, heads_root, tmp_path):
    pairs = write_principle_jsonl(principle_rows(6, 4, TRAIN_WEIGHTS), tmp_path / "pairs.jsonl")
    singles = tmp_path / "singles.jsonl"
    singles.write_text("".join(json.dumps({"id": f"r{i}", "prompt": "Who wrote Hamlet?", "response": t}) + "\n" for i, t in enumerate(
        ["Thank you for asking! Shakespeare wrote it.", "Whatever. William Shakespeare did. Source: https://en.wikipedia.org/wiki/Hamlet"])))  # fmt: skip
    weights = ["--constitution", str(heads_root / "concise_off")]
    assert main(["score", str(headed[0]), str(singles), "--out", str(tmp_path / "s.jsonl"), "--explain", *weights]) == 0
    assert main(["score", str(headed[0]), str(pairs), "--out", str(tmp_path / "p.jsonl"), "--explain", "--normalize", *weights]) == 0
    plain = tmp_path / "plain.jsonl"
    assert main(["score", str(headed[0]), str(singles), "--out", str(plain), *weights]) == 0
    rows = _jsonl(tmp_path / "s.jsonl")
    assert set(rows[0]) == {"id", "reward", "contribution_polite", "contribution_cites"}  # concise has weight 0
    for row, reference in zip(rows, _jsonl(plain)):
        assert row["contribution_polite"] + row["contribution_cites"] == pytest.approx(row["reward"], abs=1e-6)
        assert row["reward"] == pytest.approx(reference["reward"], abs=1e-6)
    for row in _jsonl(tmp_path / "p.jsonl"):
        for side in "ab":
            assert row[f"contribution_polite_{side}"] + row[f"contribution_cites_{side}"] == pytest.approx(row[f"reward_{side}"], abs=1e-6)


def test_explain_and_constitution_refused_where_they_mean_nothing(scalar, headed, heads_root, tmp_path, capsys):
    singles = tmp_path / "singles.jsonl"
    singles.write_text(json.dumps({"prompt": "hi", "response": "hello"}) + "\n")
    out = str(tmp_path / "o.jsonl")
    assert main(["score", str(scalar[0]), str(singles), "--out", out, "--explain"]) == 2
    assert "per-principle reward model" in capsys.readouterr().err
    assert main(["score", f"{headed[0]},{headed[0]}", str(singles), "--out", out, "--explain"]) == 2
    assert main(["score", str(scalar[0]), str(singles), "--out", out, "--constitution", str(heads_root / "train_c")]) == 2
    assert "scalar reward model" in capsys.readouterr().err


def test_classify_in_reward_mode_weighs_the_heads(headed, heads_root, tmp_path, capsys):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(
        ["Thank you for asking! It is about 8849 metres.", "Obviously, the height is 8849 m." + " More text." * 8])))  # fmt: skip
    scores = {}
    for name in ("train_c", "concise_off"):
        out = tmp_path / f"{name}.jsonl"
        assert main(["classify", str(data), "--out", str(out), "--model", str(headed[0]), "--constitution", str(heads_root / name)]) == 0
        scores[name] = [r["score"] for r in _jsonl(out)]
    assert scores["train_c"] != pytest.approx(scores["concise_off"])
    unknown = write_constitution(tmp_path / "c", {**TRAIN_WEIGHTS, "harmless": 1.0})
    assert main(["classify", str(data), "--out", str(tmp_path / "x.jsonl"), "--model", str(headed[0]), "--constitution", str(unknown)]) == 2
    assert "no head for principle 'harmless'" in capsys.readouterr().err


@pytest.mark.reliability
def test_served_explanations_sum_to_the_rewards(headed, heads_root, tmp_path):
    from benchmarks.bench_service import Server

    items = [{"prompt": "How do I boil an egg?", "response": "Thank you for asking! Boil it for eight minutes."},
             {"prompt": "How do I boil an egg?", "response": "Obviously, cook it in water. Source: https://example.org/egg"}]  # fmt: skip
    with Server(headed[0], "--constitution", str(heads_root / "concise_off")) as server:
        for normalize in (True, False):
            body = httpx.post(f"{server.base_url}/score", json={"items": items, "explain": True, "normalize": normalize}).json()
            plain = httpx.post(f"{server.base_url}/score", json={"items": items, "normalize": normalize}).json()
            assert set(body["contributions"][0]) == {"polite", "cites"}
            assert [sum(c.values()) for c in body["contributions"]] == pytest.approx(body["rewards"], abs=1e-6)
            assert body["rewards"] == pytest.approx(plain["rewards"], abs=2e-2)  # bf16 results depend on the batch
            assert "contributions" not in plain
    unknown = write_constitution(tmp_path / "c", {**TRAIN_WEIGHTS, "harmless": 1.0})
    with pytest.raises(RuntimeError, match="exited with 2"):
        with Server(headed[0], "--constitution", str(unknown)):
            pass


def test_explain_on_a_scalar_service_is_a_422():
    from fastapi.testclient import TestClient

    from constitution.serve.app import create_app
    from constitution.serve.config import ServerConfig
    from tests.helpers.fake_reward import served

    with TestClient(create_app(served(lambda items: [0.0] * len(items)), ServerConfig())) as client:
        response = client.post("/score", json={"texts": ["hi"], "explain": True})
    assert response.status_code == 422 and "per-principle" in response.json()["error"]


def _records(rows: list[dict]) -> list[str]:
    """The rows as `constitution label` records (FeedbackRecord JSON lines)."""
    from constitution.data.records import FeedbackRecord, Message

    out = []
    for r in rows:
        a, b = Message(role="assistant", content=r["response_a"]), Message(role="assistant", content=r["response_b"])
        out.append(FeedbackRecord(
            id=r["id"], prompt=[Message(role="user", content=r["prompt"])], response_a=r["response_a"], response_b=r["response_b"],
            p_a=r["p_a"], chosen=[a if r["p_a"] >= 0.5 else b], rejected=[b if r["p_a"] >= 0.5 else a], p_chosen=max(r["p_a"], 1 - r["p_a"]),
            per_principle=r["per_principle"], position_consistent=True, judge="synthetic", constitution_hash="c0ffee",
        ).model_dump_json())  # fmt: skip
    return out


def test_train_cli_reads_per_principle_json_strings_from_a_datasets_folder(minilm_path, heads_root, tmp_path, capsys):
    from constitution.data.writers import save_jsonl_as_dataset
    from constitution.reward.metadata import read_metadata
    from constitution.reward.principle_pairs import load_principle_pairs

    labels = tmp_path / "labels.jsonl"
    labels.write_text("\n".join(_records(principle_rows(24, 2, TRAIN_WEIGHTS, judged=2))) + "\n")
    folder = save_jsonl_as_dataset(labels, tmp_path / "labels")
    assert [p.per_principle for p in load_principle_pairs(folder)] == [p.per_principle for p in load_principle_pairs(labels)]
    out = tmp_path / "rm"
    argv = ["train", str(folder), "--out", str(out), "--heads", "per_principle", "--constitution", str(heads_root / "train_c"),
            "--max-length", "32", "--epochs", "1", "--batch-size", "8"]  # fmt: skip
    assert main(argv) == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    meta = read_metadata(out)
    assert meta.heads == ["polite", "cites", "concise"] and meta.constitution_hash == ["c0ffee"]
    assert printed["train_pairs"] == meta.train_pairs and len(meta.head_cov) == 3


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"per_principle": "{not json"}, "per_principle is not valid JSON"),
        ({"per_principle": {"polite": 1.5}}, "per_principle.polite: must be a probability"),
        ({"per_principle": ["polite"]}, "per_principle must map principle ids"),
        ({}, "missing column(s) ['per_principle']"),
    ],
)
def test_bad_per_principle_labels_exit_2_naming_the_row(heads_root, tmp_path, capsys, row, message):
    good = {"prompt": "hi", "response_a": "a", "response_b": "b", "p_a": 0.7, "per_principle": {"polite": 0.7}}
    bad = {k: v for k, v in good.items() if k != "per_principle"} | row
    data = tmp_path / "labels.jsonl"
    data.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    argv = ["train", str(data), "--out", str(tmp_path / "rm"), "--heads", "per_principle", "--constitution", str(heads_root / "train_c")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert f"{data}:2" in err and message in err


def test_run_report_shows_each_principle(headed, heads_root, test_rows, tmp_path):
    from constitution.loader import load_constitution
    from constitution.pipeline.report import heads_section
    from constitution.reward.head_eval import heads_report
    from constitution.reward.model import RewardModel
    from constitution.reward.principle_pairs import load_principle_pairs

    pairs = load_principle_pairs(write_principle_jsonl(test_rows, tmp_path / "test.jsonl"))
    model = RewardModel.load(headed[0], bf16=False, constitution=load_constitution(heads_root / "train_c"))
    report = heads_report(model, pairs)
    assert [p.principle for p in report.principles] == ["polite", "cites", "concise"]
    assert all(p.agreement >= 0.9 for p in report.principles) and report.accuracy >= 0.8
    assert sum(p.share for p in report.principles) == pytest.approx(1.0)
    # the contributions add up to the mean normalised gap between the chosen and the rejected response
    r_a, r_b = (np.asarray(x) for x in model.score_pairs(pairs, normalize=True))
    p_a = np.asarray([p.p_a for p in pairs])
    decided = p_a != 0.5
    gap = np.where(p_a > 0.5, r_a - r_b, r_b - r_a)[decided].mean()
    assert sum(p.contribution for p in report.principles) == pytest.approx(gap, abs=1e-6)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "heads.json").write_text(report.model_dump_json())
    lines = heads_section(tmp_path / "eval")
    assert lines[0] == "## Reward per principle" and sum(line.startswith("| polite |") for line in lines) == 1
    assert heads_section(tmp_path) == []  # a scalar model's run has no such section


def test_pipeline_trains_heads_and_reports_each_principle(minilm_path, heads_root, tmp_path):
    """The pipeline's train and evaluate stages with `training.heads: per_principle`, on a labels folder as the
    label stage leaves it; the report section comes from the evaluate stage's heads.json."""
    from constitution.data.writers import save_jsonl_as_dataset
    from constitution.pipeline.config import PipelineConfig
    from constitution.pipeline.report import heads_section
    from constitution.pipeline.run import Pipeline
    from constitution.reward.config import RewardTrainingConfig
    from constitution.reward.metadata import read_metadata

    run_dir = tmp_path / "run"
    (run_dir / "labels").mkdir(parents=True)
    labels = run_dir / "labels" / "labels.jsonl"
    labels.write_text("\n".join(_records(principle_rows(40, 2, TRAIN_WEIGHTS, judged=2))) + "\n")
    save_jsonl_as_dataset(labels, run_dir / "labels")
    training = RewardTrainingConfig(heads="per_principle", epochs=1, max_length=32, batch_size=8, eval_fraction=0.0)
    pipeline = Pipeline(PipelineConfig(run_dir=str(run_dir), constitution=str(heads_root / "train_c"), training=training), log=lambda _: None)
    assert pipeline._train()["train_pairs"] == 30  # 40 pairs of 8 prompts, whole prompts held out
    assert read_metadata(run_dir / "reward_model").heads == ["polite", "cites", "concise"]
    pipeline._evaluate()
    heads = json.loads((run_dir / "eval" / "heads.json").read_text())
    assert heads["pairs"] == 10 and [p["principle"] for p in heads["principles"]] == ["polite", "cites", "concise"]
    assert any(line.startswith("| concise |") for line in heads_section(run_dir / "eval"))
