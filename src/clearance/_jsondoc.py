"""JSON documents that stay fast to write and easy to diff when they hold long lists."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import IO, Any


def write_document(doc: Mapping[str, Any], out: IO[str], *, lists: Collection[str]) -> None:
    """Write ``doc`` as one JSON object, indented two spaces, with the lists named in
    ``lists`` written one compact item per line.

    Indented JSON is encoded by Python's pure-Python encoder, compact JSON by the C one: a
    scan or report of tens of thousands of assets spends most of its output time indenting.
    The text is the same JSON to any parser.
    """
    compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
    out.write("{\n")
    last = len(doc) - 1
    for i, (key, value) in enumerate(doc.items()):
        out.write(f"  {json.dumps(key)}: ")
        if key in lists and value:
            out.write("[\n")
            out.write(",\n".join("    " + compact(item) for item in value))
            out.write("\n  ]")
        else:
            text = json.dumps(value, indent=2, ensure_ascii=False)
            out.write(text.replace("\n", "\n  "))
        out.write(",\n" if i < last else "\n")
    out.write("}\n")
