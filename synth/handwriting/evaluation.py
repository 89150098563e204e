"""Measurements of a handwriting synthesis checkpoint: held-out NLL and SSE (as in Graves 2013's
tables), how often sampled lines fail and are retried, and writing speed; and sample pictures."""
from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from synth.checkpoint import load_checkpoint
from synth.device import describe_machine
from synth.handwriting.dataset import fixed_batches
from synth.handwriting.render import attention_figure, density_figure, write_ink
from synth.handwriting.styles import bundled_style, bundled_styles
from synth.handwriting.writer import write_lines
from synth.models.handwriting import HandwritingSynthesis, mixture_nll

SPEED_TEXT = "Forty characters make one line of ink ok"  # 40 characters
assert len(SPEED_TEXT) == 40


@torch.no_grad()
def heldout_metrics(model: HandwritingSynthesis, offsets: list, texts: list, batch_size: int = 32) -> dict:
    """NLL (nats, in the network's normalised offset units) per line and per point, and the SSE per
    point of the mixture's mean offset against the true one (normalised units)."""
    nll = sse = points = 0.0
    for batch in fixed_batches(offsets, texts, model.config.alphabet, batch_size):
        targets = model.encode(batch["offsets"])
        inputs = torch.cat([model.initial_input(len(targets))[:, None], targets[:, :-1]], 1)
        params, _ = model(inputs, chars=batch["chars"], lengths=batch["lengths"])
        nll += float(mixture_nll(params, targets, batch["mask"]))
        weights = torch.softmax(params[0], -1)  # (B, T, M)
        mean = (weights[..., None] * params[1]).sum(-2)  # (B, T, 2)
        sse += float((((mean - targets[..., :2]) ** 2).sum(-1) * batch["mask"]).sum())
        points += float(batch["mask"].sum())
    return {"lines": len(offsets), "points": int(points), "nll_per_line": round(nll / len(offsets), 2),
            "nll_per_point": round(nll / points, 4), "sse_per_point": round(sse / points, 4)}


def failure_rate(model: HandwritingSynthesis, texts: list[str], styles_path: Path, *, bias: float,
                 batch_size: int = 20, seed: int = 0) -> dict:
    """Sample every text once (styles in turn) and count failed first attempts, retries and lines
    that still failed after the retries."""
    names = [s["id"] for s in bundled_styles(styles_path)]
    attempts_failed = retried_lines = still_failed = 0
    kinds: dict = {}
    started = time.perf_counter()
    for start in range(0, len(texts), batch_size):
        style = bundled_style(styles_path, names[(start // batch_size) % len(names)])
        result = write_lines(model, texts[start:start + batch_size], style=style, bias=bias, seed=seed + start)
        attempts_failed += sum(result.failures.values())
        retried_lines += sum(line.attempts > 1 for line in result.lines)
        still_failed += result.failed_lines
        for kind, n in result.failures.items():
            kinds[kind] = kinds.get(kind, 0) + n
    return {"lines": len(texts), "bias": bias, "lines_retried": retried_lines,
            "first_attempt_failure_rate": round(retried_lines / len(texts), 3),
            "failed_attempts_by_kind": kinds, "failed_attempts": attempts_failed,
            "lines_failed_after_retries": still_failed, "seconds": round(time.perf_counter() - started, 1)}


def speed(model: HandwritingSynthesis, styles_path: Path, repeats: int = 5) -> dict:
    """Seconds to write the 40-character line at batch 1 (median of ``repeats``, with a bundled
    style primer and without), and lines per second at batch 16."""
    style = bundled_style(styles_path, 0)
    write_lines(model, ["warm up"], seed=0, max_retries=0)
    timings = {}
    for name, primer in (("unprimed", None), ("primed", style)):
        runs, points, failed = [], [], 0
        for r in range(repeats):
            t = time.perf_counter()
            line = write_lines(model, [SPEED_TEXT], style=primer, bias=1.0, seed=r, max_retries=0).lines[0]
            runs.append(time.perf_counter() - t)
            points.append(line.ink.n_points)
            failed += line.failure is not None
        timings[name] = {"median_seconds": round(statistics.median(runs), 3), "min_seconds": round(min(runs), 3),
                         "max_seconds": round(max(runs), 3), "median_points": int(statistics.median(points)),
                         "failed_lines": failed}
    t = time.perf_counter()
    write_lines(model, [SPEED_TEXT] * 16, style=style, bias=1.0, seed=0, max_retries=0)
    batch_seconds = time.perf_counter() - t
    return {"line_chars": 40, "batch1": timings, "batch16_seconds": round(batch_seconds, 3),
            "batch16_lines_per_second": round(16 / batch_seconds, 2), "threads": torch.get_num_threads(),
            "machine": describe_machine(next(model.parameters()).device),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def write_samples(checkpoint: Path, out_dir: Path, text: str = "Handwriting from a small LSTM", seed: int = 0) -> None:
    """A line in every bundled style (SVG, PNG, GIF, JSON), and the attention and density pictures."""
    model = load_checkpoint(checkpoint, expect_kind=HandwritingSynthesis.kind)
    out_dir.mkdir(parents=True, exist_ok=True)
    inks = []
    for style in bundled_styles(checkpoint / "styles.json"):
        result = write_lines(model, [text], style=bundled_style(checkpoint / "styles.json", style["id"]), bias=1.0,
                             seed=seed, record=True)
        line = result.lines[0]
        inks.append(line.ink)
        if style["id"] == 0:
            write_ink(out_dir / "line.gif", [line.ink])
            write_ink(out_dir / "line.json", [line.ink])
            attention_figure(out_dir / "attention.png", line.phi, text, line.ink)
            p = line.params
            # Means are offsets from the current point: add the pen's position before each step.
            points = np.concatenate([np.zeros((1, 2)), np.cumsum(line.ink.to_offsets()[:, :2], 0)])
            n = min(len(points), len(p["mu"]))
            density_figure(out_dir / "density.png", line.ink, p["mu"][:n] + points[:n, None], p["sigma"][:n],
                           p["weights"][:n], p["rho"][:n])
    write_ink(out_dir / "styles.svg", inks)
    write_ink(out_dir / "styles.png", inks)
