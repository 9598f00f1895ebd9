"""MNE-designed IIR filters, applied statefully chunk by chunk.

The band-pass and the line-noise notches are designed once with
:func:`mne.filter.create_filter` (Butterworth, second-order sections) and cascaded into one SOS
array. The designs of the engine's default band (1–45 Hz) at common sampling rates and mains
frequencies are stored in ``filter_designs.json`` (made by :func:`compute_stored_designs`; a test
checks every one against MNE's design): a stream at one of those rates needs neither MNE nor
SciPy's filter design at start-up, and gets the very same coefficients on every CPU.

:class:`StreamFilter` then runs that cascade causally with SciPy's SOS loop (:func:`sosfilt`),
carrying the filter state from one chunk to the next, so filtering a stream in chunks of any size
gives the same output as filtering it in one go — and the same output as MNE's own offline causal
filtering (``mne.filter.filter_data(..., method="iir", phase="forward")``) of the same signal.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

#: Butterworth order of the band-pass (MNE doubles it for a band-pass: 2 × order poles).
BANDPASS_ORDER = 4
#: Butterworth order of each notch (band-stop) filter.
NOTCH_ORDER = 2
#: Half-width in Hz of the stop band of each notch.
NOTCH_HALF_WIDTH_HZ = 2.0
#: A line harmonic gets a notch only while the band-pass alone attenuates it by less than this.
NOTCH_SKIP_ATTENUATION_DB = 40.0
#: Sampling rates (Hz) of the stored designs: those of common EEG amplifiers and of the model.
STORED_RATES: tuple[float, ...] = (125.0, 128.0, 200.0, 250.0, 256.0, 300.0, 400.0, 500.0,
                                   512.0, 1000.0, 1024.0, 2000.0, 2048.0)
#: Band (Hz) and mains frequencies (Hz, None = no notch) of the stored designs.
STORED_BAND: tuple[float, float] = (1.0, 45.0)
STORED_MAINS: tuple[float | None, ...] = (50.0, 60.0, None)
DESIGNS_FILE = Path(__file__).with_name("filter_designs.json")


def _design_key(sfreq: float, l_freq: float | None, h_freq: float | None,
                line_freq: float | None) -> str:
    return "|".join(f"{float(v):g}" if v else "-" for v in (sfreq, l_freq, h_freq, line_freq))


@lru_cache(maxsize=1)
def stored_designs() -> dict[str, np.ndarray]:
    """The stored SOS designs, by ``"sfreq|l_freq|h_freq|line_freq"`` (``-`` for none)."""
    try:
        doc = json.loads(DESIGNS_FILE.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a damaged install: design with MNE instead
        return {}
    out = {}
    for key, rows in doc.get("designs", {}).items():
        sos = np.array(rows, dtype=float)
        sos.flags.writeable = False
        out[key] = sos
    return out


def compute_stored_designs() -> dict:
    """Design every stored filter with MNE (what ``filter_designs.json`` holds)."""
    import mne
    import scipy

    designs = {}
    for sfreq in STORED_RATES:
        for line in STORED_MAINS:
            sos = _design_with_mne(sfreq, l_freq=STORED_BAND[0], h_freq=STORED_BAND[1],
                                   line_freq=line)
            designs[_design_key(sfreq, *STORED_BAND, line)] = sos.tolist()
    return {"made_with": {"mne": mne.__version__, "scipy": scipy.__version__},
            "bandpass_order": BANDPASS_ORDER, "notch_order": NOTCH_ORDER,
            "notch_half_width_hz": NOTCH_HALF_WIDTH_HZ, "designs": designs}


def _mne_butter_sos(
    sfreq: float, l_freq: float | None, h_freq: float | None, order: int
) -> np.ndarray:
    """Butterworth SOS from :func:`mne.filter.create_filter` (``l_freq > h_freq``: band-stop)."""
    import mne

    params = mne.filter.create_filter(
        None,
        sfreq,
        l_freq,
        h_freq,
        method="iir",
        iir_params=dict(order=order, ftype="butter", output="sos"),
        phase="forward",
        verbose="error",
    )
    return np.asarray(params["sos"], dtype=float)


def bandpass_sos(sfreq: float, *, l_freq: float | None, h_freq: float | None) -> np.ndarray:
    """Design the Butterworth band-pass with MNE.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float or None
        Pass-band edges in Hz (``None`` or 0 for no high-pass; ``None`` for no low-pass).

    Returns
    -------
    sos : array, shape (n_sections, 6)
        Second-order sections.
    """
    l_freq = l_freq if l_freq else None
    if l_freq is None and h_freq is None:
        return np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    return _mne_butter_sos(sfreq, l_freq, h_freq, BANDPASS_ORDER)


def notch_frequencies(
    sfreq: float, *, line_freq: float | None, bandpass: np.ndarray
) -> list[float]:
    """Line frequency and harmonics that need a notch.

    A harmonic is kept while it lies below Nyquist (with room for the notch) and the band-pass
    alone attenuates it by less than :data:`NOTCH_SKIP_ATTENUATION_DB`.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    line_freq : float or None
        Mains frequency in Hz (50 or 60); ``None`` for none.
    bandpass : array, shape (n_sections, 6)
        The band-pass already in the cascade.
    """
    from scipy.signal import sosfreqz

    if not line_freq:
        return []
    nyquist = sfreq / 2.0
    harmonics = np.arange(line_freq, nyquist - NOTCH_HALF_WIDTH_HZ, line_freq)
    if harmonics.size == 0:
        return []
    _, response = sosfreqz(bandpass, worN=harmonics, fs=sfreq)
    attenuation_db = -20.0 * np.log10(np.maximum(np.abs(response), 1e-300))
    return [float(f) for f, a in zip(harmonics, attenuation_db, strict=True)
            if a < NOTCH_SKIP_ATTENUATION_DB]


def notch_sos(sfreq: float, freq: float) -> np.ndarray:
    """Design one Butterworth band-stop around ``freq`` with MNE.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    freq : float
        Centre of the stop band in Hz (stop band ``freq ± NOTCH_HALF_WIDTH_HZ``).

    Returns
    -------
    sos : array, shape (n_sections, 6)
    """
    # l_freq > h_freq: MNE designs a band-stop.
    return _mne_butter_sos(
        sfreq, freq + NOTCH_HALF_WIDTH_HZ, freq - NOTCH_HALF_WIDTH_HZ, NOTCH_ORDER
    )


def design_filter(
    sfreq: float,
    *,
    l_freq: float | None = 1.0,
    h_freq: float | None = 45.0,
    line_freq: float | None = 50.0,
) -> np.ndarray:
    """Design the engine's filter: an MNE Butterworth band-pass cascaded with line notches.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float or None
        Pass-band edges in Hz (``None`` to leave that side open).
    line_freq : float or None
        Mains frequency in Hz (50 or 60). The fundamental and each harmonic below Nyquist that the
        band-pass does not already attenuate by 40 dB get a ±2 Hz Butterworth band-stop.

    Returns
    -------
    sos : array, shape (n_sections, 6)
        The whole cascade as second-order sections (band-pass first): the stored design when
        there is one for these settings (:data:`STORED_RATES`, :data:`STORED_BAND`,
        :data:`STORED_MAINS`), else MNE's.

    Raises
    ------
    ValueError
        When a pass-band edge is not below Nyquist or the edges are out of order.
    """
    if not sfreq > 0:
        raise ValueError(f"sfreq must be positive, got {sfreq}")
    nyquist = sfreq / 2.0
    if h_freq is not None and not h_freq < nyquist:
        raise ValueError(
            f"h_freq={h_freq} Hz must be below Nyquist ({nyquist:g} Hz at {sfreq:g} Hz); "
            "lower the low-pass edge"
        )
    if l_freq and h_freq is not None and not l_freq < h_freq:
        raise ValueError(f"need l_freq < h_freq, got l_freq={l_freq}, h_freq={h_freq}")
    if l_freq and not l_freq < nyquist:
        raise ValueError(f"l_freq={l_freq} Hz must be below Nyquist ({nyquist:g} Hz)")
    stored = stored_designs().get(_design_key(sfreq, l_freq, h_freq, line_freq))
    if stored is not None:
        return stored.copy()
    return _design_with_mne(sfreq, l_freq=l_freq, h_freq=h_freq, line_freq=line_freq)


def _design_with_mne(sfreq: float, *, l_freq: float | None, h_freq: float | None,
                     line_freq: float | None) -> np.ndarray:
    bandpass = bandpass_sos(sfreq, l_freq=l_freq, h_freq=h_freq)
    sections = [bandpass]
    for freq in notch_frequencies(sfreq, line_freq=line_freq, bandpass=bandpass):
        sections.append(notch_sos(sfreq, freq))
    return np.vstack(sections)


def sos_steady_state(sos: np.ndarray) -> np.ndarray:
    """The state of each section after a long unit-step input (what ``sosfilt_zi`` returns).

    Each second-order section's 2×2 system is solved in closed form (Cramer's rule) instead of
    with LAPACK, so the initial state — and the whole filtered stream — comes out the same on
    every CPU.

    Parameters
    ----------
    sos : array, shape (n_sections, 6)
        Second-order sections, ``a0 = 1``.

    Returns
    -------
    zi : array, shape (n_sections, 2)
    """
    sos = np.asarray(sos, dtype=float)
    zi = np.empty((sos.shape[0], 2))
    scale = 1.0
    for i, (b0, b1, b2, a0, a1, a2) in enumerate(sos.tolist()):
        if a0 != 1.0:
            b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        # (I - A) zi = B with A the transposed companion matrix of a, B = b[1:] - a[1:] b0
        c0, c1 = b1 - a1 * b0, b2 - a2 * b0
        det = 1.0 + a1 + a2
        zi[i] = scale * (c0 + c1) / det, scale * ((1.0 + a1) * c1 - a2 * c0) / det
        scale *= (b0 + b1 + b2) / (1.0 + a1 + a2)
    return zi


class StreamFilter:
    """Apply an SOS cascade causally to a multichannel stream, chunk by chunk.

    The state is initialised from the first sample of each channel (the steady state of a
    constant input, :func:`sos_steady_state` × first value), so a DC offset produces no
    start-up transient. Because the state is carried, chunked output equals one-shot output.

    Parameters
    ----------
    sos : array, shape (n_sections, 6)
        Second-order sections (e.g. from :func:`design_filter`).
    n_channels : int
        Number of channels of the stream.
    """

    def __init__(self, sos: np.ndarray, n_channels: int) -> None:
        sos = np.asarray(sos, dtype=float)
        if sos.ndim != 2 or sos.shape[1] != 6:
            raise ValueError(f"sos must have shape (n_sections, 6), got {sos.shape}")
        if n_channels < 1:
            raise ValueError(f"n_channels must be >= 1, got {n_channels}")
        self.sos = sos
        self.n_channels = int(n_channels)
        self._zi_unit = sos_steady_state(sos)[:, np.newaxis, :]  # (n_sections, 1, 2)
        self._zi: np.ndarray | None = None

    def reset(self) -> None:
        """Forget the state; the next chunk starts the filter afresh."""
        self._zi = None

    def process(self, data: np.ndarray) -> np.ndarray:
        """Filter the next chunk.

        Parameters
        ----------
        data : array, shape (n_channels, n_samples)
            Finite samples (µV).

        Returns
        -------
        filtered : array, shape (n_channels, n_samples)
        """
        data = np.asarray(data, dtype=float)
        if data.ndim != 2 or data.shape[0] != self.n_channels:
            raise ValueError(
                f"expected data of shape ({self.n_channels}, n_samples), got {data.shape}"
            )
        if data.shape[1] == 0:
            return data.copy()
        if self._zi is None:
            self._zi = self._zi_unit * data[np.newaxis, :, 0:1]
        out, self._zi = sosfilt(self.sos, data, self._zi)
        return out


def _load_kernel() -> Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None:
    """SciPy's compiled SOS loop, loaded from its file without importing :mod:`scipy.signal`.

    ``import scipy.signal`` costs 0.5–0.9 s (it imports most of SciPy), and a replay or a live
    stream needs nothing from it but this loop. Returns None when the file is not where SciPy
    keeps it, or the loop does not behave like :func:`scipy.signal.sosfilt` on a probe; the
    caller then uses the public function. ``tests/test_filters.py`` checks the two agree bit
    for bit, so a SciPy release that changed the loop is caught.
    """
    try:
        import scipy

        folder = Path(scipy.__file__).parent / "signal"
        found = sorted(folder.glob("_sosfilt.*"))
        if not found:
            return None
        spec = importlib.util.spec_from_file_location("scipy.signal._sosfilt", found[0])
        if spec is None or spec.loader is None:
            return None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        kernel = module._sosfilt
        # probe: one section y = x (b0 = a0 = 1), state untouched at zero
        sos = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
        x = np.array([[1.0, 2.0, 3.0]])
        zi = np.zeros((1, 1, 2))
        kernel(sos, x, zi)
        if not (np.array_equal(x, [[1.0, 2.0, 3.0]]) and not zi.any()):
            return None
    except Exception:  # any surprise: the public function is always right
        return None
    return kernel


@lru_cache(maxsize=1)
def _kernel() -> Callable[[np.ndarray, np.ndarray, np.ndarray], None] | None:
    return _load_kernel()


def sosfilt(sos: np.ndarray, data: np.ndarray, zi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Filter ``data`` along its last axis with the cascade ``sos``, from state ``zi``.

    The same numbers as ``scipy.signal.sosfilt(sos, data, axis=-1, zi=zi)``, without its
    import and per-call checks (see :func:`_load_kernel`).

    Parameters
    ----------
    sos : array, shape (n_sections, 6)
        Second-order sections, ``a0 = 1``.
    data : array, shape (n_channels, n_samples)
        Samples (float64).
    zi : array, shape (n_sections, n_channels, 2)
        Filter state before the first sample.

    Returns
    -------
    filtered : array, shape (n_channels, n_samples)
    zf : array, shape (n_sections, n_channels, 2)
        The state after the last sample.
    """
    kernel = _kernel()
    if kernel is None:
        from scipy.signal import sosfilt as public

        return public(sos, data, axis=-1, zi=zi)
    out = np.array(data, dtype=np.float64, order="C", copy=True)
    state = np.ascontiguousarray(np.swapaxes(zi, 0, 1), dtype=np.float64).copy()
    kernel(np.ascontiguousarray(sos, dtype=np.float64), out, state)
    return out, np.swapaxes(state, 0, 1)
