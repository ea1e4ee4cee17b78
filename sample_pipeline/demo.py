"""``make demo``: generate "The Salt Road" into a fresh folder, audit it, print the report.

The demo is a list of steps (``STEPS``); each is a small function that receives the shared
:class:`Demo` and either returns (the demo goes on) or raises :class:`DemoFailed` (the demo
stops with exit 1). To add a step (a live watcher, a timeline audit...), write a function
``step_x(demo: Demo) -> None`` and append it to ``STEPS``; ``demo.clearance(...)`` runs the
real console script and ``demo.section(...)`` prints a heading.

A scan exiting 1 is the expected state here: the sample show has open findings on purpose.
Only exit 2 (usage, configuration or I/O error) fails the demo.

Usage::

    python sample_pipeline/demo.py [--outdir DIR] [--frames N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import demo_timeline  # noqa: E402
import demo_watch  # noqa: E402
from embedded_and_edit import EDIT  # noqa: E402
from generate import generate  # noqa: E402

#: exit codes that mean "the command ran" (0: nothing open, 1: findings open)
RAN = (0, 1)


class DemoFailed(Exception):
    """A step could not do its job; the message says which command and why."""


@dataclass
class Demo:
    """What the steps share: where the show lives and how to call ``clearance``."""

    outdir: Path
    frames: int = 24
    show: Path = field(init=False)
    notes: list[str] = field(default_factory=list)
    sections: int = 0

    def __post_init__(self) -> None:
        self.show = self.outdir / "show"

    @property
    def log(self) -> Path:
        """The audit log the scan writes (``audit.log`` in the show's clearance.yaml)."""
        return self.show / ".clearance" / "audit.jsonl"

    @staticmethod
    def executable() -> str:
        """The ``clearance`` console script installed next to this Python."""
        bindir = Path(sys.executable).parent
        for name in ("clearance", "clearance.exe"):
            if (bindir / name).exists():
                return str(bindir / name)
        found = shutil.which("clearance")
        if found is None:
            raise DemoFailed(f"the clearance command is not installed next to {sys.executable}")
        return found

    def clearance(self, *args: str, ok: tuple[int, ...] = RAN, capture: bool = False) -> str:
        """Run ``clearance ARGS``; output goes to the terminal unless ``capture``."""
        command = [self.executable(), *args]
        sys.stdout.flush()
        done = subprocess.run(
            command,
            cwd=self.outdir,
            stdin=subprocess.DEVNULL,
            capture_output=capture,
            text=True,
            check=False,
        )
        if done.returncode not in ok:
            detail = (done.stderr or "").strip() if capture else "(see the messages above)"
            raise DemoFailed(f"'clearance {' '.join(args)}' exited {done.returncode}: {detail}")
        return done.stdout if capture else ""

    def has_command(self, name: str) -> bool:
        """Does ``clearance --help`` list the subcommand ``name``?"""
        text = self.clearance("--help", ok=(0,), capture=True)
        return any(line.split()[:1] == [name] for line in text.splitlines())

    def section(self, title: str) -> None:
        """Print a numbered heading."""
        self.sections += 1
        print(f"\n{'=' * 78}\n{self.sections}. {title}\n{'=' * 78}", flush=True)


# -------------------------------------------------------------------------------------------
# Steps
# -------------------------------------------------------------------------------------------


def step_generate(demo: Demo) -> None:
    """Run the sample show's pipeline: every stage writes its media and sidecars."""
    demo.section("The Salt Road (SALT01): running the pipeline stage by stage")
    generate(demo.outdir, frames=demo.frames)
    print(f"generated into {demo.outdir}")
    print(f"show root (clearance.yaml): {demo.show}")


def step_scan(demo: Demo) -> None:
    """Audit the whole show once, per stage, with the site hooks attached."""
    demo.section(f"clearance scan {demo.show}")
    demo.clearance("scan", str(demo.show))
    print("\n(exit 1 above is expected: the sample show has open findings on purpose)")


def step_watch(demo: Demo) -> None:
    """A wrangler's view: ``clearance watch`` audits new renders as the pipeline writes them."""
    if not demo.has_command("watch"):
        demo.notes.append("'clearance watch' is not available in this build; skipped")
        return
    demo.section("Live watcher: clearance watch")
    try:
        demo_watch.run(demo.outdir, demo.executable())
    except RuntimeError as exc:
        raise DemoFailed(str(exc)) from exc


def step_report(demo: Demo) -> None:
    """The supervisor's report, read back from the audit log the scan wrote."""
    if not demo.has_command("report"):
        demo.notes.append("'clearance report' is not available in this build; skipped")
        return
    demo.section(f"clearance report {demo.log}")
    demo.clearance("report", str(demo.log), ok=(0,))
    html = demo.outdir / "report.html"
    demo.clearance("report", str(demo.log), "--format", "html", "--output", str(html), ok=(0,))
    demo.notes.append(f"HTML report: {html}")


def step_verify(demo: Demo) -> None:
    """The audit log's hash chain is intact (``clearance verify`` exits 3 when tampered)."""
    if not demo.has_command("verify"):
        return
    demo.section(f"clearance verify {demo.log}")
    demo.clearance("verify", str(demo.log), ok=(0,))


def step_timeline(demo: Demo) -> None:
    """Which GenAI material is on screen in the episode's cut, where, and is it cleared."""
    if not demo.has_command("timeline"):
        demo.notes.append("'clearance timeline' is not available in this build; skipped")
        return
    demo.section(f"clearance timeline {demo.show / EDIT}")
    try:
        demo_timeline.run(demo.show, demo.executable())
    except RuntimeError as exc:
        raise DemoFailed(str(exc)) from None


#: The demo, in order. Append later steps here.
STEPS: list[Callable[[Demo], None]] = [
    step_generate,
    step_scan,
    step_watch,
    step_report,
    step_verify,
    step_timeline,
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate, audit and report the sample show.")
    parser.add_argument(
        "--outdir", type=Path, help="folder to generate into (default: a new temp folder)"
    )
    parser.add_argument("--frames", type=int, default=24, help="frames per sequence (default 24)")
    args = parser.parse_args(argv)
    outdir = args.outdir or Path(tempfile.mkdtemp(prefix="clearance-demo-"))
    outdir.mkdir(parents=True, exist_ok=True)
    demo = Demo(outdir.resolve(), frames=args.frames)
    os.environ.setdefault("COLUMNS", "110")
    try:
        for step in STEPS:
            step(demo)
    except DemoFailed as exc:
        print(f"\ndemo failed: {exc}", file=sys.stderr)
        return 1
    print(f"\n{'=' * 78}\nDone\n{'=' * 78}")
    for note in demo.notes:
        print(note)
    print(f"Everything is in {demo.outdir} (sidecars, approvals.yaml, .clearance/audit.jsonl).")
    print("Read sample_pipeline/expected.yaml for what each asset illustrates.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
