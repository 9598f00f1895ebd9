"""Resumable training checkpoints as safetensors + JSON (never pickles).

A checkpoint folder holds ``state.safetensors`` (tensors: the members already trained, the
member in training, its best state so far, its optimizer's moments, torch's random state) and
``state.json`` (where training stands: mode, member, stage, epoch, early-stopping counters,
history, NumPy's random state, the recipe). After every epoch the tensors go to a new file
(``state.<n>.safetensors``), then ``state.json``, naming that file, replaces the last one
atomically — the one commit point — and only then is the previous tensors file removed. A crash
or Ctrl-C at any moment of a save leaves a matching pair: the previous checkpoint or the new
one, never the new tensors with the previous state. :func:`load_checkpoint` refuses a
checkpoint of another recipe or data.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from neurofb.errors import ModelError

__all__ = ["STATE", "TENSORS", "load_checkpoint", "optimizer_state", "restore_optimizer",
           "save_checkpoint"]

TENSORS = "state.safetensors"  # checkpoints of earlier versions: state.json names no file
STATE = "state.json"
#: state.json's entry naming its tensors file.
TENSORS_KEY = "_tensors_file"


def _tensor_files(folder: Path) -> list[Path]:
    return [*folder.glob("state.*.safetensors"), folder / TENSORS]


def save_checkpoint(folder: str | os.PathLike, doc: dict[str, Any],
                    tensors: dict[str, torch.Tensor]) -> None:
    """Write a checkpoint (JSON-ready ``doc`` and named tensors) as one atomic step.

    The tensors go to a new file; ``state.json`` naming it then replaces the previous one
    atomically (the commit), and the previous tensors file is removed after.
    """
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    try:
        last = json.loads((out / STATE).read_text(encoding="utf-8")).get(TENSORS_KEY)
    except (OSError, ValueError, AttributeError):
        last = None
    n = 0
    while (out / f"state.{n}.safetensors").exists() or f"state.{n}.safetensors" == last:
        n += 1
    name = f"state.{n}.safetensors"
    save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(out / name))
    tmp = out / (STATE + ".tmp")
    tmp.write_text(json.dumps({**doc, TENSORS_KEY: name}), encoding="utf-8")
    os.replace(tmp, out / STATE)  # the commit: from here on the checkpoint is the new pair
    for old in _tensor_files(out):
        if old.name != name:
            old.unlink(missing_ok=True)


def load_checkpoint(folder: str | os.PathLike, *, expect: dict[str, Any]
                    ) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read a checkpoint written by :func:`save_checkpoint`.

    Parameters
    ----------
    folder : path-like
        The checkpoint folder.
    expect : dict
        Entries the checkpoint's ``state.json`` must hold with these values (the recipe, the
        training data), so training never resumes someone else's run.

    Raises
    ------
    ModelError
        No checkpoint, an unreadable one, or one of another training.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(folder)
    try:
        doc = json.loads((path / STATE).read_text(encoding="utf-8"))
        name = doc.pop(TENSORS_KEY, TENSORS) if isinstance(doc, dict) else TENSORS
        if not isinstance(name, str) or Path(name).name != name:
            raise ValueError(f"state.json names the tensors file {name!r}")
        tensors = load_file(str(path / name))
    except FileNotFoundError:
        raise ModelError(f"no checkpoint to resume in {path}; train without --resume first"
                         ) from None
    except (OSError, ValueError, SafetensorError) as err:
        raise ModelError(f"checkpoint in {path} is unreadable ({err}); delete it and start "
                         "again") from None
    for key, value in expect.items():
        if json.loads(json.dumps(value)) != doc.get(key):
            raise ModelError(f"the checkpoint in {path} is of another training (its {key} "
                             "differs): resume with the same data and recipe, or pass "
                             "--overwrite to start afresh")
    return doc, tensors


def optimizer_state(opt: torch.optim.Optimizer, prefix: str = "optim."
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """An optimizer's state as named tensors and JSON (param groups, scalar state)."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for pid, pstate in sd["state"].items():
        for key, value in pstate.items():
            if torch.is_tensor(value):
                tensors[f"{prefix}{pid}.{key}"] = value
            else:
                scalars.setdefault(str(pid), {})[key] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def restore_optimizer(opt: torch.optim.Optimizer, tensors: dict[str, torch.Tensor],
                      doc: dict[str, Any], prefix: str = "optim.") -> None:
    """Load what :func:`optimizer_state` saved into ``opt``."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        if key.startswith(prefix):
            pid, name = key[len(prefix):].split(".", 1)
            state.setdefault(int(pid), {})[name] = value
    for pid, extra in doc.get("scalars", {}).items():
        state.setdefault(int(pid), {}).update(extra)
    opt.load_state_dict({"state": state, "param_groups": doc["param_groups"]})
