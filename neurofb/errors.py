"""One exception type per kind of failure.

Every message says what was wrong and what to do about it; the CLI prints the message, not a
traceback.
"""


class NeurofbError(Exception):
    """Base class of every error neurofb raises on purpose."""


class BoardError(NeurofbError):
    """A board is unknown, missing, busy, or stopped delivering data."""


class RecordingError(NeurofbError):
    """A recording is missing, corrupt, truncated, unwritable, or of the wrong layout."""


class ModelError(NeurofbError):
    """A model file is missing, tampered with, or does not fit the data."""


class SettingsError(ModelError):
    """The engine settings the user gave do not fit the model (a window shorter than it
    reads): never answered by falling back to another target."""


class ChannelError(NeurofbError):
    """Channels are missing, unknown, or do not match what is expected."""


class LibraryError(NeurofbError):
    """The session database is corrupt, locked, or of an unknown schema."""


class PathError(NeurofbError):
    """A path the user gave cannot be used.

    An input that does not exist (never replaced by a default), or an output that exists
    (without ``--force``), is one of the command's own inputs, lies in a folder that does not
    exist, or cannot be written.
    """


class EndOfStream(Exception):
    """A finite source (a replay) has delivered its last sample. Not a failure."""
