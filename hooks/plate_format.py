"""SITE-PLATE-01: generated plates must be in a delivery format and at least the show's resolution.

An example site plugin for pipeline TDs, written as a :class:`~clearance.rules.RulePack`
(compare ``hooks/show_denylist.py``, written with plain ``@hookimpl`` functions). It is meant
to be attached to the plate generation stage only::

    stages:
      - name: plate_gen
        paths: [gen/plates/]
        plugins: [../hooks/plate_format.py]     # this stage only
    rules:
      SITE-PLATE-01: {min_width: 4096, min_height: 2160, formats: [exr]}

Parameters (all optional; the defaults are a UHD EXR plate):

* ``min_width`` / ``min_height``: the smallest acceptable plate, in pixels (default 3840 x 2160).
* ``formats``: accepted file formats, by content, not by extension: ``exr``, ``png``,
  ``jpeg`` (or ``jpg``), ``tiff`` (or ``tif``), ``dpx`` (default ``[exr]``).

How it reads the files: headers only (one 4 KiB read per file, 64 KiB at most), never
pixels. The format comes from the file's magic number (a PNG renamed ``.exr`` is a PNG); the
size from the PNG ``IHDR`` chunk, the EXR ``dataWindow`` attribute, the JPEG ``SOF`` marker
or the DPX image header. Every frame of a sequence is checked (one short read per frame),
and each problem is reported once per asset with the frames it affects. A header that cannot
be read is itself a finding (unsure: never a silent pass). A bad parameter
(``min_width: "4k"``) raises, which Clearance reports as ``PRV-05`` naming this plugin.

Testing it: see ``tests/test_site_hooks.py`` and ``docs/first-checker.md``.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from clearance import Finding, Outcome
from clearance.rules import RuleContext, RulePack

RULE_ID = "SITE-PLATE-01"
DEFAULTS: dict[str, Any] = {"min_width": 3840, "min_height": 2160, "formats": ["exr"]}
_ALIASES = {"jpg": "jpeg", "tif": "tiff", "openexr": "exr"}
_FIRST_READ = 4096  # enough for PNG, DPX and almost every EXR header
_HEAD = 64 * 1024  # no plate header we read is longer than this

pack = RulePack("plate_format", pack="site")


@pack.rule(
    RULE_ID,
    title="Generated plate below the show's resolution or in the wrong format",
    principle="deliverables",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Re-render the plate at the show resolution in an accepted format (see the "
        "SITE-PLATE-01 settings in clearance.yaml), then republish it with its sidecar."
    ),
    params=tuple(DEFAULTS),
)
def plate_format(ctx: RuleContext) -> Iterator[Finding]:
    """Plates published by the generation stage must match the show's delivery spec
    (format and minimum resolution), so that no upscaled or proxy plate reaches comp."""
    min_width, min_height, formats = _settings(ctx.settings)
    files = ctx.asset.files or [ctx.asset.path]
    wrong_format: dict[str, list[str]] = {}
    too_small: dict[tuple[int, int], list[str]] = {}
    unreadable: dict[str, list[str]] = {}
    for path in files:
        try:
            fmt, size = read_header(path)
        except OSError as exc:
            unreadable.setdefault(exc.strerror or str(exc), []).append(path.name)
            continue
        if fmt not in formats:
            wrong_format.setdefault(fmt or "unknown", []).append(path.name)
            continue
        if size is None:
            unreadable.setdefault(f"no image size in the {fmt} header", []).append(path.name)
        elif size[0] < min_width or size[1] < min_height:
            too_small.setdefault(size, []).append(path.name)
    for fmt, names in wrong_format.items():
        yield ctx.finding(
            f"{_count(names, len(files))} {fmt}, not an accepted plate format "
            f"({', '.join(sorted(formats))})",
            problem="format",
            format=fmt,
            accepted=sorted(formats),
            files=len(names),
            first=names[0],
        )
    for (width, height), names in too_small.items():
        yield ctx.finding(
            f"{_count(names, len(files))} {width}x{height}, below the show minimum "
            f"{min_width}x{min_height}",
            problem="resolution",
            width=width,
            height=height,
            min_width=min_width,
            min_height=min_height,
            files=len(names),
            first=names[0],
        )
    for reason, names in unreadable.items():
        finding = ctx.unsure("header", f"{_count(names, len(files))} unreadable: {reason}")
        finding.evidence.update(problem="unreadable", files=len(names), first=names[0])
        yield finding


# Registering a file lists its module-level hook implementations: expose the pack's.
clearance_add_rules = pack.clearance_add_rules
clearance_check_asset = pack.clearance_check_asset


def _settings(settings: dict[str, Any]) -> tuple[int, int, frozenset[str]]:
    merged = {**DEFAULTS, **settings}
    for key in ("min_width", "min_height"):
        if not isinstance(merged[key], int) or isinstance(merged[key], bool) or merged[key] < 0:
            raise ValueError(
                f"rules.{RULE_ID}.{key}: expected a whole number of pixels, got {merged[key]!r}"
            )
    formats = merged["formats"]
    if isinstance(formats, str):
        formats = [formats]
    if not isinstance(formats, list) or not all(isinstance(f, str) for f in formats):
        raise ValueError(f"rules.{RULE_ID}.formats: expected a list of formats, got {formats!r}")
    accepted = frozenset(_ALIASES.get(f.lower(), f.lower()) for f in formats)
    return merged["min_width"], merged["min_height"], accepted


def _count(names: list[str], total: int) -> str:
    if total == 1:
        return names[0] + " is"
    return f"{len(names)} of {total} frames (first {names[0]}) are"


# -------------------------------------------------------------------------------------------
# Header readers: (format, (width, height) or None) from the first bytes of a file
# -------------------------------------------------------------------------------------------


def read_header(path: Path) -> tuple[str | None, tuple[int, int] | None]:
    """The file's format (by magic number) and pixel size, reading headers only.

    :return: ``("png", (w, h))``, ``("exr", (w, h))``, ``("jpeg", (w, h))``,
        ``("dpx", (w, h))``, ``("tiff", None)``, or ``(None, None)`` for anything else.
        The size is ``None`` when the header is truncated or lacks it.
    :raises OSError: when the file cannot be read.
    """
    with open(path, "rb") as f:
        head = f.read(_FIRST_READ)
        fmt, size = _identify(head)
        if size is None and fmt in ("exr", "jpeg") and len(head) == _FIRST_READ:
            # a long EXR header (many attributes) or a JPEG with a big EXIF block first
            fmt, size = _identify(head + f.read(_HEAD - _FIRST_READ))
    return fmt, size


def _identify(head: bytes) -> tuple[str | None, tuple[int, int] | None]:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", _png_size(head)
    if head.startswith(b"\x76\x2f\x31\x01"):
        return "exr", _exr_size(head)
    if head.startswith(b"\xff\xd8"):
        return "jpeg", _jpeg_size(head)
    if head[:4] in (b"SDPX", b"XPDS"):
        return "dpx", _dpx_size(head)
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff", None
    return None, None


def _png_size(head: bytes) -> tuple[int, int] | None:
    # signature (8) | IHDR length (4) | b"IHDR" (4) | width (4, big-endian) | height (4)
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


def _exr_size(head: bytes) -> tuple[int, int] | None:
    # magic (4) | version+flags (4) | attributes: name\0 type\0 int32 size, value | ... | \0
    # (a multi-part file starts its first part's header at the same place)
    pos = 8
    while pos < len(head) and head[pos] != 0:
        name_end = head.find(b"\0", pos)
        type_end = head.find(b"\0", name_end + 1)
        if name_end < 0 or type_end < 0 or type_end + 5 > len(head):
            return None
        (size,) = struct.unpack_from("<i", head, type_end + 1)
        value_at = type_end + 5
        if head[pos:name_end] == b"dataWindow" and size == 16 and value_at + 16 <= len(head):
            x_min, y_min, x_max, y_max = struct.unpack_from("<iiii", head, value_at)
            return x_max - x_min + 1, y_max - y_min + 1
        if size < 0:
            return None
        pos = value_at + size
    return None


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    # segments: FF marker, big-endian length; SOF0..SOF15 (not DHT C4, JPG C8, DAC CC)
    pos = 2
    while pos + 9 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        (length,) = struct.unpack_from(">H", head, pos + 2)
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", head, pos + 5)
            return width, height
        pos += 2 + length
    return None


def _dpx_size(head: bytes) -> tuple[int, int] | None:
    # image information header at 768: orientation (2), elements (2), pixels/line (4), lines (4)
    if len(head) < 780:
        return None
    order = ">" if head[:4] == b"SDPX" else "<"
    width, height = struct.unpack_from(order + "II", head, 772)
    return width, height
