"""Rule definitions and rule packs.

A *rule pack* is a plugin: it adds its rules in ``clearance_add_rules`` and checks assets in
``clearance_check_asset``. Built-in packs (one module per guidance area) and site packs are
written the same way::

    from clearance.rules import RulePack, RuleContext
    from clearance import Outcome

    pack = RulePack("show01")

    @pack.rule("SHOW-01", title="No GenAI on hero props", principle="creative-output",
               outcome=Outcome.APPROVAL, remediation="Ask the VFX supervisor for sign-off.",
               params=["props"])
    def hero_props(ctx: RuleContext):
        '''"Hero props are never generated" (show bible, section 4).'''
        if ctx.get("x-prop") in ctx.settings.get("props", ["hero"]):
            yield ctx.finding("generated hero prop", prop=ctx.get("x-prop"))

Each rule's check runs isolated: one that raises becomes a ``PRV-05`` finding naming the
rule, and the pack's other rules still run. A rule disabled in the configuration
(``rules: {ID: {enabled: false}}``) is not run. ``params`` declares the parameters a rule
reads from ``rules: {ID: {...}}`` (``ctx.settings``): any other key there is a configuration
error, so a misspelled parameter is never ignored. A rule that declares nothing accepts
every key.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
import threading
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

from .._errors import describe
from ..approvals import productions_of
from ..hookspecs import hookimpl
from ..model import MISSING, Asset, Finding, Outcome, ProvenanceRecord, Rule
from ..provenance import _iptc

if TYPE_CHECKING:
    from ..policy import Policy, StageConfig

__all__ = ["RuleRegistry", "RulePack", "RuleContext", "DuplicateRuleError", "GENAI_TERMS"]

# One vocabulary for readers and rules (``clearance.provenance._iptc``): GenAI terms, current
# terms that exclude GenAI, undecided terms, retired terms.
GENAI_TERMS = _iptc.GENAI_TERMS
NON_GENAI_TERMS = _iptc.CURRENT_NON_GENAI_TERMS
UNDECIDED_TERMS = _iptc.UNDECIDED_TERMS
RETIRED_TERMS = _iptc.RETIRED_TERMS
KNOWN_TERMS = _iptc.KNOWN_TERMS
IPTC_PREFIX = _iptc.IPTC_PREFIX
#: The full-URI forms of a term: cv.iptc.org's and C2PA's own ``c2pa.org/digitalsourcetype/``.
URI_PREFIXES = _iptc.URI_PREFIXES


def iptc_term(value: Any) -> str | None:
    """The term of a source type given as a term or a full URI (cv.iptc.org or c2pa.org).

    Unlike the readers, case is kept: a miscapitalised term is for ``IPTC-04`` to flag.
    """
    if not isinstance(value, str) or not value:
        return None
    term = _TERMS.get(value)
    if term is None:
        term = value
        for prefix in URI_PREFIXES:
            if value.startswith(prefix):
                term = value[len(prefix) :]
                break
        if len(_TERMS) < 4096:  # a show writes a handful; a bounded memo for the odd typo
            _TERMS[value] = term
    return term


#: ``iptc_term`` by value: the IPTC rules ask it four to six times per asset, for the same
#: few values all run long
_TERMS: dict[str, str] = {}


class DuplicateRuleError(ValueError):
    """Two plugins added the same rule id."""


class RuleRegistry:
    """Every rule known to a run, by id (one registry per run; never module-level)."""

    def __init__(self) -> None:
        self._rules: dict[str, Rule] = {}
        self._owner: dict[str, str] = {}

    def add(self, rule: Rule, *, plugin: str = "") -> None:
        if rule.id in self._rules:
            raise DuplicateRuleError(
                f"rule {rule.id} is defined twice ({self._owner[rule.id] or 'unknown'} and {plugin or 'unknown'})"
            )
        self._rules[rule.id] = rule
        self._owner[rule.id] = plugin

    def get(self, rule_id: str) -> Rule | None:
        return self._rules.get(rule_id)

    def __contains__(self, rule_id: object) -> bool:
        return rule_id in self._rules

    def __iter__(self) -> Iterator[Rule]:
        return iter(sorted(self._rules.values(), key=_rule_sort_key))

    def __len__(self) -> int:
        return len(self._rules)

    def owner(self, rule_id: str) -> str:
        return self._owner.get(rule_id, "")

    def matching(self, pattern: str) -> list[Rule]:
        """Rules whose id matches a glob (``"NFX-T*"``)."""
        return [r for r in self if fnmatch.fnmatchcase(r.id, pattern)]


def _rule_sort_key(rule: Rule) -> tuple[str, str]:
    prefix, _, rest = rule.id.partition("-")
    order = {"PRV": "0", "NFX": "1", "IPTC": "2"}.get(prefix, "3")
    return (order + prefix, rest)


CheckFunction = Callable[["RuleContext"], "Iterable[Finding] | Finding | None"]


if TYPE_CHECKING:
    _per_asset = functools.cached_property
else:

    class _per_asset:  # noqa: N801 - used as a decorator, like functools.cached_property
        """``functools.cached_property`` without its lock (Python 3.11 takes an RLock on every
        first access, and a context's views are first read once per asset)."""

        def __init__(self, func: Callable[[Any], Any]) -> None:
            self.func = func
            self.name = func.__name__
            self.__doc__ = func.__doc__

        def __set_name__(self, owner: type, name: str) -> None:
            self.name = name

        def __get__(self, instance: Any, owner: type | None = None) -> Any:
            if instance is None:
                return self
            value = instance.__dict__[self.name] = self.func(instance)
            return value


class RuleContext:
    """What a rule check sees: the asset, its record, the stage and the policy, plus helpers.

    Helpers read the sidecar format-1 fields (``ctx.get("output.use")``), walk the
    multi-tool workflow (``ctx.steps``, ``ctx.inputs()``), look tools and consents up in
    the registries, and build findings for this rule (``ctx.finding``, ``ctx.unsure``).
    """

    def __init__(
        self,
        rule: Rule,
        asset: Asset,
        record: ProvenanceRecord,
        stage: StageConfig,
        policy: Policy,
    ) -> None:
        self.rule = rule
        self.asset = asset
        self.record = record
        self.stage = stage
        self.policy = policy

    @property
    def settings(self) -> Mapping[str, Any]:
        """The rule's parameters from ``rules:`` in the configuration."""
        return self.policy.rule_settings(self.rule.id)

    # -- reading the record ---------------------------------------------------------------
    def get(self, path: str, default: Any = MISSING) -> Any:
        """A field of the merged record by dotted path; ``MISSING`` when absent."""
        return self.record.get(path, default)

    def invalid(self, path: str) -> bool:
        """Was the field at ``path`` (``talent[0].replica``, as ``PRV-02`` names it) given but
        invalid, it or the mapping or list entry it is in? Such a field is *unknown*: a rule
        must not read its absence as "not involved" (see ``docs/rules.md``)."""
        return self.record.is_unknown(path)

    def fact(self, path: str, default: Any = None) -> Any:
        """``get(path)``, but ``"unknown"`` for a field given invalid (:meth:`invalid`) or
        written null (an empty value: nobody answered), and ``default`` for one not given:
        what a sidecar writing ``unknown`` would have said."""
        value = self.record.get(path, MISSING)
        if value is MISSING:
            return "unknown" if self.record.is_unknown(path) else default
        return "unknown" if value is None else value

    @property
    def generated(self) -> bool | None:
        return self.record.generated

    # Asset-level views below are computed once per asset: one context serves every rule of
    # a pack for that asset (``rule`` is re-pointed), and the record does not change meanwhile.
    @_per_asset
    def genai_ancestry(self) -> list[dict[str, Any]]:
        """GenAI material the asset contains through its declared inputs, transitively.

        From the ``ancestry`` record key the built-in lineage reader writes (one entry per
        GenAI ancestor: ``ref``, ``asset``, ``depth``, ``stage``, ``source_type``); empty
        when nothing it was made from is known to be GenAI. See ``docs/lineage.md``.
        """
        ancestry = self.record.get("ancestry", None)
        found = ancestry.get("genai") if isinstance(ancestry, dict) else None
        return [a for a in found if isinstance(a, dict)] if isinstance(found, list) else []

    @_per_asset
    def genai_ancestry_omitted(self) -> int:
        """How many GenAI ancestors :attr:`genai_ancestry` leaves out: it lists at most 1,000
        (``genai_omitted`` in the ``ancestry`` record key); 0 when it lists them all."""
        ancestry = self.record.get("ancestry", None)
        omitted = ancestry.get("genai_omitted") if isinstance(ancestry, dict) else None
        return omitted if isinstance(omitted, int) and omitted > 0 else 0

    @_per_asset
    def unknown_ancestors(self) -> list[str]:
        """Ancestors whose GenAI status is unknown (their ``generated`` was recorded unknown:
        an invalid or missing sidecar), through the declared inputs, transitively.

        The ``unknown`` list of the ``ancestry`` record key; empty when every ancestor found
        is known to be GenAI or not, or when nothing was inherited. Unknown is unsure: a rule
        that asks "is there GenAI material in it?" cannot answer "no" while this is not empty.
        See ``docs/lineage.md``.
        """
        ancestry = self.record.get("ancestry", None)
        found = ancestry.get("unknown") if isinstance(ancestry, dict) else None
        return [a for a in found if isinstance(a, str)] if isinstance(found, list) else []

    @_per_asset
    def use(self) -> str | None:
        """``output.use``; ``final`` for every asset in a stage marked ``final: true``."""
        if self.stage.final:
            return "final"
        value = self.get("output.use", None)
        return value if isinstance(value, str) else None

    @property
    def is_final(self) -> bool:
        return self.use == "final"

    @_per_asset
    def indexed_steps(self) -> list[tuple[int, dict[str, Any]]]:
        """``(index, step)`` for every step that is a mapping, index as written in the sidecar."""
        steps = self.get("steps", None)
        if not isinstance(steps, list):
            return []
        return [(i, s) for i, s in enumerate(steps) if isinstance(s, dict)]

    @property
    def steps(self) -> list[dict[str, Any]]:
        return [step for _, step in self.indexed_steps]

    def inputs(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every declared input as ``(step_index, input)``."""
        for index, step in enumerate(self.steps):
            inputs = step.get("inputs")
            if isinstance(inputs, list):
                for item in inputs:
                    if isinstance(item, dict):
                        yield index, item

    def tool(self, step: dict[str, Any]) -> dict[str, Any] | None:
        """The tool registry entry of a step's tool, or ``None`` when not registered."""
        tool_id = step.get("tool")
        if not isinstance(tool_id, str):
            return None
        return self.policy.tools.get(tool_id)

    def consent(self, consent_id: Any) -> dict[str, Any] | None:
        if not isinstance(consent_id, str):
            return None
        return self.policy.consents.get(consent_id)

    @_per_asset
    def talent(self) -> list[dict[str, Any]]:
        talent = self.get("talent", [])
        return [t for t in talent if isinstance(t, dict)] if isinstance(talent, list) else []

    # Private views for the built-in packs (``_common``): each is asked by several of their
    # rules per asset (is it final: six; the talent entries: six), so derived once here.
    @_per_asset
    def _final(self) -> bool:
        """``_common.is_final``: a final stage, ``output.use: final`` or ``output.in_final_cut``."""
        return self.is_final or self.get("output.in_final_cut", None) is True

    @_per_asset
    def _indexed_talent(self) -> list[tuple[int, dict[str, Any]]]:
        """``(index, entry)`` for every talent entry that is a mapping, index as written."""
        talent = self.get("talent", None)
        if not isinstance(talent, list):
            return []
        return [(i, t) for i, t in enumerate(talent) if isinstance(t, dict)]

    @_per_asset
    def production(self) -> str | None:
        """The production the asset is made for: its sidecar's, else the show's (the first
        of :attr:`productions`); None when unknown."""
        found = self.productions
        return found[0] if found else None

    @_per_asset
    def productions(self) -> tuple[str, ...] | None:
        """Every production the asset must be cleared for: its sidecar's and the show's, when
        they differ (:func:`clearance.approvals.productions_of`); None when unknown."""
        return productions_of(self.record, self.policy)

    @_per_asset
    def is_genai(self) -> bool:
        """GenAI, or unknown while something is known about the asset (never "no" by default)."""
        record = self.record
        return bool(record.partials) and record.generated is not False

    # -- building findings ----------------------------------------------------------------
    def finding(self, message: str, *, outcome: Outcome | None = None, **evidence: Any) -> Finding:
        """A finding of this rule (``outcome`` defaults to the rule's default outcome)."""
        return Finding(rule=self.rule.id, message=message, outcome=outcome, evidence=evidence)

    def unsure(self, field: str, message: str | None = None, **evidence: Any) -> Finding:
        """A finding because ``field`` is missing or unknown: "unsure" is never a pass.

        Its outcome is ``escalate``, or the rule's own outcome when that is ``approval``
        (missing data alone never blocks).
        """
        outcome = Outcome.ESCALATE
        if self.rule.outcome is Outcome.APPROVAL:
            outcome = Outcome.APPROVAL
        text = message or f"{field} is missing or unknown; the rule cannot decide"
        return Finding(
            rule=self.rule.id,
            message=text,
            outcome=outcome,
            evidence={"missing": field, **evidence},
            unsure=True,
        )


_LAST = threading.local()  # this thread's current asset context, shared by the packs

#: The guards ``_common.genai_only`` and ``provenance_only`` put around a check (see
#: :func:`guard_check`); 0: none.
GENAI_ONLY, PROVENANCE_ONLY = 1, 2


def guard_check(wrapper: Any, guard: int, check: Callable[..., Any]) -> None:
    """Note on ``wrapper`` that it runs ``check`` only when ``guard`` holds: a pack asks the
    guard itself and calls ``check`` (one call fewer per rule; 24 rules of an asset are
    guarded). ``rule.check`` stays the wrapper, which answers the same. The note names the
    wrapper too: ``functools.wraps`` copies it onto a decorator put around the wrapper, whose
    own code must then run."""
    wrapper._clearance_guard = (guard, check, wrapper)


_Plan = tuple[Any, Any, int, tuple[tuple[Rule, Callable[..., Any], int], ...]]
_NO_PLAN: _Plan = (None, None, -1, ())


def _steps(rules: Sequence[Rule]) -> tuple[tuple[Rule, Callable[..., Any], int], ...]:
    """``(rule, check to call, guard)`` per rule, as :meth:`RulePack.clearance_check_asset`
    runs them."""
    steps: list[tuple[Rule, Callable[..., Any], int]] = []
    for rule in rules:  # enabled_rules(): each has a check
        guard, check, wrapper = getattr(rule.check, "_clearance_guard", (0, None, None))
        if wrapper is not rule.check:  # unguarded, or another decorator around the guard
            guard, check = 0, rule.check
        steps.append((rule, cast("Callable[..., Any]", check), int(guard)))
    return tuple(steps)


def _context_for(
    rule: Rule, asset: Asset, record: ProvenanceRecord, stage: StageConfig, policy: Policy
) -> RuleContext:
    last: RuleContext | None = getattr(_LAST, "ctx", None)
    if (
        last is not None
        and last.record is record
        and last.asset is asset
        and last.stage is stage
        and last.policy is policy
    ):
        return last
    ctx = _LAST.ctx = RuleContext(rule, asset, record, stage, policy)
    return ctx


class RulePack:
    """A plugin holding several rules, each a small check function (see module docstring)."""

    def __init__(
        self, name: str, *, pack: str = "default", params: Sequence[str] | None = None
    ) -> None:
        """:param params: the parameters of the pack's rules that do not declare their own
        (``()``: none; ``None``: not declared, every key accepted)."""
        self.name = name
        self.pack = pack
        self.params = tuple(params) if params is not None else None
        self.rules: list[Rule] = []
        #: (policy, its ``rules`` settings, rule count, steps): see clearance_check_asset
        self._plan: _Plan = _NO_PLAN

    def __getstate__(self) -> dict[str, Any]:
        # the plan is this process's: it holds the policy and the checks inside their guards
        # (not picklable by name), and a spawned worker works its own out
        return {**self.__dict__, "_plan": _NO_PLAN}

    def rule(
        self,
        rule_id: str,
        *,
        title: str,
        principle: str,
        outcome: Outcome,
        remediation: str,
        guidance: str | None = None,
        params: Sequence[str] | None = None,
    ) -> Callable[[CheckFunction], CheckFunction]:
        """Decorator: define a rule whose docstring is the guidance sentence it enforces.

        :param params: the keys the rule reads from ``ctx.settings`` (default: the pack's).
        """

        def decorate(func: CheckFunction) -> CheckFunction:
            text = guidance if guidance is not None else (func.__doc__ or "").strip()
            self.rules.append(
                Rule(
                    id=rule_id,
                    title=title,
                    principle=principle,
                    outcome=outcome,
                    guidance=" ".join(text.split()),
                    remediation=remediation,
                    pack=self.pack,
                    check=func,
                    params=tuple(params) if params is not None else self.params,
                )
            )
            return func

        return decorate

    def define(self, rule: Rule) -> None:
        """Add a rule with no check of its own (engine semantics, or checked elsewhere)."""
        if rule.params is None and self.params is not None:
            rule = dataclasses.replace(rule, params=self.params)
        self.rules.append(rule)

    # -- hook implementations -------------------------------------------------------------
    @hookimpl
    def clearance_add_rules(self, registry: RuleRegistry) -> None:
        for rule in self.rules:
            registry.add(rule)  # the run's registry facade records which plugin added it

    @hookimpl
    def clearance_check_asset(
        self, asset: Asset, record: ProvenanceRecord, stage: StageConfig, policy: Policy
    ) -> list[Finding]:
        findings: list[Finding] = []
        plan = self._plan  # the enabled rules as steps, for this policy and its rules: settings
        if plan[0] is not policy or plan[1] is not policy.rules or plan[2] != len(self.rules):
            enabled = policy.enabled_rules(self.name, self.rules)
            plan = self._plan = (policy, policy.rules, len(self.rules), _steps(enabled))
        steps = plan[3]
        if not steps:
            return findings
        # one context per asset for every pack, re-pointed at each rule (checks finish
        # before the next), so what it derives from the record is derived once
        ctx = _context_for(steps[0][0], asset, record, stage, policy)
        for rule, check, guard in steps:
            ctx.rule = rule
            try:
                if guard and not (ctx.is_genai if guard == GENAI_ONLY else ctx.record.present):
                    continue  # what the guard's wrapper answers: nothing
                found = check(ctx)
                if found is None:
                    continue
                if isinstance(found, Finding):
                    findings.append(found)
                else:
                    for finding in found:  # most rules are generators that yield nothing
                        if finding is not None:
                            findings.append(finding)
            except KeyboardInterrupt:  # the user stopping the run
                raise
            except BaseException as exc:  # isolation: a crashed rule is a finding, never a pass
                findings.append(crash_finding(f"{self.name}:{rule.id}", exc))
        return findings

    def __repr__(self) -> str:
        return f"<RulePack {self.name} ({len(self.rules)} rules)>"


#: the read-only view of the policy site hooks are given (``clearance._readonly``)
_READ_ONLY = os.path.join("clearance", "_readonly.py")


def crash_finding(plugin: str, exc: BaseException) -> Finding:
    """The ``PRV-05`` finding for a checker, reader or rule that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    while len(frames) > 1 and frames[-1].filename.endswith(_READ_ONLY):
        frames.pop()  # the plugin's line that changed the run's policy, not the view's
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    return Finding(
        rule="PRV-05",
        message=f"checker {plugin} raised {describe(exc)}",
        outcome=Outcome.ESCALATE,
        evidence={"plugin": plugin, "exception": type(exc).__name__, "where": where},
        unsure=True,
        plugin=plugin,
    )


def invalid_result_finding(plugin: str, problem: str, *, kind: str = "checker") -> Finding:
    """The ``PRV-05`` finding for a checker, reader or approval plugin that returned
    something its hook does not allow; ``problem`` completes "returned ..."."""
    return Finding(
        rule="PRV-05",
        message=f"{kind} {plugin} returned {problem}",
        outcome=Outcome.ESCALATE,
        evidence={"plugin": plugin, "returned": problem},
        unsure=True,
        plugin=plugin,
    )
