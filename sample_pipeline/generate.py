"""Generate "The Salt Road" (SALT01): a small multi-tool GenAI pipeline, stage by stage.

Usage::

    python sample_pipeline/generate.py OUTDIR [--frames N] [--today YYYY-MM-DD]

writes::

    OUTDIR/hooks/           the site hooks (copied from the repository's hooks/)
    OUTDIR/show/            the show root: clearance.yaml, tools.yaml, approvals.yaml
        ideation/ pitch/ previs/ gen/plates/ gen/elements/ audio/temp_vo/ comp/ delivery/
        editorial/SALT01_ep101_cut_v001.otio   (with the ``timeline`` extra)

Each stage is one function that "runs" its tools the way a pipeline step would: it makes
the media (tiny but real PNG, JPEG, EXR and WAV files) and publishes the provenance sidecar
(format 1) the tool wrapper would write with it. Some steps are deliberately wrong: a
missing sidecar, a malformed one, a consumer tool fed the script, a voice cloned without
consent... ``sample_pipeline/expected.yaml`` says, asset by asset, which use-case row of the
guidance each one illustrates and what Clearance should conclude.

Output is byte-for-byte deterministic except for dates: approvals, consents and disclosure
dates are computed from the day of generation (``--today``), so the sample always holds
valid approvals and exactly the expired ones it means to.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _pipeline import (  # noqa: E402
    PRODUCTION,
    Record,
    Show,
    final_output,
    genai,
    step,
    write_config,
)
from embedded_and_edit import add_edit, add_embedded, add_lineage  # noqa: E402

GENAI_EDIT = "compositeWithTrainedAlgorithmicMedia"  # IPTC: "edited using generative AI"
SAG = "SAG-AFTRA"


def stage_ideation(show: Show) -> None:
    """Moodboards and reference images: the least risky use, if the tool is right."""
    out = {"use": "ideation", "on_screen": "none", "subject": "incidental"}

    rel = show.image("ideation/saltflats_mood_v001.png", "SALT FLATS", motif="horizon")
    prompt = "endless salt flats at dawn, low dunes, caravan silhouettes, muted ochre palette"
    show.sidecar(rel, genai(show, None, [step("saltworks-diffusion", "3.2", prompt=prompt)], out))

    # A consumer web tool whose data terms nobody reviewed, and no word to the studio contact.
    palette = ((200, 120, 80), (90, 70, 60))
    rel = show.image("ideation/caravan_mood_v002.jpg", "CARAVAN", palette=palette)
    prompt = "salt caravan crossing a cracked lakebed, camels, dust storm on the horizon"
    s = step("dreamframe-web", "web-2026.10", prompt=prompt)
    show.sidecar(rel, genai(show, None, [s], out, notified=False), fmt="json")

    # A prompt naming a famous photograph and its photographer.
    rel = show.image("ideation/nomad_portrait_ref_v001.png", "NOMAD", motif="figure")
    refs = [
        {"type": "copyrighted_work", "name": "Afghan Girl (1984 photograph)", "permission": None},
        {"type": "named_artist", "name": "Steve McCurry", "permission": None},
    ]
    prompt = "weathered salt trader portrait, green eyes, in the manner of Afghan Girl"
    s = step("saltworks-diffusion", "3.2", prompt=prompt, references=refs)
    show.sidecar(rel, genai(show, None, [s], {**out, "subject": "secondary"}))

    # Saved from a web tool that marks its output (XMP in the PNG); nobody wrote a sidecar.
    rel = "ideation/duststorm_ref_v001.png"
    show.image(rel, "DUST", source_type="trainedAlgorithmicMedia")


def stage_pitch(show: Show) -> None:
    """Pitch deck imagery: fine from prompts; never from a performer's likeness model."""
    palette = ((230, 170, 90), (110, 60, 40))
    rel = show.image("pitch/salt_road_pitch_keyart_v001.png", "SALT ROAD", palette=palette)
    prompt = "a lone caravan on a white salt road under a red sky, poster composition"
    out = {"use": "pitch", "on_screen": "none", "subject": "key_visual"}
    show.sidecar(rel, genai(show, None, [step("acme-previs", "4.2", prompt=prompt)], out))

    # The lead's likeness model is consented for this show's final and temp work, not pitches.
    rel = show.image("pitch/salt_road_pitch_mara_v001.png", "MARA", motif="figure")
    model = {
        "id": "salt-mara-likeness-v1",
        "trained_on_talent": True,
        "allowed_productions": [PRODUCTION],
        "allowed_purposes": ["final", "temp"],
    }
    s = step("saltworks-diffusion", "3.2", prompt="Mara at the salt well, pitch slide", model=model)
    out = {"use": "pitch", "on_screen": "none", "subject": "main_character"}
    show.sidecar(rel, genai(show, None, [s], out, qa={"test_record": "QA-SALT-0107-01"}))


def stage_previs(show: Show) -> None:
    """Previs, storyboards and style frames, from several tools and vendors."""
    out = {"use": "previs", "on_screen": "none", "subject": "secondary"}

    rel = show.image("previs/sq010_previs_v001.png", "SQ010", motif="frame")
    s = step("acme-previs", "4.2", prompt="wide: caravan enters the salt road, crane down")
    show.sidecar(rel, genai(show, "sq010", [s], out))

    # An artist fed the script into a free consumer app.
    rel = show.image("previs/sq020_storyboard_v003.png", "SQ020", motif="frame")
    script = ("scripts/SALT01_ep101_v7.pdf", "script")
    prompt = "storyboard panels for scene 20, the ambush at the well"
    s = step("pixelmuse-free", "web", inputs=[script], prompt=prompt)
    show.sidecar(rel, genai(show, "sq020", [s], out))

    # A second sand wyrm, a new story creature; the prompt evokes a franchise the show avoids.
    rel = show.image("previs/sq030_sandwyrm_v001.png", "WYRM", motif="figure")
    prompt = "a second, younger sand wyrm surfacing like the Dune sandworms"
    s = step("saltworks-diffusion", "3.2", prompt=prompt)
    show.sidecar(rel, genai(show, "sq030", [s], {**out, "subject": "main_character"}))

    # A tool nobody registered, and a misspelled IPTC term.
    rel = show.image("previs/sq040_animatic_v001.png", "SQ040", motif="frame")
    s = step("storyboarder-x", "0.9", prompt="animatic beats for the sandstorm escape")
    typo = "compositedWithTrainedAlgorithmicMedia"
    show.sidecar(rel, genai(show, "sq040", [s], out, source_type=typo))

    # A stunt-double model trained on another show's lead, reused here; no QA record.
    rel = show.image("previs/sq050_double_v001.png", "SQ050", motif="figure")
    model = {"id": "kestrel-lead-v2", "trained_on_talent": True, "allowed_productions": ["KEST02"]}
    s = step("saltworks-diffusion", "3.2", prompt="rider falls from the camel", model=model)
    show.sidecar(rel, genai(show, "sq050", [s], out))

    # A style model fine-tuned on an illustrator's portfolio without clearance.
    rel = show.image("previs/sq060_styleframe_v001.png", "SQ060", motif="horizon")
    source = {
        "ref": "refs/illustrator_portfolio/",
        "class": "third_party_unowned",
        "owner": "Ilse Marr (illustrator)",
        "clearance": None,
    }
    training = {"performed": True, "sources": [source]}
    s = step("comfy-selfhost", "graph-17", prompt="salt road at dusk", training=training)
    show.sidecar(rel, genai(show, "sq060", [s], out))

    # A crowd-face model fine-tuned on licensed stock, cleared: still needs written approval.
    rel = show.image("previs/sq070_crowdfaces_v001.png", "SQ070", motif="figure")
    source = {
        "ref": "licensed/stockfaces_pack_12/",
        "class": "third_party_licensed",
        "owner": "StockFaces Ltd",
        "clearance": "CLR-SALT-0042",
    }
    training = {"performed": True, "sources": [source]}
    s = step("comfy-selfhost", "graph-17", prompt="market crowd faces", training=training)
    show.sidecar(rel, genai(show, "sq070", [s], {**out, "subject": "incidental"}))

    # The malformed sidecar: a typo'd key (``outptu``) and a wrong type (``generated: "yes"``).
    rel = show.image("previs/sq080_layout_v001.png", "SQ080", motif="frame")
    show.raw_sidecar(
        rel,
        f"""\
provenance: 1
asset: sq080_layout_v001.png
production: {PRODUCTION}
shot: sq080
generated: "yes"
source_type: trainedAlgorithmicMedia
steps:
  - tool: acme-previs
    tool_version: "4.2"
    inputs: []
    prompt: {{text: "layout pass, well courtyard"}}
outptu:
  use: previs
  on_screen: none
  subject: secondary
disclosure: {{notified_at: "{show.days_ago(21)}"}}
""",
    )


def stage_plate_gen(show: Show) -> None:
    """GenAI plates: set extensions and cleanup on captured plates, headed for the cut."""
    # The frame sequence: a set extension of the salt-flat horizon (one sidecar for all frames).
    rel = show.sequence("gen/plates/sh010_plate_v001.####.exr")
    scan = ("scans/sh010_scan_v001.####.exr", "production_image")
    prompt = "extend the salt flats to the horizon, distant mesas"
    s = step("saltworks-diffusion", "3.2", inputs=[scan], prompt=prompt)
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = "matte painter repainted the horizon; comp by R. Haddad"
    record = genai(show, "sh010", [s], out, source_type=GENAI_EDIT, approvals=["APR-SALT-0101"])
    show.sidecar(rel, record)

    # Wire removal with an inpainting graph on the studio's own GPUs; not yet flagged.
    rel = show.sequence("gen/plates/sh020_wireremoval_v002.####.exr")
    scan = ("scans/sh020_scan_v001.####.exr", "production_image")
    s = step("comfy-selfhost", "graph-17", inputs=[scan], prompt="remove rig wires, fill sky")
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = "paint artist checked every frame"
    record = genai(show, "sh020", [s], out, source_type=GENAI_EDIT, flagged=False)
    show.sidecar(rel, {**record, "approvals": ["APR-SALT-0103"]})

    # A temp plate published as a small JPEG: the show's plate format check catches it.
    rel = show.image("gen/plates/sh030_bgplate_v001.jpg", "SH030", size=(32, 18))
    s = step("saltworks-diffusion", "3.2", prompt="salt flats, noon haze, empty")
    out = {"use": "temp", "on_screen": "background", "subject": "incidental"}
    show.sidecar(rel, genai(show, "sh030", [s], out))


def stage_elements(show: Show) -> None:
    """Generated props, signage, screen graphics and crowds for the final shots."""
    rel = show.image("gen/elements/sh040_market_sign_v001.png", "SALT 2c", motif="card")
    s = step("saltworks-diffusion", "3.2", prompt="hand-painted salt merchant sign")
    out = final_output(on_screen="background", subject="incidental", element_type="signage")
    out.update(prominence="incidental", human_contribution="graphics artist redrew lettering")
    show.sidecar(rel, genai(show, "sh040", [s], out, approvals=["APR-SALT-0102"]))

    rel = show.image("gen/elements/sh050_caravan_ledger_v001.png", "LEDGER", motif="card")
    s = step("saltworks-diffusion", "3.2", prompt="old caravan ledger page, ink columns")
    out = final_output(on_screen="background", subject="incidental", element_type="document")
    out.update(prominence="incidental", human_contribution="props dept aged the page")
    show.sidecar(rel, genai(show, "sh050", [s], out, approvals=["APR-SALT-0090"]))

    # The treaty letter is read aloud by a character: story-relevant. No human work recorded.
    rel = show.image("gen/elements/sh060_treaty_letter_v001.png", "TREATY", motif="card")
    s = step("saltworks-diffusion", "3.2", prompt="salt treaty letter with wax seal")
    out = final_output(on_screen="prominent", subject="secondary", element_type="document")
    out.update(prominence="read_aloud")
    show.sidecar(rel, genai(show, "sh060", [s], out))

    # A news broadcast on a TV in the background, with a real journalist.
    rel = show.image("gen/elements/sh070_newsreel_v001.png", "NEWS", motif="figure")
    anchor = {"type": "public_figure", "name": "a real network news anchor", "permission": None}
    prompt = "evening news segment about the salt road closure"
    s = step("saltworks-diffusion", "3.2", prompt=prompt, references=[anchor])
    out = final_output(on_screen="background", subject="incidental", element_type="screen_graphic")
    out.update(prominence="incidental", depicts_real=True, presented_as_authentic=False)
    out["human_contribution"] = "motion graphics artist built the lower third"
    show.sidecar(rel, genai(show, "sh070", [s], out))

    # A synthetic crowd in place of background actors; the vendor sent no attestation.
    rel = show.image("gen/elements/sh080_crowd_bg_v001.png", "CROWD", motif="figure")
    s = step("acme-previs", "4.2", prompt="market crowd, mid-distance, no recognizable faces")
    out = final_output(on_screen="background", subject="incidental", synthetic_performer=True)
    out["human_contribution"] = "crowd TD placed and graded the agents"
    vendor = {"id": "V-HALITE", "attestation": None}
    show.sidecar(rel, genai(show, "sh080", [s], out, union_impact="background", vendor=vendor))

    # Crowd replicas of a scanned background performer, with consent.
    rel = show.image("gen/elements/sh080_crowd_replicas_v001.png", "REPLICAS", motif="figure")
    scan = ("talent/BG-0311/scan_2026-09/", "talent_likeness")
    s = step("saltworks-diffusion", "3.2", inputs=[scan], prompt="varied replicas, mid-distance")
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = "crowd TD varied wardrobe per replica"
    talent: Record = {"performer": "BG-0311", "replica": "background", "alteration": "none"}
    talent.update(consent="C-SALT-BG-0311", union=SAG)
    record = genai(show, "sh080", [s], out, talent=[talent], union_impact="background")
    show.sidecar(rel, {**record, "qa": {"test_record": "QA-SALT-BG-01"}})


def stage_temp_vo(show: Show) -> None:
    """Temp VO for the editor: a generic synthetic voice, and one cloned from the cast."""
    rel = show.wav("audio/temp_vo/sh010_scratch_narrator_v001.wav", pitch=140.0)
    s = step("vocalis-cloud", "2026.3", prompt="narrator: 'The salt road remembers.'")
    out: Record = {"use": "temp", "on_screen": "audible", "subject": "incidental"}
    out["synthetic_performer"] = True
    show.sidecar(rel, genai(show, "sh010", [s], out, union_impact="none"))

    rel = show.wav("audio/temp_vo/sh020_temp_tomas_v001.wav", pitch=190.0)
    wild = ("audio/adr_wild/P-0315_session_02.wav", "talent_likeness")
    prompt = "Tomas: 'We leave before the wells run dry.'"
    s = step("vocalis-cloud", "2026.3", inputs=[wild], prompt=prompt)
    out = {"use": "temp", "on_screen": "audible", "subject": "secondary"}
    talent: Record = {"performer": "P-0315", "replica": "employment_based", "alteration": "none"}
    talent.update(consent=None, union=SAG)
    show.sidecar(rel, genai(show, "sh020", [s], out, talent=[talent]), fmt="json")


def stage_comp(show: Show) -> None:
    """Comps: built on the generated plates and elements, and the talent shots."""
    # Built on the GenAI plate sequence: the input ref carries the lineage.
    rel = show.sequence("comp/sh010_comp_v004.####.exr")
    plate = ("gen/plates/sh010_plate_v001.####.exr", "generated")
    fg = ("scans/sh010_fg_v001.####.exr", "production_image")
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = "comp by R. Haddad: riders keyed over the extended plate"
    s = step("nuke-comp", "15.1", inputs=[plate, fg])
    record = genai(show, "sh010", [s], out, source_type="compositeSynthetic")
    show.sidecar(rel, {**record, "approvals": ["APR-SALT-0101"]})

    # Built on the generated sign, but labelled with the undecided "composite" (IPTC-03).
    rel = show.exr("comp/sh040_comp_v003.exr", frame=4)
    sign = ("gen/elements/sh040_market_sign_v001.png", "generated")
    bg = ("scans/sh040_bg_v001.####.exr", "production_image")
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = "comp by L. Ferreira"
    s = step("nuke-comp", "15.1", inputs=[sign, bg])
    show.sidecar(rel, genai(show, "sh040", [s], out, source_type="composite"))

    # Visual ADR: the lead's lip-sync changed to a new, unscripted line, with consent.
    rel = show.exr("comp/sh090_vadr_v001.exr", frame=9)
    a_cam = ("scans/sh090_a_cam_v001.####.exr", "production_image")
    prompt = "new line: 'Then we take the northern road.'"
    s = step("lipsync-pro", "5.0", inputs=[a_cam], prompt=prompt)
    out = final_output(on_screen="prominent", subject="main_character")
    out["human_contribution"] = "comp artist tracked and blended the mouth region"
    talent: Record = {"performer": "P-0107", "replica": "none", "alteration": "significant"}
    talent.update(consent="C-SALT-0107", union=SAG)
    record = genai(show, "sh090", [s], out, source_type=GENAI_EDIT, talent=[talent])
    show.sidecar(rel, {**record, "qa": {"test_record": "QA-SALT-0107-02"}}, fmt="json")

    # A replica for a fall no human could safely perform (exception: safety).
    rel = show.exr("comp/sh100_stunt_v001.exr", frame=10)
    scan = ("talent/P-0107/scan_2026-09/", "talent_likeness")
    s = step("saltworks-diffusion", "3.2", inputs=[scan], prompt="rider falls between camels")
    out = final_output(on_screen="prominent", subject="secondary")
    out["human_contribution"] = "stunt coordinator and comp artist matched the fall"
    talent = {"performer": "P-0107", "replica": "employment_based", "alteration": "none"}
    talent.update(exception="safety", consent="C-SALT-0107", union=SAG)
    record = genai(show, "sh100", [s], out, source_type=GENAI_EDIT, talent=[talent])
    record.update(qa={"test_record": "QA-SALT-0107-03"}, approvals=["APR-SALT-0104"])
    show.sidecar(rel, record)

    # Customary beauty cleanup (cosmetics): logged, nothing to ask.
    rel = show.exr("comp/sh110_beauty_v001.exr", frame=11)
    a_cam = ("scans/sh110_a_cam_v001.####.exr", "production_image")
    s = step("saltworks-beauty", "1.4", inputs=[a_cam], prompt="remove blemish, left cheek")
    out = final_output(on_screen="prominent", subject="secondary")
    out["human_contribution"] = "beauty artist reviewed every frame"
    talent = {"performer": "P-0107", "replica": "none", "alteration": "customary"}
    talent.update(alteration_category="cosmetics", consent=None, union=SAG)
    record = genai(show, "sh110", [s], out, source_type=GENAI_EDIT, talent=[talent])
    show.sidecar(rel, {**record, "approvals": ["APR-SALT-0104"]})

    # Re-ageing Ezra under a consent that has expired.
    rel = show.exr("comp/sh120_deage_v001.exr", frame=12)
    scan = ("talent/P-0212/scan_2026-06/", "talent_likeness")
    s = step("saltworks-diffusion", "3.2", inputs=[scan], prompt="Ezra thirty years younger")
    out = final_output(on_screen="prominent", subject="secondary")
    out["human_contribution"] = "face replacement supervised by K. Lindqvist"
    talent = {"performer": "P-0212", "replica": "employment_based", "alteration": "none"}
    talent.update(consent="C-SALT-0212", union=SAG)
    record = genai(show, "sh120", [s], out, source_type=GENAI_EDIT, talent=[talent])
    show.sidecar(rel, {**record, "qa": {"test_record": "QA-SALT-0212-01"}})


def stage_delivery(show: Show) -> None:
    """Final deliverables (the stage is ``final: true``)."""
    palette = ((230, 170, 90), (110, 60, 40))
    rel = show.image("delivery/SALT01_ep101_keyart_v001.png", "SALT ROAD", palette=palette)
    pitch_art = ("pitch/salt_road_pitch_keyart_v001.png", "generated")
    s = step("saltworks-diffusion", "3.2", inputs=[pitch_art], prompt="final key art, title-safe")
    out = final_output(on_screen="prominent", subject="key_visual")
    out["human_contribution"] = "designer repainted the caravan and set the title"
    record = genai(show, None, [s], out, approvals=["APR-SALT-0105"])
    show.sidecar(rel, record, fmt="json")

    # GenAI reached the deliverable, but the conform step dropped the IPTC source type.
    rel = show.exr("delivery/sh040_final_v003.exr", frame=40)
    s = step("nuke-comp", "15.1", inputs=[("comp/sh040_comp_v003.exr", "generated")])
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = "conform by editorial"
    show.sidecar(rel, genai(show, "sh040", [s], out, source_type=None))

    # Non-generative denoise on a captured plate: nothing to ask.
    rel = show.exr("delivery/sh030_denoise_v001.exr", frame=30)
    scan = ("scans/sh030_scan_v001.####.exr", "production_image")
    out = {"use": "final", "on_screen": "prominent", "subject": "incidental"}
    out["human_contribution"] = "grain matched by colourist"
    record = {"production": PRODUCTION, "shot": "sh030", "generated": False}
    record.update(source_type="algorithmicallyEnhanced", output=out)
    record["steps"] = [step("neat-denoise", "5.6", inputs=[scan])]
    show.sidecar(rel, record)

    # Delivered without any sidecar.
    show.exr("delivery/sh020_final_v002.exr", frame=20)

    # The renderer stamped GenAI into the EXR header; the sidecar template says "capture".
    stamp = {
        "genai:generated": "true",
        "genai:source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic",
        "genai:tool": "saltworks-diffusion",
        "genai:shot": "sh050",
    }
    rel = show.exr("delivery/sh050_final_v001.exr", frame=50, attributes=stamp)
    scan = ("scans/sh050_scan_v001.####.exr", "production_image")
    out = {"use": "final", "on_screen": "prominent", "subject": "incidental"}
    out["human_contribution"] = "conform by editorial"
    record = {"production": PRODUCTION, "shot": "sh050", "generated": False}
    record.update(source_type="digitalCapture", output=out)
    record["steps"] = [step("nuke-comp", "15.1", inputs=[scan])]
    show.sidecar(rel, record)


def stage_edit(show: Show) -> None:
    """Editorial: the episode's cut as OpenTimelineIO (skipped without the ``timeline`` extra)."""
    add_edit(show)


#: The pipeline, in order. Later stages read what earlier ones published (input refs).
#: ``embedded_and_edit.py`` continues the show: assets whose provenance is in their own bytes
#: (XMP, C2PA, EXR header), a comp and a deliverable whose sidecars forget the GenAI plate
#: they are built on (lineage), and the edit.
STAGES: list[Callable[[Show], None]] = [
    stage_ideation,
    stage_pitch,
    stage_previs,
    stage_plate_gen,
    stage_elements,
    stage_temp_vo,
    stage_comp,
    stage_delivery,
    add_embedded,
    add_lineage,
    stage_edit,
]


def generate(outdir: Path, *, frames: int = 24, today: dt.date | None = None) -> Path:
    """Generate the show under ``outdir``; return the show root (``outdir/show``)."""
    if frames < 1:
        raise ValueError("--frames must be at least 1")
    today = today or dt.datetime.now(dt.timezone.utc).date()
    show_root = outdir / "show"
    write_config(outdir, show_root, today)
    show = Show(show_root, today, frames)
    for stage in STAGES:
        stage(show)
    return show_root


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the sample show 'The Salt Road'.")
    parser.add_argument("outdir", type=Path, help="folder to write hooks/ and show/ into")
    parser.add_argument("--frames", type=int, default=24, help="frames per sequence (default 24)")
    parser.add_argument(
        "--today",
        type=dt.date.fromisoformat,
        default=None,
        help="date of generation, YYYY-MM-DD (default: today, UTC)",
    )
    args = parser.parse_args(argv)
    try:  # before anything is written: no half-generated OUTDIR
        import PIL  # noqa: F401
    except ImportError:
        print(
            "generate.py: the sample pipeline needs Pillow (the `sample` extra): from the "
            "repository, run `pip install '.[sample]'` (or `pip install Pillow`), or `make demo`",
            file=sys.stderr,
        )
        return 2
    try:
        root = generate(args.outdir, frames=args.frames, today=args.today)
    except (OSError, ValueError) as exc:
        print(f"generate.py: {exc}", file=sys.stderr)
        return 2
    print(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
