"""A small OpenEXR header parser: every part's attributes, no numpy, no pixel data.

The OpenEXR bindings need numpy (73 MB) and Python >= 3.11 just to read a header; this reads
the layout from the OpenEXR file-format spec directly: magic, version flags, then one
attribute list per part (``name\\0 type\\0 int32 size, value``), each ended by a NUL, and for
multi-part files one more NUL after the last header.

The watcher's completeness check (:mod:`clearance.watch_readiness`) reads headers with this
parser too (:func:`parse_exr_open`): one parser of the format, one answer.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ._common import unreadable

__all__ = ["EXR_MAGIC", "ExrOpaque", "parse_exr_header", "parse_exr_open"]

EXR_MAGIC = b"\x76\x2f\x31\x01"
_FLAG_TILED = 0x200
_FLAG_DEEP = 0x800
_FLAG_MULTIPART = 0x1000

# Bounds that no sane header reaches; they keep a corrupt or hostile file from making the
# parser loop or allocate without end. OpenEXR itself bounds names (255 bytes) and each value
# (by the file's size), not the number of attributes or parts: a header of a million tiny
# attributes is valid to it. Here the work is linear in the attributes read and in the
# strings of their stringvector values, both bounded in all, so no header costs more than
# about 0.1 s; past a bound the rest is not read and the result says so (a problem: the
# reader's answer is unsure, never a pass).
_MAX_NAME = 256
_MAX_DECODED_VALUE = 1024 * 1024  # bigger values (previews, ICC blobs) are skipped, not read
_MAX_ATTRIBUTES = 4096  # in one part's header
_MAX_PARTS = 4096
_MAX_ALL_ATTRIBUTES = 65536  # in every part's header together
_MAX_DECODED = 16 * 1024 * 1024  # bytes of values decoded, in every part together
# a string costs a Python object whatever its length (an empty one: 4 bytes of the file), so
# the strings of stringvector values are bounded in number too, in every part together
_MAX_STRINGS = 65536
_WINDOW = 64 * 1024

_COMPRESSION = [
    "none",
    "rle",
    "zips",
    "zip",
    "piz",
    "pxr24",
    "b44",
    "b44a",
    "dwaa",
    "dwab",
    "htj2k256",
    "htj2k32",
]
_LINE_ORDER = ["increasing_y", "decreasing_y", "random_y"]


@dataclass(frozen=True)
class ExrOpaque:
    """An attribute whose type this parser does not decode: its type name and size only."""

    type: str
    size: int


@dataclass
class _Cursor:
    """Reads forward through the header with one buffered window; skips without reading."""

    f: BinaryIO | _Pread
    size: int
    pos: int = 0
    buf: bytes = b""
    buf_start: int = 0
    problems: list[str] = field(default_factory=list)
    attributes: int = 0  # read so far, in every part (the bounds above)
    decoded: int = 0  # bytes of values decoded so far, in every part
    strings: int = 0  # strings of stringvector values decoded so far, in every part

    def take(self, n: int) -> bytes:
        offset = self.pos - self.buf_start
        if offset < 0 or offset + n > len(self.buf):
            self._fill(max(n, _WINDOW))
            offset = 0
        data = self.buf[offset : offset + n]
        if len(data) < n:
            raise _Truncated(self.pos)
        self.pos += n
        return data

    def cstring(self, limit: int) -> bytes:
        """A NUL-terminated name of at most ``limit`` bytes."""
        for attempt in (0, 1):
            offset = self.pos - self.buf_start
            if 0 <= offset <= len(self.buf):
                end = self.buf.find(b"\x00", offset, offset + limit + 1)
                if end >= 0:
                    self.pos = self.buf_start + end + 1
                    return self.buf[offset:end]
                if offset + limit + 1 <= len(self.buf):
                    raise _Corrupt(f"a name at byte {self.pos} is longer than {limit} bytes")
            if attempt == 0:
                self._fill(_WINDOW)
        raise _Truncated(self.pos)

    def _fill(self, n: int) -> None:
        self.f.seek(self.pos)
        self.buf = self.f.read(n)
        self.buf_start = self.pos

    def skip(self, n: int) -> None:
        if self.pos + n > self.size:
            raise _Truncated(self.pos)
        self.pos += n


class _Truncated(Exception):
    def __init__(self, pos: int) -> None:
        self.pos = pos


class _Corrupt(Exception):
    pass


class _OverBound(Exception):
    """The headers go past one of the bounds above: the rest is not read."""


def parse_exr_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Every part's header attributes of an OpenEXR file.

    :return: ``{"version": 2, "multipart": bool, "tiled": bool, "deep": bool,
        "parts": [{attribute: value}, …], "problems": [str, …], "header_end": int | None,
        "truncated": bool}``. Decoded types: string, stringvector, int, float, double,
        box2i, v2i, v2f, compression, lineOrder, tiledesc (``(x_size, y_size, level_mode,
        rounding_mode)``); any other type is an :class:`ExrOpaque` (type and size).
        ``header_end`` is the offset just past the headers (a multi-part file's empty header
        included), where the offset tables begin, when every header was read whole; else
        None. A truncated, corrupt or oversized header keeps the parts and attributes read
        before the damage and describes it in ``problems`` (``truncated``: the file ends
        inside its headers, as a file still being written does); this function never raises
        on bad input.
    """
    result = _empty_result()
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        result["problems"].append(unreadable(exc))
        result["unreadable"] = True
        return result
    try:
        size = os.fstat(fd).st_size
        result = parse_exr_open(fd, size, os.pread(fd, _WINDOW, 0))
    except OSError as exc:
        result["problems"].append(unreadable(exc))
        result["unreadable"] = True
    finally:
        os.close(fd)
    return result


def parse_exr_open(
    fd: int, size: int, head: bytes, only: frozenset[bytes] | None = None
) -> dict[str, Any]:
    """:func:`parse_exr_header` for a file already open: ``fd``, ``size`` bytes long, whose
    first ``min(size, 64 KiB)`` bytes ``head`` the caller has read.

    :param only: the names of the attributes to keep (as bytes); every other one is walked
        over and counted, not decoded nor kept. ``header_end``, ``truncated`` and
        ``problems`` are those of the whole parse.
    :raises OSError: reading the file failed.
    """
    result = _in_memory(head, only)
    if result is not None:
        return result
    # anything but headers whole inside the first window: the cursor, from the start (it
    # reads further windows, and describes what is wrong)
    result = _empty_result()
    _parse(_Cursor(_Pread(fd), size, buf=head), result, only)
    return result


class _Pread:
    """The ``seek``/``read`` the cursor uses, as ``os.pread`` calls on an open file (no
    buffered file object, which would read the first window again)."""

    __slots__ = ("fd", "pos")

    def __init__(self, fd: int) -> None:
        self.fd, self.pos = fd, 0

    def seek(self, pos: int) -> None:
        self.pos = pos

    def read(self, n: int) -> bytes:
        return os.pread(self.fd, n, self.pos)


def _empty_result() -> dict[str, Any]:
    return {
        "version": None,
        "multipart": False,
        "tiled": False,
        "deep": False,
        "parts": [],
        "problems": [],
        "header_end": None,
        "truncated": False,
    }


def _parse_in_memory(
    head: bytes, result: dict[str, Any], only: frozenset[bytes] | None = None
) -> bool:
    """The common case in one pass over ``head`` (the file's first window): headers of format
    version 2 (one, or a multi-part file's list up to its empty header) that end inside it,
    every name and value whole, within the bounds. Fills ``result`` as :func:`_parse` would
    and returns True; returns False, with ``result`` untouched, for anything else (a 64 KiB
    window holds less than the bounds on decoded bytes, on all parts' attributes and on the
    strings of stringvector values)."""
    found = _in_memory(head, only)
    if found is None:
        return False
    result.update(found)
    return True


def _in_memory(head: bytes, only: frozenset[bytes] | None) -> dict[str, Any] | None:
    """:func:`_parse_in_memory`'s result as a new dict, or None."""
    if len(head) < 8 or head[:4] != EXR_MAGIC:
        return None
    version = int.from_bytes(head[4:8], "little")
    if version & 0xFF != 2:
        return None
    multipart = bool(version & _FLAG_MULTIPART)
    parts: list[dict[str, Any]] = []
    pos = 8
    while True:
        if multipart:
            if pos >= len(head):
                return None
            if head[pos] == 0:  # the empty header that ends a multi-part file's list
                pos += 1
                break
            if len(parts) == _MAX_PARTS:
                return None
        part: dict[str, Any] = {}
        pos = _attributes_in_memory(head, pos, part, only)
        if pos < 0:
            return None
        parts.append(part)
        if not multipart:
            break
    return {
        "version": 2,
        "multipart": multipart,
        "tiled": bool(version & _FLAG_TILED),
        "deep": bool(version & _FLAG_DEEP),
        "parts": parts,
        "problems": [],
        "header_end": pos,
        "truncated": False,
    }


def _attributes_in_memory(
    head: bytes, pos: int, part: dict[str, Any], only: frozenset[bytes] | None
) -> int:
    """Fill ``part`` with the header at ``pos`` in ``head``; the position after the NUL that
    ends it, or -1 when it does not end inside ``head`` whole and within the bounds."""
    find, end_of_head, decoders, number = head.find, len(head), _RAW_DECODERS, int.from_bytes
    for _ in range(_MAX_ATTRIBUTES + 1):
        name_end = find(b"\x00", pos, pos + _MAX_NAME + 1)
        if name_end <= pos:  # not found (-1): to the cursor; at pos: the NUL that ends it
            return pos + 1 if name_end == pos else -1
        # the value starts after the type's NUL and the int32 size (not found: -1 + 5)
        start = find(b"\x00", name_end + 1, name_end + _MAX_NAME + 2) + 5
        if not 5 <= start <= end_of_head:
            return -1
        stop = start + number(head[start - 4 : start], "little", signed=True)
        if not start <= stop <= end_of_head:  # a negative size, or a value past the window
            return -1
        if only is not None and head[pos:name_end] not in only:
            pos = stop
            continue
        type_raw = head[name_end + 1 : start - 5]
        key = head[pos:name_end].decode("utf-8", "replace")
        size = stop - start
        decode = decoders.get(type_raw) if size <= _MAX_DECODED_VALUE else None
        if decode is None:
            part[key] = ExrOpaque(type_raw.decode("latin-1"), size)
        else:
            try:
                part[key] = decode(head[start:stop])
            except (struct.error, ValueError, IndexError):
                part[key] = ExrOpaque(type_raw.decode("latin-1"), size)
        pos = stop
    return -1  # more attributes than one header may have: the cursor reports it


def _parse(cursor: _Cursor, result: dict[str, Any], only: frozenset[bytes] | None = None) -> None:
    try:
        head = cursor.take(8)
    except _Truncated:
        result["problems"].append("truncated: not even an OpenEXR magic number and version")
        result["truncated"] = True
        return
    if head[:4] != EXR_MAGIC:
        result["problems"].append("not an OpenEXR file (bad magic number)")
        return
    version = struct.unpack("<I", head[4:8])[0]
    result["version"] = version & 0xFF
    if version & 0xFF != 2:  # every OpenEXR 1.x-3.x file says 2; the layout may differ otherwise
        result["problems"].append(f"unknown OpenEXR format version {version & 0xFF}; read as 2")
    result["tiled"] = bool(version & _FLAG_TILED)
    result["deep"] = bool(version & _FLAG_DEEP)
    result["multipart"] = multipart = bool(version & _FLAG_MULTIPART)
    parts: list[dict[str, Any]] = result["parts"]
    try:
        while True:
            if multipart and cursor.take(1) == b"\x00":
                result["header_end"] = cursor.pos  # past the empty header that ends the list
                return
            if multipart:
                cursor.pos -= 1
            if len(parts) == _MAX_PARTS:
                raise _OverBound(f"more than {_MAX_PARTS} parts")
            part: dict[str, Any] = {}
            parts.append(part)
            _parse_attributes(cursor, part, len(parts) - 1, only)
            if not multipart:
                result["header_end"] = cursor.pos
                return
    except _Truncated as exc:
        result["problems"].append(
            f"truncated: the header ends early (byte {exc.pos}, file has {cursor.size})"
        )
        result["truncated"] = True
        if parts and not parts[-1]:
            parts.pop()
    except _Corrupt as exc:
        result["problems"].append(f"corrupt header: {exc}")
    except _OverBound as exc:
        result["problems"].append(f"header too large: {exc}; the rest was not read")


def _parse_attributes(
    cursor: _Cursor, part: dict[str, Any], index: int, only: frozenset[bytes] | None
) -> None:
    # Names longer than the version flag allows exist in the wild (writers that forget the
    # long-names flag); accept up to 255 and leave strictness to OpenEXR itself.
    count = 0
    while True:
        # the usual attribute: its name, type and size inside the window, found without the
        # cursor's calls; anything else (across the window's end, damage) takes them
        buf, at = cursor.buf, cursor.pos - cursor.buf_start
        end = type_end = -1
        if at >= 0:
            end = buf.find(b"\x00", at, at + _MAX_NAME + 1)
            if end == at:
                cursor.pos += 1  # the NUL that ends the header
                cursor.attributes += count
                return
            if end > at:
                type_end = buf.find(b"\x00", end + 1, end + _MAX_NAME + 2)
        if 0 < type_end <= len(buf) - 5:
            name = buf[at:end]
            count += 1
            if count > _MAX_ATTRIBUTES or cursor.attributes + count > _MAX_ALL_ATTRIBUTES:
                _over(cursor, count, name, index)
            type_raw = buf[end + 1 : type_end]
            size = int.from_bytes(buf[type_end + 1 : type_end + 5], "little", signed=True)
            cursor.pos += type_end + 5 - at
        else:
            name = cursor.cstring(_MAX_NAME)
            if not name:
                cursor.attributes += count
                return
            count += 1
            if count > _MAX_ATTRIBUTES or cursor.attributes + count > _MAX_ALL_ATTRIBUTES:
                _over(cursor, count, name, index)
            type_raw = cursor.cstring(_MAX_NAME)
            size = struct.unpack("<i", cursor.take(4))[0]
        if size < 0:
            raise _Corrupt(f"attribute {name!r} has a negative size")
        decodable = size <= _MAX_DECODED_VALUE and type_raw in _DECODED_TYPES
        if decodable:
            cursor.decoded += size
            if cursor.decoded > _MAX_DECODED:
                raise _OverBound(
                    f"more than {_MAX_DECODED >> 20} MiB of attribute values in all parts "
                    f"(at {_key(name)!r} in part {index})"
                )
        strings = decodable and type_raw == b"stringvector"
        if not decodable or (only is not None and name not in only and not strings):
            if cursor.pos + size > cursor.size:
                raise _Truncated(cursor.pos)
            cursor.pos += size  # skipped, not read
            if only is None or name in only:
                part[_key(name)] = ExrOpaque(type_raw.decode("latin-1"), size)
            continue
        raw = cursor.take(size)
        if strings:  # decoded and counted even when not kept: one parse, one answer
            _strings(cursor, raw, name, index, part, only is None or name in only)
            continue
        try:
            part[_key(name)] = _RAW_DECODERS[type_raw](raw)
        except (struct.error, ValueError, IndexError):
            part[_key(name)] = ExrOpaque(type_raw.decode("latin-1"), size)


def _over(cursor: _Cursor, count: int, name: bytes, index: int) -> None:
    """The attribute ``name``, the ``count``-th of part ``index``, is one too many for its
    header or for all of them."""
    if count > _MAX_ATTRIBUTES:
        raise _OverBound(
            f"part {index} has more than {_MAX_ATTRIBUTES} attributes (the next is {_key(name)!r})"
        )
    raise _OverBound(
        f"more than {_MAX_ALL_ATTRIBUTES} attributes in all parts "
        f"(the next is {_key(name)!r} in part {index})"
    )


def _strings(
    cursor: _Cursor, raw: bytes, name: bytes, index: int, part: dict[str, Any], keep: bool
) -> None:
    """Decode the stringvector ``raw``, the value of ``name`` in part ``index``, and count its
    strings against :data:`_MAX_STRINGS` (one that is malformed: as many as it may hold);
    ``keep`` it in ``part`` or not."""
    room = _MAX_STRINGS - cursor.strings
    value: list[str] | ExrOpaque
    try:
        value = _stringvector(raw, room)
        cursor.strings += len(value)
    except ValueError:
        value = ExrOpaque("stringvector", len(raw))
        cursor.strings += min(len(raw) // 4, room + 1)
    if cursor.strings > _MAX_STRINGS:
        raise _OverBound(
            f"more than {_MAX_STRINGS} strings in stringvector values in all parts "
            f"(at {_key(name)!r} in part {index})"
        )
    if keep:
        part[_key(name)] = value


def _key(name: bytes) -> str:
    return name.decode("utf-8", "replace")


def _string(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _stringvector(raw: bytes, limit: int = _MAX_STRINGS) -> list[str]:
    """The strings of a stringvector value (ValueError: one runs past it); no more than
    ``limit`` + 1 are decoded, the one past the bound."""
    out: list[str] = []
    pos = 0
    while pos + 4 <= len(raw) and len(out) <= limit:
        n = struct.unpack_from("<i", raw, pos)[0]
        if n < 0 or pos + 4 + n > len(raw):
            raise ValueError("bad stringvector")
        out.append(_string(raw[pos + 4 : pos + 4 + n]))
        pos += 4 + n
    return out


def _enum(names: list[str]):  # type: ignore[no-untyped-def]
    def decode(raw: bytes) -> str | int:
        return names[raw[0]] if raw[0] < len(names) else raw[0]

    return decode


def _tiledesc(raw: bytes) -> tuple[int, int, int, int]:
    """``(x_size, y_size, level_mode, rounding_mode)``: OpenEXR packs both modes in one byte."""
    x_size, y_size, mode = struct.unpack("<IIB", raw)
    return x_size, y_size, mode & 0x0F, mode >> 4


_DECODERS: dict[str, Any] = {
    "string": _string,
    "stringvector": _stringvector,
    "int": lambda raw: struct.unpack("<i", raw)[0],
    "float": lambda raw: struct.unpack("<f", raw)[0],
    "double": lambda raw: struct.unpack("<d", raw)[0],
    "box2i": struct.Struct("<4i").unpack,
    "v2i": struct.Struct("<2i").unpack,
    "v2f": struct.Struct("<2f").unpack,
    "compression": _enum(_COMPRESSION),
    "lineOrder": _enum(_LINE_ORDER),
    "tiledesc": _tiledesc,
}
_RAW_DECODERS = {name.encode("latin-1"): decode for name, decode in _DECODERS.items()}
_DECODED_TYPES = frozenset(_RAW_DECODERS)
