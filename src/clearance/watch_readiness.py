"""What the watcher needs to know about files before it trusts them.

* :class:`FileSystem` — the ``stat``/``scandir`` the watcher (and its polling backend) use.
  Production uses the OS; tests pass one that fails or lies like a network share does.
* :func:`filesystem_type` / :func:`backend_for` — which backend a root needs, from
  ``/proc/self/mountinfo`` (inotify sees nothing written by other hosts on NFS/SMB/FUSE).
* :func:`is_complete` — format completeness: an EXR whose headers, offset tables or last
  chunk are not all in the file, or a PNG without its ``IEND`` chunk, is still being written.
* :func:`is_transient` — errors that mean "the share hiccuped", never "the file is gone".
* :func:`detached_manifest` — which ``.c2pa`` manifest an asset's audit reads, and its version.
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from stat import S_ISREG

from .provenance.c2pa import manifest_names

__all__ = [
    "FileSystem",
    "NETWORK_FS",
    "filesystem_type",
    "backend_for",
    "is_complete",
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

    The version is ``dev:ino:size:mtime_ns`` of the one read; a sequence's ``PREFIX.c2pa``
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
        fp = f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}"
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
_EXR_MAGIC = b"\x76\x2f\x31\x01"
_EXR_TILED, _EXR_DEEP, _EXR_MULTIPART = 0x200, 0x800, 0x1000
#: scan lines per chunk of each compression (OpenEXR's ``exr_compression_lines_per_chunk``):
#: none, rle, zips 1; zip, pxr24 16; piz, b44, b44a, dwaa, htj2k32 32; dwab, htj2k256 256
_LINES_PER_CHUNK = {
    0: 1,
    1: 1,
    2: 1,
    3: 16,
    4: 32,
    5: 16,
    6: 32,
    7: 32,
    8: 32,
    9: 256,
    10: 256,
    11: 32,
}
#: what comes before a chunk's data size(s), by part type: its scan line or tile coordinates
_CHUNK_COORDS = {"scanlineimage": 4, "tiledimage": 16, "deepscanline": 4, "deeptile": 16}
#: the attributes the check reads; every other value is skipped, never read
_SIZING = frozenset({b"compression", b"dataWindow", b"tiles", b"type", b"chunkCount"})
# the EXR reader's bounds (provenance/_exrheader.py): no header makes the check loop or read
# without end, however corrupt
_MAX_NAME = 256
_MAX_ATTRIBUTES = 4096
_MAX_PARTS = 4096
_WINDOW = 64 * 1024
_TABLE_PIECE = 64 * 1024  # offsets read and checked at a time


def is_complete(path: str, size: int) -> bool:
    """False when a PNG or EXR is evidently still being written; True otherwise.

    An EXR of any layout (scan lines, tiles with their mipmap or ripmap levels, deep data,
    several parts) is complete when every header is in the file (a multi-part file's list
    ended by its empty header), every offset table is, with every offset filled in (OpenEXR
    writes them when it closes the file) and inside the file, and the last chunk ends inside
    it. Where the tables cannot be sized — a compression or part type OpenEXR 3.4 does not
    define, without a ``chunkCount`` — the headers being whole is all this checks. Other
    formats are judged by the quiet period alone.
    """
    lower = path.lower()
    try:
        if lower.endswith(".png"):
            return _png_complete(path, size)
        if lower.endswith(".exr"):
            return _exr_complete(path, size)
    except OSError:
        return False
    return True


def _png_complete(path: str, size: int) -> bool:
    if size < len(_PNG_MAGIC) + len(_PNG_IEND):
        return False
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.pread(fd, 8, 0)
        tail = os.pread(fd, len(_PNG_IEND), size - len(_PNG_IEND))
    finally:
        os.close(fd)
    return head == _PNG_MAGIC and tail == _PNG_IEND


def _exr_complete(path: str, size: int) -> bool:
    # os.pread: no buffered file object, no seek (this runs for every EXR that settles)
    fd = os.open(path, os.O_RDONLY)
    try:
        head = os.pread(fd, min(size, _WINDOW), 0)
        if len(head) < 8 or head[:4] != _EXR_MAGIC:
            return False
        return _ExrFile(fd, size, head).complete()
    except _Unfinished:
        return False
    finally:
        os.close(fd)


class _Unfinished(Exception):
    """The file ends before its structure does (or the structure is not an EXR's)."""


class _ExrFile:
    """An EXR's layout, read forward through a window of the file (the first 64 KiB hold a
    usual header and offset table: one read)."""

    __slots__ = ("fd", "size", "buf", "start")

    def __init__(self, fd: int, size: int, head: bytes) -> None:
        self.fd, self.size, self.buf, self.start = fd, size, head, 0

    def read(self, pos: int, n: int, ahead: int = _WINDOW) -> bytes:
        """The ``n`` bytes at ``pos``, from the window or read with up to ``ahead`` more."""
        offset = pos - self.start
        if offset >= 0 and offset + n <= len(self.buf):
            return self.buf[offset : offset + n]
        if pos + n > self.size:
            raise _Unfinished
        self.buf, self.start = os.pread(self.fd, max(n, ahead), pos), pos
        if len(self.buf) < n:
            raise _Unfinished  # truncated since it was stat()ed
        return self.buf[:n]

    def name(self, pos: int) -> tuple[bytes, int]:
        """The NUL-terminated name at ``pos`` (at most 256 bytes) and the position after it."""
        for _ in (0, 1):
            offset = pos - self.start
            if offset >= 0:
                end = self.buf.find(b"\0", offset, offset + _MAX_NAME + 1)
                if end >= 0:
                    return self.buf[offset:end], self.start + end + 1
                if offset + _MAX_NAME + 1 <= len(self.buf):
                    raise _Unfinished  # too long to be a name: not an EXR header
            if pos >= self.size:
                break
            self.buf, self.start = os.pread(self.fd, _WINDOW, pos), pos
        raise _Unfinished

    def header(self, pos: int) -> tuple[dict[bytes, bytes], int]:
        """The sizing attributes of the header at ``pos``, and the position after its end."""
        found: dict[bytes, bytes] = {}
        buf, start, sizing = self.buf, self.start, _SIZING
        for _ in range(_MAX_ATTRIBUTES):
            at = pos - start
            end = buf.find(b"\0", at, at + _MAX_NAME + 1)
            if end == at:
                return found, pos + 1  # the NUL that ends the header
            type_end = buf.find(b"\0", end + 1, end + _MAX_NAME + 2) if end > 0 else -1
            if 0 < type_end <= len(buf) - 5:  # the usual case: name to size in the window
                name = buf[at:end]
                length = int.from_bytes(buf[type_end + 1 : type_end + 5], "little", signed=True)
                pos = start + type_end + 5
            else:  # across the window's end (or not a header)
                name, pos = self.name(pos)
                if not name:
                    return found, pos
                _type, pos = self.name(pos)
                length = int.from_bytes(self.read(pos, 4), "little", signed=True)
                pos += 4
            if length < 0:
                raise _Unfinished
            if name in sizing and length <= 16:
                found[name] = self.read(pos, length)
            pos += length  # a preview or an ICC profile: skipped, not read
            buf, start = self.buf, self.start
        raise _Unfinished

    def complete(self) -> bool:
        """Every header, every offset table entry (filled in) and the last chunk are in
        the file; a layout whose tables cannot be sized: its headers are."""
        flags = int.from_bytes(self.buf[4:8], "little")
        multipart = bool(flags & _EXR_MULTIPART)
        parts: list[tuple[str, int | None]] = []
        pos = 8
        if multipart:
            while self.read(pos, 1) != b"\0":  # an empty header ends the list
                if len(parts) == _MAX_PARTS:
                    raise _Unfinished
                attrs, pos = self.header(pos)
                parts.append(_exr_part(attrs, ""))
            pos += 1
        else:
            attrs, pos = self.header(pos)
            single = "tiledimage" if flags & _EXR_TILED else "scanlineimage"
            parts.append(_exr_part(attrs, "" if flags & _EXR_DEEP else single))
        counts = [count for _, count in parts if count is not None]
        if len(counts) < len(parts):
            return True  # tables of unknown size: the quiet period decides
        total = sum(counts)
        table_end = pos + 8 * total
        if table_end > self.size:
            return False
        if total == 0:
            return True
        last = 0
        for first in range(pos, table_end, 8 * _TABLE_PIECE):
            n = min(_TABLE_PIECE, (table_end - first) // 8)
            offsets = struct.unpack(f"<{n}Q", self.read(first, 8 * n))
            if min(offsets) < table_end:  # 0: OpenEXR fills the tables in when it closes
                return False
            last = max(last, max(offsets))
        return self._chunk_fits(last, parts, multipart)

    def _chunk_fits(self, at: int, parts: list[tuple[str, int | None]], multipart: bool) -> bool:
        """Does the chunk at ``at`` (the last one) end inside the file?"""
        if at + 8 > self.size:
            return False
        lead = self.read(at, min(44, self.size - at), ahead=0)
        kind = parts[0][0]
        pos = 0
        if multipart:
            index = int.from_bytes(lead[:4], "little", signed=True)
            if not 0 <= index < len(parts):
                return False
            kind, pos = parts[index][0], 4
        coords = _CHUNK_COORDS.get(kind)
        if coords is None:
            return True  # a part type this check does not know: its offsets are in the file
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
            return False
        return ok and at + pos + data <= self.size


def _exr_part(attrs: dict[bytes, bytes], default_type: str) -> tuple[str, int | None]:
    """A part's type and the length of its offset table (None: cannot be known), as OpenEXR
    works them out: from the data window and the compression (scan lines) or the tile
    description (tiles); from ``chunkCount`` for a type or compression it does not know."""
    kind = attrs[b"type"].decode("latin-1") if b"type" in attrs else default_type
    window = attrs.get(b"dataWindow", b"")
    count: int | None = None
    if len(window) == 16:
        x0, y0, x1, y1 = struct.unpack("<4i", window)
        width, height = x1 - x0 + 1, y1 - y0 + 1
        tiles = attrs.get(b"tiles", b"")
        if kind in ("scanlineimage", "deepscanline") and height > 0:
            lines = _LINES_PER_CHUNK.get((attrs.get(b"compression") or b"\0")[0])
            if lines is not None:
                count = -(-height // lines)
        elif kind in ("tiledimage", "deeptile") and len(tiles) == 9 and width > 0 < height:
            count = _tile_count(width, height, *struct.unpack("<IIB", tiles))
    if count is None and len(attrs.get(b"chunkCount", b"")) == 4:
        declared = int.from_bytes(attrs[b"chunkCount"], "little", signed=True)
        count = declared if declared >= 0 else None
    return kind, count


def _tile_count(width: int, height: int, x_size: int, y_size: int, mode: int) -> int | None:
    """Tiles in every resolution level (OpenEXR's ``internal_exr_compute_tile_information``):
    ``mode`` = level mode (one level, mipmap, ripmap) + 16 x rounding mode (down, up)."""
    levels, rounding = mode & 0x0F, mode >> 4
    if not x_size or not y_size or levels > 2 or rounding > 1:
        return None

    def log2(n: int) -> int:  # floor or ceil of log2(n), n >= 1
        return (n - 1).bit_length() if rounding else n.bit_length() - 1

    def tiles(size: int, level: int, tile: int) -> int:
        level_size = size >> level
        if rounding and level_size << level < size:
            level_size += 1
        return -(-max(level_size, 1) // tile)

    if levels == 0:
        return tiles(width, 0, x_size) * tiles(height, 0, y_size)
    if levels == 1:
        return sum(
            tiles(width, n, x_size) * tiles(height, n, y_size)
            for n in range(log2(max(width, height)) + 1)
        )
    across = sum(tiles(width, n, x_size) for n in range(log2(width) + 1))
    return across * sum(tiles(height, n, y_size) for n in range(log2(height) + 1))
