"""Values from files, sidecars, plugins and logs, made safe to show as text.

Names and messages come from artists' files and site plugins; a terminal takes some
characters in them as commands, XML forbids some, a spreadsheet runs formulas. Each form
here changes only what its reader would act on or refuse, and only in the text forms
(terminal, CSV, JUnit XML): JSON escapes on its own and HTML is escaped by its renderer. The check is
``str.isprintable`` (then a precompiled regex ``search``), so the common all-printable
value costs almost nothing (reports run to 1,000,000 events).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["shown", "spreadsheet_cell", "xml_safe"]

#: what a terminal acts on or reorders: C0 and C1 controls (ESC, CR, LF, TAB…), DEL, the
#: Unicode line and paragraph separators, the bidi controls (U+061C, U+200E/U+200F,
#: U+202A-U+202E, U+2066-U+2069), and lone surrogates (which no stream can encode)
_TERMINAL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
#: what XML 1.0 does not allow anywhere, not even as a character reference
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def shown(value: Any) -> str:
    """``value`` as text for a terminal or a text report: control characters, bidi controls
    and line breaks are shown escaped (``\\x1b``, ``\\n``, ``\\u202e``), so a file name or a
    sidecar value can neither move the cursor, clear the screen, retitle the window, reverse
    the line nor start a line of its own. ``None`` is ``""``."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isprintable() or not _TERMINAL.search(text):  # each it escapes is not printable
        return text
    return _TERMINAL.sub(_escape, text)


def xml_safe(value: Any) -> str:
    """``value`` as text XML 1.0 allows (escape ``<&>"`` after): the characters it forbids
    (C0 controls but TAB, LF and CR; U+FFFE, U+FFFF; lone surrogates) are shown escaped as
    :func:`shown` shows them (``\\x1b``), so a report parses whatever the names hold.
    ``None`` is ``""``."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    return _NOT_XML.sub(_escape, text) if _NOT_XML.search(text) else text


def spreadsheet_cell(value: Any) -> str:
    """A CSV cell for a spreadsheet: one it would run as a formula (starting with ``=``,
    ``+``, ``-``, ``@``, a tab or a CR) is prefixed with ``'``; names come from artists'
    files. ``None`` is ``""``."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
