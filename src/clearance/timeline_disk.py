"""The timeline audit's changed-on-disk check: is the media an edit cuts in still the version
that was audited?

The files on disk are found as ``clearance scan`` of their folder finds them (the same
grouping of frames, pairing of sidecars and same-name rule: :func:`clearance.discover.
folder_assets`) and compared with the version the lineage store recorded (``version_key``).
Each folder is listed once per timeline audit, however many of its assets are cut in.
"""

from __future__ import annotations

import errno
from pathlib import Path

from ._paths import located
from .discover import folder_assets, split_frame
from .lineage import AssetRow, frame_number, sequence_key, version_key
from .model import Asset, printable
from .policy import Policy

CHANGED = "the media or its sidecar changed since it was audited: re-scan before auditing the cut"


class OnDisk:
    """The media on disk now, found as ``clearance scan`` finds it, against the versions
    audited: a changed-on-disk check that costs one listing per folder per audit.

    Each folder is listed and classified once (:func:`clearance.discover.folder_assets`),
    however many of its assets the edit cuts in: a flat ``comp/`` of thousands of renders is
    not listed again for each of them. Each distinct asset then costs its version key (the
    ``stat`` of its first and last frames and its sidecar, its frame names), once per audit.
    """

    def __init__(self, root: Path, policy: Policy) -> None:
        self.root = root
        self.policy = policy
        self._folders: dict[str, Folder | OSError] = {}
        self._verdicts: dict[int, str | None] = {}

    def stale(self, row: AssetRow) -> str | None:
        """Why the media of ``row`` on disk is not the version audited (``None``: it is)."""
        if row.id not in self._verdicts:
            self._verdicts[row.id] = self._compare(row)
        return self._verdicts[row.id]

    def _folder(self, rel: str) -> Folder | OSError:
        """The folder ``rel`` (relative to the root), listed and grouped on the first ask."""
        found = self._folders.get(rel)
        if found is None:
            try:
                # named as the scan named it: a stage folder that is a link to another
                # share keeps its name (resolved, its assets were outside the show)
                found = Folder(*folder_assets(located(self.root / rel, self.root), self.policy))
            except (OSError, RuntimeError) as exc:  # (RuntimeError: a symlink loop, < 3.13)
                found = exc if isinstance(exc, OSError) else OSError(errno.ELOOP, str(exc))
            self._folders[rel] = found
        return found

    def _compare(self, row: AssetRow) -> str | None:
        """Compare the files on disk with the version recorded, grouped as a scan groups them."""
        gone = f"the audited media is no longer on disk ({row.asset})"
        folder = self._folder(row.asset.rpartition("/")[0])
        if isinstance(folder, OSError):
            if folder.errno in (errno.ENOENT, errno.ENOTDIR):
                return gone
            return (
                "cannot tell whether the media changed since it was audited: its folder "
                f"cannot be listed ({folder.strerror or folder})"
            )
        asset = folder.assets.get(row.asset)
        if asset is None:  # not an asset a scan finds now: gone, or no longer one (renamed, ...)
            return CHANGED if folder.has(row.asset) else gone
        if version_key(asset) != row.version:
            return CHANGED
        return None


class Folder:
    """A folder's assets by name (a walk's), and the names of its visible files."""

    def __init__(self, assets: dict[str, Asset], names: list[str]) -> None:
        self.assets = assets
        self.names = names
        self._files: set[str] | None = None
        self._frames: set[tuple[str, str]] = set()

    def has(self, rel: str) -> bool:
        """Is a visible file there named as ``rel`` (a frame of it, for a sequence)?"""
        if self._files is None:  # asked only of assets a scan does not find: built once
            self._files = set(map(printable, self.names))
            for parts in filter(None, map(split_frame, self.names)):
                self._frames.add((printable(parts[0]), printable(parts[2])))
        name = rel.rpartition("/")[2]
        if sequence_key(rel) is not None and frame_number(rel) is None:  # PREFIX.####.EXT
            return (name.rsplit(".", 2)[0], name.rpartition(".")[2]) in self._frames
        return name in self._files
