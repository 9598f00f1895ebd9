"""The session library: an SQLite index of every recorded session, and its summaries.

- :class:`~neurofb.library.index.SessionLibrary`: add, list, progress by day, reindex.
- :class:`~neurofb.library.summary.SessionSummary` and :func:`summarise_recording`: what a
  session achieved, computed from its trace and markers when it was not stored at close.
- :func:`~neurofb.library.recovery.recover_interrupted`: finalise and index what a crash left.
"""

from neurofb.library.index import SessionLibrary, default_path, rebuild
from neurofb.library.recovery import Recovery, recover_interrupted
from neurofb.library.summary import SessionSummary, summarise_folder, summarise_recording

__all__ = [
    "Recovery",
    "SessionLibrary",
    "SessionSummary",
    "default_path",
    "rebuild",
    "recover_interrupted",
    "summarise_folder",
    "summarise_recording",
]
