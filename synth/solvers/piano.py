"""The piano WaveNet judged as a listener would hear it: free-running playback of the first
seconds of held-out pieces of the piano corpus and of the app's example MIDI files, beside
FluidSynth's rendering of the same MIDI (the sampled piano the corpus was rendered with), by

- note-onset F1 of basic-pitch's transcription against the MIDI that was played
  (``synth.judges.note_onset_f1``: pitch exact, onsets within 50 ms, mir_eval);
- the multi-resolution STFT distance to FluidSynth's rendering (``synth.evaluation``, auraloss);
- generation speed at batch 1 on the recipe's threads (seconds of audio per second of wall time);

next to the held-out bits per sample and the linear-prediction baseline that
``synth.solvers.wavenet_evaluation.run_evaluate`` measures. ``piano_evaluation_table`` puts them in one table.
"""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth import judges
from synth.audio import write_audio
from synth.errors import InputError
from synth.evaluation import multi_resolution_stft_distance
from synth.models.wavenet_generation import resynthesise
from synth.music.pianoroll import conditioning_roll, onset_envelope_of, piece_seconds

#: Row keys of the judged sets (the table names them in full).
FLUIDSYNTH, WAVENET = "fluidsynth", "wavenet"


def judged_sets(recipe) -> list[tuple[str, list[judges.EvaluationPiece], str]]:
    """(name, pieces, note) of each set the recipe asks for: ``judged_pieces`` test-split pieces of
    the corpus (from the MIDI it keeps) and the MIDI files in ``examples``, each piece cut to its
    first ``judged_seconds``."""
    data, sets = recipe.data, []
    if data.judged_pieces:
        pieces = judges.piano_corpus_pieces(data.corpus, data.judged_pieces, data.judged_seconds)
        sets.append(("held-out pieces", pieces,
                     f"the first {data.judged_seconds:g} s of {len(pieces)} test-split pieces of {data.corpus}" if pieces
                     else f"skipped: {data.corpus} keeps no MIDI (midi/<piece>.mid) of its test pieces"))
    if data.examples:
        pieces = judges.piano_evaluation_pieces(data.examples, max_seconds=data.judged_seconds, works=())
        sets.append(("app examples", pieces, f"the first {data.judged_seconds:g} s of each MIDI file in {data.examples}"
                     if pieces else f"skipped: no .mid files in {data.examples}"))
    return sets


def play(model, midi, max_seconds: float, seed: int, options=None, policy=None) -> tuple[np.ndarray, float]:
    """The model's free-running audio (T,) of the first ``max_seconds`` of ``midi`` (as the Piano tab
    plays it: the piece's notes plus the release), generated under ``options`` (the request's
    ``GenerationOptions``) and ``policy`` (None: the checkpoint's own), and the wall seconds
    generation took."""
    rate, hop = model.config.sample_rate, model.config.hop_length
    n_samples = math.ceil(min(piece_seconds(midi), max_seconds) * rate)
    roll = conditioning_roll(midi, n_samples, sample_rate=rate, hop_length=hop,
                             onset_envelope_seconds=onset_envelope_of(model))  # (F, C)
    started = time.perf_counter()
    audio = resynthesise(model, torch.from_numpy(roll.T.copy()), None, seed=seed, options=options,
                         policy=policy)[:n_samples]  # (T,)
    return audio.numpy(), time.perf_counter() - started


def judge_piano(recipe, model, metrics: dict, renderer=None, log: Callable[[str], None] = print,
                options=None) -> dict:
    """Free-running playback of each judged set beside FluidSynth's rendering (``renderer``, default
    the shared one of ``synth.music.render``): note-onset precision / recall / F1 per piece and
    their means, the MR-STFT distance to FluidSynth's audio, the generation speed, and the one table
    (``markdown``) with ``metrics``' bits per sample. Samples of each set's first piece go to
    ``<out_dir>/samples``. ``options``: the generation's ``GenerationOptions`` (the recipe's threads)."""
    from synth import kernels
    from synth.music.render import make_renderer

    rate = model.config.sample_rate
    result: dict = {"sets": {}}
    generated_seconds = generation_wall = rendered_seconds = render_wall = 0.0
    for name, pieces, note in judged_sets(recipe):
        if not pieces:
            log(f"{name}: {note}")
            result["sets"][name] = {"skipped": note}
            continue
        if renderer is None:
            renderer = make_renderer("fluidsynth", rate)  # loads the SoundFont here, outside the timings
            renderer.render(pieces[0].midi)
        if renderer.sample_rate != rate:
            raise InputError(f"the renderer plays at {renderer.sample_rate} Hz, the model at {rate} Hz")
        if not generation_wall:
            play(model, pieces[0].midi, 0.05, seed=0, options=options)  # builds (or loads) the fused kernel, outside the timings
        references, played = [], []
        for i, piece in enumerate(pieces):
            audio, seconds = play(model, piece.midi, recipe.data.judged_seconds, seed=i, options=options)
            generated_seconds, generation_wall = generated_seconds + len(audio) / rate, generation_wall + seconds
            started = time.perf_counter()
            reference = renderer.render(piece.midi)
            render_wall += time.perf_counter() - started
            rendered_seconds += len(reference) / rate
            references.append(reference[:len(audio)])  # the same stretch: notes, then the model's release
            played.append(audio)
        table = judges.piano_table({FLUIDSYNTH: references, WAVENET: played}, pieces, rate)
        distances = {p.name: round(multi_resolution_stft_distance(r, a), 4) for p, r, a in zip(pieces, references, played)}
        table[WAVENET].update(mr_stft=float(np.mean(list(distances.values()))), mr_stft_pieces=distances)
        result["sets"][name] = {"note": note, "pieces": [p.name for p in pieces],
                                "sources": {p.name: p.source for p in pieces},
                                "seconds": round(sum(len(a) for a in played) / rate, 2), **table}
        out = Path(recipe.out_dir) / "samples"
        slug = name.replace(" ", "-")
        write_audio(out / f"{slug}_{pieces[0].name}_fluidsynth.wav", references[0], rate)
        write_audio(out / f"{slug}_{pieces[0].name}_{recipe.name}.wav", played[0], rate)
    result["speed"] = {
        "batch_size": 1, "threads": recipe.threads,
        "generation_path": "fused CPU kernel" if kernels.load("wavenet_cpu") is not None else "reference steps",
        "generated_seconds": round(generated_seconds, 2), "generation_wall_seconds": round(generation_wall, 2),
        WAVENET: round(generated_seconds / generation_wall, 3) if generation_wall else None,
        FLUIDSYNTH: round(rendered_seconds / render_wall, 3) if render_wall else None,
    }
    result["names"] = {FLUIDSYNTH: f"FluidSynth ({Path(str(getattr(renderer, 'sound_font', ''))).name or 'sampled piano'})",
                       WAVENET: f"{recipe.name} (free-running)"}
    result["markdown"] = piano_evaluation_table(result, metrics)
    result["note"] = evaluation_note(result, metrics)
    log(result["markdown"] + "\n\n" + result["note"])
    return result


def _f(value, digits: int = 2, suffix: str = "") -> str:
    return f"{value:.{digits}f}{suffix}" if isinstance(value, (int, float)) else "—"


def piano_evaluation_table(result: dict, metrics: dict) -> str:
    """One markdown table: a row each for FluidSynth, the model and the likelihood baselines; a
    column each for note-onset F1 and MR-STFT distance per judged set, bits per sample, speed."""
    sets = [(name, s) for name, s in result["sets"].items() if "skipped" not in s]
    names, speed = result["names"], result.get("speed", {})
    threads = speed.get("threads", 1)
    header = ([""] + [f"note-onset F1, {name} ({len(s['pieces'])} pieces, {s['seconds']:g} s in all)" for name, s in sets]
              + [f"MR-STFT distance to FluidSynth, {name}" for name, _ in sets]
              + ["bits/sample, held-out (teacher-forced)", f"speed, batch 1, {threads} thread{'s' * (threads != 1)} (x real time)"])
    rows = [
        [names[FLUIDSYNTH]] + [_f(s[FLUIDSYNTH]["f1"]) for _, s in sets] + ["0 (reference)"] * len(sets)
        + ["—", _f(speed.get(FLUIDSYNTH), 1)],
        [names[WAVENET]] + [_f(s[WAVENET]["f1"]) for _, s in sets] + [_f(s[WAVENET]["mr_stft"]) for _, s in sets]
        + [_f(metrics.get("bits_per_sample"), 3), _f(speed.get(WAVENET), 2)],
        ["16th-order linear prediction"] + ["—"] * (2 * len(sets)) + [_f(metrics.get("baseline_linear_prediction_bits"), 3), "—"],
        ["mu-law marginal (no time)"] + ["—"] * (2 * len(sets)) + [_f(metrics.get("baseline_mu_law_marginal_bits"), 3), "—"],
    ]
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def evaluation_note(result: dict, metrics: dict) -> str:
    """What the table's numbers are, and what they were measured on."""
    speed = result.get("speed", {})
    sets = "; ".join(f"{name}: {s['skipped'] if 'skipped' in s else s['note'] + ' (' + ', '.join(s['pieces']) + ')'}"
                     for name, s in result["sets"].items())
    modelled = metrics.get("models", "the waveform")
    return (f"Note-onset F1: Spotify's basic-pitch transcription scored by mir_eval against the MIDI that was "
            f"played (pitch exact, onsets within 50 ms, offsets ignored), mean over pieces. MR-STFT: auraloss's "
            f"multi-resolution STFT loss (FFT 512 / 1024 / 2048) to FluidSynth's rendering of the same MIDI, "
            f"0 for identical audio. Bits per sample over the 256 mu-law classes of {modelled}, on "
            f"{metrics.get('test_clips', '?')} whole held-out clips ({metrics.get('test_seconds', '?')} s). Speed: "
            f"seconds of audio per second of wall time while playing these pieces (above 1: faster than real "
            f"time), batch 1, {speed.get('threads', 1)} thread(s), {speed.get('generation_path', '?')}; FluidSynth's "
            f"for rendering them, its SoundFont loaded beforehand. Pieces: {sets}.{extra_notes_note(result)}")


def extra_notes_note(result: dict) -> str:
    """What lowers precision, per judged set and renderer: the transcribed notes that matched nothing
    played, by kind (``synth.judges.piano.extra_note_kinds``)."""
    parts = [f"{name}: " + ", ".join(f"{result.get('names', {}).get(row, row)} {s[row]['extra_restruck']} / "
                                     f"{s[row]['extra_harmonic']} / {s[row]['extra_other']} of {s[row]['transcribed_notes']}"
                                     for row in (FLUIDSYNTH, WAVENET))
             for name, s in result["sets"].items()
             if "skipped" not in s and all("extra_other" in s.get(row, {}) for row in (FLUIDSYNTH, WAVENET))]
    return (" Transcribed notes that match nothing played (what lowers precision), as restruck (the key was held) / "
            "harmonic (an octave, twelfth or two octaves above a sounding note) / other, of all notes heard: "
            + "; ".join(parts) + ".") if parts else ""


def choose_piano_temperature(recipe, temperatures: tuple[float, ...], n_pieces: int = 4,
                             log: Callable[[str], None] = print, options=None) -> dict:
    """The piano model's sampling temperature chosen by note-onset F1 on the VALIDATION pieces of the
    corpus (never the test pieces the evaluate stage judges): each temperature plays the first
    ``judged_seconds`` of the same pieces with the same seeds; the highest mean F1 wins (ties: the
    higher temperature, nearer the trained distribution). The choice goes into the checkpoint's
    metadata (``sampling``), which the Piano tab, ``synth piano`` and the evaluate stage play with.
    ``options``: the generation's ``GenerationOptions`` (the recipe's threads)."""
    from synth.checkpoint import load_checkpoint, save_checkpoint
    from synth.sampling.policies import Temperature

    model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
    pieces = judges.piano_corpus_pieces(recipe.data.corpus, n_pieces, recipe.data.judged_seconds, split="valid")
    if not pieces:
        raise InputError(f"{recipe.data.corpus} keeps no MIDI (midi/<piece>.mid) of its validation pieces to choose a "
                         "temperature on")
    rate = model.config.sample_rate
    rows = {}
    for t in temperatures:
        policy = (Temperature(t),) if t != 1.0 else ()
        rows[f"{t:g}"] = [play(model, piece.midi, recipe.data.judged_seconds, seed=i, options=options, policy=policy)[0]
                          for i, piece in enumerate(pieces)]
        log(f"temperature {t:g}: {len(pieces)} pieces played")
    table = judges.piano_table(rows, pieces, rate)
    best = max(table, key=lambda name: (round(table[name]["f1"], 6), float(name)))
    log(judges.format_piano_table(table))
    sampling = {"temperature": float(best), "chosen_on": [f"{len(pieces)} validation-split pieces of {recipe.data.corpus} "
                                                            f"(first {recipe.data.judged_seconds:g} s each)"],
                "clips": len(pieces), "measure": "note-onset F1",
                "candidates": {name: {k: table[name][k] for k in ("f1", "precision", "recall")} for name in table}}
    model.metadata["sampling"] = sampling
    save_checkpoint(model, recipe.out_dir, metadata=model.metadata)
    log(f"chosen temperature {best} (note-onset F1 {table[best]['f1']:.3f}); written to {recipe.out_dir}")
    return sampling
