"""Values from files, sidecars, plugins and logs, made safe to show as text.

Names and messages come from artists' files and site plugins; a terminal takes some
characters in them as commands, XML forbids some, a spreadsheet runs formulas. Each form
here changes only what its reader would act on or refuse, and only in the text forms
(terminal, CSV, JUnit XML, and the names and messages of the HTML pages, which a browser
would blur as a terminal does): JSON escapes on its own. The check is
``str.isprintable`` and two ``in`` tests (a backslash, a quote), then a precompiled regex
``search``, so the common all-printable value costs almost nothing (reports run to
1,000,000 events).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["shown", "shown_text", "spreadsheet_cell", "xml_safe"]

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
    char = match.group()
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def shown(value: Any) -> str:
    """``value`` as text for a terminal or a text report, so that a file name or a sidecar
    value can neither move the cursor, clear the screen, retitle the window, reverse the line
    nor start a line of its own, and cannot pass for another value. ``None`` is ``""``.

    A value with control characters, bidi controls or line breaks in it is printed in double
    quotes with those escaped (``\\x1b``, ``\\n``, ``\\u202e``) and its backslashes and
    quotes escaped too (``\\\\``, ``\\"``): ``"sh010_\\x1b[2J.exr"``. So is a value that
    would read as escaped, one with a backslash before ``x``, ``u``, ``U``, ``n``, ``t``,
    ``r``, a backslash or a quote (a file named ``sh010_\\x1b[2J.exr`` in those characters
    is ``"sh010_\\\\x1b[2J.exr"``), or that starts with a quote. Any other value, a Windows
    path such as ``C:\\shows\\sh010.exr`` among them, is printed as it is.
    """
    text = "" if value is None else value if isinstance(value, str) else str(value)
    printable = text.isprintable()
    if printable and "\\" not in text and '"' not in text:  # the common value
        return text
    if (
        (printable or not _TERMINAL.search(text))  # each it escapes is not printable
        and not _READS_ESCAPED.search(text)
        and text[:1] != '"'
    ):
        return text
    return '"' + _QUOTED.sub(_escape, text) + '"'


def shown_text(value: Any) -> str:
    """A message, a sentence or a whole line for a terminal (a finding's message, an error
    line): its control characters, bidi controls and line breaks escaped as :func:`shown`
    escapes them, and nothing else changed, nor quoted (a YAML error quoting a tab as
    ``'\\t'`` reads as it did). The values a line is made of are :func:`shown` first where
    telling a name from its escaped spelling matters (asset names in tables). ``None`` is
    ``""``."""
    text = "" if value is None else value if isinstance(value, str) else str(value)
    if text.isprintable() or not _TERMINAL.search(text):
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
