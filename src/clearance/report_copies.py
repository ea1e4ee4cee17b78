"""Which lines of the logs given to ``clearance report`` are copies of lines of another.

A log given with a copy of it (an rsync'd or backup copy, older or not) must not count an
event twice; a log moved away while its run wrote to it (archived by hand, ``logrotate``
with ``create``) goes on in a new file that starts again at ``seq`` 1 with the same
``run_id`` and ``host`` — other events, which must all be read. The ``seq`` alone cannot tell
them apart; the chain can. A line is a copy when another log has the same bytes at the same
``seq``: its ``prev`` names the line before, so equal lines stand at the same place on the
same chain, and the first line of a new chain differs from the old one's (its time, its
event) even where both start at ``seq`` 1 after the genesis hash.

:func:`copied_lines` reads the logs' raw lines side by side in ``seq`` order (no JSON
parsing), before the report reads them, and returns per log the ranges of its line numbers
that an earlier log given also has. Memory: one line per log at a time, and a few ranges.
Logs that cannot share a line are not read twice: chains that differ at their first line
differ everywhere after it (a line equal in two logs makes the lines before it equal), so
only logs whose first event lines are equal, or any log that starts past ``seq`` 1 (its
older files archived: it may hold a later part of another), are compared.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

__all__ = ["Snapshot", "copied_lines", "read_lines"]

#: an open log: its files, each read up to the size it had (``auditlog_verify.open_snapshot``)
Snapshot = list[tuple[Path, BinaryIO, int]]

#: how writers start every line (``clearance.event/1``, keys in envelope order)
_PREFIX = b'{"schema":"clearance.event/1","seq":'
_AT = len(_PREFIX)


def read_lines(snapshot: Snapshot) -> Iterator[tuple[int, bytes]]:
    """``(number, line)`` for every line of the log, numbered from 0 across its files, each
    file from its start up to its recorded size — the lines ``report`` reads, in its order."""
    n = 0
    for _f, fh, size in snapshot:
        fh.seek(0)
        offset = 0
        for raw in fh:
            if offset >= size:
                break
            offset += len(raw)
            yield n, raw
            n += 1


def _events(snapshot: Snapshot, index: int) -> Iterator[tuple[int, int, int, bytes]]:
    """``(seq, index, number, line)`` of each line that starts as a writer's event does."""
    for n, raw in read_lines(snapshot):
        if raw.startswith(_PREFIX):
            end = raw.find(b",", _AT)
            digits = raw[_AT:end]
            if digits.isdigit():
                yield int(digits), index, n, raw.rstrip(b"\n")


def _first(snapshot: Snapshot) -> tuple[int, bytes] | None:
    for seq, _i, _n, line in _events(snapshot, 0):
        return seq, line
    return None


def _compared(snapshots: Sequence[Snapshot]) -> list[int]:
    """The logs that may share lines with another (see the module docstring)."""
    firsts = {i: f for i, s in enumerate(snapshots) if (f := _first(s)) is not None}
    if any(seq != 1 for seq, _line in firsts.values()):
        return list(firsts)
    count = Counter(line for _seq, line in firsts.values())
    return [i for i, (_seq, line) in firsts.items() if count[line] > 1]


def copied_lines(snapshots: Sequence[Snapshot]) -> list[list[list[int]]]:
    """For each log, the ranges ``[first, last]`` (line numbers as :func:`read_lines` gives
    them, ascending) of its lines that a log given before it has too, at the same ``seq``:
    the same events, read there. Each log is left to be read again from its start."""
    copies: list[list[list[int]]] = [[] for _ in snapshots]
    compared = _compared(snapshots)
    if len(compared) > 1:
        at: int | None = None
        lines: list[tuple[int, bytes]] = []  # the lines at seq ``at`` so far: (log, bytes)
        merged = heapq.merge(*(_events(snapshots[i], i) for i in compared))
        for seq, index, n, line in merged:
            if seq != at:
                at, lines = seq, []
            if any(i < index and seen == line for i, seen in lines):
                ranges = copies[index]
                if ranges and ranges[-1][1] == n - 1:
                    ranges[-1][1] = n
                else:
                    ranges.append([n, n])
            lines.append((index, line))
    for snapshot in snapshots:
        for _f, fh, _size in snapshot:
            fh.seek(0)
    return copies
