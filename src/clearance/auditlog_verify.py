"""Checking an audit log's hash chain: ``clearance verify``.

:func:`verify_log` reads a log (the active file and its rotated files, oldest first) once,
streaming, and reports every break with its file and line, each with a *kind*:

==============  =====================================================================  ========
kind            what it means                                                          tampered
==============  =====================================================================  ========
``edited``      a line's bytes changed after it was written (the next line's ``prev``   yes
                no longer matches it), or a line is no longer a valid event (the
                last line too: no writer appends after it)
``deleted``     lines are missing (``seq`` jumps, ``prev`` points at a line not there)  yes
``inserted``    a line that is not part of the chain sits between chained lines         yes
``reordered``   chained lines are present but not in ``seq`` order                      yes
``gap``         ``seq`` jumps across rotated files, or a rotated file number is          yes
                missing (a rotated file was deleted)
``truncated``   a signed checkpoint covers events the log no longer has                yes
``checkpoint``  a signed checkpoint does not match the line on the chain at its       yes
                ``seq``, or its signature does not verify
``torn``        the last line is incomplete (a writer crashed mid-write); not          no
                tampering, the next writer recovers it (with the lines before it
                that a writer crashing while recovering it left, or the line its
                recovery ended when a crash cut it right after that newline)
``recovered``   a torn line that a later writer terminated and recorded in a           no
                ``log.recovered`` event: the last line of the file when that writer
                came (unless an event), or one a writer that crashed while recovering
                it left before it (``auditlog.left_by_crash``); any other line such an
                event names is *inserted*
==============  =====================================================================  ========

How breaks are classified: intact lines take a fast path (the line must start with exactly
the prefix its predecessor implies). At the first line that does not, the walk opens a
*region* that runs until the chain links up again, then rebuilds the region's chain forward
from the last intact line by following ``prev`` links, whatever the file order. Chained lines
met out of file order are *reordered*; where no line links on, the walk resumes at the
smallest unvisited ``seq`` (of two lines with it, the one the chain links up with again, else
the one a ``log.recovered`` event beside it does not name as torn) and names why: the line
before was *edited* (nothing is missing), lines sitting exactly where the missing ``seq``
values belong were *edited* (or moved there), otherwise lines were *deleted*. Lines the chain
never reaches are *inserted*: the chain only goes forward in ``seq``, so a region links up
again only at a line the rebuilt chain reaches (a run that chains on from a line whose ``seq``
goes back, such as copies or another log's lines, stays in the region). At the end, a range reported missing that runs
of chained lines elsewhere fill exactly (from the line before it to the line after it) was
moved, not deleted: *reordered*. And a range reported missing because the walk jumped to copies
of later lines pasted before them (the originals, further down, were left off the chain) is put
back: when the lines of the range are all there, inserted, in one run that chains in file order
from the line before the range to the original of the last copy, the originals are the chain
and the copies are *inserted* (:class:`_Copies`).

The end of the log is read as the next writer reads it (``auditlog.next_append``): the
lines a crash left there are *torn*, and a last line no writer appends after is *edited*.

Readers take a snapshot (:func:`open_snapshot`): the files are opened and sized under a
shared lock on ``<log>.lock`` and read up to those sizes, so writers may go on appending and
rotating while ``verify`` runs.

Without signed checkpoints a plain hash chain cannot show that the tail was cut off or that
the whole file was rewritten consistently: anyone who can write the log can recompute it.
Checkpoints (``auditlog_checkpoint``) close that hole.
"""

from __future__ import annotations

import bisect
import fcntl
import hashlib
import json
import os
import re
import socket
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from clearance._display import shown_text
from clearance.auditlog import (
    GENESIS,
    MAX_EVENT_BYTES,
    MAX_SEQ,
    NOT_JSON,
    LongLine,
    NotAnEvent,
    left_by_crash,
    log_lines,
    log_target,
    newer_format,
    next_append,
    rotated_files,
    rotated_head,
    wait_for_lock,
)
from clearance.model import printable

__all__ = [
    "Break",
    "TAMPER_KINDS",
    "VerifyError",
    "VerifyResult",
    "log_files",
    "open_snapshot",
    "verify_log",
]

TAMPER_KINDS = frozenset(
    {"edited", "deleted", "inserted", "reordered", "gap", "truncated", "checkpoint"}
)
# a seq of at most 19 digits (auditlog.MAX_SEQ): a longer one is no event's (and ``int`` refuses
# to read one of more than 4,300 digits)
_PREFIX = re.compile(
    rb'\{"schema":"clearance\.event/1","seq":([0-9]{1,19}),"prev":"([0-9a-f]{64})"'
)
_RECOVERED = b'"event":"log.recovered"'
_REGION_LIMIT = 100_000  # lines in one damaged region before it is classified as it stands
_PROBE = 256  # first bytes kept of a line off the fast path: enough for ``torn_write``


class VerifyError(Exception):
    """The log cannot be read at all (missing, unreadable): exit 2, not a verdict."""


@dataclass
class Break:
    """One finding of ``verify``: where the chain is broken, and how."""

    kind: str
    file: str
    line: int | None
    seq: int | None
    message: str

    @property
    def tampered(self) -> bool:
        return self.kind in TAMPER_KINDS

    def as_dict(self) -> dict[str, Any]:
        """As ``--json`` prints it: a name that is not UTF-8 as names are shown (caf\\xe9)."""
        d = asdict(self)
        d["file"], d["message"] = printable(self.file), printable(self.message)
        return {**d, "tampered": self.tampered}


@dataclass
class VerifyResult:
    """What ``verify`` found in one log (its active file and rotated files)."""

    log: str
    files: list[str] = field(default_factory=list)
    events: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head: str | None = None  # hash of the last chained line
    breaks: list[Break] = field(default_factory=list)
    checkpoints: int = 0  # signed checkpoints checked
    unanchored: int | None = None  # events after the newest checkpoint (None: no key given)

    @property
    def intact(self) -> bool:
        return not any(b.tampered for b in self.breaks)

    def as_dict(self) -> dict[str, Any]:
        return {
            "log": printable(self.log),
            "intact": self.intact,
            "files": [printable(f) for f in self.files],
            "events": self.events,
            "first_seq": self.first_seq,
            "last_seq": self.last_seq,
            "head": self.head,
            "checkpoints": self.checkpoints,
            "unanchored": self.unanchored,
            "breaks": [b.as_dict() for b in self.breaks],
        }


#: one empty set of torn-line references for every line that names none (a new empty
#: frozenset is 216 bytes: a file of millions of short lines that are not events held one each)
_NO_REFS: frozenset[tuple[int, str]] = frozenset()


class _Line:
    """One line as the walk sees it (no JSON kept, only what chaining needs)."""

    __slots__ = (
        "pos",
        "fidx",
        "lineno",
        "offset",
        "seq",
        "prev",
        "h",
        "torn_refs",
        "probe",
        "size",
    )

    def __init__(
        self,
        pos: int,
        fidx: int,
        lineno: int,
        offset: int,
        seq: int | None,
        prev: str | None,
        h: str,
        torn_refs: frozenset[tuple[int, str]] = _NO_REFS,
        probe: bytes = b"",
        size: int = 0,
    ) -> None:
        self.pos = pos
        self.fidx = fidx
        self.lineno = lineno
        self.offset = offset
        self.seq = seq
        self.prev = prev
        self.h = h
        self.torn_refs = torn_refs  # (offset, sha256) of torn lines a log.recovered names
        self.probe = probe  # the line's first bytes (_PROBE), to tell a torn write from others
        self.size = size  # bytes, without the newline (to read the line again: _Walker.text)


_VIRTUAL = _Line(-1, 0, 0, 0, 0, None, GENESIS)


class _Queue:
    """Lines in a fixed order of preference; :meth:`first` walks past those already visited
    (the walk never unvisits a line, so each is walked past once)."""

    __slots__ = ("at", "lines")

    def __init__(self, lines: list[_Line]) -> None:
        self.lines = lines
        self.at = 0

    def first(self, visited: set[int]) -> _Line | None:
        lines, at = self.lines, self.at
        while at < len(lines) and lines[at].pos in visited:
            at += 1
        self.at = at
        return lines[at] if at < len(lines) else None


class _Unvisited:
    """The indices ``0 … n-1``, each removed at most once; :meth:`next` finds the smallest one
    left from a given index in near-constant time (path halving)."""

    __slots__ = ("up",)

    def __init__(self, n: int) -> None:
        self.up = list(range(n + 1))  # n: past the end, never removed

    def remove(self, i: int) -> None:
        self.up[i] = i + 1

    def next(self, i: int) -> int:
        up = self.up
        while up[i] != i:
            up[i] = up[up[i]]
            i = up[i]
        return i


class _Counts:
    """How many of the indices ``0 … n-1`` are left in a range (a Fenwick tree): O(log n)."""

    __slots__ = ("tree",)

    def __init__(self, n: int) -> None:
        tree = [0] * (n + 1)
        for i in range(1, n + 1):  # every index present: built in O(n)
            tree[i] += 1
            parent = i + (i & -i)
            if parent <= n:
                tree[parent] += tree[i]
        self.tree = tree

    def remove(self, i: int) -> None:
        tree = self.tree
        i += 1
        while i < len(tree):
            tree[i] -= 1
            i += i & -i

    def _before(self, i: int) -> int:
        tree, total = self.tree, 0
        while i > 0:
            total += tree[i]
            i -= i & -i
        return total

    def between(self, lo: int, hi: int) -> int:
        """How many are left in ``lo … hi-1``."""
        return self._before(hi) - self._before(lo)


class _Copies:
    """Copies of chained lines pasted before the lines they copy: the walk, reaching the first
    copy before the originals, took the copies for the chain (a jump forward over the lines
    between, reported missing) and the originals for lines off it. At the end, a missing range
    whose lines are all there, off the chain, in one run that chains in file order from the line
    before the range up to the very hash of the last line of the run the walk jumped to, was
    never missing: the originals are the chain (only they hash from the one to the other), and
    the run the walk jumped to is their copy, inserted. Each line is reclaimed at most once;
    the checks cost O(log n) a range."""

    __slots__ = ("walker", "firsts", "dropped", "places", "counts")

    def __init__(self, walker: _Walker) -> None:
        self.walker = walker
        self.firsts = [segment[0].pos for segment in walker.segments]
        self.dropped = sorted(walker.dropped)
        self.places = sorted(walker.unchained)  # inserted lines with a seq, by position
        self.counts = _Counts(len(self.places))

    def _all_inserted(self, lo: int, hi: int) -> bool:
        """Every position ``lo … hi`` is an inserted line not reclaimed yet."""
        places = self.places
        i, j = bisect.bisect_left(places, lo), bisect.bisect_right(places, hi)
        return j - i == hi - lo + 1 and self.counts.between(i, j) == hi - lo + 1

    def swap(
        self,
        starts: dict[tuple[str, int], list[_Line]],
        lower: _Line,
        lower_seq: int,
        upper: _Line,
    ) -> list[Break] | None:
        """Put the originals of the missing range ``lower`` … ``upper`` back on the chain and
        report the copies inserted; return the ``inserted`` breaks to drop (None: no copy)."""
        walker = self.walker
        genuine = starts.get((lower.h, lower_seq + 1))
        k = bisect.bisect_right(self.firsts, upper.pos) - 1
        if genuine is None or k < 0 or upper.seq is None:
            return None
        copied = walker.segments[k]
        last = copied[1]  # the last line of the copied run, which the chain went on from
        g_first, g_last = genuine
        if last.seq is None or g_first.seq is None or last.pos < upper.pos:
            return None
        if last.fidx != upper.fidx or last.seq - upper.seq != last.pos - upper.pos:
            return None
        g_end = g_first.pos + (last.seq - g_first.seq)  # the original of ``last``
        if g_end > g_last.pos or g_first.pos <= last.pos:
            return None
        original = walker.unchained_lines.get(g_end)
        if original is None or original.h != last.h or original.seq != last.seq:
            return None
        if not self._all_inserted(g_first.pos, g_end):
            return None
        d = bisect.bisect_left(self.dropped, upper.pos)
        if d < len(self.dropped) and self.dropped[d] <= last.pos:
            return None  # a line of the copied run is off the chain already
        reclaimed: list[Break] = []
        for pos in range(g_first.pos, g_end + 1):
            reclaimed.append(walker.unchained.pop(pos))
            self.counts.remove(bisect.bisect_left(self.places, pos))
            if pos in walker.off_chain:  # on the chain after all, where it belongs
                seq, h = walker.off_chain.pop(pos)
                walker.seen.setdefault(seq, {})[pos] = h
        name = walker.names[upper.fidx]
        for pos in range(upper.pos, last.pos + 1):
            seq = upper.seq + (pos - upper.pos)
            of = walker.unchained_lines[g_first.pos + (seq - g_first.seq)]
            at = walker.seen.get(seq)
            if at is not None and at.pop(pos, None) is not None:
                walker.off_chain[pos] = (seq, of.h)
            walker.result.breaks.append(
                Break(
                    "inserted",
                    name,
                    upper.lineno + (pos - upper.pos),
                    seq,
                    f"line (seq {seq}) is not part of the chain: a copy of the line at "
                    f"{walker.where(of)}, which the chain goes through",
                )
            )
        if lower is _VIRTUAL:  # the chain starts with the originals
            walker.result.first_seq = g_first.seq
        return reclaimed


def log_files(path: str | os.PathLike[str]) -> list[Path]:
    """The files of the log at ``path`` in chain order: rotated ones oldest first, then active."""
    p = log_target(path)
    files = rotated_files(p)
    if p.exists() or not files:
        files.append(p)
    return files


def open_snapshot(path: str | os.PathLike[str]) -> list[tuple[Path, BinaryIO, int]]:
    """Open every file of the log at ``path`` as it stands now: ``[(path, file, size)]``.

    Taken under a shared lock on ``<log>.lock`` (when it exists; it is never created), so no
    writer is mid-line and no rotation is half done. Readers then read each open file only
    up to its recorded size: writers appending or rotating meanwhile change nothing they see.
    Raises :class:`VerifyError` naming the file that cannot be opened.
    """
    p = log_target(path)  # a link's lock and rotated files are its target's, as writers take them
    if not p.name:  # ".", "/", "" (an unset variable): a folder, with no name to put .lock after
        raise VerifyError(
            f"{os.fspath(path) or repr('')}: cannot read the audit log: it is a folder, "
            "not a regular file"
        )
    lock_fd: int | None = None
    try:
        lock_fd = os.open(p.with_name(p.name + ".lock"), os.O_RDONLY | os.O_CLOEXEC)
        wait_for_lock(lock_fd, fcntl.LOCK_SH, p.with_name(p.name + ".lock"))
    except OSError:  # a copied log, read-only media: no writers to wait for
        if lock_fd is not None:
            os.close(lock_fd)
        lock_fd = None
    opened: list[tuple[Path, BinaryIO, int]] = []
    try:
        for f in log_files(p):
            try:
                # without blocking: a named pipe given (or put) where the log is would make
                # open() wait for a writer for ever (O_NONBLOCK means nothing to a file)
                fd = os.open(f, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except FileNotFoundError:
                raise VerifyError(f"{f}: no such audit log") from None
            except OSError as exc:
                raise VerifyError(
                    f"{f}: cannot read the audit log: {exc.strerror or exc}"
                ) from None
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                os.close(fd)
                from clearance.discover import special_file

                what = "a folder" if stat.S_ISDIR(st.st_mode) else special_file(st.st_mode)
                raise VerifyError(
                    f"{f}: cannot read the audit log: it is {what}, not a regular file"
                )
            fh: BinaryIO = os.fdopen(fd, "rb")
            opened.append((f, fh, st.st_size))
    except BaseException:
        for _f, opened_fh, _size in opened:
            opened_fh.close()
        raise
    finally:
        if lock_fd is not None:
            os.close(lock_fd)  # releases the shared lock
    return opened


def _parse_slow(line: bytes) -> tuple[int | None, str | None, frozenset[tuple[int, str]]]:
    try:
        obj = json.loads(line)
    except NOT_JSON:
        return None, None, _NO_REFS
    if not isinstance(obj, dict):
        return None, None, _NO_REFS
    seq, prev = obj.get("seq"), obj.get("prev")
    if not isinstance(seq, int) or isinstance(seq, bool) or not isinstance(prev, str):
        return None, None, _NO_REFS
    if not -MAX_SEQ <= seq <= MAX_SEQ:  # no event's, and past what ``int`` prints
        return None, None, _NO_REFS
    refs: frozenset[tuple[int, str]] = _NO_REFS
    details = obj.get("details")
    if obj.get("event") == "log.recovered" and isinstance(details, dict):
        torn = details.get("torn")
        if isinstance(torn, list):
            refs = frozenset(
                (int(t["offset"]), str(t.get("sha256")))
                for t in torn
                if isinstance(t, dict) and isinstance(t.get("offset"), int)
            )
    return seq, prev, refs


class _Walker:
    def __init__(
        self,
        result: VerifyResult,
        files: list[Path],
        want: dict[int, str],
        handles: list[BinaryIO],
    ) -> None:
        self.result = result
        self.files = files
        self.names = [str(f) for f in files]
        self.handles = handles  # the snapshot's open files, to read a line again
        self.want = want  # seq -> checkpoint head hash, for checkpoint checks
        #: checkpointed seq -> {position: hash} of the lines with it on the chain: a line is
        #: added when read, and dropped when the walk leaves it off the chain (a checkpoint
        #: holds the log to the line at its seq that the chain goes through, no other)
        self.seen: dict[int, dict[int, str]] = {}
        self.off_chain: dict[int, tuple[int, str]] = {}  # dropped from ``seen``: pos -> (seq, hash)
        self.p1 = _VIRTUAL
        self.p2 = _VIRTUAL
        self.region: list[_Line] | None = None
        self.anchor = _VIRTUAL  # the last line on the chain before the region
        #: no line of the region can be the walk's next line from the anchor (its seq is not
        #: above the anchor's and it does not link to it): closing it would not link up
        self.unreachable = False
        self.chain_end: _Line | None = None  # set when the log ends inside a damaged region
        #: runs of lines that chain one to the next in file order, ``[first, last]``; kept
        #: only once the chain breaks (an intact log is one run, never materialised)
        self.segments: list[list[_Line]] = []
        #: ``deleted``/``gap`` breaks with the lines around the missing ``seq`` range
        self.missing: list[tuple[Break, _Line, int, _Line]] = []
        self.unchained: dict[int, Break] = {}  # pos -> ``inserted`` break of a line with a seq
        self.unchained_lines: dict[int, _Line] = {}  # pos -> that line
        self.dropped: list[int] = []  # positions of the region lines a close left off the chain
        self.not_events = 0  # torn fragments counted as events on the way (recovered since)

    # -- reporting ----------------------------------------------------------------------------

    def brk(self, kind: str, line: _Line | None, message: str, seq: int | None = None) -> Break:
        if line is None or line is _VIRTUAL:
            name, lineno = self.names[0], None
        else:
            name, lineno = self.names[line.fidx], line.lineno
        if seq is None and line is not None and line is not _VIRTUAL:
            seq = line.seq
        found = Break(kind, name, lineno, seq, message)
        self.result.breaks.append(found)
        return found

    def where(self, line: _Line) -> str:
        return f"{Path(self.names[line.fidx]).name}:{line.lineno}"

    # -- the walk -----------------------------------------------------------------------------

    def feed(self, line: _Line) -> None:
        if line.seq is not None and line.seq in self.want:
            self.seen.setdefault(line.seq, {})[line.pos] = line.h
        region = self.region
        p1 = self.p1
        good = line.prev == p1.h and line.seq is not None and p1.seq is not None
        good = good and line.seq == p1.seq + 1  # type: ignore[operator]
        if not good:
            self._new_segment(p1, line)
        if region is None:
            if not good:
                if p1 is _VIRTUAL:
                    self.anchor, self.region = _VIRTUAL, [line]
                else:
                    self.anchor, self.region = self.p2, [p1, line]
                self.unreachable = False
        elif good and not self.unreachable:
            # the last line with a bad link resumes the chain, if the walk reaches it
            resume = region.pop()
            end = self.close(region, resume)
            if end is resume:
                self.region = None
            else:  # off the chain (a copy, another log's line): the region goes on from the end
                self._reanchor(end, [resume, line])
        else:
            region.append(line)
            self.unreachable = self.unreachable and self._unreachable(line)
            if len(region) > _REGION_LIMIT:  # classified as it stands, from where the walk ends
                region.pop()
                self._reanchor(self.close(region, None), [line])
        self.p2, self.p1 = p1, line

    def _reanchor(self, end: _Line, region: list[_Line]) -> None:
        """Go on with ``region`` after a close whose walk ended at ``end``, not at its last
        line: only a line the walk reaches is on the chain, and only such a line resumes it
        (the fast path, and checkpoints, trust what follows it)."""
        self.anchor, self.region = end, region
        self.unreachable = all(self._unreachable(n) for n in region)

    def _unreachable(self, line: _Line) -> bool:
        """``line`` cannot be the walk's next line from the anchor: it does not link to it, and
        its seq (if any) is not above the anchor's (the walk jumps only forward)."""
        anchor = self.anchor
        return line.prev != anchor.h and (line.seq is None or line.seq <= (anchor.seq or 0))

    def _new_segment(self, before: _Line, line: _Line) -> None:
        """``line`` does not chain to ``before``, the line before it in the files.

        A line without a ``seq`` (no event: a wrong file's line) chains to nothing and
        nothing chains to it: it is a run of its own, which no range missing from the chain
        can be (:meth:`_moved`, :class:`_Copies`), and is not kept. Kept, a file of a million
        such lines held every one of them to the end (0.45 KB a line)."""
        if before is not _VIRTUAL and before.seq is not None:
            if self.segments:
                self.segments[-1][1] = before
            else:  # the lines before took the fast path: the log's first line started them
                self.segments.append([_Line(0, 0, 1, 0, 1, GENESIS, ""), before])
        if line.seq is not None:
            self.segments.append([line, line])

    def finish(self) -> None:
        self.chain_end = None
        if self.region is not None:
            self.close(self.region, None)
            self.region = None
        if self.segments and self.p1.seq is not None:  # (else its run was closed before it)
            self.segments[-1][1] = self.p1
        self._moved()

    def _moved(self) -> None:
        """``seq`` ranges reported missing that are in the log after all, elsewhere: the
        lines were moved (whole rotated files swapped, a line moved down), not deleted.

        A region is classified when the chain links up again, before lines moved further
        down are read; so, at the end, each missing range is looked up among the runs of
        chained lines: runs that chain from the line before the range to the line after it
        hold exactly the missing lines (a forged run could not hash to the line after it).
        """
        if not self.missing:
            return
        starts: dict[tuple[str, int], list[_Line]] = {}
        for segment in self.segments:
            first = segment[0]
            if first.seq is not None and first.prev is not None:
                starts.setdefault((first.prev, first.seq), segment)
        dropped: list[Break] = []
        copies = _Copies(self)
        for missing, lower, lower_seq, upper in self.missing:
            run = self._run_between(starts, lower.h, lower_seq + 1, upper)
            if run is None:
                reclaimed = copies.swap(starts, lower, lower_seq, upper)
                if reclaimed is not None:
                    dropped.append(missing)
                    dropped.extend(reclaimed)
                continue
            dropped.append(missing)
            for segment in run:
                for pos in range(segment[0].pos, segment[1].pos + 1):
                    if pos in self.unchained:
                        dropped.append(self.unchained.pop(pos))
                    if pos in self.off_chain:  # on the chain after all, where it belongs
                        seq, h = self.off_chain.pop(pos)
                        self.seen.setdefault(seq, {})[pos] = h
            first, last = run[0][0], run[-1][1]
            span = (
                f"seq {first.seq} is at {self.where(first)}; it belongs"
                if first is last
                else f"seq {first.seq}-{last.seq} are at {self.where(first)} to "
                f"{self.where(last)}; they belong"
            )
            below = (
                f"after seq {lower_seq} at {self.where(lower)}, " if lower is not _VIRTUAL else ""
            )
            if lower is _VIRTUAL:  # the chain starts with them
                self.result.first_seq = first.seq
            self.brk(
                "reordered",
                first,
                f"{span} {below}before seq {upper.seq} at {self.where(upper)}: "
                "lines are out of order",
            )
        gone = {id(b) for b in dropped}
        self.result.breaks[:] = [b for b in self.result.breaks if id(b) not in gone]

    def _run_between(
        self, starts: dict[tuple[str, int], list[_Line]], h: str, seq: int, upper: _Line
    ) -> list[list[_Line]] | None:
        """Runs that chain from hash ``h`` (at ``seq`` - 1) to ``upper``, or None."""
        run: list[list[_Line]] = []
        while len(run) < len(self.segments):
            segment = starts.get((h, seq))
            if segment is None:
                return None
            run.append(segment)
            last = segment[1]
            if last.seq is None or upper.seq is None or last.seq >= upper.seq:
                return None
            if last.seq == upper.seq - 1:
                return run if last.h == upper.prev else None
            h, seq = last.h, last.seq + 1
        return None

    def close(self, middle: list[_Line], resume: _Line | None) -> _Line:
        """Classify the damaged region between ``self.anchor`` and ``resume``; return the last
        line of the rebuilt chain (``resume`` when the chain links up with it).

        Rebuilds the chain from the anchor: follow ``prev`` links (whatever the file order);
        where no line links on, continue at the smallest ``seq`` still unvisited and name why
        the link is missing (an edited line, deleted lines, or lines edited beyond parsing).
        The walk stops at ``resume``: the lines after it in the file continue the chain, so a
        line of the region with a higher seq is off it here (moved lines are found at the end).
        A ``resume`` the walk does not reach (its seq is not above the chain's) is not on the
        chain: the caller goes on with it in the next region.
        """
        anchor = self.anchor
        nodes = [*middle] + ([resume] if resume is not None else [])
        by_prev: dict[str, list[_Line]] = {}
        for n in nodes:
            if n.prev is not None:
                by_prev.setdefault(n.prev, []).append(n)
        # at one seq, the line the chain resumes from first: the next intact line links to it,
        # where another line with that seq (a copy, a torn line that starts like an event) may
        # be anything; where no line links to either (the log ends, or only a torn last line
        # follows), not the one a log.recovered event beside it names as torn
        named = {(n.fidx, offset, h) for n in nodes for offset, h in n.torn_refs}

        def named_torn(n: _Line) -> bool:
            return (n.fidx, n.offset, n.h) in named

        # the lines that link to a hash, best first (after the resume line, which comes before
        # all): the one the next line links to, not named as torn, first in the file; and once
        # more by hash and seq, for the one that also has the seq the chain expects. Walked
        # past as they are visited: copies of a line can link the walk to its successors many
        # times, and sorting or scanning them each time would cost as many times their number
        def best(n: _Line) -> tuple[bool, bool, int]:
            return (n.h not in by_prev, named_torn(n), n.pos)

        linking = {h: _Queue(sorted(linked, key=best)) for h, linked in by_prev.items()}
        by_seq: dict[tuple[str, int], list[_Line]] = {}
        for h, linked in by_prev.items():
            for n in linked:
                if n.seq is not None:
                    by_seq.setdefault((h, n.seq), []).append(n)
        linking_at = {key: _Queue(sorted(linked, key=best)) for key, linked in by_seq.items()}
        order = sorted(
            (n.seq, n is not resume, named_torn(n), n.pos, i)
            for i, n in enumerate(nodes)
            if n.seq is not None
        )
        seqs = [o[0] for o in order]
        # the region's lines not yet on the walk, in file order: counted in a range and listed
        # without going over the others (a jump over many lines must not cost as many)
        places = [n.pos for n in middle]
        index = {pos: i for i, pos in enumerate(places)}
        unvisited = _Unvisited(len(middle))
        remaining = _Counts(len(middle))
        visited = {anchor.pos}

        def visit(n: _Line) -> None:
            visited.add(n.pos)
            i = index.get(n.pos)
            if i is not None:
                unvisited.remove(i)
                remaining.remove(i)

        explained: set[int] = set()  # not on the chain, but already reported (edited in place)
        path = [anchor]
        cur, cur_seq = anchor, anchor.seq or 0
        while cur is not resume:
            linked_to: _Line | None = None
            if resume is not None and resume.prev == cur.h and resume.pos not in visited:
                linked_to = resume
            else:
                queue = linking_at.get((cur.h, cur_seq + 1))
                linked_to = queue.first(visited) if queue is not None else None
                if linked_to is None and cur.h in linking:
                    linked_to = linking[cur.h].first(visited)
            if linked_to is not None:
                nxt = linked_to
                if nxt.seq != cur_seq + 1:
                    self.brk("edited", nxt, f"seq is {nxt.seq}, expected {cur_seq + 1}")
                    explained.add(nxt.pos)
                visit(nxt)
                path.append(nxt)
                cur, cur_seq = nxt, cur_seq + 1
                continue
            # (cur_seq only grows: a visited line is passed over here once)
            i = bisect.bisect_right(seqs, cur_seq)
            while i < len(order) and nodes[order[i][4]].pos in visited:
                i += 1
            if i == len(order):
                break
            nxt = nodes[order[i][4]]
            nxt_seq = order[i][0]
            missing = nxt_seq - cur_seq - 1
            if missing == 0:
                if cur is not anchor and cur.pos not in explained:
                    self.brk(
                        "edited",
                        cur,
                        f"line changed after it was written: the prev of {self.where(nxt)} "
                        "does not match it",
                    )
                    explained.add(cur.pos)
                elif cur is anchor:
                    self.brk("edited", nxt, "prev does not match the line before it")
                    explained.add(nxt.pos)
            else:
                # the region's lines between the two, not yet on the walk: counted first, and
                # listed only when they fill the missing seqs exactly (then they are visited:
                # each line is listed once, however many jumps pass over it)
                lo = bisect.bisect_left(places, cur.pos + 1)
                hi = bisect.bisect_left(places, nxt.pos)
                if lo < hi and remaining.between(lo, hi) == missing:
                    between = []
                    j = unvisited.next(lo)
                    while j < hi:
                        between.append(middle[j])
                        j = unvisited.next(j + 1)
                    self._edited_in_place(between, path[-1], cur_seq)
                    for n in between:
                        visit(n)
                    explained.update(n.pos for n in between)
                else:
                    self._deleted(cur, nxt, missing, cur_seq)
            visit(nxt)
            path.append(nxt)
            cur, cur_seq = nxt, nxt_seq
        if anchor is _VIRTUAL and len(path) > 1 and self.result.first_seq is None:
            self.result.first_seq = path[1].seq  # the chain's first line, not the file's
        if resume is None:
            self.chain_end = cur
        elif cur is not resume:
            nodes.pop()  # classified with the next region
        if self.want:
            self._seen_on_chain(nodes, path)
        # chained lines out of file order: reordered
        for before, n in zip(path[1:], path[2:], strict=False):
            if n.pos < before.pos and n.pos not in explained:
                self.brk(
                    "reordered",
                    n,
                    f"seq {n.seq} is at {self.where(n)}, before seq {before.seq} at "
                    f"{self.where(before)}: lines are out of order",
                )
        # never on the chain: inserted, or torn and recovered
        torn, misnamed = self._named_torn(nodes, visited)
        run: list[Any] = []  # [break, file index, last line] of lines in a row, none an event
        for n in middle:
            if n.pos in visited:
                continue
            if n.seq is not None:  # (no run of chained lines holds one without: see _Copies)
                self.dropped.append(n.pos)
            if n.pos in torn:
                self.brk(
                    "recovered",
                    n,
                    "torn line from a crashed write, terminated and recorded by a later "
                    "log.recovered event (not tampering)",
                )
                if n.seq is not None:  # its first bytes looked like an event's and were counted
                    self.not_events += 1
                continue
            if n.seq is None and n.pos not in misnamed:
                if run and run[1] == n.fidx and run[2] + 1 == n.lineno:
                    # the next of lines in a row that are no events (a wrong file given, a
                    # binary file's bytes): one break for them all, not one per line
                    run[2] = n.lineno
                    run[0].message = (
                        f"lines {run[0].line}-{n.lineno} are not audit events and are not "
                        "part of the chain"
                    )
                    continue
                run[:] = [
                    self.brk(
                        "inserted", n, "line is not an audit event and is not part of the chain"
                    ),
                    n.fidx,
                    n.lineno,
                ]
                continue
            run.clear()
            if n.seq is None:
                message = "line is not an audit event and is not part of the chain"
            else:
                message = f"line (seq {n.seq}) is not part of the chain"
            if n.pos in misnamed:
                event, why = misnamed[n.pos]
                message += (
                    f"; the log.recovered event at {self.where(event)} names it as torn, but {why}"
                )
            found = self.brk("inserted", n, message)
            if n.seq is not None:
                self.unchained[n.pos] = found
                self.unchained_lines[n.pos] = n
        return cur

    def _seen_on_chain(self, nodes: list[_Line], path: list[_Line]) -> None:
        """Keep in ``self.seen`` only the lines of ``nodes`` that the walk put on the chain: a
        copy of a checkpointed line kept elsewhere (named as torn by a forged recovery, say)
        does not stand for the line a checkpoint signed."""
        chain = {n.pos for n in path}
        for n in nodes:
            if n.seq is None or n.seq not in self.want:
                continue
            if n.pos in chain:
                self.seen.setdefault(n.seq, {})[n.pos] = n.h
            elif self.seen.get(n.seq, {}).pop(n.pos, None) is not None:
                self.off_chain[n.pos] = (n.seq, n.h)

    def text(self, line: _Line) -> bytes:
        """The bytes of ``line`` (without its newline), read again from the snapshot."""
        return os.pread(self.handles[line.fidx].fileno(), line.size, line.offset)

    def _named_torn(
        self, nodes: list[_Line], visited: set[int]
    ) -> tuple[set[int], dict[int, tuple[_Line, str]]]:
        """Lines of ``nodes`` off the chain that a ``log.recovered`` event on the chain names
        (same file, offset and SHA-256): the positions of those a crash can have left, and the
        others (position -> the event naming them, and why it is not torn).

        Whether a crash can have left a line is the writers' rule (``auditlog.left_by_crash``):
        the last line an event names was the last line of the file when its writer came, torn
        whatever it holds but an event (a writer chains to an event; it never names one as
        torn). A line it names before that one had been terminated already, which only a writer
        that crashed in turn while recovering it does: so it must be cut short, start like the
        event written at the recovery's ``seq``, and the line after it like that writer's
        ``log.recovered`` (``auditlog.torn_write``). Anything else is not a torn line.
        """
        by_place = {(n.fidx, n.offset, n.h): n for n in nodes}
        by_pos = {n.pos: n for n in nodes}
        torn: set[int] = set()
        misnamed: dict[int, tuple[_Line, str]] = {}
        for event in nodes:
            if not event.torn_refs or event.pos not in visited:
                continue
            seq, prev = event.seq, event.prev
            assert seq is not None and prev is not None  # a line with torn_refs parsed whole
            last = max(offset for offset, _h in event.torn_refs)
            for offset, h in event.torn_refs:
                n = by_place.get((event.fidx, offset, h))
                if n is None or n.pos in visited:
                    continue
                if n.size > MAX_EVENT_BYTES:  # longer than a crash leaves: not read again
                    why = "it is longer than any write, and a crash leaves at most one"
                    misnamed.setdefault(n.pos, (event, why))
                    continue
                if offset == last:
                    if left_by_crash(self.text(n), seq, prev, ended=False):
                        torn.add(n.pos)
                    else:
                        why = "it is an audit event, which writers chain to and never name"
                        misnamed.setdefault(n.pos, (event, why))
                    continue
                after = by_pos.get(n.pos + 1)
                if after is not None and left_by_crash(self.text(n), seq, prev, after.probe):
                    torn.add(n.pos)
                else:
                    why = "a crash leaves a torn line only at the end of the file"
                    misnamed.setdefault(n.pos, (event, why))
        return torn, {pos: named for pos, named in misnamed.items() if pos not in torn}

    def _edited_in_place(self, lines: list[_Line], before: _Line, before_seq: int) -> None:
        """Lines sitting exactly where missing ``seq`` values belong: changed, or moved here."""
        prev_h = before.h
        for i, n in enumerate(lines):
            expected = before_seq + 1 + i
            if n.seq is None:
                self.brk(
                    "edited",
                    n,
                    "line is not a valid audit event any more (edited or corrupted)",
                    seq=expected,
                )
            elif n.prev == prev_h or n.seq == expected:
                self.brk(
                    "edited",
                    n,
                    f"line changed after it was written (seq {n.seq}, expected {expected})",
                    seq=expected,
                )
            else:
                self.brk(
                    "reordered",
                    n,
                    f"seq {n.seq} is at {self.where(n)}, where seq {expected} belongs: lines are out of order",
                )
            prev_h = n.h

    def _deleted(self, lower: _Line, cur: _Line, missing: int, lower_seq: int) -> None:
        self.missing.append((self._missing(lower, cur, missing, lower_seq), lower, lower_seq, cur))

    def _missing(self, lower: _Line, cur: _Line, missing: int, lower_seq: int) -> Break:
        first = lower_seq + 1
        span = f"seq {first}" if missing == 1 else f"seq {first}-{cur.seq - 1}"  # type: ignore[operator]
        if lower is not _VIRTUAL and lower.fidx != cur.fidx and cur.lineno == 1:
            return self.brk(
                "gap",
                cur,
                f"{span} missing between {Path(self.names[lower.fidx]).name} (ends at seq "
                f"{lower_seq}) and {self.where(cur)}: a rotated file was deleted or cut",
                seq=first,
            )
        if lower is _VIRTUAL:
            return self.brk(
                "gap" if cur.lineno == 1 else "deleted",
                cur,
                f"{span} missing before {self.where(cur)}: the log does not start at seq 1 "
                f"(older files deleted?)"
                if cur.lineno == 1
                else f"{span} missing before {self.where(cur)}",
                seq=first,
            )
        return self.brk(
            "deleted",
            cur,
            f"{missing} line{'s' if missing > 1 else ''} ({span}) deleted before {self.where(cur)}",
            seq=first,
        )


_HEAD = b'{"schema":"clearance.event/1","seq":'


def _materialise(item: _Line | tuple[int, int, int, int, int, bytes, bytes, bytes]) -> _Line:
    if isinstance(item, _Line):
        return item
    pos, fidx, lineno, offset, seq, hb, prev, line = item
    return _Line(
        pos,
        fidx,
        lineno,
        offset,
        seq,
        prev.decode(),
        hb.decode(),
        probe=line[:_PROBE],
        size=len(line),
    )


def _read(
    files: list[tuple[Path, BinaryIO, int]], active: Path, walker: _Walker, result: VerifyResult
) -> Break | None:
    """Stream every line into ``walker``, but those a crash left at the end of the log
    (reported torn here). The caller closes ``files`` (the walk may read a line again). Returns an ``edited`` break for a line no writer appends after
    (:func:`_tail`), to be reported unless the walk names that line as tampering already.

    The fast path handles the common case without building objects: a line that starts
    with exactly the prefix the previous line implies (``seq`` + 1, ``prev`` = its hash).
    Anything else goes through :meth:`_Walker.feed` with the last two lines materialised.
    """
    sha = hashlib.sha256
    active_index, crashed, refused = _tail(files, active)
    not_event: Break | None = None
    want = walker.want
    pos = 0
    events = 0
    # the last two lines while on the fast path: (pos, fidx, lineno, offset, seq, hash, prev,
    # line)
    l1: Any = walker.p1
    l2: Any = walker.p2
    seq1 = 0
    expect = _HEAD + b'1,"prev":"' + GENESIS.encode() + b'"'
    fast = True
    for fidx, (path, fh, size) in enumerate(files):
        marks = crashed if fidx == active_index else frozenset()
        refused_at = refused[1] if refused is not None and refused[0] == fidx else -1
        if refused_at >= 0:
            marks = marks | {refused_at}
        offset = 0
        for lineno, raw in enumerate(log_lines(fh), 1):
            if offset >= size:  # appended after the snapshot
                break
            if isinstance(raw, LongLine):  # no event, and no crash's: never read whole
                if offset == refused_at:
                    m = _PREFIX.match(raw.head)
                    not_event = Break(
                        "edited",
                        str(path),
                        lineno,
                        int(m.group(1)) if m else None,
                        f"line is longer than any audit event ({MAX_EVENT_BYTES >> 20} MiB), "
                        "and no crash leaves one like it at the end of the log: no line after "
                        "it vouches for it, and writers refuse to append to the log",
                    )
                walker.p1, walker.p2 = _materialise(l1), _materialise(l2)
                walker.feed(
                    _Line(
                        pos,
                        fidx,
                        lineno,
                        offset,
                        None,
                        None,
                        raw.sha256,
                        probe=raw.head[:_PROBE],
                        size=raw.size - raw.ended,
                    )
                )
                l1, l2 = walker.p1, walker.p2
                fast = walker.region is None and l1.seq is not None
                if fast:
                    seq1 = l1.seq
                    expect = b'%s%d,"prev":"%s"' % (_HEAD, seq1 + 1, l1.h.encode())
                offset += raw.size
                pos += 1
                continue
            if marks and offset in marks:
                if offset != refused_at:  # a crash left it: torn, not chained
                    result.breaks.append(_crash_left(path, lineno, raw, offset, size))
                    offset += len(raw)
                    pos += 1
                    continue
                m = _PREFIX.match(raw)
                newer = "" if len(raw) > MAX_EVENT_BYTES + 1 else newer_format(raw.rstrip(b"\n"))
                unchained = refused is not None and refused[2]
                what = (
                    f"line is longer than any audit event ({MAX_EVENT_BYTES >> 20} MiB)"
                    if len(raw) > MAX_EVENT_BYTES + 1
                    else "line is not a valid audit event" + (newer or " (edited or corrupted)")
                )
                why = (
                    f"the last event (seq {m.group(1).decode() if m else '?'}) does not chain "
                    f"to the event before it (line {lineno - 1}): it was added or copied there "
                    "by hand, or that line was changed after it was written; no line after it "
                    "vouches for it"
                    if unchained
                    else f"{what}, and no crash leaves one like it at the end of the log: no line "
                    "after it vouches for it"
                )
                not_event = (
                    # a newer Clearance wrote it: not tampering, and not this version's to judge
                    Break(
                        "newer",
                        str(path),
                        lineno,
                        None,
                        f"line is {newer.strip()[1:-1]}; this version cannot verify it",
                    )
                    if newer
                    else Break(
                        "edited",
                        str(path),
                        lineno,
                        int(m.group(1)) if m else None,
                        f"{why}, and writers refuse to append to the log",
                    )
                )
            if raw[-1:] == b"\n":
                line = raw[:-1]
            else:  # only the last line of a file can lack its newline
                line = raw
                # torn, unless no crash leaves it (longer than any write): then edited
                if (
                    fidx == active_index
                    and offset != refused_at
                    and _torn(result, path, lineno, raw)
                ):
                    break
            hb = sha(line).hexdigest().encode()
            if fast and line.startswith(expect) and _RECOVERED not in line:
                seq1 += 1
                if want and seq1 in want:
                    walker.seen.setdefault(seq1, {})[pos] = hb.decode()
                l2 = l1
                l1 = (pos, fidx, lineno, offset, seq1, hb, expect[-65:-1], line)
                events += 1
                expect = b'%s%d,"prev":"%s"' % (_HEAD, seq1 + 1, hb)
            else:
                walker.p1, walker.p2 = _materialise(l1), _materialise(l2)
                m = _PREFIX.match(line)
                refs: frozenset[tuple[int, str]] = _NO_REFS
                seq: int | None
                if m is not None and _RECOVERED not in line:
                    seq, prev = int(m.group(1)), m.group(2).decode()
                else:
                    seq, prev, refs = _parse_slow(line)
                walker.feed(
                    _Line(
                        pos,
                        fidx,
                        lineno,
                        offset,
                        seq,
                        prev,
                        hb.decode(),
                        refs,
                        line[:_PROBE],
                        len(line),
                    )
                )
                events += seq is not None
                l1, l2 = walker.p1, walker.p2
                fast = walker.region is None and l1.seq is not None
                if fast:
                    seq1 = l1.seq
                    expect = b'%s%d,"prev":"%s"' % (_HEAD, seq1 + 1, l1.h.encode())
            offset += len(raw)
            pos += 1
            if result.first_seq is None and fast and events:
                result.first_seq = seq1  # else the walk names the chain's first line
    walker.p1, walker.p2 = _materialise(l1), _materialise(l2)
    result.events = events
    return not_event


def _tail(
    files: list[tuple[Path, BinaryIO, int]], active: Path
) -> tuple[int | None, frozenset[int], tuple[int, int, bool] | None]:
    """The end of the log as the next writer finds it (``auditlog.next_append``), so that
    ``verify`` and the writers agree on it: ``(active_index, crashed, refused)``.

    ``active_index``: the active file's index in ``files`` (None: there is none yet; a writer
    creates it and continues from the newest rotated file). ``crashed``: offsets in it of the
    lines a crash left, which that writer names as torn (``auditlog.crash_left``). ``refused``:
    ``(file index, offset)`` of the line no writer appends after, or None.
    """
    paths = [f for f, _fh, _size in files]
    active_index = len(files) - 1 if paths[-1] == active else None
    rotated = files[:-1] if active_index is not None else files

    def earlier() -> tuple[int, str]:
        if not rotated:
            return 0, GENESIS
        f, fh, size = rotated[-1]
        return rotated_head(fh.fileno(), size, f, active)

    try:
        if active_index is None:
            earlier()
            return None, frozenset(), None
        f, fh, size = files[active_index]
        _seq, _prev, _ended, torn = next_append(fh.fileno(), size, f, earlier)
    except NotAnEvent as exc:
        return active_index, frozenset(), (paths.index(exc.file), exc.offset, exc.unchained)
    return active_index, frozenset(offset for offset, _line in torn), None


def _crash_left(path: Path, lineno: int, raw: bytes, offset: int, size: int) -> Break:
    """The ``torn`` break of a line a crash left at the end of the log (:func:`_tail`)."""
    if not raw.endswith(b"\n"):
        message = (
            f"the last line is incomplete ({len(raw)} bytes, no newline): a writer crashed "
            "mid-write; the next append recovers it (not tampering)"
        )
    elif offset + len(raw) >= size:
        message = (
            "torn line from a crashed write, ended by a writer that crashed in turn right "
            "after the newline it wrote first; the next append recovers it (not tampering)"
        )
    else:
        message = (
            "torn line from a crashed write, ended by a writer that crashed in turn while "
            "recovering it (the next line is what it wrote); the next append recovers both "
            "(not tampering)"
        )
    return Break("torn", str(path), lineno, None, message)


def _torn(result: VerifyResult, path: Path, lineno: int, raw: bytes) -> bool:
    """Report a last line without newline; True when it is incomplete (not to be chained)."""
    seq, _prev, _refs = _parse_slow(raw)
    if seq is None:
        result.breaks.append(
            Break(
                "torn",
                str(path),
                lineno,
                None,
                f"the last line is incomplete ({len(raw)} bytes, no newline): a writer "
                "crashed mid-write; the next append recovers it (not tampering)",
            )
        )
        return True
    result.breaks.append(
        Break(
            "torn",
            str(path),
            lineno,
            seq,
            "the last line is complete but has no newline (a writer crashed before "
            "finishing it); it is chained normally",
        )
    )
    return False


def verify_log(
    path: str | os.PathLike[str],
    *,
    checkpoints: list[dict[str, Any]] | None = None,
) -> VerifyResult:
    """Check the chain of the log at ``path`` (with its rotated files); see the module doc.

    ``checkpoints``: already signature-checked checkpoint records (``seq``, ``head``,
    ``time``) to hold the log against; see ``auditlog_checkpoint.verify_with_key``.
    Raises :class:`VerifyError` when the log cannot be read.
    """
    snapshot = open_snapshot(path)
    files = [f for f, _fh, _size in snapshot]
    result = VerifyResult(log=str(path), files=[str(f) for f in files])
    want = {int(c["seq"]): str(c["head"]) for c in checkpoints or []}
    walker = _Walker(result, files, want, [fh for _f, fh, _size in snapshot])
    _check_numbering(files, result)
    try:
        not_event = _read(snapshot, log_target(path), walker, result)
        walker.finish()
    finally:
        for _f, fh, _size in snapshot:
            fh.close()
    unchained = not_event is not None and not_event.message.startswith("the last event (")
    if not_event is not None:
        # the walk finds such a line off the chain (inserted) when it holds no seq: what the
        # writers refuse is what it is; any other break the walk names there says more
        here = [b for b in result.breaks if (b.file, b.line) == (not_event.file, not_event.line)]
        if unchained:  # the last line is an event whose prev is not the line before it
            # No line after the last vouches for it or for the line before it: the walk
            # blames that line (edited), which is one of two readings; the break says both.
            # Any other break there, or at the last line, says more.
            before = [
                b
                for b in result.breaks
                if (b.file, b.line) == (not_event.file, (not_event.line or 0) - 1) and b.tampered
            ]
            if len(before) == 1 and before[0].kind == "edited" and not here:
                before[0].message = (
                    f"line changed after it was written, or the last line "
                    f"({Path(not_event.file).name}:{not_event.line}) was added or copied there "
                    "by hand: its prev does not match this line, and no line after it vouches "
                    "for either; writers refuse to append to the log"
                )
            elif not before and not any(b.tampered for b in here):
                result.breaks.append(not_event)
        elif all(b.kind == "inserted" or not b.tampered for b in here):
            gone = {id(b) for b in here if b.kind == "inserted"}
            result.breaks[:] = [b for b in result.breaks if id(b) not in gone]
            result.breaks.append(not_event)
    result.events -= walker.not_events
    last = walker.chain_end or walker.p1
    if last is not _VIRTUAL:
        # the head is the last line that chains; a torn tail is not the head
        result.last_seq = last.seq
        result.head = last.h
    _check_checkpoints(checkpoints or [], walker, result)
    result.breaks.sort(
        key=lambda b: (result.files.index(b.file) if b.file in result.files else -1, b.line or 0)
    )
    return result


def _check_numbering(files: list[Path], result: VerifyResult) -> None:
    rotated = [f for f in files if re.search(r"\.[0-9]{6}$", f.name)]
    expected = 1
    for f in rotated:
        number = int(f.name[-6:])
        if number != expected:
            missing = (
                f"{expected:06d}" if number == expected + 1 else f"{expected:06d}-{number - 1:06d}"
            )
            result.breaks.append(
                Break(
                    "gap",
                    str(f),
                    None,
                    None,
                    f"rotated file number {missing} is missing before {f.name}",
                )
            )
        expected = number + 1


def _check_checkpoints(
    checkpoints: list[dict[str, Any]], walker: _Walker, result: VerifyResult
) -> None:
    if not checkpoints:
        return
    last = result.last_seq or 0
    newest = 0
    # the origin `checkpoint` signs by default for this log (its name may differ: another
    # host, another mount, --origin): a checkpoint signed for another name may be another log's
    # (signed as a terminal shows it, one line: auditlog_checkpoint; before, as it was)
    this = printable(f"{socket.gethostname()}:{Path(result.log).resolve()}")
    these = (this, shown_text(this))
    for c in checkpoints:
        seq, head = int(c["seq"]), str(c["head"])
        result.checkpoints += 1
        newest = max(newest, seq)
        label = f"checkpoint of {c.get('time', '?')} (seq {seq})"
        origin = c.get("origin")
        other = (
            f"; it was signed for {origin}: if that is another log, this is not this log's "
            "checkpoint file"
            if isinstance(origin, str) and origin not in these
            else ""
        )
        if seq > last:
            result.breaks.append(
                Break(
                    "truncated",
                    result.files[-1],
                    None,
                    seq,
                    f"{label}: the log ends at seq {last}, so events {last + 1}-{seq} that "
                    f"were signed for have been removed{other}",
                )
            )
        elif head not in walker.seen.get(seq, {}).values():
            gone = not walker.seen.get(seq) and seq < (result.first_seq or 1)
            result.breaks.append(
                Break(
                    "checkpoint",
                    result.files[-1],
                    None,
                    seq,
                    f"{label}: the log no longer holds the line with seq {seq} (its chain "
                    f"starts at seq {result.first_seq}: older files deleted?){other}"
                    if gone
                    else f"{label}: the line with seq {seq} does not match the signed head "
                    f"(the log was rewritten){other}",
                )
            )
    result.unanchored = max(0, last - newest)


def iter_lines(files: list[Path]) -> Iterator[bytes]:
    """Every raw line of ``files`` in order (used by benchmarks as the hashing baseline)."""
    for f in files:
        with open(f, "rb") as fh:
            yield from fh
