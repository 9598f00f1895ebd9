"""Electrode names of the 10-20 / 10-10 systems: aliases, 3-D positions and headset presets.

Names are matched case-insensitively after stripping the decorations EDF files and boards put
around them (``"EEG Fp1"``, ``"FP1-REF"``, ``"C3-A1"``); the old 10-20 names map to the new ones
(T3 = T7, T4 = T8, T5 = P7, T6 = P8). Positions come from MNE's ``standard_1005`` template, in
metres, head coordinates (x right, y front, z up), stored in ``electrodes_1005.json`` (made by
:func:`mne_template_positions`; a test checks it equals MNE's) so that binding a stream needs no
MNE import.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from neurofb.errors import ChannelError

#: Old 10-20 names and their 10-10 equivalents.
ALIASES: dict[str, str] = {"T3": "T7", "T4": "T8", "T5": "P7", "T6": "P8"}

_ALIAS_UP = frozenset(k.upper() for k in ALIASES)

#: Reference and fiducial sites: positions that are never a scalp EEG channel.
NOT_SCALP: frozenset[str] = frozenset({"A1", "A2", "M1", "M2", "NZ", "LPA", "RPA", "INION"})

#: Headset presets: the electrodes each one has, in its channel order.
PRESETS: dict[str, tuple[str, ...]] = {
    # The 19 channels of the eegmat clinical cap (old names T3..T6 written in 10-10).
    "full": (
        "Fp1", "Fp2", "F3", "F4", "F7", "F8", "T7", "T8", "C3", "C4",
        "P7", "P8", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz",
    ),
    # OpenBCI Cyton's default 8-channel layout (BrainFlow's CYTON_BOARD EEG names).
    "cyton": ("Fp1", "Fp2", "C3", "C4", "P7", "P8", "O1", "O2"),
    # Muse 2 / Muse S (BrainFlow's MUSE_S_BOARD EEG names).
    "muse": ("TP9", "AF7", "AF8", "TP10"),
    # BrainFlow's SYNTHETIC_BOARD EEG names (BoardShim.get_eeg_names).
    "synthetic": (
        "Fz", "C3", "Cz", "C4", "Pz", "PO7", "Oz", "PO8",
        "F5", "F7", "F3", "F1", "F2", "F4", "F6", "F8",
    ),
}

#: Fewest known electrodes a model can work with.
MIN_CHANNELS = 3

_PREFIX = re.compile(r"^(EEG|EXG|EOG)[\s_:-]+", re.IGNORECASE)
_SUFFIX = re.compile(r"[\s_]*-\s*(REF|A1|A2|M1|M2|LE|AR|AVG|CAR|LINKED)$", re.IGNORECASE)


#: The stored 10-05 template positions.
TEMPLATE_FILE = Path(__file__).with_name("electrodes_1005.json")


def mne_template_positions() -> dict[str, list[float]]:
    """Electrode name → position (m) of MNE's 10-05 template, as MNE makes it.

    MNE 1.13 renamed ``standard_1005`` to ``colin27_1005`` (same positions); use whichever this
    MNE has.
    """
    import mne

    kind = "colin27_1005"
    if kind not in mne.channels.get_builtin_montages():
        kind = "standard_1005"
    pos = mne.channels.make_standard_montage(kind).get_positions()["ch_pos"]
    return {name: [float(v) for v in xyz] for name, xyz in pos.items()}


@lru_cache(maxsize=1)
def _montage_positions() -> dict[str, np.ndarray]:
    """Electrode name → position (m) of the 10-05 template (stored; MNE's if the file is gone)."""
    try:
        stored = json.loads(TEMPLATE_FILE.read_text(encoding="utf-8"))["positions"]
    except (OSError, ValueError, KeyError):
        stored = mne_template_positions()
    return {name: np.asarray(xyz, dtype=np.float64) for name, xyz in stored.items()}


@lru_cache(maxsize=1)
def _template() -> dict[str, np.ndarray]:
    """Upper-cased electrode name → position (m)."""
    return {name.upper(): xyz for name, xyz in _montage_positions().items()}


@lru_cache(maxsize=1)
def _canonical() -> dict[str, str]:
    """Upper-cased name → the template's spelling (``"FP1"`` → ``"Fp1"``)."""
    return {name.upper(): name for name in _montage_positions()}


def normalise_name(name: str) -> str | None:
    """Return the canonical 10-10 name of a channel label, or None when it is not an electrode.

    Parameters
    ----------
    name : str
        A channel label as a board or file writes it, e.g. ``"EEG Fp1"``, ``"FP1-REF"``,
        ``"t3"``, ``"C3-A1"``.

    Returns
    -------
    str or None
        The template's spelling (``"Fp1"``, ``"T7"``), or None for anything that is not a scalp
        electrode of the 10-05 system (``"ECG"``, ``"A2-A1"``, ``"AUX1"``).
    """
    label = label_key(name)
    if label in NOT_SCALP:
        return None
    return _canonical().get(label)


def label_key(name: str) -> str:
    """A channel label without its decorations, upper-cased, old 10-20 names made 10-10.

    ``"EEG Fp1"``, ``"FP1-REF"`` and ``"fp1"`` all give ``"FP1"``; ``"T3"`` gives ``"T7"``.
    Labels that are not electrodes are kept (``"EEG1"``, ``"AUX1"``). Cheap (no MNE): used to
    match channel names a user typed against a stream's.
    """
    if not isinstance(name, str):
        raise ValueError(f"channel name must be a string, got {type(name).__name__}")
    label = _PREFIX.sub("", name.strip())
    label = _SUFFIX.sub("", label).strip().upper()
    return ALIASES.get(label.capitalize(), label).upper() if label in _ALIAS_UP else label


def positions(names: Sequence[str]) -> np.ndarray:
    """Return the 3-D positions of electrodes, in metres (head coordinates).

    Parameters
    ----------
    names : sequence of str
        Electrode names (any spelling :func:`normalise_name` accepts).

    Returns
    -------
    array, shape (n_channels, 3)
        x (right), y (front), z (up) in metres, from MNE's ``standard_1005`` template.

    Raises
    ------
    ChannelError
        When a name is not a known electrode.
    """
    out = np.empty((len(names), 3), dtype=np.float64)
    for i, name in enumerate(names):
        canon = normalise_name(name)
        if canon is None:
            raise ChannelError(
                f"{name!r} is not a 10-20/10-10 electrode name; rename the channel "
                f"(e.g. 'Fp1', 'C3', 'T7') or leave it out"
            )
        out[i] = _template()[canon.upper()]
    return out


def match(
    names: Sequence[str], *, min_channels: int = MIN_CHANNELS
) -> tuple[tuple[str, ...], np.ndarray, tuple[str, ...]]:
    """Find the known electrodes among a stream's channels.

    Parameters
    ----------
    names : sequence of str
        The stream's channel names, in its order.
    min_channels : int
        Fewest known electrodes required.

    Returns
    -------
    known : tuple of str
        Canonical names of the known electrodes, in stream order.
    indices : array of int, shape (n_known,)
        Their indices in ``names``.
    unknown : tuple of str
        The names that are not electrodes.

    Raises
    ------
    ChannelError
        When fewer than ``min_channels`` electrodes are known, or two channels name the same
        electrode (``"T3"`` and ``"T7"``, ``"Cz"`` and ``"CZ"``): which one is there is not
        known, and the model would read one at the other's place.
    """
    if min_channels < 1:
        raise ValueError(f"min_channels must be >= 1, got {min_channels}")
    known: list[str] = []
    idx: list[int] = []
    unknown: list[str] = []
    for i, name in enumerate(names):
        canon = normalise_name(name)
        if canon is None:
            unknown.append(name)
        elif canon in known:
            first = names[idx[known.index(canon)]]
            raise ChannelError(
                f"channels {first!r} and {name!r} both name electrode {canon}: each electrode "
                "needs one channel (check the channel names or --montage)")
        else:
            known.append(canon)
            idx.append(i)
    if len(known) < min_channels:
        raise ChannelError(
            f"only {len(known)} known 10-20/10-10 electrode(s) among the channels "
            f"{list(names)} (found {known}); the focus model needs at least {min_channels}. "
            f"Name the channels by electrode (e.g. 'Fp1', 'C3', 'O1') or use a band-power target"
        )
    return tuple(known), np.asarray(idx, dtype=np.int64), tuple(unknown)


def preset(name: str) -> tuple[str, ...]:
    """Return the electrodes of a headset preset (``full``, ``cyton``, ``muse``, ``synthetic``)."""
    try:
        return PRESETS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown montage preset {name!r}; choose one of {sorted(PRESETS)}"
        ) from None


def nearest(targets: Sequence[str], available: Sequence[str]) -> tuple[str, ...]:
    """For each target electrode, the nearest electrode among ``available`` (by 3-D distance).

    Used to evaluate a headset's layout on data recorded with another cap: e.g. Muse's TP9 /
    AF7 / AF8 / TP10 on the 19-channel eegmat cap become T7 / Fp1 / Fp2 / T8.

    Parameters
    ----------
    targets, available : sequence of str
        Electrode names.

    Returns
    -------
    tuple of str
        Canonical names from ``available``, one per target, without repeats.
    """
    avail = [normalise_name(a) for a in available]
    avail = [a for a in avail if a is not None]
    if not avail:
        raise ChannelError(f"no known electrodes among {list(available)}")
    pa = positions(avail)
    out: list[str] = []
    for pt in positions(targets):
        for j in np.argsort(np.linalg.norm(pa - pt, axis=1)):
            if avail[j] not in out:
                out.append(avail[j])
                break
    return tuple(out)


def montage_names(spec: str, n_channels: int) -> tuple[str, ...]:
    """Channel names a montage spec gives ``n_channels`` channels.

    For streams and files that name no electrodes (the OpenBCI GUI's files and LSL stream).

    Parameters
    ----------
    spec : str
        A preset (:data:`PRESETS`: ``cyton``, ``muse``, …), a BrainFlow board name (its
        default EEG names: ``cyton_daisy``, ``ganglion``, …), or names separated by commas
        (``"Fz,Cz,Pz,Oz"``).
    n_channels : int
        How many channels the names are for.

    Raises
    ------
    ChannelError
        An unknown spec, another number of names than channels, or a name given twice.
    """
    from neurofb import boards
    from neurofb.errors import BoardError

    text = spec.strip()
    if "," in text:
        names = tuple(n.strip() for n in text.split(",") if n.strip())
    elif text.lower() in PRESETS:
        names = PRESETS[text.lower()]
    else:
        try:
            names = boards.board_layout(text).eeg_names
        except BoardError:
            raise ChannelError(
                f"unknown montage {spec!r}: give a preset ({', '.join(sorted(PRESETS))}), a "
                "BrainFlow board name, or the channel names separated by commas"
            ) from None
    if len(names) != n_channels:
        raise ChannelError(f"montage {spec!r} names {len(names)} channels but the data has "
                           f"{n_channels}")  # fmt: skip
    if len(set(names)) != len(names):
        raise ChannelError(f"montage {spec!r} names a channel twice")
    return names
