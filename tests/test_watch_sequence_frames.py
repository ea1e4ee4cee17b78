"""A frame sequence whose frames go away (docs/watch.md, *Whole sequence*): ``scan`` reads a
sequence from its first frame (the EXR reader, the detached C2PA manifests named after it)
and keys it on all its frames, so the frames left are another asset. The watcher audits them
again, once, when the sequence is idle — live, after a restart, and when a publish tool
copies the version again without a frame — and its verdict is then ``scan``'s."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _watch_harness import (
    SIDECAR,
    InProcessWatcher,
    audited,
    exr_attr,
    exr_bytes,
    make_show,
    quiet,
    run_writer,
    scan_verdicts,
    wait_audited,
    writer_script,
)
from _watch_harness import watch_verdicts as watched
from clearance.provenance.c2pa import sdk_available

#: frames whose EXR header says they were generated (the first frame's says nothing)
GENAI = exr_attr("genai:generated", "string", b"true") + exr_attr(
    "genai:source_type", "string", b"trainedAlgorithmicMedia"
)
SEQ = "renders/sh.####.exr"


def _frames(renders: Path) -> list[tuple[object, ...]]:
    return [
        ("write", str(renders / "sh.genai.yaml"), SIDECAR),
        ("exr", str(renders / "sh.1001.exr"), 1),
        *[
            ("write", str(renders / f"sh.{n}.exr"), exr_bytes(seed=n, attrs=GENAI))
            for n in (1002, 1003)
        ],
    ]


@pytest.mark.parametrize("when", ["live", "while-down"])
def test_a_sequence_whose_first_frame_is_removed_is_audited_again_as_scan_reads_it(
    tmp_path: Path, when: str
) -> None:
    """Frame 1001 (nothing in its header) is deleted after the audit; 1002 says GenAI: the
    sequence is audited again (``changed``, frames 1002-1003), with scan's verdict, once."""
    root = make_show(tmp_path)
    renders = root / "renders"
    with InProcessWatcher(root):
        run_writer(writer_script, _frames(renders))
        wait_audited(root, 1)
        if when == "live":
            run_writer(writer_script, [("unlink", str(renders / "sh.1001.exr"))])
            wait_audited(root, 2)
        quiet(root, 1.5)
    if when == "while-down":
        os.unlink(renders / "sh.1001.exr")
        with InProcessWatcher(root):
            wait_audited(root, 2)
            quiet(root, 1.5)
    with InProcessWatcher(root):  # nothing changed since: nothing audited
        quiet(root, 1.5)
    first, second = audited(root)
    assert first["outcome"] == "pass" and first["details"]["frames"] == "1001-1003"
    assert second["details"]["frames"] == "1002-1003"
    assert second["details"]["watch"]["reason"] == "changed"
    assert second["details"]["watch"]["supersedes"] == first["details"]["watch"]["audit_id"]
    assert watched(root)[SEQ] == scan_verdicts(root, tmp_path)[SEQ]
    assert second["outcome"] != "pass"


def test_a_sequence_published_again_without_its_first_frame_is_audited_again(
    tmp_path: Path,
) -> None:
    """A publish tool replaces the version: removes every frame and copies 1002-1003 again
    with the same bytes. Each file is a copy of one audited before, but the frames are not
    the audited ones: audited again, with scan's verdict."""
    root = make_show(tmp_path)
    renders = root / "renders"
    again: list[tuple[object, ...]] = [
        ("unlink", str(renders / f"sh.{n}.exr")) for n in (1001, 1002, 1003)
    ]
    for n in (1002, 1003):
        again += [
            ("write", str(renders / f"sh.{n}.tmp"), exr_bytes(seed=n, attrs=GENAI)),
            ("rename", str(renders / f"sh.{n}.tmp"), str(renders / f"sh.{n}.exr")),
        ]
    with InProcessWatcher(root):
        run_writer(writer_script, _frames(renders))
        wait_audited(root, 1)
        run_writer(writer_script, again)
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert second["details"]["frames"] == "1002-1003"
    assert second["details"]["watch"]["reason"] == "changed"
    assert watched(root)[SEQ] == scan_verdicts(root, tmp_path)[SEQ]
    assert second["outcome"] != first["outcome"] == "pass"


def test_frames_removed_after_the_first_and_a_whole_sequence_removed(tmp_path: Path) -> None:
    """A frame after the first goes: the frames left are audited again (their digest, which
    an approval names, changed) with scan's verdict; every frame of a sequence goes: nothing
    is left to audit, and nothing is."""
    root = make_show(tmp_path)
    renders = root / "renders"
    steps: list[tuple[object, ...]] = [("write", str(renders / "gone.genai.yaml"), SIDECAR)]
    steps += [("exr", str(renders / f"gone.{n}.exr"), n) for n in range(1001, 1011)]
    with InProcessWatcher(root):
        run_writer(writer_script, _frames(renders) + steps)
        wait_audited(root, 2)
        run_writer(
            writer_script,
            [("unlink", str(renders / "sh.1003.exr"))]
            + [("unlink", str(renders / f"gone.{n}.exr")) for n in range(1001, 1011)],
        )
        wait_audited(root, 3)
        quiet(root, 2.0)
    events_ = audited(root)
    assert [e["asset"] for e in events_].count("renders/gone.####.exr") == 1
    last = events_[-1]
    assert (last["asset"], last["details"]["frames"]) == (SEQ, "1001-1002")
    assert last["details"]["watch"]["reason"] == "changed"
    assert watched(root)[SEQ] == scan_verdicts(root, tmp_path)[SEQ]


@pytest.mark.skipif(not sdk_available(), reason="c2pa-python not installed")
@pytest.mark.parametrize("manifest_too", [True, False], ids=["with-its-manifest", "frame-only"])
def test_a_first_frame_removed_with_its_manifest_reads_the_next_frames_manifest(
    tmp_path: Path, manifest_too: bool
) -> None:
    """Frame 1001 carries a "digital capture" manifest (``sh.1001.exr.c2pa``), 1002 a
    "trained" one. 1001 is deleted (with or without its manifest): scan now reads
    ``sh.1002.exr.c2pa``; so does the watcher's new audit, live."""
    from _embedded import CAPTURE, TRAINED, c2pa_manifest, make_pki, sign

    root = make_show(tmp_path)
    renders = root / "renders"
    stage = tmp_path / "stage"
    stage.mkdir()
    pki = make_pki()
    steps: list[tuple[object, ...]] = [("write", str(renders / "sh.genai.yaml"), SIDECAR)]
    for n, source in [(1001, CAPTURE), (1002, TRAINED), (1003, None)]:
        frame = stage / f"sh.{n}.exr"
        frame.write_bytes(exr_bytes(seed=1))
        if source is not None:
            sign(frame, frame, pki, c2pa_manifest(source), sidecar=stage / f"sh.{n}.exr.c2pa")
            steps.append(
                (
                    "write",
                    str(renders / f"sh.{n}.exr.c2pa"),
                    (stage / f"sh.{n}.exr.c2pa").read_bytes(),
                )
            )
        steps.append(("write", str(renders / frame.name), frame.read_bytes()))
    gone = [("unlink", str(renders / "sh.1001.exr"))]
    if manifest_too:
        gone.append(("unlink", str(renders / "sh.1001.exr.c2pa")))
    with InProcessWatcher(root, sidecar_grace=1.5):
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        run_writer(writer_script, gone)
        wait_audited(root, 2)
        quiet(root, 3.0)  # past the grace a removed manifest is given to come back
    first, second = audited(root)
    assert first["details"]["watch"]["manifest"] == "renders/sh.1001.exr.c2pa"
    assert second["details"]["watch"]["manifest"] == "renders/sh.1002.exr.c2pa"
    assert second["details"]["frames"] == "1002-1003"
    assert watched(root)[SEQ] == scan_verdicts(root, tmp_path)[SEQ]
    assert second["outcome"] != first["outcome"]


#: what a sidecar of one frame says: GenAI on that frame (a patch, a cleanup)
FRAME_SIDECAR = (
    "provenance: 1\nproduction: SHOW01\ngenerated: true\n"
    "source_type: trainedAlgorithmicMedia\nsteps: [{tool: acme, inputs: []}]\n"
)


def test_a_sidecar_of_one_frame_landing_after_the_audit_is_reported_as_scan_reports_it(
    tmp_path: Path,
) -> None:
    """``sh.1002.exr.genai.yaml`` beside the sequence's own sidecar was read by no one: the
    sequence passed, scan and watcher alike, whatever the frame's sidecar said. It is a
    sidecar the sequence does not read (PRV-02), and one landing later audits it again."""
    root = make_show(tmp_path)
    renders = root / "renders"
    steps = [
        ("write", str(renders / "sh.genai.yaml"), SIDECAR),
        *[("exr", str(renders / f"sh.{n}.exr"), 1) for n in (1001, 1002, 1003)],
    ]
    with InProcessWatcher(root):
        run_writer(writer_script, steps)
        wait_audited(root, 1)
        run_writer(
            writer_script, [("write", str(renders / "sh.1002.exr.genai.yaml"), FRAME_SIDECAR)]
        )
        wait_audited(root, 2)
        quiet(root, 1.5)
    first, second = audited(root)
    assert first["outcome"] == "pass"
    assert second["outcome"] != "pass"
    assert watched(root)[SEQ] == scan_verdicts(root, tmp_path)[SEQ]
    assert "PRV-02" in watched(root)[SEQ][1]


def test_a_frame_that_is_a_folder_is_said_in_the_sequences_audit_as_scan_says_it(
    tmp_path: Path,
) -> None:
    """``sh.1002.exr`` made as a folder between frames 1001 and 1003: the watcher audited
    the sequence on the two frames, its range's gap saying nothing (a pass, where ``scan``
    gives PRV-02 naming the frame). The missing numbers' names are looked at (only for a
    sequence with a gap): the same PRV-02, the same verdict as ``scan``."""
    root = make_show(tmp_path)
    renders = root / "renders"
    renders.mkdir()
    (renders / "sh.1002.exr").mkdir()
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(renders / "sh.genai.yaml"), SIDECAR),
                ("exr", str(renders / "sh.1001.exr"), 1),
                ("exr", str(renders / "sh.1003.exr"), 3),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.0)
    [event] = [e for e in audited(root) if e["asset"] == SEQ]
    assert event["outcome"] != "pass"
    assert watched(root) == scan_verdicts(root, tmp_path)
    from _watch_harness import events

    said = [e for e in events(root, "finding") if e["asset"] == SEQ and e["rule"] == "PRV-02"]
    assert said and "renders/sh.1002.exr: is a folder, not a regular file" in said[-1]["message"]


@pytest.mark.parametrize("frame", ["sh.1000.exr", "sh.1003.exr", "sh.01002.exr"])
def test_a_folder_named_as_a_frame_outside_the_gaps_is_said_as_scan_says_it(
    tmp_path: Path, frame: str
) -> None:
    """A folder named as a frame before the first, after the last, or with another padding:
    ``scan`` gives PRV-02 naming it, the watcher, which looked only at the numbers of a gap,
    said nothing and passed the sequence."""
    root = make_show(tmp_path)
    renders = root / "renders"
    renders.mkdir()
    (renders / frame).mkdir()
    with InProcessWatcher(root):
        run_writer(
            writer_script,
            [
                ("write", str(renders / "sh.genai.yaml"), SIDECAR),
                ("exr", str(renders / "sh.1001.exr"), 1),
                ("exr", str(renders / "sh.1002.exr"), 2),
            ],
        )
        wait_audited(root, 1)
        quiet(root, 1.0)
    assert watched(root) == scan_verdicts(root, tmp_path)
    assert "PRV-02" in watched(root)[SEQ][1]
