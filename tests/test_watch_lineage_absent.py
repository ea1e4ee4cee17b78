"""An input that is not on disk when its dependant is audited, and lands later
(``docs/watch.md``, *Assets audited before their inputs*).

``scan`` finds such an input *unresolved*, and so does the watcher when it audits the
dependant. Once the input lands in the watched folders and is audited, a fresh ``scan``
resolves it — a deliverable built on a GenAI comp then blocks — so the watcher audits the
dependant again, ``reason: lineage``, live or at its next start. An input that lands where
the watcher never audits (a hidden folder, outside the watched folders) changes nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from _watch_harness import (
    InProcessWatcher,
    audited,
    exr_bytes,
    lineage_config,
    quiet,
    scan_verdicts,
    state_store_at,
    wait_for,
    watch_verdicts,
    write_file,
)

CONFIG = lineage_config(("renders", "comp", "delivery"), tools=("gen-tool", "nuke"))

# the comp was generated; the deliverable's sidecar template classes it as a production
# image: only lineage knows the deliverable carries GenAI material
COMP_SIDECAR = """\
provenance: 1
asset: sh020_comp_v002.####.exr
production: SHOW01
generated: true
source_type: trainedAlgorithmicMedia
steps:
  - tool: gen-tool
output: {use: final, on_screen: background, subject: incidental}
"""

COMP = "comp/sh020_comp_v002.####.exr"
DELIVERY = "delivery/sh020_final_v003.exr"


def _show(base: Path, *refs: str) -> Path:
    """A show whose deliverable (on disk, with its sidecar) declares ``refs``; none of them
    is on disk yet."""
    root = base / "show"
    root.mkdir(parents=True)
    (root / "clearance.yaml").write_text(CONFIG)
    inputs = "".join(f"      - {{ref: {ref}, class: production_image}}\n" for ref in refs)
    sidecar = (
        "provenance: 1\nasset: sh020_final_v003.exr\nproduction: SHOW01\ngenerated: false\n"
        f"steps:\n  - tool: nuke\n    inputs:\n{inputs}"
        "output: {use: final, on_screen: background, subject: incidental}\n"
    )
    write_file(root / f"{DELIVERY}.genai.yaml", sidecar.encode())
    write_file(root / DELIVERY, exr_bytes(seed=3))
    return root


def _write_comp(root: Path, folder: str = "comp") -> None:
    """The GenAI comp sequence, sidecar first (``folder``: where it lands)."""
    write_file(root / folder / "sh020_comp_v002.genai.yaml", COMP_SIDECAR.encode())
    for frame in (1001, 1002):
        write_file(root / folder / f"sh020_comp_v002.{frame}.exr", exr_bytes(seed=frame))


def _audits_of(root: Path, asset: str) -> list[dict]:
    return [e for e in audited(root) if e["asset"] == asset]


def _absent_rows(root: Path) -> list[str]:
    with sqlite3.connect(root / ".clearance" / "state.db") as db:
        return [r[0] for r in db.execute("SELECT input FROM audit_absent ORDER BY input")]


def _reaudited_like_scan(root: Path, tmp_path: Path, first: dict) -> None:
    """The deliverable was audited again for lineage, superseding ``first``, with the
    verdict ``scan`` gives now; and nothing is remembered as missing any more."""
    wait_for(lambda: len(_audits_of(root, DELIVERY)) >= 2, what="the deliverable audited again")
    quiet(root, 1.5)
    audits = _audits_of(root, DELIVERY)
    assert len(audits) == 2, [a["details"]["watch"]["reason"] for a in audits]
    last = audits[-1]
    assert last["details"]["watch"]["reason"] == "lineage"
    assert last["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
    verdicts = watch_verdicts(root)
    assert verdicts == scan_verdicts(root, tmp_path)
    # built on GenAI material: what lineage now finds, and scan too
    assert "NFX-GP4" in verdicts[DELIVERY][1], verdicts[DELIVERY]
    assert _absent_rows(root) == []  # the audit that found it missing is superseded


def test_an_input_not_on_disk_that_lands_later_gets_its_dependant_audited_again(
    tmp_path: Path,
) -> None:
    root = _show(tmp_path, COMP)
    with InProcessWatcher(root) as watcher:
        first = wait_for(lambda: _audits_of(root, DELIVERY), what="the deliverable audited")[0]
        quiet(root, 1.0)
        # the comp is not on disk: unresolved, as scan finds it, and so the verdict scan gives
        assert watch_verdicts(root) == scan_verdicts(root, tmp_path)
        assert "NFX-GP4" not in watch_verdicts(root)[DELIVERY][1]
        assert _absent_rows(root) == ["comp/sh020_comp_v002.#.exr"]
        _write_comp(root)
        wait_for(lambda: _audits_of(root, COMP), what="the comp audited")
        _reaudited_like_scan(root, tmp_path, first)
        assert watcher.stop() == 0


def test_an_input_that_landed_while_the_watcher_was_stopped_gets_its_dependant_audited(
    tmp_path: Path,
) -> None:
    root = _show(tmp_path, "comp/sh020_comp_v002.1001.exr")  # (a frame names its sequence)
    with InProcessWatcher(root) as watcher:
        first = wait_for(lambda: _audits_of(root, DELIVERY), what="the deliverable audited")[0]
        quiet(root, 1.0)
        assert watcher.stop() == 0
    assert _absent_rows(root) == ["comp/sh020_comp_v002.#.exr"]
    _write_comp(root)  # while no watcher runs
    with InProcessWatcher(root) as watcher:
        wait_for(lambda: _audits_of(root, COMP), what="the comp audited")
        _reaudited_like_scan(root, tmp_path, first)
        assert watcher.stop() == 0


def test_an_input_landing_where_the_watcher_never_audits_changes_nothing(
    tmp_path: Path,
) -> None:
    # inputs[0]: in a hidden work folder; inputs[1]: in a folder the watcher does not watch;
    # inputs[2]: in the watched comp folder (the one input worth waiting for)
    hidden, outside = "comp/.wip/sh020_comp_v002.####.exr", "elements/sh020_comp_v002.####.exr"
    root = _show(tmp_path, hidden, outside, COMP)
    watched = [root / "comp", root / "delivery"]
    with InProcessWatcher(root, paths=watched) as watcher:
        first = wait_for(lambda: _audits_of(root, DELIVERY), what="the deliverable audited")[0]
        # (the ledger is written after the event)
        rows = wait_for(lambda: _absent_rows(root), what="the missing input recorded")
        assert rows == ["comp/sh020_comp_v002.#.exr"]  # only the one the watcher would audit
        _write_comp(root, "comp/.wip")
        _write_comp(root, "elements")
        quiet(root, 3.0)
        assert len(_audits_of(root, DELIVERY)) == 1  # neither was audited: nothing changed
        assert audited(root)[-1]["asset"] == DELIVERY
        _write_comp(root)
        wait_for(lambda: _audits_of(root, COMP), what="the comp audited")
        wait_for(lambda: len(_audits_of(root, DELIVERY)) >= 2, what="the deliverable again")
        quiet(root, 1.5)
        audits = _audits_of(root, DELIVERY)
        assert len(audits) == 2
        assert audits[-1]["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
        assert audits[-1]["details"]["watch"]["reason"] == "lineage"
        assert "NFX-GP4" in watch_verdicts(root)[DELIVERY][1]
        assert watcher.stop() == 0


def test_a_start_up_audits_again_what_a_watcher_stopped_before_it_could(tmp_path: Path) -> None:
    """The comp was audited (here by a watcher of ``comp/`` alone, which never audits the
    deliverable) after the deliverable's audit found it missing; the next watcher of both
    folders finds that at its start (nothing on disk changed since) and audits it again."""
    root = _show(tmp_path, COMP)
    with InProcessWatcher(root) as watcher:
        first = wait_for(lambda: _audits_of(root, DELIVERY), what="the deliverable audited")[0]
        wait_for(lambda: _absent_rows(root), what="the missing input recorded")
        assert watcher.stop() == 0
    _write_comp(root)
    with InProcessWatcher(root, paths=[root / "comp"]) as watcher:
        wait_for(lambda: _audits_of(root, COMP), what="the comp audited")
        quiet(root, 1.5)
        assert watcher.stop() == 0
    assert len(_audits_of(root, DELIVERY)) == 1  # not watched there: not audited
    assert _absent_rows(root) == ["comp/sh020_comp_v002.#.exr"]
    with InProcessWatcher(root) as watcher:
        _reaudited_like_scan(root, tmp_path, first)
        assert watcher.stop() == 0


def test_a_ledger_from_before_keeps_working_and_remembers_nothing_missing(
    tmp_path: Path,
) -> None:
    """A state store written by the Clearance before this table is migrated on open."""
    from clearance.state import MIGRATIONS, StateStore

    path = tmp_path / "state.db"
    state_store_at(path, 8)
    store = StateStore(path)
    try:
        assert store.schema_version == len(MIGRATIONS)
        assert store.absent_due_at_start() == []
        assert store.absent_due(["comp/sh020_comp_v002.#.exr"]) == []
    finally:
        store.close()


def test_an_input_missing_further_up_the_chain_reaches_the_deliverable(tmp_path: Path) -> None:
    """plate → comp → deliverable, the (GenAI) plate not on disk: the comp's ancestry, and
    the deliverable's through the comp's recorded one, find it unresolved. Once it lands,
    both are audited again and give ``scan``'s verdicts."""
    root = _show(tmp_path, COMP)
    comp_sidecar = (
        "provenance: 1\nasset: sh020_comp_v002.####.exr\nproduction: SHOW01\n"
        "generated: false\nsteps:\n  - tool: nuke\n    inputs:\n"
        "      - {ref: renders/sh020_plate_v001.####.exr, class: production_image}\n"
        "output: {use: final, on_screen: background, subject: incidental}\n"
    )
    write_file(root / "comp/sh020_comp_v002.genai.yaml", comp_sidecar.encode())
    for frame in (1001, 1002):
        write_file(root / f"comp/sh020_comp_v002.{frame}.exr", exr_bytes(seed=frame))
    with InProcessWatcher(root) as watcher:
        wait_for(
            lambda: _audits_of(root, COMP) and _audits_of(root, DELIVERY),
            what="the comp and the deliverable audited",
        )
        quiet(root, 1.5)
        before = {a: len(_audits_of(root, a)) for a in (COMP, DELIVERY)}
        assert "NFX-GP4" not in watch_verdicts(root)[DELIVERY][1]
        plate = COMP_SIDECAR.replace("sh020_comp_v002", "sh020_plate_v001")
        write_file(root / "renders/sh020_plate_v001.genai.yaml", plate.encode())
        for frame in (1001, 1002):
            write_file(root / f"renders/sh020_plate_v001.{frame}.exr", exr_bytes(seed=frame))
        wait_for(
            lambda: all(len(_audits_of(root, a)) > before[a] for a in (COMP, DELIVERY)),
            what="the comp and the deliverable audited again",
        )
        quiet(root, 1.5)
        for asset in (COMP, DELIVERY):
            assert _audits_of(root, asset)[-1]["details"]["watch"]["reason"] == "lineage"
        verdicts = watch_verdicts(root)
        assert verdicts == scan_verdicts(root, tmp_path)
        assert "NFX-GP4" in verdicts[DELIVERY][1], verdicts[DELIVERY]
        assert watcher.stop() == 0
