"""Processes: the current process id without a system call per question, and worker
processes that end with their parent.

Objects that must not be shared with a forked child (a SQLite connection, buffered rows)
compare the pid they were made in with the current one, once or twice per asset; ``getpid``
is a system call each time. The id is taken at import and again in every forked child.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable

_pid = [os.getpid()]


def _forked() -> None:
    _pid[0] = os.getpid()


current_pid: Callable[[], int]
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)

    def current_pid() -> int:
        """``os.getpid()``, remembered (and renewed in a forked child)."""
        return _pid[0]

else:  # pragma: no cover - Windows has no fork: every process imports this afresh
    current_pid = os.getpid


def exit_with_parent(parent: int, *, deathsig: bool = False) -> None:
    """End this worker process when ``parent``, the process that started it, ends — however
    it ends (``kill -9`` included): nothing is left for the worker to do, and a worker that
    outlived its parent would hold the parent's stdout and stderr open for ever.

    A daemon thread checks ``os.getppid()`` every half second and exits once the process was
    re-parented. With ``deathsig`` (Linux only) the kernel also kills this process at once
    when the *thread* that started it ends (``PR_SET_PDEATHSIG``): ask for it only where that
    thread lives as long as the workers should (``scan --jobs``: the thread running the scan).
    """
    import threading

    if deathsig and sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl here: the thread below still watches
            pass
    if os.getppid() != parent:  # the parent died before any of this was set up
        os._exit(0)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _watch_parent(parent: int) -> None:
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:  # the parent died (kill -9): nothing left to serve
            os._exit(0)
