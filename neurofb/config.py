"""Engine defaults in one place. CLI flags and app settings override them."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace

#: Mains frequency (Hz) notched when ``line_freq="auto"`` finds no mains peak in the signal.
AUTO_FALLBACK_HZ = 50.0
#: Longest analysis window in seconds (a window is held in memory twice per channel).
MAX_WINDOW_S = 600.0
#: Highest sampling rate neurofb accepts (Hz): above every EEG amplifier; a header that says more
#: is damaged.
MAX_SFREQ = 100_000.0
#: Shortest time between updates (s): 100 updates a second at most.
MIN_HOP_S = 0.01
#: Longest rest baseline of the attention model's baseline mode, in seconds.
MAX_BASELINE_S = 3600.0


@dataclass(frozen=True)
class EngineConfig:
    """Settings of the real-time pipeline.

    Parameters
    ----------
    window_s : float
        Length of the analysis window in seconds.
    hop_s : float
        Time between updates in seconds (0.25 s = 4 updates/s).
    l_freq, h_freq : float
        Band-pass edges in Hz. The default ``h_freq`` is lowered to 0.45 × the sampling rate
        (with a note) for a source too slow for it; a ``h_freq`` set to anything else must lie
        below Nyquist.
    line_freq : float, None or "auto"
        Mains frequency to notch (50 or 60 Hz, with harmonics below Nyquist); None for no notch;
        ``"auto"`` (the default) to detect 50 or 60 Hz from the first window of raw samples
        (:func:`neurofb.dsp.mains.detect_line_freq`), falling back to :data:`AUTO_FALLBACK_HZ`
        when the signal shows no mains peak.
    smoothing_s : float
        Time constant of the exponential smoothing of focus, in seconds (0 disables it).
    min_quality : float
        Windows whose quality score is below this are gated: no focus value, reason given.
        On a simulated source (BrainFlow's synthetic board: sines, not EEG) the default gates
        only non-finite samples (:meth:`gate_for`), unless ``gate_simulated``.
    gate_simulated : bool
        Gate a simulated source at ``min_quality`` too (``--min-quality`` given on the command
        line sets it, so an explicit 0.5 is not taken for the default).
    baseline_s : float
        Seconds of signal used to normalise band-power targets to the user's baseline.
    model_baseline_s : float
        The attention model's baseline mode: the first ``model_baseline_s`` seconds of the
        stream are rest, and every later window is re-centred on them (0, the default: cold
        mode; :mod:`neurofb.focus.baseline`). ``--baseline 60`` on the command line.
    """

    window_s: float = 2.0
    hop_s: float = 0.25
    l_freq: float = 1.0
    h_freq: float = 45.0
    line_freq: float | str | None = "auto"
    smoothing_s: float = 1.0
    min_quality: float = 0.5
    baseline_s: float = 10.0
    model_baseline_s: float = 0.0
    gate_simulated: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.window_s <= MAX_WINDOW_S:
            raise ValueError(f"window_s must be in (0, {MAX_WINDOW_S:g}] seconds, got "
                             f"{self.window_s}")
        if not MIN_HOP_S <= self.hop_s <= self.window_s:
            raise ValueError(f"hop_s must be in [{MIN_HOP_S:g}, window_s] seconds, got "
                             f"{self.hop_s}")
        if not 0 <= self.l_freq < self.h_freq:
            raise ValueError(f"need 0 <= l_freq < h_freq, got {self.l_freq}, {self.h_freq}")
        if self.line_freq not in (None, 50.0, 60.0, 50, 60, "auto"):
            raise ValueError(f"line_freq must be 50, 60, None or 'auto', got {self.line_freq!r}")
        if self.smoothing_s < 0:
            raise ValueError(f"smoothing_s must be >= 0, got {self.smoothing_s}")
        if not 0 <= self.min_quality <= 1:
            raise ValueError(f"min_quality must be in [0, 1], got {self.min_quality}")
        if not 0 <= self.model_baseline_s <= MAX_BASELINE_S:
            raise ValueError(f"model_baseline_s must be in [0, {MAX_BASELINE_S:g}] seconds, "
                             f"got {self.model_baseline_s}")

    def resolve_line_freq(self, detected: float | None) -> float | None:
        """The mains frequency to notch: the setting, or for ``"auto"`` the detected one.

        Parameters
        ----------
        detected : float or None
            What :func:`neurofb.dsp.mains.detect_line_freq` found (None: no clear peak).
        """
        if self.line_freq == "auto":
            return detected if detected is not None else AUTO_FALLBACK_HZ
        return None if self.line_freq is None else float(self.line_freq)

    def gate_for(self, simulated: bool) -> float:
        """The quality a window needs: ``min_quality``, or 0 (only non-finite samples gated)
        on a simulated source when the gate was left at its default.

        BrainFlow's synthetic board streams sines of rising amplitude, not EEG, so every
        window would fail the gate; its quality is still scored and reported.
        """
        default = self.min_quality == EngineConfig.min_quality and not self.gate_simulated
        return 0.0 if simulated and default else self.min_quality

    def with_(self, **changes: object) -> EngineConfig:
        """Return a copy with some fields changed (``None`` values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity where the OS reports it, e.g. ``taskset``)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
