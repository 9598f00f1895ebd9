"""Shared by the safety tests (docs/safety.md): run the CLI, copy real recordings, mount real
small or read-only filesystems."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from neurofb.cli import main

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "recordings" / "demo-eegmat"


def cli(capsys: pytest.CaptureFixture, *argv: str) -> tuple[int, str, str]:
    """Run ``neurofb ARGV`` in this process; return exit code, stdout, stderr."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str, command: str) -> str:
    """Assert ``err`` is one line ``neurofb COMMAND: error: ...`` (no traceback); return it."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith(f"neurofb {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


def run(*argv: str, env: dict[str, str] | None = None, timeout: float = 120
        ) -> subprocess.CompletedProcess:
    """Run ``python -m neurofb ARGV`` as a real process."""
    return subprocess.run([sys.executable, "-m", "neurofb", *map(str, argv)],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO,
                          env={**os.environ, **(env or {})})


def digest(path: Path) -> str:
    """SHA-256 of a file, or of every file under a folder (names and bytes)."""
    h = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for p in files:
        h.update(str(p.relative_to(path) if path.is_dir() else p.name).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def demo_copy(tmp_path: Path, name: str = "demo") -> Path:
    """A private copy of the shipped demo recording."""
    out = tmp_path / name
    shutil.copytree(DEMO, out)
    return out


@contextmanager
def mounted(target: Path, *options: str) -> Iterator[Path]:
    """Mount a real filesystem on ``target`` (``mount OPTIONS``), or skip the test saying why.

    Tests run as root, which file permissions do not bind: a read-only mount or a full small
    filesystem binds root too. Where mounting is not permitted (no root, a container without
    CAP_SYS_ADMIN) the test is skipped with the reason.
    """
    target.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", *options, str(target)], capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a test filesystem here ({res.stderr.strip() or 'mount'}): "
                    "needs root with CAP_SYS_ADMIN")
    try:
        yield target
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextmanager
def small_fs(target: Path, size: str = "400k") -> Iterator[Path]:
    """A real tmpfs of ``size`` on ``target``."""
    with mounted(target, "-t", "tmpfs", "-o", f"size={size}", f"neurofb-{uuid.uuid4().hex[:6]}"
                 ) as where:
        yield where


@contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` bound read-only onto itself (a bind mount, then remounted ``ro``)."""
    with mounted(folder, "--bind", str(folder)):
        res = subprocess.run(["mount", "-o", "remount,bind,ro", str(folder)],
                             capture_output=True, text=True)
        if res.returncode != 0:
            pytest.skip(f"cannot remount read-only here: {res.stderr.strip()}")
        yield folder


def fill(folder: Path, leave: int = 0) -> None:
    """Fill the filesystem of ``folder`` until fewer than ``leave`` bytes are free."""
    filler = folder / "filler"
    block = b"\0" * 4096
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        while os.write(fd, block):
            pass
    except OSError:  # ENOSPC: full
        pass
    finally:
        os.close(fd)
    if leave:
        os.truncate(filler, max(0, filler.stat().st_size - leave))
