"""Assets from settled files: frame sequences as one unit, and sidecars with a grace window.

:class:`AssetGrouping` is a mixin of :class:`clearance.watch.Watcher`. Settled files are
grouped by asset (a single file, or ``PREFIX.####.EXT`` in one folder). A group becomes a
:class:`~clearance.watch_audit.Job` when every frame is settled, no frame changed for the
idle window (``--sequence-idle`` for sequences), and its sidecar is settled — or the grace
window (``--sidecar-grace``) has passed without one (then it is audited with ``PRV-01`` and
re-audited when the sidecar lands). A sidecar that settles after its asset was audited
sends a ``pairing="sidecar"`` job: the worker re-audits only if the sidecar changed.
"""

from __future__ import annotations

import os
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
    next_check: float = 0.0


def _key_for(path: str) -> GroupKey:
    folder, name = os.path.split(path)
    parts = split_frame(name)
    if parts is None:
        return (folder, name, "")
    return (folder, parts[0], parts[2])


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

    def settle_for(self, root: str) -> float:
        raise NotImplementedError

    def _hint(self, path: str, root: str, now: float, *, scan: bool = False) -> None:
        raise NotImplementedError

    # -- groups: sequences, sidecars --------------------------------------------------------------
    def _evaluate_groups(self, now: float) -> None:
        assert self.worker is not None
        opts = self.options
        for key, group in list(self.groups.items()):
            if key in self.inflight or now < group.next_check:
                continue
            members = [self.pending[m] for m in group.members if m in self.pending]
            if not members or not all(m.stable for m in members):
                group.ready_since = None
                continue
            is_sequence = key[2] != ""
            idle = (
                max(self.settle_for(group.root), opts.sequence_idle)
                if is_sequence
                else self.settle_for(group.root)
            )
            last_change = max(m.changed for m in members)
            if now - last_change < idle:
                group.next_check = last_change + idle
                continue
            if group.ready_since is None:
                group.ready_since = now
            sidecar = self._sidecar_of(key)
            if sidecar == "pending":
                group.next_check = now + 0.1
                continue
            pairing = "paired"
            if sidecar is None:
                if now - group.ready_since < opts.sidecar_grace:
                    group.next_check = min(group.ready_since + opts.sidecar_grace, now + 1.0)
                    continue
                pairing = "missing"
            files = self._files_of(key, group)
            if files is None:
                group.next_check = now + 0.1
                continue
            # latency is measured from settling; an asset that waited out the grace window
            # is measured from the end of the window
            settled_at = (
                time.time() if pairing == "missing" else max(m.settled_wall for m in members)
            )
            job = Job(key, files, settled_at=settled_at, pairing=pairing)
            if self.worker.jobs.full():
                return
            with self._inflight_lock:
                self.inflight.add(key)
            self.worker.jobs.put_nowait(job)
            for m in members:
                self.pending.pop(m.path, None)
            self.groups.pop(key, None)

    def _sidecar_of(self, key: GroupKey) -> str | None:
        """The sidecar path of a group if present and settled, "pending" if settling, else None."""
        folder, stem, ext = key
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

    def _sidecar_settled(self, path: str, root: str, now: float) -> None:
        """A sidecar settled: nudge its waiting asset, or re-audit an audited one."""
        folder, name = os.path.split(path)
        lower = name.lower()
        stem = next((name[: -len(s)] for s in SIDECAR_SUFFIXES if lower.endswith(s)), None)
        if stem is None:
            return  # a .c2pa manifest: read by its reader when the asset is audited
        keys: set[GroupKey] = set()
        entries: list[os.DirEntry[str]] = []
        if is_candidate(stem, self.policy):
            keys.add(_key_for(os.path.join(folder, stem)))  # NAME.EXT.genai.yaml: one file
        else:
            try:  # PREFIX.genai.yaml: the sequences PREFIX.####.EXT in the folder
                entries = list(self.fs.scandir(folder))
            except OSError:
                entries = []
        for entry in entries:
            parts = split_frame(entry.name)
            if parts is not None and parts[0] == stem and is_candidate(entry.name, self.policy):
                keys.add((folder, stem, parts[2]))
        for key in keys:
            group = self.groups.get(key)
            if group is not None:
                group.next_check = 0.0
                continue
            if key in self.inflight:
                with self._inflight_lock:
                    self._requeued.append(path)
                continue
            files = self._files_on_disk(key)
            if not files:
                continue
            assert self.worker is not None
            job = Job(key, files, settled_at=time.time(), pairing="sidecar")
            with self._inflight_lock:
                self.inflight.add(key)
            try:
                self.worker.jobs.put(job, timeout=5.0)
            except Exception:
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
