"""The IPTC Digital Source Type vocabulary, as far as "was GenAI used?" is concerned.

Shared by the XMP, EXR and C2PA readers so that the three agree on what a term means.
The terms are those of http://cv.iptc.org/newscodes/digitalsourcetype/ (release 2024-10-23),
plus C2PA's own ``http://c2pa.org/digitalsourcetype/…`` URIs and IPTC's retired terms (still
found in older files).
"""

from __future__ import annotations

import functools

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
C2PA_PREFIX = "http://c2pa.org/digitalsourcetype/"

# GenAI was used to make or edit the asset. compositeSynthetic only says "some element is
# synthetic", but in a VFX pipeline that element is almost always generated, and an auditor
# must not read an ambiguous term as "no".
GENAI_TERMS = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "compositeSynthetic",
        "trainedAlgorithmicData",  # C2PA's term for non-media GenAI output
    }
)

# Terms that positively say "no generative model": capture, human work, non-generative
# algorithms (procedural, denoise/upres).
CURRENT_NON_GENAI_TERMS = frozenset(
    {
        "digitalCapture",
        "computationalCapture",
        "negativeFilm",
        "positiveFilm",
        "print",
        "humanEdits",
        "digitalCreation",
        "compositeCapture",
        "screenCapture",
        "algorithmicallyEnhanced",
        "algorithmicMedia",
        "dataDrivenMedia",
    }
)
# IPTC's retired terms for human software work (still found in older files): also "no GenAI".
RETIRED_TERMS = frozenset({"softwareImage", "digitalArt", "minorHumanEdits"})
NON_GENAI_TERMS = CURRENT_NON_GENAI_TERMS | RETIRED_TERMS
# Current terms that do not decide either way: GenAI and/or capture, and C2PA's "empty"
# (an asset started from a blank canvas).
UNDECIDED_TERMS = frozenset({"composite", "virtualRecording", "empty"})
KNOWN_TERMS = GENAI_TERMS | CURRENT_NON_GENAI_TERMS | UNDECIDED_TERMS

# The undecided terms and everything else (unknown or misspelled terms) say nothing about
# GenAI: the readers report ``generated`` as unknown, never as False.

#: The full-URI forms of a term, for readers and rules alike: IPTC's and C2PA's namespaces.
URI_PREFIXES = (
    IPTC_PREFIX,
    "https://cv.iptc.org/newscodes/digitalsourcetype/",
    C2PA_PREFIX,
    "https://c2pa.org/digitalsourcetype/",
)
_BY_LOWER = {t.lower(): t for t in GENAI_TERMS | NON_GENAI_TERMS}


@functools.lru_cache(maxsize=1024)
def source_type_term(value: str) -> str:
    """The bare term of a digital source type URI or short name (``trainedAlgorithmicMedia``).

    Case and a trailing slash are normalised only to find the term; callers keep the value as
    found, so the IPTC rules can still flag a short name or a misspelling. (Memoised: a show
    writes a handful of values, each asked for by the readers and the rules of every asset.)
    """
    text = value.strip().rstrip("/")
    lower = text.lower()
    for prefix in URI_PREFIXES:
        if lower.startswith(prefix):
            text, lower = text[len(prefix) :], lower[len(prefix) :]
            break
    return _BY_LOWER.get(lower, text)


def generated_from_source_type(value: object) -> bool | None:
    """True for a GenAI term, False for a term that excludes GenAI, None when it does not say."""
    if not isinstance(value, str) or not value.strip():
        return None
    term = source_type_term(value)
    if term in GENAI_TERMS:
        return True
    if term in NON_GENAI_TERMS:
        return False
    return None
