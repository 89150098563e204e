"""Training throughput: the trainer's own step timed per thread count and precision on the CPU
(the ``bench`` stages of the WaveNet and handwriting recipes)."""
from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable

import torch

from synth.training import TrainConfig, optimisation_step, precision_dtype


def training_speed(make_model: Callable[[], torch.nn.Module], loss: Callable[[torch.nn.Module, Any], torch.Tensor],
                   batches: list, config: TrainConfig, units_per_batch: Callable[[Any], int] | int,
                   threads: list[int], precisions: tuple[str, ...] = ("float32", "bfloat16"), warmup: int = 2,
                   unit: str = "units", log: Callable[[str], None] = print) -> list[dict]:
    """Training throughput of the trainer's own step (``optimisation_step``: forward, backward,
    clipping, AdamW) on the CPU, for each thread count and precision ("float32", "bfloat16"
    autocast), over the same ``batches`` (the first ``warmup`` untimed). ``units_per_batch``: audio
    samples, pen points or frames in a batch (a number, or a function of the batch), reported as
    ``{unit}_per_second``. Run it on a quiet machine: it measures the step, not the data loading."""
    if len(batches) <= warmup:
        raise ValueError(f"training_speed needs more than {warmup} batches (the warm-up), got {len(batches)}")
    device = torch.device("cpu")
    count = units_per_batch if callable(units_per_batch) else (lambda _batch: units_per_batch)
    results = []
    for n in threads:
        torch.set_num_threads(n)
        for precision in precisions:
            torch.manual_seed(0)
            model = make_model().to(device).train()
            optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, betas=config.betas,
                                          weight_decay=config.weight_decay)
            dtype = precision_dtype(dataclasses.replace(config, precision=precision, device="cpu"), device)
            units = 0
            for i, batch in enumerate(batches):
                if i == warmup:
                    started = time.perf_counter()
                optimisation_step(model, model, optimizer, loss, batch, device, dtype, config.grad_clip)
                if i >= warmup:
                    units += count(batch)
            seconds = time.perf_counter() - started
            steps = len(batches) - warmup
            row = {"threads": n, "precision": precision, "seconds_per_step": round(seconds / steps, 4),
                   "steps_per_second": round(steps / seconds, 3), f"{unit}_per_second": round(units / seconds, 1)}
            log(json.dumps(row))
            results.append(row)
    return results
