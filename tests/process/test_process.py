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
from constitution.labeling.steps.output import label_steps_to_folder
from constitution.labeling.steps.labeler import StepLabelConfig, StepLabeler, label_steps
from constitution.reward.process.metrics import aggregate, best_of_n_accuracy, first_error, processbench_metrics
from constitution.step_principles import load_step_principles
from tests.process.chains import ChainJudge, chains, check_trace, make_chain

STEP_SET = """kind: step_principle_set
id: arithmetic
options: ["Yes", "No"]
principles:
  - id: step-correct
    text: Is this step correct given the previous ones?
"""


@pytest.fixture
def step_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "principles"
    folder.mkdir()
    (folder / "steps.yaml").write_text(STEP_SET)
    return folder


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
    assert ds[1]["labels"] == [0.9, 0.25, 1.0] and ds[1]["completions"] == ["one", "two", "three"]
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
        assert [p > 0.5 for p in record.labels] == trace.labels == check_trace(trace.prompt, trace.completions)
        assert all(math.isclose(max(p, 1 - p), 0.95) for p in record.labels)
    # Edit step k of one trace: steps before k come from the cache, k and every later step are asked again.
    trace = next(t for t in traces if len(t.completions) >= 4)
    k = 1
    edited = trace.model_copy(update={"completions": [*trace.completions[:k], "I guess it is about 7", *trace.completions[k + 1 :]]})
    judge.asked.clear()
    again, summary, _ = label_steps(StepLabeler(principles, judge, cache), [*traces, edited])
    assert summary.judgments_computed == len(judge.asked) == 2 * (len(trace.completions) - k)
    assert summary.judgments_cached == 2 * (steps + k)
    assert again[-1].labels[k] < 0.5 and again[-1].labels[:k] == again[traces.index(trace)].labels[:k]


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
    assert ds.column_names[:4] == ["id", "prompt", "completions", "labels"] and len(ds) == 6
    assert [x > 0.5 for x in ds[2]["labels"]] == traces[2].labels
    again = label_steps_to_folder(labeler, StepReader(source), tmp_path / "out", show_progress=False)
    assert again.judgments_computed == 0 and again.judgments_cached == summary.judgments


def test_first_error_metrics_and_aggregates():
    assert aggregate([0.9, 0.5, 0.8], "min") == 0.5
    assert math.isclose(aggregate([0.9, 0.5, 0.8], "product"), 0.36)
    assert aggregate([0.9, 0.5, 0.8], "last") == 0.8
    assert first_error([0.9, None, 0.4, 0.1]) == 2 and first_error([0.9, 0.6]) == -1
    m = processbench_metrics([1, -1, 2, -1, 0], [1, 2, 2, -1, -1])
    assert m["first_error_acc_erroneous"] == 2 / 3 and m["first_error_acc_correct"] == 0.5
    assert math.isclose(m["first_error_f1"], 2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert best_of_n_accuracy([[0.1, 0.9], [0.8, 0.2]], [[False, True], [False, True]]) == 0.5


def test_long_traces_lose_the_prompt_start_then_the_earliest_steps(minilm_tokenizer):
    from constitution.reward.process.encoding import encode_traces, marker_id

    marker = marker_id(minilm_tokenizer)
    [(ids, positions)] = encode_traces(minilm_tokenizer, ["word " * 50], [["one two", "three four", "five six"]], 10, marker)
    assert len(ids) == 10 and positions[0] is None and all(p is not None for p in positions[1:])
    assert ids[-1] == marker and minilm_tokenizer.decode([ids[p] for p in positions[1:]]) == "four six"


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
    args = ["--max-length", "48", "--epochs", "2", "--batch-size", "8", "--lr", "5e-4", "--eval-fraction", "0", "--aggregate", "min"]
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
    # Chance: a random step (or "no error") is right about 1 time in 5.
    assert metrics["first_error_f1"] > 0.8 and metrics["first_error_accuracy"] > 0.8
    assert all(r["score"] == min(r["step_scores"]) for r in rows)


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
    assert len(rows) == 2 and all(len(r["labels"]) == 2 and all(0 < p < 1 for p in r["labels"]) for r in rows)
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
        assert row["labels"] == pytest.approx([(0.95 + 3 * 0.75) / 4 if good else (0.05 + 3 * 0.25) / 4 for good in trace.labels])
    assert (tmp_path / "out" / "judges" / "hf-unsure" / "labels.jsonl").exists()


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

    config = ProcessTrainingConfig(max_length=48, epochs=1, batch_size=8, lora=LoraSettings(r=4, alpha=8), eval_fraction=0)
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
