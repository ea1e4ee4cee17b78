"""The Salt Road, continued: provenance carried by the assets themselves, lineage, and the edit.

Run after the pipeline stages of ``generate.py`` (it builds on what they published)::

    from embedded_and_edit import add_to_show
    add_to_show(show_root)

adds to the show:

- ``gen/elements/sh070_poster_xmp_v001.png``: a GenAI poster saved from a tool that marks its
  output with XMP (``trainedAlgorithmicMedia``); nobody wrote a sidecar (``PRV-07``);
- ``gen/elements/sh060_seal_c2pa_v001.png``: a GenAI wax seal signed with Content Credentials
  (C2PA: ``c2pa.created``, ``trainedAlgorithmicMedia``, training not allowed) and a sidecar
  that agrees; written only when c2pa-python is installed (the ``c2pa`` extra);
- ``gen/elements/sh080_banner_v001.exr``: a banner whose EXR header carries ``genai:*``
  attributes, with no sidecar (``PRV-07``);
- ``comp/sh020_comp_v002.####.exr``: a comp on the GenAI wire-removal plate whose sidecar is
  silent (``generated: false``, the plate classed as a production image): lineage makes it
  GenAI material (``IPTC-03``);
- ``delivery/sh020_final_v003.exr``: the conform of that comp, silent too: at delivery
  ``NFX-GP4`` fires through two generations of lineage;
- ``editorial/SALT01_ep101_cut_v001.otio``: the edit (needs OpenTimelineIO, the ``timeline``
  extra): comps, deliverables, graphics and temp audio on four tracks, one clip an EDL-style
  event known only by name, and a temp score nobody audited.

``clearance timeline show/editorial/SALT01_ep101_cut_v001.otio`` then says which GenAI
material is on screen, where, and whether it is cleared (``demo_timeline.py``).
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _embedded_writers import can_sign, genai_manifest, make_pki, sign_png  # noqa: E402
from _media import plate_pixels, write_exr, write_image  # noqa: E402
from _pipeline import FIRST_FRAME, PLATE_SIZE, Show, final_output, genai, step  # noqa: E402

__all__ = ["add_to_show", "EDIT", "RATE"]

EDIT = "editorial/SALT01_ep101_cut_v001.otio"
RATE = 24
WIRE_PLATE = "gen/plates/sh020_wireremoval_v002.####.exr"
SILENT_COMP = "comp/sh020_comp_v002.####.exr"
SILENT_FINAL = "delivery/sh020_final_v003.exr"


def _frames(show_root: Path) -> int:
    """How many frames the pipeline wrote per sequence (the wire-removal plate's count)."""
    head = WIRE_PLATE.split(".####.")[0]
    found = list((show_root / head).parent.glob(Path(head).name + ".*.exr"))
    if not found:
        raise FileNotFoundError(f"{show_root / WIRE_PLATE}: run generate.py's stages first")
    return len(found)


def _silent(shot: str, inputs: list[tuple[str, str]], note: str) -> dict[str, Any]:
    """A sidecar that says nothing about GenAI: the comp tool's template."""
    out = final_output(on_screen="background", subject="incidental")
    out["human_contribution"] = note
    return {
        "production": "SALT01",
        "shot": shot,
        "generated": False,
        "steps": [step("nuke-comp", "15.1", inputs=inputs)],
        "output": out,
    }


def add_embedded(show: Show) -> None:
    """Assets whose provenance is in their own bytes (XMP, C2PA, EXR header)."""
    # A poster from a web tool that marks its output; nobody wrote a sidecar.
    show.image(
        "gen/elements/sh070_poster_xmp_v001.png",
        "POSTER",
        motif="card",
        source_type="trainedAlgorithmicMedia",
    )

    # A wax seal with Content Credentials, and a sidecar that agrees with them.
    rel = "gen/elements/sh060_seal_c2pa_v001.png"
    if can_sign():
        with tempfile.TemporaryDirectory() as tmp:
            unsigned = Path(tmp) / "seal.png"
            write_image(unsigned, "SEAL", motif="card", palette=((180, 40, 40), (90, 20, 20)))
            target = show.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            sign_png(unsigned, target, make_pki(), genai_manifest("sh060 wax seal"))
        show.assets.append(rel)
        s = step("saltworks-diffusion", "3.2", prompt="red wax seal, salt merchant guild crest")
        out = final_output(
            on_screen="background", subject="incidental", element_type="set_dressing"
        )
        out.update(prominence="incidental", human_contribution="props dept matched the crest")
        show.sidecar(rel, genai(show, "sh060", [s], out))

    # The renderer stamped genai:* into the EXR header; no sidecar was published.
    stamp = {
        "genai:generated": "true",
        "genai:source_type": "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia",
        "genai:tool": "saltworks-diffusion",
        "genai:shot": "sh080",
    }
    show.exr("gen/elements/sh080_banner_v001.exr", frame=80, attributes=stamp)


def add_lineage(show: Show) -> None:
    """A comp and a deliverable built on a GenAI plate, whose sidecars forgot to say so."""
    head, _, ext = SILENT_COMP.rpartition(".####.")
    for i in range(show.frames):
        frame = FIRST_FRAME + i
        path = show.root / f"{head}.{frame:04d}.{ext}"
        write_exr(path, *PLATE_SIZE, plate_pixels(*PLATE_SIZE, i + 20))
    show.assets.append(SILENT_COMP)
    show.sidecar(
        SILENT_COMP,
        _silent("sh020", [(WIRE_PLATE, "production_image")], "comp by L. Ferreira"),
    )
    show.exr(SILENT_FINAL, frame=21)
    show.sidecar(SILENT_FINAL, _silent("sh020", [(SILENT_COMP, "production_image")], "conform"))


def add_edit(show: Show) -> Path | None:
    """The edit of episode 101 as OpenTimelineIO (``None`` when OTIO is not installed)."""
    if importlib.util.find_spec("opentimelineio") is None:
        return None
    import opentimelineio as otio

    def rt(frames: int) -> Any:
        return otio.opentime.RationalTime(frames, RATE)

    def span(start: int, duration: int) -> Any:
        return otio.opentime.TimeRange(rt(start), rt(duration))

    frames = show.frames

    def sequence(name: str, pattern: str, handles: int = 2) -> Any:
        folder, _, base = pattern.rpartition("/")
        prefix = base.split(".####.")[0] + "."
        ref = otio.schema.ImageSequenceReference(
            target_url_base=f"../{folder}/",
            name_prefix=prefix,
            name_suffix=".exr",
            start_frame=FIRST_FRAME,
            frame_zero_padding=4,
            rate=RATE,
            available_range=span(0, frames),
        )
        used = max(frames - 2 * handles, 1)
        return otio.schema.Clip(
            name=name, media_reference=ref, source_range=span(min(handles, frames - 1), used)
        )

    def still(name: str, rel: str, duration: int = 36) -> Any:
        ref = otio.schema.ExternalReference(target_url=f"../{rel}")
        return otio.schema.Clip(name=name, media_reference=ref, source_range=span(0, duration))

    def unknown(name: str, duration: int = 48, reel: str | None = None) -> Any:
        clip = otio.schema.Clip(
            name=name,
            media_reference=otio.schema.MissingReference(),
            source_range=span(0, duration),
        )
        if reel:
            clip.metadata["cmx_3600"] = {"reel": reel}
        return clip

    def gap(duration: int) -> Any:
        return otio.schema.Gap(source_range=span(0, duration))

    picture = [
        sequence("sh010 salt flats", "comp/sh010_comp_v004.####.exr"),
        sequence("sh020 wire removal", SILENT_COMP),
        still("sh030 denoise", "delivery/sh030_denoise_v001.exr"),
        still("sh040 market", "delivery/sh040_final_v003.exr"),
        unknown("sh050_final_v001", 36, reel="A005C012"),  # an EDL event: name only
        still("sh090 new line", "comp/sh090_vadr_v001.exr"),
        still("sh020 conform", SILENT_FINAL),
    ]
    graphics = [
        gap(frames),
        still("sign", "gen/elements/sh040_market_sign_v001.png", 24),
        gap(24),
        still("newsreel on TV", "gen/elements/sh070_newsreel_v001.png", 24),
        still("poster", "gen/elements/sh070_poster_xmp_v001.png", 24),
        still("banner", "gen/elements/sh080_banner_v001.exr", 24),
    ]
    if (show.root / "gen/elements/sh060_seal_c2pa_v001.png").is_file():
        graphics.append(still("wax seal", "gen/elements/sh060_seal_c2pa_v001.png", 24))
    audio = [
        still("temp narrator", "audio/temp_vo/sh010_scratch_narrator_v001.wav", 48),
        unknown("SALT temp score v002", 96),  # nobody audited the temp score
    ]
    timeline = otio.schema.Timeline(name="SALT01 ep101 cut v001")
    timeline.global_start_time = rt(3600 * RATE)  # 01:00:00:00
    for name, kind, items in (
        ("V1 picture", otio.schema.TrackKind.Video, picture),
        ("V2 graphics", otio.schema.TrackKind.Video, graphics),
        ("A1 temp VO", otio.schema.TrackKind.Audio, audio),
    ):
        track = otio.schema.Track(name=name, kind=kind)
        for item in items:
            track.append(item)
        timeline.tracks.append(track)
    path = show.root / EDIT
    path.parent.mkdir(parents=True, exist_ok=True)
    otio.adapters.write_to_file(timeline, str(path))
    return path


def add_to_show(show_root: Path, *, today: dt.date | None = None) -> None:
    """Add the embedded-metadata assets, the silent comp and deliverable, and the edit."""
    today = today or dt.datetime.now(dt.timezone.utc).date()
    show = Show(show_root, today, _frames(show_root))
    add_embedded(show)
    add_lineage(show)
    add_edit(show)


if __name__ == "__main__":
    add_to_show(Path(sys.argv[1]))
