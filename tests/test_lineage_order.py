"""Lineage and the order assets are audited in: a cold scan gives the verdicts a warm one gives.

Inputs audited after the assets made from them (in the same stage, in a later stage, in the
``default`` stage that runs last), and a deliverable checked alone after an ancestor two
generations up was re-rendered. Real PNGs (Pillow), real sidecars, the real CLI.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from PIL import Image

from conftest import run_cli

TOOLS = {
    "gen-tool": {
        "vendor": "Acme",
        "deployment": "studio_enterprise",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "c2pa",
        "terms": "MSA",
    },
    "nuke-comp": {
        "vendor": "Foundry",
        "deployment": "studio_enterprise",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "none",
        "terms": "EULA",
    },
}

PIPELINE = [
    {"name": "plates", "paths": ["plates/"]},
    {"name": "gen", "paths": ["gen/"]},
    {"name": "comp", "paths": ["comp/"]},
    {"name": "delivery", "paths": ["delivery/"], "final": True},
]


def show(root: Path, stages: list[dict[str, Any]] = PIPELINE) -> Path:
    config = {
        "clearance": 1,
        "production": {"id": "SHOW01", "genre": "fiction", "regions": ["US"]},
        "tools": TOOLS,
        "audit": {"log": ".clearance/audit.jsonl", "state": ".clearance/state.db"},
        "stages": stages,
    }
    (root / "clearance.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def asset(root: Path, rel: str, *inputs: str, generated: bool = False, shade: int = 0) -> None:
    """A real PNG and its sidecar; ``generated``: made by a GenAI tool."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (4, 4), (shade, 40, 80)).save(path)
    doc: dict[str, Any] = {
        "provenance": 1,
        "production": "SHOW01",
        "shot": "sh010",
        "generated": generated,
        "steps": [
            {
                "tool": "gen-tool" if generated else "nuke-comp",
                "inputs": [{"ref": r, "class": "production_image"} for r in inputs],
            }
        ],
        "output": {
            "use": "final",
            "on_screen": "background",
            "subject": "incidental",
            "human_contribution": "graded by hand",
            "similarity_review": "passed",
        },
        "disclosure": {"notified_at": "2026-01-01", "flagged_at": "2026-01-01"},
    }
    if generated:
        doc["source_type"] = "trainedAlgorithmicMedia"
    (root / f"{rel}.genai.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def fill(root: Path, folder: str, count: int = 40) -> list[str]:
    """``count`` plain assets named after the others: enough for ``--jobs 2`` to audit in two
    worker processes (a run of fewer assets than a chunk is audited in-process)."""
    names = [f"{folder}/z{i:02d}.png" for i in range(count)]
    for name in names:
        asset(root, name)
    return names


def verdicts(completed: Any) -> dict[str, tuple[str, list[str]]]:
    assert completed.code in (0, 1), completed.stderr
    return {
        a["asset"]: (
            a["outcome"],
            sorted({f["rule"] for f in a["findings"] if f.get("status") == "open"}),
        )
        for a in completed.json()["assets"]
    }


def scan(root: Path | str, *args: str, cwd: Path | None = None) -> Any:
    return run_cli("scan", str(root), "--format", "json", "--no-progress", *args, cwd=cwd)


def audited_events(root: Path) -> list[dict[str, Any]]:
    lines = (root / ".clearance/audit.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e["event"] == "asset.audited"]


def forget(root: Path) -> None:
    """A cold start: no state store, no audit log."""
    for name in ("state.db", "state.db-wal", "state.db-shm", "audit.jsonl"):
        (root / ".clearance" / name).unlink(missing_ok=True)


# -------------------------------------------------------------------------------------------
# 3. a chain inside one stage folder
# -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_chain_inside_one_stage_reaches_the_deliverable_on_a_cold_scan(
    tmp_path: Path, jobs: str
) -> None:
    root = show(tmp_path)
    asset(root, "gen/g.png", generated=True)
    asset(root, "comp/b_precomp.png", "gen/g.png")
    asset(root, "comp/a_comp.png", "comp/b_precomp.png")  # audited first: its name sorts first
    asset(root, "delivery/d.png", "comp/a_comp.png")
    fillers = fill(root, "comp")

    cold = scan(root, "--jobs", jobs)
    found = verdicts(cold)
    assert cold.code == 1
    assert found["comp/a_comp.png"] == ("block", ["IPTC-03", "NFX-GP4"])
    assert found["delivery/d.png"] == ("block", ["IPTC-03", "NFX-GP4"])
    assert [a["asset"] for a in cold.json()["assets"]] == [
        "gen/g.png",
        "comp/a_comp.png",
        "comp/b_precomp.png",
        *fillers,
        "delivery/d.png",
    ]  # the results in the order of the stages and names, re-audit or not

    # the log says what happened: a_comp audited twice, the later audit supersedes
    events = audited_events(root)
    comp = [e["outcome"] for e in events if e["asset"] == "comp/a_comp.png"]
    assert comp == ["pass", "block"]
    report = run_cli("report", str(root / ".clearance/audit.jsonl"), "--format", "json")
    assert report.code == 0, report.stderr
    latest = {a["asset"]: a["outcome"] for a in report.json()["assets"]}
    assert latest["comp/a_comp.png"] == "block"
    assert latest["delivery/d.png"] == "block"

    warm = scan(root, "--jobs", jobs)
    assert verdicts(warm) == found  # the fast path and the cold scan agree
    assert len(audited_events(root)) == len(events) + 44  # a warm re-scan audits each once


# -------------------------------------------------------------------------------------------
# 4. an input in a later stage: the default stage, or stages listed out of pipeline order
# -------------------------------------------------------------------------------------------


def test_a_genai_input_under_no_stage_reaches_the_deliverable_on_a_cold_scan(
    tmp_path: Path,
) -> None:
    root = show(tmp_path)
    asset(root, "elements/e.png", generated=True)  # stage default: audited after delivery
    asset(root, "delivery/d.png", "elements/e.png")

    cold = scan(root)
    found = verdicts(cold)
    assert found["delivery/d.png"] == ("block", ["IPTC-03", "NFX-GP4"])
    assert [a["asset"] for a in cold.json()["assets"]] == ["delivery/d.png", "elements/e.png"]
    assert verdicts(scan(root)) == found


def test_stages_listed_deliverables_first_give_the_verdicts_of_pipeline_order(
    tmp_path: Path,
) -> None:
    root = show(tmp_path, [PIPELINE[3], PIPELINE[2], PIPELINE[1]])  # delivery, comp, gen
    asset(root, "gen/g.png", generated=True)
    asset(root, "comp/c.png", "gen/g.png")
    asset(root, "delivery/d.png", "comp/c.png")
    fill(root, "delivery")

    for jobs in ("1", "2"):
        forget(root)
        cold = scan(root, "--jobs", jobs)
        found = verdicts(cold)
        assert cold.code == 1
        assert found["delivery/d.png"] == ("block", ["IPTC-03", "NFX-GP4"]), jobs
        assert found["comp/c.png"] == ("block", ["IPTC-03", "NFX-GP4"]), jobs
        assert verdicts(scan(root, "--jobs", jobs)) == found


# -------------------------------------------------------------------------------------------
# 5. the deliverable checked alone after an ancestor two generations up changed
# -------------------------------------------------------------------------------------------


@pytest.fixture
def flipped(tmp_path: Path) -> Path:
    """plate → gen → comp → delivery, all clean and scanned; then the gen artist re-renders
    ``gen/g.png`` with a GenAI tool and only the gen stage is audited again."""
    root = show(tmp_path)
    asset(root, "plates/p.png")
    asset(root, "gen/g.png", "plates/p.png")
    asset(root, "comp/c.png", "gen/g.png")
    asset(root, "delivery/d.png", "comp/c.png")
    first = scan(root)
    assert first.code == 0, first.stdout
    asset(root, "gen/g.png", "plates/p.png", generated=True, shade=200)
    regen = scan(root / "gen")
    assert verdicts(regen)["gen/g.png"][0] == "approval"
    return root


def test_checking_the_deliverable_after_an_ancestor_turned_genai_blocks(flipped: Path) -> None:
    checked = run_cli("check", "delivery/d.png", "--format", "json", cwd=flipped)
    assert checked.code == 1, checked.stdout
    assert verdicts(checked)["delivery/d.png"] == ("block", ["IPTC-03", "NFX-GP4"])


def test_scanning_only_the_delivery_stage_after_an_ancestor_turned_genai_blocks(
    flipped: Path,
) -> None:
    scanned = scan(flipped / "delivery")
    assert scanned.code == 1
    assert verdicts(scanned)["delivery/d.png"] == ("block", ["IPTC-03", "NFX-GP4"])
    # and so does the deliverable's next check, now that its own row says so
    assert run_cli("check", "delivery/d.png", cwd=flipped).code == 1
