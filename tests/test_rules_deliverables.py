"""Final deliverables and on-screen elements: NFX-GP4, NFX-F1, NFX-F2, NFX-F3; approvals on them."""

from __future__ import annotations

import pytest

from _records import APPROVE_FINAL, audit, fired, of, one, outcome_of, sidecar
from clearance.model import Outcome, Status

# -- NFX-GP4 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "stage"),
    [
        ({"output.use": "final"}, "comp"),
        ({"output.in_final_cut": True}, "comp"),
        ({}, "delivery"),
    ],
    ids=["use-final", "in-final-cut", "final-stage"],
)
def test_gp4_genai_in_final_deliverables_needs_approval(changes, stage):
    finding = one(audit(sidecar(changes), stage=stage), "NFX-GP4")
    assert finding.effective_outcome is Outcome.APPROVAL and not finding.unsure


def test_gp4_a_stage_marked_final_by_the_caller_is_final():
    assert outcome_of(audit(sidecar(), stage="conform", final=True), "NFX-GP4") is Outcome.APPROVAL


@pytest.mark.parametrize("use", ["ideation", "pitch", "previs", "temp"])
def test_gp4_temporary_material_passes(use):
    assert "NFX-GP4" not in fired(audit(sidecar({"output.use": use})))


def test_gp4_unsure_when_the_use_is_missing_outside_a_final_stage():
    finding = one(audit(sidecar(drop=["output.use"])), "NFX-GP4")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


def test_gp4_an_approval_in_scope_clears_it_and_the_finding_stays_visible():
    result = audit(sidecar({"output.use": "final"}), approvals=APPROVE_FINAL)
    finding = one(result, "NFX-GP4")
    assert finding.status is Status.APPROVED and finding.approval == "APR-FINAL"
    assert result.outcome is Outcome.PASS


def test_gp4_an_expired_approval_leaves_it_open():
    expired = {"APR-OLD": {**APPROVE_FINAL["APR-FINAL"], "expires": "2026-06-30"}}
    result = audit(sidecar({"output.use": "final"}), approvals=expired)
    finding = one(result, "NFX-GP4")
    assert finding.status is Status.EXPIRED and finding.approval == "APR-OLD"
    assert result.outcome is Outcome.APPROVAL


def test_gp4_an_approval_for_another_shot_does_not_apply():
    other = {
        "APR-SH20": {
            **APPROVE_FINAL["APR-FINAL"],
            "scope": {"production": "SHOW01", "shots": ["sh020"]},
        }
    }
    result = audit(sidecar({"output.use": "final"}), approvals=other)
    assert one(result, "NFX-GP4").status is Status.OPEN


# -- NFX-F1 --------------------------------------------------------------------------------


@pytest.mark.parametrize("on_screen", ["background", "prominent", "audible"])
def test_f1_an_on_screen_element_not_flagged_is_a_notice(on_screen):
    finding = one(audit(sidecar({"output.on_screen": on_screen})), "NFX-F1")
    assert finding.effective_outcome is Outcome.NOTICE
    assert finding.evidence["on_screen"] == on_screen


def test_f1_a_flagged_or_off_screen_element_passes():
    flagged = sidecar({"output.on_screen": "background", "disclosure.flagged_at": "2026-11-03"})
    assert "NFX-F1" not in fired(audit(flagged))
    assert "NFX-F1" not in fired(
        audit(sidecar({"output.on_screen": "none", "output.use": "final"}))
    )


def test_f1_unsure_when_a_final_asset_does_not_say_whether_it_is_on_screen():
    finding = one(audit(sidecar({"output.use": "final"}, drop=["output.on_screen"])), "NFX-F1")
    assert finding.unsure and finding.effective_outcome is Outcome.ESCALATE


def test_f1_missing_on_screen_before_final_is_not_asked():
    assert "NFX-F1" not in fired(audit(sidecar(drop=["output.on_screen"])))


# -- NFX-F2 --------------------------------------------------------------------------------


@pytest.mark.parametrize("prominence", ["referenced", "read_aloud", "story_relevant"])
def test_f2_a_prominent_prop_needs_approval(prominence):
    data = sidecar({"output.element_type": "document", "output.prominence": prominence})
    finding = one(audit(data), "NFX-F2")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence == {"element_type": "document", "prominence": prominence}


def test_f2_an_incidental_prop_is_a_notice():
    data = sidecar({"output.element_type": "signage", "output.prominence": "incidental"})
    assert outcome_of(audit(data), "NFX-F2") is Outcome.NOTICE


def test_f2_prominence_alone_marks_a_prop():
    assert (
        outcome_of(audit(sidecar({"output.prominence": "read_aloud"})), "NFX-F2")
        is Outcome.APPROVAL
    )


def test_f2_unsure_when_a_prop_has_no_prominence():
    finding = one(audit(sidecar({"output.element_type": "news_clipping"})), "NFX-F2")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


def test_f2_an_asset_that_is_not_a_prop_passes():
    assert not of(audit(sidecar({"output.use": "final"})), "NFX-F2")


# -- NFX-F3 --------------------------------------------------------------------------------


@pytest.mark.parametrize("contribution", [None, "", "   "])
def test_f3_a_final_asset_without_human_contribution_is_a_notice(contribution):
    data = sidecar({"output.use": "final"}, drop=["output.human_contribution"])
    if contribution is not None:
        data["output"]["human_contribution"] = contribution
    assert outcome_of(audit(data), "NFX-F3") is Outcome.NOTICE


def test_f3_recorded_human_contribution_or_a_temporary_asset_passes():
    assert "NFX-F3" not in fired(audit(sidecar({"output.use": "final"})))
    assert "NFX-F3" not in fired(audit(sidecar(drop=["output.human_contribution"])))
