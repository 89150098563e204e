"""Training, evaluating and bundling the LSTM composer (plain LSTM or RNN-NADE) on the four
polyphonic music benchmarks (``synth.music.benchmarks``), the music21 chorales, or a folder of
MIDI files. A recipe is a ``ComposerRecipe`` (every hyper-parameter in one place); the stages are
``train``, ``evaluate`` and ``bench`` here, ``bundle`` and ``table`` (with the card) in
``synth.solvers.composer_bundle``.

A run lives in ``<runs_dir>/<name>/``: the trainer's last weights and training state, ``best/``
(the weights with the lowest validation NLL seen, which evaluation and bundling use) and
``metrics.json``. Bundling picks, among the measured runs on one data set, the one with the lowest
validation NLL and writes it with its card and samples to ``assets/composer-<style>/``.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.checkpoint import CONFIG, atomic_write, load_checkpoint
from synth.device import describe_machine
from synth.errors import InputError
from synth.models.composer import Composer, ComposerConfig, composer_loss, evaluate
from synth.music.benchmarks import BENCHMARKS, DEFAULT_FOLDER, SOURCE, benchmark, key_range, load_benchmark, midi_name
from synth.music.datasets import RollDataset, eval_batches, piece_batch
from synth.training import BEST, TrainConfig, best_or_last, train

ROOT = Path(__file__).resolve().parents[2]
METRICS = "metrics.json"

SOURCES = (*BENCHMARKS, "chorales", "midi")


@dataclasses.dataclass
class ComposerData:
    source: str = "jsb"  # jsb | nottingham | musedata | piano (the benchmark files) | chorales (music21) | midi
    folder: str = ""  # the benchmark files' folder (default ../shared/data/polyphonic-music), or the MIDI folder
    crop_steps: int = 128  # longest stretch of a piece in one training example
    batch_size: int = 16
    max_transpose: int = 0  # random transposition of training crops by up to this many semitones
    eval_pieces_per_batch: int = 32


@dataclasses.dataclass
class ComposerSample:
    bars: int = 16  # the bundled sample's length
    pieces: int = 8  # pieces composed to measure copying
    copy_bars: int = 32  # their length
    temperature: float = 1.0
    tempo_bpm: float = 0.0  # 0 = the style's default tempo
    seed: int = 0


@dataclasses.dataclass
class ComposerRecipe:
    name: str = ""  # the run's folder under runs_dir; "" = <source>-<head>
    runs_dir: str = "runs/composer"
    bundle_dir: str = ""  # where the bundle stage writes; "" = assets/composer-<style>
    threads: int = 1
    data: ComposerData = dataclasses.field(default_factory=ComposerData)
    model: ComposerConfig = dataclasses.field(default_factory=lambda: ComposerConfig(
        hidden_size=200, n_layers=2, nade_hidden=150, dropout=0.4, input_dropout=0.1))
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(
        steps=4000, learning_rate=0.01, warmup_steps=100, eval_every=200, checkpoint_every=200))
    sample: ComposerSample = dataclasses.field(default_factory=ComposerSample)

    def __post_init__(self):
        if self.data.source not in SOURCES:
            raise InputError(f"data.source must be one of {', '.join(SOURCES)}, got {self.data.source!r}")

    @property
    def run_name(self) -> str:
        return self.name or f"{self.data.source}-{self.model.head}"

    @property
    def run_dir(self) -> Path:
        return repository_path(self.runs_dir) / self.run_name


def repository_path(path: str | Path) -> Path:
    path = Path(path)
    return path if path.is_absolute() else ROOT / path


# -- data ----------------------------------------------------------------------------------------

def dataset(data: ComposerData) -> RollDataset:
    """The rolls of ``data.source`` with their splits."""
    if data.source in BENCHMARKS:
        return load_benchmark(data.source, data.folder or None)
    if data.source == "midi":
        from synth.music.datasets import midi_folder_dataset

        if not data.folder:
            raise InputError("data.source=midi needs data.folder=<a folder of MIDI files>")
        return midi_folder_dataset(data.folder, steps_per_quarter=4)
    from synth.music.datasets import chorale_dataset

    return chorale_dataset(ROOT / "data" / "composer" / "chorales.npz", 1)


def data_description(data: ComposerData, rolls: RollDataset) -> dict:
    """What the card says of the data: the source, its grid, its key range, its split sizes, its licence."""
    lowest, highest = key_range(rolls.split("train"))
    facts = {"source": data.source, "licence": rolls.licence,
             "pieces": {s: len(rolls.split(s)) for s in ("train", "valid", "test")},
             "frames": {s: rolls.frames(s) for s in ("train", "valid", "test")},
             "steps_per_quarter": rolls.steps_per_quarter,
             "key_range": [lowest, highest], "key_range_names": [midi_name(lowest), midi_name(highest)]}
    if data.source in BENCHMARKS:
        spec = benchmark(data.source)
        facts |= {"title": spec.title, "time_step": spec.time_step, "file": spec.file, "origin": SOURCE,
                  "folder": str(data.folder or DEFAULT_FOLDER)}
    return facts


# -- training ------------------------------------------------------------------------------------

def run_train(recipe: ComposerRecipe, command: str = "", log: Callable[[str], None] = print) -> dict:
    """Train the recipe's model on its data; the trainer keeps the best weights by validation NLL in ``best/``."""
    torch.set_num_threads(recipe.threads)
    rolls = dataset(recipe.data)
    lowest, highest = key_range(rolls.split("train"))
    spec_bar = benchmark(recipe.data.source).beats_per_bar if recipe.data.source in BENCHMARKS else 4
    config = dataclasses.replace(recipe.model, steps_per_quarter=rolls.steps_per_quarter, beats_per_bar=spec_bar,
                                 lowest_key=lowest, highest_key=highest)
    torch.manual_seed(recipe.train.seed)
    model = Composer(config)
    train_rolls = rolls.split("train")
    valid = eval_batches(rolls.split("valid"), recipe.data.eval_pieces_per_batch)
    d = recipe.data
    metadata = {"recipe": _plain(recipe), "data": data_description(d, rolls), "command": command,
                "hardware": describe_machine()}
    out = recipe.run_dir
    log(f"training {recipe.run_name}: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{len(train_rolls)} training pieces ({rolls.frames('train'):,} frames), keys {lowest}..{highest}")
    return train(model, loss=composer_loss,
                 batch=lambda g: piece_batch(train_rolls, g, d.batch_size, d.crop_steps, d.max_transpose),
                 valid_batches=valid, config=recipe.train, out_dir=out, metadata=metadata,
                 card=lambda record: f"# composer: weights of a run in training (the best so far are in {BEST}/)\n\n{json.dumps(record)}\n",
                 units_per_batch=d.batch_size * d.crop_steps, log=log)


def _plain(recipe: ComposerRecipe) -> dict:
    from synth.recipe import config_to_dict

    return config_to_dict(recipe)


def load_run(recipe: ComposerRecipe) -> Composer:
    """The run's best weights (its last when it kept no best)."""
    return load_checkpoint(best_or_last(recipe.run_dir), expect_kind="composer")


# -- evaluation ----------------------------------------------------------------------------------

def marginal_nll(train_rolls: list[np.ndarray], test_rolls: list[np.ndarray]) -> dict[str, float]:
    """The per-key marginal baseline: each key on with its training frequency p_k (add-one
    smoothed, so a key never seen in training costs log(frames + 2) rather than infinity),
    independently of the past and of the other keys. Mean test frame NLL in nats (summed over
    keys) and frame accuracy of predicting the keys with p_k > 0.5."""
    train_frames = np.concatenate(train_rolls).astype(np.float64)  # (F, 88)
    p = (train_frames.sum(0) + 1.0) / (len(train_frames) + 2.0)  # (88,)
    test = np.concatenate(test_rolls).astype(np.float64)
    nll = -(test * np.log(p) + (1 - test) * np.log1p(-p)).sum(1)  # (F,)
    predicted = (p > 0.5).astype(np.float64)[None, :]
    tp, fp, fn = (predicted * test).sum(), (predicted * (1 - test)).sum(), ((1 - predicted) * test).sum()
    return {"frame_nll": float(nll.mean()), "frame_accuracy": float(tp / max(1.0, tp + fp + fn)), "frames": len(test)}


def generation_seconds(model: Composer, bars: int = 32, batch_size: int = 1, repeats: int = 3) -> dict[str, float]:
    """Median wall and CPU (this process) seconds to compose ``bars`` bars, after one warm-up run.
    On a machine shared with training jobs the CPU time is the fairer measure of the code."""
    from synth.music.composition import compose

    compose(model, bars=min(bars, 2), batch_size=batch_size, seed=0)
    wall, cpu = [], []
    for seed in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        compose(model, bars=bars, batch_size=batch_size, seed=seed)
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return {"wall": round(sorted(wall)[len(wall) // 2], 3), "cpu": round(sorted(cpu)[len(cpu) // 2], 3)}


def run_evaluate(recipe: ComposerRecipe, log: Callable[[str], None] = print) -> dict:
    """Test and validation NLL and frame accuracy of the run's best weights, the marginal
    baseline, how much composed pieces copy the training set, and the time to compose 32 bars:
    written to the run's metrics.json."""
    from synth.music.composition import chord_frame_fraction, compose, longest_copied_runs

    torch.set_num_threads(recipe.threads)
    model = load_run(recipe)
    rolls = dataset(recipe.data)
    if rolls.steps_per_quarter != model.config.steps_per_quarter:
        raise InputError(f"the run was trained on {model.config.steps_per_quarter} steps per quarter, "
                         f"the data has {rolls.steps_per_quarter}")
    batch = recipe.data.eval_pieces_per_batch
    started = time.perf_counter()
    metrics = {split: evaluate(model, eval_batches(rolls.split(split), batch)) for split in ("valid", "test")}
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    metrics["marginal_baseline"] = marginal_nll(rolls.split("train"), rolls.split("test"))
    speed = generation_seconds(model)
    metrics["seconds_for_32_bars_batch_1"], metrics["cpu_seconds_for_32_bars_batch_1"] = speed["wall"], speed["cpu"]
    s, bar = recipe.sample, model.config.steps_per_bar
    pieces = compose(model, bars=s.copy_bars, batch_size=s.pieces, seed=s.seed, temperature=s.temperature)
    train_rolls = rolls.split("train")
    copied = longest_copied_runs([p.roll.keys for p in pieces], train_rolls)
    reference = longest_copied_runs([r[:s.copy_bars * bar] for r in rolls.split("test")[:50]], train_rolls)
    metrics["copying"] = {
        "generated_longest_copied_frames": copied,
        "generated_median_bars": float(np.median(copied)) / bar, "generated_max_bars": max(copied) / bar,
        "test_median_bars": float(np.median(reference)) / bar, "test_max_bars": max(reference) / bar,
        "test_pieces": len(reference), "pieces": s.pieces, "bars": s.copy_bars, "temperature": s.temperature,
        "notes_per_frame_generated": float(np.mean([p.roll.keys.sum(1).mean() for p in pieces])),
        "notes_per_frame_train": float(np.mean(np.concatenate(train_rolls).sum(1))),
        "chord_frames_generated": chord_frame_fraction(np.concatenate([p.roll.keys for p in pieces])),
        "chord_frames_test": chord_frame_fraction(np.concatenate(rolls.split("test"))),
    }
    history = model.metadata.get("history") or []
    last = json.loads((recipe.run_dir / CONFIG).read_text())["metadata"] if (recipe.run_dir / CONFIG).is_file() else {}
    last_history = last.get("history") or history
    metrics["training"] = {
        "best_step": model.metadata.get("step"), "steps": last.get("step", model.metadata.get("step")),
        "wall_seconds": last_history[-1]["wall_seconds"] if last_history else None,
        "frames_per_second": last_history[-1].get("units_per_second") if last_history else None,
        "best_valid_loss": (model.metadata.get("best") or {}).get("valid_loss"),
        "last_valid_loss": last_history[-1]["valid_loss"] if last_history else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "hardware": model.metadata.get("hardware") or describe_machine()}
    metrics["run"] = {"name": recipe.run_name, "model": dataclasses.asdict(model.config),
                      "recipe": model.metadata.get("recipe"), "data": model.metadata.get("data"),
                      "command": model.metadata.get("command")}
    atomic_write(recipe.run_dir / METRICS, json.dumps(metrics, indent=1).encode())
    log(f"{recipe.run_name}: test NLL {metrics['test']['frame_nll']:.3f} (valid {metrics['valid']['frame_nll']:.3f}), "
        f"accuracy {metrics['test']['frame_accuracy']:.3f}; marginal {metrics['marginal_baseline']['frame_nll']:.3f}; "
        f"32 bars in {metrics['seconds_for_32_bars_batch_1']} s")
    return metrics


def run_bench(folders: list[str | Path], bars: int = 32, log: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds to compose ``bars`` bars at batch 1 with each composer folder (one thread)."""
    torch.set_num_threads(1)
    times = {}
    for folder in folders:
        model = load_checkpoint(repository_path(folder), expect_kind="composer")
        times[str(folder)] = generation_seconds(model, bars)
        log(f"{folder}: {bars} bars at batch 1 in {times[str(folder)]['wall']} s "
            f"({times[str(folder)]['cpu']} s of CPU; {model.config.head}, {model.config.steps_per_bar} frames a bar)")
    return times
