"""A stage folder that is a link to another share (``comp -> /mnt/fast/show01/comp``).

A walk of the show goes through the link under its own name, so every command given a path
through it must name the files the same way: the show's configuration, the stage the link's
name is in, and the show's audit log (never a log written into the share, under the built-in
default policy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from clearance.testing import ClearanceRun
from conftest import genai_sidecar, run_cli


def linked_show(tmp_path: Path) -> tuple[ClearanceRun, Path]:
    """A show whose ``comp`` stage folder is a link to ``tmp_path/share/comp``, which holds
    one GenAI asset with its sidecar."""
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    show.write_config()
    share = tmp_path / "share" / "comp"
    share.mkdir(parents=True)
    (show.root / "comp").symlink_to(share)
    show.asset("comp/sh010_comp_v001.png", sidecar=genai_sidecar())
    return show, share


def audited(log: Path) -> list[dict[str, Any]]:
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [e for e in events if e["event"] == "asset.audited"]


def stage_finished(log: Path) -> list[dict[str, Any]]:
    """The ``stage.finished`` events of stage comp (a scan also runs the empty stages)."""
    events = [json.loads(line) for line in log.read_text().splitlines()]
    return [e for e in events if e["event"] == "stage.finished" and e["stage"] == "comp"]


def assert_named_in_the_show(show: ClearanceRun, share: Path) -> None:
    log = show.root / ".clearance" / "audit.jsonl"
    assert [(e["stage"], e["asset"]) for e in audited(log)] == [
        ("comp", "comp/sh010_comp_v001.png")
    ]
    assert not (share / ".clearance").exists(), "an audit log was written into the share"


def test_check_through_a_linked_stage_folder_uses_the_shows_configuration(
    tmp_path: Path,
) -> None:
    show, share = linked_show(tmp_path)
    done = run_cli("check", "comp/sh010_comp_v001.png", "--format", "json", cwd=show.root)
    assert done.code == 0, done.stderr
    [item] = done.json()["assets"]
    assert (item["stage"], item["asset"]) == ("comp", "comp/sh010_comp_v001.png")
    assert_named_in_the_show(show, share)


def test_scan_of_a_linked_stage_folder_names_its_files_in_the_show(tmp_path: Path) -> None:
    show, share = linked_show(tmp_path)
    done = run_cli("scan", "comp", cwd=show.root)
    assert done.code == 0, done.stderr
    assert_named_in_the_show(show, share)
    [finished] = stage_finished(show.root / ".clearance" / "audit.jsonl")
    assert finished["stage"] == "comp" and finished["details"]["complete"] is True


def test_a_scan_of_the_show_sees_a_linked_stage_folder_whole(tmp_path: Path) -> None:
    """Its ``stage.finished`` says ``complete`` (the stage's own checks speak for it, and a
    later complete run that finds nothing clears them): the walk went through the link."""
    show, share = linked_show(tmp_path)
    done = run_cli("scan", str(show.root))
    assert done.code == 0, done.stderr
    [finished] = stage_finished(show.root / ".clearance" / "audit.jsonl")
    assert finished["stage"] == "comp" and finished["details"]["complete"] is True


def test_a_show_reached_through_a_link_is_found_above_a_linked_stage_folder(
    tmp_path: Path,
) -> None:
    """``/shows/abc -> /mnt/nas/abc`` above the root and ``comp`` a link below it."""
    show, share = linked_show(tmp_path)
    alias = tmp_path / "shows_abc"
    alias.symlink_to(show.root)
    done = run_cli("check", str(alias / "comp" / "sh010_comp_v001.png"), cwd=tmp_path)
    assert done.code == 0, done.stderr
    assert_named_in_the_show(show, share)


def test_the_shells_working_folder_keeps_the_link_it_was_reached_through(
    tmp_path: Path,
) -> None:
    """``cd comp && clearance check x.png``: the shell's ``$PWD`` names the folder through
    the link; the system's working folder is the share. Without ``$PWD`` (or one that is
    another folder) the share is all there is to go on."""
    show, share = linked_show(tmp_path)
    done = run_cli("check", "sh010_comp_v001.png", cwd=share, env={"PWD": str(show.root / "comp")})
    assert done.code == 0, done.stderr
    assert_named_in_the_show(show, share)

    elsewhere = run_cli("check", "sh010_comp_v001.png", cwd=share, env={"PWD": str(tmp_path)})
    assert elsewhere.code in (0, 1), elsewhere.stderr
    assert (share / ".clearance").exists()  # from the share alone, no show is found


def test_dot_dot_through_a_link_is_read_as_the_system_reads_it(tmp_path: Path) -> None:
    """``comp/../comp/x.png``: ``comp/..`` is the share's folder (the link's target's
    parent), as ``open`` resolves it, not the show: the file read is the one ``ls`` shows."""
    show, share = linked_show(tmp_path)
    (share.parent / "loose.png").write_bytes((share / "sh010_comp_v001.png").read_bytes())
    done = run_cli("check", "comp/../loose.png", "--format", "json", cwd=show.root)
    assert "no such file" not in done.stderr, done.stderr
    [item] = done.json()["assets"]
    assert item["asset"] == "loose.png"  # under the share, where no show is: default policy


def test_a_link_inside_the_show_names_its_files_by_their_real_path(tmp_path: Path) -> None:
    """``comp/latest -> comp/v003``: a walk audits v003 under its own name, so a path given
    through ``latest`` is named that way too (one asset, whichever way it is given)."""
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    show.write_config()
    show.asset("comp/v003/sh010.png", sidecar=genai_sidecar())
    (show.root / "comp" / "latest").symlink_to(show.root / "comp" / "v003")
    scanned = run_cli("scan", ".", "--format", "json", cwd=show.root)
    through = run_cli("scan", "comp/latest", "--format", "json", cwd=show.root)
    checked = run_cli("check", "comp/latest/sh010.png", "--format", "json", cwd=show.root)
    names = [[a["asset"] for a in done.json()["assets"]] for done in (scanned, through, checked)]
    assert names == [["comp/v003/sh010.png"]] * 3, [d.stderr for d in (scanned, through, checked)]
    assert os.path.islink(show.root / "comp" / "latest")


def test_validate_through_a_linked_stage_folder_reports_what_check_reports(
    tmp_path: Path,
) -> None:
    """A sidecar that names another asset, given through the link: ``validate`` says what
    ``check`` says (it lost the pairing: the asset's sidecar was named through the link,
    the one given by its real path), and two sidecars of one asset are both invalid."""
    show, share = linked_show(tmp_path)
    doc = genai_sidecar()
    doc["asset"] = "sh999_other.png"
    show.asset("comp/sh020.png", sidecar=doc)
    given = "comp/sh020.png.genai.yaml"
    done = run_cli("validate", given, cwd=show.root)
    assert done.code == 1, done.stdout + done.stderr
    assert "but is paired with 'sh020.png'" in done.stdout
    (share / "sh010_comp_v001.png.genai.json").write_text(json.dumps(genai_sidecar()))
    both = ["comp/sh010_comp_v001.png.genai.yaml", "comp/sh010_comp_v001.png.genai.json"]
    done = run_cli("validate", *both, cwd=show.root)
    assert done.code == 1, done.stdout
    assert len(done.stdout.splitlines()) == 2 and "valid" not in done.stdout


def test_validate_through_a_linked_stage_folder_uses_the_shows_media_extensions(
    tmp_path: Path,
) -> None:
    """The show's ``discovery.extensions`` say what an asset is: a sidecar of a ``.zzz``
    asset given through the link is paired with it, as ``scan`` of the show pairs it."""
    show, share = linked_show(tmp_path)
    show.config["discovery"] = {"extensions": ["png", "zzz"]}
    show.write_config()
    show.asset("comp/plate.zzz", sidecar=genai_sidecar())
    done = run_cli("validate", "comp/plate.zzz.genai.yaml", cwd=show.root)
    assert done.stdout == "comp/plate.zzz.genai.yaml: valid (provenance)\n", done.stdout


def test_lineage_from_inside_a_linked_stage_folder_finds_the_asset(tmp_path: Path) -> None:
    show, share = linked_show(tmp_path)
    assert run_cli("scan", str(show.root)).code == 0
    done = run_cli(
        "lineage", "sh010_comp_v001.png", cwd=share, env={"PWD": str(show.root / "comp")}
    )
    assert done.code == 0, done.stderr
    assert done.stdout.startswith("comp/sh010_comp_v001.png  [comp]")


def test_a_scan_of_a_folder_names_a_link_into_the_rest_of_the_show_as_the_show_does(
    tmp_path: Path,
) -> None:
    """``scan comp`` where ``comp/out -> ../delivery``: delivery's files are the show's
    ``delivery/...``, in the final stage, as ``scan .``, ``check`` and the watcher name them
    (they were ``comp/out/...`` in stage comp: a GenAI deliverable audited as not final)."""
    show = ClearanceRun(tmp_path / "show")
    show.root.mkdir()
    show.write_config()
    (show.root / "comp").mkdir()
    show.asset("delivery/sh010_final_v001.png", sidecar=genai_sidecar())
    (show.root / "comp" / "out").symlink_to(show.root / "delivery")
    whole = run_cli("scan", ".", "--format", "json", cwd=show.root)
    part = run_cli("scan", "comp", "--format", "json", cwd=show.root)
    named = [[(a["stage"], a["asset"]) for a in d.json()["assets"]] for d in (whole, part)]
    assert named == [[("delivery", "delivery/sh010_final_v001.png")]] * 2, part.stderr
