"""What the watcher waits for before an asset's ancestry is complete, and when it stops
waiting (``docs/watch.md``, *Assets audited before their inputs*).

An asset audited before a declared input the watcher *will* audit is unsure (``PRV-02``) and
audited again once that input is. The watcher must never wait for an input it will not audit
(inside a hidden folder) or that is gone (deleted while it waited): a cold ``scan`` passes
such an asset, and so must the watcher, once idle.
"""

from __future__ import annotations

from pathlib import Path

from _watch_harness import (
    InProcessWatcher,
    audited,
    events,
    exr_bytes,
    quiet,
    scan_verdicts,
    wait_for,
    watch_verdicts,
    write_file,
)

CONFIG = """\
clearance: 1
production: {id: SHOW01, genre: fiction}
audit: {log: .clearance/audit.jsonl, state: .clearance/state.db}
stages:
  - {name: renders, paths: [renders/]}
  - {name: comp, paths: [comp/]}
tools:
  nuke: {vendor: Foundry, deployment: studio_enterprise, trains_on_inputs: false,
         retains_data: none, reuses_outputs: false, marks_output: none, terms: site}
"""

COMP = "comp/c.exr"
PLATE = "renders/pl.####.exr"


def _show(base: Path, *refs: str) -> Path:
    """A show whose single-file comp declares ``refs`` (production images)."""
    root = base / "show"
    root.mkdir(parents=True)
    (root / "clearance.yaml").write_text(CONFIG)
    inputs = "".join(f"      - {{ref: {ref}, class: production_image}}\n" for ref in refs)
    sidecar = (
        "provenance: 1\nasset: c.exr\nproduction: SHOW01\ngenerated: false\n"
        f"steps:\n  - tool: nuke\n    inputs:\n{inputs}"
        "output: {use: final, on_screen: background, subject: incidental}\n"
    )
    write_file(root / "comp/c.exr.genai.yaml", sidecar.encode())
    return root


def _plate(root: Path) -> None:
    for frame in (1001, 1002):
        write_file(root / f"renders/pl.{frame}.exr", exr_bytes(seed=frame))


def _comp_audits(root: Path) -> list[dict]:
    return [e for e in audited(root) if e["asset"] == COMP]


def test_an_input_in_a_hidden_folder_is_never_waited_for_and_the_finding_names_the_field(
    tmp_path: Path,
) -> None:
    # inputs[0] is in a hidden work folder (a walk never enters it: never audited);
    # inputs[1] is a plate sequence the watcher audits after the comp has settled
    root = _show(tmp_path, "renders/.wip/pl.exr", "renders/pl.####.exr")
    write_file(root / "renders/.wip/pl.exr", exr_bytes(seed=7))
    _plate(root)
    write_file(root / COMP, exr_bytes(seed=9))
    with InProcessWatcher(root, sequence_idle=1.5) as watcher:
        wait_for(lambda: PLATE in watch_verdicts(root), what="the plate audited")
        wait_for(lambda: len(_comp_audits(root)) >= 2, what="the comp audited again")
        quiet(root, 1.5)
        assert watcher.stop() == 0
    first = _comp_audits(root)[0]
    assert first["outcome"] == "escalate"  # the plate was pending: never a pass
    why = [
        f["message"]
        for f in events(root, "finding")
        if f["asset"] == COMP and f["rule"] == "PRV-02" and f["seq"] < first["seq"]
    ]
    assert len(why) == 1, why
    # names the sidecar field that declares the input it waits for, and only that input
    assert "comp/c.exr.genai.yaml: steps[0].inputs[1]: " in why[0], why[0]
    assert PLATE in why[0] and ".wip" not in why[0] and "state.db" not in why[0], why[0]
    assert _comp_audits(root)[-1]["details"]["watch"]["reason"] == "lineage"
    assert watch_verdicts(root) == scan_verdicts(root, tmp_path)
