"""End-to-end through the real ``clearance`` command: exit codes, JSON shape, bad input."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
import yaml

import _signals
from clearance.testing import ClearanceRun, write_png
from conftest import genai_sidecar, run_cli


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


def test_broken_config_exits_2_naming_file_and_field(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.config["stages"][1]["paths"] = "comp/"
    (show.root / "clearance.yaml").write_text(yaml.safe_dump(show.config, sort_keys=False))
    done = run_cli("scan", str(show.root))
    assert done.code == 2
    assert "clearance.yaml: stages[1].paths: expected a list" in done.stderr
    assert "Traceback" not in done.stderr


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


def test_jsonl_format_is_one_asset_per_line(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    show.asset("comp/a.png", sidecar=genai_sidecar())
    show.asset("comp/b.png", sidecar=genai_sidecar())
    lines = run_cli("scan", str(show.root), "--format", "jsonl").stdout.splitlines()
    assert [json.loads(line)["asset"] for line in lines] == ["comp/a.png", "comp/b.png"]


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


def test_validate_config_checks_referenced_files(tmp_path: Path) -> None:
    show = make_show(tmp_path)
    (show.root / "tools.yaml").write_text("tools:\n  x: {deployment: cloud}\n")
    done = run_cli("validate", str(show.root / "clearance.yaml"))
    assert done.code == 1 and "tools.yaml" in done.stdout and "tools.x" in done.stdout


def test_rules_lists_the_default_pack(tmp_path: Path) -> None:
    done = run_cli("rules", "--format", "json", cwd=tmp_path)
    assert done.code == 0
    ids = {r["id"] for r in done.json()["rules"]}
    assert {"PRV-01", "PRV-05", "NFX-00", "NFX-GP1", "NFX-T1", "NFX-V2", "IPTC-04"} <= ids
    for rule in done.json()["rules"]:
        assert rule["remediation"] and rule["title"] and rule["principle"]


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


def test_init_writes_a_valid_starter_config(tmp_path: Path) -> None:
    done = run_cli("init", str(tmp_path / "new"))
    assert done.code == 0
    assert (
        run_cli("validate", *(str(p) for p in sorted((tmp_path / "new").glob("*.yaml")))).code == 0
    )
    assert run_cli("init", str(tmp_path / "new")).code == 2


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
