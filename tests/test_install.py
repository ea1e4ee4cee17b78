"""`pip install .` into a fresh venv works, and `clearance scan` runs from outside the checkout."""

from __future__ import annotations

import json
import os
import subprocess
import venv
from pathlib import Path

import yaml

from clearance.testing import write_png
from conftest import genai_sidecar

CHECKOUT = Path(__file__).resolve().parents[1]


def test_wheel_install_ships_schemas_and_configs(tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    pip_env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", str(CHECKOUT)],
        check=True,
        env=pip_env,
        timeout=600,
        cwd=tmp_path,
    )

    show = tmp_path / "elsewhere" / "show"
    write_png(show / "comp" / "a.png")
    (show / "comp" / "a.png.genai.yaml").write_text(
        yaml.safe_dump(
            genai_sidecar(steps=[{**genai_sidecar()["steps"][0], "tool": "unregistered"}])
        )
    )
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    clean_env["PATH"] = f"{env_dir / 'bin'}:/usr/bin:/bin"
    done = subprocess.run(
        [str(env_dir / "bin" / "clearance"), "scan", str(show), "--format", "json"],
        cwd=tmp_path / "elsewhere",
        capture_output=True,
        text=True,
        env=clean_env,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    rules = {f["rule"] for f in json.loads(done.stdout)["assets"][0]["findings"]}
    assert "PRV-03" in rules, "the default policy (shipped in the wheel) was used"
    where = subprocess.run(
        [
            str(python),
            "-c",
            "import clearance, clearance._resources as r; print(clearance.__file__); print(r.data_file('schemas', 'provenance.schema.json'))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
        env=clean_env,
    ).stdout.split()
    assert str(env_dir) in where[0] and str(env_dir) in where[1], (
        "schemas come from the installed wheel, not the checkout"
    )
    init = subprocess.run(
        [str(env_dir / "bin" / "clearance"), "init", str(tmp_path / "new")],
        capture_output=True,
        text=True,
        env=clean_env,
    )
    assert init.returncode == 0 and (tmp_path / "new" / "clearance.yaml").is_file()
