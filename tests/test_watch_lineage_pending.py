"""What the watcher waits for before an asset's ancestry is complete, and when it stops
waiting (``docs/watch.md``, *Assets audited before their inputs*).

An asset audited before a declared input the watcher *will* audit is unsure (``PRV-02``) and
audited again once that input is. The watcher must never wait for an input it will not audit
(inside a hidden folder) or that is gone (deleted while it waited): a cold ``scan`` passes
such an asset, and so must the watcher, once idle.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

from _watch_harness import (
    InProcessWatcher,
    audited,
    events,
    exr_bytes,
    lineage_config,
    quiet,
    scan_verdicts,
    wait_for,
    watch_verdicts,
    write_file,
)

CONFIG = lineage_config(("renders", "comp"), tools=("nuke",))

COMP = "comp/c.exr"
PLATE = "renders/pl.####.exr"


def _show(base: Path, *refs: str) -> Path:
    """A show whose single-file comp declares ``refs`` (production images)."""
    root = base / "show"
    root.mkdir(parents=True)
    (root / "clearance.yaml").write_text(CONFIG)
    inputs = "".join(f"      - {{ref: {ref}, class: production_image}}\n" for ref in refs)
    sidecar = (
        "provenance: 1\nasset: c.exr\nproduction: SHOW01\ngenerated: false\n"
        f"steps:\n  - tool: nuke\n    inputs:\n{inputs}"
        "output: {use: final, on_screen: background, subject: incidental}\n"
    )
    write_file(root / "comp/c.exr.genai.yaml", sidecar.encode())
    return root


def _plate(root: Path) -> None:
    for frame in (1001, 1002):
        write_file(root / f"renders/pl.{frame}.exr", exr_bytes(seed=frame))


def _comp_audits(root: Path) -> list[dict]:
    return [e for e in audited(root) if e["asset"] == COMP]


def test_an_input_in_a_hidden_folder_is_never_waited_for_and_the_finding_names_the_field(
    tmp_path: Path,
) -> None:
    # inputs[0] is in a hidden work folder (a walk never enters it: never audited);
    # inputs[1] is a plate sequence the watcher audits after the comp has settled
    root = _show(tmp_path, "renders/.wip/pl.exr", "renders/pl.####.exr")
    write_file(root / "renders/.wip/pl.exr", exr_bytes(seed=7))
    _plate(root)
    write_file(root / COMP, exr_bytes(seed=9))
    with InProcessWatcher(root, sequence_idle=1.5) as watcher:
        wait_for(lambda: PLATE in watch_verdicts(root), what="the plate audited")
        wait_for(lambda: len(_comp_audits(root)) >= 2, what="the comp audited again")
        quiet(root, 1.5)
        assert watcher.stop() == 0
    first = _comp_audits(root)[0]
    assert first["outcome"] == "escalate"  # the plate was pending: never a pass
    why = [
        f["message"]
        for f in events(root, "finding")
        if f["asset"] == COMP and f["rule"] == "PRV-02" and f["seq"] < first["seq"]
    ]
    assert len(why) == 1, why
    # names the sidecar field that declares the input it waits for, and only that input
    assert "comp/c.exr.genai.yaml: steps[0].inputs[1]: " in why[0], why[0]
    assert PLATE in why[0] and ".wip" not in why[0] and "state.db" not in why[0], why[0]
    assert _comp_audits(root)[-1]["details"]["watch"]["reason"] == "lineage"
    assert watch_verdicts(root) == scan_verdicts(root, tmp_path)
    assert _waits(root) == 0  # its superseded audit's wait is forgotten


def _waits(root: Path) -> int:
    with sqlite3.connect(root / ".clearance" / "state.db") as db:
        return int(db.execute("SELECT COUNT(*) FROM audit_waits").fetchone()[0])


def _delete_plate(root: Path) -> None:
    for frame in (1001, 1002):
        (root / f"renders/pl.{frame}.exr").unlink()


def _settled_without_the_plate(root: Path, tmp_path: Path) -> None:
    """The comp, audited unsure while its plate was on disk, was audited again once the
    plate went, and the watcher says what ``scan`` says now (the plate is not there)."""
    wait_for(lambda: len(_comp_audits(root)) >= 2, what="the comp audited again")
    quiet(root, 1.0)
    first, last = _comp_audits(root)[0], _comp_audits(root)[-1]
    assert first["outcome"] == "escalate"
    assert last["details"]["watch"]["reason"] == "lineage"
    assert last["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
    assert PLATE not in watch_verdicts(root)  # it went before it was audited
    assert watch_verdicts(root) == scan_verdicts(root, tmp_path)
    assert _waits(root) == 0  # nothing waits for it any more


def test_an_input_deleted_while_waited_for_gets_its_dependant_audited_again(
    tmp_path: Path,
) -> None:
    root = _show(tmp_path, PLATE)
    _plate(root)
    write_file(root / COMP, exr_bytes(seed=9))
    with InProcessWatcher(root, sequence_idle=3.0) as watcher:
        wait_for(lambda: _comp_audits(root), what="the comp audited (unsure)")
        _delete_plate(root)  # before its sequence was idle: never audited
        _settled_without_the_plate(root, tmp_path)
        assert watcher.stop() == 0


def test_an_input_gone_while_the_watcher_was_stopped_is_no_longer_waited_for(
    tmp_path: Path,
) -> None:
    root = _show(tmp_path, PLATE)
    _plate(root)
    write_file(root / COMP, exr_bytes(seed=9))
    with InProcessWatcher(root, sequence_idle=30.0) as watcher:
        wait_for(lambda: _comp_audits(root), what="the comp audited (unsure)")
        assert watcher.stop() == 0
    assert _waits(root) == 1
    _delete_plate(root)
    with InProcessWatcher(root) as watcher:  # its start-up finds the input gone
        _settled_without_the_plate(root, tmp_path)
        assert watcher.stop() == 0


def test_the_pending_check_lists_an_input_folder_once_per_batch_not_once_per_dependant(
    tmp_path: Path,
) -> None:
    """At start-up on a show every deliverable settles before the sequences it was made
    from: each is pending. Whether its input is on disk lists the input's folder, once for
    the batch, however many dependants look there (counted with Python's audit events for
    os.scandir and os.listdir in the audit thread)."""
    dependants = 24
    root = base = tmp_path / "show"
    root.mkdir()
    (root / "clearance.yaml").write_text(CONFIG)
    for i in range(dependants):
        for frame in (1001, 1002):
            write_file(root / f"renders/pl{i:02d}.{frame}.exr", exr_bytes(seed=frame))
        sidecar = (
            f"provenance: 1\nasset: c{i:02d}.exr\nproduction: SHOW01\ngenerated: false\n"
            "steps:\n  - tool: nuke\n    inputs:\n"
            f"      - {{ref: renders/pl{i:02d}.####.exr, class: production_image}}\n"
            "output: {use: final, on_screen: background, subject: incidental}\n"
        )
        write_file(root / f"comp/c{i:02d}.exr.genai.yaml", sidecar.encode())
        write_file(root / f"comp/c{i:02d}.exr", exr_bytes(seed=i))
    renders = str(base / "renders")
    listings: list[str] = []
    counting = [True]

    def hook(event: str, args: tuple) -> None:
        if (
            counting[0]
            and event in ("os.listdir", "os.scandir")
            and threading.current_thread().name == "clearance-audit"
            and os.fspath(args[0]) == renders
        ):
            listings.append(renders)

    sys.addaudithook(hook)
    try:
        # the plates are not idle before the test ends: every comp waits for its plate
        with InProcessWatcher(root, sequence_idle=60.0, audit_processes=0) as watcher:
            comps = wait_for(
                lambda: len(audited(root)) >= dependants and audited(root),
                what="the comps audited",
            )
            assert watcher.stop() == 0
    finally:
        counting[0] = False
    with sqlite3.connect(root / ".clearance" / "state.db") as db:  # one intent commit a batch
        (batches,) = db.execute(
            "SELECT COUNT(DISTINCT started_at) FROM audits WHERE asset LIKE 'comp/%'"
        ).fetchone()
    assert {e["outcome"] for e in comps} == {"escalate"}  # each waits for its plate
    assert len(listings) <= batches < dependants, (len(listings), batches)
