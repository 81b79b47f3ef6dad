"""What identifies a model's answers, for the caches keyed by it: the content of a local folder's files, or the
commit of the Hugging Face snapshot a hub id was loaded from.

A local folder is identified by the SHA-256 of every file a loader may read (config, weights, and every tokenizer
file: ``tokenizer.json``, ``tokenizer_config.json``, ``chat_template.jinja``, special tokens, vocab/merges,
``tokenizer.model``, ...), never by its path or modification times: the same model copied or converted on several
machines has one identity, and a model retrained, re-templated or re-tokenized in place has a new one. Digests are
remembered per (path, size, mtime, inode) in ``$CONSTITUTION_CACHE/file_digests.sqlite``, so a large model is read
once per machine. A hub id is pinned to the commit of its snapshot in the Hugging Face cache: ask for it after the
model was loaded, so that it is the commit that was loaded.
"""

from __future__ import annotations

from pathlib import Path

from constitution.embedded_models import cache_dir
from constitution.errors import InputError
from constitution.file_digests import FileDigests
from constitution.hashing import content_hash

_IGNORED_NAMES = frozenset(
    {"constitution_source.json", "optimizer.pt", "scheduler.pt", "scaler.pt", "trainer_state.json", "training_args.bin"}
)  # provenance and training state: never read by a loader
_IGNORED_PREFIXES = (".", "README", "LICENSE", "LICENCE", "NOTICE", "USE_POLICY", "rng_state")
_IGNORED_SUFFIXES = (".md", ".h5", ".msgpack", ".onnx", ".ot", ".tflite", ".png", ".jpg", ".gif")  # docs, other frameworks


def identity_files(folder: Path) -> list[Path]:
    """The files of a model folder that decide its answers (its top level: loaders read nothing below it)."""
    return sorted(
        f
        for f in folder.iterdir()
        if f.is_file()
        and f.name not in _IGNORED_NAMES
        and not f.name.startswith(_IGNORED_PREFIXES)
        and not f.name.endswith(_IGNORED_SUFFIXES)
    )


def folder_identity(folder: Path) -> str:
    """``sha256:`` and a hash of each identity file's name and content."""
    with FileDigests(cache_dir() / "file_digests.sqlite") as digests:
        return "sha256:" + content_hash([[f.name, digests.sha256(f)] for f in identity_files(folder)])


def hub_identity(repo_id: str) -> str:
    """``hub:<id>@<commit>``: the snapshot of ``repo_id`` that the Hugging Face cache serves (its ``main`` ref)."""
    from huggingface_hub import try_to_load_from_cache

    for name in ("config.json", "tokenizer_config.json"):
        cached = try_to_load_from_cache(repo_id, name)
        if isinstance(cached, str):
            return f"hub:{repo_id}@{Path(cached).parent.name}"
    raise InputError(
        "not a local folder, and no snapshot of it is in the Hugging Face cache: its revision cannot be pinned",
        where=repo_id,
    )


def model_identity(path: str) -> str:
    """The identity of a resolved model: a local folder by content, a hub id by the commit loaded."""
    folder = Path(path)
    return folder_identity(folder) if folder.is_dir() else hub_identity(path)
