"""The lineage store: the ``lineage_*`` tables of the state store, and ancestry walks.

One row per audited *version* of an asset (``lineage_assets``); the tables' own schema
version is kept in ``lineage_meta`` (key ``schema``) and upgraded in place. SQLite in WAL
mode with a 30 s busy timeout: several processes record into one file at once.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .refs import is_genai, name_key, normalise_ref, sequence_key

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
#: 1: the table; 2: ``ancestry`` (each row's GenAI ancestry summary, so a walk stops there).
SCHEMA_VERSION = 2
#: How many generations of inputs an ancestry walk follows.
MAX_DEPTH = 32
#: How many ancestor names an ancestry summary keeps (``truncated`` beyond).
MAX_LISTED = 1000


class LineageError(Exception):
    """The lineage store cannot be opened, or was written by a newer Clearance."""


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
CREATE INDEX IF NOT EXISTS lineage_assets_id ON lineage_assets (asset_id) WHERE asset_id IS NOT NULL
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


_COLUMNS = (
    "id, asset, stage, version, frames, generated, source_type, outcome, findings, inputs, "
    "asset_id, production, shot, run_id, audited_at, ancestry"
)


@dataclass
class AssetRow:
    """One recorded audit of one version of an asset."""

    id: int
    asset: str
    stage: str
    version: str
    frames: str | None
    generated: bool | None
    source_type: str | None
    outcome: str
    findings: list[dict[str, Any]]
    inputs: list[dict[str, Any]]
    asset_id: str | None = None
    production: str | None = None
    shot: str | None = None
    run_id: str | None = None
    audited_at: float = 0.0
    #: the GenAI ancestry summary recorded with the row (no tree); None: not recorded
    ancestry: dict[str, Any] | None = None

    @classmethod
    def from_sql(cls, row: Sequence[Any]) -> AssetRow:
        (rid, asset, stage, version, frames, generated, source_type, outcome, findings, inputs,
         asset_id, production, shot, run_id, audited_at, ancestry) = row  # fmt: skip
        return cls(
            rid,
            asset,
            stage,
            version,
            frames,
            None if generated is None else bool(generated),
            source_type,
            outcome,
            json.loads(findings),
            json.loads(inputs),
            asset_id,
            production,
            shot,
            run_id,
            audited_at,
            json.loads(ancestry) if ancestry else None,
        )

    @property
    def genai(self) -> bool:
        return is_genai(self.generated, self.source_type)

    def same_verdict(self, other: AssetRow) -> bool:
        """Would recording ``other`` change nothing but the time and run id?"""
        fields = ("frames", "generated", "source_type", "outcome", "findings", "inputs",
                  "asset_id", "production", "shot", "ancestry")  # fmt: skip
        return all(getattr(self, f) == getattr(other, f) for f in fields)

    def summary(self) -> dict[str, Any]:
        """What a report shows of the asset (no tree)."""
        return {
            "asset": self.asset,
            "stage": self.stage,
            "frames": self.frames,
            "generated": self.generated,
            "source_type": self.source_type,
            "genai": self.genai,
            "outcome": self.outcome,
            "open_findings": self.findings,
            "version": self.version[:16],
            "audited_at": _iso(self.audited_at),
        }


def _wal(db: sqlite3.Connection) -> str:
    """Switch to WAL; a fresh file opened by several processes at once may answer "locked"
    to the switch without waiting for the busy timeout, so retry for a few seconds."""
    for attempt in range(50):
        try:
            return str(db.execute("PRAGMA journal_mode=WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    raise AssertionError("unreachable")


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


class LineageStore:
    """The ``lineage_*`` tables of one state-store file.

    :param path: the state store (``policy.state_path``).
    :param create: create the file and tables when missing; with ``False`` a missing file
        raises :class:`LineageError` and missing tables read as an empty store.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LineageError(f"no state store at {self.path} (run 'clearance scan' first)")
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                str(self.path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            self._db.execute("PRAGMA busy_timeout=30000")
            mode = _wal(self._db)
            # lineage is derived data (the audit log is the record): a commit need not fsync
            self._db.execute("PRAGMA synchronous=NORMAL")
        except (OSError, sqlite3.Error) as exc:
            raise LineageError(f"cannot open the state store {self.path}: {exc}") from None
        self.journal_mode = str(mode)
        self._lock = threading.RLock()
        self._ready = False
        self._names: dict[str, list[AssetRow]] | None = None
        try:
            self._check_schema(create)
        except sqlite3.Error as exc:
            raise LineageError(f"{self.path}: {exc}") from None

    def _check_schema(self, create: bool) -> None:
        with self._lock:
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
                    self._db.execute("ROLLBACK")
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
        values = (
            asset,
            sequence_key(asset),
            name_key(asset),
            asset_id,
            version,
            stage,
            frames,
            None if generated is None else int(generated),
            source_type,
            outcome,
            json.dumps(findings, ensure_ascii=False, separators=(",", ":")),
            json.dumps(inputs, ensure_ascii=False, separators=(",", ":")),
            production,
            shot,
            run_id,
            f"{os.uname().nodename if hasattr(os, 'uname') else ''}:{os.getpid()}",
            time.time(),
            None
            if ancestry is None
            else json.dumps(ancestry, ensure_ascii=False, separators=(",", ":")),
        )
        with self._lock:
            self._db.execute(
                "INSERT INTO lineage_assets (asset, seq_key, name_key, asset_id, version, stage, "
                "frames, generated, source_type, outcome, findings, inputs, production, shot, "
                "run_id, host_pid, audited_at, ancestry) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT (asset, stage, version) DO UPDATE SET asset_id=excluded.asset_id, "
                "frames=excluded.frames, generated=excluded.generated, "
                "source_type=excluded.source_type, outcome=excluded.outcome, "
                "findings=excluded.findings, inputs=excluded.inputs, "
                "production=excluded.production, shot=excluded.shot, run_id=excluded.run_id, "
                "host_pid=excluded.host_pid, audited_at=excluded.audited_at, ancestry=excluded.ancestry",
                values,
            )

    # -- reading ----------------------------------------------------------------------------
    def _one(self, where: str, params: Sequence[Any]) -> AssetRow | None:
        if not self._ready:
            return None
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM lineage_assets WHERE {where} "
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
            row = self._one("asset_id=?", (text,))
            if row is None and len(text) >= 12 and re.fullmatch(r"[0-9a-fA-F]+", text):
                row = self._one("version LIKE ?", (text.lower() + "%",))
        return row

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
            with self._lock:
                rows = self._db.execute(
                    f"SELECT name_key, {_COLUMNS} FROM lineage_assets "
                    "ORDER BY audited_at DESC, id DESC"
                ).fetchall()
            names: dict[str, dict[str, AssetRow]] = {}
            for raw in rows:
                item = AssetRow.from_sql(raw[1:])
                names.setdefault(raw[0], {}).setdefault(item.asset, item)
            self._names = {key: list(found.values()) for key, found in names.items()}
        return self._names.get(name, [])

    def count(self) -> int:
        if not self._ready:
            return 0
        with self._lock:
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
        walk = _Walk(self, root, max_depth, shallow=shallow)
        tree = walk.inputs(list(inputs), 1, [start] if start else [])
        return {
            "genai": walk.genai,
            "unknown": walk.unknown,
            "unresolved": walk.unresolved,
            "assets": walk.order[:MAX_LISTED],
            "cycle": walk.cycle,
            "truncated": walk.truncated or len(walk.order) > MAX_LISTED,
            "depth": walk.depth,
            "tree": tree,
        }


@dataclass
class _Walk:
    """One ancestry walk: every asset expanded once, the current path kept to name cycles."""

    store: LineageStore
    root: Path
    max_depth: int
    shallow: bool = False
    genai: list[dict[str, Any]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)
    cycle: bool = False
    truncated: bool = False
    depth: int = 0
    expanded: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)  # every ancestor, in the order found
    via: str = ""  # the direct input being walked

    def inputs(
        self, items: list[dict[str, Any]], depth: int, path: list[str]
    ) -> list[dict[str, Any]]:
        return [self.node(item, depth, path) for item in items if isinstance(item, dict)]

    def node(self, item: dict[str, Any], depth: int, path: list[str]) -> dict[str, Any]:
        ref = str(item.get("ref"))
        if depth == 1:
            self.via = ref
        declared = item.get("class")
        node: dict[str, Any] = {"ref": ref, "class": declared}
        self.depth = max(self.depth, depth)
        row = self.store.find(ref, self.root)
        if row is None:
            node["audited"] = False
            node["genai"] = declared == "generated"
            if ref not in self.unresolved:
                self.unresolved.append(ref)
            if node["genai"]:
                self._genai(ref, None, depth, declared=True)
            return node
        genai = row.genai or declared == "generated"
        node.update(
            audited=True,
            asset=row.asset,
            stage=row.stage,
            generated=row.generated,
            source_type=row.source_type,
            genai=genai,
            outcome=row.outcome,
        )
        if row.asset in path:
            node["cycle"] = True
            self.cycle = True
            return node
        if row.asset in self.expanded:
            node["seen"] = True  # a shared ancestor, already expanded elsewhere in the tree
            return node
        self.expanded.add(row.asset)
        self.order.append(row.asset)
        if genai:
            self._genai(ref, row, depth, declared=not row.genai)
        elif row.generated is None and row.asset not in self.unknown:
            self.unknown.append(row.asset)
        if self.shallow and row.ancestry is not None:
            self._summarised(row.ancestry, depth, path)
            node["summarised"] = True  # its ancestors come from its recorded summary
            return node
        if row.inputs:
            if depth >= self.max_depth:
                node["truncated"] = True
                self.truncated = True
            else:
                node["inputs"] = self.inputs(row.inputs, depth + 1, [*path, row.asset])
        return node

    def _summarised(self, summary: dict[str, Any], depth: int, path: list[str]) -> None:
        """Take an input's recorded ancestry as the rest of this branch."""
        ancestors = [a for a in summary.get("assets", []) if isinstance(a, str)]
        if any(a in path for a in ancestors) or summary.get("cycle"):
            self.cycle = True
        for entry in summary.get("genai", []):
            name = entry.get("asset") if isinstance(entry, dict) else None
            if not isinstance(entry, dict) or name in path or name in self.expanded:
                continue
            self.genai.append(
                {**entry, "depth": depth + int(entry.get("depth", 1)), "via": self.via}
            )
        for name in ancestors:
            if name not in self.expanded and name not in path:
                self.expanded.add(name)
                self.order.append(name)
        for key in ("unknown", "unresolved"):
            mine = getattr(self, key)
            mine.extend(v for v in summary.get(key, []) if v not in mine)
        self.truncated = self.truncated or bool(summary.get("truncated"))
        self.depth = max(self.depth, depth + int(summary.get("depth", 0)))

    def _genai(self, ref: str, row: AssetRow | None, depth: int, *, declared: bool) -> None:
        entry: dict[str, Any] = {"ref": ref, "asset": row.asset if row else None, "depth": depth}
        entry["via"] = self.via
        if row is not None:
            entry.update(stage=row.stage, generated=row.generated, source_type=row.source_type)
        if declared:
            entry["declared"] = True  # the input's class says "generated"
        self.genai.append(entry)


def iter_tree(tree: list[dict[str, Any]], depth: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every node of an ancestry tree with its depth (0 for direct inputs), depth first."""
    for node in tree:
        yield depth, node
        yield from iter_tree(node.get("inputs") or [], depth + 1)
