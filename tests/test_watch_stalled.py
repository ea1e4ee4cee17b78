"""Files that never become complete (WATCH.md S5 past its pause; docs/watch.md "Complete").

An EXR whose offset table is still zero, or that ends early, may be a render still at work,
so the watcher waits — but not for ever: after ``--stalled`` seconds without a change it is
audited as it is, and a damaged file (a header no writer leaves behind) is audited at once.
Either way the audit is unsure (``PRV-02`` names the file and what it lacks), never a pass,
and a ``watch.error`` names the file; a later version (the writer finishing) is audited again
and supersedes it. Real files, a real watcher, the real CLI where the option is the CLI's.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from _watch_harness import (
    InProcessWatcher,
    WatchProcess,
    audited,
    events,
    exr_attr,
    exr_bytes,
    exr_file,
    exr_window,
    ledger,
    make_show,
    quiet,
    run_writer,
    state_store_at,
    wait_audited,
    writer_script,
)

#: a 64 x 48 image in 16 x 16 tiles: 12 tiles, one offset table entry each
_TILED = [
    (
        "tiledimage",
        exr_attr("compression", "compression", b"\x00")
        + exr_window(64, 48)
        + exr_attr("tiles", "tiledesc", struct.pack("<IIB", 16, 16, 0)),
        12,
    )
]
_UNFILLED = (
    "entry 0 of 12 in part 0's offset table is not filled in "
    "(OpenEXR fills the tables in when it closes the file)"
)


def _findings(root: Path, audit: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings of ``audit``: its asset's, written after its previous audit."""
    asset, seq = audit["asset"], audit["seq"]
    before = [e["seq"] for e in audited(root) if e["asset"] == asset and e["seq"] < seq]
    after = max(before, default=-1)
    return [e for e in events(root, "finding") if e["asset"] == asset and after < e["seq"] < seq]


def _prv02(root: Path, audit: dict[str, Any]) -> dict[str, Any]:
    (finding,) = [f for f in _findings(root, audit) if f["rule"] == "PRV-02"]
    assert finding["outcome"] == "escalate"
    return finding


def test_an_exr_left_unfinished_is_audited_unsure_after_stalled_seconds(tmp_path: Path) -> None:
    """A tiled EXR whose offset table is still zero, through the real CLI with
    ``--stalled 1.5``: not audited while it may still be written; then a watch.error names
    it and it is audited as it is, ``PRV-02`` saying which table entry is not filled in.
    When the writer finishes (the table written), that version is audited again, complete,
    superseding the unsure audit."""
    root = make_show(tmp_path)
    path = root / "comp" / "tiled.exr"
    with WatchProcess(root, "--stalled", "1.5", "--sidecar-grace", "0.2"):
        run_writer(writer_script, [("write", str(path), exr_file(_TILED, offsets=False))])
        (first,) = wait_audited(root, 1)
        (error,) = events(root, "watch.error")
        assert error["seq"] < first["seq"]
        assert error["details"]["reason"] == "incomplete"
        assert error["details"]["path"] == str(path)
        assert error["details"]["missing"] == _UNFILLED
        assert error["details"]["damaged"] is False
        assert error["details"]["quiet_s"] >= 1.5  # waited for the stalled period
        assert str(path) in error["message"] and "audited as it is" in error["message"]
        assert first["outcome"] != "pass"
        watch = first["details"]["watch"]
        assert watch["incomplete"] == {"comp/tiled.exr": watch["incomplete"]["comp/tiled.exr"]}
        assert watch["incomplete"]["comp/tiled.exr"].startswith(f"incomplete: {_UNFILLED}")
        finding = _prv02(root, first)
        assert f"comp/tiled.exr: exr: incomplete: {_UNFILLED}" in finding["message"]
        assert finding["details"]["evidence"]["errors"][0]["file"] == "comp/tiled.exr"

        run_writer(writer_script, [("write", str(path), exr_file(_TILED))])  # it finishes
        second = wait_audited(root, 2)[1]
        quiet(root, 1.0)
    assert len(audited(root)) == 2
    assert second["details"]["watch"]["reason"] == "changed"
    assert second["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
    assert "incomplete" not in second["details"]["watch"]
    assert not [f for f in _findings(root, second) if f["rule"] == "PRV-02"]
    assert len(events(root, "watch.error")) == 1
    assert ledger(root).counts().get("audited") == 1


def test_a_damaged_file_is_audited_unsure_without_waiting(tmp_path: Path) -> None:
    """Headers no writer leaves behind on its way — not an EXR at all, a name longer than
    any, a header past the parser's bounds — and a PNG without its signature: waiting cannot
    complete them, so they are audited once settled (the stalled period is an hour here),
    each unsure, with a watch.error that says ``damaged``."""
    root = make_show(tmp_path)
    comp = root / "comp"
    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2)
    hostile = head + b"".join(exr_attr(f"a{i}", "int", b"\0\0\0\0") for i in range(4097))
    files = {
        "fake.exr": b"this is not an EXR file at all, but its name says so",
        "long.exr": head + b"x" * 5000,
        "hostile.exr": hostile + b"\x00",
        "fake.png": b"GIF89a" + bytes(64),
    }
    steps = [("write", str(comp / name), data) for name, data in files.items()]
    with InProcessWatcher(root, incomplete_timeout=3600.0):
        run_writer(writer_script, steps)
        wait_audited(root, len(files))
        quiet(root, 1.0)
    errors = {Path(e["details"]["path"]).name: e for e in events(root, "watch.error")}
    assert sorted(errors) == sorted(files)
    assert all(e["details"]["damaged"] is True for e in errors.values())
    assert errors["hostile.exr"]["details"]["missing"] == (
        "header too large: part 0 has more than 4096 attributes (the next is 'a4096'); "
        "the rest was not read"
    )
    assert errors["fake.png"]["details"]["missing"] == "not a PNG file (bad signature)"
    for audit in audited(root):
        name = audit["asset"]
        assert audit["outcome"] != "pass", name
        reason = audit["details"]["watch"]["incomplete"][name]
        assert reason == "damaged: " + errors[name.split("/")[-1]]["details"]["missing"]
        assert f"{name}: {name.rsplit('.', 1)[1]}: {reason}" in _prv02(root, audit)["message"]


def test_a_png_with_a_trailer_is_audited_at_once_as_scan_reads_it(tmp_path: Path) -> None:
    """Bytes after IEND (phone and app tools, padded copies leave them): scan reads the PNG
    whole, and the watcher, the stalled period an hour, audits it once settled, complete
    (no watch.error, no PRV-02), not an hour later and unsure."""
    pytest.importorskip("PIL")
    from _embedded import CAPTURE, write_png, xmp_packet

    root = make_show(tmp_path)
    source = write_png(tmp_path / "src.png", xmp_packet(CAPTURE), size=(64, 64))
    path = root / "comp" / "plate.png"
    with InProcessWatcher(root, incomplete_timeout=3600.0):
        run_writer(writer_script, [("write", str(path), source.read_bytes() + bytes(16))])
        (audit,) = wait_audited(root, 1)
        quiet(root, 1.0)
    assert events(root, "watch.error") == []
    assert "incomplete" not in audit["details"]["watch"]
    assert not [f for f in _findings(root, audit) if f["rule"] == "PRV-02"]


def test_a_stalled_frame_keeps_its_sequence_unsure_in_every_later_audit(tmp_path: Path) -> None:
    """Frame 1002 of a sequence never gets its offset table. After the stalled period the
    sequence is audited, unsure, naming that frame. The audits that follow — frames added,
    the sidecar landing late, frames added after a restart of the watcher — cover the same
    version of that frame, and each says so again (the ledger keeps what it lacks)."""
    root = make_show(tmp_path)
    renders = root / "renders"
    frame = str(renders / "sh010.{}.exr")
    steps: list[tuple[Any, ...]] = [("write", frame.format(1001), exr_bytes(seed=1))]
    steps.append(("write", frame.format(1002), exr_file(_TILED, offsets=False)))
    steps.append(("write", frame.format(1003), exr_bytes(seed=3)))
    stalled = "renders/sh010.1002.exr"

    def check(audit: dict[str, Any], reason: str) -> None:
        assert audit["asset"] == "renders/sh010.####.exr"
        assert audit["details"]["watch"]["reason"] == reason
        assert list(audit["details"]["watch"]["incomplete"]) == [stalled]
        assert f"{stalled}: exr: incomplete: {_UNFILLED}" in _prv02(root, audit)["message"]

    with InProcessWatcher(root, incomplete_timeout=1.0):
        run_writer(writer_script, steps)
        check(wait_audited(root, 1)[0], "new")
        run_writer(writer_script, [("write", frame.format(1004), exr_bytes(seed=4))])
        check(wait_audited(root, 2)[1], "sequence-grown")
        sidecar = renders / "sh010.genai.yaml"
        run_writer(writer_script, [("write", str(sidecar), "provenance: 1\ngenerated: false\n")])
        check(wait_audited(root, 3)[2], "sidecar-late")
    with InProcessWatcher(root, incomplete_timeout=1.0):
        run_writer(writer_script, [("write", frame.format(1005), exr_bytes(seed=5))])
        last = wait_audited(root, 4)[3]
        quiet(root, 1.0)
    check(last, "sequence-grown")
    assert last["details"]["frames"] == "1001-1005"
    assert len(audited(root)) == 4
    assert len(events(root, "watch.error")) == 1  # the frame was waited for once


def test_what_the_check_calls_damaged_and_what_it_waits_for(tmp_path: Path) -> None:
    """Unfinished (a writer on its way finishes it: waited for, up to ``--stalled``): a file
    that ends early, a table still zero, a last chunk cut. Damaged (audited at once): a bad
    magic number or signature, a corrupt or oversized header, offsets into the headers."""
    from clearance.provenance.exr import read_exr_header
    from clearance.watch_readiness import missing_part

    path = tmp_path / "a.exr"

    def missing(data: bytes) -> tuple[str, bool]:
        path.write_bytes(data)
        found = missing_part(str(path), len(data))
        assert found is not None
        return found.reason, found.damaged

    whole = exr_file(_TILED)
    assert missing(whole[:30])[1] is False
    assert missing(exr_file(_TILED, offsets=False)) == (_UNFILLED, False)
    assert missing(whole[:-1])[1] is False
    assert missing(b"P6\n4 4\n255\n" + bytes(48)) == (
        "not an OpenEXR file (bad magic number)",
        True,
    )
    path.write_bytes(whole)
    table = read_exr_header(path)["header_end"]  # the first offset
    bad = whole[:table] + struct.pack("<Q", 9) + whole[table + 8 :]
    assert missing(bad) == (
        "entry 0 of 12 in part 0's offset table points into the headers (byte 9)",
        True,
    )


def test_the_ledger_keeps_what_a_version_lacked(tmp_path: Path) -> None:
    """The ledger records, with each version audited as it was, what it lacked; an audit
    covering the same version again, or a new version recorded as identical to it, keeps
    it; a complete version has none; a ledger made before (schema 4) gains the column."""
    import time

    from clearance.state import MIGRATIONS, AuditIntent, FileVersion, StateStore

    old = tmp_path / "old.db"
    state_store_at(old, 4)
    store = StateStore(old)
    assert store.schema_version == len(MIGRATIONS)
    lacking, whole, again = (FileVersion(f"/r/f.{n}.exr", 1, n, 10, n, n) for n in (2, 1, 3))

    def intent(audit_id: str, files: list[FileVersion], **incomplete: str) -> AuditIntent:
        return AuditIntent(
            audit_id,
            asset="r/f.####.exr",
            stage="comp",
            reason="new",
            pairing="missing",
            sidecar=None,
            sidecar_fp=None,
            supersedes=None,
            frames=None,
            files=[(v, "sha") for v in files],
            settled_at=time.time(),
            incomplete={f"/r/f.{k[1:]}.exr": v for k, v in incomplete.items()},
        )

    store.begin_audits([intent("a1", [whole, lacking], f2="incomplete: table")])
    store.finish_audits([("a1", "escalate", [whole, lacking])])
    assert store.incomplete_versions([whole, lacking]) == {lacking: "incomplete: table"}
    store.begin_audits([intent("a2", [whole, lacking])])  # a later audit: nothing new said
    store.finish_audits([("a2", "escalate", [whole, lacking])])
    assert store.incomplete_versions([lacking]) == {lacking: "incomplete: table"}
    store.record_identical("a2", [(again, "sha")], incomplete={again.path: "incomplete: t3"})
    assert store.incomplete_versions([again, whole]) == {again: "incomplete: t3"}
    store.close()
