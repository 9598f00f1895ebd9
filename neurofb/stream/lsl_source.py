"""Any Lab Streaming Layer EEG stream as a :class:`~neurofb.stream.source.Source`.

The OpenBCI GUI (Networking widget, LSL), muselsl, BrainVision's and g.tec's LSL apps, an
``mne-lsl`` player … publish EEG as an LSL stream. :class:`LslSource` finds one by name, by
type (``EEG`` by default) or by source id, and reads it like a board:

- **channels** come from the stream's ``<desc><channels><channel><label>``; channels typed
  otherwise than EEG and AUX channels (muselsl's ``Right AUX``) are left out. A stream that names
  none (the OpenBCI GUI's) takes the names of ``montage`` (``cyton``, ``muse``, a BrainFlow
  board, or ``Fz,Cz,…``), else ``Ch1…`` — with a warning.
- **units** come from each channel's ``<unit>``; a stream that gives none (again the OpenBCI
  GUI's) is read in ``unit`` (``uV``, ``mV``, ``V``), or with ``unit="auto"`` in what its first
  second of samples looks like (:func:`neurofb.dsp.units.guess_unit`), with a warning that names
  the guess: a µV/V mix-up is never silent (a stream that sends nothing to guess from is
  refused, naming ``--unit``). Channels without a unit beside others with one take theirs; a
  unit neurofb does not know is refused unless ``unit`` says how to read it.
- **timestamps**: liblsl moves the sender's stamps onto this machine's clock (clock sync,
  dejitter, monotonize); the chunks carry them as Unix times like a BrainFlow board's
  (``LSL time + unix_minus_lsl``, one offset for the source's life, so
  :class:`neurofb.outputs.clock.StreamClock` takes them back exactly).
- **a lost stream** (the sender quit, the network dropped) raises
  :class:`~neurofb.errors.BoardError` from :meth:`LslSource.read`; the runner reports it and calls
  :meth:`LslSource.restart`, which looks for that very stream again (its name, type and source
  id: another device publishing under the same name is not taken for it) — when the sender
  comes back, samples flow again and the runner reports ``resumed``.

liblsl's network scope is set by its configuration file (:mod:`neurofb.lsl`).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurofb.dsp.montage import montage_names
from neurofb.dsp.units import factor_to_uv, guess_unit, unit_key
from neurofb.errors import BoardError, ChannelError, NeurofbError
from neurofb.lsl import pylsl, xpath_literal
from neurofb.types import Chunk, SourceInfo

__all__ = ["LslSource", "LslStreamInfo", "find_streams"]

log = logging.getLogger(__name__)

#: Seconds a restart looks for the lost stream before giving up (the runner retries).
RESTART_TIMEOUT_S = 1.0
#: Seconds of samples liblsl buffers for a slow reader.
BUFFER_S = 60
#: Seconds a stream without units is waited for, for samples to guess µV or V from.
GUESS_WAIT_S = 5.0
#: Seconds a look for other streams of the name read goes on (in the background).
OTHERS_S = 1.5


@dataclass(frozen=True)
class LslStreamInfo:
    """An LSL stream seen on the network (what the source picker lists)."""

    name: str
    type: str
    channel_count: int
    sfreq: float
    source_id: str
    hostname: str
    labels: tuple[str, ...] = field(default_factory=tuple)

    @property
    def label(self) -> str:
        """``name (type, N ch @ R Hz, host)``."""
        return (f"{self.name} ({self.type or '?'}, {self.channel_count} ch @ {self.sfreq:g} Hz, "
                f"{self.hostname or '?'})")  # fmt: skip


def _predicate(name: str | None, stype: str | None, source_id: str | None) -> str:
    parts = [f"{key}={xpath_literal(value)}"
             for key, value in (("name", name), ("type", stype), ("source_id", source_id))
             if value]  # fmt: skip
    return " and ".join(parts) or "type='EEG'"


def _channels(info: Any) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    ch = info.desc().child("channels").child("channel")
    while not ch.empty() and len(out) < info.channel_count():
        out.append({k: ch.child_value(k) for k in ("label", "unit", "type")})
        ch = ch.next_sibling("channel")
    return out


def _say_others(predicate: str, chosen: Any) -> None:
    """Warn (where the user sees it) when more streams than the one read match ``predicate``:
    liblsl's resolve returns at the first match, and a second sender of the same name would
    otherwise go unnoticed."""
    try:
        found = pylsl().resolve_bypred(predicate, 0, OTHERS_S)
    except Exception:  # looking is a courtesy: never a failure of the stream
        log.debug("looking for other LSL streams failed", exc_info=True)
        return
    ids = sorted({f.source_id() for f in found} | {chosen.source_id()})
    if len(ids) > 1:
        log.warning("%d LSL streams match %s (source ids %s); reading the one of %s (source id "
                    "%r): stop the other senders, or give each stream its own name", len(ids),
                    predicate, ", ".join(map(repr, ids)), chosen.hostname(), chosen.source_id())


def find_streams(*, stype: str | None = None, timeout_s: float = 1.0) -> list[LslStreamInfo]:
    """The LSL streams visible now (of type ``stype`` when given), sorted by name.

    Raises
    ------
    neurofb.lsl.LslError
        liblsl is missing.
    """
    lsl = pylsl()
    found = (lsl.resolve_byprop("type", stype, timeout=timeout_s) if stype
             else lsl.resolve_streams(wait_time=timeout_s))  # fmt: skip
    out = []
    for info in found:
        out.append(LslStreamInfo(
            name=info.name(), type=info.type(), channel_count=info.channel_count(),
            sfreq=info.nominal_srate(), source_id=info.source_id(), hostname=info.hostname(),
        ))  # fmt: skip
    return sorted(out, key=lambda s: (s.name, s.source_id))


class LslSource:
    """Read an LSL EEG stream.

    Parameters
    ----------
    name, stype, source_id : str, optional
        Which stream: by name, type and/or source id (all that are given must match); default
        the first stream of type ``EEG``.
    montage : str, optional
        Channel names for a stream that has none (or to replace its own).
    unit : str
        Unit of a stream whose description gives none: ``"auto"``, ``"uV"``, ``"mV"``, ``"V"``.
    timeout_s : float
        Seconds to look for the stream when the source is made.

    Attributes
    ----------
    info : SourceInfo
    warning : str
        What the user should know (names or units taken from ``montage``/``unit`` or guessed).
    unix_minus_lsl : float
        Offset from LSL time to the Unix time of the chunks' timestamps.

    Raises
    ------
    BoardError
        No such stream within ``timeout_s``, a stream without a regular rate or with text
        samples, a bad montage or unit.
    """

    def __init__(
        self,
        *,
        name: str | None = None,
        stype: str | None = None,
        source_id: str | None = None,
        montage: str | None = None,
        unit: str = "auto",
        timeout_s: float = 5.0,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self._predicate = _predicate(name, stype, source_id)
        self._lock = threading.Lock()
        self._inlet: Any = None
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []
        self._delivered = 0
        self._started = False
        notes: list[str] = []
        stream = self._resolve(timeout_s, first_look=True)
        lsl = pylsl()
        if stream.nominal_srate() <= 0:
            raise BoardError(f"LSL stream {stream.name()!r} has no regular sampling rate "
                             "(irregular): neurofb reads EEG of a fixed rate; a marker stream "
                             "goes to --markers-in")
        if stream.channel_format() in (lsl.cf_string, getattr(lsl, "cf_undefined", -1)):
            raise BoardError(f"LSL stream {stream.name()!r} carries text, not EEG samples")
        self.stream_name = stream.name()
        # a restart looks for this very stream (its source id), not any of the same name: a
        # second device publishing under that name is not the one being recorded
        self._restart_predicate = _predicate(stream.name(), stream.type(),
                                             stream.source_id() or None)
        self._ever_started = False
        self._make_inlet(stream)
        full = self._inlet.info(timeout=timeout_s)  # the full description, with <desc>
        chans = _channels(full)
        n = self._channel_count = full.channel_count()
        if len(chans) != n:
            chans = [{"label": "", "unit": "", "type": ""} for _ in range(n)]
        keep = [i for i, c in enumerate(chans)
                if c["type"].lower() in ("", "eeg", "exg") and "aux" not in c["label"].lower()]
        if not keep:
            keep = list(range(n))
        if len(keep) < n:
            notes.append("channels left out (not EEG): " + ", ".join(
                chans[i]["label"] or f"#{i + 1}" for i in range(n) if i not in keep))
        self._keep = np.asarray(keep)
        labels = [chans[i]["label"] for i in keep]
        try:
            if montage is not None:
                ch_names = montage_names(montage, len(keep))
            elif all(labels) and len(set(labels)) == len(labels):
                ch_names = tuple(labels)
            else:
                ch_names = tuple(f"Ch{i + 1}" for i in range(len(keep)))
                twice = sorted({x for x in labels if x and labels.count(x) > 1})
                why = (f"names {', '.join(twice)} more than once" if twice else
                       "names no channels" if not any(labels) else "leaves channels unnamed")
                notes.append(f"the stream {why}: called {ch_names[0]}…{ch_names[-1]}; pass "
                             "--montage (e.g. cyton, or Fz,Cz,… in order) to name them")
        except ChannelError as err:
            raise BoardError(f"LSL stream {self.stream_name!r}: {err}") from None
        self._factor = self._units(chans, keep, unit, full.nominal_srate(), notes)
        self.unix_minus_lsl = time.time() - lsl.local_clock()
        self.warning = "; ".join(notes)
        if self.warning:
            log.warning("LSL stream %s: %s", self.stream_name, self.warning)
        self.info = SourceInfo(
            ch_names=ch_names, sfreq=float(full.nominal_srate()), board=f"lsl:{self.stream_name}",
            live=True,
            details={"lsl_name": self.stream_name, "lsl_type": full.type(),
                     "lsl_source_id": full.source_id(), "lsl_hostname": full.hostname(),
                     "lsl_channel_format": int(full.channel_format()),
                     "unit_in_stream": self.unit_text},
        )  # fmt: skip

    # -- set-up ---------------------------------------------------------------------------------
    def _resolve(self, timeout_s: float, predicate: str | None = None, *,
                 first_look: bool = False) -> Any:
        """The stream matching ``predicate`` (default the request's); ``first_look``: also say,
        in the background, when several match."""
        predicate = predicate or self._predicate
        try:
            found = pylsl().resolve_bypred(predicate, 1, timeout_s)
        except NeurofbError:
            raise
        except Exception as err:
            raise BoardError(f"cannot look for LSL streams: {err}") from None
        if not found:
            raise BoardError(f"no LSL stream with {predicate} found within {timeout_s:g} s: "
                             "is the sender running (OpenBCI GUI's Networking widget, muselsl "
                             "stream, …) on this network? `neurofb boards --lsl` lists what is "
                             "visible")  # fmt: skip
        first = found[0]
        if first_look:  # liblsl answers with the first match: look on for others meanwhile
            threading.Thread(target=_say_others, args=(predicate, first), daemon=True,
                             name="neurofb-lsl-others").start()
        return first

    def _make_inlet(self, stream: Any) -> None:
        lsl = pylsl()
        flags = lsl.proc_clocksync | lsl.proc_dejitter | lsl.proc_monotonize
        self._inlet = lsl.StreamInlet(stream, max_buflen=BUFFER_S, recover=False,
                                      processing_flags=flags)  # fmt: skip

    def _units(self, chans: list[dict[str, str]], keep: list[int], unit: str, sfreq: float,
               notes: list[str]) -> np.ndarray:
        given = [chans[i]["unit"] for i in keep]
        if any(given):
            units = [self._channel_unit(u, given, unit, notes) for u in given]
            self.unit_text = ", ".join(sorted(set(units)))
            return np.asarray([factor_to_uv(u) for u in units])
        if unit == "auto":
            sample = self._first_second(sfreq)
            if sample.shape[1] < 2:  # nothing to guess from: never a guess said to be one
                raise BoardError(
                    f"LSL stream {self.stream_name!r} gives no unit and sent no samples within "
                    f"{GUESS_WAIT_S:g} s to tell µV from V by: start the sender's acquisition "
                    "first, or pass --unit uV (or mV, V)")
            unit = guess_unit(sample)
            notes.append(f"the stream gives no unit: its amplitude looks like {unit}, so it is "
                         f"read as {unit}; pass --unit if that is wrong")  # fmt: skip
        try:
            factor = factor_to_uv(unit)
        except ValueError as err:
            raise BoardError(str(err)) from None
        self.unit_text = unit_key(unit) or unit
        return np.full(len(keep), factor)

    def _channel_unit(self, given: str, all_given: list[str], unit: str,
                      notes: list[str]) -> str:
        """The unit a channel is read in, when the stream names units: its own; with ``--unit``
        (not auto) for a channel without one or with one neurofb does not know; without it,
        the other channels' unit when they agree on one; otherwise a clear error."""
        name = self.stream_name
        if given and unit_key(given):
            return str(unit_key(given))
        if unit != "auto":
            note = f"the stream's unit {given!r} is not one neurofb knows; read as {unit} (--unit)"
            if given and note not in notes:
                notes.append(note)
            return unit
        if given:
            raise BoardError(f"LSL stream {name!r} gives the unit {given!r}, which is not one "
                             "neurofb knows (uV, mV, V, nV): pass --unit uV (or mV, V) to read "
                             "it in that unit")
        known = {unit_key(u) for u in all_given if u and unit_key(u)}
        if len(known) != 1:
            raise BoardError(f"LSL stream {name!r} gives a unit for some channels only, and "
                             "those differ: pass --unit uV (or mV, V) for the others")
        other = str(known.pop())
        note = f"channels without a unit are read in the others' unit, {other}"
        if note not in notes:
            notes.append(note)
        return other

    def _first_second(self, sfreq: float) -> np.ndarray:
        """Up to a second of samples (kept, delivered first) to guess the unit from."""
        deadline = time.monotonic() + GUESS_WAIT_S
        got = 0
        while got < sfreq and time.monotonic() < deadline:
            data, stamps = self._pull(timeout=0.2)
            if data is not None:
                self._pending.append((data, stamps))
                got += data.shape[0]
        if not self._pending:
            return np.zeros((len(self._keep), 0))
        return np.concatenate([d for d, _ in self._pending])[:, self._keep].T

    def _pull(self, timeout: float = 0.0) -> tuple[np.ndarray | None, np.ndarray | None]:
        try:
            data, stamps = self._inlet.pull_chunk(timeout=timeout, max_samples=4096,
                                                  as_numpy=True)  # fmt: skip
        except (RuntimeError, OSError) as err:  # pylsl's LostError/TimeoutError
            raise BoardError(f"LSL stream {self.stream_name!r} was lost ({err}); looking for "
                             "it again") from None
        if data is None or len(stamps) == 0:
            return None, None
        return np.asarray(data, dtype=np.float64), np.asarray(stamps, dtype=np.float64)

    # -- Source protocol ------------------------------------------------------------------------
    def start(self) -> None:
        """Start receiving (the inlet is open since the source was made)."""
        with self._lock:
            if self._inlet is None:
                self._make_inlet(self._resolve(RESTART_TIMEOUT_S))
            try:
                self._inlet.open_stream(timeout=5.0)
            except (RuntimeError, OSError) as err:
                raise BoardError(f"cannot open LSL stream {self.stream_name!r}: {err}") from None
            self._started = self._ever_started = True

    def read(self) -> Chunk | None:
        """The samples received since the last read (µV), or None.

        Raises
        ------
        BoardError
            The stream was lost.
        """
        with self._lock:
            if not self._started or self._inlet is None:
                raise BoardError(f"LSL stream {self.stream_name!r} is lost; looking for it again"
                                 if self._ever_started else "the LSL source is not started")
            if self._pending:
                parts, self._pending = self._pending, []
                data = np.concatenate([d for d, _ in parts])
                stamps = np.concatenate([s for _, s in parts])
            else:
                data, stamps = self._pull()
                if data is None:
                    return None
            chunk = Chunk(
                data=np.ascontiguousarray(data[:, self._keep].T * self._factor[:, None]),
                timestamps=stamps + self.unix_minus_lsl, ch_names=self.info.ch_names,
                sfreq=self.info.sfreq, first_sample=self._delivered, board=self.info.board,
            )  # fmt: skip
            self._delivered += chunk.n_samples
            return chunk

    def stop(self) -> None:
        """Close the inlet (idempotent)."""
        with self._lock:
            self._started = False
            inlet, self._inlet = self._inlet, None
        if inlet is not None:
            try:
                inlet.close_stream()
            except Exception:  # already lost
                log.debug("closing the LSL inlet failed", exc_info=True)

    def restart(self) -> None:
        """Look for the stream again and reopen it (BoardError when it is not back yet)."""
        self.stop()
        stream = self._resolve(RESTART_TIMEOUT_S, self._restart_predicate)
        if (stream.channel_count() != self._channel_count
                or stream.nominal_srate() != self.info.sfreq):
            raise BoardError(f"LSL stream {self.stream_name!r} came back with "
                             f"{stream.channel_count()} channels at {stream.nominal_srate():g} Hz "
                             f"instead of {self._channel_count} at {self.info.sfreq:g} Hz: "
                             "reconnect to it as a new source")  # fmt: skip
        with self._lock:
            self._make_inlet(stream)
            try:
                self._inlet.open_stream(timeout=RESTART_TIMEOUT_S)
            except (RuntimeError, OSError) as err:
                self._inlet = None
                raise BoardError(f"cannot reopen LSL stream {self.stream_name!r}: {err}") from None
            self._started = True

    @property
    def samples_delivered(self) -> int:
        """Samples handed out since the source was made."""
        return self._delivered

    def __repr__(self) -> str:
        return f"LslSource({self.stream_name!r})"
