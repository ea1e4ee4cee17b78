"""``clearance watch``: audit assets as they land, until SIGINT/SIGTERM (then drain and exit 0)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

from .._display import shown_path, shown_text
from ._common import (
    EXIT_ERROR,
    add_config_options,
    approval_warnings,
    blocked_plugins,
    error,
    outside_the_root,
    policy_for,
    print_plugin_failures,
    rule_config_errors,
    stdout_to_stderr,
    stop_run,
)

if TYPE_CHECKING:
    from ..watch import Watcher
    from ..watch_audit import WatchSession

#: The longest time a seconds option takes (ten years: "never", in practice). Longer ones
#: overflow the waits they become (a polling interval of 1e300 s kills the emitter).
MAX_SECONDS = 10 * 365 * 24 * 3600


def _seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}") from None
    if not 0 <= number <= MAX_SECONDS:  # nan and inf fail too (nan < 0 is False)
        raise argparse.ArgumentTypeError(
            f"expected a number of seconds from 0 to {MAX_SECONDS} (ten years), got {value!r}"
        )
    return number


#: The hooks a watcher never calls: it audits each asset as it lands, never a whole stage.
STAGE_HOOKS = ("clearance_check_stage", "clearance_stage_started", "clearance_stage_finished")


def _stage_hook_warnings(session: WatchSession) -> list[tuple[str, str]]:
    """A site plugin's stage hooks (a stage checker, the stage notifications) are never
    called by a watcher: said once at start, on stderr and as a ``run.warning`` naming the
    plugin's file, so a stage check that a watched show relies on never passes in silence."""
    from ..auditlog import AuditLogError

    found = []
    for info in session.plugins.plugins.values():
        hooks = [hook for hook in STAGE_HOOKS if hook in info.hooks]
        if info.kind == "builtin" or not hooks:
            continue
        verb = "is" if len(hooks) == 1 else "are"
        found.append(
            (
                info.source,
                f"plugin {info.name}: {', '.join(hooks)} {verb} not called by clearance watch, "
                "which audits each asset as it lands and never a whole stage; "
                "run `clearance scan` for its stage checks",
            )
        )
    for path, reason in found:
        print(f"clearance: warning: {shown_text(path)}: {shown_text(reason)}", file=sys.stderr)
    if found:
        with contextlib.suppress(AuditLogError):  # said on stderr already
            session.warn(found)
    return found


#: The shortest polling interval: a shorter one is a busy loop (0 polled without pause, at
#: about 40 % of a core before a single file changed).
MIN_INTERVAL = 0.1


def _interval(value: str) -> float:
    number = _seconds(value)
    if number < MIN_INTERVAL:
        raise argparse.ArgumentTypeError(
            f"expected a polling interval of at least {MIN_INTERVAL} s, got {value!r}"
        )
    return number


def _count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {number}")
    return number


def register(sub: argparse._SubParsersAction) -> None:
    watch = sub.add_parser(
        "watch",
        help="audit every asset under PATH as it lands (until SIGINT/SIGTERM)",
        description=__doc__,
    )
    watch.add_argument(
        "paths", nargs="*", metavar="PATH", help="folders to watch (default: the current folder)"
    )
    add_config_options(watch)
    watch.add_argument(
        "--polling",
        action="store_true",
        help="poll every folder (default: inotify locally, polling on NFS/SMB/FUSE)",
    )
    watch.add_argument(
        "--interval",
        type=_interval,
        default=1.0,
        metavar="S",
        help="polling interval (default 1 s, at least 0.1 s)",
    )
    watch.add_argument(
        "--settle",
        type=_seconds,
        default=2.0,
        metavar="S",
        help="quiet period: a file is audited when size, mtime and inode were unchanged this long (default 2 s)",
    )
    watch.add_argument(
        "--sidecar-grace",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="how long a ready asset waits for its provenance sidecar (default 30 s)",
    )
    watch.add_argument(
        "--sequence-idle",
        type=_seconds,
        default=10.0,
        metavar="S",
        help="a frame sequence is audited when no frame changed this long (default 10 s)",
    )
    watch.add_argument(
        "--network-settle",
        type=_seconds,
        default=65.0,
        metavar="S",
        help="quiet period on network shares (default 65 s, above NFS acregmax)",
    )
    watch.add_argument(
        "--rescan",
        type=_seconds,
        default=600.0,
        metavar="S",
        help="periodic reconcile against the ledger (default 600 s; 0 = never)",
    )
    watch.add_argument(
        "--heartbeat",
        type=_seconds,
        default=30.0,
        metavar="S",
        help="heartbeat cookie period per folder (default 30 s; 0 = off)",
    )
    watch.add_argument(
        "--stats",
        type=_seconds,
        default=60.0,
        metavar="S",
        help="watch.stats period (default 60 s)",
    )
    watch.add_argument(
        "--max-watches",
        type=_count,
        default=None,
        metavar="N",
        help="fall back to polling when a folder needs more than N inotify watches",
    )
    watch.add_argument("--mountinfo", default="/proc/self/mountinfo", help=argparse.SUPPRESS)
    watch.add_argument(
        "--no-completeness", action="store_true", help="skip EXR/PNG completeness checks"
    )
    watch.add_argument(
        "--stalled",
        type=_seconds,
        default=3600.0,
        metavar="S",
        help="an EXR/PNG still incomplete S seconds after it went quiet is audited as it is, "
        "unsure, with a watch.error (default 3600 s)",
    )
    watch.set_defaults(func=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    from ..auditlog import AuditLogError
    from ..state import StateError
    from ..watch import Watcher, WatchOptions
    from ..watch_audit import WatchSession

    paths = args.paths or ["."]
    if "" in paths:  # `watch "$RENDERS"` unset: not the current folder, for as long as it runs
        from ..discover import EMPTY_PATH

        error(f"'': {EMPTY_PATH}")
        return EXIT_ERROR
    policy = policy_for(args, paths, one_show=True)
    if args.config:
        for path, warning in outside_the_root(policy, paths):
            print(f"clearance: warning: {shown_path(path)}: {warning}", file=sys.stderr)
    options = WatchOptions(
        settle=args.settle,
        sidecar_grace=args.sidecar_grace,
        interval=args.interval,
        polling=args.polling,
        sequence_idle=args.sequence_idle,
        network_settle=args.network_settle,
        rescan_interval=args.rescan,
        heartbeat=args.heartbeat,
        stats_interval=args.stats,
        max_watches=args.max_watches,
        mountinfo=args.mountinfo,
        completeness=not args.no_completeness,
        incomplete_timeout=args.stalled,
    )
    with stdout_to_stderr():  # what plugins print; watch writes nothing else to stdout
        try:
            session = WatchSession(
                policy,
                command="watch",
                paths=[str(p) for p in paths],
                blocked=blocked_plugins(args),
            )
        except AuditLogError as exc:
            error(str(exc))
            return EXIT_ERROR
        if session.plugins.failures:
            print_plugin_failures(session.plugins.failures)
            with contextlib.suppress(AuditLogError):
                session.close(exit_code=EXIT_ERROR)
            return EXIT_ERROR
        problems = rule_config_errors(policy, session.plugins, session.blocked)
        if problems:
            return stop_run(session, problems)
        approval_warnings(policy, session.plugins, session.blocked, session)
        _stage_hook_warnings(session)
        watcher = Watcher(policy, paths, options, session=session)

        def stop(signum: int, _frame: FrameType | None) -> None:
            print(
                f"clearance watch: {signal.Signals(signum).name}: draining and stopping",
                file=sys.stderr,
            )
            watcher.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        from ..watch_pool import dump_stacks_on_sigusr1

        dump_stacks_on_sigusr1()
        print(
            f"clearance watch: watching {', '.join(shown_path(p) for p in paths)} (SIGINT/SIGTERM to stop)",
            file=sys.stderr,
        )
        print(
            shown_text(
                f"clearance watch: configuration {policy.config_file or 'the built-in default policy'}"
                f"; audit log {policy.audit_log}"
            ),
            file=sys.stderr,
        )
        session.say_errors = True
        try:
            code = watcher.run()
        except StateError as exc:  # the ledger cannot be opened: nothing was audited
            error(str(exc))
            with contextlib.suppress(AuditLogError):
                session.emit(
                    "watch.error",
                    message=f"state store failed: {exc}",
                    details={"reason": "fatal", "error": f"{type(exc).__name__}: {exc}"},
                )
                session.close(exit_code=EXIT_ERROR)
            return EXIT_ERROR
    print(f"clearance watch: stopped: {_summary(watcher, session)}", file=sys.stderr)
    if code:
        failure = str(watcher.failure) if watcher.failure is not None else "failed"
        where = (
            "see the audit log's watch.error"
            if watcher.failure_logged
            else "not in the audit log: it could not be written"
        )
        error(f"watcher stopped: {failure} ({where})")
    return code


def _summary(watcher: Watcher, session: WatchSession) -> str:
    """What the watcher did, in one line: assets audited by outcome, and errors."""
    from collections import Counter

    from ..model import Outcome

    worker = watcher.worker
    counts: Counter[str] = worker.by_outcome if worker is not None else Counter()
    known = [o.value for o in Outcome]
    order = known + sorted(k for k in counts if k not in known)
    by = ", ".join(f"{counts[o]} {o}" for o in order if counts.get(o))
    audited = worker.audited if worker is not None else 0
    # the one that stopped it counts, logged or not (the log may be what failed)
    errors = session.errors_logged + (watcher.failure is not None and not watcher.failure_logged)
    return f"{audited} asset(s) audited" + (f" ({by})" if by else "") + f", {errors} watch.error(s)"
