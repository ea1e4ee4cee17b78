"""``clearance verify`` and ``clearance checkpoint``: every kind of tampering, made on a log
written by a real ``clearance scan``, is named with its file and line."""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from clearance.auditlog import GENESIS, AuditLog, AuditLogError, prepare_event, rotated_files
from clearance.auditlog_verify import verify_log

CLEARANCE = Path(sys.executable).with_name("clearance")


def clearance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLEARANCE), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def scanned_log(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a log written by two real scans of a small show."""
    root = tmp_path_factory.mktemp("show")
    for stage in ("ideation", "comp"):
        (root / stage).mkdir()
        for i in range(4):
            (root / stage / f"sh{i:02d}0_{stage}_v001.png").write_bytes(b"png")
    (root / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01}\naudit: {log: .clearance/audit.jsonl}\n"
        "stages:\n  - name: ideation\n    paths: [ideation/]\n  - name: comp\n    paths: [comp/]\n"
    )
    for _ in range(2):
        proc = clearance("scan", str(root), "--no-progress")
        assert proc.returncode in (0, 1), proc.stderr
    data = (root / ".clearance" / "audit.jsonl").read_bytes()
    assert data.count(b"\n") >= 30
    return data


@pytest.fixture
def log(tmp_path: Path, scanned_log: bytes) -> Path:
    path = tmp_path / "audit.jsonl"
    path.write_bytes(scanned_log)
    return path


def read(path: Path) -> list[bytes]:
    return path.read_bytes()[:-1].split(b"\n")


def write(path: Path, lines: list[bytes], end: bytes = b"\n") -> None:
    path.write_bytes(b"\n".join(lines) + end)


def breaks(path: Path) -> list[tuple[str, int | None]]:
    return [(b.kind, b.line) for b in verify_log(path).breaks]


def test_an_intact_scan_log_verifies(log: Path) -> None:
    proc = clearance("verify", str(log))
    assert proc.returncode == 0, proc.stdout
    assert "intact" in proc.stdout and "TAMPERED" not in proc.stdout


def _edit(lines: list[bytes]) -> None:
    assert b'"message":"' in lines[9]
    lines[9] = lines[9].replace(b'"message":"', b'"message":"approved by nobody; ', 1)


def _edit_outcome(lines: list[bytes]) -> None:
    line = next(i for i, raw in enumerate(lines) if b'"outcome":"escalate"' in raw and i > 5)
    lines[line] = lines[line].replace(b'"outcome":"escalate"', b'"outcome":"pass"')
    lines.append(str(line + 1).encode())  # remember which line (popped below)


def _delete(lines: list[bytes]) -> None:
    del lines[9]


def _delete_three(lines: list[bytes]) -> None:
    del lines[9:12]


def _insert_copy(lines: list[bytes]) -> None:
    lines.insert(9, lines[3])


def _insert_forged(lines: list[bytes]) -> None:
    forged = json.loads(lines[8])
    forged["message"] = "forged"
    lines.insert(9, json.dumps(forged, separators=(",", ":")).encode())


def _insert_text(lines: list[bytes]) -> None:
    lines.insert(9, b"a note someone typed into the log")


def _swap_adjacent(lines: list[bytes]) -> None:
    lines[9], lines[10] = lines[10], lines[9]


def _swap_far(lines: list[bytes]) -> None:
    lines[9], lines[19] = lines[19], lines[9]


def _break_json(lines: list[bytes]) -> None:
    lines[9] = lines[9][:-20]


@pytest.mark.parametrize(
    "tamper, expected",
    [
        (_edit, [("edited", 10)]),
        (_delete, [("deleted", 10)]),
        (_delete_three, [("deleted", 10)]),
        (_insert_copy, [("inserted", 10)]),
        (_insert_forged, [("inserted", 10)]),
        (_insert_text, [("inserted", 10)]),
        (_swap_adjacent, [("reordered", 10)]),
        (_swap_far, [("reordered", 10), ("reordered", 20)]),
        (_break_json, [("edited", 10)]),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_each_kind_of_tampering_is_named_with_its_line(log: Path, tamper, expected) -> None:  # type: ignore[no-untyped-def]
    lines = read(log)
    tamper(lines)
    write(log, lines)
    assert breaks(log) == expected
    proc = clearance("verify", str(log))
    assert proc.returncode == 3, proc.stdout
    kind, line = expected[0]
    assert f"{kind.upper()}" in proc.stdout and f"{log}:{line}:" in proc.stdout
    assert "TAMPERED" in proc.stdout


def _move_down(lines: list[bytes]) -> None:
    lines.insert(19, lines.pop(9))  # seq 10 now sits after seq 20


def _move_block_down(lines: list[bytes]) -> None:
    block = lines[9:12]
    del lines[9:12]
    lines[17:17] = block  # seq 10-12 now sit after seq 20


def _move_first_down(lines: list[bytes]) -> None:
    lines.insert(9, lines.pop(0))


def _move_to_the_end(lines: list[bytes]) -> None:
    lines.append(lines.pop(9))


@pytest.mark.parametrize(
    "move",
    [_move_down, _move_block_down, _move_first_down, _move_to_the_end],
    ids=lambda v: v.__name__.strip("_"),
)
def test_lines_moved_elsewhere_are_reordered_not_deleted_and_inserted(log: Path, move) -> None:  # type: ignore[no-untyped-def]
    """Every line is still there, chained, out of seq order: reordered, naming where the
    moved lines are and where they belong — neither deleted nor inserted."""
    lines = read(log)
    n = len(lines)
    move(lines)
    write(log, lines)
    result = verify_log(log)
    assert result.breaks and {b.kind for b in result.breaks} == {"reordered"}, result.breaks
    assert result.events == n and not result.intact
    assert "belong" in result.breaks[0].message
    proc = clearance("verify", str(log))
    assert proc.returncode == 3 and "REORDERED" in proc.stdout and "DELETED" not in proc.stdout


def test_a_line_moved_ten_lines_down_is_named_where_it_is(log: Path) -> None:
    lines = read(log)
    _move_down(lines)
    write(log, lines)
    (brk,) = verify_log(log).breaks
    assert (brk.kind, brk.line, brk.seq) == ("reordered", 20, 10)
    assert f"seq 10 is at {log.name}:20; it belongs after seq 9 at {log.name}:9" in brk.message


def test_a_moved_line_with_one_deleted_is_still_a_deletion(log: Path) -> None:
    lines = read(log)
    lines.insert(19, lines.pop(9))
    del lines[10]  # seq 12 is gone for good
    write(log, lines)
    kinds = [b.kind for b in verify_log(log).breaks]
    assert "deleted" in kinds


def test_swapped_rotated_files_are_reordered_not_gaps(tmp_path: Path) -> None:
    path = _rotated(tmp_path)
    second, third = rotated_files(path)[1:3]
    spare = second.with_name("spare")
    second.rename(spare)
    third.rename(second)
    spare.rename(third)
    result = verify_log(path)
    # the chain goes from the first file to the second (now holding the third's lines); the
    # lines now in the third file are where the chain goes back: moved, named where they belong
    (brk,) = result.breaks
    assert (brk.kind, Path(brk.file).name, brk.line) == ("reordered", third.name, 1)
    assert f"they belong after seq {brk.seq - 1} at {path.name}.000001:" in brk.message
    assert f"at {second.name}:1: lines are out of order" in brk.message
    assert clearance("verify", str(path)).returncode == 3


def test_a_recovered_torn_line_is_not_counted_as_an_event(log: Path) -> None:
    """A write torn after the line's seq and prev leaves a fragment that starts like an
    event: once recovered it is reported, never counted."""
    n = len(read(log))
    log.write_bytes(log.read_bytes()[:-40])  # the last line loses its end and its newline
    AuditLog(log).append({"event": "run.started"})
    result = verify_log(log)
    assert [b.kind for b in result.breaks] == ["recovered"]
    assert (result.events, result.first_seq, result.last_seq) == (n + 1, 1, n + 1)
    assert f"{n + 1} events (seq 1-{n + 1})" in clearance("verify", str(log)).stdout


def test_editing_an_outcome_in_the_middle_is_detected(log: Path) -> None:
    lines = read(log)
    _edit_outcome(lines)
    line = int(lines.pop())
    write(log, lines)
    assert breaks(log) == [("edited", line)]


def test_deleted_lines_report_the_missing_seq_range(log: Path) -> None:
    lines = read(log)
    del lines[9:12]
    write(log, lines)
    (brk,) = verify_log(log).breaks
    assert brk.seq == 10 and "seq 10-12" in brk.message


def test_a_torn_last_line_is_not_tampering_unless_strict(log: Path) -> None:
    data = log.read_bytes()
    log.write_bytes(data + data.split(b"\n")[3][:40])  # a writer died mid-line
    proc = clearance("verify", str(log))
    assert proc.returncode == 0, proc.stdout
    n = data.count(b"\n") + 1
    assert f"TORN       {log}:{n}:" in proc.stdout and "not tampering" in proc.stdout
    assert clearance("verify", "--strict", str(log)).returncode == 3
    # the next writer recovers it, and verify says so
    AuditLog(log).append({"event": "run.started"})
    assert breaks(log) == [("recovered", n)]
    assert clearance("verify", "--strict", str(log)).returncode == 0


# -- torn lines: only a crash leaves one, and only at the end of the file ---------------------


def _sha(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _is_event(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _recover_as_before(log: Path) -> None:
    """Recover ``log`` as writers did before they told torn lines from others: terminate the
    last line and name every line after the last event as torn, then append an event."""
    data = log.read_bytes()
    data += b"" if data.endswith(b"\n") else b"\n"
    lines = data[:-1].split(b"\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    head = max(i for i, line in enumerate(lines) if _is_event(line))
    torn = [
        {"offset": offsets[i], "bytes": len(lines[i]), "sha256": _sha(lines[i])}
        for i in range(head + 1, len(lines))
    ]
    body = prepare_event(
        {
            "event": "log.recovered",
            "message": "a torn line was terminated",
            "details": {"file": log.name, "torn": torn},
        },
        str(log),
    )
    seq = json.loads(lines[head])["seq"] + 1
    recovered = b'{"schema":"clearance.event/1","seq":%d,"prev":"%s",%s' % (
        seq,
        _sha(lines[head]).encode(),
        body,
    )
    log.write_bytes(data + recovered + b"\n")
    AuditLog(log).append({"event": "run.started"})


def _recover(log: Path) -> None:
    AuditLog(log).append({"event": "run.started"})


RECOVERIES = pytest.mark.parametrize(
    "recover", [_recover, _recover_as_before], ids=["writer", "writer-before-the-fix"]
)


def _crash(log: Path, keep: int | None = None) -> None:
    """A writer dies mid-line: the last line loses its end (all but ``keep`` bytes; by
    default, its last 39) and its newline."""
    data = log.read_bytes()
    last = len(read(log)[-1]) + 1
    log.write_bytes(data[:-40] if keep is None else data[: len(data) - last + keep])


def _crash_while_recovering(log: Path) -> None:
    """After :func:`_crash`, the next writer dies in turn, half-way through the newline and
    ``log.recovered`` event it writes first: what it did write is taken from a copy."""
    copy = log.with_name("copy.jsonl")
    shutil.copyfile(log, copy)
    AuditLog(copy).append({"event": "run.started"})
    written = copy.read_bytes()[log.stat().st_size :]
    assert written.startswith(b"\n") and b'"event":"log.recovered"' in written.split(b"\n")[1]
    with open(log, "ab") as fh:
        fh.write(written[:200])


@RECOVERIES
@pytest.mark.parametrize(
    "garbage",
    [b"approved by the supervisor", b'{"schema":"clearance.event/1","seq":4,"p'],
    ids=["a-note", "a-fragment-of-line-4"],
)
def test_a_line_added_before_a_torn_line_stays_tampering_once_recovered(
    log: Path,
    recover,
    garbage: bytes,  # type: ignore[no-untyped-def]
) -> None:
    """Bytes added by hand, then a crash: the added line was never at the end of the file
    when a writer crashed, so it is not torn, before or after the next writer recovers."""
    n = len(read(log))
    with open(log, "ab") as fh:
        fh.write(garbage + b"\n" + b'{"schema":"clearance.event/1","seq":%d,"prev":"' % (n + 1))
    assert breaks(log) == [("inserted", n + 1), ("torn", n + 2)]
    recover(log)
    assert breaks(log) == [("inserted", n + 1), ("recovered", n + 2)]
    proc = clearance("verify", str(log))
    assert proc.returncode == 3, proc.stdout
    assert f"INSERTED   {log}:{n + 1}:" in proc.stdout
    assert f"RECOVERED  {log}:{n + 2}:" in proc.stdout and "TAMPERED" in proc.stdout


@RECOVERIES
def test_a_torn_line_then_bytes_added_by_hand_is_tampering_once_recovered(
    log: Path,
    recover,  # type: ignore[no-untyped-def]
) -> None:
    """A crash, then a newline and a note typed in after the torn line: the note is what
    the next writer finds at the end; the torn line before it was ended by hand."""
    n = len(read(log))
    _crash(log)
    with open(log, "ab") as fh:
        fh.write(b"\nchecked, all fine")
    recover(log)
    assert breaks(log) == [("inserted", n), ("recovered", n + 1)]
    assert clearance("verify", str(log)).returncode == 3


@RECOVERIES
@pytest.mark.parametrize("keep", [None, 20], ids=["starts-like-an-event", "short"])
def test_a_crash_while_recovering_a_crash_is_torn_then_recovered_line_by_line(
    log: Path,
    recover,  # type: ignore[no-untyped-def]
    keep: int | None,
) -> None:
    """Two torn lines a crash can leave: a torn event, then the torn recovery of the writer
    that ended it. Both are torn, then recovered (not tampering), and neither is counted."""
    n = len(read(log))
    head = hashlib.sha256(read(log)[n - 2]).hexdigest()
    _crash(log, keep)
    _crash_while_recovering(log)
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [("torn", n), ("torn", n + 1)]
    assert result.intact and (result.events, result.last_seq, result.head) == (n - 1, n - 1, head)
    proc = clearance("verify", str(log))
    assert proc.returncode == 0 and f"TORN       {log}:{n}:" in proc.stdout, proc.stdout
    recover(log)
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [("recovered", n), ("recovered", n + 1)]
    assert result.intact and (result.events, result.last_seq) == (n + 1, n + 1)
    assert clearance("verify", "--strict", str(log)).returncode == 0


def test_a_log_recovered_event_off_the_chain_names_no_torn_line(log: Path) -> None:
    """A forged log.recovered event (here reusing seq 3) is not part of the chain: the line it
    names as torn is reported as what it is."""
    lines = read(log)
    offset = sum(len(line) + 1 for line in lines[:10])
    note = b"approved by the supervisor"
    body = prepare_event(
        {
            "event": "log.recovered",
            "details": {
                "file": log.name,
                "torn": [{"offset": offset, "bytes": len(note), "sha256": _sha(note)}],
            },
        },
        str(log),
    )
    forged = b'{"schema":"clearance.event/1","seq":3,"prev":"%s",%s' % (
        _sha(lines[1]).encode(),
        body,
    )
    lines[10:10] = [note, forged]
    write(log, lines)
    assert breaks(log) == [("inserted", 11), ("inserted", 12)]


def _add_after_the_torn_line(lines: list[bytes], torn: int) -> None:
    lines.insert(torn + 1, b"typed in")


def _add_after_the_recovery(lines: list[bytes], torn: int) -> None:
    lines.insert(torn + 2, b"typed in")


def _edit_the_torn_line(lines: list[bytes], torn: int) -> None:
    lines[torn] = lines[torn][:-1] + b"X"  # one byte differs from the one named


def _move_the_torn_line(lines: list[bytes], torn: int) -> None:
    lines[torn - 1] += b" "  # the torn line now starts one byte after the offset named


@pytest.mark.parametrize(
    "damage, expected",
    [
        (_add_after_the_torn_line, [("recovered", 0), ("inserted", 1)]),
        (_add_after_the_recovery, [("recovered", 0), ("inserted", 2)]),
        (_edit_the_torn_line, [("inserted", 0)]),
        (_move_the_torn_line, [("edited", -1), ("inserted", 0)]),
    ],
    ids=lambda v: v.__name__.strip("_") if callable(v) else "",
)
def test_a_recovered_torn_line_is_the_one_named_where_it_was(
    log: Path,
    damage,
    expected,  # type: ignore[no-untyped-def]
) -> None:
    """A recovered line is exactly the line a log.recovered event names (file, offset,
    SHA-256); bytes added around it, or a torn line changed or moved, are reported."""
    n = len(read(log))
    _crash(log)
    _recover(log)
    lines = read(log)
    damage(lines, n - 1)
    write(log, lines)
    assert breaks(log) == [(kind, n + d) for kind, d in expected]
    assert clearance("verify", str(log)).returncode == 3


@RECOVERIES
def test_a_line_added_before_a_torn_line_in_a_rotated_file_stays_tampering(
    tmp_path: Path,
    recover,  # type: ignore[no-untyped-def]
) -> None:
    path = _rotated(tmp_path)
    with open(path, "ab") as fh:
        fh.write(
            b"approved by the supervisor\n" + b'{"schema":"clearance.event/1","seq":61,"prev":"'
        )
    n = len(read(path))
    recover(path)
    log = AuditLog(path, max_bytes=3000)
    for _ in range(30):
        log.append({"event": "finding", "message": "m" * 40})
    result = verify_log(path)
    assert [(b.kind, b.line) for b in result.breaks] == [("inserted", n - 1), ("recovered", n)]
    (file,) = {b.file for b in result.breaks}
    assert file in [str(f) for f in rotated_files(path)[:-1]]  # a rotated file, not the newest
    assert clearance("verify", str(path)).returncode == 3


def _next_write(log: Path) -> bytes:
    """The bytes the next writer appends to ``log`` (a newline and its ``log.recovered`` event
    first, when the log ends with a torn line), written to a copy."""
    copy = log.with_name("copy.jsonl")
    shutil.copyfile(log, copy)
    AuditLog(copy).append({"event": "run.started"})
    return copy.read_bytes()[log.stat().st_size :]


def _append(log: Path, data: bytes) -> None:
    with open(log, "ab") as fh:
        fh.write(data)


def _power_loss(log: Path, keep: int) -> None:
    """A power loss during the last write: the file has its new size, but only the first
    ``keep`` bytes of the last line reached the disk; the rest reads as NUL bytes."""
    data = log.read_bytes()
    last = len(read(log)[-1]) + 1
    log.write_bytes(data[: len(data) - last + keep] + b"\0" * (last - keep))


def _crash_then_crash_while_recovering(log: Path) -> None:
    _crash(log)
    _crash_while_recovering(log)


@RECOVERIES
@pytest.mark.parametrize("earlier", [_crash, _crash_then_crash_while_recovering])
@pytest.mark.parametrize("keep", [20, 150], ids=["short", "starts-like-an-event"])
def test_a_crash_in_the_first_event_after_a_recovery_is_torn_and_the_recovery_chained(
    log: Path,
    recover,  # type: ignore[no-untyped-def]
    earlier,  # type: ignore[no-untyped-def]
    keep: int,
) -> None:
    """A crash; the next writer ends the torn line(s), writes its log.recovered event and dies
    inside its own first event. The new torn line is torn (not counted, not the head), the
    log.recovered event is on the chain (the head), and the lines it names are recovered."""
    n = len(read(log))
    earlier(log)
    torn = len(read(log)) - n + 1  # lines the crashes left: 1, or 2
    written = _next_write(log)
    recovery = written.split(b"\n")[1]
    assert b'"event":"log.recovered"' in recovery
    _append(log, written[: 2 + len(recovery) + keep])
    result = verify_log(log)
    named = [("recovered", n + i) for i in range(torn)]
    assert [(b.kind, b.line) for b in result.breaks] == [*named, ("torn", n + torn + 1)]
    assert result.intact
    assert (result.events, result.last_seq, result.head) == (n, n, _sha(recovery))
    proc = clearance("verify", str(log))
    assert proc.returncode == 0 and f"intact — {n} events (seq 1-{n})" in proc.stdout, proc.stdout
    recover(log)
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [*named, ("recovered", n + torn + 1)]
    assert result.intact and (result.events, result.last_seq) == (n + 2, n + 2)


@RECOVERIES
@pytest.mark.parametrize("keep", [0, 100], ids=["all-nul", "cut-then-nul"])
def test_a_torn_line_of_nul_bytes_then_a_crash_while_recovering_it_is_torn_then_recovered(
    log: Path,
    recover,  # type: ignore[no-untyped-def]
    keep: int,
) -> None:
    """A power loss leaves NUL bytes where the end of the last line was never written; the
    next writer dies while recovering it. Both lines are torn, then recovered: not tampering."""
    n = len(read(log))
    _power_loss(log, keep)
    _crash_while_recovering(log)
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [("torn", n), ("torn", n + 1)]
    assert result.intact and (result.events, result.last_seq) == (n - 1, n - 1)
    recover(log)
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [("recovered", n), ("recovered", n + 1)]
    assert result.intact and (result.events, result.last_seq) == (n + 1, n + 1)


@RECOVERIES
@pytest.mark.parametrize(
    "crash", [_crash, lambda log: _power_loss(log, 100)], ids=["kill", "power-loss"]
)
def test_a_recovery_cut_right_after_its_newline_leaves_a_torn_line_a_writer_recovers(
    log: Path,
    recover,  # type: ignore[no-untyped-def]
    crash,  # type: ignore[no-untyped-def]
) -> None:
    """The newline and the log.recovered event after it are one write; a crash can still cut
    it right after the newline (a partial write, a power loss). The line it ended is torn,
    not the head and not counted, and the next writer recovers it."""
    n = len(read(log))
    crash(log)
    _append(log, _next_write(log)[:1])
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [("torn", n)]
    assert result.intact and (result.events, result.last_seq) == (n - 1, n - 1)
    assert clearance("verify", str(log)).returncode == 0
    recover(log)
    result = verify_log(log)
    assert [(b.kind, b.line) for b in result.breaks] == [("recovered", n)]
    assert result.intact and (result.events, result.last_seq) == (n + 1, n + 1)


def _cut_into_its_time(line: bytes) -> bytes:
    return line[:140] + b" <- edited: this is no longer an event"


def _without_details(line: bytes) -> bytes:
    event = json.loads(line)
    del event["details"]
    return json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode()


def _seq_and_prev_only(line: bytes) -> bytes:
    event = json.loads(line)
    return json.dumps({"seq": event["seq"], "prev": event["prev"]}).encode()


def _a_note(line: bytes) -> bytes:
    return b"checked by the supervisor, all fine"


def _not_utf8(line: bytes) -> bytes:
    # whole, but for a byte that is not UTF-8 (re-encoded as Latin-1): no crash leaves it
    # (a write cut short is never a whole JSON value); it was called torn, exit 0
    return line.replace(b'"details":{', b'"details":{"note":"caf\xe9",', 1)


@pytest.mark.parametrize(
    "edit", [_cut_into_its_time, _without_details, _seq_and_prev_only, _a_note, _not_utf8]
)
def test_a_last_line_that_is_not_an_event_is_edited_as_the_writers_refuse_it(
    log: Path,
    edit,  # type: ignore[no-untyped-def]
) -> None:
    """No line after the last one vouches for it: verify checks that it is an event, as a
    writer does before chaining to it. Never "intact" for a log no writer appends to."""
    lines = read(log)
    n = len(lines)
    lines[-1] = edit(lines[-1])
    write(log, lines)
    assert breaks(log) == [("edited", n)]
    proc = clearance("verify", str(log))
    assert proc.returncode == 3 and f"EDITED     {log}:{n}:" in proc.stdout, proc.stdout
    with pytest.raises(AuditLogError, match="is not an audit event"):
        AuditLog(log).append({"event": "run.started"})


@pytest.mark.parametrize("prev", ["copied", "zeros"])
def test_an_event_added_by_hand_at_the_end_is_not_chained_to_by_the_next_writer(
    log: Path, prev: str
) -> None:
    """An event appended by hand (the last one copied, its seq bumped and its outcome made a
    pass) with a prev that is not the hash of the line before it. Writers chained to it: the
    forged line was on the chain from then on, and verify called the genuine last event the
    one "not part of the chain" (and, before, blamed it alone as "changed after it was
    written")."""
    lines = read(log)
    n = len(lines)
    forged = json.loads(lines[-1])
    forged.update(seq=forged["seq"] + 1, outcome="pass", message="all clear")
    if prev == "zeros":
        forged["prev"] = "0" * 64
    lines.append(json.dumps(forged, separators=(",", ":"), ensure_ascii=False).encode())
    write(log, lines)
    before = log.read_bytes()
    with pytest.raises(AuditLogError, match=f"{log}:{n + 1}: the last audit event"):
        AuditLog(log).append({"event": "run.started"})
    assert log.read_bytes() == before
    proc = clearance("verify", str(log))
    assert proc.returncode == 3
    assert f"EDITED     {log}:{n}: line changed after it was written, or the last line " in (
        proc.stdout
    )
    assert f"(audit.jsonl:{n + 1}) was added or copied there by hand" in proc.stdout


def test_two_last_events_chained_to_one_event_are_said_to_be_two_writers(log: Path) -> None:
    """Two writers that did not share the lock (a lock file deleted under a watcher, before
    writers noticed it; a file system whose locks do not work) both chained to the last
    event: the writers refuse the log, and said only that its last event "was added or copied
    there by hand, or that line was changed since"."""
    lines = read(log)
    n = len(lines)
    forks = []
    for run in ("watcher", "farm"):
        event = json.loads(lines[-1])
        event.update(
            seq=event["seq"] + 1,
            prev=hashlib.sha256(lines[-1]).hexdigest(),
            event="run.started",
            run_id=run,
        )
        forks.append(json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode())
    write(log, [*lines, *forks])
    with pytest.raises(AuditLogError, match=f"{log}:{n + 2}: .*two writers appended") as caught:
        AuditLog(log).append({"event": "run.started"})
    assert "copied there by hand" not in str(caught.value)
    write(log, [*lines, lines[-1]])  # the last line pasted again: by hand
    with pytest.raises(AuditLogError, match="copied there by hand"):
        AuditLog(log).append({"event": "run.started"})


def test_a_last_line_of_the_newest_rotated_file_that_is_not_an_event_is_edited(
    tmp_path: Path,
) -> None:
    """Between a rotation's rename and its first write the writers read the head from the
    newest rotated file, so verify holds that file's last line to the same rule."""
    path = _rotated(tmp_path)
    newest = path.with_name(f"{path.name}.{len(rotated_files(path)) + 1:06d}")
    path.rename(newest)
    lines = read(newest)
    lines[-1] = _without_details(lines[-1])
    write(newest, lines)
    result = verify_log(path)
    assert [(b.kind, b.file, b.line) for b in result.breaks] == [
        ("edited", str(newest), len(lines))
    ]
    with pytest.raises(AuditLogError, match="is not an audit event"):
        AuditLog(path).append({"event": "run.started"})


def _event(i: int) -> dict[str, object]:
    return {"event": "finding", "stage": "comp", "asset": f"a{i}.exr", "message": "m" * (i % 50)}


def _killed(path: Path, log: AuditLog, events: list[dict[str, object]], rng: random.Random) -> None:
    """``log`` appends ``events`` and is killed part-way through its write (the file keeps a
    random part of it, at least one byte, never all), or loses power (the rest is NULs)."""
    files = [*rotated_files(path), path]
    sizes = {f: f.stat().st_size if f.exists() else 0 for f in files}
    log.append_many(events)
    now = [*rotated_files(path), path]
    assert len(now) <= len(files) + 1  # a batch smaller than max_bytes rotates at most once
    if len(now) > len(files):  # it rotated: put the old file back where the cut falls into it
        old = now[-2]
        old_written = old.stat().st_size - sizes[path]
    else:
        old, old_written = None, 0
    total = old_written + path.stat().st_size - (0 if old else sizes[path])
    cut = rng.randrange(1, total)
    if old is not None and cut <= old_written:
        path.unlink()
        old.rename(path)
        start, keep = sizes[path], cut
    else:
        start, keep = (0, cut - old_written) if old else (sizes[path], cut)
    end = path.stat().st_size
    os.truncate(path, start + keep)
    if rng.random() < 0.25:  # power loss: the file kept its size, not its bytes
        with open(path, "ab") as fh:
            fh.write(b"\0" * (end - start - keep))


def test_any_chain_of_crashes_verifies_intact_and_the_next_writer_recovers_it(
    tmp_path: Path,
) -> None:
    """Writers killed at random points of their writes, one to three in a row (each the next
    writer, whose write may be a recovery), with and without rotation, some by a power loss:
    the log verifies intact, torn lines are never counted, and the next writer appends."""
    rng = random.Random(20261127)
    for trial in range(240):
        path = tmp_path / f"t{trial}" / "audit.jsonl"
        log = AuditLog(path, max_bytes=rng.choice([None, 1500]))
        n = 0
        for _ in range(rng.randint(1, 4)):
            k = rng.randint(1, 3)
            log.append_many([_event(n + i) for i in range(k)])
            n += k
        for _ in range(trial % 3 + 1):
            k = rng.randint(1, 3)
            _killed(path, log, [_event(n + i) for i in range(k)], rng)
            n += k
        for result in (verify_log(path), None):
            if result is None:
                log.append(_event(n))
                result = verify_log(path)
                assert {b.kind for b in result.breaks} <= {"recovered"}, (trial, result.breaks)
            assert result.intact, (trial, [(b.kind, b.line, b.message) for b in result.breaks])
            assert result.first_seq in (1, None) and result.events == (result.last_seq or 0)


def test_json_output_names_each_break(log: Path) -> None:
    lines = read(log)
    _delete(lines)
    write(log, lines)
    proc = clearance("verify", "--json", str(log))
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert doc["intact"] is False and doc["version"] == 1
    (result,) = doc["logs"]
    assert result["files"] == [str(log)] and result["intact"] is False
    assert result["breaks"] == [
        {
            "kind": "deleted",
            "file": str(log),
            "line": 10,
            "seq": 10,
            "message": f"1 line (seq 10) deleted before {log.name}:10",
            "tampered": True,
        }
    ]


def test_several_logs_are_verified_and_the_exit_code_covers_all(tmp_path: Path, log: Path) -> None:
    other = tmp_path / "other.jsonl"
    AuditLog(other).append({"event": "run.started"})
    assert clearance("verify", str(log), str(other)).returncode == 0
    lines = read(other) + [b"junk"]
    write(other, lines)
    proc = clearance("verify", str(log), str(other))
    assert proc.returncode == 3 and f"{log}: intact" in proc.stdout


def test_a_log_that_cannot_be_read_does_not_stop_the_others_being_verified(
    tmp_path: Path, log: Path
) -> None:
    # the first log that could not be read (missing, a folder, no checkpoint file with --key)
    # ended verify: the logs after it were not verified, a tampered one not named, exit 2
    other = tmp_path / "other.jsonl"
    AuditLog(other).append_many([{"event": "run.started"} for _ in range(3)])
    write(other, read(other)[:1] + read(other)[2:])  # its seq 2 deleted
    missing = tmp_path / "missing.jsonl"
    proc = clearance("verify", str(missing), str(log), str(other))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "missing.jsonl: no such audit log" in proc.stderr
    assert f"{log}: intact" in proc.stdout and f"{other}: TAMPERED" in proc.stdout
    assert f"DELETED    {other}:2:" in proc.stdout
    proc = clearance("verify", str(log), str(missing))
    assert proc.returncode == 2 and f"{log}: intact" in proc.stdout
    proc = clearance("verify", "--json", str(missing), str(log))
    assert proc.returncode == 2 and "missing.jsonl: no such audit log" in proc.stderr
    doc = json.loads(proc.stdout)
    assert [entry["log"] for entry in doc["logs"]] == [str(log)]
    # the JSON names the log it could not verify: it read "intact": true and said nothing of it
    assert doc["unread"] == [{"log": str(missing), "error": f"{missing}: no such audit log"}]
    doc = json.loads(clearance("verify", "--json", str(log)).stdout)
    assert doc["intact"] is True and doc["unread"] == []


def _rotated(tmp_path: Path) -> Path:
    path = tmp_path / "rot" / "audit.jsonl"
    log = AuditLog(path, max_bytes=3000)
    for i in range(60):
        log.append(
            {
                "event": "finding",
                "stage": "comp",
                "asset": f"comp/sh{i:03d}.exr",
                "message": "m" * 40,
            }
        )
    assert len(rotated_files(path)) >= 3
    return path


def test_rotation_across_three_files_verifies(tmp_path: Path) -> None:
    path = _rotated(tmp_path)
    proc = clearance("verify", str(path))
    assert proc.returncode == 0, proc.stdout
    assert f"{len(rotated_files(path)) + 1} files" in proc.stdout


def test_deleting_the_middle_rotated_file_is_a_gap(tmp_path: Path) -> None:
    path = _rotated(tmp_path)
    middle = rotated_files(path)[1]
    first_seq = json.loads(middle.read_bytes().split(b"\n")[0])["seq"]
    middle.unlink()
    result = verify_log(path)
    assert not result.intact
    kinds = {(b.kind, Path(b.file).name, b.line) for b in result.breaks}
    third = rotated_files(path)[1].name
    assert ("gap", third, None) in kinds  # rotated file number missing
    assert ("gap", third, 1) in kinds  # seq jumps at line 1 of the next file
    gap = next(b for b in result.breaks if b.line == 1)
    assert gap.seq == first_seq and "a rotated file was deleted" in gap.message
    assert clearance("verify", str(path)).returncode == 3


def test_deleting_the_oldest_rotated_file_is_a_gap(tmp_path: Path) -> None:
    path = _rotated(tmp_path)
    rotated_files(path)[0].unlink()
    assert {b.kind for b in verify_log(path).breaks} == {"gap"}


def test_an_unreadable_log_exits_2(tmp_path: Path) -> None:
    proc = clearance("verify", str(tmp_path / "missing.jsonl"))
    assert proc.returncode == 2 and "missing.jsonl: no such audit log" in proc.stderr
    (tmp_path / "dir.jsonl").mkdir()
    proc = clearance("verify", str(tmp_path / "dir.jsonl"))
    assert proc.returncode == 2 and "dir.jsonl" in proc.stderr


def test_an_intact_log_of_100000_events_verifies(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    log = AuditLog(path)
    for start in range(0, 100_000, 10_000):
        log.append_many(
            [
                {
                    "event": "finding",
                    "stage": "comp",
                    "asset": f"comp/sh{i:06d}.####.exr",
                    "rule": "NFX-C1",
                    "outcome": "approval",
                    "status": "open",
                    "message": "generated key visual for final use",
                    "details": {"frames": "1001-1100", "remediation": "obtain written approval"},
                }
                for i in range(start, start + 10_000)
            ]
        )
    result = verify_log(path)
    assert result.intact and result.breaks == []
    assert result.events == 100_000 and result.last_seq == 100_000


# -- signed checkpoints -------------------------------------------------------------------------


@pytest.fixture
def key(tmp_path: Path) -> Path:
    keydir = tmp_path / "supervisor"
    keydir.mkdir()
    proc = clearance("checkpoint", "--keygen", str(keydir / "audit.key"))
    assert proc.returncode == 0, proc.stderr
    assert (keydir / "audit.key").stat().st_mode & 0o777 == 0o600
    return keydir / "audit.key"


def test_keygen_refused_for_a_public_key_already_there_writes_no_private_key(
    tmp_path: Path,
) -> None:
    # the private key was written, then K.pub found to exist (an old pair's): exit 2, and a
    # new K beside a K.pub that never verifies what it signs; asked again, "K already exists"
    key = tmp_path / "audit.key"
    old_public = b"-----BEGIN PUBLIC KEY-----\nold pair\n-----END PUBLIC KEY-----\n"
    key.with_name("audit.key.pub").write_bytes(old_public)
    proc = clearance("checkpoint", "--keygen", str(key))
    assert proc.returncode == 2 and "audit.key.pub: already exists" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.key.pub"]
    assert key.with_name("audit.key.pub").read_bytes() == old_public
    key.with_name("audit.key.pub").unlink()
    assert clearance("checkpoint", "--keygen", str(key)).returncode == 0


def test_checkpoint_then_verify_with_key(log: Path, key: Path) -> None:
    cps = key.parent / "audit.checkpoints"
    proc = clearance("checkpoint", str(log), "--key", str(key), "-o", str(cps))
    assert proc.returncode == 0, proc.stderr
    record = json.loads(cps.read_text().splitlines()[0])
    assert record["schema"] == "clearance.checkpoint/1"
    assert record["seq"] == len(read(log))
    AuditLog(log).append({"event": "run.started"})  # more events after the checkpoint are fine
    proc = clearance("verify", str(log), "--key", f"{key}.pub", "--checkpoints", str(cps))
    assert proc.returncode == 0, proc.stdout
    assert "1 signed checkpoint(s) checked; 1 event(s) after the newest checkpoint" in proc.stdout


def test_checkpoints_by_a_link_to_the_log_are_found_by_its_real_name_and_back(
    tmp_path: Path, log: Path, key: Path
) -> None:
    # the default checkpoint file was beside the name given: `checkpoint LINK` wrote
    # LINK.checkpoints, and `verify REAL --key` found no checkpoint file (exit 2), where the
    # lock and rotated files of a log given by a link are its target's
    link = tmp_path / "show" / "audit.jsonl"
    link.parent.mkdir()
    link.symlink_to(log)
    assert clearance("checkpoint", str(link), "--key", str(key)).returncode == 0
    assert log.with_name(log.name + ".checkpoints").is_file()
    for name in (log, link):
        proc = clearance("verify", str(name), "--key", f"{key}.pub")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "1 signed checkpoint(s) checked" in proc.stdout
    # one written beside the link by an earlier version is still the link's while the
    # target has none
    log.with_name(log.name + ".checkpoints").rename(link.with_name("audit.jsonl.checkpoints"))
    assert clearance("verify", str(link), "--key", f"{key}.pub").returncode == 0
    write(log, read(log)[:-5])
    assert clearance("verify", str(link), "--key", f"{key}.pub").returncode == 3


def test_a_cut_tail_passes_the_chain_but_not_the_checkpoint(log: Path, key: Path) -> None:
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    write(log, read(log)[:-5])  # drop the last five events: the chain is still consistent
    assert clearance("verify", str(log)).returncode == 0
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3
    assert "TRUNCATED" in proc.stdout and "have been removed" in proc.stdout


def test_checkpoints_given_without_a_key_are_a_usage_error_not_a_pass(log: Path, key: Path) -> None:
    # without --key no checkpoint was checked, silently: a log cut since its checkpoint was
    # "intact", exit 0, for a user who asked to hold it to its checkpoints
    cps = key.parent / "audit.checkpoints"
    assert clearance("checkpoint", str(log), "--key", str(key), "-o", str(cps)).returncode == 0
    write(log, read(log)[:-5])
    proc = clearance("verify", str(log), "--checkpoints", str(cps))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"--checkpoints {cps}" in proc.stderr and "--key" in proc.stderr
    assert proc.stdout == ""
    proc = clearance("verify", str(log), "--key", f"{key}.pub", "--checkpoints", str(cps))
    assert proc.returncode == 3 and "TRUNCATED" in proc.stdout


def test_a_rewritten_log_fails_the_checkpoint(tmp_path: Path, log: Path, key: Path) -> None:
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    n = len(read(log))
    log.unlink()
    rewritten = AuditLog(log)  # a consistent chain of the same length, different content
    rewritten.append_many([{"event": "run.started", "message": f"clean {i}"} for i in range(n)])
    assert clearance("verify", str(log)).returncode == 0
    proc = clearance("verify", str(log), "--key", str(key))  # a private key works as well
    assert proc.returncode == 3 and "CHECKPOINT" in proc.stdout and "rewritten" in proc.stdout


def test_a_checkpoint_of_another_log_says_which_log_it_was_signed_for(
    tmp_path: Path, log: Path, key: Path
) -> None:
    # the signed origin was never looked at: the checkpoints of another log (one checkpoint
    # file given for two logs, or the wrong one) said this log's events "have been removed"
    # or that it "was rewritten", nothing more
    cps = key.parent / "audit.checkpoints"
    assert clearance("checkpoint", str(log), "--key", str(key), "-o", str(cps)).returncode == 0
    other = tmp_path / "render08" / "audit.jsonl"
    AuditLog(other).append_many([{"event": "run.started"} for _ in range(3)])
    proc = clearance("verify", str(other), "--key", f"{key}.pub", "--checkpoints", str(cps))
    assert proc.returncode == 3 and "TRUNCATED" in proc.stdout
    assert f"it was signed for {socket.gethostname()}:{log.resolve()}" in proc.stdout
    write(log, read(log)[:-5])  # its own log, cut: its own checkpoint, nothing else to say
    proc = clearance("verify", str(log), "--key", f"{key}.pub", "--checkpoints", str(cps))
    assert proc.returncode == 3 and "TRUNCATED" in proc.stdout
    assert "it was signed for" not in proc.stdout


def test_a_checkpoint_of_a_log_whose_path_is_shown_escaped_is_its_own(
    tmp_path: Path, key: Path
) -> None:
    # its origin is signed escaped (a tab as the two characters \t) and was compared with
    # this log's name unescaped: its own checkpoint, the log cut, said it "was signed for"
    # that very log, "if that is another log, this is not this log's checkpoint file"
    log = tmp_path / "show\tA" / "audit.jsonl"
    AuditLog(log).append_many([{"event": "run.started"} for _ in range(5)])
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    write(log, read(log)[:-2])
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3 and "TRUNCATED" in proc.stdout
    assert "it was signed for" not in proc.stdout


def test_a_checkpoint_of_lines_in_a_rotated_file_archived_since_says_they_are_gone(
    tmp_path: Path, key: Path
) -> None:
    path = _rotated(tmp_path)
    oldest, *newer = rotated_files(path)
    last = json.loads(read(oldest)[-1])["seq"]
    # signed when the log was its oldest file (the active file just rotated to it) ...
    aside = tmp_path / "aside"
    aside.mkdir()
    for f in [*newer, path]:
        f.rename(aside / f.name)
    assert clearance("checkpoint", str(path), "--key", str(key)).returncode == 0
    for f in aside.iterdir():
        f.rename(path.with_name(f.name))
    assert clearance("verify", str(path), "--key", f"{key}.pub").returncode == 0
    oldest.rename(tmp_path / "archived.jsonl")  # ... which is archived since
    proc = clearance("verify", str(path), "--key", f"{key}.pub")
    assert proc.returncode == 3, proc.stdout
    assert f"the log no longer holds the line with seq {last} (its chain starts at seq" in (
        proc.stdout
    )
    assert "rewritten" not in proc.stdout


def test_a_forged_checkpoint_fails_its_signature(log: Path, key: Path) -> None:
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    cps = log.with_name(log.name + ".checkpoints")
    record = json.loads(cps.read_text())
    record["seq"] -= 1
    cps.write_text(json.dumps(record) + "\n")
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3 and "signature does not verify" in proc.stdout


def test_checkpoint_refuses_to_sign_a_tampered_log(log: Path, key: Path) -> None:
    lines = read(log)
    _delete(lines)
    write(log, lines)
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 3 and "not signing" in proc.stderr
    assert not log.with_name(log.name + ".checkpoints").exists()


def test_checkpoint_refuses_to_sign_a_log_whose_last_event_is_of_a_newer_format(
    log: Path, key: Path
) -> None:
    # it signed the head, a clearance.event/2 line this version cannot verify, exit 0: a
    # checkpoint vouching for an event that writers refuse to append after and verify exits 2
    lines = read(log)
    newer = dict(json.loads(lines[-1]), schema="clearance.event/2", event="run.started")
    newer["seq"] += 1
    newer["prev"] = hashlib.sha256(lines[-1]).hexdigest()
    write(log, [*lines, json.dumps(newer, separators=(",", ":")).encode()])
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"{log}:{len(lines) + 1}: line is an event of a newer format, clearance.event/2" in (
        proc.stderr
    )
    assert "nor sign a checkpoint for it" in proc.stderr
    assert not log.with_name(log.name + ".checkpoints").exists()


@pytest.mark.parametrize("folder", [".", "/", ""])
def test_a_folder_with_no_name_given_as_the_log_is_said_and_the_other_logs_verified(
    log: Path, key: Path, folder: str
) -> None:
    # `verify .`, `verify /`, `verify "$LOG"` unset: internal error (ValueError: PosixPath('.')
    # has an empty name, from the name of its lock file), and the logs after it not verified
    proc = clearance("verify", folder, str(log))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "internal error" not in proc.stderr
    assert "cannot read the audit log: it is a folder, not a regular file" in proc.stderr
    assert f"{log}: intact" in proc.stdout
    if folder:  # (checkpoint "" is checkpoint with no LOG: a usage error of its own)
        signed = clearance("checkpoint", folder, "--key", str(key))
        assert signed.returncode == 2 and "internal error" not in signed.stderr
        assert f"clearance: error: {folder}: is a folder, not an audit log" in signed.stderr
        checked = clearance("verify", folder, "--key", f"{key}.pub")
        assert checked.returncode == 2 and "internal error" not in checked.stderr


def test_a_key_file_given_as_the_checkpoint_file_is_a_usage_error_not_tampering(
    log: Path, key: Path
) -> None:
    # `--key audit.key --checkpoints audit.key.pub` (tab completion): the PEM lines were read
    # as forged checkpoints, and an intact log was called TAMPERED, exit 3
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    pub = f"{key}.pub"
    for given in (pub, str(key)):
        before = Path(given).read_bytes()
        signed = clearance("checkpoint", str(log), "--key", str(key), "--checkpoints", given)
        assert signed.returncode == 2, signed.stdout + signed.stderr
        assert f"--checkpoints {given}: is the key file {given}, not a checkpoint file" in (
            signed.stderr
        )
        assert "TAMPERED" not in signed.stdout and Path(given).read_bytes() == before
        checked = clearance("verify", str(log), "--key", pub, "--checkpoints", given)
        assert checked.returncode == 2 and "TAMPERED" not in checked.stdout, checked.stdout
        assert f"--checkpoints {given}: is the key file {given}" in checked.stderr


def test_a_checkpoint_file_or_key_given_as_the_log_is_said_to_be_one_not_tampered(
    log: Path, key: Path
) -> None:
    # `verify audit.jsonl.checkpoints` (tab completion) judged its lines as edited events:
    # TAMPERED, exit 3, and checkpoint said 'the audit log has no events to checkpoint'
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    cps = log.with_name(log.name + ".checkpoints")
    for given, what in ((cps, "a checkpoint file"), (Path(f"{key}.pub"), "a PEM key")):
        checked = clearance("verify", str(given), str(log))
        assert checked.returncode == 2, checked.stdout + checked.stderr
        assert "TAMPERED" not in checked.stdout and f"{log}: intact" in checked.stdout
        assert f"clearance: error: {given}: is {what}, not an audit log" in checked.stderr
        before = cps.read_bytes()
        signed = clearance("checkpoint", str(given), "--key", str(key), "-o", str(cps))
        assert signed.returncode == 2 and f"{given}: is {what}, not an audit log" in signed.stderr
        assert cps.read_bytes() == before
    # a log with events is a log whatever its first line: a checkpoint line put at its head
    # is tampering, never a reason not to verify it
    write(log, [cps.read_bytes().splitlines()[0], *read(log)])
    tampered = clearance("verify", str(log))
    assert tampered.returncode == 3 and "INSERTED" in tampered.stdout, tampered.stdout


def test_keygen_given_with_a_log_to_sign_is_a_usage_error(log: Path, key: Path) -> None:
    # a signing job given --keygen too wrote a new key pair and signed nothing, exit 0
    other = key.with_name("other.key")
    proc = clearance("checkpoint", str(log), "--key", str(key), "--keygen", str(other))
    assert proc.returncode == 2 and "--keygen K makes a key pair and signs nothing" in proc.stderr
    assert not other.exists() and not log.with_name(log.name + ".checkpoints").exists()


def test_verify_with_a_key_that_signed_nothing_exits_2(
    tmp_path: Path, log: Path, key: Path
) -> None:
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    other = tmp_path / "other.key"
    assert clearance("checkpoint", "--keygen", str(other)).returncode == 0
    proc = clearance("verify", str(log), "--key", f"{other}.pub")
    assert proc.returncode == 2 and "no checkpoint signed by key" in proc.stderr


def test_checkpoint_to_a_full_disk_exits_2(log: Path, key: Path) -> None:
    proc = clearance("checkpoint", str(log), "--key", str(key), "-o", "/dev/full")
    assert proc.returncode == 2 and "/dev/full" in proc.stderr and "No space left" in proc.stderr


def test_a_checkpoint_whose_write_did_not_finish_is_torn_and_the_next_one_drops_it(
    log: Path, key: Path
) -> None:
    # A checkpoint cut mid-write (a crash of the signer's cron job) was "altered or forged":
    # verify --key exit 3, and `checkpoint` refused to sign again (exit 3), for good.
    cps = log.with_name(log.name + ".checkpoints")
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    AuditLog(log).append({"event": "run.started"})
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    whole = cps.read_bytes()
    cps.write_bytes(whole[: whole.index(b"\n") + 1 + 150])  # the second one cut after 150 bytes
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"TORN       {cps}:2: the last checkpoint is incomplete (150 bytes" in proc.stdout
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "dropped its incomplete last line (150 bytes, no newline)" in proc.stderr
    assert cps.read_bytes().count(b"\n") == 2 and cps.read_bytes().endswith(b"\n")
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 0 and "2 signed checkpoint(s) checked" in proc.stdout, proc.stdout


def test_a_checkpoint_past_the_file_size_limit_is_taken_back(log: Path, key: Path) -> None:
    # The write cut by the limit (EFBIG) was left in the file: a torn line, and the next
    # checkpoint was written after it on the same line, so both read as forged (exit 3).
    cps = log.with_name(log.name + ".checkpoints")
    origin = ("--origin", "o" * 300)  # a line of some 580 bytes: the second passes 1 KiB
    assert clearance("checkpoint", str(log), "--key", str(key), *origin).returncode == 0
    assert len(cps.read_bytes()) < 1024 < 2 * len(cps.read_bytes())
    limited = subprocess.run(
        [
            "bash",
            "-c",
            'ulimit -f 1; exec "$@"',
            "-",
            CLEARANCE,
            "checkpoint",
            log,
            "--key",
            key,
            *origin,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert limited.returncode == 2 and "File too large" in limited.stderr
    assert f"{cps}: cannot write the checkpoint" in limited.stderr
    assert cps.read_bytes().count(b"\n") == 1 and cps.read_bytes().endswith(b"\n")
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 0 and "2 signed checkpoint(s) checked" in proc.stdout, proc.stdout


def test_an_origin_with_a_line_break_is_one_line_of_the_signed_note(log: Path, key: Path) -> None:
    """``--origin`` is a line of the signed note (schema, origin, seq, head, time): one with a
    line break in it was signed as it was, so the note had a line more than its format and
    the origin read as two. It is escaped as a terminal shows it, and verifies."""
    proc = clearance("checkpoint", str(log), "--key", str(key), "--origin", "show01\nseq 99")
    assert proc.returncode == 0, proc.stderr
    (line,) = log.with_name(log.name + ".checkpoints").read_text().splitlines()
    assert json.loads(line)["origin"] == "show01\\nseq 99"
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 0 and "1 signed checkpoint(s) checked" in proc.stdout, proc.stdout


def test_a_log_whose_path_is_not_utf8_is_checkpointed(tmp_path: Path, log: Path, key: Path) -> None:
    # The default origin (host:path) could not be encoded: an internal error, exit 2.
    name = os.fsencode(tmp_path) + b"/caf\xe9.jsonl"
    os.rename(log, name)
    proc = subprocess.run(
        [os.fsencode(CLEARANCE), b"checkpoint", name, b"--key", os.fsencode(key)],
        capture_output=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert b'caf\\\\xe9.jsonl": signed seq' in proc.stdout  # shown escaped, as names are
    record = json.loads(Path(os.fsdecode(name + b".checkpoints")).read_bytes())
    assert record["origin"].endswith("/caf\\xe9.jsonl")
    proc = subprocess.run(
        [os.fsencode(CLEARANCE), b"verify", name, b"--key", os.fsencode(f"{key}.pub")],
        capture_output=True,
    )
    assert proc.returncode == 0 and b"1 signed checkpoint(s) checked" in proc.stdout, proc.stdout


def test_json_of_a_log_whose_path_is_not_utf8_holds_no_lone_surrogate(
    tmp_path: Path, log: Path
) -> None:
    # verify --json and report -f json wrote the name as "\\udce9", a lone surrogate that
    # strict JSON readers refuse (jq turns it into U+FFFD): it is caf\\xe9, as asset names.
    name = os.fsencode(tmp_path) + b"/caf\xe9.jsonl"
    os.rename(log, name)
    with open(name, "ab") as fh:
        fh.write(b'{"schema":"clearance.ev')  # a torn line: a break naming the file
    for command in ([b"verify", b"--json"], [b"report", b"-f", b"json"]):
        proc = subprocess.run([os.fsencode(CLEARANCE), *command, name], capture_output=True)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        json.dumps(doc, ensure_ascii=False).encode("utf-8")  # no lone surrogate anywhere
        [shown] = doc["logs"]
        if command[0] == b"verify":
            assert shown["files"] == [shown["log"]] == [shown["breaks"][0]["file"]]
            shown = shown["log"]
        assert shown == os.fsdecode(tmp_path) + "/caf\\xe9.jsonl"


def test_checkpoint_refuses_to_write_into_the_log_itself(
    tmp_path: Path, log: Path, key: Path
) -> None:
    # `--checkpoints audit.jsonl` appended the checkpoint to the log: its last line no
    # event, verify TAMPERED (exit 3), and every writer refused the log from then on.
    link = tmp_path / "cp.link"
    link.symlink_to(log.name)
    before = log.read_bytes()
    for target in (log, link):
        proc = clearance("checkpoint", str(log), "--key", str(key), "--checkpoints", str(target))
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert f"--checkpoints {target}: is {log}, a file of the audit log {log}" in proc.stderr
    assert log.read_bytes() == before
    assert clearance("verify", str(log)).returncode == 0


def test_a_checkpoint_line_that_is_not_utf8_is_a_checkpoint_break(log: Path, key: Path) -> None:
    # It was "cannot read the checkpoints" (exit 2) for the whole file, unlike any other
    # damaged line, which is named (exit 3).
    cps = log.with_name(log.name + ".checkpoints")
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    with open(cps, "ab") as fh:
        fh.write(b'{"key_id": "\xff\xfe"}\n')
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert f"CHECKPOINT {cps}:2: checkpoint signature does not verify" in proc.stdout
    assert "1 signed checkpoint(s) checked" in proc.stdout


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")
def test_an_openssl_generated_key_works(tmp_path: Path, log: Path) -> None:
    key, pub = tmp_path / "k.pem", tmp_path / "k.pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(key)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout", "-out", str(pub)], check=True)
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    assert clearance("verify", str(log), "--key", str(pub)).returncode == 0


def test_heavy_damage_is_still_named_line_by_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many([{"event": "finding", "message": f"m{i}"} for i in range(40)])
    lines = read(path)
    write(path, lines[::2])  # every other line deleted
    assert breaks(path) == [("deleted", n) for n in range(2, 21)]
    write(path, lines[::-1])  # every line in reverse order
    assert {kind for kind, _line in breaks(path)} == {"reordered"}
    assert len(breaks(path)) == 39
    write(path, [line.replace(b':"m', b':"M') for line in lines])  # every message edited
    assert breaks(path) == [("edited", n) for n in range(1, 40)]  # the last needs a checkpoint
    write(path, [line.replace(b'"m', b'"M') for line in lines])  # and every "message" key
    assert breaks(path) == [("edited", n) for n in range(1, 41)]  # the last is no event now


def test_report_reads_a_log_caught_between_rotation_and_its_new_active_file(
    tmp_path: Path,
) -> None:
    """A rotation renames the active file, then creates the next one: a report started in
    between finds only rotated files. That is a log, not "no such audit log" (the check
    before the snapshot once took the last rotated file for the active one)."""
    from clearance.report import ReportError, build_report

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    log.append({"event": "run.started"})
    log.append({"event": "finding", "stage": "comp", "asset": "a", "rule": "NFX-C1"})
    log.close()
    path.rename(path.with_name("audit.jsonl.000001"))  # the moment inside a rotation
    assert not path.exists() and len(rotated_files(path)) == 1
    build_report([path])  # reads the rotated file
    assert verify_log(path).intact
    with pytest.raises(ReportError, match="no such audit log"):
        build_report([tmp_path / "other.jsonl"])


def test_verify_and_report_while_writers_append_and_rotate(tmp_path: Path) -> None:
    """Readers take a snapshot under a shared lock: live writers never look like tampering."""
    from clearance.report import build_report

    path = tmp_path / "audit.jsonl"
    AuditLog(path).append({"event": "run.started"})
    script = (
        "import sys\nfrom clearance.auditlog import AuditLog\n"
        "log = AuditLog(sys.argv[1], max_bytes=6000)\n"
        "for i in range(400):\n"
        "    log.append({'event': 'finding', 'stage': 'comp', 'asset': f'a{i}', "
        "'time': '2026-11-26T10:00:00.000Z', 'message': 'x' * 60})\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(path)]) for _ in range(2)]
    checks = 0
    while any(w.poll() is None for w in writers) or checks < 3:
        result = verify_log(path)
        assert result.breaks == [], result.breaks[:3]
        build_report([path])
        checks += 1
    assert all(w.wait() == 0 for w in writers)
    final = verify_log(path)
    assert final.intact and final.events == 801 and len(rotated_files(path)) >= 3


def test_a_real_scan_rotating_its_log_verifies_and_a_deleted_middle_file_is_a_gap(
    tmp_path: Path,
) -> None:
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    for i in range(6):
        (root / "comp" / f"sh{i:02d}0_comp_v001.png").write_bytes(b"png")
    (root / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01}\n"
        "audit: {log: .clearance/audit.jsonl, max_bytes: 4096}\n"
        "stages:\n  - name: comp\n    paths: [comp/]\n"
    )
    for _ in range(2):
        assert clearance("scan", str(root), "--no-progress").returncode in (0, 1)
    log = root / ".clearance" / "audit.jsonl"
    rotated = rotated_files(log)
    assert len(rotated) >= 2
    assert clearance("verify", str(log)).returncode == 0
    rotated[1].unlink()
    proc = clearance("verify", str(log))
    assert proc.returncode == 3
    assert "GAP" in proc.stdout
    assert f"rotated file number {rotated[1].name[-6:]} is missing" in proc.stdout
    assert "a rotated file was deleted" in proc.stdout


def test_checkpoint_refuses_to_sign_a_log_cut_after_its_last_checkpoint(
    log: Path, key: Path
) -> None:
    """The signer's cron job holds the log against the checkpoints it signed before, as
    ``verify --key`` does: it never countersigns a log whose tail was cut off since."""
    cps = log.with_name(log.name + ".checkpoints")
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    signed = cps.read_bytes()
    write(log, read(log)[:-5])  # the chain is still consistent, the last 5 signed events gone
    assert clearance("verify", str(log)).returncode == 0
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "TRUNCATED" in proc.stdout and "not signing" in proc.stderr
    assert cps.read_bytes() == signed
    AuditLog(log).append({"event": "run.started"})  # new events do not make up for it
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 3
    assert cps.read_bytes() == signed


def test_checkpoint_signs_a_log_that_only_grew_since_its_last_checkpoint(
    log: Path, key: Path
) -> None:
    cps = log.with_name(log.name + ".checkpoints")
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    AuditLog(log).append({"event": "run.started"})
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [json.loads(line)["seq"] for line in cps.read_text().splitlines()] == [
        len(read(log)) - 1,
        len(read(log)),
    ]


def _rechain(line: bytes, before: bytes) -> bytes:
    """``line`` with its ``prev`` recomputed to chain to ``before``, as a forger does."""
    at = line.index(b'"prev":"') + len(b'"prev":"')
    return line[:at] + _sha(before).encode() + line[at + 64 :]


def _forged_recovery(log: Path, seq: int, before: bytes, named: list[tuple[int, bytes]]) -> bytes:
    """A ``log.recovered`` event at ``seq`` chained to ``before``, naming ``named`` as torn."""
    body = prepare_event(
        {
            "event": "log.recovered",
            "message": "a torn line was terminated",
            "details": {
                "file": log.name,
                "torn": [
                    {"offset": offset, "bytes": len(line), "sha256": _sha(line)}
                    for offset, line in named
                ],
            },
        },
        str(log),
    )
    return b'{"schema":"clearance.event/1","seq":%d,"prev":"%s",%s' % (
        seq,
        _sha(before).encode(),
        body,
    )


def test_a_checkpointed_line_named_torn_by_a_forged_recovery_fails_the_checkpoint(
    log: Path, key: Path
) -> None:
    """Events between two checkpoints rewritten (hashes recomputed), the checkpointed line
    kept where it was and named as torn by a forged log.recovered event standing in for it on
    the chain: a checkpoint holds the log to the line the chain goes through at its seq, and a
    whole event is never a torn line. verify and checkpoint refuse the log."""
    cps = key.parent / "audit.checkpoints"
    sign = ("checkpoint", str(log), "--key", str(key), "--checkpoints", str(cps))
    assert clearance(*sign).returncode == 0
    AuditLog(log).append_many(
        [{"event": "finding", "stage": "comp", "asset": f"sh{i}.exr"} for i in range(5)]
    )
    assert clearance(*sign).returncode == 0
    signed = cps.read_bytes()
    lines = read(log)
    n = len(lines)  # seq n is the newest checkpoint's
    lines[n - 4] = lines[n - 4].replace(b'"sh1.exr"', b'"sh1_forged.exr"')
    for i in range(n - 4, n - 1):
        lines[i] = _rechain(lines[i], lines[i - 1])
    offset = sum(len(line) + 1 for line in lines[:-1])
    lines.append(_forged_recovery(log, n, lines[-2], [(offset, lines[-1])]))
    write(log, lines)
    proc = clearance("verify", str(log), "--key", f"{key}.pub", "--checkpoints", str(cps))
    assert proc.returncode == 3, proc.stdout
    assert f"(seq {n}): the line with seq {n} does not match the signed head" in proc.stdout
    assert f"INSERTED   {log}:{n}:" in proc.stdout and "RECOVERED" not in proc.stdout
    assert "it is an audit event" in proc.stdout
    proc = clearance(*sign)
    assert proc.returncode == 3 and "not signing" in proc.stderr
    assert cps.read_bytes() == signed


def test_a_forged_recovery_naming_the_last_event_as_torn_is_tampering(log: Path) -> None:
    """A log.recovered event appended in the last event's place, naming it as torn: no writer
    writes one (a writer chains to an event), so the event it stands in for is inserted."""
    lines = read(log)
    n = len(lines)
    offset = sum(len(line) + 1 for line in lines[:-1])
    lines.append(_forged_recovery(log, n, lines[-2], [(offset, lines[-1])]))
    write(log, lines)
    assert breaks(log) == [("inserted", n)]
    assert clearance("verify", str(log)).returncode == 3


def test_checkpoint_refuses_to_sign_next_to_a_forged_checkpoint(log: Path, key: Path) -> None:
    cps = log.with_name(log.name + ".checkpoints")
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    record = json.loads(cps.read_text())
    record["seq"] -= 1
    cps.write_text(json.dumps(record) + "\n")
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 3 and "signature does not verify" in proc.stdout


# -- lines off the chain the walk never reaches ---------------------------------------------------


def _audits(path: Path, n: int, host: str = "render07") -> list[bytes]:
    """A log of ``n`` asset audits written by the real writer; its lines."""
    AuditLog(path).append_many(
        [
            {"event": "asset.audited", "host": host, "stage": "comp", "asset": f"sh{i:03d}.exr"}
            for i in range(n)
        ]
    )
    return read(path)


def _forged_chain(path: Path, first_seq: int, before: bytes | None, n: int) -> list[bytes]:
    """``n`` forged events from ``first_seq`` on, chained to ``before`` (None: the log's
    start) as a writer would chain them."""
    forged: list[bytes] = []
    prev = GENESIS if before is None else _sha(before)
    for i in range(n):
        body = prepare_event(
            {"event": "asset.audited", "stage": "comp", "asset": "sh000.exr", "outcome": "pass"},
            str(path),
        )
        forged.append(
            b'{"schema":"clearance.event/1","seq":%d,"prev":"%s",%s'
            % (first_seq + i, prev.encode(), body)
        )
        prev = _sha(forged[-1])
    return forged


def test_events_replaced_under_a_checkpoint_by_forged_ones_are_tampering(
    tmp_path: Path, key: Path
) -> None:
    """Seq 2-3 replaced by forged events and one forged filler (seq 2-4 chained to line 1),
    then the original lines from seq 4 on: the original seq 4 goes back below the chain
    the walk follows, so it is off the chain, and the checkpoint does not vouch for what
    follows it. verify --key names it, and checkpoint refuses to sign."""
    log = tmp_path / "audit.jsonl"
    lines = _audits(log, 10)
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    cps = log.with_name(log.name + ".checkpoints")
    signed = cps.read_bytes()
    write(log, [lines[0], *_forged_chain(log, 2, lines[0], 3), *lines[3:]])
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3, proc.stdout
    assert f"INSERTED   {log}:5: line (seq 4) is not part of the chain" in proc.stdout
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 3 and "not signing" in proc.stderr
    assert cps.read_bytes() == signed


def test_a_rewritten_history_ending_in_copies_of_the_signed_lines_fails_the_checkpoint(
    tmp_path: Path, key: Path
) -> None:
    """The whole signed history rewritten (a consistent forged chain of seq 1-9), then
    verbatim copies of the original seq 9 and the checkpointed seq 10: the copies do not
    chain to the forged seq 9, so the checkpointed line is not the one the chain goes through."""
    log = tmp_path / "audit.jsonl"
    lines = _audits(log, 10)
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0
    write(log, [*_forged_chain(log, 1, None, 9), *lines[8:]])
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3, proc.stdout
    assert f"INSERTED   {log}:10: line (seq 9) is not part of the chain" in proc.stdout
    proc = clearance("checkpoint", str(log), "--key", str(key))
    assert proc.returncode == 3 and "not signing" in proc.stderr


def test_another_hosts_log_appended_to_a_log_is_inserted(tmp_path: Path) -> None:
    """``cat hostA.jsonl >> hostB.jsonl``: hostA's lines repeat seqs the chain has passed;
    none of them is on the chain, before or after the next writer chains to the last one."""
    host_a, host_b = tmp_path / "hostA.jsonl", tmp_path / "hostB.jsonl"
    _audits(host_a, 3, host="hostA")
    _audits(host_b, 6, host="hostB")
    with open(host_b, "ab") as fh:
        fh.write(host_a.read_bytes())
    proc = clearance("verify", str(host_b))
    assert proc.returncode == 3, proc.stdout
    assert "9 events (seq 1-6)" in proc.stdout
    for line, seq in ((7, 1), (8, 2), (9, 3)):
        assert f"INSERTED   {host_b}:{line}: line (seq {seq}) is not part" in proc.stdout
    AuditLog(host_b).append({"event": "run.started"})
    proc = clearance("verify", str(host_b))
    assert proc.returncode == 3 and f"INSERTED   {host_b}:10: line (seq 4)" in proc.stdout


def test_copies_of_earlier_lines_replayed_after_them_are_inserted(tmp_path: Path) -> None:
    """Copies of seq 9-10 right after seq 10: the line after them chains to the copy of
    seq 10 as well as to the original, but the copies are not on the chain."""
    log = tmp_path / "audit.jsonl"
    lines = _audits(log, 12)
    write(log, [*lines[:10], *lines[8:10], *lines[10:]])
    result = verify_log(log)
    assert [(b.kind, b.line, b.seq) for b in result.breaks] == [
        ("inserted", 11, 9),
        ("inserted", 12, 10),
    ]
    assert (result.first_seq, result.last_seq) == (1, 12)
    proc = clearance("verify", str(log))
    assert proc.returncode == 3 and "TAMPERED" in proc.stdout


def test_copies_of_later_lines_pasted_earlier_are_inserted_not_the_lines_between(
    tmp_path: Path, key: Path
) -> None:
    """Copies of seq 41-45 pasted after seq 20: the walk meets the copies first, but only the
    original lines chain from seq 20 to them. The copies are inserted; seq 21-45 are on the
    chain where they are (nothing deleted), and a checkpoint signed among them still holds."""
    log = tmp_path / "audit.jsonl"
    _audits(log, 30)
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0  # seq 30
    AuditLog(log).append_many([{"event": "asset.audited", "asset": f"x{i}"} for i in range(30)])
    assert clearance("checkpoint", str(log), "--key", str(key)).returncode == 0  # seq 60
    lines = read(log)
    write(log, [*lines[:20], *lines[40:45], *lines[20:]])
    result = verify_log(log)
    assert [(b.kind, b.line, b.seq) for b in result.breaks] == [
        ("inserted", line, seq) for line, seq in zip(range(21, 26), range(41, 46), strict=True)
    ]
    assert (result.first_seq, result.last_seq) == (1, 60)
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3, proc.stdout
    for line, seq in zip(range(21, 26), range(41, 46), strict=True):
        assert f"INSERTED   {log}:{line}: line (seq {seq}) is not part of the chain" in proc.stdout
    assert "DELETED" not in proc.stdout and "CHECKPOINT" not in proc.stdout
    assert proc.stdout.count("INSERTED") == 5
    # the next writer chains on after seq 60; the copies stay inserted
    AuditLog(log).append({"event": "run.started"})
    proc = clearance("verify", str(log), "--key", f"{key}.pub")
    assert proc.returncode == 3 and proc.stdout.count("INSERTED") == 5, proc.stdout
    assert "DELETED" not in proc.stdout


def test_lines_in_a_row_that_are_no_events_are_one_break(log: Path) -> None:
    """A block of bytes that are no events pasted into a log (a binary file's, a wrong file
    appended): one break for the lines in a row, with their range, not one per line (a file
    of a million such lines printed a million INSERTED lines); lines apart stay apart."""
    lines = read(log)
    junk = [b"not an event %d" % i for i in range(500)]
    write(log, lines[:5] + junk + lines[5:8] + [b"stray"] + lines[8:])
    result = verify_log(log)
    inserted = [b for b in result.breaks if b.kind == "inserted"]
    assert [(b.line, b.message) for b in inserted] == [
        (6, "lines 6-505 are not audit events and are not part of the chain"),
        (509, "line is not an audit event and is not part of the chain"),
    ]
    assert not result.intact


def test_verify_of_many_lines_that_are_no_events_holds_a_bounded_number_of_them(
    log: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lines that are no events (a render log pasted into the audit log, or given instead
    of it): each took 0.45 KB to the end of the walk, kept as a run of chained lines of its
    own (1,000,000 lines: 503 MB). Only a damaged region's lines are held now, and a region
    is bounded (here made small, so that a short paste spans many): the peak no longer grows
    with the lines, and what is reported is the same (one break per region's run)."""
    import tracemalloc

    import clearance.auditlog_verify as verify

    monkeypatch.setattr(verify, "_REGION_LIMIT", 500)
    events = read(log)

    def peak(lines: int) -> tuple[int, list[tuple[str, int | None, str]]]:
        junk = [
            b"render %d: frame %d done (%s)" % (i % 7, i, b"x" * (i % 40)) for i in range(lines)
        ]
        write(log, events[:5] + junk + events[5:])
        tracemalloc.start()
        try:
            result = verify_log(log)
            return tracemalloc.get_traced_memory()[1], [
                (b.kind, b.line, b.message) for b in result.breaks
            ]
        finally:
            tracemalloc.stop()

    small, breaks = peak(4_000)
    assert {b[0] for b in breaks} == {"inserted"} and len(breaks) > 4_000 // 500

    def covered(breaks: list[tuple[str, int | None, str]]) -> list[int]:
        lines: list[int] = []
        for _kind, line, message in breaks:
            assert "not an audit event" in message or "are not audit events" in message
            last = message.split()[1].split("-")[-1] if message.startswith("lines ") else line
            lines.extend(range(line or 0, int(last or 0) + 1))
        return lines

    assert covered(breaks) == list(range(6, 4_006))  # every pasted line, once, in order
    large, breaks = peak(40_000)
    assert covered(breaks) == list(range(6, 40_006))
    assert large < 2 * small, (small, large)  # ten times the lines: not ten times the memory


def test_verify_and_report_of_a_named_pipe_say_so_and_never_wait(tmp_path: Path) -> None:
    """A named pipe given as the log (a ``mkfifo`` a script left, a process substitution),
    or put where a rotated file is: ``open()`` waited for a writer for ever, and ``verify``
    and ``report`` hung. It is opened without blocking and refused, naming it: exit 2."""
    pipe = tmp_path / "audit.jsonl"
    os.mkfifo(pipe)
    for args in (("verify", str(pipe)), ("report", str(pipe), "-f", "json")):
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "clearance"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert (
            f"{pipe}: cannot read the audit log: it is a named pipe (FIFO), not a regular file"
            in proc.stderr
        ), args


def test_verify_with_a_key_or_checkpoints_that_are_a_named_pipe_says_so_and_never_waits(
    log: Path, key: Path
) -> None:
    """``verify --key`` and ``--checkpoints`` naming a named pipe (a process substitution,
    ``<(…)``, with nothing writing yet; a FIFO left where the file was): reading them waited
    for a writer for ever. Both are opened without blocking and refused, exit 2."""
    pipe = key.parent / "pipe"
    os.mkfifo(pipe)
    cases = {
        ("--key", str(pipe)): f"{pipe}: cannot read the key: it is a named pipe (FIFO)",
        ("--key", f"{key}.pub", "--checkpoints", str(pipe)): f"{pipe}: cannot read the "
        "checkpoints: it is a named pipe (FIFO), not a regular file",
    }
    for args, said in cases.items():
        proc = subprocess.run(
            [str(Path(sys.executable).parent / "clearance"), "verify", str(log), *args],
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert said in proc.stderr, (args, proc.stderr)
