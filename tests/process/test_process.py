"""Process rewards end to end on synthetic arithmetic chains of known structure (tests/process/chains.py): the TRL
stepwise layout, step principles, step labels from a stand-in judge through the judgment cache (an edit re-judges
only the steps after it), a MiniLM process reward model that finds the first wrong step, and its uses."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest

from constitution.data.steps import StepReader, StepTrace, load_steps, save_steps_dataset, write_steps
from constitution.errors import InputError, InputErrors
from constitution.labeling.cache import JudgmentCache
from constitution.llm.base import OptionResult
from constitution.labeling.steps.output import label_steps_to_folder
from constitution.labeling.steps.labeler import StepLabelConfig, StepLabeler, label_steps
from constitution.reward.process.metrics import aggregate, best_of_n_accuracy, first_error, processbench_metrics
from constitution.step_principles import load_step_principles
from tests.process.chains import STEP_SET, ChainJudge, chains, check_trace, make_chain

def test_stepwise_layout_round_trips(tmp_path: Path):
    traces = [
        StepTrace(id="a", prompt="Add 2 and 3.", completions=["2 + 3 = 5", "So 5."], labels=[True, False]),
        StepTrace(id="b", prompt=[{"role": "user", "content": "Hi"}], completions=["one", "two", "three"], labels=[0.9, 0.25, 1.0]),
        StepTrace(id="c", prompt="Unlabelled", completions=["only step"]),
    ]
    path = write_steps(tmp_path / "steps.jsonl", traces)
    assert load_steps(path) == traces
    assert json.loads(path.read_text().splitlines()[0])["labels"] == [True, False]  # TRL's bools stay bools
    save_steps_dataset(path, tmp_path / "ds")
    import datasets

    ds = datasets.load_from_disk(str(tmp_path / "ds"))
    assert {"prompt", "completions", "labels"} <= set(ds.column_names)
    assert ds[1]["soft_labels"] == [0.9, 0.25, 1.0] and ds[1]["labels"] == [True, False, True] and ds[1]["completions"] == ["one", "two", "three"]
    assert [t.completions for t in StepReader(tmp_path / "ds")] == [t.completions for t in traces]
    (tmp_path / "plain.jsonl").write_text(json.dumps({"prompt": "p", "response": "a ## b ##  ## c"}) + "\n")
    assert load_steps(tmp_path / "plain.jsonl", separator="##")[0].completions == ["a", "b", "c"]


def test_bad_rows_name_file_and_line_and_are_skipped(tmp_path: Path):
    rows = [
        json.dumps({"prompt": "p", "completions": ["a", "b"], "labels": [True, True]}),
        "{not json",
        json.dumps({"prompt": "p", "completions": ["a", "b"], "labels": [True]}),
        json.dumps({"prompt": "p", "completions": ["a"], "labels": [1.5]}),
        json.dumps({"prompt": "p", "completions": "a"}),
        json.dumps({"completions": ["a"]}),
        json.dumps({"prompt": "p", "completions": ["x"], "labels": [0.5]}),
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(rows) + "\n")
    bad: list[InputError] = []
    reader = StepReader(path, on_bad=bad.append)
    assert [t.id for t in reader] == ["0", "5"]  # ids count the rows read (the invalid JSON line is none)
    assert reader.report.bad_rows == 5
    assert [e.where for e in bad] == [f"{path}:{n}" for n in (2, 3, 4, 5, 6)]
    assert "1 labels for 2 steps" in str(bad[1]) and "[0, 1]" in str(bad[2]) and "prompt" in str(bad[4])
    with pytest.raises(InputError, match=f"{path}:2"):
        load_steps(path)


def test_step_principles_load_beside_the_constitution_and_errors_name_lines(tmp_path: Path, step_folder: Path):
    from constitution.loader import load_constitution
    from constitution.resources import default_principles

    import shutil

    both = tmp_path / "both"
    shutil.copytree(default_principles(), both)
    (both / "extra_steps.yaml").write_text(STEP_SET.replace("id: arithmetic", "id: more").replace("id: step-correct", "id: other"))
    assert load_constitution(both).hash == load_constitution(default_principles()).hash  # comparison labels unchanged
    assert [p.id for p in load_step_principles(both).principles] == ["other", "step-correct", "step-harmless"]
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "s.yaml").write_text(STEP_SET + "    good_answer: Maybe\n  - id: two\n    text: Ok?\n    template: nowhere\n")
    with pytest.raises(InputErrors) as caught:
        load_step_principles(bad)
    lines = [e.where for e in caught.value.errors]
    assert lines == [f"{bad / 's.yaml'}:7", f"{bad / 's.yaml'}:10"]  # the good_answer line, the template line
    assert "not one of the options" in str(caught.value) and "no template 'nowhere'" in str(caught.value)


def test_step_labels_follow_the_judge_and_an_edit_rejudges_only_later_steps(tmp_path: Path, step_folder: Path):
    principles = load_step_principles(step_folder)
    traces = chains(12, seed=3)
    judge = ChainJudge()
    cache = JudgmentCache(tmp_path / "c.sqlite")
    records, summary, problems = label_steps(StepLabeler(principles, judge, cache), traces)
    steps = sum(len(t.completions) for t in traces)
    assert not problems and summary.traces == 12 and summary.judgments_computed == len(judge.asked) == 2 * steps
    assert {"Answer Yes or No" in a for a in judge.asked} == {True, False}  # both option orders
    for record, trace in zip(records, traces):
        assert record.labels == trace.labels == check_trace(trace.prompt, trace.completions)
        assert all(math.isclose(max(p, 1 - p), 0.95) for p in record.soft_labels)
    # Edit step k of one trace: steps before k come from the cache, k and every later step are asked again.
    trace = next(t for t in traces if len(t.completions) >= 4)
    k = 1
    edited = trace.model_copy(update={"completions": [*trace.completions[:k], "I guess it is about 7", *trace.completions[k + 1 :]]})
    judge.asked.clear()
    again, summary, _ = label_steps(StepLabeler(principles, judge, cache), [*traces, edited])
    assert summary.judgments_computed == len(judge.asked) == 2 * (len(trace.completions) - k)
    assert summary.judgments_cached == 2 * (steps + k)
    assert again[-1].soft_labels[k] < 0.5 and again[-1].soft_labels[:k] == again[traces.index(trace)].soft_labels[:k]


def test_label_folder_is_a_trl_stepwise_dataset_and_resumes(tmp_path: Path, step_folder: Path):
    import datasets

    traces = chains(6, seed=4)
    source = write_steps(tmp_path / "in.jsonl", [t.model_copy(update={"labels": None}) for t in traces])
    with source.open("a") as fh:
        fh.write('{"prompt": "no steps"}\n')
    labeler = StepLabeler(load_step_principles(step_folder), ChainJudge(), JudgmentCache(tmp_path / "c.sqlite"), StepLabelConfig(both_orders=False))
    summary = label_steps_to_folder(labeler, StepReader(source), tmp_path / "out", show_progress=False)
    assert summary.traces == 6 and summary.rows_bad == 1
    skipped = [json.loads(x) for x in (tmp_path / "out" / "skipped.jsonl").read_text().splitlines()]
    assert skipped[0]["where"] == f"{source}:7"
    ds = datasets.load_from_disk(str(tmp_path / "out"))
    assert ds.column_names[:5] == ["id", "prompt", "completions", "labels", "soft_labels"] and len(ds) == 6
    # Issue 34 item 5: TRL's PRM trainer does int(label), so `labels` are bools (0.95 was int()-ed to 0); the soft
    # values have their own column, and are what reading the folder or labels.jsonl back gives (for training).
    assert ds.features["labels"].feature.dtype == "bool" and ds[2]["labels"] == traces[2].labels
    assert [x > 0.5 for x in ds[2]["soft_labels"]] == traces[2].labels and all(math.isclose(max(p, 1 - p), 0.95) for p in ds[2]["soft_labels"])
    row = json.loads((tmp_path / "out" / "labels.jsonl").read_text().splitlines()[2])
    assert row["labels"] == traces[2].labels and row["soft_labels"] == ds[2]["soft_labels"]
    assert [t.labels for t in StepReader(tmp_path / "out")][2] == [t.labels for t in StepReader(tmp_path / "out" / "labels.jsonl")][2] == ds[2]["soft_labels"]
    again = label_steps_to_folder(labeler, StepReader(source), tmp_path / "out", show_progress=False)
    assert again.judgments_computed == 0 and again.judgments_cached == summary.judgments


class DownJudge(ChainJudge):
    """A judge whose every answer fails (a fake that injects the fault)."""

    def score_options(self, requests):
        for request in requests:
            yield OptionResult(request.key, None, "the judge is down")


def test_a_rerun_that_labels_nothing_publishes_an_empty_dataset(tmp_path: Path, step_folder: Path):
    """Issue 34 item 4: the first run's dataset must not stay loadable after a rerun that labelled nothing."""
    import datasets

    source = write_steps(tmp_path / "in.jsonl", chains(3, seed=4))
    principles, out = load_step_principles(step_folder), tmp_path / "out"
    first = label_steps_to_folder(StepLabeler(principles, ChainJudge(), JudgmentCache(tmp_path / "a.sqlite")), StepReader(source), out, show_progress=False)
    assert first.traces == 3 and len(datasets.load_from_disk(str(out))) == 3
    again = label_steps_to_folder(StepLabeler(principles, DownJudge(), JudgmentCache(tmp_path / "b.sqlite")), StepReader(source), out, show_progress=False)
    assert again.traces == 0 and again.traces_failed == 3
    assert len(datasets.load_from_disk(str(out))) == 0 and (out / "labels.jsonl").read_text() == ""


def test_first_error_metrics_and_aggregates():
    assert aggregate([0.9, 0.5, 0.8], "min") == 0.5
    assert math.isclose(aggregate([0.9, 0.5, 0.8], "product"), 0.36)
    assert aggregate([0.9, 0.5, 0.8], "last") == 0.8
    assert first_error([0.9, 0.6, 0.4, 0.1]) == 2 and first_error([0.9, 0.6]) == -1
    m = processbench_metrics([1, -1, 2, -1, 0], [1, 2, 2, -1, -1])
    assert m["first_error_acc_erroneous"] == 2 / 3 and m["first_error_acc_correct"] == 0.5
    assert math.isclose(m["first_error_f1"], 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert best_of_n_accuracy([[0.1, 0.9], [0.8, 0.2]], [[False, True], [False, True]]) == 0.5
    # Issue 34 item 7: with no erroneous (or no correct) trace there is no F1 (it was reported as 0.0).
    assert math.isnan(processbench_metrics([-1, 0], [-1, -1])["first_error_f1"])
    assert math.isnan(processbench_metrics([2, 0], [2, 1])["first_error_f1"])


def test_a_long_trace_is_read_in_windows_and_every_step_is_scored(minilm_tokenizer):
    """Issue 34 item 2: no step is cut off. Each step is read at its last token in exactly one window of at most
    max_length tokens; the steps of a window that does not start at the trace's start are counted as truncated."""
    from constitution.reward.process.encoding import encode_traces, marker_id

    marker = marker_id(minilm_tokenizer)
    steps = [f"step {k} says {k * 7}" for k in range(12)]
    [short, long] = encode_traces(minilm_tokenizer, ["a prompt", "word " * 50], [steps[:2], steps], 24, marker)
    assert len(short.windows) == 1 and short.truncated_steps == 0
    assert [k for w in long.windows for k, _ in w.steps] == list(range(12))  # every step once, in order
    assert all(len(w.ids) <= 24 and w.ids[0] == minilm_tokenizer.cls_token_id for w in long.windows)
    for w in long.windows:
        for k, pos in w.steps:
            assert w.ids[pos + 1] == marker and minilm_tokenizer.decode([w.ids[pos]]) == str(k * 7)
    assert long.truncated_steps == 12  # the 50-word prompt does not fit: no step sees all of it


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    from constitution.embedded_models import BACKBONE_ALIAS, ModelNotFoundError, resolve_model

    try:
        return AutoTokenizer.from_pretrained(resolve_model(BACKBONE_ALIAS))
    except ModelNotFoundError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def process_model(tmp_path_factory, minilm_tokenizer) -> Path:
    """A MiniLM process model trained (through the CLI) on step labels that the stand-in judge gave 64 chains
    whose planted wrong step states a number without working."""
    from constitution.cli import main

    root = tmp_path_factory.mktemp("prm")
    (root / "principles").mkdir()
    (root / "principles" / "steps.yaml").write_text(STEP_SET)
    traces = [t.model_copy(update={"labels": None}) for t in chains(64, seed=11, error="guess")]
    source = write_steps(root / "traces.jsonl", traces)
    labeler = StepLabeler(load_step_principles(root / "principles"), ChainJudge(), JudgmentCache(root / "c.sqlite"))
    label_steps_to_folder(labeler, StepReader(source), root / "labels", show_progress=False)
    args = ["--base-model", "all-minilm-l6-v2", "--max-length", "48", "--epochs", "2", "--batch-size", "8", "--lr", "5e-4", "--eval-fraction", "0", "--aggregate", "min"]
    assert main(["train", str(root / "labels" / "labels.jsonl"), "--kind", "process", "--out", str(root / "prm"), *args]) == 0
    return root / "prm"


@pytest.mark.slow
def test_process_model_finds_the_first_wrong_step_on_heldout_traces(process_model: Path, tmp_path: Path):
    from constitution.cli import main
    from constitution.reward.process.model import PROCESS_FILE

    meta = json.loads((process_model / PROCESS_FILE).read_text())
    assert meta["train_traces"] == 64 and meta["step_principles_hash"] and (process_model / "README.md").exists()
    held = chains(60, seed=12, error="guess")
    assert main(["score-steps", str(process_model), str(write_steps(tmp_path / "held.jsonl", held)), "--out", str(tmp_path / "s.jsonl")]) == 0
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    metrics = processbench_metrics([r["first_error"] for r in rows], [t.first_error() for t in held])
    assert sum(r["truncated_steps"] for r in rows) > 0  # prompts listing 5 operations pass max_length: windows, all scored
    # Chance: a random step (or "no error") is right about 1 time in 5.
    assert metrics["first_error_f1"] > 0.8 and metrics["first_error_accuracy"] > 0.8
    assert all(r["score"] == min(r["step_scores"]) for r in rows)


@pytest.mark.slow
def test_a_wrong_first_step_is_not_pushed_out_of_view_by_later_steps(process_model: Path, tmp_path: Path, capsys):
    """Issue 34 item 2: a wrong step 0 and 11 right steps after it, far over max_length (48). Before, step 0 was cut
    off (score null) and the trace scored 0.99 with first_error -1; now every step is scored and the truncated
    ones are counted, in each row and in the summary."""
    from constitution.cli import main

    trace, _ = make_chain(random.Random(5), 0, 12, 0, "guess")
    source = write_steps(tmp_path / "long.jsonl", [trace])
    capsys.readouterr()
    assert main(["score-steps", str(process_model), str(source), "--out", str(tmp_path / "s.jsonl")]) == 0
    [row] = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert len(row["step_scores"]) == 12 and row["first_error"] == 0 and row["score"] < 0.5
    assert 0 < row["truncated_steps"] <= 12
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert summary["truncated_steps"] == row["truncated_steps"] and summary["truncated_traces"] == 1


@pytest.mark.parametrize("threshold", ["1.5", "0", "nan"])
def test_a_threshold_outside_0_1_is_refused_before_any_trace_is_scored(process_model: Path, tmp_path: Path, capsys, threshold):
    from constitution.cli import main

    trace, _ = make_chain(random.Random(5), 0, 3, 0, "guess")
    source = write_steps(tmp_path / "t.jsonl", [trace])
    assert main(["score-steps", str(process_model), str(source), "--out", str(tmp_path / "s.jsonl"), "--threshold", threshold]) == 2
    assert "--threshold" in capsys.readouterr().err and not (tmp_path / "s.jsonl").exists()


class ScriptedPolicy:
    """A fake policy (isolates the reward side): for each prompt it "samples" the candidates the test planted."""

    tokenizer = type("NoTemplate", (), {"bos_token": "", "chat_template": None})()

    def __init__(self, candidates: dict[str, list[str]]) -> None:
        self.candidates = candidates

    def generate(self, prompts, *, max_tokens, temperature=0.0, n=1, seed=None, stop=None):
        return [next(c for p, c in self.candidates.items() if p in text) for text in prompts]


@pytest.mark.slow
def test_best_of_n_and_the_trl_reward_pick_by_the_weakest_step(process_model: Path):
    from constitution.best_of_n import best_of_n
    from constitution.data import Message
    from constitution.generation import PromptItem
    from constitution.rl.process_reward import ProcessRewardFunction, load_reward

    reward = load_reward(str(process_model))
    assert isinstance(reward, ProcessRewardFunction)
    reward.model.bf16 = False  # fp32: the two answers are compared to 1e-5 whatever their batches (bf16 is not batch-invariant)
    candidates: dict[str, list[str]] = {}
    for problem in range(16):  # one right chain (first) and three with a wrong step, for the same problem
        wrong = [None, *random.Random(problem).sample(range(4), 3)]
        made = [make_chain(random.Random(100 + problem), problem, 4, w, "guess")[0] for w in wrong]
        candidates[made[0].prompt] = ["\n\n".join(t.completions) for t in made]
    prompts = [PromptItem(id=str(i), messages=[Message(role="user", content=p)]) for i, p in enumerate(candidates)]
    results = best_of_n(prompts, ScriptedPolicy(candidates), reward, n=4)
    assert sum(r.best_index == 0 for r in results) / len(results) > 0.8  # chance: 0.25
    as_trl = reward([p.messages[-1].content for p in prompts], [[{"role": "assistant", "content": c[0]}] for c in candidates.values()])
    assert as_trl == pytest.approx([r.rewards[0] for r in results], abs=1e-5)


@pytest.mark.slow
def test_label_steps_cli_with_the_embedded_judge(tmp_path: Path, judge_model_path: str):
    """The command end to end with the real judge (hf): soft labels in (0, 1) for every step, a bad row listed and
    exit 2, and a re-run that asks the judge nothing."""
    from constitution.cli import main

    source = write_steps(tmp_path / "t.jsonl", [t.model_copy(update={"labels": None}) for t in chains(2, seed=8, steps=(2, 2))])
    with source.open("a") as fh:
        fh.write('{"prompt": "p", "completions": []}\n')
    args = ["label-steps", str(source), "--out", str(tmp_path / "out"), "--backend", "hf", "--dtype", "float32", "--no-progress"]
    assert main(args) == 2
    rows = [json.loads(x) for x in (tmp_path / "out" / "labels.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(len(r["labels"]) == 2 and all(0 < p < 1 for p in r["soft_labels"]) for r in rows)
    assert set(rows[0]["per_principle"]) == {"step-correct", "step-harmless"}  # the shipped step principles
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["judgments_computed"] == 2 * 2 * 2 * 2 and summary["rows_bad"] == 1
    assert main(args) == 2
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["judgments_cached"] == 16


def test_a_jury_of_step_judges_gives_their_weighted_mean(tmp_path: Path, step_folder: Path, monkeypatch):
    from constitution.labeling.steps import jury as step_jury
    from constitution.labeling.jury.config import JudgeSpec

    def stand_in(config):  # two stand-in judges (fakes for the loaded models), told apart by the model name
        judge = ChainJudge(confidence=0.95 if config.model == "sure" else 0.75)
        judge.identity = judge.name = config.model
        return judge

    monkeypatch.setattr(step_jury, "make_llm", stand_in)
    traces = chains(5, seed=6)
    source = write_steps(tmp_path / "t.jsonl", traces)
    judges = [JudgeSpec.model_validate({"backend": "hf", "model": "sure"}), JudgeSpec.model_validate({"backend": "hf", "model": "unsure", "weight": 3})]
    summary = step_jury.step_jury(load_step_principles(step_folder), judges, JudgmentCache(tmp_path / "c.sqlite"), StepLabelConfig(), StepReader(source), tmp_path / "out", show_progress=False)
    assert summary.traces == 5 and summary.judge == "jury:hf-sure+hf-unsure"
    rows = [json.loads(x) for x in (tmp_path / "out" / "labels.jsonl").read_text().splitlines()]
    for row, trace in zip(rows, traces):
        assert row["soft_labels"] == pytest.approx([(0.95 + 3 * 0.75) / 4 if good else (0.05 + 3 * 0.25) / 4 for good in trace.labels])
        assert row["labels"] == trace.labels
    assert (tmp_path / "out" / "judges" / "hf-unsure" / "labels.jsonl").exists()


def test_a_jury_refuses_repeated_trace_ids_before_any_judge_runs(tmp_path: Path, step_folder: Path, monkeypatch):
    """Issue 34 item 3: votes are matched by trace id, so two traces sharing one (a 3-step and a 5-step chain) once
    got each other's labels or an IndexError; now the source is refused, naming the id and both places."""
    from constitution.labeling.jury.config import JudgeSpec
    from constitution.labeling.steps import jury as step_jury

    asked: list[ChainJudge] = []
    monkeypatch.setattr(step_jury, "make_llm", lambda config: asked.append(ChainJudge()) or asked[-1])  # stand-in judges (fakes)
    three, five = chains(1, seed=1, steps=(3, 3))[0], chains(1, seed=2, steps=(5, 5))[0]
    source = write_steps(tmp_path / "t.jsonl", [chains(1, seed=3)[0].model_copy(update={"id": "other"}), three, five.model_copy(update={"id": three.id})])
    judges = [JudgeSpec.model_validate({"backend": "hf", "model": m}) for m in ("a", "b")]
    with pytest.raises(InputError, match=r"trace id 'chain-0' appears twice \(traces 2 and 3\)") as caught:
        step_jury.step_jury(load_step_principles(step_folder), judges, JudgmentCache(tmp_path / "c.sqlite"), StepLabelConfig(), StepReader(source), tmp_path / "out", show_progress=False)
    assert caught.value.where == str(source) and asked == []


def test_label_traces_is_one_entry_for_one_judge_or_a_jury(tmp_path: Path, step_folder: Path, monkeypatch):
    from constitution.labeling.steps import jury as step_jury, run as step_run
    from constitution.labeling.jury.config import JudgeSpec

    loaded: list[ChainJudge] = []

    def stand_in(config):  # stand-in judges (fakes for the loaded models), told apart by the model name
        judge = ChainJudge(confidence=0.95 if config.model == "sure" else 0.75)
        judge.identity = judge.name = config.model
        judge.close = lambda: loaded.remove(judge)  # type: ignore[method-assign]
        loaded.append(judge)
        return judge

    monkeypatch.setattr(step_run, "make_llm", stand_in)
    monkeypatch.setattr(step_jury, "make_llm", stand_in)
    source = write_steps(tmp_path / "t.jsonl", chains(3, seed=6))
    sure, unsure = (JudgeSpec.model_validate({"backend": "hf", "model": m}) for m in ("sure", "unsure"))
    args = (load_step_principles(step_folder), JudgmentCache(tmp_path / "c.sqlite"), StepLabelConfig())
    one = step_run.label_traces(args[0], [sure], *args[1:], StepReader(source), tmp_path / "one", show_progress=False)
    jury = step_run.label_traces(args[0], [sure, unsure], *args[1:], StepReader(source), tmp_path / "jury", show_progress=False)
    assert (one.traces, one.judge) == (3, "sure") and not (tmp_path / "one" / "judges").exists()
    assert (jury.traces, jury.judge) == (3, "jury:hf-sure+hf-unsure") and (tmp_path / "jury" / "judges" / "hf-sure").is_dir()
    assert loaded == []  # every judge released
    with pytest.raises(InputError, match="no judge"):
        step_run.label_traces(args[0], [], *args[1:], StepReader(source), tmp_path / "none")


@pytest.mark.slow
def test_lora_training_saves_a_plain_token_classification_folder(tmp_path: Path, minilm_tokenizer):
    """LoRA adapters on every linear layer but the head (peft trains the head whole), merged on save."""
    from constitution.reward.config import LoraSettings
    from constitution.reward.process.config import ProcessTrainingConfig
    from constitution.reward.process.model import ProcessRewardModel
    from constitution.reward.process.trainer import train_process_model

    config = ProcessTrainingConfig(base_model="all-minilm-l6-v2", max_length=48, epochs=1, batch_size=8, lora=LoraSettings(r=4, alpha=8), eval_fraction=0)
    train_process_model(config, chains(16, error="guess"), tmp_path / "prm")
    model = ProcessRewardModel.load(tmp_path / "prm")
    assert type(model.model).__name__ == "BertForTokenClassification" and model.metadata.training_config["lora"]["r"] == 4
    assert not any("lora" in name for name, _ in model.model.named_parameters())
    [[score]] = model.step_scores([("Start at 3, then + 2.", ["3 + 2 = 5"])])
    assert 0.0 < score < 1.0


def test_the_held_out_traces_never_share_a_prompt_with_the_training_traces():
    """Several traces per prompt (best-of-n candidates) stay on one side of the split, whatever their file order."""
    from constitution.reward.process.trainer import _split

    traces = [StepTrace(id=f"{p}-{k}", prompt=f"problem {p}", completions=[f"step {k}"]) for p in range(8) for k in range(4)]
    for order in (traces, traces[::-1]):
        train, held = _split(order, 0.25, seed=0)
        assert held and {t.prompt for t in train}.isdisjoint({t.prompt for t in held})
        assert sorted(t.id for t in held) == sorted(t.id for t in _split(traces, 0.25, seed=0)[1])
