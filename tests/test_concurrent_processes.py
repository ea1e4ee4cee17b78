"""Several Clearance processes on one show at once: farm post-task ``check``s, a long ``scan``
and a supervisor's commands, on one state store and one audit log.

Real processes (the real CLI through subprocess), real SQLite, real files. Where a test needs
one process to be at a given point while another runs, a site plugin of the show holds it
there until the test lets it go (files in a folder outside the show: ``hold`` is taken by the
first process that reaches the point, which then says ``reached`` and waits for ``go``).
"""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

import yaml

from _embedded import write_exr
from _hold import hold_plugin, start_held
from clearance.lineage import LineageStore
from conftest import run_cli
from test_lineage import genai_plate, sidecar, silent, single, write_config


def _held_show(tmp_path: Path) -> tuple[Path, Path]:
    """gen/g.exr (not GenAI) → delivery/d.exr (final), and the hold plugin: (root, flags)."""
    root = tmp_path / "show"
    root.mkdir()
    flags = tmp_path / "flags"
    flags.mkdir()
    plugin = tmp_path / "hooks" / "hold.py"
    plugin.parent.mkdir()
    plugin.write_text(hold_plugin("gen/g.exr"), encoding="utf-8")
    config = write_config(
        root,
        [
            {"name": "gen", "paths": ["gen"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    doc = yaml.safe_load(config.read_text(encoding="utf-8"))
    doc["plugins"] = [str(plugin)]
    config.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    sidecar(root, single(root, "gen/g.exr"), silent())
    sidecar(root, single(root, "delivery/d.exr"), silent(("gen/g.exr", "production_image")))
    return root, flags


def _rules(root: Path, rel: str) -> tuple[int, set[str]]:
    checked = run_cli("check", rel, "--format", "json", cwd=root)
    [item] = checked.json()["assets"]
    return checked.code, {f["rule"] for f in item["findings"]}


def test_a_scan_that_read_a_file_before_it_changed_never_hides_the_row_of_the_new_version(
    tmp_path: Path,
) -> None:
    """A farm scan reads ``gen/g.exr`` (a new version, not GenAI); the artist re-renders it
    with a GenAI tool and the post-task ``check`` records that version; then the scan
    records what it read. Its row, committed last, was the latest under the name: the
    deliverable made from the GenAI render passed its ``check`` (exit 0, no NFX-GP4) and
    ``clearance lineage gen/g.exr`` said "not generated". The row of the version no longer on
    disk is recorded below the row of the version that is.

    The same race in the audit log: the scan's ``asset.audited`` of what it read (pass) is
    written after the check's of the GenAI render (approval), which began after it, and
    ``clearance report`` kept the one written last (gen/g.exr passed, no open finding). Of
    two runs' audits of one asset, the report keeps the one that began last (``time`` less
    ``details.duration_ms``)."""
    root, flags = _held_show(tmp_path)
    render = root / "gen/g.exr"
    scan = start_held(flags, "scan", ".", "--no-progress", cwd=root)
    try:
        write_exr(render, {"comment": "re-rendered"})
        sidecar(root, "gen/g.exr", genai_plate())
        code, rules = _rules(root, "gen/g.exr")
        assert code == 1 and "NFX-GP1" in rules, rules
    finally:
        (flags / "go").touch()
        out, err = scan.communicate(timeout=120)
    assert scan.returncode in (0, 1), err
    code, rules = _rules(root, "delivery/d.exr")
    assert code == 1 and "NFX-GP4" in rules, rules
    store = LineageStore(root / ".clearance" / "state.db", create=False)
    latest = store.latest("gen/g.exr")
    store.close()
    assert latest is not None and latest.generated is True
    report = run_cli("report", ".clearance/audit.jsonl", "--format", "json", cwd=root)
    assert report.code == 0, report.stderr
    [audit] = [a for a in report.json()["assets"] if a["asset"] == "gen/g.exr"]
    assert audit["outcome"] == "approval"
    assert "NFX-GP1" in {f["rule"] for f in audit["findings"]}


def _rotating_writer(path: str, stop: Any) -> None:
    """Append events to the log at ``path`` until ``stop`` is set, rotating it every event or
    two (a busy farm's log with a small ``audit.max_bytes``)."""
    from clearance.auditlog import AuditLog

    log = AuditLog(path, max_bytes=600)
    i = 0
    while not stop.is_set():
        log.append({"event": "run.warning", "run_id": "farm", "host": "h", "message": f"n{i}"})
        i += 1


def test_the_watcher_finds_an_audits_events_in_a_log_rotated_while_it_reads(
    tmp_path: Path,
) -> None:
    """A watcher settles the audits it finds claimed but not finished (its own, at start; a
    dead watcher's, at a reconcile) by looking their ids up in the audit log. It listed the
    log's files and then opened them one by one: a farm job rotating the log meanwhile
    renamed the active file after it was listed and before it was opened, and the events in
    it were in no file read (7 of 8 look-ups missed an audit durably logged: it would be
    abandoned and audited again, its audit id twice in the log). The files are opened
    under the shared lock ``verify`` and ``report`` take."""
    from clearance.auditlog import AuditLog, rotated_files
    from clearance.watch_audit import logged_outcomes

    path = tmp_path / "audit.jsonl"
    # a show's older rotated files (8 MiB): what a look-up reads before the active file
    filler = {"event": "run.warning", "run_id": "old", "host": "h", "message": "x" * 8000}
    AuditLog(path, max_bytes=2**21).append_many([filler] * 1024)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    writer = ctx.Process(target=_rotating_writer, args=(str(path), stop))
    writer.start()
    try:
        deadline = time.monotonic() + 60
        while len(rotated_files(path)) < 8 and time.monotonic() < deadline:
            time.sleep(0.01)
        log = AuditLog(path, max_bytes=600)
        missed = []
        for i in range(8):
            audit_id = f"audit{i:03d}"
            log.append(
                {
                    "event": "asset.audited",
                    "run_id": "watch",
                    "host": "h",
                    "stage": "comp",
                    "asset": f"comp/a{i}.exr",
                    "outcome": "pass",
                    "details": {"watch": {"audit_id": audit_id}},
                }
            )
            if logged_outcomes(path, {audit_id}) != {audit_id: "pass"}:
                missed.append(audit_id)
    finally:
        stop.set()
        writer.join(60)
    assert writer.exitcode == 0
    assert missed == []
