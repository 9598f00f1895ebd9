"""The attention model (FocusLRA) as an :class:`~neurofb.focus.base.Estimator` for the engine.

``load_estimator(model_dir)`` opens the folder's graphs with ONNX Runtime
(:mod:`neurofb.focus.runtime`; torch is never imported here). ``bind(ch_names, sfreq)`` maps
the stream's channels to electrodes by name (:func:`neurofb.dsp.montage.match`; any 3 or more
10-05 electrodes) and specialises each graph to those electrodes once. ``predict`` then scores
the windows of a batch **one at a time**:

1. the window's features come from the Welch spectrum the pipeline already computed
   (:attr:`neurofb.types.Features.psd`, at the stream's own rate: nothing is resampled) —
   :func:`neurofb.focus.features.model_features`;
2. in **baseline mode** the session's baseline (:class:`neurofb.focus.baseline.
   SessionBaseline`) takes the windows of the first ``baseline_s`` seconds of rest (scored
   cold meanwhile) and re-centres every later window on them, for the baseline graph;
3. the graph of the window's mode gives a logit and the attention over the electrodes; a
   personalised model's head (:mod:`neurofb.focus.personal`) turns the logit into the
   person's; focus = sigmoid(logit) in float64; the attention over the stream's channels is the
   explanation (0 on channels that are not electrodes), and each window's mode is reported.

One window at a time is what makes a trace independent of batching: a live update (one window)
and a replay at ``--speed max`` (16 windows per batch) run exactly the same operations on
exactly the same shapes for every window, so their numbers are identical bit for bit.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.dsp import montage
from neurofb.errors import ChannelError, ModelError
from neurofb.focus.base import FocusBatch
from neurofb.focus.baseline import MIN_WINDOWS, STD_FLOOR, SessionBaseline
from neurofb.focus.card import check_weights, read_meta
from neurofb.focus.features import FMAX, N_FEATURES, model_features
from neurofb.focus.personal import PersonalHead, load_heads
from neurofb.focus.runtime import BoundGraph, Network, load_network, sigmoid
from neurofb.types import Features

#: Electrode subsets whose bound graphs a stream keeps (windows with electrodes left out).
MAX_SUBSETS = 8

__all__ = ["BoundNeuralEstimator", "NeuralEstimator", "load_estimator"]


class NeuralEstimator:
    """The attention focus model, before it is bound to a stream.

    Parameters
    ----------
    networks : dict of str to Network
        The folder's graphs by mode (``"cold"``, and ``"baseline"`` when it has one).
    meta : dict
        Its model.json.
    model_dir : path-like, optional
        Where it was loaded from.
    baseline_s : float
        Baseline mode from the start of the stream: its first ``baseline_s`` seconds are rest
        (0: cold until :meth:`BoundNeuralEstimator.request_baseline`).
    heads : dict of str to PersonalHead, optional
        A personalised model's heads by mode.

    Raises
    ------
    ModelError
        No cold graph, or baseline mode asked of a model without a baseline graph.
    """

    name = "model"

    def __init__(self, networks: dict[str, Network], meta: dict[str, Any], *,
                 model_dir: str | os.PathLike | None = None, baseline_s: float = 0.0,
                 heads: dict[str, PersonalHead] | None = None) -> None:
        if "cold" not in networks:
            raise ModelError("a model needs its cold-mode graph (model.onnx)")
        if not (math.isfinite(baseline_s) and baseline_s >= 0):
            raise ValueError(f"baseline_s must be >= 0 seconds, got {baseline_s}")
        if baseline_s and "baseline" not in networks:
            raise ModelError("this model has no baseline-mode graph (baseline.onnx): use it "
                             "without --baseline, or a model trained for baseline mode")
        self.networks = networks
        self.meta = meta
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.baseline_s = float(baseline_s)
        self.heads = heads or {}
        inp = meta.get("input", {})
        self.window_s = float(inp.get("window_s", 2.0))
        self.min_channels = int(inp.get("min_channels", montage.MIN_CHANNELS))
        base = meta.get("baseline", {}) if isinstance(meta.get("baseline"), dict) else {}
        self.min_windows = int(base.get("min_windows", MIN_WINDOWS))
        self.std_floor = float(base.get("std_floor", STD_FLOOR))
        self.sha256 = meta.get("weights", {}).get("sha256", "")
        self.onnx_sha256 = networks["cold"].sha256

    @property
    def modes(self) -> tuple[str, ...]:
        """The operating modes this model serves (``cold``, ``baseline``)."""
        return tuple(self.networks)

    @property
    def personal_electrodes(self) -> tuple[str, ...]:
        """The electrodes a personalised model was calibrated on (empty for a population one)."""
        personal = self.meta.get("personal")
        if not isinstance(personal, dict):
            return ()
        return tuple(personal.get("electrodes", ()))

    def bind(self, ch_names: Sequence[str], sfreq: float, *, hop_s: float | None = None
             ) -> BoundNeuralEstimator:
        """Map the stream's channels to electrodes and check the sampling rate.

        Parameters
        ----------
        ch_names : sequence of str
            The stream's channel names.
        sfreq : float
            Its sampling rate in Hz.
        hop_s : float, optional
            Time between windows (s); only used to time windows when ``predict`` is not told
            their end times (default 0.25 s).

        Raises
        ------
        ChannelError
            Fewer than the model's minimum of known 10-20/10-10 electrodes among ``ch_names``,
            or a personalised model's electrodes missing.
        ModelError
            The stream's sampling rate is too low for the model's band (1–45 Hz needs 90 Hz).
        """
        if not sfreq > 0:
            raise ValueError(f"sfreq must be positive, got {sfreq}")
        if sfreq < 2 * FMAX:
            raise ModelError(f"the focus model analyses up to {FMAX} Hz and needs a sampling "
                             f"rate of at least {2 * FMAX} Hz; the stream has {sfreq:g} Hz")
        return BoundNeuralEstimator(self, tuple(ch_names), float(sfreq),
                                    0.25 if hop_s is None else float(hop_s))


class BoundNeuralEstimator:
    """The attention model bound to one stream's channels and sampling rate.

    Attributes
    ----------
    electrodes : tuple of str
        The electrodes the model reads, in its order.
    indices : array of int
        Their indices among the stream's channels.
    baseline : SessionBaseline
        The session's baseline (state ``"off"`` in cold mode).
    """

    def __init__(self, parent: NeuralEstimator, ch_names: tuple[str, ...], sfreq: float,
                 hop_s: float) -> None:
        self.parent = parent
        self.ch_names = ch_names
        self.sfreq = sfreq
        self.hop_s = hop_s
        try:
            known, idx, unknown = montage.match(ch_names, min_channels=parent.min_channels)
        except ChannelError as err:
            raise ChannelError(f"the focus model cannot use this headset: {err}") from None
        if parent.personal_electrodes:
            known, idx = _personal_channels(parent.personal_electrodes, known, idx)
        self.electrodes = known
        self.indices = idx
        self.unknown = unknown
        self._pos = montage.positions(known)
        self._graphs: dict[str, BoundGraph] = {}
        self._subsets: dict[tuple[str, tuple[int, ...]], BoundGraph] = {}
        self.graph("cold")
        self._n_model = round(parent.window_s * sfreq)
        self.baseline = SessionBaseline((len(known), N_FEATURES),
                                        min_windows=parent.min_windows,
                                        std_floor=parent.std_floor)
        self._clock_s = parent.window_s  # end of the next window when predict is not told
        if parent.baseline_s:
            self.graph("baseline")
            self.baseline.restart(parent.baseline_s, start_s=0.0)

    @property
    def stateless(self) -> bool:
        """Each window is scored on its own unless a baseline is kept."""
        return self.baseline.state == "off"

    @property
    def mode(self) -> str:
        """The current mode: ``cold``, ``rest``, ``baseline`` or ``baseline-failed``."""
        return "cold" if self.baseline.state == "off" else self.baseline.state

    def reset(self) -> None:
        """A new stream: the baseline mode set at load starts again from time 0."""
        self._clock_s = self.parent.window_s
        self.baseline.restart(self.parent.baseline_s or None, start_s=0.0)

    def request_baseline(self, baseline_s: float | None, *, start_s: float) -> None:
        """Take a new baseline of ``baseline_s`` seconds of rest from ``start_s`` (None: cold).

        Raises
        ------
        ModelError
            The model has no baseline graph.
        """
        if baseline_s:
            self.graph("baseline")  # bound now, so the first baseline window does not wait
        self.baseline.restart(baseline_s or None, start_s=start_s)

    @property
    def modes(self) -> tuple[str, ...]:
        """The model's graphs: ``("cold",)`` or ``("cold", "baseline")``."""
        return tuple(self.parent.networks)

    def graph(self, mode: str) -> BoundGraph:
        """The graph of ``mode`` specialised to these electrodes.

        Bound on first use (about 8 ms with its warm-up window), so a cold session never pays
        for the baseline graph.

        Raises
        ------
        ModelError
            The model has no graph of that mode, or ONNX Runtime cannot run it here.
        """
        bound = self._graphs.get(mode)
        if bound is None:
            network = self.parent.networks.get(mode)
            if network is None:
                raise ModelError(f"this model has no {mode}-mode graph"
                                 + (" (baseline.onnx)" if mode == "baseline" else ""))
            bound = self._graphs[mode] = network.bind(self._pos)
        return bound

    def _check(self, windows: np.ndarray) -> np.ndarray:
        w = np.asarray(windows)
        if w.ndim != 3 or w.shape[1] != len(self.ch_names):
            raise ValueError(f"windows must be (n_windows, {len(self.ch_names)}, n_times), "
                             f"got shape {w.shape}")
        if not np.isfinite(w).all():
            raise ValueError("windows contain NaN or infinite samples; gate them out first")
        return w

    def spectrum(self, windows: np.ndarray, features: Features | None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """The Welch spectrum of the model's electrodes: the pipeline's, or computed here.

        The pipeline's :attr:`Features.psd` is used when its windows are the model's length
        (2 s); a longer window is cut to its last 2 s (and a shorter one used whole) and its
        spectrum computed with the same function.

        Returns
        -------
        psd : array, shape (n_windows, n_electrodes, n_freqs)
        freqs : array, shape (n_freqs,)
        """
        w = windows
        if (features is not None and features.psd is not None and features.freqs is not None
                and w.shape[-1] == self._n_model and features.psd.shape[:2] == w.shape[:2]):
            return features.psd[:, self.indices], features.freqs
        from neurofb.dsp.features import band_powers

        own = band_powers(w[:, self.indices, -self._n_model:], self.sfreq)
        return own.psd, own.freqs  # type: ignore[return-value]

    def _times(self, n: int, t_end: np.ndarray | None) -> np.ndarray:
        if t_end is None:
            times = self._clock_s + self.hop_s * np.arange(n)
        else:
            times = np.asarray(t_end, dtype=np.float64).reshape(-1)
            if times.shape != (n,):
                raise ValueError(f"t_end must have one time per window ({n}), got "
                                 f"{times.shape}")
        if n:
            self._clock_s = float(times[-1]) + self.hop_s
        return times

    def predict(self, windows: np.ndarray, features: Features | None = None, *,
                t_end: np.ndarray | None = None, usable: np.ndarray | None = None
                ) -> FocusBatch:
        """Estimate focus for a batch of consecutive windows, scoring each on its own.

        Parameters
        ----------
        windows : array, shape (n_windows, n_channels, n_times)
            Filtered EEG in µV at the stream's rate, oldest first (finite: the pipeline gates
            windows with missing samples before).
        features : Features, optional
            The pipeline's band powers and Welch spectrum of the same windows (computed here
            when not given).
        t_end : array, shape (n_windows,), optional
            Each window's end in seconds of the stream (default: consecutive windows
            ``hop_s`` apart): baseline mode times the rest with it.
        usable : array of bool, shape (n_windows, n_channels), optional
            The channels each window may use (default all). A window with an electrode left
            out is scored on the others — the network is montage-agnostic, and its graph is
            bound to that electrode set on first use — and does not feed a baseline being
            taken. It gets NaN focus when fewer than the model's minimum of electrodes remain,
            or when the model is personalised (its head reads every one of its electrodes).

        Returns
        -------
        FocusBatch
            ``focus`` (n_windows,) in [0, 1]; ``explanation`` (n_windows, n_channels): the
            attention over the stream's channels (0 on channels that are not electrodes or
            were left out); ``mode`` of each window.
        """
        w = self._check(windows)
        n_win = w.shape[0]
        times = self._times(n_win, t_end)
        psd, freqs = self.spectrum(w, features)
        logits = np.empty(n_win)
        explanation = np.zeros((n_win, len(self.ch_names)))
        modes = []
        win_s = w.shape[-1] / self.sfreq
        keep = None if usable is None else np.asarray(usable, dtype=bool)[:, self.indices]
        for i in range(n_win):
            # the same shapes for every window, whatever the batch: (1, n_electrodes, ...)
            feats = model_features(psd[i : i + 1], freqs)
            left_out = None if keep is None or keep[i].all() else np.flatnonzero(~keep[i])
            logits[i], explanation[i, self.indices], mode = self._score_one(
                feats, float(times[i]), float(times[i]) - win_s, left_out)
            modes.append(mode)
        return FocusBatch(focus=sigmoid(logits), explanation=explanation, mode=tuple(modes))

    def _score_one(self, feats: np.ndarray, t_end: float, t_start: float,
                   left_out: np.ndarray | None = None) -> tuple[float, np.ndarray, str]:
        """One window's features (1, n_electrodes, n_features) → logit, attention, mode.

        ``left_out``: indices of electrodes this window may not use (None: it uses all).
        """
        rel = self.baseline.update(feats[0], t_end, t_start=t_start, learn=left_out is None)
        graph = "cold" if rel is None else "baseline"
        mode = self.mode if rel is None else "baseline"
        x = feats if rel is None else rel[None]
        if left_out is not None:
            kept = np.setdiff1d(np.arange(len(self.electrodes)), left_out)
            attention = np.zeros(len(self.electrodes))
            if len(kept) < self.parent.min_channels or self.parent.heads:
                return math.nan, attention, mode
            logit, attention[kept] = self.subgraph(graph, tuple(kept.tolist())).run(
                np.ascontiguousarray(x[:, kept]))
            return logit, attention, mode
        logit, attention = self.graph(graph).run(x)
        heads = self.parent.heads
        if heads:
            head = heads.get(graph, heads["cold"])
            logit = float(head.predict_logit(np.array([logit]), feats)[0])
        return logit, attention, mode

    def subgraph(self, mode: str, kept: tuple[int, ...]) -> BoundGraph:
        """The graph of ``mode`` bound to a subset of the electrodes (indices, ascending).

        Bound on first use (a few ms) and kept: a bad electrode usually stays bad for a while.
        At most :data:`MAX_SUBSETS` subsets are kept, the least recently used dropped first.
        """
        key = (mode, kept)
        bound = self._subsets.pop(key, None)
        if bound is None:
            self.graph(mode)  # the mode's graph exists (or a clear ModelError)
            bound = self.parent.networks[mode].bind(self._pos[list(kept)])
            while len(self._subsets) >= MAX_SUBSETS:
                self._subsets.pop(next(iter(self._subsets)))
        self._subsets[key] = bound  # most recently used last
        return bound

    def score_features(self, feats: np.ndarray, t_end: np.ndarray, *, window_s: float
                       ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
        """Score windows given as features of the bound electrodes (evaluation and calibration).

        The same path as :meth:`predict` after the spectrum: baseline, graph, personal head.

        Parameters
        ----------
        feats : array, shape (n_windows, n_electrodes, n_features)
            :func:`neurofb.focus.features.model_features` of consecutive windows of one
            session, electrodes in the order of :attr:`electrodes`.
        t_end : array, shape (n_windows,)
            When each window ends, in seconds of the session.
        window_s : float
            Window length in seconds.

        Returns
        -------
        logit : array, shape (n_windows,)
        attention : array, shape (n_windows, n_electrodes)
        mode : tuple of str
        """
        x = np.asarray(feats, dtype=np.float64)
        if x.ndim != 3 or x.shape[1:] != (len(self.electrodes), N_FEATURES):
            raise ValueError(f"features must be (n, {len(self.electrodes)}, {N_FEATURES}), "
                             f"got {x.shape}")
        times = np.asarray(t_end, dtype=np.float64)
        logits = np.empty(len(x))
        attention = np.empty(x.shape[:2])
        modes = []
        for i in range(len(x)):
            logits[i], attention[i], mode = self._score_one(
                np.ascontiguousarray(x[i : i + 1]), float(times[i]), float(times[i]) - window_s)
            modes.append(mode)
        return logits, attention, tuple(modes)


def _personal_channels(wanted: Sequence[str], known: tuple[str, ...], idx: np.ndarray
                       ) -> tuple[tuple[str, ...], np.ndarray]:
    """The stream's indices of a personalised model's calibration electrodes, in their order.

    Raises
    ------
    ChannelError
        The stream lacks some of them.
    """
    where = dict(zip(known, idx.tolist(), strict=True))
    missing = [e for e in wanted if e not in where]
    if missing:
        raise ChannelError(
            f"this personalised model was calibrated on {', '.join(wanted)}; the stream lacks "
            f"{', '.join(missing)}. Use the population model or calibrate on this headset")
    return tuple(wanted), np.asarray([where[e] for e in wanted], dtype=np.int64)


def load_estimator(model_dir: str | os.PathLike | None = None, *, baseline_s: float = 0.0
                   ) -> NeuralEstimator:
    """Load a model folder as an estimator (its ONNX graphs; no torch).

    Parameters
    ----------
    model_dir : path-like, optional
        The model folder; default: the shipped ``models/focus-default``.
    baseline_s : float
        Baseline mode: the first ``baseline_s`` seconds of the stream are rest (0: cold).

    Raises
    ------
    ModelError
        Missing, tampered or mismatched model files, or a folder without its graphs.
    """
    from neurofb.paths import default_model_dir

    folder = Path(model_dir) if model_dir is not None else default_model_dir()
    meta = read_meta(folder)
    check_weights(folder, meta)  # the folder is the model its card describes, or refused
    modes = meta.get("architecture", {}).get("modes", ["cold"])
    networks = {mode: load_network(folder, meta, mode=mode)
                for mode in ("cold", "baseline") if mode in modes}
    heads = None
    personal = meta.get("personal")
    if personal is not None:
        if not isinstance(personal, dict) or not isinstance(personal.get("electrodes"), list):
            raise ModelError(f"{folder}: model.json's personal section does not list the "
                             "electrodes it was calibrated on; calibrate again")
        heads = load_heads(folder, personal)
        if any(h.n_chans != len(personal["electrodes"]) for h in heads.values()):
            raise ModelError(f"{folder}: the personal heads do not fit the "
                             f"{len(personal['electrodes'])} calibration electrodes")
    return NeuralEstimator(networks, meta, model_dir=folder, baseline_s=baseline_s, heads=heads)
