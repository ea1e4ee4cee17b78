"""Values from files, sidecars, plugins and logs, made safe to show as text.

Names and messages come from artists' files and site plugins; a terminal takes some
characters in them as commands, XML forbids some, a spreadsheet runs formulas. Each form
here changes only what its reader would act on or refuse, and only in the text forms
(terminal, CSV, JUnit XML, and the names and messages of the HTML pages, which a browser
would blur as a terminal does): JSON escapes on its own. The check is
``str.isprintable``, ``str.isascii`` and two ``in`` tests (a backslash, a quote), then a
precompiled regex ``search``, so the common all-printable value costs almost nothing
(reports run to 1,000,000 events).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Container
from typing import Any

from .model import printable

__all__ = ["shown", "shown_path", "shown_text", "spreadsheet_cell", "xml_safe"]

#: what a terminal acts on or reorders: C0 and C1 controls (ESC, CR, LF, TAB…), DEL, the
#: Unicode line and paragraph separators, the bidi controls (U+061C, U+200E/U+200F,
#: U+202A-U+202E, U+2066-U+2069), and lone surrogates (which no stream can encode)
_TERMINAL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: what XML 1.0 does not allow anywhere, not even as a character reference
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
#: in a value :func:`shown` prints in quotes: what it escapes, and the backslash and the quote
_QUOTED = re.compile('[\\\\"' + _TERMINAL.pattern[1:])
#: in a value printed as it is, what would read as an escape: a backslash before what follows
#: one in a quoted value (``\\x1b``, ``\\u202e``, ``\\n``, ``\\t``, ``\\r``, ``\\\\``,
#: ``\\"``), or before ``U`` (``\\U0001f600``, as Python writes it)
_READS_ESCAPED = re.compile(r'\\[xuUntr\\"]')
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\\": "\\\\", '"': '\\"'}


def _escape(match: re.Match[str]) -> str:
    return _escaped(match.group())


def _escaped(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _invisible(char: str) -> bool:
    """Is ``char`` one :func:`shown_text` escapes: what :data:`_TERMINAL` matches, or a
    Unicode format character (category Cf: the zero-width space U+200B, joiners U+200C and
    U+200D, the word joiner U+2060, the BOM U+FEFF, the soft hyphen U+00AD, tags...), which
    a terminal does not show, so that ``a\\u200b.png`` would read as ``a.png``."""
    return _TERMINAL.match(char) is not None or unicodedata.category(char) == "Cf"


def _composing(text: str) -> set[int]:
    """Where a value that is not in Unicode's composed form (NFC) holds what composing it
    would change, so that it is never shown as its composed twin (``cafe`` + U+0301, as
    macOS writes an accented name, reads as ``café``): the marks of a letter that composes
    with them, a character NFC replaces on its own (U+212B ANGSTROM SIGN for U+00C5), a
    letter that composes with the one before it (Hangul jamo)."""
    found: set[int] = set()
    combining, nfc = unicodedata.combining, unicodedata.is_normalized
    previous, composed = 0, True  # where the segment before starts; is it NFC
    i = 0
    while i < len(text):
        end = i + 1  # a segment: a letter and the marks after it
        while end < len(text) and combining(text[end]):
            end += 1
        was, composed = composed, nfc("NFC", text[i:end])
        if not composed:
            found.update(k for k in range(i, end) if combining(text[k]) or not nfc("NFC", text[k]))
        elif i and was and not nfc("NFC", text[previous:end]):
            found.add(i)
        previous, i = i, end
    if not found:  # (no such text known) every mark and every letter that is not ASCII
        found = {k for k, c in enumerate(text) if combining(c) or not c.isascii()}
    return found


def shown(value: Any) -> str:
    """``value`` as text for a terminal or a text report, so that a file name or a sidecar
    value can neither move the cursor, clear the screen, retitle the window, reverse the line
    nor start a line of its own, and cannot pass for another value. ``None`` is ``""``.

    A value with a character that is not printable in it (control characters, bidi
    controls, line breaks, zero-width and other format characters, spaces other than the
    space, private-use and unassigned code points) is printed in double quotes with those
    escaped (``\\x1b``, ``\\n``, ``\\u202e``, ``\\u200b``, ``\\xa0``) and its
    backslashes and quotes escaped too (``\\\\``, ``\\"``): ``"sh010_\\x1b[2J.exr"``. So is
    a value that is not in Unicode's composed form (NFC), with what composing it would
    change escaped (:func:`_composing`): ``cafe`` + U+0301 ``.png`` is
    ``"cafe\\u0301.png"``, never ``café.png``. So is a value that would read as escaped,
    one with a backslash before ``x``, ``u``, ``U``, ``n``, ``t``, ``r``, a backslash or a
    quote (a file named ``sh010_\\x1b[2J.exr`` in those characters is
    ``"sh010_\\\\x1b[2J.exr"``), or that starts with a quote. Any other value, a Windows
    path such as ``C:\\shows\\sh010.exr`` and an accented name in NFC among them, is
    printed as it is.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    plain = text.isprintable() and (text.isascii() or unicodedata.is_normalized("NFC", text))
    if plain:
        if "\\" not in text and '"' not in text:  # the common value
            return text
        if not _READS_ESCAPED.search(text) and text[:1] != '"':
            return text
        if text.isascii():
            return '"' + _QUOTED.sub(_escape, text) + '"'  # (a backslash, a quote)
    composed = plain or unicodedata.is_normalized("NFC", text)
    return _quoted(text, () if composed else _composing(text))


def _quoted(text: str, composing: Container[int]) -> str:
    """``text`` in quotes, its backslashes, quotes and what is not printable escaped, and
    what composing would change (the positions ``composing``). So is a mark right after an
    escape or the opening quote: printed, it would sit on the escape's last character
    (``\\ufffe`` and U+0301 read as ``\\ufff`` and an accented ``e``)."""
    out = []
    escaped = True  # the opening quote
    combining = unicodedata.combining
    for k, c in enumerate(text):
        escaped = (
            c in '\\"' or not c.isprintable() or k in composing or (escaped and combining(c) != 0)
        )
        out.append(_escaped(c) if escaped else c)
    return '"' + "".join(out) + '"'


def shown_text(value: Any) -> str:
    """A message, a sentence or a whole line for a terminal (a finding's message, an error
    line): its control characters, bidi controls, line breaks and format characters
    (zero-width ones among them, :func:`_invisible`) escaped as :func:`shown` escapes them,
    and nothing else changed, nor quoted (a YAML error quoting a tab as ``'\\t'`` reads as
    it did). The values a line is made of are :func:`shown` first where telling a name from
    its escaped spelling matters (asset names in tables). ``None`` is ``""``."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isprintable():
        return text
    return "".join(_escaped_in_text(c) if _invisible(c) else c for c in text)


def _escaped_in_text(char: str) -> str:
    """:func:`_escaped`, but a byte of a file name that is not UTF-8 (``os.fsdecode``'s
    U+DC80-U+DCFF) is ``\\xNN``, the byte, as asset names show it (``caf\\xe9.png``,
    :func:`clearance.model.printable`), not ``\\udce9``."""
    code = ord(char)
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else _escaped(char)


def shown_path(path: str | os.PathLike[str]) -> str:
    """A path the user gave or a walk found, in a line of its own or a message, as an asset's
    name is shown: a byte that is not UTF-8 as ``\\xNN`` (:func:`clearance.model.printable`),
    then :func:`shown` (``"caf\\\\xe9.png"``: it reads as escaped)."""
    return shown(printable(os.fspath(path)))


def xml_safe(value: Any) -> str:
    """``value`` as text XML 1.0 allows (escape ``<&>"`` after): the characters it forbids
    (C0 controls but TAB, LF and CR; U+FFFE, U+FFFF; lone surrogates) are shown escaped as
    :func:`shown` shows them (``\\x1b``), so a report parses whatever the names hold.
    ``None`` is ``""``."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return _NOT_XML.sub(_escape, text) if _NOT_XML.search(text) else text


def spreadsheet_cell(value: Any) -> str:
    """A CSV cell for a spreadsheet: one it would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab, a CR or a NUL: OWASP ASVS 1.2.10) is prefixed with ``'``;
    names come from artists' files. ``None`` is ``""``."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\0") else text
