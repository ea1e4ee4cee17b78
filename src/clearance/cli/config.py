"""``clearance validate``, ``rules``, ``plugins`` and ``init``: configuration at the command line."""

from __future__ import annotations

import argparse
import contextlib
import errno
import functools
import json
import os
import secrets
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType

from .._display import shown_path, shown_text
from .._paths import given_path
from .._resources import data_file
from .._yaml import DocumentError, DocumentReadError, load_document
from ..discover import assets_from_files, is_candidate, is_sidecar, not_a_file, split_frame
from ..model import Asset
from ..plugins import PluginHost
from ..policy import (
    CONFIG_NAME,
    ConfigError,
    Policy,
    config_document,
    default_policy,
    find_config,
    load_policy,
    referenced_files,
    schema_errors,
)
from ..provenance.sidecar import pairing_issues
from ._common import (
    EXIT_ERROR,
    EXIT_FINDINGS,
    EXIT_OK,
    add_config_options,
    approval_warnings,
    autoload_warning,
    blocked_plugins,
    error,
    policy_for,
    report_output,
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


#: files known by their name alone (``clearance init`` writes them)
_BY_NAME = {
    "tools.yaml": "tools.schema.json",
    "tools.yml": "tools.schema.json",
    "approvals.yaml": "approvals.schema.json",
    "approvals.yml": "approvals.schema.json",
}
#: top-level keys that say which schema a file is meant for, in the order they are tried
_BY_KEY = (
    ("clearance", "clearance.schema.json"),
    ("provenance", "provenance.schema.json"),
    ("tools", "tools.schema.json"),
    ("approvals", "approvals.schema.json"),
    ("consents", "approvals.schema.json"),
)
_WHAT = {
    "provenance.schema.json": "a provenance sidecar",
    "clearance.schema.json": "a clearance.yaml",
    "tools.schema.json": "a tool registry",
    "approvals.schema.json": "an approvals file",
}


def schema_for(
    path: Path, document: object, references: Mapping[Path, str] = MappingProxyType({})
) -> tuple[str, str]:
    """Which schema a file is checked against, and why when that is a guess (``""`` when
    its name, or a ``clearance.yaml`` that names it, says).

    :param references: files the configurations on the command line name (see
        :func:`~clearance.policy.referenced_files`); the nearest one's are looked up here.
    """
    name = path.name.lower()
    if name == CONFIG_NAME:
        return "clearance.schema.json", ""
    resolved = path.resolve()
    named = references.get(resolved) or _nearest_references(path).get(resolved)
    if named:
        return named, ""
    if name.endswith((".genai.yaml", ".genai.yml", ".genai.json")):
        return "provenance.schema.json", ""
    if name in _BY_NAME:
        return _BY_NAME[name], ""
    if isinstance(document, dict):
        for key, schema in _BY_KEY:
            if key in document:
                return schema, f"its top-level key {key!r}"
    return "provenance.schema.json", "neither its name nor its top-level keys say"


def _nearest_references(path: Path) -> Mapping[Path, str]:
    try:
        config = find_config([path])
    except ConfigError:  # not a file: the configuration's own problem, not this file's
        return {}
    return _references_of(config) if config is not None else {}


@functools.lru_cache(maxsize=64)
def _references_of(config: Path) -> Mapping[Path, str]:
    """:func:`referenced_files`, parsed once per configuration (``validate`` of many
    sidecars under one show asks for the same one each time)."""
    return MappingProxyType(referenced_files(config))


def run_validate(args: argparse.Namespace) -> int:
    _references_of.cache_clear()  # one command's memo: a configuration may change between
    _policy_of.cache_clear()
    _policy_near.cache_clear()
    pairings = _pairings(args.files)
    code = EXIT_OK
    references: dict[Path, str] = {}
    for raw in args.files:  # a configuration may name a file given after it, anywhere
        if Path(raw).name.lower() == CONFIG_NAME and Path(raw).is_file():
            references.update(referenced_files(Path(raw)))
    for raw in args.files:
        path = Path(raw)
        name = shown_path(raw)  # a value: two files never read as one (nl<LF>x and nl\nx)
        problem = not_a_file(path)
        if problem:
            error(f"{raw}: {problem}")
            code = EXIT_ERROR
            continue
        if not is_sidecar(path.name) and is_candidate(
            path.name, _policy_near(given_path(path).parent)
        ):  # an asset given for its sidecar: "not UTF-8 text; save the file as UTF-8" misled
            frame = split_frame(path.name)
            sidecar = f"{path.name}.genai.yaml" + (
                f", or {frame[0]}.genai.yaml for its sequence" if frame else ""
            )
            error(
                f"{raw}: is a media file (an asset), not a sidecar or a configuration: "
                f"validate its sidecar ({sidecar}), or audit the asset with `clearance check`"
            )
            code = EXIT_ERROR
            continue
        refused: list[tuple[str, str]] = []  # an impossible date: listed with the other errors
        try:
            document = load_document(path, field_errors=refused)
        except DocumentReadError as exc:  # not read (permission denied): not a verdict on it
            error(f"{raw}: cannot read it: {exc}")
            code = EXIT_ERROR
            continue
        except DocumentError as exc:
            _say(f"{name}: {exc}")
            code = max(code, EXIT_FINDINGS)
            continue
        schema, guess = schema_for(path, document, references)
        if guess:
            _say(
                f"{name}: checked as {_WHAT[schema]} (assumed: {guess}; no clearance.yaml "
                "names it, sidecars are named NAME.genai.yaml)"
            )
        if schema != "provenance.schema.json":
            document = config_document(document)  # as the configuration reads it
        errors = schema_errors(document, schema, yaml_errors=refused)
        if not errors and schema == "clearance.schema.json":
            errors = _policy_errors(path)
        paired = True
        if schema == "provenance.schema.json" and path.resolve() in pairings:
            assets = pairings[path.resolve()]
            paired = bool(assets)
            pairing = [
                (issue.field, issue.message)
                for asset, named in assets
                for issue in pairing_issues(document, named, asset)
            ]
            errors += list(dict.fromkeys(pairing))
        unpaired = "no asset it describes is next to it, so no scan reads it"
        if errors:
            code = max(code, EXIT_FINDINGS)
            for field, reason in errors:
                _say(f"{name}: {field}: {reason}" if field else f"{name}: {reason}")
            if not paired:
                _say(f"{name}: {unpaired}")
        else:
            _say(f"{name}: valid ({schema.split('.')[0]})" + ("" if paired else f"; {unpaired}"))
    return code


def _say(line: str) -> None:
    with report_output():  # `| head`: the files after it are still validated, and counted
        print(shown_text(line))


def _pairings(files: Sequence[str]) -> dict[Path, list[tuple[Asset, Path]]]:
    """The assets each sidecar among ``files`` is a sidecar of (the one read, or another:
    :attr:`~clearance.model.Asset.other_sidecars`), each with the sidecar as the asset names
    it, by the sidecar's resolved path; found as ``check`` finds them, with the nearest
    configuration's media extensions (above the folder as given: a stage folder that is a
    link is in the show), each folder listed once. ``validate`` reports the pairing errors
    an audit of those assets reports."""
    groups: dict[int, tuple[Policy, list[Path]]] = {}
    pairs: dict[Path, list[tuple[Asset, Path]]] = {}
    for raw in files:
        path = Path(raw)
        if is_sidecar(path.name) and os.path.isfile(path):  # (a file not reachable: False)
            policy = _policy_near(given_path(path).parent)
            groups.setdefault(id(policy), (policy, []))[1].append(path)
            pairs[path.resolve()] = []
    for policy, paths in groups.values():
        for asset in assets_from_files(paths, policy).assets:
            for sidecar in (asset.sidecar, *asset.other_sidecars):
                if sidecar is None:
                    continue
                real = Path(os.path.realpath(sidecar))
                if real in pairs:
                    pairs[real].append((asset, sidecar))
    return pairs


@functools.lru_cache(maxsize=64)
def _policy_near(folder: Path) -> Policy:
    try:
        config = find_config([folder])
    except ConfigError:
        config = None
    return default_policy(folder) if config is None else _policy_of(config)


@functools.lru_cache(maxsize=64)
def _policy_of(config: Path) -> Policy:
    """The configuration's policy, loaded once per command (``validate`` of many sidecars);
    one that does not load (its own error, reported when it is validated) gives the
    built-in default's media extensions, rooted at its folder."""
    try:
        return load_policy(config)
    except ConfigError:
        return default_policy(config.parent)


def _policy_errors(path: Path) -> list[tuple[str, str]]:
    """What a schema-valid ``clearance.yaml`` gets wrong: the files it refers to, stage names,
    plugins that do not load, and ``rules:`` entries no loaded rule knows."""
    try:
        policy = load_policy(path)
    except ConfigError as exc:  # this file's own field, as a schema error is named
        if exc.field and os.path.realpath(exc.file) == os.path.realpath(path):
            return [(exc.field, exc.message)]
        return [("", str(exc))]  # a file it refers to: named
    errors = [  # what scan refuses to open (it would create a file that is not there)
        (field, f"{target} is a folder, not a file")
        for field, target in (("audit.log", policy.audit_log), ("audit.state", policy.state_path))
        if target is not None and target.is_dir()
    ]
    with stdout_to_stderr():  # what plugins print while they load; stdout is the verdicts'
        host = PluginHost(policy)
        errors += [("plugins", str(failure)) for failure in host.failures]
        errors += [(e.field, e.message) for e in rule_config_errors(policy, host, [])]
        approval_warnings(policy, host, [])  # on stderr: a warning, not an error
    return errors


# -- rules and plugins --------------------------------------------------------------------


def run_rules(args: argparse.Namespace) -> int:
    policy = policy_for(args, ["."])
    blocked = blocked_plugins(args)
    with stdout_to_stderr():  # what plugins print while they load; stdout is the listing's
        host = PluginHost(policy, blocked=blocked)
    for failure in host.failures:
        error(str(failure))
    autoload_warning()
    rows = []
    for rule in host.registry:
        data = rule.to_dict()
        data["enabled"] = policy.rule_enabled(rule.id)
        override = policy.rule_outcome(rule.id)
        data["configured_outcome"] = override.value if override else None
        data["plugin"] = host.registry.owner(rule.id)
        rows.append(data)
    with report_output():  # `| head`: the exit code still says whether the plugins loaded
        if args.format == "json":
            json.dump({"rules": rows}, sys.stdout, indent=2, ensure_ascii=False)
            sys.stdout.write("\n")
        else:
            width = max([len(row["id"]) for row in rows] + [12]) + 2  # a site's long ids too
            print(f"{'id':<{width}}{'outcome':<10}{'principle':<18}title")
            for row in rows:
                outcome = row["configured_outcome"] or row["outcome"]
                flag = "" if row["enabled"] else "  (disabled)"
                print(
                    shown_text(
                        f"{row['id']:<{width}}{outcome:<10}{row['principle']:<18}{row['title']}"
                    )
                    + flag
                )
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
    with report_output():  # `| head`: the exit code still says whether the plugins loaded
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
                print(shown_text(f"{info.name:<40}{info.kind:<11}{where}"))
                hooks = ", ".join(h.replace("clearance_", "") for h in info.hooks)
                print(shown_text(f"{'':<4}{info.source}; hooks: {hooks}"))
            print()
            for stage in stages:
                names = [p.name for p in host.plugins_for(stage) if p.kind != "builtin"]
                print(
                    shown_text(
                        f"stage {stage}: built-ins" + (" + " + ", ".join(names) if names else "")
                    )
                )
            for failure in host.failures:
                print(f"FAILED {shown_text(failure)}")
    autoload_warning()
    problems = rule_config_errors(policy, host, blocked)
    for problem in problems:
        error(str(problem))
    return EXIT_ERROR if host.failures or problems else EXIT_OK


# -- init ---------------------------------------------------------------------------------


#: the starter set, in the order it is written: ``clearance.yaml`` last, so that a folder
#: whose writing stops midway is not taken for a configured root by ``scan``
STARTER_FILES = ("tools.yaml", "approvals.yaml", "clearance.yaml")
_SHOWN_ORDER = ("clearance.yaml", "tools.yaml", "approvals.yaml")


def run_init(args: argparse.Namespace) -> int:
    if not args.dir:  # `clearance init --force "$SHOW"`, unset: not the current folder's files
        error(
            "DIR is empty (an unset variable?); give the folder to write the configuration "
            "in, or no DIR for the current folder"
        )
        return EXIT_ERROR
    target = Path(args.dir)
    try:
        target.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        what = (
            f"a link to nothing ({os.readlink(target)})"
            if os.path.islink(target) and not os.path.exists(target)
            else "a file"
        )
        error(f"{target}: is {what}, not a folder; give the folder to write the configuration in")
        return EXIT_ERROR
    except OSError as exc:
        error(f"{target}: cannot create the folder: {exc.strerror or exc}")
        return EXIT_ERROR
    # every target is looked at before anything is written: a refusal writes nothing
    dests = {name: target / name for name in _SHOWN_ORDER}
    existing = [str(d) for d in dests.values() if os.path.lexists(d)]
    if existing and not args.force:
        verb = "exists" if len(existing) == 1 else "exist"
        error(f"{_listed(existing)} {verb}; nothing written; use --force to overwrite")
        return EXIT_ERROR
    folders = [str(d) for d in dests.values() if d.is_dir()]
    if folders:  # --force overwrites files, never a folder and what is in it
        what = "is a folder" if len(folders) == 1 else "are folders"
        error(f"{_listed(folders)} {what}, not a file; nothing written")
        return EXIT_ERROR
    written = _write_starter_set(target, dests, force=args.force)
    if written is None:
        return EXIT_ERROR
    for name in _SHOWN_ORDER:  # names as values: a line break in DIR starts no line
        print(f"wrote {shown_path(dests[name])}")
    print(
        f"next: edit {shown_path(target / 'clearance.yaml')} (stages, production), then run "
        f"`clearance scan {shown_path(target)}`"
    )
    return EXIT_OK


def _write_starter_set(
    target: Path, dests: Mapping[str, Path], *, force: bool = False
) -> list[Path] | None:
    """Write the starter files into ``target``: each to a temporary name first, then all
    put into place, so a failure while writing (an unwritable folder, a full disk) leaves
    nothing behind. Without ``force`` a file is never overwritten, not even one made after
    the check (:func:`_place`). A placing that fails takes back the files this run created,
    and says which it had overwritten. None, said on stderr, when the set was not written."""
    staged: dict[str, Path] = {}
    for name in STARTER_FILES:
        try:
            staged[name] = _staged_copy(data_file("configs", name), target, name)
        except OSError as exc:
            for temp in staged.values():
                _remove(temp)
            error(f"{dests[name]}: cannot write it: {exc.strerror or exc}; nothing written")
            return None
    created: list[Path] = []
    overwritten: list[str] = []
    for name in STARTER_FILES:
        dest = dests[name]
        existed = os.path.lexists(dest)
        try:
            _place(staged[name], dest, force=force)
        except OSError as exc:
            for temp in staged.values():
                _remove(temp)
            for path in created:
                _remove(path)
            left = (
                f"{_listed(overwritten)} {'was' if len(overwritten) == 1 else 'were'} already "
                "overwritten (--force): the starter set there is incomplete"
                if overwritten
                else "nothing written"
            )
            why = (
                "it was made while init ran; it is left as it is"
                if isinstance(exc, FileExistsError)
                else f"cannot write it: {exc.strerror or exc}"
            )
            error(f"{dest}: {why}; {left}")
            return None
        del staged[name]
        if existed:
            overwritten.append(str(dest))
        else:
            created.append(dest)
    return [dests[name] for name in STARTER_FILES]


#: what ``link()`` says on a file system that has no hard links (some network shares, FAT)
_NO_LINKS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK})


def _place(staged: Path, dest: Path, *, force: bool) -> None:
    """Put the temporary file ``staged`` at ``dest``. With ``force`` it replaces what is
    there; without, a file at ``dest`` (one made after init looked, by another init or a
    user) raises :class:`FileExistsError` and is left alone: the file is linked in, which
    never replaces a name, then its temporary name removed. Where the file system has no
    links, ``dest`` is looked at again just before the rename."""
    if force:
        os.replace(staged, dest)
        return
    try:
        os.link(staged, dest, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINKS:
            raise
        if os.path.lexists(dest):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(dest)) from None
        os.rename(staged, dest)
        return
    _remove(staged)


def _staged_copy(source: Path, folder: Path, name: str) -> Path:
    """``source`` copied to a new hidden temporary file next to ``folder/name`` (never a
    scanned name: hidden, ``.tmp``), created with the umask's permissions as
    ``shutil.copyfile`` would."""
    while True:
        temp = folder / f".{name}.{secrets.token_hex(4)}.tmp"
        try:
            dst = open(temp, "xb")  # noqa: SIM115 - closed below, the temporary file removed
        except FileExistsError:
            continue  # another one's temporary name: draw again
        try:
            with dst, source.open("rb") as src:
                shutil.copyfileobj(src, dst)  # (a full disk may say so at close only)
        except BaseException:
            _remove(temp)
            raise
        return temp


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _listed(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
