"""A file system that stamps whole seconds (ext3, HFS+, FAT, some NFS servers) and a quiet
period shorter than a second: a rewrite of the same size in the second of the last change
leaves size, mtime and ctime as they were.

The files are real; their stamps are read through a :class:`FileSystem` that gives them as
such a file system does, to the second (an ext3 image mounted by loop shows the same; the
test suite cannot mount one). The audits run in the watcher's own thread
(``audit_processes=0``), so that every ``stat`` of the watcher goes through it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _watch_harness import InProcessWatcher, audited, audited_counts, make_show, wait_for
from clearance.watch_readiness import FileSystem

SECOND = 1_000_000_000


class WholeSecondsFS(FileSystem):
    """The OS's files, their mtime and ctime to the whole second (as ext3 stamps them)."""

    def stat(self, path: str) -> os.stat_result:
        st = os.stat(path)
        mtime = st.st_mtime_ns - st.st_mtime_ns % SECOND
        ctime = st.st_ctime_ns - st.st_ctime_ns % SECOND
        fields = tuple(st)[:7] + (int(st.st_atime), mtime // SECOND, ctime // SECOND)
        return os.stat_result(
            fields,
            {
                "st_atime": st.st_atime,
                "st_mtime": mtime / SECOND,
                "st_ctime": ctime / SECOND,
                "st_atime_ns": st.st_atime_ns,
                "st_mtime_ns": mtime,
                "st_ctime_ns": ctime,
            },
        )


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_same_size_rewrite_in_the_second_of_an_audit_is_audited(tmp_path: Path) -> None:
    """The clip settles (0.3 s), is audited, and is rewritten with other bytes of the same
    size within the same second: its stamps to the second are those audited. The watcher
    now audits a file only once its last change is a tick of the clock old (here 3 s), so
    the rewrite has stamps of its own and is audited too (the new bytes were never
    audited, and every later look found the version audited)."""
    root = make_show(tmp_path)
    (root / "comp").mkdir()
    clip = root / "comp" / "clip.mov"
    first, second = b"\0" * 1000, b"\1" * 1000
    fs = WholeSecondsFS()
    with InProcessWatcher(root, fs=fs, audit_processes=0, sidecar_grace=0.0):
        time.sleep(1 - time.time() % 1 + 0.01)  # at the start of a second: room to race in it
        clip.write_bytes(first)
        wait_for(lambda: audited(root), what="the first audit")
        with open(clip, "r+b") as f:  # the same size, in place
            f.write(second)
        wait_for(
            lambda: any(
                e["details"]["watch"]["files"][0]["sha256"] == _sha(second) for e in audited(root)
            ),
            what="an audit of the rewritten bytes",
        )
    shas = [e["details"]["watch"]["files"][0]["sha256"] for e in audited(root)]
    assert shas == [_sha(first), _sha(second)]
    assert audited_counts(root) == {"comp/clip.mov": 2}


def _can_mount_ext3() -> bool:
    if os.geteuid() != 0 or not (shutil.which("unshare") and shutil.which("mkfs.ext3")):
        return False
    probe = subprocess.run(
        ["unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"], capture_output=True
    )
    return probe.returncode == 0 and os.path.exists("/dev/loop-control")


#: run inside a mount namespace, with a real ext3 (128-byte inodes: whole-second stamps)
#: mounted at argv[1]: the scenario of the test above, on that file system
_ON_EXT3 = """
import hashlib, os, sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[2])
from _watch_harness import InProcessWatcher, audited, make_show, wait_for
root = make_show(Path(sys.argv[1]))
(root / "comp").mkdir()
clip = root / "comp" / "clip.mov"
assert os.stat(root / "clearance.yaml").st_ctime_ns % 1_000_000_000 == 0, "not whole seconds"
first, second = b"\\0" * 1000, b"\\1" * 1000
sha = lambda data: hashlib.sha256(data).hexdigest()
with InProcessWatcher(root, sidecar_grace=0.0):
    time.sleep(1 - time.time() % 1 + 0.01)
    clip.write_bytes(first)
    wait_for(lambda: audited(root), what="the first audit")
    with open(clip, "r+b") as f:
        f.write(second)
    wait_for(
        lambda: any(e["details"]["watch"]["files"][0]["sha256"] == sha(second)
                    for e in audited(root)),
        what="an audit of the rewritten bytes",
    )
shas = [e["details"]["watch"]["files"][0]["sha256"] for e in audited(root)]
assert shas == [sha(first), sha(second)], shas
"""


@pytest.mark.skipif(
    not _can_mount_ext3(), reason="needs root, mount namespaces and loop devices for ext3"
)
def test_on_a_real_ext3_a_same_size_rewrite_in_the_second_of_an_audit_is_audited(
    tmp_path: Path,
) -> None:
    """The same, on a real file system stamping whole seconds: an ext3 image (128-byte
    inodes) loop-mounted in a mount namespace of its own; the watcher (its real observer and
    audit processes) and the writes run inside it."""
    image, mount = tmp_path / "ext3.img", tmp_path / "mnt"
    mount.mkdir()
    with open(image, "wb") as f:
        f.truncate(16 * 1024 * 1024)
    subprocess.run(
        ["mkfs.ext3", "-q", "-F", "-I", "128", str(image)], check=True, capture_output=True
    )
    script = tmp_path / "scenario.py"
    script.write_text(_ON_EXT3)
    tests = Path(__file__).parent
    done = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'mount -o loop "{image}" "{mount}" && exec "{sys.executable}" "{script}" '
            f'"{mount / "base"}" "{tests}"',
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-4000:]
