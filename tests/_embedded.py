"""Writers of real files with embedded provenance, for the embedded-reader tests.

PNG and JPEG come from Pillow (XMP placed where real writers put it, or after the pixel data);
EXR headers are written as bytes following the OpenEXR file-format spec; C2PA manifests are
signed here with a throwaway certificate chain made with ``cryptography`` (emailProtection EKU:
the one c2pa-rs accepts with default settings, see ``refs/PROVENANCE.md``).
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sample_pipeline"))

from _embedded_writers import OFFLINE, SamplePki  # noqa: E402
from _embedded_writers import make_pki as _make_pki  # noqa: E402

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
TRAINED = IPTC + "trainedAlgorithmicMedia"
CAPTURE = IPTC + "digitalCapture"
DMI_PROHIBITED = "http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-GENAIMLTRAINING"


def xmp_packet(
    source_type: str | None = TRAINED, data_mining: str | None = None, *, element_form: bool = False
) -> str:
    """An XMP packet with IPTC DigitalSourceType (attribute or element form) and PLUS DataMining."""
    attrs, elements = [], []
    for prefix, name, value in (
        ("Iptc4xmpExt", "DigitalSourceType", source_type),
        ("plus", "DataMining", data_mining),
    ):
        if value is None:
            continue
        if element_form:
            elements.append(f"<{prefix}:{name}>{value}</{prefix}:{name}>")
        else:
            attrs.append(f'{prefix}:{name}="{value}"')
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        f' xmp:CreatorTool="Nuke 15.1" {" ".join(attrs)}>{"".join(elements)}</rdf:Description>'
        '</rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    )


XML_BOMB = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
    '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
    '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
    '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
    '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>'
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
    ' Iptc4xmpExt:DigitalSourceType="&lol9;"/></rdf:RDF></x:xmpmeta>'
)


# ------------------------------------------------------------------------------ PNG/JPEG ----


def write_png(
    path: Path,
    xmp: str | None = None,
    *,
    size: tuple[int, int] = (32, 16),
    after_idat: bool = False,
    compressed: bool = False,
) -> Path:
    """A real PNG (Pillow); ``xmp`` as an ``XML:com.adobe.xmp`` iTXt before or after IDAT."""
    from PIL import Image, PngImagePlugin

    image = Image.new("RGB", size, (40, 90, 160))
    info = PngImagePlugin.PngInfo()
    if xmp is not None and not after_idat:
        info.add_itxt("XML:com.adobe.xmp", xmp, zip=compressed)
    image.save(path, pnginfo=info)
    if xmp is not None and after_idat:
        flag = b"\x01\x00" if compressed else b"\x00\x00"
        text = zlib.compress(xmp.encode()) if compressed else xmp.encode()
        insert_png_chunk(path, b"iTXt", b"XML:com.adobe.xmp\x00" + flag + b"\x00\x00" + text)
    return path


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def insert_png_chunk(path: Path, ctype: bytes, data: bytes) -> None:
    """Insert a chunk just before IEND, i.e. after the pixel data (as some writers do)."""
    raw = path.read_bytes()
    iend = raw.rindex(b"IEND") - 4
    path.write_bytes(raw[:iend] + png_chunk(ctype, data) + raw[iend:])


def png_chunk_types(path: Path) -> list[str]:
    raw, pos, out = path.read_bytes(), 8, []
    while pos + 8 <= len(raw):
        length, ctype = struct.unpack(">I4s", raw[pos : pos + 8])
        out.append(ctype.decode())
        pos += 12 + length
    return out


def write_jpeg(path: Path, xmp: str | None = None, *, size: tuple[int, int] = (32, 16)) -> Path:
    from PIL import Image

    image = Image.new("RGB", size, (200, 120, 40))
    kwargs: dict[str, Any] = {"quality": 90}
    if xmp is not None:
        kwargs["xmp"] = xmp.encode()
    image.save(path, **kwargs)
    return path


def flip_pixel_byte(path: Path) -> None:
    """Change one byte of the compressed pixel data (PNG IDAT / JPEG scan), nothing else."""
    raw = bytearray(path.read_bytes())
    png = raw.startswith(b"\x89PNG")
    pos = raw.index(b"IDAT") + 4 + 10 if png else raw.index(b"\xff\xda") + 20
    raw[pos] ^= 0x01
    path.write_bytes(bytes(raw))


# ----------------------------------------------------------------------------------- EXR ----


def exr_attr(name: str, type_name: str, value: Any) -> bytes:
    """One header attribute; ``value`` as bytes is written raw (any type, even a wrong one)."""
    if isinstance(value, bytes):
        payload = value
    elif type_name == "string":
        payload = value.encode()
    elif type_name == "stringvector":
        payload = b"".join(struct.pack("<i", len(v.encode())) + v.encode() for v in value)
    elif type_name == "int":
        payload = struct.pack("<i", value)
    elif type_name == "float":
        payload = struct.pack("<f", value)
    elif type_name == "box2i":
        payload = struct.pack("<4i", *value)
    elif type_name == "compression":
        payload = bytes([value])
    elif type_name == "chlist":
        payload = (
            b"".join(
                c.encode() + b"\x00" + struct.pack("<iBBBBii", 1, 0, 0, 0, 0, 1, 1) for c in value
            )
            + b"\x00"
        )
    else:
        payload = value
    return (
        name.encode()
        + b"\x00"
        + type_name.encode()
        + b"\x00"
        + struct.pack("<i", len(payload))
        + payload
    )


def _required(width: int = 4, height: int = 2) -> list[bytes]:
    box = (0, 0, width - 1, height - 1)
    return [
        exr_attr("channels", "chlist", ["B", "G", "R"]),
        exr_attr("compression", "compression", 0),
        exr_attr("dataWindow", "box2i", box),
        exr_attr("displayWindow", "box2i", box),
        exr_attr("lineOrder", "lineOrder", b"\x00"),
        exr_attr("pixelAspectRatio", "float", 1.0),
        exr_attr("screenWindowCenter", "v2f", struct.pack("<2f", 0, 0)),
        exr_attr("screenWindowWidth", "float", 1.0),
    ]


def write_exr(
    path: Path,
    attributes: dict[str, Any] | None = None,
    *,
    parts: list[dict[str, Any]] | None = None,
    pixel_bytes: int = 4096,
) -> Path:
    """An EXR whose header follows the spec (scanline, uncompressed); pixel data is filler.

    ``attributes`` values: ``str`` → string, ``list[str]`` → stringvector, ``int``, ``float``,
    or ``(type_name, raw_bytes)`` for anything else. ``parts`` makes a multi-part file.
    """

    def encode(attrs: dict[str, Any]) -> bytes:
        out = []
        for name, value in attrs.items():
            if isinstance(value, tuple):
                out.append(exr_attr(name, value[0], value[1]))
            elif isinstance(value, str):
                out.append(exr_attr(name, "string", value))
            elif isinstance(value, list):
                out.append(exr_attr(name, "stringvector", value))
            elif isinstance(value, float):
                out.append(exr_attr(name, "float", value))
            else:
                out.append(exr_attr(name, "int", value))
        return b"".join(out)

    magic = b"\x76\x2f\x31\x01"
    if parts is None:
        header = (
            magic
            + struct.pack("<I", 2)
            + b"".join(_required())
            + encode(attributes or {})
            + b"\x00"
        )
    else:
        header = magic + struct.pack("<I", 2 | 0x1000)
        for i, attrs in enumerate(parts):
            extra = {
                "name": f"part{i}",
                "type": "scanlineimage",
                "chunkCount": ("int", struct.pack("<i", 1)),
            }
            header += b"".join(_required()) + encode({**extra, **attrs}) + b"\x00"
        header += b"\x00"
    path.write_bytes(header + b"\x00" * pixel_bytes)
    return path


# ---------------------------------------------------------------------------------- C2PA ----


# The PKI and the offline settings are the sample pipeline's (one implementation of what a
# C2PA signer needs); the tests give the certificates their own names and a short life.
TestPki = SamplePki


def make_pki(common_name: str = "Clearance Test Signer") -> SamplePki:
    return _make_pki(common_name, organization="Clearance Test PKI", days=30)


def c2pa_manifest(
    source_type: str | None = TRAINED,
    *,
    training: str | None = "notAllowed",
    label: str = "cawg.training-mining",
    agent: str = "AcmeDiffusion",
) -> dict[str, Any]:
    action: dict[str, Any] = {
        "action": "c2pa.created",
        "softwareAgent": {"name": agent, "version": "2.1"},
    }
    if source_type is not None:
        action["digitalSourceType"] = source_type
    assertions: list[dict[str, Any]] = [{"label": "c2pa.actions", "data": {"actions": [action]}}]
    if training is not None:
        prefix = label.split(".")[0]
        assertions.append(
            {
                "label": label,
                "data": {
                    "entries": {
                        f"{prefix}.ai_generative_training": {"use": training},
                        f"{prefix}.ai_training": {"use": training},
                    }
                },
            }
        )
    return {
        "claim_generator_info": [{"name": "clearance-tests", "version": "0.1"}],
        "title": "asset",
        "assertions": assertions,
    }


def sign(
    src: Path,
    dst: Path,
    pki: TestPki,
    manifest: dict[str, Any],
    *,
    mime: str | None = None,
    sidecar: Path | None = None,
) -> Path:
    """Sign ``src`` into ``dst`` (embedded); with ``sidecar``, write a detached manifest there."""
    import io

    import c2pa

    info = c2pa.C2paSignerInfo(
        alg=b"es256", sign_cert=pki.chain_pem, private_key=pki.key_pem, ta_url=None
    )
    mime = (
        mime
        or {
            ".png": "image/png",
            ".jpg": "image/jpeg",
            ".jpeg": "image/jpeg",
            ".exr": "image/x-exr",
        }[src.suffix.lower()]
    )
    with (
        c2pa.Context.from_dict(OFFLINE) as ctx,
        c2pa.Signer.from_info(info) as signer,
        c2pa.Builder(manifest, ctx) as builder,
    ):
        if sidecar is not None:
            builder.set_no_embed()
            with open(src, "rb") as source:
                out = io.BytesIO()
                manifest_bytes = builder.sign(signer, mime, source, out)
            sidecar.write_bytes(manifest_bytes)
            if dst != src:
                dst.write_bytes(src.read_bytes())
            return dst
        with open(src, "rb") as source, open(dst, "w+b") as target:
            builder.sign(signer, mime, source, target)
    return dst


def rechunk_idat(path: Path, chunk_size: int) -> None:
    """Rewrite the pixel data as IDAT chunks of ``chunk_size`` bytes (libpng writes 8 KiB)."""
    raw, pos, out, idat = path.read_bytes(), 8, [], b""
    out.append(raw[:8])
    while pos < len(raw):
        length, ctype = struct.unpack(">I4s", raw[pos : pos + 8])
        if ctype == b"IDAT":
            idat += raw[pos + 8 : pos + 8 + length]
        else:
            if idat:
                out += [
                    png_chunk(b"IDAT", idat[i : i + chunk_size])
                    for i in range(0, len(idat), chunk_size)
                ]
                idat = b""
            out.append(raw[pos : pos + 12 + length])
        pos += 12 + length
    path.write_bytes(b"".join(out))


# ------------------------------------------------------------------------- audio / video ----


def write_wav(path: Path, xmp: str | None = None) -> Path:
    """A real WAV (stdlib ``wave``); ``xmp`` appended as a ``_PMX`` chunk, RIFF size fixed."""
    import wave

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\x01\x02" * 800)
    if xmp is not None:
        raw = path.read_bytes()
        data = xmp.encode()
        chunk = b"_PMX" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
        raw += chunk
        path.write_bytes(raw[:4] + struct.pack("<I", len(raw) - 8) + raw[8:])
    return path


def bmff_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


XMP_UUID = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")


def write_mp4(path: Path, xmp: str | None = None, *, quicktime: bool = False) -> Path:
    """A minimal ISO BMFF file: ftyp, moov, mdat; XMP in a top-level uuid box (MP4) or in
    moov/udta/XMP_ (QuickTime), as Adobe tools write them. The media boxes are filler."""
    ftyp = bmff_box(b"ftyp", (b"qt  " if quicktime else b"isom") + b"\x00\x00\x02\x00isommp41")
    udta = b""
    top_xmp = b""
    if xmp is not None and quicktime:
        udta = bmff_box(b"udta", bmff_box(b"XMP_", xmp.encode()))
    elif xmp is not None:
        top_xmp = bmff_box(b"uuid", XMP_UUID + xmp.encode())
    moov = bmff_box(b"moov", bmff_box(b"mvhd", bytes(100)) + udta)
    mdat = bmff_box(b"mdat", bytes(4096))
    path.write_bytes(ftyp + moov + top_xmp + mdat)
    return path
