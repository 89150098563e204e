"""The trainer: one plain loop for every model (AdamW, warm-up + cosine schedule, gradient
clipping, periodic held-out evaluation, atomic checkpoints, exact resume).

Resume is exact without saving RNG state: the batch of step s is drawn from a generator seeded
with (seed, s), so a resumed run sees the same data it would have seen.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable

import torch
from safetensors import safe_open
from safetensors.torch import save as save_safetensors_bytes

from synth.checkpoint import atomic_write, load_checkpoint, save_checkpoint


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1000
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 100
    grad_clip: float = 1.0
    eval_every: int = 100
    checkpoint_every: int = 100
    seed: int = 0


def learning_rate(config: TrainConfig, step: int) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    return config.learning_rate * 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))


def _save_optimizer(optimizer: torch.optim.Optimizer, path: Path, step: int, history: list) -> None:
    state = optimizer.state_dict()
    tensors = {f"{index}.{name}": value.contiguous() for index, entry in state["state"].items()
               for name, value in entry.items() if isinstance(value, torch.Tensor)}
    meta = {"step": str(step), "param_groups": json.dumps(state["param_groups"]), "history": json.dumps(history)}
    atomic_write(path, save_safetensors_bytes(tensors, metadata=meta))


def _load_optimizer(optimizer: torch.optim.Optimizer, path: Path) -> tuple[int, list]:
    state: dict = {}
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
        for key in f.keys():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = f.get_tensor(key)
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    return int(meta["step"]), json.loads(meta["history"])


def train(model: torch.nn.Module, *, loss: Callable[[torch.nn.Module, object], torch.Tensor],
          batch: Callable[[torch.Generator], object], valid_batches: list, config: TrainConfig,
          out_dir: str | Path, card: Callable[[dict], str] | None = None, metadata: dict | None = None,
          log: Callable[[str], None] = print) -> dict:
    """Train ``model`` to ``config.steps``, resuming from ``out_dir`` when it holds a checkpoint.

    The model checkpoint (``save_checkpoint`` format) and ``optimizer.safetensors`` are written
    atomically every ``checkpoint_every`` steps; the best held-out loss so far is kept in
    ``metadata``. Returns the training record (step, losses, wall time).
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    step, history = 0, []
    if (out_dir / "optimizer.safetensors").is_file():
        resumed = load_checkpoint(out_dir, expect_kind=model.kind)
        model.load_state_dict(resumed.state_dict())
        step, history = _load_optimizer(optimizer, out_dir / "optimizer.safetensors")
        log(f"resumed from {out_dir} at step {step}")
    wall = history[-1]["wall_seconds"] if history else 0.0

    def evaluate() -> float:
        model.eval()
        with torch.no_grad():
            value = sum(loss(model, b).item() for b in valid_batches) / max(1, len(valid_batches))
        model.train()
        return value

    def save(record: dict) -> None:
        meta = dict(metadata or {}, train=dataclasses.asdict(config), step=step, history=history)
        save_checkpoint(model, out_dir, card=card(record) if card else None, metadata=meta)
        _save_optimizer(optimizer, out_dir / "optimizer.safetensors", step, history)

    model.train()
    started = time.perf_counter()
    running = None
    with tqdm(total=config.steps, initial=step, desc="training", unit="step") as bar:
        while step < config.steps:
            for group in optimizer.param_groups:
                group["lr"] = learning_rate(config, step)
            generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
            value = loss(model, batch(generator))
            optimizer.zero_grad(set_to_none=True)
            value.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            step += 1
            running = value.item() if running is None else 0.98 * running + 0.02 * value.item()
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}")
            if step % config.eval_every == 0 or step == config.steps:
                record = {"step": step, "train_loss": round(running, 4), "valid_loss": round(evaluate(), 4),
                          "wall_seconds": round(wall + time.perf_counter() - started, 1)}
                history.append(record)
                log(json.dumps(record))
            if step % config.checkpoint_every == 0 or step == config.steps:
                save(history[-1] if history else {"step": step})
    model.eval()
    return {"step": step, "history": history}
