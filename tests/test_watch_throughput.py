"""How the watcher keeps up with a burst (issue 4, performance): audit processes, plugins'
buffered writes committed per batch, and watchdog's move grouping without its stalls.

Nothing here asserts a duration: each test proves *where* work happens and that exactly-once
holds when that machinery is used or breaks.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from _watch_harness import (
    FAST,
    InProcessWatcher,
    assert_once,
    audited,
    events,
    ledger,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    wait_for,
    write_hook,
    writer_burst,
    writer_script,
)
from clearance import hookimpl

PID_ENV = "CLEARANCE_TEST_WATCHER_PID"

# A site checker that notes which process audited each asset (one line per asset).
PID_HOOK = (
    "import os\n\n"
    "@hookimpl\n"
    "def clearance_check_asset(asset, record, stage, policy):\n"
    "    with open(os.path.join(str(policy.root), '..', 'pids.txt'), 'a') as f:\n"
    "        f.write(f'{asset.rel} {os.getpid()}\\n')\n"
    "    return []\n"
)


def _pids(tmp_path: Path) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    pids = tmp_path / "pids.txt"
    for line in pids.read_text().splitlines() if pids.exists() else []:
        rel, pid = line.rsplit(" ", 1)
        out.setdefault(rel, set()).add(int(pid))
    return out


def _processes_ready(w: InProcessWatcher) -> None:
    worker = w.watcher.worker
    assert worker is not None and worker.pool is not None
    pool = worker.pool
    wait_for(lambda: pool.ready or pool.broken is not None, what="audit processes")
    assert pool.broken is None, pool.broken


def test_audit_processes_run_the_engine_and_the_watcher_writes_every_event(
    tmp_path: Path,
) -> None:
    """With audit processes, the engine (and its plugins) runs in another process; the
    watcher writes the events (with ``details.watch``), hashes reach the ledger, every asset
    is audited once, and latency is counted from the end of each file's quiet period."""
    write_hook(tmp_path, "pids.py", PID_HOOK)
    root = make_show(tmp_path, plugins=["pids.py"])
    comp = root / "comp"
    comp.mkdir()
    with InProcessWatcher(root, audit_processes=1) as w:
        _processes_ready(w)
        run_writer(writer_burst, str(comp), 200, 2, True)
        wait_audited(root, 200)
        quiet(root, 1.0)
    names = [f"comp/shot_{i:05d}.exr" for i in range(200)]
    assert_once(root, names)
    [started] = events(root, "watch.started")
    assert started["details"]["audit_processes"] == 1
    pids = _pids(tmp_path)
    assert set(pids) == set(names)
    assert all(os.getpid() not in p for p in pids.values()), "audited in the watcher's process"
    store = ledger(root)
    hashes = dict(store.query("SELECT audit_id, sha256 FROM files WHERE state = 'audited'"))
    for event in audited(root):
        # made and serialised in the audit process, from the ledger's record of the audit
        watch = event["details"]["watch"]
        assert watch["pairing"] == "paired" and watch["reason"] == "new"
        assert watch["files"][0]["sha256"] == hashes[watch["audit_id"]]
        assert watch["files"][0]["path"] == event["asset"]
    from clearance.auditlog_verify import verify_log

    assert verify_log(root / ".clearance" / "audit.jsonl").intact  # one chain, in order
    assert store.intents() == []
    rows = store.query(
        "SELECT f.sha256, f.mtime_ns, a.settled_at, a.started_at, a.finished_at "
        "FROM files f JOIN audits a ON a.audit_id = f.audit_id WHERE f.state = 'audited'"
    )
    assert len(rows) == 200
    for sha, mtime_ns, settled, started_at, finished in rows:
        assert sha is not None and len(sha) == 64
        # the quiet period starts no earlier than the last write, so an asset cannot be
        # ready before mtime + settle; and it is recorded before it is audited
        assert settled >= mtime_ns / 1e9 + FAST["settle"] - 0.05
        assert settled <= started_at <= finished


def test_an_audit_process_that_dies_leaves_the_work_to_the_worker_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An audit process killed in the middle of a batch (a crash, the OOM killer): the
    batch is audited in the watcher's thread instead, every asset exactly once, and the
    watcher keeps auditing what comes next."""
    monkeypatch.setenv(PID_ENV, str(os.getpid()))
    write_hook(
        tmp_path,
        "die.py",
        (
            "import os\n\n"
            "@hookimpl\n"
            "def clearance_check_asset(asset, record, stage, policy):\n"
            f"    if asset.rel.endswith('die.exr') and os.getpid() != int(os.environ['{PID_ENV}']):\n"
            "        os._exit(1)\n"
            "    return []\n"
        ),
    )
    root = make_show(tmp_path, plugins=["die.py"])
    comp = root / "comp"
    before = ["a.exr", "b.exr", "die.exr", "c.exr", "d.exr"]
    with InProcessWatcher(root, audit_processes=1) as w:
        _processes_ready(w)
        run_writer(writer_script, [("exr", str(comp / n), i) for i, n in enumerate(before)])
        wait_audited(root, len(before))
        run_writer(writer_script, [("exr", str(comp / "after.exr"), 9)])
        wait_audited(root, len(before) + 1)
        quiet(root, 1.0)
        pool = w.watcher.worker.pool  # type: ignore[union-attr]
        assert pool is not None and pool.broken is not None
    assert_once(root, [f"comp/{n}" for n in [*before, "after.exr"]])
    assert ledger(root).intents() == []


class _BufferedPlugin:
    """A built-in-style plugin that buffers rows and commits them on ``flush()``."""

    def __init__(self) -> None:
        self.buffer: list[str] = []
        self.committed: list[str] = []
        self.lock = threading.Lock()

    @hookimpl
    def clearance_asset_audited(self, result: Any, policy: Any) -> None:
        with self.lock:
            self.buffer.append(result.asset.rel)

    def flush(self) -> None:
        with self.lock:
            self.committed.extend(self.buffer)
            self.buffer.clear()


def test_plugins_buffered_writes_are_committed_after_each_batch(tmp_path: Path) -> None:
    """``Session.flush()`` runs after every audit batch, not only at stop: a plugin's buffered
    rows (lineage) are committed while the watcher keeps running. A plugin registered
    in-process cannot be rebuilt in another process, so this watcher audits in its thread."""
    from clearance.policy import load_policy
    from clearance.watch import Watcher, WatchOptions
    from clearance.watch_audit import WatchSession

    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    plugin = _BufferedPlugin()
    policy = load_policy(root / "clearance.yaml")
    session = WatchSession(policy, command="watch", extra_plugins=[("buffered", plugin)])
    watcher = Watcher(policy, [str(root)], WatchOptions(**FAST), session=session)
    thread = threading.Thread(target=watcher.run, daemon=True)
    thread.start()
    try:
        wait_for(watcher.started.is_set, what="watcher start")
        assert watcher.worker is not None and watcher.worker.pool is None
        run_writer(writer_script, [("exr", str(comp / f"f{i}.exr"), i) for i in range(20)])
        wait_audited(root, 20)
        # still running: every audited asset's row was committed by a flush after its batch
        wait_for(lambda: len(plugin.committed) == 20, what="rows committed per batch")
        assert thread.is_alive()
    finally:
        watcher.stop()
        thread.join(60)
    assert sorted(plugin.committed) == sorted(f"comp/f{i}.exr" for i in range(20))


# -- watchdog's move grouping ------------------------------------------------------------------


def test_move_grouping_queue_is_installed_for_new_inotify_groupers() -> None:
    from watchdog.observers.inotify_move_event_grouper import InotifyMoveEventGrouper

    from clearance.watch_intake import _MoveGroupingQueue, install_move_grouping

    assert install_move_grouping() and install_move_grouping()  # idempotent
    assert isinstance(InotifyMoveEventGrouper()._queue, _MoveGroupingQueue)


def test_a_paired_rename_does_not_hold_back_the_events_behind_it() -> None:
    """watchdog's queue makes its reader sleep out the whole move delay when it reaches an
    IN_MOVED_FROM whose IN_MOVED_TO is not queued yet, even once the pair is grouped. Here
    the delay is an hour: the reader gets the next event as soon as the pair is grouped."""
    from clearance.watch_intake import _MoveGroupingQueue

    queue = _MoveGroupingQueue(3600.0)
    queue.put("moved-from cookie 7", delay=True)
    got: list[Any] = []
    reader = threading.Thread(target=lambda: got.append(queue.get()), daemon=True)
    reader.start()
    reader.join(0.2)  # the reader is now waiting on the delayed head (or about to)
    assert queue.remove(lambda e: e == "moved-from cookie 7") == "moved-from cookie 7"
    queue.put(("moved-from cookie 7", "moved-to cookie 7"))
    reader.join(30)
    assert not reader.is_alive(), "the reader is still held by a rename that was paired"
    assert got == [("moved-from cookie 7", "moved-to cookie 7")]
    queue.close()


def test_an_unpaired_move_is_still_held_and_order_is_kept() -> None:
    """A move whose other half never comes (moved out of the tree) is delivered after the
    delay, and nothing overtakes it; lookups by cookie find the one matching event."""
    from clearance.watch_intake import _MoveGroupingQueue

    queue = _MoveGroupingQueue(0.2)
    queue.put("created a")
    queue.put("moved-from 1", delay=True)
    queue.put("moved-from 2", delay=True)
    queue.put("created b")
    assert queue.find(lambda e: e == "moved-from 1") == "moved-from 1"
    assert queue.find(lambda e: e == "moved-to 9") is None
    assert queue.remove(lambda e: e == "moved-from 2") == "moved-from 2"
    assert [queue.get() for _ in range(3)] == ["created a", "moved-from 1", "created b"]
    queue.close()
    assert queue.get() is None


def test_the_inotify_emitter_hands_events_to_the_handler_itself(tmp_path: Path) -> None:
    """With inotify, each event goes from the emitter's thread straight to the handler (no
    queue and no dispatcher thread in between), through the watch's event filter, and a
    rename still arrives as one move with both paths."""
    import sys
    import time

    from watchdog.events import FileSystemEvent, FileSystemEventHandler

    from clearance.watch_intake import EVENT_FILTER, make_observer

    if not sys.platform.startswith("linux"):
        pytest.skip("inotify only")
    seen: list[tuple[threading.Thread, FileSystemEvent]] = []

    class Recorder(FileSystemEventHandler):
        def dispatch(self, event: FileSystemEvent) -> None:
            seen.append((threading.current_thread(), event))

    observer = make_observer()
    observer.schedule(Recorder(), str(tmp_path), recursive=True, event_filter=EVENT_FILTER)
    observer.start()
    try:
        (tmp_path / "a.exr.tmp").write_bytes(b"x")
        os.rename(tmp_path / "a.exr.tmp", tmp_path / "a.exr")
        (tmp_path / "sub").mkdir()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(
            e.event_type == "created" and e.src_path.endswith("sub") for _, e in seen
        ):
            time.sleep(0.02)
        emitters = set(observer.emitters)
    finally:
        observer.stop()
        observer.join(10)
    kinds = [(e.event_type, os.path.basename(e.src_path), e.dest_path) for _, e in seen]
    assert ("moved", "a.exr.tmp", str(tmp_path / "a.exr")) in kinds
    assert ("created", "sub", "") in kinds
    assert all(isinstance(e, tuple(EVENT_FILTER)) for _, e in seen), kinds  # no DirModified
    assert {thread for thread, _ in seen} <= emitters, "an event came through another thread"


def test_the_inotify_reader_reads_what_came_within_its_gather_time_at_once(
    tmp_path: Path,
) -> None:
    """Files written a few milliseconds apart woke watchdog's reader once per event; with
    the gather time, it reads the events that came meanwhile in one go, none lost, in order."""
    import sys
    import time

    from watchdog.events import FileSystemEvent, FileSystemEventHandler
    from watchdog.observers.inotify_c import InotifyFD

    from clearance.watch_intake import (
        EVENT_FILTER,
        READ_GATHER,
        install_read_coalescing,
        make_observer,
    )

    if not sys.platform.startswith("linux"):
        pytest.skip("inotify only")
    created: list[str] = []

    class Recorder(FileSystemEventHandler):
        def dispatch(self, event: FileSystemEvent) -> None:
            if event.event_type == "created":
                created.append(os.path.basename(event.src_path))

    reads: list[int] = []
    original = InotifyFD.read_events

    def counted(self: Any, **kwargs: Any) -> Any:
        got = original(self, **kwargs)
        reads.append(len(got))
        return got

    assert install_read_coalescing(0.3) and install_read_coalescing(0.3)  # idempotent
    InotifyFD.read_events = counted  # type: ignore[method-assign]
    observer = make_observer()
    try:
        observer.schedule(Recorder(), str(tmp_path), recursive=True, event_filter=EVENT_FILTER)
        observer.start()
        time.sleep(0.5)
        reads.clear()
        for i in range(10):  # 5 ms apart: all within the gather time of the first
            (tmp_path / f"f{i}.exr").touch()
            time.sleep(0.005)
        deadline = time.monotonic() + 30
        while len(created) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        observer.stop()
        observer.join(10)
        InotifyFD.read_events = original  # type: ignore[method-assign]
        install_read_coalescing(READ_GATHER)
    assert created == [f"f{i}.exr" for i in range(10)]
    events_read = [n for n in reads if n]
    assert len(events_read) <= 3, f"read {events_read}: one wake-up per event"


def test_closing_the_audit_processes_never_races_the_executor_for_their_exit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Stopping waits for the audit processes through the executor, which joins them itself.
    Joining them here as well raced it for each exit status: the loser saw an exited process
    as alive, warned that it "did not stop" and sent SIGKILL to its (possibly reused) pid —
    in most short watcher runs, such as ``make demo``'s."""
    import logging
    import time

    from clearance.policy import load_policy
    from clearance.watch_audit import WatchSession
    from clearance.watch_pool import AuditProcesses

    root = make_show(tmp_path)
    session = WatchSession(load_policy(root / "clearance.yaml"), command="watch")
    caplog.set_level(logging.WARNING, logger="clearance")
    for _ in range(4):
        pool = AuditProcesses(session, 2)
        pool.start()
        deadline = time.monotonic() + 60
        while not pool.poll() and pool.broken is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.ready, pool.broken
        processes = list(pool.executor._processes.values())  # type: ignore[union-attr]
        pool.close(wait=True)
        assert all(p.exitcode == 0 for p in processes)  # each stopped by itself, reaped
    assert "did not stop" not in caplog.text
    session.close()


def _warm_state() -> tuple[bool, bool]:
    import sys

    from clearance import policy
    from clearance.provenance.sidecar import SCHEMA

    return "clearance.auditlog" in sys.modules, SCHEMA in policy._FAST


def test_audit_processes_are_ready_for_their_first_asset_before_it_arrives(
    tmp_path: Path,
) -> None:
    """A started audit process has imported the event serialiser and compiled the sidecar
    schema's checker before any asset is sent: the first assets after the watcher starts do not
    wait about 50 ms for them."""
    import time

    from clearance.policy import load_policy
    from clearance.watch_audit import WatchSession
    from clearance.watch_pool import AuditProcesses

    root = make_show(tmp_path)
    session = WatchSession(load_policy(root / "clearance.yaml"), command="watch")
    pool = AuditProcesses(session, 1)
    pool.start()
    try:
        deadline = time.monotonic() + 60
        while not pool.poll() and pool.broken is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pool.ready, pool.broken
        assert pool.executor is not None
        assert pool.executor.submit(_warm_state).result(60) == (True, True)
    finally:
        pool.close(wait=True)
        session.close()
