"""Event intake: watchdog events become path *hints* in a bounded queue, nothing more.

The handler runs in watchdog's dispatcher thread. An exception there kills the dispatcher
silently, and slow work there starves the inotify reader until the kernel queue overflows
(WATCH.md EXP-1/EXP-2). So :class:`HintHandler` only normalises an event into paths and
``put_nowait``\\s them; it never raises. When the queue is full the hint is dropped and
:attr:`Intake.spilled` is set: the watcher answers with a rescan ("spill to rescan"), so
memory stays bounded and nothing is lost.

No ignore patterns are applied here (watchdog's ``IgnorePolicy.ANY`` drops ``x.tmp → x``
renames entirely); classification is the watcher's job.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass

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

__all__ = ["Hint", "Intake", "HintHandler", "OverflowHook", "EVENT_FILTER", "COOKIE_PREFIX"]

#: Hidden name of the heartbeat cookie files the watcher writes into each root.
COOKIE_PREFIX = ".clearance-cookie."

#: The events the watcher asks the kernel for: no IN_OPEN / IN_CLOSE_NOWRITE / IN_ACCESS, so
#: the watcher's own reads of assets make no events at all (WATCH.md S23).
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
    """The only code that runs in watchdog's dispatcher thread."""

    def __init__(
        self,
        root: str,
        backend: str,
        intake: Intake,
        on_cookie: Callable[[str, str], None],
        hook: Callable[[str, str, FileSystemEvent], bool] | None = None,
    ) -> None:
        self.root = root
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
                name = path.rsplit("/", 1)[-1]
                if name.startswith(COOKIE_PREFIX):
                    self.on_cookie(self.root, name)
                    continue
                self.intake.offer(Hint(path, self.root, tree))
        except BaseException:  # never let anything escape into the dispatcher
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
