"""Lineage: GenAI ancestry recorded in the state store and inherited through declared inputs.

Real files in ``tmp_path``, the real SQLite state store, the real CLI for end-to-end cases.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from _embedded import write_exr
from clearance.discover import discover
from clearance.engine import Session, audit_record
from clearance.lineage import (
    LineageError,
    LineageStore,
    normalise_ref,
    sequence_key,
)
from clearance.policy import load_policy
from clearance.testing import write_png
from conftest import run_cli

TOOLS = {
    "gen-tool": {
        "vendor": "Acme",
        "deployment": "studio_enterprise",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "c2pa",
        "terms": "MSA §7",
    },
    "nuke-comp": {
        "vendor": "Foundry",
        "deployment": "self_hosted",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "none",
        "terms": "EULA",
    },
}


def write_config(root: Path, stages: list[dict[str, Any]]) -> Path:
    config = {"clearance": 1, "production": {"id": "SHOW01"}, "tools": TOOLS, "stages": stages}
    path = root / "clearance.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def sequence(root: Path, pattern: str, frames: range = range(1001, 1004)) -> str:
    head, _, ext = pattern.rpartition(".####.")
    for frame in frames:
        path = root / f"{head}.{frame:04d}.{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_exr(path)
    return pattern


def single(root: Path, rel: str) -> str:
    (root / rel).parent.mkdir(parents=True, exist_ok=True)
    write_exr(root / rel)
    return rel


def sidecar(root: Path, rel: str, doc: dict[str, Any]) -> None:
    if ".####." in rel:
        path = root / (rel.split(".####.")[0] + ".genai.yaml")
    else:
        path = root / f"{rel}.genai.yaml"
    body = {"provenance": 1, "asset": rel.rsplit("/", 1)[-1], "production": "SHOW01", **doc}
    path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")


def genai_plate() -> dict[str, Any]:
    return {
        "shot": "sh010",
        "generated": True,
        "source_type": "trainedAlgorithmicMedia",
        "steps": [{"tool": "gen-tool", "tool_version": "1", "inputs": []}],
        "output": {"use": "final", "on_screen": "background", "subject": "incidental"},
        "disclosure": {"notified_at": "2026-11-01", "flagged_at": "2026-11-02"},
    }


def silent(*inputs: tuple[str, str], use: str = "final") -> dict[str, Any]:
    """A sidecar that says nothing about GenAI: not generated, no source type."""
    return {
        "shot": "sh010",
        "generated": False,
        "steps": [
            {
                "tool": "nuke-comp",
                "tool_version": "15",
                "inputs": [{"ref": ref, "class": cls} for ref, cls in inputs],
            }
        ],
        "output": {"use": use, "on_screen": "background", "subject": "incidental"},
    }


def scan(root: Path) -> dict[str, dict[str, Any]]:
    """Audit the whole tree in-process (the real engine, plugins and state store)."""
    policy = load_policy(root / "clearance.yaml")
    found = discover([root], policy)
    session = Session(policy, command="scan", paths=[str(root)])
    result = session.run(found.assets)
    session.close(result)
    assert not result.plugin_failures, result.plugin_failures
    return {a.asset.rel: a for a in result.assets}  # type: ignore[misc]


def rules_of(result: Any) -> set[str]:
    return {f.rule for f in result.findings}


def finding(result: Any, rule: str) -> Any:
    found = [f for f in result.findings if f.rule == rule]
    assert len(found) == 1, [f.to_dict() for f in result.findings]
    return found[0]


@pytest.fixture
def comp_show(tmp_path: Path) -> Path:
    """GenAI plate → comp (silent sidecar) → delivery (silent sidecar, final stage)."""
    write_config(
        tmp_path,
        [
            {"name": "plate_gen", "paths": ["gen/plates"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    plate = sequence(tmp_path, "gen/plates/sh010_plate_v001.####.exr")
    sidecar(tmp_path, plate, genai_plate())
    comp = sequence(tmp_path, "comp/sh010_comp_v004.####.exr")
    # the comp names its plate with the other padding style: %04d is the same sequence
    sidecar(tmp_path, comp, silent(("gen/plates/sh010_plate_v001.%04d.exr", "production_image")))
    final = single(tmp_path, "delivery/sh010_final_v001.exr")
    sidecar(tmp_path, final, silent((comp, "production_image")))
    return tmp_path


# -------------------------------------------------------------------------------------------
# GenAI plate → comp → delivery
# -------------------------------------------------------------------------------------------


def test_genai_plate_through_silent_comp_reaches_delivery_as_gp4(comp_show: Path) -> None:
    scanned = run_cli("scan", str(comp_show), "--format", "json", "--no-progress")
    assert scanned.code == 1, scanned.stderr
    assets = {a["asset"]: a for a in scanned.json()["assets"]}
    delivery = assets["delivery/sh010_final_v001.exr"]
    gp4 = [f for f in delivery["findings"] if f["rule"] == "NFX-GP4"]
    assert len(gp4) == 1 and gp4[0]["outcome"] == "approval"
    assert gp4[0]["evidence"]["inherited_from"] == ["gen/plates/sh010_plate_v001.####.exr"]
    assert "built on GenAI material" in gp4[0]["message"]
    iptc3 = [f for f in delivery["findings"] if f["rule"] == "IPTC-03"]
    assert iptc3 and iptc3[0]["outcome"] == "block"  # final, and no GenAI source type
    comp = assets["comp/sh010_comp_v004.####.exr"]
    comp_rules = {f["rule"] for f in comp["findings"]}
    assert "IPTC-03" in comp_rules
    # the lineage reader never says "generated": no disagreement with the silent sidecar
    assert "PRV-04" not in comp_rules and "PRV-04" not in {f["rule"] for f in delivery["findings"]}

    # the same tree with the lineage plugin blocked: the delivery would pass GP4 unnoticed
    blocked = run_cli(
        "scan", str(comp_show), "--format", "json", "--no-progress", "-p", "no:clearance.lineage"
    )
    assets = {a["asset"]: a for a in blocked.json()["assets"]}
    assert "NFX-GP4" not in {f["rule"] for f in assets["delivery/sh010_final_v001.exr"]["findings"]}


def test_comp_with_genai_source_type_satisfies_iptc03(comp_show: Path) -> None:
    comp = "comp/sh010_comp_v004.####.exr"
    doc = silent(("gen/plates/sh010_plate_v001.####.exr", "production_image"))
    doc.update(generated=True, source_type="compositeSynthetic")
    sidecar(comp_show, comp, doc)
    results = scan(comp_show)
    assert "IPTC-03" not in rules_of(results[comp])
    assert "PRV-04" not in rules_of(results[comp])


def test_lineage_cli_prints_the_tree_and_json(comp_show: Path) -> None:
    run_cli("scan", str(comp_show), "--no-progress")
    tree = run_cli("lineage", str(comp_show / "delivery/sh010_final_v001.exr"))
    assert tree.code == 0, tree.stderr
    lines = tree.stdout.splitlines()
    assert lines[0].startswith("delivery/sh010_final_v001.exr  [delivery]  not generated")
    assert lines[1].startswith("└─ comp/sh010_comp_v004.####.exr  [comp]  not generated")
    assert lines[2].startswith("   └─ gen/plates/sh010_plate_v001.####.exr  [plate_gen]  GenAI")
    assert (
        "GenAI ancestry: 1 GenAI ancestor(s): gen/plates/sh010_plate_v001.####.exr (depth 2)"
        in tree.stdout
    )

    # a frame file of the comp names the comp sequence; JSON carries the same ancestry
    frame = comp_show / "comp/sh010_comp_v004.1002.exr"
    doc = run_cli("lineage", str(frame), "--format", "json")
    assert doc.code == 0, doc.stderr
    data = doc.json()
    assert data["asset"]["asset"] == "comp/sh010_comp_v004.####.exr"
    assert [g["asset"] for g in data["ancestry"]["genai"]] == [
        "gen/plates/sh010_plate_v001.####.exr"
    ]

    missing = run_cli(
        "lineage", "comp/nothing_v001.exr", "--config", str(comp_show / "clearance.yaml")
    )
    assert missing.code == 2 and "not in the lineage store" in missing.stderr


def test_lineage_of_an_asset_whose_folder_is_gone_finds_its_show(
    comp_show: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The store remembers a deliverable whose folder was deleted or moved since its audit:
    ``clearance lineage /show/delivery/x.exr``, run from outside the show, still finds the
    show's configuration through the nearest folder of the path that is there (it looked in
    the working folder: 'no state store', exit 2)."""
    assert run_cli("scan", str(comp_show), "--no-progress").code == 1
    (comp_show / "delivery").rename(comp_show / "delivery_moved")
    elsewhere = tmp_path_factory.mktemp("elsewhere")
    for asset in (
        str(comp_show / "delivery/sh010_final_v001.exr"),
        os.path.relpath(comp_show / "delivery/sh010_final_v001.exr", elsewhere),
    ):
        tree = run_cli("lineage", asset, cwd=elsewhere)
        assert tree.code == 0, tree.stderr
        assert tree.stdout.startswith("delivery/sh010_final_v001.exr  [delivery]"), asset
        assert "gen/plates/sh010_plate_v001.####.exr (depth 2)" in tree.stdout


def test_lineage_of_a_sidecar_is_the_lineage_of_the_asset_it_describes(comp_show: Path) -> None:
    """``clearance check`` takes a sidecar for the asset it describes; ``lineage`` said the
    audited asset was 'not in the lineage store ... audit it with clearance scan first'."""
    assert run_cli("scan", str(comp_show), "--no-progress").code == 1
    for given, asset in [
        ("delivery/sh010_final_v001.exr.genai.yaml", "delivery/sh010_final_v001.exr"),
        ("comp/sh010_comp_v004.genai.yaml", "comp/sh010_comp_v004.####.exr"),
    ]:
        shown = run_cli("lineage", given, "--format", "json", cwd=comp_show)
        assert shown.code == 0, shown.stderr
        assert shown.json()["asset"]["asset"] == asset
    alone = comp_show / "comp/nothing_v001.exr.genai.yaml"  # no asset next to it
    alone.write_text("provenance: 1\n", encoding="utf-8")
    missing = run_cli("lineage", str(alone))
    assert missing.code == 2 and "not in the lineage store" in missing.stderr


def test_a_ref_that_leaves_the_root_and_comes_back_names_the_asset_there(
    comp_show: Path,
) -> None:
    """``../SHOW/gen/plates/...`` from the root SHOW is ``gen/plates/...``: the comp is made
    from the GenAI plate (the ref was taken for one outside the root, unresolved, and the
    deliverable built on the comp passed). A ref that stays outside is still unresolved."""
    comp = "comp/sh010_comp_v004.####.exr"
    around = f"../{comp_show.name}/gen/plates/sh010_plate_v001.####.exr"
    outside = f"../{comp_show.name}_other/gen/plates/sh010_plate_v001.####.exr"
    sidecar(comp_show, comp, silent((around, "production_image"), (outside, "production_image")))
    scanned = run_cli("scan", str(comp_show), "--format", "json", "--no-progress")
    assets = {a["asset"]: a for a in scanned.json()["assets"]}
    (gp4,) = [
        f for f in assets["delivery/sh010_final_v001.exr"]["findings"] if f["rule"] == "NFX-GP4"
    ]
    assert gp4["evidence"]["inherited_from"] == ["gen/plates/sh010_plate_v001.####.exr"]
    shown = run_cli("lineage", str(comp_show / comp), "--format", "json").json()
    assert [g["asset"] for g in shown["ancestry"]["genai"]] == [
        "gen/plates/sh010_plate_v001.####.exr"
    ]
    assert shown["ancestry"]["unresolved"] == [outside]


def test_a_ref_through_a_link_inside_the_show_names_the_asset_the_scan_recorded(
    tmp_path: Path,
) -> None:
    """``gen/plates/latest -> v001`` (the usual 'latest version' link): a scan audits the
    plate once, under its real folder (``gen/plates/v001/...``), so a comp whose sidecar
    names it through the link, relative or absolute, is made from that GenAI plate (the ref
    was unresolved: the comp, and the deliverable built on it, passed)."""
    write_config(
        tmp_path,
        [
            {"name": "plate_gen", "paths": ["gen/plates"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    plate = sequence(tmp_path, "gen/plates/v001/sh010_plate.####.exr")
    sidecar(tmp_path, plate, genai_plate())
    (tmp_path / "gen/plates/latest").symlink_to("v001")
    comps = {
        "comp/rel_v001.exr": "gen/plates/latest/sh010_plate.####.exr",
        "comp/abs_v001.exr": str(tmp_path / "gen/plates/latest/sh010_plate.1001.exr"),
    }
    for comp, ref in comps.items():
        sidecar(tmp_path, single(tmp_path, comp), silent((ref, "production_image")))
    final = single(tmp_path, "delivery/sh010_final_v001.exr")
    sidecar(tmp_path, final, silent(("comp/rel_v001.exr", "production_image")))
    scanned = run_cli("scan", str(tmp_path), "--format", "json", "--no-progress")
    assets = {a["asset"]: a for a in scanned.json()["assets"]}
    assert "gen/plates/v001/sh010_plate.####.exr" in assets, sorted(assets)
    for rel in (*comps, final):
        (gp4,) = [f for f in assets[rel]["findings"] if f["rule"] == "NFX-GP4"]
        assert gp4["evidence"]["inherited_from"] == ["gen/plates/v001/sh010_plate.####.exr"]
    checked = run_cli("check", str(tmp_path / "comp/abs_v001.exr"), "--format", "json")
    (gp4,) = [f for f in checked.json()["assets"][0]["findings"] if f["rule"] == "NFX-GP4"]
    assert gp4["evidence"]["inherited_from"] == ["gen/plates/v001/sh010_plate.####.exr"]


def test_a_final_asset_made_from_an_unaudited_input_of_unknown_class_is_unsure(
    tmp_path: Path,
) -> None:
    """A deliverable that says it is not generated, made from an input never audited whose
    class is ``unknown`` (or left out, or misspelt: unknown too, docs/sidecar.md): nobody
    knows what that input is, so whether it is GenAI is unknown, and the deliverable may
    contain GenAI material: NFX-GP4 unsure (escalate), as for an ancestor whose sidecar is
    missing. It passed. An input whose class says what it is (a production image) stays a
    plain unaudited input; once the unknown one is audited, its row decides."""
    write_config(tmp_path, [{"name": "delivery", "paths": ["delivery"], "final": True}])
    cases = {"unknown": "unknown", "left_out": None, "misspelt": "prodution_image"}
    for name, cls in cases.items():
        rel = single(tmp_path, f"delivery/{name}_v001.exr")
        doc = silent((f"elements/{name}.exr", "x"))
        doc["steps"][0]["inputs"][0].pop("class")
        if cls is not None:
            doc["steps"][0]["inputs"][0]["class"] = cls
        sidecar(tmp_path, rel, doc)
    known = single(tmp_path, "delivery/known_v001.exr")
    sidecar(tmp_path, known, silent(("elements/known.exr", "production_image")))
    assets = scan(tmp_path)
    for name in cases:
        (gp4,) = [f for f in assets[f"delivery/{name}_v001.exr"].findings if f.rule == "NFX-GP4"]
        assert gp4.effective_outcome.value == "escalate" and gp4.unsure, name
        assert gp4.evidence["unknown_ancestors"] == [f"elements/{name}.exr"], name
    assert assets[known].outcome.value == "pass"
    # the element audited (not generated: it says so) answers the question
    element = single(tmp_path, "elements/unknown.exr")
    sidecar(tmp_path, element, silent(use="temp"))
    assert scan(tmp_path)["delivery/unknown_v001.exr"].outcome.value == "pass"


# -------------------------------------------------------------------------------------------
# Chains and cycles
# -------------------------------------------------------------------------------------------


def test_chain_of_five_stages_inherits_genai_from_the_first(tmp_path: Path) -> None:
    names = ["s1", "s2", "s3", "s4", "s5"]
    stages = [{"name": n, "paths": [n]} for n in names]
    stages[-1]["final"] = True
    write_config(tmp_path, stages)
    previous = None
    for name in names:
        rel = single(tmp_path, f"{name}/sh010_{name}_v001.exr")
        doc = genai_plate() if previous is None else silent((previous, "production_image"))
        sidecar(tmp_path, rel, doc)
        previous = rel
    results = scan(tmp_path)
    last = results["s5/sh010_s5_v001.exr"]
    ancestry = last.record.get("ancestry")
    assert [(g["asset"], g["depth"], g["via"]) for g in ancestry["genai"]] == [
        ("s1/sh010_s1_v001.exr", 4, "s4/sh010_s4_v001.exr")
    ]
    assert ancestry["depth"] == 4 and not ancestry["cycle"]
    assert finding(last, "NFX-GP4").evidence["inherited_from"] == ["s1/sh010_s1_v001.exr"]
    # every stage in between inherits too (IPTC-03 fires on each silent link)
    for name in names[1:]:
        assert "IPTC-03" in rules_of(results[f"{name}/sh010_{name}_v001.exr"]), name


def test_depth_limit_stops_the_walk(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "state.db")
    for i in range(6):
        inputs = [{"ref": f"a{i + 1}.exr", "class": "production_image"}] if i < 5 else []
        store.record(
            asset=f"a{i}.exr", version="v", stage="s", frames=None, generated=i == 5,
            source_type=None, outcome="pass", findings=[], inputs=inputs,
        )  # fmt: skip
    full = store.ancestry([{"ref": "a1.exr"}], tmp_path, start="a0.exr")
    assert [g["asset"] for g in full["genai"]] == ["a5.exr"] and not full["truncated"]
    cut = store.ancestry([{"ref": "a1.exr"}], tmp_path, start="a0.exr", max_depth=2)
    assert cut["truncated"] and cut["genai"] == []


def test_cycle_in_declared_inputs_terminates_and_is_reported(tmp_path: Path) -> None:
    write_config(tmp_path, [{"name": "comp", "paths": ["comp"]}])
    a = single(tmp_path, "comp/a_v001.exr")
    b = single(tmp_path, "comp/b_v001.exr")
    plate = single(tmp_path, "comp/0_plate_v001.exr")  # audited first in its stage
    sidecar(tmp_path, plate, genai_plate())
    sidecar(tmp_path, a, silent((b, "production_image"), (a, "production_image")))
    sidecar(tmp_path, b, silent((a, "production_image"), (plate, "production_image")))
    scan(tmp_path)  # (pytest-timeout stops a walk that never ends)
    results = scan(tmp_path)  # the second pass sees both ends of the cycle recorded
    ancestry = results[a].record.get("ancestry")
    assert ancestry["cycle"] is True
    assert [g["asset"] for g in ancestry["genai"]] == [plate]
    tree = run_cli("lineage", str(tmp_path / a), timeout=20)
    assert tree.code == 0, tree.stderr
    assert "CYCLE" in tree.stdout and "contain a cycle" in tree.stdout


# -------------------------------------------------------------------------------------------
# The store: names, versions, processes
# -------------------------------------------------------------------------------------------


def record(store: LineageStore, asset: str, **fields: Any) -> None:
    values: dict[str, Any] = dict(
        version="v1", stage="comp", frames=None, generated=False, source_type=None,
        outcome="pass", findings=[], inputs=[],
    )  # fmt: skip
    values.update(fields)
    store.record(asset=asset, **values)


def test_refs_resolve_by_path_pattern_frame_url_and_id(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / ".clearance" / "state.db")
    version = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
    record(
        store,
        "plates/sh010_plate_v001.####.exr",
        generated=True,
        asset_id="PUB-77",
        version=version,
    )
    record(store, "refs/mood 03.png")
    root = tmp_path
    for ref in (
        "plates/sh010_plate_v001.####.exr",
        "plates/sh010_plate_v001.%04d.exr",
        "plates/sh010_plate_v001.@@@@.exr",
        "plates/sh010_plate_v001.$F4.exr",
        "plates/sh010_plate_v001.1042.exr",
        "./plates/../plates/sh010_plate_v001.####.exr",
        str(tmp_path / "plates/sh010_plate_v001.1001.exr"),
        (tmp_path / "plates/sh010_plate_v001.1001.exr").as_uri(),
        "PUB-77",
    ):
        row = store.find(ref, root)
        assert row is not None and row.asset == "plates/sh010_plate_v001.####.exr", ref
    assert store.find((tmp_path / "refs/mood 03.png").as_uri(), root).asset == "refs/mood 03.png"  # type: ignore[union-attr]
    assert store.find(version[:12], root).asset.startswith("plates/")  # type: ignore[union-attr]
    assert store.find("plates/sh010_plate_v002.####.exr", root) is None
    assert store.find("/elsewhere/plates/sh010_plate_v001.####.exr", root) is None
    assert sequence_key("a/b.%04d.exr") == sequence_key("a/b.####.exr") == "a/b.#.exr"
    assert normalise_ref("/elsewhere/x.exr", root) == "/elsewhere/x.exr"


def test_reaudit_updates_and_new_version_adds_a_row(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "state.db")
    record(store, "comp/x.exr", outcome="notice")
    record(store, "comp/x.exr", outcome="block")  # the same version re-audited
    assert store.count() == 1 and store.latest("comp/x.exr").outcome == "block"  # type: ignore[union-attr]
    record(store, "comp/x.exr", version="v2", outcome="pass")
    assert store.count() == 2 and store.latest("comp/x.exr").version == "v2"  # type: ignore[union-attr]


def test_rerender_records_a_new_version(comp_show: Path) -> None:
    scan(comp_show)
    final = comp_show / "delivery/sh010_final_v001.exr"
    final.write_bytes(final.read_bytes() + b"\0")
    scan(comp_show)
    db = sqlite3.connect(comp_show / ".clearance" / "state.db")
    rows = db.execute(
        "SELECT COUNT(*) FROM lineage_assets WHERE asset='delivery/sh010_final_v001.exr'"
    ).fetchone()
    assert rows[0] == 2
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def _writer(path: str, worker: int, count: int) -> None:
    store = LineageStore(path)
    for i in range(count):
        record(store, f"w{worker}/a{i}.exr", version=f"v{i}")
    store.close()


def test_several_processes_record_into_one_store(tmp_path: Path) -> None:
    path = str(tmp_path / ".clearance" / "state.db")
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_writer, args=(path, w, 60)) for w in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0, 0, 0]
    assert LineageStore(path, create=False).count() == 240


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    LineageStore(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE lineage_meta SET value='99' WHERE key='schema'")
    db.commit()
    db.close()
    with pytest.raises(LineageError, match="newer"):
        LineageStore(path)


def test_a_store_of_schema_2_gets_the_version_key_index(tmp_path: Path) -> None:
    """A ``state.db`` written before version keys were indexed is upgraded when opened: a
    version key is then found through the index, not by scanning the table."""
    path = tmp_path / "state.db"
    store = LineageStore(path)
    record(store, "comp/x.exr", version="ABCDEF0123456789" + "0" * 48)
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP INDEX lineage_assets_version")
    db.execute("UPDATE lineage_meta SET value='2' WHERE key='schema'")
    db.commit()
    db.close()
    store = LineageStore(path)
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    found = store.find("abcdef01234567", tmp_path)
    assert found is not None and found.asset == "comp/x.exr"  # case ignored, as LIKE did
    [query] = [s for s in statements if "version" in s.partition(" WHERE ")[2]]
    db = sqlite3.connect(path)
    plan = " ".join(row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}"))
    assert "lineage_assets_version" in plan and "SCAN lineage_assets" not in plan, plan
    assert db.execute("SELECT value FROM lineage_meta WHERE key='schema'").fetchone() == ("3",)


def test_missing_store_is_an_error_for_readers_only(tmp_path: Path) -> None:
    with pytest.raises(LineageError, match="no state store"):
        LineageStore(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_lineage_says_what_stands_where_the_state_store_should_be(tmp_path: Path) -> None:
    # a folder, or a link to an unmounted share, was "no state store (run 'clearance scan'
    # first)", which a scan does not fix: it cannot create the file there either
    root = tmp_path / "show"
    (root / ".clearance").mkdir(parents=True)
    (root / "clearance.yaml").write_text("clearance: 1\nproduction: {id: SHOW01}\n")
    store = root / ".clearance" / "state.db"
    store.mkdir()
    done = run_cli("lineage", "comp/a.png", cwd=root)
    assert done.code == 2
    assert f"the state store {store} is a folder (audit.state must name a file" in done.stderr
    store.rmdir()
    store.symlink_to(tmp_path / "share" / "state.db")
    done = run_cli("lineage", "comp/a.png", cwd=root)
    assert done.code == 2 and f"the state store {store} is a symbolic link to " in done.stderr
    assert "which does not exist" in done.stderr


def test_lineage_of_a_folder_says_it_takes_one_asset(tmp_path: Path) -> None:
    # `lineage comp` (or an unset "$ASSET": the current folder) said "not in the lineage
    # store; audit it with 'clearance scan' first", and a scan never puts a folder there
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    (root / "clearance.yaml").write_text("clearance: 1\nproduction: {id: SHOW01}\n")
    write_png(root / "comp" / "a.png")
    assert run_cli("scan", str(root)).code == 1
    for given, said in (
        ("comp", "clearance: error: comp: is a folder; lineage takes one asset"),
        ("", "clearance: error: ASSET is empty (an unset variable?); lineage takes one asset"),
    ):
        done = run_cli("lineage", given, cwd=root)
        assert done.code == 2 and said in done.stderr, done.stderr
        assert "audit it with 'clearance scan' first" not in done.stderr
    assert run_cli("lineage", "comp/a.png", cwd=root).code == 0


def test_a_store_that_cannot_be_read_makes_declared_inputs_unsure(comp_show: Path) -> None:
    """A damaged store (not a database): the ancestry of each asset's declared inputs is
    unknown, which is unsure (PRV-02, escalate), never the pass the delivery gets with the
    plugin blocked; an asset with no inputs has nothing unknown."""
    store = comp_show / ".clearance" / "state.db"
    store.parent.mkdir()
    store.write_bytes(b"not a database" * 100)
    results = scan(comp_show)
    for rel in ("comp/sh010_comp_v004.####.exr", "delivery/sh010_final_v001.exr"):
        [prv02] = [f for f in results[rel].findings if f.rule == "PRV-02"]
        assert prv02.unsure and prv02.effective_outcome.value == "escalate"
        assert "lineage store could not be read" in prv02.message and str(store.name) in (
            prv02.message
        )
        assert results[rel].outcome.value != "pass"
    assert "PRV-02" not in rules_of(results["gen/plates/sh010_plate_v001.####.exr"])


def test_in_memory_audit_records_nothing(tmp_path: Path) -> None:
    result = audit_record(silent(("plates/p.####.exr", "generated")), root=tmp_path)
    assert result.outcome is not None
    assert not (tmp_path / ".clearance").exists()


def test_unrecorded_inputs_are_listed_and_declared_genai_counts(tmp_path: Path) -> None:
    write_config(tmp_path, [{"name": "comp", "paths": ["comp"]}])
    rel = single(tmp_path, "comp/c_v001.exr")
    sidecar(
        tmp_path,
        rel,
        silent(("plates/never_audited.exr", "generated"), ("refs/x.png", "owned_released")),
    )
    ancestry = scan(tmp_path)[rel].record.get("ancestry")
    assert ancestry["unresolved"] == ["plates/never_audited.exr", "refs/x.png"]
    assert ancestry["genai"] == [
        {
            "ref": "plates/never_audited.exr",
            "asset": None,
            "depth": 1,
            "via": "plates/never_audited.exr",
            "declared": True,
        }
    ]


def test_parallel_scan_records_lineage_from_worker_processes(comp_show: Path) -> None:
    scanned = run_cli("scan", str(comp_show), "--format", "json", "--no-progress", "--jobs", "2")
    assert scanned.code == 1, scanned.stderr
    assets = {a["asset"]: a for a in scanned.json()["assets"]}
    gp4 = [f for f in assets["delivery/sh010_final_v001.exr"]["findings"] if f["rule"] == "NFX-GP4"]
    assert gp4 and gp4[0]["evidence"]["inherited_from"] == ["gen/plates/sh010_plate_v001.####.exr"]
    assert LineageStore(comp_show / ".clearance" / "state.db", create=False).count() == 3


def test_a_sidecar_rewritten_in_place_with_its_mtime_restored_is_a_new_version(
    tmp_path: Path,
) -> None:
    """The version key has the ctime too, as the provenance cache's fingerprint has: a
    sidecar rewritten in place to name other inputs, with the same size and its mtime put back
    (``touch -r``, a restore), is a new version; a warm re-scan reads the inputs it declares
    now, as a cold one and ``--no-cache`` do, instead of the inputs recorded before."""
    import os

    write_config(
        tmp_path,
        [
            {"name": "plate_gen", "paths": ["gen/plates"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    genai = sequence(tmp_path, "gen/plates/sh010_plate_v001.####.exr")
    sidecar(tmp_path, genai, genai_plate())
    shot = sequence(tmp_path, "gen/plates/sh010_plate_v002.####.exr")
    sidecar(tmp_path, shot, {"shot": "sh010", "generated": False})
    final = single(tmp_path, "delivery/sh010_final_v001.exr")
    sidecar(tmp_path, final, silent((shot, "production_image")))
    path = tmp_path / f"{final}.genai.yaml"

    def outcome(*flags: str) -> str:
        scanned = run_cli("scan", str(tmp_path), "--format", "json", "--no-progress", *flags)
        assert scanned.code in (0, 1), scanned.stderr
        return {a["asset"]: a["outcome"] for a in scanned.json()["assets"]}[final]

    assert outcome() == "pass"  # built on the plate that is not GenAI
    before = path.stat()
    text = path.read_bytes().replace(shot.encode(), genai.encode())
    assert len(text) == before.st_size
    for _ in range(100):  # until the change time moves on (a coarse filesystem clock)
        with open(path, "r+b") as fh:
            fh.write(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        now = path.stat()
        if now.st_ctime_ns != before.st_ctime_ns:
            break
        time.sleep(0.01)
    assert (now.st_ino, now.st_size, now.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )
    assert outcome() == "block"  # the warm re-scan
    assert outcome("--no-cache") == "block"
    for state in (tmp_path / ".clearance").glob("state.db*"):
        state.unlink()
    assert outcome() == "block"  # cold


def _final_rules(root: Path, final: str) -> tuple[int, set[str]]:
    """Re-render the deliverable and ``clearance check`` it on its own (a farm post-task)."""
    path = root / final
    path.write_bytes(path.read_bytes() + b"\0")
    checked = run_cli("check", str(path), "--format", "json")
    [item] = checked.json()["assets"]
    return checked.code, {f["rule"] for f in item["findings"]}


def test_a_stray_file_checked_alone_never_takes_over_its_sequences_lineage_name(
    comp_show: Path,
) -> None:
    """A stray file literally named ``seq.####.exr`` (a mis-set Write node) given alone to
    ``check`` or ``scan`` has the name of the GenAI sequence beside it: it used to be audited
    under that name and recorded as its latest row (generated unknown), and the re-rendered
    deliverable built on the plate then passed. The folder is looked at as a walk does: the
    sequence is audited, the stray file is a run error naming both (exit 2)."""
    plate = "gen/plates/sh010_plate_v001.####.exr"
    final = "delivery/sh010_final_v001.exr"
    assert run_cli("scan", str(comp_show), "--no-progress").code == 1
    stray = comp_show / plate
    write_exr(stray)
    for command in ("check", "scan"):
        done = run_cli(command, str(stray), "--format", "json", "--no-progress")
        assert done.code == 2, done.stderr
        assert f"{stray}: not audited: the file sh010_plate_v001.####.exr has the same name" in (
            done.stderr
        )
        assert [(a["asset"], a["frames"]) for a in done.json()["assets"]] == [(plate, "1001-1003")]
        row = LineageStore(comp_show / ".clearance" / "state.db").latest(plate)
        assert row is not None and row.generated is True and row.frames == "1001-1003"
    code, rules = _final_rules(comp_show, final)
    assert code == 1 and "NFX-GP4" in rules


def test_an_unchanged_reaudit_records_again_when_its_row_is_no_longer_the_latest(
    comp_show: Path,
) -> None:
    """A row recorded later under the sequence's name (by a Clearance that let a stray file
    take the name) hid the plate's GenAI status: a re-scan of the unchanged plate recorded
    nothing, since its own version's row was unchanged. It now records again, so the latest
    row for the name is the plate's, and the deliverable built on it does not pass."""
    plate = "gen/plates/sh010_plate_v001.####.exr"
    final = "delivery/sh010_final_v001.exr"
    assert run_cli("scan", str(comp_show), "--no-progress").code == 1
    store = LineageStore(comp_show / ".clearance" / "state.db")
    genuine = store.latest(plate)
    assert genuine is not None and genuine.generated is True
    record(store, plate, version="0" * 64, stage="plate_gen", generated=None, outcome="escalate")
    store.close()
    assert run_cli("scan", str(comp_show), "--no-progress").code == 1
    store = LineageStore(comp_show / ".clearance" / "state.db")
    latest = store.latest(plate)
    assert latest is not None and latest.version == genuine.version and latest.generated is True
    code, rules = _final_rules(comp_show, final)
    assert code == 1 and "NFX-GP4" in rules
    # and a warm re-scan of it, still the latest, writes nothing more
    before = store.count()
    assert run_cli("scan", str(comp_show), "--no-progress").code == 1
    assert store.count() == before


def test_a_commit_the_disk_cannot_hold_reports_sqlites_error_not_the_rollbacks(
    tmp_path: Path,
) -> None:
    """SQLite rolls a transaction back by itself when the disk is full: the commit's error
    is "database or disk is full", not the "cannot rollback - no transaction is active" of a
    second rollback, which hid it (lineage's warning on a full disk said only that)."""
    store = LineageStore(tmp_path / "state.db")
    record(store, "a.exr")
    pages = store._db.execute("PRAGMA page_count").fetchone()[0]
    store._db.execute(f"PRAGMA max_page_count={pages}")  # the file cannot grow: a full disk
    with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
        for i in range(50):
            record(store, f"b{i:02d}.exr", findings=[{"rule": "X", "message": "m" * 4000}])
    assert not store._db.in_transaction


def test_refs_name_a_file_that_is_not_utf8_as_the_store_records_it(tmp_path: Path) -> None:
    """A file named in bytes that are not UTF-8 is recorded under its escaped name
    (``gen/caf\\xe9.exr``, as every output shows it). A ref naming it that way read the
    backslash as a Windows separator (``gen/caf/xe9.exr``), and a ``file://`` URL's ``%E9``
    was decoded as U+FFFD: both "not audited", so the comp made from a GenAI plate
    inherited nothing. ``clearance lineage`` given the name in its bytes ended in an
    internal error (the lone surrogate reached SQLite)."""
    import json
    import os

    root = tmp_path / "show"
    root.mkdir()
    write_config(root, [{"name": "gen", "paths": ["gen"]}, {"name": "comp", "paths": ["comp"]}])
    gen = os.fsencode(root / "gen")
    os.makedirs(gen)
    plate = yaml.safe_dump({"provenance": 1, "production": "SHOW01", **genai_plate()})
    for name in (b"caf\xe9.exr", b"seq\xe9.1001.exr", b"seq\xe9.1002.exr", b"win.exr"):
        write_exr(Path(os.fsdecode(os.path.join(gen, name))))
    for name in (b"caf\xe9.exr.genai.yaml", b"seq\xe9.genai.yaml", b"win.exr.genai.yaml"):
        with open(os.path.join(gen, name), "w", encoding="utf-8") as fh:
            fh.write(plate)
    url = "file://" + os.fsencode(root).decode("ascii") + "/gen/caf%E9.exr"
    refs = {
        "comp/c1.exr": ("gen/caf\\xe9.exr", "gen/caf\\xe9.exr"),
        "comp/c2.exr": (url, "gen/caf\\xe9.exr"),
        "comp/c3.exr": ("gen/seq\\xe9.1002.exr", "gen/seq\\xe9.####.exr"),
        "comp/c4.exr": ("gen\\win.exr", "gen/win.exr"),  # a Windows separator still is one
    }
    for rel, (ref, _) in refs.items():
        single(root, rel)
        sidecar(root, rel, silent((ref, "production_image")))
    done = run_cli("scan", str(root), "--format", "json")
    assert done.code in (0, 1), done.stderr
    for rel, (ref, ancestor) in refs.items():
        shown = run_cli("lineage", str(root / rel), "--format", "json")
        assert shown.code == 0, shown.stderr
        genai = [a["asset"] for a in shown.json()["ancestry"]["genai"]]
        assert genai == [ancestor], (ref, shown.json()["ancestry"])
    named = os.fsdecode(os.path.join(gen, b"caf\xe9.exr"))
    for asset in (named, str(root / "gen/caf\\xe9.exr")):
        shown = run_cli("lineage", asset, "--format", "json")
        assert shown.code == 0, shown.stderr
        assert json.loads(shown.stdout)["asset"]["asset"] == "gen/caf\\xe9.exr"


def test_a_ref_with_other_digits_names_a_file_not_a_frame_of_the_sequence(
    tmp_path: Path,
) -> None:
    """A frame number is ASCII digits, as discovery reads it: a ref to ``p.١٠٤٢.exr``
    (Arabic-Indic digits) names that file, which is not a frame of ``p.####.exr``, so it
    never resolves to the sequence's audit; a ``%0٤d`` or ``$F٤`` token is no frame token
    either. The watcher's test for an input on disk reads it as the single file it is (it
    used to take it for a frame, then fail on a name with no frame)."""
    from clearance.lineage import frame_number
    from clearance.lineage.pending import input_on_disk
    from clearance.policy import Policy, StageConfig

    store = LineageStore(tmp_path / ".clearance" / "state.db")
    record(store, "plates/p.####.exr", generated=True)
    arabic = "plates/p.\u0661\u0660\u0664\u0662.exr"
    for ref in (arabic, "plates/p.%0\u0664d.exr", "plates/p.$F\u0664.exr"):
        assert sequence_key(ref) is None and frame_number(ref) is None, ref
        assert store.find(ref, tmp_path) is None, ref
    assert store.find("plates/p.1042.exr", tmp_path).asset == "plates/p.####.exr"  # type: ignore[union-attr]
    assert frame_number("plates/p.1042.exr") == 1042
    policy = Policy(root=tmp_path, stages=[StageConfig("plates", ["plates"])])
    (tmp_path / "plates").mkdir()
    (tmp_path / arabic).write_bytes(b"x")
    (tmp_path / "plates/p.1042.exr").write_bytes(b"x")
    watched = [str(tmp_path / "plates")]
    assert input_on_disk(arabic, tmp_path, watched, policy) == arabic
    assert input_on_disk("plates/p.1042.exr", tmp_path, watched, policy) == "plates/p.####.exr"


def test_an_input_not_on_disk_is_keyed_as_the_asset_the_watcher_would_audit_there(
    tmp_path: Path,
) -> None:
    """What a watcher remembers of an input not on disk (``docs/watch.md``, *An input not on
    disk yet*): only one it would audit once there (in a watched folder, not in a hidden
    one, an asset's name), keyed so that the asset it audits later under any frame token
    or padding of that sequence finds it; nothing is looked at on disk."""
    from clearance.lineage.pending import input_expected, input_key
    from clearance.policy import Policy, StageConfig

    policy = Policy(root=tmp_path, stages=[StageConfig("comp", ["comp"])])
    watched = [str(tmp_path / "comp")]
    key = "comp/c.#.exr"
    for ref in ("comp/c.####.exr", "comp/c.%04d.exr", "comp/c.1001.exr", "./comp/c.$F4.exr"):
        assert input_expected(ref, tmp_path, watched, policy) == key, ref
    assert input_key("comp/c.#####.exr") == input_key("comp/c.####.exr") == key
    assert input_expected("comp/c.exr", tmp_path, watched, policy) == "comp/c.exr"
    assert input_expected(str(tmp_path / "comp/c.exr"), tmp_path, watched, policy) == "comp/c.exr"
    for ref in (
        "comp/.wip/c.####.exr",  # a hidden folder: never audited
        "elements/c.exr",  # not watched
        "/elsewhere/c.exr",  # outside the root
        "comp/notes.txt",  # not an asset's name
        "comp/.c.exr",  # hidden
        "SH020-COMP-0002",  # an asset id
    ):
        assert input_expected(ref, tmp_path, watched, policy) is None, ref
    assert not (tmp_path / "comp").exists()
