"""Synthetic pipeline trees for the benchmarks (written once per run into a temp folder)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from clearance.testing import write_png

# the same compliant GenAI sidecar the tests use (tests/conftest.py), for production BENCH01
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from conftest import genai_sidecar  # noqa: E402

SIDECAR = genai_sidecar(production="BENCH01")

CONFIG = """clearance: 1
production: {id: BENCH01, genre: fiction, regions: [US]}
tools:
  studio-diffusion: {vendor: In-house, deployment: studio_enterprise, trains_on_inputs: false,
                     retains_data: none, reuses_outputs: false, marks_output: c2pa}
stages:
  - {name: gen, paths: [gen/]}
  - {name: comp, paths: [comp/]}
"""


def _varied(i: int, shot: str) -> str:
    """The bench sidecar for asset ``i``: the same shape and size, with its own shot, plate,
    prompt and note, as a show's sidecars have (a memo keyed on content must not hit)."""
    doc = dict(SIDECAR, shot=shot)
    doc["steps"] = [
        dict(
            SIDECAR["steps"][0],
            inputs=[
                {"ref": f"plates/{shot}_plate_v{i % 7 + 1:03d}.####.exr", "class": "owned_released"}
            ],
            prompt={"text": f"wide desert street at dusk, take {i}", "references": []},
        )
    ]
    doc["output"] = dict(SIDECAR["output"], human_contribution=f"matte painter repainted sky ({i})")
    return yaml.safe_dump(doc, sort_keys=False)


def single_file_tree(root: Path, count: int, *, per_folder: int = 500) -> Path:
    """``count`` PNG assets, each with its own ~650-byte YAML sidecar, in folders of
    ``per_folder``."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "clearance.yaml").write_text(CONFIG)
    template = root / ".template.png"
    write_png(template)
    png = template.read_bytes()
    for i in range(count):
        shot = f"sh{i // per_folder:04d}"
        folder = root / ("gen" if i % 2 else "comp") / shot
        if i % per_folder in (0, 1):
            folder.mkdir(parents=True, exist_ok=True)
        name = f"el_{i:06d}_v001.png"
        (folder / name).write_bytes(png)
        (folder / f"{name}.genai.yaml").write_text(_varied(i, shot))
    return root


def sequence_tree(root: Path, sequences: int, frames: int) -> Path:
    """``sequences`` × ``frames`` EXR-named frames (tiny files), one sidecar per sequence."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "clearance.yaml").write_text(CONFIG)
    sidecar = yaml.safe_dump(SIDECAR, sort_keys=False)
    for s in range(sequences):
        folder = root / "comp" / f"sh{s:04d}"
        folder.mkdir(parents=True, exist_ok=True)
        prefix = f"sh{s:04d}_comp_v001"
        for f in range(1001, 1001 + frames):
            fd = os.open(folder / f"{prefix}.{f}.exr", os.O_CREAT | os.O_WRONLY, 0o644)
            os.close(fd)
        (folder / f"{prefix}.genai.yaml").write_text(sidecar)
    return root
