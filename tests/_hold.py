"""Holding a real ``clearance`` process at one asset's audit, to run another beside it.

A site plugin (:func:`hold_plugin`) stops the first process that reaches the asset's
``clearance_check_asset`` (its provenance read, its verdict not yet recorded) while a ``hold``
file is in ``$CLEARANCE_TEST_HOLD``: it renames ``hold`` to ``reached`` and waits for ``go``.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from conftest import CLEARANCE

_PLUGIN = """
import os
import time
from pathlib import Path

from clearance import hookimpl


@hookimpl
def clearance_check_asset(asset, record, stage, policy):
    flags = Path(os.environ.get("CLEARANCE_TEST_HOLD", "/nonexistent"))
    if asset.rel != {rel!r}:
        return []
    try:
        os.rename(flags / "hold", flags / "reached")  # one process takes it
    except OSError:
        return []
    deadline = time.monotonic() + 60
    while not (flags / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    return []
"""


def hold_plugin(rel: str) -> str:
    """The source of a site plugin that holds the audit of the asset ``rel``."""
    return _PLUGIN.replace("{rel!r}", repr(rel))


def hold_env(flags: Path) -> dict[str, str]:
    """The environment of a process the hold plugin may hold (``flags``: its folder)."""
    return {
        **os.environ,
        "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1",
        "CLEARANCE_TEST_HOLD": str(flags),
    }


def start_held(flags: Path, *args: str, cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start ``clearance ARGS`` and wait until the hold plugin holds it; ``(flags / "go")``
    lets it go on."""
    (flags / "hold").touch()
    proc = subprocess.Popen(
        [CLEARANCE, *args],
        cwd=cwd,
        env=hold_env(flags),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (flags / "reached").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            _, err = proc.communicate(timeout=60)
            raise AssertionError(f"never held: {proc.returncode}: {err}")
        time.sleep(0.01)
    return proc
