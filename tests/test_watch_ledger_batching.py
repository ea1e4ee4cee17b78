"""The watcher's audit worker: the ledger read and written a batch at a time (issue 6, watch
burst), and the sidecar found with the same ``stat`` the audit is keyed on.

The audit worker used to ask the ledger three questions per asset and write seven statements
per asset: every one a trip through SQLite and a GIL hand-over in the watcher's busiest
thread. The batched reads and writes must answer and record exactly what the one-at-a-time
ones do; nothing here asserts a duration.
"""

from __future__ import annotations

import dataclasses
import errno
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from _watch_harness import make_show
from clearance.state import AuditIntent, FileVersion, StateStore
from clearance.watch_readiness import FileSystem


def _version(i: int, n: int = 0) -> FileVersion:
    return FileVersion(f"/show/comp/f{i}.exr", 1, 1000 + i, 4096 + n, 10**18 + n, 10**18 + n)


def _intent(audit_id: str, asset: str, *files: FileVersion) -> AuditIntent:
    """A new, paired audit of ``files`` without a sidecar (stage ``comp``)."""
    paired = ("comp", "new", "paired", None, None, None, None)  # stage … frames
    return AuditIntent(audit_id, asset, *paired, [(v, None) for v in files], time.time())


def _tables(state: StateStore) -> tuple[list[tuple], list[tuple]]:  # type: ignore[type-arg]
    """The ledger without its clocks."""
    audits = state.query("SELECT audit_id, asset, state, outcome FROM audits ORDER BY audit_id")
    files = state.query(
        "SELECT path, dev, ino, size, mtime_ns, ctime_ns, state, audit_id FROM files ORDER BY id"
    )
    return audits, files


def _history(state: StateStore) -> None:
    """Assets with audited, superseded and failed audits; versions in every state."""
    for i in range(12):
        for n in range(i % 4):  # 0-3 earlier renders of each file
            state.begin_audits([_intent(f"a{i}-{n}", f"comp/f{i}.exr", _version(i, n))])
            if i % 5 == 4 and n == 0:
                state.fail_audit(f"a{i}-{n}", "boom")
            else:
                state.finish_audit(f"a{i}-{n}", outcome="pass", files=[_version(i, n)])
            time.sleep(0.002)  # finished_at orders the renders
    state.mark([_version(20), _version(21, 1)], "seen")
    state.mark([_version(22)], "settling")


def test_batched_ledger_reads_answer_what_one_at_a_time_reads_do(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "state.db")
    _history(state)
    assets = [f"comp/f{i}.exr" for i in range(25)] + ["comp/none.exr", "comp/f1.exr"]
    latest = state.latest_audits(assets)
    for asset in assets:
        assert latest.get(asset) == state.latest_audit(asset), asset
    assert latest["comp/f3.exr"].audit_id == "a3-2"  # the newest of three
    assert latest["comp/f9.exr"].state == "error"  # a failed audit is the latest one
    assert "comp/f4.exr" not in latest  # never audited
    versions = [_version(i, n) for i in range(25) for n in range(4)]
    audited = state.audited_versions(versions)
    assert audited == {v for v in versions if state.is_audited(v)}
    assert _version(3, 2) in audited  # the version the latest audit covers
    assert _version(3, 0) not in audited  # superseded since: audited again if it comes back
    assert _version(20) not in audited and _version(9, 0) not in audited  # seen, failed
    ids = [f"a{i}-{n}" for i in range(12) for n in range(4)] + ["nope"]
    assert state.audits_by_id(ids) == {i: r for i in ids if (r := state.audit(i)) is not None}
    many = [f"comp/x{i}.exr" for i in range(1200)]  # more than one statement's worth of ?
    assert state.latest_audits(many) == {}


@pytest.mark.parametrize("same_asset", [False, True])
def test_batched_results_record_what_one_at_a_time_results_do(
    tmp_path: Path, same_asset: bool
) -> None:
    """``finish_audits`` leaves the ledger as ``finish_audit`` one after the other does —
    also when two audits of one batch are of the same asset (the later supersedes)."""
    stores = [StateStore(tmp_path / f"{name}.db") for name in ("one", "batch")]
    for state in stores:
        _history(state)
        intents = [
            _intent(f"b{i}", f"comp/f{i}.exr", _version(i, 7), _version(100 + i)) for i in range(10)
        ]
        if same_asset:
            intents.append(_intent("b3-again", "comp/f3.exr", _version(3, 8)))
        state.begin_audits(intents)
    finished = [(i.audit_id, f"out-{i.audit_id}", [v for v, _ in i.files]) for i in intents]
    one, batch = stores
    for audit_id, outcome, files in finished:
        one.finish_audit(audit_id, outcome=outcome, files=files)
    batch.finish_audits(finished)
    assert _tables(batch) == _tables(one)
    states = dict(batch.query("SELECT audit_id, state FROM audits"))
    assert states["a3-2"] == "superseded"
    assert states["b3"] == ("superseded" if same_asset else "audited")


class _Calls:
    """The real connection, noting each statement Python hands it (an ``executemany`` is one:
    SQLite's trace callback would count each of its rows)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        self.sql: list[str] = []

    def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.sql.append(sql)
        return self.db.execute(sql, *args)

    def executemany(self, sql: str, *args: Any) -> sqlite3.Cursor:
        self.sql.append(sql)
        return self.db.executemany(sql, *args)


def test_the_audit_worker_asks_and_tells_the_ledger_once_per_batch(tmp_path: Path) -> None:
    """A batch of 40 new assets costs a fixed number of ledger statements, not some per asset
    (SQLite's trace callback counts them), and each asset is recorded as one audited once."""
    from clearance.policy import load_policy
    from clearance.testing import write_png
    from clearance.watch_audit import AuditWorker, Job, WatchSession

    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    for i in range(40):
        write_png(comp / f"f{i:02d}.png")
    policy = load_policy(root / "clearance.yaml")
    session = WatchSession(policy, command="watch")
    state = StateStore(root / ".clearance" / "state.db")
    worker = AuditWorker(
        session, state, policy, FileSystem(), requeue=lambda _: None, done=lambda _: None
    )
    jobs = [Job(("", str(comp), p.name), [str(p)], time.time()) for p in sorted(comp.glob("*.png"))]
    db = state._db
    state._db = calls = _Calls(db)  # type: ignore[assignment]
    worker._complete(worker._start(jobs))
    state._db = db
    ledger = [s for s in calls.sql if " audits" in s or " files" in s]
    assert worker.audited == 40
    assert len(ledger) <= 12, ledger  # was 10 per asset
    rows = state.query("SELECT asset, state FROM audits ORDER BY asset")
    assert rows == [(f"comp/f{i:02d}.png", "audited") for i in range(40)]
    assert state.audited_versions(FileVersion.of(str(p), p.stat()) for p in comp.glob("*.png")) == {
        FileVersion.of(str(p), p.stat()) for p in comp.glob("*.png")
    }
    # the same batch again: every version is in the ledger, nothing is audited twice
    worker._complete(worker._start(jobs))
    assert worker.audited == 40 and worker.skipped == 40
    session.close()
    state.close()


class _SidecarFaultFS(FileSystem):
    """The real file system, except that stat() of a sidecar raises ``errno`` while set."""

    def __init__(self) -> None:
        self.errno: int | None = None

    def stat(self, path: str) -> os.stat_result:
        if self.errno is not None and path.endswith(".genai.yaml"):
            raise OSError(self.errno, os.strerror(self.errno), path)
        return super().stat(path)


def test_a_sidecar_that_cannot_be_looked_at_is_never_taken_for_a_missing_one(
    tmp_path: Path,
) -> None:
    """The worker finds an asset's sidecar with the watcher's ``stat`` and keys the audit on
    that same ``stat``. A share hiccup (EIO) on the sidecar sends the asset back to settle
    (``Path.is_file``, used before, raised it out of the worker, which stopped the watcher);
    a sidecar it may not read (EACCES) is the sidecar, and reading it fails in the audit."""
    from clearance.policy import load_policy
    from clearance.testing import write_png
    from clearance.watch_audit import AuditWorker, Job, WatchSession, build_asset

    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    png = comp / "a.png"
    write_png(png)
    sidecar = comp / "a.png.genai.yaml"
    sidecar.write_text("provenance: 1\ngenerated: false\nsource_type: digitalCapture\n")
    (comp / "b.png.genai.yaml").mkdir()  # a folder is not a sidecar
    write_png(comp / "b.png")
    policy = load_policy(root / "clearance.yaml")
    fs = _SidecarFaultFS()

    asset, st = build_asset([str(png)], policy, fs.stat)
    assert asset.sidecar == sidecar and st is not None and st.st_ino == sidecar.stat().st_ino
    assert build_asset([str(comp / "b.png")], policy, fs.stat)[0].sidecar is None
    fs.errno = errno.EACCES
    assert build_asset([str(png)], policy, fs.stat) == (asset, None)
    fs.errno = errno.EIO
    with pytest.raises(OSError):
        build_asset([str(png)], policy, fs.stat)

    session = WatchSession(policy, command="watch")
    state = StateStore(root / ".clearance" / "state.db")
    requeued: list[str] = []
    worker = AuditWorker(session, state, policy, fs, requeue=requeued.append, done=lambda _: None)
    job = Job(("", str(comp), "a.png"), [str(png)], time.time())
    worker._complete(worker._start([job]))
    assert worker.audited == 0 and set(requeued) == {str(png), str(sidecar)}
    fs.errno = None  # the share is back: audited with its sidecar
    worker._complete(worker._start([job]))
    assert worker.audited == 1
    (row,) = state.query("SELECT sidecar, sidecar_fp, pairing FROM audits")
    assert row[0] == str(sidecar) and row[1] and row[2] == "paired"
    session.close()
    state.close()


def test_the_ledger_keeps_a_file_name_that_is_not_utf8_exactly(tmp_path: Path) -> None:
    """A name that is not UTF-8 reaches Python with lone surrogates, which SQLite cannot
    store as text: the ledger stores it encoded and gives back the same string, so the
    watcher pends, audits and recognises that file like any other (it crashed before)."""
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/comp/caf\xe9.png")
    assert "\udce9" in odd
    state = StateStore(tmp_path / "state.db")
    version = FileVersion(odd, 1, 77, 100, 10**18, 10**18)
    state.mark([version], "settling")
    assert state.unfinished() == [odd]
    assert state.audited_versions([version]) == set()
    state.mark_path_vanished(odd)
    assert state.unfinished() == []
    state.mark([version], "settling")
    with state.transaction() as db:
        rows = db.execute("SELECT path FROM files WHERE path = ?", (odd,)).fetchall()
    assert rows == [(odd,)]
    state.close()
    reopened = StateStore(tmp_path / "state.db")
    assert reopened.unfinished() == [odd]


def test_a_damaged_text_value_in_the_state_store_is_an_sqlite_error(tmp_path: Path) -> None:
    """What callers catch (the provenance cache switches itself off on an sqlite3.Error)."""
    state = StateStore(tmp_path / "state.db")
    with state.transaction() as db:
        db.execute("CREATE TABLE t (x TEXT)")
        db.execute("INSERT INTO t VALUES (CAST(x'ff61' AS TEXT))")
    with pytest.raises(sqlite3.Error, match="not UTF-8"):
        state.query("SELECT x FROM t")


def test_the_sidecars_latest_audits_read_are_found_per_folder_whatever_their_names(
    tmp_path: Path,
) -> None:
    """What the reconcile asks to find a sidecar removed while the watcher was down: the
    sidecars the latest audits of one folder read — not those of a folder below or beside
    it, nor a superseded audit's — a name that is not UTF-8 (stored encoded) included."""
    state = StateStore(tmp_path / "state.db")
    comp = str(tmp_path / "comp")
    odd = os.fsdecode(os.fsencode(comp) + b"/caf\xe9.png.genai.yaml")
    sidecars = {
        "a": f"{comp}/a.exr.genai.yaml",
        "odd": odd,
        "below": f"{comp}/sub/b.exr.genai.yaml",
        "beside": f"{comp}2/c.exr.genai.yaml",
        "old": f"{comp}/old.exr.genai.yaml",
    }
    for n, (key, sidecar) in enumerate(sidecars.items()):
        intent = _intent(f"id-{key}", f"comp/{key}", _version(n))
        state.begin_audits([dataclasses.replace(intent, sidecar=sidecar, sidecar_fp="1:2:3:4")])
        state.finish_audits([(f"id-{key}", "pass", [_version(n)])])
    with state.transaction() as db:
        db.execute("UPDATE audits SET state='superseded' WHERE audit_id='id-old'")
    assert sorted(state.sidecars_read(comp)) == sorted([sidecars["a"], odd])
    assert state.sidecars_read(f"{comp}/sub") == [sidecars["below"]]
    state.close()
