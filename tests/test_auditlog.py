"""The audit log writer: line format, structlog wiring, batching, rotation, crash recovery,
several writers, and loud failures on a full or read-only disk."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
import structlog

from clearance.auditlog import (
    ENVELOPE,
    GENESIS,
    MAX_SEQ,
    AuditLog,
    AuditLogError,
    audit_batch,
    make_audit_logger,
    prepare_event,
    rotated_files,
)
from clearance.auditlog_verify import verify_log

CLEARANCE = Path(sys.executable).with_name("clearance")
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def lines_of(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def test_line_format_is_the_envelope_in_order_with_a_chain(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    first = log.append(
        {"event": "run.started", "run_id": "r1", "host": "h1", "details": {"command": "scan"}}
    )
    second = log.append(
        {
            "event": "finding",
            "run_id": "r1",
            "host": "h1",
            "stage": "comp",
            "asset": "comp/sh010_comp_v004.####.exr",
            "rule": "NFX-C1",
            "outcome": "approval",
            "status": "open",
            "message": "généré — key visual",
        }
    )
    raw = lines_of(tmp_path / "audit.jsonl")
    assert len(raw) == 2
    objs = [json.loads(line) for line in raw]
    for obj in objs:
        assert tuple(obj) == ENVELOPE
        assert obj["schema"] == "clearance.event/1"
        assert TIME_RE.match(obj["time"])
        assert isinstance(obj["details"], dict)
    assert [o["seq"] for o in objs] == [1, 2]
    assert objs[0]["prev"] == GENESIS
    # prev is the SHA-256 of the previous line's exact bytes, without the newline
    assert objs[1]["prev"] == hashlib.sha256(raw[0]).hexdigest()
    assert objs[1]["approval"] is None and objs[0]["stage"] is None
    assert "généré".encode() in raw[1]  # ensure_ascii=False: UTF-8 on disk
    assert b", " not in raw[0] and b": " not in raw[0]  # compact separators
    assert first["seq"] == 1 and second["prev"] == objs[1]["prev"]
    assert second == objs[1]


def test_unknown_fields_go_under_details_and_a_clash_is_an_error(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    rec = log.append(
        {"event": "finding", "principle": "creative-output", "details": {"frames": "1-2"}}
    )
    assert rec["details"] == {"frames": "1-2", "principle": "creative-output"}
    with pytest.raises(AuditLogError, match="given twice"):
        log.append({"event": "finding", "frames": "x", "details": {"frames": "1-2"}})


@pytest.mark.parametrize(
    "event, reason",
    [
        (
            {"event": "finding", "details": {"path": Path("/x")}},
            "PosixPath is not JSON serialisable",
        ),
        ({"event": "finding", "details": {"ratio": float("nan")}}, "Out of range float"),
        ({"message": "no name"}, "needs an 'event' name"),
        ({"event": "finding", "details": ["not", "a", "mapping"]}, "'details' must be a mapping"),
    ],
)
def test_an_unserialisable_event_is_an_error_and_nothing_is_written(
    tmp_path: Path, event: dict, reason: str
) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append({"event": "ok"})
    before = path.read_bytes()
    with pytest.raises(AuditLogError) as info:
        log.append_many([{"event": "fine"}, event])
    assert reason in str(info.value)
    assert str(path) in str(info.value)
    assert path.read_bytes() == before  # the whole batch failed before writing


@pytest.mark.parametrize(
    "time",
    [
        "2026-11-26T21:06:53.123Z\n",
        "\u0662\u0660\u0662\u0666-11-26T21:06:53.123Z",
        "2026-11-26T21:06:53.123Z ",
    ],
    ids=["newline-after-it", "arabic-indic-digits", "space-after-it"],
)
def test_a_time_the_caller_gives_is_exactly_the_format_or_an_error(
    tmp_path: Path, time: str
) -> None:
    """``time`` is UTC ISO 8601 with milliseconds in ASCII digits and nothing after the
    ``Z``: anything else is refused, never written."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    with pytest.raises(AuditLogError, match="is not UTC ISO 8601 with milliseconds"):
        log.append({"event": "finding", "time": time})
    assert not path.exists() or path.read_bytes() == b""
    assert log.append({"event": "finding", "time": "2026-11-26T21:06:53.123Z"})["seq"] == 1


def test_a_lone_surrogate_is_written_as_an_escape(tmp_path: Path) -> None:
    """A file name that is not UTF-8 (``caf\\udce9``) or half a surrogate pair: the event is
    written, with the same escape the asset's name gets, and the chain verifies."""
    log = AuditLog(tmp_path / "audit.jsonl")
    rec = log.append({"event": "finding", "asset": "caf\udce9.png", "details": {"x": "\ud800"}})
    assert rec["asset"] == "caf\\xe9.png" and rec["details"] == {"x": "\\ud800"}
    line = (tmp_path / "audit.jsonl").read_text("utf-8").splitlines()[-1]
    assert json.loads(line)["asset"] == "caf\\xe9.png"
    assert verify_log(tmp_path / "audit.jsonl").intact


def test_audit_events_survive_any_structlog_configuration(tmp_path: Path) -> None:
    def drop_everything(_logger: object, _name: str, _event: dict) -> dict:
        raise structlog.DropEvent

    saved = structlog.get_config()
    structlog.configure(
        processors=[drop_everything],
        wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL),
        cache_logger_on_first_use=True,
    )
    logging.disable(logging.CRITICAL)
    try:
        log = AuditLog(tmp_path / "audit.jsonl")
        audit = make_audit_logger(log, run_id="r1", host="farm01").bind(stage="comp")
        rec = audit.debug(
            "finding", asset="a.exr", rule="NFX-C1", outcome="approval", status="open"
        )
        audit.info("asset.audited", asset="a.exr", outcome="approval")
    finally:
        logging.disable(logging.NOTSET)
        structlog.reset_defaults()
        structlog.configure(**saved)
    objs = [json.loads(line) for line in lines_of(tmp_path / "audit.jsonl")]
    assert [o["event"] for o in objs] == ["finding", "asset.audited"]
    assert all(o["run_id"] == "r1" and o["host"] == "farm01" and o["stage"] == "comp" for o in objs)
    assert rec is not None and rec["seq"] == 1 and rec["rule"] == "NFX-C1"


def test_outcome_enums_are_written_by_value(tmp_path: Path) -> None:
    from clearance.model import Outcome

    log = AuditLog(tmp_path / "audit.jsonl")
    audit = make_audit_logger(log, run_id="r", host="h")
    audit.info("stage.finished", stage="comp", outcome=Outcome.BLOCK)
    assert json.loads(lines_of(tmp_path / "audit.jsonl")[0])["outcome"] == "block"


def test_audit_batch_writes_once_on_exit_and_even_when_the_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    audit = make_audit_logger(log, run_id="r", host="h")
    with audit_batch(audit):
        for i in range(5):
            assert audit.info("finding", asset=f"a{i}", time="2026-11-26T10:00:00.000Z") is None
        with audit_batch(audit):  # nested: the outer block flushes
            audit.info("asset.audited", asset="a4")
        assert not path.exists() or path.read_bytes() == b""
    assert len(lines_of(path)) == 6
    # the event's own time (emit time) is kept, not the flush time
    assert json.loads(lines_of(path)[0])["time"] == "2026-11-26T10:00:00.000Z"
    with pytest.raises(RuntimeError), audit_batch(audit):
        audit.info("finding", asset="b")
        raise RuntimeError("checker crashed")
    assert len(lines_of(path)) == 7
    with pytest.raises(AuditLogError), audit_batch(audit):
        audit.info("finding", details={"bad": object()})  # raises at the call site
    assert verify_log(path).intact


HOLD_LOCK = """
import fcntl, sys
lock = open(sys.argv[1], "a")
fcntl.flock(lock, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks")
def test_a_signal_while_a_writer_waits_for_the_lock_ends_the_wait_and_loses_nothing_written(
    tmp_path: Path,
) -> None:
    """While another process held the log's lock, a writer waited silently, and Ctrl-C or
    SIGTERM did nothing until the other let go (a stuck process on NFS: for ever). After a
    second it says which lock it waits for and who holds it; a signal ends the wait at once
    (the holder still holding), with nothing written, and the events written before intact.
    The log then never waits again: a write raises at once while the lock is held, naming
    the lock, its holder and what was not written, and the first write that finds the lock
    free writes what was not written first, in order."""
    import signal
    import time

    from clearance.auditlog import LockStillHeld
    from clearance.cli._common import Interrupted, interrupts_raise

    path = tmp_path / "audit.jsonl"
    said: list[str] = []
    log = AuditLog(path, on_wait=said.append)
    audit = make_audit_logger(log, run_id="r1", host="h1")
    audit.info("run.started")
    audit.info("asset.audited", asset="before")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(log.lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "locked\n"
    waiting = re.compile(
        rf"-> FLOCK +ADVISORY +WRITE +{os.getpid()} +\S+:{log.lock_path.stat().st_ino} "
    )
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()

    def interrupt_the_waiting_writer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if waiting.search(Path("/proc/locks").read_text()):
                signal.pthread_kill(main, signal.SIGTERM)
                break
            time.sleep(0.01)

    helper = threading.Thread(target=interrupt_the_waiting_writer)
    try:
        with interrupts_raise():
            with pytest.raises(Interrupted) as info, audit_batch(audit):
                for i in range(5):
                    audit.info("asset.audited", asset=f"a{i}")
                helper.start()
            helper.join()
            assert info.value.signame == "SIGTERM" and info.value.exit_code == 143
            assert holder.poll() is None  # it still holds the lock: the wait was cut short
            assert [json.loads(line)["asset"] for line in lines_of(path)] == [None, "before"]
            assert log.unwritten == 5
            [notice] = said
            assert f"waiting for the audit log's lock {log.lock_path}" in notice
            assert f"held by process {holder.pid} (" in notice and "\n" not in notice
            with pytest.raises(LockStillHeld) as still:  # at once: no second wait
                audit.info("stage.finished")
            assert (
                str(still.value)
                == (
                    f"6 events of this run were not written to {path}: the wait for its lock "
                    f"{log.lock_path} was interrupted (process {holder.pid} ("
                )
                + str(still.value).split(f"process {holder.pid} (", 1)[1]
            )
            assert str(still.value).endswith(") held it)")
            assert len(said) == 1 and log.unwritten == 6
    finally:
        holder.stdin.close()  # the other writer lets go of the lock
        holder.wait(timeout=60)
    audit.info("run.finished", details={"interrupted": "SIGTERM"})  # the lock is free
    assert [
        json.loads(line).get("asset") or json.loads(line)["event"] for line in lines_of(path)
    ] == [
        "run.started",
        "before",
        *(f"a{i}" for i in range(5)),
        "stage.finished",
        "run.finished",
    ]
    assert log.unwritten == 0
    assert verify_log(path).intact


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks")
def test_a_signal_while_run_finished_waits_for_the_lock_interrupts_the_settled_run(
    tmp_path: Path,
) -> None:
    """Once a run's outcome is settled, a signal does not interrupt it (its run.finished and
    its exit code must agree) — but while that run.finished waits for another process's
    lock nothing of it is written: the signal was noted ('printing its report') and the wait
    went on. It interrupts the run there (its run.finished then says interrupted)."""
    import signal
    import time

    from clearance.cli._common import Interrupted, interrupts_raise, outcome_settled

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, on_wait=lambda message: None)
    audit = make_audit_logger(log, run_id="r1", host="h1")
    audit.info("run.started")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(log.lock_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdin is not None
    assert holder.stdout.readline() == "locked\n"
    waiting = re.compile(
        rf"-> FLOCK +ADVISORY +WRITE +{os.getpid()} +\S+:{log.lock_path.stat().st_ino} "
    )
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    done = threading.Event()

    def interrupt_the_waiting_writer() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if waiting.search(Path("/proc/locks").read_text()):
                signal.pthread_kill(main, signal.SIGINT)
                break
            time.sleep(0.01)
        done.wait(10)  # (a wait the signal did not end: let it end)
        holder.stdin.close()

    helper = threading.Thread(target=interrupt_the_waiting_writer)
    try:
        with interrupts_raise(), pytest.raises(Interrupted) as info, outcome_settled(1):
            helper.start()
            audit.info("run.finished", details={"exit_code": 1})
        assert holder.poll() is None and info.value.signame == "SIGINT"
    finally:
        done.set()
        helper.join()
        holder.wait(timeout=60)
    assert [json.loads(line)["event"] for line in lines_of(path)] == ["run.started"]


def test_audit_batch_flushes_every_max_events(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    audit = make_audit_logger(AuditLog(path), run_id="r", host="h")
    with audit_batch(audit, max_events=10):
        for i in range(25):
            audit.info("finding", asset=f"a{i}")
        assert len(lines_of(path)) == 20
    assert len(lines_of(path)) == 25


def test_rotation_continues_seq_and_chain_across_three_files(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=4000)
    for i in range(30):
        log.append({"event": "finding", "asset": f"comp/shot{i:03d}.exr", "message": "x" * 100})
    files = [*rotated_files(path), path]
    assert [f.name for f in files][:3] == [
        "audit.jsonl.000001",
        "audit.jsonl.000002",
        "audit.jsonl.000003",
    ]
    assert len(files) >= 3
    seqs = []
    prev_last = None
    for f in files:
        assert f.stat().st_size <= 4000
        raw = lines_of(f)
        objs = [json.loads(r) for r in raw]
        if prev_last is not None:
            assert objs[0]["prev"] == hashlib.sha256(prev_last).hexdigest()
        prev_last = raw[-1]
        seqs += [o["seq"] for o in objs]
    assert seqs == list(range(1, 31))
    result = verify_log(path)
    assert result.intact and result.events == 30 and len(result.files) == len(files)
    # a new writer picks the head up from the files, not from memory
    assert AuditLog(path, max_bytes=4000).append({"event": "x"})["seq"] == 31


def test_a_torn_last_line_is_terminated_and_recorded_by_the_next_writer(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append_many([{"event": "finding", "asset": f"a{i}"} for i in range(3)])
    intact_end = path.stat().st_size
    with open(path, "ab") as fh:  # a writer that died mid-line
        fh.write(b'{"schema":"clearance.event/1","seq":4,"prev":"ab')
    torn = verify_log(path)
    assert torn.intact and [b.kind for b in torn.breaks] == ["torn"]
    assert torn.breaks[0].line == 4

    rec = AuditLog(path).append({"event": "finding", "asset": "after-crash"})
    raw = lines_of(path)
    recovered = json.loads(raw[4])
    assert recovered["event"] == "log.recovered"
    assert recovered["seq"] == 4  # continues from the last intact line
    assert recovered["prev"] == hashlib.sha256(raw[2]).hexdigest()
    assert recovered["details"]["torn"] == [
        {"offset": intact_end, "bytes": len(raw[3]), "sha256": hashlib.sha256(raw[3]).hexdigest()}
    ]
    assert rec["seq"] == 5 and rec["asset"] == "after-crash"
    result = verify_log(path)
    assert result.intact
    assert [(b.kind, b.line) for b in result.breaks] == [("recovered", 4)]


def test_the_log_recovered_event_names_only_the_lines_a_crash_left(tmp_path: Path) -> None:
    """A line typed in before the torn one was not left by a crash: the next writer does
    not name it as torn (``verify`` reports it), only the torn line at the end."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many([{"event": "finding", "asset": f"a{i}"} for i in range(3)])
    with open(path, "ab") as fh:
        fh.write(b"approved by the supervisor\n")
        torn_at = fh.tell()
        fh.write(b'{"schema":"clearance.event/1","seq":4,"prev":"ab')
    AuditLog(path).append({"event": "finding", "asset": "after-crash"})
    raw = lines_of(path)
    recovered = json.loads(raw[5])
    assert recovered["event"] == "log.recovered" and recovered["seq"] == 4
    assert recovered["details"]["torn"] == [
        {"offset": torn_at, "bytes": len(raw[4]), "sha256": hashlib.sha256(raw[4]).hexdigest()}
    ]
    assert [(b.kind, b.line) for b in verify_log(path).breaks] == [
        ("inserted", 4),
        ("recovered", 5),
    ]


@pytest.mark.parametrize("power_loss", [False, True], ids=["kill", "power-loss"])
def test_a_torn_line_whose_recovery_was_cut_after_its_newline_is_named_by_the_next_writer(
    tmp_path: Path, power_loss: bool
) -> None:
    """The newline that ends a torn line and the log.recovered event after it are one write;
    cut right after the newline (a partial write, a power loss), it leaves the torn line ended.
    The next writer names that line, writes no second newline, and verify agrees."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many([{"event": "finding", "asset": f"a{i}"} for i in range(3)])
    torn_at = path.stat().st_size
    head = hashlib.sha256(lines_of(path)[2]).hexdigest().encode()
    torn = b'{"schema":"clearance.event/1","seq":4,"prev":"' + head[:20]
    with open(path, "ab") as fh:
        fh.write(torn + (b"\0" * 40 if power_loss else b"") + b"\n")
    AuditLog(path).append({"event": "finding", "asset": "after-crash"})
    raw = lines_of(path)
    assert len(raw) == 6 and raw[3].startswith(torn)
    recovered = json.loads(raw[4])
    assert recovered["event"] == "log.recovered" and recovered["seq"] == 4
    assert recovered["details"]["torn"] == [
        {"offset": torn_at, "bytes": len(raw[3]), "sha256": hashlib.sha256(raw[3]).hexdigest()}
    ]
    assert [(b.kind, b.line) for b in verify_log(path).breaks] == [("recovered", 4)]


def test_a_complete_last_line_without_newline_is_finished_and_chained(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append_many([{"event": "a"}, {"event": "b"}])
    path.write_bytes(path.read_bytes()[:-1])
    rec = log.append({"event": "c"})
    assert rec["seq"] == 3
    assert rec["prev"] == hashlib.sha256(lines_of(path)[1]).hexdigest()
    assert verify_log(path).breaks == []


def test_a_garbage_last_line_stops_the_writer_loudly(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"event": "a"})
    with open(path, "ab") as fh:
        fh.write(b"edited by hand\n")
    with pytest.raises(AuditLogError, match="is not an audit event; run `clearance verify"):
        AuditLog(path).append({"event": "b"})


@pytest.mark.parametrize(
    "forged",
    [
        {"seq": 900000, "prev": "not a hash", "note": "typed in by hand"},
        {"seq": 3, "prev": "ab" * 32, "event": "finding", "message": "no schema, no envelope"},
        {**{k: None for k in ENVELOPE}, "schema": "clearance.event/1", "seq": 3, "prev": "x"},
    ],
    ids=["seq-and-prev-only", "hex-prev-without-envelope", "envelope-with-bad-prev"],
)
def test_a_last_line_that_only_looks_like_an_event_stops_the_writer(
    tmp_path: Path, forged: dict
) -> None:
    """A writer chains only to a real event: the whole envelope, schema clearance.event/1 and
    a SHA-256 prev. Anything else at the end of the log is refused, naming the file and line."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many([{"event": "a"}, {"event": "b"}])
    with open(path, "ab") as fh:
        fh.write(json.dumps(forged).encode() + b"\n")
    before = path.read_bytes()
    with pytest.raises(AuditLogError) as info:
        AuditLog(path).append({"event": "c"})
    assert f"{path}:3:" in str(info.value) and "is not an audit event" in str(info.value)
    assert path.read_bytes() == before


def test_check_refuses_to_chain_to_a_forged_last_line(tmp_path: Path) -> None:
    root = _scan_tree(tmp_path, "logs/audit.jsonl")
    assert _scan(root).returncode in (0, 1)
    log = root / "logs" / "audit.jsonl"
    lines = len(lines_of(log))
    with open(log, "ab") as fh:
        fh.write(b'{"seq":900000,"prev":"not a hash","note":"typed in by hand"}\n')
    before = log.read_bytes()
    proc = subprocess.run(
        [str(CLEARANCE), "check", str(root / "comp" / "sh010_comp_v001.png"), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{log}:{lines + 1}:" in proc.stderr and "not an audit event" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert log.read_bytes() == before


def test_a_forged_last_line_of_the_newest_rotated_file_stops_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, max_bytes=2000)
    log.append_many([{"event": "finding", "message": "m" * 200} for _ in range(20)])
    newest = rotated_files(path)[-1]
    with open(newest, "ab") as fh:
        fh.write(b'{"seq":1,"prev":"' + GENESIS.encode() + b'"}\n')
    path.unlink()  # the next write reads the head from the rotated file
    with pytest.raises(AuditLogError, match=re.escape(f"{newest}:")):
        log.append({"event": "c"})


def test_threads_sharing_one_log_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)

    def work(n: int) -> None:
        for i in range(200):
            log.append({"event": "finding", "asset": f"t{n}-{i}"})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = verify_log(path)
    assert result.intact and result.events == 800 and result.last_seq == 800


WRITER = textwrap.dedent(
    """
    import sys
    from clearance.auditlog import AuditLog, make_audit_logger
    path, name, count, max_bytes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    log = AuditLog(path, max_bytes=int(max_bytes) if max_bytes != "-" else None)
    audit = make_audit_logger(log, run_id=name, host=name)
    sys.stdin.read()  # start together
    for i in range(count):
        audit.info("finding", stage="comp", asset=f"{name}/{i}", rule="NFX-C1", outcome="notice")
    """
)


def _run_writers(
    path: Path, writers: int, count: int, max_bytes: str, others: tuple[Path, ...] = ()
) -> None:
    """``writers`` processes appending ``count`` events each, by ``path`` and (in turn) by the
    ``others`` names of the same log."""
    names = (path, *others)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                WRITER,
                str(names[n % len(names)]),
                f"w{n}",
                str(count),
                max_bytes,
            ],
            stdin=subprocess.PIPE,
        )
        for n in range(writers)
    ]
    for p in procs:
        assert p.stdin is not None
        p.stdin.close()
    for p in procs:
        assert p.wait(timeout=120) == 0


def test_four_processes_appending_2000_events_each_make_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _run_writers(path, 4, 2000, "-")
    result = verify_log(path)
    assert result.breaks == []
    assert result.intact and result.events == 8000 and result.last_seq == 8000
    objs = [json.loads(line) for line in lines_of(path)]
    assert [o["seq"] for o in objs] == list(range(1, 8001))
    per_writer = {}
    for o in objs:
        per_writer.setdefault(o["host"], []).append(int(o["asset"].split("/")[1]))
    assert sorted(per_writer) == ["w0", "w1", "w2", "w3"]
    assert all(v == list(range(2000)) for v in per_writer.values())  # nothing lost, in order
    proc = subprocess.run([str(CLEARANCE), "verify", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_several_processes_rotating_one_log_keep_one_chain(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    _run_writers(path, 3, 300, "20000")
    assert len(rotated_files(path)) >= 3
    result = verify_log(path)
    assert result.breaks == [] and result.events == 900 and result.last_seq == 900


def test_a_lock_file_deleted_under_a_running_writer_still_keeps_writers_apart(
    tmp_path: Path,
) -> None:
    # A long-lived writer (a watcher) opens <log>.lock once. When the lock file was deleted
    # (a clean-up of stale *.lock files), it went on locking the deleted file while every
    # writer that came since created and locked a new one: both held "the lock" at once,
    # chained to the same lines, and verify reported the log tampered (37 breaks, 2 x 1000).
    path = tmp_path / "audit.jsonl"
    watcher = AuditLog(path)
    watcher.append({"event": "watch.started"})
    (tmp_path / "audit.jsonl.lock").unlink()

    def work() -> None:
        for i in range(1000):
            watcher.append({"event": "finding", "asset": f"watcher/{i}"})

    thread = threading.Thread(target=work)
    thread.start()
    try:
        _run_writers(path, 2, 1000, "-")
    finally:
        thread.join()
    result = verify_log(path)
    assert result.breaks == []
    assert result.intact and result.events == 3001 and result.last_seq == 3001
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".lock")] == ["audit.jsonl.lock"]


def test_a_writer_made_through_a_link_while_another_rotates_the_log_takes_its_lock(
    tmp_path: Path,
) -> None:
    # Made through the link in the instant another writer had renamed the log away (a
    # rotation, under the lock) and not made it again, a writer kept the link's own name: a
    # lock beside the link, which no writer by the real name takes (the two chained to the
    # same lines), and later a failed open ("No such file") when it wrote in another such
    # instant. A test of four writers by both names failed so, once in many runs.
    real = tmp_path / "shared" / "audit.jsonl"
    real.parent.mkdir()
    link = tmp_path / "show" / "audit.jsonl"
    link.parent.mkdir()
    link.symlink_to(real)
    log = AuditLog(link)  # the log renamed away: the rotation's instant
    assert log.path == real and log.lock_path == real.with_name("audit.jsonl.lock")
    log.append({"event": "run.started"})
    assert verify_log(real).events == 1
    assert sorted(p.name for p in link.parent.iterdir()) == ["audit.jsonl"]  # the link only


@pytest.mark.parametrize("max_bytes", ["-", "20000"])
def test_writers_by_a_link_and_by_the_real_name_keep_one_chain(
    tmp_path: Path, max_bytes: str
) -> None:
    # The lock was <name>.lock next to the name given: writers through a link to the log
    # and writers by its own name took two locks, chained to the same lines, and verify
    # reported the log tampered (lines inserted, seq 1-3564 of 4000 events).
    real = tmp_path / "shared" / "audit.jsonl"
    real.parent.mkdir()
    real.touch()
    link = tmp_path / "show" / ".clearance" / "audit.jsonl"
    link.parent.mkdir(parents=True)
    link.symlink_to(os.path.relpath(real, link.parent))
    _run_writers(real, 4, 500, max_bytes, others=(link,))
    for name in (real, link):
        result = verify_log(name)
        assert result.breaks == [] and result.events == 2000 and result.last_seq == 2000
    assert sorted(p.name for p in link.parent.iterdir()) == [
        "audit.jsonl"
    ]  # nothing beside the link
    assert link.is_symlink() and link.resolve() == real.resolve()
    if max_bytes != "-":
        assert len(rotated_files(real)) >= 3
    proc = subprocess.run([str(CLEARANCE), "verify", str(link)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = subprocess.run(
        [str(CLEARANCE), "report", str(link), "--format", "json"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["events"] == 2000


def test_the_watcher_finds_its_audits_in_the_rotated_files_of_a_log_given_by_a_link(
    tmp_path: Path,
) -> None:
    # at start, watch looks up the audits a crash left unfinished in the log and its rotated
    # files: those of a log given through a link were looked for beside the link, not beside
    # its target where writers rotate them, so an audit written before a rotation was
    # forgotten and the asset audited again (one asset twice in the log)
    from clearance.state import FileVersion, StateStore
    from clearance.watch_audit import recover_intents

    real = tmp_path / "shared" / "audit.jsonl"
    real.parent.mkdir()
    real.touch()
    link = tmp_path / "show" / ".clearance" / "audit.jsonl"
    link.parent.mkdir(parents=True)
    link.symlink_to(real)
    log = AuditLog(link, max_bytes=2000)
    log.append(
        {
            "event": "asset.audited",
            "stage": "comp",
            "asset": "comp/a.exr",
            "outcome": "block",
            "details": {"watch": {"audit_id": "id1"}},
        }
    )
    log.append_many([{"event": "finding", "message": "m" * 100} for _ in range(30)])
    assert rotated_files(real) and b'"id1"' in rotated_files(real)[0].read_bytes()
    store = StateStore(tmp_path / "state.db")
    version = FileVersion(str(tmp_path / "show" / "comp" / "a.exr"), 1, 2, 3, 4, 5)
    store.begin_audit(
        "id1",
        asset="comp/a.exr",
        stage="comp",
        reason="new",
        pairing="paired",
        sidecar=None,
        sidecar_fp=None,
        supersedes=None,
        frames=None,
        files=[(version, "abc")],
        settled_at=0.0,
    )
    assert recover_intents(store, link) == (1, 0)  # found: audited, not forgotten
    assert store.intents() == [] and store.is_audited(version)
    store.close()


# -- failures are loud --------------------------------------------------------------------------


def test_disk_full_raises_naming_the_file_and_leaves_no_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.symlink_to("/dev/full")  # every write: ENOSPC
    log = AuditLog(path)
    with pytest.raises(AuditLogError) as info:
        log.append({"event": "run.started"})
    assert str(path) in str(info.value) and "No space left on device" in str(info.value)


def test_a_log_that_is_a_folder_raises_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    with pytest.raises(AuditLogError, match=re.escape(str(path))):
        AuditLog(path).append({"event": "run.started"})


def _scan_tree(tmp_path: Path, log: str) -> Path:
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    (root / "comp" / "sh010_comp_v001.png").write_bytes(b"x")
    (root / "clearance.yaml").write_text(
        f"clearance: 1\nproduction: {{id: SHOW01}}\naudit: {{log: {log}}}\n"
        "stages:\n  - name: comp\n    paths: [comp/]\n"
    )
    return root


def _scan(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLEARANCE), "scan", str(root), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_scan_exits_2_with_a_clear_message_when_the_disk_is_full(tmp_path: Path) -> None:
    root = _scan_tree(tmp_path, "logs/audit.jsonl")
    (root / "logs").mkdir()
    (root / "logs" / "audit.jsonl").symlink_to("/dev/full")
    proc = _scan(root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "audit.jsonl" in proc.stderr and "No space left on device" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_scan_exits_2_when_the_log_is_not_writable(tmp_path: Path) -> None:
    root = _scan_tree(tmp_path, "logs/audit.jsonl")
    (root / "logs" / "audit.jsonl").mkdir(
        parents=True
    )  # root ignores chmod; a folder is unwritable
    proc = _scan(root)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "audit.jsonl" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("command", ["scan", "check"])
def test_a_log_that_is_a_named_pipe_is_refused_and_never_waited_on(
    tmp_path: Path, command: str
) -> None:
    # open() of a named pipe for writing waits for a reader: scan and check hung for ever,
    # under the log's lock, with SIGINT and SIGTERM held until the write was done (Ctrl-C
    # did nothing; only SIGKILL ended them)
    root = _scan_tree(tmp_path, "logs/audit.jsonl")
    (root / "logs").mkdir()
    os.mkfifo(root / "logs" / "audit.jsonl")
    target = root if command == "scan" else root / "comp" / "sh010_comp_v001.png"
    proc = subprocess.run(
        [str(CLEARANCE), command, str(target), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "audit.jsonl" in proc.stderr and "named pipe" in proc.stderr
    assert "Traceback" not in proc.stderr


def _can_mount() -> bool:
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True
    )
    return probe.returncode == 0


needs_mount = pytest.mark.skipif(
    not _can_mount(), reason="needs root with mount namespaces (unshare -m) for a real tmpfs"
)


@needs_mount
def test_scan_on_a_really_full_file_system_exits_2_and_the_log_stays_intact(tmp_path: Path) -> None:
    """A 64 KiB tmpfs, filled up after a first scan: the second scan fails, nothing is torn."""
    root = _scan_tree(tmp_path, "fs/audit.jsonl")
    fs = root / "fs"
    fs.mkdir()
    script = textwrap.dedent(
        f"""
        set -e
        mount -t tmpfs -o size=64k tmpfs {fs}
        {CLEARANCE} scan {root} --no-progress >/dev/null || true
        dd if=/dev/zero of={fs}/filler bs=1k count=200 2>/dev/null || true
        set +e
        {CLEARANCE} scan {root} --no-progress >/dev/null 2>{tmp_path}/err.txt
        echo $? > {tmp_path}/rc.txt
        {CLEARANCE} verify {fs}/audit.jsonl > {tmp_path}/verify.txt
        echo $? >> {tmp_path}/rc.txt
        """
    )
    subprocess.run(["unshare", "-m", "sh", "-c", script], check=True, timeout=120)
    scan_rc, verify_rc = (tmp_path / "rc.txt").read_text().split()
    err = (tmp_path / "err.txt").read_text()
    assert scan_rc == "2", err
    assert "No space left on device" in err and "audit.jsonl" in err
    assert verify_rc == "0", (tmp_path / "verify.txt").read_text()


@needs_mount
def test_scan_on_a_read_only_file_system_exits_2(tmp_path: Path) -> None:
    root = _scan_tree(tmp_path, "fs/audit.jsonl")
    fs = root / "fs"
    fs.mkdir()
    script = textwrap.dedent(
        f"""
        mount -t tmpfs tmpfs {fs}
        {CLEARANCE} scan {root} --no-progress >/dev/null
        mount -o remount,ro {fs}
        {CLEARANCE} scan {root} --no-progress >/dev/null 2>{tmp_path}/err.txt
        echo $? > {tmp_path}/rc.txt
        """
    )
    subprocess.run(["unshare", "-m", "sh", "-c", script], check=True, timeout=120)
    err = (tmp_path / "err.txt").read_text()
    assert (tmp_path / "rc.txt").read_text().strip() == "2", err
    assert "Read-only file system" in err and "audit.jsonl" in err


@pytest.mark.parametrize("events", [1, 2], ids=["after-the-largest", "a-batch-crossing-it"])
def test_a_seq_past_19_digits_is_refused_before_anything_is_written(
    tmp_path: Path, events: int
) -> None:
    """After an event with seq MAX_SEQ - events + 1 … MAX_SEQ the writer wrote a 20-digit seq,
    which is no event's: every later writer refused the log and verify called the writer's
    own line edited. The writer refuses instead, naming the log, and writes nothing."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"event": "run.started"})
    (first,) = path.read_bytes().splitlines()
    body = prepare_event({"event": "run.started"}, str(path))
    last_seq = MAX_SEQ - events + 1
    with open(path, "ab") as fh:
        fh.write(
            b'{"schema":"clearance.event/1","seq":%d,"prev":"%s",%s\n'
            % (last_seq, hashlib.sha256(first).hexdigest().encode(), body)
        )
    before = path.read_bytes()
    with pytest.raises(AuditLogError, match=rf"{re.escape(str(path))}: cannot append 2 event"):
        AuditLog(path).append_many([{"event": "finding"}, {"event": "run.finished"}])
    assert path.read_bytes() == before
    if events == 2:  # one more still fits
        assert AuditLog(path).append({"event": "run.finished"})["seq"] == MAX_SEQ
    with pytest.raises(AuditLogError, match=f"no event has a seq past {MAX_SEQ}"):
        AuditLog(path).append({"event": "run.finished"})
