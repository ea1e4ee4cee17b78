"""End-to-end through the real ``clearance`` command: exit codes, JSON shape, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

import _signals
from clearance.model import Outcome
from clearance.testing import ClearanceRun, write_png
from conftest import genai_sidecar, run_cli, run_cli_unread


def make_show(tmp_path: Path, **config: object) -> ClearanceRun:
    run = ClearanceRun(tmp_path / "show")
    run.root.mkdir()
    run.config.update(config)
    run.write_config()
    return run


def test_clean_tree_exits_0_and_json_has_the_contract_shape(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/sh010_comp_v001.png", sidecar=genai_sidecar())
    show.asset(
        "comp/plate.png",
        sidecar={"provenance": 1, "generated": False, "source_type": "digitalCapture"},
    )
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    doc = done.json()
    assert doc["version"] == 1
    assert set(doc["summary"]) == {"assets", "by_outcome", "by_stage"}
    assert doc["summary"]["assets"] == 2
    assert list(doc["summary"]["by_outcome"]) == ["pass", "notice", "escalate", "approval", "block"]
    assert doc["summary"]["by_stage"]["comp"]["pass"] == 2
    for item in doc["assets"]:
        assert set(item) >= {"asset", "stage", "outcome", "findings"}
        assert item["outcome"] == "pass"


def test_open_finding_at_fail_on_exits_1_and_fail_on_raises_the_bar(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/nosidecar.png")
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1
    finding = done.json()["assets"][0]["findings"][0]
    assert finding["rule"] == "PRV-01" and finding["outcome"] == "escalate"
    assert set(finding) >= {
        "rule",
        "outcome",
        "status",
        "approval",
        "stage",
        "asset",
        "frames",
        "principle",
        "message",
        "remediation",
        "evidence",
    }
    assert run_cli("scan", str(show.root), "--fail-on", "approval").code == 0


def test_fail_on_pass_fails_on_an_open_finding_only(tmp_path: Path) -> None:
    """A pass is never open: ``--fail-on pass`` exits 1 on any open finding (a notice or
    worse), and 0 with none to fail on — no asset at all, an asset without findings, or one
    whose only finding a configuration turned into a pass (it is recorded, never open). It
    exited 1 with ``FAIL: 0 asset(s)`` for an empty folder."""
    empty = tmp_path / "empty"
    empty.mkdir()
    done = run_cli("scan", str(empty), "--fail-on", "pass")
    assert done.code == 0, done.stdout + done.stderr
    assert "OK: 0 asset(s)" in done.stdout and "FAIL" not in done.stdout

    show = make_show(tmp_path)
    show.asset("comp/clean.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--fail-on", "pass")
    assert done.code == 0, done.stdout + done.stderr
    assert "OK: 1 asset(s); worst open outcome pass (--fail-on pass)" in done.stdout

    sidecar = genai_sidecar()
    del sidecar["disclosure"]  # NFX-00: the use was not shared with the studio contact
    show.asset("comp/unshared.png", sidecar=sidecar)
    done = run_cli("scan", str(show.root), "--fail-on", "pass", "--format", "json")
    assert done.code == 1, done.stdout + done.stderr
    (finding,) = [f for a in done.json()["assets"] for f in a["findings"]]
    assert (finding["rule"], finding["outcome"], finding["status"]) == ("NFX-00", "notice", "open")
    assert "FAIL: 2 asset(s)" in run_cli("scan", str(show.root), "--fail-on", "pass").stdout

    show.config["rules"] = {"NFX-00": {"outcome": "pass"}}
    show.write_config()
    done = run_cli("scan", str(show.root), "--fail-on", "pass", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    (finding,) = [f for a in done.json()["assets"] for f in a["findings"]]
    assert (finding["rule"], finding["outcome"], finding["status"]) == ("NFX-00", "pass", None)
    assert run_cli("check", str(show.root / "comp/unshared.png"), "--fail-on", "pass").code == 0


def test_broken_config_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.config["stages"][1]["paths"] = "comp/"
    (show.root / "clearance.yaml").write_text(yaml.safe_dump(show.config, sort_keys=False))
    done = run_cli("scan", str(show.root))
    assert done.code == 2
    assert "clearance.yaml: stages[1].paths: expected a list" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("written", ["*.png", "*png", "tar.gz", "pn?", "comp/png"])
def test_a_media_extension_no_file_can_have_is_a_config_error_not_an_empty_pass(
    tmp_path: Path, written: str
) -> None:
    """``discovery.extensions`` written as a glob (as ``temporary`` is) found no asset: the
    scan of a show whose asset needs an approval passed, exit 0, and validate said valid."""
    show = make_show(tmp_path, discovery={"extensions": ["exr", written]})
    sidecar = genai_sidecar()
    sidecar["steps"][0]["tool"] = "unlisted-gen"
    show.asset("comp/a.png", sidecar=sidecar)
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 2, done.stdout
    assert "clearance.yaml: discovery.extensions[1]: " in done.stderr
    assert f"{written!r} is not a file extension" in done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr
    checked = run_cli("validate", str(show.root / "clearance.yaml"))
    assert checked.code == 1
    assert "discovery.extensions[1]: " in checked.stdout
    # with or without its dot, in any case, an extension is one
    show.config["discovery"] = {"extensions": [".PNG"]}
    show.write_config()
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    assert [a["asset"] for a in done.json()["assets"]] == ["comp/a.png"]


@pytest.mark.parametrize(
    ("readers", "said"),
    [
        ({"trust_anchor": "certs/studio.pem"}, "readers.c2pa.trust_anchor: unknown field"),
        ({"verify": "no"}, "readers.c2pa.verify: expected true or false, got 'no'"),
        ({"max_verify_bytes": "4GB"}, "readers.c2pa.max_verify_bytes: expected an integer"),
    ],
)
def test_a_c2pa_reader_setting_misspelt_or_of_the_wrong_type_is_a_config_error(
    tmp_path: Path, readers: dict[str, Any], said: str
) -> None:
    """``readers.c2pa`` took any key and any value: a misspelt ``trust_anchor`` was never
    read (no anchor: the studio's own signatures untrusted) without a word, where the same
    key under ``rules: {PRV-06: ...}`` is a configuration error."""
    show = make_show(tmp_path, readers={"c2pa": readers, "site_reader": {"any": 1}})
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root))
    assert done.code == 2 and f"clearance.yaml: {said}" in done.stderr, done.stderr
    checked = run_cli("validate", str(show.root / "clearance.yaml"))
    assert checked.code == 1 and said in checked.stdout
    show.config["readers"]["c2pa"] = {"verify": False, "max_verify_bytes": 4096, "x-note": "ok"}
    show.write_config()
    assert run_cli("validate", str(show.root / "clearance.yaml")).code == 0


@pytest.mark.parametrize(
    ("rules", "said"),
    [
        # YAML reads 1984 as a number, and `2001: A Space Odyssey` in a flow list as a
        # mapping: NFX-C2 dropped both without a word, and a prompt naming them passed
        (
            "NFX-C2: {denylist: [Squid Game, 1984]}",
            "rules.NFX-C2.denylist[1]: expected a string, got 1984",
        ),
        (
            "NFX-C2: {denylist: [2001: A Space Odyssey]}",
            "rules.NFX-C2.denylist[0]: expected a string, got {'2001': 'A Space Odyssey'}",
        ),
        # a quoted "true" is not true: the rule read the setting as off
        (
            'PRV-06: {require_trusted: "true"}',
            "rules.PRV-06.require_trusted: expected true or false, got 'true'",
        ),
        (
            "NFX-D1: {enterprise_downgrade: 1}",
            "rules.NFX-D1.enterprise_downgrade: expected true or false, got 1",
        ),
    ],
)
def test_a_built_in_rule_parameter_of_the_wrong_type_is_a_config_error(
    tmp_path: Path, rules: str, said: str
) -> None:
    show = make_show(tmp_path)
    sidecar = genai_sidecar()
    sidecar["steps"][0]["prompt"]["text"] = "a poster like 1984, a monolith like 2001"
    show.asset("comp/a.png", sidecar=sidecar)
    config = show.root / "clearance.yaml"
    config.write_text(config.read_text() + f"rules:\n  {rules}\n")
    done = run_cli("scan", str(show.root))
    assert done.code == 2 and f"clearance.yaml: {said}" in done.stderr, done.stdout
    checked = run_cli("validate", str(config))
    assert checked.code == 1 and said in checked.stdout


def test_an_approval_naming_a_rule_no_loaded_rule_matches_is_a_warning(tmp_path: Path) -> None:
    """``rules: [NFX-GP02]`` (for NFX-GP2): the approval covered nothing and the finding it
    was written for stayed open, with no word saying why."""
    show = make_show(tmp_path)
    sidecar = genai_sidecar()
    sidecar["steps"][0]["tool"] = "unlisted-gen"  # NFX-GP2: approval
    show.asset("comp/a.png", sidecar=sidecar)
    show.approvals["approvals"] = {
        "APR-1": {"rules": ["NFX-GP2", "NFX-GP02", "ZZZ-*"], "expires": "2099-01-01"}
    }
    show.write_config()
    said = [
        "approvals.yaml: approvals.APR-1.rules[1]: the id 'NFX-GP02' matches no rule, so the "
        "approval covers nothing of it; did you mean NFX-GP2?",
        "approvals.yaml: approvals.APR-1.rules[2]: the glob 'ZZZ-*' matches no rule",
    ]
    for command in ("scan", "check"):
        target = show.root if command == "scan" else show.root / "comp/a.png"
        done = run_cli(command, str(target), "--format", "json")
        assert done.code == 1, done.stderr  # PRV-03 still open: the exit code is the verdict's
        assert all(f"clearance: warning: {show.root}/{s}" in done.stderr for s in said)
        [gp2] = [f for f in done.json()["assets"][0]["findings"] if f["rule"] == "NFX-GP2"]
        assert (gp2["status"], gp2["approval"]) == ("approved", "APR-1")
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    warned = [e["message"] for e in events if e["event"] == "run.warning"]
    assert len(warned) == 4 and all(any(s in w for s in said) for w in warned)
    checked = run_cli("validate", str(show.root / "clearance.yaml"))
    assert checked.code == 0 and said[0] in checked.stderr


def test_a_configuration_named_clearance_yml_is_an_error_not_the_default(tmp_path: Path) -> None:
    """A show's configuration saved as ``clearance.yml``: never read, the tree was audited
    with the built-in default policy (no stages, no final stage, no site plugins, no
    approvals) without a word."""
    show = make_show(tmp_path)
    (show.root / "clearance.yaml").rename(show.root / "clearance.yml")
    show.asset("comp/a.png", sidecar=genai_sidecar())
    for args in (("scan", str(show.root)), ("check", str(show.root / "comp/a.png"))):
        done = run_cli(*args, "--format", "json")
        assert done.code == 2, done.stdout
        assert f"{show.root / 'clearance.yml'}: a configuration named clearance.yml is not " in (
            done.stderr
        )
        assert "name it clearance.yaml (or give it with --config)" in done.stderr
        assert done.stdout == ""
    given = run_cli(
        "scan", str(show.root), "--config", str(show.root / "clearance.yml"), "--format", "json"
    )
    assert given.code == 0, given.stderr
    assert given.json()["assets"][0]["stage"] == "comp"


def test_a_clearance_yml_below_the_shows_configuration_says_which_would_be_read(
    tmp_path: Path,
) -> None:
    """A ``clearance.yml`` in a folder of a show (a vendor's, under ``comp/vendor``) stops a
    check of a file there, as it should; it said 'the built-in default policy would stand in
    for it', when the show's own ``clearance.yaml`` would have."""
    show = make_show(tmp_path)
    show.asset("comp/vendor/a.png", sidecar=genai_sidecar())
    (show.root / "comp/vendor/clearance.yml").write_text("clearance: 1\n")
    done = run_cli("check", str(show.root / "comp/vendor/a.png"), "--format", "json")
    assert done.code == 2, done.stdout
    assert f"{show.root / 'clearance.yaml'} would be read in its place" in done.stderr
    assert "built-in default policy" not in done.stderr


def test_a_config_that_is_a_dangling_symlink_exits_2_instead_of_the_default(
    tmp_path: Path,
) -> None:
    show = make_show(tmp_path)
    show.asset("comp/plate.png", sidecar={"provenance": 1, "generated": False})
    config = show.root / "clearance.yaml"
    config.unlink()
    config.symlink_to(tmp_path / "unmounted" / "clearance.yaml")
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 2 and done.stdout == ""
    assert f"clearance: error: {config}: the configuration is a symbolic link" in done.stderr
    assert not (show.root / ".clearance").exists()  # nothing ran under the default policy


def test_unparseable_config_exits_2(tmp_path: Path) -> None:
    root = tmp_path / "show"
    root.mkdir()
    (root / "clearance.yaml").write_text("clearance: 1\nstages: [\n")
    done = run_cli("scan", str(root))
    assert done.code == 2 and "clearance.yaml" in done.stderr and "invalid YAML" in done.stderr


def test_plugin_that_raises_gives_prv05_and_other_checkers_still_run(tmp_path: Path) -> None:
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from clearance import hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset, record):\n"
        "    raise RuntimeError('kaboom')\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar(disclosure={}))
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1
    findings = done.json()["assets"][0]["findings"]
    crash = [f for f in findings if f["rule"] == "PRV-05"]
    assert crash and "boom" in crash[0]["message"] and "kaboom" in crash[0]["message"]
    assert crash[0]["evidence"]["plugin"] == "boom"
    assert any(f["rule"] == "NFX-00" for f in findings), "built-in checkers must still run"


def test_plugin_that_calls_sys_exit_is_prv05_not_a_silent_exit_0(tmp_path: Path) -> None:
    plugin = tmp_path / "quits.py"
    plugin.write_text(
        "from clearance import hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    raise SystemExit(0)\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/nosidecar.png")
    log = show.root / ".clearance/audit.jsonl"
    for args in (("scan", str(show.root)), ("check", str(show.root / "comp/a.png"))):
        done = run_cli(*args, "--format", "json")
        assert done.code == 1, done.stderr
        for item in done.json()["assets"]:
            crash = [f for f in item["findings"] if f["rule"] == "PRV-05"]
            assert crash and crash[0]["evidence"]["plugin"] == "quits"
            assert "SystemExit" in crash[0]["message"]
        last = json.loads(log.read_text().splitlines()[-1])
        assert last["event"] == "run.finished" and last["details"]["exit_code"] == 1


def test_plugin_results_of_the_wrong_kind_are_prv05_and_the_run_goes_on(tmp_path: Path) -> None:
    plugin = tmp_path / "sloppy.py"
    plugin.write_text(
        "import datetime\n"
        "from clearance import Finding, hookimpl\n"
        "@hookimpl\n"
        "def clearance_read_provenance(asset):\n"
        "    return {'generated': False}\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    return [Finding(rule='NFX-C1', message='tiered', outcome='block',\n"
        "                    evidence={'file': asset.path, 'when': datetime.date(2026, 1, 1)})]\n"
        "@hookimpl(tryfirst=True)\n"
        "def clearance_find_approval(finding):\n"
        "    return 'APR-0031'\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    [item] = done.json()["assets"]
    assert item["outcome"] == "block"
    [tiered] = [f for f in item["findings"] if f["rule"] == "NFX-C1"]
    assert tiered["evidence"] == {"file": str(show.root / "comp/a.png"), "when": "2026-01-01"}
    crashes = {f["message"] for f in item["findings"] if f["rule"] == "PRV-05"}
    assert "reader sloppy returned dict, not a PartialRecord or None" in crashes
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    assert events[-1]["event"] == "run.finished"


def test_keyboard_interrupt_in_a_plugin_still_stops_the_run(tmp_path: Path) -> None:
    plugin = tmp_path / "interrupts.py"
    plugin.write_text(
        "from clearance import hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    raise KeyboardInterrupt\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 130 and "interrupted" in done.stderr
    assert done.stdout == ""


def test_plugin_with_misspelled_hook_fails_loudly_with_exit_2(tmp_path: Path) -> None:
    plugin = tmp_path / "typo.py"
    plugin.write_text(
        "from clearance import hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_assets(asset):\n"
        "    return []\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root))
    assert done.code == 2
    assert "clearance_check_assets" in done.stderr
    events = [
        json.loads(line) for line in (show.root / ".clearance/audit.jsonl").read_text().splitlines()
    ]
    failed = [e for e in events if e["event"] == "plugin.failed"]
    assert failed and failed[0]["details"]["name"] == "typo"
    assert any(e["event"] == "asset.audited" for e in events), "the rest of the run goes on"


def test_plugin_that_fails_to_import_exits_2(tmp_path: Path) -> None:
    plugin = tmp_path / "broken.py"
    plugin.write_text("import not_a_module_anywhere\n")
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root))
    assert done.code == 2
    assert "broken" in done.stderr and "not_a_module_anywhere" in done.stderr


def test_sequence_of_100_frames_is_one_asset_with_its_frame_range(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/sh010_bg_v003.####.png", frames=range(1001, 1101), sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--format", "json")
    doc = done.json()
    assert doc["summary"]["assets"] == 1
    item = doc["assets"][0]
    assert item["asset"] == "comp/sh010_bg_v003.####.png"
    assert item["frames"] == "1001-1100"
    assert item["outcome"] == "pass"


def test_sequence_gaps_are_listed(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/sh020.####.png", frames=[*range(1001, 1041), *range(1042, 1101)])
    doc = run_cli("scan", str(show.root), "--format", "json").json()
    assert doc["assets"][0]["frames"] == "1001-1040,1042-1100"
    assert doc["assets"][0]["findings"][0]["frames"] == "1001-1040,1042-1100"


def test_sidecar_with_typod_key_is_prv02_naming_the_field(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    doc = genai_sidecar()
    doc["genrated"] = True
    doc["output"] = {**doc["output"], "use": "finale"}
    show.asset("comp/a.png", sidecar=doc)
    out = run_cli("scan", str(show.root), "--format", "json").json()
    prv02 = [f for f in out["assets"][0]["findings"] if f["rule"] == "PRV-02"]
    assert prv02 and prv02[0]["outcome"] == "escalate"
    assert "genrated" in prv02[0]["message"] and "output.use" in prv02[0]["message"]
    fields = {e["field"] for e in prv02[0]["evidence"]["errors"]}
    assert {"genrated", "output.use"} <= fields


def test_yaml_bomb_is_refused_without_hanging(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    bomb = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
        f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    show.asset("comp/a.png", sidecar=bomb)
    done = run_cli("scan", str(show.root), "--format", "json", timeout=60)
    prv02 = [f for f in done.json()["assets"][0]["findings"] if f["rule"] == "PRV-02"]
    assert prv02 and "aliases" in prv02[0]["message"]


def test_oversized_sidecar_is_refused(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset(
        "comp/a.png",
        sidecar="provenance: 1\ngenerated: true\nx-pad: '" + "a" * (1024 * 1024) + "'\n",
    )
    done = run_cli("scan", str(show.root), "--format", "json")
    prv02 = [f for f in done.json()["assets"][0]["findings"] if f["rule"] == "PRV-02"]
    assert prv02 and "limit" in prv02[0]["message"]


def test_a_sidecar_with_an_impossible_date_or_latin1_bytes_is_prv02_not_a_crash(
    tmp_path: Path,
) -> None:
    show = make_show(tmp_path)
    dated = show.asset("comp/a.png", sidecar=genai_sidecar())
    dated_sidecar = show.root / "comp" / "a.png.genai.yaml"
    text = dated_sidecar.read_text()
    dated_sidecar.write_text(text.replace("notified_at: '2026-11-02'", "notified_at: 2026-02-30"))
    assert "notified_at: 2026-02-30" in dated_sidecar.read_text()
    latin = show.asset("comp/b.png")
    latin_sidecar = show.root / "comp" / "b.png.genai.yaml"
    latin_sidecar.write_bytes(b"provenance: 1\ngenerated: false\nx-operator: Jos\xe9\n")
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    by_asset = {a["asset"]: a["findings"] for a in done.json()["assets"]}
    for rel in (dated.name, latin.name):
        rules = {f["rule"] for f in by_asset[f"comp/{rel}"]}
        assert "PRV-02" in rules and not rules & {"PRV-01", "PRV-05"}, rules
    [error] = next(f for f in by_asset["comp/a.png"] if f["rule"] == "PRV-02")["evidence"]["errors"]
    assert error["field"] == "disclosure.notified_at" and "not a valid date" in error["message"]
    [error] = next(f for f in by_asset["comp/b.png"] if f["rule"] == "PRV-02")["evidence"]["errors"]
    assert error["message"].startswith("not UTF-8 text: byte 0xe9 (line 3")
    good = show.root / "clearance.yaml"
    checked = run_cli("validate", str(dated_sidecar), str(latin_sidecar), str(good))
    assert checked.code == 1 and checked.stderr == ""
    assert f"{dated_sidecar}: disclosure.notified_at: invalid YAML: '2026-02-30'" in checked.stdout
    assert f"{latin_sidecar}: not UTF-8 text" in checked.stdout
    assert f"{good}: valid" in checked.stdout


def test_an_impossible_date_is_an_error_of_its_field_and_the_rest_of_the_sidecar_is_used(
    tmp_path: Path,
) -> None:
    show = make_show(tmp_path)
    sidecar = genai_sidecar(
        source_type="trainedAlgorithmicMedia",
        steps=[{"tool": "studio-diffusion", "inputs": []}],
    )
    good = show.asset("comp/good.png", sidecar=sidecar)
    dated = show.asset("comp/dated.png", sidecar=sidecar)
    dated_sidecar = show.root / "comp" / "dated.png.genai.yaml"
    text = dated_sidecar.read_text()
    dated_sidecar.write_text(text.replace("notified_at: '2026-11-02'", "notified_at: 2026-02-30"))
    assert "notified_at: 2026-02-30" in dated_sidecar.read_text()

    def rules(path: Path) -> dict[str, list[dict[str, Any]]]:
        done = run_cli("check", str(path), "--format", "json")
        assert done.code in (0, 1), done.stderr
        found: dict[str, list[dict[str, Any]]] = {}
        for finding in done.json()["assets"][0]["findings"]:
            found.setdefault(finding["rule"], []).append(finding)
        return found

    clean, dated_rules = rules(good), rules(dated)
    [prv02] = dated_rules.pop("PRV-02")
    [error] = prv02["evidence"]["errors"]
    assert error["field"] == "disclosure.notified_at"
    assert "'2026-02-30' is not a valid date (day is out of range for month)" in error["message"]
    # the steps, source type and use were read: no finding says they are missing or unknown;
    # only the rules that read the disclosure see it as not given
    extra = set(dated_rules) - set(clean)
    assert not extra & {"NFX-V1", "NFX-GP2", "NFX-GP4", "IPTC-01"}, dated_rules
    for rule in extra:
        assert any("disclos" in f["message"].lower() for f in dated_rules[rule]), dated_rules[rule]

    # validate lists the date with every other error of the file, at once
    broken = text.replace("notified_at: '2026-11-02'", "notified_at: 2026-02-30")
    broken = broken.replace("tool: studio-diffusion", "tool: 3").replace("use: temp", "use: finale")
    dated_sidecar.write_text(broken)
    done = run_cli("validate", str(dated_sidecar))
    assert done.code == 1 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "disclosure.notified_at",
        "output.use",
        "steps[0].tool",
    ], done.stdout


def test_check_audits_single_files_with_the_same_output(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    path = show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/b.png")
    done = run_cli("check", str(path), "--format", "json")
    assert done.code == 0
    assert [a["asset"] for a in done.json()["assets"]] == ["comp/a.png"]


def test_stage_option_overrides_folder_mapping(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    doc = run_cli("scan", str(show.root), "--stage", "delivery", "--format", "json").json()
    item = doc["assets"][0]
    assert item["stage"] == "delivery"
    assert "NFX-GP4" in {f["rule"] for f in item["findings"]}


def test_stage_option_must_name_a_configured_stage(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    path = show.asset("comp/a.png", sidecar=genai_sidecar())
    for command in (("scan", str(show.root)), ("check", str(path))):
        done = run_cli(*command, "--stage", "delivry", "--format", "json")
        assert done.code == 2 and done.stdout == ""
        assert "--stage delivry: no such stage in" in done.stderr
        assert "clearance.yaml; its stages: gen, comp, delivery" in done.stderr
        assert run_cli(*command, "--stage", "default").code == 0


def test_files_under_no_stage_belong_to_default(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("elsewhere/a.png", sidecar=genai_sidecar())
    doc = run_cli("scan", str(show.root), "--format", "json").json()
    assert doc["assets"][0]["stage"] == "default"


def test_no_config_uses_builtin_default_policy(tmp_path: Path) -> None:
    write_png(tmp_path / "loose" / "x.png")
    done = run_cli("scan", str(tmp_path / "loose"), "--format", "json")
    assert done.code == 1
    assert done.json()["assets"][0]["stage"] == "default"


def test_hidden_temporary_and_sidecar_files_are_never_assets(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    for name in (
        "comp/.hidden.png",
        "comp/x.png.tmp",
        "comp/y.exr.part",
        "comp/z.png~",
        "comp/.cache/q.png",
        "comp/notes.txt",
    ):
        (show.root / name).parent.mkdir(parents=True, exist_ok=True)
        (show.root / name).write_bytes(b"x")
    show.asset("comp/real.png", sidecar=genai_sidecar())
    doc = run_cli("scan", str(show.root), "--format", "json").json()
    assert [a["asset"] for a in doc["assets"]] == ["comp/real.png"]


def test_check_refuses_a_name_a_scan_never_audits_and_audits_the_rest(tmp_path: Path) -> None:
    """A farm post-task given the render's temporary name (``x.png.tmp``, before the rename
    into place), a hidden file or a file that is not media was audited under that name,
    which no scan, watcher or report ever sees again (a pass there vouched for nothing the
    pipeline publishes). Each is refused, exit 2, naming the file and why, with a
    ``run.error``; the other files given are audited."""
    show = make_show(tmp_path, discovery={"ignore": ["*_scratch.*"]})
    show.asset("comp/real.png", sidecar=genai_sidecar())
    refused = {
        "comp/x.png.tmp": "is a temporary name (discovery.temporary: '*.tmp'): scan and watch "
        "never audit it; check the file under its final name, once it is renamed into place",
        "comp/.x.png": "is a hidden file (its name starts with '.'): scan and watch never audit it",
        "comp/a_scratch.png": "is an ignored name (discovery.ignore: '*_scratch.*'): scan and "
        "watch never audit it",
        "comp/notes.txt": "has the extension 'txt', not a media one (discovery.extensions: ",
    }
    for rel in refused:
        write_png(show.root / rel)
    done = run_cli("check", *refused, "comp/real.png", "--format", "json", cwd=show.root)
    assert done.code == 2, done.stdout + done.stderr
    assert [a["asset"] for a in done.json()["assets"]] == ["comp/real.png"]
    for rel, why in refused.items():
        assert f"clearance: error: {rel}: {why}" in done.stderr
    log = show.root / ".clearance" / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(e["details"]["path"] for e in events if e["event"] == "run.error") == sorted(
        refused
    )
    # scan given the same files says the same: a file given is looked at as a walk would
    scanned = run_cli("scan", "comp/x.png.tmp", "comp/real.png", "--format", "json", cwd=show.root)
    assert scanned.code == 2 and refused["comp/x.png.tmp"] in scanned.stderr
    assert [a["asset"] for a in scanned.json()["assets"]] == ["comp/real.png"]


def test_an_empty_path_given_to_scan_or_check_is_refused_not_the_current_folder(
    tmp_path: Path,
) -> None:
    """A farm job's `clearance scan "$RENDERS"` with RENDERS unset audited the current folder
    (its home, /): a verdict on a tree nobody named. It is an error, exit 2, and the other
    paths given are audited."""
    show = make_show(tmp_path)
    show.asset("comp/real.png", sidecar=genai_sidecar())
    write_png(show.root / "elsewhere" / "stray.png")
    said = "clearance: error: '': an empty path (an unset variable?) names nothing"
    for command in ("scan", "check"):
        done = run_cli(command, "", "comp/real.png", "--format", "json", cwd=show.root)
        assert done.code == 2 and said in done.stderr, done.stderr
        assert [a["asset"] for a in done.json()["assets"]] == ["comp/real.png"]
    alone = run_cli("scan", "", cwd=show.root / "elsewhere")
    assert alone.code == 2 and said in alone.stderr and "stray.png" not in alone.stdout
    # watch would have watched the current folder for as long as it ran
    watched = run_cli("watch", "", cwd=show.root, timeout=30)
    assert watched.code == 2 and said in watched.stderr


def test_jsonl_format_is_one_asset_per_line(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/b.png", sidecar=genai_sidecar())
    lines = run_cli("scan", str(show.root), "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["asset"] for line in lines] == ["comp/a.png", "comp/b.png"]


def test_stage_level_findings_are_in_the_json_and_jsonl_output(tmp_path: Path) -> None:
    plugin = tmp_path / "stage_raises.py"
    plugin.write_text(
        "from clearance import hookimpl\n"
        "@hookimpl\n"
        "def clearance_check_stage(stage_result):\n"
        "    if stage_result.assets:  # gen and delivery are walked whole, empty\n"
        "        raise RuntimeError('stage checker exploded')\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    doc = done.json()
    assert [a["outcome"] for a in doc["assets"]] == ["pass"]
    [finding] = doc["stage_findings"]
    assert (finding["rule"], finding["outcome"], finding["stage"], finding["asset"]) == (
        "PRV-05",
        "escalate",
        "comp",
        "",
    )
    assert "stage checker exploded" in finding["message"]
    lines = [
        json.loads(line)
        for line in run_cli("scan", str(show.root), "--format", "jsonl").stdout.splitlines()
    ]
    assert [(item["asset"], item["stage"], item["outcome"]) for item in lines] == [
        ("comp/a.png", "comp", "pass"),
        (None, "comp", "escalate"),
    ]
    assert lines[1]["findings"] == doc["stage_findings"]


def test_table_report_lists_stage_counts_and_remediation(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/a.png")
    done = run_cli("scan", str(show.root))
    assert done.code == 1
    assert "comp" in done.stdout and "PRV-01" in done.stdout and "fix:" in done.stdout
    assert done.stderr == ""


def test_validate_lists_every_error_with_field_paths(tmp_path: Path) -> None:
    bad = tmp_path / "a.png.genai.yaml"
    bad.write_text(
        yaml.safe_dump(
            {"provenance": 1, "generated": "yes", "steps": [{"tool": 3}], "colour": "red"}
        )
    )
    good = tmp_path / "b.png.genai.yaml"
    good.write_text(yaml.safe_dump(genai_sidecar()))
    done = run_cli("validate", str(bad), str(good))
    assert done.code == 1
    assert "generated: expected true or false" in done.stdout
    assert "steps[0].tool: expected a string" in done.stdout
    assert "colour: unknown field" in done.stdout
    assert f"{good}: valid" in done.stdout
    assert run_cli("validate", str(good)).code == 0


def test_validate_reports_the_pairing_errors_scan_reports_for_a_sidecar(tmp_path: Path) -> None:
    """docs/sidecar.md's example (``asset: sh010_bg_v003.####.exr``) beside a PNG sequence:
    check says PRV-02 and sends the user to ``validate``, which must not call it valid; a
    sidecar not read because another describes the asset is invalid too, and one that no
    asset next to it pairs with is said to be so."""
    show = make_show(tmp_path)
    docs = Path(__file__).resolve().parents[1] / "docs" / "sidecar.md"
    example = docs.read_text(encoding="utf-8").split("```yaml\n", 1)[1].split("```", 1)[0]
    assert "asset: sh010_bg_v003.####.exr" in example
    show.asset("comp/sh010_bg_v003.####.png", frames=range(1001, 1006), sidecar=example)
    sidecar = show.root / "comp" / "sh010_bg_v003.genai.yaml"
    checked = run_cli("check", str(sidecar), "--format", "json")
    [prv02] = [f for f in checked.json()["assets"][0]["findings"] if f["rule"] == "PRV-02"]
    [error] = prv02["evidence"]["errors"]
    assert "'clearance validate FILE'" in prv02["remediation"]
    assert error["field"] == "asset"
    done = run_cli("validate", str(sidecar))
    assert done.code == 1 and done.stderr == ""
    assert done.stdout.splitlines() == [f"{sidecar}: asset: {error['message']}"]
    assert "but is paired with 'sh010_bg_v003.####.png'" in done.stdout
    sidecar.write_text(example.replace("sh010_bg_v003.####.exr", "sh010_bg_v003.####.png"))
    done = run_cli("validate", str(sidecar))
    assert (done.code, done.stdout) == (0, f"{sidecar}: valid (provenance)\n")

    both = [show.root / "comp" / f"a.png.genai.{ext}" for ext in ("yaml", "json")]
    show.asset("comp/a.png", sidecar=genai_sidecar())
    both[1].write_text(json.dumps(genai_sidecar()))
    checked = run_cli("check", str(show.root / "comp" / "a.png"), "--format", "json")
    [prv02] = [f for f in checked.json()["assets"][0]["findings"] if f["rule"] == "PRV-02"]
    [error] = prv02["evidence"]["errors"]
    done = run_cli("validate", *map(str, both))
    assert done.code == 1
    assert done.stdout.splitlines() == [f"{path}: {error['message']}" for path in both]

    orphan = show.root / "comp" / "gone.png.genai.yaml"
    orphan.write_text(yaml.safe_dump(genai_sidecar()))
    done = run_cli("validate", str(orphan))
    assert done.code == 0 and done.stderr == ""
    assert done.stdout.splitlines() == [
        f"{orphan}: valid (provenance); no asset it describes is next to it, so no scan reads it"
    ]


def test_validate_given_an_asset_names_its_sidecar_and_validates_the_rest(tmp_path: Path) -> None:
    # `validate comp/a.png` (the asset for its sidecar) said "not UTF-8 text: byte 0x89;
    # save the file as UTF-8", exit 1: as if the render were a damaged sidecar
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    write_png(show.root / "comp" / "s.1001.exr")
    done = run_cli(
        "validate", "comp/a.png", "comp/s.1001.exr", "comp/a.png.genai.yaml", cwd=show.root
    )
    assert done.code == 2, done.stdout + done.stderr
    assert (
        "clearance: error: comp/a.png: is a media file (an asset), not a sidecar or a "
        "configuration: validate its sidecar (a.png.genai.yaml)"
    ) in done.stderr
    assert "(s.1001.exr.genai.yaml, or s.genai.yaml for its sequence)" in done.stderr
    assert "UTF-8" not in done.stdout + done.stderr
    assert done.stdout.splitlines() == ["comp/a.png.genai.yaml: valid (provenance)"]


def test_validate_config_checks_referenced_files(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    (show.root / "tools.yaml").write_text("tools:\n  x: {deployment: cloud}\n")
    done = run_cli("validate", str(show.root / "clearance.yaml"))
    assert done.code == 1 and "tools.yaml" in done.stdout and "tools.x" in done.stdout


def test_validate_names_a_configurations_own_field_once_as_scan_does(tmp_path: Path) -> None:
    """A clearance.yaml error found past its schema (a stage given twice) was printed as
    ``clearance.yaml: /full/path/clearance.yaml: stages[1].name: ...``: the file twice."""
    show = make_show(tmp_path)
    show.config["stages"].append({"name": "comp", "paths": ["comp2/"]})
    show.write_config()
    done = run_cli("validate", "clearance.yaml", cwd=show.root)
    assert done.code == 1
    assert done.stdout == "clearance.yaml: stages[3].name: stage 'comp' is defined twice\n"
    scan = run_cli("scan", ".", cwd=show.root)
    assert scan.code == 2 and "clearance.yaml: stages[3].name: stage 'comp'" in scan.stderr


def test_validate_refuses_an_audit_log_or_state_store_that_is_a_folder(tmp_path: Path) -> None:
    """scan refuses an audit log that is a folder (exit 2), and cannot use a state store
    that is one: validate said the configuration was valid."""
    show = make_show(tmp_path, audit={"log": "logs", "state": "state"})
    (show.root / "logs").mkdir()
    (show.root / "state").mkdir()
    assert run_cli("scan", str(show.root)).code == 2
    done = run_cli("validate", "clearance.yaml", cwd=show.root)
    assert done.code == 1
    assert done.stdout.splitlines() == [
        f"clearance.yaml: audit.log: {show.root / 'logs'} is a folder, not a file",
        f"clearance.yaml: audit.state: {show.root / 'state'} is a folder, not a file",
    ]


def test_validate_checks_a_file_against_the_schema_the_configuration_reads_it_with(
    tmp_path: Path,
) -> None:
    """``validate`` knows a tool registry or an approvals file by the clearance.yaml that
    names it (the nearest, or one on the same command line), else by its conventional name;
    only then does it guess from the top-level keys, and it says what it assumed and why. An
    empty approvals file is no approvals for both ``validate`` and the configuration."""
    root = tmp_path / "show"
    (root / "registry").mkdir(parents=True)
    (root / "legal").mkdir()
    (root / "clearance.yaml").write_text(
        "clearance: 1\ntools: registry/tools-v2.yaml\napprovals: legal/signed.yaml\n"
    )
    registry = root / "registry" / "tools-v2.yaml"
    registry.write_text("tool:\n  acme: {deployment: consumer}\n")  # the top key misspelt
    signed = root / "legal" / "signed.yaml"
    signed.write_text("# nothing approved yet\n")
    done = run_cli("validate", str(registry), str(signed))
    assert done.code == 1
    assert f"{registry}: tools: required field is missing" in done.stdout
    assert f"{registry}: tool: unknown field 'tool'" in done.stdout
    assert "provenance" not in done.stdout and "generated" not in done.stdout
    assert f"{signed}: valid (approvals)" in done.stdout
    # the configuration reads the empty approvals file as validate does: no approvals
    registry.write_text("tools: {}\n")
    assert run_cli("validate", str(root / "clearance.yaml"), str(signed)).code == 0
    assert run_cli("scan", str(root)).code == 0
    # an empty tool registry is no registry, for both: tools is required
    registry.write_text("")
    assert "tools: required field is missing" in run_cli("validate", str(registry)).stdout
    scanned = run_cli("scan", str(root))
    assert scanned.code == 2 and "tools: required field is missing" in scanned.stderr

    # by the configuration named on the same command line, wherever the file is
    (tmp_path / "elsewhere").mkdir()
    shared = tmp_path / "elsewhere" / "shared-approvals.yaml"
    shared.write_text("")
    (root / "clearance.yaml").write_text(
        "clearance: 1\napprovals: ../elsewhere/shared-approvals.yaml\n"
    )
    done = run_cli("validate", str(root / "clearance.yaml"), str(shared))
    assert done.code == 0 and f"{shared}: valid (approvals)" in done.stdout, done.stdout

    # by its conventional name, when no configuration names it
    (tmp_path / "spare").mkdir()
    spare = tmp_path / "spare" / "approvals.yaml"
    spare.write_text("approval:\n  APR-1: {rules: [X], expires: 2027-01-01}\n")
    done = run_cli("validate", str(spare))
    assert done.code == 1 and f"{spare}: approval: unknown field 'approval'" in done.stdout
    assert "provenance" not in done.stdout

    # a guess says so, and why
    notes = tmp_path / "spare" / "notes.yaml"
    notes.write_text("tool: x\n")
    done = run_cli("validate", str(notes))
    assert done.code == 1
    assert f"{notes}: checked as a provenance sidecar (assumed: " in done.stdout, done.stdout
    guessed = tmp_path / "spare" / "registry.yaml"
    guessed.write_text("tools: {}\n")
    done = run_cli("validate", str(guessed))
    assert done.code == 0
    assert f"{guessed}: checked as a tool registry (assumed: its top-level key 'tools'" in (
        done.stdout
    )


@pytest.mark.parametrize(
    ("rules", "field", "hint"),
    [
        ({"NFX-C02": {"denylist": ["Squid Game"]}}, "rules.NFX-C02", "did you mean NFX-C2?"),
        (
            {"NFX-C2": {"denylistt": ["Squid Game"]}},
            "rules.NFX-C2.denylistt",
            "did you mean denylist?",
        ),
        ({"NFX-Z*": {"outcome": "block"}}, "rules.NFX-Z*", "the glob matches no rule"),
    ],
)
def test_a_typo_in_rules_is_a_config_error_for_scan_and_validate(
    tmp_path: Path, rules: dict[str, Any], field: str, hint: str
) -> None:
    show = make_show(tmp_path, rules=rules)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    config = show.root / "clearance.yaml"
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 2 and done.stdout == ""
    assert f"{config}: {field}: " in done.stderr and hint in done.stderr
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    assert [e["event"] for e in events][-2:] == ["run.error", "run.finished"]
    assert events[-1]["details"]["exit_code"] == 2 and field in events[-2]["message"]
    checked = run_cli("validate", str(config))
    assert checked.code == 1 and f"{config}: {field}: " in checked.stdout, checked.stdout
    listed = run_cli("rules", "--config", str(config))
    assert listed.code == 2 and "NFX-C2" in listed.stdout and field in listed.stderr


def test_site_rules_are_known_and_their_declared_parameters_checked(tmp_path: Path) -> None:
    plugin = tmp_path / "site.py"
    plugin.write_text(
        "from clearance import Outcome, Rule, hookimpl\n"
        "@hookimpl\n"
        "def clearance_add_rules(registry):\n"
        "    registry.add(Rule('SITE-OLD-01', 't', 'creative-output', Outcome.NOTICE))\n"
        "    registry.add(Rule('SITE-NEW-01', 't', 'creative-output', Outcome.NOTICE,\n"
        "                      params=('names',)))\n"
    )
    rules = {"SITE-OLD-01": {"anything": 1}, "SITE-NEW-01": {"names": ["x"]}}
    show = make_show(tmp_path, plugins=[str(plugin)], rules=rules)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    config = show.root / "clearance.yaml"
    assert run_cli("scan", str(show.root)).code == 0
    assert run_cli("validate", str(config)).code == 0
    # blocked, the plugin's rules are unknown: a warning, since it may define them
    blocked = run_cli("scan", str(show.root), "-p", "no:site")
    assert (
        blocked.code == 0 and "warning" in blocked.stderr and "rules.SITE-OLD-01" in blocked.stderr
    )
    show.config["rules"]["SITE-NEW-01"] = {"nmaes": ["x"]}
    show.write_config()
    done = run_cli("scan", str(show.root))
    assert done.code == 2 and f"{config}: rules.SITE-NEW-01.nmaes: " in done.stderr


def test_rules_lists_the_default_pack(tmp_path: Path) -> None:
    done = run_cli("rules", "--format", "json", cwd=tmp_path)
    assert done.code == 0
    ids = {r["id"] for r in done.json()["rules"]}
    assert {"PRV-01", "PRV-05", "NFX-00", "NFX-GP1", "NFX-T1", "NFX-V2", "IPTC-04"} <= ids
    for rule in done.json()["rules"]:
        assert rule["remediation"] and rule["title"] and rule["principle"]


def test_rules_table_sizes_the_id_column_to_the_longest_id(tmp_path: Path) -> None:
    """``STUDIO-PROP-01`` (14 characters, the prefix docs/first-checker.md recommends) ran
    into its outcome: ``STUDIO-PROP-01approval``."""
    plugin = tmp_path / "studio_props.py"
    plugin.write_text(
        "from clearance import Outcome, Rule, hookimpl\n"
        "@hookimpl\n"
        "def clearance_add_rules(registry):\n"
        "    registry.add(Rule('STUDIO-PROP-01', 't', 'creative-output', Outcome.APPROVAL))\n"
        "    registry.add(Rule('STUDIO-PROPERTY-0001', 't', 'creative-output', Outcome.NOTICE))\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    done = run_cli("rules", "--config", str(show.root / "clearance.yaml"))
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    column = lines[0].index("outcome")
    assert column >= len("STUDIO-PROPERTY-0001") + 2
    for line in lines[1:]:
        if line.strip() and not line.startswith(" ") and "rules;" not in line:
            rule_id, outcome = line[:column], line[column:].split()[0]
            assert rule_id.endswith("  ") and outcome in {o.value for o in Outcome}, line


def test_plugins_lists_per_stage_attachment(tmp_path: Path) -> None:
    plugin = tmp_path / "stage_only.py"
    plugin.write_text(
        "from clearance import hookimpl\n@hookimpl\ndef clearance_check_asset(asset):\n    return []\n"
    )
    show = make_show(tmp_path)
    show.config["stages"][1]["plugins"] = [str(plugin)]
    show.write_config()
    done = run_cli("plugins", "--config", str(show.root / "clearance.yaml"), "--format", "json")
    assert done.code == 0, done.stderr
    stages = done.json()["stages"]
    assert "stage_only" in stages["comp"] and "stage_only" not in stages["gen"]


def test_block_plugin_with_p_no(tmp_path: Path) -> None:
    plugin = tmp_path / "boom.py"
    plugin.write_text(
        "from clearance import hookimpl\n@hookimpl\ndef clearance_check_asset(asset):\n    raise RuntimeError('x')\n"
    )
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    assert run_cli("scan", str(show.root)).code == 1
    assert run_cli("scan", str(show.root), "-p", "no:boom").code == 0


def test_p_no_cannot_switch_off_the_provenance_hygiene_rules(tmp_path: Path) -> None:
    """``rules: {PRV-01: {enabled: false}}`` is refused with exit 2; blocking the pack that
    holds PRV-01, PRV-02 and PRV-05 by name is refused the same way, by every command."""
    show = make_show(tmp_path)
    show.asset("comp/no_sidecar.png")
    config = str(show.root / "clearance.yaml")
    for args in (
        ("scan", str(show.root), "--format", "json"),
        ("check", str(show.root / "comp/no_sidecar.png")),
        ("rules", "--config", config),
        ("plugins", "--config", config),
    ):
        done = run_cli(*args, "-p", "no:clearance.rules.provenance")
        assert done.code == 2, (args, done.stdout)
        assert done.stdout == ""
        assert "clearance.rules.provenance cannot be blocked" in done.stderr
        assert "PRV-01, PRV-02, PRV-05" in done.stderr
    assert not (show.root / ".clearance/audit.jsonl").exists(), "refused before the run"
    other = run_cli("scan", str(show.root), "--format", "json", "-p", "no:clearance.rules.iptc")
    assert other.code == 1 and "PRV-01" in other.stdout, "other packs may still be blocked"


PRINTING_PLUGIN = """
import os
from clearance import hookimpl

print("loading studio plugin")  # a TD's debug prints, at import and per asset

@hookimpl
def clearance_add_rules(registry):
    print("adding rules")

@hookimpl
def clearance_check_asset(asset):
    print("checking", asset.rel)
    os.write(1, b"written to fd 1\\n")  # as C code or a subprocess would
    return []
"""


def test_what_plugins_print_goes_to_stderr_and_stdout_is_only_the_report(tmp_path: Path) -> None:
    plugin = tmp_path / "chatty.py"
    plugin.write_text(PRINTING_PLUGIN)
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/b.png", sidecar=genai_sidecar())
    config = str(show.root / "clearance.yaml")
    for args in (
        ("scan", str(show.root), "--format", "json"),
        ("scan", str(show.root), "--format", "json", "--jobs", "2"),
        ("check", str(show.root / "comp/a.png"), "--format", "json"),
        ("rules", "--config", config, "--format", "json"),
        ("plugins", "--config", config, "--format", "json"),
    ):
        done = run_cli(*args)
        assert done.code == 0, (args, done.stderr)
        json.loads(done.stdout)  # nothing but the report
        assert "loading studio plugin" in done.stderr and "adding rules" in done.stderr
        if args[0] in ("scan", "check"):  # (--jobs 2: two processes' lines may interleave)
            assert "checking" in done.stderr and "comp/a.png" in done.stderr
            assert "written to fd 1" in done.stderr
    table = run_cli("scan", str(show.root)).stdout
    assert not any(text in table for text in ("loading studio", "checking", "written to fd 1"))


def test_what_plugins_print_while_validate_loads_them_goes_to_stderr(tmp_path: Path) -> None:
    """``validate`` loads a clearance.yaml's plugins to check them: their prints went to
    stdout, before the ``valid`` line a script reads."""
    plugin = tmp_path / "chatty.py"
    plugin.write_text(PRINTING_PLUGIN + 'os.write(1, b"import wrote to fd 1\\n")\n')
    show = make_show(tmp_path, plugins=[str(plugin)])
    show.asset("comp/a.png", sidecar=genai_sidecar())
    sidecar = show.root / "comp/a.png.genai.yaml"
    config = show.root / "clearance.yaml"
    done = run_cli("validate", str(config), str(sidecar))
    assert done.code == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        f"{config}: valid (clearance)",
        f"{sidecar}: valid (provenance)",
    ]
    assert "loading studio plugin" in done.stderr and "adding rules" in done.stderr
    assert "import wrote to fd 1" in done.stderr


def test_what_plugins_print_in_watch_goes_to_stderr(tmp_path: Path) -> None:
    import _watch_harness as harness

    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "chatty.py").write_text(PRINTING_PLUGIN)
    root = harness.make_show(tmp_path, plugins=["chatty.py"])
    with harness.WatchProcess(root) as proc:
        harness.write_file(root / "comp/a.exr", harness.exr_bytes())
        harness.wait_audited(root, 1)
        assert proc.terminate() == 0
        assert proc.proc is not None
        out, err = proc.proc.communicate(timeout=30)
    assert out == b""
    assert b"loading studio plugin" in err
    assert b"checking comp/a.exr" in err and b"written to fd 1" in err


def test_init_writes_a_valid_starter_config(tmp_path: Path) -> None:
    done = run_cli("init", str(tmp_path / "new"))
    assert done.code == 0
    assert (
        run_cli("validate", *(str(p) for p in sorted((tmp_path / "new").glob("*.yaml")))).code == 0
    )
    assert run_cli("init", str(tmp_path / "new")).code == 2


def test_init_registers_no_approval_consent_or_tool_that_nobody_signed(tmp_path: Path) -> None:
    """The starter files hold no live entry: an example approval (approved_by "Production
    Legal") cleared the NFX-GP4 of docs/sidecar.md's own example, and an example tool's data
    terms passed the data-handling rules, for a show that had signed nothing."""
    show = tmp_path / "show"
    assert run_cli("init", str(show)).code == 0
    assert run_cli("scan", str(show)).code == 0  # the quick start on a fresh init
    doc = (Path(__file__).resolve().parents[1] / "docs/sidecar.md").read_text()
    example = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    for frame in (1001, 1002):
        write_png(show / f"comp/sh010_bg_v003.{frame}.exr")
    (show / "comp/sh010_bg_v003.genai.yaml").write_text(example)
    done = run_cli("scan", str(show), "--format", "json")
    findings = [f for item in done.json()["assets"] for f in item["findings"]]
    assert {"NFX-GP4", "PRV-03"} <= {f["rule"] for f in findings}, findings
    assert [f for f in findings if f["status"] != "open" or f["approval"]] == []
    assert yaml.safe_load((show / "approvals.yaml").read_text()) == {
        "approvals": {},
        "consents": {},
    }
    assert yaml.safe_load((show / "tools.yaml").read_text()) == {"tools": {}}
    assert "Copy next to clearance.yaml" not in (show / "tools.yaml").read_text()


def test_init_on_a_file_exits_2_naming_it(tmp_path: Path) -> None:
    target = tmp_path / "show"
    target.write_text("not a folder")
    done = run_cli("init", str(target))
    assert done.code == 2 and "internal error" not in done.stderr
    assert f"clearance: error: {target}: is a file, not a folder" in done.stderr
    assert target.read_text() == "not a folder"


def test_init_given_an_empty_dir_overwrites_nothing_in_the_current_folder(tmp_path: Path) -> None:
    # `clearance init --force "$SHOW"` with SHOW unset wrote over the current folder's
    # configuration, exit 0
    (tmp_path / "clearance.yaml").write_text("clearance: 1  # the show's own\n")
    done = run_cli("init", "--force", "", cwd=tmp_path)
    assert done.code == 2 and "clearance: error: DIR is empty (an unset variable?)" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clearance.yaml"]
    assert (tmp_path / "clearance.yaml").read_text() == "clearance: 1  # the show's own\n"


def test_init_names_a_link_to_nothing_and_prints_a_folder_name_as_a_value(tmp_path: Path) -> None:
    # a link to an unmounted share was "a file"; a line break in DIR started lines of its own
    (tmp_path / "share").symlink_to(tmp_path / "not-mounted")
    done = run_cli("init", str(tmp_path / "share"))
    assert done.code == 2
    assert f"share: is a link to nothing ({tmp_path / 'not-mounted'}), not a folder" in done.stderr
    made = run_cli("init", "nl\nFAKE", cwd=tmp_path)
    assert made.code == 0, made.stderr
    assert made.stdout.splitlines()[0] == 'wrote "nl\\nFAKE/clearance.yaml"'
    assert not any(line.startswith("FAKE") for line in made.stdout.splitlines())


STARTER = ("clearance.yaml", "tools.yaml", "approvals.yaml")


@pytest.mark.parametrize(
    "present",
    [("tools.yaml",), ("approvals.yaml",), ("clearance.yaml",), ("tools.yaml", "approvals.yaml")],
)
def test_init_refusing_writes_nothing_and_names_every_file_there(
    tmp_path: Path, present: tuple[str, ...]
) -> None:
    """A refusal is checked before anything is written: a clearance.yaml written next to the
    user's own tools.yaml made a root whose scan failed (no approvals file), and a second
    init refused on it, and --force would have overwritten the user's file."""
    show = tmp_path / "show"
    show.mkdir()
    for name in present:
        (show / name).write_text(f"# the user's own {name}\n")
    done = run_cli("init", str(show))
    assert done.code == 2 and done.stdout == ""
    assert "nothing written; use --force to overwrite" in done.stderr
    for name in present:
        assert str(show / name) in done.stderr
        assert (show / name).read_text() == f"# the user's own {name}\n"
    assert sorted(p.name for p in show.iterdir()) == sorted(present), "no file added, no temp"
    forced = run_cli("init", str(show), "--force")
    assert forced.code == 0, forced.stderr
    assert sorted(p.name for p in show.iterdir()) == sorted(STARTER)
    assert run_cli("validate", *(str(show / n) for n in STARTER)).code == 0


def test_init_force_never_overwrites_a_folder(tmp_path: Path) -> None:
    show = tmp_path / "show"
    (show / "approvals.yaml").mkdir(parents=True)
    done = run_cli("init", str(show), "--force")
    assert done.code == 2
    assert f"{show / 'approvals.yaml'} is a folder, not a file; nothing written" in done.stderr
    assert [p.name for p in show.iterdir()] == ["approvals.yaml"]


def test_init_that_fails_while_writing_leaves_no_partial_starter_set(tmp_path: Path) -> None:
    """A write that fails midway (here the largest starter file is over the file-size
    limit: the others are written before it) takes back what was written, and says so."""
    from clearance._resources import data_file

    if shutil.which("prlimit") is None:
        pytest.skip("needs prlimit (util-linux) to set the file-size limit")
    sizes = {name: data_file("configs", name).stat().st_size for name in STARTER}
    largest = max(sizes, key=lambda name: sizes[name])
    limit = max(size for name, size in sizes.items() if name != largest)
    assert limit < sizes[largest], sizes
    show = tmp_path / "show"
    show.mkdir()
    done = run_cli("init", str(show), prefix=("prlimit", f"--fsize={limit}"))
    assert done.code == 2 and done.stdout == ""
    assert f"{show / largest}: cannot write it: File too large; nothing written" in done.stderr
    assert list(show.iterdir()) == [], "no starter file and no temporary file is left"


def test_init_never_overwrites_a_file_made_after_it_looked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Between init's look at the folder and its putting the files in place, another init
    (or a user) may write one of them: that file is kept, and this run takes back its own."""
    from clearance.cli.config import _SHOWN_ORDER, _write_starter_set

    show = tmp_path / "show"
    show.mkdir()
    dests = {name: show / name for name in _SHOWN_ORDER}
    (show / "clearance.yaml").write_text("# another init's, written after the check\n")
    assert _write_starter_set(show, dests) is None
    assert (show / "clearance.yaml").read_text() == "# another init's, written after the check\n"
    assert [p.name for p in show.iterdir()] == ["clearance.yaml"], "nothing of this run is left"
    err = capsys.readouterr().err
    assert f"{show / 'clearance.yaml'}: it was made while init ran; it is left as it is" in err
    assert "nothing written" in err
    # --force replaces it, as asked
    assert _write_starter_set(show, dests, force=True) is not None
    assert sorted(p.name for p in show.iterdir()) == sorted(STARTER)


@pytest.mark.parametrize("jobs", ["0", "-3", "two", "nan", "inf"])
def test_jobs_must_be_a_positive_number(tmp_path: Path, jobs: str) -> None:
    show = make_show(tmp_path)
    done = run_cli("scan", str(show.root), "--jobs", jobs)
    assert done.code == 2 and "argument --jobs/-j: expected" in done.stderr
    assert not (show.root / ".clearance").exists()


def test_check_names_a_folder_or_a_sidecar_for_what_it_is(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    asset = show.asset("comp/a.png")  # no provenance: PRV-01
    sidecar = show.root / "comp" / "b.png.genai.yaml"
    show.asset("comp/b.png", sidecar=genai_sidecar())
    frames = [show.asset(f"comp/seq.{n}.png") for n in (1001, 1002)]
    (show.root / "comp" / "seq.genai.yaml").write_text(yaml.safe_dump(genai_sidecar()))
    orphan = show.root / "comp" / "gone.png.genai.yaml"
    orphan.write_text(yaml.safe_dump(genai_sidecar()))

    folder = run_cli("check", str(show.root / "comp"))
    assert folder.code == 2 and "ERROR: 0 asset(s)" in folder.stdout
    assert f"{show.root / 'comp'}: is a folder; `clearance scan` audits a folder" in folder.stderr

    done = run_cli("check", str(sidecar), str(show.root / "comp" / "seq.genai.yaml"), "-f", "json")
    assert done.code == 0, done.stderr
    assert [a["asset"] for a in done.json()["assets"]] == ["comp/b.png", "comp/seq.####.png"]
    assert f"{sidecar} is a sidecar: checking the asset it describes" in done.stderr
    assert done.json()["assets"][1]["frames"] == "1001-1002" and len(frames) == 2
    # the asset is audited for real: the verdict of checking the asset itself
    (show.root / "comp" / "a.png.genai.yaml").write_text("provenance: 1\n")  # generated unknown
    via_sidecar = run_cli("check", str(show.root / "comp" / "a.png.genai.yaml"), "-f", "json")
    direct = run_cli("check", str(asset), "-f", "json")
    assert via_sidecar.code == direct.code == 1
    assert via_sidecar.json()["assets"] == direct.json()["assets"]

    # a detached C2PA manifest named NAME.c2pa stands for NAME.EXT, whose reader reads it
    (show.root / "comp" / "a.c2pa").write_bytes(b"not a manifest store")
    manifest = run_cli("check", str(show.root / "comp" / "a.c2pa"), "-f", "json")
    assert [a["asset"] for a in manifest.json()["assets"]] == ["comp/a.png"], manifest.stderr

    gone = run_cli("check", str(orphan))
    assert gone.code == 2 and f"{orphan}: is a provenance sidecar, and no asset" in gone.stderr
    scanned = run_cli("scan", str(orphan))
    assert scanned.code == 2 and f"{orphan}: is a provenance sidecar" in scanned.stderr


def test_an_asset_whose_name_another_asset_has_fails_the_run_instead_of_vanishing(
    tmp_path: Path,
) -> None:
    """A stray file literally named ``seq.####.png`` with a sidecar that passes, beside the
    sequence ``seq.1001.png`` … with none: the run used to keep the stray file and exit 0,
    the sequence never audited. Now the sequence is audited (PRV-01) and the stray file is a
    run error naming both, on stderr and in the audit log: exit 2."""
    show = make_show(tmp_path)
    show.asset("comp/seq.####.png", frames=range(1001, 1004))  # no provenance at all
    stray = show.asset("comp/seq.####.png", sidecar={"provenance": 1, "generated": False})
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 2, done.stderr
    [asset] = done.json()["assets"]
    assert asset["frames"] == "1001-1003" and asset["outcome"] == "escalate"
    assert f"{stray}: not audited: the file seq.####.png has the same name" in done.stderr
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    [error] = [e for e in events if e["event"] == "run.error"]
    assert error["details"]["path"] == str(stray) and "frame sequence" in error["message"]
    assert events[-1]["details"]["exit_code"] == 2


def test_a_frame_given_beside_its_unpadded_sequences_folder_is_audited_once(
    tmp_path: Path,
) -> None:
    """``scan . comp/render.10.png`` of Houdini's unpadded ``render.8.png`` … ``render.12.png``
    audited and recorded the sequence twice, as ``render.#.png`` and ``render.##.png``."""
    show = make_show(tmp_path)
    for n in range(8, 13):
        write_png(show.root / "comp" / f"render.{n}.png")
    (show.root / "comp" / "render.genai.yaml").write_text(
        yaml.safe_dump({"provenance": 1, "generated": False})
    )
    done = run_cli("scan", str(show.root), str(show.root / "comp/render.10.png"), "-f", "json")
    assert done.code in (0, 1), done.stderr
    assert [(a["asset"], a["frames"]) for a in done.json()["assets"]] == [
        ("comp/render.#.png", "8-12")
    ]
    db = sqlite3.connect(show.root / ".clearance" / "state.db")
    assert db.execute("SELECT asset, frames FROM lineage_assets").fetchall() == [
        ("comp/render.#.png", "8-12")
    ]


def test_unwritable_audit_log_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    show = make_show(tmp_path, audit={"log": "blocker/audit.jsonl"})
    (show.root / "blocker").write_text("a file where a folder should be")
    show.asset("comp/a.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root))
    assert done.code == 2
    assert "audit" in done.stderr and "Traceback" not in done.stderr


def test_prompt_text_never_reaches_the_audit_log(tmp_path: Path) -> None:
    show = make_show(tmp_path, rules={"NFX-C2": {"denylist": ["desert street"]}})
    show.asset("comp/a.png", sidecar=genai_sidecar())
    run_cli("scan", str(show.root))
    log = (show.root / ".clearance/audit.jsonl").read_text()
    assert "wide desert street at dusk" not in log
    assert "sha256:" in log


def test_main_called_in_process_leaves_the_garbage_collector_as_it_was(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    """``main`` tunes the cyclic collector for a run (a higher threshold; start-up objects and
    what discovery found frozen) and must give a script or test that calls it the collector
    back as it was."""
    import gc

    from clearance.cli import main

    monkeypatch.setenv("CLEARANCE_DISABLE_PLUGIN_AUTOLOAD", "1")
    show = make_show(tmp_path)
    for i in range(3):
        show.asset(f"comp/sh010_comp_v00{i}.png", sidecar=genai_sidecar())
    before = gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()
    assert main(["scan", str(show.root), "--format", "json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["summary"]["assets"] == 3
    assert (gc.get_threshold(), gc.get_freeze_count(), gc.isenabled()) == before


def test_a_file_name_that_is_not_utf8_is_audited_and_shown_escaped(tmp_path: Path) -> None:
    """Bytes that are not UTF-8 in a name are shown as ``\\xe9``: the audit log, the state
    store and the report can hold them, and the rest of the tree is audited."""
    import os

    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    write_png(show.root / "comp/plate.png")
    odd = os.path.join(os.fsencode(show.root / "comp"), b"caf\xe9.png")
    with open(odd, "wb") as fh:
        fh.write((show.root / "comp/plate.png").read_bytes())
    (show.root / "comp/plate.png").unlink()
    for jobs in ([], ["--jobs", "2"]):
        done = run_cli("scan", str(show.root), "--format", "json", *jobs)
        assert done.code == 1, done.stderr
        assets = {a["asset"]: a for a in done.json()["assets"]}
        assert set(assets) == {"comp/a.png", "comp/caf\\xe9.png"}
        assert "PRV-01" in {f["rule"] for f in assets["comp/caf\\xe9.png"]["findings"]}
    assert run_cli("verify", str(show.root / ".clearance/audit.jsonl")).code == 0
    events = (show.root / ".clearance/audit.jsonl").read_text("utf-8").splitlines()
    assert sum('"asset.audited"' in e and "caf\\\\xe9.png" in e for e in events) == 2


def test_an_asset_whose_name_is_not_utf8_with_its_sidecar_is_audited_and_recorded(
    tmp_path: Path,
) -> None:
    """An asset named in bytes that are not UTF-8, with a sidecar named after it, and a
    sequence whose frames are, get their rules' verdict: lineage keys a version on the
    name's bytes (it raised UnicodeEncodeError, a PRV-05 on the asset), the cache
    fingerprints a frame list by its bytes (the scan ended in an internal error), both are
    recorded, and a re-scan reads them from the cache, serial and in workers."""
    import os
    import sqlite3

    show = make_show(tmp_path)
    show.asset("comp/plain.png", sidecar=genai_sidecar())
    show.asset("comp/plate.png", sidecar=genai_sidecar())
    folder = os.fsencode(show.root / "comp")
    for suffix in (b"", b".genai.yaml"):
        os.rename(
            os.path.join(folder, b"plate.png" + suffix),
            os.path.join(folder, b"caf\xe9.png" + suffix),
        )
    png = (show.root / "comp/plain.png").read_bytes()
    for frame in (1, 2, 3):  # a sequence: its frame list is part of the cache's fingerprint
        with open(os.path.join(folder, b"seq\xe9.%04d.png" % frame), "wb") as fh:
            fh.write(png)
    with open(os.path.join(folder, b"seq\xe9.genai.yaml"), "wb") as fh:
        fh.write((show.root / "comp/plain.png.genai.yaml").read_bytes())
    for jobs in ([], ["--jobs", "2"]):
        for state in show.root.glob(".clearance/state.db*"):
            state.unlink()
        for run in ("cold", "warm"):
            done = run_cli("scan", str(show.root), "--format", "json", *jobs)
            assert done.code in (0, 1), done.stderr
            assets = {a["asset"]: a for a in done.json()["assets"]}
            plain = [f["rule"] for f in assets["comp/plain.png"]["findings"]]
            for odd in ("comp/caf\\xe9.png", "comp/seq\\xe9.####.png"):
                assert [f["rule"] for f in assets[odd]["findings"]] == plain, (jobs, run, odd)
        events = (show.root / ".clearance/audit.jsonl").read_text("utf-8").splitlines()
        last = json.loads([e for e in events if "caf\\\\xe9.png" in e][-1])
        assert last["event"] == "asset.audited" and last["details"]["cached"] is True
        con = sqlite3.connect(show.root / ".clearance/state.db")
        try:
            recorded = {a for (a,) in con.execute("SELECT asset FROM lineage_assets")}
        finally:
            con.close()
        assert recorded == {"comp/plain.png", "comp/caf\\xe9.png", "comp/seq\\xe9.####.png"}


def test_a_json_sidecar_with_half_a_surrogate_pair_is_prv02(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    write_png(show.root / "comp/a.png")
    text = json.dumps(genai_sidecar(shot="sh010")).replace("sh010", "sh010\\ud800")
    (show.root / "comp/a.png.genai.json").write_text(text)
    write_png(show.root / "comp/b.png")
    emoji = json.dumps(genai_sidecar(shot="sh010")).replace("sh010", "sh010 \\ud83c\\udfac")
    (show.root / "comp/b.png.genai.json").write_text(emoji)
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    assets = {a["asset"]: a for a in done.json()["assets"]}
    prv02 = [f for f in assets["comp/a.png"]["findings"] if f["rule"] == "PRV-02"]
    assert prv02 and "surrogate" in prv02[0]["message"]
    assert assets["comp/b.png"]["outcome"] == "pass"
    checked = run_cli("validate", str(show.root / "comp/a.png.genai.json"))
    assert checked.code == 1 and "surrogate" in checked.stdout + checked.stderr


def test_prompt_text_in_the_wrong_shape_is_never_quoted_by_prv02(tmp_path: Path) -> None:
    """Prompt text is never logged in clear (DESIGN.md): a prompt written as a plain string,
    its text as a list, a step written as a string, or a flow mapping whose key is the text
    give PRV-02 errors that describe the value by its type, in the audit log, in every
    output format and from ``validate``."""
    secret = "SECRETPROMPT Meryl Streep in a Squid Game scene"

    def with_prompt(prompt: Any) -> dict[str, Any]:
        doc = genai_sidecar()
        doc["steps"][0]["prompt"] = prompt
        return doc

    show = make_show(tmp_path)
    variants = {
        "string_prompt": with_prompt(secret + "\nsecond line ünïcode 🎬"),
        "text_list": with_prompt({"text": [secret], "references": []}),
        "text_mapping": with_prompt({"text": {secret: None}}),
        "prompt_as_key": with_prompt({secret: None}),
        "reference_name_list": with_prompt({"references": [{"type": "other", "name": [secret]}]}),
        "step_string": genai_sidecar(steps=[secret]),
        "steps_string": genai_sidecar(steps=secret),
    }
    for name, sidecar in variants.items():
        show.asset(f"comp/{name}.png", sidecar=sidecar)
    # an unquoted impossible date as the text: the YAML error does not quote it either
    show.asset(
        "comp/date_text.png",
        sidecar="provenance: 1\ngenerated: true\nsteps:\n  - prompt: {text: 2026-02-31}\n",
    )
    outputs = []
    for fmt in ("json", "jsonl", "table"):
        done = run_cli("scan", str(show.root), "--no-progress", "--format", fmt)
        assert done.code == 1, done.stderr
        outputs += [done.stdout, done.stderr]
    checked = run_cli("validate", *(str(p) for p in sorted(show.root.glob("comp/*.genai.yaml"))))
    assert checked.code == 1
    outputs += [checked.stdout, checked.stderr]
    log = (show.root / ".clearance" / "audit.jsonl").read_text(encoding="utf-8")
    assert "SECRETPROMPT" not in log and "2026-02-31" not in log
    for output in outputs:
        assert "SECRETPROMPT" not in output and "2026-02-31" not in output
    findings = {
        item["asset"]: [f for f in item["findings"] if f["rule"] == "PRV-02"]
        for item in run_cli("scan", str(show.root), "--format", "json").json()["assets"]
    }
    for name in [*variants, "date_text"]:
        assert findings[f"comp/{name}.png"], name  # each is still a PRV-02
    text = json.dumps(findings)
    assert "steps[0].prompt: expected a mapping, got a string (not shown" in text
    assert "steps[0].prompt.text: expected a string (or null), got a list (not shown" in text
    assert "steps[0]: expected a mapping, got a string (not shown" in text
    assert "steps: expected a list, got a string (not shown" in text
    assert "prompt text is never logged" in text
    # what is not prompt text is still named: the unknown key of a prompt that looks like a field
    show.asset("comp/typo.png", sidecar=with_prompt({"txt": "a cat"}))
    typo = run_cli("validate", str(show.root / "comp/typo.png.genai.yaml"))
    assert "steps[0].prompt.txt: unknown field 'txt'" in typo.stdout, typo.stdout


@pytest.mark.parametrize(
    "command, signum",
    [("scan", signal.SIGTERM), ("scan", signal.SIGINT), ("check", signal.SIGTERM)],
    ids=["scan-SIGTERM", "scan-SIGINT", "check-SIGTERM"],
)
def test_an_interrupted_run_writes_what_it_audited_and_says_it_was_interrupted(
    tmp_path: Path, command: str, signum: signal.Signals
) -> None:
    """SIGTERM (a farm scheduler, ``kill``, systemd) is Ctrl-C: every asset audited before it
    has its events in the log, the run ends with ``run.finished`` recording the signal, and
    the command exits 128 + the signal's number."""
    show = _signals.slow_show(tmp_path)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    if command == "scan":
        args = ["scan", str(show.root), "--no-progress", "--no-cache"]
    else:
        files = sorted(str(p) for p in show.root.glob("*/*.png"))
        args = ["check", *files, "--no-progress", "--no-cache"]
    proc = _signals.start(args, seen)
    _signals.wait_for_progress(proc, log, seen)
    proc.send_signal(signum)
    code, stderr = _signals.finish(proc)

    assert code == 128 + signum, stderr
    assert stderr.strip().splitlines()[-1] == "clearance: interrupted"
    assert "Traceback" not in stderr
    written = _signals.events(log)
    logged = {e["asset"] for e in written if e["event"] == "asset.audited"}
    hooks_saw = set(seen.read_text().splitlines())
    assert len(hooks_saw) < _signals.QUICK + _signals.SLOW  # it was cut short
    assert hooks_saw <= logged  # an asset a hook saw audited is in the log
    last = written[-1]
    assert last["event"] == "run.finished"
    assert last["details"]["interrupted"] == signum.name
    assert last["details"]["exit_code"] == 128 + signum
    assert run_cli("verify", str(log)).code == 0


#: takes the lock file argv[1] when told to (a line on stdin), says so, and holds it until
#: its stdin is closed: another writer of the log (a long scan batch, a stuck process)
HOLD_LOCK_WHEN_TOLD = """
import fcntl, sys
lock = open(sys.argv[1], "a")
sys.stdin.readline()
fcntl.flock(lock, fcntl.LOCK_EX)
print("locked", flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks")
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_the_scan_waits_for_the_logs_lock_ends_it_at_once(
    tmp_path: Path, signum: signal.Signals
) -> None:
    """While another process held the audit log's lock, the scan waited silently, and Ctrl-C
    did nothing until the other let go (a stuck process on NFS: for ever). It says which
    lock it waits for and who holds it; a signal ends the command at once, the holder still
    holding the lock, exit 130/143, saying what was not written; nothing written before is
    lost and no line is half written."""
    import subprocess
    import sys
    import time

    show = _signals.slow_show(tmp_path)
    log, seen = show.root / ".clearance" / "audit.jsonl", tmp_path / "seen.txt"
    lock = log.with_name("audit.jsonl.lock")
    log.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_WHEN_TOLD, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        proc = _signals.start(["scan", str(show.root), "--no-progress", "--no-cache"], seen)
        _signals.wait_for_progress(proc, log, seen)  # the quick stage is written
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "locked\n"
        before = log.read_bytes()
        waiting = f"-> FLOCK +ADVISORY +WRITE +{proc.pid} +\\S+:{lock.stat().st_ino} "
        deadline = time.monotonic() + 120
        while not re.search(waiting, Path("/proc/locks").read_text()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the scan never waited for the lock"
            time.sleep(0.02)
        proc.send_signal(signum)
        code, stderr = _signals.finish(proc)
        assert holder.poll() is None  # it ended while the lock was held: no wait for it
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    assert code == 128 + signum, stderr
    lines = stderr.strip().splitlines()
    assert lines[-1] == "clearance: interrupted", stderr
    assert "Traceback" not in stderr
    [notice] = [line for line in lines if "waiting for the audit log's lock" in line]
    assert f"waiting for the audit log's lock {lock}, held by process {holder.pid} (" in notice
    assert notice.endswith(") (Ctrl-C to stop waiting)"), notice
    [unwritten] = [line for line in lines if "not written" in line]
    assert re.match(
        r"clearance: error: audit log not written: [1-9][0-9]* events of this run were not "
        rf"written to {re.escape(str(log))}: the wait for its lock {re.escape(str(lock))} was "
        rf"interrupted \(process {holder.pid} \(.*\) held it\)$",
        unwritten,
    ), unwritten
    assert log.read_bytes() == before  # what was written is there, and nothing half written
    written = _signals.events(log)
    assert [e["event"] for e in written][0] == "run.started"
    assert {e["asset"] for e in written if e["event"] == "asset.audited"} == {
        f"quick/el_{i:03d}.png" for i in range(_signals.QUICK)
    }
    assert run_cli("verify", str(log)).code == 0


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="reads /proc/locks")
def test_verify_says_which_lock_it_waits_for_while_a_writer_holds_it(tmp_path: Path) -> None:
    """``verify`` reads the log under a shared lock: while a writer held it (a stuck
    process), it waited without a word. It says which lock and who holds it, then verifies
    once the writer lets go."""
    import subprocess
    import sys
    import time

    from conftest import CLEARANCE

    run = ClearanceRun(tmp_path / "show")
    run.root.mkdir()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    assert run_cli("scan", str(run.root), "--no-progress").code == 0
    log = run.root / ".clearance" / "audit.jsonl"
    lock = log.with_name("audit.jsonl.lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK_WHEN_TOLD, str(lock)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        holder.stdin.write("go\n")
        holder.stdin.flush()
        assert holder.stdout.readline() == "locked\n"
        proc = subprocess.Popen(
            [CLEARANCE, "verify", str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env={**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"},
        )
        waiting = f"-> FLOCK +ADVISORY +READ +{proc.pid} +\\S+:{lock.stat().st_ino} "
        deadline = time.monotonic() + 120
        while not re.search(waiting, Path("/proc/locks").read_text()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "verify never waited for the lock"
            time.sleep(0.02)
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, err)
    assert (
        f"clearance: waiting for the audit log's lock {lock}, held by process {holder.pid} (" in err
    ), err


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl"])
def test_a_closed_stdout_keeps_the_runs_exit_code(tmp_path: Path, fmt: str) -> None:
    """``clearance scan | true`` (or ``| head -c 10``) under ``pipefail``: an open finding
    still exits 1, as the run's ``run.finished`` says, and nothing is printed about the pipe."""
    show = make_show(tmp_path)
    show.asset("comp/nosidecar.png")  # PRV-01: escalate, open
    done = run_cli_unread("scan", str(show.root), "--format", fmt, "--no-progress")
    assert done.code == 1, done.stderr
    assert done.stderr == ""  # no "Exception ignored … BrokenPipeError" at exit
    last = json.loads((show.root / ".clearance/audit.jsonl").read_text().splitlines()[-1])
    assert last["event"] == "run.finished" and last["details"]["exit_code"] == 1
    assert run_cli_unread("check", str(show.root / "comp/nosidecar.png")).code == 1
    assert run_cli_unread("scan", str(show.root), "--fail-on", "block").code == 0


def test_a_closed_stdout_keeps_every_listings_exit_code(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    (show.root / "comp/bad.genai.yaml").write_text("provenance: 1\ngenrated: true\n")
    log = show.root / ".clearance/audit.jsonl"
    assert run_cli("scan", str(show.root)).code == 0
    cases = {
        ("rules",): 0,
        ("plugins",): 0,
        ("report", str(log)): 0,
        ("verify", str(log)): 0,
        ("validate", str(show.root / "comp/bad.genai.yaml")): 1,
        ("lineage", str(show.root / "comp/a.png")): 0,
    }
    for args, code in cases.items():
        done = run_cli_unread(*args, cwd=show.root)
        assert (done.code, done.stderr) == (code, ""), args


#: run ``clearance`` with its stdout closed (``>&-``) or on a full disk (``> /dev/full``)
STDOUT_CLOSED = ("sh", "-c", 'exec "$@" >&-', "sh")
STDOUT_FULL = ("sh", "-c", 'exec "$@" >/dev/full', "sh")


def _listings(show: ClearanceRun) -> dict[tuple[str, ...], int]:
    """Every command that prints a report, with the exit code of its own outcome."""
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/nosidecar.png")  # PRV-01: escalate, open
    (show.root / "comp/bad.genai.yaml").write_text("provenance: 1\ngenrated: true\n")
    log = show.root / ".clearance/audit.jsonl"
    assert run_cli("scan", str(show.root)).code == 1
    return {
        ("scan", str(show.root), "--no-progress"): 1,
        ("scan", str(show.root), "--format", "json", "--fail-on", "block"): 0,
        ("check", str(show.root / "comp/a.png")): 0,
        ("rules",): 0,
        ("plugins",): 0,
        ("report", str(log)): 0,
        ("verify", str(log)): 0,
        ("validate", str(show.root / "comp/bad.genai.yaml")): 1,
        ("lineage", str(show.root / "comp/a.png")): 0,
    }


def test_a_stdout_closed_by_the_caller_is_a_reader_that_went_away(tmp_path: Path) -> None:
    """``clearance scan SHOW >&-`` (a launcher that closes stdout): no internal error, the
    exit code is the command's own, as for ``| true``; the audit log is whole."""
    show = make_show(tmp_path)
    for args, code in _listings(show).items():
        done = run_cli(*args, cwd=show.root, prefix=STDOUT_CLOSED)
        assert (done.code, done.stderr) == (code, ""), args
    assert run_cli("verify", str(show.root / ".clearance/audit.jsonl")).code == 0


def test_a_stdout_that_cannot_be_written_is_an_io_error_naming_the_cause(tmp_path: Path) -> None:
    """``clearance scan SHOW > /dev/full`` (a report redirected to a full disk): whoever reads
    the report gets none, so it is not a pass: one line naming stdout and the cause, exit 2,
    never an internal error; a scan's events are all in the log, ``run.finished`` last."""
    show = make_show(tmp_path)
    log = show.root / ".clearance/audit.jsonl"
    for args in _listings(show):
        done = run_cli(*args, cwd=show.root, prefix=STDOUT_FULL)
        assert done.code == 2, args
        assert "clearance: error: cannot write the report to stdout: No space left on device" in (
            done.stderr
        ), args
        assert "internal error" not in done.stderr, args
        last = json.loads(log.read_text().splitlines()[-1])
        assert last["event"] == "run.finished"
    assert run_cli("verify", str(log)).code == 0


def test_a_current_folder_deleted_before_the_command_is_an_error_naming_it(
    tmp_path: Path,
) -> None:
    """A farm job started in a folder a clean-up script deleted: a command that needs the
    current folder (no path given, a relative one, ``rules``) says so, exit 2, never an
    internal error; absolute paths still work."""
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    gone = tmp_path / "gone"
    in_gone = ("sh", "-c", f'mkdir "{gone}" && cd "{gone}" && rmdir "{gone}" && exec "$@"', "sh")
    for args in (("scan",), ("scan", "."), ("check", "a.png"), ("rules",), ("plugins",)):
        done = run_cli(*args, prefix=in_gone)
        assert done.code == 2, args
        assert done.stderr.startswith("clearance: error: the current folder is gone"), args
        assert "internal error" not in done.stderr
    done = run_cli("scan", str(show.root), prefix=in_gone)
    assert done.code == 0, done.stderr


#: root without the capabilities that let it search and read any folder
BLIND = ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--")


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to take away search permission root would not need",
)
def test_a_file_in_a_folder_without_search_permission_is_an_error_naming_it(
    tmp_path: Path,
) -> None:
    """A shot folder listed but not searchable (mode 644, a TD's chmod slip): whether the
    file, or a ``clearance.yaml`` beside it, is there cannot be told. Each command says which
    path and why, exit 2, never an internal error (``PermissionError`` from ``is_file``)."""
    show = make_show(tmp_path)
    show.asset("comp/sh010/a.png", sidecar=genai_sidecar())
    shot = show.root / "comp/sh010"
    shot.chmod(0o644)
    try:
        config = str(show.root / "clearance.yaml")
        cases = {
            ("check", "comp/sh010/a.png"): "sh010/clearance.yaml: cannot tell whether the "
            "configuration is there: Permission denied",
            ("lineage", "comp/sh010/a.png"): "sh010/clearance.yaml: cannot tell whether the "
            "configuration is there: Permission denied",
            ("check", "--config", config, "comp/sh010/a.png"): "comp/sh010/a.png: cannot be "
            "looked at: Permission denied",
            ("validate", "comp/sh010/a.png.genai.yaml"): "comp/sh010/a.png.genai.yaml: cannot "
            "be looked at: Permission denied",
        }
        for args, said in cases.items():
            done = run_cli(*args, cwd=show.root, prefix=BLIND)
            assert done.code == 2, (args, done.stderr)
            assert said in done.stderr, args
            assert "internal error" not in done.stderr, args
    finally:
        shot.chmod(0o755)


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to take away the read permission root would not need",
)
def test_validate_of_a_sidecar_it_cannot_read_is_an_error_not_a_verdict(tmp_path: Path) -> None:
    """A sidecar without read permission was "invalid" (exit 1), as if its content were
    wrong: it is not read at all, so validate says why and exits 2, as for a missing file."""
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    sidecar = show.root / "comp/a.png.genai.yaml"
    sidecar.chmod(0o000)
    try:
        done = run_cli("validate", str(sidecar), prefix=BLIND)
    finally:
        sidecar.chmod(0o644)
    assert done.code == 2, done.stderr
    assert "a.png.genai.yaml: cannot read it: Permission denied" in done.stderr
    assert run_cli("validate", str(sidecar)).code == 0


def _events(show: ClearanceRun) -> list[dict[str, Any]]:
    log = show.root / ".clearance/audit.jsonl"
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def _unreadable_show(tmp_path: Path) -> tuple[ClearanceRun, list[Path]]:
    """comp/: an asset without a sidecar, an EXR, an asset with its sidecar and one with
    a detached C2PA manifest, each with a file it needs made unreadable (mode 000); a
    readable asset; one whose sidecar is not valid YAML (a verdict on its content)."""
    show = make_show(tmp_path)
    show.asset("comp/a.png")
    show.asset("comp/b.png", sidecar=genai_sidecar())
    show.asset("comp/c.png", sidecar=genai_sidecar())
    show.asset("comp/d.exr", sidecar=genai_sidecar())
    show.asset("comp/e.png", sidecar=genai_sidecar())
    (show.root / "comp/e.png.c2pa").write_bytes(b"not a manifest store")
    show.asset("comp/f.png", sidecar="provenance: 1\ngenerated: [\n")
    shut = [
        show.root / name
        for name in ("comp/a.png", "comp/b.png.genai.yaml", "comp/d.exr", "comp/e.png.c2pa")
    ]
    return show, shut


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to take away the read permission root would not need",
)
def test_a_file_an_audit_cannot_read_is_an_io_error_and_the_asset_stays_unsure(
    tmp_path: Path,
) -> None:
    """An asset file or sidecar without read permission was only a PRV-02: exit 0 at
    ``--fail-on block``, nothing on stderr, ``errors: 0`` and ``complete: true``. It is an
    I/O error now, as an unreadable folder is: said on stderr, a ``run.error`` naming the
    path and why, right after the asset's events, counted in ``run.finished``, the stage
    not complete, exit 2 — and the asset is still audited unsure (PRV-02). A sidecar that is
    not valid YAML is read: a verdict on its content (PRV-02), no I/O error."""
    show, shut = _unreadable_show(tmp_path)
    for path in shut:
        path.chmod(0o000)
    try:
        done = run_cli(
            "scan", ".", "--fail-on", "block", "--format", "json", cwd=show.root, prefix=BLIND
        )
        events = _events(show)
        table = run_cli("scan", ".", "--fail-on", "block", cwd=show.root, prefix=BLIND)
        checked = run_cli("check", "comp/b.png", "--fail-on", "block", cwd=show.root, prefix=BLIND)
    finally:
        for path in shut:
            path.chmod(0o644)
    unread = {
        "comp/a.png": "comp/a.png",
        "comp/b.png": "comp/b.png.genai.yaml",
        "comp/d.exr": "comp/d.exr",
        "comp/e.png": "comp/e.png.c2pa",
    }
    assert done.code == 2, done.stderr
    for path in unread.values():
        assert f"clearance: error: {path}: cannot read file: Permission denied\n" in done.stderr
    assert done.stderr.count("clearance: error:") == len(unread), done.stderr
    findings = {a["asset"]: a["findings"] for a in done.json()["assets"]}
    for asset, path in unread.items():
        prv02 = [f for f in findings[asset] if f["rule"] == "PRV-02"]
        assert prv02 and prv02[0]["unsure"] and prv02[0]["outcome"] == "escalate", asset
        assert f"{path}: " in prv02[0]["message"] and "Permission denied" in prv02[0]["message"]
    assert "PRV-02" in {f["rule"] for f in findings["comp/f.png"]}  # not valid YAML
    assert "PRV-02" not in {f["rule"] for f in findings["comp/c.png"]}

    first = max(i for i, e in enumerate(events) if e["event"] == "run.started")
    run = events[first:]
    errors = [e for e in run if e["event"] == "run.error"]
    assert [(e["asset"], e["details"]) for e in errors] == [
        (asset, {"path": path, "error": "cannot read file: Permission denied"})
        for asset, path in unread.items()
    ]
    for error_event in errors:  # right after the events of the asset whose file it is
        before = run[run.index(error_event) - 1]
        assert (before["event"], before["asset"]) == ("asset.audited", error_event["asset"])
        assert error_event["stage"] == "comp"
    (stage,) = [e for e in run if e["event"] == "stage.finished" and e["stage"] == "comp"]
    assert stage["details"]["complete"] is False
    finished = run[-1]
    assert finished["event"] == "run.finished"
    assert finished["details"]["errors"] == len(unread) and finished["details"]["exit_code"] == 2

    assert table.code == 2 and table.stdout.rstrip().splitlines()[-1].startswith("ERROR: 6 asset")
    assert checked.code == 2, checked.stderr
    assert "comp/b.png.genai.yaml: cannot read file: Permission denied" in checked.stderr

    again = run_cli("scan", ".", "--fail-on", "block", cwd=show.root, prefix=BLIND)
    assert again.code == 0, again.stderr  # readable again: no error, the stage complete
    assert "clearance: error" not in again.stderr
    events = _events(show)
    last_run = events[max(i for i, e in enumerate(events) if e["event"] == "run.started") :]
    [comp] = [e for e in last_run if e["event"] == "stage.finished" and e["stage"] == "comp"]
    assert comp["details"]["complete"] is True


@pytest.mark.parametrize("value", ["0", "false", "off", ""])
def test_clearance_debug_set_to_0_or_false_shows_no_traceback(tmp_path: Path, value: str) -> None:
    """``CLEARANCE_DEBUG=0`` left in a farm's environment showed tracebacks: only a value
    that is not 0, false, no, off or empty asks for them."""
    gone = tmp_path / "gone"
    gone.mkdir()
    script = f'cd "{gone}" && rmdir "{gone}" && exec "$@"'
    for debug, traceback in ((value, False), ("1", True)):
        done = run_cli("rules", prefix=("sh", "-c", script, "sh"), env={"CLEARANCE_DEBUG": debug})
        assert ("Traceback" in done.stderr) is traceback, (debug, done.stderr)
        gone.mkdir(exist_ok=True)


SWAP_TO_PIPES = """
import os
from pathlib import Path
from clearance import hookimpl

@hookimpl
def clearance_stage_started(stage, policy):
    for name in ("comp/a.png", "comp/b.png.genai.yaml"):
        path = Path(policy.root) / name
        if path.is_file():
            path.unlink()
            os.mkfifo(path)
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_file_replaced_by_a_named_pipe_after_the_walk_never_hangs_the_scan(
    tmp_path: Path, jobs: str
) -> None:
    """An asset and a sidecar replaced by named pipes between the walk and the reading (here
    by a plugin, at the stage's start): opening one for reading waits for a writer that never
    comes. The scan goes on: each is unreadable provenance (PRV-02, naming the file), never
    a pass, and the run finishes with its log whole. Each is a run error too, as a pipe the
    walk finds is (exit 2)."""
    show = make_show(tmp_path, plugins=["swap.py"])
    (show.root / "swap.py").write_text(SWAP_TO_PIPES)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/b.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--format", "json", "--jobs", jobs, timeout=60)
    assert done.code == 2, done.stderr
    assert done.stderr.splitlines() == [
        "clearance: error: comp/a.png: cannot read file: it is not a regular file (a named "
        "pipe or a socket)",
        "clearance: error: comp/b.png.genai.yaml: cannot read file: is not a regular file (a "
        "named pipe, a socket or a device)",
    ]
    by_asset = {a["asset"]: a for a in done.json()["assets"]}
    for asset, file in (("comp/a.png", "comp/a.png"), ("comp/b.png", "comp/b.png.genai.yaml")):
        unread = [f for f in by_asset[asset]["findings"] if f["rule"] == "PRV-02"]
        assert unread and file in unread[0]["message"], by_asset[asset]
        assert by_asset[asset]["outcome"] != "pass"
    said = " ".join(f["message"] for f in by_asset["comp/a.png"]["findings"])
    assert "not a regular file" in said and "Illegal seek" not in said, said
    assert run_cli("verify", str(show.root / ".clearance/audit.jsonl")).code == 0


def test_a_path_that_does_not_exist_creates_no_folder_and_prints_no_report(
    tmp_path: Path,
) -> None:
    """``clearance scan a/b/missing`` with no configuration: no root holds an audit log, so
    nothing is written (``a/b`` was made, with a ``.clearance`` in it), and no empty table
    says ``0 asset(s)`` beside the error."""
    work = tmp_path / "work"
    work.mkdir()
    for path in ("a/b/missing", str(work / "nonexist"), "missing.png"):
        for command in ("scan", "check"):
            done = run_cli(command, path, "--format", "table", cwd=work)
            assert done.code == 2, done.stderr
            assert f"clearance: error: {path}: no such file" in done.stderr
            assert done.stdout == ""
            assert list(work.iterdir()) == [], path
    # a link to nothing (a share not mounted) is said to be one, and holds nothing either: it
    # made .clearance/ in the current folder and printed an empty '0 asset(s)' table
    (work / "share.png").symlink_to(tmp_path / "unmounted" / "share.png")
    for command in ("scan", "check"):
        done = run_cli(command, "share.png", "--format", "table", cwd=work)
        assert done.code == 2 and done.stdout == "", done.stdout
        assert (
            f"clearance: error: share.png: is a symbolic link to {tmp_path}/unmounted/share.png, "
            "which does not exist (or is not reachable)"
        ) in done.stderr
        assert [p.name for p in work.iterdir()] == ["share.png"]


def test_a_missing_path_under_a_configuration_is_logged_there_without_a_report(
    tmp_path: Path,
) -> None:
    show = make_show(tmp_path)
    done = run_cli("scan", str(show.root / "x/y"), "--format", "json")
    assert done.code == 2 and done.stdout == ""
    assert f"{show.root / 'x/y'}: no such file or folder" in done.stderr
    assert not (show.root / "x").exists()
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    assert [e["event"] for e in events][-2:] == ["run.error", "run.finished"]
    assert events[-1]["details"]["exit_code"] == 2


def test_prv02_lists_the_first_50_errors_and_counts_the_rest_validate_lists_all(
    tmp_path: Path,
) -> None:
    """A sidecar with 120 errors (a broken exporter's): the finding lists the first 50 and
    says how many more; ``clearance validate`` still lists every one."""
    show = make_show(tmp_path)
    bad = "".join(f"  - 2026-02-{30 + i % 2}\n" for i in range(120))
    show.asset("comp/b.png", sidecar=yaml.safe_dump(genai_sidecar()) + "x-d:\n" + bad)
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    [prv02] = [f for f in done.json()["assets"][0]["findings"] if f["rule"] == "PRV-02"]
    assert prv02["outcome"] == "escalate" and "(120 error(s))" in prv02["message"]
    assert prv02["message"].count("not a valid date") == 50
    assert "and 70 more (clearance validate lists every one)" in prv02["message"]
    assert len(prv02["evidence"]["errors"]) == 50 and prv02["evidence"]["more_errors"] == 70
    checked = run_cli("validate", str(show.root / "comp/b.png.genai.yaml"))
    assert checked.code == 1 and checked.stdout.count("not a valid date") == 120


HUGE_EVIDENCE_PLUGIN = """
from clearance import Finding, Outcome, hookimpl

@hookimpl
def clearance_check_asset(asset):
    if asset.name == "b.png":
        dump = {"dump": "x" * (17 << 20)}
        return [Finding(rule="NFX-00", message="dump", outcome=Outcome.ESCALATE, evidence=dump)]
    return []
"""


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_an_event_over_the_log_bound_is_written_shortened_and_the_run_goes_on(
    tmp_path: Path, jobs: str
) -> None:
    """A plugin's finding with 17 MiB of evidence (over the 16 MiB an event may be): the
    finding is written with its evidence replaced by a note of its size, the asset keeps its
    outcome, and the other assets are audited (serially and in --jobs workers)."""
    plugin = tmp_path / "dumper.py"
    plugin.write_text(HUGE_EVIDENCE_PLUGIN)
    show = make_show(tmp_path, plugins=[str(plugin)])
    for name in ("a", "b", "c"):
        show.asset(f"comp/{name}.png", sidecar=genai_sidecar())
    done = run_cli("scan", str(show.root), "--format", "json", "--jobs", jobs)
    assert done.code == 1, done.stderr
    assert "audit event finding for comp/b.png was" in done.stderr
    assets = {a["asset"]: a for a in done.json()["assets"]}
    assert sorted(assets) == ["comp/a.png", "comp/b.png", "comp/c.png"]
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    [dumped] = [e for e in events if e["event"] == "finding" and e["message"] == "dump"]
    assert dumped["asset"] == "comp/b.png" and dumped["outcome"] == "escalate"
    assert dumped["details"]["oversize"]["bytes"] > 17 << 20
    assert dumped["details"]["evidence"]["omitted_bytes"] > 17 << 20
    [reported] = [f for f in assets["comp/b.png"]["findings"] if f["message"] == "dump"]
    assert dumped["details"]["remediation"] == reported["remediation"]
    audited = {e["asset"]: e["outcome"] for e in events if e["event"] == "asset.audited"}
    assert audited == {"comp/a.png": "pass", "comp/b.png": "escalate", "comp/c.png": "pass"}
    assert events[-1]["event"] == "run.finished" and events[-1]["details"]["exit_code"] == 1
    assert run_cli("verify", str(show.root / ".clearance/audit.jsonl")).code == 0


def _blocked_on_its_report(tmp_path: Path, command: str) -> tuple[Any, Path]:
    """``clearance COMMAND --format json`` whose stdout is a small pipe nobody reads yet: the
    run finishes (``run.finished`` is in the log) and its report then blocks on the pipe."""
    import fcntl
    import os
    import subprocess
    import time

    from conftest import CLEARANCE

    show = make_show(tmp_path)
    for i in range(60):  # no sidecar: PRV-01 each, ≈ 40 KB of JSON
        show.asset(f"comp/el_{i:03d}.png")
    log = show.root / ".clearance/audit.jsonl"
    target = (
        [str(show.root)]
        if command == "scan"
        else sorted(str(p) for p in (show.root / "comp").glob("*.png"))
    )
    read, write = os.pipe()
    fcntl.fcntl(write, getattr(fcntl, "F_SETPIPE_SZ", 1031), 4096)
    proc = subprocess.Popen(
        [CLEARANCE, command, *target, "--format", "json", "--no-progress"],
        stdout=write,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    os.close(write)
    proc.stdout = os.fdopen(read, "rb")  # type: ignore[assignment]
    deadline = time.monotonic() + 120
    while b'"event":"run.finished"' not in (log.read_bytes() if log.exists() else b""):
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.02)
    return proc, log


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("command", ["scan", "check"])
def test_a_signal_once_the_run_has_finished_keeps_its_exit_code_and_report(
    tmp_path: Path, command: str
) -> None:
    """SIGTERM while the report is printed (here: blocked on a full pipe) comes after
    ``run.finished`` was written with the run's exit code: the report is printed in full and
    the command exits with that code — not 143 with half a JSON document on stdout."""
    proc, log = _blocked_on_its_report(tmp_path, command)
    proc.send_signal(signal.SIGTERM)
    out = proc.stdout.read()  # type: ignore[union-attr]
    code = proc.wait(timeout=120)
    stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["event"] == "run.finished" and "interrupted" not in last["details"]
    assert code == last["details"]["exit_code"] == 1, stderr
    assert json.loads(out)["summary"]["assets"] == 60  # the whole report
    assert "clearance: SIGTERM: the run has finished" in stderr
    assert "clearance: interrupted" not in stderr


def test_a_second_signal_stops_the_report_and_says_it_is_incomplete(tmp_path: Path) -> None:
    """Printing can block for ever on a pipe nobody reads: a second signal stops it, says so
    on stderr, and the exit code is still the one ``run.finished`` recorded."""
    proc, log = _blocked_on_its_report(tmp_path, "scan")
    proc.send_signal(signal.SIGTERM)
    first = proc.stderr.readline().decode()  # type: ignore[union-attr]
    assert "SIGTERM: the run has finished" in first  # held: the report goes on
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=120)
    out = proc.stdout.read()  # type: ignore[union-attr]
    stderr = proc.stderr.read().decode()  # type: ignore[union-attr]
    assert code == json.loads(log.read_text().splitlines()[-1])["details"]["exit_code"] == 1
    assert "clearance: interrupted (SIGINT): the report is incomplete" in stderr
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)  # cut short, and said so: never a document that looks complete


def test_a_final_stage_written_with_a_dot_slash_audits_its_deliverables_as_final(
    tmp_path: Path,
) -> None:
    """``paths: [./delivery/]`` matched no file: a GenAI deliverable passed in stage
    ``default`` where its stage is final (NFX-GP4 asks for written approval)."""
    show = make_show(
        tmp_path, stages=[{"name": "delivery", "paths": ["./delivery/"], "final": True}]
    )
    show.asset(
        "delivery/sh010_v001.png",
        sidecar=genai_sidecar(
            output={"use": "final", "on_screen": "background", "subject": "incidental"}
        ),
    )
    done = run_cli("scan", str(show.root), "--format", "json")
    [item] = done.json()["assets"]
    assert item["stage"] == "delivery", done.stderr
    assert "NFX-GP4" in {f["rule"] for f in item["findings"]}
    assert done.code == 1


def test_paths_of_two_shows_are_refused_not_audited_with_the_first_shows_policy(
    tmp_path: Path,
) -> None:
    """``scan showA showB/delivery/x.png`` audited showB's deliverable with showA's stages,
    tools and approvals (a pass, in stage default), into showA's log: the verdict hung on
    the order of the arguments. Each path's nearest clearance.yaml must be the first's."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    show_a = make_show(tmp_path / "a")
    show_b = make_show(tmp_path / "b")
    final = show_b.asset("delivery/len.png", sidecar=genai_sidecar())
    loose = tmp_path / "loose"
    loose.mkdir()
    for command, paths in [
        ("scan", [str(show_a.root), str(final)]),
        ("check", [str(show_a.asset("comp/a.png")), str(final)]),
        ("scan", [str(show_a.root), str(loose)]),
        ("scan", [str(loose), str(show_a.root)]),
    ]:
        done = run_cli(command, *paths)
        assert done.code == 2, (command, paths, done.stdout, done.stderr)
        assert "audit each show with its own command" in done.stderr
    assert not (show_a.root / ".clearance" / "audit.jsonl").exists()
    assert run_cli("scan", str(show_b.root), str(final)).code == 1  # one show: audited


def test_a_path_outside_the_given_configurations_folder_is_a_warning(tmp_path: Path) -> None:
    """``--config`` says which show's policy to use; a file from elsewhere is audited with
    it, named by its full path (stage default unless --stage), and the run says so."""
    show = make_show(tmp_path)
    incoming = tmp_path / "incoming" / "vendor.png"
    incoming.parent.mkdir()
    write_png(incoming)
    done = run_cli("check", "--config", str(show.root / "clearance.yaml"), str(incoming))
    assert done.code in (0, 1), done.stderr
    assert "outside the configuration's folder" in done.stderr
    log = [json.loads(line) for line in (show.root / ".clearance" / "audit.jsonl").open()]
    [warning] = [e for e in log if e["event"] == "run.warning"]
    assert warning["details"]["path"] == str(incoming)


def test_shards_split_a_scan_into_disjoint_parts_that_together_are_the_whole(
    tmp_path: Path,
) -> None:
    """``scan --shard I/N`` (farm nodes sharing a big tree): every asset in exactly one
    part, with the verdict the whole scan gives it; no part saw a whole stage; the part is
    said in ``run.started``; ``1/1`` is the whole scan."""
    show = make_show(tmp_path)
    for i in range(12):
        show.asset(f"comp/sh{i:03d}_v001.png", sidecar=genai_sidecar(shot=f"sh{i:03d}"))
    show.asset("comp/plate.####.png", frames=[1001, 1002])
    whole = run_cli("scan", str(show.root), "--format", "json")
    verdicts = {a["asset"]: a["outcome"] for a in whole.json()["assets"]}
    parts = []
    for i in (1, 2, 3):
        done = run_cli("scan", str(show.root), "--format", "json", "--shard", f"{i}/3")
        assert done.code in (0, 1), done.stderr
        parts.append({a["asset"]: a["outcome"] for a in done.json()["assets"]})
    assert sum(len(p) for p in parts) == len(verdicts) == 13
    assert {k: v for p in parts for k, v in p.items()} == verdicts
    assert all(parts), "a part with no asset: the split is not spread"
    log = [json.loads(line) for line in (show.root / ".clearance" / "audit.jsonl").open()]
    started = [e["details"].get("shard") for e in log if e["event"] == "run.started"]
    assert started == [None, "1/3", "2/3", "3/3"]
    complete = [
        e["details"]["complete"]
        for e in log
        if e["event"] == "stage.finished" and e["stage"] == "comp"
    ]
    assert complete == [True, False, False, False]
    one = run_cli("scan", str(show.root), "--format", "json", "--shard", "1/1")
    assert {a["asset"]: a["outcome"] for a in one.json()["assets"]} == verdicts


@pytest.mark.parametrize("value", ["0/3", "4/3", "3", "a/b", "1/0", "-1/2"])
def test_a_shard_that_is_not_i_of_n_is_a_usage_error(tmp_path: Path, value: str) -> None:
    show = make_show(tmp_path)
    done = run_cli("scan", str(show.root), f"--shard={value}")
    assert done.code == 2
    assert "expected I/N" in done.stderr


def _name_in_shard(template: str, shard: tuple[int, int]) -> str:
    from clearance.cli.audit import in_shard

    return next(template.format(i) for i in range(1000) if in_shard(template.format(i), shard))


def test_a_shard_never_passes_what_the_whole_scan_blocks_whatever_part_runs_first(
    tmp_path: Path,
) -> None:
    """A final deliverable (part 1) made from a GenAI precomp (part 2): part 1 run first
    found the precomp not recorded yet and passed it as an ordinary unresolved input where
    the whole scan blocks it. Now that input is pending: unsure (PRV-02), never a pass; once
    part 2 has run, part 1 gives the whole scan's verdict."""
    show = make_show(tmp_path)
    precomp = _name_in_shard("gen/sh010_precomp_v{:03d}.png", (2, 2))
    final = _name_in_shard("delivery/sh010_final_v{:03d}.png", (1, 2))
    show.asset(precomp, sidecar=genai_sidecar())
    show.asset(
        final,
        sidecar={
            "provenance": 1,
            "generated": False,
            "source_type": "digitalCapture",
            "steps": [
                {
                    "tool": "studio-diffusion",
                    "inputs": [{"ref": precomp, "class": "owned_released"}],
                }
            ],
        },
    )
    first = run_cli("scan", str(show.root), "--format", "json", "--shard", "1/2")
    [item] = first.json()["assets"]
    assert item["asset"] == final
    assert item["outcome"] != "pass" and first.code == 1, first.stdout
    assert "PRV-02" in {f["rule"] for f in item["findings"]}
    assert run_cli("scan", str(show.root), "--shard", "2/2").code in (0, 1)
    again = run_cli("scan", str(show.root), "--format", "json", "--shard", "1/2", "--jobs", "2")
    whole = run_cli("scan", str(show.root), "--format", "json")
    verdict = {a["asset"]: a["outcome"] for a in whole.json()["assets"]}[final]
    assert again.json()["assets"][0]["outcome"] == verdict


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None,
    reason="needs root and setpriv to take away read permission root would not need",
)
def test_every_shard_says_a_folder_it_cannot_read(tmp_path: Path) -> None:
    """A folder one node cannot read (a share not mounted there, a permission) hides
    assets of every part: each part says it, exit 2 (it was said only by the part its path
    fell in, and the others' assets in it were audited by nobody, in silence)."""
    show = make_show(tmp_path)
    for i in range(8):
        show.asset(f"comp/sub/sh{i:03d}.png", sidecar=genai_sidecar())
    sub = show.root / "comp" / "sub"
    sub.chmod(0o000)
    try:
        for i in (1, 2, 3):
            done = run_cli("scan", str(show.root), "--shard", f"{i}/3", prefix=BLIND)
            assert done.code == 2, (i, done.stdout, done.stderr)
            assert "comp/sub" in done.stderr
    finally:
        sub.chmod(0o755)


def test_links_to_two_shows_in_one_folder_are_refused(tmp_path: Path) -> None:
    """A dailies folder of links to several shows: the second link's show is not taken for
    the first's because they sit in one folder."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    show_a = make_show(tmp_path / "a")
    show_b = make_show(tmp_path / "b")
    a = show_a.asset("delivery/a.png", sidecar=genai_sidecar())
    b = show_b.asset("delivery/b.png", sidecar=genai_sidecar())
    dailies = tmp_path / "dailies"
    dailies.mkdir()
    (dailies / "a.png").symlink_to(a)
    (dailies / "b.png").symlink_to(b)
    done = run_cli("check", str(a), str(dailies / "a.png"), str(dailies / "b.png"))
    assert done.code == 2, done.stdout
    assert "audit each show with its own command" in done.stderr


def test_a_configuration_given_through_a_link_is_rooted_where_the_link_is(
    tmp_path: Path,
) -> None:
    """``--config show/clearance.yaml`` that is a link into a configurations repository:
    the show is where the link is, as when the file is found above the path (rooted at the
    link's target, the deliverable was in stage default and passed)."""
    show = make_show(tmp_path)
    final = show.asset("delivery/len.png", sidecar=genai_sidecar())
    repo = tmp_path / "configs"
    repo.mkdir()
    config = show.root / "clearance.yaml"
    (repo / "show01.yaml").write_bytes(config.read_bytes())
    config.unlink()
    config.symlink_to(repo / "show01.yaml")
    found = run_cli("check", str(final), "--format", "json")
    given = run_cli("check", "--config", str(config), str(final), "--format", "json")
    assert found.json()["assets"][0]["stage"] == "delivery", found.stderr
    assert given.json()["assets"][0] == found.json()["assets"][0], given.stderr


@pytest.mark.parametrize(
    ("config", "field", "said"),
    [
        ('plugins: [""]', "plugins[0]", "expected text that is not blank, got ''"),
        (
            'stages: [{name: "comp shots", paths: [comp/]}]',
            "stages[0].name",
            "expected a name of letters, digits, '_', '.' and '-' only, got 'comp shots'",
        ),
    ],
)
def test_a_value_of_the_wrong_shape_is_said_in_words(
    tmp_path: Path, config: str, field: str, said: str
) -> None:
    """A plugin named by an empty string was loaded as one: 'plugin  (...): ValueError: Empty
    module name'; a stage name with a space was said to 'not match ^[A-Za-z0-9_.-]+$'. Both
    are refused naming the field, in words."""
    (tmp_path / "comp").mkdir()
    (tmp_path / "clearance.yaml").write_text(f"clearance: 1\n{config}\n")
    for command in ("scan", "validate"):
        target = "." if command == "scan" else "clearance.yaml"
        done = run_cli(command, target, cwd=tmp_path)
        assert done.code == (2 if command == "scan" else 1), done.stderr
        assert f"clearance.yaml: {field}: {said}" in done.stderr + done.stdout
