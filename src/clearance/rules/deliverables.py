"""Final deliverables and on-screen elements (``NFX-GP4``, ``NFX-F1``, ``NFX-F2``, ``NFX-F3``).

"Final" means a stage marked ``final: true``, ``output.use: final`` or
``output.in_final_cut: true``.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, Outcome
from . import RuleContext, RulePack
from ._common import ON_SCREEN, genai_only, invalid_note, is_final, is_genai

pack = RulePack("clearance.rules.deliverables", params=())

#: Prominence that makes a prop "prominent" (read aloud, story-relevant) rather than incidental.
PROMINENT = frozenset({"referenced", "read_aloud", "story_relevant"})


@pack.rule(
    "NFX-GP4",
    title="GenAI in final deliverables",
    principle="deliverables",
    outcome=Outcome.APPROVAL,
    remediation=(
        "GenAI material is headed for the final deliverables: flag it early to the studio "
        "contact and obtain written approval after legal review."
    ),
)
def final_deliverable(ctx: RuleContext) -> Iterator[Finding]:
    """Generated material "is temporary and not part of the final deliverables"
    (guiding principle 4)."""
    # GenAI assets, and assets built on GenAI material audited earlier (docs/lineage.md)
    inherited = [a.get("asset") or a.get("ref") for a in ctx.genai_ancestry]
    if not is_genai(ctx) and not inherited:
        unknown = ctx.unknown_ancestors
        if unknown and is_final(ctx):  # unknown is unsure, never a pass
            yield _unknown_ancestry(ctx, unknown)
        return
    if is_final(ctx):
        why = (
            f"stage {ctx.stage.name} is final"
            if ctx.stage.final
            else "output.in_final_cut is true"
            if ctx.get("output.in_final_cut", None) is True
            and ctx.get("output.use", None) != "final"
            else "output.use is final"
        )
        more = ctx.genai_ancestry_omitted  # past the 1,000 the ancestry lists
        if inherited and not is_genai(ctx):
            why += f"; built on GenAI material: {', '.join(map(str, inherited))}"
            why += f" and {more} more" if more else ""
        finding = ctx.finding(
            f"GenAI material is part of the final deliverables ({why})",
            stage_final=ctx.stage.final,
        )
        if inherited:
            finding.evidence["inherited_from"] = inherited
        if more:
            finding.evidence["inherited_omitted"] = more
        yield finding
    elif ctx.use is None:
        yield ctx.unsure(
            "output.use", "the output's use is unknown, so it may reach the final deliverables"
        )
    elif ctx.fact("output.in_final_cut") == "unknown":
        yield ctx.unsure(
            "output.in_final_cut",
            f"output.in_final_cut is unknown{invalid_note(ctx, 'output.in_final_cut')}: the "
            "asset may be in the final cut",
        )


def _unknown_ancestry(ctx: RuleContext, unknown: list[str]) -> Finding:
    """A final asset built on ancestors whose GenAI status is unknown: unsure (escalate)."""
    shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
    finding = ctx.unsure(
        "ancestry.unknown",
        f"final asset built on material whose GenAI status is unknown: {shown}; it may contain "
        "GenAI material",
        unknown_ancestors=unknown,
    )
    finding.outcome = Outcome.ESCALATE  # unsure: seek guidance, not an approval of GenAI use
    finding.remediation = (
        "Fix the provenance of the ancestors named in evidence.unknown_ancestors (a valid "
        "sidecar that says whether they are generated), audit them again, then this asset."
    )
    return finding


@pack.rule(
    "NFX-F1",
    title="On-screen GenAI not flagged",
    principle="on-screen",
    outcome=Outcome.NOTICE,
    remediation=(
        "The GenAI element is seen or heard on screen: flag it to the studio contact for legal "
        "guidance now and record the date in disclosure.flagged_at."
    ),
)
@genai_only
def on_screen_flag(ctx: RuleContext) -> Iterator[Finding]:
    """ "Flag any GenAI-generated elements early", especially if they will be seen or heard on
    screen, "even in the background"."""
    on_screen = ctx.get("output.on_screen", None)
    if on_screen in ON_SCREEN:
        if not ctx.get("disclosure.flagged_at", None):
            yield ctx.finding(
                f"GenAI element on screen ({on_screen}) has not been flagged to the studio contact",
                on_screen=on_screen,
            )
    elif on_screen is None and ctx.invalid("output.on_screen"):
        yield ctx.unsure(
            "output.on_screen",
            f"output.on_screen is unknown{invalid_note(ctx, 'output.on_screen')}: the GenAI "
            "element may be seen on screen",
        )
    elif on_screen is None and is_final(ctx):
        yield ctx.unsure(
            "output.on_screen",
            "final GenAI asset with no output.on_screen: it may be seen on screen",
        )


@pack.rule(
    "NFX-F2",
    title="GenAI prop needs clearance",
    principle="on-screen",
    outcome=Outcome.APPROVAL,
    remediation=(
        "A prominent or story-relevant GenAI prop (poster, document, signage, news clipping): "
        "route it through legal review and rights clearance, and obtain written approval."
    ),
)
@genai_only
def prop_prominence(ctx: RuleContext) -> Iterator[Finding]:
    """Posters, documents, signage and news clippings "may require rights clearance";
    incidental elements differ from prominent ones (read aloud, story-relevant)."""
    element = ctx.get("output.element_type", None)
    prominence = ctx.get("output.prominence", None)
    if element is None and prominence is None:
        invalid = [f for f in ("output.element_type", "output.prominence") if ctx.invalid(f)]
        if invalid:  # given, but invalid: it may be a prominent prop
            yield ctx.unsure(
                invalid[0],
                "whether the GenAI element is a prop, and how prominent, is unknown"
                + invalid_note(ctx, invalid[0]),
            )
        return
    label = element or "prop"
    if prominence in PROMINENT:
        yield ctx.finding(
            f"GenAI {label} is {str(prominence).replace('_', ' ')}",
            outcome=Outcome.APPROVAL,
            element_type=element,
            prominence=prominence,
        )
    elif prominence == "incidental":
        yield ctx.finding(
            f"GenAI {label} is incidental; keep it incidental or clear its rights",
            outcome=Outcome.NOTICE,
            element_type=element,
            prominence=prominence,
        )
    else:
        yield ctx.unsure(
            "output.prominence",
            f"GenAI {label} with "
            + (
                f"an unknown output.prominence{invalid_note(ctx, 'output.prominence')}"
                if ctx.invalid("output.prominence")
                else "no output.prominence"
            )
            + ": incidental or prominent is unknown",
            element_type=element,
        )


@pack.rule(
    "NFX-F3",
    title="No human contribution recorded",
    principle="deliverables",
    outcome=Outcome.NOTICE,
    remediation="Document the human authorship and edits on the final GenAI-derived element (output.human_contribution).",
)
@genai_only
def human_contribution(ctx: RuleContext) -> Iterator[Finding]:
    """The final version "should involve meaningful human input"."""
    contribution = ctx.get("output.human_contribution", None)
    if is_final(ctx) and not (isinstance(contribution, str) and contribution.strip()):
        yield ctx.finding("final GenAI asset records no human contribution")
