"""``clearance watch``: audit every asset under some folders once, after it is complete.

The watcher never trusts an event. Its parts (one module each):

* intake (:mod:`.watch_intake`) — watchdog handlers turn events into path hints in a bounded
  queue and return; a full queue spills to a rescan;
* readiness (this module, :class:`Watcher`) — a per-file quiet timer on ``stat()``
  (size, mtime, inode unchanged for ``settle``), format completeness (:mod:`.watch_readiness`),
  temporary names never audited;
* pairing (:mod:`.watch_pairing`) — a frame sequence audited once as a unit after an idle
  window, and a grace window for a missing sidecar;
* audit (:mod:`.watch_audit`) — one worker thread, batches (oldest ready asset first), the
  ledger intent/finish protocol around the engine's events; the engine's work and hashing run
  in audit processes (:mod:`.watch_pool`) when the machine has more than one CPU;
* reconcile (:mod:`.watch_reconcile`) — walks against the ledger at start-up, after an
  overflow or a spill, when an emitter is rebuilt, when a root reappears, and periodically;
* ledger (:mod:`.state`) — the SQLite state store;
* supervision (:mod:`.watch_supervisor`) — backend per root from ``/proc/self/mountinfo``,
  observer and emitter liveness, heartbeat cookies (a blind root switches to polling),
  watch-limit checks, roots vanishing and reappearing, ``watch.stats``.

Threads: watchdog's (hints only), the scheduler (:meth:`Watcher.run`, the caller's thread),
the reconciler and the audit worker; and the audit processes.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import queue
import secrets
import sqlite3
import stat
import threading
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from watchdog.events import FileSystemEvent

from ._paths import given_path, located
from .cache import RACY_NS_COARSE, RACY_NS_FINE, racy
from .discover import in_hidden_folder, is_candidate, is_sidecar, special_file
from .policy import Policy
from .state import FileVersion, StateError, StateStore, StatVersion, stat_version
from .state import write_error as state_write_error
from .watch_audit import AuditWorker, Job, WatchSession, key_of_asset, recover_intents
from .watch_intake import (
    COOKIE_PREFIX,
    Intake,
    OverflowHook,
    install_move_grouping,
    install_read_coalescing,
)
from .watch_pairing import AssetGrouping, GroupKey, _Group, _key_for, _Readers, _wall
from .watch_polling import install_quick_snapshot_diff
from .watch_pool import default_processes, watch_lineage
from .watch_readiness import (
    FileSystem,
    Missing,
    backend_for,
    filesystem_type,
    is_transient,
    missing_part,
)
from .watch_reconcile import Reconciler, RescanReport
from .watch_supervisor import RootSupervisor, _Root

__all__ = ["WatchOptions", "Watcher"]


#: Linked folders a watcher watches as roots of its own, at most: each has its observer,
#: threads and inotify instance (the kernel allows 128 instances per user by default)
MAX_LINKED_FOLDERS = 64

#: Files with more than one name looked at again, at most (a hard link's other name may be
#: written through outside the watched folders: no event says so); past it, a change is
#: found by the next reconcile, as before
MAX_LINKED_FILES = 100_000
#: The longest time between two looks at such a file (the first is one quiet period after
#: it settled, and each later one twice as long as the last)
LINKED_MAX_EVERY = 10.0


@dataclass
class WatchOptions:
    """Tunables of one watcher (the CLI's options; tests shorten the times)."""

    settle: float = 2.0  # quiet period: size/mtime/inode unchanged this long
    sidecar_grace: float = 30.0  # how long a ready asset waits for its sidecar
    interval: float = 1.0  # polling backend: seconds between snapshots
    polling: bool = False  # force the polling backend for every root
    sequence_idle: float = 10.0  # a sequence is audited when no frame changed this long
    network_settle: float = 65.0  # quiet period on network roots (> NFS acregmax, 60 s)
    rescan_interval: float = 600.0  # periodic reconcile (0: never)
    heartbeat: float = 30.0  # heartbeat cookie period per root (0: off)
    heartbeat_timeout: float = 10.0  # a cookie not seen by then: the root is blind
    stats_interval: float = 60.0  # watch.stats period (0: only at stop)
    queue_size: int = 20000  # intake queue bound (hints); full → spill to rescan
    max_pending: int = 200000  # files settling at once; beyond → spill to rescan
    max_watches: int | None = None  # folders per inotify root before falling back to polling
    mountinfo: str = "/proc/self/mountinfo"
    completeness: bool = True  # EXR / PNG completeness checks
    #: a file still incomplete this long after it went quiet (a writer that never closed it,
    #: or damage) is audited as it is: unsure, with watch.error (reason: incomplete)
    incomplete_timeout: float = 3600.0
    batch_size: int = 256  # most jobs per audit batch (one intent commit, one fsync, one finish)
    hash_content: bool = True
    #: audit processes for the engine's work and hashing (None: one per CPU, at most 4,
    #: none on a single CPU; 0: audit in the worker thread)
    audit_processes: int | None = None


@dataclass
class _Pending:
    path: str
    root: str
    kind: str  # "asset" | "sidecar"
    key: GroupKey | None
    stat: StatVersion | None = None  # dev, ino, size, mtime_ns, ctime_ns
    changed: float = 0.0  # monotonic time of the last observed change
    due: float = 0.0
    stable: bool = False
    settled_wall: float = 0.0
    incomplete_since: float | None = None
    #: what the watcher stopped waiting for (an issue of the audit: unsure), or None
    missing: str | None = None
    errors: int = 0
    #: a sidecar or manifest not there since (monotonic): gone once the grace window passed
    gone_since: float | None = None


@dataclass
class _Linked:
    """A settled file with more than one name, looked at again (see :meth:`Watcher._links`)."""

    root: str
    stat: StatVersion  # what it was when it settled, or when last looked at
    since: float  # monotonic: unchanged since
    every: float  # seconds between looks (doubles, up to LINKED_MAX_EVERY)
    due: float = 0.0  # monotonic: the next look


class Watcher(AssetGrouping, RootSupervisor):
    """Watches ``paths`` under ``policy`` until :meth:`stop`; :meth:`run` returns the exit code.

    :param fs: file access (tests inject failures; the polling backend uses it too).
    :param event_hook: ``hook(root, backend, event) -> bool``; False drops the event (tests
        simulate blind roots with it).
    :param session_factory: builds the :class:`WatchSession` (default: from ``policy``).
    """

    def __init__(
        self,
        policy: Policy,
        paths: Sequence[str | os.PathLike[str]],
        options: WatchOptions | None = None,
        *,
        fs: FileSystem | None = None,
        event_hook: Callable[[str, str, FileSystemEvent], bool] | None = None,
        session: WatchSession | None = None,
        blocked: Sequence[str] = (),
    ) -> None:
        self.policy = policy
        self.options = options or WatchOptions()
        # each folder named as a scan of the root names it: a stage folder given through its
        # link to another share keeps the link's name (its files are in the show, in their
        # stage); the observer watches the link's target (watch_supervisor)
        self.paths = [
            os.fspath(located(given_path(p), policy.root)) for p in (paths or [str(policy.root)])
        ]
        self.fs = fs or FileSystem()
        self.event_hook = event_hook
        self._session = session
        self._blocked = list(blocked)
        self.intake = Intake(self.options.queue_size)
        self.pending: dict[str, _Pending] = {}
        #: (path, dev, ino) of paths named as assets said not to be files (_not_a_file)
        self._said_not_a_file: set[tuple[str, int, int]] = set()
        self._said_linked: set[tuple[str, str]] = set()  # (link, target): said once (reconciler)
        #: links to folders the reconciler found, for the scheduler to watch: (the root's
        #: name, the link, its target)
        self._links_found: queue.SimpleQueue[tuple[str, str, str]] = queue.SimpleQueue()
        #: the linked folders watched as roots of their own: root → (the link, what it said
        #: when the root started, its target)
        self._linked_roots: dict[str, tuple[str, str, str]] = {}
        #: the targets of those, and of those queued (reconciler: add; scheduler: discard)
        self._linked_targets: set[str] = set()
        self.groups: dict[GroupKey, _Group] = {}
        self._readers: dict[str, _Readers] = {}  # folder → which assets read which manifest
        self.inflight: set[GroupKey] = set()
        self._inflight_lock = threading.Lock()
        self._requeued: list[str] = []
        #: assets (root-relative names) to audit again: inputs their ancestry waited for
        #: were audited (from the audit worker); and the groups to send as such
        self._lineage_asked: list[str] = []
        self._lineage_due: set[GroupKey] = set()
        self._heap: list[tuple[float, int, str]] = []
        #: settled files with more than one name (inotify roots), looked at again until
        #: unchanged for ``incomplete_timeout``; and when each is due
        self._linked: dict[str, _Linked] = {}
        self._linked_heap: list[tuple[float, int, str]] = []
        self._dirty: dict[GroupKey, None] = {}  # groups to look at, oldest first
        self._wakeups: list[tuple[float, int, GroupKey]] = []
        self._counter = itertools.count()
        self._cookie_token = secrets.token_hex(4)
        #: the start of this watcher's cookies' names (the supervisor's ``_heartbeat``)
        self._cookie_mine = f"{COOKIE_PREFIX}{os.getpid()}.{self._cookie_token}."
        self.roots: dict[str, _Root] = {}
        self._deepest_first: list[str] = []  # the roots, longest path first
        self._stop = threading.Event()
        self.started = threading.Event()
        self.overflows = 0
        self._overflow_flag = threading.Event()
        self.rescans: list[dict[str, Any]] = []
        self.exit_code: int | None = None
        #: why :meth:`run` returned 2 (the audit log or the state store failed, in the
        #: watcher's thread or the audit worker's), and whether
        #: a ``watch.error`` (reason ``fatal``) saying so could be written
        self.failure: BaseException | None = None
        self.failure_logged = False
        self.state: StateStore | None = None
        self.worker: AuditWorker | None = None
        self.reconciler: Reconciler | None = None
        self.vanished = 0

    # -- public control ----------------------------------------------------------------------
    def stop(self) -> None:
        """Ask :meth:`run` to stop intake, drain in-flight audits and return (thread-safe)."""
        self._stop.set()

    def _new_root(self, path: str) -> _Root:
        """A root to watch at ``path``, its backend chosen from the file system its folder
        (a link's target) is on."""
        opts = self.options
        fstype = filesystem_type(path, opts.mountinfo)
        backend = backend_for(fstype, force_polling=opts.polling)
        network = backend_for(fstype) == "polling"  # NFS/SMB/FUSE: attribute caches lie
        settle = max(opts.settle, opts.network_settle) if network else opts.settle
        return _Root(path, fstype, backend, settle)

    def settle_for(self, root: str) -> float:
        r = self.roots.get(root)
        return r.settle if r is not None else self.options.settle

    # -- the run -----------------------------------------------------------------------------
    def run(self) -> int:
        """Watch until :meth:`stop`; returns 0, or 2 when the audit log or state store fail."""
        from .auditlog import AuditLogError

        opts = self.options
        session = self._session or WatchSession(
            self.policy, command="watch", paths=self.paths, blocked=self._blocked
        )
        self._session = session
        session.watched = tuple(self.paths)
        watch_lineage(session, self.paths)  # (and in the audit processes: the pool reads it)
        state_path = self.policy.state_path or (self.policy.root / ".clearance" / "state.db")
        self.state = state = StateStore(state_path)
        try:
            recovered, abandoned = recover_intents(state, self.policy.audit_log)
        except sqlite3.Error as exc:  # locked past the busy timeout, damaged, disk full
            state.close()
            raise StateError(f"the state store {state_path}: {exc}") from None
        self.worker = worker = AuditWorker(
            session,
            state,
            self.policy,
            self.fs,
            requeue=self._requeue,
            done=self._done,
            reaudit=self._reaudit,
            batch_size=opts.batch_size,
            hash_content=opts.hash_content,
            processes=(
                default_processes() if opts.audit_processes is None else opts.audit_processes
            ),
        )
        self.reconciler = Reconciler(
            self.policy,
            state,
            self.intake,
            self.fs,
            report=self._rescanned,
            linked_s=opts.incomplete_timeout,
        )
        # watchdog warns when its recursive walk re-adds a watch for a just-created folder
        # (the mkdir -p race, WATCH.md S9): expected, handled by the ledger, noise for users
        warnings.filterwarnings(
            "ignore", category=RuntimeWarning, module=r"watchdog\.observers\.inotify"
        )
        install_move_grouping()  # before any observer starts
        install_read_coalescing()
        install_quick_snapshot_diff()
        hook = OverflowHook(self._on_overflow)
        hook.install()
        code = 0
        try:
            for path in self.paths:
                self.roots[path] = self._new_root(path)
            self._deepest_first = sorted(self.roots, key=len, reverse=True)
            worker.start()
            self.reconciler.start()
            # observers first, then the start-up scan (watchdog #1010: both orders race; the ledger dedupes)
            for root in self.roots.values():
                self._start_root(root)
            worker.emit(
                "watch.started",
                message=f"watching {len(self.roots)} folder(s)",
                details={
                    "roots": {
                        r.path: {
                            "backend": r.backend,
                            "fstype": r.fstype,
                            "settle": r.settle,
                            "state": r.state,
                        }
                        for r in self.roots.values()
                    },
                    "settle": opts.settle,
                    "sidecar_grace": opts.sidecar_grace,
                    "interval": opts.interval,
                    "sequence_idle": opts.sequence_idle,
                    "pid": os.getpid(),
                    "audit_processes": worker.pool.processes if worker.pool else 0,
                    "recovered_intents": recovered,
                    "abandoned_intents": abandoned,
                    "schema": state.schema_version,
                },
            )
            for path in state.unfinished():
                self.intake.put(_hint(path, self._root_of(path)))
            for root in self.roots.values():
                if root.state == "running":
                    self._rescan(root, "startup")
            self.started.set()
            self._loop()
        except AuditLogError as exc:  # an event refused (at start, too) or not written
            code = 2
            self.failure = exc
        except (StateError, sqlite3.Error) as exc:  # the ledger cannot be written: stop
            self.failure = self._named(exc)
            code = 2
        finally:
            hook.remove()
            code = self._shutdown(code)
        self.exit_code = code
        return code

    def _loop(self) -> None:
        opts = self.options
        next_supervise = 0.0
        next_stats = (
            time.monotonic() + opts.stats_interval if opts.stats_interval > 0 else float("inf")
        )
        assert self.worker is not None
        while not self._stop.is_set():
            if self.worker.fatal is not None:
                if isinstance(self.worker.fatal, (StateError, sqlite3.Error)):
                    return  # said by _shutdown (watch.error, exit 2), not an internal error
                raise self.worker.fatal
            now = time.monotonic()
            self._drain_intake(now)
            self._tick(now)
            if self._linked_heap and self._linked_heap[0][0] <= now:
                self._links(now)
            self._evaluate_groups(now)
            if now >= next_supervise:
                self._watch_linked_folders()
                self._supervise(now)
                next_supervise = now + 0.5
            if now >= next_stats:
                self._emit_stats()
                next_stats = now + opts.stats_interval
            self._stop.wait(self._pause())

    def _pause(self) -> float:
        """How long the loop may sleep: until the next file or group is due (a quiet period
        that ends is noticed then, not up to a loop later), at most 20 ms while anything is
        pending (new hints wait that long at most), 50 ms when idle."""
        if not (self._heap or self.groups):
            return 0.05
        due = min(
            self._heap[0][0] if self._heap else float("inf"),
            self._wakeups[0][0] if self._wakeups else float("inf"),
        )
        return min(0.02, max(0.0005, due - time.monotonic()))

    # -- intake ------------------------------------------------------------------------------
    def _drain_intake(self, now: float) -> None:
        if self._requeued:
            with self._inflight_lock:
                again, self._requeued = self._requeued, []
            for path in again:
                self._hint(path, self._root_of(path), now)
        if self._lineage_asked or self._lineage_due:
            self._lineage_jobs()
        q = self.intake.queue
        for _ in range(5000):
            try:
                hint = q.get_nowait()
            except Exception:
                break
            if hint.tree:
                self._folders_changed(hint.path)
                assert self.reconciler is not None
                self.reconciler.request(hint.root, hint.path, "folder-event")
                continue
            if hint.linked is not None:
                self._linked_seen(hint.path, hint.root, hint.linked, now)
                continue
            self._hint(hint.path, hint.root, now, scan=hint.scan)
        if self._overflow_flag.is_set():
            self._overflow_flag.clear()
            for root in self.roots.values():
                if root.backend == "inotify" and root.state == "running":
                    self._rescan(root, "overflow")
        if self.intake.spilled.is_set() and len(self.pending) < self.options.max_pending // 2:
            self.intake.spilled.clear()
            for root in self.roots.values():
                if root.state == "running":
                    self._rescan(root, "queue-full")

    def _hint(self, path: str, root: str, now: float, *, scan: bool = False) -> None:
        rel = path[len(root) + 1 :] if path.startswith(root + "/") else None
        if rel is None or in_hidden_folder(rel):
            return  # outside the roots, hidden, or inside a hidden staging folder
        name = rel.rsplit("/", 1)[-1]
        p = self.pending.get(path)
        if p is not None and scan:
            return  # already settling: its own stat checks will see any change
        if p is not None:
            if p.stat is None:
                return  # its first stat() is still to come, and will start the quiet period
            p.changed = now
            p.stable = False
            self._schedule(p, now + self.settle_for(root))
            return
        if is_sidecar(name):
            kind, key = "sidecar", None
        elif is_candidate(name, self.policy):
            kind, key = "asset", _key_for(path)
        else:
            if not scan and not name.startswith(".") and os.path.islink(path):
                # a link made while watching, perhaps to a folder: its folder's walk says so
                # (_linked_folder); following it here could hang on a share that is down
                assert self.reconciler is not None
                self.reconciler.request(root, os.path.dirname(path), "folder-event")
            return  # temporary names and non-media files are never assets
        if len(self.pending) >= self.options.max_pending:
            self.intake.spilled.set()
            return
        p = _Pending(path, root, kind, key, changed=now)
        self.pending[path] = p
        if key is not None:
            group = self.groups.get(key)
            if group is None:
                group = self.groups[key] = _Group(key, root)
            group.members.add(path)
            group.ready_since = None
        self._schedule(p, now)

    def _schedule(self, p: _Pending, due: float) -> None:
        p.due = due
        heapq.heappush(self._heap, (due, next(self._counter), p.path))

    # -- readiness ---------------------------------------------------------------------------
    def _tick(self, now: float) -> None:
        heap = self._heap
        budget = 20000
        while heap and heap[0][0] <= now and budget:
            budget -= 1
            due, _, path = heapq.heappop(heap)
            p = self.pending.get(path)
            if p is None or p.due != due or p.stable:
                continue
            self._check(p, now)

    def _check(self, p: _Pending, now: float) -> None:
        settle = self.settle_for(p.root)
        try:
            st = self.fs.stat(p.path)
        except FileNotFoundError:
            if p.kind == "sidecar" and self._may_come_back(p, now):
                return
            self._forget(p, vanished=True)
            return
        except OSError as exc:
            # EIO/ESTALE: the share hiccuped; never conclude the file is gone
            p.errors += 1
            self._schedule(
                p,
                now + min(30.0, settle * (2 ** min(p.errors, 5)))
                if is_transient(exc)
                else now + settle,
            )
            return
        p.gone_since = None
        if p.kind == "asset" and not stat.S_ISREG(st.st_mode):
            if stat.S_ISDIR(st.st_mode):  # a folder named as one: walked as one, as scan does
                self._forget(p)  # (a frame's: its sequence's audit names it)
                return
            self._not_a_file(p, st)  # a named pipe would never settle into anything to read
            return
        current = stat_version(st)
        if current != p.stat:
            first = p.stat is None
            p.stat = current
            p.incomplete_since = p.missing = None  # a new version: its quiet period starts over
            if (
                first
                and p.kind == "asset"
                and self.state is not None
                and self.state.is_audited(FileVersion.of(p.path, st))
            ):
                self._forget(p)  # already audited: a duplicate event, or our own read
                self._asset_changed(p.path, gone=False)  # or moved back: what reads what?
                return
            p.changed = now
            self._schedule(p, now + settle)
            return
        if now - p.changed < settle:
            self._schedule(p, p.changed + settle)
            return
        if self._racily_clean(p, st, now, settle):
            return
        if p.kind == "asset" and self.options.completeness:
            missing = missing_part(p.path, st.st_size)
            if missing is not None:
                if p.incomplete_since is None:
                    p.incomplete_since = now
                waited = now - p.incomplete_since
                if not missing.damaged and waited < self.options.incomplete_timeout:
                    self._schedule(p, now + settle)
                    return
                self._stop_waiting(p, st, missing, waited + settle)
        p.stable = True
        if st.st_nlink > 1:
            self._watch_links(p.path, p.root, current, now)
        # the quiet period ended when this check was due (or when it ran out, if later): a
        # scheduler running behind does not hide its delay from the measured latency
        p.settled_wall = _wall(max(p.due, p.changed + settle))
        if p.key is not None:
            self._dirty[p.key] = None
        if p.kind == "sidecar":
            self._forget(p)
            self._sidecar_settled(p.path, p.root, now, p.settled_wall)

    def _racily_clean(self, p: _Pending, st: os.stat_result, now: float, settle: float) -> bool:
        """Did ``p`` change so recently that a rewrite of the same size could still leave its
        ``stat`` as it is? Then it is looked at again once that cannot be (True).

        A file system that stamps whole seconds (ext3, HFS+, FAT, some shares) gives a
        rewrite of the same size within the second of the last change the same size, mtime
        and ctime: with ``--settle`` under a second, a file audited within that second and
        rewritten in it would keep the version the ledger holds as audited, and the new
        bytes would never be audited (``scan``'s cache guards against the same with
        :func:`clearance.cache.racy`, as git does). So a file is not taken as settled
        until its last change is a tick of the file system's clock old (3 s for stamps of
        whole seconds, 50 ms for finer ones): any later write then moves the stamp on. At
        most that long past the quiet period (a stamp in the future, from a share whose
        clock runs ahead, would hold it for ever)."""
        wall = time.time_ns()
        age = wall - max(st.st_mtime_ns, st.st_ctime_ns)
        if age >= RACY_NS_COARSE:  # nearly every file: one comparison
            return False
        if not racy((st.st_mtime_ns, st.st_ctime_ns), wall):
            return False
        if now - p.changed >= settle + RACY_NS_COARSE / 1e9:
            return False
        coarse = st.st_mtime_ns % 1_000_000_000 == 0 and st.st_ctime_ns % 1_000_000_000 == 0
        wait = ((RACY_NS_COARSE if coarse else RACY_NS_FINE) - age) / 1e9
        self._schedule(p, now + min(max(wait, 0.005), RACY_NS_COARSE / 1e9))
        return True

    def _watch_links(self, path: str, root: str, version: StatVersion, now: float) -> None:
        """The file ``path`` settled with more than one name (a hard link): look at it
        again later (:meth:`_links`).

        inotify reports a write, a close, a ``utime`` or a ``truncate`` in the folder of the
        name it was made through, and only there: a file published by hard link while its
        writer still writes through its other name, outside the watched folders, changes
        with no event at all in them; so does a file under two watched names written
        through one. Such a file, audited half-written when its writer paused longer than
        the quiet period, would stand until the next reconcile. A polled root compares
        ``stat`` itself: nothing to do there. (An ordinary file costs nothing: one
        comparison of the ``stat`` the quiet period took.)"""
        r = self.roots.get(root)
        if r is None or r.backend != "inotify":
            return
        if path not in self._linked and len(self._linked) >= MAX_LINKED_FILES:
            return  # the next reconcile finds what changed, as for any file
        every = max(self.settle_for(root), 0.05)
        entry = self._linked[path] = _Linked(root, version, now, every, now + every)
        heapq.heappush(self._linked_heap, (entry.due, next(self._counter), path))

    def _linked_seen(self, path: str, root: str, version: StatVersion, now: float) -> None:
        """A reconcile met ``path`` audited at ``version``, with more than one name, changed
        lately (a watcher started while another name of it may still be written through):
        it is looked at again as if it had just settled, against the version the walk saw
        (a write since then is a change, not where the looks start from)."""
        if path in self.pending or path in self._linked:
            return  # settling (it is looked at again once settled), or looked at already
        self._watch_links(path, root, version, now)

    def _links(self, now: float) -> None:
        """Look again at the files with more than one name that are due: one that changed
        is a hint, as an event would have been (it settles, and its new version is audited,
        superseding the last); one unchanged for ``incomplete_timeout`` (``--stalled``, the
        time the watcher gives a writer that went quiet) is no longer looked at: a change
        after that is found by the next reconcile."""
        heap = self._linked_heap
        horizon = self.options.incomplete_timeout
        budget = 2000
        while heap and heap[0][0] <= now and budget:
            budget -= 1
            due, _, path = heapq.heappop(heap)
            entry = self._linked.get(path)
            if entry is None or entry.due != due:
                continue  # no longer looked at, or looked at anew since
            p = self.pending.get(path)
            if p is not None and not p.stable:
                del self._linked[path]  # settling again: it comes back here when it settles
                continue
            try:
                st = self.fs.stat(path)
            except FileNotFoundError:
                del self._linked[path]  # (removing or renaming this name made an event)
                continue
            except OSError:  # a hiccup: look again later
                entry.due = now + entry.every
                heapq.heappush(heap, (entry.due, next(self._counter), path))
                continue
            if stat_version(st) != entry.stat:
                del self._linked[path]
                self._hint(path, entry.root, now)
                continue
            if now - entry.since >= horizon:
                del self._linked[path]
                continue
            entry.every = min(entry.every * 2, max(LINKED_MAX_EVERY, self.settle_for(entry.root)))
            entry.due = now + entry.every
            heapq.heappush(heap, (entry.due, next(self._counter), path))

    def _not_a_file(self, p: _Pending, st: os.stat_result) -> None:
        """A path named as an asset that is a named pipe, a socket or a device: never read
        (a named pipe blocks its reader), never passed over in silence (``scan`` reports it
        as ``run.error``): a ``watch.error`` (reason ``not-a-file``) names it, once for as
        long as it stays what it is."""
        self._forget(p)
        what = special_file(st.st_mode)
        key = (p.path, st.st_dev, st.st_ino)
        if key in self._said_not_a_file:
            return
        self._said_not_a_file.add(key)
        self._emit(
            "watch.error",
            message=f"{p.path}: is {what}, not a regular file; not audited",
            details={"reason": "not-a-file", "path": p.path, "kind": what},
        )

    def _may_come_back(self, p: _Pending, now: float) -> bool:
        """The sidecar or manifest ``p`` is not there: True while it may still come back.

        A publish tool that replaces one by deleting it and writing the new one must not make
        its asset audited without provenance and then again with the new one: the path is
        looked at again every quiet period until ``--sidecar-grace`` has passed (its asset
        waits meanwhile, as for one being written), and only then is it gone."""
        if p.gone_since is None:
            p.gone_since = now
        until = p.gone_since + self.options.sidecar_grace
        if now >= until:
            return False
        self._schedule(p, min(until, now + self.settle_for(p.root)))
        return True

    def _stop_waiting(
        self, p: _Pending, st: os.stat_result, missing: Missing, quiet: float
    ) -> None:
        """``p`` will not become complete: damaged, or unchanged for ``incomplete_timeout``
        (a writer that never closed it). It is audited as it is, its audit unsure (an issue
        names the file and what is missing); if it changes later, that version is audited
        again and supersedes this one."""
        if missing.damaged:
            p.missing = f"damaged: {missing.reason}"
        else:
            p.missing = (
                f"incomplete: {missing.reason}; unchanged for {quiet:.0f} s "
                "(a writer that never closed the file, or a damaged one)"
            )
        self._emit(
            "watch.error",
            message=f"{p.path}: {p.missing}; audited as it is (unsure)",
            details={
                "reason": "incomplete",
                "path": p.path,
                "size": st.st_size,
                "missing": missing.reason,
                "damaged": missing.damaged,
                "quiet_s": round(quiet, 1),
            },
        )

    def _forget(self, p: _Pending, *, vanished: bool = False) -> None:
        self.pending.pop(p.path, None)
        if p.key is not None:
            group = self.groups.get(p.key)
            if group is not None:
                group.members.discard(p.path)
                if vanished and p.kind == "asset" and p.key[2]:
                    # a frame of a sequence went: the frames left are audited again once
                    # the sequence is idle, as scan reads them (from their first frame)
                    group.gone = time.monotonic()
                if not group.members and group.gone is None:
                    self.groups.pop(p.key, None)
                else:
                    self._dirty[p.key] = None  # the others may be ready now
        if vanished and p.kind == "sidecar":
            # a sidecar or a detached manifest went away: what its assets' audits read changed
            self._sidecar_settled(p.path, p.root, time.monotonic(), time.time())
        if vanished and p.kind == "asset":
            self.vanished += 1
            if self.worker is not None:  # audits waiting for it as an input wait no more
                self.worker.inputs_gone(p.path)
            self._asset_changed(p.path, gone=True)
            if p.key is not None and not p.key[2]:  # (a sequence: once its last frame went)
                self._name_freed(p.key, p.root)
            if self.state is not None and p.stat is not None:
                self.state.mark([FileVersion(p.path, *p.stat)], "vanished")
            if self.state is not None:
                self.state.mark_path_vanished(p.path)

    # -- callbacks from other threads --------------------------------------------------------------
    def _requeue(self, path: str) -> None:
        with self._inflight_lock:
            self._requeued.append(path)

    def _reaudit(self, assets: list[str]) -> None:
        with self._inflight_lock:
            self._lineage_asked.extend(assets)

    def _lineage_jobs(self) -> None:
        """Send the assets the audit worker asked to audit again (inputs their ancestry
        waited for were audited) as jobs: at once when nothing else holds them, else when
        the job their settling makes is sent (it carries the request), or once the audit
        under way is done."""
        with self._inflight_lock:
            asked, self._lineage_asked = self._lineage_asked, []
        for name in asked:
            key = key_of_asset(os.path.join(str(self.policy.root), name))
            if self._root_of_or_none(key[0]) is not None:
                self._lineage_due.add(key)
        assert self.worker is not None
        for key in list(self._lineage_due):
            if key in self.groups or key in self.inflight:
                continue  # its job carries the request (_evaluate), or it is tried next loop
            self._lineage_due.discard(key)
            files = self._files_on_disk(key)
            if not files:
                continue
            job = Job(key, files, settled_at=time.time(), pairing="sidecar", lineage=True)
            with self._inflight_lock:
                self.inflight.add(key)
            try:
                self.worker.jobs.put_nowait(job)
            except queue.Full:  # the worker is behind: next loop
                with self._inflight_lock:
                    self.inflight.discard(key)
                self._lineage_due.add(key)
                return

    def _root_of_or_none(self, path: str) -> str | None:
        """The deepest watched root ``path`` is in (a stage folder given through its link is
        a root of its own inside the show's), or None."""
        for root in self._deepest_first:
            if path == root or path.startswith(root + "/"):
                return root
        return None

    def _done(self, key: GroupKey) -> None:
        with self._inflight_lock:
            self.inflight.discard(key)

    def _on_overflow(self) -> None:
        self.overflows += 1
        self._overflow_flag.set()

    def _on_cookie(self, root: str, name: str) -> None:
        # (in an observer's thread) only this watcher's own cookies are looked for: another
        # watcher's of the same folder, kept, would grow the set for as long as this one
        # ran with its heartbeat off (nothing clears it then)
        r = self.roots.get(root)
        if r is not None and name.startswith(self._cookie_mine):
            r.cookie_seen.add(name)

    def _linked_folders(self, paths: list[str], root: str) -> None:
        """Links to folders under the watched ``root`` (``comp -> /mnt/fast/show01/comp``),
        met by a reconcile walk (at start-up, periodically, or of its folder when a link is
        made there; in the reconciler's thread). inotify does not follow links: the
        scheduler watches each target as a root of its own (:meth:`_watch_linked_folders`),
        named by the link, or by its real path when that is in the show (as ``scan`` of the
        show names it). Not watched again: a target inside a watched root or watched
        already (a second link to one share). A ``watch.error`` (reason ``linked-folder``),
        once per link and target, names one that is not watched: its target holds a watched
        root (a link to the show's parent, to ``/``: the show a second time), or
        :data:`MAX_LINKED_FOLDERS` are watched already. (A root watched by polling follows
        links: nothing to do.)"""
        watched = self.roots.get(root)
        if not paths or (watched is not None and watched.backend == "polling"):
            return
        reals = [os.path.realpath(r) for r in list(self.roots)]  # once per walk, not per link
        show = str(self.policy.root)
        for path in paths:
            target = os.path.realpath(path)
            if any(
                target == real or target.startswith(real.rstrip(os.sep) + os.sep) for real in reals
            ):
                continue
            if target in self._linked_targets:
                continue  # watched, or about to be, through this link or another
            inside = target.rstrip(os.sep) + os.sep
            holds = any(real.startswith(inside) for real in reals)
            if not holds and len(self._linked_targets) < MAX_LINKED_FOLDERS:
                in_show = target == show or target.startswith(show.rstrip(os.sep) + os.sep)
                self._linked_targets.add(target)
                self._links_found.put((target if in_show else path, path, target))
                continue
            if (path, target) in self._said_linked:
                continue
            self._said_linked.add((path, target))
            why = (
                "which holds a folder this watcher watches"
                if holds
                else f"and {MAX_LINKED_FOLDERS} linked folders are watched already"
            )
            self._emit(
                "watch.error",
                message=(
                    f"{path}: a link to the folder {target}, {why}: it is not watched through "
                    "the link, and files written there outside the watched folders are not "
                    "audited (watch it as a root of its own, or audit it with clearance scan)"
                ),
                details={"reason": "linked-folder", "path": path, "target": target},
            )

    def _watch_linked_folders(self) -> None:
        """In the scheduler's thread: start watching the linked folders the reconciler found
        (a root each, watched at its target, walked at once), and stop watching one whose
        link was removed or now points elsewhere (only the link is looked at, never its
        target: a share that is down would hang this thread); a reconcile of the folder the
        link is in then decides again what it points to."""
        while True:
            try:
                name, path, target = self._links_found.get_nowait()
            except queue.Empty:
                break
            try:
                link = os.readlink(path)
            except OSError:  # gone (or no longer a link) since the reconcile met it
                self._linked_targets.discard(target)
                continue
            if name in self.roots:
                continue
            root = self._new_root(name)
            self._linked_roots[name] = (path, link, target)
            self.roots[name] = root
            self._deepest_first = sorted(self.roots, key=len, reverse=True)
            self._start_root(root)
            if root.state == "running":
                self._rescan(root, "linked-folder")
        for name, (path, link, target) in list(self._linked_roots.items()):
            try:
                if os.readlink(path) == link:
                    continue
            except OSError:
                pass  # removed, or replaced by a folder
            root = self.roots.pop(name)
            del self._linked_roots[name]
            self._linked_targets.discard(target)
            self._deepest_first = sorted(self.roots, key=len, reverse=True)
            self._stop_root(root)
            root.state = "stopped"
            parent = self._root_of_or_none(os.path.dirname(path))
            if parent is not None and self.roots[parent].state == "running":
                self._rescan(self.roots[parent], "linked-folder", os.path.dirname(path))

    def _rescanned(self, report: RescanReport) -> None:
        self._linked_folders(report.linked, report.root)
        record = {
            "reason": report.reason,
            "root": report.root,
            "path": report.path,
            "dirs": report.dirs,
            "files": report.files,
            "queued": report.queued,
            "errors": report.errors,
            "complete": report.complete,
            "duration_s": round(report.duration, 3),
        }
        self.rescans.append(record)
        if len(self.rescans) > 1000:
            del self.rescans[:500]
        if report.reason == "folder-event" and not report.errors:
            return  # a new folder walked: counted in watch.stats, not worth an event each
        with contextlib.suppress(Exception):
            self._emit(
                "watch.rescan",
                message=f"rescan of {report.path} ({report.reason}): {report.queued} to check",
                details=record,
            )

    def _emit(self, event: str, **fields: Any) -> None:
        assert self.worker is not None
        self.worker.emit(event, **fields)

    def _root_of(self, path: str) -> str:
        root = self._root_of_or_none(path)
        return self.paths[0] if root is None else root

    def _rescan(self, root: _Root, reason: str, path: str | None = None) -> None:
        assert self.reconciler is not None
        root.last_rescan = time.monotonic()
        self.reconciler.request(root.path, path or root.path, reason)

    # -- shutdown ----------------------------------------------------------------------------------
    def _shutdown(self, code: int) -> int:
        from .auditlog import AuditLogError

        for root in self.roots.values():
            self._stop_root(root)
            root.state = "stopped"
            if root.cookie is not None:
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(root.path, root.cookie[0]))
        if self.reconciler is not None:
            self.reconciler.stopping.set()
            if self.reconciler.is_alive():
                self.reconciler.join(timeout=10.0)
        worker = self.worker
        if worker is not None and worker.is_alive():
            worker.stopping.set()
            worker.join()
        if worker is not None and worker.fatal is not None:
            self.failure = self.failure or self._named(worker.fatal)
        if self.failure is not None:
            code = 2
        persisted = self._persist_pending()
        try:
            if worker is not None and code == 0:
                stats = self._emit_stats(final=True)
                worker.emit(
                    "watch.stopped",
                    message="watcher stopped",
                    details={
                        "pending": persisted,
                        "audited": worker.audited,
                        "overflows": self.overflows,
                        "rescans": stats["rescans"],
                        "exit_code": code,
                    },
                )
            elif worker is not None and self.failure is not None:
                failure = self.failure
                with contextlib.suppress(Exception):  # the log may be what failed
                    worker.emit(
                        "watch.error",
                        message=f"watcher stopped: {failure}",
                        details={
                            "reason": "fatal",
                            "error": f"{type(failure).__name__}: {failure}",
                        },
                    )
                    self.failure_logged = True
            if self._session is not None:
                self._session.close(exit_code=code)
        except AuditLogError as exc:  # the last events not written: say which log, and why
            code = 2
            self.failure = self.failure or exc
        if self.state is not None:
            self.state.close()
        return code

    def _named(self, exc: BaseException) -> BaseException:
        """``exc`` naming the file that failed: SQLite's errors name none (the audit log's
        and the ledger's own errors do)."""
        if isinstance(exc, sqlite3.Error) and self.state is not None:
            named = StateError(state_write_error(self.state.path, exc))
            named.__cause__ = exc
            return named
        return exc

    def _persist_pending(self) -> int:
        """Record every file still settling in the ledger, so a restart finishes it first."""
        if self.state is None:
            return 0
        versions = []
        for path in list(self.pending) + list(self._requeued):
            try:
                versions.append(FileVersion.of(path, os.stat(path)))
            except OSError:
                continue
        with contextlib.suppress(Exception):
            self.state.mark(versions, "settling")
        return len(versions)


def _hint(path: str, root: str) -> Any:
    from .watch_intake import Hint

    return Hint(path, root, scan=True)


def watch_paths(policy: Policy, paths: Sequence[str], options: WatchOptions, **kwargs: Any) -> int:
    """Run a watcher in this thread until SIGINT/SIGTERM-driven :meth:`Watcher.stop`."""
    return Watcher(policy, paths, options, **kwargs).run()
