"""The sidecar reader: ``NAME.EXT.genai.yaml`` (or ``.json``) next to a file, ``PREFIX.genai.yaml``
next to a frame sequence. Format 1 is defined by ``schemas/provenance.schema.json``.

A sidecar that does not parse or does not validate still yields a partial record: every
schema error becomes an issue with its field path (reported as ``PRV-02``), the fields
that did validate are kept so the asset is audited with what is known, and each invalid
field is *unknown* to the rules (``PartialRecord.unknown``), never absent (``_invalid``). When more than one
sidecar describes the asset (``NAME.genai.yaml`` and ``NAME.genai.json``), the first is read
and the others are an issue naming every one of them: what they say is never silently lost.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .._yaml import DocumentError, DocumentReadError, load_document
from ..discover import SIDECAR_SUFFIXES
from ..hookspecs import hookimpl
from ..model import Asset, PartialRecord, ProvenanceIssue
from ..policy import Policy, schema_errors
from ._common import display_path
from ._invalid import usable_fields

__all__ = ["pairing_issues", "read_sidecar", "sidecar_record", "clearance_read_provenance"]

SCHEMA = "provenance.schema.json"


def sidecar_record(
    data: Any,
    file: str,
    *,
    asset: Asset | None = None,
    yaml_errors: Sequence[tuple[str, str]] = (),
) -> PartialRecord:
    """Validate a parsed sidecar document and keep what is usable.

    :param yaml_errors: the fields parsing refused (``field_errors`` of
        :func:`~clearance._yaml.load_document`): errors of those fields, like schema errors.
    """
    if not isinstance(data, dict):
        kind = type(data).__name__ if data is not None else "an empty document"
        return PartialRecord(
            "sidecar",
            file,
            {},
            [ProvenanceIssue(file, "(top level)", f"expected a mapping, got {kind}")],
        )
    errors = schema_errors(data, SCHEMA, yaml_errors=yaml_errors)
    issues = [ProvenanceIssue(file, path or "(top level)", reason) for path, reason in errors]
    # an invalid field is unknown, never absent: "not involved" would be more lenient than
    # writing ``unknown`` (see _invalid)
    usable, unknown = usable_fields(data, errors, SCHEMA)
    if asset is not None:
        issues += _declared_issues(data, file, asset)
    return PartialRecord("sidecar", file, usable, issues, unknown=unknown)


def pairing_issues(data: Any, sidecar: Path, asset: Asset) -> list[ProvenanceIssue]:
    """What an audit of ``asset`` reports about how the sidecar file ``sidecar`` (parsed:
    ``data``) pairs with it: for the sidecar read, an ``asset:`` that names another asset,
    and other sidecars describing it too; for one of those others, that it is not read.
    ``clearance validate`` reports these as ``scan`` does."""
    file = display_path(asset, asset.sidecar)
    if asset.sidecar is None or sidecar.name != asset.sidecar.name:
        return [_not_read(asset, file)] if sidecar in asset.other_sidecars else []
    issues = _declared_issues(data, file, asset)
    if asset.other_sidecars:
        issues.append(_not_read(asset, file))
    return issues


def _declared_issues(data: Any, file: str, asset: Asset) -> list[ProvenanceIssue]:
    declared = data.get("asset") if isinstance(data, dict) else None
    if isinstance(declared, str) and not _describes(declared, asset):
        message = f"describes {declared!r}, but is paired with {asset.name!r}"
        return [ProvenanceIssue(file, "asset", message)]
    return []


def _describes(declared: str, asset: Asset) -> bool:
    name = declared.rsplit("/", 1)[-1]
    if name == asset.name or fnmatch.fnmatchcase(asset.name, name):
        return True
    # a sequence sidecar may write the pattern with any padding style (####, %04d, @): the
    # same PREFIX and EXT around it (a PREFIX may hold dots: sh010.bg.v003.####.exr is not
    # described by sh010.bg.v002.####.exr, nor plate.####.exr by plate.v2.####.exr)
    if asset.is_sequence:
        shape = asset.name.rsplit(".", 2)
        if len(shape) != 3:  # (an Asset built by hand: discovery names every PREFIX.####.EXT)
            return False
        prefix, _pad, ext = shape
        parts = name.rsplit(".", 2)
        return len(parts) == 3 and parts[0] == prefix and parts[2] in (ext, asset.extension)
    return False


def read_sidecar(asset: Asset) -> PartialRecord | None:
    """The sidecar's partial record for ``asset``, or ``None`` when it has no sidecar."""
    if asset.sidecar is None:
        return _not_a_file(asset)
    file = display_path(asset, asset.sidecar)
    record = _read(asset, file)
    if asset.other_sidecars:
        record.issues.append(_not_read(asset, file))
    return record


def _not_a_file(asset: Asset) -> PartialRecord | None:
    """A sidecar the walk found to be no regular file (a named pipe, a folder:
    :attr:`Asset.not_files`, which the engine reports as ``PRV-02``): a sidecar that could
    not be read, as ``clearance check`` and a read after the walk have it, never no sidecar
    at all (``PRV-01``, and the GenAI rules not run: a verdict milder than check's). Never
    cached: the fingerprint of an asset with no sidecar is the same without it."""
    for path, _why in asset.not_files:
        if path.name.endswith(SIDECAR_SUFFIXES):
            return PartialRecord("sidecar", display_path(asset, path), {}, [], volatile=True)
    return None


def _not_read(asset: Asset, file: str) -> ProvenanceIssue:
    others = [display_path(asset, other) for other in asset.other_sidecars]
    shown = others if len(others) <= 10 else [*others[:10], f"{len(others) - 10} more"]
    return ProvenanceIssue(
        file,
        "",
        f"{len(others) + 1} sidecars describe {asset.rel}: {file} is read, "
        f"{' and '.join(shown)} {'is' if len(others) == 1 else 'are'} not; "
        + (
            "a sequence's provenance is its one sidecar, "
            f"{asset.path.name.rsplit('.', 2)[0]}.genai.yaml: write there what its frames' "
            "sidecars say and remove them (what they say is not checked)"
            if frame_sidecars(asset)
            else "remove all but one (what the others say may differ, and is not checked)"
        ),
    )


def frame_sidecars(asset: Asset) -> list[Path]:
    """The sidecars of single frames (``plate.1002.png.genai.yaml``) among the sidecars a
    sequence does not read (:attr:`Asset.other_sidecars`)."""
    if not asset.is_sequence or not asset.other_sidecars:
        return []
    prefix = asset.path.name.rsplit(".", 2)[0] + "."  # the first frame's PREFIX.FRAME.EXT
    sequence_level = {prefix[:-1] + s for s in SIDECAR_SUFFIXES}
    return [
        p
        for p in asset.other_sidecars
        if p.name.startswith(prefix) and p.name not in sequence_level
    ]


def _read(asset: Asset, file: str) -> PartialRecord:
    assert asset.sidecar is not None
    try:
        st = asset.stat(asset.sidecar)  # taken once per audit (the cache keys on it too)
    except OSError:
        st = None  # reading says why
    refused: list[tuple[str, str]] = []  # an impossible date: an error of its field only
    try:
        data = load_document(asset.sidecar, st=st, field_errors=refused)
    except DocumentReadError as exc:  # not read (permissions, I/O): not a verdict on it
        issues = [ProvenanceIssue(file, "", f"cannot read file: {exc.reason}", unreadable=True)]
        # and it may be gone next time: never cached
        return PartialRecord("sidecar", file, {}, issues, volatile=True)
    except DocumentError as exc:
        return PartialRecord("sidecar", file, {}, [ProvenanceIssue(file, exc.field, exc.reason)])
    return sidecar_record(data, file, asset=asset, yaml_errors=refused)


@hookimpl(tryfirst=True)
def clearance_read_provenance(asset: Asset, policy: Policy) -> PartialRecord | None:
    """Read the asset's sidecar (the first source: its fields win over embedded metadata)."""
    return read_sidecar(asset)
