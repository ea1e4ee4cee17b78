"""Test harness for the watcher: a show root, writer processes, a watcher, and waiting helpers.

Writers run in **separate processes** (``multiprocessing`` spawn, or the real CLI through
``subprocess``) so that, as in production, the watcher only learns about files through the
kernel. Every wait is on a condition with a generous timeout; nothing asserts wall-clock time.

This module is imported by writer processes too, so it imports nothing heavy at top level.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

TIMEOUT = 90.0  # generous: a loaded 2-core CI machine
FAST = {
    "settle": 0.3,
    "sidecar_grace": 0.8,
    "sequence_idle": 0.5,
    "interval": 0.25,
    "network_settle": 0.3,
    "rescan_interval": 0.0,
    "heartbeat": 0.0,
    "stats_interval": 0.0,
}

# -- files ---------------------------------------------------------------------------------------


def exr_attr(name: str, kind: str, value: bytes) -> bytes:
    """One EXR header attribute: ``name\\0 type\\0 int32 size, value``."""
    return name.encode() + b"\0" + kind.encode() + b"\0" + struct.pack("<i", len(value)) + value


def exr_window(width: int, height: int) -> bytes:
    """The ``dataWindow`` and ``displayWindow`` attributes of a ``width`` x ``height`` image."""
    box = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    return exr_attr("dataWindow", "box2i", box) + exr_attr("displayWindow", "box2i", box)


def exr_bytes(width: int = 4, height: int = 4, seed: int = 0, attrs: bytes = b"") -> bytes:
    """A valid single-part scanline uncompressed EXR; ``seed`` changes the pixels; ``attrs``:
    more header attributes (:func:`exr_attr`, e.g. the EXR reader's ``genai:generated``)."""
    attr = exr_attr
    channels = (
        b"".join(n.encode() + b"\0" + struct.pack("<iB3xii", 1, 0, 1, 1) for n in "BGR") + b"\0"
    )
    box = struct.pack("<iiii", 0, 0, width - 1, height - 1)
    header = (
        b"\x76\x2f\x31\x01"
        + struct.pack("<I", 2)
        + attr("channels", "chlist", channels)
        + attr("compression", "compression", b"\0")
        + attr("dataWindow", "box2i", box)
        + attr("displayWindow", "box2i", box)
        + attr("lineOrder", "lineOrder", b"\0")
        + attr("pixelAspectRatio", "float", struct.pack("<f", 1.0))
        + attr("screenWindowCenter", "v2f", struct.pack("<ff", 0, 0))
        + attr("screenWindowWidth", "float", struct.pack("<f", 1.0))
        + attrs
        + b"\0"
    )
    row = width * 3 * 2
    first = len(header) + 8 * height
    offsets = struct.pack(f"<{height}Q", *(first + y * (8 + row) for y in range(height)))
    blocks = b"".join(
        struct.pack("<ii", y, row) + bytes(((seed + y + i) % 251) for i in range(row))
        for y in range(height)
    )
    return header + offsets + blocks


_EXR_LEADERS = {"scanlineimage": 4, "tiledimage": 16, "deepscanline": 4, "deeptile": 16}


def exr_file(
    parts: list[tuple[str, bytes, int]],
    *,
    multipart: bool | None = None,
    payload: int = 16,
    offsets: bool = True,
) -> bytes:
    """An OpenEXR file of any layout, as the file-format spec lays it out: the headers (one
    per part; a multi-part file ends the list with an empty header), one offset table per
    part, then each part's chunks with opaque pixel data of ``payload`` bytes.

    ``parts``: ``(type, attributes, chunks)`` — ``scanlineimage``, ``tiledimage``,
    ``deepscanline`` or ``deeptile``; the header attributes (:func:`exr_attr` bytes); the
    number of chunks its offset table has (the caller says it: the completeness check works
    it out from the header, and a test that did the same sum would prove nothing). A
    multi-part or deep file gets the ``name``, ``type`` and ``chunkCount`` attributes the
    spec requires. ``offsets=False`` leaves the tables zero, as OpenEXR does until it closes
    the file.
    """
    if multipart is None:
        multipart = len(parts) > 1
    deep = any(kind.startswith("deep") for kind, _, _ in parts)
    flags = 2 | (0x1000 if multipart else 0) | (0x800 if deep else 0)
    if not multipart and not deep and parts[0][0] == "tiledimage":
        flags |= 0x200
    headers = b""
    for index, (kind, attrs, chunks) in enumerate(parts):
        if multipart or deep:
            attrs += exr_attr("name", "string", f"part{index}".encode())
            attrs += exr_attr("type", "string", kind.encode())
            attrs += exr_attr("chunkCount", "int", struct.pack("<i", chunks))
        headers += attrs + b"\0"
    if multipart:
        headers += b"\0"
    header = b"\x76\x2f\x31\x01" + struct.pack("<I", flags) + headers
    table_size = 8 * sum(chunks for _, _, chunks in parts)
    blocks: list[bytes] = []
    for index, (kind, _, chunks) in enumerate(parts):
        for n in range(chunks):
            block = struct.pack("<i", index) if multipart else b""
            block += struct.pack("<i", n) + bytes(_EXR_LEADERS[kind] - 4)
            if kind.startswith("deep"):
                block += struct.pack("<qqq", payload // 2, payload - payload // 2, payload)
            else:
                block += struct.pack("<i", payload)
            blocks.append(block + bytes((n + i) % 251 for i in range(payload)))
    starts, at = [], len(header) + table_size
    for block in blocks:
        starts.append(at if offsets else 0)
        at += len(block)
    return header + struct.pack(f"<{len(starts)}Q", *starts) + b"".join(blocks)


SIDECAR = "provenance: 1\nproduction: SHOW01\ngenerated: false\n"


def write_file(path: str | Path, data: bytes, *, tmp: str | None = None) -> None:
    """Write ``data`` to ``path``, through the temporary name ``tmp`` then rename, if given."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.parent / tmp if tmp else path
    with open(target, "wb") as f:
        f.write(data)
    if tmp:
        os.rename(target, path)


# -- writers (run in child processes) ----------------------------------------------------------------


def writer_burst(
    folder: str, count: int, tmp_every: int = 2, sidecars: bool = False, prefix: str = "shot"
) -> None:
    """``count`` single EXRs as fast as possible; every ``tmp_every``-th through ``NAME.tmp``."""
    data = exr_bytes()
    for i in range(count):
        name = f"{prefix}_{i:05d}.exr"
        if sidecars:
            write_file(Path(folder) / f"{name}.genai.yaml", SIDECAR.encode())
        write_file(
            Path(folder) / name,
            data,
            tmp=f"{name}.tmp" if tmp_every and i % tmp_every == 0 else None,
        )


def writer_chunks(path: str, chunks: int, pause: float, reopen: bool, seed: int = 1) -> None:
    """One EXR in ``chunks`` pieces with ``pause`` s between; one fd, or reopened for each append."""
    data = exr_bytes(16, 16, seed)
    size = -(-len(data) // chunks)
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    if reopen:
        for i, piece in enumerate(pieces):
            with open(path, "ab" if i else "wb") as f:
                f.write(piece)
            time.sleep(pause)
    else:
        with open(path, "wb") as f:
            for piece in pieces:
                f.write(piece)
                f.flush()
                time.sleep(pause)


def writer_script(steps: list[tuple[Any, ...]]) -> None:
    """Run simple file operations in order: ("write", path, text|bytes), ("sleep", s), ("rename", a, b), …"""
    import shutil

    for step in steps:
        op = step[0]
        if op == "write":
            data = step[2].encode() if isinstance(step[2], str) else step[2]
            write_file(step[1], data)
        elif op == "exr":
            write_file(step[1], exr_bytes(seed=step[2] if len(step) > 2 else 0))
        elif op == "sleep":
            time.sleep(step[1])
        elif op == "rename":
            os.rename(step[1], step[2])
        elif op == "unlink":
            os.unlink(step[1])
        elif op == "mkdirs":
            os.makedirs(step[1], exist_ok=True)
        elif op == "link":
            os.link(step[1], step[2])
        elif op == "copy2":
            shutil.copy2(step[1], step[2])
        elif op == "rmtree":
            shutil.rmtree(step[1])
        elif op == "truncate_rewrite":
            with open(step[1], "r+b") as f:
                f.truncate(0)
                f.write(step[2])
        elif op == "rewrite_keep_mtime":  # in place, its mtime put back (cp -p, rsync -t)
            data = step[2].encode() if isinstance(step[2], str) else step[2]
            before = os.stat(step[1])
            with open(step[1], "r+b") as f:
                f.truncate(0)
                f.write(data)
            os.utime(step[1], ns=(before.st_atime_ns, before.st_mtime_ns))
        else:
            raise ValueError(op)


def run_writer(
    target: Callable[..., None], *args: Any, wait: bool = True
) -> multiprocessing.process.BaseProcess:
    """Run ``target(*args)`` in a separate (spawned) process; wait for it by default."""
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=target, args=args)
    proc.start()
    if wait:
        proc.join(TIMEOUT)
        assert proc.exitcode == 0, f"writer {target.__name__} failed with {proc.exitcode}"
    return proc


# -- the show ----------------------------------------------------------------------------------------


def make_show(base: Path, *, plugins: Iterable[str] = (), extra: str = "") -> Path:
    """A show root ``base/show`` with a clearance.yaml; plugin files live in ``base/hooks``."""
    root = base / "show"
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        "clearance: 1",
        "production: {id: SHOW01, genre: fiction}",
        "audit: {log: .clearance/audit.jsonl, state: .clearance/state.db}",
        "stages:",
        "  - {name: comp, paths: [comp/]}",
        "  - {name: renders, paths: [renders/]}",
    ]
    if plugins:
        lines.append("plugins: [" + ", ".join(f"../hooks/{p}" for p in plugins) + "]")
    (root / "clearance.yaml").write_text("\n".join(lines) + "\n" + extra)
    return root


#: The tools the watcher's lineage tests declare: a GenAI tool and a compositing tool, both
#: studio-enterprise with every term known and safe (only lineage decides their verdicts).
LINEAGE_TOOLS = {
    "gen-tool": "{vendor: Acme, deployment: studio_enterprise, trains_on_inputs: false,\n"
    "             retains_data: none, reuses_outputs: false, marks_output: c2pa, terms: MSA}",
    "nuke": "{vendor: Foundry, deployment: studio_enterprise, trains_on_inputs: false,\n"
    "         retains_data: none, reuses_outputs: false, marks_output: none, terms: site}",
}


def lineage_config(stages: Iterable[str], tools: Iterable[str] = ("gen-tool", "nuke")) -> str:
    """A ``clearance.yaml`` of the watcher's lineage tests: each stage ``NAME`` at ``NAME/``,
    with the :data:`LINEAGE_TOOLS` named."""
    lines = [
        "clearance: 1",
        "production: {id: SHOW01, genre: fiction}",
        "audit: {log: .clearance/audit.jsonl, state: .clearance/state.db}",
        "stages:",
        *(f"  - {{name: {name}, paths: [{name}/]}}" for name in stages),
        "tools:",
        *(f"  {name}: {LINEAGE_TOOLS[name]}" for name in tools),
    ]
    return "\n".join(lines) + "\n"


def state_store_at(path: Path, version: int) -> None:
    """A state store as a Clearance that knew ``version`` migrations left it."""
    from clearance.state import MIGRATIONS

    with sqlite3.connect(path) as db:
        for migrate in MIGRATIONS[:version]:
            migrate(db)
        db.execute(f"PRAGMA user_version={version}")


def write_hook(base: Path, name: str, body: str) -> None:
    hooks = base / "hooks"
    hooks.mkdir(parents=True, exist_ok=True)
    (hooks / name).write_text("from clearance import hookimpl\n\n" + body)


# -- reading results ---------------------------------------------------------------------------------


def events(root: Path, name: str | None = None) -> list[dict[str, Any]]:
    log = root / ".clearance" / "audit.jsonl"
    out: list[dict[str, Any]] = []
    if not log.exists():
        return out
    for line in log.read_bytes().splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if name is None or event.get("event") == name:
            out.append(event)
    return out


def audited(root: Path) -> list[dict[str, Any]]:
    return events(root, "asset.audited")


def audited_counts(root: Path) -> Counter[str]:
    return Counter(e["asset"] for e in audited(root))


def ledger(root: Path) -> Any:
    from clearance.state import StateStore

    return StateStore(root / ".clearance" / "state.db")


def wait_for(
    condition: Callable[[], Any], timeout: float = TIMEOUT, what: str = "condition"
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


def wait_audited(root: Path, count: int, timeout: float = TIMEOUT) -> list[dict[str, Any]]:
    return wait_for(
        lambda: len(audited(root)) >= count and audited(root),
        timeout,
        f"{count} asset.audited events",
    )


def quiet(root: Path, seconds: float) -> None:
    """Wait until no ``asset.audited`` event was added for ``seconds`` (no more audits coming)."""
    last = (-1, time.monotonic())
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        size = len(audited(root))
        if size != last[0]:
            last = (size, time.monotonic())
        elif time.monotonic() - last[1] >= seconds:
            return
        time.sleep(0.05)


def scan_verdicts(root: Path, workdir: Path) -> dict[str, tuple[str, list[str]]]:
    """What ``clearance scan`` (the real CLI) says now of each asset under ``root``:
    ``{asset: (outcome, sorted rule ids of its findings)}``, scanned on a copy in ``workdir``
    (its own log and state store: the watcher's are left as they are)."""
    import shutil

    copy = workdir / "scan-copy"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns(".clearance"), symlinks=True)
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "clearance"),
            "scan",
            str(copy),
            "--format",
            "json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "CLEARANCE_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assets = json.loads(proc.stdout)["assets"]
    return {a["asset"]: (a["outcome"], sorted({f["rule"] for f in a["findings"]})) for a in assets}


def watch_verdicts(root: Path) -> dict[str, tuple[str, list[str]]]:
    """The latest ``asset.audited`` of each asset in the watcher's log, as
    :func:`scan_verdicts` has it: ``{asset: (outcome, sorted rule ids of its findings)}``."""
    found: dict[str, tuple[str, list[str]]] = {}
    rules: dict[str, set[str]] = {}
    for event in events(root):
        if event["event"] == "finding":
            rules.setdefault(event["asset"], set()).add(event["rule"])
        elif event["event"] == "asset.audited":
            found[event["asset"]] = (event["outcome"], sorted(rules.pop(event["asset"], set())))
    return found


def assert_once(root: Path, expected: Iterable[str]) -> None:
    """Every expected asset audited exactly once, and nothing else audited."""
    counts = audited_counts(root)
    expected = set(expected)
    missing = sorted(a for a in expected if counts[a] == 0)
    twice = sorted(a for a in expected if counts[a] > 1)
    extra = sorted(a for a in counts if a not in expected)
    assert not missing, f"{len(missing)} never audited, e.g. {missing[:5]}"
    assert not twice, f"{len(twice)} audited more than once, e.g. {twice[:5]}"
    assert not extra, f"audited but not expected: {extra[:5]}"


# -- watchers ------------------------------------------------------------------------------------------


class InProcessWatcher:
    """A real :class:`clearance.watch.Watcher` (real observer, real ledger) in a thread."""

    def __init__(self, root: Path, paths: list[Path] | None = None, **options: Any) -> None:
        from clearance.policy import load_policy
        from clearance.watch import Watcher, WatchOptions

        fs = options.pop("fs", None)
        hook = options.pop("event_hook", None)
        opts = {**FAST, **options}
        self.root = root
        self.policy = load_policy(root / "clearance.yaml")
        self.watcher = Watcher(
            self.policy,
            [str(p) for p in (paths or [root])],
            WatchOptions(**opts),
            fs=fs,
            event_hook=hook,
        )
        self.thread = threading.Thread(
            target=self.watcher.run, name="watcher-under-test", daemon=True
        )

    def __enter__(self) -> InProcessWatcher:
        self.thread.start()
        wait_for(self.watcher.started.is_set, what="watcher start")
        wait_for(
            lambda: self.watcher.reconciler is not None and self.watcher.reconciler.idle(),
            what="startup rescan",
        )
        return self

    def stop(self) -> int | None:
        self.watcher.stop()
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "watcher did not stop"
        return self.watcher.exit_code

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop()


class WatchProcess:
    """``clearance watch`` through the real CLI in a subprocess."""

    def __init__(self, root: Path, *args: str, paths: Sequence[Path] = ()) -> None:
        """Watch ``paths`` (default: the show ``root``, whose log is read)."""
        self.root = root
        defaults = [
            "--settle",
            "0.3",
            "--sidecar-grace",
            "0.8",
            "--sequence-idle",
            "0.5",
            "--rescan",
            "0",
            "--heartbeat",
            "0",
            "--stats",
            "0",
        ]
        watched = [str(p) for p in paths] or [str(root)]
        self.cmd = [sys.executable, "-m", "clearance", "watch", *watched, *defaults, *args]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WatchProcess:
        # a second start (``with WatchProcess(...).start() as w``: __enter__ starts again)
        # would leave the first watcher running after the test, unseen, for ever
        assert self.proc is None, "this watcher was started already"
        before = len(events(self.root, "watch.started"))
        self.proc = subprocess.Popen(self.cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        wait_for(
            lambda: (
                len(events(self.root, "watch.started")) > before or self.proc.poll() is not None
            ),
            what="watch.started",
        )
        assert self.proc.poll() is None, (
            self.proc.stderr.read().decode() if self.proc.stderr else ""
        )
        return self

    def terminate(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(TIMEOUT)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the watcher did not stop:\n{self.stacks()}") from None

    def stacks(self) -> str:
        """Every thread's stack of the watcher and its audit processes (SIGUSR1), then kill
        them all: what a stuck watcher was doing, for the failure message."""
        assert self.proc is not None
        pids = [self.proc.pid, *_children(self.proc.pid)]
        for pid in pids:  # (multiprocessing's resource tracker dies of it: killed anyway)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGUSR1)
        time.sleep(2.0)
        for pid in pids:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        _out, err = self.proc.communicate(timeout=30)
        return err.decode(errors="replace")[-20000:]

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(TIMEOUT)

    def __enter__(self) -> WatchProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(TIMEOUT)


def open_stores(folder: str, count: int, barrier: Any) -> None:
    """Open (and so migrate) ``count`` new state stores in ``folder``, one at a time, each
    after every process in ``barrier`` is ready — run in several processes at once."""
    from clearance.state import MIGRATIONS, StateStore

    try:
        for n in range(count):
            barrier.wait(TIMEOUT)
            store = StateStore(os.path.join(folder, f"state{n}.db"))
            assert store.schema_version == len(MIGRATIONS)
            store.close()
    except BaseException:
        barrier.abort()  # the others stop waiting for this process
        raise


def _children(pid: int) -> list[int]:
    """The child processes of ``pid`` (Linux: ``/proc``; elsewhere none)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found.extend(int(k) for k in (task / "children").read_text().split())
    return found


def busy_timeout() -> float:
    """The state store's busy timeout in the process that runs this (an audit process)."""
    from clearance import state

    return state.BUSY_TIMEOUT
