"""The attention model as an :class:`~neurofb.focus.base.Estimator` for the live engine.

``load_estimator(model_dir)`` opens the folder's ``model.onnx`` with ONNX Runtime
(:mod:`neurofb.focus.runtime`; torch is never imported here). ``bind(ch_names, sfreq)`` maps the
stream's channels to electrodes by name (:func:`neurofb.dsp.montage.match`), and ``predict``
scores the windows of a batch **one at a time**: each window is resampled to the model's rate on
its own (:func:`resample_windows`), run through the graph with the same tensor shapes, and turned
into focus = sigmoid(logit) in float64, with the attention weights over the stream's channels as
the explanation (0 on channels that are not electrodes).

One window at a time is what makes a trace independent of batching: a live update (one window)
and a replay at ``--speed max`` (16 windows per batch) call exactly the same operations on
exactly the same shapes for every window, so their numbers are identical bit for bit — not
merely close. Training builds its windows with :func:`resample_windows` too, so the model sees
what it was trained on.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.dsp import montage
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.base import FocusBatch
from neurofb.focus.card import read_meta
from neurofb.focus.runtime import Network, load_network, sigmoid
from neurofb.types import Features


def resample_ratio(sfreq_in: float, sfreq_out: float) -> tuple[int, int]:
    """The (up, down) integers of a polyphase resampling from ``sfreq_in`` to ``sfreq_out``."""
    if not (sfreq_in > 0 and sfreq_out > 0):
        raise ValueError(f"sampling rates must be positive, got {sfreq_in}, {sfreq_out}")
    frac = Fraction(sfreq_out / sfreq_in).limit_denominator(1000)
    return frac.numerator, frac.denominator


def resample_windows(windows: np.ndarray, sfreq_in: float, sfreq_out: float, *,
                     dtype: type = np.float32) -> np.ndarray:
    """Resample windows along time, each window on its own.

    Parameters
    ----------
    windows : array, shape (..., n_times)
        Signals (µV) at ``sfreq_in`` Hz.
    sfreq_in, sfreq_out : float
        Input and output sampling rates in Hz.
    dtype : numpy dtype
        Of the result: float32 for training sets (half the memory), float64 for the engine
        (rounding to float32 would turn a last-bit difference between two CPUs into a 1e-7 one).

    Returns
    -------
    array, shape (..., n_times_out)
        ``scipy.signal.resample_poly`` of each window (its anti-aliasing filter included),
        computed in float64. Each window's numbers depend only on that window (the engine also
        calls this one window at a time, so a batch never changes them).
    """
    from scipy.signal import resample_poly

    up, down = resample_ratio(sfreq_in, sfreq_out)
    x = np.asarray(windows, dtype=np.float64)
    if up == down:
        return x.astype(dtype)
    if x.shape[-1] <= _MATRIX_MAX_SAMPLES:
        # resample_poly is linear: for a window length it is one (n_in, n_out) matrix. Each
        # output sample only sees the ~80 inputs under the anti-aliasing FIR, so the matrix is
        # banded: it is applied block by block of output samples, each block a BLAS product
        # over its own rows (same numbers as resample_poly to 1e-15, ~4x faster than the dense
        # product). In float64: a float32 product rounds differently for different batch
        # sizes, and a replay's trace must not depend on how many windows were batched.
        out = np.empty((*x.shape[:-1], _n_out(x.shape[-1], up, down)))
        for cols, rows, block in _resample_blocks(x.shape[-1], up, down):
            np.matmul(x[..., rows], block, out=out[..., cols])
        return out.astype(dtype, copy=False)
    return resample_poly(x, up, down, axis=-1, window=_antialias(up, down)).astype(dtype)


#: Longest window resampled by matrix product (longer signals use resample_poly directly).
_MATRIX_MAX_SAMPLES = 4096

#: Output samples per block of the banded resampling product (fastest on 1 and 16 windows).
_BLOCK_COLUMNS = 16


def _n_out(n_in: int, up: int, down: int) -> int:
    """Output length of :func:`scipy.signal.resample_poly` for ``n_in`` samples."""
    return -(-n_in * up // down)  # ceil(n_in * up / down)


@lru_cache(maxsize=8)
def _resample_blocks(n_in: int, up: int, down: int) -> tuple[tuple[slice, slice, np.ndarray], ...]:
    """The resampling matrix of ``n_in`` samples cut into bands: (columns, rows, block)."""
    from scipy.signal import resample_poly

    m = resample_poly(np.eye(n_in), up, down, axis=-1, window=_antialias(up, down))
    blocks = []
    for c0 in range(0, m.shape[1], _BLOCK_COLUMNS):
        cols = slice(c0, min(c0 + _BLOCK_COLUMNS, m.shape[1]))
        used = np.flatnonzero(np.any(m[:, cols] != 0.0, axis=1))
        rows = slice(int(used[0]), int(used[-1]) + 1) if used.size else slice(0, 1)
        block = np.ascontiguousarray(m[rows, cols])
        block.flags.writeable = False
        blocks.append((cols, rows, block))
    return tuple(blocks)


@lru_cache(maxsize=16)
def _antialias(up: int, down: int) -> np.ndarray:
    """resample_poly's default FIR (Kaiser, beta 5), designed once per ratio instead of per call."""
    from scipy.signal import firwin

    max_rate = max(up, down)
    h = firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    h.flags.writeable = False
    return h


#: Architectures whose inputs this module prepares from EEG windows (graph input names).
_WINDOW_INPUTS = {"FocusNet": ("x", "pos")}


class NeuralEstimator:
    """The attention focus model, before it is bound to a stream.

    Parameters
    ----------
    network : Network
        The model folder's ONNX graph, opened (:func:`neurofb.focus.runtime.load_network`).
    meta : dict
        Its model.json.
    model_dir : path-like, optional
        Where it was loaded from.

    Raises
    ------
    ModelError
        The architecture's inputs are not ones this engine prepares.
    """

    name = "model"

    def __init__(self, network: Network, meta: dict[str, Any], *,
                 model_dir: str | os.PathLike | None = None) -> None:
        arch = meta.get("architecture", {})
        wanted = _WINDOW_INPUTS.get(str(arch.get("name", "")))
        if wanted is None or tuple(network.inputs) != wanted:
            raise ModelError(
                f"this neurofb cannot prepare the inputs {network.inputs} of a "
                f"{arch.get('name')!r} network (it knows {sorted(_WINDOW_INPUTS)}): upgrade "
                "neurofb")
        self.network = network
        self.meta = meta
        self.model_dir = Path(model_dir) if model_dir is not None else None
        inp = meta.get("input", {})
        arch_sfreq = float(arch.get("sfreq", 128.0))
        self.sfreq = float(inp.get("sfreq", arch_sfreq))
        self.window_s = float(inp.get("window_s", int(arch.get("n_times", 256)) / arch_sfreq))
        self.min_channels = int(inp.get("min_channels", montage.MIN_CHANNELS))
        self.fmax = float(arch.get("fmax", 45.0))
        self.personal = int(arch.get("personal_channels", 0)) > 0
        self.sha256 = meta.get("weights", {}).get("sha256", "")
        self.onnx_sha256 = network.sha256

    def bind(
        self, ch_names: Sequence[str], sfreq: float, *, hop_s: float | None = None
    ) -> BoundNeuralEstimator:
        """Map the stream's channels to electrodes and check the sampling rate.

        Raises
        ------
        ChannelError
            Fewer than the model's minimum of known 10-20/10-10 electrodes among ``ch_names``.
        ModelError
            The stream's sampling rate is too low for the model's band (1–45 Hz needs > 90 Hz).
        """
        if not sfreq > 0:
            raise ValueError(f"sfreq must be positive, got {sfreq}")
        if sfreq < 2 * self.fmax:
            raise ModelError(f"the focus model analyses up to {self.fmax:g} Hz and needs a "
                             f"sampling rate of at least {2 * self.fmax:g} Hz; the stream has "
                             f"{sfreq:g} Hz")
        return BoundNeuralEstimator(self, tuple(ch_names), float(sfreq))


class BoundNeuralEstimator:
    """The attention model bound to one stream's channels and sampling rate."""

    #: Each window is scored on its own, with no state.
    stateless = True
    #: But not ahead on the pipeline's worker thread: one small ONNX Runtime call per window
    #: takes and drops the GIL twice, and the hand-overs with the thread computing band powers
    #: made a replay slower, not faster (10 min of 19-ch EEG: 0.84 s with it, 0.62 s without).
    score_ahead = False

    def __init__(self, parent: NeuralEstimator, ch_names: tuple[str, ...], sfreq: float) -> None:
        self.parent = parent
        self.ch_names = ch_names
        self.sfreq = sfreq
        try:
            known, idx, unknown = montage.match(ch_names, min_channels=parent.min_channels)
        except ChannelError as err:
            raise ChannelError(f"the focus model cannot use this headset: {err}") from None
        if parent.personal:
            known, idx = _personal_channels(parent.meta, known, idx)
        self.electrodes = known
        self.indices = idx
        self.unknown = unknown
        self._pos = np.ascontiguousarray(montage.positions(known), dtype=np.float64)
        self._n_times = round(parent.window_s * parent.sfreq)

    def reset(self) -> None:
        """The model keeps no state between windows: nothing to forget."""

    def _check(self, windows: np.ndarray) -> np.ndarray:
        w = np.asarray(windows)
        if w.ndim != 3 or w.shape[1] != len(self.ch_names):
            raise ValueError(f"windows must be (n_windows, {len(self.ch_names)}, n_times), "
                             f"got shape {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("windows contain NaN or infinite samples; gate them out first")
        return w

    def _prepare_one(self, window: np.ndarray) -> np.ndarray:
        """One window (n_channels, n_times) → the model's electrodes at its rate, float64."""
        x = resample_windows(window[self.indices, :], self.sfreq, self.parent.sfreq,
                             dtype=np.float64)
        return x[..., -self._n_times:]

    def prepare(self, windows: np.ndarray) -> np.ndarray:
        """Pick the electrodes and resample to the model's rate, window by window.

        Parameters
        ----------
        windows : array, shape (n_windows, n_channels, n_times)
            Filtered EEG in µV at the stream's rate.

        Returns
        -------
        array, shape (n_windows, n_electrodes, n_times_model), float64
            The last ``window_s`` seconds (or all of a shorter window) at the model's rate.
        """
        w = self._check(windows)
        x = resample_windows(w[:, self.indices, :], self.sfreq, self.parent.sfreq,
                             dtype=np.float64)
        return np.ascontiguousarray(x[..., -self._n_times:])

    def predict(self, windows: np.ndarray, features: Features | None = None) -> FocusBatch:
        """Estimate focus for a batch of windows, scoring each window on its own.

        Parameters
        ----------
        windows : array, shape (n_windows, n_channels, n_times)
            Filtered EEG in µV at the stream's rate, oldest first.
        features : Features, optional
            Band powers of the same windows (unused: the model computes its own spectra).

        Returns
        -------
        FocusBatch
            ``focus`` (n_windows,) in [0, 1]; ``explanation`` (n_windows, n_channels): the
            attention over the stream's channels (0 on channels that are not electrodes).
        """
        w = self._check(windows)
        n_win = w.shape[0]
        logits = np.empty(n_win)
        explanation = np.zeros((n_win, len(self.ch_names)))
        run = self.parent.network.run
        x = self.prepare(w)  # each window resampled on its own (tests: any batch, same bits)
        for i in range(n_win):
            # the same shapes for every window, whatever the batch: (1, n_electrodes, n_times)
            logit, attention = run({"x": x[i : i + 1], "pos": self._pos})
            logits[i] = logit[0]
            explanation[i, self.indices] = attention[0]
        return FocusBatch(focus=sigmoid(logits), explanation=explanation)


def _personal_channels(meta: dict, known: tuple[str, ...], idx: np.ndarray
                       ) -> tuple[tuple[str, ...], np.ndarray]:
    """The stream's indices of a personalised model's calibration electrodes, in their order.

    Raises
    ------
    ModelError
        model.json does not list the calibration electrodes.
    ChannelError
        The stream lacks some of them.
    """
    wanted = meta.get("input", {}).get("personal_electrodes")
    if not isinstance(wanted, list) or not wanted:
        raise ModelError("this personalised model's model.json does not list the electrodes it "
                         "was calibrated on (input.personal_electrodes)")
    where = dict(zip(known, idx.tolist(), strict=True))
    missing = [e for e in wanted if e not in where]
    if missing:
        raise ChannelError(
            f"this personalised model was calibrated on {', '.join(wanted)}; the stream lacks "
            f"{', '.join(missing)}. Use the population model or calibrate on this headset")
    return tuple(wanted), np.asarray([where[e] for e in wanted], dtype=int)


def load_estimator(model_dir: str | os.PathLike | None = None) -> NeuralEstimator:
    """Load a model folder as an estimator (its ONNX graph; no torch).

    Parameters
    ----------
    model_dir : path-like, optional
        The model folder; default: the shipped ``models/focus-default``.

    Raises
    ------
    ModelError
        Missing, tampered or mismatched model files, or a folder without an ONNX graph.
    """
    from neurofb.paths import default_model_dir

    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    meta = read_meta(folder)
    return NeuralEstimator(load_network(folder, meta), meta, model_dir=folder)
