"""Export a model folder's network to ONNX, so the engine runs it without torch.

The engine scores windows with ONNX Runtime (:mod:`neurofb.focus.runtime`); torch is only for
training and calibration. :func:`export_onnx` turns any ``nn.Module`` with a documented
*graph contract* (:class:`GraphContract`: named inputs and outputs with their shapes, units and
meaning) into ``model.onnx``:

- **float64** throughout: the graph computes in double precision, so two CPUs (AVX2, AVX-512,
  SSE only) that round matrix products differently agree to about 1e-15, far below the 6
  decimals a trace prints;
- **opset 16** (:data:`OPSET`): the newest opset that BrainFlow's bundled ONNX Runtime (1.11)
  runs, so the same file also loads in BrainFlow's ``MLModel``;
- **exact GELU in float64**: ONNX Runtime has no float64 ``Erf`` kernel, so each ``Erf`` node is
  replaced by a piecewise polynomial of the same function (:func:`erf_table`, error below 2e-15
  everywhere) built from elementary operators;
- the network's logit, not a probability: the sigmoid is applied outside, in float64;
- stamped with the SHA-256 of the weights it was exported from (graph metadata), checked against
  ``weights.safetensors`` and ``model.json`` when the engine loads it;
- checked after export: ONNX Runtime and torch must agree within :data:`EXPORT_TOLERANCE` on
  seeded inputs, or the export fails with a :class:`~neurofb.errors.ModelError`.

A network that is not a :class:`~neurofb.focus.model.FocusNet` documents its own contract with
an ``onnx_contract()`` method returning a :class:`GraphContract`; the engine's estimator then
prepares the inputs the contract names (see :mod:`neurofb.focus.neural`).
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from neurofb.errors import ModelError
from neurofb.focus.card import sha256_bytes

__all__ = [
    "EXPORT_TOLERANCE",
    "OPSET",
    "GraphContract",
    "GraphTensor",
    "contract_for",
    "erf_reference",
    "erf_table",
    "export_folder",
    "export_onnx",
    "onnx_section",
]

#: ONNX opset of the exported graph (BrainFlow 5's bundled ONNX Runtime 1.11 runs up to 16).
OPSET = 16
#: Largest difference allowed between torch and ONNX Runtime on the export check (logit and
#: attention, float64).
EXPORT_TOLERANCE = 1e-9
#: Graph metadata keys.
META_FORMAT = "neurofb.format"
META_WEIGHTS = "neurofb.weights_sha256"
META_CONTRACT = "neurofb.contract"


@dataclass(frozen=True)
class GraphTensor:
    """One input or output of the exported graph.

    Parameters
    ----------
    name : str
        Tensor name in the graph.
    shape : tuple of int or str
        Its shape; a str names a dimension that may vary (``"batch"``, ``"chans"``).
    meaning : str
        What it holds, with units.
    """

    name: str
    shape: tuple[int | str, ...]
    meaning: str


@dataclass(frozen=True)
class GraphContract:
    """What the exported graph takes and returns.

    Parameters
    ----------
    inputs, outputs : tuple of GraphTensor
        In call order (``model(*inputs)`` returns ``outputs``).
    example : callable
        ``example(dtype, n_chans, batch, seed)`` returns input tensors (in ``inputs`` order) to
        trace and check the export with.
    """

    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]
    example: Callable[[torch.dtype, int, int, int], tuple[torch.Tensor, ...]]

    def describe(self) -> dict[str, Any]:
        """The contract as JSON-ready data (for model.json and the graph's metadata)."""
        return {"inputs": [asdict(t) for t in self.inputs],
                "outputs": [asdict(t) for t in self.outputs]}


def _focusnet_contract(model: nn.Module) -> GraphContract:
    """The contract of :class:`~neurofb.focus.model.FocusNet`: windows and positions in."""
    n_times = int(model.n_times)
    sfreq = float(model.sfreq)
    personal = model.personal.n_chans if model.personal is not None else None
    chans: int | str = personal if personal is not None else "chans"

    def example(dtype: torch.dtype, n_chans: int, batch: int, seed: int
                ) -> tuple[torch.Tensor, ...]:
        from neurofb.dsp import montage

        n = personal if personal is not None else n_chans
        gen = torch.Generator().manual_seed(seed)
        names = montage.preset("full")[:n] if n <= 19 else montage.preset("full")
        pos = torch.as_tensor(montage.positions(names), dtype=dtype)
        x = torch.randn(batch, len(names), n_times, generator=gen, dtype=torch.float64) * 10
        return x.to(dtype), pos

    return GraphContract(
        inputs=(
            GraphTensor("x", ("batch", chans, n_times),
                        f"EEG windows in µV at {sfreq:g} Hz, band-passed 1-45 Hz (the engine's "
                        "causal filter) and resampled per window (neurofb.focus.neural."
                        "resample_windows); channels are electrodes in any order"),
            GraphTensor("pos", (chans, 3),
                        "electrode positions in metres, same order as the channels of x "
                        "(MNE's standard_1005 template: neurofb.dsp.montage.positions)"),
        ),
        outputs=(
            GraphTensor("logit", ("batch",), "log-odds of focus; focus = sigmoid(logit)"),
            GraphTensor("attention", ("batch", chans),
                        "attention over the channels of x (sums to 1 per window)"),
        ),
        example=example,
    )


def contract_for(model: nn.Module) -> GraphContract:
    """The graph contract of a network: its own ``onnx_contract()``, or FocusNet's.

    Raises
    ------
    ModelError
        The network documents no contract.
    """
    own = getattr(model, "onnx_contract", None)
    if callable(own):
        contract = own()
        if not isinstance(contract, GraphContract):
            raise ModelError(f"{type(model).__name__}.onnx_contract() must return a "
                             "GraphContract")
        return contract
    from neurofb.focus.model import FocusNet

    if isinstance(model, FocusNet):
        return _focusnet_contract(model)
    raise ModelError(f"{type(model).__name__} has no ONNX graph contract: give it an "
                     "onnx_contract() method returning neurofb.focus.export.GraphContract")


#: Width of the intervals of the piecewise erf, and the polynomial degree on each.
_ERF_STEP = 0.0625
_ERF_DEGREE = 7
#: Beyond this |x|, erf(x) is ±1 in float64 (1 - erf(6) < 2.2e-17).
_ERF_TOP = 6.0


def erf_table() -> np.ndarray:
    """Power-series coefficients of erf on each interval ``[k h, (k + 1) h)`` of ``[0, 6)``.

    On interval ``k``, ``erf(t) = Σ_j c[k, j] u**j`` with ``u = (t - k h) · 2 / h - 1`` in
    [-1, 1]: Chebyshev interpolation of :func:`math.erf` at degree 7 on intervals of 1/16,
    converted to powers. Largest error on [0, 6] in float64: below 1e-15 (the test checks
    it against :func:`math.erf`).

    Returns
    -------
    array, shape (96, 8)
    """
    from numpy.polynomial import chebyshev

    rows = []
    for k in range(round(_ERF_TOP / _ERF_STEP)):
        lo = k * _ERF_STEP

        def f(u: np.ndarray, lo: float = lo) -> np.ndarray:
            return np.array([math.erf(lo + _ERF_STEP * (v + 1.0) / 2.0) for v in u])

        power = chebyshev.cheb2poly(chebyshev.chebinterpolate(f, _ERF_DEGREE))
        rows.append(np.pad(power, (0, _ERF_DEGREE + 1 - power.size)))
    return np.asarray(rows)


def erf_reference(x: np.ndarray) -> np.ndarray:
    """The graph's erf in numpy: the same table, the same operations (for tests)."""
    table = erf_table()
    t = np.minimum(np.abs(x), np.nextafter(_ERF_TOP, 0.0))
    s = t * (1.0 / _ERF_STEP)
    ki = s.astype(np.int64)  # truncation = floor for s >= 0; s < 96
    u = (s - ki.astype(np.float64)) * 2.0 - 1.0
    u2 = u * u
    u3, u4 = u2 * u, u2 * u2
    powers = np.stack([u, u2, u3, u4, u4 * u, u3 * u3, u4 * u3], axis=-1)
    erf = table[ki, 0] + np.add.reduce(table[ki, 1:] * powers, axis=-1)
    return np.minimum(erf, 1.0) * np.sign(x)


def _replace_erf(graph: Any) -> int:
    """Replace every ``Erf`` node of ``graph`` (onnx GraphProto) by float64 elementary ops.

    Per element: ``t = min(|x|, 6⁻)``, interval ``k = floor(16 t)`` (at most 95), local variable
    ``u = (16 t - k) · 2 - 1``, then the interval's coefficients (``Gather``) times
    ``u, u², …, u⁷`` summed, and the sign of ``x`` (erf is odd). Only operators that every
    ONNX Runtime since 1.11 (BrainFlow's) runs in float64.
    """
    from onnx import TensorProto, helper, numpy_helper

    nodes = list(graph.node)
    if not any(n.op_type == "Erf" for n in nodes):
        return 0
    table = erf_table()
    consts = {
        "erf_c0": np.ascontiguousarray(table[:, 0]),
        "erf_rest": np.ascontiguousarray(table[:, 1:]),
        "erf_inv_step": np.array(1.0 / _ERF_STEP),
        "erf_two": np.array(2.0),
        "erf_one": np.array(1.0),
        "erf_top": np.array(np.nextafter(_ERF_TOP, 0.0)),
        "erf_axis": np.array([-1], dtype=np.int64),
    }
    for name, value in consts.items():
        graph.initializer.append(numpy_helper.from_array(value, name))
    out_nodes = []
    replaced = 0
    for node in nodes:
        if node.op_type != "Erf":
            out_nodes.append(node)
            continue
        x, y = node.input[0], node.output[0]
        p = f"erf{replaced}_"
        replaced += 1
        make = helper.make_node
        out_nodes += [
            make("Abs", [x], [p + "a"]),
            make("Min", [p + "a", "erf_top"], [p + "t"]),  # erf(6⁻) rounds to 1
            make("Mul", [p + "t", "erf_inv_step"], [p + "s"]),  # in [0, 96)
            # floor by truncation (s >= 0; ONNX Runtime 1.11 has no float64 Floor)
            make("Cast", [p + "s"], [p + "ki"], to=TensorProto.INT64),
            make("Cast", [p + "ki"], [p + "k"], to=TensorProto.DOUBLE),
            make("Sub", [p + "s", p + "k"], [p + "d"]),  # exact: s and k are close
            make("Mul", [p + "d", "erf_two"], [p + "d2"]),
            make("Sub", [p + "d2", "erf_one"], [p + "u0"]),
            make("Unsqueeze", [p + "u0", "erf_axis"], [p + "u1"]),
            # u, u², ..., u⁷ side by side, times the interval's coefficients, summed
            make("Mul", [p + "u1", p + "u1"], [p + "u2"]),
            make("Mul", [p + "u2", p + "u1"], [p + "u3"]),
            make("Mul", [p + "u2", p + "u2"], [p + "u4"]),
            make("Mul", [p + "u4", p + "u1"], [p + "u5"]),
            make("Mul", [p + "u3", p + "u3"], [p + "u6"]),
            make("Mul", [p + "u4", p + "u3"], [p + "u7"]),
            make("Concat", [p + f"u{j}" for j in range(1, _ERF_DEGREE + 1)], [p + "pw"],
                 axis=-1),
            make("Gather", ["erf_rest", p + "ki"], [p + "rows"], axis=0),  # (..., degree)
            make("Mul", [p + "rows", p + "pw"], [p + "terms"]),
            make("ReduceSum", [p + "terms", "erf_axis"], [p + "sum"], keepdims=0),
            make("Gather", ["erf_c0", p + "ki"], [p + "c0"], axis=0),
            make("Add", [p + "c0", p + "sum"], [p + "e0"]),
            make("Min", [p + "e0", "erf_one"], [p + "e"]),  # the fit overshoots 1 near 6
            make("Sign", [x], [p + "sign"]),  # erf is odd; Sign(0) = 0 = erf(0)
            make("Mul", [p + "e", p + "sign"], [y]),
        ]
    del graph.node[:]
    graph.node.extend(out_nodes)
    return replaced


def _square_by_product(graph: Any) -> int:
    """``Pow(x, 2)`` (layer norm's variance) as ``Mul(x, x)``: the same number, far cheaper."""
    from onnx import helper, numpy_helper

    made = {n.output[0]: n for n in graph.node}
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    changed = 0
    for node in graph.node:
        if node.op_type == "Pow":
            source = made.get(node.input[1])
            proto = (source.attribute[0].t if source is not None and source.op_type == "Constant"
                     else inits.get(node.input[1]))
            if proto is not None:
                value = numpy_helper.to_array(proto)
                if value.size == 1 and float(value.ravel()[0]) == 2.0:
                    nodes.append(helper.make_node("Mul", [node.input[0], node.input[0]],
                                                  list(node.output), name=node.name))
                    changed += 1
                    continue
        nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    return changed


def _exact_log_bases(graph: Any) -> int:
    """Give ``log10``/``log2`` their float64 divisors: torch's exporter rounds ln 10 to float32.

    ``torch.log10(x)`` exports as ``Log(x) / ln(10)`` with ``ln(10)`` stored as float32 — a
    1e-8 relative error in a float64 graph. Each such divisor after a ``Log`` is replaced by the
    exact double.
    """
    from onnx import numpy_helper

    exact = {float(np.float32(math.log(b))): math.log(b) for b in (10.0, 2.0)}
    made = {n.output[0]: n for n in graph.node}
    inits = {i.name: i for i in graph.initializer}
    fixed = 0
    for node in graph.node:
        if node.op_type != "Div" or made.get(node.input[0]) is None:
            continue
        if made[node.input[0]].op_type != "Log":
            continue
        source = made.get(node.input[1])
        proto = (source.attribute[0].t if source is not None and source.op_type == "Constant"
                 else inits.get(node.input[1]))
        if proto is None:
            continue
        value = numpy_helper.to_array(proto)
        if value.size != 1 or value.dtype != np.float64 or float(value.ravel()[0]) not in exact:
            continue
        proto.CopyFrom(numpy_helper.from_array(
            np.full(value.shape, exact[float(value.ravel()[0])]), proto.name))
        fixed += 1
    return fixed


class _Traced(nn.Module):
    """Calls the network with the contract's inputs positionally (no optional arguments)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.net(*inputs)


def _to_onnx_bytes(net: nn.Module, contract: GraphContract, example: tuple[torch.Tensor, ...],
                   opset: int) -> bytes:
    """Trace the network with torch's TorchScript-based exporter (fixed opset, no DFT op)."""
    dynamic: dict[str, dict[int, str]] = {}
    for t in (*contract.inputs, *contract.outputs):
        axes = {i: d for i, d in enumerate(t.shape) if isinstance(d, str)}
        if axes:
            dynamic[t.name] = axes
    buf = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation and traces Python branches
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Traced(net).eval(), example, buf, dynamo=False, opset_version=opset,
            input_names=[t.name for t in contract.inputs],
            output_names=[t.name for t in contract.outputs],
            dynamic_axes=dynamic, do_constant_folding=True,
        )
    return buf.getvalue()


def _check_export(data: bytes, net: nn.Module, contract: GraphContract) -> float:
    """Run the graph with ONNX Runtime and torch on seeded inputs; the largest difference."""
    from neurofb.focus.runtime import session_from_bytes

    session = session_from_bytes(data)
    worst = 0.0
    # other channel counts and batch sizes than the trace's: nothing may be baked in
    for n_chans, batch, seed in ((19, 1, 1), (4, 3, 2), (8, 1, 3)):
        inputs = contract.example(torch.float64, n_chans, batch, seed)
        with torch.inference_mode():
            want = net(*inputs)
        want = want if isinstance(want, tuple | list) else (want,)
        got = session.run(None, {t.name: v.numpy() for t, v in
                                 zip(contract.inputs, inputs, strict=True)})
        for w, g in zip(want, got, strict=True):
            w = w.detach().numpy()
            if w.shape != g.shape:
                raise ModelError(f"the exported graph returns shape {g.shape} where the network "
                                 f"returns {w.shape}")
            worst = max(worst, float(np.max(np.abs(w - g), initial=0.0)))
    if not worst <= EXPORT_TOLERANCE:
        raise ModelError(f"the exported graph differs from the network by {worst:.3g} "
                         f"(allowed {EXPORT_TOLERANCE:g}): this network does not export "
                         "faithfully to ONNX")
    return worst


def export_onnx(model: nn.Module, path: str | os.PathLike, *, weights_sha256: str,
                opset: int = OPSET) -> dict[str, Any]:
    """Export a network to a float64 ONNX file and check it against torch.

    Parameters
    ----------
    model : nn.Module
        The network (its contract: :func:`contract_for`). Not modified.
    path : path-like
        The ``.onnx`` file to write (replaced atomically).
    weights_sha256 : str
        SHA-256 of the weights file the network was loaded from or saved to (stamped in the
        graph's metadata).
    opset : int
        ONNX opset (default :data:`OPSET`).

    Returns
    -------
    dict
        The ``onnx`` section of model.json (:func:`onnx_section`).

    Raises
    ------
    ModelError
        The network has no contract or does not export faithfully.
    """
    import onnx

    net = copy.deepcopy(model).to("cpu", torch.float64).eval()
    contract = contract_for(net)
    example = contract.example(torch.float64, 19, 2, 0)
    data = _to_onnx_bytes(net, contract, example, opset)
    proto = onnx.load_from_string(data)
    n_erf = _replace_erf(proto.graph)
    _exact_log_bases(proto.graph)
    _square_by_product(proto.graph)
    proto.producer_name = "neurofb"
    described = contract.describe()
    for key, value in ((META_FORMAT, "neurofb-focus-graph"), (META_WEIGHTS, weights_sha256),
                       (META_CONTRACT, json.dumps(described))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    worst = _check_export(data, net, contract)
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    os.chmod(out, 0o644)
    return onnx_section(out.name, data, opset=opset, weights_sha256=weights_sha256,
                        contract=described, erf_replaced=n_erf, checked=worst)


def onnx_section(file: str, data: bytes, *, opset: int, weights_sha256: str,
                 contract: dict[str, Any], erf_replaced: int, checked: float,
                 quantised: str | None = None) -> dict[str, Any]:
    """The ``onnx`` section of model.json for an exported graph."""
    import onnx

    section = {
        "file": file,
        "sha256": sha256_bytes(data),
        "bytes": len(data),
        "opset": opset,
        "dtype": "float64",
        "weights_sha256": weights_sha256,
        **contract,
        "sigmoid": "outside the graph, in float64: focus = 1 / (1 + exp(-logit))",
        "erf": f"{erf_replaced} Erf nodes computed by a float64 piecewise polynomial "
               "(ONNX Runtime has no float64 Erf)" if erf_replaced else "none",
        "checked_max_abs_diff": checked,
        "exported_with": {"torch": torch.__version__, "onnx": onnx.__version__},
    }
    if quantised:
        section["quantised"] = quantised
    return section


def export_folder(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Export an existing model folder's network to its ``model.onnx`` and record it.

    For model folders written before graphs were exported, or to re-export after an upgrade:
    the weights are loaded and checked (:func:`neurofb.focus.io.load_model`), the graph written
    beside them and model.json's ``onnx`` section replaced.

    Returns
    -------
    dict
        The new ``onnx`` section.

    Raises
    ------
    ModelError
        The folder or its weights are missing or damaged, or the network does not export.
    """
    from neurofb.focus.card import ONNX
    from neurofb.focus.io import load_model, write_meta

    folder = Path(model_dir)
    model, meta = load_model(folder)
    section = export_onnx(model, folder / ONNX, weights_sha256=meta["weights"]["sha256"])
    meta["onnx"] = section
    write_meta(folder, meta)
    return section


class _SingleInput(nn.Module):
    """A fixed montage's graph for BrainFlow's ``MLModel``: one input, one output (focus)."""

    def __init__(self, net: nn.Module, pos: torch.Tensor) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("pos_const", pos)

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        logit = self.net(eeg, self.pos_const)[0]
        return torch.sigmoid(logit)


def export_brainflow(model_dir: str | os.PathLike, channels: list[str],
                     path: str | os.PathLike) -> dict[str, Any]:
    """Export a FocusNet model folder as a one-input graph that BrainFlow's ``MLModel`` runs.

    BrainFlow's ONNX classifier (``BrainFlowClassifiers.ONNX_CLASSIFIER``) feeds a model one
    input tensor of fixed shape from a flat array of doubles and reads one output. This graph
    takes ``eeg``, shape (1, n_channels, n_times) float64 — the windows the engine would give
    the network, flattened channel by channel — with the electrode positions of ``channels``
    built in, and returns ``focus``, shape (1,): sigmoid(logit) in float64.

    Parameters
    ----------
    model_dir : path-like
        A model folder (its weights are loaded with torch).
    channels : list of str
        Electrode names in the order the caller will pass them (10-05 names).
    path : path-like
        The ``.onnx`` file to write.

    Returns
    -------
    dict
        What the file holds: input shape, channels, sampling rate, opset, SHA-256.

    Raises
    ------
    ModelError
        Unknown electrode names, a personalised model on other electrodes, or a network other
        than FocusNet.
    """
    import onnx

    from neurofb.dsp import montage
    from neurofb.focus.io import load_model
    from neurofb.focus.model import FocusNet

    model, meta = load_model(model_dir)
    if not isinstance(model, FocusNet):
        raise ModelError("only FocusNet models export for BrainFlow's MLModel")
    names = [montage.normalise_name(c) for c in channels]
    unknown = [c for c, n in zip(channels, names, strict=True) if n is None]
    if unknown or len(names) < 1:
        raise ModelError(f"unknown electrode names {unknown}: use 10-20/10-10 names")
    net = copy.deepcopy(model).to("cpu", torch.float64).eval()
    pos = torch.as_tensor(montage.positions(names), dtype=torch.float64)
    graph = _SingleInput(net, pos).eval()
    x = torch.randn(1, len(names), net.n_times, dtype=torch.float64) * 10.0
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (x,), buf, dynamo=False, opset_version=OPSET,
                          input_names=["eeg"], output_names=["focus"], do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    _replace_erf(proto.graph)
    _exact_log_bases(proto.graph)
    _square_by_product(proto.graph)
    proto.ir_version = min(proto.ir_version, 8)  # ONNX Runtime 1.11 (BrainFlow 5) reads IR 8
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_WEIGHTS, meta["weights"]["sha256"]
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    from neurofb.focus.runtime import session_from_bytes

    with torch.inference_mode():
        want = graph(x).numpy()
    got = session_from_bytes(data).run(None, {"eeg": x.numpy()})[0]
    if not np.max(np.abs(want - got)) <= EXPORT_TOLERANCE:
        raise ModelError("the BrainFlow graph differs from the network; not written")
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return {"file": str(out), "sha256": sha256_bytes(data), "input": "eeg",
            "shape": [1, len(names), int(net.n_times)], "channels": list(names),
            "sfreq": float(net.sfreq), "output": "focus", "opset": OPSET}


def export_int8(model_dir: str | os.PathLike, path: str | os.PathLike) -> dict[str, Any]:
    """Export a model folder's network with int8 weights (ONNX Runtime dynamic quantisation).

    The network is traced in float32 (dynamic quantisation works on float32 graphs), then its
    matrix products get int8 weights and per-call int8 activations
    (:func:`onnxruntime.quantization.quantize_dynamic`). Inputs and outputs stay float32
    (``x``, ``pos`` → ``logit``, ``attention``, the contract of ``model.onnx``). The engine does
    not run it: its numbers depend on the CPU's integer kernels, which the float64 graph's
    determinism guarantee excludes; it is for deployment where size and speed matter more. See
    ``neurofb bench model`` for its size, speed and AUC change.

    Returns
    -------
    dict
        ``file``, ``sha256``, ``bytes``, ``float32_bytes``.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from neurofb.focus.io import load_model

    model, meta = load_model(model_dir)
    net = copy.deepcopy(model).to("cpu", torch.float32).eval()
    contract = contract_for(net)
    data = _to_onnx_bytes(net, contract, contract.example(torch.float32, 19, 2, 0), OPSET)
    out = Path(path)
    f32 = out.with_name(out.name + ".f32.tmp")
    f32.write_bytes(data)
    try:
        tmp = out.with_name(out.name + ".tmp")
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process (shape inference) is not needed
        try:
            quantize_dynamic(str(f32), str(tmp), weight_type=QuantType.QInt8)
        finally:
            root.setLevel(level)
        proto = onnx.load(str(tmp))
        entry = proto.metadata_props.add()
        entry.key, entry.value = META_WEIGHTS, meta["weights"]["sha256"]
        onnx.save(proto, str(tmp))
        os.replace(tmp, out)
    finally:
        f32.unlink(missing_ok=True)
    raw = out.read_bytes()
    return {"file": str(out), "sha256": sha256_bytes(raw), "bytes": len(raw),
            "float32_bytes": len(data), "weights_sha256": meta["weights"]["sha256"]}
