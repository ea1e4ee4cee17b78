"""Bursts and kernel queue overflow (WATCH.md S1, S2), scaled for CI.

The full-size versions (10,000 and 50,000 files) are marked ``slow``; ``benchmarks/bench_watch.py``
measures latency and memory.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
import time
from pathlib import Path

import pytest

from _watch_harness import (
    InProcessWatcher,
    WatchProcess,
    assert_once,
    events,
    ledger,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    write_hook,
    writer_burst,
    writer_script,
)


def _burst(tmp_path: Path, count: int, *, slow_checker: bool, gil_hog: bool) -> None:
    plugins = []
    if slow_checker:
        write_hook(
            tmp_path,
            "slow.py",
            (
                "import time\n\n"
                "@hookimpl\n"
                "def clearance_check_asset(asset, record, stage, policy):\n"
                "    time.sleep(0.002)\n"
                "    return []\n"
            ),
        )
        plugins.append("slow.py")
    root = make_show(tmp_path, plugins=plugins)
    (root / "comp").mkdir()
    stop = threading.Event()

    def hog() -> None:  # EXP-2: a C-level sort holds the GIL for a long stretch
        data = list(range(2_000_000, 0, -1))
        while not stop.is_set():
            sorted(data)

    with InProcessWatcher(root, batch_size=128) as w:
        hogger = threading.Thread(target=hog, daemon=True)
        if gil_hog:
            hogger.start()
        try:
            run_writer(writer_burst, str(root / "comp"), count, 2)
        finally:
            stop.set()
        wait_audited(root, count, timeout=max(240, count / 20))
        quiet(root, 1.5)
        overflows = w.watcher.overflows
    assert_once(root, [f"comp/shot_{i:05d}.exr" for i in range(count)])
    assert ledger(root).counts().get("audited") == count
    if overflows:  # the kernel dropped events: a rescan must have been recorded
        assert any(e["details"]["reason"] == "overflow" for e in events(root, "watch.rescan"))


def test_s1_burst_with_a_slow_checker_every_file_once(tmp_path: Path) -> None:
    """S1 (scaled): 2,000 EXRs, half through tmp-then-rename, while each audit sleeps 2 ms."""
    _burst(tmp_path, 2000, slow_checker=True, gil_hog=False)


def test_s1_burst_while_a_gil_holding_task_runs(tmp_path: Path) -> None:
    """S1 (scaled): 2,000 EXRs while another thread of the watcher's process keeps sorting a
    2M-element list (holds the GIL in C, the EXP-2 pattern)."""
    _burst(tmp_path, 2000, slow_checker=False, gil_hog=True)


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("count", [10_000, 50_000])
@pytest.mark.parametrize("load", ["slow-checker", "gil-hog"])
def test_s1_full_size_burst(tmp_path: Path, count: int, load: str) -> None:
    """S1 full size (not run in CI): 10,000 then 50,000 EXRs, with a slow checker and,
    separately, with a GIL-holding task running while the files are written."""
    _burst(tmp_path, count, slow_checker=load == "slow-checker", gil_hog=load == "gil-hog")


def _noise_and_assets(folder: str, noise: int, assets: int) -> None:
    from _watch_harness import exr_bytes, write_file

    data = exr_bytes()
    for i in range(noise):
        write_file(Path(folder) / f"noise_{i:05d}.txt", b"x")
        if i % (noise // assets) == 0 and i // (noise // assets) < assets:
            write_file(Path(folder) / f"frame_{i // (noise // assets):04d}.exr", data)


def test_s2_forced_overflow_while_the_watcher_is_stopped(tmp_path: Path) -> None:
    """S2: SIGSTOP the CLI watcher, write more files than the kernel queue holds events for
    (2 events each, created and closed: 10,200 files for max_queued_events=16384) of which 100
    are EXRs, SIGCONT: the overflow is detected from watchdog's log line, a reconcile finds
    every EXR, and the final watch.stats counts it."""
    limit = Path("/proc/sys/fs/inotify/max_queued_events")
    queued = int(limit.read_text()) if limit.exists() else 16384
    files = (queued // 2 + 2000) // 100 * 100
    root = make_show(tmp_path)
    folder = root / "comp"
    folder.mkdir()
    with WatchProcess(root) as proc:
        assert proc.proc is not None
        proc.proc.send_signal(signal.SIGSTOP)
        try:
            run_writer(_noise_and_assets, str(folder), files, 100)
        finally:
            proc.proc.send_signal(signal.SIGCONT)
        wait_audited(root, 100, timeout=180)
        quiet(root, 1.5)
        assert proc.terminate() == 0
    assert_once(root, [f"comp/frame_{i:04d}.exr" for i in range(100)])
    assert any(e["details"]["reason"] == "overflow" for e in events(root, "watch.rescan"))
    final = [e for e in events(root, "watch.stats") if e["details"]["final"]][-1]
    assert final["details"]["overflows"] >= 1 and final["details"]["rescans"] >= 1


def test_state_store_schema_and_unique_versions(tmp_path: Path) -> None:
    """The ledger's contract: migrations set user_version; one row per file version."""
    import sqlite3

    from clearance.state import MIGRATIONS, FileVersion, StateStore

    store = StateStore(tmp_path / "state.db")
    assert store.schema_version == len(MIGRATIONS)
    v = FileVersion("/x/a.exr", 1, 2, 3, 4, 5)
    store.mark([v, v], "seen")
    store.mark([v], "settling")
    assert store.counts() == {"settling": 1}
    store.begin_audit(
        "id1",
        asset="a.exr",
        stage="comp",
        reason="new",
        pairing="paired",
        sidecar=None,
        sidecar_fp=None,
        supersedes=None,
        frames=None,
        files=[(v, "abc")],
        settled_at=time.time(),
    )
    assert store.intents() == ["id1"]
    store.finish_audit("id1", outcome="pass", files=[v])
    assert store.is_audited(v) and store.intents() == []
    store.mark([v], "seen")  # never downgrades an audited version
    assert store.counts() == {"audited": 1}
    with pytest.raises(sqlite3.IntegrityError), store.transaction() as db:
        db.execute(
            "INSERT INTO files (path, dev, ino, size, mtime_ns, ctime_ns, state, updated) "
            "VALUES (?,?,?,?,?,?,'seen',0)",
            v.key,
        )
    store.close()
    reopened = StateStore(tmp_path / "state.db")  # migrations are not re-run
    assert reopened.is_audited(v)


def test_watch_stats_event_reports_queue_and_latency(tmp_path: Path) -> None:
    """Issue item 10: a periodic watch.stats event with queue depth, pending sidecars,
    overflows and audit latency."""
    root = make_show(tmp_path)
    with InProcessWatcher(root, stats_interval=0.5):
        run_writer(writer_script, [("exr", str(root / "comp" / "s.exr"), 1)])
        wait_audited(root, 1)
        quiet(root, 1.2)
    stats = events(root, "watch.stats")
    assert len(stats) >= 2
    keys = {"queue_depth", "pending_sidecars", "overflows", "audit_latency_ms", "rescans"}
    assert keys <= set(stats[0]["details"])
    assert sum(s["details"]["audit_latency_ms"]["count"] for s in stats) == 1


def test_s25_bounded_intake_queue_spills_to_a_rescan(tmp_path: Path) -> None:
    """S25 (memory bound, scaled): with an intake queue of 32 hints, a 600-file burst cannot
    be queued; hints are dropped instead of growing memory, and a ``queue-full`` rescan finds
    every file, each audited once."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    with InProcessWatcher(root, queue_size=32) as w:
        run_writer(writer_burst, str(root / "comp"), 600, 2)
        wait_audited(root, 600, timeout=180)
        quiet(root, 1.5)
        dropped = w.watcher.intake.dropped
    assert_once(root, [f"comp/shot_{i:05d}.exr" for i in range(600)])
    if dropped:
        assert any(e["details"]["reason"] == "queue-full" for e in events(root, "watch.rescan"))


def test_state_store_fresh_file_opened_by_several_processes_at_once(tmp_path: Path) -> None:
    """Six processes opening the same new state store at the same instant (a watcher and
    ``scan --jobs`` workers starting together) all succeed, twenty stores in a row: the switch
    to WAL waits out the others, and migrations read the schema version inside the write lock.
    Without the wait, about one open in twenty failed with "database is locked"."""
    from _watch_harness import open_stores

    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(6)
    procs = [run_writer(open_stores, str(tmp_path), 20, barrier, wait=False) for _ in range(6)]
    for proc in procs:
        proc.join(120)
    assert [p.exitcode for p in procs] == [0] * 6
