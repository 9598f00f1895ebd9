"""A model folder's card: ``model.json`` read and checked without torch.

``model.json`` holds the architecture, the input contract (channels, sampling rate, window,
preprocessing), the training data with the SHA-256 of its files, metrics, library versions, the
date and the SHA-256 of the weights. :func:`read_meta` checks its form; :func:`read_card` gives
the typed :class:`ModelCard` the app shows. Loading the weights is :mod:`neurofb.focus.io`'s job.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurofb.errors import ModelError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "GRAPH_FILES",
    "META",
    "ONNX",
    "PERSONAL",
    "WEIGHTS",
    "CalibrationGain",
    "ModelCard",
    "check_model_out",
    "check_weights",
    "contract_sha256",
    "holds_model",
    "model_file",
    "read_card",
    "read_meta",
    "sha256_bytes",
    "sha256_file",
    "sort_safetensors_metadata",
]

FORMAT = "neurofb-focus-model"
#: Version 2: FocusLRA (cold and baseline graphs); version 1 folders held the older FocusNet.
FORMAT_VERSION = 2
WEIGHTS = "weights.safetensors"
META = "model.json"
#: The cold-mode network as an ONNX graph (what the engine runs; :mod:`neurofb.focus.runtime`).
ONNX = "model.onnx"
#: Each operating mode's graph.
GRAPH_FILES: dict[str, str] = {"cold": ONNX, "baseline": "baseline.onnx"}
#: A personalised model's head (:mod:`neurofb.focus.personal`).
PERSONAL = "personal.safetensors"


def sort_safetensors_metadata(path: str | os.PathLike) -> None:
    """Rewrite a safetensors file's header with its ``__metadata__`` keys sorted, in place.

    The safetensors writer keeps the metadata in a hash map, whose order changes from one
    write to the next: the same tensors gave files with different SHA-256s (and so graphs,
    model.json and children recording different hashes). Same keys, same characters: the
    header keeps its length, and the tensors their offsets.
    """
    with open(path, "r+b") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
        meta = header.pop("__metadata__", None)
        if not isinstance(meta, dict):
            return
        text = json.dumps({"__metadata__": dict(sorted(meta.items())), **header},
                          separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        if len(text) > size:  # not the writer's compact JSON: leave the file as it is
            return
        f.seek(8)
        f.write(text.ljust(size, b" "))


def sha256_file(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """Return the hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """Return the hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def read_meta(model_dir: str | os.PathLike) -> dict[str, Any]:
    """Read and check a model folder's model.json (without loading the weights).

    Raises
    ------
    ModelError
        The folder or model.json is missing, not JSON, not a neurofb focus model, of a newer
        format, lacks a required section, or names a file outside the folder
        (:func:`model_file`).
    """
    folder = Path(model_dir)
    path = folder / META
    if not folder.is_dir():
        what = "is a file, not a folder" if folder.exists() else "does not exist"
        raise ModelError(f"model folder {folder} {what}; pass a folder holding "
                         f"{META} and {WEIGHTS} (e.g. models/focus-default)")
    if not path.is_file():
        raise ModelError(f"{path} is missing: {folder} is not a neurofb model folder")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelError(f"{path} is not valid JSON ({err}); re-export or re-download the model"
                         ) from None
    except OSError as err:
        raise ModelError(f"cannot read {path}: {err.strerror or err}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelError(f"{path} is not a neurofb focus model (format must be {FORMAT!r})")
    version = meta.get("format_version", 0)
    if not isinstance(version, int) or isinstance(version, bool):
        raise ModelError(f"{path}: format_version must be an integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ModelError(f"{path} has format version {version}; this neurofb reads up to "
                         f"{FORMAT_VERSION}: upgrade neurofb")
    if version < FORMAT_VERSION:
        raise ModelError(f"{path} is a model of an older neurofb (format version {version}, "
                         "FocusNet), which this release no longer runs: retrain it with "
                         "`neurofb train` or use the shipped model")
    for key in ("architecture", "input", "weights"):
        if not isinstance(meta.get(key), dict):
            raise ModelError(f"{path} lacks its {key!r} section; re-export the model")
    _check_input(path, meta["input"])
    _check_baseline(path, meta.get("baseline"))
    recorded = meta.get(CONTRACT_FIELD)
    if recorded is not None and recorded != contract_sha256(meta):
        raise ModelError(
            f"{path}: its input or baseline numbers ({', '.join(_contract_names())}) are not "
            "the ones it was written with: model.json was edited after export. A model runs "
            "only with the numbers it was trained with: restore the original model.json (copy "
            "the model folder again), or train a model for other numbers with `neurofb train`")
    weights = meta["weights"]
    model_file(folder, weights, "weights.file", WEIGHTS)
    onnx = meta.get("onnx")
    if isinstance(onnx, dict):
        model_file(folder, onnx, "onnx.file", ONNX)
        if isinstance(onnx.get("baseline"), dict):
            model_file(folder, onnx["baseline"], "onnx.baseline.file", GRAPH_FILES["baseline"])
    if isinstance(meta.get("personal"), dict):
        model_file(folder, meta["personal"], "personal.file", PERSONAL)
    if not isinstance(weights.get("sha256"), str):
        raise ModelError(f"{path}: weights.sha256 must be the weights' SHA-256 (a string), got "
                         f"{weights.get('sha256')!r}; re-export the model")
    return meta


def check_weights(model_dir: str | os.PathLike, meta: Mapping[str, Any]) -> Path:
    """The folder's weights file, checked against the SHA-256 model.json records.

    Every command that loads a model folder checks it (the engine runs the ONNX graphs, but a
    folder whose weights were changed is not the model its card describes, and calibration and
    retraining start from those weights).

    Raises
    ------
    ModelError
        The weights file is missing or is not the one model.json records.
    """
    wpath = model_file(model_dir, meta["weights"], "weights.file", WEIGHTS)
    if not wpath.is_file():
        raise ModelError(f"{wpath} is missing; the model folder is incomplete")
    expected = meta["weights"].get("sha256")
    actual = sha256_file(wpath)
    if expected != actual:
        raise ModelError(
            f"{wpath} does not match {META}: file changed after export? "
            f"(SHA-256 {actual[:12]}…, {META} records {str(expected)[:12]}…). "
            f"Restore the original {WEIGHTS} (copy the model folder again); changed weights "
            f"are not the model {META} and its graphs describe"
        )
    stored = _stored_architecture(wpath)
    said = meta.get("architecture")
    if stored is not None and stored != said:
        said = said if isinstance(said, Mapping) else {}
        keys = sorted(set(stored) | set(said), key=str)
        diff = ", ".join(f"{k} {said.get(k, 'missing')!r} (the weights: "
                         f"{stored.get(k, 'missing')!r})"
                         for k in keys if said.get(k) != stored.get(k))
        raise ModelError(
            f"{Path(model_dir) / META}: architecture does not match the one stored in "
            f"{wpath.name}: {diff}; model.json was edited after export. Restore the "
            f"original {META} (copy the model folder again)")
    return wpath


def _stored_architecture(wpath: Path) -> Any:
    """The architecture a weights file's safetensors header records (its metadata only: no
    tensor is read, no torch), or None when it records none."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(wpath), framework="numpy") as f:
            text = (f.metadata() or {}).get("architecture")
        return None if text is None else json.loads(text)
    except (SafetensorError, OSError, ValueError) as err:
        raise ModelError(f"{wpath} is not a readable safetensors file ({err})") from None


def model_file(model_dir: str | os.PathLike, section: Mapping[str, Any], field: str,
               default: str) -> Path:
    """The path of a file a section of model.json names (its ``file``), inside the folder.

    Only a plain file name is accepted: a model.json pointing elsewhere (``../x.onnx``,
    ``/etc/passwd``, a sub-folder) is tampered with, and nothing outside the folder is read.

    Parameters
    ----------
    model_dir : path-like
        The model folder.
    section : mapping
        The section of model.json (``weights``, ``onnx``, ``onnx.baseline``, ``personal``).
    field : str
        Its ``file`` field's name in messages (``"onnx.file"``).
    default : str
        The file name when the section names none.

    Returns
    -------
    Path
        ``model_dir / name``.

    Raises
    ------
    ModelError
        The field is not a plain file name.
    """
    name = section.get("file")
    name = default if name is None else name
    if (not isinstance(name, str) or name in ("", ".", "..") or Path(name).name != name
            or "\\" in name or "\0" in name):
        raise ModelError(f"{Path(model_dir) / META}: {field} must be the name of a file in the "
                         f"model folder, got {name!r}; restore the original model.json or "
                         "re-export the model")
    return Path(model_dir) / name


def holds_model(folder: Path) -> bool:
    """Whether ``folder`` holds a neurofb model (a model.json of the model format)."""
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def check_model_out(out_dir: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Check that a model may be written into ``out_dir`` (``train``/``calibrate --out``).

    A new or empty folder may be; a folder holding a neurofb model only with ``overwrite``
    (``--force``), and its model's files are then replaced. A folder holding anything else is
    never written into, not even with ``overwrite``: its files (another program's
    ``model.onnx``, a recording) are not neurofb's to replace.

    Parameters
    ----------
    out_dir : path-like
        The model folder to write.
    overwrite : bool
        Replace a model already there.

    Raises
    ------
    ModelError
        ``out_dir`` holds files but no model, or holds a model and ``overwrite`` is False.
    """
    folder = Path(out_dir)
    if not folder.is_dir():
        return
    try:
        empty = next(folder.iterdir(), None) is None
    except OSError as err:
        raise ModelError(f"cannot read the folder {folder}: {err.strerror or err}") from None
    if empty:
        return
    if not holds_model(folder):
        raise ModelError(f"{folder} is not empty and holds no neurofb model: a model is "
                         "written into a new or empty folder, never among other files (not "
                         "even with --force); choose another --out")
    if not overwrite:
        raise ModelError(f"{folder} already holds a model; choose another --out or pass "
                         "--force to replace it")


def _check_input(path: Path, inp: Mapping[str, Any]) -> None:
    """The input contract's fields that the runtime uses have the right type and range."""

    def bad(key: str, what: str) -> ModelError:
        return ModelError(f"{path}: input.{key} must be {what}, got {inp.get(key)!r}; fix "
                          "model.json or re-export the model")

    for key in ("sfreq", "window_s"):
        if key in inp:
            value = _number(inp[key])
            if value is None or not (math.isfinite(value) and 0 < value <= 1e5):
                raise bad(key, "a positive number")
    if "min_channels" in inp:
        value = inp["min_channels"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 1000:
            raise bad("min_channels", "a whole number of channels (1 or more)")
    for key in ("channels", "personal_electrodes"):
        value = inp.get(key)
        if key in inp and not (isinstance(value, list) and value
                               and all(isinstance(c, str) and c for c in value)):
            raise bad(key, "a list of electrode names")
    if "unit" in inp and inp["unit"] != "uV":
        raise bad("unit", '"uV" (the engine feeds the model microvolts)')


#: model.json's record of its contract: the SHA-256 of the input and baseline numbers the
#: engine uses (:data:`CONTRACT_KEYS`), written with it (``neurofb.focus.io.write_meta``), so an
#: edited window length or baseline is refused, not silently run. (Older folders lack it.)
CONTRACT_FIELD = "contract_sha256"
CONTRACT_KEYS = {"input": ("window_s", "unit", "channels", "min_channels"),
                 "baseline": ("baseline_s", "min_windows", "std_floor")}


def _contract_names() -> list[str]:
    return [f"{section}.{key}" for section, keys in CONTRACT_KEYS.items() for key in keys]


def contract_sha256(meta: Mapping[str, Any]) -> str:
    """The SHA-256 of model.json's contract numbers (:data:`CONTRACT_KEYS`), canonical JSON."""
    import json

    picked = {section: {k: (meta.get(section) or {}).get(k) for k in keys}
              for section, keys in CONTRACT_KEYS.items()}
    return sha256_bytes(json.dumps(picked, sort_keys=True, allow_nan=True).encode("utf-8"))


def _check_baseline(path: Path, base: object) -> None:
    """The baseline section's numbers (baseline mode's contract) are in range."""
    if base is None:
        return
    if not isinstance(base, Mapping):
        raise ModelError(f"{path}: baseline must be a section (an object), got {base!r}; fix "
                         "model.json or re-export the model")

    def bad(key: str, what: str) -> ModelError:
        return ModelError(f"{path}: baseline.{key} must be {what}, got {base.get(key)!r}; fix "
                          "model.json or re-export the model")

    value = _number(base.get("baseline_s", 0.0))
    if value is None or not (math.isfinite(value) and value >= 0):
        raise bad("baseline_s", "seconds of rest (a number, 0 or more)")
    windows = base.get("min_windows", 2)
    if not isinstance(windows, int) or isinstance(windows, bool) or windows < 2:
        raise bad("min_windows", "a whole number of windows, 2 or more")
    floor = _number(base.get("std_floor", 1.0))
    if floor is None or not (math.isfinite(floor) and floor > 0):
        raise bad("std_floor", "a positive number")


def _section(meta: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = meta.get(key)
    return value if isinstance(value, Mapping) else {}


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


@dataclass(frozen=True)
class CalibrationGain:
    """How personalising changed the model on the person's held-back calibration windows."""

    metric: str
    before: float
    after: float


@dataclass(frozen=True)
class ModelCard:
    """What a model folder says about its model (the typed part of model.json).

    Parameters
    ----------
    path : Path
        The model folder.
    name : str
        The model's name (the folder name when model.json has none).
    created : str
        ISO date of export.
    task : str
        What focus means for this model.
    architecture : str
        Network name.
    n_parameters : int or None
        Trainable parameters.
    channels : tuple of str
        Electrodes the model was trained with.
    sfreq : float or None
        Sampling rate the model works at (Hz).
    window_s : float or None
        Window length in seconds.
    personal_electrodes : tuple of str
        For a personalised model: the electrodes its personal head needs ('' otherwise).
    modes : tuple of str
        The operating modes it serves (``cold``, ``baseline``).
    weights_sha256 : str
        SHA-256 of the weights file.
    training : tuple of str
        One line per training data set ("eegmat, 24 people, 5,760 windows").
    trained_on_device : str
        Device and seconds of training ("cpu, 210 s"), or "".
    parent : str
        The model it was derived from (personalised or retrained), or "".
    calibration : tuple of CalibrationGain
        Before/after figures of personalisation.
    personal_sha256 : str
        For a personalised model: SHA-256 of its personal head, what sets it apart from its
        parent (whose weights it keeps unchanged); '' otherwise.
    calibration_data : tuple of str
        For a personalised model: the calibration recordings it was fitted on (their paths).
    metrics : mapping
        The evaluation results recorded at export (free-form JSON; see the model card).
    """

    path: Path
    name: str
    created: str = ""
    task: str = ""
    architecture: str = ""
    n_parameters: int | None = None
    channels: tuple[str, ...] = ()
    sfreq: float | None = None
    window_s: float | None = None
    personal_electrodes: tuple[str, ...] = ()
    modes: tuple[str, ...] = ()
    weights_sha256: str = ""
    training: tuple[str, ...] = ()
    trained_on_device: str = ""
    parent: str = ""
    calibration: tuple[CalibrationGain, ...] = ()
    personal_sha256: str = ""
    calibration_data: tuple[str, ...] = ()
    metrics: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_meta(cls, path: str | os.PathLike, meta: Mapping[str, Any]) -> ModelCard:
        """Build a card from a parsed model.json (missing or odd fields become defaults)."""
        folder = Path(path)
        arch, inp = _section(meta, "architecture"), _section(meta, "input")
        weights, train = _section(meta, "weights"), _section(meta, "training")
        data = []
        for key, d in _section(train, "data").items():
            if not isinstance(d, Mapping) or key == "parent":  # the parent's: one line below
                continue
            what = str(d.get("dataset") or key).split(" (")[0]
            subjects = d.get("subjects")
            people = f", {len(subjects)} people" if isinstance(subjects, list) else ""
            windows = f", {d['windows']} windows" if "windows" in d else ""
            data.append(f"{what}{people}{windows}")
        inherited = _section(_section(train, "data"), "parent")
        if inherited:
            data.append(f"its parent's data ({', '.join(map(str, inherited))})")
        device = ""
        if train.get("device"):
            device = f"{train['device']}, {train.get('seconds', '?')} s"
        parent = _section(meta, "parent")
        calib = _section(meta, "calibration")
        before, after = _section(calib, "before"), _section(calib, "after")
        gains = tuple(
            CalibrationGain(k, float(before[k]), float(after[k]))
            for k in ("auc", "balanced_accuracy")
            if _number(before.get(k)) is not None and _number(after.get(k)) is not None
        )
        files = calib.get("data")
        calib_data = tuple(str(f["file"]) for f in files if isinstance(f, Mapping)
                           and isinstance(f.get("file"), str)) if isinstance(files, list) else ()
        n_par = weights.get("n_parameters")
        channels = inp.get("channels")
        personal = inp.get("personal_electrodes")
        return cls(
            path=folder,
            name=str(meta.get("name") or folder.name),
            created=str(meta.get("created", "")),
            task=str(meta.get("task", "")),
            architecture=str(arch.get("name", "")),
            n_parameters=n_par if isinstance(n_par, int) and not isinstance(n_par, bool) else None,
            channels=tuple(map(str, channels)) if isinstance(channels, list) else (),
            sfreq=_number(inp.get("sfreq")),
            window_s=_number(inp.get("window_s")),
            personal_electrodes=tuple(map(str, personal)) if isinstance(personal, list) else (),
            modes=tuple(map(str, arch.get("modes", ()))) if isinstance(arch.get("modes"), list)
            else (),
            weights_sha256=str(weights.get("sha256", "")),
            training=tuple(data),
            trained_on_device=device,
            parent=str(parent.get("name") or parent.get("path") or ""),
            calibration=gains,
            personal_sha256=str(_section(meta, "personal").get("sha256") or ""),
            calibration_data=calib_data,
            metrics=dict(_section(meta, "metrics")),
        )


def read_card(model_dir: str | os.PathLike) -> ModelCard:
    """Read a model folder's card (model.json only; quick, no torch).

    Raises
    ------
    ModelError
        As :func:`read_meta`.
    """
    return ModelCard.from_meta(model_dir, read_meta(model_dir))
