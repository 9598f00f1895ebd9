"""Reward tones: WAV encoding read back with the stdlib, amplitude, duration, pitch."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from neurofb.practice.tones import (
    SFREQ,
    TONES,
    chime,
    done_tone,
    reward_tone,
    sequence,
    streak_tone,
    to_pcm16,
    volume,
    wav_bytes,
    write_tones,
    write_wav,
)


def read_wav(data: bytes) -> tuple:
    with wave.open(io.BytesIO(data), "rb") as w:
        params = w.getparams()
        frames = np.frombuffer(w.readframes(params.nframes), dtype="<i2")
    return params, frames


def spectrum_peaks(x: np.ndarray, sfreq: float, n: int) -> list[float]:
    """Frequencies (Hz) of the ``n`` largest local maxima of the magnitude spectrum."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size), n=8 * x.size))
    freqs = np.fft.rfftfreq(8 * x.size, 1 / sfreq)
    local = np.flatnonzero((spec[1:-1] > spec[:-2]) & (spec[1:-1] >= spec[2:])) + 1
    best = local[np.argsort(spec[local])[::-1][:n]]
    return sorted(freqs[best].tolist())


def test_reward_tone_wav_round_trip():
    tone = reward_tone()
    params, frames = read_wav(wav_bytes(tone))
    assert (params.nchannels, params.sampwidth, params.framerate) == (1, 2, SFREQ)
    assert params.nframes == tone.size == round(0.35 * SFREQ)
    np.testing.assert_array_equal(frames, to_pcm16(tone))
    assert np.abs(frames).max() == round(0.8 * 32767)
    assert params.nframes / params.framerate == pytest.approx(0.35)


@pytest.mark.parametrize(("freq", "sfreq"), [(880.0, 44100), (523.25, 22050), (1200.0, 48000)])
def test_chime_pitch_decay_and_clean_edges(freq, sfreq):
    tone = chime(freq, duration_s=0.5, sfreq=sfreq)
    assert spectrum_peaks(tone, sfreq, 1)[0] == pytest.approx(freq, abs=2.0)
    # Harmonics at 2f and 3f, weaker than the fundamental.
    spec = np.abs(np.fft.rfft(tone))
    freqs = np.fft.rfftfreq(tone.size, 1 / sfreq)

    def power(f: float) -> float:
        return float(spec[np.abs(freqs - f) < 5].max())

    assert power(freq) > power(2 * freq) > power(3 * freq) > 10 * power(1.5 * freq)
    # Exponential decay: the last 50 ms are far quieter than the first 50 ms.
    k = int(0.05 * sfreq)
    assert np.sqrt(np.mean(tone[-k:] ** 2)) < 0.05 * np.sqrt(np.mean(tone[:k] ** 2))
    assert tone[0] == 0.0 and tone[-1] == 0.0  # no click at either end
    assert np.abs(tone).max() == pytest.approx(0.8)


def test_streak_tone_is_a_softer_rising_arpeggio():
    tone = streak_tone()
    assert np.abs(tone).max() == pytest.approx(0.5)
    assert np.abs(tone).max() < np.abs(reward_tone()).max()
    assert spectrum_peaks(tone, SFREQ, 3) == pytest.approx([659.26, 830.61, 987.77], abs=3.0)
    # The notes come in rising order: the pitch of the first 0.1 s is the lowest note.
    assert spectrum_peaks(tone[: int(0.1 * SFREQ)], SFREQ, 1)[0] == pytest.approx(659.26, abs=8)
    assert done_tone().size / SFREQ == pytest.approx(0.8, abs=0.01)


def test_volume_is_perceptual_and_checked():
    tone = reward_tone()
    assert np.all(volume(tone, 0.0) == 0)
    np.testing.assert_allclose(volume(tone, 0.5), tone * 0.25)
    np.testing.assert_allclose(volume(tone, 1.0), tone)
    with pytest.raises(ValueError, match="volume level"):
        volume(tone, 1.5)


def test_write_tones_and_write_wav(tmp_path):
    paths = write_tones(tmp_path / "sounds", level=0.5)
    assert set(paths) == set(TONES)
    for name, path in paths.items():
        params, frames = read_wav(path.read_bytes())
        expected = TONES[name]()
        assert params.nframes == expected.size
        assert np.abs(frames).max() == pytest.approx(np.abs(expected).max() * 0.25 * 32767, abs=1)
    out = write_wav(tmp_path / "x" / "one.wav", chime(440.0), 22050)
    assert read_wav(out.read_bytes())[0].framerate == 22050


def test_sequence_overlaps_and_concatenates():
    a, b = chime(440.0, duration_s=0.2), chime(660.0, duration_s=0.2)
    assert sequence([a, b]).size == a.size + b.size
    overlapped = sequence([a, b], gap_s=0.1)
    assert overlapped.size == round(0.1 * SFREQ) + b.size
    assert np.abs(overlapped).max() <= 1.0


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: chime(30000.0), "freq"),
        (lambda: chime(440.0, duration_s=0), "duration_s"),
        (lambda: chime(440.0, peak=1.5), "peak"),
        (lambda: wav_bytes(np.full(10, np.nan)), "NaN"),
        (lambda: wav_bytes(np.zeros((2, 10))), "1-D"),
        (lambda: wav_bytes(np.zeros(10), 44100.5), "integer"),
        (lambda: sequence([]), "at least one"),
    ],
)
def test_bad_input_is_rejected(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_samples_outside_range_are_clipped_not_wrapped():
    pcm = to_pcm16(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    assert pcm.tolist() == [-32767, -32767, 0, 32767, 32767]
