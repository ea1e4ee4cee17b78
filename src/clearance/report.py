"""Supervisor reports, built from audit logs only: ``clearance report``.

:func:`build_report` streams one or more logs (each with its rotated files; several hosts'
logs are merged in ``time``, then ``host``, then ``seq`` order) and keeps, for each
``(stage, asset)``, only the **latest audit** of it: its ``asset.audited`` event and the
``finding`` events the same run wrote for that asset just before it (and the stage-level
findings naming it that the run wrote before its ``stage.finished``); a stage's own findings
are those of the latest run that audited the whole stage (its ``stage.finished`` says
``complete``), with those of later partial runs (``check FILE``, a subfolder) added. Each event is read once, however many copies of
a log are given, and however often its lines were pasted again inside it (``report_copies``). Memory therefore grows with the number of distinct assets, not with the
length of the log — a watcher's log that re-audited the same shots for months reports in the
same memory as one scan.

Renderers live next door: ``report_text`` (``table``, ``json``, ``csv``, ``junit``) and
``report_html`` (one self-contained page). They only read a :class:`Report`.

Filters (:class:`Filters`): ``stages`` and the ``since``/``until`` window restrict which
audits count; ``outcomes`` and ``rules`` restrict which findings are shown (the per-stage
asset counts are not narrowed by them).
"""

from __future__ import annotations

import fnmatch
import heapq
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from hashlib import sha256
from pathlib import Path
from typing import Any

import orjson

from clearance._display import shown
from clearance.auditlog import (
    ENVELOPE,
    GENESIS,
    NOT_JSON,
    SCHEMA,
    LongLine,
    log_lines,
    log_target,
    parsed_event_seq,
    rotated_files,
)
from clearance.auditlog_verify import VerifyError, open_snapshot
from clearance.model import Outcome, printable
from clearance.report_copies import PastedLines, Snapshot, copied_lines, line_seq

__all__ = [
    "AssetAudit",
    "FindingRow",
    "Filters",
    "Report",
    "ReportError",
    "StageSummary",
    "build_report",
    "iter_events",
    "parse_time",
]

OUTCOMES = [o.value for o in Outcome]
_RANK = {o.value: o.rank for o in Outcome}


class ReportError(Exception):
    """A log cannot be read, or a filter is malformed: exit 2, naming the file or option."""


# -- time filters --------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


#: a date alone, with a zone or without (Python 3.11 reads ``2026-11-26+01:00`` as 01:00 of
#: that day: any character may part a date and a time)
_DATE_ONLY = re.compile(
    r"(?P<date>[0-9]{4}-?[0-9]{2}-?[0-9]{2})"
    r"(?:(?P<utc>[Zz])|(?P<sign>[+-])(?P<hh>[0-9]{2})(?::?(?P<mm>[0-9]{2}))?)?\Z"
)


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(
    value: str, *, now: datetime | None = None, option: str | None = None, end: bool = False
) -> str:
    """``--since``/``--until`` value → the log's time format, for string comparison.

    Accepts ISO dates and times (``2026-11-26``, ``2026-11-26T21:00``, ``…Z``, ``…+01:00``;
    no zone means UTC; a date with a zone, ``2026-11-26+01:00``, is that day there) and ages before now (``90m``, ``24h``, ``7d``, ``2w``). ``option``
    (``--since``) starts the message of the :class:`ReportError` a bad value raises. With
    ``end`` (``--until``), a date alone is the end of that day (its last millisecond):
    ``--since 2026-11-26 --until 2026-11-26`` is that day, not an empty window.
    """
    where = f"{option} " if option else ""
    text = value.strip()
    m = _RELATIVE.match(text)
    try:
        if m:
            now = now or datetime.now(timezone.utc)
            return _fmt(now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
        day = _DATE_ONLY.match(text)
        try:
            if day:  # midnight at its start in its zone (none: UTC)
                dt = datetime.fromisoformat(day["date"])
                if day["sign"]:
                    offset = timedelta(hours=int(day["hh"]), minutes=int(day["mm"] or 0))
                    dt = dt.replace(tzinfo=timezone(-offset if day["sign"] == "-" else offset))
            else:
                dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            raise ReportError(
                f"{where}{value!r} is not a time (use 2026-11-26, 2026-11-26T21:00Z, or an age "
                "like 24h, 7d)"
            ) from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        if end and day:
            dt += timedelta(days=1, milliseconds=-1)
        return _fmt(dt.astimezone(timezone.utc))
    except OverflowError:  # an age past year 1, a zone pushing 9999-12-31 past the calendar
        raise ReportError(
            f"{where}{value!r} is out of range: the time must fall between the years 1 and 9999"
        ) from None


@dataclass
class Filters:
    """What to include. Empty sequences mean "everything"."""

    stages: Sequence[str] = ()
    since: str | None = None  # normalised with parse_time
    until: str | None = None
    outcomes: Sequence[str] = ()
    rules: Sequence[str] = ()  # globs

    def describe(self) -> list[str]:
        parts = []
        if self.stages:
            parts.append("stage " + ", ".join(self.stages))
        if self.since:
            parts.append(f"since {self.since}")
        if self.until:
            parts.append(f"until {self.until}")
        if self.outcomes:
            parts.append("outcome " + ", ".join(self.outcomes))
        if self.rules:
            parts.append("rule " + ", ".join(self.rules))
        return parts

    def finding_shown(self, row: FindingRow) -> bool:
        if self.outcomes and row.outcome not in self.outcomes:
            return False
        return not self.rules or any(fnmatch.fnmatchcase(row.rule, r) for r in self.rules)


# -- the report model ----------------------------------------------------------------------------


@dataclass
class FindingRow:
    """One finding as the report shows it (from one ``finding`` event)."""

    stage: str
    asset: str | None
    rule: str
    outcome: str
    status: str | None  # None for a pass (recorded, never open)
    approval: str | None
    message: str
    principle: str | None
    remediation: str | None
    frames: str | None
    evidence: dict[str, Any]
    time: str
    run_id: str | None
    host: str | None

    @property
    def is_open(self) -> bool:
        """Open unless approved (an expired approval leaves it open), and more than a pass."""
        return self.status != "approved" and self.outcome != "pass"

    @property
    def rank(self) -> int:
        return _RANK.get(self.outcome, 0)

    def as_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage,
            "asset": self.asset,
            "frames": self.frames,
            "rule": self.rule,
            "outcome": self.outcome,
            "status": self.status,
            "approval": self.approval,
            "principle": self.principle,
            "message": self.message,
            "remediation": self.remediation,
            "evidence": self.evidence,
            "time": self.time,
            "run_id": self.run_id,
            "host": self.host,
        }


@dataclass
class AssetAudit:
    """The latest audit of one asset in one stage (``asset`` None: the stage's own checks)."""

    stage: str
    asset: str | None
    outcome: str
    time: str
    run_id: str | None
    host: str | None
    frames: str | None = None
    findings: list[FindingRow] = field(default_factory=list)
    audited: bool = True  # False when the run stopped before asset.audited was written

    @property
    def label(self) -> str:
        return self.asset if self.asset is not None else f"({self.stage} stage checks)"

    @property
    def open_findings(self) -> list[FindingRow]:
        return [f for f in self.findings if f.is_open]

    @property
    def worst_open(self) -> int:
        return max((f.rank for f in self.open_findings), default=-1)


@dataclass
class StageSummary:
    name: str
    assets: int = 0
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OUTCOMES, 0))
    open: int = 0
    approved: int = 0
    expired: int = 0


@dataclass
class Report:
    logs: list[str]
    filters: Filters
    stages: list[StageSummary]
    assets: list[AssetAudit]  # in stage order; within a stage worst open finding first, then name
    runs: list[dict[str, Any]]
    events: int = 0
    skipped_lines: int = 0
    first_time: str | None = None
    last_time: str | None = None
    production: str | None = None
    #: what the reader found odd and reported as unsure (one line per log file; stderr)
    warnings: list[str] = field(default_factory=list)
    #: every stage the logs name, in or out of the time window (what ``--stage`` may name)
    stages_named: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What a reader of the report must know about the logs it comes from (a broken
        chain, lines skipped, pasted or of a newer format): said on stderr, and carried in
        the JSON (``warnings``) and HTML reports, which are read without that stderr."""
        skipped = (
            [
                f"{self.skipped_lines} line(s) in the log(s) are not audit events and were "
                "skipped; run `clearance verify`"
            ]
            if self.skipped_lines
            else []
        )
        return [*skipped, *self.warnings]

    def shown(self, audit: AssetAudit) -> list[FindingRow]:
        return [f for f in audit.findings if self.filters.finding_shown(f)]

    def findings(self) -> Iterator[FindingRow]:
        for audit in self.assets:
            yield from self.shown(audit)

    def open_findings(self) -> Iterator[FindingRow]:
        return (f for f in self.findings() if f.is_open)

    def approvals(self, status: str) -> list[FindingRow]:
        return [f for f in self.findings() if f.status == status and f.approval]

    def by_outcome(self) -> dict[str, int]:
        total = dict.fromkeys(OUTCOMES, 0)
        for s in self.stages:
            for k, v in s.counts.items():
                total[k] = total.get(k, 0) + v
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "logs": [printable(log) for log in self.logs],  # caf\xe9, as asset names
            "production": self.production,
            "filters": self.filters.describe(),
            "period": {"from": self.first_time, "to": self.last_time},
            "events": self.events,
            "runs": self.runs,
            "warnings": [printable(w) for w in self.notes()],
            "summary": {
                "assets": sum(s.assets for s in self.stages),
                "open_findings": sum(1 for _ in self.open_findings()),
                "by_outcome": self.by_outcome(),
                "by_stage": {
                    s.name: {
                        "assets": s.assets,
                        "by_outcome": s.counts,
                        "open": s.open,
                        "approved": s.approved,
                        "expired": s.expired,
                    }
                    for s in self.stages
                },
            },
            "assets": [
                {
                    "stage": a.stage,
                    "asset": a.asset,
                    "frames": a.frames,
                    "outcome": a.outcome,
                    "time": a.time,
                    "run_id": a.run_id,
                    "host": a.host,
                    "findings": [f.as_dict() for f in self.shown(a)],
                }
                for a in self.assets
            ],
            "approvals": {
                "used": [_approval_dict(f) for f in self.approvals("approved")],
                "expired": [_approval_dict(f) for f in self.approvals("expired")],
            },
        }


def _approval_dict(f: FindingRow) -> dict[str, Any]:
    return {
        "approval": f.approval,
        "rule": f.rule,
        "stage": f.stage,
        "asset": f.asset,
        "expired_on": f.evidence.get("approval_expired") if f.status == "expired" else None,
    }


# -- reading -------------------------------------------------------------------------------------


_decode = json.JSONDecoder().decode
_fast_decode = orjson.loads


def _floats(value: Any) -> bool:
    """Whether a float is anywhere in ``value`` (a parsed object or array)."""
    for v in value.values() if type(value) is dict else value:
        t = type(v)
        if t is float or ((t is dict or t is list) and v and _floats(v)):
            return True
    return False


def _parse(raw: bytes, slow: Any = None) -> Any:
    """A line of the log, parsed as ``json.loads`` parses it (``NOT_JSON`` if it is not JSON).

    orjson reads it, about 3x faster. Where its value can differ from ``json``'s, ``json``
    reads it again (``slow``, if given, instead): orjson refuses NaN, infinities, lone
    surrogates and deep nesting, which ``json`` takes, and makes an integer of more than 64
    bits a float: a line with a float at its top or anywhere in ``details`` is read again.
    (Events keep their values there; the report reads no other part of a line.)"""
    try:
        event = _fast_decode(raw)
    except orjson.JSONDecodeError:
        return (slow or _slow)(raw)
    kind = type(event)
    if kind is dict:
        details = event.get("details")
        if float in map(type, event.values()) or (
            (type(details) is dict or type(details) is list) and details and _floats(details)
        ):
            return (slow or _slow)(raw)
    elif kind is float or (kind is list and _floats(event)):
        return (slow or _slow)(raw)
    return event


def _slow(raw: bytes) -> Any:
    return _decode(raw.decode("utf-8"))


_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]")


def _slow_printable(raw: bytes) -> Any:
    """:func:`_slow`, with a lone surrogate (``\\ud800`` in the line: no writer writes one,
    :func:`~clearance.model.printable`) in a text shown as writers show it (``\\ud800``,
    text): no output stream can encode it, and a report of the line stopped at it."""
    value = _slow(raw)
    return _printable_values(value) if _SURROGATE.search(raw) else value


def _printable_values(value: Any) -> Any:
    if type(value) is str:
        return printable(value)
    if type(value) is dict:
        return {printable(k): _printable_values(v) for k, v in value.items()}
    if type(value) is list:
        return [_printable_values(v) for v in value]
    return value


# the envelope's text fields: run_id, host, stage, asset, rule, outcome, status, approval, message
_TEXT_FIELDS = ENVELOPE[ENVELOPE.index("run_id") : ENVELOPE.index("details")]


def _readable(event: Any, expected_prev: str | None = None) -> int | None:
    """Its ``seq`` if ``event`` (a line of the log, parsed) is one the report reads: an event as
    writers and ``verify`` define it (``auditlog.parsed_event_seq``: the whole envelope,
    ``schema``, a ``seq`` of at most 19 digits, a SHA-256 ``prev``, ``details`` an object), with
    a string ``time`` and its other envelope fields strings or null, as writers write them.
    Any other line was not written by a writer (a torn line, recovered or not, is never an
    event; ``clearance verify`` names it): skipped and counted (None)."""
    seq = parsed_event_seq(event, expected_prev)
    if seq is None or not isinstance(event["time"], str):
        return None
    for key in _TEXT_FIELDS:
        value = event[key]
        if value is not None and not isinstance(value, str):
            return None
    return seq


def _text(value: Any) -> str | None:
    """A free-form detail (``frames``, ``remediation``, …) as text: a plugin may give another
    JSON value, which the report shows as JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _odd_outcomes(f: Path, count: int, first: dict[str, Any]) -> str:
    # the asset and stage as the table shows them: an escape sequence in a name must not
    # hide this warning, or the ones after it, on a terminal
    return (
        f"{f}: {count} asset.audited or finding event(s) without a known outcome (first: seq "
        f"{first['seq']}, {shown(first['event'])} of "
        f"{shown(first['asset']) if first['asset'] else 'stage ' + shown(str(first['stage']))}"
        f", outcome {first['outcome']!r}); reported as escalate (unsure), never as a pass; the "
        f"outcomes are {', '.join(OUTCOMES)}"
    )


def _snapshot(path: Path) -> Snapshot:
    try:
        return open_snapshot(path)  # writers may go on appending and rotating meanwhile
    except VerifyError as exc:
        raise ReportError(str(exc)) from None


def _read_log(
    path: Path,
    skipped: list[int],
    warnings: list[str],
    snapshot: Snapshot | None = None,
    copies: Sequence[Sequence[int]] = (),
) -> Iterator[dict[str, Any]]:
    """The events of the log at ``path`` (``snapshot``: opened already), in file order. The
    lines in ``copies`` (ranges of line numbers, see ``report_copies``) are copies of lines
    another log given has: not read again, but they make this log not empty; so are lines
    pasted again further down in the log itself (``report_copies.PastedLines``), which a
    warning names."""
    if snapshot is None:
        snapshot = _snapshot(path)
    events = bad = 0
    ranges = iter(copies)
    copy_from, copy_to = next(ranges, _NO_RANGE)
    n = -1  # the line number, across the log's files
    top = 0  # the highest seq read: a writer's seq only goes up, a pasted line's goes back
    pasted: PastedLines | None = None
    starts: list[tuple[Path, int]] = []  # each file and the number of its first line
    # the chain as the report reads it: the hash of the event before, and where an event
    # does not chain to it (an edited, deleted, moved or inserted line: `verify` says which)
    chain: str | None = None
    unchained: list[tuple[int, int]] = []  # (line number, seq)
    newer: dict[str, list[int]] = {}  # lines of a newer format: schema -> [first line, count]
    torn = 0  # lines not JSON that start as an event does: what a crash mid-write leaves
    try:
        for f, fh, size in snapshot:
            starts.append((f, n + 1))
            fh.seek(0)
            offset = 0
            odd = 0  # asset.audited and finding events whose outcome is none of OUTCOMES
            first_odd: dict[str, Any] = {}
            try:
                for raw in log_lines(fh):
                    if offset >= size:
                        break
                    if isinstance(raw, LongLine):  # no event: never read whole
                        offset += raw.size
                        n += 1
                        bad += 1
                        skipped[0] += 1
                        continue
                    offset += len(raw)
                    n += 1
                    if n >= copy_from:
                        while n > copy_to:
                            copy_from, copy_to = next(ranges, _NO_RANGE)
                        if n >= copy_from:
                            events += 1
                            seq = line_seq(raw)  # where this log is: a paste of it goes back
                            if seq is not None and seq > top:
                                top = seq
                            chain = sha256(raw.rstrip(b"\n")).hexdigest()
                            continue
                    try:
                        event = _parse(raw, _slow_printable)
                    except NOT_JSON:  # UnicodeDecodeError too
                        bad += 1
                        skipped[0] += 1
                        torn += _torn_like(raw)
                        continue
                    seq = _readable(event, chain or GENESIS)
                    if seq is None:
                        bad += 1
                        skipped[0] += 1
                        schema = _newer_schema(event)
                        if schema is not None:
                            newer.setdefault(schema, [n, 0])[1] += 1
                        continue
                    events += 1
                    if seq > top:
                        top = seq
                    else:  # back to a seq read before: the same line pasted again?
                        if pasted is None:
                            pasted = PastedLines(snapshot)
                        if pasted.is_copy(n, seq, raw):
                            continue
                    # a log that starts past seq 1 (its first files archived) chains to them
                    if (chain is not None or seq == 1) and event["prev"] != (chain or GENESIS):
                        unchained.append((n, seq))
                    chain = sha256(raw[:-1] if raw.endswith(b"\n") else raw).hexdigest()
                    name = event["event"]
                    # the Python API writes what it is given: no outcome, a misspelled one
                    judged = name == "asset.audited" or name == "finding"
                    if judged and event["outcome"] not in _RANK:
                        odd += 1
                        first_odd = first_odd or event
                    yield event
            except OSError as exc:
                raise ReportError(
                    f"{f}: cannot read the audit log: {exc.strerror or exc}"
                ) from None
            if odd:
                warnings.append(_odd_outcomes(f, odd, first_odd))
        if pasted is not None:
            warnings.extend(_pasted(pasted, path, starts))
        if unchained:
            warnings.append(_unchained(unchained, path, starts))
        if newer and not events:  # a newer Clearance wrote it: not the wrong file
            raise ReportError(_newer(newer, path, starts, alone=True))
        if bad and not events and torn == bad:  # a first write cut by a crash: no events
            raise ReportError(
                f"{path}: the audit log holds no events: its only line(s) are torn, what a "
                "writer that crashed in its first write left (`clearance verify` names them); "
                "there is nothing to report"
            )
        if bad and not events:  # the state store, a config, a report: the wrong file
            raise ReportError(f"{path}: not an audit log (none of its lines is an audit event)")
        if newer:
            warnings.append(_newer(newer, path, starts, alone=False))
        if not events:  # emptied (`> audit.jsonl`, copytruncate) or never written: not all clear
            raise ReportError(
                f"{path}: the audit log is empty (no events): it was emptied, or nothing was "
                "ever written to it; there is nothing to report"
            )
    finally:
        _close(snapshot)


_NO_RANGE = (1 << 62, 1 << 62)


def _pasted(pasted: PastedLines, path: Path, starts: list[tuple[Path, int]]) -> list[str]:
    """What :class:`PastedLines` found in a log, for stderr: the copies it skipped (each
    event is read once), and that it stopped looking."""

    def where(number: int) -> str:
        f, first = next((f, first) for f, first in reversed(starts) if first <= number)
        return f"{f}:{number - first + 1}"

    said = []
    if pasted.first is not None:
        number, seq, original = pasted.first
        said.append(
            f"{where(number)}: {pasted.count} line(s) of this log are copies of lines before "
            f"them in it (first: seq {seq}, a copy of {where(original)}): pasted again, or the "
            "log concatenated with part of itself; each event is read once (`clearance verify` "
            "names the copies)"
        )
    if pasted.gave_up:
        said.append(
            f"{path}: its seq goes back too often to look for lines pasted again (it is not one "
            "chain: logs interleaved, `clearance verify` says where); from there on, an event "
            "pasted again in it is read again"
        )
    return said


_EVENT_START = b'{"schema":"clearance.event/1","seq":'


def _torn_like(raw: bytes) -> bool:
    """Whether ``raw`` (a line that is not JSON) starts as a writer's event does, or is the
    start of one: what is left of an event a crash cut (NUL bytes where a power loss lost
    the end of a write)."""
    line = raw.rstrip(b"\n").rstrip(b"\0")
    return bool(line) and (line.startswith(_EVENT_START) or _EVENT_START.startswith(line))


_SCHEMA_RE = re.compile(r"clearance\.event/([0-9]{1,9})")


def _newer_schema(event: Any) -> str | None:
    """The ``schema`` of a line that is an event of a newer format than ``clearance.event/1``
    (a newer Clearance wrote it; additive changes keep ``/1``), else None."""
    schema = event.get("schema") if isinstance(event, dict) else None
    if isinstance(schema, str) and (m := _SCHEMA_RE.fullmatch(schema)) and int(m.group(1)) > 1:
        return schema
    return None


def _newer(
    newer: dict[str, list[int]], path: Path, starts: list[tuple[Path, int]], *, alone: bool
) -> str:
    """What the report says of lines of a newer format than it reads (skipped)."""
    count = sum(c for _first, c in newer.values())
    number = min(first for first, _c in newer.values())
    f, first = next((f, first) for f, first in reversed(starts) if first <= number)
    schemas = ", ".join(sorted(newer))
    what = "its events are" if alone else f"{count} line(s) are events"
    return (
        f"{f}:{number - first + 1}: {what} of a newer format ({schemas}) than this version of "
        f"Clearance reads ({SCHEMA}), written by a newer Clearance; "
        + ("there is nothing it can report" if alone else "they were skipped")
        + ": upgrade Clearance to report them"
    )


def _unchained(unchained: list[tuple[int, int]], path: Path, starts: list[tuple[Path, int]]) -> str:
    """What the report says of events that do not chain to the event before them."""
    number, seq = unchained[0]
    f, first = next((f, first) for f, first in reversed(starts) if first <= number)
    others = f" and at {len(unchained) - 1} other event(s)" if len(unchained) > 1 else ""
    return (
        f"{f}:{number - first + 1}: the audit log's hash chain is broken at this event (seq "
        f"{seq}: its prev is not the hash of the event before it){others}: lines were edited, "
        f"deleted, moved or inserted, and this report may not show what was audited; run "
        f"`clearance verify {path}`"
    )


def _close(snapshot: Snapshot) -> None:
    for _f, fh, _size in snapshot:
        fh.close()


def iter_events(
    paths: Sequence[str | os.PathLike[str]],
    skipped: list[int] | None = None,
    warnings: list[str] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every event of the logs at ``paths``, merged by ``(time, host, seq)``, each once (a log
    given twice, by another name or as a copy, is not counted twice: a line another log has
    at the same ``seq``, byte for byte, is the same event; see ``report_copies``); streams.
    A run whose events in two logs share ``seq`` values without being copies (its log was
    moved away while it wrote) is named in ``warnings``; both logs are read.

    Lines that are not events (torn or damaged: ``clearance verify`` names them) are skipped
    and counted in ``skipped[0]``. ``asset.audited`` and ``finding`` events without a known
    outcome are yielded as written and named in ``warnings`` (one line per file).
    """
    skipped = skipped if skipped is not None else [0]
    warnings = warnings if warnings is not None else []
    seen: set[tuple[tuple[int, int], ...]] = set()
    logs: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            raise ReportError(
                f"{path}: is a folder; give the audit log file (e.g. {path / 'audit.jsonl'})"
            )
        # a log being rotated has no active file for a moment, never no file at all
        if not path.exists() and not rotated_files(log_target(path)):
            raise ReportError(f"{path}: no such audit log")
        key = _identity(path)
        if key in seen:  # the same files by another name: a symlink, a hard link, `./`
            continue
        seen.add(key)
        logs.append(path)
    if len(logs) == 1:
        return _read_log(logs[0], skipped, warnings)
    snapshots: list[Snapshot] = []
    try:
        for path in logs:
            snapshots.append(_snapshot(path))
        copies = copied_lines(snapshots)
    except BaseException:
        for snapshot in snapshots:
            _close(snapshot)
        raise
    streams = [
        _read_log(path, skipped, warnings, snapshot, ranges)
        for path, snapshot, ranges in zip(logs, snapshots, copies, strict=True)
    ]
    return _restarts(heapq.merge(*(_tagged(s, i) for i, s in enumerate(streams))), logs, warnings)


def _identity(path: Path) -> tuple[tuple[int, int], ...]:
    """The log's files (rotated ones, then the active one) by device and inode."""
    ids = []
    for f in [*rotated_files(log_target(path)), path]:
        try:
            st = f.stat()
        except OSError:  # gone meanwhile (rotated), or unreadable: reading it will say
            continue
        ids.append((st.st_dev, st.st_ino))
    return tuple(ids)


def _tagged(
    stream: Iterator[dict[str, Any]], index: int
) -> Iterator[tuple[str, str, int, int, int, dict[str, Any]]]:
    """A log's events keyed for the merge: ``(time, host, seq)``, then the log and the line
    (two lines never compare their events)."""
    for n, e in enumerate(stream):
        yield e["time"], e["host"] or "", e["seq"], index, n, e


def _restarts(
    merged: Iterator[tuple[str, str, int, int, int, dict[str, Any]]],
    logs: Sequence[Path],
    warnings: list[str],
) -> Iterator[dict[str, Any]]:
    """The merged events, as they are; a warning for each two logs where one run's events
    share ``seq`` values without being copies (``report_copies`` took those out): the run's
    log was moved away while it wrote (the writer started a new file at ``seq`` 1) or replaced
    by an older copy of it. Both logs' events are read. Remembers, per run and log, only the
    ``seq`` range read: memory grows with runs × logs, not with events."""
    ranges: dict[tuple[str, str], dict[int, list[int]]] = {}
    said: set[tuple[str, str, int, int]] = set()
    for _t, host, seq, index, _n, e in merged:
        run = e["run_id"]
        if run is not None:
            by_log = ranges.get((run, host))
            if by_log is None:
                by_log = ranges[(run, host)] = {}
            mine = by_log.get(index)
            if mine is None:
                by_log[index] = [seq, seq]
            elif seq > mine[1]:
                mine[1] = seq
            elif seq < mine[0]:
                mine[0] = seq
            for other, (lo, hi) in by_log.items():
                if other != index and lo <= seq <= hi:
                    pair = (run, host, min(index, other), max(index, other))
                    if pair not in said:
                        said.add(pair)
                        warnings.append(_restarted(run, host, seq, logs[index], logs[other]))
        yield e


def _restarted(run: str, host: str, seq: int, log: Path, other: Path) -> str:
    return (
        f"{log}: run {shown(run)} on host {shown(host) or '?'} wrote other events at the seq {other} has for "
        f"it (first: seq {seq}): its seq started again — the log was moved away while the run "
        "wrote to it (the writer then starts a new file at seq 1), or replaced by an older copy"
        "; these are not copies, and the events of both files are read"
    )


def _outcome(value: Any) -> str:
    """An event's outcome; none or an unknown one (``"blocked"``) is unsure, never a pass."""
    return value if value in _RANK else "escalate"


def _unsure(found: list[dict[str, Any]]) -> str:
    """The outcome of an audit whose ``asset.audited`` has none (or an unknown one): escalate,
    or its worst open finding if that is worse."""
    return _worst(found, "escalate")


def _worst(found: list[dict[str, Any]], worst: str) -> str:
    """``worst``, or the worst outcome of the open findings in ``found`` if that is worse."""
    for e in found:
        outcome = _outcome(e["outcome"])
        if e["status"] != "approved" and _RANK[outcome] > _RANK[worst]:
            worst = outcome
    return worst


def _row(event: dict[str, Any]) -> FindingRow:
    details = event.get("details") if isinstance(event.get("details"), dict) else {}
    assert isinstance(details, dict)
    evidence = details.get("evidence")
    outcome = _outcome(event["outcome"])
    return FindingRow(
        stage=str(event.get("stage") or "default"),
        asset=event.get("asset"),
        rule=str(event.get("rule") or "?"),
        outcome=outcome,
        # a pass has no status, also in a log written before that was so (it said "open")
        status=None if outcome == "pass" else str(event.get("status") or "open"),
        approval=event.get("approval"),
        message=str(event.get("message") or ""),
        principle=_text(details.get("principle")),
        remediation=_text(details.get("remediation")),
        frames=_text(details.get("frames")),
        evidence=evidence if isinstance(evidence, dict) else {},
        time=event["time"],
        run_id=event.get("run_id"),
        host=event.get("host"),
    )


def build_report(paths: Sequence[str | os.PathLike[str]], filters: Filters | None = None) -> Report:
    """Read the logs at ``paths`` (streaming) into a :class:`Report`; raises ReportError.

    Finding events are kept as read until their asset's audit is known to be the latest;
    rows are built only for the audits the report shows.
    """
    filters = filters or Filters()
    stage_filter = set(filters.stages)
    since, until = filters.since, filters.until
    skipped = [0]
    warnings: list[str] = []
    # (stage, asset) -> (time, run_id, host, outcome, frames, finding events, duration_ms)
    current: dict[
        tuple[str, str | None], tuple[str, Any, Any, str, Any, list[dict[str, Any]], Any]
    ] = {}
    unfinished: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    # (run_id, host, stage) -> asset -> finding events not yet followed by their asset.audited
    pending: dict[tuple[Any, Any, str], dict[str | None, list[dict[str, Any]]]] = {}
    checked: dict[str, str] = {}  # stage -> time of the complete stage.finished that decided it
    # (run_id, host, stage) -> the assets the run audited since its stage.started (a pass of
    # the stage not finished yet): a finding naming one of them is a stage check's
    passes: dict[tuple[Any, Any, str], set[Any]] = {}
    # (stage, asset) -> the stage checks' findings naming the asset that stand for it: they
    # join its latest audit, whichever run made it, until a run of the whole stage that
    # audited it decides them again (a watcher runs no stage checks; a partial run's prove
    # nothing by finding nothing)
    standing: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    # what a run cut short still matters for: (run_id, host, stage) -> the time of its last
    # event in that stage; stage -> when the latest pass of the whole stage started; a pass
    # under way: (run_id, host, stage) -> when it started
    touched: dict[tuple[Any, Any, str], str] = {}
    whole_from: dict[str, str] = {}
    pass_began: dict[tuple[Any, Any, str], str] = {}
    # (run_id, host) -> the stages its policy.loaded lists (the order it runs them in), and
    # the stages it finished: it was cut short in one after the last of these
    configured: dict[tuple[Any, Any], list[str]] = {}
    finished: dict[tuple[Any, Any], set[str]] = {}
    stage_order: list[str] = []
    stages_seen: set[str] = set()
    runs: dict[tuple[Any, Any], dict[str, Any]] = {}
    interrupted: dict[tuple[Any, Any], str] = {}  # run -> the signal that stopped it
    events = 0
    production = None
    first = last = None
    named: dict[str, None] = {}
    for ev in iter_events(paths, skipped, warnings):
        stage_named = ev.get("stage")
        if stage_named:
            named[stage_named] = None
        elif ev["event"] == "finding" or ev["event"] == "asset.audited":
            named["default"] = None  # (no stage: reported in the stage default, below)
        elif ev["event"] == "policy.loaded" and isinstance(ev.get("details"), dict):
            listed = ev["details"].get("stages")  # configured stages, audited or not yet
            for s in listed if isinstance(listed, list) else []:
                if isinstance(s, str):
                    named[s] = None
        t = ev["time"]
        if (since and t < since) or (until and t > until):
            continue
        events += 1
        if first is None:
            first = t
        last = t
        name = ev["event"]
        if name == "finding" or name == "asset.audited":
            # the Python API writes what it is given: one without a stage is the stage
            # default's (assets outside every configured stage), never dropped
            stage = ev["stage"] or "default"
            if stage not in stages_seen:
                stages_seen.add(stage)
                stage_order.append(stage)
            if stage_filter and stage not in stage_filter:
                continue
            asset = ev.get("asset")
            run_id, host = ev.get("run_id"), ev.get("host")
            key = (run_id, host, stage)
            touched[key] = t
            in_run = pending.get(key)
            if name == "finding":
                if in_run is None:
                    pending[key] = {asset: [ev]}
                elif asset in in_run:
                    in_run[asset].append(ev)
                else:
                    in_run[asset] = [ev]
                continue
            in_pass = passes.get(key)
            if in_pass is not None:
                in_pass.add(asset)
            found: list[dict[str, Any]] = []
            if in_run is not None:
                found = in_run.pop(asset, found)
                if not in_run:
                    del pending[key]
            details = ev.get("details")
            took = details.get("duration_ms") if isinstance(details, dict) else None
            known = current.get((stage, asset))
            if known is not None and (
                known[0] > t  # two writers' batches can interleave out of time order in one file
                or (
                    (known[1] != run_id or known[2] != host)
                    and _overlapped(runs.get((run_id, host)), known[0])
                    and _looked_later(known, t, took)
                )
            ):
                continue
            frames = _text(details.get("frames")) if isinstance(details, dict) else None
            current[(stage, asset)] = (
                t,
                run_id,
                host,
                ev["outcome"] if ev["outcome"] in _RANK else _unsure(found),
                frames,
                found,
                took,
            )
        elif name == "run.started" or name == "run.finished":
            _note_run(runs, ev, t, name, interrupted)
        elif name == "policy.loaded":
            details = ev.get("details") or {}
            if isinstance(details.get("production"), str) and details["production"]:
                production = details["production"]
            stages = details.get("stages")
            listed = []
            for s in stages if isinstance(stages, list) else []:
                if isinstance(s, str):
                    listed.append(s)
                    if s not in stages_seen:
                        stages_seen.add(s)
                        stage_order.append(s)
            configured[(ev.get("run_id"), ev.get("host"))] = listed
        elif name == "stage.finished" or name == "stage.started":
            stage = ev.get("stage")
            if not isinstance(stage, str):
                continue
            key = (ev.get("run_id"), ev.get("host"), stage)
            touched[key] = t
            in_pass = None
            if name == "stage.started":
                passes[key] = set()
                pass_began[key] = t
            else:
                in_pass = passes.pop(key, None)
                finished.setdefault(key[:2], set()).add(stage)
                began = pass_began.pop(key, None)
                if began is not None and ev["details"].get("complete") is True:
                    whole_from[stage] = max(whole_from.get(stage, began), began)
            if stage not in stages_seen:
                stages_seen.add(stage)
                stage_order.append(stage)
            if name == "stage.finished" and (not stage_filter or stage in stage_filter):
                run_id, host = ev.get("run_id"), ev.get("host")
                details = ev["details"]
                checks = _stage_checks(
                    current,
                    standing,
                    stage,
                    run_id,
                    host,
                    pending.pop((run_id, host, stage), {}),
                    in_pass,
                    whole=details.get("complete") is True,
                )
                if t < checked.get(stage, t):
                    continue  # a later run of the whole stage decided its own findings
                if details.get("complete") is True:  # it saw the whole stage: it decides
                    checked[stage] = t
                    if checks:
                        unfinished[(stage, None)] = checks
                    else:
                        unfinished.pop((stage, None), None)
                elif checks:  # it saw a part: what it found adds, what it did not proves nothing
                    unfinished[(stage, None)] = _added(unfinished.get((stage, None), []), checks)
    for (run_id, host, stage), in_run in pending.items():  # a run that stopped early
        for asset, found in in_run.items():
            known = current.get((stage, asset)) if asset is not None else None
            if known is not None and asset in passes.get((run_id, host, stage), ()):
                # after the asset.audited of this pass of the stage: its stage checks' (the
                # run stopped before its stage.finished), which join the asset's latest
                # audit as they do at stage.finished (also another run's that began later);
                # a pass not finished decides nothing: they add to those standing
                standing[(stage, asset)] = _added(standing.get((stage, asset), []), found)
            elif asset is not None:
                unfinished[(stage, asset)] = found  # if newer than the asset's audit (below)
            elif found[-1]["time"] >= checked.get(stage, ""):  # not decided since: a part
                unfinished[(stage, None)] = _added(unfinished.get((stage, None), []), found)
    audits: dict[tuple[str, str | None], AssetAudit] = {}
    for (stage, asset), (t, run_id, host, outcome, frames, found, _took) in current.items():
        joined = standing.get((stage, asset))
        if joined:
            outcome, found = _worst(joined, outcome), found + joined
        audits[(stage, asset)] = AssetAudit(
            stage=stage,
            asset=asset,
            outcome=outcome,
            time=t,
            run_id=run_id,
            host=host,
            frames=frames,
            findings=[_row(e) for e in found],
        )
    for (stage, asset), found in unfinished.items():
        known_audit = audits.get((stage, asset))
        if known_audit is None or known_audit.time < found[-1]["time"]:
            joined = standing.get((stage, asset)) if asset is not None else None
            # (the audit's own findings last: its time, run and frames are the last one's)
            audits[(stage, asset)] = _unfinished(
                stage, asset, [_row(e) for e in (joined + found if joined else found)]
            )
    order = {s: i for i, s in enumerate(stage_order)}
    stages = {s: StageSummary(s) for s in stage_order if not stage_filter or s in stage_filter}
    for audit in audits.values():
        summary = stages.setdefault(audit.stage, StageSummary(audit.stage))
        if audit.asset is not None:
            summary.assets += 1
            summary.counts[audit.outcome] = summary.counts.get(audit.outcome, 0) + 1
        for f in audit.findings:
            if not filters.finding_shown(f):
                continue
            summary.open += f.is_open
            summary.approved += f.status == "approved"
            summary.expired += f.status == "expired"
    assets = sorted(
        audits.values(),
        key=lambda a: (order.get(a.stage, len(order)), a.stage, -a.worst_open, a.label),
    )
    for a in assets:
        a.findings.sort(key=lambda f: (not f.is_open, -f.rank, f.rule))
    warnings.extend(
        _runs_cut_short(
            runs,
            interrupted,
            _still_matter(
                runs, interrupted, touched, whole_from, stage_filter, configured, finished
            ),
        )
    )
    if filters.rules:
        warnings.extend(_rules_unmatched(filters.rules, audits.values()))
    return Report(
        logs=[str(p) for p in paths],
        filters=filters,
        stages=sorted(stages.values(), key=lambda s: (order.get(s.name, len(order)), s.name)),
        assets=assets,
        runs=sorted(runs.values(), key=lambda r: (r["started"] or "", r["host"] or "")),
        events=events,
        skipped_lines=skipped[0],
        warnings=warnings,
        stages_named=list(named),
        first_time=first,
        last_time=last,
        production=production,
    )


def _stage_checks(
    current: dict[
        tuple[str, str | None], tuple[str, Any, Any, str, Any, list[dict[str, Any]], Any]
    ],
    standing: dict[tuple[str, Any], list[dict[str, Any]]],
    stage: str,
    run_id: Any,
    host: Any,
    left: dict[str | None, list[dict[str, Any]]],
    audited: set[Any] | None,
    *,
    whole: bool,
) -> list[dict[str, Any]]:
    """At a run's ``stage.finished``: the findings it wrote in the stage and not before an
    ``asset.audited`` are its stage checks' (``clearance_check_stage``). One naming an asset
    the run audited in the stage joins that audit (its outcome the worse of the two) and
    stands for the asset (``standing``) through later audits of it by runs that decide
    nothing of the stage, until a run of the ``whole`` stage that audited it decides them
    again: those it finds take the place of the ones standing (none: cleared). A partial
    run's add to them (:func:`_added`). The others (no asset, or one the run did not audit
    in this stage) are returned: the stage's own findings.

    ``audited``: the assets the run audited in this pass of the stage (None: its
    ``stage.started`` not read). Its audit of one may not be the latest (another run's that
    began later, a ``check`` of the file while the scan read it): what its stage checks
    decide stands for the asset all the same, whichever audit of it is the latest, as the
    lineage store records it on the asset's latest row."""

    def saw(asset: Any) -> bool:
        known = current.get((stage, asset))
        if known is None:
            return False
        if audited is not None:
            return asset in audited
        return known[1] == run_id and known[2] == host

    checks = left.pop(None, [])
    if whole and standing:
        for key in [k for k in standing if k[0] == stage and k[1] not in left]:
            if saw(key[1]):
                del standing[key]  # its stage checks saw the asset and name it no more
    for asset, found in left.items():
        if not saw(asset):
            checks.extend(found)
            continue
        key = (stage, asset)
        standing[key] = found if whole else _added(standing.get(key, []), found)
    return checks


#: an event's ``time`` as writers write it: the second, and its milliseconds
_STAMP = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2})\.([0-9]{3})Z")
_SECONDS: dict[str, int] = {}  # "2026-11-26T21:06:53" -> seconds since the epoch


def _began(t: str, took: Any) -> float | None:
    """When an audit whose ``asset.audited`` was written at ``t`` after ``took`` ms
    (``details.duration_ms``) began, in ms since the epoch; None when either is not known."""
    if type(took) not in (int, float) or not 0 <= took < 1e12:  # (NaN is neither)
        return None
    m = _STAMP.fullmatch(t)
    if m is None:
        return None
    head = m.group(1)
    seconds = _SECONDS.get(head)
    if seconds is None:
        try:
            day = datetime.strptime(head, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
        except ValueError:
            return None
        if len(_SECONDS) >= 4096:
            _SECONDS.clear()
        seconds = _SECONDS[head] = int(day.timestamp())
    return seconds * 1000 + int(m.group(2)) - took


def _overlapped(run: dict[str, Any] | None, written: str) -> bool:
    """Had ``run`` (None: its ``run.started`` not read) started when an audit of another run
    was written at ``written``? Only then may an audit of ``run`` written later have begun
    before it (a re-scan that started after it never did: one look-up, no time parsed)."""
    return run is None or not (run["started"] or "") > written


def _looked_later(
    known: tuple[str, Any, Any, str, Any, list[dict[str, Any]], Any], t: str, took: Any
) -> bool:
    """Did the audit ``known`` (another run's, written before) begin after the audit written
    at ``t`` that took ``took`` ms began? Then it read the asset later: two processes audited
    it at once (a farm scan reading a file, the artist re-rendering it, the post-task
    ``check`` recording the new version before the scan writes what it read of the old), and
    ``known`` stays the latest audit although written first."""
    began = _began(t, took)
    if began is None:
        return False
    other = _began(known[0], known[6])
    return other is not None and other > began


def _added(known: list[dict[str, Any]], checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A stage's own findings ``known`` with a partial run's ``checks`` added: one of them
    saying what a known one said (its rule, asset and message) takes its place, so runs of
    single files saying the same again do not pile up."""
    said = {(e["rule"], e["asset"], e["message"]) for e in checks}
    return [e for e in known if (e["rule"], e["asset"], e["message"]) not in said] + checks


def _note_run(
    runs: dict[tuple[Any, Any], dict[str, Any]],
    ev: dict[str, Any],
    t: str,
    name: str,
    interrupted: dict[tuple[Any, Any], str],
) -> None:
    run_key = (ev.get("run_id"), ev.get("host"))
    run = runs.get(run_key)
    if run is None:
        run = runs[run_key] = {
            "run_id": run_key[0],
            "host": run_key[1],
            "command": None,
            "started": t,
            "finished": None,
            "outcome": None,
            "exit_code": None,
        }
    details = ev.get("details") or {}
    if name == "run.started":
        run["started"], run["command"] = t, _text(details.get("command"))
    else:
        run["finished"], run["outcome"] = t, ev.get("outcome")
        code = details.get("exit_code")
        run["exit_code"] = code if isinstance(code, int) and not isinstance(code, bool) else None
        if details.get("interrupted"):
            interrupted[run_key] = str(details["interrupted"])


def _rules_unmatched(patterns: Sequence[str], audits: Iterable[AssetAudit]) -> list[str]:
    """What the report says of a ``--rule`` that no finding of the audits reported matches
    (a typo, ``NFX-T9``: its report would read "No open findings", all clear)."""
    found = {f.rule for audit in audits for f in audit.findings}
    unmatched = [p for p in patterns if not any(fnmatch.fnmatchcase(r, p) for r in found)]
    if not unmatched:
        return []
    some = sorted(found)
    listed = ", ".join(shown(r) for r in some[:30]) + (", …" if len(some) > 30 else "")
    return [
        f"--rule {', '.join(shown(p) for p in unmatched)}: no finding of the assets reported "
        f"has a rule {'it matches' if len(unmatched) == 1 else 'they match'} (a typo?); "
        f"their rules: {listed or 'none'}"
    ]


def _still_matter(
    runs: dict[tuple[Any, Any], dict[str, Any]],
    interrupted: dict[tuple[Any, Any], str],
    touched: dict[tuple[Any, Any, str], str],
    whole_from: dict[str, str],
    stage_filter: set[str],
    configured: dict[tuple[Any, Any], list[str]],
    finished: dict[tuple[Any, Any], set[str]],
) -> set[tuple[Any, Any]]:
    """The runs that did not finish whose being cut short still matters to the report.

    A run matters while a stage it touched has had no pass of the whole stage
    (``stage.finished`` ``complete``) that started after the run's last event in it: what it
    audited there may still be the latest audit, and what it did not reach keeps older ones.
    A pass of the whole stage that started later audited again every asset of the stage on
    disk: what the run did there is superseded. The stages it touched: those it wrote events
    of, and — as it may have been stopped in a stage before writing any of it (a stage's
    events are written in batches) — every stage its ``policy.loaded`` lists after the last
    one it finished (all of them if it finished none), in the order it runs them. A run
    whose stages are not known and that touched none matters until a run started after it
    finished."""
    last: dict[tuple[Any, Any], str] = {}
    matter = set()
    for (run_id, host, stage), at in touched.items():
        key = (run_id, host)
        if at > last.get(key, ""):
            last[key] = at
        if stage_filter and stage not in stage_filter:
            continue
        if whole_from.get(stage, "") <= at:
            matter.add(key)
    for key, run in runs.items():
        if key in matter:
            continue
        listed = configured.get(key)
        if listed:
            done = finished.get(key, set())
            after = max((i for i, s in enumerate(listed) if s in done), default=-1) + 1
            since = max(last.get(key, ""), run["started"] or "")
            if any(
                whole_from.get(stage, "") <= since
                for stage in listed[after:]
                if not stage_filter or stage in stage_filter
            ):
                matter.add(key)
        elif key not in last:
            started = run["started"] or ""
            if not any(
                (r["started"] or "") > started
                and r["finished"] is not None
                and r["command"] != "watch"
                and k not in interrupted
                for k, r in runs.items()
            ):
                matter.add(key)
    return matter


def _runs_cut_short(
    runs: dict[tuple[Any, Any], dict[str, Any]],
    interrupted: dict[tuple[Any, Any], str],
    matter: set[tuple[Any, Any]],
) -> list[str]:
    """What the report says of runs that did not audit all they set out to: started and
    not finished (no ``run.finished`` in the window: still running, or killed; a watcher,
    which runs on, is not said), or
    interrupted (``SIGTERM``, Ctrl-C). Their assets not audited yet keep their earlier
    audits, or are not in the report: never an all-clear that says nothing. Only those that
    still ``matter`` (:func:`_still_matter`) are said: a warning that is always there is one
    a supervisor learns to skip."""

    def first(found: list[dict[str, Any]]) -> str:
        r = min(found, key=lambda r: r["started"] or "")
        what = f"`{shown(r['command'])}`, " if r["command"] else ""
        return (
            f"first: run {shown(r['run_id'])}, {what}started {shown(r['started'])} on host "
            f"{shown(r['host']) or '?'}"
        )

    said = []
    # a watcher runs on: its run.finished is written when it is stopped
    open_runs = [
        r
        for key, r in runs.items()
        if r["finished"] is None and r["command"] != "watch" and key in matter
    ]
    if open_runs:
        said.append(
            f"{len(open_runs)} run(s) have no run.finished ({first(open_runs)}): still "
            "running, or stopped before their end (killed, crashed, the machine down); what "
            "they had not audited yet is not in this report (those assets keep their earlier "
            "audits, if any)"
        )
    stopped = [r for key, r in runs.items() if key in interrupted and key in matter]
    if stopped:
        key = min((k for k in interrupted if k in matter), key=lambda k: runs[k]["started"] or "")
        said.append(
            f"{len(stopped)} run(s) were interrupted ({first(stopped)}, by "
            f"{shown(interrupted[key])}): what they had not audited yet is not in this report "
            "(those assets keep their earlier audits, if any)"
        )
    return said


def _unfinished(stage: str, asset: str | None, rows: list[FindingRow]) -> AssetAudit:
    """The audit of ``asset`` whose run stopped before its ``asset.audited`` (``None``: the
    stage's own findings of a run that stopped before its ``stage.finished``). An asset's
    is unsure, escalate at least: what its audit did not reach is unknown, never a pass."""
    worst = max(rows, key=lambda f: f.rank if f.is_open else -1)
    outcome = worst.outcome if worst.is_open else "pass"
    if asset is not None and _RANK.get(outcome, 0) < _RANK["escalate"]:
        outcome = "escalate"
    return AssetAudit(
        stage=stage,
        asset=asset,
        outcome=outcome,
        time=rows[-1].time,
        run_id=rows[-1].run_id,
        host=rows[-1].host,
        frames=rows[-1].frames,
        findings=rows,
        audited=asset is None,
    )
