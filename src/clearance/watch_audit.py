"""The watcher's audit worker: one thread, one :class:`WatchSession`, batches of ready assets.

Threading model (documented in ``docs/watch.md``): the engine's :class:`~clearance.engine.Session`
is used by this worker thread only; other threads write ``watch.*`` events through
:meth:`AuditWorker.emit`, which takes the same lock. The worker takes the jobs waiting (oldest
first, up to ``batch_size``) and, when it has audit processes (:mod:`.watch_pool`), sends the
engine's work there and prepares the next batch while they run: everything in this process
shares one GIL with watchdog's reader, which must keep draining the kernel queue in a burst.
Without processes (one CPU, in-process plugins, or until they have started) it audits here.

Exactly once, across crashes
----------------------------
For each batch of ready assets the worker:

1. stats every file and skips versions the ledger already holds (a file that changed since it
   settled goes back to settling);
2. hashes the new versions and stats them again — in an audit process, together with the
   audit, or here — and sends back to settling any file that changed while it was read;
3. computes a deterministic ``audit_id`` (asset name + every file version + sidecar version)
   and records the *intent* in the ledger (``audits.state='auditing'``, with the hashes);
4. writes the assets' events inside one ``session.batch()`` (one lock, one fsync), with
   ``details.watch = {audit_id, reason, pairing, supersedes, …}`` in each ``asset.audited`` —
   the events an audit process recorded, in order, or those of an audit run here;
5. commits what plugins buffered (``Session.flush()``: lineage rows), then marks the intents
   ``audited`` in one transaction.

A crash after 3 and before 5 leaves intents behind; :func:`recover_intents` looks their ids
up in the audit log at start-up: found → marked audited (no second audit); not found →
forgotten, and the files are audited again by the start-up reconcile.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import queue
import sys
import threading
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISDIR, S_ISREG
from typing import Any

from ._display import shown_text
from ._errors import describe
from .auditlog import NOT_JSON, LongLine, log_lines
from .discover import (
    SIDECAR_SUFFIXES,
    _Errors,
    _same_name,
    frame_ranges,
    is_candidate,
    not_a_file_entry,
    sidecar_names,
    special_file,
    split_frame,
)
from .engine import Session
from .lineage.pending import folder_listings, input_key
from .model import Asset, printable, relative_posix
from .policy import Policy
from .provenance.c2pa import sequence_prefix_of
from .state import (
    AuditIntent,
    AuditRow,
    FileVersion,
    StateStore,
    StatVersion,
    stat_fingerprint,
    stat_version,
)
from .watch_pool import (
    AuditProcesses,
    AuditReply,
    AuditTask,
    WatchRecord,
    flush_plugins,
    hash_and_verify,
    incomplete_issues,
    lineage_absent,
    lineage_waits,
    manifest_before_audit,
    manifest_read,
    watch_details,
    with_watch,
)
from .watch_readiness import FileSystem, detached_manifest, is_transient

__all__ = ["WatchSession", "Job", "AuditWorker", "recover_intents", "audit_id_for"]

#: How many times one asset is audited again in a watcher's run because inputs it waited for
#: were audited (a cycle of assets made from each other that never settles stays unsure).
MAX_LINEAGE_AUDITS = 8


class WatchSession(Session):
    """A :class:`Session` that adds the watcher's record to each ``asset.audited`` event."""

    audit_details: dict[str, Any] | None = None
    #: each ``watch.error`` is also said on stderr, one line, once it is logged (the
    #: ``clearance watch`` command: a wrangler at the terminal must not miss one)
    say_errors: bool = False
    #: ``watch.error`` events logged so far (for the summary at stop)
    errors_logged: int = 0
    #: the folders watched: lineage's reader (here and in the audit processes) treats a
    #: declared input on disk there and not audited yet as pending (unsure)
    watched: tuple[str, ...] = ()

    def emit(self, event: str, **fields: Any) -> None:
        if self.audit_details is not None:
            fields = with_watch(event, fields, self.audit_details)
        super().emit(event, **fields)
        if event == "watch.error":
            self.errors_logged += 1
            if self.say_errors:
                print(
                    f"clearance watch: {shown_text(error_line(fields))}",
                    file=sys.stderr,
                    flush=True,
                )


def error_line(fields: dict[str, Any]) -> str:
    """One line for a ``watch.error`` event: its reason, what it is about, and its message."""
    details = fields.get("details") or {}
    reason = details.get("reason", "error")
    message = str(fields.get("message") or "")
    path = details.get("path") or details.get("root") or fields.get("asset")
    about = f" ({path})" if path and str(path) not in message else ""
    return f"watch.error {reason}: {message}{about}"


@dataclass
class Job:
    """An asset ready to audit: its group key and every file of it on disk."""

    key: tuple[str, str, str]
    files: list[str]
    settled_at: float  # wall clock time the asset settled (for latency)
    pairing: str = "paired"  # paired | missing (grace expired) | sidecar (a sidecar event)
    #: (dev, ino, size, mtime_ns, ctime_ns) of each file when it settled: a file that changed since
    #: (a write with no event, e.g. on a share) is not audited but goes back to settling
    settled: dict[str, StatVersion] = field(default_factory=dict)
    #: files the readiness gate stopped waiting for, with what they lack (damaged, or still
    #: incomplete after ``incomplete_timeout``): the audit is unsure
    incomplete: dict[str, str] = field(default_factory=dict)
    #: sent because an input its latest audit waited for was audited since (its ancestry
    #: can be complete now): audited again even if none of its files changed
    lineage: bool = False
    #: a sequence's entries named as its frames that are no file (a folder, a link to
    #: nothing), from its folder's listing when it was ready; None: not listed (one file)
    not_frames: list[str] | None = None


@dataclass
class _Prepared:
    job: Job
    asset: Asset
    versions: list[FileVersion]
    hashes: list[str | None]
    audit_id: str
    reason: str
    pairing: str
    sidecar: str | None
    sidecar_fp: str | None
    supersedes: str | None
    #: new versions still to hash, with the stat seen before reading them
    to_hash: list[tuple[str, StatVersion]] = field(default_factory=list)
    reply: AuditReply | None = None  # from an audit process; None: audit in the thread
    #: the detached C2PA manifest and its version, as :class:`AuditReply` has them
    manifest: str | None = None
    manifest_fp: str | None = None
    manifest_late: bool = False  # re-audited because the manifest came after the audit
    #: ``manifest`` if the C2PA reader reads it (not an embedded store instead): the record's
    manifest_read: str | None = None
    #: what files of it lack, by path: the readiness gate stopped waiting for them (this
    #: job), or an earlier audit covering the same version did (the ledger)
    incomplete: dict[str, str] = field(default_factory=dict)
    #: the declared inputs the audit's ancestry waited for (not audited yet)
    waits: list[str] = field(default_factory=list)
    #: the declared inputs its ancestry found not on disk that the watcher would audit once
    #: they are (their keys: :func:`clearance.lineage.pending.input_key`)
    absent: list[str] = field(default_factory=list)

    def set_digests(self, digests: dict[str, str]) -> None:
        for i, v in enumerate(self.versions):
            if v.path in digests:
                self.hashes[i] = digests[v.path]

    def details(self) -> dict[str, Any] | None:
        """``details.watch`` for the events the watcher's own session emits for this audit;
        ``None`` when an audit process serialised every event with it already."""
        if self.reply is not None and all(isinstance(e, bytes) for e in self.reply.events):
            return None
        return watch_details(self.record(), {})

    def record(self) -> WatchRecord:
        """What ``details.watch`` is made of (the hashes known so far)."""
        return WatchRecord(
            self.audit_id,
            self.reason,
            self.pairing,
            self.supersedes,
            self.versions,
            list(self.hashes),
            self.asset.root,
            self.manifest_read,
            self.manifest_late,
            tuple(self.incomplete.items()),
        )


@dataclass
class _Batch:
    jobs: list[Job]
    items: list[_Prepared]
    #: wall clock time before its audits read anything (an input audited after it may not
    #: have been seen by their ancestry walks)
    looked: float = 0.0
    #: chunks sent to audit processes: (first item index, item count, future)
    chunks: list[tuple[int, int, Future[list[AuditReply]]]] = field(default_factory=list)


def key_of_asset(path: str) -> tuple[str, str, str]:
    """The watcher's group key of the asset named ``path``: a file (a sequence's frame: the
    sequence), or a sequence's ``PREFIX.####.EXT``."""
    folder, name = os.path.split(path)
    parts = name.rsplit(".", 2)
    if len(parts) == 3 and parts[1] and parts[1].strip("#") == "":
        return (folder, parts[0], parts[2])
    frame = split_frame(name)
    return (folder, name, "") if frame is None else (folder, frame[0], frame[2])


def audit_id_for(
    asset_rel: str,
    versions: Sequence[FileVersion],
    sidecar_fp: str | None,
    *,
    manifest_fp: str | None = None,
    after: str | None = None,
) -> str:
    """The deterministic id of an audit of ``versions`` with the sidecar at ``sidecar_fp``.

    ``manifest_fp``: the version of the detached C2PA manifest, given when a sidecar or a
    manifest that settled is what asks for the audit. ``after``: the audit it supersedes,
    given when these exact versions were audited before and superseded since (an older
    render moved back): the same files again are a new audit, with an id of its own.
    """
    # names may hold bytes that are not UTF-8 (surrogate escapes): hashed as the bytes they are
    h = hashlib.sha256(asset_rel.encode("utf-8", "surrogateescape"))
    for v in sorted(versions, key=lambda v: v.path):
        h.update(b"\n" + v.token().encode("utf-8", "surrogateescape"))
    h.update(b"\nsidecar:" + (sidecar_fp or "-").encode("utf-8", "surrogateescape"))
    if manifest_fp is not None:
        h.update(b"\nc2pa:" + manifest_fp.encode("utf-8", "surrogateescape"))
    if after is not None:
        h.update(b"\nafter:" + after.encode())
    return h.hexdigest()[:32]


class AuditWorker(threading.Thread):
    """Audits :class:`Job`\\s from a queue, in batches, until stopped and drained.

    :param processes: audit processes for the engine's work (0: audit in this thread);
        used only with the real file system and a session whose plugins a process can load.
    """

    def __init__(
        self,
        session: WatchSession,
        state: StateStore,
        policy: Policy,
        fs: FileSystem,
        *,
        requeue: Callable[[str], None],
        done: Callable[[tuple[str, str, str]], None],
        reaudit: Callable[[list[str]], None] | None = None,
        batch_size: int = 256,
        hash_content: bool = True,
        processes: int = 0,
    ) -> None:
        super().__init__(name="clearance-audit", daemon=True)
        self.session = session
        self.state = state
        self.policy = policy
        self.fs = fs
        self.requeue = requeue
        self.done = done
        self.reaudit = reaudit
        #: assets whose latest audit waited for an input audited since (lineage_due)
        self._due: set[str] = set()
        #: assets whose latest audit waited for an input that went (kept until audited again:
        #: the next lineage_due no longer sees them)
        self._gone_due: set[str] = set()
        #: assets whose latest audit found an input not on disk that was audited since
        #: (kept until audited again, as ``_gone_due``)
        self._absent_due: set[str] = set()
        self._absent = True  # may any latest audit have found an input not on disk?
        #: asset files the watcher saw go (any thread), and the assets they made, with when
        #: the worker learnt it: a wait recorded by a batch that looked before then may be
        #: for one of them (checked until no such batch is under way)
        self._went: list[str] = []
        self._went_lock = threading.Lock()
        self._gone: dict[tuple[str, str, str], float] = {}
        self._check_all = True  # at start: is every input waited for still to be audited?
        self._inflight: deque[_Batch] = deque()  # batches under way (run)
        self._waiting = True  # may any latest audit wait for an input? (asked at start)
        self._lineage_audits: Counter[str] = Counter()
        self.batch_size = max(1, batch_size)
        self.hash_content = hash_content
        # room for a burst's ready assets, so the scheduler rarely has to hold any back
        self.jobs: queue.Queue[Job] = queue.Queue(maxsize=max(1024, self.batch_size * 4))
        self.lock = threading.RLock()  # guards the session (audit log writes)
        self.stopping = threading.Event()
        self.fatal: BaseException | None = None
        self.audited = 0
        self.by_outcome: Counter[str] = Counter()  # assets audited, by their outcome
        self.skipped = 0
        self.errors = 0
        self.latencies: deque[float] = deque(maxlen=20000)
        self.pool: AuditProcesses | None = None
        if processes > 0 and type(fs) is FileSystem and AuditProcesses.usable(session):
            self.pool = AuditProcesses(session, processes)

    # -- events from any thread -----------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        with self.lock:
            self.session.emit(event, **fields)

    def inputs_gone(self, path: str) -> None:
        """The asset file ``path`` went (deleted, moved out) before it was audited: the
        audits that wait for its asset as an input are looked at again (any thread)."""
        with self._went_lock:
            self._went.append(path)

    # -- the loop ----------------------------------------------------------------------------
    def run(self) -> None:
        if self.pool is not None:
            self.pool.start()
        inflight = self._inflight
        try:
            # audits a previous run left waiting for inputs audited since, or gone since,
            # or that found inputs not on disk that were audited since
            self._check_lineage()
            self._check_absent_at_start()
            while True:
                if self._went or self._gone:
                    self._check_lineage()
                jobs = self._take(block=not inflight)
                if jobs:
                    inflight.append(self._start(jobs))
                    if len(inflight) < 2 and inflight[-1].chunks:
                        continue  # audit processes busy: prepare the next batch meanwhile
                if inflight:
                    self._complete(inflight.popleft())
                elif self.stopping.is_set() and self.jobs.empty():
                    return
                elif self.pool is not None:
                    self.pool.poll()  # idle: take the processes' start-up answers
        except BaseException as exc:  # AuditLogError or worse: the watcher must stop
            self.fatal = exc
            for batch in inflight:
                for job in batch.jobs:
                    self.done(job.key)
        finally:
            if self.pool is not None:
                self.pool.close(wait=self.fatal is None)

    def _recover_taken(self, taken: set[str]) -> set[str]:
        """Of ``taken`` (claims taken over from a process that is gone), those whose
        ``asset.audited`` is in the audit log: marked audited with the outcome written, as
        :func:`recover_intents` does at start-up. Reads the whole log, which happens only
        when another watcher died in the middle of an audit."""
        log = self.session._log.path if self.session._sink is not None else None
        found = logged_outcomes(log, taken) if log is not None else {}
        for audit_id, outcome in found.items():
            self.state.finish_audit(audit_id, outcome=outcome, files=self.state.files_of(audit_id))
        return set(found)

    def _take(self, *, block: bool) -> list[Job]:
        """The jobs waiting now, oldest first, up to ``batch_size`` (at least one if ``block``)."""
        batch: list[Job] = []
        try:
            batch.append(self.jobs.get(timeout=0.1) if block else self.jobs.get_nowait())
        except queue.Empty:
            return batch
        while len(batch) < self.batch_size:
            try:
                batch.append(self.jobs.get_nowait())
            except queue.Empty:
                break
        return batch

    def _start(self, jobs: list[Job]) -> _Batch:
        """Decide what each job needs (ledger), and send the audits to the processes."""
        batch = _Batch(jobs, [], time.time())
        try:
            looks = [look for look in map(self._look, jobs) if look is not None]
            ledger = _Ledger(self.state, looks)
            for look in looks:
                item = self._prepare(look, ledger)
                if item is not None:
                    batch.items.append(item)
            pool = self.pool
            # the processes serialise the events for the log (this process chains, writes)
            log = str(self.session._log.path) if self.session._sink is not None else None
            if batch.items and pool is not None and pool.poll():
                per = -(-len(batch.items) // pool.processes)
                try:
                    for first in range(0, len(batch.items), per):
                        chunk = batch.items[first : first + per]
                        tasks = [AuditTask(i.asset, i.to_hash, i.record(), log) for i in chunk]
                        batch.chunks.append((first, len(chunk), pool.submit(tasks)))
                except Exception as exc:  # pool broken: what was not sent is audited here
                    pool.fail(exc)
        except BaseException:
            for job in jobs:
                self.done(job.key)
            raise
        return batch

    def _complete(self, batch: _Batch) -> None:
        """Intents, events in job order (one fsync), ledger; then the jobs are done."""
        try:
            self._collect(batch)
            items = self._verified(batch.items)
            if items:
                self._audit(items, batch.looked)
        finally:
            for job in batch.jobs:
                self.done(job.key)

    def _collect(self, batch: _Batch) -> None:
        for first, count, future in batch.chunks:
            try:
                replies = future.result()
            except Exception as exc:  # a process died: these assets are audited here
                if self.pool is not None and self.pool.broken is None:
                    self.pool.fail(exc)
                continue
            for item, reply in zip(batch.items[first : first + count], replies, strict=True):
                item.reply = reply

    def _verified(self, items: list[_Prepared]) -> list[_Prepared]:
        """Items whose new files are still the versions that settled (hashed on the way)."""
        keep = []
        for item in items:
            if item.reply is None:
                digests, changed = hash_and_verify(item.to_hash, self.fs.stat)
            else:
                digests, changed = item.reply.digests, item.reply.changed
            if changed:
                for path in changed:  # it moved while it was read: settle it again
                    self.requeue(path)
                continue
            item.set_digests(digests)
            keep.append(item)
        return keep

    # -- step 1: what exactly is on disk, and does it need an audit? ----------------------------
    def _look(self, job: Job) -> _Look | None:
        """What exactly is on disk for ``job`` (``None``: something changed, sent back)."""
        stats = []
        for path in job.files:
            try:
                stats.append(self.fs.stat(path))
            except OSError:
                for p in job.files:  # vanished or share hiccup: let the scheduler sort it out
                    self.requeue(p)
                return None
        for path, st in zip(job.files, stats, strict=False):
            expected = job.settled.get(path)
            if expected is not None and expected != stat_version(st):
                self.requeue(path)
                return None
        versions = [FileVersion.of(p, st) for p, st in zip(job.files, stats, strict=False)]
        try:
            asset, sidecar_st = build_asset(
                job.files, self.policy, self.fs.stat, not_frames=job.not_frames
            )
            if self._name_taken(asset):
                return None
        except OSError as exc:  # a sidecar candidate could not be looked at (EIO, ...)
            self._requeue_look(job, exc)
            return None
        sidecar = str(asset.sidecar) if asset.sidecar is not None else None
        sidecar_fp = sidecar_version(asset, sidecar_st)
        audit_id = audit_id_for(asset.rel, versions, sidecar_fp)
        look = _Look(job, stats, versions, asset, sidecar, sidecar_fp, audit_id)
        # a sidecar or a C2PA manifest settled: which manifest is there now decides too (for
        # any other job, only when its files alone would not be audited; the audit looks at
        # it anyway, in the audit process)
        if job.pairing == "sidecar" and not self._look_at_manifest(look):
            return None
        return look

    def _name_taken(self, asset: Asset) -> bool:
        """Does another asset on disk keep ``asset``'s name (as ``scan`` decides: a sequence
        rather than a file named like its pattern, a name shown as it is rather than an
        escaped one)? Then ``asset`` is not audited under it. Whichever loses the name is a
        ``watch.error`` naming both, once per version of its files (the ledger records them
        as ``error``: a restart finds them again, and says nothing)."""
        rival = same_name_rival(asset, self.policy, self.fs)
        if rival is None:
            return False
        found = {asset.rel: rival}
        errors = _Errors()
        _same_name(found, asset, errors)
        if not errors:  # the same asset after all
            return False
        keeper = found[asset.rel]
        other = rival if keeper is asset else asset
        versions = []
        for path in map(str, other.files):
            with contextlib.suppress(OSError):  # gone meanwhile: its event says so
                versions.append(FileVersion.of(path, self.fs.stat(path)))
        if versions and self.state.mark_refused(versions):
            self.emit(
                "watch.error",
                stage=asset.stage,
                asset=asset.rel,
                message=errors[0][1],
                details={
                    "reason": "same-name",
                    "path": errors[0][0],
                    "other": os.fspath(keeper.path),
                    # the names' bytes (hex): a name that is not UTF-8 is shown escaped
                    # (caf\xe9.exr), as a file literally named so is shown as it is
                    "path_bytes": os.fsencode(errors[0][0]).hex(),
                    "other_bytes": os.fsencode(keeper.path).hex(),
                },
            )
        return other is asset

    def _look_at_manifest(self, look: _Look) -> bool:
        """Fill in the detached C2PA manifests ``look``'s audit would read now (their
        versions join its audit id); False when they cannot be looked at (EIO, ...): the job
        is sent back to settling."""
        if look.manifest_fp is not None:
            return True
        asset = look.asset
        try:
            look.manifest, look.manifest_fp = detached_manifest(
                str(asset.path), self.fs.stat, sequence_prefix=sequence_prefix_of(asset)
            )
        except OSError as exc:
            self._requeue_look(look.job, exc)
            return False
        look.audit_id = audit_id_for(
            asset.rel, look.versions, look.sidecar_fp, manifest_fp=look.manifest_fp
        )
        return True

    def _requeue_look(self, job: Job, exc: OSError) -> None:
        if exc.filename:
            self.requeue(os.fsdecode(exc.filename))
        for p in job.files:
            self.requeue(p)

    def _prepare(self, look: _Look, ledger: _Ledger) -> _Prepared | None:
        """Does ``look`` need an audit, and why (the ledger decides)?"""
        job, stats, versions, asset = look.job, look.stats, look.versions, look.asset
        sidecar, sidecar_fp = look.sidecar, look.sidecar_fp
        prev = ledger.latest_audit(asset.rel)
        new = [v for v in versions if not ledger.is_audited(v)]
        if new and job.pairing == "sidecar":
            # a sidecar settled, but some file of its asset was never seen settled: never
            # audit it from here; the readiness gate decides when it is complete
            for v in new:
                self.requeue(v.path)
            return None
        sidecar_same = (
            prev is not None and prev.sidecar == sidecar and prev.sidecar_fp == sidecar_fp
        )
        # a frame removed from a sequence: the frames are another asset (its first frame,
        # which the readers read, its files' digest, which an approval names), even when
        # each file left is one audited before, or a copy of one with the same bytes
        frames_changed = prev is not None and prev.frames != asset.frames
        if not new and sidecar_same and not frames_changed and not self._look_at_manifest(look):
            return None  # nothing else changed: the manifests decide
        manifest_news = _manifest_news(prev, look.manifest, look.manifest_fp)
        # an input its latest audit waited for was audited since: its ancestry may be complete
        # now (bounded: a cycle that never settles stays unsure)
        lineage = (
            job.lineage
            and prev is not None
            and asset.rel in self._due
            and self._lineage_audits[asset.rel] < MAX_LINEAGE_AUDITS
        )
        if (
            not new
            and sidecar_same
            and not frames_changed
            and manifest_news is None
            and not lineage
        ):
            self.skipped += 1
            return None
        if not new and prev is None and sidecar is None:
            self.skipped += 1  # every frame already audited under another asset name
            return None
        same_bytes = False  # new versions with the bytes last audited, read with a new manifest
        hashes: list[str | None] = [None] * len(versions)
        to_hash: list[tuple[str, StatVersion]] = []
        if self.hash_content:
            new_paths = {v.path for v in new}
            to_hash = [
                (p, stat_version(st))
                for p, st in zip(job.files, stats, strict=False)
                if p in new_paths
            ]
        if new and sidecar_same and not frames_changed and prev is not None and self.hash_content:
            # a re-render of an audited asset: identical bytes are recorded, not audited again,
            # so this one is hashed now (the usual new asset is hashed with its audit)
            digests, changed = hash_and_verify(to_hash, self.fs.stat)
            if changed:
                for path in changed:
                    self.requeue(path)
                return None
            to_hash = []
            hashes = [digests.get(v.path) for v in versions]
            identical = True
            for v, digest in zip(versions, hashes, strict=False):
                if v not in new:
                    continue
                last = self.state.last_audited(v.path)
                if last is None or last[1] is None or last[1] != digest:
                    identical = False
                    break
            if identical:  # the same bytes: the detached manifests they are read with decide
                if not self._look_at_manifest(look):
                    return None
                manifest_news = _manifest_news(prev, look.manifest, look.manifest_fp)
                same_bytes = manifest_news is not None
            if identical and not same_bytes:
                ledger.written()
                self.state.record_identical(
                    prev.audit_id,
                    [(v, d) for v, d in zip(versions, hashes, strict=False) if v in new],
                    incomplete=job.incomplete,
                )
                self.skipped += 1
                return None
        if prev is None:
            reason = "new"
        elif (new and not same_bytes) or frames_changed:
            old_paths = {v.path for v in self.state.files_of(prev.audit_id)}
            grown = all(v.path not in old_paths for v in new) and old_paths <= set(job.files)
            reason = "sequence-grown" if new and grown and asset.is_sequence else "changed"
        elif not sidecar_same:
            reason = "sidecar-late" if prev.sidecar is None else "sidecar-changed"
        elif manifest_news is None:  # only lineage: an input it waited for was audited
            reason = "lineage"
        else:  # the C2PA manifest came, or changed, after the latest audit
            reason = "sidecar-late" if manifest_news == "late" else "sidecar-changed"
        manifest_late = sidecar_same and manifest_news == "late"
        if sidecar is not None:
            pairing = "late" if reason == "sidecar-late" and not manifest_late else "paired"
        else:
            pairing = "missing"
        audit_id = look.audit_id

        def after_prev() -> str:
            """The id of an audit of the same files and sidecar as ``prev``'s, after it."""
            assert prev is not None
            return audit_id_for(
                asset.rel, versions, sidecar_fp, manifest_fp=look.manifest_fp, after=prev.audit_id
            )

        if reason == "lineage":
            assert prev is not None
            self._lineage_audits[asset.rel] += 1
            self._due.discard(asset.rel)
            self._gone_due.discard(asset.rel)
            self._absent_due.discard(asset.rel)
            audit_id = after_prev()  # the same files and sidecar as the audit it supersedes
        existing = ledger.audit(audit_id)
        if existing is not None and existing.state == "superseded" and prev is not None:
            # these versions were audited, then superseded, and are back: audited again
            audit_id = after_prev()
            existing = ledger.audit(audit_id)
        if existing is not None and existing.state == "audited":
            self.skipped += 1
            return None
        incomplete = dict(job.incomplete)  # the gate stopped waiting for these new versions
        if len(new) < len(versions):  # and earlier audits, for the versions they covered
            fresh = set(new)
            old = ledger.incomplete([v for v in versions if v not in fresh])
            incomplete.update((v.path, missing) for v, missing in old.items())
        return _Prepared(
            job,
            asset,
            versions,
            hashes,
            audit_id,
            reason,
            pairing,
            sidecar,
            sidecar_fp,
            prev.audit_id if prev is not None else None,
            to_hash,
            manifest_late=manifest_late,
            incomplete=incomplete,
        )

    # -- steps 2-4: intent, audit (one fsync), ledger ---------------------------------------------
    def _audit(self, items: list[_Prepared], looked: float) -> None:
        for item in items:  # the manifest each audit reads, looked at just before it reads it
            if item.reply is not None:
                item.manifest, item.manifest_fp = item.reply.manifest, item.reply.manifest_fp
            else:
                item.manifest, item.manifest_fp = manifest_before_audit(item.asset)
            if item.reply is None or not all(isinstance(e, bytes) for e in item.reply.events):
                item.manifest_read = manifest_read(item.asset, item.manifest)  # for details()
        taken: set[str] = set()
        claimed = self.state.begin_audits(
            [self._intent(item) for item in items], taken=taken
        )  # one commit
        if taken:
            # claims of a watcher that is gone: it may have written their events before it
            # died; those found in the log are finished as written, never audited twice
            claimed -= self._recover_taken(taken)
        if len(claimed) < len(items):
            # another watcher sharing the ledger audited these versions, or is auditing them:
            # once is all the audit log and the ledger may hold (its crash leaves a claim
            # that the next reconcile here, or its restart, takes over)
            self.skipped += len(items) - len(claimed)
            items = [item for item in items if item.audit_id in claimed]
        if any(item.reply is None for item in items):
            flush_plugins(self.session)  # audited here: see what audit processes recorded
        outcomes: dict[str, str] = {}
        failed: dict[str, str] = {}
        # (folder_listings: an input's folder is listed once a batch, not once an asset)
        with self.lock, self.session.batch(), folder_listings():
            for item in items:
                self.session.audit_details = item.details()
                try:
                    if item.reply is not None:
                        self._replay(item.reply)
                        if item.reply.status == "failed":
                            raise _Failed(item.reply.error or "?", item.reply.traceback or "")
                        outcomes[item.audit_id] = item.reply.outcome or ""
                        item.waits = item.reply.waits
                        item.absent = item.reply.absent
                    else:
                        issues = incomplete_issues(item.record())
                        result = self.session.audit(item.asset, file_issues=issues)
                        outcomes[item.audit_id] = result.outcome.value
                        item.waits = lineage_waits(result)
                        item.absent = lineage_absent(self.session, result)
                except Exception as exc:  # engine isolates plugins; this is anything else
                    error = str(exc) if isinstance(exc, _Failed) else describe(exc)
                    trace = exc.trace if isinstance(exc, _Failed) else traceback.format_exc(limit=5)
                    failed[item.audit_id] = error
                    self.session.audit_details = None
                    self.session.emit(
                        "watch.error",
                        stage=item.asset.stage,
                        asset=item.asset.rel,
                        message=f"audit of {item.asset.rel} failed: {error}",
                        details={
                            "reason": "audit-failed",
                            "audit_id": item.audit_id,
                            "traceback": trace,
                        },
                    )
                finally:
                    self.session.audit_details = None
        # the batch's events are durable: commit what plugins buffered (lineage rows), then
        # the ledger
        flush_plugins(self.session)
        now = time.time()
        with self.state.transaction():  # one commit for the batch's results
            self._finish(items, outcomes, failed, now)
            waits = [
                (i.audit_id, name, looked)
                for i in items
                if i.audit_id not in failed
                for name in i.waits
            ]
            if waits or any(i.reason == "lineage" for i in items):
                self.state.record_waits(waits)  # (and forgets those of superseded audits)
                self._waiting = self._waiting or bool(waits)
            absent_due = self._record_absent(items, failed, looked)
        self._check_lineage()
        self._check_absent(items, failed, absent_due)

    def _check_lineage(self) -> None:
        """Send the assets whose latest audit waited for an input that was audited since, or
        that went, to be audited again (one query; none while no latest audit waits for
        anything). Whether an input went is looked at on disk only at start (every input
        waited for) and for the assets whose files the watcher saw go."""
        with self._went_lock:
            went, self._went = self._went, []
        now = time.time()
        for path in went:
            self._gone[key_of_asset(path)] = now
        if self._waiting and self.reaudit is not None:
            gone = self._input_gone if (self._gone or self._check_all) else None
            with folder_listings():  # (at start: every input waited for, a folder once)
                due, went, self._waiting = self.state.lineage_due(gone)
            self._gone_due.update(went)
            self._due = set(due) | self._gone_due | self._absent_due
            if due:
                self.reaudit(due)
        self._check_all = False
        # a batch under way that looked before an input went may still record a wait for it
        oldest = min((b.looked for b in self._inflight), default=now)
        self._gone = {key: t for key, t in self._gone.items() if t > oldest}

    def _record_absent(
        self, items: list[_Prepared], failed: dict[str, str], looked: float
    ) -> list[str]:
        """Record the inputs each audit of ``items`` found not on disk (and forget those of
        the audits they superseded); the assets of those whose input was audited after the
        batch looked (meanwhile: its audit could not see it) are due now. Nothing is written
        while no audit ever found one."""
        rows = [
            (i.audit_id, name, looked)
            for i in items
            if i.audit_id not in failed
            for name in i.absent
            if name != input_key(i.asset.rel)  # (itself: a cycle, not an input to wait for)
        ]
        if not rows and not self._absent:
            return []
        self._absent = self._absent or bool(rows)
        done = [i.asset.rel for i in items if i.audit_id not in failed]
        return self.state.record_absent(rows, done)

    def _check_absent(self, items: list[_Prepared], failed: dict[str, str], due: list[str]) -> None:
        """Send the assets whose latest audit found one of ``items`` not on disk (it is
        audited now: their ancestry resolves it, as ``scan``'s would), and ``due`` (what
        :meth:`_record_absent` found), to be audited again, ``reason: lineage``. One indexed
        query for the batch; none while no audit ever found an input not on disk."""
        if self._absent and self.reaudit is not None:
            keys = [input_key(i.asset.rel) for i in items if i.audit_id not in failed]
            due = [*due, *self.state.absent_due(keys)]
        self._ask_again(due)

    def _check_absent_at_start(self) -> None:
        """At start: audits that found an input not on disk that was audited since (the
        watcher stopped before it audited them again) are audited again; whether any audit
        found an input not on disk at all (else nothing is looked up after each batch)."""
        if self.reaudit is None:
            return
        self._absent = bool(self.state.query("SELECT 1 FROM audit_absent LIMIT 1"))
        if self._absent:
            self._ask_again(self.state.absent_due_at_start())

    def _ask_again(self, due: list[str]) -> None:
        if not due or self.reaudit is None:
            return
        self._absent_due.update(due)
        self._due.update(due)
        self.reaudit(list(dict.fromkeys(due)))

    def _input_gone(self, name: str) -> bool:
        """Is the asset ``name``, waited for as an input, one the watcher will not audit any
        more (at start: any; later: one whose files it saw go)? Those waiting for it are
        audited again."""
        root = str(self.policy.root)
        if not self._check_all and key_of_asset(os.path.join(root, name)) not in self._gone:
            return False
        from .lineage.pending import input_on_disk

        watched = getattr(self.session, "watched", ())
        return input_on_disk(name, self.policy.root, watched, self.policy) is None

    def _replay(self, reply: AuditReply) -> None:
        """Write the events an audit process recorded, in their order, through our session."""
        for event in reply.events:
            if isinstance(event, bytes):  # serialised there, with details.watch
                self.session._emit_prepared(event)
                continue
            fields = {k: v for k, v in event.items() if k not in ("event", "run_id", "host")}
            self.session.emit(event["event"], **fields)

    def _finish(
        self, items: list[_Prepared], outcomes: dict[str, str], failed: dict[str, str], now: float
    ) -> None:
        finished = []
        for item in items:
            if item.audit_id in failed:
                self.state.fail_audit(item.audit_id, failed[item.audit_id])
                self.errors += 1
                continue
            finished.append((item.audit_id, outcomes[item.audit_id], item.versions))
            self.audited += 1
            self.by_outcome[outcomes[item.audit_id] or "unknown"] += 1
            self.latencies.append(max(0.0, now - item.job.settled_at))
        self.state.finish_audits(finished)

    @staticmethod
    def _intent(item: _Prepared) -> AuditIntent:
        return AuditIntent(
            item.audit_id,
            asset=item.asset.rel,
            stage=item.asset.stage,
            reason=item.reason,
            pairing=item.pairing,
            sidecar=item.sidecar,
            sidecar_fp=item.sidecar_fp,
            supersedes=item.supersedes,
            frames=item.asset.frames,
            files=list(zip(item.versions, item.hashes, strict=False)),
            settled_at=item.job.settled_at,
            manifest=item.manifest,
            manifest_fp=item.manifest_fp,
            incomplete=item.incomplete,
        )


@dataclass
class _Look:
    """A job's files as they are on disk now, and the audit id they would get."""

    job: Job
    stats: list[Any]
    versions: list[FileVersion]
    asset: Asset
    sidecar: str | None
    sidecar_fp: str | None
    audit_id: str
    #: the detached C2PA manifest and its version, looked at for a sidecar's job, and for
    #: another when its files alone would not be audited (None, None: not looked at)
    manifest: str | None = None
    manifest_fp: str | None = None


def _manifest_news(prev: AuditRow | None, manifest: str | None, fp: str | None) -> str | None:
    """What the detached C2PA manifest on disk is to the latest audit ``prev``: None, the one
    it read (or not looked at, ``fp`` None); ``"late"``, one where it read none; ``"changed"``,
    another one, or one it may not have read (an audit by an older Clearance, or one that
    could not look, recorded no manifest version)."""
    if fp is None or prev is None:
        return None
    if prev.manifest_fp is None:
        return None if fp == "-" else "changed"
    if (prev.manifest, prev.manifest_fp) == (manifest, fp):
        return None
    return "late" if prev.manifest_fp == "-" else "changed"


class _Ledger:
    """The ledger rows a batch's decisions read, fetched for the whole batch in three queries
    instead of three per asset (each one a trip through SQLite and the GIL). Once a decision
    writes to the ledger (an identical re-render), it is read row by row again."""

    def __init__(self, state: StateStore, looks: Sequence[_Look]) -> None:
        self.state = state
        self.fresh = bool(looks)
        if not looks:
            return
        self._latest = state.latest_audits(look.asset.rel for look in looks)
        self._audited = state.audited_versions(v for look in looks for v in look.versions)
        # audited versions that lacked something (rare): asked only when the batch has any
        # audited version at all (a frame of a sequence audited before, a late sidecar)
        self._incomplete = state.incomplete_versions(self._audited) if self._audited else {}
        self._asked = {look.audit_id for look in looks}
        self._audits = state.audits_by_id(self._asked)

    def written(self) -> None:
        self.fresh = False

    def latest_audit(self, asset: str) -> AuditRow | None:
        return self._latest.get(asset) if self.fresh else self.state.latest_audit(asset)

    def is_audited(self, version: FileVersion) -> bool:
        return version in self._audited if self.fresh else self.state.is_audited(version)

    def incomplete(self, versions: Sequence[FileVersion]) -> dict[FileVersion, str]:
        """What those of ``versions`` lacked when an earlier audit covering them was done
        anyway (the others are left out)."""
        if not self.fresh:
            return self.state.incomplete_versions(versions)
        found = self._incomplete
        return {v: found[v] for v in versions if v in found}

    def audit(self, audit_id: str) -> AuditRow | None:
        if self.fresh and audit_id in self._asked:
            return self._audits.get(audit_id)
        return self.state.audit(audit_id)  # written since, or an id derived after the fetch


class _Failed(Exception):
    """An audit that raised in an audit process (its message and traceback come along)."""

    def __init__(self, error: str, trace: str) -> None:
        super().__init__(error)
        self.trace = trace


def build_asset(
    files: Sequence[str],
    policy: Policy,
    stat: Callable[[str], os.stat_result] = os.stat,
    *,
    not_frames: Sequence[str] | None = None,
) -> tuple[Asset, os.stat_result | None]:
    """The :class:`Asset` made of exactly ``files`` (one file, or the frames of one sequence),
    and the ``stat`` of its sidecar (the watcher keys the audit on that version, and on the
    names of its :attr:`~clearance.model.Asset.other_sidecars`: :func:`sidecar_version`).

    Same result as :func:`clearance.discover.assets_from_files` for one asset, without
    listing the folder (a render folder may hold tens of thousands of files). A sidecar
    candidate that cannot be looked at (``OSError`` other than "not there") raises: a share
    that hiccups must not make an asset look as if it had no sidecar.

    ``not_frames``: a sequence's entries named as its frames that are no file, as its
    folder's listing had them (the watcher's pairing lists it); without it, only the
    numbers of a gap in the sequence are looked at.
    """
    paths = sorted(Path(f) for f in files)
    folder = paths[0].parent
    root = policy.root
    first = paths[0].name
    parts = split_frame(first)
    frames: list[tuple[Path, os.stat_result | None]] = []  # a sequence's frames' sidecars
    odd: list[tuple[Path, str]] = []  # its sidecars that are no file (Asset.not_files)
    if parts is None:
        present = _present_files(folder, sidecar_names(first, sequence_prefix=None), stat, odd)
        asset = Asset(
            path=paths[0],
            rel=relative_posix(paths[0], root),
            root=root,
            files=paths,
        )
    else:
        prefix, _frame, ext = parts
        numbered = sorted((int(split_frame(p.name)[1]), p) for p in paths)  # type: ignore[index]
        first_path = numbered[0][1]
        pad = len(split_frame(first_path.name)[1])  # type: ignore[index]
        pattern = f"{prefix}.{'#' * pad}.{ext}"
        names = sidecar_names(first_path.name, sequence_prefix=prefix)
        if len(numbered) > 1:
            names = names[: len(SIDECAR_SUFFIXES)]
            # its frames' sidecars, reported as not read, as a scan does (a stat per frame
            # and suffix: the folder is not listed)
            frame_names = [p.name + s for _, p in numbered for s in SIDECAR_SUFFIXES]
            frames = _present_files(folder, frame_names, stat)
        present = _present_files(folder, names, stat, odd)
        if not_frames is None:
            odd[:0] = _gap_entries(folder, prefix, pad, ext, [n for n, _ in numbered])
        else:  # as scan: every entry named as a frame, whatever its number or padding
            odd[:0] = _frame_entries(not_frames)
        asset = Asset(
            path=first_path,
            rel=relative_posix(folder / pattern, root),
            root=root,
            files=[p for _, p in numbered],
            frames=frame_ranges(n for n, _ in numbered),
            frame_numbers=[n for n, _ in numbered],
        )
    asset.stage = policy.stage_for(asset.rel).name
    others = [path for path, _ in present[1:]] + [path for path, _ in frames]
    asset.other_sidecars = tuple(others)
    if odd:
        asset.not_files = tuple(odd)
    if not present:
        return asset, None
    asset.sidecar, found = present[0]
    return asset, found


#: the most missing frame numbers of a sequence whose names are looked at (:func:`_gap_entries`)
_GAP_LOOKS = 256


def _gap_entries(
    folder: Path, prefix: str, pad: int, ext: str, numbers: Sequence[int]
) -> list[tuple[Path, str]]:
    """The names of a sequence's missing frames (a gap in ``numbers``, named with the first
    frame's padding) that are there but no file (a folder, a link to nothing), as a scan's
    walk finds them in the folder's listing (:attr:`~clearance.model.Asset.not_files`). The
    folder is not listed: one ``lstat`` per missing number, and only for a sequence with a
    gap (of at most :data:`_GAP_LOOKS` numbers)."""
    first, last = numbers[0], numbers[-1]
    if last - first + 1 == len(numbers) or last - first + 1 - len(numbers) > _GAP_LOOKS:
        return []
    found = []
    have = set(numbers)
    for n in range(first + 1, last):
        if n not in have:
            path = folder / f"{prefix}.{n:0{pad}d}.{ext}"
            what = not_a_file_entry(os.fspath(path))
            if what:
                found.append((path, f"{what}; the sequence is audited without this frame"))
    return found


def _frame_entries(paths: Sequence[str]) -> list[tuple[Path, str]]:
    """What each of ``paths`` (named as a sequence's frames, no file when listed) is, as a
    scan's walk says it (:attr:`~clearance.model.Asset.not_files`); one that became a file
    since, or went, is left out."""
    found = []
    for path in paths:
        what = not_a_file_entry(path)
        if what:
            found.append((Path(path), f"{what}; the sequence is audited without this frame"))
    return found


def sidecar_version(asset: Asset, sidecar_st: os.stat_result | None) -> str | None:
    """The version of what the sidecar reader reads for ``asset`` (``sidecar_st``: its
    sidecar's stat, from :func:`build_asset`): the sidecar's, and the names of the other
    sidecars it reports as not read. A second sidecar that lands or goes changes it, so the
    asset is audited again, as ``scan`` would now answer."""
    version = stat_fingerprint(sidecar_st) if sidecar_st is not None else None
    if asset.other_sidecars:
        version = ";".join([version or "-", *(p.name for p in asset.other_sidecars)])
    if asset.not_files:  # a sidecar that is a folder or a pipe, said in the audit
        version = ";".join([version or "-", *(f"!{p.name}" for p, _ in asset.not_files)])
    return version


def same_name_rival(asset: Asset, policy: Policy, fs: FileSystem) -> Asset | None:
    """Another asset of ``asset``'s folder whose name is ``asset.rel`` too, or None: a file
    literally named as a sequence's pattern (``seq.####.exr``) and that sequence; a name
    that is not UTF-8 and a file named as its escape (``caf\\xe9.exr``). Costs one ``stat``
    for a sequence; the folder is listed only for a name with an escape in it, or a file
    with ``#`` in its name."""
    folder = asset.path.parent
    parts = split_frame(asset.path.name)
    if asset.is_sequence and parts is not None:
        own = (parts[0], parts[2])
        name = f"{parts[0]}.{'#' * len(parts[1])}.{parts[2]}"
    else:
        own, name = (asset.path.name, ""), asset.path.name
    shown = printable(name)
    if "\\x" not in shown and own[1]:  # a sequence: only a file named as its pattern
        path = os.path.join(folder, name)
        try:
            st = fs.stat(path)
        except OSError as exc:
            if is_transient(exc):
                raise
            return None
        if not S_ISREG(st.st_mode) or not is_candidate(name, policy):
            return None
        return build_asset([path], policy, fs.stat)[0]
    if "\\x" not in shown and "#" not in name:
        return None
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for entry in fs.scandir(str(folder)):
        if not is_candidate(entry.name, policy) or not entry.is_file():
            continue
        frame = split_frame(entry.name)
        key = (entry.name, "") if frame is None else (frame[0], frame[2])
        number = -1 if frame is None else int(frame[1])
        groups.setdefault(key, []).append((number, entry.path))
    for key, files in groups.items():
        if key == own:
            continue
        first = os.path.basename(min(files)[1])
        frame = split_frame(first) if key[1] else None
        other = first if frame is None else f"{frame[0]}.{'#' * len(frame[1])}.{frame[2]}"
        if printable(other) == shown:
            return build_asset([p for _, p in files], policy, fs.stat)[0]
    return None


def _present_files(
    folder: Path,
    names: Sequence[str],
    stat: Callable[[str], os.stat_result],
    odd: list[tuple[Path, str]] | None = None,
) -> list[tuple[Path, os.stat_result | None]]:
    """Those of ``names`` in ``folder`` that are regular files (links followed), in order,
    with their stat (the first is the sidecar read; the others are reported). Those that
    are something else (a folder, a named pipe) are added to ``odd``, with what they are,
    as a scan's walk finds them (:attr:`~clearance.model.Asset.not_files`).

    "Not there" is what ``Path.is_file`` ignores; a transient error (EIO, ESTALE) raises, to
    look again later; any other (EACCES) makes the candidate present, without a stat:
    reading it then fails, and the audit says so."""
    where = f"{folder}{os.sep}"
    present: list[tuple[Path, os.stat_result | None]] = []
    for name in names:
        try:
            st = stat(where + name)
        except OSError as exc:
            if exc.errno in _NOT_THERE:
                continue
            if is_transient(exc):
                raise
            present.append((folder / name, None))
            continue
        if S_ISREG(st.st_mode):
            present.append((folder / name, st))
        elif odd is not None:
            what = "a folder" if S_ISDIR(st.st_mode) else special_file(st.st_mode)
            odd.append((folder / name, f"is {what}, not a regular file; not read"))
    return present


#: what ``Path.is_file`` takes for "not there", and a name too long to exist (the sidecar
#: of a file whose name is near the 255-byte limit: ``NAME.genai.yaml`` cannot be created)
_NOT_THERE = frozenset({errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EBADF, errno.ENAMETOOLONG})


def _log_files(log: Path) -> list[Path]:
    from .auditlog import log_target, rotated_files

    log = log_target(log)  # a link's rotated files are beside its target, as writers rotate
    files = [log] if log.exists() else []
    with contextlib.suppress(Exception):
        files = list(reversed(rotated_files(log))) + files
    return files


def _open_log(log: Path) -> list[Any]:
    """The files of the log ``log`` (its rotated files and the active one), open, as they
    stand now: opened under a shared lock on ``<log>.lock`` (when there is one), as
    ``verify`` and ``report`` take them. Listed and opened one by one without it, a writer
    rotating meanwhile renamed the active file after it was listed and before it was opened:
    the events in it were in no file read (a file that cannot be opened is passed over)."""
    from .auditlog import log_target

    target = log_target(log)
    lock_fd: int | None = None
    try:
        lock_fd = os.open(target.with_name(target.name + ".lock"), os.O_RDONLY | os.O_CLOEXEC)
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
    except OSError:  # no lock file (a copied log, no writer yet): nothing to wait for
        if lock_fd is not None:
            os.close(lock_fd)
        lock_fd = None
    opened = []
    try:
        for file in _log_files(log):
            try:
                # without blocking: a named pipe where a file of the log is is never waited on
                fd = os.open(file, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue
            opened.append(os.fdopen(fd, "rb"))
    finally:
        if lock_fd is not None:
            os.close(lock_fd)  # releases the shared lock
    return opened


def logged_outcomes(log: str | os.PathLike[str], ids: set[str]) -> dict[str, str | None]:
    """The outcome of each audit of ``ids`` whose ``asset.audited`` event is in the audit log
    ``log`` (and its rotated files), by audit id; a line that is not an event is passed over
    (``verify`` names it)."""
    found: dict[str, str | None] = {}
    for f in _open_log(Path(log)):
        try:
            with f:
                for line in log_lines(f):  # a line of gigabytes is not read whole
                    if (
                        isinstance(line, LongLine)
                        or b'"asset.audited"' not in line
                        or b"audit_id" not in line
                    ):
                        continue
                    try:
                        event = json.loads(line)
                    except NOT_JSON:  # not an event (verify names it): never a crash
                        continue
                    details = event.get("details") if isinstance(event, dict) else None
                    watch = details.get("watch") if isinstance(details, dict) else None
                    audit_id = watch.get("audit_id") if isinstance(watch, dict) else None
                    if isinstance(audit_id, str) and audit_id in ids:
                        outcome = event.get("outcome")
                        found[audit_id] = outcome if isinstance(outcome, str) else None
        except OSError:
            continue
    return found


def recover_intents(state: StateStore, log: Path | None) -> tuple[int, int]:
    """Settle audits that were started but not recorded as finished (a crash in between).

    Returns (found in the audit log → marked audited, not found → forgotten).
    """
    ids = set(state.intents())
    if not ids:
        return 0, 0
    found = logged_outcomes(log, ids) if log is not None else {}
    for audit_id in ids:
        if audit_id in found:
            state.finish_audit(audit_id, outcome=found[audit_id], files=state.files_of(audit_id))
        else:
            state.abandon_audit(audit_id)
    return len(found), len(ids) - len(found)


def is_retryable(exc: OSError) -> bool:
    return is_transient(exc)
