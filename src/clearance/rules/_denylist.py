"""How ``NFX-C2`` finds a denylisted name in prompt text and reference names.

Text and names are compared as the prompt redaction compares them
(:func:`clearance._redact.letters_and_breaks`): by their letters and digits only, case-folded
and compatibility-normalised (NFKD, so every NFKC-equal spelling too: full-width letters,
ligatures), accents dropped, and every other character — spaces, punctuation, ``_``, ``-``,
invisible format characters — ignored. So ``Squid Game`` is found in ``squid  game``,
``squid-game``, ``SquidGame`` and ``SQUID_GAME``, and ``Amélie`` in ``AMELIE``.

Where a name may stand in the text: as whole words, for every name (``Ed`` is not in
``edit``, ``Marvel`` not in ``marvelous``, ``Sting`` not in ``testing``):

* a name starts and ends at a word edge of the text — a separator, the text's start or end,
  a change from lower to upper case (``EdSheeran``, ``HBOMax``) or between letters and
  digits (``Cars2``). Separators are ignored inside a name, so ``spider man`` is a whole-word
  ``Spiderman`` and ``squidgame`` a whole-word ``Squid Game``. In a script without case (CJK,
  kana, Thai, Arabic, ...) every letter counts as a word edge: such text is often written
  without spaces, so a name there matches anywhere.
* inside a hashtag or handle (``#harrypotter``, ``@dunemovie``: letters and digits right
  after ``#`` or ``@``), which is words written without spaces, a name matches anywhere
  (``Potter``, ``Dune``), short or long.
* a longer name (more than :data:`SHORT` letters and digits) may also end in one of
  :data:`ENDINGS`, a plural or an adjective made of the name (``Squid Games``,
  ``iPhones``, ``Kubrickian``, ``Tolkienesque``). A short name may not: ``Dune`` is not in
  ``dunes``, ``Cars`` not in ``scars``.
* a name with no letter or digit at all (an emoji) is looked for as written,
  case-insensitively.

A :class:`Denylist` is built once per policy (``creative.py`` memoises it) and reads each
text once; a name is looked at closely only where its letters occur.
"""

from __future__ import annotations

from collections.abc import Iterable

from .._redact import letters_and_breaks

__all__ = ["SHORT", "Denylist"]

#: names of at most this many letters and digits never take an ending (``dunes``)
SHORT = 4
#: endings a longer name may take and still be the name: plurals and adjectives made of it
ENDINGS = frozenset({"s", "es", "ian", "ean", "esque", "ish"})
_LONGEST_ENDING = max(map(len, ENDINGS))


class _Name:
    __slots__ = ("folded", "raw", "short", "splits", "written")

    def __init__(self, written: str) -> None:
        self.written = written
        folded, _origin, breaks = letters_and_breaks(written)
        self.folded = folded
        #: offsets in ``folded`` where the name itself has a separator (``Squid Game``: 5)
        self.splits = frozenset(i for i in range(1, len(folded)) if breaks[i])
        self.short = len(folded) <= SHORT
        self.raw = written.casefold() if not folded else ""


def _uncased_letter(char: str) -> bool:
    """A letter of a script without case (CJK, kana, Thai, Arabic, ...)."""
    return not char.isascii() and char.isalpha() and not (char.isupper() or char.islower())


class _Text:
    """One text, folded once, with its word edges worked out when a name needs them."""

    __slots__ = ("_edges", "_tags", "breaks", "folded", "origin", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.folded, self.origin, self.breaks = letters_and_breaks(text)
        self._edges: list[bool] | None = None
        self._tags: list[bool] | None = None

    def _ending(self, end: int) -> bool:
        """Do the letters from ``end`` to the next word edge make one of :data:`ENDINGS`?"""
        stop = end + 1
        limit = min(len(self.folded), end + _LONGEST_ENDING)
        while stop <= limit and not self.edge(stop):
            stop += 1
        return self.edge(stop) and self.folded[end:stop] in ENDINGS

    def _in_tag(self, at: int, end: int) -> bool:
        """Is ``folded[at:end]`` inside one run of letters and digits that follows ``#`` or
        ``@`` (a hashtag or handle: words written without spaces)?"""
        breaks = self.breaks
        if any(breaks[k] for k in range(at + 1, end)):
            return False
        if self._tags is None:
            self._tags = self._tag_runs()
        return self._tags[at]

    def _tag_runs(self) -> list[bool]:
        """Per letter of ``folded``: is its run of letters and digits a hashtag or handle?
        Worked out once, in one pass (looking back from each occurrence of a name to the
        start of its run took a 100 KB prompt of ``dunedune...`` a minute)."""
        text, origin, breaks = self.text, self.origin, self.breaks
        tags = [False] * len(origin)
        tag = False
        for k in range(len(origin)):
            if k == 0 or breaks[k]:
                before = origin[k] - 1
                tag = before >= 0 and text[before] in "#@"
            tags[k] = tag
        return tags

    def edge(self, at: int) -> bool:
        """Does a word start (or end) at ``at`` in ``folded``?"""
        if at <= 0 or at >= len(self.folded):
            return True
        if self._edges is None:
            self._edges = self._word_edges()
        return self._edges[at]

    def _word_edges(self) -> list[bool]:
        text, origin, breaks = self.text, self.origin, self.breaks
        size = len(origin)
        edges = list(breaks)
        for k in range(1, size):
            if edges[k] or origin[k] == origin[k - 1]:  # (one character folded to several)
                continue
            before, char = text[origin[k - 1]], text[origin[k]]
            if _uncased_letter(before) or _uncased_letter(char):
                edges[k] = True  # a script written without spaces: no word edge to find
            elif before.isdigit() != char.isdigit():
                edges[k] = True  # Cars2
            elif before.islower() and char.isupper():
                edges[k] = True  # EdSheeran
            elif before.isupper() and char.isupper() and k + 1 < size and not breaks[k + 1]:
                edges[k] = text[origin[k + 1]].islower()  # HBOMax: a word starts at M
        return edges

    def has(self, name: _Name) -> bool:
        if not name.folded:
            return bool(name.raw) and name.raw in self.text.casefold()
        folded = self.folded
        at = folded.find(name.folded)
        while at >= 0:
            end = at + len(name.folded)
            if self.edge(at) and (self.edge(end) or (not name.short and self._ending(end))):
                return True  # whole words (Squid Game, SquidGame), or a longer name's ending
            if self._in_tag(at, end):
                return True  # #harrypotter, #dunemovie
            at = folded.find(name.folded, at + 1)
        return False


class Denylist:
    """The configured names, folded once; :meth:`names_in` tells which a text names."""

    def __init__(self, names: Iterable[str]) -> None:
        self._names = [_Name(n) for n in names]

    def __bool__(self) -> bool:
        return bool(self._names)

    def names_in(self, text: str) -> list[str]:
        """The names (as configured, in their order) that ``text`` names."""
        if not self._names or not text:
            return []
        found = _Text(text)
        folded = found.folded
        return [
            n.written
            for n in self._names
            if (n.folded in folded if n.folded else n.raw) and found.has(n)
        ]
