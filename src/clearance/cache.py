"""The provenance cache: what the readers said about an asset, kept in the state store.

A re-scan of a mostly unchanged tree should not parse every sidecar and re-read every header
again. The cache keeps, per asset, the partial records of the cacheable readers (the built-in
sidecar, XMP, EXR and C2PA readers) under a **fingerprint** of everything they read:

* the identity and version ``(dev, ino, size, mtime_ns, ctime_ns)`` of the sidecar (and its
  name, which decides how it is parsed), of the asset's first and last file, and of each
  detached ``.c2pa`` manifest the C2PA reader looks for (``c2pa.manifest_names``; or the fact
  that there is none);
* the names of the other sidecars of the asset, which the sidecar reader reports as not read;
* for a sequence, its frame list;
* the readers' signature: their names, Clearance's version, a digest of the readers' code
  and the sidecar schema (:func:`code_digest`), and the ``readers:`` settings.

A reader's answer that may change while its files do not is **volatile** and never kept
(:attr:`PartialRecord.volatile`): a file that could not be read, and a C2PA manifest, whose
verdict depends on the clock (a certificate expires), the trust list and the SDK. Those
readers run again on every scan; the others are reused, and each reader still sees the
others' output in registration order. Anything else changes nothing the readers read, so a
hit is exactly what reading again would give. Rules, approvals and the configuration are
never cached: they are evaluated on every run. Readers that depend on other assets (the
lineage store) are never cached either.

Nor is what was read of a file that had changed just before it was looked at (:func:`racy`):
a same-size rewrite in the same tick of the file system's clock keeps the identity and
version, so the next run reads it again, and keeps that.

A store that fails while the run uses it (a damaged page) switches the cache off for the
rest of the run with a warning naming the file: a scan without its cache is slower, never
wrong.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .model import Asset, PartialRecord, ProvenanceIssue
from .provenance.c2pa import manifest_names, sequence_prefix_of

try:  # a fast JSON codec for the cache's rows; json gives the same answers without it
    import orjson as _orjson

    #: dates and dataclasses go to ``default`` (there is none: refused, as json refuses them)
    _ORJSON_OPTIONS = _orjson.OPT_PASSTHROUGH_DATETIME | _orjson.OPT_PASSTHROUGH_DATACLASS
except ImportError:  # pragma: no cover - a DCC's Python without the wheel
    _orjson = None  # type: ignore[assignment]
    _ORJSON_OPTIONS = 0

__all__ = ["ProvenanceCache", "migrate_provenance_cache", "CACHEABLE_READERS"]

#: Readers whose output depends only on the asset's own files (and so may be cached).
CACHEABLE_READERS = frozenset(
    {
        "clearance.provenance.sidecar",
        "clearance.provenance.xmp",
        "clearance.provenance.exr",
        "clearance.provenance.c2pa",
    }
)


def migrate_provenance_cache(db: sqlite3.Connection) -> None:
    """State-store migration: the ``provenance_cache`` table."""
    db.execute(
        """
        CREATE TABLE provenance_cache (
            asset        TEXT PRIMARY KEY,
            fingerprint  TEXT NOT NULL,
            partials     TEXT NOT NULL
        )
        """
    )


#: The rows' layout (part of the signature: rows of another layout are misses).
_FORMAT = 4  # 3: a reader that said nothing is false; 4: invalid fields are unknown

#: The modules (under ``clearance``) whose code decides what a cached reader answers, besides
#: the ``provenance`` package, and the schema a sidecar is checked against.
_READER_CODE = ("_yaml.py", "_jsondoc.py", "model.py", "policy.py", "cache.py")


@functools.cache
def code_digest() -> str:
    """A digest of the code and schema the cached readers' answers come from: part of the
    signature, so a build whose readers answer differently (a fix in a reader, with the same
    version number, as in a checkout) never reuses what an earlier build read."""
    from ._resources import data_file

    package = Path(__file__).resolve().parent
    files = sorted((package / "provenance").glob("*.py"))
    files += [package / name for name in _READER_CODE]
    files.append(data_file("schemas", "provenance.schema.json"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(path.read_bytes())
        except OSError:  # not readable: a build without its sources never matches a row
            digest.update(os.urandom(16))
    return digest.hexdigest()[:16]


#: Cache rows fetched per query when the engine said which assets come next (:meth:`plan`).
_WINDOW = 256


#: How long after a file last changed its reader's answer may be kept. A rewrite of the same
#: size within one tick of the file system's clock leaves the identity and version the same
#: (git's "racily clean" files): a file that changed this recently when it was looked at
#: may change again unseen, so it is read again on the next run. File systems that stamp
#: nanoseconds (ext4, XFS, Btrfs, tmpfs, APFS) tick with the kernel's coarse clock, a few
#: milliseconds; whole seconds (ext3, HFS+, some network shares) or two (FAT) otherwise.
RACY_NS_FINE = 50_000_000
RACY_NS_COARSE = 3_000_000_000


def _stat_token(
    path: str | os.PathLike[str], asset: Asset | None = None, changes: list[int] | None = None
) -> str:
    """``path``'s identity and version; its mtime and ctime are added to ``changes``."""
    try:
        st = asset.stat(path) if asset is not None else os.stat(path)
    except OSError:
        return "-"
    if changes is not None:
        changes.append(st.st_mtime_ns)
        changes.append(st.st_ctime_ns)
    # ctime too: chmod, a rename and a rewrite that restores the mtime all change it
    return f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"


def racy(changes: Sequence[int], now_ns: int) -> bool:
    """Did a file change (``changes``: its mtime and ctime, in ns) too recently before
    ``now_ns`` for what was read of it to be kept under its identity and version?"""
    if not changes:
        return False
    age = now_ns - max(changes)
    if age >= RACY_NS_COARSE:  # nearly every file of a re-scan: one comparison
        return False
    if age < RACY_NS_FINE:
        return True
    return all(t % 1_000_000_000 == 0 for t in changes)  # whole seconds: a coarse clock


def keepable(partial: PartialRecord | None) -> bool:
    """May the cache keep this reader's answer? Not when reading again may answer otherwise
    (see :attr:`PartialRecord.volatile`)."""
    return partial is None or not partial.volatile


def _plain(results: dict[str, PartialRecord | None]) -> dict[str, Any]:
    # a reader with nothing to say is ``false``, not ``null``: see _encode
    return {reader: False if p is None else _plain_partial(p) for reader, p in results.items()}


def _plain_partial(p: PartialRecord) -> dict[str, Any]:
    item = {
        "source": p.source,
        "file": p.file,
        "data": p.data,
        "issues": [[i.file, i.field, i.message] for i in p.issues],
        "evidence": p.evidence,
    }
    if p.unknown:  # only a sidecar with invalid fields has any
        item["unknown"] = p.unknown
    return item


def _encode(results: dict[str, PartialRecord | None]) -> str | None:
    """The readers' answers as JSON text, or None when they cannot be kept as they are.

    orjson writes it where it gives what ``json.dumps`` would decode to (≈ 1 µs against
    ≈ 10 µs a row); anything it would write differently takes ``json.dumps``: a ``null``
    (orjson writes NaN and infinity as null, where ``json.dumps(allow_nan=False)``
    refuses them; a reader that said nothing is written ``false``, so a row has none unless
    a reader's data does), and whatever orjson refuses (dates, which it would write as text; keys
    that are not strings, which ``json.dumps`` turns into strings; integers past 64 bits;
    lone surrogates; nesting past 254 levels). Text ``json.dumps`` wrote begins with a space,
    so that :func:`_decode` reads it back with ``json.loads`` (orjson reads an integer past
    64 bits as a float).
    """
    plain = _plain(results)
    if _orjson is not None:
        try:
            raw = _orjson.dumps(plain, option=_ORJSON_OPTIONS)
        except (TypeError, ValueError):  # orjson.JSONEncodeError is a TypeError
            pass
        else:
            if b"null" not in raw:
                return raw.decode("utf-8")
    try:
        text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        if not text.isascii():
            text.encode("utf-8")  # a lone surrogate cannot be stored
    except (TypeError, ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return None  # something not JSON-safe (or nested too deep): simply not cached
    return " " + text


def _decode(text: str) -> dict[str, PartialRecord | None]:
    # json.dumps's text (see _encode) is read by json.loads
    items = json.loads(text) if _orjson is None or text[:1] == " " else _orjson.loads(text)
    return {
        reader: None
        if item is False
        else PartialRecord(
            source=item["source"],
            file=item["file"],
            data=item["data"],
            issues=[ProvenanceIssue(*issue) for issue in item["issues"]],
            evidence=item["evidence"],
            unknown=item.get("unknown", []),
        )
        for reader, item in items.items()
    }


class ProvenanceCache:
    """Cached reader output for one run, backed by the state store's ``provenance_cache``.

    Reads are single-row look-ups; writes are buffered and committed in one transaction by
    :meth:`flush` (called by the engine at the end of each stage and of the run).
    """

    def __init__(
        self, path: str | os.PathLike[str], *, readers: Iterable[str], settings: Any, version: str
    ) -> None:
        from .state import StateStore

        self.store = StateStore(path)
        blob = json.dumps(
            {
                "format": _FORMAT,
                "readers": sorted(readers),
                "settings": settings,
                "version": version,
                "code": code_digest(),
            },
            sort_keys=True,
            default=str,
        )
        self.signature = hashlib.sha256(blob.encode()).hexdigest()[:16]
        self._pending: dict[str, tuple[str, str]] = {}
        self._order: dict[str, int] = {}
        self._upcoming: list[str] = []
        self._window: dict[str, tuple[str, str] | None] = {}
        self.hits = 0
        self.misses = 0
        self.racy = 0  # answers not kept: a file had just changed (:func:`racy`)
        self._racy: set[str] = set()

    def fingerprint(self, asset: Asset) -> str:
        """What the cached readers read of ``asset``, as of now. An asset with a file that
        changed just before (:func:`racy`) is not kept by :meth:`put`."""
        files = asset.files
        changes: list[int] = []
        parts = [self.signature, _stat_token(files[0], asset, changes) if files else "-"]
        if len(files) > 1:
            parts.append(_stat_token(files[-1], asset, changes))
            listing = ",".join(asset.file_names())
            parts.append(hashlib.sha1(listing.encode("utf-8", "surrogateescape")).hexdigest()[:16])
        sidecar = asset.sidecar
        # its name too: the suffix says how it is parsed (a rename keeps the inode)
        parts.append(
            f"{os.path.basename(sidecar)}:{_stat_token(sidecar, asset, changes)}"
            if sidecar is not None
            else "no-sidecar"
        )
        # the sidecars not read: the reader says they are there (PRV-02), by name
        parts.extend(f"also:{os.path.basename(other)}" for other in asset.other_sidecars)
        # the C2PA manifests the reader looks for (names: this runs once per asset)
        folder, sep, name = os.fspath(asset.path).rpartition(os.sep)
        names = manifest_names(name, sequence_prefix_of(asset))
        # a name that was not in the folder when it was listed is absent without a stat: a
        # file that appears later is listed, and so changes the fingerprint, on the next run
        known = asset.siblings
        parts.extend(
            "-"
            if known is not None and n not in known
            else _stat_token(f"{folder}{sep}{n}", None, changes)
            for n in names
        )
        if racy(changes, time.time_ns()):
            self._racy.add(asset.rel)
        else:
            self._racy.discard(asset.rel)
        return "|".join(parts)

    def plan(self, assets: Sequence[Asset]) -> None:
        """The order assets will be looked up in: rows are then fetched a window at a time."""
        self._order = {a.rel: i for i, a in enumerate(assets)}
        self._upcoming = [a.rel for a in assets]
        self._window = {}

    def _row(self, rel: str) -> tuple[str, str] | None:
        if rel in self._window:
            return self._window.pop(rel)
        start = self._order.get(rel)
        if start is None:
            rows = self.store.query(
                "SELECT fingerprint, partials FROM provenance_cache WHERE asset = ?", (rel,)
            )
            return (rows[0][0], rows[0][1]) if rows else None
        wanted = self._upcoming[start : start + _WINDOW]
        self._window = {rel: None for rel in wanted}  # type: ignore[misc]
        marks = ",".join("?" * len(wanted))
        for asset, fp, data in self.store.query(
            f"SELECT asset, fingerprint, partials FROM provenance_cache WHERE asset IN ({marks})",
            wanted,
        ):
            self._window[asset] = (fp, data)
        return self._window.pop(rel)

    def get(self, asset: Asset, fingerprint: str) -> dict[str, PartialRecord | None] | None:
        """Each kept reader's answer (None: it had nothing to say), by reader plugin name;
        None when the asset has no valid row (a miss). Raises ``sqlite3.Error``."""
        row = self._row(asset.rel)
        if row is None or row[0] != fingerprint:
            self.misses += 1
            return None
        try:
            partials = _decode(row[1])
        except (ValueError, KeyError, TypeError, AttributeError):
            self.misses += 1
            return None
        self.hits += 1
        return partials

    def put(self, asset: Asset, fingerprint: str, results: dict[str, PartialRecord | None]) -> None:
        """Keep the readers' answers (by reader plugin name; only :func:`keepable` ones),
        unless a file of the asset had just changed when :meth:`fingerprint` looked."""
        if asset.rel in self._racy:
            self._racy.discard(asset.rel)
            self.racy += 1
            return
        encoded = _encode({name: p for name, p in results.items() if keepable(p)})
        if encoded is not None:
            self._pending[asset.rel] = (fingerprint, encoded)

    def take(self) -> list[tuple[str, str, str]]:
        """Hand over the buffered rows (a ``--jobs`` worker: its parent writes them)."""
        rows = [(asset, fp, data) for asset, (fp, data) in self._pending.items()]
        self._pending.clear()
        return rows

    def put_rows(self, rows: Iterable[tuple[str, str, str]]) -> None:
        """Buffer rows another process encoded (see :meth:`take`)."""
        for asset, fp, data in rows:
            self._pending[asset] = (fp, data)

    def flush(self) -> None:
        if not self._pending:
            return
        rows = [(asset, fp, data) for asset, (fp, data) in self._pending.items()]
        self._pending.clear()
        with self.store.transaction() as db:
            db.executemany(
                "INSERT INTO provenance_cache (asset, fingerprint, partials) VALUES (?, ?, ?) "
                "ON CONFLICT(asset) DO UPDATE SET fingerprint = excluded.fingerprint, partials = excluded.partials",
                rows,
            )

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.store.close()
