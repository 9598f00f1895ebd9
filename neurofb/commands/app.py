"""``neurofb app``: open the desktop app (PyQt6, installed as ``neurofb_ui``).

The engine never imports the UI at module level: the app is started as its own process
(``python -m neurofb_ui``), so this module and the whole ``neurofb`` package stay Qt-free.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys

from neurofb.errors import NeurofbError

#: System library (soname) → (Debian/Ubuntu package, Fedora package) for what Qt's xcb platform
#: plugin loads. Qt aborts without a useful hint when one is missing (a minimal desktop often
#: lacks libxcb-cursor0, libxcb-icccm4, libxcb-keysyms1 …).
XCB_PACKAGES: dict[str, tuple[str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xinerama.so.0": ("libxcb-xinerama0", "libxcb"),
    "libxcb-xinput.so.0": ("libxcb-xinput0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libX11.so.6": ("libx11-6", "libX11"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl"),
    "libGL.so.1": ("libgl1", "libglvnd-glx"),
    "libGLX.so.0": ("libglx0", "libglvnd-glx"),
    "libOpenGL.so.0": ("libopengl0", "libglvnd-opengl"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2"),
}

#: The board connection fields of the app's source panel (``neurofb_ui.settings.BOARD_FIELDS``;
#: a test keeps the two lists equal: this module may not import the UI).
_FIELDS = ("serial-port", "mac-address", "ip-address", "ip-port", "ip-protocol", "serial-number",
           "timeout", "other-info", "file", "master-board")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``app`` subcommand."""
    p = subparsers.add_parser(
        "app",
        help="open the desktop app",
        description="Open the neurofb desktop app: live EEG, signal quality, focus feedback "
        "exercises, calibration, history and retraining. By default it streams the shipped "
        "real-EEG demo recording (no headset needed).",
    )
    add_arguments(p)
    p.set_defaults(func=run)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Add the app's options (shared with ``python -m neurofb_ui``)."""
    from neurofb.commands.options import non_negative_float
    p.add_argument("--source", default=None, metavar="synthetic|demo|lsl:NAME|FILE",
                   help="what to stream at start: the synthetic board, the real-EEG demo, an LSL "
                        "EEG stream (lsl:NAME, or lsl: for the first one), or a recording file "
                        "(default: the last source used, else the demo)")
    p.add_argument("--board", default=None, metavar="NAME",
                   help="stream from this BrainFlow board (cyton, ganglion, muse_s, …)")
    for flag in _FIELDS:
        p.add_argument(f"--{flag}", default=None, help=f"board connection field ({flag})")
    p.add_argument("--data-dir", default=None,
                   help="user data folder (recordings, session library, personal models)")
    p.add_argument("--lsl-out", nargs="?", const="neurofb", default=None, metavar="NAME",
                   help="publish focus and markers as LSL streams NAME-Focus, NAME-Markers "
                        "(the app's settings switch, turned on)")
    p.add_argument("--osc-out", default=None, metavar="HOST:PORT",
                   help="send focus, quality, band powers and rewards as OSC to HOST:PORT")
    p.add_argument("--lsl-local", action="store_true",
                   help="keep LSL on this computer (neurofb's loopback-only liblsl configuration)")
    p.add_argument("--lsl-config", default=None, metavar="FILE",
                   help="liblsl configuration file (lsl_api.cfg) to use")
    p.add_argument("--no-connect", action="store_true",
                   help="open the window without connecting to a source")
    p.add_argument("--quit-after", type=non_negative_float, default=None, metavar="SECONDS",
                   help="close the window after this many seconds (demos, smoke tests)")


def app_argv(args: argparse.Namespace) -> list[str]:
    """The command line that starts the app process for these options."""
    argv = [sys.executable, "-m", "neurofb_ui"]
    for name in ("source", "board", "data_dir", "lsl_out", "osc_out", "lsl_config",
                 *(f.replace("-", "_") for f in _FIELDS)):
        value = getattr(args, name, None)
        if value is not None:
            argv += [f"--{name.replace('_', '-')}", str(value)]
    if getattr(args, "lsl_local", False):
        argv.append("--lsl-local")
    if getattr(args, "no_connect", False):
        argv.append("--no-connect")
    if getattr(args, "quit_after", None) is not None:
        argv += ["--quit-after", str(args.quit_after)]
    return argv


def check_arguments(args: argparse.Namespace) -> None:
    """Refuse options that would be ignored: connection fields without ``--board``, and
    ``--board`` beside ``--source`` (the app streamed one of them, unsaid).

    Raises
    ------
    NeurofbError
        Naming the option and what it needs.
    """
    given = [f for f in _FIELDS if getattr(args, f.replace("-", "_"), None) is not None]
    if given and getattr(args, "board", None) is None:
        raise NeurofbError(f"--{given[0]} is a board connection field: give --board NAME with "
                           "it")
    if getattr(args, "board", None) is not None and getattr(args, "source", None) is not None:
        raise NeurofbError("give --source or --board, not both")


def run(args: argparse.Namespace) -> int:
    """Start the app and wait for its window to close; return its exit code."""
    check_arguments(args)
    if importlib.util.find_spec("neurofb_ui") is None:
        raise NeurofbError("the desktop app (neurofb_ui) is not installed: run scripts/setup.sh")
    if importlib.util.find_spec("PyQt6") is None:
        raise NeurofbError("PyQt6 is not installed: pip install pyqt6 pyqtgraph")
    if (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY")):
        raise NeurofbError(
            "no display to open the window on (DISPLAY is not set): run it on a desktop, "
            'over ssh -X, or under a virtual display: xvfb-run -s "-screen 0 1400x900x24" '
            "neurofb app"
        )
    problem = xcb_problem()
    if problem:
        raise NeurofbError(problem)
    env = dict(os.environ)
    env.setdefault("NEUROFB_STARTED_AT", repr(process_start_time()))  # the app logs from it
    env.setdefault("PYTHONFAULTHANDLER", "1")  # a crash prints where it happened
    code = subprocess.call(app_argv(args), env=env)
    if code < 0:  # the window's process was killed by a signal (a crash, or kill)
        name = signal.Signals(-code).name if -code in signal.valid_signals() else str(-code)
        print(f"neurofb app: the app's process ended by signal {name}; recordings are kept "
              "(an interrupted one is recovered at the next start)", file=sys.stderr)
        return 128 - code  # the shell's convention: 139 for SIGSEGV
    return code


def xcb_plugin() -> str | None:
    """Path of PyQt6's xcb platform plugin (found without importing Qt), or None."""
    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        path = os.path.join(root, "Qt6", "plugins", "platforms", "libqxcb.so")
        if os.path.isfile(path):
            return path
    return None


def missing_libraries(path: str) -> list[str]:
    """The shared libraries ``path`` needs that the dynamic loader cannot find (via ``ldd``).

    Returns [] when every one is found, or when ``ldd`` is not there to ask.
    """
    import shutil

    ldd = shutil.which("ldd")
    if ldd is None:
        return []
    try:
        out = subprocess.run([ldd, path], capture_output=True, text=True, timeout=10,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = []
    for line in out.splitlines():
        name, _, where = line.strip().partition("=>")
        if "not found" in where and name.strip() not in missing:
            missing.append(name.strip())
    return missing


def install_lines(libraries: list[str]) -> tuple[str, str]:
    """The ``apt install`` and ``dnf install`` lines that provide ``libraries``."""
    apt, dnf = [], []
    for lib in libraries:
        deb, rpm = XCB_PACKAGES.get(lib, (lib, lib))
        apt += [deb] if deb not in apt else []
        dnf += [rpm] if rpm not in dnf else []
    return f"sudo apt install {' '.join(apt)}", f"sudo dnf install {' '.join(dnf)}"


def xcb_problem() -> str:
    """Why Qt's xcb platform plugin would abort here, with the install lines ('' when fine).

    Only asked when the window would open through xcb: on Linux, with ``QT_QPA_PLATFORM``
    unset or ``xcb`` and no Wayland session.
    """
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if not sys.platform.startswith("linux") or platform not in ("", "xcb"):
        return ""
    if not platform and os.environ.get("WAYLAND_DISPLAY"):
        return ""
    plugin = xcb_plugin()
    missing = missing_libraries(plugin) if plugin else []
    if not missing:
        return ""
    apt, dnf = install_lines(missing)
    return (
        f"Qt cannot open a window: its xcb platform plugin needs system libraries this "
        f"computer lacks ({', '.join(missing)}). Install them, then start again:\n"
        f"  Debian/Ubuntu:  {apt}\n"
        f"  Fedora:         {dnf}"
    )


def process_start_time() -> float:
    """Unix time this process started (Linux: from /proc; elsewhere: now)."""
    import time

    try:
        with open("/proc/self/stat", encoding="ascii") as fh:
            ticks = int(fh.read().rsplit(")", 1)[1].split()[19])  # field 22: starttime
        with open("/proc/uptime", encoding="ascii") as fh:
            uptime = float(fh.read().split()[0])
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return time.time()
