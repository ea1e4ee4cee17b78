"""Sidecars and policies for the rule tests: a compliant baseline and ways to vary it.

``sidecar()`` is a GenAI previs asset that no default rule objects to; tests change one thing
with dotted paths (``sidecar({"output.use": "final"})``) and assert on what fires.
``audit()`` runs the real engine (``clearance.engine.audit_record``: every built-in pack,
per-rule configuration and approvals, through the real plugin manager) in memory.
"""

from __future__ import annotations

import copy
import datetime as _dt
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from clearance.engine import audit_record
from clearance.model import AssetResult, Finding, Outcome, PartialRecord
from clearance.policy import Policy, StageConfig

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
NOW = _dt.datetime(2026, 11, 26, 12, 0, tzinfo=_dt.timezone.utc)
ROOT = Path(tempfile.gettempdir()) / "clearance-rule-tests"

#: The sample registry (configs/tools.yaml shape) plus a self-hosted comp tool and two
#: consumer tools: one whose terms are known to be bad, one whose terms nobody checked.
TOOLS: dict[str, dict[str, Any]] = {
    "studio-diffusion": {
        "vendor": "In-house",
        "deployment": "studio_enterprise",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "c2pa",
        "terms": "Studio AI platform policy v3",
    },
    "acme-diffusion": {
        "vendor": "Acme",
        "deployment": "enterprise",
        "trains_on_inputs": False,
        "retains_data": "transient",
        "reuses_outputs": False,
        "marks_output": "c2pa",
        "terms": "MSA-2026-04 §7",
    },
    "nuke-comp": {
        "vendor": "Foundry",
        "deployment": "self_hosted",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "none",
    },
    "dreamapp": {
        "vendor": "DreamApp Inc.",
        "deployment": "consumer",
        "trains_on_inputs": True,
        "retains_data": "indefinite",
        "reuses_outputs": True,
        "marks_output": "watermark",
        "terms": "consumer ToS",
    },
    "freegen": {
        "vendor": "FreeGen",
        "deployment": "consumer",
        "trains_on_inputs": "unknown",
        "retains_data": "unknown",
        "reuses_outputs": "unknown",
        "marks_output": "none",
    },
}

CONSENTS: dict[str, dict[str, Any]] = {
    "C-001": {
        "performer": "P-0001",
        "production": "SHOW01",
        "uses": ["employment_based_replica", "significant_alteration"],
        "signed_at": "2026-09-12",
        "expires": "2027-12-31",
    },
    "C-BG": {
        "performer": "P-0100",
        "production": "SHOW01",
        "uses": ["background_replica"],
        "signed_at": "2026-09-01",
        "expires": "2027-12-31",
    },
    "C-EXPIRED": {
        "performer": "P-0001",
        "production": "SHOW01",
        "uses": ["employment_based_replica", "significant_alteration"],
        "signed_at": "2025-01-10",
        "expires": "2026-01-31",
    },
    "C-OTHER-SHOW": {
        "performer": "P-0001",
        "production": "SHOW02",
        "uses": ["employment_based_replica", "significant_alteration"],
        "signed_at": "2026-09-12",
        "expires": "2027-12-31",
    },
}

#: Written approval for GenAI in final deliverables on SHOW01 (legal review done).
APPROVE_FINAL: dict[str, dict[str, Any]] = {
    "APR-FINAL": {
        "rules": ["NFX-GP4"],
        "scope": {"production": "SHOW01"},
        "approved_by": "Production Legal",
        "approved_at": "2026-10-01",
        "expires": "2027-03-01",
        "document": "legal/APR-FINAL.pdf",
    }
}

BASELINE: dict[str, Any] = {
    "provenance": 1,
    "asset": "sh010_comp_v001.exr",
    "production": "SHOW01",
    "shot": "sh010",
    "generated": True,
    "source_type": IPTC + "trainedAlgorithmicMedia",
    "steps": [
        {
            "tool": "studio-diffusion",
            "tool_version": "3.0",
            "model": {"id": "studio-sdxl-show01", "trained_on_talent": False},
            "inputs": [],
            "prompt": {"text": "wide desert street at dusk", "references": []},
        }
    ],
    "output": {
        "use": "previs",
        "on_screen": "none",
        "subject": "incidental",
        "similarity_review": "passed",
        "human_contribution": "layout artist reframed and regraded",
    },
    "union_impact": "none",
    "disclosure": {"notified_at": "2026-11-02"},
}

#: Use as a value in ``sidecar(changes)`` to remove that field.
DROP: Any = object()


def sidecar(
    changes: Mapping[str, Any] | None = None, *, drop: Iterable[str] = ()
) -> dict[str, Any]:
    """The compliant baseline with ``changes`` applied by dotted path (``steps.0.tool``) and
    the fields in ``drop`` removed. A value of ``DROP`` in ``changes`` also removes."""
    data = copy.deepcopy(BASELINE)
    for path, value in (changes or {}).items():
        _set(data, path, copy.deepcopy(value))
    for path in drop:
        _set(data, path, DROP)
    return data


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        if value is DROP:
            del node[int(last)]
        else:
            node[int(last)] = value
    elif value is DROP:
        node.pop(last, None)
    else:
        node[last] = value


def step(
    tool: str = "studio-diffusion", *, inputs: Sequence[Mapping[str, Any]] = (), **fields: Any
) -> dict[str, Any]:
    """One workflow step (``inputs`` given as ``(ref, class)`` dicts)."""
    return {"tool": tool, "inputs": [dict(i) for i in inputs], **fields}


def inp(ref: str, cls: str, clearance: str | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"ref": ref, "class": cls}
    if clearance is not None:
        item["clearance"] = clearance
    return item


def policy(
    *,
    tools: Mapping[str, Any] | None = None,
    consents: Mapping[str, Any] | None = None,
    approvals: Mapping[str, Any] | None = None,
    rules: Mapping[str, Any] | None = None,
    genre: str | None = "fiction",
    production_id: str | None = "SHOW01",
    stages: Sequence[StageConfig] | None = None,
) -> Policy:
    """A test policy: the sample tool registry and consents, no approvals unless given."""
    return Policy(
        root=ROOT,
        production_id=production_id,
        genre=genre,
        tools=dict(TOOLS if tools is None else tools),
        consents=dict(CONSENTS if consents is None else consents),
        approvals=dict(approvals or {}),
        rules={k: dict(v) for k, v in (rules or {}).items()},
        stages=list(
            stages
            or [
                StageConfig("ideation", ["ideation"]),
                StageConfig("previs", ["previs"]),
                StageConfig("comp", ["comp"]),
                StageConfig("delivery", ["delivery"], final=True),
            ]
        ),
        now=NOW,
    )


def audit(
    data: dict[str, Any] | None,
    *,
    stage: str = "comp",
    final: bool = False,
    partials: Sequence[PartialRecord] = (),
    rel: str | None = None,
    **policy_args: Any,
) -> AssetResult:
    """Audit one in-memory sidecar (``None``: no sidecar) through the real engine."""
    the_policy = policy_args.pop("the_policy", None) or policy(**policy_args)
    return audit_record(
        data,
        stage=stage,
        final=final,
        policy=the_policy,
        rel=rel or f"{stage}/sh010_{stage}_v001.exr",
        partials=list(partials),
    )


def fired(result: AssetResult) -> set[str]:
    """Rule ids with a finding above ``pass`` (approved findings included)."""
    return {f.rule for f in result.findings if f.effective_outcome > Outcome.PASS}


def of(result: AssetResult, rule: str) -> list[Finding]:
    """The findings of one rule."""
    return [f for f in result.findings if f.rule == rule]


def outcome_of(result: AssetResult, rule: str) -> Outcome | None:
    """The worst outcome among one rule's findings (None when it did not fire)."""
    found = of(result, rule)
    return Outcome.worst(f.effective_outcome for f in found) if found else None


def one(result: AssetResult, rule: str) -> Finding:
    found = of(result, rule)
    assert len(found) == 1, (
        f"expected one {rule} finding, got {[f.to_dict() for f in result.findings]}"
    )
    return found[0]


def describe(result: AssetResult) -> str:
    """For assertion messages: each finding on one line."""
    return "\n".join(
        f"  {f.rule} {f.effective_outcome.value} {f.status.value}{' unsure' if f.unsure else ''}: {f.message}"
        for f in result.findings
    )


#: A studio-enterprise tool whose terms are all known and safe, and a GenAI temp comp made
#: with it that no rule objects to: the base of the invalid-field cases (a field written
#: invalid must never be read more leniently than the same field written ``unknown``).
ACME_TOOLS: dict[str, dict[str, Any]] = {
    "acme": {
        "vendor": "Acme",
        "deployment": "studio_enterprise",
        "trains_on_inputs": False,
        "retains_data": "none",
        "reuses_outputs": False,
        "marks_output": "c2pa",
    }
}
ACME_SIDECAR: dict[str, Any] = {
    "provenance": 1,
    "generated": True,
    "source_type": "trainedAlgorithmicMedia",
    "steps": [{"tool": "acme", "inputs": []}],
    "output": {"use": "temp", "on_screen": "none", "subject": "incidental"},
    "disclosure": {"notified_at": "2026-11-02"},
}


def acme(**changes: Any) -> AssetResult:
    """Audit :data:`ACME_SIDECAR` with top-level ``changes`` (comp stage, ``acme`` registered)."""
    return audit({**copy.deepcopy(ACME_SIDECAR), **changes}, tools=ACME_TOOLS)
