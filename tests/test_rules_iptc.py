"""IPTC digital source type: IPTC-01 … IPTC-04, on sidecars and on embedded metadata."""

from __future__ import annotations

import pytest

from _records import IPTC, audit, describe, fired, inp, of, one, outcome_of, sidecar, step
from clearance.model import Outcome, PartialRecord

GENAI = ["trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic"]
C2PA = "http://c2pa.org/digitalsourcetype/"


def embedded(value: str, source: str = "xmp", **data) -> PartialRecord:
    return PartialRecord(source, f"comp/sh010_comp_v001.{source}", {"source_type": value, **data})


# -- IPTC-01 -------------------------------------------------------------------------------


@pytest.mark.parametrize("term", GENAI)
@pytest.mark.parametrize("form", ["uri", "short"])
def test_iptc01_genai_terms_pass_as_uri_or_short_name_in_a_sidecar(term, form):
    value = IPTC + term if form == "uri" else term
    assert "IPTC-01" not in fired(audit(sidecar({"source_type": value}), stage="delivery"))


@pytest.mark.parametrize("value", [None, "composite", IPTC + "virtualRecording"])
def test_iptc01_a_genai_asset_without_a_genai_term_is_a_notice_before_final(value):
    data = sidecar(drop=["source_type"]) if value is None else sidecar({"source_type": value})
    finding = one(audit(data), "IPTC-01")
    assert finding.effective_outcome is Outcome.NOTICE


def test_iptc01_blocks_on_a_final_asset():
    result = audit(sidecar(drop=["source_type"]), stage="delivery")
    assert outcome_of(result, "IPTC-01") is Outcome.BLOCK


def test_iptc01_c2pa_own_genai_uri_counts_on_a_final_asset():
    c2pa = embedded(C2PA + "trainedAlgorithmicData", "c2pa", generated=True)
    result = audit(sidecar(drop=["source_type"]), stage="delivery", partials=[c2pa])
    assert "IPTC-01" not in fired(result), describe(result)


def test_iptc01_is_not_applied_to_assets_that_are_not_genai():
    data = sidecar({"generated": False}, drop=["source_type"])
    assert "IPTC-01" not in fired(audit(data, stage="delivery"))


# -- IPTC-02 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "term",
    [
        "digitalCapture",
        "digitalCreation",
        "humanEdits",
        "algorithmicallyEnhanced",
        "minorHumanEdits",
    ],
)
def test_iptc02_generated_true_with_a_non_genai_term_blocks(term):
    finding = one(audit(sidecar({"source_type": IPTC + term})), "IPTC-02")
    assert finding.effective_outcome is Outcome.BLOCK
    assert finding.evidence["source"] == "sidecar" and finding.evidence["generated"] is True


@pytest.mark.parametrize("term", GENAI)
def test_iptc02_generated_false_with_a_genai_term_blocks(term):
    result = audit(sidecar({"generated": False, "source_type": term}))
    assert outcome_of(result, "IPTC-02") is Outcome.BLOCK


@pytest.mark.parametrize(
    ("generated", "value"),
    [
        (True, "DigitalCapture"),
        (True, "digitalCapture "),
        (True, IPTC + "digitalcapture/"),
        (False, "TrainedAlgorithmicMedia"),
        (False, " compositeSynthetic"),
    ],
)
def test_iptc02_a_miswritten_term_still_contradicts_generated(generated, value):
    # a term in another case or with spaces says what it says: it was a notice at most,
    # where the same term written right blocks
    result = audit(sidecar({"generated": generated, "source_type": value}), stage="delivery")
    assert outcome_of(result, "IPTC-02") is Outcome.BLOCK, describe(result)


def test_iptc02_checks_embedded_terms_against_the_record():
    result = audit(sidecar(drop=["source_type"]), partials=[embedded(IPTC + "digitalCapture")])
    finding = one(result, "IPTC-02")
    assert finding.evidence["source"] == "xmp"


@pytest.mark.parametrize(
    ("generated", "term"),
    [
        (True, "compositeSynthetic"),
        (False, "digitalCapture"),
        (True, "composite"),
        (False, "composite"),
    ],
)
def test_iptc02_consistent_or_undecided_terms_pass(generated, term):
    assert "IPTC-02" not in fired(audit(sidecar({"generated": generated, "source_type": term})))


# -- IPTC-03 -------------------------------------------------------------------------------


def comp(source_type: str | None, *, generated: bool = True) -> dict:
    data = sidecar(
        {
            "generated": generated,
            "steps": [
                step(
                    "nuke-comp",
                    inputs=[
                        inp("gen/matte_v003.exr", "generated"),
                        inp("plates/p.exr", "owned_released"),
                    ],
                )
            ],
        }
    )
    if source_type is None:
        data.pop("source_type")
    else:
        data["source_type"] = source_type
    return data


def test_iptc03_a_comp_with_genai_ingredients_marked_as_capture_blocks_when_final():
    # the comp's sidecar forgot GenAI: generated false, compositeCapture
    result = audit(comp("compositeCapture", generated=False), stage="delivery")
    finding = one(result, "IPTC-03")
    assert finding.effective_outcome is Outcome.BLOCK
    assert finding.evidence["ingredients"] == [{"step": 0, "ref": "gen/matte_v003.exr"}]
    assert result.outcome is Outcome.BLOCK, describe(result)


def test_iptc03_is_a_notice_before_final():
    assert outcome_of(audit(comp(None, generated=False)), "IPTC-03") is Outcome.NOTICE


@pytest.mark.parametrize("term", GENAI)
def test_iptc03_a_comp_carrying_a_genai_term_passes(term):
    assert "IPTC-03" not in fired(audit(comp(IPTC + term), stage="delivery"))


def test_iptc03_no_genai_ingredients_no_finding():
    data = sidecar(
        {
            "generated": False,
            "source_type": "compositeCapture",
            "steps": [step("nuke-comp", inputs=[inp("p.exr", "owned_released")])],
        }
    )
    assert "IPTC-03" not in fired(audit(data, stage="delivery"))


# -- IPTC-04 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "softwareImage",
        "digitalArt",
        IPTC + "minorHumanEdits",
        "compositedWithTrainedAlgorithmicMedia",
        "trainedalgorithmicmedia",
    ],
)
def test_iptc04_retired_or_misspelled_terms_are_a_notice(value):
    result = audit(sidecar({"generated": False, "source_type": value}))
    finding = one(result, "IPTC-04")
    assert finding.effective_outcome is Outcome.NOTICE and finding.evidence["source_type"] == value


def test_iptc04_embedded_metadata_must_carry_the_full_uri():
    result = audit(sidecar(), partials=[embedded("trainedAlgorithmicMedia", generated=True)])
    finding = one(result, "IPTC-04")
    assert finding.evidence["source"] == "xmp" and "full URI" in finding.message


@pytest.mark.parametrize(
    "partial",
    [
        embedded(IPTC + "trainedAlgorithmicMedia", generated=True),
        embedded(IPTC + "compositeSynthetic", "c2pa", generated=True),
        embedded(C2PA + "trainedAlgorithmicData", "c2pa", generated=True),
        embedded(C2PA + "empty", "c2pa"),
    ],
    ids=["xmp-uri", "c2pa-uri", "c2pa-own-genai-uri", "c2pa-empty"],
)
def test_iptc04_current_full_uris_in_embedded_metadata_pass(partial):
    assert not of(audit(sidecar(), partials=[partial]), "IPTC-04")


def test_iptc04_a_misspelled_term_under_the_c2pa_prefix_is_named_by_its_term():
    result = audit(sidecar(), partials=[embedded(C2PA + "trainedAlgorithmicDatum", "c2pa")])
    finding = one(result, "IPTC-04")
    assert "'trainedAlgorithmicDatum'" in finding.message


def test_iptc04_a_short_current_term_in_a_sidecar_passes():
    assert not of(audit(sidecar({"source_type": "compositeSynthetic"})), "IPTC-04")


def test_iptc04_can_be_disabled():
    result = audit(
        sidecar({"source_type": "digitalArt", "generated": False}),
        rules={"IPTC-04": {"enabled": False}},
    )
    assert "IPTC-04" not in fired(result)


# -- one reading of a term for every IPTC rule (review: IPTC-01 was stricter than IPTC-04) --


@pytest.mark.parametrize(
    "value",
    [
        " trainedAlgorithmicMedia ",
        "TrainedAlgorithmicMedia",
        IPTC + "compositeSynthetic/",
        "HTTP://CV.IPTC.ORG/NEWSCODES/DIGITALSOURCETYPE/compositeWithTrainedAlgorithmicMedia",
    ],
)
def test_a_miswritten_genai_term_is_read_as_its_term_by_every_rule_and_named_by_iptc04(value):
    """Case, surrounding spaces and a trailing slash do not change what a term says: a final
    GenAI asset whose term is a GenAI term so miswritten was an IPTC-01 block (its term
    "not a GenAI term") while IPTC-04 passed the spaces; IPTC-02 reads it as the readers do.
    Now each rule reads the term the same way, and IPTC-04 alone names the spelling."""
    result = audit(sidecar({"source_type": value}), stage="delivery")
    assert "IPTC-01" not in fired(result), describe(result)
    assert "IPTC-02" not in fired(result), describe(result)
    finding = one(result, "IPTC-04")
    assert finding.effective_outcome is Outcome.NOTICE
    assert "read as" in finding.message and finding.evidence["source_type"] == value


def test_iptc03_reads_a_miswritten_genai_term_as_genai():
    data = sidecar(
        {
            "source_type": "CompositeSynthetic ",
            "steps": [step("nuke-comp", inputs=[inp("gen/bg.exr", "generated")])],
        }
    )
    result = audit(data, stage="delivery")
    assert "IPTC-03" not in fired(result), describe(result)
    assert outcome_of(result, "IPTC-04") is Outcome.NOTICE


def test_a_miswritten_non_genai_term_on_a_genai_asset_is_still_iptc01():
    result = audit(sidecar({"source_type": " DigitalCapture"}), stage="delivery")
    assert outcome_of(result, "IPTC-01") is Outcome.BLOCK
    assert outcome_of(result, "IPTC-02") is Outcome.BLOCK
