"""Shared fixtures: the real ``clearance`` command through subprocess, and sidecar builders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLEARANCE = str(Path(sys.executable).parent / "clearance")


def pytest_configure(config: pytest.Config) -> None:
    """Run as a script's background job (``make test &``, ``nohup``), the suite starts with
    SIGINT ignored, and every ``clearance`` it starts inherits that: the CLI keeps a signal
    it was started with ignored (``interrupts_raise``), so the Ctrl-C tests would see no
    interrupt. Caught here (the default handler), SIGINT reaches the commands as a
    terminal's would: the handler is reset to the default in a child at exec."""
    import signal

    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_cli(
    *args: str,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    prefix: Sequence[str] = (),
) -> Completed:
    """Run the installed ``clearance`` console script; never raises on a non-zero exit.

    :param prefix: a command that runs it (``setpriv …``).
    """
    full_env = {**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    proc = subprocess.run(
        [*prefix, CLEARANCE, *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    return Completed(proc.returncode, proc.stdout, proc.stderr)


def run_cli_unread(*args: str, cwd: str | os.PathLike[str] | None = None) -> Completed:
    """Run ``clearance`` with a stdout whose reader has gone (``| head`` done, ``| true``):
    every write to it is a broken pipe. ``stdout`` of the result is empty."""
    read, write = os.pipe()
    os.close(read)
    try:
        proc = subprocess.run(
            [CLEARANCE, *args],
            cwd=cwd,
            env={**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"},
            stdin=subprocess.DEVNULL,
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
        )
    finally:
        os.close(write)
    return Completed(proc.returncode, "", proc.stderr)


@pytest.fixture
def cli() -> Any:
    return run_cli


def genai_sidecar(**overrides: Any) -> dict[str, Any]:
    """A compliant GenAI sidecar for a temp comp element (override any top-level key)."""
    doc: dict[str, Any] = {
        "provenance": 1,
        "production": "SHOW01",
        "shot": "sh010",
        "generated": True,
        "source_type": "compositeWithTrainedAlgorithmicMedia",
        "steps": [
            {
                "tool": "studio-diffusion",
                "tool_version": "2.1",
                "inputs": [{"ref": "plates/sh010_plate_v001.####.exr", "class": "owned_released"}],
                "prompt": {"text": "wide desert street at dusk", "references": []},
                "training": {"performed": False, "sources": []},
            }
        ],
        "output": {
            "use": "temp",
            "on_screen": "none",
            "subject": "incidental",
            "depicts_real": False,
            "presented_as_authentic": False,
            "synthetic_performer": False,
            "human_contribution": "matte painter repainted sky",
        },
        "talent": [],
        "union_impact": "none",
        "disclosure": {"notified_at": "2026-11-02"},
    }
    doc.update(overrides)
    return doc
