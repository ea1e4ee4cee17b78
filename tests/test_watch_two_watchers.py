"""Two watchers sharing one ledger and one audit log audit each file version once
(``docs/watch.md``, *State*: "the audit log and the ledger never hold it twice").

Watchers for several stages may append to one log (``docs/auditlog.md``), and a wrangler may
start ``clearance watch comp`` beside a ``clearance watch .`` already running: both see every
file under ``comp/`` and both decide, from the same ledger, that it needs an audit. Claiming
the audit (the ``auditing`` intent) is one write transaction that checks whether another
live process holds it: exactly one of them audits each version.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from _watch_harness import (
    WatchProcess,
    audited,
    make_show,
    quiet,
    run_writer,
    wait_audited,
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
