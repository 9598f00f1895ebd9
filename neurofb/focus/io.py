"""Model folders: ``weights.safetensors`` + the graphs + ``model.json``. Nothing unpickles.

A FocusLRA model folder holds one network per operating mode — ``cold`` (raw features) and
``baseline`` (features re-centred on the session's rest) — each a stacked ensemble
(:class:`~neurofb.focus.model.FocusLRA`). Their tensors share one ``weights.safetensors``
(names prefixed ``cold.`` and ``baseline.``); each is exported as a float64 ONNX graph
(``model.onnx``, ``baseline.onnx``: :mod:`neurofb.focus.export`), which is what the engine runs
(:mod:`neurofb.focus.runtime`). ``model.json`` (read without torch by :mod:`neurofb.focus.card`)
holds the architecture, the input contract, the training data, metrics, library versions, the
date, the SHA-256 of the weights and, in its ``onnx`` section, the SHA-256 and contract of each
graph. Loading the weights (training, calibration, export) checks their hash, the tensor names
and shapes against the architecture, that the architecture stored inside the weights agrees with
model.json, and that every value is a finite float; any mismatch is a
:class:`~neurofb.errors.ModelError` saying what is wrong.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
from pathlib import Path
from typing import Any

import torch

from neurofb.errors import ModelError
from neurofb.focus.card import (
    CONTRACT_FIELD,
    FORMAT,
    FORMAT_VERSION,
    META,
    WEIGHTS,
    check_weights,
    contract_sha256,
    read_meta,
    sha256_file,
    sort_safetensors_metadata,
)
from neurofb.focus.model import ARCHITECTURE, FocusLRA, build
from neurofb.focus.placement import model_stage

#: The operating modes a model folder serves, in order.
MODES = ("cold", "baseline")


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's numbers."""
    import numpy
    import onnxruntime

    import neurofb

    return {
        "neurofb": neurofb.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "onnxruntime": onnxruntime.__version__,
        "python": platform.python_version(),
    }


def architecture(models: dict[str, FocusLRA]) -> dict[str, Any]:
    """The ``architecture`` section of model.json (name, hyper-parameters, modes)."""
    first = next(iter(models.values()))
    if any(m.hparams != first.hparams for m in models.values()):
        raise ModelError("every mode's network must have the same architecture")
    return {"name": ARCHITECTURE, **first.hparams, "modes": list(models)}


def _check_modes(models: dict[str, FocusLRA]) -> None:
    if list(models) != [m for m in MODES if m in models] or "cold" not in models:
        raise ModelError(f"a model folder holds the networks of {MODES} (cold at least), "
                         f"got {list(models)}")


def save_model(models: dict[str, FocusLRA], out_dir: str | os.PathLike, meta: dict[str, Any],
               *, overwrite: bool = False) -> Path:
    """Write a model folder: the weights, their ONNX graphs and model.json.

    Parameters
    ----------
    models : dict of str to FocusLRA
        ``{"cold": …, "baseline": …}`` (cold at least), trained.
    out_dir : path-like
        The folder to write (created).
    meta : dict
        Everything model.json records besides the architecture, the weights and the graphs
        (``input``, ``training``, ``metrics``, ...); JSON-serialisable.
    overwrite : bool
        Replace the files of an existing model folder. Without it, an existing model.json is an
        error.

    Returns
    -------
    Path
        The folder.

    Raises
    ------
    ModelError
        The folder already holds a model (without ``overwrite``), or a network does not export
        to ONNX faithfully.
    """
    _check_modes(models)
    target = Path(out_dir)
    if (target / META).exists() and not overwrite:
        raise ModelError(f"{target} already holds a model; choose another --out folder")
    # written into a stage and put in place whole (neurofb.focus.placement): a replaced model's
    # own files this one lacks (a personal head, a mode) go with it, and a kill leaves no half
    with model_stage(target, overwrite=overwrite) as out:
        _write_model(models, out, meta)
    return target


def _write_model(models: dict[str, FocusLRA], out: Path, meta: dict[str, Any]) -> None:
    """The weights, graphs and model.json of ``models`` in the (new, empty) folder ``out``."""
    from safetensors.torch import save_file

    from neurofb.focus.export import export_models

    arch = architecture(models)
    state = {f"{mode}.{k}": v.detach().to("cpu", torch.float32).contiguous()
             for mode, net in models.items() for k, v in net.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format": FORMAT, "architecture": json.dumps(arch)})
    sort_safetensors_metadata(tmp)  # the same model, the same bytes and SHA-256
    os.replace(tmp, out / WEIGHTS)
    os.chmod(out / WEIGHTS, 0o644)  # safetensors writes 0600; a model folder is shareable
    weights_sha256 = sha256_file(out / WEIGHTS)
    # the graphs are exported from the weights as stored (float32 rounded), not the trained
    # float32 modules: the same numbers either way, but this way a re-export reproduces them
    stored = {mode: _from_state(arch, state, mode) for mode in models}
    graphs = export_models(stored, out, weights_sha256=weights_sha256)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "architecture": arch,
        **{k: v for k, v in meta.items()
           if k not in ("format", "format_version", "architecture", "weights", "onnx")},
        "versions": meta.get("versions") or library_versions(),
        "weights": {
            "file": WEIGHTS,
            "sha256": weights_sha256,
            "n_parameters": int(sum(p.numel() for net in models.values()
                                    for p in net.parameters())),
            "tensors": {k: list(v.shape) for k, v in state.items()},
        },
        "onnx": graphs,
    }
    write_meta(out, doc)


def finite_json(value: Any) -> Any:
    """``value`` with every NaN or infinite float replaced by None (JSON null), recursively
    through dicts, lists and tuples.

    Python's ``json`` would write them as ``NaN`` / ``Infinity``, which is not JSON: jq,
    ``JSON.parse`` and strict parsers reject the whole file.

    Parameters
    ----------
    value : object
        A JSON-serialisable value.

    Returns
    -------
    object
        The same value, every non-finite float replaced by None (tuples become lists).
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value


def write_meta(model_dir: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write model.json atomically (a reader never sees half a file), as strict JSON.

    Non-finite numbers (a member's validation AUC history when it had no validation windows:
    NaN, -inf) are written as null (:func:`finite_json`).
    """
    out = Path(model_dir)
    meta = {k: v for k, v in meta.items() if k != CONTRACT_FIELD}
    meta[CONTRACT_FIELD] = contract_sha256(finite_json(meta))  # an edit to them is refused
    text = json.dumps(finite_json(meta), indent=2, sort_keys=False, allow_nan=False)
    (out / (META + ".tmp")).write_text(text + "\n", encoding="utf-8")
    os.replace(out / (META + ".tmp"), out / META)


def _check_values(state: dict[str, torch.Tensor], wpath: Path) -> None:
    """Every tensor is floating point and finite: a model that cannot give a number is refused
    at load, not after it has gated every window."""
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise ModelError(f"{wpath.name}: tensor {name!r} holds {str(tensor.dtype)[6:]} "
                             "values, not floating point: the weights are damaged; re-export "
                             "or re-download the model")
        if not bool(torch.isfinite(tensor).all()):
            raise ModelError(f"{wpath.name}: tensor {name!r} holds NaN or infinite values: "
                             "the model cannot score anything; retrain it or restore the "
                             "original files")


def _from_state(arch: dict[str, Any], state: dict[str, torch.Tensor], mode: str) -> FocusLRA:
    net = build(arch)
    prefix = f"{mode}."
    net.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)},
                        strict=True)
    return net.eval()


def _read_state(wpath: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(wpath), framework="pt") as f:
            stored_meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{wpath} is not a readable safetensors file ({err})") from None
    return state, stored_meta


def load_model(model_dir: str | os.PathLike, *, device: str | torch.device = "cpu"
               ) -> tuple[dict[str, FocusLRA], dict[str, Any]]:
    """Load a model folder's networks, checking they are the ones model.json describes.

    Parameters
    ----------
    model_dir : path-like
        Folder with ``weights.safetensors`` and ``model.json``.
    device : str or torch.device
        Where to put the networks.

    Returns
    -------
    models : dict of str to FocusLRA
        ``{"cold": …, "baseline": …}`` in eval mode (the modes the folder has).
    meta : dict
        The parsed model.json.

    Raises
    ------
    ModelError
        Missing files, invalid JSON, a weights file whose hash, tensors or architecture do not
        match model.json, or whose values are not finite floating-point numbers.
    """
    folder = Path(model_dir)
    meta = read_meta(folder)
    wpath = check_weights(folder, meta)
    arch = meta["architecture"]
    try:
        build(arch)
    except (ValueError, TypeError) as err:
        raise ModelError(f"{folder / META}: {err}") from None
    state, _ = _read_state(wpath)
    _check_values(state, wpath)
    modes = [m for m in arch.get("modes", ["cold"]) if m in MODES]
    want = {f"{mode}.{k}": tuple(v.shape) for mode in modes
            for k, v in build(arch).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got or "cold" not in modes:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        shapes = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        raise ModelError(
            f"{wpath.name} does not fit the architecture in {META}: missing {missing[:5]}, "
            f"unexpected {extra[:5]}, wrong shapes "
            f"{[(k, got[k], want[k]) for k in shapes[:5]]}")
    models = {mode: _from_state(arch, state, mode).to(device) for mode in modes}
    return models, meta
