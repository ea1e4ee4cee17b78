"""Safe loading of YAML and JSON documents written by users (sidecars, configs).

YAML is loaded only with PyYAML's safe C loader. Documents over :data:`MAX_BYTES` are
refused before they are read, and alias expansion is bounded: a document whose aliases
would add more than :data:`MAX_EXPANDED_NODES` nodes (a "billion laughs" bomb) or
:data:`MAX_EXPANDED_TEXT` characters to it is refused without being constructed; so are
collections nested deeper than :data:`MAX_DEPTH` and a document that contains itself
(``x-a: &a {b: *a}``). Dates become ISO strings, so JSON
Schema sees what the user wrote. Whatever a document gets wrong is a :class:`DocumentError`
naming the line and, where known, the field: bytes that are not UTF-8, a scalar PyYAML's
constructors refuse (an unquoted impossible date, ``expires: 2027-02-30``), and a key given
twice in one mapping (YAML or JSON: both parsers would keep the last one silently). A caller
that lists every error of a file (a sidecar, ``clearance validate``) passes ``field_errors``:
such a scalar or key is then an error of its field only, and the rest of the document is read.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from itertools import accumulate
from typing import Any

import yaml

try:
    _Base: type = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - PyYAML built without libyaml
    _Base = yaml.SafeLoader

_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_MERGE = "tag:yaml.org,2002:merge"

#: bound on the memos below: values come from users' files, so the memos must not grow with a
#: show (keys, enums and booleans repeat; ids, hashes and prompts mostly do not)
_MEMO_LIMIT = 20_000


def _implicit_table(loader: Any) -> dict[str, list[tuple[str, Any]]]:
    """The loader's implicit resolvers by first character, wildcard ones appended (the order
    ``Resolver.resolve`` tries them in)."""
    table = loader.yaml_implicit_resolvers
    wildcard = list(table.get(None, []))
    return {first: list(found) + wildcard for first, found in table.items() if first is not None}


class _InvalidScalar:
    """In a document being built: a scalar PyYAML's constructor refused (``2026-02-30``).

    It stands in the document until :func:`_take_invalid` finds its field path and puts the
    scalar's text in its place; both builders make it, so both give the same errors.
    """

    __slots__ = ("node", "exc")

    def __init__(self, node: Any, exc: Exception) -> None:
        self.node = node
        self.exc = exc


#: what a safe constructor raises for a scalar it refuses: ValueError and OverflowError from
#: int(), float() and datetime (``2026-02-30``); KeyError (``!!bool maybe``) and AttributeError
#: (``!!timestamp soon``) from PyYAML's own look-ups
_SCALAR_REFUSED = (ValueError, OverflowError, KeyError, AttributeError)


class _Constructing(_Base):  # type: ignore[misc, valid-type]
    """The safe loader, with a scalar its constructor refuses built as an :class:`_InvalidScalar`
    (listed in ``invalid``) rather than ending the document."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self.invalid: list[_InvalidScalar] = []
        #: mappings the fast builders built with fewer keys than their node has (a key given
        #: twice), with their nodes: :func:`_duplicates_in` says where
        self.duplicates: list[tuple[dict[Any, Any], Any]] = []

    def construct_object(self, node: Any, deep: bool = False) -> Any:
        if not isinstance(node, yaml.ScalarNode) or node.tag == _STR:
            return super().construct_object(node, deep)
        try:
            return super().construct_object(node, deep)
        except _SCALAR_REFUSED as exc:
            self.recursive_objects.pop(node, None)
            self.constructed_objects[node] = bad = _InvalidScalar(node, exc)
            self.invalid.append(bad)
            return bad


class _MemoLoader(_Constructing):
    """The safe loader, resolving plain scalars with a memo.

    Composing a node calls ``resolve`` (and the path-resolver hooks) once per node; PyYAML's
    version builds a list and runs up to four regular expressions per scalar. This one gives
    the same tag, because the safe loader's tag for a plain scalar depends only on its text
    (it has no path resolvers): the answer per text is remembered. Keys, enums and booleans
    repeat across sidecars, so most scalars are one dictionary look-up.
    """

    _tags: dict[str, str] = {}
    _table = _implicit_table(_Base)

    def resolve(
        self,
        kind: Any,
        value: Any,
        implicit: Any,
        _scalar: Any = yaml.ScalarNode,  # bound once: the C composer calls this per node
        _sequence: Any = yaml.SequenceNode,
    ) -> Any:
        if kind is _scalar:
            if not implicit[0]:
                return _STR
            tags = self._tags
            tag = tags.get(value)
            if tag is None:
                tag = _STR
                for candidate, regexp in self._table.get(value[:1], ()):
                    if regexp.match(value):
                        tag = candidate
                        break
                if len(tags) >= _MEMO_LIMIT:
                    tags.clear()
                tags[value] = tag
            return tag
        return _SEQ if kind is _sequence else _MAP

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        pass  # no path resolvers: nothing to track

    def ascend_resolver(self) -> None:
        pass


# a loader given path resolvers (yaml.add_path_resolver) keeps PyYAML's own resolution
_Loader: Any = _Constructing if getattr(_Base, "yaml_path_resolvers", None) else _MemoLoader


MAX_BYTES = 1024 * 1024
#: nodes aliases may add to a document when expanded (its own nodes are bounded by MAX_BYTES)
MAX_EXPANDED_NODES = 10_000
#: characters of text (scalars, keys included) aliases may add to a document when expanded:
#: a few nodes can carry a lot of it (one 100 KB scalar aliased 9,000 times is 900 MB)
MAX_EXPANDED_TEXT = 1024 * 1024
#: collections nested deeper than this (aliases followed) are refused: PyYAML's parser stops
#: at 1,000, and what reads a document after it (JSON, ``repr``, pickling for the workers)
#: recurses once a level under the interpreter's limit of 1,000 frames
MAX_DEPTH = 500

__all__ = [
    "DocumentError",
    "NOT_SHOWN",
    "format_path",
    "never_shown",
    "load_document",
    "parse_document",
    "read_limited",
    "yaml_text",
    "MAX_BYTES",
    "MAX_DEPTH",
    "MAX_EXPANDED_NODES",
    "MAX_EXPANDED_TEXT",
]


#: a JSON escape of a UTF-16 surrogate (only a pair of them is a character)
_LONE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class DocumentError(Exception):
    """A document that cannot be read: the message says why (the caller names the file).

    :ivar field: the field path of the problem (``approvals.APR-1.expires``), or ``""``.
    :ivar reason: why, without the field.
    """

    def __init__(self, reason: str, field: str = "") -> None:
        self.reason = reason
        self.field = field
        super().__init__(f"{field}: {reason}" if field else reason)


class DocumentReadError(DocumentError):
    """The file could not be read (permissions, an I/O error, a folder or a named pipe
    where the file was): not a verdict on its content, and trying again may succeed."""


def format_path(parts: Iterable[Any]) -> str:
    """``["stages", 2, "paths"]`` → ``stages[2].paths``."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def never_shown(path: Sequence[Any]) -> bool:
    """Must a message leave out the value at ``path`` (keys and indexes, outermost first)?

    Prompt text is never written anywhere in clear (DESIGN.md): not by a step's ``prompt``
    or anything under it, nor by a step or ``steps`` themselves, which hold it when they are
    not the shape the schema expects (``steps: ["a cat at dusk"]``). Such a value is
    described by its type only (:data:`NOT_SHOWN`).
    """
    return bool(path) and path[0] == "steps" and (len(path) <= 2 or path[2] == "prompt")


#: said instead of a value :func:`never_shown` leaves out
NOT_SHOWN = "not shown: prompt text is never logged"


class _BadNode(Exception):
    """A node the document cannot have; ``path`` is filled in, innermost key first, as the
    exception leaves the containers that hold it."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.path: list[Any] = []

    @property
    def reason(self) -> str:
        return "invalid YAML"


#: the reason a document that contains itself (``x-a: &a {b: *a}``) is refused: JSON Schema,
#: JSON and the audit log cannot hold it
SELF_REFERENCE = "invalid YAML: an alias refers to its own container"


class _OwnContainer(_BadNode):
    """An alias inside the container its anchor names."""

    @property
    def reason(self) -> str:
        mark = self.node.start_mark
        return f"{SELF_REFERENCE} (anchored on line {mark.line + 1}, column {mark.column + 1})"


def _refused_reason(bad: _InvalidScalar, path: Sequence[Any]) -> str:
    """Why the scalar at ``path`` is refused: ``invalid YAML: '2026-02-30' is not a valid date
    (day is out of range for month) (line 12, column 16)``."""
    node = bad.node
    kind = "date" if node.tag.endswith(":timestamp") else node.tag.rsplit(":", 1)[-1]
    mark = node.start_mark
    where = f"(line {mark.line + 1}, column {mark.column + 1})"
    if never_shown(path):
        return f"invalid YAML: the value is not a valid {kind} ({NOT_SHOWN}) {where}"
    if isinstance(bad.exc, (ValueError, OverflowError)):  # the value's own fault, in words
        why = str(bad.exc)
    else:  # a look-up inside PyYAML failed: its text says nothing about the value
        why = _WRITTEN.get(kind, "")
    return f"invalid YAML: {node.value!r} is not a valid {kind}{f' ({why})' if why else ''} {where}"


#: how a value of a tag is written, for a scalar PyYAML refused in one of its own look-ups
#: (``!!timestamp soon``: an AttributeError on a failed match; ``!!bool maybe``: a KeyError)
_WRITTEN = {
    "date": "written YYYY-MM-DD, or an ISO 8601 date and time",
    "bool": "true or false, yes or no, on or off",
}


def _index_of(children: list[Any], bad: Any) -> int:
    """The index of the child of a sequence node that holds the node ``bad``."""
    where = bad.start_mark.index
    for index, child in enumerate(children):
        if child is bad or child.start_mark.index <= where < child.end_mark.index:
            return index
    return 0  # pragma: no cover - the bad node is always inside one child


def load_document(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = MAX_BYTES,
    st: os.stat_result | None = None,
    field_errors: list[tuple[str, str]] | None = None,
) -> Any:
    """Read and parse a YAML or JSON file, refusing oversized files and alias bombs.

    :param st: ``os.stat(path)`` if the caller took it (see :func:`read_limited`).
    :param field_errors: see :func:`parse_document`.
    """
    name = os.fspath(path)
    data = read_limited(name, max_bytes, st)
    return parse_document(data, json_only=name.lower().endswith(".json"), field_errors=field_errors)


def read_limited(
    path: str | os.PathLike[str], max_bytes: int = MAX_BYTES, st: os.stat_result | None = None
) -> bytes:
    """The bytes of ``path``, refusing a file over ``max_bytes`` (:class:`DocumentError`).

    This runs once per sidecar, so it makes three or four system calls (open, fstat unless
    the caller passes the file's ``st``, read, close); Python's buffered ``open()`` adds three
    more and a read buffer the size of the limit. A stale ``st`` is harmless: the size it
    gives is only where the read expects the end, and a file that grew is read on. A named
    pipe put where the file was is opened without blocking (``O_NONBLOCK``, which a regular
    file ignores): it reads as empty or fails, and never hangs the run.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise DocumentReadError(exc.strerror or str(exc)) from None
    try:
        if st is None:
            st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise DocumentReadError(os.strerror(errno.EISDIR))  # what open() would have said
        if not stat.S_ISREG(st.st_mode):  # opened without blocking (O_NONBLOCK), never read
            raise DocumentReadError("is not a regular file (a named pipe, a socket or a device)")
        size = st.st_size
        if size > max_bytes:
            raise DocumentError(f"file is {size} bytes; the limit is {max_bytes} bytes")
        # one byte more than the size: the size read is the end of the file
        chunks = [os.read(fd, size + 1)]
        got = len(chunks[0])
        while got != size and chunks[-1]:
            if got > max_bytes:
                raise DocumentError(f"file is over {max_bytes} bytes")
            # grew after fstat: read on, to the limit; or a short read (a FUSE or network
            # file system may answer with less than asked): read on to the end, never a
            # sidecar cut short
            chunks.append(os.read(fd, (max_bytes if got > size else size) + 1 - got))
            got += len(chunks[-1])
    except OSError as exc:
        raise DocumentReadError(exc.strerror or str(exc)) from None
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def parse_document(
    data: bytes | str,
    *,
    json_only: bool = False,
    field_errors: list[tuple[str, str]] | None = None,
) -> Any:
    """The document in ``data`` (YAML, or JSON only), or a :class:`DocumentError`.

    :param field_errors: a list to append (field path, reason) to for each scalar YAML
        refuses (an unquoted impossible date): the document is then returned with the
        scalar's text in its place, so the caller validates and uses the rest of it and
        reports the field. Without it, the first such scalar is a :class:`DocumentError`
        naming its field.
    """
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        assert isinstance(data, bytes)
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise DocumentError(
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} (line {line}, column {column}); "
            "save the file as UTF-8"
        ) from None
    if json_only:
        duplicates: list[tuple[int, str, str]] = []
        text = _json_text(text)
        try:
            try:  # json.loads(text, object_pairs_hook=...) would make a decoder per call
                doc = _JSON.decode(text) if text[:1] != "\ufeff" else json.loads(text)
            except _DuplicateKey:  # rare: read again, keeping the last, and say where
                doc = json.loads(text)
                duplicates = _json_duplicates(text)
        except (ValueError, RecursionError) as exc:
            raise DocumentError(f"invalid JSON: {exc}") from None
        if "\\u" in text and _LONE_SURROGATE.search(text):
            try:  # a pair (an emoji) is fine; half of one is not a character
                json.dumps(doc, ensure_ascii=False).encode("utf-8")
            except UnicodeEncodeError:
                raise DocumentError(
                    "invalid JSON: a surrogate escape (\\uD800-\\uDFFF) without its pair "
                    "is not a character"
                ) from None
        if duplicates:
            _refuse([], duplicates, field_errors)
        return doc
    try:
        document, invalid, duplicates = _load_fast(text)
        if invalid or duplicates:
            _refuse(_invalid_in(document, invalid) if invalid else [], duplicates, field_errors)
        return document
    except yaml.YAMLError as exc:
        raise DocumentError(f"invalid YAML: {_yaml_reason(exc)}") from None
    except RecursionError:  # PyYAML's pure-Python composer (no libyaml) recurses
        raise DocumentError("invalid YAML: nesting too deep") from None
    except _BadNode as exc:
        raise DocumentError(exc.reason, format_path(reversed(exc.path))) from None
    except (ValueError, OverflowError) as exc:  # a constructor of PyYAML's own (merge keys, tags)
        raise DocumentError(f"invalid YAML: {exc}") from None


def _refuse(
    invalid: list[tuple[int, str, str]],
    duplicates: list[tuple[int, str, str]],
    field_errors: list[tuple[str, str]] | None,
) -> None:
    """Report the (offset in the text, field, reason) of refused scalars and keys given
    twice: in ``field_errors``, in the order of the text; without it, the first one is a
    :class:`DocumentError`."""
    refused = [(field, reason) for _, field, reason in sorted({*invalid, *duplicates})]
    if field_errors is None:
        raise DocumentError(refused[0][1], refused[0][0])
    field_errors.extend(refused)


#: in JSON text: a string, escapes and all; a run of what is not a bracket; a token that counts
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.S)
_NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}


def _json_text(text: str) -> str:
    """The text ``json.loads`` is to read: without a leading UTF-8 byte-order mark (which
    PowerShell and .NET write, and YAML skips), and refused if its arrays and objects nest
    deeper than :data:`MAX_DEPTH`, as YAML's are (the same message, with the line and column).
    """
    if text.startswith("\ufeff"):
        text = text[1:]
    # valid JSON nested deeper opens and closes more than MAX_DEPTH brackets (and invalid JSON
    # is refused by json.loads): only then are they counted, outside strings
    if len(text) > 2 * MAX_DEPTH and text.count("[") + text.count("{") > MAX_DEPTH:
        brackets = _NOT_BRACKETS.sub("", _JSON_STRING.sub("", text))
        if max(accumulate(map(_NESTING.__getitem__, brackets)), default=0) > MAX_DEPTH:
            raise _json_too_deep(text)
    return text


def _json_too_deep(text: str) -> DocumentError:
    """The error for JSON text nested past :data:`MAX_DEPTH`, naming where it goes past."""
    depth = 0
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        if token == "[" or token == "{":
            depth += 1
            if depth > MAX_DEPTH:
                at = match.start()
                line = text.count("\n", 0, at) + 1
                column = at - (text.rfind("\n", 0, at) + 1) + 1
                return DocumentError(
                    f"invalid JSON: nested more than {MAX_DEPTH} levels deep "
                    f"(line {line}, column {column})"
                )
        elif token == "]" or token == "}":
            depth -= 1
    return DocumentError(f"invalid JSON: nested more than {MAX_DEPTH} levels deep")


class _Fallback(Exception):
    """The document uses a YAML feature the fast builder leaves to PyYAML (merge keys, tags)."""


def _load_fast(text: str) -> tuple[Any, list[_InvalidScalar], list[tuple[int, str, str]]]:
    """PyYAML's safe C loader, with a leaner constructor for plain documents.

    The C parser composes the node graph exactly as ``yaml.load(Loader=CSafeLoader)`` does;
    plain maps, sequences and strings are then built directly (scalars of other types go
    through PyYAML's own safe constructors, so ints, floats, bools, nulls and dates mean the
    same). Anything else — merge keys, explicit tags, complex keys — is built by PyYAML's
    constructor itself, so the result is always what the safe loader gives (or a
    :class:`DocumentError`: nesting past :data:`MAX_DEPTH`, a document that contains itself).
    Both builders put an :class:`_InvalidScalar` where a scalar is refused, and list it;
    keys given twice in a mapping are returned as (offset in the text, field, reason).
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, [], []
        # aliases are written "*name": without a "*" no node is reached twice, so neither the
        # bound on what aliases add nor the builder's memo is needed
        aliased = "*" in text and _check_aliases(node)
        try:
            built = _build(loader, node, {}) if aliased else _build_tree(loader, node)
            duplicates = _duplicates_in(built, loader.duplicates) if loader.duplicates else []
        except (_Fallback, RecursionError):
            # PyYAML's constructor does not recurse; the fast builders do, so they may run
            # out of frames before MAX_DEPTH when called deep in a stack
            loader.invalid.clear()  # what the fast builder made is not in this document
            loader.duplicates.clear()
            duplicates = _node_duplicates(loader, node)  # before merge keys are flattened
            built = _normalise(loader.construct_document(node))
        return built, loader.invalid, duplicates
    finally:
        loader.dispose()


#: scalars of other tags (bools, ints, floats, nulls, dates) built before, by (tag, text)
_SCALARS: dict[Any, Any] = {}
_IMMUTABLE = (bool, int, float, str, type(None))


def _scalar(loader: Any, node: Any, tag: str) -> Any:
    """A scalar node of another tag than ``str``, built as PyYAML's safe constructor does."""
    key = (tag, node.value)
    value = _SCALARS.get(key, _SCALARS)
    if value is _SCALARS:
        constructor = loader.yaml_constructors.get(tag)
        if constructor is None:
            raise _Fallback
        try:
            value = _normalise(constructor(loader, node))
        except _SCALAR_REFUSED as exc:  # 2027-02-30: datetime refuses the day
            bad = _InvalidScalar(node, exc)
            loader.invalid.append(bad)
            return bad
        if isinstance(value, _IMMUTABLE):  # the same text and tag build the same value
            if len(_SCALARS) >= _MEMO_LIMIT:
                _SCALARS.clear()
            _SCALARS[key] = value
    return value


_ScalarNode, _SequenceNode, _MappingNode = yaml.ScalarNode, yaml.SequenceNode, yaml.MappingNode


def _too_deep(node: Any) -> DocumentError:
    mark = node.start_mark
    return DocumentError(
        f"invalid YAML: nested more than {MAX_DEPTH} levels deep "
        f"(line {mark.line + 1}, column {mark.column + 1})"
    )


def _build_tree(loader: Any, node: Any, depth: int = 1) -> Any:
    """:func:`_build` for a document without aliases (a tree): the common case, and the
    fastest — string scalars, most of a sidecar, are taken without a call."""
    tag = node.tag
    kind = type(node)
    if depth > MAX_DEPTH and kind is not _ScalarNode:
        raise _too_deep(node)
    if kind is _MappingNode and tag == _MAP:
        mapping: dict[Any, Any] = {}
        try:
            for key_node, value_node in node.value:
                if key_node.tag != _STR:
                    raise _Fallback  # merge keys, non-string keys: PyYAML's semantics
                if value_node.tag == _STR and type(value_node) is _ScalarNode:
                    mapping[key_node.value] = value_node.value
                else:
                    mapping[key_node.value] = _build_tree(loader, value_node, depth + 1)
        except _BadNode as exc:
            exc.path.append(key_node.value)
            raise
        if len(mapping) != len(node.value):  # a key given twice: said once the path is known
            loader.duplicates.append((mapping, node))
        return mapping
    if kind is _SequenceNode and tag == _SEQ:
        try:
            return [
                child.value
                if child.tag == _STR and type(child) is _ScalarNode
                else _build_tree(loader, child, depth + 1)
                for child in node.value
            ]
        except _BadNode as exc:
            exc.path.append(_index_of(node.value, exc.node))
            raise
    if kind is _ScalarNode:
        return node.value if tag == _STR else _scalar(loader, node, tag)
    raise _Fallback


#: in :func:`_build`'s memo: a container whose children are being built
_BUILDING = object()


def _build(loader: Any, node: Any, memo: dict[int, Any], depth: int = 1) -> Any:
    """:func:`_build_tree` for a document with aliases: a node reached twice is built once
    (``memo``), and one reached from inside itself is refused (:class:`_OwnContainer`)."""
    known = memo.get(id(node))
    if known is not None:
        if known is _BUILDING:
            raise _OwnContainer(node)
        return known
    tag = node.tag
    if isinstance(node, yaml.ScalarNode):
        return node.value if tag == _STR else _scalar(loader, node, tag)
    if depth > MAX_DEPTH:
        raise _too_deep(node)
    if isinstance(node, yaml.SequenceNode) and tag == _SEQ:
        items: list[Any] = []
        memo[id(node)] = _BUILDING
        for index, child in enumerate(node.value):
            try:
                items.append(_build(loader, child, memo, depth + 1))
            except _BadNode as exc:
                exc.path.append(index)
                raise
        memo[id(node)] = items
        return items
    if isinstance(node, yaml.MappingNode) and tag == _MAP:
        mapping: dict[Any, Any] = {}
        memo[id(node)] = _BUILDING
        for key_node, value_node in node.value:
            if key_node.tag != _STR:
                raise _Fallback  # merge keys, non-string keys: PyYAML's semantics
            try:
                mapping[key_node.value] = _build(loader, value_node, memo, depth + 1)
            except _BadNode as exc:
                exc.path.append(key_node.value)
                raise
        if len(mapping) != len(node.value):
            loader.duplicates.append((mapping, node))
        memo[id(node)] = mapping
        return mapping
    raise _Fallback


def _take_invalid(document: Any, invalid: list[_InvalidScalar]) -> list[tuple[str, str]]:
    """Put each refused scalar's text in its place in ``document``, and say where it was:
    (field path, reason) for each, in the order of the text."""
    return [(field, reason) for _, field, reason in _invalid_in(document, invalid)]


def _invalid_in(document: Any, invalid: list[_InvalidScalar]) -> list[tuple[int, str, str]]:
    """:func:`_take_invalid`, with each one's offset in the text first."""
    found: list[tuple[int, str, str]] = []  # (offset in the text, field, reason)
    seen: set[int] = set()
    replaced: list[tuple[Any, Any, str]] = []  # (container, key or index, the scalar's text)
    renamed: list[dict[Any, Any]] = []  # mappings with a refused key (PyYAML's builder only)
    # the containers being walked, outermost first: (it, its items, its key in its parent);
    # a field path is made only for a refused scalar, from their keys
    open_: list[tuple[Any, Iterator[tuple[Any, Any]], Any]] = []
    if isinstance(document, (dict, list)):
        open_.append((document, _items(document), None))
    while open_:  # the document holds no cycle (refused when built), and aliases are bounded
        container, items, _ = open_[-1]
        is_map = isinstance(container, dict)
        for key, child in items:
            name = key.node.value if isinstance(key, _InvalidScalar) else key
            for value in (key, child) if is_map else (child,):
                if isinstance(value, _InvalidScalar):
                    where = [*(parent_key for *_, parent_key in open_[1:]), name]
                    reason = _refused_reason(value, where)
                    found.append((value.node.start_mark.index, format_path(where), reason))
                    seen.add(id(value))
            if isinstance(key, _InvalidScalar):
                renamed.append(container)
            if isinstance(child, _InvalidScalar):  # replaced after the walk: aliases share it
                replaced.append((container, key, child.node.value))
            elif isinstance(child, (dict, list)):
                open_.append((child, _items(child), name))
                break  # walk the child first; this container's items go on after it
        else:  # every item walked
            open_.pop()
    for container, key, text in replaced:
        container[key] = text
    for mapping in renamed:
        pairs = list(mapping.items())
        mapping.clear()
        mapping.update((k.node.value if isinstance(k, _InvalidScalar) else k, v) for k, v in pairs)
    lost = [bad for bad in invalid if id(bad) not in seen]
    if lost:  # the whole document, or inside what the walk does not enter (a !!set, !!pairs)
        first = min(lost, key=lambda bad: bad.node.start_mark.index)
        raise DocumentError(_refused_reason(first, ()))
    return sorted(set(found))


# -- keys given twice ---------------------------------------------------------------------
# PyYAML and json both keep the last of a key given twice in one mapping, silently
# (``generated: true`` … ``generated: false``). The fast builders notice one by the size of
# what they built (one ``len`` per mapping); where it is, and every key given twice, is
# worked out only then.

#: a key that may be named in a message under a prompt (a field name, not prompt text)
FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,39}")


def _duplicate_key(
    path: tuple[Any, ...], key: Any, where: Sequence[tuple[int, int, int]], kind: str = "YAML"
) -> tuple[int, str, str]:
    """(offset of the second, field, reason) for ``key`` given more than once in the mapping
    at ``path``; ``where``: (offset, line, column) of each, in the order of the text."""
    hidden = never_shown((*path, key)) and not FIELD_NAME.fullmatch(str(key))
    places = [f"line {line}, column {column}" for _, line, column in where]
    said = ", ".join(places[:-1]) + " and " + places[-1]
    shown = f"({NOT_SHOWN})" if hidden else repr(key)
    field = format_path(path if hidden else (*path, key))
    reason = f"invalid {kind}: duplicate key {shown} ({said}): give each key once"
    return where[1][0], field, reason


def _path_of(place: Any) -> tuple[Any, ...]:
    """The field path of a place: (the parent's place, a key) links from the document's root
    (``None``)."""
    path: list[Any] = []
    while place is not None:
        place, step = place
        path.append(step)
    return tuple(reversed(path))


def _node_places(nodes: Sequence[Any]) -> list[tuple[int, int, int]]:
    return [(n.start_mark.index, n.start_mark.line + 1, n.start_mark.column + 1) for n in nodes]


def _duplicates_in(
    document: Any, noted: list[tuple[dict[Any, Any], Any]]
) -> list[tuple[int, str, str]]:
    """Where the mappings the fast builders noted (``loader.duplicates``) are in
    ``document``, and each key they were given twice (their keys are all strings)."""
    wanted = {id(mapping) for mapping, _ in noted}
    places: dict[int, Any] = {}
    # a container and where it is: (the parent's place, its key) links, not a path per
    # container (depth x containers)
    stack: list[tuple[Any, Any]] = [(document, None)]
    while stack and len(places) < len(wanted):  # acyclic, and aliases are bounded
        value, place = stack.pop()
        if id(value) in wanted:
            places.setdefault(id(value), place)
        items = value.items() if isinstance(value, dict) else enumerate(value)
        children = [(c, (place, k)) for k, c in items if isinstance(c, (dict, list))]
        stack.extend(reversed(children))  # the first path in the order of the text
    paths = {key: _path_of(place) for key, place in places.items()}
    found = []
    for mapping, node in noted:
        keys: dict[str, list[Any]] = {}
        for key_node, _ in node.value:
            keys.setdefault(key_node.value, []).append(key_node)
        for key, nodes in keys.items():
            if len(nodes) > 1:
                found.append(_duplicate_key(paths[id(mapping)], key, _node_places(nodes)))
    return found


def _node_duplicates(loader: Any, root: Any) -> list[tuple[int, str, str]]:
    """Keys given twice in the mappings of the node graph at ``root``, for a document PyYAML's
    constructor builds (merge keys, tags, keys that are not strings). Keys are compared as
    the document will have them (:func:`_same_keys`); a key a merge key brings in may be given
    again (that is what merging is for)."""
    found: list[tuple[int, str, str]] = []
    seen: set[int] = set()
    # a node and where it is: (the parent's place, its key) links, a path made only for a
    # duplicate (a path per node would be depth x nodes)
    stack: list[tuple[Any, Any]] = [(root, None)]
    while stack:
        node, place = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            stack.extend(reversed([(child, (place, i)) for i, child in enumerate(node.value)]))
            continue
        if not isinstance(node, yaml.MappingNode):
            continue
        # per key as the built mapping holds it (the first of those equal to it): its text in
        # the document, and the nodes that gave it
        keys: dict[Any, tuple[str, list[Any]]] = {}
        children: list[tuple[Any, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                children.append((value_node, place))
                continue
            built = _built_key(loader, key_node)
            if built is None:
                children.append((value_node, (place, None)))
                continue
            text, nodes = keys.setdefault(built[0], (built[1], []))
            nodes.append(key_node)
            children.append((value_node, (place, text)))  # named as the document has it
        stack.extend(reversed(children))  # the first path in the order of the text
        for text, nodes in _same_keys(keys.values()):
            found.append(_duplicate_key(_path_of(place), text, _node_places(nodes)))
    return found


def _same_keys(keys: Iterable[tuple[str, list[Any]]]) -> Iterator[tuple[str, list[Any]]]:
    """The keys of one mapping given more than once, each with its nodes in the order of the
    text, from the keys the built mapping holds (its text, the nodes that gave it).

    Two key nodes are one key if the built mapping merges them (Python equality: ``1``,
    ``1.0`` and ``true`` are one key, named ``1`` as the first is), or if what it holds for
    them becomes the same string when the document is normalised (``1`` and ``'1'``).
    """
    by_text: dict[str, list[Any]] = {}
    for text, nodes in keys:
        by_text.setdefault(text, []).extend(nodes)
    for text, nodes in by_text.items():
        if len(nodes) > 1:
            yield text, sorted(nodes, key=lambda n: n.start_mark.index)


def _built_key(loader: Any, node: Any) -> tuple[Any, str] | None:
    """A key node as the built mapping has it, and as the document has it (:func:`_normalise`);
    None for a key that is not a scalar (PyYAML refuses it when it builds the mapping)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    if node.tag == _STR:
        return node.value, str(node.value)
    key = loader.construct_object(node)  # memoised: the constructor builds it once
    if isinstance(key, _InvalidScalar):  # equal to itself only, named as written
        return key, str(node.value)
    text = _leaf(key)
    return key, text if isinstance(text, str) else yaml_text(text)


class _DuplicateKey(Exception):
    """A JSON object with a key given twice (:func:`_unique_keys`)."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads``'s ``object_pairs_hook``: the object, or :class:`_DuplicateKey`."""
    built = dict(pairs)
    if len(built) != len(pairs):
        raise _DuplicateKey
    return built


#: the JSON decoder of sidecars and configs: ``json.loads``'s, refusing a key given twice
_JSON = json.JSONDecoder(object_pairs_hook=_unique_keys)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[][{},]')


def _json_duplicates(text: str) -> list[tuple[int, str, str]]:
    """Keys given twice in the objects of the JSON document ``text`` (which parses): its
    strings and brackets, walked with the field path of each object."""
    found: list[tuple[int, str, str]] = []
    # per open container: [path, keys: {key: [offsets]} or None for an array, the key or
    # index of the child being read, a key is next]
    stack: list[list[Any]] = []
    for match in _JSON_TOKEN.finditer(text):
        token = match.group()
        top = stack[-1] if stack else None
        if token in ("{", "["):
            path = () if top is None else (*top[0], top[2])
            stack.append([path, {} if token == "{" else None, 0, token == "{"])
        elif token == ",":
            assert top is not None
            if top[1] is None:
                top[2] += 1
            else:
                top[3] = True
        elif token in ("}", "]"):
            stack.pop()
            assert top is not None
            for key, offsets in (top[1] or {}).items():
                if len(offsets) > 1:
                    where = [(o, *_line_column(text, o)) for o in offsets]
                    found.append(_duplicate_key(top[0], key, where, "JSON"))
        elif top is not None and top[3]:  # a key
            key = json.loads(token)
            top[1].setdefault(key, []).append(match.start())
            top[2], top[3] = key, False
    return found


def _line_column(text: str, offset: int) -> tuple[int, int]:
    return text.count("\n", 0, offset) + 1, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    if mark is not None:
        return f"{problem} (line {mark.line + 1}, column {mark.column + 1})"
    return str(problem)


#: above any bound below: an expansion's count stops growing here (a "billion laughs" in 1 MiB
#: of text would otherwise be a number of thousands of digits)
_SATURATED = 1 << 62


def _check_aliases(root: Any) -> bool:
    """Has the composed document an alias (a node reached twice)? A :class:`DocumentError` if
    its aliases add more than :data:`MAX_EXPANDED_NODES` nodes or :data:`MAX_EXPANDED_TEXT`
    characters of text to it.

    The composer makes one node per anchor, shared by its aliases, so the walk is as long as
    the text; what the builders would make is counted without making it: an alias adds as
    many nodes and characters as its anchor's node has with every alias in it expanded. The
    document's own nodes and text are bounded by the size limit, not here.
    """
    if type(root) is _ScalarNode:
        return False
    # by id of a collection node: its nodes and the characters of its scalars, aliases expanded
    # (a scalar's are 1 and its length: scalars are counted where they are met, not stacked)
    nodes: dict[int, int] = {}
    chars: dict[int, int] = {}
    seen: set[int] = set()
    own_nodes = own_chars = 0
    aliased = False
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            count, size = 1, 0
            for child in _children(node):
                if type(child) is _ScalarNode:
                    count += 1
                    size += len(child.value)
                else:  # not yet counted: an alias inside its own anchor (refused when built)
                    count += nodes.get(id(child), 1)
                    size += chars.get(id(child), 0)
            nodes[id(node)] = min(count, _SATURATED)
            chars[id(node)] = min(size, _SATURATED)
            continue
        if id(node) in seen:
            aliased = True
            continue
        seen.add(id(node))
        own_nodes += 1
        stack.append((node, True))
        for child in _children(node):
            if type(child) is not _ScalarNode:
                stack.append((child, False))  # marked seen when taken: its siblings may hold it
            elif id(child) in seen:
                aliased = True
            else:
                seen.add(id(child))
                own_nodes += 1
                own_chars += len(child.value)
    if aliased:
        if nodes[id(root)] - own_nodes > MAX_EXPANDED_NODES:
            raise DocumentError(
                f"YAML aliases add more than {MAX_EXPANDED_NODES} nodes to the document; refused"
            )
        if chars[id(root)] - own_chars > MAX_EXPANDED_TEXT:
            raise DocumentError(
                f"YAML aliases add more than {MAX_EXPANDED_TEXT} characters of text to the "
                "document; refused"
            )
    return aliased


def _children(node: Any) -> Iterable[Any]:
    """The nodes a collection node holds (a mapping's keys and values, in order)."""
    if type(node) is _MappingNode:
        for key_node, value_node in node.value:
            yield key_node
            yield value_node
    else:
        yield from node.value


def yaml_text(value: Any) -> str:
    """A scalar as YAML spells it: ``true``, ``false``, ``null``; anything else as ``str()``."""
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    return str(value)


def _normalise(value: Any) -> Any:
    """What PyYAML's constructor built, as JSON Schema reads it: string keys, dates as ISO
    strings. Iterative, so nesting as deep as the parser allows is no recursion; a container
    that holds itself (``x-a: &a {b: *a}``) is a :class:`DocumentError` naming the field.
    ``value`` is not changed; ``audit_record`` reads an in-memory sidecar with this too.

    Memory is the copy and the containers being copied (one per level): a field path is made
    only for an error, from the keys of those open containers.
    """
    if not isinstance(value, (dict, list)):
        return _leaf(value)
    root: Any = {} if isinstance(value, dict) else []
    # the containers being copied, outermost first: (it, its items, its copy, its key in its
    # parent)
    open_: list[tuple[Any, Iterator[tuple[Any, Any]], Any, Any]] = [
        (value, _items(value), root, None)
    ]
    around = {id(value)}  # their ids: a child among them holds itself
    while open_:
        source, items, copy, _ = open_[-1]
        is_map = isinstance(copy, dict)
        for key, child in items:
            if is_map and not isinstance(key, (str, _InvalidScalar)):
                # JSON Schema takes string keys: an unquoted ``yes:`` key becomes "true"
                key = yaml_text(key)
            if isinstance(child, (dict, list)):
                if id(child) in around:
                    path = [parent_key for *_, parent_key in open_[1:]]
                    raise DocumentError(SELF_REFERENCE, format_path([*path, key]))
                if len(open_) + 1 > MAX_DEPTH:
                    raise DocumentError(f"invalid YAML: nested more than {MAX_DEPTH} levels deep")
                built: Any = {} if isinstance(child, dict) else []
                if is_map:
                    copy[key] = built
                else:
                    copy.append(built)
                open_.append((child, _items(child), built, key))
                around.add(id(child))
                break  # copy the child's items first; this container's go on after it
            if is_map:
                copy[key] = _leaf(child)
            else:
                copy.append(_leaf(child))
        else:  # every item copied
            around.discard(id(source))
            open_.pop()
    return root


def _items(container: dict[Any, Any] | list[Any]) -> Iterator[tuple[Any, Any]]:
    """A container's (key, value) pairs, or (index, item)."""
    return iter(container.items()) if isinstance(container, dict) else enumerate(container)


def _leaf(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    return value
