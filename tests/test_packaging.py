"""A wheel install carries the shipped model and demo recording, and runs on them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """neurofb built as a wheel and installed (without its dependencies) into a folder."""
    tmp = tmp_path_factory.mktemp("wheel")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp / "dist"), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    [wheel] = (tmp / "dist").glob("neurofb-*.whl")
    target = tmp / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert install.returncode == 0, install.stderr
    return target


def _run(target: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target), "NEUROFB_HOME": str(cwd / "home")}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=300)  # fmt: skip


@pytest.mark.slow
def test_wheel_runs_the_demo_with_the_shipped_model(installed, tmp_path):
    where = _run(installed, "-c", "import neurofb, neurofb.paths as p; "
                 "print(neurofb.__file__); print(p.default_model_dir()); "
                 "print(p.shipped_recordings_dir())", cwd=tmp_path)
    assert where.returncode == 0, where.stderr
    module, model, recordings = where.stdout.split()
    assert Path(module).is_relative_to(installed)  # the wheel, not the checkout
    assert Path(model).is_relative_to(installed) and (Path(model) / "model.json").is_file()
    demo = Path(recordings) / "demo-eegmat"
    assert (demo / "eeg.bin").is_file()
    out = _run(installed, "-m", "neurofb", "replay", str(demo), "--seconds", "20", "--hop", "1",
               cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "with target model" in out.stdout and "mean focus 0." in out.stdout
