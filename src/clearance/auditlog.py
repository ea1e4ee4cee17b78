"""The audit log: a hash-chained JSONL file that several processes may append to.

This module owns *writing* audit events. Reading them back is ``auditlog_verify`` (the
chain check and signed checkpoints) and ``report`` (supervisor reports).

Line format (contract ``clearance.event/1``)
--------------------------------------------
One JSON object per line, UTF-8, keys always in :data:`ENVELOPE` order and always present
(``null`` where a field does not apply)::

    {"schema":"clearance.event/1","seq":42,"prev":"<sha256 hex>","time":"2026-11-26T21:06:53.123Z",
     "event":"finding","run_id":"…","host":"…","stage":"comp","asset":"…","rule":"NFX-C1",
     "outcome":"approval","status":"open","approval":null,"message":"…","details":{}}

* ``seq`` starts at 1 and continues across rotated files.
* ``prev`` is the SHA-256 (hex) of the previous line's exact bytes **without** its trailing
  ``\\n``; the first line of a log chains to :data:`GENESIS`. The bytes hashed are the bytes on
  disk, never a re-serialisation.
* ``time`` is UTC with milliseconds and a ``Z``; the writer stamps it unless the event brings
  its own in exactly that format (anything else is an error); :func:`audit_batch` keeps the
  time of emission, not of the flush.
* Keys that are not part of the envelope are moved under ``details`` (a clash is an error).
* Serialisation is ``json.dumps(ensure_ascii=False, separators=(",", ":"), allow_nan=False)``
  with a ``default`` that refuses: an event that cannot be serialised raises
  :class:`AuditLogError`; it is never written as a ``repr()``.

Several writers
---------------
Every append takes an exclusive ``fcntl.flock`` on ``<log>.lock`` (a sidecar file, never the
log itself), re-reads the head (the last line of the newest file) *inside* the lock, writes,
flushes, ``os.fsync``\\s and releases. Nothing about the head is cached between two lock
acquisitions, so any number of processes (watchers per stage, farm jobs) keep one chain.
A ``threading.Lock`` serialises threads of one process (``flock`` does not, it is per open
file). Locks do not survive a ``fork``: an :class:`AuditLog` used in a child re-opens its
lock file. ``flock`` on NFS needs a lock daemon; prefer one log per host and let
``clearance report`` merge them. A writer kept waiting for another's lock says, after
:data:`LOCK_NOTICE_AFTER` seconds, which lock and who holds it (:func:`wait_for_lock`); the
wait is not a write, so a signal that raises ends it (:meth:`AuditLog._acquire`).

Rotation
--------
With ``max_bytes``, a writer that would grow the active file past ``max_bytes`` first renames
it, under the lock, to the next free number: ``audit.jsonl`` is always the active file and
the rotated ones are ``audit.jsonl.000001``, ``audit.jsonl.000002``, … (oldest first). The
first line of the new active file chains to the last line of the rotated one, ``seq``
continues, and the directory is fsynced whenever a file is created or renamed.

A crash in the middle of a line
-------------------------------
If the active file does not end with ``\\n`` the last write was torn (the writer died or the
disk filled). The next writer terminates the torn line with ``\\n`` and writes a
``log.recovered`` event that chains to the last intact line (``seq`` continues from it) and
names the torn bytes: ``details = {"torn": [{"offset", "bytes", "sha256"}], "file"}``.
``verify`` reports such a line as *recovered*, not as tampering. It names only what a crash
can have left: the last line, and before it the lines a writer that crashed while recovering
left (:func:`crash_left`); a line typed in before the torn one is not named (``verify``
reports it as inserted). (If the torn line turns out to be a complete event that only lost
its newline, the newline is added and the chain simply continues from it.) The newline and
the ``log.recovered`` event are one ``write()``; only a partial write or a power loss cuts it
right after the newline, and the next writer then recovers the line that newline ended, as
it does a torn line of NUL bytes (what a power loss leaves of a write that never reached the
disk). A complete last line that is none of these is not chained to: writers refuse to append
(:class:`NotAnEvent`), and ``verify`` reports it as edited (:func:`next_append` is the rule
both follow). No write is longer than :data:`MAX_EVENT_BYTES` (16 MiB; nor is an event), so
a crash leaves no more of a line: the end of the log is read back in linear time and never
past what crashes leave (a longer line is refused as well). A write that fails part-way
truncates the file back to where it was, so a full disk does not leave a torn line behind
when the file system lets us.

structlog wiring
----------------
Audit events are emitted through structlog, but never through the global configuration::

    log = AuditLog(".clearance/audit.jsonl")
    audit = make_audit_logger(log, run_id=run_id, host=socket.gethostname())
    audit.info("finding", stage="comp", asset="comp/sh010.####.exr", rule="NFX-C1",
               outcome="approval", status="open", approval=None, message="…",
               details={"remediation": "…"})

:func:`make_audit_logger` uses ``structlog.wrap_logger`` with its own processor chain and a
private wrapped logger (:class:`AuditSink`), so no ``structlog.configure`` call, level filter
or ``-v`` setting can drop or reshape an audit event. Every method name (``info``,
``warning``, ``msg``, …) writes the event; the level is not recorded. The call returns the
written envelope (``seq``, ``prev`` and ``time`` filled in).

Batching (scans): inside ``with audit_batch(audit):`` events are validated and serialised
when emitted, buffered, and written with **one** lock and **one** fsync (per 16 MiB) when the
block exits (also every ``max_events``, and also when the block raises, so nothing is lost).
Inside a batch the logger call returns ``None``. Batches nest; the outermost one flushes.
A batch belongs to the logger it was opened on; use it from one thread.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import fcntl
import hashlib
import json
import os
import re
import signal
import socket
import stat
import sys
import threading
import time as _time
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from hashlib import sha256
from pathlib import Path
from typing import Any

import structlog

from .model import printable

__all__ = [
    "ENVELOPE",
    "GENESIS",
    "MAX_EVENT_BYTES",
    "MAX_SEQ",
    "NOT_JSON",
    "SCHEMA",
    "AuditLog",
    "AuditLogError",
    "AuditSink",
    "EventTooLarge",
    "NotAnEvent",
    "audit_batch",
    "crash_left",
    "event_seq",
    "hold_signal",
    "left_by_crash",
    "LOCK_NOTICE_AFTER",
    "LockStillHeld",
    "LongLine",
    "lock_holder",
    "line_hash",
    "log_lines",
    "log_target",
    "make_audit_logger",
    "newer_format",
    "next_append",
    "parsed_event_seq",
    "prepare_event",
    "rotated_files",
    "rotated_head",
    "sink_of",
    "torn_tail",
    "torn_write",
    "utc_now",
    "not_written",
    "wait_for_lock",
    "waiting_for_lock",
]

GENESIS = "0" * 64
SCHEMA = "clearance.event/1"
ENVELOPE = (
    "schema",
    "seq",
    "prev",
    "time",
    "event",
    "run_id",
    "host",
    "stage",
    "asset",
    "rule",
    "outcome",
    "status",
    "approval",
    "message",
    "details",
)
_BODY_KEYS = ENVELOPE[3:]  # what the caller supplies; schema/seq/prev belong to the writer
_CALLER_KEYS = frozenset(ENVELOPE[4:])
_ENVELOPE_KEYS = frozenset(ENVELOPE)
_MIDDLE_KEYS = _BODY_KEYS[1:-1]  # between "time" and "details"
_SKIPPED_KEYS = _CALLER_KEYS | {"time", "schema", "seq", "prev"}
_ROTATED_RE = re.compile(r"\.(\d{6})$")
_TAIL_CHUNK = 8192
#: What ``json.loads`` raises for a line that is not JSON: ``ValueError`` (with
#: ``UnicodeDecodeError``, and a number of more than 4,300 digits) and ``RecursionError``
#: (arrays or objects nested deeper than the parser goes). Every reader of log lines catches
#: both: such a line is not an event, never a crash.
NOT_JSON = (ValueError, RecursionError)
#: The largest ``seq`` an event holds (19 digits, past any log's length): a line with a larger
#: one is not an event, and nothing computes with it (``int`` refuses to print a number of
#: more than 4,300 digits).
MAX_SEQ = 10**19 - 1
#: The most bytes one line of the log holds (its newline included), and one ``write()`` of a
#: writer: an event that would be longer is an error at the call site (no real one comes
#: near), and a batch is written (and fsynced) in parts of at most this size. So a crash or a
#: power loss leaves at most this many bytes of a line, and a reader never needs more to
#: read one back; a line that is longer is not an event, and not a crash's.
MAX_EVENT_BYTES = 16 * 2**20


class AuditLogError(Exception):
    """An audit event could not be written (unserialisable event, disk full, not writable).

    The message always names the file. Callers turn this into exit 2 / ``watch.error``.
    """


#: seconds a writer waits for another's lock before it says which lock and who holds it
LOCK_NOTICE_AFTER = 1.0


class LockStillHeld(AuditLogError):
    """A wait for the log's lock was interrupted (Ctrl-C, a signal), and a later write found
    the lock held still: the command is ending and does not wait again. Says what
    :meth:`AuditLog.not_written` says (this write's events included)."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log
        log.holder = lock_holder(log.lock_path)
        super().__init__(str(log.lock_path))

    def __str__(self) -> str:
        return self.log.not_written() or f"the audit log's lock {self.log.lock_path} is held"


def lock_holder(lock_path: Path) -> str:
    """Who holds the ``flock`` on ``lock_path``, in words: the process (its id and command
    line) as ``/proc/locks`` lists it, or that it is not known (not Linux; a process on
    another host, through a network share)."""
    try:
        st = os.stat(lock_path)
        with open("/proc/locks", encoding="ascii", errors="replace") as locks:
            table = locks.read()
    except OSError:
        return "another process (which one is not known here)"
    # "1: FLOCK  ADVISORY  WRITE 4136 08:01:1234567 0 EOF"; "1: -> FLOCK ..." is a waiter
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    rows = [line.split() for line in table.splitlines()]
    rows = [f for f in rows if len(f) >= 6 and f[1] == "FLOCK" and f[4].isdigit()]
    found = [f for f in rows if f[5] == device]
    if not found:  # (btrfs: stat's device is the subvolume's, /proc/locks the file system's)
        found = [f for f in rows if f[5].rsplit(":", 1)[-1] == str(st.st_ino)]
    holders: list[str] = []
    for fields in found:
        pid = int(fields[4])
        if pid == os.getpid():
            holders.append(f"this process ({pid}: another writer in it)")
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                words = cmdline.read(4096).rstrip(b"\0").split(b"\0")
            command = printable(" ".join(" ".join(os.fsdecode(w) for w in words).split()))
        except OSError:
            command = ""
        if len(command) > 120:
            command = command[:117] + "..."
        holders.append(f"process {pid}" + (f" ({command})" if command else ""))
    if not holders:
        return (
            "another process (/proc/locks names none on this host: one on another host, "
            "if the log is on a network share)"
        )
    return ", ".join(holders)


def wait_for_lock(
    fd: int, kind: int, lock_path: Path, on_wait: Callable[[str], None] | None = None
) -> None:
    """``flock(fd, kind)``, waiting for whoever holds a lock that excludes it; after
    :data:`LOCK_NOTICE_AFTER` seconds ``on_wait`` (default: stderr) is told which lock this
    process waits for and who holds it. A signal whose handler raises ends the wait."""
    try:
        fcntl.flock(fd, kind | fcntl.LOCK_NB)
        return
    except BlockingIOError:
        pass
    started, delay = _time.monotonic(), 0.001
    while _time.monotonic() - started < LOCK_NOTICE_AFTER:
        _time.sleep(delay)
        delay = min(2 * delay, 0.05)
        try:
            fcntl.flock(fd, kind | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            continue
    with contextlib.suppress(Exception):
        (on_wait or _say_on_stderr)(
            f"waiting for the audit log's lock {lock_path}, held by "
            f"{lock_holder(lock_path)}" + _stop_hint()
        )
    fcntl.flock(fd, kind)


def _stop_hint() -> str:
    """`` (Ctrl-C to stop waiting)`` where Ctrl-C would end a wait for the lock: in the main
    thread, under Python's own handler or the command line's (not a watcher's, which
    drains, nor a process that ignores it: a watcher's audit processes)."""
    if threading.current_thread() is not threading.main_thread():
        return ""
    handler = signal.getsignal(signal.SIGINT)
    if handler is signal.default_int_handler or (
        getattr(handler, "__module__", None) == "clearance.cli._common"
    ):
        return " (Ctrl-C to stop waiting)"
    return ""


def _say_on_stderr(message: str) -> None:
    print(f"clearance: {message}", file=sys.stderr, flush=True)


class EventTooLarge(AuditLogError):
    """An event would be a line longer than :data:`MAX_EVENT_BYTES`; ``size``: its bytes.
    Nothing of it was written: :func:`cut_to_size` makes the event that may be written."""

    def __init__(self, message: str, size: int) -> None:
        super().__init__(message)
        self.size = size


class NotAnEvent(AuditLogError):
    """The log ends with a line that is neither an audit event nor one a crash left: no
    writer appends to it (``verify`` reports the line as edited). ``file`` and ``offset``:
    where that line starts."""

    def __init__(self, message: str, file: Path, offset: int) -> None:
        super().__init__(message)
        self.file = file
        self.offset = offset
        #: the line is an event, but does not chain to the event before it
        self.unchained = False


def utc_now() -> str:
    """Now, UTC, ISO 8601 with milliseconds and ``Z`` (``2026-11-26T21:06:53.123Z``)."""
    now = _time.time()
    seconds = int(now)
    millis = int((now - seconds) * 1000)
    last = _SECOND[0]  # one tuple, swapped whole: safe across threads
    if last[0] != seconds:  # formatted once per second: every event asks
        last = (seconds, _time.strftime("%Y-%m-%dT%H:%M:%S", _time.gmtime(seconds)))
        _SECOND[0] = last
    return f"{last[1]}.{millis:03d}Z"


_SECOND: list[tuple[int, str]] = [(-1, "")]  # the last second formatted by utc_now()


def line_hash(line: bytes) -> str:
    """The chain hash of one line: SHA-256 hex of its bytes without the trailing newline."""
    if line.endswith(b"\n"):
        line = line[:-1]
    return hashlib.sha256(line).hexdigest()


class LongLine:
    """A line of a log longer than any event (:data:`MAX_EVENT_BYTES`), as :func:`log_lines`
    gives it: never the whole line, which no reader needs (it is no event, and no crash's),
    and which would hold any amount of memory: its ``size`` in bytes (its newline included,
    as ``len`` of a line read whole), whether a newline ``ended`` it, the ``sha256`` (hex) of
    its bytes without the newline, and its first bytes (``head``, 4 KiB)."""

    __slots__ = ("ended", "head", "sha256", "size")

    def __init__(self, size: int, ended: bool, sha256: str, head: bytes) -> None:
        self.size = size
        self.ended = ended
        self.sha256 = sha256
        self.head = head


def log_lines(fh: Any) -> Iterator[bytes | LongLine]:
    """The lines of the open (binary, buffered) log file ``fh`` from where it is, as
    ``for line in fh`` gives them, but in bounded memory: a line longer than any event is a
    :class:`LongLine`, read through in parts of 1 MiB. Readers (``verify``, ``report``, the
    watcher) read a log someone may have damaged, with a line of gigabytes and no newline."""
    limit = MAX_EVENT_BYTES + 1  # an event's line, its newline included
    while raw := fh.readline(limit):
        if len(raw) < limit or raw.endswith(b"\n"):
            yield raw
            continue
        digest = hashlib.sha256(raw)
        size, ended = len(raw), False
        while part := fh.readline(2**20):
            size += len(part)
            if part.endswith(b"\n"):
                digest.update(part[:-1])
                ended = True
                break
            digest.update(part)
        yield LongLine(size, ended, digest.hexdigest(), raw[:4096])


def log_target(path: str | os.PathLike[str]) -> Path:
    """The file the log at ``path`` is: ``path``, or where it leads when it is a symbolic link
    to a file (``.clearance/audit.jsonl -> /shows/salt/audit.jsonl``). Writers lock, rotate
    and read the head there, and readers take its lock and its rotated files, so a log
    written through a link and by its own name is one log with one lock (two lock files
    next to the two names let two writers chain to the same line). A link whose file is
    missing from a folder that is there (another writer rotating the log: renamed away, not
    yet made again) leads there too. A link to nothing in a folder that is not there (a
    share not mounted) is left as it is: writing through it fails, naming it."""
    p = Path(path)
    if os.path.islink(p):
        target = Path(os.path.realpath(p))
        if os.path.isfile(target) or (  # not a device (/dev/full)
            not os.path.lexists(target) and os.path.isdir(target.parent)
        ):
            return target
    return p


def rotated_files(path: str | os.PathLike[str]) -> list[Path]:
    """The rotated files of the log at ``path``, oldest first (``audit.jsonl.000001`` …)."""
    p = Path(path)
    try:
        names = os.listdir(p.parent if str(p.parent) else ".")
    except FileNotFoundError:
        return []
    prefix = p.name + "."
    found = []
    for name in names:
        if name.startswith(prefix) and _ROTATED_RE.search(name) and len(name) == len(prefix) + 6:
            found.append((int(name[-6:]), p.with_name(name)))
    return [f for _, f in sorted(found)]


def _refuse(obj: Any) -> Any:
    raise TypeError(f"{type(obj).__name__} is not JSON serialisable: {obj!r:.80}")


_ENCODER = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_refuse
)
_dumps = _ENCODER.encode
# ASCII digits only (``\d`` is any Unicode digit), and nothing after the Z (``$`` allows a "\n")
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z")


class _Prepared:
    """An event validated and serialised up to (not including) ``seq`` and ``prev``."""

    __slots__ = ("body", "tail")

    def __init__(self, body: dict[str, Any] | None, tail: bytes) -> None:
        self.body = body  # None: parsed from ``tail`` when a record is asked for
        self.tail = tail  # b'"time":…,"details":{…}}'

    def render(self, seq: int, prev: str) -> bytes:
        return b'{"schema":"%s","seq":%d,"prev":"%s",%s' % (
            SCHEMA.encode(),
            seq,
            prev.encode(),
            self.tail,
        )

    def record(self, seq: int, prev: str) -> dict[str, Any]:
        body = self.body if self.body is not None else json.loads(b"{" + self.tail)
        return {"schema": SCHEMA, "seq": seq, "prev": prev, **body}


#: the bytes a line holds besides its prepared tail, at most: the envelope's head and newline
_ENVELOPE_BYTES = len(_Prepared(None, b"").render(MAX_SEQ, GENESIS)) + 1


def _check_size(tail: bytes, name: object, where: str) -> None:
    if len(tail) + _ENVELOPE_BYTES > MAX_EVENT_BYTES:
        raise EventTooLarge(
            f"{where}: event {name!r} is {len(tail) + _ENVELOPE_BYTES} bytes as a line of the "
            f"log; an audit event is at most {MAX_EVENT_BYTES} bytes (put large data in a file "
            "and name it in the event)",
            len(tail) + _ENVELOPE_BYTES,
        )


#: what :func:`cut_to_size` keeps of a long text, in characters
_KEPT_CHARS = 4096
#: a value longer than this as JSON is replaced by :func:`cut_to_size`
_CUT_BYTES = 64 * 1024


def cut_to_size(fields: Mapping[str, Any], size: int) -> dict[str, Any]:
    """The event ``fields`` that :class:`EventTooLarge` refused (``size`` bytes), shortened to
    be written: each long text keeps its first 4,096 characters and says how many more it
    had, each other long value (a plugin's evidence) is replaced by a note giving its size,
    and ``details.oversize`` gives the size the event had. The event's name, outcome, rule,
    status and asset are kept: one event too large to log is noted, never the end of a run.
    """
    cut = {key: _cut(value, size) for key, value in fields.items() if key != "details"}
    details = fields.get("details")
    if isinstance(details, Mapping):
        kept = {key: _cut(value, size) for key, value in details.items()}
        if len(_dumps(kept)) > MAX_EVENT_BYTES // 2:  # a great many values, none of them long
            kept = {}
        cut["details"] = {**kept, "oversize": {"bytes": size, "limit": MAX_EVENT_BYTES}}
    return cut


def _cut(value: Any, size: int) -> Any:
    if isinstance(value, enum.Enum) or value is None or isinstance(value, (bool, int, float)):
        return value
    length = len(value) if isinstance(value, str) else len(_dumps(value))
    if length <= _CUT_BYTES:
        return value
    note = f"not written: the event was {size} bytes, over the audit log's {MAX_EVENT_BYTES}"
    if isinstance(value, str):
        return f"{value[:_KEPT_CHARS]} … ({length - _KEPT_CHARS} more characters {note})"
    return {"omitted_bytes": length, "note": f"{type(value).__name__} of {length} bytes {note}"}


def prepare_event(event: Mapping[str, Any], where: str) -> bytes:
    """``event`` validated and serialised as the log will hold it, less ``schema``, ``seq``
    and ``prev`` (:meth:`AuditSink.write_prepared` adds them when it is written).

    ``scan --jobs`` workers serialise their events with this, in parallel; the parent only
    chains and writes them. The event's ``time`` is when it was prepared. Raises
    :class:`AuditLogError` (naming ``where``, the log's path) as emitting it would.
    """
    return _prepare(event, where).tail


def _prepare(event: Mapping[str, Any], where: str) -> _Prepared:
    """Build the envelope body of ``event`` and serialise it, or raise AuditLogError."""
    if type(event) is not dict and not isinstance(event, Mapping):  # dict: no ABC check
        raise AuditLogError(
            f"{where}: an audit event must be a mapping, not {type(event).__name__}"
        )
    name = event.get("event")
    if not isinstance(name, str) or not name:
        raise AuditLogError(f"{where}: an audit event needs an 'event' name (got {name!r})")
    details_in = event.get("details")
    if details_in is None:
        details: dict[str, Any] = {}
    elif type(details_in) is dict or isinstance(details_in, Mapping):
        details = dict(details_in)
    else:
        raise AuditLogError(
            f"{where}: event {name!r}: 'details' must be a mapping, not {type(details_in).__name__}"
        )
    for key, value in event.items():
        if key in _SKIPPED_KEYS:
            continue  # envelope fields; schema/seq/prev are the writer's (a caller's is ignored)
        if key in details:
            raise AuditLogError(f"{where}: event {name!r}: field {key!r} given twice")
        details[key] = value
    time = event.get("time")
    if time is None:
        time = utc_now()
    elif not isinstance(time, str) or not _TIME_RE.fullmatch(time):
        raise AuditLogError(
            f"{where}: event {name!r}: time {time!r} is not UTC ISO 8601 with milliseconds "
            "(2026-11-26T21:06:53.123Z)"
        )
    body: dict[str, Any] = {"time": time}
    get = event.get
    for key in _MIDDLE_KEYS:
        value = get(key)
        # Enums such as Outcome are written by value (None and plain text are neither).
        if value is not None and type(value) is not str and isinstance(value, enum.Enum):
            value = value.value
        body[key] = value
    body["details"] = details
    try:
        text = _dumps(body)
        try:
            tail = text[1:].encode("utf-8")
        except UnicodeEncodeError:
            # a lone surrogate (a file name that is not UTF-8, a JSON "\ud800"): written as
            # an escape, as the asset's name is (clearance.model.printable)
            body = _printable(body)
            tail = _dumps(body)[1:].encode("utf-8")
    except (TypeError, ValueError, RecursionError) as exc:  # UnicodeEncodeError: a ValueError
        raise AuditLogError(f"{where}: event {name!r} cannot be serialised: {exc}") from None
    _check_size(tail, name, where)
    return _Prepared(body, tail)


def _printable(value: Any) -> Any:
    if isinstance(value, str):
        return printable(value)
    if isinstance(value, Mapping):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_printable(v) for v in value]
    return value


class AuditLog:
    """Appends events to the hash-chained log at ``path`` (created with its folder if needed).

    ``max_bytes``: rotate the active file before it would grow past this size (``None``: never).
    Safe to share between threads, and between processes that each open their own
    ``AuditLog`` on the same path.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_bytes: int | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = log_target(path)
        self.lock_path = self.path.with_name(self.path.name + ".lock")
        self.max_bytes = max_bytes
        #: told, once a writer has waited :data:`LOCK_NOTICE_AFTER` seconds for the lock,
        #: which lock it waits for and who holds it (default: said on stderr)
        self.on_wait = on_wait if on_wait is not None else _say_on_stderr
        #: events whose write never began: its wait for the lock was interrupted (a signal,
        #: Ctrl-C), or the lock could not be had. The next write that has the lock writes
        #: them first, in order (:attr:`unwritten`, :meth:`not_written`).
        self._pending: list[_Prepared] = []
        #: who held the lock when a wait for it was interrupted (:func:`lock_holder`)
        self.holder: str | None = None
        self._stopped_waiting = False  # a wait for the lock was interrupted: never again
        self._thread_lock = threading.Lock()
        self._lock_fd: int | None = None
        self._pid = os.getpid()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise AuditLogError(
                f"cannot create the audit log folder {self.path.parent}: {exc.strerror or exc}"
            ) from None
        self._open_lock()

    # -- public API ---------------------------------------------------------------------------

    def append(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """Append one event (lock, read head, write, fsync, unlock); returns the written record."""
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Append ``events`` in order under one lock with one fsync; returns the written records.

        An unserialisable event fails the whole batch before anything is written. An I/O
        failure raises :class:`AuditLogError`; what was written before it (with rotation, an
        earlier part of the batch) is complete and chained, never a torn line.
        """
        prepared = [_prepare(e, str(self.path)) for e in events]
        return self._write(prepared)

    @property
    def unwritten(self) -> int:
        """How many events this log was given and has not written (see ``_pending``)."""
        return len(self._pending)

    def not_written(self) -> str | None:
        """What this log was given and did not write, and why, for the user (None: all of
        it is written)."""
        count = len(self._pending)
        if not count:
            return None
        why = (
            f"the wait for its lock {self.lock_path} was interrupted ({self.holder} held it)"
            if self._stopped_waiting
            else f"its lock {self.lock_path} could not be had"
        )
        return (
            f"{count} event{'' if count == 1 else 's'} of this run "
            f"{'was' if count == 1 else 'were'} not written to {self.path}: {why}"
        )

    def close(self) -> None:
        """Release the lock file descriptor (the log needs no other cleanup: every append is durable)."""
        if self._lock_fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"AuditLog({str(self.path)!r}, max_bytes={self.max_bytes!r})"

    # -- the locked write -----------------------------------------------------------------------

    def _open_lock(self) -> None:
        try:
            self._lock_fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o640)
        except OSError as exc:
            raise AuditLogError(
                f"cannot open the audit log lock file {self.lock_path}: {exc.strerror or exc}"
            ) from None
        self._pid = os.getpid()

    def _lock_is_current(self) -> bool:
        """The open lock file is the one at :attr:`lock_path` (not deleted, not replaced)."""
        assert self._lock_fd is not None
        try:
            held, named = os.fstat(self._lock_fd), os.stat(self.lock_path)
        except OSError:
            return False
        return (held.st_dev, held.st_ino) == (named.st_dev, named.st_ino)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._thread_lock:
            if self._pid != os.getpid() or self._lock_fd is None:
                self._lock_fd = None  # the parent's descriptor shares the parent's lock
                self._open_lock()
            for attempt in range(8):  # (a file system whose inode numbers vary: go on)
                assert self._lock_fd is not None
                self._acquire(self._lock_fd)
                if attempt == 7 or self._lock_is_current():
                    break
                # The lock file was deleted or replaced since it was opened (a clean-up of
                # stale *.lock files): writers that came since lock the file now at its
                # name, and a lock on the old one keeps none of them out.
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)  # (a forked child may share it)
                os.close(self._lock_fd)
                self._lock_fd = None
                self._open_lock()
            locked = self._lock_fd
            assert locked is not None
            try:
                yield
            finally:
                fcntl.flock(locked, fcntl.LOCK_UN)

    def _acquire(self, fd: int) -> None:
        """Take the lock on ``fd``, waiting for another writer's as long as it holds it.

        After :data:`LOCK_NOTICE_AFTER` seconds, :attr:`on_wait` is told which lock this
        writer waits for and who holds it. The wait is not a write: a signal whose handler
        raises (Ctrl-C, the command line's SIGTERM) ends it at once, and nothing was taken
        from a buffer or written. This log then never waits again (the command is ending):
        a later write takes the lock if it is free, else raises :class:`LockStillHeld`.
        """
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            pass
        except OSError as exc:
            raise AuditLogError(
                f"cannot lock the audit log {self.lock_path}: {exc.strerror or exc}"
            ) from None
        if self._stopped_waiting:
            raise LockStillHeld(self)
        _writing.waiting = True
        try:
            wait_for_lock(fd, fcntl.LOCK_EX, self.lock_path, self.on_wait)
        except OSError as exc:
            raise AuditLogError(
                f"cannot lock the audit log {self.lock_path}: {exc.strerror or exc}"
            ) from None
        except BaseException:  # a signal's handler raised: the command is ending
            self._stopped_waiting = True
            with contextlib.suppress(Exception):
                self.holder = lock_holder(self.lock_path)
            _INTERRUPTED.append(self)
            raise
        finally:
            _writing.waiting = False

    def _write(
        self,
        prepared: list[_Prepared],
        *,
        records: bool = True,
        take: Callable[[], None] | None = None,
    ) -> list[dict[str, Any]]:
        """Write ``prepared`` under the lock; the written records are built only if asked.

        The lock is waited for before anything is under way (a signal ends the wait);
        from when it is held, signals are held until the write is complete (:func:`hold_signal`)
        and ``take`` is called first (a batch takes its events from its buffer).
        """
        if not prepared:
            return []
        begun = False
        try:
            with self._locked(), _signals_held():
                begun = True
                if take is not None:
                    take()
                pending, self._pending = self._pending, []
                if not pending:
                    return self._write_locked(prepared, records)
                return self._write_locked(pending + prepared, records)[len(pending) :]
        except BaseException:
            if not begun:  # never taken, nothing written: the next write that can does
                self._pending.extend(prepared)
            raise

    def _write_locked(self, prepared: list[_Prepared], records: bool) -> list[dict[str, Any]]:
        written: list[dict[str, Any]] = []
        fd = self._open_active()
        try:
            seq, prev, prefix, recovered = _read_head(self.path)
            if seq + (recovered is not None) + len(prepared) > MAX_SEQ:
                # a longer seq is no event's: every later writer would refuse the log
                raise AuditLogError(
                    f"{self.path}: cannot append {len(prepared)} event(s) after seq {seq}: "
                    f"no event has a seq past {MAX_SEQ} (19 digits); start a new audit log"
                )
            pending: list[bytes] = [prefix] if prefix else []
            size = os.fstat(fd).st_size + len(prefix)
            pending_size = len(prefix)  # one write holds at most MAX_EVENT_BYTES
            if recovered is not None:
                seq += 1
                line = recovered.render(seq, prev)
                pending.append(line + b"\n")
                size += len(line) + 1
                pending_size += len(line) + 1
                prev = line_hash(line)  # not returned: the caller did not ask for it
            for item in prepared:
                seq += 1
                line = item.render(seq, prev)
                chunk = line + b"\n"
                rotate = (
                    self.max_bytes is not None and size > 0 and size + len(chunk) > self.max_bytes
                )
                if rotate or pending_size + len(chunk) > MAX_EVENT_BYTES:
                    self._append_bytes(fd, b"".join(pending))
                    pending, pending_size = [], 0
                if rotate:
                    os.close(fd)
                    fd = -1  # nothing to close if the rotation fails
                    fd = self._rotate()
                    size = 0
                pending.append(chunk)
                size += len(chunk)
                pending_size += len(chunk)
                if records:
                    written.append(item.record(seq, prev))
                prev = sha256(line).hexdigest()  # line_hash(), without the newline check
            self._append_bytes(fd, b"".join(pending))
        finally:
            if fd >= 0:
                os.close(fd)
        return written

    def _open_active(self) -> int:
        created = False
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        try:
            try:
                fd = os.open(self.path, flags | os.O_CREAT | os.O_EXCL, 0o640)
                created = True
            except FileExistsError:
                # without blocking: a named pipe where the log is would make open() wait for
                # a reader for ever, under the lock and with SIGINT/SIGTERM held (no reader:
                # ENXIO); it is refused below
                fd = os.open(self.path, flags | os.O_NONBLOCK)
                if stat.S_ISFIFO(os.fstat(fd).st_mode):
                    os.close(fd)
                    raise OSError(
                        errno.EINVAL, "it is a named pipe (FIFO), not a regular file"
                    ) from None
                os.set_blocking(fd, True)
        except OSError as exc:
            if exc.errno == errno.ENXIO and stat.S_ISFIFO(_mode(self.path)):
                exc = OSError(errno.EINVAL, "it is a named pipe (FIFO), not a regular file")
            raise AuditLogError(
                f"cannot open the audit log {self.path} for writing: {exc.strerror or exc}"
            ) from None
        if created:
            self._fsync_dir()
        return fd

    def _rotate(self) -> int:
        """Rename the active file to the next number; returns a descriptor on a new active file."""
        existing = rotated_files(self.path)
        number = int(existing[-1].name[-6:]) + 1 if existing else 1
        target = self.path.with_name(f"{self.path.name}.{number:06d}")
        try:
            os.rename(self.path, target)
        except OSError as exc:
            raise AuditLogError(
                f"cannot rotate the audit log {self.path} to {target.name}: {exc.strerror or exc}"
            ) from None
        self._fsync_dir()
        return self._open_active()

    def _fsync_dir(self) -> None:
        try:
            dfd = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except OSError as exc:
            raise AuditLogError(
                f"cannot open the folder of the audit log {self.path}: {exc.strerror or exc}"
            ) from None
        try:
            os.fsync(dfd)
        except OSError as exc:
            if exc.errno not in (errno.EINVAL, errno.EROFS):  # some file systems refuse dir fsync
                raise AuditLogError(
                    f"cannot sync the folder of the audit log {self.path}: {exc.strerror or exc}"
                ) from None
        finally:
            os.close(dfd)

    def _append_bytes(self, fd: int, data: bytes) -> None:
        if not data:
            return
        start = os.fstat(fd).st_size
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        except OSError as exc:
            # Leave no torn line behind if the file system lets us take it back.
            with contextlib.suppress(OSError):
                if os.fstat(fd).st_size > start:
                    os.ftruncate(fd, start)
            raise AuditLogError(
                f"cannot write the audit log {self.path}: {exc.strerror or exc}"
            ) from None


def _mode(path: Path) -> int:
    """The ``st_mode`` of ``path`` (0 if it cannot be had), for an error message."""
    try:
        return os.stat(path).st_mode
    except OSError:
        return 0


# -- signals during a write ---------------------------------------------------------------------

_writing = threading.local()  # .depth: writes under way in this thread; .held: signals held


def hold_signal(signum: int) -> bool:
    """For a SIGINT/SIGTERM handler that raises (the command line's): True if this thread is
    in the middle of writing the audit log; the signal is then held and raised again as soon
    as the write is complete, so an interruption never leaves a batch half written or taken
    from its buffer and lost. False: no write is under way, act on the signal now.

    Python runs signal handlers in the main thread, between two statements of whatever it was
    doing; the writes of other threads are not interrupted by them.
    """
    if not getattr(_writing, "depth", 0):
        return False
    _writing.held.append(signum)
    return True


#: the logs whose wait for the lock was interrupted in this process (the command line says
#: what each did not write: :func:`not_written`)
_INTERRUPTED: list[AuditLog] = []


def not_written() -> list[str]:
    """What each audit log whose wait for its lock was interrupted in this process did not
    write, and why (:meth:`AuditLog.not_written`)."""
    return [said for log in dict.fromkeys(_INTERRUPTED) if (said := log.not_written())]


def waiting_for_lock() -> bool:
    """True while this thread waits for another process's lock on an audit log (nothing is
    under way: a signal may end the wait, :meth:`AuditLog._acquire`)."""
    return bool(getattr(_writing, "waiting", False))


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    """A write: signals that arrive meanwhile (:func:`hold_signal`) are raised after it."""
    depth = getattr(_writing, "depth", 0)
    if not depth:
        _writing.held = []
    _writing.depth = depth + 1
    try:
        yield
    finally:
        _writing.depth = depth
        if not depth and _writing.held:
            held, _writing.held = _writing.held, []
            for signum in dict.fromkeys(held):
                signal.raise_signal(signum)  # the handler runs now, outside the write


# -- reading the head (inside the lock) --------------------------------------------------------


_SHA256_HEX = re.compile(r"[0-9a-f]{64}")  # GENESIS is one too


def event_seq(line: bytes) -> int | None:
    """The ``seq`` of ``line`` (without its newline) if it is a complete event, else None.

    Only what a writer writes is an event: the whole envelope, ``schema``
    ``clearance.event/1``, a ``seq`` from 1 to :data:`MAX_SEQ` and a SHA-256 ``prev``. A line
    that merely has ``seq`` and ``prev`` (typed in, pasted from elsewhere) is not chained to.
    """
    try:
        obj = json.loads(line)
    except NOT_JSON:
        return None
    return parsed_event_seq(obj)


def parsed_event_seq(obj: Any, expected_prev: str | None = None) -> int | None:
    """:func:`event_seq` of a line already parsed (``report`` reads each line once). A
    ``prev`` equal to ``expected_prev`` (the hash of the line before, a reader that chains
    them has it) is a SHA-256 without matching it again."""
    if not isinstance(obj, dict) or obj.get("schema") != SCHEMA or not obj.keys() >= _ENVELOPE_KEYS:
        return None
    seq, prev = obj["seq"], obj["prev"]
    if not isinstance(seq, int) or isinstance(seq, bool) or not 1 <= seq <= MAX_SEQ:
        return None
    if prev != expected_prev and (not isinstance(prev, str) or not _SHA256_HEX.fullmatch(prev)):
        return None
    if not isinstance(obj["event"], str) or not isinstance(obj["details"], dict):
        return None
    return seq


_STAMP_WIDTH = len("2026-11-26T21:06:53.123Z")
_STAMP_BYTES = b"0123456789-:.TZ"


def torn_write(line: bytes, seq: int, prev: str, event: str | None = None) -> bool:
    """True if ``line`` can be what a crash left of the line a writer was writing as event
    ``seq`` chained to ``prev`` (with ``event``: an event of that name), judged on its first
    bytes: they must be the start of that envelope (``schema``, ``seq``, ``prev``, ``time``
    and ``event``, in that order).

    A writer appends after the last event of the log, so every line crashes leave before a
    writer recovers them starts like an event chained to that one (``seq`` + 1). The last line
    is the exception: a writer takes it as torn whatever it holds. A crash leaves at least one
    byte; what a power loss did not let reach the disk reads as NUL bytes, which are ignored.
    """
    if not line:
        return False
    line = line.rstrip(b"\0")
    head = b'{"schema":"%s","seq":%d,"prev":"%s","time":"' % (SCHEMA.encode(), seq, prev.encode())
    if line[: len(head)] != head[: len(line)]:
        return False
    stamp = line[len(head) : len(head) + _STAMP_WIDTH]
    if stamp.translate(None, _STAMP_BYTES):
        return False
    name = b'","event":"' + (json.dumps(event).encode()[1:] + b"," if event is not None else b"")
    rest = line[len(head) + _STAMP_WIDTH :]
    return rest[: len(name)] == name[: len(rest)]


def _line_number(rfd: int, offset: int) -> int:
    """The 1-based number of the line starting at byte ``offset`` (for error messages only)."""
    count, pos = 1, 0
    while pos < offset:
        chunk = os.pread(rfd, min(1 << 20, offset - pos), pos)
        if not chunk:
            break
        count += chunk.count(b"\n")
        pos += len(chunk)
    return count


def _last_lines(rfd: int, size: int, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Yield ``(offset, raw_line)`` from the end of the file backwards, reading each byte once.

    The first line yielded may lack its ``\\n`` (a torn write); the others end with one. A line
    of more than ``limit`` bytes (its newline included) is not read whole: ``(offset, None)``.
    """
    end = size  # exclusive end of the next line (its newline included)
    left = b""  # the bytes just before ``end`` read already (``[end - len(left), end)``)
    while end > 0:
        parts = [left]  # what is read of the line, its last part first
        got = len(left)
        # the line starts after the last newline before its own (its last byte)
        idx = left.rfind(b"\n", 0, max(got - 1, 0))
        while idx < 0 and got < end and got <= limit:
            step = min(max(_TAIL_CHUNK, got), end - got, limit + 1 - got)  # doubling: linear
            chunk = os.pread(rfd, step, end - got - step)
            got += step
            parts.append(chunk)
            idx = chunk.rfind(b"\n", 0, step - 1 if got == step else step)
        if idx >= 0:
            start = end - got + idx + 1
            left, parts[-1] = parts[-1][: idx + 1], parts[-1][idx + 1 :]
        elif got >= end:
            start, left = 0, b""
        else:  # longer than ``limit``: where it starts is all that is asked
            start, left = _line_start(rfd, end - got), b""
        if end - start > limit:
            yield start, None
        else:
            yield start, b"".join(reversed(parts))
        end = start


def _line_start(rfd: int, pos: int) -> int:
    """The offset of the line that holds the byte before ``pos`` (scanned back, not kept)."""
    while pos > 0:
        step = min(1 << 20, pos)
        idx = os.pread(rfd, step, pos - step).rfind(b"\n")
        if idx >= 0:
            return pos - step + idx + 1
        pos -= step
    return 0


_MAX_TORN = 64
#: the most bytes a crash leaves after the last event: one write's worth (MAX_EVENT_BYTES), and
#: one more for each writer that crashed in turn while recovering it; four writes' worth is
#: more than crashes leave
_TAIL_BYTES = 4 * MAX_EVENT_BYTES


def _read_head(path: Path) -> tuple[int, str, bytes, _Prepared | None]:
    """Return ``(seq, prev_hash, prefix, recovered)`` for the next append; call under the lock.

    ``prefix`` is ``b"\\n"`` when the file does not end with a newline (it terminates the
    torn line); ``recovered`` is the ``log.recovered`` event to write first, or None.
    """
    try:
        rfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise AuditLogError(f"cannot read the audit log {path}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(rfd)
        size = st.st_size if stat.S_ISREG(st.st_mode) else 0
        seq, prev, ended, torn = next_append(rfd, size, path, lambda: _head_of_rotated(path))
        prefix = b"" if ended else b"\n"
        return seq, prev, prefix, _recovery(torn, path) if torn else None
    finally:
        os.close(rfd)


def next_append(
    rfd: int, size: int, path: Path, earlier: Callable[[], tuple[int, str]]
) -> tuple[int, str, bool, list[tuple[int, bytes]]]:
    """What the next writer finds at the end of the log's active file ``path``, open as
    ``rfd`` (its first ``size`` bytes): ``(seq, prev, ended, torn)``.

    ``seq`` and ``prev``: the ``seq`` and hash of the last event, which the next append
    chains to (``earlier()`` when the file holds none: the newest rotated file's). ``ended``:
    the file ends with a newline (if not, the writer writes one first). ``torn``: the lines
    after that event that a crash left (:func:`crash_left`), which the writer names in a
    ``log.recovered`` event. Raises :class:`NotAnEvent`, naming the file and line, when the
    last line is complete but neither an event nor a line a crash left, or when more follows
    the last event than crashes leave (:func:`torn_tail`): no writer appends to such a log.
    """
    lines, head = torn_tail(rfd, size, path)
    ended = not size or os.pread(rfd, 1, size - 1) == b"\n"
    seq, prev = head if head is not None else earlier()
    torn = crash_left(lines, seq + 1, prev, ended=ended)
    if torn is None:
        offset = lines[0][0]
        raise NotAnEvent(
            f"{path}:{_line_number(rfd, offset)}: the last line of the audit log (byte {offset}) "
            f"is not an audit event{newer_format(lines[0][1])}; run `clearance verify {path}` "
            "before writing to it again",
            path,
            offset,
        )
    return seq, prev, ended, torn


def torn_tail(
    rfd: int, size: int, path: Path
) -> tuple[list[tuple[int, bytes]], tuple[int, str] | None]:
    """Read the log file ``path``, open as ``rfd`` (its first ``size`` bytes), back from its
    end to its last event: ``(lines, head)``.

    ``lines``: ``(offset, line)`` of the lines after that event, the last line of the file
    first, each without its newline. ``head``: that event's ``(seq, hash)``, None when the
    file holds none. Raises :class:`NotAnEvent`, naming the file and line, when more follows
    that event than crashes leave: a line longer than :data:`MAX_EVENT_BYTES` (no write is),
    or more than ``_MAX_TORN`` lines or ``_TAIL_BYTES``. No writer appends to such a log. Reads
    back no more than that, each byte once: a long last line costs time linear in its size.
    """
    torn: list[tuple[int, bytes]] = []
    tail = 0  # bytes after the last event
    for offset, raw in _last_lines(rfd, size, MAX_EVENT_BYTES + 1):
        if raw is None:
            raise _too_long(rfd, path, offset)
        line = raw[:-1] if raw.endswith(b"\n") else raw
        seq = event_seq(line)
        if seq is not None:
            h = line_hash(line)
            _chains_on(rfd, path, offset, line, seq)
            return torn, (seq, h)
        tail += len(raw)
        if len(torn) >= _MAX_TORN or tail > _TAIL_BYTES:
            raise NotAnEvent(
                f"{path}:{_line_number(rfd, offset)}: the audit log ends with more than "
                f"{_MAX_TORN} lines, or {_TAIL_BYTES >> 20} MiB, that are not audit events "
                f"(more than crashes leave){newer_format(torn[0][1] if torn else line)}; run "
                f"`clearance verify {path}`",
                path,
                offset,
            )
        torn.append((offset, line))
    return torn, None


def _line_before(rfd: int, offset: int) -> bytes | None:
    """The line that ends just before byte ``offset`` (a line's start), without its newline;
    None when there is none, or when it is longer than any event (read back no further)."""
    if offset <= 0:
        return None
    want = min(offset, MAX_EVENT_BYTES + 1)
    step = min(_TAIL_CHUNK, want)
    while True:
        data = os.pread(rfd, step, offset - step)
        idx = data.rfind(b"\n", 0, len(data) - 1)  # the newline before the line's own
        if idx >= 0:
            return data[idx + 1 : -1]
        if step >= offset:
            return data[:-1]  # the file's first line
        if step >= want:
            return None
        step = min(step * 2, want)


def _chains_on(rfd: int, path: Path, offset: int, line: bytes, seq: int) -> None:
    """Raise :class:`NotAnEvent` (``unchained``) when the ``prev`` of ``line``, the last event
    of the log file ``path`` (at ``offset``, with ``seq``), is not the hash of the line just
    before it and that line is an event: no writer wrote it there (a line added by hand, a
    copy), or the line before was changed since. Chaining to it, a writer would make it part
    of the chain (and the genuine line before it the one off the chain). A line before that
    is no event (torn lines a recovery names, a newer format) or none (a file's first line)
    is not looked at."""
    previous = _line_before(rfd, offset)
    if previous is None:
        return
    previous_seq = event_seq(previous)
    if previous_seq is None:
        return
    prev = json.loads(line)["prev"]
    if prev == line_hash(previous):
        return
    lineno = _line_number(rfd, offset)
    why = (
        "both chain to one event: two writers appended without sharing the log's lock (a "
        "lock file deleted under a writer, a file system whose locks do not work), or it "
        "was added there by hand"
        if seq == previous_seq and line != previous and prev == json.loads(previous)["prev"]
        else "it was added or copied there by hand, or that line was changed since"
    )
    error = NotAnEvent(
        f"{path}:{lineno}: the last audit event (seq {seq}) does not chain to the event "
        f"before it (seq {previous_seq}, line {lineno - 1}): {why}; run "
        f"`clearance verify {path}` before writing to it again",
        path,
        offset,
    )
    error.unchained = True
    raise error


_NEWER_RE = re.compile(r"clearance\.event/([0-9]{1,9})")


def newer_format(line: bytes) -> str:
    """For a message about ``line``, a line that is not an event: ``" (an event of a newer
    format, clearance.event/2, …)"`` when a newer Clearance wrote it (additive changes keep
    ``/1``: this version neither reads nor appends to it), else ``""``."""
    if b"clearance.event/" not in line[:256] or len(line) > MAX_EVENT_BYTES:
        return ""
    try:
        obj = json.loads(line)
    except NOT_JSON:
        return ""
    schema = obj.get("schema") if isinstance(obj, dict) else None
    m = _NEWER_RE.fullmatch(schema) if isinstance(schema, str) else None
    if m is None or int(m.group(1)) <= 1:
        return ""
    return (
        f" (an event of a newer format, {schema}, than this version of Clearance writes and "
        f"reads, {SCHEMA}: a newer Clearance writes this log; use that version)"
    )


def _too_long(rfd: int, file: Path, offset: int) -> NotAnEvent:
    return NotAnEvent(
        f"{file}:{_line_number(rfd, offset)}: the line at byte {offset} of the audit log is "
        f"longer than any audit event, and than a crash leaves ({MAX_EVENT_BYTES >> 20} MiB); "
        f"run `clearance verify {file}` before writing to it again",
        file,
        offset,
    )


def _head_of_rotated(path: Path) -> tuple[int, str]:
    rotated = rotated_files(path)
    if not rotated:
        return 0, GENESIS
    last = rotated[-1]
    try:
        rfd = os.open(last, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise AuditLogError(f"cannot read the audit log {last}: {exc.strerror or exc}") from None
    try:
        return rotated_head(rfd, os.fstat(rfd).st_size, last, path)
    finally:
        os.close(rfd)


def rotated_head(rfd: int, size: int, file: Path, path: Path) -> tuple[int, str]:
    """``(seq, hash)`` of the last line of ``file``, the newest rotated file of the log
    ``path``, open as ``rfd`` (its first ``size`` bytes): where a writer continues when the
    active file holds no event; ``(0, GENESIS)`` if ``file`` is empty. Its last line must be
    an event (a crash leaves no torn line in a rotated file): else :class:`NotAnEvent`.
    """
    for offset, raw in _last_lines(rfd, size, MAX_EVENT_BYTES + 1):
        if raw is None:
            raise _too_long(rfd, file, offset)
        line = raw[:-1] if raw.endswith(b"\n") else raw
        seq = event_seq(line)
        if seq is None:
            raise NotAnEvent(
                f"{file}:{_line_number(rfd, offset)}: the last line of the rotated audit "
                f"log is not an audit event; run `clearance verify {path}` before writing "
                "to it again",
                file,
                offset,
            )
        return seq, line_hash(line)
    return 0, GENESIS


def crash_left(
    lines: list[tuple[int, bytes]], seq: int, prev: str, *, ended: bool = False
) -> list[tuple[int, bytes]] | None:
    """The lines among ``lines`` (those after the last event, the last line of the file first:
    :func:`torn_tail`) that a crash can have left, for a recovery written as ``seq`` chained to
    ``prev``: what the next writer names as torn. ``ended``: the file ends with a newline.

    Which lines those are: :func:`left_by_crash`. None when the last line is not one of them:
    a complete line that is not an event, which no writer appends after.
    """
    torn = [
        (offset, line)
        for i, (offset, line) in enumerate(lines)
        if left_by_crash(line, seq, prev, lines[i - 1][1] if i else None, ended=i > 0 or ended)
    ]
    if lines and torn[:1] != lines[:1]:
        return None
    return torn


def left_by_crash(
    line: bytes, seq: int, prev: str, after: bytes | None = None, *, ended: bool = True
) -> bool:
    """True if ``line`` (without its newline), a line after the last event of the log, can be
    one a crash left there, for the writer that recovers the log as event ``seq`` chained to
    ``prev`` to name as torn. ``after``: the line after it (None: it is the last line);
    ``ended``: a newline ends it. Writers name these lines (:func:`crash_left`), and ``verify``
    reports as recovered only the lines a ``log.recovered`` event names that pass this test.

    An event is never torn: a writer chains to it. The last line without a newline is torn (a
    crash cut it), whatever else it holds. A line a newline ended is torn only if a writer
    that came to recover it ended it and crashed in turn: it is not a whole JSON value (what is
    left of a line cut short never is), it starts like the event a writer was writing at
    ``seq`` (:func:`torn_write`), and the line after it, if any, like that writer's
    ``log.recovered`` event (the newline and that event are one write, but a partial write or
    a power loss can cut it right after the newline). Any other line was put there by hand.
    """
    if after is None and not ended:
        return event_seq(line) is None
    return (
        _cut_short(line)  # not an event either
        and torn_write(line, seq, prev)
        and (after is None or torn_write(after, seq, prev, "log.recovered"))
    )


def _cut_short(line: bytes) -> bool:
    """``line`` is not a whole JSON value: what a crash leaves of a line. Bytes that are not
    UTF-8 are read as they are (a crash cuts a line's end, it changes none of its bytes: a
    whole line with a byte that is not UTF-8, re-encoded as Latin-1, was edited); NUL bytes
    (a power loss) are no JSON."""
    try:
        json.loads(line.decode("utf-8", "surrogateescape"))
    except NOT_JSON:
        return True
    return False


def _recovery(torn: list[tuple[int, bytes]], path: Path) -> _Prepared:
    """The ``log.recovered`` event naming the ``torn`` lines (:func:`crash_left`)."""
    named = [
        {"offset": offset, "bytes": len(line), "sha256": hashlib.sha256(line).hexdigest()}
        for offset, line in torn
    ]
    return _prepare(
        {
            "event": "log.recovered",
            "host": socket.gethostname(),
            "message": "a torn line (a write interrupted by a crash or a full disk) was terminated",
            "details": {"file": path.name, "torn": list(reversed(named))},
        },
        str(path),
    )


# -- structlog wiring ----------------------------------------------------------------------------


class AuditSink:
    """The structlog "wrapped logger" that writes to an :class:`AuditLog`.

    Every level method writes; levels are not an audit concept. While a batch is open
    (:func:`audit_batch`) events are prepared and buffered instead of written.
    """

    def __init__(self, log: AuditLog) -> None:
        self.audit_log = log
        self._where = str(log.path)
        self._batch: list[_Prepared] | None = None
        self._depth = 0
        self._max_events = 1000

    def msg(self, event_dict: Mapping[str, Any]) -> dict[str, Any] | None:
        if self._batch is None:
            return self.audit_log.append(event_dict)
        self._batch.append(_prepare(event_dict, self._where))
        if len(self._batch) >= self._max_events:
            self.flush(records=False)
        return None

    def write_prepared(self, event: bytes) -> None:
        """Write (or, in a batch, buffer) an event serialised by :func:`prepare_event`."""
        _check_size(event, "(prepared)", self._where)
        prepared = _Prepared(None, event)
        if self._batch is None:
            self.audit_log._write([prepared], records=False)
            return
        self._batch.append(prepared)
        if len(self._batch) >= self._max_events:
            self.flush(records=False)

    # every level writes: an audit event is never filtered by level
    debug = info = warning = warn = error = err = critical = fatal = exception = log = msg

    def flush(self, *, records: bool = True) -> list[dict[str, Any]]:
        """Write the buffered events (one lock, one fsync); returns the written records
        (none when ``records`` is False)."""
        batch = self._batch
        if not batch:
            return []

        def take() -> None:  # with the lock held and signals held: written, or an I/O error
            self._batch = []

        try:
            return self.audit_log._write(batch, records=records, take=take)
        except BaseException:
            if self._batch is batch:  # not taken: the log holds them, to write them first
                self._batch = []
            raise


def _to_sink(_logger: Any, method: str, event_dict: MutableMapping[str, Any]) -> Any:
    # structlog calls the wrapped logger's method with the processor chain's result:
    # a tuple is passed as (*args, **kwargs), so the sink receives the event dict intact.
    return (event_dict,), {}


def make_audit_logger(log: AuditLog, *, run_id: str, host: str) -> Any:
    """A structlog bound logger whose events go to ``log`` and nowhere else.

    Built with ``structlog.wrap_logger`` and a private processor chain: global structlog
    configuration (levels, processors, caching) does not apply to it. ``run_id`` and ``host``
    are bound to every event; bind more with ``.bind(stage=...)``. Calls return the written
    record (``None`` inside :func:`audit_batch`) and raise :class:`AuditLogError` on failure.
    """
    # wrap_logger() gives a lazy proxy that builds a new bound logger on every call (with
    # caching off); bind() builds it once, from the explicit settings above alone
    return structlog.wrap_logger(
        AuditSink(log),
        processors=[_to_sink],
        wrapper_class=structlog.BoundLogger,
        context_class=dict,
        cache_logger_on_first_use=False,
        run_id=run_id,
        host=host,
    ).bind()


def sink_of(logger: Any) -> AuditSink:
    """The :class:`AuditSink` behind a logger made by :func:`make_audit_logger`."""
    sink = getattr(logger, "_logger", None)
    if not isinstance(sink, AuditSink):
        raise TypeError("audit_batch() needs a logger made by make_audit_logger()")
    return sink


@contextlib.contextmanager
def audit_batch(logger: Any, *, max_events: int = 1000) -> Iterator[Any]:
    """Buffer the audit events ``logger`` emits in this block; write them with one fsync.

    Events are validated when emitted (an unserialisable event raises at the call site) and
    written when the outermost block exits — also when it exits with an exception — or every
    ``max_events``. Yields the logger for convenience.
    """
    sink = sink_of(logger)
    if sink._depth == 0:
        sink._batch = []
        sink._max_events = max(1, max_events)
    sink._depth += 1
    try:
        yield logger
    except BaseException:
        sink._depth -= 1
        if sink._depth == 0:
            try:
                sink.flush(records=False)
            except LockStillHeld:
                pass  # an interrupted wait for the lock: the exception under way says so
            finally:
                sink._batch = None
        raise
    sink._depth -= 1
    if sink._depth == 0:
        try:
            sink.flush(records=False)
        finally:
            sink._batch = None
