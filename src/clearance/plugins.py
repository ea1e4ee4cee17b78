"""The plugin manager of one run, and the typed facade the engine calls hooks through.

Where plugins come from, in registration order:

1. built-ins: the provenance readers, the default rule packs and the approvals registry;
2. entry points in the ``clearance`` group (skipped when ``CLEARANCE_DISABLE_PLUGIN_AUTOLOAD``
   is set), as pytest's ``pytest11``;
3. the files or modules listed under ``plugins:`` in ``clearance.yaml``, globally or per stage.

Python is never imported from a scanned or watched folder: only from the configuration and
entry points. Loading is loud: a plugin that fails to import, fails pluggy's validation,
implements a hook that does not exist (a typo such as ``clearance_check_assets``), has a
hook function pluggy would never call (no ``@hookimpl``; a wrapper, which the facade below
does not run), registers no hook, or defines a rule id twice, is recorded as a
:class:`PluginFailure`; the engine reports it (``plugin.failed``) and the command exits 2.
``-p no:NAME`` blocks a plugin by name.

Plugin code is isolated wherever it runs (importing, adding rules, every hook): anything it
raises is the plugin's failure (``PRV-05``, ``plugin.failed``), ``SystemExit`` (a helper
library's ``sys.exit()``) and ``GeneratorExit`` included, so a plugin never ends a run. Only
``KeyboardInterrupt`` goes through: that is the user stopping the run.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime as _dt
import functools
import hashlib
import importlib
import importlib.metadata
import importlib.util
import operator
import os
import sys
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from ._deadline import HookHung, HookRunner, HookTimeout
from ._errors import describe
from ._results import (
    InvalidResult,
    checked_approval,
    checked_finding,
    checked_partial,
    claimed_clearance,
    findings_of,
)
from .model import (
    Asset,
    AssetResult,
    Finding,
    FrameFiles,
    Outcome,
    PartialRecord,
    ProvenanceRecord,
    StageResult,
)
from .policy import ALWAYS_ON, Policy, StageConfig
from .rules import DuplicateRuleError, RuleRegistry, crash_finding, invalid_result_finding

__all__ = [
    "PluginHost",
    "PluginFailure",
    "PluginInfo",
    "BUILTIN_PLUGINS",
    "BUILTIN_FACTORIES",
    "ENTRY_POINT_GROUP",
    "UNBLOCKABLE",
    "refuse_unblockable",
]

ENTRY_POINT_GROUP = "clearance"
AUTOLOAD_ENV = "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD"

#: Built-in plugins: module path, and the attribute holding the plugin (``None``: the module).
BUILTIN_PLUGINS: tuple[tuple[str, str | None], ...] = (
    ("clearance.provenance.sidecar", None),
    ("clearance.provenance.xmp", None),
    ("clearance.provenance.exr", None),
    ("clearance.provenance.c2pa", None),
    ("clearance.approvals", None),
)
#: Built-in plugins made once per run: module path, and a factory called with the run's
#: policy. For plugins that hold per-run state (the lineage store's connection) without a
#: module-level registry; registered after ``BUILTIN_PLUGINS`` under the module's name.
BUILTIN_FACTORIES: tuple[tuple[str, str], ...] = (("clearance.lineage", "LineagePlugin"),)
_OPTIONAL_BUILTINS = frozenset(
    {"clearance.provenance.xmp", "clearance.provenance.exr", "clearance.provenance.c2pa"}
)
#: Built-in plugins that ``-p no:NAME`` may not block: the rule pack of the provenance
#: hygiene rules that cannot be turned off (``policy.ALWAYS_ON``; ``clearance.yaml`` refuses
#: ``enabled: false`` for them in the same way).
UNBLOCKABLE = frozenset({"clearance.rules.provenance"})
_NO_HOOKS = "defines no Clearance hooks (no @hookimpl clearance_* function and no RulePack)"
#: hooks whose implementations are called in registration order, not pluggy's (last
#: registered first): the readers, whose ``partials`` and merge order the hookspec gives.
_IN_REGISTRATION_ORDER = frozenset({"clearance_read_provenance"})

#: What picks an implementation's arguments from a call's keyword arguments, by its
#: ``argnames``: one C call (a list comprehension was a Python frame, ten per asset).
_PICKERS: dict[tuple[str, ...], Callable[[Mapping[str, Any]], Any]] = {}


def _picker(names: tuple[str, ...]) -> Callable[[Mapping[str, Any]], Any]:
    if len(names) >= 2:
        return operator.itemgetter(*names)  # a tuple in ``names`` order
    if names:
        name = names[0]
        return lambda kwargs: (kwargs[name],)
    return lambda kwargs: ()


def refuse_unblockable(blocked: Iterable[str]) -> None:
    """Raise ``ValueError`` naming the first of ``blocked`` that may not be blocked."""
    for name in blocked:
        if name in UNBLOCKABLE:
            rules = ", ".join(sorted(ALWAYS_ON))
            raise ValueError(
                f"{name} cannot be blocked: it holds the provenance hygiene rules ({rules}), "
                "which cannot be turned off"
            )


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that could not be loaded, and why (shown to the user, logged as ``plugin.failed``)."""

    name: str
    source: str
    error: str

    def __str__(self) -> str:
        return f"plugin {self.name} ({self.source}): {self.error}"


@dataclass
class PluginInfo:
    """A loaded plugin: its name, where it came from, and the stages it is attached to."""

    name: str
    source: str
    kind: str  # builtin | entrypoint | config
    stages: set[str] | None = None  # None: every stage
    hooks: list[str] = field(default_factory=list)


def _rule_modules() -> tuple[str, ...]:
    from .rules._builtin import BUILTIN_RULE_MODULES

    return tuple(BUILTIN_RULE_MODULES)


class PluginHost:
    """One pluggy ``PluginManager`` per run, with the typed facade over its hooks."""

    def __init__(
        self,
        policy: Policy,
        *,
        blocked: Iterable[str] = (),
        autoload: bool | None = None,
        extra: Sequence[tuple[str, object]] = (),
    ) -> None:
        self.policy = policy
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.plugins: dict[str, PluginInfo] = {}
        self._impl_memo: dict[tuple[str, str | None, int], tuple[list[Any], list[Any]]] = {}
        self._read_only: Policy | None = None  # the policy as site hooks read it
        self.registry = RuleRegistry()
        #: site hooks' calls under ``plugin_timeout`` (None: no limit, called directly)
        self.runner = HookRunner(policy.plugin_timeout) if policy.plugin_timeout else None
        blocked = list(blocked)
        refuse_unblockable(blocked)
        for name in blocked:
            self.pm.set_blocked(name)
        self._load_builtins()
        if autoload is None:
            autoload = not os.environ.get(AUTOLOAD_ENV)
        if autoload:
            self._load_entry_points()
        for name, plugin in extra:
            self._register(plugin, name, source="in-process", kind="config")
        self._load_config_plugins()
        self._collect_rules()

    # -- loading ----------------------------------------------------------------------
    def _register(
        self, plugin: object, name: str, *, source: str, kind: str, stages: set[str] | None = None
    ) -> bool:
        if self.pm.is_blocked(name):
            return False
        existing = self.plugins.get(name)
        if existing is not None:
            if existing.stages is not None:
                existing.stages = None if stages is None else existing.stages | stages
            return True
        other = self.pm.get_name(plugin)
        if other is not None and other in self.plugins:
            # the same module loaded twice (an entry point's, listed in the configuration
            # too): one plugin, which runs once, where either attaches it
            return self._register(plugin, other, source=source, kind=kind, stages=stages)
        try:  # reading a plugin object's attributes runs its code (a property that raises)
            problem = self._hook_problem(plugin)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            problem = _error(exc)
        if problem:
            self.failures.append(PluginFailure(name, source, problem))
            return False
        try:
            self.pm.register(plugin, name=name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self.failures.append(PluginFailure(name, source, str(exc)))
            return False
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # pluggy reads every attribute: half registered
            with contextlib.suppress(Exception):
                self.pm.unregister(name=name)
            self.failures.append(PluginFailure(name, source, _error(exc)))
            return False
        callers = self.pm.get_hookcallers(plugin) or []
        hooks = sorted(c.name for c in callers)
        # an implementation named by @hookimpl(specname=...) is not seen by _hook_problem:
        # a misspelled one is a hook nobody calls (pluggy's check_pending)
        unknown = sorted(c.name for c in callers if c.spec is None)
        if not hooks or unknown:  # a plugin that checks nothing never loads silently
            self.pm.unregister(plugin, name=name)
            problem = (
                f"implements unknown hook(s) {', '.join(unknown)} (misspelled?)"
                if unknown
                else _NO_HOOKS
            )
            self.failures.append(PluginFailure(name, source, problem))
            return False
        self.plugins[name] = PluginInfo(name, source, kind, stages, hooks)
        return True

    def _hook_problem(self, plugin: object) -> str | None:
        """Why pluggy would register ``plugin`` and never call one of its ``clearance_*``
        functions as its author meant (``None``: nothing)."""
        names = [
            attr
            for attr in dir(plugin)
            if attr.startswith("clearance_") and callable(getattr(plugin, attr, None))
        ]
        unknown = [attr for attr in names if not hasattr(hookspecs, attr)]
        if unknown:
            return f"implements unknown hook(s) {', '.join(unknown)} (misspelled?)"
        opts = {attr: self.pm.parse_hookimpl_opts(plugin, attr) for attr in names}
        undecorated = [attr for attr, o in opts.items() if o is None]
        if undecorated:
            return (
                f"{', '.join(undecorated)} {_is_are(undecorated)} not marked @hookimpl and "
                "would never be called: add `from clearance import hookimpl` and put @hookimpl "
                "above each hook function (pytest's conftest hooks need no marker; "
                "Clearance's do)"
            )
        wrappers = [a for a, o in opts.items() if o and (o.get("wrapper") or o.get("hookwrapper"))]
        if wrappers:
            return (
                f"{', '.join(wrappers)} {_is_are(wrappers)} a hook wrapper (wrapper=True or "
                "hookwrapper=True), which Clearance does not support: it calls each "
                "implementation on its own, isolated; use a plain @hookimpl (tryfirst=True or "
                "trylast=True to run before or after the others)"
            )
        return None

    def _load_builtins(self) -> None:
        modules = [(m, a) for m, a in BUILTIN_PLUGINS]
        modules[1:1] = [(m, "pack") for m in _rule_modules()]
        for module_name, attr in modules:
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                if module_name in _OPTIONAL_BUILTINS and exc.name == module_name:
                    continue  # reader not part of this build
                self.failures.append(PluginFailure(module_name, "builtin", _error(exc)))
                continue
            except Exception as exc:
                self.failures.append(PluginFailure(module_name, "builtin", _error(exc)))
                continue
            plugin = getattr(module, attr) if attr else module
            self._register(plugin, module_name, source="builtin", kind="builtin")
        for module_name, factory in BUILTIN_FACTORIES:
            if self.pm.is_blocked(module_name):
                continue
            try:
                plugin = getattr(importlib.import_module(module_name), factory)(self.policy)
            except Exception as exc:
                self.failures.append(PluginFailure(module_name, "builtin", _error(exc)))
                continue
            self._register(plugin, module_name, source="builtin", kind="builtin")

    def _load_entry_points(self) -> None:
        try:
            eps = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        except Exception as exc:  # broken distribution metadata
            self.failures.append(PluginFailure("entry-points", ENTRY_POINT_GROUP, _error(exc)))
            return
        for ep in sorted(eps, key=lambda e: e.name):
            if self.pm.is_blocked(ep.name) or ep.name in self.plugins:
                continue
            dist = getattr(ep, "dist", None)
            source = f"entry point {ep.value}" + (f" ({dist.name})" if dist is not None else "")
            try:
                plugin = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.failures.append(PluginFailure(ep.name, source, _error(exc)))
                continue
            if isinstance(plugin, ModuleType):
                try:
                    plugin = _plugin_of(plugin)
                except ValueError as exc:
                    self.failures.append(PluginFailure(ep.name, source, str(exc)))
                    continue
            self._register(plugin, ep.name, source=source, kind="entrypoint")

    def _load_config_plugins(self) -> None:
        where = str(self.policy.config_file or "the default policy")
        for spec in self.policy.plugins:
            self._load_spec(spec, stages=None, where=f"{where}: plugins")
        for index, stage in enumerate(self.policy.stages):
            for spec in stage.plugins:
                self._load_spec(
                    spec, stages={stage.name}, where=f"{where}: stages[{index}].plugins"
                )

    def _load_spec(self, spec: str, *, stages: set[str] | None, where: str) -> None:
        is_file = spec.endswith(".py") or "/" in spec or os.sep in spec
        if is_file:
            path = Path(spec) if Path(spec).is_absolute() else self.policy.root / spec
            name = path.stem
            source = str(path)
            if self.pm.is_blocked(name):
                return
            existing = self.plugins.get(name)
            if existing is not None:
                if existing.source == source or _same_file(existing.source, path):
                    # the same file listed again (another stage; another way of naming it)
                    self._register(existing, name, source=source, kind="config", stages=stages)
                else:
                    self.failures.append(
                        PluginFailure(
                            name,
                            f"{where}: {source}",
                            f"another plugin is already registered as {name!r} ({existing.source}); rename one of the files",
                        )
                    )
                return
            for info in list(self.plugins.values()):
                if info.kind == "config" and _same_file(info.source, path):
                    # the same file listed again by another name (a link to it, x_latest.py
                    # -> x.py): one plugin, attached where either name is listed; loaded
                    # twice, its rules were 'defined twice' and its checks ran twice
                    self._register(info, info.name, source=source, kind="config", stages=stages)
                    return
            if not path.is_file():  # the user's mistake, not ours: no source location
                self.failures.append(
                    PluginFailure(name, f"{where}: {source}", _missing_file(path, self.policy))
                )
                return
            try:
                module = _import_file(path)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.failures.append(PluginFailure(name, f"{where}: {source}", _error(exc)))
                return
        else:
            name = spec
            source = f"module {spec}"
            if self.pm.is_blocked(name):
                return
            try:
                module = importlib.import_module(spec)
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.failures.append(PluginFailure(name, f"{where}: {source}", _error(exc)))
                return
        try:
            plugin = _plugin_of(module)
        except ValueError as exc:
            self.failures.append(PluginFailure(name, f"{where}: {source}", str(exc)))
            return
        self._register(plugin, name, source=source, kind="config", stages=stages)

    def _collect_rules(self) -> None:
        for impl in self.pm.hook.clearance_add_rules.get_hookimpls():
            try:
                impl.function(registry=_NamedRegistry(self.registry, impl.plugin_name))
            except DuplicateRuleError as exc:
                self.failures.append(
                    PluginFailure(impl.plugin_name, self._source(impl.plugin_name), str(exc))
                )
            except KeyboardInterrupt:
                raise
            except BaseException as exc:
                self.failures.append(
                    PluginFailure(impl.plugin_name, self._source(impl.plugin_name), _error(exc))
                )

    def _source(self, name: str) -> str:
        info = self.plugins.get(name)
        return info.source if info else "unknown"

    # -- attachment -------------------------------------------------------------------
    def attached(self, plugin_name: str, stage: str) -> bool:
        info = self.plugins.get(plugin_name)
        return info is None or info.stages is None or stage in info.stages

    def plugins_for(self, stage: str) -> list[PluginInfo]:
        return [p for p in self.plugins.values() if p.stages is None or stage in p.stages]

    # -- the typed facade -------------------------------------------------------------
    def _impls(self, hook_name: str, stage: str | None = None) -> list[Any]:
        """The hook's implementations in pluggy's call order, attached to ``stage``; the
        readers' in registration order (``tryfirst`` ones first, ``trylast`` ones last), as
        ``hookspecs.clearance_read_provenance`` says: the built-ins before site readers.

        Memoised per (hook, stage) and checked against the hook's current implementations,
        so a plugin registered later (by anyone) is seen on the next call.
        """
        caller = getattr(self.pm.hook, hook_name)
        current = caller._hookimpls  # pluggy's own list; compared, never changed
        key = (hook_name, stage, len(self.plugins))
        memo = self._impl_memo.get(key)
        if memo is not None and memo[0] == current:
            return memo[1]
        impls = list(reversed(current))  # pluggy's call order
        if hook_name in _IN_REGISTRATION_ORDER:
            order = {name: i for i, (name, _) in enumerate(self.pm.list_name_plugin())}
            impls.sort(key=lambda i: (-i.tryfirst + i.trylast, order.get(i.plugin_name, 0)))
        if stage is not None:
            impls = [i for i in impls if self.attached(i.plugin_name, stage)]
        self._impl_memo[key] = (list(current), impls)
        return impls

    @staticmethod
    def _call(impl: Any, kwargs: dict[str, Any]) -> Any:
        names = impl.argnames
        pick = _PICKERS.get(names)
        if pick is None:
            pick = _PICKERS[names] = _picker(names)
        return impl.function(*pick(kwargs))

    def _site_call(self, impl: Any, hook_name: str, func: Callable[[], Any]) -> Any:
        """``func()`` (a site plugin's hook call), under ``plugin_timeout`` when one is set.
        Raises what it raises, or :class:`HookTimeout` / :class:`HookHung`."""
        runner = self.runner
        if runner is None:
            return func()
        return runner.call(impl.plugin_name, hook_name, func)

    def _call_site(self, impl: Any, hook_name: str, args: dict[str, Any]) -> Any:
        """A site hook's call with ``args`` (copies already made), its ``policy`` the
        read-only view (:meth:`site_policy`), under ``plugin_timeout`` when one is set."""
        if "policy" in impl.argnames:
            args["policy"] = self.site_policy()
        return self._site_call(impl, hook_name, functools.partial(self._call, impl, args))

    def site_policy(self) -> Policy:
        """The policy as a site plugin's hooks are given it: a read-only view of the run's
        (:mod:`clearance._readonly`), made when a site hook first takes ``policy``: one that
        changed the tool registry, the approvals, a rule's settings or a stage changed the
        verdicts of the built-in rules and of every later asset. No site hook: never made."""
        view = self._read_only
        if view is None:
            from ._readonly import read_only

            view = self._read_only = read_only(self.policy)
        return view

    def _checked(self, plugin_name: str) -> bool:
        """Are this plugin's results checked (``clearance._results``)? A site plugin's are;
        the built-ins' are tested instead."""
        info = self.plugins.get(plugin_name)
        return info is None or info.kind != "builtin"

    def read_provenance(
        self,
        asset: Asset,
        *,
        cached: Mapping[str, PartialRecord | None] | None = None,
        by_reader: dict[str, PartialRecord] | None = None,
    ) -> tuple[list[PartialRecord], list[Finding]]:
        """Every reader's partial record, in registration order; a reader that raises is
        ``PRV-05``.

        :param cached: answers already known (from the provenance cache) by reader plugin
            name: those readers are not called, and their answer takes their place in the
            order, so every reader sees the same ``partials`` as in an uncached run.
        :param by_reader: filled with each called reader's result under its plugin name.
        """
        partials: list[PartialRecord] = []
        crashes: list[Finding] = []
        kwargs = {"asset": asset, "policy": self.policy, "partials": partials}
        for impl in self._impls("clearance_read_provenance", asset.stage):
            if cached is not None and impl.plugin_name in cached:
                result = cached[impl.plugin_name]
            else:
                checked = self._checked(impl.plugin_name)
                args = kwargs
                if checked:  # a site reader reads copies: the earlier readers' are theirs
                    args = {**kwargs, "asset": _asset_copy(asset)}
                    if "partials" in impl.argnames:
                        args["partials"] = partials_copy(partials)
                try:
                    if checked:
                        result = self._call_site(impl, "clearance_read_provenance", args)
                        if result is not None:
                            result = checked_partial(result)
                    else:
                        result = self._call(impl, args)
                except InvalidResult as exc:
                    crashes.append(
                        invalid_result_finding(impl.plugin_name, str(exc), kind="reader")
                    )
                    continue
                except KeyboardInterrupt:
                    raise
                except (HookTimeout, HookHung) as exc:
                    crashes.append(timeout_finding(impl.plugin_name, exc, kind="reader"))
                    continue
                except BaseException as exc:
                    crashes.append(crash_finding(impl.plugin_name, exc))
                    continue
                if result is not None and by_reader is not None:
                    by_reader[impl.plugin_name] = result
            if result is not None:
                partials.append(result)
        return partials, crashes

    def check_asset(
        self, asset: Asset, record: ProvenanceRecord, stage: StageConfig
    ) -> list[Finding]:
        """Every attached checker's findings; each checker isolated (a crash is ``PRV-05``).
        A site checker is given copies of the asset, its record and its stage: what it
        changes there changes nothing another checker, the approvals or the audit read."""
        kwargs = {"asset": asset, "record": record, "stage": stage, "policy": self.policy}
        return self._collect(
            "clearance_check_asset", kwargs, stage.name, isolate=("asset", "record", "stage")
        )

    def check_stage(self, stage_result: StageResult, stage: StageConfig) -> list[Finding]:
        """Every attached stage checker's findings; a site plugin sees a copy of the stage's
        results (what the engine decided is not theirs to change)."""
        kwargs = {"stage_result": stage_result, "policy": self.policy}
        return self._collect("clearance_check_stage", kwargs, stage.name, isolate=("stage_result",))

    def _collect(
        self, hook_name: str, kwargs: dict[str, Any], stage: str, isolate: Sequence[str] = ()
    ) -> list[Finding]:
        findings: list[Finding] = []
        for impl in self._impls(hook_name, stage):
            checked = self._checked(impl.plugin_name)
            items: list[Any] = []
            failure: Finding | None = None
            claims: list[str] = []
            args = kwargs
            if checked:
                args = {**kwargs}
                for name in isolate:
                    if name in impl.argnames:  # only what it takes is copied
                        args[name] = decided_copy(kwargs[name])
                if "policy" in impl.argnames:
                    args["policy"] = self.site_policy()
            try:
                if checked:
                    # the generator's code runs as it is drained: under the time limit too
                    self._site_call(impl, hook_name, functools.partial(_drain, impl, args, items))
                else:
                    result = self._call(impl, args)
                    if type(result) is list and not result:
                        continue  # a built-in with nothing to say: most packs, for most assets
                    for item in findings_of(result):
                        items.append(item)  # a generator's findings before it raised are kept
            except InvalidResult as exc:
                failure = invalid_result_finding(impl.plugin_name, str(exc))
            except KeyboardInterrupt:  # the user stopping the run: the CLI says "interrupted"
                raise
            except (HookTimeout, HookHung) as exc:
                items = items[:]  # what it yielded in time; the late call appends to the old
                failure = timeout_finding(impl.plugin_name, exc)
            except BaseException as exc:  # SystemExit, GeneratorExit: a plugin never ends the run
                failure = crash_finding(impl.plugin_name, exc)
            for item in items:
                try:
                    if checked:
                        item = checked_finding(item)
                        claim = claimed_clearance(item)
                        if claim is not None:
                            claims.append(claim)
                    elif not isinstance(item, Finding):
                        raise InvalidResult(f"{type(item).__name__} in its list, not a Finding")
                except InvalidResult as exc:
                    item = invalid_result_finding(impl.plugin_name, str(exc))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # the plugin's own code, converting its evidence
                    item = crash_finding(impl.plugin_name, exc)
                if item.plugin is None:
                    item.plugin = impl.plugin_name
                findings.append(item)
            if claims:
                findings.extend(invalid_result_finding(impl.plugin_name, c) for c in claims)
            if failure is not None:
                findings.append(failure)
        return findings

    def find_approval(
        self, finding: Finding, asset: Asset | None, record: ProvenanceRecord | None, stage: str
    ) -> tuple[Any, Finding | None]:
        """(first approval match or None, a ``PRV-05`` finding if an approval plugin raised).
        A site plugin is asked about copies of the finding, the asset and its record: it
        answers, the engine decides."""
        kwargs = {"finding": finding, "asset": asset, "record": record, "policy": self.policy}
        for impl in self._impls("clearance_find_approval", stage):
            checked = self._checked(impl.plugin_name)
            args = kwargs
            if checked:
                args = {
                    **kwargs,
                    **{n: decided_copy(kwargs[n]) for n in impl.argnames if n != "policy"},
                }
            try:
                if checked:
                    result = self._call_site(impl, "clearance_find_approval", args)
                    if result is not None:
                        result = checked_approval(result)
                else:
                    result = self._call(impl, args)
            except InvalidResult as exc:
                kind = "approval plugin"
                return None, invalid_result_finding(impl.plugin_name, str(exc), kind=kind)
            except KeyboardInterrupt:
                raise
            except (HookTimeout, HookHung) as exc:
                return None, timeout_finding(impl.plugin_name, exc, kind="approval plugin")
            except BaseException as exc:
                return None, crash_finding(impl.plugin_name, exc)
            if result is not None:
                return result, None
        return None, None

    def notify(
        self,
        hook_name: str,
        stage_name: str,
        on_error: Callable[[str, BaseException], None],
        **kwargs: Any,
    ) -> None:
        """Call a notification hook; a failing implementation is reported, never fatal. A
        site plugin is given copies of the findings and results: what it changes there
        changes nothing the engine wrote, reports or exits with."""
        for impl in self._impls(hook_name, stage_name):
            args = {**kwargs, "policy": self.policy}
            checked = self._checked(impl.plugin_name)
            if checked:
                args = {
                    name: decided_copy(value) if name in impl.argnames else value
                    for name, value in args.items()
                }
            try:
                if checked:
                    self._call_site(impl, hook_name, args)
                else:
                    self._call(impl, args)
            except KeyboardInterrupt:
                raise
            except HookHung as exc:  # said once per hang: not for every asset and finding
                if self.runner is None or self.runner.first_skip(impl.plugin_name, hook_name):
                    on_error(impl.plugin_name, exc)
            except BaseException as exc:
                on_error(impl.plugin_name, exc)

    def stage_started(
        self, stage: StageConfig, on_error: Callable[[str, BaseException], None]
    ) -> None:
        self.notify("clearance_stage_started", stage.name, on_error, stage=stage)

    def stage_finished(
        self, result: StageResult, on_error: Callable[[str, BaseException], None]
    ) -> None:
        self.notify("clearance_stage_finished", result.stage, on_error, stage_result=result)

    def asset_audited(
        self, result: AssetResult, on_error: Callable[[str, BaseException], None]
    ) -> None:
        self.notify("clearance_asset_audited", result.stage, on_error, result=result)

    def finding(
        self, finding: Finding, result: AssetResult, on_error: Callable[[str, BaseException], None]
    ) -> None:
        self.notify("clearance_finding", result.stage, on_error, finding=finding, result=result)


def _drain(impl: Any, args: dict[str, Any], items: list[Any]) -> None:
    """Call a site checker and collect what it gives into ``items`` as it gives it (a
    generator's findings before it raised, or before the time limit, are kept)."""
    for item in findings_of(PluginHost._call(impl, args)):
        items.append(item)


def timeout_finding(plugin: str, exc: HookTimeout | HookHung, *, kind: str = "checker") -> Finding:
    """The ``PRV-05`` finding for a site hook given up on (``plugin_timeout``): unsure."""
    evidence: dict[str, Any] = {
        "plugin": plugin,
        "hook": exc.hook,  # this finding's: the hook given up on, or not called
        "timeout_s": exc.seconds,
        "state": "timed out" if isinstance(exc, HookTimeout) else "still running",
    }
    if isinstance(exc, HookHung):
        evidence["running"] = exc.running  # the hook whose call is still running
    return Finding(
        rule="PRV-05",
        message=f"{kind} {plugin}: {exc}",
        outcome=Outcome.ESCALATE,
        evidence=evidence,
        unsure=True,
        plugin=plugin,
    )


def decided_copy(value: Any) -> Any:
    """A copy of what the engine decided or reads (a :class:`Finding`, an
    :class:`AssetResult`, a :class:`StageResult`, a :class:`ProvenanceRecord`, an
    :class:`Asset`, a :class:`StageConfig`) for a site plugin's hook to read, and change as
    it likes; anything else as it is. A checker that edits the record it is given (sorts
    its steps, pops a prompt) changes nothing the built-in rules, the approvals, the other
    plugins or the lineage store read after it."""
    if isinstance(value, Finding):
        return dataclasses.replace(value, evidence=copy.deepcopy(value.evidence))
    if isinstance(value, ProvenanceRecord):
        return record_copy(value)
    if isinstance(value, Asset):
        return _asset_copy(value)
    if isinstance(value, StageConfig):
        return dataclasses.replace(value, paths=list(value.paths), plugins=list(value.plugins))
    if isinstance(value, AssetResult):
        return dataclasses.replace(
            value,
            asset=_asset_copy(value.asset),
            record=None if value.record is None else record_copy(value.record),
            findings=[decided_copy(f) for f in value.findings],
        )
    if isinstance(value, StageResult):
        # the assets' results with their findings copied, their records and assets copied
        # when the hook first reads them (a stage of 100,000 assets is given to each stage
        # hook; most read outcomes and names): the engine matches a stage finding naming an
        # asset against approvals by that asset's record, after the stage hooks
        return dataclasses.replace(
            value,
            assets=[_CopiedOnRead(a, [decided_copy(f) for f in a.findings]) for a in value.assets],
            findings=[decided_copy(f) for f in value.findings],
        )
    return value


class _CopiedOnRead(AssetResult):
    """An asset's result as a site stage hook reads it: its findings copied, its asset and
    record copied when first read (:func:`_asset_copy`, :func:`record_copy`), so that
    what the hook changes there (a shot 'normalised' in place) changes nothing the engine
    reads after it: the approval a stage finding naming the asset is matched against."""

    def __init__(self, source: AssetResult, findings: list[Finding]) -> None:  # noqa: D107
        state = self.__dict__
        state.update(source.__dict__)
        state["findings"] = findings
        state["_sources"] = (state.pop("asset"), state.pop("record", None))

    @property  # type: ignore[override]
    def asset(self) -> Asset:
        state = self.__dict__
        if "_asset" not in state:
            state["_asset"] = _asset_copy(state["_sources"][0])
        return state["_asset"]  # type: ignore[no-any-return]

    @asset.setter
    def asset(self, value: Asset) -> None:
        self.__dict__["_asset"] = value

    @property  # type: ignore[override]
    def record(self) -> ProvenanceRecord | None:
        state = self.__dict__
        if "_record" not in state:
            source = state["_sources"][1]
            state["_record"] = None if source is None else record_copy(source)
        return state["_record"]  # type: ignore[no-any-return]

    @record.setter
    def record(self, value: ProvenanceRecord | None) -> None:
        self.__dict__["_record"] = value


#: what a record's data holds that cannot change: kept, not copied
_ATOMS = frozenset({str, int, float, bool, type(None), bytes, _dt.date, _dt.datetime, _dt.time})


def _tree_copy(value: Any, memo: dict[int, Any]) -> Any:
    """A copy of a record's data (dicts and lists of what YAML and JSON hold), several
    times quicker than ``copy.deepcopy``; a value of another type is deep-copied. ``memo``
    keeps what two places share (the merged record's fields are its partials') shared."""
    kind = type(value)
    if kind is dict or kind is list:
        done = memo.get(id(value))
        if done is not None:
            return done
        new: Any
        if kind is dict:
            new = memo[id(value)] = {}
            for key, item in value.items():
                new[key] = item if type(item) in _ATOMS else _tree_copy(item, memo)
        else:
            new = memo[id(value)] = []
            for item in value:
                new.append(item if type(item) in _ATOMS else _tree_copy(item, memo))
        return new
    if kind in _ATOMS:
        return value
    return copy.deepcopy(value, memo)


def _partial_copy(partial: PartialRecord, memo: dict[int, Any]) -> PartialRecord:
    return dataclasses.replace(
        partial,
        data=_tree_copy(partial.data, memo),
        evidence=_tree_copy(partial.evidence, memo),
        issues=list(partial.issues),  # each a frozen ProvenanceIssue
        unknown=list(partial.unknown),
    )


def record_copy(record: ProvenanceRecord) -> ProvenanceRecord:
    """A copy of ``record`` that a site plugin may change without changing ``record``."""
    memo: dict[int, Any] = {}
    return dataclasses.replace(
        record,
        data=_tree_copy(record.data, memo),
        sources=dict(record.sources),
        partials=[_partial_copy(p, memo) for p in record.partials],
        file_issues=list(record.file_issues),
    )


def partials_copy(partials: Sequence[PartialRecord]) -> list[PartialRecord]:
    """Copies of the earlier readers' records, for a site reader to read (and change)."""
    memo: dict[int, Any] = {}
    return [_partial_copy(p, memo) for p in partials]


def _asset_copy(asset: Asset) -> Asset:
    files = asset.files
    return dataclasses.replace(
        asset,
        files=files.copy() if isinstance(files, FrameFiles) else list(files),
        frame_numbers=list(asset.frame_numbers),
    )


class _NamedRegistry:
    """The registry as one plugin sees it (so duplicates name both plugins)."""

    def __init__(self, registry: RuleRegistry, plugin: str) -> None:
        self._registry = registry
        self._plugin = plugin

    def add(self, rule: Any) -> None:
        self._registry.add(rule, plugin=self._plugin)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._registry, name)


def _plugin_of(module: ModuleType) -> object:
    """What to register for a plugin module: the module itself when it has hook functions;
    else its module-level :class:`~clearance.rules.RulePack` (several: all of them).

    :raises ValueError: (the message for the user) when the module has neither (a plugin that
        checks nothing never loads silently), or has hook functions beside a ``RulePack``
        whose hooks none of them is: registering the module would drop the pack's rules.
    """
    from .rules import RulePack

    hooks: list[Any] = []
    packs: dict[str, Any] = {}  # first module-level name of each pack
    for name, value in vars(module).items():
        if name.startswith("clearance_") and callable(value):
            hooks.append((name, getattr(value, "__self__", None)))
        elif isinstance(value, RulePack) and all(value is not p for p in packs.values()):
            packs[name] = value
    if hooks:
        unbound = [n for n, p in packs.items() if all(owner is not p for _, owner in hooks)]
        if unbound:
            fix = (
                f"bind the pack's hooks beside them (clearance_add_rules = {unbound[0]}"
                f".clearance_add_rules, clearance_check_asset = {unbound[0]}"
                ".clearance_check_asset)"
                if len(unbound) == 1
                else "move the hook functions to a plugin file of their own"
            )
            raise ValueError(
                f"has hook functions ({', '.join(n for n, _ in hooks)}) beside a RulePack "
                f"({', '.join(unbound)}) whose hooks none of them is, so the pack's rules "
                f"would never be registered nor run: {fix}"
            )
        return module
    found = list(packs.values())
    if len(found) == 1:
        return found[0]
    if found:
        return _Packs(found)
    raise ValueError(_NO_HOOKS)


class _Packs:
    """Several module-level rule packs of one plugin file, registered as one plugin."""

    def __init__(self, packs: list[Any]) -> None:
        self.packs = packs

    @hookspecs.hookimpl
    def clearance_add_rules(self, registry: Any) -> None:
        for pack in self.packs:
            pack.clearance_add_rules(registry)

    @hookspecs.hookimpl
    def clearance_check_asset(self, asset: Any, record: Any, stage: Any, policy: Any) -> list[Any]:
        findings: list[Any] = []
        for pack in self.packs:
            findings.extend(pack.clearance_check_asset(asset, record, stage, policy))
        return findings


def _import_file(path: Path) -> ModuleType:
    """Import a plugin file under a private module name (never via ``sys.path``).

    Once per process per version of the file: a run in the same process (a DCC session
    scanning again, the next batch of a watcher's audit process) reuses the module while the
    file is unchanged, and imports it afresh once it was edited (its
    :func:`~clearance.state.stat_version`: a rewrite that keeps the size and the mtime still
    moves the ctime on).
    """
    from .state import stat_version

    if not path.is_file():
        raise FileNotFoundError(f"plugin file {path} not found")
    version = stat_version(path.stat())  # before reading: an edit while importing is seen
    # the bytes of the path: a show root named in bytes that are not UTF-8 has lone surrogates
    digest = hashlib.sha1(os.fsencode(path.resolve())).hexdigest()[:10]
    module_name = f"clearance_site_{path.stem}_{digest}"
    module = sys.modules.get(module_name)
    if module is not None and _IMPORTED.get(module_name) == version:
        return module
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    _IMPORTED[module_name] = version
    return module


#: the version of each plugin file imported in this process (:func:`_import_file`), by its
#: module name in ``sys.modules``: not a registry (each run registers its own plugins).
_IMPORTED: dict[str, tuple[int, ...]] = {}


def _same_file(source: str, path: Path) -> bool:
    """Is the plugin ``source`` (a registered plugin's) the file ``path``, however each
    names it (``../hooks/x.py``, its absolute path, through a link)?"""
    try:
        return os.path.samefile(source, path)
    except (OSError, ValueError):  # not a file (a module's or entry point's source)
        return False


def _missing_file(path: Path, policy: Policy) -> str:
    """What to do about a plugin file that a configuration lists and is not there."""
    shown = os.path.normpath(path)
    what = "is not a file" if path.exists() else "does not exist"
    config = policy.config_file.name if policy.config_file else "the configuration"
    return (
        f"the plugin file {shown} {what} (a relative path is relative to the folder of "
        f"{config}, {policy.root}): create the file there, or correct the path in {config}"
    )


#: this package's folder: a plugin's error is placed at its own line, not at the line of
#: Clearance that refused what it gave (``Rule(outcome="blokc")``: model.py), when it has one
_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep
_STDLIB = os.path.dirname(os.path.abspath(os.__file__)) + os.sep  # importlib's frames


def _error(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    own = [  # nor a generated one (a dataclass's ``__init__``: ``<string>``)
        f
        for f in frames
        if not f.filename.startswith("<")
        and not os.path.abspath(f.filename).startswith((_PACKAGE, _STDLIB))
    ]
    frame = own[-1] if own else frames[-1] if frames else None
    where = f" at {Path(frame.filename).name}:{frame.lineno}" if frame is not None else ""
    return f"{describe(exc)}{where}"


def _is_are(names: Sequence[str]) -> str:
    return "is" if len(names) == 1 else "are"
