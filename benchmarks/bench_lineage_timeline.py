"""Lineage and timeline: what recording and looking up ancestry costs, and a 5,000-clip edit.

Rows:

- ``lineage record``: one ``INSERT … ON CONFLICT`` per audited asset (WAL, no fsync);
- ``lineage find``: resolving one input ref (path or ``%04d`` pattern) to its latest audit;
- ``lineage ancestry (depth 4)``: the walk the reader does for a comp four generations down;
- ``scan overhead``: a scan of assets whose sidecars declare inputs, with the lineage plugin
  against the same scan with ``-p no:clearance.lineage`` (cold, and warm with the provenance
  cache);
- ``timeline 5,000 clips``: ``audit_timeline`` on a 5,000-clip ``.otio`` over three tracks,
  against loading and iterating the same file with OpenTimelineIO alone (no policy: the
  media is not on disk, nothing is compared with it);
- ``timeline … changed-on-disk check``: the same kind of edit over 2,500 assets present in
  one flat ``comp/`` folder (2,000 single files and 500 sequences of 10 frames, each with a
  sidecar), audited with the policy, so each asset's files on disk are compared with the
  version recorded; against loading and iterating the edit with OpenTimelineIO and listing
  the folder once. Every clip must come out unchanged (the bench fails otherwise).
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml


def _timed(func: Any, repeat: int = 1) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - started)
    return best


def _store_rows(tmp: Path, size: float) -> list[dict[str, Any]]:
    from clearance.lineage import LineageStore

    store = LineageStore(tmp / "bench.db")
    n = max(int(20_000 * size), 100)
    started = time.perf_counter()
    for i in range(n):
        level = i % 5
        shot = i // 5
        inputs = (
            []
            if level == 0
            else [{"ref": f"l{level - 1}/sh{shot:05d}.%04d.exr", "class": "production_image"}]
        )
        store.record(
            asset=f"l{level}/sh{shot:05d}.####.exr",
            version=f"{i:064x}",
            stage=f"l{level}",
            frames="1001-1100",
            generated=level == 0,
            source_type="trainedAlgorithmicMedia" if level == 0 else None,
            outcome="notice",
            findings=[{"rule": "NFX-00", "outcome": "notice", "status": "open", "message": "x"}],
            inputs=inputs,
        )
    record = (time.perf_counter() - started) / n
    root = tmp
    refs = [f"l{(i % 4) + 1}/sh{i % (n // 5):05d}.%04d.exr" for i in range(2000)]
    find = _timed(lambda: [store.find(r, root) for r in refs], 3) / len(refs)
    walks = [[{"ref": f"l3/sh{i % (n // 5):05d}.####.exr"}] for i in range(500)]
    ancestry = _timed(lambda: [store.ancestry(w, root) for w in walks], 3) / len(walks)
    store.close()
    return [
        {"name": f"lineage record ({n:,} rows)", "value": record * 1e6, "unit": "µs/asset"},
        {"name": "lineage find (pattern ref)", "value": find * 1e6, "unit": "µs/ref"},
        {"name": "lineage ancestry (depth 4)", "value": ancestry * 1e6, "unit": "µs/asset"},
    ]


def _scan_rows(tmp: Path, size: float) -> list[dict[str, Any]]:
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    root = tmp / "show"
    n = max(int(1000 * size), 50)
    stages = [{"name": f"s{i}", "paths": [f"s{i}"]} for i in range(4)]
    tools = {"t": {"vendor": "x", "deployment": "studio_enterprise", "trains_on_inputs": False,
                   "retains_data": "none", "reuses_outputs": False, "marks_output": "none",
                   "terms": "x"}}  # fmt: skip
    root.mkdir()
    config = {"clearance": 1, "production": {"id": "B"}, "tools": tools, "stages": stages}
    (root / "clearance.yaml").write_text(yaml.safe_dump(config))
    for i in range(n):
        level, shot = i % 4, i // 4
        rel = f"s{level}/sh{shot:05d}.png"
        (root / rel).parent.mkdir(exist_ok=True)
        (root / rel).write_bytes(b"\x89PNG\r\n\x1a\n")
        inputs = (
            []
            if level == 0
            else [{"ref": f"s{level - 1}/sh{shot:05d}.png", "class": "production_image"}]
        )
        doc = {"provenance": 1, "production": "B", "shot": f"sh{shot}", "generated": level == 0,
               "steps": [{"tool": "t", "tool_version": "1", "inputs": inputs}],
               "output": {"use": "final", "on_screen": "background", "subject": "incidental"}}  # fmt: skip
        (root / f"{rel}.genai.yaml").write_text(yaml.safe_dump(doc))
    policy = load_policy(root / "clearance.yaml")
    assets = discover([root], policy).assets

    def scan(blocked: tuple[str, ...], cache: bool) -> None:
        if not cache:  # cold: nothing recorded, nothing cached
            for leftover in (root / ".clearance").glob("state.db*"):
                leftover.unlink()
        session = Session(policy, command="scan", write_log=False, blocked=blocked, cache=cache)
        session.run(assets)
        session.close()

    rows = []
    for label, cache in (("cold", False), ("warm", True)):
        if cache:
            scan((), True)  # fill the provenance cache and the store
        without = _timed(lambda c=cache: scan(("clearance.lineage",), c), 2)
        with_lineage = _timed(lambda c=cache: scan((), c), 2)
        rows.append(
            {
                "name": f"scan {n:,} assets with inputs ({label})",
                "value": (with_lineage - without) / n * 1e6,
                "unit": "µs/asset added",
                "baseline": without,
                "ratio": with_lineage / without,
            }
        )
    return rows


def _timeline_rows(tmp: Path, size: float) -> list[dict[str, Any]]:
    try:
        import opentimelineio as otio
    except ImportError:
        return [{"name": "timeline (opentimelineio not installed)", "value": None, "unit": ""}]
    from clearance.lineage import LineageStore
    from clearance.timeline import audit_timeline

    store = LineageStore(tmp / "tl.db")
    assets = 500
    for i in range(assets):
        store.record(
            asset=f"comp/sh{i:04d}_comp_v001.####.exr", version="v", stage="comp",
            frames="1001-1100", generated=False, source_type=None, outcome="notice",
            findings=[], inputs=[{"ref": f"gen/sh{i:04d}_plate.####.exr", "class": "x"}],
        )  # fmt: skip
        store.record(
            asset=f"gen/sh{i:04d}_plate.####.exr", version="v", stage="gen", frames="1001-1100",
            generated=True, source_type=None, outcome="notice", findings=[], inputs=[],
        )  # fmt: skip
    clips = max(int(5000 * size), 30)
    rt = otio.opentime.RationalTime
    timeline = otio.schema.Timeline(name="bench")
    tracks = [otio.schema.Track(name=f"V{i + 1}") for i in range(3)]
    for i in range(clips):
        ref = otio.schema.ImageSequenceReference(
            target_url_base=f"file://{tmp}/comp/", name_prefix=f"sh{i % (assets + 50):04d}_comp_v001.",
            name_suffix=".exr", start_frame=1001, frame_zero_padding=4, rate=24,
            available_range=otio.opentime.TimeRange(rt(0, 24), rt(100, 24)),
        )  # fmt: skip
        clip = otio.schema.Clip(
            name=f"c{i}", media_reference=ref,
            source_range=otio.opentime.TimeRange(rt(8, 24), rt(48, 24)),
        )  # fmt: skip
        tracks[i % 3].append(clip)
    for track in tracks:
        timeline.tracks.append(track)
    edit = tmp / "edit.otio"
    otio.adapters.write_to_file(timeline, str(edit))

    def load_only() -> None:
        loaded = otio.adapters.read_from_file(str(edit))
        for clip in loaded.find_clips():
            clip.media_reference  # noqa: B018

    baseline = _timed(load_only, 2)
    full = _timed(lambda: audit_timeline(edit, store, tmp), 2)
    store.close()
    return [
        {
            "name": f"timeline {clips:,} clips, 3 tracks",
            "value": full * 1000,
            "unit": "ms",
            "baseline": baseline,
            "ratio": full / baseline,
        }
    ]


def _flat_folder(root: Path, size: float) -> int:
    """``root/comp``: single files and 10-frame sequences side by side, each with a sidecar;
    returns how many assets."""
    comp = root / "comp"
    comp.mkdir(parents=True)
    config = {"clearance": 1, "production": {"id": "B"}, "stages": [{"name": "comp", "paths": ["comp"]}]}  # fmt: skip
    (root / "clearance.yaml").write_text(yaml.safe_dump(config))
    singles, sequences = max(int(2000 * size), 40), max(int(500 * size), 10)
    for i in range(singles):
        (comp / f"sh{i:05d}_still_v001.png").write_bytes(b"\x89PNG\r\n\x1a\n")
        (comp / f"sh{i:05d}_still_v001.png.genai.yaml").write_text("provenance: 1\n")
    for i in range(sequences):
        for frame in range(1001, 1011):
            (comp / f"sh{i:05d}_comp_v001.{frame}.exr").write_bytes(b"\x76\x2f\x31\x01")
        (comp / f"sh{i:05d}_comp_v001.genai.yaml").write_text("provenance: 1\n")
    return singles + sequences


def _timeline_on_disk_rows(tmp: Path, size: float) -> list[dict[str, Any]]:
    try:
        import opentimelineio as otio
    except ImportError:
        return []
    from clearance.discover import discover
    from clearance.lineage import LineageStore, version_key
    from clearance.policy import load_policy
    from clearance.timeline import audit_timeline

    root = tmp / "flat"
    assets = _flat_folder(root, size)
    policy = load_policy(root / "clearance.yaml")
    found = discover([root / "comp"], policy).assets
    assert len(found) == assets, len(found)
    store = LineageStore(tmp / "flat.db")
    for asset in found:  # as a scan records them: the version on disk now
        store.record(
            asset=asset.rel, version=version_key(asset) or "", stage="comp",
            frames=asset.frames, generated=False, source_type=None, outcome="pass",
            findings=[], inputs=[],
        )  # fmt: skip
    clips = max(int(5000 * size), 30)
    rt = otio.opentime.RationalTime
    timeline = otio.schema.Timeline(name="bench on disk")
    tracks = [otio.schema.Track(name=f"V{i + 1}") for i in range(3)]
    comp = (root / "comp").as_uri() + "/"
    for i in range(clips):
        asset = found[i % assets]
        if asset.frames:
            ref: Any = otio.schema.ImageSequenceReference(
                target_url_base=comp, name_prefix=asset.name.split(".")[0] + ".",
                name_suffix=".exr", start_frame=1001, frame_zero_padding=4, rate=24,
                available_range=otio.opentime.TimeRange(rt(0, 24), rt(10, 24)),
            )  # fmt: skip
        else:
            ref = otio.schema.ExternalReference(target_url=comp + asset.name)
        clip = otio.schema.Clip(
            name=f"c{i}", media_reference=ref,
            source_range=otio.opentime.TimeRange(rt(2, 24), rt(6, 24)),
        )  # fmt: skip
        tracks[i % 3].append(clip)
    for track in tracks:
        timeline.tracks.append(track)
    edit = tmp / "edit_on_disk.otio"
    otio.adapters.write_to_file(timeline, str(edit))

    def load_and_list() -> None:
        loaded = otio.adapters.read_from_file(str(edit))
        for clip in loaded.find_clips():
            clip.media_reference  # noqa: B018
        os.listdir(root / "comp")

    baseline = _timed(load_and_list, 2)
    full = _timed(lambda: audit_timeline(edit, store, root, policy), 2)
    flagged = [c for a in audit_timeline(edit, store, root, policy) for c in a.clips if c.problems]
    store.close()
    if flagged:  # a figure for wrong verdicts would mean nothing
        raise RuntimeError(f"{len(flagged)} clip(s) flagged, first: {flagged[0].problems}")
    return [
        {
            "name": f"timeline {clips:,} clips, changed-on-disk check ({assets:,} assets in one folder)",
            "value": full * 1000,
            "unit": "ms",
            "baseline": baseline,
            "ratio": full / baseline,
        }
    ]


def run(size: float = 1.0) -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="clearance-bench-lineage-") as tmp:
        base = Path(tmp)
        return (
            _store_rows(base, size)
            + _scan_rows(base, size)
            + _timeline_rows(base, size)
            + _timeline_on_disk_rows(base, size)
        )


if __name__ == "__main__":
    for row in run():
        print(row)
