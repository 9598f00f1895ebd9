"""The command line: help on every subcommand, clear errors without tracebacks."""

from __future__ import annotations

import subprocess
import sys

import pytest

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


def test_engine_commands_start_numpy_with_one_blas_thread():
    """Engine commands ask OpenBLAS for one thread before numpy loads (a user's value wins);
    training commands keep numpy's default."""
    import os

    code = ("import os, sys\n"
            "from neurofb.cli import _one_blas_thread\n"
            "_one_blas_thread(sys.argv[1:])\n"
            "import numpy\n"
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def threads(*argv: str, **extra: str) -> str:
        return subprocess.run([sys.executable, "-c", code, *argv], env={**env, **extra},
                              capture_output=True, text=True, check=True).stdout.strip()

    assert threads("-v", "replay", "rec") == "1"
    assert threads("stream", "--board", "synthetic") == "1"
    assert threads("replay", "rec", OPENBLAS_NUM_THREADS="3") == "3"
    assert threads("train", "--eegmat", "x") == "None"
    assert threads() == "None"


def test_a_reader_that_stops_early_ends_the_command_quietly():
    # `neurofb boards | head -1`: the pipe's reader is gone before neurofb writes (closed here
    # before the command starts, so the first write fails whatever the timing).
    import os

    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        res = subprocess.run([sys.executable, "-m", "neurofb", "boards"], stdout=write_end,
                             stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write_end)
    assert res.returncode == 141  # as a process ended by SIGPIPE
    assert res.stderr == ""  # no "error: Broken pipe", no traceback at exit


@pytest.mark.parametrize(("argv", "command"), [
    (["replay", "--sped", "2", "recordings/demo-eegmat"], "replay"),
    (["sessions", "--jsn"], "sessions"),
])
def test_an_unknown_option_is_said_by_its_command(argv, command, capsys):
    """`neurofb replay --sped 2 REC` said "neurofb: error: … (see neurofb --help)": the
    top-level parser's name and help, not the command's."""
    with pytest.raises(SystemExit) as end:
        main(argv)
    assert end.value.code == 2
    err = capsys.readouterr().err
    assert f"neurofb {command}: error: unrecognized arguments: {argv[1]}" in err
    assert f"(see neurofb {command} --help)" in err


def test_osc_format_without_osc_out_is_refused(capsys):
    """It was accepted and did nothing, where --lsl-out-eeg without --lsl-out is refused."""
    from neurofb import paths

    demo = str(paths.shipped_recordings_dir() / "demo-eegmat")
    assert main(["replay", demo, "--osc-format", "openbci", "--seconds", "1"]) == 2
    assert "--osc-format needs --osc-out HOST:PORT" in capsys.readouterr().err
