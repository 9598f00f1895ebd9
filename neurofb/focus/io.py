"""Model folders: ``weights.safetensors`` + ``model.onnx`` + ``model.json``. Nothing unpickles.

``model.json`` (read without torch by :mod:`neurofb.focus.card`) holds the architecture and its
hyper-parameters, the input contract, the training data, metrics, library versions, the date,
the SHA-256 of ``weights.safetensors`` and, in its ``onnx`` section, the SHA-256 and graph
contract of ``model.onnx`` — the network exported for ONNX Runtime
(:mod:`neurofb.focus.export`), which is what the engine runs (:mod:`neurofb.focus.runtime`).
Loading the weights (training, calibration, export) checks their hash, the tensor names and
shapes against the architecture, and that the architecture stored inside the weights agrees
with model.json; any mismatch is a :class:`~neurofb.errors.ModelError` saying what is wrong.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
from pathlib import Path
from typing import Any

import torch

from neurofb.errors import ModelError
from neurofb.focus.card import FORMAT, FORMAT_VERSION, META, ONNX, WEIGHTS, read_meta, sha256_file
from neurofb.focus.model import FocusNet, build


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape a model's numbers."""
    import mne
    import numpy
    import scipy

    import neurofb

    return {
        "neurofb": neurofb.__version__,
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "mne": mne.__version__,
        "python": platform.python_version(),
    }


def architecture(model: FocusNet) -> dict[str, Any]:
    """The ``architecture`` section of model.json for a model (name + hyper-parameters)."""
    return {"name": "FocusNet", **model.hparams}


def save_model(model: FocusNet, out_dir: str | os.PathLike, meta: dict[str, Any],
               *, overwrite: bool = False) -> Path:
    """Write a model folder: the weights, their ONNX graph and model.json.

    Parameters
    ----------
    model : FocusNet
        The trained model (moved to CPU, float32, for export).
    out_dir : path-like
        The folder to write (created).
    meta : dict
        Everything model.json records besides the architecture and the weights' hash
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
        The folder already holds a model (without ``overwrite``), or the network does not
        export to ONNX faithfully.
    """
    from safetensors.torch import save_file

    from neurofb.focus.export import export_onnx

    out = Path(out_dir)
    if (out / META).exists() and not overwrite:
        raise ModelError(f"{out} already holds a model; choose another --out folder")
    out.mkdir(parents=True, exist_ok=True)
    arch = architecture(model)
    state = {k: v.detach().to("cpu", torch.float32).contiguous()
             for k, v in model.state_dict().items()}
    tmp = out / (WEIGHTS + ".tmp")
    save_file(state, str(tmp), metadata={"format": FORMAT, "architecture": json.dumps(arch)})
    os.replace(tmp, out / WEIGHTS)
    os.chmod(out / WEIGHTS, 0o644)  # safetensors writes 0600; a model folder is shareable
    weights_sha256 = sha256_file(out / WEIGHTS)
    graph = export_onnx(model, out / ONNX, weights_sha256=weights_sha256)
    doc = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "architecture": arch,
        **{k: v for k, v in meta.items()
           if k not in ("format", "architecture", "weights", "onnx")},
        "versions": meta.get("versions") or library_versions(),
        "weights": {
            "file": WEIGHTS,
            "sha256": weights_sha256,
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "tensors": {k: list(v.shape) for k, v in state.items()},
        },
        "onnx": graph,
    }
    write_meta(out, doc)
    return out


def write_meta(model_dir: str | os.PathLike, meta: dict[str, Any]) -> None:
    """Write model.json atomically (a reader never sees half a file)."""
    out = Path(model_dir)
    text = json.dumps(meta, indent=2, sort_keys=False)
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


def load_model(model_dir: str | os.PathLike, *, device: str | torch.device = "cpu"
               ) -> tuple[FocusNet, dict[str, Any]]:
    """Load a model folder, checking it is the one model.json describes.

    Parameters
    ----------
    model_dir : path-like
        Folder with ``weights.safetensors`` and ``model.json``.
    device : str or torch.device
        Where to put the model.

    Returns
    -------
    model : FocusNet
        In eval mode.
    meta : dict
        The parsed model.json.

    Raises
    ------
    ModelError
        Missing files, invalid JSON, a weights file whose hash, tensors or architecture do not
        match model.json, or whose values are not finite floating-point numbers.
    """
    from safetensors import SafetensorError, safe_open

    folder = Path(model_dir)
    meta = read_meta(folder)
    wpath = folder / meta["weights"].get("file", WEIGHTS)
    if not wpath.is_file():
        raise ModelError(f"{wpath} is missing; the model folder is incomplete")
    expected = meta["weights"].get("sha256")
    actual = sha256_file(wpath)
    if expected != actual:
        raise ModelError(
            f"{wpath.name} does not match {META}: file changed after export? "
            f"(SHA-256 {actual[:12]}…, {META} records {str(expected)[:12]}…). "
            f"Re-export the model or restore the original files"
        )
    try:
        model = build(meta["architecture"])
    except ValueError as err:
        raise ModelError(f"{folder / META}: {err}") from None
    try:
        with safe_open(str(wpath), framework="pt") as f:
            stored_meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{wpath} is not a readable safetensors file ({err})") from None
    stored_arch = stored_meta.get("architecture")
    if stored_arch is not None and json.loads(stored_arch) != meta["architecture"]:
        raise ModelError(
            f"{META} architecture {meta['architecture']} does not match the one stored in "
            f"{wpath.name} {json.loads(stored_arch)}: model.json was edited after export"
        )
    _check_values(state, wpath)
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    if want != got:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        shapes = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        raise ModelError(
            f"{wpath.name} does not fit the architecture in {META}: "
            f"missing {missing[:5]}, unexpected {extra[:5]}, wrong shapes "
            f"{[(k, got[k], want[k]) for k in shapes[:5]]}"
        )
    model.load_state_dict(state, strict=True)
    return model.to(device).eval(), meta
