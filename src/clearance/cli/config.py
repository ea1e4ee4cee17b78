"""``clearance validate``, ``rules``, ``plugins`` and ``init``: configuration at the command line."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from .._resources import data_file
from .._yaml import DocumentError, load_document
from ..plugins import PluginHost
from ..policy import CONFIG_NAME, ConfigError, load_policy, schema_errors
from ._common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    add_config_options,
    blocked_plugins,
    error,
    policy_for,
    rule_config_errors,
    stdout_to_stderr,
)


def register(sub: argparse._SubParsersAction) -> None:
    validate = sub.add_parser("validate", help="validate sidecars and configs against the schemas")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(func=run_validate)

    rules = sub.add_parser("rules", help="list the rules (built-in and site) and their outcomes")
    add_config_options(rules)
    rules.add_argument("--format", "-f", choices=("table", "json"), default="table")
    rules.set_defaults(func=run_rules)

    plugins = sub.add_parser("plugins", help="list the plugins attached to each stage")
    add_config_options(plugins)
    plugins.add_argument("--format", "-f", choices=("table", "json"), default="table")
    plugins.set_defaults(func=run_plugins)

    init = sub.add_parser("init", help="write a starter configuration")
    init.add_argument("dir", nargs="?", default=".", metavar="DIR")
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(func=run_init)


# -- validate -----------------------------------------------------------------------------


def schema_for(path: Path, document: object) -> str:
    """Which schema a file is checked against, from its name and top-level keys."""
    name = path.name.lower()
    if name.endswith((".genai.yaml", ".genai.yml", ".genai.json")):
        return "provenance.schema.json"
    if isinstance(document, dict):
        if "clearance" in document or name == CONFIG_NAME:
            return "clearance.schema.json"
        if "provenance" in document:
            return "provenance.schema.json"
        if "tools" in document:
            return "tools.schema.json"
        if "approvals" in document or "consents" in document:
            return "approvals.schema.json"
    return "provenance.schema.json"


def run_validate(args: argparse.Namespace) -> int:
    code = EXIT_OK
    for raw in args.files:
        path = Path(raw)
        if not path.is_file():
            error(f"{raw}: no such file")
            code = EXIT_ERROR
            continue
        try:
            document = load_document(path)
        except DocumentError as exc:
            print(f"{raw}: {exc}")
            code = max(code, EXIT_FINDINGS)
            continue
        schema = schema_for(path, document)
        errors = schema_errors(document, schema)
        if not errors and schema == "clearance.schema.json":
            errors = _policy_errors(path)
        if errors:
            code = max(code, EXIT_FINDINGS)
            for field, reason in errors:
                print(f"{raw}: {field}: {reason}" if field else f"{raw}: {reason}")
        else:
            print(f"{raw}: valid ({schema.split('.')[0]})")
    return code


def _policy_errors(path: Path) -> list[tuple[str, str]]:
    """What a schema-valid ``clearance.yaml`` gets wrong: the files it refers to, stage names,
    plugins that do not load, and ``rules:`` entries no loaded rule knows."""
    try:
        policy = load_policy(path)
    except ConfigError as exc:
        return [("", str(exc))]
    host = PluginHost(policy)
    errors = [("plugins", str(failure)) for failure in host.failures]
    errors += [(e.field, e.message) for e in rule_config_errors(policy, host, [])]
    return errors


# -- rules and plugins --------------------------------------------------------------------


def run_rules(args: argparse.Namespace) -> int:
    policy = policy_for(args, ["."])
    blocked = blocked_plugins(args)
    with stdout_to_stderr():  # what plugins print while they load; stdout is the listing's
        host = PluginHost(policy, blocked=blocked)
    for failure in host.failures:
        error(str(failure))
    rows = []
    for rule in host.registry:
        data = rule.to_dict()
        data["enabled"] = policy.rule_enabled(rule.id)
        override = policy.rule_outcome(rule.id)
        data["configured_outcome"] = override.value if override else None
        data["plugin"] = host.registry.owner(rule.id)
        rows.append(data)
    if args.format == "json":
        json.dump({"rules": rows}, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        print(f"{'id':<14}{'outcome':<10}{'principle':<18}title")
        for row in rows:
            outcome = row["configured_outcome"] or row["outcome"]
            flag = "" if row["enabled"] else "  (disabled)"
            print(f"{row['id']:<14}{outcome:<10}{row['principle']:<18}{row['title']}{flag}")
        print(
            f"\n{len(rows)} rules; `clearance rules --format json` gives guidance and remediation"
        )
    problems = rule_config_errors(policy, host, blocked)
    for problem in problems:  # after the listing, which shows the ids and parameters
        error(str(problem))
    return EXIT_ERROR if host.failures or problems else EXIT_OK


def run_plugins(args: argparse.Namespace) -> int:
    policy = policy_for(args, ["."])
    blocked = blocked_plugins(args)
    with stdout_to_stderr():  # what plugins print while they load; stdout is the listing's
        host = PluginHost(policy, blocked=blocked)
    stages = [s.name for s in policy.stages]
    if args.format == "json":
        doc = {
            "stages": {s: [p.name for p in host.plugins_for(s)] for s in stages},
            "plugins": [
                {
                    "name": p.name,
                    "kind": p.kind,
                    "source": p.source,
                    "hooks": p.hooks,
                    "stages": sorted(p.stages) if p.stages is not None else None,
                }
                for p in host.plugins.values()
            ],
            "failures": [
                {"name": f.name, "source": f.source, "error": f.error} for f in host.failures
            ],
        }
        json.dump(doc, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for info in host.plugins.values():
            where = "all stages" if info.stages is None else ", ".join(sorted(info.stages))
            print(f"{info.name:<40}{info.kind:<11}{where}")
            print(
                f"{'':<4}{info.source}; hooks: {', '.join(h.replace('clearance_', '') for h in info.hooks)}"
            )
        print()
        for stage in stages:
            names = [p.name for p in host.plugins_for(stage) if p.kind != "builtin"]
            print(f"stage {stage}: built-ins" + (" + " + ", ".join(names) if names else ""))
        for failure in host.failures:
            print(f"FAILED {failure}")
    problems = rule_config_errors(policy, host, blocked)
    for problem in problems:
        error(str(problem))
    return EXIT_ERROR if host.failures or problems else EXIT_OK


# -- init ---------------------------------------------------------------------------------


def run_init(args: argparse.Namespace) -> int:
    target = Path(args.dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        error(f"{target}: is a file, not a folder; give the folder to write the configuration in")
        return EXIT_ERROR
    except OSError as exc:
        error(f"{target}: cannot create the folder: {exc.strerror or exc}")
        return EXIT_ERROR
    written = []
    for name in ("clearance.yaml", "tools.yaml", "approvals.yaml"):
        dest = target / name
        if dest.exists() and not args.force:
            error(f"{dest} exists; use --force to overwrite")
            return EXIT_ERROR
        shutil.copyfile(data_file("configs", name), dest)
        written.append(str(dest))
    for path in written:
        print(f"wrote {path}")
    print(
        f"next: edit {target / 'clearance.yaml'} (stages, production), then run `clearance scan {target}`"
    )
    return EXIT_OK
