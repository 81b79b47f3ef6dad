"""Where a constitution comes from: the one rule for the default (:func:`find_constitution`, used by the commands and
by the pipeline alike), and a version named on the command line (:func:`load_version`): a principles folder or file,
or a git revision of one. Library entry points take a loaded :class:`Constitution`; the faces load it with these.

``REV:PATH`` (``HEAD~1:principles``, ``v1.2:principles``, ``main:principles/x.yaml``) is
read from the git repository of the working directory, as ``git show`` reads it: the path is relative to the
repository root (``REV:./PATH`` to the working directory). A folder is exported with ``git archive`` into a
temporary folder, a file with ``git cat-file``; it is loaded there, and every error names ``REV:PATH/file:line``
instead of the temporary path. A name that exists on disk is always a path.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path, PurePosixPath

from constitution.errors import InputError, InputErrors
from constitution.loader import load_constitution
from constitution.principles import Constitution
from constitution.resources import default_principles

LOCAL = Path("principles")


def find_constitution(given: str | Path | None = None) -> Path:
    """The constitution to load: ``given``, else ``./principles`` when the working directory has one (written by
    ``constitution init``, or a checkout's own), else the default shipped with the package."""
    if given:
        return Path(given)
    return LOCAL if LOCAL.is_dir() else default_principles()


def _git(args: list[str], cwd: Path | None) -> bytes:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise InputError("git is not installed, so a REV:PATH version cannot be read") from exc
    if done.returncode != 0:
        raise InputError(done.stderr.decode(errors="replace").strip() or f"git {' '.join(args)} failed")
    return done.stdout


def _export(spec: str, folder: Path, cwd: Path | None) -> Path:
    """Write the tree or file ``spec`` names into ``folder``; the path to load."""
    kind = _git(["cat-file", "-t", spec], cwd).decode().strip()
    if kind == "tree":
        with tarfile.open(fileobj=io.BytesIO(_git(["archive", "--format=tar", spec], cwd))) as tar:
            tar.extractall(folder, filter="data")
        return folder
    if kind == "blob":
        target = folder / (PurePosixPath(spec.split(":", 1)[1]).name or "principles.yaml")
        target.write_bytes(_git(["cat-file", "blob", spec], cwd))
        return target
    raise InputError(f"{spec} is a git {kind}, not a folder or a file")


def _renamed(error: InputError, temp: Path, spec: str) -> InputError:
    text = str(error).replace(f"{temp}/", f"{spec.rstrip('/')}/").replace(str(temp), spec)
    return InputError(text)


def _load(spec: str, cwd: Path | None) -> Constitution:
    path = Path(cwd or ".") / spec
    if path.exists() or ":" not in spec:
        return load_constitution(path)
    with tempfile.TemporaryDirectory(prefix="constitution-version-") as tmp:
        try:
            exported = _export(spec, Path(tmp), cwd)
        except InputError as exc:
            raise InputError(f"not a file or folder, nor a git REV:PATH ({exc})", where=spec) from exc
        try:
            return load_constitution(exported)
        except InputErrors as exc:
            raise InputErrors([_renamed(e, exported, spec) for e in exc.errors]) from exc
        except InputError as exc:
            raise _renamed(exc, exported, spec) from exc


def load_version(spec: str, cwd: Path | None = None) -> Constitution:
    """Load the constitution ``spec`` names (a path, else ``REV:PATH`` in the git repository at ``cwd``); raises
    :class:`InputErrors` listing every problem with ``file:line``, as ``constitution validate`` reports them."""
    try:
        return _load(spec, cwd)
    except InputErrors:
        raise
    except InputError as exc:
        raise InputErrors([exc]) from exc
