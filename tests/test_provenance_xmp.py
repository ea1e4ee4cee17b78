"""The XMP reader on real PNG, JPEG, WebP and TIFF files written in the test."""

from __future__ import annotations

import os
import re
import struct
import zlib
from pathlib import Path

import pytest

from _embedded import (
    CAPTURE,
    DMI_PROHIBITED,
    IPTC,
    TRAINED,
    XML_BOMB,
    XMP_UUID,
    bmff_box,
    insert_png_chunk,
    png_chunk_types,
    rechunk_idat,
    write_jpeg,
    write_mp4,
    write_png,
    write_wav,
    xmp_packet,
)
from clearance.model import Asset
from clearance.provenance import xmp
from clearance.provenance._containers import MAX_XMP_BYTES, MAX_XMP_PACKETS, scan
from clearance.provenance.xmp import XmpError, parse_xmp, read_jpeg_xmp, read_png_xmp, read_xmp

pytest.importorskip("PIL")


def asset_for(path: Path, *frames: Path) -> Asset:
    files = [path, *frames]
    return Asset(path=path, rel=path.name, root=path.parent, files=files)


def read(path: Path):
    return xmp.clearance_read_provenance(asset=asset_for(path))


# ------------------------------------------------------------------------------- parsing ----


def test_parse_attribute_and_element_forms_agree():
    attr = parse_xmp(xmp_packet(TRAINED, DMI_PROHIBITED))
    elem = parse_xmp(xmp_packet(TRAINED, DMI_PROHIBITED, element_form=True))
    for found in (attr, elem):
        assert found["digital_source_type"] == TRAINED
        assert found["data_mining"] == DMI_PROHIBITED
        assert found["creator_tool"] == "Nuke 15.1"


def test_parse_rdf_resource_form():
    packet = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
        f'<Iptc4xmpExt:DigitalSourceType rdf:resource="{TRAINED}"/></rdf:Description></rdf:RDF></x:xmpmeta>'
    )
    assert parse_xmp(packet)["digital_source_type"] == TRAINED


def test_xml_bomb_is_refused_without_expansion():
    with pytest.raises(XmpError, match="refused"):
        parse_xmp(XML_BOMB)


def test_external_entity_is_refused():
    packet = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>'
        "<x:xmpmeta xmlns:x='adobe:ns:meta/'>&ext;</x:xmpmeta>"
    )
    with pytest.raises(XmpError, match="refused"):
        parse_xmp(packet)


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_utf16_and_utf32_packets_parse(encoding):
    """XMP packets may be UTF-8, UTF-16 or UTF-32 (XMP part 1, 7.3), with or without a BOM;
    the NUL bytes of their characters are not padding."""
    packet = xmp_packet(TRAINED)
    assert parse_xmp(packet.encode(encoding))["digital_source_type"] == TRAINED
    # padded as writers pad: whitespace in the packet's encoding, then stray NUL bytes
    padded = (packet + " \n" * 20).encode(encoding) + b"\x00" * 3
    assert parse_xmp(padded)["digital_source_type"] == TRAINED


def test_utf8_packet_padded_with_nuls_still_parses():
    padded = b"\x00\x00\x00" + xmp_packet(TRAINED).encode() + b" \n\x00\x00"
    assert parse_xmp(padded)["digital_source_type"] == TRAINED
    assert parse_xmp(b"\x00" + xmp_packet(TRAINED).encode())["digital_source_type"] == TRAINED


def test_a_utf16_packet_that_does_not_decode_is_an_xmp_error():
    with pytest.raises(XmpError, match="not well-formed"):
        parse_xmp("<a>".encode("utf-16-le") + b"\x00\xd8<\x00")  # a lone surrogate


def test_malformed_packet_is_an_xmp_error():
    with pytest.raises(XmpError, match="not well-formed"):
        parse_xmp(b"<x:xmpmeta><unclosed>")


# -------------------------------------------------------------------------- PNG and JPEG ----


def test_png_xmp_before_idat(tmp_path):
    path = write_png(tmp_path / "gen.png", xmp_packet(TRAINED, DMI_PROHIBITED))
    assert png_chunk_types(path).index("iTXt") < png_chunk_types(path).index("IDAT")
    found = read_png_xmp(path)
    assert found["where"] == "iTXt before IDAT"
    assert found["digital_source_type"] == TRAINED
    assert found["problems"] == []


@pytest.mark.parametrize("compressed", [False, True])
def test_png_xmp_after_pixel_data_is_found(tmp_path, compressed):
    path = write_png(
        tmp_path / "late.png", xmp_packet(TRAINED), after_idat=True, compressed=compressed
    )
    types = png_chunk_types(path)
    assert types.index("iTXt") > types.index("IDAT")  # really after the pixels
    found = read_png_xmp(path)
    assert found["where"] == "iTXt after IDAT"
    assert found["digital_source_type"] == TRAINED


@pytest.mark.parametrize("ctype", [b"tEXt", b"zTXt"])
def test_png_xmp_in_the_text_chunks_older_writers_used_is_read(tmp_path, ctype):
    """XMP under the keyword XML:com.adobe.xmp in a tEXt or zTXt chunk (older ImageMagick,
    some scripts) says GenAI as surely as iTXt does: never skipped as an ordinary text chunk."""
    path = write_png(tmp_path / "old.png")
    packet = xmp_packet(TRAINED).encode("utf-8")
    body = packet if ctype == b"tEXt" else b"\x00" + zlib.compress(packet)
    insert_png_chunk(path, ctype, b"XML:com.adobe.xmp\x00" + body)
    found = read_png_xmp(path)
    assert found["where"] == f"{ctype.decode()} after IDAT"
    assert found["digital_source_type"] == TRAINED
    assert found["problems"] == []


def test_reader_happy_path_fills_format1_fields(tmp_path):
    path = write_png(tmp_path / "gen.png", xmp_packet(TRAINED, DMI_PROHIBITED))
    record = read(path)
    assert record.source == "xmp"
    assert record.file == "gen.png"
    assert record.data == {
        "source_type": TRAINED,
        "generated": True,
        "x-data-mining": DMI_PROHIBITED,
    }
    assert record.evidence["data_mining"] == DMI_PROHIBITED
    assert record.evidence["creator_tool"] == "Nuke 15.1"
    assert record.evidence["location"] == "iTXt before IDAT"
    assert record.issues == []


def test_jpeg_app1_xmp(tmp_path):
    path = write_jpeg(
        tmp_path / "gen.jpg", xmp_packet(IPTC + "compositeWithTrainedAlgorithmicMedia")
    )
    assert read_jpeg_xmp(path)["where"] == "APP1"
    record = read(path)
    assert record.data["generated"] is True
    assert record.data["source_type"].endswith("compositeWithTrainedAlgorithmicMedia")


def test_webp_and_tiff_xmp(tmp_path):
    from PIL import Image, TiffImagePlugin

    image = Image.new("RGB", (8, 8))
    image.save(tmp_path / "a.webp", xmp=xmp_packet(TRAINED).encode())
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = xmp_packet(CAPTURE).encode()
    info.tagtype[700] = 1
    image.save(tmp_path / "a.tif", tiffinfo=info)
    assert read(tmp_path / "a.webp").data["generated"] is True
    assert read(tmp_path / "a.tif").data == {"source_type": CAPTURE, "generated": False}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_tiff_with_a_utf16_packet(tmp_path, encoding):
    from PIL import Image, TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = xmp_packet(TRAINED).encode(encoding)
    info.tagtype[700] = 1
    Image.new("RGB", (8, 8)).save(tmp_path / "u.tif", tiffinfo=info)
    record = read(tmp_path / "u.tif")
    assert record.issues == []
    assert record.data == {"source_type": TRAINED, "generated": True}


@pytest.mark.parametrize(
    ("term", "generated"),
    [
        ("trainedAlgorithmicMedia", True),
        ("compositeSynthetic", True),
        ("digitalCapture", False),
        ("algorithmicallyEnhanced", False),
        ("humanEdits", False),
        ("composite", None),
        ("compositedWithTrainedMedia", None),  # misspelled: unknown is never "no"
    ],
)
def test_generated_follows_the_iptc_term(tmp_path, term, generated):
    record = read(write_png(tmp_path / "t.png", xmp_packet(IPTC + term)))
    assert record.data["source_type"] == IPTC + term  # kept as found, for the IPTC rules
    assert record.data.get("generated") is generated


def test_short_term_is_understood_and_kept_as_written(tmp_path):
    record = read(write_png(tmp_path / "t.png", xmp_packet("trainedAlgorithmicMedia")))
    assert record.data == {"source_type": "trainedAlgorithmicMedia", "generated": True}


def test_no_xmp_or_irrelevant_xmp_is_nothing(tmp_path):
    assert read(write_png(tmp_path / "plain.png")) is None
    assert read(write_png(tmp_path / "dcc.png", xmp_packet(None))) is None  # CreatorTool only
    assert read(write_jpeg(tmp_path / "plain.jpg")) is None


def test_conflicting_values_are_an_issue(tmp_path):
    packet = xmp_packet(TRAINED).replace(
        "</rdf:Description>",
        f"</rdf:Description><rdf:Description xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'"
        f" Iptc4xmpExt:DigitalSourceType='{CAPTURE}'/>",
    )
    record = read(write_png(tmp_path / "two.png", packet))
    assert record.data["source_type"] == TRAINED
    assert [i.field for i in record.issues] == ["xmp.digital_source_type"]


def test_conflicting_values_in_one_packet_that_do_not_say_genai_leave_generated_unknown(tmp_path):
    packet = xmp_packet(CAPTURE).replace(
        "</rdf:Description>",
        f"</rdf:Description><rdf:Description xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'"
        f" Iptc4xmpExt:DigitalSourceType='{IPTC}composite'/>",
    )
    record = read(write_png(tmp_path / "two.png", packet))
    assert record.data == {"source_type": CAPTURE}  # unknown is never "no"
    assert [i.field for i in record.issues] == ["xmp.digital_source_type"]


# ------------------------------------------------------ the asset's own properties only ----


def _pantry(own: str | None, ingredient: str) -> str:
    """Photoshop's XMP for a comp: its own DigitalSourceType (or none), the placed plate in
    xmpMM:Ingredients, and the plate's own XMP, ``ingredient``'s term, copied into the
    comp's xmpMM:Pantry."""
    body = (
        '<xmpMM:Ingredients xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"'
        ' xmlns:stRef="http://ns.adobe.com/xap/1.0/sType/ResourceRef#"><rdf:Bag>'
        '<rdf:li rdf:parseType="Resource"><stRef:filePath>plate_v001.jpg</stRef:filePath>'
        "<stRef:instanceID>xmp.iid:plate</stRef:instanceID></rdf:li></rdf:Bag></xmpMM:Ingredients>"
        '<xmpMM:Pantry xmlns:xmpMM="http://ns.adobe.com/xap/1.0/mm/"><rdf:Bag><rdf:li>'
        '<rdf:Description xmpMM:InstanceID="xmp.iid:plate"'
        f' Iptc4xmpExt:DigitalSourceType="{ingredient}"/></rdf:li>'
        f"<rdf:li><rdf:Description><Iptc4xmpExt:DigitalSourceType>{ingredient}"
        "</Iptc4xmpExt:DigitalSourceType></rdf:Description></rdf:li></rdf:Bag></xmpMM:Pantry>"
    )
    return _with_elements(xmp_packet(own), body)


def test_an_ingredients_source_type_in_the_pantry_is_not_the_assets_own(tmp_path, cli):
    """A comp whose own XMP says nothing, with a placed capture plate's XMP in its Pantry: it
    was read as the comp's own digitalCapture ("no GenAI", so it passed with no sidecar). It
    says nothing about the comp: PRV-01, as for the same file without XMP."""
    assert parse_xmp(_pantry(None, CAPTURE)) == {"creator_tool": "Nuke 15.1"}
    path = write_jpeg(tmp_path / "sh010_comp_v004.jpg", _pantry(None, CAPTURE))
    assert read(path) is None
    done = cli("check", str(path), "--format", "json")
    (audited,) = done.json()["assets"]
    assert [f["rule"] for f in audited["findings"]] == ["PRV-01"]
    assert (done.code, audited["outcome"]) == (1, "escalate")


def test_a_genai_ingredient_in_the_pantry_makes_the_asset_generated(tmp_path):
    """A GenAI term in a placed ingredient's XMP says the comp holds GenAI content, as a GenAI
    ingredient does for C2PA: the stricter claim is kept, whatever the comp's own term."""
    record = read(write_jpeg(tmp_path / "own.jpg", _pantry(CAPTURE, TRAINED)))
    assert record.data == {"source_type": CAPTURE, "generated": True}
    assert record.evidence["nested_genai"] == [TRAINED]
    record = read(write_jpeg(tmp_path / "none.jpg", _pantry(None, TRAINED)))
    assert record.data == {"source_type": TRAINED, "generated": True}


def _array(kind: str, *items: str, lang: bool = False) -> str:
    """A DigitalSourceType element whose value is an rdf:Bag, rdf:Seq or rdf:Alt of
    ``items`` (language alternatives if ``lang``)."""
    li = "".join(
        f"<rdf:li{' xml:lang=' + repr(code) if lang else ''}>{item}</rdf:li>"
        for code, item in zip(("x-default", "fr", "de"), items, strict=False)
    )
    body = f"<Iptc4xmpExt:DigitalSourceType><rdf:{kind}>{li}</rdf:{kind}></Iptc4xmpExt:DigitalSourceType>"
    return _with_elements(xmp_packet(None), body)


@pytest.mark.parametrize("kind", ["Bag", "Seq"])
def test_each_item_of_a_multi_valued_source_type_is_a_value(tmp_path, kind):
    """An rdf:Bag or rdf:Seq of two terms was read as their joined text, an unknown term
    (generated unknown, only an IPTC-04 notice): each item is a value, weighed like values
    written twice, so GenAI in any of them makes the asset generated."""
    found = parse_xmp(_array(kind, CAPTURE, TRAINED))
    assert found["digital_source_type"] == CAPTURE
    assert found["conflicts"] == {"digital_source_type": [CAPTURE, TRAINED]}
    record = read(write_png(tmp_path / "bag.png", _array(kind, CAPTURE, TRAINED)))
    assert record.data == {"source_type": TRAINED, "generated": True}
    assert [i.field for i in record.issues] == ["xmp.digital_source_type"]
    record = read(write_png(tmp_path / "same.png", _array(kind, CAPTURE, f" {CAPTURE} ")))
    assert (record.data, record.issues) == ({"source_type": CAPTURE, "generated": False}, [])


def test_language_alternatives_of_a_source_type_are_values(tmp_path):
    record = read(write_png(tmp_path / "alt.png", _array("Alt", TRAINED, TRAINED, lang=True)))
    assert (record.data, record.issues) == ({"source_type": TRAINED, "generated": True}, [])
    found = parse_xmp(_array("Alt", CAPTURE, TRAINED, lang=True))
    assert found["conflicts"] == {"digital_source_type": [CAPTURE, TRAINED]}


# ------------------------------------------------------------------ more than one packet ----


ITXT_XMP = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00"


def _png_two_packets(path: Path, first: str, second: str) -> Path:
    write_png(path, xmp_packet(first))  # before IDAT, as Pillow writes it
    insert_png_chunk(path, b"iTXt", ITXT_XMP + xmp_packet(second).encode())  # appended later
    return path


def _jpeg_two_packets(path: Path, first: str, second: str) -> Path:
    raw = write_jpeg(path, xmp_packet(first)).read_bytes()
    payload = b"http://ns.adobe.com/xap/1.0/\x00" + xmp_packet(second).encode()
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    at = raw.index(b"\xff\xdb")  # before the quantisation tables
    path.write_bytes(raw[:at] + segment + raw[at:])
    return path


def _wav_two_packets(path: Path, first: str, second: str) -> Path:
    raw = write_wav(path, xmp_packet(first)).read_bytes()
    data = xmp_packet(second).encode()
    raw += b"_PMX" + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")
    path.write_bytes(raw[:4] + struct.pack("<I", len(raw) - 8) + raw[8:])
    return path


def _mp4_two_packets(path: Path, first: str, second: str) -> Path:
    from _embedded import XMP_UUID, bmff_box

    raw = write_mp4(path, xmp_packet(first), quicktime=True).read_bytes()  # moov/udta/XMP_
    path.write_bytes(raw + bmff_box(b"uuid", XMP_UUID + xmp_packet(second).encode()))
    return path


TWO_PACKETS = {
    "png": _png_two_packets,
    "jpg": _jpeg_two_packets,
    "wav": _wav_two_packets,
    "mov": _mp4_two_packets,
}


@pytest.mark.parametrize("ext", sorted(TWO_PACKETS))
def test_a_second_packet_saying_genai_makes_the_asset_generated(tmp_path, ext):
    """A capture plate's XMP, then a GenAI tool's own packet appended to the file: both are
    read; the first value is kept as found, the conflict is an issue, and GenAI in any packet
    is never "not generated"."""
    path = TWO_PACKETS[ext](tmp_path / f"plate.{ext}", CAPTURE, TRAINED)
    found = read_xmp(path)
    assert found["digital_source_type"] == CAPTURE
    assert found["conflicts"] == {"digital_source_type": [CAPTURE, TRAINED]}
    assert len(found["packets"]) == 2
    record = read(path)
    assert record.data == {"source_type": TRAINED, "generated": True}
    assert [i.field for i in record.issues] == ["xmp.digital_source_type"]
    assert record.evidence["digital_source_type"] == CAPTURE


def test_two_packets_that_agree_are_no_issue(tmp_path):
    record = read(_png_two_packets(tmp_path / "same.png", TRAINED, TRAINED))
    assert record.data == {"source_type": TRAINED, "generated": True}
    assert record.issues == []


def test_a_second_packet_saying_genai_blocks_against_a_sidecar_saying_false(tmp_path):
    from clearance.engine import Session
    from clearance.model import Outcome
    from clearance.policy import default_policy

    for path in (
        _png_two_packets(tmp_path / "plate.png", CAPTURE, TRAINED),
        _jpeg_two_packets(tmp_path / "plate.jpg", CAPTURE, TRAINED),
    ):
        sidecar = path.with_name(path.name + ".genai.yaml")
        sidecar.write_text(f"provenance: 1\nasset: {path.name}\ngenerated: false\n")
        asset = Asset(path=path, rel=path.name, root=tmp_path, files=[path], sidecar=sidecar)
        result = Session(default_policy(tmp_path), write_log=False).audit(asset)
        rules = {f.rule: f for f in result.findings}
        assert rules["PRV-04"].effective_outcome is Outcome.BLOCK, path.name


@pytest.mark.parametrize("empty", ["", "  "])
def test_an_empty_source_type_written_first_hides_no_later_value(tmp_path, empty):
    """An empty DigitalSourceType, then a GenAI one (in a packet a GenAI tool appended, or
    later in the same packet): the empty one was kept as the first value and the property
    skipped, so the GenAI term was never weighed (PRV-02 instead of PRV-04 against a sidecar
    saying no GenAI). An empty value is no value."""
    from clearance.engine import Session
    from clearance.model import Outcome
    from clearance.policy import default_policy

    same = _with_elements(
        xmp_packet(empty),
        f"<Iptc4xmpExt:DigitalSourceType>{TRAINED}</Iptc4xmpExt:DigitalSourceType>",
    )
    assert parse_xmp(same)["digital_source_type"] == TRAINED
    assert parse_xmp(xmp_packet(empty)) == {"creator_tool": "Nuke 15.1"}
    for path in (
        _jpeg_two_packets(tmp_path / "plate.jpg", empty, TRAINED),
        write_png(tmp_path / "plate.png", same),
    ):
        record = read(path)
        assert (record.data, record.issues) == ({"source_type": TRAINED, "generated": True}, [])
        sidecar = path.with_name(path.name + ".genai.yaml")
        sidecar.write_text(f"provenance: 1\nasset: {path.name}\ngenerated: false\n")
        asset = Asset(path=path, rel=path.name, root=tmp_path, files=[path], sidecar=sidecar)
        result = Session(default_policy(tmp_path), write_log=False).audit(asset)
        rules = {f.rule: f for f in result.findings}
        assert rules["PRV-04"].effective_outcome is Outcome.BLOCK, path.name


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        ("<xmp:CreatorTool>Jos\xe9 Tool</xmp:CreatorTool>", "invalid token"),  # Latin-1
        ("<photoshop:History>x</photoshop:History>", "unbound prefix"),
    ],
)
def test_a_genai_term_read_before_a_packet_is_damaged_is_kept(tmp_path, cli, damage, problem):
    """expat has read DigitalSourceType=trainedAlgorithmicMedia when it meets a bad byte
    later in the packet: what was read before the damage is kept (PRV-04 against a sidecar
    saying no GenAI, was only PRV-02), and the packet still counts as unread, so a capture
    term read before the damage is not "no GenAI"."""

    def damaged(term: str) -> bytes:
        return (
            xmp_packet(term)
            .encode()
            .replace(b"</rdf:Description>", damage.encode("latin-1") + b"</rdf:Description>")
        )

    def jpeg(path: Path, packet: bytes) -> Path:
        raw = write_jpeg(path).read_bytes()
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + packet
        segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
        path.write_bytes(raw[:2] + segment + raw[2:])
        return path

    with pytest.raises(XmpError, match=problem) as refused:
        parse_xmp(damaged(TRAINED))
    assert refused.value.found["digital_source_type"] == TRAINED
    path = jpeg(tmp_path / "gen.jpg", damaged(TRAINED))
    found = read_xmp(path)
    assert (found["digital_source_type"], found["unread_packets"]) == (TRAINED, 1)
    (message,) = found["problems"]
    assert message.startswith("XMP packet (APP1) not well-formed XML") and problem in message
    sidecar = path.with_name(path.name + ".genai.yaml")
    sidecar.write_text("provenance: 1\ngenerated: false\nsource_type: digitalCapture\n")
    done = cli("check", str(path), "--format", "json")
    (audited,) = done.json()["assets"]
    outcomes = {f["rule"]: f["outcome"] for f in audited["findings"]}
    assert (outcomes["PRV-04"], outcomes["PRV-02"]) == ("block", "escalate")
    assert (done.code, audited["outcome"]) == (1, "block")
    record = read(jpeg(tmp_path / "plate.jpg", damaged(CAPTURE)))
    assert record.data == {"source_type": CAPTURE}  # not "no GenAI": the rest is unread


def _jpeg_extended(path: Path, main: str, extended: bytes, portions: list[int]) -> Path:
    """Pillow's JPEG with ``main`` in APP1 and ``extended`` split, at the offsets
    ``portions``, over Extended XMP APP1 segments (last one first, as order is free)."""
    import hashlib

    guid = hashlib.md5(extended).hexdigest().upper().encode()
    raw = write_jpeg(
        path,
        main.replace(
            "xmp:CreatorTool",
            f'xmpNote:HasExtendedXMP="{guid.decode()}" xmlns:xmpNote="http://ns.adobe.com/xmp/note/" xmp:CreatorTool',
            1,
        ),
    ).read_bytes()
    bounds = [*portions, len(extended)]
    segments = b""
    for start, stop in reversed(list(zip(bounds, bounds[1:], strict=False))):
        payload = (
            b"http://ns.adobe.com/xmp/extension/\x00"
            + guid
            + struct.pack(">II", len(extended), start)
            + extended[start:stop]
        )
        segments += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    at = raw.index(b"\xff\xda")  # before the image data
    path.write_bytes(raw[:at] + segments + raw[at:])
    return path


def test_jpeg_extended_xmp_is_put_together_and_read(tmp_path, cli):
    """The main packet points to Extended XMP (xmpNote:HasExtendedXMP) whose segments say
    trainedAlgorithmicMedia: it was skipped without an issue, and the asset passed beside a
    sidecar saying no GenAI. Its portions are put together by GUID and offset and read."""
    extended = xmp_packet(TRAINED).encode()
    path = _jpeg_extended(tmp_path / "gen.jpg", xmp_packet(None), extended, [0, 300])
    found = read_xmp(path)
    assert found["packets"] == ["APP1", "APP1 extended XMP"]
    assert (found["digital_source_type"], found["problems"]) == (TRAINED, [])
    path.with_name("gen.jpg.genai.yaml").write_text(
        "provenance: 1\ngenerated: false\nsource_type: digitalCapture\n"
    )
    done = cli("check", str(path), "--format", "json")
    (audited,) = done.json()["assets"]
    assert {f["rule"]: f["outcome"] for f in audited["findings"]}["PRV-04"] == "block"
    assert done.code == 1


def test_incomplete_jpeg_extended_xmp_is_an_unread_packet(tmp_path):
    """Extended XMP whose segments do not cover it (one lost) is an issue naming it, and the
    main packet's capture term is not "no GenAI": the missing part might say otherwise."""
    extended = xmp_packet(TRAINED).encode()
    path = _jpeg_extended(tmp_path / "plate.jpg", xmp_packet(CAPTURE), extended, [0, 300])
    raw = path.read_bytes()
    first = raw.index(b"http://ns.adobe.com/xmp/extension/") - 4  # the last portion's segment
    length = struct.unpack(">H", raw[first + 2 : first + 4])[0]
    path.write_bytes(raw[:first] + raw[first + 2 + length :])
    found = read_xmp(path)
    (problem,) = found["problems"]
    assert re.fullmatch(
        r"Extended XMP [0-9A-F]{32} is incomplete: its APP1 segments hold 300 of its \d+"
        r" bytes from the start",
        problem,
    )
    assert found["unread_packets"] == 1
    assert read(path).data == {"source_type": CAPTURE}


def test_jpeg_extended_xmp_the_main_packet_points_to_but_the_file_lacks_is_unread(tmp_path):
    """The main packet points to Extended XMP (xmpNote:HasExtendedXMP) whose segments a tool
    dropped: the rest of the packet might say GenAI, so it is an issue, and the main packet's
    capture term is not "no GenAI"."""
    extended = xmp_packet(TRAINED).encode()
    path = _jpeg_extended(tmp_path / "plate.jpg", xmp_packet(CAPTURE), extended, [0])
    raw = path.read_bytes()
    first = raw.index(b"http://ns.adobe.com/xmp/extension/") - 4
    length = struct.unpack(">H", raw[first + 2 : first + 4])[0]
    path.write_bytes(raw[:first] + raw[first + 2 + length :])
    found = read_xmp(path)
    (problem,) = found["problems"]
    assert re.fullmatch(
        r"the XMP packet points to Extended XMP [0-9A-F]{32} \(xmpNote:HasExtendedXMP\), which"
        r" is not in the file: the rest of the packet is not read",
        problem,
    )
    assert found["unread_packets"] == 1
    assert read(path).data == {"source_type": CAPTURE}
    # with its segments, the same packet is no issue
    path = _jpeg_extended(tmp_path / "whole.jpg", xmp_packet(CAPTURE), extended, [0])
    assert read_xmp(path)["problems"] == []


def test_a_malformed_second_packet_is_an_issue_naming_it(tmp_path):
    path = write_png(tmp_path / "bad.png", xmp_packet(CAPTURE))
    insert_png_chunk(path, b"iTXt", ITXT_XMP + b"<x:xmpmeta><unclosed>")
    record = read(path)
    assert record.data == {"source_type": CAPTURE}  # what packet 2 says is unknown, not "no"
    (issue,) = record.issues
    assert issue.message.startswith("XMP packet 2 (iTXt after IDAT) not well-formed")


@pytest.mark.parametrize(
    ("ctype", "data", "problem"),
    [
        # a compressed iTXt whose zlib stream is damaged: it could say anything
        ("iTXt", "damaged", "is damaged: its compressed text does not inflate"),
        # cut short: the stream ends before its end
        ("iTXt", "cut", "is damaged: its compressed text ends before its stream does"),
        ("zTXt", "damaged", "is damaged: its compressed text does not inflate"),
        # keyword NUL flag method and no language or translated keyword
        ("iTXt", "header", "corrupt XMP iTXt chunk"),
        ("zTXt", "header", "corrupt XMP zTXt chunk"),
    ],
)
def test_an_xmp_chunk_that_cannot_be_read_is_an_unread_packet(tmp_path, ctype, data, problem):
    """A second packet that says GenAI, in a chunk that cannot be read: the asset is not "no
    GenAI" on the first packet's word (the docs: false only if every packet could be read)."""
    path = write_png(tmp_path / "plate.png", xmp_packet(CAPTURE))
    stream = bytearray(zlib.compress(xmp_packet(TRAINED).encode()))
    if data == "damaged":
        stream[len(stream) // 2] ^= 0xFF
    elif data == "cut":
        del stream[len(stream) // 2 :]
    keyword = b"XML:com.adobe.xmp\x00"
    if data == "header":
        payload = keyword + (b"\x01\x00" if ctype == "iTXt" else b"")
    elif ctype == "iTXt":
        payload = keyword + b"\x01\x00\x00\x00" + bytes(stream)
    else:
        payload = keyword + b"\x00" + bytes(stream)
    insert_png_chunk(path, ctype.encode(), payload)
    found = read_xmp(path)
    assert found["unread_packets"] == 1
    (message,) = found["problems"]
    assert problem in message and "byte" in message, message
    record = read(path)
    assert record.data == {"source_type": CAPTURE}  # not generated: false
    assert [i.file for i in record.issues] == ["plate.png"]


def test_packets_beyond_the_bound_are_an_issue_not_read(tmp_path):
    path = write_png(tmp_path / "many.png", xmp_packet(CAPTURE))
    for _ in range(MAX_XMP_PACKETS + 3):
        insert_png_chunk(path, b"iTXt", ITXT_XMP + xmp_packet(CAPTURE).encode())
    found = read_xmp(path)
    assert len(found["packets"]) == MAX_XMP_PACKETS
    assert len(found["problems"]) == 1
    assert f"more than {MAX_XMP_PACKETS} XMP packets" in found["problems"][0]
    assert found["unread_packets"] == 4
    assert "generated" not in read(path).data  # the unread ones might say GenAI


def test_packets_together_are_bounded_by_the_packet_size_limit(tmp_path):
    path = write_png(tmp_path / "big.png", xmp_packet(CAPTURE))
    pad = " " * (MAX_XMP_BYTES // 2)
    for _ in range(2):
        insert_png_chunk(path, b"iTXt", ITXT_XMP + (xmp_packet(TRAINED) + pad).encode())
    found = read_xmp(path)
    assert len(found["packets"]) == 2
    assert len(found["problems"]) == 1 and "limit" in found["problems"][0]
    assert found["unread_packets"] == 1


# ------------------------------------------------------------------------- hostile input ----


def test_xml_bomb_in_png_is_an_issue_not_a_crash(tmp_path):
    path = write_png(tmp_path / "bomb.png", XML_BOMB)
    record = read(path)
    assert record.data == {}
    assert len(record.issues) == 1
    assert "refused" in record.issues[0].message
    assert record.issues[0].file == "bomb.png"


def _with_elements(packet: str, body: str) -> str:
    """``packet`` with ``body`` inside its rdf:Description, after the properties there."""
    return packet.replace("</rdf:Description>", body + "</rdf:Description>", 1)


def _tiff_with_xmp(path: Path, packet: str) -> Path:
    from PIL import Image, TiffImagePlugin

    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = packet.encode()
    info.tagtype[700] = 1
    Image.new("RGB", (8, 8)).save(path, tiffinfo=info)
    return path


def test_a_packet_of_millions_of_tiny_elements_stops_at_the_element_bound(tmp_path):
    """An 8 KB PNG whose compressed iTXt inflates to 8 MiB of empty elements (2 million)
    costs milliseconds and a few MB, not seconds and half a GB: the parse stops at the bound,
    keeps what it read before it, and the asset is unsure (the rest might say GenAI)."""
    import tracemalloc

    filler = "<a/>" * ((MAX_XMP_BYTES - 2048) // 4)
    path = write_png(
        tmp_path / "bomb.png", _with_elements(xmp_packet(CAPTURE), filler), compressed=True
    )
    assert path.stat().st_size < 64 * 1024
    tracemalloc.start()
    try:
        found = read_xmp(path)  # the walk, the inflate and the parse
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 48 * 1024 * 1024, peak  # the inflated packet and its copy; was 445 MB
    assert read_xmp(path) == found  # the parse again (the walk is remembered)
    assert found["digital_source_type"] == CAPTURE  # read before the bound
    assert found["unread_packets"] == 1
    (problem,) = found["problems"]
    assert problem.startswith("XMP packet (iTXt before IDAT) not read past the bound")
    assert f"more than {xmp.MAX_XMP_NODES} XML elements and attributes" in problem
    record = read(path)
    assert record.data == {"source_type": CAPTURE}  # not generated: false
    assert [i.file for i in record.issues] == ["bomb.png"]


def test_the_element_bound_reads_as_the_docs_quote_it(tmp_path):
    docs = Path(__file__).resolve().parents[1] / "docs" / "embedded-provenance.md"
    text = docs.read_text(encoding="utf-8")
    quoted = re.search(r'\("(XMP packet \(iTXt before IDAT\) not read past the bound[^"]*)"', text)
    assert quoted, "docs/embedded-provenance.md no longer quotes the element bound"
    assert f"at most **{xmp.MAX_XMP_NODES:,} XML elements and attributes**" in " ".join(
        text.split()
    )
    filler = "<a/>" * xmp.MAX_XMP_NODES
    path = write_png(tmp_path / "bomb.png", _with_elements(xmp_packet(CAPTURE), filler))
    (issue,) = read(path).issues
    assert issue.message == quoted[1]


def test_photoshop_document_ancestors_bloat_is_read_to_its_end(tmp_path):
    """Photoshop's DocumentAncestors bloat, as densely as it fits in MAX_XMP_BYTES (an entry
    of 57 bytes: about 147,000), is real XMP: it is read to its end without an issue, the
    DigitalSourceType after it included, in tens of milliseconds (was a third of a second)."""
    entry = "<rdf:li>xmp.did:{:032x}</rdf:li>"
    count = (MAX_XMP_BYTES - 2048) // len(entry.format(0))
    bloat = (
        '<photoshop:DocumentAncestors xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">'
        f"<rdf:Bag>{''.join(entry.format(i) for i in range(count))}</rdf:Bag>"
        f"</photoshop:DocumentAncestors><Iptc4xmpExt:DigitalSourceType>{TRAINED}"
        "</Iptc4xmpExt:DigitalSourceType>"
    )
    path = _tiff_with_xmp(tmp_path / "matte.tif", _with_elements(xmp_packet(None), bloat))
    assert count + 10 < xmp.MAX_XMP_NODES
    record = read(path)
    assert record.issues == []
    assert record.data == {"source_type": TRAINED, "generated": True}


def test_the_element_bound_is_on_all_packets_together(tmp_path):
    """Sixteen 64 KB APP1 packets of tiny elements (262,000 in all): the packet that passes
    the bound is read only in part and the later ones not at all; the last one, which says
    GenAI, is not read, so the capture packet's word is not "no GenAI" either."""
    per_packet = 16_000
    packets = [xmp_packet(CAPTURE), *[xmp_packet(None)] * 14, xmp_packet(TRAINED)]
    raw = write_jpeg(tmp_path / "still.jpg").read_bytes()
    segments = b""
    nodes, stopped = 0, 0  # the packet that passes the bound
    for number, packet in enumerate(packets, 1):
        text = _with_elements(packet, "<a/>" * per_packet)
        # x:xmpmeta, rdf:RDF and rdf:Description, the filler; the attributes by their "="
        nodes += 3 + per_packet + text.count("=")
        stopped = stopped or (number if nodes > xmp.MAX_XMP_NODES else 0)
        payload = b"http://ns.adobe.com/xap/1.0/\x00" + text.encode()
        segments += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    path = tmp_path / "still.jpg"
    path.write_bytes(raw[:2] + segments + raw[2:])
    found = read_xmp(path)
    assert len(found["packets"]) == 16
    assert stopped == 13
    assert found["unread_packets"] == 16 - stopped + 1
    (problem,) = found["problems"]
    assert problem.startswith(f"XMP packet {stopped} (APP1) not read past the bound")
    assert "all XMP packets together" in problem and "later packets" in problem
    assert read(path).data == {"source_type": CAPTURE}


def test_a_tag_of_a_million_attributes_is_not_parsed(tmp_path):
    """expat reads all of a tag's attributes before it reports the tag, and slows down on a
    tag of very many (a second for 8 MiB of them): they count first, by their "=" signs."""
    filler = "<a " + " ".join(f"b{i:x}=''" for i in range(MAX_XMP_BYTES // 10)) + "/>"
    path = write_png(
        tmp_path / "attrs.png", _with_elements(xmp_packet(CAPTURE), filler), compressed=True
    )
    found = read_xmp(path)
    (problem,) = found["problems"]
    assert problem.startswith("XMP packet (iTXt before IDAT) not read past the bound")
    assert found["unread_packets"] == 1
    assert read(path).data == {}


def test_parse_stops_at_max_nodes_keeping_what_it_read():
    packet = _with_elements(
        xmp_packet(CAPTURE), "<a/>" * 10 + f'<b Iptc4xmpExt:DigitalSourceType="{TRAINED}"/>'
    )
    assert "unread_rest" not in parse_xmp(packet)
    # x:xmpmeta, rdf:RDF, rdf:Description and 7 of the 10 <a/>; the attributes count first
    found = parse_xmp(packet, max_nodes=packet.count("=") + 10)
    assert found == {
        "digital_source_type": CAPTURE,
        "creator_tool": "Nuke 15.1",
        "unread_rest": True,
    }
    # more attributes ("=") than the bound: not parsed at all
    assert parse_xmp(packet, max_nodes=packet.count("=") - 1) == {"unread_rest": True}


def test_element_form_text_split_by_comments_and_references_is_one_value():
    value = f"{IPTC}trained<!-- a comment -->Algorithmic&#77;edia"
    body = (
        f"<Iptc4xmpExt:DigitalSourceType> {value} </Iptc4xmpExt:DigitalSourceType>"
        f"<plus:DataMining><rdf:Description rdf:value='x'>{DMI_PROHIBITED}</rdf:Description>"
        "</plus:DataMining>"
    )
    found = parse_xmp(_with_elements(xmp_packet(None), body))
    assert found["digital_source_type"] == TRAINED
    assert found["data_mining"] == DMI_PROHIBITED


def test_the_bomb_refusal_reads_as_the_docs_quote_it(tmp_path):
    docs = Path(__file__).resolve().parents[1] / "docs" / "embedded-provenance.md"
    quoted = re.search(r'\("(XMP packet … refused: [^"]*)"\)', docs.read_text(encoding="utf-8"))
    assert quoted, "docs/embedded-provenance.md no longer quotes the refusal"
    pattern = ".*".join(re.escape(piece) for piece in quoted[1].split("…"))
    (issue,) = read(write_png(tmp_path / "bomb.png", XML_BOMB)).issues
    assert re.fullmatch(pattern, issue.message), (quoted[1], issue.message)


def test_png_truncated_inside_pixel_data(tmp_path):
    path = write_png(tmp_path / "cut.png", xmp_packet(TRAINED), size=(256, 256))
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b"IDAT") + 40])
    record = read(path)
    assert record.data["generated"] is True  # what came before the damage is still read
    assert len(record.issues) == 1
    assert "truncated" in record.issues[0].message


def test_png_truncated_inside_the_xmp_chunk(tmp_path):
    path = write_png(tmp_path / "cut.png", xmp_packet(TRAINED))
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b"iTXt") + 30])
    record = read(path)
    assert record.data == {}
    assert "truncated" in record.issues[0].message


@pytest.mark.parametrize("keep", [0, 5, 8, 11, 20])
def test_tiny_truncations_never_raise(tmp_path, keep):
    png = write_png(tmp_path / "t.png", xmp_packet(TRAINED))
    jpg = write_jpeg(tmp_path / "t.jpg", xmp_packet(TRAINED))
    for path in (png, jpg):
        path.write_bytes(path.read_bytes()[:keep])
        record = read(path)
        assert record is None or all(
            "truncated" in i.message or "file the readers know" in i.message for i in record.issues
        )


def test_jpeg_truncated_inside_the_xmp_segment(tmp_path):
    path = write_jpeg(tmp_path / "cut.jpg", xmp_packet(TRAINED))
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b"http://ns.adobe.com/xap") + 50])
    record = read(path)
    assert "truncated" in record.issues[0].message


@pytest.mark.parametrize(
    ("filler", "what"),
    [
        (b"\xff", "fill bytes"),
        (b"\xff\xd0", "standalone markers"),
        (b"\xff\xfe\x00\x02", "markers"),
    ],
)
def test_a_jpeg_header_stuffed_with_filler_is_an_issue_found_at_header_cost(tmp_path, filler, what):
    """SOI, then megabytes of 0xFF fill bytes, RST markers or empty segments, then EOI: no
    encoder writes that. It costs a header read (not a step per byte), and is a corrupt header
    naming the file, never a clean file."""
    path = tmp_path / "hostile.jpg"
    path.write_bytes(b"\xff\xd8" + filler * (4 * 1024 * 1024 // len(filler)) + b"\xff\xd9")
    found = scan(path)
    assert len(found.problems) == 1 and what in found.problems[0]
    (issue,) = read(path).issues
    assert issue.file == "hostile.jpg" and issue.message.startswith("corrupt JPEG")


@pytest.mark.parametrize("big", [False, True])  # walked in memory / at offsets past 64 KiB
def test_jpeg_fill_bytes_and_standalone_markers_before_the_xmp_are_skipped(tmp_path, big):
    path = write_jpeg(tmp_path / "fill.jpg", xmp_packet(TRAINED))
    raw = path.read_bytes()
    padding = b"\xff\xfe" + struct.pack(">H", 65002) + bytes(65000) if big else b""
    path.write_bytes(raw[:2] + padding + b"\xff" * 300 + b"\xff\x01" * 3 + b"\xff\xff" + raw[2:])
    found = read_jpeg_xmp(path)
    assert found["problems"] == []
    assert found["digital_source_type"] == TRAINED


def test_corrupt_chunk_length_is_an_issue(tmp_path):
    path = write_png(tmp_path / "bad.png", xmp_packet(TRAINED))
    raw = bytearray(path.read_bytes())
    idat = raw.index(b"IDAT") - 4
    raw[idat : idat + 4] = struct.pack(">I", 0xFFFFFFF0)
    path.write_bytes(bytes(raw))
    record = read(path)
    assert record.data["generated"] is True
    assert "corrupt" in record.issues[0].message


def test_damaged_xmp_chunk_crc_is_reported(tmp_path):
    path = write_png(tmp_path / "crc.png", xmp_packet(TRAINED))
    raw = bytearray(path.read_bytes())
    pos = raw.index(b"CreatorTool") + 2
    raw[pos] ^= 0x20  # a letter's case: the XML still parses
    path.write_bytes(bytes(raw))
    record = read(path)
    assert record.data["generated"] is True
    assert any("CRC" in i.message for i in record.issues)


def test_decompression_bomb_in_itxt_is_refused(tmp_path):
    path = write_png(tmp_path / "zbomb.png")
    bomb = zlib.compress(b" " * (MAX_XMP_BYTES + 1024), 9)
    insert_png_chunk(path, b"iTXt", b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + bomb)
    record = read(path)
    assert record.data == {}
    assert "decompress" in record.issues[0].message


def test_a_file_named_as_a_kind_the_readers_know_but_that_is_not_one_is_an_issue(tmp_path):
    """Its name says the walkers read it, its first bytes say none can: what it embeds is not
    known, which was silently "nothing embedded" (container unknown, no issue)."""
    path = tmp_path / "fake.png"
    path.write_bytes(b"this is not a png at all")
    record = read(path)
    assert record.data == {}
    (issue,) = record.issues
    assert issue.message.startswith("not a PNG file the readers know")
    assert issue.file == "fake.png"


def test_pixel_data_is_never_decoded(tmp_path):
    # IDAT holding garbage (with a valid CRC) would fail any decoder; headers-only reading
    # does not notice it.
    path = write_png(tmp_path / "junk.png", xmp_packet(TRAINED), after_idat=True)
    raw = path.read_bytes()
    start = raw.index(b"IDAT") - 4
    length = struct.unpack(">I", raw[start : start + 4])[0]
    junk = bytes(length)
    chunk = raw[start : start + 8] + junk + struct.pack(">I", zlib.crc32(b"IDAT" + junk))
    path.write_bytes(raw[:start] + chunk + raw[start + 12 + length :])
    record = read(path)
    assert record.issues == []
    assert record.data["generated"] is True


def test_sequence_reads_its_first_frame_only(tmp_path):
    first = write_png(tmp_path / "sh010.1001.png", xmp_packet(TRAINED))
    second = tmp_path / "sh010.1002.png"
    second.write_bytes(b"\x89PNG\r\n\x1a\n broken")
    asset = Asset(
        path=first, rel="sh010.####.png", root=tmp_path, files=[first, second], frames="1001-1002"
    )
    record = xmp.clearance_read_provenance(asset=asset)
    assert record.data["generated"] is True
    assert record.issues == []


def test_other_formats_are_left_to_other_readers(tmp_path):
    path = tmp_path / "a.exr"
    path.write_bytes(b"\x76\x2f\x31\x01")
    assert read(path) is None


def test_unreadable_file_is_an_issue(tmp_path):
    path = tmp_path / "gone.png"
    found = read_xmp(path)
    assert found["problems"] and "cannot read" in found["problems"][0]


# ---------------------------------------------------------- finding chunks after the pixels ----


def noisy_png(path: Path, size=(256, 256)) -> Path:
    from PIL import Image

    Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(path)
    return path


def test_many_small_idat_chunks_then_xmp(tmp_path):
    path = noisy_png(tmp_path / "libpng.png")
    rechunk_idat(path, 1024)
    insert_png_chunk(
        path, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet().encode()
    )
    assert png_chunk_types(path).count("IDAT") > 100
    found = read_png_xmp(path)
    assert found["where"] == "iTXt after IDAT"
    assert found["digital_source_type"] == TRAINED
    assert found["problems"] == []


def test_trailing_chunks_larger_than_the_tail_window(tmp_path):
    path = noisy_png(tmp_path / "big_tail.png")
    insert_png_chunk(
        path, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet().encode()
    )
    insert_png_chunk(path, b"tEXt", b"workflow\x00" + b"{}" * 400_000)  # 800 KB after the XMP
    found = read_png_xmp(path)
    assert found["digital_source_type"] == TRAINED
    assert "workflow" in scan(path).text_keys


def test_the_word_idat_in_trailing_text_does_not_mislead(tmp_path):
    path = noisy_png(tmp_path / "stray.png")
    insert_png_chunk(
        path, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet().encode()
    )
    insert_png_chunk(path, b"tEXt", b"Comment\x00" + b"\x00\x00\x00\x05IDAT" * 50)
    found = read_png_xmp(path)
    assert found["digital_source_type"] == TRAINED
    assert found["problems"] == []


def test_bytes_after_iend_fall_back_to_walking(tmp_path):
    path = write_png(tmp_path / "trail.png", xmp_packet(TRAINED), after_idat=True)
    path.write_bytes(path.read_bytes() + b"junk appended by a broken copy")
    assert read_png_xmp(path)["digital_source_type"] == TRAINED


# ------------------------------------------------------------------------- audio / video ----


def test_wav_xmp_chunk(tmp_path):
    record = read(write_wav(tmp_path / "vo_temp.wav", xmp_packet(TRAINED)))
    assert record.data["generated"] is True
    assert record.evidence["location"] == "_PMX chunk"
    assert read(write_wav(tmp_path / "plain.wav")) is None


@pytest.mark.parametrize(("quicktime", "where"), [(False, "uuid box"), (True, "moov/udta/XMP_")])
def test_mp4_and_quicktime_xmp(tmp_path, quicktime, where):
    name = "clip.mov" if quicktime else "clip.mp4"
    record = read(write_mp4(tmp_path / name, xmp_packet(TRAINED), quicktime=quicktime))
    assert record.data["generated"] is True
    assert record.evidence["location"] == where
    assert read(write_mp4(tmp_path / f"plain_{name}")) is None


def test_truncated_mp4_and_wav_are_issues(tmp_path):
    mp4 = write_mp4(tmp_path / "cut.mp4", xmp_packet(TRAINED))
    mp4.write_bytes(mp4.read_bytes()[:-100])  # inside mdat
    record = read(mp4)
    assert record.data["generated"] is True
    assert "truncated" in record.issues[0].message
    wav = write_wav(tmp_path / "cut.wav", xmp_packet(TRAINED))
    wav.write_bytes(wav.read_bytes()[:60])
    assert "truncated" in read(wav).issues[0].message


def _riff_file(path: Path) -> tuple[bytes, int]:
    """A real WAV (``wave``) or WebP (Pillow) with a GenAI packet in its last chunk, and
    where that chunk starts."""
    if path.suffix == ".wav":
        raw = write_wav(path, xmp_packet(TRAINED)).read_bytes()
        return raw, raw.index(b"_PMX")
    from PIL import Image

    Image.new("RGB", (8, 8)).save(path, xmp=xmp_packet(TRAINED).encode())
    raw = path.read_bytes()
    return raw, raw.index(b"XMP ")


@pytest.mark.parametrize("name", ["vo.wav", "plate.webp"])
@pytest.mark.parametrize("written", ["zero", "appended"])
def test_a_riff_size_that_ends_early_is_walked_to_the_end_and_is_an_issue(tmp_path, name, written):
    """A RIFF size of 0 (a recorder that has not finalized the file) or one written before
    the XMP chunk was appended: the chunks really in the file are read to its end, and the
    header that disagrees with them is an issue (the asset unsure), never a silent pass."""
    path = tmp_path / name
    raw, last = _riff_file(path)
    declared = 0 if written == "zero" else last - 8
    path.write_bytes(raw[:4] + struct.pack("<I", declared) + raw[8:])
    record = read(path)
    assert record.data["generated"] is True
    [issue] = record.issues
    assert issue.file == name
    assert issue.message.startswith(
        f"corrupt RIFF header: it declares {declared + 8} bytes, the file has {len(raw)}"
    )


def _rf64(kind: bytes, xmp: str, riff_size: int | None = None) -> bytes:
    """An RF64 or BW64 WAV (a stdlib ``wave`` file's chunks): its 32-bit sizes say
    0xFFFFFFFF, the ds64 chunk the real ones, and a _PMX chunk after the data."""

    def chunk(fourcc: bytes, data: bytes, size: int | None = None) -> bytes:
        length = struct.pack("<I", len(data) if size is None else size)
        return fourcc + length + data + (b"\x00" if len(data) & 1 else b"")

    fmt = struct.pack("<HHIIHH", 1, 1, 8000, 16000, 2, 16)
    samples = b"\x01\x02" * 800
    rest = chunk(b"fmt ", fmt) + chunk(b"data", samples, 0xFFFFFFFF) + chunk(b"_PMX", xmp.encode())
    ds64 = chunk(b"ds64", bytes(28))
    total = 4 + len(ds64) + len(rest)
    ds64 = chunk(
        b"ds64", struct.pack("<QQQI", total if riff_size is None else riff_size, 1600, 800, 0)
    )
    return kind + b"\xff\xff\xff\xff" + b"WAVE" + ds64 + rest


@pytest.mark.parametrize("kind", [b"RF64", b"BW64"])
def test_rf64_and_bw64_wavs_are_read(tmp_path, kind):
    """A WAV past 4 GiB (EBU Tech 3306 RF64, ITU-R BS.2088 BW64: what field recorders write)
    was "unknown", its _PMX packet saying GenAI ignored, and it passed beside a sidecar saying
    no GenAI. Its chunks are walked with the 64-bit sizes of its ds64 chunk."""
    path = tmp_path / "take.wav"
    path.write_bytes(_rf64(kind, xmp_packet(TRAINED)))
    found = read_xmp(path)
    assert (found["container"], found["problems"]) == ("wav", [])
    assert (found["where"], found["digital_source_type"]) == ("_PMX chunk", TRAINED)
    # a recorder that has not finalized the file: its ds64 size is 0
    path.write_bytes(_rf64(kind, xmp_packet(TRAINED), riff_size=0))
    (problem,) = read_xmp(path)["problems"]
    assert problem.startswith(f"corrupt {kind.decode()} header: it declares 8 bytes")
    # no ds64 chunk: the sizes are unknown, and so is the rest of the file
    path.write_bytes(kind + b"\xff\xff\xff\xffWAVE" + _rf64(kind, xmp_packet(TRAINED))[48:])
    found = read_xmp(path)
    assert found["problems"][0].startswith(f"corrupt {kind.decode()} header: no complete ds64")
    assert found["unread_rest"] is True


def test_a_riff_size_that_leaves_out_a_pad_byte_is_no_issue(tmp_path):
    """Fewer than 8 bytes past the declared size hold no chunk: nothing to read, no issue."""
    path = tmp_path / "vo.wav"
    raw, _ = _riff_file(path)
    path.write_bytes(raw + b"\x00")
    record = read(path)
    assert (record.data["generated"], record.issues) == (True, [])


def test_a_size_zero_box_before_the_moov_is_unsure(tmp_path):
    """A box of size 0 runs to the end of the file, so it may only be the last one: an mdat
    so (a recording not finalized, or recovered) before the moov hides the moov and its
    metadata. The rest is not read, and the asset is unsure: an issue, and no "no GenAI"
    from what was read before it."""
    path = write_mp4(tmp_path / "clip.mov", xmp_packet(TRAINED), quicktime=True)
    raw = path.read_bytes()
    ftyp_end, mdat = struct.unpack(">I", raw[:4])[0], raw.index(b"mdat") - 4
    moov = raw[ftyp_end:mdat]
    path.write_bytes(raw[:ftyp_end] + struct.pack(">I", 0) + raw[mdat + 4 :] + moov)
    found = read_xmp(path)
    assert found["unread_rest"] is True and "digital_source_type" not in found
    [problem] = found["problems"]
    assert problem.startswith(f"'mdat' box at byte {ftyp_end} has size 0")
    assert problem.endswith("the rest of the file is not read")
    [issue] = read(path).issues
    assert issue.file == "clip.mov"


def test_a_size_zero_box_after_the_moov_is_read_as_the_last_box(tmp_path):
    """The same mdat of size 0 as the last box, after the moov (its metadata read): legal."""
    path = write_mp4(tmp_path / "clip.mov", xmp_packet(TRAINED), quicktime=True)
    raw = path.read_bytes()
    mdat = raw.index(b"mdat") - 4
    path.write_bytes(raw[:mdat] + struct.pack(">I", 0) + raw[mdat + 4 :])
    record = read(path)
    assert (record.data["generated"], record.issues) == (True, [])


def test_a_size_zero_box_inside_the_moov_is_unsure(tmp_path, cli):
    """A box of size 0 inside the moov (only the last box of the file may have one) swallowed
    the rest of the moov, its udta/XMP_ saying GenAI included: no issue, and the asset passed
    beside a sidecar saying no GenAI. The rest of the moov is not read, and that is an issue;
    the boxes after the moov are still read."""
    packet = xmp_packet(TRAINED).encode()
    ftyp = bmff_box(b"ftyp", b"isom\x00\x00\x02\x00isommp41")
    moov = bmff_box(
        b"moov",
        bmff_box(b"mvhd", bytes(100))
        + struct.pack(">I", 0)
        + b"free"
        + bmff_box(b"udta", bmff_box(b"XMP_", packet)),
    )
    path = tmp_path / "clip.mp4"
    path.write_bytes(ftyp + moov + bmff_box(b"mdat", bytes(4096)))
    found = read_xmp(path)
    assert found["unread_rest"] is True and "digital_source_type" not in found
    [problem] = found["problems"]
    assert problem.startswith(f"'free' box at byte {len(ftyp) + 8 + 108} in moov has size 0")
    assert problem.endswith("the rest of moov is not read")
    path.with_name("clip.mp4.genai.yaml").write_text(
        "provenance: 1\ngenerated: false\nsource_type: digitalCapture\n"
    )
    done = cli("check", str(path), "--format", "json")
    (audited,) = done.json()["assets"]
    assert [f["rule"] for f in audited["findings"]] == ["PRV-02"]
    assert (done.code, audited["outcome"]) == (1, "escalate")
    # after the moov, a top-level box is still read
    path.write_bytes(ftyp + moov + bmff_box(b"uuid", XMP_UUID + packet))
    assert read_xmp(path)["digital_source_type"] == TRAINED


# -------------------------------------------------------------------------------- fuzzing ----


def test_mutated_files_never_raise(tmp_path):
    """Seeded byte flips, truncations and insertions over every container: a reader returns a
    record or None, and never raises (a crash would be a PRV-05 instead of an issue)."""
    import random

    from PIL import Image, TiffImagePlugin

    from clearance.provenance import c2pa

    packet = xmp_packet(TRAINED, DMI_PROHIBITED)
    image = Image.new("RGB", (16, 8))
    info = TiffImagePlugin.ImageFileDirectory_v2()
    info[700] = packet.encode()
    info.tagtype[700] = 1
    image.save(tmp_path / "s.tif", tiffinfo=info)
    image.save(tmp_path / "s.webp", xmp=packet.encode())
    seeds = [
        write_png(tmp_path / "s.png", packet, after_idat=True),
        write_png(tmp_path / "z.png", packet, compressed=True),
        write_jpeg(tmp_path / "s.jpg", packet),
        write_wav(tmp_path / "s.wav", packet),
        write_mp4(tmp_path / "s.mp4", packet),
        write_mp4(tmp_path / "s.mov", packet, quicktime=True),
        tmp_path / "s.tif",
        tmp_path / "s.webp",
    ]
    rng = random.Random(5)
    target = tmp_path / "fuzz"
    for seed in seeds:
        original = seed.read_bytes()
        path = target.with_suffix(seed.suffix)
        for _ in range(60):
            data = bytearray(original)
            for _ in range(rng.randint(1, 4)):
                pos = rng.randrange(len(data))
                action = rng.random()
                if action < 0.6:
                    data[pos] = rng.randrange(256)
                elif action < 0.8:
                    del data[pos:]
                    if not data:
                        break
                else:
                    data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
            path.write_bytes(bytes(data))
            asset = asset_for(path)
            xmp.clearance_read_provenance(asset=asset)
            c2pa.find_manifest(path)


@pytest.mark.parametrize("size", [(8, 8), (256, 256)])  # read whole (< 64 KiB) / by offsets
def test_small_and_big_files_are_walked_alike(tmp_path, size):
    """A small file is read in one go and walked in memory, a big one read at offsets past
    its first 64 KiB: both find the same blocks, and report the same truncation."""
    path = noisy_png(tmp_path / "frame.png", size)
    insert_png_chunk(
        path, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet().encode()
    )
    raw = path.read_bytes()
    assert (len(raw) < 65536) == (size == (8, 8))
    found = read_png_xmp(path)
    assert (found["where"], found["digital_source_type"]) == ("iTXt after IDAT", TRAINED)
    cut = tmp_path / "cut.png"
    cut.write_bytes(raw[: len(raw) - 200])
    problems = scan(cut).problems
    assert len(problems) == 1 and problems[0].startswith("truncated: ")
