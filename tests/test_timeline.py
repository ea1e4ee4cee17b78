"""Timeline audit: a real .otio written here, resolved against a real scan's lineage store.

The CLI runs for real (subprocess); OpenTimelineIO is needed (the ``timeline`` extra).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli, run_cli_unread
from test_lineage import genai_plate, sequence, sidecar, silent, single, write_config

otio = pytest.importorskip("opentimelineio")

RATE = 24


def rt(frames: int) -> Any:
    return otio.opentime.RationalTime(frames, RATE)


def tr(start: int, duration: int) -> Any:
    return otio.opentime.TimeRange(rt(start), rt(duration))


def seq_clip(
    name: str, base: str, prefix: str, first: int, count: int, used_from: int, used: int
) -> Any:
    """A clip of an image sequence with handles: ``count`` frames available, ``used`` cut in."""
    ref = otio.schema.ImageSequenceReference(
        target_url_base=base,
        name_prefix=prefix,
        name_suffix=".exr",
        start_frame=first,
        frame_zero_padding=4,
        rate=RATE,
        available_range=tr(0, count),
    )
    return otio.schema.Clip(
        name=name, media_reference=ref, source_range=tr(used_from - first, used)
    )


def file_clip(name: str, url: str, duration: int = 24) -> Any:
    ref = otio.schema.ExternalReference(target_url=url, available_range=tr(0, duration))
    return otio.schema.Clip(name=name, media_reference=ref, source_range=tr(0, duration))


def missing_clip(name: str, duration: int = 12) -> Any:
    return otio.schema.Clip(
        name=name, media_reference=otio.schema.MissingReference(), source_range=tr(0, duration)
    )


def gap(duration: int) -> Any:
    return otio.schema.Gap(source_range=tr(0, duration))


def timeline(tracks: dict[str, list[Any]], name: str = "ep101 cut v3") -> Any:
    tl = otio.schema.Timeline(name=name)
    tl.global_start_time = rt(3600 * RATE)  # 01:00:00:00
    for track_name, items in tracks.items():
        kind = (
            otio.schema.TrackKind.Audio
            if track_name.startswith("A")
            else otio.schema.TrackKind.Video
        )
        track = otio.schema.Track(name=track_name, kind=kind)
        for item in items:
            track.append(item)
        tl.tracks.append(track)
    return tl


@pytest.fixture
def show(tmp_path: Path) -> Path:
    """A scanned show: GenAI plate → silent comp; a clean scan; a GenAI sign; an edit folder."""
    root = tmp_path / "show"
    root.mkdir()
    write_config(
        root,
        [
            {"name": "scans", "paths": ["scans"]},
            {"name": "plate_gen", "paths": ["gen"]},
            {"name": "comp", "paths": ["comp"]},
        ],
    )
    frames = range(1001, 1025)
    plate = sequence(root, "gen/sh010_plate_v001.####.exr", frames)
    sidecar(root, plate, genai_plate())
    comp = sequence(root, "comp/sh010_comp_v004.####.exr", frames)
    sidecar(root, comp, silent((plate, "production_image")))
    scan_plate = sequence(root, "scans/sh020_scan_v001.####.exr", frames)
    clean = silent()
    clean["steps"] = []
    sidecar(root, scan_plate, clean)
    sign = single(root, "gen/sh040_sign_v001.exr")
    sidecar(root, sign, genai_plate())
    scanned = run_cli("scan", str(root), "--no-progress")
    assert scanned.code in (0, 1), scanned.stderr
    (root / "editorial").mkdir()
    return root


def write_edit(root: Path, tl: Any, name: str = "cut.otio") -> Path:
    path = root / "editorial" / name
    otio.adapters.write_to_file(tl, str(path))
    return path


def audit(path: Path, *args: str) -> Any:
    return run_cli("timeline", str(path), *args)


def test_genai_clips_are_flagged_with_track_clip_timecodes_and_ancestry(show: Path) -> None:
    comp_base = (show / "comp").as_uri() + "/"
    edit = write_edit(
        show,
        timeline(
            {
                "V1": [
                    seq_clip("sh010 comp", comp_base, "sh010_comp_v004.", 1001, 24, 1005, 10),
                    seq_clip("sh020 scan", "../scans/", "sh020_scan_v001.", 1001, 24, 1001, 24),
                ],
                "V2": [gap(12), file_clip("sh040 sign", "../gen/sh040_sign_v001.exr", 6)],
                "A1": [missing_clip("temp vo 3")],
            }
        ),
    )
    done = audit(edit, "--format", "json")
    assert done.code == 1, done.stderr  # the audio clip is unaudited: escalate
    doc = done.json()
    assert doc["timeline"] == "ep101 cut v3"
    clips = {c["clip"]: c for c in doc["clips"]}
    assert doc["summary"]["clips"] == 4 and doc["summary"]["genai"] == 2

    comp = clips["sh010 comp"]
    assert (comp["track"], comp["record_in"], comp["record_out"]) == (
        "V1",
        "01:00:00:00",
        "01:00:00:10",
    )
    assert comp["asset"] == "comp/sh010_comp_v004.####.exr" and comp["frames"] == "1005-1014"
    assert comp["generated"] is False and comp["genai"] is True
    assert comp["ancestry"] == ["gen/sh010_plate_v001.####.exr"]
    assert {f["rule"] for f in comp["findings"]} >= {"NFX-GP4", "IPTC-03"}

    sign = clips["sh040 sign"]
    assert (sign["track"], sign["record_in"], sign["record_out"]) == (
        "V2",
        "01:00:00:12",
        "01:00:00:18",
    )
    assert sign["genai"] is True and sign["ancestry"] == [] and sign["matched_by"] == "path"

    scan = clips["sh020 scan"]
    assert scan["genai"] is False and scan["audited"] is True
    assert scan["record_in"] == "01:00:00:10"

    vo = clips["temp vo 3"]
    assert (vo["track"], vo["audited"], vo["outcome"]) == ("A1", False, "escalate")
    assert vo["problems"] == ["no media path and no audited asset of that name"]

    table = audit(edit)
    assert table.code == 1
    assert "GenAI ancestry: gen/sh010_plate_v001.####.exr" in table.stdout
    assert "01:00:00:00  01:00:00:10  sh010 comp" in table.stdout
    assert "sh020 scan" not in table.stdout  # clean, audited, no GenAI: not flagged


def test_unknown_media_is_unaudited_and_frames_outside_the_audit_escalate(show: Path) -> None:
    comp_base = "../comp/"
    (show / "comp" / "sh010_comp_v005.1001.exr").write_bytes(b"never scanned")
    edit = write_edit(
        show,
        timeline(
            {
                "V1": [
                    # uses 1020-1030, but only 1001-1024 were audited
                    seq_clip("long comp", comp_base, "sh010_comp_v004.", 1001, 40, 1020, 11),
                    file_clip("new version", "../comp/sh010_comp_v005.1001.exr", 1),
                    missing_clip("sh010_comp_v004"),  # an EDL event: matched by clip name
                ]
            }
        ),
    )
    done = audit(edit, "--format", "json")
    assert done.code == 1
    clips = {c["clip"]: c for c in done.json()["clips"]}
    long = clips["long comp"]
    assert long["frames"] == "1020-1030" and long["outcome"] in ("escalate", "approval", "block")
    assert long["problems"] == [
        "frames 1025-1030 are cut in but were not audited (audited: 1001-1024)"
    ]
    new = clips["new version"]
    assert new["audited"] is False and new["outcome"] == "escalate"
    assert new["problems"][0].startswith("media not audited: ../comp/sh010_comp_v005.1001.exr")
    by_name = clips["sh010_comp_v004"]
    assert by_name["matched_by"] == "name" and by_name["asset"] == "comp/sh010_comp_v004.####.exr"


def test_exit_codes(show: Path, tmp_path: Path) -> None:
    clean = write_edit(
        show,
        timeline({"V1": [seq_clip("scan", "../scans/", "sh020_scan_v001.", 1001, 24, 1001, 24)]}),
    )
    assert audit(clean).code == 0
    assert audit(clean, "--fail-on", "pass").code == 0  # a pass is nothing open
    genai = write_edit(
        show, timeline({"V1": [file_clip("sign", "../gen/sh040_sign_v001.exr", 6)]}), "genai.otio"
    )
    sign_outcome = audit(genai, "--format", "json").json()["clips"][0]["outcome"]
    assert audit(genai, "--fail-on", sign_outcome).code == 1
    assert audit(genai, "--fail-on", "block").code == (1 if sign_outcome == "block" else 0)
    assert audit(genai, "--fail-on", "pass").code == 1

    missing = audit(show / "editorial" / "nope.otio")
    assert missing.code == 2 and "no such file" in missing.stderr
    broken = show / "editorial" / "broken.otio"
    broken.write_text("{not json", encoding="utf-8")
    assert audit(broken).code == 2
    unknown = show / "editorial" / "cut.xyz"
    unknown.write_text("x", encoding="utf-8")
    result = audit(unknown)
    assert result.code == 2 and "adapter" in result.stderr

    nowhere = tmp_path / "elsewhere"
    nowhere.mkdir()
    (nowhere / "clearance.yaml").write_text("clearance: 1\n", encoding="utf-8")
    otio.adapters.write_to_file(timeline({"V1": [missing_clip("x")]}), str(nowhere / "c.otio"))
    no_store = audit(nowhere / "c.otio")
    assert no_store.code == 2 and "run 'clearance scan' first" in no_store.stderr


def test_a_closed_stdout_keeps_the_clips_exit_code_and_is_no_file_error(show: Path) -> None:
    """``clearance timeline CUT | head -1``: the clips' outcome is the exit code, and the
    closed pipe is not reported as an error of a file named None."""
    genai = write_edit(
        show, timeline({"V1": [file_clip("sign", "../gen/sh040_sign_v001.exr", 6)]}), "genai.otio"
    )
    outcome = audit(genai, "--format", "json").json()["clips"][0]["outcome"]
    for fmt in ("table", "json", "csv"):
        done = run_cli_unread("timeline", str(genai), "--fail-on", outcome, "--format", fmt)
        assert (done.code, done.stderr) == (1, ""), fmt


def test_an_otio_file_that_holds_no_timeline_exits_2_naming_it(show: Path) -> None:
    cases = {
        "unknown.otio": ('{"OTIO_SCHEMA": "Banana.1"}', "the unknown schema 'Banana'"),
        "list.otio": ("[1, 2, 3]", "its top level is a list"),
    }
    for name, (text, said) in cases.items():
        edit = show / "editorial" / name
        edit.write_text(text, encoding="utf-8")
        done = audit(edit)
        assert done.code == 2 and "internal error" not in done.stderr, done.stderr
        assert f"clearance: error: {edit}: contains no timeline (" in done.stderr
        assert said in done.stderr


def test_without_opentimelineio_the_command_says_how_to_install(show: Path, tmp_path: Path) -> None:
    shadow = tmp_path / "shadow" / "opentimelineio"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text(
        "raise ImportError('not installed here')\n", encoding="utf-8"
    )
    edit = write_edit(show, timeline({"V1": [missing_clip("x")]}))
    result = run_cli("timeline", str(edit), env={"PYTHONPATH": str(shadow.parent)})
    assert result.code == 2
    assert "pip install 'genai-clearance[timeline]'" in result.stderr


def test_csv_and_html_outputs(show: Path, tmp_path: Path) -> None:
    edit = write_edit(
        show,
        timeline(
            {
                "V1": [seq_clip("sh010 comp", "../comp/", "sh010_comp_v004.", 1001, 24, 1001, 24)],
                "A1": [missing_clip("temp <vo>")],
            }
        ),
    )
    out = tmp_path / "cut.csv"
    assert audit(edit, "--format", "csv", "-o", str(out)).code == 1
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [r["clip"] for r in rows] == ["sh010 comp", "temp <vo>"]
    assert rows[0]["ancestry"] == "gen/sh010_plate_v001.####.exr" and rows[0]["genai"] == "True"
    assert rows[1]["audited"] == "False" and rows[1]["outcome"] == "escalate"

    page = tmp_path / "cut.html"
    assert audit(edit, "--format", "html", "-o", str(page)).code == 1
    text = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "sh010 comp" in text and "temp &lt;vo&gt;" in text and "<vo>" not in text
    assert "Built on GenAI:</b> gen/sh010_plate_v001.####.exr" in text
    assert "http://" not in text.replace("http-equiv", "")  # self-contained


def test_html_shows_clip_and_track_names_a_browser_would_blur_as_the_table_does(
    show: Path, tmp_path: Path
) -> None:
    """A clip named with a bidi override (U+202E) reversed the rest of its cell in the HTML
    page, the GenAI and unaudited tags after the name among them (``IAneG``), and a line
    break in a name read as a space: clip, track and timeline names are shown as the table
    shows them (quoted, escaped), so each reads as itself."""
    from html.parser import HTMLParser

    edit = write_edit(
        show,
        timeline(
            {
                "V\n1": [file_clip("sh040 sign\u202e", "../gen/sh040_sign_v001.exr", 6)],
                "A1": [missing_clip("temp\nvo")],
            },
            name="cut\u202e v3",
        ),
    )
    page = tmp_path / "cut.html"
    assert audit(edit, "--format", "html", "-o", str(page)).code == 1

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.rows: list[list[str]] = []
            self.cell: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "tr":
                self.rows.append([])
            elif tag == "td":
                self.cell = ""

        def handle_endtag(self, tag: str) -> None:
            if tag == "td" and self.cell is not None:
                self.rows[-1].append(self.cell)
                self.cell = None

        def handle_data(self, data: str) -> None:
            if self.cell is not None:
                self.cell += data

    text = page.read_text(encoding="utf-8")
    assert "\u202e" not in text and "\n1" not in text
    cells = Cells()
    cells.feed(text)
    shown = {(row[1], row[2]) for row in cells.rows if len(row) > 2}
    assert shown == {('"V\\n1"', '"sh040 sign\\u202e"GenAI'), ("A1", '"temp\\nvo"unaudited')}
    assert "<h1>GenAI on screen — &quot;cut\\u202e v3&quot;" in text


def test_a_clip_otio_cannot_place_is_a_problem_and_the_rest_goes_on(show: Path) -> None:
    """A clip with no source range whose media has no available range (OTIO cannot tell
    its duration, nor where the clips after it are) stopped the whole audit: exit 2,
    "internal error: CannotComputeAvailableRangeError". It is a problem of that clip
    (escalate: on screen for all one knows, though its asset passed), its timecodes "?",
    and every other clip is audited."""
    ref = otio.schema.ImageSequenceReference(
        target_url_base="../scans/",
        name_prefix="sh020_scan_v001.",
        name_suffix=".exr",
        start_frame=1001,
        frame_zero_padding=4,
        rate=RATE,
    )
    unplaced = otio.schema.Clip(name="sh020 scan, no range", media_reference=ref)
    edit = write_edit(
        show,
        timeline(
            {
                "V1": [unplaced],
                "V2": [seq_clip("sh020 scan", "../scans/", "sh020_scan_v001.", 1001, 24, 1001, 24)],
            }
        ),
    )
    done = audit(edit, "--format", "json")
    assert done.code == 1, done.stderr
    clips = {c["clip"]: c for c in done.json()["clips"]}
    scan = clips["sh020 scan, no range"]
    assert (scan["asset"], scan["outcome"]) == ("scans/sh020_scan_v001.####.exr", "escalate")
    assert (scan["record_in"], scan["record_out"], scan["frames"]) == ("?", "?", None)
    assert any("cannot be computed" in p for p in scan["problems"])
    placed = clips["sh020 scan"]
    assert (placed["outcome"], placed["record_in"]) == ("pass", "01:00:00:00")
    table = audit(edit)
    assert table.code == 1 and "where it is in the cut cannot be computed" in table.stdout


def test_a_clip_after_one_otio_cannot_place_is_said_to_be_unplaced_because_of_it(
    show: Path,
) -> None:
    """Where a clip starts is the sum of the clips before it on its track: after one OTIO
    cannot place, a clip with its own source range cannot be placed either, and was said to
    have "no source range, and its media no available range", which was not so."""
    ref = otio.schema.ImageSequenceReference(
        target_url_base="../scans/",
        name_prefix="sh020_scan_v001.",
        name_suffix=".exr",
        start_frame=1001,
        frame_zero_padding=4,
        rate=RATE,
    )
    unplaced = otio.schema.Clip(name="sh020 scan, no range", media_reference=ref)
    after = seq_clip("sh020 scan", "../scans/", "sh020_scan_v001.", 1001, 24, 1001, 24)
    edit = write_edit(show, timeline({"V1": [unplaced, after]}))
    done = audit(edit, "--format", "json")
    assert done.code == 1, done.stderr
    clips = {c["clip"]: c for c in done.json()["clips"]}
    (own,) = [p for p in clips["sh020 scan, no range"]["problems"] if "cannot be computed" in p]
    assert "it has no source range" in own
    placed = clips["sh020 scan"]
    assert (placed["outcome"], placed["record_in"], placed["record_out"]) == ("escalate", "?", "?")
    (why,) = [p for p in placed["problems"] if "cannot be computed" in p]
    assert "a clip before it on track V1 has no source range" in why
    assert "it has no source range" not in why


def test_two_hundred_clips_over_three_tracks_with_handles(show: Path) -> None:
    tracks: dict[str, list[Any]] = {"V1": [], "V2": [], "V3": []}
    for i in range(200):
        name = ("V1", "V2", "V3")[i % 3]
        if i % 4 == 0:
            clip = seq_clip(f"c{i:03d}", "../comp/", "sh010_comp_v004.", 1001, 24, 1003 + i % 8, 12)
        elif i % 4 == 1:
            clip = seq_clip(f"c{i:03d}", "../scans/", "sh020_scan_v001.", 1001, 24, 1009, 8)
        elif i % 4 == 2:
            clip = file_clip(f"c{i:03d}", "../gen/sh040_sign_v001.exr", 6)
        else:
            clip = missing_clip(f"c{i:03d}")
        tracks[name].append(clip)
    edit = write_edit(show, timeline(tracks))
    done = audit(edit, "--format", "json")
    assert done.code == 1
    doc = done.json()
    assert doc["summary"]["clips"] == 200 and doc["summary"]["tracks"] == 3
    assert doc["summary"]["genai"] == 100  # the comp (inherited) and the sign (own)
    assert doc["summary"]["unaudited"] == 50
    v3 = [c for c in doc["clips"] if c["track"] == "V3"]
    assert len(v3) == 66 and v3[0]["record_in"] == "01:00:00:00"
    comps = [c for c in doc["clips"] if c["asset"] == "comp/sh010_comp_v004.####.exr"]
    assert all(c["problems"] == [] and c["frames"] for c in comps)  # handles are not "used"


def test_edl_events_match_audited_assets_by_clip_name_or_file(show: Path) -> None:
    pytest.importorskip("otio_cmx3600_adapter")
    edl = show / "editorial" / "conform.edl"
    edl.write_text(
        "TITLE: EP101 CONFORM\nFCM: NON-DROP FRAME\n\n"
        "001  A005C012 V     C        00:00:00:00 00:00:01:00 01:00:00:00 01:00:01:00\n"
        "* FROM CLIP NAME: sh040_sign_v001\n\n"
        "002  AX       V     C        00:00:00:00 00:00:01:00 01:00:01:00 01:00:02:00\n"
        "* FROM CLIP NAME: scan\n"
        f"* FROM FILE: {show / 'scans' / 'sh020_scan_v001.1001.exr'}\n\n"
        "003  TMPSCORE A     C        00:00:00:00 00:00:04:00 01:00:00:00 01:00:04:00\n"
        "* FROM CLIP NAME: temp score v002\n",
        encoding="utf-8",
    )
    done = audit(edl, "--format", "json")
    assert done.code == 1, done.stderr
    clips = {c["clip"]: c for c in done.json()["clips"]}
    sign = clips["sh040_sign_v001"]
    assert (sign["matched_by"], sign["asset"], sign["genai"]) == (
        "name",
        "gen/sh040_sign_v001.exr",
        True,
    )
    scan = clips["scan"]
    assert (scan["matched_by"], scan["asset"], scan["frames"]) == (
        "path",
        "scans/sh020_scan_v001.####.exr",
        "1001",
    )
    assert clips["temp score v002"]["audited"] is False


def test_media_changed_or_gone_since_the_scan_is_a_problem(show: Path) -> None:
    edit = write_edit(
        show,
        timeline(
            {
                "V1": [
                    seq_clip("comp", "../comp/", "sh010_comp_v004.", 1001, 24, 1001, 24),
                    seq_clip("scan", "../scans/", "sh020_scan_v001.", 1001, 24, 1001, 24),
                    file_clip("sign", "../gen/sh040_sign_v001.exr", 6),
                ]
            }
        ),
    )
    before = {c["clip"]: c for c in audit(edit, "--format", "json").json()["clips"]}
    assert before["scan"]["problems"] == [] and before["scan"]["outcome"] == "pass"
    last = show / "scans" / "sh020_scan_v001.1024.exr"
    last.write_bytes(last.read_bytes() + b"re-rendered")  # a re-render after the scan
    (show / "gen" / "sh040_sign_v001.exr").unlink()
    after = {c["clip"]: c for c in audit(edit, "--format", "json").json()["clips"]}
    assert after["scan"]["outcome"] == "escalate"
    assert after["scan"]["problems"] == [
        "the media or its sidecar changed since it was audited: re-scan before auditing the cut"
    ]
    assert after["sign"]["problems"] == [
        "the audited media is no longer on disk (gen/sh040_sign_v001.exr)"
    ]
    assert after["comp"]["problems"] == []
