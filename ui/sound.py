"""Reward sounds through QtMultimedia, with volume and mute; silent where there is no audio.

The tones themselves come from the engine (:mod:`neurofb.practice.tones` renders them as WAV bytes);
this module only writes them to the user cache and plays them with :class:`QSoundEffect`.
When QtMultimedia cannot load (no audio library, as on a headless CI machine) or no audio
output device exists, the player logs one clear line, every call becomes a no-op, and
:attr:`SoundPlayer.notice` says why for the pages to show beside their sound controls.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

from PyQt6.QtCore import QObject, QUrl
from PyQt6.QtWidgets import QLabel, QWidget

from neurofb import paths

log = logging.getLogger(__name__)


def _multimedia() -> tuple[object, object] | str:
    """QtMultimedia's sound effect and device classes, or why they cannot load."""
    try:
        from PyQt6.QtMultimedia import QMediaDevices, QSoundEffect
    except ImportError as err:
        log.warning("sound disabled: QtMultimedia cannot load (%s); feedback stays visual", err)
        library, missing, _ = str(err).partition(": cannot open shared object file")
        return f"audio library {library} is missing" if missing else (
            f"QtMultimedia cannot load ({err})")
    return QSoundEffect, QMediaDevices


class SoundPlayer(QObject):
    """Play named WAV sounds at a volume; never raises on a machine without audio.

    Parameters
    ----------
    volume : float
        Volume in [0, 1].
    muted : bool
        Start muted.
    """

    def __init__(self, *, volume: float = 0.6, muted: bool = False,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        if not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be in [0, 1], got {volume}")
        self._volume = float(volume)
        self._muted = bool(muted)
        self._effects: dict[str, object] = {}
        self.played: dict[str, int] = {}
        self.available = False
        #: Why there is no sound, in one line ('' when there is).
        self.reason = ""
        mm = _multimedia()
        if isinstance(mm, str):
            self.reason = mm
            return
        self._QSoundEffect, devices = mm
        try:
            outputs = devices.audioOutputs()
        except Exception as err:  # a broken audio backend must not stop the app
            outputs = []
            log.warning("sound disabled: cannot list audio outputs (%s)", err)
        if not outputs:
            self.reason = "no audio output device"
            log.warning("sound disabled: no audio output device; feedback stays visual")
            return
        self.available = True

    @property
    def notice(self) -> str:
        """What the sound controls should say: '' with sound, else that there is none, and
        why, in one line."""
        return "" if self.available else f"No sound: {self.reason}"

    @property
    def volume(self) -> float:
        """Volume in [0, 1]."""
        return self._volume

    @property
    def muted(self) -> bool:
        """Whether sound is muted."""
        return self._muted

    def set_volume(self, volume: float) -> None:
        """Set the volume in [0, 1]."""
        if not 0.0 <= volume <= 1.0:
            raise ValueError(f"volume must be in [0, 1], got {volume}")
        self._volume = float(volume)
        for eff in self._effects.values():
            eff.setVolume(self._volume)

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute."""
        self._muted = bool(muted)
        for eff in self._effects.values():
            eff.setMuted(self._muted)

    def load(self, name: str, wav: bytes) -> Path:
        """Register a sound from WAV bytes; return the cached file it plays from."""
        digest = hashlib.sha1(wav).hexdigest()[:12]
        folder = paths.data_dir() / "cache" / "sounds"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}-{digest}.wav"
        if not path.exists():
            path.write_bytes(wav)
        if self.available:
            eff = self._QSoundEffect(self)
            eff.setSource(QUrl.fromLocalFile(str(path)))
            eff.setVolume(self._volume)
            eff.setMuted(self._muted)
            self._effects[name] = eff
        return path

    def play(self, name: str) -> bool:
        """Play a registered sound; return whether it was sent to an audio device."""
        self.played[name] = self.played.get(name, 0) + 1
        eff = self._effects.get(name)
        if eff is None or self._muted or self._volume <= 0:
            return False
        eff.play()
        return True


def sound_note(player: SoundPlayer, *controls: QWidget) -> QLabel:
    """A line for beside the sound ``controls``: where there is no sound, why (the controls
    are then disabled); hidden otherwise."""
    note = QLabel(player.notice)
    note.setWordWrap(True)
    note.setStyleSheet("color: #8d6e00;")
    note.setVisible(bool(player.notice))
    for w in controls:
        w.setEnabled(player.available)
    return note
