"""Disclosure and ethics: NFX-00, NFX-01 (engine semantics), NFX-E1, NFX-E2; GenAI-only gating."""

from __future__ import annotations

import pytest

from _records import IPTC, audit, describe, fired, inp, of, one, outcome_of, policy, sidecar, step
from clearance.model import Outcome
from clearance.plugins import PluginHost

# -- which assets the GenAI rules look at --------------------------------------------------


def test_an_asset_that_says_not_generated_gets_provenance_and_iptc_consistency_rules_only():
    risky = sidecar(
        {
            "generated": False,
            "source_type": IPTC + "digitalCreation",
            "steps": [step("dreamapp", inputs=[inp("s.pdf", "script")])],
            "output": {"use": "final", "subject": "main_character", "on_screen": "prominent"},
            "talent": [{"performer": "P-0001", "replica": "employment_based"}],
            "union_impact": "actor",
        },
        drop=["disclosure"],
    )
    result = audit(risky, stage="delivery")
    assert fired(result) == set(), describe(result)
    assert result.outcome is Outcome.PASS


# -- NFX-00 --------------------------------------------------------------------------------


@pytest.mark.parametrize("disclosure", [None, {}, {"notified_at": None}])
def test_nfx00_genai_use_not_shared_with_the_studio_contact_is_a_notice(disclosure):
    data = sidecar(drop=["disclosure"])
    if disclosure is not None:
        data["disclosure"] = disclosure
    finding = one(audit(data), "NFX-00")
    assert finding.effective_outcome is Outcome.NOTICE and finding.principle == "disclosure"


def test_nfx00_a_recorded_notification_passes():
    assert "NFX-00" not in fired(audit(sidecar()))


def test_nfx00_is_not_raised_for_assets_that_are_not_genai():
    data = sidecar({"generated": False, "source_type": "digitalCapture"}, drop=["disclosure"])
    assert "NFX-00" not in fired(audit(data))


# -- NFX-01 --------------------------------------------------------------------------------


def test_nfx01_is_defined_but_never_a_finding_of_its_own():
    rule = PluginHost(policy(), autoload=False).registry.get("NFX-01")
    assert rule is not None and rule.check is None and rule.outcome is Outcome.ESCALATE
    # a record that is unsure on nearly everything still yields rule findings, not NFX-01
    result = audit({"provenance": 1, "generated": True})
    assert "NFX-01" not in fired(result)
    unsure = {f.rule for f in result.findings if f.unsure}
    assert {"NFX-GP2", "NFX-GP3", "NFX-GP4", "NFX-V1"} <= unsure, describe(result)
    assert all(f.effective_outcome >= Outcome.ESCALATE for f in result.findings if f.unsure)
    assert result.outcome is Outcome.APPROVAL


# -- NFX-E1 --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["output.depicts_real", "output.presented_as_authentic"])
def test_e1_output_that_could_pass_as_real_needs_approval_in_fiction(field):
    finding = one(audit(sidecar({field: True})), "NFX-E1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["genre"] == "fiction"


@pytest.mark.parametrize("genre", ["documentary", "news"])
def test_e1_presented_as_authentic_in_a_documentary_or_news_production_blocks(genre):
    result = audit(sidecar({"output.presented_as_authentic": True}), genre=genre)
    assert outcome_of(result, "NFX-E1") is Outcome.BLOCK


def test_e1_presented_as_authentic_with_no_genre_configured_is_unsure_never_fiction():
    """A clearance.yaml without production.genre: the production may be a documentary (a
    block) as well as fiction (an approval). Review: an absent genre was read as fiction,
    so an approval cleared it. Approval for what is known, and an unsure escalate no
    approval clears."""
    approvals = {
        "APR-E1": {
            "rules": ["NFX-E1"],
            "scope": {"production": "SHOW01"},
            "approved_by": "Legal",
            "expires": "2027-03-01",
        }
    }
    result = audit(
        sidecar({"output.presented_as_authentic": True}), genre=None, approvals=approvals
    )
    unsure = [f for f in of(result, "NFX-E1") if f.unsure]
    assert [(f.evidence["missing"], f.effective_outcome) for f in unsure] == [
        ("production.genre", Outcome.ESCALATE)
    ], describe(result)
    assert unsure[0].is_open and "genre is unknown" in unsure[0].message
    assert "production.genre" in (unsure[0].remediation or "")
    assert result.outcome is Outcome.ESCALATE  # the approval clears the approval finding only


def test_e1_depicting_something_real_with_no_genre_configured_needs_only_approval():
    result = audit(sidecar({"output.depicts_real": True}), genre=None)
    assert [f.unsure for f in of(result, "NFX-E1")] == [False]


def test_e1_a_configuration_without_genre_is_read_as_unknown(tmp_path):
    from clearance.policy import load_policy

    (tmp_path / "clearance.yaml").write_text("clearance: 1\nproduction: {id: SHOW01}\n")
    assert load_policy(tmp_path / "clearance.yaml").genre is None
    (tmp_path / "clearance.yaml").write_text("clearance: 1\nproduction: {id: S, genre: news}\n")
    assert load_policy(tmp_path / "clearance.yaml").genre == "news"


def test_e1_depicting_something_real_without_presenting_it_as_authentic_is_approval_in_a_documentary():
    result = audit(sidecar({"output.depicts_real": True}), genre="documentary")
    assert outcome_of(result, "NFX-E1") is Outcome.APPROVAL


def test_e1_output_that_is_neither_real_nor_presented_as_authentic_passes():
    data = sidecar({"output.depicts_real": False, "output.presented_as_authentic": False})
    assert "NFX-E1" not in fired(audit(data, genre="news"))


def test_e1_unsure_when_it_is_unknown_whether_output_could_pass_as_real():
    finding = one(audit(sidecar({"output.presented_as_authentic": "unknown"})), "NFX-E1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


@pytest.mark.parametrize("field", ["output.depicts_real", "output.presented_as_authentic"])
def test_e1_a_fact_written_null_is_unknown_never_no(field):
    # `depicts_real:` with no value (null) read as false: a pass
    finding = one(audit(sidecar({field: None})), "NFX-E1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["missing"] == field


# -- NFX-E2 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"union_impact": "background", "output.use": "final"},
        {"output.synthetic_performer": True, "output.use": "final"},
        {"output.synthetic_performer": True, "output.on_screen": "background"},
    ],
    ids=["union-final", "synthetic-final", "synthetic-on-screen"],
)
def test_e2_union_work_or_synthetic_performers_on_final_or_on_screen_assets_need_approval(changes):
    data = sidecar(changes)
    if "output.use" not in changes:
        data["output"].pop("use")
    assert outcome_of(audit(data), "NFX-E2") is Outcome.APPROVAL


@pytest.mark.parametrize("use", ["ideation", "pitch", "previs", "temp"])
def test_e2_is_a_notice_for_early_uses(use):
    data = sidecar({"output.synthetic_performer": True, "output.use": use})
    assert outcome_of(audit(data, stage="previs"), "NFX-E2") is Outcome.NOTICE


def test_e2_no_union_impact_and_no_synthetic_performer_passes():
    assert "NFX-E2" not in fired(audit(sidecar({"output.use": "final"})))


def test_e2_unsure_when_the_use_of_an_affected_asset_is_unknown():
    data = sidecar({"output.synthetic_performer": True}, drop=["output.use"])
    finding = one(audit(data), "NFX-E2")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


def test_e2_unsure_when_it_is_unknown_whether_a_synthetic_performer_is_in_the_shot():
    finding = one(audit(sidecar({"output.synthetic_performer": "unknown"})), "NFX-E2")
    assert finding.unsure


def test_e2_a_synthetic_performer_written_null_is_unknown_never_no():
    finding = one(audit(sidecar({"output.synthetic_performer": None})), "NFX-E2")
    assert finding.unsure and finding.evidence["missing"] == "output.synthetic_performer"
