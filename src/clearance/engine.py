"""The engine: audits assets stage by stage and writes what it decided to the audit log.

One :class:`Session` is one run (``scan``, ``check`` or ``watch``): one plugin manager, one
``run_id``, one audit logger. For each asset it reads provenance (every reader), runs every
checker attached to the asset's stage (each isolated), settles each finding against its rule
(default outcome, configured override, "unsure is never below escalate"), applies approvals,
and writes ``finding`` and ``asset.audited`` events. The engine does not know whether a scan
or a watcher called it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import signal
import socket
import sys
import time
import types
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from . import __version__
from ._deadline import HookHung, HookTimeout
from ._errors import describe
from ._redact import PromptRedactor, prompt_hash, redact_prompts
from .approvals import as_date
from .model import (
    Asset,
    AssetResult,
    Finding,
    Outcome,
    PartialRecord,
    ProvenanceIssue,
    ProvenanceRecord,
    StageResult,
    Status,
    relative_posix,
)
from .plugins import AUTOLOAD_ENV, PluginFailure, PluginHost
from .policy import Policy, StageConfig, default_policy

if TYPE_CHECKING:
    from concurrent.futures import Future

    from .lineage import LineagePlugin

__all__ = ["Session", "RunResult", "WorkerPluginError", "audit_record", "redact_prompts"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
#: Rules whose findings always mean "unknown" (no, unreadable or unverifiable provenance):
#: configuration may raise their outcome but never take them below ``escalate``.
UNSURE_RULES = frozenset({"PRV-01", "PRV-02", "PRV-03", "PRV-05"})


@dataclass
class RunResult:
    """What a run decided: per-stage results in pipeline order, plus load and I/O problems."""

    stages: list[StageResult] = field(default_factory=list)
    plugin_failures: list[PluginFailure] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)

    @property
    def assets(self) -> list[AssetResult]:
        return [a for s in self.stages for a in s.assets]

    def by_outcome(self) -> dict[str, int]:
        counts = {o.value: 0 for o in Outcome}
        for result in self.assets:
            counts[result.outcome.value] += 1
        return counts

    @property
    def outcome(self) -> Outcome:
        return Outcome.worst(s.outcome for s in self.stages)

    def failing(self, fail_on: Outcome = Outcome.ESCALATE) -> bool:
        """Is a finding open at or above ``fail_on``? A ``pass`` is never open, so with
        ``--fail-on pass`` a run fails on any open finding (a ``notice`` or worse), and a
        run with none (no asset, or only passes and approved findings) does not."""
        worst = self.outcome  # the worst open finding; pass when there is none
        return worst > Outcome.PASS and worst >= fail_on

    def exit_code(self, fail_on: Outcome = Outcome.ESCALATE) -> int:
        """0 nothing open at or above ``fail_on``; 1 something is; 2 plugin or I/O errors."""
        if self.plugin_failures or self.errors:
            return EXIT_ERROR
        return EXIT_FINDINGS if self.failing(fail_on) else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        """The ``scan --format json`` document. ``stage_findings`` (an addition to the design's
        document) holds the findings of stage checkers (``clearance_check_stage``), which
        belong to no asset: a stage checker that raised is a ``PRV-05`` there."""
        return {
            "version": 1,
            "summary": {
                "assets": len(self.assets),
                "by_outcome": self.by_outcome(),
                "by_stage": {s.stage: s.counts() for s in self.stages},
            },
            "assets": [a.to_dict() for a in self.assets],
            "stage_findings": [f.to_dict() for s in self.stages for f in s.findings],
        }


def _prompt_texts(record: ProvenanceRecord) -> list[str]:
    """Every prompt text the readers found, to be hashed wherever it is quoted; also in a
    sidecar that has it in the wrong shape (a bare string for the prompt or the step, a list
    for the text), whose PRV-02 message quotes the value it refuses."""
    texts: list[str] = []
    for partial in record.partials:
        steps = partial.data.get("steps")
        if not isinstance(steps, list):
            continue
        for step in steps:
            if not isinstance(step, dict):
                _strings_in(step, texts)  # a step written as a bare prompt
                continue
            prompt = step.get("prompt")
            if isinstance(prompt, dict):
                text = prompt.get("text")
                if isinstance(text, str):
                    if text.strip():
                        texts.append(text)
                else:
                    _strings_in(text, texts)
            else:
                _strings_in(prompt, texts)
    if len(texts) < 2:  # most assets: one prompt, or none
        return texts
    return sorted(set(texts), key=len, reverse=True)


def _strings_in(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if value.strip():
            out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            _strings_in(item, out)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _strings_in(item, out)


def _redact_finding(finding: Finding, redactor: PromptRedactor) -> None:
    """Redact the prompts from every free-text field of ``finding`` (a plugin may set any)."""
    if redactor:
        finding.message = redactor.redact(finding.message)
        finding.evidence = redactor.redact(finding.evidence)
        finding.remediation = redactor.redact(finding.remediation)
        finding.principle = redactor.redact(finding.principle)


#: Events :meth:`Session.emit` does not redact: their texts are redacted before (``finding``)
#: or are Clearance's own (``asset.audited``: names, refs, the prompts' hashes).
_REDACTED_ELSEWHERE = frozenset({"finding", "asset.audited"})


class Session:
    """One audit run: plugins loaded once, events written to the configured audit log.

    :param policy: the loaded configuration.
    :param command: what started the run (``scan``, ``check``, ``watch``), for the log.
    :param write_log: write events to ``policy.audit_log`` (tests and ``audit_record`` pass
        False; events are then kept in :attr:`events`).
    :param blocked: plugin names to block (``-p no:NAME``).
    :param extra_plugins: ``(name, plugin)`` pairs registered in-process (pytest fixture).
        ``run(jobs=N)`` gives them to its worker processes too (see :class:`_WorkerPool`).
    :param autoload: load entry-point plugins (None: unless ``CLEARANCE_DISABLE_PLUGIN_AUTOLOAD``
        is set); the workers of ``run(jobs=N)`` load what this run loads.
    """

    def __init__(
        self,
        policy: Policy,
        *,
        command: str = "scan",
        paths: Sequence[str] = (),
        write_log: bool = True,
        blocked: Iterable[str] = (),
        extra_plugins: Sequence[tuple[str, object]] = (),
        autoload: bool | None = None,
        announce: bool = True,
        cache: bool = False,
        run_id: str | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.policy = policy
        #: ``(I, N)`` of ``scan --shard I/N``: said in ``run.started``
        self.shard = shard
        self.blocked = list(blocked)
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_ENV)
        #: what ``run(jobs=N)`` gives its workers, so they load this run's plugins
        self.autoload = autoload
        self.extra_plugins = list(extra_plugins)
        self.command = command
        self.run_id = run_id or uuid.uuid4().hex
        self.host = socket.gethostname()
        self.events: list[dict[str, Any]] = []
        self._redactor = PromptRedactor(())  # the prompts of what is being written (_quoting)
        self.plugins = PluginHost(policy, blocked=blocked, extra=extra_plugins, autoload=autoload)
        for plugin in self.plugins.pm.get_plugins():
            if hasattr(plugin, "run_id") and hasattr(plugin, "clearance_asset_audited"):
                plugin.run_id = self.run_id  # built-ins that record per-run rows (lineage)
        if shard is not None and shard[1] > 1:
            # another part's assets are audited elsewhere, maybe later: a declared input on
            # disk in the show and not recorded yet is pending (unsure), as for a watcher,
            # never an unresolved input that passes where the whole scan blocks
            lineage = self._lineage()
            if lineage is not None:
                lineage.watched = (str(policy.root),)
        self._log: Any = None
        self._audit: Any = None
        self._sink: Any = None
        self._started = time.monotonic()
        #: Seconds spent writing audit events (preparing, hashing, writing, fsync), reported
        #: as ``log_s`` in ``run.finished`` so the log's share of a run is visible.
        self.log_seconds = 0.0
        self._stage_cache: dict[str, StageConfig] = {}
        #: where run() puts the files an audit could not read (see _note_errors): the run's
        #: errors, the paths said already, and who else is told (the CLI prints them)
        self._read_errors: list[tuple[str, str]] = []
        self._errors_said: set[str] = set()
        self._on_error: Callable[[str, str], None] | None = None
        self._closed = False  # run.finished written
        #: what the audit logger raises for an event over the log's bound (emit() shortens it)
        self._too_large: type[Exception] = _Never
        if write_log and policy.audit_log is not None:
            from .auditlog import AuditLog, EventTooLarge, make_audit_logger, sink_of

            self._too_large = EventTooLarge
            self._log = AuditLog(policy.audit_log, max_bytes=policy.audit_max_bytes)
            self._audit = make_audit_logger(self._log, run_id=self.run_id, host=self.host)
            self._sink = sink_of(self._audit)  # where events a worker serialised are written
        self._cache: Any = None
        self._cacheable: frozenset[str] = frozenset()
        self._cache_order: list[str] = []
        #: what the provenance cache raises when its store fails (set when it is opened)
        self._cache_errors: tuple[type[Exception], ...] = ()
        #: False in ``--jobs`` worker processes: the parent calls the notification hooks
        #: (``finding``, ``asset_audited``) while it writes the events, in serial order.
        self.notify = True
        self._clock_read = -1e9  # perf_counter when policy.now was last read (live_clock)
        if cache and policy.state_path is not None:
            self._open_cache(policy.state_path)
        if announce:
            self._emit_start(paths)

    def _open_cache(self, state_path: Path) -> None:
        import sqlite3

        from .cache import CACHEABLE_READERS, ProvenanceCache
        from .state import StateError

        self._cache_errors = (StateError, sqlite3.Error)
        readers = [
            impl.plugin_name
            for impl in self.plugins.pm.hook.clearance_read_provenance.get_hookimpls()
        ]
        self._cacheable = frozenset(r for r in readers if r in CACHEABLE_READERS)
        self._cache_order = sorted(self._cacheable)  # rows the same whichever process writes
        try:
            self._cache = ProvenanceCache(
                state_path,
                readers=self._cacheable,
                settings=self.policy.settings,
                version=__version__,
            )
        except StateError as exc:  # a scan without its cache is slower, never wrong
            import logging

            logging.getLogger("clearance").warning("provenance cache disabled: %s", exc)
            self._cache = None

    def flush(self) -> None:
        """Commit what was buffered: the provenance cache, and built-in plugins' buffered
        state-store writes (any registered plugin object with a ``flush()`` method)."""
        if self._cache is not None:
            lineage = self._lineage()
            if lineage is not None and lineage.locked is not None:
                self._cache.store.stop_waiting()  # the run waited for that lock once already
            try:
                self._cache.flush()
            except self._cache_errors as exc:
                self._cache_failed(exc)
        for plugin in self.plugins.pm.get_plugins():
            flush = getattr(plugin, "flush", None)
            if callable(flush) and not isinstance(plugin, (type, types.ModuleType)):
                try:
                    flush()
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # a site plugin's: reported, never fatal
                    name = self.plugins.pm.get_name(plugin) or type(plugin).__name__
                    self.emit(
                        "plugin.failed",
                        outcome=Outcome.ESCALATE.value,
                        message=f"flush() of {name} raised {describe(exc)}",
                        details={"name": name, "error": describe(exc)},
                    )

    # -- events -----------------------------------------------------------------------
    def emit(self, event: str, **fields: Any) -> None:
        """Write one audit event (``details`` free-form); raises ``AuditLogError`` on failure.

        While an asset's (or a stage's) events are written (:meth:`_quoting`), its prompts
        are redacted from every event's ``message``, ``approval`` and ``details``: whatever
        a plugin wrote there, an exception text included, never carries a prompt in clear
        (a ``finding`` event's texts were redacted when the finding was settled).
        """
        redactor = self._redactor
        # a finding's texts were redacted at settlement (see _settle); asset.audited holds
        # only Clearance's own texts about the record (names, refs, the prompts' hashes):
        # redacting its details cost a re-scan more than its rules (3.3 -> 5.5 s, 20,000 assets)
        if redactor and event not in _REDACTED_ELSEWHERE:
            for key in ("message", "approval", "details"):
                if key in fields:
                    fields[key] = redactor.redact(fields[key])
        if self._audit is not None:
            started = time.perf_counter()
            try:
                self._audit.info(event, **fields)
            except self._too_large as exc:  # noted and shortened, never the end of the run
                self._audit.info(event, **_cut_to_size(event, fields, exc))
            finally:
                self.log_seconds += time.perf_counter() - started
        else:
            self.events.append({"event": event, "run_id": self.run_id, "host": self.host, **fields})

    @contextlib.contextmanager
    def _quoting(self, redactor: PromptRedactor) -> Iterator[None]:
        """Events written inside carry data about the assets whose prompts ``redactor``
        has: they are redacted of them (see :meth:`emit`)."""
        outer, self._redactor = self._redactor, redactor
        try:
            yield
        finally:
            self._redactor = outer

    def _emit_prepared(self, event: bytes) -> None:
        """Write one event a worker serialised with :func:`prepare_event` (a run with an
        audit log only)."""
        started = time.perf_counter()
        try:
            self._sink.write_prepared(event)
        finally:
            self.log_seconds += time.perf_counter() - started

    def batch(self) -> Any:
        """Context manager: events inside are written with one lock and one fsync."""
        if self._audit is None:
            from contextlib import nullcontext

            return nullcontext()
        return self._timed_batch()

    @contextlib.contextmanager
    def _timed_batch(self) -> Iterator[None]:
        from .auditlog import audit_batch

        block = audit_batch(self._audit)
        block.__enter__()
        try:
            yield
        except BaseException as exc:
            started = time.perf_counter()
            if not block.__exit__(type(exc), exc, exc.__traceback__):
                raise
        else:
            started = time.perf_counter()
            block.__exit__(None, None, None)
        finally:
            self.log_seconds += time.perf_counter() - started

    def _emit_start(self, paths: Sequence[str]) -> None:
        policy = self.policy
        self.emit(
            "run.started",
            message=f"clearance {self.command}",
            details={
                "command": self.command,
                "paths": [str(p) for p in paths],
                "root": str(policy.root),
                "version": __version__,
                "pid": os.getpid(),
                **({"shard": f"{self.shard[0]}/{self.shard[1]}"} if self.shard else {}),
            },
        )
        self.emit(
            "policy.loaded",
            message=str(policy.config_file or "built-in default policy"),
            details={
                "files": dict(policy.files),
                "production": policy.production_id,
                "stages": [s.name for s in policy.stages],
                "rules": len(self.plugins.registry),
            },
        )
        for info in self.plugins.plugins.values():
            self.emit(
                "plugin.loaded",
                message=info.name,
                details={
                    "name": info.name,
                    "source": info.source,
                    "kind": info.kind,
                    "stages": sorted(info.stages) if info.stages is not None else None,
                    "hooks": info.hooks,
                },
            )
        for failure in self.plugins.failures:
            self.emit(
                "plugin.failed",
                outcome=Outcome.ESCALATE.value,
                message=str(failure),
                details={"name": failure.name, "source": failure.source, "error": failure.error},
            )

    # -- stages -----------------------------------------------------------------------
    def stage_config(self, name: str) -> StageConfig:
        config = self._stage_cache.get(name)
        if config is None:
            config = self.policy.stage(name)
            self._stage_cache[name] = config
        return config

    def _notify_error(self, stage: str) -> Callable[[str, BaseException], None]:
        def report(plugin: str, exc: BaseException) -> None:
            if isinstance(exc, (HookTimeout, HookHung)):  # given up on (plugin_timeout)
                message = f"notification hook of {plugin}: {exc}"
                details = {"name": plugin, "error": str(exc), "hook": exc.hook}
                if isinstance(exc, HookHung):  # not called: this hook is still running
                    details["running"] = exc.running
                    message += (
                        f"; {exc.hook} is not called, and not reported again, until that "
                        "call returns"
                    )
            else:
                message = f"notification hook of {plugin} raised {describe(exc)}"
                details = {"name": plugin, "error": describe(exc)}
            self.emit(
                "plugin.failed",
                stage=stage,
                outcome=Outcome.ESCALATE.value,
                message=message,
                details=details,
            )

        return report

    def start_stage(self, stage: StageConfig) -> None:
        self.emit("stage.started", stage=stage.name, message=f"stage {stage.name}")
        self.plugins.stage_started(stage, self._notify_error(stage.name))

    def finish_stage(self, result: StageResult) -> None:
        stage = self.stage_config(result.stage)
        texts = [t for a in result.assets if a.record is not None for t in _prompt_texts(a.record)]
        with self._quoting(PromptRedactor(texts)):
            self._finish_stage(result, stage)

    def _finish_stage(self, result: StageResult, stage: StageConfig) -> None:
        extra = self.plugins.check_stage(result, stage)
        audited: dict[str, AssetResult] | None = None
        for finding in extra:
            settled = self._settle(finding, stage=stage.name, asset=None)
            if settled is None:
                continue
            found = [settled]
            if settled.is_open and settled.effective_outcome is Outcome.APPROVAL:
                # offered as the findings of the asset it names, if one was audited here;
                # else with no asset: only an approval not scoped to shots or assets covers it
                if audited is None:
                    audited = {a.asset.rel: a for a in result.assets}
                named = audited.get(settled.asset)
                asset = named.asset if named is not None else None
                record = named.record if named is not None else None
                if asset is not None and record is None:  # dropped: nothing it says is known
                    record = ProvenanceRecord.merge([])
                self._apply_approval(settled, asset, record, stage.name, found)
            for item in found:
                result.findings.append(item)
                self._emit_finding(item, None)
        counts = result.counts()
        self.emit(
            "stage.finished",
            stage=result.stage,
            outcome=result.outcome.value,
            message=f"stage {result.stage}: {len(result.assets)} asset(s)",
            details={
                "counts": counts,
                "assets": len(result.assets),
                "stage_findings": len(result.findings),
                "complete": result.complete,
            },
        )
        self.plugins.stage_finished(result, self._notify_error(result.stage))

    # -- one asset ----------------------------------------------------------------------
    def read(self, asset: Asset) -> tuple[ProvenanceRecord, list[Finding]]:
        """Every reader's view of ``asset``, merged (cached readers' output reused when valid)."""
        cache = self._cache
        cached = None
        if cache is None:
            partials, crashes = self.plugins.read_provenance(asset)
        else:
            try:
                fingerprint = cache.fingerprint(asset)
                cached = cache.get(asset, fingerprint)
            except self._cache_errors as exc:
                self._cache_failed(exc)
                return self.read(asset)
            by_reader: dict[str, PartialRecord] = {}
            partials, crashes = self.plugins.read_provenance(
                asset, cached=cached, by_reader=by_reader
            )
            if cached is None and not crashes:
                cache.put(asset, fingerprint, {r: by_reader.get(r) for r in self._cache_order})
        partials.sort(key=lambda p: 0 if p.source == "sidecar" else 1)
        record = ProvenanceRecord.merge(partials)
        record.cached = cached is not None
        return record, crashes

    def _cache_failed(self, exc: BaseException) -> None:
        """The state store failed under the provenance cache (a damaged page): the rest of
        the run goes on without it, as when it cannot be opened."""
        import logging

        from .state import is_lock_error

        cache, self._cache = self._cache, None
        path = cache.store.path if cache is not None else self.policy.state_path
        logging.getLogger("clearance").warning("provenance cache disabled: %s: %s", path, exc)
        lineage = self._lineage()
        if lineage is not None and is_lock_error(exc):
            lineage.stop_waiting(str(exc))  # the run waited for that lock once already
        if cache is not None:
            with contextlib.suppress(*self._cache_errors):
                cache.store.close()

    def _lineage(self) -> LineagePlugin | None:
        """The built-in lineage plugin, if registered (it shares the state store: a lock one
        of them waited for in vain is not waited for again by the other)."""
        from .lineage import LineagePlugin

        plugin = self.plugins.pm.get_plugin("clearance.lineage")
        return plugin if isinstance(plugin, LineagePlugin) else None

    def audit(
        self,
        asset: Asset,
        *,
        record: ProvenanceRecord | None = None,
        file_issues: Sequence[ProvenanceIssue] = (),
    ) -> AssetResult:
        """Audit one asset in its stage (``asset.stage``) and write its events.

        :param record: the provenance to audit it with (default: the readers').
        :param file_issues: problems with the asset's files that no reader finds (the
            watcher: a file still incomplete when it stopped waiting); they join the
            record's issues (``PRV-02``: unsure, never a pass).
        """
        started = time.perf_counter()
        # expiry is judged on the day of the audit, not of the start: the clock read again
        # when a second has passed (expiry is to the day; a datetime per asset cost 1.5 µs)
        if self.policy.live_clock and started - self._clock_read >= 1.0:
            self.policy.now = _dt.datetime.now(_dt.timezone.utc)
            self._clock_read = started
        asset.stats = {}  # each file stat'ed once in this audit (cache, lineage)
        stage = self.stage_config(asset.stage)
        crashes: list[Finding] = []
        if record is None:
            record, crashes = self.read(asset)
        if file_issues:
            record.file_issues.extend(file_issues)
        if asset.not_files:  # a frame, sidecar or manifest the walk found is no file
            record.file_issues.extend(
                ProvenanceIssue(relative_posix(path, asset.root), "", why)
                for path, why in asset.not_files
            )
        raw = crashes + self.plugins.check_asset(asset, record, stage)
        texts = _prompt_texts(record)
        result = AssetResult(
            asset=asset, stage=stage.name, record=record, errors=record.unreadable()
        )
        # what _quoting() does, without a generator per asset
        outer, self._redactor = self._redactor, PromptRedactor(texts)
        try:
            for finding in raw:
                settled = self._settle(finding, stage=stage.name, asset=asset)
                if settled is None:
                    continue
                if settled.is_open and settled.effective_outcome is Outcome.APPROVAL:
                    self._apply_approval(settled, asset, record, stage.name, result.findings)
                result.findings.append(settled)
            if len(result.findings) > 1:
                result.findings.sort(key=lambda f: (-f.effective_outcome.rank, f.rule))
            result.duration = time.perf_counter() - started
            for finding in result.findings:
                self._emit_finding(finding, result)
            self._emit_audited(result, texts)
            if self.notify:
                self.plugins.asset_audited(result, self._notify_error(result.stage))
                asset.stats = None
        finally:
            self._redactor = outer
        return result  # a --jobs worker's result keeps them: the parent's hooks use them

    def _note_errors(self, stage_result: StageResult, audited: AssetResult) -> None:
        """The files of ``audited`` that could not be read for a reason of the system's
        (:attr:`AssetResult.errors`: permission denied, an I/O error) are I/O errors of the
        run, as discovery's are: a ``run.error`` event each, right after the asset's events
        (the same place with ``--jobs``), once per path however often it is audited; the
        run's errors (exit 2); and the stage was not audited whole (``complete`` false).
        Called by :meth:`run` only: the watcher keeps them as the asset's ``PRV-02``."""
        errors = audited.errors
        if not errors:
            return
        stage_result.complete = False
        for path, reason in errors:
            if path in self._errors_said:
                continue
            self._errors_said.add(path)
            self._read_errors.append((path, reason))
            self.emit(
                "run.error",
                stage=audited.stage,
                asset=audited.asset.rel,
                message=f"{path}: {reason}",
                details={"path": path, "error": reason},
            )
            if self._on_error is not None:
                self._on_error(path, reason)

    def audit_lost(self, asset: Asset, why: str) -> AssetResult:
        """Record an asset that could not be audited: the worker process auditing it died
        on it, again in a fresh one (``run(jobs=N)``). Its one finding is a ``PRV-05``
        (unsure, never a pass) saying ``why``; no reader, checker or approval plugin runs
        here, since the asset itself may be what kills them, and this process must live."""
        asset.stats = {}
        stage = self.stage_config(asset.stage).name
        result = AssetResult(asset=asset, stage=stage, record=ProvenanceRecord())
        lost = Finding(
            rule="PRV-05",
            message=f"{asset.rel} was not audited: the worker process auditing it died, "
            f"twice ({why})",
            outcome=Outcome.ESCALATE,
            evidence={"worker_died": why},
            unsure=True,
            remediation="find what kills the process auditing this asset (the OOM killer: "
            "its size; a plugin that crashes the interpreter) and fix it; the asset is "
            "audited again on the next run",
        )
        with self._quoting(PromptRedactor([])):
            settled = self._settle(lost, stage=stage, asset=asset)
            if settled is not None:
                result.findings.append(settled)
                self._emit_finding(settled, result)
            self._emit_audited(result, [])
        if self.notify:
            self.plugins.asset_audited(result, self._notify_error(stage))
            asset.stats = None
        return result

    def _apply_approval(
        self,
        finding: Finding,
        asset: Asset | None,
        record: ProvenanceRecord | None,
        stage: str,
        findings: list[Finding],
    ) -> None:
        """Offer an open ``approval`` finding to the approval plugins and apply what covers
        it; a plugin's ``PRV-05`` joins ``findings``. ``asset`` and ``record`` are None for
        a stage finding that names no asset audited in the stage."""
        match, crash = self.plugins.find_approval(finding, asset, record, stage)
        if crash is not None:
            settled = self._settle(crash, stage=stage, asset=asset)
            if settled is not None:
                findings.append(settled)
            return
        if match is None:
            return
        # the plugin's word, or its date against the run's, as approvals.yaml's are judged:
        # an approval with no expiry date is expired there (the file requires one)
        expires = as_date(match.expires)
        past = match.expired or expires is None or expires < self.policy.today
        starts = as_date(match.approved_at)
        if starts is not None and starts > self.policy.today and not past:
            # an approval given after the audit's date does not exist yet: it covers
            # nothing, and the finding says when it would (judged per audit, as expiry);
            # one that expires before it is given never covers anything
            finding.evidence = {
                **finding.evidence,
                "approval_pending": match.id,
                "approval_effective": starts.isoformat(),
            }
            never = (
                f"; it expires on {expires.isoformat()}, before that: it never covers"
                if expires is not None and expires < starts
                else ""
            )
            finding.message = (
                f"{finding.message} (approval {match.id} takes effect on "
                f"{starts.isoformat()}, its approved_at: not before{never})"
            )
            return
        finding.approval = match.id
        if past:
            when = f"expired on {match.expires}" if match.expires else "has no expiry date"
            finding.status = Status.EXPIRED
            finding.evidence = {**finding.evidence, "approval_expired": match.expires}
            self.emit(
                "approval.expired",
                stage=stage,
                asset=asset.rel if asset is not None else finding.asset or None,
                rule=finding.rule,
                outcome=finding.effective_outcome.value,
                status=Status.EXPIRED.value,
                approval=match.id,
                message=f"approval {match.id} covers {finding.rule} but {when}",
                details={"expires": match.expires, "approved_by": match.approved_by},
            )
        else:
            finding.status = Status.APPROVED

    def _settle(self, finding: Finding, *, stage: str, asset: Asset | None) -> Finding | None:
        """Fill a raw finding from its rule and the configuration; ``None`` if disabled.

        What the plugin wrote is redacted first (:meth:`_quoting`), before the rule's own
        texts fill what it left empty: those never quote a prompt."""
        _redact_finding(finding, self._redactor)
        registry = self.plugins.registry
        rule = registry.get(finding.rule)
        if rule is None:
            plugin = finding.plugin or "unknown plugin"
            finding = Finding(
                rule="PRV-05",
                message=f"{plugin} reported a finding for unknown rule {finding.rule!r}: {finding.message}",
                outcome=Outcome.ESCALATE,
                evidence={"plugin": plugin, "unknown_rule": finding.rule, **finding.evidence},
                unsure=True,
                plugin=plugin,
            )
            rule = registry.get("PRV-05")
        if rule is not None and not self.policy.rule_enabled(rule.id):
            return None
        if finding.outcome is None:
            finding.outcome = rule.outcome if rule is not None else Outcome.ESCALATE
        if rule is not None and finding.outcome is not Outcome.PASS and rule.id != "PRV-05":
            override = self.policy.rule_outcome(rule.id)
            if override is not None:
                finding.outcome = override
        if finding.rule in UNSURE_RULES:
            finding.unsure = True
        if finding.unsure and finding.outcome < Outcome.ESCALATE:
            finding.outcome = Outcome.ESCALATE
        if rule is not None:
            finding.principle = finding.principle or rule.principle
            finding.remediation = finding.remediation or rule.remediation
        # a pass is recorded, never open: it has no status (null); anything else is open
        # until an approval record applies (_apply_approval): a checker's word is not one
        finding.status = None if finding.outcome is Outcome.PASS else Status.OPEN
        finding.approval = None
        finding.stage = stage
        if asset is not None:
            finding.asset = asset.rel
            finding.frames = asset.frames
        return finding

    def _emit_finding(self, finding: Finding, result: AssetResult | None) -> None:
        details: dict[str, Any] = {
            "principle": finding.principle,
            "remediation": finding.remediation,
            "evidence": finding.evidence,
            "frames": finding.frames,
        }
        if finding.unsure:
            details["unsure"] = True
        if finding.plugin:
            details["plugin"] = finding.plugin
        self.emit(
            "finding",
            stage=finding.stage,
            asset=finding.asset or None,
            rule=finding.rule,
            outcome=finding.effective_outcome.value,
            status=finding.status.value if finding.status is not None else None,
            approval=finding.approval,
            message=finding.message,
            details=details,
        )
        if result is not None and self.notify:
            self.plugins.finding(finding, result, self._notify_error(finding.stage))

    def _emit_audited(self, result: AssetResult, texts: Sequence[str]) -> None:
        asset, record = result.asset, result.record
        assert record is not None
        inputs = []
        steps = record.get("steps", [])
        if isinstance(steps, list):
            for step in steps:
                for item in (step.get("inputs") or []) if isinstance(step, dict) else []:
                    if isinstance(item, dict) and isinstance(item.get("ref"), str):
                        inputs.append({"ref": item["ref"], "class": item.get("class")})
        findings = result.findings
        open_count = (
            sum(1 for f in findings if f.is_open and f.effective_outcome > Outcome.PASS)
            if findings
            else 0
        )
        outcome = result.outcome.value
        self.emit(
            "asset.audited",
            stage=result.stage,
            asset=asset.rel,
            outcome=outcome,
            message=f"{asset.rel}: {outcome}",
            details={
                "frames": asset.frames,
                "files": len(asset.files),
                "sidecar": _rel(asset.sidecar, asset.root),
                "sources": [p.source for p in record.partials],
                "generated": record.generated,
                "source_type": record.get("source_type", None),
                "production": record.get("production", None) or self.policy.production_id,
                "shot": record.get("shot", None),
                "inputs": inputs,
                "prompts": [prompt_hash(t) for t in texts],
                "findings": len(findings),
                "open": open_count,
                "cached": record.cached,
                "duration_ms": round(result.duration * 1000, 3),
            },
        )

    # -- whole runs ---------------------------------------------------------------------
    def warn(self, warnings: Sequence[tuple[str, str]]) -> None:
        """Write a ``run.warning`` event per ``(path, warning)``: what discovery must say but
        is no error (a link to a folder it did not walk); the caller prints them."""
        with self.batch():
            for path, reason in warnings:
                self.emit(
                    "run.warning",
                    message=f"{path}: {reason}",
                    details={"path": path, "warning": reason},
                )

    def run(
        self,
        assets: Sequence[Asset],
        *,
        errors: Sequence[tuple[str, str]] = (),
        progress: Callable[[int, int, Asset], None] | None = None,
        jobs: int = 1,
        keep_records: bool = True,
        whole_stages: frozenset[str] = frozenset(),
        on_error: Callable[[str, str], None] | None = None,
    ) -> RunResult:
        """Audit ``assets`` stage by stage (pipeline order), with stage events around each.

        With ``jobs > 1``, assets are audited in that many worker processes, each with its own
        plugin manager; results and audit events come back, and are written, in exactly the
        order of a serial run.

        ``keep_records=False`` drops each result's provenance record once every hook has
        seen it — once the asset is audited, or at the end of its stage if a stage checker or
        a notification hook other than the built-in lineage's is attached: a command that
        only reports findings then holds a few hundred bytes per asset instead of the whole
        parsed record.

        ``whole_stages``: the stages ``assets`` hold all of (``Discovery.whole_stages``); their
        results are ``complete``, which their ``stage.finished`` says. One of them with no
        asset in ``assets`` (its folders hold none now) is run empty: ``stage.started``, its
        stage checks, ``stage.finished`` with 0 assets, so what they find now (nothing, most
        often) decides its stage-level findings in reports, not the last run that had assets.

        A file an audit could not read (permission denied, an I/O error: the asset's
        ``PRV-02`` says so) is an error of the run too, as ``errors`` are: a ``run.error``
        event after the asset's events, one of the result's ``errors`` (exit 2), its stage
        not ``complete``; ``on_error(path, reason)`` is called for each as it is found.
        """
        result = RunResult(plugin_failures=list(self.plugins.failures), errors=list(errors))
        self._read_errors, self._on_error = result.errors, on_error
        self._errors_said = set()  # each run says each file once
        if errors:
            with self.batch():  # in order, one write and fsync (per batch), not one per error
                for path, reason in errors:
                    self.emit(
                        "run.error",
                        message=f"{path}: {reason}",
                        details={"path": path, "error": reason},
                    )
        order = {s.name: i for i, s in enumerate(self.policy.stages)}
        lineage = self._lineage()
        if lineage is not None:
            lineage.track_walks()  # inputs audited after what is made from them: _audit_stale
        by_stage: dict[str, list[Asset]] = {}
        for asset in assets:
            by_stage.setdefault(asset.stage, []).append(asset)
        for stage_name in whole_stages:
            by_stage.setdefault(stage_name, [])  # walked whole and empty: checked all the same
        done = 0
        total = len(assets)
        # no more workers than chunks: a forked pool starts all of them at once, and
        # ``--jobs 100000`` must not fork a process per asset (or more)
        jobs = min(jobs, -(-total // _CHUNK))
        pool = _WorkerPool.start(self, jobs, assets) if jobs > 1 and total > 1 else None
        finished = False
        try:
            for stage_name in sorted(by_stage, key=lambda n: (order.get(n, len(order)), n)):
                stage = self.stage_config(stage_name)
                stage_result = StageResult(stage_name, complete=stage_name in whole_stages)
                with self.batch():
                    self.start_stage(stage)
                    members = by_stage[stage_name]
                    if self._cache is not None and pool is None:
                        self._cache.plan(members)
                    audited = (
                        pool.audit(members, records=keep_records)
                        if pool is not None and members
                        else map(self.audit, members)
                    )
                    # nothing reads a record once its hooks have run, unless a stage checker
                    # or another plugin's hook may: then it is dropped after the stage
                    drop = not keep_records and not self._plugins_read_records(stage_name)
                    for asset_result in audited:
                        if drop:
                            asset_result.record = None
                        stage_result.assets.append(asset_result)
                        if asset_result.errors:
                            self._note_errors(stage_result, asset_result)
                        done += 1
                        if progress is not None:
                            progress(done, total, asset_result.asset)
                    if lineage is not None:  # inputs of this stage audited after their users
                        self._audit_stale(stage_result, lineage, drop)
                    self.finish_stage(stage_result)
                self.flush()
                if not keep_records:
                    for asset_result in stage_result.assets:
                        asset_result.record = None
                result.stages.append(stage_result)
                if lineage is not None:  # inputs of earlier stages' assets audited just now
                    self._revisit_stages(result.stages, lineage, keep_records)
            finished = True
        finally:
            # interrupted (Ctrl-C, SIGTERM) or failed: what the workers would still send back
            # is not wanted, so they are stopped rather than waited for. Each stage's events
            # were written when its batch block exited.
            if pool is not None:
                pool.close(wait=finished)
            self.flush()
        return result

    def _audit_stale(
        self,
        stage_result: StageResult,
        lineage: LineagePlugin,
        drop: bool,
        stale: Sequence[str] = (),
    ) -> None:
        """Audit again, in the stage's order, each asset of ``stage_result`` whose inputs'
        walk finds otherwise now (:meth:`LineagePlugin.stale_walks`): an input recorded after
        it in this run, e.g. a precomp whose name sorts after the comp made from it. Until
        none is left: a chain of N such assets takes at most N rounds (bounded: ancestry
        walks follow :data:`~clearance.lineage.MAX_DEPTH` generations). Each result keeps its
        place; the log has both audits, the later one superseding (``docs/reports.md``)."""
        from .lineage import MAX_DEPTH

        assets = stage_result.assets
        where: dict[str, int] | None = None
        for _ in range(MAX_DEPTH + 1):
            if not stale:
                stale = lineage.stale_walks(a.asset.rel for a in assets)
                if not stale:
                    return
            if where is None:
                where = {a.asset.rel: i for i, a in enumerate(assets)}
            for rel in stale:
                i = where[rel]
                again = self.audit(assets[i].asset)
                if drop:
                    again.record = None
                assets[i] = again
                if again.errors:
                    self._note_errors(stage_result, again)
            stale = ()

    def _revisit_stages(
        self, stages: Sequence[StageResult], lineage: LineagePlugin, keep_records: bool
    ) -> None:
        """Audit again the assets of finished stages whose inputs a later stage recorded (an
        input under no stage's paths: stage ``default`` runs last; stages listed out of
        pipeline order), stage by stage in the run's order, each stage between its own
        ``stage.started`` and ``stage.finished`` again (its stage checks see its final
        results). Costs nothing when the run recorded no row since the last look."""
        from .lineage import MAX_DEPTH

        for _ in range(MAX_DEPTH + 1):
            again = False
            for stage_result in stages:
                stale = lineage.stale_walks(a.asset.rel for a in stage_result.assets)
                if not stale:
                    continue
                again = True
                stage = self.stage_config(stage_result.stage)
                drop = not keep_records and not self._plugins_read_records(stage.name)
                with self.batch():
                    self.start_stage(stage)
                    self._audit_stale(stage_result, lineage, drop, stale)
                    self.finish_stage(stage_result)
                self.flush()
                if not keep_records:
                    for asset_result in stage_result.assets:
                        asset_result.record = None
            if not again:
                return

    def _plugins_read_records(self, stage: str) -> bool:
        """Does a plugin other than the built-in lineage see whole results in ``stage`` (a
        stage checker or a notification hook, which may read the records)?"""
        from .lineage import LineagePlugin

        for hook in ("clearance_check_stage", "clearance_finding", "clearance_asset_audited"):
            for impl in self.plugins._impls(hook, stage):
                if not isinstance(impl.plugin, LineagePlugin):
                    return True
        return False

    def replay(self, result: AssetResult, events: Sequence[tuple[str, Any]]) -> AssetResult:
        """Write the events a worker process recorded for ``result``, in their order, and
        call the notification hooks where a serial run calls them (after each finding's
        event, and after ``asset.audited``).

        :param events: ``(name, event)``: the event serialised by :func:`prepare_event`
            (bytes; this session writes an audit log) or as a dict.
        """
        findings = iter(result.findings)
        texts = _prompt_texts(result.record) if result.record is not None else []
        with self._quoting(PromptRedactor(texts)):
            self._replay(result, events, findings)
        return result

    def _replay(
        self, result: AssetResult, events: Sequence[tuple[str, Any]], findings: Iterator[Finding]
    ) -> None:
        for name, event in events:
            if isinstance(event, bytes):
                self._emit_prepared(event)
            else:
                fields = {k: v for k, v in event.items() if k not in ("event", "run_id", "host")}
                self.emit(name, **fields)
            if name == "finding":
                finding = next(findings, None)
                if finding is not None:
                    self.plugins.finding(finding, result, self._notify_error(result.stage))
            elif name == "asset.audited":
                self.plugins.asset_audited(result, self._notify_error(result.stage))
                result.asset.stats = None

    def close(
        self,
        result: RunResult | None = None,
        *,
        exit_code: int | None = None,
        interrupted: str | None = None,
    ) -> None:
        """Write ``run.finished`` and release the log (once: a second call does nothing).

        :param interrupted: the signal that stopped the run (``SIGINT``, ``SIGTERM``),
            recorded as ``details.interrupted``.
        """
        if self._closed:
            return
        details: dict[str, Any] = {
            "duration_s": round(time.monotonic() - self._started, 3),
            "log_s": round(self.log_seconds, 3),
        }
        outcome = None
        if result is not None:
            details.update(
                assets=len(result.assets),
                by_outcome=result.by_outcome(),
                plugin_failures=len(result.plugin_failures),
                errors=len(result.errors),
            )
            outcome = result.outcome.value
        if exit_code is not None:
            details["exit_code"] = exit_code
        if interrupted is not None:
            details["interrupted"] = interrupted
        try:
            self.emit(
                "run.finished",
                outcome=outcome,
                message=f"clearance {self.command} "
                + (f"interrupted ({interrupted})" if interrupted else "finished"),
                details=details,
            )
            self._closed = True
        finally:
            self._stop_hook_thread()
            if self._cache is not None:
                try:
                    self._cache.close()
                except self._cache_errors as exc:
                    self._cache_failed(exc)
                self._cache = None
            if self._log is not None:
                self._log.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop_hook_thread()
        if self._log is not None:
            self._log.close()

    def _stop_hook_thread(self) -> None:
        """End ``plugin_timeout``'s idle thread (a late call's ends when the call returns): a
        process that opens sessions one after another (a pipeline's tool, a test suite)
        does not keep one thread per session for ever, nor give up forking ``--jobs``
        workers because of them."""
        runner = self.plugins.runner
        if runner is not None:
            runner.close()


_WORKER: Session | None = None  # one per worker process (set by _worker_init), never in the parent
_WORKER_ERROR: str | None = None  # in a worker: why it has no session (see _worker_init)
_CHUNK = 32  # assets per task at least, and what the number of workers is bounded by
_CHUNK_MAX = 128  # at most: see _chunk_size
_STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM})
_STOP_GRACE = 5.0  # seconds a stopping pool is given to wind down, before and after SIGKILL
_STOP: Any = None  # in a worker: the parent's stop request (a multiprocessing Event)


class _Stopped(Exception):
    """A worker's answer to a chunk once the parent asked it to stop (nobody reads it)."""


class WorkerPluginError(RuntimeError):
    """A ``run(jobs=N)`` worker could not load the session's in-process plugins
    (``extra_plugins``): it would not audit with the plugins the run has, so the run stops."""


def _worker_init(
    policy: Policy,
    command: str,
    blocked: Sequence[str],
    autoload: bool,
    extra: Sequence[tuple[str, object]] | bytes,
    cache: bool,
    run_id: str,
    parent: int,
    stop: Any,
    shard: tuple[int, int] | None = None,
) -> None:
    global _WORKER, _STOP, _WORKER_ERROR
    from ._process import exit_with_parent

    # The parent decides when the run stops: Ctrl-C reaches the whole process group, and a
    # worker that died of it would break the pool under the parent's feet. The parent asks
    # its workers to stop (``stop``, checked before each asset), and a worker never outlives
    # it (kill -9 included).
    _STOP = stop
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOP_SIGNALS)  # blocked while we started
    exit_with_parent(parent, deathsig=True)
    if isinstance(extra, bytes):  # spawned: pickled by the parent (see _WorkerPool.start)
        import pickle

        try:
            extra = pickle.loads(extra)
        except Exception as exc:  # said by each chunk: the pool must not die of it unread
            _WORKER_ERROR = (
                "the in-process plugins (extra_plugins) cannot be loaded in a spawned worker "
                f"process: {type(exc).__name__}: {exc}; run with jobs=1"
            )
            return
    _WORKER = Session(
        policy,
        command=command,
        write_log=False,
        blocked=blocked,
        extra_plugins=extra,  # type: ignore[arg-type]  # unpickled above
        autoload=autoload,
        announce=False,
        cache=cache,
        run_id=run_id,
        shard=shard,
    )
    _WORKER.notify = False
    from .lineage import LineagePlugin

    lineage = _WORKER.plugins.pm.get_plugin("clearance.lineage")
    if isinstance(lineage, LineagePlugin):
        lineage.consulting = True  # the parent checks what each walk found (see stale())


#: One audited asset as a worker sends it back: the result without its asset (the parent
#: has it) and, unless the parent needs it, without its record; the asset's ``stats`` memo
#: (with the record); its events in order as ``(name, event)`` — serialised for the audit log
#: (:func:`prepare_event`) when the parent writes one, else the event's dict; its lineage
#: row, encoded (:meth:`LineagePlugin.encoded_row_for`; ``...``: no lineage plugin); and
#: what the walk of its inputs looked up and found (:meth:`LineagePlugin.take_consulted`).
_Audited = tuple[AssetResult, Any, list[tuple[str, Any]], Any, Any]
#: What a worker returns per chunk: the audited assets; the provenance-cache rows it
#: read fresh (``(asset, fingerprint, encoded partials)``), for the parent to write; and the
#: lineage warnings it kept for the parent to say once (:meth:`LineagePlugin.take_unsaid`).
_Chunk = tuple[list[_Audited], list[tuple[str, str, str]], list[tuple[str, str]]]


class _Task(NamedTuple):
    """One chunk of a ``scan --jobs`` run, as the parent sends it to a worker."""

    #: the assets; or, for forked workers (which have the run's assets already: see
    #: :data:`_SHARED`), their positions in that list — a few ints instead of Path objects
    assets: Sequence[Asset] | Sequence[int]
    log_path: str | None  # the parent's audit log (None: it keeps events as dicts)
    records: bool  # send each record back (the parent keeps them, or a plugin reads them)
    host_pid: str  # the parent's, for the lineage rows it writes


def _chunk_size(assets: int, jobs: int) -> int:
    """Assets per task for a stage of ``assets`` in ``jobs`` workers: each task costs about a
    millisecond of the parent's and the worker's time (sending, a ledger plan, a result), so a
    big stage is sent in chunks of up to :data:`_CHUNK_MAX` (20,000 assets, two workers: 5–7 %
    less wall time than 32), while each worker still gets 16 or more of them: when the last
    ones finish, the other workers wait for at most one small task."""
    return max(_CHUNK, min(_CHUNK_MAX, assets // (jobs * 16)))


def _worker_audit(task: _Task) -> _Chunk:
    """Audit one chunk in a worker process (see :class:`_WorkerPool`)."""
    from .lineage import LineagePlugin

    if _WORKER_ERROR is not None:
        raise WorkerPluginError(_WORKER_ERROR)
    session = _WORKER
    assert session is not None, "worker not initialised"
    lineage = session.plugins.pm.get_plugin("clearance.lineage")
    out: list[_Audited] = []
    chunk: Sequence[Asset]
    if task.assets and isinstance(task.assets[0], int):
        assert _SHARED is not None, "positions sent to a worker that was not forked"
        chunk = [_SHARED[i] for i in task.assets]  # type: ignore[index]
    else:
        chunk = task.assets  # type: ignore[assignment]
    cache = session._cache
    if cache is not None:
        cache.plan(chunk)
    for asset in chunk:
        if _STOP is not None and _STOP.is_set():  # interrupted: the parent wants nothing more
            raise _Stopped
        session.events.clear()
        result = session.audit(asset)
        events: list[tuple[str, Any]]
        if task.log_path is None:
            events = [(e["event"], e) for e in session.events]
        else:  # serialised here, in parallel: the parent only chains and writes them
            events = [(e["event"], _prepared(e, task.log_path)) for e in session.events]
        row: Any = ...
        consulted = None
        if isinstance(lineage, LineagePlugin):  # worked out here too, in parallel
            consulted = lineage.take_consulted(asset.rel)
            try:
                row = lineage.encoded_row_for(result, session.policy, task.host_pid)
            except Exception:  # the parent's clearance_asset_audited hook reports it,
                row = ...  # as in a serial run (plugin.failed)
        stats = asset.stats if task.records else None
        result.asset = None  # type: ignore[assignment]  # the parent has it
        if not task.records:
            result.record = None
        out.append((result, stats, events, row, consulted))
    # the state store is written by the parent only: workers never wait on its write lock
    rows = cache.take() if cache is not None else []
    unsaid = lineage.take_unsaid() if isinstance(lineage, LineagePlugin) else []
    return out, rows, unsaid


class _Never(Exception):
    """Raised by nothing: what :meth:`Session.emit` catches when it writes no log."""


def _prepared(event: dict[str, Any], where: str) -> bytes:
    """:func:`~clearance.auditlog.prepare_event`, shortened as :meth:`Session.emit` shortens
    an event too large for the log."""
    from . import auditlog  # (imported once; a worker serialises every event of its assets)

    try:
        return auditlog.prepare_event(event, where)
    except auditlog.EventTooLarge as exc:
        return auditlog.prepare_event(_cut_to_size(event["event"], event, exc), where)


def _cut_to_size(name: str, fields: dict[str, Any], exc: Exception) -> dict[str, Any]:
    """``fields`` of the event ``name`` the audit log refused as too large (``exc``: an
    :class:`~clearance.auditlog.EventTooLarge`), cut to be written, with a warning."""
    import logging

    from .auditlog import cut_to_size

    size = getattr(exc, "size", 0)
    logging.getLogger("clearance").warning(
        "audit event %s%s was %d bytes, over the audit log's bound: written with its long "
        "values replaced by a note (details.oversize)",
        name,
        f" for {fields['asset']}" if fields.get("asset") else "",
        size,
    )
    return cut_to_size(fields, size)


#: The run's assets, set in the parent just before forked workers start: they inherit it,
#: and chunks then name assets by position. None with the spawn start method.
_SHARED: Sequence[Asset] | None = None


class _WorkerPool:
    """Worker processes auditing chunks of assets; the parent writes every event, in order.

    Each worker loads the session's plugins: built-ins, entry points if the session loads
    them (``autoload``), the configuration's, and the session's in-process ones
    (``extra_plugins``). Forked workers inherit those objects; spawned ones (another thread
    is running, or not Linux) are sent them pickled, and where they cannot be pickled the run
    is serial (:meth:`start`): a worker without them would give another verdict.
    """

    @classmethod
    def start(cls, session: Session, jobs: int, assets: Sequence[Asset]) -> _WorkerPool | None:
        """A pool of ``jobs`` workers, or None when the session's in-process plugins cannot
        be sent to them (the caller then audits in this process)."""
        import threading

        runner = session.plugins.runner
        if runner is not None:  # plugin_timeout's thread, idle: not a reason not to fork
            runner.close()
        method = (
            "fork"
            if sys.platform.startswith("linux") and threading.active_count() == 1
            else "spawn"
        )
        extra: Sequence[tuple[str, object]] | bytes = tuple(session.extra_plugins)
        if method == "spawn" and extra:
            import logging
            import pickle

            try:
                extra = pickle.dumps(extra)
            except Exception as exc:
                logging.getLogger("clearance").warning(
                    "auditing in this process, not in %d workers: the in-process plugins "
                    "(extra_plugins) cannot be sent to spawned workers (%s: %s)",
                    jobs,
                    type(exc).__name__,
                    exc,
                )
                return None
        return cls(session, jobs, assets, method=method, extra=extra)

    def __init__(
        self,
        session: Session,
        jobs: int,
        assets: Sequence[Asset] = (),
        *,
        method: str,
        extra: Sequence[tuple[str, object]] | bytes = (),
    ) -> None:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        from .lineage import LineagePlugin

        global _SHARED
        self.session = session
        # forked workers start with the first chunk, after this: they see these assets
        self.positions: dict[int, int] | None = None
        if method == "fork" and assets:
            _SHARED = assets
            self.positions = {id(asset): i for i, asset in enumerate(assets)}
        lineage = session.plugins.pm.get_plugin("clearance.lineage")
        if isinstance(lineage, LineagePlugin):
            lineage.track_recorded()  # to check the workers' walks (see audit())
        context = multiprocessing.get_context(method)
        self.stop = context.Event()
        self.jobs = jobs
        self.deaths = 0  # workers that died (killed: the OOM killer, a plugin's crash)
        self._new_executor = functools.partial(
            ProcessPoolExecutor,
            mp_context=context,
            initializer=_worker_init,
            initargs=(
                session.policy,
                session.command,
                tuple(session.blocked),
                session.autoload,
                extra,
                session._cache is not None,
                session.run_id,
                os.getpid(),
                self.stop,
                session.shard,
            ),
        )
        self.executor = self._new_executor(max_workers=jobs)

    def audit(self, assets: Sequence[Asset], *, records: bool = True) -> Iterator[AssetResult]:
        """Audit ``assets`` (one stage's) in the workers; results in ``assets`` order.

        A worker's lineage view lacks the rows recorded here in the same stage since it was
        read (the assets of earlier chunks, of its own too): an asset whose inputs' walk
        finds otherwise here (:meth:`LineagePlugin.stale`) is audited again here, with the
        view a serial run has at that asset.

        :param records: give each result its provenance record. Without it, records come
            back only if a plugin other than the built-in lineage reads them (stage checkers,
            notification hooks): the records are most of what a worker sends back.
        """
        from .lineage import LineagePlugin
        from .lineage.rows import current_host_pid

        session = self.session
        stage = assets[0].stage if assets else ""
        records = records or session._plugins_read_records(stage)
        log_path = str(session._log.path) if session._audit is not None else None
        host_pid = current_host_pid()
        lineage = session.plugins.pm.get_plugin("clearance.lineage")
        size = _chunk_size(len(assets), self.jobs)
        chunks = [assets[i : i + size] for i in range(0, len(assets), size)]
        cache = session._cache
        where = self.positions
        tasks = [
            _Task(
                chunk if where is None else [where[id(a)] for a in chunk],
                log_path,
                records,
                host_pid,
            )
            for chunk in chunks
        ]
        for chunk, (batch, rows, unsaid) in zip(chunks, self._answers(tasks, chunks), strict=True):
            if cache is not None:
                cache.put_rows(rows)
            if unsaid and isinstance(lineage, LineagePlugin):
                lineage.say(unsaid)  # once per run, whichever process found it
            for asset, audited in zip(chunk, batch, strict=True):
                if isinstance(audited, str):  # its worker died on it, twice: why
                    yield session.audit_lost(asset, audited)
                    continue
                result, stats, events, row, consulted = audited
                stale = isinstance(lineage, LineagePlugin) and lineage.stale(asset, consulted)
                if stale:  # inputs recorded in this stage since the worker read them
                    yield session.audit(asset)
                    continue
                if isinstance(lineage, LineagePlugin):
                    lineage.note_walk(asset, consulted)  # for Session._audit_stale
                result.asset = asset
                asset.stats = stats
                if row is not ... and isinstance(lineage, LineagePlugin):
                    lineage.accept_encoded(asset.rel, row)
                yield session.replay(result, events)

    def _submit(self, tasks: Sequence[_Task]) -> list[Future[_Chunk]]:
        with _stop_signals_blocked():  # workers start here: they inherit the mask
            return [self.executor.submit(_worker_audit, task) for task in tasks]

    def _answers(
        self, tasks: Sequence[_Task], chunks: Sequence[Sequence[Asset]]
    ) -> Iterator[_Chunk]:
        """What the workers send back for each of ``tasks`` (``chunks``' assets), in order.

        A worker that dies (the OOM killer, a plugin that crashes the interpreter) breaks
        the pool, and every chunk not yet sent back is lost with it: the first of them is
        audited again asset by asset (:meth:`_one_by_one`), the others in a fresh pool.
        """
        from concurrent.futures.process import BrokenProcessPool

        futures = self._submit(tasks)
        for i, task in enumerate(tasks):
            try:
                answer = futures[i].result()
            except BrokenProcessPool:
                self._died(sum(len(chunk) for chunk in chunks[i:]))
                answer = self._one_by_one(task, chunks[i])
                self.executor = self._new_executor(max_workers=self.jobs)
                futures[i + 1 :] = self._submit(tasks[i + 1 :])
            yield answer

    def _one_by_one(self, task: _Task, chunk: Sequence[Asset]) -> _Chunk:
        """Audit a chunk a dead worker had, each asset a task of its own in a pool of one
        worker: the first not sent back when it dies is the one it was auditing. That asset
        is audited again in a fresh pool; when it kills that one too, it is not audited, and
        the reason is sent back in its place (:meth:`Session.audit_lost`)."""
        from concurrent.futures.process import BrokenProcessPool

        batch: list[Any] = []
        rows: list[tuple[str, str, str]] = []
        unsaid: list[tuple[str, str]] = []
        done, tries = 0, 0
        while done < len(chunk):
            self.executor = self._new_executor(max_workers=1)
            alone = [task._replace(assets=task.assets[k : k + 1]) for k in range(done, len(chunk))]
            futures = self._submit(alone)
            try:
                for future in futures:
                    audited, fresh, said = future.result()
                    batch += audited
                    rows += fresh
                    unsaid += said
                    done, tries = done + 1, 0
            except BrokenProcessPool:
                tries += 1
                why = self._died(len(chunk) - done, asset=chunk[done], lost=tries == 2)
                if tries == 2:
                    batch.append(why)
                    done, tries = done + 1, 0
                continue
            self.executor.shutdown(wait=True)
        return batch, rows, unsaid

    def _died(self, assets: int, *, asset: Asset | None = None, lost: bool = False) -> str:
        """The pool broke: end its other workers (their chunks are lost with it, and one may
        be blocked sending), and record that a worker died and of what (``run.worker_died``;
        the first time on stderr too). What killed it, as a reason."""
        import logging
        from multiprocessing.connection import wait as ready

        executor = self.executor
        processes = list((getattr(executor, "_processes", None) or {}).values())
        exited = set(ready([p.sentinel for p in processes], 0)) if processes else set()
        dead = [p for p in processes if p.sentinel in exited]
        _kill_running(processes)
        for process in dead:  # its sentinel closes a moment before its exit status is known
            process.join(_STOP_GRACE)
        executor.shutdown(wait=True, cancel_futures=True)
        pid, code = (dead[0].pid, dead[0].exitcode) if dead else (None, None)
        name = None
        if code is not None and code < 0:
            with contextlib.suppress(ValueError):
                name = signal.Signals(-code).name
        why = name or (f"exit status {code}" if code is not None else "cause unknown")
        message = f"a worker process (pid {pid}) died ({why})"
        if asset is not None:
            message += f" auditing {asset.rel}"
        if lost:
            message += ", as it did before: that asset is not audited (PRV-05)"
        else:
            message += f"; the {assets} asset(s) the workers had not sent back are audited again"
        self.deaths += 1
        self.session.emit(
            "run.worker_died",
            stage=asset.stage if asset is not None else None,
            asset=asset.rel if asset is not None else None,
            message=message,
            details={"pid": pid, "signal": name, "exit_code": code, "assets": assets},
        )
        if self.deaths == 1:
            logging.getLogger("clearance").warning(
                "clearance: %s (run.worker_died in the audit log)", message
            )
        return why

    def close(self, *, wait: bool = True) -> None:
        """Shut the workers down: after the chunks under way (``wait``), or at once — the
        run was interrupted or failed, and nothing they would still send back is wanted.

        Without ``wait``, the chunks not started are cancelled and the workers stop before
        their next asset. A worker that has not stopped :data:`_STOP_GRACE` seconds later
        (stuck in a plugin) is killed; nothing ever waits on it for longer.
        """
        global _SHARED
        executor = self.executor
        try:
            if wait:
                executor.shutdown(wait=True, cancel_futures=True)
                return
            # concurrent.futures keeps these privately (3.14 has terminate_workers())
            processes = list((getattr(executor, "_processes", None) or {}).values())
            manager = getattr(executor, "_executor_manager_thread", None)
            self.stop.set()
            # Workers are asked, not killed: one killed while sending a result would leave
            # the executor's manager thread reading half a message for ever, and the
            # process could not exit.
            executor.shutdown(wait=False, cancel_futures=True)
            if manager is None:
                return
            manager.join(_STOP_GRACE)
            if manager.is_alive():  # a worker stuck in an audit: it sends nothing now
                _kill_running(processes)
                manager.join(_STOP_GRACE)
        finally:
            _SHARED = None


def _kill_running(processes: Sequence[Any]) -> None:
    """SIGKILL each of ``processes`` still running (its sentinel not ready: its pid is still
    its own; only the executor's manager thread waits for them, so nothing races it)."""
    from multiprocessing.connection import wait as ready

    exited = set(ready([p.sentinel for p in processes], 0)) if processes else set()
    for process in processes:
        if process.sentinel not in exited:
            with contextlib.suppress(OSError):
                os.kill(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def _stop_signals_blocked() -> Iterator[None]:
    """SIGINT and SIGTERM wait while workers start: a worker inherits the mask and unblocks
    them once it ignores them (:func:`_worker_init`), so it never dies of a Ctrl-C meant
    for the parent. The parent gets a signal that arrived meanwhile when the block ends."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _rel(path: Path | None, root: Path) -> str | None:
    """``path`` relative to ``root`` with ``/`` separators, or as given when outside it."""
    return None if path is None else relative_posix(path, root)


def audit_record(
    sidecar: dict[str, Any] | None,
    *,
    stage: str = "comp",
    final: bool = False,
    policy: Policy | None = None,
    rel: str = "comp/sh010_comp_v001.exr",
    partials: Sequence[PartialRecord] = (),
    root: str | os.PathLike[str] | None = None,
) -> AssetResult:
    """Audit one in-memory sidecar through the real plugin manager (no files, no log).

    For tests and for tools that hold provenance in memory (a DCC publish dialog).
    ``sidecar=None`` means the asset has no sidecar; ``partials`` adds what embedded
    readers would have said. The sidecar is read as the file loader reads a sidecar file:
    dates and datetimes (what ``yaml.safe_load`` makes of ``2026-11-01``) become their ISO
    text, and keys that are not strings their YAML text; ``sidecar`` itself is not changed.
    """
    from ._yaml import DocumentError, _normalise
    from .provenance.sidecar import sidecar_record

    if policy is None:
        policy = default_policy(root or Path.cwd())
    known = {s.name: s for s in policy.stages}
    config = known.get(stage) or StageConfig(stage, [], [], final)
    if final and not config.final:
        config = replace(config, final=True)
    policy = replace(policy, stages=[*(s for s in policy.stages if s.name != stage), config])
    base = Path(root) if root is not None else policy.root
    asset = Asset(path=base / rel, rel=rel, root=base, files=[base / rel], stage=stage)
    found: list[PartialRecord] = []
    if sidecar is not None:
        file = rel + ".genai.yaml"
        try:
            found.append(sidecar_record(_normalise(sidecar), file, asset=None))
        except DocumentError as exc:  # it contains itself: no file could say that
            issue = ProvenanceIssue(file, exc.field or "(top level)", exc.reason)
            found.append(PartialRecord("sidecar", file, {}, [issue]))
    found.extend(partials)
    session = Session(policy, command="check", write_log=False, autoload=False)
    return session.audit(asset, record=ProvenanceRecord.merge(found))
