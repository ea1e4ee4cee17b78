"""``clearance report``: golden files for table/csv/json/junit, merging hosts, the latest audit
of each asset, filters, flat memory on long logs, and exit 2 on unreadable logs."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
import tracemalloc
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from _hold import hold_env, hold_plugin, start_held
from clearance.auditlog import AuditLog, make_audit_logger
from clearance.report import Filters, build_report, parse_time
from clearance.report_text import render_json
from clearance.testing import ClearanceRun, write_png
from conftest import genai_sidecar

CLEARANCE = Path(sys.executable).with_name("clearance")
GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CLEARANCE_UPDATE_GOLDEN") == "1"

STAGES = ["ideation", "plate_gen", "comp", "delivery"]

REMEDIATION = {
    "PRV-01": "Write the sidecar next to the asset: NAME.EXT.genai.yaml for a single file.",
    "NFX-C1": "Obtain written approval before a generated key visual goes further.",
    "NFX-GP2": "Switch to an enterprise or zero-retention tier, or obtain written approval.",
    "NFX-T2": "Obtain the performer's consent for a digital replica before use.",
    "NFX-00": "Log this GenAI use with your studio contact before proceeding.",
}
PRINCIPLE = {
    "PRV-01": "provenance",
    "NFX-C1": "creative-output",
    "NFX-GP2": "data-handling",
    "NFX-T2": "talent",
    "NFX-00": "disclosure",
}


def clearance(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(CLEARANCE), *args], capture_output=True, text=True, timeout=120)


class Clock:
    def __init__(self, start: str) -> None:
        self.now = datetime.fromisoformat(start.replace("Z", "+00:00"))

    def __call__(self) -> str:
        self.now += timedelta(milliseconds=250)
        return self.now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{self.now.microsecond // 1000:03d}Z"


# Each asset: (stage, asset, frames, [(rule, outcome, status, approval, message)])
SHOW: list[tuple[str, str, str | None, list[tuple[str, str, str, str | None, str]]]] = [
    (
        "ideation",
        "ideation/mood_01.png",
        None,
        [("NFX-00", "notice", "open", None, "GenAI use not yet shared with the studio contact")],
    ),
    ("ideation", "ideation/mood_02.png", None, []),
    (
        "plate_gen",
        "gen/plates/sh010_bg_v003.####.exr",
        "1001-1024",
        [
            (
                "NFX-GP2",
                "approval",
                "approved",
                "APR-0031",
                "tool retains inputs (limited); covered by approval",
            ),
            ("NFX-00", "notice", "open", None, "GenAI use not yet shared with the studio contact"),
        ],
    ),
    (
        "plate_gen",
        "gen/plates/sh020_bg_v001.####.exr",
        "1001-1012,1014-1024",
        [
            (
                "PRV-01",
                "escalate",
                "open",
                None,
                "no provenance: no sidecar and no embedded GenAI metadata",
            )
        ],
    ),
    (
        "comp",
        "comp/sh010_comp_v004.####.exr",
        "1001-1024",
        [
            (
                "NFX-C1",
                "approval",
                "expired",
                "APR-0007",
                "generated key visual for final use; approval APR-0007 expired",
            ),
            (
                "NFX-GP2",
                "approval",
                "approved",
                "APR-0031",
                "tool retains inputs (limited); covered by approval",
            ),
        ],
    ),
    (
        "comp",
        "comp/sh030_comp_v002.####.exr",
        "1001-1024",
        [("NFX-T2", "block", "open", None, "digital replica of performer P-0042 without consent")],
    ),
    ("delivery", "delivery/SALT01_101_v001.mov", None, []),
]


def emit_run(
    audit: Any, clock: Clock, show: list, *, stages: list[str] = STAGES, command: str = "scan"
) -> None:
    """The events one engine run writes (shapes as in clearance.engine)."""
    audit.info(
        "run.started",
        time=clock(),
        message=f"clearance {command}",
        details={"command": command, "paths": ["show"], "version": "0.1.0"},
    )
    audit.info(
        "policy.loaded",
        time=clock(),
        message="show/clearance.yaml",
        details={
            "files": {"show/clearance.yaml": "ab" * 32},
            "production": "SALT01",
            "stages": stages,
        },
    )
    audit.info(
        "plugin.loaded",
        time=clock(),
        message="show_denylist",
        details={"name": "show_denylist", "source": "hooks/show_denylist.py", "stages": None},
    )
    worst_run = "pass"
    by_outcome: dict[str, int] = {}
    for stage in stages:
        items = [a for a in show if a[0] == stage]
        audit.info("stage.started", time=clock(), stage=stage, message=f"stage {stage}")
        counts = dict.fromkeys(["pass", "notice", "escalate", "approval", "block"], 0)
        for _stage, asset, frames, findings in items:
            rank = ["pass", "notice", "escalate", "approval", "block"]
            worst = "pass"
            for rule, outcome, status, approval, message in findings:
                if status == "expired":
                    audit.info(
                        "approval.expired",
                        time=clock(),
                        stage=stage,
                        asset=asset,
                        rule=rule,
                        outcome=outcome,
                        status=status,
                        approval=approval,
                        message=f"approval {approval} covers {rule} but expired",
                        details={"expires": "2026-10-31"},
                    )
                details: dict[str, Any] = {
                    "principle": PRINCIPLE[rule],
                    "remediation": REMEDIATION[rule],
                    "evidence": {"approval_expired": "2026-10-31"} if status == "expired" else {},
                    "frames": frames,
                }
                audit.info(
                    "finding",
                    time=clock(),
                    stage=stage,
                    asset=asset,
                    rule=rule,
                    outcome=outcome,
                    status=status,
                    approval=approval,
                    message=message,
                    details=details,
                )
                if status != "approved" and rank.index(outcome) > rank.index(worst):
                    worst = outcome
            counts[worst] += 1
            by_outcome[worst] = by_outcome.get(worst, 0) + 1
            if rank.index(worst) > rank.index(worst_run):
                worst_run = worst
            audit.info(
                "asset.audited",
                time=clock(),
                stage=stage,
                asset=asset,
                outcome=worst,
                message=f"{asset}: {worst}",
                details={
                    "frames": frames,
                    "findings": len(findings),
                    "open": sum(1 for f in findings if f[2] != "approved"),
                    "sidecar": None,
                    "sources": ["sidecar"],
                },
            )
        audit.info(
            "stage.finished",
            time=clock(),
            stage=stage,
            message=f"stage {stage}",
            details={"counts": counts, "assets": len(items)},
        )
    audit.info(
        "run.finished",
        time=clock(),
        outcome=worst_run,
        message=f"clearance {command} finished",
        details={"assets": len(show), "by_outcome": by_outcome, "exit_code": 1},
    )


def write_show_log(
    path: Path,
    *,
    host: str = "ws-supervisor",
    run_id: str = "run-0001",
    start: str = "2026-11-26T09:00:00.000Z",
    show: list | None = None,
    max_bytes: int | None = None,
) -> Path:
    """A realistic log of one run over the sample show (deterministic: fixed times and ids)."""
    log = AuditLog(path, max_bytes=max_bytes)
    audit = make_audit_logger(log, run_id=run_id, host=host)
    emit_run(audit, Clock(start), SHOW if show is None else show)
    log.close()
    return path


@pytest.fixture
def show_log(tmp_path: Path) -> Path:
    return write_show_log(tmp_path / "audit.jsonl")


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        if not UPDATE:
            pytest.fail(f"golden file {path} was missing and has been written; check it in")
    assert text == path.read_text(encoding="utf-8"), (
        f"differs from {path} (CLEARANCE_UPDATE_GOLDEN=1 to accept)"
    )


def normalise(text: str, log: Path) -> str:
    return text.replace(str(log), "LOG")


@pytest.mark.parametrize(
    "fmt, golden",
    [
        ("table", "report_table.txt"),
        ("csv", "report.csv"),
        ("json", "report.json"),
        ("junit", "report_junit.xml"),
    ],
)
def test_report_formats_match_their_golden_files(show_log: Path, fmt: str, golden: str) -> None:
    proc = clearance("report", str(show_log), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    check_golden(golden, normalise(proc.stdout, show_log))


def test_table_lists_open_findings_worst_first_with_remediation(show_log: Path) -> None:
    out = clearance("report", str(show_log)).stdout
    # stages in pipeline order, assets worst first within a stage
    assert out.index("== plate_gen ==") < out.index("== comp ==")
    assert out.index("comp/sh030_comp_v002") < out.index("comp/sh010_comp_v004")
    assert "fix: Obtain the performer's consent" in out
    assert "EXPIRED  APR-0007" in out and "used     APR-0031" in out
    for stage in STAGES:
        assert f"\n{stage} " in out


def test_csv_has_one_row_per_finding_including_approved_ones(show_log: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(clearance("report", str(show_log), "-f", "csv").stdout)))
    assert len(rows) == sum(len(a[3]) for a in SHOW)
    approved = [r for r in rows if r["status"] == "approved"]
    assert {r["approval"] for r in approved} == {"APR-0031"}
    assert all(r["remediation"] for r in rows)


def test_junit_has_a_case_per_asset_and_fails_at_or_above_fail_on(show_log: Path) -> None:
    def failures(*extra: str) -> dict[str, str]:
        xml = clearance("report", str(show_log), "-f", "junit", *extra).stdout
        root = ET.fromstring(xml)
        cases = root.findall(".//testcase")
        assert len(cases) == len(SHOW)
        return {
            c.get("name"): c.find("failure").get("type")
            for c in cases
            if c.find("failure") is not None
        }  # type: ignore[misc, union-attr]

    assert failures() == {
        "comp/sh030_comp_v002.####.exr": "block",
        "comp/sh010_comp_v004.####.exr": "approval",  # the approval expired: still open
        "gen/plates/sh020_bg_v001.####.exr": "escalate",
    }
    assert failures("--fail-on", "block") == {"comp/sh030_comp_v002.####.exr": "block"}
    assert len(failures("--fail-on", "notice")) == 5
    # a pass is never open: an asset with nothing open is a passing case at --fail-on pass
    # too (it was a failure, "outcome pass with no finding recorded")
    assert failures("--fail-on", "pass") == failures("--fail-on", "notice")
    assert "ideation/mood_02.png" not in failures("--fail-on", "pass")


def test_logs_from_several_hosts_merge_in_time_order(tmp_path: Path) -> None:
    a = write_show_log(
        tmp_path / "a" / "audit.jsonl",
        host="farm01",
        run_id="r-a",
        start="2026-11-26T09:00:00.000Z",
        show=SHOW[:3],
    )
    b = write_show_log(
        tmp_path / "b" / "audit.jsonl",
        host="farm02",
        run_id="r-b",
        start="2026-11-26T09:00:01.100Z",
        show=SHOW[3:],
    )
    report = build_report([a, b])
    assert {(x.stage, x.asset) for x in report.assets} == {(s, n) for s, n, _f, _x in SHOW}
    assert [r["host"] for r in report.runs] == ["farm01", "farm02"]
    from clearance.report import iter_events

    times = [(e["time"], e["host"]) for e in iter_events([a, b])]
    assert times == sorted(times)
    assert {h for _t, h in times} == {"farm01", "farm02"}


def test_the_latest_audit_of_an_asset_replaces_earlier_ones(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_show_log(path, run_id="r1", start="2026-11-20T09:00:00.000Z")
    fixed = [(s, n, f, [] if n.startswith("comp/sh030") else x) for s, n, f, x in SHOW]
    log = AuditLog(path)
    emit_run(
        make_audit_logger(log, run_id="r2", host="ws"), Clock("2026-11-26T09:00:00.000Z"), fixed
    )
    report = build_report([path])
    sh030 = next(a for a in report.assets if a.asset == "comp/sh030_comp_v002.####.exr")
    assert sh030.outcome == "pass" and sh030.findings == [] and sh030.run_id == "r2"
    assert report.as_dict()["summary"]["by_stage"]["comp"]["by_outcome"]["block"] == 0
    # restricted to the first run's window, the block is back
    old = build_report([path], Filters(until=parse_time("2026-11-21")))
    assert old.as_dict()["summary"]["by_stage"]["comp"]["by_outcome"]["block"] == 1


def test_filters_by_stage_outcome_rule_and_time(show_log: Path) -> None:
    def doc(*args: str) -> dict[str, Any]:
        proc = clearance("report", str(show_log), "-f", "json", *args)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    only_comp = doc("--stage", "comp")
    assert list(only_comp["summary"]["by_stage"]) == ["comp"]
    assert {a["stage"] for a in only_comp["assets"]} == {"comp"}
    two = doc("--stage", "comp,ideation")
    assert list(two["summary"]["by_stage"]) == ["ideation", "comp"]
    blocks = doc("--outcome", "block")
    assert [f["rule"] for a in blocks["assets"] for f in a["findings"]] == ["NFX-T2"]
    gp = doc("--rule", "NFX-GP*")
    assert {f["rule"] for a in gp["assets"] for f in a["findings"]} == {"NFX-GP2"}
    assert doc("--since", "2026-11-27")["summary"]["assets"] == 0
    assert doc("--until", "2026-11-25T23:59Z")["summary"]["assets"] == 0
    window = doc("--since", "2026-11-26T09:00:05Z", "--until", "2026-11-26T09:00:09Z")
    assert 0 < window["summary"]["assets"] < len(SHOW)


def test_a_stage_no_event_has_is_a_usage_error_naming_the_logs_stages(
    show_log: Path, tmp_path: Path
) -> None:
    """``--stage compp`` (a typo) must not print an all-clear report of nothing: it exits 2
    naming the stages the log has; a stage the log has, outside the time window, is an
    empty report as before."""
    out = tmp_path / "report.html"
    proc = clearance("report", str(show_log), "--stage", "comp,compp", "-f", "html", "-o", str(out))
    assert proc.returncode == 2 and proc.stdout == "" and not out.exists()
    assert f"--stage compp: no event in {show_log} has this stage; its stages: " in proc.stderr
    assert "ideation" in proc.stderr and "comp" in proc.stderr.split("its stages: ")[1]
    proc = clearance("report", str(show_log), "--stage", "comp", "--since", "2026-11-27")
    assert proc.returncode == 0, proc.stderr


def test_a_rule_no_finding_has_is_said_never_a_silent_all_clear(show_log: Path) -> None:
    """``--rule NFX-T9`` (a typo for NFX-T2) read "0 open finding(s) … No open findings",
    exit 0, and said nothing: an all-clear of a log with a block. A rule pattern that no
    finding of the assets reported matches is said in a warning naming the rules they have."""
    proc = clearance("report", str(show_log), "--rule", "NFX-T9,NFX-C*", "-f", "json")
    assert proc.returncode == 0, proc.stderr
    said = (
        "--rule NFX-T9: no finding of the assets reported has a rule it matches (a typo?); "
        "their rules: NFX-00, NFX-C1, NFX-GP2, NFX-T2, PRV-01"
    )
    assert f"clearance: warning: {said}" in proc.stderr
    assert said in json.loads(proc.stdout)["warnings"]
    proc = clearance("report", str(show_log), "--rule", "NFX-T*")
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr


def test_parse_time_accepts_dates_zones_and_ages() -> None:
    assert parse_time("2026-11-26") == "2026-11-26T00:00:00.000Z"
    assert parse_time("2026-11-26T21:00+01:00") == "2026-11-26T20:00:00.000Z"
    now = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
    assert parse_time("36h", now=now) == "2026-11-25T00:00:00.000Z"
    assert parse_time("1w", now=now) == "2026-11-19T12:00:00.000Z"


def test_bad_options_and_unreadable_logs_exit_2(tmp_path: Path, show_log: Path) -> None:
    proc = clearance("report", str(tmp_path / "nope.jsonl"))
    assert proc.returncode == 2 and "nope.jsonl: no such audit log" in proc.stderr
    proc = clearance("report", str(tmp_path))
    assert proc.returncode == 2 and "is a folder" in proc.stderr
    proc = clearance("report", str(show_log), "--since", "last tuesday")
    assert proc.returncode == 2 and "not a time" in proc.stderr
    proc = clearance("report", str(show_log), "--outcome", "severe")
    assert proc.returncode == 2 and "unknown outcome" in proc.stderr
    proc = clearance("report", str(show_log), "-f", "html", "-o", "/dev/full")
    assert proc.returncode == 2 and "/dev/full" in proc.stderr and "No space left" in proc.stderr
    unreadable = tmp_path / "locked.jsonl"
    unreadable.mkdir()
    (unreadable.parent / "locked.jsonl.000001").write_text("")
    assert clearance("report", str(unreadable)).returncode == 2


def test_a_time_out_of_the_calendar_exits_2_naming_the_option(show_log: Path) -> None:
    """An age past year 1 or a zone pushing a date past 9999 is a malformed option (exit 2,
    naming it and its value), not an internal error."""
    for option, value in (
        ("--since", "3000000d"),
        ("--until", "99999999999d"),
        ("--since", "9999-12-31T23:30-01:00"),
        ("--until", "0001-01-01T00:00+01:00"),
    ):
        proc = clearance("report", str(show_log), option, value)
        assert proc.returncode == 2 and proc.stdout == "", (option, value, proc.stderr)
        assert f"{option} {value!r} is out of range" in proc.stderr
        assert "internal error" not in proc.stderr
    proc = clearance("report", str(show_log), "--until", "someday")
    assert proc.returncode == 2 and "--until 'someday' is not a time" in proc.stderr


def test_a_since_after_the_until_exits_2_naming_both(show_log: Path) -> None:
    """``--since 7d --until 1d`` the wrong way round (``--since 1d --until 7d``) is a window
    no time is in: the report of it was "0 asset(s) … No open findings", exit 0, an
    all-clear of a log that has open findings. It is a malformed option pair (exit 2)."""
    for since, until in (("1d", "7d"), ("2026-11-27", "2026-11-26T23:59Z")):
        proc = clearance("report", str(show_log), "--since", since, "--until", until)
        assert proc.returncode == 2 and proc.stdout == "", proc.stderr
        assert f"--since {since!r} (" in proc.stderr and f"is after --until {until!r} (" in (
            proc.stderr
        )
    proc = clearance("report", str(show_log), "--since", "2026-11-26", "--until", "2026-11-27")
    assert proc.returncode == 0 and "5 open finding(s)" in proc.stdout, proc.stderr


def test_a_date_alone_as_until_is_the_end_of_that_day(show_log: Path) -> None:
    """``--until 2026-11-28`` meant midnight at the start of that day, so ``--since D
    --until D`` (the report of one day) was an empty window: "No open findings", exit 0, for
    a day whose audits had open findings. A date alone as ``--until`` is the whole day."""
    events = [json.loads(line) for line in show_log.read_text().splitlines()]
    day = events[-1]["time"][:10]
    proc = clearance("report", str(show_log), "--since", day, "--until", day)
    assert proc.returncode == 0 and "5 open finding(s)" in proc.stdout, proc.stdout
    before = (datetime.fromisoformat(day) - timedelta(days=1)).date().isoformat()
    proc = clearance("report", str(show_log), "--until", before, "-f", "json")
    assert json.loads(proc.stdout)["assets"] == []  # the day before ends before it


def test_a_date_with_a_zone_is_that_day_there(show_log: Path) -> None:
    """Python 3.11 takes any character between a date and a time: ``2026-11-26+01:00`` was
    read as 01:00 UTC of that day (``+`` parting them), neither that day's start nor its end
    there, and ``--until 2026-11-26Z`` meant its start where ``--until 2026-11-26`` is its end."""
    assert parse_time("2026-11-26+01:00") == "2026-11-25T23:00:00.000Z"
    assert parse_time("2026-11-26+01:00", end=True) == "2026-11-26T22:59:59.999Z"
    assert parse_time("2026-11-26-05:00", end=True) == "2026-11-27T04:59:59.999Z"
    assert parse_time("2026-11-26Z", end=True) == parse_time("2026-11-26", end=True)
    assert parse_time("2026-11-26T00:00", end=True) == "2026-11-26T00:00:00.000Z"
    events = [json.loads(line) for line in show_log.read_text().splitlines()]
    day = events[-1]["time"][:10]
    proc = clearance("report", str(show_log), "--since", f"{day}Z", "--until", f"{day}Z")
    assert proc.returncode == 0 and "5 open finding(s)" in proc.stdout, proc.stdout


def test_a_file_that_is_not_an_audit_log_exits_2_naming_it(tmp_path: Path, show_log: Path) -> None:
    state = tmp_path / "state.db"
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE audits (asset TEXT, outcome TEXT)")
        db.executemany(
            "INSERT INTO audits VALUES (?, ?)", [(f"a{i}.png", "pass") for i in range(50)]
        )
    config = tmp_path / "clearance.yaml"
    config.write_text("clearance: 1\nstages: [{name: comp, paths: [comp/]}]\n")
    for wrong in (state, config):
        for fmt in ("junit", "json"):
            proc = clearance("report", str(wrong), "-f", fmt)
            assert proc.returncode == 2 and proc.stdout == "", proc.stdout
            assert f"{wrong}: not an audit log (none of its lines is an audit event)" in proc.stderr
        proc = clearance("report", str(show_log), str(wrong))  # with a real log as well
        assert proc.returncode == 2 and f"{wrong}: not an audit log" in proc.stderr


def test_an_empty_log_exits_2_naming_it_never_an_all_clear(tmp_path: Path, show_log: Path) -> None:
    """A log emptied by ``> audit.jsonl`` or copytruncate (or one a first write failed in) holds
    no events: reported as all clear it would hide every finding the log had."""
    empty = tmp_path / "emptied.jsonl"
    empty.write_text("")
    for args in ([str(empty)], [str(empty), "-f", "junit"], [str(show_log), str(empty)]):
        proc = clearance("report", *args)
        assert proc.returncode == 2 and proc.stdout == "", (args, proc.stdout)
        assert f"{empty}: the audit log is empty (no events)" in proc.stderr
    # a log whose active file was just emptied by rotation still has events in its rotated files
    rotated = tmp_path / "rotated" / "audit.jsonl"
    write_show_log(rotated)
    rotated.rename(rotated.with_name("audit.jsonl.000001"))
    rotated.write_text("")
    assert clearance("report", str(rotated)).returncode == 0
    # a time window with no events in it is an empty report of a real log, as before
    proc = clearance("report", str(show_log), "--since", "2030-01-01")
    assert proc.returncode == 0 and "0 asset(s)" in proc.stdout


@pytest.mark.parametrize(
    "data", [b'{"schema":"clearance.event/1","seq":1,"pr', b'{"sch', b'{"schema":"clear\0\0\0']
)
def test_a_log_of_only_a_torn_line_is_said_to_hold_no_events(tmp_path: Path, data: bytes) -> None:
    """A writer killed in its first write leaves a log of one torn line: it was "not an
    audit log (none of its lines is an audit event)", as for the wrong file given."""
    log = tmp_path / "audit.jsonl"
    log.write_bytes(data)
    proc = clearance("report", str(log))
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"{log}: the audit log holds no events: its only line(s) are torn" in proc.stderr
    assert "not an audit log" not in proc.stderr
    assert clearance("verify", str(log)).returncode == 0  # torn: not tampering


def test_damaged_lines_are_skipped_with_a_warning(show_log: Path) -> None:
    with open(show_log, "ab") as fh:
        fh.write(b'not json\n{"half":')
    proc = clearance("report", str(show_log), "-f", "json")
    assert proc.returncode == 0
    assert "2 line(s)" in proc.stderr and "clearance verify" in proc.stderr
    assert json.loads(proc.stdout)["summary"]["assets"] == len(SHOW)


def test_an_edited_log_is_reported_with_a_warning_that_its_chain_is_broken(
    tmp_path: Path,
) -> None:
    """A block turned into a pass by hand (the line is still an event) was reported as a
    pass with nothing on stderr: a tampered log passed silently. The report follows the
    chain as it reads and names the first event that does not chain to the one before it;
    logs that are intact (rotated, a torn line recovered) get no such warning."""
    log = write_show_log(tmp_path / "edited" / "audit.jsonl", max_bytes=4000)
    assert len(list(log.parent.glob("audit.jsonl.0*"))) >= 2
    with open(log, "ab") as fh:  # a crash mid-line, recovered by the next writer
        fh.write(b'{"schema":"clearance.event/1","seq":')
    AuditLog(log).append({"event": "run.started", "run_id": "run-0002", "host": "ws"})
    proc = clearance("report", str(log), "-f", "json")
    assert proc.returncode == 0 and "chain" not in proc.stderr, proc.stderr
    before = json.loads(proc.stdout)
    edited, lines, n = next(
        (f, lines, i)
        for f in sorted(log.parent.glob("audit.jsonl*"))
        for lines in [f.read_bytes().split(b"\n")]
        for i in range(len(lines) - 1)
        if b'"outcome":"block"' in lines[i] and lines[i + 1].endswith(b"}")  # an event after it
    )
    lines[n] = lines[n].replace(b'"outcome":"block"', b'"outcome":"pass"')
    edited.write_bytes(b"\n".join(lines))
    proc = clearance("report", str(log), "-f", "json")
    assert proc.returncode == 0
    seq = json.loads(lines[n + 1])["seq"]
    assert (
        f"{edited}:{n + 2}: the audit log's hash chain is broken at this event (seq {seq}: its "
        "prev is not the hash of the event before it): lines were edited, deleted, moved or "
        f"inserted, and this report may not show what was audited; run `clearance verify {log}`"
    ) in proc.stderr
    assert json.loads(proc.stdout)["summary"] != before["summary"]  # what was edited is read
    assert clearance("verify", str(log)).returncode == 3
    # the report files legal reads without that stderr say it too (they said nothing)
    assert not any("chain" in w for w in before["warnings"]), before["warnings"]
    [warning] = [w for w in json.loads(proc.stdout)["warnings"] if "chain" in w]
    assert "the audit log's hash chain is broken at this event" in warning
    html = tmp_path / "report.html"
    assert clearance("report", str(log), "-f", "html", "-o", str(html)).returncode == 0
    page = html.read_text()
    assert '<section id="warnings"><h2>Read with care: the logs</h2>' in page
    assert "hash chain is broken at this event" in page
    clean = tmp_path / "clean.html"
    write_show_log(tmp_path / "clean" / "audit.jsonl")
    assert (
        clearance(
            "report", str(tmp_path / "clean" / "audit.jsonl"), "-f", "html", "-o", str(clean)
        ).returncode
        == 0
    )
    assert 'id="warnings"' not in clean.read_text()


def test_events_of_a_newer_format_are_named_as_such(tmp_path: Path, show_log: Path) -> None:
    """Events a newer Clearance wrote (``clearance.event/2``) were "not audit events ... run
    `clearance verify`", and a log of nothing else "not an audit log": the report says they
    are of a newer format than it reads, and to upgrade."""
    import hashlib

    def newer(lines: list[bytes], prev: str) -> list[bytes]:
        out = []
        for line in lines:
            event = json.loads(line)
            event["schema"], event["prev"] = "clearance.event/2", prev
            out.append(json.dumps(event, separators=(",", ":")).encode())
            prev = hashlib.sha256(out[-1]).hexdigest()
        return out

    lines = show_log.read_bytes().splitlines()
    mixed = tmp_path / "mixed" / "audit.jsonl"
    mixed.parent.mkdir()
    later = newer(lines[20:], hashlib.sha256(lines[19]).hexdigest())
    mixed.write_bytes(b"\n".join(lines[:20] + later) + b"\n")
    proc = clearance("report", str(mixed))
    assert proc.returncode == 0, proc.stderr
    assert (
        f"{mixed}:21: {len(later)} line(s) are events of a newer format (clearance.event/2) "
        "than this version of Clearance reads (clearance.event/1), written by a newer "
        "Clearance; they were skipped: upgrade Clearance to report them"
    ) in proc.stderr
    alone = tmp_path / "newer" / "audit.jsonl"
    alone.parent.mkdir()
    alone.write_bytes(b"\n".join(newer(lines, "0" * 64)) + b"\n")
    proc = clearance("report", str(alone))
    assert proc.returncode == 2
    assert f"{alone}:1: its events are of a newer format (clearance.event/2)" in proc.stderr
    assert "upgrade Clearance" in proc.stderr and "not an audit log" not in proc.stderr


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "html", "junit"])
def test_lines_whose_fields_have_other_types_are_skipped_in_every_format(
    tmp_path: Path, show_log: Path, fmt: str
) -> None:
    """A line whose envelope fields are not what writers write (a list for a run id, an
    object for an asset, a string for details) is not an event: it is skipped and counted,
    as a damaged line is; it crashed the report (unhashable keys, .get on a list)."""
    t = "2026-11-26T21:00:00.000Z"
    hostile = [
        {"time": t, "event": "finding", "stage": "comp", "run_id": [1]},
        {"time": t, "event": "asset.audited", "stage": "comp", "asset": {"a": 1}},
        {"time": t, "event": "policy.loaded", "details": [1]},
        {"time": t, "event": "run.started", "details": "scan"},
        {"time": t, "event": "finding", "stage": "comp", "approval": 5},
        {"time": t, "event": "run.finished", "host": "h", "seq": "7"},
    ]
    other = tmp_path / "other.jsonl"  # a second host's log: merged by (time, host, seq)
    other.write_bytes(show_log.read_bytes())
    for log in (show_log, other):
        with open(log, "a") as fh:
            fh.writelines(json.dumps(event) + "\n" for event in hostile)
            fh.write(json.dumps({**hostile[-1], "seq": 7}) + "\n")
    proc = clearance("report", "-f", fmt, str(show_log), str(other))
    assert proc.returncode in (0, 1), proc.stderr
    # the last one has a whole-number seq but none of schema and prev: no event either
    assert "internal error" not in proc.stderr and "14 line(s)" in proc.stderr, proc.stderr


def _block_then(path: Path, last: bytes) -> None:
    """A BLOCK for comp/sh010.exr written by the real writer, then ``last`` appended as is."""
    AuditLog(path).append_many(
        [
            {
                "event": "finding",
                "stage": "comp",
                "asset": "comp/sh010.exr",
                "rule": "NFX-T2",
                "outcome": "block",
                "status": "open",
                "message": "replica without consent",
            },
            {
                "event": "asset.audited",
                "stage": "comp",
                "asset": "comp/sh010.exr",
                "outcome": "block",
            },
        ]
    )
    with open(path, "ab") as fh:
        fh.write(last)


_FORGED_PASS = {
    "time": "2099-01-01T00:00:00.000Z",
    "event": "asset.audited",
    "run_id": "r2",
    "host": "h",
    "stage": "comp",
    "asset": "comp/sh010.exr",
    "outcome": "pass",
}


@pytest.mark.parametrize(
    "last",
    [
        json.dumps(_FORGED_PASS).encode(),  # torn for verify: no newline
        json.dumps(_FORGED_PASS).encode() + b"\n",
        json.dumps({**_FORGED_PASS, "seq": 10**25, "prev": "0" * 64}).encode() + b"\n",
    ],
    ids=["torn", "no-envelope", "seq-of-26-digits"],
)
def test_a_line_that_is_not_an_event_never_becomes_an_assets_latest_audit(
    tmp_path: Path, last: bytes
) -> None:
    """A JSON object with a time and an event but not what a writer writes (no schema, seq or
    prev; a seq past 19 digits) is not an event: report skips it with a warning, as verify
    and the writers define an event. Left as a torn last line, the next writer recovers it
    and verify is satisfied; report read it as the asset's latest audit (a PASS in 2099)."""
    path = tmp_path / "audit.jsonl"
    _block_then(path, last)
    if not last.endswith(b"\n"):
        assert clearance("verify", str(path)).returncode == 0  # torn: a crash, not tampering
        AuditLog(path).append({"event": "run.started"})  # recovers it
        proc = clearance("verify", str(path))
        assert proc.returncode == 0 and "RECOVERED" in proc.stdout, proc.stdout
    proc = clearance("report", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    assert "1 line(s)" in proc.stderr and "clearance verify" in proc.stderr
    (asset,) = json.loads(proc.stdout)["assets"]
    assert (asset["asset"], asset["outcome"]) == ("comp/sh010.exr", "block")


def test_details_a_plugin_gives_as_other_json_values_are_shown_as_json(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many(
        [
            {
                "event": "finding",
                "stage": "comp",
                "asset": "sh010.exr",
                "rule": "SITE-1",
                "outcome": "escalate",
                "status": "open",
                "details": {"frames": [1001, 1100], "remediation": {"ask": "legal"}},
            },
            {
                "event": "asset.audited",
                "stage": "comp",
                "asset": "sh010.exr",
                "outcome": "escalate",
            },
        ]
    )
    (asset,) = build_report([path]).assets
    (row,) = asset.findings
    assert (row.frames, row.remediation) == ("[1001, 1100]", '{"ask": "legal"}')
    for fmt in ("table", "json", "csv", "html", "junit"):
        proc = clearance("report", "-f", fmt, str(path))
        assert proc.returncode in (0, 1) and "internal error" not in proc.stderr, proc.stderr


def test_the_html_report_shows_a_remediation_and_frames_as_the_table_does(
    tmp_path: Path,
) -> None:
    """A plugin's remediation (a finding may carry its own, quoting a sidecar) and frames
    were put on the page as they were: a bidi override reversed the fix, a line break read
    as a space. They are shown as the message is, and as the terminal table shows them."""
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many(
        [
            {
                "event": "finding",
                "stage": "comp",
                "asset": "sh010.exr",
                "rule": "SITE-1",
                "outcome": "escalate",
                "status": "open",
                "message": "m",
                "details": {"frames": "1001-1010\n1012", "remediation": "ask \u202elagel"},
            },
            {
                "event": "asset.audited",
                "stage": "comp",
                "asset": "sh010.exr",
                "outcome": "escalate",
                "details": {"frames": "1001-1010\n1012"},
            },
        ]
    )
    page = clearance("report", "-f", "html", str(path)).stdout
    assert "\u202e" not in page and "1001-1010\n" not in page
    assert "<b>Fix:</b> ask \\u202elagel</div>" in page
    assert "frames &quot;1001-1010\\n1012&quot;</div>" in page
    table = clearance("report", str(path)).stdout
    assert "fix: ask \\u202elagel" in table and 'frames "1001-1010\\n1012"' in table


def test_rotated_files_are_read_in_order(tmp_path: Path) -> None:
    path = write_show_log(tmp_path / "audit.jsonl", max_bytes=3000)
    assert len(list(tmp_path.glob("audit.jsonl.0*"))) >= 3
    buf = io.StringIO()
    render_json(build_report([path]), buf)
    doc = json.loads(buf.getvalue())
    assert doc["summary"]["assets"] == len(SHOW) and doc["events"] > 20


def test_report_output_file_is_written(tmp_path: Path, show_log: Path) -> None:
    out = tmp_path / "report.csv"
    proc = clearance("report", str(show_log), "-f", "csv", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text().startswith("time,host,run_id,stage,asset")


@pytest.mark.parametrize("which", ["the log", "a link to it", "a rotated file", "checkpoints"])
def test_the_report_is_never_written_over_a_file_of_its_log(tmp_path: Path, which: str) -> None:
    """``report audit.jsonl -o audit.jsonl`` (a slip of tab completion) wrote the report over
    the log: every event gone, exit 0."""
    log = write_show_log(tmp_path / "audit.jsonl", max_bytes=4000)
    rotated = log.with_name("audit.jsonl.000001")
    checkpoints = log.with_name("audit.jsonl.checkpoints")
    checkpoints.write_text('{"schema":"clearance.checkpoint/1"}\n')
    link = tmp_path / "report.html"
    link.symlink_to(log.name)
    output = {"the log": log, "a link to it": link, "a rotated file": rotated}.get(
        which, checkpoints
    )
    named = {"a link to it": log}.get(which, output)
    before = {f: f.read_bytes() for f in (log, rotated, checkpoints)}
    proc = clearance("report", str(log), "-o", str(output))
    assert proc.returncode == 2 and proc.stdout == ""
    assert (
        f"-o {output}: the report is not written over {named}, a file of the audit log {log} "
        "(give -o another file)"
    ) in proc.stderr
    assert {f: f.read_bytes() for f in before} == before
    assert clearance("report", str(log), "-o", str(tmp_path / "report.txt")).returncode == 0


def test_the_report_is_never_written_over_the_checkpoints_of_a_log_given_by_a_link(
    tmp_path: Path,
) -> None:
    # `checkpoint LINK` wrote LINK.checkpoints beside the link (its default until it was
    # the target's); only the target's were guarded: `report LINK -o LINK.checkpoints`
    # wrote the report over them, exit 0
    log = write_show_log(tmp_path / "shared" / "audit.jsonl")
    link = tmp_path / "show" / "audit.jsonl"
    link.parent.mkdir()
    link.symlink_to(log)
    key = tmp_path / "audit.key"
    checkpoints = link.with_name("audit.jsonl.checkpoints")
    assert clearance("checkpoint", "--keygen", str(key)).returncode == 0
    proc = clearance("checkpoint", str(link), "--key", str(key), "-o", str(checkpoints))
    assert proc.returncode == 0
    before = checkpoints.read_bytes()
    proc = clearance("report", str(link), "-o", str(checkpoints))
    assert proc.returncode == 2 and proc.stdout == ""
    assert f"the report is not written over {checkpoints}" in proc.stderr
    assert checkpoints.read_bytes() == before


def test_html_is_self_contained(show_log: Path) -> None:
    html = clearance("report", str(show_log), "-f", "html").stdout
    assert html.startswith("<!DOCTYPE html>")
    lowered = html.lower()
    for external in ("<link", "src=", "url(", "@import", "https://"):
        assert external not in lowered
    assert lowered.count("http://") == lowered.count('xmlns="http://www.w3.org/2000/svg"')
    assert "default-src 'none'" in html and "<svg" in html
    for stage in STAGES:
        assert f">{stage}<" in html
    assert "Obtain the performer&#x27;s consent" in html
    assert "APR-0007" in html and "APR-0031" in html


def _peak_memory(path: Path) -> int:
    tracemalloc.start()
    try:
        report = build_report([path])
        assert report.assets
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_however_long_the_log(tmp_path: Path) -> None:
    """Reports keep the latest audit per asset: 30 re-scans cost what 3 do."""
    show = [
        (
            "comp",
            f"comp/sh{i:04d}_comp_v001.####.exr",
            "1001-1100",
            [("NFX-C1", "approval", "open", None, "generated key visual")],
        )
        for i in range(150)
    ]
    short, long = tmp_path / "short.jsonl", tmp_path / "long.jsonl"
    for path, runs in ((short, 3), (long, 30)):
        log = AuditLog(path)
        audit = make_audit_logger(log, run_id="r", host="h")
        from clearance.auditlog import audit_batch

        with audit_batch(audit, max_events=5000):
            for run in range(runs):
                emit_run(
                    audit,
                    Clock(f"2026-11-{run // 24 + 1:02d}T{run % 24:02d}:00:00.000Z"),
                    show,
                    stages=["comp"],
                )
    assert long.stat().st_size > 9 * short.stat().st_size
    assert _peak_memory(long) < 1.5 * _peak_memory(short)


def test_csv_cells_cannot_become_spreadsheet_formulas(tmp_path: Path) -> None:
    show = [
        (
            "comp",
            'comp/=HYPERLINK("http://x").png',
            None,
            [("NFX-00", "notice", "open", None, "-2+3 looks like a formula")],
        ),
        ("comp", "comp/b.png", None, [("NFX-00", "notice", "open", None, "\0=1+1, after a NUL")]),
    ]
    path = write_show_log(
        tmp_path / "audit.jsonl",
        show=show,
    )
    rows = list(csv.DictReader(io.StringIO(clearance("report", str(path), "-f", "csv").stdout)))
    assert rows[0]["asset"] == 'comp/=HYPERLINK("http://x").png'  # not at the start: harmless
    assert rows[0]["message"] == "'-2+3 looks like a formula"
    assert rows[1]["message"] == "'\0=1+1, after a NUL"  # OWASP ASVS 1.2.10


# -- the sample pipeline: generate → scan → report --------------------------------------------

SAMPLE = Path(__file__).resolve().parents[1] / "sample_pipeline" / "generate.py"
SAMPLE_STAGES = [
    "ideation",
    "pitch",
    "previs",
    "plate_gen",
    "elements",
    "temp_vo",
    "comp",
    "delivery",
]


def sample_pipeline_log(folder: Path) -> Path:
    """Generate the sample show into ``folder``, scan it with the real CLI, return its log."""
    subprocess.run(
        [sys.executable, str(SAMPLE), str(folder)], check=True, capture_output=True, timeout=120
    )
    proc = clearance("scan", str(folder / "show"), "--no-progress")
    assert proc.returncode == 1, proc.stderr  # the sample has open findings on purpose
    return folder / "show" / ".clearance" / "audit.jsonl"


@pytest.fixture(scope="module")
def sample_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return sample_pipeline_log(tmp_path_factory.mktemp("sample"))


def normalise_run(text: str, log: Path) -> str:
    """Replace what changes from run to run: paths, times, dates, run ids, the host name."""
    import re
    import socket

    root = str(log.parents[2])
    text = text.replace(str(log), "LOG").replace(root, "ROOT")
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", "<TIME>", text)
    text = re.sub(r"\d{4}-\d\d-\d\d", "<DATE>", text)  # approval dates follow the day of generation
    text = re.sub(r"\b[0-9a-f]{32}\b", "<RUN>", text)
    host = socket.gethostname()
    for field in (f'"host": "{host}"', f'"host":"{host}"'):
        text = text.replace(field, field.replace(host, "<HOST>"))
    text = text.replace(f",{host},", ",<HOST>,")  # csv
    return text


@pytest.mark.parametrize(
    "fmt, golden",
    [
        ("table", "sample_report_table.txt"),
        ("csv", "sample_report.csv"),
        ("json", "sample_report.json"),
        ("junit", "sample_report_junit.xml"),
    ],
)
def test_sample_pipeline_reports_match_their_golden_files(
    sample_log: Path, fmt: str, golden: str
) -> None:
    proc = clearance("report", str(sample_log), "--format", fmt)
    assert proc.returncode == 0, proc.stderr
    check_golden(golden, normalise_run(proc.stdout, sample_log))


def test_sample_pipeline_report_covers_every_stage_and_the_scan(sample_log: Path) -> None:
    doc = json.loads(clearance("report", str(sample_log), "-f", "json").stdout)
    assert list(doc["summary"]["by_stage"]) == SAMPLE_STAGES
    events = [json.loads(line) for line in sample_log.read_text().splitlines()]
    audited = {(e["stage"], e["asset"]) for e in events if e["event"] == "asset.audited"}
    assert {(a["stage"], a["asset"]) for a in doc["assets"] if a["asset"]} == audited
    findings = sum(1 for e in events if e["event"] == "finding")
    assert sum(len(a["findings"]) for a in doc["assets"]) == findings
    assert doc["approvals"]["used"] and doc["approvals"]["expired"]


def test_stage_level_findings_are_reported_for_the_stage(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    audit = make_audit_logger(log, run_id="r", host="h")
    clock = Clock("2026-11-26T09:00:00.000Z")
    audit.info("stage.started", time=clock(), stage="delivery")
    audit.info(
        "finding",
        time=clock(),
        stage="delivery",
        asset=None,
        rule="SITE-01",
        outcome="escalate",
        status="open",
        message="3 shots delivered without a similarity review",
        details={"remediation": "run the review"},
    )
    audit.info(
        "stage.finished", time=clock(), stage="delivery", details={"counts": {}, "assets": 0}
    )
    report = build_report([log.path])
    (audit_row,) = report.assets
    assert audit_row.asset is None and audit_row.label == "(delivery stage checks)"
    assert [f.rule for f in report.open_findings()] == ["SITE-01"]
    out = clearance("report", str(log.path)).stdout
    assert "(delivery stage checks)  [escalate]" in out and "fix: run the review" in out
    xml = clearance("report", str(log.path), "-f", "junit").stdout
    assert 'name="(delivery stage checks)"' in xml and "<failure" in xml


def test_an_older_audit_written_later_does_not_replace_a_newer_one(tmp_path: Path) -> None:
    """Two writers' batches can land in one file out of time order; time decides."""
    path = tmp_path / "audit.jsonl"
    asset = [
        ("comp", "comp/a.exr", None, [("NFX-T2", "block", "open", None, "replica without consent")])
    ]
    fixed = [("comp", "comp/a.exr", None, [])]
    write_show_log(path, run_id="new", start="2026-11-26T12:00:00.000Z", show=fixed)
    write_show_log(path, run_id="old", start="2026-11-26T08:00:00.000Z", show=asset)
    (audit_row,) = [a for a in build_report([path]).assets if a.asset == "comp/a.exr"]
    assert audit_row.run_id == "new" and audit_row.findings == []


def test_an_audit_without_a_known_outcome_is_unsure_with_a_warning_naming_the_file(
    tmp_path: Path,
) -> None:
    """A site tool writing through the Python API may leave the outcome out, or misspell it:
    such an audit is escalate (unsure) — never a pass, never in no column — and stderr names
    the log file and the event's seq."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    audit = make_audit_logger(log, run_id="r", host="h")
    clock = Clock("2026-11-26T09:00:00.000Z")
    audit.info("run.started", time=clock(), message="farm post-task")
    audit.info(
        "finding",
        time=clock(),
        stage="comp",
        asset="comp/x.exr",
        rule="NFX-T1",
        outcome="block",
        status="open",
        message="replica without consent",
    )
    audit.info("asset.audited", time=clock(), stage="comp", asset="comp/x.exr")  # no outcome
    audit.info("asset.audited", time=clock(), stage="comp", asset="comp/y.exr", outcome="blocked")
    audit.info(
        "finding",
        time=clock(),
        stage="comp",
        asset="comp/z.exr",
        rule="NFX-T1",
        outcome="severe",
        status="open",
        message="x",
    )
    audit.info("asset.audited", time=clock(), stage="comp", asset="comp/z.exr", outcome="pass")
    log.close()
    proc = clearance("report", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    outcomes = {a["asset"]: a["outcome"] for a in doc["assets"]}
    # unsure, or worse where its own open findings are worse (x has a block finding)
    assert outcomes == {"comp/x.exr": "block", "comp/y.exr": "escalate", "comp/z.exr": "pass"}
    assert sum(doc["summary"]["by_outcome"].values()) == doc["summary"]["assets"] == 3
    (z_finding,) = next(a for a in doc["assets"] if a["asset"] == "comp/z.exr")["findings"]
    assert z_finding["outcome"] == "escalate" and z_finding["status"] == "open"
    assert (
        f"clearance: warning: {path}: 3 asset.audited or finding event(s) without a known "
        "outcome (first: seq 3, asset.audited of comp/x.exr, outcome None); reported as escalate "
        "(unsure), never as a pass"
    ) in proc.stderr
    table = clearance("report", str(path)).stdout.splitlines()
    row = next(line for line in table if line.startswith("comp "))
    assert row.split()[:7] == ["comp", "3", "1", "0", "1", "0", "1"]  # assets, pass … block
    junit = clearance("report", str(path), "-f", "junit").stdout
    failed = {
        case.get("name"): case.find("failure")
        for case in ElementTree.fromstring(junit).iter("testcase")
    }
    # y has no finding to fail on: its escalate outcome fails the case all the same
    assert failed["comp/y.exr"] is not None
    assert failed["comp/y.exr"].get("message") == "outcome escalate with no finding recorded"
    assert all(failed[name] is not None for name in ("comp/x.exr", "comp/z.exr"))


def test_an_audit_written_without_a_stage_is_reported_never_dropped(tmp_path: Path) -> None:
    """A site tool writing through the Python API may leave the stage out: its block was
    dropped, and the report read "0 asset(s) … No open findings", exit 0, an all-clear of
    a log that holds a block (``verify``: intact). Such an audit is the stage default's,
    as an asset outside every configured stage is, and ``--stage default`` names it."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    audit = make_audit_logger(log, run_id="r", host="h")
    audit.info(
        "finding",
        asset="comp/x.exr",
        rule="SITE-1",
        outcome="block",
        status="open",
        message="replica without consent",
    )
    audit.info("asset.audited", asset="comp/x.exr", outcome="block")
    log.close()
    for args in ((), ("--stage", "default")):
        proc = clearance("report", str(path), "-f", "json", *args)
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        assert doc["summary"]["by_stage"]["default"]["by_outcome"]["block"] == 1
        (asset,) = doc["assets"]
        assert (asset["stage"], asset["asset"], asset["outcome"]) == (
            "default",
            "comp/x.exr",
            "block",
        )
        assert [f["rule"] for f in asset["findings"]] == ["SITE-1"]


def test_a_warning_naming_an_asset_cannot_hide_itself_or_the_warnings_after_it(
    tmp_path: Path,
) -> None:
    """The warning about an audit without a known outcome names its asset: a name with an
    escape sequence in it (``ESC[8m``, concealed text) was printed raw on stderr, and the
    terminal hid the rest of that warning and every warning after it (the broken chain of
    an edited log among them); a bidi override reversed it in the HTML page's box. The
    asset is named as the table names it, and every warning is printed escaped."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    audit = make_audit_logger(log, run_id="r", host="h")
    clock = Clock("2026-11-26T09:00:00.000Z")
    audit.info("run.started", time=clock(), message="farm post-task")
    name = "comp/\x1b[8mhidden\u202e.png"
    audit.info("asset.audited", time=clock(), stage="comp", asset=name, outcome="blocked")
    audit.info("asset.audited", time=clock(), stage="comp", asset="comp/b.exr", outcome="pass")
    log.close()
    path.write_bytes(path.read_bytes().replace(b"farm post-task", b"farm post-tusk"))
    proc = clearance("report", str(path), "-f", "json", "-o", str(tmp_path / "r.json"))
    assert proc.returncode == 0, proc.stderr
    assert "\x1b" not in proc.stderr and "\u202e" not in proc.stderr
    assert 'asset.audited of "comp/\\x1b[8mhidden\\u202e.png"' in proc.stderr
    assert "hash chain is broken" in proc.stderr
    page = clearance("report", str(path), "-f", "html").stdout
    box = page[page.index('<section id="warnings">') : page.index("</section>")]
    assert "\x1b" not in box and "\u202e" not in box and "\\x1b[8m" in box


@pytest.mark.parametrize("signum", ["SIGTERM", "SIGKILL"])
def test_a_scan_cut_short_is_said_never_an_all_clear_of_what_it_did_not_reach(
    tmp_path: Path, signum: str
) -> None:
    """A scan stopped part-way (SIGTERM: its run.finished says interrupted; SIGKILL, the
    OOM killer, a crash: no run.finished at all) audited some of the show: the report of its
    log listed those and said nothing of the rest ("No open findings" for a log of only
    ``run.started``). Each format now warns that the run did not finish, and names it."""
    import signal

    import _signals

    show = _signals.slow_show(tmp_path)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    proc = _signals.start(["scan", str(show.root), "--no-progress", "--no-cache"], seen)
    _signals.wait_for_progress(proc, log, seen)
    proc.send_signal(getattr(signal, signum))
    _signals.finish(proc)
    run_id = json.loads(log.read_bytes().splitlines()[0])["run_id"]
    done = clearance("report", str(log), "-f", "json")
    assert done.returncode == 0, done.stderr
    said = (
        f"1 run(s) were interrupted (first: run {run_id}, `scan`, started "
        if signum == "SIGTERM"
        else f"1 run(s) have no run.finished (first: run {run_id}, `scan`, started "
    )
    assert f"clearance: warning: {said}" in done.stderr
    assert (" by SIGTERM)" in done.stderr) is (signum == "SIGTERM")
    assert any(w.startswith(said) for w in json.loads(done.stdout)["warnings"])
    page = clearance("report", str(log), "-f", "html").stdout
    assert said in page[page.index('<section id="warnings">') :]


def test_a_scan_cut_short_is_said_only_while_what_it_did_still_stands(tmp_path: Path) -> None:
    """A scan killed part-way (SIGKILL, the OOM killer) was warned about in every report of
    its log for ever, also once full scans of the same stages had finished since: a warning
    that is always there is one a supervisor learns to skip. It is said while what it did
    still stands — an audit of its is still the latest (a ``check`` of one file since
    supersedes one), or a stage it touched has had no pass of the whole stage since — and
    no more once a scan of every stage it touched has finished after it; a report as of
    before that scan (``--until``) still says it."""
    import signal

    import _signals

    show = _signals.slow_show(tmp_path)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    proc = _signals.start(["scan", str(show.root), "--no-progress", "--no-cache"], seen)
    _signals.wait_for_progress(proc, log, seen)
    proc.send_signal(signal.SIGKILL)
    _signals.finish(proc)
    run_id = json.loads(log.read_bytes().splitlines()[0])["run_id"]
    said = f"1 run(s) have no run.finished (first: run {run_id}, `scan`, started "
    quick_plugin = (
        "from clearance import hookimpl\n\n@hookimpl\ndef clearance_check_asset():\n    return []\n"
    )
    (tmp_path / "slow_plugin.py").write_text(quick_plugin)  # as quick as the rest from now on

    def warned(*args: str) -> bool:
        done = clearance("report", str(log), "-f", "json", *args)
        assert done.returncode == 0, done.stderr
        in_json = any(w.startswith(said) for w in json.loads(done.stdout)["warnings"])
        page = clearance("report", str(log), "-f", "html", *args).stdout
        assert (said in done.stderr) is in_json is (said in page), (done.stderr, args)
        return in_json

    assert warned()
    one = clearance("check", str(show.root / "slow" / "el_000.png"))
    assert one.returncode == 0, one.stderr
    assert warned()  # its other audits are still the latest
    quick = clearance("scan", str(show.root / "quick"), "--no-progress")
    assert quick.returncode == 0, quick.stderr
    assert warned()  # the stage it was killed in ("slow") had no whole pass since
    before = max(r["finished"] for r in json.loads(_report_json(log))["runs"] if r["finished"])
    full = clearance("scan", str(show.root), "--no-progress")
    assert full.returncode == 0, full.stderr
    assert not warned()
    assert warned("--until", before)  # as of then, it still stood
    assert not warned("--stage", "quick")


def _report_json(log: Path) -> str:
    done = clearance("report", str(log), "-f", "json")
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_log_given_twice_or_with_a_copy_of_it_is_read_once(tmp_path: Path) -> None:
    """``/farm/*/audit.jsonl`` plus an rsync'd copy: the copy's events are the log's events.
    Read side by side, the second copy of each ``asset.audited`` took the audit and left its
    findings behind ("No open findings", exit 0)."""
    live = tmp_path / "farm01" / "audit.jsonl"
    write_show_log(live, run_id="r1", start="2026-11-26T09:00:00.000Z")
    # a second writer's batch lands out of time order in the same file
    write_show_log(live, run_id="r0", start="2026-11-26T08:00:00.000Z", show=SHOW[:2])
    backup = tmp_path / "backup" / "audit.jsonl"
    backup.parent.mkdir()
    backup.write_bytes(live.read_bytes())  # synced now; the live log goes on
    write_show_log(live, run_id="r2", start="2026-11-27T09:00:00.000Z", show=SHOW[4:6])
    (tmp_path / "link.jsonl").symlink_to(live)
    os.link(live, tmp_path / "hard.jsonl")

    def doc(*logs: Path) -> dict[str, Any]:
        proc = clearance("report", *map(str, logs), "-f", "json")
        assert proc.returncode == 0, proc.stderr
        d = json.loads(proc.stdout)
        del d["logs"]
        return d

    alone = doc(live)
    assert alone["summary"]["open_findings"] == 5
    for logs in ((live, backup), (backup, live), (live, tmp_path / "link.jsonl", backup)):
        assert doc(*logs) == alone, logs
    assert doc(live, tmp_path / "hard.jsonl") == alone
    assert doc(backup, backup.parent / "." / "audit.jsonl") == doc(backup)
    # another host's log is still merged in whole
    other = write_show_log(tmp_path / "farm02" / "audit.jsonl", host="farm02", run_id="r1")
    both = doc(live, backup, other)
    assert both["events"] == alone["events"] + doc(other)["events"]


QUOTA_PLUGIN = """
import json, pathlib
from clearance import Finding, Outcome, Rule, hookimpl

RULE = Rule(id="SITE-QUOTA-01", title="quota", principle="deliverables", outcome=Outcome.BLOCK,
            guidance="g", remediation="reduce GenAI shots", pack="site")

@hookimpl
def clearance_add_rules(registry):
    registry.add(RULE)

@hookimpl
def clearance_check_stage(stage_result):
    plan = json.loads(pathlib.Path(__file__).with_name("quota.json").read_text())
    return [Finding(rule="SITE-QUOTA-01", message=m, asset=a or "", outcome=o)
            for s, a, o, m in plan if s == stage_result.stage]
"""


def _quota_show(tmp_path: Path) -> tuple[ClearanceRun, Path]:
    plugin = tmp_path / "quota.py"
    plugin.write_text(QUOTA_PLUGIN)
    show = ClearanceRun(tmp_path / "show", plugins=[str(plugin)])
    show.root.mkdir()
    show.write_config()
    replica = [{"performer": "P-1", "replica": "employment_based", "consent": None}]
    show.asset("comp/bad.png", sidecar=genai_sidecar(talent=replica))
    show.asset("comp/ok.png", sidecar=genai_sidecar())
    show.asset("delivery/final.png", sidecar=genai_sidecar())
    return show, tmp_path / "quota.json"


def _scan_with_stage_findings(show: ClearanceRun, plan: Path, findings: list[Any]) -> None:
    plan.write_text(json.dumps(findings))
    proc = clearance("scan", str(show.root), "--no-progress")
    assert proc.returncode in (0, 1), proc.stderr


def _report(show: ClearanceRun) -> dict[tuple[str, str | None], dict[str, Any]]:
    proc = clearance("report", str(show.root / ".clearance" / "audit.jsonl"), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["summary"]["assets"] == sum(1 for a in doc["assets"] if a["asset"] is not None)
    return {(a["stage"], a["asset"]): a for a in doc["assets"]}


def test_a_stage_finding_naming_an_asset_joins_that_assets_audit(tmp_path: Path) -> None:
    """``clearance_check_stage`` findings may name an asset; they are written after the
    assets' ``asset.audited``. They join the audit the same run made of that asset (worst
    outcome wins), never replace it, and an asset the run did not audit in that stage is not
    counted there: its finding is one of the stage's own."""
    show, plan = _quota_show(tmp_path)
    _scan_with_stage_findings(
        show,
        plan,
        [
            ["comp", "comp/bad.png", "notice", "bad is over quota"],
            ["comp", "comp/ok.png", "block", "ok is over quota"],
            ["delivery", "comp/bad.png", "escalate", "a comp shot counted in delivery"],
        ],
    )
    audits = _report(show)
    assert set(audits) == {
        ("comp", "comp/bad.png"),
        ("comp", "comp/ok.png"),
        ("delivery", "delivery/final.png"),
        ("delivery", None),
    }
    bad = audits[("comp", "comp/bad.png")]
    rules = {(f["rule"], f["outcome"]) for f in bad["findings"]}
    assert bad["outcome"] == "block" and ("NFX-T1", "block") in rules
    assert ("SITE-QUOTA-01", "notice") in rules
    ok = audits[("comp", "comp/ok.png")]
    assert ok["outcome"] == "block"
    assert [(f["rule"], f["message"]) for f in ok["findings"]] == [
        ("SITE-QUOTA-01", "ok is over quota")
    ]
    (named,) = audits[("delivery", None)]["findings"]
    assert (named["asset"], named["message"]) == ("comp/bad.png", "a comp shot counted in delivery")
    table = clearance("report", str(show.root / ".clearance" / "audit.jsonl")).stdout
    delivery = next(line for line in table.splitlines() if line.startswith("delivery "))
    assert delivery.split()[1] == "1"  # one asset: the comp shot is not a delivery asset


def test_the_html_headline_counts_assets_as_the_stages_table_does(tmp_path: Path) -> None:
    """The page's "assets blocked" and "assets need approval" counted every stage and asset
    a finding named: a stage's own block (its stage checks) and a delivery check naming a
    comp shot made 2 blocked and 2 needing approval where the Stages table beside them
    (and the terminal's) had 1 and 1. The headline counts assets by outcome, as they do."""
    from html.parser import HTMLParser

    show, plan = _quota_show(tmp_path)
    _scan_with_stage_findings(
        show,
        plan,
        [
            ["delivery", None, "block", "over quota"],
            ["delivery", "comp/ok.png", "approval", "a comp shot counted in delivery"],
        ],
    )
    log = str(show.root / ".clearance" / "audit.jsonl")
    doc = json.loads(clearance("report", log, "-f", "json").stdout)
    by_outcome = doc["summary"]["by_outcome"]
    assert (by_outcome["block"], by_outcome["approval"]) == (1, 1)  # bad.png, final.png

    class Headline(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.figures: dict[str, str] = {}
            self.into: str | None = None
            self.number = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.into = dict(attrs).get("class") if tag == "div" else None

        def handle_data(self, data: str) -> None:
            if self.into == "n":
                self.number = data
            elif self.into == "l":
                self.figures[data] = self.number

    page = Headline()
    page.feed(clearance("report", log, "-f", "html").stdout)
    assert page.figures["assets blocked"] == "1"
    assert page.figures["assets need approval"] == "1"
    assert page.figures["assets audited"] == str(doc["summary"]["assets"])


def test_the_latest_finished_run_of_a_stage_decides_its_stage_level_findings(
    tmp_path: Path,
) -> None:
    """A later run whose stage checks find nothing clears the earlier run's stage-level
    findings, as a re-audit supersedes an asset's earlier audit; a run that finds one again
    shows it again."""
    show, plan = _quota_show(tmp_path)
    _scan_with_stage_findings(show, plan, [["comp", None, "block", "too many GenAI shots"]])
    (check,) = _report(show)[("comp", None)]["findings"]
    assert (check["rule"], check["outcome"]) == ("SITE-QUOTA-01", "block")
    _scan_with_stage_findings(show, plan, [["comp", "comp/ok.png", "notice", "ok over quota"]])
    audits = _report(show)
    assert ("comp", None) not in audits
    assert audits[("comp", "comp/ok.png")]["outcome"] == "notice"
    _scan_with_stage_findings(show, plan, [])
    audits = _report(show)
    assert ("comp", None) not in audits and audits[("comp", "comp/ok.png")]["outcome"] == "pass"
    table = clearance("report", str(show.root / ".clearance" / "audit.jsonl")).stdout
    assert "stage checks" not in table and "SITE-QUOTA-01" not in table
    # as of the first run, its stage-level finding is the current state
    first = clearance("report", str(show.root / ".clearance" / "audit.jsonl"), "-f", "json")
    assert first.returncode == 0
    times = sorted({r["finished"] for r in json.loads(first.stdout)["runs"]})
    proc = clearance(
        "report", str(show.root / ".clearance" / "audit.jsonl"), "--until", times[0], "-f", "json"
    )
    assert [a["asset"] for a in json.loads(proc.stdout)["assets"]].count(None) == 1


def _audited(audit: Any, clock: Clock, asset: str) -> None:
    audit.info("asset.audited", time=clock(), stage="delivery", asset=asset, outcome="pass")


def _assets(*logs: Path) -> tuple[list[str], str]:
    proc = clearance("report", *map(str, logs), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    return sorted(a["asset"] for a in json.loads(proc.stdout)["assets"]), proc.stderr


def test_a_log_moved_away_while_its_run_writes_is_read_with_the_new_one(tmp_path: Path) -> None:
    """A watcher's log moved away (archived by hand, ``logrotate`` with ``create``): the
    writer starts a new file at seq 1 with the same run_id and host. Its events are other
    events than the archive's at the same seq, never copies: both files are read whole, and
    stderr says that the run's seq started again. A backup copy taken earlier (a prefix of
    the archive) still adds nothing."""
    live = tmp_path / "audit.jsonl"
    log = AuditLog(live)
    audit = make_audit_logger(log, run_id="watch-1", host="render07")
    clock = Clock("2026-11-26T09:00:00.000Z")
    audit.info("run.started", time=clock(), message="clearance watch", details={"command": "watch"})
    _audited(audit, clock, "delivery/a.dpx")
    backup = tmp_path / "backup.jsonl"
    backup.write_bytes(live.read_bytes())  # a backup taken then: a prefix of the archive
    _audited(audit, clock, "delivery/final.dpx")
    archive = tmp_path / "archive-1.jsonl"
    live.rename(archive)
    _audited(audit, clock, "delivery/second.dpx")  # seq 1 of a new file, same run and host
    _audited(audit, clock, "delivery/third.dpx")
    log.close()
    assert [json.loads(line)["seq"] for line in live.read_text().splitlines()] == [1, 2]

    every = ["delivery/a.dpx", "delivery/final.dpx", "delivery/second.dpx", "delivery/third.dpx"]
    for logs in ((archive, live), (live, archive), (backup, archive, live), (live, backup)):
        assets, stderr = _assets(*logs)
        expected = every if archive in logs else ["delivery/a.dpx", *every[2:]]
        assert assets == expected, logs
        assert "run watch-1 on host render07" in stderr and "seq started again" in stderr, logs
        # the new log, and the other file that holds the run's first seq values
        assert str(live) in stderr and (str(archive) in stderr or str(backup) in stderr)
    assert _assets(backup, archive) == (every[:2], "")  # the backup is a copy: read once


def test_a_restored_backup_that_its_run_went_on_writing_forks_the_chain(tmp_path: Path) -> None:
    """The log replaced by an older backup of it while its run writes: the two files agree up
    to the backup's last line (those events are read once) and differ after it (both read)."""
    live = tmp_path / "audit.jsonl"
    log = AuditLog(live)
    audit = make_audit_logger(log, run_id="watch-1", host="render07")
    clock = Clock("2026-11-26T09:00:00.000Z")
    audit.info("run.started", time=clock(), message="clearance watch", details={"command": "watch"})
    _audited(audit, clock, "delivery/a.dpx")
    backup = live.read_bytes()
    _audited(audit, clock, "delivery/b.dpx")
    moved = tmp_path / "moved.jsonl"
    live.rename(moved)
    live.write_bytes(backup)  # restored: the run goes on from seq 2
    _audited(audit, clock, "delivery/c.dpx")
    log.close()
    proc = clearance("report", str(moved), str(live), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert sorted(a["asset"] for a in doc["assets"]) == [
        "delivery/a.dpx",
        "delivery/b.dpx",
        "delivery/c.dpx",
    ]
    assert doc["events"] == 4  # run.started and a.dpx once, b.dpx and c.dpx (both seq 3)
    assert "seq started again" in proc.stderr


def _stage_quota(show: ClearanceRun, plan: Path, findings: list[Any], *args: str) -> None:
    plan.write_text(json.dumps(findings))
    proc = clearance(*args, "--no-progress")
    assert proc.returncode in (0, 1), proc.stderr


def test_only_a_run_of_the_whole_stage_clears_its_stage_level_findings(tmp_path: Path) -> None:
    """A stage check sees the assets of its run only: ``check FILE`` or a scan of a subfolder
    saw part of the stage, and its stage checks finding nothing proves nothing. Its stage
    findings add to the stage's; only a run that audited every configured folder of the stage
    (``details.complete`` on its ``stage.finished``) clears them."""
    show, plan = _quota_show(tmp_path)
    show.asset("comp/shots/x.png", sidecar=genai_sidecar())
    root = str(show.root)
    _stage_quota(show, plan, [["comp", None, "block", "too many GenAI shots"]], "scan", root)
    log = show.root / ".clearance" / "audit.jsonl"
    partial_runs = [
        ("check", str(show.root / "comp" / "ok.png")),
        ("scan", str(show.root / "comp" / "shots")),
        ("scan", str(show.root / "comp" / "ok.png")),
    ]
    for args in partial_runs:
        _stage_quota(show, plan, [], *args)
        (check,) = _report(show)[("comp", None)]["findings"]
        assert (check["rule"], check["outcome"]) == ("SITE-QUOTA-01", "block"), args
        assert "SITE-QUOTA-01" in clearance("report", str(log)).stdout  # the table too
    # a partial run's own stage finding adds to the full scan's
    ok = str(show.root / "comp" / "ok.png")
    _stage_quota(show, plan, [["comp", None, "escalate", "x over quota"]], "check", ok)
    found = _report(show)[("comp", None)]["findings"]
    assert sorted(f["message"] for f in found) == ["too many GenAI shots", "x over quota"]
    # the whole stage again, scanned as its folder: it decides
    _stage_quota(show, plan, [], "scan", str(show.root / "comp"))
    assert ("comp", None) not in _report(show)
    events = [json.loads(x) for x in log.read_text().splitlines()]
    said = [
        (e["stage"], e["details"].get("complete")) for e in events if e["event"] == "stage.finished"
    ]
    assert said == [
        ("gen", True),  # walked whole and empty: checked all the same
        ("comp", True),
        ("delivery", True),
        *[("comp", False)] * 4,
        ("comp", True),
    ]


def test_stage_findings_of_a_run_cut_short_never_replace_a_later_whole_stage_decision(
    tmp_path: Path,
) -> None:
    """A run stopped between its stage checks' findings and its ``stage.finished`` (a
    SIGTERM while a notification hook posts them; a site tool writing stage findings through
    the Python API) left them unfinished, and they were put in place of the stage's own
    findings at the end of the read, whatever came after: a later scan of the whole stage
    that found a block showed the earlier run's notice instead. They count as a partial
    run's: added to the stage's, and only if no whole-stage run decided after them."""
    show, plan = _quota_show(tmp_path)
    log = show.root / ".clearance" / "audit.jsonl"
    cut = AuditLog(log)
    audit = make_audit_logger(cut, run_id="cut-short", host="farm01")
    audit.info("run.started", message="clearance scan", details={"command": "scan"})
    audit.info("stage.started", stage="comp", message="stage comp")
    audit.info(
        "finding",
        stage="comp",
        rule="SITE-QUOTA-01",
        outcome="notice",
        status="open",
        message="an old count",
    )
    cut.close()
    root = str(show.root)
    _stage_quota(show, plan, [["comp", None, "block", "too many GenAI shots"]], "scan", root)
    (check,) = _report(show)[("comp", None)]["findings"]
    assert (check["outcome"], check["message"]) == ("block", "too many GenAI shots")
    assert "too many GenAI shots" in clearance("report", str(log)).stdout
    # cut short after the whole stage's decision: what it found adds to it
    cut = AuditLog(log)
    audit = make_audit_logger(cut, run_id="cut-later", host="farm01")
    audit.info(
        "finding",
        stage="comp",
        rule="SITE-QUOTA-01",
        outcome="escalate",
        status="open",
        message="a later count",
    )
    cut.close()
    found = _report(show)[("comp", None)]["findings"]
    assert sorted(f["message"] for f in found) == ["a later count", "too many GenAI shots"]


def test_the_html_report_shows_names_a_browser_would_blur_as_the_table_does(
    tmp_path: Path,
) -> None:
    """A browser shows a line break or a tab in a name as a space, obeys a bidi override
    and drops an ESC: ``nl\\nx.png`` read as the file ``nl x.png`` beside it, and a name
    with U+202E showed reversed. Names in the HTML report are shown as the terminal table
    shows them (quoted, escaped), so each reads as itself."""
    from html.parser import HTMLParser

    run = ClearanceRun(tmp_path / "show")
    run.root.mkdir()
    run.write_config()
    names = ["nl\nx.png", "nl x.png", "tab\tx.png", "bidi\u202egnp.png", "esc\x1b[2J.png"]
    for name in names:
        run.asset(f"comp/{name}")  # no provenance: PRV-01, a finding the report lists
    assert clearance("scan", str(run.root)).returncode == 1
    out = tmp_path / "report.html"
    done = clearance(
        "report", str(run.root / ".clearance/audit.jsonl"), "--format", "html", "-o", str(out)
    )
    assert done.returncode == 0, done.stderr

    class Assets(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.depth, self.text, self.found = 0, "", set()

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if self.depth or ("class", "asset") in attrs:
                self.depth += tag != "wbr"

        def handle_endtag(self, tag: str) -> None:
            if self.depth and tag != "wbr":
                self.depth -= 1
                if not self.depth:
                    self.found.add(self.text)
                    self.text = ""

        def handle_data(self, data: str) -> None:
            if self.depth:
                self.text += data

    parser = Assets()
    parser.feed(out.read_text("utf-8"))
    rendered = {" ".join(t.split()) for t in parser.found}  # as a browser lays the text out
    assert rendered == {
        '"comp/nl\\nx.png"',
        "comp/nl x.png",
        '"comp/tab\\tx.png"',
        '"comp/bidi\\u202egnp.png"',
        '"comp/esc\\x1b[2J.png"',
    }


def test_a_stage_emptied_since_its_stage_checks_found_something_is_cleared(
    tmp_path: Path,
) -> None:
    """A block from a stage check stays in every report after the stage's folders were
    emptied: a scan of the root walked them whole but, with no asset in the stage, wrote no
    ``stage.started``/``stage.finished`` for it and never ran its stage checks. It now runs
    the empty stage (0 assets, ``complete``), and what its checks find now decides. The
    asset audited there before keeps its latest audit (the log says nothing of it going)."""
    show, plan = _quota_show(tmp_path)
    _scan_with_stage_findings(show, plan, [["comp", None, "block", "too many GenAI shots"]])
    (check,) = _report(show)[("comp", None)]["findings"]
    assert (check["rule"], check["outcome"]) == ("SITE-QUOTA-01", "block")
    before = _report(show)
    for name in ("bad.png", "ok.png"):  # the stage's assets go; their sidecars stay
        (show.root / "comp" / name).unlink()
    _scan_with_stage_findings(show, plan, [])
    log = show.root / ".clearance" / "audit.jsonl"
    events = [json.loads(x) for x in log.read_text().splitlines()]
    run_id = events[-1]["run_id"]
    (emptied,) = [
        e
        for e in events
        if e["event"] == "stage.finished" and e["stage"] == "comp" and e["run_id"] == run_id
    ]
    assert emptied["details"]["assets"] == 0 and emptied["details"]["complete"] is True
    audits = _report(show)
    assert ("comp", None) not in audits
    for asset in ("comp/bad.png", "comp/ok.png"):
        assert audits[("comp", asset)] == before[("comp", asset)]
    assert "SITE-QUOTA-01" not in clearance("report", str(log)).stdout
    # an empty stage's checks still speak: a finding about the stage itself is shown
    _scan_with_stage_findings(show, plan, [["comp", None, "escalate", "no comp delivered"]])
    (check,) = _report(show)[("comp", None)]["findings"]
    assert (check["message"], check["outcome"]) == ("no comp delivered", "escalate")


def test_lines_pasted_again_inside_one_log_are_read_once(tmp_path: Path) -> None:
    """A log concatenated with part of itself (``cat audit.jsonl audit.jsonl``, a tail
    appended again, a block pasted in the middle; rotated too): the copies have the same
    bytes at the same seq as lines before them, so they are the same events, read once as a
    copy of the log beside it is, and stderr names them. Findings pasted again were listed
    twice under their asset. Lines that go back in seq without being copies (another host's
    log appended) are all read."""
    live = write_show_log(tmp_path / "show" / "audit.jsonl", run_id="r1")
    write_show_log(live, run_id="r2", start="2026-11-27T09:00:00.000Z", show=SHOW[2:5])
    lines = live.read_bytes().splitlines(keepends=True)

    def report(log: Path, *more: Path) -> tuple[dict[str, Any], str]:
        proc = clearance("report", str(log), *map(str, more), "-f", "json")
        assert proc.returncode == 0, proc.stderr
        doc = json.loads(proc.stdout)
        del doc["logs"]
        # what stderr says of the logs, the JSON carries too
        assert all(f"clearance: warning: {w}" in proc.stderr for w in doc.pop("warnings"))
        return doc, proc.stderr

    alone, said = report(live)
    assert said == "" and alone["summary"]["open_findings"] == 5
    pastes = {
        "twice": lines + lines,
        "tail": lines + lines[-7:],
        "middle": lines[:30] + lines[4:21] + lines[30:],
        "thrice": lines * 3,
    }
    for name, pasted in pastes.items():
        log = tmp_path / name / "audit.jsonl"
        log.parent.mkdir()
        log.write_bytes(b"".join(pasted))
        doc, stderr = report(log)
        assert doc == alone, name
        copies = len(pasted) - len(lines)
        assert f"{copies} line(s) of this log are copies of lines before them" in stderr, name
        assert f"{log}:{len(lines) + 1 if name != 'middle' else 31}:" in stderr, name
        assert report(log, live)[0] == alone and report(live, log)[0] == alone, name
    # rotated: the paste sits in the active file, its originals in the rotated one
    rotated = tmp_path / "rotated" / "audit.jsonl"
    rotated.parent.mkdir()
    rotated.with_name("audit.jsonl.000001").write_bytes(b"".join(lines[:40]))
    rotated.write_bytes(b"".join(lines[40:] + lines[10:20]))
    doc, stderr = report(rotated)
    assert doc == alone and f"{rotated}:{len(lines) - 40 + 1}:" in stderr
    assert f"a copy of {rotated.with_name('audit.jsonl.000001')}:11" in stderr
    # another host's log appended: its seq goes back, its lines are no copies
    other = write_show_log(tmp_path / "other.jsonl", host="farm02", run_id="r1")
    both = tmp_path / "both" / "audit.jsonl"
    both.parent.mkdir()
    both.write_bytes(live.read_bytes() + other.read_bytes())
    doc, stderr = report(both)
    assert doc["events"] == alone["events"] + report(other)[0]["events"]
    assert "copies" not in stderr


def test_looking_for_pasted_lines_stops_in_a_log_that_is_no_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Looking back for pasted copies costs at most twice the log's bytes read again (here
    with no slack): a file whose seq goes back again and again without copies (the first
    lines of many logs appended to one) makes it stop, say so, and read every event."""
    from clearance import report_copies

    monkeypatch.setattr(report_copies, "_LOOK_BACK_SLACK", 0)
    log = write_show_log(tmp_path / "audit.jsonl", run_id="r0")
    lines = log.read_bytes().splitlines(keepends=True)
    starts = []
    for i in range(1, 40):  # other runs' logs: each starts at seq 1 again, other bytes
        other = write_show_log(tmp_path / f"o{i}.jsonl", run_id=f"r{i}", show=SHOW[:1])
        starts.append(other.read_bytes().splitlines(keepends=True)[0])
    log.write_bytes(b"".join(lines + lines[:5] + starts))
    report = build_report([log])
    warnings = report.warnings
    assert report.events == len(lines) + len(starts)  # the 5 copies found before it stopped
    assert any("5 line(s) of this log are copies" in w for w in warnings), warnings
    assert any("goes back too often to look for lines pasted again" in w for w in warnings)


# Lines as a log can hold them: the report's fast parser (orjson) must read every one as `json`
# does, or refuse it as `json` does: a float where `json` gives an integer, a refused NaN or a
# lone surrogate would change what a report shows or skips.
_ODD_LINES = [
    b'{"details":{"evidence":{"n":123456789012345678901234567890}}}',
    b'{"details":{"evidence":{"n":-9223372036854775809,"m":18446744073709551616}}}',
    b'{"details":{"frames":[1001,99999999999999999999999]}}',
    b'{"details":{"evidence":{"x":NaN,"y":Infinity,"z":-Infinity}}}',
    b'{"details":{"evidence":{"x":1e400}}}',
    b'{"details":{"remediation":"\\ud800 alone"}}',
    b'{"details":{"remediation":"\\ud83d\\ude00 a pair"}}',
    b'{"details":{"a":1,"b":2,"a":3}}',
    b'{"details":{"ratio":0.1,"big":1.5e308,"tiny":-1e-320,"zero":-0.0,"int":-0}}',
    b'{"seq":123456789012345678901234567890,"details":{}}',
    b'{"seq":1.0,"details":[1,2.5]}',
    b"[" * 1500 + b"]" * 1500,
    b'{"details":{}}\n',
    b'  {"details":{"s":"\\u0000\\t"}}  \r\n',
    b'\xef\xbb\xbf{"details":{}}',
    b'{"details":{"s":"caf\xe9"}}',
    b'{"details":{}} trailing',
    b'{"details":{"s":"\x01"}}',
    b"",
    b"12345678901234567890123",
    b'"just a string"',
]


def _as_json_reads(raw: bytes) -> str:
    try:
        return "value " + repr(json.loads(raw.decode("utf-8")))
    except (ValueError, RecursionError):
        return "not JSON"


@pytest.mark.parametrize("raw", _ODD_LINES)
def test_the_reports_parser_reads_a_line_as_json_does(raw: bytes) -> None:
    from clearance.auditlog import NOT_JSON
    from clearance.report import _parse

    try:
        got = "value " + repr(_parse(raw))
    except NOT_JSON:
        got = "not JSON"
    assert got == _as_json_reads(raw)


def test_the_reports_parser_reads_real_events_and_their_mutants_as_json_does(
    show_log: Path,
) -> None:
    import random

    from clearance.auditlog import NOT_JSON
    from clearance.report import _parse

    rng = random.Random(6)
    lines = show_log.read_bytes().splitlines(keepends=True)
    odd = [b"1e400", b"NaN", b"99999999999999999999", b"-0", b"1.0", b'"\\udfff"', b"[]", b"{}"]
    for line in lines:
        variants = [line]
        for _ in range(6):  # a value, a number or a byte replaced
            cut = rng.randrange(len(line))
            variants.append(line[:cut] + rng.choice(odd) + line[cut + rng.randrange(4) :])
        for raw in variants:
            try:
                got = "value " + repr(_parse(raw))
            except NOT_JSON:
                got = "not JSON"
            assert got == _as_json_reads(raw), raw


def test_a_lone_surrogate_in_an_intact_log_is_reported_as_writers_show_it(
    tmp_path: Path, show_log: Path
) -> None:
    """A line may hold a lone surrogate as a JSON escape (``\\ud800``: another writer's,
    or typed in): ``json`` reads it, ``verify`` finds the log intact, but no stream can
    encode it: ``report -f json``, ``csv`` and ``html`` stopped at it, exit 2 with
    "'utf-8' codec can't encode character" naming no file, and no report. Its texts are
    shown as writers write such a name (``comp/\\ud800.png``, text)."""
    import hashlib

    prev, out = "0" * 64, []
    for line in show_log.read_bytes().splitlines():
        event = json.loads(line)
        event["prev"] = prev
        if event["asset"] == "comp/sh030_comp_v002.####.exr":
            event["asset"] = "comp/sh030_\ud800.####.exr"
            if event["event"] == "finding":
                event["message"] += " \udfff"
        out.append(json.dumps(event, separators=(",", ":")).encode())  # ASCII: \ud800
        prev = hashlib.sha256(out[-1]).hexdigest()
    path = tmp_path / "hostile" / "audit.jsonl"
    path.parent.mkdir()
    path.write_bytes(b"\n".join(out) + b"\n")
    assert b"\\ud800" in path.read_bytes()
    assert clearance("verify", str(path)).returncode == 0
    for fmt in ("json", "csv", "html", "junit", "table"):
        proc = clearance("report", str(path), "-f", fmt)
        assert proc.returncode == 0, (fmt, proc.stderr)
        text = proc.stdout.replace("<wbr>", "").replace("\\\\", "\\")  # quoted by shown()
        assert "comp/sh030_\\ud800.####.exr" in text, fmt
    doc = json.loads(clearance("report", str(path), "-f", "json").stdout)
    (blocked,) = [a for a in doc["assets"] if a["outcome"] == "block"]
    assert blocked["asset"] == "comp/sh030_\\ud800.####.exr"
    assert blocked["findings"][0]["message"].endswith(" \\udfff")


def test_a_big_integer_or_nan_in_evidence_is_reported_as_written(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    AuditLog(path).append_many(
        [
            {
                "event": "finding",
                "stage": "comp",
                "asset": "sh010.exr",
                "rule": "SITE-1",
                "outcome": "escalate",
                "status": "open",
                "details": {"evidence": {"frames": 123456789012345678901234567890, "r": 0.5}},
            },
            {
                "event": "asset.audited",
                "stage": "comp",
                "asset": "sh010.exr",
                "outcome": "escalate",
            },
        ]
    )
    proc = clearance("report", "-f", "json", str(path))
    assert proc.returncode == 0, proc.stderr
    (asset,) = json.loads(proc.stdout)["assets"]
    assert asset["findings"][0]["evidence"] == {"frames": 123456789012345678901234567890, "r": 0.5}


def _timeline_of_ok(show: ClearanceRun, tmp_path: Path) -> Any:
    """An edit of one clip, ``comp/ok.png``; returns what ``clearance timeline`` (the CLI)
    says of it: ``(exit code, the clip's JSON)``."""
    otio = pytest.importorskip("opentimelineio")
    edit = tmp_path / "cut.otio"
    clip_range = otio.opentime.TimeRange(
        otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(24, 24)
    )
    track = otio.schema.Track(name="V1")
    track.append(
        otio.schema.Clip(
            name="ok",
            media_reference=otio.schema.ExternalReference(
                target_url=str(show.root / "comp" / "ok.png"), available_range=clip_range
            ),
            source_range=clip_range,
        )
    )
    cut = otio.schema.Timeline(name="cut")
    cut.tracks.append(track)
    otio.adapters.write_to_file(cut, str(edit))

    def timeline_clip() -> tuple[int, dict[str, Any]]:
        proc = clearance("timeline", str(edit), "--config", str(show.root / "clearance.yaml"),
                         "-f", "json")  # fmt: skip
        assert proc.returncode in (0, 1), proc.stderr
        (clip,) = json.loads(proc.stdout)["clips"]
        return proc.returncode, clip

    return timeline_clip


def test_a_stage_finding_naming_an_asset_is_in_what_timeline_reads(tmp_path: Path) -> None:
    """The timeline reads the lineage store, which recorded each asset's own verdict only: a
    stage check's block naming ``comp/ok.png`` made ``report`` say block while ``timeline``
    showed the clip with no finding, exit 0. The finding joins the asset's recorded audit, as
    it joins it in the log; a re-scan keeps it (warm, or with --jobs); a scan it no longer
    names drops it."""
    pytest.importorskip("opentimelineio")
    show, plan = _quota_show(tmp_path)
    timeline_clip = _timeline_of_ok(show, tmp_path)
    _scan_with_stage_findings(show, plan, [])
    own = timeline_clip()
    assert own[1]["outcome"] != "block", own
    _scan_with_stage_findings(show, plan, [["comp", "comp/ok.png", "block", "ok is over quota"]])
    assert _report(show)[("comp", "comp/ok.png")]["outcome"] == "block"
    for _ in range(2):  # the scan that joined it, then a re-scan in two processes
        code, clip = timeline_clip()
        assert (code, clip["outcome"]) == (1, "block"), clip
        assert ("SITE-QUOTA-01", "block", "ok is over quota") in {
            (f["rule"], f["outcome"], f["message"]) for f in clip["findings"]
        }
        proc = clearance("scan", str(show.root), "--no-progress", "--jobs", "2", "--no-cache")
        assert proc.returncode == 1, proc.stderr
    _scan_with_stage_findings(show, plan, [])  # the stage check names it no more
    assert timeline_clip() == own


def test_an_asset_whose_audit_never_finished_is_unsure_never_a_pass(tmp_path: Path) -> None:
    """A run stopped between an asset's findings and its ``asset.audited`` (SIGKILL, the OOM
    killer) left findings that were all approved, or a notice: the asset was reported pass,
    or notice, from what the audit had reached. What it did not reach is unknown: escalate,
    or the worst open finding if that is worse."""
    log = tmp_path / "audit.jsonl"
    cut = AuditLog(log)
    audit = make_audit_logger(cut, run_id="cut-short", host="farm01")
    audit.info("run.started", message="clearance scan", details={"command": "scan"})
    audit.info("stage.started", stage="comp", message="stage comp")
    for asset, outcome, status in (
        ("comp/approved.png", "approval", "approved"),
        ("comp/notice.png", "notice", "open"),
        ("comp/block.png", "block", "open"),
    ):
        audit.info(
            "finding",
            stage="comp",
            asset=asset,
            rule="NFX-GP4",
            outcome=outcome,
            status=status,
            message="final GenAI material",
        )
    cut.close()
    proc = clearance("report", str(log), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    outcomes = {a["asset"]: a["outcome"] for a in json.loads(proc.stdout)["assets"]}
    assert outcomes == {
        "comp/approved.png": "escalate",
        "comp/notice.png": "escalate",
        "comp/block.png": "block",
    }


def test_the_html_runs_table_shows_a_command_and_host_as_the_terminal_does(tmp_path: Path) -> None:
    """The page's runs table printed a run's command and host only HTML-escaped: a file name
    given to ``check`` with a bidi override (U+202E) reversed the rest of the command line as
    the browser drew it, and a line break read as a space. They are shown escaped."""
    log = tmp_path / "audit.jsonl"
    with AuditLog(log) as sink:
        audit = make_audit_logger(sink, run_id="r1", host="farm\u202e10")
        audit.info(
            "run.started",
            message="clearance check",
            details={"command": "clearance check comp/\u202egnp.exe\nx.png"},
        )
        audit.info("run.finished", outcome="pass", message="done", details={"exit_code": 0})
    page = clearance("report", str(log), "-f", "html").stdout
    assert "\u202e" not in page and "gnp.exe\n" not in page
    assert "clearance check comp/\\u202egnp.exe\\nx.png" in page
    assert "farm\\u202e10" in page


def test_a_stage_finding_joined_to_an_asset_audits_nothing_again(tmp_path: Path) -> None:
    """A stage check's block joins ``comp/ok.png``'s recorded row at the stage's end; an
    asset of the same stage made from it had read that row before (its own verdict, what it
    was made from unchanged). It was audited again for it: twice in the log, in a second
    ``stage.started`` ... ``stage.finished`` of comp whose stage checks ran again, so the
    report listed the block twice on comp/ok.png, at every scan."""
    show, plan = _quota_show(tmp_path)
    steps = genai_sidecar()["steps"]
    steps[0]["inputs"] = [{"ref": "comp/ok.png", "class": "owned_released"}]
    show.asset("comp/zz_from_ok.png", sidecar=genai_sidecar(steps=steps))
    log = show.root / ".clearance" / "audit.jsonl"
    for _ in range(2):  # a cold scan, then a warm one
        seen = sum(1 for _ in log.open()) if log.exists() else 0
        _scan_with_stage_findings(show, plan, [["comp", "comp/ok.png", "block", "over quota"]])
        run = [json.loads(line) for line in log.read_text().splitlines()[seen:]]
        audited = [e["asset"] for e in run if e["event"] == "asset.audited"]
        assert sorted(audited) == sorted(set(audited)), audited
        assert [e["stage"] for e in run if e["event"] == "stage.finished"].count("comp") == 1
        ok = _report(show)[("comp", "comp/ok.png")]
        assert ok["outcome"] == "block"
        assert [(f["rule"], f["message"]) for f in ok["findings"]] == [
            ("SITE-QUOTA-01", "over quota")
        ]


def test_stage_findings_of_a_run_stopped_before_stage_finished_join_its_asset_audit(
    tmp_path: Path,
) -> None:
    """A run stopped between its stage checks' findings (one naming an asset it audited) and
    its ``stage.finished`` (SIGKILL, the OOM killer: the log ends there). The finding was
    taken for an audit that never finished and put in place of the asset's whole audit: its
    own block (NFX-T1) was gone and the asset read escalate. It joins that audit, as it does
    at ``stage.finished``."""
    show, plan = _quota_show(tmp_path)
    _scan_with_stage_findings(show, plan, [["comp", "comp/bad.png", "notice", "bad is over quota"]])
    log = show.root / ".clearance" / "audit.jsonl"
    whole = _report(show)[("comp", "comp/bad.png")]
    lines = log.read_bytes().splitlines(keepends=True)
    cut = next(
        i
        for i, line in enumerate(lines)
        if json.loads(line)["event"] == "stage.finished" and json.loads(line)["stage"] == "comp"
    )
    log.write_bytes(b"".join(lines[:cut]))
    bad = _report(show)[("comp", "comp/bad.png")]
    assert bad["outcome"] == whole["outcome"] == "block"
    assert bad["findings"] == whole["findings"]
    assert ("SITE-QUOTA-01", "notice") in {(f["rule"], f["outcome"]) for f in bad["findings"]}


def test_a_re_audit_of_a_run_that_never_finished_is_unsure_never_its_earlier_audit(
    tmp_path: Path,
) -> None:
    """A watcher (one run, no stage.started) audits an asset again and again, and a scan
    audits the assets whose inputs changed again in a second pass of their stage: killed
    between such an audit's findings and its ``asset.audited``, the asset is unsure
    (escalate), whatever the run's earlier audit of it said; only a stage check's finding
    written after the asset's audit in the same pass of the stage joins that audit."""
    for name, passes in (("watch", 0), ("scan", 2)):
        log = tmp_path / f"{name}.jsonl"
        cut = AuditLog(log)
        audit = make_audit_logger(cut, run_id=f"{name}-run", host="farm01")
        clock = Clock("2026-11-26T09:00:00.000Z")
        audit.info(
            "run.started", time=clock(), message=f"clearance {name}", details={"command": name}
        )
        for again in (False, True):
            if passes:
                audit.info("stage.started", time=clock(), stage="comp", message="stage comp")
            audit.info(
                "finding",
                time=clock(),
                stage="comp",
                asset="comp/x.png",
                rule="NFX-GP4",
                outcome="approval",
                status="approved",
                approval="APR-1",
                message="final GenAI material",
            )
            if again:
                break
            audit.info(
                "asset.audited",
                time=clock(),
                stage="comp",
                asset="comp/x.png",
                outcome="pass",
                message="x",
            )
            if passes:
                audit.info(
                    "stage.finished", time=clock(), stage="comp", message="stage comp", details={}
                )
        cut.close()
        proc = clearance("report", str(log), "-f", "json")
        assert proc.returncode == 0, proc.stderr
        (x,) = json.loads(proc.stdout)["assets"]
        assert (x["asset"], x["outcome"]) == ("comp/x.png", "escalate"), name


def test_a_stage_finding_naming_an_asset_stands_through_a_watchers_audit_of_it(
    tmp_path: Path,
) -> None:
    """A stage check's block naming ``comp/ok.png`` was gone from ``report`` and ``timeline``
    as soon as ``clearance watch`` audited the asset again (at its start, or a re-render):
    the watcher runs no stage checks, and its audit, the asset's own verdict, superseded the
    one the block had joined. Only a run of the whole stage decides a stage check's findings
    again: a watcher's audit, or ``check`` of the file (its stage checks see a part: finding
    nothing proves nothing), keeps it in both; a full scan whose checks name it no more
    clears it in both."""
    from _watch_harness import WatchProcess, wait_for

    pytest.importorskip("opentimelineio")
    show, plan = _quota_show(tmp_path)
    timeline_clip = _timeline_of_ok(show, tmp_path)
    log = show.root / ".clearance" / "audit.jsonl"
    _scan_with_stage_findings(show, plan, [["comp", "comp/ok.png", "block", "ok is over quota"]])
    quota = ("SITE-QUOTA-01", "block", "ok is over quota")

    def both_say() -> tuple[tuple[str, set[Any]], tuple[int, str, set[Any], list[str]]]:
        audit = _report(show)[("comp", "comp/ok.png")]
        code, clip = timeline_clip()
        return (
            (audit["outcome"], {(f["rule"], f["outcome"], f["message"]) for f in audit["findings"]}),
            (code, clip["outcome"], {(f["rule"], f["outcome"], f["message"]) for f in clip["findings"]},
             clip["problems"]),
        )  # fmt: skip

    blocked = (("block", {quota}), (1, "block", {quota}, []))
    assert both_say() == blocked

    def watcher_audits_of_ok() -> int:
        return sum(
            1
            for line in log.read_text().splitlines()
            if '"asset.audited"' in line and json.loads(line)["asset"] == "comp/ok.png"
        )

    scanned = watcher_audits_of_ok()
    plan.write_text("[]")  # a stage check would find nothing now: the watcher runs none
    with WatchProcess(show.root) as watcher:
        wait_for(lambda: watcher_audits_of_ok() > scanned, what="the watcher's audit")
        write_png(show.root / "comp" / "tmp.png", width=9)
        os.replace(show.root / "comp" / "tmp.png", show.root / "comp" / "ok.png")  # re-rendered
        wait_for(lambda: watcher_audits_of_ok() > scanned + 1, what="its audit of the render")
        assert watcher.terminate() == 0
    assert both_say() == blocked
    proc = clearance("check", str(show.root / "comp" / "ok.png"))
    assert proc.returncode == 0, proc.stderr  # its own verdict: a partial run decides nothing
    assert both_say() == blocked
    proc = clearance("scan", str(show.root), "--no-progress", "--jobs", "2")
    assert proc.returncode == 1, proc.stderr  # comp/bad.png
    (own, _), (code, outcome, found, problems) = both_say()
    assert own == "pass" and (code, found, problems) == (0, set(), [])


def test_a_watchers_audit_cut_short_keeps_its_own_time_with_a_standing_stage_finding(
    tmp_path: Path,
) -> None:
    """A watcher stopped before its ``asset.audited`` (its findings written) is an audit that
    never finished, unsure; a stage check's finding standing for that asset joins it, and
    its time, run and host are the watcher's, not those of the scan the finding came from."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    clock = Clock("2026-11-26T09:00:00.000Z")
    scan = make_audit_logger(log, run_id="scan-1", host="farm01")
    scan.info("run.started", time=clock(), message="clearance scan", details={"command": "scan"})
    scan.info("stage.started", time=clock(), stage="comp", message="stage comp")
    scan.info("asset.audited", time=clock(), stage="comp", asset="comp/a.png", outcome="pass")
    scan.info("finding", time=clock(), stage="comp", asset="comp/a.png", rule="SITE-Q",
              outcome="block", status="open", message="over quota")  # fmt: skip
    scan.info("stage.finished", time=clock(), stage="comp", message="stage comp",
              details={"counts": {}, "assets": 1, "complete": True})  # fmt: skip
    scan.info("run.finished", time=clock(), outcome="block", message="done")
    watch = make_audit_logger(log, run_id="watch-1", host="ws07")
    watch.info("run.started", time=clock(), message="clearance watch", details={"command": "watch"})
    killed = clock()
    watch.info("finding", time=killed, stage="comp", asset="comp/a.png", rule="NFX-00",
               outcome="notice", status="open", message="not shared")  # fmt: skip
    log.close()
    proc = clearance("report", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    (audit,) = json.loads(proc.stdout)["assets"]
    assert (audit["run_id"], audit["host"], audit["time"]) == ("watch-1", "ws07", killed)
    assert audit["outcome"] == "block"
    assert {f["rule"] for f in audit["findings"]} == {"SITE-Q", "NFX-00"}


@pytest.mark.parametrize("rerender", [False, True], ids=["same-file", "re-rendered"])
@pytest.mark.parametrize(
    ("first", "then", "says"),
    [
        pytest.param("block", None, "pass", id="a-whole-scan-names-it-no-more"),
        pytest.param(None, "block", "block", id="a-whole-scan-names-it"),
    ],
)
def test_a_whole_scans_stage_checks_decide_for_an_asset_a_check_audited_meanwhile(
    tmp_path: Path, first: str | None, then: str | None, says: str, rerender: bool
) -> None:
    """A full scan's audit of ``comp/ok.png`` began, then a post-task ``check`` of it began
    and finished first (the same file): the report keeps the check's audit (it began last).
    The scan's stage checks, which saw the asset, then named it no more (or named it): the
    report kept the block that stood from an earlier scan (or put the new block among the
    stage's own findings, the asset passing), while ``timeline``, whose lineage row of the
    file the scan wrote last, said the opposite. A run of the whole stage that audited the
    asset decides its stage checks' findings for it, whichever audit of it is the latest; the
    lineage store records them on the asset's latest row (the check's, of the file as
    re-rendered, if it was: the scan's own row is recorded below it)."""
    import yaml

    pytest.importorskip("opentimelineio")
    show, plan = _quota_show(tmp_path)
    hold = tmp_path / "hold.py"
    hold.write_text(hold_plugin("comp/ok.png"))
    config = show.root / "clearance.yaml"
    doc = yaml.safe_load(config.read_text())
    doc["plugins"] = [*doc["plugins"], str(hold)]
    config.write_text(yaml.safe_dump(doc, sort_keys=False))
    flags = tmp_path / "flags"
    flags.mkdir()
    timeline_clip = _timeline_of_ok(show, tmp_path)
    quota = [["comp", "comp/ok.png", first, "ok is over quota"]] if first else []
    _scan_with_stage_findings(show, plan, quota)
    plan.write_text("[]")  # the check's stage checks (a part of the stage) find nothing
    scan = start_held(flags, "scan", str(show.root), "--no-progress")
    try:
        if rerender:  # the artist re-renders it while the scan holds what it read
            write_png(show.root / "comp" / "tmp.png", width=9)
            os.replace(show.root / "comp" / "tmp.png", show.root / "comp" / "ok.png")
        check = subprocess.run(
            [str(CLEARANCE), "check", str(show.root / "comp" / "ok.png")],
            env=hold_env(flags), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert check.returncode in (0, 1), check.stderr
        if then:  # what the scan's stage checks find, at the end of its stage
            plan.write_text(json.dumps([["comp", "comp/ok.png", then, "ok is over quota"]]))
    finally:
        (flags / "go").touch()
        _, err = scan.communicate(timeout=120)
    assert scan.returncode == 1, err  # comp/bad.png
    audit = _report(show)[("comp", "comp/ok.png")]
    code, clip = timeline_clip()
    quota = {(f["rule"], f["outcome"]) for f in audit["findings"] if f["rule"] == "SITE-QUOTA-01"}
    assert audit["outcome"] == says and bool(quota) == (says == "block"), audit
    assert quota == {
        (f["rule"], f["outcome"]) for f in clip["findings"] if f["rule"] == "SITE-QUOTA-01"
    }
    assert (code, clip["outcome"] == "block") == (int(says == "block"), says == "block"), clip


def test_a_scan_stopped_after_its_stage_checks_keeps_the_check_that_began_after_it(
    tmp_path: Path,
) -> None:
    """A scan read ``comp/a.png`` while a post-task ``check`` of it began and finished first
    (the report keeps the check's audit: it began last); the scan's stage checks named the
    asset (notice) and the scan was killed before its ``stage.finished``. Their finding was
    taken for an audit of the asset that never finished, newer than the check's: the asset
    was ``escalate``, the check's own finding gone and its run and time the scan's. It
    stands for the check's audit, as a finished pass's would."""
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    clock = Clock("2026-11-26T09:00:00.000Z")
    scan = make_audit_logger(log, run_id="scan-1", host="farm01")
    check = make_audit_logger(log, run_id="check-1", host="ws07")
    scan.info("run.started", time=clock(), message="clearance scan", details={"command": "scan"})
    scan.info("stage.started", time=clock(), stage="comp", message="stage comp")
    check.info("run.started", time=clock(), message="clearance check", details={"command": "check"})
    check.info("finding", time=clock(), stage="comp", asset="comp/a.png", rule="NFX-00",
               outcome="notice", status="open", message="not shared")  # fmt: skip
    checked = clock()
    check.info("asset.audited", time=checked, stage="comp", asset="comp/a.png",
               outcome="notice", details={"duration_ms": 300})  # fmt: skip
    check.info("run.finished", time=clock(), outcome="notice", message="done")
    scan.info("asset.audited", time=clock(), stage="comp", asset="comp/a.png", outcome="pass",
              details={"duration_ms": 5000})  # fmt: skip
    scan.info("finding", time=clock(), stage="comp", asset="comp/a.png", rule="SITE-Q",
              outcome="notice", status="open", message="over quota")  # fmt: skip
    log.close()  # the scan killed before its stage.finished
    proc = clearance("report", str(path), "-f", "json")
    assert proc.returncode == 0, proc.stderr
    (audit,) = json.loads(proc.stdout)["assets"]
    assert (audit["run_id"], audit["time"], audit["outcome"]) == ("check-1", checked, "notice")
    assert {f["rule"] for f in audit["findings"]} == {"SITE-Q", "NFX-00"}
