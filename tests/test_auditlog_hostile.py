"""Hostile audit logs: lines no writer writes, made to hurt the readers (JSON nested deeper
than the parser goes, a ``seq`` of thousands of digits, a last line of many MiB, a damaged
region built to make ``verify`` slow). Each is named as what it is (writers refuse to chain
to it, ``verify`` reports a break, ``report`` skips it): never a crash, never a hang."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
from pathlib import Path

import pytest

from clearance.auditlog import GENESIS, MAX_EVENT_BYTES, AuditLog, AuditLogError, NotAnEvent
from clearance.auditlog_verify import verify_log

CLEARANCE = Path(sys.executable).with_name("clearance")
DEEP = b"[" * 100_000 + b"]" * 100_000  # valid JSON, nested past any parser's recursion limit


def clearance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLEARANCE), *args], capture_output=True, text=True, timeout=120)


def _log(tmp_path: Path, n: int = 3) -> Path:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many(
        [
            {"event": "finding", "stage": "comp", "asset": f"a{i}.exr", "outcome": "pass"}
            for i in range(n)
        ]
    )
    return path


def _append(path: Path, data: bytes) -> None:
    with open(path, "ab") as fh:
        fh.write(data)


def _kinds(path: Path) -> list[tuple[str, int | None]]:
    return [(b.kind, b.line) for b in verify_log(path).breaks]


def _event_line(seq: bytes, prev: bytes = b"0" * 64) -> bytes:
    return (
        b'{"schema":"clearance.event/1","seq":' + seq + b',"prev":"' + prev + b'",'
        b'"time":"2026-01-01T00:00:00.000Z","event":"finding","run_id":null,"host":null,'
        b'"stage":"comp","asset":"forged.exr","rule":null,"outcome":"pass","status":null,'
        b'"approval":null,"message":null,"details":{}}'
    )


# -- lines the JSON parser cannot read -----------------------------------------------------------


def test_a_deeply_nested_last_line_is_refused_by_writers_and_edited_for_verify(
    tmp_path: Path,
) -> None:
    path = _log(tmp_path)
    _append(path, DEEP + b"\n")
    before = path.read_bytes()
    with pytest.raises(NotAnEvent, match=rf"{path}:4: .*is not an audit event"):
        AuditLog(path).append({"event": "run.started"})
    assert path.read_bytes() == before
    assert _kinds(path) == [("edited", 4)]
    proc = clearance("verify", str(path))
    assert proc.returncode == 3 and f"EDITED     {path}:4:" in proc.stdout, (
        proc.stdout + proc.stderr
    )
    proc = clearance("report", str(path))
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr
    assert "1 line(s)" in proc.stderr


def test_a_deeply_nested_line_in_the_middle_is_a_break_and_skipped_by_report(
    tmp_path: Path,
) -> None:
    path = _log(tmp_path, 2)
    data = path.read_bytes()
    first, second = data[:-1].split(b"\n")
    path.write_bytes(first + b"\n" + DEEP + b"\n" + second + b"\n")
    assert _kinds(path) == [("inserted", 2)]
    assert clearance("verify", str(path)).returncode == 3
    proc = clearance("report", "--format", "json", str(path))
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr


def test_a_deeply_nested_torn_line_is_recovered_like_any_torn_line(tmp_path: Path) -> None:
    """A last line without its newline is torn whatever it holds: the next writer names it."""
    path = _log(tmp_path)
    _append(path, DEEP[:50_000])
    assert _kinds(path) == [("torn", 4)]
    AuditLog(path).append({"event": "run.started"})
    result = verify_log(path)
    assert result.intact and [(b.kind, b.line) for b in result.breaks] == [("recovered", 4)]


def test_scan_refuses_a_log_ending_with_a_deeply_nested_line_naming_it(tmp_path: Path) -> None:
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    (root / "comp" / "sh010_comp_v001.png").write_bytes(b"x")
    (root / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01}\naudit: {log: logs/audit.jsonl}\n"
        "stages:\n  - name: comp\n    paths: [comp/]\n"
    )
    assert clearance("scan", str(root), "--no-progress").returncode in (0, 1)
    log = root / "logs" / "audit.jsonl"
    n = len(log.read_bytes().splitlines())
    _append(log, DEEP + b"\n")
    proc = clearance("scan", str(root), "--no-progress")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{log}:{n + 1}:" in proc.stderr and "not an audit event" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr


def test_the_watcher_settling_its_audits_reads_past_lines_it_cannot_parse(tmp_path: Path) -> None:
    """At start, ``watch`` looks up the audits a crash left unfinished in the log: a line
    nested too deep, or one whose fields have other types, is not one of them."""
    from clearance.state import FileVersion, StateStore
    from clearance.watch_audit import recover_intents

    path = _log(tmp_path)
    _append(path, b'["asset.audited","audit_id",' + DEEP + b"]\n")
    _append(path, b'{"event":"asset.audited","details":{"watch":{"audit_id":["id1"]}}}\n')
    _append(path, b'{"event":"asset.audited","details":{"watch":["audit_id"]}}\n')
    _append(path, b'["asset.audited","audit_id"]\n')
    _append(
        path, b'{"event":"asset.audited","outcome":{},"details":{"watch":{"audit_id":"id1"}}}\n'
    )
    store = StateStore(tmp_path / "state.db")
    v = FileVersion(str(tmp_path / "a.exr"), 1, 2, 3, 4, 5)
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
        settled_at=0.0,
    )
    assert recover_intents(store, path) == (1, 0)
    assert store.intents() == [] and store.is_audited(v)
    store.close()


def test_an_event_nested_too_deep_to_write_is_an_error_at_the_call_site(tmp_path: Path) -> None:
    path = _log(tmp_path)
    before = path.read_bytes()
    deep: list[object] = []
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(AuditLogError, match="cannot be serialised"):
        AuditLog(path).append({"event": "finding", "details": {"evidence": deep}})
    assert path.read_bytes() == before


def test_a_deeply_nested_checkpoint_line_is_a_checkpoint_break(tmp_path: Path) -> None:
    path = _log(tmp_path)
    key = tmp_path / "signer" / "audit.key"
    key.parent.mkdir()
    assert clearance("checkpoint", "--keygen", str(key)).returncode == 0
    cps = tmp_path / "signer" / "audit.checkpoints"
    assert clearance("checkpoint", str(path), "--key", str(key), "-o", str(cps)).returncode == 0
    _append(cps, DEEP + b"\n")
    proc = clearance("verify", str(path), "--key", f"{key}.pub", "--checkpoints", str(cps))
    assert proc.returncode == 3 and f"CHECKPOINT {cps}:2:" in proc.stdout, proc.stdout + proc.stderr


# -- a seq of thousands of digits -----------------------------------------------------------------


@pytest.mark.parametrize("digits", [5000, 4300, 20])
def test_a_seq_of_many_digits_in_the_middle_is_a_named_break(tmp_path: Path, digits: int) -> None:
    path = _log(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data.replace(b'"seq":2,', b'"seq":' + b"9" * digits + b",", 1))
    result = verify_log(path)
    assert not result.intact and result.breaks and {b.line for b in result.breaks} <= {2, 3}
    proc = clearance("verify", str(path))
    assert proc.returncode == 3 and f"{path}:2:" in proc.stdout, proc.stdout + proc.stderr
    proc = clearance("report", str(path))
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr


@pytest.mark.parametrize("digits", [5000, 4300, 20])
def test_a_last_line_with_a_seq_of_many_digits_is_refused_and_edited(
    tmp_path: Path, digits: int
) -> None:
    path = _log(tmp_path)
    lines = path.read_bytes()[:-1].split(b"\n")
    prev = hashlib.sha256(lines[-1]).hexdigest().encode()
    _append(path, _event_line(b"9" * digits, prev) + b"\n")
    with pytest.raises(NotAnEvent, match=rf"{path}:4: "):
        AuditLog(path).append({"event": "run.started"})
    assert _kinds(path)[-1:] == [("edited", 4)]
    proc = clearance("verify", str(path))
    assert proc.returncode == 3 and f"EDITED     {path}:4:" in proc.stdout, (
        proc.stdout + proc.stderr
    )
    proc = clearance("report", str(path))
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr, proc.stderr


# -- a last line of many MiB ----------------------------------------------------------------------


def _torn_start(path: Path) -> bytes:
    """The first bytes of the event a writer writes next to ``path`` (seq 4)."""
    head = hashlib.sha256(path.read_bytes()[:-1].split(b"\n")[-1]).hexdigest().encode()
    return b'{"schema":"clearance.event/1","seq":4,"prev":"' + head + b'","time":"'


def test_a_torn_line_longer_than_any_event_is_refused_at_once_and_edited(tmp_path: Path) -> None:
    """A crash leaves at most one write, and no write is longer than MAX_EVENT_BYTES: a last
    line without newline that is longer was not left by a crash. Writers refuse it at once
    (they once read it back 8 KiB at a time, copying it each time: minutes, under the lock),
    and verify reports it as edited, in time linear in its size."""
    path = _log(tmp_path)
    _append(path, _torn_start(path) + b"a" * (2 * MAX_EVENT_BYTES))
    before = path.stat().st_size
    with pytest.raises(NotAnEvent, match=rf"{path}:4: .*longer than any audit event"):
        AuditLog(path).append({"event": "run.started"})
    assert path.stat().st_size == before
    result = verify_log(path)
    assert [(b.kind, b.line) for b in result.breaks] == [("edited", 4)]
    assert "longer than any audit event" in result.breaks[0].message


def test_a_torn_line_as_long_as_one_write_is_recovered(tmp_path: Path) -> None:
    path = _log(tmp_path)
    start = _torn_start(path)
    _append(path, start + b"a" * (MAX_EVENT_BYTES - len(start)))
    assert _kinds(path) == [("torn", 4)]
    AuditLog(path).append({"event": "run.started"})
    result = verify_log(path)
    assert result.intact and [(b.kind, b.line) for b in result.breaks] == [("recovered", 4)]


def test_a_last_line_longer_than_any_event_is_refused_and_edited(tmp_path: Path) -> None:
    path = _log(tmp_path)
    _append(path, b"x" * (MAX_EVENT_BYTES + 1) + b"\n")
    with pytest.raises(NotAnEvent, match=rf"{path}:4: .*longer than any audit event"):
        AuditLog(path).append({"event": "run.started"})
    assert _kinds(path) == [("edited", 4)]


def test_more_lines_after_the_last_event_than_crashes_leave_are_refused(tmp_path: Path) -> None:
    """Each crash leaves at most one write after the last event; lines adding up to more than
    four writes' worth were not left by crashes."""
    path = _log(tmp_path)
    start = _torn_start(path)
    for _ in range(5):
        _append(path, start + b"a" * (MAX_EVENT_BYTES - 1000) + b"\n")
    with pytest.raises(NotAnEvent, match=rf"{path}:4: .*64 MiB, that are not audit events"):
        AuditLog(path).append({"event": "run.started"})


def test_an_event_longer_than_a_line_may_be_is_an_error_at_the_call_site(tmp_path: Path) -> None:
    path = _log(tmp_path)
    before = path.read_bytes()
    with pytest.raises(AuditLogError, match=f"an audit event is at most {MAX_EVENT_BYTES} bytes"):
        AuditLog(path).append({"event": "finding", "details": {"x": "a" * MAX_EVENT_BYTES}})
    assert path.read_bytes() == before


def test_a_batch_longer_than_one_write_is_written_in_parts_and_verifies(tmp_path: Path) -> None:
    path = _log(tmp_path)
    big = "a" * (MAX_EVENT_BYTES // 3)
    AuditLog(path).append_many([{"event": "finding", "message": big} for _ in range(5)])
    result = verify_log(path)
    assert result.intact and result.breaks == [] and result.events == 8


# -- damaged regions built to make verify slow ----------------------------------------------------


def _forged(seq: int, prev: bytes) -> bytes:
    return _event_line(str(seq).encode(), prev)


def test_seqs_interleaving_two_halves_verify_in_linear_time(tmp_path: Path) -> None:
    """Every prev broken, and the seqs of the first half of the file interleaving those of the
    second: each jump of the walk from one half to the other once listed every line between
    its ends (64,000 lines took 20 s)."""
    n = 64_000
    seqs = [1 + 4 * i for i in range(n // 2)] + [3 + 4 * i for i in range(n // 2)]
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"".join(_forged(seq, b"0" * 64) + b"\n" for seq in seqs))
    result = verify_log(path)
    kinds = [b.kind for b in result.breaks]
    assert (kinds.count("deleted"), kinds.count("reordered")) == (n - 3, n // 2 - 1)


def test_copies_of_a_chain_the_walk_links_into_again_and_again_verify_quickly(
    tmp_path: Path,
) -> None:
    """300 lines chained by prev, each copied 300 times, with seqs that send the walk back into
    the copies after each pass: every visit once sorted all the copies linking on (15 s)."""
    first = _forged(1, GENESIS.encode())
    contents, prev = [], hashlib.sha256(first).hexdigest().encode()
    for k in range(300):
        contents.append(_forged(10**6 + k * 10**4, prev))
        prev = hashlib.sha256(contents[-1]).hexdigest().encode()
    path = tmp_path / "audit.jsonl"
    path.write_bytes(b"\n".join([first, b"a note", *(contents * 300)]) + b"\n")
    result = verify_log(path)
    assert len(result.breaks) == 300 * 300 + 1 and not result.intact


@pytest.mark.timeout(60)  # took 70 s: the missing ranges of the walk's jumps were looked up
def test_lines_moved_in_shuffled_blocks_of_two_verify_in_linear_time(tmp_path: Path) -> None:
    """20,000 events moved around in blocks of two lines: each block is where the chain
    jumps, and every range the jumps leave was looked up across the whole log (missing
    ranges × blocks). Every line is still there: reordered only, and the span is the chain's
    (it read "seq 2309-2202": the file's first line to where the walk stopped)."""
    n = 20_000
    path = _log(tmp_path, n)
    lines = path.read_bytes().splitlines(keepends=True)
    blocks = [lines[i : i + 2] for i in range(0, n, 2)]
    random.Random(1).shuffle(blocks)
    path.write_bytes(b"".join(line for block in blocks for line in block))
    result = verify_log(path)
    assert result.breaks and {b.kind for b in result.breaks} == {"reordered"}
    assert (result.events, result.first_seq, result.last_seq) == (n, 1, n)
    proc = clearance("verify", str(path))
    assert proc.returncode == 3 and f"{n} events (seq 1-{n})" in proc.stdout, proc.stdout


# -- lines of hundreds of MiB: read in bounded memory ----------------------------------------------

#: an address space a reader fits in with room to spare, and smaller than the line below
_ADDRESS_SPACE = 384 * 2**20
_HUGE = 512 * 2**20


def _bounded(*args: str) -> subprocess.CompletedProcess[str]:
    """``clearance ARGS`` in a process whose address space is :data:`_ADDRESS_SPACE`."""
    import resource

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (_ADDRESS_SPACE, _ADDRESS_SPACE))

    return subprocess.run(
        [str(CLEARANCE), *args], capture_output=True, text=True, timeout=120, preexec_fn=limit
    )


def _huge_line(path: Path, *, newline: bool, then: bytes = b"") -> None:
    """A line of :data:`_HUGE` bytes (NUL bytes past its start: a sparse file, no disk used)."""
    with open(path, "r+b") as fh:
        fh.seek(0, 2)
        fh.write(_event_line(b"4")[:60])
        fh.truncate(fh.tell() + _HUGE)
        fh.seek(0, 2)
        fh.write((b"\n" if newline else b"") + then)


@pytest.mark.parametrize(
    "where", ["last", "last without newline", "middle", "before a line pasted again"]
)
def test_a_line_of_hundreds_of_mib_is_read_in_bounded_memory(tmp_path: Path, where: str) -> None:
    """verify and report read every line whole (``for line in file``): a line of 200 MB took
    600-800 MB, and in a smaller address space they stopped with an internal error
    (MemoryError, exit 2). A line longer than any event is no event and no crash's: it is
    hashed and skipped in parts, and named as before."""
    path = _log(tmp_path)
    _huge_line(path, newline=where != "last without newline")
    if where == "middle":
        _append(path, _event_line(b"5") + b"\n")
    if where == "before a line pasted again":  # report looks for its original, past the line
        _append(path, _event_line(b"5") + b"\n" + _event_line(b"5") + b"\n")
    proc = _bounded("verify", str(path))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    kind = "edited"
    assert proc.stdout.split("\n")[1].split()[:2] == [kind.upper(), f"{path}:4:"]
    if where in ("last", "last without newline"):
        assert "longer than any audit event (16 MiB)" in proc.stdout
    assert _kinds(path)[0] == (kind, 4)
    proc = _bounded("report", str(path), "--format", "json")
    assert proc.returncode == 0, proc.stderr
    assert "line(s) in the log(s) are not audit events and were skipped" in proc.stderr
    if where == "before a line pasted again":
        assert "1 line(s) of this log are copies of lines before them" in proc.stderr
    assert len(json.loads(proc.stdout)["assets"]) == 3 + (
        where not in ("last", "last without newline")
    )


# -- a log a newer Clearance wrote ------------------------------------------------------------------


def test_a_log_a_newer_clearance_wrote_is_named_as_such_by_writers_and_verify(
    tmp_path: Path,
) -> None:
    """Its last line (clearance.event/2) was "not an audit event; run clearance verify", and
    verify's "edited or corrupted": both now say it is of a newer format than this version."""
    path = _log(tmp_path)
    last = json.loads(path.read_bytes().split(b"\n")[-2])
    newer = dict(last, schema="clearance.event/2", seq=4, extra={"new": True})
    newer["prev"] = hashlib.sha256(path.read_bytes().split(b"\n")[-2]).hexdigest()
    _append(path, json.dumps(newer, separators=(",", ":")).encode() + b"\n")
    said = "an event of a newer format, clearance.event/2, than this version of Clearance"
    with pytest.raises(NotAnEvent, match=rf"{path}:4: the last line .* \({said}"):
        AuditLog(path).append({"event": "run.started"})
    result = verify_log(path)
    [brk] = result.breaks
    assert (brk.kind, brk.line) == ("newer", 4) and said in brk.message
    assert "edited or corrupted" not in brk.message
    # not tampering (a studio upgrading some hosts first had every log called TAMPERED by the
    # others, exit 3), and not verified either: exit 2
    assert result.intact
    done = subprocess.run(
        [str(Path(sys.executable).with_name("clearance")), "verify", str(path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "not verified (newer format)" in done.stdout
    assert "a newer Clearance writes a log given: use that version" in done.stderr
