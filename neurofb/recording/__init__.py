"""Recordings: the crash-safe neurofb folder, its writer and reader, and other file formats.

- :class:`~neurofb.recording.base.Recording`: what every reader returns (µV, seconds); its
  samples are a :class:`~neurofb.recording.base.TimeSeries`, read from disk on demand.
- :class:`~neurofb.recording.writer.RecordingWriter`: append-only, fsynced twice a second.
- :func:`~neurofb.recording.formats.open_recording`: a neurofb folder or an EDF/EDF+/BDF,
  FIF or BrainFlow CSV file; :func:`~neurofb.recording.formats.export` and
  :func:`~neurofb.recording.formats.import_file` convert.
- :mod:`~neurofb.recording.interrupted`: recordings a crash left open.
- :mod:`~neurofb.recording.trace` (the focus trace CSV) and :mod:`~neurofb.recording.labels`
  (calibration blocks as class labels).
"""

from neurofb.recording.base import Recording, TimeSeries
from neurofb.recording.folder import read_folder, read_meta
from neurofb.recording.formats import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    detect_format,
    export,
    import_file,
    open_recording,
    read_file,
)
from neurofb.recording.interrupted import finalise_interrupted, find_interrupted
from neurofb.recording.writer import RecordingWriter, new_recording_path

__all__ = [
    "EXPORT_FORMATS",
    "IMPORT_FORMATS",
    "Recording",
    "RecordingWriter",
    "TimeSeries",
    "detect_format",
    "export",
    "finalise_interrupted",
    "find_interrupted",
    "import_file",
    "new_recording_path",
    "open_recording",
    "read_file",
    "read_folder",
    "read_meta",
]
