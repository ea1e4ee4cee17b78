"""Discovery: media files, sequences, sidecar pairing, hidden/temporary names, stages."""

from __future__ import annotations

from pathlib import Path

from clearance.discover import assets_from_files, discover, frame_ranges, split_frame
from clearance.policy import Policy, StageConfig
from clearance.testing import write_png


def policy(root: Path) -> Policy:
    return Policy(
        root=root,
        stages=[StageConfig("comp", ["comp"]), StageConfig("delivery", ["delivery"], final=True)],
    )


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_frame_ranges_and_split() -> None:
    assert frame_ranges([3, 1, 2, 5, 7, 8]) == "1-3,5,7-8"
    assert frame_ranges([1001]) == "1001"
    assert split_frame("sh010_bg_v003.1001.exr") == ("sh010_bg_v003", "1001", "exr")
    assert split_frame("sh010_bg_v003.exr") is None
    assert split_frame("a.b.1001.exr") == ("a.b", "1001", "exr")


def test_sequences_group_by_prefix_and_extension_and_pair_sequence_sidecar(tmp_path: Path) -> None:
    for f in range(1001, 1011):
        touch(tmp_path / "comp" / f"sh010.{f:04d}.exr")
        touch(tmp_path / "comp" / f"sh010.{f:04d}.png")
    touch(tmp_path / "comp" / "sh010.genai.yaml", b"provenance: 1\n")
    found = discover([tmp_path], policy(tmp_path)).assets
    assert [a.rel for a in found] == ["comp/sh010.####.exr", "comp/sh010.####.png"]
    assert all(a.frames == "1001-1010" and len(a.files) == 10 for a in found)
    assert all(a.sidecar == tmp_path / "comp" / "sh010.genai.yaml" for a in found)
    assert all(a.stage == "comp" for a in found)


def test_padding_is_kept_as_found(tmp_path: Path) -> None:
    for f in (1, 2, 3):
        touch(tmp_path / "comp" / f"fx.{f:06d}.dpx")
    assert discover([tmp_path], policy(tmp_path)).assets[0].rel == "comp/fx.######.dpx"


def test_single_file_pairs_name_ext_sidecar_yaml_before_json(tmp_path: Path) -> None:
    touch(tmp_path / "comp" / "a.png")
    touch(tmp_path / "comp" / "a.png.genai.json", b"{}")
    touch(tmp_path / "comp" / "b.png")
    touch(tmp_path / "comp" / "b.png.genai.json", b"{}")
    touch(tmp_path / "comp" / "b.png.genai.yaml", b"{}")
    a, b = discover([tmp_path], policy(tmp_path)).assets
    assert a.sidecar and a.sidecar.name == "a.png.genai.json"
    assert b.sidecar and b.sidecar.name == "b.png.genai.yaml"


def test_never_assets(tmp_path: Path) -> None:
    for name in (
        "a.png.tmp",
        "b.exr.part",
        "c.png~",
        ".d.png",
        "e.txt",
        "f.png.genai.yaml",
        "g.exr.c2pa",
        ".hid/h.png",
        "README",
    ):
        touch(tmp_path / "comp" / name)
    touch(tmp_path / "comp" / "real.wav")
    assert [a.rel for a in discover([tmp_path], policy(tmp_path)).assets] == ["comp/real.wav"]


def test_configurable_extensions_and_temporary_patterns(tmp_path: Path) -> None:
    p = policy(tmp_path)
    p.extensions = frozenset({"abc"})
    p.temporary = ("*_WIP.*",)
    touch(tmp_path / "comp" / "x.abc")
    touch(tmp_path / "comp" / "y_WIP.abc")
    touch(tmp_path / "comp" / "z.png")
    assert [a.rel for a in discover([tmp_path], p).assets] == ["comp/x.abc"]


def test_explicit_files_form_assets_of_exactly_those_files(tmp_path: Path) -> None:
    frames = [touch(tmp_path / "comp" / f"s.{f}.exr") for f in range(1001, 1006)]
    found = assets_from_files([str(p) for p in frames[:2]], policy(tmp_path)).assets
    assert len(found) == 1 and found[0].frames == "1001-1002"


def test_unreadable_folder_is_reported_not_fatal(tmp_path: Path) -> None:
    write_png(tmp_path / "comp" / "a.png")
    found = discover([tmp_path, tmp_path / "nope"], policy(tmp_path))
    assert [a.rel for a in found.assets] == ["comp/a.png"]
    assert found.errors and "nope" in found.errors[0][0]


def test_stage_override(tmp_path: Path) -> None:
    write_png(tmp_path / "comp" / "a.png")
    assert discover([tmp_path], policy(tmp_path), stage="delivery").assets[0].stage == "delivery"


def test_a_sequence_knows_its_frame_names_and_follows_changes_to_its_files(
    tmp_path: Path,
) -> None:
    """Discovery hands each sequence the names it listed (the cache and lineage key on them);
    a changed ``files`` list gives its own names."""
    for frame in (1001, 1002, 1003):
        write_png(tmp_path / f"sh010_bg_v001.{frame}.png")
    (sequence,) = discover([tmp_path], Policy(root=tmp_path)).assets
    assert sequence.file_names() == [p.name for p in sequence.files]
    assert sequence.file_names()[0] == "sh010_bg_v001.1001.png"
    sequence.files.append(tmp_path / "sh010_bg_v001.1004.png")
    assert sequence.file_names()[-1] == "sh010_bg_v001.1004.png"
    sequence.files = sequence.files[:1]
    assert sequence.file_names() == ["sh010_bg_v001.1001.png"]
    assert all(isinstance(p, Path) and p.parent == tmp_path for p in sequence.files)
