"""One run's view of the lineage store: rows read once and kept in memory, and a write buffer.

For every asset the reader asks "was this exact version recorded?" and, for every declared
input, "what is the latest audit of what this ref names?"; after the audit the plugin records
the verdict. One SQL statement per question costs more than the rest of the audit of an
unchanged asset, so a :class:`RunIndex`:

- reads rows one name at a time at first, and the rows of a whole folder once
  :data:`BULK_AFTER` names in it were asked (one indexed range query: a scan audits a folder's
  assets one after the other) — after the view was dropped, only once 1/:data:`REREAD` of
  the rows it had were asked; keeps the latest row per asset, per ``(asset, stage)`` and per
  sequence, and answers from dicts; names at the root of the show and asset ids are always
  read one at a time;
- puts each row it records into the same dicts at once (a later stage's ancestry sees it), and
  into a buffer committed in one transaction: at the end of each stage, every
  :data:`FLUSH_ROWS` rows, on :meth:`RunIndex.flush`, and when the index is dropped or the
  interpreter exits (best effort). A commit that fails keeps the rows for the next one
  (:meth:`RunIndex.flush_or_keep` says so on stderr); rows still not committed when the index
  is closed or dropped are counted on stderr: the next scan records them;
- forgets what it read when another process has recorded lineage rows since (the
  lineage generation, a counter each commit of lineage rows bumps: the watcher's ledger
  commits do not count), checked at each flush and at the first asset of another stage: rows
  another process records in the middle of a stage are seen from the next stage on;
- for ``scan --jobs``, notes what each walk looked up and found (:data:`Lookup`): a worker's
  view lacks the rows its parent records in the same stage, so the parent, which has them,
  checks the walks those rows may change (:class:`Recorded`) and audits again an asset
  whose inputs it now finds otherwise.

Rows are kept as the store selects them (flat tuples of strings and numbers, which the garbage
collector does not track) and decoded when asked for. Only folders the run touches are read,
only the latest row per asset and stage is kept, and past :data:`MAX_CACHED` rows the view is
dropped and read again lazily.
"""

from __future__ import annotations

import copy
import logging
import os
import re
import sqlite3
import threading
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .ancestry import MAX_DEPTH, walk
from .refs import normalise_ref, sequence_key, version_key
from .rows import (
    STAGE_CHECK,
    STAGE_CHECK_TEXT,
    AssetRow,
    current_host_pid,
    decode_column,
    encode_row,
)
from .store import LineageError, LineageStore

if TYPE_CHECKING:
    from ..model import Asset

__all__ = [
    "BULK_AFTER",
    "FLUSH_ROWS",
    "MAX_CACHED",
    "REREAD",
    "Lookup",
    "Recorded",
    "RunIndex",
    "lookup_keys",
]

#: Buffered rows that trigger a commit before the stage ends.
FLUSH_ROWS = 1000
#: Rows kept in memory before the view is dropped (and read again, lazily).
MAX_CACHED = 50_000
#: Names looked up one at a time in a folder before the folder is read whole.
BULK_AFTER = 16
#: Once a folder was read whole and the view dropped since (another process recorded rows:
#: the watcher's audit processes, every batch), it is read whole again only once a quarter as
#: many names as it had rows were asked: one name's query costs about as much as four rows of
#: a whole read (9 µs, 2.2 µs), and a batch asks a few names of what may be a folder of
#: thousands.
REREAD = 4
_MEMO = 4096  # entries in the ref, asset-id and JSON-text memos before they are cleared
_MEMO_TEXT = 2048  # longer JSON texts are decoded every time, not memoised

# positions in a selected row (``rows.COLUMNS`` then ``seq_key``)
_ID, _ASSET, _STAGE, _VERSION, _FINDINGS, _AT, _SEQ = 0, 1, 2, 3, 8, 14, 16
#: the columns an ancestry walk reads of a row it finds (asset, stage, generated,
#: source_type, outcome, inputs, ancestry): rows equal in these walk the same
_WALKED = (1, 2, 5, 6, 7, 9, 15)
_HEX = re.compile(r"[0-9a-fA-F]{12,}")

Raw = tuple[Any, ...]

#: One look-up of an ancestry walk: the ref, the names it is looked up under
#: (:func:`lookup_keys`), and what it found (the walked columns of the row; None: nothing).
Lookup = tuple[str, tuple[str, ...], tuple[Any, ...] | None]

_log = logging.getLogger("clearance")


class _Folder:
    """The latest rows (committed, or recorded in this run) of the assets in one folder."""

    __slots__ = ("by_key", "latest", "by_seq", "names")

    def __init__(self, names: set[str] | None) -> None:
        self.by_key: dict[tuple[str, str], Raw] = {}  # (asset, stage) → its latest row
        self.latest: dict[str, Raw] = {}  # asset → its latest row in any stage
        self.by_seq: dict[str, Raw] = {}  # sequence key → latest row of any padding
        #: None: every asset of the folder was read; else the names read so far (root level)
        self.names = names

    def add(self, raw: Raw) -> None:
        """Take ``raw`` where it is the latest (by ``audited_at``, then id)."""
        order = (raw[_AT], raw[_ID])
        key = (raw[_ASSET], raw[_STAGE])
        old = self.by_key.get(key)
        if old is None or (old[_AT], old[_ID]) <= order:
            self.by_key[key] = raw
        old = self.latest.get(raw[_ASSET])
        if old is None or (old[_AT], old[_ID]) <= order:
            self.latest[raw[_ASSET]] = raw
        seq = raw[_SEQ]
        if seq is not None:
            old = self.by_seq.get(seq)
            if old is None or (old[_AT], old[_ID]) <= order:
                self.by_seq[seq] = raw


def _selected(v: Raw) -> Raw:
    """A row as the store selects it, from its :func:`encode_row` values (id 0: not
    inserted yet; it is the newest row anyway)."""
    return (
        0, v[0], v[5], v[4], v[6], v[7], v[8],
        v[9], v[10], v[11], v[3], v[12], v[13],
        v[14], v[16], v[17], v[1],
    )  # fmt: skip


def lookup_keys(ref: str, root: Path) -> tuple[str, ...]:
    """The names a look-up of ``ref`` may be answered under: its root-relative name, its
    sequence key, and the ref itself as an asset id or version key (no ``/`` in it)."""
    rel = normalise_ref(ref, root)
    return _keys(ref, rel, sequence_key(rel))


def _keys(ref: str, rel: str, seq: str | None) -> tuple[str, ...]:
    text = ref.strip()
    if text and "/" not in text and text != rel:
        return (rel, text) if seq is None else (rel, seq, text)
    return (rel,) if seq is None else (rel, seq)


def _walked(raw: Raw | None) -> tuple[Any, ...] | None:
    return None if raw is None else tuple(raw[i] for i in _WALKED)


class Recorded:
    """The names under which rows recorded in this process can be found, and when (how many
    rows were recorded before): what a walk made earlier — in a ``scan --jobs`` worker,
    whose view was read before, or earlier in the run — may not have seen."""

    __slots__ = ("count", "names", "versions")

    def __init__(self) -> None:
        #: rows noted so far: a walk made when ``count`` was N saw the first N
        self.count = 0
        self.names: dict[str, int] = {}  # name → the count after its latest row
        #: the versions recorded, by their first 12 digits (lower case), with that count
        self.versions: dict[str, list[tuple[str, int]]] = {}

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, values: Raw) -> None:
        """Note a row as :func:`encode_row` encoded it."""
        asset, seq, asset_id, version = values[0], values[1], values[3], values[4]
        self.count = count = self.count + 1
        names = self.names
        names[asset] = count
        if seq is not None:
            names[seq] = count
        if asset_id is not None:
            names[asset_id] = count
        self.versions.setdefault(version[:12].lower(), []).append((version.lower(), count))

    def clear(self) -> None:
        self.count = 0
        self.names.clear()
        self.versions.clear()

    def touches(self, lookup: Lookup, since: int = 0) -> bool:
        """May a row noted here after the first ``since`` answer ``lookup`` now (under one
        of its names)?"""
        names = self.names
        for key in lookup[1]:
            if names.get(key, 0) > since:
                return True
            # a version key (12+ hex digits): any recorded one it begins; a name with a
            # folder in it never is, and is most of what walks look up
            if "/" not in key and _HEX.fullmatch(key) is not None:
                prefix = key.lower()
                for version, count in self.versions.get(prefix[:12], ()):
                    if count > since and version.startswith(prefix):
                        return True
        return False


#: what a commit that fails raises (the store locked past the busy timeout, a full disk)
_WRITE_ERRORS = (sqlite3.Error, OSError, LineageError)


def _not_recorded(store: LineageStore, rows: int, exc: BaseException) -> None:
    _log.warning(
        "lineage: %d row(s) not recorded in %s (%s): the next scan of those assets records them",
        rows,
        store.path,
        exc,
    )


def _commit_left(store: LineageStore, buffer: list[Raw], pid: int) -> None:
    """Commit rows nobody flushed (the index was dropped, or the interpreter is exiting)."""
    if not buffer or os.getpid() != pid:  # a forked child never writes its parent's rows
        return
    try:
        store.commit_encoded(list(buffer))
        buffer.clear()
    except Exception as exc:  # best effort: at exit there is nobody left to tell but the log
        _not_recorded(store, len(buffer), exc)


class RunIndex:
    """The lineage store as one run sees it (see the module docstring).

    Thread-safe. Made by :class:`~clearance.lineage.LineagePlugin` once per run and process.

    :param store: the open store.
    :param flush_rows: commit when this many rows are buffered.
    :param max_cached: drop the view past this many rows read.
    """

    def __init__(
        self, store: LineageStore, *, flush_rows: int = FLUSH_ROWS, max_cached: int = MAX_CACHED
    ) -> None:
        self.store = store
        self.flush_rows = flush_rows
        self.max_cached = max_cached
        self._lock = threading.RLock()
        self._host_pid = current_host_pid()
        self._folders: dict[str, _Folder] = {}
        self._cached = 0
        self._ids: dict[str, Raw | None] = {}  # x-asset-id → its latest row (or none)
        #: (ref, root) → the row found, and the look-up as a walk notes it
        self._found: dict[tuple[str, Path], tuple[AssetRow | None, Lookup]] = {}
        #: (ref, root) → its name, sequence key and look-up keys: what a ref names changes
        #: only with a link on its way (``_found``, which a recorded row clears, is made
        #: again from it; both forgotten at each flush: :meth:`forget_names`)
        self._named: dict[tuple[str, Path], tuple[str, str | None, tuple[str, ...]]] = {}
        #: version keys looked up in the store, by their first 12 digits (lower case): key →
        #: the row found, or None (a miss, remembered until a row it may name is recorded)
        self._versions: dict[str, dict[str, AssetRow | None]] = {}
        #: the first 12 digits of the versions of the rows buffered (not committed yet)
        self._unflushed: set[str] = set()
        self._journal: list[Lookup] | None = None  # where ancestry() notes its look-ups
        #: folder → rows it had when last read whole; kept when the view is dropped
        self._sizes: dict[str, int] = {}
        self._texts: dict[str, Any] = {}  # JSON text → decoded value (shared, never mutated)
        self._seen: int | None = None  # lineage generation the view is current with
        self._newest: float | None = None  # the store's newest audited_at, once asked
        #: a row carries a stage checker's finding (None: not asked of the store yet)
        self._checks: bool | None = None
        self._run_newest = 0.0  # the newest audited_at this index recorded
        self._stage: str | None = None
        #: another process's lock on the store was said on stderr (said once a run)
        self.said_locked = False
        # rows as encode_row made them; mutated in place, never rebound: the finaliser
        # commits what is left in it
        self._buffer: list[Raw] = []
        #: the assets of the buffered rows, by (asset, stage, version) (see _on_disk)
        self._assets: dict[tuple[str, str, str], Asset] = {}
        #: the lineage generation after this index's last commit (None: none yet: the
        #: first commit looks at every row), and whether another process has committed
        #: rows between two of its commits (then every commit looks at them)
        self._since: int | None = None
        self._contended = False
        self._finalizer = weakref.finalize(self, _commit_left, store, self._buffer, os.getpid())

    @property
    def buffered(self) -> int:
        """Rows recorded but not committed yet."""
        return len(self._buffer)

    # -- writing ----------------------------------------------------------------------------
    def record(self, row: AssetRow, asset: Asset | None = None) -> Raw:
        """Record ``row`` (visible to this index at once; committed by the next flush);
        returns it as :func:`encode_row` encoded it. ``asset``: the asset it is the audit
        of (see :meth:`record_encoded`)."""
        values = encode_row(row, self._host_pid)
        self.record_encoded(values, asset)
        return values

    def record_encoded(self, values: Raw, asset: Asset | None = None) -> None:
        """Record a row :func:`encode_row` encoded (``scan --jobs``: in a worker process, with
        this index's ``host_pid``). ``asset``: the asset it is the audit of, whose files the
        commit looks at again if another process recorded another version of it meanwhile
        (:meth:`LineageStore.commit_encoded`)."""
        raw = _selected(values)
        with self._lock:
            if asset is not None:
                self._assets[(values[0], values[5], values[4])] = asset
            if raw[_AT] > self._run_newest:
                self._run_newest = raw[_AT]
            if self._stage is None:
                self._stage = raw[2]  # the stage being audited: no refresh for its next asset
            self._folder(raw[1]).add(raw)
            self._cached += 1
            if raw[10] is not None:
                self._ids[raw[10]] = raw
            if self._found:
                self._found.clear()
            head = raw[_VERSION][:12].lower()
            self._versions.pop(head, None)  # a look-up it may answer is made again
            self._unflushed.add(head)
            self._buffer.append(values)
            if STAGE_CHECK_TEXT in values[10]:
                self._checks = True
            if len(self._buffer) % self.flush_rows == 0:  # a failed commit: again 1 batch later
                self.flush_or_keep()

    def flush(self) -> int:
        """Commit the buffered rows in one transaction; then, if another connection committed
        since the view was read, forget it. Returns the number of rows committed."""
        with self._lock:
            written = self._commit()
            if self._seen is not None and self.store.generation() != self._seen:
                self._forget()  # another process recorded lineage rows since
            if not self.store._ready:  # the tables appeared since (another process made them)
                self.store._check_schema(False)
            return written

    def flush_or_keep(self) -> None:
        """:meth:`flush`; a commit that fails keeps the rows buffered for the next one, with a
        warning on stderr. Lineage is derived data: a store it cannot write never stops a run.

        Another process's lock held past the busy timeout (a ``sqlite3`` shell left in a
        transaction, a watcher's long batch, a stuck NFS lock) is said once: the store stops
        waiting for it (:meth:`LineageStore.stop_waiting`), so later commits are tried at once
        and the rest of the run is not held up again. Any other failure (a full disk) is said
        at each commit."""
        try:
            self.flush()
        except _WRITE_ERRORS as exc:
            store = self.store
            if store.locked is None:
                _log.warning(
                    "lineage: %d row(s) not recorded yet in %s (kept for the next flush): %s",
                    len(self._buffer),
                    store.path,
                    exc,
                )
            elif not self.said_locked:
                self.said_locked = True
                _log.warning(
                    "lineage: cannot write %s: another process holds its write lock (%s); "
                    "%d row(s) not recorded yet. This run waits for that lock no more: the rows "
                    "are kept and committed by a later flush if the store is free by then, and "
                    "any still not recorded when the run ends are counted then",
                    store.path,
                    store.locked,
                    len(self._buffer),
                )

    def enter_stage(self, stage: str) -> None:
        """Called with each asset's stage: the first asset of another stage refreshes the view
        (a ``scan --jobs`` worker then sees what the parent recorded for earlier stages)."""
        if stage != self._stage:
            with self._lock:
                self._stage = stage
                self.flush_or_keep()  # reading goes on; rows not committed stay buffered

    def close(self) -> None:
        """Commit what is buffered and close the store; rows that cannot be committed are
        counted on stderr (not raised: the next scan records them)."""
        with self._lock:
            try:
                self._commit()
            except _WRITE_ERRORS as exc:
                _not_recorded(self.store, len(self._buffer), exc)
                self._buffer.clear()
            self._finalizer.detach()
            self.store.close()

    def _commit(self) -> int:
        values = list(self._buffer)
        if values:
            since = self._since
            generation = self.store.commit_encoded(
                values, since=None if self._contended else since, on_disk=self._on_disk
            )
            if since is not None and generation != since + 1:
                # another process recorded rows since this run began: from now on, each
                # commit looks at the rows it would hide (they may be of versions this run
                # read before they changed)
                self._contended = True
            self._since = generation
            del self._buffer[: len(values)]
            for row in values:
                self._assets.pop((row[0], row[5], row[4]), None)
            if not self._buffer:
                self._unflushed.clear()
            if self._seen is not None and generation == self._seen + 1:
                self._seen = generation  # only our own commit: the view is still current
        return len(values)

    def _on_disk(self, values: Raw) -> str | None:
        """The version on disk now of the asset a buffered row is the audit of (None: not
        known: recorded without its asset, or a file of it gone)."""
        asset = self._assets.get((values[0], values[5], values[4]))
        if asset is None:
            return None
        fresh = copy.copy(asset)
        fresh.stats = None  # stat'ed now, not as the audit saw them
        return version_key(fresh)

    def _forget(self) -> None:
        """Drop what was read (the buffer must be committed: its rows are read again)."""
        self._folders.clear()
        self._cached = 0
        self._ids.clear()
        self._found.clear()
        self._versions.clear()
        self._seen = None
        self._newest = None
        self._checks = None

    # -- reading ----------------------------------------------------------------------------
    def exact(self, asset: str, stage: str, version: str) -> AssetRow | None:
        """The row of exactly this version of ``asset`` audited in ``stage``, if recorded."""
        with self._lock:
            raw = self._folder(asset).by_key.get((asset, stage))
            if raw is None:
                return None  # never recorded in this stage
            if raw[_VERSION] == version:
                return AssetRow.from_sql(raw, self._loads)
            self._mark()
            return self.store.exact(asset, stage, version)  # an older version (rare)

    def latest_in_stage(self, asset: str, stage: str) -> AssetRow | None:
        """The latest row of ``asset`` audited in ``stage`` (committed, or recorded by this
        run), if any."""
        with self._lock:
            raw = self._folder(asset).by_key.get((asset, stage))
            return None if raw is None else AssetRow.from_sql(raw, self._loads)

    def stage_checks(self, asset: str, stage: str) -> list[dict[str, Any]]:
        """The stage checkers' findings (marked :data:`~.rows.STAGE_CHECK`) that the latest
        row of ``asset`` in ``stage`` carries: none for most rows, told from the findings'
        JSON text without decoding it."""
        with self._lock:
            raw = self._folder(asset).by_key.get((asset, stage))
            if raw is None or STAGE_CHECK_TEXT not in raw[_FINDINGS]:
                return []
            found = self._loads(raw[_FINDINGS])
        if not isinstance(found, list):
            return []
        return [f for f in found if isinstance(f, dict) and f.get(STAGE_CHECK) is True]

    def has_stage_checks(self) -> bool:
        """Does a row of the store, or one recorded by this run, carry a stage checker's
        finding? (Asked of the store once per view; False for a store that never had one.)"""
        checks = self._checks
        if checks is None:
            with self._lock:
                self._mark()
                checks = self._checks = self.store.has_stage_checks()
        return checks

    def is_latest(self, asset: str, stage: str, version: str) -> bool:
        """Is this version of ``asset`` audited in ``stage`` the latest row recorded under its
        name (in any stage): what a ref to the name finds?"""
        with self._lock:
            raw = self._folder(asset).latest.get(asset)
            return raw is not None and raw[_STAGE] == stage and raw[_VERSION] == version

    def newest(self) -> float:
        """The newest ``audited_at`` of any row, committed or recorded by this run (asked of
        the store once per view: only a capped ancestry summary needs it)."""
        with self._lock:
            if self._newest is None:
                self._mark()
                self._newest = self.store.newest()
            return max(self._newest, self._run_newest)

    def forget_names(self) -> None:
        """Forget what refs were found to name (:meth:`lookup`): a ref through a link names
        what the link names now (:func:`~clearance.lineage.refs.forget_links`)."""
        with self._lock:
            self._named.clear()
            self._found.clear()

    def find(self, ref: str, root: Path) -> AssetRow | None:
        """The latest audit of what ``ref`` names, as :meth:`LineageStore.find` resolves it."""
        return self.lookup(ref, root)[0]

    def lookup(self, ref: str, root: Path) -> tuple[AssetRow | None, Lookup]:
        """:meth:`find`, and the look-up as a walk notes it (see :data:`Lookup`)."""
        key = (ref, root)
        with self._lock:
            found = self._found.get(key)
            if found is None:
                found = self._resolve(key)
                if len(self._found) >= _MEMO:
                    self._found.clear()
                self._found[key] = found
            if self._journal is not None:
                self._journal.append(found[1])
            return found

    def ancestry(
        self,
        inputs: Iterable[dict[str, Any]],
        root: Path,
        *,
        start: str | None = None,
        max_depth: int = MAX_DEPTH,
        shallow: bool = False,
        consulted: list[Lookup] | None = None,
    ) -> dict[str, Any]:
        """:meth:`LineageStore.ancestry`, answered from this index.

        :param consulted: where to note every look-up the walk makes (``scan --jobs``).
        """
        with self._lock:
            self._journal = consulted
            try:
                return walk(self, inputs, root, start=start, max_depth=max_depth, shallow=shallow)
            finally:
                self._journal = None

    def _resolve(self, key: tuple[str, Path]) -> tuple[AssetRow | None, Lookup]:
        named = self._named.get(key)
        ref = key[0]
        if named is None:
            rel = normalise_ref(ref, key[1])
            seq = sequence_key(rel)
            named = (rel, seq, _keys(ref, rel, seq))
            if len(self._named) >= _MEMO:
                self._named.clear()
            self._named[key] = named
        rel, seq, keys = named
        raw = self._resolve_raw(ref, rel, seq)
        if isinstance(raw, AssetRow):  # a version key, from the store
            return raw, (ref, keys, _walked(_selected(encode_row(raw, ""))))
        row = AssetRow.from_sql(raw, self._loads) if raw is not None else None
        return row, (ref, keys, _walked(raw))

    def _resolve_raw(self, ref: str, rel: str, seq: str | None) -> Raw | AssetRow | None:
        folder = self._folder(rel)
        raw = folder.latest.get(rel)
        if raw is None and seq is not None:
            raw = folder.by_seq.get(seq)
        if raw is not None:
            return raw
        text = ref.strip()
        if not text or "/" in text:
            return None
        if text in self._ids:
            raw = self._ids[text]
            if raw is not None:
                return raw
        else:
            if len(self._ids) >= _MEMO:
                self._commit()  # the rows of this run stay findable, in the store
                self._ids.clear()
            self._mark()
            raws = self.store.rows_with_asset_id(text)
            self._ids[text] = raw = raws[-1] if raws else None
            if raw is not None:
                return raw
        if len(text) < 12 or _HEX.fullmatch(text) is None:
            return None
        key = text.lower()
        found = self._versions.get(key[:12])
        if found is not None and key in found:
            return found[key]  # looked up before, nothing it may name recorded since
        if key[:12] in self._unflushed:
            self._commit()  # a row of this run it may name: the store answers with it
        self._mark()
        row = self.store.by_version_key(text)
        if found is None:
            if len(self._versions) >= _MEMO:
                self._versions.clear()
            found = self._versions[key[:12]] = {}
        found[key] = row
        return row

    def _folder(self, rel: str) -> _Folder:
        """The folder view holding ``rel``'s rows, read from the store if not read yet: one
        name at a time at first (a ``check`` of one asset, a few refs into a big plate
        folder), the whole folder once :data:`BULK_AFTER` names were asked (a scan)."""
        name, slash, _ = rel.rpartition("/")
        folder = self._folders.get(name)
        if folder is not None and (folder.names is None or rel in folder.names):
            return folder
        if self._cached > self.max_cached:
            self._commit()
            self._forget()
            folder = None
        self._mark()
        if folder is None:
            folder = self._folders[name] = _Folder(set())
        names = folder.names
        assert names is not None
        if slash and name and len(names) >= max(BULK_AFTER, self._sizes.get(name, 0) // REREAD):
            raws = self.store.rows_in_folder(name)
            if len(self._sizes) >= _MEMO:
                self._sizes.clear()
            self._sizes[name] = len(raws)
            whole = _Folder(None)
            for raw in raws:  # oldest first
                whole.add(raw)
            for raw in folder.by_key.values():
                if raw[_ID] == 0:  # recorded in this run: perhaps not committed yet
                    whole.add(raw)
            self._folders[name] = folder = whole
        else:  # the root of the show is never read whole: only by name
            raws = self.store.rows_named(rel)
            for raw in raws:
                folder.add(raw)
            names.add(rel)
        self._cached += len(raws)
        return folder

    def _loads(self, text: str) -> Any:
        """``json.loads``, memoised: many rows carry the same findings, inputs or summary."""
        if len(text) > _MEMO_TEXT:
            return decode_column(text)
        try:
            return self._texts[text]
        except KeyError:
            pass
        if len(self._texts) >= _MEMO:
            self._texts.clear()
        value = self._texts[text] = decode_column(text)
        return value

    def _mark(self) -> None:
        """Note the store's lineage generation before the first read of a fresh view."""
        if self._seen is None:
            self._seen = self.store.generation()
