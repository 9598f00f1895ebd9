"""neurofb — neurofeedback for attention training.

The engine package: BrainFlow sources, MNE-designed filters and features, focus estimators,
the real-time pipeline, reward logic, recording and the session library. It never imports Qt;
the desktop front end lives in :mod:`neurofb_ui`.
"""

import warnings as _warnings

__version__ = "0.1.0"

# BrainFlow (board_shim, data_filter, ml_model) imports the deprecated pkg_resources on Python
# 3.11, which warns on import. Every entry point (the CLI, the app, benchmarks, tests) imports
# this package before anything can import brainflow, so the filter is in place for all of them.
_warnings.filterwarnings("ignore", message=r"pkg_resources is deprecated", category=UserWarning)
_warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"pkg_resources")
