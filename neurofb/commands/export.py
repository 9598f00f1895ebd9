"""``neurofb export``: write a recording as EDF+, BDF+, FIF, BrainFlow CSV or into BIDS."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from neurofb.errors import NeurofbError

_FORMATS = ("edf", "bdf", "fif", "csv", "bids")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``export`` subcommand."""
    p = subparsers.add_parser(
        "export",
        help="export a recording to EDF+, BDF+, FIF, BrainFlow CSV or BIDS",
        description="Export a recording (a neurofb folder, or any file neurofb reads) to EDF+ "
        "(16-bit, markers as annotations), BDF+ (24-bit), FIF (float64), a BrainFlow CSV that "
        "BrainFlow's playback board and the OpenBCI GUI play (with a .neurofb.json sidecar "
        "keeping channel names and markers), or into a BIDS dataset (subject = user, session = "
        "date, task = exercise; markers in events.tsv).",
    )
    p.add_argument("recording", help="recording folder or file")
    p.add_argument("--to", required=True, choices=_FORMATS, help="output format")
    p.add_argument("--out", default=None, metavar="PATH",
                   help="file to write (for bids: the dataset root folder); default: beside the "
                        "recording, or <data dir>/bids for bids")
    p.add_argument("--board", default=None,
                   help="csv only: BrainFlow board layout to write (default: the recording's "
                        "own board, else synthetic)")
    p.add_argument("--force", action="store_true", help="replace an existing output file")
    p.add_argument("--data-dir", default=None, help="user data folder (for the bids default)")
    p.set_defaults(func=run)


def default_out(recording: Path, fmt: str, data_dir: str | None = None) -> Path:
    """Where ``export`` writes when no ``--out`` is given."""
    from neurofb import paths
    from neurofb.recording.formats import SUFFIX

    if fmt == "bids":
        return paths.data_dir(data_dir) / "bids"
    base = recording.parent if recording.name == "meta.json" else recording
    stem = base.name.split(".")[0] if base.is_file() else base.name
    return base.parent / f"{stem}{SUFFIX[fmt]}"


def run(args: argparse.Namespace) -> int:
    """Export one recording and print where it went."""
    from neurofb.recording.formats import export, open_recording

    if args.force and args.to == "bids":
        raise NeurofbError("--force does nothing for a BIDS export (each export is a new run; "
                           "nothing is replaced): leave it out")
    source = Path(args.recording)
    recording = open_recording(source)
    for line in recording.warnings:  # e.g. a recording still being written: only what is in
        sys.stderr.write(f"warning: {line}\n")
    out = Path(args.out) if args.out else default_out(source, args.to, args.data_dir)
    written = export(recording, args.to, out, board=args.board, overwrite=args.force)
    print(f"wrote {written} ({recording.data.shape[0]} channels, "
          f"{recording.duration_s:.1f} s, {len(recording.markers)} markers)")
    return 0
