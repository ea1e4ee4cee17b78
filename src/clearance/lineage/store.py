"""The lineage store: the ``lineage_*`` tables of the state store, and their rows.

One row per audited *version* of an asset (``lineage_assets``); the tables' own schema
version is kept in ``lineage_meta`` (key ``schema``) and upgraded in place. SQLite in WAL
mode with the state store's busy timeout (:data:`clearance.state.BUSY_TIMEOUT`): several
processes record into one file at once. Another process's lock held past it is waited for once:
the store then stops waiting (:meth:`LineageStore.stop_waiting`). A row and its encoding live
in ``rows``, ancestry walks in ``ancestry``, a run's in-memory view and write buffer in
``index``.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from .. import state
from ..state import enter_wal, is_lock_error
from .ancestry import MAX_DEPTH, MAX_LISTED, iter_tree, walk
from .refs import normalise_ref, sequence_key
from .rows import (
    COLUMNS,
    STAGE_CHECK_TEXT,
    UPSERT,
    AssetRow,
    current_host_pid,
    encode_row,
    stamped,
)

__all__ = [
    "AssetRow",
    "LineageError",
    "LineageStore",
    "MAX_DEPTH",
    "MAX_LISTED",
    "SCHEMA_VERSION",
    "create_lineage_tables",
    "iter_tree",
]

#: Version of the ``lineage_*`` tables, kept in ``lineage_meta`` (key ``schema``).
#: 1: the table; 2: ``ancestry`` (each row's GenAI ancestry summary, so a walk stops there);
#: 3: an index of version keys (``lower(version)``: a ref of 12+ hex digits is a range on it).
SCHEMA_VERSION = 3


class LineageError(Exception):
    """The lineage store cannot be opened, or was written by a newer Clearance.

    :ivar locked: because another process held a lock on it past the busy timeout.
    """

    def __init__(self, message: str, *, locked: bool = False) -> None:
        super().__init__(message)
        self.locked = locked


_SCHEMA = """
CREATE TABLE IF NOT EXISTS lineage_meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS lineage_assets (
    id          INTEGER PRIMARY KEY,
    asset       TEXT    NOT NULL,
    seq_key     TEXT,
    name_key    TEXT    NOT NULL,
    asset_id    TEXT,
    version     TEXT    NOT NULL,
    stage       TEXT    NOT NULL,
    frames      TEXT,
    generated   INTEGER,
    source_type TEXT,
    outcome     TEXT    NOT NULL,
    findings    TEXT    NOT NULL,
    inputs      TEXT    NOT NULL,
    production  TEXT,
    shot        TEXT,
    run_id      TEXT,
    host_pid    TEXT,
    audited_at  REAL    NOT NULL,
    ancestry    TEXT,
    UNIQUE (asset, stage, version)
);
CREATE INDEX IF NOT EXISTS lineage_assets_seq ON lineage_assets (seq_key, audited_at)
    WHERE seq_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS lineage_assets_id ON lineage_assets (asset_id) WHERE asset_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS lineage_assets_version ON lineage_assets (lower(version))
"""


def create_lineage_tables(db: sqlite3.Connection) -> None:
    """Create or upgrade the ``lineage_*`` tables (idempotent: usable as a state-store migration)."""
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            db.execute(statement)
    db.execute(
        "INSERT OR IGNORE INTO lineage_meta (key, value) VALUES ('schema', ?)",
        (str(SCHEMA_VERSION),),
    )
    version = int(db.execute("SELECT value FROM lineage_meta WHERE key='schema'").fetchone()[0])
    if version < 2:
        columns = {row[1] for row in db.execute("PRAGMA table_info(lineage_assets)")}
        if "ancestry" not in columns:
            db.execute("ALTER TABLE lineage_assets ADD COLUMN ancestry TEXT")
    if version < SCHEMA_VERSION:
        db.execute("UPDATE lineage_meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))


def _hiding(
    db: sqlite3.Connection, values: Sequence[tuple[Any, ...]], since: int | None
) -> dict[int, tuple[str, float]]:
    """The rows of ``values`` (encoded rows about to be committed) that would become the
    latest under their name over a row of another version, by position: that row's version
    and ``audited_at``. Nothing when no other process has committed lineage rows since
    generation ``since`` (None: maybe one did): one statement then, else one per 500 rows.

    Two processes audit one file while it changes (a farm scan reads ``gen/g.exr``, the
    artist re-renders it, its post-task ``check`` records the new version; then the scan
    commits what it read): the row committed last, of the version no longer on disk, would be
    the latest under the name, and what was made from the file would inherit the ancestry of
    the version it replaced (:meth:`LineageStore.commit_encoded`)."""
    if since is not None:
        found = db.execute(_GENERATION).fetchall()
        if (int(found[0][0]) if found else 0) == since:
            return {}  # nobody else recorded a row since: nothing to hide
    names = list(dict.fromkeys(row[0] for row in values))
    latest: dict[str, tuple[float, int, str]] = {}
    for first in range(0, len(names), 500):
        chunk = names[first : first + 500]
        marks = ",".join("?" * len(chunk))
        for asset, version, at, row_id in db.execute(
            f"SELECT asset, version, audited_at, id FROM lineage_assets WHERE asset IN ({marks})",
            chunk,
        ):
            known = latest.get(asset)
            if known is None or (known[0], known[1]) < (at, row_id):
                latest[asset] = (at, row_id, version)
    hiding: dict[int, tuple[str, float]] = {}
    for i, row in enumerate(values):
        known = latest.get(row[0])
        if known is not None and known[2] != row[4] and known[0] < row[16]:
            hiding[i] = (known[2], known[0])
    return hiding


_BUMP_GENERATION = (
    "INSERT INTO lineage_meta (key, value) VALUES ('generation', '1') "
    "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1"
)
_GENERATION = "SELECT CAST(value AS INTEGER) FROM lineage_meta WHERE key = 'generation'"
#: Set once a row carrying a stage checker's finding was recorded (never unset): a store
#: without it has none, and a scan of a whole stage has none to look for (rows.STAGE_CHECK).
_MARK_STAGE_CHECKS = (
    "INSERT INTO lineage_meta (key, value) VALUES ('stage_checks', '1') ON CONFLICT(key) DO NOTHING"
)
_STAGE_CHECKS = "SELECT 1 FROM lineage_meta WHERE key = 'stage_checks'"


class LineageStore:
    """The ``lineage_*`` tables of one state-store file.

    :param path: the state store (``policy.state_path``).
    :param create: create the file and tables when missing; with ``False`` a missing file
        raises :class:`LineageError` and missing tables read as an empty store.
    :param busy_timeout: seconds to wait for another process's lock (default
        :data:`clearance.state.BUSY_TIMEOUT`; 0: fail at once, for a run that waited once).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        create: bool = True,
        busy_timeout: float | None = None,
    ) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            if os.path.lexists(self.path):  # a folder, a link to nothing: not "run scan"
                from ..discover import not_a_file

                what = not_a_file(self.path)
                raise LineageError(
                    f"the state store {self.path} {what} (audit.state must name a file, "
                    "which a scan creates)"
                )
            raise LineageError(f"no state store at {self.path} (run 'clearance scan' first)")
        wait = state.BUSY_TIMEOUT if busy_timeout is None else busy_timeout
        #: seconds a statement waits for another process's lock (0 once :meth:`stop_waiting`)
        self.busy_timeout = wait
        #: why this store stopped waiting for locks ("database is locked"), or None
        self.locked: str | None = None
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), timeout=wait, isolation_level=None, check_same_thread=False
            )
            self._db.execute(f"PRAGMA busy_timeout={int(wait * 1000)}")
            mode = enter_wal(self._db, wait=wait)
            # lineage is derived data (the audit log is the record): a commit need not fsync
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise LineageError(
                f"cannot open the state store {self.path}: {exc}", locked=is_lock_error(exc)
            ) from None
        self.journal_mode = str(mode)
        self._lock = threading.RLock()
        self._ready = False
        self._names: dict[str, list[AssetRow]] | None = None
        try:
            self._check_schema(create)
        except sqlite3.Error as exc:
            self._db.close()
            raise LineageError(f"{self.path}: {exc}", locked=is_lock_error(exc)) from None

    @contextmanager
    def _access(self) -> Iterator[sqlite3.Connection]:
        """The connection, held for one statement or transaction. Another process's lock
        held past the busy timeout is waited for once per store: it then stops waiting."""
        with self._lock:
            try:
                yield self._db
            except sqlite3.OperationalError as exc:
                if is_lock_error(exc):
                    self.stop_waiting(str(exc))
                raise

    def stop_waiting(self, reason: str) -> None:
        """From now on a lock another process holds fails at once ("database is locked")
        instead of being waited for: a run waits for a stuck lock (a ``sqlite3`` shell left
        in a transaction, a stale NFS lock) once, not at every stage or commit."""
        with self._lock:
            if self.locked is None:
                self.locked = reason
            self.busy_timeout = 0.0
            with suppress(sqlite3.Error):
                self._db.execute("PRAGMA busy_timeout=0")

    def _check_schema(self, create: bool) -> None:
        with self._access():
            exists = self._db.execute(
                "SELECT 1 FROM sqlite_master WHERE type='table' AND name='lineage_meta'"
            ).fetchone()
            if exists is None and not create:
                return
            row = None
            if exists is not None:
                row = self._db.execute(
                    "SELECT value FROM lineage_meta WHERE key='schema'"
                ).fetchone()
            if row is None or int(row[0]) < SCHEMA_VERSION:
                self._db.execute("BEGIN IMMEDIATE")  # create or upgrade, one process at a time
                try:
                    create_lineage_tables(self._db)
                    self._db.execute("COMMIT")
                except BaseException:
                    state.rollback(self._db)
                    raise
                row = self._db.execute(
                    "SELECT value FROM lineage_meta WHERE key='schema'"
                ).fetchone()
            version = int(row[0]) if row is not None else 0
            if version > SCHEMA_VERSION:
                raise LineageError(
                    f"{self.path}: lineage schema version {version} is newer than this Clearance "
                    f"knows ({SCHEMA_VERSION}); upgrade Clearance"
                )
            self._ready = True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writing ----------------------------------------------------------------------------
    def record(
        self,
        *,
        asset: str,
        version: str,
        stage: str,
        frames: str | None,
        generated: bool | None,
        source_type: str | None,
        outcome: str,
        findings: list[dict[str, Any]],
        inputs: list[dict[str, Any]],
        asset_id: str | None = None,
        production: str | None = None,
        shot: str | None = None,
        run_id: str | None = None,
        ancestry: dict[str, Any] | None = None,
    ) -> None:
        """Record one audit (a re-audit of the same version updates its row)."""
        row = AssetRow(
            0, asset, stage, version, frames, generated, source_type, outcome, findings, inputs,
            asset_id, production, shot, run_id, time.time(), ancestry,
        )  # fmt: skip
        self.commit_encoded([encode_row(row, current_host_pid())])

    def record_many(self, rows: Sequence[AssetRow]) -> None:
        """Record several audits in one transaction (each row keeps its own ``audited_at``).

        All or nothing: on an error nothing is written and the error is raised.
        """
        host_pid = current_host_pid()
        self.commit_encoded([encode_row(row, host_pid) for row in rows])

    def commit_encoded(
        self,
        values: Sequence[tuple[Any, ...]],
        *,
        since: int | None = None,
        on_disk: Callable[[tuple[Any, ...]], str | None] | None = None,
    ) -> int:
        """Record rows as :func:`encode_row` made them, in one transaction (all or nothing).

        Returns the lineage generation after the commit (see :meth:`generation`).

        ``on_disk`` (a run's rows): the version of a row's asset on disk now (None: not
        known). When another process has recorded lineage rows since generation ``since``
        (None: whatever it is), a row that would become the latest under its name over a
        row of another version, which is the version on disk now, is recorded below that
        row instead (:func:`_hiding`): its process read the file before it changed,
        and the row of the version on disk stays what a ref to the name finds.
        """
        if not values:
            return self.generation()
        disk: dict[int, str | None] = {}  # the version on disk of a row's asset, by position
        with self._access():
            while True:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    if on_disk is not None:
                        hiding = _hiding(self._db, values, since)
                        if any(i not in disk for i in hiding):
                            # the files are stat'ed without the write lock (a share that
                            # stalls would hold every other process's writes), then again
                            self._db.execute("ROLLBACK")
                            disk.update((i, on_disk(values[i])) for i in hiding if i not in disk)
                            continue
                        values = [
                            stamped(row, math.nextafter(hiding[i][1], -math.inf))
                            if i in hiding and disk[i] == hiding[i][0]
                            else row
                            for i, row in enumerate(values)
                        ]
                    self._db.executemany(UPSERT, values)
                    if any(STAGE_CHECK_TEXT in v[10] for v in values):
                        self._db.execute(_MARK_STAGE_CHECKS)
                    self._db.execute(_BUMP_GENERATION)
                    found = self._db.execute(_GENERATION).fetchone()
                    self._db.execute("COMMIT")
                except BaseException:
                    state.rollback(self._db)
                    raise
                break
        return int(found[0]) if found else 0

    def generation(self) -> int:
        """A counter every commit of lineage rows increments (in ``lineage_meta``): unlike
        SQLite's ``data_version``, commits to other tables of the state store (the watcher's
        ledger, the provenance cache) leave it alone. 0 before the first commit."""
        if not self._ready:
            self._check_schema(False)  # another process may have made the tables since
            if not self._ready:
                return 0
        with self._access():
            found = self._db.execute(_GENERATION).fetchone()
        return int(found[0]) if found else 0

    def has_stage_checks(self) -> bool:
        """Was a row carrying a stage checker's finding ever recorded here?"""
        if not self._ready:
            return False
        with self._access():
            return self._db.execute(_STAGE_CHECKS).fetchone() is not None

    # -- reading ----------------------------------------------------------------------------
    def _one(self, where: str, params: Sequence[Any]) -> AssetRow | None:
        if not self._ready:
            return None
        with self._access():
            row = self._db.execute(
                f"SELECT {COLUMNS} FROM lineage_assets WHERE {where} "
                "ORDER BY audited_at DESC, id DESC LIMIT 1",
                params,
            ).fetchone()
        return AssetRow.from_sql(row) if row is not None else None

    def latest(self, asset: str) -> AssetRow | None:
        """The latest audit of the asset recorded as exactly ``asset``."""
        return self._one("asset=?", (asset,))

    def find(self, ref: str, root: Path) -> AssetRow | None:
        """The latest audit of what ``ref`` names (path, sequence, asset id or version key)."""
        rel = normalise_ref(ref, root)
        row = self.latest(rel)
        if row is not None:
            return row
        key = sequence_key(rel)
        if key is not None:
            row = self._one("seq_key=?", (key,))
            if row is not None:
                return row
        text = ref.strip()
        if text and "/" not in text:
            row = self.by_asset_id(text)
            if row is None:
                row = self.by_version_key(text)
        return row

    def by_asset_id(self, asset_id: str) -> AssetRow | None:
        """The latest audit of the asset whose sidecar says ``x-asset-id: asset_id``."""
        return self._one("asset_id=?", (asset_id,))

    def by_version_key(self, text: str) -> AssetRow | None:
        """The latest audit whose version key starts with ``text`` (12+ hex digits)."""
        if len(text) < 12 or not re.fullmatch(r"[0-9a-fA-F]+", text):
            return None
        # what ``version LIKE 'text%'`` says (ASCII case ignored), as a range on an index
        low = text.lower()
        high = low[:-1] + chr(ord(low[-1]) + 1)
        return self._one("lower(version) >= ? AND lower(version) < ?", (low, high))

    def exact(self, asset: str, stage: str, version: str) -> AssetRow | None:
        """The row of exactly this version of ``asset`` audited in ``stage``, if recorded."""
        return self._one("asset=? AND stage=? AND version=?", (asset, stage, version))

    def find_by_name(self, name: str) -> list[AssetRow]:
        """Latest audits of every asset whose bare name is ``name`` (EDL clip/reel matching).

        The first call reads every name once (a timeline asks for many; a scan never does).
        """
        if not self._ready:
            return []
        if self._names is None:
            with self._access():
                rows = self._db.execute(
                    f"SELECT name_key, {COLUMNS} FROM lineage_assets "
                    "ORDER BY audited_at DESC, id DESC"
                ).fetchall()
            names: dict[str, dict[str, AssetRow]] = {}
            for raw in rows:
                item = AssetRow.from_sql(raw[1:])
                names.setdefault(raw[0], {}).setdefault(item.asset, item)
            self._names = {key: list(found.values()) for key, found in names.items()}
        return self._names.get(name, [])

    def rows_in_folder(self, folder: str) -> list[tuple[Any, ...]]:
        """Every row of the assets directly in ``folder`` (``comp/sh010``; no subfolders),
        oldest first, as selected (``COLUMNS``, then ``seq_key``): one indexed range query."""
        if not self._ready:
            return []
        prefix = f"{folder}/"
        with self._access():
            return self._db.execute(
                f"SELECT {COLUMNS}, seq_key FROM lineage_assets "
                "WHERE asset >= ? AND asset < ? AND instr(substr(asset, ?), '/') = 0 "
                "ORDER BY audited_at, id",
                (prefix, f"{folder}0", len(prefix) + 1),  # '0' sorts right after '/'
            ).fetchall()

    def rows_named(self, asset: str) -> list[tuple[Any, ...]]:
        """Every row recorded as ``asset`` or as a frame token of the same sequence, oldest
        first, as :meth:`rows_in_folder` selects them."""
        if not self._ready:
            return []
        key = sequence_key(asset)
        with self._access():
            return self._db.execute(
                f"SELECT {COLUMNS}, seq_key FROM lineage_assets "
                "WHERE asset = ? OR (seq_key IS NOT NULL AND seq_key = ?) "
                "ORDER BY audited_at, id",
                (asset, key),
            ).fetchall()

    def rows_with_asset_id(self, asset_id: str) -> list[tuple[Any, ...]]:
        """Every row whose sidecar said ``x-asset-id: asset_id``, oldest first, as
        :meth:`rows_in_folder` selects them."""
        if not self._ready:
            return []
        with self._access():
            return self._db.execute(
                f"SELECT {COLUMNS}, seq_key FROM lineage_assets WHERE asset_id = ? "
                "ORDER BY audited_at, id",
                (asset_id,),
            ).fetchall()

    def data_version(self) -> int:  # kept for callers; the index uses generation()
        """SQLite's ``data_version``: changes when another connection commits to the file."""
        with self._access():
            return int(self._db.execute("PRAGMA data_version").fetchone()[0])

    def newest(self) -> float:
        """The newest ``audited_at`` of any row (0 for an empty store)."""
        if not self._ready:
            return 0.0
        with self._access():
            found = self._db.execute("SELECT max(audited_at) FROM lineage_assets").fetchone()
        return float(found[0]) if found and found[0] is not None else 0.0

    def count(self) -> int:
        if not self._ready:
            return 0
        with self._access():
            return int(self._db.execute("SELECT COUNT(*) FROM lineage_assets").fetchone()[0])

    def ancestry(
        self,
        inputs: Iterable[dict[str, Any]],
        root: Path,
        *,
        start: str | None = None,
        max_depth: int = MAX_DEPTH,
        shallow: bool = False,
    ) -> dict[str, Any]:
        """The GenAI ancestry of ``inputs`` (an asset's declared inputs), transitively.

        :param start: the asset whose inputs these are (a path back to it is a cycle).
        :param shallow: stop at each input whose row carries its own ancestry summary and use
            that (what the reader does: one lookup per direct input); else walk every
            generation (``clearance lineage``, the timeline audit).
        :return: the ``ancestry`` record key: ``genai`` (every GenAI ancestor: ``ref``,
            ``asset``, ``depth``, ``via`` the direct input it came through, ``stage``, source
            type, and ``declared`` when only the input class says so), ``unknown`` (ancestors
            whose ``generated`` is unknown), ``unresolved`` (refs the store does not know),
            ``assets`` (every ancestor found), ``cycle``, ``truncated``, ``depth``, ``tree``.
        """
        return walk(self, inputs, root, start=start, max_depth=max_depth, shallow=shallow)
