"""Small helpers shared by the embedded readers."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import TYPE_CHECKING

from ..model import relative_posix

if TYPE_CHECKING:
    from ..model import Asset


def unreadable(exc: OSError) -> str:
    """The problem to report for a file that could not be opened or read (the reader also
    marks its answer volatile: reading again may succeed, so the cache never keeps it).
    A named pipe or socket put where the file was (opened without blocking, then read at an
    offset) fails with "Illegal seek": said as what it is."""
    if exc.errno == errno.ESPIPE:
        return "cannot read file: it is not a regular file (a named pipe or a socket)"
    return f"cannot read file: {exc.strerror or exc}"


def display_path(asset: Asset, path: Path | None = None) -> str:
    """How issues name a file: relative to the root with ``/``, as findings name assets."""
    return relative_posix(asset.path if path is None else path, asset.root)


def asset_stat(asset: Asset) -> os.stat_result | None:
    """``os.stat`` of the asset's (first) file, taken once per audit; None if it fails (the
    reader then reports why when it opens the file)."""
    try:
        return asset.stat(asset.path)
    except OSError:
        return None


def is_file(path: Path) -> bool:
    """``path.is_file()`` that treats an unreadable path as absent instead of raising."""
    try:
        return path.is_file()
    except OSError:
        return False
