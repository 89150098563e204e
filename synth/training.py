"""The trainer: one plain loop for every model in synth.

AdamW with warm-up + cosine schedule, gradient clipping, bf16 autocast on a GPU, EMA weights,
periodic held-out evaluation, TensorBoard scalars (and samples through a callback), tqdm
progress, atomic checkpoints with exact resume, and multi-process / multi-machine training with
``torchrun`` and DistributedDataParallel.

Exact resume without pickled RNG state: the batch of step s on rank r is drawn from a generator
seeded with (seed, s, r), and the global RNG is reseeded the same way before each step, so a
resumed run sees the same data and noise it would have seen. Everything else a step depends on
(raw weights, EMA weights, optimizer moments, step, history) is in one file,
``training_state.safetensors``, written atomically: a kill at any moment leaves the last one
intact. The model folder beside it (``save_checkpoint`` format, EMA weights when EMA is on) is
the export users load; it is rewritten at every checkpoint and, if a kill cut an export short,
on resume.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any, Callable

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from synth.checkpoint import CONFIG, load_checkpoint, save_checkpoint
from synth.device import pick_device
from synth.errors import CheckpointError, InputError
from synth.training_state import TRAINING_STATE, check_same_model, load_state, save_state

log = logging.getLogger(__name__)

BEST = "best"                            # out_dir/best: the weights with the lowest validation loss so far
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclasses.dataclass
class TrainConfig:
    steps: int = 1000
    learning_rate: float = 1e-3
    min_learning_rate: float = 0.0       # the cosine decays to this
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 100
    grad_clip: float = 1.0               # max global gradient norm (Graves 2013 clips too)
    ema_decay: float = 0.0               # 0 = no EMA; e.g. 0.999 keeps an exponential average of the weights
    precision: str = "auto"              # auto = bfloat16 autocast on CUDA, float32 elsewhere
    device: str = "auto"                 # auto = this rank's GPU when there is one, else the CPU
    eval_every: int = 100
    checkpoint_every: int = 100
    log_every: int = 10
    seed: int = 0


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay from learning_rate to min_learning_rate at config.steps."""
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    progress = min(1.0, (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps))
    return config.min_learning_rate + (config.learning_rate - config.min_learning_rate) * 0.5 * (1.0 + math.cos(math.pi * progress))


def batch_generator(config: TrainConfig, step: int, rank: int = 0) -> torch.Generator:
    """The generator every batch of ``step`` on ``rank`` is drawn from (the basis of exact resume)."""
    return torch.Generator().manual_seed((config.seed * 1_000_003 + step) * 4099 + rank)


@dataclasses.dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when not launched by torchrun)."""
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_environment(cls) -> "Distributed":
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)))

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _resolve_device(config: TrainConfig, dist: Distributed) -> torch.device:
    if config.device != "auto":
        return torch.device(config.device)
    device = pick_device()
    if device.type == "cuda":
        return torch.device("cuda", dist.local_rank % torch.cuda.device_count())
    return device


def precision_dtype(config: TrainConfig, device: torch.device) -> torch.dtype | None:
    if config.precision not in PRECISIONS:
        raise ValueError(f"precision {config.precision!r}; allowed: {PRECISIONS}")
    if config.precision == "bfloat16" or (config.precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def to_device(batch: Any, device: torch.device) -> Any:
    """Move a batch (a tensor, or tuples / lists / dicts of them) to ``device``."""
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


class _Replicated(DistributedDataParallel):
    """DDP that lets a loss function reach the model's own attributes (``model.config``,
    ``model.encode``); gradients are synchronised through its ``forward`` as usual."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


# -- one step -------------------------------------------------------------------------------------

def optimisation_step(trained: torch.nn.Module, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                      loss: Callable[[torch.nn.Module, Any], torch.Tensor], batch: Any, device: torch.device,
                      autocast_dtype: torch.dtype | None, grad_clip: float, where: str = "") -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the trainer: the loss under autocast (``trained`` may be the DDP wrapper of
    ``model``), backward, gradient clipping, the optimiser. Returns (loss, gradient norm)."""
    with torch.autocast(device.type, dtype=autocast_dtype or torch.bfloat16, enabled=autocast_dtype is not None):
        value = loss(trained, batch)
    if not torch.isfinite(value):
        raise FloatingPointError(f"loss is {value.item()} {where}".rstrip())
    optimizer.zero_grad(set_to_none=True)
    value.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return value, grad_norm


def stored_best(folder: str | Path) -> dict:
    """{"step", "valid_loss"} of the best weights kept in ``folder`` ({} when there are none)."""
    path = Path(folder) / CONFIG
    if not path.is_file():
        return {}
    try:
        best = json.loads(path.read_text()).get("metadata", {}).get("best")
    except (OSError, ValueError):
        return {}
    return best if isinstance(best, dict) and isinstance(best.get("valid_loss"), (int, float)) else {}


def best_or_last(run_dir: str | Path) -> Path:
    """The checkpoint folder of a run's best weights (``run_dir/best``), else of its last; InputError
    when the run has neither (nothing trained there yet)."""
    run_dir = Path(run_dir)
    for folder in (run_dir / BEST, run_dir):
        if (folder / CONFIG).is_file():
            return folder
    raise InputError(f"{run_dir}: no trained model yet; run the train stage first")


# -- the loop ------------------------------------------------------------------------------------

def train(model: torch.nn.Module, *, loss: Callable[[torch.nn.Module, Any], torch.Tensor],
          batch: Callable[[torch.Generator], Any], valid_batches: list, config: TrainConfig,
          out_dir: str | Path, card: Callable[[dict], str] | None = None, metadata: dict | None = None,
          tensorboard_dir: str | Path | None = None, units_per_batch: int | None = None,
          samples: Callable[[torch.nn.Module, Any, int], None] | None = None,
          keep_best: bool = True, log: Callable[[str], None] = print) -> dict:
    """Train ``model`` to ``config.steps``, resuming from ``out_dir`` when it holds a training state.

    ``batch(generator)`` draws one batch (for this rank) from the generator only; ``loss(model,
    batch)`` returns a scalar. Under DDP, ``model`` passed to ``loss`` is the DDP wrapper (its
    attributes reach the model), so gradients flow through ``model(...)`` calls. ``units_per_batch``
    (audio samples, points, frames per batch) gives a throughput in units/s in the history;
    ``samples(eval_model, writer, step)`` logs audio / images to TensorBoard at each evaluation.
    With ``keep_best``, the evaluated weights (EMA when there is one) with the lowest validation
    loss so far are also saved to ``out_dir/best`` (metadata ``best`` = {"step", "valid_loss"}) at
    the evaluation that measured them; a resumed run reads the best so far back from there, a run
    started afresh replaces what an earlier run left there.
    Returns {"step", "history"}; the model ends with the raw (not EMA) trained weights.
    """
    from tqdm import tqdm

    out_dir = Path(out_dir)
    dist = Distributed.from_environment()
    if dist.world_size > 1 and not torch.distributed.is_initialized():
        torch.distributed.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    device = _resolve_device(config, dist)
    autocast_dtype = precision_dtype(config, device)
    model.to(device)
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.ema_decay), use_buffers=True) \
        if config.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=config.betas,
                                  weight_decay=config.weight_decay)
    step, history = 0, []
    state_path = out_dir / TRAINING_STATE
    if state_path.is_file():
        check_same_model(state_path, model)
        step, history = load_state(state_path, model, optimizer, ema, device)
        log(f"resumed from {state_path} at step {step}")
    wall = history[-1]["wall_seconds"] if history else 0.0
    trained = _Replicated(model, device_ids=[device.index] if device.type == "cuda" else None) \
        if dist.world_size > 1 else model
    writer = None
    if tensorboard_dir is not None and dist.is_main:
        from torch.utils.tensorboard import SummaryWriter
        writer = SummaryWriter(str(tensorboard_dir), purge_step=step)  # a resumed run overwrites the lost steps

    def eval_model() -> torch.nn.Module:
        return ema.module if ema is not None else model

    def evaluate() -> float:
        m = eval_model()
        m.eval()
        with torch.no_grad(), torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            value = sum(float(loss(m, to_device(b, device))) for b in valid_batches) / max(1, len(valid_batches))
        model.train()
        return value

    def checkpoint_metadata() -> dict:
        return dict(metadata or {}, train=dataclasses.asdict(config), step=step, history=history,
                    world_size=dist.world_size, weights="ema" if ema is not None else "raw")

    def export(record: dict) -> None:
        save_checkpoint(eval_model(), out_dir, card=card(record) if card else None, metadata=checkpoint_metadata())

    best_dir = out_dir / BEST
    best_loss = stored_best(best_dir).get("valid_loss", math.inf) if step > 0 else math.inf

    def keep_if_best(record: dict) -> None:
        nonlocal best_loss
        if not record["valid_loss"] < best_loss:  # NaN is never best
            return
        best_loss = record["valid_loss"]
        best = {"step": step, "valid_loss": best_loss}
        save_checkpoint(eval_model(), best_dir, card=card(record) if card else None,
                        metadata=checkpoint_metadata() | {"best": best})
        log(f"best so far: step {step}, validation loss {best_loss} -> {best_dir}")

    if step > 0 and dist.is_main:
        try:
            load_checkpoint(out_dir, expect_kind=model.kind)
        except CheckpointError as error:
            log(f"re-exporting the model folder, which a kill cut short ({error})")
            export(history[-1] if history else {"step": step})

    model.train()
    started, last_time, last_step = time.perf_counter(), time.perf_counter(), step
    running = None
    with tqdm(total=config.steps, initial=step, desc="training", unit="step", disable=not dist.is_main) as bar:
        while step < config.steps:
            lr = learning_rate(config, step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            torch.manual_seed((config.seed * 1_000_003 + step) * 4099 + dist.rank)  # dropout and other noise
            x = to_device(batch(batch_generator(config, step, dist.rank)), device)
            value, grad_norm = optimisation_step(trained, model, optimizer, loss, x, device, autocast_dtype,
                                                 config.grad_clip, where=f"at step {step}; the last good checkpoint is in {out_dir}")
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            item = value.item()
            running = item if running is None else 0.98 * running + 0.02 * item
            bar.update(1)
            bar.set_postfix(loss=f"{running:.3f}")
            if writer is not None and step % config.log_every == 0:
                now = time.perf_counter()
                writer.add_scalar("train/loss", item, step)
                writer.add_scalar("train/learning_rate", lr, step)
                writer.add_scalar("train/grad_norm", float(grad_norm), step)
                if units_per_batch:
                    writer.add_scalar("train/units_per_second",
                                      units_per_batch * dist.world_size * (step - last_step) / (now - last_time), step)
                last_time, last_step = now, step
            if step % config.eval_every == 0 or step == config.steps:
                seconds = wall + time.perf_counter() - started
                record = {"step": step, "train_loss": round(running, 4), "valid_loss": round(evaluate(), 4),
                          "wall_seconds": round(seconds, 1)}
                if units_per_batch:
                    done = step - (history[-1]["step"] if history else 0)
                    spent = seconds - (history[-1]["wall_seconds"] if history else 0.0)
                    record["units_per_second"] = round(units_per_batch * dist.world_size * done / max(spent, 1e-9), 1)
                history.append(record)
                if dist.is_main:
                    log(json.dumps(record))
                    if keep_best:
                        keep_if_best(record)
                    if writer is not None:
                        writer.add_scalar("valid/loss", record["valid_loss"], step)
                        if samples is not None:
                            samples(eval_model(), writer, step)
                        writer.flush()
            if step % config.checkpoint_every == 0 or step == config.steps:
                if dist.is_main:
                    save_state(state_path, model, optimizer, ema, step, history, config)
                    export(history[-1] if history else {"step": step})
                if dist.world_size > 1:
                    torch.distributed.barrier()
    if writer is not None:
        writer.close()
    model.eval()
    return {"step": step, "history": history}
