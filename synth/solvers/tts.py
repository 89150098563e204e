"""Training and evaluating the text-to-mel network on a read-speech corpus in the LJSpeech layout
(``metadata.csv`` of ``id|text`` lines, ``wavs/<id>.flac``), e.g. Kathleen (CMU ARCTIC prompts):

  features  text normalised, log-mel frames computed once with the model's MelFeatures, the
            utterances split by PROMPT (takes of one prompt share a split) -> a cache folder
  train     the shared trainer (resume, EMA), keeping the best weights by validation loss
  bundle    the best weights with their card into the bundled folder
  evaluate  held-out loss; free-running reading of held-out prompts and of sentences from
            outside the corpus: failures before and after retry, speed, and per sentence the mel
            and attention pictures and Griffin-Lim audio -> metrics.json, MODEL_CARD.md
"""
from __future__ import annotations

import dataclasses
import json
import math
import shutil
import time
from pathlib import Path
from typing import Callable

import torch

from synth.audio import write_audio
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
from synth.tts.reader import FAILURES, griffin_lim, read_sentences

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
#: A ten-word sentence for the speed measurement.
SPEED_SENTENCE = "The little boat drifted slowly down the quiet river at dawn."


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
    eval_prompts: int = 60  # held-out prompts read free-running
    eval_samples: int = 6  # of which (and of the outside sentences) this many get pictures and audio
    max_retries: int = 3
    griffin_lim_iters: int = 32

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

def held_out_loss(model: TextToMel, corpus: MelCorpus, batch_size: int = 16) -> float:
    """Teacher-forced loss (L1 + end-of-speech) over every utterance of a split, prenet dropout on."""
    order = corpus.by_length.tolist()
    total, count = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            indices = order[i:i + batch_size]
            total += float(tts_loss(model, corpus.batch(indices))) * len(indices)
            count += len(indices)
    return total / max(1, count)


def read_and_measure(model: TextToMel, texts: list[str], *, seed: int, max_retries: int) -> dict:
    """Free-running reading of normalised texts: failures on the first attempt and after retries."""
    result = read_sentences(model, texts, seed=seed, max_retries=max_retries, record=True)
    first = sum(s.attempts > 1 or s.failure is not None for s in result.sentences)
    frames = sum(s.mel.shape[1] for s in result.sentences)
    return {"result": result, "sentences": len(texts), "failed_first_attempt": first,
            "failed_after_retry": result.failed_sentences, "retries": result.retries,
            "failure_kinds": {k: result.failures.get(k, 0) for k in FAILURES},
            "early_stops_ignored": sum(s.early_stop for s in result.sentences),
            "seconds_of_speech": round(model.config.mel_features.seconds(frames), 1),
            "wall_seconds": round(result.seconds, 2)}


def speed(model: TextToMel, sentence: str = SPEED_SENTENCE, repeats: int = 3) -> dict:
    """Time to the first frames (one engine chunk, unchecked) and the acoustic model's real-time
    factor over a whole checked sentence (wall seconds per second of speech)."""
    from synth.tts.reader import mel_stream

    text = normalise(sentence)
    first, factors = [], []
    for r in range(repeats):
        started = time.perf_counter()
        next(iter(mel_stream(model, text, seed=r)))
        first.append(time.perf_counter() - started)
        result = read_sentences(model, [text], seed=r, max_retries=0)
        factors.append(result.seconds / max(1e-9, model.config.mel_features.seconds(result.sentences[0].mel.shape[1])))
    return {"sentence": sentence, "first_frames_seconds": round(min(first), 4),
            "real_time_factor": round(min(factors), 4), "threads": torch.get_num_threads(),
            "machine": describe_machine(next(model.parameters()).device)}


def write_samples(model: TextToMel, result, out: Path, prefix: str, n: int, griffin_lim_iters: int) -> list[str]:
    """Per sentence: <prefix>N.wav (Griffin-Lim), <prefix>N_mel.png, <prefix>N_attention.png."""
    out.mkdir(parents=True, exist_ok=True)
    mel = model.config.mel_features
    written = []
    for i, sentence in enumerate(result.sentences[:n]):
        stem = out / f"{prefix}{i}"
        write_audio(stem.with_suffix(".wav"), griffin_lim(sentence.mel, model, griffin_lim_iters), mel.sample_rate)
        mel_figure(f"{stem}_mel.png", sentence.mel.numpy(), frames_per_second=mel.sample_rate / mel.hop_length,
                   title=sentence.text)
        if sentence.phi is not None:
            attention_figure(f"{stem}_attention.png", sentence.phi, sentence.text, frames_per_step=model.config.reduction)
        written.append(sentence.text)
    return written


def run_evaluate(recipe: TTSRecipe, card: Callable[[dict], str], log: Callable[[str], None] = print) -> dict:
    torch.set_num_threads(recipe.threads)
    out = resolve(recipe.out_dir)
    model = load_checkpoint(out, expect_kind=TextToMel.kind)
    test = load_split(recipe, "test")
    started = time.perf_counter()
    # One take of each held-out prompt.
    seen, prompts = set(), []
    for utterance, text in zip(test.ids, test.texts):
        if prompt_id(utterance) not in seen:
            seen.add(prompt_id(utterance))
            prompts.append(text)
    prompts = prompts[:recipe.eval_prompts]
    held_out = read_and_measure(model, prompts, seed=0, max_retries=recipe.max_retries)
    outside = read_and_measure(model, [normalise(t) for t in EVAL_SENTENCES], seed=0, max_retries=recipe.max_retries)
    samples = out / "samples"
    if samples.is_dir():
        shutil.rmtree(samples)
    metrics = {
        "step": model.metadata.get("step"),
        "test_loss": round(held_out_loss(model, test), 4), "test_utterances": len(test),
        "held_out_prompts": {k: v for k, v in held_out.items() if k != "result"},
        "outside_sentences": {k: v for k, v in outside.items() if k != "result"},
        "speed": speed(model),
        "samples": {"held_out": write_samples(model, held_out["result"], samples, "held_out_", recipe.eval_samples,
                                              recipe.griffin_lim_iters),
                    "outside": write_samples(model, outside["result"], samples, "outside_", recipe.eval_samples,
                                             recipe.griffin_lim_iters)},
    }
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write(out / METRICS, json.dumps(metrics, indent=1).encode())
    atomic_write(out / CARD, card(_facts(recipe, model)).encode())
    log(json.dumps({k: v for k, v in metrics.items() if k != "samples"}))
    return metrics


def model_card(recipe: TTSRecipe, facts: dict, *, command: str) -> str:
    """The card of a text-to-mel checkpoint: what it is, its data and licence, its training, and
    the measured numbers (held-out, free-running)."""
    meta, metrics = facts.get("metadata", {}), facts.get("metrics", {})
    record = meta.get("record") or (meta.get("history") or [{}])[-1]
    c, t = recipe.model, recipe.train
    counts = (meta.get("corpus") or {}).get("counts", {})
    held, outside, speed_ = metrics.get("held_out_prompts", {}), metrics.get("outside_sentences", {}), metrics.get("speed", {})
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
- Free-running, held-out prompts: {held.get('sentences', '?')} sentences, {held.get('failed_first_attempt', '?')} failed
  on the first attempt, {held.get('failed_after_retry', '?')} after up to {recipe.max_retries} retries ({held.get('failure_kinds', {})}).
- Free-running, {outside.get('sentences', '?')} sentences from outside the corpus: {outside.get('failed_first_attempt', '?')}
  failed first, {outside.get('failed_after_retry', '?')} after retries.
- Speed (acoustic model only, {speed_.get('threads', '?')} thread, on {speed_.get('machine', '?')}): first frames after {speed_.get('first_frames_seconds', '?')} s,
  real-time factor {speed_.get('real_time_factor', '?')} for "{speed_.get('sentence', SPEED_SENTENCE)}".
- Not yet measured: word error rate by an offline recogniser, DNSMOS (see issue 13).
- Samples (Griffin-Lim audio, mel and attention pictures): `samples/`.

## Reproduce
`{command}`
"""


def _counts(counts: dict) -> str:
    return "; ".join(f"{split} {c['utterances']} utterances of {c['prompts']} prompts ({c['seconds'] / 60:.1f} min)"
                     for split, c in counts.items()) or "not recorded"
