"""A time limit on site plugins' hooks (``plugin_timeout`` in ``clearance.yaml``).

A site hook that never returns (a tracker's API that stopped answering, a lock on a share)
would hang the whole run, and a render-farm post-task with it. With a limit set, each call of
a site plugin's hook runs on a worker thread while the run waits for it at most that long; a
call that does not return in time is given up on: the caller gets :class:`HookTimeout` (the
engine turns it into that plugin's ``PRV-05``, unsure, or a ``plugin.failed`` for a
notification) and the run goes on. Python cannot stop a thread, so the late call is left to
finish on its own; until it does, the plugin is not called again (:class:`HookHung`), so a
hung tracker costs the limit once, not once per asset. Once it returns, the plugin is called
again as before (a watcher that runs for days gets its tracker back).

Built-in plugins never run here; without a limit nothing does (no thread is started).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from ._process import current_pid

__all__ = ["LATE", "HookHung", "HookRunner", "HookTimeout"]

#: The threads (idents) running a site hook's call given up on, until it returns: what they
#: print once the CLI's ``stdout_to_stderr`` has ended must not land in the report.
LATE: set[int] = set()


class HookTimeout(Exception):
    """A site plugin's hook did not return within the limit."""

    def __init__(self, plugin: str, hook: str, seconds: float) -> None:
        self.plugin = plugin
        self.hook = hook
        self.seconds = seconds
        super().__init__(f"{hook} did not return within {seconds:g} s (plugin_timeout)")


class HookHung(Exception):
    """A site plugin's ``hook`` was not called: an earlier call of one of its hooks,
    ``running``, is still running, past the limit."""

    def __init__(self, plugin: str, hook: str, running: str, seconds: float) -> None:
        self.plugin = plugin
        self.hook = hook
        self.running = running
        self.seconds = seconds
        super().__init__(
            f"{hook} not called: its {running} has not returned, more than {seconds:g} s "
            "after it was called (plugin_timeout)"
        )


class _Call:
    __slots__ = ("done", "error", "func", "value")

    def __init__(self, func: Callable[[], Any]) -> None:
        self.func = func
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


class _Worker:
    """One daemon thread that runs calls handed to it, one at a time."""

    def __init__(self, name: str) -> None:
        self._cond = threading.Condition()
        self._call: _Call | None = None
        self.abandoned = False
        self.closed = False
        self.pid = current_pid()  # a forked child (``scan --jobs``) has no copy of the thread
        self.on_late_return: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        self.ident: int = self._thread.ident or 0  # set once started

    def name(self, name: str) -> None:
        self._thread.name = name

    def submit(self, call: _Call) -> None:
        with self._cond:
            self._call = call
            self._cond.notify()

    def close(self, wait: float) -> None:
        """Let the thread end once it has no call to run; wait for that at most ``wait`` s."""
        with self._cond:
            self.closed = True
            self._cond.notify()
        self._thread.join(wait)

    def _loop(self) -> None:
        late: Callable[[], None] | None = None
        while True:
            with self._cond:
                while self._call is None:
                    if self.closed:
                        return
                    self._cond.wait()
                call, self._call = self._call, None
            try:
                call.value = call.func()
            except BaseException as exc:  # the caller re-raises it as the plugin's own
                call.error = exc
            finally:
                call.done.set()
            with self._cond:
                if self.abandoned:  # given up on: the caller has a new worker
                    LATE.discard(threading.get_ident())
                    late = self.on_late_return
                    break
        if late is not None:
            late()


class HookRunner:
    """Runs site hooks' calls under a time limit (seconds), one at a time."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._worker: _Worker | None = None
        self._lock = threading.Lock()
        #: plugin name → the hook whose call is still running past the limit
        self.hung: dict[str, str] = {}
        #: hung plugins whose notification hooks were said to be skipped (:meth:`first_skip`)
        self._told: set[tuple[str, str]] = set()
        self.timeouts = 0

    def call(self, plugin: str, hook: str, func: Callable[[], Any]) -> Any:
        """``func()`` on the worker thread; its exception re-raised here. Raises
        :class:`HookTimeout` when it did not return in time, :class:`HookHung` (without
        calling it) while an earlier call of the plugin is still running."""
        worker = self._worker
        if worker is not None and worker.pid != current_pid():
            # forked (``scan --jobs``): the parent's thread, and its late calls, are not here
            worker = self._worker = None
            self._lock = threading.Lock()
            self.hung = {}
            self._told = set()
        with self._lock:
            still = self.hung.get(plugin)
        if still is not None:
            raise HookHung(plugin, hook, still, self.seconds)
        if worker is None:
            worker = self._worker = _Worker("clearance-hooks")  # every site plugin's
        call = _Call(func)
        worker.submit(call)
        try:
            returned = call.done.wait(self.seconds)
        except BaseException:
            # Ctrl-C or SIGTERM (the CLI's Interrupted) while waiting: the call goes on on
            # its thread, which the next call must not wait behind (blamed on its plugin)
            self._give_up(worker, call, plugin, hook)
            raise
        if not returned and self._give_up(worker, call, plugin, hook):
            self.timeouts += 1
            raise HookTimeout(plugin, hook, self.seconds)
        if call.error is not None:
            error, call.error = call.error, None
            raise error
        return call.value

    def _give_up(self, worker: _Worker, call: _Call, plugin: str, hook: str) -> bool:
        """Leave ``call`` to finish on ``worker``'s thread, the plugin not called again until
        it has; False if it has finished already (exactly at the limit)."""
        with worker._cond:
            if call.done.is_set():
                return False
            worker.abandoned = True
            LATE.add(worker.ident)
            # its stack, in a dump (py-spy, SIGUSR1) of a farm job or watcher, names it
            worker.name(f"clearance-hook-{plugin} ({hook}, given up on)")
            worker.on_late_return = functools.partial(self._returned, plugin)
            self._worker = None
            with self._lock:
                self.hung[plugin] = hook
        return True

    def close(self) -> None:
        """End the worker thread if it has no call running (a session closed; before
        ``scan --jobs`` chooses to fork, which it does only when no other thread runs); the
        next call starts another. A late call's thread ends when the call returns."""
        worker, self._worker = self._worker, None
        if worker is not None and worker.pid == current_pid():
            worker.close(wait=1.0)

    def first_skip(self, plugin: str, hook: str) -> bool:
        """Is this the first call of ``plugin``'s notification ``hook`` skipped since its
        plugin hung? Each hook is said to be skipped once (``plugin.failed``), not once for
        every asset and finding of the rest of the run."""
        with self._lock:
            if (plugin, hook) in self._told:
                return False
            self._told.add((plugin, hook))
            return True

    def _returned(self, plugin: str) -> None:
        with self._lock:
            self.hung.pop(plugin, None)
            self._told = {told for told in self._told if told[0] != plugin}
