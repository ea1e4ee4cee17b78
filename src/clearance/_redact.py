"""Prompt redaction: prompt text never reaches the audit log in clear, whole or quoted in part.

A checker may quote a prompt in a finding's message, evidence (keys included), remediation or
principle, or in an exception text, whole or in part (its first words, a tail, a phrase, a
slug of it). Every such quote is replaced by the prompt's hash marker
(``[prompt sha256:0123456789ab]``).

Text is compared by its letters and digits only: case-folded, NFKD-normalised with combining
marks dropped (accents, NFD text), and with every other character — whitespace,
punctuation, ``_``, ``-``, invisible format characters (zero-width spaces, soft hyphens) —
counted as a word break and otherwise ignored. The whole prompt is replaced where it stands
as whole words (never inside a longer word: a prompt ``a`` is not every letter ``a``). A part
is replaced when it is a piece of the prompt of at least :data:`MIN_CHARS` letters and
digits spanning at least :data:`MIN_WORDS` words (its first and last words may be cut), or
any piece of at least :data:`LONG_CHARS` letters and digits. Shorter pieces (a single word, a
two-word name that the prompt's ``references`` also give) are left as written: they cannot be
told from ordinary words.

The work is linear in the sizes of the prompts and the text: a :class:`PromptRedactor` indexes
each prompt's pieces once (build one per asset), and each text is read once per prompt.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

__all__ = [
    "MIN_CHARS",
    "MIN_WORDS",
    "LONG_CHARS",
    "PromptRedactor",
    "letters_and_breaks",
    "prompt_hash",
    "redact_prompts",
]

#: the fewest letters and digits of a prompt's piece that is redacted where a checker quotes it
MIN_CHARS = 10
#: ... when it spans at least this many words
MIN_WORDS = 3
#: ... or, whatever its words, when it has at least this many (a prompt without spaces)
LONG_CHARS = 24

_MARKS = frozenset(("Mn", "Mc", "Me"))


def prompt_hash(text: str) -> str:
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _marker(text: str) -> str:
    return f"[prompt {prompt_hash(text)[:19]}]"


_ASCII_WORD = re.compile(r"[A-Za-z0-9]+")


def _normalised(value: str) -> tuple[str, list[int], list[bool]]:
    """``value``'s letters and digits, folded (see the module's docstring); for each, the
    index of the character of ``value`` it came from, and whether a word break precedes it."""
    chars: list[str] = []
    origin: list[int] = []
    breaks: list[bool] = []
    if value.isascii():  # the usual text: a word at a time, not a character at a time
        for word in _ASCII_WORD.finditer(value):
            start, end = word.span()
            chars.append(word.group())
            origin.extend(range(start, end))
            breaks.append(True)
            breaks.extend([False] * (end - start - 1))
        return "".join(chars).lower(), origin, breaks
    gap = True
    for index, char in enumerate(value):
        if char.isascii():
            if char.isalnum():
                chars.append(char.lower())
                origin.append(index)
                breaks.append(gap)
                gap = False
            else:
                gap = True
            continue
        for part in unicodedata.normalize("NFKD", char.casefold()):
            if unicodedata.category(part) in _MARKS:
                continue  # an accent: part of its letter, never a break
            if part.isalnum():
                chars.append(part)
                origin.append(index)
                breaks.append(gap)
                gap = False
            else:
                gap = True
    return "".join(chars), origin, breaks


def letters_and_breaks(value: str) -> tuple[str, list[int], list[bool]]:
    """``value`` compared as prompts are here (see the module's docstring): its folded
    letters and digits; for each, the index of the character of ``value`` it came from,
    and whether a word break precedes it. ``NFX-C2``'s denylist matches names this way
    (``clearance.rules._denylist``)."""
    return _normalised(value)


def _folded(value: str) -> str:
    """The letters and digits :func:`_normalised` gives, without their positions."""
    if value.isascii():
        return "".join(_ASCII_WORD.findall(value)).lower()
    return _normalised(value)[0]


def _pieces(folded: str) -> frozenset[str]:
    """Every piece of ``MIN_CHARS`` letters and digits of a normalised prompt."""
    return frozenset(folded[i : i + MIN_CHARS] for i in range(len(folded) - MIN_CHARS + 1))


#: a piece of MIN_CHARS letters holds a whole stretch of this many starting at a multiple of
#: it in the text: text with none of the prompt's stretches there quotes no part of it
_GRAM = MIN_CHARS // 2


class _Prompt:
    __slots__ = ("folded", "grams", "marker", "pieces")

    def __init__(self, text: str) -> None:
        self.folded = _normalised(text)[0]
        self.marker = _marker(text)
        self.pieces = _pieces(self.folded)
        folded = self.folded
        self.grams = frozenset(folded[i : i + _GRAM] for i in range(len(folded) - _GRAM + 1))

    def may_be_in(self, folded: str) -> bool:
        """Could ``folded`` (a text's :func:`_folded` letters) hold this prompt or a part of
        it? False only when it cannot: it has neither the whole prompt nor, at any multiple
        of :data:`_GRAM`, a stretch of it (every quoted part holds one)."""
        if self.folded in folded:
            return True
        grams = self.grams
        return bool(self.pieces) and any(
            folded[at : at + _GRAM] in grams for at in range(0, len(folded) - _GRAM + 1, _GRAM)
        )


class PromptRedactor:
    """The prompts of one asset (or of a stage's assets), indexed once, to redact every text
    written about them."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = [t for t in texts if t]
        self._index: list[_Prompt] | None = None  # built at the first text to redact

    def __bool__(self) -> bool:
        return bool(self._texts)

    @property
    def _prompts(self) -> list[_Prompt]:
        if self._index is None:  # most assets have nothing written that could quote them
            prompts = (_Prompt(t) for t in sorted(set(self._texts), key=len, reverse=True))
            self._index = [p for p in prompts if p.folded]
        return self._index

    def redact(self, value: Any) -> Any:
        """``value`` with every prompt, and every quoted part of one, replaced by the
        prompt's hash marker; strings nested in mappings (keys too) and lists as well."""
        if not self._texts or not self._prompts:
            return value
        if isinstance(value, str):
            folded = _folded(value)
            norm = None  # positions and breaks: only for a text that may quote a prompt
            for prompt in self._prompts:
                if not prompt.may_be_in(folded):
                    continue
                if norm is None:
                    norm = _normalised(value)
                redacted = _redact_text(value, prompt, norm)
                if redacted is not value:
                    value, norm = redacted, None
                    folded = _folded(value)
            return value
        if isinstance(value, dict):
            return {self.redact(k): self.redact(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self.redact(v) for v in value]
        return value


def redact_prompts(value: Any, texts: Sequence[str]) -> Any:
    """``value`` redacted of ``texts`` (see :meth:`PromptRedactor.redact`); to redact many
    values with the same prompts, build one :class:`PromptRedactor`."""
    return PromptRedactor(texts).redact(value)


def _redact_text(
    value: str, prompt: _Prompt, norm: tuple[str, list[int], list[bool]] | None = None
) -> str:
    """``value`` with ``prompt`` and its quoted parts replaced (``value`` itself, the same
    object, when nothing is); ``norm``: ``_normalised(value)`` if the caller has it."""
    folded, origin, breaks = norm if norm is not None else _normalised(value)
    if len(folded) < len(prompt.folded) and len(folded) < MIN_CHARS:
        return value
    size = len(folded)
    spans: list[list[int]] = []
    # the whole prompt, where it stands as whole words
    whole = prompt.folded
    at = folded.find(whole)
    while at >= 0:
        end = at + len(whole)
        if breaks[at] and (end == size or breaks[end]):
            spans.append([at, end])
        at = folded.find(whole, at + 1)
    # quoted parts: runs of overlapping pieces found in the prompt
    pieces = prompt.pieces  # (the quick look, _Prompt.may_be_in, is the caller's)
    parts: list[list[int]] = []
    if pieces:
        for start in range(size - MIN_CHARS + 1):
            if folded[start : start + MIN_CHARS] in pieces:
                end = start + MIN_CHARS
                if parts and start <= parts[-1][1]:
                    parts[-1][1] = end
                else:
                    parts.append([start, end])
    for start, end in parts:
        words = 1 + sum(breaks[start + 1 : end])
        if end - start >= LONG_CHARS or words >= MIN_WORDS:
            spans.append([start, end])
    if not spans:
        return value
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    done = 0
    for start, end in merged:
        first, last = origin[start], origin[end - 1] + 1
        while last < len(value) and unicodedata.category(value[last]) in _MARKS:
            last += 1  # an accent written after the quote's last letter (NFD text)
        out.append(value[done:first])
        out.append(prompt.marker)
        done = last
    out.append(value[done:])
    return "".join(out)
