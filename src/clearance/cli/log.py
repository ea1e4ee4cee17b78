"""``clearance verify``, ``clearance checkpoint`` and ``clearance report``: reading audit logs.

Exit codes: ``verify`` 0 intact, 3 tampered (each break named), 2 unreadable log or key;
``checkpoint`` 0 signed, 3 refused because the log is tampered, 2 I/O or key error;
``report`` 0, 2 unreadable log or bad option.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from .._display import shown_path, shown_text
from ..model import Outcome, printable
from ._common import error as _err
from ._common import report_output

EXIT_OK, EXIT_ERROR, EXIT_TAMPERED = 0, 2, 3
FORMATS = ("table", "json", "csv", "html", "junit")
MAX_PRINTED = 200  # breaks listed per log in text output


def _outcome(value: str) -> Outcome:
    try:
        return Outcome.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _csv_list(values: list[str] | None) -> list[str]:
    out: list[str] = []
    for v in values or []:
        out.extend(x.strip() for x in v.split(",") if x.strip())
    return out


def register(sub: Any) -> None:
    """Add ``verify``, ``checkpoint`` and ``report`` to the ``clearance`` sub-commands."""
    verify = sub.add_parser(
        "verify",
        help="check the hash chain of audit logs (exit 3 when tampered)",
        description="Check each LOG's hash chain (with its rotated files). Every break is named "
        "with its file and line: edited, deleted, inserted, reordered, gap (rotated file missing); "
        "a torn last line (crash) is reported but is not tampering. With --key, also check the "
        "log against its signed checkpoints (detects a cut-off tail or a rewritten file).",
    )
    verify.add_argument(
        "logs",
        nargs="+",
        metavar="LOG",
        help="audit log (the active file, e.g. .clearance/audit.jsonl)",
    )
    verify.add_argument("--json", action="store_true", help="machine-readable output on stdout")
    verify.add_argument(
        "--key", metavar="K", help="Ed25519 public key (PEM) the checkpoints are signed with"
    )
    verify.add_argument(
        "--checkpoints",
        metavar="F",
        help="checkpoint file (default: LOG.checkpoints); with --key, one LOG only",
    )
    verify.add_argument(
        "--strict", action="store_true", help="a torn last line also fails (exit 3)"
    )
    verify.set_defaults(func=run_verify)

    checkpoint = sub.add_parser(
        "checkpoint",
        help="sign the head of an audit log (Ed25519) so truncation and rewrites are detectable",
        description="Verify LOG, then append a signed statement of its head (seq, hash, time) to "
        "the checkpoint file. Keep the key and the checkpoint file where the writers cannot reach "
        "them (see docs/auditlog.md). --keygen K writes a new key pair K and K.pub.",
    )
    checkpoint.add_argument("log", nargs="?", metavar="LOG")
    checkpoint.add_argument(
        "--key", metavar="K", help="Ed25519 private key (PEM, unencrypted PKCS#8)"
    )
    checkpoint.add_argument(
        "--checkpoints",
        "-o",
        metavar="F",
        help="checkpoint file to append to (default: LOG.checkpoints)",
    )
    checkpoint.add_argument(
        "--origin", metavar="S", help="name of the log in the signed note (default: host:path)"
    )
    checkpoint.add_argument(
        "--keygen", metavar="K", help="write a new key pair to K (0600) and K.pub, then exit"
    )
    checkpoint.set_defaults(func=run_checkpoint)

    report = sub.add_parser(
        "report",
        help="supervisor report from audit logs (table, json, csv, html, junit)",
        description="Merge LOGs (several hosts allowed) and report, per stage, the latest audit of "
        "every asset: counts by outcome, open findings worst first with remediation, approvals.",
    )
    report.add_argument("logs", nargs="+", metavar="LOG")
    report.add_argument(
        "--stage",
        "-s",
        action="append",
        metavar="S",
        help="only stage S (repeat or comma-separate)",
    )
    report.add_argument(
        "--since",
        metavar="T",
        help="only events at or after T (2026-11-26, 2026-11-26T21:00Z, 24h, 7d)",
    )
    report.add_argument("--until", metavar="T", help="only events at or before T")
    report.add_argument(
        "--outcome",
        action="append",
        metavar="O",
        help="only findings with outcome O (repeat or comma-separate)",
    )
    report.add_argument(
        "--rule", action="append", metavar="R", help="only findings of rule R (globs: 'NFX-T*')"
    )
    report.add_argument("--format", "-f", choices=FORMATS, default="table")
    report.add_argument(
        "--fail-on",
        type=_outcome,
        default=Outcome.ESCALATE,
        metavar="O",
        help="junit: open findings at or above O are failures (default: escalate)",
    )
    report.add_argument("--output", "-o", metavar="F", help="write to F instead of stdout")
    report.set_defaults(func=run_report)


# -- verify ----------------------------------------------------------------------------------------


def run_verify(args: argparse.Namespace) -> int:
    from ..auditlog_checkpoint import CheckpointError, load_public_key, verify_with_key
    from ..auditlog_verify import VerifyError, VerifyResult, verify_log

    if args.checkpoints and len(args.logs) > 1:
        _err("--checkpoints names the checkpoint file of one log; give one LOG")
        return EXIT_ERROR
    if args.checkpoints and not args.key:
        # checkpoints are checked against the key that signed them: without one, none would
        # be, and a log cut or rewritten since was 'intact', exit 0
        _err(
            f"--checkpoints {args.checkpoints}: give --key K, the public key its checkpoints "
            "are signed with (without it no checkpoint is checked)"
        )
        return EXIT_ERROR
    if args.checkpoints and _a_key_file(args.checkpoints, args.key):
        _err(_not_the_key(args.checkpoints, args.key))
        return EXIT_ERROR
    results: list[VerifyResult] = []
    try:
        public = load_public_key(args.key) if args.key else None
    except CheckpointError as exc:
        _err(str(exc))
        return EXIT_ERROR
    # a log that cannot be verified does not stop the others being verified
    unread: list[dict[str, str]] = []
    for log in args.logs:
        mistaken = _not_a_log(log)
        if mistaken:
            _err(f"{log}: is {mistaken}, not an audit log{_VERIFY_WITH_KEY}")
            unread.append({"log": printable(log), "error": f"is {mistaken}, not an audit log"})
            continue
        try:
            if public is not None:
                results.append(verify_with_key(log, public, args.checkpoints))
            else:
                results.append(verify_log(log))
        except (VerifyError, CheckpointError) as exc:
            _err(str(exc))
            unread.append({"log": printable(log), "error": str(exc)})

    def failed(r: VerifyResult) -> bool:
        return not r.intact or (args.strict and any(b.kind == "torn" for b in r.breaks))

    tampered = any(failed(r) for r in results)
    # a log a newer Clearance wrote: not tampered, and not verified either (exit 2)
    newer = any(b.kind == "newer" for r in results for b in r.breaks)
    with report_output():  # `| head`: the exit code still says whether a log was tampered
        if args.json:
            doc = {
                "version": 1,
                "intact": not tampered,
                "logs": [r.as_dict() for r in results],
                "unread": unread,  # not verified: "intact" says nothing of them
            }
            json.dump(doc, sys.stdout, indent=2)
            sys.stdout.write("\n")
        else:
            for r in results:
                _print_result(r, failed(r))
    if tampered:
        return EXIT_TAMPERED
    if newer:
        _err("a newer Clearance writes a log given: use that version to verify it")
        return EXIT_ERROR
    return EXIT_ERROR if unread else EXIT_OK


def _print_result(r: Any, failed: bool) -> None:
    files = f"{len(r.files)} file{'s' if len(r.files) != 1 else ''}"
    span = f"seq {r.first_seq}-{r.last_seq}" if r.last_seq is not None else "no events"
    newer = any(b.kind == "newer" for b in r.breaks)
    verdict = "TAMPERED" if failed else "not verified (newer format)" if newer else "intact"
    print(f"{shown_path(r.log)}: {verdict} — {r.events} events ({span}) in {files}")
    if r.unanchored is not None:
        print(
            f"  {r.checkpoints} signed checkpoint(s) checked; "
            f"{r.unanchored} event(s) after the newest checkpoint are not yet signed for"
        )
    for b in r.breaks[:MAX_PRINTED]:
        where = f"{b.file}:{b.line}" if b.line else b.file
        print(f"  {b.kind.upper():<10} {shown_path(where)}: {shown_text(b.message)}")
    if len(r.breaks) > MAX_PRINTED:
        print(f"  … and {len(r.breaks) - MAX_PRINTED} more (--json lists every one)")


# -- checkpoint ------------------------------------------------------------------------------------


def run_checkpoint(args: argparse.Namespace) -> int:
    from ..auditlog_checkpoint import (
        CheckpointError,
        default_checkpoints_path,
        generate_key,
        load_private_key,
        make_checkpoint,
        write_checkpoint,
    )
    from ..auditlog_verify import VerifyError

    try:
        if args.keygen:
            if args.log or args.key or args.checkpoints or args.origin:
                # a signing job given --keygen too made a key pair and signed nothing, exit 0
                _err(
                    "--keygen K makes a key pair and signs nothing; give it alone, then "
                    "`clearance checkpoint LOG --key K` (no key written, nothing signed)"
                )
                return EXIT_ERROR
            private, public = generate_key(args.keygen)
            print(
                f"wrote {shown_path(private)} (private: keep it away from the writers) and "
                f"{shown_path(public)}"
            )
            return EXIT_OK
        if not args.log or not args.key:
            _err("checkpoint needs LOG and --key K (or --keygen K to make a key pair)")
            return EXIT_ERROR
        key = load_private_key(args.key)
        mistaken = _not_a_log(args.log)
        if mistaken:
            _err(f"{args.log}: is {mistaken}, not an audit log (no checkpoint written)")
            return EXIT_ERROR
        if args.checkpoints and _a_key_file(args.checkpoints, args.key):
            _err(_not_the_key(args.checkpoints, args.key) + " (no checkpoint written)")
            return EXIT_ERROR
        target = args.checkpoints or default_checkpoints_path(args.log)
        found = _file_of_a_log(target, [args.log], checkpoints=False)
        if found is not None:  # a checkpoint line in the log: no writer appends after it
            _err(
                f"--checkpoints {target}: is {found[0]}, a file of the audit log {args.log}; "
                "checkpoints are kept in a file of their own (no checkpoint written)"
            )
            return EXIT_ERROR
        record, result = make_checkpoint(args.log, key, origin=args.origin, checkpoints=target)
        if not result.intact:
            _print_result(result, True)
            _err(
                f"{args.log}: the log is tampered (its chain, or against the checkpoints in "
                f"{target}); not signing a checkpoint for it"
            )
            return EXIT_TAMPERED
        dropped = write_checkpoint(record, target)
        if dropped:
            print(
                f"clearance: warning: {shown_path(Path(target))}: dropped its incomplete last "
                f"line ({dropped} bytes, no newline), left by a checkpoint whose write did not "
                "finish; it was never a checkpoint",
                file=sys.stderr,
            )
    except (CheckpointError, VerifyError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    print(
        f"{shown_path(args.log)}: signed seq {record['seq']} (head {record['head'][:16]}…) → "
        f"{shown_path(target)}"
    )
    return EXIT_OK


_VERIFY_WITH_KEY = (
    "; a log is held to its checkpoints with `clearance verify LOG --key PUB --checkpoints F`"
)


def _not_a_log(path: str) -> str:
    """``"a checkpoint file"`` or ``"a PEM key"`` when ``path`` is one and holds no audit
    event, else ``""``. Given for the log by a slip of tab completion, its lines were judged
    as edited events: TAMPERED, exit 3, for a log nobody touched. A log with events stays a
    log whatever its first line: a checkpoint line put at the head of a real log is
    tampering, never a reason not to verify it."""
    from ..auditlog_verify import VerifyError, verify_log

    what = _a_key_or_checkpoint_file(path)
    if not what:
        return ""
    try:
        return what if verify_log(path).events == 0 else ""
    except VerifyError:  # verify and checkpoint say why
        return ""


def _a_key_or_checkpoint_file(path: str) -> str:
    """``"a checkpoint file"`` or ``"a PEM key"`` when the first line of ``path`` says so."""
    from ..auditlog_checkpoint import CHECKPOINT_SCHEMA

    try:  # without blocking: a named pipe given would wait for a writer for ever
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:  # verify and checkpoint say why
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        head = os.pread(fd, 4096, 0)
    except OSError:
        return ""
    finally:
        os.close(fd)
    if head.startswith(b"-----BEGIN ") and b" KEY-----" in head.split(b"\n", 1)[0]:
        return "a PEM key"
    first = head.split(b"\n", 1)[0]
    try:
        record = json.loads(first)
    except ValueError:
        return ""
    if isinstance(record, dict) and record.get("schema") == CHECKPOINT_SCHEMA:
        return "a checkpoint file"
    return ""


def _a_key_file(checkpoints: str, key: str) -> str | None:
    """The file of the key pair of ``key`` (the key itself, its ``.pub`` or, for a ``.pub``,
    its private key) that ``checkpoints`` is by any name, or None. A slip of tab completion
    (``--key audit.key --checkpoints audit.key.pub``) read the PEM lines as forged
    checkpoints: the log was called TAMPERED, exit 3."""
    pair = [key, key + ".pub"] + ([key[: -len(".pub")]] if key.endswith(".pub") else [])
    for candidate in pair:
        with contextlib.suppress(OSError):
            if os.path.samefile(checkpoints, candidate):
                return candidate
    return None


def _not_the_key(checkpoints: str, key: str) -> str:
    return (
        f"--checkpoints {checkpoints}: is the key file {_a_key_file(checkpoints, key)}, not a "
        "checkpoint file; checkpoints are kept in a file of their own (default LOG.checkpoints)"
    )


# -- report ----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    """stdout, or a file written whole only when rendering succeeded (no half reports)."""
    if not path or path == "-":
        with report_output():  # `clearance report LOG | head`: the reader has what it wanted
            yield sys.stdout
        return
    buf = io.StringIO()
    yield buf
    data = buf.getvalue().encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)
    except OSError as exc:
        raise _WriteError(f"{path}: cannot write the report: {exc.strerror or exc}") from None


class _WriteError(Exception):
    pass


def _not_over_a_log(output: str | None, logs: list[str]) -> None:
    """Refuse ``-o`` naming a file of a log given (its active or a rotated file, or its
    checkpoints), by any name: the report would be written over the events (a slip of tab
    completion, ``report audit.jsonl -o audit.jsonl``, emptied the log, exit 0)."""
    found = _file_of_a_log(output, logs, checkpoints=True)
    if found is not None:
        raise _WriteError(
            f"-o {output}: the report is not written over {found[0]}, a file of the audit "
            f"log {found[1]} (give -o another file)"
        )


def _file_of_a_log(
    path: str | os.PathLike[str] | None, logs: list[str], *, checkpoints: bool
) -> tuple[Path, str] | None:
    """``(file, log)`` when ``path`` is, by any name, a file of one of ``logs``: its active
    or a rotated file (or, with ``checkpoints``, its default checkpoint file); else None."""
    if not path or str(path) == "-":
        return None
    from ..auditlog import log_target, rotated_files

    try:
        st = os.stat(path)
    except OSError:  # not there yet: not a file of a log
        return None
    for log in logs:
        target = log_target(log)
        files = [Path(log), *rotated_files(target)]
        if checkpoints:  # (and beside a link given: where `checkpoint` wrote them before)
            files.append(target.with_name(target.name + ".checkpoints"))
            files.append(Path(log).with_name(Path(log).name + ".checkpoints"))
        for f in files:
            try:
                other = os.stat(f)
            except OSError:
                continue
            if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
                return f, log
    return None


def run_report(args: argparse.Namespace) -> int:
    from ..report import Filters, ReportError, build_report, parse_time
    from ..report_text import render_csv, render_json, render_junit, render_table

    try:
        _not_over_a_log(args.output, args.logs)
        filters = Filters(
            stages=_csv_list(args.stage),
            since=parse_time(args.since, option="--since") if args.since else None,
            until=parse_time(args.until, option="--until", end=True) if args.until else None,
            outcomes=[Outcome.parse(o).value for o in _csv_list(args.outcome)],
            rules=_csv_list(args.rule),
        )
        if filters.since and filters.until and filters.since > filters.until:
            # swapped: an empty window would report 0 assets, "No open findings", all clear
            raise ReportError(
                f"--since {args.since!r} ({filters.since}) is after --until {args.until!r} "
                f"({filters.until}): no time is in that window; swap them?"
            )
        report = build_report(args.logs, filters)
        unknown = [s for s in filters.stages if s not in report.stages_named]
        if unknown:  # a typo would report "0 asset(s)": all clear, for a stage that is not there
            have = ", ".join(report.stages_named) or "none"
            _err(
                f"--stage {', '.join(unknown)}: no event in {', '.join(args.logs)} has "
                f"{'this stage' if len(unknown) == 1 else 'these stages'}; its stages: {have}"
            )
            return EXIT_ERROR
        with _output(args.output) as out:
            if args.format == "table":
                render_table(report, out, colour=None if out is sys.stdout else False)
            elif args.format == "json":
                render_json(report, out)
            elif args.format == "csv":
                render_csv(report, out)
            elif args.format == "junit":
                render_junit(report, out, fail_on=args.fail_on)
            else:
                from ..report_html import render_html

                render_html(report, out)
            out.flush()
    except OSError as exc:  # stdout on a full disk
        _err(f"cannot write the report: {exc.strerror or exc}")
        return EXIT_ERROR
    except (ReportError, _WriteError, ValueError) as exc:
        _err(str(exc))
        return EXIT_ERROR
    for warning in report.notes():
        print(f"clearance: warning: {shown_text(warning)}", file=sys.stderr)
    if args.output and args.output != "-":
        print(f"wrote {shown_path(args.output)}", file=sys.stderr)
    return EXIT_OK
