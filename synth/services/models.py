"""The one place that loads a model by its role (speech, vocoder, piano, composer, handwriting).

A role's checkpoint is the folder a caller names (``path``), else the first of the role's folder
names present under the bundled assets: the repository's ``assets/``, or ``$SYNTH_ASSETS`` when it
is set (read at every call, not at import, so a deployment or a test can point the app and the
command at another folder of checkpoints). Each (folder, kind, device, file time) is loaded once
per process: concurrent requests share one read-only model, and a checkpoint replaced on disk is
read again.

A new kind of model joins by adding its ``Role`` to ``ROLES`` with the kind its model class
registers (as text to speech did: ``Role("tts", ("tts-kathleen",), "text-to-mel", "text-to-speech")``).
"""
from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

from synth.checkpoint import CONFIG, WEIGHTS, load_checkpoint
from synth.device import pick_device
from synth.errors import CheckpointError, InputError


@dataclasses.dataclass(frozen=True)
class Role:
    """What a model is for: its bundled folder names (the first present is used), the checkpoint
    kind it must be, and how messages name it."""

    name: str
    folders: tuple[str, ...]
    kind: str
    what: str


ROLES: dict[str, Role] = {role.name: role for role in (
    Role("speech", ("wavenet-speakers", "wavenet-tiny"), "wavenet", "speech WaveNet"),
    Role("vocoder", ("wavenet-vocoder",), "wavenet", "vocoder WaveNet"),
    Role("piano", ("wavenet-piano",), "wavenet", "piano WaveNet"),
    Role("composer", ("composer",), "composer", "composer"),
    Role("handwriting", ("handwriting",), "handwriting-synthesis", "handwriting"),
    Role("tts", ("tts-kathleen",), "text-to-mel", "text-to-speech"),
)}

_lock = threading.Lock()
_loaded: dict[tuple, object] = {}


def assets_dir() -> Path:
    """Where the bundled checkpoints live: ``$SYNTH_ASSETS``, else the repository's ``assets/``."""
    return Path(os.environ.get("SYNTH_ASSETS") or Path(__file__).resolve().parents[2] / "assets")


def role_of(role: str | Role) -> Role:
    if isinstance(role, Role):
        return role
    if role not in ROLES:
        raise InputError(f"unknown model role {role!r}; roles: {', '.join(ROLES)}")
    return ROLES[role]


def checkpoint_path(role: str | Role, path: str | Path | None = None) -> Path:
    """The checkpoint folder of a role: ``path`` when given, else the first of the role's folders
    present under ``assets_dir()`` (else its first folder, so that loading says what is missing)."""
    if path is not None and str(path) != "":
        return Path(path)
    role, root = role_of(role), assets_dir()
    return next((root / name for name in role.folders if (root / name).is_dir()), root / role.folders[0])


def chosen_temperature(role: str | Role, path: str | Path | None = None) -> float:
    """The sampling temperature a role's checkpoint plays at by default (metadata ``sampling``,
    chosen by its judges), read from its config without loading the weights; 1 when it names none
    or the checkpoint is missing."""
    import json

    try:
        config = json.loads((checkpoint_path(role, path) / CONFIG).read_text(encoding="utf-8"))
        temperature = float(config["metadata"]["sampling"]["temperature"])
    except (OSError, ValueError, KeyError, TypeError):
        return 1.0
    return temperature if 0.0 < temperature <= 2.0 else 1.0


def missing_message(role: str | Role, path: str | Path | None = None) -> str | None:
    """None when the role's checkpoint is present, else a sentence naming the missing model."""
    role, directory = role_of(role), checkpoint_path(role, path)
    if (directory / CONFIG).is_file():
        return None
    where = ("give a checkpoint folder that holds them" if path is not None else
             f"bundled checkpoints live in {assets_dir()} (set SYNTH_ASSETS for another folder), or give a checkpoint folder")
    return (f"the {role.what} model is missing: {directory}: no checkpoint folder here "
            f"(a checkpoint folder holds {CONFIG} and {WEIGHTS}; {where})")


def load_model(role: str | Role, path: str | Path | None = None, device: str = "auto"):
    """The role's model, loaded once per (folder, kind, device, file time) and shared. Raises
    CheckpointError naming the folder when it is missing, damaged, or holds another kind of model;
    InputError for an unknown device."""
    role = role_of(role)
    directory = checkpoint_path(role, path)
    message = missing_message(role, path)
    if message:
        raise CheckpointError(message)
    where = str(pick_device(device))
    try:
        stamp = (directory / CONFIG).stat().st_mtime_ns
    except OSError:
        stamp = None  # load_checkpoint says what is missing
    key = (str(directory.resolve()), role.kind, where, stamp)
    with _lock:
        if key not in _loaded:
            _loaded[key] = load_checkpoint(directory, device=where, expect_kind=role.kind)
        return _loaded[key]


def model_status(role: str | Role, device: str = "auto") -> dict:
    """What a face can say about a role without failing: its checkpoint folder, whether it is
    present, and (when it loads) its kind, parameter count and speakers, or the error."""
    role = role_of(role)
    directory = checkpoint_path(role)
    status = {"checkpoint": str(directory), "present": (directory / CONFIG).is_file()}
    if status["present"]:
        try:
            model = load_model(role, device=device)
        except (CheckpointError, InputError) as exc:
            status["error"] = str(exc)
        else:
            status.update(kind=role.kind, parameters=sum(p.numel() for p in model.parameters()),
                          speakers=list(getattr(model, "metadata", {}).get("speakers") or []) if role.kind == "wavenet" else [])
    return status
