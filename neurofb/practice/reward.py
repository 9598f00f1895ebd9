"""Reward logic: an adaptive threshold, a minimum hold, a refractory period, streaks and points.

Pure and deterministic: :class:`RewardController` is driven only by :class:`neurofb.types.Update`
records (time comes from ``Update.t``, never from the wall clock), so a replay of a recording
gives the same rewards as the live session did.

Rules
-----
- An update is **gated** when its ``focus`` is ``None`` (bad signal, artifact, warming up) or not
  finite. A gated update is never on target, never rewarded, and restarts the hold.
- An update is **on target** when ``focus >= threshold``.
- A **reward** fires on an on-target update once focus has been on target for ``min_hold_s``
  (counted from the first on-target update of the current run) and at least ``refractory_s`` has
  passed since the previous reward; holding on target gives a reward every ``refractory_s``.
- A **streak** is the number of rewards since focus last stayed off target (or gated) for more
  than ``streak_grace_s``. A reward is worth ``points_per_reward`` plus ``streak_bonus`` for each
  earlier reward of the streak, the bonus capped at ``max_streak_bonus``.
- The **adaptive threshold** keeps the fraction of valid time on target near ``target_rate``.
  After ``warmup_s`` of valid signal the threshold is set to the ``1 - target_rate`` quantile of
  the focus seen in the last ``adapt_window_s``; from then on it moves as a weighted up-down
  staircase (an integral controller of the on-target error)::

      d threshold / dt = adapt_rate * spread * (on_target - target_rate)

  where ``spread`` is the standard deviation of focus over the sliding window, so the speed
  follows the scale of the user's focus. In the long run the on-target fraction differs from the
  target by at most ``(threshold change) / (adapt_rate * spread * time)``.
- While paused nothing counts: no rewards, no time, no adaptation; the hold restarts.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from neurofb.recording.labels import blocks
from neurofb.types import Marker, Update

_EPS = 1e-9
#: Reward rates a user may choose (fraction of the time rewarded), inclusive.
TARGET_RATE_RANGE = (0.05, 0.95)
_DEFAULT_SPREAD = 0.1
_MIN_SPREAD = 0.02
#: How far the on-target rate may be from the target, with the threshold at a bound, before
#: the user is told the rate that was set cannot be kept (``FeedbackState.limit``).
LIMIT_SLACK = 0.15


@dataclass(frozen=True)
class RewardConfig:
    """Settings of the reward logic.

    Parameters
    ----------
    target_rate : float
        Fraction of valid time the adaptive threshold aims to keep focus on target, in (0, 1).
    initial_threshold : float
        Threshold before the adaptation has warmed up (focus units, 0–1).
    adaptive : bool
        Adapt the threshold; when False it stays at ``initial_threshold``.
    adapt_window_s : float
        Length of the sliding window (seconds) of the warm-up quantile, the focus spread and
        ``FeedbackState.window_rate``.
    adapt_rate : float
        Staircase speed, per second, in units of the focus spread.
    warmup_s : float
        Seconds of valid signal before the threshold jumps to the window quantile (0: never
        jump, adapt by the staircase from the start).
    min_hold_s : float
        Focus must stay on target this long (seconds) before a reward.
    refractory_s : float
        Minimum time between two rewards (seconds).
    streak_grace_s : float
        A streak survives focus off target (or gated) for up to this long (seconds).
    points_per_reward : int
        Points of a reward outside a streak.
    streak_bonus : int
        Extra points per earlier reward in the current streak.
    max_streak_bonus : int
        Cap of the streak bonus of one reward.
    streak_milestone : int
        Every this many rewards in a streak, the reward is flagged as a milestone (the app plays
        the streak tone); 0 disables milestones.
    threshold_bounds : tuple of float
        The threshold stays within ``[low, high]``.
    threshold_event_step : float
        A ``"threshold"`` event is emitted when the threshold has moved this much since the last
        one.
    max_gap_s : float
        Longest interval between two updates counted as session time (a longer gap, such as a
        reconnect, counts as this long).
    rewards : bool
        When False the controller only measures (calibration): no rewards, no adaptation, no
        events, and no time on target in the summary (no threshold was shown to be on).
    """

    target_rate: float = 0.65
    initial_threshold: float = 0.5
    adaptive: bool = True
    adapt_window_s: float = 30.0
    adapt_rate: float = 0.5
    warmup_s: float = 10.0
    min_hold_s: float = 0.5
    refractory_s: float = 1.5
    streak_grace_s: float = 1.0
    points_per_reward: int = 10
    streak_bonus: int = 2
    max_streak_bonus: int = 10
    streak_milestone: int = 5
    threshold_bounds: tuple[float, float] = (0.05, 0.95)
    threshold_event_step: float = 0.02
    max_gap_s: float = 1.0
    rewards: bool = True

    def __post_init__(self) -> None:
        lo, hi = TARGET_RATE_RANGE
        if not lo <= self.target_rate <= hi:
            raise ValueError(f"target_rate must be in [{lo}, {hi}], got {self.target_rate}")
        low, high = self.threshold_bounds
        if not 0 <= low < high <= 1:
            raise ValueError(
                f"threshold_bounds must satisfy 0 <= low < high <= 1, got {self.threshold_bounds}"
            )
        if not low <= self.initial_threshold <= high:
            raise ValueError(
                f"initial_threshold must be within threshold_bounds {self.threshold_bounds}, "
                f"got {self.initial_threshold}"
            )
        for name in ("adapt_window_s", "max_gap_s", "threshold_event_step"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        for name in ("adapt_rate", "warmup_s", "min_hold_s", "refractory_s", "streak_grace_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("points_per_reward", "streak_bonus", "max_streak_bonus", "streak_milestone"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")


@dataclass(frozen=True)
class FeedbackState:
    """What the reward logic decided for one update (what the app draws and plays).

    Parameters
    ----------
    t : float
        ``Update.t`` of the update, seconds since the stream started.
    focus : float or None
        Focus of the update, None when gated.
    quality, reason : float, str
        Signal quality (0–1) and why it is low, from the update.
    threshold : float
        Threshold this update's focus was compared with.
    next_threshold : float
        Threshold after this update's adaptation (what the next update is compared with).
    on_target, gated, paused : bool
        Whether focus was on target, the update was gated, the controller was paused.
    hold_s : float
        How long focus has been on target in the current run, seconds (0 when off target).
    reward : bool
        A reward fired on this update.
    points_awarded : int
        Points of this update's reward (0 without one).
    points, rewards : int
        Totals so far.
    streak, longest_streak : int
        Rewards in the current streak; the longest streak so far.
    milestone : bool
        This reward brought the streak to a multiple of ``streak_milestone``.
    time_on_target_s, valid_s, elapsed_s : float
        Seconds on target, seconds of valid (ungated) signal, seconds of unpaused session time.
    window_rate : float or None
        Fraction of valid updates on target over the last ``adapt_window_s`` (None before any).
    limit : str
        Set when the threshold sits at one of its bounds and the on-target rate is far from
        the target (focus mostly below the lowest threshold, or above the highest): what the
        user is told, because the adaptation cannot keep the reward rate that was set.
    events : tuple of Marker
        Markers to record for this update: ``"reward"`` (value = points awarded, label
        ``"milestone"`` on a milestone) and ``"threshold"`` (value = new threshold).
    """

    t: float
    focus: float | None
    quality: float
    reason: str
    threshold: float
    next_threshold: float
    on_target: bool
    gated: bool
    paused: bool
    hold_s: float
    reward: bool
    points_awarded: int
    points: int
    rewards: int
    streak: int
    longest_streak: int
    milestone: bool
    time_on_target_s: float
    valid_s: float
    elapsed_s: float
    window_rate: float | None
    events: tuple[Marker, ...] = ()
    limit: str = ""


@dataclass(frozen=True)
class BlockSummary:
    """Statistics of one labelled block (``start_t``/``end_t`` in stream seconds)."""

    label: str
    start_t: float
    end_t: float
    duration_s: float
    valid_s: float
    gated_s: float
    time_on_target_s: float
    on_target_fraction: float | None
    gated_fraction: float | None
    mean_focus: float | None
    mean_quality: float | None
    rewards: int


@dataclass(frozen=True)
class FeedbackSummary:
    """The end-of-session summary.

    Times are seconds of unpaused session time; fractions are of valid time (``on_target``) or
    of session time (``gated``); means are over updates. ``minutes`` holds the mean focus of each
    minute of session time (None for a minute without valid signal). Without rewards
    (``RewardConfig.rewards`` False: a calibration) nothing is on target: ``time_on_target_s``
    is 0 and ``on_target_fraction`` None, for the session and each block.
    """

    duration_s: float
    paused_s: float
    valid_s: float
    gated_s: float
    gated_fraction: float | None
    time_on_target_s: float
    on_target_fraction: float | None
    rewards: int
    points: int
    longest_streak: int
    mean_focus: float | None
    mean_quality: float | None
    threshold_start: float
    threshold_end: float
    target_rate: float
    blocks: tuple[BlockSummary, ...] = ()
    minutes: tuple[float | None, ...] = ()

    def to_dict(self) -> dict:
        """Return the summary as plain JSON-serialisable types."""
        out = asdict(self)
        out["blocks"] = [asdict(b) for b in self.blocks]
        out["minutes"] = list(self.minutes)
        return out


class _History:
    """Per-update records of the unpaused steps, for the summary (a few floats per update)."""

    def __init__(self) -> None:
        self.t: list[float] = []
        self.dt: list[float] = []
        self.focus: list[float] = []  # NaN when gated
        self.quality: list[float] = []
        self.on: list[bool] = []
        self.reward: list[bool] = []

    def add(
        self, t: float, dt: float, focus: float | None, quality: float, on: bool, reward: bool
    ) -> None:
        self.t.append(t)
        self.dt.append(dt)
        self.focus.append(math.nan if focus is None else focus)
        self.quality.append(quality)
        self.on.append(on)
        self.reward.append(reward)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "t": np.asarray(self.t, dtype=float),
            "dt": np.asarray(self.dt, dtype=float),
            "focus": np.asarray(self.focus, dtype=float),
            "quality": np.asarray(self.quality, dtype=float),
            "on": np.asarray(self.on, dtype=bool),
            "reward": np.asarray(self.reward, dtype=bool),
        }


def _stretch(h: dict[str, np.ndarray], sel: np.ndarray, rewarded: bool) -> dict:
    """Statistics of the selected updates of a history (``sel``: boolean mask); without
    rewards (``rewarded`` False: no threshold was shown) nothing was on target."""
    dt, focus = h["dt"][sel], h["focus"][sel]
    valid = np.isfinite(focus)
    total_s, valid_s = float(dt.sum()), float(dt[valid].sum())
    on_s = float(dt[h["on"][sel]].sum()) if rewarded else 0.0
    return {
        "duration_s": total_s,
        "valid_s": valid_s,
        "gated_s": total_s - valid_s,
        "time_on_target_s": on_s,
        "on_target_fraction": _ratio(on_s, valid_s) if rewarded else None,
        "gated_fraction": _ratio(total_s - valid_s, total_s),
        "mean_focus": float(focus[valid].mean()) if valid.any() else None,
        "mean_quality": float(h["quality"][sel].mean()) if sel.any() else None,
        "rewards": int(h["reward"][sel].sum()),
    }


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


@dataclass
class _Window:
    """Valid updates of the last ``length_s`` seconds: (t, on_target, focus)."""

    length_s: float
    items: deque = field(default_factory=deque)

    def add(self, t: float, on: bool, focus: float) -> None:
        self.items.append((t, on, focus))
        while self.items and self.items[0][0] <= t - self.length_s:
            self.items.popleft()

    def rate(self) -> float | None:
        if not self.items:
            return None
        return sum(1 for _, on, _ in self.items if on) / len(self.items)

    def focus(self) -> np.ndarray:
        return np.fromiter((f for _, _, f in self.items), dtype=float, count=len(self.items))


class RewardController:
    """Turn pipeline updates into rewards: adaptive threshold, hold, refractory, streaks, points.

    Parameters
    ----------
    config : RewardConfig
        The rules (see the module docstring).

    Examples
    --------
    >>> ctl = RewardController(RewardConfig(target_rate=0.6))
    >>> state = ctl.step(update)          # doctest: +SKIP
    >>> if state.reward: play_chime()     # doctest: +SKIP
    """

    def __init__(self, config: RewardConfig | None = None) -> None:
        self.config = config if config is not None else RewardConfig()
        self._threshold = float(self.config.initial_threshold)
        self._warm = not (self.config.adaptive and self.config.warmup_s > 0)
        self._paused = False
        self._last_t: float | None = None
        self._hold_start: float | None = None
        self._off_s = 0.0
        self._last_reward_t: float | None = None
        self._points = 0
        self._rewards = 0
        self._streak = 0
        self._longest = 0
        self._paused_s = 0.0
        self._emitted_threshold: float | None = None
        self._window = _Window(self.config.adapt_window_s)
        self._history = _History()
        self._elapsed_s = 0.0
        self._valid_s = 0.0
        self._on_s = 0.0
        self._threshold_start: float | None = None

    # -- control -------------------------------------------------------------------------
    @property
    def threshold(self) -> float:
        """The current threshold (focus units)."""
        return self._threshold

    @property
    def paused(self) -> bool:
        """Whether the controller is paused."""
        return self._paused

    def pause(self) -> None:
        """Stop counting: no rewards, no session time, no adaptation until :meth:`resume`."""
        self._paused = True
        self._hold_start = None

    def resume(self) -> None:
        """Count again after :meth:`pause` (the hold starts afresh)."""
        self._paused = False
        self._hold_start = None

    def set_target_rate(self, target_rate: float) -> None:
        """Change the target on-target fraction, in (0, 1), from the next update on."""
        self.config = replace(self.config, target_rate=target_rate)

    def set_threshold(self, threshold: float) -> None:
        """Set the threshold by hand (it keeps adapting if ``config.adaptive``)."""
        low, high = self.config.threshold_bounds
        if not low <= threshold <= high:
            raise ValueError(
                f"threshold must be within {self.config.threshold_bounds}, got {threshold}"
            )
        self._threshold = float(threshold)
        self._warm = True

    # -- the step ------------------------------------------------------------------------
    def step(self, update: Update) -> FeedbackState:
        """Process one pipeline update and return what was decided.

        Parameters
        ----------
        update : Update
            The next pipeline update; ``t`` must not go backwards.
        """
        cfg = self.config
        t = float(update.t)
        if self._last_t is not None and t < self._last_t - _EPS:
            raise ValueError(
                f"updates must arrive in time order: got t={t:.3f} s after t={self._last_t:.3f} s"
                " (start a new RewardController for a new stream)"
            )
        dt = 0.0 if self._last_t is None else min(max(t - self._last_t, 0.0), cfg.max_gap_s)
        self._last_t = t
        focus = update.focus
        gated = focus is None or not math.isfinite(focus)
        focus = None if gated else float(focus)
        threshold = self._threshold
        if self._paused:
            self._paused_s += dt
            return self._state(update, t, focus, threshold, gated=gated, paused=True)
        if self._threshold_start is None:
            self._threshold_start = threshold

        on = focus is not None and focus >= threshold
        events: list[Marker] = []
        if cfg.rewards and self._emitted_threshold is None:
            events.append(self._threshold_event(t))
        reward, awarded, milestone = False, 0, False
        if on:
            self._off_s = 0.0
            if self._hold_start is None:
                self._hold_start = t
            held = t - self._hold_start
            since = math.inf if self._last_reward_t is None else t - self._last_reward_t
            if cfg.rewards and held >= cfg.min_hold_s - _EPS and since >= cfg.refractory_s - _EPS:
                reward = True
                awarded, milestone = self._reward(t)
                events.append(Marker(t, "reward", "milestone" if milestone else "", float(awarded)))
        else:
            self._hold_start = None
            self._off_s += dt
            if self._off_s > cfg.streak_grace_s + _EPS:
                self._streak = 0

        self._history.add(t, dt, focus, float(update.quality), on, reward)
        self._elapsed_s += dt
        if focus is not None:
            self._valid_s += dt
            self._on_s += dt if on else 0.0
            self._window.add(t, on, focus)
            if cfg.rewards and cfg.adaptive:
                self._adapt(on, dt)
                last = self._emitted_threshold
                if last is None or abs(self._threshold - last) >= cfg.threshold_event_step - _EPS:
                    events.append(self._threshold_event(t))
        return self._state(
            update, t, focus, threshold, gated=gated, paused=False, on=on, reward=reward,
            awarded=awarded, milestone=milestone, events=tuple(events),
        )

    def _reward(self, t: float) -> tuple[int, bool]:
        cfg = self.config
        bonus = min(cfg.streak_bonus * self._streak, cfg.max_streak_bonus)
        awarded = cfg.points_per_reward + bonus
        self._streak += 1
        self._longest = max(self._longest, self._streak)
        self._rewards += 1
        self._points += awarded
        self._last_reward_t = t
        milestone = cfg.streak_milestone > 0 and self._streak % cfg.streak_milestone == 0
        return awarded, milestone

    def _adapt(self, on: bool, dt: float) -> None:
        cfg = self.config
        values = self._window.focus()
        if not self._warm:
            if self._valid_s >= cfg.warmup_s - _EPS:
                self._threshold = float(np.quantile(values, 1.0 - cfg.target_rate))
                self._warm = True
        else:
            spread = float(values.std()) if values.size >= 2 else _DEFAULT_SPREAD
            spread = max(spread, _MIN_SPREAD)
            self._threshold += cfg.adapt_rate * spread * (float(on) - cfg.target_rate) * dt
        low, high = cfg.threshold_bounds
        self._threshold = min(max(self._threshold, low), high)

    def _threshold_event(self, t: float) -> Marker:
        self._emitted_threshold = self._threshold
        return Marker(t, "threshold", "", float(self._threshold))

    def _state(
        self, update: Update, t: float, focus: float | None, threshold: float, *, gated: bool,
        paused: bool, on: bool = False, reward: bool = False, awarded: int = 0,
        milestone: bool = False, events: tuple[Marker, ...] = (),
    ) -> FeedbackState:
        hold = 0.0 if self._hold_start is None else t - self._hold_start
        rate = self._window.rate()
        limit = ""
        if self._warm and self.config.rewards and rate is not None:
            cfg, (low, high) = self.config, self.config.threshold_bounds
            if self._threshold <= low + _EPS and rate < cfg.target_rate - LIMIT_SLACK:
                limit = (f"Rewards come less often than set: focus stays below the lowest "
                         f"threshold ({low:g}) much of the time.")
            elif self._threshold >= high - _EPS and rate > cfg.target_rate + LIMIT_SLACK:
                limit = (f"Rewards come more often than set: focus stays above the highest "
                         f"threshold ({high:g}) much of the time.")
        return FeedbackState(
            t=t,
            focus=focus,
            quality=float(update.quality),
            reason=update.reason,
            threshold=threshold,
            next_threshold=self._threshold,
            on_target=on,
            gated=gated,
            paused=paused,
            hold_s=hold,
            reward=reward,
            points_awarded=awarded,
            points=self._points,
            rewards=self._rewards,
            streak=self._streak,
            longest_streak=self._longest,
            milestone=milestone,
            time_on_target_s=self._on_s,
            valid_s=self._valid_s,
            elapsed_s=self._elapsed_s,
            window_rate=rate,
            limit=limit,
            events=events,
        )

    # -- summary -------------------------------------------------------------------------
    def summary(self, markers: Iterable[Marker] = ()) -> FeedbackSummary:
        """Return the session summary so far.

        Parameters
        ----------
        markers : iterable of Marker
            Markers of the session; each ``block_start``/``block_end`` pair (see
            :func:`neurofb.recording.labels.blocks`; a block still open ends at the last update)
            gets a
            :class:`BlockSummary` of the updates with ``start <= t < end``.
        """
        h = self._history.arrays()
        everything = _stretch(h, np.ones(h["t"].shape, dtype=bool), self.config.rewards)
        out_blocks = []
        if h["t"].size:
            last = float(h["t"][-1])
            for b in blocks(markers, end_s=last + 1.0):  # an open block takes the last update
                sel = (h["t"] >= b.start_s - _EPS) & (h["t"] < b.end_s - _EPS)
                out_blocks.append(
                    BlockSummary(label=b.label, start_t=b.start_s, end_t=min(b.end_s, last),
                                 **_stretch(h, sel, self.config.rewards))
                )
        valid = np.isfinite(h["focus"])
        minute = (np.cumsum(h["dt"]) // 60.0).astype(int)
        minutes = tuple(
            float(h["focus"][valid & (minute == m)].mean())
            if np.any(valid & (minute == m)) else None
            for m in range(int(minute.max()) + 1 if minute.size else 0)
        )
        del everything["rewards"]
        return FeedbackSummary(
            **everything,
            paused_s=self._paused_s,
            rewards=self._rewards,
            points=self._points,
            longest_streak=self._longest,
            threshold_start=(
                self._threshold_start if self._threshold_start is not None else self._threshold
            ),
            threshold_end=self._threshold,
            target_rate=self.config.target_rate,
            blocks=tuple(out_blocks),
            minutes=minutes,
        )
