"""Small helpers shared by the embedded readers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..model import Asset


def display_path(asset: Asset, path: Path | None = None) -> str:
    """How issues name a file: relative to the root with ``/``, as findings name assets."""
    path = asset.path if path is None else path
    try:
        return path.relative_to(asset.root).as_posix()
    except ValueError:
        return str(path)


def is_file(path: Path) -> bool:
    """``path.is_file()`` that treats an unreadable path as absent instead of raising."""
    try:
        return path.is_file()
    except OSError:
        return False
