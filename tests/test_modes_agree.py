"""Every way of auditing gives one verdict: a cold scan, a warm one (from the provenance
cache), ``scan --jobs 2`` and ``check`` of the same assets, over sidecars corrupted one field
at a time (the shapes ``test_invalid_fields`` builds), through the real CLI.

A corrupted sidecar once stopped the whole scan (a placeholder in a list, which the audit log
could not serialise), and a YAML set was quoted in another order on every run: each mode
must finish, and say the same thing, finding by finding."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import yaml

from clearance.testing import write_png
from conftest import run_cli
from test_invalid_fields import VALID, _corruptions


def _tree(root: Path) -> None:
    rng = random.Random(20261128)
    (root / "comp").mkdir(parents=True)
    (root / "delivery").mkdir()
    config = {
        "clearance": 1,
        "production": {"id": "SHOW01", "genre": "fiction"},
        "stages": [
            {"name": "comp", "paths": ["comp/"]},
            {"name": "delivery", "paths": ["delivery/"], "final": True},
        ],
    }
    (root / "clearance.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    n = 0
    for name in sorted(VALID):
        for _kind, _parts, broken in _corruptions(VALID[name]):
            folder = root / rng.choice(["comp", "delivery"])
            write_png(folder / f"a{n:03d}.png")
            (folder / f"a{n:03d}.png.genai.yaml").write_text(yaml.safe_dump(broken))
            n += 1
    # YAML a dumper never writes: sets, dates, binary, anchors
    odd = "provenance: 1\ngenerated: true\noutput: {use: !!set {final, pitch, temp}}\n"
    write_png(root / "comp/odd.png")
    (root / "comp/odd.png.genai.yaml").write_text(odd)
    assert n > 500


def _verdicts(done: Any) -> dict[str, tuple[str, list[tuple[Any, ...]]]]:
    assert done.code in (0, 1), done.stderr
    return {
        a["asset"]: (
            a["outcome"],
            sorted(
                (f["rule"], f["outcome"], str(f.get("unsure")), f["message"], str(f.get("status")))
                + (json.dumps(f.get("evidence"), sort_keys=True),)
                for f in a["findings"]
            ),
        )
        for a in done.json()["assets"]
    }


def test_cold_warm_parallel_and_check_give_one_verdict(tmp_path: Path) -> None:
    root = tmp_path / "show"
    _tree(root)
    scan = ("scan", str(root), "--format", "json")
    cold = _verdicts(run_cli(*scan))
    assert len(cold) > 500
    assert _verdicts(run_cli(*scan)) == cold, "warm: from the provenance cache"
    shutil.rmtree(root / ".clearance")
    assert _verdicts(run_cli(*scan, "--jobs", "2")) == cold, "--jobs 2, cold"
    assert _verdicts(run_cli(*scan, "--jobs", "2")) == cold, "--jobs 2, warm"
    files = sorted(str(p) for p in root.glob("*/*.png"))
    assert _verdicts(run_cli("check", *files, "--format", "json")) == cold
    assert run_cli("verify", str(root / ".clearance" / "audit.jsonl")).code == 0
