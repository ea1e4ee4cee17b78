"""The timeline's changed-on-disk check: many assets in one folder, each compared with the
version a real scan recorded; the folder is listed once per audit, as a scan lists it.

Real files in ``tmp_path``, a real scan through the CLI, a real ``.otio`` with two timelines;
:func:`clearance.timeline.audit_timeline` runs in this process so that its listings can be
counted (a counting wrapper around the real ``os.scandir`` and ``os.listdir``).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clearance.discover import discover
from clearance.lineage import LineageStore, version_key
from clearance.model import Outcome
from clearance.policy import load_policy
from clearance.timeline import TimelineAudit, audit_timeline
from conftest import run_cli
from test_lineage import sequence, sidecar, silent, single, write_config
from test_timeline import file_clip, seq_clip, timeline

otio = pytest.importorskip("opentimelineio")

SEQUENCES = 20
STILLS = 20
FRAMES = range(1001, 1006)
CHANGED = "the media or its sidecar changed since it was audited: re-scan before auditing the cut"


def seq_rel(i: int) -> str:
    return f"comp/sh{i:03d}_comp_v001.####.exr"


def still_rel(i: int) -> str:
    return f"comp/sh{i:03d}_still_v001.exr"


def frame(root: Path, i: int, number: int) -> Path:
    return root / f"comp/sh{i:03d}_comp_v001.{number:04d}.exr"


@pytest.fixture
def flat_show(tmp_path: Path) -> Path:
    """One flat ``comp/`` folder of sequences and stills, each with its sidecar, scanned."""
    root = tmp_path / "show"
    root.mkdir()
    write_config(root, [{"name": "comp", "paths": ["comp"]}])
    for i in range(SEQUENCES):
        sidecar(root, sequence(root, seq_rel(i), FRAMES), silent())
    for i in range(STILLS):
        sidecar(root, single(root, still_rel(i)), silent())
    scanned = run_cli("scan", str(root), "--no-progress")
    assert scanned.code in (0, 1), scanned.stderr
    (root / "editorial").mkdir()
    return root


def write_two_timelines(root: Path) -> Path:
    """Two timelines in one file, each cutting in every asset of ``comp/`` (twice in V2)."""
    cuts = []
    for name in ("cut A", "cut B"):
        v1 = [
            seq_clip(f"seq {i}", "../comp/", f"sh{i:03d}_comp_v001.", 1001, 5, 1001, 5)
            for i in range(SEQUENCES)
        ]
        v2 = [file_clip(f"still {i}", f"../{still_rel(i)}", 6) for i in range(STILLS) for _ in "ab"]
        cuts.append(timeline({"V1": v1, "V2": v2}, name=name))
    path = root / "editorial" / "cuts.otio"
    otio.adapters.write_to_file(otio.schema.SerializableCollection(children=cuts), str(path))
    return path


def audited(root: Path) -> list[TimelineAudit]:
    policy = load_policy(root / "clearance.yaml")
    assert policy.state_path is not None
    store = LineageStore(policy.state_path, create=False)
    try:
        return audit_timeline(root / "editorial" / "cuts.otio", store, policy.root, policy)
    finally:
        store.close()


def problems_by_asset(audits: list[TimelineAudit]) -> dict[str, list[str]]:
    """Each asset's problems; every clip of one asset, in both timelines, says the same."""
    found: dict[str, list[list[str]]] = {}
    for audit in audits:
        for clip in audit.clips:
            assert clip.asset is not None, clip.problems
            found.setdefault(clip.asset, []).append(clip.problems)
    for asset, each in found.items():
        assert all(p == each[0] for p in each), (asset, each)
    return {asset: each[0] for asset, each in found.items()}


def counting(calls: Counter[str], real: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(path: Any = ".") -> Any:
        calls[os.path.realpath(os.fsdecode(path))] += 1
        return real(path)

    return wrapper


def test_a_folder_of_many_assets_is_listed_once_per_audit(
    flat_show: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_two_timelines(flat_show)
    calls: Counter[str] = Counter()
    monkeypatch.setattr(os, "scandir", counting(calls, os.scandir))
    monkeypatch.setattr(os, "listdir", counting(calls, os.listdir))
    audits = audited(flat_show)
    monkeypatch.undo()
    assert len(audits) == 2 and all(len(a.clips) == SEQUENCES + 2 * STILLS for a in audits)
    assert all(p == [] for p in problems_by_asset(audits).values())
    comp = os.path.realpath(flat_show / "comp")
    assert calls[comp] == 1, calls  # 40 assets, 120 clips, two timelines: one listing


def test_changed_deleted_and_added_files_among_many_assets_are_told_apart(
    flat_show: Path,
) -> None:
    write_two_timelines(flat_show)
    assert all(p == [] for p in problems_by_asset(audited(flat_show)).values())

    last = frame(flat_show, 0, FRAMES[-1])
    last.write_bytes(last.read_bytes() + b"re-rendered")  # a changed frame
    frame(flat_show, 1, 1003).unlink()  # a deleted frame (in the middle)
    frame(flat_show, 2, 1006).write_bytes(frame(flat_show, 2, 1005).read_bytes())  # an added one
    for number in FRAMES:  # every frame gone
        frame(flat_show, 3, number).unlink()
    (flat_show / "comp/sh004_comp_v001.genai.yaml").write_text(
        (flat_show / "comp/sh004_comp_v001.genai.yaml").read_text() + "# edited\n"
    )
    still = flat_show / still_rel(0)
    still.write_bytes(still.read_bytes() + b"re-rendered")  # a changed single file
    (flat_show / still_rel(1)).unlink()  # a deleted single file
    (flat_show / f"{still_rel(2)}.genai.yaml").write_text(
        (flat_show / f"{still_rel(2)}.genai.yaml").read_text() + "# edited\n"
    )

    problems = problems_by_asset(audited(flat_show))
    expected = {seq_rel(i): [] for i in range(SEQUENCES)} | {
        still_rel(i): [] for i in range(STILLS)
    }
    for changed in (seq_rel(0), seq_rel(1), seq_rel(2), seq_rel(4), still_rel(0), still_rel(2)):
        expected[changed] = [CHANGED]
    for gone in (seq_rel(3), still_rel(1)):
        expected[gone] = [f"the audited media is no longer on disk ({gone})"]
    assert problems == expected

    # the verdict a scan of the folder gives now: its version of each asset against the row
    policy = load_policy(flat_show / "clearance.yaml")
    assert policy.state_path is not None
    now = {a.rel: version_key(a) for a in discover([flat_show / "comp"], policy).assets}
    store = LineageStore(policy.state_path, create=False)
    try:
        for rel, said in problems.items():
            row = store.find(rel, flat_show)
            assert row is not None
            assert (said == []) == (now.get(rel) == row.version), rel
    finally:
        store.close()


def test_a_folder_that_cannot_be_listed_is_unsure_never_a_pass(flat_show: Path) -> None:
    write_two_timelines(flat_show)
    (flat_show / "comp").rename(flat_show / "comp-moved")
    (flat_show / "comp").symlink_to("comp")  # a link to itself: never a folder to list
    audits = audited(flat_show)
    for clip in (c for a in audits for c in a.clips):
        assert clip.outcome is Outcome.ESCALATE, clip
        assert len(clip.problems) == 1
        assert clip.problems[0].startswith(
            "cannot tell whether the media changed since it was audited: its folder cannot be "
            "listed ("
        ), clip.problems


def test_a_linked_stage_folder_is_compared_under_the_name_the_scan_gave_it(
    tmp_path: Path,
) -> None:
    """``comp`` is a link to another share: the scan named its assets ``comp/...``; the
    check lists the folder through the link (its real path named every asset outside the
    show: all of them "no longer on disk")."""
    root = tmp_path / "show"
    root.mkdir()
    write_config(root, [{"name": "comp", "paths": ["comp"]}])
    share = tmp_path / "share" / "comp"
    share.mkdir(parents=True)
    (root / "comp").symlink_to(share)
    for i in range(3):
        sidecar(root, sequence(root, seq_rel(i), FRAMES), silent())
        sidecar(root, single(root, still_rel(i)), silent())
    scanned = run_cli("scan", str(root), "--no-progress")
    assert scanned.code in (0, 1), scanned.stderr
    (root / "editorial").mkdir()
    v1 = [
        seq_clip(f"seq {i}", "../comp/", f"sh{i:03d}_comp_v001.", 1001, 5, 1001, 5)
        for i in range(3)
    ]
    v2 = [file_clip(f"still {i}", f"../{still_rel(i)}", 6) for i in range(3)]
    otio.adapters.write_to_file(
        otio.schema.SerializableCollection(children=[timeline({"V1": v1, "V2": v2})]),
        str(root / "editorial" / "cuts.otio"),
    )
    problems = problems_by_asset(audited(root))
    assert len(problems) == 6 and all(p == [] for p in problems.values()), problems
    still = share / "sh000_still_v001.exr"
    still.write_bytes(still.read_bytes() + b"re-rendered")
    assert problems_by_asset(audited(root))[still_rel(0)] == [CHANGED]
