"""The container walkers' bounds: a hostile or corrupt file (hundreds of thousands of tiny
chunks, segments or boxes) costs what a header costs, and is "unsure", never a pass.

Each hostile file here is a real file (Pillow, ``wave``, the MP4 writer of ``_embedded``)
carrying a capture packet, then the filler, then a GenAI packet. The walk must stop at its
bound with an issue naming the file and the bound, must not read the GenAI packet past it,
and must not claim "no GenAI" from the capture packet either: what lies past the bound might
say GenAI. A legitimate frame with thousands of IDAT chunks is read as before.
"""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import pytest

from _embedded import (
    CAPTURE,
    TRAINED,
    XMP_UUID,
    bmff_box,
    c2pa_manifest,
    insert_png_chunk,
    make_pki,
    png_chunk,
    png_chunk_types,
    rechunk_idat,
    sign,
    write_jpeg,
    write_mp4,
    write_png,
    write_wav,
    xmp_packet,
)
from clearance.cache import keepable
from clearance.model import Asset, Outcome
from clearance.provenance import _containers, c2pa, xmp
from clearance.provenance._containers import _after_last_idat, scan
from clearance.provenance.c2pa import find_manifest, sdk_available
from clearance.provenance.xmp import read_xmp

pytest.importorskip("PIL")

ITXT_XMP = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00"
GENAI = xmp_packet(TRAINED).encode()


def asset_for(path: Path, **kw) -> Asset:
    return Asset(path=path, rel=path.name, root=path.parent, files=[path], **kw)


# --------------------------------------------------------------------- hostile file writers ----


def _png(path: Path, before: bytes = b"", after: bytes = b"", tail: bytes = b"") -> Path:
    """Pillow's PNG (a capture packet before IDAT), ``before`` spliced in ahead of the pixel
    data, ``after`` and then a GenAI packet after it, ``tail`` after IEND."""
    raw = write_png(path, xmp_packet(CAPTURE)).read_bytes()
    idat, iend = raw.index(b"IDAT") - 4, raw.rindex(b"IEND") - 4
    genai = png_chunk(b"iTXt", ITXT_XMP + GENAI)
    path.write_bytes(raw[:idat] + before + raw[idat:iend] + after + genai + raw[iend:] + tail)
    return path


def _chains_that_break(n: int) -> bytes:
    """``n`` text chunks, each ending in what reads as an empty IDAT chunk's header whose chain
    runs on over the next ones, to a damaged chunk: no chain ever reaches IEND, and trying each
    in turn costs n² chunk checks."""
    fake = png_chunk(b"tEXt", b"k\x00" + struct.pack(">I", 0) + b"IDAT")
    damaged = bytearray(png_chunk(b"tEXt", b"k\x00damaged"))
    damaged[-1] ^= 0x01
    return fake * n + bytes(damaged)


def _jpeg(path: Path, filler: bytes) -> Path:
    """Pillow's JPEG (a capture packet in APP1), then ``filler`` and a GenAI APP1 packet
    before the quantisation tables."""
    raw = write_jpeg(path, xmp_packet(CAPTURE)).read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + GENAI
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    at = raw.index(b"\xff\xdb")
    path.write_bytes(raw[:at] + filler + segment + raw[at:])
    return path


def _segment(marker: int, data: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(data) + 2) + data


def _riff(path: Path, raw: bytes, filler: bytes, xmp_id: bytes) -> Path:
    """``raw`` (a RIFF file with a capture packet), then ``filler`` and a GenAI packet in an
    ``xmp_id`` chunk; the RIFF size is set to match."""
    raw += filler + xmp_id + struct.pack("<I", len(GENAI)) + GENAI + b"\x00" * (len(GENAI) & 1)
    path.write_bytes(raw[:4] + struct.pack("<I", len(raw) - 8) + raw[8:])
    return path


def _wav(path: Path, filler: bytes) -> Path:
    return _riff(path, write_wav(path, xmp_packet(CAPTURE)).read_bytes(), filler, b"_PMX")


def _webp(path: Path, filler: bytes) -> Path:
    from PIL import Image

    Image.new("RGB", (16, 8)).save(path, xmp=xmp_packet(CAPTURE).encode())
    return _riff(path, path.read_bytes(), filler, b"XMP ")


def _mov(path: Path, filler: bytes) -> Path:
    raw = write_mp4(path, xmp_packet(CAPTURE), quicktime=True).read_bytes()  # moov/udta/XMP_
    path.write_bytes(raw + filler + bmff_box(b"uuid", XMP_UUID + GENAI))
    return path


EMPTY_CHUNK = png_chunk(b"zzZz", b"")
PNG_BOUND = "corrupt PNG: more than 4096 chunks besides the pixel data (at byte "
JPEG_MARKERS = "corrupt JPEG: more than 1000 markers before the image data (at byte "
FRAME_BOUND = "{}more than 20000 {} plus one per KiB they span ("

HOSTILE = {
    "png: empty chunks before the pixel data": (
        "hostile.png",
        lambda p: _png(p, before=EMPTY_CHUNK * 5000),
        PNG_BOUND,
    ),
    "png: empty chunks after the pixel data": (
        "hostile.png",
        lambda p: _png(p, after=EMPTY_CHUNK * 5000),
        PNG_BOUND,
    ),
    "png: text chunks": (
        "hostile.png",
        lambda p: _png(p, before=png_chunk(b"tEXt", b"Comment\x00x") * 5000),
        PNG_BOUND,
    ),
    "png: tEXt chunks with the XMP keyword": (
        "hostile.png",
        lambda p: _png(p, after=png_chunk(b"tEXt", b"XML:com.adobe.xmp\x00x") * 5000),
        PNG_BOUND,
    ),
    "png: zTXt chunks with the XMP keyword": (
        "hostile.png",
        lambda p: _png(
            p, before=png_chunk(b"zTXt", b"XML:com.adobe.xmp\x00\x00" + zlib.compress(b"x")) * 5000
        ),
        PNG_BOUND,
    ),
    "png: iTXt chunks with the XMP keyword": (
        "hostile.png",
        lambda p: _png(p, after=png_chunk(b"iTXt", ITXT_XMP + b"x") * 5000),
        PNG_BOUND,
    ),
    "png: empty IDAT chunks, the tail not to be trusted": (
        "hostile.png",
        lambda p: _png(p, after=png_chunk(b"IDAT", b"") * 5000, tail=b"junk"),
        PNG_BOUND,
    ),
    "png: chains from the tail that break just before IEND": (
        "hostile.png",
        lambda p: _png(p, after=_chains_that_break(4200)),
        PNG_BOUND,
    ),
    "jpeg: empty APP segments": (
        "hostile.jpg",
        lambda p: _jpeg(p, _segment(0xE2, b"") * 1001),
        JPEG_MARKERS,
    ),
    "jpeg: APP11 JUMBF segments": (
        "hostile.jpg",
        lambda p: _jpeg(p, _segment(0xEB, b"JP\x00\x00\x00\x00\x00\x01" + bytes(40)) * 1001),
        JPEG_MARKERS,
    ),
    "jpeg: fill bytes": (
        "hostile.jpg",
        lambda p: _jpeg(p, b"\xff" * 70_000),
        "corrupt JPEG: more than 65536 fill bytes before the image data (from byte ",
    ),
    "jpeg: standalone markers": (
        "hostile.jpg",
        lambda p: _jpeg(p, b"\xff\xd0" * 65),
        "corrupt JPEG: more than 64 standalone markers before the image data (at byte ",
    ),
    "wav: empty chunks": (
        "hostile.wav",
        lambda p: _wav(p, b"junk\x00\x00\x00\x00" * 5000),
        "corrupt WAV: more than 4096 chunks (at byte ",
    ),
    "webp: empty chunks": (
        "hostile.webp",
        lambda p: _webp(p, b"junk\x00\x00\x00\x00" * 5000),
        "corrupt WebP: more than 4096 chunks (at byte ",
    ),
    "mov: empty boxes": (
        "hostile.mov",
        lambda p: _mov(p, bmff_box(b"wide", b"") * 10_001),
        "more than 10000 boxes besides the movie fragments (at byte ",
    ),
    # per-frame chunks and boxes have their own bound, far larger, paid for by their bytes:
    # tiny ones past it are hostile
    "png: empty animation chunks": (
        "hostile.png",
        lambda p: _png(p, after=png_chunk(b"fcTL", b"") * 21_000),
        FRAME_BOUND.format("corrupt PNG: ", "animation chunks (fcTL, fdAT)"),
    ),
    "webp: empty animation frames": (
        "hostile.webp",
        lambda p: _webp(p, b"ANMF\x00\x00\x00\x00" * 21_000),
        FRAME_BOUND.format("corrupt WebP: ", "animation frames (ANMF)"),
    ),
    "mov: empty movie fragments": (
        "hostile.mov",
        lambda p: _mov(p, (bmff_box(b"moof", b"") + bmff_box(b"mdat", b"")) * 10_500),
        FRAME_BOUND.format("", "movie fragment boxes"),
    ),
    "mov: empty free boxes": (
        "hostile.mov",
        lambda p: _mov(p, bmff_box(b"free", b"") * 21_000),
        FRAME_BOUND.format("", "movie fragment boxes"),
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_file_stops_at_the_bound_and_is_unsure(tmp_path, case):
    name, write, bound = HOSTILE[case]
    path = write(tmp_path / name)
    record = xmp.clearance_read_provenance(asset=asset_for(path))
    stops = [i for i in record.issues if i.message.startswith(bound)]
    assert len(stops) == 1, [i.message for i in record.issues]
    assert stops[0].file == name
    if not bound.startswith("corrupt JPEG"):  # the new bounds say what became of the rest
        assert stops[0].message.endswith("): the rest of the file is not read")
    # the GenAI packet past the bound is not read, and the capture packet before it cannot
    # vouch for "no GenAI": the reader does not know
    assert record.data == {"source_type": CAPTURE}
    assert read_xmp(path)["unread_rest"] is True
    # the same file always stops at the same place: the answer is cached like any other
    assert not record.volatile and keepable(record)


def test_text_keywords_past_the_bound_are_not_kept(tmp_path):
    path = _png(tmp_path / "keys.png", before=png_chunk(b"tEXt", b"Comment\x00x") * 20_000)
    blocks = scan(path)
    assert blocks.unread_rest
    assert 4000 < len(blocks.text_keys) <= 4096


def test_many_chunks_within_the_bound_are_read(tmp_path):
    path = _png(tmp_path / "busy.png", before=png_chunk(b"tEXt", b"Comment\x00x") * 4000)
    found = read_xmp(path)
    assert found["problems"] == [] and "unread_rest" not in found
    assert found["digital_source_type"] == CAPTURE
    assert found["conflicts"] == {"digital_source_type": [CAPTURE, TRAINED]}


def test_a_manifest_past_the_bound_is_not_detected_and_the_asset_is_unsure(tmp_path):
    """A caBX chunk past the bound is not looked at (C2PA detection walks the same file); the
    XMP reader's issue makes the asset unsure even with a sidecar saying "no GenAI"."""
    from clearance.engine import Session
    from clearance.policy import default_policy
    from clearance.rules.embedded import pack

    path = _png(tmp_path / "gen.png", after=EMPTY_CHUNK * 5000 + png_chunk(b"caBX", b"jumbf"))
    assert find_manifest(path) is None
    sidecar = tmp_path / "gen.png.genai.yaml"
    sidecar.write_text("provenance: 1\nasset: gen.png\ngenerated: false\n")
    session = Session(
        default_policy(tmp_path),
        write_log=False,
        autoload=False,
        extra_plugins=[("clearance.rules.embedded", pack)],
    )
    result = session.audit(asset_for(path, sidecar=sidecar))
    rules = {f.rule: f for f in result.findings}
    assert PNG_BOUND in rules["PRV-02"].message
    assert result.outcome >= Outcome.ESCALATE


# ------------------------------------------------------------- legitimate big frames ----


def big_frame(path: Path, chunk_size: int = 1024) -> Path:
    """A real 1200x1200 frame (Pillow, noise, stored) whose pixel data is rewritten as IDAT
    chunks of ``chunk_size`` bytes: more IDAT chunks (4,221) than the bound on other chunks."""
    from PIL import Image

    Image.frombytes("RGB", (1200, 1200), os.urandom(1200 * 1200 * 3)).save(path, compress_level=0)
    rechunk_idat(path, chunk_size)
    assert png_chunk_types(path).count("IDAT") > 4096
    return path


def test_the_tail_search_checks_no_more_bytes_than_it_reads(tmp_path, monkeypatch):
    """A crafted tail: 1,000 "IDAT"s whose chains each run through the same 4 MiB chunk, with
    a correct CRC, and break just before IEND. Checking each chain in turn would CRC 4 GB;
    the search stops when it has checked as many bytes as it read, and the walk reads the
    file (a GenAI packet after the damage) as it is."""
    big = png_chunk(b"zzZz", bytes(4 * 2**20))
    bad = struct.pack(">I", 1) + b"zzZz\x00\xde\xad\xbe\xef"  # CRC wrong
    raw = write_png(tmp_path / "src.png", xmp_packet(CAPTURE)).read_bytes()
    head, iend = raw[: raw.rindex(b"IEND") - 4], raw[raw.rindex(b"IEND") - 4 :]
    units, first = b"", len(head)
    start = first + 8 * 1000 + 16  # where the big chunk begins
    for i in range(1000):
        units += struct.pack(">I", start - (first + 8 * i + 4) - 8) + b"IDAT"
    genai = png_chunk(b"iTXt", ITXT_XMP + GENAI)
    path = tmp_path / "crafted.png"
    path.write_bytes(head + units + bytes(16) + big + bad + genai + iend)
    checked = []

    def crc32(data, value=0):
        checked.append(len(data))
        return real_crc32(data, value)

    real_crc32 = zlib.crc32
    monkeypatch.setattr(zlib, "crc32", crc32)
    found = read_xmp(path)
    assert sum(checked) <= 2 * path.stat().st_size
    assert found["problems"] == [] and "unread_rest" not in found
    assert found["conflicts"] == {"digital_source_type": [CAPTURE, TRAINED]}


def test_the_tail_search_looks_further_back_without_trying_a_candidate_twice(tmp_path):
    """640 KiB after the pixel data, holding 2,560 "IDAT"s that are no chunk's: the search's
    window grows past them (128 KiB, 512 KiB, 2 MiB) and finds the last IDAT chunk within its
    4,096 tries, which trying each "IDAT" again in every window would have spent."""
    path = big_frame(tmp_path / "plate.png")
    decoys = (struct.pack(">I", 0x7FFFFFFF) + b"IDAT" + bytes(248)) * 2560
    insert_png_chunk(path, b"zzZz", decoys)
    insert_png_chunk(path, b"iTXt", ITXT_XMP + GENAI)
    raw = path.read_bytes()
    last_idat = raw.rindex(b"IDAT", 0, raw.index(b"zzZz")) - 4
    after = last_idat + 12 + struct.unpack(">I", raw[last_idat : last_idat + 4])[0]
    assert _after_last_idat(raw, len(raw), raw.index(b"IDAT") - 4) == after
    found = read_xmp(path)
    assert found["problems"] == [] and found["digital_source_type"] == TRAINED


def _stray_idat_png(path: Path) -> Path:
    """A real PNG (Pillow: a 256x1024 palette image, stored uncompressed in 64 KiB IDAT chunks,
    so its pixel bytes appear as they are) whose last pixel row holds a length and "IDAT", the
    length landing exactly on IEND, and a GenAI packet after the pixel data: the stray "IDAT"
    chains onto IEND."""
    from PIL import Image

    def save(row: bytes) -> bytes:
        image = Image.frombytes("P", (256, 1024), bytes(256 * 1023) + row)
        image.putpalette(bytes(range(256)) * 3)
        image.save(path, compress_level=0)
        insert_png_chunk(path, b"iTXt", ITXT_XMP + GENAI)
        return path.read_bytes()

    raw = save(bytes(200) + b"\xff\xff\xff\xffIDAT" + bytes(48))
    stray = raw.index(b"\xff\xff\xff\xffIDAT") + 4
    length = raw.rindex(b"IEND") - 4 - (stray + 8)
    raw = save(bytes(200) + struct.pack(">I", length) + b"IDAT" + bytes(48))
    assert raw.index(struct.pack(">I", length) + b"IDAT") + 4 == stray
    assert png_chunk_types(path).count("IDAT") > 1
    return path


def test_a_stray_idat_whose_length_lands_on_iend_skips_nothing(tmp_path):
    """The tail search trusts a candidate IDAT only if its own CRC is correct: a stray one in
    the pixel data, whose length field lands on IEND, must not make the walk jump over the
    GenAI packet after the pixel data (the asset passed against a sidecar saying no GenAI)."""
    path = _stray_idat_png(tmp_path / "gen.png")
    raw = path.read_bytes()
    itxt = raw.index(b"iTXt") - 4
    assert _after_last_idat(raw, len(raw), raw.index(b"IDAT") - 4) == itxt
    found = read_xmp(path)
    assert found["problems"] == [] and "unread_rest" not in found
    assert (found["where"], found["digital_source_type"]) == ("iTXt after IDAT", TRAINED)


@pytest.mark.parametrize("kind", [b"iTXt", b"caBX"])
def test_a_chunk_between_two_runs_of_idat_is_read_as_the_walk_reads_it(tmp_path, monkeypatch, kind):
    """The tail search finds the last IDAT chunk; the chunks it jumps over must all be IDAT.
    A GenAI packet or a C2PA store between two runs of IDAT (the tail chains onto IEND all the
    same) was jumped over: no issue, and the asset passed beside a sidecar saying no GenAI. It
    is read as the chunk-by-chunk walk reads it."""
    path = big_frame(tmp_path / "gen.png")
    raw = path.read_bytes()
    second = raw.index(b"IDAT", raw.index(b"IDAT") + 4) - 4
    payload = ITXT_XMP + GENAI if kind == b"iTXt" else b"jumbf"
    path.write_bytes(raw[:second] + png_chunk(kind, payload) + raw[second:])
    fast = read_xmp(path), find_manifest(path)
    monkeypatch.setattr(_containers, "_after_last_idat", lambda *args: None)
    _containers._RECENT.clear()
    assert (read_xmp(path), find_manifest(path)) == fast
    found, manifest = fast
    assert found["problems"] == []
    if kind == b"iTXt":
        assert (found["where"], found["digital_source_type"]) == ("iTXt after IDAT", TRAINED)
    else:
        assert manifest["location"] == "caBX"


@pytest.mark.parametrize("tail", [b"", b"junk appended by a broken copy"])  # skipped / walked
def test_a_frame_with_thousands_of_idat_chunks_reads_normally(tmp_path, tail):
    path = big_frame(tmp_path / "plate.png")
    insert_png_chunk(path, b"iTXt", ITXT_XMP + GENAI)
    insert_png_chunk(path, b"caBX", b"jumbf")
    path.write_bytes(path.read_bytes() + tail)
    found = read_xmp(path)
    assert found["problems"] == [] and "unread_rest" not in found
    assert (found["where"], found["digital_source_type"]) == ("iTXt after IDAT", TRAINED)
    assert find_manifest(path)["location"] == "caBX"


@pytest.mark.skipif(not sdk_available(), reason="c2pa-python not installed")
def test_a_signed_frame_with_thousands_of_idat_chunks_verifies(tmp_path):
    source = big_frame(tmp_path / "src.png")
    insert_png_chunk(source, b"iTXt", ITXT_XMP + GENAI)
    path = sign(source, tmp_path / "gen.png", make_pki(), c2pa_manifest())
    assert png_chunk_types(path).count("IDAT") > 4096
    record = c2pa.clearance_read_provenance(asset=asset_for(path), policy=None)
    assert record.evidence["location"] == "caBX"
    assert record.evidence["validation_state"] == "Valid"
    assert record.data["generated"] is True
    assert xmp.clearance_read_provenance(asset=asset_for(path)).issues == []


def test_the_bounds_are_the_ones_the_docs_give():
    docs = Path(__file__).resolve().parents[1] / "docs" / "embedded-provenance.md"
    text = docs.read_text(encoding="utf-8")
    for quoted in (
        "4,096 chunks",
        "1 KiB",
        "10,000 boxes",
        "unread_rest",
        "20,000, plus one per KiB",
    ):
        assert quoted in text, quoted


# ------------------------------------------------- long animations, fragmented movies ----


def _frames(n: int) -> list:
    """``n`` distinct 16x16 frames (Pillow drops a frame identical to the one before)."""
    from PIL import Image

    return [Image.new("RGB", (16, 16), (i % 256, i // 256 % 256, 0)) for i in range(n)]


def test_a_long_apng_reads_normally(tmp_path):
    """An APNG has an fcTL chunk per frame and an fdAT (tiny here): 5,000 frames are more
    chunks than the bound on the others."""
    frames = _frames(5000)
    path = tmp_path / "anim.png"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=40)
    insert_png_chunk(path, b"iTXt", ITXT_XMP + GENAI)  # after the last frame
    assert png_chunk_types(path).count("fcTL") == 5000
    found = read_xmp(path)
    assert found["problems"] == [] and "unread_rest" not in found
    assert (found["where"], found["digital_source_type"]) == ("iTXt after IDAT", TRAINED)


def test_a_long_animated_webp_reads_normally(tmp_path):
    """An animated WebP has an ANMF chunk per frame: its XMP chunk comes after 5,000."""
    frames = _frames(5000)
    path = tmp_path / "anim.webp"
    frames[0].save(
        path, save_all=True, append_images=frames[1:], duration=40, lossless=True, xmp=GENAI
    )
    assert path.read_bytes().count(b"ANMF") >= 5000
    found = read_xmp(path)
    assert found["problems"] == [] and "unread_rest" not in found
    assert (found["where"], found["digital_source_type"]) == ("XMP chunk", TRAINED)


def _fragmented_mov(path: Path, frames: int, frame_bytes: int, extra: tuple[bytes, ...]) -> Path:
    """A fragmented QuickTime movie laid out as FFmpeg writes one with ``-movflags
    frag_keyframe+empty_moov`` for an intra codec (ProRes): ftyp, a moov without samples, a
    moof and an mdat per frame (after ``extra`` boxes, as CMAF segments carry), mfra; then a
    GenAI XMP uuid box that a tool appended, past every fragment."""
    ftyp = bmff_box(b"ftyp", b"qt  \x00\x00\x02\x00qt  ")
    mvex = bmff_box(b"mvex", bmff_box(b"trex", bytes(24)))
    moov = bmff_box(b"moov", bmff_box(b"mvhd", bytes(100)) + bmff_box(b"trak", bytes(463)) + mvex)
    with path.open("wb") as out:
        out.write(ftyp + moov)
        for number in range(frames):
            traf = bmff_box(b"tfhd", bytes(28)) + bmff_box(b"tfdt", bytes(12))
            traf += bmff_box(b"trun", struct.pack(">II", 0x000305, 1) + bytes(8))
            mfhd = bmff_box(b"mfhd", struct.pack(">II", 0, number + 1))
            moof = bmff_box(b"moof", mfhd + bmff_box(b"traf", traf))
            out.write(b"".join(bmff_box(kind, bytes(16)) for kind in extra))
            out.write(moof + bmff_box(b"mdat", bytes(frame_bytes)))
        tfra = bmff_box(b"tfra", bytes(12 * frames))
        out.write(bmff_box(b"mfra", tfra + bmff_box(b"mfro", bytes(8))))
        out.write(bmff_box(b"uuid", XMP_UUID + GENAI))
    return path


@pytest.mark.parametrize(
    ("frames", "frame_bytes", "extra"),
    [
        (6000, 240, ()),  # 64x64 ProRes: 12,000 boxes in 2 MB, within the bound as they are
        (2100, 240, (b"styp", b"sidx", b"prft", b"emsg", b"free")),  # 10,500 of these alone
        (15_000, 2048, ()),  # 30,000 boxes: past 20,000, paid for by the bytes they span
    ],
    ids=["ffmpeg-prores", "cmaf-segments", "paid-by-bytes"],
)
def test_a_long_fragmented_movie_reads_normally(tmp_path, frames, frame_bytes, extra):
    path = _fragmented_mov(tmp_path / "rec.mov", frames, frame_bytes, extra)
    found = read_xmp(path)
    assert found["problems"] == [] and "unread_rest" not in found
    assert (found["where"], found["digital_source_type"]) == ("uuid box", TRAINED)


def test_past_the_bound_movie_fragments_must_pay_with_bytes(tmp_path):
    """The same 30,000 fragment boxes with tiny frames are past the bound: unsure."""
    path = _fragmented_mov(tmp_path / "rec.mov", 15_000, 240, ())
    found = read_xmp(path)
    assert found["unread_rest"] is True
    assert found["problems"][0].startswith(FRAME_BOUND.format("", "movie fragment boxes"))
