"""The headset layouts a model is evaluated on: the electrodes of data standing for a headset.

``full`` is every electrode; ``cyton`` and ``muse`` are the electrodes of OpenBCI's Cyton and
of Muse headsets (:data:`neurofb.dsp.montage.PRESETS`), each replaced by the nearest electrode
the data has (on the 19-channel eegmat cap: Muse's TP9/AF7/AF8/TP10 become T7/Fp1/Fp2/T8).
"""

from __future__ import annotations

from collections.abc import Sequence

from neurofb.dsp import montage

#: The layouts every evaluation reports.
LAYOUTS = ("full", "cyton", "muse")


def layout_channels(ch_names: Sequence[str], name: str) -> tuple[str, ...]:
    """Electrodes of ``ch_names`` standing for a layout (nearest available electrode each).

    Raises
    ------
    ValueError
        An unknown layout.
    """
    if name == "full":
        return tuple(ch_names)
    return montage.nearest(montage.preset(name), ch_names)
