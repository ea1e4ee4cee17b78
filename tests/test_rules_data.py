"""Data handling and data use: NFX-GP2, GP3, D1, D1b, D2, V1, V2 (judged per workflow step)."""

from __future__ import annotations

import pytest

from _records import acme, audit, describe, fired, inp, of, one, outcome_of, sidecar, step
from clearance.model import Outcome


def steps(*items):
    return sidecar({"steps": list(items)})


# -- NFX-GP2 -------------------------------------------------------------------------------


def test_gp2_a_tool_that_trains_retains_and_reuses_needs_approval_per_step():
    result = audit(steps(step(), step("dreamapp")))
    finding = one(result, "NFX-GP2")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["step"] == 1 and finding.evidence["tool"] == "dreamapp"
    assert set(finding.evidence["terms"]) == {
        "trains_on_inputs: true",
        "retains_data: indefinite",
        "reuses_outputs: true",
    }


@pytest.mark.parametrize("cls", ["unreleased", "personal_data"])
def test_gp2_blocks_when_such_a_tool_gets_unreleased_or_personal_data(cls):
    result = audit(steps(step("dreamapp", inputs=[inp("plates/x.exr", cls)])))
    finding = one(result, "NFX-GP2")
    assert finding.effective_outcome is Outcome.BLOCK
    assert finding.evidence["inputs"] == [{"ref": "plates/x.exr", "class": cls}]


def test_gp2_unknown_terms_are_unsure_never_a_pass():
    finding = one(audit(steps(step("freegen"))), "NFX-GP2")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL
    assert set(finding.evidence["unknown"]) == {
        "trains_on_inputs",
        "retains_data",
        "reuses_outputs",
    }


def test_gp2_an_unregistered_tool_is_unsure():
    finding = one(audit(steps(step("midjourney-v7"))), "NFX-GP2")
    assert finding.unsure and finding.evidence["missing"] == "steps[0].tool"


def test_gp2_a_genai_asset_without_steps_is_unsure():
    result = audit(sidecar(drop=["steps"]))
    assert one(result, "NFX-GP2").unsure
    assert {"NFX-GP2", "NFX-GP3", "NFX-V1"} <= fired(result)


@pytest.mark.parametrize("tool", ["studio-diffusion", "acme-diffusion", "nuke-comp"])
def test_gp2_tools_with_clean_terms_pass(tool):
    assert "NFX-GP2" not in fired(audit(steps(step(tool, inputs=[inp("p.exr", "unreleased")]))))


def test_gp2_non_genai_assets_are_skipped():
    data = sidecar(
        {"generated": False, "source_type": "digitalCreation", "steps": [step("dreamapp")]}
    )
    assert fired(audit(data)) == set()


def test_gp2_outcome_override_never_drops_an_unsure_finding_below_escalate():
    result = audit(steps(step("freegen")), rules={"NFX-GP2": {"outcome": "notice"}})
    assert one(result, "NFX-GP2").effective_outcome is Outcome.ESCALATE


# -- NFX-GP3 -------------------------------------------------------------------------------


def test_gp3_a_consumer_tool_is_a_notice():
    finding = one(audit(steps(step("dreamapp"))), "NFX-GP3")
    assert finding.effective_outcome is Outcome.NOTICE and not finding.unsure
    assert finding.evidence["deployment"] == "consumer"


@pytest.mark.parametrize("tool", ["studio-diffusion", "acme-diffusion", "nuke-comp"])
def test_gp3_enterprise_and_self_hosted_tools_pass(tool):
    assert "NFX-GP3" not in fired(audit(steps(step(tool))))


def test_gp3_an_unregistered_tool_escalates_as_unsure():
    finding = one(audit(steps(step("midjourney-v7"))), "NFX-GP3")
    assert finding.unsure and finding.effective_outcome is Outcome.ESCALATE


def test_gp3_outcome_can_be_overridden_and_the_rule_disabled():
    data = steps(step("dreamapp"))
    assert (
        outcome_of(audit(data, rules={"NFX-GP3": {"outcome": "escalate"}}), "NFX-GP3")
        is Outcome.ESCALATE
    )
    assert "NFX-GP3" not in fired(audit(data, rules={"NFX-GP3": {"enabled": False}}))


def test_rule_globs_in_config_apply_and_exact_ids_win():
    data = steps(step("dreamapp", inputs=[inp("s.pdf", "script")]))
    result = audit(data, rules={"NFX-*": {"enabled": False}, "NFX-D1": {"enabled": True}})
    assert fired(result) == {"NFX-D1"}, describe(result)


# -- NFX-D1 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls", ["unreleased", "script", "production_image", "personal_data", "contract"]
)
def test_d1_studio_owned_or_personal_inputs_need_approval(cls):
    finding = one(audit(steps(step(inputs=[inp("in/x", cls)]))), "NFX-D1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["step"] == 0 and finding.evidence["inputs"] == [
        {"ref": "in/x", "class": cls}
    ]


@pytest.mark.parametrize(
    "cls", ["generated", "owned_released", "public_domain", "third_party_licensed"]
)
def test_d1_other_inputs_pass(cls):
    assert "NFX-D1" not in fired(audit(steps(step(inputs=[inp("in/x", cls)]))))


def test_d1_enterprise_downgrade_gives_a_notice_only_in_studio_enterprise_tools():
    rules = {"NFX-D1": {"enterprise_downgrade": True}}
    studio = audit(steps(step("studio-diffusion", inputs=[inp("s.pdf", "script")])), rules=rules)
    assert outcome_of(studio, "NFX-D1") is Outcome.NOTICE
    acme = audit(steps(step("acme-diffusion", inputs=[inp("s.pdf", "script")])), rules=rules)
    assert outcome_of(acme, "NFX-D1") is Outcome.APPROVAL


# -- NFX-D1b -------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ["talent_likeness", "unreleased", "contract"])
def test_d1b_sensitive_inputs_need_approval_even_in_studio_enterprise_tools(cls):
    rules = {"NFX-D1": {"enterprise_downgrade": True}}
    result = audit(steps(step("studio-diffusion", inputs=[inp("in/x", cls)])), rules=rules)
    assert outcome_of(result, "NFX-D1b") is Outcome.APPROVAL


@pytest.mark.parametrize("cls", ["script", "production_image", "personal_data", "generated"])
def test_d1b_other_inputs_pass(cls):
    assert "NFX-D1b" not in fired(audit(steps(step(inputs=[inp("in/x", cls)]))))


# -- NFX-D2 --------------------------------------------------------------------------------


def training(*sources, performed=True):
    return step(training={"performed": performed, "sources": list(sources)})


def test_d2_training_on_uncleared_third_party_material_blocks():
    source = {"ref": "scrape/faces", "class": "third_party_unowned", "owner": "various"}
    finding = one(audit(steps(training(source))), "NFX-D2")
    assert finding.effective_outcome is Outcome.BLOCK
    assert finding.evidence["sources"][0]["ref"] == "scrape/faces"


@pytest.mark.parametrize(
    "cls", ["third_party_unowned", "talent_likeness", "third_party_licensed", "unknown"]
)
def test_d2_every_rights_held_class_needs_a_clearance(cls):
    assert outcome_of(audit(steps(training({"ref": "d", "class": cls}))), "NFX-D2") is Outcome.BLOCK


def test_d2_a_foreign_owner_needs_a_clearance_whatever_the_class():
    source = {"ref": "artist/portfolio", "class": "owned_released", "owner": "J. Painter"}
    assert outcome_of(audit(steps(training(source))), "NFX-D2") is Outcome.BLOCK


def test_d2_cleared_sources_still_need_written_approval():
    source = {
        "ref": "lic/set",
        "class": "third_party_licensed",
        "owner": "Getty",
        "clearance": "CLR-9",
    }
    assert outcome_of(audit(steps(training(source))), "NFX-D2") is Outcome.APPROVAL


@pytest.mark.parametrize("value", ["unknown", "NONE", " ", "null"])
def test_d2_a_clearance_that_says_there_is_none_is_none(value):
    # `clearance: unknown` was a clearance: approval instead of block
    source = {"ref": "scrape/faces", "class": "third_party_unowned", "clearance": value}
    assert outcome_of(audit(steps(training(source))), "NFX-D2") is Outcome.BLOCK


def test_d2_training_on_the_productions_own_material_passes():
    sources = [
        {"ref": "plates/", "class": "production_image", "owner": "SHOW01"},
        {"ref": "gen/", "class": "generated"},
    ]
    assert "NFX-D2" not in fired(audit(steps(training(*sources))))


@pytest.mark.parametrize(
    "spec",
    [
        {"performed": None, "sources": []},
        {"performed": None, "sources": [{"ref": "scrape/faces", "class": "third_party_unowned"}]},
        {"sources": [{"ref": "scrape/faces", "class": "third_party_unowned"}]},
    ],
    ids=["null", "null-with-sources", "not-said-with-sources"],
)
def test_d2_training_performed_null_or_not_said_beside_its_sources_is_unsure(spec):
    # read as "not performed": a pass, with an unowned training source listed
    finding = one(audit(steps(step(training=spec))), "NFX-D2")
    assert finding.unsure and finding.effective_outcome is Outcome.ESCALATE
    assert finding.evidence["missing"] == "steps[0].training.performed"


def test_d2_no_training_passes():
    assert "NFX-D2" not in fired(audit(steps(training(performed=False))))
    assert "NFX-D2" not in fired(audit(steps(step(training={"sources": []}))))
    assert "NFX-D2" not in fired(audit(steps(step())))


@pytest.mark.parametrize(
    ("performed", "missing"),
    [(True, "steps[0].training.sources"), ("unknown", "steps[0].training.performed")],
)
def test_d2_unsure_when_training_sources_or_the_training_itself_are_unknown(performed, missing):
    finding = one(audit(steps(training(performed=performed))), "NFX-D2")
    assert finding.unsure and finding.effective_outcome is Outcome.ESCALATE
    assert finding.evidence["missing"] == missing


# -- NFX-V1 --------------------------------------------------------------------------------


def test_v1_a_step_without_declared_inputs_escalates():
    bare = {"tool": "studio-diffusion"}
    finding = one(audit(steps(step(), bare)), "NFX-V1")
    assert finding.effective_outcome is Outcome.ESCALATE and finding.unsure
    assert finding.evidence["step"] == 1 and finding.evidence["fields"] == ["steps[1].inputs"]


def test_v1_a_step_without_a_tool_escalates():
    finding = one(audit(steps({"inputs": []})), "NFX-V1")
    assert finding.evidence["fields"] == ["steps[0].tool"]
    assert finding.effective_outcome is Outcome.ESCALATE


def test_v1_declared_steps_pass_an_empty_input_list_is_a_declaration():
    assert "NFX-V1" not in fired(
        audit(steps(step(), step("nuke-comp", inputs=[inp("a", "generated")])))
    )


# -- NFX-V2 --------------------------------------------------------------------------------


def test_v2_a_vendor_without_attestation_is_a_notice():
    finding = one(audit(sidecar({"vendor": {"id": "V-12"}})), "NFX-V2")
    assert finding.effective_outcome is Outcome.NOTICE and finding.evidence["vendor"] == "V-12"


@pytest.mark.parametrize("vendor", [{"id": "V-12", "attestation": "ATT-2026-3"}, None])
def test_v2_an_attested_vendor_or_no_vendor_passes(vendor):
    data = sidecar({"vendor": vendor}) if vendor else sidecar()
    assert not of(audit(data), "NFX-V2")


# -- an invalid field is unknown, never "not involved" (the reader: provenance/_invalid.py) --

TRAINED_ON_UNOWNED = {
    "tool": "acme",
    "inputs": [],
    "training": {
        "performed": True,
        "sources": [{"ref": "refs/a.png", "class": "third_party_unowned"}],
    },
}


def test_a_bad_input_class_in_one_step_keeps_every_step_and_that_input_is_unsure():
    """A bad ``class`` in step 1 used to drop every step: step 0's NFX-D2 block was hidden and
    the messages said no steps were declared."""
    bad = {"tool": "acme", "inputs": [{"ref": "refs/b.png", "class": "bogus"}]}
    result = acme(steps=[TRAINED_ON_UNOWNED, bad])
    assert "steps[1].inputs[0].class: expected one of" in one(result, "PRV-02").message
    d2 = one(result, "NFX-D2")
    assert d2.effective_outcome is Outcome.BLOCK and d2.evidence["step"] == 0
    # the broken input's class is unknown, as if written so: its rights status is unsure
    gp1 = one(result, "NFX-GP1")
    assert gp1.unsure and gp1.evidence["step"] == 1 and gp1.evidence["inputs"] == ["refs/b.png"]
    written = acme(steps=[TRAINED_ON_UNOWNED, step("acme", inputs=[inp("refs/b.png", "unknown")])])
    assert fired(written) <= fired(result) and result.outcome is Outcome.BLOCK
    assert not any("declared" in f.message for f in result.findings), describe(result)


@pytest.mark.parametrize("steps_value", [5, "acme", {"tool": "acme"}])
def test_steps_of_the_wrong_type_are_unsure_and_never_said_to_be_undeclared(steps_value):
    result = acme(steps=steps_value)
    for rule in ("NFX-GP2", "NFX-GP3", "NFX-V1"):
        finding = one(result, rule)
        assert finding.unsure and finding.evidence["missing"] == "steps"
        assert "invalid or misspelled" in finding.message
        assert "not declared" not in finding.message and "no workflow steps" not in finding.message
    assert result.outcome is Outcome.APPROVAL, describe(result)


def test_a_step_of_the_wrong_shape_keeps_its_place_and_the_others_are_checked():
    result = acme(
        steps=["a cat at dusk", {"tool": 3, "inputs": "x"}, {"tool": "dreamapp", "inputs": []}]
    )
    v1 = {f.evidence["step"]: f for f in of(result, "NFX-V1")}
    assert set(v1) == {0, 1}
    assert v1[0].message.startswith("step 0 (invalid) gives tool and inputs invalid or misspelled")
    assert v1[1].message.startswith("step 1 (tool invalid) gives tool and inputs invalid")
    assert "a cat" not in describe(result)  # a step's text may be prompt text: never shown
    gp2 = {f.evidence["step"] for f in of(result, "NFX-GP2")}
    assert gp2 == {0, 1, 2}  # step 2's unregistered tool is still checked


@pytest.mark.parametrize("training", ["yes", {"performed": "maybe"}, {"performd": True}])
def test_an_invalid_training_is_unsure_never_untrained(training):
    result = acme(steps=[{"tool": "acme", "inputs": [], "training": training}])
    d2 = one(result, "NFX-D2")
    assert d2.unsure and d2.evidence["missing"] == "steps[0].training.performed", describe(result)
    assert "invalid or misspelled" in d2.message


def test_v2_an_attestation_written_unknown_is_none():
    data = sidecar({"vendor": {"id": "V-12", "attestation": "unknown"}})
    assert outcome_of(audit(data), "NFX-V2") is Outcome.NOTICE
