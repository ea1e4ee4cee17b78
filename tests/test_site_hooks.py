"""The example site hooks in ``hooks/``: the show denylist and the plate format check.

Each test builds a small pipeline with the ``clearance_run`` fixture (``clearance.testing``),
registers the hook file exactly as a TD would in ``clearance.yaml`` and audits it through the
real engine.
"""

from __future__ import annotations

import importlib.util
import os
import re
import struct
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

from conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
DENYLIST = str(REPO / "hooks" / "show_denylist.py")
PLATE_FORMAT = str(REPO / "hooks" / "plate_format.py")


def _load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


plate_format = _load(REPO / "hooks" / "plate_format.py", "_test_plate_format")
media = _load(REPO / "sample_pipeline" / "_media.py", "_test_sample_media")


def sidecar(prompt: str | None = "salt flats at dawn", **extra: Any) -> dict[str, Any]:
    step: dict[str, Any] = {"tool": "studio-diffusion", "tool_version": "1", "inputs": []}
    if prompt is not None:
        step["prompt"] = {"text": prompt}
    doc: dict[str, Any] = {
        "provenance": 1,
        "production": "SHOW01",
        "shot": "sh010",
        "generated": True,
        "source_type": "trainedAlgorithmicMedia",
        "steps": [step],
        "output": {"use": "temp", "on_screen": "none", "subject": "incidental"},
        "disclosure": {"notified_at": "2026-11-01"},
    }
    doc.update(extra)
    return doc


# -------------------------------------------------------------------------------------------
# hooks/show_denylist.py (SITE-DENY-01)
# -------------------------------------------------------------------------------------------


@pytest.fixture
def denylist_run(clearance_run: Any) -> Any:
    run = clearance_run(plugins=[DENYLIST])
    run.config["rules"] = {
        "SITE-DENY-01": {"works": ["Dune", "Mad Max"], "names": ["Project Nightjar"]}
    }
    return run


def test_denylist_flags_a_work_named_in_the_prompt_text(denylist_run: Any) -> None:
    denylist_run.asset("gen/wyrm.png", sidecar=sidecar("a sand wyrm like the DUNE sandworms"))
    result = denylist_run.scan()
    [finding] = [f for f in result.asset("gen/wyrm.png").findings if f.rule == "SITE-DENY-01"]
    assert finding.outcome.value == "approval"
    assert finding.evidence["denylisted"] == "Dune"
    assert finding.evidence["where"] == ["prompt.text"]
    assert finding.evidence["step"] == 0
    assert result.outcome("gen/wyrm.png") == "approval"


def test_denylist_matches_whole_words_only(denylist_run: Any) -> None:
    denylist_run.asset(
        "gen/flats.png", sidecar=sidecar("salt flats between low dunes, maddening heat")
    )
    result = denylist_run.scan()
    assert "SITE-DENY-01" not in result.rules("gen/flats.png")
    assert result.outcome("gen/flats.png") == "pass"


def test_denylist_matches_multiword_entries_across_whitespace(denylist_run: Any) -> None:
    denylist_run.asset("gen/road.png", sidecar=sidecar("a convoy in the style of mad\nmax"))
    assert "SITE-DENY-01" in denylist_run.scan().rules("gen/road.png")


def test_denylist_flags_reference_names_and_never_copies_the_prompt(denylist_run: Any) -> None:
    doc = sidecar("secret brief for the next show: caravan at night")
    doc["steps"][0]["prompt"]["references"] = [{"type": "other", "name": "Project Nightjar"}]
    denylist_run.asset("comp/brief.png", sidecar=doc)
    result = denylist_run.scan()
    [finding] = [f for f in result.asset("comp/brief.png").findings if f.rule == "SITE-DENY-01"]
    assert finding.evidence["kind"] == "name"
    assert finding.evidence["where"] == ["prompt.references[0].name"]
    assert "secret brief" not in repr(finding.to_dict())
    assert "secret brief" not in result.log.read_text(encoding="utf-8")


def test_denylist_without_a_list_or_disabled_finds_nothing(clearance_run: Any) -> None:
    run = clearance_run(plugins=[DENYLIST])
    run.asset("gen/wyrm.png", sidecar=sidecar("like the Dune sandworms"))
    assert "SITE-DENY-01" not in run.scan().rules("gen/wyrm.png")
    run.config["rules"] = {"SITE-DENY-01": {"works": ["Dune"], "enabled": False}}
    assert "SITE-DENY-01" not in run.scan().rules("gen/wyrm.png")


def test_denylist_entries_yaml_reads_as_numbers_or_mappings_are_never_dropped(
    clearance_run: Any,
) -> None:
    """``works: [1984, 2001: A Space Odyssey]``: YAML reads a number and a mapping, which
    the hook dropped without a word, so a prompt naming them passed."""
    run = clearance_run(plugins=[DENYLIST])
    run.config["rules"] = {"SITE-DENY-01": {"works": [1984]}}
    run.asset("gen/poster.png", sidecar=sidecar("a propaganda poster, 1984 style"))
    [finding] = [f for f in run.scan().asset("gen/poster.png").findings if f.rule.startswith("S")]
    assert finding.evidence["denylisted"] == "1984"
    run.config["rules"] = {"SITE-DENY-01": {"works": [{2001: "A Space Odyssey"}]}}
    result = run.scan()
    [crash] = [f for f in result.asset("gen/poster.png").findings if f.rule == "PRV-05"]
    assert "rules.SITE-DENY-01.works[0]: expected a name" in crash.message
    assert result.outcome("gen/poster.png") == "escalate"


def test_denylist_outcome_override_and_approval(denylist_run: Any) -> None:
    denylist_run.asset("gen/wyrm.png", sidecar=sidecar("like the Dune sandworms"))
    denylist_run.config["rules"]["SITE-DENY-01"]["outcome"] = "block"
    assert denylist_run.scan().outcome("gen/wyrm.png") == "block"

    denylist_run.config["rules"]["SITE-DENY-01"].pop("outcome")
    denylist_run.approvals["approvals"] = {
        "APR-1": {
            "rules": ["SITE-DENY-01"],
            "scope": {"production": "SHOW01", "shots": ["sh010"]},
            "expires": "2099-01-01",
        }
    }
    result = denylist_run.scan()
    [finding] = [f for f in result.asset("gen/wyrm.png").findings if f.rule == "SITE-DENY-01"]
    assert (finding.status.value, finding.approval) == ("approved", "APR-1")
    assert result.outcome("gen/wyrm.png") == "pass"


def test_both_hooks_are_listed_by_clearance_rules(clearance_run: Any, cli: Any) -> None:
    run = clearance_run(plugins=[DENYLIST, PLATE_FORMAT])
    config = run.write_config()
    done = cli("rules", "--config", str(config), "--format", "json")
    assert done.code == 0, done.stderr
    rules = {r["id"]: r for r in done.json()["rules"]}
    assert (rules["SITE-DENY-01"]["outcome"], rules["SITE-DENY-01"]["pack"]) == ("approval", "site")
    assert (rules["SITE-PLATE-01"]["outcome"], rules["SITE-PLATE-01"]["pack"]) == (
        "escalate",
        "site",
    )
    assert rules["SITE-PLATE-01"]["guidance"].startswith("Plates published by the generation stage")


# -------------------------------------------------------------------------------------------
# hooks/plate_format.py (SITE-PLATE-01)
# -------------------------------------------------------------------------------------------


def _write_jpeg(path: Path, size: tuple[int, int]) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (200, 150, 100)).save(path, format="JPEG")
    return path


def _exr(path: Path, size: tuple[int, int]) -> Path:
    return media.write_exr(path, *size, media.plate_pixels(*size))


def test_read_header_reads_sizes_from_headers(tmp_path: Path) -> None:
    from clearance.testing import write_png

    assert plate_format.read_header(write_png(tmp_path / "a.png", 40, 20)) == ("png", (40, 20))
    assert plate_format.read_header(_exr(tmp_path / "a.exr", (64, 36))) == ("exr", (64, 36))
    assert plate_format.read_header(_write_jpeg(tmp_path / "a.jpg", (33, 17))) == ("jpeg", (33, 17))
    dpx = bytearray(2048)
    dpx[:4] = b"SDPX"
    dpx[772:780] = struct.pack(">II", 2048, 1080)
    (tmp_path / "a.dpx").write_bytes(bytes(dpx))
    assert plate_format.read_header(tmp_path / "a.dpx") == ("dpx", (2048, 1080))
    (tmp_path / "a.tif").write_bytes(b"II*\x00" + b"\x00" * 12)
    assert plate_format.read_header(tmp_path / "a.tif") == ("tiff", None)
    (tmp_path / "a.exr.txt").write_bytes(b"hello")
    assert plate_format.read_header(tmp_path / "a.exr.txt") == (None, None)
    (tmp_path / "cut.exr").write_bytes(media.EXR_MAGIC + b"\x02\x00\x00\x00channels\x00chl")
    assert plate_format.read_header(tmp_path / "cut.exr") == ("exr", None)


def test_read_header_finds_sizes_past_the_first_read(tmp_path: Path) -> None:
    def attribute(name: bytes, kind: bytes, value: bytes) -> bytes:
        return name + b"\0" + kind + b"\0" + struct.pack("<i", len(value)) + value

    comments = attribute(b"comments", b"string", b"x" * 6000)
    window = attribute(b"dataWindow", b"box2i", struct.pack("<iiii", 0, 0, 4095, 2159))
    header = media.EXR_MAGIC + struct.pack("<I", 2) + comments + window + b"\0"
    (tmp_path / "long.exr").write_bytes(header)
    assert plate_format.read_header(tmp_path / "long.exr") == ("exr", (4096, 2160))

    from PIL import Image

    exif = Image.Exif()
    exif[0x010E] = "y" * 8000  # ImageDescription: pushes the SOF marker past 4 KiB
    Image.new("RGB", (48, 27)).save(tmp_path / "exif.jpg", format="JPEG", exif=exif)
    assert plate_format.read_header(tmp_path / "exif.jpg") == ("jpeg", (48, 27))


@pytest.fixture
def plate_run(clearance_run: Any) -> Any:
    run = clearance_run(
        stages=[
            {"name": "plate_gen", "paths": ["gen/plates/"], "plugins": [PLATE_FORMAT]},
            {"name": "comp", "paths": ["comp/"]},
        ]
    )
    run.config["rules"] = {"SITE-PLATE-01": {"min_width": 64, "min_height": 36, "formats": ["exr"]}}
    return run


def test_plate_check_passes_a_good_exr_sequence(plate_run: Any) -> None:
    plate_run.asset("gen/plates/sh010_bg.####.exr", sidecar=sidecar(), frames=range(1001, 1005))
    for frame in range(1001, 1005):
        _exr(plate_run.root / f"gen/plates/sh010_bg.{frame}.exr", (64, 36))
    result = plate_run.scan()
    assert "SITE-PLATE-01" not in result.rules("gen/plates/sh010_bg.####.exr")


def test_plate_check_flags_small_frames_once_per_sequence(plate_run: Any) -> None:
    plate_run.asset("gen/plates/sh010_bg.####.exr", sidecar=sidecar(), frames=range(1001, 1005))
    for frame in range(1001, 1005):
        size = (32, 18) if frame >= 1003 else (64, 36)
        _exr(plate_run.root / f"gen/plates/sh010_bg.{frame}.exr", size)
    result = plate_run.scan()
    [finding] = [
        f
        for f in result.asset("gen/plates/sh010_bg.####.exr").findings
        if f.rule == "SITE-PLATE-01"
    ]
    assert finding.outcome.value == "escalate"
    assert finding.evidence["problem"] == "resolution"
    assert (finding.evidence["width"], finding.evidence["files"]) == (32, 2)
    assert finding.evidence["first"] == "sh010_bg.1003.exr"
    assert "2 of 4 frames" in finding.message


def test_plate_check_judges_format_by_content_not_extension(plate_run: Any) -> None:
    # clearance_run writes PNG bytes whatever the extension: a PNG posing as an EXR.
    plate_run.asset("gen/plates/sh020_bg.exr", sidecar=sidecar())
    result = plate_run.scan()
    [finding] = [
        f for f in result.asset("gen/plates/sh020_bg.exr").findings if f.rule == "SITE-PLATE-01"
    ]
    assert finding.evidence["problem"] == "format"
    assert finding.evidence["format"] == "png"


def test_plate_check_runs_only_in_its_stage(plate_run: Any) -> None:
    _write_jpeg(plate_run.root / "gen/plates/sh030_bg.jpg", (16, 9))
    _write_jpeg(plate_run.root / "comp/sh030_comp.jpg", (16, 9))
    for rel in ("gen/plates/sh030_bg.jpg", "comp/sh030_comp.jpg"):
        (plate_run.root / f"{rel}.genai.yaml").write_text(
            yaml.safe_dump(sidecar()), encoding="utf-8"
        )
    result = plate_run.scan()
    assert "SITE-PLATE-01" in result.rules("gen/plates/sh030_bg.jpg")
    assert "SITE-PLATE-01" not in result.rules("comp/sh030_comp.jpg")


def test_plate_check_unreadable_header_is_unsure_not_pass(plate_run: Any) -> None:
    plate_run.asset("gen/plates/sh040_bg.exr", sidecar=sidecar())
    (plate_run.root / "gen/plates/sh040_bg.exr").write_bytes(media.EXR_MAGIC + b"\x02\x00\x00\x00")
    result = plate_run.scan()
    [finding] = [
        f for f in result.asset("gen/plates/sh040_bg.exr").findings if f.rule == "SITE-PLATE-01"
    ]
    assert finding.unsure
    assert finding.evidence["problem"] == "unreadable"
    assert result.outcome("gen/plates/sh040_bg.exr") == "escalate"


def test_plate_check_bad_parameter_is_a_crashed_checker(plate_run: Any) -> None:
    plate_run.config["rules"] = {"SITE-PLATE-01": {"min_width": "4k"}}
    plate_run.asset("gen/plates/sh050_bg.exr", sidecar=sidecar())
    result = plate_run.scan()
    [crash] = [f for f in result.asset("gen/plates/sh050_bg.exr").findings if f.rule == "PRV-05"]
    assert "SITE-PLATE-01" in crash.message
    assert "min_width" in crash.message
    assert result.outcome("gen/plates/sh050_bg.exr") == "escalate"


# -------------------------------------------------------------------------------------------
# a hook file written from docs/hooks.md ("Findings")
# -------------------------------------------------------------------------------------------

TIERED_HOOK = """
from clearance import Outcome, Rule, hookimpl, Finding

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-TIER-01", title="GenAI element", principle="creative-output",
                      outcome=Outcome.NOTICE, remediation="Tell the supervisor."))

@hookimpl
def clearance_check_asset(asset, record, stage):
    if record.generated:
        # "set it when the rule has tiers (e.g. block in final)"
        tier = "block" if stage.final else None
        return [Finding(rule="SITE-TIER-01", message="GenAI element", outcome=tier,
                        evidence={"file": asset.path, "stage": stage.name})]
"""


def test_a_hook_may_name_its_tier_and_give_a_path_as_evidence(
    clearance_run: Any, tmp_path: Path
) -> None:
    hook = tmp_path / "tiered.py"
    hook.write_text(TIERED_HOOK, encoding="utf-8")
    run = clearance_run(plugins=[str(hook)])
    run.asset("comp/sh010.png", sidecar=sidecar())
    run.asset("delivery/sh010.png", sidecar=sidecar(output={"use": "final"}))
    result = run.scan()
    tiers = {
        rel: [f for f in result.asset(rel).findings if f.rule == "SITE-TIER-01"][0]
        for rel in ("comp/sh010.png", "delivery/sh010.png")
    }
    assert tiers["comp/sh010.png"].outcome.value == "notice"
    assert tiers["delivery/sh010.png"].outcome.value == "block"
    assert tiers["delivery/sh010.png"].evidence["file"] == str(run.root / "delivery/sh010.png")
    assert "PRV-05" not in result.rules("delivery/sh010.png")
    assert result.events()[-1]["event"] == "run.finished"


# -------------------------------------------------------------------------------------------
# docs/first-checker.md: the walk-through's code runs as written
# -------------------------------------------------------------------------------------------


def test_first_checker_walkthrough_runs_as_written(tmp_path: Path) -> None:
    text = (REPO / "docs" / "first-checker.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", text, re.DOTALL)
    assert [name for name, _ in blocks] == ["hooks/hero_props.py", "tests/test_hero_props.py"]
    for name, code in blocks:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(code, encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/test_hero_props.py",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "5 passed" in done.stdout


def test_first_checker_registration_names_only_files_the_walkthrough_creates(
    tmp_path: Path,
) -> None:
    """Section 2's ``clearance.yaml`` loads with the file section 1 creates (it listed
    ``../hooks/plate_format.py``, which the walk-through never creates: exit 2)."""
    text = (REPO / "docs" / "first-checker.md").read_text(encoding="utf-8")
    name, code = re.findall(r"<!-- file: (\S+) -->\n```python\n(.*?)```", text, re.DOTALL)[0]
    (tmp_path / name).parent.mkdir(parents=True)
    (tmp_path / name).write_text(code, encoding="utf-8")
    section = text.split("## 2. Register it", 1)[1]
    registration = re.findall(r"```yaml\n(.*?)```", section, re.DOTALL)[0]
    config = tmp_path / "show" / "clearance.yaml"
    config.parent.mkdir()
    config.write_text("clearance: 1\n" + registration, encoding="utf-8")
    for command in ("plugins", "rules"):
        done = run_cli(command, "--config", str(config))
        assert done.code == 0, done.stderr
    assert "SHOW-PROP-01" in run_cli("rules", "--config", str(config)).stdout


def test_a_missing_plugin_file_names_the_config_field_and_path_and_what_to_do(
    tmp_path: Path,
) -> None:
    config = tmp_path / "show" / "clearance.yaml"
    config.parent.mkdir()
    config.write_text(
        "clearance: 1\nplugins: [../hooks/nope.py]\n"
        "stages: [{name: comp, paths: [comp/], plugins: [gone/stage.py]}]\n",
        encoding="utf-8",
    )
    done = run_cli("scan", str(config.parent))
    assert done.code == 2
    top, stage = (line for line in done.stderr.splitlines() if "plugin " in line)
    assert f"{config}: plugins: " in top and f"{tmp_path / 'hooks/nope.py'} does not exist" in top
    assert (
        f"{config}: stages[0].plugins: " in stage and str(config.parent / "gone/stage.py") in stage
    )
    for line in (top, stage):
        assert "create the file there, or correct the path in clearance.yaml" in line
        assert "FileNotFoundError" not in line and ".py:" not in line.split("): ", 1)[1]


def test_config_md_example_keeps_plugin_files_outside_the_root() -> None:
    """docs/config.md listed ``hooks/show_denylist.py`` inside the scanned root, where
    first-checker.md and init say plugins must never be."""
    text = (REPO / "docs" / "config.md").read_text(encoding="utf-8")
    example = yaml.safe_load(
        text.split("## `clearance.yaml`", 1)[1].split("```yaml\n")[1].split("```")[0]
    )
    root = Path("/show")
    files = list(example["plugins"]) + [p for s in example["stages"] for p in s.get("plugins", [])]
    assert files
    for entry in files:
        resolved = Path(os.path.normpath(root / entry))
        assert root not in resolved.parents, entry
