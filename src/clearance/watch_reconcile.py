"""The reconciler: walk a root (or a subtree), compare with the ledger, hint what is not audited.

No watcher backend replays missed events (inotify overflow, a dead emitter, downtime, a blind
network share), so the truth is a walk: every asset file whose exact version
``(path, dev, ino, size, mtime_ns, ctime_ns)`` is not audited in the ledger, and every sidecar that no
audit has read at its current version, becomes a hint in the intake queue — exactly as if an
event had arrived; so does a detached C2PA manifest that an asset on disk read at its latest
audit when none of the manifests that audit read is left (removed while the watcher was
down: the live path then re-audits the asset, as for a manifest that goes away while it runs),
and so does a YAML/JSON sidecar that a latest audit read, gone while its asset is there, and
a frame that the latest audit of its sequence covered, gone while frames of it are left (the
live path then audits the frames left again, as for a frame deleted while it runs). The
readiness gate then treats it like any other hint, so a file that is
still being written when the walk passes is not audited half-written.

The walk never concludes that a file was deleted: an unreadable folder (EIO, ESTALE on a
share) is counted as an error and skipped; the next reconcile will see it again.
It runs in its own thread and pushes with a blocking ``put`` (the queue is bounded), so a
million-file tree costs time, not memory.
"""

from __future__ import annotations

import contextlib
import errno
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from .discover import SIDECAR_SUFFIXES, frame_ranges, is_candidate, is_sidecar, split_frame
from .model import relative_posix
from .policy import Policy
from .state import FileVersion, StateStore, stat_fingerprint, stat_version
from .watch_intake import Hint, Intake
from .watch_pairing import GroupKey, manifest_readers_in
from .watch_readiness import FileSystem, detached_manifest

__all__ = ["Reconciler", "RescanReport"]


@dataclass
class RescanReport:
    root: str
    path: str
    reason: str
    dirs: int = 0
    files: int = 0
    queued: int = 0
    errors: int = 0
    duration: float = 0.0
    complete: bool = True
    #: links to folders met (never walked: the watcher does not follow links)
    linked: list[str] = field(default_factory=list)


class Reconciler(threading.Thread):
    """Serves rescan requests ``(root, path, reason)`` one at a time, coalescing duplicates."""

    def __init__(
        self,
        policy: Policy,
        state: StateStore,
        intake: Intake,
        fs: FileSystem,
        *,
        report: Callable[[RescanReport], None],
        linked_s: float = 0.0,
    ) -> None:
        """``linked_s``: an audited file with more than one name whose ctime is less than
        this old is hinted (``Hint.linked``) for the scheduler to look at again."""
        super().__init__(name="clearance-reconcile", daemon=True)
        self.linked_ns = int(linked_s * 1e9)
        self.policy = policy
        self.state = state
        self.intake = intake
        self.fs = fs
        self.report = report
        self.requests: queue.Queue[tuple[str, str, str]] = queue.Queue()
        self._queued: set[tuple[str, str]] = set()
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self.busy = threading.Event()
        self.count = 0
        self.dirs_by_root: dict[str, int] = {}

    def request(self, root: str, path: str, reason: str) -> None:
        with self._lock:  # with the idle check below: never busy-clear with a request queued
            if (root, path) in self._queued:
                return
            self._queued.add((root, path))
            self.busy.set()
            self.requests.put((root, path, reason))

    def idle(self) -> bool:
        return self.requests.empty() and not self.busy.is_set()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                root, path, reason = self.requests.get(timeout=0.2)
            except queue.Empty:
                with self._lock:  # a request between the check and the clear stays busy
                    if self.requests.empty():
                        self.busy.clear()
                continue
            self.busy.set()
            with self._lock:
                self._queued.discard((root, path))
            report = self.walk(root, path, reason)
            if report is not None:
                self.count += 1
                self.report(report)

    def walk(self, root: str, top: str, reason: str) -> RescanReport | None:
        started = time.monotonic()
        rep = RescanReport(root=root, path=top, reason=reason)
        stack = [top]
        read = self.state.manifests_read(top)  # one query, not one per asset
        frames = _frames_by_folder(self.state.frames_read())  # one query too
        while stack:
            if self.stopping.is_set():
                rep.complete = False
                break
            folder = stack.pop()
            rep.dirs += 1
            try:
                entries = list(self.fs.scandir(folder))
            except FileNotFoundError:
                continue
            except OSError:
                rep.errors += 1
                rep.complete = False
                continue
            for gone in _gone_sidecars(folder, entries, self.state, self.policy):
                self._put(Hint(gone, root, scan=True), rep)
            recorded_frames = frames.get(
                relative_posix(os.path.join(folder, "_"), self.policy.root)[:-1]
            )
            if recorded_frames:
                for gone in _gone_frames(folder, entries, recorded_frames, self.policy):
                    self._put(Hint(gone, root, scan=True), rep)
            manifests: _FolderManifests | None = None  # made at the folder's first .c2pa
            recorded = read.pop(folder, None)
            if recorded:
                manifests = _FolderManifests(folder, entries, self)
                for manifest in manifests.gone(recorded):
                    self._put(Hint(manifest, root, scan=True), rep)
            for entry in entries:
                if self.stopping.is_set():  # a 100,000-file folder must not hold up a stop
                    rep.complete = False
                    break
                name = entry.name
                if name.startswith("."):
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if not entry.is_file():
                        if entry.is_symlink() and entry.is_dir():
                            rep.linked.append(entry.path)  # a linked folder: not watched
                        continue
                    sidecar = is_sidecar(name)
                    if not sidecar and not is_candidate(name, self.policy):
                        continue
                    rep.files += 1
                    st = self.fs.stat(entry.path)
                except FileNotFoundError:
                    continue
                except OSError:
                    rep.errors += 1
                    rep.complete = False
                    continue
                if sidecar and name.lower().endswith(".c2pa"):
                    if manifests is None:
                        manifests = _FolderManifests(folder, entries, self)
                    try:
                        if manifests.current(name):
                            continue
                    except OSError:
                        rep.errors += 1
                        rep.complete = False
                        continue
                elif sidecar:
                    fp = stat_fingerprint(st)
                    if self.state.sidecar_current(entry.path, fp):
                        continue
                elif self.state.is_audited(FileVersion.of(entry.path, st)):
                    if st.st_nlink > 1 and time.time_ns() - st.st_ctime_ns < self.linked_ns:
                        # audited, but another name may still be written through (a
                        # watcher started while it is): the scheduler looks at it again
                        linked = stat_version(st)
                        self._put(Hint(entry.path, root, scan=True, linked=linked), rep)
                    continue
                self._put(Hint(entry.path, root, scan=True), rep)
        rep.duration = time.monotonic() - started
        if top == root:
            self.dirs_by_root[root] = rep.dirs
        return rep

    def _put(self, hint: Hint, rep: RescanReport) -> None:
        while not self.intake.put(hint):
            if self.stopping.is_set():
                rep.complete = False
                break
        rep.queued += 1


class _FolderManifests:
    """The detached C2PA manifests of one folder, from the walk's listing of it: a manifest
    that no asset reads (``sh010.1002.exr.c2pa`` beside that sequence's first frame 1001) is
    never hinted, and one that assets read is hinted when the latest audit of one of them did
    not record every manifest its answer depends on at its current version
    (:func:`~clearance.watch_readiness.detached_manifest`)."""

    def __init__(self, folder: str, entries: list[os.DirEntry[str]], walker: Reconciler) -> None:
        self.names = {e.name for e in entries}
        self.readers, self.firsts = manifest_readers_in(folder, self.names, walker.policy)
        self.state = walker.state
        self.fs = walker.fs
        self.checked: dict[GroupKey, bool] = {}

    def _stat(self, path: str) -> os.stat_result:
        if os.path.basename(path) not in self.names:  # not in the listing: not there
            raise FileNotFoundError(errno.ENOENT, "not in the folder's listing", path)
        return self.fs.stat(path)

    def current(self, name: str) -> bool:
        """Is every asset that reads the manifest ``name`` audited with what it reads now?
        (An asset that more than one of them changed for is hinted once, by the first.)"""
        for key in self.readers.get(name, ()):
            if key in self.checked:
                continue
            read, version = detached_manifest(
                self.firsts[key], self._stat, sequence_prefix=key[1] if key[2] else None
            )
            self.checked[key] = ok = read is None or self.state.sidecar_current(read, version)
            if not ok:
                return False
        return True

    def gone(self, recorded: list[tuple[str, str]]) -> list[str]:
        """Of the detached manifests that latest audits read here (``(manifest, version)``,
        :meth:`~clearance.state.StateStore.manifests_read`), those of which nothing is left:
        neither it nor any other manifest its audit's answer depended on (``;NAME=…`` in the
        version) is in the listing, and an asset on disk reads it. (While one of them is
        left, :meth:`current` finds that what the asset reads changed.)"""
        found = []
        for manifest, version in recorded:
            name = os.path.basename(manifest)
            names = [name] + [part.split("=", 1)[0] for part in version.split(";")[1:]]
            if self.readers.get(name) and not any(n in self.names for n in names):
                found.append(manifest)
        return found


def _gone_sidecars(
    folder: str, entries: list[os.DirEntry[str]], state: StateStore, policy: Policy
) -> list[str]:
    """The YAML/JSON sidecars that latest audits read in ``folder`` and that are gone (not in
    its listing ``entries``) while an asset that would read them is there: ``NAME.EXT`` for
    ``NAME.EXT.genai.yaml``, a frame ``PREFIX.####.EXT`` for ``PREFIX.genai.yaml``."""
    read = state.sidecars_read(folder)
    if not read:
        return []
    names = {e.name for e in entries}
    prefixes: set[str] | None = None
    gone = []
    for sidecar in read:
        name = os.path.basename(sidecar)
        if name in names:
            continue
        lower = name.lower()
        stem = next((name[: -len(s)] for s in SIDECAR_SUFFIXES if lower.endswith(s)), None)
        if stem is None:
            continue
        if prefixes is None:
            prefixes = {
                parts[0]
                for n in names
                if (parts := split_frame(n)) is not None and is_candidate(n, policy)
            }
        if (stem in names and is_candidate(stem, policy)) or stem in prefixes:
            gone.append(sidecar)
    return gone


def _frames_by_folder(frames: dict[str, str]) -> dict[str, dict[str, str]]:
    """:meth:`~clearance.state.StateStore.frames_read` by the folder part of the asset name
    (``"renders/"``; ``""`` at the top)."""
    found: dict[str, dict[str, str]] = {}
    for asset, ranges in frames.items():
        found.setdefault(asset[: asset.rfind("/") + 1], {})[asset] = ranges
    return found


def _gone_frames(
    folder: str, entries: list[os.DirEntry[str]], recorded: dict[str, str], policy: Policy
) -> list[str]:
    """For each sequence of ``folder`` (listed: ``entries``) whose latest audit covered a
    frame that is not there any more (``recorded``: its frames, by asset name), the path of
    one such frame: hinted, it goes away as it would live, and the sequence is audited again
    with the frames left (its first frame, which the readers read, may be another)."""
    sequences: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for entry in entries:
        parts = split_frame(entry.name)
        if parts is not None and is_candidate(entry.name, policy):
            sequences.setdefault((parts[0], parts[2]), []).append((int(parts[1]), parts[1]))
    gone = []
    for (prefix, ext), numbered in sequences.items():
        pad = len(min(numbered)[1])  # as build_asset() names the sequence
        rel = relative_posix(os.path.join(folder, f"{prefix}.{'#' * pad}.{ext}"), policy.root)
        ranges = recorded.get(rel)
        if ranges is None or ranges == frame_ranges(n for n, _ in numbered):
            continue
        on_disk = {n for n, _ in numbered}
        missing = next((n for n in _frame_numbers(ranges) if n not in on_disk), None)
        if missing is not None:  # (only frames added: they are not audited, and hinted)
            gone.append(os.path.join(folder, f"{prefix}.{missing:0{pad}d}.{ext}"))
    return gone


def _frame_numbers(ranges: str) -> Iterator[int]:
    """The frame numbers of :func:`~clearance.discover.frame_ranges`' ``"1001-1003,1005"``."""
    for part in ranges.split(","):
        first, _, last = part.partition("-")
        with contextlib.suppress(ValueError):
            yield from range(int(first), int(last or first) + 1)


def walk_dirs(path: str) -> int:
    """Number of folders under ``path`` (itself included), hidden ones excluded."""
    count = 0
    for _folder, dirs, _files in os.walk(path):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        count += 1
    return count
