"""Generation speed benchmarks: ``synth bench wavenet`` prints a table and one JSON line."""
from __future__ import annotations

import dataclasses
import json
import platform
import time

import torch

from synth.models.wavenet import NaiveWaveNet, WaveNet, WaveNetConfig
from synth.sampling.engine import generate

#: Config A of the issues: 2 stacks x 10 layers, kernel 2, 64 residual / 128 gate / 256 skip, 256 classes.
CONFIG_A = WaveNetConfig(n_stacks=2, layers_per_stack=10, kernel_size=2, residual_channels=64,
                         gate_channels=128, skip_channels=256, output="mulaw", n_classes=256, sample_rate=16000)


def samples_per_second(generator, n_steps: int, prime_steps: int, batch_size: int = 1, warmup_steps: int = 3,
                       seed: int = 0) -> float:
    """Aggregate samples per second of the engine driving ``generator`` for ``n_steps`` steps,
    after priming a full receptive field (so every step sees a full window; priming not timed)."""
    prime = torch.randint(0, 256, (batch_size, prime_steps), generator=torch.Generator().manual_seed(seed))
    generate(generator, max_steps=warmup_steps, batch_size=batch_size, seed=seed, prime=prime).collect()
    chunk_steps = max(1, n_steps // 8)
    chunks = iter(generate(generator, max_steps=n_steps + chunk_steps, batch_size=batch_size, seed=seed,
                           prime=prime, chunk_steps=chunk_steps))
    next(chunks)  # priming and the first chunk happen before the clock starts
    start = time.perf_counter()
    out = torch.cat(list(chunks), dim=1)
    elapsed = time.perf_counter() - start
    assert out.shape[1] == n_steps
    return n_steps * batch_size / elapsed


def machine_description() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}"


def bench_wavenet(quick: bool = False) -> dict:
    """Config A at batch 1: naive vs cached-queue samples/s, and how both scale as the receptive
    field doubles with the layer count (and so the work per sample) held fixed."""
    naive_steps, cached_steps = (8, 300) if quick else (24, 2000)
    rows = []
    # dilation_cycle c over 20 layers: dilations 1..2^(c-1) repeated; each +1 roughly doubles the field.
    for cycle in (7, 8, 9, 10):
        config = dataclasses.replace(CONFIG_A, dilation_cycle=cycle)
        torch.manual_seed(0)
        model = WaveNet(config).eval()
        naive = samples_per_second(NaiveWaveNet(model), naive_steps, config.receptive_field)
        cached = samples_per_second(model, cached_steps, config.receptive_field)
        rows.append({"dilation_cycle": cycle, "receptive_field": config.receptive_field,
                     "naive_samples_per_s": round(naive, 1), "cached_samples_per_s": round(cached, 1),
                     "speedup": round(cached / naive, 1)})
    config_a = rows[-1]
    cached_rates = [r["cached_samples_per_s"] for r in rows]
    return {
        "benchmark": "wavenet_generation",
        "machine": machine_description(),
        "config": "A: 2x10 layers, kernel 2, 64/128/256 channels, 256 mu-law classes, 16 kHz",
        "batch_size": 1,
        "naive_samples_per_s": config_a["naive_samples_per_s"],
        "cached_samples_per_s": config_a["cached_samples_per_s"],
        "cached_over_naive": config_a["speedup"],
        "cached_real_time_factor_16khz": round(config_a["cached_samples_per_s"] / 16000, 4),
        "cached_flatness_max_over_min": round(max(cached_rates) / min(cached_rates), 2),
        "receptive_field_sweep": rows,
    }


def format_wavenet(result: dict) -> str:
    lines = [f"WaveNet generation, batch 1 ({result['machine']})",
             f"{'receptive field':>16} {'naive samples/s':>16} {'cached samples/s':>17} {'cached/naive':>13}"]
    for row in result["receptive_field_sweep"]:
        lines.append(f"{row['receptive_field']:>16} {row['naive_samples_per_s']:>16.1f} "
                     f"{row['cached_samples_per_s']:>17.1f} {row['speedup']:>12.1f}x")
    lines.append(f"config A (receptive field {result['receptive_field_sweep'][-1]['receptive_field']}): "
                 f"cached is {result['cached_over_naive']}x naive; cached rate varies "
                 f"{result['cached_flatness_max_over_min']}x (max/min) while the field grows "
                 f"{result['receptive_field_sweep'][-1]['receptive_field'] / result['receptive_field_sweep'][0]['receptive_field']:.0f}x")
    lines.append(json.dumps(result))
    return "\n".join(lines)
