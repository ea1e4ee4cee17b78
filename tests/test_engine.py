"""The engine: per-stage events, finding settlement (defaults, overrides, unsure), library API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from clearance import Outcome, audit_record
from clearance.policy import Policy, load_policy
from clearance.testing import ClearanceRun
from conftest import genai_sidecar, run_cli

EVENT_ORDER = [
    "run.started",
    "policy.loaded",
    "plugin.loaded",
    "stage.started",
    "finding",
    "asset.audited",
    "stage.finished",
    "run.finished",
]


def test_run_writes_the_design_events_in_order_with_envelope(clearance_run) -> None:
    run = clearance_run()
    run.asset("gen/a.png")
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan()
    events = result.events()
    names = [e["event"] for e in events]
    firsts = sorted({n: names.index(n) for n in names}.items(), key=lambda kv: kv[1])
    assert [n for n, _ in firsts] == EVENT_ORDER
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    for event in events:
        assert list(event)[:5] == ["schema", "seq", "prev", "time", "event"]
        assert event["schema"] == "clearance.event/1"
        assert event["run_id"] == events[0]["run_id"]
    stages = [e["stage"] for e in events if e["event"] == "stage.started"]
    # in pipeline order; delivery too: walked whole, empty (its stage checks decide again)
    assert stages == ["gen", "comp", "delivery"], "stages run in pipeline order"
    finished = [e for e in events if e["event"] == "stage.finished"]
    assert (
        finished[0]["details"]["counts"]["escalate"] == 1
        and finished[1]["details"]["counts"]["pass"] == 1
    )
    policy_event = next(e for e in events if e["event"] == "policy.loaded")
    assert all(len(h) == 64 for h in policy_event["details"]["files"].values())
    audited = next(
        e for e in events if e["event"] == "asset.audited" and e["asset"] == "comp/b.png"
    )
    assert audited["details"]["prompts"][0].startswith("sha256:")
    assert audited["details"]["inputs"] == [
        {"ref": "plates/sh010_plate_v001.####.exr", "class": "owned_released"}
    ]
    assert events[-1]["event"] == "run.finished" and events[-1]["details"]["exit_code"] == 1


def test_two_runs_append_to_one_chain(clearance_run) -> None:
    run = clearance_run()
    run.asset("comp/b.png", sidecar=genai_sidecar())
    run.scan()
    events = run.scan().events()
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert len({e["run_id"] for e in events}) == 2


def test_unsure_findings_never_drop_below_escalate(tmp_path: Path) -> None:
    policy = Policy(root=tmp_path, rules={"PRV-01": {"outcome": "notice"}})
    result = audit_record(None, policy=policy)
    assert [(f.rule, f.effective_outcome) for f in result.findings] == [
        ("PRV-01", Outcome.ESCALATE)
    ]


def test_outcome_override_and_disable(tmp_path: Path) -> None:
    doc = genai_sidecar(disclosure={})
    assert {f.rule for f in audit_record(doc, root=tmp_path).findings} >= {"NFX-00"}
    policy = Policy(root=tmp_path, rules={"NFX-00": {"outcome": "approval"}})
    nfx00 = [f for f in audit_record(doc, policy=policy).findings if f.rule == "NFX-00"]
    assert nfx00[0].effective_outcome is Outcome.APPROVAL
    policy = Policy(root=tmp_path, rules={"NFX-00": {"enabled": False}})
    assert "NFX-00" not in {f.rule for f in audit_record(doc, policy=policy).findings}


def test_finding_carries_rule_metadata(tmp_path: Path) -> None:
    result = audit_record(None, root=tmp_path, stage="comp", rel="comp/x.exr")
    finding = result.findings[0]
    data = finding.to_dict()
    assert data["stage"] == "comp" and data["asset"] == "comp/x.exr"
    assert data["principle"] == "provenance" and data["remediation"]
    assert data["status"] == "open" and data["approval"] is None


def test_prompt_text_is_redacted_from_findings(tmp_path: Path) -> None:
    doc = genai_sidecar()
    doc["steps"][0]["prompt"]["text"] = "make it look like Squid Game"
    policy = Policy(root=tmp_path, rules={"NFX-C2": {"denylist": ["Squid Game"]}})
    result = audit_record(doc, policy=policy)
    text = json.dumps([f.to_dict() for f in result.findings])
    assert "make it look like Squid Game" not in text
    assert "NFX-C2" in text


def test_import_clearance_does_not_load_watcher_or_cli() -> None:
    code = (
        "import sys, clearance\n"
        "from clearance import hookimpl, Finding, Outcome, RulePack, audit_record\n"
        "bad = [m for m in ('watchdog', 'clearance.cli', 'clearance.watch', 'argparse', 'sqlite3') if m in sys.modules]\n"
        "print(bad)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_library_scan_entry_point(clearance_run) -> None:
    import clearance

    run = clearance_run()
    run.asset("comp/b.png", sidecar=genai_sidecar())
    run.write_config()
    result = clearance.scan(run.root, write_log=False)
    assert [a.asset.rel for a in result.assets] == ["comp/b.png"] and result.exit_code() == 0


QUOTER = """
from clearance import hookimpl, Finding, Outcome
from clearance.rules import Rule

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-Q1", title="quote", principle="site", outcome=Outcome.NOTICE))

@hookimpl
def clearance_check_asset(record):
    text = record.get("steps")[0]["prompt"]["text"]
    words = text.split()
    return [Finding(rule="SITE-Q1", message="prompt starts " + text[:18], evidence={
        "tail": text[7:],
        "shouted": {"nested": ["  " + " ".join(words[1:4]).upper() + "  "]},
        "spaced": "say:  HERO\\n reveal   on  the roof, please",
        "cut": text[9:21],
        "words": words,
        "short": "the rooftop",
    })]
"""


def test_a_quoted_part_of_a_prompt_is_redacted_like_the_whole(clearance_run, tmp_path) -> None:
    plugin = tmp_path / "quoter.py"
    plugin.write_text(QUOTER, encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    prompt = "secret hero reveal on the rooftop"
    doc = genai_sidecar()
    doc["steps"][0]["prompt"]["text"] = prompt
    run.asset("comp/a.png", sidecar=doc)
    events = run.scan().events()
    log = json.dumps(events)
    finding = next(e for e in events if e.get("rule") == "SITE-Q1")
    marker = (
        "[prompt "
        + next(e["details"]["prompts"][0] for e in events if e["event"] == "asset.audited")[:19]
        + "]"
    )
    evidence = finding["details"]["evidence"]
    assert finding["message"] == "prompt starts " + marker
    assert evidence["tail"] == marker
    assert evidence["shouted"] == {"nested": ["  " + marker + "  "]}  # case, nesting
    assert evidence["spaced"] == "say:  " + marker + ", please"  # whitespace differences
    assert evidence["cut"] == marker  # "ro reveal on": cut mid-word at both ends
    for part in ("hero reveal", "reveal on the", "HERO", "ro reveal on"):
        assert part not in log
    # the documented limit: single words, and pieces under 12 characters or 3 words, stay
    assert evidence["words"] == prompt.split() and evidence["short"] == "the rooftop"


def test_redaction_of_a_100_kb_prompt_finds_every_quote() -> None:
    from clearance.engine import prompt_hash, redact_prompts

    words = [f"w{i:05d}" for i in range(15_000)]
    prompt = " ".join(words)  # ~105 KB
    marker = f"[prompt {prompt_hash(prompt)[:19]}]"
    quotes = [" ".join(words[i : i + 3]) for i in range(0, 15_000, 500)]
    message = " | ".join(f"note {i}: {q}" for i, q in enumerate(quotes)) * 3
    evidence = {"parts": quotes, "all": prompt, "big": message}
    redacted = redact_prompts({"message": message, "evidence": evidence}, [prompt])
    text = json.dumps(redacted)
    assert not any(q in text for q in quotes)
    assert redacted["evidence"]["all"] == marker
    assert redacted["evidence"]["parts"] == [marker] * len(quotes)
    assert redacted["message"].startswith(f"note 0: {marker} | note 1: {marker}")


PASSER = """
from clearance import hookimpl, Finding, Outcome
from clearance.rules import Rule

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-P1", title="logged", principle="site", outcome=Outcome.PASS))

@hookimpl
def clearance_check_asset():
    return [Finding(rule="SITE-P1", message="logged by the site")]
"""


def test_a_pass_finding_is_never_open_in_scan_log_or_report(tmp_path: Path) -> None:
    plugin = tmp_path / "passer.py"
    plugin.write_text(PASSER, encoding="utf-8")
    run = ClearanceRun(tmp_path / "show", plugins=[str(plugin)])
    run.root.mkdir()
    talent = [
        {
            "performer": "P-0042",
            "replica": "none",
            "alteration": "customary",
            "alteration_category": "cosmetics",
        }
    ]
    run.asset("comp/a.png", sidecar=genai_sidecar(talent=talent, qa={"test_record": "QA-1"}))
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 0, done.stderr
    [item] = done.json()["assets"]
    passes = {f["rule"]: f for f in item["findings"] if f["outcome"] == "pass"}
    assert set(passes) == {"NFX-T3", "SITE-P1"}  # a built-in rule's and a site plugin's
    assert all(f["status"] is None and f["approval"] is None for f in passes.values())
    assert item["outcome"] == "pass"
    log = run.root / ".clearance" / "audit.jsonl"
    events = [json.loads(line) for line in log.open()]
    logged = [e for e in events if e["event"] == "finding" and e["outcome"] == "pass"]
    assert sorted(e["rule"] for e in logged) == ["NFX-T3", "SITE-P1"]
    assert all(e["status"] is None for e in logged)
    junit = run_cli("report", str(log), "--format", "junit")
    assert junit.code == 0, junit.stderr
    assert "[pass] NFX-T3: performer P-0042" in junit.stdout
    assert "[pass] SITE-P1: logged by the site" in junit.stdout and "(open)" not in junit.stdout
    report = run_cli("report", str(log), "--format", "json").json()
    rows = [f for a in report["assets"] for f in a["findings"] if f["outcome"] == "pass"]
    assert len(rows) == 2 and all(f["status"] is None for f in rows)
    assert report["summary"]["open_findings"] == 0


CHANGER = """
import unicodedata
from clearance import hookimpl, Finding, Outcome
from clearance.rules import Rule

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-C1", title="c", principle="site", outcome=Outcome.NOTICE))

@hookimpl
def clearance_check_asset(record):
    p = record.get("steps")[0]["prompt"]["text"]
    return [Finding(rule="SITE-C1", message="zw: " + "\\u200b".join(p), evidence={
        p: True,
        "slug": "_".join(p.split()) + ".png",
        "nfd": unicodedata.normalize("NFD", p),
        "soft": "\\u00ad".join(p.split(" ")),
        "dashed": "-".join(p.upper().split()),
    })]
"""


def _marker_of(events: list[dict], asset: str = "comp/a.png") -> str:
    audited = next(e for e in events if e["event"] == "asset.audited" and e["asset"] == asset)
    return "[prompt " + audited["details"]["prompts"][0][:19] + "]"


def test_a_prompt_quoted_with_its_characters_changed_is_redacted(clearance_run, tmp_path) -> None:
    plugin = tmp_path / "changer.py"
    plugin.write_text(CHANGER, encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    doc = genai_sidecar()
    doc["steps"][0]["prompt"]["text"] = "desert street at dusk, café neon"
    run.asset("comp/a.png", sidecar=doc)
    events = run.scan().events()
    log = json.dumps(events, ensure_ascii=False)
    for part in ("desert", "dusk", "DESERT", "de\u0301"):
        assert part not in log, part
    marker = _marker_of(events)
    finding = next(e for e in events if e.get("rule") == "SITE-C1")
    assert finding["message"] == "zw: " + marker  # zero-width spaces between the letters
    assert finding["details"]["evidence"] == {
        marker: True,  # a key
        "slug": marker + ".png",  # the right span: the suffix stays
        "nfd": marker,  # decomposed accents
        "soft": marker,  # soft hyphens for spaces
        "dashed": marker,
    }


LEAKER = """
import unicodedata
from clearance import hookimpl, Finding, Outcome
from clearance.rules import Rule

MODES = {"KEY": Outcome.NOTICE, "TEXT": Outcome.NOTICE, "ASK": Outcome.APPROVAL,
         "STAGE": Outcome.NOTICE}

def prompts(record):
    return [s["prompt"]["text"] for s in record.get("steps")]

@hookimpl
def clearance_add_rules(registry):
    for mode, outcome in MODES.items():
        registry.add(Rule(id="SITE-L" + mode, title=mode, principle="site", outcome=outcome))

@hookimpl
def clearance_check_asset(record):
    out = []
    for p in prompts(record):
        out.append(Finding(rule="SITE-LKEY", message="a key", evidence={p: True}))
        out.append(Finding(rule="SITE-LTEXT", message="zw: " + "\\u200b".join(p),
            remediation="Rewrite: " + p, principle="said " + p.upper(),
            evidence={"slug": "_".join(p.split()) + ".png",
                      "nfd": unicodedata.normalize("NFD", p),
                      "soft": "\\u00ad".join(p.split(" "))}))
        out.append(Finding(rule="SITE-LASK", message="needs approval"))
    return out

@hookimpl
def clearance_check_stage(stage_result):
    return [Finding(rule="SITE-LSTAGE", message="stage quotes: " + p,
                    remediation="drop " + p, evidence={"p": p})
            for r in stage_result.assets for p in prompts(r.record)]

@hookimpl
def clearance_finding(finding, result):
    if finding.rule == "SITE-LKEY":
        raise RuntimeError("tracker refused: " + " | ".join(prompts(result.record)))

@hookimpl(tryfirst=True)
def clearance_find_approval(finding, record):
    if finding.rule == "SITE-LASK":
        raise RuntimeError("tracker lookup failed for " + " | ".join(prompts(record)))
"""


def test_a_prompt_quoted_in_any_text_a_plugin_writes_is_redacted(clearance_run, tmp_path) -> None:
    plugin = tmp_path / "leaker.py"
    plugin.write_text(LEAKER, encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    prompt = "desert street at dusk, café neon"
    doc = genai_sidecar()
    doc["steps"][0]["prompt"]["text"] = prompt
    run.asset("comp/a.png", sidecar=doc)
    outcome = run.scan()
    events = outcome.events()
    log = json.dumps(events, ensure_ascii=False)
    for part in ("desert", "dusk", "d\u200be\u200bs", "desert_street", "de\u0301", "DESERT"):
        assert part not in log, part
    marker = _marker_of(events)
    crash = next(e for e in events if e.get("rule") == "PRV-05")  # the approval plugin's
    assert crash["message"].endswith("tracker lookup failed for " + marker)
    failed = next(e for e in events if e["event"] == "plugin.failed")  # the notification hook's
    assert marker in failed["message"] and marker in failed["details"]["error"]
    key = next(e for e in events if e.get("rule") == "SITE-LKEY")
    assert key["details"]["evidence"] == {marker: True}
    text = next(e for e in events if e.get("rule") == "SITE-LTEXT")
    assert text["message"] == "zw: " + marker
    assert text["details"]["remediation"] == "Rewrite: " + marker
    assert text["details"]["principle"] == "said " + marker
    assert text["details"]["evidence"] == {"slug": marker + ".png", "nfd": marker, "soft": marker}
    stage = next(e for e in events if e.get("rule") == "SITE-LSTAGE")
    assert stage["message"] == "stage quotes: " + marker
    assert stage["details"]["remediation"] == "drop " + marker


SHORT = """
from clearance import hookimpl, Finding, Outcome
from clearance.rules import Rule

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-S1", title="s", principle="site", outcome=Outcome.NOTICE))

@hookimpl
def clearance_check_asset(record):
    return [Finding(rule="SITE-S1", message="made by acme-diffusion, prompt: a",
                    evidence={"said": "a cat", "tool": "acme-diffusion"})]
"""


def test_a_short_prompt_is_redacted_only_as_a_whole_word(clearance_run, tmp_path) -> None:
    plugin = tmp_path / "short.py"
    plugin.write_text(SHORT, encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    doc = genai_sidecar()
    doc["steps"][0]["prompt"]["text"] = "a"
    run.asset("comp/a.png", sidecar=doc)
    events = run.scan().events()
    marker = _marker_of(events)
    finding = next(e for e in events if e.get("rule") == "SITE-S1")
    assert finding["message"] == "made by acme-diffusion, prompt: " + marker
    assert finding["details"]["evidence"] == {"said": marker + " cat", "tool": "acme-diffusion"}
    messages = [e["message"] for e in events if e.get("message")]
    assert not any("]cme" in m or "]sset" in m for m in messages)


MANY = """
from clearance import hookimpl, Finding, Outcome
from clearance.rules import Rule

@hookimpl
def clearance_add_rules(registry):
    registry.add(Rule(id="SITE-M1", title="m", principle="site", outcome=Outcome.NOTICE))

@hookimpl
def clearance_check_asset(record):
    return [Finding(rule="SITE-M1", message="quotes " + s["prompt"]["text"],
                    evidence={"n": i}) for i, s in enumerate(record.get("steps"))]
"""


def test_the_prompts_of_an_asset_are_indexed_once_each(
    clearance_run, tmp_path, monkeypatch
) -> None:
    from clearance import _redact

    built: list[str] = []
    pieces = _redact._pieces

    def counted(folded: str) -> frozenset[str]:
        built.append(folded)
        return pieces(folded)

    monkeypatch.setattr(_redact, "_pieces", counted)
    plugin = tmp_path / "many.py"
    plugin.write_text(MANY, encoding="utf-8")
    run = clearance_run(plugins=[str(plugin)])
    doc = genai_sidecar()
    step = doc["steps"][0]
    doc["steps"] = [
        {**step, "prompt": {**step["prompt"], "text": f"prompt number {i} of the lot"}}
        for i in range(20)
    ]
    run.asset("comp/a.png", sidecar=doc)
    events = run.scan().events()
    quoted = [e for e in events if e.get("rule") == "SITE-M1"]
    assert len(quoted) == 20 and all("prompt number" not in e["message"] for e in quoted)
    # once each for the asset's findings and once for the stage's, not once per text
    assert sorted(built) == sorted([f"promptnumber{i}ofthelot" for i in range(20)] * 2)


def test_the_redactors_quick_look_finds_every_quote_the_close_look_finds() -> None:
    """A text is looked at closely only if its letters hold the whole prompt or a stretch of
    it at a multiple of 5 letters: on random quotes (cut anywhere, any separator) that gives
    the spans the close look gives on its own."""
    import random

    from clearance import _redact

    rng = random.Random(11)
    words = [
        "wide",
        "desert",
        "street",
        "at",
        "dusk",
        "hero",
        "reveal",
        "on",
        "the",
        "rooftop",
        "café",
        "noël",
        "a",
        "of",
        "sh0010",
    ]
    for _ in range(2000):
        prompts = [
            " ".join(rng.choice(words) for _ in range(rng.randint(1, 12)))
            for _ in range(rng.randint(1, 3))
        ]
        quoted = rng.choice(prompts)
        part = quoted[rng.randint(0, len(quoted) // 2) : rng.randint(len(quoted) // 2, len(quoted))]
        part = rng.choice([" ", "_", "-", "\u200b", ""]).join(part.split(" "))
        noise = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 8))) for _ in "ab"]
        text = f"{noise[0]} {part} {noise[1]}"
        close = text
        for prompt in sorted(set(prompts), key=len, reverse=True):
            indexed = _redact.PromptRedactor([prompt])._prompts
            if indexed:
                close = _redact._redact_text(close, indexed[0])
        assert _redact.PromptRedactor(prompts).redact(text) == close, (prompts, text)


def test_audit_record_reads_dates_of_an_in_memory_sidecar_as_a_file_scan_does(
    tmp_path: Path,
) -> None:
    """A publish tool that loads a sidecar with ``yaml.safe_load`` holds ``datetime.date``
    and ``datetime`` values: ``audit_record`` reads them as the sidecar file loader does
    (their ISO text, naive or aware as written) and decides what a scan of the file decides,
    where it reported ``PRV-02 expected a string, got datetime.date(...)``."""
    import datetime

    import yaml

    doc = genai_sidecar(disclosure={"notified_at": "2026-11-01"})
    dates = yaml.safe_dump(doc, sort_keys=False).replace("'2026-11-01'", "2026-11-01")
    times = dates.replace(
        "notified_at: 2026-11-01",
        "notified_at: 2026-11-01 10:30:00\n  flagged_at: 2026-11-02T09:30:00+01:00",
    )
    for name, text in (("dates", dates), ("times", times)):
        run = ClearanceRun(tmp_path / name)
        run.asset("comp/a.png", sidecar=text)
        scanned = run.scan().asset("comp/a.png")
        doc = yaml.safe_load(text)
        before = repr(doc)
        assert isinstance(doc["disclosure"]["notified_at"], datetime.date)
        policy = load_policy(run.root / "clearance.yaml")
        held = audit_record(doc, policy=policy, rel="comp/a.png", root=run.root)
        assert repr(doc) == before, "the caller's sidecar is not changed"
        assert [f.to_dict() for f in held.findings] == [f.to_dict() for f in scanned.findings]
        assert held.outcome == scanned.outcome
        prv02 = " ".join(f.message for f in held.findings if f.rule == "PRV-02")
        if name == "dates":
            assert held.outcome is Outcome.PASS and not prv02
        else:  # a date and time is not a date, on disk or in memory: said in its ISO text
            assert "'2026-11-01T10:30:00'" in prv02 and "'2026-11-02T09:30:00+01:00'" in prv02
