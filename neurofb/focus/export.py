"""Export a model folder's networks to ONNX, so the engine runs them without torch.

The engine scores windows with ONNX Runtime (:mod:`neurofb.focus.runtime`); torch is only for
training and calibration. :func:`export_onnx` turns any ``nn.Module`` with a documented *graph
contract* (an ``onnx_contract()`` method returning a :class:`GraphContract`: named inputs and
outputs with their shapes, units and meaning, and an example-input maker) into a graph:

- **float64** throughout: two CPUs (AVX2, AVX-512, SSE only) that round matrix products
  differently agree to about 1e-15, far below the 6 decimals a trace prints;
- **opset 17** (:data:`OPSET`): its ``LayerNormalization`` runs each layer norm as one node
  (the BrainFlow graph, :func:`export_brainflow`, uses opset 16, the newest its bundled ONNX
  Runtime 1.11 runs);
- **one window at a time**: the batch dimension is fixed at 1 (the engine never batches the
  graph, so no kernel ever sees a batch size: the determinism of ``docs/determinism.md``);
- the network's logit, not a probability: the sigmoid is applied outside, in float64;
- stamped with the SHA-256 of the weights it was exported from and its operating mode (graph
  metadata), checked against ``model.json`` when the engine loads it;
- checked after export: ONNX Runtime and torch must agree within :data:`EXPORT_TOLERANCE` on
  seeded inputs with other channel counts than the traced one, or the export fails with a
  :class:`~neurofb.errors.ModelError`.

A FocusLRA model folder holds two graphs, ``model.onnx`` (cold mode) and ``baseline.onnx``
(baseline mode), with the same contract (:func:`lra_contract`). :func:`export_brainflow` writes
a one-input graph for BrainFlow's ``MLModel`` (the Welch front end inside, as a DFT by matrix
product), :func:`export_int8` an int8-quantised graph.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import tempfile
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
    "export_brainflow",
    "export_folder",
    "export_int8",
    "export_onnx",
    "lra_contract",
    "onnx_section",
]

#: ONNX opset of a model folder's graphs (17: one ``LayerNormalization`` node per layer norm).
OPSET = 17
#: Opset of the graph for BrainFlow's ``MLModel`` (its bundled ONNX Runtime 1.11 runs up to 16).
BRAINFLOW_OPSET = 16
#: Largest difference allowed between torch and ONNX Runtime on the export check (float64).
EXPORT_TOLERANCE = 1e-9
#: Graph metadata keys.
META_FORMAT = "neurofb.format"
META_WEIGHTS = "neurofb.weights_sha256"
META_MODE = "neurofb.mode"
META_CONTRACT = "neurofb.contract"


@dataclass(frozen=True)
class GraphTensor:
    """One input or output of the exported graph.

    Parameters
    ----------
    name : str
        Tensor name in the graph.
    shape : tuple of int or str
        Its shape; a str names a dimension that may vary (``"chans"``).
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
        ``example(dtype, n_chans, seed)`` returns input tensors (in ``inputs`` order) to trace
        and check the export with.
    """

    inputs: tuple[GraphTensor, ...]
    outputs: tuple[GraphTensor, ...]
    example: Callable[[torch.dtype, int, int], tuple[torch.Tensor, ...]]

    def describe(self) -> dict[str, Any]:
        """The contract as JSON-ready data (for model.json and the graph's metadata)."""
        return {"inputs": [asdict(t) for t in self.inputs],
                "outputs": [asdict(t) for t in self.outputs]}


def _electrodes(n: int) -> list[str]:
    from neurofb.dsp import montage

    names = list(montage.preset("full")) + [n for n in montage.preset("synthetic")
                                           if n not in montage.preset("full")]
    if not 1 <= n <= len(names):
        raise ValueError(f"example electrode sets have 1..{len(names)} channels, got {n}")
    return names[:n]


def lra_contract(model: nn.Module) -> GraphContract:
    """The contract of :class:`~neurofb.focus.model.FocusLRA`: features and positions in."""
    n_features = int(model.n_features)

    def example(dtype: torch.dtype, n_chans: int, seed: int) -> tuple[torch.Tensor, ...]:
        from neurofb.dsp import montage

        gen = torch.Generator().manual_seed(seed)
        pos = torch.as_tensor(montage.positions(_electrodes(n_chans)), dtype=dtype)
        feats = torch.randn(1, n_chans, n_features, generator=gen, dtype=torch.float64) + 1.0
        return feats.to(dtype), pos

    return GraphContract(
        inputs=(
            GraphTensor("feats", (1, "chans", n_features),
                        "one window's features per electrode (neurofb.focus.features: log10 "
                        "band powers delta..gamma in µV², then log10 Welch PSD at 1..45 Hz in "
                        "µV²/Hz); raw for model.onnx (cold), re-centred on the session's rest "
                        "for baseline.onnx (neurofb.focus.baseline); electrodes in any order"),
            GraphTensor("pos", ("chans", 3),
                        "electrode positions in metres, the order of feats (MNE's 10-05 "
                        "template: neurofb.dsp.montage.positions)"),
        ),
        outputs=(
            GraphTensor("logit", (1,), "log-odds of focus (mean over the ensemble's members); "
                        "focus = sigmoid(logit)"),
            GraphTensor("attention", (1, "chans"),
                        "attention over the electrodes (sums to 1): the head map"),
        ),
        example=example,
    )


def contract_for(model: nn.Module) -> GraphContract:
    """The graph contract a network documents with its ``onnx_contract()`` method.

    Raises
    ------
    ModelError
        The network documents no contract.
    """
    own = getattr(model, "onnx_contract", None)
    if not callable(own):
        raise ModelError(f"{type(model).__name__} has no ONNX graph contract: give it an "
                         "onnx_contract() method returning neurofb.focus.export.GraphContract")
    contract = own()
    if not isinstance(contract, GraphContract):
        raise ModelError(f"{type(model).__name__}.onnx_contract() must return a GraphContract")
    return contract


class _Traced(nn.Module):
    """Calls the network with the contract's inputs positionally (no optional arguments)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, *inputs: torch.Tensor) -> Any:
        return self.net(*inputs)


def _to_onnx_bytes(net: nn.Module, contract: GraphContract, example: tuple[torch.Tensor, ...],
                   opset: int) -> bytes:
    """Trace the network with torch's TorchScript-based exporter (fixed opset)."""
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
    # other channel counts than the trace's: nothing may be baked in
    for n_chans, seed in ((19, 1), (4, 2), (8, 3), (3, 4)):
        inputs = contract.example(torch.float64, n_chans, seed)
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


def _stamp(proto: Any, entries: dict[str, str]) -> None:
    for key, value in entries.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden file beside it, moved into place when
    complete: a failed write (a full disk) leaves neither a partial file nor the hidden one,
    and a file it was to replace stays as it was.

    Raises
    ------
    ModelError
        The file cannot be written; the message names ``path``.
    """
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except OSError as err:
        raise ModelError(f"cannot write {path}: {err.strerror or err}") from None
    finally:
        tmp.unlink(missing_ok=True)


def export_onnx(model: nn.Module, path: str | os.PathLike, *, weights_sha256: str,
                mode: str = "cold", opset: int = OPSET) -> dict[str, Any]:
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
    mode : str
        The operating mode the graph serves (``"cold"`` or ``"baseline"``), stamped too.
    opset : int
        ONNX opset (default :data:`OPSET`).

    Returns
    -------
    dict
        The graph's entry for model.json (:func:`onnx_section`).

    Raises
    ------
    ModelError
        The network has no contract or does not export faithfully.
    """
    import onnx

    net = copy.deepcopy(model).to("cpu", torch.float64).eval()
    contract = contract_for(net)
    data = _to_onnx_bytes(net, contract, contract.example(torch.float64, 19, 0), opset)
    proto = onnx.load_from_string(data)
    proto.producer_name = "neurofb"
    described = contract.describe()
    _stamp(proto, {META_FORMAT: "neurofb-focus-graph", META_WEIGHTS: weights_sha256,
                   META_MODE: mode, META_CONTRACT: json.dumps(described)})
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    worst = _check_export(data, net, contract)
    out = Path(path)
    _write_atomic(out, data)
    return onnx_section(out.name, data, opset=opset, weights_sha256=weights_sha256,
                        contract=described, checked=worst, nodes=len(proto.graph.node))


def onnx_section(file: str, data: bytes, *, opset: int, weights_sha256: str,
                 contract: dict[str, Any], checked: float, nodes: int) -> dict[str, Any]:
    """A graph's entry in model.json: file, hash, opset, contract, export check."""
    import onnx

    return {
        "file": file,
        "sha256": sha256_bytes(data),
        "bytes": len(data),
        "opset": opset,
        "dtype": "float64",
        "nodes": nodes,
        "weights_sha256": weights_sha256,
        **contract,
        "sigmoid": "outside the graph, in float64: focus = 1 / (1 + exp(-logit))",
        "checked_max_abs_diff": checked,
        "exported_with": {"torch": torch.__version__, "onnx": onnx.__version__},
    }


def export_models(models: dict[str, nn.Module], folder: str | os.PathLike, *,
                  weights_sha256: str) -> dict[str, Any]:
    """Export every mode's network of a model folder; return model.json's ``onnx`` section.

    The cold graph is ``model.onnx`` (the section's own fields); the baseline graph
    ``baseline.onnx`` (``section["baseline"]``).
    """
    from neurofb.focus.card import GRAPH_FILES

    out = Path(folder)
    section: dict[str, Any] = {}
    for mode, net in models.items():
        entry = export_onnx(net, out / GRAPH_FILES[mode], weights_sha256=weights_sha256,
                            mode=mode)
        if mode == "cold":
            section.update(entry)
        else:
            section[mode] = {k: entry[k] for k in ("file", "sha256", "bytes", "nodes",
                                                   "checked_max_abs_diff")}
    return section


def export_folder(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Export an existing model folder's networks to its graphs and record them in model.json.

    For a folder whose graphs are missing or stale (after an upgrade): the weights are loaded
    and checked (:func:`neurofb.focus.io.load_model`), the graphs written beside them and
    model.json's ``onnx`` section replaced.

    Raises
    ------
    ModelError
        The folder or its weights are missing or damaged, or the network does not export.
    """
    from neurofb.focus.io import load_model, write_meta

    folder = Path(model_dir)
    models, meta = load_model(folder)
    meta["onnx"] = export_models(models, folder, weights_sha256=meta["weights"]["sha256"])
    write_meta(folder, meta)
    return meta["onnx"]


class WelchFront(nn.Module):
    """The engine's Welch features as a torch module: windows (µV) → model features.

    Segments of ``round(sfreq)`` samples (1 s) with 50 % overlap, each segment's mean removed,
    SciPy's periodic Hamming taper, a DFT by matrix product (cosine and sine of the 1…45 Hz
    bins only: no complex tensors, no DFT operator), one-sided density, mean over segments —
    :func:`neurofb.dsp.features.welch_psd` — then :func:`neurofb.focus.features.model_features`.
    Integer sampling rates only (the bins must fall on 1 Hz).

    Parameters
    ----------
    sfreq : int
        Sampling rate of the windows (Hz).
    n_times : int
        Samples per window.
    """

    def __init__(self, sfreq: int, n_times: int) -> None:
        super().__init__()
        from neurofb.dsp import tapers
        from neurofb.dsp.features import default_segment
        from neurofb.focus.features import _BANDS, FMAX, FMIN

        if int(sfreq) != sfreq or sfreq < 2 * FMAX:
            raise ModelError(f"the BrainFlow graph needs an integer sampling rate of at least "
                             f"{2 * FMAX} Hz, got {sfreq}")
        seg, overlap = default_segment(n_times, float(sfreq))
        if seg != int(sfreq):
            raise ModelError(f"windows of {n_times} samples are shorter than 1 s at {sfreq} Hz")
        self.seg = seg
        self.starts = list(range(0, n_times - seg + 1, seg - overlap))
        taper = np.asarray(tapers.taper("hamming", seg), dtype=np.float64)
        k = np.arange(FMIN, FMAX + 1, dtype=np.float64)  # bins at 1 Hz: bin index = Hz
        angle = 2.0 * math.pi / seg * np.outer(np.arange(seg), k)
        basis = np.concatenate([taper[:, None] * np.cos(angle),
                                -taper[:, None] * np.sin(angle)], axis=1)
        self.register_buffer("basis", torch.as_tensor(basis))
        self.n_bins = len(k)
        self.scale = 2.0 / (float(sfreq) * float(np.sum(taper**2))) / len(self.starts)
        member = np.zeros((self.n_bins, len(_BANDS)))
        for i, (a, b) in enumerate(_BANDS):
            member[a:b, i] = 1.0
        self.register_buffer("member", torch.as_tensor(member))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (batch, chans, n_times) µV → features (batch, chans, 50), log10 units."""
        from neurofb.focus.features import TINY

        frames = torch.stack([x[..., s : s + self.seg] for s in self.starts], dim=-2)
        frames = frames - frames.mean(-1, keepdim=True)
        spec = frames @ self.basis.to(frames.dtype)  # (B, C, S, 2 · bins): re, im
        power = (spec * spec).unflatten(-1, (2, self.n_bins)).sum(-2).sum(-2)
        psd = power * self.scale  # (B, C, bins) µV²/Hz
        bands = psd @ self.member.to(psd.dtype)
        return torch.log(torch.cat([bands, psd], dim=-1) + TINY) * (1.0 / math.log(10.0))


class _SingleInput(nn.Module):
    """A fixed montage's graph for BrainFlow's ``MLModel``: one input (EEG), one output (focus)."""

    def __init__(self, net: nn.Module, pos: torch.Tensor, front: WelchFront) -> None:
        super().__init__()
        self.net = net
        self.front = front
        self.register_buffer("pos_const", pos)

    def forward(self, eeg: torch.Tensor) -> torch.Tensor:
        logit = self.net(self.front(eeg), self.pos_const)[0]
        return torch.sigmoid(logit)


def export_brainflow(model_dir: str | os.PathLike, channels: list[str], path: str | os.PathLike,
                     *, sfreq: int = 250, window_s: float = 2.0) -> dict[str, Any]:
    """Export a model folder's cold network as a one-input graph BrainFlow's ``MLModel`` runs.

    BrainFlow's ONNX classifier (``BrainFlowClassifiers.ONNX_CLASSIFIER``) feeds a model one
    input tensor of fixed shape from a flat array of doubles and reads one output. This graph
    takes ``eeg``, shape (1, n_channels, window_s · sfreq) float64 — one filtered window at the
    headset's own rate, flattened channel by channel — computes the engine's Welch features
    inside (:class:`WelchFront`), with the electrode positions of ``channels`` built in, and
    returns ``focus``, shape (1,): sigmoid(logit) in float64. Cold mode only: baseline mode
    needs the session's statistics, which a fixed one-input graph cannot keep.

    Parameters
    ----------
    model_dir : path-like
        A model folder (its weights are loaded with torch).
    channels : list of str
        Electrode names in the order the caller will pass them (10-05 names).
    path : path-like
        The ``.onnx`` file to write.
    sfreq : int
        The headset's sampling rate in Hz (an integer).
    window_s : float
        Window length in seconds (the model was trained on 2 s).

    Raises
    ------
    ModelError
        Unknown or repeated electrode names, a personalised model, a rate the front end cannot
        serve (not an integer, or outside 90 Hz … :data:`neurofb.types.MAX_SFREQ`), or a file
        that cannot be written.
    """
    import onnx

    from neurofb.dsp import montage
    from neurofb.focus.features import FMAX
    from neurofb.focus.io import load_model
    from neurofb.focus.runtime import session_from_bytes
    from neurofb.types import MAX_SFREQ

    models, meta = load_model(model_dir)
    if meta.get("personal"):
        raise ModelError("a personalised model's head is not part of its graph: export the "
                         "population model it came from (model.json: parent)")
    names = [montage.normalise_name(c) for c in channels]
    unknown = [c for c, n in zip(channels, names, strict=True) if n is None]
    if unknown:
        raise ModelError(f"not 10-20/10-10 electrode names: {', '.join(unknown)}")
    if len(names) < montage.MIN_CHANNELS:
        raise ModelError(f"give at least {montage.MIN_CHANNELS} 10-20/10-10 electrode names, "
                         f"got {len(names)} ({', '.join(channels)})")
    twice = sorted({c for c, n in zip(channels, names, strict=True) if names.count(n) > 1})
    if twice:
        raise ModelError(f"each electrode may be given once; given more than once: "
                         f"{', '.join(twice)}")
    if int(sfreq) != sfreq or not 2 * FMAX <= sfreq <= MAX_SFREQ:  # before any allocation
        raise ModelError(f"the BrainFlow graph needs an integer sampling rate from {2 * FMAX} "
                         f"to {MAX_SFREQ:g} Hz, got {sfreq}")
    n_times = round(window_s * sfreq)
    net = copy.deepcopy(models["cold"]).to("cpu", torch.float64).eval()
    for block in net.blocks:
        block.plain_scores = True  # ONNX Runtime 1.11 fuses q @ kᵀ into a float32-only op
    pos = torch.as_tensor(montage.positions(names), dtype=torch.float64)
    graph = _SingleInput(net, pos, WelchFront(int(sfreq), n_times).double()).eval()
    x = torch.randn(1, len(names), n_times, dtype=torch.float64) * 10.0
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(graph, (x,), buf, dynamo=False, opset_version=BRAINFLOW_OPSET,
                          input_names=["eeg"], output_names=["focus"], do_constant_folding=True)
    proto = onnx.load_from_string(buf.getvalue())
    proto.ir_version = min(proto.ir_version, 8)  # ONNX Runtime 1.11 (BrainFlow 5) reads IR 8
    _stamp(proto, {META_WEIGHTS: meta["weights"]["sha256"], META_MODE: "cold"})
    onnx.checker.check_model(proto)
    data = proto.SerializeToString()
    with torch.inference_mode():
        want = graph(x).numpy()
    got = session_from_bytes(data).run(None, {"eeg": x.numpy()})[0]
    if not np.max(np.abs(want - got)) <= EXPORT_TOLERANCE:
        raise ModelError("the BrainFlow graph differs from the network; not written")
    out = Path(path)
    _write_atomic(out, data)
    return {"file": str(out), "sha256": sha256_bytes(data), "input": "eeg",
            "shape": [1, len(names), n_times], "channels": list(names), "sfreq": int(sfreq),
            "output": "focus", "opset": BRAINFLOW_OPSET, "mode": "cold"}


def export_int8(model_dir: str | os.PathLike, path: str | os.PathLike, *,
                mode: str = "cold") -> dict[str, Any]:
    """Export a model folder's network with int8 weights (ONNX Runtime dynamic quantisation).

    The network is traced in float32 (dynamic quantisation works on float32 graphs), then its
    matrix products get int8 weights and per-call int8 activations
    (:func:`onnxruntime.quantization.quantize_dynamic`). Inputs and outputs stay float32 with
    the names of ``model.onnx``. The engine does not run it: its numbers depend on the CPU's
    integer kernels, which the float64 graph's determinism excludes; it is for deployment
    where size matters more. ``neurofb bench model`` measures its size, speed and AUC change.

    The finished graph is written beside ``path`` under a hidden name and moved into place
    (the intermediate float32 and quantised files stay in a private temporary folder): a
    failed export leaves no file behind.

    Returns
    -------
    dict
        ``file``, ``sha256``, ``bytes``, ``float32_bytes``, ``mode``.

    Raises
    ------
    ModelError
        The folder's model cannot be loaded, is personalised (its head is not a graph), has no
        ``mode`` network, or the file cannot be written.
    """
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    from neurofb.focus.io import load_model

    models, meta = load_model(model_dir)
    if meta.get("personal"):
        raise ModelError("a personalised model's head is not part of its graph: export the "
                         "population model it came from (model.json: parent)")
    if mode not in models:
        raise ModelError(f"{model_dir} has no {mode!r} network (it has {sorted(models)})")
    net = copy.deepcopy(models[mode]).to("cpu", torch.float32).eval()
    contract = contract_for(net)
    data = _to_onnx_bytes(net, contract, contract.example(torch.float32, 19, 0), OPSET)
    out = Path(path)
    # quantize_dynamic reads and writes files: both live in a private temporary folder, and
    # only the finished graph is written beside the output (nothing half-made is left there)
    with tempfile.TemporaryDirectory(prefix="neurofb-int8-") as work:
        f32, int8 = Path(work) / "float32.onnx", Path(work) / "int8.onnx"
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # its advice to pre-process (shape inference) is not needed
        try:
            f32.write_bytes(data)
            quantize_dynamic(str(f32), str(int8), weight_type=QuantType.QInt8)
            proto = onnx.load(str(int8))
        except OSError as err:
            raise ModelError(f"cannot quantise the graph for {out}: the temporary folder "
                             f"{tempfile.gettempdir()} cannot be written "
                             f"({err.strerror or err})") from None
        finally:
            root.setLevel(level)
    _stamp(proto, {META_WEIGHTS: meta["weights"]["sha256"], META_MODE: mode})
    raw = proto.SerializeToString()
    _write_atomic(out, raw)
    return {"file": str(out), "sha256": sha256_bytes(raw), "bytes": len(raw),
            "float32_bytes": len(data), "weights_sha256": meta["weights"]["sha256"],
            "mode": mode}
