"""What the engine reads from, and changes in, an ONNX file — without the ``onnx`` package.

``import onnx`` costs about 50 ms (a tenth of a 10-minute replay as a whole process), and the
engine needs only: the model's metadata, the names of the graph's inputs, outputs and
initialisers, and one change — turning the ``pos`` input into a constant. An ONNX file is a
protocol-buffers message (``onnx.proto``, whose field numbers never change), so this module reads
and writes those fields directly on the wire format. Anything it cannot read is a
:class:`ValueError`; ``tests/test_onnx.py`` checks it against the ``onnx`` package.

Field numbers (onnx.proto): ``ModelProto.graph = 7``, ``ModelProto.metadata_props = 14``;
``GraphProto.initializer = 5``, ``GraphProto.input = 11``, ``GraphProto.output = 12``;
``ValueInfoProto.name = 1``; ``TensorProto.dims = 1``, ``data_type = 2``, ``name = 8``,
``raw_data = 9``; ``StringStringEntryProto.key = 1``, ``value = 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["GraphInfo", "read_graph_info", "with_constant_input"]

_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_DOUBLE = 11  # TensorProto.DataType.DOUBLE


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated or malformed varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, int, int]]:
    """Every field of a message: ``(number, wire_type, start, end)``; for length-delimited
    fields ``start:end`` is the payload, otherwise the encoded value."""
    out = []
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise ValueError("field number 0")
        if wire == _VARINT:
            start = pos
            _, pos = _varint(buf, pos)
        elif wire == _LEN:
            size, start = _varint(buf, pos)
            pos = start + size
        elif wire in (_I64, _I32):
            start = pos
            pos += 8 if wire == _I64 else 4
        else:
            raise ValueError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise ValueError("truncated message")
        out.append((number, wire, start, pos))
    return out


def _strings(buf: bytes, number: int) -> list[bytes]:
    """The payloads of length-delimited field ``number`` of a message."""
    return [buf[a:b] for n, w, a, b in _fields(buf) if n == number and w == _LEN]


def _name(buf: bytes, number: int) -> str:
    """A message's string field ``number`` ("" when absent)."""
    found = _strings(buf, number)
    return found[-1].decode("utf-8") if found else ""


def _key(number: int, wire: int) -> bytes:
    return _encode_varint((number << 3) | wire)


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _key(number, _LEN) + _encode_varint(len(payload)) + payload


def _graph(model: bytes) -> tuple[int, int]:
    """Where the (single) graph's payload lies in the model."""
    graphs = [(a, b) for n, w, a, b in _fields(model) if n == 7 and w == _LEN]
    if len(graphs) != 1:
        raise ValueError(f"{len(graphs)} graphs in the model (expected one)")
    return graphs[0]


@dataclass(frozen=True)
class GraphInfo:
    """What the engine checks in a graph file.

    Attributes
    ----------
    metadata : dict of str to str
        The model's ``metadata_props``.
    inputs, outputs, initializers : tuple of str
        Names of the graph's inputs, outputs and initialisers, in file order.
    """

    metadata: dict[str, str]
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    initializers: tuple[str, ...]


def read_graph_info(model: bytes) -> GraphInfo:
    """Read an ONNX model's metadata and its graph's input, output and initialiser names.

    Raises
    ------
    ValueError
        The bytes are not a well-formed ONNX model with one graph.
    """
    metadata = {_name(entry, 1): _name(entry, 2) for entry in _strings(model, 14)}
    a, b = _graph(model)
    graph = model[a:b]
    return GraphInfo(
        metadata=metadata,
        inputs=tuple(_name(v, 1) for v in _strings(graph, 11)),
        outputs=tuple(_name(v, 1) for v in _strings(graph, 12)),
        initializers=tuple(_name(t, 8) for t in _strings(graph, 5)),
    )


def _double_tensor(name: str, values: np.ndarray) -> bytes:
    """A TensorProto of float64 ``values`` (raw little-endian data)."""
    dims = b"".join(_key(1, _VARINT) + _encode_varint(int(d)) for d in values.shape)
    raw = np.ascontiguousarray(values, dtype="<f8").tobytes()
    return (dims + _key(2, _VARINT) + _encode_varint(_DOUBLE)
            + _len_field(8, name.encode("utf-8")) + _len_field(9, raw))


def with_constant_input(model: bytes, name: str, values: np.ndarray) -> bytes:
    """The model with graph input ``name`` replaced by a float64 constant (an initialiser).

    Raises
    ------
    ValueError
        The model is malformed, or its graph has no input ``name``.
    """
    a, b = _graph(model)
    graph = model[a:b]
    parts, found = [], False
    for number, wire, start, end in _fields(graph):
        if number == 11 and wire == _LEN and _name(graph[start:end], 1) == name:
            found = True
            continue
        parts.append(_reencode(graph, number, wire, start, end))
    if not found:
        raise ValueError(f"the graph has no input {name!r}")
    parts.append(_len_field(5, _double_tensor(name, np.asarray(values, dtype=np.float64))))
    new_graph = b"".join(parts)
    out = []
    for number, wire, start, end in _fields(model):
        if number == 7:
            out.append(_len_field(7, new_graph))
        else:
            out.append(_reencode(model, number, wire, start, end))
    return b"".join(out)


def _reencode(buf: bytes, number: int, wire: int, start: int, end: int) -> bytes:
    """One field of ``buf`` as it was encoded."""
    if wire == _LEN:
        return _len_field(number, buf[start:end])
    return _key(number, wire) + buf[start:end]
