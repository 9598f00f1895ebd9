"""Training exercises as small state machines: what the app must draw, never how.

Each exercise is stepped with the :class:`neurofb.practice.reward.FeedbackState` of every pipeline
update and returns a frozen *view* record (:class:`GaugeView`, :class:`RocketView`,
:class:`ClarityView`, :class:`CalibrationView`) holding everything its Qt view draws, plus the
markers to record for that step. Time comes from the updates (``FeedbackState.t``): paused steps
do not advance an exercise, and the same updates always give the same views.

Every exercise emits ``Marker(t, "block_start", name)`` on its first step and
``Marker(t, "block_end", name)`` when its duration is up (or :meth:`Exercise.finish` is called).
The calibration exercise (:mod:`neurofb.practice.calibration`) also emits
``block_start``/``block_end`` markers labelled ``"rest"`` and ``"task"`` around its guided blocks:
the training labels of
:mod:`neurofb.recording.labels`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from neurofb.practice.calibration import Calibration, CalibrationView
from neurofb.practice.exercise import Exercise, ExerciseView, Flash
from neurofb.practice.reward import FeedbackState
from neurofb.types import Marker

__all__ = [
    "EXERCISES",
    "Calibration",
    "CalibrationView",
    "Clarity",
    "ClarityView",
    "Exercise",
    "ExerciseInfo",
    "ExerciseView",
    "FocusGauge",
    "GaugeView",
    "Rocket",
    "RocketView",
    "make_exercise",
]


@dataclass(frozen=True)
class GaugeView(ExerciseView):
    """Focus gauge: a meter with the threshold line.

    ``on_target`` lights the meter; ``hold_fraction`` (0–1) is how far the current hold is
    towards ``min_hold_s``; ``flash`` (0–1) is the reward flash, 1 on a reward step then fading
    over ``flash_s``; ``reward``/``milestone`` play the reward/streak tones; ``points`` is the
    session's total, ``points_awarded`` what this step's reward added to it.
    """

    on_target: bool
    hold_fraction: float
    flash: float
    reward: bool
    milestone: bool
    points: int
    rewards: int
    streak: int
    points_awarded: int


@dataclass(frozen=True)
class RocketView(ExerciseView):
    """Rocket: ``altitude`` in [0, 1] (1 = top of the sky), ``velocity`` per second,
    ``thrust`` (flame on: focus on target), ``stars`` collected (one per reward), ``new_star`` on
    a reward step, ``best_altitude`` so far."""

    altitude: float
    velocity: float
    thrust: bool
    stars: int
    new_star: bool
    best_altitude: float
    points: int
    streak: int
    reward: bool
    milestone: bool


@dataclass(frozen=True)
class ClarityView(ExerciseView):
    """Clarity: ``clarity`` in [0, 1] (0 = blurred and dim, 1 = sharp and bright), the smoothed
    follower of ``target`` (focus relative to the threshold); ``blur`` = 1 - clarity;
    ``brightness`` in [``min_brightness``, 1]; ``flash`` (0–1) on rewards."""

    clarity: float
    target: float
    blur: float
    brightness: float
    flash: float
    reward: bool
    milestone: bool
    points: int

class FocusGauge(Exercise):
    """Keep the meter above the threshold: a reward tone and points while you hold it.

    Parameters
    ----------
    duration_s : float or None
        Session length in seconds (None: until finished).
    min_hold_s : float
        The hold time of the reward rules, for ``hold_fraction`` (seconds).
    flash_s : float
        How long the reward flash lasts (seconds).
    """

    name = "gauge"
    title = "Focus gauge"
    description = "Keep the meter above the line. Hold it there for a chime and points."

    def __init__(
        self, *, duration_s: float | None = 300.0, min_hold_s: float = 0.5, flash_s: float = 0.8
    ) -> None:
        super().__init__(duration_s=duration_s)
        if min_hold_s < 0:
            raise ValueError(f"min_hold_s must be >= 0, got {min_hold_s}")
        self.min_hold_s = float(min_hold_s)
        self._flash = Flash(flash_s)

    def _view(self, fb: FeedbackState, markers: tuple[Marker, ...]) -> GaugeView:
        hold = 1.0 if self.min_hold_s == 0 else min(fb.hold_s / self.min_hold_s, 1.0)
        return GaugeView(
            **self._common(fb, markers), on_target=fb.on_target,
            hold_fraction=hold if fb.on_target else 0.0,
            flash=self._flash.update(fb, self.elapsed_s), reward=fb.reward,
            milestone=fb.milestone, points=fb.points, rewards=fb.rewards, streak=fb.streak,
            points_awarded=fb.points_awarded,
        )


class Rocket(Exercise):
    """A rocket that climbs while focus stays on target and sinks otherwise; stars are rewards.

    The vertical speed follows its target (``climb_per_s`` on target, ``-sink_per_s`` off
    target or gated) with time constant ``inertia_s``, and altitude stays in [0, 1].

    Parameters
    ----------
    duration_s : float or None
        Session length in seconds (None: until finished).
    climb_per_s, sink_per_s : float
        Climb and sink speeds, fractions of the sky per second.
    inertia_s : float
        Time constant of the speed, seconds (0: speed changes at once).
    """

    name = "rocket"
    title = "Rocket"
    description = "Fly the rocket up by staying focused; collect a star with every reward."

    def __init__(
        self, *, duration_s: float | None = 300.0, climb_per_s: float = 0.04,
        sink_per_s: float = 0.03, inertia_s: float = 0.6,
    ) -> None:
        super().__init__(duration_s=duration_s)
        for key, value in (("climb_per_s", climb_per_s), ("sink_per_s", sink_per_s)):
            if not value > 0:
                raise ValueError(f"{key} must be positive, got {value}")
        if inertia_s < 0:
            raise ValueError(f"inertia_s must be >= 0, got {inertia_s}")
        self.climb_per_s = float(climb_per_s)
        self.sink_per_s = float(sink_per_s)
        self.inertia_s = float(inertia_s)
        self.altitude = 0.0
        self.velocity = 0.0
        self.best_altitude = 0.0
        self.stars = 0

    def _advance(self, fb: FeedbackState, e0: float, e1: float) -> list[Marker]:
        self.stars += int(fb.reward)
        dt = e1 - e0
        if dt <= 0:
            return []
        target = self.climb_per_s if fb.on_target else -self.sink_per_s
        alpha = 1.0 if self.inertia_s == 0 else 1.0 - math.exp(-dt / self.inertia_s)
        self.velocity += alpha * (target - self.velocity)
        self.altitude += self.velocity * dt
        if self.altitude <= 0.0 or self.altitude >= 1.0:
            self.altitude = min(max(self.altitude, 0.0), 1.0)
            self.velocity = 0.0
        self.best_altitude = max(self.best_altitude, self.altitude)
        return []

    def _view(self, fb: FeedbackState, markers: tuple[Marker, ...]) -> RocketView:
        return RocketView(
            **self._common(fb, markers), altitude=self.altitude, velocity=self.velocity,
            thrust=fb.on_target and not fb.paused, stars=self.stars, new_star=fb.reward,
            best_altitude=self.best_altitude, points=fb.points, streak=fb.streak,
            reward=fb.reward, milestone=fb.milestone,
        )


class Clarity(Exercise):
    """An image that sharpens and brightens as focus rises and fades as it drops.

    The target clarity is a logistic function of how far focus is above the threshold (0.5 at
    the threshold; 0 when gated); clarity follows it with time constants ``rise_s`` (sharpening)
    and ``fall_s`` (fading).

    Parameters
    ----------
    duration_s : float or None
        Session length in seconds (None: until finished).
    softness : float
        Focus distance from the threshold over which the target goes from 27 % to 73 %.
    rise_s, fall_s : float
        Time constants of sharpening and fading, seconds.
    min_brightness : float
        Brightness at clarity 0 (1 at clarity 1).
    flash_s : float
        How long the reward flash lasts (seconds).
    """

    name = "clarity"
    title = "Clarity"
    description = "A blurred scene comes into focus as your attention rises and fades as it drifts."

    def __init__(
        self, *, duration_s: float | None = 300.0, softness: float = 0.05, rise_s: float = 1.5,
        fall_s: float = 3.0, min_brightness: float = 0.35, flash_s: float = 0.8,
    ) -> None:
        super().__init__(duration_s=duration_s)
        for key, value in (("softness", softness), ("rise_s", rise_s), ("fall_s", fall_s)):
            if not value > 0:
                raise ValueError(f"{key} must be positive, got {value}")
        if not 0 <= min_brightness <= 1:
            raise ValueError(f"min_brightness must be in [0, 1], got {min_brightness}")
        self.softness = float(softness)
        self.rise_s = float(rise_s)
        self.fall_s = float(fall_s)
        self.min_brightness = float(min_brightness)
        self.clarity = 0.0
        self.target = 0.0
        self._flash = Flash(flash_s)

    def _advance(self, fb: FeedbackState, e0: float, e1: float) -> list[Marker]:
        dt = e1 - e0
        if fb.focus is None:
            self.target = 0.0
        else:
            z = (fb.focus - fb.threshold) / self.softness
            self.target = 1.0 / (1.0 + math.exp(-min(max(z, -50.0), 50.0)))
        if dt > 0:
            tau = self.rise_s if self.target > self.clarity else self.fall_s
            self.clarity += (1.0 - math.exp(-dt / tau)) * (self.target - self.clarity)
            self.clarity = min(max(self.clarity, 0.0), 1.0)
        return []

    def _view(self, fb: FeedbackState, markers: tuple[Marker, ...]) -> ClarityView:
        return ClarityView(
            **self._common(fb, markers), clarity=self.clarity, target=self.target,
            blur=1.0 - self.clarity,
            brightness=self.min_brightness + (1.0 - self.min_brightness) * self.clarity,
            flash=self._flash.update(fb, self.elapsed_s), reward=fb.reward,
            milestone=fb.milestone, points=fb.points,
        )

@dataclass(frozen=True)
class ExerciseInfo:
    """An entry of the exercise picker.

    ``factory`` is the exercise class, ``options`` the keyword options it takes,
    ``uses_feedback`` whether it gives rewards, ``duration_s`` its default length in seconds.
    """

    name: str
    title: str
    description: str
    factory: type[Exercise]
    options: tuple[str, ...]
    uses_feedback: bool
    duration_s: float | None


def _info(cls: type[Exercise], options: tuple[str, ...]) -> ExerciseInfo:
    return ExerciseInfo(
        cls.name, cls.title, cls.description, cls, options, cls.uses_feedback,
        cls().duration_s,
    )


#: The exercises the app offers, by name.
EXERCISES: dict[str, ExerciseInfo] = {
    "gauge": _info(FocusGauge, ("duration_s", "min_hold_s", "flash_s")),
    "rocket": _info(Rocket, ("duration_s", "climb_per_s", "sink_per_s", "inertia_s")),
    "clarity": _info(
        Clarity, ("duration_s", "softness", "rise_s", "fall_s", "min_brightness", "flash_s")
    ),
    "calibration": _info(Calibration, ("blocks", "block_s", "ready_s", "seed")),
}


def make_exercise(name: str, **options: object) -> Exercise:
    """Create the exercise ``name`` (a key of :data:`EXERCISES`) with keyword options.

    Raises
    ------
    ValueError
        For an unknown name or an option the exercise does not take (the message lists the
        valid ones).
    """
    info = EXERCISES.get(name)
    if info is None:
        raise ValueError(f"unknown exercise {name!r}; choose one of {', '.join(EXERCISES)}")
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        raise ValueError(
            f"exercise {name!r} does not take {', '.join(unknown)}; "
            f"its options are {', '.join(info.options)}"
        )
    return info.factory(**options)
