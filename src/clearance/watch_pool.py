"""Audit processes for the watcher: the engine's work off the watcher's GIL.

The watcher's process runs watchdog's threads, the readiness scheduler and the ledger; every
one of them needs the GIL. Auditing an asset (readers, checkers, lineage) is Python work too,
and reading files while other threads hold the GIL makes each read wait for its turn. So the
audit worker (:mod:`.watch_audit`) hands each batch to a few **audit processes**, each with
its own :class:`~clearance.engine.Session` (``write_log=False``: events are kept, not
written), and keeps for itself only what must stay in one place:

* the ledger — decisions before the audit, the intent, the finish;
* the audit log — the parent writes every event, in job order, through its own session
  (one hash chain, one writer), exactly as if it had audited the asset itself.

A process gets an :class:`AuditTask` (the asset, and the files to hash with the ``stat`` the
parent saw) and returns an :class:`AuditReply`: the SHA-256 of each file, or the files that
changed while they were read (the parent sends them back to settling and audits nothing),
the outcome, and the recorded events. Hashing happens here too: on real renders (tens of MB
per frame) it is the largest cost of an audit, and it runs in parallel across processes.

Processes are spawned (never forked: the watcher has threads). They ignore SIGINT/SIGTERM
(the parent drains and stops them) and exit by themselves when the parent dies (``kill -9``).
Until they have started, and if they ever break, the worker audits in its own thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import signal
import traceback
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import wait as ready
from pathlib import Path
from typing import Any, NamedTuple

from . import state
from ._errors import describe
from ._process import exit_with_parent
from .engine import Session
from .model import Asset, ProvenanceIssue, relative_posix
from .provenance.c2pa import find_manifest, sequence_prefix_of
from .state import FileVersion, StatVersion, stat_version
from .watch_readiness import detached_manifest

__all__ = [
    "dump_stacks_on_sigusr1",
    "flush_plugins",
    "lineage_absent",
    "lineage_waits",
    "watch_lineage",
    "watch_details",
    "with_watch",
    "WatchRecord",
    "AuditTask",
    "AuditReply",
    "AuditProcesses",
    "default_processes",
    "hash_and_verify",
    "incomplete_issues",
    "manifest_before_audit",
    "manifest_read",
    "sha256_file",
]

log = logging.getLogger("clearance.watch")


def default_processes() -> int:
    """Audit processes to use when not configured: one per CPU, at most 4; none on one CPU.

    One per CPU although the watcher's own process needs CPU too: a batch split over more
    processes comes back sooner, and in a burst the watcher's process mostly waits for them
    (on a 2-CPU machine with the writer on the same machine, 2 processes halved the median
    latency of 1). On a single CPU there is nothing to gain: the worker audits in its thread.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return 0 if cpus < 2 else min(4, cpus)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def hash_and_verify(
    files: Sequence[tuple[str, StatVersion]], stat: Any = os.stat
) -> tuple[dict[str, str], list[str]]:
    """SHA-256 of each file, checking it is still the version ``stat`` saw before.

    Returns (digests, changed): a file whose version (:func:`~clearance.state.stat_version`) differs after the read,
    or that cannot be read, is in ``changed`` and has no digest.
    """
    digests: dict[str, str] = {}
    changed: list[str] = []
    for path, before in files:
        try:
            digest = sha256_file(path)
            st = stat(path)
        except OSError:
            changed.append(path)
            continue
        if stat_version(st) != tuple(before):
            changed.append(path)
            continue
        digests[path] = digest
    return digests, changed


class WatchRecord(NamedTuple):
    """What the watcher adds to an ``asset.audited`` event as ``details.watch`` (see
    :func:`watch_details`), less the digests of the files still to hash."""

    audit_id: str
    reason: str
    pairing: str
    supersedes: str | None
    versions: Sequence[FileVersion]
    hashes: Sequence[str | None]  # known digests, by version; None: hashed with the audit
    root: Path
    manifest: str | None = None  # the detached C2PA manifest the audit reads (manifest_read)
    manifest_late: bool = False  # the manifest, not the sidecar, is what came late
    #: (path, what it lacks) of the files the watcher stopped waiting for: the audit is unsure
    incomplete: tuple[tuple[str, str], ...] = ()


def watch_details(record: WatchRecord, digests: Mapping[str, str]) -> dict[str, Any]:
    """``details.watch`` of an ``asset.audited`` event (``docs/watch.md``): the audit id, why
    it was audited, the sidecar pairing, what it supersedes, and each file's version and
    SHA-256 (``digests`` by path fills those still unknown), at most 50 files; the detached
    C2PA manifest read, if any; what the files audited as they were lack (at most 50)."""
    hashes = [digests.get(v.path, h) for v, h in zip(record.versions, record.hashes, strict=True)]
    details: dict[str, Any] = {
        "audit_id": record.audit_id,
        "reason": record.reason,
        "pairing": record.pairing,
        "supersedes": record.supersedes,
        "files": [
            {
                "path": relative_posix(v.path, record.root),
                "size": v.size,
                "mtime_ns": v.mtime_ns,
                "ctime_ns": v.ctime_ns,
                "ino": v.ino,
                "sha256": h,
            }
            for v, h in zip(record.versions[:50], hashes, strict=False)
        ],
    }
    if record.manifest is not None:
        details["manifest"] = relative_posix(record.manifest, record.root)
    if record.reason == "sidecar-late":
        late = "C2PA manifest" if record.manifest_late else "sidecar"
        details["resolution"] = f"provenance resolved (late {late})"
    if record.incomplete:
        details["incomplete"] = {
            relative_posix(path, record.root): missing for path, missing in record.incomplete[:50]
        }
    return details


def incomplete_issues(record: WatchRecord) -> list[ProvenanceIssue]:
    """The audit's issues (``PRV-02``) for the files the watcher stopped waiting for."""
    return [
        ProvenanceIssue(
            relative_posix(path, record.root), os.path.splitext(path)[1][1:].lower(), missing
        )
        for path, missing in record.incomplete
    ]


def with_watch(name: str, fields: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """An event's ``fields`` with ``details.watch`` added if ``name`` is ``asset.audited``."""
    if name != "asset.audited":
        return fields
    return {**fields, "details": {**(fields.get("details") or {}), "watch": details}}


@dataclass
class AuditTask:
    """One asset to audit in an audit process; ``hash`` = files to hash, with their stat.

    With ``watch`` and ``log``, the process adds ``details.watch`` to the asset's
    ``asset.audited`` event and serialises its events for the audit log at ``log``
    (:func:`~clearance.auditlog.prepare_event`): the watcher's process then only chains and
    writes them.
    """

    asset: Asset
    hash: list[tuple[str, StatVersion]] = field(default_factory=list)
    watch: WatchRecord | None = None
    log: str | None = None


@dataclass
class AuditReply:
    """What an audit process did with one :class:`AuditTask`.

    ``status``: ``audited`` (``events`` recorded, ``outcome`` set), ``changed`` (``changed``
    lists the files that moved while hashed; nothing audited) or ``failed`` (the engine
    raised: ``error`` and ``traceback``; ``events`` holds what was recorded before).
    """

    status: str
    digests: dict[str, str] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    outcome: str | None = None
    #: the events recorded, in order: as dicts, or serialised for the audit log (bytes: the
    #: task had ``watch`` and ``log``)
    events: list[dict[str, Any] | bytes] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None
    #: the detached C2PA manifest the audit read and its version, looked at just before the
    #: audit (``"-"``: none there; None: could not be looked at)
    manifest: str | None = None
    manifest_fp: str | None = None
    #: the declared inputs the audit's ancestry waits for (not audited yet: unsure), which
    #: audit it again once they are (:func:`clearance.lineage.waits_of`)
    waits: list[str] = field(default_factory=list)
    #: the declared inputs the audit's ancestry found not on disk that the watcher would
    #: audit once they are (:func:`lineage_absent`): it audits the asset again then
    absent: list[str] = field(default_factory=list)


def lineage_waits(result: Any) -> list[str]:
    """What ``result``'s ancestry waits for (:func:`clearance.lineage.waits_of`)."""
    from .lineage import waits_of

    return waits_of(getattr(result, "record", None))


def lineage_absent(session: Session, result: Any) -> list[str]:
    """The inputs ``result``'s ancestry found unresolved that the watcher would audit once
    they are on disk (:func:`clearance.lineage.absent_of`; names only, nothing looked at)."""
    from .lineage import absent_of

    lineage = session._lineage()
    watched = lineage.watched if lineage is not None else ()
    if not watched:
        return []
    return absent_of(getattr(result, "record", None), session.policy.root, watched, session.policy)


def watch_lineage(session: Session, watched: Sequence[str]) -> None:
    """Tell ``session``'s lineage reader which folders the watcher watches: a declared input
    on disk there and not audited yet makes an ancestry unsure (:mod:`clearance.lineage.pending`)."""
    lineage = session._lineage()
    if lineage is not None:
        lineage.watched = tuple(watched)


def manifest_before_audit(asset: Asset) -> tuple[str | None, str | None]:
    """:func:`~clearance.watch_readiness.detached_manifest` of ``asset`` (a sequence: of its
    first frame, and its ``PREFIX.c2pa``, as the C2PA reader), or ``(None, None)`` when it
    cannot be looked at."""
    try:
        return detached_manifest(str(asset.path), sequence_prefix=sequence_prefix_of(asset))
    except OSError:
        return None, None


def manifest_read(asset: Asset, manifest: str | None) -> str | None:
    """``manifest`` (:func:`manifest_before_audit`'s) if the C2PA reader reads it: None when
    the file it checks (a sequence: its first frame) carries an embedded manifest store,
    which the reader reads instead (a sequence's ``PREFIX.c2pa`` is then "not read")."""
    if manifest is None:
        return None
    try:
        found = find_manifest(asset.path, asset.siblings, sequence_prefix=sequence_prefix_of(asset))
    except OSError:
        return manifest
    return manifest if found is not None and found["location"] == "sidecar" else None


# -- inside an audit process ------------------------------------------------------------------

_SESSION: Session | None = None


def _dump_stacks(process: Any) -> None:
    """Ask an audit process for its threads' stacks (SIGUSR1, :func:`dump_stacks_on_sigusr1`:
    written to the stderr it shares with the watcher) and give it a moment to write them."""
    with contextlib.suppress(OSError, AttributeError, ValueError):
        os.kill(process.pid, signal.SIGUSR1)
        ready([process.sentinel], 0.5)  # (a process that had not set SIGUSR1 up exits)


def dump_stacks_on_sigusr1() -> None:
    """SIGUSR1 writes every thread's Python stack to stderr (a watcher that seems stuck, and
    each of its audit processes, say where they are; ``docs/watch.md``)."""
    import faulthandler

    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)


def _init_process(
    policy: Any,
    blocked: Sequence[str],
    run_id: str,
    parent: int,
    busy_timeout: float,
    watched: Sequence[str] = (),
) -> None:
    global _SESSION
    # the state store's busy timeout in effect in the watcher (a spawned process starts from
    # the module's default): a lock is waited for as long here as there
    state.BUSY_TIMEOUT = busy_timeout
    # the parent owns the lifecycle: it drains, then shuts the pool down
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    dump_stacks_on_sigusr1()
    exit_with_parent(parent)  # the watcher died (kill -9): nothing left to serve
    _SESSION = Session(
        policy,
        command="watch",
        write_log=False,
        blocked=blocked,
        announce=False,
        run_id=run_id,
    )
    watch_lineage(_SESSION, watched)
    _warm_up()


def _warm_up() -> None:
    """Import and compile now what every audit needs, so the first assets after start do not
    wait for it: the event serialiser (``auditlog``, structlog) and the sidecar schema's fast
    checker (about 50 ms a process)."""
    from . import auditlog  # noqa: F401
    from .policy import compile_schema
    from .provenance.sidecar import SCHEMA

    compile_schema(SCHEMA)


def _hello() -> list[str]:
    """The plugins this process loaded (the parent compares them with its own)."""
    assert _SESSION is not None
    return sorted(_SESSION.plugins.plugins)


def _audit_chunk(tasks: Sequence[AuditTask]) -> list[AuditReply]:
    from .lineage.pending import folder_listings

    with folder_listings():  # an input's folder is listed once a chunk, not once an asset
        return _audit_tasks(tasks)


def _audit_tasks(tasks: Sequence[AuditTask]) -> list[AuditReply]:
    session = _SESSION
    assert session is not None, "audit process not initialised"
    # what the other processes recorded since this one's last chunk (the inputs an ancestry
    # walk looks up): the view is read again if the store changed (one query a chunk)
    flush_plugins(session)
    replies = []
    for task in tasks:
        digests, changed = hash_and_verify(task.hash)
        if changed:
            replies.append(AuditReply("changed", changed=changed))
            continue
        session.events.clear()
        manifest, manifest_fp = manifest_before_audit(task.asset)
        if task.watch is not None:
            task.watch = task.watch._replace(manifest=manifest_read(task.asset, manifest))
        issues = incomplete_issues(task.watch) if task.watch is not None else []
        try:
            result = session.audit(task.asset, file_issues=issues)
        except Exception as exc:  # the engine isolates plugins; this is anything else
            replies.append(
                AuditReply(
                    "failed",
                    digests=digests,
                    events=_recorded(session, task, digests),
                    error=describe(exc),
                    traceback=traceback.format_exc(limit=5),
                    manifest=manifest,
                    manifest_fp=manifest_fp,
                )
            )
            continue
        replies.append(
            AuditReply(
                "audited",
                digests=digests,
                outcome=result.outcome.value,
                events=_recorded(session, task, digests),
                manifest=manifest,
                manifest_fp=manifest_fp,
                waits=lineage_waits(result),
                absent=lineage_absent(session, result),
            )
        )
    session.events.clear()
    flush_plugins(session)  # buffered state-store writes (lineage rows): one commit per chunk
    return replies


def _recorded(
    session: Session, task: AuditTask, digests: Mapping[str, str]
) -> list[dict[str, Any] | bytes]:
    """The events ``session`` recorded for ``task``, as the watcher will write them."""
    if task.watch is None or task.log is None:
        return list(session.events)
    from .auditlog import prepare_event

    details = watch_details(task.watch, digests)
    return [prepare_event(with_watch(e["event"], e, details), task.log) for e in session.events]


def flush_plugins(session: Session) -> None:
    """``session.flush()``; a plugin that fails to commit derived data never stops the watcher."""
    try:
        session.flush()
    except Exception as exc:
        log.warning("clearance watch: a plugin failed to flush: %s", describe(exc))


# -- in the watcher ------------------------------------------------------------------------------

#: Seconds the audit processes have to exit once the watcher stops (see AuditProcesses.close).
CLOSE_GRACE = 10.0


class AuditProcesses:
    """``processes`` spawned audit processes configured like ``session``.

    :meth:`start` spawns them in the background; :attr:`ready` turns true once every process
    answered with the same plugins as ``session`` (a session with in-process plugins, which
    cannot be rebuilt in another process, never starts a pool).
    """

    def __init__(self, session: Session, processes: int) -> None:
        self.session = session
        self.processes = processes
        self.executor: ProcessPoolExecutor | None = None
        self._hello: list[Future[list[str]]] = []
        self.ready = False
        self.broken: str | None = None

    @staticmethod
    def usable(session: Session) -> bool:
        """Can a process rebuild this session's plugins from its policy?"""
        return not any(i.source == "in-process" for i in session.plugins.plugins.values())

    def start(self) -> None:
        import multiprocessing

        session = self.session
        try:
            self.executor = ProcessPoolExecutor(
                max_workers=self.processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_init_process,
                initargs=(
                    session.policy,
                    tuple(session.blocked),
                    session.run_id,
                    os.getpid(),
                    state.BUSY_TIMEOUT,
                    tuple(getattr(session, "watched", ())),
                ),
            )
            self._hello = [self.executor.submit(_hello) for _ in range(self.processes)]
        except Exception as exc:  # no processes on this system: audit in the thread
            self._disable(f"cannot start audit processes: {type(exc).__name__}: {exc}")

    def poll(self) -> bool:
        """True when the processes can take work (checks the start-up answers once)."""
        if self.ready or self.broken is not None or self.executor is None:
            return self.ready
        if not all(f.done() for f in self._hello):
            return False
        expected = sorted(self.session.plugins.plugins)
        for future in self._hello:
            try:
                plugins = future.result()
            except Exception as exc:
                self._disable(f"audit process failed to start: {type(exc).__name__}: {exc}")
                return False
            if plugins != expected:
                self._disable("audit processes loaded other plugins than the watcher")
                return False
        self.ready = True
        return True

    def submit(self, tasks: Sequence[AuditTask]) -> Future[list[AuditReply]]:
        assert self.executor is not None
        return self.executor.submit(_audit_chunk, list(tasks))

    def fail(self, exc: BaseException) -> None:
        """A process died or a chunk could not be sent: audit in the thread from now on."""
        self._disable(f"audit processes stopped: {type(exc).__name__}: {exc}")

    def _disable(self, reason: str) -> None:
        self.ready = False
        self.broken = reason
        log.warning("clearance watch: %s; auditing in the watcher's thread", reason)
        self.close(wait=False)

    def close(self, wait: bool = True) -> None:
        """Shut the processes down; with ``wait``, until they have exited.

        The worker has drained every batch by then, so nothing is left for them to do: one
        still there after :data:`CLOSE_GRACE` seconds is stuck (in a plugin's import, say)
        and is killed, with a warning — a stopping watcher never hangs on its processes.
        """
        executor, self.executor = self.executor, None
        if executor is None:
            return
        # concurrent.futures keeps these privately; without them, shutdown() as documented
        processes = list((getattr(executor, "_processes", None) or {}).values())
        manager = getattr(executor, "_executor_manager_thread", None)
        if not wait or not processes or manager is None:
            executor.shutdown(wait=wait, cancel_futures=True)
            return
        # The executor's manager thread sends each process its stop and joins them all; it
        # alone waits for them. Waiting here too would race it for each exit status (the
        # loser of waitpid() sees a child that looks alive, whose pid may be reused).
        executor.shutdown(wait=False, cancel_futures=True)
        manager.join(CLOSE_GRACE)
        if not manager.is_alive():
            return
        exited = set(ready([p.sentinel for p in processes], 0))
        for process in processes:
            if process.sentinel not in exited:  # still running: its pid is still its own
                log.warning(
                    "clearance watch: audit process %s did not stop within %.0f s: killed "
                    "(its threads' stacks follow)",
                    process.pid,
                    CLOSE_GRACE,
                )
                _dump_stacks(process)
                if not ready([process.sentinel], 0):  # (SIGUSR1 may have ended it already)
                    with contextlib.suppress(OSError):
                        os.kill(process.pid, signal.SIGKILL)
        manager.join(5.0)
