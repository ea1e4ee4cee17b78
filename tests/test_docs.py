"""The user docs tell the truth: what ``docs/*.md`` and ``README.md`` say of the command
line, the rule catalogue, the configuration examples, the audit events and the output
formats, checked against the real ``clearance`` command (through subprocess) on real files.

Users script against these pages; a key the code writes that they do not name, or an option
they do not list, is a contract nobody can read. The checks are structural (names, keys,
columns, exit codes) so that they stay fast and do not break on a reworded sentence.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli

REPO = Path(__file__).resolve().parents[1]
GENERATE = REPO / "sample_pipeline" / "generate.py"


def doc(name: str) -> str:
    return (REPO / "docs" / name).read_text(encoding="utf-8")


def all_docs() -> str:
    pages = sorted((REPO / "docs").glob("*.md")) + [REPO / "README.md"]
    return "\n".join(p.read_text(encoding="utf-8") for p in pages)


def blocks(text: str, lang: str) -> list[str]:
    """The fenced code blocks of ``lang`` in ``text``, in order."""
    return re.findall(rf"^```{lang}\n(.*?)^```", text, re.S | re.M)


def section(text: str, heading: str) -> str:
    """``text`` from the heading ``heading`` to the next heading of the same level."""
    level = heading.split(" ", 1)[0]
    start = text.index(heading + "\n")
    end = text.find(f"\n{level} ", start + len(heading))
    return text[start : end if end != -1 else len(text)]


def quoted(text: str) -> set[str]:
    """Every ``"word"`` in ``text``: the keys a JSON skeleton in the docs names."""
    return set(re.findall(r'"([A-Za-z_]+)"', text))


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample show of docs/sample-pipeline.md, generated and scanned once, as its shell
    example does (``clearance scan OUTDIR/show``: "exit 1: findings are open, as intended")."""
    out = tmp_path_factory.mktemp("docs")
    done = subprocess.run(
        [sys.executable, str(GENERATE), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    root = Path(done.stdout.strip())
    assert (root / "clearance.yaml").is_file()
    scanned = run_cli("scan", str(root), "--no-progress")
    assert scanned.code == 1, scanned.stderr
    return root


def log_of(root: Path) -> list[dict[str, Any]]:
    lines = (root / ".clearance" / "audit.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


# -- the command line ------------------------------------------------------------------------


def test_every_command_and_option_is_documented() -> None:
    """Each subcommand is in docs/cli.md's table, and each option ``--help`` lists (long and
    short form) is named somewhere in the docs: the table left out ``--no-progress``,
    ``--version``, ``--output`` and most of report's, verify's and check's options."""
    from clearance.cli import build_parser

    parser = build_parser()
    text = all_docs()
    table = section(doc("cli.md"), "# The `clearance` command")
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    missing = []
    for action in parser._actions:
        missing += [o for o in action.option_strings if o not in ("-h", "--help") and o not in text]
    for name, sub in commands.choices.items():
        if f"`clearance {name}" not in table:
            missing.append(f"clearance {name}")
        for action in sub._actions:
            if action.help == argparse.SUPPRESS:
                continue
            for option in action.option_strings:
                if option in ("-h", "--help"):
                    continue
                if not re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text):
                    missing.append(f"clearance {name} {option}")
    assert not missing, missing


def test_readme_quick_start_runs_as_written(tmp_path: Path) -> None:
    """README's quick start: ``init show/`` writes the three files, ``scan show/`` of the
    starter exits 0 (nothing to audit), ``rules`` lists the default pack."""
    init = run_cli("init", "show/", cwd=tmp_path)
    assert init.code == 0, init.stderr
    for name in ("clearance.yaml", "tools.yaml", "approvals.yaml"):
        assert (tmp_path / "show" / name).is_file()
    scan = run_cli("scan", "show/", "--format", "json", cwd=tmp_path)
    assert scan.code == 0, scan.stderr
    assert scan.json()["version"] == 1
    rules = run_cli("rules", cwd=tmp_path)
    assert rules.code == 0 and "NFX-" in rules.stdout and "IPTC-" in rules.stdout


# -- the rule catalogue ------------------------------------------------------------------------


def test_docs_rules_lists_every_rule_clearance_rules_lists_with_its_outcome(
    tmp_path: Path,
) -> None:
    """docs/rules.md's tables and ``clearance rules`` hold the same ids (GUIDANCE.md's, which
    are contract) with the same default outcome."""
    listed = run_cli("rules", "--format", "json", cwd=tmp_path)
    assert listed.code == 0, listed.stderr
    rules = {r["id"]: r["outcome"] for r in listed.json()["rules"]}
    table = {
        m.group(1): m.group(2)
        for m in re.finditer(r"^\| ((?:NFX|PRV|IPTC)-\w+) \| (\w+)", doc("rules.md"), re.M)
    }
    assert set(table) == set(rules)
    assert {i: o for i, o in table.items() if rules[i] != o} == {}


# -- configuration and sidecar examples ------------------------------------------------------------


def test_configuration_and_sidecar_examples_validate_and_load(tmp_path: Path) -> None:
    """Each YAML example of docs/config.md, docs/sidecar.md, docs/rules.md and
    docs/embedded-provenance.md is valid as written (``clearance validate``, exit 0), and the
    configuration example loads for a scan with the example plugins (``../hooks/``)."""
    config_md = blocks(doc("config.md"), "yaml")
    [clearance_yaml] = [b for b in config_md if b.startswith("clearance: 1")]
    [tools_yaml] = [b for b in config_md if b.startswith("tools:")]
    [approvals_yaml] = [b for b in config_md if b.startswith("approvals:")]
    sidecar_yaml = blocks(doc("sidecar.md"), "yaml")[0]
    [rules_yaml] = blocks(doc("rules.md"), "yaml")
    [readers_yaml] = [b for b in blocks(doc("embedded-provenance.md"), "yaml") if "readers:" in b]

    shutil.copytree(REPO / "hooks", tmp_path / "hooks")
    root = tmp_path / "show"
    root.mkdir()
    (root / "clearance.yaml").write_text(clearance_yaml, encoding="utf-8")
    (root / "tools.yaml").write_text(tools_yaml, encoding="utf-8")
    (root / "approvals.yaml").write_text(approvals_yaml, encoding="utf-8")
    (root / "sh010_bg_v003.genai.yaml").write_text(sidecar_yaml, encoding="utf-8")
    other = tmp_path / "other"
    other.mkdir()
    (other / "clearance.yaml").write_text(
        "clearance: 1\n" + readers_yaml + rules_yaml.replace("rules:\n", "", 1), encoding="utf-8"
    )
    for path in (
        root / "clearance.yaml",
        root / "tools.yaml",
        root / "approvals.yaml",
        root / "sh010_bg_v003.genai.yaml",
        other / "clearance.yaml",
    ):
        checked = run_cli("validate", str(path))
        assert checked.code == 0, (path.name, checked.stdout, checked.stderr)
    for folder in (root, other):
        scan = run_cli("scan", str(folder), "--no-progress")
        assert scan.code == 0, scan.stderr


# -- audit events ----------------------------------------------------------------------------


def event_rows() -> dict[str, str]:
    """docs/cli.md's audit event table: each event name → its row."""
    rows = {}
    for line in section(doc("cli.md"), "## Audit events").splitlines():
        if not line.startswith("| `"):
            continue
        first = line.split("|")[1]
        for name in re.findall(r"`([a-z_]+(?:\.[a-z_*]+)?)`", first):
            rows[name] = line
    return rows


def test_every_event_and_details_key_a_scan_writes_is_documented(show: Path) -> None:
    """Each event a scan of the sample show writes has a row in docs/cli.md's table, and each
    key of its ``details`` is named in that row (``run.finished``'s ``plugin_failures`` and
    ``errors`` were not); the envelope is the documented one, key for key."""
    rows = event_rows()
    [envelope] = blocks(section(doc("cli.md"), "## Audit events"), "json")
    documented = re.findall(r'"([a-z_]+)":', envelope)
    undocumented = set()
    for event in log_of(show):
        assert [k for k in event if k != "details"] == documented[:-1]
        row = rows.get(event["event"])
        if row is None:
            undocumented.add(event["event"])
            continue
        undocumented |= {f"{event['event']}.{k}" for k in event["details"] if f"`{k}`" not in row}
    assert not undocumented, sorted(undocumented)


# -- output formats ----------------------------------------------------------------------------


def test_scan_json_is_the_documented_document(show: Path) -> None:
    """docs/cli.md's ``scan --format json`` example has the keys a scan prints; a finding
    adds only the documented ``unsure`` and ``plugin``."""
    [example, *_] = blocks(section(doc("cli.md"), "## Output of `scan --format json`"), "json")
    documented = json.loads(example)
    scan = run_cli("scan", str(show), "--format", "json", "--no-progress")
    assert scan.code == 1, scan.stderr
    actual = scan.json()
    assert list(actual) == list(documented)
    assert list(actual["summary"]) == list(documented["summary"])
    doc_asset = documented["assets"][0]
    doc_finding = doc_asset["findings"][0]
    for asset in actual["assets"]:
        assert set(asset) <= set(doc_asset) and set(doc_asset) - {"frames"} <= set(asset)
        for finding in asset["findings"]:
            assert set(doc_finding) <= set(finding) <= set(doc_finding) | {"unsure", "plugin"}
            assert "plugin" in finding  # docs/cli.md: every finding names its plugin


def test_report_json_csv_and_junit_are_as_documented(show: Path, tmp_path: Path) -> None:
    """docs/reports.md: every key of ``report --format json`` (top level, runs, summary,
    assets, findings, approvals) is in its skeleton; the CSV's columns are the documented
    ones, in order; the JUnit document has one suite per stage, cases named by asset."""
    log = str(show / ".clearance" / "audit.jsonl")
    formats = section(doc("reports.md"), "## Formats")
    [skeleton] = blocks(section(formats, "### `json`"), "json")
    names = quoted(skeleton)
    report = run_cli("report", log, "--format", "json")
    assert report.code == 0, report.stderr
    data = report.json()
    keys = set(data) | set(data["summary"])
    keys |= {k for s in data["summary"]["by_stage"].values() for k in s}
    keys |= {k for r in data["runs"] for k in r}
    keys |= {k for a in data["assets"] for k in a}
    keys |= {k for a in data["assets"] for f in a["findings"] for k in f}
    keys |= {k for kind in data["approvals"].values() for a in kind for k in a}
    assert keys - names == set()

    [columns] = re.findall(r"spreadsheets: `([a-z_,\s]+)`", section(formats, "### `csv`"))
    rows = list(csv.reader(io.StringIO(run_cli("report", log, "--format", "csv").stdout)))
    assert rows[0] == [c.strip(",") for c in columns.split()]
    assert len(rows) > 1

    out = tmp_path / "report.xml"
    junit = run_cli("report", log, "--format", "junit", "-o", str(out))
    assert junit.code == 0, junit.stderr
    import xml.etree.ElementTree as ET

    suites = ET.parse(out).getroot().findall("testsuite")
    stages = {a["stage"] for a in data["assets"]}
    assert {s.get("name") for s in suites} == stages
    for suite in suites:
        for case in suite.findall("testcase"):
            assert case.get("classname") == f"clearance.{suite.get('name')}"


def test_verify_json_is_as_documented(show: Path) -> None:
    """docs/auditlog.md's ``verify --json`` skeleton names every key it prints."""
    text = section(doc("auditlog.md"), "## `clearance verify`")
    [skeleton] = re.findall(r"`--json` lists every one:\n`(\{.*?\})`", text, re.S)
    names = quoted(skeleton)
    verified = run_cli("verify", "--json", str(show / ".clearance" / "audit.jsonl"))
    assert verified.code == 0, verified.stderr
    data = verified.json()
    keys = set(data) | {k for log in data["logs"] for k in log}
    assert keys - names == set()
    assert data["intact"] is True


def test_timeline_json_and_csv_are_as_documented(show: Path) -> None:
    """docs/timeline.md's ``json`` skeleton names every key ``timeline`` prints (the sample
    show's edit), and its CSV columns are the documented ones."""
    pytest.importorskip("opentimelineio")
    cut = show / "editorial" / "SALT01_ep101_cut_v001.otio"
    text = section(doc("timeline.md"), "## Output")
    [skeleton] = re.findall(r"`json` prints every clip: `(\{.*?\})`", text, re.S)
    names = quoted(skeleton)
    timeline = run_cli("timeline", str(cut), "--format", "json")
    assert timeline.code == 1, timeline.stderr
    data = timeline.json()
    keys = set(data) | set(data["summary"]) | {k for c in data["clips"] for k in c}
    assert keys - names == set()
    [columns] = re.findall(r"`csv` has one row per clip[^`]*`([a-z_,\s]+)`", text)
    header = next(csv.reader(io.StringIO(run_cli("timeline", str(cut), "-f", "csv").stdout)))
    assert header == [c.strip(",") for c in columns.split()]


def test_rules_and_plugins_json_are_as_documented(show: Path) -> None:
    """docs/cli.md names every key of ``rules --format json`` and ``plugins --format json``
    (with the sample show's site plugins, one attached to one stage)."""
    text = section(doc("cli.md"), "## Output of `rules` and `plugins` `--format json`")
    names = quoted(text)
    rules = run_cli("rules", "--format", "json", cwd=show)
    assert rules.code == 0, rules.stderr
    keys = set(rules.json()) | {k for r in rules.json()["rules"] for k in r}
    plugins = run_cli("plugins", "--format", "json", cwd=show)
    assert plugins.code == 0, plugins.stderr
    data = plugins.json()
    keys |= set(data) | {k for p in data["plugins"] for k in p}
    assert keys - names == set()
    assert {p["kind"] for p in data["plugins"]} == {"builtin", "config"}


def test_every_watch_event_and_details_key_is_documented(tmp_path: Path) -> None:
    """docs/watch.md's event table names every ``details`` key of the ``watch.*`` events a
    real watcher writes (``watch.stats`` had seven it did not name), and the keys of
    ``asset.audited``'s ``details.watch``."""
    from _watch_harness import WatchProcess, events, exr_bytes, make_show, wait_audited, write_file

    rows = {}
    for line in section(doc("watch.md"), "## Events").splitlines():
        if line.startswith("| `"):
            for name in re.findall(r"`([a-z_]+\.[a-z_]+)`", line.split("|")[1]):
                rows[name] = line
    root = make_show(tmp_path)
    with WatchProcess(root) as proc:
        write_file(root / "comp" / "a.exr", exr_bytes())
        wait_audited(root, 1)
        assert proc.terminate() == 0
    written = [e for e in events(root) if e["event"].startswith("watch.")]
    assert {e["event"] for e in written} >= {"watch.started", "watch.rescan", "watch.stats"}
    undocumented = {
        f"{e['event']}.{key}"
        for e in written
        for key in e["details"]
        if f"`{key}`" not in rows.get(e["event"], "")
    }
    [audited] = events(root, "asset.audited")
    row = rows["asset.audited"]
    undocumented |= {f"watch.{k}" for k in audited["details"]["watch"] if k not in row}
    assert not undocumented, sorted(undocumented)


def test_python_examples_run(show: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python examples of docs/auditlog.md and docs/reports.md run as written, in a folder
    holding the sample show's log (the names a snippet leaves to its context given), and the
    imports of docs/embedded-provenance.md's resolve; the log written verifies intact."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(show / ".clearance" / "audit.jsonl", tmp_path / "audit.jsonl")
    [writer] = blocks(doc("auditlog.md"), "python")
    exec(  # noqa: S102 - the documented example, run as a user would
        compile(writer, "docs/auditlog.md", "exec"),
        {"run_id": "0" * 32, "socket": __import__("socket"), "assets": ["comp/a.exr"]},
    )
    verified = run_cli("verify", str(tmp_path / ".clearance" / "audit.jsonl"))
    assert verified.code == 0, verified.stdout
    [reporting] = blocks(doc("reports.md"), "python")
    exec(compile(reporting, "docs/reports.md", "exec"), {})  # noqa: S102
    assert "<html" in (tmp_path / "report.html").read_text(encoding="utf-8").lower()
    [readers] = blocks(doc("embedded-provenance.md"), "python")
    imports = "\n".join(line for line in readers.splitlines() if line.startswith("from "))
    exec(compile(imports, "docs/embedded-provenance.md", "exec"), {})  # noqa: S102
