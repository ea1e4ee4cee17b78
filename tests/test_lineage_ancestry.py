"""Lineage: what an ancestry walk makes of unknown, diamond, self-referencing, deep, large and
symlinked inputs, and what the rules and ``clearance lineage`` say about it.

Real files in ``tmp_path``, the real SQLite state store, the real CLI for end-to-end cases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from clearance.lineage import LineageStore
from clearance.lineage.ancestry import MAX_DEPTH, MAX_LISTED
from clearance.lineage.refs import _REAL_FOLDERS, normalise_ref
from conftest import run_cli
from test_lineage import genai_plate, record, sequence, sidecar, silent, single, write_config


def _outcomes(root: Path, *args: str) -> dict[str, dict[str, Any]]:
    done = run_cli("scan", str(root), "--format", "json", "--no-progress", *args)
    assert done.code in (0, 1), done.stderr
    return {a["asset"]: a for a in done.json()["assets"]}


def _open(asset: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in asset["findings"] if f["rule"] == rule and f["status"] == "open"]


# -------------------------------------------------------------------------------------------
# An ancestor whose GenAI status is unknown
# -------------------------------------------------------------------------------------------


def test_a_final_asset_built_on_an_ancestor_of_unknown_genai_status_escalates(
    tmp_path: Path,
) -> None:
    write_config(
        tmp_path,
        [
            {"name": "gen", "paths": ["gen"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    invalid = single(tmp_path, "gen/invalid_v001.exr")  # generated: maybe
    maybe = {**genai_plate(), "generated": "maybe"}
    del maybe["source_type"]
    sidecar(tmp_path, invalid, maybe)
    bare = single(tmp_path, "gen/bare_v001.exr")  # no sidecar at all
    broken = single(tmp_path, "gen/broken_v001.exr")  # not YAML
    (tmp_path / f"{broken}.genai.yaml").write_text("provenance: 1\ngenerated: [unclosed\n")
    known = single(tmp_path, "gen/known_v001.exr")
    sidecar(tmp_path, known, genai_plate())
    # unknown two generations back: the comp's summary carries it to the delivery
    comp = single(tmp_path, "comp/sh010_comp_v001.exr")
    sidecar(tmp_path, comp, silent((bare, "production_image"), use="temp"))
    finals = {
        "delivery/a_v001.exr": [invalid],
        "delivery/b_v001.exr": [comp],
        "delivery/c_v001.exr": [broken],
        "delivery/d_v001.exr": [known, invalid],  # a known GenAI ancestor decides it
    }
    for final, inputs in finals.items():
        single(tmp_path, final)
        sidecar(tmp_path, final, silent(*[(i, "production_image") for i in inputs]))

    assets = _outcomes(tmp_path)
    for final, unknown in [
        ("delivery/a_v001.exr", [invalid]),
        ("delivery/b_v001.exr", [bare]),
        ("delivery/c_v001.exr", [broken]),
    ]:
        asset = assets[final]
        assert asset["outcome"] == "escalate", (final, asset["findings"])
        (gp4,) = _open(asset, "NFX-GP4")
        assert gp4["outcome"] == "escalate"
        assert gp4["evidence"]["unknown_ancestors"] == unknown
        assert "provenance" in gp4["remediation"]
    # the comp is not final: unknown ancestry alone does not make it unsure
    assert not _open(assets[comp], "NFX-GP4")
    (gp4,) = _open(assets["delivery/d_v001.exr"], "NFX-GP4")
    assert gp4["outcome"] == "approval" and gp4["evidence"]["inherited_from"] == [known]


# -------------------------------------------------------------------------------------------
# Diamonds: one ancestor reached through several inputs
# -------------------------------------------------------------------------------------------


def _check(root: Path, rel: str) -> dict[str, Any]:
    done = run_cli("check", str(root / rel), "--format", "json")
    assert done.code in (0, 1), done.stderr
    (asset,) = done.json()["assets"]
    return asset


@pytest.mark.parametrize("stale_first", [True, False], ids=["stale-first", "fresh-first"])
def test_a_genai_ancestor_reached_through_a_fresh_input_counts_whatever_the_input_order(
    tmp_path: Path, stale_first: bool
) -> None:
    """d is made from c1 and c2, both made from g. g turns GenAI and only c2 is re-audited:
    c1's recorded summary still names g as a plain ancestor; c2's names it GenAI."""
    write_config(
        tmp_path,
        [
            {"name": "gen", "paths": ["gen"]},
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    g = single(tmp_path, "gen/g_v001.exr")
    plain = {**genai_plate(), "generated": False, "source_type": "digitalCreation"}
    sidecar(tmp_path, g, plain)
    c1 = single(tmp_path, "comp/c1_v001.exr")
    c2 = single(tmp_path, "comp/c2_v001.exr")
    for comp in (c1, c2):
        sidecar(tmp_path, comp, silent((g, "production_image"), use="temp"))
    d = single(tmp_path, "delivery/d_v001.exr")
    inputs = (c1, c2) if stale_first else (c2, c1)
    sidecar(tmp_path, d, silent(*[(i, "production_image") for i in inputs]))
    assert _outcomes(tmp_path)[d]["outcome"] == "pass"

    sidecar(tmp_path, g, genai_plate())  # g turns out to be GenAI
    assert _open(_check(tmp_path, g), "NFX-GP4")
    sidecar(tmp_path, c2, {**silent((g, "production_image"), use="temp"), "shot": "sh011"})
    assert _open(_check(tmp_path, c2), "IPTC-03")  # c2 re-audited: GenAI ancestry recorded
    final = _check(tmp_path, d)
    (gp4,) = _open(final, "NFX-GP4")
    assert gp4["evidence"]["inherited_from"] == [g]
    assert final["outcome"] == "block"  # IPTC-03: a final comp of GenAI material


def test_a_stale_summary_never_hides_what_a_direct_input_or_another_summary_says(
    tmp_path: Path,
) -> None:
    store = LineageStore(tmp_path / "state.db")
    stale = {"genai": [], "unknown": [], "unresolved": [], "assets": ["g.exr"], "depth": 1}
    fresh = {
        "genai": [{"ref": "g.exr", "asset": "g.exr", "depth": 1, "generated": True}],
        "unknown": [],
        "unresolved": [],
        "assets": ["g.exr"],
        "depth": 1,
    }
    record(store, "g.exr", generated=True)
    record(store, "c1.exr", inputs=[{"ref": "g.exr"}], ancestry=stale)
    record(store, "c2.exr", inputs=[{"ref": "g.exr"}], ancestry=fresh)
    for inputs in (["c1.exr", "g.exr"], ["c1.exr", "c2.exr"], ["c2.exr", "c1.exr"]):
        found = store.ancestry([{"ref": r} for r in inputs], tmp_path, shallow=True)
        assert [g["asset"] for g in found["genai"]] == ["g.exr"], inputs


# -------------------------------------------------------------------------------------------
# Large inputs: summaries stay bounded, nothing that decides a verdict is lost
# -------------------------------------------------------------------------------------------


def test_unresolved_inputs_are_capped_in_summaries_and_counted(tmp_path: Path) -> None:
    """A sidecar declaring thousands of inputs the store does not know: each summary keeps
    MAX_LISTED of them (in the order declared) and counts the rest, also downstream."""
    write_config(
        tmp_path,
        [
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    count = MAX_LISTED + 700
    refs = [(f"scans/s{i}.exr", "production_image") for i in range(count)]
    comp = single(tmp_path, "comp/sh010_comp_v001.exr")
    sidecar(tmp_path, comp, silent(*refs, *refs[:50], use="temp"))  # duplicates listed once
    final = single(tmp_path, "delivery/sh010_final_v001.exr")
    sidecar(tmp_path, final, silent((comp, "production_image")))
    assert _outcomes(tmp_path)[final]["outcome"] == "pass"
    store = LineageStore(tmp_path / ".clearance" / "state.db", create=False)
    try:
        for name, omitted in [(comp, count - MAX_LISTED), (final, count - MAX_LISTED)]:
            row = store.latest(name)
            assert row is not None and row.ancestry is not None
            assert row.ancestry["unresolved"] == [r for r, _ in refs[:MAX_LISTED]], name
            assert row.ancestry["unresolved_omitted"] == omitted, name
            assert "unknown_omitted" not in row.ancestry
    finally:
        store.close()


def test_unknown_ancestors_are_capped_and_counted_and_never_lost(tmp_path: Path) -> None:
    store = LineageStore(tmp_path / "state.db")
    count = MAX_LISTED + 200
    for i in range(count):
        record(store, f"u/{i}.exr", generated=None)
    inputs = [{"ref": f"u/{i}.exr"} for i in range(count)]
    found = store.ancestry(inputs, tmp_path, shallow=True)
    assert found["unknown"] == [f"u/{i}.exr" for i in range(MAX_LISTED)]
    assert found["unknown_omitted"] == 200
    summary = {k: v for k, v in found.items() if k != "tree"}
    record(store, "comp.exr", inputs=inputs, ancestry=summary)
    downstream = store.ancestry([{"ref": "comp.exr"}], tmp_path, shallow=True)
    assert len(downstream["unknown"]) == MAX_LISTED and downstream["unknown_omitted"] == 200


def test_genai_ancestors_are_capped_in_summaries_and_findings_and_counted(
    tmp_path: Path,
) -> None:
    """A comp built from thousands of generated elements: its summary, the summary of the
    deliverable made from it and the deliverable's NFX-GP4 finding list MAX_LISTED of them
    and count the rest (``genai_omitted``); the verdict and the total are those of all."""
    import json

    write_config(
        tmp_path,
        [
            {"name": "comp", "paths": ["comp"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    count = MAX_LISTED + 1500
    refs = [(f"elements/e{i:05d}.exr", "generated") for i in range(count)]
    comp = single(tmp_path, "comp/sh010_comp_v001.exr")
    sidecar(tmp_path, comp, silent(*refs, use="temp"))
    final = single(tmp_path, "delivery/sh010_final_v001.exr")
    sidecar(tmp_path, final, silent((comp, "production_image")))
    (gp4,) = _open(_outcomes(tmp_path)[final], "NFX-GP4")
    assert len(gp4["evidence"]["inherited_from"]) == MAX_LISTED
    assert gp4["evidence"]["inherited_omitted"] == count - MAX_LISTED
    assert gp4["message"].endswith(f"e{MAX_LISTED - 1:05d}.exr and {count - MAX_LISTED} more)")
    store = LineageStore(tmp_path / ".clearance" / "state.db", create=False)
    try:
        for name in (comp, final):
            row = store.latest(name)
            assert row is not None and row.ancestry is not None
            listed = [g["ref"] for g in row.ancestry["genai"]]
            assert listed == [r for r, _ in refs[:MAX_LISTED]], name
            assert row.ancestry["genai_omitted"] == count - MAX_LISTED, name
    finally:
        store.close()
    # the deliverable's events carried every one of them: now a bounded list
    log = tmp_path / ".clearance" / "audit.jsonl"
    events = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    longest = max(len(json.dumps(e)) for e in events if e["asset"] == final)
    assert longest < 3 * MAX_LISTED * len("elements/e00000.exr")
    done = run_cli("lineage", str(tmp_path / final))
    assert f"{count} GenAI ancestor(s)" in done.stdout and f"(and {count - MAX_LISTED} more)" in (
        done.stdout
    )
    # a few GenAI ancestors: listed whole, no count added
    small = single(tmp_path, "delivery/sh020_final_v001.exr")
    sidecar(tmp_path, small, silent(*refs[:3]))
    (gp4,) = _open(_outcomes(tmp_path)[small], "NFX-GP4")
    assert len(gp4["evidence"]["inherited_from"]) == 3
    assert "inherited_omitted" not in gp4["evidence"] and "more" not in gp4["message"]
    assert json.dumps(gp4)  # plain JSON


# -------------------------------------------------------------------------------------------
# A show reached through a symlinked mount
# -------------------------------------------------------------------------------------------


def test_absolute_refs_through_a_symlinked_show_mount_resolve(tmp_path: Path) -> None:
    """/jobs/SHOW01 → /mnt/nas/SHOW01: the root is recorded as its real path, the DCC writes
    refs with the path the artist sees."""
    real = tmp_path / "nas" / "SHOW01"
    real.mkdir(parents=True)
    mount = tmp_path / "jobs"
    mount.symlink_to(real, target_is_directory=True)
    write_config(
        real,
        [
            {"name": "gen", "paths": ["gen"]},
            {"name": "delivery", "paths": ["delivery"], "final": True},
        ],
    )
    plate = single(real, "gen/plate_v001.exr")
    sidecar(real, plate, genai_plate())
    refs = {
        "delivery/abs_v001.exr": str(mount / plate),
        "delivery/url_v001.exr": (mount / plate).as_uri(),
        "delivery/outside_v001.exr": str(tmp_path / "elsewhere" / "plate_v001.exr"),
    }
    for final, ref in refs.items():
        single(real, final)
        sidecar(real, final, silent((ref, "production_image")))

    assets = _outcomes(mount)  # scanned as the artist sees it
    for final in ("delivery/abs_v001.exr", "delivery/url_v001.exr"):
        (gp4,) = _open(assets[final], "NFX-GP4")
        assert gp4["evidence"]["inherited_from"] == [plate], final
    assert not _open(assets["delivery/outside_v001.exr"], "NFX-GP4")  # really outside

    tree = run_cli("lineage", "delivery/abs_v001.exr", cwd=mount)
    assert tree.code == 0, tree.stderr
    assert f"GenAI ancestry: 1 GenAI ancestor(s): {plate} (depth 1)" in tree.stdout


def test_a_symlinked_folder_is_resolved_once_however_many_refs_name_it(tmp_path: Path) -> None:
    real = tmp_path / "real"
    (real / "plates").mkdir(parents=True)
    (tmp_path / "mount").symlink_to(real, target_is_directory=True)
    _REAL_FOLDERS.clear()
    names = [normalise_ref(f"{tmp_path}/mount/plates/p{i}.exr", real) for i in range(500)]
    assert names == [f"plates/p{i}.exr" for i in range(500)]
    assert list(_REAL_FOLDERS) == [f"{tmp_path.as_posix()}/mount/plates"]


# -------------------------------------------------------------------------------------------
# `clearance lineage` on chains deeper than the walk follows
# -------------------------------------------------------------------------------------------


def test_lineage_cli_never_says_none_known_when_the_walk_stopped_at_the_depth_limit(
    tmp_path: Path,
) -> None:
    write_config(tmp_path, [{"name": "comp", "paths": ["."]}])
    store = LineageStore(tmp_path / ".clearance" / "state.db")
    deep = MAX_DEPTH + 8
    for i in range(deep + 1):
        inputs = [{"ref": f"a{i + 1}.exr"}] if i < deep else []
        record(store, f"a{i}.exr", generated=i == deep, inputs=inputs)
    # as a scan records it: a0's summary (each input's summary in turn) names the GenAI end
    genai = [{"ref": "a1.exr", "asset": f"a{deep}.exr", "depth": deep, "generated": True}]
    summary = {"genai": genai, "unknown": [], "unresolved": [], "assets": [], "depth": deep}
    record(store, "a0.exr", inputs=[{"ref": "a1.exr"}], ancestry=summary)
    store.close()

    recorded = run_cli("lineage", "a0.exr", cwd=tmp_path)
    assert recorded.code == 0, recorded.stderr
    assert "none known" not in recorded.stdout
    assert f"as recorded when audited: a{deep}.exr (depth {deep})" in recorded.stdout
    assert "incomplete: inputs deeper than" in recorded.stdout
    unrecorded = run_cli("lineage", "a1.exr", cwd=tmp_path)  # no summary recorded with it
    assert unrecorded.code == 0, unrecorded.stderr
    assert "none known" not in unrecorded.stdout
    assert "GenAI ancestry: unknown (unsure)" in unrecorded.stdout


# -------------------------------------------------------------------------------------------
# A sidecar that names the asset itself as its input
# -------------------------------------------------------------------------------------------


def test_an_input_naming_the_asset_itself_is_prv02_naming_the_field(tmp_path: Path) -> None:
    write_config(tmp_path, [{"name": "delivery", "paths": ["delivery"], "final": True}])
    plain = single(tmp_path, "delivery/self_v001.exr")
    sidecar(tmp_path, plain, silent(("other.exr", "production_image"), (plain, "production_image")))
    absolute = single(tmp_path, "delivery/abs_v001.exr")
    sidecar(tmp_path, absolute, silent((str(tmp_path / absolute), "production_image")))
    seq = sequence(tmp_path, "delivery/seq_v001.####.exr")
    sidecar(tmp_path, seq, silent(("delivery/seq_v001.1002.exr", "production_image")))
    by_id = single(tmp_path, "delivery/id_v001.exr")
    sidecar(
        tmp_path,
        by_id,
        {**silent(("SHOW01-0042", "production_image")), "x-asset-id": "SHOW01-0042"},
    )
    fine = single(tmp_path, "delivery/fine_v001.exr")
    sidecar(tmp_path, fine, silent(("delivery/self_v002.exr", "production_image")))

    assets = _outcomes(tmp_path)
    for rel, field in [
        (plain, "steps[0].inputs[1].ref"),
        (absolute, "steps[0].inputs[0].ref"),
        (seq, "steps[0].inputs[0].ref"),
        (by_id, "steps[0].inputs[0].ref"),
    ]:
        asset = assets[rel]
        assert asset["outcome"] == "escalate", (rel, asset["findings"])
        (prv02,) = _open(asset, "PRV-02")
        assert prv02["outcome"] == "escalate"
        assert [e["field"] for e in prv02["evidence"]["errors"]] == [field], rel
        assert "the asset itself" in prv02["message"]
    assert assets[fine]["outcome"] == "pass"
