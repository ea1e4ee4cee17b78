"""Event intake: watchdog events become path *hints* in a bounded queue, nothing more.

The handler runs in a watchdog thread: the inotify emitter's own (see :func:`make_observer`),
or the observer's dispatcher thread (polling, or a watchdog whose internals are not the ones
this was written for). An exception there kills that thread silently, and slow work there
starves the inotify reader until the kernel queue overflows (WATCH.md EXP-1/EXP-2). So
:class:`HintHandler` only normalises an event into paths and ``put_nowait``\\s them; it
never raises. When the queue is full the hint is dropped and :attr:`Intake.spilled` is set:
the watcher answers with a rescan ("spill to rescan"), so memory stays bounded and nothing
is lost.

No ignore patterns are applied here (watchdog's ``IgnorePolicy.ANY`` drops ``x.tmp → x``
renames entirely); classification is the watcher's job.

:func:`install_move_grouping` gives watchdog's inotify move grouper a queue without its two
costs in a burst of renames (a scan of every unread event per rename, and a 0.5 s stall of the
emitter): see :class:`_MoveGroupingQueue`.

:func:`make_observer` gives the inotify watches a kernel mask without ``IN_MODIFY``, which comes
once per ``write()``: a frame written in 64 KiB chunks would otherwise be hundreds of events,
each a trip through watchdog's threads. A write is seen when its file is closed
(``IN_CLOSE_WRITE``), and the quiet period is measured with ``stat``, not with events. Its
emitter also hands each event to the handler itself, in its own thread, instead of queueing it
for the observer's dispatcher thread: one thread hop and one queue less per event, which in
a burst was about a tenth of the watcher's CPU.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from watchdog.events import (
    DirCreatedEvent,
    DirMovedEvent,
    FileAttribEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.utils.delayed_queue import DelayedQueue

__all__ = [
    "Hint",
    "Intake",
    "HintHandler",
    "OverflowHook",
    "EVENT_FILTER",
    "COOKIE_PREFIX",
    "install_move_grouping",
    "install_read_coalescing",
    "close_observer",
    "make_observer",
]

#: Hidden name of the heartbeat cookie files the watcher writes into each root.
COOKIE_PREFIX = ".clearance-cookie."

#: The events the watcher asks the kernel for: no IN_OPEN / IN_CLOSE_NOWRITE / IN_ACCESS, so
#: the watcher's own reads of assets make no events at all (WATCH.md S23). ``FileModifiedEvent``
#: is what brings IN_ATTRIB (utime, chmod); :func:`make_observer` then takes IN_MODIFY out.
EVENT_FILTER: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    FileClosedEvent,
    FileAttribEvent,
    DirCreatedEvent,
    DirMovedEvent,
]


@dataclass(frozen=True)
class Hint:
    """Something may have changed at ``path`` (``tree``: walk it, it is a folder)."""

    path: str
    root: str
    tree: bool = False
    scan: bool = False  # from a reconcile walk: "check this", not "this changed"
    #: from a reconcile walk: an audited file with more than one name, changed lately, and
    #: its version (dev, ino, size, mtime_ns, ctime_ns) the walk saw: the scheduler looks at
    #: it again, as at one that settled (``Watcher._watch_links``)
    linked: tuple[int, int, int, int, int] | None = None


class Intake:
    """A bounded queue of hints; ``offer`` never blocks and never raises."""

    def __init__(self, maxsize: int) -> None:
        self.queue: queue.Queue[Hint] = queue.Queue(maxsize=maxsize)
        self.spilled = threading.Event()
        self.dropped = 0
        self.received = 0

    def offer(self, hint: Hint) -> None:
        self.received += 1
        try:
            self.queue.put_nowait(hint)
        except queue.Full:
            self.dropped += 1
            self.spilled.set()

    def put(self, hint: Hint, timeout: float = 0.5) -> bool:
        """Blocking put for the reconciler (which must not spill); False on timeout."""
        try:
            self.queue.put(hint, timeout=timeout)
            return True
        except queue.Full:
            return False

    def depth(self) -> int:
        return self.queue.qsize()


class HintHandler(FileSystemEventHandler):
    """The only code that runs in watchdog's threads (the emitter's, or the dispatcher's).

    One handler per root and one emitter per root: several may run at once, on one
    :class:`Intake` (a thread-safe queue; its counters are statistics)."""

    def __init__(
        self,
        root: str,
        backend: str,
        intake: Intake,
        on_cookie: Callable[[str, str], None],
        hook: Callable[[str, str, FileSystemEvent], bool] | None = None,
        *,
        real: str | None = None,
    ) -> None:
        self.root = root
        #: the folder the observer watches when it is not ``root`` (a root given through a
        #: link): its paths are named under ``root``
        self.real = None if real is None or real == root else real
        self.backend = backend
        self.intake = intake
        self.on_cookie = on_cookie
        self.hook = hook
        self.errors = 0

    def dispatch(self, event: FileSystemEvent) -> None:
        try:
            if self.hook is not None and not self.hook(self.root, self.backend, event):
                return  # fault injection in tests: the event is "lost"
            for path, tree in _paths(event):
                real = self.real
                if real is not None and (path == real or path.startswith(real + "/")):
                    path = self.root + path[len(real) :]
                name = path.rsplit("/", 1)[-1]
                if name.startswith(COOKIE_PREFIX):
                    self.on_cookie(self.root, name)
                    continue
                self.intake.offer(Hint(path, self.root, tree))
        except BaseException:  # never let anything escape into watchdog's thread
            self.errors += 1
            self.intake.spilled.set()


def _paths(event: FileSystemEvent) -> list[tuple[str, bool]]:
    src = _text(event.src_path)
    dest = _text(event.dest_path)
    kind = event.event_type
    if kind in ("opened", "closed_no_write"):
        return []
    if event.is_directory:
        if kind in ("created", "moved"):
            return [(dest or src, True)] if kind == "moved" else [(src, True)]
        return []
    if kind == "moved":
        # the destination is the file to audit; the source may have been pending (vanished)
        return [(p, False) for p in (dest, src) if p]
    return [(src, False)] if src else []


def _text(path: str | bytes) -> str:
    return path.decode("utf-8", "surrogateescape") if isinstance(path, bytes) else path


class OverflowHook(logging.Handler):
    """Watchdog 7.1 only *logs* an inotify queue overflow; this turns the log line into a call."""

    # inotify_c logs once per overflow; inotify.py logs once per watch group (not counted)
    LOGGERS = ("watchdog.observers.inotify_c",)

    def __init__(self, callback: Callable[[], None]) -> None:
        super().__init__(level=logging.WARNING)
        self.callback = callback

    def emit(self, record: logging.LogRecord) -> None:
        try:
            if "overflow" in record.getMessage().lower():
                self.callback()
        except Exception:  # a logging handler must not raise
            pass

    def install(self) -> None:
        for name in self.LOGGERS:
            logger = logging.getLogger(name)
            logger.addHandler(self)
            if logger.getEffectiveLevel() > logging.WARNING:
                logger.setLevel(logging.WARNING)

    def remove(self) -> None:
        for name in self.LOGGERS:
            logging.getLogger(name).removeHandler(self)


class _MoveGroupingQueue(DelayedQueue):  # type: ignore[type-arg]
    """watchdog's move-grouping queue, without its two stalls in a burst of renames.

    ``InotifyMoveEventGrouper`` keeps *every* raw inotify event in one ``DelayedQueue`` until
    the emitter thread reads it; an ``IN_MOVED_FROM`` is held up to 0.5 s for its
    ``IN_MOVED_TO``. Two behaviours of that queue cost a burst dearly (watchdog 7.1):

    * the ``IN_MOVED_FROM`` of each ``IN_MOVED_TO`` is looked up (twice) by scanning the queue
      from the oldest event. When the emitter falls behind, the queue holds thousands of
      events and every rename scans them all: in a 5,000-file burst with 2,500 ``x.tmp → x``
      renames this was most of the watcher process's CPU. The ``IN_MOVED_FROM`` is almost
      always the newest event and a cookie matches one event at most, so :meth:`_index_and_item`
      scans from the newest: same event, found at once;
    * when the emitter reads an ``IN_MOVED_FROM`` before the reader thread has queued its
      ``IN_MOVED_TO`` (a thread switch between the two), it *sleeps* the full 0.5 s, and every
      event behind it waits, although the pair was grouped a moment later. Here :meth:`get`
      waits on the queue's condition instead, and :meth:`remove` wakes it.

    Events come out in the same order and grouped the same way as with watchdog's queue.
    """

    def _index_and_item(self, predicate: Callable[[Any], bool]) -> tuple[int, Any] | None:
        items = self._queue
        for i in range(len(items) - 1, -1, -1):
            element = items[i][0]
            if predicate(element):
                return i, element
        return None

    def get(self) -> Any:
        with self._not_empty:
            while True:
                if self._closed:
                    return None
                if not self._queue:
                    self._not_empty.wait()
                    continue
                head, inserted, delay = self._queue[0]
                left = inserted + self.delay - time.monotonic() if delay else 0.0
                if left > 0:
                    self._not_empty.wait(left)  # woken when it is paired (removed) or closed
                    continue
                self._queue.popleft()
                return head

    def remove(self, predicate: Callable[[Any], bool]) -> Any:
        with self._not_empty:
            found = self._index_and_item(predicate)
            if found is None:
                return None
            del self._queue[found[0]]
            self._not_empty.notify()
            return found[1]


def install_move_grouping() -> bool:
    """Make watchdog's inotify move grouper use :class:`_MoveGroupingQueue` (idempotent).

    Applies to groupers created afterwards (each observer start creates its own). Returns
    False, and changes nothing, if this watchdog's internals are not the ones it was written
    for (its own queue is correct, only slower in a burst).
    """
    try:
        from watchdog.observers import inotify_move_event_grouper as grouper
    except ImportError:  # no inotify on this platform
        return False
    current = getattr(grouper, "DelayedQueue", None)
    if current is _MoveGroupingQueue:
        return True
    internals = ("_index_and_item", "_not_empty", "_queue", "_closed")
    probe: DelayedQueue[Any] = DelayedQueue(0.0)
    if current is not DelayedQueue or not all(hasattr(probe, a) for a in internals):
        return False
    setattr(grouper, "DelayedQueue", _MoveGroupingQueue)  # noqa: B010 (a module global)
    return True


#: How long watchdog's inotify reader waits, once the kernel says events are there, before it
#: reads them (see :func:`install_read_coalescing`).
READ_GATHER = 0.002


def install_read_coalescing(gather: float = READ_GATHER) -> bool:
    """Make watchdog's inotify reader read the events of ``gather`` seconds at once
    (idempotent).

    watchdog's reader thread wakes when the kernel has an event, reads what is there and hands
    it on, event by event, to the emitter's thread. Files written at a steady few hundred a
    second (five events each: created, closed, renamed) then wake it, and the emitter after
    it, once per event, and each wake-up costs more than the event. Waiting ``gather`` seconds
    after the kernel says "readable" lets the events of those seconds be read, and passed on,
    in one go: fewer wake-ups, the same events in the same order, at most ``gather`` seconds
    later (the quiet period is a second). The kernel's queue holds 16,384 events by default,
    which no writer fills in 2 ms. Returns False, and changes nothing, if this watchdog's
    internals are not the ones it was written for.
    """
    try:
        from watchdog.observers.inotify_c import InotifyFD
    except Exception:  # no inotify on this platform
        return False
    current = getattr(InotifyFD, "_check_inotify_fd", None)
    if getattr(current, "_clearance_gather", None) is not None:
        current._clearance_gather = gather  # type: ignore[union-attr]
        return True
    if not callable(current) or not callable(getattr(InotifyFD, "_read_event_buffer", None)):
        return False

    def _check_inotify_fd(self: Any) -> bool:
        readable = bool(current(self))
        wait = _check_inotify_fd._clearance_gather  # type: ignore[attr-defined]
        if readable and wait > 0:
            time.sleep(wait)
        return readable

    _check_inotify_fd._clearance_gather = gather  # type: ignore[attr-defined]
    setattr(InotifyFD, "_check_inotify_fd", _check_inotify_fd)  # noqa: B010 (a library's)
    return True


def make_observer() -> BaseObserver:
    """watchdog's observer for this platform; with inotify, one whose watches leave out
    IN_MODIFY, and whose emitter calls the handler itself.

    A file being written is still seen: created (IN_CREATE), closed after writing
    (IN_CLOSE_WRITE), renamed, deleted, or touched (IN_ATTRIB); the readiness gate's ``stat``
    checks see it grow. What IN_MODIFY alone would tell (a file still held open and written
    after its audit, ``truncate(2)`` by path) is seen at the close, or by the periodic
    reconcile.

    The emitter passes each event that the watch's filter lets through straight to the one
    handler scheduled with it (:meth:`HintHandler.dispatch`, which never blocks and never
    raises), in the order watchdog made them; the observer's dispatcher thread then has
    nothing to do. Where this watchdog's internals are not the ones this was written for, its
    own observer is returned unchanged: correct, only busier.
    """
    direct = _direct_observer()
    return direct() if direct is not None else Observer()


def close_observer(observer: BaseObserver) -> None:
    """Stop ``observer`` and wait for its threads, whether it started or not: an inotify
    observer has its own inotify instance and reader thread from the moment it is made, which
    only stopping it closes (a ``start()`` that failed — its folder gone before the watch was
    added — leaves them behind otherwise, one more each time the folder fails to start)."""
    with contextlib.suppress(Exception):
        observer.stop()
    with contextlib.suppress(Exception):  # (RuntimeError: never started)
        observer.join(timeout=5.0)


@cache
def _direct_observer() -> type[Any] | None:
    try:
        from watchdog.observers.inotify import InotifyEmitter, InotifyObserver
        from watchdog.observers.inotify_c import InotifyConstants
    except Exception:  # no inotify on this platform (ImportError, or no such libc call)
        return None
    needs = (
        callable(getattr(InotifyEmitter, "get_event_mask_from_filter", None))
        and callable(getattr(InotifyEmitter, "queue_event", None))
        and Observer is InotifyObserver
    )
    if not needs:
        return None
    modify = InotifyConstants.IN_MODIFY

    class DirectInotifyEmitter(InotifyEmitter):
        handler: FileSystemEventHandler | None = None
        wanted: tuple[type[FileSystemEvent], ...] | None = None

        def get_event_mask_from_filter(self) -> Any:
            return super().get_event_mask_from_filter() & ~modify

        def queue_event(self, event: FileSystemEvent) -> None:
            handler = self.handler
            if handler is None:  # not (yet) bound to its handler: watchdog's own way
                super().queue_event(event)
            elif self.wanted is None or isinstance(event, self.wanted):
                handler.dispatch(event)

    class DirectInotifyObserver(InotifyObserver):  # type: ignore[misc,valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if getattr(self, "_emitter_class", None) is InotifyEmitter:  # else: watchdog's way
                self._emitter_class = DirectInotifyEmitter

        def schedule(  # type: ignore[override]
            self,
            event_handler: FileSystemEventHandler,
            path: str,
            *,
            recursive: bool = False,
            event_filter: list[type[FileSystemEvent]] | None = None,
        ) -> Any:
            before = set(self.emitters)
            watch = super().schedule(
                event_handler, path, recursive=recursive, event_filter=event_filter
            )
            added = [e for e in self.emitters if e not in before]
            if len(added) == 1 and isinstance(added[0], DirectInotifyEmitter):
                # bound before start() (as the supervisor schedules): every event of this
                # watch takes the direct way; after it, the first few may take watchdog's
                added[0].wanted = tuple(event_filter) if event_filter is not None else None
                added[0].handler = event_handler
            return watch

    return DirectInotifyObserver
