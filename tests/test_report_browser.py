"""The HTML report in a real headless Chromium, driven over the DevTools protocol.

Proves: the page loads with no console errors or exceptions, fetches nothing, shows every
stage, and typing into the filter box (real key input, not a JS call) narrows the findings
table. The DevTools client is a few lines of stdlib websocket code, so no extra dependency.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_report import SAMPLE_STAGES, STAGES, clearance, sample_pipeline_log, write_show_log  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"
    ),
]


class DevTools:
    """A minimal Chrome DevTools Protocol client over a stdlib websocket (RFC 6455)."""

    def __init__(self, ws_url: str, timeout: float = 30) -> None:
        url = urllib.parse.urlparse(ws_url)
        self.sock = socket.create_connection((url.hostname, url.port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {url.path} HTTP/1.1\r\nHost: {url.hostname}:{url.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the handshake")
            head += chunk
        assert head.startswith(b"HTTP/1.1 101"), head
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def _exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            data += chunk
        return data

    def _send(self, payload: bytes, opcode: int = 0x1) -> None:
        header = bytes([0x80 | opcode])
        n = len(payload)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        mask = os.urandom(4)
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _recv(self) -> dict[str, Any]:
        message = b""
        while True:
            b0, b1 = self._exact(2)
            n = b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._exact(8))[0]
            data = self._exact(n)
            opcode = b0 & 0x0F
            if opcode == 0x9:  # ping
                self._send(data, 0xA)
                continue
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the websocket")
            message += data
            if b0 & 0x80:
                return json.loads(message)

    def call(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            msg["sessionId"] = session
        self._send(json.dumps(msg).encode())
        while True:
            reply = self._recv()
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while time.monotonic() < deadline:
            event = self._recv()
            self.events.append(event)
            if event.get("method") == method:
                return event
        raise TimeoutError(method)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[DevTools]:
    profile = tmp_path / "chromium-profile"
    proc = subprocess.Popen(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--remote-debugging-port=0",
            "--window-size=1440,900",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chromium did not start (exit {proc.poll()})")
            time.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        client = DevTools(f"ws://127.0.0.1:{port}{path}")
        try:
            yield client
        finally:
            client.close()
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def console_errors(browser: DevTools) -> list[dict[str, Any]]:
    return [
        e
        for e in browser.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (
            e.get("method") == "Runtime.consoleAPICalled"
            and e["params"]["type"] in ("error", "assert")
        )
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]


def open_page(browser: DevTools, page: Path) -> Any:
    """Load ``page`` in a new tab; returns ``js(expression) -> value`` bound to that tab."""
    target = browser.call("Target.createTarget", url="about:blank")["targetId"]
    session = browser.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable", session)
    browser.call("Page.navigate", session, url=page.as_uri())
    browser.wait_for("Page.loadEventFired")

    def js(expression: str) -> Any:
        result = browser.call(
            "Runtime.evaluate", session, expression=expression, returnByValue=True
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    js.session = session  # type: ignore[attr-defined]
    return js


VISIBLE = "[...document.querySelectorAll('#findings tbody tr')].filter(r => !r.hidden && r.offsetParent !== null)"


def type_into_filter(browser: DevTools, js: Any, text: str) -> None:
    """Click the filter box and type ``text`` key by key, as a user would."""
    session = js.session
    box = js(
        "(() => { const r = document.getElementById('filter').getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()"
    )
    for kind in ("mousePressed", "mouseReleased"):
        browser.call(
            "Input.dispatchMouseEvent",
            session,
            type=kind,
            x=box[0],
            y=box[1],
            button="left",
            clickCount=1,
        )
    assert js("document.activeElement.id") == "filter"
    for char in text:
        browser.call("Input.dispatchKeyEvent", session, type="keyDown", text=char, key=char)
        browser.call("Input.dispatchKeyEvent", session, type="keyUp", key=char)


def test_sample_pipeline_html_report_in_chromium(tmp_path: Path, browser: DevTools) -> None:
    log = sample_pipeline_log(tmp_path / "sample")
    page = tmp_path / "report.html"
    assert clearance("report", str(log), "-f", "html", "-o", str(page)).returncode == 0
    js = open_page(browser, page)
    assert console_errors(browser) == []
    assert (
        js(
            "[...document.querySelectorAll('#stages tbody tr td:first-child')].map(td => td.textContent)"
        )
        == SAMPLE_STAGES
    )
    chart = js("document.querySelector('#summary svg').textContent")
    assert all(stage in chart for stage in SAMPLE_STAGES)
    total = js(f"{VISIBLE}.length")
    assert total > 10
    type_into_filter(browser, js, "consent")
    shown = js(f"{VISIBLE}.map(r => r.textContent.toLowerCase())")
    assert 0 < len(shown) < total
    assert all("consent" in row for row in shown)
    assert js("document.getElementById('count').textContent") == f"{len(shown)} of {total} shown"
    assert console_errors(browser) == []


def test_html_report_loads_clean_shows_every_stage_and_filters(
    tmp_path: Path, browser: DevTools
) -> None:
    log = write_show_log(tmp_path / "audit.jsonl")
    page = tmp_path / "report.html"
    proc = clearance("report", str(log), "--format", "html", "-o", str(page))
    assert proc.returncode == 0, proc.stderr
    js = open_page(browser, page)
    session = js.session

    assert console_errors(browser) == []  # the page's script ran clean

    visible = f"{VISIBLE}.length"
    # every stage of the show, in the summary table and the chart
    assert (
        js(
            "[...document.querySelectorAll('#stages tbody tr td:first-child')].map(td => td.textContent)"
        )
        == STAGES
    )
    chart = js("document.querySelector('#summary svg').textContent")
    assert all(stage in chart for stage in STAGES)
    total = js(visible)
    assert total == 5

    # a real interaction: click the box and type, as a user would
    type_into_filter(browser, js, "consent")
    assert js("document.getElementById('filter').value") == "consent"
    assert js(visible) == 1
    assert "NFX-T2" in js(
        "[...document.querySelectorAll('#findings tbody tr')].find(r => !r.hidden).textContent"
    )
    assert js("document.getElementById('count').textContent") == "1 of 5 shown"

    # the stage selector narrows too; clearing the box brings the rows back
    js("document.getElementById('filter').select()")
    browser.call(
        "Input.dispatchKeyEvent",
        session,
        type="keyDown",
        key="Backspace",
        code="Backspace",
        windowsVirtualKeyCode=8,
    )
    browser.call(
        "Input.dispatchKeyEvent",
        session,
        type="keyUp",
        key="Backspace",
        code="Backspace",
        windowsVirtualKeyCode=8,
    )
    assert js(visible) == total
    js(
        "(() => { const s = document.getElementById('stage-filter'); s.value = 'plate_gen'; s.dispatchEvent(new Event('change')); })()"
    )
    assert js(visible) == 2
    js(
        "(() => { const s = document.getElementById('stage-filter'); s.value = ''; s.dispatchEvent(new Event('change')); })()"
    )
    js(
        "(() => { const s = document.getElementById('outcome-filter'); s.value = 'approval'; s.dispatchEvent(new Event('change')); })()"
    )
    assert js(f"{VISIBLE}.map(r => r.getAttribute('data-outcome'))") == ["block", "approval"]

    # nothing went wrong on the way, and nothing was fetched
    assert console_errors(browser) == []
    requests = [
        e["params"]["request"]["url"]
        for e in browser.events
        if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requests == [page.as_uri()]
