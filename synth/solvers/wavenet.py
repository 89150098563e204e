"""Training and evaluating a WaveNet on a corpus folder: what the speech, vocoder and piano recipes
share. A recipe is a ``WaveNetRecipe`` (every hyper-parameter in one place) plus its words for
the model card; the stages are ``train``, ``evaluate`` and ``sample``.
"""
from __future__ import annotations

import dataclasses
import json
import math
import platform
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.audio import MelFeatures, write_audio
from synth.checkpoint import CARD, atomic_write, load_checkpoint
from synth.corpora.audio import AudioSplit
from synth.errors import InputError
from synth.evaluation import (LN2, linear_prediction_bits, mel_cepstral_distortion, mu_law_marginal_bits,
                              multi_resolution_stft_distance, pesq_stoi, wavenet_bits)
from synth.models.wavenet import WaveNet, WaveNetConfig, generate_waveform, wavenet_batch_loss
from synth.recipe import config_to_dict
from synth.training import TRAINING_STATE, TrainConfig, train

METRICS = "metrics.json"


@dataclasses.dataclass
class WaveNetData:
    corpus: str = "data/speech"        # a corpus folder (synth/corpora/manifest.py)
    conditioning: str = "none"         # none | mel | roll
    speaker_conditioned: bool = False  # global conditioning on the corpus's speaker ids
    crop_samples: int = 4096
    batch_size: int = 4
    valid_batches: int = 8
    eval_clips: int = 40               # held-out (test) clips scored in bits per sample
    resynthesis_clips: int = 6         # vocoders: held-out clips resynthesised and compared
    max_train_clips: int = 0           # 0 = all (a smaller number for quick runs)


@dataclasses.dataclass
class WaveNetRecipe:
    name: str = "wavenet"
    out_dir: str = "assets/wavenet"
    runs_dir: str = "runs"
    threads: int = 1
    model: WaveNetConfig = dataclasses.field(default_factory=WaveNetConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    data: WaveNetData = dataclasses.field(default_factory=WaveNetData)
    mel: MelFeatures = dataclasses.field(default_factory=MelFeatures)


def features_metadata(recipe: WaveNetRecipe) -> dict:
    """How the conditioning frames were computed, stored with the weights."""
    if recipe.data.conditioning == "mel":
        return {"kind": "mel", **dataclasses.asdict(recipe.mel)}
    if recipe.data.conditioning == "roll":
        return {"kind": "piano_roll", "hop_length": recipe.model.hop_length, "sample_rate": recipe.model.sample_rate,
                "function": "synth.music.pianoroll.conditioning_roll"}
    return {"kind": "none"}


def mel_features_of(model: WaveNet) -> MelFeatures:
    """The mel features a vocoder checkpoint was trained on; refuses one that does not take mels or
    whose stored parameters disagree with its own hop."""
    features = getattr(model, "metadata", {}).get("features", {})
    if features.get("kind") != "mel":
        raise InputError(f"this model is not a mel vocoder (its conditioning is {features.get('kind', 'unknown')!r})")
    mel = MelFeatures(**{k: v for k, v in features.items() if k != "kind"})
    if mel.hop_length != model.config.hop_length or mel.sample_rate != model.config.sample_rate:
        raise InputError(f"the checkpoint's mel hop {mel.hop_length} / rate {mel.sample_rate} disagree with the model's "
                         f"{model.config.hop_length} / {model.config.sample_rate}")
    return mel


def _split(recipe: WaveNetRecipe, name: str, max_clips: int | None = None) -> AudioSplit:
    return AudioSplit(recipe.data.corpus, name, conditioning=recipe.data.conditioning, hop_length=recipe.model.hop_length,
                      mel=recipe.mel, max_clips=max_clips)


def model_config(recipe: WaveNetRecipe, split: AudioSplit) -> WaveNetConfig:
    """The recipe's WaveNet with the corpus's speakers and conditioning channels filled in."""
    speakers = len(split.manifest.speakers) if recipe.data.speaker_conditioned else 0
    if recipe.data.conditioning != "none" and recipe.model.hop_length != split.hop_length:
        raise InputError(f"upsample_scales give a hop of {recipe.model.hop_length}, the features have {split.hop_length}")
    return dataclasses.replace(recipe.model, n_speakers=speakers, cond_channels=split.cond_channels,
                               sample_rate=split.manifest.sample_rate)


def hardware() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} thread(s) (no GPU)"


def run_train(recipe: WaveNetRecipe, card: Callable[[dict], str]) -> dict:
    torch.set_num_threads(recipe.threads)
    train_split = _split(recipe, "train", recipe.data.max_train_clips or None)
    valid_split = _split(recipe, "valid")
    config = model_config(recipe, train_split)
    torch.manual_seed(recipe.train.seed)
    model = WaveNet(config)
    valid = valid_split.fixed_batches(recipe.data.valid_batches, recipe.data.batch_size, recipe.data.crop_samples)
    manifest = train_split.manifest
    metadata = {"recipe": config_to_dict(recipe), "features": features_metadata(recipe), "speakers": manifest.speakers,
                "corpus": {"name": manifest.name, "licence": manifest.licence, "train_seconds": round(train_split.seconds, 1)},
                "hardware": hardware()}
    return train(model, loss=wavenet_batch_loss,
                 batch=lambda g: train_split.crops(g, recipe.data.batch_size, recipe.data.crop_samples),
                 valid_batches=valid, config=recipe.train, out_dir=recipe.out_dir, metadata=metadata,
                 card=lambda record: card({"record": record, "metrics": read_metrics(recipe)}),
                 tensorboard_dir=Path(recipe.runs_dir) / recipe.name,
                 units_per_batch=recipe.data.batch_size * recipe.data.crop_samples)


def read_metrics(recipe: WaveNetRecipe) -> dict:
    path = Path(recipe.out_dir) / METRICS
    return json.loads(path.read_text()) if path.is_file() else {}


def _clips(split: AudioSplit, n: int) -> list[dict]:
    return [{"audio": c.audio.float() / 32768.0, "speaker": c.speaker_id, "frames": c.frames} for c in split.clips[:n]]


def run_evaluate(recipe: WaveNetRecipe, card: Callable[[dict], str], log: Callable[[str], None] = print) -> dict:
    """Held-out bits per sample beside the baselines (and, for vocoders, resynthesis distances);
    written to metrics.json and the model card."""
    torch.set_num_threads(recipe.threads)
    model = load_checkpoint(recipe.out_dir, expect_kind="wavenet")
    test = _split(recipe, "test", recipe.data.eval_clips)
    train_split = _split(recipe, "train", 200)
    clips = _clips(test, recipe.data.eval_clips)
    audio = [c["audio"] for c in clips]
    fit = [c.audio.float() / 32768.0 for c in train_split.clips]
    started = time.perf_counter()
    metrics = {
        "step": model.metadata.get("step"),
        "test_clips": len(clips), "test_seconds": round(sum(len(a) for a in audio) / test.manifest.sample_rate, 1),
        "bits_per_sample": round(wavenet_bits(model, clips), 4),
        "baseline_mu_law_marginal_bits": round(mu_law_marginal_bits(fit, audio), 4),
        "baseline_linear_prediction_bits": round(linear_prediction_bits(fit, audio, order=16), 4),
    }
    if recipe.data.conditioning == "mel":
        metrics["resynthesis"] = resynthesis_metrics(model, test, recipe.data.resynthesis_clips, Path(recipe.out_dir))
    metrics["evaluation_seconds"] = round(time.perf_counter() - started, 1)
    atomic_write(Path(recipe.out_dir) / METRICS, json.dumps(metrics, indent=1).encode())
    history = model.metadata.get("history") or [{}]
    atomic_write(Path(recipe.out_dir) / CARD, card({"record": history[-1], "metrics": metrics}).encode())
    log(json.dumps(metrics))
    return metrics


def resynthesise(model: WaveNet, frames: torch.Tensor, speaker: int | None, seed: int = 0, progress=None) -> torch.Tensor:
    """Audio (T,) from conditioning frames (C, F) (and a speaker id), through the sampling engine."""
    seconds = frames.shape[-1] * model.config.hop_length / model.config.sample_rate
    chunks = generate_waveform(model, seconds=seconds, frames=frames.unsqueeze(0), seed=seed, progress=progress,
                               speaker=speaker if model.config.n_speakers else None)
    return torch.cat(list(chunks), dim=1)[0]


def resynthesis_metrics(model: WaveNet, test: AudioSplit, n_clips: int, out_dir: Path, max_seconds: float = 4.0) -> dict:
    rate, hop = model.config.sample_rate, model.config.hop_length
    scores: dict[str, list[float]] = {}
    for i, clip in enumerate(test.clips[:n_clips]):
        n_frames = min(clip.frames.shape[-1], int(max_seconds * rate) // hop)
        original = clip.audio[:n_frames * hop].float().numpy() / 32768.0
        result = resynthesise(model, clip.frames[:, :n_frames], clip.speaker_id, seed=i).numpy()
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
    out, rate, written = Path(recipe.out_dir), model.config.sample_rate, []
    if model.config.cond_channels:
        clip = _split(recipe, "test", 1).clips[0]
        n_frames = min(clip.frames.shape[-1], int(seconds * rate) // model.config.hop_length)
        audio = resynthesise(model, clip.frames[:, :n_frames], clip.speaker_id)
        written.append(write_audio(out / "sample.wav", audio, rate))
    else:
        speakers = range(min(model.config.n_speakers, 4)) if model.config.n_speakers else [None]
        for s in speakers:
            audio = torch.cat(list(generate_waveform(model, seconds=seconds, speaker=s, seed=0)), dim=1)[0]
            written.append(write_audio(out / (f"sample_speaker{s}.wav" if s is not None else "sample.wav"), audio, rate))
    return written


def card_facts(recipe: WaveNetRecipe, facts: dict) -> dict:
    """The numbers every WaveNet card states, from a training record and metrics."""
    record, metrics = facts.get("record", {}), facts.get("metrics", {})
    config = recipe.model
    valid_nats = record.get("valid_loss")
    return {
        "step": record.get("step", 0), "steps": recipe.train.steps, "wall_seconds": record.get("wall_seconds", 0),
        "wall_hours": round(record.get("wall_seconds", 0) / 3600, 2),
        "throughput": record.get("units_per_second", "n/a"),
        "valid_bits": round(valid_nats / LN2, 3) if isinstance(valid_nats, (int, float)) else "n/a",
        "test_bits": metrics.get("bits_per_sample", "not yet measured"),
        "marginal_bits": metrics.get("baseline_mu_law_marginal_bits", "n/a"),
        "lpc_bits": metrics.get("baseline_linear_prediction_bits", "n/a"),
        "test_clips": metrics.get("test_clips", 0), "test_seconds": metrics.get("test_seconds", 0),
        "receptive_ms": round(1000 * config.receptive_field / config.sample_rate, 1),
        "layers": f"{config.n_stacks} x {config.layers_per_stack}", "resynthesis": metrics.get("resynthesis", {}),
        "hardware": hardware(), "uniform_bits": round(math.log2(config.n_classes), 3),
    }


def has_training_state(recipe: WaveNetRecipe) -> bool:
    return (Path(recipe.out_dir) / TRAINING_STATE).is_file()


def model_card(recipe: WaveNetRecipe, facts: dict, *, title: str, summary: str, data: str, sound: str, command: str) -> str:
    """The model card of a WaveNet recipe: the recipe's words around the measured numbers."""
    f = card_facts(recipe, facts)
    c = recipe.model
    resynthesis = "".join(f"\n  - {k}: {v}" for k, v in f["resynthesis"].items()) or " not measured (not a vocoder)"
    return f"""# {title}

{summary}

## Model
WaveNet, {f['layers']} layers (dilations up to {max(c.dilations)}), kernel {c.kernel_size},
{c.residual_channels} residual / {c.gate_channels} gate / {c.skip_channels} skip channels, receptive field
{c.receptive_field} samples ({f['receptive_ms']} ms), {c.n_classes}-class mu-law output, {c.sample_rate} Hz.
Conditioning: {recipe.data.conditioning}{', speaker embedding' if recipe.data.speaker_conditioned else ''}.

## Data and licence
{data}

## Training
- {f['step']} of {f['steps']} steps, batch {recipe.data.batch_size} x {recipe.data.crop_samples}-sample random crops,
  AdamW (lr {recipe.train.learning_rate}, warm-up {recipe.train.warmup_steps}, cosine), clip {recipe.train.grad_clip},
  EMA {recipe.train.ema_decay or 'off'}.
- Wall time {f['wall_seconds']} s ({f['wall_hours']} h) on {f['hardware']}, shared with other work.
- Throughput: {f['throughput']} training samples/s at the last evaluation.

## Held-out metrics (bits per sample over the 256 mu-law classes; lower is better)
- Validation (fixed crops): {f['valid_bits']} bits/sample.
- Test ({f['test_clips']} whole clips, {f['test_seconds']} s): **{f['test_bits']}** bits/sample; baselines on the
  same audio: mu-law marginal entropy {f['marginal_bits']}, 16th-order linear prediction {f['lpc_bits']},
  uniform {f['uniform_bits']}.
- Resynthesis of held-out clips from their features:{resynthesis}

## How it sounds
{sound}

## Reproduce
`{command}` (resumes from `training_state.safetensors` in this folder; then `--stage evaluate` and `--stage sample`).
"""


def run_stages(description: str, default: WaveNetRecipe, card: Callable[[WaveNetRecipe, dict], str], argv=None) -> None:
    """A WaveNet recipe's command line: ``--stage train|evaluate|sample|all`` with config overrides."""
    from synth.recipe import recipe_arguments, wants

    args, recipe = recipe_arguments(description, default, ["train", "evaluate", "sample"], argv)
    write_card = lambda facts: card(recipe, facts)  # noqa: E731
    if wants(args, "train"):
        run_train(recipe, write_card)
    if wants(args, "evaluate"):
        run_evaluate(recipe, write_card)
    if wants(args, "sample"):
        run_sample(recipe)
