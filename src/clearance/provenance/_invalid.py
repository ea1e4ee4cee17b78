"""What an invalid sidecar field means to the rules: *unknown*, field by field.

A sidecar field that is present but invalid (``union_impact: actors``, a talent entry with a
misspelled ``concent:``, ``class: bogus`` in one input of one step) must never read as "not
involved": that would be more lenient than writing ``unknown``. :func:`usable_fields` keeps
everything that validated and turns each invalid field into the narrowest *unknown* the
structure allows:

* a value whose field takes ``unknown`` (tri-state fields, ``union_impact``, an input's
  ``class``) becomes ``unknown``, as if it had been written, and so does such a field that
  is required but missing (an input with no ``class``);
* a mapping of the wrong type (``output: final``) becomes a mapping that says nothing, with
  its tri-state fields ``unknown``; a list entry of the wrong type (``talent: [P-2]``) too,
  so the entries around it keep their places and are checked;
* any other invalid value is left out of the record, and so is a site extension (``x-``)
  with a value parsing refused in it;
* a key the schema does not know is left out. When it is close to the name of a field its
  mapping does not give (``concent`` for ``consent``), that field is unknown; otherwise every
  field of that mapping that is not given and whose value it could be (a list for a list
  field, a value of a field's ``enum`` for that field, ...) is unknown (it may have been
  meant as any of them), and those that take ``unknown`` are written so.

Every field made unknown this way is listed (its path, as ``PRV-02`` names it): rules read a
listed field that is absent as unsure (:meth:`clearance.model.ProvenanceRecord.is_unknown`),
never as "not involved". The document itself is never changed.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any

from .._resources import schema as load_schema
from .._yaml import format_path

__all__ = ["usable_fields", "UNKNOWN"]

#: How the record says a field is unknown (as a sidecar writes it).
UNKNOWN = "unknown"

_DROP: Any = object()  # a value left out of the record


def usable_fields(
    data: dict[str, Any], errors: Iterable[tuple[str, str]], schema_name: str
) -> tuple[dict[str, Any], list[str]]:
    """``data`` with each invalid field made unknown, and the paths of the fields made so.

    :param errors: ``(field path, reason)`` as :func:`clearance.policy.schema_errors` gives.
    """
    bad = {path for path, _ in errors}
    if not bad:
        return data, []
    root = load_schema(schema_name)
    walk = _Walk(root, bad)
    cleaned = walk.mapping(data, [], "", root)
    # a field reported but not in the document (a required field that is missing); not what
    # is under a key the schema does not know (that key is left out whole)
    unknown = walk.unknown + [
        p for p in bad - walk.seen if p and not any(_at_or_under(p, s) for s in walk.strays)
    ]
    return cleaned, sorted(set(unknown))


def _at_or_under(path: str, field: str) -> bool:
    return path == field or path.startswith((field + ".", field + "["))


class _Walk:
    def __init__(self, root: dict[str, Any], bad: set[str]) -> None:
        self.root = root
        self.bad = bad
        self.seen: set[str] = set()
        self.unknown: list[str] = []
        self.strays: list[str] = []  # keys the schema does not know, left out
        # every path an error is at or under: the only subtrees that need copying
        self.touched: set[str] = {""}
        for path in bad:
            for i, ch in enumerate(path):
                if ch in ".[":
                    self.touched.add(path[:i])
            self.touched.add(path)

    def resolve(self, node: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 16:
            ref = node["$ref"]
            # ``#/$defs/x``, or the same made absolute (``https://…/provenance.schema.json#/$defs/x``:
            # a schema compiler may have rewritten it in the shared parsed document)
            fragment = ref.partition("#")[2] if isinstance(ref, str) else ""
            if not fragment.startswith("/"):
                return {}
            target: Any = self.root
            for part in fragment[1:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            node, seen = target, seen + 1
        return node if isinstance(node, dict) else {}

    def value(self, node: Any, parts: list[Any], path: str, schema: Any) -> Any:
        if path not in self.touched:
            return node
        self.seen.add(path)
        spec = self.resolve(schema)
        is_object = spec.get("type") == "object"
        if path in self.bad and not (is_object and isinstance(node, dict)):
            # the value itself is invalid (an error at a mapping's own path that is a
            # mapping is about its keys: handled there)
            return self.invalid(path, spec)
        if isinstance(node, dict) and is_object:
            return self.mapping(node, parts, path, spec)
        if isinstance(node, list) and spec.get("type") == "array":
            items = spec.get("items", {})
            out = []
            for i, item in enumerate(node):
                kept = self.value(item, [*parts, i], format_path([*parts, i]), items)
                if kept is not _DROP:  # an invalid plain entry (``allowed_purposes: [3]``)
                    out.append(kept)
            return out
        if path in self.bad:
            return self.invalid(path, spec)
        return node

    def invalid(self, path: str, spec: dict[str, Any]) -> Any:
        self.unknown.append(path)
        if UNKNOWN in (spec.get("enum") or ()):
            return UNKNOWN
        if spec.get("type") == "object":
            return self.filled({}, spec)
        return _DROP

    def filled(self, mapping: dict[str, Any], spec: dict[str, Any], only: str = "") -> dict:
        """``mapping`` with its absent fields that have an unknown state written ``unknown``
        (only the field ``only``, when given)."""
        for name, sub in (spec.get("properties") or {}).items():
            if name in mapping or (only and name != only):
                continue
            if UNKNOWN in (self.resolve(sub).get("enum") or ()):
                mapping[name] = UNKNOWN
        return mapping

    def mapping(
        self, node: dict[str, Any], parts: list[Any], path: str, spec: dict[str, Any]
    ) -> dict[str, Any]:
        spec = self.resolve(spec)
        props = spec.get("properties") or {}
        out: dict[str, Any] = {}
        strays: list[tuple[str, Any]] = []
        for key, item in node.items():
            key_parts = [*parts, key]
            key_path = format_path(key_parts)
            if key in props:
                kept = self.value(item, key_parts, key_path, props[key])
            elif isinstance(key, str) and key.startswith("x-"):
                # a site extension: never checked, but a value parsing refused in it (an
                # impossible date, a key given twice) leaves it out whole, not half-read
                kept = item
                if key_path in self.touched:
                    self.seen.update(p for p in self.bad if _at_or_under(p, key_path))
                    self.unknown.append(key_path)
                    kept = _DROP
            elif key_path in self.bad or path in self.bad:
                self.seen.add(key_path)
                self.strays.append(key_path)
                strays.append((str(key), item))
                continue
            elif key_path in self.touched:  # an error under a key the schema does not
                # describe here (it could not be followed): left out whole, and unknown
                self.seen.update(p for p in self.bad if _at_or_under(p, key_path))
                self.unknown.append(key_path)
                kept = _DROP
            else:  # an unknown key no error names (not in this schema): kept as it was
                kept = item
            if kept is not _DROP:
                out[key] = kept
        for name, sub in props.items():
            # a required field that is missing (an input with no ``class``): one that takes
            # ``unknown`` is written so, as an invalid value of it is
            if name in node:
                continue
            name_path = format_path([*parts, name])
            if name_path in self.bad and UNKNOWN in (self.resolve(sub).get("enum") or ()):
                self.seen.add(name_path)
                self.unknown.append(name_path)
                out[name] = UNKNOWN
        for stray, item in strays:
            self.stray(stray, item, out, parts, spec)
        return out

    def stray(
        self, key: str, item: Any, out: dict[str, Any], parts: list[Any], spec: dict[str, Any]
    ) -> None:
        """A key the schema does not know: what field it may have been meant as is unknown.

        The field its name is close to; else any field not given whose value it could be
        (a list for a list field, a mapping for a mapping field, a value of a field's list
        for that field): ``notes: "hand painted"`` was never meant as ``talent`` or
        ``union_impact``, ``performers: [...]`` may have been meant as ``talent``."""
        props = spec.get("properties") or {}
        absent = [name for name in props if name not in out]
        meant = difflib.get_close_matches(key, absent, n=1, cutoff=0.6)
        if not meant:
            meant = [name for name in absent if self.could_be(item, props[name])]
        for name in meant:  # the field it was meant as, or any it may have been
            self.unknown.append(format_path([*parts, name]))
            if UNKNOWN in (self.resolve(props[name]).get("enum") or ()):
                out[name] = UNKNOWN

    def could_be(self, value: Any, schema: Any, depth: int = 0) -> bool:
        """Could ``value`` be written for a field of ``schema``, by its kind (a list, a
        mapping, text, a number, true or false, null) or, for a field with a list of
        values, as one of them? Its content is not checked: a list meant as ``talent``
        may be wrong in every entry."""
        spec = self.resolve(schema)
        for key in ("anyOf", "oneOf"):
            if key in spec and depth < 8:
                return any(self.could_be(value, sub, depth + 1) for sub in spec[key])
        for key in ("enum", "const"):
            if key in spec:
                allowed = spec[key] if key == "enum" else [spec[key]]
                return any(type(v) is type(value) and v == value for v in allowed)
        types = spec.get("type")
        if types is None:
            return True
        return _json_type(value) in ([types] if isinstance(types, str) else types) or (
            _json_type(value) == "integer" and "number" in types
        )


def _json_type(value: Any) -> str:
    """The JSON Schema type name of a parsed YAML or JSON value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"  # a date or datetime YAML read: written as text in JSON
