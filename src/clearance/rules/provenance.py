"""Provenance hygiene (``PRV-*``): is there a record, does it parse, do its sources agree.

These rules run on every asset, GenAI or not, and cannot be turned off (except ``PRV-03``
and ``PRV-04``). They are also the worked example of a rule pack for TDs: one small
function per rule, the docstring quoting what it enforces, the fix in ``remediation``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..model import Finding, Outcome, Rule
from ..provenance.sidecar import frame_sidecars
from . import RuleContext, RulePack
from ._common import enumerate_steps

pack = RulePack("clearance.rules.provenance", params=())


@pack.rule(
    "PRV-01",
    title="No provenance",
    principle="provenance",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Write the sidecar next to the asset: NAME.EXT.genai.yaml for a single file, "
        "PREFIX.genai.yaml for a frame sequence (or embed IPTC/C2PA provenance)."
    ),
)
def no_provenance(ctx: RuleContext) -> Iterator[Finding]:
    """An asset in a stage folder with no provenance at all (no sidecar, nothing embedded)
    is "unsure" on every principle: "No or unsure on any principle → escalate"."""
    if not ctx.record.present:
        frames = frame_sidecars(ctx.asset) if ctx.asset is not None else []
        yield ctx.finding(
            "no provenance: no sidecar and no embedded GenAI metadata; whether GenAI was used is unknown"
            + (
                f" (its frames' sidecars, {', '.join(p.name for p in frames[:3])}"
                + (f" and {len(frames) - 3} more" if len(frames) > 3 else "")
                + ", are not read: a sequence's sidecar is PREFIX.genai.yaml)"
                if frames
                else ""
            ),
            outcome=Outcome.ESCALATE,
            **({"frame_sidecars": len(frames)} if frames else {}),
        )


@pack.rule(
    "PRV-02",
    title="Invalid sidecar",
    principle="provenance",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Fix the sidecar fields listed; 'clearance validate FILE' shows every error with its "
        "field path."
    ),
)
def invalid_provenance(ctx: RuleContext) -> Iterator[Finding]:
    """A sidecar that does not parse or does not validate cannot answer the principles:
    "unsure" counts as "no", so the asset is escalated and audited with whatever parsed."""
    yield from _self_references(ctx)
    issues = ctx.record.issues
    if not issues:
        return
    files = sorted({issue.file for issue in issues})
    shown = issues[:LISTED_ERRORS]
    listed = "; ".join(str(issue) for issue in shown)
    more = len(issues) - len(shown)
    evidence: dict[str, Any] = {
        "files": files,
        "errors": [{"file": i.file, "field": i.field, "message": i.message} for i in shown],
    }
    if more:  # a broken exporter's sidecar can hold 75,000: the finding names the first ones
        listed += f"; and {more:,} more (clearance validate lists every one)"
        evidence["more_errors"] = more
    yield ctx.finding(
        f"provenance could not be read completely ({len(issues)} error(s)): {listed}",
        outcome=Outcome.ESCALATE,
        **evidence,
    )


def _refs() -> Any:
    """``clearance.lineage.refs``, the walk's own reading of refs (imported at first use: the
    lineage package imports the rules)."""
    global _REFS
    if _REFS is None:
        from ..lineage import refs

        _REFS = refs
    return _REFS


_REFS: Any = None


def _self_references(ctx: RuleContext) -> Iterator[Finding]:
    """A declared input that names the asset itself: bad input, its ancestry says nothing.

    Named as the lineage store names assets (a path, absolute or ``file://`` too, any frame
    token of the asset's own sequence, or the sidecar's own ``x-asset-id``)."""
    refs = _refs()
    own = ctx.asset.rel
    needle: str | None = None  # the asset's bare name, worked out at its first input
    own_id: Any = None
    own_sequence: list[str | None] = []  # worked out once, if a ref needs it
    found = []
    for index, step in enumerate_steps(ctx):
        items = step.get("inputs")
        for position, item in enumerate(items if isinstance(items, list) else []):
            ref = item.get("ref") if isinstance(item, dict) else None
            if not isinstance(ref, str) or not ref.strip():
                continue
            if needle is None:
                # a ref that names the asset holds its bare name (sh010_comp_v004), unless
                # %-escaped (a file:// URL) or a printf pattern: only those and refs holding
                # it are read closely
                needle, own_id = refs.name_key(own), ctx.get("x-asset-id", None)
            if ref != own_id and needle not in ref and "%" not in ref:
                continue
            if ref == own_id:
                found.append((f"steps[{index}].inputs[{position}].ref", ref))
                continue
            rel = refs.normalise_ref(ref, ctx.asset.root)
            if rel != own:
                if ctx.asset.frames is None:
                    continue
                if not own_sequence:
                    own_sequence.append(refs.sequence_key(own))
                seq = refs.sequence_key(rel)
                if seq is None or seq != own_sequence[0]:
                    continue
            found.append((f"steps[{index}].inputs[{position}].ref", ref))
    for field, ref in found:
        yield ctx.finding(
            f"{field}: the input {ref!r} is the asset itself; an asset cannot be made from "
            "itself, so what it was made from is unknown",
            outcome=Outcome.ESCALATE,
            errors=[{"file": ctx.asset.rel, "field": field, "message": "names the asset itself"}],
        )


#: the errors a PRV-02 finding lists (in its message and ``evidence.errors``); how many more
#: there were is ``evidence.more_errors``
LISTED_ERRORS = 50


@pack.rule(
    "PRV-03",
    title="Unregistered tool",
    principle="provenance",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Register the tool in tools.yaml with its data terms (deployment, trains_on_inputs, "
        "retains_data, reuses_outputs), or use a registered tool."
    ),
)
def unregistered_tool(ctx: RuleContext) -> Iterator[Finding]:
    """ "A step whose tool is not in the registry is 'unsure' for the data-handling
    principles"; non-enterprise tools need their "T&Cs … license tier … pre-negotiated data
    terms" checked."""
    for index, step in enumerate_steps(ctx):
        tool = step.get("tool")
        if isinstance(tool, str) and tool not in ctx.policy.tools:
            yield ctx.finding(
                f"step {index} uses tool {tool!r}, which is not in the tool registry; "
                "its data terms are unknown",
                outcome=Outcome.ESCALATE,
                step=index,
                tool=tool,
            )


@pack.rule(
    "PRV-04",
    title="Sources disagree",
    principle="provenance",
    outcome=Outcome.BLOCK,
    remediation=(
        "Fix whichever source is wrong (the sidecar or the embedded XMP/EXR/C2PA metadata); "
        "never strip embedded provenance to make them agree."
    ),
)
def sources_disagree(ctx: RuleContext) -> Iterator[Finding]:
    """ "Readers merge into one record; where sources disagree, that is itself a finding":
    one source saying "not generated" while another says GenAI hides GenAI use."""
    said = [
        (p.source, p.file, p.data["generated"])
        for p in ctx.record.partials
        if isinstance(p.data.get("generated"), bool)
    ]
    if len({value for _, _, value in said}) < 2:
        return
    yes = [f"{source} ({file})" for source, file, value in said if value]
    no = [f"{source} ({file})" for source, file, value in said if not value]
    yield ctx.finding(
        f"provenance sources disagree on whether GenAI was used: {', '.join(yes)} say generated, "
        f"{', '.join(no)} say not generated",
        outcome=Outcome.BLOCK,
        sources=[{"source": s, "file": f, "generated": v} for s, f, v in said],
    )


pack.define(
    Rule(
        id="PRV-05",
        title="Checker crashed",
        principle="provenance",
        outcome=Outcome.ESCALATE,
        guidance=(
            "A checker, reader or rule that raised an exception never counts as a pass: "
            '"unsure" on a principle → escalate.'
        ),
        remediation=(
            "Fix or remove the plugin named in the finding (evidence.plugin); the asset is "
            "re-audited on the next run."
        ),
        pack=pack.pack,
    )
)
