"""Talent and performance: NFX-GP5, T1, T1x, T2, T3, T4, T5, and the consents they check."""

from __future__ import annotations

import pytest

from _records import (
    CONSENTS,
    acme,
    audit,
    describe,
    fired,
    of,
    one,
    outcome_of,
    policy,
    sidecar,
    step,
)
from clearance.model import Outcome

QA = {"test_record": "QA-7"}


def with_talent(*entries, **changes):
    return sidecar({"talent": list(entries), "qa": QA, **changes})


def replica(kind="employment_based", consent="C-001", performer="P-0001", **extra):
    entry = {"performer": performer, "replica": kind, "alteration": "none", **extra}
    if consent is not None:
        entry["consent"] = consent
    return entry


# -- NFX-T1 and the consent checks ---------------------------------------------------------


def test_t1_a_replica_with_valid_consent_needs_approval():
    result = audit(with_talent(replica()))
    finding = one(result, "NFX-T1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["consent"] == "C-001"
    assert result.outcome is Outcome.APPROVAL


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (replica(consent=None), "no consent"),
        (replica(consent="C-404"), "not in the consents registry"),
        (replica(consent="C-EXPIRED"), "expired"),
        (replica(consent="C-OTHER-SHOW"), "production SHOW02"),
        (replica(consent="C-001", performer="P-0002"), "performer P-0001"),
        (replica("independent"), "does not cover independent_replica"),
        (replica("background", consent="C-001"), "does not cover background_replica"),
    ],
    ids=[
        "none",
        "unknown-id",
        "expired",
        "other-show",
        "other-performer",
        "wrong-use",
        "wrong-use-bg",
    ],
)
def test_t1_a_replica_without_valid_consent_blocks(entry, reason):
    result = audit(with_talent(entry))
    finding = one(result, "NFX-T1")
    assert finding.effective_outcome is Outcome.BLOCK
    assert reason in finding.evidence["reason"]
    assert result.outcome is Outcome.BLOCK


def test_t1_a_consent_signed_after_the_audits_date_does_not_cover_yet():
    """As an approval approved after the audit's date: a consent not signed yet on that day
    covers nothing until then (the rule tests audit on 2026-11-26)."""
    consents = {"C-001": {**CONSENTS["C-001"], "signed_at": "2026-11-27"}}
    finding = one(audit(with_talent(replica()), consents=consents), "NFX-T1")
    assert finding.effective_outcome is Outcome.BLOCK
    assert "takes effect on 2026-11-27" in finding.evidence["reason"]
    consents = {"C-001": {**CONSENTS["C-001"], "signed_at": "2026-11-26"}}
    assert (
        outcome_of(audit(with_talent(replica()), consents=consents), "NFX-T1") is Outcome.APPROVAL
    )


def test_t1_a_background_replica_under_a_background_consent_needs_approval():
    result = audit(with_talent(replica("background", consent="C-BG", performer="P-0100")))
    assert outcome_of(result, "NFX-T1") is Outcome.APPROVAL


@pytest.mark.parametrize("kind", ["none", "synthetic"])
def test_t1_no_replica_or_a_synthetic_performer_is_not_a_replica_of_real_talent(kind):
    assert "NFX-T1" not in fired(audit(with_talent(replica(kind, consent=None))))


def test_t1_an_approval_does_not_clear_a_block():
    approvals = {
        "APR-T": {
            "rules": ["NFX-*"],
            "scope": {"production": "SHOW01"},
            "approved_by": "Legal",
            "expires": "2027-03-01",
        }
    }
    result = audit(with_talent(replica(consent=None)), approvals=approvals)
    assert one(result, "NFX-T1").is_open and result.outcome is Outcome.BLOCK


# -- NFX-T1x -------------------------------------------------------------------------------


@pytest.mark.parametrize("exception", ["as_scripted", "safety", "unrecognizable"])
def test_t1x_an_exception_is_logged_as_a_notice_and_waives_further_consent(exception):
    result = audit(with_talent(replica(exception=exception)))
    finding = one(result, "NFX-T1x")
    assert finding.effective_outcome is Outcome.NOTICE
    assert finding.evidence["exception"] == exception
    assert "NFX-T1" not in fired(result) and "NFX-GP5" not in fired(result), describe(result)
    assert result.outcome is Outcome.NOTICE


@pytest.mark.parametrize("exception", ["as_scripted", "safety", "unrecognizable"])
@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (replica(consent=None), "no consent"),
        (replica(consent="C-404"), "not in the consents registry"),
        (replica(consent="C-EXPIRED"), "expired"),
        (replica(consent="C-OTHER-SHOW"), "production SHOW02"),
        (replica("background", consent="C-001"), "does not cover background_replica"),
    ],
    ids=["none", "unknown-id", "expired", "other-show", "wrong-use"],
)
def test_t1_an_exception_does_not_waive_the_consent_to_create_the_replica(exception, entry, reason):
    """The use-case matrix's row 14 (a replica for a reshoot "substantially as scripted", a
    stunt, a masked performer): a notice, "consent to create still needed". N1: "Creating a
    Digital Replica needs consent"; the exceptions waive only *further* consent."""
    result = audit(with_talent({**entry, "exception": exception}))
    finding = one(result, "NFX-T1")
    assert finding.effective_outcome is Outcome.BLOCK, describe(result)
    assert reason in finding.evidence["reason"]
    assert finding.evidence["exception"] == exception
    assert "consent to create" in finding.message
    assert outcome_of(result, "NFX-T1x") is Outcome.NOTICE  # the exception is still logged
    assert result.outcome is Outcome.BLOCK


@pytest.mark.parametrize("given", [{"replica": "none"}, {}], ids=["none", "absent"])
def test_t1x_an_exception_with_no_replica_is_logged_without_saying_a_replica_was_used(given):
    entry = {"performer": "P-0001", "exception": "safety", **given}
    finding = one(audit(with_talent(entry)), "NFX-T1x")
    assert finding.effective_outcome is Outcome.NOTICE
    assert "replica used" not in finding.message
    assert "the safety exception claimed, with no replica named" in finding.message


def test_t1x_no_exception_no_finding():
    assert "NFX-T1x" not in fired(audit(with_talent(replica())))


# -- NFX-T2 --------------------------------------------------------------------------------


def altered(consent="C-001", alteration="significant", **extra):
    entry = {"performer": "P-0001", "replica": "none", "alteration": alteration, **extra}
    if consent:
        entry["consent"] = consent
    return entry


def test_t2_a_significant_alteration_with_consent_needs_approval():
    assert outcome_of(audit(with_talent(altered())), "NFX-T2") is Outcome.APPROVAL


@pytest.mark.parametrize("consent", [None, "C-EXPIRED", "C-BG"])
def test_t2_a_significant_alteration_without_valid_consent_blocks(consent):
    result = audit(with_talent(altered(consent)))
    assert outcome_of(result, "NFX-T2") is Outcome.BLOCK
    assert outcome_of(result, "NFX-GP5") is Outcome.BLOCK


@pytest.mark.parametrize("alteration", ["none", "customary"])
def test_t2_other_alterations_pass(alteration):
    data = with_talent(altered(None, alteration, alteration_category="cosmetics"))
    assert "NFX-T2" not in fired(audit(data))


# -- NFX-T3 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "category",
    [
        "cosmetics",
        "wardrobe",
        "noise_reduction",
        "timing",
        "continuity",
        "pitch",
        "clarity",
        "dubbing",
    ],
)
def test_t3_a_customary_category_is_logged_as_pass(category):
    result = audit(with_talent(altered(None, "customary", alteration_category=category)))
    finding = one(result, "NFX-T3")
    assert finding.effective_outcome is Outcome.PASS
    assert "NFX-T3" not in fired(result) and result.outcome is Outcome.PASS


@pytest.mark.parametrize("category", [None, "unknown", "de_ageing", "cosmetic"])
def test_t3_a_customary_claim_that_cannot_be_checked_is_unsure(category):
    """No category, or one not on the list: whether the alteration is customary is unknown
    (review: a notice; unsure is escalate at least)."""
    extra = {"alteration_category": category} if category else {}
    finding = one(audit(with_talent(altered(None, "customary", **extra))), "NFX-T3")
    assert finding.unsure and finding.effective_outcome is Outcome.ESCALATE
    assert finding.evidence["missing"] == "talent[0].alteration_category"


@pytest.mark.parametrize("consent", [None, "C-EXPIRED", "C-BG"])
def test_t3_an_alteration_outside_the_customary_list_without_consent_blocks(consent):
    """GUIDANCE (SAG-05): a category from the closed list passes, ``other`` blocks without
    consent; N1: digital alterations "generally need consent", customary ones excepted.
    Review: ``alteration: customary`` with category ``other`` was only a notice."""
    entry = altered(consent, "customary", alteration_category="other")
    result = audit(with_talent(entry))
    finding = one(result, "NFX-T3")
    assert finding.effective_outcome is Outcome.BLOCK, describe(result)
    assert finding.evidence["reason"] and "outside the customary list" in finding.message
    assert result.outcome is Outcome.BLOCK


def test_t3_an_alteration_outside_the_customary_list_under_consent_needs_approval():
    result = audit(with_talent(altered("C-001", "customary", alteration_category="other")))
    assert outcome_of(result, "NFX-T3") is Outcome.APPROVAL
    assert result.outcome is Outcome.APPROVAL


def test_t3_no_customary_alteration_no_finding():
    assert not of(audit(with_talent(replica())), "NFX-T3")


# -- NFX-GP5 -------------------------------------------------------------------------------


@pytest.mark.parametrize("impact", ["actor", "writer", "crew", "background"])
def test_gp5_union_covered_work_affected_needs_approval(impact):
    finding = one(audit(sidecar({"union_impact": impact})), "NFX-GP5")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["union_impact"] == impact


def test_gp5_a_replica_with_consent_needs_approval_and_without_blocks():
    assert outcome_of(audit(with_talent(replica())), "NFX-GP5") is Outcome.APPROVAL
    assert outcome_of(audit(with_talent(replica(consent=None))), "NFX-GP5") is Outcome.BLOCK


def test_gp5_no_talent_and_no_union_impact_passes():
    assert "NFX-GP5" not in fired(audit(sidecar()))
    assert "NFX-GP5" not in fired(audit(sidecar(drop=["union_impact"])))  # absent: none
    data = with_talent({"performer": "P-0001", "replica": "none", "alteration": "none"})
    assert "NFX-GP5" not in fired(audit(data))


def test_gp5_unsure_when_union_impact_is_unknown():
    finding = one(audit(sidecar({"union_impact": "unknown"})), "NFX-GP5")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


def test_gp5_unsure_when_a_talent_entry_does_not_say_how_the_performer_is_used():
    finding = one(audit(with_talent({"performer": "P-0001", "consent": "C-001"})), "NFX-GP5")
    assert finding.unsure and finding.evidence["missing"] == "talent[0].replica"


# -- NFX-T4 --------------------------------------------------------------------------------


def talent_model(use="previs", **model):
    spec = {"id": "p0001-voice", "trained_on_talent": True, **model}
    return sidecar({"steps": [step(model=spec)], "output.use": use, "qa": QA})


def test_t4_a_talent_model_used_for_another_production_blocks():
    finding = one(audit(talent_model(allowed_productions=["SHOW00"])), "NFX-T4")
    assert finding.effective_outcome is Outcome.BLOCK
    assert finding.evidence["production"] == "SHOW01" and finding.evidence["model"] == "p0001-voice"


def test_t4_a_talent_model_used_for_a_purpose_outside_its_scope_blocks():
    data = talent_model(
        "pitch", allowed_productions=["SHOW01"], allowed_purposes=["previs", "final"]
    )
    finding = one(audit(data, stage="ideation"), "NFX-T4")
    assert finding.effective_outcome is Outcome.BLOCK and finding.evidence["use"] == "pitch"


def test_t4_a_talent_model_used_for_a_pitch_needs_pitch_among_its_purposes():
    # GUIDANCE NFX-T4: not for "another production, pitch, or concept" without consent; with
    # no allowed_purposes a pitch passed
    data = talent_model("pitch", allowed_productions=["SHOW01"])
    finding = one(audit(data, stage="ideation"), "NFX-T4")
    assert finding.effective_outcome is Outcome.BLOCK and finding.evidence["use"] == "pitch"
    consented = talent_model("pitch", allowed_productions=["SHOW01"], allowed_purposes=["pitch"])
    assert "NFX-T4" not in fired(audit(consented, stage="ideation"))


def test_t4_a_talent_model_inside_its_scope_passes():
    data = talent_model(
        "final", allowed_productions=["SHOW01"], allowed_purposes=["previs", "final"]
    )
    assert "NFX-T4" not in fired(audit(data))
    assert "NFX-T4" not in fired(audit(talent_model(allowed_productions=["SHOW01"])))


def test_t4_and_t1_read_an_invalid_production_as_unknown_not_as_the_shows():
    """``production: [SHOW02]`` may name another show: it is not the show's production, so
    neither a talent model consented for SHOW01 nor a consent for SHOW01 is shown to cover
    the asset (it fell back to clearance.yaml's production, and both passed)."""
    data = talent_model(allowed_productions=["SHOW01"])
    data["production"] = ["SHOW02"]
    result = audit(data)
    assert "PRV-02" in fired(result)
    finding = one(result, "NFX-T4")
    assert finding.unsure and finding.evidence["missing"] == "production"
    consented = with_talent(replica())
    consented["production"] = 42
    finding = one(audit(consented), "NFX-T1")
    assert finding.effective_outcome is Outcome.BLOCK
    assert "production is unknown (given invalid, see PRV-02)" in finding.evidence["reason"]
    # left out, the production is the show's: both pass as before
    assert "NFX-T4" not in fired(audit(talent_model(allowed_productions=["SHOW01"])))


def test_an_asset_made_for_another_show_is_cleared_for_both_shows():
    """An asset whose sidecar names SHOW01 in SHOW02's tree: SHOW01's talent model and
    SHOW01's consent passed T4 and gave T1 an approval, the sidecar's production standing
    for the show being audited. It must be cleared for SHOW02 as well (review)."""
    data = talent_model(allowed_productions=["SHOW01"])
    show02 = policy(production_id="SHOW02")
    finding = one(audit(data, the_policy=show02), "NFX-T4")
    assert finding.effective_outcome is Outcome.BLOCK
    assert finding.evidence["production"] == "SHOW02"
    assert "its sidecar names SHOW01, clearance.yaml SHOW02" in finding.message
    both = talent_model(allowed_productions=["SHOW01", "SHOW02"])
    assert "NFX-T4" not in fired(audit(both, the_policy=show02))
    # one consent is for one production: a replica made for SHOW01, used in SHOW02's tree
    finding = one(audit(with_talent(replica()), the_policy=show02), "NFX-T1")
    assert finding.effective_outcome is Outcome.BLOCK
    assert "is for production SHOW01, not SHOW02" in finding.evidence["reason"]
    # no production in clearance.yaml: the sidecar's is the one
    assert "NFX-T4" not in fired(audit(data, the_policy=policy(production_id=None)))


def test_t4_models_not_trained_on_talent_pass():
    assert "NFX-T4" not in fired(audit(talent_model(trained_on_talent=False)))


@pytest.mark.parametrize(
    ("model", "missing"),
    [
        ({}, "steps[0].model.allowed_productions"),
        ({"trained_on_talent": "unknown"}, "steps[0].model.trained_on_talent"),
        # written null (an empty value): unknown, not "not trained on talent"
        ({"trained_on_talent": None}, "steps[0].model.trained_on_talent"),
    ],
)
def test_t4_unsure_when_the_scope_or_the_training_is_unknown(model, missing):
    finding = one(audit(talent_model(**model)), "NFX-T4")
    assert finding.unsure and finding.effective_outcome is Outcome.ESCALATE
    assert finding.evidence["missing"] == missing


# -- NFX-T5 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        sidecar({"talent": [replica()]}),
        sidecar({"talent": [altered()]}),
        sidecar(
            {
                "steps": [
                    step(
                        model={
                            "id": "m",
                            "trained_on_talent": True,
                            "allowed_productions": ["SHOW01"],
                        }
                    )
                ]
            }
        ),
    ],
    ids=["replica", "significant-alteration", "talent-model"],
)
def test_t5_talent_enhancement_without_a_qa_record_is_a_notice(data):
    assert outcome_of(audit(data), "NFX-T5") is Outcome.NOTICE


def test_t5_a_qa_record_or_no_enhancement_passes():
    assert "NFX-T5" not in fired(audit(with_talent(replica())))
    assert "NFX-T5" not in fired(audit(sidecar()))


# -- an invalid field is unknown, never "not involved" (the reader: provenance/_invalid.py) --


def test_gp5_an_invalid_union_impact_is_unsure_exactly_as_if_unknown_were_written():
    written = acme(union_impact="unknown")
    typo = acme(union_impact="actors")  # not one of none, actor, writer, crew, background
    assert one(written, "NFX-GP5").unsure and written.outcome is Outcome.APPROVAL
    finding = one(typo, "NFX-GP5")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["missing"] == "union_impact"
    assert "union_impact is invalid or misspelled: see PRV-02" in finding.message
    prv02 = one(typo, "PRV-02")
    assert "union_impact: expected one of none, actor" in prv02.message
    assert typo.outcome is Outcome.APPROVAL, describe(typo)


def test_a_misspelled_key_in_a_talent_entry_keeps_the_entry_and_its_consent_is_unknown():
    entry = {"performer": "P-2", "replica": "employment_based", "alteration": "none"}
    noted = acme(talent=[{**entry, "x-note": "C-1"}])  # valid: no consent given
    typo = acme(talent=[{**entry, "concent": "C-1"}])
    assert "talent[0].concent: unknown field 'concent'" in one(typo, "PRV-02").message
    # never fewer findings than the valid entry that gives no consent, none less serious
    for rule in ("NFX-GP5", "NFX-T1"):
        assert outcome_of(typo, rule) is Outcome.BLOCK, describe(typo)
        assert outcome_of(noted, rule) is Outcome.BLOCK
    reason = one(typo, "NFX-T1").evidence["reason"]
    assert reason.startswith("the consent is unknown: talent[0].consent is invalid or misspelled")
    assert fired(noted) <= fired(typo)


@pytest.mark.parametrize(
    ("field", "rules"),
    [("replica", {"NFX-GP5", "NFX-T1"}), ("alteration", {"NFX-GP5", "NFX-T2"})],
)
def test_an_invalid_replica_or_alteration_is_unsure_never_none(field, rules):
    entry = {"performer": "P-0001", "replica": "none", "alteration": "none", "consent": "C-001"}
    result = acme(talent=[{**entry, field: "maybe"}])
    for rule in rules:
        finding = one(result, rule)
        assert finding.unsure and finding.evidence["missing"] == f"talent[0].{field}"
        assert f"talent[0].{field} is invalid or misspelled" in finding.message
    assert result.outcome is Outcome.APPROVAL, describe(result)
    # the same entry valid passes: it was the invalid value that made it unsure
    assert not fired(acme(talent=[entry]))


@pytest.mark.parametrize("consent", [None, "C-001"])
def test_t1_an_invalid_replica_under_an_exception_is_unsure(consent):
    """An exception waives only further consent, never the consent to create the replica,
    and which consent that is depends on the replica's kind: given invalid, NFX-T1 is
    unsure (review: it said nothing when an exception was claimed)."""
    entry = replica("employment_basd", consent=consent, exception="safety")
    result = acme(talent=[entry])
    finding = one(result, "NFX-T1")
    assert finding.unsure and finding.evidence["missing"] == "talent[0].replica"
    assert outcome_of(result, "NFX-T1x") is Outcome.NOTICE


@pytest.mark.parametrize("talent", ["P-2", {"P-2": "replica"}, ["P-2"], [None]])
def test_a_talent_list_or_entry_of_the_wrong_shape_is_unsure(talent):
    result = acme(talent=talent)
    finding = of(result, "NFX-GP5")[0]
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL, describe(result)
    assert "PRV-02" in fired(result) and "PRV-05" not in fired(result)


def test_t5_a_qa_record_written_unknown_is_none():
    data = with_talent(replica(), qa={"test_record": "unknown"})
    assert outcome_of(audit(data), "NFX-T5") is Outcome.NOTICE
