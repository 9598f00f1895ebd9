"""Build the shipped real-EEG demo recording ``recordings/demo-eegmat/`` from one eegmat subject.

Rest (60 s of ``SubjectNN_1.edf``) → mental arithmetic (60 s of ``SubjectNN_2.edf``) → rest
(another 60 s of ``SubjectNN_1.edf``), the 19 EEG channels renamed to 10-10 labels, resampled from
500 to 250 Hz (MNE, polyphase), joined with 0.25 s raised-cosine cross-fades, stored as float32 in
the neurofb folder format with ``block_start``/``block_end`` markers labelled ``rest``/``task``
(so it doubles as a calibration example) and the dataset's attribution in meta.json.

Data: Zyma I, Tukaev S, Seleznov I, Kiyono K, Popov A, Chernykh M, Shpenkov O.
Electroencephalograms during Mental Arithmetic Task Performance. Data. 2019; 4(1):14.
doi:10.3390/data4010014 — PhysioNet "EEG During Mental Arithmetic Tasks" v1.0.0,
Open Data Commons Attribution License v1.0.

Usage::

    python scripts/make_demo_recording.py [--eegmat DIR] [--subject Subject18] [--out DIR] [--force]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from neurofb.dsp.montage import PRESETS  # noqa: E402
from neurofb.errors import NeurofbError  # noqa: E402
from neurofb.recording import RecordingWriter, open_recording  # noqa: E402
from neurofb.types import Chunk, Marker, SourceInfo  # noqa: E402

SFREQ = 250.0
FADE_S = 0.25
#: (label, file suffix, start s, stop s) of each block, in order.
BLOCKS = (("rest", 1, 20.0, 80.0), ("task", 2, 1.0, 61.0), ("rest", 1, 110.0, 170.0))
#: eegmat's EDF channel names, in file order, and the 10-10 names they get (T3 = T7, …).
EDF_NAMES = tuple(f"EEG {n}" for n in (
    "Fp1", "Fp2", "F3", "F4", "F7", "F8", "T3", "T4", "C3", "C4",
    "T5", "T6", "P3", "P4", "O1", "O2", "Fz", "Cz", "Pz",
))  # fmt: skip
CH_NAMES = PRESETS["full"]

ATTRIBUTION = (
    "Derived from PhysioNet 'EEG During Mental Arithmetic Tasks' v1.0.0: Zyma I, Tukaev S, "
    "Seleznov I, Kiyono K, Popov A, Chernykh M, Shpenkov O. Electroencephalograms during Mental "
    "Arithmetic Task Performance. Data. 2019; 4(1):14. doi:10.3390/data4010014. Goldberger AL "
    "et al. PhysioBank, PhysioToolkit, and PhysioNet. Circulation 2000; 101(23):e215-e220. "
    "Licence: Open Data Commons Attribution License v1.0 "
    "(https://opendatacommons.org/licenses/by/1-0/)."
)


def _load(path: Path) -> np.ndarray:
    """The 19 EEG channels of an eegmat EDF in µV at 250 Hz, shape (19, n_times)."""
    import mne

    raw = mne.io.read_raw_edf(path, preload=True, verbose="ERROR")
    missing = [n for n in EDF_NAMES if n not in raw.ch_names]
    if missing:
        raise NeurofbError(f"{path} lacks the eegmat channels {missing}")
    raw.pick(list(EDF_NAMES))
    raw.resample(SFREQ, method="polyphase", verbose="ERROR")
    return raw.get_data() * 1e6  # MNE gives volts


def build(eegmat: Path, subject: str) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Join the blocks with cross-fades; return data (19, n) µV and (label, start, end) blocks."""
    sources = {k: _load(eegmat / f"{subject}_{k}.edf") for k in (1, 2)}
    fade = round(FADE_S * SFREQ)
    ramp = 0.5 - 0.5 * np.cos(np.pi * (np.arange(fade) + 0.5) / fade)  # 0 → 1
    out = np.zeros((len(CH_NAMES), 0))
    spans = []
    for label, k, a, b in BLOCKS:
        seg = sources[k][:, round(a * SFREQ) : round(b * SFREQ)]
        if seg.shape[1] != round((b - a) * SFREQ):
            raise NeurofbError(f"{subject}_{k}.edf is shorter than {b} s")
        if out.shape[1]:
            seg = seg.copy()
            seg[:, :fade] = seg[:, :fade] * ramp + out[:, -fade:] * ramp[::-1]
            out = out[:, :-fade]
        start = out.shape[1] + (fade / 2 if out.shape[1] else 0)
        out = np.concatenate([out, seg], axis=1)
        spans.append((label, start / SFREQ, out.shape[1] / SFREQ))
    # each block ends where the next one starts: in the middle of the cross-fade
    blocks = [(lab, s, spans[i + 1][1] if i + 1 < len(spans) else e)
              for i, (lab, s, e) in enumerate(spans)]
    return out, blocks


def write(out_dir: Path, data: np.ndarray, blocks: list, subject: str) -> None:
    """Write the demo as a float32 neurofb recording folder."""
    info = SourceInfo(CH_NAMES, SFREQ, "eegmat-demo", "uV", details={"dataset": "eegmat"})
    meta = {
        "start_unix": time.time(),  # so its end is start + duration, not the seconds it took
        "user": "demo",
        "exercise": "calibration",
        "description": (
            f"Real EEG demo: {subject} of eegmat at rest, doing serial subtraction, at rest "
            "again (60 s each)."
        ),
        "attribution": ATTRIBUTION,
        "licence": "ODC-By-1.0",
        "derived_from": {
            "dataset": "PhysioNet eegmat v1.0.0 (https://physionet.org/content/eegmat/1.0.0/)",
            "subject": subject,
            "blocks": [
                {"label": lab, "file": f"{subject}_{k}.edf", "from_s": a, "to_s": b}
                for lab, k, a, b in BLOCKS
            ],
            "processing": (
                "19 EEG channels (old names T3/T4/T5/T6 renamed T7/T8/P7/P8), V to µV, resampled "
                f"500 → {SFREQ:g} Hz (MNE polyphase), blocks joined with {FADE_S} s "
                "raised-cosine cross-fades, stored as float32; timestamps are seconds since start"
            ),
        },
    }
    n = data.shape[1]
    with RecordingWriter(out_dir, info, meta=meta, dtype="float32") as writer:
        writer.write_marker(Marker(0.0, "session_start", "demo"))
        for label, a, b in blocks:
            writer.write_marker(Marker(round(a, 3), "block_start", label))
            writer.write_marker(Marker(round(b, 3), "block_end", label))
        writer.write_marker(Marker(n / SFREQ, "session_end", ""))
        step = int(SFREQ)
        for a in range(0, n, step):
            b = min(n, a + step)
            writer.write_chunk(
                Chunk(data[:, a:b], np.arange(a, b) / SFREQ, CH_NAMES, SFREQ, first_sample=a)
            )


def main(argv: list[str] | None = None) -> int:
    """Build the demo recording; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eegmat", type=Path, default=REPO.parent / "shared/data/eegmat")
    parser.add_argument("--subject", default="Subject18")
    parser.add_argument("--out", type=Path, default=REPO / "recordings" / "demo-eegmat")
    parser.add_argument("--force", action="store_true", help="replace an existing demo")
    args = parser.parse_args(argv)
    if args.out.exists():
        if not args.force:
            print(f"{args.out} exists; pass --force to rebuild it", file=sys.stderr)
            return 1
        shutil.rmtree(args.out)
    data, blocks = build(args.eegmat, args.subject)
    write(args.out, data, blocks, args.subject)
    rec = open_recording(args.out)
    size = sum(p.stat().st_size for p in args.out.iterdir())
    print(f"{args.out}: {rec.n_samples} samples × {len(rec.ch_names)} channels at "
          f"{rec.sfreq:g} Hz ({rec.duration_s:.1f} s), {size / 1e6:.2f} MB; blocks "
          + ", ".join(f"{lab} {a:.2f}–{b:.2f} s" for lab, a, b in blocks))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
