"""The one checkpoint format for every model: a folder holding

  model.safetensors   the weights (safetensors: loading never unpickles anything)
  config.json         {"format", "format_version", "kind", "config", "weights_sha256", "metadata"}
  MODEL_CARD.md       data and licence, training, metrics, the command that reproduces it

Loading checks every part and says which file is wrong and how.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
import typing
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors_bytes
from safetensors.torch import save as save_safetensors_bytes

from synth.errors import CheckpointError, InputError

FORMAT = "synth-checkpoint"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
CONFIG = "config.json"
CARD = "MODEL_CARD.md"
#: Largest weights file accepted (a guard against hostile or mistaken paths).
MAX_WEIGHTS_BYTES = 2 * 1024 ** 3
MAX_CONFIG_BYTES = 1024 ** 2


def atomic_write(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so a crash never leaves a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600 files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_checkpoint(model: torch.nn.Module, directory: str | Path, *, card: str | None = None,
                    metadata: dict | None = None) -> Path:
    """Save ``model`` (which has ``kind`` and a dataclass ``config``) into ``directory``."""
    directory = Path(directory)
    tensors = {name: t.detach().cpu().contiguous() for name, t in model.state_dict().items()}
    weights = save_safetensors_bytes(tensors)
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": model.kind,
        "config": dataclasses.asdict(model.config),
        "weights_sha256": hashlib.sha256(weights).hexdigest(),
        "metadata": metadata or {},
    }
    atomic_write(directory / WEIGHTS, weights)
    atomic_write(directory / CONFIG, json.dumps(config, indent=2).encode())
    if card is not None:
        atomic_write(directory / CARD, card.encode())
    return directory


def config_from_dict(config_class: type, values: dict, source: str = "config"):
    """Build a config dataclass from JSON values, refusing unknown or mistyped fields."""
    if not isinstance(values, dict):
        raise CheckpointError(f"{source}: 'config' must be an object, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise CheckpointError(f"{source}: unknown {config_class.__name__} fields {unknown}; allowed: {sorted(fields)}")
    hints = typing.get_type_hints(config_class)
    for name, value in values.items():
        expected = hints[name]
        origin = typing.get_origin(expected)
        ok = {int: isinstance(value, int) and not isinstance(value, bool),
              float: isinstance(value, (int, float)) and not isinstance(value, bool),
              str: isinstance(value, str), bool: isinstance(value, bool)}.get(expected)
        if ok is None:
            ok = isinstance(value, list) if origin is tuple else isinstance(value, str) if origin is typing.Literal else True
        if not ok:
            raise CheckpointError(f"{source}: config field {name!r} should be {expected}, got {value!r}")
    try:
        return config_class(**values)
    except InputError as exc:
        raise CheckpointError(f"{source}: {exc}") from None


def load_checkpoint(directory: str | Path, *, device: str | torch.device = "cpu", expect_kind: str | None = None):
    """Load a model saved by ``save_checkpoint``. Returns the model in eval mode, with the
    checkpoint's ``metadata`` dict and ``card`` text attached as attributes."""
    from synth.models import MODELS

    directory = Path(directory)
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: no checkpoint folder here (expected a folder with {WEIGHTS} and {CONFIG})")
    config_path, weights_path = directory / CONFIG, directory / WEIGHTS
    for path in (config_path, weights_path):
        if not path.is_file():
            raise CheckpointError(f"{path}: missing; a checkpoint folder holds {WEIGHTS} and {CONFIG}")
    if config_path.stat().st_size > MAX_CONFIG_BYTES:
        raise CheckpointError(f"{config_path}: {config_path.stat().st_size} bytes is too large for a config")
    try:
        header = json.loads(config_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{config_path}: not valid JSON ({exc}); the file is damaged") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"{config_path}: not a synth checkpoint config (no \"format\": \"{FORMAT}\")")
    if header.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(f"{config_path}: format version {header.get('format_version')!r}; this synth reads version {FORMAT_VERSION}")
    kind = header.get("kind")
    if kind not in MODELS:
        raise CheckpointError(f"{config_path}: unknown model kind {kind!r}; known kinds: {sorted(MODELS)}")
    if expect_kind is not None and kind != expect_kind:
        raise CheckpointError(f"{directory}: holds a {kind} model, but a {expect_kind} model is needed here")
    model_class = MODELS[kind]
    config = config_from_dict(model_class.config_class, header.get("config"), str(config_path))

    size = weights_path.stat().st_size
    if size > MAX_WEIGHTS_BYTES:
        raise CheckpointError(f"{weights_path}: {size} bytes is over the {MAX_WEIGHTS_BYTES} byte limit")
    data = weights_path.read_bytes()
    if hashlib.sha256(data).hexdigest() != header.get("weights_sha256"):
        raise CheckpointError(f"{weights_path}: the weights do not match the checksum in {CONFIG}; "
                              "the file is damaged, truncated or from another checkpoint")
    try:
        tensors = load_safetensors_bytes(data)
    except Exception as exc:  # safetensors raises SafetensorError for malformed headers
        raise CheckpointError(f"{weights_path}: not a readable safetensors file ({exc})") from None

    model = model_class(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong_shape = [f"{k}: file {tuple(tensors[k].shape)} vs model {tuple(expected[k].shape)}"
                   for k in sorted(set(expected) & set(tensors)) if tensors[k].shape != expected[k].shape]
    if missing or unexpected or wrong_shape:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}")
        if wrong_shape:
            parts.append(f"shape mismatches {wrong_shape[:5]}")
        raise CheckpointError(f"{weights_path}: weights do not match the {kind} config in {CONFIG}: " + "; ".join(parts))
    model.load_state_dict(tensors)
    model.metadata = header.get("metadata") or {}
    card_path = directory / CARD
    model.card = card_path.read_text(encoding="utf-8", errors="replace") if card_path.is_file() else ""
    return model.to(device).eval()
