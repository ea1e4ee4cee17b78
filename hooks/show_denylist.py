"""SITE-DENY-01: prompts must not name the works and people on the show's denylist.

An example site plugin for pipeline TDs, written with plain ``@hookimpl`` functions (compare
``hooks/plate_format.py``, which uses a ``RulePack``). Copy it next to your show's
configuration, edit nothing here, and put the show's list in ``clearance.yaml``::

    plugins: [../hooks/show_denylist.py]        # every stage (or list it under one stage)
    rules:
      SITE-DENY-01:
        works: ["Dune", "Mad Max"]              # franchises the show must not evoke
        names: ["Denis Villeneuve", "Project Nightjar"]   # people, codenames
        outcome: block                          # optional: the default is `approval`

What it checks, on every asset whose provenance records workflow steps:

* each step's ``prompt.text``, and
* each step's ``prompt.references[].name``,

against every entry of ``works`` and ``names``, case-insensitively and on word boundaries
("Dune" matches "like the Dune sandworms", not "low dunes"). One finding per step and
entry, naming the step, the tool, the entry and where it was found. The prompt text itself
never goes into the finding: findings are written to the audit log, and prompts stay out
of it (only Clearance's own hashing is allowed to see them).

Why a site rule when ``NFX-C2`` has a ``denylist`` parameter? ``NFX-C2`` is about protected
works and real people in general; a show's denylist is usually more specific (a competing
franchise, a director the marketing team must not be compared with, an unreleased project's
codename that must never reach an outside tool) and is owned by the show, with its own
approvals: ``APR-...: {rules: [SITE-DENY-01], ...}`` clears a finding of this rule only.

Testing it: see ``tests/test_site_hooks.py`` and ``docs/first-checker.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from clearance import Finding, Outcome, Rule, hookimpl

RULE_ID = "SITE-DENY-01"

RULE = Rule(
    id=RULE_ID,
    title="Prompt names a work or person on the show denylist",
    principle="creative-output",
    outcome=Outcome.APPROVAL,
    guidance=(
        'Avoid inputs "that reference copyrighted materials or likenesses of public figures '
        'or deceased individuals without appropriate permissions" (studio GenAI guidance, '
        "Creative Output); the show keeps its own list of works and names."
    ),
    remediation=(
        "Rewrite the prompt without the denylisted work or name and regenerate, or ask the "
        "show's producer for a written approval covering SITE-DENY-01."
    ),
    pack="site",
    params=("works", "names"),  # a misspelled key in clearance.yaml is then a config error
)


@hookimpl
def clearance_add_rules(registry: Any) -> None:
    """Register SITE-DENY-01 so findings, approvals and ``clearance rules`` know it."""
    registry.add(RULE)


@hookimpl
def clearance_check_asset(asset: Any, record: Any, stage: Any, policy: Any) -> list[Finding]:
    """Flag every prompt (text or reference name) that names a denylisted work or person."""
    if not policy.rule_enabled(RULE_ID):
        return []
    settings = policy.rule_settings(RULE_ID)
    entries = [("work", w) for w in _strings(settings.get("works"), "works")]
    entries += [("name", n) for n in _strings(settings.get("names"), "names")]
    if not entries:
        return []
    patterns = [(kind, entry, _word_pattern(entry)) for kind, entry in entries]
    steps = record.get("steps", [])
    if not isinstance(steps, list):
        return []
    findings: list[Finding] = []
    for index, step in enumerate(steps):
        if not isinstance(step, dict):
            continue
        for kind, entry, pattern in patterns:
            where = [field for field, text in _prompt_texts(step) if pattern.search(text)]
            if where:
                findings.append(
                    Finding(
                        rule=RULE_ID,
                        message=f"step {index} ({step.get('tool', '?')}): the prompt names "
                        f"{entry!r}, which is on the show denylist ({kind}s)",
                        evidence={
                            "step": index,
                            "tool": step.get("tool"),
                            "denylisted": entry,
                            "kind": kind,
                            "where": where,
                        },
                    )
                )
    return findings


def _strings(value: Any, key: str) -> list[str]:
    """The configured list, tolerating a single string; blanks dropped. A number is its
    text (YAML reads ``1984`` as one). Anything else raises, naming the setting: the check
    is then ``PRV-05`` on every asset (escalate, never a pass) until the list is fixed; an
    entry dropped without a word would let a prompt naming it pass."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        raise ValueError(
            f"rules.{RULE_ID}.{key}: expected a list of names, got {type(value).__name__}"
        )
    names = []
    for i, item in enumerate(value):
        if isinstance(item, (int, float)) and not isinstance(item, bool):
            item = str(item)
        if not isinstance(item, str):  # `[2001: A Space Odyssey]` is a mapping in YAML
            raise ValueError(
                f"rules.{RULE_ID}.{key}[{i}]: expected a name, got {item!r} (quote it)"
            )
        if item.strip():
            names.append(item.strip())
    return names


def _word_pattern(entry: str) -> re.Pattern[str]:
    """Case-insensitive match of ``entry`` as whole words (spaces match any whitespace)."""
    words = [re.escape(word) for word in entry.split()]
    return re.compile(r"(?<!\w)" + r"\s+".join(words) + r"(?!\w)", re.IGNORECASE)


def _prompt_texts(step: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path within the step, text) for the prompt text and every reference name."""
    prompt = step.get("prompt")
    if not isinstance(prompt, dict):
        return
    text = prompt.get("text")
    if isinstance(text, str):
        yield "prompt.text", text
    references = prompt.get("references")
    if isinstance(references, list):
        for i, reference in enumerate(references):
            if isinstance(reference, dict) and isinstance(reference.get("name"), str):
                yield f"prompt.references[{i}].name", reference["name"]
