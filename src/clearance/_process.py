"""The current process id without a system call per question.

Objects that must not be shared with a forked child (a SQLite connection, buffered rows)
compare the pid they were made in with the current one, once or twice per asset; ``getpid``
is a system call each time. The id is taken at import and again in every forked child.
"""

from __future__ import annotations

import os
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
