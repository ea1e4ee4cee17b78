"""The watcher gives an asset the verdict ``scan`` gives, whichever of it and its inputs lands
(or settles) first (``docs/watch.md``, *Lineage*).

``scan`` audits stages in pipeline order, so a comp's plate is recorded before the comp reads
its ancestry. The watcher audits what settles first: a single-file comp settles after
``--settle``, its plate sequence only after ``--sequence-idle``. A comp audited before its
plate must never pass (its GenAI ancestry is unknown: unsure), and is audited again once the
plate is, so that the watcher's last word is ``scan``'s.
"""

from __future__ import annotations

from pathlib import Path

from _watch_harness import (
    InProcessWatcher,
    WatchProcess,
    audited,
    events,
    exr_bytes,
    lineage_config,
    quiet,
    run_writer,
    scan_verdicts,
    wait_for,
    watch_verdicts,
    write_file,
    writer_script,
)

CONFIG = lineage_config(("renders", "comp"), tools=("gen-tool", "nuke"))

PLATE_SIDECAR = """\
provenance: 1
asset: pl.####.exr
production: SHOW01
generated: true
source_type: trainedAlgorithmicMedia
steps:
  - tool: gen-tool
output: {use: final, on_screen: background, subject: incidental}
"""

# a comp whose sidecar template says "not generated" and classes its plate as a production
# image: only lineage knows the plate was generated (scan: IPTC-03 block, NFX-GP4 approval)
COMP_SIDECAR = """\
provenance: 1
asset: c.exr
production: SHOW01
generated: false
steps:
  - tool: nuke
    inputs:
      - {ref: renders/pl.####.exr, class: production_image}
output: {use: final, on_screen: background, subject: incidental}
"""

PLATE = "renders/pl.####.exr"
COMP = "comp/c.exr"


def _show(base: Path) -> Path:
    root = base / "show"
    root.mkdir(parents=True)
    (root / "clearance.yaml").write_text(CONFIG)
    return root


def _settled_like_scan(root: Path, tmp_path: Path) -> None:
    """Once the plate is audited and the watcher is quiet, its latest verdict of every asset
    is ``scan``'s, and the comp never passed on the way."""
    wait_for(lambda: PLATE in watch_verdicts(root), what="the plate audited")
    quiet(root, 1.5)
    expected = scan_verdicts(root, tmp_path)
    assert expected[COMP][0] == "block"  # what lineage makes of it
    assert watch_verdicts(root) == expected
    comp = [e for e in audited(root) if e["asset"] == COMP]
    assert all(e["outcome"] != "pass" for e in comp), [e["outcome"] for e in comp]
    # it settled first: audited unsure (its plate on disk, not audited yet), then again
    # once the plate was, superseding that audit
    plate = next(e for e in audited(root) if e["asset"] == PLATE)
    first, last = comp[0], comp[-1]
    assert first["seq"] < plate["seq"] < last["seq"] and len(comp) == 2
    assert first["outcome"] == "escalate"
    assert any(
        f["rule"] == "PRV-02" and PLATE in f["message"]
        for f in events(root, "finding")
        if f["asset"] == COMP and f["seq"] < first["seq"]
    )
    assert last["details"]["watch"]["reason"] == "lineage"
    assert last["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]


def test_start_up_on_an_existing_show_gives_scans_verdict_to_a_comp_settled_before_its_plate(
    tmp_path: Path,
) -> None:
    root = _show(tmp_path)
    write_file(root / "renders/pl.genai.yaml", PLATE_SIDECAR.encode())
    for frame in (1001, 1002):
        write_file(root / f"renders/pl.{frame}.exr", exr_bytes(seed=frame))
    write_file(root / "comp/c.exr.genai.yaml", COMP_SIDECAR.encode())
    write_file(root / "comp/c.exr", exr_bytes(seed=9))
    # the real command, as a wrangler starts it: the single-file comp settles long before
    # the plate sequence's idle window ends
    with WatchProcess(root, "--sequence-idle", "1.5") as watcher:
        _settled_like_scan(root, tmp_path)
        assert watcher.terminate() == 0


def test_live_comp_written_before_its_plate_finishes_gets_scans_verdict(tmp_path: Path) -> None:
    root = _show(tmp_path)
    with InProcessWatcher(root, sequence_idle=1.5) as watcher:
        run_writer(
            writer_script,
            [
                ("write", str(root / "renders/pl.genai.yaml"), PLATE_SIDECAR),
                ("exr", str(root / "renders/pl.1001.exr"), 1),
                ("write", str(root / "comp/c.exr.genai.yaml"), COMP_SIDECAR),
                ("exr", str(root / "comp/c.exr"), 9),
                ("exr", str(root / "renders/pl.1002.exr"), 2),  # the plate's last frame
            ],
        )
        _settled_like_scan(root, tmp_path)
        assert watcher.stop() == 0


# a plate that says it is not generated (the 'latest' link's first target)
PLAIN_PLATE_SIDECAR = """\
provenance: 1
asset: pl.exr
production: SHOW01
generated: false
steps:
  - tool: nuke
output: {use: final, on_screen: background, subject: incidental}
"""


def _comp_through_latest(name: str) -> str:
    return COMP_SIDECAR.replace("asset: c.exr", f"asset: {name}").replace(
        "renders/pl.####.exr", "renders/latest/pl.exr"
    )


def test_a_ref_through_a_link_repointed_while_watching_names_the_links_new_target(
    tmp_path: Path,
) -> None:
    """``renders/latest -> v001`` (not generated), repointed to ``v002`` (GenAI) while the
    watcher runs: a comp written after that, made from ``renders/latest/pl.exr``, is made from
    the GenAI plate, as ``scan`` says (the watcher named the ref as it first resolved the
    link, for as long as it ran: the comp passed)."""
    root = _show(tmp_path)
    write_file(root / "renders/v001/pl.exr.genai.yaml", PLAIN_PLATE_SIDECAR.encode())
    write_file(root / "renders/v001/pl.exr", exr_bytes(seed=1))
    write_file(
        root / "renders/v002/pl.exr.genai.yaml",
        PLATE_SIDECAR.replace("pl.####.exr", "pl.exr").encode(),
    )
    write_file(root / "renders/v002/pl.exr", exr_bytes(seed=2))
    (root / "renders/latest").symlink_to("v001")
    write_file(root / "comp/a.exr.genai.yaml", _comp_through_latest("a.exr").encode())
    write_file(root / "comp/a.exr", exr_bytes(seed=3))
    # audited in the watcher's own process (one CPU), as each audit process audits
    with InProcessWatcher(root, audit_processes=0) as watcher:
        wait_for(lambda: "comp/a.exr" in watch_verdicts(root), what="the first comp audited")
        quiet(root, 1.0)
        assert watch_verdicts(root)["comp/a.exr"][0] == "pass"  # made from v001
        (root / "renders/latest").unlink()
        (root / "renders/latest").symlink_to("v002")
        write_file(root / "comp/b.exr.genai.yaml", _comp_through_latest("b.exr").encode())
        write_file(root / "comp/b.exr", exr_bytes(seed=4))
        wait_for(lambda: "comp/b.exr" in watch_verdicts(root), what="the second comp audited")
        quiet(root, 1.5)
        expected = scan_verdicts(root, tmp_path)
        assert expected["comp/b.exr"][0] == "block"  # made from the GenAI plate
        assert watch_verdicts(root)["comp/b.exr"] == expected["comp/b.exr"]
        assert watcher.stop() == 0
