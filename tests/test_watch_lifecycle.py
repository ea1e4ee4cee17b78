"""Crashes, signals, dead emitters, limits, shares and roots (WATCH.md S12-S19, S21, S24).

Where a condition cannot be produced faithfully on a CI machine (an NFS mount, a real
``max_user_watches`` exhaustion, a share returning EIO), the test simulates it through a
documented seam of the watcher — a mountinfo file, ``max_watches``, an injected
:class:`~clearance.watch_readiness.FileSystem`, an ``event_hook`` — and says so.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from _watch_harness import (
    FAST,
    SIDECAR,
    TIMEOUT,
    InProcessWatcher,
    WatchProcess,
    assert_once,
    audited,
    audited_counts,
    events,
    exr_bytes,
    ledger,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    wait_for,
    write_file,
    write_hook,
    writer_chunks,
    writer_script,
)
from clearance.watch_readiness import FileSystem, backend_for, filesystem_type

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")


def _trickle(folder: str, count: int, pause: float) -> None:
    from _watch_harness import exr_bytes, write_file

    for i in range(count):
        name = f"t_{i:04d}.exr"
        write_file(
            Path(folder) / name, exr_bytes(seed=i), tmp=f"{name}.tmp" if i % 3 == 0 else None
        )
        time.sleep(pause)


def test_s12_kill_9_and_restart_while_files_keep_arriving(tmp_path: Path) -> None:
    """S12: a writer keeps publishing while the CLI watcher is killed with SIGKILL three times
    at random moments (including mid-audit) and restarted after a pause: every file is
    audited exactly once and the ledger passes SQLite's integrity check."""
    root = make_show(tmp_path)
    folder = root / "comp"
    folder.mkdir()
    count = 240
    writer = run_writer(_trickle, str(folder), count, 0.012, wait=False)
    rng = random.Random(12)
    for _ in range(3):
        with WatchProcess(root) as proc:
            time.sleep(rng.uniform(0.5, 1.5))
            proc.kill9()
        time.sleep(rng.uniform(0.3, 1.0))  # downtime: the writer carries on
    writer.join(TIMEOUT)
    assert writer.exitcode == 0
    with WatchProcess(root) as proc:
        wait_audited(root, count)
        quiet(root, 1.5)
        assert proc.terminate() == 0
    assert_once(root, [f"comp/t_{i:04d}.exr" for i in range(count)])
    db = sqlite3.connect(root / ".clearance" / "state.db")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert ledger(root).intents() == []


def test_s12_crash_between_audit_log_and_ledger_is_settled_from_the_log(tmp_path: Path) -> None:
    """The intent protocol: an audit whose events reached the log but whose ledger row is
    still ``auditing`` (the crash window) is marked audited at start-up, not audited again."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    (root / "comp" / "k.exr.genai.yaml").write_text(SIDECAR)
    with WatchProcess(root) as proc:
        run_writer(writer_script, [("exr", str(root / "comp" / "k.exr"), 1)])
        [event] = wait_audited(root, 1)
        assert proc.terminate() == 0
    audit_id = event["details"]["watch"]["audit_id"]
    store = ledger(root)
    with store.transaction() as db:  # rewind the ledger to the crash window
        db.execute("UPDATE audits SET state='auditing' WHERE audit_id=?", (audit_id,))
        db.execute("UPDATE files SET state='settling' WHERE audit_id=?", (audit_id,))
    with WatchProcess(root) as proc:
        started = wait_for(lambda: events(root, "watch.started")[1:], what="second watch.started")
        assert started[0]["details"]["recovered_intents"] == 1
        quiet(root, 1.5)
        assert proc.terminate() == 0
    assert_once(root, ["comp/k.exr"])
    assert ledger(root).audit(audit_id).state == "audited"


def test_s13_sigterm_persists_pending_and_a_restart_finishes_them(tmp_path: Path) -> None:
    """S13: SIGTERM while 5 files are still inside a long --settle → exit 0, watch.stopped
    names 5 pending, the ledger holds them as ``settling``; the next run audits them once."""
    root = make_show(tmp_path)
    names = [f"p{i}.exr" for i in range(5)]
    proc = WatchProcess(root, "--settle", "30").start()
    run_writer(writer_script, [("exr", str(root / "comp" / n), i) for i, n in enumerate(names)])
    time.sleep(0.5)  # let the hints reach the watcher (not an assertion)
    assert proc.terminate() == 0
    [stopped] = events(root, "watch.stopped")
    assert stopped["details"]["pending"] == 5
    assert ledger(root).counts().get("settling") == 5
    assert audited(root) == []
    with WatchProcess(root) as proc:
        wait_audited(root, 5)
        quiet(root, 1.0)
        assert proc.terminate() == 0
    assert_once(root, [f"comp/{n}" for n in names])
    assert ledger(root).counts().get("settling", 0) == 0


def test_sigusr1_dumps_every_threads_stack_and_the_watcher_keeps_running(
    tmp_path: Path,
) -> None:
    """A watcher that seems stuck says where it is: SIGUSR1 writes every thread's stack to
    stderr, in the watcher and in each audit process, and nothing stops."""
    from _watch_harness import _children

    def audit_processes() -> list[int]:  # not multiprocessing's resource tracker
        assert proc.proc is not None
        return [
            pid
            for pid in _children(proc.proc.pid)
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
        ]

    root = make_show(tmp_path)
    proc = WatchProcess(root).start()
    assert proc.proc is not None
    wait_for(lambda: len(audit_processes()) >= 1, what="audit processes")
    time.sleep(1.0)  # let them reach their loop (not an assertion)
    for pid in [proc.proc.pid, *audit_processes()]:
        os.kill(pid, signal.SIGUSR1)
    time.sleep(1.0)
    run_writer(writer_script, [("exr", str(root / "comp" / "after.exr"), 0)])
    wait_audited(root, 1)  # still watching, still auditing
    assert proc.terminate() == 0
    assert proc.proc.stderr is not None
    err = proc.proc.stderr.read().decode()
    assert "Thread 0x" in err and "(most recent call first)" in err
    assert "watch.py" in err  # the watcher's own threads
    assert "concurrent/futures/process.py" in err  # an audit process waiting for work


def test_an_audit_process_that_never_starts_does_not_keep_the_watcher_from_stopping(
    tmp_path: Path,
) -> None:
    """A site plugin hangs while an audit process imports it (the watcher's own import of it
    is fine): the watcher audits in its thread, and SIGTERM still stops it, exit 0 — the
    stuck process is killed after a grace period, and a warning with its stack says so."""
    write_hook(
        tmp_path,
        "stuck.py",
        (
            "import multiprocessing, time\n\n"
            "if multiprocessing.parent_process() is not None:  # an audit process\n"
            "    time.sleep(3600)\n\n"
            "@hookimpl\n"
            "def clearance_check_asset(asset, record, stage, policy):\n"
            "    return []\n"
        ),
    )
    root = make_show(tmp_path, plugins=["stuck.py"])
    with WatchProcess(root) as proc:
        run_writer(writer_script, [("exr", str(root / "comp" / "a.exr"), 0)])
        wait_audited(root, 1)  # in the watcher's thread: the processes never answered
        assert proc.terminate() == 0  # within the harness's timeout: the stop gave up
    assert proc.proc is not None and proc.proc.stderr is not None
    err = proc.proc.stderr.read().decode()
    assert "did not stop" in err
    assert "stuck.py" in err  # the killed process's stack says where it was stuck
    assert_once(root, ["comp/a.exr"])


def test_s14_a_crashing_checker_is_isolated(tmp_path: Path) -> None:
    """S14: a site checker raises for one file: that file is audited with PRV-05 naming the
    plugin, every other file is audited normally and the watcher keeps watching."""
    write_hook(
        tmp_path,
        "crashy.py",
        (
            "@hookimpl\n"
            "def clearance_check_asset(asset, record, stage, policy):\n"
            "    if asset.rel.endswith('bad.exr'):\n"
            "        raise RuntimeError('checker bug')\n"
            "    return []\n"
        ),
    )
    root = make_show(tmp_path, plugins=["crashy.py"])
    comp = root / "comp"
    with InProcessWatcher(root) as w:
        run_writer(
            writer_script,
            [("exr", str(comp / n), i) for i, n in enumerate(["ok1.exr", "bad.exr", "ok2.exr"])],
        )
        wait_audited(root, 3)
        run_writer(writer_script, [("exr", str(comp / "after.exr"), 9)])
        wait_audited(root, 4)
        assert all(
            r.observer is not None and r.observer.is_alive() for r in w.watcher.roots.values()
        )
    assert_once(root, ["comp/ok1.exr", "comp/bad.exr", "comp/ok2.exr", "comp/after.exr"])
    prv05 = [e for e in events(root, "finding") if e["rule"] == "PRV-05"]
    assert [e["asset"] for e in prv05] == ["comp/bad.exr"]


def test_s15_dead_emitter_is_detected_rebuilt_and_reconciled(tmp_path: Path) -> None:
    """S15: an exception injected into the inotify emitter thread kills it (as watchdog #481,
    #663); supervision rebuilds the observer and reconciles, so files written while it was
    dead are audited once."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root) as w:
        run_writer(writer_script, [("exr", str(comp / "before.exr"), 1)])
        wait_audited(root, 1)
        observer = w.watcher.roots[str(root)].observer
        [emitter] = list(observer.emitters)

        def boom(timeout: float) -> None:
            raise RuntimeError("injected emitter failure")

        emitter.queue_events = boom  # type: ignore[method-assign]
        # the emitter is blocked in a read: one more event lets it loop into the failure
        (root / "trigger.txt").write_text("x")
        wait_for(lambda: not emitter.is_alive(), what="emitter death")
        run_writer(writer_script, [("exr", str(comp / f"during{i}.exr"), i) for i in range(5)])
        wait_for(
            lambda: any(
                e["details"].get("reason") == "emitter-died" for e in events(root, "watch.error")
            ),
            what="emitter-died",
        )
        wait_audited(root, 6)
        run_writer(writer_script, [("exr", str(comp / "after.exr"), 7)])
        wait_audited(root, 7)
        quiet(root, 1.0)
    assert_once(
        root, ["comp/before.exr", "comp/after.exr"] + [f"comp/during{i}.exr" for i in range(5)]
    )
    assert any(e["details"]["reason"] == "emitter-restart" for e in events(root, "watch.rescan"))


def test_s16_watch_limit_falls_back_to_polling(tmp_path: Path) -> None:
    """S16 (simulated limit): ``max_watches=20`` stands in for an exhausted
    ``max_user_watches`` (exhausting the real one would break other processes on the host).
    500 new folders → the watcher reports watch-limit, switches the root to polling and
    audits every file once."""
    root = make_show(tmp_path)
    steps = [("exr", str(root / "renders" / f"d{i:03d}" / "f.exr"), i) for i in range(500)]
    with InProcessWatcher(root, max_watches=20) as w:
        run_writer(writer_script, steps)
        wait_for(
            lambda: any(
                e["details"].get("reason") == "watch-limit" for e in events(root, "watch.error")
            ),
            what="watch-limit alert",
        )
        wait_audited(root, 500)
        quiet(root, 1.0)
        assert w.watcher.roots[str(root)].backend == "polling"
    assert_once(root, [f"renders/d{i:03d}/f.exr" for i in range(500)])


class StaleStatFS(FileSystem):
    """An NFS client's attribute cache: ``stat`` answers from a cache for ``ttl`` seconds."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.cache: dict[str, tuple[float, os.stat_result]] = {}
        self.lock = threading.Lock()

    def stat(self, path: str) -> os.stat_result:
        now = time.monotonic()
        with self.lock:
            hit = self.cache.get(path)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        st = os.stat(path)
        with self.lock:
            self.cache[path] = (now, st)
        return st


def test_s17_network_share_uses_polling_and_a_quiet_period_longer_than_the_attribute_cache(
    tmp_path: Path,
) -> None:
    """S17 (simulated share): a mountinfo file says the root is ``nfs4`` and the file system
    answers ``stat`` from a 0.6 s attribute cache. The polling backend is selected, the quiet
    period is the network one (1.5 s > cache), and a chunked write is audited once, complete."""
    root = make_show(tmp_path)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
        f"95 22 0:50 / {root} rw,relatime shared:60 - nfs4 filer:/show rw,vers=4.2\n"
    )
    path = root / "comp" / "farm.exr"
    with InProcessWatcher(
        root, mountinfo=str(mountinfo), fs=StaleStatFS(0.6), network_settle=1.5
    ) as w:
        assert w.watcher.roots[str(root)].backend == "polling"
        run_writer(writer_chunks, str(path), 4, 0.2, False)
        wait_audited(root, 1)
        quiet(root, 2.0)
    assert_once(root, ["comp/farm.exr"])
    assert audited(root)[0]["details"]["watch"]["files"][0]["size"] == path.stat().st_size
    [started] = events(root, "watch.started")
    assert started["details"]["roots"][str(root)]["backend"] == "polling"


def test_backend_selection_from_mountinfo(tmp_path: Path) -> None:
    """inotify for local file systems; polling for nfs/cifs/smb/fuse; --polling forces it."""
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n"
        "30 22 0:40 / /mnt/nfs rw - nfs filer:/a rw\n"
        "31 22 0:41 / /mnt/smb\\040share rw - cifs //srv/b rw\n"
        "32 22 0:42 / /mnt/fuse rw - fuse.sshfs host: rw\n"
    )
    assert filesystem_type("/mnt/nfs/show/x", info) == "nfs"
    assert filesystem_type("/mnt/smb share/x", info) == "cifs"
    assert filesystem_type("/home/x", info) == "ext4"
    assert [
        backend_for(filesystem_type(p, info))
        for p in ("/mnt/nfs/a", "/mnt/smb share", "/mnt/fuse/a", "/srv")
    ] == ["polling", "polling", "polling", "inotify"]
    assert backend_for("ext4", force_polling=True) == "polling"
    assert backend_for(filesystem_type(tmp_path)) == "inotify" or filesystem_type(tmp_path) in (
        "nfs",
        "nfs4",
    )


class OutageFS(FileSystem):
    """A share outage: every stat/scandir under ``root`` raises EIO while ``flag`` exists."""

    def __init__(self, root: Path, flag: Path) -> None:
        self.root = str(root)
        self.flag = flag
        self.failures = 0

    def _check(self, path: str | None) -> None:
        if path is not None and str(path).startswith(self.root) and self.flag.exists():
            self.failures += 1
            raise OSError(errno.EIO, "Input/output error (simulated share outage)", path)

    def stat(self, path: str) -> os.stat_result:
        self._check(path)
        return os.stat(path)

    def scandir(self, path: str | None):  # type: ignore[no-untyped-def]
        self._check(path)
        return os.scandir(path)  # type: ignore[arg-type]


def test_s18_transient_share_outage_declares_nothing_deleted(tmp_path: Path) -> None:
    """S18 (simulated outage): ``stat``/``scandir`` raise EIO for 2 s (polling backend, a
    reconcile every second during the outage). No file is marked vanished, the root is not
    declared missing, and files created during the outage are audited once afterwards."""
    root = make_show(tmp_path)
    flag = tmp_path / "outage"
    fs = OutageFS(root, flag)
    comp = root / "comp"
    with InProcessWatcher(root, polling=True, fs=fs, rescan_interval=1.0):
        run_writer(writer_script, [("exr", str(comp / f"pre{i}.exr"), i) for i in range(3)])
        wait_audited(root, 3)
        flag.write_text("down")
        run_writer(writer_script, [("exr", str(comp / f"mid{i}.exr"), i + 10) for i in range(3)])
        wait_for(lambda: fs.failures > 5, what="the outage to be felt")
        time.sleep(2.0)  # keep the share down for a while (not an assertion)
        flag.unlink()
        wait_audited(root, 6)
        quiet(root, 1.5)
    assert_once(
        root, [f"comp/pre{i}.exr" for i in range(3)] + [f"comp/mid{i}.exr" for i in range(3)]
    )
    assert ledger(root).counts().get("vanished", 0) == 0
    assert not [
        e for e in events(root, "watch.error") if e["details"].get("reason") == "root-missing"
    ]


def test_s19_root_missing_at_start_deleted_and_recreated(tmp_path: Path) -> None:
    """S19: the watched folder does not exist at start (FileNotFoundError handled), appears,
    is deleted, and is re-created: each time the watcher re-schedules and reconciles."""
    root = make_show(tmp_path)
    drop = root / "renders" / "drop"
    with InProcessWatcher(root, paths=[drop]):
        assert any(
            e["details"].get("reason") == "root-missing" for e in events(root, "watch.error")
        )
        run_writer(writer_script, [("exr", str(drop / "one.exr"), 1)])
        wait_audited(root, 1)
        run_writer(writer_script, [("rmtree", str(drop))])
        wait_for(
            lambda: (
                len(
                    [
                        e
                        for e in events(root, "watch.error")
                        if e["details"].get("reason") == "root-missing"
                    ]
                )
                >= 2
            ),
            what="root-missing after deletion",
        )
        run_writer(writer_script, [("exr", str(drop / "two.exr"), 2)])
        wait_audited(root, 2)
        quiet(root, 1.0)
    assert_once(root, ["renders/drop/one.exr", "renders/drop/two.exr"])
    assert any(
        e["details"].get("reason") == "root-reappeared" for e in events(root, "watch.rescan")
    )


def test_s21_inode_reuse_under_polling(tmp_path: Path) -> None:
    """S21: delete A and create B between two polls (B likely gets A's inode, which
    watchdog's snapshot diff reports as a move/modify): B is audited as new, A not again."""
    root = make_show(tmp_path)
    comp = root / "comp"
    with InProcessWatcher(root, polling=True, interval=1.0):
        run_writer(writer_script, [("exr", str(comp / "a.exr"), 1)])
        wait_audited(root, 1)
        run_writer(
            writer_script, [("unlink", str(comp / "a.exr")), ("exr", str(comp / "b.exr"), 2)]
        )
        wait_audited(root, 2)
        quiet(root, 2.5)
    assert_once(root, ["comp/a.exr", "comp/b.exr"])
    assert audited(root)[1]["details"]["watch"]["reason"] == "new"


def test_s24_blind_root_is_detected_by_the_heartbeat_cookie_and_switched_to_polling(
    tmp_path: Path,
) -> None:
    """S24 (simulated blindness): an ``event_hook`` drops every event of the observer the
    root started with, as an NFS export written by farm nodes would blind inotify. The
    heartbeat cookie is never observed → ``watch.error`` root-blind, the root's observer
    rebuilt on polling, files audited once; cookies never audited.

    The root is blind until the watcher says so, whatever backend it started with: on a host
    whose inotify instances or watches are used up by other processes (128 instances per
    user by default, shared by every test run on the machine) the root starts on polling
    (``watch-limit``), and a hook that blinded only inotify left it seeing everything: the
    cookie was observed and the test waited in vain for root-blind."""
    root = make_show(tmp_path)
    box: dict[str, Any] = {}

    def blind(path: str, _backend: str, _event: object) -> bool:
        watcher = box.get("watcher")  # (None until the watcher exists: blind from the start)
        return watcher is not None and watcher.roots[path].blind > 0

    watching = InProcessWatcher(root, heartbeat=0.3, heartbeat_timeout=1.0, event_hook=blind)
    box["watcher"] = watching.watcher
    with watching as w:
        started = w.watcher.roots[str(root)]
        first = started.observer
        assert first is not None
        assert started.backend == "inotify" or events(root, "watch.error"), "polled: why?"
        run_writer(writer_script, [("exr", str(root / "comp" / f"b{i}.exr"), i) for i in range(3)])
        [error] = wait_for(
            lambda: [
                e for e in events(root, "watch.error") if e["details"].get("reason") == "root-blind"
            ][:1],
            what="root-blind",
        )
        assert error["details"]["backend"] == "polling"
        wait_audited(root, 3)
        run_writer(writer_script, [("exr", str(root / "comp" / "later.exr"), 9)])
        wait_audited(root, 4)
        quiet(root, 1.5)
        assert started.backend == "polling" and started.observer is not first
    assert_once(root, [f"comp/b{i}.exr" for i in range(3)] + ["comp/later.exr"])
    assert not list(root.glob(".clearance-cookie*"))


class SlowListingFS(FileSystem):
    """A share whose root folder takes ``delay`` seconds to list (a large NFS export): each
    polling snapshot of it takes longer than the heartbeat's timeout."""

    def __init__(self, root: Path, delay: float) -> None:
        self.root = str(root)
        self.delay = delay

    def scandir(self, path: str | None):  # type: ignore[no-untyped-def]
        entries = list(os.scandir(path))  # what is there now; the rest of the walk is slow
        if path == self.root:
            time.sleep(self.delay)
        return iter(entries)


def test_a_polled_root_whose_snapshots_outlast_the_heartbeat_timeout_is_not_blind(
    tmp_path: Path,
) -> None:
    """A polled folder sees its cookie when a snapshot taken after it was written is
    compared with the one before. When a snapshot takes longer than the heartbeat's timeout
    (a large share), the cookie is late, not unseen: the folder is not said blind. (It was,
    at every heartbeat: a watch.error, its observer rebuilt — its first snapshot taken in
    the scheduler's thread, which audits nothing meanwhile — and a reconcile of the whole
    folder, again and again.)"""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    seen: list[str] = []

    def hook(_root: str, _backend: str, event: Any) -> bool:
        name = os.path.basename(str(event.src_path))
        if name.startswith(".clearance-cookie.") and event.event_type == "created":
            seen.append(name)
        return True

    fs = SlowListingFS(root, 1.2)
    with InProcessWatcher(
        root, polling=True, heartbeat=0.3, heartbeat_timeout=1.0, event_hook=hook, fs=fs
    ) as w:
        watched = w.watcher.roots[str(root)]
        first = watched.observer
        wait_for(
            lambda: len(seen) >= 3 or events(root, "watch.error"),
            what="three heartbeats seen, or an error",
        )
        run_writer(writer_script, [("exr", str(comp / "a.exr"), 1)])
        wait_audited(root, 1)
        quiet(root, 1.0)
        assert watched.observer is first
    assert [e["details"]["reason"] for e in events(root, "watch.error")] == []
    assert [e["details"]["reason"] for e in events(root, "watch.rescan")] == ["startup"]
    assert_once(root, ["comp/a.exr"])


def test_a_cookie_written_for_an_observer_that_died_does_not_make_its_rebuilt_root_blind(
    tmp_path: Path,
) -> None:
    """S15 x S24: the inotify emitter dies with a heartbeat cookie written and not yet seen
    (its event went with the emitter). The rebuilt observer cannot see a file made before it
    started, so that cookie must not count against it: the heartbeat starts again with the
    new observer, the root stays on inotify and no root-blind is said. (It was said after
    the timeout, and a working inotify root switched to polling for good.)"""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    dying = threading.Event()
    cookies_after: list[str] = []

    def hook(_root: str, _backend: str, event: Any) -> bool:
        name = os.path.basename(str(event.src_path))
        if dying.is_set():
            return False  # the emitter's last events are lost with it
        if name.startswith(".clearance-cookie.") and event.event_type == "created":
            cookies_after.append(name)
        return True

    with InProcessWatcher(root, heartbeat=0.3, heartbeat_timeout=1.0, event_hook=hook) as w:
        watched = w.watcher.roots[str(root)]
        if watched.backend != "inotify":
            pytest.skip("inotify did not start on this host (its instances or watches used up)")
        wait_for(lambda: len(cookies_after) >= 1, what="a first heartbeat seen")
        observer = watched.observer
        assert observer is not None
        [emitter] = list(observer.emitters)
        before = watched.cookie
        dying.set()
        wait_for(
            lambda: (
                watched.cookie not in (None, before)
                and watched.cookie[0] not in watched.cookie_seen
            ),
            what="a cookie written, its event lost",
        )

        def boom(timeout: float) -> None:
            raise RuntimeError("injected emitter failure")

        emitter.queue_events = boom  # type: ignore[method-assign]
        (root / "trigger.txt").write_text("x")  # the emitter loops into the failure
        wait_for(lambda: not emitter.is_alive(), what="emitter death")
        cookies_after.clear()
        dying.clear()
        wait_for(lambda: watched.observer is not observer, what="the observer rebuilt")
        wait_for(lambda: len(cookies_after) >= 2, what="two heartbeats of the rebuilt observer")
        run_writer(writer_script, [("exr", str(comp / "after.exr"), 1)])
        wait_audited(root, 1)
        quiet(root, 1.0)
        assert watched.backend == "inotify"
    reasons = [e["details"]["reason"] for e in events(root, "watch.error")]
    assert reasons == ["emitter-died"], reasons
    assert_once(root, ["comp/after.exr"])
    assert not list(root.glob(".clearance-cookie*"))


def test_plugin_load_failure_makes_watch_exit_2(tmp_path: Path) -> None:
    """DESIGN.md: a plugin that fails to load makes ``watch`` exit 2 (never a silent skip)."""
    write_hook(tmp_path, "broken.py", "import does_not_exist\n")
    root = make_show(tmp_path, plugins=["broken.py"])
    proc = WatchProcess(root)
    import subprocess

    result = subprocess.run(proc.cmd, capture_output=True, timeout=TIMEOUT)
    assert result.returncode == 2
    assert any(e["event"] == "plugin.failed" for e in events(root))


def test_a_stage_checker_the_watcher_never_calls_is_said_at_start(tmp_path: Path) -> None:
    """A site stage checker (``clearance_check_stage``) and the stage notifications run after
    a stage's assets in ``scan``; a watcher audits each asset as it lands and never calls them.
    Said at start, on stderr and as a ``run.warning`` naming the plugin (docs/hooks.md): a
    stage check a watched show relies on never passes in silence. A plugin with only asset
    hooks is not named."""
    write_hook(
        tmp_path,
        "stage_gate.py",
        "@hookimpl\ndef clearance_check_stage(stage_result, policy):\n    return []\n\n"
        "@hookimpl\ndef clearance_stage_finished(stage_result, policy):\n    pass\n",
    )
    write_hook(
        tmp_path,
        "per_asset.py",
        "@hookimpl\ndef clearance_check_asset(asset, record, stage, policy):\n    return []\n",
    )
    root = make_show(tmp_path, plugins=["stage_gate.py", "per_asset.py"])
    with WatchProcess(root) as proc:
        run_writer(writer_script, [("exr", str(root / "comp" / "a.exr"), 1)])
        wait_audited(root, 1)
        assert proc.terminate() == 0
        assert proc.proc is not None and proc.proc.stderr is not None
        stderr = proc.proc.stderr.read().decode()
    [warning] = events(root, "run.warning")
    assert warning["details"]["path"].endswith("stage_gate.py")
    said = warning["details"]["warning"]
    assert (
        "clearance_check_stage, clearance_stage_finished are not called by clearance watch" in said
    )
    assert said in stderr and "per_asset" not in stderr
    assert not events(root, "stage.finished")  # what the warning says: no stage ran
    assert audited_counts(root)["comp/a.exr"] == 1


def test_a_state_store_that_cannot_be_opened_makes_watch_exit_2_with_an_audit_event(
    tmp_path: Path,
) -> None:
    """docs/watch.md: exit 2 for a state store that cannot be written; the watcher refuses to
    audit what it cannot record. It says so on stderr and in the audit log."""
    import subprocess

    root = make_show(tmp_path)
    store = root / ".clearance" / "state.db"
    store.parent.mkdir()
    store.write_bytes(b"SQLite format 3\x00" + b"\x00" * 50)  # a header, then nothing
    result = subprocess.run(WatchProcess(root).cmd, capture_output=True, timeout=TIMEOUT, text=True)
    assert result.returncode == 2
    assert f"{store}" in result.stderr and "internal error" not in result.stderr
    [error] = events(root, "watch.error")
    assert error["details"]["reason"] == "fatal" and str(store) in error["message"]
    assert events(root)[-1]["event"] == "run.finished"
    assert events(root)[-1]["details"]["exit_code"] == 2


def test_a_ledger_another_process_keeps_locked_stops_the_watcher_and_a_restart_audits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write lock held past the busy timeout (a sqlite3 shell left in a transaction): the
    watcher cannot record an audit, so it stops with exit 2 and a watch.error (not an
    internal error); the file it could not audit is audited by the next start."""
    from clearance import state

    monkeypatch.setattr(state, "BUSY_TIMEOUT", 0.5)
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    (root / "comp" / "k.exr.genai.yaml").write_text(SIDECAR)
    # audited in this process: an audit process would wait out lineage's own busy timeout
    with InProcessWatcher(root, audit_processes=0) as w:
        holder = sqlite3.connect(root / ".clearance" / "state.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            run_writer(writer_script, [("exr", str(root / "comp" / "k.exr"), 1)])
            w.thread.join(TIMEOUT)
            assert not w.thread.is_alive(), "the watcher did not stop"
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert w.watcher.exit_code == 2
    [error] = events(root, "watch.error")
    assert error["details"]["reason"] == "fatal" and "locked" in error["message"]
    assert events(root)[-1]["event"] == "run.finished" and audited(root) == []
    with InProcessWatcher(root):
        wait_audited(root, 1)
        quiet(root, 1.0)
    assert_once(root, ["comp/k.exr"])


def test_sigint_drains_and_exits_0(tmp_path: Path) -> None:
    """SIGINT behaves as SIGTERM: drain, write watch.stopped, exit 0."""
    root = make_show(tmp_path)
    with WatchProcess(root) as proc:
        run_writer(writer_script, [("exr", str(root / "comp" / "i.exr"), 1)])
        wait_audited(root, 1)
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGINT)
        assert proc.proc.wait(TIMEOUT) == 0
    assert len(events(root, "watch.stopped")) == 1
    assert audited_counts(root)["comp/i.exr"] == 1
    shutil.rmtree(root / "comp")


@pytest.mark.parametrize(
    ("option", "value"),
    [
        *[
            (option, "nan")
            for option in (
                "--settle",
                "--sidecar-grace",
                "--sequence-idle",
                "--interval",
                "--network-settle",
                "--rescan",
                "--heartbeat",
                "--stats",
                "--stalled",
            )
        ],
        ("--settle", "inf"),
        ("--stalled", "-inf"),
        ("--rescan", "-1"),
        ("--interval", "1e300"),  # overflowed the polling emitter's wait, which then died
        ("--interval", "0"),  # polled without pause: a busy loop
        ("--interval", "0.05"),
        ("--max-watches", "-1"),
    ],
)
def test_an_option_out_of_range_is_a_usage_error_naming_it(
    tmp_path: Path, option: str, value: str
) -> None:
    """``--stalled nan`` behaved as 0 and ``--settle nan`` made the audit log refuse
    ``watch.started``: every seconds option takes a finite number from 0 to ten years, and
    anything else is a usage error (exit 2) naming the option, before anything is written."""
    import subprocess
    import sys

    root = make_show(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "clearance", "watch", str(root), f"{option}={value}"],
        capture_output=True,
        text=True,
        timeout=30,  # argparse answers at once; a watcher started is killed then
    )
    assert result.returncode == 2, result.stderr
    assert f"argument {option}: expected" in result.stderr
    assert repr(value) in result.stderr or f"got {value}" in result.stderr
    assert not (root / ".clearance" / "audit.jsonl").exists()


def test_an_event_the_audit_log_refuses_at_start_is_reported_with_its_reason(
    tmp_path: Path,
) -> None:
    """A library caller's NaN option makes the audit log refuse ``watch.started`` (it holds
    the options): the watcher stops with 2 and says why — in a ``watch.error`` (reason
    ``fatal``) naming the event and the refusal, and in :attr:`Watcher.failure` (what the CLI
    prints) — where it used to point at a ``watch.error`` that was never written."""
    from clearance.auditlog import AuditLogError
    from clearance.policy import load_policy
    from clearance.watch import Watcher, WatchOptions

    root = make_show(tmp_path)
    options = WatchOptions(settle=float("nan"), heartbeat=0.0, audit_processes=0)
    watcher = Watcher(load_policy(root / "clearance.yaml"), [str(root)], options)
    assert watcher.run() == 2
    assert isinstance(watcher.failure, AuditLogError)
    assert "'watch.started' cannot be serialised" in str(watcher.failure)
    assert watcher.failure_logged
    [fatal] = events(root, "watch.error")
    assert fatal["details"]["reason"] == "fatal"
    assert "'watch.started' cannot be serialised" in fatal["details"]["error"]
    assert not events(root, "watch.started")


def watch_missing(work: Path, path: str) -> tuple[int, str]:
    """``clearance watch PATH`` from ``work`` (no configuration above it) for a PATH not
    there: run until it has said root-missing, then SIGTERM; the exit code and stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "clearance", "watch", path, "--heartbeat", "0", "--stats", "0"],
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(
            lambda: (
                proc.poll() is not None
                or any(
                    e["details"].get("reason") == "root-missing"
                    for e in events(work, "watch.error")
                )
            ),
            what="root-missing",
        )
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


def test_watching_a_folder_not_there_creates_none_of_its_parents(tmp_path: Path) -> None:
    """The folder is waited for (S19), and the state goes in the nearest folder that is
    there: ``a/b`` is not made to hold a ``.clearance`` (nor ``/.clearance`` for
    ``/nonexist``)."""
    work = tmp_path / "work"
    work.mkdir()
    code, err = watch_missing(work, "a/b/missing")
    assert code == 0, err
    assert sorted(p.name for p in work.iterdir()) == [".clearance"]


def test_watch_says_on_stderr_what_it_uses_each_error_and_a_summary_at_stop(
    tmp_path: Path,
) -> None:
    """A wrangler at the terminal sees the configuration and audit log in use, each
    ``watch.error`` (its reason and path) as it is logged, and at stop one line of what was
    audited; nothing per asset."""
    root = make_show(tmp_path)
    with WatchProcess(root) as proc:
        write_file(root / "comp/a.exr", exr_bytes())
        wait_audited(root, 1)
        assert proc.terminate() == 0
        assert proc.proc is not None
        _out, raw = proc.proc.communicate(timeout=TIMEOUT)
    err = raw.decode()
    assert (
        f"configuration {root / 'clearance.yaml'}; audit log {root / '.clearance/audit.jsonl'}"
        in err
    )
    assert "stopped: 1 asset(s) audited (1 escalate), 0 watch.error(s)" in err, err
    assert "comp/a.exr" not in err  # quiet: no line per asset

    work = tmp_path / "work"
    work.mkdir()
    drop = work / "renders" / "drop"
    code, err = watch_missing(work, str(drop))
    assert code == 0, err
    missing = [line for line in err.splitlines() if "watch.error root-missing" in line]
    assert len(missing) == 1 and str(drop) in missing[0], err
    assert "stopped: 0 asset(s) audited, 1 watch.error(s)" in err


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("mount"),
    reason="mounts a small tmpfs (root, Linux)",
)
@pytest.mark.parametrize("full", ["state", "state-and-log"])
def test_a_full_disk_stops_the_watcher_naming_the_file_and_the_cause(
    tmp_path: Path, full: str
) -> None:
    """The state store's disk fills up under a running watcher: exit 2, and stderr names the
    file and says the disk is full (SQLite's own error, not the "cannot rollback" of a
    rollback SQLite had already done); the summary counts that error even when the audit log,
    on the same disk, could not record it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        root = make_show(tmp_path)
        if full == "state":
            config = root / "clearance.yaml"
            config.write_text(
                config.read_text().replace("state: .clearance/state.db", f"state: {disk}/state.db")
            )
        else:
            (root / ".clearance").symlink_to(disk)
        (root / "comp").mkdir()
        watch = WatchProcess(root).start()
        assert watch.proc is not None
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as filler:
            while True:  # until ENOSPC
                filler.write(b"\0" * 65536)
                filler.flush()
        for i in range(200):  # the ledger or the log needs a new block soon
            if watch.proc.poll() is not None:
                break
            (root / "comp" / f"k{i:03d}.exr.genai.yaml").write_text(SIDECAR)
            write_file(root / "comp" / f"k{i:03d}.exr", exr_bytes(seed=i))
        code = watch.proc.wait(TIMEOUT)
        stderr = watch.proc.stderr.read().decode()  # type: ignore[union-attr]
    finally:
        subprocess.run(["umount", "-l", str(disk)])
    assert code == 2, stderr
    assert "cannot rollback" not in stderr and "internal error" not in stderr
    [last] = [line for line in stderr.splitlines() if line.startswith("clearance: error:")]
    named = str(disk) in last or str(root / ".clearance") in last
    assert named and ("no space left" in last.lower()), last
    assert ", 0 watch.error(s)" not in stderr
    if full == "state":
        assert f"cannot write the state store {disk / 'state.db'}: no space left" in last
        assert "see the audit log's watch.error" in last


def test_a_fatal_error_the_log_cannot_record_is_counted_in_the_summary(tmp_path: Path) -> None:
    """The audit log's disk is full (every write: ENOSPC): the watcher stops, exit 2, the
    error names the log, and the summary counts the error the log could not take."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    watch = WatchProcess(root).start()
    assert watch.proc is not None
    log = root / ".clearance" / "audit.jsonl"
    full = log.with_name("full.lnk")
    full.symlink_to("/dev/full")
    log.rename(log.with_name("audit.jsonl.kept"))
    full.replace(log)  # atomically: the watcher may have started a new log in between
    (root / "comp" / "k.exr.genai.yaml").write_text(SIDECAR)
    write_file(root / "comp" / "k.exr", exr_bytes())
    code = watch.proc.wait(TIMEOUT)
    stderr = watch.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 2, stderr
    assert f"cannot write the audit log {log}" in stderr
    assert "1 watch.error(s)" in stderr and "not in the audit log" in stderr


def test_a_log_that_fails_only_when_the_watcher_stops_is_named(tmp_path: Path) -> None:
    """The log replaced by a folder while the watcher had nothing to write: its last
    events (watch.stopped, run.finished) cannot be written, exit 2, and stderr said only
    "watcher stopped: failed", naming neither the log nor why."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    watch = WatchProcess(root).start()
    log = root / ".clearance" / "audit.jsonl"
    log.rename(log.with_name("audit.jsonl.kept"))
    log.mkdir()
    code = watch.terminate()
    stderr = watch.proc.stderr.read().decode()  # type: ignore[union-attr]
    assert code == 2, stderr
    [last] = [line for line in stderr.splitlines() if line.startswith("clearance: error:")]
    assert f"cannot open the audit log {log} for writing: Is a directory" in last, last
    assert "not in the audit log: it could not be written" in last


def test_a_linked_folder_outside_the_watched_folders_is_watched_under_its_name(
    tmp_path: Path,
) -> None:
    """inotify does not follow a link to a folder (``plates -> /mnt/share/plates``): the
    watcher watches its target as a root of its own, named by the link, as a scan of the
    show names it. What is there at start-up and what is written there later are audited
    once each, in the link's stage; a link into the watched folder (watched through its
    real path) and a dangling one add nothing, and nothing is reported."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    share = tmp_path / "share" / "plates"
    share.mkdir(parents=True)
    write_file(share / "a.exr.genai.yaml", SIDECAR.encode())
    write_file(share / "a.exr", exr_bytes())
    (root / "comp" / "plates").symlink_to(share)
    (root / "renders").mkdir()
    (root / "comp" / "renders_here").symlink_to(root / "renders")  # inside: watched anyway
    (root / "comp" / "dangling").symlink_to(tmp_path / "nowhere")
    with InProcessWatcher(root, rescan_interval=0.5):
        wait_audited(root, 1)
        write_file(share / "b.exr.genai.yaml", SIDECAR.encode())
        write_file(share / "b.exr", exr_bytes(seed=1), tmp="b.exr.tmp")
        write_file(root / "renders" / "c.exr.genai.yaml", SIDECAR.encode())
        write_file(root / "renders" / "c.exr", exr_bytes(seed=2))
        wait_audited(root, 3)
        quiet(root, 1.5)  # a few periodic reconciles more: nothing twice
    assert_once(root, ["comp/plates/a.exr", "comp/plates/b.exr", "renders/c.exr"])
    assert {e["asset"]: e["stage"] for e in audited(root)}["comp/plates/b.exr"] == "comp"
    reasons = [e["details"]["reason"] for e in events(root, "watch.error")]
    assert "linked-folder" not in reasons
    rescans = [e["details"] for e in events(root, "watch.rescan")]
    assert [r["root"] for r in rescans if r["reason"] == "linked-folder"] == [
        str(root / "comp" / "plates")
    ]


def linked_walks(root: Path) -> list[dict[str, object]]:
    return [e for e in events(root, "watch.rescan") if e["details"]["reason"] == "linked-folder"]


def test_a_link_to_a_folder_made_while_watching_is_watched_and_forgotten_when_removed(
    tmp_path: Path,
) -> None:
    """A link to a folder outside the watched folders, made while the watcher runs (no
    periodic reconcile here), is watched at once; once the link is removed, what is written
    in its target is not the show's any more and is not audited."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    share = tmp_path / "share"
    share.mkdir()
    with InProcessWatcher(root):
        (root / "comp" / "latest").symlink_to(share)
        wait_for(lambda: linked_walks(root), what="the linked folder's first walk")
        write_file(share / "a.exr.genai.yaml", SIDECAR.encode())
        write_file(share / "a.exr", exr_bytes())
        wait_audited(root, 1)
        (root / "comp" / "latest").unlink()
        wait_for(
            lambda: len(linked_walks(root)) >= 2, what="the folder the link was in walked again"
        )
        write_file(share / "b.exr.genai.yaml", SIDECAR.encode())
        write_file(share / "b.exr", exr_bytes(seed=1))
        quiet(root, 1.5)
    assert_once(root, ["comp/latest/a.exr"])


def test_a_link_to_a_folder_holding_the_show_is_said_not_watched(tmp_path: Path) -> None:
    """A link to the show's parent (or to ``/``) would watch the show a second time: it is
    not watched, and one ``watch.error`` (reason ``linked-folder``) names the link and its
    target, however often the folder is walked."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    (root / "comp" / "up").symlink_to(tmp_path)
    with InProcessWatcher(root, rescan_interval=0.5):
        wait_for(
            lambda: [
                e for e in events(root, "watch.error") if e["details"]["reason"] == "linked-folder"
            ],
            what="the linked-folder error",
        )
        time.sleep(1.5)  # a few periodic reconciles more: said once
    said = [e for e in events(root, "watch.error") if e["details"]["reason"] == "linked-folder"]
    assert len(said) == 1, said
    assert said[0]["details"]["path"] == str(root / "comp" / "up")
    assert said[0]["details"]["target"] == os.path.realpath(tmp_path)
    assert "not audited" in said[0]["message"]


def test_two_links_to_one_folder_watch_it_once(tmp_path: Path) -> None:
    """``comp/plates`` and ``gen/plates`` both link to one share: its files are audited once
    each (under one of the names, as ``scan`` audits them under the link it walked first),
    not once per link in two stages."""
    root = make_show(tmp_path)
    share = tmp_path / "share" / "plates"
    share.mkdir(parents=True)
    write_file(share / "a.exr.genai.yaml", SIDECAR.encode())
    write_file(share / "a.exr", exr_bytes())
    for stage in ("comp", "renders"):
        (root / stage).mkdir()
        (root / stage / "plates").symlink_to(share)
    with InProcessWatcher(root, rescan_interval=0.5):
        wait_audited(root, 1)
        write_file(share / "b.exr.genai.yaml", SIDECAR.encode())
        write_file(share / "b.exr", exr_bytes(seed=1))
        wait_audited(root, 2)
        quiet(root, 1.5)
    names = sorted(e["asset"] for e in audited(root))
    assert len(names) == 2, names
    assert {n.rsplit("/", 1)[0] for n in names} in ({"comp/plates"}, {"renders/plates"})
    assert len(linked_walks(root)) == 1


def test_a_link_from_the_watched_folder_into_the_show_names_files_as_the_show_does(
    tmp_path: Path,
) -> None:
    """``watch comp`` where ``comp/out -> ../renders``: the files are the show's
    ``renders/...`` (their stage), as ``check`` and a scan of the show name them, not
    ``comp/out/...`` in stage comp."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    (root / "renders").mkdir()
    (root / "comp" / "out").symlink_to(root / "renders")
    with InProcessWatcher(root, paths=[root / "comp"]):
        write_file(root / "renders" / "a.exr.genai.yaml", SIDECAR.encode())
        write_file(root / "renders" / "a.exr", exr_bytes())
        wait_audited(root, 1)
        quiet(root, 1.0)
    assert [(e["stage"], e["asset"]) for e in audited(root)] == [("renders", "renders/a.exr")]


def test_linked_folders_past_the_limit_are_said_not_watched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each linked folder has its observer and inotify instance (128 per user): past
    ``MAX_LINKED_FOLDERS`` (2 here) one is a ``linked-folder`` watch.error, not watched."""
    import clearance.watch

    monkeypatch.setattr(clearance.watch, "MAX_LINKED_FOLDERS", 2)
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    for i in range(3):
        (tmp_path / f"share{i}").mkdir()
        (root / "comp" / f"s{i}").symlink_to(tmp_path / f"share{i}")
    with InProcessWatcher(root):
        said = wait_for(
            lambda: [
                e for e in events(root, "watch.error") if e["details"]["reason"] == "linked-folder"
            ],
            what="the linked-folder error",
        )
        wait_for(lambda: len(linked_walks(root)) >= 2, what="two linked folders walked")
    assert len(said) == 1 and "2 linked folders are watched already" in said[0]["message"]
    assert len(linked_walks(root)) == 2


def test_a_stage_folder_given_through_its_link_is_watched_under_the_links_name(
    tmp_path: Path,
) -> None:
    """``clearance watch comp`` where ``comp -> /mnt/fast/show01/comp``: the show's
    configuration and log, the files named ``comp/...`` in stage comp (they were named by
    their path on the share, in no stage), live and at start-up; and given beside the show
    itself (``watch . comp``), each file is audited once."""
    root = make_show(tmp_path)
    share = tmp_path / "fast" / "comp"
    share.mkdir(parents=True)
    (root / "comp").symlink_to(share)
    write_file(share / "a.exr.genai.yaml", SIDECAR.encode())
    write_file(share / "a.exr", exr_bytes())
    with WatchProcess(root, paths=[root / "comp"]) as watcher:
        wait_audited(root, 1)
        write_file(share / "b.exr.genai.yaml", SIDECAR.encode())
        write_file(share / "b.exr", exr_bytes(seed=1))
        wait_audited(root, 2)
        assert watcher.terminate() == 0
    assert {(e["stage"], e["asset"]) for e in audited(root)} == {
        ("comp", "comp/a.exr"),
        ("comp", "comp/b.exr"),
    }
    assert not (share / ".clearance").exists()
    with InProcessWatcher(root, paths=[root, root / "comp"]):
        write_file(share / "c.exr.genai.yaml", SIDECAR.encode())
        write_file(share / "c.exr", exr_bytes(seed=2))
        wait_audited(root, 3)
        quiet(root, 1.0)
    assert_once(root, ["comp/a.exr", "comp/b.exr", "comp/c.exr"])


def test_a_linked_folder_under_a_polled_root_is_not_said_unwatched(tmp_path: Path) -> None:
    """The polling backend follows links to folders: a linked folder there is walked, so no
    ``linked-folder`` error says otherwise."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    share = tmp_path / "share"
    share.mkdir()
    (root / "comp" / "plates").symlink_to(share)
    with InProcessWatcher(root, polling=True, rescan_interval=0.5):
        time.sleep(1.5)  # the start-up reconcile and a few periodic ones
        (root / "comp" / "latest").symlink_to(share)
        time.sleep(1.5)
    reasons = [e["details"]["reason"] for e in events(root, "watch.error")]
    assert "linked-folder" not in reasons
    assert len(events(root, "watch.rescan")) >= 2


def _inotify_instances() -> int:
    """This process's inotify instances (its fds that link to ``anon_inode:inotify``)."""
    found = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            found += os.readlink(f"/proc/self/fd/{fd}") == "anon_inode:inotify"
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts fds in /proc")
def test_a_root_that_fails_to_start_leaves_no_inotify_instance_or_thread_behind(
    tmp_path: Path,
) -> None:
    """The watched folder is there when looked at and gone when its inotify watch is added
    (deleted in between, as a share unmounted or a folder removed by a wrangler): the root
    waits for it to appear again, every time, without an inotify instance and its reader
    thread left behind by each failed start (they add up to ``max_user_instances``)."""
    from clearance.policy import load_policy
    from clearance.watch import Watcher, WatchOptions
    from clearance.watch_supervisor import _Root

    root = make_show(tmp_path)
    drop = root / "renders" / "drop"

    class GoneWhenWatched(FileSystem):
        """The folder goes right after the watcher looked at it (a real rmdir)."""

        def stat(self, path: str) -> os.stat_result:
            st = os.stat(path)
            if path == str(drop):
                os.rmdir(path)
            return st

    watcher = Watcher(
        load_policy(root / "clearance.yaml"),
        [str(drop)],
        WatchOptions(**FAST),
        fs=GoneWhenWatched(),
    )
    before = (_inotify_instances(), threading.active_count())
    for _ in range(5):
        drop.mkdir(parents=True)
        started = _Root(str(drop), None, "inotify", 0.3)
        watcher._start_root(started)
        assert started.state == "missing" and started.observer is None
        assert not drop.exists()
    after = (_inotify_instances(), threading.active_count())
    assert after[0] <= before[0], f"inotify instances {before[0]} -> {after[0]}"
    assert after[1] <= before[1], f"threads {before[1]} -> {after[1]}"
