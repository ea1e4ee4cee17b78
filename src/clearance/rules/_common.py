"""Helpers shared by the built-in rule packs: which assets a rule looks at, and the small
questions several rules ask (is it final, is a value unknown, is a consent valid).

Private to the built-in packs; site packs may copy what they need but should not import it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from ..approvals import as_date
from ..model import MISSING, Finding
from . import GENAI_ONLY, PROVENANCE_ONLY, RuleContext, guard_check

__all__ = [
    "EARLY_USES",
    "ON_SCREEN",
    "UNKNOWN",
    "genai_only",
    "has_provenance",
    "is_final",
    "is_genai",
    "is_unknown",
    "is_true",
    "record_id",
    "consent_problem",
    "invalid_note",
    "step_evidence",
    "step_label",
]

#: Uses that never reach the screen as such (GUIDANCE: ideation, pitch, previs, temp).
EARLY_USES = frozenset({"ideation", "pitch", "previs", "temp"})
#: ``output.on_screen`` values that mean the element is seen or heard.
ON_SCREEN = frozenset({"background", "prominent", "audible"})
#: How a sidecar says "nobody knows": the value ``unknown``, or an explicit null.
UNKNOWN: Any = "unknown"

Check = Callable[[RuleContext], "Iterable[Finding] | Finding | None"]


def is_unknown(value: Any) -> bool:
    """Missing, null or ``unknown``: the rule must not read this as "no"."""
    return value is MISSING or value is None or value == UNKNOWN


def is_true(value: Any) -> bool:
    return value is True


#: What a sidecar writes in place of a record id when there is none, or nobody knows it.
NO_RECORD = frozenset({"", "unknown", "none", "null"})


def record_id(value: Any) -> str | None:
    """A permission, clearance or attestation id as given, or None when there is none: not a
    string, blank, or a word that says there is none (``unknown``, ``none``, ``null``, any
    case). ``permission: unknown`` is no permission: unsure is never a pass."""
    if not isinstance(value, str) or value.strip().lower() in NO_RECORD:
        return None
    return value


def has_provenance(ctx: RuleContext) -> bool:
    """Something is known about the asset (a sidecar, even a broken one, or embedded data)."""
    return ctx.record.present


def is_genai(ctx: RuleContext) -> bool:
    """Rules other than ``PRV-*`` run on GenAI assets: ``generated: true``, or ``generated``
    unknown while something is known about the asset (an unsure status is never "no")."""
    return ctx.is_genai


def genai_only(check: Check) -> Check:
    """Run ``check`` on GenAI assets only (see :func:`is_genai`); keeps its docstring."""

    @functools.wraps(check)
    def wrapper(ctx: RuleContext) -> Iterable[Finding] | Finding | None:
        if not ctx.is_genai:
            return None
        return check(ctx)

    guard_check(wrapper, GENAI_ONLY, check)
    return wrapper


def provenance_only(check: Check) -> Check:
    """Run ``check`` on every asset that has some provenance (IPTC consistency rules)."""

    @functools.wraps(check)
    def wrapper(ctx: RuleContext) -> Iterable[Finding] | Finding | None:
        if not has_provenance(ctx):
            return None
        return check(ctx)

    guard_check(wrapper, PROVENANCE_ONLY, check)
    return wrapper


def is_final(ctx: RuleContext) -> bool:
    """Final: a ``final: true`` stage, ``output.use: final`` or ``output.in_final_cut: true``."""
    return ctx._final


def use_of(ctx: RuleContext) -> str | None:
    """The output's use (``final`` for a final asset), or None when unknown."""
    if is_final(ctx):
        return "final"
    return ctx.use


def step_label(index: int, step: dict[str, Any], ctx: RuleContext | None = None) -> str:
    """``step 0 (acme)``; ``step 0 (no tool)``, or ``(tool invalid)`` when the sidecar gave
    one that is invalid (never said to be missing when it was written)."""
    tool = step.get("tool")
    if isinstance(tool, str):
        return f"step {index} ({tool})"
    where = ctx.record.unknown_at(f"steps[{index}].tool") if ctx is not None else None
    if where is not None:
        return f"step {index} ({'invalid' if where == f'steps[{index}]' else 'tool invalid'})"
    return f"step {index} (no tool)"


def shows_note(productions: tuple[str, ...]) -> str:
    """`` (its sidecar names SHOW01, clearance.yaml SHOW02: it must be cleared for both)``
    when the asset is audited for two productions, else ``""``."""
    if len(productions) < 2:
        return ""
    return (
        f" (its sidecar names {productions[0]}, clearance.yaml {productions[1]}: it must be "
        "cleared for both)"
    )


def invalid_note(ctx: RuleContext, path: str) -> str:
    """`` (steps[1].inputs is invalid or misspelled: see PRV-02)`` when the sidecar gave
    ``path``, or the mapping or list entry it is in, invalid or under a misspelled key
    (:meth:`RuleContext.invalid`), else ``""``."""
    where = ctx.record.unknown_at(path)
    return f" ({where} is invalid or misspelled: see PRV-02)" if where is not None else ""


def step_evidence(index: int, step: dict[str, Any]) -> dict[str, Any]:
    """``{"step": N, "tool": id}``: which step of the workflow a finding is about."""
    tool_id = step.get("tool")
    return {"step": index, "tool": tool_id if isinstance(tool_id, str) else None}


def enumerate_steps(ctx: RuleContext) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(index, step)`` with the index as written in the sidecar (``steps[index]``)."""
    return iter(ctx.indexed_steps)


def step_inputs(step: dict[str, Any]) -> list[dict[str, Any]]:
    inputs = step.get("inputs")
    if not isinstance(inputs, list):
        return []
    return [item for item in inputs if isinstance(item, dict)]


def consent_problem(
    ctx: RuleContext, entry: dict[str, Any], use: str, index: int | None = None
) -> str | None:
    """Why ``entry`` (``talent[index]``)'s consent does not cover ``use`` (None when it does).

    Valid means: the consent record exists, names the same performer and production, has
    been signed (``signed_at`` not after the audit's date) and not expired, and lists ``use``
    among its ``uses``. A consent the sidecar gave invalid is
    unknown: it cannot be shown to cover anything.
    """
    consent_id = entry.get("consent")
    if not isinstance(consent_id, str) or not consent_id:
        marked = ctx.record.unknown_at(f"talent[{index}].consent") if index is not None else None
        if marked is not None and "consent" not in entry:
            return f"the consent is unknown: {marked} is invalid or misspelled (see PRV-02)"
        return "no consent record is given"
    consent = ctx.consent(consent_id)
    if consent is None:
        return f"consent {consent_id} is not in the consents registry"
    performer = entry.get("performer")
    if consent.get("performer") != performer:
        return f"consent {consent_id} is for performer {consent.get('performer')}, not {performer}"
    productions = ctx.productions
    if productions is None:
        return (
            f"consent {consent_id} is for production {consent.get('production')}, and this "
            "asset's production is unknown ("
            + (
                "given invalid, see PRV-02"
                if ctx.invalid("production")
                else "neither its sidecar nor clearance.yaml gives one"
            )
            + ")"
        )
    for production in productions:  # one consent is for one production: both must be it
        if consent.get("production") != production:
            return (
                f"consent {consent_id} is for production {consent.get('production')}, not "
                f"{production}" + shows_note(productions)
            )
    expires = as_date(consent.get("expires"))
    if expires is None:
        return f"consent {consent_id} has no valid expiry date"
    if expires < ctx.policy.today:
        return f"consent {consent_id} expired on {expires.isoformat()}"
    signed = as_date(consent.get("signed_at"))
    if signed is not None and signed > ctx.policy.today:
        # not signed yet on the day of the audit, as an approval's approved_at
        return f"consent {consent_id} takes effect on {signed.isoformat()} (its signed_at)"
    uses = consent.get("uses") or []
    if use not in uses:
        return f"consent {consent_id} does not cover {use} (it covers: {', '.join(map(str, uses)) or 'nothing'})"
    return None
