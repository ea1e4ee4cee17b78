"""A watched folder the watcher cannot write: its heartbeat (the cookie that shows the
observer still sees changes) cannot work there, and the watcher says so.

The real CLI in a subprocess watches a show whose root folder is read-only to it (its
``.clearance`` folder stays writable). As root, permissions are no obstacle: the watcher then
runs without ``CAP_DAC_OVERRIDE`` (``setpriv``), as an ordinary user would.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from _watch_harness import WatchProcess, events, make_show, wait_audited, wait_for

AS_USER: tuple[str, ...] = (
    ("setpriv", "--bounding-set=-dac_override,-dac_read_search", "--") if os.geteuid() == 0 else ()
)

pytestmark = pytest.mark.skipif(
    os.geteuid() == 0 and shutil.which("setpriv") is None,
    reason="as root, needs setpriv to make a folder read-only to the watcher",
)


def _heartbeat_off(root: Path) -> list[dict]:
    return [e for e in events(root, "watch.error") if e["details"].get("reason") == "heartbeat-off"]


def test_a_read_only_folder_is_said_to_have_no_heartbeat_once(tmp_path: Path) -> None:
    """The cookie cannot be written: a ``watch.error`` (reason ``heartbeat-off``) names the
    folder and says what to do, once however many heartbeats fail (it was silent: the
    blind-observer check was off with nothing said); stderr says it too, and the folder is
    still watched."""
    root = make_show(tmp_path)
    (root / ".clearance").mkdir()
    (root / "comp").mkdir()
    os.chmod(root, 0o555)
    try:
        watcher = WatchProcess(root, "--heartbeat", "0.1", "--stats", "0.2")
        watcher.cmd = [*AS_USER, *watcher.cmd]
        with watcher:
            said = wait_for(lambda: _heartbeat_off(root), what="watch.error heartbeat-off")
            stats = len(events(root, "watch.stats"))
            # many heartbeats later (each watch.stats is two of them)
            wait_for(lambda: len(events(root, "watch.stats")) >= stats + 5, what="watch.stats")
            (root / "comp" / "a.mov").write_bytes(b"\0" * 100)  # (comp is writable)
            wait_audited(root, 1)
            assert watcher.terminate() == 0
            assert watcher.proc is not None and watcher.proc.stderr is not None
            stderr = watcher.proc.stderr.read().decode()
    finally:
        os.chmod(root, 0o755)
    assert len(_heartbeat_off(root)) == 1
    details = said[0]["details"]
    assert details["root"] == str(root)
    assert details["backend"] == "inotify"
    assert details["errno"] == "EACCES"
    assert "--polling" in said[0]["message"] and "writable" in said[0]["message"]
    assert f"watch.error heartbeat-off: {root}: cannot write the heartbeat cookie" in stderr
    assert not [p for p in os.listdir(root) if p.startswith(".clearance-cookie")]


def test_a_writable_folder_says_nothing_of_its_heartbeat(tmp_path: Path) -> None:
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    with WatchProcess(root, "--heartbeat", "0.1", "--stats", "0.2") as watcher:
        wait_for(lambda: len(events(root, "watch.stats")) >= 5, what="watch.stats")
        assert watcher.terminate() == 0
    assert not _heartbeat_off(root)


def test_cookies_seen_are_not_kept_for_ever(tmp_path: Path) -> None:
    """The names of cookies seen — another watcher's of the same folder, and this one's
    again when its removal makes an event — were kept for as long as the watcher ran (one
    or two more each heartbeat, each watcher); they are forgotten at the next heartbeat."""
    from _watch_harness import InProcessWatcher

    root = make_show(tmp_path)
    (root / "comp").mkdir()
    with InProcessWatcher(root, heartbeat=0.1) as w:
        for n in range(50):  # another watcher's cookies (pid 1: never this test's)
            (root / f".clearance-cookie.1.{n}").write_text("x")
            (root / f".clearance-cookie.1.{n}").unlink()
        (root / "comp" / "a.mov").write_bytes(b"\0" * 100)  # its events come after theirs
        wait_audited(root, 1)
        seen = w.watcher.roots[str(root)].cookie_seen
        wait_for(
            lambda: not any(n.startswith(".clearance-cookie.1.") for n in set(seen)),
            what="the other watcher's cookies forgotten",
        )
        assert len(seen) <= 3
