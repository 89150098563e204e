"""The evaluate stage of the text-to-mel network: held-out loss; alignment failures (stalled,
skipped, over budget, early end-of-speech) of 100 free-running sentences before and after retry;
the word error rate (pocketsphinx) and DNSMOS of held-out prompts and of sentences from outside
the corpus, each played by the WaveNet vocoder, by Griffin-Lim from the same mels, and read by
espeak-ng (and the recordings of the prompts); time to first audio and real-time factor of a
ten-word sentence; samples -> metrics.json, MODEL_CARD.md (the judges: synth/judges/)."""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.audio import read_audio, write_audio
from synth.checkpoint import CARD, atomic_write, load_checkpoint
from synth.device import describe_machine
from synth.errors import InputError
from synth.models.tts import TextToMel, tts_loss
from synth.models.wavenet_generation import GenerationOptions
from synth.solvers.tts import EVAL_SENTENCES, METRICS, SPEED_SENTENCE, TTSRecipe, card_facts, load_split, resolve
from synth.tts.corpus import MelCorpus, prompt_id
from synth.tts.normalise import normalise
from synth.tts.pictures import attention_figure, mel_figure
from synth.tts.reader import (FAILURES, SpokenSentence, check_vocoder, griffin_lim, mel_stream, pause_frames,
                              read_sentences, speech_frames, stream_speech)

#: The rows of the judged tables (issue 13): the network's mels played by the WaveNet vocoder and by
#: Griffin-Lim (the acoustic model judged apart from the vocoder), espeak-ng reading the same words
#: (the baseline), and for held-out prompts the speaker's own recording.
WAVENET_ROW, GRIFFIN_LIM_ROW, ESPEAK_ROW, ORIGINAL_ROW = ("text-to-mel + WaveNet vocoder", "text-to-mel + Griffin-Lim",
                                                          "espeak-ng", "original recording")
#: The judges of the tables (pocketsphinx's word error rate, DNSMOS): there is no reference audio
#: of the same timing to compare STOI / PESQ with.
JUDGED_MEASURES = ("wer", "dnsmos")
JUDGED_COLUMNS = ("wer", "dnsmos_overall", "dnsmos_sig", "dnsmos_bak")
ALIGNMENT_KINDS = FAILURES + ("early_stop",)


def held_out_loss(model: TextToMel, corpus: MelCorpus, batch_size: int = 16) -> float:
    """Teacher-forced loss (L1 + end-of-speech) over every utterance of a split, prenet dropout on
    (seed the global generator first for a repeatable number)."""
    order = corpus.by_length.tolist()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            indices = order[i:i + batch_size]
            total += float(tts_loss(model, corpus.batch(indices))) * len(indices)
            count += len(indices)
    return total / max(1, count)


def first_takes(corpus: MelCorpus) -> list[tuple[str, str]]:
    """(utterance id, normalised text) of the first take of each prompt of a split, in split order."""
    seen, takes = set(), []
    for utterance, text in zip(corpus.ids, corpus.texts):
        if prompt_id(utterance) not in seen:
            seen.add(prompt_id(utterance))
            takes.append((utterance, text))
    return takes


def _alignment_counts(sentences: list[SpokenSentence]) -> dict:
    counts = {kind: sum(s.failure == kind for s in sentences) for kind in FAILURES}
    counts["early_stop"] = sum(s.early_stop for s in sentences)
    return {"failed": sum(s.failure is not None for s in sentences), "kinds": counts}


def read_and_measure(model: TextToMel, texts: list[str], *, seed: int, max_retries: int) -> dict:
    """Free-running reading of normalised texts, as a batch: the alignment failures of the first
    attempt (read alone with no retry: the same seed gives the same first attempt) and of the
    reading after up to ``max_retries`` retries. Kinds: stalled, skipped, over budget (failures),
    and early_stop (end-of-speech fired before the last characters: ignored by the stopping rule,
    so counted, not failed)."""
    first = read_sentences(model, texts, seed=seed, max_retries=0)
    result = read_sentences(model, texts, seed=seed, max_retries=max_retries, record=True)
    before, after = _alignment_counts(first.sentences), _alignment_counts(result.sentences)
    frames = sum(s.mel.shape[1] for s in result.sentences)
    return {"result": result, "sentences": len(texts), "failed_first_attempt": before["failed"],
            "failed_after_retry": after["failed"], "retries": result.retries,
            "first_attempt_kinds": before["kinds"], "after_retry_kinds": after["kinds"],
            "failure_kinds": {k: result.failures.get(k, 0) for k in FAILURES},  # over every attempt
            "seconds_of_speech": round(model.config.mel_features.seconds(frames), 1),
            "wall_seconds": round(result.seconds, 2)}


def combine_alignment(parts: dict[str, dict]) -> dict:
    """The alignment counts of several sets of sentences (``read_and_measure`` records) added up,
    with the share of sentences failing before and after retry."""
    parts = {name: part for name, part in parts.items() if part and part.get("sentences")}
    total = {"sentences": sum(p["sentences"] for p in parts.values()),
             "sources": {name: p["sentences"] for name, p in parts.items()}}
    for key in ("failed_first_attempt", "failed_after_retry", "retries"):
        total[key] = sum(p[key] for p in parts.values())
    for key in ("first_attempt_kinds", "after_retry_kinds"):
        total[key] = {kind: sum(p[key].get(kind, 0) for p in parts.values()) for kind in ALIGNMENT_KINDS}
    n = max(1, total["sentences"])
    total["failure_rate_first_attempt"] = round(total["failed_first_attempt"] / n, 4)
    total["failure_rate_after_retry"] = round(total["failed_after_retry"] / n, 4)
    return total


def joined_mel(model: TextToMel, sentences: list[SpokenSentence]) -> torch.Tensor:
    """(n_mels, F) the sentences' frames with the reader's pause between them: what the vocoder played."""
    pieces = []
    for i, sentence in enumerate(sentences):
        if i:
            pieces.append(pause_frames(model))
        pieces.append(sentence.mel)
    return torch.cat(pieces, -1)


@dataclasses.dataclass
class Reading:
    """One text read aloud for the judges, each way: the sentences the network read (with their
    windows), their mel frames, and the audio (float32 at the mel's sample rate) of every row."""

    text: str  # normalised: the words every row reads and the judges expect
    sentences: list[SpokenSentence]
    mel: torch.Tensor  # (n_mels, F)
    audio: dict[str, np.ndarray]  # row name -> (T,)


def read_aloud(model: TextToMel, vocoder, text: str, *, seed: int, max_retries: int, griffin_lim_iters: int,
               options: GenerationOptions | None = None) -> Reading:
    """``text`` read as ``synth say`` reads it (``synth.tts.reader.stream_speech``, which the speech
    service plays: checked sentences streamed into the WaveNet vocoder at its own temperature), the same
    mels through Griffin-Lim, and espeak-ng reading the same normalised words. Seeded: the same
    seed gives the same audio. ``vocoder`` None leaves the WaveNet row out; ``options``: its generation's."""
    from synth import judges

    spoken: list[SpokenSentence] = []
    audio = {}
    if vocoder is not None:
        chunks = list(stream_speech(model, vocoder, text, seed=seed, max_retries=max_retries, record=True,
                                    on_sentence=spoken.append, options=options))
        audio[WAVENET_ROW] = np.concatenate(chunks).astype(np.float32)
    else:
        for _ in speech_frames(model, text, seed=seed, max_retries=max_retries, record=True, on_sentence=spoken.append):
            pass
    mel = joined_mel(model, spoken)
    words = " ".join(s.text for s in spoken)
    audio[GRIFFIN_LIM_ROW] = griffin_lim(mel, model, griffin_lim_iters, seed=seed)
    audio[ESPEAK_ROW] = judges.espeak_ng(words, model.config.mel_features.sample_rate)
    return Reading(words, spoken, mel, audio)


def judged_rows(readings: list[Reading], originals: list[np.ndarray] | None = None) -> dict[str, list[np.ndarray]]:
    """The table's rows in order (WaveNet, Griffin-Lim, espeak-ng, then the originals when given),
    each a clip per reading; a row some reading lacks (no vocoder) is left out."""
    if originals is not None and len(originals) != len(readings):
        raise InputError(f"{len(originals)} original recordings for {len(readings)} readings: they must pair up")
    rows = {row: [r.audio[row] for r in readings] for row in (WAVENET_ROW, GRIFFIN_LIM_ROW, ESPEAK_ROW)
            if readings and all(row in r.audio for r in readings)}
    if originals is not None:
        rows[ORIGINAL_ROW] = list(originals)
    return rows


def judge_readings(readings: list[Reading], sample_rate: int, originals: list[np.ndarray] | None = None) -> dict:
    """Word error rate (pocketsphinx, against the normalised text) and DNSMOS of every row:
    ``synth.judges.speech_table``, plus the texts and how many readings failed their alignment."""
    from synth import judges

    table = judges.speech_table(judged_rows(readings, originals), originals, [r.text for r in readings], sample_rate,
                                reference_row=ORIGINAL_ROW if originals is not None else None,
                                measures=JUDGED_MEASURES)
    table["texts"] = [r.text for r in readings]
    table["reading_failures"] = sum(any(s.failure is not None for s in r.sentences) for r in readings)
    return table


def format_judged(table: dict, title: str) -> str:
    """One markdown table of a judged set (word error rate and DNSMOS per row)."""
    from synth import judges

    return judges.format_speech_table(table, title, columns=JUDGED_COLUMNS)


def speed(model: TextToMel, vocoder=None, sentence: str = SPEED_SENTENCE, repeats: int = 3, seed: int = 0,
          options: GenerationOptions | None = None) -> dict:
    """Speed of reading ``sentence`` (ten words). The acoustic model alone: time to its first
    frames (one engine chunk, unchecked) and its real-time factor over the checked sentence. With
    the vocoder, the path ``synth say`` streams (``stream_speech``): time from the request to the
    first audio chunk, and the real-time factor (wall seconds per second of audio) of the whole
    sentence. Each the best of ``repeats`` runs (the vocoder's whole sentence once)."""
    text = normalise(sentence)
    first, factors = [], []
    for r in range(repeats):
        started = time.perf_counter()
        next(iter(mel_stream(model, text, seed=seed + r)))
        first.append(time.perf_counter() - started)
        result = read_sentences(model, [text], seed=seed + r, max_retries=0)
        factors.append(result.seconds / max(1e-9, model.config.mel_features.seconds(result.sentences[0].mel.shape[1])))
    out = {"sentence": sentence, "words": len(sentence.split()), "threads": torch.get_num_threads(),
           "first_frames_seconds": round(min(first), 4), "real_time_factor": round(min(factors), 4),
           "machine": describe_machine(next(model.parameters()).device)}
    if vocoder is not None:
        first_audio, rate = [], vocoder.config.sample_rate
        for r in range(repeats):
            started = time.perf_counter()
            chunks = stream_speech(model, vocoder, sentence, seed=seed + r, options=options)
            pieces = [next(chunks)]
            first_audio.append(time.perf_counter() - started)
            if r == 0:  # the whole sentence once; the other runs only to their first chunk
                pieces += list(chunks)
                wall = time.perf_counter() - started
                audio_seconds = sum(len(p) for p in pieces) / rate
            chunks.close()
        out["vocoder"] = {"first_audio_seconds": round(min(first_audio), 3), "audio_seconds": round(audio_seconds, 2),
                          "wall_seconds": round(wall, 2), "real_time_factor": round(wall / audio_seconds, 3),
                          "vocoder_threads": options.cpu_threads if options is not None else None}
    return out


def write_samples(model: TextToMel, readings: list[Reading], out: Path, prefix: str, n: int) -> list[str]:
    """Per reading (the first n): <prefix>N_wavenet.wav and <prefix>N_griffin_lim.wav (the same
    mels), <prefix>N_mel.png, <prefix>N_attention.png (one per sentence when there are several)."""
    out.mkdir(parents=True, exist_ok=True)
    mel = model.config.mel_features
    written = []
    for i, reading in enumerate(readings[:n]):
        stem = out / f"{prefix}{i}"
        for row, suffix in ((WAVENET_ROW, "wavenet"), (GRIFFIN_LIM_ROW, "griffin_lim")):
            if row in reading.audio:
                write_audio(f"{stem}_{suffix}.wav", reading.audio[row], mel.sample_rate)
        mel_figure(f"{stem}_mel.png", reading.mel.numpy(), frames_per_second=mel.sample_rate / mel.hop_length,
                   title=reading.text)
        for k, sentence in enumerate(reading.sentences):
            if sentence.phi is not None:
                name = f"{stem}_attention.png" if len(reading.sentences) == 1 else f"{stem}_attention{k}.png"
                attention_figure(name, sentence.phi, sentence.read, frames_per_step=model.config.reduction)
        written.append(reading.text)
    return written


def original_recording(recipe: TTSRecipe, utterance: str, sample_rate: int) -> np.ndarray:
    """The corpus's recording of an utterance (wavs/<id>.flac, else .wav) at ``sample_rate``."""
    folder = resolve(recipe.data.corpus) / "wavs"
    path = next((p for p in (folder / f"{utterance}.flac", folder / f"{utterance}.wav") if p.is_file()),
                folder / f"{utterance}.flac")
    return read_audio(path, sample_rate)[0]


def load_vocoder(recipe: TTSRecipe):
    """The recipe's WaveNet vocoder (None when ``vocoder`` is "")."""
    if not recipe.vocoder:
        return None
    return load_checkpoint(resolve(recipe.vocoder), expect_kind="wavenet")


def vocoder_options(recipe: TTSRecipe) -> GenerationOptions:
    """The vocoder's generation on recipe.threads kernel threads (a busy core stalls a 2-thread kernel)."""
    return GenerationOptions(cpu_threads=recipe.threads)


def run_evaluate(recipe: TTSRecipe, card: Callable[[dict], str], log: Callable[[str], None] = print) -> dict:
    """Held-out loss; alignment failures over ``alignment_sentences`` free-running sentences before
    and after retry; the word error rate and DNSMOS of held-out prompts and of EVAL_SENTENCES played
    each way (one printed table per set); speed; samples -> metrics.json and the card."""
    torch.set_num_threads(recipe.threads)
    out = resolve(recipe.out_dir)
    model = load_checkpoint(out, expect_kind=TextToMel.kind)
    vocoder = load_vocoder(recipe)
    if vocoder is not None:
        check_vocoder(model, vocoder)
    test, valid = load_split(recipe, "test"), load_split(recipe, "valid")
    seed = recipe.eval_seed
    started = time.perf_counter()
    torch.manual_seed(seed)  # the held-out loss keeps prenet dropout on
    metrics: dict = {"step": model.metadata.get("step"), "test_loss": round(held_out_loss(model, test), 4),
                     "test_utterances": len(test), "seed": seed}

    # Alignment: held-out prompts, the outside sentences, then validation prompts (never trained
    # on either) until there are alignment_sentences.
    prompts = first_takes(test)[:recipe.eval_prompts]
    outside_texts = [normalise(t) for t in EVAL_SENTENCES]
    spare = max(0, recipe.alignment_sentences - len(prompts) - len(outside_texts))
    validation = [text for _, text in first_takes(valid)][:spare]
    parts = {"held_out_prompts": read_and_measure(model, [t for _, t in prompts], seed=seed, max_retries=recipe.max_retries),
             "outside_sentences": read_and_measure(model, outside_texts, seed=seed, max_retries=recipe.max_retries)}
    if validation:
        parts["validation_prompts"] = read_and_measure(model, validation, seed=seed, max_retries=recipe.max_retries)
    for name, part in parts.items():
        metrics[name] = {k: v for k, v in part.items() if k != "result"}
    metrics["alignment"] = combine_alignment({name: metrics[name] for name in parts})
    log(f"alignment over {metrics['alignment']['sentences']} sentences: "
        f"{metrics['alignment']['failed_first_attempt']} failed on the first attempt, "
        f"{metrics['alignment']['failed_after_retry']} after up to {recipe.max_retries} retries")

    # Word error rate and DNSMOS, each way of playing the same text.
    rate = model.config.mel_features.sample_rate
    judged_prompts = prompts[:recipe.judged_prompts]
    sets = {  # name -> (texts, original recordings or None, title, sample file prefix)
        "held_out_prompts": ([text for _, text in judged_prompts],
                             [original_recording(recipe, utterance, rate) for utterance, _ in judged_prompts],
                             "Kathleen held-out prompts", "held_out_"),
        "outside_sentences": (EVAL_SENTENCES[:recipe.judged_sentences], None,
                              "Sentences from outside the corpus (not CMU ARCTIC prompts)", "outside_"),
    }
    metrics["judged"], readings_of = {}, {}
    for name, (texts, originals, title, _) in sets.items():
        if not texts:
            continue
        begun = time.perf_counter()
        readings_of[name] = [read_aloud(model, vocoder, text, seed=seed + i, max_retries=recipe.max_retries,
                                        griffin_lim_iters=recipe.griffin_lim_iters, options=vocoder_options(recipe))
                             for i, text in enumerate(texts)]
        read_seconds = time.perf_counter() - begun
        table = judge_readings(readings_of[name], rate, originals)
        table.update(title=title, reading_seconds=round(read_seconds, 1),
                     judging_seconds=round(time.perf_counter() - begun - read_seconds, 1))
        metrics["judged"][name] = table
        log(format_judged(table, title))

    metrics["speed"] = speed(model, vocoder, repeats=recipe.speed_repeats, seed=seed, options=vocoder_options(recipe))
    samples = out / "samples"
    if samples.is_dir():
        shutil.rmtree(samples)
    metrics["samples"] = {name: write_samples(model, readings, samples, sets[name][3], recipe.eval_samples)
                          for name, readings in readings_of.items()}
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write(out / METRICS, json.dumps(metrics, indent=1).encode())
    atomic_write(out / CARD, card(card_facts(recipe, model)).encode())
    log(json.dumps({k: metrics[k] for k in ("step", "test_loss", "alignment", "speed", "evaluation_seconds")}))
    return metrics
