"""`constitution train | eval | score`: outputs, JSON contracts and exit codes."""

from __future__ import annotations

import json

import pytest

from constitution.cli import main
from tests.reward.reward_helpers import synthetic_rows, write_jsonl


@pytest.fixture(scope="module")
def cli_model(tmp_path_factory):
    from constitution.embedded_models import BACKBONE_ALIAS, ModelNotFoundError, resolve_model

    try:
        resolve_model(BACKBONE_ALIAS)
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))
    root = tmp_path_factory.mktemp("cli")
    data = write_jsonl(synthetic_rows(40, seed=3), root / "pairs.jsonl")
    out = root / "rm"
    rc = main(["train", str(data), "--out", str(out), "--max-length", "48", "--epochs", "1", "--lr", "1e-4",
               "--batch-size", "8", "--limit", "24"])
    assert rc == 0
    return out, data


@pytest.mark.parametrize("command", ["train", "eval", "score"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0 and command in capsys.readouterr().out


def test_train_writes_model_and_respects_limit(cli_model):
    out, _ = cli_model
    meta = json.loads((out / "constitution_reward.json").read_text())
    assert meta["train_pairs"] + round(0.1 * 24) == 24 and meta["max_length"] == 48
    assert meta["training_config"]["learning_rate"] == 1e-4 and meta["constitution_hash"] == ["c0ffee"]


def test_eval_prints_one_json_object_and_writes_png(cli_model, tmp_path, capsys):
    out, data = cli_model
    other = write_jsonl(synthetic_rows(6, seed=9), tmp_path / "other.jsonl")
    assert main(["eval", str(out), str(data), str(other), "--out", str(tmp_path / "ev")]) == 0
    report = json.loads(capsys.readouterr().out)
    for key in ("accuracy", "ece", "bins", "accuracy_chosen_longer", "accuracy_chosen_shorter", "length_diff_corr", "prefers_longer"):
        assert key in report
    assert report["n"] == 46 and set(report["per_source"]) == {str(data), str(other)}
    assert (tmp_path / "ev" / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "ev" / "eval.json").read_text())["accuracy"] == report["accuracy"]


def test_score_pairs_singles_and_ensemble(cli_model, tmp_path):
    out, data = cli_model
    assert main(["score", str(out), str(data), "--out", str(tmp_path / "pairs.jsonl"), "--limit", "5"]) == 0
    rows = [json.loads(x) for x in (tmp_path / "pairs.jsonl").read_text().splitlines()]
    assert len(rows) == 5 and {"id", "reward_a", "reward_b", "p_a"} <= set(rows[0])
    singles = write_jsonl(
        [{"id": "x", "prompt": "hi", "response": "hello"}, {"id": "y", "prompt": "hi", "response": "hello"}],
        tmp_path / "singles.jsonl",
    )
    assert main(["score", f"{out},{out}", str(singles), "--out", str(tmp_path / "s.parquet")]) == 0
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert [r["id"] for r in table] == ["x", "y"]
    assert table[0]["reward"] == pytest.approx(table[1]["reward"], abs=1e-5)
    assert table[0]["reward_std"] == pytest.approx(0.0, abs=1e-6)  # identical members agree
    assert table[0]["reward_conservative"] == pytest.approx(table[0]["reward"], abs=1e-5)


def test_invalid_input_exits_2(cli_model, tmp_path, capsys):
    out, data = cli_model
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "x", "response_a": "y", "response_b": "z", "p_a": 1}\n{"prompt": "x", "response_a": "y"}\n')
    assert main(["train", str(bad), "--out", str(tmp_path / "o")]) == 2
    assert "bad.jsonl:2" in capsys.readouterr().err
    assert main(["train", str(data), "--out", str(tmp_path / "o"), "--lr", "-1"]) == 2
    assert "--lr" in capsys.readouterr().err
    assert main(["score", str(out), str(bad), "--out", str(tmp_path / "s.csv")]) == 2
    odd = write_jsonl([{"foo": 1}], tmp_path / "odd.jsonl")
    assert main(["score", str(out), str(odd), "--out", str(tmp_path / "s.jsonl")]) == 2
    assert "odd.jsonl:1" in capsys.readouterr().err
