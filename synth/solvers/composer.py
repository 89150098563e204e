"""Training, evaluating and bundling the LSTM composer (plain LSTM or RNN-NADE) on the four
polyphonic music benchmarks (``synth.music.benchmarks``), the music21 chorales, or a folder of
MIDI files. A recipe is a ``ComposerRecipe`` (every hyper-parameter in one place); the stages are
``train``, ``evaluate``, ``bundle``, ``bench`` and ``table``.

A run lives in ``<runs_dir>/<name>/``: the trainer's last weights and training state, ``best/``
(the weights with the lowest validation NLL seen, which evaluation and bundling use) and
``metrics.json``. Bundling picks, among the measured runs on one data set, the one with the lowest
validation NLL and writes it with its card and samples to ``assets/composer-<style>/``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.checkpoint import CONFIG, atomic_write, load_checkpoint, save_checkpoint
from synth.device import describe_machine
from synth.errors import InputError
from synth.models.composer import Composer, ComposerConfig, composer_loss, evaluate
from synth.music.benchmarks import BENCHMARKS, DEFAULT_FOLDER, SOURCE, benchmark, key_range, load_benchmark, midi_name
from synth.music.datasets import RollDataset, eval_batches, piece_batch
from synth.music.styles import style_of_source
from synth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[2]
METRICS = "metrics.json"
BEST = "best"
SOURCES = (*BENCHMARKS, "chorales", "midi")

#: Published test frame NLL (nats per frame, summed over the 88 keys; lower is better) on exactly
#: these splits, by data set: {model: NLL}.
#: - Boulanger-Lewandowski, Bengio & Vincent, ICML 2012, Table 1, where they appear as
#:   log-likelihoods (negative); every frame of a piece is scored.
#: - Bai, Kolter & Koltun 2018, "An Empirical Evaluation of Generic Convolutional and Recurrent
#:   Networks for Sequence Modeling", Table 1 (JSB Chorales and Nottingham only); their code
#:   (TCN/poly_music/music_test.py) scores frames 2..T of each piece.
#: Quoted from the papers; the search tool's stored copies did not hold the tables' text, so each
#: figure should be checked against the PDFs before it is quoted further.
PUBLISHED: dict[str, dict[str, float]] = {
    "jsb": {"RNN-NADE (B-L 2012)": 5.56, "RNN-RBM (B-L 2012)": 6.27,
            "TCN (Bai 2018)": 8.10, "LSTM (Bai 2018)": 8.45, "GRU (Bai 2018)": 8.43, "RNN (Bai 2018)": 8.91},
    "nottingham": {"RNN-NADE (B-L 2012)": 2.31, "RNN-RBM (B-L 2012)": 2.39,
                   "TCN (Bai 2018)": 3.07, "LSTM (Bai 2018)": 3.29, "GRU (Bai 2018)": 3.46, "RNN (Bai 2018)": 4.05},
    "musedata": {"RNN-NADE (B-L 2012)": 5.60, "RNN-RBM (B-L 2012)": 6.01},
    "piano": {"RNN-NADE (B-L 2012)": 7.05, "RNN-RBM (B-L 2012)": 7.09},
}
PUBLISHED_SOURCE = ("Boulanger-Lewandowski et al. 2012, Table 1 (log-likelihoods, sign flipped; every frame scored); "
                    "Bai et al. 2018, Table 1 (JSB Chorales and Nottingham only; frames 2..T of each piece scored)")


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
        if self.train.ema_decay:
            raise InputError("the composer keeps its best weights by validation NLL; train.ema_decay must be 0")

    @property
    def run_name(self) -> str:
        return self.name or f"{self.data.source}-{self.model.head}"

    @property
    def run_dir(self) -> Path:
        return _path(self.runs_dir) / self.run_name


def _path(path: str | Path) -> Path:
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

class BestWeights:
    """Keeps, in ``folder``, the weights with the lowest validation NLL seen so far.

    The trainer calls its card function at every export, right after the evaluation of that
    step when ``checkpoint_every == eval_every``: the moment the weights and their validation loss
    belong together. A resumed run reads the best loss so far back from ``folder``.
    """

    def __init__(self, model: Composer, folder: Path, metadata: dict):
        self.model, self.folder, self.metadata = model, folder, metadata
        self.best = math.inf
        if (folder / CONFIG).is_file():
            stored = json.loads((folder / CONFIG).read_text()).get("metadata", {}).get("best", {})
            self.best = stored.get("valid_loss", math.inf)

    def __call__(self, record: dict) -> str:
        loss = record.get("valid_loss")
        if loss is not None and loss < self.best:
            self.best = loss
            save_checkpoint(self.model, self.folder, metadata=self.metadata | {"best": record, "step": record["step"]},
                            card=f"# composer: best weights so far of a run in training\n\n{json.dumps(record)}\n")
        return f"# composer: last weights of a run in training (the best are in {BEST}/)\n\n{json.dumps(record)}\n"


def run_train(recipe: ComposerRecipe, command: str = "", log: Callable[[str], None] = print) -> dict:
    """Train the recipe's model on its data; the best weights by validation NLL go to ``best/``."""
    torch.set_num_threads(recipe.threads)
    rolls = dataset(recipe.data)
    lowest, highest = key_range(rolls.split("train"))
    spec_bar = benchmark(recipe.data.source).beats_per_bar if recipe.data.source in BENCHMARKS else 4
    config = dataclasses.replace(recipe.model, steps_per_quarter=rolls.steps_per_quarter, beats_per_bar=spec_bar,
                                 lowest_key=lowest, highest_key=highest)
    train_config = dataclasses.replace(recipe.train, checkpoint_every=recipe.train.eval_every)
    torch.manual_seed(train_config.seed)
    model = Composer(config)
    train_rolls = rolls.split("train")
    valid = eval_batches(rolls.split("valid"), recipe.data.eval_pieces_per_batch)
    d = recipe.data
    metadata = {"recipe": _plain(recipe), "data": data_description(d, rolls), "command": command,
                "hardware": describe_machine()}
    out = recipe.run_dir
    keeper = BestWeights(model, out / BEST, metadata | {"train": dataclasses.asdict(train_config)})
    log(f"training {recipe.run_name}: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{len(train_rolls)} training pieces ({rolls.frames('train'):,} frames), keys {lowest}..{highest}")
    return train(model, loss=composer_loss,
                 batch=lambda g: piece_batch(train_rolls, g, d.batch_size, d.crop_steps, d.max_transpose),
                 valid_batches=valid, config=train_config, out_dir=out, card=keeper, metadata=metadata,
                 units_per_batch=d.batch_size * d.crop_steps, log=log)


def _plain(recipe: ComposerRecipe) -> dict:
    from synth.recipe import config_to_dict

    return config_to_dict(recipe)


def load_run(recipe: ComposerRecipe) -> Composer:
    """The run's best weights (its last when it kept no best)."""
    best = recipe.run_dir / BEST
    return load_checkpoint(best if (best / CONFIG).is_file() else recipe.run_dir, expect_kind="composer")


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


def measured_runs(runs_dir: str | Path, source: str | None = None) -> dict[str, dict]:
    """{run name: metrics} of every evaluated run under ``runs_dir`` (on ``source`` only, when given)."""
    out = {}
    for path in sorted(_path(runs_dir).glob(f"*/{METRICS}")):
        metrics = json.loads(path.read_text())
        if source is None or (metrics["run"].get("data") or {}).get("source") == source:
            out[path.parent.name] = metrics
    return out


# -- the table, the card, the bundle -------------------------------------------------------------

def model_words(config: dict) -> str:
    if config["head"] == "nade":
        order = "" if config.get("nade_order", "ascending") == "ascending" else f", keys {config['nade_order']}"
        return f"RNN-NADE, LSTM {config['n_layers']} x {config['hidden_size']}, NADE {config['nade_hidden']}{order}"
    return f"LSTM {config['n_layers']} x {config['hidden_size']}, independent sigmoids"


def results_rows(source: str, runs: dict[str, dict], bundled: str | None = None) -> list[str]:
    """Markdown rows for one data set: this project's runs, the marginal baseline, the published figures."""
    title = benchmark(source).title if source in BENCHMARKS else source
    rows = []
    for name, m in sorted(runs.items(), key=lambda item: item[1]["test"]["frame_nll"]):
        recipe = (m["run"].get("recipe") or {})
        d = recipe.get("data") or {}
        extras = f"dropout {m['run']['model']['dropout']}" + (f", transposition {d['max_transpose']}" if d.get("max_transpose") else "")
        rows.append(f"| {title} | {model_words(m['run']['model'])} ({extras}){' **bundled**' if name == bundled else ''} | "
                    f"**{m['test']['frame_nll']:.2f}** | {m['test'].get('frame_nll_from_second', math.nan):.2f} | "
                    f"{100 * m['test']['frame_accuracy']:.1f} | "
                    f"{m['training']['best_step']} of {m['training']['steps']} steps, "
                    f"{(m['training']['wall_seconds'] or 0) / 60:.0f} min | this project (`{name}`) |")
    if runs:
        base = next(iter(runs.values()))["marginal_baseline"]
        rows.append(f"| {title} | per-key marginal, fitted on train | {base['frame_nll']:.2f} | | "
                    f"{100 * base['frame_accuracy']:.1f} | - | this project |")
    for model, nll in PUBLISHED.get(source, {}).items():
        bai = "Bai" in model
        rows.append(f"| {title} | {model} | {'' if bai else f'{nll:.2f}'} | {f'{nll:.2f}' if bai else ''} | | - | published |")
    return rows


TABLE_HEAD = ("| data set | model | test NLL, all frames | test NLL, frames 2..T | test frame accuracy (%) | training | source |\n"
              "| --- | --- | ---: | ---: | ---: | --- | --- |")


def results_table(runs_dir: str | Path) -> str:
    """The one table of the README and the cards: every measured run on the benchmarks, by data set."""
    rows = []
    for source in BENCHMARKS:
        rows += results_rows(source, measured_runs(runs_dir, source))
    return "\n".join([TABLE_HEAD, *rows]) + f"\n\nPublished figures: {PUBLISHED_SOURCE}."


def card(recipe: ComposerRecipe, best: str, runs: dict[str, dict], samples: dict[str, str]) -> str:
    """The model card of a bundled composer."""
    m = runs[best]
    t, c, run, data = m["training"], m["copying"], m["run"], m["run"]["data"]
    config = run["model"]
    style = style_of_source(data["source"])
    tempo = recipe.sample.tempo_bpm or (style.tempo_bpm if style else 100.0)
    bar = config["steps_per_quarter"] * config["beats_per_bar"]
    nade = config["head"] == "nade"
    what = ("RNN-NADE (Boulanger-Lewandowski et al. 2012): an LSTM over frames whose state sets the biases of a NADE over "
            f"the 88 keys, so each frame is sampled key by key ({config.get('nade_order', 'ascending')} pitch), each key "
            "given the ones before it." if nade else
            "The plain LSTM of the published tables: an LSTM over frames with an independent sigmoid per key.")
    train_config = (run.get("recipe") or {}).get("train") or {}
    data_config = (run.get("recipe") or {}).get("data") or {}
    audio = f"`{samples['audio']}` (FluidSynth, sampled piano)" if samples.get("audio") else "no audio (FluidSynth was not available)"
    return f"""# composer-{style.name if style else data['source']}: {style.title if style else data['source']} ({data.get('title', data['source'])})

{what} LSTM {config['n_layers']} x {config['hidden_size']}{f", NADE {config['nade_hidden']} hidden units" if nade else ''},
dropout {config['dropout']} (input dropout {config['input_dropout']}); {t['parameters']:,} parameters.
Sampling keeps to the keys the training pieces sound ({data['key_range_names'][0]} to {data['key_range_names'][1]});
default tempo {tempo:g} quarter notes per minute. Chosen among the runs below by the lowest validation NLL;
the weights are those of the step with the lowest validation NLL ({t['best_step']} of {t['steps']}), not the last.

## Data and licence
- {data.get('title', data['source'])}: {data['licence']}.
- Source: {data.get('origin', data['source'])}; read from `{data.get('file', '')}` (train / valid / test:
  {data['pieces']['train']} / {data['pieces']['valid']} / {data['pieces']['test']} pieces,
  {data['frames']['train']:,} / {data['frames']['valid']:,} / {data['frames']['test']:,} frames), the split every published table uses.
- A frame is {data.get('time_step', f"1/{data['steps_per_quarter']} quarter note")}; pieces were transposed to C major or C minor by the
  benchmark's authors. Keys sounding in training: {data['key_range_names'][0]} to {data['key_range_names'][1]}.

## Held-out results
Frame NLL: -log p(frame | past) in nats, summed over the 88 keys, mean over all test frames (Bai et al. 2018;
Boulanger-Lewandowski et al. 2012 report the same as a log-likelihood). Frame accuracy: sum TP / sum (TP + FP + FN)
over all frames (Bay et al. 2009), predicting each frame from the true past (p > 0.5; for NADE greedily, key by
key); Boulanger-Lewandowski et al. report the expected accuracy under sampling instead, so accuracies compare
in kind only.

{TABLE_HEAD}
{chr(10).join(results_rows(data['source'], runs, best))}

Published figures: {PUBLISHED_SOURCE}.

## Training
AdamW, learning rate {train_config.get('learning_rate')} (warm-up {train_config.get('warmup_steps')}, cosine), batch {data_config.get('batch_size')}
crops of up to {data_config.get('crop_steps')} frames, gradient clip {train_config.get('grad_clip')}, transposition {data_config.get('max_transpose', 0)}
semitones; {t['steps']} steps in {(t['wall_seconds'] or 0) / 60:.1f} min ({t['frames_per_second']} training frames/s) on {t['hardware']}.

## Generation
- 32 bars at batch 1 in {m['seconds_for_32_bars_batch_1']} s ({m.get('cpu_seconds_for_32_bars_batch_1', 'n/a')} s of CPU) on this machine, one thread.
- Copying: the longest run of consecutive frames of a composed piece found verbatim in the training set has a
  median of {c['generated_median_bars']:g} bars (max {c['generated_max_bars']:g}) over {c['pieces']} pieces of {c['bars']} bars
  (temperature {c['temperature']}); held-out test pieces share runs of median {c['test_median_bars']:g} bars
  (max {c['test_max_bars']:g}) with the training set.
- Notes sounding per frame: composed {c['notes_per_frame_generated']:.2f}, training pieces {c['notes_per_frame_train']:.2f}.
  Frames that are one triad or dominant seventh: composed {c['chord_frames_generated']:.0%}, test pieces {c['chord_frames_test']:.0%}.
- Sample ({recipe.sample.bars} bars, seed {recipe.sample.seed}, {tempo:g} bpm, {bar} frames a bar): `{samples['midi']}`, its roll `{samples['png']}`,
  audio {audio}.

## Reproduce
`{run.get('command') or 'python recipes/composer.py'}` (trains and evaluates; resumes from the run's
`training_state.safetensors`), then `python recipes/composer.py --stage bundle data.source={data['source']}`, which picks
the evaluated run on this data set with the lowest validation NLL.
"""


def run_bundle(recipe: ComposerRecipe, log: Callable[[str], None] = print) -> Path:
    """The measured run on the recipe's data set with the lowest validation NLL, with its card and
    a sample (MIDI, roll picture, FluidSynth audio), into the style's asset folder."""
    from synth.music.composition import compose
    from synth.music.midi import write_midi
    from synth.music.picture import save_roll_png

    torch.set_num_threads(recipe.threads)
    source = recipe.data.source
    runs = measured_runs(recipe.runs_dir, source)
    if not runs:
        raise InputError(f"no evaluated run on {source} under {recipe.runs_dir}: run the train and evaluate stages first")
    best = min(runs, key=lambda name: runs[name]["valid"]["frame_nll"])
    model = load_checkpoint(_path(recipe.runs_dir) / best / BEST, expect_kind="composer")
    style = style_of_source(source)
    out = _path(recipe.bundle_dir or f"assets/composer-{style.name if style else source}")
    out.mkdir(parents=True, exist_ok=True)
    tempo = recipe.sample.tempo_bpm or (style.tempo_bpm if style else 100.0)
    s = recipe.sample
    piece = compose(model, bars=s.bars, seed=s.seed, temperature=s.temperature, tempo_bpm=tempo)[0]
    midi = piece.to_midi()
    write_midi(midi, out / "sample.mid")
    save_roll_png(piece.roll, out / "sample.png", beats_per_bar=model.config.beats_per_bar)
    samples = {"midi": "sample.mid", "png": "sample.png"}
    try:
        from synth.audio import write_audio
        from synth.music.composition import render_audio

        write_audio(out / "sample.flac", render_audio(midi), 16000)
        samples["audio"] = "sample.flac"
    except Exception as error:  # noqa: BLE001 -- a machine without FluidSynth still bundles the model
        log(f"no audio sample: {error}")
    metadata = {k: v for k, v in model.metadata.items() if k != "history"}
    metadata |= {"metrics": runs[best], "style": style.name if style else None, "tempo_bpm": tempo}
    save_checkpoint(model, out, card=card(recipe, best, runs, samples), metadata=metadata)
    atomic_write(out / METRICS, json.dumps(runs, indent=1).encode())
    log(f"bundled {best} in {out}")
    return out


def run_bench(folders: list[str | Path], bars: int = 32, log: Callable[[str], None] = print) -> dict[str, dict[str, float]]:
    """Wall and CPU seconds to compose ``bars`` bars at batch 1 with each composer folder (one thread)."""
    torch.set_num_threads(1)
    times = {}
    for folder in folders:
        model = load_checkpoint(_path(folder), expect_kind="composer")
        times[str(folder)] = generation_seconds(model, bars)
        log(f"{folder}: {bars} bars at batch 1 in {times[str(folder)]['wall']} s "
            f"({times[str(folder)]['cpu']} s of CPU; {model.config.head}, {model.config.steps_per_bar} frames a bar)")
    return times
