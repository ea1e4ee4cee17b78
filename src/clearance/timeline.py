"""The timeline audit: which GenAI material is on screen in an edit, where, and is it cleared.

"Flag any GenAI-generated elements early", especially if they will be seen or heard on
screen, "even in the background". :func:`audit_timeline` reads an edit with OpenTimelineIO
(``.otio`` natively; EDL, FCP XML and others through the OTIO adapter packages), resolves each
clip's media to the assets the lineage store recorded (``clearance.lineage``), and says for
every clip: track, clip, record in/out timecode, the asset and the frames the cut uses, its
GenAI ancestry, and its open findings.

How a clip's media is found, in order:

- an ``ImageSequenceReference``: its folder, prefix, padding and suffix name a sequence
  (``comp/sh010_comp_v004.####.exr``); the frames used are the clip's source range (handles
  excluded), and frames used that were not part of the audited sequence are a problem;
- an ``ExternalReference``: its ``target_url`` (``file://`` URL or path; a relative path is
  relative to the edit file, then to the root); a frame of a sequence names the sequence;
- no usable reference (``MissingReference``, as EDL events without ``* FROM FILE``): the clip
  name, the reference name or the EDL reel, matched against the bare names of audited assets
  (``sh010_comp_v004``) when exactly one asset has that name.

A clip whose media the store does not know is *unaudited* (``escalate``): nothing may be on
screen that nobody audited. A GenAI clip is at least ``notice`` (it must be flagged).
Needs the ``timeline`` extra: ``pip install 'genai-clearance[timeline]'``.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .lineage import (
    AssetRow,
    LineageStore,
    frame_number,
    name_key,
    normalise_ref,
    url_to_path,
)
from .model import Outcome
from .policy import Policy
from .timeline_disk import OnDisk

__all__ = ["ClipAudit", "TimelineAudit", "TimelineError", "audit_timeline", "INSTALL_HINT"]

INSTALL_HINT = "pip install 'genai-clearance[timeline]'"
ADAPTERS_HINT = "pip install 'genai-clearance[timeline-adapters]'"


class TimelineError(Exception):
    """The edit cannot be read (OpenTimelineIO missing, unknown format, malformed file)."""


@dataclass
class ClipAudit:
    """One clip of the edit and what the lineage store knows about its media."""

    track: str
    track_kind: str
    clip: str
    record_in: str
    record_out: str
    media: str | None
    asset: str | None = None
    frames: str | None = None
    matched_by: str | None = None  # path | sequence | name
    stage: str | None = None
    generated: bool | None = None
    source_type: str | None = None
    own_genai: bool = False
    ancestry: list[str] = field(default_factory=list)  # GenAI ancestors
    findings: list[dict[str, Any]] = field(default_factory=list)  # open findings of the asset
    problems: list[str] = field(default_factory=list)
    outcome: Outcome = Outcome.PASS

    @property
    def genai(self) -> bool:
        """GenAI on screen: the asset is GenAI, or contains GenAI material (ancestry)."""
        return self.own_genai or bool(self.ancestry)

    @property
    def audited(self) -> bool:
        return self.asset is not None

    @property
    def flagged(self) -> bool:
        """Shown in the table and HTML: GenAI, unaudited, or anything open."""
        return self.genai or not self.audited or self.outcome > Outcome.PASS or bool(self.problems)

    def to_dict(self) -> dict[str, Any]:
        return {
            "track": self.track,
            "track_kind": self.track_kind,
            "clip": self.clip,
            "record_in": self.record_in,
            "record_out": self.record_out,
            "media": self.media,
            "asset": self.asset,
            "frames": self.frames,
            "matched_by": self.matched_by,
            "stage": self.stage,
            "audited": self.audited,
            "generated": self.generated,
            "source_type": self.source_type,
            "genai": self.genai,
            "ancestry": self.ancestry,
            "outcome": self.outcome.value,
            "findings": self.findings,
            "problems": self.problems,
        }


@dataclass
class TimelineAudit:
    """Every clip of one edit (in track order), and what could not be read."""

    name: str
    file: str
    rate: float
    clips: list[ClipAudit] = field(default_factory=list)
    tracks: int = 0
    skipped: int = 0  # disabled clips and tracks (not on screen)

    @property
    def outcome(self) -> Outcome:
        return Outcome.worst(c.outcome for c in self.clips)

    def exit_code(self, fail_on: Outcome = Outcome.ESCALATE) -> int:
        """0 nothing open at or above ``fail_on``; 1 something is (as ``scan``: a clip's
        ``pass`` is nothing open, so ``--fail-on pass`` fails on a ``notice`` or worse)."""
        worst = self.outcome
        return 1 if worst > Outcome.PASS and worst >= fail_on else 0

    def summary(self) -> dict[str, Any]:
        by_outcome = {o.value: 0 for o in Outcome}
        for clip in self.clips:
            by_outcome[clip.outcome.value] += 1
        return {
            "clips": len(self.clips),
            "tracks": self.tracks,
            "genai": sum(1 for c in self.clips if c.genai),
            "unaudited": sum(1 for c in self.clips if not c.audited),
            "skipped": self.skipped,
            "by_outcome": by_outcome,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "timeline": self.name,
            "file": self.file,
            "rate": self.rate,
            "summary": self.summary(),
            "clips": [c.to_dict() for c in self.clips],
        }


# -------------------------------------------------------------------------------------------
# Reading the edit
# -------------------------------------------------------------------------------------------


def _otio() -> Any:
    try:
        import opentimelineio as otio
    except ImportError:
        raise TimelineError(f"OpenTimelineIO is not installed: {INSTALL_HINT}") from None
    return otio


def read_timelines(path: Path) -> list[Any]:
    """The timelines in an edit file (an ``.otio`` may hold one, or a collection)."""
    otio = _otio()
    if not path.is_file():
        raise TimelineError(f"{path}: no such file")
    try:
        loaded = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # OTIO raises its own exception types, and adapters anything
        name = type(exc).__name__
        if "NoKnownAdapter" in name or "AdapterDoesntSupport" in name:
            raise TimelineError(
                f"{path}: no OpenTimelineIO adapter reads {path.suffix or 'this file'} "
                f"(EDL, FCP XML: {ADAPTERS_HINT})"
            ) from None
        raise TimelineError(f"{path}: cannot read the edit: {name}: {exc}") from None
    if isinstance(loaded, otio.schema.Timeline):
        return [loaded]
    find_children = getattr(loaded, "find_children", None)
    if find_children is None:  # a schema OTIO does not know, a bare list or value: no edit
        if getattr(loaded, "is_unknown_schema", False):
            what = f"an object of the unknown schema {loaded.original_schema_name!r}"
        else:
            name = getattr(loaded, "schema_name", lambda: type(loaded).__name__)()
            what = {"AnyVector": "a list", "AnyDictionary": "a mapping"}.get(name, f"a {name}")
        raise TimelineError(f"{path}: contains no timeline (its top level is {what})")
    found = list(find_children(descended_from_type=otio.schema.Timeline))
    if not found:
        raise TimelineError(f"{path}: contains no timeline")
    return found


def _timecode(otio: Any, time: Any, rate: float) -> str:
    try:
        return str(otio.opentime.to_timecode(time, rate))
    except Exception:  # a rate timecode cannot express: say it in frames
        return f"{round(time.to_frames(rate))}f"


def _path_of(url: str, edit_dir: Path) -> str:
    """A media URL or path as a filesystem path (relative paths: relative to the edit)."""
    text = url_to_path(url.strip())
    if not os.path.isabs(text) and "://" not in text:
        return os.path.normpath(str(edit_dir / text))
    return text


def _ranges(frames: str | None) -> list[tuple[int, int]]:
    """``"1001-1040,1042"`` → ``[(1001, 1040), (1042, 1042)]``."""
    out: list[tuple[int, int]] = []
    for part in (frames or "").split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            out.append((int(first), int(last or first)))
        except ValueError:
            continue
    return sorted(out)


def _missing(used: tuple[int, int], audited: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of ``used`` (inclusive) outside the ``audited`` ranges."""
    gaps: list[tuple[int, int]] = []
    cursor = used[0]
    starts = [a for a, _ in audited]
    index = max(bisect.bisect_right(starts, cursor) - 1, 0)
    for first, last in audited[index:]:
        if cursor > used[1]:
            break
        if last < cursor:
            continue
        if first > cursor:
            gaps.append((cursor, min(first - 1, used[1])))
        cursor = max(cursor, last + 1)
    if cursor <= used[1]:
        gaps.append((cursor, used[1]))
    return gaps


def _fmt_range(first: int, last: int) -> str:
    return f"{first}-{last}" if last != first else str(first)


class _Resolver:
    """Clip media → audited asset, with per-run memos (a plate cut in many times)."""

    def __init__(
        self, store: LineageStore, root: Path, edit_dir: Path, on_disk: OnDisk | None = None
    ) -> None:
        self.store = store
        self.root = root
        self.edit_dir = edit_dir
        self.on_disk = on_disk
        self._rows: dict[str, AssetRow | None] = {}
        self._ancestry: dict[int, list[str]] = {}

    def stale(self, row: AssetRow) -> str | None:
        """Why the media on disk is not the version audited (``None``: it is, or unknown)."""
        if self.on_disk is None or os.path.isabs(row.asset):
            return None
        return self.on_disk.stale(row)

    def find(self, path: str) -> AssetRow | None:
        if path not in self._rows:
            row = self.store.find(path, self.root)
            if row is None and not os.path.isabs(path):
                row = self.store.find(normalise_ref(path, self.root), self.root)
            self._rows[path] = row
        return self._rows[path]

    def find_relative(self, url: str) -> AssetRow | None:
        """A URL as written: relative to the edit file first, then to the root."""
        row = self.find(_path_of(url, self.edit_dir))
        if row is None and "://" not in url and not os.path.isabs(url):
            row = self.find(url)
        return row

    def by_name(self, names: list[str]) -> tuple[AssetRow | None, str | None]:
        for name in names:
            key = name_key(name.strip())
            if not key:
                continue
            rows = self.store.find_by_name(key)
            if len(rows) == 1:
                return rows[0], None
            if len(rows) > 1:
                found = ", ".join(sorted(r.asset for r in rows))
                return None, f"clip name {key!r} matches several audited assets ({found})"
        return None, None

    def ancestry(self, row: AssetRow) -> list[str]:
        if row.id not in self._ancestry:
            walk = (
                self.store.ancestry(row.inputs, self.root, start=row.asset) if row.inputs else None
            )
            names = [str(g.get("asset") or g.get("ref")) for g in walk["genai"]] if walk else []
            self._ancestry[row.id] = list(dict.fromkeys(names))
        return self._ancestry[row.id]


def _sequence_used(otio: Any, ref: Any, clip: Any) -> tuple[int, int] | None:
    """First and last frame numbers the clip shows of an image sequence (handles excluded)."""
    try:
        used = clip.trimmed_range()
    except otio.exceptions.OTIOError:  # no source range, no available range: not known
        return None
    try:
        first, last = ref.frame_range_for_time_range(used)
        return int(first), int(last)
    except Exception:  # a source range outside the available range: compute it directly
        rate = ref.rate or used.start_time.rate
        available = ref.available_range
        offset = used.start_time - (available.start_time if available else used.start_time)
        first = int(ref.start_frame) + round(offset.to_frames(rate))
        return first, first + max(round(used.duration.to_frames(rate)) - 1, 0)


def _resolve(otio: Any, clip: Any, resolver: _Resolver, audit: ClipAudit) -> AssetRow | None:
    ref = clip.media_reference
    used: tuple[int, int] | None = None
    row: AssetRow | None = None
    if isinstance(ref, otio.schema.ImageSequenceReference):
        pattern = f"{ref.target_url_base}{ref.name_prefix}{'#' * max(ref.frame_zero_padding, 1)}{ref.name_suffix}"
        audit.media = pattern
        used = _sequence_used(otio, ref, clip)
        row = resolver.find_relative(pattern)
        audit.matched_by = "sequence" if row is not None else None
    elif isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        audit.media = ref.target_url
        frame = frame_number(ref.target_url.rsplit("/", 1)[-1])
        if frame is not None:
            used = (frame, frame)
        row = resolver.find_relative(ref.target_url)
        audit.matched_by = "path" if row is not None else None
    if row is None and audit.media is None:
        reel = (clip.metadata.get("cmx_3600") or {}).get("reel") if clip.metadata else None
        names = [
            n for n in (clip.name, getattr(ref, "name", None), reel) if isinstance(n, str) and n
        ]
        row, problem = resolver.by_name(names)
        if row is not None:
            audit.matched_by = "name"
            audit.media = None
        elif problem:
            audit.problems.append(problem)
    if row is None:
        audit.problems.insert(
            0,
            f"media not audited: {audit.media}"
            if audit.media
            else "no media path and no audited asset of that name",
        )
        audit.outcome = Outcome.ESCALATE
        if used is not None:
            audit.frames = _fmt_range(*used)
        return None
    if used is not None:
        audit.frames = _fmt_range(*used)
        if row.frames:
            gaps = _missing(used, _ranges(row.frames))
            if gaps:
                listed = ",".join(_fmt_range(*g) for g in gaps)
                audit.problems.append(
                    f"frames {listed} are cut in but were not audited (audited: {row.frames})"
                )
    return row


def audit_timeline(
    path: str | os.PathLike[str], store: LineageStore, root: Path, policy: Policy | None = None
) -> list[TimelineAudit]:
    """Audit every timeline in the edit at ``path`` against the lineage ``store``.

    With ``policy``, each asset's files on disk are compared with the version audited (a
    re-render or an edited sidecar since the scan is a problem, ``escalate``).
    """
    otio = _otio()
    edit = Path(path).resolve()
    on_disk = OnDisk(root, policy) if policy is not None else None  # shared by the timelines
    audits: list[TimelineAudit] = []
    for timeline in read_timelines(edit):
        audits.append(_audit_one(otio, timeline, edit, store, root, on_disk))
    return audits


def _rate(timeline: Any) -> float:
    start = timeline.global_start_time
    if start is not None and start.rate:
        return float(start.rate)
    for clip in timeline.find_clips():
        try:
            return float(clip.trimmed_range().duration.rate)
        except Exception:  # (OTIOError) a clip OTIO cannot place: the next one tells
            continue
    return 24.0


def _audit_one(
    otio: Any, timeline: Any, edit: Path, store: LineageStore, root: Path, on_disk: OnDisk | None
) -> TimelineAudit:
    rate = _rate(timeline)
    start = timeline.global_start_time or otio.opentime.RationalTime(0, rate)
    result = TimelineAudit(name=timeline.name or edit.stem, file=str(edit), rate=rate)
    resolver = _Resolver(store, root, edit.parent, on_disk)
    counts: dict[str, int] = {}
    for track in timeline.tracks:
        result.tracks += 1
        kind = str(track.kind)
        counts[kind] = counts.get(kind, 0) + 1
        label = track.name or f"{kind[:1].upper()}{counts[kind]}"
        if not track.enabled:
            result.skipped += sum(1 for _ in track.find_clips())
            continue
        for clip in track.find_clips():
            if not clip.enabled:
                result.skipped += 1
                continue
            result.clips.append(_audit_clip(otio, clip, track, label, kind, start, rate, resolver))
    return result


def _audit_clip(
    otio: Any,
    clip: Any,
    track: Any,
    label: str,
    kind: str,
    start: Any,
    rate: float,
    resolver: _Resolver,
) -> ClipAudit:
    record_in = record_out = "?"
    unplaced = None
    try:
        used = clip.trimmed_range()
    except otio.exceptions.OTIOError as exc:  # no source range, and none on its media
        unplaced = (
            "where it is in the cut cannot be computed: it has no source range, and its "
            f"media no available range ({type(exc).__name__})"
        )
    else:
        try:
            placed = clip.transformed_time_range(used, track)
        except otio.exceptions.OTIOError as exc:  # one before it is such a clip
            unplaced = (
                f"where it is in the cut cannot be computed: a clip before it on track "
                f"{label} has no source range, and its media no available range, so where "
                f"it starts is not known ({type(exc).__name__})"
            )
        else:
            at = start + placed.start_time
            record_in = _timecode(otio, at, rate)
            record_out = _timecode(otio, at + placed.duration, rate)
    audit = ClipAudit(
        track=label,
        track_kind=kind,
        clip=clip.name or "(unnamed)",
        record_in=record_in,
        record_out=record_out,
        media=None,
    )
    row = _resolve(otio, clip, resolver, audit)
    if unplaced:  # on screen for all one knows: a problem (escalate), never a pass
        audit.problems.append(unplaced)
    if row is None:
        return audit
    audit.asset = row.asset
    audit.stage = row.stage
    audit.generated = row.generated
    audit.source_type = row.source_type
    audit.own_genai = row.genai
    audit.ancestry = resolver.ancestry(row)
    audit.findings = row.findings
    stale = resolver.stale(row)
    if stale:
        audit.problems.append(stale)
    outcome = Outcome.parse(row.outcome)
    if audit.problems:
        outcome = max(outcome, Outcome.ESCALATE, key=lambda o: o.rank)
    if audit.genai:
        outcome = max(outcome, Outcome.NOTICE, key=lambda o: o.rank)
    audit.outcome = outcome
    return audit


def iter_flagged(audits: list[TimelineAudit]) -> Iterator[tuple[TimelineAudit, ClipAudit]]:
    for audit in audits:
        for clip in audit.clips:
            if clip.flagged:
                yield audit, clip
