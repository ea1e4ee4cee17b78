"""Shared command-line plumbing: errors to stderr, policy loading, plugin blocking options."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from ..model import Outcome
from ..policy import ConfigError, Policy, load_policy

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


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
    from ..plugins import refuse_unblockable

    blocked = []
    for value in args.plugin_options:
        if not value.startswith("no:"):
            fail(f"-p {value}: only 'no:NAME' (block a plugin) is supported")
        try:
            refuse_unblockable([value[3:]])
        except ValueError as exc:
            fail(f"{exc} (-p {value})")
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
