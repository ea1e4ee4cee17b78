"""Files the watcher cannot hear being written: a hard link into a watched folder whose other
name (outside it) a writer still writes through, and the same file under two watched names.

inotify reports a change to the folder of the *name* it was made through: a write, close,
``utime`` or ``truncate`` through a name outside the watched folders makes no event at all in
them (measured with the watcher's own event mask). Each test starts a real watcher (inotify
observer, SQLite ledger, audit log) on a show root in ``tmp_path`` and writes real files.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import BinaryIO

from _watch_harness import (
    TIMEOUT,
    InProcessWatcher,
    audited,
    audited_counts,
    events,
    make_show,
    quiet,
    wait_audited,
)
from clearance.watch_readiness import FileSystem


def _files(event: dict) -> list[dict]:
    return event["details"]["watch"]["files"]


def test_a_hard_link_published_half_written_is_audited_again_when_its_writer_finishes(
    tmp_path: Path,
) -> None:
    """A clip linked into the show while its writer, outside the show, is still at work and
    pauses longer than the quiet period: the half-written file is audited (a .mov has no
    completeness check), and when the writer finishes — through its own name, which makes no
    event in the show — the whole file is audited again, superseding the first audit (it
    used to stand until the next --rescan)."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    farm = tmp_path / "farm"
    farm.mkdir()
    outside = farm / "clip.mov"
    inside = root / "comp" / "clip.mov"
    with InProcessWatcher(root) as w, open(outside, "wb") as writer:
        writer.write(b"\0" * 4096)
        writer.flush()
        os.link(outside, inside)
        first = wait_audited(root, 1)[0]  # the writer's pause outlasted the quiet period
        assert _files(first)[0]["size"] == 4096
        writer.write(b"\1" * 4096)
        writer.close()
        second = wait_audited(root, 2)[1]
        quiet(root, 1.0)
        assert w.watcher.exit_code is None
    assert audited_counts(root) == {"comp/clip.mov": 2}
    watch = second["details"]["watch"]
    assert watch["reason"] == "changed"
    assert watch["supersedes"] == first["details"]["watch"]["audit_id"]
    assert _files(second)[0]["size"] == 8192
    assert _files(second)[0]["sha256"] == hashlib.sha256(inside.read_bytes()).hexdigest()
    assert events(root, "watch.stats")[-1]["details"]["linked_files"] == 1  # (still looked at)


def test_a_file_under_two_watched_names_is_audited_again_under_both(tmp_path: Path) -> None:
    """``latest.mov`` is a hard link to ``v001.mov``, both in the show: a rewrite through
    ``v001.mov`` makes events for that name only; ``latest.mov`` is audited again too."""
    root = make_show(tmp_path)
    comp = root / "comp"
    comp.mkdir()
    with InProcessWatcher(root):
        (comp / "v001.mov").write_bytes(b"\0" * 1000)
        os.link(comp / "v001.mov", comp / "latest.mov")
        wait_audited(root, 2)
        with open(comp / "v001.mov", "r+b") as f:
            f.write(b"\1" * 2000)
        wait_audited(root, 4)
        quiet(root, 1.0)
    assert audited_counts(root) == {"comp/v001.mov": 2, "comp/latest.mov": 2}
    last = {e["asset"]: _files(e)[0]["size"] for e in audited(root)}
    assert last == {"comp/v001.mov": 2000, "comp/latest.mov": 2000}


def test_a_file_with_one_name_is_not_checked_again_after_its_audit(tmp_path: Path) -> None:
    """The re-checks are for files with more than one name: an ordinary file costs nothing
    once audited (its changes make events)."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    with InProcessWatcher(root) as w:
        (root / "comp" / "one.mov").write_bytes(b"\0" * 1000)
        wait_audited(root, 1)
        quiet(root, 0.5)
        assert not w.watcher._linked
    assert events(root, "watch.stats")[-1]["details"]["linked_files"] == 0


def test_a_hard_link_audited_before_a_restart_is_still_looked_at_after_it(
    tmp_path: Path,
) -> None:
    """The watcher is restarted between the half-written audit and the writer's last write:
    the start-up reconcile finds the file audited, but with two names and changed lately, and
    the new watcher audits it again when the writer finishes."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    farm = tmp_path / "farm"
    farm.mkdir()
    outside = farm / "clip.mov"
    with open(outside, "wb") as writer:
        writer.write(b"\0" * 4096)
        writer.flush()
        with InProcessWatcher(root):
            os.link(outside, root / "comp" / "clip.mov")
            wait_audited(root, 1)
        with InProcessWatcher(root):
            writer.write(b"\1" * 4096)
            writer.close()
            second = wait_audited(root, 2)[1]
            quiet(root, 1.0)
    assert audited_counts(root) == {"comp/clip.mov": 2}
    assert _files(second)[0]["size"] == 8192


class _WriteAfterTheWalkLooked(FileSystem):
    """The OS's files; when the reconcile walk has looked at ``path``, the writer writes
    its last bytes through its other name and closes it: the worst moment, between the
    walk's ``stat`` and the scheduler's taking up what the walk found."""

    def __init__(self, path: Path, writer: BinaryIO, rest: bytes) -> None:
        self.path, self.writer, self.rest = str(path), writer, rest
        self.done = threading.Event()

    def stat(self, path: str) -> os.stat_result:
        st = os.stat(path)
        if (
            path == self.path
            and threading.current_thread().name == "clearance-reconcile"
            and not self.done.is_set()
        ):
            self.writer.write(self.rest)
            self.writer.close()
            self.done.set()
        return st


def test_a_hard_link_written_as_a_restarted_watcher_walks_is_audited_whole(
    tmp_path: Path,
) -> None:
    """The writer finishes right after the start-up walk looked at the file (audited, two
    names): the file is looked at again from the version the walk saw, so the last bytes
    are a change and are audited (looked at from the version on disk when the scheduler
    took it up, they were not)."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    farm = tmp_path / "farm"
    farm.mkdir()
    outside, inside = farm / "clip.mov", root / "comp" / "clip.mov"
    writer = open(outside, "wb")  # noqa: SIM115 (closed by the file system below)
    try:
        writer.write(b"\0" * 4096)
        writer.flush()
        with InProcessWatcher(root):
            os.link(outside, inside)
            wait_audited(root, 1)
        fs = _WriteAfterTheWalkLooked(inside, writer, b"\1" * 4096)
        with InProcessWatcher(root, fs=fs):
            assert fs.done.wait(TIMEOUT)
            second = wait_audited(root, 2)[1]
            quiet(root, 1.0)
    finally:
        writer.close()
    assert audited_counts(root) == {"comp/clip.mov": 2}
    assert _files(second)[0]["size"] == 8192
