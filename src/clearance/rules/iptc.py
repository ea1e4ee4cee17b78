"""IPTC digital source type (``IPTC-01`` … ``IPTC-04``): GenAI assets say so in the
machine-readable term downstream tools and platforms read.

``IPTC-01`` runs on GenAI assets; the consistency rules (``IPTC-02`` … ``IPTC-04``) run on
every asset with some provenance, including those that say ``generated: false``.
Terms: http://cv.iptc.org/newscodes/digitalsourcetype/ (release 2024-10-23).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Finding, Outcome
from ..provenance._iptc import source_type_term
from . import (
    GENAI_TERMS,
    KNOWN_TERMS,
    NON_GENAI_TERMS,
    RETIRED_TERMS,
    URI_PREFIXES,
    RuleContext,
    RulePack,
    iptc_term,
)
from ._common import enumerate_steps, genai_only, is_final, provenance_only, step_inputs

pack = RulePack("clearance.rules.iptc", params=())

#: Terms a comp with GenAI ingredients may carry (it says GenAI is in it).
GENAI_COMP_TERMS = GENAI_TERMS
#: Terms that say "no GenAI" (retired human-work terms included).
CLAIMS_NO_GENAI = NON_GENAI_TERMS | RETIRED_TERMS
#: URI prefixes accepted in embedded metadata (C2PA's own source-type namespace included).
FULL_URI_PREFIXES = URI_PREFIXES


def _source_types(ctx: RuleContext) -> list[tuple[str, str, str]]:
    """``(source, file, value)`` for every source that gives a digital source type."""
    found = []
    for partial in ctx.record.partials:
        value = partial.data.get("source_type")
        if isinstance(value, str) and value.strip():
            found.append((partial.source, partial.file, value))
    return found


def _term(ctx: RuleContext) -> str | None:
    """The asset's term, read as the readers and ``IPTC-02`` read it: case, surrounding
    spaces and a trailing ``/`` do not change what it says (``IPTC-04`` names the spelling)."""
    value = ctx.get("source_type", None)
    if not isinstance(value, str) or not value.strip():
        return None
    return source_type_term(value)


@pack.rule(
    "IPTC-01",
    title="GenAI asset lacks a GenAI source type",
    principle="provenance",
    outcome=Outcome.NOTICE,
    remediation=(
        "Write the IPTC DigitalSourceType on GenAI assets (source_type: trainedAlgorithmicMedia, "
        "compositeWithTrainedAlgorithmicMedia or compositeSynthetic, and the C2PA action)."
    ),
)
@genai_only
def genai_term_missing(ctx: RuleContext) -> Iterator[Finding]:
    """An asset made or edited with GenAI carries "Created using Generative AI", "Edited using
    Generative AI" or "Composite including generative AI elements"."""
    term = _term(ctx)
    if term in GENAI_TERMS:
        return
    final = is_final(ctx)
    yield ctx.finding(
        f"GenAI asset whose source_type is {term or 'missing'}, not one of the GenAI terms"
        + (" (final)" if final else ""),
        outcome=Outcome.BLOCK if final else Outcome.NOTICE,
        source_type=ctx.get("source_type", None),
    )


@pack.rule(
    "IPTC-02",
    title="Source type contradicts generated",
    principle="provenance",
    outcome=Outcome.BLOCK,
    remediation="The digital source type and 'generated' disagree; fix whichever is wrong in the metadata.",
)
@provenance_only
def term_contradiction(ctx: RuleContext) -> Iterator[Finding]:
    """The digital source type must tell the truth: a GenAI asset is never "digitalCapture",
    "digitalCreation", "humanEdits" or "algorithmicallyEnhanced", and a non-GenAI asset never
    carries a GenAI term."""
    generated = ctx.generated
    if generated is None:
        return
    for source, file, value in _source_types(ctx):
        # read as the readers read a term (case, spaces, a trailing slash): a miswritten
        # 'DigitalCapture ' still says "no GenAI" (IPTC-04 names the spelling)
        term = source_type_term(value)
        if generated and term in CLAIMS_NO_GENAI:
            yield ctx.finding(
                f"generated is true but {source} ({file}) says source type {term} (no GenAI)",
                source=source,
                file=file,
                source_type=value,
                generated=True,
            )
        elif not generated and term in GENAI_TERMS:
            yield ctx.finding(
                f"generated is false but {source} ({file}) says source type {term} (GenAI)",
                source=source,
                file=file,
                source_type=value,
                generated=False,
            )


def _genai_ingredients(ctx: RuleContext) -> list[dict[str, Any]]:
    found = []
    for index, step in enumerate_steps(ctx):
        for item in step_inputs(step):
            if item.get("class") == "generated":
                found.append({"step": index, "ref": item.get("ref")})
    return found


@pack.rule(
    "IPTC-03",
    title="GenAI ingredients not propagated",
    principle="provenance",
    outcome=Outcome.BLOCK,
    remediation=(
        "Propagate GenAI provenance from the ingredients to the comp: mark it compositeSynthetic "
        "(or another GenAI term) and generated: true."
    ),
)
@provenance_only
def ingredients_propagated(ctx: RuleContext) -> Iterator[Finding]:
    """ "Composite including generative AI elements": a comp with at least one GenAI layer is
    compositeSynthetic, so GenAI material cannot reach the final cut unnoticed."""
    ingredients = _genai_ingredients(ctx)
    declared = {str(i["ref"]) for i in ingredients}
    # lineage: GenAI material inherited through inputs audited earlier (docs/lineage.md)
    for ancestor in ctx.genai_ancestry:
        via = str(ancestor.get("via") or ancestor.get("ref"))
        if via not in declared:
            declared.add(via)
            ingredients.append(
                {"ref": via, "inherited_from": ancestor.get("asset"), "inherited": True}
            )
    if not ingredients:
        return
    term = _term(ctx)
    if term in GENAI_COMP_TERMS:
        return
    final = is_final(ctx)
    yield ctx.finding(
        f"{len(ingredients)} GenAI ingredient(s) ({', '.join(str(i['ref']) for i in ingredients)}) "
        f"but the source type is {term or 'missing'}",
        outcome=Outcome.BLOCK if final else Outcome.NOTICE,
        ingredients=ingredients,
        source_type=ctx.get("source_type", None),
    )


@pack.rule(
    "IPTC-04",
    title="Retired or malformed source type",
    principle="provenance",
    outcome=Outcome.NOTICE,
    remediation="Use a current term as its full URI, http://cv.iptc.org/newscodes/digitalsourcetype/<term>.",
)
@provenance_only
def term_form(ctx: RuleContext) -> Iterator[Finding]:
    """Use the current IPTC NewsCodes: retired terms ("minorHumanEdits", "softwareImage",
    "digitalArt") have successors, and embedded metadata carries the full cv.iptc.org URI."""
    for source, file, value in _source_types(ctx):
        stripped = value.strip()
        term = iptc_term(stripped)
        read = source_type_term(value)  # what every other rule reads it as
        problem = None
        if read in RETIRED_TERMS:
            problem = f"retired term {read}"
        elif term not in KNOWN_TERMS:
            problem = (
                f"miswritten term {value!r} (read as {read}; write it exactly)"
                if read in KNOWN_TERMS
                else f"unknown or misspelled term {term!r}"
            )
        elif value != stripped:
            problem = f"spaces around the term {value!r} (read as {read}; write it exactly)"
        elif source != "sidecar" and not stripped.startswith(FULL_URI_PREFIXES):
            problem = f"short name {value!r} instead of the full URI"
        if problem:
            yield ctx.finding(
                f"{source} ({file}): {problem}", source=source, file=file, source_type=value
            )
