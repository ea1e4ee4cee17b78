"""``plugin_timeout``: a site plugin's hook that never returns does not hang the run.

A hook given up on is that plugin's ``PRV-05`` (unsure: never a pass) and the run goes on;
until the late call returns, the plugin is not called again; once it has, it is. Without a
limit, hooks run on the caller's thread as before.
"""

from __future__ import annotations

import contextlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

from clearance import Finding, hookimpl
from clearance._deadline import HookHung, HookRunner, HookTimeout
from conftest import genai_sidecar, run_cli

LIMIT = 0.3


def _until(condition: Any, what: str) -> None:
    """Wait (bounded) for ``condition()``: the late call finishing on its own thread."""
    done = threading.Event()
    for _ in range(400):
        if condition():
            return
        done.wait(0.05)
    raise AssertionError(f"never happened: {what}")


# -- the runner --------------------------------------------------------------------------
def test_a_call_that_returns_in_time_gives_its_value_and_its_exception() -> None:
    runner = HookRunner(5)
    assert runner.call("p", "clearance_check_asset", lambda: 42) == 42
    error = ValueError("from the plugin")

    def boom() -> None:
        raise error

    with pytest.raises(ValueError) as caught:
        runner.call("p", "clearance_check_asset", boom)
    assert caught.value is error
    assert runner.call("p", "clearance_check_asset", lambda: "again") == "again"
    assert runner.timeouts == 0 and not runner.hung
    runner.close()


def test_a_late_call_is_given_up_on_and_its_plugin_not_called_until_it_returns() -> None:
    runner = HookRunner(LIMIT)
    release = threading.Event()
    calls: list[str] = []
    assert runner.call("first", "clearance_stage_started", lambda: None) is None

    def hang() -> str:
        calls.append("hang")
        release.wait(30)
        return "late"

    with pytest.raises(HookTimeout) as caught:
        runner.call("tracker", "clearance_finding", hang)
    assert caught.value.plugin == "tracker" and caught.value.hook == "clearance_finding"
    assert "did not return within 0.3 s" in str(caught.value)
    # still running: not called again (a hung tracker costs the limit once, not per asset)
    with pytest.raises(HookHung, match="has not returned"):
        runner.call("tracker", "clearance_stage_finished", lambda: calls.append("no"))
    assert calls == ["hang"]
    # another plugin is called on a new worker meanwhile
    assert runner.call("other", "clearance_check_asset", lambda: "ok") == "ok"
    # the late call's thread is named after its plugin (a stack dump of a stuck farm job
    # says whose call it is), not after the plugin that happened to start the thread
    names = {t.name for t in threading.enumerate()}
    assert "clearance-hook-tracker (clearance_finding, given up on)" in names
    release.set()
    _until(lambda: "tracker" not in runner.hung, "the late call's return was noticed")
    assert runner.call("tracker", "clearance_finding", lambda: "back") == "back"
    assert runner.timeouts == 1
    runner.close()


# -- in a scan ---------------------------------------------------------------------------
class Blocking:
    """A site plugin whose hooks wait for ``release`` on the assets named ``hang*``."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.threads: set[str] = set()

    def _wait(self, name: str) -> None:
        self.threads.add(threading.current_thread().name)
        if name.startswith("hang"):
            self.release.wait(60)


class HangingChecker(Blocking):
    @hookimpl
    def clearance_add_rules(self, registry: Any) -> None:
        from clearance import Rule

        registry.add(
            Rule(
                id="SITE-09",
                title="site check",
                principle="creative-output",
                outcome="notice",
                guidance="x",
                remediation="x",
            )
        )

    @hookimpl
    def clearance_check_asset(self, asset: Any) -> Any:
        yield Finding(rule="SITE-09", message=f"seen {asset.name}")
        self._wait(asset.name)


def _show(clearance_run: Any, timeout: float | None) -> Any:
    run = clearance_run()
    if timeout is not None:
        run.config["plugin_timeout"] = timeout
    run.asset("comp/hang.png", sidecar=genai_sidecar())
    run.asset("comp/later.png", sidecar=genai_sidecar())
    return run


def _scan(run: Any, name: str, plugin: Blocking) -> Any:
    """Scan with ``plugin`` registered as ``name``; its blocked calls released after."""
    try:
        return run.scan(extra_plugins=[(name, plugin)])
    finally:
        plugin.release.set()


def test_a_hung_checker_is_prv05_for_its_asset_and_the_next_and_the_run_finishes(
    clearance_run: Any,
) -> None:
    plugin = HangingChecker()
    run = _show(clearance_run, LIMIT)
    result = _scan(run, "hanging", plugin)
    hung = result.asset("comp/hang.png")
    assert hung.outcome.value == "escalate"
    crash = next(f for f in hung.findings if f.rule == "PRV-05")
    assert crash.unsure and crash.plugin == "hanging"
    assert crash.evidence == {
        "plugin": "hanging",
        "hook": "clearance_check_asset",
        "timeout_s": LIMIT,
        "state": "timed out",
    }
    assert "did not return within 0.3 s (plugin_timeout)" in crash.message
    # what it yielded before it hung is kept, as for a checker that raises
    assert "SITE-09" in result.rules("comp/hang.png")
    later = result.asset("comp/later.png")
    assert later.outcome.value == "escalate"  # not checked is unsure, never a pass
    skipped = next(f for f in later.findings if f.rule == "PRV-05")
    assert skipped.evidence["state"] == "still running"
    assert "not called" in skipped.message
    assert "SITE-09" not in result.rules("comp/later.png")
    events = result.events()
    assert events[-1]["event"] == "run.finished"
    assert plugin.threads and threading.current_thread().name not in plugin.threads


def test_without_a_limit_site_hooks_run_on_the_callers_thread(clearance_run: Any) -> None:
    plugin = HangingChecker()
    plugin.release.set()  # nothing hangs
    result = _show(clearance_run, None).scan(extra_plugins=[("hanging", plugin)])
    assert plugin.threads == {threading.current_thread().name}
    assert "PRV-05" not in result.rules("comp/hang.png")


def test_a_checker_that_returns_in_time_is_unchanged_by_the_limit(clearance_run: Any) -> None:
    plugin = HangingChecker()
    plugin.release.set()
    result = _show(clearance_run, 30).scan(extra_plugins=[("hanging", plugin)])
    for rel in ("comp/hang.png", "comp/later.png"):
        assert "SITE-09" in result.rules(rel) and "PRV-05" not in result.rules(rel)


class HangingReader(Blocking):
    @hookimpl
    def clearance_read_provenance(self, asset: Any) -> None:
        self._wait(asset.name)


def test_a_hung_reader_is_prv05_and_the_sidecar_is_still_read(clearance_run: Any) -> None:
    plugin = HangingReader()
    run = _show(clearance_run, LIMIT)
    result = _scan(run, "slow_reader", plugin)
    crash = next(f for f in result.asset("comp/hang.png").findings if f.rule == "PRV-05")
    assert crash.message.startswith("reader slow_reader: ")
    assert crash.evidence["hook"] == "clearance_read_provenance"
    assert result.asset("comp/hang.png").record.get("steps")  # the sidecar was read


class HangingApprovals(Blocking):
    @hookimpl
    def clearance_find_approval(self, finding: Any, asset: Any) -> None:
        self._wait(asset.name)


def test_a_hung_approval_plugin_approves_nothing(clearance_run: Any) -> None:
    plugin = HangingApprovals()
    run = _show(clearance_run, LIMIT)
    # a GenAI final deliverable: an open approval finding (NFX-GP4) to ask about
    run.asset("delivery/hang_final.png", sidecar=genai_sidecar())
    result = _scan(run, "tracker", plugin)
    item = result.asset("delivery/hang_final.png")
    assert item.outcome.value == "approval"  # the open approval finding, unapproved
    assert any(f.outcome.value == "approval" and f.status == "open" for f in item.findings)
    crash = next(f for f in item.findings if f.rule == "PRV-05")
    assert crash.message.startswith("approval plugin tracker: ")
    assert all(f.status != "approved" for f in item.findings)


class HangingNotifier(Blocking):
    @hookimpl
    def clearance_asset_audited(self, result: Any) -> None:
        self._wait(result.asset.name)


def test_a_hung_notification_hook_is_plugin_failed_and_the_run_goes_on(
    clearance_run: Any,
) -> None:
    plugin = HangingNotifier()
    run = _show(clearance_run, LIMIT)
    result = _scan(run, "poster", plugin)
    failed = [e for e in result.events() if e["event"] == "plugin.failed"]
    assert failed and all(e["details"]["name"] == "poster" for e in failed)
    assert failed[0]["message"] == (
        "notification hook of poster: clearance_asset_audited did not return within 0.3 s "
        "(plugin_timeout)"
    )
    assert failed[0]["details"]["hook"] == "clearance_asset_audited"
    assert result.events()[-1]["event"] == "run.finished"
    assert {a.asset.rel for a in result.result.assets} == {"comp/hang.png", "comp/later.png"}


def test_a_hung_notifier_is_said_to_be_skipped_once_not_for_every_asset(
    clearance_run: Any,
) -> None:
    plugin = HangingNotifier()
    run = _show(clearance_run, LIMIT)
    for i in range(6):
        run.asset(f"comp/more{i}.png", sidecar=genai_sidecar())
    result = _scan(run, "poster", plugin)
    failed = [e for e in result.events() if e["event"] == "plugin.failed"]
    # the call given up on, then one notice for the rest of the hang (not seven)
    assert [e["details"].get("running") for e in failed] == [None, "clearance_asset_audited"]
    assert failed[1]["message"].endswith(
        "; clearance_asset_audited is not called, and not reported again, until that call returns"
    )


def test_skipped_notifications_are_said_again_after_the_hung_call_returned() -> None:
    runner = HookRunner(LIMIT)
    release = threading.Event()
    with pytest.raises(HookTimeout):
        runner.call("tracker", "clearance_finding", lambda: release.wait(30))
    hook = "clearance_asset_audited"
    assert runner.first_skip("tracker", hook) and not runner.first_skip("tracker", hook)
    assert runner.first_skip("tracker", "clearance_finding")  # each hook said once
    release.set()
    _until(lambda: "tracker" not in runner.hung, "the late call's return was noticed")
    assert runner.first_skip("tracker", hook)


# -- the real command ----------------------------------------------------------------------
SLEEPER = """
import time
from clearance import hookimpl

@hookimpl
def clearance_check_asset(asset):
    time.sleep(300)  # a tracker that never answers
    return []
"""


@pytest.mark.parametrize("jobs", [[], ["--jobs", "2"]], ids=["serial", "jobs2"])
def test_scan_with_a_checker_that_never_returns_finishes_unsure(
    tmp_path: Path, jobs: list[str]
) -> None:
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "sleeper.py").write_text(SLEEPER, encoding="utf-8")
    from clearance.testing import ClearanceRun

    run = ClearanceRun(tmp_path / "show", plugins=[str(hooks / "sleeper.py")])
    run.root.mkdir()
    run.config["plugin_timeout"] = 0.5
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.asset("comp/b.png", sidecar=genai_sidecar())
    run.write_config()
    # without the limit this would sleep 300 s per asset: the subprocess' own timeout
    done = run_cli("scan", str(run.root), "--format", "json", *jobs, timeout=100)
    assert done.code == 1, done.stderr
    items = {i["asset"]: i for i in done.json()["assets"]}
    for rel, state in (("comp/a.png", "timed out"), ("comp/b.png", "still running")):
        assert items[rel]["outcome"] == "escalate"
        crash = [f for f in items[rel]["findings"] if f["rule"] == "PRV-05"]
        assert crash, items[rel]
        # each worker process gives up on its own first call
        assert crash[0]["evidence"]["state"] in ((state,) if not jobs else (state, "timed out"))
    assert run_cli("verify", str(run.root / ".clearance" / "audit.jsonl")).code == 0
    lines = (run.root / ".clearance" / "audit.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "run.finished"


@pytest.mark.parametrize(
    "value",
    # .inf and .nan are numbers above 0 to the schema: .nan gave up on every call and its
    # timeout_s stopped the audit log (exit 2), .inf made every call a crash (OverflowError)
    [0, -1, "30", True, float("inf"), float("nan"), 1e10],
    ids=["0", "-1", "str", "bool", "inf", "nan", "1e10"],
)
def test_a_bad_plugin_timeout_is_a_config_error_naming_it(tmp_path: Path, value: Any) -> None:
    from clearance.testing import ClearanceRun

    run = ClearanceRun(tmp_path / "show")
    run.root.mkdir()
    run.config["plugin_timeout"] = value
    config = run.write_config()
    done = run_cli("scan", str(run.root))
    assert done.code == 2 and "plugin_timeout" in done.stderr, done.stderr
    checked = run_cli("validate", str(config))
    assert checked.code == 1 and "plugin_timeout" in checked.stdout + checked.stderr


def test_a_forked_child_calls_its_own_worker_not_the_parents(tmp_path: Path) -> None:
    import os

    runner = HookRunner(5)
    assert runner.call("p", "clearance_check_asset", lambda: "parent") == "parent"
    out = tmp_path / "child.txt"
    pid = os.fork()
    if pid == 0:  # the child: the parent's worker thread does not exist here
        try:
            value = runner.call("p", "clearance_check_asset", lambda: "child")
            out.write_text(str(value))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    assert out.read_text() == "child"
    runner.close()


def test_an_interrupt_while_waiting_leaves_the_call_behind_not_in_the_next_ones_way() -> None:
    """Ctrl-C or SIGTERM (raised in the main thread while it waits for a hook): the next
    call, of another plugin, is not queued behind the interrupted one, and then given up
    on in its place (a Python shell's second scan with the same session)."""
    import signal

    runner = HookRunner(3)
    release = threading.Event()

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            runner.call("tracker", "clearance_stage_started", lambda: release.wait(30))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    try:
        # not waited for behind the tracker's call, then blamed for it (HookTimeout)
        assert runner.call("other", "clearance_check_asset", lambda: "ok") == "ok"
        assert runner.hung == {"tracker": "clearance_stage_started"}
        with pytest.raises(HookHung):
            runner.call("tracker", "clearance_check_asset", lambda: "no")
    finally:
        release.set()
    _until(lambda: not runner.hung, "the interrupted call's return was noticed")
    assert runner.call("tracker", "clearance_check_asset", lambda: "back") == "back"
    runner.close()


class LockedNotifier:
    """A site plugin that cannot be pickled (a tracker client holding a lock): spawned
    ``--jobs`` workers cannot be given it, forked ones inherit it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stages: list[str] = []

    @hookimpl
    def clearance_stage_started(self, stage: Any) -> None:
        with self.lock:
            self.stages.append(stage.name)


def test_sessions_leave_no_hook_thread_and_jobs_still_fork(
    clearance_run: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The hook thread of a closed session ends (one per session was kept for ever), and a
    second ``run(jobs=2)`` still forks its workers: the idle thread made it spawn them, and
    an in-process plugin that cannot be pickled then made the run serial."""
    from clearance.discover import discover
    from clearance.engine import Session
    from clearance.policy import load_policy

    with contextlib.suppress(AssertionError):  # the late calls of the tests above ending
        _until(lambda: threading.active_count() == 1, "no other thread")
    if threading.active_count() != 1:
        pytest.skip("another thread runs here: --jobs spawns its workers anyway")
    run = clearance_run()
    run.config["plugin_timeout"] = 30
    for i in range(40):  # more than a chunk (32): two workers
        run.asset(f"comp/a{i:02d}.png", sidecar=genai_sidecar())
    policy = load_policy(run.write_config())
    found = discover([str(run.root)], policy)
    plugin = LockedNotifier()
    caplog.set_level("WARNING", logger="clearance")
    for _ in range(2):
        with Session(
            policy, command="scan", extra_plugins=[("tracker", plugin)], autoload=False
        ) as session:
            for _ in range(2):  # the same session's second run, too
                result = session.run(found.assets, jobs=2)
                assert len(result.assets) == 40
            session.close(result, exit_code=result.exit_code())
        assert threading.active_count() == 1, threading.enumerate()
    assert plugin.stages == ["comp"] * 4
    assert "cannot be sent to spawned workers" not in caplog.text


class HangingReaderAndChecker(HangingReader):
    @hookimpl
    def clearance_check_asset(self, asset: Any) -> Any:
        return []


def test_a_hook_not_called_is_the_one_its_finding_names_with_the_one_still_running(
    clearance_run: Any,
) -> None:
    """The checker not called because the plugin's reader still runs: its PRV-05's hook is
    the checker's (it said clearance_read_provenance, as the reader's PRV-05 beside it did)."""
    plugin = HangingReaderAndChecker()
    run = _show(clearance_run, LIMIT)
    result = _scan(run, "tracker", plugin)
    found = [f for f in result.asset("comp/hang.png").findings if f.rule == "PRV-05"]
    by_state = {f.evidence["state"]: f for f in found}
    assert by_state["timed out"].evidence["hook"] == "clearance_read_provenance"
    assert "running" not in by_state["timed out"].evidence
    skipped = by_state["still running"]
    assert skipped.evidence["hook"] == "clearance_check_asset"
    assert skipped.evidence["running"] == "clearance_read_provenance"
    assert skipped.message == (
        "checker tracker: clearance_check_asset not called: its clearance_read_provenance "
        "has not returned, more than 0.3 s after it was called (plugin_timeout)"
    )


class HangingNotifiers(Blocking):
    @hookimpl
    def clearance_asset_audited(self, result: Any) -> None:
        self._wait(result.asset.name)

    @hookimpl
    def clearance_stage_finished(self, stage_result: Any) -> None:
        pass


def test_a_notification_hook_not_called_is_named_in_its_plugin_failed(
    clearance_run: Any,
) -> None:
    plugin = HangingNotifiers()
    run = _show(clearance_run, LIMIT)
    result = _scan(run, "poster", plugin)
    failed = [e["details"] for e in result.events() if e["event"] == "plugin.failed"]
    assert {"hook": "clearance_stage_finished", "running": "clearance_asset_audited"} in [
        {k: d.get(k) for k in ("hook", "running")} for d in failed
    ]


def test_what_a_late_call_prints_after_the_audit_is_not_in_the_report(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A call given up on goes on printing (a tracker client retrying) after the part of the
    command that runs plugins: to stderr, as all a plugin prints does, never into stdout's
    report (``scan --format json`` of 300 assets had 'tracker: retrying' lines in its JSON)."""
    import sys

    from clearance.cli._common import stdout_to_stderr

    runner = HookRunner(LIMIT)
    left, printed = threading.Event(), threading.Event()

    def late() -> None:
        left.wait(30)
        print("tracker: retrying", flush=True)
        printed.set()

    stdout = sys.stdout
    try:
        with stdout_to_stderr(), pytest.raises(HookTimeout):
            runner.call("tracker", "clearance_check_asset", late)
        left.set()  # the report's turn: the call prints now
        assert printed.wait(30)
        print('{"assets": []}', flush=True)
    finally:
        left.set()
        sys.stdout = stdout
    out, err = capfd.readouterr()
    assert out == '{"assets": []}\n'
    assert "tracker: retrying" in err


def test_the_watcher_gives_up_on_a_hung_checker_and_stops_when_asked(tmp_path: Path) -> None:
    """``clearance watch``: its audit processes keep the limit (each asset unsure, the
    watcher not stuck behind the tracker), and SIGTERM drains and stops it, exit 0."""
    from _watch_harness import WatchProcess, make_show, wait_audited, write_hook
    from clearance.testing import ClearanceRun

    write_hook(
        tmp_path,
        "sleeper.py",
        "import time\n\n@hookimpl\ndef clearance_check_asset(asset):\n"
        "    time.sleep(300)  # a tracker that never answers\n    return []\n",
    )
    root = make_show(tmp_path, plugins=["sleeper.py"], extra="plugin_timeout: 0.5\n")
    run = ClearanceRun(root)
    with WatchProcess(root) as watcher:
        for name in ("a", "b", "c"):
            run.asset(f"comp/{name}.png", sidecar=genai_sidecar())
        wait_audited(root, 3)
        assert watcher.terminate() == 0
    events = [json.loads(line) for line in (root / ".clearance/audit.jsonl").open()]
    crashes = {e["asset"]: e for e in events if e["event"] == "finding" and e["rule"] == "PRV-05"}
    assert set(crashes) == {"comp/a.png", "comp/b.png", "comp/c.png"}
    assert all(e["outcome"] != "pass" for e in events if e["event"] == "asset.audited")


WAITER = """
import os, time
from clearance import hookimpl

@hookimpl
def clearance_check_asset(asset):
    open(os.environ["CALLED"], "w").close()
    time.sleep(300)  # a tracker that never answers, the limit far off
    return []
"""


@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_a_signal_while_waiting_for_a_hook_stops_the_run_as_interrupted(
    tmp_path: Path, signame: str
) -> None:
    """The main thread waits for the hook's thread: SIGTERM or Ctrl-C still stops the run
    there (143 / 130, run.finished saying so, the log intact), not after the limit."""
    import os
    import signal
    import subprocess
    import sys

    from clearance.testing import ClearanceRun

    hooks = tmp_path / "hooks"
    hooks.mkdir()
    (hooks / "waiter.py").write_text(WAITER, encoding="utf-8")
    run = ClearanceRun(tmp_path / "show", plugins=[str(hooks / "waiter.py")])
    run.root.mkdir()
    run.config["plugin_timeout"] = 250
    run.asset("comp/a.png", sidecar=genai_sidecar())
    run.write_config()
    called = tmp_path / "called"
    clearance = str(Path(sys.executable).parent / "clearance")
    proc = subprocess.Popen(
        [clearance, "scan", str(run.root)],
        env={**os.environ, "CALLED": str(called), "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
    )
    try:
        _until(lambda: called.exists() or proc.poll() is not None, "the hook called")
        proc.send_signal(getattr(signal, signame))
        code = proc.wait(100)  # the limit is 250 s, the hook's sleep 300 s
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 128 + getattr(signal, signame), proc.stderr.read() if proc.stderr else ""
    log = run.root / ".clearance" / "audit.jsonl"
    last = json.loads(log.read_text().splitlines()[-1])
    assert last["event"] == "run.finished" and last["details"]["interrupted"] == signame
    assert run_cli("verify", str(log)).code == 0
