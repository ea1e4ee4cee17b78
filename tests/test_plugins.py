"""Plugins: built-ins registered like site plugins, entry points, per-stage attachment, isolation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from clearance import Finding, Outcome, Rule, hookimpl
from clearance.plugins import PluginHost
from clearance.policy import Policy, StageConfig
from conftest import genai_sidecar, run_cli


def write_plugin(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


SITE_RULE = """
    from clearance import Finding, Outcome, Rule, hookimpl

    @hookimpl
    def clearance_add_rules(registry):
        registry.add(Rule(id="SITE-01", title="site", principle="creative-output",
                          outcome=Outcome.NOTICE, remediation="do the thing"))

    @hookimpl
    def clearance_check_asset(asset, stage):
        return [Finding(rule="SITE-01", message=f"seen in {stage.name}")]
"""


def test_builtins_are_registered_as_plugins(tmp_path: Path) -> None:
    host = PluginHost(Policy(root=tmp_path), autoload=False)
    names = set(host.plugins)
    assert "clearance.provenance.sidecar" in names and "clearance.approvals" in names
    assert {n for n in names if n.startswith("clearance.rules.")}
    assert all(host.plugins[n].kind == "builtin" for n in names)
    assert not host.failures


def test_the_provenance_hygiene_pack_cannot_be_blocked(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PRV-01, PRV-02, PRV-05"):
        PluginHost(Policy(root=tmp_path), autoload=False, blocked=["clearance.rules.provenance"])
    host = PluginHost(Policy(root=tmp_path), autoload=False, blocked=["clearance.rules.iptc"])
    assert "clearance.rules.iptc" not in host.plugins and "PRV-01" in host.registry


def test_per_stage_plugin_runs_only_in_its_stage(clearance_run, tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "site_rule.py", SITE_RULE)
    run = clearance_run()
    run.config["stages"][1]["plugins"] = [str(plugin)]
    run.asset("gen/a.png", sidecar=genai_sidecar())
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan()
    assert "SITE-01" in result.rules("comp/b.png")
    assert "SITE-01" not in result.rules("gen/a.png")
    finding = next(f for f in result.asset("comp/b.png").findings if f.rule == "SITE-01")
    assert finding.remediation == "do the thing" and finding.principle == "creative-output"
    assert finding.plugin == "site_rule"


def test_global_plugin_runs_in_every_stage(clearance_run, tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "site_rule.py", SITE_RULE)
    run = clearance_run(plugins=[str(plugin)])
    run.asset("gen/a.png", sidecar=genai_sidecar())
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan()
    assert "SITE-01" in result.rules("gen/a.png") and "SITE-01" in result.rules("comp/b.png")


def test_rule_config_disables_and_overrides_site_rules(clearance_run, tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "site_rule.py", SITE_RULE)
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/b.png", sidecar=genai_sidecar())
    run.config["rules"] = {"SITE-01": {"outcome": "block"}}
    assert run.scan().outcome("comp/b.png") == "block"
    run.config["rules"] = {"SITE-01": {"enabled": False}}
    assert "SITE-01" not in run.scan().rules("comp/b.png")


def test_finding_for_unknown_rule_is_prv05(clearance_run) -> None:
    class Sloppy:
        @hookimpl
        def clearance_check_asset(self, asset):
            return [Finding(rule="NOPE-1", message="x")]

    run = clearance_run()
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("sloppy", Sloppy())])
    crash = [f for f in result.asset("comp/b.png").findings if f.rule == "PRV-05"]
    assert crash and "NOPE-1" in crash[0].message


def test_checker_returning_garbage_is_prv05(clearance_run) -> None:
    class Garbage:
        @hookimpl
        def clearance_check_asset(self, asset):
            return ["not a finding"]

    run = clearance_run()
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("garbage", Garbage())])
    assert "PRV-05" in result.rules("comp/b.png")


def test_reader_that_raises_is_prv05_and_sidecar_still_read(clearance_run) -> None:
    class BadReader:
        @hookimpl
        def clearance_read_provenance(self, asset):
            raise ValueError("corrupt header")

    run = clearance_run()
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("badreader", BadReader())])
    rules = result.rules("comp/b.png")
    assert "PRV-05" in rules and "PRV-01" not in rules


def test_duplicate_rule_id_is_a_plugin_failure(tmp_path: Path) -> None:
    class Dup:
        @hookimpl
        def clearance_add_rules(self, registry):
            registry.add(Rule(id="NFX-00", title="x", principle="x", outcome=Outcome.NOTICE))

    host = PluginHost(Policy(root=tmp_path), autoload=False, extra=[("dup", Dup())])
    assert any("NFX-00" in f.error and "twice" in f.error for f in host.failures)


def test_notification_hooks_are_called_and_failures_reported(clearance_run) -> None:
    calls: list[str] = []

    class Tracker:
        @hookimpl
        def clearance_stage_started(self, stage):
            calls.append(f"start:{stage.name}")

        @hookimpl
        def clearance_finding(self, finding):
            calls.append(f"finding:{finding.rule}")

        @hookimpl
        def clearance_stage_finished(self, stage_result):
            calls.append(f"done:{stage_result.stage}:{stage_result.counts()['escalate']}")
            raise RuntimeError("tracker down")

    run = clearance_run()
    run.asset("comp/b.png")
    result = run.scan(extra_plugins=[("tracker", Tracker())])
    # gen and delivery were walked whole and hold no asset: they are run empty
    assert calls == [
        "start:gen",
        "done:gen:0",
        "start:comp",
        "finding:PRV-01",
        "done:comp:1",
        "start:delivery",
        "done:delivery:0",
    ]
    failed = [e for e in result.events() if e["event"] == "plugin.failed"]
    assert failed and "tracker down" in failed[0]["message"]


def test_a_plugin_object_whose_flush_raises_is_reported_and_the_run_goes_on(
    clearance_run,
) -> None:
    """The engine calls ``flush()`` on plugin objects that have one (built-ins buffer their
    state-store writes); a site plugin's that raises is ``plugin.failed``, not a crash."""

    class Buffered:
        @hookimpl
        def clearance_asset_audited(self, result):
            pass

        def flush(self):
            raise OSError("tracker share gone")

    run = clearance_run()
    run.asset("comp/b.png")
    result = run.scan(extra_plugins=[("buffered", Buffered())])
    assert [a.outcome.value for a in result.result.assets] == ["escalate"]
    failed = [e for e in result.events() if e["event"] == "plugin.failed"]
    assert failed and "tracker share gone" in failed[0]["message"]
    assert result.events()[-1]["event"] == "run.finished"


def test_stage_level_checker(clearance_run) -> None:
    class Quota:
        @hookimpl
        def clearance_add_rules(self, registry):
            registry.add(
                Rule(
                    id="SITE-QUOTA",
                    title="quota",
                    principle="deliverables",
                    outcome=Outcome.ESCALATE,
                )
            )

        @hookimpl
        def clearance_check_stage(self, stage_result):
            if len(stage_result.assets) > 1:
                return [
                    Finding(rule="SITE-QUOTA", message=f"{len(stage_result.assets)} GenAI assets")
                ]

    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("quota", Quota())])
    by_name = {s.stage: s for s in result.result.stages}
    assert [f.rule for f in by_name["comp"].findings] == ["SITE-QUOTA"]
    assert not by_name["gen"].findings and not by_name["gen"].assets  # empty: checked, fine
    assert result.result.exit_code() == 1


def test_records_are_dropped_only_once_nothing_can_read_them(clearance_run) -> None:
    """``Session.run(keep_records=False)`` (what ``scan`` does) drops each record as soon as
    its asset is audited, unless a stage checker is attached: that one sees every record of
    its stage, and the records go only once the stage is finished."""
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    seen: list[object] = []

    class StageChecker:
        @hookimpl
        def clearance_check_stage(self, stage_result):
            seen.extend(a.record for a in stage_result.assets)

    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.asset("comp/b.png", sidecar=genai_sidecar())
    policy = load_policy(run.write_config())
    assets = discover([str(run.root)], policy).assets

    plain = Session(policy, write_log=False, announce=False, autoload=False)
    kept = plain.run(assets)
    assert all(a.record is not None for a in kept.assets)
    dropped = plain.run(assets, keep_records=False)
    assert [a.record for a in dropped.assets] == [None, None]
    assert [a.outcome for a in dropped.assets] == [a.outcome for a in kept.assets]

    checked = Session(
        policy,
        write_log=False,
        announce=False,
        autoload=False,
        extra_plugins=[("stage-checker", StageChecker())],
    )
    result = checked.run(assets, keep_records=False)
    assert len(seen) == 2 and all(r is not None and r.get("generated") for r in seen)
    assert [a.record for a in result.assets] == [None, None]


def test_site_approval_plugin_runs_before_the_builtin(clearance_run) -> None:
    from clearance.approvals import ApprovalMatch

    class Tracker:
        @hookimpl(tryfirst=True)
        def clearance_find_approval(self, finding):
            return ApprovalMatch(id="SG-TICKET-42", expires="2999-12-31")

    run = clearance_run()
    doc = genai_sidecar(output={**genai_sidecar()["output"], "use": "final"})
    run.asset("delivery/a.png", sidecar=doc)
    result = run.scan(extra_plugins=[("tracker", Tracker())])
    approved = [f for f in result.asset("delivery/a.png").findings if f.approval == "SG-TICKET-42"]
    assert approved and all(f.status.value == "approved" for f in approved)


@pytest.fixture
def entry_point_dist(tmp_path: Path) -> Path:
    """A real installed distribution (dist-info on sys.path) exposing a `clearance` entry point."""
    site = tmp_path / "site"
    (site / "showplugin-1.0.dist-info").mkdir(parents=True)
    (site / "showplugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: showplugin\nVersion: 1.0\n"
    )
    (site / "showplugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[clearance]\nshow = showplugin\nbroken = showplugin_missing\n"
    )
    write_plugin(site / "showplugin.py", SITE_RULE)
    return site


def test_entry_point_plugins_load_and_failures_are_loud(
    tmp_path: Path, entry_point_dist: Path
) -> None:
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    from clearance.testing import write_png

    write_png(root / "comp" / "a.png")
    (root / "comp" / "a.png.genai.yaml").write_text(json.dumps(genai_sidecar()))
    env = {"PYTHONPATH": str(entry_point_dist), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": ""}
    done = run_cli("scan", str(root), "--format", "json", env=env)
    assert done.code == 2, "a broken entry point makes the run exit 2"
    assert "showplugin_missing" in done.stderr
    rules = {f["rule"] for f in done.json()["assets"][0]["findings"]}
    assert "SITE-01" in rules
    blocked = run_cli("scan", str(root), "--format", "json", "-p", "no:broken", env=env)
    assert blocked.code == 1 and "SITE-01" in blocked.stdout
    off = run_cli(
        "scan",
        str(root),
        "--format",
        "json",
        env={"PYTHONPATH": str(entry_point_dist), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert off.code == 1 and "SITE-01" not in off.stdout


@pytest.mark.parametrize("value", ["0", "Off"])
def test_autoload_disabled_by_a_value_that_reads_as_no_says_which_plugins_it_skips(
    tmp_path: Path, entry_point_dist: Path, value: str
) -> None:
    """Any value but an empty one disables entry points, as PYTEST_DISABLE_PLUGIN_AUTOLOAD
    does; ``=0`` (meant as "keep them") ran without the studio's installed checker, and passed
    what it flags, without a word."""
    root = tmp_path / "show"
    (root / "comp").mkdir(parents=True)
    from clearance.testing import write_png

    write_png(root / "comp" / "a.png")
    (root / "comp" / "a.png.genai.yaml").write_text(json.dumps(genai_sidecar()))
    env = {"PYTHONPATH": str(entry_point_dist), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": value}
    said = (
        f"clearance: warning: CLEARANCE_DISABLE_PLUGIN_AUTOLOAD={value} does not load the "
        "entry-point plugins (broken, show): any value but an empty one disables them"
    )
    done = run_cli("scan", str(root), "--format", "json", env=env)
    assert done.code == 1 and "SITE-01" not in done.stdout, done.stderr
    assert said in done.stderr
    for command in ("rules", "plugins"):
        listed = run_cli(command, cwd=root, env=env)
        assert listed.code == 0 and said in listed.stderr, listed.stderr
    # "1", the documented value, says nothing: the user asked for exactly that
    quiet = run_cli("scan", str(root), env={**env, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert quiet.code == 1 and "warning" not in quiet.stderr


def test_plugins_are_never_imported_from_the_scanned_tree(clearance_run) -> None:
    run = clearance_run()
    (run.root / "comp").mkdir(parents=True)
    (run.root / "comp" / "conftest.py").write_text("raise SystemExit('imported!')\n")
    (run.root / "comp" / "clearance_plugin.py").write_text("raise SystemExit('imported!')\n")
    run.asset("comp/a.png", sidecar=genai_sidecar())
    assert run.scan().outcome("comp/a.png") == "pass"


def test_stage_config_plugins_listed_in_two_stages_load_once(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "site_rule.py", SITE_RULE)
    policy = Policy(
        root=tmp_path,
        stages=[
            StageConfig("a", ["a"], [str(plugin)]),
            StageConfig("b", ["b"], [str(plugin)]),
            StageConfig("c", ["c"]),
        ],
    )
    host = PluginHost(policy, autoload=False)
    assert not host.failures
    assert host.plugins["site_rule"].stages == {"a", "b"}
    assert [p.name for p in host.plugins_for("c") if p.kind == "config"] == []


def test_one_plugin_file_named_two_ways_in_two_stages_loads_once(tmp_path: Path) -> None:
    """``../hooks/x.py`` in one stage, its absolute path (or ``../hooks/./x.py``) in another:
    one file, refused as "another plugin is already registered as 'x'; rename one of the
    files" (exit 2)."""
    root = tmp_path / "show"
    root.mkdir()
    (tmp_path / "hooks").mkdir()
    plugin = write_plugin(tmp_path / "hooks" / "site_rule.py", SITE_RULE)
    policy = Policy(
        root=root,
        plugins=[],
        stages=[
            StageConfig("a", ["a"], ["../hooks/site_rule.py"]),
            StageConfig("b", ["b"], [str(plugin)]),
            StageConfig("c", ["c"], ["../hooks/./site_rule.py"]),
            StageConfig("d", ["d"]),
        ],
    )
    host = PluginHost(policy, autoload=False)
    assert not host.failures, host.failures
    assert host.plugins["site_rule"].stages == {"a", "b", "c"}


def test_one_plugin_file_listed_through_a_link_of_another_name_loads_once(
    tmp_path: Path,
) -> None:
    """``../hooks/site_rule.py`` in one stage, ``../hooks/latest.py -> site_rule.py`` in
    another: one file, imported twice as two plugins, so its rule was 'defined twice (site_rule
    and latest)' (exit 2) and, had it no rule, its checks ran twice. One plugin, attached to
    both stages, under the name it was first listed by."""
    root = tmp_path / "show"
    root.mkdir()
    (tmp_path / "hooks").mkdir()
    write_plugin(tmp_path / "hooks" / "site_rule.py", SITE_RULE)
    (tmp_path / "hooks" / "latest.py").symlink_to("site_rule.py")
    policy = Policy(
        root=root,
        plugins=[],
        stages=[
            StageConfig("a", ["a"], ["../hooks/site_rule.py"]),
            StageConfig("b", ["b"], ["../hooks/latest.py"]),
            StageConfig("c", ["c"]),
        ],
    )
    host = PluginHost(policy, autoload=False)
    assert not host.failures, host.failures
    assert [p.name for p in host.plugins.values() if p.kind == "config"] == ["site_rule"]
    assert host.plugins["site_rule"].stages == {"a", "b"}


def test_two_plugin_files_with_the_same_name_are_refused(tmp_path: Path) -> None:
    one = (
        write_plugin(tmp_path / "a" / "checks.py", SITE_RULE)
        if (tmp_path / "a").mkdir() is None
        else None
    )
    (tmp_path / "b").mkdir()
    two = write_plugin(tmp_path / "b" / "checks.py", "from clearance import hookimpl\n")
    policy = Policy(root=tmp_path, plugins=[str(one), str(two)])
    host = PluginHost(policy, autoload=False)
    assert any(f.name == "checks" and "already registered" in f.error for f in host.failures)


def test_a_plugin_file_with_only_a_rulepack_is_registered(clearance_run, tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path / "packonly.py",
        """
        from clearance import Outcome
        from clearance.rules import RulePack

        pack = RulePack("packonly", pack="site")

        @pack.rule("SITE-PK-01", title="t", principle="creative-output", outcome=Outcome.NOTICE, remediation="r")
        def always(ctx):
            '''"Always" (test).'''
            yield ctx.finding("seen")
        """,
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/b.png", sidecar=genai_sidecar())
    assert "SITE-PK-01" in run.scan().rules("comp/b.png")


def test_a_plugin_file_without_hooks_fails_loudly(tmp_path: Path) -> None:
    plugin = write_plugin(tmp_path / "nothing.py", "X = 1\n")
    host = PluginHost(Policy(root=tmp_path, plugins=[str(plugin)]), autoload=False)
    assert any(f.name == "nothing" and "no Clearance hooks" in f.error for f in host.failures)


# -- SystemExit and other exceptions that are not Exceptions -------------------------------


def test_plugin_hooks_that_raise_systemexit_or_generatorexit_are_prv05(clearance_run) -> None:
    """A helper library's ``sys.exit()`` inside a hook is that plugin's crash, never the end
    of the run (a silent exit 0 with no report): every hook kind is isolated."""
    import sys

    class Quitter:
        @hookimpl
        def clearance_read_provenance(self, asset):
            raise SystemExit("reader quits")

        @hookimpl
        def clearance_check_asset(self, asset):
            sys.exit(0)

        @hookimpl
        def clearance_check_stage(self, stage_result):
            raise GeneratorExit

        @hookimpl(tryfirst=True)
        def clearance_find_approval(self, finding):
            sys.exit(3)

        @hookimpl
        def clearance_finding(self, finding):
            sys.exit("tracker quits")

    run = clearance_run()
    final = genai_sidecar(output={**genai_sidecar()["output"], "use": "final"})
    run.asset("delivery/a.png", sidecar=final)
    result = run.scan(extra_plugins=[("quitter", Quitter())])
    crashes = [f for f in result.asset("delivery/a.png").findings if f.rule == "PRV-05"]
    assert {f.evidence["exception"] for f in crashes} == {"SystemExit"}
    quits = {f.message.rsplit(": ", 1)[-1] for f in crashes}
    assert quits == {"reader quits", "0", "3"}  # the reader, the checker, the approval hook
    assert all(f.plugin == "quitter" and f.outcome is Outcome.ESCALATE for f in crashes)
    assert "PRV-01" not in result.rules("delivery/a.png"), "the sidecar reader still ran"
    assert [f.evidence["exception"] for f in result.result.stages[0].findings] == ["GeneratorExit"]
    events = result.events()
    failed = [e for e in events if e["event"] == "plugin.failed"]
    assert failed and all("SystemExit" in e["message"] for e in failed)
    assert events[-1]["event"] == "run.finished"


def test_a_site_rule_that_calls_sys_exit_is_prv05(clearance_run, tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path / "quitpack.py",
        """
        import sys
        from clearance import Outcome
        from clearance.rules import RulePack

        pack = RulePack("quitpack", pack="site")

        @pack.rule("SITE-Q-01", title="t", principle="creative-output", outcome=Outcome.NOTICE, remediation="r")
        def quits(ctx):
            '''"Quits" (test).'''
            sys.exit(0)

        @pack.rule("SITE-Q-02", title="t", principle="creative-output", outcome=Outcome.NOTICE, remediation="r")
        def runs(ctx):
            '''"Runs" (test).'''
            yield ctx.finding("seen")
        """,
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan()
    assert {"PRV-05", "SITE-Q-02"} <= result.rules("comp/b.png")
    [crash] = [f for f in result.asset("comp/b.png").findings if f.rule == "PRV-05"]
    assert crash.plugin == "quitpack:SITE-Q-01" and "SystemExit" in crash.message


def test_a_plugin_that_exits_while_loading_is_a_plugin_failure(tmp_path: Path) -> None:
    at_import = write_plugin(tmp_path / "exits_at_import.py", "raise SystemExit(0)\n")
    in_add_rules = write_plugin(
        tmp_path / "exits_in_add_rules.py",
        """
        import sys
        from clearance import hookimpl

        @hookimpl
        def clearance_add_rules(registry):
            sys.exit(0)
        """,
    )
    policy = Policy(root=tmp_path, plugins=[str(at_import), str(in_add_rules)])
    host = PluginHost(policy, autoload=False)
    failures = {f.name: f.error for f in host.failures}
    assert set(failures) == {"exits_at_import", "exits_in_add_rules"}
    assert all(error.startswith("SystemExit") for error in failures.values())


def test_keyboard_interrupt_in_a_checker_still_stops_the_run(clearance_run) -> None:
    class Interrupted:
        @hookimpl
        def clearance_check_asset(self, asset):
            raise KeyboardInterrupt

    run = clearance_run()
    run.asset("comp/b.png", sidecar=genai_sidecar())
    with pytest.raises(KeyboardInterrupt):
        run.scan(extra_plugins=[("interrupted", Interrupted())])


# -- what site hooks return --------------------------------------------------------------------

SITE_RULES = """
    from clearance import Outcome, Rule, hookimpl

    @hookimpl
    def clearance_add_rules(registry):
        registry.add(Rule(id="SITE-01", title="site", principle="creative-output",
                          outcome=Outcome.NOTICE, remediation="do the thing"))
"""


def _site_rules(tmp_path: Path) -> str:
    return str(write_plugin(tmp_path / "site_rules.py", SITE_RULES))


def test_a_finding_outcome_given_by_name_is_converted_and_an_unknown_one_is_prv05(
    clearance_run, tmp_path: Path
) -> None:
    class Tiered:
        @hookimpl
        def clearance_check_asset(self, asset):
            return [Finding(rule="SITE-01", message="tiered", outcome="block")]

    class Typo:
        @hookimpl
        def clearance_check_asset(self, asset):
            return [Finding(rule="SITE-01", message="typo", outcome="blocker")]

    run = clearance_run(plugins=[_site_rules(tmp_path)])
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("tiered", Tiered()), ("typo", Typo())])
    findings = result.asset("comp/b.png").findings
    [tiered] = [f for f in findings if f.rule == "SITE-01"]
    assert tiered.outcome is Outcome.BLOCK and tiered.plugin == "tiered"
    assert result.outcome("comp/b.png") == "block"
    [typo] = [f for f in findings if f.rule == "PRV-05"]
    assert typo.plugin == "typo" and typo.outcome is Outcome.ESCALATE
    assert "SITE-01" in typo.message and "unknown outcome 'blocker'" in typo.message
    assert result.events()[-1]["event"] == "run.finished"


@pytest.mark.parametrize(
    ("returned", "problem"),
    [
        ("all good", "str, not a list of Finding"),
        ({"rule": "SITE-01"}, "dict, not a list of Finding"),
        (42, "int, not a list of Finding"),
        ([{"rule": "SITE-01"}], "dict in its list, not a Finding"),
        ([Finding(rule="SITE-01", message=None)], "message is invalid"),  # type: ignore[arg-type]
        ([Finding(rule="SITE-01", evidence="x")], "evidence is invalid"),  # type: ignore[arg-type]
        ([Finding(rule="SITE-01", unsure="yes")], "unsure is invalid"),  # type: ignore[arg-type]
    ],
)
def test_a_checker_returning_something_else_is_one_prv05_naming_it(
    clearance_run, tmp_path: Path, returned: object, problem: str
) -> None:
    class Wrong:
        @hookimpl
        def clearance_check_asset(self, asset):
            return returned

        @hookimpl
        def clearance_check_stage(self, stage_result):
            return returned

    run = clearance_run(plugins=[_site_rules(tmp_path)])
    run.asset("comp/b.png")
    result = run.scan(extra_plugins=[("wrong", Wrong())])
    asset_level = [f for f in result.asset("comp/b.png").findings if f.rule == "PRV-05"]
    stage_level = result.result.stages[0].findings
    for found in (asset_level, stage_level):
        [crash] = found
        assert crash.plugin == "wrong" and problem in crash.message, crash.message
        assert crash.evidence["plugin"] == "wrong" and crash.outcome is Outcome.ESCALATE
    assert "PRV-01" in result.rules("comp/b.png"), "the other checkers still ran"


def test_a_checker_generator_that_raises_keeps_what_it_yielded_and_is_prv05(
    clearance_run, tmp_path: Path
) -> None:
    class HalfDone:
        @hookimpl
        def clearance_check_asset(self, asset):
            yield Finding(rule="SITE-01", message="before", outcome=Outcome.BLOCK)
            raise RuntimeError("broke midway")

    run = clearance_run(plugins=[_site_rules(tmp_path)])
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("halfdone", HalfDone())])
    assert {"SITE-01", "PRV-05"} <= result.rules("comp/b.png")
    assert result.outcome("comp/b.png") == "block", "what it found before it broke still counts"
    [crash] = [f for f in result.asset("comp/b.png").findings if f.rule == "PRV-05"]
    assert crash.plugin == "halfdone" and "broke midway" in crash.message


def test_evidence_paths_dates_and_sets_are_written_as_json_and_other_objects_are_prv05(
    clearance_run, tmp_path: Path
) -> None:
    import datetime as dt

    class Evidence:
        @hookimpl
        def clearance_check_asset(self, asset):
            yield Finding(
                rule="SITE-01",
                message="evidence of every kind",
                evidence={
                    "file": asset.path,
                    "day": dt.date(2026, 1, 2),
                    "at": dt.datetime(2026, 1, 2, 3, 4, 5),
                    "tags": {"b", "a"},
                    "size": (1920, 1080),
                    "outcome": Outcome.BLOCK,
                    "nested": {1: [Path("x/y.exr")]},
                },
            )

    class Unwritable:
        @hookimpl
        def clearance_check_asset(self, asset):
            yield Finding(rule="SITE-01", message="an object", evidence={"o": object()})
            yield Finding(rule="SITE-01", message="nan", evidence={"ratio": float("nan")})

    run = clearance_run(plugins=[_site_rules(tmp_path)])
    run.asset("comp/b.png", sidecar=genai_sidecar())
    result = run.scan(extra_plugins=[("evidence", Evidence()), ("unwritable", Unwritable())])
    expected = {
        "file": str(run.root / "comp/b.png"),
        "day": "2026-01-02",
        "at": "2026-01-02T03:04:05",
        "tags": ["a", "b"],
        "size": [1920, 1080],
        "outcome": "block",
        "nested": {"1": ["x/y.exr"]},
    }
    [site] = [f for f in result.asset("comp/b.png").findings if f.rule == "SITE-01"]
    assert site.evidence == expected
    events = result.events()
    [logged] = [e for e in events if e["event"] == "finding" and e["rule"] == "SITE-01"]
    assert logged["details"]["evidence"] == expected
    crashes = [f for f in result.asset("comp/b.png").findings if f.rule == "PRV-05"]
    assert len(crashes) == 2 and {f.plugin for f in crashes} == {"unwritable"}
    assert any("evidence.o: object" in f.message for f in crashes)
    assert any("evidence.ratio: nan" in f.message for f in crashes)
    assert events[-1]["event"] == "run.finished"


def test_a_reader_returning_something_else_is_prv05_and_paths_and_dates_are_converted(
    clearance_run,
) -> None:
    import datetime as dt

    from clearance.model import PartialRecord

    class DictReader:
        @hookimpl
        def clearance_read_provenance(self, asset):
            return {"generated": False}

    class BadIssues:
        @hookimpl
        def clearance_read_provenance(self, asset):
            return PartialRecord(source="tracker", file="x", issues=["not an issue"])

    class TrackerReader:
        @hookimpl
        def clearance_read_provenance(self, asset):
            return PartialRecord(
                source="tracker",
                file=asset.path,  # a Path, as a TD would pass it
                data={"shot": "sh010", "x-tracker": {"approved_on": dt.date(2026, 1, 2)}},
            )

    run = clearance_run()
    run.asset("comp/b.png")
    result = run.scan(
        extra_plugins=[
            ("dictreader", DictReader()),
            ("badissues", BadIssues()),
            ("tracker", TrackerReader()),
        ]
    )
    findings = result.asset("comp/b.png").findings
    crashes = {f.plugin: f.message for f in findings if f.rule == "PRV-05"}
    assert set(crashes) == {"dictreader", "badissues"}
    assert "dict, not a PartialRecord" in crashes["dictreader"]
    assert "issues is invalid" in crashes["badissues"]
    [audited] = [e for e in result.events() if e["event"] == "asset.audited"]
    assert audited["details"]["sources"] == ["tracker"] and audited["details"]["shot"] == "sh010"
    assert "PRV-01" not in result.rules("comp/b.png"), "the tracker's record was read"
    assert result.events()[-1]["event"] == "run.finished"


def test_an_approval_plugin_returning_something_else_is_prv05_and_the_finding_stays_open(
    clearance_run,
) -> None:
    import datetime as dt

    from clearance.approvals import ApprovalMatch

    class Garbage:
        @hookimpl(tryfirst=True)
        def clearance_find_approval(self, finding):
            return "APR-0031"

    class Expired:
        @hookimpl(tryfirst=True)
        def clearance_find_approval(self, finding):
            return ApprovalMatch(id="SG-7", expired=True, expires=dt.date(2020, 1, 1))  # type: ignore[arg-type]

    run = clearance_run()
    doc = genai_sidecar(output={**genai_sidecar()["output"], "use": "final"})
    run.asset("delivery/a.png", sidecar=doc)
    garbage = run.scan(extra_plugins=[("garbage", Garbage())])
    findings = garbage.asset("delivery/a.png").findings
    crashes = [f for f in findings if f.rule == "PRV-05"]
    assert crashes and all(f.plugin == "garbage" for f in crashes)
    assert "str, not an ApprovalMatch" in crashes[0].message
    assert garbage.outcome("delivery/a.png") == "approval", "nothing was approved"
    expired = run.scan(extra_plugins=[("expired", Expired())])
    events = [e for e in expired.events() if e["event"] == "approval.expired"]
    assert events and events[-1]["details"]["expires"] == "2020-01-01"
    assert expired.events()[-1]["event"] == "run.finished"


# -- hook functions pluggy would register and never call -----------------------------------


def test_a_hook_function_without_hookimpl_is_a_plugin_failure_naming_it(
    clearance_run, tmp_path: Path
) -> None:
    """A TD used to pytest's conftest hooks leaves the marker off: the plugin would load with
    no hooks, its rule never added nor checked, and the scan would pass."""
    plugin = write_plugin(
        tmp_path / "nodeco.py",
        """
        from clearance import Finding, Outcome, Rule

        def clearance_add_rules(registry):
            registry.add(Rule(id="SHOW-01", title="t", principle="creative-output",
                              outcome=Outcome.BLOCK, remediation="r", pack="site"))

        def clearance_check_asset(asset):
            return [Finding(rule="SHOW-01", message="always blocks")]
        """,
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    config = run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 2, "a plugin that checks nothing never loads silently"
    assert str(plugin) in done.stderr and "@hookimpl" in done.stderr
    assert "clearance_add_rules, clearance_check_asset are not marked @hookimpl" in done.stderr
    assert done.json()["assets"][0]["outcome"] == "pass", "the rest of the run went on"
    listed = run_cli("plugins", "--config", str(config))
    assert listed.code == 2 and "FAILED plugin nodeco" in listed.stdout


def test_a_plugin_object_that_registers_no_hooks_is_a_plugin_failure(tmp_path: Path) -> None:
    class Helpers:
        def check(self, asset):
            return []

    host = PluginHost(Policy(root=tmp_path), autoload=False, extra=[("helpers", Helpers())])
    assert [(f.name, f.error) for f in host.failures] == [
        (
            "helpers",
            "defines no Clearance hooks (no @hookimpl clearance_* function and no RulePack)",
        )
    ]
    assert "helpers" not in host.plugins and host.pm.get_plugin("helpers") is None


@pytest.mark.parametrize(
    ("marker", "hook", "args"),
    [
        ("wrapper=True", "clearance_check_asset", "asset"),
        ("hookwrapper=True", "clearance_check_asset", "asset"),
        ("wrapper=True", "clearance_asset_audited", "result"),
        ("hookwrapper=True", "clearance_find_approval", "finding"),
    ],
)
def test_a_hook_wrapper_is_refused_at_load_naming_the_hook(
    tmp_path: Path, marker: str, hook: str, args: str
) -> None:
    """Each implementation is called on its own (isolation), so a wrapper would never run as
    one: on a checker it was a PRV-05 on every asset, elsewhere it silently never ran."""
    plugin = write_plugin(
        tmp_path / "wrapping.py",
        f"""
        from clearance import hookimpl

        @hookimpl({marker})
        def {hook}({args}):
            return (yield)
        """,
    )
    host = PluginHost(Policy(root=tmp_path, plugins=[str(plugin)]), autoload=False)
    [failure] = host.failures
    assert failure.name == "wrapping" and str(plugin) in failure.source
    assert failure.error.startswith(f"{hook} is a hook wrapper")
    assert "does not support" in failure.error and "wrapping" not in host.plugins


def test_a_hook_wrapper_makes_scan_exit_2_and_no_asset_gets_prv05(
    clearance_run, tmp_path: Path
) -> None:
    plugin = write_plugin(
        tmp_path / "wrapping.py",
        """
        from clearance import hookimpl

        @hookimpl(wrapper=True)
        def clearance_check_asset(asset):
            return (yield)
        """,
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 2 and "clearance_check_asset is a hook wrapper" in done.stderr
    assert str(plugin) in done.stderr
    assert "PRV-05" not in {f["rule"] for f in done.json()["assets"][0]["findings"]}


PACK_AND_NOTIFY = """
    from pathlib import Path

    from clearance import Outcome, hookimpl
    from clearance.rules import RulePack

    pack = RulePack("pack_and_notify", pack="site")

    @pack.rule("SHOW-PK", title="t", principle="creative-output", outcome=Outcome.BLOCK,
               remediation="r")
    def always(ctx):
        '''"Always" (test).'''
        yield ctx.finding("blocked")

    @hookimpl
    def clearance_finding(finding):
        with open(Path(__file__).with_suffix(".posted"), "a") as posted:
            posted.write(finding.rule + "\\n")
"""


def test_a_rulepack_beside_plain_hook_functions_is_never_dropped_silently(
    clearance_run, tmp_path: Path
) -> None:
    """The module is what is registered when it has hook functions: a pack none of them
    belongs to is refused loudly (its rules would never run), and works once bound."""
    plugin = write_plugin(tmp_path / "pack_and_notify.py", PACK_AND_NOTIFY)
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 2 and str(plugin) in done.stderr
    assert "has hook functions (clearance_finding) beside a RulePack (pack)" in done.stderr
    assert "clearance_add_rules = pack.clearance_add_rules" in done.stderr
    bound = "clearance_add_rules = pack.clearance_add_rules\n"
    bound += "clearance_check_asset = pack.clearance_check_asset\n"
    plugin.write_text(plugin.read_text() + bound)
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 1, done.stderr
    assert "SHOW-PK" in {f["rule"] for f in done.json()["assets"][0]["findings"]}
    assert "SHOW-PK" in plugin.with_suffix(".posted").read_text().split()


# -- a plugin file is imported once per version of the file -------------------------------

EDITABLE = """
    from pathlib import Path

    from clearance import Finding, Outcome, Rule, hookimpl

    with open(Path(__file__).with_suffix(".imports"), "a") as imports:
        imports.write("imported\\n")

    @hookimpl
    def clearance_add_rules(registry):
        registry.add(Rule(id="SHOW-ED", title="t", principle="creative-output",
                          outcome=Outcome.NOTICE, remediation="r", pack="site"))

    @hookimpl
    def clearance_check_asset(asset):
        return [Finding(rule="SHOW-ED", message="v1")]
"""


def test_a_plugin_file_edited_between_two_runs_in_one_process_is_imported_again(
    clearance_run, tmp_path: Path
) -> None:
    """A DCC session scanning again after the TD edited the checker runs the edited code;
    an unchanged file is not imported again."""
    plugin = write_plugin(tmp_path / "editme.py", EDITABLE)
    imports = plugin.with_suffix(".imports")
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())

    def seen() -> list[tuple[str, str, str]]:
        findings = run.scan().asset("comp/a.png").findings
        return [(f.rule, f.outcome.value, f.message) for f in findings if f.rule == "SHOW-ED"]

    assert seen() == [("SHOW-ED", "notice", "v1")]
    assert seen() == [("SHOW-ED", "notice", "v1")]
    assert imports.read_text().split() == ["imported"], "unchanged: imported once"
    edited = EDITABLE.replace("Outcome.NOTICE", "Outcome.BLOCK").replace('"v1"', '"v2"')
    write_plugin(plugin, edited)
    assert seen() == [("SHOW-ED", "block", "v2")]
    assert seen() == [("SHOW-ED", "block", "v2")]
    assert imports.read_text().split() == ["imported"] * 2


# -- the readers' order ------------------------------------------------------------------

ORDER_READER = """
    from clearance import Finding, Outcome, PartialRecord, Rule, hookimpl

    @hookimpl
    def clearance_add_rules(registry):
        registry.add(Rule(id="SITE-ORDER", title="t", principle="provenance",
                          outcome=Outcome.NOTICE, remediation="r", pack="site"))

    @hookimpl
    def clearance_read_provenance(asset, partials):
        return PartialRecord(
            source="tracker", file=asset.rel,
            data={"source_type": "digitalCapture", "x-tracker": True},
            evidence={"saw": [p.source for p in partials]},
        )

    @hookimpl
    def clearance_check_asset(asset, record):
        tracker = next(p for p in record.partials if p.source == "tracker")
        return [Finding(rule="SITE-ORDER", message="order", evidence={
            "merged": [p.source for p in record.partials],
            "source_type_from": record.source_of("source_type"),
            "tracker_saw": tracker.evidence["saw"],
        })]
"""


#: what ORDER_READER's checker reports on an asset with XMP only, and with a sidecar too
#: (the built-in lineage reader is ``trylast``)
READERS_IN_ORDER = {
    "comp/embedded.png": {
        "merged": ["xmp", "tracker"],
        "source_type_from": "xmp",
        "tracker_saw": ["xmp"],
    },
    "comp/both.png": {
        "merged": ["sidecar", "xmp", "tracker", "lineage"],
        "source_type_from": "sidecar",
        "tracker_saw": ["sidecar", "xmp"],
    },
}


def write_order_show(root: Path, plugin: Path) -> None:
    from _embedded import TRAINED, xmp_packet
    from _embedded import write_png as write_xmp_png

    (root / "comp").mkdir(parents=True, exist_ok=True)
    write_xmp_png(root / "comp/embedded.png", xmp_packet(TRAINED))
    write_xmp_png(root / "comp/both.png", xmp_packet(TRAINED))
    (root / "comp/both.png.genai.yaml").write_text(json.dumps(genai_sidecar()))
    plugin.parent.mkdir(parents=True, exist_ok=True)
    write_plugin(plugin, ORDER_READER)


def test_site_readers_come_after_the_builtin_readers_in_every_mode(
    clearance_run, tmp_path: Path
) -> None:
    """hookspecs: the sidecar's fields win, then the others' in registration order, and a
    reader sees what the readers before it returned: the built-in XMP reader before a site
    reader, in a scan, a warm (cached) re-scan and a ``--jobs 2`` scan alike."""
    plugin = tmp_path / "order_reader.py"
    run = clearance_run(plugins=[str(plugin)])
    write_order_show(run.root, plugin)
    run.write_config()

    def order(*extra: str) -> dict[str, dict]:
        done = run_cli("scan", str(run.root), "--format", "json", *extra)
        assert done.code in (0, 1), done.stderr
        return {
            a["asset"]: f["evidence"]
            for a in done.json()["assets"]
            for f in a["findings"]
            if f["rule"] == "SITE-ORDER"
        }

    cold = order()
    assert cold == READERS_IN_ORDER
    assert order() == cold, "a warm re-scan, the built-in readers' answers from the cache"
    assert order("--jobs", "2", "--no-cache") == cold
    assert order("--jobs", "2") == cold


def test_site_readers_come_after_the_builtin_readers_in_the_watcher(tmp_path: Path) -> None:
    from _watch_harness import InProcessWatcher, events, make_show, wait_audited

    root = make_show(tmp_path, plugins=["order_reader.py"])
    write_order_show(root, tmp_path / "hooks" / "order_reader.py")
    with InProcessWatcher(root) as watcher:
        wait_audited(root, 2)
        watcher.stop()
    found = {
        e["asset"]: e["details"]["evidence"]
        for e in events(root, "finding")
        if e["rule"] == "SITE-ORDER"
    }
    assert found == READERS_IN_ORDER


UNPRINTABLE = """
    from clearance import hookimpl

    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("cannot describe myself")

        def __repr__(self):
            raise RuntimeError("cannot describe myself")

    {hook}
"""


@pytest.mark.parametrize(
    ("where", "hook", "code"),
    [
        ("checker", "@hookimpl\ndef clearance_check_asset(asset):\n    raise Unprintable()", 1),
        ("reader", "@hookimpl\ndef clearance_read_provenance(asset):\n    raise Unprintable()", 1),
        ("notification", "@hookimpl\ndef clearance_asset_audited():\n    raise Unprintable()", 0),
        ("stage checker", "@hookimpl\ndef clearance_check_stage():\n    raise Unprintable()", 1),
        ("import", "raise Unprintable()", 2),
    ],
    ids=["checker", "reader", "notification", "stage-checker", "import"],
)
def test_a_plugin_exception_that_cannot_be_printed_is_that_plugins_failure_not_the_runs(
    clearance_run, tmp_path: Path, where: str, hook: str, code: int
) -> None:
    body = UNPRINTABLE.replace("    {hook}\n", textwrap.indent(hook, "    ") + "\n")
    plugin = write_plugin(tmp_path / "unprintable.py", body)
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.asset("comp/b.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == code, (where, done.stderr)
    assert "internal error" not in done.stderr
    assert {a["asset"] for a in done.json()["assets"]} == {"comp/a.png", "comp/b.png"}
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    assert events[-1]["event"] == "run.finished"
    said = [e["message"] for e in events if e["event"] in ("finding", "plugin.failed")]
    assert any("Unprintable: <unprintable Unprintable>" in m for m in said), said


CLEARING = """
    from clearance import Finding, Outcome, Rule, Status, hookimpl

    @hookimpl
    def clearance_add_rules(registry):
        registry.add(Rule(id="SITE-B", title="t", principle="creative-output",
                          outcome=Outcome.BLOCK, remediation="r"))
        registry.add(Rule(id="SITE-A", title="t", principle="creative-output",
                          outcome=Outcome.APPROVAL, remediation="r"))

    {hooks}
"""


def _clearing_scan(tmp_path: Path, clearance_run, hooks: str, code: int = 1) -> tuple:
    plugin = write_plugin(
        tmp_path / "clearing.py",
        CLEARING.replace("    {hooks}\n", textwrap.indent(textwrap.dedent(hooks), "    ")),
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == code, done.stderr
    [item] = done.json()["assets"]
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    return item, events


def test_a_status_or_approval_a_checker_sets_is_ignored_with_a_prv05_note(
    clearance_run, tmp_path: Path
) -> None:
    item, events = _clearing_scan(
        tmp_path,
        clearance_run,
        """
        @hookimpl
        def clearance_check_asset(asset):
            return [
                Finding(rule="SITE-B", message="hero prop", outcome="block", status="approved",
                        approval="APR-FAKE"),
                Finding(rule="SITE-A", message="needs sign-off", status=Status.APPROVED),
                Finding(rule="SITE-A", message="marked done", status="done"),
                Finding(rule="SITE-A", message="said open", status="open"),
            ]
        """,
    )
    site = [f for f in item["findings"] if f["rule"].startswith("SITE-")]
    assert [(f["rule"], f["status"], f["approval"]) for f in site] == [
        ("SITE-B", "open", None),
        ("SITE-A", "open", None),
        ("SITE-A", "open", None),
        ("SITE-A", "open", None),
    ]
    assert item["outcome"] == "block"
    notes = [f["message"] for f in item["findings"] if f["rule"] == "PRV-05"]
    assert len(notes) == 3 and all(m.startswith("checker clearing returned a SITE-") for m in notes)
    assert "with status 'approved' and approval 'APR-FAKE': " in notes[0]
    assert "status 'done'" in " ".join(notes)
    logged = [(e["rule"], e["status"]) for e in events if e["event"] == "finding"]
    assert ("SITE-B", "open") in logged and not [s for _, s in logged if s != "open"]


def test_hooks_that_change_the_findings_they_are_shown_change_nothing_recorded(
    clearance_run, tmp_path: Path
) -> None:
    item, events = _clearing_scan(
        tmp_path,
        clearance_run,
        """
        @hookimpl
        def clearance_check_asset(asset):
            return [Finding(rule="SITE-A", message="needs sign-off")]

        @hookimpl(tryfirst=True)
        def clearance_find_approval(finding):
            finding.status = Status.APPROVED
            finding.outcome = Outcome.PASS
            finding.evidence["cleared"] = True

        @hookimpl
        def clearance_finding(finding, result):
            finding.status = Status.APPROVED
            finding.approval = "TRACKER-123"
            result.findings.clear()

        @hookimpl
        def clearance_asset_audited(result):
            for finding in result.findings:
                finding.outcome = Outcome.PASS

        @hookimpl
        def clearance_check_stage(stage_result):
            for asset in stage_result.assets:
                asset.findings.clear()

        @hookimpl
        def clearance_stage_finished(stage_result):
            for asset in stage_result.assets:
                for finding in asset.findings:
                    finding.status = Status.APPROVED
        """,
    )
    [site] = [f for f in item["findings"] if f["rule"] == "SITE-A"]
    assert (site["outcome"], site["status"], site["approval"]) == ("approval", "open", None)
    assert "cleared" not in site["evidence"]
    assert item["outcome"] == "approval"
    [logged] = [e for e in events if e["event"] == "finding" and e["rule"] == "SITE-A"]
    assert (logged["status"], logged["approval"]) == ("open", None)
    [audited] = [e for e in events if e["event"] == "asset.audited"]
    assert audited["outcome"] == "approval"
    assert events[-1]["event"] == "run.finished" and events[-1]["details"]["exit_code"] == 1
    assert not [e for e in events if e["event"] == "plugin.failed"]


def test_a_plugin_file_under_a_show_root_named_in_bytes_not_utf8_loads(tmp_path: Path) -> None:
    """A show root (or the plugin's folder) named in bytes that are not UTF-8: the plugin
    file's path holds lone surrogates. Its module name hashed that path as strict UTF-8,
    so every site plugin there failed to load (plugin.failed, exit 2) and never checked."""
    import os

    from clearance.testing import ClearanceRun

    root = Path(os.fsdecode(os.path.join(os.fsencode(tmp_path), b"sh\xe9w")))
    root.mkdir()
    (root / "hooks").mkdir()
    write_plugin(root / "hooks" / "p%04d[1]*.py", SITE_RULE)
    run = ClearanceRun(root)
    run.config["plugins"] = ["hooks/p%04d[1]*.py"]  # relative to the root
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    for jobs in ([], ["--jobs", "2"]):
        done = run_cli("scan", str(root), "--format", "json", *jobs)
        assert done.code == 0, done.stderr  # SITE-01 is a notice
        assert "plugin.failed" not in (root / ".clearance/audit.jsonl").read_text("utf-8")
        rules = [f["rule"] for f in done.json()["assets"][0]["findings"]]
        assert "SITE-01" in rules, (jobs, rules)


@pytest.mark.parametrize(
    "hooks",
    [
        pytest.param(
            """
            @hookimpl
            def clearance_check_asset(asset, record, stage):
                for step in record.data["steps"]:
                    step["tool"] = "studio-diffusion"  # "normalised" to the registered name
                record.data["generated"] = False
                for partial in record.partials:
                    partial.data.clear()
                asset.rel = "comp/elsewhere.png"
                stage.name = "delivery"
            """,
            id="checker",
        ),
        pytest.param(
            """
            @hookimpl
            def clearance_read_provenance(asset, partials):
                for partial in partials:
                    for step in partial.data.get("steps", ()):
                        step["tool"] = "studio-diffusion"
                asset.rel = "comp/elsewhere.png"
            """,
            id="reader",
        ),
    ],
)
def test_a_plugin_that_edits_the_record_or_asset_it_is_given_changes_no_verdict(
    clearance_run, tmp_path: Path, hooks: str
) -> None:
    """A site checker is called before the built-in packs (pluggy calls the last registered
    first), a site reader is given the built-in readers' records: both were given the
    engine's own objects, so one that edited them (renaming a tool to the registered one)
    turned the asset's PRV-03 and NFX-GP2 into a pass, exit 0, and could rename the asset."""
    plugin = write_plugin(
        tmp_path / "editing.py",
        "from clearance import hookimpl\n" + textwrap.dedent(hooks),
    )
    run = clearance_run(plugins=[str(plugin)])
    sidecar = genai_sidecar()
    sidecar["steps"][0]["tool"] = "unlisted-gen"
    run.asset("comp/a.png", sidecar=sidecar)
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 1, done.stderr
    [item] = done.json()["assets"]
    assert (item["asset"], item["stage"], item["outcome"]) == ("comp/a.png", "comp", "approval")
    rules = {f["rule"]: f for f in item["findings"]}
    assert {"PRV-03", "NFX-GP2"} <= set(rules)
    assert "unlisted-gen" in rules["PRV-03"]["message"]
    assert "PRV-05" not in rules
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    [audited] = [e for e in events if e["event"] == "asset.audited"]
    assert (audited["asset"], audited["outcome"]) == ("comp/a.png", "approval")


SITE_RULE_WRITTEN = """
    from clearance import Finding, Rule, hookimpl

    @hookimpl
    def clearance_add_rules(registry):
        registry.add(Rule(id="SITE-S1", title="t", principle="creative-output",
                          outcome={outcome!r}, remediation="r", params={params!r}))

    @hookimpl
    def clearance_check_asset(asset):
        return [Finding(rule="SITE-S1", message="hero prop")]
"""


def test_a_site_rule_whose_outcome_is_given_by_name_is_converted(
    clearance_run, tmp_path: Path
) -> None:
    """``Rule(outcome="block")``, as a finding's outcome may be written: the run stopped
    with an internal error at the rule's first finding (``'str' object has no attribute
    'rank'``), half its events written and no ``run.finished``; ``clearance rules`` too."""
    plugin = write_plugin(
        tmp_path / "named.py", SITE_RULE_WRITTEN.format(outcome="block", params=["works"])
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 1, done.stderr
    [item] = done.json()["assets"]
    assert [(f["rule"], f["outcome"]) for f in item["findings"]] == [("SITE-S1", "block")]
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    assert events[-1]["event"] == "run.finished"
    listed = run_cli("rules", "--config", str(run.root / "clearance.yaml"), "--format", "json")
    assert listed.code == 0, listed.stderr
    [rule] = [r for r in listed.json()["rules"] if r["id"] == "SITE-S1"]
    assert (rule["outcome"], rule["params"]) == ("block", ["works"])


@pytest.mark.parametrize(
    ("outcome", "params", "said"),
    [
        ("blokc", None, "rule SITE-S1: unknown outcome 'blokc' (expected one of: pass, "),
        (3, None, "rule SITE-S1: outcome must be an Outcome or its name, not int"),
        ("block", "works", "rule SITE-S1: params must be a list of parameter names, not the "),
    ],
)
def test_a_site_rule_written_wrong_is_that_plugins_failure_at_its_line(
    clearance_run, tmp_path: Path, outcome: object, params: object, said: str
) -> None:
    plugin = write_plugin(
        tmp_path / "wrong.py", SITE_RULE_WRITTEN.format(outcome=outcome, params=params)
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 2, done.stderr
    assert "internal error" not in done.stderr
    [line] = [x for x in done.stderr.splitlines() if "plugin wrong" in x]
    assert said in line and line.endswith(" at wrong.py:6"), line
    [item] = done.json()["assets"]  # its findings: a rule nobody registered, PRV-05
    assert item["outcome"] == "escalate"
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    assert [e for e in events if e["event"] == "plugin.failed"]
    assert events[-1]["event"] == "run.finished"
    checked = run_cli("validate", str(run.root / "clearance.yaml"))
    assert checked.code == 1 and said in checked.stdout


def test_an_entry_points_module_listed_in_the_configuration_too_is_one_plugin(
    clearance_run, entry_point_dist: Path
) -> None:
    """A show lists the studio package's module that is installed as an entry point as
    well: pluggy refused the second registration of the same module, a plugin failure
    (exit 2) whose message was the repr of every registered plugin."""
    run = clearance_run()
    run.config["plugins"] = ["showplugin"]  # a module name
    run.config["stages"][1]["plugins"] = ["showplugin"]
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    env = {"PYTHONPATH": str(entry_point_dist), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": ""}
    done = run_cli("scan", str(run.root), "--format", "json", "-p", "no:broken", env=env)
    assert done.code == 0, done.stderr
    [item] = done.json()["assets"]
    assert [f["rule"] for f in item["findings"] if f["rule"].startswith("SITE")] == ["SITE-01"]
    listed = run_cli(
        "plugins",
        "--config",
        str(run.root / "clearance.yaml"),
        "-p",
        "no:broken",
        "--format",
        "json",
        env=env,
    )
    assert listed.code == 0, listed.stderr
    doc = listed.json()
    assert doc["failures"] == [] and [p["name"] for p in doc["plugins"]].count("show") == 1


def _object_entry_point(tmp_path: Path, body: str) -> Path:
    """A distribution on sys.path whose ``clearance`` entry point ``studio`` is the object
    ``objplugin:plugin``."""
    site = tmp_path / "site"
    (site / "objplugin-1.0.dist-info").mkdir(parents=True)
    (site / "objplugin-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: objplugin\nVersion: 1.0\n"
    )
    (site / "objplugin-1.0.dist-info" / "entry_points.txt").write_text(
        "[clearance]\nstudio = objplugin:plugin\n"
    )
    write_plugin(site / "objplugin.py", body)
    return site


def test_an_entry_point_object_whose_attribute_raises_is_a_plugin_failure(
    clearance_run, tmp_path: Path
) -> None:
    """A plugin object whose hook is a property that raises (a lazily read studio
    setting): reading it to register the plugin raised out of the plugin manager, an
    internal error of every command, no audit at all."""
    site = _object_entry_point(
        tmp_path,
        """
        class Studio:
            @property
            def clearance_check_asset(self):
                raise RuntimeError("studio settings not found")

        plugin = Studio()
        """,
    )
    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    env = {"PYTHONPATH": str(site), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": ""}
    done = run_cli("scan", str(run.root), "--format", "json", env=env)
    assert done.code == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "plugin studio (entry point objplugin:plugin (objplugin)): RuntimeError: studio " in (
        done.stderr
    )
    assert done.json()["summary"]["assets"] == 1
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    assert [e["details"]["name"] for e in events if e["event"] == "plugin.failed"] == ["studio"]
    assert events[-1]["event"] == "run.finished"


def test_an_entry_point_object_whose_specname_names_no_hook_is_a_plugin_failure(
    clearance_run, tmp_path: Path
) -> None:
    """An entry point exposing a plugin object (``pkg:plugin``) whose method is marked
    ``@hookimpl(specname="clearance_check_assets")``, a typo: registered, listed, and never
    called, without a word (only ``clearance_*`` attribute names were checked)."""
    site = _object_entry_point(
        tmp_path,
        """
        from clearance import Finding, hookimpl

        class Studio:
            @hookimpl(specname="clearance_check_assets")
            def check(self, asset):
                return [Finding(rule="PRV-03", message="never called")]

        plugin = Studio()
        """,
    )
    run = clearance_run()
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    env = {"PYTHONPATH": str(site), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": ""}
    done = run_cli("scan", str(run.root), "--format", "json", env=env)
    assert done.code == 2, done.stderr
    assert "plugin studio (entry point objplugin:plugin (objplugin)): implements unknown " in (
        done.stderr
    )
    assert "clearance_check_assets (misspelled?)" in done.stderr
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    assert [e["details"]["name"] for e in events if e["event"] == "plugin.failed"] == ["studio"]


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ("unknown=5", "whose unknown is invalid: not a list of field paths"),
        ("unknown=[1]", "whose unknown is invalid: not a list of field paths"),
        ('volatile="yes"', "whose volatile is invalid: str, not True or False"),
    ],
)
def test_a_readers_partial_record_with_a_wrong_unknown_is_that_readers_prv05(
    clearance_run, tmp_path: Path, fields: str, said: str
) -> None:
    """``PartialRecord(unknown=5)`` passed the reader's checks: every built-in rule that
    asks which fields are unknown raised, a PRV-05 blaming each built-in pack (NFX-GP2,
    NFX-GP3, ...) instead of the reader."""
    plugin = write_plugin(
        tmp_path / "tracker.py",
        f"""
        from clearance import hookimpl
        from clearance.model import PartialRecord

        @hookimpl
        def clearance_read_provenance(asset):
            return PartialRecord(source="tracker", file="x", data={{"shot": "sh010"}}, {fields})
        """,
    )
    run = clearance_run(plugins=[str(plugin)])
    sidecar = genai_sidecar()
    sidecar["steps"][0]["tool"] = "unlisted-gen"
    run.asset("comp/a.png", sidecar=sidecar)
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 1, done.stderr
    [item] = done.json()["assets"]
    crashes = [f for f in item["findings"] if f["rule"] == "PRV-05"]
    assert len(crashes) == 1, crashes  # the reader's, never a built-in rule's
    assert crashes[0]["message"].startswith(f"reader tracker returned a PartialRecord {said}")
    assert {"NFX-GP2", "PRV-03"} <= {f["rule"] for f in item["findings"]}


def test_a_readers_unknown_paths_given_as_a_set_are_taken(clearance_run, tmp_path: Path) -> None:
    plugin = write_plugin(
        tmp_path / "tracker.py",
        """
        from clearance import hookimpl
        from clearance.model import PartialRecord

        @hookimpl
        def clearance_read_provenance(asset):
            return PartialRecord(source="tracker", file="x", unknown={"union_impact"})
        """,
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert "PRV-05" not in {f["rule"] for f in done.json()["assets"][0]["findings"]}


STAGE_QUOTA = """
from clearance import Finding, Outcome, Rule, hookimpl

RULE = Rule(id="SITE-Q-01", title="quota", principle="deliverables", outcome=Outcome.APPROVAL,
            guidance="g", remediation="r", pack="site")

@hookimpl
def clearance_add_rules(registry):
    registry.add(RULE)

@hookimpl
def clearance_check_stage(stage_result):
    for result in stage_result.assets:
        if result.record is not None:
            result.record.data["shot"] = "sh010"  # "normalised" in place, for its own count
        result.asset.rel = result.asset.rel.upper()
    return [Finding(rule="SITE-Q-01", message="over quota", asset=a, outcome=Outcome.APPROVAL)
            for a in ("comp/sh010.png", "comp/sh999.png")]
"""


def test_a_stage_checker_that_edits_the_records_it_is_given_changes_no_approval(
    clearance_run, tmp_path: Path
) -> None:
    """A stage checker was given copies of the findings only: the assets and records of the
    stage were the engine's, and a stage finding naming an asset is matched against the
    approvals by that record after the stage hooks. One that set every record's shot to
    sh010 had its finding on an sh999 asset approved by an approval scoped to sh010."""
    plugin = write_plugin(tmp_path / "quota.py", STAGE_QUOTA)
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/sh010.png", sidecar=genai_sidecar(shot="sh010"))
    run.asset("comp/sh999.png", sidecar=genai_sidecar(shot="sh999"))
    run.approvals["approvals"]["APR-Q"] = {
        "rules": ["SITE-Q-01"],
        "scope": {"shots": ["sh010"]},
        "approved_by": "Production Legal",
        "approved_at": "2026-01-01",
        "expires": "2099-01-01",
    }
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json", "--stage", "comp")
    found = {
        f["asset"]: (f["status"], f["approval"])
        for f in done.json()["stage_findings"]
        if f["rule"] == "SITE-Q-01"
    }
    assert found == {"comp/sh010.png": ("approved", "APR-Q"), "comp/sh999.png": ("open", None)}
    assert sorted(a["asset"] for a in done.json()["assets"]) == [
        "comp/sh010.png",
        "comp/sh999.png",
    ]


def test_a_checker_that_edits_a_sequences_frame_names_changes_nothing_recorded(
    clearance_run, tmp_path: Path
) -> None:
    """A site checker is given a copy of the asset, whose frames were a new list over the
    frame names discovery listed, shared: one that sorted or emptied ``asset.file_names()``
    in place changed the engine's asset (its ``asset.audited`` said ``files: 0``)."""
    plugin = write_plugin(
        tmp_path / "frames.py",
        "from clearance import hookimpl\n\n"
        "@hookimpl\n"
        "def clearance_check_asset(asset):\n"
        "    asset.file_names().clear()\n",
    )
    run = clearance_run(plugins=[str(plugin)])
    run.asset("comp/sh010.####.png", sidecar=genai_sidecar(), frames=[1001, 1002, 1003])
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code == 0, done.stderr
    log = (run.root / ".clearance/audit.jsonl").read_text("utf-8").splitlines()
    (audited,) = [e for e in map(json.loads, log) if e["event"] == "asset.audited"]
    assert audited["details"]["files"] == 3


EXPIRED_APPROVAL = {
    "rules": ["PRV-03", "NFX-GP2"],
    "approved_by": "Production Legal",
    "approved_at": "2019-01-01",
    "expires": "2020-01-01",
}


@pytest.mark.parametrize(
    ("hooks", "field"),
    [
        pytest.param(
            """
            @hookimpl
            def clearance_check_asset(policy):
                policy.tools["unlisted-gen"] = dict(policy.tools["studio-diffusion"])
            """,
            "policy.tools",
            id="checker-registers-a-tool",
        ),
        pytest.param(
            """
            @hookimpl
            def clearance_read_provenance(asset, policy):
                policy.rules.update({"PRV-03": {"enabled": False}, "NFX-GP2": {"enabled": False}})
            """,
            "policy.rules",
            id="reader-switches-rules-off",
        ),
        pytest.param(
            """
            import datetime

            @hookimpl(tryfirst=True)
            def clearance_find_approval(finding, policy):
                policy.now = datetime.datetime(2019, 6, 1, tzinfo=datetime.timezone.utc)
            """,
            "policy.now",
            id="approval-plugin-moves-the-clock",
        ),
        pytest.param(
            """
            @hookimpl
            def clearance_find_approval(finding, policy):
                policy.approvals["APR-OLD"]["expires"] = "2099-01-01"
            """,
            "policy.approvals['APR-OLD']",
            id="approval-plugin-extends-an-approval",
        ),
        pytest.param(
            """
            @hookimpl
            def clearance_stage_started(policy):
                policy.approvals["APR-ALL"] = {
                    "rules": ["*"], "approved_by": "me", "approved_at": "2026-01-01",
                    "expires": "2099-01-01",
                }
            """,
            "policy.approvals",
            id="notification-adds-an-approval",
        ),
        pytest.param(
            """
            @hookimpl
            def clearance_check_asset(policy):
                policy.stages[2].final = False
            """,
            "policy.stages[2].final",
            id="checker-unmarks-the-final-stage",
        ),
    ],
)
def test_a_plugin_that_edits_the_runs_policy_changes_no_verdict(
    clearance_run, tmp_path: Path, hooks: str, field: str
) -> None:
    """Site hooks were given the run's own policy: a checker that registered the tool of the
    step it read, a reader that switched rules off, an approval plugin that moved
    ``policy.now`` back or extended an approval, a ``stage_started`` hook that added an
    approval for everything, each turned the asset's PRV-03 and NFX-GP2 into a pass (or
    approved them), for the built-in rules and every later asset. The policy a site hook
    is given is read-only: the edit raises in the plugin, whose failure names the field."""
    plugin = write_plugin(
        tmp_path / "editing.py",
        "from clearance import hookimpl\n" + textwrap.dedent(hooks),
    )
    run = clearance_run(plugins=[str(plugin)])
    sidecar = genai_sidecar()
    sidecar["steps"][0]["tool"] = "unlisted-gen"
    run.asset("comp/a.png", sidecar=sidecar)
    run.asset("comp/b.png", sidecar=sidecar)
    run.asset("delivery/c.png", sidecar=sidecar)
    run.approvals["approvals"]["APR-OLD"] = EXPIRED_APPROVAL
    run.write_config()
    done = run_cli("scan", str(run.root), "--format", "json")
    assert done.code in (1, 2), done.stderr
    items = {item["asset"]: item for item in done.json()["assets"]}
    assert sorted(items) == ["comp/a.png", "comp/b.png", "delivery/c.png"]
    for name, item in items.items():
        rules = {f["rule"]: f for f in item["findings"]}
        assert {"PRV-03", "NFX-GP2"} <= set(rules), (name, sorted(rules))
        for rule in ("PRV-03", "NFX-GP2"):
            assert rules[rule]["status"] != "approved", (name, rules[rule])
        assert item["outcome"] in ("approval", "escalate", "block"), (name, item["outcome"])
    events = [json.loads(line) for line in (run.root / ".clearance/audit.jsonl").open()]
    said = [
        e["message"]
        for e in events
        if (e["event"] == "finding" and e["rule"] == "PRV-05") or e["event"] == "plugin.failed"
    ]
    assert said, "the plugin's edit was not refused"
    assert all("editing" in m and f"{field} is read-only" in m for m in said), said
    for e in events:  # placed at the plugin's line that changed it, not the view's
        if e["event"] == "finding" and e["rule"] == "PRV-05":
            assert e["details"]["evidence"]["where"].startswith(f"{plugin}:"), e["details"]
    audited = {e["asset"]: e["outcome"] for e in events if e["event"] == "asset.audited"}
    assert audited == {name: item["outcome"] for name, item in items.items()}


def test_the_policy_a_site_hook_reads_keeps_its_types_and_copies_into_a_plain_one(
    tmp_path: Path,
) -> None:
    """The read-only view keeps ``dict`` and ``list`` (a site rule asking ``isinstance(tool,
    dict)`` reads the registry as before), reads ``now`` through to the run's (a watcher's
    clock moves on), and a plugin's ``copy.deepcopy`` of it is a plain policy of its own."""
    import copy
    import datetime as dt

    from clearance._readonly import ReadOnlyPolicy, read_only

    policy = Policy(root=tmp_path, tools={"gen": {"flags": ["a"]}}, rules={"X-1": {"n": [1]}})
    view = read_only(policy)
    assert isinstance(view, Policy) and isinstance(view.tools["gen"], dict)
    assert isinstance(view.tools["gen"]["flags"], list)
    assert json.loads(json.dumps(view.tools)) == policy.tools
    assert view.rule_settings("X-1")["n"] == [1] and view.stage("default").paths == ["."]
    with pytest.raises(ReadOnlyPolicy, match=r"policy.rules\['X-1'\]\['n'\] is read-only"):
        view.rule_settings("X-1")["n"].append(2)
    with pytest.raises(ReadOnlyPolicy, match=r"policy.stages\[0\].paths is read-only"):
        view.stage_for("comp/a.png").paths.append("comp")
    policy.now = dt.datetime(2030, 1, 2, tzinfo=dt.timezone.utc)
    assert view.today == dt.date(2030, 1, 2)
    mine = copy.deepcopy(view)
    mine.tools["gen"]["flags"].append("b")
    mine.stages[0].final = True
    assert type(mine) is Policy and mine.now == policy.now
    assert policy.tools == {"gen": {"flags": ["a"]}} and not policy.stages[0].final
