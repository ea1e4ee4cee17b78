"""Creative output: NFX-GP1 (unowned material), NFX-C1 (key elements), NFX-C2 (protected references)."""

from __future__ import annotations

import pytest

from _records import audit, fired, inp, of, one, outcome_of, sidecar, step
from clearance.model import Outcome

PROTECTED = [
    "copyrighted_work",
    "named_artist",
    "public_figure",
    "deceased_person",
    "performer_feature",
]


def prompt(*references, text="a desert street"):
    return sidecar({"steps": [step(prompt={"text": text, "references": list(references)})]})


# -- NFX-GP1 -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PROTECTED)
def test_gp1_a_protected_reference_without_permission_needs_approval(kind):
    finding = one(audit(prompt({"type": kind, "name": "X"})), "NFX-GP1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["references"] == [{"type": kind, "name": "X"}]


def test_gp1_references_with_permission_or_to_public_domain_pass():
    data = prompt(
        {"type": "copyrighted_work", "name": "Afghan Girl", "permission": "PERM-1"},
        {"type": "public_domain", "name": "Gustave Doré engravings"},
    )
    assert "NFX-GP1" not in fired(audit(data))


def test_gp1_an_uncleared_unowned_input_needs_approval_and_a_cleared_one_passes():
    uncleared = sidecar({"steps": [step(inputs=[inp("refs/mood_03.png", "third_party_unowned")])]})
    finding = one(audit(uncleared), "NFX-GP1")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["inputs"] == [
        {"ref": "refs/mood_03.png", "class": "third_party_unowned"}
    ]
    cleared = sidecar(
        {"steps": [step(inputs=[inp("refs/mood_03.png", "third_party_unowned", "CLR-7")])]}
    )
    assert "NFX-GP1" not in fired(audit(cleared))


def test_gp1_a_failed_similarity_review_blocks():
    result = audit(sidecar({"output.similarity_review": "failed"}))
    assert one(result, "NFX-GP1").effective_outcome is Outcome.BLOCK
    assert result.outcome is Outcome.BLOCK


@pytest.mark.parametrize("review", [None, "none"])
def test_gp1_a_final_asset_without_similarity_review_is_unsure(review):
    data = sidecar({"output.use": "final"}, drop=["output.similarity_review"])
    if review:
        data["output"]["similarity_review"] = review
    finding = one(audit(data), "NFX-GP1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["missing"] == "output.similarity_review"


def test_gp1_a_missing_review_is_fine_before_final():
    assert "NFX-GP1" not in fired(audit(sidecar(drop=["output.similarity_review"])))


def test_gp1_an_input_of_unknown_class_is_unsure():
    data = sidecar({"steps": [step(inputs=[inp("refs/found_online.jpg", "unknown")])]})
    finding = one(audit(data), "NFX-GP1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


# -- NFX-C1 --------------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["main_character", "key_visual", "central_setting"])
@pytest.mark.parametrize("use", ["previs", "temp", "final"])
def test_c1_a_key_element_past_ideation_needs_approval(subject, use):
    finding = one(audit(sidecar({"output.subject": subject, "output.use": use})), "NFX-C1")
    assert finding.effective_outcome is Outcome.APPROVAL and not finding.unsure


@pytest.mark.parametrize("use", ["ideation", "pitch"])
def test_c1_ideation_and_pitch_are_exploration(use):
    assert "NFX-C1" not in fired(
        audit(sidecar({"output.subject": "main_character", "output.use": use}))
    )


@pytest.mark.parametrize("subject", ["secondary", "incidental"])
def test_c1_secondary_and_incidental_elements_pass(subject):
    data = sidecar({"output.subject": subject, "output.use": "final"})
    assert "NFX-C1" not in fired(audit(data, stage="delivery"))


def test_c1_a_final_stage_makes_an_ideation_label_irrelevant():
    data = sidecar({"output.subject": "key_visual", "output.use": "ideation"})
    assert outcome_of(audit(data, stage="delivery"), "NFX-C1") is Outcome.APPROVAL


def test_c1_unsure_when_an_on_screen_element_has_no_subject():
    data = sidecar({"output.on_screen": "background"}, drop=["output.subject"])
    finding = one(audit(data), "NFX-C1")
    assert finding.unsure and finding.evidence["missing"] == "output.subject"


def test_c1_unsure_when_a_key_element_has_no_use():
    data = sidecar({"output.subject": "main_character"}, drop=["output.use"])
    finding = one(audit(data), "NFX-C1")
    assert finding.unsure and finding.effective_outcome is Outcome.APPROVAL


# -- NFX-C2 --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", PROTECTED)
def test_c2_a_protected_reference_without_permission_needs_approval(kind):
    finding = one(audit(prompt({"type": kind, "name": "Someone"})), "NFX-C2")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["reference"]["type"] == kind and finding.evidence["step"] == 0


def test_c2_blocks_in_a_final_asset_without_permission():
    data = prompt({"type": "performer_feature", "name": "Meryl Streep's nose"})
    data["output"]["use"] = "final"
    assert outcome_of(audit(data), "NFX-C2") is Outcome.BLOCK


def test_c2_a_reference_with_permission_passes_even_in_final():
    data = prompt({"type": "public_figure", "name": "Mayor", "permission": "REL-44"})
    assert "NFX-C2" not in fired(audit(data, stage="delivery"))


def test_c2_denylisted_names_in_references_or_prompt_text_fire_case_insensitively():
    rules = {"NFX-C2": {"denylist": ["Squid Game", "Meryl Streep"]}}
    by_reference = audit(prompt({"type": "other", "name": "the SQUID GAME doll"}), rules=rules)
    assert one(by_reference, "NFX-C2").evidence["denylisted"] == ["Squid Game"]
    by_text = audit(prompt(text="a doll like in squid game, lit by neon"), rules=rules)
    finding = one(by_text, "NFX-C2")
    assert finding.effective_outcome is Outcome.APPROVAL
    assert finding.evidence["denylisted"] == ["Squid Game"]
    assert finding.evidence["field"] == "steps[0].prompt.text"
    assert "neon" not in str(finding.to_dict())  # never the prompt itself


def test_c2_a_denylisted_name_in_a_final_prompt_blocks():
    rules = {"NFX-C2": {"denylist": ["Squid Game"]}}
    data = prompt(text="squid game doll")
    assert outcome_of(audit(data, stage="delivery", rules=rules), "NFX-C2") is Outcome.BLOCK


def test_c2_prompts_without_protected_or_denylisted_names_pass():
    rules = {"NFX-C2": {"denylist": ["Squid Game"]}}
    data = prompt({"type": "owned", "name": "our hero's car"}, text="a red car in the desert")
    assert not of(audit(data, rules=rules), "NFX-C2")


def test_c2_a_denylist_written_as_a_single_string_is_one_name_not_letters():
    rules = {"NFX-C2": {"denylist": "Squid Game"}}
    assert not of(audit(prompt(text="a quiet desert road"), rules=rules), "NFX-C2")
    assert of(audit(prompt(text="the squid game doll"), rules=rules), "NFX-C2")
