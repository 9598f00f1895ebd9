"""``neurofb sessions``: list the session library, as a table or JSON; rebuild it.

The library indexes the recordings (the files are the truth): ``--reindex`` rebuilds it from the
recording folders, moving a corrupt database file aside first. Every start first finalises and
indexes recordings a crash left open. A read-only data folder is listed read-only (nothing is
created there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sessions`` subcommand."""
    p = subparsers.add_parser(
        "sessions",
        help="list past sessions from the session library",
        description="List past training sessions (date, user, duration, exercise, mean focus, "
        "time above threshold, rewards, model, signal quality). --reindex rebuilds the library "
        "from the recording folders (use it when the database is damaged; no recording is "
        "touched).",
    )
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--user", default=None, help="only this user's sessions")
    p.add_argument("--since", default=None, metavar="DATE",
                   help="only sessions started on or after this date (YYYY-MM-DD or ISO time)")
    p.add_argument("--reindex", action="store_true",
                   help="rebuild the library from the recordings before listing")
    p.add_argument("--recordings", default=None, metavar="DIR",
                   help="folder of recordings to reindex (default: <data dir>/recordings)")
    p.add_argument("--progress", action="store_true",
                   help="print per-day totals (sessions, minutes, mean focus, rewards) instead")
    p.add_argument("--data-dir", default=None,
                   help="user data folder holding sessions.sqlite3 and recordings/")
    p.add_argument("--db", default=None, metavar="FILE",
                   help="session database file (default: <data dir>/sessions.sqlite3)")
    p.set_defaults(func=run)


def _mmss(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = round(float(seconds))
    if s >= 3600:
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    return f"{s // 60}:{s % 60:02d}"


def _num(value: float | None, fmt: str = ".2f") -> str:
    return "-" if value is None else format(value, fmt)


def _when(started_at: str) -> str:
    try:
        return dt.datetime.fromisoformat(started_at).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return started_at or "-"


#: Characters of a session's notes shown in the table (all of them with --json).
NOTES_WIDTH = 48


def format_table(rows: list) -> str:
    """Return the sessions as an aligned text table."""
    head = ("id", "date", "user", "duration", "exercise", "focus", "above thr", "rewards",
            "model", "quality", "notes")  # fmt: skip
    lines = [head]
    for r in rows:
        above = _mmss(r.time_above_s)
        if r.fraction_above is not None:
            above += f" ({r.fraction_above:.0%})"
        notes = r.notes or ""  # interrupted, practised on a replay, the user's notes
        if len(notes) > NOTES_WIDTH:
            notes = notes[: NOTES_WIDTH - 1].rstrip() + "…"
        lines.append((
            str(r.id), _when(r.started_at), r.user or "-", _mmss(r.duration_s),
            r.exercise or "-", _num(r.mean_focus), above, str(r.rewards), r.model or "-",
            _num(r.quality), notes,
        ))  # fmt: skip
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip()
                     for line in lines)  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Finalise interrupted recordings, list (and optionally rebuild) the session library."""
    from neurofb import paths
    from neurofb.errors import LibraryError, PathError
    from neurofb.library.index import SessionLibrary, default_path, rebuild
    from neurofb.library.recovery import recover_interrupted

    if args.data_dir and Path(args.data_dir).exists() and not Path(args.data_dir).is_dir():
        raise PathError(f"data folder {args.data_dir} is a file, not a folder: check --data-dir")
    if args.data_dir and not Path(args.data_dir).is_dir() and not args.reindex:
        raise PathError(f"data folder {args.data_dir} does not exist: check --data-dir")
    if args.db and not Path(args.db).exists() and not args.reindex:
        raise PathError(f"session database {args.db} does not exist: check --db (or build it "
                        "with --reindex)")
    if args.db and not Path(args.db).exists():  # --reindex builds it: its folder must exist
        paths.check_new_file(args.db, what="session database")
    recordings = (paths.check_input(args.recordings, what="recordings folder")
                  if args.recordings else None)
    db = Path(args.db) if args.db else default_path(args.data_dir)
    for problem in recover_interrupted(args.data_dir, recordings=recordings,
                                       library_path=db).problems:
        print(f"warning: {problem}", file=sys.stderr)
    if args.reindex:
        root = recordings or paths.data_dir(args.data_dir) / "recordings"
        root.mkdir(parents=True, exist_ok=True)
        from neurofb.library import elsewhere

        kept = elsewhere.kept(args.data_dir) if recordings is None else ()
        result = rebuild(root, path=db, also=kept)
        out = sys.stderr if args.json else sys.stdout
        if result.moved_aside:
            print(f"moved the damaged database aside to {result.moved_aside}", file=out)
        refused = {folder for folder, _ in result.failed}
        away = sum(str(Path(f).resolve()) not in refused for f in kept)
        where = (f"{root}, {away} of them kept elsewhere (noted in the data folder)" if away
                 else f"{root}")
        print(f"indexed {result.indexed} recording(s) from {where} ({result.computed} summarised "
              f"from their trace), removed {result.removed} stale entr"
              f"{'y' if result.removed == 1 else 'ies'}", file=out)  # fmt: skip
        if result.moved:
            print(f"  found {result.moved} recording(s) in a new place (a moved folder): their "
                  "sessions now point there", file=out)
        if result.live:
            print(f"  left {result.live} recording(s) being written to their writer (they "
                  "are added when they end)", file=out)
        for folder, reason in result.failed:
            print(f"  skipped {folder}: {reason}", file=out)
    if not db.exists() and not os.access(db.parent, os.W_OK | os.X_OK):
        # a read-only data folder without a database: nothing to list, nothing is created
        print(f"no sessions: there is no session database in {db.parent}")
        return 0
    with SessionLibrary(db) as lib:
        if args.progress:
            try:
                days = lib.progress(args.user, since=args.since)
            except ValueError as err:
                raise LibraryError(f"--since: {err}; use a date like 2025-03-01") from None
            if args.json:
                json.dump([vars(d) for d in days], sys.stdout, indent=1)
                sys.stdout.write("\n")
            else:
                print("day         sessions  minutes  focus  above thr  rewards  points")
                for d in days:
                    print(f"{d.day}  {d.sessions:>8}  {d.duration_s / 60:>7.1f}  "
                          f"{_num(d.mean_focus):>5}  {_mmss(d.time_above_s):>9}  "
                          f"{d.rewards:>7}  {d.points:>6}")  # fmt: skip
            return 0
        try:
            rows = lib.list_sessions(user=args.user, since=args.since)
        except ValueError as err:
            raise LibraryError(f"--since: {err}; use a date like 2025-03-01") from None
    if args.json:
        json.dump([r.to_dict() for r in rows], sys.stdout, indent=1)
        sys.stdout.write("\n")
    elif rows:
        print(format_table(rows))
    else:
        print(f"no sessions in {db}" + (f" for user {args.user}" if args.user else ""))
    return 0
