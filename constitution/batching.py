"""Length-sorted batching: rows of similar length go together, so little compute is spent on padding."""

from __future__ import annotations

from collections.abc import Sequence


def length_sorted_batches(
    lengths: Sequence[int], batch_size: int, max_tokens: int | None = None, max_rows: int | None = None, min_fill: float = 0.0
) -> list[list[int]]:
    """Indices in batches of similar length, longest first (little padding; an OOM shows on the first batch).

    Without ``max_tokens`` every batch has ``batch_size`` rows. With it, a batch grows while rows × its longest
    row stays within ``max_tokens`` (at most ``max_rows`` rows), so short inputs go in bigger batches at the
    same memory bound; and a row shorter than ``min_fill`` × the batch's longest starts a new batch, so rows of
    very different lengths (a server's batch of whatever requests arrived together) do not pad to the longest.
    """
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if max_tokens is None:
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    cap = max_rows or 8 * batch_size
    batches: list[list[int]] = []
    for i in order:
        if batches and len(batches[-1]) < cap and _fits(lengths[batches[-1][0]], len(batches[-1]), lengths[i], max_tokens, min_fill):
            batches[-1].append(i)
        else:
            batches.append([i])
    return batches


def _fits(longest: int, rows: int, length: int, max_tokens: int, min_fill: float) -> bool:
    return (rows + 1) * longest <= max_tokens and length >= min_fill * longest
