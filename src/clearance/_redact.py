"""Prompt redaction: prompt text never reaches the audit log in clear, whole or quoted in part.

A checker may quote a prompt in a finding's message or evidence, whole or in part (its first
words, a tail, a phrase). Every such quote is replaced by the prompt's hash marker
(``[prompt sha256:0123456789ab]``). A part counts as a quote when, compared case-insensitively
with every run of whitespace as one space, it is a piece of the prompt at least
:data:`MIN_CHARS` characters long that spans at least :data:`MIN_WORDS` words (its first and
last words may be cut), or any piece at least :data:`LONG_CHARS` long (text without spaces).
Shorter pieces (a single word, a two-word name that the prompt's ``references`` also give)
are left as written: they cannot be told from ordinary words.

The work is linear in the sizes of the prompt and the text: the prompt's pieces of
:data:`MIN_CHARS` characters are indexed once (a set), and the text is read once against it.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Sequence
from typing import Any

__all__ = ["MIN_CHARS", "MIN_WORDS", "LONG_CHARS", "prompt_hash", "redact_prompts"]

#: the shortest piece of a prompt that is redacted where a checker quotes it
MIN_CHARS = 12
#: ... when it spans at least this many words
MIN_WORDS = 3
#: ... or, whatever its words, when it is at least this long (a prompt without spaces)
LONG_CHARS = 24

_WORD = re.compile(r"\w+")


def prompt_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _marker(text: str) -> str:
    return f"[prompt {prompt_hash(text)[:19]}]"


def redact_prompts(value: Any, texts: Sequence[str]) -> Any:
    """``value`` with every prompt text, and every quoted part of one (see the module's
    docstring), replaced by the prompt's hash marker; strings nested in mappings and lists
    are redacted too (prompts never appear in clear)."""
    if not texts:
        return value
    if isinstance(value, str):
        for text in texts:
            if text in value:
                value = value.replace(text, _marker(text))
            if len(value) >= MIN_CHARS:
                value = _redact_parts(value, text)
        return value
    if isinstance(value, dict):
        return {k: redact_prompts(v, texts) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_prompts(v, texts) for v in value]
    return value


@functools.lru_cache(maxsize=8)
def _pieces(text: str) -> frozenset[str]:
    """Every piece of ``MIN_CHARS`` characters of the normalised prompt (once per prompt)."""
    folded = " ".join(text.casefold().split())
    return frozenset(folded[i : i + MIN_CHARS] for i in range(len(folded) - MIN_CHARS + 1))


def _normalised(value: str) -> tuple[str, list[int]]:
    """``value`` casefolded with each whitespace run as one space, and for each of its
    characters the index of the character of ``value`` it came from."""
    chars: list[str] = []
    origin: list[int] = []
    space = False
    for index, char in enumerate(value):
        if char.isspace():
            if not space:
                chars.append(" ")
                origin.append(index)
            space = True
            continue
        space = False
        folded = char.casefold()
        chars.append(folded)
        origin.extend([index] * len(folded))
    return "".join(chars), origin


def _redact_parts(value: str, text: str) -> str:
    pieces = _pieces(text)
    if not pieces:
        return value
    folded, origin = _normalised(value)
    spans: list[list[int]] = []  # runs of overlapping pieces found in the prompt
    for start in range(len(folded) - MIN_CHARS + 1):
        if folded[start : start + MIN_CHARS] in pieces:
            end = start + MIN_CHARS
            if spans and start <= spans[-1][1]:
                spans[-1][1] = end
            else:
                spans.append([start, end])
    if not spans:
        return value
    out: list[str] = []
    done = 0
    for start, end in spans:
        while folded[start] == " ":
            start += 1
        while folded[end - 1] == " ":
            end -= 1
        piece = folded[start:end]
        if len(piece) < LONG_CHARS and (
            len(piece) < MIN_CHARS or len(_WORD.findall(piece)) < MIN_WORDS
        ):
            continue
        first, last = origin[start], origin[end - 1] + 1
        out.append(value[done:first])
        out.append(_marker(text))
        done = last
    out.append(value[done:])
    return "".join(out)
