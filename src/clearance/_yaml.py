"""Safe loading of YAML and JSON documents written by users (sidecars, configs).

YAML is loaded only with PyYAML's safe C loader. Documents over :data:`MAX_BYTES` are
refused before they are read, and alias expansion is bounded: a document whose aliases
would expand to more than :data:`MAX_EXPANDED_NODES` nodes (a "billion laughs" bomb) is
refused without being constructed. Dates become ISO strings, so JSON Schema sees what the
user wrote.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from typing import Any

import yaml

try:
    _Loader: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Loader = yaml.SafeLoader

MAX_BYTES = 1024 * 1024
MAX_EXPANDED_NODES = 10_000

__all__ = ["DocumentError", "load_document", "parse_document", "MAX_BYTES"]


class DocumentError(Exception):
    """A document that cannot be read: the message says why (the caller names the file)."""


def load_document(path: str | os.PathLike[str], *, max_bytes: int = MAX_BYTES) -> Any:
    """Read and parse a YAML or JSON file, refusing oversized files and alias bombs."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:  # one open, one fstat: this runs once per sidecar
            size = os.fstat(fh.fileno()).st_size
            if size > max_bytes:
                raise DocumentError(f"file is {size} bytes; the limit is {max_bytes} bytes")
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(exc.strerror or str(exc)) from None
    if len(data) > max_bytes:  # grew between stat and read
        raise DocumentError(f"file is over {max_bytes} bytes")
    return parse_document(data, json_only=name.lower().endswith(".json"))


def parse_document(data: bytes | str, *, json_only: bool = False) -> Any:
    text = data.decode("utf-8") if isinstance(data, bytes) else data
    if json_only:
        try:
            return json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise DocumentError(f"invalid JSON: {exc}") from None
    if "*" in text:  # aliases are written "*name": only then is the expansion check needed
        _check_alias_expansion(text)
    try:
        return _load_fast(text)
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {_yaml_reason(exc)}") from None
    except RecursionError:
        raise DocumentError("invalid YAML: nesting too deep") from None


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"


class _Fallback(Exception):
    """The document uses a YAML feature the fast builder leaves to PyYAML (merge keys, tags)."""


def _load_fast(text: str) -> Any:
    """PyYAML's safe C loader, with a leaner constructor for plain documents.

    The C parser composes the node graph exactly as ``yaml.load(Loader=CSafeLoader)`` does;
    plain maps, sequences and strings are then built directly (scalars of other types go
    through PyYAML's own safe constructors, so ints, floats, bools, nulls and dates mean the
    same). Anything else — merge keys, explicit tags, complex keys — is built by PyYAML's
    constructor itself, so the result is always what the safe loader gives.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        try:
            return _build(loader, node, {})
        except _Fallback:
            return _normalise(loader.construct_document(node))
    finally:
        loader.dispose()


def _build(loader: Any, node: Any, memo: dict[int, Any]) -> Any:
    known = memo.get(id(node))
    if known is not None:
        return known
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        if tag == _STR:
            return node.value
        constructor = loader.yaml_constructors.get(tag)
        if constructor is None:
            raise _Fallback
        return _normalise(constructor(loader, node))
    if isinstance(node, yaml.SequenceNode) and tag == _SEQ:
        items: list[Any] = []
        memo[id(node)] = items
        items.extend(_build(loader, child, memo) for child in node.value)
        return items
    if isinstance(node, yaml.MappingNode) and tag == _MAP:
        mapping: dict[Any, Any] = {}
        memo[id(node)] = mapping
        for key_node, value_node in node.value:
            if key_node.tag != _STR:
                raise _Fallback  # merge keys, non-string keys: PyYAML's semantics
            mapping[key_node.value] = _build(loader, value_node, memo)
        return mapping
    raise _Fallback


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


def _check_alias_expansion(text: str) -> None:
    """Count the nodes the document would have with every alias expanded."""
    sizes: dict[str, int] = {}
    stack: list[list[Any]] = []  # [anchor, count]
    total = 0
    try:
        for event in yaml.parse(text, Loader=_Loader):
            if isinstance(event, yaml.AliasEvent):
                n = sizes.get(event.anchor or "", 1)
                total += n
                if stack:
                    stack[-1][1] += n
            elif isinstance(event, yaml.ScalarEvent):
                total += 1
                if event.anchor:
                    sizes[event.anchor] = 1
                if stack:
                    stack[-1][1] += 1
            elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                stack.append([event.anchor, 1])
            elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                anchor, count = stack.pop()
                total += 1
                if anchor:
                    sizes[anchor] = count
                if stack:
                    stack[-1][1] += count
            if total > MAX_EXPANDED_NODES:
                raise DocumentError(
                    f"YAML aliases expand to more than {MAX_EXPANDED_NODES} nodes; refused"
                )
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {_yaml_reason(exc)}") from None


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, str) else k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, _dt.datetime):
        return value.isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    return value
