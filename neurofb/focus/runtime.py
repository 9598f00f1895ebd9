"""Run a model folder's network with ONNX Runtime: the live and replay path never imports torch.

:func:`load_network` reads ``model.onnx`` once, checks its SHA-256 against ``model.json`` and the
weights hash stamped in the graph against the weights model.json describes (a tampered or stale
graph is a :class:`~neurofb.errors.ModelError`; nothing is ever unpickled: ONNX is protobuf),
and opens one ONNX Runtime session on those very bytes.

Each session runs on one intra-op thread, sequentially: the engine scores one small window at a
time, where thread wake-ups cost more than they save, and a session owns its settings (nothing
process-wide is changed per prediction). A replay scores ahead on the pipeline's own worker
thread instead.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neurofb.errors import ModelError
from neurofb.focus.card import META, ONNX, sha256_bytes

__all__ = ["Network", "load_network", "session_from_bytes", "sigmoid"]

#: Graph metadata key holding the SHA-256 of the weights the graph was exported from.
WEIGHTS_KEY = "neurofb.weights_sha256"


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
class Network:
    """A model folder's network, ready to run.

    Attributes
    ----------
    path : Path
        The ``.onnx`` file.
    sha256 : str
        Its hash (checked against model.json).
    inputs, outputs : tuple of str
        Graph input and output names, in order.
    session : onnxruntime.InferenceSession
    """

    path: Path
    sha256: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    session: Any

    def run(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """Run the graph; ``feeds`` maps every input name to a float64 array."""
        return self.session.run(None, feeds)


def _stale(folder: Path) -> str:
    return (f"re-export it with `neurofb export-model {folder}` (needs torch), or restore the "
            "original files")


def load_network(model_dir: str | os.PathLike, meta: dict[str, Any], *, threads: int = 1
                 ) -> Network:
    """Open a model folder's ``model.onnx`` after checking it is the one model.json describes.

    Parameters
    ----------
    model_dir : path-like
        The model folder.
    meta : dict
        Its parsed model.json (:func:`neurofb.focus.card.read_meta`).
    threads : int
        Intra-op threads of the session.

    Raises
    ------
    ModelError
        No ONNX graph (a folder written before graphs were exported), a graph whose SHA-256
        differs from model.json's, one exported from other weights, or one ONNX Runtime cannot
        open.
    """
    folder = Path(model_dir)
    section = meta.get("onnx")
    if not isinstance(section, dict) or not section.get("sha256"):
        raise ModelError(f"{folder} has no ONNX graph of its network ({ONNX} is not in {META}): "
                         f"export it once with `neurofb export-model {folder}`")
    path = folder / str(section.get("file") or ONNX)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"{path} is missing; {_stale(folder)}") from None
    except OSError as err:
        raise ModelError(f"cannot read {path}: {err.strerror or err}") from None
    actual = sha256_bytes(data)
    if actual != section["sha256"]:
        raise ModelError(
            f"{path.name} does not match {META} (SHA-256 {actual[:12]}…, {META} records "
            f"{str(section['sha256'])[:12]}…): the file changed after export; {_stale(folder)}")
    weights = meta.get("weights", {}).get("sha256")
    if section.get("weights_sha256") != weights:
        raise ModelError(f"{path.name} was exported from other weights than {META} describes; "
                         f"{_stale(folder)}")
    try:
        session = session_from_bytes(data, threads=threads)
    except Exception as err:  # onnxruntime raises its own exception types
        raise ModelError(f"ONNX Runtime cannot open {path}: {err}") from None
    stamped = session.get_modelmeta().custom_metadata_map.get(WEIGHTS_KEY)
    if stamped != weights:
        raise ModelError(f"{path.name} carries the weights hash {str(stamped)[:12]}…, "
                         f"{META} records {str(weights)[:12]}…; {_stale(folder)}")
    inputs = tuple(i.name for i in session.get_inputs())
    outputs = tuple(o.name for o in session.get_outputs())
    declared = tuple(t.get("name") for t in section.get("inputs", []))
    if declared and declared != inputs:
        raise ModelError(f"{path.name} takes inputs {inputs}, {META} declares {declared}; "
                         f"{_stale(folder)}")
    return Network(path, actual, inputs, outputs, session)


def contract(meta: dict[str, Any]) -> dict[str, Any]:
    """The graph contract recorded in model.json (``{}`` when there is none)."""
    section = meta.get("onnx")
    if not isinstance(section, dict):
        return {}
    return {k: section[k] for k in ("inputs", "outputs") if k in section}


def describe(network: Network) -> str:
    """One line naming the graph's inputs and outputs (for logs)."""
    return json.dumps({"file": network.path.name, "inputs": network.inputs,
                       "outputs": network.outputs})
