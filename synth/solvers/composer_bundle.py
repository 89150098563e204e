"""What the composer's measured runs show, and the one that is bundled: every evaluated run of a
data set (``measured_runs``), the results table beside the published figures (the README's and
the cards'), the model card, and the bundle stage, which writes the run with the lowest validation
NLL with its card and a sample to ``assets/composer-<style>/``."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import torch

from synth.checkpoint import atomic_write, load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.music.benchmarks import BENCHMARKS, benchmark
from synth.music.styles import style_of_source
from synth.solvers.composer import BEST, METRICS, ComposerRecipe, repository_path

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


def measured_runs(runs_dir: str | Path, source: str | None = None) -> dict[str, dict]:
    """{run name: metrics} of every evaluated run under ``runs_dir`` (on ``source`` only, when given)."""
    out = {}
    for path in sorted(repository_path(runs_dir).glob(f"*/{METRICS}")):
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
    model = load_checkpoint(repository_path(recipe.runs_dir) / best / BEST, expect_kind="composer")
    style = style_of_source(source)
    out = repository_path(recipe.bundle_dir or f"assets/composer-{style.name if style else source}")
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

