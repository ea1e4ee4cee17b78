"""One recorded row of the lineage store: its fields, and how it is written and read back.

:class:`AssetRow` is one audited version of one asset; :func:`encode_row` is what an
``INSERT`` of it binds, :data:`COLUMNS` what a ``SELECT`` of it lists (``AssetRow.from_sql``
reads that back). The JSON columns (findings, inputs, the ancestry summary) are written
compact and read with :func:`decode_column`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .refs import is_genai, name_key, sequence_key

__all__ = [
    "COLUMNS",
    "STAGE_CHECK",
    "STAGE_CHECK_TEXT",
    "UPSERT",
    "AssetRow",
    "current_host_pid",
    "decode_column",
    "encode_row",
    "stamped",
]

#: The key that marks, in a row's ``findings``, a stage checker's finding naming the asset
#: (``clearance_check_stage``): it stands for the asset through later audits of it until a
#: scan of the whole stage decides it again (``LineagePlugin.row_for``).
STAGE_CHECK = "stage_check"
#: How it reads in the column's JSON text (compact): a row without it carries none.
STAGE_CHECK_TEXT = '"stage_check":'

COLUMNS = (
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
    def from_sql(cls, row: Sequence[Any], loads: Callable[[str], Any] | None = None) -> AssetRow:
        """A row as selected with ``COLUMNS``; ``loads`` decodes its JSON columns."""
        (rid, asset, stage, version, frames, generated, source_type, outcome, findings, inputs,
         asset_id, production, shot, run_id, audited_at, ancestry) = row[:16]  # fmt: skip
        if loads is None:
            loads = decode_column
        return cls(
            rid,
            asset,
            stage,
            version,
            frames,
            None if generated is None else bool(generated),
            source_type,
            outcome,
            loads(findings),
            loads(inputs),
            asset_id,
            production,
            shot,
            run_id,
            audited_at,
            loads(ancestry) if ancestry else None,
        )

    @property
    def genai(self) -> bool:
        return is_genai(self.generated, self.source_type)

    def verdict(self) -> tuple[Any, ...]:
        """What an audit concluded: everything recorded but the version, time and run id."""
        return (self.frames, self.generated, self.source_type, self.outcome, self.findings,
                self.inputs, self.asset_id, self.production, self.shot, self.ancestry)  # fmt: skip

    @classmethod
    def from_verdict(
        cls, asset: str, stage: str, version: str, verdict: Sequence[Any], *, run_id: str, at: float
    ) -> AssetRow:
        """A new row (not inserted yet: id 0) from what :meth:`verdict` returns."""
        (frames, generated, source_type, outcome, findings, inputs, asset_id, production, shot,
         ancestry) = verdict  # fmt: skip
        return cls(
            0, asset, stage, version, frames, generated, source_type, outcome, findings, inputs,
            asset_id, production, shot, run_id, at, ancestry,
        )  # fmt: skip

    def same_verdict(self, other: AssetRow) -> bool:
        """Would recording ``other`` change nothing but the time and run id?"""
        return self.verdict() == other.verdict()

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


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts)) if ts else ""


UPSERT = (
    "INSERT INTO lineage_assets (asset, seq_key, name_key, asset_id, version, stage, "
    "frames, generated, source_type, outcome, findings, inputs, production, shot, "
    "run_id, host_pid, audited_at, ancestry) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) "
    "ON CONFLICT (asset, stage, version) DO UPDATE SET asset_id=excluded.asset_id, "
    "frames=excluded.frames, generated=excluded.generated, "
    "source_type=excluded.source_type, outcome=excluded.outcome, "
    "findings=excluded.findings, inputs=excluded.inputs, "
    "production=excluded.production, shot=excluded.shot, run_id=excluded.run_id, "
    "host_pid=excluded.host_pid, audited_at=excluded.audited_at, ancestry=excluded.ancestry"
)


def _compact_encoder() -> Callable[[Any], str]:
    """Compact JSON (``separators=(",", ":")``, not ASCII-escaped), made once.

    ``json.dumps`` and ``JSONEncoder.encode`` build a new C encoder on every call, about 1 µs,
    three times per recorded row; CPython's C encoder object can be kept and called again.
    Where it is missing, or answers differently from ``JSONEncoder``, that is used instead.
    """
    encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:
        return encoder.encode
    try:
        # markers None: no cycle check (rows are built from parsed documents: no cycles)
        made = make(None, encoder.default, json.encoder.encode_basestring, None, ":", ",",
                    False, False, True)  # fmt: skip

        def fast(value: Any) -> str:
            return "".join(made(value, 0))

        sample = [{"ref": "é/a.####.exr", "class": None, "n": 1.5, "ok": True}, [], {}]
        if fast(sample) == encoder.encode(sample):
            return fast
    except Exception:  # any surprise: the documented encoder
        pass
    return encoder.encode


_dumps = _compact_encoder()
_scan_json: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def decode_column(text: str) -> Any:
    """``json.loads`` of a column this module wrote (compact, one value, no padding), through
    the decoder's scanner directly: ``json.loads`` adds two Python frames and a whitespace
    match per call. Anything else takes ``json.loads``, which explains a malformed value."""
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def current_host_pid() -> str:
    """``host:pid`` of this process, as rows record it."""
    return f"{os.uname().nodename if hasattr(os, 'uname') else ''}:{os.getpid()}"


def encode_row(row: AssetRow, host_pid: str) -> tuple[Any, ...]:
    """One row as the store writes it (``INSERT`` parameters: JSON columns encoded)."""
    return (
        row.asset,
        sequence_key(row.asset),
        name_key(row.asset),
        row.asset_id,
        row.version,
        row.stage,
        row.frames,
        None if row.generated is None else int(row.generated),
        row.source_type,
        row.outcome,
        # most rows have no open finding: its text without a call into the encoder
        "[]" if row.findings == [] else _dumps(row.findings),
        _dumps(row.inputs),
        row.production,
        row.shot,
        row.run_id,
        host_pid,
        row.audited_at,
        None if row.ancestry is None else _dumps(row.ancestry),
    )


def stamped(values: tuple[Any, ...], at: float) -> tuple[Any, ...]:
    """An encoded row (:func:`encode_row`) with ``audited_at`` set to ``at``."""
    return (*values[:16], at, *values[17:])
