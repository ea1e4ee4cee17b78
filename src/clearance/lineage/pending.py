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

A declared input that is *not on disk* is unresolved, as in ``scan``: no finding of its own.
If the watcher would audit it once it lands (:func:`input_expected`, names only), the watcher
remembers it under :func:`input_key` (:func:`absent_inputs`) and audits the asset again when
an asset of that name is audited.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from ..model import Asset, ProvenanceIssue
from ..policy import Policy
from .refs import normalise_ref, sequence_key

__all__ = [
    "PENDING_KEY",
    "absent_inputs",
    "folder_listings",
    "input_expected",
    "input_key",
    "input_on_disk",
    "pending_inputs",
    "pending_issues",
    "pending_of",
]

#: The ancestry key listing what the ancestry waits for (absent when nothing).
PENDING_KEY = "pending"

_TOKEN = re.compile(
    r"^(?P<head>.+)\.(?P<token>#+|@+|%0?[0-9]*d|\$F[0-9]*|[0-9]+)\.(?P<ext>[A-Za-z0-9]+)$"
)


def input_on_disk(ref: str, root: Path, watched: Sequence[str], policy: Policy) -> str | None:
    """The asset name (as the watcher names it: root-relative, a sequence as its pattern with
    its first frame's padding) of the file or frames ``ref`` names, if they are on disk, in one
    of the ``watched`` folders, and would be audited there (the watcher's own test: not in a
    hidden folder below the watched one, a media name that is not hidden or temporary); else
    None. One ``stat`` for a file or a frame; a folder listing for a pattern."""
    from ..discover import is_candidate, split_frame

    rel = _watched_rel(ref, root, watched)
    if rel is None:
        return None
    path = os.path.join(str(root), rel)
    folder, name = os.path.split(path)
    m = _TOKEN.match(name)
    if m is None:
        return rel if is_candidate(name, policy) and os.path.isfile(path) else None
    head, token, ext = m.group("head"), m.group("token"), m.group("ext")
    if token.isdigit():
        if not (is_candidate(name, policy) and os.path.isfile(path)):
            return None
        first = name
    else:
        found = _sequences(folder, policy).get((head, ext))
        if found is None:
            return None
        first = found[1]
    pad = len(split_frame(first)[1])  # type: ignore[index]
    return posix_join(os.path.dirname(rel), f"{head}.{'#' * pad}.{ext}")


def _watched_rel(ref: str, root: Path, watched: Sequence[str]) -> str | None:
    """``ref`` as a root-relative name, if it names a path inside one of the ``watched``
    folders and not in a hidden folder below it (where the watcher never audits); else None."""
    from ..discover import in_hidden_folder

    rel = normalise_ref(ref, root)
    if rel in ("", ".") or rel.startswith(("/", "../")):
        return None  # outside the root: never audited here
    path = os.path.join(str(root), rel)
    if not any(
        path.startswith(top + "/") and not in_hidden_folder(path[len(top) + 1 :])
        for top in (w.rstrip("/") for w in watched)
    ):
        return None  # not watched, or in a hidden folder the watcher never audits
    return rel


def input_key(name: str) -> str:
    """What an input is waited for under while it is not on disk: a sequence as
    ``dir/PREFIX.#.EXT`` whatever its frame token or padding (``####``, ``%04d``, a frame
    number: as lineage resolves it), a file as its root-relative name. The asset the watcher
    audits later under ``name`` (a sequence: its pattern) has the same key."""
    return sequence_key(name) or name


def input_expected(ref: str, root: Path, watched: Sequence[str], policy: Policy) -> str | None:
    """:func:`input_key` of the asset ``ref`` names if the watcher would audit it once it is
    on disk — in one of the ``watched`` folders, not in a hidden folder below it, a media name
    that is not hidden or temporary — else None. Names only: nothing is looked at on disk."""
    from ..discover import is_candidate

    rel = _watched_rel(ref, root, watched)
    if rel is None:
        return None
    name = os.path.basename(rel)
    m = _TOKEN.match(name)
    if m is not None and not m.group("token").isdigit():
        name = f"{m.group('head')}.1001.{m.group('ext')}"  # a frame of the sequence it names
    return input_key(rel) if is_candidate(name, policy) else None


def absent_inputs(
    ancestry: dict[str, Any] | None, *, root: Path, watched: Sequence[str], policy: Policy
) -> list[str]:
    """The inputs an ancestry found *unresolved* (not recorded: in ``scan``'s words, not on
    disk) that the watcher would audit once they are on disk (:func:`input_expected`), as
    keys (:func:`input_key`), those it waits for as pending left out. Directly declared ones, and
    those an input's recorded summary lists: the watcher audits the asset again once one of
    them is audited (``docs/watch.md``, *Assets audited before their inputs*)."""
    if not isinstance(ancestry, dict) or not watched:
        return []
    refs = ancestry.get("unresolved")
    if not isinstance(refs, list) or not refs:
        return []
    waiting = {input_key(n) for n in pending_of(ancestry)}
    found: dict[str, None] = {}
    for ref in refs:
        if isinstance(ref, str):
            key = input_expected(ref, root, watched, policy)
            if key is not None and key not in waiting:
                found[key] = None
    return list(found)


#: the folders :func:`input_on_disk` listed in the batch under way (:func:`folder_listings`)
_LISTED: ContextVar[dict[str, dict[tuple[str, str], tuple[int, str]]] | None] = ContextVar(
    "clearance_pending_listed", default=None
)
#: the most folders one batch keeps listed (more: listed again)
MAX_LISTED = 1024


@contextmanager
def folder_listings() -> Iterator[None]:
    """Within this, :func:`input_on_disk` lists each folder once and keeps what sequences
    it holds: a watcher's batch (or an audit process's chunk) whose dependants all look at
    one folder of 20,000 frames lists it once, not once per dependant. What a listing kept
    is dropped at the end: the next batch sees the folder as it is then."""
    token = _LISTED.set({})
    try:
        yield
    finally:
        _LISTED.reset(token)


def _sequences(folder: str, policy: Policy) -> dict[tuple[str, str], tuple[int, str]]:
    """The sequences of candidate frames in ``folder``: ``(prefix, ext)`` → the first frame
    (its number and name); empty when the folder cannot be listed."""
    listed = _LISTED.get()
    if listed is not None:
        known = listed.get(folder)
        if known is not None:
            return known
    from ..discover import is_candidate, split_frame

    found: dict[tuple[str, str], tuple[int, str]] = {}
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                name = entry.name
                parts = split_frame(name)
                if parts is None or not is_candidate(name, policy):
                    continue
                key = (parts[0], parts[2])
                frame = (int(parts[1]), name)
                first = found.get(key)
                if first is None or frame < first:
                    found[key] = frame
    except OSError:
        found = {}
    if listed is not None:
        if len(listed) >= MAX_LISTED:
            listed.clear()
        listed[folder] = found
    return found


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
) -> dict[str, str]:
    """What the ancestry of ``start`` waits for, each with the declared ref it waits through:
    each direct input on disk in the watched folders and not audited yet, and each direct
    input whose recorded ancestry waits for something other than ``start`` itself (a
    cycle), with what that waits for."""
    found: dict[str, str] = {}
    for node in ancestry.get("tree") or []:
        if not isinstance(node, dict):
            continue
        ref = str(node.get("ref"))
        if not node.get("audited"):
            name = input_on_disk(ref, root, watched, policy)
            if name is not None and name != start:
                found.setdefault(name, ref)
            continue
        asset = node.get("asset")
        if not isinstance(asset, str) or asset == start:
            continue
        further = [n for n in node.get(PENDING_KEY) or () if n != start]
        if further:
            found.setdefault(asset, ref)
            for name in further:
                found.setdefault(name, ref)
    return found


#: the declared inputs a PRV-02 finding names one by one (the others are counted)
SHOWN_INPUTS = 5


def pending_issues(asset: Asset, waits: dict[str, str], steps: Any = None) -> list[ProvenanceIssue]:
    """The ``PRV-02`` issues of an ancestry that waits (:func:`pending_inputs`): one per
    declared input it waits through, naming the sidecar field that declares it
    (``steps[0].inputs[1]``) and what it waits for. ``steps``: the sidecar's, when already
    parsed (else the sidecar is read again: only for an asset that waits)."""
    from ..provenance._common import display_path

    if steps is None:
        steps = _declared_steps(asset)
    file = display_path(asset, asset.sidecar) if asset.sidecar is not None else asset.rel
    by_ref: dict[str, list[str]] = {}
    for name, ref in waits.items():
        by_ref.setdefault(ref, []).append(name)
    issues = []
    for ref, names in list(by_ref.items())[:SHOWN_INPUTS]:
        first, further = names[0], names[1:]
        what = (
            f"{first} was audited before its own inputs ({', '.join(further[:5])}) were"
            if further
            else f"{first} is on disk in the watched folders and not audited yet"
        )
        issues.append(
            ProvenanceIssue(
                file,
                _field_of(steps, ref),
                f"declared input {what}: the GenAI ancestry is unknown until it is; the asset "
                "is audited again then",
            )
        )
    if len(by_ref) > SHOWN_INPUTS:
        issues.append(
            ProvenanceIssue(
                file,
                "steps[].inputs[]",
                f"and {len(by_ref) - SHOWN_INPUTS} more declared input(s) not audited yet",
            )
        )
    return issues


def _declared_steps(asset: Asset) -> Any:
    """The ``steps`` of the asset's sidecar (None when it cannot be read)."""
    from .._yaml import DocumentError, load_document

    if asset.sidecar is None:
        return None
    try:
        doc = load_document(asset.sidecar, field_errors=[])
    except (DocumentError, OSError):
        return None
    return doc.get("steps") if isinstance(doc, dict) else None


def _field_of(steps: Any, ref: str) -> str:
    """``steps[s].inputs[i]``: where the sidecar declares ``ref`` (its first mention)."""
    for s, step in enumerate(steps if isinstance(steps, list) else ()):
        items = step.get("inputs") if isinstance(step, dict) else None
        for i, item in enumerate(items if isinstance(items, list) else ()):
            if isinstance(item, dict) and item.get("ref") == ref:
                return f"steps[{s}].inputs[{i}]"
    return "steps[].inputs[]"
