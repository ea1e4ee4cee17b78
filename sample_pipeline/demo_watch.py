"""Demo step: ``clearance watch`` auditing the sample show live, as the pipeline writes.

``run(outdir, clearance_bin)`` starts ``clearance watch`` on three stage folders of the
generated show (``OUTDIR/show``), then plays a few pipeline steps the way a farm and its
tools really write:

* plate generation renders a 12-frame EXR sequence, half of the frames through ``.tmp``
  names, with its sidecar published first;
* comp publishes a frame through ``NAME.tmp`` → rename, and its sidecar only arrives after
  the grace window: the watcher audits it with ``PRV-01`` (missing provenance), then audits it
  again when the sidecar lands and records the resolution;
* delivery writes a PNG slowly, in chunks, with pauses longer than the quiet period: it is
  audited once, complete.

It waits until every asset is audited, stops the watcher with SIGTERM (it drains and exits 0)
and prints a summary from the audit log. Standalone::

    python sample_pipeline/demo_watch.py OUTDIR      # OUTDIR made by generate.py
"""

from __future__ import annotations

import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _media import plate_pixels, write_exr  # noqa: E402

SETTLE = 0.5
GRACE = 3.0
FRAMES = range(1001, 1013)

LIVE = {
    "plates": "gen/plates/live",
    "comp": "comp/live",
    "delivery": "delivery/live",
}


def _sidecar(asset: str, *, generated: bool, tool: str | None = None) -> str:
    lines = [
        "provenance: 1",
        f"asset: {asset}",
        "production: SALT01",
        "shot: sh090",
        f"generated: {str(generated).lower()}",
    ]
    if generated and tool:
        lines += [
            "source_type: trainedAlgorithmicMedia",
            "steps:",
            f"  - tool: {tool}",
            "    tool_version: '3.2'",
            "    inputs: [{ref: gen/plates/sh090_plate_v001.####.exr, class: production_image}]",
        ]
    return "\n".join(lines) + "\n"


def _png(width: int = 16, height: int = 9) -> bytes:
    raw = b"".join(
        b"\x00" + b"".join(bytes((x * 13 % 256, y * 27 % 256, 128)) for x in range(width))
        for y in range(height)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def _audited(log: Path, run_ids: set[str]) -> list[dict]:
    if not log.exists():
        return []
    out = []
    for line in log.read_bytes().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if (
            event.get("event") == "asset.audited"
            and event.get("run_id") in run_ids
            and "watch" in (event.get("details") or {})
        ):
            out.append(event)
    return out


def _watch_run_ids(log: Path) -> set[str]:
    ids = set()
    for line in log.read_bytes().splitlines() if log.exists() else []:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "watch.started":
            ids.add(event["run_id"])
    return ids


def _wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise RuntimeError(f"demo_watch: timed out waiting for {what}")


def run(outdir: Path, clearance_bin: str) -> None:
    """Watch ``outdir/show`` live while pipeline steps write into it; print a summary."""
    show = Path(outdir) / "show"
    log = show / ".clearance" / "audit.jsonl"
    folders = {k: show / v for k, v in LIVE.items()}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    before = _watch_run_ids(log)
    cmd = [
        clearance_bin,
        "watch",
        *map(str, folders.values()),
        "--settle",
        str(SETTLE),
        "--sidecar-grace",
        str(GRACE),
        "--sequence-idle",
        "1.0",
        "--heartbeat",
        "5",
        "--stats",
        "5",
    ]
    print(
        f"$ clearance watch {' '.join(LIVE.values())} --settle {SETTLE} --sidecar-grace {GRACE} ...",
        flush=True,
    )
    proc = subprocess.Popen(cmd, cwd=show)
    try:
        run_ids = _wait(lambda: _watch_run_ids(log) - before, 30, "watch.started")
        plates, comp, delivery = folders["plates"], folders["comp"], folders["delivery"]

        print(
            "  plate_gen: rendering sh090_plate_v001.1001-1012.exr (half through .tmp names)",
            flush=True,
        )
        (plates / "sh090_plate_v001.genai.yaml").write_text(
            _sidecar("sh090_plate_v001.####.exr", generated=True, tool="saltworks-diffusion")
        )
        pixels = plate_pixels(32, 18)
        for frame in FRAMES:
            final = plates / f"sh090_plate_v001.{frame}.exr"
            target = final.with_name(final.name + ".tmp") if frame % 2 else final
            write_exr(target, 32, 18, pixels)
            if target != final:
                os.rename(target, final)
            time.sleep(0.05)

        print("  comp: publishing sh090_comp_v001.exr via rename; its sidecar is late", flush=True)
        write_exr(comp / "sh090_comp_v001.exr.tmp", 32, 18, pixels)
        os.rename(comp / "sh090_comp_v001.exr.tmp", comp / "sh090_comp_v001.exr")

        print("  delivery: writing sh090_final_v001.png slowly, in 4 chunks", flush=True)
        (delivery / "sh090_final_v001.png.genai.yaml").write_text(
            _sidecar("sh090_final_v001.png", generated=False)
        )
        data = _png()
        step = -(-len(data) // 4)
        with open(delivery / "sh090_final_v001.png", "wb") as f:
            for i in range(0, len(data), step):
                f.write(data[i : i + step])
                f.flush()
                time.sleep(SETTLE * 1.5)

        _wait(
            lambda: any(e["asset"].endswith("sh090_comp_v001.exr") for e in _audited(log, run_ids)),
            60,
            "the comp's first audit (missing provenance)",
        )
        print("  comp: the sidecar arrives after the grace window", flush=True)
        (comp / "sh090_comp_v001.exr.genai.yaml").write_text(
            _sidecar("sh090_comp_v001.exr", generated=False)
        )
        _wait(lambda: len(_audited(log, run_ids)) >= 4, 60, "every asset to be audited")
        time.sleep(1.5)  # a duplicate, if there were one, would show up here
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(60)
    events = _audited(log, run_ids)
    by_asset: dict[str, list[dict]] = {}
    for event in events:
        by_asset.setdefault(event["asset"], []).append(event)
    arrivals = [
        a
        for a, evs in by_asset.items()
        if sum(e["details"]["watch"]["reason"] == "new" for e in evs) == 1
    ]
    print(
        f"\nclearance watch stopped (exit {code}). {len(arrivals)} assets audited once on arrival:"
    )
    for asset, evs in sorted(by_asset.items()):
        first = evs[0]
        extra = ""
        for e in evs[1:]:
            w = e["details"]["watch"]
            extra += f"; then re-audited ({w['reason']}: {w.get('resolution', w['pairing'])}) → {e['outcome']}"
        frames = f" frames {first['details']['frames']}" if first["details"].get("frames") else ""
        print(
            f"  {asset}{frames}: {first['outcome']} (sidecar {first['details']['watch']['pairing']}){extra}"
        )
    if code != 0 or len(arrivals) != len(by_asset) or len(by_asset) != 3:
        raise RuntimeError(
            f"demo_watch: expected 3 assets each audited once on arrival, got {by_asset.keys()} (exit {code})"
        )


if __name__ == "__main__":
    bindir = Path(sys.executable).parent
    run(Path(sys.argv[1]), str(bindir / "clearance"))
