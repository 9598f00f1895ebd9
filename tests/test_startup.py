"""What start-up may and may not do: what the CLI imports to build its parser, what the live
path imports before the board starts, no pkg_resources warning, the xcb check before Qt, the
set-up stamp. (How long start-up takes is measured by ``neurofb bench startup``, not here.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from neurofb.commands import app as app_cmd

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("numpy", "scipy", "mne", "torch", "onnxruntime", "brainflow", "PyQt6", "sklearn",
         "neurofb_benchmarks")


def _modules_after(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys\n"
                          "print('\\n'.join(sorted(sys.modules)))"],
                         capture_output=True, text=True, check=True).stdout
    return set(out.split())


def test_building_the_cli_imports_nothing_heavy():
    mods = _modules_after("from neurofb.cli import build_parser\nbuild_parser()")
    assert not {m for m in mods if m.split(".")[0] in HEAVY}


def test_bench_options_are_added_when_bench_is_used(capsys):
    from neurofb.cli import build_parser

    parser = build_parser()
    with pytest.raises(SystemExit):
        parser.parse_args(["bench", "--help"])
    out = capsys.readouterr().out
    assert "--updates" in out and "--replay-hours" in out and "startup" in out
    args = build_parser().parse_args(["bench", "engine", "--updates", "7"])
    assert args.updates == 7 and args.names == ["engine"]


def test_assembling_a_stream_module_imports_only_numpy():
    mods = _modules_after("import neurofb.stream.assemble")
    heavy = {m.split(".")[0] for m in mods if m.split(".")[0] in HEAVY}
    assert heavy == {"numpy"}


@pytest.mark.parametrize("argv", [["boards", "--json"], ["replay", "--help"]])
def test_no_pkg_resources_warning(argv):
    done = subprocess.run([sys.executable, "-m", "neurofb", *argv], capture_output=True,
                          text=True, check=True)
    assert "pkg_resources" not in done.stderr and "Warning" not in done.stderr


def test_brainflow_ml_model_import_is_quiet_after_neurofb():
    done = subprocess.run([sys.executable, "-W", "default", "-c",
                           "import neurofb, brainflow.ml_model, brainflow.board_shim"],
                          capture_output=True, text=True, check=True)
    assert "pkg_resources" not in done.stderr


def test_install_lines_map_sonames_to_packages():
    apt, dnf = app_cmd.install_lines(["libxcb-cursor.so.0", "libxcb-icccm.so.4",
                                      "libxcb-shape.so.0", "libxcb-xkb.so.1"])
    assert apt == "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-shape0 libxcb-xkb1"
    assert dnf == "sudo dnf install xcb-util-cursor xcb-util-wm libxcb"


def test_xcb_check_only_when_qt_would_use_xcb(monkeypatch):
    monkeypatch.setattr(app_cmd, "missing_libraries", lambda path: ["libxcb-icccm.so.4"])
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert app_cmd.xcb_problem() == ""
    monkeypatch.delenv("QT_QPA_PLATFORM")
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert app_cmd.xcb_problem() == ""
    monkeypatch.delenv("WAYLAND_DISPLAY")
    text = app_cmd.xcb_problem()
    assert "sudo apt install libxcb-icccm4" in text and "sudo dnf install xcb-util-wm" in text


def test_xcb_check_tells_what_qt_would_fail_on():
    """On this machine: what ldd finds missing is exactly what makes Qt's xcb plugin abort."""
    plugin = app_cmd.xcb_plugin()
    assert plugin is not None and plugin.endswith("libqxcb.so")
    missing = app_cmd.missing_libraries(plugin)
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM",
                                                            "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":97"  # no X server there: with the libraries, Qt fails to connect instead
    cli = subprocess.run([sys.executable, "-m", "neurofb", "app", "--no-connect"], env=env,
                         capture_output=True, text=True, timeout=60)
    qt = subprocess.run([sys.executable, "-c", "from PyQt6.QtWidgets import QApplication\n"
                         "QApplication(['x'])"], env={**env, "QT_QPA_PLATFORM": "xcb"},
                        capture_output=True, text=True, timeout=60)
    assert qt.returncode != 0  # no display at :97 either way
    if missing:
        assert cli.returncode == 2
        apt, dnf = app_cmd.install_lines(missing)
        assert apt in cli.stderr and dnf in cli.stderr
        assert "libxcb" in qt.stderr or "xcb" in qt.stderr  # Qt's own failure is about xcb
    else:
        assert "sudo apt install" not in cli.stderr


def test_setup_returns_at_once_on_a_set_up_checkout():
    log = REPO / ".venv" / "setup.log"
    stamp = REPO / ".venv" / ".setup-stamp"
    if not stamp.is_file():
        pytest.skip("this venv was not made by scripts/setup.sh")
    before = log.stat().st_mtime_ns if log.exists() else None
    done = subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and done.stderr == ""
    assert (log.stat().st_mtime_ns if log.exists() else None) == before  # pip never ran
