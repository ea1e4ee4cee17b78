"""The use-case matrix (rows 1-30, listed in docs/sample-pipeline.md) as a table: each row is a sidecar
(+ stage, approvals, consents, rule settings) → the rule ids that fire and the asset's worst
open outcome.

Conventions:

* "fire" means a finding above ``pass``, approved ones included (they stay visible).
* Final GenAI always needs written approval under the default policy (``NFX-GP4``). Rows whose
  matrix default is ``WARN`` for on-screen final material ("background elements", "inpainting
  … (final)") carry that approval (``APR-FINAL``), so what is left open is the warning the
  matrix describes.
* Rows whose main rules live in packs that are not shipped by default (``SAG-*``, ``WGA-*``,
  ``EU-*``) assert what the default pack does fire, and say which pack is missing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from _records import APPROVE_FINAL, IPTC, audit, describe, fired, inp, one, sidecar, step
from clearance.model import Outcome, Status

QA = {"test_record": "QA-7"}
FLAGGED = "2026-11-03"


@dataclass
class Row:
    id: str
    data: dict[str, Any] | None
    fires: set[str]
    outcome: Outcome
    stage: str = "comp"
    final: bool = False
    approved: set[str] = field(default_factory=set)
    passes: set[str] = field(default_factory=set)  # rules logged with a pass finding
    policy: dict[str, Any] = field(default_factory=dict)


def out(**fields: Any) -> dict[str, Any]:
    """An ``output`` block: the baseline's, changed."""
    base = {
        "use": "final",
        "on_screen": "none",
        "subject": "incidental",
        "similarity_review": "passed",
        "human_contribution": "artist repainted and comped",
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


def genai(changes: dict[str, Any], drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return sidecar(changes, drop=drop)


ROWS = [
    # 1. ideation only: ✅ PASS + notify (NFX-00, GP2)
    Row(
        "row01-ideation-only",
        genai({"output": out(use="ideation")}, drop=("disclosure",)),
        {"NFX-00"},
        Outcome.NOTICE,
        stage="ideation",
    ),
    # 2. background signage on camera: ⚠️ WARN (NFX-F1/F2, IPTC); final approval on file
    Row(
        "row02-background-signage",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "output": out(
                    on_screen="background", element_type="signage", prominence="incidental"
                ),
            }
        ),
        {"NFX-GP4", "NFX-F1", "NFX-F2"},
        Outcome.NOTICE,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 2b. … story-relevant → APPROVAL
    Row(
        "row02-story-relevant-poster",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "output": out(
                    on_screen="prominent", element_type="poster", prominence="story_relevant"
                ),
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-GP4", "NFX-F2"},
        Outcome.APPROVAL,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 3. final character design / key visual: 🛑 APPROVAL (NFX-C1)
    Row(
        "row03-final-character-design",
        genai(
            {
                "output": out(subject="main_character", on_screen="prominent"),
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-C1", "NFX-GP4"},
        Outcome.APPROVAL,
    ),
    # 4. talent replication (re-ageing) with consent: 🛑 APPROVAL + consent (NFX-T1; SAG-02/04 and
    #    EU-01 are in the sag/eu packs, not shipped by default)
    Row(
        "row04-talent-replication",
        genai(
            {
                "steps": [step(inputs=[inp("scans/P-0001_face_v002", "talent_likeness")])],
                "output": out(on_screen="prominent", subject="main_character"),
                "disclosure.flagged_at": FLAGGED,
                "talent": [
                    {"performer": "P-0001", "replica": "employment_based", "consent": "C-001"}
                ],
                "qa": QA,
            }
        ),
        {"NFX-T1", "NFX-GP5", "NFX-D1b", "NFX-C1", "NFX-GP4"},
        Outcome.APPROVAL,
    ),
    # 4b. … without consent: BLOCK
    Row(
        "row04-talent-replication-no-consent",
        genai(
            {
                "steps": [step(inputs=[inp("scans/P-0001_face_v002", "talent_likeness")])],
                "output": out(use="previs"),
                "talent": [{"performer": "P-0001", "replica": "employment_based"}],
                "qa": QA,
            }
        ),
        {"NFX-T1", "NFX-GP5", "NFX-D1b"},
        Outcome.BLOCK,
        stage="previs",
    ),
    # 5. unowned training data (celebrity faces, copyrighted art): BLOCK without clearance (D2, GP1)
    Row(
        "row05-unowned-training-data",
        genai(
            {
                "steps": [
                    step(
                        inputs=[inp("refs/artbook_scan_12.jpg", "third_party_unowned")],
                        training={
                            "performed": True,
                            "sources": [
                                {
                                    "ref": "scrape/celebrity_faces",
                                    "class": "third_party_unowned",
                                    "owner": "various",
                                }
                            ],
                        },
                    )
                ],
                "output": out(use="previs"),
            }
        ),
        {"NFX-D2", "NFX-GP1"},
        Outcome.BLOCK,
        stage="previs",
    ),
    # 5b. … with clearances: 🛑 APPROVAL
    Row(
        "row05-cleared-training-data",
        genai(
            {
                "steps": [
                    step(
                        training={
                            "performed": True,
                            "sources": [
                                {
                                    "ref": "lic/faces",
                                    "class": "third_party_licensed",
                                    "owner": "Getty",
                                    "clearance": "CLR-3",
                                }
                            ],
                        },
                    )
                ],
                "output": out(use="previs"),
            }
        ),
        {"NFX-D2"},
        Outcome.APPROVAL,
        stage="previs",
    ),
    # 6. proprietary material as input outside enterprise tools: ⚠️ → APPROVAL (D1, GP2)
    Row(
        "row06-proprietary-input-consumer-tool",
        genai(
            {
                "steps": [
                    step("freegen", inputs=[inp("stills/set_photo_041.jpg", "production_image")])
                ],
                "output": out(use="previs"),
            }
        ),
        {"NFX-D1", "NFX-GP2", "NFX-GP3"},
        Outcome.APPROVAL,
        stage="previs",
    ),
    # 6b. … inside a studio-enterprise tool with the configurable downgrade: notice only
    Row(
        "row06-proprietary-input-enterprise-downgrade",
        genai(
            {
                "steps": [
                    step(
                        "studio-diffusion",
                        inputs=[inp("stills/set_photo_041.jpg", "production_image")],
                    )
                ],
                "output": out(use="previs"),
            }
        ),
        {"NFX-D1"},
        Outcome.NOTICE,
        stage="previs",
        policy={"rules": {"NFX-D1": {"enterprise_downgrade": True}}},
    ),
    # 7. style model trained on an artist's past work, not cleared: 🛑 BLOCK (D2)
    Row(
        "row07-uncleared-artist-style-model",
        genai(
            {
                "steps": [
                    step(
                        training={
                            "performed": True,
                            "sources": [
                                {
                                    "ref": "artist/portfolio_2019-2024",
                                    "class": "third_party_unowned",
                                    "owner": "J. Painter",
                                }
                            ],
                        }
                    )
                ],
                "output": out(use="previs"),
            }
        ),
        {"NFX-D2"},
        Outcome.BLOCK,
        stage="previs",
    ),
    # 8. extra story creature (the "second killer doll"): 🛑 APPROVAL (C1)
    Row(
        "row08-extra-story-creature",
        genai({"output": out(use="previs", subject="main_character")}),
        {"NFX-C1"},
        Outcome.APPROVAL,
        stage="previs",
    ),
    # 9. prompt naming a famous photo and a performer's features: 🛑 APPROVAL (C2; GP1 agrees)
    Row(
        "row09-prompt-names-photo-and-performer",
        genai(
            {
                "steps": [
                    step(
                        prompt={
                            "text": "portrait inspired by a famous photo, with a star's nose",
                            "references": [
                                {"type": "copyrighted_work", "name": "Afghan Girl (S. McCurry)"},
                                {"type": "performer_feature", "name": "Meryl Streep's nose"},
                            ],
                        }
                    )
                ],
                "output": out(use="previs"),
            }
        ),
        {"NFX-C2", "NFX-GP1"},
        Outcome.APPROVAL,
        stage="previs",
    ),
    # 10. visual ADR with consent: 🛑 APPROVAL + consent (T2; SAG-05 not shipped by default)
    Row(
        "row10-visual-adr",
        genai(
            {
                "steps": [step(inputs=[inp("plates/sh030_plate_v001", "production_image")])],
                "output": out(on_screen="prominent", subject="secondary"),
                "disclosure.flagged_at": FLAGGED,
                "talent": [
                    {
                        "performer": "P-0001",
                        "replica": "none",
                        "alteration": "significant",
                        "consent": "C-001",
                    }
                ],
                "qa": QA,
            }
        ),
        {"NFX-T2", "NFX-GP5", "NFX-D1", "NFX-GP4"},
        Outcome.APPROVAL,
    ),
    # 11. fake news segment with a real journalist, even in background: 🛑 APPROVAL (E1; EU-01 not shipped)
    Row(
        "row11-fake-news-real-journalist",
        genai(
            {
                "output": out(
                    on_screen="background", depicts_real=True, presented_as_authentic=True
                ),
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-E1", "NFX-GP4"},
        Outcome.APPROVAL,
    ),
    # 12. historical document briefly in background, not referenced: ⚠️ WARN (F2)
    Row(
        "row12-incidental-historical-document",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "output": out(
                    on_screen="background", element_type="document", prominence="incidental"
                ),
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-GP4", "NFX-F2"},
        Outcome.NOTICE,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 13. document read aloud / plot-relevant: 🛑 APPROVAL + legal review (F2/F3)
    Row(
        "row13-document-read-aloud",
        genai(
            {
                "output": out(
                    on_screen="prominent",
                    element_type="document",
                    prominence="read_aloud",
                    human_contribution=None,
                ),
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-GP4", "NFX-F2", "NFX-F3"},
        Outcome.APPROVAL,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 14. replica for a reshoot "substantially as scripted": ⚠️ WARN (T1x; SAG-02 not shipped)
    Row(
        "row14-reshoot-replica-as-scripted",
        genai(
            {
                "output": out(on_screen="prominent", subject="secondary"),
                "disclosure.flagged_at": FLAGGED,
                "talent": [
                    {
                        "performer": "P-0001",
                        "replica": "employment_based",
                        "exception": "as_scripted",
                        "consent": "C-001",
                    }
                ],
                "qa": QA,
            }
        ),
        {"NFX-T1x", "NFX-GP4"},
        Outcome.NOTICE,
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 14b. … a stunt replica with no consent at all: "consent to create still needed": BLOCK (T1)
    Row(
        "row14-stunt-replica-no-consent",
        genai(
            {
                "output": out(on_screen="prominent", subject="secondary"),
                "disclosure.flagged_at": FLAGGED,
                "talent": [
                    {"performer": "P-0001", "replica": "employment_based", "exception": "safety"}
                ],
                "qa": QA,
            }
        ),
        {"NFX-T1", "NFX-T1x", "NFX-GP4"},
        Outcome.BLOCK,
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 15. customary cleanup (cosmetics …): ✅ PASS + log (T3; SAG-05 not shipped)
    Row(
        "row15-customary-cleanup",
        genai(
            {
                "talent": [
                    {
                        "performer": "P-0001",
                        "replica": "none",
                        "alteration": "customary",
                        "alteration_category": "cosmetics",
                    }
                ],
            }
        ),
        set(),
        Outcome.PASS,
        stage="previs",
        passes={"NFX-T3"},
    ),
    # 15b. … an alteration outside the customary list (other), no consent: BLOCK (T3, as
    #      GUIDANCE's SAG-05: "other → BLOCK without consent")
    Row(
        "row15-alteration-outside-the-customary-list",
        genai(
            {
                "talent": [
                    {
                        "performer": "P-0001",
                        "replica": "none",
                        "alteration": "customary",
                        "alteration_category": "other",
                    }
                ],
            }
        ),
        {"NFX-T3"},
        Outcome.BLOCK,
        stage="previs",
    ),
    # 16. a production's talent model reused for another show: 🛑 BLOCK (T4; SAG-03 not shipped)
    Row(
        "row16-talent-model-other-show",
        genai(
            {
                "production": "SHOW02",
                "steps": [
                    step(
                        model={
                            "id": "p0001-face",
                            "trained_on_talent": True,
                            "allowed_productions": ["SHOW01"],
                        }
                    )
                ],
                "output": out(use="previs"),
                "qa": QA,
            }
        ),
        {"NFX-T4"},
        Outcome.BLOCK,
        stage="previs",
    ),
    # 17. pitch deck imagery, no talent, no proprietary inputs, disclosed: ✅ PASS
    Row(
        "row17-pitch-deck-imagery",
        genai({"output": out(use="pitch", subject="key_visual")}),
        set(),
        Outcome.PASS,
        stage="ideation",
    ),
    # 18. pitch deck using an actor's likeness and their production model: 🛑 BLOCK (T1/T4)
    Row(
        "row18-pitch-deck-actor-likeness",
        genai(
            {
                "steps": [
                    step(
                        model={
                            "id": "p0001-face",
                            "trained_on_talent": True,
                            "allowed_productions": ["SHOW01"],
                            "allowed_purposes": ["previs", "final"],
                        }
                    )
                ],
                "output": out(use="pitch"),
                "talent": [{"performer": "P-0001", "replica": "independent"}],
                "qa": QA,
            }
        ),
        {"NFX-T1", "NFX-T4", "NFX-GP5"},
        Outcome.BLOCK,
        stage="ideation",
    ),
    # 19. temp VO with a generic synthetic voice, removed before final: ⚠️ WARN (E2, GP4 silent)
    Row(
        "row19-temp-vo-generic-voice",
        genai({"output": out(use="temp", on_screen="none", synthetic_performer=True)}),
        {"NFX-E2"},
        Outcome.NOTICE,
        stage="temp_vo",
    ),
    # 20. temp VO cloned from a cast member's voice, no consent: 🛑 BLOCK (T1; no temp exemption)
    Row(
        "row20-temp-vo-cloned-cast-voice",
        genai(
            {
                "steps": [step(inputs=[inp("audio/P-0001_adr_takes", "talent_likeness")])],
                "output": out(use="temp", on_screen="none"),
                "talent": [{"performer": "P-0001", "replica": "employment_based"}],
            }
        ),
        {"NFX-T1", "NFX-GP5", "NFX-D1b", "NFX-T5"},
        Outcome.BLOCK,
        stage="temp_vo",
    ),
    # 21. storyboards from the script in a consumer tool: ⚠️ APPROVAL (D1, GP2/GP3)
    Row(
        "row21-storyboards-from-script-consumer-tool",
        genai(
            {
                "steps": [step("dreamapp", inputs=[inp("scripts/ep101_draft3.pdf", "script")])],
                "output": out(use="previs"),
            }
        ),
        {"NFX-D1", "NFX-GP2", "NFX-GP3"},
        Outcome.APPROVAL,
        stage="previs",
    ),
    # 22. previs from text prompts only in an enterprise tool: ✅ PASS (+ notify, done)
    Row(
        "row22-previs-text-only-enterprise",
        genai({"steps": [step("acme-diffusion")]}),
        set(),
        Outcome.PASS,
        stage="previs",
    ),
    # 23. GenAI set extension in final shots, key setting: ⚠️ → APPROVAL (C1, F1, IPTC-03 satisfied)
    Row(
        "row23-set-extension-key-setting",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "steps": [step("nuke-comp", inputs=[inp("gen/sh040_matte_v003.exr", "generated")])],
                "output": out(on_screen="background", subject="central_setting"),
            }
        ),
        {"NFX-C1", "NFX-GP4", "NFX-F1"},
        Outcome.APPROVAL,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 23b. … incidental matte: WARN
    Row(
        "row23-set-extension-incidental",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "steps": [step("nuke-comp", inputs=[inp("gen/sh040_matte_v003.exr", "generated")])],
                "output": out(on_screen="background", subject="incidental"),
            }
        ),
        {"NFX-GP4", "NFX-F1"},
        Outcome.NOTICE,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 24. GenAI inpainting for wire removal on final plates: ⚠️ WARN (GP4, F1, IPTC); the plate
    #     input is NFX-D1, downgraded to a notice for the studio-enterprise tool by configuration
    Row(
        "row24-inpainting-wire-removal",
        genai(
            {
                "source_type": IPTC + "compositeWithTrainedAlgorithmicMedia",
                "steps": [
                    step(
                        "studio-diffusion",
                        inputs=[inp("plates/sh050_plate_v001", "production_image")],
                    )
                ],
                "output": out(on_screen="background", subject="incidental"),
            }
        ),
        {"NFX-GP4", "NFX-F1", "NFX-D1"},
        Outcome.NOTICE,
        stage="delivery",
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL, "rules": {"NFX-D1": {"enterprise_downgrade": True}}},
    ),
    # 25. non-generative denoise / upres / retime: ✅ PASS (algorithmicallyEnhanced; IPTC-01 n/a)
    Row(
        "row25-non-generative-denoise",
        genai(
            {
                "generated": False,
                "source_type": IPTC + "algorithmicallyEnhanced",
                "steps": [
                    step("nuke-comp", inputs=[inp("plates/sh060_plate_v001", "production_image")])
                ],
                "output": out(),
            },
            drop=("disclosure",),
        ),
        set(),
        Outcome.PASS,
        stage="delivery",
    ),
    # 26. GenAI crowd / background people, nobody recognizable: ⚠️ APPROVAL (E2; SAG-06 not shipped)
    Row(
        "row26-genai-crowd",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "output": out(
                    on_screen="background", subject="secondary", synthetic_performer=True
                ),
                "union_impact": "background",
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-E2", "NFX-GP5", "NFX-GP4"},
        Outcome.APPROVAL,
        stage="delivery",
    ),
    # 27. background actor scanned for replica crowds, with consent: 🛑 consent + APPROVAL. The main
    #     rule, SAG-01 (48-hour scan notice, separate consent form), is in the SAG-AFTRA pack, not
    #     shipped by default; the default pack still sees the replica (T1, GP5), the scans as
    #     sensitive input (D1b) and the union background work (E2).
    Row(
        "row27-background-actor-replica-crowd",
        genai(
            {
                "source_type": IPTC + "compositeSynthetic",
                "steps": [step(inputs=[inp("scans/P-0100_body_v001", "talent_likeness")])],
                "output": out(on_screen="background", subject="secondary"),
                "union_impact": "background",
                "disclosure.flagged_at": FLAGGED,
                "talent": [
                    {
                        "performer": "P-0100",
                        "replica": "background",
                        "consent": "C-BG",
                        "union": "SAG-AFTRA",
                    }
                ],
                "qa": QA,
            }
        ),
        {"NFX-T1", "NFX-GP5", "NFX-D1b", "NFX-E2", "NFX-GP4"},
        Outcome.APPROVAL,
    ),
    # 28. AI-generated script pages handed to writers: 🛑 BLOCK until disclosed. WGA-01/02 (no AI
    #     source material, disclosure to the writer) are in the WGA pack, not shipped by default,
    #     so the default pack cannot block; it escalates the writer impact (GP5 approval, E2
    #     notice at this early stage) and the script used as input (D1).
    Row(
        "row28-ai-script-pages-to-writers",
        genai(
            {
                "source_type": IPTC + "trainedAlgorithmicMedia",
                "steps": [
                    step("acme-diffusion", inputs=[inp("scripts/ep102_outline.pdf", "script")])
                ],
                "output": out(use="ideation"),
                "union_impact": "writer",
            }
        ),
        {"NFX-GP5", "NFX-E2", "NFX-D1"},
        Outcome.APPROVAL,
        stage="ideation",
    ),
    # 29. AI dubbing / lip-sync permitted by the dubbing agreement: customary (T3 logs a pass);
    #     the final use is approved (SAG-05/07 not shipped)
    Row(
        "row29-ai-dubbing-permitted",
        genai(
            {
                "output": out(on_screen="audible", subject="secondary"),
                "disclosure.flagged_at": FLAGGED,
                "talent": [
                    {
                        "performer": "P-0001",
                        "replica": "none",
                        "alteration": "customary",
                        "alteration_category": "dubbing",
                    }
                ],
            }
        ),
        {"NFX-GP4"},
        Outcome.PASS,
        approved={"NFX-GP4"},
        passes={"NFX-T3"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 29b. … lip-sync beyond the agreement, without consent: BLOCK (T2)
    Row(
        "row29-lip-sync-without-consent",
        genai(
            {
                "output": out(on_screen="audible", subject="secondary"),
                "disclosure.flagged_at": FLAGGED,
                "talent": [{"performer": "P-0001", "replica": "none", "alteration": "significant"}],
                "qa": QA,
            }
        ),
        {"NFX-T2", "NFX-GP5", "NFX-GP4"},
        Outcome.BLOCK,
        approved={"NFX-GP4"},
        policy={"approvals": APPROVE_FINAL},
    ),
    # 30. documentary: AI "archival" photos presented as real: 🛑 BLOCK (E1; EU-01/03 not shipped)
    Row(
        "row30-documentary-fake-archival",
        genai(
            {
                "output": out(
                    on_screen="prominent", depicts_real=True, presented_as_authentic=True
                ),
                "disclosure.flagged_at": FLAGGED,
            }
        ),
        {"NFX-E1", "NFX-GP4"},
        Outcome.BLOCK,
        stage="delivery",
        policy={"genre": "documentary"},
    ),
]


@pytest.mark.parametrize("row", ROWS, ids=[r.id for r in ROWS])
def test_use_case_matrix(row: Row) -> None:
    result = audit(row.data, stage=row.stage, final=row.final, **row.policy)
    assert fired(result) == row.fires, describe(result)
    assert result.outcome is row.outcome, describe(result)
    approved = {f.rule for f in result.findings if f.status is Status.APPROVED}
    assert approved == row.approved, describe(result)
    for rule in row.passes:
        assert one(result, rule).effective_outcome is Outcome.PASS


def test_every_matrix_row_is_covered():
    rows = {int(r.id[3:5]) for r in ROWS}
    assert rows == set(range(1, 31))
