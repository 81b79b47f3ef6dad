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


# rows of every fixed-shape forward pass (a short batch is filled with copies of its first row)
FIXED_ROWS = 4


def forward_batches(
    lengths: Sequence[int], batch_size: int, *, fixed_shape: bool = False, fixed_width: int | None = None,
    max_tokens: int | None = None, max_rows: int | None = None, min_fill: float = 0.0,
) -> list[tuple[list[int], int | None]]:
    """(indices, width) of each forward pass: :func:`fixed_shape_batches` of ``FIXED_ROWS`` rows with
    ``fixed_shape`` (bf16: an input's result then depends on that input alone; ``fixed_width``: one width for all),
    else :func:`length_sorted_batches` padded to their longest row (width None)."""
    if fixed_shape:
        return fixed_shape_batches(lengths, FIXED_ROWS, fixed_width)
    return [(b, None) for b in length_sorted_batches(lengths, batch_size, max_tokens, max_rows, min_fill)]


def bucket_width(length: int) -> int:
    """The padded width an input of ``length`` tokens always runs at in :func:`fixed_shape_batches`: its own length
    up to 16, then rounded up to a multiple of a quarter of the power of two below it (over 80% real tokens)."""
    if length <= 16:
        return length
    step = 1 << (length.bit_length() - 3)
    return -(-length // step) * step


def fixed_shape_batches(lengths: Sequence[int], rows: int, width: int | None = None) -> list[tuple[list[int], int]]:
    """(indices, width) batches in which every forward pass has the same shape for the same input length:
    ``rows`` rows (the caller fills a short batch with copies) × :func:`bucket_width` of the length, or ``width``
    for every input (a shape that does not even depend on the length).

    Low-precision kernels (bf16 GEMMs on AMX or GPUs) pick their reduction order by the whole matrix's shape, so a
    row's result can change with the number of rows beside it or the padding it gets; with the shape a function of
    the input's own length, an input's result depends on that input alone, whatever else arrived with it.
    """
    groups: dict[int, list[int]] = {}
    for i in sorted(range(len(lengths)), key=lambda i: -lengths[i]):
        groups.setdefault(width or bucket_width(lengths[i]), []).append(i)
    return [(members[c : c + rows], width) for width, members in groups.items() for c in range(0, len(members), rows)]
