"""Assets from settled files: frame sequences as one unit, and sidecars with a grace window.

:class:`AssetGrouping` is a mixin of :class:`clearance.watch.Watcher`. Settled files are
grouped by asset (a single file, or ``PREFIX.####.EXT`` in one folder). A group becomes a
:class:`~clearance.watch_audit.Job` when every frame is settled, no frame changed for the
idle window (``--sequence-idle`` for sequences), and its sidecar is settled — or the grace
window (``--sidecar-grace``) has passed without one (then it is audited with ``PRV-01`` and
re-audited when the sidecar lands). A sidecar — or a detached C2PA manifest, ``NAME.EXT.c2pa``
or ``NAME.c2pa`` — that settles after its asset was audited sends a ``pairing="sidecar"``
job: the worker re-audits only if the sidecar or the manifest changed. An asset never waits
for a manifest that is not there (no grace window: C2PA is optional), only for one that is
still settling.
"""

from __future__ import annotations

import heapq
import itertools
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .discover import SIDECAR_SUFFIXES, is_candidate, split_frame
from .policy import Policy
from .state import FileVersion, StateStore
from .watch_audit import Job
from .watch_readiness import FileSystem

if TYPE_CHECKING:
    from .watch import WatchOptions
    from .watch_audit import AuditWorker

__all__ = ["AssetGrouping", "GroupKey"]

GroupKey = tuple[str, str, str]  # (folder, prefix or file name, ext or "")


@dataclass
class _Group:
    key: GroupKey
    root: str
    members: set[str] = field(default_factory=set)
    ready_since: float | None = None  # monotonic: all members stable and idle
    sidecar_wall: float | None = None  # wall time its sidecar settled (while it waited)


def _key_for(path: str) -> GroupKey:
    folder, name = os.path.split(path)
    parts = split_frame(name)
    if parts is None:
        return (folder, name, "")
    return (folder, parts[0], parts[2])


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
        if not members or not all(m.stable for m in members):
            group.ready_since = None
            return  # the last member to settle marks the group dirty again
        is_sequence = key[2] != ""
        idle = (
            max(self.settle_for(group.root), opts.sequence_idle)
            if is_sequence
            else self.settle_for(group.root)
        )
        last_change = max(m.changed for m in members)
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
        # latency is measured from the moment the asset was ready: its last file settled
        # (a sequence: its idle window ended; a sidecar it waited for: that settled), or,
        # without a sidecar, the grace window ended
        settled_at = max(m.settled_wall for m in members)
        if is_sequence:
            settled_at = max(settled_at, _wall(last_change + idle))
        if pairing == "missing":
            settled_at = max(settled_at, _wall(group.ready_since + opts.sidecar_grace))
        elif group.sidecar_wall is not None:
            settled_at = max(settled_at, group.sidecar_wall)
        settled = {m.path: m.stat for m in members if m.stat is not None}
        incomplete = {m.path: m.missing for m in members if m.missing is not None}
        job = Job(
            key,
            files,
            settled_at=settled_at,
            pairing=pairing,
            settled=settled,
            incomplete=incomplete,
        )
        with self._inflight_lock:
            self.inflight.add(key)
        self.worker.jobs.put_nowait(job)
        for m in members:
            self.pending.pop(m.path, None)
        self.groups.pop(key, None)

    def _sidecar_of(self, key: GroupKey) -> str | None:
        """The sidecar path of a group if present and settled, "pending" if settling (or its
        file's C2PA manifest is), else None."""
        folder, stem, ext = key
        if not ext:  # a single file: the manifest its audit reads must not be half-written
            path = os.path.join(folder, stem)
            base, dot = os.path.splitext(path)
            if path + ".c2pa" in self.pending or (dot and base + ".c2pa" in self.pending):
                return "pending"
        stems = [stem] if ext else [stem]
        for s in stems:
            for suffix in SIDECAR_SUFFIXES:
                path = os.path.join(folder, s + suffix)
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
        for entry in entries:
            parts = split_frame(entry.name)
            if (
                parts is None
                or parts[0] != stem
                or parts[2] != ext
                or not is_candidate(entry.name, self.policy)
            ):
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
        """A sidecar or a C2PA manifest settled: nudge its waiting asset, or re-audit an
        audited one."""
        folder, name = os.path.split(path)
        lower = name.lower()
        manifest = lower.endswith(".c2pa")
        stem = (
            name[:-5]
            if manifest
            else next((name[: -len(s)] for s in SIDECAR_SUFFIXES if lower.endswith(s)), None)
        )
        if stem is None:
            return
        keys: set[GroupKey] = set()
        entries: list[os.DirEntry[str]] = []
        if is_candidate(stem, self.policy):
            keys.add(_key_for(os.path.join(folder, stem)))  # NAME.EXT.genai.yaml (.c2pa): one file
        else:
            try:  # PREFIX.genai.yaml: the sequences PREFIX.####.EXT; NAME.c2pa: NAME.EXT
                entries = list(self.fs.scandir(folder))
            except OSError:
                entries = []
        for entry in entries:
            if manifest:
                base, dot = os.path.splitext(entry.name)
                if dot and base == stem and is_candidate(entry.name, self.policy):
                    keys.add(_key_for(entry.path))
                continue
            parts = split_frame(entry.name)
            if parts is not None and parts[0] == stem and is_candidate(entry.name, self.policy):
                keys.add((folder, stem, parts[2]))
        for key in keys:
            group = self.groups.get(key)
            if group is not None:
                if group.ready_since is not None:  # it was waiting for this sidecar
                    group.sidecar_wall = settled_wall
                self._wake(key, 0)
                continue
            if key in self.inflight:
                with self._inflight_lock:
                    self._requeued.append(path)
                continue
            files = self._files_on_disk(key)
            if not files:
                continue
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
