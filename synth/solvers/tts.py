"""Training and evaluating the text-to-mel network on a read-speech corpus in the LJSpeech layout
(``metadata.csv`` of ``id|text`` lines, ``wavs/<id>.flac``), e.g. Kathleen (CMU ARCTIC prompts):

  features  text normalised, log-mel frames computed once with the model's MelFeatures, the
            utterances split by PROMPT (takes of one prompt share a split) -> a cache folder
  train     the shared trainer (resume, EMA), keeping the best weights by validation loss
  bundle    the best weights with their card into the bundled folder
  evaluate  held-out loss; alignment failures (stalled, skipped, over budget, early end-of-speech)
            of 100 free-running sentences before and after retry; the word error rate (pocketsphinx)
            and DNSMOS of held-out prompts and of sentences from outside the corpus, each played by
            the WaveNet vocoder, by Griffin-Lim from the same mels, and read by espeak-ng (and the
            recordings of the prompts); time to first audio and real-time factor of a ten-word
            sentence; samples -> metrics.json, MODEL_CARD.md (the judges: synth/judges/)
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.audio import read_audio, write_audio
from synth.checkpoint import CARD, atomic_write, load_checkpoint, save_checkpoint
from synth.device import describe_machine
from synth.errors import InputError
from synth.models.tts import TextToMel, TextToMelConfig, tts_loss
from synth.recipe import config_to_dict
from synth.training import TrainConfig, train
from synth.tts.corpus import MelCorpus, compute_features, prompt_id
from synth.tts.corpus import read_manifest as corpus_manifest
from synth.tts.normalise import normalise
from synth.tts.pictures import attention_figure, mel_figure
from synth.tts.reader import (FAILURES, SpokenSentence, check_vocoder, griffin_lim, mel_stream, pause_frames,
                              read_sentences, speech_frames, stream_speech)

BEST = "best"
METRICS = "metrics.json"

#: Sentences that are not CMU ARCTIC prompts, for judging the model on text it never read
#: (numbers, abbreviations and money included, as users type them).
EVAL_SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Please call me back after lunch.",
    "The train to Boston leaves at 3 pm from platform 9.",
    "Dr. Smith paid $5 for a cup of coffee.",
    "She was born on March 3rd, 1984, in a small town.",
    "We need 12 eggs, two cups of flour and a little salt.",
    "Turn left at the next corner and walk for ten minutes.",
    "The weather will be cold and windy tomorrow morning.",
    "My phone battery died in the middle of the meeting.",
    "He plays the piano every evening before dinner.",
    "Could you open the window, please?",
    "The museum is closed on Mondays.",
    "Our team finished the project two days early.",
    "The children laughed at the clown in the park.",
    "I would like a table for four at 7:30.",
    "Rain is expected over the weekend.",
    "The library has more than 10,000 books.",
    "Keep the receipt in case you want to return it.",
    "Water boils at 100 degrees.",
    "The old bridge was rebuilt in 2015.",
    "Turn off the lights when you leave the room.",
    "A good night's sleep helps you think clearly.",
    "The store sells fresh bread every morning.",
    "Mr. Brown asked for the 21st page of the report.",
]
#: A ten-word sentence for the speed measurement (issue 13: "a 10-word sentence").
SPEED_SENTENCE = "The little boat drifted down the quiet river at dawn."


@dataclasses.dataclass
class TTSData:
    corpus: str = "../shared/data/speech-en-kathleen"  # relative to the repository root, or absolute
    features: str = "data/tts-kathleen"  # the cache of normalised texts and log-mel frames
    # The function (dotted name) that splits by prompt id: the Kathleen prompt split (5% test, 5%
    # valid) the judges hold out, so the prompts the word error rate is measured on are never trained on.
    split: str = "synth.splits.prompt_split"
    batch_size: int = 16
    valid_batches: int = 6
    max_seconds: float = 12.0  # longer utterances are left out of training
    bucket: int = 3  # a batch is drawn from the batch_size * bucket utterances nearest in length


@dataclasses.dataclass
class TTSRecipe:
    name: str = "tts-kathleen"
    out_dir: str = "assets/tts-kathleen"  # the bundled checkpoint, its card and samples
    runs_dir: str = "runs"  # the training run (state, last and best weights, TensorBoard)
    threads: int = 1
    model: TextToMelConfig = dataclasses.field(default_factory=TextToMelConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: TTSData = dataclasses.field(default_factory=TTSData)
    eval_prompts: int = 60  # held-out prompts read free-running (for the alignment count: all there are)
    # Sentences whose alignment failures are counted: the held-out prompts, EVAL_SENTENCES, then
    # validation prompts (never trained on either) to make up the number.
    alignment_sentences: int = 100
    # Held-out prompts and EVAL_SENTENCES played (WaveNet vocoder, Griffin-Lim, espeak-ng) and judged
    # (word error rate, DNSMOS). Measured CPU seconds on one core of this machine, per sentence of
    # about 2.5 s: reading it every way about 5 (the vocoder about 1.5 s a second of audio), judging
    # each row about 10 (pocketsphinx near real time; DNSMOS tiles a short clip by doubling it past
    # 9 s and scores every 1 s hop, 3-7 windows of about 1.5 s each). So 20 + 24 sentences take
    # about half an hour; judged_prompts=5 judged_sentences=20 about a quarter of an hour.
    judged_prompts: int = 20
    judged_sentences: int = 24  # issue 13 asks for 20 or more
    vocoder: str = "assets/wavenet-vocoder"  # the WaveNet vocoder `synth say` plays; "" leaves its row out
    eval_samples: int = 6  # of the judged readings of each set, this many get audio and pictures in samples/
    eval_seed: int = 0  # every reading, Griffin-Lim's phases and the held-out loss's dropout
    speed_repeats: int = 3  # the best of this many runs to first audio (the whole sentence once)
    max_retries: int = 3
    griffin_lim_iters: int = 64  # as the judges' Griffin-Lim baseline of the vocoder card

    def __post_init__(self):
        problems = [f"{name} must be a whole number from 0, got {getattr(self, name)!r}"
                    for name in ("eval_prompts", "alignment_sentences", "judged_prompts", "eval_samples", "eval_seed")
                    if not isinstance(getattr(self, name), int) or getattr(self, name) < 0]
        if not isinstance(self.judged_sentences, int) or not 0 <= self.judged_sentences <= len(EVAL_SENTENCES):
            problems.append(f"judged_sentences must be from 0 to {len(EVAL_SENTENCES)} (the EVAL_SENTENCES), "
                            f"got {self.judged_sentences!r}")
        if not isinstance(self.speed_repeats, int) or self.speed_repeats < 1:
            problems.append(f"speed_repeats must be at least 1, got {self.speed_repeats!r}")
        if not isinstance(self.griffin_lim_iters, int) or self.griffin_lim_iters < 1:
            problems.append(f"griffin_lim_iters must be at least 1, got {self.griffin_lim_iters!r}")
        if problems:
            raise InputError("the TTS recipe: " + "; ".join(problems))

    @property
    def run_dir(self) -> Path:
        return Path(self.runs_dir) / self.name


def repository_root() -> Path:
    return Path(__file__).resolve().parents[2]


def resolve(path: str) -> Path:
    """A recipe path: absolute, or relative to the working folder when it exists there, else to
    the repository root."""
    p = Path(path)
    if p.is_absolute() or p.exists():
        return p
    return repository_root() / p


# -- features (synth/tts/corpus.py) -------------------------------------------------------------

def split_function(recipe: TTSRecipe) -> Callable[[str], str]:
    function = _function(recipe.data.split)
    if function is None:
        raise InputError(f"data.split {recipe.data.split!r}: no such function (a dotted name such as "
                         "synth.splits.prompt_split)")
    return function


def _function(dotted: str) -> Callable | None:
    import importlib

    module, _, name = dotted.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        return None


def prepare_features(recipe: TTSRecipe, log: Callable[[str], None] = print) -> dict:
    torch.set_num_threads(recipe.threads)
    d = recipe.data
    return compute_features(resolve(d.corpus), resolve(d.features), recipe.model.mel_features, max_seconds=d.max_seconds,
                            split_of=split_function(recipe), log=log)


def read_manifest(recipe: TTSRecipe) -> dict:
    manifest = corpus_manifest(resolve(recipe.data.features), recipe.model.mel)
    recorded = manifest["split"].get("function")
    # The same function under another name (synth.judges re-exports synth.splits.prompt_split) is the same split.
    if recorded != recipe.data.split and _function(str(recorded)) is not split_function(recipe):
        raise InputError(f"{recipe.data.features}: the cached features were split by {manifest['split']}, not by "
                         f"{recipe.data.split}; delete the folder and run the features stage again")
    return manifest


def load_split(recipe: TTSRecipe, split: str) -> MelCorpus:
    return MelCorpus(resolve(recipe.data.features) / f"{split}.npz", recipe.model.characters, recipe.model.max_chars)


def model_for(recipe: TTSRecipe, manifest: dict) -> TextToMel:
    """The recipe's network with the corpus's speed and mel statistics filled in."""
    config = dataclasses.replace(recipe.model, frames_per_char=manifest["frames_per_char"])
    model = TextToMel(config)
    model.set_statistics(torch.tensor(manifest["mel_mean"]), torch.tensor(manifest["mel_std"]),
                         torch.tensor(manifest["mel_silence"]))
    return model


# -- training -----------------------------------------------------------------------------------

class BestByValidation:
    """Keeps the weights of the lowest validation loss in ``directory``, through the trainer's
    ``log`` (which sees each evaluation's record) and ``samples`` (which sees the evaluated
    weights right after) callbacks."""

    def __init__(self, directory: Path, metadata: dict, log: Callable[[str], None] = print):
        self.directory, self.metadata, self.print = directory, metadata, log
        self.best = self._saved_loss()
        self.record: dict | None = None

    def _saved_loss(self) -> float:
        try:
            return float(json.loads((self.directory / "config.json").read_text())["metadata"]["valid_loss"])
        except (OSError, KeyError, ValueError, TypeError):
            return math.inf

    def log(self, line: str) -> None:
        self.print(line)
        try:
            record = json.loads(line)
        except ValueError:
            return
        self.record = record if isinstance(record, dict) and "valid_loss" in record else None

    def samples(self, model: torch.nn.Module, writer, step: int) -> None:
        record, self.record = self.record, None
        if record is None or record["valid_loss"] >= self.best:
            return
        self.best = record["valid_loss"]
        save_checkpoint(model, self.directory, metadata=dict(self.metadata, step=step, valid_loss=self.best, record=record),
                        card=f"# text-to-mel: best weights so far\n\nStep {step}, validation loss {self.best}.\n")


def run_train(recipe: TTSRecipe, log: Callable[[str], None] = print) -> dict:
    torch.set_num_threads(recipe.threads)
    manifest = read_manifest(recipe)
    train_set, valid_set = load_split(recipe, "train"), load_split(recipe, "valid")
    torch.manual_seed(recipe.train.seed)
    model = model_for(recipe, manifest)
    metadata = {"recipe": config_to_dict(recipe), "corpus": {"path": manifest["corpus"], "licence": manifest["licence"],
                                                              "counts": manifest["counts"]},
                "hardware": describe_machine()}
    run_dir = resolve(str(recipe.run_dir))
    best = BestByValidation(run_dir / BEST, metadata, log)
    return train(model, loss=tts_loss,
                 batch=lambda g: train_set.random_batch(g, recipe.data.batch_size, recipe.data.bucket),
                 valid_batches=valid_set.fixed_batches(recipe.data.valid_batches, recipe.data.batch_size),
                 config=recipe.train, out_dir=run_dir, metadata=metadata,
                 card=lambda record: f"# text-to-mel (training run)\n\n{json.dumps(record)}\n"
                                     "The bundled card is written by the bundle and evaluate stages.\n",
                 tensorboard_dir=run_dir / "tensorboard", samples=best.samples, log=best.log)


def bundle(recipe: TTSRecipe, card: Callable[[dict], str], log: Callable[[str], None] = print) -> Path:
    """The best weights (else the last) with the card into ``out_dir``; the optimizer state stays in runs/."""
    run_dir = resolve(str(recipe.run_dir))
    source = run_dir / BEST if (run_dir / BEST / "config.json").is_file() else run_dir
    model = load_checkpoint(source, expect_kind=TextToMel.kind)
    out = resolve(recipe.out_dir)
    save_checkpoint(model, out, metadata=model.metadata, card=card(_facts(recipe, model)))
    log(f"bundled {source} (step {model.metadata.get('step')}) into {out}")
    return out


def _facts(recipe: TTSRecipe, model: TextToMel) -> dict:
    path = resolve(recipe.out_dir) / METRICS
    return {"metadata": model.metadata, "metrics": json.loads(path.read_text()) if path.is_file() else {}}


# -- evaluation ---------------------------------------------------------------------------------

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


def read_aloud(model: TextToMel, vocoder, text: str, *, seed: int, max_retries: int, griffin_lim_iters: int) -> Reading:
    """``text`` read as ``synth say`` reads it (``synth.tts.reader.stream_speech``, which the speech
    service plays: checked sentences streamed into the WaveNet vocoder, temperature 1), the same
    mels through Griffin-Lim, and espeak-ng reading the same normalised words. Seeded: the same
    seed gives the same audio. ``vocoder`` None leaves the WaveNet row out."""
    from synth import judges

    spoken: list[SpokenSentence] = []
    audio = {}
    if vocoder is not None:
        chunks = list(stream_speech(model, vocoder, text, seed=seed, max_retries=max_retries, record=True,
                                    on_sentence=spoken.append))
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


def speed(model: TextToMel, vocoder=None, sentence: str = SPEED_SENTENCE, repeats: int = 3, seed: int = 0) -> dict:
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
            chunks = stream_speech(model, vocoder, sentence, seed=seed + r)
            pieces = [next(chunks)]
            first_audio.append(time.perf_counter() - started)
            if r == 0:  # the whole sentence once; the other runs only to their first chunk
                pieces += list(chunks)
                wall = time.perf_counter() - started
                audio_seconds = sum(len(p) for p in pieces) / rate
            chunks.close()
        out["vocoder"] = {"first_audio_seconds": round(min(first_audio), 3), "audio_seconds": round(audio_seconds, 2),
                          "wall_seconds": round(wall, 2), "real_time_factor": round(wall / audio_seconds, 3),
                          "vocoder_threads": vocoder.cpu_threads}
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
                attention_figure(name, sentence.phi, sentence.text, frames_per_step=model.config.reduction)
        written.append(reading.text)
    return written


def original_recording(recipe: TTSRecipe, utterance: str, sample_rate: int) -> np.ndarray:
    """The corpus's recording of an utterance (wavs/<id>.flac, else .wav) at ``sample_rate``."""
    folder = resolve(recipe.data.corpus) / "wavs"
    path = next((p for p in (folder / f"{utterance}.flac", folder / f"{utterance}.wav") if p.is_file()),
                folder / f"{utterance}.flac")
    return read_audio(path, sample_rate)[0]


def load_vocoder(recipe: TTSRecipe):
    """The recipe's WaveNet vocoder (None when ``vocoder`` is ""), generating on recipe.threads threads."""
    if not recipe.vocoder:
        return None
    vocoder = load_checkpoint(resolve(recipe.vocoder), expect_kind="wavenet")
    vocoder.cpu_threads = recipe.threads  # the generation kernel's threads (a busy core stalls a 2-thread kernel)
    return vocoder


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
                                        griffin_lim_iters=recipe.griffin_lim_iters) for i, text in enumerate(texts)]
        read_seconds = time.perf_counter() - begun
        table = judge_readings(readings_of[name], rate, originals)
        table.update(title=title, reading_seconds=round(read_seconds, 1),
                     judging_seconds=round(time.perf_counter() - begun - read_seconds, 1))
        metrics["judged"][name] = table
        log(format_judged(table, title))

    metrics["speed"] = speed(model, vocoder, repeats=recipe.speed_repeats, seed=seed)
    samples = out / "samples"
    if samples.is_dir():
        shutil.rmtree(samples)
    metrics["samples"] = {name: write_samples(model, readings, samples, sets[name][3], recipe.eval_samples)
                          for name, readings in readings_of.items()}
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write(out / METRICS, json.dumps(metrics, indent=1).encode())
    atomic_write(out / CARD, card(_facts(recipe, model)).encode())
    log(json.dumps({k: metrics[k] for k in ("step", "test_loss", "alignment", "speed", "evaluation_seconds")}))
    return metrics


def model_card(recipe: TTSRecipe, facts: dict, *, command: str) -> str:
    """The card of a text-to-mel checkpoint: what it is, its data and licence, its training, and
    the measured numbers (held-out, free-running)."""
    meta, metrics = facts.get("metadata", {}), facts.get("metrics", {})
    record = meta.get("record") or (meta.get("history") or [{}])[-1]
    c, t = recipe.model, recipe.train
    counts = (meta.get("corpus") or {}).get("counts", {})
    return f"""# {recipe.name}: text to log-mel spectrogram, read with Graves's Gaussian window

Characters -> 80-band log-mel frames (16 kHz, hop 256: exactly `synth.audio.MelFeatures`, the
vocoder's features), an end-of-speech output, and the attention window over the text. Played by
the WaveNet vocoder (streamed), or by Griffin-Lim as a check of this model apart from the vocoder.

## Model
Encoder: {c.embedding_size}-dim character embedding, {c.encoder_convs} convolutions (kernel {c.encoder_kernel}),
bidirectional LSTM ({c.encoder_size}). Attention: Graves's window (K = {c.n_window} Gaussians, GMM attention).
Decoder: prenet {list(c.prenet_sizes)} (dropout {c.prenet_dropout}, kept on at inference), attention LSTM
{c.attention_size} (zoneout {c.zoneout}), decoder LSTM {c.decoder_size} (dropout {c.dropout}), {c.reduction} frames per
step, L1 on per-band standardised log-mel, end-of-speech cross-entropy (positive weight {c.stop_weight}).
Why each choice: the docstring of `synth/models/tts.py`.

## Data and licence
{(meta.get('corpus') or {}).get('path', recipe.data.corpus)}: the "Kathleen" voice data set (one US-English
female speaker reading CMU ARCTIC prompts), {(meta.get('corpus') or {}).get('licence', 'CC0 1.0')}. Split by prompt
id, so held-out sentences were never heard in training: {_counts(counts)}.

## Training
- Step {record.get('step', meta.get('step', '?'))} of {t.steps} (weights with the best validation loss, EMA {t.ema_decay or 'off'}),
  batch {recipe.data.batch_size} utterances of similar length, AdamW lr {t.learning_rate} (warm-up {t.warmup_steps}, cosine),
  clip {t.grad_clip}; validation loss {record.get('valid_loss', '?')}, wall time {record.get('wall_seconds', '?')} s.

## Held-out measurements
- Test loss (teacher-forced L1 + end-of-speech, {metrics.get('test_utterances', '?')} utterances): {metrics.get('test_loss', 'not yet measured')}.

{alignment_section(metrics.get('alignment'), recipe.max_retries)}

{judged_section(metrics.get('judged'))}

{speed_section(metrics.get('speed'))}

Samples (per judged sentence: WaveNet and Griffin-Lim audio of the same mels, the mel and the
attention pictures): `samples/`. Every reading is seeded (seed {metrics.get('seed', recipe.eval_seed)}).

## Reproduce
`{command}`
"""


def _counts(counts: dict) -> str:
    return "; ".join(f"{split} {c['utterances']} utterances of {c['prompts']} prompts ({c['seconds'] / 60:.1f} min)"
                     for split, c in counts.items()) or "not recorded"


def alignment_section(alignment: dict | None, max_retries: int) -> str:
    """The card's alignment table: sentences failing (and why) on the first attempt and after retry."""
    if not alignment:
        return "Alignment failures: not yet measured (run the evaluate stage)."
    sources = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in alignment["sources"].items())
    lines = [f"Alignment over {alignment['sentences']} free-running sentences ({sources}): a sentence fails when its "
             "window stalls, skips characters or spends its step budget, and is then read again with another seed. An "
             "early end-of-speech (before the last characters) is not believed by the stopping rule; it is counted, "
             "not failed.", "",
             "| | sentences failed | share | stalled | skipped | over budget | early end-of-speech |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, failed, rate, kinds in (
            ("first attempt", "failed_first_attempt", "failure_rate_first_attempt", "first_attempt_kinds"),
            (f"after up to {max_retries} retries", "failed_after_retry", "failure_rate_after_retry", "after_retry_kinds")):
        k = alignment[kinds]
        lines.append(f"| {label} | {alignment[failed]} | {100 * alignment[rate]:.1f}% | {k['stalled']} | {k['skipped']} | "
                     f"{k['over_budget']} | {k['early_stop']} |")
    return "\n".join(lines)


def judged_section(judged: dict | None) -> str:
    """The card's word error rate and DNSMOS tables, one per set, from metrics.json."""
    if not judged:
        return "Word error rate and DNSMOS: not yet measured (run the evaluate stage)."
    parts = ["Word error rate of pocketsphinx (en-us, offline) against the normalised text, and DNSMOS P.835 "
             "(1-5), free-running. Every row reads the same normalised words: the network's mels played by the "
             "WaveNet vocoder (as `synth say` streams them) and by Griffin-Lim (the acoustic model judged apart "
             "from the vocoder), espeak-ng (the baseline), and for held-out prompts the speaker's recording. "
             "Judges: `synth/judges/`."]
    for table in judged.values():
        parts.append(format_judged(table, table.get("title", "")))
        if table.get("reading_failures"):
            parts.append(f"({table['reading_failures']} of these readings still failed their alignment after retries.)")
    return "\n\n".join(parts)


def speed_section(speed_: dict | None) -> str:
    """The card's speed lines: the streamed path with the vocoder, and the acoustic model alone."""
    if not speed_:
        return "Speed: not yet measured (run the evaluate stage)."
    lines = [f"Speed on {speed_.get('machine', 'this CPU')}, {speed_['threads']} thread, for \"{speed_['sentence']}\" ({speed_.get('words', '?')} words):"]
    vocoder = speed_.get("vocoder")
    if vocoder:
        lines.append(f"- Text-to-mel streamed into the WaveNet vocoder (the `synth say` path): first audio after "
                     f"{vocoder['first_audio_seconds']} s, real-time factor {vocoder['real_time_factor']} "
                     f"({vocoder['wall_seconds']} s for {vocoder['audio_seconds']} s of audio; below 1 is faster than real time).")
    lines.append(f"- The acoustic model alone: first frames after {speed_['first_frames_seconds']} s, real-time factor "
                 f"{speed_['real_time_factor']}.")
    return "\n".join(lines)

