"""Tiny, valid media files for the sample pipeline: OpenEXR, WAV, PNG and JPEG.

The sample show must produce *real* files (a scanner that opens headers must find real
headers), but small and fast ones. EXR is written by hand from the OpenEXR file layout so
the sample needs no OpenEXR bindings: magic + version, a header of attributes, an offset
table, then one uncompressed scanline block per row of HALF pixels. WAV uses the stdlib
``wave`` module; PNG and JPEG use Pillow (the ``sample`` extra).

Every function is deterministic: the same arguments give byte-identical files.
"""

from __future__ import annotations

import math
import struct
import wave
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "EXR_MAGIC",
    "RGB",
    "write_exr",
    "write_wav",
    "write_image",
    "plate_pixels",
    "read_exr_size",
    "xmp_packet",
]

EXR_MAGIC = b"\x76\x2f\x31\x01"
_HALF = 1  # OpenEXR pixel type: 0 UINT, 1 HALF, 2 FLOAT
_NO_COMPRESSION = 0

RGB = tuple[float, float, float]
#: pixel(x, y) -> linear RGB in 0..1
PixelFunction = Callable[[int, int], RGB]


# -------------------------------------------------------------------------------------------
# OpenEXR
# -------------------------------------------------------------------------------------------


def _attribute(name: str, type_name: str, value: bytes) -> bytes:
    return (
        name.encode() + b"\0" + type_name.encode() + b"\0" + struct.pack("<i", len(value)) + value
    )


def _exr_header(width: int, height: int, extra: dict[str, str] | None = None) -> bytes:
    channels = b""
    for name in ("B", "G", "R"):  # channel list is sorted by name, as the format requires
        channels += name.encode() + b"\0" + struct.pack("<iB3xii", _HALF, 0, 1, 1)
    channels += b"\0"
    box = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    attributes = [
        _attribute("channels", "chlist", channels),
        _attribute("compression", "compression", bytes([_NO_COMPRESSION])),
        _attribute("dataWindow", "box2i", box),
        _attribute("displayWindow", "box2i", box),
        _attribute("lineOrder", "lineOrder", bytes([0])),  # INCREASING_Y
        _attribute("pixelAspectRatio", "float", struct.pack("<f", 1.0)),
        _attribute("screenWindowCenter", "v2f", struct.pack("<ff", 0.0, 0.0)),
        _attribute("screenWindowWidth", "float", struct.pack("<f", 1.0)),
    ]
    for key, text in sorted((extra or {}).items()):
        attributes.append(_attribute(key, "string", text.encode()))
    version = struct.pack("<I", 2)  # version 2, single-part scanline, no flags
    return EXR_MAGIC + version + b"".join(attributes) + b"\0"


def write_exr(
    path: Path,
    width: int,
    height: int,
    pixel: PixelFunction,
    *,
    attributes: dict[str, str] | None = None,
) -> Path:
    """Write a single-part, uncompressed, scanline RGB HALF OpenEXR file.

    :param pixel: ``pixel(x, y) -> (r, g, b)`` for every pixel.
    :param attributes: extra ``string`` header attributes (e.g. ``{"owner": "SALT01"}``).
    """
    header = _exr_header(width, height, attributes)
    row_bytes = width * 3 * 2
    block_size = 8 + row_bytes  # int32 y + int32 data size + pixel data
    table_start = len(header)
    first_block = table_start + 8 * height
    offsets = struct.pack(f"<{height}Q", *(first_block + y * block_size for y in range(height)))
    blocks = bytearray()
    for y in range(height):
        rows = [pixel(x, y) for x in range(width)]
        blocks += struct.pack("<ii", y, row_bytes)
        for channel in (2, 1, 0):  # B, G, R: the channel order of the header
            blocks += struct.pack(f"<{width}e", *(row[channel] for row in rows))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + offsets + bytes(blocks))
    return path


def read_exr_size(path: Path) -> tuple[int, int]:
    """(width, height) from an EXR's ``dataWindow``; raises ``ValueError`` if absent."""
    data = path.read_bytes()
    if data[:4] != EXR_MAGIC:
        raise ValueError(f"{path}: not an OpenEXR file")
    pos = 8
    while data[pos] != 0:
        name_end = data.index(b"\0", pos)
        type_end = data.index(b"\0", name_end + 1)
        name = data[pos:name_end]
        (size,) = struct.unpack_from("<i", data, type_end + 1)
        value = data[type_end + 5 : type_end + 5 + size]
        if name == b"dataWindow":
            x0, y0, x1, y1 = struct.unpack("<iiii", value)
            return x1 - x0 + 1, y1 - y0 + 1
        pos = type_end + 5 + size
    raise ValueError(f"{path}: no dataWindow attribute")


def plate_pixels(width: int, height: int, frame: int = 0) -> PixelFunction:
    """A desert plate: sky gradient, a salt-flat horizon and a caravan that moves per frame."""
    horizon = int(height * 0.6)
    caravan_x = (frame * 2) % width

    def pixel(x: int, y: int) -> RGB:
        if y < horizon:
            t = y / max(horizon, 1)
            rgb: RGB = (0.9 - 0.3 * t, 0.6 - 0.2 * t, 0.35 + 0.3 * (1 - t))
        else:
            t = (y - horizon) / max(height - horizon, 1)
            rgb = (0.85 + 0.1 * t, 0.82 + 0.1 * t, 0.75 + 0.1 * t)
        if horizon - 4 <= y < horizon and caravan_x <= x < caravan_x + 6:
            rgb = (0.08, 0.06, 0.05)
        return rgb

    return pixel


# -------------------------------------------------------------------------------------------
# WAV
# -------------------------------------------------------------------------------------------


def write_wav(path: Path, *, seconds: float = 0.5, rate: int = 16000, pitch: float = 180.0) -> Path:
    """Write a mono 16-bit PCM WAV: a voiced, syllable-like tone so it is not silence."""
    frames = bytearray()
    count = int(seconds * rate)
    for i in range(count):
        t = i / rate
        envelope = 0.5 * (1 - math.cos(2 * math.pi * 4 * t))  # four "syllables" a second
        sample = envelope * (
            0.6 * math.sin(2 * math.pi * pitch * t) + 0.3 * math.sin(2 * math.pi * 2.5 * pitch * t)
        )
        frames += struct.pack("<h", int(sample * 12000))
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(bytes(frames))
    return path


# -------------------------------------------------------------------------------------------
# PNG / JPEG (Pillow)
# -------------------------------------------------------------------------------------------


def write_image(
    path: Path,
    label: str,
    *,
    size: tuple[int, int] = (64, 36),
    palette: tuple[tuple[int, int, int], tuple[int, int, int]] = ((214, 160, 96), (120, 150, 190)),
    motif: str = "horizon",
    source_type: str | None = None,
) -> Path:
    """Write a small PNG or JPEG (by extension) with a gradient, a motif and a text label.

    :param motif: ``horizon`` (landscape), ``figure`` (a character silhouette), ``card``
        (a document or sign) or ``frame`` (a storyboard panel border).
    :param source_type: embed an XMP packet with this IPTC ``DigitalSourceType`` term (PNG
        only, in an ``iTXt XML:com.adobe.xmp`` chunk), as GenAI tools that mark output do.
    """
    from PIL import Image, ImageDraw, PngImagePlugin

    width, height = size
    top, bottom = palette
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / max(height - 1, 1)
        colour = tuple(int(a + (b - a) * t) for a, b in zip(top, bottom, strict=False))
        draw.line([(0, y), (width, y)], fill=colour)
    ink = (30, 24, 20)
    if motif == "horizon":
        draw.rectangle([0, int(height * 0.62), width, height], fill=(232, 226, 210))
        draw.polygon(
            [
                (width // 3, int(height * 0.62)),
                (width // 2, height // 3),
                (width * 2 // 3, int(height * 0.62)),
            ],
            fill=(150, 110, 70),
        )
    elif motif == "figure":
        cx = width // 2
        draw.ellipse([cx - 5, height // 5, cx + 5, height // 5 + 10], fill=ink)
        draw.rectangle([cx - 7, height // 5 + 11, cx + 7, height - 2], fill=ink)
    elif motif == "card":
        draw.rectangle(
            [width // 6, height // 8, width * 5 // 6, height * 7 // 8],
            fill=(240, 232, 205),
            outline=ink,
        )
        for row in range(3):
            y = height // 4 + row * max(height // 6, 2)
            draw.line([(width // 4, y), (width * 3 // 4, y)], fill=ink)
    elif motif == "frame":
        draw.rectangle([1, 1, width - 2, height - 2], outline=ink)
        draw.line([(0, height * 2 // 3), (width, height // 2)], fill=ink)
    draw.text((2, 1), label[:12], fill=(255, 255, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image.save(path, format="JPEG", quality=85)
    else:
        info = PngImagePlugin.PngInfo()
        if source_type is not None:
            info.add_itxt("XML:com.adobe.xmp", xmp_packet(source_type))
        image.save(path, format="PNG", pnginfo=info)
    return path


def xmp_packet(source_type: str) -> str:
    """A minimal XMP packet carrying ``Iptc4xmpExt:DigitalSourceType`` as the full URI."""
    uri = f"http://cv.iptc.org/newscodes/digitalsourcetype/{source_type}"
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        f'Iptc4xmpExt:DigitalSourceType="{uri}"/>'
        "</rdf:RDF></x:xmpmeta>"
        '<?xpacket end="r"?>'
    )
