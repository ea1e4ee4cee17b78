"""What the sample pipeline's tool wrappers share: the show tree, sidecars, configuration.

``generate.py`` holds the stages (what each pipeline step makes); this module holds how a
step publishes: media written through ``_media``, a provenance sidecar in format 1 next to
it, and the show's configuration copied or rendered into the output folder.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from _media import plate_pixels, write_exr, write_image, write_wav

__all__ = [
    "FIRST_FRAME",
    "PRODUCTION",
    "Record",
    "Show",
    "final_output",
    "genai",
    "render_approvals",
    "step",
    "write_config",
]

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PRODUCTION = "SALT01"
FIRST_FRAME = 1001
PLATE_SIZE = (64, 36)
HOOKS = ("show_denylist.py", "plate_format.py")

Record = dict[str, Any]

# -------------------------------------------------------------------------------------------
# The show: where files go, and how sidecars are written
# -------------------------------------------------------------------------------------------


class Show:
    """The show root being generated, the day of generation and the frame count."""

    def __init__(self, root: Path, today: dt.date, frames: int) -> None:
        self.root = root
        self.today = today
        self.frames = frames
        self.assets: list[str] = []

    def days_ago(self, days: int) -> str:
        return (self.today - dt.timedelta(days=days)).isoformat()

    # -- media ----------------------------------------------------------------------------
    def image(self, rel: str, label: str, **kwargs: Any) -> str:
        write_image(self.root / rel, label, **kwargs)
        self.assets.append(rel)
        return rel

    def wav(self, rel: str, **kwargs: Any) -> str:
        write_wav(self.root / rel, **kwargs)
        self.assets.append(rel)
        return rel

    def exr(
        self,
        rel: str,
        size: tuple[int, int] = PLATE_SIZE,
        frame: int = 0,
        attributes: dict[str, str] | None = None,
    ) -> str:
        """A single EXR; ``attributes`` become string header attributes (``genai:*``)."""
        write_exr(self.root / rel, *size, plate_pixels(*size, frame), attributes=attributes)
        self.assets.append(rel)
        return rel

    def sequence(self, pattern: str, size: tuple[int, int] = PLATE_SIZE) -> str:
        """Write ``dir/PREFIX.####.EXT`` frames FIRST_FRAME.. and return the pattern."""
        head, _, ext = pattern.rpartition(".####.")
        for i in range(self.frames):
            frame = FIRST_FRAME + i
            write_exr(self.root / f"{head}.{frame:04d}.{ext}", *size, plate_pixels(*size, i))
        self.assets.append(pattern)
        return pattern

    # -- sidecars -------------------------------------------------------------------------
    def sidecar_path(self, rel: str, fmt: str = "yaml") -> Path:
        """``NAME.EXT.genai.yaml`` for a file, ``PREFIX.genai.yaml`` for a sequence."""
        if ".####." in rel:
            return self.root / (rel.split(".####.")[0] + f".genai.{fmt}")
        return self.root / f"{rel}.genai.{fmt}"

    def sidecar(self, rel: str, record: Record, fmt: str = "yaml") -> None:
        path = self.sidecar_path(rel, fmt)
        record = {"provenance": 1, "asset": rel.rsplit("/", 1)[-1], **record}
        if fmt == "json":
            text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
        else:
            text = yaml.safe_dump(record, sort_keys=False, allow_unicode=True, width=100)
        path.write_text(text, encoding="utf-8")

    def raw_sidecar(self, rel: str, text: str) -> None:
        """A sidecar written by hand (the malformed one: a typo'd key, a wrong type)."""
        self.sidecar_path(rel).write_text(text, encoding="utf-8")


# -------------------------------------------------------------------------------------------
# What a tool wrapper records: steps and records in sidecar format 1
# -------------------------------------------------------------------------------------------


def step(
    tool: str,
    version: str,
    *,
    inputs: Iterable[tuple[str, str] | tuple[str, str, str | None]] = (),
    prompt: str | None = None,
    references: Iterable[Record] = (),
    model: Record | None = None,
    training: Record | None = None,
) -> Record:
    """One tool invocation: ``inputs`` as ``(ref, class)`` or ``(ref, class, clearance)``."""
    data: Record = {"tool": tool, "tool_version": version}
    if model is not None:
        data["model"] = model
    data["inputs"] = []
    for item in inputs:
        entry: Record = {"ref": item[0], "class": item[1]}
        if len(item) > 2:
            entry["clearance"] = item[2]  # type: ignore[misc]
        data["inputs"].append(entry)
    if prompt is not None or references:
        data["prompt"] = {"text": prompt}
        if references:
            data["prompt"]["references"] = list(references)
    if training is not None:
        data["training"] = training
    return data


def genai(
    show: Show,
    shot: str | None,
    steps: list[Record],
    output: Record,
    *,
    source_type: str | None = "trainedAlgorithmicMedia",
    notified: bool = True,
    flagged: bool = True,
    **extra: Any,
) -> Record:
    """A GenAI asset's record, disclosed to the studio contact unless ``notified=False``."""
    record: Record = {"production": PRODUCTION, "shot": shot, "generated": True}
    if source_type is not None:
        record["source_type"] = source_type
    record["steps"] = steps
    record["output"] = output
    record.update(extra)
    disclosure: Record = {}
    if notified:
        disclosure["notified_at"] = show.days_ago(21)
    if flagged and output.get("on_screen", "none") != "none":
        disclosure["flagged_at"] = show.days_ago(14)
    if disclosure:
        record["disclosure"] = disclosure
    return record


def final_output(**fields: Any) -> Record:
    """``output`` for material headed for the cut: reviewed, with human work recorded."""
    out: Record = {"use": "final"}
    out.update(fields)
    out.setdefault("similarity_review", "passed")
    return out


# -------------------------------------------------------------------------------------------
# Configuration: copied, and approvals.yaml rendered with dates relative to today
# -------------------------------------------------------------------------------------------

_DATE_TOKEN = re.compile(r"\$(today|days_ago_(\d+)|in_(\d+)_days)\b")


def render_approvals(template: str, today: dt.date) -> str:
    """Replace ``$today``, ``$days_ago_N`` and ``$in_N_days`` with ISO dates."""

    def replace(match: re.Match[str]) -> str:
        if match.group(2):
            return (today - dt.timedelta(days=int(match.group(2)))).isoformat()
        if match.group(3):
            return (today + dt.timedelta(days=int(match.group(3)))).isoformat()
        return today.isoformat()

    return _DATE_TOKEN.sub(replace, template)


def write_config(outdir: Path, show_root: Path, today: dt.date) -> None:
    source = HERE / "show"
    show_root.mkdir(parents=True, exist_ok=True)
    for name in ("clearance.yaml", "tools.yaml"):
        shutil.copyfile(source / name, show_root / name)
    template = (source / "approvals.template.yaml").read_text(encoding="utf-8")
    (show_root / "approvals.yaml").write_text(render_approvals(template, today), encoding="utf-8")
    hooks = outdir / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    for name in HOOKS:
        shutil.copyfile(REPO / "hooks" / name, hooks / name)
