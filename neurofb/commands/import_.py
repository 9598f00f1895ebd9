"""``neurofb import``: convert a recording file (EDF/BDF, FIF, BrainFlow CSV, XDF, OpenBCI GUI, Muse
CSV) into a neurofb recording.

The module is named ``import_`` because ``import`` is a Python keyword; the command is
``neurofb import``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from neurofb.commands.options import add_file_arguments

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``import`` subcommand."""
    p = subparsers.add_parser(
        "import",
        help="convert an EDF/BDF/FIF/BrainFlow CSV/XDF/OpenBCI GUI/Muse CSV file into a neurofb "
        "recording",
        description="Convert a file into a neurofb recording folder that `neurofb replay` and "
        "the app play: EEG channels only (ECG, EOG, status channels dropped; names kept), µV, "
        "annotations as markers. The recording is added to the session library.",
    )
    p.add_argument("file", help="EDF/EDF+/BDF, FIF, BrainFlow CSV, XDF, OpenBCI GUI .txt, Mind "
                   "Monitor or muselsl CSV file")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="recording folder to create (an existing folder gets the recording "
                        "inside it); default: <data dir>/recordings/<time>-<name>")
    p.add_argument("--board", default=None,
                   help="BrainFlow CSV only: board that wrote the file (default: from its "
                        ".neurofb.json sidecar, else from its column count and timestamps)")
    add_file_arguments(p)
    p.add_argument("--user", default=None, metavar="NAME",
                   help="who the recording is of (what `neurofb sessions --user` filters on); "
                        "default: the file's own subject or patient id, if it has one")
    p.add_argument("--no-index", action="store_true",
                   help="do not add the recording to the session library")
    p.add_argument("--data-dir", default=None, help="user data folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Import one file and print the new recording folder."""
    from neurofb import paths
    from neurofb.errors import LibraryError
    from neurofb.recording.formats import import_file

    paths.check_input(args.file, what="file to import")
    folder = import_file(args.file, args.out, root=paths.data_dir(args.data_dir) / "recordings",
                         board=args.board, user=args.user, stream=args.stream,
                         montage=args.montage, unit=args.unit)
    from neurofb.library import elsewhere
    from neurofb.recording.folder import read_folder

    elsewhere.note(folder, args.data_dir)  # kept outside the data folder: a reindex finds it

    for note in read_folder(folder).meta.get("import_warnings", []):
        print(f"warning: {note}", file=sys.stderr)
    print(f"imported {args.file} into {folder}")
    if not args.no_index:
        from neurofb.library.index import SessionLibrary, default_path
        from neurofb.library.summary import summarise_folder

        try:
            summary, _ = summarise_folder(folder)
            with SessionLibrary(default_path(args.data_dir)) as lib:
                session_id = lib.add_session(summary)
            print(f"added to the session library as session {session_id}")
        except LibraryError as err:
            print(f"warning: not added to the session library: {err}", file=sys.stderr)
    return 0
