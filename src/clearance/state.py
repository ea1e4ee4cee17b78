"""The state store: one SQLite file (``.clearance/state.db``) in WAL mode.

Today it holds the watcher's **ledger**: which version of which file was audited, under
which audit. Other concerns (lineage of audited assets, a provenance cache) add their tables
through :data:`MIGRATIONS` — append a function, never edit one that has shipped: the
schema version is ``PRAGMA user_version`` = the number of migrations applied.

The ledger
----------
``files``: one row per *file version*, keyed on its identity and version
``(path, dev, ino, size, mtime_ns, ctime_ns)`` (unique; the ctime too, as ``scan``'s
provenance cache and lineage keys have it: a file rewritten in place with its mtime put back
is a new version). A version moves through
``seen → settling → audited | error | vanished | superseded``; only ``audited`` means "the
latest audit of this path covers it": a ``superseded`` version that comes back onto disk (an
older render moved back) settles and is audited again. ``incomplete`` says what a version
lacked when the watcher audited it anyway (damaged, or never finished): every later audit
that covers the version repeats it.

``audits``: one row per audit of an asset (a single file or a whole frame sequence), with
the sidecar and the detached C2PA manifest versions it read. Its ``audit_id`` is
deterministic (a hash of the asset name, every file version and the sidecar version; see
:func:`clearance.watch_audit.audit_id_for`) and is also written in the ``asset.audited``
event (``details.watch.audit_id``).
An audit is recorded *before* it runs (``state='auditing'``, the intent) and marked
``audited`` after its events are durable in the audit log; a crash in between is settled at
start-up by looking the id up in the audit log (:meth:`StateStore.intents`).

All writes go through one connection guarded by a lock, so the store may be shared by the
watcher's threads. Every commit is durable (``synchronous=FULL``).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

__all__ = [
    "MIGRATIONS",
    "FileVersion",
    "stat_version",
    "stat_fingerprint",
    "AuditRow",
    "AuditIntent",
    "StateStore",
    "StateError",
    "FILE_STATES",
]

T = TypeVar("T")

FILE_STATES = ("seen", "settling", "audited", "error", "vanished", "superseded")


#: Seconds a write waits for another process's write lock (a watcher's batch, a scan's
#: cache rows) before it fails with "database is locked".
BUSY_TIMEOUT = 30.0


class StateError(Exception):
    """The state store cannot be opened or is newer than this version of Clearance."""


def _v1_ledger(db: sqlite3.Connection) -> None:
    states = ",".join(f"'{s}'" for s in FILE_STATES)
    _script(
        db,
        f"""
        CREATE TABLE files (
            id        INTEGER PRIMARY KEY,
            path      TEXT    NOT NULL,
            dev       INTEGER NOT NULL,
            ino       INTEGER NOT NULL,
            size      INTEGER NOT NULL,
            mtime_ns  INTEGER NOT NULL,
            sha256    TEXT,
            state     TEXT    NOT NULL CHECK (state IN ({states})),
            audit_id  TEXT,
            updated   REAL    NOT NULL,
            UNIQUE (path, dev, ino, size, mtime_ns)
        );
        CREATE INDEX files_path ON files (path);
        CREATE INDEX files_state ON files (state) WHERE state IN ('seen', 'settling');
        CREATE TABLE audits (
            audit_id    TEXT PRIMARY KEY,
            asset       TEXT NOT NULL,
            stage       TEXT,
            state       TEXT NOT NULL CHECK (state IN ('auditing', 'audited', 'error', 'superseded')),
            reason      TEXT,
            pairing     TEXT,
            sidecar     TEXT,
            sidecar_fp  TEXT,
            supersedes  TEXT,
            files       INTEGER,
            frames      TEXT,
            outcome     TEXT,
            settled_at  REAL,
            started_at  REAL,
            finished_at REAL,
            error       TEXT
        );
        CREATE INDEX audits_asset ON audits (asset);
        CREATE INDEX audits_sidecar ON audits (sidecar) WHERE sidecar IS NOT NULL;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        """,
    )


def _script(db: sqlite3.Connection, sql: str) -> None:
    # not executescript(): it commits first, and a migration must stay one transaction
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


#: Schema migrations, in order. ``MIGRATIONS[i]`` brings ``user_version`` from i to i + 1.
#: Append only; a migration runs inside one transaction with the version bump.
def _v2_provenance_cache(db: sqlite3.Connection) -> None:
    from .cache import migrate_provenance_cache

    migrate_provenance_cache(db)


def _v3_lineage(db: sqlite3.Connection) -> None:
    from .lineage import create_lineage_tables

    create_lineage_tables(db)


def _v4_detached_manifest(db: sqlite3.Connection) -> None:
    # the detached C2PA manifest each audit read (NAME.EXT.c2pa, NAME.c2pa, a sequence's
    # PREFIX.c2pa: c2pa.manifest_names), and its version
    # ("-": none was there; NULL: not recorded, an audit by an older Clearance)
    _script(
        db,
        """
        ALTER TABLE audits ADD COLUMN manifest TEXT;
        ALTER TABLE audits ADD COLUMN manifest_fp TEXT;
        CREATE INDEX audits_manifest ON audits (manifest) WHERE manifest IS NOT NULL;
        """,
    )


def _v5_incomplete_files(db: sqlite3.Connection) -> None:
    # what a file version lacked when the watcher stopped waiting for it and audited it as it
    # was (NULL: complete, or not checked)
    _script(db, "ALTER TABLE files ADD COLUMN incomplete TEXT")


def _v6_file_ctime(db: sqlite3.Connection) -> None:
    # a file version is keyed on its ctime too (a rewrite in place that puts the mtime back
    # is a new version); SQLite cannot change a table's UNIQUE constraint, so the table is
    # made anew. Rows recorded before have ctime_ns -1, which no file has: each file is
    # looked at again once after the upgrade (docs/watch.md, *State*)
    states = ",".join(f"'{s}'" for s in FILE_STATES)
    columns = "id, path, dev, ino, size, mtime_ns, sha256, state, audit_id, updated, incomplete"
    _script(
        db,
        f"""
        CREATE TABLE files_v6 (
            id         INTEGER PRIMARY KEY,
            path       TEXT    NOT NULL,
            dev        INTEGER NOT NULL,
            ino        INTEGER NOT NULL,
            size       INTEGER NOT NULL,
            mtime_ns   INTEGER NOT NULL,
            ctime_ns   INTEGER NOT NULL,
            sha256     TEXT,
            state      TEXT    NOT NULL CHECK (state IN ({states})),
            audit_id   TEXT,
            updated    REAL    NOT NULL,
            incomplete TEXT,
            UNIQUE (path, dev, ino, size, mtime_ns, ctime_ns)
        );
        INSERT INTO files_v6 ({columns}, ctime_ns) SELECT {columns}, -1 FROM files;
        DROP TABLE files;
        ALTER TABLE files_v6 RENAME TO files;
        CREATE INDEX files_path ON files (path);
        CREATE INDEX files_state ON files (state) WHERE state IN ('seen', 'settling');
        """,
    )


def _v7_lineage_waits(db: sqlite3.Connection) -> None:
    # the declared inputs an audit's ancestry waited for (not audited yet when it was read):
    # the asset is audited again once one of them is (docs/watch.md, *Lineage*)
    _script(
        db,
        """
        CREATE TABLE IF NOT EXISTS audit_waits (
            audit_id TEXT NOT NULL,
            input    TEXT NOT NULL,
            looked   REAL NOT NULL,
            PRIMARY KEY (audit_id, input)
        );
        CREATE INDEX IF NOT EXISTS audit_waits_input ON audit_waits (input);
        """,
    )


def _v8_audit_owner(db: sqlite3.Connection) -> None:
    # the process that claimed an audit (state 'auditing'): a second watcher sharing the
    # ledger never audits the same version while the first is (docs/watch.md, *State*)
    if "owner" not in {row[1] for row in db.execute("PRAGMA table_info(audits)")}:
        _script(db, "ALTER TABLE audits ADD COLUMN owner TEXT")


def _v9_lineage_absent(db: sqlite3.Connection) -> None:
    # the declared inputs an audit's ancestry found not on disk (unresolved, as scan finds
    # them) that the watcher would audit once they are: keyed as an asset audited later under
    # that name is (lineage.pending.input_key), the asset is audited again once one of them is
    # (docs/watch.md, *Lineage*). Apart from audit_waits, which is read whole after each batch
    # while any audit waits: an input that never appears stays here, looked up by name only
    _script(
        db,
        """
        CREATE TABLE IF NOT EXISTS audit_absent (
            audit_id TEXT NOT NULL,
            input    TEXT NOT NULL,
            looked   REAL NOT NULL,
            PRIMARY KEY (audit_id, input)
        );
        CREATE INDEX IF NOT EXISTS audit_absent_input ON audit_absent (input);
        """,
    )


def process_token(pid: int | None = None) -> str:
    """``host:pid:start`` of a process (``start``: its start time in clock ticks since boot,
    from ``/proc``, so that a recycled pid is another process; empty where unknown)."""
    import socket

    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def _start_time(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def claim_alive(owner: str | None, me: str) -> bool:
    """Is the claim of ``owner`` held by a live process other than ``me``? A claim without an
    owner (an older Clearance), or of a process that is gone, is not: it is taken over, as
    crash recovery does. A process on another host cannot be looked at: its claim holds."""
    if not owner or owner == me:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != me.partition(":")[0]:
        return True
    try:
        pid = int(pid_text)
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (ValueError, OverflowError):
        return False
    except PermissionError:
        pass  # alive, another user's
    return not start or _start_time(pid) == start


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [
    _v1_ledger,
    _v2_provenance_cache,
    _v3_lineage,
    _v4_detached_manifest,
    _v5_incomplete_files,
    _v6_file_ctime,
    _v7_lineage_waits,
    _v8_audit_owner,
    _v9_lineage_absent,
]


#: what tells one version of a file from another: ``(dev, ino, size, mtime_ns, ctime_ns)``
StatVersion = tuple[int, int, int, int, int]
VersionKey = tuple[str, int, int, int, int, int]


def stat_version(st: os.stat_result) -> StatVersion:
    """The version of the file ``st`` describes: its identity (dev, ino) and version (size,
    mtime, ctime). The ctime too, as ``scan``'s provenance cache and lineage keys have it: a
    rewrite in place that puts the mtime back (``cp -p``, ``rsync -t``) moves it on."""
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def stat_fingerprint(st: os.stat_result) -> str:
    """:func:`stat_version` as the ledger records a sidecar's or a manifest's version:
    ``dev:ino:size:mtime_ns:ctime_ns``."""
    return ":".join(map(str, stat_version(st)))


@dataclass(frozen=True)
class FileVersion:
    """One version of one file: identity (path, dev, ino) and version (size, mtime_ns,
    ctime_ns; see :func:`stat_version`)."""

    path: str
    dev: int
    ino: int
    size: int
    mtime_ns: int
    ctime_ns: int

    @classmethod
    def of(cls, path: str, st: os.stat_result) -> FileVersion:
        return cls(path, *stat_version(st))

    @property
    def key(self) -> VersionKey:
        return (self.path, self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns)

    @property
    def stat(self) -> StatVersion:
        """The version without its path, as :func:`stat_version` gives it."""
        return (self.dev, self.ino, self.size, self.mtime_ns, self.ctime_ns)

    def token(self) -> str:
        """A compact string of the version, for hashing into audit ids."""
        return f"{self.path}\0{self.dev}:{self.ino}:{self.size}:{self.mtime_ns}:{self.ctime_ns}"


@dataclass
class AuditRow:
    audit_id: str
    asset: str
    state: str
    reason: str | None
    pairing: str | None
    sidecar: str | None
    sidecar_fp: str | None
    supersedes: str | None
    outcome: str | None
    settled_at: float | None
    finished_at: float | None
    #: the detached C2PA manifest read and its version (``"-"``: none; None: not recorded)
    manifest: str | None = None
    manifest_fp: str | None = None
    #: the frames of a sequence it covered (``1001-1003,1005``; None: a single file)
    frames: str | None = None


@dataclass(frozen=True)
class AuditIntent:
    """What :meth:`StateStore.begin_audits` records for one audit."""

    audit_id: str
    asset: str
    stage: str
    reason: str
    pairing: str
    sidecar: str | None
    sidecar_fp: str | None
    supersedes: str | None
    frames: str | None
    files: Sequence[tuple[FileVersion, str | None]]
    settled_at: float
    #: the detached C2PA manifest the audit reads and its version (``"-"``: none there)
    manifest: str | None = None
    manifest_fp: str | None = None
    #: what files of it lack, by path (the watcher stopped waiting for them): recorded with
    #: their versions, so that a later audit covering them says so again
    incomplete: Mapping[str, str] = field(default_factory=dict)


def _chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """``values`` in slices of at most ``size`` (SQLite's limit on ``?`` per statement)."""
    for first in range(0, len(values), size):
        yield values[first : first + size]


_AUDIT_COLUMNS = (
    "audit_id, asset, state, reason, pairing, sidecar, sidecar_fp, supersedes, outcome, "
    "settled_at, finished_at, manifest, manifest_fp, frames"
)


#: the statements that mark an audit's events durable (:meth:`StateStore.finish_audit`, one
#: audit; :meth:`StateStore.finish_audits`, a batch)
_AUDITED = "UPDATE audits SET state='audited', outcome=?, finished_at=? WHERE audit_id=?"
_SUPERSEDE_AUDITS = (
    "UPDATE audits SET state='superseded' WHERE asset=? AND audit_id<>? AND state='audited'"
)
_SUPERSEDE_FILES = (
    "UPDATE files SET state='superseded', updated=? WHERE path=? AND state='audited' "
    "AND NOT (dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?)"
)
#: an audit finished after a later one of its asset (claimed after it by another process
#: sharing the ledger, of files it found newer) was finished: it does not supersede that one,
#: it is superseded by it, and so are those of its file versions that one does not cover
_NEWER_AUDITED = (
    "SELECT 1 FROM audits WHERE asset=? AND audit_id<>? AND state='audited' AND started_at>? "
    "LIMIT 1"
)
_SUPERSEDED = "UPDATE audits SET state='superseded', outcome=?, finished_at=? WHERE audit_id=?"
_FILE_SUPERSEDED = (
    "UPDATE files SET state='superseded', updated=? WHERE audit_id=? AND state<>'audited' "
    "AND path=? AND dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?"
)
_FILE_AUDITED = (
    "UPDATE files SET state='audited', audit_id=?, updated=? "
    "WHERE path=? AND dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?"
)


def rollback(db: sqlite3.Connection) -> None:
    """Roll back the write transaction a failed statement leaves open. SQLite has rolled it
    back itself after some failures (a full disk: ``SQLITE_FULL``; an I/O error), and a
    ``ROLLBACK`` then fails with "cannot rollback - no transaction is active", which would
    replace the error that says what went wrong: the caller re-raises that one."""
    if db.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            db.execute("ROLLBACK")


def write_error(path: str | os.PathLike[str], exc: BaseException) -> str:
    """What a failed write of the state store at ``path`` says to the user: the file, and for
    SQLite's "database or disk is full" whether its disk is (how much is left on it)."""
    text = f"cannot write the state store {path}: {exc}"
    if getattr(exc, "sqlite_errorname", None) == "SQLITE_FULL" or "disk is full" in str(exc):
        try:
            free = os.statvfs(os.path.dirname(os.path.abspath(path)))
        except (OSError, AttributeError):  # no statvfs (Windows): SQLite's words alone
            return text
        left = free.f_bavail * free.f_frsize
        if left < _FULL_DISK_BYTES:
            text = f"cannot write the state store {path}: no space left on its disk ({left // 1024} KiB free)"
    return text


#: Free space below which a "database or disk is full" is the disk's (the other cause is a
#: ``max_page_count``, which Clearance never sets).
_FULL_DISK_BYTES = 1024 * 1024


def is_lock_error(exc: BaseException) -> bool:
    """Is ``exc`` SQLite's "database is locked" (another connection holds a lock this one
    needs, past the busy timeout, or at once where SQLite does not wait for it)?"""
    text = str(exc)
    return isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text)


def enter_wal(db: sqlite3.Connection, *, wait: float = 30.0) -> str:
    """Put ``db`` in WAL mode, waiting up to ``wait`` seconds for other processes doing the
    same; the journal mode SQLite reports (``"wal"``, or another where WAL is unsupported).

    Switching a fresh file to WAL takes an exclusive lock. When several processes open the
    same new store at once (a watcher and ``scan --jobs`` workers), SQLite answers all but one
    with "database is locked" at once rather than calling the busy handler (waiting there
    could deadlock two readers that both want to write), so the switch is retried here.
    """
    deadline = time.monotonic() + wait
    pause = 0.001
    while True:
        try:
            return str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if not is_lock_error(exc):
                raise
            if time.monotonic() >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


#: How a ``str`` that UTF-8 cannot encode is stored (a file name that is not UTF-8 reaches
#: Python with lone surrogates, ``os.fsdecode``): this prefix (a NUL, which no path holds) and
#: the hex of its bytes; read back as the same ``str``, so the ledger keys it like any other.
_RAW = "\x00raw:"


def _to_db(value: object) -> object:
    if type(value) is str and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return _RAW + value.encode("utf-8", "surrogatepass").hex()
    return value


def _params(params: Any) -> Any:
    if isinstance(params, (tuple, list)):
        return tuple(_to_db(v) for v in params)
    return params


def _from_db(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:  # a damaged cell: an SQLite error, as without this hook
        raise sqlite3.DataError(f"a text value that is not UTF-8: {exc}") from None
    if text.startswith(_RAW):
        return bytes.fromhex(text[len(_RAW) :]).decode("utf-8", "surrogatepass")
    return text


class _Connection(sqlite3.Connection):
    """A connection that stores and reads back any ``str`` (see :data:`_RAW`)."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _params(parameters))

    def executemany(self, sql: str, seq_of_parameters: Any, /) -> sqlite3.Cursor:
        return super().executemany(sql, (_params(p) for p in seq_of_parameters))


class StateStore:
    """The SQLite state store at ``path`` (created with its folder; migrated on open)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path),
                timeout=BUSY_TIMEOUT,
                isolation_level=None,
                check_same_thread=False,
                factory=_Connection,
            )
            self._db.text_factory = _from_db
            self._db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
            self._db.execute("PRAGMA synchronous=FULL")
            enter_wal(self._db, wait=BUSY_TIMEOUT)
        except (OSError, sqlite3.Error) as exc:
            raise StateError(f"cannot open the state store {self.path}: {exc}") from None
        self._lock = threading.RLock()
        self._depth = 0
        #: who claims the audits this store begins (:meth:`begin_audits`)
        self.owner = process_token()
        try:
            self._migrate()
        except BaseException as exc:
            self._db.close()
            if isinstance(exc, sqlite3.Error):  # locked past the busy timeout, damaged, ...
                raise StateError(f"cannot open the state store {self.path}: {exc}") from None
            raise

    # -- plumbing -------------------------------------------------------------------------
    def _migrate(self) -> None:
        # A store already at this version needs no write lock: opening it must not wait for
        # another process's long write transaction (a watcher's batch, a sqlite3 shell left
        # in BEGIN), whose readers WAL never blocks.
        if self._db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS):
            return
        # Else the version is read again inside the write lock: two processes opening a
        # fresh store at once (scan --jobs, a watcher and a scan) must not both run
        # migration 1.
        with self._lock:
            while True:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    version = self._db.execute("PRAGMA user_version").fetchone()[0]
                    if version > len(MIGRATIONS):
                        raise StateError(
                            f"{self.path}: schema version {version} is newer than this Clearance "
                            f"knows ({len(MIGRATIONS)}); upgrade Clearance"
                        )
                    if version == len(MIGRATIONS):
                        self._db.execute("COMMIT")
                        return
                    MIGRATIONS[version](self._db)
                    self._db.execute(f"PRAGMA user_version={version + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    rollback(self._db)
                    raise

    @property
    def schema_version(self) -> int:
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), rolled back on error.

        Nested blocks join the outermost transaction (one commit, one fsync for a batch).
        """
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield self._db
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield self._db
            except BaseException:
                self._depth = 0
                rollback(self._db)
                raise
            self._depth = 0
            self._db.execute("COMMIT")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:  # type: ignore[type-arg]
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def stop_waiting(self) -> None:
        """From now on a lock another process holds fails at once ("database is locked")
        instead of being waited for :data:`BUSY_TIMEOUT`: for a run that already waited for
        it once, in vain (lineage's commit)."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._db.execute("PRAGMA busy_timeout=0")

    # -- file versions ----------------------------------------------------------------------
    def is_audited(self, version: FileVersion) -> bool:
        """Is exactly this version of this file the one the latest audit of its path covers
        (audited, or recorded as identical)? A version superseded since is not."""
        rows = self.query(
            "SELECT 1 FROM files WHERE path=? AND dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=? "
            "AND state='audited' LIMIT 1",
            version.key,
        )
        return bool(rows)

    def last_audited(self, path: str) -> tuple[FileVersion, str | None, str | None] | None:
        """The newest audited version of ``path``: (version, sha256, audit_id), or None."""
        rows = self.query(
            "SELECT path, dev, ino, size, mtime_ns, ctime_ns, sha256, audit_id FROM files "
            "WHERE path=? AND state='audited' ORDER BY updated DESC, id DESC LIMIT 1",
            (path,),
        )
        if not rows:
            return None
        *version, sha, audit_id = rows[0]
        return FileVersion(*version), sha, audit_id

    def mark(self, versions: Iterable[FileVersion], state: str) -> None:
        """Record versions as ``seen``/``settling``/``vanished``/``error`` (never downgrades an
        audited one, nor makes an ``error`` one pending: a refused one, see
        :meth:`mark_refused`, stays refused; a superseded one is on disk again: it is pending
        like a new one)."""
        if state not in FILE_STATES:
            raise ValueError(f"unknown file state {state!r}")
        now = time.time()
        with self.transaction() as db:
            for v in versions:
                db.execute(
                    "INSERT INTO files (path, dev, ino, size, mtime_ns, ctime_ns, state, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (path, dev, ino, size, mtime_ns, ctime_ns) "
                    "DO UPDATE SET state=excluded.state, updated=excluded.updated "
                    "WHERE files.state <> 'audited' "
                    "AND NOT (files.state = 'error' AND excluded.state IN ('seen', 'settling'))",
                    (*v.key, state, now),
                )

    def mark_refused(self, versions: Iterable[FileVersion]) -> bool:
        """Record versions as ``error``, audited ones too: they are not audited (any more)
        under their name, which another asset keeps. True if any was not ``error`` yet (its
        refusal is news)."""
        now = time.time()
        news = False
        with self.transaction() as db:
            for v in versions:
                row = db.execute(
                    "SELECT state FROM files "
                    "WHERE path=? AND dev=? AND ino=? AND size=? AND mtime_ns=? AND ctime_ns=?",
                    v.key,
                ).fetchone()
                if row is not None and row[0] == "error":
                    continue
                news = True
                db.execute(
                    "INSERT INTO files (path, dev, ino, size, mtime_ns, ctime_ns, state, updated) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'error', ?) ON CONFLICT "
                    "(path, dev, ino, size, mtime_ns, ctime_ns) DO UPDATE SET state='error', "
                    "updated=excluded.updated",
                    (*v.key, now),
                )
        return news

    def mark_path_vanished(self, path: str) -> None:
        """A file that was seen but never audited is gone."""
        with self.transaction() as db:
            db.execute(
                "UPDATE files SET state='vanished', updated=? WHERE path=? AND state IN ('seen', 'settling')",
                (time.time(), path),
            )

    def unfinished(self) -> list[str]:
        """Paths recorded as seen/settling (pending when the watcher last stopped)."""
        return [
            r[0]
            for r in self.query(
                "SELECT DISTINCT path FROM files WHERE state IN ('seen', 'settling')"
            )
        ]

    # -- audits -----------------------------------------------------------------------------
    def begin_audit(
        self,
        audit_id: str,
        *,
        asset: str,
        stage: str,
        reason: str,
        pairing: str,
        sidecar: str | None,
        sidecar_fp: str | None,
        supersedes: str | None,
        frames: str | None,
        files: Sequence[tuple[FileVersion, str | None]],
        settled_at: float,
        manifest: str | None = None,
        manifest_fp: str | None = None,
    ) -> None:
        """Record the intent to audit (before any event is written)."""
        self.begin_audits(
            [
                AuditIntent(
                    audit_id,
                    asset,
                    stage,
                    reason,
                    pairing,
                    sidecar,
                    sidecar_fp,
                    supersedes,
                    frames,
                    files,
                    settled_at,
                    manifest,
                    manifest_fp,
                )
            ]
        )

    def begin_audits(
        self, intents: Sequence[AuditIntent], *, taken: set[str] | None = None
    ) -> set[str]:
        """:meth:`begin_audit` for many audits: three statements for all of them. Returns the
        ids *claimed*: an audit that another process sharing the ledger has finished, or is
        doing (its claim held by a live process), is not, and must not be audited here. The
        check and the claim are one write transaction, which SQLite serialises across
        processes: of two watchers that decided to audit one version, exactly one claims it.

        ``taken`` (if given) receives the claimed ids that were another process's claim,
        one that is gone (or of an older Clearance, without an owner): that process may have
        written the audit's events before it died, so the caller looks in the audit log
        before auditing them again, as crash recovery does."""
        now = time.time()
        me = self.owner
        with self.transaction() as db:
            held: set[str] = set()
            ids = [i.audit_id for i in intents]
            for chunk in _chunks(ids):
                marks = ",".join("?" * len(chunk))
                for audit_id, state, owner in db.execute(
                    f"SELECT audit_id, state, owner FROM audits WHERE audit_id IN ({marks}) "
                    "AND state IN ('audited', 'auditing')",
                    chunk,
                ).fetchall():
                    if state == "audited" or claim_alive(owner, me):
                        held.add(audit_id)
                    elif taken is not None and owner != me:
                        taken.add(audit_id)
            intents = [i for i in intents if i.audit_id not in held]
            db.executemany(
                "INSERT INTO audits (audit_id, asset, stage, state, reason, pairing, sidecar, "
                "sidecar_fp, supersedes, files, frames, settled_at, started_at, manifest, "
                "manifest_fp, owner) VALUES (?, ?, ?, 'auditing', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (audit_id) DO UPDATE SET state='auditing', started_at=excluded.started_at, "
                "manifest=excluded.manifest, manifest_fp=excluded.manifest_fp, owner=excluded.owner",
                [
                    (
                        i.audit_id,
                        i.asset,
                        i.stage,
                        i.reason,
                        i.pairing,
                        i.sidecar,
                        i.sidecar_fp,
                        i.supersedes,
                        len(i.files),
                        i.frames,
                        i.settled_at,
                        now,
                        i.manifest,
                        i.manifest_fp,
                        me,
                    )
                    for i in intents
                ],
            )
            db.executemany(
                "INSERT INTO files (path, dev, ino, size, mtime_ns, ctime_ns, sha256, state, audit_id, "
                "updated, incomplete) VALUES (?, ?, ?, ?, ?, ?, ?, 'settling', ?, ?, ?) "
                "ON CONFLICT (path, dev, ino, size, mtime_ns, ctime_ns) "
                "DO UPDATE SET sha256=excluded.sha256, updated=excluded.updated, "
                "audit_id=CASE WHEN files.state='audited' THEN files.audit_id ELSE excluded.audit_id END, "
                "incomplete=COALESCE(excluded.incomplete, files.incomplete), "
                "state=CASE WHEN files.state='audited' THEN 'audited' ELSE 'settling' END",
                [
                    (*v.key, sha, i.audit_id, now, i.incomplete.get(v.path))
                    for i in intents
                    for v, sha in i.files
                ],
            )
        return {i.audit_id for i in intents}

    def finish_audit(
        self, audit_id: str, *, outcome: str | None, files: Sequence[FileVersion]
    ) -> None:
        """The audit's events are durable: mark it and its file versions audited, older ones superseded."""
        now = time.time()
        with self.transaction() as db:
            row = db.execute(
                "SELECT asset, supersedes, started_at FROM audits WHERE audit_id=?", (audit_id,)
            ).fetchone()
            if (
                row is not None
                and db.execute(_NEWER_AUDITED, (row[0], audit_id, row[2])).fetchone()
            ):
                # another process (a second watcher) claimed a later audit of the asset, of
                # files it found newer, and finished it first: that one stays the latest
                db.execute(_SUPERSEDED, (outcome, now, audit_id))
                for v in files:
                    db.execute(_FILE_SUPERSEDED, (now, audit_id, *v.key))
                return
            db.execute(
                _AUDITED,
                (outcome, now, audit_id),
            )
            if row is not None:
                db.execute(
                    _SUPERSEDE_AUDITS,
                    (row[0], audit_id),
                )
            for v in files:
                db.execute(
                    _SUPERSEDE_FILES,
                    (now, *v.key),
                )
                db.execute(
                    _FILE_AUDITED,
                    (audit_id, now, *v.key),
                )

    def finish_audits(
        self, finished: Sequence[tuple[str, str | None, Sequence[FileVersion]]]
    ) -> None:
        """:meth:`finish_audit` for many ``(audit_id, outcome, files)``: four statements for
        all of them when no two share an asset or a file (else one audit after the other,
        because a later one supersedes an earlier one)."""
        paths = [v.path for _, _, files in finished for v in files]
        ids = [audit_id for audit_id, _, _ in finished]
        with self.transaction() as db:
            assets, newer = self._finishing(ids)
            if len(set(assets.values())) < len(ids) or len(set(paths)) < len(paths) or newer:
                for audit_id, outcome, files in finished:
                    self.finish_audit(audit_id, outcome=outcome, files=files)
                return
            now = time.time()
            db.executemany(
                _AUDITED,
                [(outcome, now, audit_id) for audit_id, outcome, _ in finished],
            )
            db.executemany(
                _SUPERSEDE_AUDITS,
                [(assets[audit_id], audit_id) for audit_id in ids if audit_id in assets],
            )
            versions = [(audit_id, v) for audit_id, _, files in finished for v in files]
            db.executemany(
                _SUPERSEDE_FILES,
                [(now, *v.key) for _, v in versions],
            )
            db.executemany(
                _FILE_AUDITED,
                [(audit_id, now, *v.key) for audit_id, v in versions],
            )

    def _finishing(self, audit_ids: Sequence[str]) -> tuple[dict[str, str], bool]:
        """The asset of each of ``audit_ids``, and whether any of them has an audit of its
        asset, audited, that was claimed after it (by another process sharing the ledger: see
        :data:`_NEWER_AUDITED`). One query per 500."""
        found: dict[str, str] = {}
        newer = False
        for chunk in _chunks(audit_ids):
            marks = ",".join("?" * len(chunk))
            for audit_id, asset, later in self._db.execute(
                "SELECT a.audit_id, a.asset, EXISTS (SELECT 1 FROM audits b WHERE "
                "b.asset=a.asset AND b.state='audited' AND b.audit_id<>a.audit_id AND "
                f"b.started_at>a.started_at) FROM audits a WHERE a.audit_id IN ({marks})",
                chunk,
            ):
                found[audit_id] = asset
                newer = newer or bool(later)
        return found, newer

    def record_waits(self, waits: Sequence[tuple[str, str, float]]) -> None:
        """``(audit_id, input, looked)``: the audit's ancestry, read after ``looked`` (wall
        clock), waited for the asset ``input`` (not audited yet). Audits that are no longer
        the latest of their asset forget theirs."""
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO audit_waits (audit_id, input, looked) VALUES (?, ?, ?)",
                waits,
            )
            db.execute(
                "DELETE FROM audit_waits WHERE audit_id IN (SELECT w.audit_id FROM audit_waits w "
                "JOIN audits a ON a.audit_id=w.audit_id WHERE a.state<>'audited')"
            )

    def lineage_due(
        self, gone: Callable[[str], bool] | None = None
    ) -> tuple[list[str], list[str], bool]:
        """The assets whose latest audit waited for an input audited since it looked (their
        ancestry can be complete now: audit them again), those of them that waited for an
        input ``gone``, and whether any latest audit still waits for an input at all. One
        query.

        ``gone(input)``, if given, is asked of each input still waited for (once each): true
        when the watcher will not audit it any more (deleted, moved out, or never one it
        audits). Its waiting assets are due too: their ancestry, read again, no longer waits
        for it (as ``scan``, which finds it missing); their next audit supersedes the one
        that waited, whose rows :meth:`record_waits` then forgets."""
        due: dict[str, None] = {}
        went: dict[str, None] = {}
        waiting = False
        asked: dict[str, bool] = {}
        for asset, name, ready in self.query(
            "SELECT a.asset, w.input, MAX(COALESCE(x.finished_at, 0) > w.looked) FROM audit_waits w "
            "JOIN audits a ON a.audit_id=w.audit_id AND a.state='audited' "
            "LEFT JOIN audits x ON x.asset=w.input AND x.state='audited' GROUP BY a.asset, w.input"
        ):
            waiting = True
            if ready:
                due[asset] = None
            elif gone is not None:
                left = asked.get(name)
                if left is None:
                    left = asked[name] = gone(name)
                if left:
                    due[asset] = went[asset] = None
        return list(due), list(went), waiting

    def record_absent(
        self, absent: Sequence[tuple[str, str, float]], assets: Sequence[str]
    ) -> list[str]:
        """``(audit_id, input, looked)``: the audit's ancestry, read after ``looked`` (wall
        clock), found the input keyed ``input`` (:func:`clearance.lineage.pending.input_key`)
        not on disk. The audits of ``assets`` (those just audited) that are no longer the
        latest forget theirs. Returns the assets of those audits whose input was audited
        since it looked (an audit that finished meanwhile: audit them again now). Indexed
        look-ups only: one per asset and one per input."""
        due: dict[str, None] = {}
        with self.transaction() as db:
            db.executemany(
                "INSERT OR IGNORE INTO audit_absent (audit_id, input, looked) VALUES (?, ?, ?)",
                absent,
            )
            for chunk in _chunks(list(dict.fromkeys(assets))):
                marks = ",".join("?" * len(chunk))
                db.execute(
                    "DELETE FROM audit_absent WHERE audit_id IN (SELECT audit_id FROM audits "
                    f"WHERE asset IN ({marks}) AND state<>'audited')",
                    chunk,
                )
            if absent:
                of = self._assets_of([audit_id for audit_id, _, _ in absent])
                finished: dict[str, float] = {}
                for audit_id, name, looked in absent:
                    if name not in finished:
                        finished[name] = self._finished(name)
                    if audit_id in of and finished[name] > looked:
                        due[of[audit_id]] = None
        return list(due)

    def _finished(self, key: str) -> float:
        """When the latest audit of an asset keyed ``key`` (:func:`~clearance.lineage.pending.
        input_key`) finished (0: never audited). A file: its name; a sequence
        ``dir/PREFIX.#.EXT``: the names ``dir/PREFIX.<frame token>.EXT`` (one range of the
        asset index)."""
        from .lineage.refs import sequence_key

        head, dot, _ext = key.rpartition(".#.")
        if not dot:
            rows = self.query(
                "SELECT MAX(finished_at) FROM audits WHERE asset=? AND state='audited'", (key,)
            )
            return float(rows[0][0] or 0.0)
        rows = self.query(
            "SELECT asset, finished_at FROM audits WHERE asset>=? AND asset<? AND state='audited'",
            (f"{head}.#", f"{head}.$"),  # "$" is the character after "#"
        )
        return max((at or 0.0 for asset, at in rows if sequence_key(asset) == key), default=0.0)

    def absent_due(self, keys: Iterable[str]) -> list[str]:
        """The assets whose latest audit found an input keyed one of ``keys`` not on disk
        (:meth:`record_absent`): those inputs were just audited. One indexed query per 500."""
        due: dict[str, None] = {}
        for chunk in _chunks(list(dict.fromkeys(keys))):
            marks = ",".join("?" * len(chunk))
            for (asset,) in self.query(
                "SELECT DISTINCT a.asset FROM audit_absent w JOIN audits a ON "
                f"a.audit_id=w.audit_id AND a.state='audited' WHERE w.input IN ({marks})",
                chunk,
            ):
                due[asset] = None
        return list(due)

    def absent_due_at_start(self) -> list[str]:
        """At start: the assets whose latest audit found an input not on disk that was
        audited since (by a watcher stopped before it audited them again); the rows of audits
        that are no longer the latest are forgotten. Reads the table once, and one indexed
        look-up per input."""
        with self.transaction() as db:
            db.execute(  # (one look-up of the audits' key per row)
                "DELETE FROM audit_absent WHERE NOT EXISTS (SELECT 1 FROM audits a WHERE "
                "a.audit_id=audit_absent.audit_id AND a.state='audited')"
            )
        due: dict[str, None] = {}
        finished: dict[str, float] = {}
        for asset, name, looked in self.query(
            "SELECT a.asset, w.input, w.looked FROM audit_absent w "
            "JOIN audits a ON a.audit_id=w.audit_id AND a.state='audited'"
        ):
            if name not in finished:
                finished[name] = self._finished(name)
            if finished[name] > looked:
                due[asset] = None
        return list(due)

    def _assets_of(self, audit_ids: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for chunk in _chunks(audit_ids):
            marks = ",".join("?" * len(chunk))
            found.update(
                self.query(f"SELECT audit_id, asset FROM audits WHERE audit_id IN ({marks})", chunk)
            )
        return found

    def fail_audit(self, audit_id: str, error: str) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE audits SET state='error', error=?, finished_at=? WHERE audit_id=?",
                (error, time.time(), audit_id),
            )
            db.execute(
                "UPDATE files SET state='error', updated=? WHERE audit_id=? AND state='settling'",
                (time.time(), audit_id),
            )

    def record_identical(
        self,
        audit_id: str,
        files: Sequence[tuple[FileVersion, str | None]],
        *,
        incomplete: Mapping[str, str] | None = None,
    ) -> None:
        """New versions whose content equals the audited one: covered by ``audit_id``, no new
        audit (``incomplete``: what files of them lack, by path, as for :class:`AuditIntent`)."""
        now = time.time()
        incomplete = incomplete or {}
        with self.transaction() as db:
            for version, sha in files:
                db.execute(
                    "UPDATE files SET state='superseded', updated=? WHERE path=? AND state='audited'",
                    (now, version.path),
                )
                db.execute(
                    "INSERT INTO files (path, dev, ino, size, mtime_ns, ctime_ns, sha256, state, audit_id, "
                    "updated, incomplete) VALUES (?, ?, ?, ?, ?, ?, ?, 'audited', ?, ?, ?) "
                    "ON CONFLICT (path, dev, ino, size, mtime_ns, ctime_ns) "
                    "DO UPDATE SET state='audited', audit_id=excluded.audit_id, "
                    "updated=excluded.updated, incomplete=excluded.incomplete",
                    (*version.key, sha, audit_id, now, incomplete.get(version.path)),
                )

    def intents(self) -> list[str]:
        """Audit ids recorded as started but never finished (a crash in between): not those a
        live process sharing the ledger holds (another watcher, auditing them now)."""
        me = self.owner
        return [
            audit_id
            for audit_id, owner in self.query(
                "SELECT audit_id, owner FROM audits WHERE state='auditing'"
            )
            if not claim_alive(owner, me)
        ]

    def files_of(self, audit_id: str) -> list[FileVersion]:
        rows = self.query(
            "SELECT path, dev, ino, size, mtime_ns, ctime_ns FROM files WHERE audit_id=?",
            (audit_id,),
        )
        return [FileVersion(*r) for r in rows]

    def abandon_audit(self, audit_id: str) -> None:
        """An intent whose events never reached the log: forget it (the files are audited again)."""
        with self.transaction() as db:
            db.execute("DELETE FROM audits WHERE audit_id=? AND state='auditing'", (audit_id,))
            db.execute(
                "UPDATE files SET state='seen', audit_id=NULL WHERE audit_id=? AND state='settling'",
                (audit_id,),
            )

    def latest_audit(self, asset: str) -> AuditRow | None:
        rows = self.query(
            f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE asset=? AND state IN ('audited', 'error') "
            "ORDER BY finished_at DESC LIMIT 1",
            (asset,),
        )
        return AuditRow(*rows[0]) if rows else None

    def audit(self, audit_id: str) -> AuditRow | None:
        rows = self.query(f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE audit_id=?", (audit_id,))
        return AuditRow(*rows[0]) if rows else None

    def latest_audits(self, assets: Iterable[str]) -> dict[str, AuditRow]:
        """:meth:`latest_audit` of many assets, in one query per 500."""
        found: dict[str, AuditRow] = {}
        for chunk in _chunks(list(dict.fromkeys(assets))):
            marks = ",".join("?" * len(chunk))
            for r in self.query(
                f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE asset IN ({marks}) "
                "AND state IN ('audited', 'error')",
                chunk,
            ):
                row = AuditRow(*r)
                best = found.get(row.asset)
                if best is None or (row.finished_at or 0.0) > (best.finished_at or 0.0):
                    found[row.asset] = row
        return found

    def audits_by_id(self, audit_ids: Iterable[str]) -> dict[str, AuditRow]:
        """:meth:`audit` of many ids, in one query per 500."""
        found: dict[str, AuditRow] = {}
        for chunk in _chunks(list(dict.fromkeys(audit_ids))):
            marks = ",".join("?" * len(chunk))
            for r in self.query(
                f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE audit_id IN ({marks})", chunk
            ):
                found[r[0]] = AuditRow(*r)
        return found

    def incomplete_versions(self, versions: Iterable[FileVersion]) -> dict[FileVersion, str]:
        """What those of ``versions`` that :meth:`is_audited` lacked when they were audited
        anyway (the ``incomplete`` of :class:`AuditIntent`), in one query per 500 paths;
        complete ones are left out."""
        versions = list(versions)
        found: dict[VersionKey, str] = {}
        for chunk in _chunks(list(dict.fromkeys(v.path for v in versions))):
            marks = ",".join("?" * len(chunk))
            for *key, missing in self.query(
                "SELECT path, dev, ino, size, mtime_ns, ctime_ns, incomplete FROM files WHERE path IN "
                f"({marks}) AND state='audited' AND incomplete IS NOT NULL",
                chunk,
            ):
                found[tuple(key)] = missing  # type: ignore[index]
        return {v: found[v.key] for v in versions if v.key in found}

    def audited_versions(self, versions: Iterable[FileVersion]) -> set[FileVersion]:
        """Those of ``versions`` that :meth:`is_audited`, in one query per 500 paths."""
        versions = list(versions)
        keys: set[VersionKey] = set()
        for chunk in _chunks(list(dict.fromkeys(v.path for v in versions))):
            marks = ",".join("?" * len(chunk))
            keys.update(
                self.query(
                    "SELECT path, dev, ino, size, mtime_ns, ctime_ns FROM files WHERE path IN "
                    f"({marks}) AND state='audited'",
                    chunk,
                )
            )
        return {v for v in versions if v.key in keys}

    def sidecar_current(self, sidecar: str, sidecar_fp: str) -> bool:
        """Is ``sidecar`` at version ``sidecar_fp`` the one the latest audit of its asset read?
        (A ``.c2pa`` name: a detached C2PA manifest.)"""
        column = "manifest" if sidecar.lower().endswith(".c2pa") else "sidecar"
        rows = self.query(
            f"SELECT 1 FROM audits WHERE {column}=? AND {column}_fp=? AND state='audited' LIMIT 1",
            (sidecar, sidecar_fp),
        )
        return bool(rows)

    def manifests_read(self, under: str) -> dict[str, list[tuple[str, str]]]:
        """The detached C2PA manifests that latest audits read in the folder ``under`` and
        below, in one query: ``{folder: [(manifest, manifest_fp)]}`` (an audit that read
        none, ``manifest_fp`` ``"-"``, is not among them)."""
        found: dict[str, list[tuple[str, str]]] = {}
        for manifest, fp in self.query(
            "SELECT manifest, manifest_fp FROM audits "
            "WHERE manifest IS NOT NULL AND manifest_fp IS NOT NULL AND state='audited'"
        ):
            folder = os.path.dirname(manifest)
            if folder == under or folder.startswith(under + "/"):
                found.setdefault(folder, []).append((manifest, fp))
        return found

    def frames_read(self) -> dict[str, str]:
        """The frames that the latest audit of each sequence covered, by asset name
        (``{"renders/sh.####.exr": "1001-1003"}``), in one query."""
        return dict(
            self.query(
                "SELECT asset, frames FROM audits WHERE frames IS NOT NULL AND state='audited'"
            )
        )

    def sidecars_read(self, folder: str) -> list[str]:
        """The YAML/JSON sidecars in ``folder`` (not below) that latest audits read: one
        query on the sidecar index, for the paths under ``folder`` whichever way they are
        stored (a name that is not UTF-8: :data:`_RAW`, whose hex keeps the folder's as its
        prefix)."""

        def raw(text: str) -> str:
            return _RAW + text.encode("utf-8", "surrogatepass").hex()

        low, high = folder + "/", folder + "0"  # "0" is the character after "/"
        rows = self.query(
            "SELECT DISTINCT sidecar FROM audits WHERE state='audited' AND "
            "((sidecar >= ? AND sidecar < ?) OR (sidecar >= ? AND sidecar < ?))",
            (low, high, raw(low), raw(high)),
        )
        return [sidecar for (sidecar,) in rows if os.path.dirname(sidecar) == folder]

    def audits(self, asset: str | None = None) -> list[AuditRow]:
        if asset is None:
            rows = self.query(f"SELECT {_AUDIT_COLUMNS} FROM audits ORDER BY started_at")
        else:
            rows = self.query(
                f"SELECT {_AUDIT_COLUMNS} FROM audits WHERE asset=? ORDER BY started_at", (asset,)
            )
        return [AuditRow(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of file versions per state (for ``watch.stats`` and tests)."""
        return {
            state: n for state, n in self.query("SELECT state, COUNT(*) FROM files GROUP BY state")
        }
