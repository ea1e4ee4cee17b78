"""Embedded provenance (``PRV-06``, ``PRV-07``): what the asset itself says, checked.

The readers in :mod:`clearance.provenance` (XMP, EXR, C2PA) put what an asset carries into
``record.partials``. Disagreement between sources is ``PRV-04`` (in
:mod:`clearance.rules.provenance`); this pack adds the two findings only embedded metadata
can raise:

- ``PRV-06``: a C2PA manifest that fails validation (or, when the studio requires it, one
  signed outside its trust anchors);
- ``PRV-07``: the asset says it is GenAI (or carries metadata that does not say), but no
  sidecar documents how it was made.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..model import Finding, Outcome
from . import RuleContext, RulePack

pack = RulePack("clearance.rules.embedded", params=())


@pack.rule(
    "PRV-06",
    title="C2PA manifest fails validation",
    principle="provenance",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Find out why the Content Credentials no longer match: an edit after signing (re-save, "
        "metadata rewrite, conform) or tampering. Re-export from the generating tool or re-sign "
        "with the studio's certificate after the edit; never strip the manifest to silence this."
    ),
    # require_trusted is the rule's; the others are the c2pa reader's settings, which it also
    # reads from here (C2paSettings.from_policy; docs/embedded-provenance.md)
    params=(
        "require_trusted",
        "verify",
        "trust_anchors",
        "allowed_list",
        "trust_config",
        "max_verify_bytes",
    ),
)
def c2pa_manifest_invalid(ctx: RuleContext) -> Iterator[Finding]:
    """ "Readers merge into one record" and a manifest that fails validation cannot be part of
    it: what it claims about GenAI is unknown, and "no or unsure on any principle →
    escalate". Setting ``require_trusted: true`` also escalates a valid signature from outside
    the trust anchors (``readers.c2pa.trust_anchors``), and a manifest that was not verified."""
    require_trusted = ctx.settings.get("require_trusted") is True
    for partial in ctx.record.partials:
        if partial.source != "c2pa":
            continue
        evidence = partial.evidence
        state = evidence.get("validation_state")
        codes = [f.get("code") for f in evidence.get("failures", []) if isinstance(f, dict)]
        details = {
            "file": partial.file,
            "location": evidence.get("location"),
            "validation_state": state,
            "failures": codes,
            "signer": evidence.get("signer"),
        }
        if state == "Invalid":
            reasons = ", ".join(str(c) for c in codes if c) or "no reason given"
            yield Finding(
                rule="PRV-06",
                message=f"the C2PA manifest of {partial.file} fails validation ({reasons})",
                evidence=details,
                unsure=True,
            )
        elif require_trusted and state == "Valid":
            signer = evidence.get("signer") or {}
            who = signer.get("common_name") or signer.get("issuer") or "an unknown signer"
            yield Finding(
                rule="PRV-06",
                message=(
                    f"the C2PA manifest of {partial.file} is intact but signed by {who}, "
                    "outside the configured trust anchors"
                ),
                evidence=details,
                unsure=True,
            )
        elif require_trusted and state is None:
            yield Finding(
                rule="PRV-06",
                message=(
                    f"the C2PA manifest of {partial.file} was not verified "
                    f"({evidence.get('note') or 'verification is turned off'})"
                ),
                evidence=details,
                unsure=True,
            )


@pack.rule(
    "PRV-07",
    title="Embedded metadata only",
    principle="provenance",
    outcome=Outcome.ESCALATE,
    remediation=(
        "Write the asset's sidecar (NAME.EXT.genai.yaml, or PREFIX.genai.yaml for a sequence) "
        "with generated, the tools, inputs, talent and intended use."
    ),
)
def embedded_only(ctx: RuleContext) -> Iterator[Finding]:
    """PRV-01 refined: embedded metadata (IPTC ``trainedAlgorithmicMedia``, EXR ``genai:*``, a
    C2PA action) says GenAI was used, or is present but does not say whether it was (an
    unverified manifest, IPTC ``composite``), and no sidecar says with which tools, inputs or
    talent: every principle is "unsure" → escalate."""
    if any(p.source == "sidecar" for p in ctx.record.partials) or ctx.asset.sidecar is not None:
        return
    embedded = ctx.record.partials
    if not embedded:
        return  # nothing at all is known: that is PRV-01
    said = [p for p in embedded if p.data.get("generated") is True]
    if said:
        names = ", ".join(f"{p.source} ({p.file})" for p in said)
        source_types = sorted(
            {p.data["source_type"] for p in said if isinstance(p.data.get("source_type"), str)}
        )
        yield Finding(
            rule="PRV-07",
            message=f"embedded metadata says GenAI was used ({names}) but the asset has no sidecar",
            evidence={"sources": [p.source for p in said], "source_types": source_types},
            unsure=True,
        )
    elif not any(isinstance(p.data.get("generated"), bool) for p in embedded):
        names = ", ".join(f"{p.source} ({p.file})" for p in embedded)
        yield Finding(
            rule="PRV-07",
            message=(
                f"embedded metadata ({names}) does not say whether GenAI was used, "
                "and the asset has no sidecar"
            ),
            evidence={"sources": [p.source for p in embedded], "generated": None},
            unsure=True,
        )
