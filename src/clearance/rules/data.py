"""Data handling and data use (``NFX-GP2``, ``GP3``, ``D1``, ``D1b``, ``D2``, ``V1``, ``V2``).

Judged step by step (``NFX-V1``: "each step in the pipeline must meet our standards"): every
finding names the step index and tool in ``evidence.step`` / ``evidence.tool``. Tool terms
come from the tool registry (``tools.yaml``), never from the sidecar.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..model import Finding, Outcome
from . import RuleContext, RulePack
from ._common import (
    enumerate_steps,
    genai_only,
    invalid_note,
    is_unknown,
    record_id,
    step_evidence,
    step_inputs,
    step_label,
)

pack = RulePack("clearance.rules.data", params=())

#: Input classes that make a retention/training tool a hard stop (GP2 → block).
SENSITIVE_FOR_TRAINING = frozenset({"unreleased", "personal_data"})
#: Studio-owned or personal material (NFX-D1).
PROPRIETARY = frozenset({"unreleased", "script", "production_image", "personal_data", "contract"})
#: Sensitive even in enterprise tools (NFX-D1b).
SENSITIVE = frozenset({"talent_likeness", "unreleased", "contract"})
#: Training sources that need a rights clearance (NFX-D2).
NEEDS_CLEARANCE = frozenset(
    {"third_party_unowned", "talent_likeness", "third_party_licensed", "unknown"}
)


#: The registry terms that let a tool keep or train on what it is given, with the values
#: that do (NFX-GP2); built once, not per step of every asset.
_RISKY_TERMS: tuple[tuple[str, Callable[[Any], bool]], ...] = (
    ("trains_on_inputs", lambda v: v is True),
    ("retains_data", lambda v: v in ("limited", "indefinite")),
    ("reuses_outputs", lambda v: v is True),
)


def _no_steps(ctx: RuleContext) -> bool:
    return not ctx.indexed_steps


def _no_steps_why(ctx: RuleContext) -> str:
    """Why no step can be checked: none declared, or ``steps`` given but invalid (never said
    to be missing when it was written)."""
    if ctx.invalid("steps"):
        return "the workflow's steps are invalid or misspelled (steps: see PRV-02)"
    return "no workflow steps are declared"


def _unregistered(ctx: RuleContext, index: int, *, short: bool = False) -> str:
    """Why a step's tool has no registry entry: not registered, or given invalid."""
    if ctx.invalid(f"steps[{index}].tool"):
        return "the tool is invalid or misspelled: see PRV-02"
    return "not registered" if short else "the tool is not registered"


def _classes(step: dict[str, Any], wanted: frozenset[str]) -> list[dict[str, Any]]:
    return [i for i in step_inputs(step) if i.get("class") in wanted]


def _refs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"ref": i.get("ref"), "class": i.get("class")} for i in inputs]


@pack.rule(
    "NFX-GP2",
    title="Tool may keep or train on inputs",
    principle="data-handling",
    outcome=Outcome.APPROVAL,
    remediation=(
        "The tool's terms allow (or do not rule out) retention, reuse or training on production "
        "inputs/outputs. Switch to an enterprise or zero-retention tier or an approved tool, or "
        "obtain written approval."
    ),
)
@genai_only
def tool_data_terms(ctx: RuleContext) -> Iterator[Finding]:
    """Ensure tools "do not store, reuse, or train on production data inputs or outputs"
    (guiding principle 2)."""
    if _no_steps(ctx):
        yield ctx.unsure("steps", f"{_no_steps_why(ctx)}, so the tools' data terms are unknown")
        return
    for index, step in enumerate_steps(ctx):
        tool_id = step.get("tool")
        where = step_evidence(index, step)
        tool = ctx.tool(step)
        if tool is None:
            yield ctx.unsure(
                f"steps[{index}].tool",
                f"{step_label(index, step, ctx)}: {_unregistered(ctx, index)}, so its data "
                "terms are unknown",
                **where,
            )
            continue
        risky: list[str] = []
        unknown: list[str] = []
        for term, bad in _RISKY_TERMS:
            value = tool.get(term)
            if is_unknown(value):
                unknown.append(term)
            elif bad(value):
                risky.append(f"{term}: {str(value).lower()}")
        sensitive = _classes(step, SENSITIVE_FOR_TRAINING)
        if risky and sensitive:
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: the tool's terms allow {', '.join(risky)} and the step's "
                f"inputs include {', '.join(sorted({str(i.get('class')) for i in sensitive}))} material",
                outcome=Outcome.BLOCK,
                terms=risky,
                inputs=_refs(sensitive),
                **where,
            )
        elif risky:
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: the tool's terms allow {', '.join(risky)}",
                outcome=Outcome.APPROVAL,
                terms=risky,
                **where,
            )
        if unknown and not (risky and sensitive):
            yield ctx.unsure(
                f"tools.{tool_id}.{unknown[0]}",
                f"{step_label(index, step, ctx)}: the tool registry does not say {', '.join(unknown)}",
                unknown=unknown,
                **where,
            )


@pack.rule(
    "NFX-GP3",
    title="Not an enterprise-secured tool",
    principle="enterprise",
    outcome=Outcome.NOTICE,
    remediation="Use a studio-enterprise or enterprise-secured deployment of the tool where one is available.",
)
@genai_only
def enterprise_deployment(ctx: RuleContext) -> Iterator[Finding]:
    """ "Where possible", tools are used in an "enterprise-secured environment"
    (guiding principle 3)."""
    if _no_steps(ctx):
        yield ctx.unsure("steps", f"{_no_steps_why(ctx)}, so the tools' deployment is unknown")
        return
    for index, step in enumerate_steps(ctx):
        tool_id = step.get("tool")
        where = step_evidence(index, step)
        tool = ctx.tool(step)
        deployment = tool.get("deployment") if tool is not None else None
        if tool is None or is_unknown(deployment):
            yield ctx.unsure(
                f"steps[{index}].tool" if tool is None else f"tools.{tool_id}.deployment",
                f"{step_label(index, step, ctx)}: the tool's deployment is unknown "
                f"({_unregistered(ctx, index, short=True)})"
                if tool is None
                else f"{step_label(index, step, ctx)}: the tool registry does not give its deployment",
                **where,
            )
        elif deployment == "consumer":
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: the tool runs as a consumer service, not in an "
                "enterprise-secured environment",
                deployment=deployment,
                **where,
            )


@pack.rule(
    "NFX-D1",
    title="Proprietary or personal data as input",
    principle="data-use",
    outcome=Outcome.APPROVAL,
    remediation=(
        "Studio-owned or personal material (unreleased assets, scripts, production images, "
        "personal data, contracts) is a GenAI input: get explicit written approval and use an "
        "enterprise tool."
    ),
    params=("enterprise_downgrade",),
)
@genai_only
def proprietary_inputs(ctx: RuleContext) -> Iterator[Finding]:
    """ "Do not input Netflix-owned materials (e.g., unreleased assets, scripts, production
    images) or personal data … unless explicitly approved"."""
    downgrade = ctx.settings.get("enterprise_downgrade") is True
    for index, step in enumerate_steps(ctx):
        found = _classes(step, PROPRIETARY)
        if not found:
            continue
        tool = ctx.tool(step)
        enterprise = tool is not None and tool.get("deployment") == "studio_enterprise"
        outcome = Outcome.NOTICE if downgrade and enterprise else Outcome.APPROVAL
        classes = sorted({str(i.get("class")) for i in found})
        yield ctx.finding(
            f"{step_label(index, step, ctx)}: studio-owned or personal material used as input "
            f"({', '.join(classes)})"
            + (" in a studio-enterprise tool" if outcome is Outcome.NOTICE else ""),
            outcome=outcome,
            step=index,
            tool=step.get("tool"),
            inputs=_refs(found),
        )


@pack.rule(
    "NFX-D1b",
    title="Sensitive input, even in enterprise tools",
    principle="data-use",
    outcome=Outcome.APPROVAL,
    remediation=(
        "Enterprise tooling does not exempt sensitive inputs (talent likeness, unreleased "
        "footage, contracts): escalate to the studio contact and obtain written approval."
    ),
)
@genai_only
def sensitive_inputs(ctx: RuleContext) -> Iterator[Finding]:
    """ "Even with secure tools, any use of sensitive information (e.g., talent likeness,
    unreleased footage, contracts) requires escalation"."""
    for index, step in enumerate_steps(ctx):
        found = _classes(step, SENSITIVE)
        if found:
            classes = sorted({str(i.get("class")) for i in found})
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: sensitive material used as input ({', '.join(classes)})",
                step=index,
                tool=step.get("tool"),
                inputs=_refs(found),
            )


@pack.rule(
    "NFX-D2",
    title="Training on uncleared material",
    principle="data-use",
    outcome=Outcome.BLOCK,
    remediation=(
        "Fine-tuning used third-party, talent or unowned material without a rights clearance: "
        "remove that data and retrain, or attach the clearance and request written approval."
    ),
)
@genai_only
def training_clearance(ctx: RuleContext) -> Iterator[Finding]:
    """ "Do not train or fine-tune models using material from artists, performers, or other
    rights holders unless you have the proper legal clearance"."""
    productions = ctx.productions or ()
    for index, step in enumerate_steps(ctx):
        training = step.get("training")
        if not isinstance(training, dict):
            continue
        performed = training.get("performed")
        sources = [s for s in training.get("sources") or [] if isinstance(s, dict)]
        where: dict[str, Any] = {"step": index, "tool": step.get("tool")}
        # unknown: written so or null (an empty value), or not said while sources are listed
        if (
            performed == "unknown"
            or (performed is None and "performed" in training)
            or (performed is None and sources)
        ):
            yield ctx.unsure(
                f"steps[{index}].training.performed",
                f"{step_label(index, step, ctx)}: whether a model was trained or fine-tuned is unknown"
                + invalid_note(ctx, f"steps[{index}].training.performed"),
                **where,
            )
            continue
        if performed is not True:
            continue
        if not sources:
            field = f"steps[{index}].training.sources"
            yield ctx.unsure(
                field,
                f"{step_label(index, step, ctx)}: a model was trained but its training sources "
                + (
                    "are invalid or misspelled (see PRV-02)"
                    if ctx.invalid(field)
                    else "are not listed"
                ),
                **where,
            )
            continue
        rights_held = []
        for source in sources:
            kind = source.get("class") or "unknown"
            owner = source.get("owner")
            # owned by the production only when by every one it is audited for
            foreign_owner = isinstance(owner, str) and (
                not productions or any(owner != p for p in productions)
            )
            if kind in NEEDS_CLEARANCE or foreign_owner:
                rights_held.append(source)
        if not rights_held:
            continue
        uncleared = [s for s in rights_held if not record_id(s.get("clearance"))]
        listed = [
            {
                "ref": s.get("ref"),
                "class": s.get("class"),
                "owner": s.get("owner"),
                "clearance": s.get("clearance"),
            }
            for s in rights_held
        ]
        if uncleared:
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: trained on {len(uncleared)} source(s) from other rights "
                "holders without a clearance",
                outcome=Outcome.BLOCK,
                sources=listed,
                **where,
            )
        else:
            yield ctx.finding(
                f"{step_label(index, step, ctx)}: trained on cleared third-party material; written approval needed",
                outcome=Outcome.APPROVAL,
                sources=listed,
                **where,
            )


@pack.rule(
    "NFX-V1",
    title="Workflow step not declared",
    principle="vendors",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Declare every step of the workflow with its tool and its inputs (an empty list if it "
        "has none), so each step can be checked against the data and consent rules."
    ),
)
@genai_only
def workflow_steps(ctx: RuleContext) -> Iterator[Finding]:
    """Custom workflows: "each step in the pipeline must meet our standards" for data
    protection, consent and content integrity."""
    if _no_steps(ctx):
        yield ctx.unsure(
            "steps",
            "the GenAI workflow's steps are invalid or misspelled (see PRV-02)"
            if ctx.invalid("steps")
            else "the GenAI workflow is not declared (no steps)",
        )
        return
    for index, step in enumerate_steps(ctx):
        missing = []
        if not isinstance(step.get("tool"), str) or not step.get("tool"):
            missing.append(f"steps[{index}].tool")
        if not isinstance(step.get("inputs"), list):
            missing.append(f"steps[{index}].inputs")
        if missing:
            invalid = [m for m in missing if ctx.invalid(m)]
            said = [m.rsplit(".", 1)[1] for m in missing if m not in invalid]
            what = [f"does not declare {' or '.join(said)}"] if said else []
            if invalid:
                names = " and ".join(m.rsplit(".", 1)[1] for m in invalid)
                what.append(f"gives {names} invalid or misspelled (see PRV-02)")
            yield ctx.unsure(
                missing[0],
                f"{step_label(index, step, ctx)} {'; '.join(what)}",
                fields=missing,
                step=index,
                tool=step.get("tool") if isinstance(step.get("tool"), str) else None,
            )


@pack.rule(
    "NFX-V2",
    title="Vendor without attestation",
    principle="vendors",
    outcome=Outcome.NOTICE,
    remediation="Obtain the vendor's attestation covering data handling, consent and final-output provenance.",
)
@genai_only
def vendor_attestation(ctx: RuleContext) -> Iterator[Finding]:
    """When hiring a vendor or AI studio, use this guidance "to assess how they manage data,
    creative control and outputs"."""
    vendor_id = ctx.get("vendor.id", None)
    if (
        isinstance(vendor_id, str)
        and vendor_id
        and not record_id(ctx.get("vendor.attestation", None))
    ):
        yield ctx.finding(
            f"vendor {vendor_id} has no data-handling attestation on record", vendor=vendor_id
        )
