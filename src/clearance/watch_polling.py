"""A faster comparison of two polling snapshots, with watchdog's own answer.

A polling watcher (network shares, ``--polling``) takes a snapshot of every file's ``stat``
each ``--interval`` and compares it with the last one. watchdog's
:class:`~watchdog.utils.dirsnapshot.DirectorySnapshotDiff` makes that comparison with several
method calls and two set intersections per path, every interval, for every file: about a
third of a polling watcher's CPU on 100,000 unchanged files (the snapshot's ``stat`` calls
are most of the rest). :class:`QuickSnapshotDiff`
gives the same created / deleted / modified / moved / attrib lists with one pass over the
paths both snapshots hold, skipping a path whose ``stat`` is unchanged after one comparison.
Renames and inode changes — a handful per interval — go through watchdog's own steps. One
addition: a file whose ctime alone changed (in no other list) is in the attrib list (watchdog lists it nowhere,
and a rewrite in place that puts size and mtime back changes nothing else).

:func:`install_quick_snapshot_diff` makes watchdog's polling emitter use it. It changes
nothing if this watchdog's internals are not the ones it was written for (watchdog's own
comparison is correct, only slower).
"""

from __future__ import annotations

import os
from stat import S_ISDIR
from typing import Any

from watchdog.utils.dirsnapshot import DirectorySnapshot, DirectorySnapshotDiff

__all__ = ["QuickSnapshotDiff", "install_quick_snapshot_diff"]

#: stat fields watchdog's ``is_attrib_modified`` compares that ``stat_result``'s tuple
#: equality does not (platform-dependent; always ``None`` where missing)
_EXTRA_ATTRIB = tuple(
    name for name in ("st_flags", "st_file_attributes") if hasattr(os.stat_result, name)
)


class QuickSnapshotDiff(DirectorySnapshotDiff):
    """:class:`DirectorySnapshotDiff` with the same result, made in one pass over the paths
    both snapshots hold (``tests/test_watch_polling.py`` compares the two)."""

    def __init__(
        self, ref: DirectorySnapshot, snapshot: DirectorySnapshot, *, ignore_device: bool = False
    ) -> None:
        if ignore_device:  # not what the polling emitter asks for: watchdog's own steps
            super().__init__(ref, snapshot, ignore_device=True)
            return
        before: dict[Any, os.stat_result] = ref._stat_info
        after: dict[Any, os.stat_result] = snapshot._stat_info
        created = after.keys() - before.keys()
        deleted = before.keys() - after.keys()
        modified: set[Any] = set()
        attrib: set[Any] = set()
        changed = self._changed
        for path, a in before.items():
            b = after.get(path)
            if b is None:
                continue  # deleted
            # stat_result equality compares mode, ino, dev, nlink, uid, gid, size and the
            # whole-second times; the float mtime and the ctime in ns settle the rest
            if (
                a == b
                and a.st_mtime == b.st_mtime
                and a.st_ctime_ns == b.st_ctime_ns
                and (not _EXTRA_ATTRIB or _same_extra(a, b))
            ):
                continue
            if a.st_ino != b.st_ino or a.st_dev != b.st_dev:
                created.add(path)  # another file under the same name
                deleted.add(path)
                continue
            changed(a, b, path, modified, attrib)
            if (
                a.st_ctime_ns != b.st_ctime_ns
                and path not in modified
                and path not in attrib
                and not S_ISDIR(b.st_mode)
            ):
                # watchdog lists nowhere a file whose ctime alone moved: one rewritten in
                # place with its size and mtime put back (cp -p, rsync -t --inplace). The
                # watcher's versions have the ctime: it is an attribute change, as the
                # inotify backend's IN_ATTRIB has it (so is a new link to the file)
                attrib.add(path)
        moved = set(_moves(deleted, ref, snapshot))
        moved.update((old, new) for new, old in _moves(created, snapshot, ref))
        for old_path, new_path in moved:
            changed(before[old_path], after[new_path], old_path, modified, attrib)

        def is_dir(stats: dict[Any, os.stat_result], path: Any) -> bool:
            return S_ISDIR(stats[path].st_mode)

        self._dirs_created = [p for p in created if is_dir(after, p)]
        self._dirs_deleted = [p for p in deleted if is_dir(before, p)]
        self._dirs_modified = [p for p in modified if is_dir(before, p)]
        self._dirs_moved = [(a, b) for (a, b) in moved if is_dir(before, a)]
        self._dirs_attrib = [p for p in attrib if is_dir(before, p)]
        self._files_created = list(created - set(self._dirs_created))
        self._files_deleted = list(deleted - set(self._dirs_deleted))
        self._files_modified = list(modified - set(self._dirs_modified))
        self._files_moved = list(moved - set(self._dirs_moved))
        self._files_attrib = list(attrib - set(self._dirs_attrib))

    def _changed(
        self, a: os.stat_result, b: os.stat_result, path: Any, modified: set[Any], attrib: set[Any]
    ) -> None:
        if a.st_mtime != b.st_mtime or a.st_size != b.st_size:
            modified.add(path)
        if self.is_attrib_modified(a, b):
            attrib.add(path)


def _moves(
    lost: set[Any], here: DirectorySnapshot, there: DirectorySnapshot
) -> list[tuple[Any, Any]]:
    """``(path, other)`` for each path of ``lost`` (taken out of it) whose inode ``there``
    reaches through ``other``. As in watchdog, only a path that is new to ``here``, or holds
    another inode in it, makes a move: a hard link or symlink may share the inode with a path
    that did not change."""
    pairs = []
    for path in list(lost):
        inode = here.inode(path)
        other = there.path(inode)
        if other and (other not in here._stat_info or here.inode(other) != inode):
            lost.remove(path)
            pairs.append((path, other))
    return pairs


def _same_extra(a: os.stat_result, b: os.stat_result) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in _EXTRA_ATTRIB)


def install_quick_snapshot_diff() -> bool:
    """Make watchdog's polling emitter compare snapshots with :class:`QuickSnapshotDiff`
    (idempotent). Returns False, and changes nothing, where this watchdog's internals are not
    the ones it was written for."""
    try:
        from watchdog.observers import polling
    except ImportError:
        return False
    current = getattr(polling, "DirectorySnapshotDiff", None)
    if current is QuickSnapshotDiff:
        return True
    probe = DirectorySnapshot.__new__(DirectorySnapshot)
    probe._stat_info = {}
    probe._inode_to_path = {}
    internals = ("inode", "path", "_stat_info", "_inode_to_path")
    if current is not DirectorySnapshotDiff or not all(hasattr(probe, a) for a in internals):
        return False
    try:
        QuickSnapshotDiff(probe, probe)
    except Exception:
        return False
    polling.DirectorySnapshotDiff = QuickSnapshotDiff  # type: ignore[misc]
    return True
