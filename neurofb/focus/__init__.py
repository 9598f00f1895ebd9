"""Focus estimators: the interface, the band-power targets and the attention model.

- :mod:`~neurofb.focus.base`: :class:`Estimator` (configuration) → :meth:`Estimator.bind`
  → :class:`BoundEstimator` (scores batches of windows) → :class:`FocusBatch`.
- :mod:`~neurofb.focus.bandpower`: engagement, theta/beta, SMR, alpha or any band ratio on
  chosen channels, each normalised to the user's own baseline.
- :mod:`~neurofb.focus.targets`: :func:`make_estimator` builds any of them by name.
- :mod:`~neurofb.focus.neural` and :mod:`~neurofb.focus.runtime`: the attention model as the
  engine runs it — its ONNX graph on ONNX Runtime, one window at a time, no torch.
- :mod:`~neurofb.focus.model`, :mod:`~neurofb.focus.io`, :mod:`~neurofb.focus.export`: the
  network, its files and its export to ONNX (these import torch: training and calibration only).

Nothing here imports torch, ONNX Runtime or SciPy at import.
"""

from neurofb.focus.bandpower import BandPowerEstimator
from neurofb.focus.base import BoundEstimator, Estimator, FocusBatch
from neurofb.focus.targets import TARGETS, make_estimator

__all__ = [
    "TARGETS",
    "BandPowerEstimator",
    "BoundEstimator",
    "Estimator",
    "FocusBatch",
    "make_estimator",
]
