"""The bundled checkpoints: where they live and loading each once per process.

They live in the repository's ``assets/`` folder, or in ``$SYNTH_ASSETS`` when it is set. The
variable is read at every call (not at import), so a deployment or a test can point the app and
the command at another folder of checkpoints.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from synth.errors import CheckpointError

#: Bundled checkpoint folders by role; the first one present is used.
SPEECH = ("wavenet-speakers", "wavenet-tiny")
VOCODER = ("wavenet-vocoder",)
PIANO = ("wavenet-piano",)
COMPOSER = ("composer",)
HANDWRITING = ("handwriting",)

_lock = threading.Lock()
_loaded: dict[tuple, object] = {}


def assets_dir() -> Path:
    return Path(os.environ.get("SYNTH_ASSETS") or Path(__file__).resolve().parents[1] / "assets")


def bundled_checkpoint(names: tuple[str, ...]) -> Path:
    """The first of ``names`` present as a folder under ``assets_dir()`` (else the first name, so
    that loading it says plainly what is missing)."""
    root = assets_dir()
    for name in names:
        if (root / name).is_dir():
            return root / name
    return root / names[0]


def load_cached(directory: str | Path, kind: str, device: str = "cpu"):
    """``load_checkpoint`` once per (folder, kind, device, file time): concurrent requests share
    one read-only model; a checkpoint replaced on disk is read again."""
    from synth.checkpoint import CONFIG, load_checkpoint

    directory = Path(directory)
    try:
        stamp = (directory / CONFIG).stat().st_mtime_ns
    except OSError:
        stamp = None  # load_checkpoint says what is missing
    key = (str(directory.resolve()), kind, str(device), stamp)
    with _lock:
        if key not in _loaded:
            _loaded[key] = load_checkpoint(directory, device=device, expect_kind=kind)
        return _loaded[key]


def missing_model_message(directory: Path, what: str) -> str | None:
    """None when a checkpoint folder is present, else a sentence naming the missing model."""
    if (directory / "config.json").is_file():
        return None
    return (f"the {what} model is missing: no checkpoint at {directory} "
            f"(bundled checkpoints live in assets/, or set SYNTH_ASSETS)")


def require(directory: Path, what: str) -> Path:
    message = missing_model_message(directory, what)
    if message:
        raise CheckpointError(message)
    return directory
