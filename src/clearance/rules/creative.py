"""Creative output (``NFX-GP1``, ``NFX-C1``, ``NFX-C2``): unowned material, key creative
elements, and prompts that name protected works or real people.

Prompt text is read for denylisted names but never copied into a finding: evidence names
the step and the matched name only. How a name is matched: ``_denylist.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Finding, Outcome
from . import RuleContext, RulePack
from ._common import (
    ON_SCREEN,
    enumerate_steps,
    genai_only,
    invalid_note,
    is_final,
    record_id,
    step_inputs,
    step_label,
    use_of,
)
from ._denylist import Denylist

pack = RulePack("clearance.rules.creative", params=())

#: Prompt reference types that need a permission.
PROTECTED_REFERENCES = frozenset(
    {"copyrighted_work", "named_artist", "public_figure", "deceased_person", "performer_feature"}
)
#: ``output.subject`` values that are "central to the story".
KEY_SUBJECTS = frozenset({"main_character", "key_visual", "central_setting"})
#: Uses before which a key element is still exploration (NFX-C1 applies "past ideation").
EXPLORATION = frozenset({"ideation", "pitch"})


def _references(step: dict[str, Any]) -> list[dict[str, Any]]:
    prompt = step.get("prompt")
    if not isinstance(prompt, dict):
        return []
    refs = prompt.get("references")
    return [r for r in refs if isinstance(r, dict)] if isinstance(refs, list) else []


def _unknown_references(ctx: RuleContext, index: int, step: dict[str, Any]) -> list[str]:
    """The prompt references of step ``index`` (or their ``type``) the sidecar gave invalid:
    unknown, never "no reference"."""
    where = f"steps[{index}].prompt.references"
    prompt = step.get("prompt")
    refs = prompt.get("references") if isinstance(prompt, dict) else None
    if not isinstance(refs, list):
        return [where] if ctx.invalid(where) else []
    return [
        f"{where}[{k}].type"
        for k, ref in enumerate(refs)
        if isinstance(ref, dict) and "type" not in ref and ctx.invalid(f"{where}[{k}].type")
    ]


def _describe(ref: dict[str, Any]) -> str:
    name = ref.get("name")
    return f"{ref.get('type')} {name!r}" if name else str(ref.get("type"))


@pack.rule(
    "NFX-GP1",
    title="May recreate unowned material",
    principle="unowned-material",
    outcome=Outcome.APPROVAL,
    remediation=(
        "The output may reproduce unowned or copyrighted material: remove the references or "
        "uncleared inputs and regenerate, or obtain a clearance plus written approval; record a "
        "similarity review (output.similarity_review) before final."
    ),
)
@genai_only
def unowned_material(ctx: RuleContext) -> Iterator[Finding]:
    """Outputs must not "substantially recreate identifiable characteristics of unowned or
    copyrighted material" (guiding principle 1)."""
    review = ctx.get("output.similarity_review", None)
    if review == "failed":
        yield ctx.finding(
            "the similarity review failed: the output resembles unowned or copyrighted material",
            outcome=Outcome.BLOCK,
            similarity_review=review,
        )
    for index, step in enumerate_steps(ctx):
        uncleared_refs = [
            {"type": r.get("type"), "name": r.get("name")}
            for r in _references(step)
            if r.get("type") in PROTECTED_REFERENCES and not record_id(r.get("permission"))
        ]
        if uncleared_refs:
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: the prompt references protected material without permission "
                f"({', '.join(_describe(r) for r in uncleared_refs)})",
                step=index,
                tool=step.get("tool"),
                references=uncleared_refs,
            )
        inputs = step_inputs(step)
        unowned = [
            i
            for i in inputs
            if i.get("class") == "third_party_unowned" and not record_id(i.get("clearance"))
        ]
        if unowned:
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: unowned third-party material used as input without a clearance "
                f"({', '.join(str(i.get('ref')) for i in unowned)})",
                step=index,
                tool=step.get("tool"),
                inputs=[{"ref": i.get("ref"), "class": i.get("class")} for i in unowned],
            )
        unread = _unknown_references(ctx, index, step)
        if unread:
            yield ctx.unsure(
                unread[0],
                f"{step_label(index, step, ctx)}: whether the prompt references protected "
                f"material is unknown{invalid_note(ctx, unread[0])}",
                step=index,
                tool=step.get("tool"),
            )
        unknown = [i for i in inputs if i.get("class") == "unknown"]
        if unknown:
            yield ctx.unsure(
                f"steps[{index}].inputs[].class",
                f"{step_label(index, step, ctx)}: the rights status of input(s) "
                f"{', '.join(str(i.get('ref')) for i in unknown)} is unknown",
                step=index,
                tool=step.get("tool"),
                inputs=[str(i.get("ref")) for i in unknown],
            )
    if is_final(ctx) and review in (None, "none"):
        yield ctx.unsure(
            "output.similarity_review",
            "final GenAI output has no similarity review against unowned or copyrighted material",
        )


@pack.rule(
    "NFX-C1",
    title="Key creative element generated",
    principle="creative-output",
    outcome=Outcome.APPROVAL,
    remediation=(
        "A main character, key visual or central setting is generated with GenAI past ideation: "
        "obtain written approval before it goes further."
    ),
)
@genai_only
def key_creative_element(ctx: RuleContext) -> Iterator[Finding]:
    """Do not generate "main characters, key visual elements, or fictional settings that are
    central to the story without written approval"."""
    subject = ctx.get("output.subject", None)
    use = use_of(ctx)
    if subject in KEY_SUBJECTS:
        if use is None:
            yield ctx.unsure(
                "output.use",
                f"generated {subject.replace('_', ' ')} with an unknown use (past ideation cannot be ruled out)",
                subject=subject,
            )
        elif use not in EXPLORATION:
            yield ctx.finding(
                f"generated {subject.replace('_', ' ')} for {use} use",
                subject=subject,
                use=use,
            )
    elif subject is None and use not in EXPLORATION and ctx.invalid("output.subject"):
        yield ctx.unsure(
            "output.subject",
            f"output.subject is unknown{invalid_note(ctx, 'output.subject')}: the GenAI "
            "element may be a key creative element",
        )
    elif (
        subject is None
        and use not in EXPLORATION
        and ctx.get("output.on_screen", None) in ON_SCREEN
    ):
        yield ctx.unsure(
            "output.subject",
            "on-screen GenAI element with no output.subject: it may be a key creative element",
            on_screen=ctx.get("output.on_screen"),
        )


def _denylist(ctx: RuleContext) -> Denylist:
    """NFX-C2's ``denylist``, folded once per policy (for as long as its ``rules`` settings
    are the same mapping: :meth:`~clearance.policy.Policy.rule_settings` memoises them)."""
    settings = ctx.settings
    memo = ctx.policy.__dict__.get("_nfx_c2_denylist")
    if memo is None or memo[0] is not settings:
        configured = settings.get("denylist") or []
        if isinstance(configured, str):  # a single name written without a list
            configured = [configured]
        names = [n.strip() for n in configured if isinstance(n, str) and n.strip()]
        memo = ctx.policy.__dict__["_nfx_c2_denylist"] = (settings, Denylist(names))
    return memo[1]  # type: ignore[no-any-return]


@pack.rule(
    "NFX-C2",
    title="Prompt names protected work or person",
    principle="creative-output",
    outcome=Outcome.APPROVAL,
    remediation=(
        "The prompt references a copyrighted work, artist, public figure, deceased person or a "
        "performer's features: strip the reference and regenerate, or attach the permission."
    ),
    params=("denylist",),
)
@genai_only
def protected_references(ctx: RuleContext) -> Iterator[Finding]:
    """Avoid inputs "that reference copyrighted materials or likenesses of public figures or
    deceased individuals without appropriate permissions"."""
    denylist = _denylist(ctx)
    final = is_final(ctx)
    for index, step in enumerate_steps(ctx):
        where: dict[str, Any] = {"step": index, "tool": step.get("tool")}
        for ref in _references(step):
            raw_name = ref.get("name")
            name = raw_name if isinstance(raw_name, str) else ""
            denied = denylist.names_in(name)
            protected = ref.get("type") in PROTECTED_REFERENCES
            if not (protected or denied):
                continue
            permission = record_id(ref.get("permission"))
            if protected and permission and not denied:
                continue
            outcome = Outcome.BLOCK if final and not permission else Outcome.APPROVAL
            why = (
                "denylisted name " + ", ".join(repr(n) for n in denied)
                if denied
                else "no permission"
            )
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: the prompt references {_describe(ref)} ({why})"
                + (" in a final asset" if outcome is Outcome.BLOCK else ""),
                outcome=outcome,
                reference={
                    "type": ref.get("type"),
                    "name": ref.get("name"),
                    "permission": permission,
                },
                denylisted=denied,
                **where,
            )
        prompt = step.get("prompt")
        text = prompt.get("text") if isinstance(prompt, dict) else None
        if isinstance(text, str) and denylist:
            hits = denylist.names_in(text)
            if hits:
                yield ctx.finding(
                    f"{step_label(index, step, ctx)}: the prompt text names denylisted "
                    f"{', '.join(repr(h) for h in hits)}",
                    outcome=Outcome.BLOCK if final else Outcome.APPROVAL,
                    denylisted=hits,
                    field=f"steps[{index}].prompt.text",
                    **where,
                )
