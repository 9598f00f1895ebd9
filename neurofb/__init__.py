"""neurofb — neurofeedback for attention training.

The engine package: BrainFlow sources, MNE-designed filters and features, focus estimators,
the real-time pipeline, reward logic, recording and the session library. It never imports Qt;
the desktop front end lives in :mod:`neurofb_ui`.
"""

__version__ = "0.1.0"
