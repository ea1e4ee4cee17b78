"""Assets from settled files: frame sequences as one unit, and sidecars with a grace window.

:class:`AssetGrouping` is a mixin of :class:`clearance.watch.Watcher`. Settled files are
grouped by asset (a single file, or ``PREFIX.####.EXT`` in one folder). A group becomes a
:class:`~clearance.watch_audit.Job` when every frame is settled, no frame changed for the
idle window (``--sequence-idle`` for sequences), and its sidecar is settled — or the grace
window (``--sidecar-grace``) has passed without one (then it is audited with ``PRV-01`` and
re-audited when the sidecar lands). A sidecar — or a detached C2PA manifest the C2PA reader
reads for the asset (:func:`clearance.provenance.c2pa.manifest_names`: ``NAME.EXT.c2pa``,
``NAME.c2pa``, and for a sequence its first frame's and its own ``PREFIX.c2pa``) — that
settles after its asset was audited sends a ``pairing="sidecar"`` job: the worker re-audits
only if the sidecar or the manifest changed. An asset never waits for a manifest that is not
there (no grace window: C2PA is optional), only for one that is still settling.
"""

from __future__ import annotations

import heapq
import itertools
import os
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .discover import SIDECAR_SUFFIXES, is_candidate, split_frame
from .model import printable
from .policy import Policy
from .provenance.c2pa import manifest_names
from .state import FileVersion, StateStore
from .watch_audit import Job
from .watch_readiness import FileSystem

if TYPE_CHECKING:
    from .watch import WatchOptions
    from .watch_audit import AuditWorker

__all__ = ["AssetGrouping", "GroupKey", "manifest_readers_in", "manifests_read"]

GroupKey = tuple[str, str, str]  # (folder, prefix or file name, ext or "")


@dataclass
class _Group:
    key: GroupKey
    root: str
    members: set[str] = field(default_factory=set)
    ready_since: float | None = None  # monotonic: all members stable and idle
    sidecar_wall: float | None = None  # wall time its sidecar settled (while it waited)
    #: monotonic: a frame of the sequence went away (the frames left make another asset)
    gone: float | None = None
    #: a sequence's entries named as its frames that are no file (a folder, a link to
    #: nothing), from the last listing of its folder (:meth:`AssetGrouping._files_of`)
    not_frames: list[str] = field(default_factory=list)


def _key_for(path: str) -> GroupKey:
    folder, name = os.path.split(path)
    parts = split_frame(name)
    if parts is None:
        return (folder, name, "")
    return (folder, parts[0], parts[2])


def manifests_read(key: GroupKey, files: Sequence[str]) -> list[str]:
    """The detached C2PA manifests the audit of the asset ``key`` made of ``files`` reads,
    as the C2PA reader looks for them (a sequence: its first frame's, then ``PREFIX.c2pa``)."""
    folder, prefix, ext = key
    if not ext:
        return manifest_names(os.path.join(folder, prefix))
    if not files:
        return []
    first = min(files, key=_frame_order)  # as build_asset() picks it
    return manifest_names(first, sequence_prefix=prefix)


def manifest_readers_in(
    folder: str, names: Iterable[str], policy: Policy
) -> tuple[dict[str, list[GroupKey]], dict[GroupKey, str]]:
    """Which assets of ``folder`` (whose file names are ``names``: one listing) read which
    detached C2PA manifest: ``({manifest name: [asset keys]}, {asset key: its file the reader
    reads, a sequence's first frame})``. One pass over the names: a folder of 100,000 frames,
    each with its own ``FRAME.EXT.c2pa``, is read once, and the manifests of frames after the
    first are then known to be read by none."""
    firsts: dict[GroupKey, tuple[int, str]] = {}
    for name in names:
        if not is_candidate(name, policy):
            continue
        parts = split_frame(name)
        if parts is None:
            firsts[(folder, name, "")] = (-1, name)
            continue
        key, order = (folder, parts[0], parts[2]), (int(parts[1]), name)
        if key not in firsts or order < firsts[key]:
            firsts[key] = order  # as build_asset() picks the first frame
    readers: dict[str, list[GroupKey]] = {}
    first_files: dict[GroupKey, str] = {}
    for key, (_order, name) in firsts.items():
        first_files[key] = path = os.path.join(folder, name)
        for manifest in manifests_read(key, [path]):
            readers.setdefault(os.path.basename(manifest), []).append(key)
    return readers, first_files


@dataclass
class _Readers:
    """:func:`manifest_readers_in` of one folder, kept for the manifests that settle there."""

    built: float  # monotonic
    by_name: dict[str, set[GroupKey]]
    names_of: dict[GroupKey, list[str]]
    firsts: dict[GroupKey, str]  # the file the reader reads of each asset (a sequence's first)

    def update(self, key: GroupKey, files: Sequence[str]) -> None:
        """``key`` was sent to be audited with ``files``: what it reads now."""
        self._drop(key)
        if not files:
            return
        self.firsts[key] = min(files, key=_frame_order)
        names = [os.path.basename(m) for m in manifests_read(key, files)]
        self.names_of[key] = names
        for name in names:
            self.by_name.setdefault(name, set()).add(key)

    def appeared(self, key: GroupKey, path: str) -> None:
        """The file ``path`` of ``key`` is on disk, audited already (moved back, or a duplicate
        event): a sequence's frame before the first one known is its first now."""
        first = self.firsts.get(key)
        if first is None or _frame_order(path) < _frame_order(first):
            self.update(key, [path])

    def vanished(self, key: GroupKey, path: str) -> bool:
        """The file ``path`` of ``key`` went away; False when what ``key`` reads now cannot be
        told without listing the folder (a sequence's first frame went)."""
        if self.firsts.get(key) != path:
            return True  # not the file the reader reads: nothing changes
        if key[2]:
            return False
        self._drop(key)
        return True

    def _drop(self, key: GroupKey) -> None:
        self.firsts.pop(key, None)
        for name in self.names_of.pop(key, []):
            self.by_name.get(name, set()).discard(key)


#: Seconds a folder's :class:`_Readers` is used before the folder is listed again (every
#: audit sent, and every asset file that appears audited or goes away without an audit, in
#: the meantime updates it), and how many folders' are kept.
READERS_TTL = 30.0
READERS_KEPT = 16


def _frame_order(path: str) -> tuple[int, str]:
    parts = split_frame(os.path.basename(path))
    return (int(parts[1]) if parts is not None else -1, path)


def _wall(mono: float) -> float:
    """The wall-clock time of the monotonic instant ``mono``."""
    return time.time() - (time.monotonic() - mono)


class AssetGrouping:
    """Mixin: turns settled files into audit jobs (see the module docstring)."""

    options: WatchOptions
    policy: Policy
    fs: FileSystem
    state: StateStore | None
    worker: AuditWorker | None
    pending: dict[str, Any]
    groups: dict[GroupKey, _Group]
    inflight: set[GroupKey]
    _inflight_lock: threading.Lock
    _requeued: list[str]
    _dirty: dict[GroupKey, None]
    _wakeups: list[tuple[float, int, GroupKey]]
    _counter: itertools.count[int]
    _readers: dict[str, _Readers]
    _lineage_due: set[GroupKey]

    def settle_for(self, root: str) -> float:
        raise NotImplementedError

    def _hint(self, path: str, root: str, now: float, *, scan: bool = False) -> None:
        raise NotImplementedError

    # -- groups: sequences, sidecars --------------------------------------------------------------
    def _wake(self, key: GroupKey, when: float) -> None:
        """Evaluate group ``key`` again at ``when`` (monotonic); 0 means at the next loop."""
        if when <= 0:
            self._dirty[key] = None
        else:
            heapq.heappush(self._wakeups, (when, next(self._counter), key))

    def _evaluate_groups(self, now: float) -> None:
        """Dispatch the groups that are ready. Only groups marked dirty (a member settled, a
        sidecar arrived) or whose wake-up time came are looked at: a burst of 50,000 files
        settling costs O(changes), not O(pending) per loop. They are looked at (and so
        dispatched) in the order they became due: the oldest ready asset is audited first."""
        assert self.worker is not None
        keys, self._dirty = self._dirty, {}
        while self._wakeups and self._wakeups[0][0] <= now:
            keys[heapq.heappop(self._wakeups)[2]] = None
        remaining = iter(keys)
        for key in remaining:
            if self.worker.jobs.full():  # the worker is behind: keep the rest, in order
                later = self._dirty
                self._dirty = dict.fromkeys((key, *remaining))
                self._dirty.update(later)
                return
            group = self.groups.get(key)
            if group is None:
                continue
            if key in self.inflight:
                self._wake(key, now + 0.05)
                continue
            self._evaluate(key, group, now)

    def _evaluate(self, key: GroupKey, group: _Group, now: float) -> None:
        assert self.worker is not None
        opts = self.options
        members = [self.pending[m] for m in group.members if m in self.pending]
        if (not members and group.gone is None) or not all(m.stable for m in members):
            group.ready_since = None
            return  # the last member to settle marks the group dirty again
        is_sequence = key[2] != ""
        idle = (
            max(self.settle_for(group.root), opts.sequence_idle)
            if is_sequence
            else self.settle_for(group.root)
        )
        changes = [m.changed for m in members]
        if group.gone is not None:
            changes.append(group.gone)
        last_change = max(changes)
        if now - last_change < idle:
            self._wake(key, last_change + idle)
            return
        if group.ready_since is None:
            group.ready_since = now
        sidecar = self._sidecar_of(key)
        if sidecar == "pending":
            self._wake(
                key, now + 0.5
            )  # settling nudges it sooner; this covers a sidecar that vanishes
            return
        pairing = "paired"
        if sidecar is None:
            if now - group.ready_since < opts.sidecar_grace:
                self._wake(key, min(group.ready_since + opts.sidecar_grace, now + 1.0))
                return
            pairing = "missing"
        files = self._files_of(key, group)
        if files is None:
            self._wake(key, now + 0.1)
            return
        if not files:  # every frame went: nothing left to audit
            self.groups.pop(key, None)
            self._name_freed(key, group.root)
            return
        if any(m in self.pending for m in manifests_read(key, files)):
            # the manifest its audit reads must not be half-written; its settling nudges this
            self._wake(key, now + 0.5)
            return
        # latency is measured from the moment the asset was ready: its last file settled
        # (a sequence: its idle window ended; a sidecar it waited for: that settled), or,
        # without a sidecar, the grace window ended
        settled_at = max((m.settled_wall for m in members), default=0.0)
        if is_sequence:
            settled_at = max(settled_at, _wall(last_change + idle))
        if pairing == "missing":
            settled_at = max(settled_at, _wall(group.ready_since + opts.sidecar_grace))
        elif group.sidecar_wall is not None:
            settled_at = max(settled_at, group.sidecar_wall)
        settled = {m.path: m.stat for m in members if m.stat is not None}
        incomplete = {m.path: m.missing for m in members if m.missing is not None}
        lineage = key in self._lineage_due  # inputs it waited for were audited meanwhile
        self._lineage_due.discard(key)
        job = Job(
            key,
            files,
            settled_at=settled_at,
            pairing=pairing,
            settled=settled,
            incomplete=incomplete,
            lineage=lineage,
            not_frames=sorted(group.not_frames) if is_sequence else None,
        )
        readers = self._readers.get(key[0])
        if readers is not None:
            readers.update(key, files)
        with self._inflight_lock:
            self.inflight.add(key)
        self.worker.jobs.put_nowait(job)
        for m in members:
            self.pending.pop(m.path, None)
        self.groups.pop(key, None)

    def _name_freed(self, key: GroupKey, root: str) -> None:
        """The asset ``key`` is gone from disk: an asset of its folder that it kept the name
        from (docs/watch.md, *Two assets with one name*: a file named as the sequence's
        pattern, ``sh.####.exr``; a name that is not UTF-8 beside a file named as its
        escape), refused while it was there, is looked at again, and audited under the name
        now. The folder is listed only when there may be one (a sequence whose frames all
        went, a file with an escape in its name)."""
        folder, stem, ext = key
        shown = printable(stem)
        if not ext and "\\x" not in shown:
            return
        try:
            entries = list(self.fs.scandir(folder))
        except OSError:
            return
        now = time.monotonic()
        for entry in entries:
            name = entry.name
            if ext:
                frame = name[len(stem) + 1 : -len(ext) - 1]
                rival = (
                    name.startswith(stem + ".")
                    and name.endswith("." + ext)
                    and frame != ""
                    and frame.strip("#") == ""
                )
            else:
                rival = name != stem and printable(name) == shown
            if rival and is_candidate(name, self.policy):
                self._hint(entry.path, root, now)

    def _sidecar_of(self, key: GroupKey) -> str | None:
        """The sidecar path of a group if present and settled, "pending" if settling, else
        None."""
        folder, stem, _ext = key
        for suffix in SIDECAR_SUFFIXES:
            path = os.path.join(folder, stem + suffix)
            if path in self.pending:
                return "pending"
            try:
                self.fs.stat(path)
                return path
            except OSError:
                continue
        return None

    def _files_of(self, key: GroupKey, group: _Group) -> list[str] | None:
        """Every file of the asset on disk; None if a frame still needs to settle."""
        folder, stem, ext = key
        if not ext:
            return sorted(group.members)
        files: list[str] = []
        unseen: list[str] = []
        try:
            entries = list(self.fs.scandir(folder))
        except OSError:
            return None
        group.not_frames = []
        for entry in entries:
            parts = split_frame(entry.name)
            if (
                parts is None
                or parts[0] != stem
                or parts[2] != ext
                or not is_candidate(entry.name, self.policy)
            ):
                continue
            try:
                if not entry.is_file():  # a folder, a pipe, a link to nothing named as a
                    # frame: no frame, as a scan's walk has it; its audit says so, whatever
                    # its number (before the first frame, after the last, another padding)
                    group.not_frames.append(entry.path)
                    continue
            except OSError:
                continue
            files.append(entry.path)
            if entry.path in group.members:
                continue
            try:
                version = FileVersion.of(entry.path, self.fs.stat(entry.path))
            except OSError:
                continue
            assert self.state is not None
            if not self.state.is_audited(version):
                unseen.append(entry.path)  # a frame we never heard of: let it settle first
        if unseen:
            now = time.monotonic()
            for path in unseen:
                self._hint(path, group.root, now)
            return None
        return sorted(files)

    def _sidecar_settled(self, path: str, root: str, now: float, settled_wall: float) -> None:
        """A sidecar or a C2PA manifest settled (or a manifest vanished): nudge its waiting
        asset, or re-audit an audited one."""
        folder, name = os.path.split(path)
        lower = name.lower()
        on_disk: dict[GroupKey, list[str]] = {}
        if lower.endswith(".c2pa"):
            self._manifest_settled(path, settled_wall)
            return
        stem = next((name[: -len(s)] for s in SIDECAR_SUFFIXES if lower.endswith(s)), None)
        if stem is None:
            return
        if is_candidate(stem, self.policy):
            on_disk[_key_for(os.path.join(folder, stem))] = []  # NAME.EXT.genai.yaml
        else:
            try:  # PREFIX.genai.yaml: the sequences PREFIX.####.EXT
                entries = list(self.fs.scandir(folder))
            except OSError:
                entries = []
            for entry in entries:
                parts = split_frame(entry.name)
                if parts is not None and parts[0] == stem and is_candidate(entry.name, self.policy):
                    on_disk[(folder, stem, parts[2])] = []
        for key in on_disk:
            self._provenance_settled(key, path, settled_wall)

    def _provenance_settled(self, key: GroupKey, path: str, settled_wall: float) -> bool:
        """The sidecar or manifest ``path`` of the asset ``key`` settled: nudge it if it waits,
        send ``path`` round again if it is being audited (True: one of the two), else send it
        to be audited again if it is on disk (the worker decides whether anything changed)."""
        group = self.groups.get(key)
        if group is not None:
            if group.ready_since is not None:  # it was waiting for this sidecar
                group.sidecar_wall = settled_wall
            self._wake(key, 0)
            return True
        if key in self.inflight:
            with self._inflight_lock:
                self._requeued.append(path)
            return True
        files = self._files_on_disk(key)
        if not files or (path.lower().endswith(".c2pa") and path not in manifests_read(key, files)):
            return False
        assert self.worker is not None
        job = Job(key, files, settled_at=settled_wall, pairing="sidecar")
        with self._inflight_lock:
            self.inflight.add(key)
        try:  # never block the scheduler: a full queue sends the sidecar round again
            self.worker.jobs.put_nowait(job)
        except queue.Full:
            with self._inflight_lock:
                self.inflight.discard(key)
                self._requeued.append(path)
        return False

    def _manifest_settled(self, path: str, settled_wall: float) -> None:
        """The detached C2PA manifest ``path`` settled, or vanished: the assets whose audit
        reads it (it is among their :func:`manifests_read`) are nudged or audited again.

        ``NAME.EXT.c2pa`` is first looked for as the manifest of ``NAME.EXT``'s asset, by its
        name alone: while that asset waits or is being audited (a render writing a manifest
        per frame), a manifest costs a dictionary look-up. Otherwise, the folder's readers
        (:func:`manifest_readers_in`) answer; the folder is listed for them at most once per
        :data:`READERS_TTL` seconds, and each audit sent updates them. The files of an asset
        to audit again are listed then, once per audit.
        """
        folder, name = os.path.split(path)
        stem = name[: -len(".c2pa")]
        if len(os.path.splitext(stem)[1]) > 1 and is_candidate(stem, self.policy):
            key = _key_for(os.path.join(folder, stem))
            if key in self.groups or key in self.inflight:
                self._provenance_settled(key, path, settled_wall)
                return
        for key in sorted(self._folder_readers(folder).by_name.get(name, ())):
            self._provenance_settled(key, path, settled_wall)

    def _folder_readers(self, folder: str) -> _Readers:
        """:class:`_Readers` of ``folder``, listed again when older than :data:`READERS_TTL`."""
        now = time.monotonic()
        readers = self._readers.get(folder)
        if readers is not None and now - readers.built < READERS_TTL:
            return readers
        try:
            names = [e.name for e in self.fs.scandir(folder)]
        except OSError:
            names = []
        by_name, firsts = manifest_readers_in(folder, names, self.policy)
        readers = _Readers(now, {n: set(keys) for n, keys in by_name.items()}, {}, firsts)
        for n, keys in by_name.items():
            for key in keys:
                readers.names_of.setdefault(key, []).append(n)
        self._readers.pop(folder, None)
        self._readers[folder] = readers
        while len(self._readers) > READERS_KEPT:
            self._readers.pop(next(iter(self._readers)))  # the folder listed longest ago
        return readers

    def _asset_changed(self, path: str, *, gone: bool) -> None:
        """The asset file ``path`` appeared already audited, or went away, without an audit
        (which would update its folder's readers): keep them current, or list the folder
        again at its next manifest when they cannot be (a sequence's first frame went)."""
        folder = os.path.dirname(path)
        readers = self._readers.get(folder)
        if readers is None:
            return
        key = _key_for(path)
        if not gone:
            readers.appeared(key, path)
        elif not readers.vanished(key, path):
            del self._readers[folder]

    def _folders_changed(self, top: str) -> None:
        """A folder was created or moved at ``top``: the readers of every folder under it are
        listed again at their next manifest."""
        for folder in [f for f in self._readers if f == top or f.startswith(top + "/")]:
            del self._readers[folder]

    def _manifest_readers(self, path: str) -> dict[GroupKey, list[str]]:
        """The assets on disk whose audit reads the detached C2PA manifest ``path`` (it is
        among their :func:`manifests_read`), each with its files."""
        folder, name = os.path.split(path)
        found = {}
        for key in self._folder_readers(folder).by_name.get(name, ()):
            files = self._files_on_disk(key)
            if files and path in manifests_read(key, files):
                found[key] = files
        return found

    def _files_on_disk(self, key: GroupKey) -> list[str]:
        folder, stem, ext = key
        if not ext:
            path = os.path.join(folder, stem)
            return [path] if os.path.isfile(path) else []
        try:
            entries = list(self.fs.scandir(folder))
        except OSError:
            return []
        return sorted(
            e.path
            for e in entries
            if (parts := split_frame(e.name)) is not None
            and parts[0] == stem
            and parts[2] == ext
            and is_candidate(e.name, self.policy)
        )
