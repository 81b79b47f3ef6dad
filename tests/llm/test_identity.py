"""Judge identities: a local model folder is identified by the content of every file a loader reads (the chat
template and every other tokenizer file included), never by its path or modification times; a hub id by the commit
of the snapshot loaded. Digests of big files are remembered, so an unchanged model is not read twice."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from constitution import file_digests
from constitution.errors import InputError
from constitution.model_identity import model_identity


@pytest.fixture()
def judge_copy(tmp_path, judge_model_path, monkeypatch) -> Path:
    """A copy of the embedded judge's config and tokenizer files, with small weights (a copy of the real 540 MB
    would only slow the test down); digests are cached under tmp_path, not in the user's cache."""
    import torch
    from safetensors.torch import save_file

    monkeypatch.setenv("CONSTITUTION_CACHE", str(tmp_path / "cache"))
    folder = tmp_path / "judge"
    shutil.copytree(judge_model_path, folder, ignore=shutil.ignore_patterns("*.safetensors"))
    save_file({"lm_head.weight": torch.arange(4096, dtype=torch.float32).reshape(64, 64)}, folder / "model.safetensors")
    return folder


def _bump_mtimes(folder: Path, by_ns: int) -> None:
    for f in folder.iterdir():
        st = f.stat()
        os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + by_ns))


def test_a_copy_elsewhere_with_other_mtimes_is_the_same_judge(judge_copy, tmp_path):
    """Each Ray node converts or copies the model itself: other paths and mtimes, the same model, one identity."""
    other = tmp_path / "node-2" / "models" / "another-name"
    shutil.copytree(judge_copy, other, copy_function=shutil.copy)  # content only, new mtimes
    _bump_mtimes(other, 10**9)
    assert model_identity(str(other)) == model_identity(str(judge_copy))


@pytest.mark.parametrize(
    "name, edit",
    [
        ("chat_template.jinja", lambda text: text.replace("<|im_start|>assistant", "<|im_start|>assistant ")),
        ("tokenizer_config.json", lambda text: text.replace("{", '{"model_max_length": 77, ', 1)),
        ("tokenizer.json", lambda text: text.replace('"<|im_end|>"', '"<|im_stop|>"', 1)),
        ("config.json", lambda text: text.replace("{", '{"x": 1, ', 1)),
        ("special_tokens_map.json", lambda text: '{"pad_token": "<|im_end|>"}'),
        ("tokenizer.model", lambda text: "sentencepiece bytes"),
        ("merges.txt", lambda text: "#version: 0.2\nĠ t\n"),
    ],
)
def test_an_edited_or_added_tokenizer_or_config_file_is_a_new_judge(judge_copy, name, edit):
    before = model_identity(str(judge_copy))
    path = judge_copy / name
    path.write_text(edit(path.read_text() if path.exists() else ""))
    assert model_identity(str(judge_copy)) != before


def test_rewritten_weights_are_a_new_judge_and_docs_are_not(judge_copy):
    before = model_identity(str(judge_copy))
    (judge_copy / "README.md").write_text("a model card")
    assert model_identity(str(judge_copy)) == before
    weights = judge_copy / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1  # same size, one bit of one weight
    weights.write_bytes(bytes(data))
    assert model_identity(str(judge_copy)) != before


def test_an_unchanged_file_is_read_once(judge_copy, monkeypatch):
    """A spy on the hashing function (isolating the cache's effect): the second identity reads nothing."""
    reads: list[str] = []
    real = file_digests.file_sha256
    monkeypatch.setattr(file_digests, "file_sha256", lambda path: reads.append(Path(path).name) or real(path))
    first = model_identity(str(judge_copy))
    assert "model.safetensors" in reads and "chat_template.jinja" in reads
    reads.clear()
    assert model_identity(str(judge_copy)) == first and reads == []
    _bump_mtimes(judge_copy, 10**9)  # touched, not changed: read again, same identity
    assert model_identity(str(judge_copy)) == first and "model.safetensors" in reads


def _hub_cache(root: Path, model: Path, repo: str, commits: list[str]) -> Path:
    """A Hugging Face hub cache holding ``commits`` of ``repo`` (copies of ``model``), ``main`` at the first."""
    repo_dir = root / ("models--" + repo.replace("/", "--"))
    for commit in commits:
        snapshot = repo_dir / "snapshots" / commit
        snapshot.mkdir(parents=True)
        for f in model.iterdir():  # links to the files, as the hub cache links to its blobs
            (snapshot / f.name).symlink_to(f)
    (repo_dir / "refs").mkdir(parents=True)
    (repo_dir / "refs" / "main").write_text(commits[0])
    return repo_dir


def test_a_hub_id_is_pinned_to_the_commit_loaded(tmp_path, judge_model_path, monkeypatch):
    """Offline, from a hub cache laid out as huggingface_hub does: the real loader reads the snapshot of ``main``
    (the openai backend, which loads only the tokenizer: the fastest backend to build)."""
    from huggingface_hub import constants

    from constitution.llm.config import OpenAIConfig
    from constitution.llm.openai_backend import OpenAIBackend

    old, new = "a" * 40, "b" * 40
    repo_dir = _hub_cache(tmp_path / "hub", Path(judge_model_path), "org/tiny-judge", [old, new])
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    judge = OpenAIBackend(OpenAIConfig(model="org/tiny-judge", base_urls=["http://127.0.0.1:9"]))
    assert judge.identity == f"openai:@hub:org/tiny-judge@{old}"
    judge.close()
    (repo_dir / "refs" / "main").write_text(new)  # the hub moved on
    assert model_identity("org/tiny-judge") == f"hub:org/tiny-judge@{new}"
    with pytest.raises(InputError, match="org/not-here.*cannot be pinned"):
        model_identity("org/not-here")
