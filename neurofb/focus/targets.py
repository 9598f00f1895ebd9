"""Choose a focus target by name: the attention model or a band-power target."""

from __future__ import annotations

import os

from neurofb.errors import ModelError
from neurofb.focus.bandpower import PRESETS, BandPowerEstimator
from neurofb.focus.base import Estimator

#: Every target a user can choose, with a one-line description (for ``--help``).
TARGETS: dict[str, str] = {
    "model": "the trained attention model's focus (1 = engaged in a demanding task); with "
             "--baseline 60, re-centred on the first 60 s of rest",
    "engagement": "engagement index beta/(alpha+theta), up",
    "tbr": "theta/beta ratio, down",
    "smr": "relative SMR (12-15 Hz) power, up",
    "alpha": "relative alpha (8-13 Hz) power, up",
    "band:EXPR[@CH,...][:down]": (
        "any band or ratio of band sums on chosen channels, e.g. band:beta/theta@Fz,Cz, "
        "band:alpha@O1,O2, band:theta/beta@Cz:down"
    ),
}


def targets_help() -> str:
    """The targets as one paragraph for an argparse help string."""
    return "; ".join(f"{name}: {text}" for name, text in TARGETS.items())


def make_estimator(
    spec: str,
    *,
    model_dir: str | os.PathLike | None = None,
    baseline_s: float = 10.0,
    model_baseline_s: float = 0.0,
) -> Estimator:
    """Build the estimator for a target.

    Parameters
    ----------
    spec : str
        ``"model"``, ``"engagement"``, ``"tbr"``, ``"smr"``, ``"alpha"`` or ``"band:…"``
        (see :data:`TARGETS`).
    model_dir : path-like, optional
        Model folder for ``"model"`` (default: the shipped model).
    baseline_s : float
        Baseline length in seconds for band-power targets.
    model_baseline_s : float
        The attention model's baseline mode: the first ``model_baseline_s`` seconds of the
        stream are rest (0: cold mode).

    Raises
    ------
    neurofb.errors.ModelError
        When the target is unknown or the attention model is not available.
    """
    name = spec.strip()
    if name.lower() == "model":
        try:
            from neurofb.focus.neural import load_estimator
        except ModuleNotFoundError as err:
            if err.name not in ("neurofb.focus.neural",):
                raise
            raise ModelError(
                "the attention model is not available; use --target engagement"
            ) from err
        from neurofb.paths import default_model_dir

        return load_estimator(model_dir if model_dir is not None else default_model_dir(),
                              baseline_s=model_baseline_s)
    if name.lower() in PRESETS or name.lower().startswith("band:"):
        return BandPowerEstimator(name, baseline_s=baseline_s)
    raise ModelError(
        f"unknown target {spec!r}; choose one of: {', '.join(TARGETS)}"
    )
