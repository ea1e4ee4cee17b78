"""``clearance timeline CUT``: every GenAI element on screen in an edit, where, and is it cleared.

Reads the edit with OpenTimelineIO (``.otio``; EDL and FCP XML with the adapter packages)
and the lineage store every ``scan``/``watch`` fills. Lists each clip whose media is GenAI
or built on GenAI material, unaudited, or has open findings: track, clip, record in/out,
asset, frames cut in, GenAI ancestry, open findings. Exit codes as ``scan``: 0 nothing at or
above ``--fail-on`` (default ``escalate``); 1 something is (an unaudited clip is
``escalate``); 2 OpenTimelineIO missing, an unreadable edit, configuration or state store.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from .._display import shown, shown_path, shown_text, spreadsheet_cell
from ..model import Outcome
from ._common import (
    EXIT_ERROR,
    add_config_options,
    error,
    outcome_arg,
    policy_for,
    report_output,
    stdout_to_stderr,
)

CSV_FIELDS = (
    "timeline",
    "track",
    "track_kind",
    "clip",
    "record_in",
    "record_out",
    "media",
    "asset",
    "frames",
    "matched_by",
    "stage",
    "audited",
    "genai",
    "generated",
    "source_type",
    "ancestry",
    "outcome",
    "open_rules",
    "problems",
)


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "timeline",
        help="audit an edit (.otio, EDL, FCP XML): GenAI on screen, unaudited media",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "cut", metavar="CUT", help="the edit: CUT.otio (EDL/FCP XML with the adapters)"
    )
    add_config_options(parser)
    parser.add_argument("--format", "-f", choices=("table", "json", "csv", "html"), default="table")
    parser.add_argument(
        "--output", "-o", metavar="F", help="write the report to F instead of stdout"
    )
    parser.add_argument(
        "--fail-on",
        type=outcome_arg,
        default=Outcome.ESCALATE,
        metavar="O",
        help="exit 1 when a clip's outcome is at or above O (default: escalate)",
    )
    parser.set_defaults(func=run_timeline)


@contextmanager
def _target(path: str | None) -> Any:
    if path is None:
        with report_output():  # `| head`: the exit code stays the clips' outcome
            yield sys.stdout
        return
    with open(path, "w", encoding="utf-8", newline="") as out:
        yield out


def run_timeline(args: argparse.Namespace) -> int:
    from ..lineage import LineageError, LineageStore
    from ..timeline import INSTALL_HINT, TimelineError, audit_timeline

    try:
        import opentimelineio  # noqa: F401
    except ImportError:
        error(f"the timeline audit needs OpenTimelineIO: {INSTALL_HINT}")
        return EXIT_ERROR
    cut = Path(args.cut)
    policy = policy_for(args, [str(cut.parent if cut.parent != Path("") else Path("."))])
    if policy.state_path is None:
        error("the configuration has no state store (audit.state)")
        return EXIT_ERROR
    try:
        store = LineageStore(policy.state_path, create=False)
    except LineageError as exc:
        error(str(exc))
        return EXIT_ERROR
    try:
        with stdout_to_stderr():  # OpenTimelineIO's adapter hooks are site code too
            audits = audit_timeline(cut, store, policy.root, policy)
    except TimelineError as exc:
        error(str(exc))
        return EXIT_ERROR
    finally:
        store.close()
    try:
        with _target(args.output) as out:
            if args.format == "json":
                docs = [a.to_dict() for a in audits]
                json.dump(docs[0] if len(docs) == 1 else docs, out, indent=2, ensure_ascii=False)
                out.write("\n")
            elif args.format == "csv":
                render_csv(audits, out)
            elif args.format == "html":
                from ..timeline_html import render_html

                render_html(audits, out, production=policy.production_id)
            else:
                render_table(audits, out, fail_on=args.fail_on)
    except OSError as exc:
        error(f"{args.output}: {exc.strerror or exc}")
        return EXIT_ERROR
    return max(a.exit_code(args.fail_on) for a in audits)


def render_csv(audits: list[Any], out: IO[str]) -> None:
    """One row per clip (all clips, flagged or not), for spreadsheets.

    Cells that a spreadsheet would evaluate as a formula are prefixed with ``'``, as in the
    report's CSV (clip and timeline names come from editors' files)."""
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for audit in audits:
        for clip in audit.clips:
            row = clip.to_dict()
            row["timeline"] = audit.name
            row["ancestry"] = "; ".join(clip.ancestry)
            row["open_rules"] = "; ".join(f"{f['rule']} ({f['outcome']})" for f in clip.findings)
            row["problems"] = "; ".join(clip.problems)
            row.pop("findings")
            writer.writerow({k: spreadsheet_cell(row.get(k)) for k in CSV_FIELDS})


def render_table(audits: list[Any], out: IO[str], *, fail_on: Outcome = Outcome.ESCALATE) -> None:
    """A heading per timeline, then one block per flagged clip, in track and record order."""
    width = min(shutil.get_terminal_size((110, 24)).columns, 140)
    for audit in audits:
        s = audit.summary()
        name = shown(audit.name)  # in quotes: once, by shown() when it must escape something
        name = name if name.startswith('"') else f'"{name}"'
        out.write(
            f"Timeline {name} ({shown_path(audit.file)}): {s['clips']} clip(s) on {s['tracks']} track(s): "
            f"{s['genai']} with GenAI material, {s['unaudited']} unaudited"
            + (f", {s['skipped']} disabled" if s["skipped"] else "")
            + "\n"
        )
        flagged = [c for c in audit.clips if c.flagged]
        if not flagged:
            out.write("No GenAI material, unaudited media or open findings on screen.\n\n")
            continue
        tracks = {c.track: shown(c.track) for c in flagged}
        tw = max([len(t) for t in tracks.values()] + [5]) + 2
        header = f"{'outcome':<10}{'track':<{tw}}{'record in':<13}{'record out':<13}clip"
        out.write(header + "\n" + "-" * min(width, 100) + "\n")
        for clip in flagged:
            out.write(
                f"{clip.outcome.value.upper():<10}{tracks[clip.track]:<{tw}}"
                f"{shown(clip.record_in):<13}{shown(clip.record_out):<13}{shown(clip.clip)}\n"
            )
            indent = " " * 10
            if clip.asset:
                own = "GenAI" if clip.own_genai else "contains GenAI" if clip.genai else "no GenAI"
                frames = f"  frames {shown(clip.frames)}" if clip.frames else ""
                how = f"  (matched by {clip.matched_by})" if clip.matched_by == "name" else ""
                out.write(
                    f"{indent}asset: {shown(clip.asset)} [{shown(clip.stage)}] {own}{frames}{how}\n"
                )
            if clip.ancestry:
                out.write(f"{indent}GenAI ancestry: {shown(', '.join(clip.ancestry))}\n")
            for finding in clip.findings:
                message = shown_text(finding.get("message"))
                if len(message) > width - 30:
                    message = message[: width - 33] + "..."
                rule, outcome = shown(finding["rule"]), shown(finding["outcome"])
                out.write(f"{indent}{rule} ({outcome}): {message}\n")
            for problem in clip.problems:
                out.write(f"{indent}! {shown_text(problem)}\n")
        counts = ", ".join(f"{n} {o}" for o, n in s["by_outcome"].items() if n)
        verdict = "FAIL" if audit.exit_code(fail_on) else "ok"
        out.write(f"\nclips by outcome: {counts}  ({verdict} at --fail-on {fail_on.value})\n\n")
