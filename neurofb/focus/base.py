"""The estimator interface: windows of EEG in, focus in [0, 1] out, with an explanation.

An :class:`Estimator` is configuration (a model, a target definition). Binding it to a stream's
channels and sampling rate with :meth:`Estimator.bind` checks they fit and returns a
:class:`BoundEstimator`, which may hold state (a baseline) and predicts on *batches* of windows,
so live updates (one window) and fast replay (many windows) run the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from neurofb.types import Features


@dataclass(frozen=True)
class FocusBatch:
    """Focus estimates for a batch of windows.

    Parameters
    ----------
    focus : array, shape (n_windows,)
        Focus in [0, 1] (1 = focused); NaN only for a window the estimator could not score
        with the channels it was allowed to use.
    explanation : array, shape (n_windows, n_channels) or None
        Non-negative weight of each input channel in the estimate, summing to 1 per window
        (the attention model's weights over channels), or None when the estimator has none.
    mode : tuple of str or None
        The attention model's operating mode for each window (``"cold"``; ``"rest"`` while a
        baseline is taken; ``"baseline"``; ``"baseline-failed"``:
        :mod:`neurofb.focus.baseline`), or None for an estimator without modes.
    """

    focus: np.ndarray
    explanation: np.ndarray | None = None
    mode: tuple[str, ...] | None = None


@runtime_checkable
class BoundEstimator(Protocol):
    """An estimator bound to one stream's channels and sampling rate.

    A bound estimator whose ``stateless`` attribute is true scores each window on its own (no
    baseline, no memory): in replay the pipeline may then score every window of a batch on a
    worker thread, before quality gating, and keep the gated-in ones.
    """

    ch_names: tuple[str, ...]
    sfreq: float

    def predict(self, windows: np.ndarray, features: Features, *,
                t_end: np.ndarray | None = None, usable: np.ndarray | None = None
                ) -> FocusBatch:
        """Estimate focus for consecutive windows.

        Parameters
        ----------
        windows : array, shape (n_windows, n_channels, n_times)
            Filtered EEG in µV, oldest window first.
        features : Features
            Band powers (and the Welch spectrum) of the same windows.
        t_end : array, shape (n_windows,), optional
            When each window ends, in seconds since the stream started (an estimator that
            keeps a baseline over time uses it; a stateless one ignores it).
        usable : array of bool, shape (n_windows, n_channels), optional
            The channels each window may use (default all): the pipeline leaves out channels
            whose signal quality is below its minimum (flat, railed, …). A window the estimator
            cannot score with what is left gets NaN focus.
        """
        ...

    def reset(self) -> None:
        """Forget any state (baseline) so the next window starts afresh."""
        ...


@runtime_checkable
class Estimator(Protocol):
    """A focus estimator before it is bound to a stream."""

    name: str

    def bind(
        self, ch_names: Sequence[str], sfreq: float, *, hop_s: float | None = None
    ) -> BoundEstimator:
        """Check the channels fit and return a bound estimator.

        ``hop_s`` is the time between windows (seconds); an estimator that keeps a baseline
        over time uses it, a stateless one ignores it.

        Raises
        ------
        neurofb.errors.ChannelError or neurofb.errors.ModelError
            When the channels or sampling rate do not fit the estimator.
        """
        ...
