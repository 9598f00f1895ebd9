"""Signal processing on plain arrays: filters, band powers, signal quality, electrode names.

Functions take arrays in µV with the sampling rate in Hz and keep no state beyond a filter's.

- :mod:`~neurofb.dsp.filters`: MNE-designed IIR band-pass and notch, applied causally and
  statefully (:class:`StreamFilter`).
- :mod:`~neurofb.dsp.features`: batched Welch band powers (:func:`band_powers`).
- :mod:`~neurofb.dsp.quality`: flat, railed, noisy, line-noise and NaN checks (:func:`assess`).
- :mod:`~neurofb.dsp.montage`: 10-20/10-10 names, aliases, positions and headset presets.
"""

from neurofb.dsp.features import BANDS, CLASSIC_BANDS, band_powers, welch_psd
from neurofb.dsp.filters import StreamFilter, design_filter
from neurofb.dsp.montage import PRESETS, normalise_name
from neurofb.dsp.quality import QualityReport, QualityThresholds, assess

__all__ = [
    "BANDS",
    "CLASSIC_BANDS",
    "PRESETS",
    "QualityReport",
    "QualityThresholds",
    "StreamFilter",
    "assess",
    "band_powers",
    "design_filter",
    "normalise_name",
    "welch_psd",
]
