"""Run a model folder's graphs with ONNX Runtime: the live and replay path never imports torch.

:func:`load_network` reads one graph (``model.onnx`` for cold mode, ``baseline.onnx`` for
baseline mode) once, checks its SHA-256 against ``model.json``, and the weights hash and the
mode stamped in the graph against what model.json describes (a tampered or stale graph is a
:class:`~neurofb.errors.ModelError`; nothing is ever unpickled: ONNX is protobuf, read here by
:mod:`neurofb.focus.onnx_wire` without importing the ``onnx`` package).

:meth:`Network.bind` then specialises the graph to one electrode set: the ``pos`` input becomes
a constant, and ONNX Runtime's constant folding computes, once, everything that depends only on
the electrodes and the weights (the linear branch's per-channel weights, the position
embeddings, the feature standardisation folded into them), so a window costs only what depends
on it. The session runs on one intra-op thread, sequentially: the engine scores one small window
at a time, where thread wake-ups cost more than they save, and a session owns its settings
(nothing process-wide is changed per prediction).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.errors import ModelError
from neurofb.focus.card import GRAPH_FILES, META, model_file, sha256_bytes
from neurofb.focus.onnx_wire import read_graph_info, with_constant_input

__all__ = ["BoundGraph", "Network", "load_network", "session_from_bytes", "sigmoid"]

#: Graph metadata keys: the SHA-256 of the weights the graph was exported from, and its mode.
WEIGHTS_KEY = "neurofb.weights_sha256"
MODE_KEY = "neurofb.mode"


def session_from_bytes(data: bytes, *, threads: int = 1) -> Any:
    """An ONNX Runtime CPU session on a serialised graph.

    Parameters
    ----------
    data : bytes
        The ONNX model.
    threads : int
        Intra-op threads (1: one small window at a time is fastest on one thread).

    Returns
    -------
    onnxruntime.InferenceSession
    """
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, int(threads))
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3  # errors only
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(data, sess_options=opts, providers=["CPUExecutionProvider"])


def sigmoid(logit: np.ndarray) -> np.ndarray:
    """``1 / (1 + exp(-logit))`` in float64, without overflow for large ``|logit|``."""
    z = np.asarray(logit, dtype=np.float64)
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


@dataclass(frozen=True)
class BoundGraph:
    """A graph specialised to one electrode set: features in, logit and attention out.

    Attributes
    ----------
    session : onnxruntime.InferenceSession
    n_chans : int
        Electrodes it was bound to.
    """

    session: Any
    n_chans: int

    def run(self, feats: np.ndarray) -> tuple[float, np.ndarray]:
        """Score one window's features, shape (1, n_chans, n_features), float64.

        Returns
        -------
        logit : float
        attention : array, shape (n_chans,)
        """
        logit, attention = self.session.run(None, {"feats": feats})
        return float(logit[0]), attention[0]


@dataclass(frozen=True)
class Network:
    """One of a model folder's graphs, checked, ready to bind.

    Attributes
    ----------
    path : Path
        The ``.onnx`` file.
    sha256 : str
        Its hash (checked against model.json).
    mode : str
        ``"cold"`` or ``"baseline"``.
    inputs, outputs : tuple of str
        Graph input and output names, in order.
    data : bytes
        The graph as read (and hashed).
    """

    path: Path
    sha256: str
    mode: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    data: bytes = field(repr=False)

    def session(self) -> Any:
        """A session on the whole graph (inputs ``feats`` and ``pos``), for tools and tests."""
        return session_from_bytes(self.data)

    def bind(self, pos: np.ndarray) -> BoundGraph:
        """Specialise the graph to electrode positions (m), shape (n_chans, 3).

        Raises
        ------
        ModelError
            ONNX Runtime cannot open the specialised graph.
        """
        pos = np.ascontiguousarray(pos, dtype=np.float64)
        if pos.ndim != 2 or pos.shape[1] != 3 or len(pos) < 1:
            raise ValueError(f"positions must be (n_chans, 3), got {pos.shape}")
        try:
            session = session_from_bytes(with_constant_input(self.data, "pos", pos))
        except Exception as err:  # onnxruntime raises its own exception types
            raise ModelError(f"ONNX Runtime cannot run {self.path.name} on these electrodes: "
                             f"{err}") from None
        bound = BoundGraph(session, len(pos))
        # one warm-up window: ONNX Runtime allocates its buffers on the first run, so the
        # stream's first real window does not pay for it (its result is discarded)
        n_features = session.get_inputs()[0].shape[-1]
        if isinstance(n_features, int):
            bound.run(np.zeros((1, len(pos), n_features)))
        return bound


def _stale(folder: Path) -> str:
    return (f"re-export it with `neurofb export-model {folder}` (needs torch), or restore the "
            "original files")


def graph_entry(meta: dict[str, Any], mode: str) -> dict[str, Any] | None:
    """model.json's record of a mode's graph (None when the folder has none)."""
    section = meta.get("onnx")
    if not isinstance(section, dict):
        return None
    entry = section if mode == "cold" else section.get(mode)
    return entry if isinstance(entry, dict) and entry.get("sha256") else None


def load_network(model_dir: str | os.PathLike, meta: dict[str, Any], *, mode: str = "cold"
                 ) -> Network:
    """Read a model folder's graph of one mode after checking it is the one model.json describes.

    Parameters
    ----------
    model_dir : path-like
        The model folder.
    meta : dict
        Its parsed model.json (:func:`neurofb.focus.card.read_meta`).
    mode : {"cold", "baseline"}
        Which graph.

    Raises
    ------
    ModelError
        No such graph, a graph whose SHA-256 differs from model.json's, one exported from
        other weights or for another mode, one that is not a readable ONNX model, or a
        model.json naming a graph outside the folder.
    """
    folder = Path(model_dir)
    if mode not in GRAPH_FILES:
        raise ValueError(f"mode must be one of {sorted(GRAPH_FILES)}, got {mode!r}")
    entry = graph_entry(meta, mode)
    if entry is None:
        raise ModelError(f"{folder} has no {mode}-mode graph ({GRAPH_FILES[mode]} is not in "
                         f"{META}): export it with `neurofb export-model {folder}`")
    field = "onnx.file" if mode == "cold" else f"onnx.{mode}.file"
    path = model_file(folder, entry, field, GRAPH_FILES[mode])
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path} is missing; {_stale(folder)}") from None
    except OSError as err:
        raise ModelError(f"cannot read {path}: {err.strerror or err}") from None
    actual = sha256_bytes(data)
    if actual != entry["sha256"]:
        raise ModelError(
            f"{path.name} does not match {META} (SHA-256 {actual[:12]}…, {META} records "
            f"{str(entry['sha256'])[:12]}…): the file changed after export; {_stale(folder)}")
    weights = meta.get("weights", {}).get("sha256")
    if meta["onnx"].get("weights_sha256") != weights:
        raise ModelError(f"{path.name} was exported from other weights than {META} describes; "
                         f"{_stale(folder)}")
    try:
        info = read_graph_info(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelError(f"{path} is not a readable ONNX graph ({err}); {_stale(folder)}"
                         ) from None
    stamped = info.metadata
    if stamped.get(WEIGHTS_KEY) != weights:
        raise ModelError(f"{path.name} carries the weights hash "
                         f"{str(stamped.get(WEIGHTS_KEY))[:12]}…, {META} records "
                         f"{str(weights)[:12]}…; {_stale(folder)}")
    if stamped.get(MODE_KEY) != mode:
        raise ModelError(f"{path.name} is the graph of {stamped.get(MODE_KEY)!r} mode, not "
                         f"{mode!r}; {_stale(folder)}")
    initialised = set(info.initializers)
    inputs = tuple(name for name in info.inputs if name not in initialised)
    outputs = info.outputs
    if inputs != ("feats", "pos") or outputs != ("logit", "attention"):
        raise ModelError(f"{path.name} takes {inputs} and gives {outputs}; this neurofb runs "
                         "graphs of ('feats', 'pos') → ('logit', 'attention'): upgrade neurofb "
                         "or re-export the model")
    return Network(path, actual, mode, inputs, outputs, data)


def describe(network: Network) -> str:
    """One line naming the graph's inputs and outputs (for logs)."""
    return json.dumps({"file": network.path.name, "mode": network.mode,
                       "inputs": network.inputs, "outputs": network.outputs})
