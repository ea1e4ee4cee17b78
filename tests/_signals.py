"""A scan to interrupt: a show whose second stage is slow, started as a real ``clearance``
process in its own session (as a terminal starts it), and what was left of it afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from clearance.testing import ClearanceRun
from conftest import CLEARANCE, genai_sidecar

#: stage "quick" is audited and written first (its batch is in the log when it ends); each
#: asset of stage "slow" takes 20 ms to check, and every audited asset is noted in $SEEN.
SLOW_PLUGIN = """
import os, time
from clearance import hookimpl


@hookimpl
def clearance_check_asset(asset, record, stage, policy):
    if stage.name == "slow":
        time.sleep(0.02)
    return []


@hookimpl
def clearance_asset_audited(result, policy):
    with open(os.environ["SEEN"], "a") as fh:
        fh.write(result.asset.rel + "\\n")
"""
QUICK, SLOW = 6, 400


def slow_show(tmp_path: Path) -> ClearanceRun:
    (tmp_path / "slow_plugin.py").write_text(SLOW_PLUGIN)
    show = ClearanceRun(
        tmp_path / "show",
        plugins=[str(tmp_path / "slow_plugin.py")],
        stages=[{"name": "quick", "paths": ["quick/"]}, {"name": "slow", "paths": ["slow/"]}],
    )
    show.root.mkdir()
    for i in range(QUICK):
        show.asset(f"quick/el_{i:03d}.png", sidecar=genai_sidecar())
    for i in range(SLOW):
        show.asset(f"slow/el_{i:03d}.png", sidecar=genai_sidecar())
    show.write_config()
    return show


def start(args: Sequence[str], seen: Path) -> subprocess.Popen[str]:
    """``clearance ARGS`` in a new session (its pid is its process group and session id)."""
    env = {**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1", "SEEN": str(seen)}
    return subprocess.Popen(
        [CLEARANCE, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )


def wait_for_progress(proc: subprocess.Popen[str], log: Path, seen: Path) -> None:
    """Until the quick stage is in the log and some slow assets are audited (generous)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"finished before it was interrupted: {proc.stderr.read()}"
        written = log.read_bytes() if log.exists() else b""
        audited = len(seen.read_text().splitlines()) if seen.exists() else 0
        if b'"event":"stage.finished"' in written and audited >= QUICK + 10:
            return
        time.sleep(0.05)
    raise AssertionError("no progress within 120 s")


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """The exit code and stderr; a process still running after 120 s is a hang. Processes
    left in its session are killed (they would hold the stderr pipe open for ever); the
    caller checks that there are none with :func:`no_processes_left` first if it matters."""
    try:
        code = proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _out, err = proc.communicate()
        raise AssertionError(f"still running 120 s after the signal; stderr: {err}") from None
    left = no_processes_left(proc.pid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    _out, err = proc.communicate()
    assert left == [], f"processes left behind: {left}; stderr: {err}"
    return code, err


def live_processes(session: int) -> list[int]:
    """Processes of ``session`` still running (zombies, dead but not yet reaped, excluded)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # state, ppid, pgrp, session, …
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry))
    return found


def no_processes_left(session: int) -> list[int]:
    """Wait (generously) for every process of ``session`` to end; what is left."""
    deadline = time.monotonic() + 60
    while (left := live_processes(session)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def events(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()]
