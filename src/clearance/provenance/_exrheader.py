"""A small OpenEXR header parser: every part's attributes, no numpy, no pixel data.

The OpenEXR bindings need numpy (73 MB) and Python >= 3.11 just to read a header; this reads
the layout from the OpenEXR file-format spec directly: magic, version flags, then one
attribute list per part (``name\\0 type\\0 int32 size, value``), each ended by a NUL, and for
multi-part files one more NUL after the last header.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from ._common import unreadable

__all__ = ["EXR_MAGIC", "ExrOpaque", "parse_exr_header"]

EXR_MAGIC = b"\x76\x2f\x31\x01"
_FLAG_TILED = 0x200
_FLAG_DEEP = 0x800
_FLAG_MULTIPART = 0x1000

# Bounds that no sane header reaches; they keep a corrupt or hostile file from making the
# parser loop or allocate without end.
_MAX_NAME = 256
_MAX_DECODED_VALUE = 1024 * 1024  # bigger values (previews, ICC blobs) are skipped, not read
_MAX_ATTRIBUTES = 4096
_MAX_PARTS = 4096
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

    f: BinaryIO
    size: int
    pos: int = 0
    buf: bytes = b""
    buf_start: int = 0
    problems: list[str] = field(default_factory=list)

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


def parse_exr_header(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Every part's header attributes of an OpenEXR file.

    :return: ``{"version": 2, "multipart": bool, "tiled": bool, "deep": bool,
        "parts": [{attribute: value}, …], "problems": [str, …]}``. Decoded types: string,
        stringvector, int, float, double, box2i, v2i, v2f, compression, lineOrder; any other
        type is an :class:`ExrOpaque` (type and size). A truncated or corrupt header keeps the
        parts and attributes read before the damage and describes it in ``problems``; this
        function never raises on bad input.
    """
    result = _empty_result()
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        result["problems"].append(unreadable(exc))
        result["unreadable"] = True
        return result
    try:
        size = os.fstat(fd).st_size
        if _parse_in_memory(os.pread(fd, _WINDOW, 0), result):
            return result
        # anything but a plain single-part header inside the first window: the cursor, from
        # the start (it reads further windows, and describes what is wrong)
        result = _empty_result()
        with open(fd, "rb", closefd=False) as f:
            _parse(_Cursor(f, size), result)
    except OSError as exc:
        result["problems"].append(unreadable(exc))
        result["unreadable"] = True
    finally:
        os.close(fd)
    return result


def _empty_result() -> dict[str, Any]:
    return {
        "version": None,
        "multipart": False,
        "tiled": False,
        "deep": False,
        "parts": [],
        "problems": [],
    }


def _parse_in_memory(head: bytes, result: dict[str, Any]) -> bool:
    """The common case in one pass over ``head`` (the file's first window): a single-part
    header of format version 2 that ends inside it, every name and value whole. Fills
    ``result`` as :func:`_parse` would and returns True; returns False, with ``result``
    untouched, for anything else."""
    if len(head) < 8 or head[:4] != EXR_MAGIC:
        return False
    version = int.from_bytes(head[4:8], "little")
    if version & 0xFF != 2 or version & _FLAG_MULTIPART:
        return False
    part: dict[str, Any] = {}
    find, end_of_head, decoders = head.find, len(head), _DECODERS
    pos = 8
    for _ in range(_MAX_ATTRIBUTES):
        name_end = find(b"\x00", pos, pos + _MAX_NAME + 1)
        if name_end < 0:
            return False
        if name_end == pos:  # the NUL that ends the header
            result["version"] = 2
            result["tiled"] = bool(version & _FLAG_TILED)
            result["deep"] = bool(version & _FLAG_DEEP)
            result["parts"].append(part)
            return True
        type_end = find(b"\x00", name_end + 1, name_end + _MAX_NAME + 2)
        start = type_end + 5
        if type_end < 0 or start > end_of_head:
            return False
        size = int.from_bytes(head[type_end + 1 : start], "little", signed=True)
        stop = start + size
        if size < 0 or stop > end_of_head:
            return False
        type_name = head[name_end + 1 : type_end].decode("latin-1")
        key = head[pos:name_end].decode("utf-8", "replace")
        decode = decoders.get(type_name) if size <= _MAX_DECODED_VALUE else None
        if decode is None:
            part[key] = ExrOpaque(type_name, size)
        else:
            try:
                part[key] = decode(head[start:stop])
            except (struct.error, ValueError, IndexError):
                part[key] = ExrOpaque(type_name, size)
        pos = stop
    return False


def _parse(cursor: _Cursor, result: dict[str, Any]) -> None:
    try:
        head = cursor.take(8)
    except _Truncated:
        result["problems"].append("truncated: not even an OpenEXR magic number and version")
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
        while len(parts) < _MAX_PARTS:
            part: dict[str, Any] = {}
            parts.append(part)
            if multipart and cursor.take(1) == b"\x00":
                parts.pop()  # the empty header that ends a multi-part file's header list
                return
            if multipart:
                cursor.pos -= 1
            _parse_attributes(cursor, part)
            if not multipart:
                return
        result["problems"].append(f"more than {_MAX_PARTS} parts: the rest were not read")
    except _Truncated as exc:
        result["problems"].append(
            f"truncated: the header ends early (byte {exc.pos}, file has {cursor.size})"
        )
        if parts and not parts[-1]:
            parts.pop()
    except _Corrupt as exc:
        result["problems"].append(f"corrupt header: {exc}")


def _parse_attributes(cursor: _Cursor, part: dict[str, Any]) -> None:
    # Names longer than the version flag allows exist in the wild (writers that forget the
    # long-names flag); accept up to 255 and leave strictness to OpenEXR itself.
    for _ in range(_MAX_ATTRIBUTES):
        name = cursor.cstring(_MAX_NAME)
        if not name:
            return
        type_name = cursor.cstring(_MAX_NAME).decode("latin-1")
        size = struct.unpack("<i", cursor.take(4))[0]
        if size < 0:
            raise _Corrupt(f"attribute {name!r} has a negative size")
        key = name.decode("utf-8", "replace")
        if size > _MAX_DECODED_VALUE or type_name not in _DECODERS:
            cursor.skip(size)
            part[key] = ExrOpaque(type_name, size)
            continue
        raw = cursor.take(size)
        try:
            part[key] = _DECODERS[type_name](raw)
        except (struct.error, ValueError, IndexError):
            part[key] = ExrOpaque(type_name, size)
    raise _Corrupt(f"more than {_MAX_ATTRIBUTES} attributes in one header")


def _string(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _stringvector(raw: bytes) -> list[str]:
    out, pos = [], 0
    while pos + 4 <= len(raw):
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


_DECODERS: dict[str, Any] = {
    "string": _string,
    "stringvector": _stringvector,
    "int": lambda raw: struct.unpack("<i", raw)[0],
    "float": lambda raw: struct.unpack("<f", raw)[0],
    "double": lambda raw: struct.unpack("<d", raw)[0],
    "box2i": lambda raw: struct.unpack("<4i", raw),
    "v2i": lambda raw: struct.unpack("<2i", raw),
    "v2f": lambda raw: struct.unpack("<2f", raw),
    "compression": _enum(_COMPRESSION),
    "lineOrder": _enum(_LINE_ORDER),
}
