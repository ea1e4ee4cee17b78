"""Clearance: audit generative-AI use in a VFX / post pipeline, stage by stage.

The public API for pipeline TDs. Everything a plugin or a publish tool may import is here;
everything else may change. Importing ``clearance`` loads neither the watcher (watchdog) nor
the command line, so it is cheap inside a DCC's Python (Nuke, Maya, Houdini: 3.10+)::

    from clearance import hookimpl, Finding, Outcome

    @hookimpl
    def clearance_check_asset(asset, record, stage, policy):
        if record.get("output.use") == "final" and not record.get("shot", None):
            return [Finding(rule="SHOW-02", message="final GenAI asset without a shot")]
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

from .hookspecs import hookimpl, hookspec
from .model import (
    MISSING,
    Asset,
    AssetResult,
    Finding,
    Outcome,
    PartialRecord,
    ProvenanceIssue,
    ProvenanceRecord,
    Rule,
    StageResult,
    Status,
)

if TYPE_CHECKING:
    from .engine import RunResult, Session, audit_record
    from .policy import ConfigError, Policy, StageConfig, load_policy
    from .rules import RuleContext, RulePack, RuleRegistry

__all__ = [
    "__version__",
    "hookimpl",
    "hookspec",
    "Asset",
    "AssetResult",
    "ConfigError",
    "Finding",
    "MISSING",
    "Outcome",
    "PartialRecord",
    "Policy",
    "ProvenanceIssue",
    "ProvenanceRecord",
    "Rule",
    "RuleContext",
    "RulePack",
    "RuleRegistry",
    "RunResult",
    "Session",
    "StageConfig",
    "StageResult",
    "Status",
    "audit_record",
    "load_policy",
    "scan",
]

_LAZY = {
    "RunResult": "engine",
    "Session": "engine",
    "audit_record": "engine",
    "ConfigError": "policy",
    "Policy": "policy",
    "StageConfig": "policy",
    "load_policy": "policy",
    "RuleContext": "rules",
    "RulePack": "rules",
    "RuleRegistry": "rules",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'clearance' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def scan(
    *paths: Any, config: Any = None, stage: str | None = None, write_log: bool = True
) -> RunResult:
    """Audit the assets under ``paths`` once, as ``clearance scan`` does (library entry point).

    :raises ConfigError: when the configuration is invalid.
    """
    from .discover import discover
    from .engine import Session
    from .policy import load_policy

    policy = load_policy(config, paths=[str(p) for p in paths])
    found = discover([str(p) for p in paths] or [str(policy.root)], policy, stage=stage)
    session = Session(policy, command="scan", paths=[str(p) for p in paths], write_log=write_log)
    session.warn(found.warnings)
    result = session.run(found.assets, errors=found.errors, whole_stages=found.whole_stages)
    session.close(result, exit_code=result.exit_code())
    return result
