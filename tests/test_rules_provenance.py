"""Provenance hygiene rules PRV-01 … PRV-05, and the default pack's catalogue as a whole."""

from __future__ import annotations

import importlib
import re

import pytest

from _records import IPTC, audit, describe, fired, inp, of, one, policy, sidecar, step
from clearance.model import Asset, Outcome, PartialRecord, ProvenanceIssue, ProvenanceRecord
from clearance.plugins import PluginHost
from clearance.policy import StageConfig
from clearance.rules import RulePack
from clearance.rules._builtin import BUILTIN_RULE_MODULES

PRINCIPLES = {
    "disclosure",
    "unowned-material",
    "data-handling",
    "enterprise",
    "deliverables",
    "talent",
    "union",
    "provenance",
    "creative-output",
    "data-use",
    "ethics",
    "on-screen",
    "vendors",
}
NFX_IDS = [
    "NFX-00",
    "NFX-01",
    "NFX-GP1",
    "NFX-GP2",
    "NFX-GP3",
    "NFX-GP4",
    "NFX-GP5",
    "NFX-D1",
    "NFX-D1b",
    "NFX-D2",
    "NFX-C1",
    "NFX-C2",
    "NFX-T1",
    "NFX-T1x",
    "NFX-T2",
    "NFX-T3",
    "NFX-T4",
    "NFX-T5",
    "NFX-E1",
    "NFX-E2",
    "NFX-F1",
    "NFX-F2",
    "NFX-F3",
    "NFX-V1",
    "NFX-V2",
]
DEFAULT_IDS = (
    {f"PRV-0{i}" for i in range(1, 6)} | set(NFX_IDS) | {f"IPTC-0{i}" for i in range(1, 5)}
)


def xmp(generated: bool | None = None, source_type: str | None = None, **extra) -> PartialRecord:
    data: dict = {}
    if source_type is not None:
        data["source_type"] = source_type
    if generated is not None:
        data["generated"] = generated
    return PartialRecord("xmp", "comp/sh010_comp_v001.png", data, **extra)


# -- the catalogue -------------------------------------------------------------------------


def test_builtin_packs_register_every_default_rule_through_the_plugin_host():
    host = PluginHost(policy(), autoload=False)
    assert not [f for f in host.failures if f.name in BUILTIN_RULE_MODULES], host.failures
    ids = {rule.id for rule in host.registry}
    assert ids >= DEFAULT_IDS


@pytest.mark.parametrize("module", BUILTIN_RULE_MODULES)
def test_each_rule_has_title_principle_guidance_and_remediation(module):
    pack = importlib.import_module(module).pack
    assert isinstance(pack, RulePack) and pack.name == module
    for rule in pack.rules:
        assert rule.principle in PRINCIPLES, rule.id
        assert 0 < len(rule.title) <= 45, rule.id
        assert rule.guidance and rule.remediation, rule.id
        assert '"' in rule.guidance or "“" in rule.guidance, (
            f"{rule.id}: guidance quotes no sentence"
        )
        if rule.check is not None:
            assert rule.check.__doc__ and rule.check.__doc__.strip(), rule.id


def test_the_compliant_baseline_raises_nothing():
    result = audit(sidecar())
    assert result.findings == [], describe(result)
    assert result.outcome is Outcome.PASS


# -- PRV-01 --------------------------------------------------------------------------------


def test_prv01_an_asset_without_any_provenance_escalates_and_nothing_else_runs():
    result = audit(None)
    assert fired(result) == {"PRV-01"}
    assert one(result, "PRV-01").effective_outcome is Outcome.ESCALATE
    assert result.outcome is Outcome.ESCALATE


def test_prv01_embedded_metadata_alone_counts_as_provenance():
    result = audit(None, partials=[xmp(True, IPTC + "trainedAlgorithmicMedia")])
    assert "PRV-01" not in fired(result)


def test_prv01_a_sidecar_counts_as_provenance():
    assert "PRV-01" not in fired(audit(sidecar()))


def test_prv01_cannot_be_disabled():
    result = audit(None, rules={"PRV-01": {"enabled": False}})
    assert fired(result) == {"PRV-01"}


# -- PRV-02 --------------------------------------------------------------------------------


def test_prv02_lists_every_error_with_its_field_path_and_still_audits_the_rest():
    data = sidecar({"steps.0.tool": 5, "output.use": "final", "shots": "sh010"})
    result = audit(data)
    finding = one(result, "PRV-02")
    assert finding.effective_outcome is Outcome.ESCALATE
    fields = {e["field"] for e in finding.evidence["errors"]}
    assert fields == {"steps[0].tool", "shots"}
    assert all(set(e) == {"file", "field", "message"} for e in finding.evidence["errors"])
    assert all(e["file"].endswith(".genai.yaml") for e in finding.evidence["errors"])
    assert "steps[0].tool" in finding.message and "shots" in finding.message
    # the valid part of the sidecar is still audited: the final use is still seen
    assert "NFX-GP4" in fired(result), describe(result)


def test_prv02_reports_reader_issues_of_embedded_metadata_too():
    broken = xmp(True, IPTC + "trainedAlgorithmicMedia")
    broken.issues.append(ProvenanceIssue(broken.file, "xmp", "DOCTYPE is forbidden"))
    finding = one(audit(sidecar(), partials=[broken]), "PRV-02")
    assert finding.evidence["errors"] == [
        {"file": broken.file, "field": "xmp", "message": "DOCTYPE is forbidden"}
    ]


def test_prv02_does_not_fire_on_a_valid_sidecar():
    assert "PRV-02" not in fired(audit(sidecar()))


def test_prv02_a_broken_generated_flag_is_unsure_so_genai_rules_still_run():
    # generated is unknown while something is known: the GenAI rules run, unsure where
    # they cannot decide (here NFX-GP4: the use is missing too)
    result = audit(sidecar({"generated": "yes"}, drop=["output.use"]))
    assert {"PRV-02", "NFX-GP4"} <= fired(result), describe(result)
    assert one(result, "NFX-GP4").unsure


# -- PRV-03 --------------------------------------------------------------------------------


def test_prv03_an_unregistered_tool_escalates_naming_step_and_tool():
    data = sidecar({"steps": [step(), step("midjourney-v7")]})
    finding = one(audit(data), "PRV-03")
    assert finding.effective_outcome is Outcome.ESCALATE
    assert finding.evidence == {"step": 1, "tool": "midjourney-v7"}


def test_prv03_runs_on_non_genai_assets_too():
    data = sidecar(
        {"generated": False, "source_type": "digitalCreation", "steps": [step("houdini")]}
    )
    assert fired(audit(data)) == {"PRV-03"}


def test_prv03_registered_tools_pass():
    data = sidecar({"steps": [step("studio-diffusion"), step("acme-diffusion"), step("nuke-comp")]})
    assert "PRV-03" not in fired(audit(data))


# -- PRV-04 --------------------------------------------------------------------------------


def test_prv04_sidecar_says_not_generated_but_embedded_metadata_says_genai_blocks():
    data = sidecar({"generated": False}, drop=["source_type"])
    result = audit(data, partials=[xmp(True, IPTC + "trainedAlgorithmicMedia")])
    finding = one(result, "PRV-04")
    assert finding.effective_outcome is Outcome.BLOCK
    sources = {(s["source"], s["generated"]) for s in finding.evidence["sources"]}
    assert sources == {("sidecar", False), ("xmp", True)}
    assert "xmp" in finding.message and "sidecar" in finding.message
    assert result.outcome is Outcome.BLOCK


def test_prv04_the_reverse_disagreement_blocks_too():
    result = audit(sidecar(), partials=[xmp(False, IPTC + "digitalCapture")])
    assert one(result, "PRV-04").effective_outcome is Outcome.BLOCK


@pytest.mark.parametrize(
    "partial",
    [
        xmp(True, IPTC + "trainedAlgorithmicMedia"),
        xmp(None, IPTC + "composite"),  # undecided term: the reader does not say
    ],
    ids=["agree", "embedded-undecided"],
)
def test_prv04_agreeing_or_silent_sources_pass(partial):
    assert "PRV-04" not in fired(audit(sidecar(), partials=[partial]))


# -- PRV-05 --------------------------------------------------------------------------------


def test_prv05_is_defined_with_escalate_and_no_check_of_its_own():
    host = PluginHost(policy(), autoload=False)
    rule = host.registry.get("PRV-05")
    assert rule is not None and rule.outcome is Outcome.ESCALATE and rule.check is None


def test_prv05_a_rule_that_raises_becomes_a_finding_and_the_pack_continues(tmp_path):
    crashing = RulePack("site.crashy")

    @crashing.rule(
        "SITE-01", title="crash", principle="provenance", outcome=Outcome.NOTICE, remediation="-"
    )
    def boom(ctx):
        """ "Never crash"."""
        raise KeyError("steps")

    @crashing.rule(
        "SITE-02", title="ok", principle="provenance", outcome=Outcome.NOTICE, remediation="-"
    )
    def fine(ctx):
        """ "Always say something"."""
        yield ctx.finding("still ran")

    record = ProvenanceRecord.merge([PartialRecord("sidecar", "x.genai.yaml", sidecar())])
    asset = Asset(path=tmp_path / "x.exr", rel="x.exr", root=tmp_path)
    findings = crashing.clearance_check_asset(
        asset=asset, record=record, stage=StageConfig("comp"), policy=policy()
    )
    assert [f.rule for f in findings] == ["PRV-05", "SITE-02"]
    crash = findings[0]
    assert crash.effective_outcome is Outcome.ESCALATE and crash.unsure
    assert crash.evidence["plugin"] == "site.crashy:SITE-01"
    assert re.search(r"KeyError", crash.message)


def test_findings_never_carry_the_prompt_text():
    data = sidecar(
        {
            "steps": [
                step(
                    inputs=[inp("refs/x.png", "third_party_unowned")],
                    prompt={
                        "text": "Meryl Streep on a Squid Game set",
                        "references": [{"type": "public_figure", "name": "Meryl Streep"}],
                    },
                )
            ]
        }
    )
    result = audit(data, rules={"NFX-C2": {"denylist": ["squid game"]}})
    assert of(result, "NFX-C2")
    for finding in result.findings:
        assert "Meryl Streep on a Squid Game set" not in str(finding.to_dict())
