"""A progress bar (tqdm, on stderr) over the pairs a labeling run finishes."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from constitution.labeling.labeler import Progress


@contextmanager
def progress_bar(*, show: bool = True, total: int | None = None, desc: str | None = None) -> Iterator[Progress]:
    """A ``Progress`` callback that advances a bar of pairs (its total is unknown for a streamed source)."""
    from tqdm import tqdm

    with tqdm(unit="pair", disable=not show, file=sys.stderr, desc=desc, total=total) as bar:
        yield bar.update
