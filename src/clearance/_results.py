"""What site plugins return, checked before the engine uses it.

A hook's return value is a contract (``hookspecs.py``). A site plugin that breaks it costs
that plugin a ``PRV-05`` finding (:class:`InvalidResult` says what was wrong, and where),
never the run: not an ``AttributeError`` deep in the engine, nor an audit event that cannot
be written. A value with one obvious meaning is converted instead of refused: an outcome
given as its name (``outcome="block"``), and, in evidence and records, what JSON
cannot hold as it is (see :func:`json_value`). Built-in plugins are tested instead of checked.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import math
import numbers
import os
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from ._errors import safe_repr
from .approvals import ApprovalMatch, as_date
from .model import Finding, Outcome, PartialRecord, ProvenanceIssue, Status

__all__ = [
    "InvalidResult",
    "findings_of",
    "checked_finding",
    "claimed_clearance",
    "checked_partial",
    "checked_approval",
]

#: deeper evidence than this is a plugin's mistake (a structure that refers to itself)
MAX_DEPTH = 64


class InvalidResult(ValueError):
    """A hook returned something its contract does not allow; the message completes
    "PLUGIN returned ..." (``"str, not a list of Finding"``)."""


def findings_of(result: Any) -> Iterable[Any]:
    """What a checker returned, as an iterable of items (each still to be checked)."""
    if type(result) is list:  # the built-in packs' answer: no ABC checks (≈ 1 µs each)
        return result
    if result is None:
        return ()
    if isinstance(result, Finding):
        return (result,)
    if isinstance(result, (str, bytes, Mapping)) or not isinstance(result, Iterable):
        raise InvalidResult(f"{type(result).__name__}, not a list of Finding")
    return result


def checked_finding(item: Any) -> Finding:
    """``item`` if it is a well-formed :class:`Finding` (converted where that is obvious)."""
    if not isinstance(item, Finding):
        raise InvalidResult(f"{type(item).__name__} in its list, not a Finding")
    rule = item.rule
    if not isinstance(rule, str) or not rule:
        raise InvalidResult(f"a finding whose rule is {safe_repr(rule)}, not a rule id")

    def bad(field: str, why: str) -> InvalidResult:
        return InvalidResult(f"a {rule} finding whose {field} is invalid: {why}")

    if item.outcome is not None and not isinstance(item.outcome, Outcome):
        if not isinstance(item.outcome, str):
            raise bad("outcome", f"{type(item.outcome).__name__}, not an Outcome")
        try:
            item.outcome = Outcome.parse(item.outcome)
        except ValueError as exc:
            raise bad("outcome", str(exc)) from None
    for field in ("message", "principle", "remediation", "stage", "asset"):
        if not isinstance(getattr(item, field), str):
            raise bad(field, f"{type(getattr(item, field)).__name__}, not a string")
    for field in ("frames", "plugin"):
        if getattr(item, field) is not None and not isinstance(getattr(item, field), str):
            raise bad(field, f"{type(getattr(item, field)).__name__}, not a string or None")
    if not isinstance(item.unsure, bool):
        raise bad("unsure", f"{type(item.unsure).__name__}, not True or False")
    if not isinstance(item.evidence, Mapping):
        raise bad("evidence", f"{type(item.evidence).__name__}, not a mapping")
    try:
        item.evidence = json_value(item.evidence, "evidence")
    except InvalidResult as exc:
        raise bad("evidence", str(exc)) from None
    return item


def claimed_clearance(item: Finding) -> str | None:
    """Take off ``item`` what only the engine decides: a ``status`` other than open and an
    ``approval`` (a finding is open until an approval record applies, and ``block`` never
    is cleared). Returns what was claimed, completing "returned ..." for the ``PRV-05``
    note that says so (``None``: nothing was)."""
    status, approval = item.status, item.approval
    item.status, item.approval = Status.OPEN, None
    if (status is None or (isinstance(status, str) and status.lower() == "open")) and (
        approval is None
    ):
        return None
    claimed = f"status {safe_repr(status)}"
    if approval is not None:
        claimed += f" and approval {safe_repr(approval)}"
    return (
        f"a {item.rule} finding with {claimed}: only the engine sets these, when an approval "
        "record applies; ignored, the finding is open"
    )


def checked_partial(item: Any) -> PartialRecord:
    """``item`` if it is a well-formed :class:`PartialRecord` (paths and dates converted)."""
    if not isinstance(item, PartialRecord):
        raise InvalidResult(f"{type(item).__name__}, not a PartialRecord or None")

    def bad(field: str, why: str) -> InvalidResult:
        return InvalidResult(f"a PartialRecord whose {field} is invalid: {why}")

    if not isinstance(item.source, str) or not item.source:
        raise bad("source", f"{safe_repr(item.source)}, not a reader name")
    if isinstance(item.file, os.PathLike):
        item.file = os.fspath(item.file)  # type: ignore[assignment]  # str for a str path
    if not isinstance(item.file, str):
        raise bad("file", f"{type(item.file).__name__}, not a path")
    for field in ("data", "evidence"):
        value = getattr(item, field)
        if not isinstance(value, Mapping):
            raise bad(field, f"{type(value).__name__}, not a mapping")
        try:
            setattr(item, field, json_value(value, field))
        except InvalidResult as exc:
            raise bad(field, str(exc)) from None
    if isinstance(item.unknown, (set, frozenset)):  # a set of paths: same meaning
        item.unknown = sorted(item.unknown, key=str)
    elif isinstance(item.unknown, tuple):
        item.unknown = list(item.unknown)
    if not isinstance(item.unknown, list) or not all(isinstance(p, str) for p in item.unknown):
        raise bad("unknown", "not a list of field paths (strings such as 'talent[0].consent')")
    if not isinstance(item.volatile, bool):
        raise bad("volatile", f"{type(item.volatile).__name__}, not True or False")
    if not isinstance(item.issues, list) or not all(
        isinstance(i, ProvenanceIssue)
        and isinstance(i.file, str)
        and isinstance(i.field, str)
        and isinstance(i.message, str)
        for i in item.issues
    ):
        raise bad("issues", "not a list of ProvenanceIssue(file, field, message) of strings")
    return item


def checked_approval(item: Any) -> ApprovalMatch:
    """``item`` if it is a well-formed :class:`ApprovalMatch` (a date ``expires`` converted;
    a text one must read as a date, as ``approvals.yaml``'s do)."""
    if not isinstance(item, ApprovalMatch):
        raise InvalidResult(f"{type(item).__name__}, not an ApprovalMatch or None")

    def bad(field: str, why: str) -> InvalidResult:
        return InvalidResult(f"an ApprovalMatch whose {field} is invalid: {why}")

    if not isinstance(item.id, str) or not item.id:
        raise bad("id", f"{safe_repr(item.id)}, not an approval id")
    if not isinstance(item.expired, bool):
        raise bad("expired", f"{type(item.expired).__name__}, not True or False")
    if isinstance(item.expires, (_dt.date, _dt.datetime)):
        item = replace(item, expires=item.expires.isoformat())
    if isinstance(item.approved_at, (_dt.date, _dt.datetime)):
        item = replace(item, approved_at=item.approved_at.isoformat())
    for field in ("expires", "approved_by", "document", "approved_at"):
        value = getattr(item, field)
        if value is not None and not isinstance(value, str):
            raise bad(field, f"{type(value).__name__}, not a string or None")
    for name in ("expires", "approved_at"):
        # an expiry nobody can read is unsure, never an approval that has not expired; a
        # start nobody can read, never an approval already in effect
        when = getattr(item, name)
        if when is not None and as_date(when) is None:
            raise bad(name, f"{when!r}, not a date (YYYY-MM-DD, or ISO 8601 date and time)")
    return item


def json_value(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` as the audit log and the reports can hold it, or :class:`InvalidResult`
    naming the field (``evidence.frames[2]``).

    Strings, booleans, ``None``, finite numbers, lists and mappings are kept (a key that is
    not a string becomes ``str(key)``, as for YAML documents); a tuple becomes a list, a set
    a sorted list, a path (``os.PathLike``) its string, a date, time or datetime its ISO
    8601 text, an enum member its value, and a number type of another library (numpy's) an
    ``int`` or ``float``. Anything else, ``NaN`` and infinities included, is refused.
    """
    kind = type(value)
    if kind is str or kind is bool or kind is int or value is None:
        return value
    if kind is float:
        if math.isfinite(value):
            return value
        raise InvalidResult(f"{where}: {value!r} is not a JSON number")
    if depth >= MAX_DEPTH:
        raise InvalidResult(f"{where}: nested more than {MAX_DEPTH} levels deep")
    depth += 1
    if isinstance(value, Mapping):
        return {
            key if isinstance(key, str) else str(key): json_value(item, f"{where}.{key}", depth)
            for key, item in value.items()
        }
    if isinstance(value, enum.Enum):
        return json_value(value.value, where, depth)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [json_value(item, f"{where}[{i}]", depth) for i, item in enumerate(value)]
    if isinstance(value, (set, frozenset)):
        items = [json_value(item, f"{where}[]", depth) for item in value]
        return sorted(items, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(value, os.PathLike):
        path = os.fspath(value)
        if isinstance(path, str):
            return path
    if isinstance(value, (_dt.date, _dt.time)):  # a datetime is a date
        return value.isoformat()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return json_value(float(value), where, depth)
    raise InvalidResult(
        f"{where}: {kind.__name__} cannot be written to the audit log (use strings, numbers, "
        "booleans, None, lists and mappings; paths, dates, sets and tuples are converted)"
    )
