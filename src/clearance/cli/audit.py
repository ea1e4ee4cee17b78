"""``clearance scan`` and ``clearance check``: audit a tree, or single assets, once."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import zlib
from pathlib import Path

from .._display import shown_path, shown_text
from ..discover import Discovery, assets_from_files, discover, is_sidecar
from ..engine import RunResult, Session
from ..model import Outcome
from ..policy import Policy
from ._common import (
    EXIT_ERROR,
    add_config_options,
    approval_warnings,
    blocked_plugins,
    error,
    fail,
    interrupt_of,
    outcome_arg,
    outcome_settled,
    outside_the_root,
    policy_for,
    print_plugin_failures,
    report_output,
    rule_config_errors,
    stdout_to_stderr,
    stop_run,
)
from .output import Progress, render_json, render_jsonl, render_table


def register(sub: argparse._SubParsersAction) -> None:
    scan = sub.add_parser("scan", help="audit every asset under PATH once", description=__doc__)
    scan.add_argument(
        "paths", nargs="*", metavar="PATH", help="folders or files (default: the current folder)"
    )
    _common_options(scan)
    scan.add_argument(
        "--jobs",
        "-j",
        type=_positive_int,
        default=1,
        metavar="N",
        help="worker processes (default 1)",
    )
    scan.add_argument(
        "--shard",
        type=shard_arg,
        metavar="I/N",
        help="audit the I-th of N disjoint parts of the assets (farm nodes sharing a big tree)",
    )
    scan.set_defaults(func=run_scan)

    check = sub.add_parser("check", help="audit single assets (same output as scan)")
    check.add_argument("files", nargs="+", metavar="FILE")
    _common_options(check)
    check.set_defaults(func=run_check)


def shard_arg(value: str) -> tuple[int, int]:
    """``I/N`` with 1 <= I <= N."""
    index, sep, count = value.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = 0
    if not sep or not 1 <= i <= n:
        raise argparse.ArgumentTypeError(
            f"expected I/N with 1 <= I <= N (--shard 2/8: the second of 8 parts), got {value!r}"
        )
    return i, n


def in_shard(name: str, shard: tuple[int, int]) -> bool:
    """Is the asset (or discovery error) ``name`` in part ``I`` of ``N``? A hash of the name,
    so every node given the same tree and ``N`` splits it the same way, whatever it lists
    first, and a new asset does not move the others."""
    index, count = shard
    return zlib.crc32(os.fsencode(name)) % count == index - 1


def _sharded(found: Discovery, shard: tuple[int, int]) -> Discovery:
    """The part of ``found`` that ``--shard`` audits: its assets. Every part says every
    discovery error and warning: what one node cannot read (a share not mounted there, a
    permission) is that node's, and the assets it hides are in every part. No part saw a
    whole stage: its stage checks prove nothing by finding nothing."""
    if shard[1] == 1:
        return found
    return Discovery(
        [a for a in found.assets if in_shard(a.rel, shard)],
        found.errors,
        found.warnings,
        frozenset(),
    )


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected 1 or more, got {number}")
    return number


def _common_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--stage",
        "-s",
        metavar="S",
        help="audit everything as stage S (overrides the folder→stage mapping)",
    )
    add_config_options(parser)
    parser.add_argument("--format", "-f", choices=("table", "json", "jsonl"), default="table")
    parser.add_argument(
        "--fail-on",
        type=outcome_arg,
        default=Outcome.ESCALATE,
        metavar="O",
        help="exit 1 when an open finding is at or above O (default: escalate)",
    )
    parser.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="re-read every sidecar and header (ignore the provenance cache)",
    )


def run_scan(args: argparse.Namespace) -> int:
    paths = args.paths or ["."]
    policy = policy_for(args, paths, one_show=True)
    _check_stage(policy, args.stage)
    found = discover(paths, policy, stage=args.stage)
    if args.config:
        found.warnings.extend(outside_the_root(policy, paths))
    if args.shard:
        found = _sharded(found, args.shard)
    # What discovery found lives to the end of the run, and a big tree's is a few large
    # containers (each folder's names, twice): every collection of the young objects would
    # traverse them, ≈ 80 ms each for 1,000,000 frames. ``main`` unfreezes at the end.
    gc.freeze()
    return _audit(args, policy, found, paths, command="scan")


def run_check(args: argparse.Namespace) -> int:
    policy = policy_for(args, args.files, one_show=True)
    _check_stage(policy, args.stage)
    found = assets_from_files(args.files, policy)
    if args.config:
        found.warnings.extend(outside_the_root(policy, args.files))
    refused = {path for path, _ in found.errors}
    for raw in args.files:
        if is_sidecar(Path(raw).name) and str(raw) not in refused:
            print(
                f"clearance: {shown_path(raw)} is a sidecar: checking the asset it describes",
                file=sys.stderr,
            )
    if args.stage:
        for asset in found.assets:
            asset.stage = args.stage
    return _audit(args, policy, found, args.files, command="check")


def _check_stage(policy: Policy, stage: str | None) -> None:
    """``--stage`` must name a configured stage (or ``default``, the stage of files under no
    stage's paths): a misspelled one would audit everything in an invented stage, with none
    of the real one's plugins and not final."""
    names = [s.name for s in policy.stages]
    if stage and stage not in names and stage != "default":
        where = policy.config_file or "the built-in default policy"
        fail(f"--stage {stage}: no such stage in {where}; its stages: {', '.join(names)}")


def _audit(args: argparse.Namespace, policy, found: Discovery, paths, *, command: str) -> int:  # type: ignore[no-untyped-def]
    from ..auditlog import AuditLogError, LockStillHeld

    # (a link to nothing, a share not mounted, holds nothing either: no .clearance made here)
    nothing_there = not any(os.path.exists(p) for p in paths)
    if nothing_there and policy.is_default:  # no configuration, no folder: no audit log
        for path, reason in found.errors:
            error(f"{path}: {reason}")
        return EXIT_ERROR
    with contextlib.ExitStack() as settled:
        with stdout_to_stderr():  # what plugins print; stdout is the report's
            try:
                session = Session(
                    policy,
                    command=command,
                    paths=[str(p) for p in paths],
                    blocked=blocked_plugins(args),
                    cache=not args.no_cache,
                    shard=getattr(args, "shard", None),
                )
            except AuditLogError as exc:
                error(str(exc))
                return EXIT_ERROR
            print_plugin_failures(session.plugins.failures)
            problems = rule_config_errors(policy, session.plugins, session.blocked)
            if problems:
                return stop_run(session, problems)
            approval_warnings(policy, session.plugins, session.blocked, session)
            for path, reason in found.errors:
                error(f"{path}: {reason}")
            for path, reason in found.warnings:
                print(
                    f"clearance: warning: {shown_path(path)}: {shown_text(reason)}", file=sys.stderr
                )
            session.warn(found.warnings)
            progress = None if args.no_progress else Progress(len(found.assets))
            result: RunResult | None = None
            try:
                result = session.run(
                    found.assets,
                    errors=found.errors,
                    progress=progress,
                    jobs=getattr(args, "jobs", 1),
                    keep_records=False,  # the output needs findings only: memory stays small
                    whole_stages=found.whole_stages,
                    on_error=_said_error,  # a file an audit could not read, as it is found
                )
                code = result.exit_code(args.fail_on)
                # from here a signal no longer makes the run an interrupted one: its log and
                # its exit code must agree (it stops the printing at most, the second time)
                settled.enter_context(outcome_settled(code))
                session.close(result, exit_code=code)
            except AuditLogError as exc:
                error(f"audit log not written: {exc}")
                return EXIT_ERROR
            except KeyboardInterrupt as exc:  # Ctrl-C or SIGTERM: what was audited is in the log
                signame, code = interrupt_of(exc)
                try:
                    session.close(exit_code=code, interrupted=signame)
                except LockStillHeld:
                    pass  # its wait for the log's lock was interrupted: said on the way out
                except AuditLogError as log_error:
                    error(f"audit log not written: {log_error}")
                raise
        if nothing_there:  # the errors said it all: an empty report would look like a pass
            return code
        with report_output() as out:  # `| head`: the exit code stays the run's (run.finished)
            if args.format == "json":
                render_json(result, out)
            elif args.format == "jsonl":
                render_jsonl(result, out)
            else:
                render_table(result, out, fail_on=args.fail_on)
        return code


def _said_error(path: str, reason: str) -> None:
    """A file the audit could not read (permission denied, an I/O error): on stderr as
    discovery's errors are, when it is found (its ``run.error`` is in the log)."""
    error(f"{path}: {reason}")
