"""Lines released in input order: a reorder buffer for outcomes that finish in any order.

Each pair of a labeling run is a numbered slot; its lines (a record, a note that it was shortened, why it was
skipped) are added as they come, and :meth:`InOrder.done` marks the slot finished. Lines leave, through ``emit``, in
slot order: slot n only once slots 0 … n-1 have left. So the files a run writes do not depend on which judgment
came back first, and a run resumed from the cache writes the same files as one that never stopped.

Memory stays bounded: at most ``max_held`` finished slots wait in memory; past that (one slow pair holding back a
fast stream), finished slots wait in a temporary SQLite file that is deleted when the buffer is closed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

Emit = Callable[[str, str], None]  # (file name, line)
MAX_HELD = 4096


class InOrder:
    """The reorder buffer (see the module docstring)."""

    def __init__(self, emit: Emit, max_held: int = MAX_HELD) -> None:
        self.emit = emit
        self.max_held = max_held
        self.next = 0  # the first slot not yet released
        self.lines: dict[int, list[tuple[str, str]]] = {}  # slots in memory (finished or not)
        self.finished: set[int] = set()  # finished slots in memory
        self._spill: sqlite3.Connection | None = None
        self.spilled = 0  # finished slots waiting on disk

    def add(self, slot: int, name: str, line: str) -> None:
        """A line of ``slot`` for the file ``name``."""
        self.lines.setdefault(slot, []).append((name, line))

    def done(self, slot: int) -> None:
        """``slot`` has all its lines: release it, and every finished slot after it, when its turn has come."""
        if slot != self.next and len(self.finished) >= self.max_held:
            self._to_disk(slot, self.lines.pop(slot, []))
        else:
            self.finished.add(slot)
        while True:
            if self.next in self.finished:
                self.finished.discard(self.next)
                lines = self.lines.pop(self.next, [])
            else:
                spilled = self._take_spilled(self.next)
                if spilled is None:
                    return
                lines = spilled
            self._emit(lines)
            self.next += 1

    def drain(self) -> None:
        """Release everything left, in slot order (at the end of a run: lines of slots that never finished, such as
        unreadable rows after the last pair)."""
        on_disk = self._spilled_slots()
        for slot in sorted({*self.lines, *on_disk}):
            held = self.lines.pop(slot, None)
            self._emit(held if held is not None else self._take_spilled(slot) or [])
        self.finished.clear()

    def close(self) -> None:
        """Drop the spill file."""
        if self._spill is not None:
            self._spill.close()
            self._spill = None
            self.spilled = 0

    def _emit(self, lines: list[tuple[str, str]]) -> None:
        for name, line in lines:
            self.emit(name, line)

    # -- the spill file -----------------------------------------------------------------------------------------
    def _to_disk(self, slot: int, lines: list[tuple[str, str]]) -> None:
        if self._spill is None:
            self._spill = sqlite3.connect("", isolation_level=None)  # "": a private temporary file, gone on close
            self._spill.execute("CREATE TABLE held (slot INTEGER, seq INTEGER, name TEXT, line TEXT, PRIMARY KEY (slot, seq))")
            self._spill.execute("CREATE TABLE finished (slot INTEGER PRIMARY KEY)")
        self._spill.executemany("INSERT INTO held VALUES (?, ?, ?, ?)", [(slot, k, n, t) for k, (n, t) in enumerate(lines)])
        self._spill.execute("INSERT INTO finished VALUES (?)", (slot,))
        self.spilled += 1

    def _take_spilled(self, slot: int) -> list[tuple[str, str]] | None:
        """The lines of ``slot`` if it finished while waiting on disk (removed from there), else None."""
        if not self.spilled:
            return None
        assert self._spill is not None
        if not self._spill.execute("DELETE FROM finished WHERE slot = ?", (slot,)).rowcount:
            return None
        rows = self._spill.execute("SELECT name, line FROM held WHERE slot = ? ORDER BY seq", (slot,)).fetchall()
        self._spill.execute("DELETE FROM held WHERE slot = ?", (slot,))
        self.spilled -= 1
        return rows

    def _spilled_slots(self) -> list[int]:
        if not self.spilled:
            return []
        assert self._spill is not None
        return [slot for (slot,) in self._spill.execute("SELECT slot FROM finished")]
