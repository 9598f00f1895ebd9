"""Resumable training checkpoints as safetensors + JSON (never pickles).

A checkpoint folder holds ``last.safetensors`` (model, optimizer moments, RNG state),
``best.safetensors`` (the best model so far) and ``state.json`` (epoch, history, optimizer
hyper-parameters and step counts, the training config). Files are replaced atomically, so a
crash mid-save leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch

from neurofb.errors import ModelError

LAST = "last.safetensors"
BEST = "best.safetensors"
STATE = "state.json"


def _atomic_save(tensors: dict[str, torch.Tensor], path: Path) -> None:
    from safetensors.torch import save_file

    tmp = path.with_name(path.name + ".tmp")
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp))
    os.replace(tmp, path)


def save_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, gen: torch.Generator, state: dict,
                    best_state: dict[str, torch.Tensor], config: dict) -> None:
    """Write the training state after an epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    opt_sd = opt.state_dict()
    scalars: dict[str, dict] = {}
    for pid, pstate in opt_sd["state"].items():
        for k, v in pstate.items():
            if torch.is_tensor(v):
                tensors[f"optim.{pid}.{k}"] = v
            else:
                scalars.setdefault(str(pid), {})[k] = v
    tensors["rng.torch"] = torch.get_rng_state()
    tensors["rng.augment"] = gen.get_state()
    _atomic_save(tensors, folder / LAST)
    _atomic_save(best_state, folder / BEST)
    doc = {"state": state, "config": config, "param_groups": opt_sd["param_groups"],
           "optim_scalars": scalars, "scaler": scaler.state_dict()}
    tmp = folder / (STATE + ".tmp")
    tmp.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.replace(tmp, folder / STATE)


def load_checkpoint(folder: Path, model: torch.nn.Module, opt: torch.optim.Optimizer,
                    scaler: torch.amp.GradScaler, gen: torch.Generator
                    ) -> tuple[dict, dict[str, torch.Tensor]]:
    """Restore the training state written by :func:`save_checkpoint`.

    Returns
    -------
    state : dict
        Epoch, best score and epoch, early-stopping counter, history.
    best_state : dict
        The best model's state dict.

    Raises
    ------
    ModelError
        When the checkpoint is missing, unreadable or from another architecture.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        doc = json.loads((folder / STATE).read_text(encoding="utf-8"))
        tensors = load_file(str(folder / LAST))
        best = load_file(str(folder / BEST))
    except FileNotFoundError:
        raise ModelError(f"no checkpoint to resume in {folder}; train without --resume first"
                         ) from None
    except (OSError, ValueError, SafetensorError) as err:
        raise ModelError(f"checkpoint in {folder} is unreadable ({err}); delete it and start "
                         f"again") from None
    model_sd = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(model_sd)
    except RuntimeError as err:
        raise ModelError(f"checkpoint in {folder} is for another model architecture: {err}"
                         ) from None
    dev = next(model.parameters()).device
    model_state = {}
    for key, v in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            model_state.setdefault(int(pid), {})[name] = v.to(dev) if name != "step" else v
    for pid, extra in doc.get("optim_scalars", {}).items():
        model_state.setdefault(int(pid), {}).update(extra)
    opt.load_state_dict({"state": model_state, "param_groups": doc["param_groups"]})
    scaler.load_state_dict(doc.get("scaler") or {})
    torch.set_rng_state(tensors["rng.torch"])
    gen.set_state(tensors["rng.augment"])
    return doc["state"], {k: v.to(dev) for k, v in best.items()}
