"""Two watchers sharing one ledger and one audit log audit each file version once
(``docs/watch.md``, *State*: "the audit log and the ledger never hold it twice").

Watchers for several stages may append to one log (``docs/auditlog.md``), and a wrangler may
start ``clearance watch comp`` beside a ``clearance watch .`` already running: both see every
file under ``comp/`` and both decide, from the same ledger, that it needs an audit. Claiming
the audit (the ``auditing`` intent) is one write transaction that checks whether another
live process holds it: exactly one of them audits each version.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from _watch_harness import (
    WatchProcess,
    audited,
    events,
    exr_bytes,
    make_show,
    quiet,
    run_writer,
    wait_audited,
    wait_for,
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
    # what a watcher that dropped an audit for a claim looks at again: done, held by a live one
    assert mine.claims(["live", "dead", "unknown"]) == (set(), {"live"})
    mine.finish_audits([("dead", "pass", mine.files_of("dead"))])
    assert mine.claims(["live", "dead"]) == ({"dead"}, {"live"})
    assert mine.begin_audits([intent("dead")]) == set()  # audited: never again
    other.close()
    mine.close()


# An audit that sleeps while the flag file is there (the first one only).
SLOW_HOOK = (
    "import os\n"
    "import time\n"
    "from pathlib import Path\n\n"
    "@hookimpl\n"
    "def clearance_check_asset(asset, record, stage, policy):\n"
    "    base = Path(str(policy.root)).parent\n"
    "    try:\n"
    "        os.rename(base / 'slow', base / 'slow.taken')\n"
    "    except OSError:\n"
    "        return []\n"
    "    (base / 'sleeping').write_text(str(os.getpid()))\n"
    "    time.sleep(120)\n"
    "    return []\n"
)

# A watcher that audits in its own thread (no audit processes), so that it claims an audit
# (the ledger's intent) before the engine runs its checkers, as with one CPU.
IN_THREAD_WATCHER = (
    "import sys, time\n"
    "from pathlib import Path\n"
    "from _watch_harness import InProcessWatcher\n"
    "with InProcessWatcher(Path(sys.argv[1]), audit_processes=0):\n"
    "    time.sleep(600)\n"
)


def test_an_audit_left_to_a_watcher_that_dies_is_taken_over_by_the_other_at_once(
    tmp_path: Path,
) -> None:
    """One watcher claims the audit of a file and is killed (``kill -9``) in the middle of
    it; another watcher on the same folder, which dropped that audit for the live claim,
    audits it within seconds. (Before, it waited for its next reconcile, ``--rescan``,
    10 minutes by default, or a restart.)"""
    import subprocess
    import sys

    from _watch_harness import write_file, write_hook

    write_hook(tmp_path, "slow.py", SLOW_HOOK)
    root = make_show(tmp_path, plugins=["slow.py"])
    (root / "comp").mkdir()
    (tmp_path / "slow").touch()
    holder = subprocess.Popen(
        [sys.executable, "-c", IN_THREAD_WATCHER, str(root)], cwd=Path(__file__).parent
    )
    try:
        wait_for(lambda: events(root, "watch.started"), what="the first watcher")
        write_file(root / "comp" / "a.exr", exr_bytes())
        sleeping = tmp_path / "sleeping"
        wait_for(sleeping.exists, what="its audit under way")
        assert sleeping.read_text() == str(holder.pid)
        with WatchProcess(root) as other:
            time.sleep(3.0)  # it has settled the file too, and dropped it for the claim
            assert audited(root) == []
            holder.kill()
            holder.wait(30)
            found = wait_audited(root, 1, timeout=60)
            assert [e["asset"] for e in found] == ["comp/a.exr"]
            assert other.terminate() == 0
    finally:
        holder.kill()
        holder.wait(30)
    ids = Counter(e["details"]["watch"]["audit_id"] for e in audited(root))
    assert list(ids.values()) == [1]
