"""Two watchers sharing one ledger and one audit log audit each file version once
(``docs/watch.md``, *State*: "the audit log and the ledger never hold it twice").

Watchers for several stages may append to one log (``docs/auditlog.md``), and a wrangler may
start ``clearance watch comp`` beside a ``clearance watch .`` already running: both see every
file under ``comp/`` and both decide, from the same ledger, that it needs an audit. Claiming
the audit (the ``auditing`` intent) is one write transaction that checks whether another
live process holds it: exactly one of them audits each version.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from _watch_harness import (
    WatchProcess,
    audited,
    events,
    exr_bytes,
    ledger,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    wait_for,
    write_file,
    writer_burst,
)

COUNT = 40


def test_two_watchers_on_overlapping_folders_audit_each_version_once(tmp_path: Path) -> None:
    from clearance.auditlog_verify import verify_log

    root = make_show(tmp_path)
    (root / "comp").mkdir()
    whole = WatchProcess(root)
    comp = WatchProcess(root)
    comp.cmd[comp.cmd.index(str(root))] = str(root / "comp")
    with whole, comp:
        run_writer(writer_burst, str(root / "comp"), COUNT, 2, True)
        wait_audited(root, COUNT)
        quiet(root, 1.5)
        assert whole.terminate() == 0 and comp.terminate() == 0
    events = audited(root)
    ids = Counter(e["details"]["watch"]["audit_id"] for e in events)
    assert [i for i, n in ids.items() if n > 1] == []
    assets = Counter(e["asset"] for e in events)
    assert len(assets) == COUNT and set(assets.values()) == {1}
    # both wrote to the log: the chain is whole
    assert verify_log(root / ".clearance" / "audit.jsonl").intact


def test_a_claim_of_a_live_process_holds_and_one_of_a_dead_process_is_taken_over(
    tmp_path: Path,
) -> None:
    import os
    import subprocess
    import sys

    from clearance.state import AuditIntent, FileVersion, StateStore, process_token

    def intent(audit_id: str) -> AuditIntent:
        v = FileVersion(str(tmp_path / f"{audit_id}.exr"), 1, 2, 3, 4, 5)
        return AuditIntent(
            audit_id, f"{audit_id}.exr", "comp", "new", "paired", None, None, None, None,
            [(v, "sha")], 0.0,
        )  # fmt: skip

    other = StateStore(tmp_path / "state.db")
    mine = StateStore(tmp_path / "state.db")
    other.owner = process_token(os.getppid())  # a live process other than this one
    assert other.begin_audits([intent("live")]) == {"live"}
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    other.owner = process_token(dead.pid)
    dead.wait()
    assert other.begin_audits([intent("dead")]) == {"dead"}
    # the live claim holds (not audited here, not recovered at start); the dead one is taken
    assert mine.begin_audits([intent("live"), intent("dead")]) == {"dead"}
    assert mine.intents() == ["dead"]
    mine.finish_audits([("dead", "pass", mine.files_of("dead"))])
    assert mine.begin_audits([intent("dead")]) == set()  # audited: never again
    other.close()
    mine.close()


# A watcher that audits in its own thread and dies (is killed) after its batch's events are
# durable in the log, before the ledger records the audit as finished.
DIES_BEFORE_FINISH = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from clearance import watch_audit\n"
    "finish = watch_audit.AuditWorker._finish\n"
    "def _finish(self, *args, **kwargs):\n"
    "    Path(sys.argv[2]).write_text('written')\n"
    "    time.sleep(120)\n"
    "    return finish(self, *args, **kwargs)\n"
    "watch_audit.AuditWorker._finish = _finish\n"
    "from _watch_harness import InProcessWatcher\n"
    "with InProcessWatcher(Path(sys.argv[1]), audit_processes=0):\n"
    "    time.sleep(600)\n"
)


def test_a_dead_watchers_claim_whose_events_are_written_is_not_audited_twice(
    tmp_path: Path,
) -> None:
    """A watcher killed after writing an audit's events, before recording it as finished,
    leaves its claim; the other watcher's reconcile takes the claim over. The events are in
    the log: the ledger is finished from them, as crash recovery at start-up does, and the
    audit is not written again. (Before, the other watcher audited it again: one audit id,
    twice in the log.)"""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    written = tmp_path / "written"
    holder = subprocess.Popen(
        [sys.executable, "-c", DIES_BEFORE_FINISH, str(root), str(written)],
        cwd=Path(__file__).parent,
    )
    try:
        wait_for(lambda: events(root, "watch.started"), what="the first watcher")
        write_file(root / "comp" / "a.exr", exr_bytes())
        wait_for(written.exists, what="its events written")
        assert len(audited(root)) == 1
        with WatchProcess(root, "--rescan", "1") as other:
            time.sleep(2.0)  # its reconcile found the version claimed by a live watcher
            holder.kill()
            holder.wait(30)
            wait_for(
                lambda: _states(root) == ["audited"] or len(audited(root)) > 1,
                what="the claim taken over",
            )
            quiet(root, 2.5)  # more reconciles: nothing more to audit
            assert other.terminate() == 0
    finally:
        holder.kill()
        holder.wait(30)
    ids = Counter(e["details"]["watch"]["audit_id"] for e in audited(root))
    assert list(ids.values()) == [1], ids
    assert _states(root) == ["audited"]


def _states(root: Path) -> list[str]:
    store = ledger(root)
    try:
        return [state for (state,) in store.query("SELECT state FROM audits")]
    finally:
        store.close()


def test_another_watchers_cookies_are_not_kept_with_the_heartbeat_off(tmp_path: Path) -> None:
    """With ``--heartbeat 0`` beside another watcher of the same folder whose heartbeat is
    on, the names of that watcher's cookies were kept for as long as this one ran (nothing
    forgot them: only a heartbeat did), one more for each of its heartbeats: memory that grew
    without bound (WATCH.md S25). Only this watcher's own cookies are looked for."""
    from _watch_harness import InProcessWatcher

    root = make_show(tmp_path)
    (root / "comp").mkdir()
    with InProcessWatcher(root, heartbeat=0.0) as w:
        for n in range(50):  # another watcher's cookies (pid 1: never this test's)
            (root / f".clearance-cookie.1.0badc0de.{n}").write_text("x")
            (root / f".clearance-cookie.1.0badc0de.{n}").unlink()
        (root / "comp" / "a.mov").write_bytes(b"\0" * 100)  # its events come after theirs
        wait_audited(root, 1)
        assert not w.watcher.roots[str(root)].cookie_seen


def test_an_audit_finished_after_a_later_one_of_its_asset_does_not_supersede_it(
    tmp_path: Path,
) -> None:
    """Two watchers share the ledger: one claims the audit of ``comp/a.exr`` as it was (v1)
    and takes long over it; the file is re-rendered (v2), the other claims that audit and
    finishes it first. The slow one then finished v1 and superseded the audit of v2: the
    ledger said v1, no longer on disk, was the audited version and v2 was not (audited again
    at the next ``--rescan`` or start, a second audit of the same version). An audit claimed
    after it and finished stays the latest: the late one is superseded."""
    from clearance.state import AuditIntent, FileVersion, StateStore

    slow = StateStore(tmp_path / "state.db")
    fast = StateStore(tmp_path / "state.db")
    fast.owner = "render-node:1:1"  # another watcher (on another host: its claim holds)
    v1 = FileVersion("comp/a.exr", 1, 2, 100, 1_000, 1_000)
    v2 = FileVersion("comp/a.exr", 1, 2, 100, 2_000, 2_000)

    def intent(audit_id: str, version: FileVersion) -> AuditIntent:
        return AuditIntent(
            audit_id, "comp/a.exr", "comp", "new", "paired", None, None, None, None,
            [(version, "sha")], 0.0,
        )  # fmt: skip

    assert slow.begin_audits([intent("v1-audit", v1)]) == {"v1-audit"}
    time.sleep(0.01)  # claimed later (the ledger's clock: started_at)
    assert fast.begin_audits([intent("v2-audit", v2)]) == {"v2-audit"}
    fast.finish_audits([("v2-audit", "approval", [v2])])
    slow.finish_audits([("v1-audit", "pass", [v1])])
    assert slow.is_audited(v2) and not slow.is_audited(v1)
    latest = slow.latest_audit("comp/a.exr")
    assert latest is not None and latest.audit_id == "v2-audit"
    assert slow.audit("v1-audit") is not None and slow.audit("v1-audit").state == "superseded"  # type: ignore[union-attr]
    slow.close()
    fast.close()
