"""A small XDF writer for the tests, after the XDF 1.0 specification (chunks, tags, varlen ints).

It writes what LabRecorder writes: the file header, one stream header per stream (its
``<info>`` XML, with ``<desc><channels>``), samples chunks (every sample with its timestamp),
clock offsets, and stream footers. pyxdf reads it back; the tests read it with neurofb.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

_FORMATS = {"float32": "<f4", "double64": "<f8", "int16": "<i2", "int32": "<i4"}


def _varlen(n: int) -> bytes:
    if n < 256:
        return bytes([1]) + struct.pack("<B", n)
    if n < 2**32:
        return bytes([4]) + struct.pack("<I", n)
    return bytes([8]) + struct.pack("<Q", n)


def _chunk(tag: int, content: bytes) -> bytes:
    return _varlen(len(content) + 2) + struct.pack("<H", tag) + content


class XdfStream:
    """One stream to write: numeric (``data`` of shape (n, n_ch)) or string markers."""

    def __init__(self, name: str, stype: str, *, sfreq: float, channel_format: str,
                 stamps: Sequence[float], data: np.ndarray | None = None,
                 strings: Sequence[str] | None = None, labels: Sequence[str] = (),
                 units: Sequence[str] = (), types: Sequence[str] = (),
                 info_xml: str | None = None) -> None:
        self.name, self.stype, self.sfreq, self.fmt = name, stype, sfreq, channel_format
        self.info_xml = info_xml  # a whole <info> header (e.g. a real outlet's) instead of ours
        self.stamps = [float(t) for t in stamps]
        self.data, self.strings = data, strings
        self.n_ch = 1 if strings is not None else int(data.shape[1])
        self.labels, self.units, self.types = list(labels), list(units), list(types)

    def header_xml(self) -> str:
        if self.info_xml is not None:
            return self.info_xml
        chans = ""
        if self.labels or self.units or self.types:
            rows = []
            for i in range(self.n_ch):
                parts = []
                for key, seq in (("label", self.labels), ("unit", self.units),
                                 ("type", self.types)):
                    if seq:
                        parts.append(f"<{key}>{escape(seq[i])}</{key}>")
                rows.append(f"<channel>{''.join(parts)}</channel>")
            chans = f"<desc><channels>{''.join(rows)}</channels></desc>"
        return (f'<?xml version="1.0"?><info><name>{escape(self.name)}</name>'
                f"<type>{escape(self.stype)}</type><channel_count>{self.n_ch}</channel_count>"
                f"<nominal_srate>{self.sfreq}</nominal_srate>"
                f"<channel_format>{self.fmt}</channel_format><created_at>0</created_at>"
                f"{chans or '<desc/>'}</info>")

    def samples(self) -> bytes:
        out = bytearray(_varlen(len(self.stamps)))
        for i, t in enumerate(self.stamps):
            out += bytes([8]) + struct.pack("<d", t)
            if self.strings is not None:
                raw = self.strings[i].encode("utf-8")
                out += _varlen(len(raw)) + raw
            else:
                out += np.asarray(self.data[i], dtype=_FORMATS[self.fmt]).tobytes()
        return bytes(out)


def write_xdf(path: str | Path, streams: Sequence[XdfStream], *, datetime: str = "") -> Path:
    """Write ``streams`` into an XDF file at ``path`` (with LabRecorder's ``<datetime>`` of the
    recording's start in the file header when given)."""
    blob = bytearray(b"XDF:")
    when = f"<datetime>{escape(datetime)}</datetime>" if datetime else ""
    blob += _chunk(1, f'<?xml version="1.0"?><info><version>1.0</version>{when}</info>'.encode())
    for sid, s in enumerate(streams, start=1):
        blob += _chunk(2, struct.pack("<I", sid) + s.header_xml().encode("utf-8"))
    for sid, s in enumerate(streams, start=1):
        if s.stamps:
            blob += _chunk(3, struct.pack("<I", sid) + s.samples())
        first = s.stamps[0] if s.stamps else 0.0
        last = s.stamps[-1] if s.stamps else 0.0
        for t in (first, last):  # the clock offset of each stream is 0 (one machine)
            blob += _chunk(4, struct.pack("<I", sid) + struct.pack("<dd", t, 0.0))
        footer = (f'<?xml version="1.0"?><info><first_timestamp>{first}</first_timestamp>'
                  f"<last_timestamp>{last}</last_timestamp>"
                  f"<sample_count>{len(s.stamps)}</sample_count></info>")
        blob += _chunk(6, struct.pack("<I", sid) + footer.encode("utf-8"))
    path = Path(path)
    path.write_bytes(bytes(blob))
    return path
