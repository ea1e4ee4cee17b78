"""The lineage store: every audited asset, what it was made from, and its GenAI ancestry.

"When an asset's sidecar lists inputs that were audited earlier, it inherits their GenAI
status — so GenAI material cannot reach a final deliverable unnoticed because a later
stage's sidecar forgot to say so" (``DESIGN.md``, Lineage).

Three parts:

- :class:`LineageStore`: tables ``lineage_assets`` and ``lineage_meta`` in the state store
  file (``audit.state`` in ``clearance.yaml``, default ``.clearance/state.db``), SQLite in WAL
  mode with a busy timeout, so several ``scan``/``check``/``watch`` processes may record into
  it at once. One row per audited *version* of an asset: its root-relative path or sequence
  pattern, a version key (the identity ``dev, ino, size, mtime_ns, ctime_ns`` of every file
  and of the sidecar, hashed), stage, ``generated``, source type, worst open outcome, open findings,
  declared inputs, run id and time. :meth:`LineageStore.ancestry` walks declared inputs
  transitively (cycle-safe, depth-bounded).
- :class:`RunIndex`: the store as one run sees it, read once per folder and answered from
  memory, with the run's own rows buffered and committed one transaction at a time (at the end
  of each stage, every ``FLUSH_ROWS`` rows, on ``flush()``, at exit).
- :class:`LineagePlugin`, a built-in plugin made once per run (``plugins.BUILTIN_FACTORIES``):
  as a provenance reader it returns a partial record from source ``lineage`` whose only key
  is ``ancestry`` (never ``generated``: a comp is not itself generated, it *contains* GenAI
  material); after each audit (``clearance_asset_audited``) it records the asset.

An input ``ref`` resolves, in order: as a root-relative path (``./`` and ``..`` normalised,
absolute paths and ``file://`` URLs inside the root accepted); as a frame sequence, where
``####``, ``%04d``, ``@@@@``, ``$F4`` and a single frame number name the same sequence; as an
asset id (the sidecar's ``x-asset-id``) or a version key of at least 12 hex digits.

Layout: ``refs`` (names, patterns, version keys), ``rows`` (a row and its encoding), ``store``
(tables, queries), ``ancestry`` (walks), ``index`` (the run's view and write buffer), and here
the plugin.
"""

from __future__ import annotations

import dataclasses
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from .._process import current_pid
from ..hookspecs import hookimpl
from ..model import (
    Asset,
    AssetResult,
    Outcome,
    PartialRecord,
    ProvenanceIssue,
    ProvenanceRecord,
    StageResult,
)
from ..policy import Policy
from ..state import is_lock_error
from .ancestry import MAX_DEPTH, iter_tree, unknown_ancestry
from .index import FLUSH_ROWS, Lookup, Recorded, RunIndex, lookup_keys
from .pending import PENDING_KEY, absent_inputs, pending_inputs, pending_issues, pending_of
from .refs import (
    declared_inputs,
    forget_links,
    frame_number,
    inputs_of,
    is_genai,
    name_key,
    normalise_ref,
    sequence_key,
    url_to_path,
    version_key,
)
from .rows import STAGE_CHECK, encode_row, stamped
from .store import (
    SCHEMA_VERSION,
    AssetRow,
    LineageError,
    LineageStore,
    create_lineage_tables,
)

__all__ = [
    "AssetRow",
    "FLUSH_ROWS",
    "LineageError",
    "LineagePlugin",
    "LineageStore",
    "MAX_DEPTH",
    "RunIndex",
    "SCHEMA_VERSION",
    "create_lineage_tables",
    "declared_inputs",
    "frame_number",
    "is_genai",
    "iter_tree",
    "name_key",
    "normalise_ref",
    "absent_of",
    "pending_of",
    "waits_of",
    "sequence_key",
    "url_to_path",
    "version_key",
]

SOURCE = "lineage"

_log = logging.getLogger("clearance")

#: what an unusable store raises (damaged pages, not a database, cannot be opened); a store
#: that is only busy waits out its busy timeout first (once per run: see _unusable)
_STORE_ERRORS = (LineageError, sqlite3.DatabaseError)


def _locked(exc: BaseException) -> bool:
    """Another process held a lock on the store past the busy timeout."""
    return is_lock_error(exc) or (isinstance(exc, LineageError) and exc.locked)


# -------------------------------------------------------------------------------------------
# The plugin
# -------------------------------------------------------------------------------------------


def _recorded_ancestry(record: ProvenanceRecord) -> dict[str, Any] | None:
    """The ancestry this reader put in the record (read in another process: ``scan --jobs``)."""
    for partial in record.partials:
        if partial.source == SOURCE:
            found = partial.data.get("ancestry")
            return found if isinstance(found, dict) else None
    return None


def waits_of(record: ProvenanceRecord | None) -> list[str]:
    """What the asset's ancestry waits for (:mod:`.pending`): declared inputs in a watcher's
    folders not audited yet, or whose own ancestry was not complete. Empty otherwise."""
    return pending_of(_recorded_ancestry(record)) if record is not None else []


def absent_of(
    record: ProvenanceRecord | None, root: Path, watched: Sequence[str], policy: Policy
) -> list[str]:
    """The inputs the asset's ancestry found unresolved that a watcher of the ``watched``
    folders would audit once they are on disk (:func:`.pending.absent_inputs`): the asset is
    audited again when one of them is. Empty otherwise."""
    if record is None or not watched:
        return []
    return absent_inputs(_recorded_ancestry(record), root=root, watched=watched, policy=policy)


def _outcome_of(value: Any) -> Outcome:
    """An outcome as a row records it; one not known is unsure (escalate)."""
    try:
        return Outcome(value)
    except ValueError:
        return Outcome.ESCALATE


def _is_stage_check(entry: Any) -> bool:
    """Is this finding of a row a stage checker's (:data:`~.rows.STAGE_CHECK`)?"""
    return isinstance(entry, dict) and entry.get(STAGE_CHECK) is True


class _Read(NamedTuple):
    """What the reader found for an asset that recording it needs again."""

    version: str  # the version key
    known: AssetRow | None  # this version's recorded row, if any
    ancestry: dict[str, Any] | None  # what the reader returned
    steps: Any  # the sidecar's ``steps`` the inputs were read from (None: not from there)
    inputs: list[dict[str, Any]]  # inputs_of(steps)
    #: the store could not be read: ``ancestry`` is unknown, and no row is recorded (its
    #: summary would hide from later walks the GenAI ancestry the store holds)
    unreadable: bool = False


#: Indexes left behind in a forked child: kept alive so the child never closes its parent's
#: connection nor commits its parent's buffered rows.
_FORKED: list[RunIndex] = []


class LineagePlugin:
    """The built-in lineage plugin of one run (made by the plugin manager with the policy).

    Opens the store lazily: a run that audits nothing, or a policy without a state store,
    never creates one. Safe to call from the watcher's audit thread.

    Rows are buffered (:class:`RunIndex`) and committed in one transaction at the end of each
    stage (``clearance_stage_finished``), every :data:`FLUSH_ROWS` rows, on :meth:`flush`
    (``Session.flush()`` calls it), on :meth:`close`, and at interpreter exit.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.path: Path | None = policy.state_path
        #: The engine's run id when the session sets it; else this plugin's own per-run id.
        self.run_id: str = uuid.uuid4().hex
        self.max_depth = MAX_DEPTH
        self._index: RunIndex | None = None
        self._pid = 0
        self._lock = threading.Lock()
        # asset → what reading found that recording needs again (see _Read)
        self._pending: dict[str, _Read] = {}
        self._shown: dict[Path, str] = {}
        # asset → its row as a scan --jobs worker encoded it (None: nothing to record)
        self._encoded: dict[str, tuple[Any, ...] | None] = {}
        #: In a ``scan --jobs`` worker: note what each asset's walk looked up and found
        #: (:meth:`take_consulted`), for the parent to check (:meth:`stale`).
        self.consulting = False
        self._consulted: dict[str, list[Lookup]] = {}
        # in a scan --jobs parent, or a run that checks its walks (track_walks): the rows
        # recorded so far; those of the stage under way are the ones after _stage_mark
        self._recorded: Recorded | None = None
        self._stage_mark = 0
        #: asset → (rows recorded before its walk, its root, what the walk looked up and
        #: found), for :meth:`stale_walks` (None: not tracked, e.g. a watcher)
        self._walks: dict[str, tuple[int, Path, Sequence[Lookup]]] | None = None
        self._failures: set[str] = set()  # why the store could not be used (said once each)
        #: in a scan --jobs worker: (reason, warning) for the scanning process to say
        self._unsaid: list[tuple[str, str]] = []
        #: the busy timeout of a store opened from now on (None: the state store's); 0 once
        #: the run waited for a lock in vain, so that it never waits for it again
        self._wait: float | None = None
        #: the folders a watcher watches (absolute): a declared input on disk in them that
        #: has no recorded audit yet is one the watcher will audit; until then the asset's
        #: ancestry is unsure (:mod:`.pending`). Empty: ``scan``, ``check`` (stage order).
        self.watched: tuple[str, ...] = ()

    def index(self, *, create: bool) -> RunIndex | None:
        """The run's view of the store (``None``: no state path, or not created yet and
        ``create`` is False)."""
        index = self._index
        if index is not None and self._pid == current_pid() and (index.store._ready or not create):
            return index  # the common case, without the lock
        if self.path is None:
            return None
        with self._lock:
            if self._index is not None and self._pid != current_pid():
                _FORKED.append(self._index)  # forked: never share a connection or a buffer
                if self._index.store.locked is not None:
                    self._wait = 0.0
                self._index = None
            if self._index is None:
                if not create and not self.path.is_file():
                    return None
                store = LineageStore(self.path, create=create, busy_timeout=self._wait)
                self._index = RunIndex(store)
                self._pid = current_pid()
            elif create and not self._index.store._ready:
                self._index.store._check_schema(True)
            return self._index

    @property
    def locked(self) -> str | None:
        """Why this run's store stopped waiting for another process's lock ("database is
        locked"), or None: it waited for it once, in vain."""
        index = self._index
        return index.store.locked if index is not None else None

    def stop_waiting(self, reason: str) -> None:
        """The run already waited out another process's lock on the state store (the
        provenance cache did): lineage's commits, and stores it opens from now on, try at once
        instead of waiting the busy timeout again."""
        with self._lock:
            self._wait = 0.0
            index = self._index
        if index is not None and self._pid == current_pid():
            index.store.stop_waiting(reason)

    def store(self, *, create: bool) -> LineageStore | None:
        """The run's store (``None``: no state path, or not created yet and ``create`` is False)."""
        index = self.index(create=create)
        return index.store if index is not None else None

    def flush(self) -> None:
        """Commit the rows recorded so far (one transaction). ``Session.flush()`` calls it
        after each stage, at the end of a run and after each watcher batch.

        A store that cannot be written (locked past the busy timeout, disk full) is logged,
        not raised: lineage is derived data, and the rows stay buffered for the next flush
        (:meth:`RunIndex.flush_or_keep`).
        """
        forget_links()  # a link repointed since names its new target (a watcher's batches)
        index = self._index
        if index is None or self._pid != current_pid():
            return
        index.forget_names()
        index.flush_or_keep()

    def close(self) -> None:
        """Commit the rows recorded so far and close the store (rows that cannot be committed
        are counted on stderr, not raised: :meth:`RunIndex.close`)."""
        with self._lock:
            index, self._index = self._index, None
        if index is not None and self._pid == current_pid():
            index.close()

    def _display(self, root: Path) -> str:
        assert self.path is not None
        shown = self._shown.get(root)
        if shown is None:
            try:
                shown = self.path.relative_to(root).as_posix()
            except ValueError:
                shown = str(self.path)
            self._shown[root] = shown
        return shown

    @hookimpl(trylast=True)
    def clearance_read_provenance(
        self, asset: Asset, policy: Policy, partials: list[PartialRecord]
    ) -> PartialRecord | None:
        """The GenAI ancestry of the asset's declared inputs, from earlier audits."""
        if asset.sidecar is None or self.path is None:
            return None
        version = version_key(asset)
        known = None
        unreadable = None  # why the store could not be read
        try:
            index = self.index(create=False)
            if index is not None:
                index.enter_stage(asset.stage)
                if version is not None:
                    # this exact version was recorded before (a warm re-scan): no second parse
                    known = index.exact(asset.rel, asset.stage, version)
        except _STORE_ERRORS as exc:
            unreadable = self._unusable(exc)
            index = None
        steps = None
        if known is not None:
            inputs = known.inputs
        else:
            sidecar = next((p for p in partials if p.source == "sidecar"), None)
            if sidecar is not None and not sidecar.issues:
                steps = sidecar.data.get("steps")
                inputs = inputs_of(steps)  # already parsed and valid
            else:
                inputs = declared_inputs(asset)  # broken sidecar: read what it declares anyway
        ancestry = None
        walks = None if self.consulting else self._walks  # a worker: the parent tracks them
        consulted: list[Lookup] | None = [] if self.consulting or walks is not None else None
        if inputs and index is not None:
            try:
                ancestry = index.ancestry(
                    inputs,
                    asset.root,
                    start=asset.rel,
                    max_depth=self.max_depth,
                    shallow=True,
                    consulted=consulted,
                )
            except _STORE_ERRORS as exc:
                unreadable = self._unusable(exc)
                index = None
        if inputs and index is None:
            ancestry = unknown_ancestry(inputs)  # a walk that finds nothing
            if consulted is not None:
                refs = dict.fromkeys(str(i["ref"]) for i in inputs)
                consulted = [(ref, lookup_keys(ref, asset.root), None) for ref in refs]
        if consulted and self.consulting:
            if len(self._consulted) > 4096:
                self._consulted.clear()
            self._consulted[asset.rel] = consulted
        if walks is not None:
            if consulted:
                recorded = self._recorded
                # a tuple: kept for the run, it is one object fewer for the collector to visit
                walks[asset.rel] = (recorded.count if recorded else 0, asset.root, tuple(consulted))
            else:
                walks.pop(asset.rel, None)
        if version is not None:
            if len(self._pending) > 4096:
                self._pending.clear()
            self._pending[asset.rel] = _Read(
                version, known, ancestry, steps, inputs, unreadable is not None
            )
        if ancestry is None:
            return None
        shown = self._display(asset.root)
        # every GenAI ancestor, also those a capped summary left out of the list
        omitted = ancestry.get("genai_omitted")
        genai = len(ancestry["genai"]) + (omitted if isinstance(omitted, int) else 0)
        evidence = {"store": shown, "genai": genai}
        issues = []
        if self.watched and unreadable is None:
            waits = pending_inputs(
                ancestry, start=asset.rel, root=asset.root, watched=self.watched, policy=policy
            )
            if waits:  # recorded with the row: its dependents wait in turn
                ancestry[PENDING_KEY] = list(waits)
                issues.extend(pending_issues(asset, waits, steps))
        if unreadable is not None and inputs:  # unknown is unsure, never a pass (PRV-02)
            issues.append(
                ProvenanceIssue(
                    shown,
                    "ancestry",
                    f"the lineage store could not be read ({unreadable}): the GenAI ancestry "
                    "of the declared inputs is unknown",
                )
            )
        return PartialRecord(
            SOURCE, shown, {"ancestry": ancestry}, issues, evidence, volatile=bool(issues)
        )

    def _unusable(self, exc: BaseException) -> str:
        """The store could not be opened or read (damaged, not a database, locked): this
        asset's ancestry is unknown (its declared inputs are unsure: ``PRV-02``) and nothing
        is recorded for it. Said once per run and reason (once for any lock); the next asset
        tries again, without waiting for a lock the run already waited for. Returns the reason.
        """
        reason = f"{type(exc).__name__}: {exc}"
        locked = _locked(exc)
        index = self._index
        if locked:
            self._wait = 0.0  # stores opened from now on fail at once (this one already does)
            if index is not None and index.said_locked:
                return reason  # a commit said it already
        key = "locked" if locked else reason
        if key not in self._failures:
            self._failures.add(key)
            if locked and index is not None:
                index.said_locked = True  # its commits do not say it again
            message = (
                f"lineage: cannot use the state store {self.path} ({reason}): the declared "
                "inputs' ancestry of assets audited while it cannot be used is unknown (unsure, "
                "PRV-02) and they are not recorded (the next scan of them records them)"
                + (
                    "; another process holds a lock on it: this run waits for that lock no more"
                    if locked
                    else ""
                )
            )
            if self.consulting:  # a scan --jobs worker: the scanning process says it, once
                self._unsaid.append((key, message))
            else:
                _log.warning("%s", message)
        return reason

    def take_unsaid(self) -> list[tuple[str, str]]:
        """The warnings a ``scan --jobs`` worker (:attr:`consulting`) kept for the scanning
        process to say (:meth:`say`): each process found the store unusable on its own."""
        unsaid, self._unsaid = self._unsaid, []
        return unsaid

    def say(self, unsaid: Sequence[tuple[str, str]]) -> None:
        """Say on stderr what a worker kept (:meth:`take_unsaid`), once per run and reason."""
        for key, message in unsaid:
            if key in self._failures:
                continue
            self._failures.add(key)
            index = self._index
            if key == "locked" and index is not None:
                if index.said_locked:
                    continue  # a commit here said it already
                index.said_locked = True
            _log.warning("%s", message)

    @hookimpl
    def clearance_asset_audited(self, result: AssetResult, policy: Policy) -> None:
        """Record the audited asset, its verdict and its declared inputs (buffered)."""
        try:
            self._record(result, policy)
        except _STORE_ERRORS as exc:
            self._unusable(exc)

    def _record(self, result: AssetResult, policy: Policy) -> None:
        if self._encoded:
            rel = result.asset.rel
            if rel in self._encoded:  # made by the worker process that audited it
                values = self._encoded.pop(rel)
                if values is not None:
                    # stamped now, in the order a serial scan records: of the rows several
                    # assets share a name with (an asset id, one sequence in two paddings),
                    # the latest is the one recorded last, not the one a worker ended last
                    values = stamped(values, time.time())
                    index = self.index(create=True)
                    assert index is not None
                    index.record_encoded(values, result.asset)
                    if self._recorded is not None:
                        self._recorded.add(values)
                return
        row = self.row_for(result, policy)
        if row is not None:
            index = self.index(create=True)
            assert index is not None
            values = index.record(row, result.asset)
            if self._recorded is not None:
                self._recorded.add(values)

    def encoded_row_for(
        self, result: AssetResult, policy: Policy, host_pid: str
    ) -> tuple[Any, ...] | None:
        """What :meth:`clearance_asset_audited` would record for ``result``, encoded for the
        store as written by ``host_pid`` (None: nothing to record). A ``scan --jobs`` worker
        calls this; the parent passes it to :meth:`accept_encoded`."""
        try:
            row = self.row_for(result, policy)
        except _STORE_ERRORS as exc:
            self._unusable(exc)
            return None
        return None if row is None else encode_row(row, host_pid)

    def accept_encoded(self, rel: str, values: tuple[Any, ...] | None) -> None:
        """Record ``values`` (from :meth:`encoded_row_for`) when ``rel``'s
        ``clearance_asset_audited`` comes, instead of working the row out again."""
        self._encoded[rel] = values

    def take_consulted(self, rel: str) -> list[Lookup] | None:
        """What the walk of ``rel``'s inputs looked up and found (with :attr:`consulting`;
        None: it looked nothing up). A ``scan --jobs`` worker sends it to the parent."""
        return self._consulted.pop(rel, None)

    def track_recorded(self) -> None:
        """Note the rows recorded from now on, for :meth:`stale` (a ``scan --jobs`` parent)
        and :meth:`stale_walks`. :meth:`stale` looks only at those of the stage under way:
        the earlier ones were committed, and workers read them from the next stage on."""
        if self._recorded is None:
            self._recorded = Recorded()

    def track_walks(self) -> None:
        """Note each asset's walk from now on — what it looked up, what it found, and how many
        rows the run had recorded before it — so that :meth:`stale_walks` can tell which
        assets an input recorded later in the run (``Session.run``) would change."""
        self.track_recorded()
        if self._walks is None:
            self._walks = {}

    def note_walk(self, asset: Asset, consulted: Sequence[Lookup] | None) -> None:
        """Take a ``scan --jobs`` worker's walk of ``asset`` (:meth:`take_consulted`) as this
        process's, as of now: :meth:`stale` found nothing recorded since that it changes."""
        walks, recorded = self._walks, self._recorded
        if walks is None:
            return
        if consulted:
            walks[asset.rel] = (recorded.count if recorded else 0, asset.root, tuple(consulted))
        else:
            walks.pop(asset.rel, None)

    def stale_walks(self, rels: Iterable[str]) -> list[str]:
        """Those of ``rels`` (in their order) whose inputs' walk would find otherwise now:
        a row recorded after the walk (:meth:`Recorded.touches`) answers one of its look-ups
        differently — an input audited after the asset made from it (later in its stage, in
        a later stage), or audited again since.

        Costs nothing when the run recorded no row (a warm re-scan), and looks again only at
        what rows recorded since the last call may answer."""
        recorded, walks = self._recorded, self._walks
        if not recorded or not walks:
            return []
        now = recorded.count
        stale: list[str] = []
        index = None
        for rel in rels:
            walk = walks.get(rel)
            if walk is None or walk[0] >= now:
                continue
            since, root, consulted = walk
            touched = [lookup for lookup in consulted if recorded.touches(lookup, since)]
            if touched:
                try:
                    if index is None:
                        index = self.index(create=False)
                    changed = index is None or any(
                        index.lookup(ref, root)[1][2] != found for ref, _, found in touched
                    )
                except _STORE_ERRORS:
                    changed = True  # audited again, which reports the failure
                if changed:
                    stale.append(rel)
                    continue
            walks[rel] = (now, root, consulted)  # nothing recorded so far changes it
        return stale

    def stale(self, asset: Asset, consulted: Sequence[Lookup] | None) -> bool:
        """Would the walk of ``asset``'s inputs find otherwise here than a worker did
        (``consulted``, from :meth:`take_consulted`)?

        A worker's view lacks the rows this process recorded in the stage since the view was
        read; only the look-ups such a row may answer (:meth:`Recorded.touches`) are made
        again, and they differ when what they find differs in anything a walk reads."""
        recorded = self._recorded
        if not recorded or not consulted:
            return False
        since = self._stage_mark
        touched = [lookup for lookup in consulted if recorded.touches(lookup, since)]
        if not touched:
            return False
        try:
            index = self.index(create=False)
            if index is None:
                return False
            return any(index.lookup(ref, asset.root)[1][2] != found for ref, _, found in touched)
        except _STORE_ERRORS:
            return True  # audited again here, which reports the failure as a serial run does

    def row_for(self, result: AssetResult, policy: Policy) -> AssetRow | None:
        """The row recording ``result`` (None: nothing to record — not on disk, no record,
        or unchanged since it was recorded)."""
        asset, record = result.asset, result.record
        if record is None or self.path is None:
            return None
        read = self._pending.pop(asset.rel, None)
        if read is not None and read.unreadable:
            return None  # its ancestry is unknown: recording it would hide what the store has
        version = read.version if read is not None else version_key(asset)
        if version is None:
            return None  # not on disk (an in-memory audit): nothing to record, no store made
        if read is None:  # read in a worker process (scan --jobs), or with no sidecar
            index = self.index(create=True)
            assert index is not None
            known = index.exact(asset.rel, result.stage, version)
            read = _Read(version, known, _recorded_ancestry(record), None, [])
        data = record.data  # top-level keys: what record.get() would answer, without the walk
        steps = data.get("steps")
        # the record's steps are the sidecar's (the same object) unless another reader said more
        inputs = read.inputs if steps is read.steps and steps is not None else inputs_of(steps)
        ancestry = read.ancestry
        source_type = data.get("source_type")
        asset_id = data.get("x-asset-id")
        production = data.get("production") or policy.production_id
        shot = data.get("shot")
        findings = []
        outcome = Outcome.PASS  # result.outcome, in the same pass: the worst open finding
        for f in result.findings:
            if f.is_open:
                effective = f.effective_outcome
                if effective > Outcome.PASS:
                    findings.append(
                        {
                            "rule": f.rule,
                            "outcome": effective.value,
                            "status": str(f.status),
                            "message": f.message,
                        }
                    )
                    if effective > outcome:
                        outcome = effective
        # a stage checker's finding naming the asset stands for it until a scan of the whole
        # stage decides again (_join_stage_checks): a watcher, which runs no stage checks,
        # and a partial run, whose find nothing that proves anything, keep it
        index = self.index(create=False)
        if index is not None and index.has_stage_checks():
            for entry in index.stage_checks(asset.rel, result.stage):
                if entry not in findings:
                    findings.append(entry)
                    outcome = max(outcome, _outcome_of(entry.get("outcome")))
        verdict = (
            asset.frames,
            record.generated,
            source_type if isinstance(source_type, str) else None,
            outcome.value,
            findings,
            inputs,
            asset_id if isinstance(asset_id, str) else None,
            production if isinstance(production, str) else None,
            shot if isinstance(shot, str) else None,
            {k: v for k, v in ancestry.items() if k != "tree"} if ancestry else None,
        )
        if read.known is not None and read.known.verdict() == verdict:
            index = self.index(create=False)
            if index is not None and index.is_latest(asset.rel, result.stage, version):
                return None  # an unchanged re-audit (warm re-scan): nothing to write
            # a row recorded since under its name is what a ref to the name finds: record
            # again, so the latest row for the name is this audit's
        return AssetRow.from_verdict(
            asset.rel, result.stage, version, verdict, run_id=self.run_id, at=time.time()
        )

    @hookimpl
    def clearance_stage_finished(self, stage_result: StageResult, policy: Policy) -> None:
        """Commit the stage's rows (one transaction); a store that cannot be written is said
        on stderr, as :meth:`flush` says it (never a ``plugin.failed``), and the rows stay
        buffered for the next flush."""
        index = self._index
        if (stage_result.findings or stage_result.complete) and self._pid == current_pid():
            try:
                self._join_stage_checks(stage_result)
            except _STORE_ERRORS as exc:
                self._unusable(exc)
            index = self._index
        if index is not None and self._pid == current_pid():
            index.flush_or_keep()
            if self._recorded is not None and not index.buffered:
                self._stage_mark = self._recorded.count  # committed: workers read them

    def _join_stage_checks(self, stage_result: StageResult) -> None:
        """A stage checker's open finding that names an asset this run audited in the stage
        joins that asset's recorded audit, as it joins it in the log (``report``): its row
        gets the finding (marked :data:`~.rows.STAGE_CHECK`), and the worse outcome of the
        two. What reads the store (``timeline``, an ancestry walk) then sees what the report
        says of the asset. It stands for the asset through later audits of it that decide
        nothing of the stage (:meth:`row_for`: a watcher's, a partial run's) until a run of
        the whole stage (``complete``) decides again: the findings its stage checks name the
        asset with take the place of those standing; none clears them."""
        named: dict[str, list[dict[str, Any]]] = {}
        for f in stage_result.findings:
            if f.asset and f.is_open and f.effective_outcome > Outcome.PASS:
                entry = {
                    "rule": f.rule,
                    "outcome": f.effective_outcome.value,
                    "status": str(f.status),
                    "message": f.message,
                    STAGE_CHECK: True,
                }
                found = named.setdefault(f.asset, [])
                if entry not in found:
                    found.append(entry)
        whole = stage_result.complete
        if (not named and not whole) or self.path is None:
            return
        index = self.index(create=False)
        if index is None:
            return
        # a whole stage's: also the rows carrying one its checks name no more, if any does
        every = whole and index.has_stage_checks()
        if not named and not every:
            return  # no row carries a stage check's finding: nothing to decide
        # the stage's rows committed first, and what another process recorded meanwhile read:
        # the row joined is the asset's latest (a post-task check's of the file re-rendered
        # while this run read it, which its own row, recorded below it, does not hide)
        index.flush_or_keep()
        audited = {a.asset.rel: a.asset for a in stage_result.assets}
        rels = audited if every else [rel for rel in audited if rel in named]
        stage = stage_result.stage
        for rel in rels:
            joined = named.get(rel, [])
            standing = index.stage_checks(rel, stage)
            if not joined and not standing:
                continue
            row = index.latest_in_stage(rel, stage)
            if row is None:
                continue  # not recorded (not on disk, its ancestry unknown): nothing to join
            if whole:  # its checks saw the asset: what they find is what stands
                kept = [e for e in standing if e in joined]
            else:  # what a partial run's checks find adds (the same rule and message: again)
                said = {(e["rule"], e["message"]) for e in joined}
                kept = [e for e in standing if (e.get("rule"), e.get("message")) not in said]
            findings = [e for e in row.findings if not _is_stage_check(e)]
            # the asset's own outcome: its row's, or (some stood) its own findings' worst
            outcome = _outcome_of(row.outcome) if not standing else Outcome.PASS
            for e in findings:
                outcome = max(
                    outcome, _outcome_of(e.get("outcome") if isinstance(e, dict) else None)
                )
            findings += kept + [e for e in joined if e not in kept]
            if findings == row.findings:
                continue  # joined already (an unchanged re-audit of a joined row)
            for e in kept + joined:
                outcome = max(outcome, _outcome_of(e["outcome"]))
            joined_row = dataclasses.replace(
                row,
                findings=findings,
                outcome=outcome.value,
                run_id=self.run_id,
                audited_at=time.time(),
            )
            # not one of the rows a walk made earlier in the run is stale for (Recorded):
            # the asset's own row, which they read, said what it was made from; an asset
            # made from it, audited again for its outcome alone, was audited twice in the
            # log and the stage's checks ran (and wrote their findings) twice
            index.record(joined_row, audited[rel])

    def __repr__(self) -> str:
        return f"<LineagePlugin {self.path}>"
