"""Recipe: the LSTM composer (assets/composer), trained on the Bach chorales of the music21 corpus.

Stages, each resumable:
  data      parse the chorales once into piano rolls (quarter-note and sixteenth grids)
            -> data/composer/chorales.npz (split by piece, fixed seed: not the JSB benchmark split)
  train     train the plain LSTM (independent sigmoids) and the RNN-NADE on the same split
            -> runs/composer/<head>/ (resumes from its training state)
  evaluate  held-out frame NLL and frame accuracy of both, how much generated pieces copy the
            training set, time to generate 32 bars -> runs/composer/<head>/metrics.json
  bundle    the model with the lower validation NLL -> assets/composer/ with its model card and
            a sample (MIDI, picture, audio through FluidSynth)

  python recipes/composer.py [--stage data|train|evaluate|bundle|all] [train.steps=3000 model.hidden_size=256 ...]
  python recipes/composer.py --print-config
"""
from __future__ import annotations

import dataclasses
import json
import os
import platform
import shlex
import time
from pathlib import Path

import numpy as np
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.models.composer import Composer, ComposerConfig, composer_loss, evaluate
from synth.music.composition import chord_frame_fraction, compose, longest_copied_run, render_audio
from synth.music.datasets import CHORALES_LICENCE, chorale_dataset, eval_batches, midi_folder_dataset, piece_batch
from synth.music.midi import write_midi
from synth.music.picture import save_roll_png
from synth.recipe import recipe_arguments, wants
from synth.training import TrainConfig, train

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "data" / "composer" / "chorales.npz"
RUNS = ROOT / "runs" / "composer"
HEADS = ("independent", "nade")
PUBLISHED = ("On the real JSB Chorales split (not this one): LSTM 8.45 and TCN 8.10 nats per frame "
             "(Bai et al. 2018, Table 4); RNN-NADE about 5.6 (Boulanger-Lewandowski et al. 2012, Table 1).")


@dataclasses.dataclass
class DataConfig:
    steps_per_quarter: int = 1  # 1 = the JSB benchmark's quarter-note frames
    crop_steps: int = 128  # longest stretch of a piece in one training example
    batch_size: int = 16
    max_transpose: int = 0  # random transposition of training pieces by up to this many semitones
    midi_folder: str = ""  # train on this folder of MIDI files instead of the chorales (split by file name)


@dataclasses.dataclass
class SampleConfig:
    bars: int = 32
    pieces: int = 8
    temperature: float = 1.0
    tempo_bpm: float = 90.0
    seed: int = 0


@dataclasses.dataclass
class Config:
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ComposerConfig = dataclasses.field(default_factory=lambda: ComposerConfig(
        hidden_size=200, n_layers=2, nade_hidden=150, dropout=0.4, input_dropout=0.1))
    train: TrainConfig = dataclasses.field(default_factory=lambda: TrainConfig(
        steps=3000, learning_rate=2e-3, weight_decay=0.0, warmup_steps=100, eval_every=100, checkpoint_every=100))
    sample: SampleConfig = dataclasses.field(default_factory=SampleConfig)
    heads: tuple[str, ...] = HEADS
    variant: str = ""  # names a run with other settings: runs/composer/<head>-<variant>
    bundle_dir: str = "assets/composer"  # where the bundle stage writes (relative to the repository)


def machine() -> str:
    cpu = platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu} ({os.cpu_count()} cores), {torch.get_num_threads()} torch thread(s), no GPU"


def run_name(head: str, variant: str = "") -> str:
    return f"{head}-{variant}" if variant else head


def run_dir(name: str) -> Path:
    return RUNS / name


def dataset(config: Config, steps_per_quarter: int):
    if config.data.midi_folder:
        data = midi_folder_dataset(config.data.midi_folder, steps_per_quarter)
        for skipped in data.skipped:
            print(f"skipped {skipped['name']}: {skipped['reason']}")
        return data
    return chorale_dataset(CACHE, steps_per_quarter)


def train_head(config: Config, head: str, command: str) -> None:
    data = dataset(config, config.data.steps_per_quarter)
    train_rolls = data.split("train")
    valid = eval_batches(data.split("valid"))
    model_config = dataclasses.replace(config.model, head=head, steps_per_quarter=config.data.steps_per_quarter)
    torch.manual_seed(config.train.seed)
    model = Composer(model_config)
    d = config.data
    train(model, loss=composer_loss,
          batch=lambda g: piece_batch(train_rolls, g, d.batch_size, d.crop_steps, d.max_transpose),
          valid_batches=valid, config=config.train, out_dir=run_dir(run_name(head, config.variant)),
          card=lambda record: f"# composer ({head}), in training\n\n{json.dumps(record)}\n",
          metadata={"data": config.data.midi_folder or "music21 Bach chorales",
                    "data_config": dataclasses.asdict(config.data), "command": command},
          units_per_batch=None)


def measure(config: Config, name: str) -> dict:
    """Held-out metrics, copying, generation time for one trained run."""
    model = load_checkpoint(run_dir(name), expect_kind="composer")
    data = dataset(config, model.config.steps_per_quarter)
    metrics = {split: evaluate(model, eval_batches(data.split(split))) for split in ("valid", "test")}
    s = config.sample
    steps_per_bar = model.config.steps_per_bar
    started = time.perf_counter()
    compose(model, bars=32, batch_size=1, seed=s.seed, temperature=s.temperature)
    metrics["seconds_for_32_bars_batch_1"] = round(time.perf_counter() - started, 2)
    started = time.perf_counter()
    pieces = compose(model, bars=s.bars, batch_size=s.pieces, seed=s.seed, temperature=s.temperature)
    metrics[f"seconds_for_{s.bars}_bars_batch_{s.pieces}"] = round(time.perf_counter() - started, 2)
    train_rolls = data.split("train")
    copied = [longest_copied_run(p.roll.keys, train_rolls) for p in pieces]
    reference = [longest_copied_run(r[:s.bars * steps_per_bar], train_rolls) for r in data.split("test")]
    metrics["copying"] = {
        "generated_longest_copied_frames": copied,
        "generated_median_bars": float(np.median(copied)) / steps_per_bar,
        "generated_max_bars": max(copied) / steps_per_bar,
        "test_chorales_median_bars": float(np.median(reference)) / steps_per_bar,
        "test_chorales_max_bars": max(reference) / steps_per_bar,
        "pieces": s.pieces, "bars": s.bars, "temperature": s.temperature,
        "notes_per_frame_generated": float(np.mean([p.roll.keys.sum(1).mean() for p in pieces])),
        "notes_per_frame_train": float(np.mean(np.concatenate(train_rolls).sum(1))),
        "chord_frames_generated": chord_frame_fraction(np.concatenate([p.roll.keys for p in pieces])),
        "chord_frames_test": chord_frame_fraction(np.concatenate(data.split("test"))),
    }
    history = model.metadata.get("history", [])
    metrics["training"] = {"steps": model.metadata.get("step"), "wall_seconds": history[-1]["wall_seconds"] if history else None,
                           "parameters": sum(p.numel() for p in model.parameters()), "machine": machine(),
                           "split_pieces": {k: data.splits.count(k) for k in ("train", "valid", "test")},
                           "split_frames": {k: data.frames(k) for k in ("train", "valid", "test")}}
    metrics["run"] = {"name": name, "model": dataclasses.asdict(model.config), "train": model.metadata.get("train"),
                      "data": model.metadata.get("data_config"),
                      "command": model.metadata.get("command", f"python recipes/composer.py --stage all heads=[{model.config.head}]")}
    (run_dir(name) / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(name, json.dumps({k: metrics[k] for k in ("valid", "test")}), metrics["copying"]["generated_median_bars"])
    return metrics


def describe(run: dict) -> str:
    m, d = run["model"], run["data"] or {}
    head = "RNN-NADE (LSTM + NADE over the keys)" if m["head"] == "nade" else "plain LSTM, independent sigmoids"
    return (f"{head}: {m['n_layers']} x {m['hidden_size']}{', NADE ' + str(m['nade_hidden']) if m['head'] == 'nade' else ''}, "
            f"dropout {m['dropout']}, transposition {d.get('max_transpose', 0)}")


def lowest_valid(name: str) -> str:
    history = json.loads((run_dir(name) / "config.json").read_text())["metadata"].get("history", [])
    if not history:
        return "n/a"
    record = min(history, key=lambda r: r["valid_loss"])
    return f"{record['valid_loss']:.2f} ({record['step']})"


def card(config: Config, best: str, results: dict) -> str:
    r = results[best]
    t, c, run = r["training"], r["copying"], r["run"]
    train_config, data_config = run["train"], run["data"]
    rows = "\n".join(
        f"| {describe(results[h]['run'])}{' (bundled)' if h == best else ''} | "
        f"{results[h]['test']['frame_nll']:.2f} | {results[h]['valid']['frame_nll']:.2f} | "
        f"{results[h]['test']['frame_accuracy']:.3f} | {results[h]['training']['steps']} | "
        f"{lowest_valid(h)} | {results[h]['training']['wall_seconds']:.0f} s |" for h in results)
    m = load_checkpoint(run_dir(best)).config
    is_nade = m.head == 'nade'
    quarter = m.steps_per_quarter == 1
    grid_words = "every quarter note" if quarter else f"every 1/{4 * m.steps_per_quarter} note ({m.steps_per_quarter} frames per quarter)"
    reference = (f"For reference only: {PUBLISHED}" if quarter else
                 "These are NLLs per sixteenth-note frame (most frames repeat the one before): they do not compare "
                 "with the published per-quarter-note figures, nor with the quarter-note models of this project.")
    lacks = "a quarter-note grid only (no passing eighths)" if quarter else f"a grid of {m.steps_per_quarter} steps per quarter note"
    return f"""# composer: an LSTM that writes four-part chorale textures

{'RNN-NADE (Boulanger-Lewandowski et al. 2012): an LSTM over frames whose state sets the biases of a NADE over the 88 keys, so each frame (chord) is sampled key by key, low to high, each key given the ones below it.' if is_nade else 'A plain LSTM over frames with an independent sigmoid per key.'}
LSTM {m.n_layers} x {m.hidden_size}{f', NADE {m.nade_hidden} hidden units' if is_nade else ''}, dropout {m.dropout};
{t['parameters']:,} parameters. Frames: {m.steps_per_quarter} per quarter note, 88 keys (MIDI 21-108), {m.beats_per_bar} beats per bar.
Chosen among the runs below by the lowest validation NLL.

## Data and licence
- {CHORALES_LICENCE}. The Riemenschneider chorales of music21 with exactly four parts, each sampled at
  {grid_words} (a key is on when a note sounds at the grid point, as the JSB Chorales benchmark samples at
  every beat; shorter notes that cover no grid point vanish; repeated notes merge).
- Split by piece with a fixed seed: {t['split_pieces']['train']} / {t['split_pieces']['valid']} / {t['split_pieces']['test']}
  chorales ({t['split_frames']['train']} / {t['split_frames']['valid']} / {t['split_frames']['test']} frames) train / valid / test.
  **This is not the JSB Chorales benchmark split**, and the music21 encodings are not the benchmark's files:
  numbers here are comparable to the published ones in kind only.

## Held-out results (this split)
Frame NLL: -log p(frame | past) in nats, summed over the 88 keys, mean over all frames (as in Bai et al.
2018). Frame accuracy: sum TP / sum (TP + FP + FN) over all frames (Bay et al. 2009, as used by
Boulanger-Lewandowski 2012), predicting each frame from the true past (p > 0.5; for NADE greedily, key by key).

| model | test NLL | valid NLL | test frame accuracy | steps | lowest valid NLL seen (step) | training wall time |
| --- | ---: | ---: | ---: | ---: | ---: | ---: |
{rows}

The trainer keeps the last weights, so a run that overfits ends above the lowest validation NLL it passed
through. {reference}

## Generation (this model, {config.sample.pieces} pieces of {c['bars']} bars, temperature {c['temperature']}, seed {config.sample.seed})
- Time to generate 32 bars (batch 1) on this machine: {r['seconds_for_32_bars_batch_1']} s
  ({config.sample.pieces} pieces of {config.sample.bars} bars at once: {r[f'seconds_for_{config.sample.bars}_bars_batch_{config.sample.pieces}']} s).
- Copying: the longest run of consecutive frames of a generated piece found verbatim in the training set has a
  median of {c['generated_median_bars']:g} bars (max {c['generated_max_bars']:g}); for comparison, held-out real chorales share runs of
  median {c['test_chorales_median_bars']:g} bars (max {c['test_chorales_max_bars']:g}) with the training set (cadence formulas recur).
- Mean notes sounding per frame: generated {c['notes_per_frame_generated']:.2f}, training chorales {c['notes_per_frame_train']:.2f}.
- Frames whose notes all belong to one major or minor triad or dominant seventh: generated
  {c['chord_frames_generated']:.0%}, held-out chorales {c['chord_frames_test']:.0%} (four random keys: about 10%).
- Guards during sampling (default): a key held for 2 bars is released; after 1 bar of silence notes are pushed to sound.

## Training
AdamW, learning rate {train_config['learning_rate']} (warm-up {train_config['warmup_steps']}, cosine), batch {data_config['batch_size']} pieces
(crops of up to {data_config['crop_steps']} frames), gradient clip {train_config['grad_clip']}, transposition {data_config['max_transpose']}
semitones; {t['steps']} steps in {t['wall_seconds']:.0f} s on {t['machine']} (a VM whose 2 cores were shared with
other training jobs throughout).

Reproduce this model: `{run['command']}`; the other runs of the table: `python recipes/composer.py --stage all`
(both heads with the defaults), then `--stage bundle` picks the lowest validation NLL.

## Honest note on quality
The sample (sample.mid, its roll in sample.png, rendered through the MuseScore General piano in sample.flac;
16 bars, seed {config.sample.seed}) shows four voices in roughly chorale ranges moving about one chord per beat, and the
chord measure above says most frames are plain triads or dominant sevenths, though clearly fewer than in Bach.
What it lacks, by construction or by size: {lacks} (repeated notes merge
into one held note), fixed velocities with a simple metric accent, no cadence or phrase plan over more than a
few bars, no fermatas, no sense of key over a whole piece. A small model trained for about half an hour on
two shared CPU cores from {t['split_pieces']['train']} chorales; it has not been judged by listening tests.
"""


def bundle(config: Config) -> None:
    """Bundle the run with the lowest validation NLL among those measured under runs/composer on
    the grid of ``data.steps_per_quarter``."""
    # Frame NLLs compare only on one grid (a sixteenth-note frame is far easier to predict than a quarter's).
    grid = config.data.steps_per_quarter
    results = {p.parent.name: json.loads(p.read_text()) for p in sorted(RUNS.glob("*/metrics.json"))}
    results = {name: r for name, r in results.items() if r["run"]["model"]["steps_per_quarter"] == grid}
    if not results:
        raise SystemExit(f"no measured runs on the grid of {grid} step(s) per quarter under runs/composer: "
                         "run the train and evaluate stages first")
    best = min(results, key=lambda h: results[h]["valid"]["frame_nll"])
    model = load_checkpoint(run_dir(best), expect_kind="composer")
    out = ROOT / config.bundle_dir
    out.mkdir(parents=True, exist_ok=True)
    save_checkpoint(model, out, card=card(config, best, results),
                    metadata={k: v for k, v in model.metadata.items() if k != "history"} | {"metrics": results[best]})
    s = config.sample
    piece = compose(model, bars=16, seed=s.seed, temperature=s.temperature, tempo_bpm=s.tempo_bpm)[0]
    midi = piece.to_midi()
    write_midi(midi, out / "sample.mid")
    save_roll_png(piece.roll, out / "sample.png", beats_per_bar=model.config.beats_per_bar)
    from synth.audio import write_audio

    write_audio(out / "sample.flac", render_audio(midi), 16000)
    (out / "metrics.json").write_text(json.dumps(results, indent=1))
    print(f"bundled the {best} model in {out}")


def main() -> None:
    args, config = recipe_arguments(__doc__, Config(), ["data", "train", "evaluate", "bundle"])
    torch.set_num_threads(1)
    if wants(args, "data") and not CACHE.is_file() and not config.data.midi_folder:
        chorale_dataset(CACHE)
    command = " ".join(["python recipes/composer.py --stage all", *map(shlex.quote, args.overrides)])
    for head in config.heads:
        if wants(args, "train"):
            train_head(config, head, command)
        if wants(args, "evaluate"):
            measure(config, run_name(head, config.variant))
    if wants(args, "bundle"):
        bundle(config)


if __name__ == "__main__":
    main()
