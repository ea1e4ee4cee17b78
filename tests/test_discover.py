"""Discovery: media files, sequences, sidecar pairing, hidden/temporary names, stages."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

import pytest

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


def test_sidecars_given_stand_for_their_assets_and_list_their_folder_once(
    tmp_path: Path,
) -> None:
    """``clearance check`` given many sidecars of one folder: each names its asset (a single
    file, a sequence's frames, a ``NAME.c2pa`` manifest's ``NAME.EXT``), and the folder is
    listed once in all, not once per sidecar (counted with Python's own audit events for
    os.listdir and os.scandir)."""
    comp = tmp_path / "comp"
    sidecars = []
    for i in range(150):
        touch(comp / f"x{i:04d}.png")
        sidecars.append(touch(comp / f"x{i:04d}.png.genai.yaml"))
    for n in (1001, 1002, 1004):
        touch(comp / f"seq.{n}.exr")
    sidecars.append(touch(comp / "seq.genai.yaml"))
    touch(comp / "plate.exr")
    sidecars.append(touch(comp / "plate.c2pa"))
    listings: list[str] = []
    counting = [True]

    def hook(event: str, args: tuple) -> None:
        if counting[0] and event in ("os.listdir", "os.scandir"):
            listings.append(str(args[0]))

    sys.addaudithook(hook)
    try:
        found = assets_from_files([str(p) for p in sidecars], policy(tmp_path))
    finally:
        counting[0] = False
    assert not found.errors
    assert [a.rel for a in found.assets] == [
        "comp/plate.exr",
        "comp/seq.####.exr",
        *(f"comp/x{i:04d}.png" for i in range(150)),
    ]
    assert found.assets[1].frames == "1001-1002,1004"
    assert all(a.sidecar is not None for a in found.assets[2:])
    assert listings == [str(comp)]


def test_a_file_named_like_its_folders_sequence_pattern_is_reported_never_dropped(
    tmp_path: Path,
) -> None:
    """A stray ``seq.####.png`` (a mis-set Write node) has the name of the sequence
    ``seq.1001.png`` …: one name cannot be reported, cached or recorded for both. The
    sequence is audited; the file is a discovery error naming both (exit 2), in a walk and
    in ``clearance check``."""
    comp = tmp_path / "comp"
    frames = [write_png(comp / f"seq.{n}.png") for n in range(1001, 1004)]
    stray = write_png(comp / "seq.####.png")
    for found in (
        discover([tmp_path], policy(tmp_path)),
        assets_from_files([str(stray), *map(str, frames)], policy(tmp_path)),
    ):
        [asset] = found.assets
        assert asset.rel == "comp/seq.####.png" and asset.frames == "1001-1003"
        [(path, reason)] = found.errors
        assert path == str(stray)
        assert reason == (
            "not audited: the file seq.####.png has the same name, comp/seq.####.png, as the "
            "frame sequence seq.1001.png … seq.1003.png (frames 1001-1003), which is audited "
            "under it; rename one of them"
        )


def test_a_file_given_alone_meets_its_folders_asset_of_the_same_name(tmp_path: Path) -> None:
    """The same-name rule applies whatever was given: a stray ``seq.####.png`` given alone
    (or a frame of the sequence given alone) is compared with what a walk of its folder
    finds, so the stray file never stands for the sequence's name."""
    comp = tmp_path / "comp"
    frames = [write_png(comp / f"seq.{n}.png") for n in range(1001, 1004)]
    stray = write_png(comp / "seq.####.png")
    for given, audited in (([stray], "1001-1003"), ([frames[1]], "1002")):
        for found, frames_audited in (
            (assets_from_files(given, policy(tmp_path)), audited),
            (discover(given, policy(tmp_path)), audited),
            (discover([comp, *given], policy(tmp_path)), "1001-1003"),
        ):
            assert [(a.rel, a.frames) for a in found.assets] == [
                ("comp/seq.####.png", frames_audited)
            ]
            [(path, reason)] = found.errors
            assert path == str(stray) and reason.startswith("not audited: the file seq.####.png")


def test_a_name_that_is_not_utf8_beside_a_file_named_as_its_escape_is_reported(
    tmp_path: Path,
) -> None:
    """``caf<0xE9>.png`` is shown as ``caf\\xe9.png``, the name of another file: the file
    named so is audited, the other is a discovery error that tells them apart by bytes."""
    comp = tmp_path / "comp"
    literal = write_png(comp / "caf\\xe9.png")
    latin1 = os.path.join(os.fsencode(comp), b"caf\xe9.png")
    with open(latin1, "wb") as f:
        f.write(literal.read_bytes())
    found = discover([tmp_path], policy(tmp_path))
    [asset] = found.assets
    assert asset.rel == "comp/caf\\xe9.png" and asset.path == literal
    [(path, reason)] = found.errors
    assert os.fsencode(path) == latin1
    assert reason == (
        "not audited: the file b'caf\\xe9.png' (a name that is not UTF-8) has the same name, "
        "comp/caf\\xe9.png, as the file caf\\xe9.png, which is audited under it; "
        "rename one of them"
    )


def test_the_same_asset_found_twice_is_kept_once_without_an_error(tmp_path: Path) -> None:
    """Overlapping paths, and a frame given beside its folder, name the same asset again."""
    comp = tmp_path / "comp"
    for n in range(1001, 1004):
        write_png(comp / f"seq.{n}.png")
    write_png(comp / "a.png")
    found = discover([tmp_path, comp, comp / "seq.1002.png", comp / "a.png"], policy(tmp_path))
    assert not found.errors
    assert [(a.rel, a.frames) for a in found.assets] == [
        ("comp/a.png", None),
        ("comp/seq.####.png", "1001-1003"),
    ]


@pytest.mark.parametrize(
    ("numbers", "name", "frames"),
    [
        ([f"{n}" for n in range(8, 13)], "comp/render.#.png", "8-12"),  # Houdini's $F
        ([f"{n:03d}" for n in range(998, 1003)], "comp/render.###.png", "998-1002"),
    ],
)
def test_a_frame_given_is_named_as_its_folders_sequence_whatever_its_digits(
    tmp_path: Path, numbers: list[str], name: str, frames: str
) -> None:
    """A sequence whose frame numbers change digit count (unpadded, or past its padding) is
    named by its first frame; a frame given beside its folder, or alone, with more digits
    used to make a second asset (``render.##.png``), audited twice."""
    comp = tmp_path / "comp"
    for n in numbers:
        write_png(comp / f"render.{n}.png")
    frame = comp / f"render.{numbers[2]}.png"
    found = discover([tmp_path, frame], policy(tmp_path))
    assert not found.errors
    assert [(a.rel, a.frames) for a in found.assets] == [(name, frames)]
    given = assets_from_files([frame, comp / f"render.{numbers[-1]}.png"], policy(tmp_path))
    assert [a.rel for a in given.assets] == [name] and not given.errors


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


# -- one pattern per name (the walk's classifier) agrees with the two functions ----------------

_EDGE_NAMES = [
    "a.png",
    "A.PNG",
    "a.Png",
    "sh010.1001.exr",
    "sh010.1001.EXR",
    "sh010.01.exr",
    "sh010.1.exr",
    "a.b.1001.exr",
    "a.1001.exr.tmp",
    "a.1001.exr~",
    "a.1001.exr.part",
    ".a.1001.exr",
    "a.png.genai.yaml",
    "a.png.GENAI.YML",
    "a.genai.json",
    "a.c2pa",
    "a.C2PA",
    "a.exr.c2pa",
    "README",
    "a.",
    "a..png",
    ".png",
    "a.1001.",
    "a.1001.png.",
    "a\nb.1001.exr",
    "a.1001.exr\n",
    "x\n.png",
    "1001.exr",
    ".1001.exr",
    "a.1001.tar.gz",
    "a.١٢٣.exr",
    "été.1001.exr",
    "a_WIP.png",
    "a_WIP.1001.png",
    "sh010_v001.1001.tiff",
    "a.1001.tif_",
    "a.1001.jpeg",
]


def _old_split(names, p):
    from clearance.discover import _split_names, candidate_test

    return _split_names(filter(candidate_test(p), names))


@pytest.mark.parametrize(
    ("extensions", "temporary", "ignore"),
    [
        (None, None, ()),
        (frozenset({"abc", "png", "tif_", "exr"}), ("*_WIP.*",), ("a.1*",)),
        (frozenset({"yaml", "json", "c2pa", "png"}), (), ()),
        (frozenset({"png"}), ("[ab]*", "?.png"), ("*.1001.*",)),
    ],
)
def test_the_walks_classifier_agrees_with_is_candidate_and_split_frame(
    tmp_path: Path, extensions, temporary, ignore
) -> None:
    """One regular expression decides candidacy and splits frames for every listed name; it
    must say what ``is_candidate`` and ``split_frame`` say, on edge cases and random names."""
    from clearance.discover import _classify, _tests

    p = policy(tmp_path)
    if extensions is not None:
        p.extensions = extensions
    if temporary is not None:
        p.temporary = temporary
    p.ignore = ignore
    assert _tests(p)[1] is not None
    rng = random.Random(7)
    alphabet = "ab1_.-~ é\n" + "".join(sorted({c for e in p.extensions for c in e + e.upper()}))
    names = list(_EDGE_NAMES)
    for _ in range(4000):
        base = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        ext = rng.choice([*p.extensions, "txt", "PNG", "genai.yaml", "c2pa", ""])
        frame = rng.choice(["", f".{rng.randint(0, 99999)}", ".0012"])
        names.append(f"{base}{frame}.{ext}" if ext else base + frame)
    names = sorted(set(names))
    for name in names:  # one at a time (the walk's loop) ...
        assert _classify([name], p) == _old_split([name], p), name
    assert _classify(names, p) == _old_split(names, p)  # ... and a whole folder at once


@pytest.mark.parametrize(
    ("temporary", "ignore"),
    [
        (None, ()),  # the defaults: *.tmp, *.part, *~ cannot tell frames apart
        (("*_WIP*",), ("*.png",)),
        (("a.1*",), ()),  # a digit: matched name by name
        ((), ("*.100?.*",)),  # ? counts characters: matched name by name
    ],
)
def test_a_folder_that_is_mostly_one_sequence_splits_as_the_classifier_does(
    tmp_path: Path, temporary, ignore
) -> None:
    """A big folder of one sequence is split by one plain pattern (``_one_sequence``), not a
    classifier match per name; the split must be the same, whatever else the folder holds."""
    from clearance.discover import _classify, _one_sequence, _tests

    p = policy(tmp_path)
    if temporary is not None:
        p.temporary = temporary
    p.ignore = ignore
    rng = random.Random(11)
    fast = 0
    for trial in range(300):
        prefix = rng.choice(["sh010_comp_v001", "a.b", "été", "x.1", "a_WIP", "a[1]", "a%s"])
        ext = rng.choice(["exr", "png", "EXR", "dpx"])
        count = rng.randint(64, 400)
        start = rng.choice([0, 1, 999, 1001])
        numbers = range(start, start + count)
        if trial % 3 == 1:  # gaps
            numbers = sorted(rng.sample(range(start, start + 3 * count), count))
        pad = rng.choice([0, 4, 6])
        names = [f"{prefix}.{n:0{pad}d}.{ext}" for n in numbers]
        extras = rng.sample(_EDGE_NAMES, rng.randint(0, 6))
        if trial % 5 == 0:  # the same frame numbers written another way
            extras += [f"{prefix}.{n}.{ext}" for n in (1, 1, 10, 0)]
            extras += [f"{prefix}.١٢٣.{ext}", f"{prefix}.{count}.{ext.swapcase()}"]
        extras += [f"{prefix}.genai.yaml", f"{prefix}.{start}.{ext}.tmp"]
        names = sorted(set(names + extras), key=lambda _: rng.random())
        if trial % 7 == 0:
            names.sort()  # the frame first, or not
        fast += _one_sequence(names, _tests(p)[1], p) is not None
        old = _old_split(names, p)
        assert _classify(names, p) == old, (prefix, ext, pad, extras)
    if temporary is None or "*_WIP*" in temporary:
        assert fast > 150  # the plain pattern did the work in most folders
    else:
        assert fast == 0


def test_a_policy_whose_extensions_cannot_be_one_pattern_uses_the_functions(
    tmp_path: Path,
) -> None:
    p = policy(tmp_path)
    p.extensions = frozenset({"", "png"})  # "" makes a name without a dot a candidate
    touch(tmp_path / "comp" / "README")
    touch(tmp_path / "comp" / "a.png")
    from clearance.discover import _tests

    assert _tests(p)[1] is None
    assert [a.rel for a in discover([tmp_path], p).assets] == ["comp/README", "comp/a.png"]


def test_frames_with_gaps_and_equal_numbers_keep_their_order_and_range(tmp_path: Path) -> None:
    for name in ("s.1001.exr", "s.1002.exr", "s.1004.exr", "s.01.exr", "s.1.exr", "s.001.exr"):
        touch(tmp_path / "comp" / name)
    (seq,) = discover([tmp_path], policy(tmp_path)).assets
    assert seq.frames == "1,1001-1002,1004"
    assert seq.frame_numbers == [1, 1, 1, 1001, 1002, 1004]
    assert seq.file_names()[:3] == ["s.001.exr", "s.01.exr", "s.1.exr"]  # equal: by name
    assert seq.rel == "comp/s.###.exr"  # the padding of the first frame


def test_a_sequences_files_are_paths_made_when_read(tmp_path: Path) -> None:
    """A million-frame tree makes no Path per frame, yet ``asset.files`` is a list of paths to
    everything that reads it — and survives pickling to a ``--jobs`` worker."""
    import pickle

    from clearance.model import FrameFiles

    for frame in range(1001, 1006):
        touch(tmp_path / "comp" / f"s.{frame}.exr")
    (seq,) = discover([tmp_path], policy(tmp_path)).assets
    files = seq.files
    assert isinstance(files, FrameFiles) and files.names is not None
    expected = [tmp_path / "comp" / f"s.{f}.exr" for f in range(1001, 1006)]
    assert len(files) == 5 and files[0] == expected[0] and files[-1] == expected[-1]
    assert files == expected and expected == files and list(files) == expected
    assert files[1:3] == expected[1:3] and isinstance(files[1:3], list)
    assert seq.path == expected[0] and files.names is not None  # nothing built a list yet
    copy = pickle.loads(pickle.dumps(seq))
    assert copy.files == expected and copy.file_names() == [p.name for p in expected]
    files.append(tmp_path / "comp" / "s.1006.exr")  # mutation: a real list from then on
    assert files.names is None and len(files) == 6 and files[-1].name == "s.1006.exr"
    assert seq.file_names()[-1] == "s.1006.exr"
    assert pickle.loads(pickle.dumps(files)) == [*expected, tmp_path / "comp" / "s.1006.exr"]
    del files[0]
    assert files[0] == expected[1] and files != expected


def test_the_candidate_test_follows_changes_to_the_policy(tmp_path: Path) -> None:
    """``is_candidate`` keeps its compiled test on the policy, and makes a new one as soon as
    the extensions, temporary or ignore patterns it was made from are replaced."""
    from clearance.discover import is_candidate

    p = policy(tmp_path)
    assert is_candidate("a_WIP.exr", p) and is_candidate("b.exr", p)
    p.temporary = ("*_WIP.*",)
    assert not is_candidate("a_WIP.exr", p) and is_candidate("b.exr", p)
    p.ignore = ("b.*",)
    assert not is_candidate("b.exr", p)
    p.extensions = frozenset({"abc"})
    assert not is_candidate("c.exr", p) and is_candidate("c.abc", p)


def _collisions(root: Path, count: int) -> None:
    """``count`` one-frame sequences ``s{i}.1001.png``, each with a stray ``s{i}.####.png``."""
    comp = root / "comp"
    comp.mkdir(parents=True)
    png = write_png(root / "one.png").read_bytes()
    for i in range(count):
        (comp / f"s{i:05d}.1001.png").write_bytes(png)
        (comp / f"s{i:05d}.####.png").write_bytes(png)
    (root / "one.png").unlink()


def test_thousands_of_same_name_errors_are_each_reported_once_in_order(tmp_path: Path) -> None:
    """Each same-name error is kept once (it used to be looked for in the list of those
    found before: 8,000 collisions took 20 s of discovery), in the order the walk met them,
    also when the stray files are given again beside their folder."""
    count = 4000  # large enough for a quadratic membership test to matter
    _collisions(tmp_path, count)
    comp = tmp_path / "comp"
    found = discover([tmp_path, *sorted(comp.glob("*#*"))[:50]], policy(tmp_path))
    assert len(found.assets) == count
    paths = [path for path, _ in found.errors]
    assert sorted(paths) == [str(comp / f"s{i:05d}.####.png") for i in range(count)]
    alone = discover([tmp_path], policy(tmp_path))  # the walk's order
    assert found.errors == alone.errors


def test_run_errors_are_written_in_one_batch_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ``run.error`` was appended on its own (lock, read the head, write, fsync): 2,000
    symlink loops or same-name errors, 2,000 fsyncs. They are written as one batch, in
    order. (``os.fsync`` is counted, not replaced: every call still reaches the disk.)"""
    from clearance.engine import Session
    from clearance.policy import load_policy

    count = 300
    _collisions(tmp_path, count)
    (tmp_path / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01}\nstages: [{name: comp, paths: [comp]}]\n"
    )
    loaded = load_policy(tmp_path / "clearance.yaml")
    found = discover([tmp_path], loaded)
    synced = 0
    real = os.fsync

    def counted(fd: int) -> None:
        nonlocal synced
        synced += 1
        real(fd)

    monkeypatch.setattr(os, "fsync", counted)
    fsyncs = []
    for errors in ((), found.errors):
        synced = 0
        session = Session(loaded, command="scan", paths=[str(tmp_path)])
        result = session.run(found.assets, errors=errors)
        session.close(result)
        fsyncs.append(synced)
    monkeypatch.undo()
    assert fsyncs[1] <= fsyncs[0] + 1  # the errors' batch; was one per error
    log = loaded.root / ".clearance" / "audit.jsonl"
    events = [json.loads(line) for line in log.open()]
    errors = [e["details"]["path"] for e in events if e["event"] == "run.error"]
    assert errors == [path for path, _ in found.errors] and len(errors) == count


def test_linked_folders_are_walked_once_and_a_link_not_walked_is_a_warning(
    tmp_path: Path,
) -> None:
    """``latest -> v003`` (inside the tree) is not walked again: its asset is audited under
    ``v003`` and the link is a warning on stderr and a ``run.warning`` event; a link to a
    share outside the root is walked under its own name, once (a second link to it and a
    link back up inside it are warnings); ``--jobs`` finds the same."""
    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    show = ClearanceRun(tmp_path / "show", stages=[{"name": "comp", "paths": ["comp/"]}])
    show.root.mkdir()
    show.write_config()
    show.asset("comp/a.png", sidecar=genai_sidecar())
    write_png(show.root / "comp/v003/gen.png")  # no provenance: PRV-01
    (show.root / "comp/latest").symlink_to("v003")
    share = tmp_path / "share"
    write_png(share / "plates/plate.png")
    (share / "plates/up").symlink_to(share)  # a loop
    (show.root / "comp/share").symlink_to(share)
    (show.root / "comp/share2").symlink_to(share)
    runs = [run_cli("scan", str(show.root), "--format", "json", *j) for j in ([], ["-j", "2"])]
    assert runs[0].stdout == runs[1].stdout and runs[0].stderr == runs[1].stderr
    done = runs[0]
    assert done.code == 1, done.stderr
    assert [a["asset"] for a in done.json()["assets"]] == [
        "comp/a.png",
        "comp/share/plates/plate.png",
        "comp/v003/gen.png",
    ]
    warned = [line for line in done.stderr.splitlines() if line.startswith("clearance: warning")]
    assert len(warned) == 3, done.stderr
    assert f"{show.root}/comp/latest: a link to the folder {show.root}/comp/v003" in warned[0]
    assert f"{show.root}/comp/share/plates/up: a link to the folder {share}" in warned[1]
    assert f"{show.root}/comp/share2: a link to the folder {share}, walked already" in warned[2]
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    paths = [e["details"]["path"] for e in events if e["event"] == "run.warning"]
    assert paths == [f"{show.root}/comp/{p}" for p in ("latest", "share/plates/up", "share2")] * 2


def test_an_asset_name_that_is_not_a_file_is_a_run_error_never_read(tmp_path: Path) -> None:
    """A named pipe, a socket, a link to a device or to a share not mounted, named as an
    asset or a sidecar: not read (a named pipe would block the scan for ever), and not
    passed over in silence either (the stage would read as complete and clean without
    it): each is a ``clearance: error:`` line naming it and what it is, a ``run.error``
    event, exit 2; the real assets beside them are audited."""
    import socket

    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    show = ClearanceRun(tmp_path / "show", stages=[{"name": "comp", "paths": ["comp/"]}])
    show.root.mkdir()
    show.write_config()
    show.asset("comp/a.png", sidecar=genai_sidecar())
    comp = show.root / "comp"
    os.mkfifo(comp / "pipe.png")
    os.mkfifo(comp / "b.png.genai.yaml")
    write_png(comp / "b.png")
    (comp / "zero.exr").symlink_to("/dev/zero")
    (comp / "gone.exr").symlink_to(tmp_path / "unmounted/gone.exr")
    (comp / "notes.txt").symlink_to("/dev/zero")  # not named as an asset: not ours
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(comp / "sock.png"))
        runs = [
            run_cli("scan", str(show.root), "--format", "json", *j, timeout=60)
            for j in ([], ["-j", "2"])
        ]
    assert runs[0].stdout == runs[1].stdout and runs[0].stderr == runs[1].stderr
    done = runs[0]
    assert done.code == 2, done.stderr
    assert [a["asset"] for a in done.json()["assets"]] == ["comp/a.png", "comp/b.png"]
    said = {
        "pipe.png": "is a named pipe (FIFO), not a regular file; not audited",
        "b.png.genai.yaml": "is a named pipe (FIFO), not a regular file; not read",
        "zero.exr": "is a character device, not a regular file; not audited",
        "gone.exr": f"is a symbolic link to {tmp_path}/unmounted/gone.exr, which does not exist",
        "sock.png": "is a socket, not a regular file; not audited",
    }
    for name, what in said.items():
        assert f"clearance: error: {comp}/{name}: {what}" in done.stderr, name
    assert "notes.txt" not in done.stderr
    events = [json.loads(line) for line in (show.root / ".clearance/audit.jsonl").open()]
    errors = {e["details"]["path"] for e in events if e["event"] == "run.error"}
    assert errors == {f"{comp}/{name}" for name in said}
    assert run_cli("verify", str(show.root / ".clearance/audit.jsonl")).code == 0


def test_a_frame_number_is_ascii_digits_other_digits_name_a_single_file(tmp_path: Path) -> None:
    """``a.١٠٠٢.png`` (Arabic-Indic digits) is not frame 1002 of ``a.####.png``: read as one,
    two files claimed one frame and nothing said so. It is a single file, audited and
    reported under its own name beside the sequence."""
    from clearance.testing import ClearanceRun
    from conftest import run_cli

    show = ClearanceRun(tmp_path / "show", stages=[{"name": "comp", "paths": ["comp/"]}])
    show.root.mkdir()
    show.write_config()
    comp = show.root / "comp"
    arabic = "a.\u0661\u0660\u0660\u0662.png"
    for name in ("a.1002.png", arabic, "a.1003.png", "b.\u0967\u0966.png"):  # and Devanagari
        write_png(comp / name)
    assert split_frame(arabic) is None
    done = run_cli("scan", str(show.root), "--format", "json")
    assert done.code == 1, done.stderr
    assets = {a["asset"]: a["findings"][0]["frames"] for a in done.json()["assets"]}
    assert assets == {
        "comp/a.####.png": "1002-1003",
        f"comp/{arabic}": None,
        "comp/b.\u0967\u0966.png": None,
    }
    table = run_cli("scan", str(show.root))
    assert f"comp/{arabic}\n" in table.stdout and "comp/a.####.png  [1002-1003]" in table.stdout
    # a big folder of one sequence takes the plain pattern's path: the same split
    for n in range(1004, 1100):
        write_png(comp / f"a.{n}.png")
    big = {a["asset"] for a in run_cli("scan", str(show.root), "--format", "json").json()["assets"]}
    assert big == set(assets)


def test_a_sidecar_of_one_frame_of_a_sequence_is_reported_never_passed_over(
    tmp_path: Path,
) -> None:
    """A frame's own sidecar (``plate.1002.png.genai.yaml``, GenAI on that frame) was read by
    no one: the sequence passed on its own sidecar's ``generated: false``. It is now a
    sidecar the sequence does not read (PRV-02), and without the sequence's sidecar the
    PRV-01 says where the sequence's belongs; a scan from the cache says the same."""
    from clearance.testing import write_png
    from conftest import run_cli

    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    (root / "clearance.yaml").write_text(
        "clearance: 1\nproduction: {id: SHOW01}\nstages: [{name: comp, paths: [comp/]}]\n"
    )
    for n in (1001, 1002, 1003):
        write_png(root / f"comp/plate.{n}.png")
    (root / "comp/plate.genai.yaml").write_text("provenance: 1\ngenerated: false\n")

    def scan() -> dict:
        done = run_cli("scan", str(root), "--format", "json")
        assert done.code in (0, 1), done.stderr
        [asset] = done.json()["assets"]
        return asset

    assert scan()["outcome"] == "pass"
    (root / "comp/plate.1002.png.genai.yaml").write_text(
        "provenance: 1\ngenerated: true\nsource_type: trainedAlgorithmicMedia\n"
    )
    for _ in range(2):  # read, then from the cache
        asset = scan()
        assert asset["outcome"] == "escalate", asset
        [prv] = [f for f in asset["findings"] if f["rule"] == "PRV-02"]
        assert "comp/plate.1002.png.genai.yaml is not" in prv["message"]
        assert "a sequence's provenance is its one sidecar, plate.genai.yaml" in prv["message"]
    (root / "comp/plate.genai.yaml").unlink()
    asset = scan()
    [prv] = [f for f in asset["findings"] if f["rule"] == "PRV-01"]
    assert "its frames' sidecars, plate.1002.png.genai.yaml, are not read" in prv["message"]
    assert prv["evidence"]["frame_sidecars"] == 1


def test_a_frame_that_is_no_file_leaves_its_sequence_unsure_naming_the_frame(
    tmp_path: Path,
) -> None:
    """``plate.1001-1010.png`` whose frame 1005 is a folder (a render that wrote one there),
    or a link to nothing (a share not mounted): the sequence was audited on the other nine
    frames and passed, its range ``1001-1004,1006-1010`` saying nothing of why (the folder:
    exit 0, nothing said). The walk's own listing tells (no frame is read or stat'ed): a
    ``PRV-02`` naming the frame, unsure; the same in a folder of a hundred frames, which
    discovery splits another way, and with ``--jobs``."""
    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    for count in (10, 100):
        for kind in ("folder", "link"):
            show = ClearanceRun(
                tmp_path / f"{kind}{count}", stages=[{"name": "comp", "paths": ["comp/"]}]
            )
            show.root.mkdir()
            show.write_config()
            show.asset(
                "comp/plate.####.png", sidecar=genai_sidecar(), frames=range(1001, 1001 + count)
            )
            frame = show.root / "comp/plate.1005.png"
            frame.unlink()
            if kind == "folder":
                frame.mkdir()
                why = "is a folder, not a regular file"
            else:
                frame.symlink_to(tmp_path / "unmounted/plate.1005.png")
                why = "is a symbolic link to"
            for jobs in ([], ["--jobs", "2"]):
                done = run_cli("scan", str(show.root), "--format", "json", *jobs)
                assert done.code == (1 if kind == "folder" else 2), done.stderr
                (asset,) = done.json()["assets"]
                assert asset["asset"] == "comp/plate.####.png"
                assert asset["outcome"] == "escalate", asset
                (prv02,) = [f for f in asset["findings"] if f["rule"] == "PRV-02"]
                assert prv02["unsure"]
                assert f"comp/plate.1005.png: {why}" in prv02["message"], prv02
                assert "the sequence is audited without this frame" in prv02["message"]


def test_a_sidecar_or_manifest_that_is_no_file_is_a_finding_of_its_asset(
    tmp_path: Path,
) -> None:
    """A detached ``.c2pa`` manifest or a sidecar swapped for a folder, a named pipe or a
    socket: nothing blocks on it (it is never opened), and its asset says so. The manifest
    as a folder passed in silence (exit 0) and as a pipe passed with a run error only; the
    sidecar was ``PRV-01``, "no sidecar", as if none were there. Now a ``PRV-02`` of the
    asset names the file and what it is, for a single file and a sequence."""
    import socket

    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    kinds = {
        "folder": "is a folder, not a regular file",
        "fifo": "is a named pipe (FIFO), not a regular file",
        "socket": "is a socket, not a regular file",
    }
    cases = {
        ("comp/a.png", "comp/a.png.c2pa"),
        ("comp/a.png", "comp/a.png.genai.yaml"),
        ("comp/plate.####.png", "comp/plate.c2pa"),
        ("comp/plate.####.png", "comp/plate.genai.yaml"),
    }
    for n, ((asset_rel, odd), (kind, what)) in enumerate(
        (case, k) for case in sorted(cases) for k in kinds.items()
    ):
        show = ClearanceRun(tmp_path / f"s{n}", stages=[{"name": "comp", "paths": ["comp/"]}])
        show.root.mkdir()
        show.write_config()
        frames = range(1001, 1004) if "#" in asset_rel else ()
        show.asset(asset_rel, sidecar=genai_sidecar(), frames=frames)
        path = show.root / odd
        if path.exists():
            path.unlink()
        sock = None
        if kind == "folder":
            path.mkdir()
        elif kind == "fifo":
            os.mkfifo(path)
        else:
            sock = socket.socket(socket.AF_UNIX)
            sock.bind(str(path))
        try:
            done = run_cli("scan", str(show.root), "--format", "json", timeout=60)
        finally:
            if sock is not None:
                sock.close()
        assert done.code == (1 if kind == "folder" else 2), (odd, kind, done.stderr)
        (found,) = done.json()["assets"]
        # a sidecar that is no file is one that could not be read, as check has it (the
        # GenAI rules run on what is unknown: approval), never no sidecar (PRV-01)
        expected = "approval" if ".genai." in odd else "escalate"
        assert found["asset"] == asset_rel and found["outcome"] == expected, (odd, kind)
        assert "PRV-01" not in {f["rule"] for f in found["findings"]}, (odd, kind)
        prv02 = [f for f in found["findings"] if f["rule"] == "PRV-02"]
        assert prv02 and prv02[0]["unsure"], (odd, kind, found["findings"])
        assert f"{odd}: {what}; not read" in prv02[0]["message"], (odd, kind, prv02)


@pytest.mark.parametrize("kind", ["folder", "fifo"])
@pytest.mark.parametrize("name", ["a.png.genai.yaml", "a.png.c2pa"])
def test_a_sidecar_that_is_no_file_has_the_verdict_check_gives_it(
    tmp_path: Path, kind: str, name: str
) -> None:
    """scan's walk sees the sidecar (or the only manifest) is no file and never reads it;
    check reads it and cannot: one verdict (review: scan said PRV-01 'no sidecar',
    escalate, and ran no GenAI rule, where check gave approval; a warm scan and --jobs 2
    the same as a cold one)."""
    from clearance.testing import ClearanceRun
    from conftest import genai_sidecar, run_cli

    show = ClearanceRun(tmp_path / "show", stages=[{"name": "comp", "paths": ["comp/"]}])
    show.root.mkdir()
    show.write_config()
    show.asset("comp/a.png", sidecar=genai_sidecar())
    (show.root / "comp/a.png.genai.yaml").unlink()
    odd = show.root / "comp" / name
    odd.mkdir() if kind == "folder" else os.mkfifo(odd)

    def verdict(*args: str) -> tuple[str, list[str]]:
        done = run_cli(*args, "--format", "json", timeout=60)
        (found,) = done.json()["assets"]
        return found["outcome"], sorted({f["rule"] for f in found["findings"]})

    checked = verdict("check", str(show.root / "comp/a.png"))
    assert checked[0] == "approval" and "PRV-01" not in checked[1], checked
    for extra in ((), (), ("--jobs", "2"), ("--no-cache",)):
        assert verdict("scan", str(show.root), *extra) == checked, extra
