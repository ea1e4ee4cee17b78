"""XMP reader: IPTC ``DigitalSourceType`` and PLUS ``DataMining`` embedded in the asset.

Containers: PNG (iTXt, before or after the pixel data), JPEG (APP1, and Extended XMP), WebP
and WAV (RIFF, RF64 or BW64 chunk), TIFF (tag 700), MOV/MP4 (top-level ``uuid`` box, or
``moov/udta/XMP_``).

Registered as a built-in reader plugin (``clearance.provenance.xmp``). What it reports, in the
sidecar format-1 shape:

- ``source_type``: ``Iptc4xmpExt:DigitalSourceType`` as found (full URI, or whatever was written,
  so the IPTC rules can flag short names and retired terms);
- ``generated``: True for the GenAI terms (``trainedAlgorithmicMedia``,
  ``compositeWithTrainedAlgorithmicMedia``, ``compositeSynthetic``), False for terms that exclude
  GenAI (``digitalCapture``, ``humanEdits``, ``algorithmicallyEnhanced``, …), absent otherwise;
- ``x-data-mining``: ``plus:DataMining`` as found (also in evidence).

Headers only: the container walkers in :mod:`clearance.provenance._containers` seek past the
pixel data and find every XMP packet before or after it (a tool may append its own packet
instead of rewriting the first): the first value of a property is kept, a conflict is an issue,
and a GenAI term in any packet makes ``generated`` true.

XMP is parsed by expat event by event, keeping only the properties (no element tree), with
DTDs, entity declarations and external references refused as defusedxml refuses them (an
entity-expansion bomb is an issue). A packet's cost is bounded too: at most
:data:`MAX_XMP_NODES` elements and attributes are read in all of a file's packets; the parse
stops there, keeps what it read, and says so (an issue, and the asset is not "no GenAI").
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, NoReturn
from xml.parsers import expat

from defusedxml import (
    DefusedXmlException,
    DTDForbidden,
    EntitiesForbidden,
    ExternalReferenceForbidden,
)

from ..hookspecs import hookimpl
from ..model import PartialRecord, ProvenanceIssue
from ._common import asset_stat, display_path
from ._containers import Blocks, scan
from ._iptc import generated_from_source_type

if TYPE_CHECKING:
    from ..model import Asset

__all__ = [
    "MAX_XMP_NODES",
    "XmpError",
    "parse_xmp",
    "read_xmp",
    "read_png_xmp",
    "read_jpeg_xmp",
    "record_from_xmp",
    "clearance_read_provenance",
]

SOURCE = "xmp"
# Formats whose containers the walkers understand; everything else is left to other readers.
EXTENSIONS = frozenset({"png", "jpg", "jpeg", "webp", "tif", "tiff", "wav", "mov", "mp4", "m4v"})

NS_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NS_IPTC_EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
NS_PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"
NS_XMP = "http://ns.adobe.com/xap/1.0/"
NS_XMP_NOTE = "http://ns.adobe.com/xmp/note/"

# The elements and attributes read in all of a file's XMP packets together: each element
# costs a call into Python, and expat slows down on a tag of very many attributes. Real XMP is
# far below it, even Photoshop's DocumentAncestors bloat: an element per 57 bytes at its
# densest, about 147,000 in MAX_XMP_BYTES (8 MiB). 8 MiB of empty elements is 2 million: past
# the bound the parse stops (in tens of milliseconds), an issue, and the asset is unsure.
MAX_XMP_NODES = 200_000

# XMP property, as expat names it ("namespace}local name") -> key in the parsed dict
_PROPERTIES = {
    f"{NS_IPTC_EXT}}}DigitalSourceType": "digital_source_type",
    f"{NS_PLUS}}}DataMining": "data_mining",
    f"{NS_XMP}}}CreatorTool": "creator_tool",
    # JPEG: the GUID of the Extended XMP packet that holds the rest of this one
    f"{NS_XMP_NOTE}}}HasExtendedXMP": "extended_xmp",
}
_RDF_RESOURCE = f"{NS_RDF}}}resource"
_RDF_RDF = f"{NS_RDF}}}RDF"
_RDF_LI = f"{NS_RDF}}}li"
_DIGITAL_SOURCE_TYPE = "digital_source_type"
#: distinct GenAI terms kept from inside other properties (an ingredient's, in Pantry)
_MAX_NESTED_TERMS = 8


class XmpError(ValueError):
    """The XMP packet is not well-formed or was refused (DTD, entities).

    :ivar found: the properties read before the damage, as :func:`parse_xmp` gives them: a
        GenAI term read before a bad byte still counts (the packet is unread all the same).
    """

    def __init__(self, message: str, found: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.found: dict[str, Any] = found or {}


def parse_xmp(packet: bytes | str, *, max_nodes: int = MAX_XMP_NODES) -> dict[str, Any]:
    """The provenance properties of one XMP packet.

    :param max_nodes: how many elements and attributes may be read: the parse stops at the
        element past it. Attributes count first (expat reads a tag's attributes all at once),
        by the packet's ``=`` signs: a packet of more is not read at all.
    :return: ``{"digital_source_type": …, "data_mining": …, "creator_tool": …}`` with only the
        properties present; a property written twice with different values keeps the first and
        lists every value under ``"conflicts"``. Only the asset's own (top-level) properties
        count; ``"nested_genai"`` lists the GenAI DigitalSourceType terms found inside other
        properties (a placed ingredient's XMP in ``xmpMM:Pantry``, a struct), which say the
        asset holds GenAI content. ``"unread_rest": True`` when the packet has
        more than ``max_nodes``: the properties are those before the bound, and the rest,
        which might hold more, was not read.
    :raises XmpError: malformed XML, or a DTD / entity declaration (an entity-expansion bomb
        is refused before anything is expanded); its ``found`` holds what was read before.
    """
    reader = _PacketReader(max_nodes)
    found = reader.parse(packet)
    if reader.stopped:
        found["unread_rest"] = True
    return found


class _Stop(Exception):
    """The bound on elements and attributes is reached: the parse ends there."""


class _PacketReader:
    """One packet read by expat event by event, keeping only the properties, in document
    order (an element's attributes, then the element itself).

    The work is counted (``nodes``): the attributes first, by their ``=`` signs (expat reads
    a tag's attributes all at once, and slows down on a tag of very many), then every element
    as it starts (each costs two calls into Python: its start and its end). Past ``budget``
    the parse stops (``stopped``) and keeps what it found. An element property's text (its
    ``rdf:resource``, else all the text inside it, or each ``rdf:li``'s in an array) is
    collected while it is open; only then does the reader listen to text.

    Only the top-level properties describe the asset: the attributes of a node (an
    ``rdf:Description``) that is a child of ``rdf:RDF``, and that node's child elements. A
    property inside another one (a struct field, or the XMP Photoshop copies from a placed
    ingredient into ``xmpMM:Pantry``) is another resource's: it never says "no GenAI" for the
    asset, but a GenAI DigitalSourceType there still says GenAI (``nested_genai``), as a GenAI
    ingredient does for C2PA.
    """

    __slots__ = (
        "budget",
        "nodes",
        "stopped",
        "_found",
        "_nested",
        "_parser",
        "_capture",
        "_depth",
        "_rdf",
        "_watch",
    )

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.nodes = 0
        self.stopped = False
        self._found: dict[str, list[str | None]] = {}
        #: GenAI DigitalSourceType terms inside other properties, distinct, in document order
        self._nested: list[str] = []
        self._parser: Any = None
        self._capture: _Capture | None = None
        self._depth = 0  # elements open
        self._rdf = 0  # the depth of rdf:RDF while it is open
        self._watch = 0  # the depth whose end matters: the open property's, else rdf:RDF's

    def parse(self, packet: bytes | str) -> dict[str, Any]:
        """The properties read (see :func:`parse_xmp`); raises :class:`XmpError`."""
        if isinstance(packet, str):
            packet = packet.encode("utf-8")
        # Writers pad packets with whitespace and NULs (in-place editing room); XML forbids
        # NUL. UTF-8, the common case, in two byte tests; UTF-16 or UTF-32 by _unpadded.
        if packet[:1] not in _NOT_UTF8 and packet[1:2] != b"\x00":
            text: bytes | str = packet.strip(b"\x00 \t\r\n")
        else:
            text = _unpadded(packet)
        # the attributes, at most (an "=" each)
        self.nodes = text.count(b"=") if isinstance(text, bytes) else text.count("=")
        if self.nodes > self.budget:
            self.stopped = True
            return {}
        parser = expat.ParserCreate(namespace_separator="}")
        parser.ordered_attributes = True
        parser.buffer_text = True
        # defusedxml's refusals (forbid_dtd, forbid_entities, forbid_external), with its errors
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.EntityDeclHandler = _refuse_entity
        parser.UnparsedEntityDeclHandler = _refuse_unparsed_entity
        parser.ExternalEntityRefHandler = _refuse_external_reference
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        self._parser = parser
        try:
            parser.Parse(text, True)
        except _Stop:
            self.stopped = True
        except DefusedXmlException as exc:
            raise XmpError(f"refused: {type(exc).__name__} ({exc})", self._properties()) from None
        except (expat.ExpatError, ValueError) as exc:
            raise XmpError(f"not well-formed XML: {exc}", self._properties()) from None
        finally:
            self._parser = None  # the parser holds this reader's methods
        return self._properties()

    def _properties(self) -> dict[str, Any]:
        """The properties read so far (see :func:`parse_xmp`)."""
        found = {
            key: kept
            for key, values in self._found.items()
            if (kept := [v for v in values if v is not None])
        }
        result = _first_values(found)
        if self._nested:
            result["nested_genai"] = self._nested
        return result

    def _start(self, name: str, attributes: list[str]) -> None:
        self.nodes += 1
        if self.nodes > self.budget:
            raise _Stop
        self._depth += 1
        capture = self._capture
        if capture is not None:  # inside a property: its text is part of its value
            if name == _RDF_LI and not capture.item:  # an array's item is a value of its own
                capture.item = self._watch = self._depth
                capture.text = [_resource(attributes)]
                self._parser.CharacterDataHandler = capture.text.append
            return
        depth = self._depth - self._rdf  # 1: a top-level node, 2: its property elements
        if name == _RDF_RDF and not self._rdf:
            self._rdf = self._watch = self._depth
            return
        own = self._rdf > 0 and depth <= 2
        if attributes:  # attribute form: <rdf:Description Iptc4xmpExt:DigitalSourceType="uri"/>
            for i in range(0, len(attributes), 2):
                key = _PROPERTIES.get(attributes[i])
                if key:
                    self._value(key, attributes[i + 1], own and depth == 1)
        key = _PROPERTIES.get(name)
        if not key:
            return
        # element form: <Iptc4xmpExt:DigitalSourceType>uri</…> or rdf:resource="uri"
        resource = _resource(attributes)
        if resource:
            self._value(key, resource, own and depth == 2)
            return
        place = None
        if own and depth == 2:
            values = self._found.setdefault(key, [])
            values.append(None)  # its place, filled when it ends
            place = len(values) - 1
        elif key != _DIGITAL_SOURCE_TYPE:
            return  # another resource's data mining or creator tool: not the asset's
        self._capture = capture = _Capture(key, place, self._depth)
        self._watch = self._depth
        self._parser.CharacterDataHandler = capture.text.append

    def _value(self, key: str, value: str, own: bool) -> None:
        """A property's value: the asset's own, or (``own`` False) another resource's, of
        which only a GenAI DigitalSourceType is kept. An empty value is none: it must not
        stand first and hide a value written after it."""
        value = value.strip()
        if not value:
            return
        if own:
            self._found.setdefault(key, []).append(value)
        elif (
            key == _DIGITAL_SOURCE_TYPE
            and value not in self._nested
            and len(self._nested) < _MAX_NESTED_TERMS
            and generated_from_source_type(value)
        ):
            self._nested.append(value)

    def _end(self, name: str) -> None:
        depth = self._depth
        self._depth = depth - 1
        if depth <= self._watch:  # the open property, or rdf:RDF, ends
            self._ended(depth)

    def _ended(self, depth: int) -> None:
        capture = self._capture
        if capture is None:
            self._rdf = self._watch = 0
            return
        value = "".join(capture.text).strip()
        if capture.item:  # an item of rdf:Bag, rdf:Seq or rdf:Alt ends: its text is a value
            if value:
                capture.items.append(value)
            capture.item, self._watch, capture.text = 0, capture.depth, []
            self._parser.CharacterDataHandler = capture.text.append
            return
        self._capture = None
        self._watch = self._rdf
        self._parser.CharacterDataHandler = None
        # an array's items are values of their own, weighed like values written twice
        values = capture.items if capture.items else [value] if value else []
        if capture.place is None:
            for value in values:
                self._value(capture.key, value, False)
        else:
            filled: list[str | None] = [*values] if values else [None]
            self._found[capture.key][capture.place : capture.place + 1] = filled


class _Capture:
    """The element property whose text is being collected: its key, its place among that
    key's values (None: nested, another resource's), its depth, the text so far, and the
    items of an array in it (``rdf:li``: ``item`` is the open one's depth)."""

    __slots__ = ("depth", "item", "items", "key", "place", "text")

    def __init__(self, key: str, place: int | None, depth: int) -> None:
        self.key, self.place, self.depth = key, place, depth
        self.text: list[str] = []
        self.items: list[str] = []
        self.item = 0


def _resource(attributes: list[str]) -> str:
    """An element's ``rdf:resource`` attribute, or ""."""
    return next(
        (attributes[i + 1] for i in range(0, len(attributes), 2) if attributes[i] == _RDF_RESOURCE),
        "",
    )


def _refuse_dtd(
    name: str, sysid: str | None, pubid: str | None, has_internal_subset: bool
) -> NoReturn:
    raise DTDForbidden(name, sysid, pubid)


def _refuse_entity(
    name: str,
    is_parameter_entity: bool,
    value: str | None,
    base: str | None,
    sysid: str | None,
    pubid: str | None,
    notation_name: str | None,
) -> NoReturn:
    raise EntitiesForbidden(name, value, base, sysid, pubid, notation_name)


def _refuse_unparsed_entity(
    name: str, base: str | None, sysid: str, pubid: str | None, notation_name: str
) -> NoReturn:
    raise EntitiesForbidden(name, None, base, sysid, pubid, notation_name)


def _refuse_external_reference(
    context: str, base: str | None, sysid: str | None, pubid: str | None
) -> NoReturn:
    raise ExternalReferenceForbidden(context, base, sysid, pubid)


# Byte-order marks (UTF-32's before the UTF-16 ones they start like), and the NUL bytes of
# the first two characters without one (XML 1.0, appendix F): those characters ("<?", "<x",
# whitespace) are ASCII. A UTF-8 packet after NUL padding matches no pattern.
_UTF_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
_NOT_UTF8 = (b"\x00", b"\xfe", b"\xff")  # the first byte of a packet that may not be UTF-8
_UTF_ZEROS: dict[tuple[bool, ...], str] = {
    (False, True, True, True): "utf-32-le",
    (True, True, True, False): "utf-32-be",
    (False, True, False, True): "utf-16-le",
    (True, False, True, False): "utf-16-be",
}


def _unpadded(packet: bytes) -> bytes | str:
    """A packet that starts like UTF-16 or UTF-32 without its padding: text if it is one,
    else bytes (UTF-8 after NUL padding, or garbage, for expat to judge).

    In UTF-16 and UTF-32 the NUL bytes belong to the characters, so those packets are decoded
    first and stripped as text (expat reads no UTF-32 itself).
    """
    text = _decoded(packet)
    if text is None:  # a UTF-8 packet after NUL padding, or garbage: expat says which
        return packet.strip(b"\x00 \t\r\n")
    return text


def _decoded(packet: bytes) -> str | None:
    """A UTF-16 or UTF-32 packet as text without padding; None if it is not one."""
    skip, codec = next(((len(bom), c) for bom, c in _UTF_BOMS if packet.startswith(bom)), (0, ""))
    if not codec:
        zeros = tuple(byte == 0 for byte in packet[:4].ljust(4, b"\x01"))
        codec = _UTF_ZEROS.get(zeros, "")
        if not codec:
            return None
    width = 4 if codec.startswith("utf-32") else 2
    end = len(packet) - (len(packet) - skip) % width  # a stray odd NUL of padding
    try:
        text = packet[skip:end].decode(codec)
    except UnicodeDecodeError:
        return None
    text = text.strip("\x00 \t\r\n")
    return text if text.startswith("<") else None


def read_xmp(path: str | os.PathLike[str], st: os.stat_result | None = None) -> dict[str, Any]:
    """The XMP provenance properties of a PNG, JPEG, WebP, TIFF, WAV, MOV or MP4 (headers only).

    :return: the :func:`parse_xmp` dict plus ``"container"`` (``png``…), ``"where"`` (``iTXt
        after IDAT``…: the first packet's), ``"packets"`` (every packet's where, when the file
        has more than one: their properties are merged as within one packet, first value
        kept, every distinct value under ``"conflicts"``; ``"unread_packets"`` counts those
        refused, malformed, damaged (a compressed one that does not inflate) or past a bound:
        on packets, on bytes, or on elements and attributes (:data:`MAX_XMP_NODES` in all
        packets together: a packet read only in part counts), ``"c2pa"`` (where an embedded
        manifest sits, if any), ``"problems"`` (truncation, corruption, a refused packet) and
        ``"unread_rest"`` (True when the walk stopped at a bound on chunks, markers or boxes:
        the rest of the file, which might hold a packet, was not read).
        Never raises on bad input.
    """
    return _read(scan(path, st))


def read_png_xmp(path: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`read_xmp` for a PNG: the ``XML:com.adobe.xmp`` iTXt chunk, before or after IDAT."""
    return read_xmp(path)


def read_jpeg_xmp(path: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`read_xmp` for a JPEG: the APP1 XMP segment, and Extended XMP put together from
    its ``xmp/extension`` segments."""
    return read_xmp(path)


def _read(blocks: Blocks) -> dict[str, Any]:
    result: dict[str, Any] = {"container": blocks.format, "problems": list(blocks.problems)}
    if blocks.unreadable:
        result["unreadable"] = True
    if blocks.unread_rest:
        result["unread_rest"] = True
    if blocks.c2pa:
        result["c2pa"] = blocks.c2pa
    if blocks.xmp is None:
        return result
    result["where"] = blocks.xmp_where
    if not blocks.more_xmp and not blocks.xmp_skipped:  # the common case: one packet
        reader = _PacketReader(MAX_XMP_NODES)
        try:
            result.update(reader.parse(blocks.xmp))
        except XmpError as exc:
            # what was read before the damage is kept; the rest might say GenAI
            result["problems"].append(f"XMP packet ({blocks.xmp_where}) {exc}")
            result.update(exc.found)
            result["unread_packets"] = 1
        if reader.stopped:
            result["problems"].append(_stopped(f"XMP packet ({blocks.xmp_where})", False, 0))
            result["unread_packets"] = 1
        return _extension_found(blocks, result)
    packets = [(blocks.xmp, blocks.xmp_where), *blocks.more_xmp]
    result["packets"] = [where for _, where in packets]
    found: dict[str, list[str]] = {}
    nested: list[str] = []
    unread = blocks.xmp_skipped
    budget = MAX_XMP_NODES  # for all the packets together
    for number, (packet, where) in enumerate(packets, 1):
        reader = _PacketReader(budget)
        try:
            properties = reader.parse(packet)
        except XmpError as exc:
            # what was read before the damage is kept; the rest might say GenAI
            result["problems"].append(f"XMP packet {number} ({where}) {exc}")
            unread += 1
            properties = exc.found
        conflicts = properties.pop("conflicts", {})
        nested.extend(v for v in properties.pop("nested_genai", ()) if v not in nested)
        for key, value in properties.items():
            values = found.setdefault(key, [])
            values.extend(v for v in conflicts.get(key, [value]) if v not in values)
        if reader.stopped:
            later = len(packets) - number
            result["problems"].append(_stopped(f"XMP packet {number} ({where})", True, later))
            unread += 1 + later
            break
        budget -= reader.nodes
    result.update(_first_values(found))
    if nested:
        result["nested_genai"] = nested[:_MAX_NESTED_TERMS]
    if unread:
        result["unread_packets"] = unread
    return _extension_found(blocks, result)


def _extension_found(blocks: Blocks, result: dict[str, Any]) -> dict[str, Any]:
    """``result``, with a problem and an unread packet if its packet points to Extended XMP
    (``xmpNote:HasExtendedXMP``) that the JPEG does not hold: the rest of the packet, which
    might say GenAI, is missing (a tool that dropped the segments)."""
    guid = result.get("extended_xmp")
    if (
        blocks.format == "jpeg"
        and guid
        and guid.encode("latin-1", "replace") not in (blocks.extended_xmp)
    ):
        result["problems"].append(
            f"the XMP packet points to Extended XMP {guid} (xmpNote:HasExtendedXMP), which is"
            " not in the file: the rest of the packet is not read"
        )
        result["unread_packets"] = result.get("unread_packets", 0) + 1
    return result


def _stopped(packet: str, together: bool, later: int) -> str:
    """The problem of a packet whose parse stopped at the bound on elements and attributes
    (on all the file's packets ``together`` if it has more than one), ``later`` packets after
    it (not read)."""
    together_ = " in all XMP packets together" if together else ""
    rest = f"the rest and the {later} later packets are" if later else "the rest is"
    return (
        f"{packet} not read past the bound: more than {MAX_XMP_NODES} XML elements and"
        f" attributes{together_}; {rest} not read"
    )


def _first_values(found: dict[str, list[str]]) -> dict[str, Any]:
    """Each property's first value; every distinct value under ``conflicts`` where they differ."""
    result: dict[str, Any] = {}
    conflicts: dict[str, list[str]] = {}
    for key, values in found.items():
        result[key] = values[0]
        distinct = list(dict.fromkeys(values))
        if len(distinct) > 1:
            conflicts[key] = distinct
    if conflicts:
        result["conflicts"] = conflicts
    return result


def record_from_xmp(found: dict[str, Any], file: str) -> PartialRecord | None:
    """Turn :func:`read_xmp`'s result into a partial record; None when it says nothing.

    A packet that carries neither property (most DCC-written XMP) is "nothing": it must not
    count as provenance, or an undocumented asset would escape ``PRV-01``.
    """
    # a file that could not be opened or read has one problem: why (see unreadable())
    unread = bool(found.get("unreadable"))
    issues = [
        ProvenanceIssue(file, "xmp", problem, unreadable=unread)
        for problem in found.get("problems", [])
    ]
    data: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    source_type = found.get("digital_source_type")
    if source_type:
        data["source_type"] = source_type
        if "conflicts" in found or "unread_packets" in found or "unread_rest" in found:
            generated, data["source_type"] = _weigh_every_value(found, source_type)
        else:  # one value, every packet read: the common case
            generated = generated_from_source_type(source_type)
        if generated is not None:
            data["generated"] = generated
        evidence["digital_source_type"] = source_type
    if found.get("nested_genai"):
        # a GenAI term in a placed ingredient's XMP (Pantry): the asset holds GenAI content,
        # whatever its own term says; only the stricter claim is taken from another resource
        data["generated"] = True
        data.setdefault("source_type", found["nested_genai"][0])
        evidence["nested_genai"] = found["nested_genai"]
    if found.get("data_mining"):
        data["x-data-mining"] = found["data_mining"]
        evidence["data_mining"] = found["data_mining"]
    for key, values in found.get("conflicts", {}).items():
        issues.append(
            ProvenanceIssue(
                file, f"xmp.{key}", f"written more than once with different values: {values}"
            )
        )
    if not data and not issues:
        return None
    if found.get("creator_tool"):
        evidence["creator_tool"] = found["creator_tool"]
    evidence["container"] = found.get("container")
    if found.get("where"):
        evidence["location"] = found["where"]
    if found.get("packets"):
        evidence["packets"] = found["packets"]
    return PartialRecord(
        source=SOURCE,
        file=file,
        data=data,
        issues=issues,
        evidence=evidence,
        volatile=bool(found.get("unreadable")),  # reading again may succeed: never cached
    )


def _weigh_every_value(found: dict[str, Any], source_type: str) -> tuple[bool | None, str]:
    """``generated`` and ``source_type`` from every DigitalSourceType written (twice in a
    packet, or in two packets): GenAI in any of them is GenAI, with that term; "no GenAI" only
    if each excludes it and every packet was read (one that was not, or one in the part of the
    file past a walk's bound, might say GenAI)."""
    values = found.get("conflicts", {}).get("digital_source_type") or [source_type]
    verdicts = [generated_from_source_type(value) for value in values]
    if True in verdicts:
        return True, values[verdicts.index(True)]
    every_packet_read = not found.get("unread_packets") and not found.get("unread_rest")
    if all(verdict is False for verdict in verdicts) and every_packet_read:
        return False, source_type
    return None, source_type


@hookimpl
def clearance_read_provenance(asset: Asset) -> PartialRecord | None:
    """XMP embedded in the asset (a sequence: its first frame only); None when there is none."""
    if asset.extension not in EXTENSIONS:
        return None
    found = read_xmp(asset.path, asset_stat(asset))
    if found["container"] == "unknown" and not found.get("unreadable"):
        # its name says the walkers read it, its first bytes say none can: what it embeds is
        # not known, which must not pass for "nothing embedded"
        found["problems"].append(
            f"not a {asset.extension.upper()} file the readers know (its first bytes are no"
            " PNG, JPEG, WebP, WAV, RF64, BW64, TIFF, MOV or MP4 header): its embedded"
            " metadata is not read"
        )
    return record_from_xmp(found, display_path(asset))
