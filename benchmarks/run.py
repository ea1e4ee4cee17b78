"""Run every benchmark in this folder and print one table of figures against same-run baselines.

    python benchmarks/run.py [--size 1.0] [--only scan,auditlog]

Each ``bench_*.py`` module exposes ``run(size: float) -> list[dict]`` returning rows
``{name, value, unit, baseline, ratio, target}`` (``baseline``/``ratio``/``target`` may be
None). ``--size`` scales every benchmark's default sizes. Nothing here asserts a time: the
table is for people, and the figures go in closing notes and benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def load(path: Path):  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    return str(value)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size", type=float, default=1.0, help="scale factor for every benchmark's default size"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated benchmark names (scan, auditlog, watch, ...)"
    )
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    wanted = {w.strip() for w in args.only.split(",") if w.strip()}
    rows: list[dict] = []
    failed = 0
    for path in sorted(HERE.glob("bench_*.py")):
        name = path.stem.removeprefix("bench_")
        if wanted and name not in wanted:
            continue
        print(f"--- {name} (size {args.size})", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            module = load(path)
            for row in module.run(args.size):
                rows.append({"bench": name, **row})
        except Exception:
            failed += 1
            traceback.print_exc()
            rows.append(
                {
                    "bench": name,
                    "name": "FAILED",
                    "value": None,
                    "unit": "",
                    "baseline": None,
                    "ratio": None,
                    "target": None,
                }
            )
        print(f"    {time.monotonic() - started:.1f} s", file=sys.stderr, flush=True)
    headers = ("bench", "measure", "value", "unit", "baseline", "ratio", "target")
    table = [
        (
            r["bench"],
            r["name"],
            fmt(r.get("value")),
            r.get("unit", ""),
            fmt(r.get("baseline")),
            fmt(r.get("ratio")),
            r.get("target") or "-",
        )
        for r in rows
    ]
    widths = [
        max(len(h), *(len(str(t[i])) for t in table)) if table else len(h)
        for i, h in enumerate(headers)
    ]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for t in table:
        print("  ".join(str(c).ljust(w) for c, w in zip(t, widths, strict=True)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
