"""``clearance scan`` throughput against the work a hand-written checker would do.

Baseline (measured in the same run, in its own process): walk the tree, read every sidecar,
parse it with PyYAML's C loader and validate it with ``jsonschema`` against the project's own
``provenance.schema.json``. Measured: the real ``clearance scan --format json`` command, cold
(no ``.clearance`` folder), single process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLEARANCE = str(Path(sys.executable).parent / "clearance")
DEFAULT_ASSETS = 20_000

BASELINE = r"""
import json, os, sys, time
import jsonschema, yaml
from clearance._resources import data_file
schema = json.loads(data_file("schemas", "provenance.schema.json").read_text())
cls = jsonschema.Draft202012Validator
validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
start = time.perf_counter()
count = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if not d.startswith(".")]
    for name in files:
        if name.endswith(".genai.yaml"):
            with open(os.path.join(folder, name), "rb") as fh:
                doc = yaml.load(fh.read(), Loader=yaml.CSafeLoader)
            errors = list(validator.iter_errors(doc))
            count += 1
print(count, time.perf_counter() - start)
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{cmd} exited {done.returncode}: {done.stderr[-2000:]}")
    return elapsed


def baseline(root: Path) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", BASELINE, str(root)], check=True, capture_output=True)
    return time.perf_counter() - start


def cold_scan(root: Path, *extra: str) -> float:
    shutil.rmtree(root / ".clearance", ignore_errors=True)
    return timed([CLEARANCE, "scan", str(root), "--format", "json", "--no-progress", *extra])


def log_share(root: Path) -> tuple[float, float]:
    """(seconds writing audit events, run seconds) of the last run, from its ``run.finished``."""
    with open(root / ".clearance" / "audit.jsonl", "rb") as fh:
        fh.seek(max(0, fh.seek(0, 2) - 65536))
        last = fh.read().splitlines()[-1]
    details = json.loads(last)["details"]
    return details["log_s"], details["duration_s"]


def warm_scan(root: Path, *extra: str) -> float:
    return timed([CLEARANCE, "scan", str(root), "--format", "json", "--no-progress", *extra])


def run(size: float = 1.0) -> list[dict]:
    sys.path.insert(0, str(HERE))
    from _trees import sequence_tree, single_file_tree

    count = max(100, int(DEFAULT_ASSETS * size))
    sequences = max(10, int(1000 * size))
    tmp = Path(tempfile.mkdtemp(prefix="clearance-bench-scan-"))
    try:
        root = single_file_tree(tmp / "show", count)
        base = min(baseline(root) for _ in range(2))
        cold = min(cold_scan(root) for _ in range(2))
        log_s, run_s = log_share(root)
        cold2 = min(cold_scan(root, "--jobs", "2") for _ in range(2))
        cold_scan(root)  # fills the cache
        warm = min(warm_scan(root) for _ in range(2))
        warm2 = min(warm_scan(root, "--jobs", "2") for _ in range(2))
        rows = [
            {
                "name": f"baseline: walk+read+yaml+jsonschema, {count} sidecars",
                "value": base,
                "unit": "s",
                "baseline": None,
                "ratio": None,
                "target": None,
            },
            {
                "name": f"cold scan, {count} assets, 1 process",
                "value": cold,
                "unit": "s",
                "baseline": base,
                "ratio": cold / base,
                "target": "<= 1.0 (issue 6), <= 1.5 (issue 2)",
            },
            {
                "name": "  of which writing audit events (batched, fsync per batch)",
                "value": log_s,
                "unit": "s",
                "baseline": run_s,
                "ratio": log_s / run_s if run_s else None,
                "target": "< 0.2 of the scan (baseline = the run's own duration)",
            },
            {
                "name": f"cold scan, {count} assets, --jobs 2",
                "value": cold2,
                "unit": "s",
                "baseline": base,
                "ratio": cold2 / base,
                "target": "<= 0.6",
            },
            {
                "name": f"warm re-scan, {count} assets, 1 process",
                "value": warm,
                "unit": "s",
                "baseline": base,
                "ratio": warm / base,
                "target": "<= 0.1",
            },
            {
                "name": f"warm re-scan, {count} assets, --jobs 2",
                "value": warm2,
                "unit": "s",
                "baseline": base,
                "ratio": warm2 / base,
                "target": "<= 0.1",
            },
        ]
        shutil.rmtree(root, ignore_errors=True)
        seq_root = sequence_tree(tmp / "seq", sequences, 1000)
        files = sequences * 1000
        seq = cold_scan(seq_root)
        walk = timed(
            [
                sys.executable,
                "-c",
                "import os,sys\nn=0\nfor _d, _s, f in os.walk(sys.argv[1]): n += len(f)",
                str(seq_root),
            ]
        )
        rows.append(
            {
                "name": f"cold scan, {sequences} sequences x 1000 frames ({files} files)",
                "value": seq,
                "unit": "s",
                "baseline": walk,
                "ratio": seq / walk,
                "target": "well under 60 s; baseline = os.walk listing",
            }
        )
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("CLEARANCE_DISABLE_PLUGIN_AUTOLOAD", "1")
    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(row)
