"""Configuration: schemas, field-path errors, discovery of clearance.yaml, rule settings."""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from clearance._resources import SCHEMAS, schema
from clearance._yaml import load_document
from clearance.model import Outcome, Rule
from clearance.policy import (
    ConfigError,
    find_config,
    load_policy,
    rule_setting_errors,
    schema_errors,
)
from conftest import genai_sidecar, run_cli

SAMPLE = Path(__file__).resolve().parents[1] / "sample_pipeline" / "show"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def write(path: Path, doc: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc, sort_keys=False) if not isinstance(doc, str) else doc)
    return path


def base_config(**extra: object) -> dict[str, object]:
    return {
        "clearance": 1,
        "production": {"id": "SHOW01"},
        "stages": [{"name": "comp", "paths": ["comp/"]}],
        **extra,
    }


@pytest.mark.parametrize("name", SCHEMAS)
def test_shipped_schemas_are_draft_2020_12(name: str) -> None:
    import jsonschema

    doc = schema(name)
    assert doc["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(doc)


@pytest.mark.parametrize(
    ("mutate", "field", "reason"),
    [
        (
            lambda c: c["stages"].append({"name": "x", "paths": "x/"}),
            "stages[1].paths",
            "expected a list",
        ),
        (lambda c: c.update(clearance=2), "clearance", "expected 1"),
        (lambda c: c.update(stagez=[]), "stagez", "unknown field"),
        (lambda c: c["stages"][0].pop("paths"), "stages[0].paths", "required field is missing"),
        (
            lambda c: c.update(rules={"NFX-C1": {"outcome": "maybe"}}),
            "rules.NFX-C1.outcome",
            "expected one of",
        ),
        (
            lambda c: c.update(production={"id": "S", "genre": "reality"}),
            "production.genre",
            "expected one of",
        ),
    ],
)
def test_config_errors_name_file_and_field_path(
    tmp_path: Path, mutate, field: str, reason: str
) -> None:
    config = base_config()
    mutate(config)
    path = write(tmp_path / "clearance.yaml", config)
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert f": {field}: " in message and reason in message


def test_duplicate_stage_names_are_refused(tmp_path: Path) -> None:
    config = base_config()
    config["stages"].append({"name": "comp", "paths": ["comp2/"]})  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match=r"stages\[1\]\.name: stage 'comp' is defined twice"):
        load_policy(write(tmp_path / "clearance.yaml", config))


@pytest.mark.parametrize(
    "log, state",
    [
        (".clearance/audit.jsonl", ".clearance/audit.jsonl"),
        (".clearance/audit.jsonl", "./.clearance/../.clearance/audit.jsonl"),
        (".clearance/audit.jsonl", ".clearance/audit.jsonl.lock"),
        (".clearance/audit.jsonl", ".clearance/audit.jsonl.000001"),
        (".clearance/state.db-wal", ".clearance/state.db"),
        (".clearance/audit.jsonl", "link.db"),
    ],
)
def test_a_state_store_that_is_a_file_of_the_audit_log_is_refused(
    tmp_path: Path, log: str, state: str
) -> None:
    """The state store named as the audit log: SQLite wrote over the events of the first
    scan (exit 1, nothing said), and every later scan failed on a log of SQLite pages."""
    (tmp_path / ".clearance").mkdir()
    (tmp_path / "link.db").symlink_to(".clearance/audit.jsonl")
    path = write(tmp_path / "clearance.yaml", base_config(audit={"log": log, "state": state}))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert f"{path}: audit.state: the state store " in str(info.value)
    assert "is a file of the audit log" in str(info.value)
    fine = base_config(audit={"log": ".clearance/audit.jsonl", "state": ".clearance/audit.db"})
    assert load_policy(write(tmp_path / "clearance.yaml", fine)).state_path is not None


@pytest.mark.parametrize(
    "audit, said",
    [
        ({"log": "/"}, "audit.log: / is a folder, not a file"),
        ({"state": "/"}, "audit.state: / is a folder, not a file"),
        ({"log": ""}, "audit.log: expected text that is not blank, got ''"),
        ({"state": " "}, "audit.state: expected text that is not blank, got ' '"),
    ],
)
def test_an_audit_log_or_state_store_named_by_no_file_name_is_a_config_error(
    tmp_path: Path, audit: dict[str, str], said: str
) -> None:
    """``audit: {log: /}`` was an internal error in scan and validate (ValueError: PosixPath('/')
    has an empty name); ``log: ""`` named the root folder, and both blank said the state
    store 'is a file of the audit log'."""
    path = write(tmp_path / "clearance.yaml", base_config(audit=audit))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert f"{path}: {said}" in str(info.value)


def test_provenance_hygiene_rules_cannot_be_disabled(tmp_path: Path) -> None:
    path = write(tmp_path / "clearance.yaml", base_config(rules={"PRV-01": {"enabled": False}}))
    with pytest.raises(ConfigError, match="rules.PRV-01.enabled"):
        load_policy(path)


def test_errors_in_referenced_files_name_that_file(tmp_path: Path) -> None:
    write(
        tmp_path / "tools.yaml",
        {
            "tools": {
                "x": {
                    "deployment": "cloud",
                    "trains_on_inputs": False,
                    "retains_data": "none",
                    "reuses_outputs": False,
                }
            }
        },
    )
    path = write(tmp_path / "clearance.yaml", base_config(tools="tools.yaml"))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert str(info.value).startswith(str(tmp_path / "tools.yaml")) and "tools.x.deployment" in str(
        info.value
    )
    write(tmp_path / "approvals.yaml", {"approvals": {"APR-1": {"rules": ["X"]}}})
    path = write(tmp_path / "clearance.yaml", base_config(approvals="approvals.yaml"))
    with pytest.raises(
        ConfigError, match=r"approvals.yaml: approvals.APR-1.expires: required field is missing"
    ):
        load_policy(path)


def test_missing_referenced_file(tmp_path: Path) -> None:
    path = write(tmp_path / "clearance.yaml", base_config(tools="nope.yaml"))
    with pytest.raises(ConfigError, match="tools: tool registry .*nope.yaml not found"):
        load_policy(path)


def test_a_typo_in_an_inline_tool_registry_names_its_field(tmp_path: Path) -> None:
    """``tools:`` is a file path or a mapping (a ``oneOf``): a mapping with a typo inside is
    reported by the errors of the branch it nearly matches, the deepest, with their fields,
    not by a sentence about the two forms that hides them."""
    tool = {"deployment": "consumr", "trains_on_inputs": False, "reuses_outputs": False}
    path = write(tmp_path / "clearance.yaml", base_config(tools={"acme": tool}))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert ": tools.acme.deployment: expected one of studio_enterprise, " in str(info.value)
    errors = dict(schema_errors(base_config(tools={"acme": tool}), "clearance.schema.json"))
    assert set(errors) == {"tools.acme.deployment", "tools.acme.retains_data"}
    assert errors["tools.acme.retains_data"] == "required field is missing"
    # neither form at all: both are named
    assert schema_errors(base_config(tools=5), "clearance.schema.json") == [
        ("tools", "expected a string or a mapping, got 5")
    ]


def test_inline_tool_registry(tmp_path: Path) -> None:
    tools = {
        "t": {
            "deployment": "consumer",
            "trains_on_inputs": "unknown",
            "retains_data": "unknown",
            "reuses_outputs": "unknown",
        }
    }
    policy = load_policy(write(tmp_path / "clearance.yaml", base_config(tools=tools)))
    assert policy.tools["t"]["deployment"] == "consumer"


def test_discovery_finds_nearest_config_upwards(tmp_path: Path) -> None:
    write(tmp_path / "clearance.yaml", base_config())
    nested = tmp_path / "comp" / "sh010" / "v001"
    nested.mkdir(parents=True)
    assert find_config([nested]) == tmp_path / "clearance.yaml"
    inner = write(tmp_path / "comp" / "clearance.yaml", base_config())
    assert find_config([nested]) == inner
    policy = load_policy(paths=[nested])
    assert policy.root == inner.parent
    assert policy.audit_log == inner.parent / ".clearance" / "audit.jsonl"


def test_a_nearest_config_that_is_not_a_file_is_an_error_not_the_default(
    tmp_path: Path,
) -> None:
    write(tmp_path / "clearance.yaml", base_config())  # further up: must not be used either
    show = tmp_path / "show"
    (show / "comp").mkdir(parents=True)
    config = show / "clearance.yaml"
    config.symlink_to("/mnt/unmounted_share/SHOW01/clearance.yaml")
    with pytest.raises(ConfigError) as info:
        load_policy(paths=[show / "comp"])
    assert str(info.value) == (
        f"{config}: the configuration is a symbolic link to "
        "/mnt/unmounted_share/SHOW01/clearance.yaml, which does not exist (or is not reachable)"
    )
    config.unlink()
    config.mkdir()
    with pytest.raises(ConfigError, match="the configuration is a folder, not a file"):
        load_policy(paths=[show / "comp"])
    with pytest.raises(ConfigError, match="configuration file is a folder, not a file"):
        load_policy(config)


def test_no_config_is_the_builtin_default_with_one_stage(tmp_path: Path) -> None:
    policy = load_policy(paths=[tmp_path])
    assert policy.is_default and [s.name for s in policy.stages] == ["default"]
    assert policy.stage_for("any/where.png").name == "default"


def test_stage_for_prefers_the_longest_folder(tmp_path: Path) -> None:
    config = base_config()
    config["stages"] = [
        {"name": "comp", "paths": ["comp/"]},
        {"name": "precomp", "paths": ["comp/pre/"]},
    ]
    policy = load_policy(write(tmp_path / "clearance.yaml", config))
    assert policy.stage_for("comp/pre/a.exr").name == "precomp"
    assert policy.stage_for("comp/a.exr").name == "comp"
    assert policy.stage_for("compx/a.exr").name == "default"


@pytest.mark.parametrize(
    "written",
    [
        "./delivery/",
        "delivery/.",
        "delivery",
        "comp/../delivery",
        "ABS/delivery",
        "d//../delivery/",
        "/delivery/",
    ],
)
def test_a_stage_folder_matches_however_it_is_written(tmp_path: Path, written: str) -> None:
    """``./delivery/`` matched no file: the stage's deliverables were in stage ``default``,
    not final."""
    config = base_config()
    folder = written.replace("ABS", str(tmp_path.resolve()))
    config["stages"] = [{"name": "delivery", "paths": [folder], "final": True}]
    policy = load_policy(write(tmp_path / "clearance.yaml", config))
    assert policy.stage_for("delivery/sh010_v001.png").name == "delivery"
    assert policy.stage_for("deliveryx/a.png").name == "default"


def test_an_absolute_stage_folder_through_an_alias_of_the_root_is_the_stages(
    tmp_path: Path,
) -> None:
    """``/shows/abc/delivery`` where ``/shows/abc -> /mnt/nas/abc`` and ``delivery`` itself
    a link to another share: only the part above the root is resolved."""
    root = tmp_path / "show"
    share = tmp_path / "share" / "delivery"
    share.mkdir(parents=True)
    root.mkdir()
    (root / "delivery").symlink_to(share)
    alias = tmp_path / "alias"
    alias.symlink_to(root)
    config = base_config()
    config["stages"] = [{"name": "delivery", "paths": [f"{alias}/delivery/"], "final": True}]
    policy = load_policy(write(root / "clearance.yaml", config))
    assert policy.stage_for("delivery/a.png").name == "delivery"


@pytest.mark.parametrize("written", ["../elsewhere/", "comp/../../x"])
def test_a_stage_folder_outside_the_configurations_folder_is_an_error(
    tmp_path: Path, written: str
) -> None:
    config = base_config()
    config["stages"] = [{"name": "comp", "paths": ["comp/", written]}]
    with pytest.raises(ConfigError) as err:
        load_policy(write(tmp_path / "clearance.yaml", config))
    assert "stages[0].paths[1]" in str(err.value)
    assert "outside the configuration's folder" in str(err.value)


def test_a_folder_given_to_two_stages_is_an_error(tmp_path: Path) -> None:
    """The first stage listed took the folder's files and the other never had any: a
    final ``delivery`` listing ``out/`` after ``comp`` did had its deliverables audited as
    not final, without a word. The same folder twice in one stage is harmless."""
    config = base_config()
    config["stages"] = [
        {"name": "comp", "paths": ["comp/", "out", "comp"]},
        {"name": "delivery", "paths": ["delivery/", "./out/"], "final": True},
    ]
    with pytest.raises(ConfigError) as err:
        load_policy(write(tmp_path / "clearance.yaml", config))
    assert err.value.field == "stages[1].paths[1]"
    assert "'./out/' is a folder of stage 'comp' already (stages[0].paths[1])" in str(err.value)


def test_a_stage_folder_that_is_a_link_inside_the_show_is_its_targets(tmp_path: Path) -> None:
    """``delivery -> comp/final``: a scan walks ``comp/final`` once, under its own path, so
    ``delivery`` as written matched no file: the final stage's deliverables were audited in
    comp, as not final (the link's warning said nothing of stages). The link stands for its
    target, as a path given through it does; a link to another stage's folder is that
    folder, given to two stages."""
    from PIL import Image

    config = base_config()
    config["stages"] = [
        {"name": "comp", "paths": ["comp/"]},
        {"name": "delivery", "paths": ["delivery/"], "final": True},
    ]
    write(tmp_path / "clearance.yaml", config)
    (tmp_path / "comp/final").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(tmp_path / "comp/x.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "comp/final/y.png")
    (tmp_path / "delivery").symlink_to("comp/final")
    policy = load_policy(tmp_path / "clearance.yaml")
    assert [s.paths for s in policy.stages] == [["comp"], ["comp/final"]]
    scanned = run_cli("scan", str(tmp_path), "--format", "json", "--no-progress")
    stages = {a["asset"]: a["stage"] for a in scanned.json()["assets"]}
    assert stages == {"comp/x.png": "comp", "comp/final/y.png": "delivery"}, scanned.stderr
    checked = run_cli("check", str(tmp_path / "delivery/y.png"), "--format", "json")
    assert [(a["asset"], a["stage"]) for a in checked.json()["assets"]] == [
        ("comp/final/y.png", "delivery")
    ]
    (tmp_path / "out").symlink_to("comp")
    config["stages"][1]["paths"] = ["out"]
    with pytest.raises(ConfigError) as err:
        load_policy(write(tmp_path / "clearance.yaml", config))
    assert err.value.field == "stages[1].paths[0]"
    assert "is a folder of stage 'comp' already" in str(err.value)


def test_rule_settings_enabled_and_outcome_with_globs(tmp_path: Path) -> None:
    rules = {
        "NFX-T*": {"outcome": "block"},
        "NFX-T1x": {"outcome": "notice"},
        "NFX-C2": {"denylist": ["Squid Game"]},
        "IPTC-04": {"enabled": False},
    }
    policy = load_policy(write(tmp_path / "clearance.yaml", base_config(rules=rules)))
    assert policy.rule_outcome("NFX-T2") is Outcome.BLOCK
    assert policy.rule_outcome("NFX-T1x") is Outcome.NOTICE
    assert policy.rule_settings("NFX-C2") == {"denylist": ["Squid Game"]}
    assert not policy.rule_enabled("IPTC-04") and policy.rule_enabled("IPTC-01")


def test_rules_entries_are_checked_against_the_loaded_rules(tmp_path: Path) -> None:
    from clearance.plugins import PluginHost

    rules = {
        "NFX-C02": {"denylist": ["Squid Game"]},  # the id misspelled
        "NFX-C2": {"denylistt": ["Squid Game"], "x-note": "legal asked"},  # the parameter
        "NFX-Z*": {"outcome": "block"},  # a glob matching nothing
        "NFX-T*": {"outcome": "block", "enterprise_downgrade": True},  # none of them takes it
        "NFX-*": {"enterprise_downgrade": True},  # NFX-D1 takes it
        "PRV-06": {"require_trusted": True, "trust_anchors": "certs/root.pem"},
        "x-comment": {"anything": 1},
    }
    policy = load_policy(write(tmp_path / "clearance.yaml", base_config(rules=rules)))
    unmatched, parameters = rule_setting_errors(policy, PluginHost(policy, autoload=False).registry)
    assert [(e.file, e.field) for e in unmatched] == [
        (str(tmp_path / "clearance.yaml"), "rules.NFX-C02"),
        (str(tmp_path / "clearance.yaml"), "rules.NFX-Z*"),
    ]
    assert "did you mean NFX-C2?" in unmatched[0].message
    assert "glob matches no rule" in unmatched[1].message
    assert [e.field for e in parameters] == [
        "rules.NFX-C2.denylistt",
        "rules.NFX-T*.enterprise_downgrade",
    ]
    assert "did you mean denylist?" in parameters[0].message


def test_a_rule_without_declared_parameters_accepts_every_key(tmp_path: Path) -> None:
    site = [
        Rule("SITE-OLD-01", "old", "creative-output", Outcome.NOTICE),  # params not declared
        Rule("SITE-NEW-01", "new", "creative-output", Outcome.NOTICE, params=["names"]),
    ]
    rules = {"SITE-OLD-01": {"whatever": 1}, "SITE-NEW-01": {"names": [], "nmaes": []}}
    policy = load_policy(write(tmp_path / "clearance.yaml", base_config(rules=rules)))
    unmatched, parameters = rule_setting_errors(policy, site)
    assert unmatched == []
    assert [e.field for e in parameters] == ["rules.SITE-NEW-01.nmaes"]


def test_schema_errors_are_complete_and_sorted() -> None:
    errors = schema_errors(
        {
            "provenance": 1,
            "generated": "no",
            "steps": [{"tool": 1, "inputs": [{"ref": "x", "class": "stolen"}]}],
        },
        "provenance.schema.json",
    )
    fields = [f for f, _ in errors]
    assert fields == sorted(fields)
    assert {"generated", "steps[0].tool", "steps[0].inputs[0].class"} <= set(fields)


def test_sidecar_example_from_the_design_validates() -> None:
    doc = yaml.safe_load(
        Path(__file__).with_name("data").joinpath("design_sidecar.yaml").read_text()
    )
    from clearance._yaml import _normalise

    assert schema_errors(_normalise(doc), "provenance.schema.json") == []


def _assert_fast_checks_agree(
    checks: dict[str, Any], doc: Any, expected: bool, shown: object
) -> None:
    """Each fast validator (None: not installed) says ``expected`` of ``doc``."""
    for label, check in checks.items():
        if check is None:
            continue
        try:
            check(doc)
            verdict = True
        except Exception:
            verdict = False
        assert verdict == expected, f"{label} says {verdict} for {shown!r}"


def _mutants(doc: Any, rng: random.Random, count: int) -> Iterator[Any]:
    """``doc`` with one random change each: a field removed, retyped, misdated or added."""
    values: list[Any] = [
        None,
        0,
        -1,
        1.5,
        True,
        "",
        "unknown",
        "2026-13-01",
        "2026-02-30",
        "2026-01-01",
        [],
        {},
        ["x"],
        {"x": 1},
    ]
    for _ in range(count):
        mutant = copy.deepcopy(doc)
        node, key = mutant, None
        for _depth in range(rng.randint(1, 4)):  # walk down a random path
            keys = list(node) if isinstance(node, dict) else list(range(len(node)))
            if not keys:
                key = None
                break
            key = rng.choice(keys)
            child = node[key]
            if not isinstance(child, (dict, list)) or rng.random() < 0.3:
                break
            node, key = child, None
        action = rng.random()
        if key is None or action < 0.2:
            if isinstance(node, dict):
                node[f"unknown_{rng.randint(0, 9)}"] = rng.choice(values)
            elif isinstance(node, list):
                node.append(rng.choice(values))
        elif action < 0.4 and isinstance(node, dict):
            del node[key]
        else:
            node[key] = rng.choice(values)
        yield mutant


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("provenance.schema.json", lambda: genai_sidecar()),
        ("clearance.schema.json", lambda: load_document(SAMPLE / "clearance.yaml")),
        ("tools.schema.json", lambda: load_document(SAMPLE / "tools.yaml")),
        ("approvals.schema.json", lambda: load_document(CONFIGS / "approvals.yaml")),
    ],
)
def test_fast_schema_checks_give_jsonschemas_verdict(name: str, valid: Any) -> None:
    """The hot path asks a fast validator "valid?"; it must agree with jsonschema on every
    document, valid or not (a fast "valid" that jsonschema would refuse is a silent pass)."""
    from clearance.policy import _python_check, _rust_check, _validator

    authority = _validator(name)  # jsonschema, as configured for explaining errors
    checks = {"jsonschema-rs": _rust_check(name), "fastjsonschema": _python_check(name)}
    # the hot path (sidecars) and every command's start-up (clearance.yaml, which refers to
    # the tool registry's schema): a declared dependency, in use
    if name in ("provenance.schema.json", "clearance.schema.json"):
        assert checks["jsonschema-rs"] is not None
    base = valid()
    assert authority.is_valid(base)
    docs = [base, *_mutants(base, random.Random(name), 400)]
    invalid = 0
    for doc in docs:
        expected = authority.is_valid(doc)
        invalid += not expected
        _assert_fast_checks_agree(checks, doc, expected, doc)
    assert invalid > 50  # the mutations do reach the schema's constraints


def test_a_valid_configuration_loads_without_importing_jsonschema(tmp_path: Path) -> None:
    """jsonschema (and its ``referencing``, ``attrs``...) costs every command about 90 ms to
    import: a valid ``clearance.yaml`` — whose schema refers to the tool registry's — is
    checked by jsonschema-rs alone; an invalid one is still explained by jsonschema."""
    import subprocess
    import sys

    (tmp_path / "clearance.yaml").write_text(
        "clearance: 1\n"
        "production: {id: P1}\n"
        "tools:  # checked against the tool registry's schema, by reference\n"
        "  gen: {vendor: V, deployment: studio_enterprise, trains_on_inputs: false,\n"
        "        retains_data: none, reuses_outputs: false, marks_output: c2pa}\n"
        "stages: [{name: comp, paths: [comp/]}]\n"
    )
    code = (
        "import sys\n"
        "from clearance.policy import load_policy\n"
        f"load_policy({str(tmp_path / 'clearance.yaml')!r})\n"
        "print('jsonschema' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    (tmp_path / "clearance.yaml").write_text("clearance: 1\nstages: {}\n")
    with pytest.raises(ConfigError, match=r"stages"):
        load_policy(tmp_path / "clearance.yaml")


def _date_strings() -> list[str]:
    """Dates and date-times a user may write, valid or nearly so, in the forms fast format
    checkers and jsonschema's tend to disagree on."""
    strings = [
        "0000-01-01",
        "0001-01-01",
        "9999-12-31",
        "10000-01-01",
        "2024-02-29",
        "2026-02-29",
        "2000-02-29",
        "1900-02-29",
        "2026-02-30",
        "2026-04-31",
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "2026-01-32",
        "2026-1-2",
        "20260102",
        "2026-W01-1",
        "2026-001",
        "2026-01",
        "2026",
        "+2026-01-02",
        "-2026-01-02",
        " 2026-01-02",
        "2026-01-02 ",
        "2026-01-02\n",
        "\t2026-01-02",
        "2026/01/02",
        "2026-01-02T00:00:00",
        "٢٠٢٦-٠١-٠٢",  # Arabic-Indic digits: \d without re.ASCII would take them
        "２０２６-０１-０２",
        "",
    ]
    for day in ("2026-01-02", "0000-01-01", "9999-12-31", "2024-02-29", "2026-02-29"):
        for time in (
            "T10:00:00Z",
            "t10:00:00z",
            "T10:00:00",
            "T10:00:00+01:00",
            "T10:00:00-23:59",
            "T10:00:00+24:00",
            "T10:00:00.5Z",
            "T10:00:00.123456789Z",
            "T23:59:60Z",
            "T24:00:00Z",
            " 10:00:00Z",
            "T10:00Z",
            "T10:00:00Z ",
        ):
            strings.append(day + time)
    return strings


def test_every_format_of_the_shipped_schemas_is_checked_as_jsonschema_checks_it() -> None:
    """The fast validators are given a checker per ``format`` keyword of the shipped schemas;
    each must answer as jsonschema's format checker on every string (jsonschema-rs's own
    ``date`` takes year 0000, which ``datetime.date`` and so jsonschema refuse)."""
    import jsonschema

    from clearance.policy import _format_checkers, _formats_in

    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    used = set()
    for name in SCHEMAS:
        checkers = _format_checkers(name)
        assert set(checkers) >= _formats_in(schema(name))
        used |= set(checkers)
        for fmt, check in checkers.items():
            for text in _date_strings():
                assert check(text) == checker.conforms(text, fmt), (fmt, text)
    assert "date" in used  # the walk does find the schemas' formats


@pytest.mark.parametrize(
    ("name", "document"),
    [
        (
            "provenance.schema.json",
            lambda when: {"provenance": 1, "generated": True, "disclosure": {"notified_at": when}},
        ),
        (
            "approvals.schema.json",
            lambda when: {
                "approvals": {"APR-1": {"rules": ["NFX-C1"], "expires": when}},
                "consents": {
                    "C-1": {
                        "performer": "P-1",
                        "production": "SHOW01",
                        "uses": ["dubbing"],
                        "signed_at": when,
                        "expires": "2027-01-01",
                    }
                },
            },
        ),
    ],
)
def test_fast_date_verdicts_are_jsonschemas(name: str, document: Any) -> None:
    """A date jsonschema refuses (``0000-01-01``) is never a fast "valid": that would be no
    ``PRV-02`` for the sidecar, a configuration that loads, and ``validate`` saying valid."""
    from clearance.policy import _python_check, _rust_check, _validator

    authority = _validator(name)
    checks = {"jsonschema-rs": _rust_check(name), "fastjsonschema": _python_check(name)}
    assert checks["jsonschema-rs"] is not None
    refused = 0
    for text in _date_strings():
        doc = document(text)
        expected = authority.is_valid(doc)
        refused += not expected
        _assert_fast_checks_agree(checks, doc, expected, text)
        assert (schema_errors(doc, name) == []) == expected, text
    assert 0 < refused < len(_date_strings())
    assert schema_errors(document("0000-01-01"), name)


def test_a_valid_dated_sidecar_is_checked_without_importing_jsonschema() -> None:
    """The date checker given to jsonschema-rs is jsonschema's check, not jsonschema: the hot
    path still never imports it for a valid document."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from clearance.policy import schema_errors\n"
        "doc = {'provenance': 1, 'generated': True, 'disclosure': {'notified_at': '2026-11-02'}}\n"
        "assert schema_errors(doc, 'provenance.schema.json') == []\n"
        "print('jsonschema' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_messages_spell_values_and_keys_as_yaml_does() -> None:
    """A message shows what the user would write: the options of an enum and the value got
    as YAML spells them (``true``, not Python's ``True``), and an unquoted ``yes:`` key, which
    YAML reads as a boolean, is named as YAML spells it, with how to keep the word."""
    from clearance._yaml import parse_document

    tool = {"deployment": "consumer", "trains_on_inputs": "maybe", "retains_data": "none"}
    tools = schema_errors({"tools": {"t": {**tool, "reuses_outputs": None}}}, "tools.schema.json")
    assert ("tools.t.trains_on_inputs", "expected one of true, false, unknown; got 'maybe'") in (
        tools
    )
    assert ("tools.t.reuses_outputs", "expected one of true, false, unknown; got null") in tools
    sidecar = parse_document("provenance: 1\ngenerated: yes\nyes: 1\noutput: {depicts_real: 2}\n")
    errors = dict(schema_errors(sidecar, "provenance.schema.json"))
    assert errors["output.depicts_real"] == "expected one of true, false, unknown, null; got 2"
    assert errors["true"].startswith("unknown field 'true' (")
    assert "quote" in errors["true"] and "'yes':" in errors["true"]
    assert schema_errors({"provenance": 1, "generated": None}, "provenance.schema.json") == [
        ("generated", "expected true or false, got null")
    ]


def test_a_configuration_that_contains_itself_is_an_error_naming_file_and_field(
    tmp_path: Path,
) -> None:
    write(tmp_path / "approvals.yaml", "approvals:\n  APR-1: &a {rules: [X], x-self: [*a]}\n")
    path = write(tmp_path / "clearance.yaml", base_config(approvals="approvals.yaml"))
    with pytest.raises(ConfigError) as info:
        load_policy(path)
    assert str(info.value).startswith(
        f"{tmp_path / 'approvals.yaml'}: approvals.APR-1.x-self[0]: invalid YAML: an alias "
        "refers to its own container"
    )
