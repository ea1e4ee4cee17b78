"""What the watcher needs to know about files before it trusts them.

* :class:`FileSystem` — the ``stat``/``scandir`` the watcher (and its polling backend) use.
  Production uses the OS; tests pass one that fails or lies like a network share does.
* :func:`filesystem_type` / :func:`backend_for` — which backend a root needs, from
  ``/proc/self/mountinfo`` (inotify sees nothing written by other hosts on NFS/SMB/FUSE).
* :func:`is_complete` — format completeness: an EXR whose offset table points past the end
  of the file, or a PNG without its ``IEND`` chunk, is still being written.
* :func:`is_transient` — errors that mean "the share hiccuped", never "the file is gone".
"""

from __future__ import annotations

import errno
import os
import struct
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "FileSystem",
    "NETWORK_FS",
    "filesystem_type",
    "backend_for",
    "is_complete",
    "is_transient",
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
_LINES_PER_CHUNK = {0: 1, 1: 1, 2: 1, 3: 16, 4: 32, 5: 16, 6: 32, 7: 32, 8: 32, 9: 256}


def is_complete(path: str, size: int) -> bool:
    """False when a PNG or EXR is evidently still being written; True otherwise.

    Other formats (and EXR layouts this check does not model: tiled, multi-part, deep) are
    judged by the quiet period alone.
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
        return _exr_complete_fd(fd, size)
    finally:
        os.close(fd)


def _exr_complete_fd(fd: int, size: int) -> bool:
    head = os.pread(fd, min(size, 65536), 0)
    if len(head) < 8 or head[:4] != _EXR_MAGIC:
        return False
    flags = struct.unpack_from("<I", head, 4)[0]
    if flags & (0x200 | 0x800 | 0x1000):  # tiled, deep, multi-part: not modelled
        return True
    pos, compression, window = 8, 0, None
    while True:
        if pos >= len(head):
            return False  # header not fully written yet
        if head[pos] == 0:
            pos += 1
            break
        name_end = head.find(b"\0", pos)
        type_end = head.find(b"\0", name_end + 1)
        if name_end < 0 or type_end < 0 or type_end + 5 > len(head):
            return False
        (length,) = struct.unpack_from("<i", head, type_end + 1)
        value = head[type_end + 5 : type_end + 5 + length]
        if len(value) < length:
            return False
        name = head[pos:name_end]
        if name == b"compression" and value:
            compression = value[0]
        elif name == b"dataWindow" and len(value) == 16:
            window = struct.unpack("<iiii", value)
        pos = type_end + 5 + length
    if window is None:
        return True
    height = window[3] - window[1] + 1
    per_chunk = _LINES_PER_CHUNK.get(compression, 1)
    chunks = max(1, -(-height // per_chunk))
    table_end = pos + 8 * chunks
    if table_end > size:
        return False
    table = head[pos:table_end] if table_end <= len(head) else os.pread(fd, 8 * chunks, pos)
    if len(table) < 8 * chunks:
        return False
    offsets = struct.unpack(f"<{chunks}Q", table)
    if any(o == 0 or o < table_end or o + 8 > size for o in offsets):
        return False
    last = max(offsets)
    chunk_head = os.pread(fd, 8, last)
    if len(chunk_head) < 8:
        return False
    _y, data_size = struct.unpack("<ii", chunk_head)
    return data_size >= 0 and last + 8 + data_size <= size
