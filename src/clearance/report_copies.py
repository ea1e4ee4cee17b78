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

Within one log, :class:`PastedLines` finds the lines pasted again further down (a log
concatenated with part of itself): the same rule, a line with the same bytes at the same
``seq`` before it. A writer's ``seq`` only goes up, so the report asks only about a line
whose ``seq`` is not above every ``seq`` before it — never, in a log nothing was pasted into.
"""

from __future__ import annotations

import heapq
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from clearance.auditlog import MAX_EVENT_BYTES, LongLine, log_lines

__all__ = ["PastedLines", "Snapshot", "copied_lines", "line_seq", "read_lines"]

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
        for raw in log_lines(fh):
            if offset >= size:
                break
            if isinstance(raw, LongLine):  # no event: never read whole
                offset += raw.size
                yield n, b""
            else:
                offset += len(raw)
                yield n, raw
            n += 1


def line_seq(raw: bytes) -> int | None:
    """The ``seq`` of a line that starts as a writer's event does (no JSON parsing)."""
    if raw.startswith(_PREFIX):
        digits = raw[_AT : raw.find(b",", _AT)]
        if digits.isdigit():
            return int(digits)
    return None


def _events(snapshot: Snapshot, index: int) -> Iterator[tuple[int, int, int, bytes]]:
    """``(seq, index, number, line)`` of each line that starts as a writer's event does, in
    ``seq`` order: a line whose ``seq`` goes back (pasted again further down the log, or
    another chain appended) is left to :class:`PastedLines`, which compares it with the
    lines before it in its own log."""
    top = 0
    for n, raw in read_lines(snapshot):
        if raw.startswith(_PREFIX):
            end = raw.find(b",", _AT)
            digits = raw[_AT:end]
            if digits.isdigit():
                seq = int(digits)
                if seq > top:
                    top = seq
                    yield seq, index, n, raw.rstrip(b"\n")


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


#: what a log's look-back may read, in bytes: this many times the log, plus a little
_LOOK_BACK_TIMES = 2
_LOOK_BACK_SLACK = 16 << 20
_CHUNK = 1 << 16


class PastedLines:
    """The lines of one log that are copies of lines before them in the same log.

    Asked (:meth:`is_copy`) about each line whose ``seq`` goes back (is not above every
    ``seq`` before it), in file order; it reads the log's earlier lines a second time,
    through its own reads (``os.pread``: the report's reading goes on where it was), from
    where it last looked: a pasted block costs one pass to find its first original, then
    one line per line (the originals follow one another as the copies do). It starts again
    from the first line only when the ``seq`` asked about goes back again. Memory: a line at
    a time. Time: at most twice the log's bytes read again, then it stops looking
    (:attr:`gave_up`), so a file that is no chain at all (logs interleaved line by line)
    costs no more than that.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.budget = _LOOK_BACK_TIMES * sum(size for _f, _fh, size in snapshot)
        self.budget += _LOOK_BACK_SLACK
        self._read = [0]  # bytes read again so far, every line counted
        self.gave_up = False
        #: how many lines were copies; the first: (its number, seq, the original's number)
        self.count = 0
        self.first: tuple[int, int, int] | None = None
        self._asked = -1  # the seq last asked about
        self._lines = _events_from_start(snapshot, self._read)
        self._next: tuple[int, int, bytes] | None = None

    def is_copy(self, number: int, seq: int, raw: bytes) -> bool:
        """Whether line ``number`` (as :func:`read_lines` numbers them), an event at ``seq``
        whose bytes are ``raw``, has the same bytes as a line before it at that ``seq``."""
        if self.gave_up:
            return False
        if seq <= self._asked:  # a new block going back: look from the start again
            self._lines, self._next = _events_from_start(self.snapshot, self._read), None
        self._asked = seq
        line = raw.rstrip(b"\n")
        while True:
            item = self._next if self._next is not None else next(self._lines, None)
            self._next = None
            if item is None:
                return False
            n, at, seen = item
            if n >= number:  # nothing before it: keep this line for the next question
                self._next = item
                return False
            if self._read[0] > self.budget:
                self.gave_up = True
                return False
            if at == seq and seen == line:
                self.count += 1
                if self.first is None:
                    self.first = (number, seq, n)
                return True


def _events_from_start(snapshot: Snapshot, read: list[int]) -> Iterator[tuple[int, int, bytes]]:
    """``(number, seq, line)`` of each line of the log that starts as a writer's event does,
    numbered as :func:`read_lines` numbers them, each file read up to its recorded size with
    ``os.pread`` (the file's own position, where the report reads, does not move); the bytes
    read are added to ``read[0]``."""
    n = 0
    for _f, fh, size in snapshot:
        fd = fh.fileno()
        pos = 0
        buf = bytearray()
        skipping = False  # in a line longer than any event: not kept (bounded memory)
        while pos < size:
            chunk = os.pread(fd, min(_CHUNK, size - pos), pos)
            if not chunk:
                break
            pos += len(chunk)
            read[0] += len(chunk)
            if skipping:
                end = chunk.find(b"\n")
                if end < 0:
                    continue
                chunk, skipping = chunk[end + 1 :], False
                n += 1
            buf += chunk
            start = 0
            while (end := buf.find(b"\n", start)) >= 0:
                if buf.startswith(_PREFIX, start):
                    seq = _seq(buf, start)
                    if seq is not None:
                        yield n, seq, bytes(buf[start:end])
                n += 1
                start = end + 1
            del buf[:start]
            if len(buf) > MAX_EVENT_BYTES:
                buf.clear()
                skipping = True
        if skipping:
            n += 1
        elif buf:  # the last line, without its newline
            seq = _seq(buf, 0) if buf.startswith(_PREFIX) else None
            if seq is not None:
                yield n, seq, bytes(buf)
            n += 1


def _seq(buf: bytearray, start: int) -> int | None:
    digits = buf[start + _AT : buf.find(b",", start + _AT)]
    return int(digits) if digits.isdigit() else None
