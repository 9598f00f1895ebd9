"""Outputs: the stream's focus, quality, band powers and markers, sent to other programs.

Each output is a consumer of the stream, like the recorder:
:func:`neurofb.stream.assemble.open_stream` attaches it to the runner from a field of the request
(``lsl_out``, ``osc_out``), and closes it with the stream. Listener callbacks only queue; each
output sends from its own thread.

- :mod:`~neurofb.outputs.lsl_out`: Lab Streaming Layer outlets (focus, markers, filtered EEG).
- :mod:`~neurofb.outputs.osc`: Open Sound Control over UDP, neurofb's and OpenBCI GUI's addresses.
- :mod:`~neurofb.outputs.clock`: the LSL time of the stream's samples.
- :mod:`~neurofb.outputs.base`: the listener interface and the sending thread.
"""

from neurofb.outputs.base import OutputError, Sender
from neurofb.outputs.clock import StreamClock
from neurofb.outputs.lsl_out import LslOutput, LslOutRequest
from neurofb.outputs.osc import OscOutput, OscRequest, parse_address

__all__ = [
    "LslOutRequest",
    "LslOutput",
    "OscOutput",
    "OscRequest",
    "OutputError",
    "Sender",
    "StreamClock",
    "parse_address",
]
