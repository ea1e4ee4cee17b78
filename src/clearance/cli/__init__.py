"""The ``clearance`` command.

Each command lives in a module of this package exposing ``register(sub)``, which adds its
argparse sub-parser and sets ``func`` to a handler returning the exit code. Exit codes
(``docs/cli.md``): 0 nothing open at or above ``--fail-on``; 1 something is (or, for
``validate``, a file is invalid); 2 usage, configuration, plugin or I/O error; 3 an audit log
failed verification; 130 interrupted (SIGINT, Ctrl-C), 143 stopped (SIGTERM).
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from .._errors import describe

#: Command modules, in ``--help`` order. Missing optional modules are skipped.
COMMAND_MODULES = (
    "clearance.cli.audit",
    "clearance.cli.watch",
    "clearance.cli.log",
    "clearance.cli.timeline",
    "clearance.cli.lineage",
    "clearance.cli.config",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clearance",
        description="Audit generative-AI use in a VFX / post pipeline, stage by stage.",
    )
    parser.add_argument("--version", action="version", version=f"clearance {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    _reopen_closed_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    # A run allocates many small objects that live to its end (records, findings, results)
    # and rarely form cycles; at the default thresholds the cyclic collector re-scans them
    # over and over (~20% of a 20,000-asset scan). Collect less often, and never the
    # start-up objects (modules, schemas, the configuration).
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    try:
        return _run(args)
    finally:  # called in-process (tests, scripts): leave the collector as it was
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _reopen_closed_streams() -> None:
    """Give a standard stream the caller closed (``>&-``, ``2>&-``, a launcher that closes
    them) ``os.devnull``. Left closed, its descriptor is the next file opened (the audit log,
    the state store), and what is then printed for stdout or stderr, or redirected from
    stdout to stderr, is written into that file; and ``sys.stdout`` is ``None``, which
    printing the report fails on. A closed stdout then reads as ``| true``: the report goes
    nowhere and the exit code is the command's own."""
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor, so os.devnull lands on it
            opened = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
        if getattr(sys, name) is None:
            stream = open(  # noqa: SIM115 (the process's own stream, open to its end)
                fd,
                "r" if fd == 0 else "w",
                closefd=False,
                errors="backslashreplace" if fd == 2 else None,
                buffering=1 if fd == 2 else -1,
            )
            setattr(sys, name, stream)
            setattr(sys, f"__{name}__", stream)


def debug_enabled() -> bool:
    """``CLEARANCE_DEBUG`` asks for tracebacks: set, and not ``0``, ``false``, ``no`` or
    ``off`` (``CLEARANCE_DEBUG=0`` left in a farm's environment turned them on)."""
    value = os.environ.get("CLEARANCE_DEBUG", "").strip().lower()
    return value not in ("", "0", "false", "no", "off")


def _cwd_gone() -> str | None:
    """Why the current folder cannot be found (``None`` when it can)."""
    try:
        os.getcwd()
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _run(args: argparse.Namespace) -> int:
    from ._common import discard_stdout, interrupt_of, interrupts_raise

    try:
        with interrupts_raise():  # SIGTERM (a farm scheduler, kill, systemd) as Ctrl-C
            code = int(args.func(args))
    except KeyboardInterrupt as exc:
        auditlog = sys.modules.get("clearance.auditlog")
        for said in auditlog.not_written() if auditlog is not None else ():
            # a wait for another process's lock on the log was cut short
            print(f"clearance: error: audit log not written: {said}", file=sys.stderr)
        print("clearance: interrupted", file=sys.stderr)
        return interrupt_of(exc)[1]
    except BrokenPipeError:  # a listing's reader went away; reports keep their own code
        discard_stdout()  # (``report_output``): a closed pipe is neither a pass nor an error
        return 0
    except Exception as exc:  # never a bare traceback: say what failed, exit 2
        if debug_enabled():
            raise
        gone = _cwd_gone()
        if gone:  # a relative path, or none (`clearance scan`, `rules`), needs the folder
            print(
                f"clearance: error: the current folder is gone ({gone}: deleted or "
                "unmounted); cd to a folder that exists, or give absolute paths",
                file=sys.stderr,
            )
            return 2
        print(
            f"clearance: internal error: {describe(exc)} "
            "(set CLEARANCE_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 2
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
