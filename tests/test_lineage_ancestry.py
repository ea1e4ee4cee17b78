"""Lineage: what an ancestry walk makes of unknown, diamond, self-referencing, deep, large and
symlinked inputs, and what the rules and ``clearance lineage`` say about it.

Real files in ``tmp_path``, the real SQLite state store, the real CLI for end-to-end cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import run_cli
from test_lineage import genai_plate, sidecar, silent, single, write_config


def _outcomes(root: Path, *args: str) -> dict[str, dict[str, Any]]:
    done = run_cli("scan", str(root), "--format", "json", "--no-progress", *args)
    assert done.code in (0, 1), done.stderr
    return {a["asset"]: a for a in done.json()["assets"]}


def _open(asset: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in asset["findings"] if f["rule"] == rule and f["status"] == "open"]


# -------------------------------------------------------------------------------------------
# An ancestor whose GenAI status is unknown
# -------------------------------------------------------------------------------------------


def test_a_final_asset_built_on_an_ancestor_of_unknown_genai_status_escalates(
    tmp_path: Path,
) -> None:
    write_config(
        tmp_path,
        [
            {"name": "gen", "paths": ["gen"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    invalid = single(tmp_path, "gen/invalid_v001.exr")  # generated: maybe
    maybe = {**genai_plate(), "generated": "maybe"}
    del maybe["source_type"]
    sidecar(tmp_path, invalid, maybe)
    bare = single(tmp_path, "gen/bare_v001.exr")  # no sidecar at all
    broken = single(tmp_path, "gen/broken_v001.exr")  # not YAML
    (tmp_path / f"{broken}.genai.yaml").write_text("provenance: 1\ngenerated: [unclosed\n")
    known = single(tmp_path, "gen/known_v001.exr")
    sidecar(tmp_path, known, genai_plate())
    # unknown two generations back: the comp's summary carries it to the delivery
    comp = single(tmp_path, "comp/sh010_comp_v001.exr")
    sidecar(tmp_path, comp, silent((bare, "production_image"), use="temp"))
    finals = {
        "delivery/a_v001.exr": [invalid],
        "delivery/b_v001.exr": [comp],
        "delivery/c_v001.exr": [broken],
        "delivery/d_v001.exr": [known, invalid],  # a known GenAI ancestor decides it
    }
    for final, inputs in finals.items():
        single(tmp_path, final)
        sidecar(tmp_path, final, silent(*[(i, "production_image") for i in inputs]))

    assets = _outcomes(tmp_path)
    for final, unknown in [
        ("delivery/a_v001.exr", [invalid]),
        ("delivery/b_v001.exr", [bare]),
        ("delivery/c_v001.exr", [broken]),
    ]:
        asset = assets[final]
        assert asset["outcome"] == "escalate", (final, asset["findings"])
        (gp4,) = _open(asset, "NFX-GP4")
        assert gp4["outcome"] == "escalate"
        assert gp4["evidence"]["unknown_ancestors"] == unknown
        assert "provenance" in gp4["remediation"]
    # the comp is not final: unknown ancestry alone does not make it unsure
    assert not _open(assets[comp], "NFX-GP4")
    (gp4,) = _open(assets["delivery/d_v001.exr"], "NFX-GP4")
    assert gp4["outcome"] == "approval" and gp4["evidence"]["inherited_from"] == [known]
