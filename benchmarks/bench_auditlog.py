"""Audit log throughput: appends with fsync per event, batched appends, and ``verify``.

Each figure has a baseline measured in the same run on the same machine and the same bytes,
so the ratio says what the chain, the lock and the envelope cost:

* appends (fsync per event) vs. a hand-written JSONL logger: ``json.dumps`` + ``write`` +
  ``fsync`` of the same events, no lock, no chain, no envelope;
* batched appends through structlog (one lock and one fsync per 500 events, as scans do) vs.
  the same hand-written logger with one fsync per 500;
* ``verify`` vs. reading the same file and SHA-256-hashing every line (the least any chain
  check must do). The target is verify > 200,000 events/s.

``python benchmarks/bench_auditlog.py [--size S]``; ``run(size)`` is what ``benchmarks/run.py``
calls: it returns rows ``{name, value, unit, baseline, ratio}`` (ratio = value / baseline:
higher is better for these rates).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from clearance.auditlog import AuditLog, audit_batch, make_audit_logger
from clearance.auditlog_verify import verify_log

BATCH = 500


def _event(i: int) -> dict[str, Any]:
    return {
        "event": "finding",
        "run_id": "0f3c2a9e5d7b4c1a8e6f2d0b9a7c5e3f",
        "host": "render07",
        "stage": "comp",
        "asset": f"comp/sh{i % 900:03d}0_comp_v004.####.exr",
        "rule": "NFX-C1",
        "outcome": "approval",
        "status": "open",
        "message": "generated key visual for final use",
        "details": {
            "principle": "creative-output",
            "remediation": "A key visual is generated with GenAI past ideation: obtain written approval.",
            "evidence": {"subject": "key_visual", "use": "final"},
            "frames": "1001-1100",
        },
    }


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def _plain_jsonl(path: Path, events: list[dict[str, Any]], per_fsync: int) -> float:
    """The baseline: a hand-written JSONL logger (json.dumps, write, fsync), no lock, no chain."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    started = time.perf_counter()
    try:
        for i in range(0, len(events), per_fsync):
            os.write(fd, "".join(dumps(e) + "\n" for e in events[i : i + per_fsync]).encode())
            os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def _row(name: str, value: float, baseline: float, unit: str = "events/s") -> dict[str, Any]:
    return {
        "name": name,
        "value": round(value, 1),
        "unit": unit,
        "baseline": round(baseline, 1),
        "ratio": round(value / baseline, 3) if baseline else None,
    }


def run(size: float = 1.0) -> list[dict[str, Any]]:
    """Measure; ``size`` scales the event counts (1.0: 2,000 fsynced, 50,000 batched, 200,000 verified)."""
    single = max(200, int(2_000 * size))
    batched = max(5_000, int(50_000 * size))
    verified = max(20_000, int(200_000 * size))
    rows = []
    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as tmp:
        root = Path(tmp)

        # 1. one event per append: lock, read head, write, fsync, unlock. Alternate with the
        #    baseline in rounds: fsync latency drifts over a run.
        log = AuditLog(root / "single" / "audit.jsonl")
        events = [_event(i) for i in range(single)]
        chained = raw = 0.0
        rounds = 4
        for r in range(rounds):
            part = events[r::rounds]
            started = time.perf_counter()
            for e in part:
                log.append(e)
            chained += time.perf_counter() - started
            raw += _plain_jsonl(root / "single-raw.jsonl", part, 1)
        log.close()
        rows.append(_row("append, fsync per event", _rate(single, chained), _rate(single, raw)))

        # 2. batched through structlog, as the engine does for a stage of a scan
        log = AuditLog(root / "batched" / "audit.jsonl")
        audit = make_audit_logger(log, run_id="0f3c2a9e5d7b4c1a8e6f2d0b9a7c5e3f", host="render07")
        events = [_event(i) for i in range(batched)]
        started = time.perf_counter()
        for i in range(0, batched, BATCH):
            with audit_batch(audit, max_events=BATCH):
                for e in events[i : i + BATCH]:
                    audit.info(**e)
        chained = time.perf_counter() - started
        log.close()
        raw = _plain_jsonl(root / "batched-raw.jsonl", events, BATCH)
        rows.append(
            _row(
                f"append, batched ({BATCH}/fsync, structlog)",
                _rate(batched, chained),
                _rate(batched, raw),
            )
        )

        # 3. verify a big intact log vs. reading and hashing the same lines
        path = root / "verify" / "audit.jsonl"
        log = AuditLog(path)
        template = [_event(i) for i in range(10_000)]
        for start in range(0, verified, 10_000):
            log.append_many(template[: min(10_000, verified - start)])
        log.close()
        os.sync()
        _hash_all(path)  # warm the page cache for both
        started = time.perf_counter()
        result = verify_log(path)
        checked = time.perf_counter() - started
        assert result.intact and result.events == verified, result.breaks[:3]
        started = time.perf_counter()
        _hash_all(path)
        hashed = time.perf_counter() - started
        rows.append(_row("verify", _rate(verified, checked), _rate(verified, hashed)))
    return rows


def _hash_all(path: Path) -> None:
    sha = hashlib.sha256
    with open(path, "rb") as fh:
        for line in fh:
            sha(line[:-1]).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size", type=float, default=1.0, help="scale the event counts (default 1.0)"
    )
    args = parser.parse_args(argv)
    rows = run(args.size)
    print(f"{'benchmark':<42} {'value':>14} {'baseline':>14} {'ratio':>7}  unit")
    for r in rows:
        print(
            f"{r['name']:<42} {r['value']:>14,.0f} {r['baseline']:>14,.0f} {r['ratio']:>7.2f}  {r['unit']}"
        )
    print(
        "baselines: json.dumps + write + fsync of the same events (appends); "
        "read + SHA-256 of every line (verify)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
