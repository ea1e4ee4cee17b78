"""Shared command-line plumbing: errors to stderr, policy loading, plugin blocking options."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import Any, NoReturn

from ..model import Outcome
from ..policy import ConfigError, Policy, load_policy

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread as Ctrl-C's ``KeyboardInterrupt`` is, so
    every ``finally`` and audit batch on the way out runs: the run is recorded as interrupted
    and the command exits 128 + the signal's number (130 for SIGINT, 143 for SIGTERM)."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        self.signame = signal.Signals(signum).name
        super().__init__(self.signame)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def interrupt_of(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The signal's name and the exit code for an interruption (a plain ``KeyboardInterrupt``
    is Ctrl-C's)."""
    if isinstance(exc, Interrupted):
        return exc.signame, exc.exit_code
    return "SIGINT", 128 + signal.SIGINT


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    auditlog = sys.modules.get("clearance.auditlog")
    if auditlog is not None and auditlog.hold_signal(signum):
        return  # raised again once the audit log's write under way is complete
    raise Interrupted(signum)


@contextlib.contextmanager
def interrupts_raise() -> Iterator[None]:
    """SIGINT and SIGTERM raise :class:`Interrupted` in this block (main thread only; a
    signal the process was started with ignored stays ignored). ``watch`` sets its own."""
    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current not in (signal.SIG_DFL, signal.default_int_handler):
            continue  # ignored (a script's background job) or the caller's own handler
        try:
            previous[signum] = signal.signal(signum, _interrupt)
        except ValueError:  # not the main thread: nothing to install
            break
    try:
        yield
    finally:
        for restored, handler in previous.items():
            signal.signal(restored, handler)


def error(message: str) -> None:
    print(f"clearance: error: {message}", file=sys.stderr)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    error(message)
    raise SystemExit(code)


def outcome_arg(value: str) -> Outcome:
    try:
        return Outcome.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_config_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        metavar="F",
        help="clearance.yaml to use (default: the nearest one above PATH)",
    )
    parser.add_argument(
        "-p",
        dest="plugin_options",
        action="append",
        default=[],
        metavar="no:NAME",
        help="block a plugin by name (as pytest's -p no:NAME); repeatable",
    )


def blocked_plugins(args: argparse.Namespace) -> list[str]:
    blocked = []
    for value in args.plugin_options:
        if not value.startswith("no:"):
            fail(f"-p {value}: only 'no:NAME' (block a plugin) is supported")
        blocked.append(value[3:])
    return blocked


def policy_for(args: argparse.Namespace, paths: Sequence[str]) -> Policy:
    try:
        return load_policy(getattr(args, "config", None), paths=list(paths))
    except ConfigError as exc:
        fail(str(exc))


def print_plugin_failures(failures: Sequence[Any]) -> None:
    for failure in failures:
        error(str(failure))
