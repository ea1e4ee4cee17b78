"""Supervisor reports, built from audit logs only: ``clearance report``.

:func:`build_report` streams one or more logs (each with its rotated files; several hosts'
logs are merged in ``time``, then ``host``, then ``seq`` order) and keeps, for each
``(stage, asset)``, only the **latest audit** of it: its ``asset.audited`` event and the
``finding`` events the same run wrote for that asset just before it. Memory therefore grows
with the number of distinct assets, not with the length of the log — a watcher's log that
re-audited the same shots for months reports in the same memory as one scan.

Renderers: :func:`render_table` (terminal), :func:`render_json`, :func:`render_csv` (one row
per finding), :func:`render_junit` (one test case per asset) and, in ``report_html``,
:func:`clearance.report_html.render_html` (one self-contained page).

Filters (:class:`Filters`): ``stages`` and the ``since``/``until`` window restrict which
audits count; ``outcomes`` and ``rules`` restrict which findings are shown (the per-stage
asset counts are not narrowed by them).
"""

from __future__ import annotations

import csv
import fnmatch
import heapq
import json
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from clearance.auditlog_verify import log_files
from clearance.model import Outcome

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
    "render_csv",
    "render_json",
    "render_junit",
    "render_table",
]

OUTCOMES = [o.value for o in Outcome]
_RANK = {o.value: o.rank for o in Outcome}
CSV_COLUMNS = (
    "time",
    "host",
    "run_id",
    "stage",
    "asset",
    "frames",
    "rule",
    "outcome",
    "status",
    "approval",
    "principle",
    "message",
    "remediation",
)


class ReportError(Exception):
    """A log cannot be read, or a filter is malformed: exit 2, naming the file or option."""


# -- time filters --------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def _fmt(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_time(value: str, *, now: datetime | None = None) -> str:
    """``--since``/``--until`` value → the log's time format, for string comparison.

    Accepts ISO dates and times (``2026-11-26``, ``2026-11-26T21:00``, ``…Z``, ``…+01:00``;
    no zone means UTC) and ages before now (``90m``, ``24h``, ``7d``, ``2w``).
    """
    text = value.strip()
    m = _RELATIVE.match(text)
    if m:
        now = now or datetime.now(timezone.utc)
        return _fmt(now - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ReportError(
            f"{value!r} is not a time (use 2026-11-26, 2026-11-26T21:00Z, or an age like 24h, 7d)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return _fmt(dt.astimezone(timezone.utc))


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
    status: str
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
            "logs": self.logs,
            "production": self.production,
            "filters": self.filters.describe(),
            "period": {"from": self.first_time, "to": self.last_time},
            "events": self.events,
            "runs": self.runs,
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


def _read_log(path: Path, skipped: list[int]) -> Iterator[dict[str, Any]]:
    files = log_files(path)
    for f in files:
        try:
            fh = open(f, "rb")  # noqa: SIM115 - closed by the with below
        except FileNotFoundError:
            raise ReportError(f"{f}: no such audit log") from None
        except OSError as exc:
            raise ReportError(f"{f}: cannot read the audit log: {exc.strerror or exc}") from None
        with fh:
            try:
                for raw in fh:
                    try:
                        event = json.loads(raw)
                    except (ValueError, UnicodeDecodeError):
                        skipped[0] += 1
                        continue
                    if (
                        not isinstance(event, dict)
                        or not isinstance(event.get("time"), str)
                        or not isinstance(event.get("event"), str)
                    ):
                        skipped[0] += 1
                        continue
                    yield event
            except OSError as exc:
                raise ReportError(
                    f"{f}: cannot read the audit log: {exc.strerror or exc}"
                ) from None


def iter_events(
    paths: Sequence[str | os.PathLike[str]], skipped: list[int] | None = None
) -> Iterator[dict[str, Any]]:
    """Every event of the logs at ``paths``, merged by ``(time, host, seq)``; streams.

    Lines that are not events (torn or damaged: ``clearance verify`` names them) are skipped
    and counted in ``skipped[0]``.
    """
    skipped = skipped if skipped is not None else [0]
    seen: set[Path] = set()
    streams = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            raise ReportError(
                f"{path}: is a folder; give the audit log file (e.g. {path / 'audit.jsonl'})"
            )
        if not path.exists() and not log_files(path)[:-1]:
            raise ReportError(f"{path}: no such audit log")
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        streams.append(_read_log(path, skipped))
    if len(streams) == 1:
        return streams[0]
    return heapq.merge(*streams, key=lambda e: (e["time"], e.get("host") or "", e.get("seq") or 0))


def _row(event: dict[str, Any]) -> FindingRow:
    details = event.get("details") if isinstance(event.get("details"), dict) else {}
    assert isinstance(details, dict)
    evidence = details.get("evidence")
    return FindingRow(
        stage=str(event.get("stage") or "default"),
        asset=event.get("asset"),
        rule=str(event.get("rule") or "?"),
        outcome=str(event.get("outcome") or "escalate"),
        status=str(event.get("status") or "open"),
        approval=event.get("approval"),
        message=str(event.get("message") or ""),
        principle=details.get("principle"),
        remediation=details.get("remediation"),
        frames=details.get("frames"),
        evidence=evidence if isinstance(evidence, dict) else {},
        time=event["time"],
        run_id=event.get("run_id"),
        host=event.get("host"),
    )


def build_report(paths: Sequence[str | os.PathLike[str]], filters: Filters | None = None) -> Report:
    """Read the logs at ``paths`` (streaming) into a :class:`Report`; raises ReportError."""
    filters = filters or Filters()
    stage_filter = set(filters.stages)
    skipped = [0]
    current: dict[tuple[str, str | None], AssetAudit] = {}
    pending: dict[tuple[Any, Any, str, str | None], list[FindingRow]] = {}
    stage_order: list[str] = []
    stages_seen: set[str] = set()
    runs: dict[tuple[Any, Any], dict[str, Any]] = {}
    events = 0
    production = None
    first = last = None
    for ev in iter_events(paths, skipped):
        t = ev["time"]
        if filters.since and t < filters.since:
            continue
        if filters.until and t > filters.until:
            continue
        events += 1
        first = first or t
        last = t
        name = ev["event"]
        run_key = (ev.get("run_id"), ev.get("host"))
        if name == "run.started" or name == "run.finished":
            run = runs.setdefault(
                run_key,
                {
                    "run_id": run_key[0],
                    "host": run_key[1],
                    "command": None,
                    "started": t,
                    "finished": None,
                    "outcome": None,
                    "exit_code": None,
                },
            )
            details = ev.get("details") or {}
            if name == "run.started":
                run["started"], run["command"] = t, details.get("command")
            else:
                run["finished"], run["outcome"] = t, ev.get("outcome")
                run["exit_code"] = details.get("exit_code")
            continue
        if name == "policy.loaded":
            production = (ev.get("details") or {}).get("production") or production
            for s in (ev.get("details") or {}).get("stages") or []:
                if isinstance(s, str) and s not in stages_seen:
                    stages_seen.add(s)
                    stage_order.append(s)
            continue
        stage = ev.get("stage")
        if not isinstance(stage, str):
            continue
        if stage not in stages_seen:
            stages_seen.add(stage)
            stage_order.append(stage)
        if stage_filter and stage not in stage_filter:
            continue
        asset = ev.get("asset")
        key = (ev.get("run_id"), ev.get("host"), stage, asset)
        if name == "finding":
            pending.setdefault(key, []).append(_row(ev))
        elif name == "asset.audited":
            details = ev.get("details") or {}
            current[(stage, asset)] = AssetAudit(
                stage=stage,
                asset=asset,
                outcome=str(ev.get("outcome") or "pass"),
                time=t,
                run_id=ev.get("run_id"),
                host=ev.get("host"),
                frames=details.get("frames") if isinstance(details, dict) else None,
                findings=pending.pop(key, []),
            )
        elif name == "stage.finished":
            rows = pending.pop((ev.get("run_id"), ev.get("host"), stage, None), None)
            if rows is not None:
                current[(stage, None)] = _unfinished(stage, None, rows)
    for (_run, _host, stage, asset), rows in pending.items():  # a run that stopped early
        current[(stage, asset)] = _unfinished(stage, asset, rows)
    order = {s: i for i, s in enumerate(stage_order)}
    stages = {s: StageSummary(s) for s in stage_order if not stage_filter or s in stage_filter}
    for audit in current.values():
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
        current.values(),
        key=lambda a: (order.get(a.stage, len(order)), a.stage, -a.worst_open, a.label),
    )
    for a in assets:
        a.findings.sort(key=lambda f: (not f.is_open, -f.rank, f.rule))
    return Report(
        logs=[str(p) for p in paths],
        filters=filters,
        stages=sorted(stages.values(), key=lambda s: (order.get(s.name, len(order)), s.name)),
        assets=assets,
        runs=sorted(runs.values(), key=lambda r: (r["started"] or "", r["host"] or "")),
        events=events,
        skipped_lines=skipped[0],
        first_time=first,
        last_time=last,
        production=production,
    )


def _unfinished(stage: str, asset: str | None, rows: list[FindingRow]) -> AssetAudit:
    worst = max(rows, key=lambda f: f.rank if f.is_open else -1)
    return AssetAudit(
        stage=stage,
        asset=asset,
        outcome=worst.outcome if worst.is_open else "pass",
        time=rows[-1].time,
        run_id=rows[-1].run_id,
        host=rows[-1].host,
        frames=rows[-1].frames,
        findings=rows,
        audited=asset is None,
    )


# -- renderers -----------------------------------------------------------------------------------


def render_json(report: Report, out: IO[str]) -> None:
    json.dump(report.as_dict(), out, indent=2, ensure_ascii=False)
    out.write("\n")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # a cell a spreadsheet would run as a formula (asset names come from artists' files)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def render_csv(report: Report, out: IO[str]) -> None:
    """One row per finding (approved and passed ones included), for spreadsheets.

    Cells that a spreadsheet would evaluate as a formula are prefixed with ``'``.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.findings():
        d = f.as_dict()
        writer.writerow([_cell(d[c]) for c in CSV_COLUMNS])


def render_junit(report: Report, out: IO[str], *, fail_on: Outcome = Outcome.ESCALATE) -> None:
    """One ``testsuite`` per stage, one ``testcase`` per asset; open findings at or above
    ``fail_on`` become the test case's ``failure``, everything else goes to ``system-out``."""
    threshold = fail_on.rank
    by_stage: dict[str, list[AssetAudit]] = {}
    for a in report.assets:
        by_stage.setdefault(a.stage, []).append(a)
    total_tests = sum(len(v) for v in by_stage.values())
    suites = []
    total_failures = 0
    for stage in [s.name for s in report.stages]:
        audits = sorted(by_stage.get(stage, []), key=lambda a: a.label)
        cases = []
        failures = 0
        for a in audits:
            shown = report.shown(a)
            failing = [f for f in shown if f.is_open and f.rank >= threshold]
            other = [f for f in shown if f not in failing]
            body = []
            if failing:
                failures += 1
                summary = ", ".join(f"{f.rule} ({f.outcome})" for f in failing)
                text = "\n\n".join(_finding_text(f) for f in failing)
                body.append(
                    f'      <failure type="{_worst(failing)}" message={quoteattr(summary)}>'
                    f"{xml_escape(text)}</failure>"
                )
            if other:
                text = "\n\n".join(_finding_text(f) for f in other)
                body.append(f"      <system-out>{xml_escape(text)}</system-out>")
            open_tag = f"    <testcase classname={quoteattr('clearance.' + stage)} name={quoteattr(a.label)}"
            cases.append(
                open_tag + (">\n" + "\n".join(body) + "\n    </testcase>" if body else "/>")
            )
        total_failures += failures
        suites.append(
            f'  <testsuite name={quoteattr(stage)} tests="{len(audits)}" failures="{failures}" errors="0" skipped="0">\n'
            + "".join(c + "\n" for c in cases)
            + "  </testsuite>"
        )
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(
        f'<testsuites name="clearance" tests="{total_tests}" failures="{total_failures}" errors="0">\n'
    )
    for s in suites:
        out.write(s + "\n")
    out.write("</testsuites>\n")


def _worst(rows: Iterable[FindingRow]) -> str:
    return max(rows, key=lambda f: f.rank).outcome


def _finding_text(f: FindingRow) -> str:
    lines = [
        f"[{f.outcome}] {f.rule} ({f.status}{', ' + f.approval if f.approval else ''}): {f.message}"
    ]
    if f.remediation:
        lines.append(f"remediation: {f.remediation}")
    return "\n".join(lines)


_COLOURS = {"pass": "32", "notice": "36", "escalate": "33", "approval": "35", "block": "31"}


def _wrap(text: str, width: int, indent: str) -> list[str]:
    import textwrap

    return textwrap.wrap(
        text, width=max(40, width - len(indent)), initial_indent=indent, subsequent_indent=indent
    ) or [indent]


def render_table(
    report: Report, out: IO[str], *, colour: bool | None = None, width: int | None = None
) -> None:
    """The terminal report: counts per stage, then open findings grouped by stage and asset."""
    if colour is None:
        colour = out.isatty() and not os.environ.get("NO_COLOR")
    width = width or (os.get_terminal_size(out.fileno()).columns if out.isatty() else 100)

    def paint(text: str, outcome: str) -> str:
        return f"\x1b[{_COLOURS.get(outcome, '0')}m{text}\x1b[0m" if colour else text

    assets_total = sum(s.assets for s in report.stages)
    open_total = sum(1 for _ in report.open_findings())
    out.write(
        f"Clearance report: {assets_total} asset(s) in {len(report.stages)} stage(s), "
        f"{open_total} open finding(s), from {len(report.runs)} run(s)\n"
    )
    if report.first_time:
        out.write(f"Period: {report.first_time} to {report.last_time}\n")
    if report.filters.describe():
        out.write("Filters: " + "; ".join(report.filters.describe()) + "\n")
    out.write("\n")
    name_w = max([len("STAGE")] + [len(s.name) for s in report.stages])
    heads = ["ASSETS", *[o.upper() for o in OUTCOMES], "OPEN", "APPROVED"]
    out.write(f"{'STAGE':<{name_w}}  " + "  ".join(f"{h:>8}" for h in heads) + "\n")
    for s in report.stages:
        cells = [f"{s.assets:>8}"]
        for o in OUTCOMES:
            n = s.counts.get(o, 0)
            cells.append(paint(f"{n:>8}", o) if n and o != "pass" else f"{n:>8}")
        cells += [f"{s.open:>8}", f"{s.approved:>8}"]
        out.write(f"{s.name:<{name_w}}  " + "  ".join(cells) + "\n")
    out.write("\n")
    if not open_total:
        out.write("No open findings.\n")
    else:
        out.write("Open findings, worst first\n")
        for stage in [s.name for s in report.stages]:
            audits = [
                a
                for a in report.assets
                if a.stage == stage and any(f.is_open for f in report.shown(a))
            ]
            if not audits:
                continue
            out.write(f"\n== {stage} ==\n")
            for a in audits:
                frames = f"  frames {a.frames}" if a.frames else ""
                worst = _worst(f for f in report.shown(a) if f.is_open)
                out.write(f"\n{a.label}  {paint('[' + worst + ']', worst)}{frames}\n")
                for f in report.shown(a):
                    if not f.is_open:
                        continue
                    status = f" ({f.status} {f.approval})" if f.status == "expired" else ""
                    out.write(f"  {paint(f'{f.outcome.upper():<9}', f.outcome)} {f.rule}{status}\n")
                    for line in _wrap(f.message, width, "      "):
                        out.write(line + "\n")
                    if f.remediation:
                        for line in _wrap("fix: " + f.remediation, width, "      "):
                            out.write(line + "\n")
    used = report.approvals("approved")
    expired = report.approvals("expired")
    if used or expired:
        out.write("\nApprovals\n")
        for f in used:
            out.write(
                f"  used     {f.approval:<12} {f.rule:<10} {f.stage}: {f.asset or '(stage)'}\n"
            )
        for f in expired:
            when = f.evidence.get("approval_expired")
            extra = f" (expired {when})" if when else ""
            out.write(
                f"  EXPIRED  {f.approval:<12} {f.rule:<10} {f.stage}: {f.asset or '(stage)'}{extra}\n"
            )
