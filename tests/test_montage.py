"""Electrode names, aliases, positions and headset presets (against MNE and BrainFlow)."""

from __future__ import annotations

import numpy as np
import pytest

from neurofb.dsp import montage
from neurofb.errors import ChannelError

EEGMAT_NAMES = ["EEG Fp1", "EEG Fp2", "EEG F3", "EEG F4", "EEG F7", "EEG F8", "EEG T3", "EEG T4",
                "EEG C3", "EEG C4", "EEG T5", "EEG T6", "EEG P3", "EEG P4", "EEG O1", "EEG O2",
                "EEG Fz", "EEG Cz", "EEG Pz", "EEG A2-A1", "ECG ECG"]


@pytest.mark.parametrize(("raw", "canon"), [
    ("Fp1", "Fp1"), ("FP1", "Fp1"), ("fp1", "Fp1"), ("EEG Fp1", "Fp1"), ("FP1-REF", "Fp1"),
    ("C3-A1", "C3"), ("EEG C4-A2", "C4"), ("T3", "T7"), ("t4", "T8"), ("EEG T5", "P7"),
    ("T6", "P8"), ("TP9", "TP9"), ("af8", "AF8"), ("PO7", "PO7"), ("Oz", "Oz"),
])
def test_normalise_name_aliases_and_decorations(raw, canon):
    assert montage.normalise_name(raw) == canon


@pytest.mark.parametrize("raw", ["ECG ECG", "EEG A2-A1", "A1", "M2", "AUX1", "X", "", "Nz"])
def test_non_electrodes_are_none(raw):
    assert montage.normalise_name(raw) is None


def test_positions_come_from_mne_template():
    import mne

    kinds = mne.channels.get_builtin_montages()
    kind = "colin27_1005" if "colin27_1005" in kinds else "standard_1005"
    ref = mne.channels.make_standard_montage(kind).get_positions()["ch_pos"]
    pos = montage.positions(["Cz", "T3", "EEG O1"])
    np.testing.assert_allclose(pos[0], ref["Cz"])
    np.testing.assert_allclose(pos[1], ref["T7"])
    np.testing.assert_allclose(pos[2], ref["O1"])
    radius = np.linalg.norm(pos, axis=1)
    assert np.all((radius > 0.05) & (radius < 0.15)), radius


def test_positions_unknown_name_raises():
    with pytest.raises(ChannelError, match="ECG"):
        montage.positions(["Cz", "ECG"])


def test_match_eegmat_channels():
    known, idx, unknown = montage.match(EEGMAT_NAMES)
    assert len(known) == 19
    assert known[6:8] == ("T7", "T8") and known[10:12] == ("P7", "P8")
    assert list(idx) == list(range(19))
    assert unknown == ("EEG A2-A1", "ECG ECG")


@pytest.mark.parametrize("names", [["T3", "Cz", "T7", "Pz"], ["Fp1", "CZ", "Cz", "Pz"],
                                   ["Fp1", "cz ", "EEG Cz", "Pz"]])
def test_two_channels_naming_one_electrode_are_refused(names):
    with pytest.raises(ChannelError, match=r"both name electrode (T7|Cz)"):
        montage.match(names)


def test_too_few_known_electrodes_is_a_clear_error():
    with pytest.raises(ChannelError, match=r"only 2 known .* at least 3"):
        montage.match(["Fp1", "Cz", "AUX1", "AUX2"])
    with pytest.raises(ValueError):
        montage.match(["Cz"], min_channels=0)


@pytest.mark.parametrize(("preset", "board"), [
    ("cyton", "CYTON_BOARD"), ("muse", "MUSE_S_BOARD"), ("synthetic", "SYNTHETIC_BOARD")])
def test_presets_are_brainflow_board_names(preset, board):
    from brainflow.board_shim import BoardIds, BoardShim

    names = BoardShim.get_eeg_names(getattr(BoardIds, board).value)
    assert tuple(montage.normalise_name(n) for n in names) == montage.preset(preset)
    known, _, _ = montage.match(names)
    assert len(known) == len(names)


def test_full_preset_matches_eegmat():
    assert montage.match(EEGMAT_NAMES)[0] == montage.preset("full")
    with pytest.raises(ValueError, match="unknown montage preset"):
        montage.preset("emotiv")


def test_nearest_maps_muse_onto_the_clinical_cap():
    chosen = montage.nearest(montage.preset("muse"), montage.preset("full"))
    assert chosen == ("T7", "Fp1", "Fp2", "T8")
    # each choice is the closest available electrode
    full = montage.positions(montage.preset("full"))
    for target, got in zip(montage.preset("muse"), chosen, strict=True):
        d = np.linalg.norm(full - montage.positions([target])[0], axis=1)
        assert montage.preset("full")[int(np.argmin(d))] == got


def test_stored_template_is_mnes():
    from neurofb.dsp.montage import _montage_positions, mne_template_positions

    mne_pos = mne_template_positions()
    stored = _montage_positions()
    assert set(stored) == set(mne_pos) and len(stored) > 300
    for name, xyz in mne_pos.items():
        assert stored[name].tolist() == xyz  # the same doubles, bit for bit
