"""The evaluate and sample stages of a WaveNet recipe (``synth.solvers.wavenet``): held-out bits
per sample beside the marginal and linear-prediction baselines; for vocoders, resynthesis of
held-out clips from their features and free-running resynthesis judged offline; for the piano
model, playback judged by ``synth.solvers.piano``; and sample WAVs beside the checkpoint. Every
generation here runs under the recipe's ``GenerationOptions`` (its threads), passed per request.
"""
from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.audio import mel_features_of, read_audio, write_audio
from synth.checkpoint import CARD, atomic_write, load_checkpoint, save_checkpoint
from synth.corpora.audio import AudioSplit
from synth.envelope import MelEnvelope, correct_envelope
from synth.errors import InputError
from synth.evaluation import (linear_prediction_bits, mel_cepstral_distortion, mu_law_marginal_bits,
                              multi_resolution_stft_distance, pesq_stoi, wavenet_bits)
from synth.models.wavenet import WaveNet
from synth.models.wavenet_generation import (GenerationOptions, checkpoint_envelope, default_policy, generate_waveform,
                                             resynthesise)
from synth.solvers.wavenet import METRICS, WaveNetRecipe, corpus_split


def _clips(split: AudioSplit, n: int) -> list[dict]:
    """Held-out clips as the model sees them: the excitation of an LPC vocoder, else the audio."""
    return [{"audio": (c.excitation if c.excitation is not None else c.audio).float() / 32768.0,
             "speaker": c.speaker_id, "frames": c.frames} for c in split.clips[:n]]


def run_evaluate(recipe: WaveNetRecipe, card: Callable[[dict], str], log: Callable[[str], None] = print) -> dict:
    """Held-out bits per sample beside the baselines (and, for vocoders, resynthesis distances);
    written to metrics.json and the model card."""
    torch.set_num_threads(recipe.threads)
    model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
    options = generation_options(recipe)
    test = corpus_split(recipe, "test", recipe.data.eval_clips, model)
    train_split = corpus_split(recipe, "train", 200, model)
    clips = _clips(test, recipe.data.eval_clips)
    audio = [c["audio"] for c in clips]
    fit = [c["audio"] for c in _clips(train_split, len(train_split.clips))]  # what the model models, as the test clips
    started = time.perf_counter()
    metrics = {
        "step": model.metadata.get("step"),
        "test_clips": len(clips), "test_seconds": round(sum(len(a) for a in audio) / test.manifest.sample_rate, 1),
        "bits_per_sample": round(wavenet_bits(model, clips), 4),
        "baseline_mu_law_marginal_bits": round(mu_law_marginal_bits(fit, audio), 4),
        "baseline_linear_prediction_bits": round(linear_prediction_bits(fit, audio, order=16), 4),
    }
    if model.config.models_excitation:
        metrics["models"] = (f"the excitation of a {model.config.lpc_order}th-order LPC filter" if model.config.lpc_order
                             else "the pre-emphasised signal") + f" (pre-emphasis {model.config.pre_emphasis})"
    if recipe.data.conditioning == "mel":
        metrics["resynthesis"] = resynthesis_metrics(model, test, recipe.data.resynthesis_clips, Path(recipe.out_dir),
                                                     options=options)
        metrics["judges"] = judge_vocoder(recipe, model, n_clips=recipe.data.judged_clips, log=log, options=options)
    if recipe.data.conditioning == "none" and model.config.n_speakers:
        metrics["babble"] = judge_babble(model, test, log=log, options=options)
    if recipe.data.conditioning == "roll":
        from synth.solvers.piano import judge_piano

        metrics["piano"] = judge_piano(recipe, model, metrics, log=log, options=options)
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write(Path(recipe.out_dir) / METRICS, json.dumps(metrics, indent=1).encode())
    history = model.metadata.get("history") or [{}]
    atomic_write(Path(recipe.out_dir) / CARD, card({"record": history[-1], "metrics": metrics,
                                                     "hardware": model.metadata.get("hardware"),
                                                     "sampling": model.metadata.get("sampling")}).encode())
    log(json.dumps(metrics))
    return metrics


def generation_options(recipe: WaveNetRecipe) -> GenerationOptions:
    """The recipe's threads for the generation kernel too (a busy core stalls a 2-thread kernel)."""
    return GenerationOptions(cpu_threads=recipe.threads)


def _evaluation_sets(recipe: WaveNetRecipe, n_clips: int, max_seconds: float, split: str = "test") -> list:
    """The vocoder's held-out sets, from the corpus's own ``split`` (so no clip was heard in
    training): each corpus group's clips (e.g. Kathleen's held-out prompts, LibriSpeech's unseen
    test-other speakers; round robin over speakers), and for the test split the Asterisk English
    test clips of data/speech when that corpus is built."""
    from synth import judges
    from synth.corpora.manifest import read_manifest

    corpus = Path(recipe.data.corpus)
    manifest = read_manifest(corpus)
    groups = manifest.stats.get("groups", {})
    sets = []
    for group, info in sorted(groups.items()):
        speakers = set(info.get("speakers", []))
        entries = [e for e in manifest.split(split) if e.speaker in speakers]
        by_speaker: dict[str, list] = {}
        for entry in sorted(entries, key=lambda e: e.path):
            by_speaker.setdefault(entry.speaker, []).append(entry)
        queues = list(by_speaker.values())
        order = [q[i] for i in range(max((len(q) for q in queues), default=0)) for q in queues if i < len(q)]
        clips = []
        for entry in order[:n_clips]:
            audio, rate = read_audio(corpus / entry.path, manifest.sample_rate)
            clips.append(judges.EvaluationClip(Path(entry.path).stem, audio[: int(max_seconds * rate)], rate,
                                               entry.text or None, str(corpus / entry.path)))
        sets.append(judges.EvaluationSet(f"{corpus.name}/{group} {split} split", clips, licence=info.get("licence", ""),
                                         note=f"{len(by_speaker)} speakers, {len(clips)} clips of at most "
                                              f"{max_seconds:g} s"))
    if split != "test":
        return sets
    asterisk = judges.asterisk_test(Path(recipe.data.corpus).parent / "speech", limit=n_clips)
    for clip in asterisk.clips:
        clip.audio = clip.audio[: int(max_seconds * clip.sample_rate)]
    return sets + [asterisk]


def judge_vocoder(recipe: WaveNetRecipe, model: WaveNet, n_clips: int = 10, max_seconds: float = 4.0,
                  log: Callable[[str], None] = print, options: GenerationOptions | None = None) -> dict:
    """Free-running resynthesis of held-out speech judged by the offline judges (word error rate
    of pocketsphinx, STOI, PESQ, DNSMOS), beside the original and Griffin-Lim from the same mel."""
    from synth import judges

    mel = mel_features_of(model)
    hop, results = mel.hop_length, {}
    for chosen in _evaluation_sets(recipe, n_clips, max_seconds):
        if not chosen.clips:
            log(f"{chosen.name}: {chosen.note}")
            results[chosen.name] = {"skipped": chosen.note}
            continue
        started = time.perf_counter()
        originals, gl, vocoded, raw = [], [], [], []
        envelope = checkpoint_envelope(model)
        for i, clip in enumerate(chosen.clips):
            n = len(clip.audio) // hop * hop
            original = torch.from_numpy(clip.audio[:n]).float()
            frames = mel(original)  # (n_mels, F)
            originals.append(original.numpy())
            gl.append(np.asarray(judges.griffin_lim_from_mel(frames.numpy(), mel), dtype=np.float32))
            audio = resynthesise(model, frames, None, seed=i, options=options, envelope=False)
            if envelope:  # the same as the streamed correction (tested), so the network's own output is a row too
                raw.append(audio.numpy())
                audio = correct_envelope(audio, frames, mel, envelope)
            vocoded.append(audio.numpy())
        generation_seconds = time.perf_counter() - started
        rows = {"original": originals, "Griffin-Lim (64 it.) from the same mel": gl, f"{recipe.name} (free-running)": vocoded}
        if envelope:
            rows[f"{recipe.name} without the envelope correction"] = raw
        table = judges.speech_table(rows, originals, [c.text for c in chosen.clips], mel.sample_rate)
        table.update(note=chosen.note, licence=chosen.licence, generation_seconds=round(generation_seconds, 1),
                     markdown=judges.format_speech_table(table, chosen.name))
        log(table["markdown"])
        results[chosen.name] = table
        out = Path(recipe.out_dir) / "samples"
        out.mkdir(parents=True, exist_ok=True)
        slug = chosen.name.split()[0].replace("/", "-")
        write_audio(out / f"{slug}_original.wav", originals[0], mel.sample_rate)
        write_audio(out / f"{slug}_griffin_lim.wav", gl[0], mel.sample_rate)
        write_audio(out / f"{slug}_vocoder.wav", vocoded[0], mel.sample_rate)
    return results


def judge_babble(model: WaveNet, test: AudioSplit, n_speakers: int = 4, seconds: float = 4.0,
                 log: Callable[[str], None] = print, options: GenerationOptions | None = None) -> dict:
    """A speaker model's free-running samples (no text: babble) judged by DNSMOS, beside held-out
    speech of the same speakers and white noise of the same loudness (what an untrained WaveNet
    sounds like): one sample per speaker, ``seconds`` long, seed = speaker."""
    from synth import judges

    try:
        judges.quality._dnsmos_model()
    except InputError as error:  # the judges extra is not installed: say so instead of failing the stage
        log(f"babble not judged: {error}")
        return {"skipped": str(error)}
    rate = model.config.sample_rate
    speakers = [s for s in range(model.config.n_speakers)
                if any(c.speaker_id == s for c in test.clips)][:n_speakers]
    if not speakers:
        return {"skipped": "no held-out clip of any speaker the model knows"}
    started = time.perf_counter()
    real, babble = [], []
    policy = default_policy(model)  # the temperature its judges chose (choose_babble_temperature), as the app plays
    for s in speakers:
        clip = next(c for c in test.clips if c.speaker_id == s)
        real.append(clip.audio[: int(seconds * rate)].float().numpy() / 32768.0)
        babble.append(_babble(model, s, seconds, seed=s, policy=policy, options=options))
    generation_seconds = time.perf_counter() - started
    noise_rng = np.random.default_rng(0)
    noise = [(noise_rng.standard_normal(len(b)) * max(float(np.std(b)), 1e-3)).astype(np.float32) for b in babble]
    table = judges.speech_table({"held-out speech of the same speakers": real, "white noise, as loud as the samples": noise,
                                 "WaveNet samples (free-running)": babble},
                                real, [None] * len(real), rate, measures=("dnsmos",))
    for name, audio in zip(table["rows"], (real, noise, babble)):  # DNSMOS scores silence as clean: how much is sound
        table["rows"][name]["active"] = judges.quality.mean_active_fraction(audio, rate)
    played = f"temperature {policy[0].value:g}" if policy else "plain sampling (temperature 1)"
    table.update(note=f"{len(speakers)} speakers, one {seconds:g} s sample each (seed = speaker, {played}), one "
                      "held-out clip each", generation_seconds=round(generation_seconds, 1),
                 markdown=judges.format_speech_table(table, "Free-running samples (babble) judged by DNSMOS",
                                                     columns=("dnsmos_overall", "dnsmos_sig", "dnsmos_bak", "active")))
    log(table["markdown"])
    return table


def _babble(model: WaveNet, speaker: int, seconds: float, seed: int, policy=(), options=None) -> np.ndarray:
    chunks = generate_waveform(model, seconds=seconds, speaker=speaker, seed=seed, policy=policy, options=options)
    return torch.cat(list(chunks), dim=1)[0].numpy()


def choose_babble_temperature(recipe: WaveNetRecipe, temperatures: tuple[float, ...], n_speakers: int = 4,
                              seconds: float = 4.0, seeds: tuple[int, ...] = (1000, 2000),
                              min_active: float = 0.6, log: Callable[[str], None] = print) -> dict:
    """A speaker model's sampling temperature for babble, chosen by DNSMOS overall on samples that
    the evaluate stage never judges (seeds ``1000 + speaker``, ``2000 + speaker``; it judges seed =
    speaker): each temperature plays the same speakers with the same seeds; the highest mean DNSMOS
    overall wins (ties: the higher temperature, nearer the trained distribution) among the
    temperatures whose samples are sound at least ``min_active`` of the time (``active_fraction``):
    cooled, a WaveNet falls silent, and DNSMOS scores silence as clean (at step 44,000 of the speaker
    model, temperature 0.8 played 4% sound and outscored 1.0); if none is, the most active. The choice goes
    into the checkpoint's metadata (``sampling``), which the app's babble and the evaluate stage
    play with."""
    from synth import judges
    from synth.sampling.policies import Temperature

    model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
    if not model.config.n_speakers:
        raise InputError("the babble temperature is chosen for a speaker-conditioned WaveNet (n_speakers > 0)")
    judges.quality._dnsmos_model()  # says clearly when the judges extra is missing
    options, rate = generation_options(recipe), model.config.sample_rate
    speakers = list(range(min(n_speakers, model.config.n_speakers)))
    rows = {}
    for t in temperatures:
        policy = (Temperature(t),) if t != 1.0 else ()
        rows[f"{t:g}"] = [_babble(model, s, seconds, seed=seed + s, policy=policy, options=options)
                          for s in speakers for seed in seeds]
        log(f"temperature {t:g}: {len(rows[f'{t:g}'])} samples played")
    judged = {name: [judges.quality.dnsmos(a, rate) for a in audio] for name, audio in rows.items()}  # once a clip
    scores = {name: {k: round(float(np.mean([d[k] for d in clips])), 4) for k in ("overall", "sig", "bak")}
              for name, clips in judged.items()}
    for name, audio in rows.items():
        scores[name]["active"] = judges.quality.mean_active_fraction(audio, rate)
    eligible = [name for name in scores if scores[name]["active"] >= min_active]
    if eligible:
        best = max(eligible, key=lambda name: (round(scores[name]["overall"], 6), float(name)))
    else:
        best = max(scores, key=lambda name: (scores[name]["active"], float(name)))
    log("\n".join(["| temperature | DNSMOS overall | sig | bak | sound (not silence) |",
                   "| ---: | ---: | ---: | ---: | ---: |"]
                  + [f"| {n} | {v['overall']:.2f} | {v['sig']:.2f} | {v['bak']:.2f} | {v['active']:.2f} |"
                     for n, v in scores.items()]))
    sampling = {"temperature": float(best),
                "measure": f"babble DNSMOS overall, among temperatures whose samples are sound at least {min_active:g} "
                           f"of the time",
                "chosen_on": [f"speakers {speakers}, seeds {', '.join(f'{seed} + speaker' for seed in seeds)}, "
                              f"{seconds:g} s each (the evaluate stage judges seed = speaker)"],
                "clips": len(speakers) * len(seeds),
                "candidates": {name: {(k if k == "active" else f"dnsmos_{k}"): v for k, v in score.items()}
                               for name, score in scores.items()}}
    model.metadata["sampling"] = sampling
    save_checkpoint(model, recipe.out_dir, metadata=model.metadata)
    log(f"chosen temperature {best} (babble DNSMOS overall {scores[best]['overall']:.2f}); written to {recipe.out_dir}")
    return sampling


def resynthesis_metrics(model: WaveNet, test: AudioSplit, n_clips: int, out_dir: Path, max_seconds: float = 4.0,
                        options: GenerationOptions | None = None) -> dict:
    rate, hop = model.config.sample_rate, model.config.hop_length
    scores: dict[str, list[float]] = {}
    for i, clip in enumerate(test.clips[:n_clips]):
        n_frames = min(clip.frames.shape[-1], int(max_seconds * rate) // hop)
        original = clip.audio[:n_frames * hop].float().numpy() / 32768.0
        result = resynthesise(model, clip.frames[:, :n_frames], clip.speaker_id, seed=i, options=options).numpy()
        values = {"mr_stft": multi_resolution_stft_distance(original, result),
                  "mcd_db": mel_cepstral_distortion(original, result, rate), **pesq_stoi(original, result, rate)}
        for key, value in values.items():
            scores.setdefault(key, []).append(value)
        if i == 0:
            write_audio(out_dir / "resynthesis_original.wav", original, rate)
            write_audio(out_dir / "resynthesis.wav", result, rate)
    return {key: round(float(np.mean(v)), 4) for key, v in scores.items()} | {"clips": n_clips, "max_seconds": max_seconds}


def run_sample(recipe: WaveNetRecipe, seconds: float = 3.0) -> list[Path]:
    """Sample WAVs beside the checkpoint: per speaker for a speaker model; from held-out frames for
    a conditioned model."""
    torch.set_num_threads(recipe.threads)
    model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
    options = generation_options(recipe)
    out, rate, written = Path(recipe.out_dir), model.config.sample_rate, []
    if model.config.cond_channels:
        clip = corpus_split(recipe, "test", 1, model).clips[0]
        n_frames = min(clip.frames.shape[-1], int(seconds * rate) // model.config.hop_length)
        audio = resynthesise(model, clip.frames[:, :n_frames], clip.speaker_id, options=options)
        written.append(write_audio(out / "sample.wav", audio, rate))
    else:
        speakers = range(min(model.config.n_speakers, 4)) if model.config.n_speakers else [None]
        for s in speakers:
            chunks = generate_waveform(model, seconds=seconds, speaker=s, seed=0, options=options,
                                       policy=default_policy(model))  # as the app plays it
            audio = torch.cat(list(chunks), dim=1)[0]
            written.append(write_audio(out / (f"sample_speaker{s}.wav" if s is not None else "sample.wav"), audio, rate))
    return written


#: The judges' measures a sampling choice is ranked on, and whether higher is better.
RANKED_MEASURES = (("wer", False), ("stoi", True), ("dnsmos_overall", True))


def best_by_mean_rank(scores: dict[str, dict]) -> tuple[str, dict[str, float]]:
    """The candidate with the best mean rank over word error rate (lower is better), STOI and DNSMOS
    (higher), ties to the higher STOI; and every candidate's mean rank (0 = first on every measure)."""
    ranks = {name: 0.0 for name in scores}
    for key, higher_is_better in RANKED_MEASURES:
        sign = 1.0 if higher_is_better else -1.0
        for name in scores:  # rank: how many candidates are strictly better (equal scores share a rank)
            ranks[name] += sum(sign * scores[o][key] > sign * scores[name][key] for o in scores) / len(RANKED_MEASURES)
    return min(scores, key=lambda n: (ranks[n], -scores[n]["stoi"])), ranks


def choose_temperature(recipe: WaveNetRecipe, temperatures: tuple[float, ...], n_clips: int = 10,
                       max_seconds: float = 4.0, log: Callable[[str], None] = print) -> dict:
    """The vocoder's sampling temperature chosen by the free-running judges on the VALIDATION clips
    (the test clips that the evaluate stage judges are never seen by the choice): each temperature
    resynthesises the same clips with the same seeds; word error rate, STOI and DNSMOS rank them and
    the best mean rank wins (ties: the higher STOI). The choice goes into the checkpoint's metadata
    (``sampling``), which ``default_policy`` reads wherever the vocoder plays. A piano (roll) recipe's
    temperature is chosen by note-onset F1 instead (``synth.solvers.piano.choose_piano_temperature``)."""
    from synth import judges
    from synth.sampling.policies import Temperature

    if not temperatures or any(not 0.0 < t <= 2.0 for t in temperatures):
        raise InputError(f"temperatures must be a non-empty list of values in (0, 2], got {list(temperatures)}")
    torch.set_num_threads(recipe.threads)
    if recipe.data.conditioning == "roll":  # a piano model: chosen by note-onset F1 instead
        from synth.solvers.piano import choose_piano_temperature

        return choose_piano_temperature(recipe, tuple(temperatures), log=log, options=generation_options(recipe))
    if recipe.data.conditioning == "none" and recipe.data.speaker_conditioned:  # babble: chosen by DNSMOS
        return choose_babble_temperature(recipe, tuple(temperatures), log=log)
    model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
    if recipe.data.conditioning != "mel":
        raise InputError("the temperature stage judges free-running output: it needs a vocoder (mel), piano (roll) "
                         "or speaker-conditioned (babble) recipe")
    options, mel = generation_options(recipe), mel_features_of(model)
    sets = [s for s in _evaluation_sets(recipe, n_clips, max_seconds, split="valid") if s.clips]
    if not sets:
        raise InputError(f"{recipe.data.corpus} has no validation clips to choose a temperature on")
    clips = [c for s in sets for c in s.clips]
    originals = [c.audio[: len(c.audio) // mel.hop_length * mel.hop_length] for c in clips]
    labels = {f"temperature {t:g}": float(t) for t in temperatures}  # the table's rows
    envelope = MelEnvelope(strength=recipe.envelope, passes=recipe.envelope_passes) if recipe.envelope else False
    rows = {}
    for label, t in labels.items():
        rows[label] = [resynthesise(model, mel(torch.from_numpy(a).float()), None, seed=i, options=options,
                                    policy=(Temperature(t),) if t != 1.0 else (), envelope=envelope).numpy()
                       for i, a in enumerate(originals)]
        log(f"{label}: {len(originals)} clips resynthesised")
    table = judges.speech_table(rows, originals, [c.text for c in clips], mel.sample_rate,
                                measures=("wer", "stoi_pesq", "dnsmos"))
    scores = {name: table["rows"][name] for name in rows}
    best, ranks = best_by_mean_rank(scores)
    chosen = labels[best]
    log(judges.format_speech_table(table, f"sampling temperature on {', '.join(s.name for s in sets)}"))
    sampling = {"temperature": chosen, "chosen_on": [s.name for s in sets], "clips": len(clips),
                "candidates": {f"{t:g}": {k: scores[label][k] for k in ("wer", "stoi", "dnsmos_overall")}
                               for label, t in labels.items()}}
    if envelope:
        sampling["envelope"] = dataclasses.asdict(envelope)
    model.metadata["sampling"] = sampling
    save_checkpoint(model, recipe.out_dir, metadata=model.metadata)
    log(f"chosen temperature {chosen:g} (mean ranks {ranks}); written to {recipe.out_dir}; "
        f"the vocoder now plays with {default_policy(model) or 'plain sampling'}"
        f"{f', its band energies pulled to the mel ({envelope})' if envelope else ''}")
    return sampling
