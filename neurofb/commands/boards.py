"""``neurofb boards``: list the boards BrainFlow knows, with their EEG channels and rate, or
(``--lsl``) the LSL streams visible now."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``boards`` subcommand."""
    p = subparsers.add_parser(
        "boards",
        help="list the BrainFlow boards neurofb can stream from",
        description="List every board BrainFlow knows, by the name `neurofb stream --board` "
        "takes, with its EEG channel count, sampling rate and channel names.",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--lsl", action="store_true",
                   help="list the LSL streams visible now instead (what `neurofb stream --board "
                        "lsl --stream NAME` can read)")
    p.add_argument("--wait", type=float, default=2.0, metavar="S",
                   help="with --lsl: seconds to look for streams (default 2)")
    p.add_argument("--lsl-local", action="store_true",
                   help="with --lsl: look on this computer only (loopback)")
    p.add_argument("--lsl-config", default=None, metavar="FILE",
                   help="with --lsl: liblsl configuration file to use (lsl_api.cfg)")
    p.set_defaults(func=run)


def _lsl_rows(args: argparse.Namespace) -> list[dict]:
    """The LSL streams visible within ``--wait`` seconds, as rows."""
    import dataclasses

    from neurofb.commands.options import configure_lsl
    from neurofb.stream.lsl_source import find_streams

    configure_lsl(args)
    return [dataclasses.asdict(s) for s in find_streams(timeout_s=args.wait)]


def describe_boards() -> list[dict]:
    """Return one row per board: ``name``, ``board_id``, ``sfreq``, ``n_eeg``, ``ch_names``.

    Boards whose channel layout BrainFlow does not describe (``playback``, ``streaming``: they
    take the layout of their ``--master-board``) have ``sfreq`` and ``n_eeg`` None.
    """
    from neurofb.boards import board_id, board_names
    from neurofb.errors import BoardError
    from neurofb.stream.brainflow import open_board

    rows = []
    for name in board_names():
        row: dict = {"name": name, "board_id": board_id(name), "sfreq": None, "n_eeg": None,
                     "ch_names": []}  # fmt: skip
        if row["board_id"] >= -1:
            try:
                info = open_board(name).info
            except BoardError:
                info = None
            if info is not None:
                row.update(sfreq=info.sfreq, n_eeg=len(info.ch_names), ch_names=list(info.ch_names))
        rows.append(row)
    return rows


def run(args: argparse.Namespace) -> int:
    """Print the board list (or, with ``--lsl``, the LSL streams visible now)."""
    from neurofb.errors import NeurofbError

    if not args.lsl and (args.lsl_local or args.lsl_config or args.wait != 2.0):
        raise NeurofbError("--wait, --lsl-local and --lsl-config go with --lsl: leave them out")
    if args.lsl:
        if not 0 < args.wait <= 60:
            raise NeurofbError(f"--wait must be from 0 to 60 s, got {args.wait:g}")
        streams = _lsl_rows(args)
        if args.json:
            json.dump(streams, sys.stdout, indent=1)
            sys.stdout.write("\n")
            return 0
        if not streams:
            print(f"no LSL stream visible within {args.wait:g} s")
            return 0
        print(f"{'stream':<28} {'type':<10} {'ch':>4} {'Hz':>7}  source id / host")
        for r in streams:
            print(f"{r['name']:<28} {r['type']:<10} {r['channel_count']:>4} "
                  f"{r['sfreq']:>7g}  {r['source_id']} / {r['hostname']}")
        return 0
    rows = describe_boards()
    if args.json:
        json.dump(rows, sys.stdout, indent=1)
        sys.stdout.write("\n")
        return 0
    print(f"{'board':<28} {'id':>4} {'Hz':>6} {'EEG':>4}  channels")
    for r in rows:
        hz = "" if r["sfreq"] is None else f"{r['sfreq']:.0f}"
        n = "" if r["n_eeg"] is None else str(r["n_eeg"])
        names = ",".join(r["ch_names"]) if r["ch_names"] else "(layout of --master-board)"
        if len(names) > 60:
            names = names[: names.rfind(",", 0, 56)] + ",…"
        if r["n_eeg"] is None and r["board_id"] >= -1:
            names = "(no EEG channels)"
        print(f"{r['name']:<28} {r['board_id']:>4} {hz:>6} {n:>4}  {names}")
    return 0
