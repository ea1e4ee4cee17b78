"""Readiness: a file is audited once, complete, under its final name (WATCH.md S3-S9, S20, S22, S23).

Each test starts a real watcher (inotify observer, SQLite ledger, audit log) on a show root in
``tmp_path``, writes files from a separate process, and asserts on the audit log and the ledger.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from _watch_harness import (
    InProcessWatcher,
    assert_once,
    audited,
    exr_bytes,
    ledger,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    wait_for,
    writer_chunks,
    writer_script,
)


def _final_file(event: dict, root: Path) -> dict:
    files = event["details"]["watch"]["files"]
    assert len(files) == 1
    return files[0]


def test_s3_chunked_write_single_fd_is_audited_once_after_the_last_chunk(tmp_path: Path) -> None:
    """S3: one fd, 5 chunks, pauses longer than --settle: the EXR completeness check holds it."""
    root = make_show(tmp_path)
    path = root / "comp" / "chunked.exr"
    with InProcessWatcher(root):
        run_writer(writer_chunks, str(path), 5, 0.45, False)
        wait_audited(root, 1)
        quiet(root, 1.5)
    assert_once(root, ["comp/chunked.exr"])
    recorded = _final_file(audited(root)[0], root)
    assert recorded["size"] == path.stat().st_size
    assert recorded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert ledger(root).counts().get("audited") == 1


def test_s3_chunked_write_of_an_unchecked_format_waits_for_the_quiet_period(tmp_path: Path) -> None:
    """S3 (no format check): a .mov written in 5 chunks 0.1 s apart (< --settle) is audited at its final size."""
    root = make_show(tmp_path)
    path = root / "comp" / "clip.mov"
    with InProcessWatcher(root):
        run_writer(writer_chunks, str(path), 5, 0.1, False)
        wait_audited(root, 1)
        quiet(root, 1.0)
    assert_once(root, ["comp/clip.mov"])
    assert _final_file(audited(root)[0], root)["size"] == path.stat().st_size


def test_s4_chunked_reopen_five_close_events_one_audit(tmp_path: Path) -> None:
    """S4: 5 open/append/close cycles (5 FileClosedEvents) → one audit of the final size."""
    root = make_show(tmp_path)
    path = root / "comp" / "reopened.exr"
    with InProcessWatcher(root):
        run_writer(writer_chunks, str(path), 5, 0.15, True)
        wait_audited(root, 1)
        quiet(root, 1.5)
    assert_once(root, ["comp/reopened.exr"])
    assert _final_file(audited(root)[0], root)["size"] == path.stat().st_size


def test_s5_slow_writer_gap_is_not_audited_until_complete(tmp_path: Path) -> None:
    """S5: the writer pauses 2x --settle mid-file. Chosen behaviour: not audited until the
    EXR is complete (offset table and last chunk inside the file); never audited half-written."""
    root = make_show(tmp_path)
    path = root / "comp" / "gap.exr"
    with InProcessWatcher(root):
        run_writer(writer_chunks, str(path), 2, 0.6 * 2, False)
        wait_audited(root, 1)
        quiet(root, 1.5)
    assert_once(root, ["comp/gap.exr"])
    assert _final_file(audited(root)[0], root)["size"] == path.stat().st_size


def _many_writes(path: str, writes: int) -> None:
    data = exr_bytes(64, 64, 3)
    size = -(-len(data) // writes)
    with open(path, "wb") as f:
        for i in range(0, len(data), size):
            f.write(data[i : i + size])
            f.flush()
            time.sleep(0.002)


def test_a_frame_written_in_hundreds_of_writes_is_a_handful_of_events(tmp_path: Path) -> None:
    """IN_MODIFY is not in the watches' kernel mask (one event per ``write()``): 300 writes on
    one fd reach the watcher as its creation and its close, and the frame is audited once, at
    its final size. A touch (IN_ATTRIB) still reaches the watcher."""
    root = make_show(tmp_path)
    path = root / "comp" / "many.exr"
    path.parent.mkdir(parents=True)
    seen: list[str] = []

    def hook(_root: str, _backend: str, event: Any) -> bool:
        if str(event.src_path).endswith("many.exr"):
            seen.append(event.event_type)
        return True

    with InProcessWatcher(root, event_hook=hook):
        run_writer(_many_writes, str(path), 300)
        wait_audited(root, 1)
        writes = len(seen)
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))
        wait_for(lambda: "attrib" in seen, what="the touch's IN_ATTRIB")
        quiet(root, 1.0)
    assert writes <= 3, seen
    assert "modified" not in seen
    assert audited(root)[0]["details"]["watch"]["files"][0]["size"] == len(exr_bytes(64, 64, 3))


def test_s6_tmp_then_rename_audits_only_the_final_name(tmp_path: Path) -> None:
    """S6: ``x.1001.exr.tmp``, rsync-style ``.x.exr.XXXX`` and ``.part`` → final names, once each."""
    root = make_show(tmp_path)
    comp = root / "comp"
    steps = [("mkdirs", str(comp))]
    for i in range(1001, 1004):
        steps += [
            ("exr", str(comp / f"x.{i}.exr.tmp"), i),
            ("rename", str(comp / f"x.{i}.exr.tmp"), str(comp / f"x.{i}.exr")),
        ]
    steps += [
        ("exr", str(comp / ".y.exr.Ab12Cd"), 7),
        ("rename", str(comp / ".y.exr.Ab12Cd"), str(comp / "y.exr")),
    ]
    steps += [
        ("exr", str(comp / "z.png.part"), 8),
        ("rename", str(comp / "z.png.part"), str(comp / "z.exr")),
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, 3)
        quiet(root, 1.5)
    assert_once(root, ["comp/x.####.exr", "comp/y.exr", "comp/z.exr"])
    seq = next(e for e in audited(root) if e["asset"] == "comp/x.####.exr")
    assert seq["details"]["frames"] == "1001-1003"


def test_s7_directory_publish_in_tree_and_from_outside(tmp_path: Path) -> None:
    """S7: ``.v003.tmp/`` renamed to ``v003/`` in the tree, and ``v004`` moved in from outside:
    every sequence audited once; a later write inside ``v003/`` is seen too."""
    root = make_show(tmp_path)
    staging = root / "renders" / ".v003.tmp"
    outside = tmp_path / "outside" / "v004"
    steps: list[tuple] = [("mkdirs", str(staging)), ("mkdirs", str(outside))]
    for i in range(1001, 1011):
        steps += [("exr", str(staging / f"c.{i}.exr"), i), ("exr", str(outside / f"d.{i}.exr"), i)]
    steps += [
        ("rename", str(staging), str(root / "renders" / "v003")),
        ("rename", str(outside), str(root / "renders" / "v004")),
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, 2)
        quiet(root, 1.0)
        assert_once(root, ["renders/v003/c.####.exr", "renders/v004/d.####.exr"])
        run_writer(writer_script, [("exr", str(root / "renders" / "v003" / "late.exr"), 3)])
        wait_audited(root, 3)
        quiet(root, 1.0)
    assert_once(
        root, ["renders/v003/c.####.exr", "renders/v004/d.####.exr", "renders/v003/late.exr"]
    )
    frames = {e["asset"]: e["details"]["frames"] for e in audited(root)}
    assert frames["renders/v003/c.####.exr"] == "1001-1010"


def test_s8_hardlink_and_copy2_publish_are_audited_once(tmp_path: Path) -> None:
    """S8: ``os.link`` (no close event at all) and ``shutil.copy2`` (close, then a utime that
    changes mtime) are both audited, once."""
    root = make_show(tmp_path)
    src = tmp_path / "farm" / "out.exr"
    src.parent.mkdir()
    src.write_bytes(exr_bytes(seed=3))
    src2 = tmp_path / "farm" / "out2.exr"
    src2.write_bytes(exr_bytes(seed=4))
    (root / "comp").mkdir()
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("link", str(src), str(root / "comp" / "linked.exr")),
                ("copy2", str(src2), str(root / "comp" / "copied.exr")),
            ],
        )
        wait_audited(root, 2)
        quiet(root, 1.5)
    assert_once(root, ["comp/linked.exr", "comp/copied.exr"])


def test_s9_mkdir_p_and_immediate_files_each_audited_once(tmp_path: Path) -> None:
    """S9: ``mkdir -p sh010/comp/v003/exr`` then 200 files at once: watchdog's recursive-watch
    walk reports some files twice; the ledger dedupes."""
    root = make_show(tmp_path)
    deep = root / "renders" / "sh010" / "comp" / "v003" / "exr"
    steps: list[tuple] = [("mkdirs", str(deep))] + [
        ("exr", str(deep / f"el_{i:03d}.exr"), i) for i in range(200)
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, 200)
        quiet(root, 1.5)
    assert_once(root, [f"renders/sh010/comp/v003/exr/el_{i:03d}.exr" for i in range(200)])
    assert ledger(root).counts().get("audited") == 200


def test_s20_deleted_or_moved_out_before_settling_is_never_audited(tmp_path: Path) -> None:
    """S20: created then deleted, or moved out, before --settle: no audit, no crash; the
    ledger records the version as ``vanished`` (no audit event: that is the policy)."""
    root = make_show(tmp_path)
    comp = root / "comp"
    out = tmp_path / "elsewhere"
    out.mkdir()
    steps = [
        ("mkdirs", str(comp)),
        ("exr", str(comp / "gone.exr"), 1),
        ("sleep", 0.1),
        ("unlink", str(comp / "gone.exr")),
        ("exr", str(comp / "moved.exr"), 2),
        ("sleep", 0.1),
        ("rename", str(comp / "moved.exr"), str(out / "moved.exr")),
        ("exr", str(comp / "kept.exr"), 3),
    ]
    with InProcessWatcher(root, settle=0.6) as w:
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        quiet(root, 1.5)
        wait_for(lambda: w.watcher.vanished >= 2, what="two vanished files")
    assert_once(root, ["comp/kept.exr"])
    store = ledger(root)
    for gone in (
        "gone.exr",
        "moved.exr",
    ):  # a version that was stat()ed before it left is "vanished"
        states = {
            s for (s,) in store.query("SELECT state FROM files WHERE path=?", (str(comp / gone),))
        }
        assert states <= {"vanished"}, states


def test_s22_configured_ignore_pattern_does_not_drop_tmp_to_final_renames(tmp_path: Path) -> None:
    """S22: ``discovery.ignore: ["*.tmp"]`` (watchdog's IgnorePolicy.ANY would drop the whole
    move): the watcher applies no ignore patterns inside watchdog, so the final name is audited."""
    root = make_show(
        tmp_path, extra='discovery: {ignore: ["*.tmp"], temporary: ["*.tmp", "*.part"]}\n'
    )
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("mkdirs", str(comp)),
                ("exr", str(comp / "a.exr.tmp"), 1),
                ("rename", str(comp / "a.exr.tmp"), str(comp / "a.exr")),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.0)
    assert_once(root, ["comp/a.exr"])


def _reader(paths: list[str], rounds: int) -> None:
    for _ in range(rounds):
        for p in paths:
            with open(p, "rb") as f:
                f.read()
            os.stat(p)


def test_s23_reads_do_not_trigger_reaudits(tmp_path: Path) -> None:
    """S23: the watcher's own reads (hashing, provenance readers) and another process reading
    the files 50 times make no second audit (IN_OPEN/IN_CLOSE_NOWRITE are masked; stat decides)."""
    root = make_show(tmp_path)
    comp = root / "comp"
    names = [f"r{i}.exr" for i in range(5)]
    with InProcessWatcher(root) as w:
        run_writer(
            writer_script,
            [("mkdirs", str(comp))] + [("exr", str(comp / n), i) for i, n in enumerate(names)],
        )
        wait_audited(root, 5)
        run_writer(_reader, [str(comp / n) for n in names], 50)
        quiet(root, 1.5)
        assert not w.watcher.pending
    assert_once(root, [f"comp/{n}" for n in names])


def test_exr_and_png_completeness_checks() -> None:
    """The format checks the readiness gate relies on (truncated EXR/PNG are incomplete)."""
    import tempfile

    from clearance.testing import write_png
    from clearance.watch_readiness import is_complete

    with tempfile.TemporaryDirectory() as d:
        exr = Path(d) / "a.exr"
        data = exr_bytes(8, 8)
        exr.write_bytes(data)
        assert is_complete(str(exr), len(data))
        for cut in (10, len(data) // 2, len(data) - 1):
            exr.write_bytes(data[:cut])
            assert not is_complete(str(exr), cut), cut
        # 9,000 one-line chunks: the offset table (72 KB) ends past the first 64 KiB read
        tall = exr_bytes(2, 9000)
        exr.write_bytes(tall)
        assert is_complete(str(exr), len(tall))
        for cut in (60_000, 70_000, 100_000, len(tall) - 1):
            exr.write_bytes(tall[:cut])
            assert not is_complete(str(exr), cut), cut
        png = write_png(Path(d) / "b.png")
        full = png.read_bytes()
        assert is_complete(str(png), len(full))
        png.write_bytes(full[:-5])
        assert not is_complete(str(png), len(full) - 5)
        shutil.rmtree(d, ignore_errors=True)
