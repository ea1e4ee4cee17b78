"""Disclosure, ethics and representation (``NFX-00``, ``NFX-01``, ``NFX-E1``, ``NFX-E2``).

``NFX-01`` ("no or unsure on any principle → escalate") is defined here for listings and
approvals but has no check: it is the engine's semantics, carried by every rule's *unsure*
findings.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, Outcome, Rule
from . import RuleContext, RulePack
from ._common import EARLY_USES, ON_SCREEN, genai_only, is_final, use_of

pack = RulePack("clearance.rules.ethics", params=())

#: Genres in which content presented as authentic is a hard stop.
FACTUAL_GENRES = frozenset({"documentary", "news"})


@pack.rule(
    "NFX-00",
    title="GenAI use not disclosed",
    principle="disclosure",
    outcome=Outcome.NOTICE,
    remediation=(
        "Log this GenAI use with your studio contact (tool, purpose, inputs, output use) before "
        "proceeding, and record the date in disclosure.notified_at."
    ),
)
@genai_only
def disclosure(ctx: RuleContext) -> Iterator[Finding]:
    """Partners are expected "to share any intended use of GenAI with their Netflix contact"."""
    if not ctx.get("disclosure.notified_at", None):
        yield ctx.finding(
            "GenAI use has not been shared with the studio contact (no disclosure.notified_at)"
        )


pack.define(
    Rule(
        id="NFX-01",
        title="Principle unmet or unsure",
        principle="disclosure",
        outcome=Outcome.ESCALATE,
        guidance=(
            'If you answer "no" or "unsure" to any of the guiding principles, "escalate to your '
            'Netflix contact … written approval may be required". Engine semantics: every rule '
            "that cannot decide gives an unsure finding (never a pass); no finding of its own."
        ),
        remediation=(
            "One or more guiding principles are unmet or unknown: complete the missing provenance "
            "fields, or escalate to your studio contact and attach written approval."
        ),
        pack=pack.pack,
    )
)


@pack.rule(
    "NFX-E1",
    title="Could be mistaken for real",
    principle="ethics",
    outcome=Outcome.APPROVAL,
    remediation=(
        "The output could pass as a real person, event or statement (e.g. fabricated news or "
        "archival footage): redesign it, or obtain written approval and plan an on-screen or "
        "credits disclosure."
    ),
)
@genai_only
def mistaken_for_real(ctx: RuleContext) -> Iterator[Finding]:
    """Avoid content that "could be mistaken for real events, people, or statements", e.g. a
    fake news segment with a real journalist, "even if intended as background"."""
    depicts = ctx.fact("output.depicts_real")
    authentic = ctx.fact("output.presented_as_authentic")
    genre = ctx.policy.genre
    if authentic is True and genre in FACTUAL_GENRES:
        yield ctx.finding(
            f"GenAI output presented as authentic in a {genre} production",
            outcome=Outcome.BLOCK,
            presented_as_authentic=True,
            genre=genre,
        )
        return
    if authentic is True and genre is None:
        # a documentary or news production blocks this, a fiction asks for approval: an
        # unknown genre is unsure between the two, which no approval may clear alone
        unsure = ctx.unsure(
            "production.genre",
            "GenAI output presented as authentic, and the production's genre is unknown "
            "(clearance.yaml gives no production.genre): in a documentary or news "
            "production this blocks",
        )
        unsure.outcome = Outcome.ESCALATE
        unsure.remediation = (
            "Set the production's genre (production.genre: fiction, documentary or news) in "
            "clearance.yaml."
        )
        yield unsure
    if depicts is True or authentic is True:
        what = (
            "depicts a real person, place or event"
            if depicts is True
            else "is presented as authentic"
        )
        if depicts is True and authentic is True:
            what += " and is presented as authentic"
        yield ctx.finding(
            f"GenAI output {what}",
            outcome=Outcome.APPROVAL,
            depicts_real=depicts is True,
            presented_as_authentic=authentic is True,
            genre=genre,
        )
        return
    unknown = [
        f"output.{name}"
        for name, v in (("depicts_real", depicts), ("presented_as_authentic", authentic))
        if v == "unknown"
    ]
    if unknown:
        yield ctx.unsure(
            unknown[0], f"whether the output could pass as real is unknown ({', '.join(unknown)})"
        )


@pack.rule(
    "NFX-E2",
    title="Union-covered work replaced",
    principle="union",
    outcome=Outcome.APPROVAL,
    remediation=(
        "GenAI substitutes or materially affects union-covered work (actors, background, writers, "
        "crew) or adds a synthetic performer: attach the guild agreement or approval."
    ),
)
@genai_only
def union_work(ctx: RuleContext) -> Iterator[Finding]:
    """GenAI must not "replace or materially impact work typically done by union-represented
    individuals … without proper approvals or agreements"."""
    union_impact = ctx.fact("union_impact")
    synthetic = ctx.fact("output.synthetic_performer")
    reasons = []
    if isinstance(union_impact, str) and union_impact not in ("none", "unknown"):
        reasons.append(f"union-covered {union_impact} work affected")
    if synthetic is True:
        reasons.append("synthetic performer")
    if not reasons:
        if synthetic == "unknown":
            yield ctx.unsure(
                "output.synthetic_performer",
                "whether the output contains a synthetic performer is unknown",
            )
        return
    use = use_of(ctx)
    on_screen = ctx.get("output.on_screen", None)
    evidence = {
        "union_impact": union_impact if isinstance(union_impact, str) else None,
        "synthetic_performer": synthetic is True,
    }
    if is_final(ctx):
        yield ctx.finding(
            f"{' and '.join(reasons)} in a final asset",
            outcome=Outcome.APPROVAL,
            use="final",
            **evidence,
        )
    elif use in EARLY_USES:
        yield ctx.finding(
            f"{' and '.join(reasons)} ({use} use)", outcome=Outcome.NOTICE, use=use, **evidence
        )
    elif on_screen in ON_SCREEN:
        yield ctx.finding(
            f"{' and '.join(reasons)} on screen ({on_screen})",
            outcome=Outcome.APPROVAL,
            on_screen=on_screen,
            **evidence,
        )
    else:
        yield ctx.unsure(
            "output.use", f"{' and '.join(reasons)}; the output's use is unknown", **evidence
        )
