"""Attention practice: reward logic, exercises as state machines, practice sessions, tones.

Pure logic driven by :class:`~neurofb.types.Update` objects, with no drawing (the app only draws
the states these produce):

- :class:`~neurofb.practice.reward.RewardController`: adaptive threshold, hold, refractory,
  streaks and points; gated updates never reward.
- :mod:`~neurofb.practice.exercises`: the focus gauge, the rocket, the clarity scene and the
  calibration blocks (:mod:`~neurofb.practice.calibration`), each a small state machine.
- :class:`~neurofb.practice.session.PracticeSession`: ties a stream, the reward logic, an
  exercise and the markers together and summarises the session; in baseline mode it starts
  with the guided rest (:class:`~neurofb.practice.rest.RestBaseline`).
- :mod:`~neurofb.practice.tones`: the reward sounds, synthesised.
"""

from neurofb.practice.calibration import Calibration, CalibrationView
from neurofb.practice.exercise import Exercise, ExerciseView
from neurofb.practice.exercises import EXERCISES, make_exercise
from neurofb.practice.rest import RestBaseline, RestView
from neurofb.practice.reward import FeedbackState, FeedbackSummary, RewardConfig, RewardController
from neurofb.practice.session import PracticeSession, SessionStep

__all__ = [
    "EXERCISES",
    "Calibration",
    "CalibrationView",
    "Exercise",
    "ExerciseView",
    "FeedbackState",
    "FeedbackSummary",
    "PracticeSession",
    "RestBaseline",
    "RestView",
    "RewardConfig",
    "RewardController",
    "SessionStep",
    "make_exercise",
]
