"""Rendering a run for the terminal (``table``), for scripts (``json``, ``jsonl``), and progress."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Iterator
from typing import IO, Any

from .._display import shown, shown_text
from .._jsondoc import write_document
from ..engine import RunResult
from ..model import Asset, AssetResult, Finding, Outcome, Status

_MARK = {
    Outcome.PASS: "ok",
    Outcome.NOTICE: "NOTICE",
    Outcome.ESCALATE: "ESCALATE",
    Outcome.APPROVAL: "APPROVAL",
    Outcome.BLOCK: "BLOCK",
}
_COLOUR = {
    Outcome.PASS: "32",
    Outcome.NOTICE: "36",
    Outcome.ESCALATE: "33",
    Outcome.APPROVAL: "35",
    Outcome.BLOCK: "1;31",
}


def _paint(text: str, outcome: Outcome, colour: bool) -> str:
    return f"\033[{_COLOUR[outcome]}m{text}\033[0m" if colour else text


def render_json(result: RunResult, out: IO[str]) -> None:
    """The ``scan --format json`` document; ``assets`` and ``stage_findings`` hold one
    compact item per line."""
    write_document(result.to_dict(), out, lists=("assets", "stage_findings"))


def render_jsonl(result: RunResult, out: IO[str]) -> None:
    """One asset result per line (the ``assets[]`` items of the JSON document), then one line
    per stage with stage-level findings, shaped as an asset item whose ``asset`` is null."""
    compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    for asset in result.assets:
        out.write(compact(asset.to_dict()))
        out.write("\n")
    for stage in result.stages:
        if stage.findings:
            worst = Outcome.worst(f.effective_outcome for f in stage.findings if f.is_open)
            item = {
                "asset": None,
                "stage": stage.stage,
                "outcome": worst.value,
                "findings": [f.to_dict() for f in stage.findings],
            }
            out.write(compact(item))
            out.write("\n")


def _wrap(text: str, width: int, indent: str) -> Iterator[str]:
    words = text.split()
    line = ""
    for word in words:
        if line and len(indent) + len(line) + 1 + len(word) > width:
            yield indent + line
            line = word
        else:
            line = f"{line} {word}" if line else word
    if line:
        yield indent + line


def render_table(
    result: RunResult,
    out: IO[str],
    *,
    colour: bool | None = None,
    fail_on: Outcome = Outcome.ESCALATE,
) -> None:
    """Per-stage counts by outcome, then open findings by stage and asset, worst first."""
    if colour is None:
        colour = out.isatty()
    width = min(shutil.get_terminal_size((110, 24)).columns, 120)
    outcomes = list(Outcome)
    header = f"{'stage':<16}{'assets':>7}" + "".join(f"{o.value:>10}" for o in outcomes)
    out.write(header + "\n" + "-" * len(header) + "\n")
    for stage in result.stages:
        counts = stage.counts()
        cells = ""
        for o in outcomes:
            cell = f"{counts[o.value]:>10}"
            cells += _paint(cell, o, colour) if counts[o.value] and o is not Outcome.PASS else cell
        out.write(f"{shown(stage.stage):<16}{len(stage.assets):>7}{cells}\n")
    totals = result.by_outcome()
    out.write("-" * len(header) + "\n")
    out.write(
        f"{'total':<16}{len(result.assets):>7}"
        + "".join(f"{totals[o.value]:>10}" for o in outcomes)
        + "\n"
    )

    for stage in result.stages:
        open_assets = [
            a
            for a in stage.assets
            if any(f.is_open and f.effective_outcome > Outcome.PASS for f in a.findings)
        ]
        approved = [f for a in stage.assets for f in a.findings if f.status is Status.APPROVED]
        if not open_assets and not stage.findings and not approved:
            continue
        out.write(f"\n== {shown(stage.stage)} ==\n")
        for asset in sorted(open_assets, key=lambda a: (-a.outcome.rank, a.asset.rel)):
            _asset_block(asset, out, width, colour)
        for finding in stage.findings:
            _finding_lines(finding, out, width, colour)
        if approved:
            out.write("  approved:\n")
            for f in approved:
                out.write(
                    f"    {shown(f.rule):<9} {shown(f.asset)}  (approval {shown(f.approval)})\n"
                )
    worst = result.outcome
    verdict = "FAIL" if result.failing(fail_on) else "OK"
    if result.errors or result.plugin_failures:
        verdict = "ERROR"  # exit 2: what could not be audited is on stderr
    out.write(
        f"\n{verdict}: {len(result.assets)} asset(s); worst open outcome {_paint(worst.value, worst, colour)}"
        f" (--fail-on {fail_on.value})\n"
    )


def _asset_block(result: AssetResult, out: IO[str], width: int, colour: bool) -> None:
    asset = result.asset
    frames = f"  [{shown(asset.frames)}]" if asset.frames else ""
    out.write(
        f"  {_paint(_MARK[result.outcome], result.outcome, colour):<10} {shown(asset.rel)}{frames}\n"
    )
    for finding in result.findings:
        if finding.is_open and finding.effective_outcome > Outcome.PASS:
            _finding_lines(finding, out, width, colour)


def _finding_lines(finding: Finding, out: IO[str], width: int, colour: bool) -> None:
    o = finding.effective_outcome
    status = f" ({finding.status} {shown(finding.approval)})" if finding.approval else ""
    out.write(
        f"      {shown(finding.rule):<9} {_paint(o.value, o, colour):<9}{status} {shown_text(finding.message)}\n"
    )
    if finding.remediation:
        for line in _wrap("fix: " + shown_text(finding.remediation), width, " " * 16):
            out.write(line + "\n")


class Progress:
    """A progress bar on stderr, shown only on a terminal and only for long runs."""

    def __init__(self, total: int, *, stream: IO[str] | None = None, minimum: int = 200) -> None:
        self.stream = stream or sys.stderr
        self.enabled = total >= minimum and self.stream.isatty()
        self.total = total
        self._last = 0.0

    def __call__(self, done: int, total: int, asset: Asset) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done != total and now - self._last < 0.1:
            return
        self._last = now
        width = 30
        filled = int(width * done / max(total, 1))
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(f"\r[{bar}] {done}/{total} {shown(asset.stage):<12.12}")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def dump(obj: Any, out: IO[str]) -> None:
    json.dump(obj, out, indent=2, ensure_ascii=False)
    out.write("\n")
