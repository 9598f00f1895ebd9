"""Reward sounds synthesised with numpy, written as 16-bit PCM WAV.

The app plays them with ``QSoundEffect`` from files written by :func:`write_tones`; everything
here is plain numpy and the standard library's :mod:`wave`.

Tones are float arrays in [-1, 1], shape ``(n_samples,)``, mono, at ``sfreq`` Hz.
"""

from __future__ import annotations

import io
import os
import wave
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

#: Default sampling rate of the tones, Hz.
SFREQ = 44100

#: Harmonics of the chime: (multiple of the fundamental, relative amplitude).
CHIME_HARMONICS: tuple[tuple[float, float], ...] = ((1.0, 1.0), (2.0, 0.35), (3.0, 0.12))


def _check_sfreq(sfreq: float) -> None:
    if not sfreq >= 8000:
        raise ValueError(f"sfreq must be at least 8000 Hz, got {sfreq}")


def chime(
    freq: float = 880.0, *, duration_s: float = 0.35, sfreq: float = SFREQ,
    harmonics: Sequence[tuple[float, float]] = CHIME_HARMONICS, decay_s: float = 0.09,
    attack_s: float = 0.005, peak: float = 0.8,
) -> np.ndarray:
    """A bell-like note: a sine with harmonics under an attack + exponential-decay envelope.

    Parameters
    ----------
    freq : float
        Fundamental frequency in Hz (below the Nyquist frequency).
    duration_s : float
        Length in seconds.
    sfreq : float
        Sampling rate in Hz.
    harmonics : sequence of (float, float)
        (multiple of ``freq``, relative amplitude) pairs; partials above Nyquist are dropped.
        Higher partials decay faster (time constant ``decay_s / multiple ** 0.5``).
    decay_s : float
        Time constant of the exponential decay of the fundamental, seconds.
    attack_s : float
        Length of the linear fade-in, seconds (avoids a click).
    peak : float
        Peak absolute amplitude of the result, in (0, 1].

    Returns
    -------
    tone : array, shape (n_samples,)
        Float64 samples in [-peak, peak], ``n_samples = round(duration_s * sfreq)``.
    """
    _check_sfreq(sfreq)
    if not 0 < freq < sfreq / 2:
        raise ValueError(f"freq must be in (0, {sfreq / 2}) Hz, got {freq}")
    if not duration_s > 0:
        raise ValueError(f"duration_s must be positive, got {duration_s}")
    if not decay_s > 0 or attack_s < 0:
        raise ValueError(f"need decay_s > 0 and attack_s >= 0, got {decay_s}, {attack_s}")
    if not 0 < peak <= 1:
        raise ValueError(f"peak must be in (0, 1], got {peak}")
    n = max(round(duration_s * sfreq), 2)
    t = np.arange(n) / sfreq
    tone = np.zeros(n)
    for multiple, amp in harmonics:
        if multiple * freq < sfreq / 2:
            tau = decay_s / np.sqrt(multiple)
            tone += amp * np.sin(2 * np.pi * multiple * freq * t) * np.exp(-t / tau)
    if attack_s > 0:
        tone *= np.clip(t / attack_s, 0.0, 1.0)
    # Fade out the last 5 ms so the note never ends in a click.
    tail = min(n, int(0.005 * sfreq))
    tone[n - tail:] *= np.linspace(1.0, 0.0, tail)
    top = np.abs(tone).max()
    if top == 0:
        raise ValueError("every harmonic is above the Nyquist frequency: lower freq")
    return tone * (peak / top)


def sequence(
    notes: Sequence[np.ndarray], *, gap_s: float = 0.0, sfreq: float = SFREQ
) -> np.ndarray:
    """Join tones one after another, each starting ``gap_s`` seconds after the previous start.

    With ``gap_s`` shorter than a note the notes overlap (ring into each other); with 0 they are
    simply concatenated. The result is rescaled only if the overlap pushed it past 1.
    """
    if not notes:
        raise ValueError("sequence needs at least one note")
    if gap_s < 0:
        raise ValueError(f"gap_s must be >= 0, got {gap_s}")
    step = round(gap_s * sfreq)
    starts = [i * step if step else sum(len(x) for x in notes[:i]) for i in range(len(notes))]
    out = np.zeros(max(s + len(x) for s, x in zip(starts, notes, strict=True)))
    for s, x in zip(starts, notes, strict=True):
        out[s:s + len(x)] += x
    top = np.abs(out).max()
    return out / top if top > 1 else out


def _with_peak(tone: np.ndarray, peak: float) -> np.ndarray:
    return tone * (peak / np.abs(tone).max())


def reward_tone(*, sfreq: float = SFREQ) -> np.ndarray:
    """The reward chime: a bright A5 (880 Hz) bell, 0.35 s."""
    return chime(880.0, duration_s=0.35, sfreq=sfreq, peak=0.8)


def streak_tone(*, sfreq: float = SFREQ) -> np.ndarray:
    """The softer streak tone: a rising major arpeggio, E5 → G#5 → B5 (659 → 831 → 988 Hz),
    notes ringing into each other, quieter than the reward chime (peak 0.5)."""
    notes = [chime(f, duration_s=0.4, sfreq=sfreq, decay_s=0.14, attack_s=0.02, peak=1.0)
             for f in (659.26, 830.61, 987.77)]
    return _with_peak(sequence(notes, gap_s=0.12, sfreq=sfreq), 0.5)


def done_tone(*, sfreq: float = SFREQ) -> np.ndarray:
    """End of session: a falling fifth, E5 → A4 (659 → 440 Hz), 0.9 s."""
    notes = [chime(f, duration_s=0.5, sfreq=sfreq, decay_s=0.18, attack_s=0.01, peak=1.0)
             for f in (659.26, 440.0)]
    return _with_peak(sequence(notes, gap_s=0.3, sfreq=sfreq), 0.6)


#: The tones the app plays, by name.
TONES: dict[str, Callable[..., np.ndarray]] = {
    "reward": reward_tone,
    "streak": streak_tone,
    "done": done_tone,
}


def volume(tone: np.ndarray, level: float) -> np.ndarray:
    """Scale a tone by a volume ``level`` in [0, 1] (0 = silent, 1 = unchanged).

    The scale is perceptual: amplitude ``level ** 2``, so half the slider sounds about half as
    loud.
    """
    if not 0 <= level <= 1:
        raise ValueError(f"volume level must be in [0, 1], got {level}")
    return np.asarray(tone, dtype=float) * level**2


def to_pcm16(tone: np.ndarray) -> np.ndarray:
    """Convert a float tone in [-1, 1] to int16 PCM samples (values outside are clipped)."""
    tone = np.asarray(tone, dtype=float)
    if tone.ndim != 1:
        raise ValueError(f"tone must be 1-D (n_samples,), got shape {tone.shape}")
    if not np.all(np.isfinite(tone)):
        raise ValueError("tone has NaN or infinite samples")
    return np.round(np.clip(tone, -1.0, 1.0) * 32767).astype("<i2")


def wav_bytes(tone: np.ndarray, sfreq: float = SFREQ) -> bytes:
    """Encode a float tone as a mono 16-bit PCM WAV file, returned as bytes.

    Parameters
    ----------
    tone : array, shape (n_samples,)
        Samples in [-1, 1].
    sfreq : float
        Sampling rate in Hz (an integer number of Hz).
    """
    _check_sfreq(sfreq)
    if sfreq != int(sfreq):
        raise ValueError(f"WAV needs an integer sampling rate, got {sfreq}")
    pcm = to_pcm16(tone)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sfreq))
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def write_wav(path: str | os.PathLike, tone: np.ndarray, sfreq: float = SFREQ) -> Path:
    """Write a tone as a mono 16-bit PCM WAV file (replacing any file there); return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(wav_bytes(tone, sfreq))
    return path


def write_tones(folder: str | os.PathLike, *, level: float = 1.0, sfreq: int = SFREQ) -> dict:
    """Write every tone of :data:`TONES` as ``<folder>/<name>.wav``.

    Parameters
    ----------
    folder : path-like
        Where to write (created if needed), e.g. a temporary folder of the app.
    level : float
        Volume in [0, 1] baked into the files (the app may also set the player's volume).
    sfreq : int
        Sampling rate in Hz.

    Returns
    -------
    paths : dict of str to Path
        The file of each tone, by name.
    """
    return {
        name: write_wav(Path(folder) / f"{name}.wav", volume(make(sfreq=sfreq), level), sfreq)
        for name, make in TONES.items()
    }
