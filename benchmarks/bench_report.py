"""``clearance report`` over a big audit log: time and peak memory, against reading the log.

The log is what a show accumulates: many runs re-auditing the same assets (each asset's
latest audit is what the report shows). Baseline, in the same run: read the file and
``json.loads`` every line — the least any report must do. Memory is compared between a log
ten times smaller and the full one: a streaming report keeps it flat.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from clearance.auditlog import AuditLog

CLEARANCE = str(Path(sys.executable).parent / "clearance")
ASSETS = 12_500
EVENTS_PER_ASSET = 4  # two findings, asset.audited, and the stage/run events amortised
STAGES = ("gen", "comp", "delivery")

BASELINE = "import json,sys\nn=0\nwith open(sys.argv[1],'rb') as fh:\n    for line in fh:\n        json.loads(line); n+=1\n"


def _write_log(path: Path, events: int) -> int:
    log = AuditLog(path)
    written = 0
    run = 0
    try:
        while written < events:
            run += 1
            batch: list[dict[str, Any]] = [
                {
                    "event": "run.started",
                    "run_id": f"run{run:04d}",
                    "host": "farm01",
                    "message": "clearance scan",
                    "details": {"command": "scan"},
                }
            ]
            for i in range(ASSETS):
                stage = STAGES[i % 3]
                asset = f"{stage}/sh{i // 50:04d}/el_{i:06d}_v001.exr"
                common = {
                    "run_id": f"run{run:04d}",
                    "host": "farm01",
                    "stage": stage,
                    "asset": asset,
                }
                batch.append(
                    {
                        **common,
                        "event": "finding",
                        "rule": "NFX-00",
                        "outcome": "notice",
                        "status": "open",
                        "message": "GenAI use not shared",
                        "details": {
                            "principle": "disclosure",
                            "remediation": "Log it.",
                            "evidence": {},
                        },
                    }
                )
                batch.append(
                    {
                        **common,
                        "event": "finding",
                        "rule": "NFX-GP4",
                        "outcome": "approval",
                        "status": "approved" if i % 4 else "open",
                        "approval": "APR-1" if i % 4 else None,
                        "message": "final GenAI",
                        "details": {
                            "principle": "deliverables",
                            "remediation": "Get approval.",
                            "evidence": {},
                        },
                    }
                )
                batch.append(
                    {
                        **common,
                        "event": "asset.audited",
                        "outcome": "notice" if i % 4 else "approval",
                        "message": asset,
                        "details": {"findings": 2, "open": 1},
                    }
                )
                if len(batch) >= 5000:
                    log.append_many(batch)
                    written += len(batch)
                    batch = []
                    if written >= events:
                        break
            if batch:
                log.append_many(batch)
                written += len(batch)
    finally:
        log.close()
    return written


def _timed_child(cmd: list[str]) -> tuple[float, int]:
    """Wall time and the child's peak RSS (KiB), measured by wait4."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(
            f"{cmd} failed: {proc.stderr.read().decode()[-2000:] if proc.stderr else ''}"
        )
    return elapsed, usage.ru_maxrss


def run(size: float = 1.0) -> list[dict[str, Any]]:
    events = max(20_000, int(1_000_000 * size))
    tmp = Path(tempfile.mkdtemp(prefix="clearance-bench-report-"))
    try:
        small, big = tmp / "small" / "audit.jsonl", tmp / "big" / "audit.jsonl"
        small.parent.mkdir()
        big.parent.mkdir()
        n_small = _write_log(small, events // 10)
        n_big = _write_log(big, events)
        base, _ = _timed_child([sys.executable, "-c", BASELINE, str(big)])
        table, rss_big = _timed_child([CLEARANCE, "report", str(big), "--format", "table"])
        as_json, _ = _timed_child([CLEARANCE, "report", str(big), "--format", "json"])
        _, rss_small = _timed_child([CLEARANCE, "report", str(small), "--format", "table"])
        return [
            {
                "name": f"baseline: read + json.loads, {n_big:,} events",
                "value": base,
                "unit": "s",
                "baseline": None,
                "ratio": None,
                "target": None,
            },
            {
                "name": f"report table, {n_big:,} events",
                "value": table,
                "unit": "s",
                "baseline": base,
                "ratio": table / base,
                "target": "< 10 s",
            },
            {
                "name": f"report json, {n_big:,} events",
                "value": as_json,
                "unit": "s",
                "baseline": base,
                "ratio": as_json / base,
                "target": "< 10 s",
            },
            {
                "name": f"report peak RSS, {n_big:,} events vs {n_small:,}",
                "value": rss_big / 1024,
                "unit": "MiB",
                "baseline": rss_small / 1024,
                "ratio": rss_big / rss_small,
                "target": "flat (ratio ~1)",
            },
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(row)
