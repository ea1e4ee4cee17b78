"""The EXR reader on headers written as bytes in the test (single-part and multi-part)."""

from __future__ import annotations

import base64
import struct
from pathlib import Path

import pytest

from _embedded import TRAINED, exr_attr, write_exr
from clearance.model import Asset
from clearance.provenance import exr
from clearance.provenance._exrheader import ExrOpaque
from clearance.provenance.exr import read_exr_header

GENAI = {
    "genai:generated": "true",
    "genai:source_type": TRAINED,
    "genai:tool": "acme-diffusion",
    "genai:tool_version": "2.1",
    "genai:model": "acme-sdxl-show01",
    "genai:production": "SHOW01",
    "genai:shot": "sh010",
    "genai:use": "final",
    "genai:on_screen": "background",
    "genai:depicts_real": "no",
    "genai:approvals": ["APR-0031", "APR-0040"],
    "software": "Nuke 15.1v3",
    "comments": "sky replaced with generated matte",
}


def read(path: Path):
    return exr.clearance_read_provenance(
        asset=Asset(path=path, rel=path.name, root=path.parent, files=[path])
    )


def test_header_parser_decodes_standard_and_custom_attributes(tmp_path):
    path = write_exr(tmp_path / "a.exr", {"genai:seed": 42, "genai:score": 0.5, **GENAI})
    header = read_exr_header(path)
    assert header["problems"] == []
    assert header["version"] == 2
    assert header["multipart"] is False
    (part,) = header["parts"]
    assert part["compression"] == "none"
    assert part["dataWindow"] == (0, 0, 3, 1)
    assert part["genai:seed"] == 42
    assert part["genai:score"] == 0.5
    assert part["genai:approvals"] == ["APR-0031", "APR-0040"]
    assert isinstance(part["channels"], ExrOpaque)  # chlist is not decoded, only sized


def test_header_parser_says_where_the_headers_end(tmp_path):
    """``header_end``: where the offset tables begin (the watcher's completeness check reads
    them from there), past a multi-part file's empty header; None, with ``truncated``, when
    the file ends inside its headers. A tile description is decoded with both its modes."""
    tiles = ("tiledesc", struct.pack("<IIB", 32, 16, 0x12))  # ripmap, rounding up
    single = write_exr(tmp_path / "s.exr", {"tiles": tiles}, pixel_bytes=64)
    data = single.read_bytes()
    header = read_exr_header(single)
    assert header["parts"][0]["tiles"] == (32, 16, 2, 1)
    end = header["header_end"]
    assert data[end - 1] == 0 and end == len(data) - 64  # write_exr: header, then filler
    multi = write_exr(tmp_path / "m.exr", parts=[GENAI, {"genai:use": "temp"}], pixel_bytes=0)
    data = multi.read_bytes()
    header = read_exr_header(multi)
    assert data[header["header_end"] - 2 : header["header_end"]] == b"\x00\x00"
    assert header["truncated"] is False
    for cut in (3, 40, header["header_end"] - 1):
        (tmp_path / "cut.exr").write_bytes(data[:cut])
        cut_header = read_exr_header(tmp_path / "cut.exr")
        assert cut_header["header_end"] is None and cut_header["truncated"] is True, cut


def test_reader_maps_genai_attributes_to_format1_fields(tmp_path):
    record = read(write_exr(tmp_path / "sh010_bg.exr", GENAI))
    assert record.source == "exr"
    assert record.file == "sh010_bg.exr"
    assert record.issues == []
    assert record.data == {
        "generated": True,
        "source_type": TRAINED,
        "steps": [
            {"tool": "acme-diffusion", "tool_version": "2.1", "model": {"id": "acme-sdxl-show01"}}
        ],
        "production": "SHOW01",
        "shot": "sh010",
        "output": {"use": "final", "on_screen": "background", "depicts_real": False},
        "approvals": ["APR-0031", "APR-0040"],
    }
    assert record.evidence["software"] == "Nuke 15.1v3"
    assert record.evidence["comments"] == "sky replaced with generated matte"
    assert record.evidence["attributes"]["genai:tool"] == "acme-diffusion"


def test_generated_follows_source_type_when_not_written(tmp_path):
    record = read(write_exr(tmp_path / "a.exr", {"genai:sourceType": TRAINED}))
    assert record.data == {"source_type": TRAINED, "generated": True}


def test_explicit_false_and_int_flag(tmp_path):
    assert read(write_exr(tmp_path / "a.exr", {"genai:generated": "false"})).data == {
        "generated": False
    }
    assert read(write_exr(tmp_path / "b.exr", {"genai:generated": 1})).data == {"generated": True}


def test_unparseable_values_are_issues_not_guesses(tmp_path):
    record = read(
        write_exr(
            tmp_path / "a.exr", {"genai:generated": "maybe", "genai:use": 3, "genai:misc": "x"}
        )
    )
    assert record.data == {}
    assert {i.field for i in record.issues} == {"genai:generated", "genai:use"}
    assert record.evidence["unmapped"] == ["genai:misc"]


def test_no_genai_attributes_is_nothing(tmp_path):
    assert read(write_exr(tmp_path / "plain.exr", {"software": "Nuke"})) is None


def test_multipart_reads_every_part(tmp_path):
    path = write_exr(
        tmp_path / "mp.exr",
        parts=[{"software": "Houdini"}, {"genai:generated": "true", "genai:use": "temp"}],
    )
    header = read_exr_header(path)
    assert header["multipart"] is True
    assert [p["name"] for p in header["parts"]] == ["part0", "part1"]
    record = read(path)
    assert record.data == {"generated": True, "output": {"use": "temp"}}
    assert record.evidence["parts"] == 2
    assert record.evidence["software"] == "Houdini"


def test_multipart_disagreement_is_an_issue_and_genai_in_any_part_wins(tmp_path):
    path = write_exr(
        tmp_path / "mp.exr", parts=[{"genai:generated": "false"}, {"genai:generated": "true"}]
    )
    record = read(path)
    assert record.data["generated"] is True  # the GenAI layer is in the file...
    assert record.evidence["genai_parts"] == [1]
    assert [i.field for i in record.issues] == ["genai:generated"]  # ...and the parts disagree
    assert "parts disagree" in record.issues[0].message


def test_a_genai_source_type_in_a_later_part_is_the_file_s(tmp_path):
    path = write_exr(
        tmp_path / "mp.exr",
        parts=[
            {"genai:source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"},
            {"genai:source_type": TRAINED},
        ],
    )
    record = read(path)
    assert record.data == {"generated": True, "source_type": TRAINED}
    assert [i.field for i in record.issues] == ["genai:source_type"]


def test_a_single_part_contradicting_itself_is_left_to_iptc02(tmp_path):
    path = write_exr(tmp_path / "s.exr", {"genai:generated": "false", "genai:source_type": TRAINED})
    assert read(path).data == {"generated": False, "source_type": TRAINED}


def test_other_fields_still_come_from_the_first_part_that_sets_them(tmp_path):
    path = write_exr(
        tmp_path / "mp.exr",
        parts=[{"genai:use": "temp"}, {"genai:generated": "true", "genai:use": "final"}],
    )
    assert read(path).data == {"generated": True, "output": {"use": "temp"}}


def test_multipart_genai_layer_against_a_sidecar_saying_false_blocks(tmp_path):
    from clearance.engine import Session
    from clearance.model import Asset, Outcome
    from clearance.policy import default_policy

    path = write_exr(
        tmp_path / "sh010_comp_v004.exr",
        parts=[{"genai:generated": "false"}, {"genai:generated": "true"}],
    )
    sidecar = tmp_path / "sh010_comp_v004.exr.genai.yaml"
    sidecar.write_text("provenance: 1\nasset: sh010_comp_v004.exr\ngenerated: false\n")
    asset = Asset(path=path, rel=path.name, root=tmp_path, files=[path], sidecar=sidecar)
    result = Session(default_policy(tmp_path), write_log=False).audit(asset)
    rules = {f.rule: f for f in result.findings}
    assert rules["PRV-04"].effective_outcome is Outcome.BLOCK
    assert "PRV-02" in rules  # the parts' disagreement is still reported


def test_large_attribute_is_skipped_not_read(tmp_path):
    blob = ("preview", b"\x00" * (2 * 1024 * 1024))
    path = write_exr(tmp_path / "big.exr", {"preview": blob, "genai:generated": "true"})
    header = read_exr_header(path)
    assert header["parts"][0]["preview"] == ExrOpaque("preview", 2 * 1024 * 1024)
    assert read(path).data == {"generated": True}


def test_truncated_header_keeps_what_came_before(tmp_path):
    path = write_exr(
        tmp_path / "cut.exr", {"genai:generated": "true", "genai:use": "final"}, pixel_bytes=0
    )
    raw = path.read_bytes()
    path.write_bytes(raw[: raw.index(b"genai:use") + 12])
    record = read(path)
    assert record.data == {"generated": True}
    assert len(record.issues) == 1
    assert "truncated" in record.issues[0].message


@pytest.mark.parametrize("keep", [0, 3, 8, 9, 40])
def test_tiny_truncations_never_raise(tmp_path, keep):
    path = write_exr(tmp_path / "t.exr", GENAI)
    path.write_bytes(path.read_bytes()[:keep])
    record = read(path)
    assert record.data == {}
    assert any("truncated" in i.message for i in record.issues)


def test_bad_magic_is_an_issue(tmp_path):
    path = tmp_path / "fake.exr"
    path.write_bytes(b"not an exr file, honestly")
    record = read(path)
    assert "not an OpenEXR file" in record.issues[0].message


def test_unknown_format_version_is_reported(tmp_path):
    path = write_exr(tmp_path / "v3.exr", {"genai:generated": "true"})
    raw = bytearray(path.read_bytes())
    raw[4] = 3
    path.write_bytes(bytes(raw))
    record = read(path)
    assert record.data == {"generated": True}
    assert "format version 3" in record.issues[0].message


def test_corrupt_name_and_negative_size_are_issues(tmp_path):
    head = b"\x76\x2f\x31\x01" + struct.pack("<I", 2)
    long_name = tmp_path / "name.exr"
    long_name.write_bytes(head + b"x" * 5000)
    assert "longer than" in read(long_name).issues[0].message
    negative = tmp_path / "neg.exr"
    negative.write_bytes(head + b"genai:use\x00string\x00" + struct.pack("<i", -5) + b"\x00" * 64)
    assert "negative size" in read(negative).issues[0].message


# --------------------------------------------------------------------- hostile headers ----

_MAGIC = b"\x76\x2f\x31\x01"


def _multipart(parts: list[bytes]) -> bytes:
    """A multi-part header list: each part's attributes, its NUL, and the empty header."""
    return _MAGIC + struct.pack("<I", 2 | 0x1000) + b"".join(p + b"\x00" for p in parts) + b"\x00"


def _ints(count: int, prefix: str = "a") -> bytes:
    return b"".join(exr_attr(f"{prefix}{i}", "int", i) for i in range(count))


def test_a_header_of_a_million_attributes_stops_at_the_bound_and_is_unsure(tmp_path, cli):
    """OpenEXR bounds neither the attributes of a header nor its parts: 300 parts of 4,000
    tiny attributes each (21 MB of header) took 1.6 s to read and 0.65 s to check for
    completeness. The parser stops after 65,536 attributes in all; the reader's answer is an
    issue naming the file and where the bound was hit, so the asset is unsure (PRV-02,
    escalate), never a pass."""
    path = tmp_path / "hostile.exr"
    path.write_bytes(_multipart([_ints(4000)] * 300))
    header = read_exr_header(path)
    assert sum(len(part) for part in header["parts"]) == 65536  # 16 parts and 1,536 attributes
    assert len(header["parts"]) == 17 and header["header_end"] is None
    assert header["problems"] == [
        "header too large: more than 65536 attributes in all parts (the next is 'a1536' in "
        "part 16); the rest was not read"
    ]
    assert not header["truncated"]  # no writer finishes such a file: it is not unfinished
    (issue,) = read(path).issues
    assert (issue.file, issue.field) == ("hostile.exr", "exr")
    assert issue.message.startswith("header too large")
    done = cli("check", str(path), "--format", "json")
    assert done.code == 1, done.stderr
    (asset,) = done.json()["assets"]
    (finding,) = [f for f in asset["findings"] if f["rule"] == "PRV-02"]
    assert finding["outcome"] == "escalate"
    assert "hostile.exr: exr: header too large" in finding["message"]


def test_the_bounds_of_one_header_of_the_parts_and_of_the_values(tmp_path):
    """4,096 attributes in one header and 4,096 parts are read; one more of either is not,
    and neither is a 17th MiB of values to decode (larger values are skipped unread)."""
    path = tmp_path / "b.exr"
    head = _MAGIC + struct.pack("<I", 2)
    path.write_bytes(head + _ints(4096) + b"\x00")
    assert read_exr_header(path)["problems"] == []
    path.write_bytes(head + _ints(4097) + b"\x00")
    assert read_exr_header(path)["problems"] == [
        "header too large: part 0 has more than 4096 attributes (the next is 'a4096'); "
        "the rest was not read"
    ]
    path.write_bytes(_multipart([_ints(1)] * 4096))
    header = read_exr_header(path)
    assert header["problems"] == [] and len(header["parts"]) == 4096
    path.write_bytes(_multipart([_ints(1)] * 4097))
    assert read_exr_header(path)["problems"] == [
        "header too large: more than 4096 parts; the rest was not read"
    ]
    mib = b"x" * (1024 * 1024)
    path.write_bytes(
        head + b"".join(exr_attr(f"big{i}", "string", mib) for i in range(17)) + b"\x00"
    )
    header = read_exr_header(path)
    assert header["problems"] == [
        "header too large: more than 16 MiB of attribute values in all parts (at 'big16' in "
        "part 0); the rest was not read"
    ]
    assert len(header["parts"][0]) == 16


def _vectors(*counts: int, malformed: bool = False) -> bytes:
    """Attributes ``sv0``, ``sv1``… of type stringvector: ``counts`` empty strings each (and
    then a string that runs past the value, if ``malformed``)."""
    bad = struct.pack("<i", 99) if malformed else b""
    return b"".join(
        exr_attr(f"sv{i}", "stringvector", struct.pack("<i", 0) * n + bad)
        for i, n in enumerate(counts)
    )


def test_stringvectors_are_bounded_in_strings_as_well_as_in_bytes(tmp_path):
    """A 1 MiB stringvector of empty strings is 262,144 strings: nine of them (a 9.4 MB
    header, inside the 16 MiB of values) took 0.8 s to decode, with no problem reported. The
    strings of every stringvector together are bounded: 65,536 are read, one more is an
    issue naming the attribute (the rest not read, the asset unsure), found within the
    header cost the docs give."""

    path = tmp_path / "sv.exr"
    head = _MAGIC + struct.pack("<I", 2)
    path.write_bytes(head + _vectors(65535, 1) + b"\x00")
    header = read_exr_header(path)
    assert header["problems"] == [] and header["parts"][0]["sv1"] == [""]
    path.write_bytes(head + _vectors(65535, 2) + b"\x00")
    assert read_exr_header(path)["problems"] == [
        "header too large: more than 65536 strings in stringvector values in all parts "
        "(at 'sv1' in part 0); the rest was not read"
    ]
    path.write_bytes(head + _vectors(*[262144] * 9) + b"\x00")
    header = read_exr_header(path)
    assert header["problems"] == [
        "header too large: more than 65536 strings in stringvector values in all parts "
        "(at 'sv0' in part 0); the rest was not read"
    ]
    (issue,) = read(path).issues
    assert (issue.file, issue.field) == ("sv.exr", "exr")
    # a malformed one, opaque, counts as many strings as it may hold: the bound holds too
    path.write_bytes(head + _vectors(*[60000] * 20, malformed=True) + b"\x00")
    assert read_exr_header(path)["problems"] == [
        "header too large: more than 65536 strings in stringvector values in all parts "
        "(at 'sv1' in part 0); the rest was not read"
    ]


def test_thousands_of_parts_that_disagree_make_a_bounded_answer(tmp_path):
    """1,500 parts whose 40 ``genai:*`` attributes each differ: merging them took 0.4 s (each
    value was looked for in the list of those seen). The values are now kept by key, and the
    issues list the first 8 values of the first 32 attributes, then say how many more."""
    path = tmp_path / "parts.exr"
    parts = [
        b"".join(exr_attr(f"genai:k{j}", "string", f"v{i}") for j in range(40)) for i in range(1500)
    ]
    path.write_bytes(_multipart(parts))
    record = read(path)
    assert len(record.issues) == 33
    first = record.issues[0]
    assert first.field == "genai:k0"
    assert first.message == (
        "parts disagree: ['v0', 'v1', 'v2', 'v3', 'v4', 'v5', 'v6', 'v7'] and 1492 more"
    )
    assert record.issues[-1].message == "parts disagree on 8 more genai:* attributes"


def test_garbage_inside_a_typed_value_is_opaque_not_a_crash(tmp_path):
    path = tmp_path / "odd.exr"
    bad_vector = exr_attr("genai:approvals", "stringvector", b"\xff\xff\xff\x7fabc")
    path.write_bytes(b"\x76\x2f\x31\x01" + struct.pack("<I", 2) + bad_vector + b"\x00")
    record = read(path)
    assert record.issues[0].field == "genai:approvals"


def test_sequence_reads_its_first_frame_only(tmp_path):
    first = write_exr(tmp_path / "sh010.1001.exr", {"genai:generated": "true"})
    second = tmp_path / "sh010.1002.exr"
    second.write_bytes(b"broken")
    asset = Asset(
        path=first, rel="sh010.####.exr", root=tmp_path, files=[first, second], frames="1001-1002"
    )
    record = exr.clearance_read_provenance(asset=asset)
    assert record.data == {"generated": True}
    assert record.issues == []


def test_other_formats_are_left_to_other_readers(tmp_path):
    path = tmp_path / "a.png"
    path.write_bytes(b"\x89PNG")
    assert read(path) is None


# The header of CPython's imghdr test file ``python.exr``, written by the OpenEXR library
# itself: a cross-check that the parser reads real headers, not only the ones written above.
OPENEXR_HEADER = base64.b64decode(
    "di8xAQIAAABjaGFubmVscwBjaGxpc3QASQAAAEEAAQAAAAAAAAABAAAAAQAAAEIAAQAAAAAAAAABAAAAAQAAAEcAAQAAAAAA"
    "AAABAAAAAQAAAFIAAQAAAAAAAAABAAAAAQAAAABjb21wcmVzc2lvbgBjb21wcmVzc2lvbgABAAAAAGRhdGFXaW5kb3cAYm94"
    "MmkAEAAAAAAAAAAAAAAADwAAAA8AAABkaXNwbGF5V2luZG93AGJveDJpABAAAAAAAAAAAAAAAA8AAAAPAAAAbGluZU9yZGVy"
    "AGxpbmVPcmRlcgABAAAAAHBpeGVsQXNwZWN0UmF0aW8AZmxvYXQABAAAAAAAgD9zY3JlZW5XaW5kb3dDZW50ZXIAdjJmAAgA"
    "AAAAAAAAAAAAAHNjcmVlbldpbmRvd1dpZHRoAGZsb2F0AAQAAAAAAIA/AA=="
)


def test_header_written_by_openexr_itself(tmp_path):
    path = tmp_path / "python.exr"
    genai = exr_attr("genai:generated", "string", "true")
    path.write_bytes(OPENEXR_HEADER[:-1] + genai + b"\x00" + bytes(2304))
    header = read_exr_header(path)
    assert header["problems"] == []
    (part,) = header["parts"]
    assert part["dataWindow"] == (0, 0, 15, 15)
    assert part["lineOrder"] == "increasing_y"
    assert part["pixelAspectRatio"] == 1.0
    assert read(path).data == {"generated": True}


def _mutant(
    original: bytes, rng, *, edits: int, within: int | None = None, sizes: bool = False
) -> bytes:
    """``original`` with 1 to ``edits`` seeded edits: byte flips, with ``sizes`` an int32 made
    huge or negative, and a truncation (which ends the edits); ``within``: only in the first
    bytes."""
    data = bytearray(original)
    for _ in range(rng.randint(1, edits)):
        pos = rng.randrange(min(len(data), within) if within else len(data))
        roll = rng.random()
        if roll < (0.6 if sizes else 0.8):
            data[pos] = rng.randrange(256)
        elif sizes and roll < 0.8:
            data[pos : pos + 4] = struct.pack("<i", rng.choice([-1, 2**31 - 1, 70_000]))
        else:
            del data[pos:]
            break
    return bytes(data)


def test_mutated_headers_never_raise(tmp_path):
    """Seeded byte flips and truncations of single- and multi-part headers never raise."""
    import random

    seeds = [
        write_exr(tmp_path / "s.exr", GENAI, pixel_bytes=64),
        write_exr(tmp_path / "m.exr", parts=[GENAI, {"genai:use": "temp"}], pixel_bytes=64),
    ]
    rng = random.Random(5)
    path = tmp_path / "fuzz.exr"
    for seed in seeds:
        original = seed.read_bytes()
        for _ in range(150):
            path.write_bytes(_mutant(original, rng, edits=4))
            record = read(path)
            assert record is None or isinstance(record.data, dict)


def _careful(path: Path) -> dict:
    """The header as the cursor-based parser alone reads it (no one-window pass)."""
    from clearance.provenance._exrheader import _Cursor, _empty_result, _parse

    result = _empty_result()
    with open(path, "rb") as f:
        _parse(_Cursor(f, path.stat().st_size), result)
    return result


def test_the_one_window_pass_gives_the_cursors_answer(tmp_path):
    """Headers inside the file's first 64 KiB (one, or a multi-part file's list) are read in
    one pass over it; anything else goes to the cursor. On valid headers (standard, custom,
    unknown and oversized attributes, tiled, multi-part, OpenEXR's own) and 1,200 seeded
    mutants of them (byte flips, truncations, sizes made huge or negative), both give the
    same result."""
    import random

    from clearance.provenance._exrheader import _empty_result, _parse_in_memory

    seeds = [
        write_exr(tmp_path / "s.exr", GENAI, pixel_bytes=64),
        write_exr(
            tmp_path / "odd.exr",
            {"custom": ("v3f", b"\x00" * 12), "note": "é ü", "n": 7, "f": 0.5, "tags": ["a", "b"]},
            pixel_bytes=16,
        ),
        write_exr(tmp_path / "big.exr", {"preview": ("preview", b"\x01" * 70_000)}, pixel_bytes=8),
        write_exr(tmp_path / "m.exr", parts=[GENAI, {"genai:use": "temp"}], pixel_bytes=64),
    ]
    tiled = bytearray(seeds[0].read_bytes())
    tiled[5] |= 0x02  # the tiled flag (0x200)
    (tmp_path / "tiled.exr").write_bytes(bytes(tiled))
    seeds.append(tmp_path / "tiled.exr")
    (tmp_path / "openexr.exr").write_bytes(OPENEXR_HEADER + bytes(2304))
    seeds.append(tmp_path / "openexr.exr")
    fast = 0
    for seed in seeds:
        assert read_exr_header(seed) == _careful(seed), seed.name
        fast += _parse_in_memory(seed.read_bytes()[:65536], _empty_result())
    assert fast == 5  # all but the big preview take the one-window pass
    rng = random.Random(11)
    path = tmp_path / "mutant.exr"
    for seed in seeds:
        original = seed.read_bytes()
        for _ in range(200):
            data = _mutant(original, rng, edits=3, within=400, sizes=True)
            path.write_bytes(data)
            # (repr: a mutated float may be NaN, which equals nothing, not even itself)
            assert repr(read_exr_header(path)) == repr(_careful(path)), data[:64]
