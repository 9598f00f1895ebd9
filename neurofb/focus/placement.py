"""Write a model folder as one step: into a hidden stage beside it, then renamed into place.

``train --out`` and ``calibrate --out`` (and the app's retraining and personalising) write a
model in several files. Written in place, a kill mid-way left a folder of weights without its
model.json (that no later ``--force`` would replace), a ``--force`` killed mid-way destroyed
the old model before the new one existed, and two writers to one new folder both said "wrote".
:func:`model_stage` gives the writer a new folder ``.NAME.partial-PID`` beside ``out``; when
the writer is done, the stage becomes ``out`` by a rename:

- ``out`` new (or an empty folder): the rename; if another writer placed its model there first,
  the rename fails and this one is refused, nothing of it kept;
- ``out`` holding a model, with ``overwrite``: the old folder is renamed aside, the stage put in
  its place, then the old one removed (its files that are not the model's own, a hand-written
  MODEL_CARD.md, are carried over first);
- a kill at any moment leaves the old model (or nothing) and a stage, which the next write to
  that folder removes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from neurofb.errors import ModelError
from neurofb.focus.card import GRAPH_FILES, META, PERSONAL, WEIGHTS, holds_model
from neurofb.paths import pid_alive

__all__ = ["model_stage"]

#: The files a model folder's writer makes; any other file of a replaced folder is carried over.
MODEL_FILES = frozenset({META, WEIGHTS, PERSONAL, *GRAPH_FILES.values()})


@contextlib.contextmanager
def model_stage(out_dir: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """A new, empty folder to write a model into; it becomes ``out_dir`` when the block ends.

    Parameters
    ----------
    out_dir : path-like
        Where the model goes.
    overwrite : bool
        Replace a model already there (``--force``).

    Yields
    ------
    Path
        The stage to write into.

    Raises
    ------
    ModelError
        ``out_dir`` holds a model without ``overwrite``, or another writer's model landed there
        while this one was made (nothing of this one is kept).
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_dead_stages(out)
    stage = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir()
    try:
        yield stage
        _put_in_place(stage, out, overwrite=overwrite)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _put_in_place(stage: Path, out: Path, *, overwrite: bool) -> None:
    if out.is_dir() and holds_model(out):
        if not overwrite:
            raise ModelError(f"{out} holds a model (written while this one was made?); nothing "
                             "of this one was kept: choose another --out, or pass --force")
        for other in out.iterdir():  # the user's files beside the model (a model card)
            if other.name not in MODEL_FILES and other.is_file():
                shutil.copy2(other, stage / other.name)
        old = out.parent / f".{out.name}.replaced-{os.getpid()}"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(out, old)
        try:
            os.rename(stage, out)
        except OSError:
            os.rename(old, out)
            raise
        shutil.rmtree(old, ignore_errors=True)
        return
    if out.is_dir():
        with contextlib.suppress(OSError):
            out.rmdir()  # an empty folder the user made for it (a rename would not replace it)
    try:
        os.rename(stage, out)
    except OSError:
        raise ModelError(f"{out} was written while this model was made (another training or "
                         "calibration to the same folder?); nothing of this one was kept: "
                         "choose another --out") from None


def _remove_dead_stages(out: Path) -> None:
    """Stages and set-aside folders of writers to ``out`` that were killed (their process is
    gone): what they left is no model."""
    for leftover in [*out.parent.glob(f".{out.name}.partial-*"),
                     *out.parent.glob(f".{out.name}.replaced-*")]:
        pid = leftover.name.rsplit("-", 1)[-1]
        if not pid.isdigit() or int(pid) == os.getpid() or pid_alive(int(pid)):
            continue
        if ".replaced-" in leftover.name and not out.exists():
            os.rename(leftover, out)  # killed mid-swap: the old model goes back in its place
        else:
            shutil.rmtree(leftover, ignore_errors=True)
