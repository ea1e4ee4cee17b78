"""Declared inputs a watcher has not audited yet: an asset's ancestry is not complete.

``scan`` audits stages in pipeline order, so a comp's plate is recorded before the comp reads
its ancestry. A watcher audits what settles first: a single-file deliverable settles after
``--settle``, the comp sequence it was made from only after ``--sequence-idle``. A declared
input that is on disk in the watched folders but has no recorded audit is one the watcher
*will* audit: until then the asset's GenAI ancestry is unknown, which is unsure (``PRV-02``),
never a pass; the watcher audits the asset again once the input is audited
(``docs/lineage.md``, *Assets audited before their inputs*).

The same holds for an input whose own recorded ancestry was not complete (a deliverable whose
comp was audited before the comp's plate): the asset waits for the input's next audit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..policy import Policy
from .refs import normalise_ref

__all__ = ["PENDING_KEY", "input_on_disk", "pending_inputs", "pending_of"]

#: The ancestry key listing what the ancestry waits for (absent when nothing).
PENDING_KEY = "pending"

_TOKEN = re.compile(r"^(?P<head>.+)\.(?P<token>#+|@+|%0?\d*d|\$F\d*|\d+)\.(?P<ext>[A-Za-z0-9]+)$")


def input_on_disk(ref: str, root: Path, watched: Sequence[str], policy: Policy) -> str | None:
    """The asset name (as the watcher names it: root-relative, a sequence as its pattern with
    its first frame's padding) of the file or frames ``ref`` names, if they are on disk, in one
    of the ``watched`` folders, and would be audited (media names, not hidden or temporary);
    else None. One ``stat`` for a file or a frame; a folder listing for a pattern."""
    from ..discover import is_candidate, split_frame

    rel = normalise_ref(ref, root)
    if rel in ("", ".") or rel.startswith(("/", "../")):
        return None  # outside the root: never audited here
    path = os.path.join(str(root), rel)
    if not any(path.startswith(w.rstrip("/") + "/") for w in watched):
        return None
    folder, name = os.path.split(path)
    m = _TOKEN.match(name)
    if m is None:
        return rel if is_candidate(name, policy) and os.path.isfile(path) else None
    head, token, ext = m.group("head"), m.group("token"), m.group("ext")
    if token.isdigit():
        if not (is_candidate(name, policy) and os.path.isfile(path)):
            return None
        frames = [(int(token), name)]
    else:
        try:
            with os.scandir(folder) as entries:
                frames = []
                for entry in entries:
                    parts = split_frame(entry.name)
                    if (
                        parts is not None
                        and parts[0] == head
                        and parts[2] == ext
                        and is_candidate(entry.name, policy)
                    ):
                        frames.append((int(parts[1]), entry.name))
        except OSError:
            return None
        if not frames:
            return None
    pad = len(split_frame(min(frames)[1])[1])  # type: ignore[index]
    return posix_join(os.path.dirname(rel), f"{head}.{'#' * pad}.{ext}")


def posix_join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def pending_of(summary: dict[str, Any] | None) -> list[str]:
    """What a recorded ancestry summary (or an ancestry) waits for."""
    if not isinstance(summary, dict):
        return []
    found = summary.get(PENDING_KEY)
    return [n for n in found if isinstance(n, str)] if isinstance(found, list) else []


def pending_inputs(
    ancestry: dict[str, Any],
    *,
    start: str,
    root: Path,
    watched: Sequence[str],
    policy: Policy,
) -> list[str]:
    """What the ancestry of ``start`` waits for: each direct input on disk in the watched
    folders and not audited yet, and each direct input whose recorded ancestry waits for
    something other than ``start`` itself (a cycle), with what that waits for."""
    found: dict[str, None] = {}
    for node in ancestry.get("tree") or []:
        if not isinstance(node, dict):
            continue
        if not node.get("audited"):
            name = input_on_disk(str(node.get("ref")), root, watched, policy)
            if name is not None and name != start:
                found[name] = None
            continue
        asset = node.get("asset")
        if not isinstance(asset, str) or asset == start:
            continue
        further = [n for n in node.get(PENDING_KEY) or () if n != start]
        if further:
            found[asset] = None
            found.update(dict.fromkeys(further))
    return list(found)
