"""What the watcher needs to know about files before it trusts them.

* :class:`FileSystem` — the ``stat``/``scandir`` the watcher (and its polling backend) use.
  Production uses the OS; tests pass one that fails or lies like a network share does.
* :func:`filesystem_type` / :func:`backend_for` — which backend a root needs, from
  ``/proc/self/mountinfo`` (inotify sees nothing written by other hosts on NFS/SMB/FUSE).
* :func:`is_complete` — format completeness: an EXR whose headers, offset tables or last
  chunk are not all in the file, or a PNG whose chunks end before its ``IEND`` chunk, is
  still being written (:func:`missing_part` says what is missing). EXR headers are read by
  the EXR reader's own parser (:mod:`clearance.provenance._exrheader`), and PNG chunks by
  the XMP reader's walker (:mod:`clearance.provenance._containers`) when the file does not
  end with ``IEND``; only the EXR offset tables and last chunk are this module's.
* :func:`is_transient` — errors that mean "the share hiccuped", never "the file is gone".
* :func:`detached_manifest` — which ``.c2pa`` manifest an asset's audit reads, and its version.
"""

from __future__ import annotations

import errno
import operator
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from stat import S_ISREG
from typing import Any, NamedTuple

from .provenance._containers import walk as walk_container
from .provenance._exrheader import parse_exr_open
from .provenance.c2pa import manifest_names
from .state import stat_fingerprint

__all__ = [
    "FileSystem",
    "NETWORK_FS",
    "filesystem_type",
    "backend_for",
    "is_complete",
    "Missing",
    "missing_part",
    "is_transient",
    "detached_manifest",
]

#: File system types whose changes made by other hosts inotify never reports.
NETWORK_FS = (
    "nfs",
    "nfs4",
    "cifs",
    "smb",
    "smb2",
    "smb3",
    "smbfs",
    "fuse",
    "9p",
    "ceph",
    "glusterfs",
    "afs",
    "lustre",
    "gpfs",
    "beegfs",
    "sshfs",
)

_TRANSIENT = {
    errno.EIO,
    errno.ESTALE,
    errno.EHOSTDOWN,
    errno.EHOSTUNREACH,
    errno.ETIMEDOUT,
    errno.ENOTCONN,
    errno.EAGAIN,
    errno.EBUSY,
    errno.ECONNRESET,
}


def is_transient(exc: OSError) -> bool:
    """EIO/ESTALE/host down…: retry later, and never conclude that a file was deleted."""
    return exc.errno in _TRANSIENT


def detached_manifest(
    path: str,
    stat: Callable[[str], os.stat_result] = os.stat,
    *,
    sequence_prefix: str | None = None,
) -> tuple[str | None, str]:
    """The detached C2PA manifest that the C2PA reader reads for the file ``path`` — the first
    of :func:`clearance.provenance.c2pa.manifest_names` there: ``NAME.EXT.c2pa``, then
    ``NAME.c2pa``, then (``path`` being a sequence's first frame, ``sequence_prefix`` its
    ``PREFIX``) ``PREFIX.c2pa`` — and the version of every detached manifest the reader's
    answer depends on; ``(None, "-")`` when there is none.

    The version is ``dev:ino:size:mtime_ns:ctime_ns`` of the one read; a sequence's ``PREFIX.c2pa``
    that is there but not read (its first frame has a manifest of its own) is reported by the
    reader ("sequence manifest not read"), so its version follows: ``;PREFIX.c2pa=dev:ino:…``.
    The names after the one read change nothing else. A transient error (EIO, ESTALE) raises:
    "cannot look" is never "not there"."""
    names = manifest_names(path, sequence_prefix)
    read: str | None = None
    version = "-"
    for i, name in enumerate(names):
        if read is not None and not (sequence_prefix and i == len(names) - 1):
            continue  # after the one read, only a sequence's own PREFIX.c2pa still counts
        try:
            st = stat(name)
        except OSError as exc:
            if is_transient(exc):
                raise
            continue  # not there, or not to be read: the reader finds nothing either
        if not S_ISREG(st.st_mode):
            continue
        fp = stat_fingerprint(st)
        if read is None:
            read, version = name, fp
        else:
            version += f";{os.path.basename(name)}={fp}"
    return read, version


class FileSystem:
    """The file access the watcher uses: ``os.stat`` and ``os.scandir`` by default."""

    def stat(self, path: str) -> os.stat_result:
        return os.stat(path)

    def scandir(self, path: str | None) -> Iterator[os.DirEntry[str]]:
        return os.scandir(path)  # type: ignore[arg-type]


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as \040 \011 \012 \134
    return (
        field.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
    )


def filesystem_type(
    path: str | os.PathLike[str], mountinfo: str | os.PathLike[str] = "/proc/self/mountinfo"
) -> str | None:
    """The file system type of the mount holding ``path`` (longest mount point), or None."""
    target = os.path.realpath(path)
    best: tuple[int, str] | None = None
    try:
        text = Path(mountinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        fields = left.split()
        if len(fields) < 5:
            continue
        mount_point = _unescape(fields[4])
        fstype = right.split()[0] if right.split() else ""
        inside = (
            target == mount_point
            or target.startswith(mount_point.rstrip("/") + "/")
            or mount_point == "/"
        )
        if inside and (best is None or len(mount_point) >= best[0]):
            best = (len(mount_point), fstype)
    return best[1] if best else None


def backend_for(fstype: str | None, *, force_polling: bool = False) -> str:
    """``"polling"`` for network and FUSE file systems (or when forced), else ``"inotify"``."""
    if force_polling:
        return "polling"
    if fstype is None:
        return "inotify"
    base = fstype.split(".", 1)[0].lower()
    return "polling" if base in NETWORK_FS or fstype.lower() in NETWORK_FS else "inotify"


# -- format completeness ------------------------------------------------------------------

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
#: scan lines per chunk of each compression (OpenEXR's ``exr_compression_lines_per_chunk``),
#: by the names the EXR header parser gives them
_LINES_PER_CHUNK = {
    "none": 1,
    "rle": 1,
    "zips": 1,
    "zip": 16,
    "pxr24": 16,
    "piz": 32,
    "b44": 32,
    "b44a": 32,
    "dwaa": 32,
    "htj2k32": 32,
    "dwab": 256,
    "htj2k256": 256,
}
#: what comes before a chunk's data size(s), by part type: its scan line or tile coordinates
_CHUNK_COORDS = {"scanlineimage": 4, "tiledimage": 16, "deepscanline": 4, "deeptile": 16}
#: the attributes the check reads; the header parser walks over every other one
_SIZING = frozenset({b"compression", b"dataWindow", b"tiles", b"type", b"chunkCount"})
_WINDOW = 64 * 1024  # the header parser's first read: a usual header and offset table
_TABLE_PIECE = 64 * 1024  # offsets read and checked at a time


def is_complete(path: str, size: int) -> bool:
    """False when a PNG or EXR is evidently still being written; True otherwise.

    An EXR of any layout (scan lines, tiles with their mipmap or ripmap levels, deep data,
    several parts) is complete when every header is in the file (a multi-part file's list
    ended by its empty header), every offset table is, with every offset filled in (OpenEXR
    writes them when it closes the file) and inside the file, and the last chunk ends inside
    it. Where the tables cannot be sized — a compression or part type OpenEXR 3.4 does not
    define, without a ``chunkCount`` — the headers being whole is all this checks. A PNG is
    complete when its chunks reach the ``IEND`` chunk: the file ends with it, or bytes follow
    it (a trailer, which the reader does not read either). Other formats are judged by the
    quiet period alone.
    """
    lower = path.lower()
    try:
        if lower.endswith(".exr"):
            return _exr_missing(path, size) is None
        if lower.endswith(".png"):
            return _png_missing(path, size) is None
    except OSError:
        return False
    return True


class Missing(NamedTuple):
    """What keeps a file from being complete: ``reason`` in words for a wrangler, and
    whether it is ``damaged`` — a header or table that no writer leaves behind, so that
    waiting for more bytes cannot help — rather than unfinished (a file that ends early, an
    offset table not filled in yet), which a writer still at work finishes."""

    reason: str
    damaged: bool = False


def missing_part(path: str, size: int) -> Missing | None:
    """What :func:`is_complete` found missing in the file ``path`` (``size`` bytes); None
    when nothing is."""
    lower = path.lower()
    try:
        if lower.endswith(".png"):
            return _png_missing(path, size)
        if lower.endswith(".exr"):
            return _exr_missing(path, size)
    except OSError as exc:
        return Missing(f"cannot be read: {exc.strerror or exc}")
    return None


def _png_missing(path: str, size: int) -> Missing | None:
    if size < len(_PNG_MAGIC) + len(_PNG_IEND):
        return Missing(f"the file ends after {size} bytes")
    fd = os.open(
        path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    )  # a named pipe swapped in: no hang
    try:
        head = os.pread(fd, 8, 0)
        tail = os.pread(fd, len(_PNG_IEND), size - len(_PNG_IEND))
    finally:
        os.close(fd)
    if head != _PNG_MAGIC:
        return Missing("not a PNG file (bad signature)", damaged=True)
    # its chunks are walked as the audit's reader walks them, so the watcher and the audit
    # agree on where the file ends: bytes after IEND (a trailer: phone and app tools, padded
    # copies leave them) do not hold it back, and a file whose bytes so far end with an IEND
    # inside a chunk (an embedded thumbnail's) is not taken for a whole one. The walk reads
    # chunk headers only: about 3 ms for a 25 MB frame of 8 KiB IDAT chunks
    blocks = walk_container(path)
    if blocks.ended:
        return None
    if tail == _PNG_IEND and blocks.unreadable and not blocks.truncated:
        return None  # past a bound of the walk (the audit says so): it ends as a whole one
    reason = blocks.problems[-1] if blocks.problems else "no IEND chunk"
    return Missing(reason, damaged=not (blocks.truncated or blocks.unreadable))


def _exr_missing(path: str, size: int) -> Missing | None:
    # os.pread: no buffered file object, no seek (this runs for every EXR that settles)
    fd = os.open(
        path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)
    )  # a named pipe swapped in: no hang
    try:
        head = os.pread(fd, min(size, _WINDOW), 0)
        header = parse_exr_open(fd, size, head, _SIZING)
        table = header["header_end"]
        if table is None:  # the headers are not whole: the parser says why
            problems = header["problems"]
            reason = problems[0] if problems else "the headers are not whole"
            # a header that ends early may be one still being written; any other damage
            # (a bad magic number, a name too long, a header past the parser's bounds) is
            # not what a writer leaves behind on its way
            return Missing(reason, damaged=not header["truncated"])
        return _ExrTables(fd, size, head, header).missing(table)
    finally:
        os.close(fd)


class _ExrTables:
    """A whole EXR header's offset tables and last chunk, read through a window of the file
    (the first 64 KiB, which the header parser read, usually hold them)."""

    __slots__ = ("fd", "size", "buf", "start", "header")

    def __init__(self, fd: int, size: int, head: bytes, header: dict[str, Any]) -> None:
        self.fd, self.size, self.buf, self.start, self.header = fd, size, head, 0, header

    def read(self, pos: int, n: int, ahead: int = _WINDOW) -> bytes | None:
        """The ``n`` bytes at ``pos``, from the window or read with up to ``ahead`` more;
        None when the file ends first."""
        offset = pos - self.start
        if offset >= 0 and offset + n <= len(self.buf):
            return self.buf[offset : offset + n]
        if pos + n > self.size:
            return None
        self.buf, self.start = os.pread(self.fd, max(n, ahead), pos), pos
        if len(self.buf) < n:
            return None  # truncated since it was stat()ed
        return self.buf[:n]

    def missing(self, table: int) -> Missing | None:
        """What is missing of the offset tables that begin at ``table``, and of the last
        chunk; a layout whose tables cannot be sized: nothing (its headers are whole)."""
        header = self.header
        if header["multipart"] or header["deep"]:
            default = ""
        else:
            default = "tiledimage" if header["tiled"] else "scanlineimage"
        kinds: list[str] = []
        counts: list[int] = []
        for attrs in header["parts"]:  # a loop, not comprehensions: this runs on every check
            kind, count = _exr_part(attrs, default)
            if count is None:
                return None  # a table of unknown size: the quiet period decides
            kinds.append(kind)
            counts.append(count)
        total = sum(counts)
        table_end = table + 8 * total
        if table_end > self.size:
            return Missing(f"the file ends inside its offset tables (they end at byte {table_end})")
        if total == 0:
            return None
        last = 0
        for first in range(table, table_end, 8 * _TABLE_PIECE):
            n = min(_TABLE_PIECE, (table_end - first) // 8)
            raw = self.read(first, 8 * n)
            if raw is None:
                return Missing("the file ends inside its offset tables")
            offsets = struct.unpack(f"<{n}Q", raw)
            low = min(offsets)
            if low < table_end:  # 0: OpenEXR fills the tables in when it closes the file
                entry = (first - table) // 8 + offsets.index(low)
                return _unfilled(entry, counts, low)
            last = max(last, max(offsets))
        return self._last_chunk(last, kinds, header["multipart"])

    def _last_chunk(self, at: int, kinds: list[str], multipart: bool) -> Missing | None:
        """What is missing of the chunk at ``at`` (the last one): None when it ends inside
        the file."""
        if at + 8 > self.size:
            return _cut(at)
        lead = self.read(at, min(44, self.size - at), ahead=0)
        if lead is None:
            return _cut(at)
        kind = kinds[0]
        pos = 0
        if multipart:
            index = int.from_bytes(lead[:4], "little", signed=True)
            if not 0 <= index < len(kinds):
                return Missing(
                    f"the last chunk (at byte {at}) names part {index}, which the file lacks",
                    damaged=True,
                )
            kind, pos = kinds[index], 4
        coords = _CHUNK_COORDS.get(kind)
        if coords is None:
            return None  # a part type this check does not know: its offsets are in the file
        pos += coords
        try:
            if kind.startswith("deep"):
                table, samples, _unpacked = struct.unpack_from("<qqq", lead, pos)
                data, pos = table + samples, pos + 24
                ok = table >= 0 and samples >= 0
            else:
                (data,) = struct.unpack_from("<i", lead, pos)
                pos += 4
                ok = data >= 0
        except struct.error:
            return _cut(at)
        if not ok:
            return Missing(f"the last chunk (at byte {at}) has a negative size", damaged=True)
        return None if at + pos + data <= self.size else _cut(at)


def _cut(at: int) -> Missing:
    return Missing(f"the file ends inside its last chunk (at byte {at})")


def _unfilled(entry: int, counts: list[int], offset: int) -> Missing:
    """Where the first bad offset table entry is, in words."""
    part = 0
    while entry >= counts[part]:
        entry -= counts[part]
        part += 1
    where = f"entry {entry} of {counts[part]} in part {part}'s offset table"
    if offset == 0:
        return Missing(
            f"{where} is not filled in (OpenEXR fills the tables in when it closes the file)"
        )
    return Missing(f"{where} points into the headers (byte {offset})", damaged=True)


def _exr_part(attrs: dict[str, Any], default_type: str) -> tuple[str, int | None]:
    """A part's type and the length of its offset table (None: cannot be known), as OpenEXR
    works them out: from the data window and the compression (scan lines) or the tile
    description (tiles); from ``chunkCount`` for a type or compression it does not know."""
    kind = attrs.get("type", default_type)
    if type(kind) is not str:
        kind = default_type
    count: int | None = None
    window = attrs.get("dataWindow")
    # four ints: a box2i (the parser's other tuples, a v2i or a v2f, have two)
    if type(window) is tuple and len(window) == 4:
        x0, y0, x1, y1 = window
        width, height = x1 - x0 + 1, y1 - y0 + 1
        if kind in ("scanlineimage", "deepscanline"):
            lines = _LINES_PER_CHUNK.get(attrs.get("compression", "none"))
            if lines is not None and height > 0:
                count = -(-height // lines)
        elif kind in ("tiledimage", "deeptile") and width > 0 < height:
            tiles = attrs.get("tiles")  # a tiledesc: four ints, as a box2i
            if type(tiles) is tuple and len(tiles) == 4:
                count = _tile_count(width, height, *tiles)
    declared = attrs.get("chunkCount")
    if count is None and type(declared) is int and declared >= 0:
        count = declared
    return kind, count


def _tile_count(
    width: int, height: int, x_size: int, y_size: int, levels: int, rounding: int
) -> int | None:
    """Tiles in every resolution level (OpenEXR's ``internal_exr_compute_tile_information``):
    ``levels`` one level, mipmap or ripmap; ``rounding`` down or up."""
    if x_size <= 0 or y_size <= 0 or not 0 <= levels <= 2 or not 0 <= rounding <= 1:
        return None
    if levels == 0:
        return -(-width // x_size) * -(-height // y_size)
    if levels == 1:
        n = _level_count(max(width, height), rounding)
        across = _level_tiles(width, n, x_size, rounding)
        down = _level_tiles(height, n, y_size, rounding)
        return sum(map(operator.mul, across, down))
    across = _level_tiles(width, _level_count(width, rounding), x_size, rounding)
    down = _level_tiles(height, _level_count(height, rounding), y_size, rounding)
    return sum(across) * sum(down)


def _level_count(size: int, rounding: int) -> int:
    """Resolution levels of a mipmap or ripmap ``size`` wide: 1 + floor or ceil of log2."""
    return ((size - 1).bit_length() if rounding else size.bit_length() - 1) + 1


def _level_tiles(size: int, levels: int, tile: int, rounding: int) -> list[int]:
    """Tiles of ``tile`` pixels across ``size`` at each of the first ``levels`` levels."""
    counts = []
    for level in range(levels):
        level_size = size >> level
        if rounding and level_size << level < size:
            level_size += 1
        counts.append(-(-max(level_size, 1) // tile))
    return counts
