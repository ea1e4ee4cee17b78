"""A pytest plugin for TDs testing their own Clearance checkers (registered as ``pytest11``).

The fixture ``clearance_run`` builds a small pipeline root in ``tmp_path``, writes assets and
sidecars, and audits them in-process through the real engine and plugin manager::

    def test_denylist_flags_named_work(clearance_run):
        run = clearance_run(plugins=["hooks/show_denylist.py"])      # paths relative to your repo
        run.asset("comp/sh010.png", sidecar={"provenance": 1, "generated": True, ...})
        result = run.scan()
        assert "SITE-DENY-01" in result.rules("comp/sh010.png")

``run.config`` is the ``clearance.yaml`` mapping (edit it before ``scan()``); ``run.tools`` and
``run.approvals`` are written to ``tools.yaml`` / ``approvals.yaml``.
"""

from __future__ import annotations

import json
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from .engine import RunResult

__all__ = ["ClearanceRun", "ScanOutcome", "write_png", "clearance_run"]


def write_png(path: str | os.PathLike[str], width: int = 8, height: int = 8) -> Path:
    """Write a small valid RGB PNG (no Pillow needed)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    raw = b"".join(b"\x00" + b"\x40\x80\xc0" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    p.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return p


class ScanOutcome:
    """A run's result with small helpers for assertions."""

    def __init__(self, result: RunResult, log: Path | None) -> None:
        self.result = result
        self.log = log

    def asset(self, rel: str) -> Any:
        for item in self.result.assets:
            if item.asset.rel == rel:
                return item
        raise KeyError(
            f"{rel} was not audited; audited: {[a.asset.rel for a in self.result.assets]}"
        )

    def rules(self, rel: str) -> set[str]:
        """Rule ids of the asset's findings (open or approved)."""
        return {f.rule for f in self.asset(rel).findings}

    def outcome(self, rel: str) -> str:
        return str(self.asset(rel).outcome.value)

    def events(self) -> list[dict[str, Any]]:
        if self.log is None or not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines()]


class ClearanceRun:
    """A pipeline root under ``tmp_path`` with helpers to write assets and audit them."""

    def __init__(
        self,
        root: Path,
        *,
        plugins: Sequence[str] = (),
        stages: Sequence[dict[str, Any]] | None = None,
    ) -> None:
        self.root = root
        self.config: dict[str, Any] = {
            "clearance": 1,
            "production": {"id": "SHOW01", "genre": "fiction", "regions": ["US"]},
            "tools": "tools.yaml",
            "approvals": "approvals.yaml",
            "plugins": [str(Path(p).resolve()) for p in plugins],
            "stages": list(stages)
            if stages is not None
            else [
                {"name": "gen", "paths": ["gen/"]},
                {"name": "comp", "paths": ["comp/"]},
                {"name": "delivery", "paths": ["delivery/"], "final": True},
            ],
        }
        self.tools: dict[str, Any] = {
            "studio-diffusion": {
                "vendor": "In-house",
                "deployment": "studio_enterprise",
                "trains_on_inputs": False,
                "retains_data": "none",
                "reuses_outputs": False,
                "marks_output": "c2pa",
            }
        }
        self.approvals: dict[str, Any] = {"approvals": {}, "consents": {}}

    def asset(
        self, rel: str, *, sidecar: dict[str, Any] | str | None = None, frames: Sequence[int] = ()
    ) -> Path:
        """Write an asset (PNG bytes whatever the extension) and, if given, its sidecar.

        With ``frames``, ``rel`` is a pattern ``dir/PREFIX.####.EXT`` and one file per frame is
        written; the sidecar goes to ``PREFIX.genai.yaml``.
        """
        path = self.root / rel
        if frames:
            prefix, pad, ext = path.name.rsplit(".", 2)
            for frame in frames:
                write_png(path.parent / f"{prefix}.{frame:0{len(pad)}d}.{ext}")
            sidecar_path = path.parent / f"{prefix}.genai.yaml"
        else:
            write_png(path)
            sidecar_path = path.parent / f"{path.name}.genai.yaml"
        if sidecar is not None:
            text = sidecar if isinstance(sidecar, str) else yaml.safe_dump(sidecar, sort_keys=False)
            sidecar_path.write_text(text, encoding="utf-8")
        return path

    def write_config(self) -> Path:
        (self.root / "tools.yaml").write_text(
            yaml.safe_dump({"tools": self.tools}), encoding="utf-8"
        )
        (self.root / "approvals.yaml").write_text(yaml.safe_dump(self.approvals), encoding="utf-8")
        config = self.root / "clearance.yaml"
        config.write_text(yaml.safe_dump(self.config, sort_keys=False), encoding="utf-8")
        return config

    def scan(self, *paths: str, extra_plugins: Sequence[tuple[str, object]] = ()) -> ScanOutcome:
        """Audit the root (or ``paths`` under it) in-process, writing the real audit log."""
        from .discover import discover
        from .engine import Session
        from .policy import load_policy

        config = self.write_config()
        policy = load_policy(config)
        targets = [str(self.root / p) for p in paths] or [str(self.root)]
        found = discover(targets, policy)
        session = Session(
            policy, command="scan", paths=targets, extra_plugins=extra_plugins, autoload=False
        )
        result = session.run(found.assets, errors=found.errors, whole_stages=found.whole_stages)
        session.close(result, exit_code=result.exit_code())
        return ScanOutcome(result, policy.audit_log)


@pytest.fixture
def clearance_run(tmp_path: Path) -> Callable[..., ClearanceRun]:
    """Factory: ``clearance_run(plugins=[...], stages=[...])`` → a :class:`ClearanceRun`."""

    def make(
        *, plugins: Sequence[str] = (), stages: Sequence[dict[str, Any]] | None = None
    ) -> ClearanceRun:
        root = tmp_path / "show"
        root.mkdir(exist_ok=True)
        return ClearanceRun(root, plugins=plugins, stages=stages)

    return make
