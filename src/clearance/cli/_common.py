"""Shared command-line plumbing: errors to stderr, policy loading, plugin blocking options."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import IO, TYPE_CHECKING, Any, NoReturn, cast

from .. import _deadline
from .._display import shown_text
from ..model import Outcome
from ..policy import (
    ConfigError,
    Policy,
    approval_rule_warnings,
    load_policy,
    rule_setting_errors,
)

if TYPE_CHECKING:
    from ..engine import Session
    from ..plugins import PluginHost

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


class _Settled:
    """A run whose outcome is settled (:func:`outcome_settled`): the signals it got since."""

    def __init__(self, exit_code: int) -> None:
        self.exit_code = exit_code
        self.signals: list[int] = []
        self.printing = False


_SETTLED: _Settled | None = None


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    auditlog = sys.modules.get("clearance.auditlog")
    if auditlog is not None and auditlog.hold_signal(signum):
        return  # raised again once the audit log's write under way is complete
    settled = _SETTLED
    if settled is None or (auditlog is not None and auditlog.waiting_for_lock()):
        # (settled, but run.finished waits for another process's lock: nothing of it is
        # written yet, so the run ends interrupted, as its run.finished then says)
        raise Interrupted(signum)
    settled.signals.append(signum)
    if len(settled.signals) == 1:  # os.write: the main thread may be inside a print
        with contextlib.suppress(OSError):
            os.write(
                2,
                f"clearance: {signal.Signals(signum).name}: the run has finished; printing its "
                "report (signal again to stop printing)\n".encode(),
            )
    elif settled.printing:  # stops a write blocked on a full pipe; _ReportWriter otherwise
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


@contextlib.contextmanager
def outcome_settled(exit_code: int) -> Iterator[None]:
    """The command's outcome is settled from here on: enter it just before writing
    ``run.finished`` with ``exit_code``, and leave it once the report is printed.

    A SIGINT/SIGTERM inside no longer interrupts the run, whose log would then contradict the
    exit code: the report is printed in full and the command exits ``exit_code``. A second
    one while the report is printed (stdout may block on a full pipe) stops the printing
    (:func:`report_output` says on stderr that the report is incomplete); the exit code is
    still ``exit_code``."""
    global _SETTLED
    previous, _SETTLED = _SETTLED, _Settled(exit_code)
    try:
        yield
    finally:
        _SETTLED = previous


def error(message: str) -> None:
    print(f"clearance: error: {shown_text(message)}", file=sys.stderr)


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


def policy_for(args: argparse.Namespace, paths: Sequence[str], *, one_show: bool = False) -> Policy:
    """The run's policy: ``--config``, else the nearest ``clearance.yaml`` of the first path.

    :param one_show: every path must have that same nearest ``clearance.yaml`` (or none, as
        the first): a file of another show given after the first was audited with the first
        show's stages, tools and approvals, into its log. Exit 2 naming both otherwise.
    """
    config = getattr(args, "config", None)
    try:
        policy = load_policy(config, paths=list(paths))
        if one_show and config is None:
            _one_configuration(policy, paths)
    except ConfigError as exc:
        fail(str(exc))
    return policy


def _one_configuration(policy: Policy, paths: Sequence[str]) -> None:
    from .._display import shown_path
    from ..policy import find_config

    first = policy.config_file
    by_folder: dict[tuple[str, str], Any] = {}
    for raw in paths[1:]:
        # remembered by the folder as given and the real one: two links in one folder (a
        # dailies folder) may lead to two shows
        folder = (os.path.dirname(os.path.abspath(raw)), os.path.dirname(os.path.realpath(raw)))
        if not os.path.isfile(raw):
            folder = (os.path.abspath(raw), os.path.realpath(raw))
        if folder not in by_folder:
            by_folder[folder] = find_config([raw])
        other = by_folder[folder]
        if other != first:
            fail(
                f"{shown_path(raw)} is in the show configured by "
                f"{shown_path(other) if other else 'no clearance.yaml'}, and "
                f"{shown_path(paths[0])} in "
                f"{shown_path(first) if first else 'none (the built-in default policy)'}: "
                "audit each show with its own command (or give --config)"
            )


def outside_the_root(policy: Policy, paths: Sequence[str]) -> list[tuple[str, str]]:
    """Warnings for ``paths`` that are not under the configuration's folder by any name
    (``--config`` given with a file from elsewhere): their assets are named by their full
    path, in stage ``default`` unless ``--stage`` says otherwise."""
    from .._paths import given_path, located

    inside = os.path.join(str(policy.root), "")
    warnings = []
    for raw in paths:
        try:
            named = str(located(given_path(raw), policy.root))
        except OSError:
            continue  # (said by discovery)
        if named != str(policy.root) and not named.startswith(inside):
            warnings.append(
                (
                    str(raw),
                    f"outside the configuration's folder {policy.root}: its assets are named "
                    "by their full path, in stage default unless --stage is given",
                )
            )
    return warnings


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send whatever is printed inside to stderr: stdout carries only the report (so
    ``--format json`` can be piped), and plugins, or the libraries they call, print.

    Wrap the part of a command that runs plugin code (loading plugins, the audit), not the
    report. ``sys.stdout`` and file descriptor 1 are both redirected, so C extensions and
    the worker processes started inside (``scan --jobs``, the watcher's audit processes)
    print to stderr too.
    """
    with contextlib.suppress(OSError, ValueError):
        sys.stdout.flush()  # what was printed before goes to stdout first
    saved: int | None = None
    try:
        saved = os.dup(1)
        os.dup2(2, 1)
    except OSError:  # no fd 1 or 2 (closed by the caller): sys.stdout alone is redirected
        if saved is not None:
            os.close(saved)
            saved = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        for stream in (sys.stdout, sys.__stdout__):  # printed inside, still buffered
            with contextlib.suppress(OSError, ValueError, AttributeError):
                stream.flush()  # type: ignore[union-attr]
        if saved is not None:
            os.dup2(saved, 1)
            os.close(saved)
        if _deadline.LATE:  # a site hook's call given up on (plugin_timeout) still runs
            sys.stdout = cast(IO[str], _LateToStderr(sys.stdout, _deadline.LATE))


class _LateToStderr:
    """``sys.stdout`` after :func:`stdout_to_stderr` while a site hook's call given up on
    (``plugin_timeout``) still runs on its thread: what that thread prints (a tracker
    client retrying) goes to stderr, as all a plugin prints does, not into the report."""

    def __init__(self, stdout: IO[str], late: set[int]) -> None:
        self._stdout = stdout
        self._late = late

    def write(self, text: str) -> int:
        if threading.get_ident() in self._late:
            return sys.stderr.write(text)
        return self._stdout.write(text)

    def __getattr__(self, name: str) -> Any:  # flush(), fileno(), buffer, …
        return getattr(self._stdout, name)


@contextlib.contextmanager
def report_output() -> Iterator[IO[str]]:
    """Print to stdout in this block (to what it yields). A reader that stops reading
    (``| head``, ``| true``) ends the printing, not the command: its exit code stays its own
    (a scan with open findings still exits 1, as its ``run.finished`` says), what is left to
    print goes to ``os.devnull``, and Python's flush at exit has nothing to complain about. So
    does a second signal once the outcome is settled (:func:`outcome_settled`): the report
    stops, stderr says it is incomplete, and the exit code stays the run's. A stdout that
    cannot be written (a full disk) is an I/O error: said on stderr, exit 2, since whoever
    reads the report gets none."""
    settled = _SETTLED
    if settled is not None:
        settled.printing = True
    try:
        yield sys.stdout if settled is None else cast(IO[str], _ReportWriter(settled))
        sys.stdout.flush()
    except BrokenPipeError:
        discard_stdout()
    except OSError as exc:  # a full disk (`> /dev/full`), a terminal gone (EIO): not a pass
        discard_stdout()  # what is still buffered would fail again at exit
        ran = "" if settled is None else f" (its run.finished says exit code {settled.exit_code})"
        fail(f"cannot write the report to stdout: {exc.strerror or exc}{ran}")
    except Interrupted as exc:
        if settled is None:
            raise
        discard_stdout()  # what is still buffered must neither block the exit nor be printed
        print(
            f"clearance: interrupted ({exc.signame}): the report is incomplete; the run had "
            f"finished, exit code {settled.exit_code} as its run.finished says",
            file=sys.stderr,
        )
    finally:
        if settled is not None:
            settled.printing = False


class _ReportWriter:
    """``sys.stdout`` for a report printed once the outcome is settled: written in pieces
    small enough for the text and buffer layers' flush, which goes on after a signal whose
    handler returns (a single large write to a full pipe loses what a signal interrupts), and
    stopped between two pieces by a second signal whose exception a finalizer swallowed."""

    PIECE = 1024  # characters: at most 4 KiB encoded, within the buffer

    def __init__(self, settled: _Settled) -> None:
        self.settled = settled

    def write(self, text: str) -> int:
        for start in range(0, len(text), self.PIECE):
            if len(self.settled.signals) > 1:
                raise Interrupted(self.settled.signals[-1])
            sys.stdout.write(text[start : start + self.PIECE])
        return len(text)

    def __getattr__(self, name: str) -> Any:  # isatty(), flush(), …
        return getattr(sys.stdout, name)


def discard_stdout() -> None:
    """Point file descriptor 1 at ``os.devnull``: its reader has gone."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def print_plugin_failures(failures: Sequence[Any]) -> None:
    """Each plugin that failed to load, then the entry points the environment skipped."""
    for failure in failures:
        error(str(failure))
    autoload_warning()


def rule_config_errors(
    policy: Policy, host: PluginHost, blocked: Sequence[str]
) -> list[ConfigError]:
    """The configuration errors of ``rules:`` against the rules the run loaded (a rule id,
    glob or parameter that nothing knows: a typo must not switch a rule's settings off).

    An entry that matches no loaded rule is only a warning (printed here) when a plugin that
    may define it did not load: one failed (already an error), was blocked with ``-p no:``,
    or is an entry point not loaded under ``CLEARANCE_DISABLE_PLUGIN_AUTOLOAD``.
    """
    unmatched, parameters = rule_setting_errors(policy, host.registry)
    errors = list(parameters)
    if unmatched and (host.failures or blocked or _entry_points_skipped()):
        for problem in unmatched:
            print(
                f"clearance: warning: {shown_text(problem)}; a plugin that did not load may define it",
                file=sys.stderr,
            )
    else:
        errors[:0] = unmatched
    return errors


def approval_warnings(
    policy: Policy, host: PluginHost, blocked: Sequence[str], session: Session | None = None
) -> list[tuple[str, str]]:
    """Approvals naming a rule no loaded rule matches (a typo: the approval covers nothing
    of it), each said on stderr and, with ``session``, as a ``run.warning``; none when a
    plugin that may define it did not load. A warning: the finding stays open, no verdict
    is more lenient for it."""
    if host.failures or blocked or _entry_points_skipped():
        return []
    found = approval_rule_warnings(policy, host.registry)
    for path, reason in found:
        print(f"clearance: warning: {shown_text(path)}: {shown_text(reason)}", file=sys.stderr)
    if found and session is not None:
        from ..auditlog import AuditLogError

        with contextlib.suppress(AuditLogError):  # said on stderr already
            session.warn(found)
    return found


def stop_run(session: Session, problems: Sequence[ConfigError]) -> int:
    """End a run that its configuration stops once plugins are loaded: each problem on
    stderr and as a ``run.error`` event, then ``run.finished`` with exit code 2."""
    from ..auditlog import AuditLogError

    for problem in problems:
        error(str(problem))
    with contextlib.suppress(AuditLogError):  # the message above is what matters
        for problem in problems:
            session.emit(
                "run.error",
                message=str(problem),
                details={"path": problem.file, "error": f"{problem.field}: {problem.message}"},
            )
        session.close(exit_code=EXIT_ERROR)
    return EXIT_ERROR


#: values of ``CLEARANCE_DISABLE_PLUGIN_AUTOLOAD`` that read as "do not disable"
_READS_AS_NO = ("0", "false", "no", "off")


def autoload_warning() -> None:
    """Say on stderr which entry-point plugins ``CLEARANCE_DISABLE_PLUGIN_AUTOLOAD`` skips
    when its value reads as "no" (``0``, ``false``, ``no``, ``off``). Any value but an empty
    one disables autoload, as ``PYTEST_DISABLE_PLUGIN_AUTOLOAD`` does; a farm environment
    that sets it to ``0`` meaning "keep them" would otherwise run without the studio's
    installed checkers, and pass what they would have flagged, without a word."""
    import importlib.metadata

    from ..plugins import AUTOLOAD_ENV, ENTRY_POINT_GROUP

    value = os.environ.get(AUTOLOAD_ENV, "")
    if value.strip().lower() not in _READS_AS_NO:
        return
    try:
        names = sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)})
    except Exception:  # broken distribution metadata: the plugins' own load says so
        return
    if names:
        print(
            f"clearance: warning: {AUTOLOAD_ENV}={shown_text(value)} does not load the "
            f"entry-point plugins ({shown_text(', '.join(names))}): any value but an empty one "
            "disables them, as PYTEST_DISABLE_PLUGIN_AUTOLOAD does; unset it to load them",
            file=sys.stderr,
        )


def _entry_points_skipped() -> bool:
    import importlib.metadata

    from ..plugins import AUTOLOAD_ENV, ENTRY_POINT_GROUP

    if not os.environ.get(AUTOLOAD_ENV):
        return False
    try:
        return bool(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    except Exception:  # broken distribution metadata: some plugin may be missing
        return True
