"""The polling watcher's snapshot comparison (``clearance.watch_polling``) gives watchdog's answer.

Real folders in ``tmp_path``: a random tree, a snapshot, a random batch of changes (new,
deleted, rewritten, touched by a fraction of a second, chmod-ed, renamed within and across
folders, folders renamed and removed, hard links, a name replaced by another file), a second
snapshot; :class:`~clearance.watch_polling.QuickSnapshotDiff` and watchdog's
``DirectorySnapshotDiff`` must list the same paths in each of their ten lists, but for one
addition: a file whose ctime alone changed is an attribute change.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest
from watchdog.utils.dirsnapshot import DirectorySnapshot, DirectorySnapshotDiff

from clearance.watch_polling import QuickSnapshotDiff, install_quick_snapshot_diff

_LISTS = (
    "files_created",
    "files_deleted",
    "files_modified",
    "files_moved",
    "files_attrib",
    "dirs_created",
    "dirs_deleted",
    "dirs_modified",
    "dirs_moved",
    "dirs_attrib",
)


def _answer(diff: DirectorySnapshotDiff) -> dict[str, set[object]]:
    return {name: set(getattr(diff, name)) for name in _LISTS}


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def _dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_dir() and not p.is_symlink())


def _change(root: Path, rng: random.Random, n: int) -> list[str]:
    """Apply ``n`` random changes under ``root``; returns what was done (for the failure)."""
    done = []
    for i in range(n):
        files, dirs = _files(root), _dirs(root)
        op = rng.choice(
            [
                "new",
                "delete",
                "append",
                "touch_ns",
                "chmod",
                "rename",
                "move_across",
                "rename_dir",
                "rmtree",
                "mkdir",
                "hardlink",
                "replace",
                "recreate",
                "symlink",
            ]
        )
        folder = rng.choice([root, *dirs])
        try:
            if op == "new" or not files:
                path = folder / f"n{i}_{rng.randrange(10**6)}.exr"
                path.write_bytes(b"x" * rng.randrange(1, 64))
            elif op == "delete":
                rng.choice(files).unlink()
            elif op == "append":
                with open(rng.choice(files), "ab") as f:
                    f.write(b"more")
            elif op == "touch_ns":  # same size, same whole second: only the float mtime moves
                path = rng.choice(files)
                st = path.stat()
                os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
            elif op == "chmod":
                path = rng.choice(files)
                path.chmod(path.stat().st_mode ^ 0o040)
            elif op == "rename":
                path = rng.choice(files)
                path.rename(path.with_name(f"r{i}_{path.name}"))
            elif op == "move_across":
                rng.choice(files).rename(folder / f"m{i}.exr")
            elif op == "rename_dir" and dirs:
                d = rng.choice(dirs)
                d.rename(d.with_name(f"{d.name}_r{i}"))
            elif op == "rmtree" and dirs:
                shutil.rmtree(rng.choice(dirs))
            elif op == "mkdir":
                d = folder / f"d{i}"
                d.mkdir()
                (d / "inside.exr").write_bytes(b"i")
            elif op == "hardlink":
                os.link(rng.choice(files), folder / f"h{i}.exr")
            elif op == "replace":  # tmp → rename over an existing name: new inode, same path
                target = rng.choice(files)
                tmp = target.with_name(target.name + ".tmp")
                tmp.write_bytes(b"replaced")
                os.replace(tmp, target)
            elif op == "recreate":  # delete, then a new file under the old name
                target = rng.choice(files)
                target.unlink()
                target.write_bytes(b"again")
            elif op == "symlink":
                os.symlink(rng.choice(files), folder / f"s{i}.exr")
            else:
                continue
        except (OSError, ValueError):
            continue  # a path an earlier change in this batch removed
        done.append(op)
    return done


def _tree(root: Path, rng: random.Random) -> None:
    for d in range(rng.randrange(1, 4)):
        folder = root / f"shot{d}" / "comp"
        folder.mkdir(parents=True)
        for f in range(rng.randrange(1, 8)):
            (folder / f"f{f}.exr").write_bytes(b"a" * rng.randrange(1, 32))
    (root / "top.exr").write_bytes(b"t")
    # names that share an inode from the start: a hard link and a symlink (a move is only a
    # move when the inode is reachable through a path that is new)
    files = _files(root)
    os.link(rng.choice(files), root / "linked.exr")
    os.symlink(rng.choice(files), root / "pointer.exr")


def _watchdogs(before: DirectorySnapshot, after: DirectorySnapshot) -> dict[str, set[object]]:
    """watchdog's answer, and the one addition of the quick comparison: a file under the same
    name and inode in both whose ctime changed is an attribute change (a new hard link to it
    moves its ctime alone)."""
    answer = _answer(DirectorySnapshotDiff(before, after))
    for path in before.paths & after.paths:
        a, b = before.stat_info(path), after.stat_info(path)
        if (a.st_ino, a.st_dev) == (b.st_ino, b.st_dev) and not os.path.isdir(path):
            listed = path in answer["files_modified"] or path in answer["files_attrib"]
            if a.st_ctime_ns != b.st_ctime_ns and not listed:
                answer["files_attrib"].add(path)
    return answer


@pytest.mark.parametrize("seed", range(60))
def test_quick_diff_lists_what_watchdogs_diff_lists(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    root = tmp_path / "show"
    root.mkdir()
    _tree(root, rng)
    before = DirectorySnapshot(str(root))
    done = _change(root, rng, rng.randrange(1, 12))
    after = DirectorySnapshot(str(root))
    assert _answer(QuickSnapshotDiff(before, after)) == _watchdogs(before, after), done
    # and with nothing changed in between, both find nothing
    again = DirectorySnapshot(str(root))
    assert _answer(QuickSnapshotDiff(after, again)) == _watchdogs(after, again)


def test_a_fraction_of_a_second_is_a_modification(tmp_path: Path) -> None:
    """Same size, same whole second (``stat_result``'s tuple equality says "equal"): the
    float mtime still makes the file modified, as in watchdog's comparison."""
    path = tmp_path / "a.exr"
    path.write_bytes(b"x")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - st.st_mtime_ns % 10**9 + 100))
    before = DirectorySnapshot(str(tmp_path))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns - st.st_mtime_ns % 10**9 + 200))
    after = DirectorySnapshot(str(tmp_path))
    assert before.stat_info(str(path)) == after.stat_info(str(path))
    assert QuickSnapshotDiff(before, after).files_modified == [str(path)]


def test_ignore_device_is_watchdogs_own_comparison(tmp_path: Path) -> None:
    (tmp_path / "a.exr").write_bytes(b"x")
    before = DirectorySnapshot(str(tmp_path))
    (tmp_path / "a.exr").rename(tmp_path / "b.exr")
    after = DirectorySnapshot(str(tmp_path))
    quick = QuickSnapshotDiff(before, after, ignore_device=True)
    assert _answer(quick) == _answer(DirectorySnapshotDiff(before, after, ignore_device=True))
    assert quick.files_moved == [(str(tmp_path / "a.exr"), str(tmp_path / "b.exr"))]


def test_the_polling_emitter_uses_the_quick_diff_once_installed() -> None:
    from watchdog.observers import polling

    assert install_quick_snapshot_diff()
    assert install_quick_snapshot_diff()  # idempotent
    assert polling.DirectorySnapshotDiff is QuickSnapshotDiff


def test_a_polled_rewrite_with_its_mtime_put_back_is_audited(tmp_path: Path) -> None:
    """A polled folder (a share): an asset rewritten in place with other bytes of the same
    size and its mtime put back (``cp -p``, ``rsync -t --inplace``) changed its ctime only.
    watchdog's comparison lists it nowhere (size and mtime equal, mode and owner too), so it
    was audited at the next --rescan at best; the watcher's lists it as an attribute change,
    and the new bytes are audited (``changed``)."""
    import hashlib

    from _watch_harness import (
        InProcessWatcher,
        audited,
        exr_bytes,
        make_show,
        run_writer,
        wait_for,
        writer_script,
    )

    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    path = comp / "n.exr"
    v1, v2 = exr_bytes(seed=1), exr_bytes(seed=2)
    with InProcessWatcher(root, polling=True, sidecar_grace=0.0):
        run_writer(writer_script, [("write", str(path), v1)])
        wait_for(lambda: audited(root), what="the first audit")
        run_writer(writer_script, [("rewrite_keep_mtime", str(path), v2)])
        wait_for(lambda: len(audited(root)) >= 2, what="the audit of the rewrite")
    watch = [e["details"]["watch"] for e in audited(root)]
    assert [w["reason"] for w in watch] == ["new", "changed"]
    assert [w["files"][0]["sha256"] for w in watch] == [
        hashlib.sha256(v).hexdigest() for v in (v1, v2)
    ]


def test_a_change_of_ctime_alone_is_an_attribute_change(tmp_path: Path) -> None:
    """The one list the quick comparison adds to watchdog's: a file whose ctime alone moved
    (bytes rewritten, mtime put back) is in ``files_attrib``."""
    path = tmp_path / "a.bin"
    path.write_bytes(b"\0" * 100)
    st = path.stat()
    before = DirectorySnapshot(str(tmp_path))
    with open(path, "r+b") as f:
        f.write(b"\1" * 100)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    after = DirectorySnapshot(str(tmp_path))
    assert path.stat().st_ctime_ns != st.st_ctime_ns
    assert _answer(DirectorySnapshotDiff(before, after))["files_attrib"] == set()
    assert _answer(QuickSnapshotDiff(before, after))["files_attrib"] == {str(path)}
