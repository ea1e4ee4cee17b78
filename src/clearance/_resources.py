"""Finding the shipped schemas and configs, installed (wheel) or from a checkout."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

_CHECKOUT = Path(__file__).resolve().parents[2]


def data_file(kind: str, name: str) -> Path:
    """Path of ``schemas/NAME`` or ``configs/NAME``: inside the wheel, else the checkout's."""
    packaged = resources.files("clearance") / "_data" / kind / name
    if packaged.is_file():
        return Path(str(packaged))
    candidate = _CHECKOUT / kind / name
    if candidate.is_file():
        return candidate
    raise FileNotFoundError(f"clearance data file {kind}/{name} is missing from the installation")


@cache
def schema(name: str) -> dict[str, Any]:
    """A JSON Schema by file name (``provenance.schema.json``), parsed once per process."""
    with data_file("schemas", name).open(encoding="utf-8") as fh:
        return json.load(fh)  # type: ignore[no-any-return]


SCHEMAS = (
    "provenance.schema.json",
    "clearance.schema.json",
    "tools.schema.json",
    "approvals.schema.json",
)
