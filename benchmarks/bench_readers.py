"""Header-only provenance reading cost per asset, for 4K PNG, JPEG and EXR files.

Each embedded reader (XMP in PNG/JPEG, EXR header attributes, C2PA detection) is timed on a
real 4K file written here, with the file in the page cache (as on a re-scan). Baseline, same
run: opening the file and reading its first 64 KiB — about the least any header reader does.
Target (issue 5): under 0.5 ms per file. Pixels are never decoded.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

from clearance.model import Asset  # noqa: E402
from clearance.provenance import c2pa, exr, xmp  # noqa: E402

W, H = 3840, 2160


def _files(tmp: Path) -> dict[str, Path]:
    from PIL import Image, PngImagePlugin

    from _embedded import TRAINED, write_exr, xmp_packet

    noise = Image.frombytes("RGB", (W, H), os.urandom(W * H * 3))
    png = tmp / "plate_4k.png"
    info = PngImagePlugin.PngInfo()
    noise.save(png, pnginfo=info, compress_level=1)
    # XMP after the pixel data (the expensive case: the reader must find it from the tail)
    from _embedded import insert_png_chunk

    insert_png_chunk(
        png, b"iTXt", b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp_packet(TRAINED).encode()
    )
    jpg = tmp / "plate_4k.jpg"
    noise.save(jpg, quality=90, xmp=xmp_packet(TRAINED).encode())
    exr_path = write_exr(
        tmp / "plate_4k.exr",
        {
            "genai:generated": "true",
            "genai:source_type": TRAINED,
            "genai:tool": "studio-diffusion",
            "software": "Nuke 15.1",
        },
        pixel_bytes=W * H * 6,
    )
    return {"png": png, "jpeg": jpg, "exr": exr_path}


def _asset(path: Path) -> Asset:
    return Asset(path=path, rel=path.name, root=path.parent, files=[path])


def _per_call(func: Any, *args: Any, n: int) -> float:
    func(*args)  # warm
    start = time.perf_counter()
    for _ in range(n):
        func(*args)
    return (time.perf_counter() - start) / n


def _head(path: Path) -> None:
    with open(path, "rb") as fh:
        fh.read(65536)


def run(size: float = 1.0) -> list[dict[str, Any]]:
    n = max(20, int(200 * size))
    tmp = Path(tempfile.mkdtemp(prefix="clearance-bench-readers-"))
    try:
        files = _files(tmp)
        rows: list[dict[str, Any]] = []
        readers = {
            "png": [("xmp", xmp), ("c2pa detect", c2pa)],
            "jpeg": [("xmp", xmp), ("c2pa detect", c2pa)],
            "exr": [("exr header", exr), ("c2pa detect", c2pa)],
        }
        for kind, path in files.items():
            asset = _asset(path)
            base = _per_call(_head, path, n=n)
            total = 0.0
            for label, module in readers[kind]:
                if module is c2pa:
                    cost = _per_call(c2pa.find_manifest, path, n=n)
                else:
                    cost = _per_call(module.clearance_read_provenance, asset, n=n)
                total += cost
                rows.append(
                    {
                        "name": f"{label}, 4K {kind.upper()} ({path.stat().st_size / 1e6:.0f} MB)",
                        "value": cost * 1e3,
                        "unit": "ms/file",
                        "baseline": base * 1e3,
                        "ratio": cost / base,
                        "target": "< 0.5 ms",
                    }
                )
            rows.append(
                {
                    "name": f"all readers, 4K {kind.upper()}",
                    "value": total * 1e3,
                    "unit": "ms/file",
                    "baseline": base * 1e3,
                    "ratio": total / base,
                    "target": "< 0.5 ms",
                }
            )
        return rows
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(row)
