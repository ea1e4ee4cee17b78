"""Supervision of the watcher's roots: backends, liveness, heartbeats, watch limits, stats.

:class:`RootSupervisor` is a mixin of :class:`clearance.watch.Watcher` (the scheduler thread
calls :meth:`RootSupervisor._supervise` every half second). Per root it:

* starts the backend chosen from ``/proc/self/mountinfo`` (inotify locally, polling on
  NFS/SMB/FUSE or with ``--polling``), and falls back to polling when inotify cannot watch
  everything (``ENOSPC``/``EMFILE``, ``--max-watches``, fewer watches than folders);
* rebuilds an observer whose thread or emitter died, then reconciles;
* notices a root that vanished (stops its observer) and one that came back (restarts,
  reconciles); transient errors (EIO, ESTALE) decide nothing;
* writes a hidden heartbeat cookie and expects its event: a blind root is switched to polling;
* emits ``watch.stats``.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from watchdog.events import FileSystemEvent
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserverVFS

from .watch_intake import (
    EVENT_FILTER,
    HintHandler,
    Intake,
    close_observer,
    make_observer,
)
from .watch_readiness import FileSystem, is_transient
from .watch_reconcile import Reconciler, walk_dirs

if TYPE_CHECKING:
    from .watch import WatchOptions
    from .watch_audit import AuditWorker

__all__ = ["RootSupervisor", "watch_count"]


@dataclass
class _Root:
    path: str
    fstype: str | None
    backend: str
    settle: float
    observer: BaseObserver | None = None
    state: str = "starting"  # running | missing | stopped
    cookie: tuple[str, float] | None = None
    cookie_seen: set[str] = field(default_factory=set)
    #: polling snapshots of the root begun so far (each lists the root first), and how many
    #: had begun when the outstanding cookie was written
    snapshots: int = 0
    cookie_snapshots: int = 0
    next_cookie: float = 0.0
    blind: int = 0
    #: the heartbeat cookie cannot be written here (said once, until one can be again)
    heartbeat_off: bool = False
    restarts: int = 0
    last_rescan: float = 0.0


class RootSupervisor:
    """Mixin: the per-root supervision of a :class:`~clearance.watch.Watcher`."""

    options: WatchOptions
    fs: FileSystem
    intake: Intake
    event_hook: Callable[[str, str, FileSystemEvent], bool] | None
    roots: dict[str, _Root]
    reconciler: Reconciler | None
    worker: AuditWorker | None
    pending: dict[str, Any]
    groups: dict[Any, Any]
    inflight: set[Any]
    overflows: int
    vanished: int
    _linked: dict[str, Any]
    _counter: itertools.count[int]
    _cookie_mine: str  # the start of its cookies' names: prefix, pid, a random token

    def _emit(self, event: str, **fields: Any) -> None:
        raise NotImplementedError

    def _rescan(self, root: _Root, reason: str, path: str | None = None) -> None:
        raise NotImplementedError

    def _on_cookie(self, root: str, name: str) -> None:
        raise NotImplementedError

    def _start_root(self, root: _Root) -> None:
        opts = self.options
        try:
            self.fs.stat(root.path)
        except FileNotFoundError:
            if root.state != "missing":
                root.state = "missing"
                self._emit(
                    "watch.error",
                    message=f"{root.path}: folder not found; waiting for it to appear",
                    details={"reason": "root-missing", "root": root.path},
                )
            return
        except OSError:
            return
        # inotify watches a folder, not the link to it: a root given through a link is watched
        # at its target, and the handler names what happens there under the root's own name
        real = os.path.realpath(root.path) if root.backend != "polling" else root.path
        handler = HintHandler(
            root.path, root.backend, self.intake, self._on_cookie, self.event_hook, real=real
        )
        observer: BaseObserver | None = None
        try:
            if root.backend == "polling":
                observer = PollingObserverVFS(
                    self.fs.stat, _counting_listdir(root, self.fs), polling_interval=opts.interval
                )
                observer.schedule(handler, root.path, recursive=True)
            else:
                if opts.max_watches is not None:
                    dirs = walk_dirs(real)
                    if dirs > opts.max_watches:
                        self._fallback(
                            root,
                            "watch-limit",
                            f"{dirs} folders exceed the watch limit {opts.max_watches}",
                            dirs=dirs,
                        )
                        return
                observer = make_observer()
                observer.schedule(handler, real, recursive=True, event_filter=EVENT_FILTER)
            try:
                observer.start()
            except BaseException:
                # an inotify observer's instance and reader thread exist from the moment it
                # is made: only stopping it closes them (else one more each failed start)
                close_observer(observer)
                raise
        except FileNotFoundError:
            if observer is not None:  # (schedule() failed: the folder went meanwhile)
                close_observer(observer)
            root.state = "missing"
            return
        except OSError as exc:
            if observer is not None:
                close_observer(observer)
            if root.backend == "inotify":
                self._fallback(root, "watch-limit", f"inotify: {exc.strerror or exc}")
                return
            raise
        root.observer = observer
        root.state = "running"
        # a cookie written before this observer started is a file it can never see created
        # (inotify watched after it; polling has it in its first snapshot): the heartbeat
        # starts again with this observer, or a rebuilt one would be taken for blind
        self._forget_cookie(root)
        root.next_cookie = (
            time.monotonic() + min(1.0, opts.heartbeat) if opts.heartbeat else float("inf")
        )

    def _forget_cookie(self, root: _Root) -> None:
        """Stop waiting for ``root``'s outstanding heartbeat cookie, and remove its file."""
        if root.cookie is not None:
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(root.path, root.cookie[0]))
        root.cookie = None
        root.cookie_seen.clear()

    def _stop_root(self, root: _Root) -> None:
        observer, root.observer = root.observer, None
        if observer is not None:
            close_observer(observer)

    def _fallback(self, root: _Root, reason: str, message: str, **extra: Any) -> None:
        """Switch ``root`` to the polling backend (and say so), then reconcile it."""
        self._emit(
            "watch.error",
            message=f"{root.path}: {message}; switching to polling",
            details={"reason": reason, "root": root.path, "backend": "polling", **extra},
        )
        self._stop_root(root)
        root.backend = "polling"
        self._forget_cookie(root)  # (left in the root otherwise, when not said blind)
        self._start_root(root)
        if root.state == "running":
            self._rescan(root, reason)

    def _supervise(self, now: float) -> None:
        opts = self.options
        for root in self.roots.values():
            try:
                self.fs.stat(root.path)
                exists = True
            except FileNotFoundError:
                exists = False
            except OSError:
                continue  # transient: decide nothing
            if not exists:
                if root.state != "missing":
                    self._stop_root(root)
                    root.state = "missing"
                    self._emit(
                        "watch.error",
                        message=f"{root.path}: folder disappeared; waiting for it to reappear",
                        details={"reason": "root-missing", "root": root.path},
                    )
                continue
            if root.state == "missing":
                self._start_root(root)
                if root.state == "running":
                    self._emit(
                        "watch.rescan",
                        message=f"{root.path}: folder is back",
                        details={"reason": "root-reappeared", "root": root.path, "queued": 0},
                    )
                    self._rescan(root, "root-reappeared")
                continue
            obs = root.observer
            if obs is None:
                continue
            emitters = list(obs.emitters)
            if not obs.is_alive() or not emitters or not all(e.is_alive() for e in emitters):
                root.restarts += 1
                self._emit(
                    "watch.error",
                    message=f"{root.path}: the {root.backend} observer died; rebuilding it",
                    details={
                        "reason": "emitter-died",
                        "root": root.path,
                        "restarts": root.restarts,
                    },
                )
                self._stop_root(root)
                self._start_root(root)
                if root.state == "running":
                    self._rescan(root, "emitter-restart")
                continue
            if root.backend == "inotify" and opts.max_watches is not None:
                watches = watch_count(obs)
                if watches is not None and watches > opts.max_watches:
                    self._fallback(
                        root,
                        "watch-limit",
                        f"{watches} folders need more inotify watches than the limit {opts.max_watches}",
                        watches=watches,
                    )
                    continue
            self._check_watches(root)
            self._heartbeat(root, now)
            if opts.rescan_interval > 0 and now - root.last_rescan >= opts.rescan_interval:
                self._rescan(root, "periodic")

    def _check_watches(self, root: _Root) -> None:
        if root.backend != "inotify" or root.observer is None or self.reconciler is None:
            return
        dirs = self.reconciler.dirs_by_root.pop(root.path, None)
        if dirs is None:
            return
        watches = watch_count(root.observer)
        limit = self.options.max_watches
        if (limit is not None and dirs > limit) or (watches is not None and watches < dirs):
            self._fallback(
                root,
                "watch-limit",
                f"{dirs} folders but {watches} inotify watches (limit {limit})",
                dirs=dirs,
                watches=watches,
            )

    def _heartbeat(self, root: _Root, now: float) -> None:
        opts = self.options
        if not opts.heartbeat:
            return
        if root.cookie is not None:
            name, sent = root.cookie
            path = os.path.join(root.path, name)
            timeout = max(
                opts.heartbeat_timeout, 3 * opts.interval if root.backend == "polling" else 0
            )
            if name in root.cookie_seen:
                root.cookie = None
                root.cookie_seen.discard(name)
                root.next_cookie = now + opts.heartbeat
                with contextlib.suppress(OSError):
                    os.unlink(path)
            elif now - sent > timeout and (
                # a polled root sees the cookie when a snapshot begun after it was written is
                # compared with the last: a snapshot of a large share can outlast the timeout,
                # so it is blind only once two more snapshots have begun since that one
                root.backend != "polling" or root.snapshots - root.cookie_snapshots >= 3
            ):
                root.cookie = None
                root.blind += 1
                with contextlib.suppress(OSError):
                    os.unlink(path)
                self._fallback(
                    root,
                    "root-blind",
                    f"heartbeat cookie not observed within {timeout:.1f} s",
                    blind=root.blind,
                )
            return
        if now >= root.next_cookie:
            # the process id and a token of this watcher's own: two hosts' watchers of one
            # share may have one pid (containers: 1), and must never take each other's
            # cookie for their own
            name = f"{self._cookie_mine}{next(self._counter)}"
            path = os.path.join(root.path, name)
            # the names seen so far are of cookies done with (this watcher's, whose removal
            # is an event too, and another watcher's of the same folder): forgotten, or the
            # set grew by one or two names each heartbeat for as long as the watcher ran
            root.cookie_seen.clear()
            try:
                with open(path, "w") as f:
                    f.write(str(time.time()))
            except OSError as exc:
                root.next_cookie = now + opts.heartbeat  # tried again then
                with contextlib.suppress(OSError):
                    os.unlink(path)  # made but not written (a full disk): not left behind
                self._heartbeat_off(root, exc)
                return
            root.heartbeat_off = False
            root.cookie = (name, now)
            root.cookie_snapshots = root.snapshots

    def _heartbeat_off(self, root: _Root, exc: OSError) -> None:
        """The cookie could not be written into ``root`` (a read-only folder or share, a
        full disk): its heartbeat, the check that its observer still sees changes, is off.
        Said once (a ``watch.error``, reason ``heartbeat-off``, which the CLI shows on
        stderr), until a cookie can be written again; a hiccup (EIO, ESTALE) or a folder
        that went (``root-missing`` says so) is not said."""
        if root.heartbeat_off or is_transient(exc) or exc.errno == errno.ENOENT:
            return
        root.heartbeat_off = True
        if root.backend == "polling":
            advice = "make the folder writable by the watcher to have it checked"
        else:
            advice = (
                "a blind observer (an export of another host, an unmount, a dead emitter) "
                "would go unnoticed and files would not be audited until the next --rescan; "
                "make the folder writable by the watcher, or watch it with --polling"
            )
        why = exc.strerror or str(exc)
        self._emit(
            "watch.error",
            message=(
                f"{root.path}: cannot write the heartbeat cookie ({why}): the check that its "
                f"{root.backend} observer still sees changes is off for this folder; {advice}"
            ),
            details={
                "reason": "heartbeat-off",
                "root": root.path,
                "backend": root.backend,
                "error": why,
                "errno": errno.errorcode.get(exc.errno, "") if exc.errno else "",
            },
        )

    def _emit_stats(self, final: bool = False) -> dict[str, Any]:
        assert self.worker is not None
        lat = list(self.worker.latencies)
        self.worker.latencies.clear()
        waiting = sum(1 for g in self.groups.values() if g.ready_since is not None)
        details: dict[str, Any] = {
            "queue_depth": self.intake.depth(),
            "pending_files": len(self.pending),
            "pending_assets": len(self.groups),
            "pending_sidecars": waiting,
            "inflight": len(self.inflight),
            "overflows": self.overflows,
            "rescans": self.reconciler.count if self.reconciler else 0,
            "spilled": self.intake.dropped,
            "audited": self.worker.audited,
            "skipped": self.worker.skipped,
            "errors": self.worker.errors,
            "vanished": self.vanished,
            "linked_files": len(self._linked),
            "watches": {
                r.path: watch_count(r.observer) if r.observer else None for r in self.roots.values()
            },
            "backends": {r.path: r.backend for r in self.roots.values()},
            "audit_latency_ms": _percentiles(lat),
            "final": final,
        }
        with contextlib.suppress(Exception):
            self._emit("watch.stats", message="watcher statistics", details=details)
        return details


def _counting_listdir(root: _Root, fs: FileSystem) -> Callable[[str | None], Any]:
    """``fs.scandir`` for a polling observer of ``root`` that counts its snapshots in
    ``root.snapshots`` (a snapshot lists the watched folder first, and once)."""
    top = os.path.abspath(root.path)  # (as watchdog names the watched folder)
    scandir = fs.scandir

    def listdir(path: str | None) -> Any:
        if path == top:
            root.snapshots += 1
        return scandir(path)

    return listdir


def watch_count(observer: BaseObserver | None) -> int | None:
    """Number of inotify watches of an observer (watchdog internals; None if unknown)."""
    if observer is None:
        return None
    total = 0
    for emitter in list(observer.emitters):
        group = getattr(emitter, "_inotify", None)
        paths = getattr(group, "_active_callbacks_by_path", None)
        if paths is None:
            return None
        total += len(paths)
    return total


def _percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "median": None, "p95": None, "p99": None, "max": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)

    return {
        "count": len(values),
        "median": round(statistics.median(ordered) * 1000, 1),
        "p95": pick(0.95),
        "p99": pick(0.99),
        "max": round(ordered[-1] * 1000, 1),
    }
