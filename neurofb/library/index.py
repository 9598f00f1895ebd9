"""The session library: an SQLite index of every session and its recording.

The recordings on disk are the truth; the database is an index that can always be rebuilt from
them (:meth:`SessionLibrary.reindex`, ``neurofb sessions --reindex``). The schema is versioned
with ``PRAGMA user_version`` and migrated forward step by step (:data:`MIGRATIONS`). The database
runs in WAL mode so the app can read while a session is being added.

A corrupt database file gives a :class:`~neurofb.errors.LibraryError` that says to rebuild it;
:func:`rebuild` moves the corrupt file aside (``sessions.sqlite3.corrupt-<time>``) and builds a
fresh index — recordings are never touched. A database locked by another program gives a
:class:`~neurofb.errors.LibraryError` after a short busy timeout.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import json
import logging
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neurofb import paths
from neurofb.errors import LibraryError, NeurofbError
from neurofb.library.summary import SessionSummary, summarise_folder, summarise_recording

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "DayProgress",
    "ReindexResult",
    "SessionLibrary",
    "SessionRow",
    "SessionSummary",
    "default_path",
    "rebuild",
    "summarise_recording",
]

log = logging.getLogger(__name__)

#: File name of the database in the user data directory.
DB_NAME = "sessions.sqlite3"

#: Schema migrations: ``MIGRATIONS[i]`` takes a database from version ``i`` to ``i + 1``.
#: Never edit a released step; append a new one.
MIGRATIONS: tuple[str, ...] = (
    # v0 -> v1: the sessions table.
    """
    CREATE TABLE sessions (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        user TEXT NOT NULL DEFAULT '',
        started_at TEXT NOT NULL DEFAULT '',
        started_ts REAL,
        duration_s REAL NOT NULL DEFAULT 0,
        exercise TEXT NOT NULL DEFAULT '',
        mean_focus REAL,
        time_above_s REAL NOT NULL DEFAULT 0,
        fraction_above REAL,
        rewards INTEGER NOT NULL DEFAULT 0,
        points INTEGER NOT NULL DEFAULT 0,
        longest_streak INTEGER NOT NULL DEFAULT 0,
        model TEXT NOT NULL DEFAULT '',
        model_hash TEXT NOT NULL DEFAULT '',
        quality REAL,
        recording_path TEXT UNIQUE,
        board TEXT NOT NULL DEFAULT '',
        notes TEXT NOT NULL DEFAULT ''
    );
    """,
    # v1 -> v2: the whole summary as JSON (threshold, per-block focus, ...) and an index for the
    # history screen's per-user queries.
    """
    ALTER TABLE sessions ADD COLUMN summary_json TEXT NOT NULL DEFAULT '{}';
    CREATE INDEX sessions_user_time ON sessions (user, started_ts);
    """,
)

#: Columns the first schema version made: a ``sessions`` table without them is not ours.
_OUR_COLUMNS = frozenset({"id", "user", "started_at", "started_ts", "duration_s", "exercise",
                          "mean_focus", "recording_path"})

#: Schema version this code writes.
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = (
    "user", "started_at", "started_ts", "duration_s", "exercise", "mean_focus", "time_above_s",
    "fraction_above", "rewards", "points", "longest_streak", "model", "model_hash", "quality",
    "recording_path", "board", "notes", "summary_json",
)  # fmt: skip


def _writable_folder(folder: Path) -> bool:
    """Whether files can be created in ``folder`` (or in the nearest folder above that exists)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    # a file in the way is not a read-only folder: opening then fails and says so
    return not folder.is_dir() or os.access(folder, os.W_OK | os.X_OK)


def default_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Return the default database path, ``<data_dir>/sessions.sqlite3``."""
    return paths.data_dir(data_dir) / DB_NAME


@dataclass(frozen=True)
class SessionRow(SessionSummary):
    """A session as stored in the library: its summary plus the database ``id``."""

    id: int = 0


@dataclass(frozen=True)
class DayProgress:
    """Aggregates of one user's sessions on one (local) day, for the history chart.

    ``mean_focus`` is weighted by session duration over the sessions that have a focus value;
    ``fraction_above`` is ``time_above_s`` over the summed duration of those sessions.
    """

    day: str
    sessions: int
    duration_s: float
    mean_focus: float | None
    time_above_s: float
    fraction_above: float | None
    rewards: int
    points: int


@dataclass(frozen=True)
class ReindexResult:
    """What :meth:`SessionLibrary.reindex` did.

    ``indexed`` recordings were added or refreshed (``computed`` of them had no stored summary,
    so it was computed from the trace and markers); ``removed`` index rows pointed at folders
    that no longer exist; ``failed`` lists ``(folder, reason)`` for recordings that could not be
    read; ``moved_aside`` is where a corrupt database was moved by :func:`rebuild`; ``moved``
    rows pointed at folders that are gone and were found under the root by their folder name,
    start time and user (a data folder moved): they keep their id and now point there.
    """

    indexed: int = 0
    computed: int = 0
    removed: int = 0
    failed: tuple[tuple[str, str], ...] = ()
    moved_aside: str | None = None
    live: int = 0  # recordings being written by a running process: left to their writer
    moved: int = 0  # rows whose folder was found in a new place (a moved data folder)


def _to_ts(value: str | dt.date | dt.datetime) -> float:
    """Return a Unix time for an ISO string, date (local midnight) or datetime (naive = local)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"not an ISO 8601 date or time: {value!r}") from None
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time())
    return value.timestamp()


def _started_ts(started_at: str) -> float | None:
    try:
        return _to_ts(started_at) if started_at else None
    except ValueError:
        return None


class SessionLibrary:
    """The SQLite index of sessions.

    Parameters
    ----------
    path : path-like, optional
        Database file; default ``neurofb.paths.data_dir()/sessions.sqlite3``. Created (with its
        folder) when missing.
    busy_timeout_s : float
        How long to wait for another program's lock before giving up with a LibraryError.
    read_only : bool, optional
        Open the database read-only (listing works, adding raises LibraryError). Default: only
        when its folder or the file cannot be written (a read-only data folder can still be
        listed; nothing is ever created there).

    Raises
    ------
    LibraryError
        The file is not a database or is corrupt (rebuild it with ``neurofb sessions
        --reindex``), it is locked, it comes from a newer neurofb, or it cannot be opened.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        *,
        busy_timeout_s: float = 2.0,
        read_only: bool | None = None,
    ) -> None:
        if busy_timeout_s < 0:
            raise ValueError(f"busy_timeout_s must be >= 0, got {busy_timeout_s}")
        self.path = Path(path) if path is not None else default_path()
        self.busy_timeout_s = float(busy_timeout_s)
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise LibraryError(f"session database path {self.path} is a folder, not a file")
        folder_writable = _writable_folder(self.path.parent)
        if read_only is None:
            read_only = not folder_writable or (
                self.path.exists() and not os.access(self.path, os.W_OK))
        #: Whether the database was opened read-only (its folder or file cannot be written).
        self.read_only = bool(read_only)
        try:
            if self.read_only:
                if not self.path.is_file():
                    raise LibraryError(f"there is no session database at {self.path} (and it "
                                       "cannot be created: its folder is read-only)")
                # Never create a file in a read-only folder: not even the WAL index (-shm);
                # ``immutable`` reads the file as it is (nobody can change it there).
                query = "mode=ro" + ("" if folder_writable else "&immutable=1")
                uri = f"{self.path.absolute().as_uri()}?{query}"
                self._con = sqlite3.connect(uri, uri=True, timeout=self.busy_timeout_s,
                                            isolation_level=None, check_same_thread=False)
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._con = sqlite3.connect(
                    self.path, timeout=self.busy_timeout_s, isolation_level=None,
                    check_same_thread=False,
                )  # fmt: skip
        except (sqlite3.Error, OSError) as err:
            raise LibraryError(
                f"cannot open the session database {self.path}: {err}; choose a writable "
                "folder with --data-dir"
            ) from err
        try:
            with self._guard("open"):
                self._con.row_factory = sqlite3.Row
                self._check_integrity()
                self._check_ours()
                if not self.read_only:
                    self._con.execute("PRAGMA journal_mode=WAL")
                    # Safe from corruption in WAL mode; a power cut may lose the last session
                    # added, which the next reindex brings back from its recording.
                    self._con.execute("PRAGMA synchronous=NORMAL")
                self._migrate()
        except BaseException:
            self._con.close()
            raise

    # -- plumbing -------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, action: str) -> Iterator[None]:
        """Turn sqlite3 errors into LibraryErrors that say what to do."""
        with self._lock:
            try:
                yield
            except sqlite3.OperationalError as err:
                msg = str(err).lower()
                if "locked" in msg or "busy" in msg:
                    raise LibraryError(
                        f"the session database {self.path} is locked by another program "
                        f"(waited {self.busy_timeout_s:g} s to {action}); close other neurofb "
                        "windows or commands and try again"
                    ) from err
                if "malformed" in msg or "not a database" in msg:
                    raise self._corrupt(err) from err
                raise LibraryError(
                    f"cannot {action} the session database {self.path}: {err}"
                ) from err
            except sqlite3.DatabaseError as err:
                raise self._corrupt(err) from err

    def _corrupt(self, err: Exception) -> LibraryError:
        return LibraryError(
            f"the session database {self.path} is corrupt ({err}); rebuild it from your "
            "recordings with `neurofb sessions --reindex` (the corrupt file is kept aside and "
            "no recording is touched)"
        )

    @contextlib.contextmanager
    def _transaction(self, action: str) -> Iterator[sqlite3.Connection]:
        with self._guard(action):
            self._con.execute("BEGIN IMMEDIATE")
            try:
                yield self._con
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            self._con.execute("COMMIT")

    def _check_integrity(self) -> None:
        rows = self._con.execute("PRAGMA quick_check").fetchall()
        problems = [r[0] for r in rows if r[0] != "ok"]
        if problems:
            raise self._corrupt(sqlite3.DatabaseError("; ".join(problems[:3])))

    def _check_ours(self) -> None:
        """Refuse another program's SQLite database (tables, but no ``sessions`` table or no
        schema version) before anything is written to it: no table, no journal mode, no
        schema version."""
        tables = [r[0] for r in self._con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name")]
        version = int(self._con.execute("PRAGMA user_version").fetchone()[0])
        columns = {r[1] for r in self._con.execute("PRAGMA table_info(sessions)")}
        # ours: no table yet (a new file), or our sessions table and a schema version (the
        # first migration makes both in one transaction); anything else is someone else's
        if tables and ("sessions" not in tables or version == 0
                       or not _OUR_COLUMNS <= columns):
            shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
            raise LibraryError(
                f"{self.path} is an SQLite database of another program (tables: {shown}), not "
                "a session database: neurofb does not take over a file it did not make; give "
                "--db a new file or a session database (.sqlite3)"
            )
        if version > SCHEMA_VERSION:  # said before anything (the journal mode) is changed
            self._migrate()

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise LibraryError(
                f"the session database {self.path} has schema version {version}, newer than "
                f"this neurofb understands ({SCHEMA_VERSION}); upgrade neurofb or use another "
                "database with --data-dir"
            )
        if version == SCHEMA_VERSION:
            return
        if self.read_only:
            raise LibraryError(
                f"the session database {self.path} has schema version {version} and must be "
                f"upgraded to {SCHEMA_VERSION}, but it is read-only: open it once where it can "
                "be written"
            )
        with self._transaction("migrate"):
            # Read again inside the write lock: another process may have migrated meanwhile.
            version = self.schema_version
            for step in range(version, SCHEMA_VERSION):
                log.info("migrating %s from schema v%d to v%d", self.path, step, step + 1)
                for statement in MIGRATIONS[step].split(";"):
                    if statement.strip():
                        self._con.execute(statement)
                self._con.execute(f"PRAGMA user_version = {step + 1}")

    @property
    def schema_version(self) -> int:
        """The database's schema version (``PRAGMA user_version``)."""
        with self._guard("read"):
            return int(self._con.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Close the database (safe to call twice)."""
        with self._lock:
            self._con.close()

    def __enter__(self) -> SessionLibrary:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- rows -----------------------------------------------------------------------------------

    @staticmethod
    def _values(summary: SessionSummary) -> dict[str, Any]:
        values = {c: getattr(summary, c) for c in _COLUMNS if hasattr(summary, c)}
        if summary.recording_path:
            values["recording_path"] = str(Path(summary.recording_path).resolve())
        values["started_ts"] = _started_ts(summary.started_at)
        values["summary_json"] = json.dumps(summary.to_dict(), sort_keys=True)
        return values

    @staticmethod
    def _row(row: sqlite3.Row) -> SessionRow:
        stored: dict[str, Any] = {}
        with contextlib.suppress(ValueError, TypeError):
            stored = json.loads(row["summary_json"]) or {}
        # The columns win over the JSON copy: rows migrated from v1 have an empty JSON.
        columns = {k: row[k] for k in row.keys() if k not in ("id", "summary_json", "started_ts")}
        merged = {**stored, **columns}
        merged["id"] = int(row["id"])
        return SessionRow.from_dict(merged)

    def add_session(self, summary: SessionSummary | Mapping[str, Any]) -> int:
        """Add a session, or replace the one with the same ``recording_path``.

        Parameters
        ----------
        summary : SessionSummary or mapping
            The session (a mapping is read with :meth:`SessionSummary.from_dict`).

        Returns
        -------
        id : int
            The session's id in the library.
        """
        if not isinstance(summary, SessionSummary):
            if not isinstance(summary, Mapping):
                raise ValueError(
                    f"summary must be a SessionSummary or a mapping, got {type(summary).__name__}"
                )
            summary = SessionSummary.from_dict(summary)
        values = self._values(summary)
        names = ", ".join(values)
        marks = ", ".join(f":{k}" for k in values)
        updates = ", ".join(f"{k} = :{k}" for k in values if k != "recording_path")
        with self._transaction("add a session to") as con:
            if values.get("recording_path"):
                # an update of its row, not an insert that turns into one: that spent a new id
                # each time (a reindex made the next session number 2934 of 31)
                row = con.execute("SELECT id FROM sessions WHERE recording_path = ?",
                                  (values["recording_path"],)).fetchone()
                if row is not None:
                    con.execute(f"UPDATE sessions SET {updates} WHERE id = :_id",
                                {**values, "_id": int(row[0])})
                    return int(row[0])
            cur = con.execute(f"INSERT INTO sessions ({names}) VALUES ({marks})", values)
            return int(cur.lastrowid)

    def list_sessions(
        self,
        user: str | None = None,
        since: str | dt.date | dt.datetime | None = None,
        *,
        until: str | dt.date | dt.datetime | None = None,
    ) -> list[SessionRow]:
        """Return sessions, oldest first.

        Parameters
        ----------
        user : str, optional
            Only this user's sessions.
        since, until : ISO string, date or datetime, optional
            Only sessions started at or after ``since`` and before ``until`` (a date means local
            midnight; a naive time means local time).
        """
        where, args = [], []
        if user is not None:
            where.append("user = ?")
            args.append(user)
        if since is not None:
            where.append("started_ts >= ?")
            args.append(_to_ts(since))
        if until is not None:
            where.append("started_ts < ?")
            args.append(_to_ts(until))
        sql = "SELECT * FROM sessions"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_ts IS NULL, started_ts, id"
        with self._guard("read"):
            return [self._row(r) for r in self._con.execute(sql, args).fetchall()]

    def get(self, session_id: int) -> SessionRow:
        """Return one session by id; LibraryError when there is none."""
        with self._guard("read"):
            row = self._con.execute(
                "SELECT * FROM sessions WHERE id = ?", (int(session_id),)
            ).fetchone()
        if row is None:
            raise LibraryError(f"no session with id {session_id}; `neurofb sessions` lists them")
        return self._row(row)

    def get_by_recording(self, recording_path: str | os.PathLike) -> SessionRow | None:
        """Return the session indexing this recording folder, or None."""
        with self._guard("read"):
            row = self._con.execute(
                "SELECT * FROM sessions WHERE recording_path = ?",
                (str(Path(recording_path).resolve()),),
            ).fetchone()
        return None if row is None else self._row(row)

    def delete(self, session_id: int) -> None:
        """Remove a session from the index (its recording, if any, is not touched)."""
        with self._transaction("delete from") as con:
            cur = con.execute("DELETE FROM sessions WHERE id = ?", (int(session_id),))
        if cur.rowcount == 0:
            raise LibraryError(f"no session with id {session_id}; `neurofb sessions` lists them")

    def __len__(self) -> int:
        with self._guard("read"):
            return int(self._con.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def users(self) -> list[str]:
        """Return the distinct users, sorted."""
        with self._guard("read"):
            rows = self._con.execute("SELECT DISTINCT user FROM sessions ORDER BY user")
            return [r[0] for r in rows.fetchall()]

    def progress(self, user: str | None = None,
                 since: str | dt.date | dt.datetime | None = None) -> list[DayProgress]:
        """Return per-day aggregates of a user's sessions (all users when None), oldest first;
        ``since``: only sessions started at or after it (as :meth:`list_sessions`).

        The day is the local date in the session's ``started_at``.
        """
        sql = """
            SELECT substr(started_at, 1, 10) AS day, COUNT(*) AS n,
                   SUM(duration_s) AS duration,
                   SUM(CASE WHEN mean_focus IS NOT NULL THEN mean_focus * duration_s END) AS fw,
                   SUM(CASE WHEN mean_focus IS NOT NULL THEN duration_s END) AS fd,
                   SUM(CASE WHEN fraction_above IS NOT NULL THEN duration_s END) AS ad,
                   SUM(time_above_s) AS above, SUM(rewards) AS rewards, SUM(points) AS points
            FROM sessions WHERE started_at != '' {where}
            GROUP BY day ORDER BY day
        """
        args: list[object] = []
        where = ""
        if user is not None:
            where, args = "AND user = ?", [user]
        if since is not None:
            where += " AND started_ts >= ?"
            args.append(_to_ts(since))
        with self._guard("read"):
            rows = self._con.execute(sql.format(where=where), args).fetchall()
        out = []
        for r in rows:
            mean_focus = r["fw"] / r["fd"] if r["fd"] else None
            fraction = r["above"] / r["ad"] if r["ad"] else None
            out.append(
                DayProgress(
                    day=r["day"], sessions=int(r["n"]), duration_s=float(r["duration"] or 0),
                    mean_focus=mean_focus, time_above_s=float(r["above"] or 0),
                    fraction_above=None if fraction is None else min(1.0, fraction),
                    rewards=int(r["rewards"] or 0), points=int(r["points"] or 0),
                )
            )
        return out

    # -- rebuilding from the files --------------------------------------------------------------

    def reindex(
        self, recordings_root: str | os.PathLike, *, also: Iterable[str | os.PathLike] = ()
    ) -> ReindexResult:
        """Rebuild the index of the recordings under a folder from the files.

        Every neurofb recording folder under ``recordings_root`` (searched recursively) is
        summarised — from the summary stored at close, or computed from its trace and markers
        when there is none (an interrupted recording) — and added or refreshed; a row whose
        folder is gone and that is found under the root (same folder name, start time and
        user: a moved data folder) is moved there; rows of recordings under the root that no
        longer exist are removed. Rows without a recording and rows of recordings elsewhere are
        kept. Recordings are only read.

        Parameters
        ----------
        recordings_root : path-like
            The folder searched (recursively) for recordings.
        also : iterable of path-like
            Recording folders kept elsewhere to index too (the data folder's notes of them,
            :func:`neurofb.library.elsewhere.kept`); those that no longer exist are skipped.
        """
        root = Path(recordings_root).resolve()
        if not root.is_dir():
            what = "is a file, not a folder" if root.exists() else "does not exist"
            raise LibraryError(
                f"recordings folder {root} {what}; pass the folder that holds your "
                "recordings (--recordings)"
            )
        from neurofb.recording.interrupted import is_being_written

        summaries: list[SessionSummary] = []
        failed: list[tuple[str, str]] = []
        computed = live = 0
        folders = _recording_folders(root)
        folders += sorted({Path(f).resolve() for f in also if (Path(f) / "meta.json").is_file()}
                          - set(folders))
        for folder in folders:
            if is_being_written(folder):  # its writer indexes it at close, with its summary: a
                live += 1  # summary of it now would be of a part, and could land after that one
                continue
            try:
                summary, was_computed = summarise_folder(folder)
            except (NeurofbError, OSError, ValueError) as err:
                log.warning("cannot index %s: %s", folder, err)
                failed.append((str(folder), str(err)))
                continue
            summaries.append(summary)
            computed += int(was_computed)
        present = {str(Path(s.recording_path).resolve()) for s in summaries if s.recording_path}
        for s in summaries:  # one that began being written meanwhile is its writer's, too
            if s.recording_path and is_being_written(s.recording_path):
                live += 1
        summaries = [s for s in summaries
                     if not (s.recording_path and is_being_written(s.recording_path))]
        removed = 0
        with self._guard("read"):
            rows = self._con.execute(
                "SELECT id, recording_path, started_at, user FROM sessions "
                "WHERE recording_path IS NOT NULL"
            ).fetchall()
        gone = [r for r in rows
                if r["recording_path"] not in present and not Path(r["recording_path"]).exists()]
        moves = _moves(gone, summaries)
        stale = [r["id"] for r in gone
                 if _is_under(r["recording_path"], root) and r["id"] not in moves]
        known = {r["recording_path"] for r in rows}
        with self._transaction("reindex") as con:
            for session_id in stale:
                con.execute("DELETE FROM sessions WHERE id = ?", (session_id,))
                removed += 1
            for session_id, new_path in moves.items():  # the same session, in its new place
                if new_path in known:  # already indexed there (recovered at this start)
                    con.execute("DELETE FROM sessions WHERE recording_path = ?", (new_path,))
                con.execute("UPDATE sessions SET recording_path = ? WHERE id = ?",
                            (new_path, session_id))
        for summary in summaries:
            self.add_session(summary)
        return ReindexResult(
            indexed=len(summaries), computed=computed, removed=removed, failed=tuple(failed),
            live=live, moved=len(moves),
        )


def _moves(gone: list, summaries: list[SessionSummary]) -> dict[int, str]:
    """Rows whose folder is gone that are a recording found elsewhere: id -> its new path.

    A recording moved (a data folder moved or copied to another disk) keeps its folder name,
    start time and user; a row whose folder no longer exists is that recording when exactly one
    found folder, and no other gone row, matches all three. A row the found folder already has
    (a recording finalised and indexed at this start) gives way to the older row, which keeps
    its id.
    """
    def key(name: str, started_at: str, user: str) -> tuple[str, str, str]:
        return Path(name).name, started_at or "", user or ""

    rows: dict[tuple, list[int]] = {}
    for r in gone:
        rows.setdefault(key(r["recording_path"], r["started_at"], r["user"]), []).append(r["id"])
    found: dict[tuple, list[str]] = {}
    for s in summaries:
        if s.recording_path:
            found.setdefault(key(s.recording_path, s.started_at, s.user), []).append(
                s.recording_path)
    return {ids[0]: found[k][0] for k, ids in rows.items()
            if len(ids) == 1 and len(found.get(k, ())) == 1}


def _is_under(path: str, root: Path) -> bool:
    try:
        Path(path).relative_to(root)
    except ValueError:
        return False
    return True


def _recording_folders(root: Path) -> list[Path]:
    """Every folder under ``root`` (itself included) holding a neurofb recording's meta.json."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        if "meta.json" in filenames:
            found.append(Path(dirpath))
            dirnames.clear()  # a recording does not nest recordings
        else:
            dirnames.sort()
    return sorted(found)


def rebuild(
    recordings_root: str | os.PathLike, *, path: str | os.PathLike | None = None,
    busy_timeout_s: float = 2.0, also: Iterable[str | os.PathLike] = (),
) -> ReindexResult:  # fmt: skip
    """Rebuild the session database from the recordings, moving a corrupt file aside.

    Parameters
    ----------
    recordings_root : path-like
        Folder holding the recordings.
    path : path-like, optional
        Database file (default :func:`default_path`). If it is corrupt it is renamed to
        ``<name>.corrupt-<YYYYmmddTHHMMSS>`` (with its ``-wal``/``-shm`` files) and a new one is
        built; a locked database still raises LibraryError, and so does a ``path`` given that
        is no SQLite file at all (another file the user named is never taken over).
    also : iterable of path-like
        Recording folders kept elsewhere to index too (see :meth:`SessionLibrary.reindex`).
    """
    db = Path(path) if path is not None else default_path()
    moved: str | None = None
    try:
        lib = SessionLibrary(db, busy_timeout_s=busy_timeout_s)
    except LibraryError as err:
        if "corrupt" not in str(err):
            raise
        if path is not None and not _may_be_database(db):  # a file the user named: not ours
            raise LibraryError(
                f"{db} is not a session database (neither an SQLite file nor named like one): "
                "neurofb does not take over a file it did not make; give --db a new file or a "
                "session database (.sqlite3)"
            ) from None
        try:
            moved = str(_move_aside(db))
            log.warning("moved the corrupt session database to %s", moved)
        except FileNotFoundError:  # another rebuild moved it aside first: build on its new one
            log.info("the corrupt session database was moved aside by another process")
        lib = SessionLibrary(db, busy_timeout_s=busy_timeout_s)
    with lib:
        result = lib.reindex(recordings_root, also=also)
    return dataclasses.replace(result, moved_aside=moved)


def _may_be_database(db: Path) -> bool:
    """Whether ``db`` is a damaged database rather than some other file: it begins with
    SQLite's header, or it is named like a database (a header overwritten)."""
    if db.suffix.lower() in (".sqlite3", ".sqlite", ".db"):
        return True
    try:
        with open(db, "rb") as fh:
            return fh.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _move_aside(db: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%dT%H%M%S")
    target = db.with_name(f"{db.name}.corrupt-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = db.with_name(f"{db.name}.corrupt-{stamp}-{n}")
    db.rename(target)
    for suffix in ("-wal", "-shm", "-journal"):
        side = db.with_name(db.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    return target

