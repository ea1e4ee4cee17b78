"""Readiness: a file is audited once, complete, under its final name (WATCH.md S3-S9, S20, S22, S23).

Each test starts a real watcher (inotify observer, SQLite ledger, audit log) on a show root in
``tmp_path``, writes files from a separate process, and asserts on the audit log and the ledger.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import struct
import time
import zlib
from pathlib import Path
from typing import Any

import pytest

from _watch_harness import (
    SIDECAR,
    InProcessWatcher,
    assert_once,
    audited,
    exr_attr,
    exr_bytes,
    exr_file,
    exr_window,
    ledger,
    make_show,
    quiet,
    run_writer,
    scan_verdicts,
    wait_audited,
    wait_for,
    watch_verdicts,
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


def test_a_png_with_bytes_after_iend_is_complete_as_the_reader_reads_it(tmp_path: Path) -> None:
    """Phone and app tools and padded copies leave bytes after IEND. The reader stops at IEND
    and reads the file whole; the check agrees (it walks the chunks as the reader does, with
    no bound on the trailer), instead of waiting ``--stalled`` for an IEND at the very end.
    A PNG whose IEND is not written yet is still incomplete (waited for, not damaged), even
    when the bytes written so far hold an ``IEND`` inside a chunk (an embedded thumbnail)."""
    pytest.importorskip("PIL")
    from _embedded import CAPTURE, png_chunk, write_png, xmp_packet
    from clearance.provenance.xmp import read_xmp
    from clearance.watch_readiness import is_complete, missing_part

    path = tmp_path / "plate.png"
    whole = write_png(path, xmp_packet(CAPTURE), size=(64, 64)).read_bytes()
    iend = whole.rindex(b"IEND") - 4
    for trailer in (bytes(16), b"junk appended by a broken copy", bytes(100_000)):
        path.write_bytes(whole + trailer)
        assert read_xmp(path)["problems"] == []
        assert is_complete(str(path), len(whole + trailer)), len(trailer)
    idat = whole.index(b"IDAT") - 4
    thumbnail = png_chunk(b"tEXt", b"thumbnail\x00" + whole)  # a whole PNG, IEND and all
    writing = whole[:idat] + thumbnail + whole[idat:]
    after = idat + len(thumbnail)
    # (writing[: after - 4]: the bytes so far end with the thumbnail's IEND chunk, whole)
    written = [whole[:iend], whole[: iend + 6], writing[: idat + 20], writing[: after - 4]]
    written.append(writing[:after])
    for data in [*written, writing[: after + 20]]:
        path.write_bytes(data)
        missing = missing_part(str(path), len(data))
        assert missing is not None and missing.reason.startswith("truncated"), len(data)
        assert not missing.damaged, len(data)


def _png(*extra: bytes) -> bytes:
    """A 2 x 2 RGB PNG with the chunks ``extra`` before its IEND."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    pixels = zlib.compress(b"\0" + bytes(6) + b"\0" + bytes(6))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", pixels)
        + b"".join(chunk(b"thMb", e) for e in extra)
        + chunk(b"IEND", b"")
    )


def test_a_png_whose_bytes_so_far_end_with_an_embedded_thumbnails_iend_is_waited_for(
    tmp_path: Path,
) -> None:
    """A PNG being written whose bytes so far end with an embedded thumbnail's IEND chunk
    (a private chunk holding a whole PNG, its CRC and the real IEND not written yet) is not
    complete: the writer pauses there, the watcher waits, and the file is audited once, whole,
    with scan's verdict."""
    root = make_show(tmp_path)
    comp = root / "comp"
    thumbnail = _png()
    whole = _png(thumbnail)
    so_far = whole[: whole.index(thumbnail) + len(thumbnail)]
    assert so_far.endswith(b"IEND\xaeB`\x82")
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(comp / "p.png.genai.yaml"), SIDECAR),
                ("write", str(comp / "p.png"), so_far),
                ("sleep", 2.0),  # several quiet periods: a renderer computing its next chunk
                ("write", str(comp / "p.png"), whole),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert [f["size"] for f in event["details"]["watch"]["files"]] == [len(whole)]
    assert watch_verdicts(root)["comp/p.png"] == scan_verdicts(root, tmp_path)["comp/p.png"]


def _compression(code: int) -> bytes:
    return exr_attr("compression", "compression", bytes([code]))


def _tiles(x: int, y: int, mode: int) -> bytes:
    return exr_attr("tiles", "tiledesc", struct.pack("<IIB", x, y, mode))


#: a 160 x 120 ``preview`` attribute (RGBA8): a header of 77 KB, past the first 64 KiB read
_PREVIEW = exr_attr("preview", "preview", struct.pack("<II", 160, 120) + bytes(160 * 120 * 4))

#: (name, parts) of EXR layouts whose offset tables the completeness check sizes. The chunk
#: counts are worked out by hand here (and were checked against files written by OpenEXR 3.5)
_LAYOUTS: list[tuple[str, list[tuple[str, bytes, int]]]] = [
    ("preview.exr", [("scanlineimage", _compression(0) + exr_window(8, 4) + _PREVIEW, 4)]),
    # OpenEXR 3.4's HTJ2K: 256 and 32 scan lines per chunk
    ("htj2k256.exr", [("scanlineimage", _compression(10) + exr_window(8, 512), 2)]),
    ("htj2k32.exr", [("scanlineimage", _compression(11) + exr_window(8, 512), 16)]),
    ("dwab.exr", [("scanlineimage", _compression(9) + exr_window(8, 300), 2)]),
    # 64 x 48 in 16 x 16 tiles: one level 4 x 3 = 12 tiles; mipmap rounding down, levels
    # 64x48 32x24 16x12 8x6 4x3 2x1 1x1 = 12 + 4 + 5 = 21; ripmap rounding up, 7 widths
    # (4+2+1+1+1+1+1 = 11 tiles across) x 7 heights (3+2+1+1+1+1+1 = 10 down) = 110
    ("tiled.exr", [("tiledimage", _compression(0) + exr_window(64, 48) + _tiles(16, 16, 0), 12)]),
    ("mipmap.exr", [("tiledimage", _compression(3) + exr_window(64, 48) + _tiles(16, 16, 1), 21)]),
    (
        "ripmap.exr",
        [("tiledimage", _compression(0) + exr_window(64, 48) + _tiles(16, 16, 2 | 0x10), 110)],
    ),
    ("deep.exr", [("deepscanline", _compression(3) + exr_window(8, 40), 3)]),
    (
        "parts.exr",
        [
            ("scanlineimage", _compression(3) + exr_window(8, 40), 3),
            ("tiledimage", _compression(0) + exr_window(64, 48) + _tiles(32, 32, 0), 4),
            ("deeptile", _compression(0) + exr_window(64, 48) + _tiles(64, 64, 0), 1),
            ("scanlineimage", _compression(11) + exr_window(8, 40) + _PREVIEW, 2),
        ],
    ),
]


def _is_complete(path: Path, data: bytes) -> bool:
    from clearance.watch_readiness import is_complete

    path.write_bytes(data)
    return is_complete(str(path), len(data))


def test_exr_completeness_of_every_layout(tmp_path: Path) -> None:
    """A whole EXR is complete whatever its layout — a header past 64 KiB, HTJ2K, tiles with
    mipmap and ripmap levels, deep data, several parts — and every cut of it is not: the
    headers (up to a multi-part file's empty header), the offset tables and the last chunk
    must all be in the file, and a table OpenEXR has not filled in yet (zeros) is not."""
    path = tmp_path / "a.exr"
    for name, parts in _LAYOUTS:
        data = exr_file(parts)
        assert _is_complete(path, data), name
        step = 1 if len(data) < 4096 else 97
        for cut in [*range(0, len(data), step), len(data) - 1]:
            assert not _is_complete(path, data[:cut]), (name, cut, len(data))
        assert not _is_complete(path, exr_file(parts, offsets=False)), name
    # a table one entry short of what the header says: the last chunk's offset is not there
    ripmap = _LAYOUTS[6][1]
    short = exr_file([(ripmap[0][0], ripmap[0][1], ripmap[0][2] - 1)])
    assert not _is_complete(path, short)


def test_exr_completeness_never_raises_on_corrupt_files(tmp_path: Path) -> None:
    """Seeded byte flips, sizes and counts made huge or negative, and truncations of every
    layout: the check answers True or False (never raises, never loops)."""
    import random

    rng = random.Random(11)
    path = tmp_path / "fuzz.exr"
    for _name, parts in _LAYOUTS:
        original = exr_file(parts)
        for _ in range(120):
            data = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(min(len(data), 400))
                roll = rng.random()
                if roll < 0.6:
                    data[pos] = rng.randrange(256)
                elif roll < 0.85:
                    data[pos : pos + 4] = struct.pack("<i", rng.choice([-1, 2**31 - 1, 70_000]))
                else:
                    del data[rng.randrange(len(data)) :]
                    break
            assert _is_complete(path, bytes(data)) in (True, False)


def test_the_completeness_check_reads_headers_with_the_exr_readers_parser(tmp_path: Path) -> None:
    """One parser of the format: a file the completeness check finds complete is one whose
    headers the EXR reader reads whole and without a problem, on every layout and on seeded
    mutants of them; and what the check finds missing is said in words that name the place."""
    import random

    from clearance.provenance.exr import read_exr_header
    from clearance.watch_readiness import Missing, is_complete, missing_part

    rng = random.Random(7)
    path = tmp_path / "m.exr"
    complete = 0
    for _name, parts in _LAYOUTS:
        original = exr_file(parts)
        for attempt in range(150):
            data = bytearray(original)
            for _ in range(rng.randint(1, 3) if attempt else 0):
                data[rng.randrange(min(len(data), 600))] = rng.randrange(256)
            path.write_bytes(bytes(data))
            if is_complete(str(path), len(data)):
                complete += 1
                header = read_exr_header(path)
                assert header["header_end"] is not None, bytes(data[:80])
                assert not [p for p in header["problems"] if "format version" not in p]
    assert complete > len(_LAYOUTS)  # the originals, and mutants that only changed a value
    tiled = exr_file(_LAYOUTS[4][1], offsets=False)
    path.write_bytes(tiled)
    assert missing_part(str(path), len(tiled)) == Missing(
        "entry 0 of 12 in part 0's offset table is not filled in "
        "(OpenEXR fills the tables in when it closes the file)"
    )
    parts = exr_file(_LAYOUTS[-1][1])
    path.write_bytes(parts[:200])
    cut = missing_part(str(path), 200)
    assert cut is not None and cut.reason.startswith("truncated: the header ends early")
    assert not cut.damaged  # a writer on its way: waited for
    path.write_bytes(parts[:-1])
    cut = missing_part(str(path), len(parts) - 1)
    assert cut is not None and cut.reason.startswith("the file ends inside its last chunk")


def test_the_completeness_check_counts_the_strings_the_exr_reader_counts(tmp_path: Path) -> None:
    """The check keeps only the attributes that size the tables, but reads every stringvector
    as the EXR reader does: a header past the reader's bound on strings is one no writer
    leaves behind (damaged: audited at once, unsure), in the reader's words; one within it
    is complete."""
    from clearance.provenance.exr import read_exr_header
    from clearance.watch_readiness import Missing, missing_part

    path = tmp_path / "sv.exr"
    for strings, missing in ((65536, None), (65537, True)):
        vector = exr_attr("notes", "stringvector", struct.pack("<i", 0) * strings)
        data = exr_file([("scanlineimage", _compression(0) + exr_window(8, 4) + vector, 4)])
        path.write_bytes(data)
        problems = read_exr_header(path)["problems"]
        if missing is None:
            assert problems == [] and missing_part(str(path), len(data)) is None
        else:
            assert problems == [
                "header too large: more than 65536 strings in stringvector values in all parts"
                " (at 'notes' in part 0); the rest was not read"
            ]
            assert missing_part(str(path), len(data)) == Missing(problems[0], damaged=True)


def test_exr_of_an_unknown_layout_waits_only_for_its_header(tmp_path: Path) -> None:
    """A compression or part type this check does not know: the number of chunks is unknown,
    so the quiet period decides once every header is in the file; a part's ``chunkCount``
    still sizes its table when the header has one."""
    path = tmp_path / "a.exr"
    attrs = _compression(42) + exr_window(8, 64) + _PREVIEW
    unknown = exr_file([("scanlineimage", attrs, 5)])
    assert _is_complete(path, unknown)
    assert _is_complete(path, exr_file([("scanlineimage", attrs, 5)], offsets=False))
    header_end = 8 + len(attrs) + 1  # magic, version, attributes, the NUL that ends them
    for cut in (8, 100, 70_000, header_end - 1):
        assert not _is_complete(path, unknown[:cut]), cut
    # a multi-part file with chunkCount: known however its compression is
    parts = [
        ("scanlineimage", _compression(42) + exr_window(8, 64), 5),
        ("scanlineimage", _compression(0) + exr_window(8, 2), 2),
    ]
    assert _is_complete(path, exr_file(parts))
    assert not _is_complete(path, exr_file(parts, offsets=False))
    assert not _is_complete(path, exr_file(parts)[:-1])


def test_exr_layouts_the_check_models_are_audited_once(tmp_path: Path) -> None:
    """A header past 64 KiB, HTJ2K, tiles, deep data and several parts: each complete EXR is
    audited (once), none waits for ``incomplete_timeout``."""
    root = make_show(tmp_path)
    comp = root / "comp"
    steps = [("mkdirs", str(comp))] + [
        ("write", str(comp / name), exr_file(parts)) for name, parts in _LAYOUTS
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, len(_LAYOUTS))
        quiet(root, 1.0)
    assert_once(root, [f"comp/{name}" for name, _ in _LAYOUTS])


def _paused_render(path: str, pause: float) -> None:
    """Write a multi-part EXR the way OpenEXR does — headers, zeroed offset tables, chunks,
    then the real tables when the file is closed — pausing halfway through the chunks."""
    unfinished = exr_file(_LAYOUTS[-1][1], offsets=False)
    final = exr_file(_LAYOUTS[-1][1])
    first = next(i for i, (a, b) in enumerate(zip(unfinished, final, strict=True)) if a != b)
    last = len(final) - next(
        i for i, (a, b) in enumerate(zip(unfinished[::-1], final[::-1], strict=True)) if a != b
    )
    half = (last + len(final)) // 2
    with open(path, "wb") as f:
        f.write(unfinished[:half])
        f.flush()
        time.sleep(pause)
        f.write(unfinished[half:])
        f.flush()
        f.seek(first)
        f.write(final[first:last])


def test_s5_multipart_exr_paused_mid_file_is_not_audited_until_finished(tmp_path: Path) -> None:
    """S5 for a multi-part EXR: the renderer pauses 4x --settle with half its chunks written
    and the offset tables still zero; the file is audited once, when it is finished."""
    root = make_show(tmp_path)
    path = root / "comp" / "beauty.exr"
    path.parent.mkdir(parents=True)
    with InProcessWatcher(root):
        run_writer(_paused_render, str(path), 4 * 0.3)
        wait_audited(root, 1)
        quiet(root, 1.5)
    assert_once(root, ["comp/beauty.exr"])
    recorded = _final_file(audited(root)[0], root)
    assert recorded["size"] == len(exr_file(_LAYOUTS[-1][1]))
    assert recorded["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
