"""`scan --jobs N`: same results and the same audit events, in the same order, as a serial run."""

from __future__ import annotations

import json
from pathlib import Path

from clearance.testing import ClearanceRun
from conftest import genai_sidecar, run_cli

VOLATILE = ("seq", "prev", "time", "run_id", "host")


def events_without_volatile(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        event = json.loads(line)
        for key in VOLATILE:
            event.pop(key)
        details = event["details"]
        for key in ("duration_ms", "duration_s", "pid"):
            details.pop(key, None)
        out.append(event)
    return out


def test_parallel_scan_matches_serial_scan(tmp_path: Path) -> None:
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    for i in range(90):
        stage = ("gen", "comp", "delivery")[i % 3]
        if i % 7 == 0:
            show.asset(f"{stage}/el_{i:03d}.png")  # no sidecar: PRV-01
        else:
            show.asset(
                f"{stage}/el_{i:03d}.png",
                sidecar=genai_sidecar(disclosure={} if i % 2 else {"notified_at": "2026-11-01"}),
            )
    show.asset("comp/seq.####.png", frames=range(1, 40), sidecar=genai_sidecar())
    show.write_config()
    log = show.root / ".clearance" / "audit.jsonl"

    serial = run_cli("scan", str(show.root), "--format", "json", "--no-cache")
    serial_events = events_without_volatile(log)
    log.unlink()
    parallel = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2", "--no-cache")
    parallel_events = events_without_volatile(log)

    assert serial.code == parallel.code == 1
    assert serial.stdout == parallel.stdout
    assert [e["event"] for e in parallel_events] == [e["event"] for e in serial_events]
    assert parallel_events == serial_events
    assert run_cli("verify", str(log)).code == 0


def test_parallel_warm_scan_uses_the_cache_and_matches(tmp_path: Path) -> None:
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    for i in range(40):
        show.asset(f"comp/el_{i:03d}.png", sidecar=genai_sidecar())
    show.write_config()
    cold = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    warm = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    assert cold.stdout == warm.stdout and cold.code == warm.code == 0
    events = [
        json.loads(line) for line in (show.root / ".clearance/audit.jsonl").read_text().splitlines()
    ]
    last_run = events[-1]["run_id"]
    cached = [
        e["details"]["cached"]
        for e in events
        if e["event"] == "asset.audited" and e["run_id"] == last_run
    ]
    assert cached == [True] * 40
