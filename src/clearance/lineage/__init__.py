"""The lineage store: every audited asset, what it was made from, and its GenAI ancestry.

"When an asset's sidecar lists inputs that were audited earlier, it inherits their GenAI
status — so GenAI material cannot reach a final deliverable unnoticed because a later
stage's sidecar forgot to say so" (``DESIGN.md``, Lineage).

Two halves:

- :class:`LineageStore`: tables ``lineage_assets`` and ``lineage_meta`` in the state store
  file (``audit.state`` in ``clearance.yaml``, default ``.clearance/state.db``), SQLite in WAL
  mode with a busy timeout, so several ``scan``/``check``/``watch`` processes may record into
  it at once. One row per audited *version* of an asset: its root-relative path or sequence
  pattern, a version key (the identity ``dev, ino, size, mtime_ns`` of every file and of the
  sidecar, hashed), stage, ``generated``, source type, worst open outcome, open findings,
  declared inputs, run id and time. :meth:`LineageStore.ancestry` walks declared inputs
  transitively (cycle-safe, depth-bounded).
- :class:`LineagePlugin`, a built-in plugin made once per run (``plugins.BUILTIN_FACTORIES``):
  as a provenance reader it returns a partial record from source ``lineage`` whose only key
  is ``ancestry`` (never ``generated``: a comp is not itself generated, it *contains* GenAI
  material); after each audit (``clearance_asset_audited``) it records the asset.

An input ``ref`` resolves, in order: as a root-relative path (``./`` and ``..`` normalised,
absolute paths and ``file://`` URLs inside the root accepted); as a frame sequence, where
``####``, ``%04d``, ``@@@@``, ``$F4`` and a single frame number name the same sequence; as an
asset id (the sidecar's ``x-asset-id``) or a version key of at least 12 hex digits.

Layout: ``refs`` (names, patterns, version keys), ``store`` (tables, rows, ancestry walks),
and here the plugin.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path
from typing import Any

from ..hookspecs import hookimpl
from ..model import Asset, AssetResult, Outcome, PartialRecord, ProvenanceRecord
from ..policy import Policy
from .refs import (
    declared_inputs,
    frame_number,
    inputs_of,
    is_genai,
    name_key,
    normalise_ref,
    sequence_key,
    url_to_path,
    version_key,
)
from .store import (
    MAX_DEPTH,
    SCHEMA_VERSION,
    AssetRow,
    LineageError,
    LineageStore,
    create_lineage_tables,
    iter_tree,
)

__all__ = [
    "AssetRow",
    "LineageError",
    "LineagePlugin",
    "LineageStore",
    "MAX_DEPTH",
    "SCHEMA_VERSION",
    "create_lineage_tables",
    "declared_inputs",
    "frame_number",
    "is_genai",
    "iter_tree",
    "name_key",
    "normalise_ref",
    "sequence_key",
    "url_to_path",
    "version_key",
]

SOURCE = "lineage"


# -------------------------------------------------------------------------------------------
# The plugin
# -------------------------------------------------------------------------------------------


def _steps_inputs(record: ProvenanceRecord) -> list[dict[str, Any]]:
    return inputs_of(record.get("steps", None))


class LineagePlugin:
    """The built-in lineage plugin of one run (made by the plugin manager with the policy).

    Opens the store lazily: a run that audits nothing, or a policy without a state store,
    never creates one. Safe to call from the watcher's audit thread.
    """

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.path: Path | None = policy.state_path
        #: The engine's run id when the session sets it; else this plugin's own per-run id.
        self.run_id: str = uuid.uuid4().hex
        self.max_depth = MAX_DEPTH
        self._store: LineageStore | None = None
        self._pid = 0
        self._lock = threading.Lock()
        # asset → (version key, its recorded row, its ancestry), from reading to recording
        self._pending: dict[str, tuple[str, AssetRow | None, dict[str, Any] | None]] = {}
        self._shown: dict[Path, str] = {}

    def store(self, *, create: bool) -> LineageStore | None:
        """The run's store (``None``: no state path, or not created yet and ``create`` is False)."""
        if self.path is None:
            return None
        with self._lock:
            if self._store is not None and self._pid != os.getpid():
                self._store = None  # forked: never share a connection across processes
            if self._store is None:
                if not create and not self.path.is_file():
                    return None
                self._store = LineageStore(self.path, create=create)
                self._pid = os.getpid()
            elif create and not self._store._ready:
                self._store._check_schema(True)
            return self._store

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
        store = self.store(create=False)
        version = version_key(asset)
        known = None
        if store is not None and version is not None:
            # this exact version was recorded before (a warm re-scan): no second sidecar parse
            known = store.exact(asset.rel, asset.stage, version)
        if known is not None:
            inputs = known.inputs
        else:
            sidecar = next((p for p in partials if p.source == "sidecar"), None)
            if sidecar is not None and not sidecar.issues:
                inputs = inputs_of(sidecar.data.get("steps"))  # already parsed and valid
            else:
                inputs = declared_inputs(asset)  # broken sidecar: read what it declares anyway
        ancestry = None
        if inputs:
            if store is None:
                ancestry = _unknown_ancestry(inputs)
            else:
                ancestry = store.ancestry(
                    inputs, asset.root, start=asset.rel, max_depth=self.max_depth, shallow=True
                )
        if version is not None:
            if len(self._pending) > 4096:
                self._pending.clear()
            self._pending[asset.rel] = (version, known, ancestry)
        if ancestry is None:
            return None
        root = asset.root
        evidence = {"store": self._display(root), "genai": len(ancestry["genai"])}
        return PartialRecord(SOURCE, self._display(root), {"ancestry": ancestry}, [], evidence)

    @hookimpl
    def clearance_asset_audited(self, result: AssetResult, policy: Policy) -> None:
        """Record the audited asset, its verdict and its declared inputs."""
        asset, record = result.asset, result.record
        if record is None or self.path is None:
            return
        pending = self._pending.pop(asset.rel, None)
        found = pending[0] if pending is not None else version_key(asset)
        if found is None:
            return  # not on disk: nothing to record
        store = self.store(create=True)
        assert store is not None
        version = found
        known = pending[1] if pending is not None else store.exact(asset.rel, result.stage, found)
        ancestry = pending[2] if pending is not None else None
        summary = {k: v for k, v in ancestry.items() if k != "tree"} if ancestry else None
        findings = [
            {
                "rule": f.rule,
                "outcome": f.effective_outcome.value,
                "status": f.status.value,
                "message": f.message,
            }
            for f in result.findings
            if f.is_open and f.effective_outcome > Outcome.PASS
        ]
        source_type = record.get("source_type", None)
        asset_id = record.get("x-asset-id", None)
        production = record.get("production", None) or policy.production_id
        shot = record.get("shot", None)
        verdict = AssetRow(
            id=0,
            asset=asset.rel,
            stage=result.stage,
            version=version,
            frames=asset.frames,
            generated=record.generated,
            source_type=source_type if isinstance(source_type, str) else None,
            outcome=result.outcome.value,
            findings=findings,
            inputs=_steps_inputs(record),
            asset_id=asset_id if isinstance(asset_id, str) else None,
            production=production if isinstance(production, str) else None,
            shot=shot if isinstance(shot, str) else None,
            ancestry=summary,
        )
        if known is not None and known.same_verdict(verdict):
            return  # an unchanged re-audit (warm re-scan): nothing to write
        store.record(
            asset=verdict.asset,
            version=version,
            stage=verdict.stage,
            frames=verdict.frames,
            generated=verdict.generated,
            source_type=verdict.source_type,
            outcome=verdict.outcome,
            findings=verdict.findings,
            inputs=verdict.inputs,
            asset_id=verdict.asset_id,
            production=verdict.production,
            shot=verdict.shot,
            run_id=self.run_id,
            ancestry=summary,
        )

    def __repr__(self) -> str:
        return f"<LineagePlugin {self.path}>"


def _unknown_ancestry(inputs: list[dict[str, Any]]) -> dict[str, Any]:
    """Ancestry when nothing was recorded yet: only what the input classes declare."""
    genai = [
        {"ref": i["ref"], "asset": None, "depth": 1, "via": i["ref"], "declared": True}
        for i in inputs
        if i.get("class") == "generated"
    ]
    refs = list(dict.fromkeys(str(i["ref"]) for i in inputs))
    tree = [
        {
            "ref": i["ref"],
            "class": i.get("class"),
            "audited": False,
            "genai": i.get("class") == "generated",
        }
        for i in inputs
    ]
    return {
        "genai": genai,
        "unknown": [],
        "unresolved": refs,
        "assets": [],
        "cycle": False,
        "truncated": False,
        "depth": 1,
        "tree": tree,
    }
