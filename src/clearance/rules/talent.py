"""Talent and performance (``NFX-GP5``, ``NFX-T1`` … ``NFX-T5``): replicas, alterations,
talent models and the consents that cover them.

A consent is valid for a use when the record exists in the consents registry, names the same
performer and production, has not expired and lists the use (``employment_based_replica``,
``independent_replica``, ``background_replica``, ``significant_alteration``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Finding, Outcome
from . import RuleContext, RulePack
from ._common import (
    consent_problem,
    enumerate_steps,
    genai_only,
    invalid_note,
    record_id,
    shows_note,
    step_label,
    use_of,
)

pack = RulePack("clearance.rules.talent", params=())

#: Replica kinds that need the performer's consent (a synthetic performer is not a replica).
CONSENTED_REPLICAS = frozenset({"employment_based", "independent", "background"})
#: Customary alterations that need no further consent (SAG-AFTRA 2023 MOA list, as in N1).
CUSTOMARY_CATEGORIES = frozenset(
    {
        "cosmetics",
        "wardrobe",
        "noise_reduction",
        "timing",
        "continuity",
        "pitch",
        "clarity",
        "dubbing",
        "visual_effects",
    }
)


def _talent(ctx: RuleContext) -> Iterator[tuple[int, dict[str, Any]]]:
    return iter(ctx._indexed_talent)


def _replica(entry: dict[str, Any]) -> str | None:
    value = entry.get("replica")
    return value if isinstance(value, str) and value != "none" else None


def _unknown_facts(ctx: RuleContext, index: int, entry: dict[str, Any]) -> list[str]:
    """``replica`` and ``alteration`` where the entry gave them invalid (unknown, not absent)."""
    return [
        name
        for name in ("replica", "alteration")
        if name not in entry and ctx.invalid(f"talent[{index}].{name}")
    ]


def _needs_replica_consent(entry: dict[str, Any]) -> bool:
    return entry.get("replica") in CONSENTED_REPLICAS and not entry.get("exception")


def _excepted_replica(entry: dict[str, Any]) -> bool:
    """A replica that needs consent, used under an exception: no *further* consent for its
    use, but creating it still needs the performer's (N1; the use-case matrix's row 14:
    "consent to create still needed")."""
    return entry.get("replica") in CONSENTED_REPLICAS and bool(entry.get("exception"))


def _left_out(ctx: RuleContext, path: str) -> str:
    """`` (allowed_purposes[0] given invalid, left out: see PRV-02)`` for the entries of the
    list at ``path`` a sidecar gave invalid (an invalid entry is never read as allowing)."""
    prefix = path + "["
    gone = sorted(u for u in ctx.record.unknown if u.startswith(prefix))
    if not gone:
        return ""
    return f" ({', '.join(gone)} given invalid, left out: see PRV-02)"


def _talent_models(ctx: RuleContext) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
    for index, step in enumerate_steps(ctx):
        model = step.get("model")
        if isinstance(model, dict):
            yield index, step, model


@pack.rule(
    "NFX-GP5",
    title="Talent or union work affected",
    principle="talent",
    outcome=Outcome.APPROVAL,
    remediation=(
        "A performance or union-covered work is replaced or affected: attach the performer's "
        "consent and the union clearance, then request written approval."
    ),
)
@genai_only
def talent_and_union(ctx: RuleContext) -> Iterator[Finding]:
    """GenAI must not "replace or generate new talent performances or union-covered work
    without consent" (guiding principle 5)."""
    union_impact = ctx.fact("union_impact")
    if union_impact == "unknown":
        yield ctx.unsure(
            "union_impact",
            "whether union-covered work is replaced or affected is unknown"
            + invalid_note(ctx, "union_impact"),
        )
    elif isinstance(union_impact, str) and union_impact != "none":
        yield ctx.finding(
            f"union-covered work affected ({union_impact})", union_impact=union_impact
        )
    if not ctx._indexed_talent and ctx.invalid("talent"):
        yield ctx.unsure(
            "talent",
            "the talent list is invalid or misspelled (see PRV-02): whether a performance is replicated or "
            "altered is unknown",
        )
    for index, entry in _talent(ctx):
        performer = entry.get("performer")
        # A replica under an exception (as scripted, safety, unrecognizable) is not a new
        # performance: NFX-T1x logs it, and the matrix treats it as a notice, not an approval.
        replica = None if entry.get("exception") else _replica(entry)
        significant = entry.get("alteration") == "significant"
        if "replica" not in entry and "alteration" not in entry:
            yield ctx.unsure(
                f"talent[{index}].replica",
                f"performer {performer}: the sidecar does not say how the performance is used "
                "(no replica or alteration)" + invalid_note(ctx, f"talent[{index}]"),
                performer=performer,
            )
            continue
        # a field given invalid is unknown, never "none": unsure, and what is known still counts
        for name in _unknown_facts(ctx, index, entry):
            yield ctx.unsure(
                f"talent[{index}].{name}",
                f"performer {performer}: whether the performance is "
                f"{'replicated' if name == 'replica' else 'altered'} is unknown"
                + invalid_note(ctx, f"talent[{index}].{name}"),
                performer=performer,
            )
        if not (replica or significant):
            continue
        problems = []
        if _needs_replica_consent(entry):
            problem = consent_problem(ctx, entry, f"{replica}_replica", index)
            if problem:
                problems.append(problem)
        if significant:
            problem = consent_problem(ctx, entry, "significant_alteration", index)
            if problem:
                problems.append(problem)
        what = " and ".join(
            p
            for p in (
                f"{replica} replica" if replica else "",
                "significant alteration" if significant else "",
            )
            if p
        )
        if problems:
            yield ctx.finding(
                f"performer {performer}: {what} without valid consent ({'; '.join(problems)})",
                outcome=Outcome.BLOCK,
                performer=performer,
                problems=problems,
            )
        else:
            yield ctx.finding(
                f"performer {performer}: {what}",
                outcome=Outcome.APPROVAL,
                performer=performer,
                consent=entry.get("consent"),
            )


@pack.rule(
    "NFX-T1",
    title="Digital replica of real talent",
    principle="talent",
    outcome=Outcome.BLOCK,
    remediation=(
        "A digital replica of a real performer needs documented consent scoped to this "
        "production and use (and guild compliance, e.g. SAG-AFTRA), plus written approval."
    ),
)
@genai_only
def digital_replica(ctx: RuleContext) -> Iterator[Finding]:
    """No "digital performers, voices, or likenesses of real talent without explicit and
    documented consent and complying with guild requirements"."""
    for index, entry in _talent(ctx):
        # under an exception too: which consent to create it needs is as unknown
        if "replica" in _unknown_facts(ctx, index, entry):
            yield ctx.unsure(
                f"talent[{index}].replica",
                f"performer {entry.get('performer')}: whether the performance is a digital "
                f"replica is unknown{invalid_note(ctx, f'talent[{index}].replica')}",
                performer=entry.get("performer"),
            )
        if _excepted_replica(entry):
            yield from _consent_to_create(ctx, index, entry)
            continue
        if not _needs_replica_consent(entry):
            continue
        replica = entry["replica"]
        yield _consented(
            ctx, index, entry, f"{replica}_replica", f"{replica} replica", replica=replica
        )


def _consented(
    ctx: RuleContext, index: int, entry: dict[str, Any], kind: str, what: str, **facts: Any
) -> Finding:
    """The finding for ``what`` (``hero replica``, ``significant alteration``), which needs
    the performer's consent of ``kind``: a block without a valid one; with one, written
    approval is still needed. ``facts`` go into the evidence after the performer."""
    performer = entry.get("performer")
    consent = entry.get("consent")
    problem = consent_problem(ctx, entry, kind, index)
    if problem:
        return ctx.finding(
            f"performer {performer}: {what} without valid consent ({problem})",
            outcome=Outcome.BLOCK,
            performer=performer,
            **facts,
            consent=consent,
            reason=problem,
        )
    return ctx.finding(
        f"performer {performer}: {what} under consent {consent}; written approval needed",
        outcome=Outcome.APPROVAL,
        performer=performer,
        **facts,
        consent=consent,
    )


def _consent_to_create(ctx: RuleContext, index: int, entry: dict[str, Any]) -> Iterator[Finding]:
    """``NFX-T1`` for a replica under an exception: the exception waives the consent for
    its use, never the consent to create it (``NFX-T1x`` logs the exception itself)."""
    performer = entry.get("performer")
    replica = entry["replica"]
    problem = consent_problem(ctx, entry, f"{replica}_replica", index)
    if problem:
        yield ctx.finding(
            f"performer {performer}: {replica} replica under the {entry['exception']} "
            f"exception, without valid consent to create it ({problem}); the exception "
            "waives further consent, not the consent to create the replica",
            outcome=Outcome.BLOCK,
            performer=performer,
            replica=replica,
            exception=entry["exception"],
            consent=entry.get("consent"),
            reason=problem,
        )


@pack.rule(
    "NFX-T1x",
    title="Replica consent exception claimed",
    principle="talent",
    outcome=Outcome.NOTICE,
    remediation=(
        "An exception is claimed (as scripted, safety, unrecognizable): attach the script or "
        "recording reference, or the stunt-safety note, and flag the replica to the studio contact."
    ),
)
@genai_only
def replica_exception(ctx: RuleContext) -> Iterator[Finding]:
    """No further consent if the output "remains substantially as scripted, performed, or
    recorded", shows acts unsafe for a human, or leaves the performer "unrecognizable"."""
    for _index, entry in _talent(ctx):
        exception = entry.get("exception")
        if exception:
            replica = entry.get("replica")
            used = (
                f"replica used under the {exception} exception"
                if isinstance(replica, str) and replica not in ("none", "unknown")
                else f"the {exception} exception claimed, with no replica named "
                f"(replica: {'not given' if replica is None else replica})"
            )
            yield ctx.finding(
                f"performer {entry.get('performer')}: {used}",
                performer=entry.get("performer"),
                exception=exception,
                replica=replica,
            )


@pack.rule(
    "NFX-T2",
    title="Significant performance alteration",
    principle="talent",
    outcome=Outcome.BLOCK,
    remediation=(
        "The alteration changes emotional tone, delivery or intent (e.g. visual ADR): obtain the "
        "performer's consent for a significant alteration and written approval."
    ),
)
@genai_only
def significant_alteration(ctx: RuleContext) -> Iterator[Finding]:
    """ "Significant Digital Alterations" that affect "emotional tone, delivery, or intent"
    need consent; e.g. "visual ADR"."""
    for index, entry in _talent(ctx):
        if "alteration" in _unknown_facts(ctx, index, entry):
            yield ctx.unsure(
                f"talent[{index}].alteration",
                f"performer {entry.get('performer')}: whether the performance is significantly "
                f"altered is unknown{invalid_note(ctx, f'talent[{index}].alteration')}",
                performer=entry.get("performer"),
            )
        if entry.get("alteration") != "significant":
            continue
        yield _consented(ctx, index, entry, "significant_alteration", "significant alteration")


@pack.rule(
    "NFX-T3",
    title="Customary alteration",
    principle="talent",
    outcome=Outcome.NOTICE,
    remediation=(
        "Name the customary category of the alteration (talent[].alteration_category: cosmetics, "
        "wardrobe, noise_reduction, timing, continuity, pitch, clarity, dubbing, visual_effects); "
        "anything else is a significant alteration."
    ),
)
@genai_only
def customary_alteration(ctx: RuleContext) -> Iterator[Finding]:
    """Customary alterations need no further consent: "cosmetics, wardrobe, noise reduction,
    timing, continuity, pitch, clarity"; dubbing or doubles permitted by agreement. Digital
    alterations otherwise "generally need consent" (SAG-AFTRA: ``other`` without consent
    blocks)."""
    for index, entry in _talent(ctx):
        if entry.get("alteration") != "customary":
            continue
        performer = entry.get("performer")
        category = entry.get("alteration_category")
        if category in CUSTOMARY_CATEGORIES:
            yield ctx.finding(
                f"performer {performer}: customary alteration ({category}) logged",
                outcome=Outcome.PASS,
                performer=performer,
                category=category,
            )
        elif category == "other":
            # outside the customary list: an alteration that needs consent, as a significant one
            yield _consented(
                ctx,
                index,
                entry,
                "significant_alteration",
                "alteration claimed as customary, but its category is other (outside the "
                "customary list),",
                category=category,
            )
        else:
            # no category, or one nobody can read: whether it is customary is unknown
            given = (
                "none given"
                if category is None
                else "unknown"
                if category == "unknown"
                else f"{category!r} is not on the list"
            )
            yield ctx.unsure(
                f"talent[{index}].alteration_category",
                f"performer {performer}: alteration claimed as customary, but its category "
                f"({given}) does not say which customary purpose it serves"
                + invalid_note(ctx, f"talent[{index}].alteration_category"),
                performer=performer,
                category=category,
            )


@pack.rule(
    "NFX-T4",
    title="Talent model outside its scope",
    principle="talent",
    outcome=Outcome.BLOCK,
    remediation=(
        "The talent model is used outside the production or purpose it was consented for: stop "
        "and obtain consent from all parties (performer, production) for this use."
    ),
)
@genai_only
def talent_model_scope(ctx: RuleContext) -> Iterator[Finding]:
    """Talent models are "used solely for the production in question", never for "another
    production, pitch, or concept without the express consent of all parties"."""
    productions = ctx.productions
    use = use_of(ctx)
    for index, step, model in _talent_models(ctx):
        # written null (an empty value) is unknown; absent is "not trained on talent"
        trained = model.get("trained_on_talent", False)
        where: dict[str, Any] = {"step": index, "tool": step.get("tool"), "model": model.get("id")}
        if trained == "unknown" or trained is None:
            yield ctx.unsure(
                f"steps[{index}].model.trained_on_talent",
                f"{step_label(index, step, ctx)}: whether model {model.get('id')} was trained on talent is unknown",
                **where,
            )
            continue
        if trained is not True:
            continue
        allowed = model.get("allowed_productions")
        if not isinstance(allowed, list):
            yield ctx.unsure(
                f"steps[{index}].model.allowed_productions",
                f"{step_label(index, step, ctx)}: talent model {model.get('id')} does not say which productions it may serve",
                **where,
            )
            continue
        if productions is None:
            yield ctx.unsure("production", "the production of this asset is unknown", **where)
            continue
        outside = [p for p in productions if p not in allowed]
        if outside:
            production = outside[0]
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: talent model {model.get('id')} is consented for "
                f"{', '.join(map(str, allowed)) or 'no production'}, not {production}"
                + shows_note(productions)
                + _left_out(ctx, f"steps[{index}].model.allowed_productions"),
                allowed_productions=allowed,
                production=production,
                **where,
            )
            continue
        purposes = model.get("allowed_purposes")
        if not isinstance(purposes, list) and use == "pitch":
            # N1 names a pitch as outside a talent model's scope: it needs the model's
            # purposes to list it (the express consent of all parties), never silence
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: talent model {model.get('id')} used for a "
                "pitch, and its consented purposes (allowed_purposes) do not include pitch",
                allowed_purposes=None,
                use=use,
                **where,
            )
        elif isinstance(purposes, list):
            if use is None:
                yield ctx.unsure(
                    "output.use",
                    f"{step_label(index, step, ctx)}: talent model {model.get('id')} is limited to "
                    f"{', '.join(map(str, purposes))} and the output's use is unknown",
                    **where,
                )
            elif use not in purposes:
                yield ctx.finding(
                    f"{step_label(index, step, ctx)}: talent model {model.get('id')} used for {use}, "
                    f"outside its consented purposes ({', '.join(map(str, purposes))})"
                    + _left_out(ctx, f"steps[{index}].model.allowed_purposes"),
                    allowed_purposes=purposes,
                    use=use,
                    **where,
                )


@pack.rule(
    "NFX-T5",
    title="Talent enhancement without QA",
    principle="talent",
    outcome=Outcome.NOTICE,
    remediation="Attach the early creative/technical QA results (qa.test_record) for the talent enhancement.",
)
@genai_only
def talent_qa(ctx: RuleContext) -> Iterator[Finding]:
    """ "Perform early tests … plan dedicated data capture sessions … avoid enhancements that
    could harm the actor's reputation, dignity"."""
    if record_id(ctx.get("qa.test_record", None)):
        return
    reasons = [
        f"talent model {m.get('id')}"
        for _, _, m in _talent_models(ctx)
        if m.get("trained_on_talent") is True
    ]
    for _index, entry in _talent(ctx):
        if _replica(entry) and entry.get("replica") != "synthetic":
            reasons.append(f"{entry['replica']} replica of {entry.get('performer')}")
        if entry.get("alteration") == "significant":
            reasons.append(f"significant alteration of {entry.get('performer')}")
    if reasons:
        yield ctx.finding(
            f"talent enhancement without a QA test record: {', '.join(reasons)}",
            enhancements=reasons,
        )
