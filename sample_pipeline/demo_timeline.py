"""Demo step: the timeline audit of the sample show's edit, after the scan.

``run(show_root, clearance_bin)`` runs ``clearance timeline`` on
``show/editorial/SALT01_ep101_cut_v001.otio`` (written by ``embedded_and_edit.py``), prints
the table, and writes the HTML page next to the show. Exit 1 is the expected state (the edit
holds GenAI material that needs approval and a temp score nobody audited); exit 2 (no
OpenTimelineIO, no state store, an unreadable edit) raises ``RuntimeError``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from embedded_and_edit import EDIT  # noqa: E402

__all__ = ["run"]


def run(show_root: Path, clearance_bin: str) -> None:
    """Audit the edit: print the table; write ``timeline.html`` beside the show folder."""
    edit = show_root / EDIT
    if not edit.is_file():
        print(f"(no edit at {edit}: OpenTimelineIO is not installed, so none was written)")
        return
    html = show_root.parent / "timeline.html"
    for args in (
        [str(edit)],
        [str(edit), "--format", "html", "--output", str(html)],
    ):
        sys.stdout.flush()
        done = subprocess.run(
            [clearance_bin, "timeline", *args], stdin=subprocess.DEVNULL, check=False, text=True
        )
        if done.returncode not in (0, 1):
            raise RuntimeError(f"'clearance timeline {' '.join(args)}' exited {done.returncode}")
    print(f"\nHTML: {html}")
    print("(exit 1 is expected: GenAI material on screen needs approval, and a clip is unaudited)")


if __name__ == "__main__":
    run(Path(sys.argv[1]), sys.argv[2] if len(sys.argv) > 2 else "clearance")
