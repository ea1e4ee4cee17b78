"""`scan --jobs N`: same results and the same audit events, in the same order, as a serial run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import _signals
from clearance import Finding, Outcome, Rule, hookimpl
from clearance.testing import ClearanceRun
from conftest import genai_sidecar, run_cli

VOLATILE = ("seq", "prev", "time", "run_id", "host")


def events_without_volatile(log: Path) -> list[dict]:
    out = []
    for line in log.read_text().splitlines():
        event = json.loads(line)
        for key in VOLATILE:
            event.pop(key)
        details = event["details"]
        for key in ("duration_ms", "duration_s", "log_s", "pid"):
            details.pop(key, None)
        out.append(event)
    return out


def test_parallel_scan_matches_serial_scan(tmp_path: Path) -> None:
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    for i in range(90):
        stage = ("gen", "comp", "delivery")[i % 3]
        if i % 7 == 0:
            show.asset(f"{stage}/el_{i:03d}.png")  # no sidecar: PRV-01
        else:
            show.asset(
                f"{stage}/el_{i:03d}.png",
                sidecar=genai_sidecar(disclosure={} if i % 2 else {"notified_at": "2026-11-01"}),
            )
    show.asset("comp/seq.####.png", frames=range(1, 40), sidecar=genai_sidecar())
    show.write_config()
    log = show.root / ".clearance" / "audit.jsonl"

    serial = run_cli("scan", str(show.root), "--format", "json", "--no-cache")
    serial_events = events_without_volatile(log)
    log.unlink()
    parallel = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2", "--no-cache")
    parallel_events = events_without_volatile(log)

    assert serial.code == parallel.code == 1
    assert serial.stdout == parallel.stdout
    assert [e["event"] for e in parallel_events] == [e["event"] for e in serial_events]
    assert parallel_events == serial_events
    assert run_cli("verify", str(log)).code == 0


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to take away the read permission root would not need",
)
def test_parallel_scan_reports_files_it_cannot_read_as_a_serial_scan_does(tmp_path: Path) -> None:
    """Files the workers cannot read (an asset, a sidecar, in both chunks and two stages)
    are the same run errors, at the same places in the log, as in a serial run."""
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    for i in range(80):
        show.asset(f"{('gen', 'comp')[i % 2]}/el_{i:03d}.png", sidecar=genai_sidecar())
    shut = [
        show.root / "gen/el_004.png",
        show.root / "comp/el_051.png.genai.yaml",
        show.root / "comp/el_077.png",
    ]
    show.write_config()
    log = show.root / ".clearance" / "audit.jsonl"
    blind = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
    for path in shut:
        path.chmod(0o000)
    try:
        serial = run_cli("scan", str(show.root), "--format", "json", "--no-cache", prefix=blind)
        serial_events = events_without_volatile(log)
        log.unlink()
        parallel = run_cli(
            "scan", str(show.root), "--format", "json", "--no-cache", "--jobs", "2", prefix=blind
        )
        parallel_events = events_without_volatile(log)
    finally:
        for path in shut:
            path.chmod(0o644)
    assert serial.code == parallel.code == 2
    assert serial.stdout == parallel.stdout
    assert serial.stderr == parallel.stderr
    assert parallel_events == serial_events
    said = [e["details"]["path"] for e in parallel_events if e["event"] == "run.error"]
    assert said == ["gen/el_004.png", "comp/el_051.png.genai.yaml", "comp/el_077.png"]
    assert [
        e["details"]["complete"]
        for e in parallel_events
        if e["event"] == "stage.finished" and e["details"]["assets"]  # (not the empty ones)
    ] == [
        False,
        False,
    ]
    assert parallel_events[-1]["details"]["errors"] == 3


def test_parallel_warm_scan_uses_the_cache_and_matches(tmp_path: Path) -> None:
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    for i in range(40):
        show.asset(f"comp/el_{i:03d}.png", sidecar=genai_sidecar())
    show.write_config()
    cold = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    warm = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    assert cold.stdout == warm.stdout and cold.code == warm.code == 0
    events = [
        json.loads(line) for line in (show.root / ".clearance/audit.jsonl").read_text().splitlines()
    ]
    last_run = events[-1]["run_id"]
    cached = [
        e["details"]["cached"]
        for e in events
        if e["event"] == "asset.audited" and e["run_id"] == last_run
    ]
    assert cached == [True] * 40


NOTIFY_PLUGIN = """
import os
from clearance import hookimpl

LOG = os.environ["NOTIFY_LOG"]


def _write(line):
    with open(LOG, "a") as fh:
        fh.write(f"{os.getpid()} {line}\\n")


@hookimpl
def clearance_finding(finding, result, policy):
    _write(f"finding {result.asset.rel} {finding.rule}")


@hookimpl
def clearance_asset_audited(result, policy):
    _write(f"audited {result.asset.rel} {result.outcome.value}")
"""


def _state_rows(db: Path) -> dict[str, list[tuple]]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return {
            "cache": con.execute(
                "SELECT asset, fingerprint, partials FROM provenance_cache ORDER BY asset"
            ).fetchall(),
            "lineage": con.execute(
                "SELECT asset, stage, version, outcome, findings, inputs, ancestry "
                "FROM lineage_assets ORDER BY asset, stage"
            ).fetchall(),
        }
    finally:
        con.close()


def _chained_show(show: ClearanceRun) -> None:
    """60 assets; each comp element declares the gen element before it as its input."""
    show.root.mkdir()
    for i in range(60):
        stage = ("gen", "comp")[i % 2]
        inputs = (
            [{"ref": f"gen/el_{i - 1:03d}.png", "class": "generated"}] if stage == "comp" else []
        )
        sidecar = genai_sidecar(disclosure={} if i % 3 else {"notified_at": "2026-11-01"})
        if inputs:
            sidecar["steps"][0]["inputs"] = inputs
        show.asset(f"{stage}/el_{i:03d}.png", sidecar=sidecar)
    show.write_config()


def test_parallel_scan_records_the_serial_lineage_without_sending_records(
    tmp_path: Path,
) -> None:
    """With no plugin that reads records, workers send back neither records nor assets: they
    work out each lineage row themselves, and the parent writes exactly the rows, with the
    same ancestry, that a serial scan writes."""
    show = ClearanceRun(tmp_path / "show")
    _chained_show(show)
    state = show.root / ".clearance" / "state.db"
    serial = run_cli("scan", str(show.root), "--format", "json")
    serial_rows = _state_rows(state)
    state.unlink()
    parallel = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    assert serial.code == parallel.code and serial.stdout == parallel.stdout
    assert _state_rows(state) == serial_rows
    assert any(row[6] and '"genai"' in row[6] for row in serial_rows["lineage"])  # ancestry
    # a warm parallel re-scan writes no lineage row again (nothing changed)
    written = _audited_at(state)
    warm = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    assert warm.stdout == serial.stdout
    assert _state_rows(state) == serial_rows
    assert _audited_at(state) == written


def _audited_at(db: Path) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT asset, run_id, audited_at FROM lineage_assets").fetchall()
    finally:
        con.close()


def test_parallel_scan_calls_hooks_in_the_parent_in_serial_order(
    tmp_path: Path, monkeypatch
) -> None:
    """Workers only read and check: the notification hooks run in the scanning process, in the
    order a serial run calls them, and the state store (provenance cache, lineage) ends up
    with the same rows as after a serial scan, written by that process alone."""
    show = ClearanceRun(tmp_path / "show", plugins=[str(tmp_path / "notify.py")])
    (tmp_path / "notify.py").write_text(NOTIFY_PLUGIN)
    _chained_show(show)
    notes = tmp_path / "notify.log"
    monkeypatch.setenv("NOTIFY_LOG", str(notes))
    state = show.root / ".clearance" / "state.db"

    serial = run_cli("scan", str(show.root), "--format", "json")
    serial_notes = notes.read_text().splitlines()
    serial_rows = _state_rows(state)
    state.unlink()
    notes.unlink()
    parallel = run_cli("scan", str(show.root), "--format", "json", "--jobs", "2")
    parallel_notes = notes.read_text().splitlines()

    assert serial.code == parallel.code and serial.stdout == parallel.stdout
    assert len({line.split()[0] for line in parallel_notes}) == 1  # one process: the parent
    assert [n.split(" ", 1)[1] for n in parallel_notes] == [
        n.split(" ", 1)[1] for n in serial_notes
    ]
    assert any(n.split()[1] == "finding" for n in serial_notes)
    assert _state_rows(state) == serial_rows
    assert serial_rows["lineage"] and serial_rows["cache"]


def test_spawned_workers_get_the_assets_themselves(tmp_path: Path) -> None:
    """Forked workers inherit the run's assets and are sent positions; where workers are
    spawned (another thread is running, or not Linux) the assets themselves are sent. Both
    give a serial run's results."""
    import threading

    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    show = ClearanceRun(tmp_path / "show")
    _chained_show(show)
    policy = load_policy(show.root / "clearance.yaml")
    assets = discover([str(show.root)], policy).assets

    def outcomes(jobs: int) -> list[tuple[str, str, list[str]]]:
        session = Session(policy, write_log=False, announce=False, autoload=False)
        result = session.run(assets, jobs=jobs)
        return [(a.asset.rel, a.outcome.value, [f.rule for f in a.findings]) for a in result.assets]

    serial = outcomes(1)
    forked = outcomes(2)
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()  # a second thread: the pool spawns its workers
    try:
        spawned = outcomes(2)
    finally:
        stop.set()
        other.join()
    assert forked == serial and spawned == serial
    assert any(rules for _, _, rules in serial)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize(
    "signum, group",
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGTERM, True)],
    ids=["Ctrl-C", "SIGTERM-to-the-scan", "SIGTERM-to-the-group"],
)
def test_an_interrupted_parallel_scan_stops_its_workers_and_exits(
    tmp_path: Path, signum: signal.Signals, group: bool
) -> None:
    """Ctrl-C reaches the whole process group; kill and schedulers signal the scan alone. The
    workers ignore both signals: the scan stops them, writes what it audited and that it was
    interrupted, and exits 128 + the signal's number — no hang, no traceback, no worker left
    behind holding the caller's stdout and stderr."""
    show = _signals.slow_show(tmp_path)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    proc = _signals.start(["scan", str(show.root), "--no-progress", "--jobs", "2"], seen)
    _signals.wait_for_progress(proc, log, seen)
    (os.killpg if group else os.kill)(proc.pid, signum)
    code, stderr = _signals.finish(proc)

    assert code == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == "clearance: interrupted"
    assert "Traceback" not in stderr and "Error" not in stderr
    assert _signals.no_processes_left(proc.pid) == []
    written = _signals.events(log)
    logged = {e["asset"] for e in written if e["event"] == "asset.audited"}
    assert set(seen.read_text().splitlines()) <= logged
    assert written[-1]["event"] == "run.finished"
    assert written[-1]["details"]["interrupted"] == signum.name
    assert run_cli("verify", str(log)).code == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_the_workers_of_a_killed_parallel_scan_end_with_it(tmp_path: Path) -> None:
    """kill -9 of the scan gives it no chance to stop its workers: they end by themselves."""
    show = _signals.slow_show(tmp_path)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    proc = _signals.start(["scan", str(show.root), "--no-progress", "--jobs", "2"], seen)
    _signals.wait_for_progress(proc, log, seen)
    assert len(_signals.live_processes(proc.pid)) == 3  # the scan and its two workers
    proc.kill()
    proc.wait(timeout=120)
    left = _signals.no_processes_left(proc.pid)
    for pid in left:  # (they would hold the stderr pipe open for ever)
        os.kill(pid, signal.SIGKILL)
    assert left == []
    assert run_cli("verify", str(log)).code == 0


def _built_on(ref: str) -> dict:
    """A sidecar of a final element that is not GenAI itself, made from ``ref``."""
    return {
        "provenance": 1,
        "production": "SHOW01",
        "shot": "sh010",
        "generated": False,
        "steps": [
            {
                "tool": "studio-diffusion",
                "tool_version": "2.1",
                "inputs": [{"ref": ref, "class": "owned_released"}],
            }
        ],
        "output": {"use": "final", "on_screen": "background", "subject": "incidental"},
    }


def _root_sidecar(genai: bool, asset_id: str | None = None) -> dict:
    doc = (
        genai_sidecar()
        if genai
        else {"provenance": 1, "production": "SHOW01", "shot": "sh010", "generated": False}
    )
    if asset_id is not None:
        doc["x-asset-id"] = asset_id
    return doc


def _intra_stage_show(show: ClearanceRun, day: int) -> None:
    """One stage of 105 assets (four chunks) whose inputs were audited earlier in the same
    stage: roots, then elements made from a root one chunk back, then elements made from
    those (two hops, three chunks), and refs by frame number, frame pattern, asset id and
    to the element just before (same chunk). ``day`` 2 flips which roots are GenAI."""

    def genai(i: int) -> bool:
        return i % 4 == (0 if day == 1 else 1)

    show.asset("comp/aa_seq.####.png", frames=range(1, 4), sidecar=_root_sidecar(day == 1))
    for i in range(100):
        if i < 32:
            sidecar = _root_sidecar(genai(i), "ROOT-001" if i == 1 else None)
        elif i < 96:
            sidecar = _built_on(f"comp/el_{i - 32:03d}.png")
        else:
            ref = ("comp/aa_seq.2.png", "ROOT-001", "comp/el_097.png", "comp/aa_seq.%01d.png")
            sidecar = _built_on(ref[i - 96])
        show.asset(f"comp/el_{i:03d}.png", sidecar=sidecar)


def _lineage_verdicts(db: Path) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(db)
    try:
        return con.execute(
            "SELECT asset, stage, outcome, findings, inputs, ancestry FROM lineage_assets "
            "ORDER BY asset, stage, audited_at"
        ).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("cache", [True, False], ids=["cache", "no-cache"])
def test_parallel_scan_sees_inputs_audited_earlier_in_the_same_stage(
    tmp_path: Path, cache: bool
) -> None:
    """An asset whose declared inputs were audited earlier in the same stage — by another
    worker, in an earlier chunk of the same worker, or just before it — inherits their
    GenAI status exactly as in a serial run: same output, same audit events, same lineage
    rows, on a first scan and on a re-scan after the inputs changed, with the provenance
    cache and without it."""
    flags = [] if cache else ["--no-cache"]
    shows = {}
    for jobs in (1, 2):
        show = shows[jobs] = ClearanceRun(tmp_path / f"show{jobs}")
        show.root.mkdir()
        _intra_stage_show(show, 1)
        show.write_config()
    for day in (1, 2):
        if day == 2:  # re-rendered roots: what was GenAI is not, and the other way round
            for show in shows.values():
                _intra_stage_show(show, 2)
        done = {}
        for jobs, show in shows.items():
            log = show.root / ".clearance" / "audit.jsonl"
            if log.exists():
                log.unlink()
            scan = run_cli(
                "scan", str(show.root), "--format", "json", "--no-progress",
                "--jobs", str(jobs), *flags,
            )  # fmt: skip
            assert scan.code in (0, 1), scan.stderr
            state = show.root / ".clearance" / "state.db"
            events = json.dumps(events_without_volatile(log)).replace(str(show.root), "ROOT")
            done[jobs] = (scan, json.loads(events), _lineage_verdicts(state))
        (serial, serial_events, serial_rows), (parallel, events, rows) = done[1], done[2]
        outcomes = {a["asset"]: a["outcome"] for a in serial.json()["assets"]}
        # the scan is worth comparing: inherited GenAI status decides these
        assert outcomes["comp/el_032.png"] == ("block" if day == 1 else "pass")
        assert outcomes["comp/el_065.png"] == ("pass" if day == 1 else "block")
        assert outcomes["comp/el_096.png"] == ("block" if day == 1 else "pass")
        assert outcomes["comp/el_098.png"] == ("pass" if day == 1 else "block")
        assert parallel.stdout == serial.stdout, f"day {day}"
        assert events == serial_events, f"day {day}"
        assert rows == serial_rows, f"day {day}"


def test_a_big_stage_in_bigger_chunks_gives_the_serial_result(tmp_path: Path) -> None:
    """A stage of 1,600 assets is sent to two workers in chunks of 50, not 32 (each task
    costs both processes time): elements made from an element 60 back — in the chunk before,
    often another worker's — inherit its GenAI status exactly as in a serial run."""
    from clearance.engine import _CHUNK, _chunk_size

    assert _chunk_size(1_600, 2) == 50 > _CHUNK
    assert _chunk_size(100, 2) == _CHUNK and _chunk_size(20_000, 2) == 128
    outcomes = {}
    rows = {}
    for jobs in (1, 2):
        show = ClearanceRun(tmp_path / f"show{jobs}")
        show.root.mkdir()
        for i in range(1_600):
            if i < 800:
                sidecar = _root_sidecar(i % 7 == 0)
            else:
                sidecar = _built_on(f"comp/el_{i - 60:04d}.png")
            show.asset(f"comp/el_{i:04d}.png", sidecar=sidecar)
        show.write_config()
        scan = run_cli(
            "scan", str(show.root), "--format", "json", "--no-progress", "--jobs", str(jobs)
        )
        assert scan.code in (0, 1), scan.stderr
        outcomes[jobs] = {a["asset"]: a["outcome"] for a in scan.json()["assets"]}
        rows[jobs] = _lineage_verdicts(show.root / ".clearance" / "state.db")
    assert outcomes[2] == outcomes[1]
    assert rows[2] == rows[1]
    # the comparison is worth making: inherited status decides these
    assert outcomes[1]["comp/el_0802.png"] == "block"  # from el_0742, GenAI (742 = 7 × 106)
    assert outcomes[1]["comp/el_0862.png"] == "block"  # two hops: el_0802, then el_0742
    assert outcomes[1]["comp/el_0803.png"] == "pass"  # from el_0743, not GenAI


def test_parallel_scan_audits_again_only_what_changed_inputs_reach(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scanning process audits an asset again only when a walk of its inputs finds there
    something other than what its worker found: every element made from another of the
    stage on a first scan, none on an unchanged re-scan nor when an input is only touched
    (a new version, the same verdict), and only those the flipped roots reach on day 2."""
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    _intra_stage_show(show, 1)
    show.write_config()
    policy = load_policy(show.root / "clearance.yaml")
    again: list[str] = []
    audit = Session.audit

    def spy(self: Session, asset, **kw):  # type: ignore[no-untyped-def]
        again.append(asset.rel)  # in this process: workers have their own list
        return audit(self, asset, **kw)

    monkeypatch.setattr(Session, "audit", spy)

    def parallel() -> list[str]:
        again.clear()
        assets = discover([str(show.root)], policy).assets
        session = Session(policy, write_log=False, announce=False, autoload=False, cache=True)
        session.close(session.run(assets, jobs=2))
        return sorted(again)

    made_from = [f"comp/el_{i:03d}.png" for i in range(32, 100)]
    assert parallel() == made_from
    assert parallel() == []
    root = show.root / "comp/el_000.png.genai.yaml"
    root.write_text(root.read_text())  # a new version, the same verdict
    assert parallel() == []
    _intra_stage_show(show, 2)
    changed = {i for i in range(32) if i % 4 in (0, 1)}
    reached = {i for i in range(32, 96) if (i - 32) % 32 in changed} | {96, 97, 98, 99}
    assert parallel() == [f"comp/el_{i:03d}.png" for i in sorted(reached)]
    assert parallel() == []


def test_parallel_scan_records_rows_in_serial_order(tmp_path: Path) -> None:
    """Rows are stamped when the scanning process records them, in the order a serial scan
    records them: when several assets share an asset id (each version of a plate says
    ``x-asset-id: sh010_plate``), the latest audit of it, which a later stage and the next
    scan inherit from, is the one a serial scan audits last, not the one whose worker
    happened to finish last."""
    import sqlite3

    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    for i in range(128):  # four chunks: each pair of versions straddles two of them
        genai = i % 32 == 31  # the last of each chunk is GenAI, the next version is not
        plate = f"plate_{(i + 1) // 32 - 1}" if i % 32 in (31, 0) and i else None
        show.asset(f"comp/el_{i:03d}.png", sidecar=_root_sidecar(genai, plate))
    for chunk in range(1, 4):  # made from the plate that ends chunk - 1 and starts chunk
        show.asset(f"delivery/final_{chunk}.png", sidecar=_built_on(f"plate_{chunk - 1}"))
    show.write_config()
    state = show.root / ".clearance" / "state.db"
    results = {}
    for jobs in (1, 2):
        for stale in show.root.glob(".clearance/state.db*"):
            stale.unlink()
        scan = run_cli(
            "scan", str(show.root), "--format", "json", "--no-progress", "--jobs", str(jobs)
        )
        results[jobs] = {a["asset"]: a["outcome"] for a in scan.json()["assets"]}
        con = sqlite3.connect(state)
        try:
            stamps = [
                at for (at,) in con.execute("SELECT audited_at FROM lineage_assets ORDER BY id")
            ]
        finally:
            con.close()
        assert stamps == sorted(stamps), f"--jobs {jobs}"
    assert results[2] == results[1]
    assert [results[1][f"delivery/final_{c}.png"] for c in range(1, 4)] == ["pass"] * 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_huge_jobs_count_starts_no_more_workers_than_chunks(tmp_path: Path) -> None:
    """A forked pool starts every worker at once: a ``--jobs`` above the number of chunks of
    assets (``ceil(assets / 32)``, 13 here) starts one worker per chunk, so a mistyped
    ``--jobs 1000000`` does not try to fork a million processes."""
    from clearance.engine import _CHUNK

    show = _signals.slow_show(tmp_path)
    assets = _signals.QUICK + _signals.SLOW
    chunks = -(-assets // _CHUNK)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    proc = _signals.start(["scan", str(show.root), "--no-progress", "--jobs", "64"], seen)
    # the most processes seen at once until the scan has made progress (sampled: on a busy
    # machine every worker may have finished its one chunk by the time progress shows)
    running = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        running = max(running, len(_signals.live_processes(proc.pid)))
        written = log.read_bytes() if log.exists() else b""
        audited = len(seen.read_text().splitlines()) if seen.exists() else 0
        if b'"event":"stage.finished"' in written and audited >= _signals.QUICK + 10:
            break
        time.sleep(0.01)
    proc.kill()
    proc.wait(timeout=120)
    for pid in _signals.no_processes_left(proc.pid):
        os.kill(pid, signal.SIGKILL)
    assert chunks < 64 and 1 < running <= 1 + chunks


class _BlockEverything:
    """An in-process plugin (``extra_plugins``): every asset is blocked by its rule."""

    @hookimpl
    def clearance_add_rules(self, registry):
        registry.add(
            Rule(
                id="SHOW-01",
                title="blocked by the session's plugin",
                principle="creative-output",
                outcome=Outcome.BLOCK,
                remediation="r",
                pack="site",
            )
        )

    @hookimpl
    def clearance_check_asset(self, asset):
        return [Finding(rule="SHOW-01", message="blocked")]


class _Unpicklable(_BlockEverything):
    """The same plugin holding what cannot be pickled (a lock): it cannot be sent to a
    spawned worker."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()


def _library_outcomes(show: ClearanceRun, jobs: int, **session: Any) -> list[tuple[str, str, list]]:
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    policy = load_policy(show.root / "clearance.yaml")
    assets = discover([str(show.root)], policy).assets
    result = Session(policy, write_log=False, announce=False, **session).run(assets, jobs=jobs)
    return [(a.asset.rel, a.outcome.value, [f.rule for f in a.findings]) for a in result.assets]


def _in_spawned_workers(run: Callable[[], Any]) -> Any:
    """``run()`` while a second thread runs: a pool then spawns its workers."""
    import threading

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        return run()
    finally:
        stop.set()
        other.join()


def test_parallel_library_run_gives_the_workers_the_sessions_plugins(tmp_path: Path) -> None:
    """``Session(extra_plugins=...).run(jobs=2)``: the workers audit with the session's
    in-process plugins, forked (inherited, picklable or not) or spawned (sent pickled; one
    that cannot be pickled makes the run serial), so the verdict is the serial run's."""
    show = ClearanceRun(tmp_path / "show")
    _chained_show(show)
    mine = [("mine", _BlockEverything())]
    unpicklable = [("mine", _Unpicklable())]

    serial = _library_outcomes(show, 1, extra_plugins=mine, autoload=False)
    forked = _library_outcomes(show, 2, extra_plugins=mine, autoload=False)
    forked_unpicklable = _library_outcomes(show, 2, extra_plugins=unpicklable, autoload=False)
    spawned, spawned_unpicklable = _in_spawned_workers(
        lambda: (
            _library_outcomes(show, 2, extra_plugins=mine, autoload=False),
            _library_outcomes(show, 2, extra_plugins=unpicklable, autoload=False),
        )
    )
    assert len(serial) == 60 and all(
        outcome == "block" and "SHOW-01" in rules for _, outcome, rules in serial
    )
    assert forked == serial and forked_unpicklable == serial
    assert spawned == serial and spawned_unpicklable == serial


def _entry_point_dist(tmp_path: Path, source: str) -> Path:
    """A folder holding an installed distribution ``sitewide`` whose module ``source`` is a
    ``clearance`` entry point (prepend it to ``sys.path`` to install it)."""
    site = tmp_path / "site"
    (site / "sitewide-1.0.dist-info").mkdir(parents=True)
    (site / "sitewide-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: sitewide\nVersion: 1.0\n"
    )
    (site / "sitewide-1.0.dist-info" / "entry_points.txt").write_text(
        "[clearance]\nsitewide = sitewide\n"
    )
    (site / "sitewide.py").write_text(source)
    return site


def test_parallel_library_run_without_autoload_loads_no_entry_point_in_the_workers(
    tmp_path: Path, monkeypatch
) -> None:
    """``Session(autoload=False).run(jobs=2)``: the workers skip entry points as the session
    does (they loaded every installed entry-point plugin, and blocked every asset)."""
    site = _entry_point_dist(
        tmp_path,
        "from clearance import Finding, Outcome, Rule, hookimpl\n"
        "@hookimpl\n"
        "def clearance_add_rules(registry):\n"
        "    registry.add(Rule(id='SITEWIDE-01', title='t', principle='creative-output',\n"
        "                      outcome=Outcome.BLOCK, remediation='r', pack='site'))\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    return [Finding(rule='SITEWIDE-01', message='entry point')]\n",
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delenv("CLEARANCE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    show = ClearanceRun(tmp_path / "show")
    _chained_show(show)

    serial = _library_outcomes(show, 1, autoload=False)
    parallel = _library_outcomes(show, 2, autoload=False)
    spawned = _in_spawned_workers(lambda: _library_outcomes(show, 2, autoload=False))
    loaded = _library_outcomes(show, 2, autoload=True)
    assert parallel == serial and spawned == serial
    assert not any("SITEWIDE-01" in rules for _, _, rules in serial)
    assert all("SITEWIDE-01" in rules for _, _, rules in loaded)


def test_parallel_scan_loads_the_plugins_a_serial_scan_loads(tmp_path: Path) -> None:
    """``scan --jobs 2`` with a config plugin, an entry point, ``-p no:NAME`` and autoload
    switched off gives, each time, what the serial scan gives."""
    site = _entry_point_dist(
        tmp_path,
        "from clearance import Finding, hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    return [Finding(rule='NFX-C1', message='entry point', outcome='block')]\n",
    )
    plugin = tmp_path / "show_rule.py"
    plugin.write_text(
        "from clearance import Finding, hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    return [Finding(rule='NFX-C2', message='config plugin', outcome='approval')]\n"
    )
    show = ClearanceRun(tmp_path / "show", plugins=[str(plugin)])
    _chained_show(show)
    on = {"PYTHONPATH": str(site), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": ""}
    off = {"PYTHONPATH": str(site), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"}
    seen = set()
    for env, options in (
        (on, []),
        (on, ["-p", "no:sitewide"]),
        (on, ["-p", "no:show_rule"]),
        (off, []),
    ):
        args = ["scan", str(show.root), "--format", "json", "--no-cache", *options]
        serial = run_cli(*args, env=env)
        parallel = run_cli(*args, "--jobs", "2", env=env)
        assert serial.code == parallel.code == 1 and serial.stdout == parallel.stdout
        seen.add(serial.stdout)
    assert len(seen) == 3  # all, no entry point (blocked or not loaded), no config plugin


def _refuse_unpickling() -> None:
    raise ImportError("studio_tools is not importable here")


class _BrokenOnArrival(_BlockEverything):
    """Pickled in the parent, but cannot be rebuilt in a spawned worker."""

    def __reduce__(self):
        return (_refuse_unpickling, ())


def test_parallel_library_run_stops_when_a_worker_cannot_load_the_sessions_plugins(
    tmp_path: Path,
) -> None:
    """An in-process plugin that a spawned worker cannot unpickle stops the run with an
    error saying why, rather than the workers auditing without it."""
    from clearance.engine import WorkerPluginError

    show = ClearanceRun(tmp_path / "show")
    _chained_show(show)
    with pytest.raises(WorkerPluginError, match="studio_tools is not importable here"):
        _in_spawned_workers(
            lambda: _library_outcomes(
                show, 2, extra_plugins=[("mine", _BrokenOnArrival())], autoload=False
            )
        )


#: A checker that kills its own worker process (SIGKILL, as the OOM killer does) on
#: ``$KILLER_ASSET``: always, or once (``$KILLER_ONCE``, a file it creates); never in the
#: scanning process (a serial scan audits everything).
KILLER_PLUGIN = """
import os, signal
from clearance import hookimpl

os.environ.setdefault("KILLER_PARENT", str(os.getpid()))  # imported in the scan first


@hookimpl
def clearance_check_asset(asset, record, stage, policy):
    if asset.rel != os.environ["KILLER_ASSET"] or os.getpid() == int(os.environ["KILLER_PARENT"]):
        return []
    once = os.environ.get("KILLER_ONCE")
    if once:
        if os.path.exists(once):
            return []
        open(once, "w").close()
    os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("once", [True, False], ids=["killed-once", "killed-every-time"])
def test_a_worker_killed_mid_scan_loses_nothing_and_the_run_finishes(
    tmp_path: Path, once: bool
) -> None:
    """A ``--jobs`` worker killed (the OOM killer) breaks the pool: what the workers had not
    sent back is audited again, in the serial order, a ``run.worker_died`` event names the
    signal, stderr says so once, and the run ends with ``run.finished``. An asset that kills
    its worker every time is not audited forever, nor in the scanning process: it is a
    ``PRV-05`` naming the signal (unsure, never a pass)."""
    (tmp_path / "killer.py").write_text(KILLER_PLUGIN)
    show = ClearanceRun(tmp_path / "show", plugins=[str(tmp_path / "killer.py")])
    show.root.mkdir()
    for i in range(70):  # three chunks: two workers
        show.asset(f"comp/el_{i:03d}.png", sidecar=genai_sidecar())
    show.write_config()
    log = show.root / ".clearance" / "audit.jsonl"
    env = {"KILLER_ASSET": "comp/el_040.png"}
    if once:
        env["KILLER_ONCE"] = str(tmp_path / "killed-once")
    args = ("scan", str(show.root), "--format", "json", "--no-cache", "--no-progress")

    serial = run_cli(*args, env=env)
    serial_events = events_without_volatile(log)
    log.unlink()
    parallel = run_cli(*args, "--jobs", "2", env=env)
    events = events_without_volatile(log)

    assert "internal error" not in parallel.stderr
    died = [e for e in events if e["event"] == "run.worker_died"]
    # every time: the pool, the fresh pool if the asset was not in the first chunk lost, and
    # the asset alone, twice
    assert len(died) == 1 if once else len(died) in (3, 4)
    assert {e["details"]["signal"] for e in died} == {"SIGKILL"}
    assert parallel.stderr.count("died (SIGKILL)") == 1, parallel.stderr

    def order(written: list[dict]) -> list[tuple[str, str | None]]:
        skip = ("run.worker_died", "finding")  # the lost asset has a PRV-05
        return [(e["event"], e["asset"]) for e in written if e["event"] not in skip]

    assert order(events) == order(serial_events)  # serial order, run.finished last
    assert events[-1]["event"] == "run.finished"
    assert run_cli("verify", str(log)).code == 0
    if once:  # audited again, as a serial run audits it
        assert (parallel.code, parallel.stdout) == (serial.code, serial.stdout)
        assert [e for e in events if e["event"] != "run.worker_died"] == serial_events
        return
    assert parallel.code == 1 and serial.code == 0
    [lost] = [a for a in parallel.json()["assets"] if a["outcome"] != "pass"]
    assert lost["asset"] == "comp/el_040.png" and lost["outcome"] == "escalate"
    [finding] = lost["findings"]
    assert finding["rule"] == "PRV-05" and finding["unsure"] is True
    assert finding["evidence"] == {"worker_died": "SIGKILL"}
    assert died[-1]["asset"] == "comp/el_040.png"
    assert len(parallel.json()["assets"]) == 70
