"""Approvals clear `approval` findings within scope until they expire; never `block`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from clearance.approvals import asset_sha256
from clearance.testing import ClearanceRun
from conftest import genai_sidecar, run_cli

TODAY = dt.date.today()


def days(n: int) -> str:
    return (TODAY + dt.timedelta(days=n)).isoformat()


def final_asset(
    run: ClearanceRun, rel: str = "delivery/sh010_bg_v003.png", **overrides: object
) -> Path:
    doc = genai_sidecar(
        output={
            **genai_sidecar()["output"],
            "use": "final",
            "on_screen": "background",
            "similarity_review": "passed",
        },
        disclosure={"notified_at": "2026-11-02", "flagged_at": "2026-11-03"},
        **overrides,
    )
    return run.asset(rel, sidecar=doc)


def approval(rules: list[str], expires: int = 90, **scope: object) -> dict[str, object]:
    return {
        "rules": rules,
        "scope": {"production": "SHOW01", **scope},
        "approved_by": "Production Legal",
        "approved_at": days(-10),
        "expires": days(expires),
        "document": "legal/x.pdf",
    }


def gp4(outcome: object) -> dict[str, object]:
    return next(
        f for f in outcome.asset("delivery/sh010_bg_v003.png").findings if f.rule == "NFX-GP4"
    )


def test_valid_approval_clears_the_finding_and_keeps_it_in_every_output(clearance_run) -> None:
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-1"] = approval(
        ["NFX-GP4"], shots=["sh010"], assets=["sh010_bg_*"]
    )
    result = run.scan()
    finding = gp4(result)
    assert finding.status.value == "approved" and finding.approval == "APR-1"
    assert result.asset("delivery/sh010_bg_v003.png").outcome.value == "pass"
    events = [e for e in result.events() if e["event"] == "finding" and e["rule"] == "NFX-GP4"]
    assert events and events[0]["status"] == "approved" and events[0]["approval"] == "APR-1"


def test_expired_approval_leaves_the_finding_open_and_is_logged(clearance_run) -> None:
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-OLD"] = approval(["NFX-*"], expires=-1)
    result = run.scan()
    finding = gp4(result)
    assert finding.status.value == "expired" and finding.approval == "APR-OLD"
    assert result.asset("delivery/sh010_bg_v003.png").outcome.value == "approval"
    expired = [e for e in result.events() if e["event"] == "approval.expired"]
    assert (
        expired
        and expired[0]["approval"] == "APR-OLD"
        and expired[0]["details"]["expires"] == days(-1)
    )


def test_valid_approval_wins_over_an_expired_one(clearance_run) -> None:
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-A-OLD"] = approval(["NFX-GP4"], expires=-5)
    run.approvals["approvals"]["APR-B-NEW"] = approval(["NFX-GP4"], expires=30)
    assert gp4(run.scan()).approval == "APR-B-NEW"


def test_scope_production_shot_and_asset_glob_must_all_match(clearance_run) -> None:
    for scope in ({"shots": ["sh020"]}, {"assets": ["sh999_*"]}, {"production": "OTHER"}):
        run = clearance_run()
        final_asset(run)
        record = approval(["NFX-GP4"])
        record["scope"] = {**record["scope"], **scope}
        run.approvals["approvals"]["APR-1"] = record
        finding = gp4(run.scan())
        assert finding.status.value == "open" and finding.approval is None, scope


def test_rule_globs_match(clearance_run) -> None:
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-1"] = approval(["NFX-GP*"])
    assert gp4(run.scan()).status.value == "approved"


def test_asset_sha256_binds_to_exact_content(clearance_run) -> None:
    run = clearance_run()
    path = final_asset(run)
    from clearance.model import Asset

    digest = asset_sha256(Asset(path=path, rel="x", root=path.parent, files=[path]))
    run.approvals["approvals"]["APR-1"] = {**approval(["NFX-GP4"]), "asset_sha256": digest}
    assert gp4(run.scan()).status.value == "approved"
    path.write_bytes(path.read_bytes() + b"re-render")
    assert gp4(run.scan()).status.value == "open"


def test_asset_sha256_of_a_sequence_whose_frame_names_are_not_utf8(tmp_path) -> None:
    """A frame name is hashed as the bytes it is on disk (it raised UnicodeEncodeError out
    of the approval look-up): the same digest as a plain name of those bytes would give."""
    import hashlib
    import os

    from clearance.discover import discover
    from clearance.policy import Policy

    folder = os.fsencode(tmp_path)
    digest = hashlib.sha256()
    for frame in (1, 2):
        name = b"caf\xe9.%04d.png" % frame
        with open(os.path.join(folder, name), "wb") as fh:
            fh.write(b"frame %d" % frame)
        content = hashlib.sha256(b"frame %d" % frame).hexdigest().encode()
        digest.update(name + b" " + content + b"\n")
    (asset,) = discover([str(tmp_path)], Policy(root=tmp_path)).assets
    assert asset.frames == "1-2"
    assert asset_sha256(asset) == digest.hexdigest()


def test_asset_sha256_of_a_sequence_of_one_frame_is_the_hash_of_its_frame_line(
    clearance_run,
) -> None:
    """docs/config.md: for a sequence, the SHA-256 of the lines ``"<frame file name> <frame
    sha256>\n"``; a sequence of which one frame is rendered (a hold frame, a check of one
    frame) was hashed as a single file, so an approval written by the documented recipe
    never covered it."""
    import hashlib

    run = clearance_run()
    run.asset(
        "delivery/sh010_hold.####.png",
        frames=[1001],
        sidecar=genai_sidecar(
            output={
                **genai_sidecar()["output"],
                "use": "final",
                "on_screen": "background",
                "similarity_review": "passed",
            },
            disclosure={"notified_at": "2026-11-02", "flagged_at": "2026-11-03"},
        ),
    )
    frame = run.root / "delivery/sh010_hold.1001.png"
    line = f"{frame.name} {hashlib.sha256(frame.read_bytes()).hexdigest()}\n"
    documented = hashlib.sha256(line.encode()).hexdigest()
    run.approvals["approvals"]["APR-1"] = {**approval(["NFX-GP4"]), "asset_sha256": documented}
    hold = run.scan().asset("delivery/sh010_hold.####.png")
    assert hold.asset.frames == "1001"
    (gp4_hold,) = [f for f in hold.findings if f.rule == "NFX-GP4"]
    assert gp4_hold.status.value == "approved" and gp4_hold.approval == "APR-1"
    # the same frame given alone to check is that one-frame sequence: the same hash covers it
    checked = run_cli("check", str(frame), "--format", "json")
    (asset,) = checked.json()["assets"]
    assert asset["frames"] == "1001" and asset["outcome"] == "pass", checked.stdout


def test_an_approval_rule_that_names_no_rule_is_a_warning_naming_the_file_and_field(
    clearance_run,
) -> None:
    """An approval whose ``rules`` entry is a typo (``NFX-GP04``, ``nfx-gp*``: ids are
    compared exactly) covers nothing: the finding stayed open and nothing said why (validate
    called the file valid). scan and check say so on stderr and in a ``run.warning``."""
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-1"] = approval(["NFX-GP04"])
    run.approvals["approvals"]["APR-2"] = approval(["NFX-C1", "nfx-gp*"])
    run.write_config()
    for command in ("scan", "check"):
        target = "delivery/sh010_bg_v003.png" if command == "check" else "."
        done = run_cli(command, target, "--format", "json", cwd=run.root)
        assert done.code == 1, done.stderr
        (asset,) = done.json()["assets"]
        assert [f["status"] for f in asset["findings"] if f["rule"] == "NFX-GP4"] == ["open"]
        file = str(run.root / "approvals.yaml")
        assert (
            f"clearance: warning: {file}: approvals.APR-1.rules[0]: the id 'NFX-GP04' matches "
            "no rule, so the approval covers nothing of it; did you mean NFX-GP4?" in done.stderr
        ), done.stderr
        assert f"{file}: approvals.APR-2.rules[1]: the glob 'nfx-gp*' matches no rule" in (
            done.stderr
        )
        assert "APR-2.rules[0]" not in done.stderr  # NFX-C1 is a rule
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    warned = [e["details"]["warning"] for e in events if e["event"] == "run.warning"]
    assert len(warned) == 4 and warned[0].startswith("approvals.APR-1.rules[0]: the id 'NFX-GP04'")


def test_approval_never_clears_block(clearance_run) -> None:
    run = clearance_run()
    doc = genai_sidecar(source_type="digitalCapture")  # IPTC-02 contradiction → block
    run.asset("comp/a.png", sidecar=doc)
    run.approvals["approvals"]["APR-ALL"] = approval(["*"])
    result = run.scan()
    block = [f for f in result.asset("comp/a.png").findings if f.rule == "IPTC-02"]
    assert block and block[0].status.value == "open" and block[0].approval is None
    assert result.outcome("comp/a.png") == "block"


def test_approval_listed_only_in_the_sidecar_does_not_count(clearance_run) -> None:
    run = clearance_run()
    final_asset(run, approvals=["APR-NOT-IN-REGISTRY"])
    assert gp4(run.scan()).status.value == "open"


def test_consent_makes_replica_an_approval_not_a_block(clearance_run) -> None:
    talent = [
        {
            "performer": "P-0042",
            "replica": "employment_based",
            "alteration": "none",
            "consent": "C-1",
            "union": "SAG-AFTRA",
        }
    ]
    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar(talent=talent, qa={"test_record": "QA-1"}))
    without = run.scan()
    t1 = [f for f in without.asset("comp/a.png").findings if f.rule == "NFX-T1"]
    assert t1 and t1[0].effective_outcome.value == "block"
    run.approvals["consents"]["C-1"] = {
        "performer": "P-0042",
        "production": "SHOW01",
        "uses": ["employment_based_replica"],
        "signed_at": days(-20),
        "expires": days(200),
    }
    with_consent = run.scan()
    t1 = [f for f in with_consent.asset("comp/a.png").findings if f.rule == "NFX-T1"]
    assert t1 and t1[0].effective_outcome.value == "approval"
    run.approvals["consents"]["C-1"]["expires"] = days(-1)
    expired = run.scan()
    t1 = [f for f in expired.asset("comp/a.png").findings if f.rule == "NFX-T1"]
    assert t1[0].effective_outcome.value == "block"


def test_events_record_the_approval_in_the_log_file(clearance_run) -> None:
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-1"] = approval(["NFX-GP4"])
    result = run.scan()
    lines = result.log.read_text().splitlines()
    assert any(json.loads(line).get("approval") == "APR-1" for line in lines)


def test_an_impossible_unquoted_date_is_a_config_error_naming_file_and_field(
    clearance_run,
) -> None:
    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    approvals = run.root / "approvals.yaml"
    approvals.write_text(
        "approvals:\n  APR-1:\n    rules: [NFX-C1]\n    approved_by: Legal\n"
        "    approved_at: 2026-10-01\n    expires: 2027-02-30\n"
    )
    done = run_cli("scan", str(run.root))
    assert done.code == 2 and "internal error" not in done.stderr
    assert f"clearance: error: {approvals}: approvals.APR-1.expires: invalid YAML: " in done.stderr
    assert "'2027-02-30' is not a valid date (day is out of range for month)" in done.stderr
    # validate reports it as an invalid file (1) and goes on to the files after it
    sidecar = run.root / "comp" / "a.png.genai.yaml"
    checked = run_cli("validate", str(approvals), str(run.root / "tools.yaml"), str(sidecar))
    assert checked.code == 1, checked.stderr
    assert f"{approvals}: approvals.APR-1.expires: invalid YAML" in checked.stdout
    assert f"{run.root / 'tools.yaml'}: valid" in checked.stdout
    assert f"{sidecar}: valid" in checked.stdout


def test_an_approval_that_does_not_say_who_approved_it_is_a_config_error(clearance_run) -> None:
    """``approved_by: ""`` (or blanks) was accepted: the approval cleared findings, and the
    report and ``approval.expired`` named no one. An approval must say who approved it."""
    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    approvals = run.root / "approvals.yaml"
    approvals.write_text(
        "approvals:\n"
        "  APR-1: {rules: [NFX-C1], approved_by: '', expires: 2099-01-01}\n"
        "  APR-2: {rules: [NFX-C1], approved_by: '  ', expires: 2099-01-01}\n"
        "  APR-3: {rules: [NFX-C1], approved_by: Production Legal, expires: 2099-01-01}\n"
    )
    done = run_cli("scan", str(run.root))
    assert done.code == 2, done.stdout + done.stderr
    assert (
        f"clearance: error: {approvals}: approvals.APR-1.approved_by: expected text that is "
        "not blank, got ''"
    ) in done.stderr
    checked = run_cli("validate", str(approvals))
    assert checked.code == 1, checked.stderr
    assert checked.stdout.splitlines() == [
        f"{approvals}: approvals.APR-1.approved_by: expected text that is not blank, got ''",
        f"{approvals}: approvals.APR-2.approved_by: expected text that is not blank, got '  '",
    ]


def test_an_approval_id_given_twice_is_a_config_error_naming_both_lines(clearance_run) -> None:
    """Two records under one id (a copy-pasted approval): YAML kept the last one silently, so
    an expired approval could replace a valid one, or the other way round. It is a
    configuration error (exit 2) naming the file, the id and both lines, and so is any key
    given twice in a configuration file."""
    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    approvals = run.root / "approvals.yaml"
    approvals.write_text(
        "approvals:\n  APR-1:\n    rules: [NFX-C1]\n    expires: 2020-01-01\n"
        "  APR-1:\n    rules: [NFX-C1]\n    expires: 2099-01-01\n"
    )
    done = run_cli("scan", str(run.root))
    assert done.code == 2 and "internal error" not in done.stderr
    assert (
        f"clearance: error: {approvals}: approvals.APR-1: invalid YAML: duplicate key 'APR-1' "
        "(line 2, column 3 and line 5, column 3)" in done.stderr
    )
    checked = run_cli("validate", str(approvals), str(run.root / "tools.yaml"))
    assert checked.code == 1
    assert f"{approvals}: approvals.APR-1: invalid YAML: duplicate key 'APR-1'" in checked.stdout
    assert f"{run.root / 'tools.yaml'}: valid" in checked.stdout

    approvals.write_text("approvals: {}\n")
    config = run.root / "clearance.yaml"
    config.write_text(config.read_text() + "approvals: approvals.yaml\n")
    done = run_cli("scan", str(run.root))
    assert done.code == 2 and f"{config}: approvals: invalid YAML: duplicate key" in done.stderr
    run.write_config()
    tools = run.root / "tools.yaml"
    tools.write_text(tools.read_text() + "tools: {}\n")
    done = run_cli("scan", str(run.root))
    assert done.code == 2 and f"{tools}: tools: invalid YAML: duplicate key 'tools'" in done.stderr


def test_a_long_approvals_file_of_globs_is_read_not_taken_for_an_alias_bomb(
    clearance_run,
) -> None:
    """Hundreds of approvals using the documented globs (``NFX-GP*``, ``sh010_bg_*``) are more
    nodes than the YAML alias bound, and have no alias: the file is read and applied."""
    run = clearance_run()
    final_asset(run)
    for i in range(600):
        run.approvals["approvals"][f"APR-{i:04d}"] = approval(
            ["NFX-GP*"], shots=[f"sh{i:03d}"], assets=["sh010_bg_*"]
        )
    run.write_config()
    text = (run.root / "approvals.yaml").read_text()
    assert "*" in text and "&" not in text and text.count("\n") > 6000
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code != 2, done.stderr
    [asset] = [a for a in done.json()["assets"] if a["asset"] == "delivery/sh010_bg_v003.png"]
    [finding] = [f for f in asset["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "approved" and finding["approval"] == "APR-0010"


TRACKER = """
import datetime
from clearance import hookimpl
from clearance.approvals import ApprovalMatch

@hookimpl(tryfirst=True)
def clearance_find_approval(finding):
    return ApprovalMatch(id="TRK-17", expires={expires!r}, approved_by="tracker"{extra})
"""


def tracker_scan(
    run: ClearanceRun, tmp_path: Path, expires: object, code: int = 1, extra: str = ""
) -> tuple[dict, list]:
    """Scan with a tracker plugin whose match ``expires`` on that date, on 2026-06-01
    (``extra``: more arguments of its ``ApprovalMatch``, ``, approved_at=...``)."""
    plugin = tmp_path / "tracker.py"
    plugin.write_text(TRACKER.format(expires=expires, extra=extra), encoding="utf-8")
    run.config["plugins"] = [str(plugin)]
    final_asset(run)
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json", env={"CLEARANCE_NOW": "2026-06-01"})
    assert done.code == code, done.stderr
    [item] = done.json()["assets"]
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    return item, events


def test_a_plugin_approval_past_its_expires_date_is_expired_not_approved(
    clearance_run, tmp_path: Path
) -> None:
    item, events = tracker_scan(clearance_run(), tmp_path, "2026-05-31")  # the run's eve
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "expired" and finding["approval"] == "TRK-17"
    assert finding["evidence"]["approval_expired"] == "2026-05-31"
    assert item["outcome"] == "approval"
    [expired] = [e for e in events if e["event"] == "approval.expired"]
    assert expired["approval"] == "TRK-17" and expired["details"]["expires"] == "2026-05-31"
    assert expired["details"]["approved_by"] == "tracker"


def test_a_plugin_approval_valid_through_the_runs_date_still_clears(
    clearance_run, tmp_path: Path
) -> None:
    item, events = tracker_scan(clearance_run(), tmp_path, "2026-06-01", code=0)  # expires that day
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "approved" and finding["approval"] == "TRK-17"
    assert not [e for e in events if e["event"] == "approval.expired"]


def test_a_plugin_approval_whose_expires_cannot_be_read_is_unsure_never_approved(
    clearance_run, tmp_path: Path
) -> None:
    item, events = tracker_scan(clearance_run(), tmp_path, "end of season")
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "open" and finding["approval"] is None
    [unsure] = [f for f in item["findings"] if f["rule"] == "PRV-05"]
    assert unsure["outcome"] == "escalate" and unsure["unsure"] is True
    assert "tracker" in unsure["message"] and "'end of season'" in unsure["message"]
    assert "expires" in unsure["message"]
    assert any(e["event"] == "finding" and e["rule"] == "PRV-05" for e in events)


def test_a_plugin_expires_that_only_starts_with_a_date_is_unsure_never_approved(
    clearance_run, tmp_path: Path
) -> None:
    item, _ = tracker_scan(clearance_run(), tmp_path, "2099-12-31 (end of season?)")
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "open" and finding["approval"] is None
    [unsure] = [f for f in item["findings"] if f["rule"] == "PRV-05"]
    assert "'2099-12-31 (end of season?)'" in unsure["message"]


def test_a_plugin_expires_given_as_a_date_and_time_is_read_whole(
    clearance_run, tmp_path: Path
) -> None:
    # 23:30 in Los Angeles on the run's eve is 07:30 UTC on the run's day: still valid
    item, _ = tracker_scan(clearance_run(), tmp_path, "2026-05-31T23:30:00-08:00", code=0)
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "approved" and finding["approval"] == "TRK-17"


@pytest.mark.parametrize(
    ("now", "status", "code"),
    [
        ("2027-03-01T23:30:00-08:00", "expired", 1),  # 2027-03-02 07:30 UTC
        ("2027-03-02T00:30:00Z", "expired", 1),
        ("2027-03-01T15:30:00-08:00", "approved", 0),  # 23:30 UTC, still the day it expires
        ("2027-03-01", "approved", 0),
    ],
)
def test_clearance_now_with_an_offset_is_that_instant_in_utc(
    clearance_run, now: str, status: str, code: int
) -> None:
    run = clearance_run()
    final_asset(run)
    run.approvals["approvals"]["APR-1"] = {**approval(["NFX-GP4"]), "expires": "2027-03-01"}
    run.approvals["approvals"]["APR-1"]["approved_at"] = "2026-10-01"
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json", env={"CLEARANCE_NOW": now})
    assert done.code == code, done.stderr
    [item] = done.json()["assets"]
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == status and finding["approval"] == "APR-1"


def test_a_clearance_now_that_is_not_a_date_is_a_config_error(clearance_run) -> None:
    run = clearance_run()
    final_asset(run)
    run.write_config()
    done = run_cli("scan", str(run.root), env={"CLEARANCE_NOW": "2027-03-01 (Monday)"})
    assert done.code == 2 and "internal error" not in done.stderr
    assert "CLEARANCE_NOW" in done.stderr and "'2027-03-01 (Monday)'" in done.stderr


def test_a_plugin_approval_without_an_expiry_date_is_expired_as_in_approvals_yaml(
    clearance_run, tmp_path: Path
) -> None:
    item, events = tracker_scan(clearance_run(), tmp_path, None)
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "expired" and finding["approval"] == "TRK-17"
    assert item["outcome"] == "approval"
    [expired] = [e for e in events if e["event"] == "approval.expired"]
    assert expired["approval"] == "TRK-17" and expired["details"]["expires"] is None
    assert expired["message"] == "approval TRK-17 covers NFX-GP4 but has no expiry date"


MANY_APPROVALS = """
from clearance import Finding, Outcome, Rule, hookimpl

@hookimpl
def clearance_add_rules(registry):
    for i in range(4):
        registry.add(Rule(id=f"SITE-M{i}", title="t", principle="creative-output",
                          outcome=Outcome.APPROVAL, remediation="ask"))

@hookimpl
def clearance_check_asset(asset):
    return [Finding(rule=f"SITE-M{i}", message="needs approval") for i in range(4)]
"""


def test_asset_sha256_hashes_each_frame_once_per_audit_however_many_findings_ask(
    clearance_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import clearance.approvals as approvals

    hashed: list[str] = []
    real = approvals._file_sha256

    def counting(path: Path) -> str:  # the real hash, counted
        hashed.append(Path(path).name)
        return real(path)

    monkeypatch.setattr(approvals, "_file_sha256", counting)
    plugin = tmp_path / "many.py"
    plugin.write_text(MANY_APPROVALS, encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/sh010_bg.####.png", sidecar=genai_sidecar(), frames=[1001, 1002, 1003])
    run.approvals["approvals"]["APR-1"] = {**approval(["SITE-*"]), "asset_sha256": "0" * 64}
    result = run.scan()
    assert sorted(hashed) == [f"sh010_bg.{n}.png" for n in (1001, 1002, 1003)]
    findings = result.asset("comp/sh010_bg.####.png").findings
    assert [f.status.value for f in findings if f.rule.startswith("SITE-")] == ["open"] * 4
    # the right hash, worked out once for the four findings, approves each of them
    run.approvals["approvals"]["APR-1"]["asset_sha256"] = asset_sha256(
        result.asset("comp/sh010_bg.####.png").asset
    )
    hashed.clear()
    findings = run.scan().asset("comp/sh010_bg.####.png").findings  # a new run hashes again
    assert len(hashed) == 3
    assert [f.status.value for f in findings if f.rule.startswith("SITE-")] == ["approved"] * 4


QUOTA = """
from clearance import Finding, Outcome, Rule, hookimpl

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-QUOTA", title="GenAI shot quota", principle="creative-output",
                      outcome=Outcome.APPROVAL, remediation="ask the VFX supervisor"))

@hookimpl
def clearance_check_stage(stage_result):
    if stage_result.assets:  # the stages walked whole and empty are checked too
        return [Finding(rule="SITE-QUOTA", message="quota reached", asset={asset!r})]
"""


@pytest.mark.parametrize(
    ("names", "scope", "status"),
    [
        ("", {}, "approved"),  # an approval of the rule, not scoped to shots or assets
        ("", {"production": "SHOW01"}, "approved"),  # the configuration's production
        ("", {"production": "OTHER"}, "open"),
        ("", {"shots": ["sh010"]}, "open"),  # about no one asset: no shot scope covers it
        ("", {"assets": ["*"]}, "open"),
        ("comp/a.png", {"shots": ["sh010"], "assets": ["a.png"]}, "approved"),  # as a.png's
        ("comp/a.png", {"assets": ["b.png"]}, "open"),
    ],
)
def test_a_stage_findings_approval_is_applied_as_an_asset_findings_is(
    clearance_run, tmp_path: Path, names: str, scope: dict, status: str
) -> None:
    plugin = tmp_path / "quota.py"
    plugin.write_text(QUOTA.format(asset=names), encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.approvals["approvals"]["APR-Q"] = {
        "rules": ["SITE-QUOTA"],
        "scope": scope,
        "approved_by": "VFX supervisor",
        "expires": days(30),
    }
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == (0 if status == "approved" else 1), done.stderr
    [finding] = done.json()["stage_findings"]
    assert finding["status"] == status
    assert finding["approval"] == ("APR-Q" if status == "approved" else None)
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    [logged] = [e for e in events if e["event"] == "finding" and e["rule"] == "SITE-QUOTA"]
    assert logged["status"] == status


def test_an_expired_approval_of_a_stage_finding_leaves_it_open_and_is_logged(
    clearance_run, tmp_path: Path
) -> None:
    plugin = tmp_path / "quota.py"
    plugin.write_text(QUOTA.format(asset=""), encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.approvals["approvals"]["APR-Q"] = {"rules": ["SITE-QUOTA"], "expires": days(-1)}
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 1, done.stderr
    [finding] = done.json()["stage_findings"]
    assert finding["status"] == "expired" and finding["approval"] == "APR-Q"
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    [expired] = [e for e in events if e["event"] == "approval.expired"]
    assert expired["stage"] == "comp" and expired["asset"] is None


def _linear_find_approval(finding, asset, record, policy):  # type: ignore[no-untyped-def]
    """find_approval as it was before the index: every approval, in id order, per finding."""
    import fnmatch

    from clearance.approvals import ApprovalMatch, _in_scope, as_date

    expired = None
    for approval_id, approval in sorted(policy.approvals.items()):
        if not any(fnmatch.fnmatchcase(finding.rule, pat) for pat in approval.get("rules", [])):
            continue
        if not _in_scope(approval, asset, record, policy):
            continue
        expires = as_date(approval.get("expires"))
        match = ApprovalMatch(
            id=approval_id,
            expired=expires is None or expires < policy.today,
            expires=expires.isoformat() if expires else None,
            approved_by=approval.get("approved_by"),
            document=approval.get("document"),
        )
        if not match.expired:
            return match
        expired = expired or match
    return expired


def test_indexed_approval_lookup_finds_what_the_linear_one_found(tmp_path: Path) -> None:
    """Random registries (exact rules, globs, shot/asset/production scopes, expired ones,
    several covering one finding): the indexed look-up picks the same approval, or none."""
    import random

    from clearance.approvals import find_approval
    from clearance.model import Asset, Finding, ProvenanceRecord
    from clearance.policy import Policy

    rules = ["NFX-GP2", "NFX-GP4", "NFX-GP10", "PRV-01", "TAL-01"]
    patterns = [*rules, "NFX-*", "*", "NFX-GP?", "[NP]*", "TAL-0[0-9]", "nfx-gp4"]
    shots = ["sh010", "sh020", "sh030", "sh040"]
    rng = random.Random(20260101)
    for _ in range(300):
        approvals: dict[str, dict[str, object]] = {}
        for _ in range(rng.randrange(0, 12)):
            scope: dict[str, object] = {}
            if rng.random() < 0.5:
                scope["production"] = rng.choice(["SHOW01", "SHOW02"])
            if rng.random() < 0.6:
                scope["shots"] = rng.sample(shots, rng.randrange(0, 3))
            if rng.random() < 0.3:
                scope["assets"] = [rng.choice(["sh0*_bg_*", "*.exr", "comp/*", "x.png"])]
            approvals[f"APR-{rng.randrange(100):02d}"] = {
                "rules": rng.sample(patterns, rng.randrange(1, 3)),
                "scope": scope,
                "expires": days(rng.choice([-3, 30])) if rng.random() < 0.9 else None,
            }
        policy = Policy(root=tmp_path, production_id="SHOW01", approvals=approvals)
        for _ in range(20):
            rel = rng.choice(["comp/sh010_bg_v001.exr", "x.png", "comp/sh020_fg.png"])
            asset = Asset(path=tmp_path / rel, rel=rel, root=tmp_path)
            data = {"shot": rng.choice([*shots, None])}
            if rng.random() < 0.3:
                data["production"] = "SHOW02"
            record = ProvenanceRecord(data=data)
            finding = Finding(rule=rng.choice(rules))
            expected = _linear_find_approval(finding, asset, record, policy)
            assert find_approval(finding, asset, record, policy) == expected, (approvals, data)


def test_approvals_replaced_on_the_policy_are_looked_up_afresh(tmp_path: Path) -> None:
    """The index is kept per policy, but a policy given other approvals is indexed again."""
    from clearance.approvals import find_approval
    from clearance.model import Asset, Finding, ProvenanceRecord
    from clearance.policy import Policy

    asset = Asset(path=tmp_path / "a.png", rel="a.png", root=tmp_path)
    record = ProvenanceRecord(data={"shot": "sh010"})
    policy = Policy(root=tmp_path, production_id="SHOW01")
    assert find_approval(Finding(rule="NFX-GP4"), asset, record, policy) is None
    policy.approvals = {"APR-1": approval(["NFX-GP4"], shots=["sh010"])}
    match = find_approval(Finding(rule="NFX-GP4"), asset, record, policy)
    assert match is not None and match.id == "APR-1"


def test_a_production_scoped_approval_never_covers_an_asset_made_for_another_show(
    tmp_path: Path,
) -> None:
    """An asset whose sidecar names SHOW02 in SHOW01's tree is audited for both shows: an
    approval scoped to either one production does not cover it (one scoped to SHOW02 did),
    one with no production scope does."""
    from clearance.approvals import find_approval
    from clearance.model import Asset, Finding, ProvenanceRecord
    from clearance.policy import Policy

    asset = Asset(path=tmp_path / "a.png", rel="a.png", root=tmp_path)
    registry = {"APR-1": approval(["NFX-GP4"]), "APR-2": approval(["NFX-GP4"], production="SHOW02")}
    policy = Policy(root=tmp_path, production_id="SHOW01", approvals=registry)
    other = ProvenanceRecord(data={"production": "SHOW02"})
    assert find_approval(Finding(rule="NFX-GP4"), asset, other, policy) is None
    own = ProvenanceRecord(data={"production": "SHOW01"})
    match = find_approval(Finding(rule="NFX-GP4"), asset, own, policy)
    assert match is not None and match.id == "APR-1"
    policy.approvals = {"APR-3": {**approval(["NFX-GP4"]), "scope": {}}}
    match = find_approval(Finding(rule="NFX-GP4"), asset, other, policy)
    assert match is not None and match.id == "APR-3"


def test_an_approval_scoped_to_uses_covers_only_assets_used_so(tmp_path: Path) -> None:
    """GUIDANCE: an approval covers "this asset, use and scope". One given for previs
    (``scope.uses: [previs]``) does not cover the same shot's final deliverable, nor an asset
    whose use is unknown; one without ``uses`` covers any use, as before."""
    from clearance.approvals import find_approval
    from clearance.model import Asset, Finding, ProvenanceRecord
    from clearance.policy import Policy, StageConfig

    policy = Policy(
        root=tmp_path,
        production_id="SHOW01",
        stages=[
            StageConfig("previs", ["previs"]),
            StageConfig("delivery", ["delivery"], final=True),
        ],
        approvals={"APR-PREVIS": approval(["NFX-*"], uses=["previs"])},
    )

    def covered(rel: str, stage: str, data: dict[str, object]) -> bool:
        asset = Asset(path=tmp_path / rel, rel=rel, root=tmp_path, stage=stage)
        record = ProvenanceRecord(data=data)
        return find_approval(Finding(rule="NFX-C1"), asset, record, policy) is not None

    previs = {"output": {"use": "previs"}}
    assert covered("previs/a.png", "previs", previs)
    assert not covered("delivery/a.png", "delivery", previs), "a final stage is final use"
    assert not covered(
        "previs/a.png", "previs", {"output": {"use": "previs", "in_final_cut": True}}
    )
    assert not covered("previs/a.png", "previs", {"output": {"use": "pitch"}})
    assert not covered("previs/a.png", "previs", {}), "use unknown"
    policy.approvals = {"APR-ANY": approval(["NFX-*"])}
    assert covered("delivery/a.png", "delivery", previs)


def test_an_approval_lookup_tests_only_the_approvals_of_its_rule_and_shot(
    tmp_path: Path, monkeypatch
) -> None:
    """2,000 per-shot approvals: a finding's look-up tests the scope of the one for its shot
    (and those not scoped to shots), not the whole registry for every finding."""
    import clearance.approvals as approvals_module
    from clearance.model import Asset, Finding, ProvenanceRecord
    from clearance.policy import Policy

    registry = {
        f"APR-{i:04d}": approval(["NFX-GP4", "NFX-GP2"], shots=[f"sh{i:04d}"]) for i in range(2000)
    }
    registry["APR-ANY"] = approval(["NFX-*"], expires=-1)
    policy = Policy(root=tmp_path, production_id="SHOW01", approvals=registry)
    tested: list[str] = []
    in_scope = approvals_module._in_scope

    def counted(approval, asset, record, policy):  # type: ignore[no-untyped-def]
        tested.append(approval["scope"].get("shots", ["any"])[0])
        return in_scope(approval, asset, record, policy)

    monkeypatch.setattr(approvals_module, "_in_scope", counted)
    asset = Asset(path=tmp_path / "a.exr", rel="a.exr", root=tmp_path)
    for shot in ("sh0007", "sh1999"):
        record = ProvenanceRecord(data={"shot": shot})
        match = approvals_module.find_approval(Finding(rule="NFX-GP4"), asset, record, policy)
        assert match is not None and match.id == f"APR-{shot[2:]}" and not match.expired
    record = ProvenanceRecord(data={"shot": "sh9999"})  # no approval for its shot: the expired one
    match = approvals_module.find_approval(Finding(rule="NFX-GP4"), asset, record, policy)
    assert match is not None and match.id == "APR-ANY" and match.expired
    assert sorted(tested) == ["any", "sh0007", "sh1999"]  # a valid match ends the look-up


def test_a_watcher_judges_expiry_on_the_day_it_audits_not_the_day_it_started(
    clearance_run,
) -> None:
    # a watcher started ten days ago: an approval that expired yesterday still approved
    # every asset it audited (the date was the policy's, fixed when it was loaded)
    from _watch_harness import InProcessWatcher, events, wait_audited

    run = clearance_run()
    utc_today = dt.datetime.now(dt.timezone.utc).date()
    record = approval(["NFX-GP4"])
    record["expires"] = (utc_today - dt.timedelta(days=1)).isoformat()
    run.approvals["approvals"]["APR-1"] = record
    run.write_config()
    watcher = InProcessWatcher(run.root)
    assert watcher.policy.live_clock
    watcher.policy.now -= dt.timedelta(days=10)
    with watcher:
        final_asset(run)
        wait_audited(run.root, 1)
    [finding] = [e for e in events(run.root, "finding") if e["rule"] == "NFX-GP4"]
    assert (finding["status"], finding["approval"]) == ("expired", "APR-1"), finding
    assert [e["approval"] for e in events(run.root, "approval.expired")] == ["APR-1"]


def test_a_date_given_stays_the_runs(tmp_path: Path) -> None:
    from clearance.policy import load_policy

    (tmp_path / "clearance.yaml").write_text("clearance: 1\n")
    given = dt.datetime(2026, 11, 26, tzinfo=dt.timezone.utc)
    assert not load_policy(tmp_path / "clearance.yaml", now=given).live_clock


# -- an approval given after the audit's date does not exist yet ---------------------------


def pending_scan(run: ClearanceRun, now: str, *records: tuple[str, dict[str, object]]):
    final_asset(run)
    for approval_id, record in records:
        run.approvals["approvals"][approval_id] = record
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json", env={"CLEARANCE_NOW": now})
    [item] = done.json()["assets"]
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    return done, item, finding


def dated(approved_at: str, expires: str = "2027-03-01") -> dict[str, object]:
    return {**approval(["NFX-GP4"]), "approved_at": approved_at, "expires": expires}


def test_an_approval_approved_after_the_audits_date_covers_nothing_yet(clearance_run) -> None:
    """An approval that does not exist yet on the day of the audit cannot cover the asset:
    the finding stays open and says when the approval takes effect (review: it applied)."""
    done, item, finding = pending_scan(
        clearance_run(), "2026-11-30", ("APR-NEXT", dated("2026-12-01"))
    )
    assert done.code == 1, done.stderr
    assert finding["status"] == "open" and finding["approval"] is None, finding
    assert finding["evidence"]["approval_pending"] == "APR-NEXT"
    assert finding["evidence"]["approval_effective"] == "2026-12-01"
    assert "APR-NEXT takes effect on 2026-12-01" in finding["message"]
    assert item["outcome"] == "approval"


def test_an_approval_covers_from_the_day_it_was_approved(clearance_run) -> None:
    done, item, finding = pending_scan(
        clearance_run(), "2026-12-01", ("APR-NEXT", dated("2026-12-01"))
    )
    assert done.code == 0, done.stderr
    assert (finding["status"], finding["approval"]) == ("approved", "APR-NEXT")
    assert "approval_pending" not in finding["evidence"]


def test_an_approval_in_effect_wins_over_one_not_yet_and_an_expired_one(clearance_run) -> None:
    done, _item, finding = pending_scan(
        clearance_run(),
        "2026-11-30",
        ("APR-A-NEXT", dated("2026-12-01")),
        ("APR-B-OLD", dated("2026-01-01", expires="2026-06-01")),
        ("APR-C-NOW", dated("2026-11-01")),
    )
    assert (finding["status"], finding["approval"]) == ("approved", "APR-C-NOW")
    done, _item, finding = pending_scan(
        clearance_run(),
        "2026-11-30",
        ("APR-A-NEXT", dated("2026-12-01")),
        ("APR-B-OLD", dated("2026-01-01", expires="2026-06-01")),
    )
    assert (finding["status"], finding["approval"]) == ("expired", "APR-B-OLD")


def test_an_approval_that_expires_before_it_is_approved_never_says_it_takes_effect(
    clearance_run,
) -> None:
    """approved_at 2026-12-05, expires 2026-12-03 (a typo): before either date the
    finding said the approval 'takes effect on 2026-12-05', and still did after it had
    expired (review). Past its expiry it is expired, as any other; before, it says it
    never covers."""
    record = dated("2026-12-05", expires="2026-12-03")
    done, _item, finding = pending_scan(clearance_run(), "2026-12-04", ("APR-TYPO", record))
    assert done.code == 1, done.stderr
    assert (finding["status"], finding["approval"]) == ("expired", "APR-TYPO"), finding
    assert "approval_pending" not in finding["evidence"]
    assert "takes effect" not in finding["message"]
    done, _item, finding = pending_scan(clearance_run(), "2026-12-01", ("APR-TYPO", record))
    assert done.code == 1, done.stderr
    assert finding["status"] == "open" and finding["approval"] is None, finding
    assert finding["evidence"]["approval_pending"] == "APR-TYPO"
    assert "it expires on 2026-12-03, before that: it never covers" in finding["message"]


def test_a_plugin_approval_approved_after_the_runs_date_covers_nothing_yet(
    clearance_run, tmp_path: Path
) -> None:
    item, _events = tracker_scan(
        clearance_run(), tmp_path, "2027-01-01", extra=", approved_at=datetime.date(2026, 6, 2)"
    )
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "open" and finding["approval"] is None
    assert finding["evidence"]["approval_effective"] == "2026-06-02"


def test_a_plugin_approved_at_that_cannot_be_read_is_unsure_never_approved(
    clearance_run, tmp_path: Path
) -> None:
    item, _events = tracker_scan(
        clearance_run(), tmp_path, "2027-01-01", extra=", approved_at='next week'"
    )
    [finding] = [f for f in item["findings"] if f["rule"] == "NFX-GP4"]
    assert finding["status"] == "open" and finding["approval"] is None
    [unsure] = [f for f in item["findings"] if f["rule"] == "PRV-05"]
    assert "approved_at" in unsure["message"] and "'next week'" in unsure["message"]


def test_a_watcher_sees_an_approval_take_effect_on_the_day_it_audits(clearance_run) -> None:
    # a watcher started ten days ago, an approval approved today: judged on the day of the
    # audit, as expiry is, it covers the asset (on the watcher's start day it did not exist)
    from _watch_harness import InProcessWatcher, events, wait_audited

    run = clearance_run()
    utc_today = dt.datetime.now(dt.timezone.utc).date()
    record = approval(["NFX-GP4"])
    record["approved_at"] = utc_today.isoformat()
    run.approvals["approvals"]["APR-1"] = record
    run.write_config()
    watcher = InProcessWatcher(run.root)
    assert watcher.policy.live_clock
    watcher.policy.now -= dt.timedelta(days=10)
    with watcher:
        final_asset(run)
        wait_audited(run.root, 1)
    [finding] = [e for e in events(run.root, "finding") if e["rule"] == "NFX-GP4"]
    assert (finding["status"], finding["approval"]) == ("approved", "APR-1"), finding
