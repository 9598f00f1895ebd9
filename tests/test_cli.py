"""The command line: help on every subcommand, clear errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

from neurofb.cli import build_parser, main


def test_help_lists_subcommands(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "neurofb" in out


def test_every_subcommand_has_help():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, subparser in sub.choices.items():
        text = subparser.format_help()
        assert name in text and "usage" in text


def test_module_entry_point_runs():
    res = subprocess.run(
        [sys.executable, "-m", "neurofb", "--version"], capture_output=True, text=True, check=False
    )
    assert res.returncode == 0
    assert "neurofb" in res.stdout
