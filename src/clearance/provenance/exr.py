"""EXR reader: ``genai:*`` header attributes as sidecar fields, ``software``/``comments`` as evidence.

Registered as a built-in reader plugin (``clearance.provenance.exr``). The mapping from header
attributes to format-1 fields (``docs/embedded-provenance.md`` has the table):

==========================  ==============================  =====================================
attribute (type ``string``)  field                           value
==========================  ==============================  =====================================
``genai:generated``          ``generated``                   ``true``/``false`` (``yes``/``no``/``1``/``0``)
``genai:source_type``        ``source_type``                 IPTC term URI (``genai:sourceType`` too)
``genai:production``         ``production``
``genai:shot``               ``shot``
``genai:tool``               ``steps[0].tool``               tool registry id
``genai:tool_version``       ``steps[0].tool_version``
``genai:model``              ``steps[0].model.id``
``genai:use``                ``output.use``                  ideation, pitch, previs, temp, final
``genai:on_screen``          ``output.on_screen``
``genai:subject``            ``output.subject``
``genai:prominence``         ``output.prominence``
``genai:depicts_real`` …     ``output.depicts_real`` …       ``true``/``false``
``genai:vendor``             ``vendor.id``
``genai:union_impact``       ``union_impact``
``genai:approvals``          ``approvals``                   stringvector, or comma-separated
``genai:data_mining``        ``x-data-mining``
==========================  ==============================  =====================================

When ``genai:generated`` is absent, ``generated`` follows from ``genai:source_type`` (as for
XMP). Other ``genai:*`` attributes are kept in evidence, not guessed into fields. In a
multi-part file every part is read; the first part that sets an attribute wins, except that a
part saying GenAI (``genai:generated`` true, or a GenAI source type) makes the file
``generated`` whatever the others say; parts that disagree are an issue. A frame sequence is
read from its first frame only.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from ..hookspecs import hookimpl
from ..model import PartialRecord, ProvenanceIssue
from ._common import display_path
from ._exrheader import ExrOpaque, parse_exr_header
from ._iptc import generated_from_source_type

if TYPE_CHECKING:
    from ..model import Asset

__all__ = ["read_exr_header", "record_from_exr_header", "clearance_read_provenance"]

SOURCE = "exr"
PREFIX = "genai:"

# attribute suffix -> (field path, kind); kind says how the string value becomes a field value
_FIELDS: dict[str, tuple[tuple[str, ...], str]] = {
    "generated": (("generated",), "bool"),
    "source_type": (("source_type",), "str"),
    "sourceType": (("source_type",), "str"),
    "production": (("production",), "str"),
    "shot": (("shot",), "str"),
    "tool": (("steps", "0", "tool"), "str"),
    "tool_version": (("steps", "0", "tool_version"), "str"),
    "model": (("steps", "0", "model", "id"), "str"),
    "use": (("output", "use"), "str"),
    "on_screen": (("output", "on_screen"), "str"),
    "subject": (("output", "subject"), "str"),
    "prominence": (("output", "prominence"), "str"),
    "human_contribution": (("output", "human_contribution"), "str"),
    "depicts_real": (("output", "depicts_real"), "bool"),
    "presented_as_authentic": (("output", "presented_as_authentic"), "bool"),
    "synthetic_performer": (("output", "synthetic_performer"), "bool"),
    "vendor": (("vendor", "id"), "str"),
    "union_impact": (("union_impact",), "str"),
    "approvals": (("approvals",), "list"),
    "data_mining": (("x-data-mining",), "str"),
}
# Standard or customary header attributes worth showing a supervisor (who wrote the file).
_EVIDENCE = {
    "software": "software",
    "comments": "comments",
    "owner": "owner",
    "capdate": "capture_date",
}
#: a multi-part file whose parts disagree: the values listed per attribute, and the
#: attributes listed, in its issues (the rest are counted)
_MAX_LISTED = 8
_MAX_DISAGREEMENTS = 32
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


def read_exr_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Every part's header attributes of an OpenEXR file, read without numpy or pixel data.

    :return: ``{"version", "multipart", "tiled", "deep", "parts": [{name: value}], "problems"}``;
        see :func:`clearance.provenance._exrheader.parse_exr_header`. Never raises on bad input.
    """
    return parse_exr_header(path)


def record_from_exr_header(header: dict[str, Any], file: str) -> PartialRecord | None:
    """Turn :func:`read_exr_header`'s result into a partial record; None when it says nothing."""
    # a file that could not be opened or read has one problem: why (see unreadable())
    unread = bool(header.get("unreadable"))
    issues = [
        ProvenanceIssue(file, "exr", problem, unreadable=unread)
        for problem in header.get("problems", [])
    ]
    attributes, disagreements = _merge_parts(header.get("parts", []))
    for name, (values, more) in list(disagreements.items())[:_MAX_DISAGREEMENTS]:
        also = f" and {more} more" if more else ""
        issues.append(ProvenanceIssue(file, name, f"parts disagree: {values}{also}"))
    if len(disagreements) > _MAX_DISAGREEMENTS:
        rest = len(disagreements) - _MAX_DISAGREEMENTS
        issues.append(
            ProvenanceIssue(file, "exr", f"parts disagree on {rest} more genai:* attributes")
        )

    data: dict[str, Any] = {}
    unmapped: dict[str, Any] = {}
    for name, value in attributes.items():
        if not name.startswith(PREFIX):
            continue
        mapping = _FIELDS.get(name[len(PREFIX) :])
        if mapping is None:
            unmapped[name] = _jsonable(value)
            continue
        path, kind = mapping
        converted, problem = _convert(value, kind)
        if problem:
            issues.append(ProvenanceIssue(file, name, problem))
            continue
        _set(data, path, converted)
    if "generated" not in data and "source_type" in data:
        generated = generated_from_source_type(data["source_type"])
        if generated is not None:
            data["generated"] = generated
    # A GenAI layer in any part makes the file GenAI, as a GenAI ingredient does for C2PA:
    # the first part's "false" must not hide it (the parts' disagreement is an issue above).
    # Within one part, a flag and a source type that contradict each other stay IPTC-02's.
    parts = header.get("parts", [])
    genai_parts = _genai_parts(parts) if len(parts) > 1 else []
    if any(index > 0 for index in genai_parts) and data.get("generated") is not True:
        data["generated"] = True
        genai_types = _genai_source_types(parts[1:])
        if genai_types and not generated_from_source_type(data.get("source_type")):
            data["source_type"] = genai_types[0]

    if not data and not issues:
        return None
    evidence: dict[str, Any] = {"parts": len(parts)}
    if genai_parts:
        evidence["genai_parts"] = genai_parts
    for name, value in attributes.items():
        label = _EVIDENCE.get(name.lower())
        if label and isinstance(value, str):
            evidence[label] = value
    genai = {k: _jsonable(v) for k, v in attributes.items() if k.startswith(PREFIX)}
    if genai:
        evidence["attributes"] = genai
    if unmapped:
        evidence["unmapped"] = sorted(unmapped)
    return PartialRecord(
        source=SOURCE,
        file=file,
        data=data,
        issues=issues,
        evidence=evidence,
        volatile=bool(header.get("unreadable")),  # reading again may succeed: never cached
    )


def _merge_parts(
    parts: list[dict[str, Any]],
) -> tuple[dict[str, Any], dict[str, tuple[list[Any], int]]]:
    """First part wins each attribute; ``genai:*`` values that differ between parts, by name:
    the first few (``_MAX_LISTED``) and how many more there are. Linear in the attributes: a
    multi-part file of thousands of parts, each with its own value, costs what reading it
    does."""
    merged: dict[str, Any] = {}
    seen: dict[str, dict[Any, Any]] = {}  # name -> distinct values, by a hashable key
    for part in parts:
        for name, value in part.items():
            merged.setdefault(name, value)
            if name.startswith(PREFIX):
                key = tuple(value) if isinstance(value, list) else value
                seen.setdefault(name, {}).setdefault(key, value)
    disagreements: dict[str, tuple[list[Any], int]] = {}
    for name, values in seen.items():
        if len(values) > 1:
            listed = list(values.values())
            shown = [_jsonable(v) for v in listed[:_MAX_LISTED]]
            disagreements[name] = (shown, max(0, len(listed) - _MAX_LISTED))
    return merged, disagreements


def _genai_parts(parts: list[dict[str, Any]]) -> list[int]:
    """The indices of the parts whose ``genai:generated`` or source type says GenAI."""
    found = []
    for index, part in enumerate(parts):
        flag, _ = _convert(part.get(PREFIX + "generated"), "bool")
        if flag is True or _genai_source_types([part]):
            found.append(index)
    return found


def _genai_source_types(parts: list[dict[str, Any]]) -> list[str]:
    return [
        part[name].strip()
        for part in parts
        for name in (PREFIX + "source_type", PREFIX + "sourceType")
        if isinstance(part.get(name), str) and generated_from_source_type(part[name])
    ]


def _convert(value: Any, kind: str) -> tuple[Any, str | None]:
    if kind == "list":
        if isinstance(value, list):
            return [v.strip() for v in value if v.strip()], None
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()], None
        return None, f"expected a string or stringvector, found {_type_name(value)}"
    if kind == "bool":
        if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
            return bool(value), None
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE, None
        return None, f"expected true or false, found {_jsonable(value)!r}"
    if isinstance(value, str):
        return value.strip(), None
    return None, f"expected a string attribute, found {_type_name(value)}"


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = data
    for i, part in enumerate(path[:-1]):
        nxt: Any = [] if path[i + 1].isdigit() else {}
        if part.isdigit():
            index = int(part)
            while len(node) <= index:
                node.append({})
            node = node[index]
        else:
            node = node.setdefault(part, nxt)
    node[path[-1]] = value


def _type_name(value: Any) -> str:
    if isinstance(value, ExrOpaque):
        return value.type
    return {int: "int", float: "float", list: "stringvector", tuple: "vector"}.get(
        type(value), type(value).__name__
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, ExrOpaque):
        return f"<{value.type}, {value.size} bytes>"
    if isinstance(value, tuple):
        return list(value)
    return value


@hookimpl
def clearance_read_provenance(asset: Asset) -> PartialRecord | None:
    """``genai:*`` attributes of the asset's EXR header (a sequence: its first frame)."""
    if asset.extension != "exr":
        return None
    return record_from_exr_header(read_exr_header(asset.path), display_path(asset))
