"""Lineage with a state store another process keeps locked.

A second real SQLite connection holds the lock (``BEGIN IMMEDIATE``: a ``sqlite3`` shell left in
a transaction, a watcher's long batch; an exclusive lock, as a stuck NFS lock holds it); the
busy timeout is lowered as the state store's tests lower it (``state.BUSY_TIMEOUT``), and the
real CLI runs through a subprocess with it lowered the same way.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from clearance import state
from clearance.discover import discover
from clearance.engine import Session
from clearance.lineage import LineagePlugin
from clearance.policy import load_policy
from conftest import CLEARANCE, run_cli
from test_lineage import genai_plate, sequence, sidecar, silent, single, write_config
from test_lineage_batching import committed

#: the busy timeout in these tests (seconds): long enough to tell one wait from several
WAIT = 2.0

PLATE = "gen/plates/sh010_plate_v001.####.exr"
COMP = "comp/sh010_comp_v004.####.exr"
FINAL = "delivery/sh010_final_v001.exr"


def make_show(root: Path) -> Path:
    """GenAI plate → comp (silent sidecar) → delivery (silent, final): three stages."""
    write_config(
        root,
        [
            {"name": "plate_gen", "paths": ["gen/plates"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    sidecar(root, sequence(root, PLATE), genai_plate())
    sidecar(root, sequence(root, COMP), silent((PLATE, "production_image")))
    sidecar(root, single(root, FINAL), silent((COMP, "production_image")))
    return root


def touch_all(root: Path) -> None:
    """Every asset is a new version: lineage has a row to write for each."""
    for path in root.rglob("*.exr"):
        os.utime(path)


def audit(root: Path) -> tuple[dict[str, Any], Session, LineagePlugin]:
    """Scan in-process (no provenance cache: lineage alone uses the store)."""
    policy = load_policy(root / "clearance.yaml")
    session = Session(policy, command="scan", write_log=False, announce=False)
    plugin = next(p for p in session.plugins.pm.get_plugins() if isinstance(p, LineagePlugin))
    result = session.run(discover([root], policy).assets)
    session.close(result)
    assert not result.plugin_failures, result.plugin_failures
    assert "plugin.failed" not in {e["event"] for e in session.events}
    return {a.asset.rel: a for a in result.assets}, session, plugin


def verdicts(results: dict[str, Any]) -> dict[str, list[tuple[str, str]]]:
    return {
        rel: sorted((f.rule, f.effective_outcome.value) for f in r.findings)
        for rel, r in results.items()
    }


@contextmanager
def locked(root: Path, *, exclusive: bool = False) -> Iterator[None]:
    """Another connection holds the store's write lock (``exclusive``: readers are shut out
    too) until the block ends."""
    holder = sqlite3.connect(root / ".clearance" / "state.db", isolation_level=None)
    if exclusive:
        holder.execute("PRAGMA locking_mode=EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
    else:
        holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def busy_launcher(tmp_path: Path, seconds: float) -> Path:
    """A script that runs the console script given after it with the state store's busy
    timeout lowered to ``seconds``, as the tests lower it in-process."""
    launcher = tmp_path / "launch.py"
    launcher.write_text(
        "import runpy, sys\n"
        "from clearance import state\n"
        f"state.BUSY_TIMEOUT = {seconds}\n"
        "sys.argv = sys.argv[1:]\n"
        "runpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    return launcher


def lock_warnings(text: str) -> list[str]:
    """The lines that say lineage found the store locked (and waits for it no more)."""
    return [line for line in text.splitlines() if "waits for that lock no more" in line]


def test_a_write_locked_store_is_waited_for_once_and_its_rows_are_kept_not_failed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Three stages, every asset changed, the write lock held throughout: the first commit
    waits out the busy timeout, the later ones (the other stages, the flushes) do not wait;
    it is said once on stderr, never as plugin.failed; the verdicts are those of an unlocked
    run (the run's own rows are read from memory); the rows are kept and committed once the
    store is free."""
    root = make_show(tmp_path)
    expected = verdicts(audit(root)[0])
    assert committed(root) == 3
    touch_all(root)
    monkeypatch.setattr(state, "BUSY_TIMEOUT", WAIT)
    with locked(root), caplog.at_level("WARNING", logger="clearance"):
        results, _, plugin = audit(root)
    assert verdicts(results) == expected
    assert ("NFX-GP4", "approval") in expected[FINAL]
    [warning] = lock_warnings(caplog.text)
    assert "1 row(s) not recorded yet" in warning and "waits for that lock no more" in warning
    assert committed(root) == 3
    plugin.flush()  # the store is free again: what was kept is committed
    assert committed(root) == 6


def test_a_scan_of_a_write_locked_store_reports_unrecorded_rows_and_the_next_scan_records_them(
    tmp_path: Path,
) -> None:
    """The real CLI, the write lock held for the whole scan: exit code, report and audit
    events as without the lock, no plugin.failed; stderr says once that the store is locked
    and, at the end, how many rows were not recorded; a scan once it is free records them.
    One busy wait for lineage (and one for the provenance cache), not one per stage."""
    root = make_show(tmp_path)
    first = run_cli("scan", str(root), "--format", "json", "--no-progress")
    touch_all(root)
    log = root / ".clearance" / "audit.jsonl"
    before = len(log.read_text().splitlines())
    # the console script, with the state store's busy timeout lowered as the tests lower it
    launcher = busy_launcher(tmp_path, WAIT)
    with locked(root):
        done = run_cli(
            "scan", str(root), "--format", "json", "--no-progress",
            prefix=[sys.executable, str(launcher)],
        )  # fmt: skip
    assert done.code == first.code == 1, done.stderr
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    assert done.json()["assets"] == first.json()["assets"]
    events = [json.loads(line)["event"] for line in log.read_text().splitlines()[before:]]
    assert "plugin.failed" not in events and events[-1] == "run.finished"
    warnings = lock_warnings(done.stderr)
    assert len(warnings) == 1 and "cannot write" in warnings[0], done.stderr
    assert "lineage: 3 row(s) not recorded in" in done.stderr, done.stderr
    assert "the next scan of those assets records them" in done.stderr
    assert committed(root) == 3
    again = run_cli("scan", str(root), "--format", "json", "--no-progress")
    assert again.code == 1 and "lineage:" not in again.stderr, again.stderr
    assert committed(root) == 6


def test_a_store_that_cannot_be_read_makes_inherited_ancestry_unsure_never_a_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An exclusive lock shuts readers out too: the store is waited for once, then every
    asset with declared inputs is unsure (PRV-02, escalate; not the pass a delivery built on
    a GenAI plate would get without its ancestry) and nothing is recorded for them (a row with
    an unknown ancestry would hide the GenAI plate from later walks); the next scan records
    them, and finds the GenAI ancestry again."""
    root = make_show(tmp_path)
    audit(root)[2].close()  # (an exclusive lock is only taken with no other connection open)
    touch_all(root)
    monkeypatch.setattr(state, "BUSY_TIMEOUT", WAIT)
    with locked(root, exclusive=True), caplog.at_level("WARNING", logger="clearance"):
        results, _, _ = audit(root)
    for rel in (COMP, FINAL):
        [prv02] = [f for f in results[rel].findings if f.rule == "PRV-02"]
        assert prv02.unsure and prv02.effective_outcome.value == "escalate"
        assert "lineage store could not be read" in prv02.message
        assert "locked" in prv02.message
    assert "PRV-02" not in {f.rule for f in results[PLATE].findings}  # no inputs: nothing unknown
    assert len(lock_warnings(caplog.text)) == 1, caplog.text
    assert committed(root) == 3
    results, _, _ = audit(root)
    assert committed(root) == 6
    assert ("NFX-GP4", "approval") in verdicts(results)[FINAL]
    assert "PRV-02" not in {f.rule for f in results[FINAL].findings}


def test_a_watcher_audit_process_waits_for_a_locked_store_once_and_commits_its_rows_later(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An audit process's session, as the watcher's pool makes it, auditing one chunk after
    another (``watch_pool._audit_chunk``, which flushes lineage after each): the first chunk
    under the lock waits out the busy timeout once, the next does not wait, it is said once;
    once the lock is released the next chunk's flush commits every row kept."""
    from clearance import watch_pool

    root = make_show(tmp_path)
    audit(root)
    touch_all(root)
    monkeypatch.setattr(state, "BUSY_TIMEOUT", WAIT)
    policy = load_policy(root / "clearance.yaml")
    session = Session(policy, command="watch", write_log=False, announce=False)
    monkeypatch.setattr(watch_pool, "_SESSION", session)
    assets = {a.rel: a for a in discover([root], policy).assets}

    def chunk(rel: str) -> None:
        [reply] = watch_pool._audit_chunk([watch_pool.AuditTask(assets[rel])])
        assert reply.status == "audited", reply

    with caplog.at_level("WARNING", logger="clearance"):
        with locked(root):
            chunk(PLATE)
            chunk(COMP)
        assert committed(root) == 3
        chunk(FINAL)
    assert committed(root) == 6
    assert len(lock_warnings(caplog.text)) == 1, caplog.text


def test_a_scan_that_waited_out_the_lock_once_does_not_wait_for_it_again(
    tmp_path: Path,
) -> None:
    """The real CLI, the write lock held by another process: lineage waits out the busy
    timeout once (said on stderr); the provenance cache's commit then tries without waiting
    (the run already knows the store is locked) and is said to be off, although the lock is
    released while a second wait would still be under way; the run goes on and says what it
    did not record."""
    root = make_show(tmp_path)
    run_cli("scan", str(root), "--format", "json", "--no-progress")
    touch_all(root)
    wait = 6.0  # the busy timeout: a second wait would outlast the release below
    launcher = busy_launcher(tmp_path, wait)
    env = {**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    command = [sys.executable, str(launcher), CLEARANCE, "scan", str(root), "--no-progress"]
    stderr: list[str] = []
    with locked(root):
        proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        for line in proc.stderr:  # lineage gave up waiting: the store is known to be locked
            stderr.append(line)
            if lock_warnings(line):
                break
        time.sleep(2.0)  # what comes next has tried the lock by now, unless it waits for it
    stderr.extend(proc.stderr)
    assert proc.wait(timeout=120) == 1
    text = "".join(stderr)
    assert "Traceback" not in text
    assert len(lock_warnings(text)) == 1, text
    assert "not recorded yet" in lock_warnings(text)[0]
    [cache] = [line for line in text.splitlines() if "provenance cache disabled" in line]
    assert "locked" in cache, text


def test_the_watchers_audit_processes_wait_for_a_lock_as_long_as_the_watcher(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The busy timeout in effect in the watcher (here lowered, as a test or an option would)
    reaches its audit processes (spawned: they start from the module's default): each one
    asked says the watcher's, and one auditing under the lock gives up waiting after it —
    says so, keeps its rows, and the audit's verdict is that of an unlocked run."""
    from _watch_harness import busy_timeout
    from clearance import watch_pool

    root = make_show(tmp_path)
    expected = verdicts(audit(root)[0])
    touch_all(root)
    monkeypatch.setattr(state, "BUSY_TIMEOUT", WAIT)
    policy = load_policy(root / "clearance.yaml")
    session = Session(policy, command="watch", write_log=False, announce=False)
    processes = watch_pool.AuditProcesses(session, 2)
    processes.start()
    try:
        assert processes.executor is not None
        answers = [processes.executor.submit(busy_timeout) for _ in range(4)]
        assert {a.result(timeout=120) for a in answers} == {WAIT}
        assets = {a.rel: a for a in discover([root], policy).assets}
        with locked(root):
            chunk = processes.executor.submit(
                watch_pool._audit_chunk, [watch_pool.AuditTask(assets[FINAL])]
            )
            [reply] = chunk.result(timeout=120)
        assert reply.status == "audited", reply
        assert reply.outcome == audit(root)[0][FINAL].outcome.value
    finally:
        processes.close()
    assert ("NFX-GP4", "approval") in expected[FINAL]


def test_scan_jobs_says_once_that_the_store_cannot_be_read(tmp_path: Path) -> None:
    """``scan --jobs 2`` with readers shut out (an exclusive lock): each worker process found
    the store locked and said so on stderr, and so did the scanning process: the warning came
    once per process. The workers now hand the reason to the scanning process, which says it
    once per run (and reason), as a serial scan does."""
    root = make_show(tmp_path)
    for i in range(70):  # three chunks of 32: two workers
        sidecar(root, single(root, f"comp/el{i:02d}.exr"), silent((PLATE, "production_image")))
    first = run_cli("scan", str(root), "--format", "json", "--no-progress", "--no-cache")
    assert first.code == 1, first.stderr
    touch_all(root)
    launcher = busy_launcher(tmp_path, WAIT)
    with locked(root, exclusive=True):
        done = run_cli(
            "scan", str(root), "--format", "json", "--no-progress", "--no-cache", "--jobs", "2",
            prefix=[sys.executable, str(launcher)],
        )  # fmt: skip
    assert done.code == 1, done.stderr
    assert "Traceback" not in done.stderr
    warnings = lock_warnings(done.stderr)
    assert len(warnings) == 1, done.stderr
    assert "cannot use the state store" in warnings[0]
    assets = {a["asset"]: a for a in done.json()["assets"]}
    assert "PRV-02" in {f["rule"] for f in assets["comp/el69.exr"]["findings"]}
