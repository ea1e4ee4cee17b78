"""Text renderings of a supervisor report: ``table`` (terminal), ``json``, ``csv``, ``junit``.

Each renderer takes a :class:`clearance.report.Report` and writes to a text stream; none
reads a log. The HTML page is ``report_html``.
"""

from __future__ import annotations

import csv
import os
import textwrap
from collections.abc import Iterable
from typing import IO
from xml.sax.saxutils import escape as xml_escape
from xml.sax.saxutils import quoteattr

from clearance._display import shown, shown_text, spreadsheet_cell, xml_safe
from clearance._jsondoc import write_document
from clearance.model import Outcome
from clearance.report import OUTCOMES, AssetAudit, FindingRow, Report

__all__ = ["CSV_COLUMNS", "render_csv", "render_json", "render_junit", "render_table"]

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


_LISTS = ("runs", "assets")  # can be long: one compact item per line


def render_json(report: Report, out: IO[str]) -> None:
    """One JSON document; ``runs`` and ``assets`` hold one compact item per line."""
    write_document(report.as_dict(), out, lists=_LISTS)


def render_csv(report: Report, out: IO[str]) -> None:
    """One row per finding (approved and passed ones included), for spreadsheets.

    Cells that a spreadsheet would evaluate as a formula are prefixed with ``'``.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report.findings():
        d = f.as_dict()
        writer.writerow([spreadsheet_cell(d[c]) for c in CSV_COLUMNS])


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
                    f"      <failure type={_attr(_worst(failing))} message={_attr(summary)}>"
                    f"{_text(text)}</failure>"
                )
            elif (
                not a.open_findings
                and a.outcome in OUTCOMES
                and a.outcome != Outcome.PASS.value
                and Outcome(a.outcome).rank >= threshold
            ):
                # an outcome no finding explains (an event written without a known one is
                # escalate): never a passing case. A pass is nothing open, whatever --fail-on
                failures += 1
                summary = f"outcome {a.outcome} with no finding recorded"
                body.append(
                    f"      <failure type={_attr(a.outcome)} message={_attr(summary)}>"
                    f"{_text(summary)}</failure>"
                )
            if other:
                text = "\n\n".join(_finding_text(f) for f in other)
                body.append(f"      <system-out>{_text(text)}</system-out>")
            open_tag = (
                f"    <testcase classname={_attr('clearance.' + stage)} name={_attr(a.label)}"
            )
            cases.append(
                open_tag + (">\n" + "\n".join(body) + "\n    </testcase>" if body else "/>")
            )
        total_failures += failures
        suites.append(
            f'  <testsuite name={_attr(stage)} tests="{len(audits)}" failures="{failures}" errors="0" skipped="0">\n'
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


def _attr(value: str) -> str:
    # XML forbids some characters even escaped (\x1b): one would make the report unreadable
    return quoteattr(xml_safe(value))


def _text(value: str) -> str:
    return xml_escape(xml_safe(value))


def _worst(rows: Iterable[FindingRow]) -> str:
    return max(rows, key=lambda f: f.rank).outcome


def _finding_text(f: FindingRow) -> str:
    status = ", ".join(s for s in (f.status, f.approval) if s)
    lines = [f"[{f.outcome}] {f.rule}{f' ({status})' if status else ''}: {f.message}"]
    if f.remediation:
        lines.append(f"remediation: {f.remediation}")
    return "\n".join(lines)


_COLOURS = {"pass": "32", "notice": "36", "escalate": "33", "approval": "35", "block": "31"}


def _wrap(text: str, width: int, indent: str) -> list[str]:
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
        out.write(f"Period: {shown(report.first_time)} to {shown(report.last_time)}\n")
    if report.filters.describe():
        out.write("Filters: " + shown_text("; ".join(report.filters.describe())) + "\n")
    out.write("\n")
    names = {s.name: shown(s.name) for s in report.stages}
    name_w = max([len("STAGE")] + [len(n) for n in names.values()])
    heads = ["ASSETS", *[o.upper() for o in OUTCOMES], "OPEN", "APPROVED"]
    out.write(f"{'STAGE':<{name_w}}  " + "  ".join(f"{h:>8}" for h in heads) + "\n")
    for s in report.stages:
        cells = [f"{s.assets:>8}"]
        for o in OUTCOMES:
            n = s.counts.get(o, 0)
            cells.append(paint(f"{n:>8}", o) if n and o != "pass" else f"{n:>8}")
        cells += [f"{s.open:>8}", f"{s.approved:>8}"]
        out.write(f"{names[s.name]:<{name_w}}  " + "  ".join(cells) + "\n")
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
            out.write(f"\n== {names[stage]} ==\n")
            for a in audits:
                frames = f"  frames {shown(a.frames)}" if a.frames else ""
                worst = _worst(f for f in report.shown(a) if f.is_open)
                out.write(f"\n{shown(a.label)}  {paint(shown('[' + worst + ']'), worst)}{frames}\n")
                for f in report.shown(a):
                    if not f.is_open:
                        continue
                    status = f" ({f.status} {shown(f.approval)})" if f.status == "expired" else ""
                    outcome = shown(f.outcome.upper())
                    out.write(f"  {paint(f'{outcome:<9}', f.outcome)} {shown(f.rule)}{status}\n")
                    for line in _wrap(shown_text(f.message), width, "      "):
                        out.write(line + "\n")
                    if f.remediation:
                        for line in _wrap("fix: " + shown_text(f.remediation), width, "      "):
                            out.write(line + "\n")
    used = report.approvals("approved")
    expired = report.approvals("expired")
    if used or expired:
        out.write("\nApprovals\n")
        for f in used:
            out.write(
                f"  used     {shown(f.approval):<12} {shown(f.rule):<10} {shown(f.stage)}: "
                f"{shown(f.asset or '(stage)')}\n"
            )
        for f in expired:
            when = f.evidence.get("approval_expired")
            extra = f" (expired {shown(when)})" if when else ""
            out.write(
                f"  EXPIRED  {shown(f.approval):<12} {shown(f.rule):<10} {shown(f.stage)}: "
                f"{shown(f.asset or '(stage)')}{extra}\n"
            )
