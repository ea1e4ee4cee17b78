"""Stdlib walkers over image containers: find the XMP packets and a C2PA manifest store.

They read chunk and segment headers only and seek past pixel data, so a 4K frame costs a few
small reads, never a decode. Pillow is not used: it misses PNG chunks written after the pixel
data (``IDAT``) unless it decodes every pixel first.

Each walker returns a :class:`Blocks` and never raises on bad input: truncation and corruption
are collected in ``Blocks.problems`` (they become provenance issues), and whatever was found
before the damage is still returned.

A walk's cost is bounded whatever the file holds: every walker stops at a bound on the
chunks, segments or boxes it reads one by one, and a file past the bound is a problem and
``Blocks.unread_rest``, never a silent stop. What is not counted pays with its size: pixel data
chunks of 1 KiB or more, and animation frames and movie fragments past their own (larger)
bound, one per KiB they span, so their headers cost less to walk than the file costs to read.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field

from ._common import unreadable

__all__ = ["Blocks", "MAX_XMP_BYTES", "MAX_XMP_PACKETS", "scan", "sniff", "walk"]

# No real XMP packet comes close to this; the cap, on all of a file's packets together, keeps
# a hostile file (or a zTXt/iTXt decompression bomb) from costing memory.
MAX_XMP_BYTES = 8 * 1024 * 1024
# A file normally has one packet; a tool that appends its own instead of rewriting the first
# makes two. Beyond this many, the rest are an issue, not read.
MAX_XMP_PACKETS = 16

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
JPEG_XMP_NS = b"http://ns.adobe.com/xap/1.0/\x00"
JPEG_XMP_EXT_NS = b"http://ns.adobe.com/xmp/extension/\x00"
TIFF_TAG_XMP = 700
TIFF_TAG_C2PA = 0xCD41  # C2PA 2.x: manifest store in a TIFF IFD0 tag


@dataclass
class Blocks:
    """What one container holds that matters for provenance.

    :ivar format: ``png``, ``jpeg``, ``webp``, ``wav``, ``tiff``, ``bmff`` (MOV, MP4) or
        ``unknown``.
    :ivar xmp: the first XMP packet's bytes (None when there is none).
    :ivar xmp_where: where that packet sits (``iTXt after IDAT``, ``APP1``), for evidence.
    :ivar more_xmp: every further packet, as ``(bytes, where)``, in file order (a tool that
        appended its own packet): at most :data:`MAX_XMP_PACKETS` in all.
    :ivar c2pa: where an embedded C2PA manifest store sits (``caBX``, ``APP11``), or None.
    :ivar text_keys: PNG text chunk keywords (values are not kept: they can hold prompts).
    :ivar problems: truncation and corruption found while walking.
    """

    format: str
    xmp: bytes | None = None
    xmp_where: str = ""
    c2pa: str | None = None
    text_keys: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # class defaults (a tuple, not a list; not __init__ arguments): a one-packet file's walk
    # pays nothing for them
    more_xmp: tuple[tuple[bytes, str], ...] = field(default=(), init=False)
    #: packets not read, for the bounds (too many, too big) or because their chunk is damaged
    #: (a compressed text that does not inflate, a corrupt iTXt or zTXt header): each is a
    #: problem, except that past MAX_XMP_PACKETS only the first is (``too_many_xmp``)
    xmp_skipped: int = field(default=0, init=False)
    too_many_xmp: bool = field(default=False, init=False)
    #: the file could not be opened or read (reading again may succeed: never cached)
    unreadable: bool = field(default=False, init=False)
    #: the walk stopped at a bound (too many chunks, markers or boxes) before the end of the
    #: file: what lies past it was not read and might hold metadata. The same file always
    #: stops at the same place, so the answer is cached like any other.
    unread_rest: bool = field(default=False, init=False)
    #: PNG: the walk reached the IEND chunk (bytes after it, a trailer, are not read)
    ended: bool = field(default=False, init=False)
    #: PNG: the file ends before its IEND chunk, as one still being written does
    truncated: bool = field(default=False, init=False)
    #: JPEG: the GUIDs of the Extended XMP packets the file has segments of (read or not)
    extended_xmp: tuple[bytes, ...] = field(default=(), init=False)

    def xmp_room(self, length: int, what: str, pos: int | None = None) -> int:
        """How many bytes the packet ``what`` (``XMP iTXt chunk``) at byte ``pos`` may hold, or
        0 when it is not to be read: a problem then says why (too many packets, or too big:
        the limit is on all the file's packets together). ``length``: its declared size."""
        if self.xmp is None:
            if length <= MAX_XMP_BYTES:
                return MAX_XMP_BYTES
            room = MAX_XMP_BYTES
        elif len(self.more_xmp) + 1 >= MAX_XMP_PACKETS:
            if not self.too_many_xmp:
                self.too_many_xmp = True
                self.problems.append(
                    f"{_at(what, pos)} and any later ones not read: more than"
                    f" {MAX_XMP_PACKETS} XMP packets"
                )
            self.xmp_skipped += 1
            return 0
        else:
            room = MAX_XMP_BYTES - len(self.xmp) - sum(len(p) for p, _ in self.more_xmp)
            if length <= room:
                return room
        together = " for all XMP packets together" if self.xmp is not None else ""
        self.problems.append(
            f"{_at(what, pos)} is {length} bytes (limit {MAX_XMP_BYTES}{together})"
        )
        self.xmp_skipped += 1
        return 0

    def add_xmp(self, packet: bytes, where: str) -> None:
        if self.xmp is None:
            self.xmp, self.xmp_where = packet, where
        else:
            self.more_xmp += ((packet, where),)

    def stop(self, problem: str) -> Blocks:
        """End the walk at a bound: ``problem`` says which, and the rest is not read."""
        self.problems.append(problem)
        self.unread_rest = True
        return self


def _at(what: str, pos: int | None) -> str:
    return what if pos is None else f"{what} at byte {pos}"


def sniff(head: bytes) -> str:
    """The container format from a file's first 12 bytes."""
    if head.startswith(PNG_SIGNATURE):
        return "png"
    if head.startswith(b"\xff\xd8"):
        return "jpeg"
    if head[:4] == b"RIFF" and head[8:12] in (b"WEBP", b"WAVE"):
        return "riff"
    if head[:4] in _RIFF64 and head[8:12] == b"WAVE":
        return "riff"
    if head[4:8] in _BMFF_FIRST:
        return "bmff"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    return "unknown"


_RECENT: OrderedDict[tuple[str, int, int, int, int, int], Blocks] = OrderedDict()
_RECENT_MAX = 16


def walk(path: str | os.PathLike[str]) -> Blocks:
    """:func:`scan` without its memory of recent walks: the file as it is now, for a caller
    outside the readers' thread (the watcher's completeness check, on a file that may still
    be growing)."""
    return _scan(path)


def _unreadable_blocks(exc: OSError) -> Blocks:
    blocks = Blocks(format="unknown", problems=[unreadable(exc)])
    blocks.unreadable = True
    return blocks


def scan(path: str | os.PathLike[str], st: os.stat_result | None = None) -> Blocks:
    """Walk ``path``'s container for XMP and C2PA; problems are reported, never raised.

    An unreadable file (missing, permission denied) is a problem too: readers turn it into an
    issue naming the file rather than letting an ``OSError`` escape into the engine.

    The XMP and C2PA readers both ask for the same file, one after the other: the last few
    walks are remembered by file version (device, inode, size, mtime, ctime), so each file is
    walked once. Callers treat the result as read-only.

    :param st: ``os.stat(path)`` if the caller has it (``Asset.stat``): the file's version.
    """
    try:
        if st is None:
            st = os.stat(path)
    except OSError as exc:
        return _unreadable_blocks(exc)
    key = (os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    found = _RECENT.get(key)
    if found is None:
        found = _scan(path)
        _RECENT[key] = found
        if len(_RECENT) > _RECENT_MAX:
            _RECENT.popitem(last=False)
    return found


#: the first bytes of every file are read at once: a small file (a matte, a thumbnail, a
#: sidecar-sized PNG) is then walked in memory, and a big one's headers mostly lie within
_HEAD_BYTES = 64 * 1024


class _File:
    """An open file being walked: its first :data:`_HEAD_BYTES` bytes, the rest on demand."""

    __slots__ = ("fd", "head")

    def __init__(self, fd: int, head: bytes) -> None:
        self.fd = fd
        self.head = head


#: what a walker reads from: the whole file's bytes, or a :class:`_File`
_Src = bytes | _File


def _scan(path: str | os.PathLike[str]) -> Blocks:
    # os.open and positioned reads: no buffered reader (whose read-ahead would drag skipped
    # pixel data through memory) and no system calls beyond open, read and close for a
    # small file (fstat only for a big one)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        return _unreadable_blocks(exc)
    try:
        head = _pread(fd, _HEAD_BYTES, 0)
        source: _Src
        if len(head) < _HEAD_BYTES:  # the whole file
            source, size = head, len(head)
        else:
            source, size = _File(fd, head), os.fstat(fd).st_size
        kind = sniff(head[:12])
        walker = _WALKERS.get(kind)
        if walker is None:
            return Blocks(format=kind)
        return walker(source, size)
    except OSError as exc:
        return _unreadable_blocks(exc)
    finally:
        os.close(fd)


def _read_at(f: _Src, pos: int, n: int) -> bytes:
    if type(f) is bytes:
        return f[pos : pos + n]
    head = f.head  # type: ignore[union-attr]
    if pos + n <= len(head):
        return head[pos : pos + n]
    return _pread(f.fd, n, pos)  # type: ignore[union-attr]


def _pread(fd: int, n: int, pos: int) -> bytes:
    if _PREAD is not None:
        return _PREAD(fd, n, pos)
    os.lseek(fd, pos, os.SEEK_SET)  # Windows has no pread
    return os.read(fd, n)


_PREAD = getattr(os, "pread", None)


# -------------------------------------------------------- animations, fragmented movies ----

# An animation has a chunk or two per frame (APNG fcTL and fdAT, WebP ANMF), a fragmented movie
# a box or two per fragment (moof and mdat, one fragment per frame for an intra codec): a long
# one has hundreds of thousands. They are counted apart from the other chunks and boxes, against
# a bound that grows with the bytes they span, so a real file of any length is read to its end
# (a frame spans kilobytes) while a hostile flood of tiny ones stops within about 20 ms.
_FRAME_PARTS = 20_000
_FRAME_PART_BYTES = 1024


class _FrameParts:
    """The per-frame chunks or boxes (``what``) a walk has read, and the bytes they span."""

    __slots__ = ("count", "spanned", "what")

    def __init__(self, what: str) -> None:
        self.what = what
        self.count = self.spanned = 0

    def add(self, nbytes: int) -> bool:
        """Count one part of ``nbytes`` bytes (header included); False once past the bound:
        :data:`_FRAME_PARTS`, plus one for every :data:`_FRAME_PART_BYTES` they span."""
        self.count += 1
        self.spanned += nbytes
        return self.count <= _FRAME_PARTS + self.spanned // _FRAME_PART_BYTES

    def bound(self, pos: int) -> str:
        return (
            f"more than {_FRAME_PARTS} {self.what} plus one per KiB they span ({self.count} in"
            f" {self.spanned} bytes, at byte {pos}): the rest of the file is not read"
        )


# ---------------------------------------------------------------------------------- PNG ----

# A PNG is a handful of chunks around its pixel data. A hostile one (hundreds of thousands of
# empty or text chunks) must cost what a header costs: past this many chunks the walk stops,
# and the rest of the file is a problem, not read. Pixel data chunks (IDAT) of _PIXEL_CHUNK
# bytes or more are not counted: a 4K frame holds thousands (libpng writes 8 KiB),
# walked one by one only when the tail cannot be trusted. Smaller ones count: no writer splits
# pixel data that finely (only the last chunk of a run is short). An APNG's frames (fcTL and
# fdAT chunks) count apart, as frame parts.
_MAX_PNG_CHUNKS = 4096
_PIXEL_CHUNK = 1024
_APNG_FRAME_CHUNKS = (b"fcTL", b"fdAT")


def _walk_png(f: _Src, size: int) -> Blocks:
    blocks = Blocks(format="png")
    pos = len(PNG_SIGNATURE)
    seen_idat = animated = False
    counted = 0
    frames = _FrameParts("animation chunks (fcTL, fdAT)")
    while True:
        header = _read_at(f, pos, 8)
        if len(header) < 8:
            blocks.problems.append(f"truncated: file ends at byte {size} before the IEND chunk")
            blocks.truncated = True
            return blocks
        length, ctype = struct.unpack(">I4s", header)
        if length > 0x7FFFFFFF:
            blocks.problems.append(f"corrupt chunk header at byte {pos} (length {length})")
            return blocks
        end = pos + 12 + length
        if end > size:
            what = ctype.decode("latin-1", "replace")
            blocks.problems.append(
                f"truncated: {what} chunk at byte {pos} needs {end} bytes, file has {size}"
            )
            blocks.truncated = True
            return blocks
        if ctype in _APNG_FRAME_CHUNKS:
            if not frames.add(end - pos):
                return blocks.stop(f"corrupt PNG: {frames.bound(pos)}")
        elif length < _PIXEL_CHUNK or ctype != b"IDAT":
            counted += 1
            if counted > _MAX_PNG_CHUNKS:
                return blocks.stop(
                    f"corrupt PNG: more than {_MAX_PNG_CHUNKS} chunks besides the pixel data"
                    f" (at byte {pos}): the rest of the file is not read"
                )
        if ctype == b"IDAT":
            if not seen_idat:
                seen_idat = True
                # an APNG's frames (acTL comes first) follow its IDAT chunks: the tail search
                # would CRC-check them all for a jump the walk, which reads them, barely needs
                jump = None if animated else _after_last_idat(f, size, pos)
                if jump is not None and _idats_reach(f, pos, jump):
                    pos = jump
                    continue
        elif ctype == b"acTL":
            animated = True
        elif ctype == b"IEND":
            blocks.ended = True
            return blocks
        elif ctype == b"caBX":
            blocks.c2pa = blocks.c2pa or "caBX"
        elif ctype in (b"iTXt", b"tEXt", b"zTXt"):
            _png_text(f, pos, length, ctype, seen_idat, blocks)
        pos = end


# A 4K frame holds hundreds (Pillow: 64 KiB) to thousands (libpng: 8 KiB) of IDAT chunks;
# walking them one header at a time costs 0.3-2 ms. IDAT chunks are consecutive (PNG spec
# 5.6), so everything after the pixel data is a short chain ending in IEND at the end of the
# file: find it in the file's tail instead.
_TAIL_WINDOW = 128 * 1024
_MAX_TAIL_WINDOW = 32 * 1024 * 1024
_IEND = b"\x00\x00\x00\x00IEND\xae\x42\x60\x82"


def _after_last_idat(f: _Src, size: int, first: int) -> int | None:
    """The offset just past the last IDAT chunk, found from the tail; None to walk instead.

    A candidate IDAT counts only if its own CRC is correct and the chunks after it chain,
    each with a correct CRC, exactly onto the IEND that ends the file, so a stray "IDAT"
    inside compressed data is not mistaken for a chunk (not even one whose length field lands
    on a chunk boundary, which would skip every chunk in between). A truncated or damaged file
    never chains: the caller then walks every chunk and reports precisely where the damage is.

    The search is bounded in chunks and in bytes: at most :data:`_MAX_PNG_CHUNKS` candidates
    tried and chunks checked in all, each candidate tried once however far the window grows,
    and no more bytes CRC-checked (candidates and the chunks after them alike) than it has
    read. A tail stuffed with "IDAT"s, or with chains that break just before IEND, costs at
    most reading the file's last 32 MiB (43 MiB in all, as the window grows) and CRC-checking
    as much: then the caller walks instead.
    """
    window = _TAIL_WINDOW
    left = _TailBudget()
    tried_from = size  # candidates whose length field lies at or past this offset were tried
    while True:
        start = max(first, size - window)
        tail = _read_at(f, start, size - start)
        if len(tail) != size - start or not tail.endswith(_IEND):
            return None
        left.crc_bytes += len(tail)
        view = memoryview(tail)
        p = tried_from - start + 7  # an "IDAT" that starts before tried_from + 4 is untried
        while True:
            p = tail.rfind(b"IDAT", 0, p)
            if p < 4:
                break
            left.chunks -= 1
            length = struct.unpack_from(">I", tail, p - 4)[0]
            end = p + 8 + length
            if end <= len(tail):
                left.crc_bytes -= length + 4
                if left.crc_bytes < 0:
                    return None
                crc = struct.unpack_from(">I", tail, end - 4)[0]
                # a stray "IDAT" in pixel data is no chunk, wherever its length field points
                if zlib.crc32(view[p : end - 4]) == crc:
                    chained = _chains_to_iend(tail, view, end, left)
                    if chained:
                        return start + end
                    if chained is None:
                        return None
            if left.chunks <= 0:
                return None
        if start == first or window >= _MAX_TAIL_WINDOW:
            return None
        tried_from = start
        window *= 4


def _idats_reach(f: _Src, pos: int, end: int) -> bool:
    """Do IDAT chunks follow one another from ``pos`` exactly to ``end`` (just past the last
    one, found from the tail)? A chunk between two runs of IDAT (an XMP iTXt, a caBX: no
    writer puts one there, but the walk reads it) makes the caller walk every chunk instead.

    Only the 8-byte chunk headers are read, and a header like the one before (a writer's IDAT
    chunks all have one length) is compared whole: this costs what reading the headers costs,
    a fraction of the generic walk. A short IDAT chunk other than the last is counted by the
    walk (:data:`_PIXEL_CHUNK`), so it makes the caller walk too.
    """
    expected, step = b"", 0
    while pos < end:
        header = _read_at(f, pos, 8)
        if header != expected:
            if len(header) < 8 or header[4:] != b"IDAT":
                return False
            length = struct.unpack(">I", header[:4])[0]
            if length < _PIXEL_CHUNK and pos + 12 + length != end:
                return False
            expected, step = header, length + 12
        pos += step
    return pos == end


class _TailBudget:
    """What the tail search may still do: chunks to check, bytes to CRC-check."""

    __slots__ = ("chunks", "crc_bytes")

    def __init__(self) -> None:
        self.chunks = _MAX_PNG_CHUNKS
        self.crc_bytes = 0


def _chains_to_iend(tail: bytes, view: memoryview, pos: int, left: _TailBudget) -> bool | None:
    """Do the chunks from ``pos`` chain onto the IEND that ends ``tail``? None when ``left``
    runs out first (one chunk spent per chunk checked, its bytes from the CRC budget)."""
    while pos + 12 <= len(tail):
        length = struct.unpack_from(">I", tail, pos)[0]
        end = pos + 12 + length
        if end > len(tail):
            return False
        left.chunks -= 1
        left.crc_bytes -= length + 4
        if left.chunks < 0 or left.crc_bytes < 0:
            return None
        crc = struct.unpack_from(">I", tail, end - 4)[0]
        if zlib.crc32(view[pos + 4 : end - 4]) != crc:
            return False
        if tail[pos + 4 : pos + 8] == b"IEND":
            return end == len(tail)
        pos = end
    return False


def _png_text(f: _Src, pos: int, length: int, ctype: bytes, after: bool, blocks: Blocks) -> None:
    # The keyword (1-79 bytes + NUL) decides whether the rest is worth reading.
    start = pos + 8
    head = _read_at(f, start, min(length, 80))
    keyword, sep, _ = head.partition(b"\x00")
    if not sep:
        blocks.problems.append(f"corrupt {ctype.decode()} chunk at byte {pos}: no keyword")
        return
    if keyword != PNG_XMP_KEYWORD:
        blocks.text_keys.append(keyword.decode("latin-1"))
        return
    kind = ctype.decode()
    room = blocks.xmp_room(length, f"XMP {kind} chunk", pos)
    if not room:
        return
    chunk = _read_at(f, pos + 4, length + 8)  # type + data + CRC, for the CRC check
    payload, crc = chunk[4:-4], struct.unpack(">I", chunk[-4:])[0]
    if zlib.crc32(chunk[:-4]) != crc:
        blocks.problems.append(f"XMP {kind} chunk at byte {pos} fails its CRC check (damaged file)")
    rest = payload[len(keyword) + 1 :]
    if ctype == b"iTXt":
        # keyword NUL flag method language NUL translated-keyword NUL text
        parts = rest[2:].split(b"\x00", 2) if len(rest) >= 2 else []
        if len(parts) < 3:
            blocks.problems.append(f"corrupt XMP iTXt chunk at byte {pos}")
            blocks.xmp_skipped += 1
            return
        compressed, text = rest[0], parts[2]
    elif ctype == b"zTXt":  # keyword NUL method text (older writers put XMP here, or in tEXt)
        if not rest:
            blocks.problems.append(f"corrupt XMP zTXt chunk at byte {pos}")
            blocks.xmp_skipped += 1
            return
        compressed, text = 1, rest[1:]
    else:
        compressed, text = 0, rest
    if compressed:
        try:
            inflated = _inflate(text, room)
        except zlib.error as exc:
            blocks.problems.append(f"XMP {kind} chunk at byte {pos} is damaged: {exc}")
            blocks.xmp_skipped += 1
            return
        if inflated is None:
            blocks.problems.append(
                f"XMP {kind} chunk at byte {pos} does not decompress within {room} bytes"
            )
            blocks.xmp_skipped += 1
            return
        text = inflated
    blocks.add_xmp(text, f"{kind} after IDAT" if after else f"{kind} before IDAT")


def _inflate(data: bytes, limit: int) -> bytes | None:
    """zlib-inflate at most ``limit`` bytes; None for a decompression bomb (more than
    ``limit``).

    :raises zlib.error: a damaged stream, its message saying how.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, limit)
    except zlib.error as exc:
        raise zlib.error(f"its compressed text does not inflate ({exc})") from None
    if inflater.unconsumed_tail:
        return None
    if not inflater.eof:
        raise zlib.error("its compressed text ends before its stream does")
    return out


# --------------------------------------------------------------------------------- JPEG ----


# A JPEG header is a few dozen segments. A hostile one (megabytes of fill bytes, standalone
# markers or empty segments before the image data) must cost what a header costs: a fill run
# is skipped in one read, and more of any of these than an encoder writes is a corrupt header.
_MAX_JPEG_FILL = 64 * 1024
_MAX_JPEG_STANDALONE = 64
_MAX_JPEG_MARKERS = 1000


def _walk_jpeg(f: _Src, size: int) -> Blocks:
    blocks = Blocks(format="jpeg")
    extended = _ExtendedXmp()
    _jpeg_segments(f, size, blocks, extended)
    extended.finish(blocks)
    return blocks


def _jpeg_segments(f: _Src, size: int, blocks: Blocks, extended: _ExtendedXmp) -> Blocks:
    pos = 2
    fill = standalone = 0
    for _ in range(_MAX_JPEG_MARKERS):
        header = _read_at(f, pos, 4)
        if len(header) < 2:
            blocks.problems.append(f"truncated: file ends at byte {size} before the image data")
            return blocks
        if header[0] != 0xFF:
            blocks.problems.append(f"corrupt JPEG: no marker at byte {pos}")
            return blocks
        marker = header[1]
        if marker == 0xFF:  # fill bytes before a marker: the whole run at once
            limit = _MAX_JPEG_FILL + 1 - fill
            run = _read_at(f, pos + 1, min(limit, 64))
            if len(run) == 64 and not run.lstrip(b"\xff"):  # a long run: one big read
                run = _read_at(f, pos + 1, limit)
            skipped = len(run) - len(run.lstrip(b"\xff"))
            fill += skipped
            if fill > _MAX_JPEG_FILL:
                return blocks.stop(
                    f"corrupt JPEG: more than {_MAX_JPEG_FILL} fill bytes before the image data"
                    f" (from byte {pos})"
                )
            pos += skipped  # onto the last fill byte: it and the next byte are the marker
            continue
        if marker == 0xDA or marker == 0xD9:  # start of scan / end of image: headers are over
            return blocks
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # standalone markers carry no length
            standalone += 1
            if standalone > _MAX_JPEG_STANDALONE:
                return blocks.stop(
                    f"corrupt JPEG: more than {_MAX_JPEG_STANDALONE} standalone markers before"
                    f" the image data (at byte {pos})"
                )
            pos += 2
            continue
        if len(header) < 4:
            blocks.problems.append(f"truncated: file ends at byte {size} inside a JPEG marker")
            return blocks
        length = struct.unpack(">H", header[2:4])[0]
        if length < 2:
            blocks.problems.append(f"corrupt JPEG segment at byte {pos} (length {length})")
            return blocks
        end = pos + 2 + length
        if end > size:
            blocks.problems.append(
                f"truncated: JPEG segment 0x{marker:02X} at byte {pos} needs {end} bytes, file has {size}"
            )
            return blocks
        if marker == 0xE1:
            # most APP1 segments are Exif: look at the namespace before reading the payload
            namespace = _read_at(f, pos + 4, len(JPEG_XMP_EXT_NS))
            if namespace.startswith(JPEG_XMP_NS):
                start = pos + 4 + len(JPEG_XMP_NS)
                if blocks.xmp_room(end - start, "XMP APP1 segment", pos):
                    blocks.add_xmp(_read_at(f, start, end - start), "APP1")
            elif namespace == JPEG_XMP_EXT_NS:
                start = pos + 4 + len(JPEG_XMP_EXT_NS)
                extended.add(_read_at(f, start, end - start), pos, blocks)
        elif marker == 0xEB and blocks.c2pa is None:
            # APP11 JUMBF: "JP", box instance, sequence number, then the superbox whose
            # description box carries the label "c2pa".
            head = _read_at(f, pos + 4, min(length - 2, 64))
            if head.startswith(b"JP") and b"c2pa" in head:
                blocks.c2pa = "APP11"
        pos = end
    return blocks.stop(
        f"corrupt JPEG: more than {_MAX_JPEG_MARKERS} markers before the image data (at byte {pos})"
    )


class _ExtendedXmp:
    """JPEG Extended XMP (XMP part 3, 1.1.3.1): a packet too big for one APP1 segment, split
    over ``xmp/extension`` segments, each holding its packet's GUID (32 hex digits), full
    length and offset, then a portion. The portions are put together by GUID and offset; a
    whole packet is read like any other (``APP1 extended XMP``), one with portions missing or
    past the bound on XMP bytes is a problem and not read."""

    __slots__ = ("packets", "refused", "reserved")

    def __init__(self) -> None:
        #: GUID -> the packet's bytes so far, and the (offset, length) of its portions
        self.packets: dict[bytes, tuple[bytearray, list[tuple[int, int]]]] = {}
        self.refused: set[bytes] = set()
        self.reserved = 0  # bytes held for the packets, bounded by MAX_XMP_BYTES

    def add(self, portion: bytes, pos: int, blocks: Blocks) -> None:
        if len(portion) < 40:
            blocks.problems.append(f"corrupt Extended XMP APP1 segment at byte {pos}")
            blocks.xmp_skipped += 1
            return
        guid = portion[:32]
        full, offset = struct.unpack(">II", portion[32:40])
        data = portion[40:]
        if guid in self.refused:
            return
        if guid not in self.packets:
            if full > MAX_XMP_BYTES - self.reserved:
                self.refused.add(guid)
                blocks.problems.append(
                    f"Extended XMP {guid.decode('latin-1')} (APP1 segment at byte {pos}) is"
                    f" {full} bytes (limit {MAX_XMP_BYTES} for all XMP packets together)"
                )
                blocks.xmp_skipped += 1
                return
            self.reserved += full
            self.packets[guid] = (bytearray(full), [])
        packet, portions = self.packets[guid]
        if offset + len(data) > len(packet):
            blocks.problems.append(
                f"corrupt Extended XMP APP1 segment at byte {pos}: its portion runs past the"
                f" packet's length ({len(packet)} bytes)"
            )
            return
        packet[offset : offset + len(data)] = data
        portions.append((offset, len(data)))

    def finish(self, blocks: Blocks) -> None:
        """Add each whole packet to ``blocks``; each incomplete one is a problem."""
        blocks.extended_xmp = (*self.packets, *self.refused)
        for guid, (packet, portions) in self.packets.items():
            covered = 0
            for offset, length in sorted(portions):
                if offset > covered:
                    break
                covered = max(covered, offset + length)
            name = f"Extended XMP {guid.decode('latin-1')}"
            if covered < len(packet):
                blocks.problems.append(
                    f"{name} is incomplete: its APP1 segments hold {covered} of its"
                    f" {len(packet)} bytes from the start"
                )
                blocks.xmp_skipped += 1
            elif blocks.xmp_room(len(packet), name):
                blocks.add_xmp(bytes(packet), "APP1 extended XMP")


# ----------------------------------------------------------------------- RIFF: WebP, WAV ----

# RIFF chunk ids: WebP names its XMP chunk "XMP ", WAV (BWF/Adobe) "_PMX"; C2PA uses "C2PA".
_RIFF_XMP = {b"XMP ": "XMP chunk", b"_PMX": "_PMX chunk"}
# A WAV holds a few chunks (fmt, data, LIST, bext, iXML), a WebP a few more. Past this many the
# walk stops, as for PNG: the rest is a problem, not read. An animated WebP's frames (an ANMF
# chunk each) count apart, as frame parts.
_MAX_RIFF_CHUNKS = 4096


# RF64 (EBU Tech 3306) and BW64 (ITU-R BS.2088): a WAV past 4 GiB, as field recorders and
# broadcast tools write it. Its 32-bit sizes say 0xFFFFFFFF; the ds64 chunk, first after the
# header, gives the real 64-bit ones: the file's, the data chunk's, and a table for others.
_RIFF64 = (b"RF64", b"BW64")
_SIZE_IN_DS64 = 0xFFFFFFFF


def _walk_riff(f: _Src, size: int) -> Blocks:
    head = _read_at(f, 0, 12)
    webp = head[8:12] == b"WEBP"
    blocks = Blocks(format="webp" if webp else "wav")
    kind = head[:4].decode("latin-1")
    declared = 8 + struct.unpack("<I", head[4:8])[0]
    sizes: dict[bytes, int] = {}  # RF64, BW64: chunk sizes the ds64 chunk gives
    if head[:4] in _RIFF64:
        ds64 = _ds64(f, size)
        if ds64 is None:
            return blocks.stop(
                f"corrupt {kind} header: no complete ds64 chunk at byte 12 (it gives the"
                " file's and its chunks' real sizes): the rest of the file is not read"
            )
        declared, sizes = ds64
    if size - declared >= 8:
        # a recorder that has not finalized the file yet (RIFF size 0), or a chunk appended
        # without updating the size: a reader that stops where the header says would miss
        # what follows, so the chunks really there are walked to the end of the file, and the
        # header that disagrees with them is a problem (fewer than 8 bytes hold no chunk: a
        # pad byte left out of the size is not one)
        blocks.problems.append(
            f"corrupt {kind} header: it declares {declared} bytes, the file has {size} (a"
            " recording not finalized, or a chunk appended without updating the RIFF size);"
            f" the chunks after byte {declared} were read too"
        )
    pos = 12
    chunks = 0
    frames = _FrameParts("animation frames (ANMF)")
    while pos + 8 <= size:
        fourcc, length = struct.unpack("<4sI", _read_at(f, pos, 8))
        if length == _SIZE_IN_DS64 and fourcc in sizes:
            length = sizes[fourcc]
        if fourcc == b"ANMF" and webp:
            if not frames.add(8 + length):
                return blocks.stop(f"corrupt WebP: {frames.bound(pos)}")
        else:
            chunks += 1
            if chunks > _MAX_RIFF_CHUNKS:
                return blocks.stop(
                    f"corrupt {'WebP' if webp else 'WAV'}: more than {_MAX_RIFF_CHUNKS} chunks"
                    f" (at byte {pos}): the rest of the file is not read"
                )
        if pos + 8 + length > size:
            what = fourcc.decode("latin-1", "replace")
            blocks.problems.append(
                f"truncated: RIFF {what!r} chunk at byte {pos} runs past the end"
            )
            return blocks
        if fourcc in _RIFF_XMP:
            if blocks.xmp_room(length, "XMP chunk", pos):
                blocks.add_xmp(_read_at(f, pos + 8, length), _RIFF_XMP[fourcc])
        elif fourcc == b"C2PA":
            blocks.c2pa = blocks.c2pa or "C2PA chunk"
        pos += 8 + length + (length & 1)  # chunks are padded to an even size
    if declared > size:
        blocks.problems.append(
            f"truncated: the {kind} header declares {declared} bytes, file has {size}"
        )
    return blocks


def _ds64(f: _Src, size: int) -> tuple[int, dict[bytes, int]] | None:
    """An RF64 or BW64 file's ds64 chunk: the file's declared size (header included) and the
    64-bit sizes of its chunks (``data``, and those in its table); None if it is not there."""
    fourcc, length = struct.unpack("<4sI", _read_at(f, 12, 8).ljust(8, b"\x00"))
    if fourcc != b"ds64" or length < 28 or 20 + length > size:
        return None
    body = _read_at(f, 20, min(length, 28 + 12 * _MAX_RIFF_CHUNKS))
    riff_size, data_size, _samples, entries = struct.unpack_from("<QQQI", body)
    sizes = {b"data": data_size}
    for i in range(min(entries, (len(body) - 28) // 12)):
        chunk_id, chunk_size = struct.unpack_from("<4sQ", body, 28 + 12 * i)
        sizes.setdefault(chunk_id, chunk_size)
    return 8 + riff_size, sizes


# ------------------------------------------------------------------------ BMFF: MOV, MP4 ----

# ISO BMFF / QuickTime: XMP and C2PA live in top-level "uuid" boxes (MP4, HEIF), and
# QuickTime writers put XMP in moov/udta/XMP_. Only box headers are read; mdat is skipped.
_UUID_XMP = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
_UUID_C2PA = bytes.fromhex("d8fec3d61b0e483c92975828877ec481")
_BMFF_FIRST = frozenset({b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip", b"pnot"})
# Boxes read (top level, moov, moov/udta) besides the movie fragments: a movie has a few dozen.
# Past this many the walk stops: the rest is a problem, not read.
_MAX_BOXES = 10_000
# The top-level boxes a fragmented movie repeats per fragment or segment (ISO 14496-12 8.8,
# 8.16: moof, mdat; styp, sidx, ssix, prft, emsg in CMAF/DASH segments; free, skip padding).
# Only their headers are read; they count as frame parts.
_FRAGMENT_BOXES = frozenset(
    {b"moof", b"mdat", b"styp", b"sidx", b"ssix", b"prft", b"emsg", b"free", b"skip"}
)


def _walk_bmff(f: _Src, size: int) -> Blocks:
    blocks = Blocks(format="bmff")
    fragments = _FrameParts("movie fragment boxes")
    _bmff_boxes(f, 0, size, size, blocks, (), _MAX_BOXES, fragments)
    return blocks


def _bmff_boxes(
    f: _Src,
    pos: int,
    end: int,
    size: int,
    blocks: Blocks,
    path: tuple[bytes, ...],
    budget: int,
    fragments: _FrameParts,
) -> int:
    """Walk the boxes from ``pos`` to ``end``; what is left of ``budget`` (boxes besides the
    movie ``fragments`` that may still be read), or -1 once a bound stopped the walk."""
    movie = False  # a top-level moov box was read
    while pos + 8 <= end:
        box_size, box_type = struct.unpack(">I4s", _read_at(f, pos, 8))
        fragment = not path and box_type in _FRAGMENT_BOXES
        if not fragment:
            if budget == 0:
                blocks.stop(
                    f"more than {_MAX_BOXES} boxes besides the movie fragments (at byte {pos}):"
                    " the rest of the file is not read"
                )
                return -1
            budget -= 1
        header = 8
        if box_size == 1:  # 64-bit size follows the type
            raw = _read_at(f, pos + 8, 8)
            if len(raw) < 8:
                blocks.problems.append(f"truncated: box header at byte {pos}")
                return budget
            box_size, header = struct.unpack(">Q", raw)[0], 16
        elif box_size == 0:  # the box runs to the end of its parent
            if path:
                # ISO 14496-12 4.2: only the last box in the file may say so, never one inside
                # another; what it claims to hold, and the boxes after it, are unknown
                where = "/".join(p.decode("latin-1", "replace") for p in path)
                blocks.problems.append(
                    f"{box_type.decode('latin-1', 'replace')!r} box at byte {pos} in {where}"
                    " has size 0 (only the last box of the file may run to its end): the rest"
                    f" of {where} is not read"
                )
                blocks.unread_rest = True
                return budget
            box_size = end - pos
            if not path and not movie and box_type != b"moov":
                # ISO 14496-12 4.2: only the last box in the file may say so. A recorder
                # leaves its mdat so until it finalizes the file; a movie whose moov has not
                # come yet has it (and its metadata) inside what this box claims, or none
                blocks.stop(
                    f"{box_type.decode('latin-1', 'replace')!r} box at byte {pos} has size 0"
                    " (it runs to the end of the file) and no moov box came before it (a"
                    " recording not finalized, or a damaged file): the rest of the file is"
                    " not read"
                )
                return -1
        box_end = pos + box_size
        if box_size < header or box_end > end:
            what = box_type.decode("latin-1", "replace")
            blocks.problems.append(
                f"truncated: {what!r} box at byte {pos} runs past the end ({size} bytes)"
            )
            return budget
        if fragment:
            if not fragments.add(box_size):
                blocks.stop(fragments.bound(pos))
                return -1
            pos = box_end
            continue
        body, length = pos + header, box_size - header
        if box_type == b"uuid" and not path:
            kind = _read_at(f, body, 16)
            if kind == _UUID_C2PA:
                blocks.c2pa = blocks.c2pa or "uuid box"
            elif (
                kind == _UUID_XMP
                and length >= 16
                and blocks.xmp_room(length - 16, "XMP uuid box", pos)
            ):
                blocks.add_xmp(_read_at(f, body + 16, length - 16), "uuid box")
        elif box_type == b"XMP_" and path == (b"moov", b"udta"):
            if blocks.xmp_room(length, "XMP_ box", pos):
                blocks.add_xmp(_read_at(f, body, length), "moov/udta/XMP_")
        elif (box_type == b"moov" and not path) or (box_type == b"udta" and path == (b"moov",)):
            movie = movie or not path
            budget = _bmff_boxes(
                f, body, box_end, size, blocks, (*path, box_type), budget, fragments
            )
            if budget < 0:
                return budget
        pos = box_end
    return budget


# --------------------------------------------------------------------------------- TIFF ----


def _walk_tiff(f: _Src, size: int) -> Blocks:
    blocks = Blocks(format="tiff")
    head = _read_at(f, 0, 8)
    if len(head) < 8:
        blocks.problems.append("truncated: TIFF header incomplete")
        return blocks
    if head[2:4] in (b"+\x00", b"\x00+"):
        blocks.problems.append("BigTIFF: embedded metadata not read")
        return blocks
    order = "<" if head[:2] == b"II" else ">"
    ifd = struct.unpack(order + "I", head[4:8])[0]
    raw_count = _read_at(f, ifd, 2)
    if len(raw_count) < 2:
        blocks.problems.append(f"truncated: first IFD at byte {ifd} is past the end of the file")
        return blocks
    count = struct.unpack(order + "H", raw_count)[0]
    entries = _read_at(f, ifd + 2, 12 * count)
    if len(entries) < 12 * count:
        blocks.problems.append(f"truncated: first IFD at byte {ifd} is incomplete")
        return blocks
    for i in range(count):
        tag, _typ, n, value = struct.unpack(order + "HHI4s", entries[12 * i : 12 * i + 12])
        if tag == TIFF_TAG_C2PA:
            blocks.c2pa = "TIFF tag 0xCD41"
        elif tag == TIFF_TAG_XMP:
            # BYTE/UNDEFINED: n bytes, inline when they fit in 4, else at an offset
            if not blocks.xmp_room(n, "XMP tag"):
                continue
            offset = struct.unpack(order + "I", value)[0]
            data = value[:n] if n <= 4 else _read_at(f, offset, n)
            if len(data) < n:
                blocks.problems.append(
                    f"truncated: XMP tag data at byte {offset} runs past the end"
                )
                continue
            blocks.add_xmp(data, "TIFF tag 700")
    return blocks


_WALKERS = {
    "png": _walk_png,
    "jpeg": _walk_jpeg,
    "riff": _walk_riff,
    "tiff": _walk_tiff,
    "bmff": _walk_bmff,
}
