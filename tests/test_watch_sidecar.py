"""Sidecar pairing and re-renders (WATCH.md S10, S11; issue 4 items 4-5).

Times are scaled down: the grace window is ~1 s here instead of the default 30 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from _watch_harness import (
    SIDECAR,
    InProcessWatcher,
    audited,
    events,
    exr_bytes,
    ledger,
    make_show,
    quiet,
    run_writer,
    scan_verdicts,
    wait_audited,
    wait_for,
    watch_verdicts,
    writer_script,
)
from clearance.provenance.c2pa import sdk_available
from clearance.watch_readiness import FileSystem
from conftest import CLEARANCE

needs_sdk = pytest.mark.skipif(
    not sdk_available(), reason="c2pa-python (genai-clearance[c2pa]) not installed"
)


def _rules(root: Path, asset: str) -> list[str]:
    return [e["rule"] for e in events(root, "finding") if e["asset"] == asset]


def test_s10_sidecar_within_the_window_is_paired_once(tmp_path: Path) -> None:
    """S10a: the sidecar lands 1 s after its asset, inside a 3 s window → one audit, paired, no PRV-01."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root, sidecar_grace=3.0):
        run_writer(
            writer_script,
            [
                ("exr", str(comp / "a.exr"), 1),
                ("sleep", 1.0),
                ("write", str(comp / "a.exr.genai.yaml"), SIDECAR),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["watch"]["pairing"] == "paired"
    assert event["details"]["sidecar"] == "comp/a.exr.genai.yaml"
    assert "PRV-01" not in _rules(root, "comp/a.exr")


def test_s10_sidecar_after_the_window_resolves_missing_provenance(tmp_path: Path) -> None:
    """S10b: no sidecar within the window → audited with PRV-01 ("missing"); the sidecar then
    arrives → a second audit records the resolution ("late"), superseding the first."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root, sidecar_grace=0.8):
        run_writer(writer_script, [("exr", str(comp / "b.exr"), 1)])
        wait_audited(root, 1)
        run_writer(writer_script, [("write", str(comp / "b.exr.genai.yaml"), SIDECAR)])
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert first["details"]["watch"]["pairing"] == "missing"
    assert "PRV-01" in [e["rule"] for e in events(root, "finding") if e["seq"] < first["seq"]]
    assert second["details"]["watch"]["reason"] == "sidecar-late"
    assert second["details"]["watch"]["pairing"] == "late"
    assert second["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
    assert "resolution" in second["details"]["watch"]
    rows = ledger(root).audits("comp/b.exr")
    assert [r.state for r in rows] == ["superseded", "audited"]


def test_s10_sidecar_first_then_asset_is_paired(tmp_path: Path) -> None:
    """S10c: sidecar written before the asset → paired at the asset's first audit."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(comp / "c.exr.genai.yaml"), SIDECAR),
                ("sleep", 0.5),
                ("exr", str(comp / "c.exr"), 1),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["watch"]["pairing"] == "paired"


def test_s10_malformed_sidecar_gives_a_finding_and_the_watcher_keeps_running(
    tmp_path: Path,
) -> None:
    """S10d: a sidecar that does not parse → PRV-02 on that asset; the next asset is still audited."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(comp / "d.exr.genai.yaml"), "provenance: [1,\n  bad: {"),
                ("exr", str(comp / "d.exr"), 1),
            ],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script,
            [("write", str(comp / "e.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "e.exr"), 2)],
        )
        wait_audited(root, 2)
    assert "PRV-02" in _rules(root, "comp/d.exr")
    assert {e["asset"] for e in audited(root)} == {"comp/d.exr", "comp/e.exr"}


def test_s10_non_atomic_sidecar_is_read_after_it_settles(tmp_path: Path) -> None:
    """S10e: the sidecar is written in pieces while its asset is already complete: the asset
    waits for the sidecar to settle, so the half-written YAML is never read (no PRV-02)."""
    root = make_show(tmp_path)
    comp = root / "comp"
    sidecar = comp / "f.exr.genai.yaml"
    text = SIDECAR + "shot: sh010\n"
    steps = [("write", str(sidecar), text[:10]), ("exr", str(comp / "f.exr"), 1)]
    for end in range(20, len(text) + 10, 10):
        steps += [("sleep", 0.15), ("write", str(sidecar), text[:end])]
    with InProcessWatcher(root, sidecar_grace=3.0):
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["watch"]["pairing"] == "paired"
    assert "PRV-02" not in _rules(root, "comp/f.exr")


def test_s10_sidecar_rewritten_later_reaudits(tmp_path: Path) -> None:
    """S10f (issue item 5): a sidecar rewritten after the audit → re-audit, reason sidecar-changed."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "g.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "g.exr"), 1)],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script, [("write", str(comp / "g.exr.genai.yaml"), SIDECAR + "shot: sh020\n")]
        )
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert second["details"]["watch"]["reason"] == "sidecar-changed"
    assert second["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]


#: SIDECAR, rewritten to declare GenAI with the same number of bytes
GENAI_SIDECAR = SIDECAR.replace("generated: false", "generated: true ")


def _scan_outcome(root: Path, asset: str, tmp_path: Path) -> str:
    """What ``clearance scan`` (the real CLI) says of ``asset`` now, on a copy of the tree
    (its own log and state store: the watcher's are left as they are)."""
    copy = tmp_path / "scan-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".clearance"))
    proc = subprocess.run(
        [CLEARANCE, "scan", str(copy), "--format", "json", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    [found] = [a for a in json.loads(proc.stdout)["assets"] if a["asset"] == asset]
    return str(found["outcome"])


def test_a_sidecar_rewritten_in_place_with_its_mtime_put_back_reaudits(tmp_path: Path) -> None:
    """A sidecar rewritten in place with content of the same size and its mtime put back
    (``cp -p``, ``rsync -t``) is a new version, as for ``scan`` (its ctime moved on): audited
    again with the verdict ``scan`` gives — live (it now declares GenAI: no longer a pass),
    and when it happens while the watcher is down (the start-up reconcile); a restart with
    nothing changed audits nothing."""
    root = make_show(tmp_path)
    comp = root / "comp"
    sidecar = comp / "m.exr.genai.yaml"
    assert len(GENAI_SIDECAR) == len(SIDECAR)
    with InProcessWatcher(root):
        run_writer(
            writer_script, [("write", str(sidecar), SIDECAR), ("exr", str(comp / "m.exr"), 1)]
        )
        wait_audited(root, 1)
        run_writer(writer_script, [("rewrite_keep_mtime", str(sidecar), GENAI_SIDECAR)])
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert first["outcome"] == "pass"
    assert second["details"]["watch"]["reason"] == "sidecar-changed"
    assert second["outcome"] == _scan_outcome(root, "comp/m.exr", tmp_path) != "pass"
    run_writer(writer_script, [("rewrite_keep_mtime", str(sidecar), SIDECAR)])
    with InProcessWatcher(root):
        wait_audited(root, 3)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 3
    assert events_[2]["details"]["watch"]["reason"] == "sidecar-changed"
    assert events_[2]["outcome"] == _scan_outcome(root, "comp/m.exr", tmp_path) == "pass"


def test_an_asset_rewritten_in_place_with_its_mtime_put_back_reaudits(tmp_path: Path) -> None:
    """An asset rewritten in place with other bytes of the same size and its mtime put back
    is a new version (its ctime moved on): audited again (``changed``), live and when it
    happens while the watcher is down; the version audited is the one on disk."""
    root = make_show(tmp_path)
    comp = root / "comp"
    path = comp / "n.exr"
    v1, v2, v3 = (exr_bytes(seed=n) for n in (1, 2, 3))
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "n.exr.genai.yaml"), SIDECAR), ("write", str(path), v1)],
        )
        wait_audited(root, 1)
        run_writer(writer_script, [("rewrite_keep_mtime", str(path), v2)])
        wait_audited(root, 2)
        quiet(root, 1.5)
    run_writer(writer_script, [("rewrite_keep_mtime", str(path), v3)])
    with InProcessWatcher(root):
        wait_audited(root, 3)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    watch = [e["details"]["watch"] for e in audited(root)]
    assert [w["reason"] for w in watch] == ["new", "changed", "changed"]
    digests = [w["files"][0]["sha256"] for w in watch]
    assert digests == [hashlib.sha256(v).hexdigest() for v in (v1, v2, v3)]
    st = path.stat()
    assert watch[-1]["files"][0]["ctime_ns"] == st.st_ctime_ns


def _as_written_before_ctime(db_path: Path) -> None:
    """Make the ledger at ``db_path`` what the Clearance before ``ctime_ns`` wrote (schema 5:
    file versions and sidecar versions without the ctime)."""
    import sqlite3

    db = sqlite3.connect(db_path, isolation_level=None)
    columns = "id, path, dev, ino, size, mtime_ns, sha256, state, audit_id, updated, incomplete"
    db.execute("BEGIN")
    db.execute(
        "CREATE TABLE old (id INTEGER PRIMARY KEY, path TEXT NOT NULL, dev INTEGER NOT NULL, "
        "ino INTEGER NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT, "
        "state TEXT NOT NULL, audit_id TEXT, updated REAL NOT NULL, incomplete TEXT, "
        "UNIQUE (path, dev, ino, size, mtime_ns))"
    )
    db.execute(f"INSERT INTO old ({columns}) SELECT {columns} FROM files")
    db.execute("DROP TABLE files")
    db.execute("ALTER TABLE old RENAME TO files")
    db.execute("CREATE INDEX files_path ON files (path)")
    # its audit ids hashed the versions without the ctime: not the ones this one derives
    db.execute("UPDATE files SET audit_id='old' || audit_id")
    db.execute("UPDATE audits SET audit_id='old' || audit_id, supersedes='old' || supersedes")
    for audit_id, fp in db.execute("SELECT audit_id, sidecar_fp FROM audits").fetchall():
        if fp is not None:
            old = ":".join(fp.split(":")[:4])
            db.execute("UPDATE audits SET sidecar_fp=? WHERE audit_id=?", (old, audit_id))
    db.execute("PRAGMA user_version=5")
    db.execute("COMMIT")
    db.close()


def test_a_ledger_written_before_ctime_opens_and_reaudits_at_most_once(tmp_path: Path) -> None:
    """A ledger from before file versions had the ctime opens (migrated): at the first start
    each file is looked at again — an asset with a sidecar is audited once more
    (``changed``: the versions recorded lack the ctime), one whose bytes are the audited ones without a sidecar is only
    recorded — and the next start audits nothing."""
    from clearance.state import MIGRATIONS

    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(comp / "u.exr.genai.yaml"), SIDECAR),
                ("exr", str(comp / "u.exr"), 1),
                ("exr", str(comp / "v.exr"), 2),
            ],
        )
        wait_audited(root, 2)
        quiet(root, 1.5)
    _as_written_before_ctime(root / ".clearance" / "state.db")
    with InProcessWatcher(root):
        wait_audited(root, 3)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    assert ledger(root).schema_version == len(MIGRATIONS)
    events_ = audited(root)
    assert [e["asset"] for e in events_][2:] == ["comp/u.exr"]
    assert events_[2]["details"]["watch"]["reason"] == "changed"
    assert events_[2]["outcome"] == events_[0]["outcome"]


def test_s10_sequence_sidecar_pairs_with_the_whole_sequence(tmp_path: Path) -> None:
    """A sequence ``PREFIX.####.exr`` pairs with ``PREFIX.genai.yaml`` and is audited once as a unit."""
    root = make_show(tmp_path)
    seq = root / "renders" / "sh010"
    steps = [("write", str(seq / "bg_v001.genai.yaml"), SIDECAR)]
    steps += [("exr", str(seq / f"bg_v001.{i}.exr"), i) for i in range(1001, 1021)]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["asset"] == "renders/sh010/bg_v001.####.exr"
    assert event["details"]["frames"] == "1001-1020"
    assert event["details"]["watch"]["pairing"] == "paired"


def test_sequence_extended_later_is_audited_again_as_a_new_version(tmp_path: Path) -> None:
    """Issue item 4: frames added after the sequence was audited → one new audit of the whole
    sequence (reason sequence-grown), superseding the first."""
    root = make_show(tmp_path)
    seq = root / "renders" / "sh020"
    first = [("write", str(seq / "fx.genai.yaml"), SIDECAR)] + [
        ("exr", str(seq / f"fx.{i}.exr"), i) for i in range(1, 6)
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, first)
        wait_audited(root, 1)
        quiet(root, 1.0)
        run_writer(writer_script, [("exr", str(seq / f"fx.{i}.exr"), i) for i in range(6, 11)])
        wait_audited(root, 2)
        quiet(root, 1.5)
    a, b = audited(root)
    assert a["details"]["frames"] == "1-5" and b["details"]["frames"] == "1-10"
    assert b["details"]["watch"]["reason"] == "sequence-grown"
    assert b["details"]["watch"]["supersedes"] == a["details"]["watch"]["audit_id"]


def test_s11_rerender_same_path_is_a_new_version_and_identical_rewrite_is_not(
    tmp_path: Path,
) -> None:
    """S11: truncate+rewrite with new pixels, and rename-over (new inode) → a second and third
    audit, each superseding the previous; an identical rewrite (same bytes) → no new audit."""
    root = make_show(tmp_path)
    comp = root / "comp"
    path = comp / "h.exr"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "h.exr.genai.yaml"), SIDECAR), ("exr", str(path), 1)],
        )
        wait_audited(root, 1)
        run_writer(writer_script, [("truncate_rewrite", str(path), exr_bytes(seed=2))])
        wait_audited(root, 2)
        run_writer(
            writer_script,
            [
                ("write", str(comp / "h.tmp"), exr_bytes(seed=3)),
                ("rename", str(comp / "h.tmp"), str(path)),
            ],
        )
        wait_audited(root, 3)
        run_writer(
            writer_script, [("truncate_rewrite", str(path), exr_bytes(seed=3))]
        )  # same bytes again
        quiet(root, 2.0)
    events_ = audited(root)
    assert len(events_) == 3
    ids = [e["details"]["watch"]["audit_id"] for e in events_]
    assert [e["details"]["watch"]["reason"] for e in events_] == ["new", "changed", "changed"]
    assert events_[1]["details"]["watch"]["supersedes"] == ids[0]
    assert events_[2]["details"]["watch"]["supersedes"] == ids[1]
    store = ledger(root)
    versions = store.query(
        "SELECT state, audit_id FROM files WHERE path=? ORDER BY id", (str(path),)
    )
    assert [s for s, _ in versions] == ["superseded", "superseded", "superseded", "audited"]
    assert versions[-1][1] == ids[2]  # the identical rewrite is covered by the third audit


def test_s11_a_restored_older_version_is_audited_again(tmp_path: Path) -> None:
    """S11: v1 audited, set aside; v2 published and audited; v1 moved back onto the path →
    audited again (reason changed, superseding v2's audit, with v1's bytes), so the latest
    audit describes what is on disk. The same when the swap happens while the watcher is
    down (the start-up reconcile), and a restart with nothing changed audits nothing."""
    root = make_show(tmp_path)
    comp = root / "comp"
    path = comp / "x.exr"
    aside = {n: str(comp / f"x.exr.{n}") for n in ("v1", "v2")}
    v1, v2 = exr_bytes(seed=1), exr_bytes(seed=2)
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "x.exr.genai.yaml"), SIDECAR), ("write", str(path), v1)],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script,
            [
                ("rename", str(path), aside["v1"]),
                ("write", str(comp / "x.tmp"), v2),
                ("rename", str(comp / "x.tmp"), str(path)),
            ],
        )
        wait_audited(root, 2)
        run_writer(writer_script, [("rename", str(path), aside["v2"])])
        run_writer(writer_script, [("rename", aside["v1"], str(path))])
        wait_audited(root, 3)
        quiet(root, 1.5)
    run_writer(writer_script, [("rename", str(path), aside["v1"])])
    run_writer(writer_script, [("rename", aside["v2"], str(path))])
    with InProcessWatcher(root):
        wait_audited(root, 4)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 4
    watch = [e["details"]["watch"] for e in events_]
    assert [w["reason"] for w in watch] == ["new", "changed", "changed", "changed"]
    assert [w["supersedes"] for w in watch[1:]] == [w["audit_id"] for w in watch[:-1]]
    assert len({w["audit_id"] for w in watch}) == 4  # a restored version gets a new audit id
    digests = [w["files"][0]["sha256"] for w in watch]
    assert digests == [hashlib.sha256(v).hexdigest() for v in (v1, v2, v1, v2)]
    store = ledger(root)
    assert [r.state for r in store.audits("comp/x.exr")] == ["superseded"] * 3 + ["audited"]
    (current,) = store.query(
        "SELECT audit_id FROM files WHERE path=? AND state='audited'", (str(path),)
    )
    assert current[0] == watch[-1]["audit_id"]


@needs_sdk
def test_s10_a_c2pa_manifest_that_lands_after_its_asset_reaudits_it(tmp_path: Path) -> None:
    """S10 for detached C2PA manifests (WATCH.md §4: written before or after the asset, no
    ordering): ``x.exr.c2pa`` landing after ``x.exr`` was audited → audited again (reason
    sidecar-late, the manifest read); rewritten → again (sidecar-changed); ``y.c2pa`` landing
    while the watcher is down → the start-up reconcile audits ``y.exr`` again; a restart with
    nothing changed audits nothing."""
    from _embedded import CAPTURE, TRAINED, c2pa_manifest, make_pki, sign

    root = make_show(tmp_path)
    comp = root / "comp"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    manifests = {}
    for name, manifest, source in [
        ("x.exr.c2pa", "x-trained", TRAINED),
        ("x.exr.c2pa", "x-capture", CAPTURE),
        ("y.c2pa", "y", TRAINED),
    ]:
        asset = stage / f"{name[0]}.exr"
        asset.write_bytes(exr_bytes(seed=ord(name[0])))
        sign(asset, asset, pki, c2pa_manifest(source), sidecar=stage / name)
        manifests[manifest] = (stage / name).read_bytes()
    setup = [("mkdirs", str(comp))]
    for n in "xy":
        setup += [
            ("write", str(comp / f"{n}.exr.genai.yaml"), SIDECAR),
            ("write", str(comp / f"{n}.exr"), (stage / f"{n}.exr").read_bytes()),
        ]
    with InProcessWatcher(root):
        run_writer(writer_script, setup)
        wait_audited(root, 2)
        run_writer(writer_script, [("write", str(comp / "x.exr.c2pa"), manifests["x-trained"])])
        wait_audited(root, 3)
        run_writer(writer_script, [("write", str(comp / "x.exr.c2pa"), manifests["x-capture"])])
        wait_audited(root, 4)
        quiet(root, 1.5)
    run_writer(writer_script, [("write", str(comp / "y.c2pa"), manifests["y"])])
    with InProcessWatcher(root):
        wait_audited(root, 5)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 5
    first = {e["asset"]: e for e in events_[:2]}
    late, changed, restarted = events_[2:]
    assert [e["asset"] for e in (late, changed, restarted)] == ["comp/x.exr"] * 2 + ["comp/y.exr"]
    for event, reason, before in [
        (late, "sidecar-late", first["comp/x.exr"]),
        (changed, "sidecar-changed", late),
        (restarted, "sidecar-late", first["comp/y.exr"]),
    ]:
        watch = event["details"]["watch"]
        assert watch["reason"] == reason
        assert watch["pairing"] == "paired"  # the YAML sidecar was there all along
        assert watch["supersedes"] == before["details"]["watch"]["audit_id"]
        assert "c2pa" in event["details"]["sources"]
        assert "c2pa" not in before["details"]["sources"] or before is late
    assert late["details"]["watch"]["manifest"] == "comp/x.exr.c2pa"
    assert "C2PA" in late["details"]["watch"]["resolution"]
    assert restarted["details"]["watch"]["manifest"] == "comp/y.c2pa"
    # the YAML says "not generated", the manifest "trained": the conflict is found
    assert "PRV-04" in [
        e["rule"]
        for e in events(root, "finding")
        if e["asset"] == "comp/x.exr" and first["comp/x.exr"]["seq"] < e["seq"] < changed["seq"]
    ]


def test_the_watcher_keys_audits_on_the_manifest_the_c2pa_reader_reads(tmp_path: Path) -> None:
    """``detached_manifest`` (the watcher) names the file ``sidecar_manifest`` (the C2PA
    reader) reads, for every arrangement of ``NAME.EXT.c2pa`` and ``NAME.c2pa``."""
    from clearance.provenance.c2pa import sidecar_manifest
    from clearance.watch_readiness import detached_manifest

    for names in [[], ["a.exr.c2pa"], ["a.c2pa"], ["a.exr.c2pa", "a.c2pa"], ["a.exr.c2pa/"]]:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        for name in names:
            if name.endswith("/"):
                (folder / name).mkdir()  # a folder by that name is no manifest
            else:
                (folder / name).write_bytes(b"manifest")
        for asset in ("a.exr", "a", "a.1001.exr"):
            read = sidecar_manifest(folder / asset)
            found, fp = detached_manifest(str(folder / asset))
            assert found == (str(read) if read else None), (names, asset)
            assert (fp == "-") == (read is None)


def test_every_consumer_of_detached_manifests_considers_the_names_the_c2pa_reader_tries(
    tmp_path: Path,
) -> None:
    """One list of detached C2PA manifest names (``c2pa.manifest_names``), and four consumers
    that agree on it: the C2PA reader (what it reads, in its order), the provenance cache (a
    manifest it may read changes the fingerprint), the watcher's ``detached_manifest`` (the
    one recorded as read) and its pairing (what an asset waits for while it settles, and
    which assets a manifest that settles sends to be audited again). For a single file, a
    sequence whose PREFIX has a dot in it, and a name without an extension."""
    import os

    from clearance.cache import ProvenanceCache
    from clearance.discover import discover
    from clearance.model import Asset
    from clearance.policy import default_policy
    from clearance.provenance import c2pa
    from clearance.watch import Watcher
    from clearance.watch_pairing import _key_for, manifests_read
    from clearance.watch_readiness import detached_manifest

    cases = {
        "a.exr": (["a.exr"], ["a.exr.c2pa", "a.c2pa"]),
        "sh010.v002.####.exr": (
            ["sh010.v002.1001.exr", "sh010.v002.1002.exr"],
            ["sh010.v002.1001.exr.c2pa", "sh010.v002.1001.c2pa", "sh010.v002.c2pa"],
        ),
        "a": (["a"], ["a.c2pa"]),
    }
    cache = ProvenanceCache(tmp_path / "cache.db", readers=["c2pa"], settings={}, version="t")
    folders = iter(range(1000))

    def show(files: list[str], manifests: list[str]) -> tuple[Path, Asset, Watcher]:
        folder = tmp_path / str(next(folders))
        folder.mkdir()
        for name in files:
            (folder / name).write_bytes(exr_bytes() if name.endswith(".exr") else b"raw plate")
        for name in manifests:
            (folder / name).write_bytes(b"manifest")
        policy = default_policy(folder)
        policy.extensions = policy.extensions | {""}  # "" makes a name without a dot an asset
        policy.settings = {"c2pa": {"verify": False}}
        (asset,) = discover([folder], policy).assets
        return folder, asset, Watcher(policy, [folder])

    for rel, (files, expected) in cases.items():
        # every name a consumer might take: each file name and each of its dotted prefixes
        universe = {rel + ".c2pa"} | {
            ".".join(f.split(".")[:i]) + ".c2pa" for f in files for i in range(1, f.count(".") + 2)
        }
        considered: dict[str, set[str]] = {
            consumer: set()
            for consumer in (
                "reader",
                "cache",
                "watcher's manifest version",
                "pairing waits",
                "pairing audits again",
            )
        }
        for name in sorted(universe):
            folder, asset, watcher = show(files, [name])
            assert asset.rel == rel
            prefix = c2pa.sequence_prefix_of(asset)
            key = _key_for(str(asset.path))
            record = c2pa.clearance_read_provenance(asset=asset, policy=watcher.policy)
            found, _version = detached_manifest(str(asset.path), sequence_prefix=prefix)
            readers = watcher._manifest_readers(str(folder / name))
            waits = manifests_read(key, [str(f) for f in asset.files])
            fingerprint = cache.fingerprint(asset)
            (folder / name).unlink()
            answers = {
                "reader": record is not None and record.file == name,
                "cache": cache.fingerprint(asset) != fingerprint,
                "watcher's manifest version": found == str(folder / name),
                "pairing waits": str(folder / name) in waits,
                "pairing audits again": key in readers,
            }
            assert set(answers) == set(considered)
            for consumer, takes in answers.items():
                if takes:
                    considered[consumer].add(name)
        assert considered == dict.fromkeys(considered, set(expected)), rel

        # in the reader's order: with all of them there, each consumer takes the first one
        folder, asset, watcher = show(files, expected)
        key = _key_for(str(asset.path))
        assert [
            os.path.basename(m) for m in manifests_read(key, [str(f) for f in asset.files])
        ] == expected
        prefix = c2pa.sequence_prefix_of(asset)
        for name in expected:
            (asset,) = discover([folder], watcher.policy).assets
            record = c2pa.clearance_read_provenance(asset=asset, policy=watcher.policy)
            found, _version = detached_manifest(str(asset.path), sequence_prefix=prefix)
            assert record is not None and record.file == name, (rel, name)
            assert found == str(folder / name), (rel, name)
            (folder / name).unlink()


@needs_sdk
def test_s10_a_sequence_manifest_that_lands_after_the_sequence_reaudits_it_once(
    tmp_path: Path,
) -> None:
    """S10 for a sequence's own detached manifest ``PREFIX.c2pa`` (what ``clearance scan``
    reads for it, checked against its first frame): landing after the sequence was audited →
    the whole sequence is audited again, once (reason sidecar-late, the manifest read and
    recorded in the ledger); ``bg.c2pa`` landing while the watcher is down → the start-up
    reconcile audits ``bg.####.exr`` again, once, and the other sequence not again."""
    import os

    from _embedded import TRAINED, c2pa_manifest, make_pki, sign

    root = make_show(tmp_path)
    seq = root / "renders" / "sh010"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    setup: list[tuple[object, ...]] = [("mkdirs", str(seq))]
    manifests = {}
    for prefix in ("fg.v002", "bg"):  # a PREFIX with a dot in it, and one without
        first = stage / f"{prefix}.1001.exr"
        first.write_bytes(exr_bytes(seed=len(prefix)))
        sign(first, first, pki, c2pa_manifest(TRAINED), sidecar=stage / f"{prefix}.c2pa")
        manifests[prefix] = (stage / f"{prefix}.c2pa").read_bytes()
        setup += [
            ("write", str(seq / f"{prefix}.genai.yaml"), SIDECAR),
            ("write", str(seq / f"{prefix}.1001.exr"), first.read_bytes()),
            ("exr", str(seq / f"{prefix}.1002.exr"), 2),
        ]
    with InProcessWatcher(root):
        run_writer(writer_script, setup)
        wait_audited(root, 2)
        run_writer(writer_script, [("write", str(seq / "fg.v002.c2pa"), manifests["fg.v002"])])
        wait_audited(root, 3)
        quiet(root, 1.5)
    run_writer(writer_script, [("write", str(seq / "bg.c2pa"), manifests["bg"])])
    with InProcessWatcher(root):
        wait_audited(root, 4)
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 4
    first_audits = {e["asset"]: e for e in events_[:2]}
    late, restarted = events_[2:]
    store = ledger(root)
    for event, prefix in [(late, "fg.v002"), (restarted, "bg")]:
        asset = f"renders/sh010/{prefix}.####.exr"
        before = first_audits[asset]
        assert event["asset"] == asset
        assert event["details"]["frames"] == "1001-1002"
        watch = event["details"]["watch"]
        assert watch["reason"] == "sidecar-late"
        assert watch["pairing"] == "paired"  # the YAML sidecar was there all along
        assert watch["supersedes"] == before["details"]["watch"]["audit_id"]
        assert watch["manifest"] == f"renders/sh010/{prefix}.c2pa"
        assert "C2PA" in watch["resolution"]
        assert "c2pa" in event["details"]["sources"]
        assert "c2pa" not in before["details"]["sources"]
        audits = store.audits(asset)
        assert [a.state for a in audits] == ["superseded", "audited"]
        assert audits[0].manifest_fp == "-"
        assert audits[1].manifest == os.path.realpath(seq / f"{prefix}.c2pa")
        assert audits[1].manifest_fp not in (None, "-")


class _CountingFS(FileSystem):
    """The OS file system, counting each folder's listings."""

    def __init__(self) -> None:
        self.listings: Counter[str] = Counter()

    def scandir(self, path: str | None) -> Iterator[os.DirEntry[str]]:
        self.listings[str(path)] += 1
        return super().scandir(path)


def _per_frame_manifests(seq: Path, frames: range) -> list[tuple[object, ...]]:
    """A render that writes each frame's own detached manifest ``bg.NNNN.exr.c2pa`` just
    before the frame (as a signer run per file does), with one ``bg.genai.yaml``."""
    steps: list[tuple[object, ...]] = [
        ("mkdirs", str(seq)),
        ("write", str(seq / "bg.genai.yaml"), SIDECAR),
    ]
    for i in frames:
        steps += [
            ("write", str(seq / f"bg.{i}.exr.c2pa"), b"manifest %d" % i),
            ("exr", str(seq / f"bg.{i}.exr"), i),
        ]
    return steps


def test_a_manifest_per_frame_settling_does_not_list_the_folder_per_manifest(
    tmp_path: Path,
) -> None:
    """300 frames, each with its own ``FRAME.exr.c2pa``: a manifest that settles while its
    sequence waits, or is being audited, is matched to it by name; the sequence's folder is
    listed a handful of times in all, not once per manifest (which made the watcher's CPU
    quadratic in the frame count: 12 s for 2,000 frames)."""
    root = make_show(tmp_path)
    seq = root / "renders" / "sh010"
    fs = _CountingFS()
    with InProcessWatcher(root, fs=fs):
        run_writer(writer_script, _per_frame_manifests(seq, range(1001, 1301)))
        wait_audited(root, 1)
        quiet(root, 1.5)
    [event] = audited(root)
    assert event["details"]["frames"] == "1001-1300"
    assert event["details"]["watch"]["manifest"] == "renders/sh010/bg.1001.exr.c2pa"
    assert fs.listings[str(seq)] <= 10, fs.listings[str(seq)]


def test_a_restart_does_not_list_the_folder_per_unread_manifest(tmp_path: Path) -> None:
    """The same folder at the next start (and each ``--rescan``): the manifests of frames
    after the first are read by no asset, and the reconcile knows it from its own listing:
    none is hinted, the folder is listed once or twice, and nothing is audited again."""
    root = make_show(tmp_path)
    seq = root / "renders" / "sh010"
    run_writer(writer_script, _per_frame_manifests(seq, range(1001, 1301)))
    with InProcessWatcher(root):
        wait_audited(root, 1)
        quiet(root, 1.5)
    fs = _CountingFS()
    with InProcessWatcher(root, fs=fs) as watcher:
        quiet(root, 1.5)
        assert not watcher.watcher.pending
    assert len(audited(root)) == 1
    assert fs.listings[str(seq)] <= 2, fs.listings[str(seq)]


@needs_sdk
def test_every_manifest_the_reader_answers_from_is_recorded_and_reaudits_once(
    tmp_path: Path,
) -> None:
    """A sequence whose first frame has its own manifest reads that one, and its own
    ``PREFIX.c2pa`` beside it is an issue ("sequence manifest not read", PRV-02): the audit
    records both, so ``bg.c2pa`` landing after the audit re-audits ``bg.####.exr`` once (live),
    ``fg.c2pa`` landing while the watcher is down re-audits ``fg.####.exr`` once (at start),
    and the first frame's manifest going away re-audits once more, now reading ``bg.c2pa``.
    A ledger that recorded only the manifest read (before this was fixed) re-audits once."""
    from _embedded import TRAINED, c2pa_manifest, make_pki, sign

    root = make_show(tmp_path)
    seq = root / "renders" / "sh010"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    setup: list[tuple[object, ...]] = [("mkdirs", str(seq))]
    manifests = {}
    for prefix in ("bg", "fg"):
        first = stage / f"{prefix}.1001.exr"
        first.write_bytes(exr_bytes(seed=len(prefix)))
        for name in (f"{prefix}.1001.exr.c2pa", f"{prefix}.c2pa"):
            sign(first, first, pki, c2pa_manifest(TRAINED), sidecar=stage / name)
            manifests[name] = (stage / name).read_bytes()
        setup += [
            ("write", str(seq / f"{prefix}.genai.yaml"), SIDECAR),
            ("write", str(seq / f"{prefix}.1001.exr.c2pa"), manifests[f"{prefix}.1001.exr.c2pa"]),
            ("write", str(seq / f"{prefix}.1001.exr"), first.read_bytes()),
            ("exr", str(seq / f"{prefix}.1002.exr"), 2),
        ]

    def not_read(event: dict[str, object]) -> list[str]:
        return [
            f["message"]
            for f in events(root, "finding")
            if f["asset"] == event["asset"]
            and f["seq"] < event["seq"]  # type: ignore[operator]
            and f["rule"] == "PRV-02"
            and "sequence manifest not read" in f["message"]
        ]

    with InProcessWatcher(root):
        run_writer(writer_script, setup)
        wait_audited(root, 2)
        run_writer(writer_script, [("write", str(seq / "bg.c2pa"), manifests["bg.c2pa"])])
        wait_audited(root, 3)
        quiet(root, 1.5)
    run_writer(writer_script, [("write", str(seq / "fg.c2pa"), manifests["fg.c2pa"])])
    with InProcessWatcher(root):
        wait_audited(root, 4)
        run_writer(writer_script, [("unlink", str(seq / "bg.1001.exr.c2pa"))])
        wait_audited(root, 5)
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 5
    first_audits = {e["asset"]: e for e in events_[:2]}
    late_bg, late_fg, gone = events_[2:]
    bg, fg = "renders/sh010/bg.####.exr", "renders/sh010/fg.####.exr"
    assert [e["asset"] for e in events_[2:]] == [bg, fg, bg]
    for event, before in [(late_bg, first_audits[bg]), (late_fg, first_audits[fg])]:
        watch = event["details"]["watch"]
        assert watch["reason"] == "sidecar-changed"
        assert watch["supersedes"] == before["details"]["watch"]["audit_id"]
        assert watch["manifest"] == event["asset"].replace("####.exr", "1001.exr.c2pa")
        assert not not_read(before)
        assert not_read(event), event["asset"]
    assert gone["details"]["watch"]["reason"] == "sidecar-changed"
    assert gone["details"]["watch"]["manifest"] == "renders/sh010/bg.c2pa"
    assert gone["details"]["watch"]["supersedes"] == late_bg["details"]["watch"]["audit_id"]

    # an older ledger recorded only the version of the manifest read (and an audit id made
    # with that version): re-audited once
    store = ledger(root)
    [latest] = [a for a in store.audits(fg) if a.state == "audited"]
    assert latest.manifest_fp is not None and ";fg.c2pa=" in latest.manifest_fp
    older = "0" * 8 + latest.audit_id[8:]
    with store.transaction() as db:
        db.execute(
            "UPDATE audits SET audit_id=?, manifest_fp=? WHERE audit_id=?",
            (older, latest.manifest_fp.split(";")[0], latest.audit_id),
        )
        db.execute("UPDATE files SET audit_id=? WHERE audit_id=?", (older, latest.audit_id))
    for _restart in range(2):
        with InProcessWatcher(root):
            quiet(root, 1.5)
    upgraded = audited(root)[5:]
    assert [(e["asset"], e["details"]["watch"]["reason"]) for e in upgraded] == [
        (fg, "sidecar-changed")
    ]


@needs_sdk
def test_a_sequence_manifest_beside_an_embedded_store_is_not_recorded_as_read(
    tmp_path: Path,
) -> None:
    """A PNG sequence whose first frame carries an embedded C2PA store: the reader reads that
    store, and ``el.c2pa`` landing later is "not read" (PRV-02). The re-audit it causes does
    not name ``el.c2pa`` as the manifest read (``details.watch.manifest``); the ledger still
    records its version, so a restart audits nothing."""
    from _embedded import TRAINED, c2pa_manifest, make_pki, sign, write_png

    root = make_show(tmp_path)
    seq = root / "renders" / "sh020"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    raw = write_png(stage / "raw.png")
    sign(raw, stage / "el.1001.png", pki, c2pa_manifest(TRAINED))  # embedded store
    sign(raw, stage / "tmp.png", pki, c2pa_manifest(TRAINED), sidecar=stage / "el.c2pa")
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("mkdirs", str(seq)),
                ("write", str(seq / "el.genai.yaml"), SIDECAR),
                ("write", str(seq / "el.1001.png"), (stage / "el.1001.png").read_bytes()),
                ("write", str(seq / "el.1002.png"), raw.read_bytes()),
            ],
        )
        wait_audited(root, 1)
        run_writer(
            writer_script, [("write", str(seq / "el.c2pa"), (stage / "el.c2pa").read_bytes())]
        )
        wait_audited(root, 2)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    first, again = audited(root)
    assert "manifest" not in first["details"]["watch"]
    assert again["details"]["watch"]["reason"] == "sidecar-late"
    assert "c2pa" in again["details"]["sources"]
    assert "manifest" not in again["details"]["watch"]  # the embedded store was read
    assert [
        f["message"]
        for f in events(root, "finding")
        if f["seq"] > first["seq"] and "sequence manifest not read" in f["message"]
    ]


@needs_sdk
def test_a_manifest_removed_while_the_watcher_is_down_reaudits_once_at_start(
    tmp_path: Path,
) -> None:
    """Every detached manifest an asset's audit read, removed while the watcher is down
    (``x.exr.c2pa``; ``y.c2pa``; a sequence's first frame's ``bg.1001.exr.c2pa`` and its
    ``bg.c2pa``, none of them left) → the start-up reconcile audits the asset again, once,
    ``reason: sidecar-changed``, now reading no manifest (the GenAI they declared is gone from
    its provenance); ``z.exr``, whose manifest stays, and ``w.exr``, removed with its manifest,
    are not; a restart audits nothing."""
    from _embedded import TRAINED, c2pa_manifest, make_pki, sign

    root = make_show(tmp_path)
    comp = root / "comp"
    seq = root / "renders" / "sh010"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    setup: list[tuple[object, ...]] = [("mkdirs", str(comp)), ("mkdirs", str(seq))]
    for folder, asset, sidecar, names in [
        (comp, "x.exr", "x.exr.genai.yaml", ["x.exr.c2pa"]),
        (comp, "y.exr", "y.exr.genai.yaml", ["y.c2pa"]),
        (comp, "z.exr", "z.exr.genai.yaml", ["z.exr.c2pa"]),
        (comp, "w.exr", "w.exr.genai.yaml", ["w.exr.c2pa"]),
        (seq, "bg.1001.exr", "bg.genai.yaml", ["bg.1001.exr.c2pa", "bg.c2pa"]),
    ]:
        staged = stage / asset
        staged.write_bytes(exr_bytes(seed=ord(asset[0])))
        for name in names:
            sign(staged, staged, pki, c2pa_manifest(TRAINED), sidecar=stage / name)
            setup.append(("write", str(folder / name), (stage / name).read_bytes()))
        setup += [
            ("write", str(folder / sidecar), SIDECAR),
            ("write", str(folder / asset), staged.read_bytes()),
        ]
    setup.append(("exr", str(seq / "bg.1002.exr"), 2))
    with InProcessWatcher(root):
        run_writer(writer_script, setup)
        wait_audited(root, 5)
        quiet(root, 1.5)
    for gone in [
        comp / "x.exr.c2pa",
        comp / "y.c2pa",
        comp / "w.exr.c2pa",
        comp / "w.exr",
        seq / "bg.1001.exr.c2pa",
        seq / "bg.c2pa",
    ]:
        gone.unlink()
    with InProcessWatcher(root):
        wait_audited(root, 8)
        quiet(root, 1.5)
    with InProcessWatcher(root) as watcher:
        quiet(root, 1.5)
        assert not watcher.watcher.pending
    events_ = audited(root)
    first = {e["asset"]: e for e in events_[:5]}
    assert all("c2pa" in e["details"]["sources"] for e in first.values())
    again = events_[5:]
    assert sorted(e["asset"] for e in again) == [
        "comp/x.exr",
        "comp/y.exr",
        "renders/sh010/bg.####.exr",
    ]
    for event in again:
        watch = event["details"]["watch"]
        assert watch["reason"] == "sidecar-changed"
        assert watch["supersedes"] == first[event["asset"]]["details"]["watch"]["audit_id"]
        assert "manifest" not in watch
        assert "c2pa" not in event["details"]["sources"]
    store = ledger(root)
    for event in again:
        [latest] = [a for a in store.audits(event["asset"]) if a.state == "audited"]
        assert (latest.manifest, latest.manifest_fp) == (None, "-")


@needs_sdk
def test_a_republished_asset_with_identical_bytes_and_a_new_manifest_is_audited_again(
    tmp_path: Path,
) -> None:
    """A publish tool copies a whole version again: ``x.exr`` with the same bytes, and its
    ``x.exr.c2pa`` replaced by another manifest (capture → trained GenAI). The identical
    re-render is recorded, not audited, only when everything its audit reads is the same:
    here the manifest is not, so it is audited again, once (``sidecar-changed``), with the
    verdict ``scan`` gives. The same bytes restored with the same manifest bytes after an
    ``rm`` (new versions of both) → once more; the asset alone rewritten identically →
    not audited; a restart audits nothing."""
    from _embedded import CAPTURE, TRAINED, c2pa_manifest, make_pki, sign

    root = make_show(tmp_path)
    comp = root / "comp"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    asset = stage / "x.exr"
    asset.write_bytes(exr_bytes(seed=7))
    for name, source in [("capture.c2pa", CAPTURE), ("trained.c2pa", TRAINED)]:
        sign(asset, asset, pki, c2pa_manifest(source), sidecar=stage / name)
    data = asset.read_bytes()
    capture, trained = (stage / "capture.c2pa").read_bytes(), (stage / "trained.c2pa").read_bytes()
    path, manifest = comp / "x.exr", comp / "x.exr.c2pa"
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("mkdirs", str(comp)),
                ("write", str(comp / "x.exr.genai.yaml"), SIDECAR),
                ("write", str(manifest), capture),
                ("write", str(path), data),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.5)
        run_writer(writer_script, [("write", str(path), data), ("write", str(manifest), trained)])
        wait_audited(root, 2)
        quiet(root, 1.5)
        run_writer(
            writer_script,
            [
                ("unlink", str(path)),
                ("unlink", str(manifest)),
                ("sleep", 0.5),
                ("write", str(path), data),
                ("write", str(manifest), trained),
            ],
        )
        wait_audited(root, 3)
        quiet(root, 1.5)
        run_writer(writer_script, [("truncate_rewrite", str(path), data)])
        quiet(root, 2.0)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    first, republished, restored = audited(root)
    assert first["outcome"] == "pass"
    for event, before in [(republished, first), (restored, republished)]:
        watch = event["details"]["watch"]
        assert watch["reason"] == "sidecar-changed"
        assert watch["manifest"] == "comp/x.exr.c2pa"
        assert watch["supersedes"] == before["details"]["watch"]["audit_id"]
        assert event["outcome"] == "block"
    assert "PRV-04" in _rules(root, "comp/x.exr")  # "not generated" vs the trained manifest
    store = ledger(root)
    [latest] = [a for a in store.audits("comp/x.exr") if a.state == "audited"]
    st = manifest.stat()
    assert (
        latest.manifest_fp
        == f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
    )
    (current,) = store.query(
        "SELECT audit_id FROM files WHERE path=? AND state='audited'", (str(path),)
    )
    assert current[0] == latest.audit_id  # the identical rewrite is covered by the last audit


def test_a_manifest_for_an_asset_whose_folder_changed_without_an_audit_is_not_missed(
    tmp_path: Path,
) -> None:
    """Which asset reads which manifest is kept per folder (listed at most once per 30 s), and
    kept current by what changes it: a sequence's first frame deleted (the next frame is now
    the one its manifest is looked for by; the sequence is audited again, ``changed``), and
    an audited file moved out of the tree and back (the same bytes, not audited again). A
    manifest that lands for either within the 30 s is not missed: one audit each,
    ``sidecar-late``, reading it; a restart audits nothing."""
    root = make_show(tmp_path)
    comp = root / "comp"
    outside = tmp_path / "outside"
    outside.mkdir()
    with InProcessWatcher(root) as watcher:
        run_writer(
            writer_script,
            [("mkdirs", str(comp)), ("exr", str(comp / "x.exr"), 9)]
            + [("exr", str(comp / f"sh.{i}.exr"), i) for i in (1001, 1002, 1003)],
        )
        wait_audited(root, 2)
        quiet(root, 1.0)
        run_writer(  # a manifest no asset reads: the folder's readers are listed now
            writer_script, [("write", str(comp / "sh.1003.exr.c2pa"), b"not read")]
        )
        quiet(root, 1.0)
        run_writer(
            writer_script,
            [
                ("unlink", str(comp / "sh.1001.exr")),
                ("rename", str(comp / "x.exr"), str(outside / "x.exr")),
            ],
        )
        wait_for(lambda: watcher.watcher.vanished >= 2, what="two files vanished")
        wait_audited(root, 3)  # the frames left
        run_writer(writer_script, [("write", str(comp / "other.c2pa"), b"read by none")])
        quiet(root, 1.0)
        run_writer(writer_script, [("rename", str(outside / "x.exr"), str(comp / "x.exr"))])
        quiet(root, 1.0)
        assert len(audited(root)) == 3
        run_writer(
            writer_script,
            [
                ("write", str(comp / "sh.1002.exr.c2pa"), b"the first frame's now"),
                ("write", str(comp / "x.exr.c2pa"), b"x's"),
            ],
        )
        wait_audited(root, 5)
        quiet(root, 1.5)
    with InProcessWatcher(root):
        quiet(root, 1.5)
    events_ = audited(root)
    assert len(events_) == 5
    shrunk = events_[2]["details"]
    assert (events_[2]["asset"], shrunk["frames"]) == ("comp/sh.####.exr", "1002-1003")
    assert shrunk["watch"]["reason"] == "changed"
    late = {e["asset"]: e["details"]["watch"] for e in events_[3:]}
    assert sorted(late) == ["comp/sh.####.exr", "comp/x.exr"]
    assert late["comp/sh.####.exr"]["manifest"] == "comp/sh.1002.exr.c2pa"
    assert [f["path"] for f in late["comp/sh.####.exr"]["files"]] == [
        "comp/sh.1002.exr",
        "comp/sh.1003.exr",
    ]
    assert late["comp/x.exr"]["manifest"] == "comp/x.exr.c2pa"
    assert {w["reason"] for w in late.values()} == {"sidecar-late"}


def test_a_sidecar_removed_reaudits_its_asset_once_live_and_at_start(tmp_path: Path) -> None:
    """A YAML/JSON sidecar deleted or renamed away after its asset was audited → the asset is
    audited again, once (``sidecar-changed``, ``pairing: missing``, PRV-01): its latest audit
    must not keep saying "paired" and pass when ``scan`` says there is no provenance. Live
    (``x.exr.genai.yaml`` deleted, a sequence's ``s.genai.yaml`` renamed away) and while the
    watcher is down (``y.exr.genai.yaml``; ``z.exr`` removed with its sidecar is not audited).
    A sidecar replaced by delete-then-create is one audit, with the new sidecar (it may come
    back within the grace window). A restart audits nothing."""
    root = make_show(tmp_path)
    comp = root / "comp"
    yaml = {n: comp / f"{n}.exr.genai.yaml" for n in "xyz"}
    setup: list[tuple[object, ...]] = [("mkdirs", str(comp))]
    for n in "xyz":
        setup += [("write", str(yaml[n]), SIDECAR), ("exr", str(comp / f"{n}.exr"), ord(n))]
    setup += [("write", str(comp / "s.genai.yaml"), SIDECAR)]
    setup += [("exr", str(comp / f"s.{i}.exr"), i) for i in (1, 2, 3)]
    replaced = SIDECAR.replace("generated: false", "generated: false\nnotes: republished")
    with InProcessWatcher(root):
        run_writer(writer_script, setup)
        wait_audited(root, 4)
        quiet(root, 1.5)
        run_writer(
            writer_script,
            [("unlink", str(yaml["x"])), ("sleep", 0.3), ("write", str(yaml["x"]), replaced)],
        )
        wait_audited(root, 5)
        quiet(root, 2.0)
        run_writer(
            writer_script,
            [
                ("unlink", str(yaml["x"])),
                ("rename", str(comp / "s.genai.yaml"), str(comp / "s.genai.yaml.bak")),
            ],
        )
        wait_audited(root, 7)
        quiet(root, 1.5)
    for gone in (yaml["y"], yaml["z"], comp / "z.exr"):
        gone.unlink()
    with InProcessWatcher(root):
        wait_audited(root, 8)
        quiet(root, 2.0)
    with InProcessWatcher(root):
        quiet(root, 2.0)
    events_ = audited(root)
    assert len(events_) == 8
    first = {e["asset"]: e for e in events_[:4]}
    assert all(e["details"]["watch"]["pairing"] == "paired" for e in first.values())
    republished = events_[4]
    assert republished["asset"] == "comp/x.exr"
    assert republished["details"]["watch"]["reason"] == "sidecar-changed"
    assert republished["details"]["watch"]["pairing"] == "paired"
    removed = events_[5:]
    assert sorted(e["asset"] for e in removed) == ["comp/s.#.exr", "comp/x.exr", "comp/y.exr"]
    for event in removed:
        watch = event["details"]["watch"]
        assert (watch["reason"], watch["pairing"]) == ("sidecar-changed", "missing")
        before = republished if event["asset"] == "comp/x.exr" else first[event["asset"]]
        assert watch["supersedes"] == before["details"]["watch"]["audit_id"]
        assert event["outcome"] == "escalate"
        assert "PRV-01" in [
            f["rule"]
            for f in events(root, "finding")
            if f["asset"] == event["asset"] and f["seq"] < event["seq"]
        ]


def test_a_second_sidecar_for_one_asset_gives_the_verdict_scan_gives(tmp_path: Path) -> None:
    """``NAME.genai.json`` landing beside the ``NAME.genai.yaml`` an audited asset (a file, a
    sequence) was paired with: the asset is audited again, with scan's verdict (PRV-02 naming
    both files, escalate: the JSON says something else and is not read), never a silent
    pass; a restart audits nothing; the JSON removed, it is audited again and passes, as in
    scan."""
    import json

    from conftest import run_cli

    root = make_show(tmp_path)
    comp = root / "comp"
    names = {"comp/a.exr": "comp/a.exr.genai", "comp/s.#.exr": "comp/s.genai"}
    disagrees = json.dumps({"provenance": 1, "production": "SHOW01", "generated": True})
    setup: list[tuple[object, ...]] = [("mkdirs", str(comp))]
    setup += [("write", str(comp / "a.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "a.exr"), 1)]
    setup += [("write", str(comp / "s.genai.yaml"), SIDECAR)]
    setup += [("exr", str(comp / f"s.{i}.exr"), i) for i in (1, 2, 3)]

    def watched() -> list[dict[str, object]]:
        return [e for e in audited(root) if "watch" in e["details"]]

    def verdicts(count: int) -> dict[str, tuple[str, str | None]]:
        """The outcome of each asset's latest watcher audit, and its PRV-02 message."""
        wait_for(lambda: len(watched()) >= count, what=f"{count} watcher audits")
        quiet(root, 1.5)
        found = {}
        for event in watched():
            prv02 = [
                f["message"]
                for f in events(root, "finding")
                if f["asset"] == event["asset"]
                and f["rule"] == "PRV-02"
                and f["run_id"] == event["run_id"]
                and f["seq"] < event["seq"]
            ]
            found[event["asset"]] = (event["outcome"], prv02[-1] if prv02 else None)
        return found

    def scanned() -> dict[str, tuple[str, str | None]]:
        done = run_cli("scan", str(root), "--format", "json")
        assert done.code in (0, 1), done.stderr
        found = {}
        for item in done.json()["assets"]:
            prv02 = [f["message"] for f in item["findings"] if f["rule"] == "PRV-02"]
            found[item["asset"]] = (item["outcome"], prv02[-1] if prv02 else None)
        return found

    with InProcessWatcher(root):
        run_writer(writer_script, setup)
        alone = verdicts(2)
        run_writer(
            writer_script,
            [("write", str(root / f"{stem}.json"), disagrees) for stem in names.values()],
        )
        both = verdicts(4)
    assert {asset: outcome for asset, (outcome, _) in alone.items()} == dict.fromkeys(names, "pass")
    for asset, stem in names.items():
        outcome, message = both[asset]
        assert outcome == "escalate" and message is not None
        assert f"{stem}.yaml" in message and f"{stem}.json" in message
    assert scanned() == both
    with InProcessWatcher(root):
        quiet(root, 2.0)
        assert len(watched()) == 4  # a restart audits nothing
        run_writer(writer_script, [("unlink", str(root / f"{s}.json")) for s in names.values()])
        gone = verdicts(6)
    assert gone == alone == dict.fromkeys(names, ("pass", None))
    assert scanned() == gone
    assert len(watched()) == 6


def test_names_that_are_not_utf8_are_audited_and_the_watcher_keeps_running(
    tmp_path: Path,
) -> None:
    """A file name holding bytes that are not UTF-8 reaches Python with lone surrogates:
    an asset with two sidecars (the second is reported by name, PRV-02) and a frame
    sequence with its sidecar are audited like any other. The second sidecar's name went
    into the audit's id, hashed as strict UTF-8: the watcher stopped (watch.error fatal)."""
    root = make_show(tmp_path)
    comp = os.fsencode(root / "comp")
    os.makedirs(comp)

    def write(name: bytes, data: bytes) -> None:
        with open(os.path.join(comp, name), "wb") as fh:
            fh.write(data)

    with InProcessWatcher(root):
        write(b"caf\xe9.exr.genai.yaml", SIDECAR.encode())
        write(b"caf\xe9.exr.genai.json", json.dumps({"provenance": 1}).encode())
        write(b"caf\xe9.exr", exr_bytes(seed=1))
        write(b"seq\xe9.genai.yaml", SIDECAR.encode())
        for frame in (1, 2, 3):
            write(b"seq\xe9.%04d.exr" % frame, exr_bytes(seed=frame + 1))
        wait_audited(root, 2)
        write(b"after.exr.genai.yaml", SIDECAR.encode())
        write(b"after.exr", exr_bytes(seed=9))
        wait_audited(root, 3)
    assert not events(root, "watch.error")
    assert {e["asset"] for e in audited(root)} == {
        "comp/caf\\xe9.exr",
        "comp/seq\\xe9.####.exr",
        "comp/after.exr",
    }
    assert "PRV-02" in _rules(root, "comp/caf\\xe9.exr")
    assert "PRV-02" not in _rules(root, "comp/seq\\xe9.####.exr")


def test_a_name_too_long_for_a_sidecar_is_audited_without_one_as_scan_does(
    tmp_path: Path,
) -> None:
    """A file name of 255 bytes (the most a folder entry holds) cannot have a sidecar named
    after it: ``NAME.genai.yaml`` is too long to exist. Looking its candidates up failed
    with ENAMETOOLONG, which the watcher took for a sidecar it could not read: three
    phantom sidecars, a PRV-02 and a verdict scan does not give (scan lists the folder and
    finds none: PRV-01). Nor can a sequence whose prefix fills the name have one."""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    single = "a" * 251 + ".exr"
    prefix = "é" * 123  # 246 bytes: PREFIX.0001.exr is 255, PREFIX.genai.yaml 257
    with InProcessWatcher(root):
        (comp / single).write_bytes(exr_bytes(seed=1))
        for frame in (1, 2):
            (comp / f"{prefix}.{frame:04d}.exr").write_bytes(exr_bytes(seed=frame + 1))
        (comp / ("b" * 240 + ".exr")).write_bytes(exr_bytes(seed=5))  # 244: .genai.yaml fits
        wait_audited(root, 3)
        quiet(root, 1.0)
    assert not events(root, "watch.error")
    watched = watch_verdicts(root)
    assert watched == scan_verdicts(root, tmp_path)
    for asset in (f"comp/{single}", f"comp/{prefix}.####.exr", "comp/" + "b" * 240 + ".exr"):
        assert watched[asset] == ("escalate", ["PRV-01"]), asset
    assert all(e["details"]["sidecar"] is None for e in audited(root))


def test_a_named_pipe_named_as_an_asset_is_said_once_and_never_read(tmp_path: Path) -> None:
    """A named pipe called ``pipe.exr`` (a tool's scratch FIFO) is never opened — reading it
    would block — and never passed over in silence, as ``scan`` reports it: one
    ``watch.error`` (reason ``not-a-file``) names it, however often it is touched; the
    assets around it are audited."""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    with InProcessWatcher(root):
        os.mkfifo(comp / "pipe.exr")
        run_writer(
            writer_script,
            [("write", str(comp / "a.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "a.exr"), 1)],
        )
        wait_audited(root, 1)
        os.utime(comp / "pipe.exr")
        run_writer(
            writer_script,
            [("write", str(comp / "b.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "b.exr"), 2)],
        )
        wait_audited(root, 2)
        quiet(root, 1.0)
    errors = [e for e in events(root, "watch.error") if e["details"]["reason"] == "not-a-file"]
    assert len(errors) == 1, errors
    assert errors[0]["details"]["path"] == str(comp / "pipe.exr")
    assert "named pipe" in errors[0]["message"]
    assert {e["asset"] for e in audited(root)} == {"comp/a.exr", "comp/b.exr"}


def test_a_sidecar_that_is_a_folder_is_said_in_the_audit_as_scan_says_it(tmp_path: Path) -> None:
    """``a.exr.genai.yaml`` made as a folder (a ``mkdir -p`` slip): the watcher audited
    ``a.exr`` as having no sidecar at all (PRV-01, nothing said of the folder). Its audit
    names it, a PRV-02 as ``scan`` gives, unsure."""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    (comp / "a.exr.genai.yaml").mkdir()
    with InProcessWatcher(root):
        run_writer(writer_script, [("exr", str(comp / "a.exr"), 1)])
        wait_audited(root, 1)
        quiet(root, 1.0)
    [event] = audited(root)
    findings = [e for e in events(root, "finding") if e["asset"] == "comp/a.exr"]
    said = [f for f in findings if f["rule"] == "PRV-02"]
    assert said, findings
    assert "comp/a.exr.genai.yaml: is a folder, not a regular file; not read" in said[0]["message"]
    assert event["outcome"] != "pass"
    assert watch_verdicts(root) == scan_verdicts(root, tmp_path)


def test_a_manifest_that_is_a_folder_is_said_in_the_audit_as_scan_says_it(tmp_path: Path) -> None:
    """``a.exr.c2pa`` made as a folder: the watcher's C2PA reader (which lists no folder)
    took the name for no manifest at all, a pass on the sidecar where ``scan`` is unsure. The
    stat it takes of each manifest name tells: a PRV-02 naming it, scan's verdict."""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    (comp / "a.exr.c2pa").mkdir()
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [("write", str(comp / "a.exr.genai.yaml"), SIDECAR), ("exr", str(comp / "a.exr"), 1)],
        )
        wait_audited(root, 1)
        quiet(root, 1.0)
    said = [
        f for f in events(root, "finding") if f["asset"] == "comp/a.exr" and f["rule"] == "PRV-02"
    ]
    assert said and "comp/a.exr.c2pa: c2pa: is a folder, not a regular file" in said[-1]["message"]
    assert watch_verdicts(root) == scan_verdicts(root, tmp_path)


def test_an_asset_with_no_sidecar_and_a_manifest_name_that_is_a_folder_is_judged_as_scan_does(
    tmp_path: Path,
) -> None:
    """No sidecar, ``a.exr.c2pa`` a folder: a manifest that could not be read, never a pass.
    The watcher, ``check`` and ``scan`` judged it three ways (scan: no provenance; the others:
    a record with nothing in it); they now agree."""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    (comp / "a.exr.c2pa").mkdir()
    with InProcessWatcher(root):
        run_writer(writer_script, [("exr", str(comp / "a.exr"), 1)])
        wait_audited(root, 1)
        quiet(root, 1.0)
    outcome, rules = watch_verdicts(root)["comp/a.exr"]
    assert outcome != "pass" and "PRV-02" in rules and "PRV-01" not in rules
    assert watch_verdicts(root) == scan_verdicts(root, tmp_path)
