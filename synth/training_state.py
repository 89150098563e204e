"""The training state file (``training_state.safetensors``): model, EMA and optimizer tensors with the
step, history and configs in its metadata, written atomically; the check that a state belongs to
the model about to resume it; and the one rewrite of a stored parameter (growing a model in place)."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Callable

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors_bytes
from torch.optim.swa_utils import AveragedModel

from synth.checkpoint import CONFIG, atomic_write, config_from_dict
from synth.errors import CheckpointError

TRAINING_STATE = "training_state.safetensors"


def save_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, ema: AveragedModel | None,
               step: int, history: list, config) -> None:
    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    if ema is not None:
        tensors.update({f"ema.{k}": v.detach().cpu().contiguous() for k, v in ema.state_dict().items()})
    state = optimizer.state_dict()
    for index, entry in state["state"].items():
        for name, value in entry.items():
            tensors[f"optimizer.{index}.{name}"] = value.detach().cpu().contiguous()
    meta = {"step": str(step), "param_groups": json.dumps(state["param_groups"]), "history": json.dumps(history),
            "train_config": json.dumps(dataclasses.asdict(config))}
    if dataclasses.is_dataclass(getattr(model, "config", None)):
        meta["model_config"] = json.dumps(dataclasses.asdict(model.config))
    atomic_write(path, save_safetensors_bytes(tensors, metadata=meta))


def check_same_model(path: Path, model: torch.nn.Module) -> None:
    """Refuse a training state made for another model config. Weights of the same shapes would
    load and go on training under settings they never learned (pre-emphasis switched on, say).
    The config is in the state's metadata; a state from before it was stored is checked against
    the exported config.json beside it."""
    config = getattr(model, "config", None)
    if not dataclasses.is_dataclass(config):
        return
    try:
        saved = stored_model_config(path)
        if saved is None and (path.parent / CONFIG).is_file():
            saved = json.loads((path.parent / CONFIG).read_text(encoding="utf-8")).get("config")
    except (OSError, ValueError, SafetensorError, AttributeError):
        return  # a damaged state or config is reported where it is read
    if saved is None:
        return
    plain = lambda c: json.loads(json.dumps(dataclasses.asdict(c)))  # noqa: E731  (tuples as lists, as saved)
    before = plain(config_from_dict(type(config), saved, str(path)))  # fields added since take their defaults
    now = plain(config)
    changed = [f"{name} {before[name]!r} -> {now[name]!r}" for name in now if before.get(name) != now[name]]
    if changed:
        raise CheckpointError(f"{path}: this training state belongs to a different model ({'; '.join(changed)}), so it "
                              f"cannot be resumed with these settings; train in a fresh folder (out_dir=...), or move "
                              f"{path.name} away to start afresh here")


def stored_model_config(path: Path) -> dict | None:
    """The model config a training state was saved with (None for a state from before it was stored)."""
    with safe_open(str(path), "pt", device="cpu") as f:
        saved = (f.metadata() or {}).get("model_config")
    return json.loads(saved) if saved is not None else None


def _read_state(path: Path) -> tuple[dict, dict[str, torch.Tensor], int]:
    """A training state's metadata, every tensor by key, and its step."""
    try:
        with safe_open(str(path), "pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            tensors = {key: f.get_tensor(key) for key in f.keys()}
        return meta, tensors, int(meta["step"])
    except (OSError, KeyError, ValueError, SafetensorError) as error:
        raise CheckpointError(f"{path}: damaged training state ({error})") from None


def reshape_parameters_in_state(path: Path, model: torch.nn.Module,
                                reshapes: dict[str, Callable[[torch.Tensor], torch.Tensor]]) -> int:
    """Rewrite parameters everywhere a training state holds them: for each name in ``reshapes``,
    its weights, its EMA weights and the optimizer's tensors of its shape (AdamW's moments), each
    through its function; the state's model config becomes ``model.config``. ``model`` is built
    with the new config, so its parameters() order (which indexes the optimizer's state) is the
    state's. Returns the step."""
    meta, tensors, step = _read_state(path)
    names = [n for n, _ in model.named_parameters()]
    for name, reshape in reshapes.items():
        index, shape = names.index(name), tensors[f"model.{name}"].shape
        for key in [f"model.{name}", f"ema.module.{name}", *(k for k in tensors if k.startswith(f"optimizer.{index}."))]:
            if key in tensors and tensors[key].shape == shape:
                tensors[key] = reshape(tensors[key]).contiguous()
    meta["model_config"] = json.dumps(dataclasses.asdict(model.config))
    atomic_write(path, save_safetensors_bytes(tensors, metadata=meta))
    return step


def widen_parameters_in_state(path: Path, model: torch.nn.Module,
                              places: dict[str, tuple[tuple[torch.Tensor | None, ...], bool]]) -> int:
    """Give parameters more entries everywhere a training state holds them. ``model`` is built with
    the new config (its parameters in their new shapes, freshly initialised); for each name in
    ``places``, ``(indices, zero)``: ``indices[d]`` says where the old entries go along dimension d
    (None: where they were), and the new entries take ``model``'s fresh values (``zero`` False) or
    zeros (True) in the weights and the EMA weights alike. AdamW's first moment is zero at the new
    entries and its second the old entries' mean there (steps of the size the tensor's old entries
    take, not the large first steps of an empty moment). Returns the step."""
    meta, tensors, step = _read_state(path)
    fresh = dict(model.named_parameters())
    names = list(fresh)
    for name, (indices, zero) in places.items():
        old = tensors[f"model.{name}"]
        target = fresh[name].detach()
        grid = tuple((torch.arange(old.shape[d]) if ix is None else ix).reshape([-1 if e == d else 1 for e in range(old.dim())])
                     for d, ix in enumerate(indices))

        def placed(value: torch.Tensor, filler: torch.Tensor) -> torch.Tensor:
            out = filler.to(value.dtype).clone()
            out[grid] = value
            return out.contiguous()

        for key in (f"model.{name}", f"ema.module.{name}"):
            if key in tensors:
                tensors[key] = placed(tensors[key], torch.zeros_like(target) if zero else target)
        index = names.index(name)
        for moment in ("exp_avg", "exp_avg_sq"):
            key = f"optimizer.{index}.{moment}"
            if key in tensors and tensors[key].shape == old.shape:
                level = tensors[key].mean() if moment == "exp_avg_sq" else 0.0
                tensors[key] = placed(tensors[key], torch.full_like(target, float(level)))
    meta["model_config"] = json.dumps(dataclasses.asdict(model.config))
    atomic_write(path, save_safetensors_bytes(tensors, metadata=meta))
    return step


def extend_state(path: Path, old: torch.nn.Module, new: torch.nn.Module,
                 rescale: dict[str, torch.Tensor] | None = None) -> int:
    """Give a training state made for ``old`` (its model) the parameters of ``new``, a bigger model
    whose parameters include all of old's by name: old's keep their weights, EMA weights and AdamW
    moments (times ``rescale[name]``, broadcast, where given: the weights and first moment by it, the
    second by its square); the rest take ``new``'s current values as weights and EMA weights, zero
    moments and their own step count 0 (AdamW's bias correction starts afresh for them). The
    optimizer's indices follow ``new``'s parameters() order; the model config becomes ``new.config``.
    Returns the step."""
    rescale = rescale or {}
    meta, stored, step = _read_state(path)
    try:
        groups = json.loads(meta["param_groups"])
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"{path}: damaged training state ({error})") from None
    if len(groups) != 1:
        raise CheckpointError(f"{path}: {len(groups)} optimizer parameter groups; only one can be extended")
    old_index = {name: i for i, (name, _) in enumerate(old.named_parameters())}
    old_moments: dict[int, dict[str, torch.Tensor]] = {}  # optimizer index -> {"exp_avg": ..., ...}
    for key, value in stored.items():
        if key.startswith("optimizer."):
            _, index, moment = key.split(".", 2)
            old_moments.setdefault(int(index), {})[moment] = value
    has_ema = any(k.startswith("ema.") for k in stored)
    tensors = {key: value for key, value in stored.items() if key == "ema.n_averaged"}
    for index, (name, parameter) in enumerate(new.named_parameters()):
        factor = rescale.get(name)
        if name in old_index:
            weight, ema = stored[f"model.{name}"], stored.get(f"ema.module.{name}")
            moments = old_moments.get(old_index[name], {})
            if factor is not None:
                weight, ema = weight * factor, (ema * factor if ema is not None else None)
                moments = {k: v * factor ** 2 if k == "exp_avg_sq" else v * factor if k == "exp_avg" else v
                           for k, v in moments.items()}
        else:
            weight, ema = parameter.detach().clone(), parameter.detach().clone()
            moments = {"step": torch.zeros(()), "exp_avg": torch.zeros_like(weight), "exp_avg_sq": torch.zeros_like(weight)}
        tensors[f"model.{name}"] = weight.contiguous()
        if ema is not None and has_ema:
            tensors[f"ema.module.{name}"] = ema.contiguous()
        tensors.update({f"optimizer.{index}.{k}": v.contiguous() for k, v in moments.items()})
    for name, buffer in new.named_buffers():
        for prefix in ("model.", "ema.module."):
            if any(k.startswith(prefix) for k in stored):
                tensors[prefix + name] = stored.get(prefix + name, buffer.detach()).contiguous()
    groups[0]["params"] = list(range(len(list(new.parameters()))))
    meta["param_groups"] = json.dumps(groups)
    meta["model_config"] = json.dumps(dataclasses.asdict(new.config))
    atomic_write(path, save_safetensors_bytes(tensors, metadata=meta))
    return step


def load_state(path: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer, ema: AveragedModel | None,
               device: torch.device) -> tuple[int, list]:
    groups: dict[str, dict] = {"model": {}, "ema": {}, "optimizer": {}}
    try:
        with safe_open(str(path), "pt", device="cpu") as f:
            meta = f.metadata() or {}
            for key in f.keys():
                part, name = key.split(".", 1)
                groups[part][name] = f.get_tensor(key)
        step, history = int(meta["step"]), json.loads(meta["history"])
        param_groups = json.loads(meta["param_groups"])
    except (OSError, KeyError, ValueError, SafetensorError) as error:
        raise CheckpointError(f"{path}: damaged training state ({error}); delete it to start afresh") from None
    model.load_state_dict(groups["model"])
    if ema is not None:
        if not groups["ema"]:
            raise CheckpointError(f"{path}: saved without EMA weights but ema_decay is set")
        ema.load_state_dict(groups["ema"])
    optimizer_state: dict[int, dict] = {}
    for key, value in groups["optimizer"].items():
        index, name = key.split(".", 1)
        optimizer_state.setdefault(int(index), {})[name] = value.to(device) if name != "step" else value
    optimizer.load_state_dict({"state": optimizer_state, "param_groups": param_groups})
    return step, history
