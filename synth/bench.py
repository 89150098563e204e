"""Generation speed benchmarks: ``synth bench wavenet`` prints a table and one JSON line."""
from __future__ import annotations

import dataclasses
import json
import time

import torch

from synth.device import describe_machine
from synth.models.wavenet import WaveNet, WaveNetConfig
from synth.models.wavenet_generation import GenerationOptions, NaiveWaveNet, WaveNetGenerator
from synth.sampling.engine import generate

#: Config A of the issues: 2 stacks x 10 layers, kernel 2, 64 residual / 128 gate / 256 skip, 256 classes.
CONFIG_A = WaveNetConfig(n_stacks=2, layers_per_stack=10, kernel_size=2, residual_channels=64,
                         gate_channels=128, skip_channels=256, output="mulaw", n_classes=256, sample_rate=16000)
#: Config B: 24 layers in 4 stacks, kernel 3, 512 residual / 512 gate / 256 skip, mixture of logistics.
CONFIG_B = WaveNetConfig(n_stacks=4, layers_per_stack=6, kernel_size=3, residual_channels=512,
                         gate_channels=512, skip_channels=256, output="logistic_mixture", n_mixtures=10,
                         sample_rate=16000)


def samples_per_second(generator, n_steps: int, batch_size: int = 1, prime_steps: int = 0, seed: int = 0,
                       repeats: int = 3) -> float:
    """Aggregate samples per second of the engine driving ``generator`` for ``n_steps`` steps
    (median of ``repeats`` runs after a warm-up; a primer, when asked for, is included: it is one
    forward pass)."""
    model = getattr(generator, "model", generator)
    prime = None
    if prime_steps:
        prime = model.encode(torch.rand(batch_size, prime_steps, generator=torch.Generator().manual_seed(seed)) * 2 - 1)
    run = lambda steps: generate(generator, max_steps=steps, batch_size=batch_size, seed=seed,  # noqa: E731
                                 prime=prime, chunk_steps=4096).collect()
    run(min(n_steps, 64))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run(n_steps)
        rates.append(n_steps * batch_size / (time.perf_counter() - start))
        assert out.shape[1] == n_steps
    return sorted(rates)[len(rates) // 2]

def _generator(config: WaveNetConfig, device: torch.device, path: str = "auto", threads: int | None = None,
               graph_dtype: torch.dtype | None = None) -> WaveNetGenerator:
    """A fresh WaveNet (seed 0) on ``device``, generated with these options."""
    torch.manual_seed(0)
    model = WaveNet(config).eval().to(device)
    return WaveNetGenerator(model, GenerationOptions(path=path, cpu_threads=threads, graph_dtype=graph_dtype))


def bench_receptive_field(quick: bool = False) -> list[dict]:
    """Naive vs cached-queue reference at batch 1 as the receptive field roughly doubles, with
    the layer count (so the work per sample) fixed: dilation cycles 7..10 over 20 layers."""
    naive_steps, cached_steps = (8, 300) if quick else (24, 2000)
    rows = []
    for cycle in (7, 8, 9, 10):
        config = dataclasses.replace(CONFIG_A, dilation_cycle=cycle)
        cached_generator = _generator(config, torch.device("cpu"), "reference")
        naive = samples_per_second(NaiveWaveNet(cached_generator.model), naive_steps,
                                   prime_steps=config.receptive_field)
        cached = samples_per_second(cached_generator, cached_steps, prime_steps=config.receptive_field)
        rows.append({"receptive_field": config.receptive_field, "naive_samples_per_s": round(naive, 1),
                     "cached_samples_per_s": round(cached, 1), "cached_over_naive": round(cached / naive, 1)})
    return rows


def bench_config(name: str, config: WaveNetConfig, device: torch.device, quick: bool) -> dict:
    """Batch 1 on every path, and aggregate throughput of batched streams on the fast path."""
    scale = 0.25 if quick else 1.0
    heavy = config.residual_channels >= 256
    steps = lambda n: max(32, int(n * scale))  # noqa: E731
    row: dict = {"config": name, "device": device.type, "receptive_field": config.receptive_field}
    if device.type == "cpu":
        reference = _generator(config, device, "reference")
        row["naive_b1"] = round(samples_per_second(NaiveWaveNet(reference.model), 2 if heavy else steps(24),
                                                   prime_steps=config.receptive_field), 2)
        row["cached_b1"] = round(samples_per_second(reference, steps(200 if heavy else 2000)), 1)
        for threads in (1, 2):
            row[f"fast_b1_{threads}_threads"] = round(samples_per_second(
                _generator(config, device, threads=threads), steps(512 if heavy else 16000)), 1)
        row["fast_b1"] = round(samples_per_second(_generator(config, device), steps(512 if heavy else 16000)), 1)
        batches = (16, 64)
    else:
        row["cached_b1"] = round(samples_per_second(_generator(config, device, "reference"), steps(300)), 1)
        row["fast_b1"] = round(samples_per_second(_generator(config, device), steps(4096)), 1)
        batches = (16, 64, 256, 1024)
    for batch in batches:
        n = steps(max(64, (2048 if not heavy else 256) * 16 // batch))
        row[f"fast_b{batch}"] = round(samples_per_second(_generator(config, device), n, batch_size=batch), 1)
    if device.type == "cuda":  # the graphed layers in bfloat16 (queues and sampling stay float32)
        for batch in (1, 64, 1024):
            n = steps(4096 if batch == 1 else max(64, 2048 * 16 // batch))
            row[f"fast_bf16_b{batch}"] = round(samples_per_second(
                _generator(config, device, graph_dtype=torch.bfloat16), n, batch_size=batch), 1)
    row["fast_b1_real_time_factor"] = round(row["fast_b1"] / config.sample_rate, 3)
    return row


def bench_wavenet(quick: bool = False, device: str = "auto") -> dict:
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    result = {"benchmark": "wavenet_generation", "machine": describe_machine(dev), "quick": quick,
              "configs": [bench_config("A", CONFIG_A, dev, quick), bench_config("B", CONFIG_B, dev, quick)]}
    if dev.type == "cpu":
        result["receptive_field_sweep"] = bench_receptive_field(quick)
    return result


def format_wavenet(result: dict) -> str:
    lines = [f"WaveNet generation, samples per second ({result['machine']})", ""]
    keys = [k for k in result["configs"][0] if k not in ("config", "device", "receptive_field")]
    lines.append(f"{'':28}" + "".join(f"{c['config']:>14}" for c in result["configs"]))
    for key in keys:
        lines.append(f"{key:28}" + "".join(f"{c.get(key, float('nan')):>14,.1f}" for c in result["configs"]))
    a = result["configs"][0]
    if "naive_b1" in a:
        lines.append("")
        lines.append(f"config A batch 1: cached is {a['cached_b1'] / a['naive_b1']:.1f}x naive, "
                     f"fast is {a['fast_b1'] / a['cached_b1']:.0f}x cached ({a['fast_b1_real_time_factor']}x real time at 16 kHz)")
    if "receptive_field_sweep" in result:
        lines += ["", "Config A layers, receptive field doubling (batch 1, reference paths):",
                  f"{'receptive field':>16} {'naive':>10} {'cached':>10} {'cached/naive':>13}"]
        for row in result["receptive_field_sweep"]:
            lines.append(f"{row['receptive_field']:>16} {row['naive_samples_per_s']:>10.1f} "
                         f"{row['cached_samples_per_s']:>10.1f} {row['cached_over_naive']:>12.1f}x")
    lines.append(json.dumps(result))
    return "\n".join(lines)


def bench_spread(runs: int) -> dict:
    """Config A on the fast path, ``runs`` single runs each at batch 1 and batch 64 (a fresh model
    every third run): how much a noisy machine moves the figure, and its median."""
    result = {"benchmark": "wavenet_fast_spread", "machine": describe_machine(torch.device("cpu")), "runs": runs}
    for batch, steps in ((1, 16000), (64, 2048)):
        rates = []
        for i in range(runs):
            if i % 3 == 0:
                generator = _generator(CONFIG_A, torch.device("cpu"))
            rates.append(round(samples_per_second(generator, steps, batch_size=batch, repeats=1)))
        result[f"b{batch}"] = {"median": sorted(rates)[len(rates) // 2], "min": min(rates), "max": max(rates),
                               "runs": rates}
    return result
