"""Is an input's recorded ancestry summary still what a walk of its ancestors would find?

The reader takes the rest of a branch from the direct input's recorded summary (one look-up
per input). That summary was right when the input was recorded; an ancestor audited since —
a gen artist's re-render, audited by ``scan gen/`` or ``check`` — changes what a live walk
finds, while the deliverable's ``check`` would still read the summary. So a summary is
trusted only while nothing it summarises was recorded after the input's row:

- no ancestor it lists (``assets``) has a row newer than the input's (``audited_at``: rows are
  stamped when recorded, in the order a serial scan records them);
- no ref it lists as ``unresolved`` resolves now;
- if its list was capped (``truncated``), no row at all is newer than the input's.

Otherwise the walk goes one generation deeper, through the input's recorded inputs, as
``clearance lineage`` does. Every look-up goes through the walk's finder, so a ``scan --jobs``
parent checks them as it checks the walk's own (:meth:`RunIndex.lookup` notes them).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .ancestry import Finder
    from .rows import AssetRow

__all__ = ["summary_is_fresh"]


def summary_is_fresh(finder: Finder, row: AssetRow, summary: dict[str, Any], root: Path) -> bool:
    """May a walk take ``summary`` (``row``'s recorded ancestry) as the rest of its branch?"""
    at = row.audited_at
    if summary.get("truncated"):
        newest = getattr(finder, "newest", None)
        if newest is None or newest() > at:
            return False
    for name in summary.get("assets", ()):
        if isinstance(name, str):
            found = finder.find(name, root)
            if found is None or found.audited_at > at:
                return False
    for ref in summary.get("unresolved", ()):
        if isinstance(ref, str) and finder.find(ref, root) is not None:
            return False
    return True
