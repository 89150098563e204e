"""Training and evaluating a WaveNet on a corpus folder: what the speech, vocoder and piano recipes
share. A recipe is a ``WaveNetRecipe`` (every hyper-parameter in one place) plus its words for
the model card; the stages are ``train``, ``evaluate`` and ``sample`` (the last two in
``synth.solvers.wavenet_evaluation``), ``card`` and ``bench``.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Callable

import torch

from synth.audio import MelFeatures
from synth.corpora.audio import CONDITIONING, AudioSplit
from synth.device import describe_machine
from synth.errors import InputError
from synth.evaluation import LN2
from synth.models.wavenet import WaveNet, WaveNetConfig
from synth.models.wavenet_loss import input_noise_offsets, wavenet_batch_loss
from synth.recipe import config_to_dict
from synth.training import TRAINING_STATE, TrainConfig, train

METRICS = "metrics.json"

#: The measures a sampling temperature's candidates may carry (``--stage temperature``), as the card names them.
SAMPLING_MEASURES = {"wer": "word error rate", "stoi": "STOI", "dnsmos_overall": "DNSMOS overall",
                     "f1": "note-onset F1", "precision": "precision", "recall": "recall",
                     "active": "sound (not silence)"}


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
    #: Piano rolls: > 0 adds the time since each key was struck, exp(-age / this), as 88 more
    #: channels (synth.music.pianoroll.with_onset_envelope); 0 = the 176-column roll alone.
    onset_envelope_seconds: float = 0.0
    #: Piano: free-running playback judged offline (synth.solvers.piano): this many held-out pieces
    #: of the corpus (those whose MIDI it keeps) and every MIDI file in ``examples``, each cut to
    #: its first ``judged_seconds``. "" for ``examples`` leaves the examples out.
    judged_pieces: int = 4
    judged_seconds: float = 8.0
    #: Vocoders: clips of each held-out set (at most 4 s each) played free-running and judged by the evaluate stage.
    judged_clips: int = 10
    examples: str = "assets/examples"
    #: Noise injection (mu-law models): > 0 adds rounded Gaussian noise of mu-law classes to the
    #: training batches' inputs (not their targets), its standard deviation drawn per example from
    #: [0, this] (synth.models.wavenet_loss.input_noise_offsets); 0 = clean teacher forcing. Validation
    #: batches stay clean.
    input_noise: float = 0.0

    def __post_init__(self):
        problems = []
        if self.conditioning not in CONDITIONING:
            problems.append(f"conditioning must be one of {CONDITIONING}, got {self.conditioning!r}")
        if self.onset_envelope_seconds < 0 or (self.onset_envelope_seconds and self.conditioning != "roll"):
            problems.append(f"onset_envelope_seconds must be 0, or more than 0 with conditioning 'roll', got "
                            f"{self.onset_envelope_seconds} with {self.conditioning!r}")
        if not 0 <= self.input_noise <= 32:
            problems.append(f"input_noise must be from 0 (off) to 32 mu-law classes, got {self.input_noise}")
        if not 1 <= self.judged_clips <= 1000:
            problems.append(f"judged_clips must be from 1 to 1000, got {self.judged_clips}")
        if self.judged_pieces < 0 or not 0 < self.judged_seconds <= 60:
            problems.append(f"judged_pieces must be 0 or more and judged_seconds from above 0 to 60, got "
                            f"{self.judged_pieces} and {self.judged_seconds}")
        if problems:
            raise InputError("invalid WaveNet data settings: " + "; ".join(problems))


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
    #: The sampling temperatures the ``temperature`` stage judges (vocoders on validation clips, piano
    #: on validation pieces, babble on unjudged seeds: synth.solvers.wavenet_evaluation.choose_temperature);
    #: the chosen one goes into the checkpoint.
    temperatures: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6)
    #: Mel vocoders: how far the ``temperature`` stage's choice pulls the generated audio's band energies
    #: to the mel it plays (synth.envelope; 1 all the way, 0 = off), written into the checkpoint beside
    #: the temperature, which is then chosen on the corrected audio.
    envelope: float = 0.0
    envelope_passes: int = 1  # corrections in a row (synth.envelope.MelEnvelope.passes)


def features_metadata(recipe: WaveNetRecipe) -> dict:
    """How the conditioning frames were computed, stored with the weights."""
    if recipe.data.conditioning == "mel":
        return {"kind": "mel", **dataclasses.asdict(recipe.mel)}
    if recipe.data.conditioning == "roll":
        return {"kind": "piano_roll", "hop_length": recipe.model.hop_length, "sample_rate": recipe.model.sample_rate,
                "function": "synth.music.pianoroll.conditioning_roll",
                "onset_envelope_seconds": recipe.data.onset_envelope_seconds}
    return {"kind": "none"}


def corpus_split(recipe: WaveNetRecipe, name: str, max_clips: int | None = None,
                 model: WaveNet | None = None) -> AudioSplit:
    """A split of the recipe's corpus as the recipe's model sees it, or as a trained ``model`` does
    (its own excitation and roll features, whatever the recipe now says)."""
    config = model.config if model is not None else recipe.model
    envelope = recipe.data.onset_envelope_seconds
    if model is not None:
        from synth.music.pianoroll import onset_envelope_of

        envelope = onset_envelope_of(model)
    return AudioSplit(recipe.data.corpus, name, conditioning=recipe.data.conditioning, hop_length=config.hop_length,
                      mel=recipe.mel, max_clips=max_clips, onset_envelope_seconds=envelope,
                      excitation=config.linear_prediction if config.models_excitation else None)


def model_config(recipe: WaveNetRecipe, split: AudioSplit) -> WaveNetConfig:
    """The recipe's WaveNet with the corpus's speakers and conditioning channels filled in."""
    speakers = len(split.manifest.speakers) if recipe.data.speaker_conditioned else 0
    if recipe.data.conditioning != "none" and recipe.model.hop_length != split.hop_length:
        raise InputError(f"upsample_scales give a hop of {recipe.model.hop_length}, the features have {split.hop_length}")
    return dataclasses.replace(recipe.model, n_speakers=speakers, cond_channels=split.cond_channels,
                               sample_rate=split.manifest.sample_rate)


def training_batch(recipe: WaveNetRecipe, split: AudioSplit, generator: torch.Generator,
                   lookahead_frames: int = 0) -> dict:
    """One training batch of random crops, drawn from ``generator`` alone (exact resume), with the
    recipe's input noise when it has some."""
    batch = split.crops(generator, recipe.data.batch_size, recipe.data.crop_samples, lookahead_frames)
    if recipe.data.input_noise:
        batch["input_offsets"] = input_noise_offsets(generator, tuple(batch["audio"].shape), recipe.data.input_noise)
    return batch


def run_train(recipe: WaveNetRecipe, card: Callable[[dict], str]) -> dict:
    if recipe.data.input_noise and recipe.model.output != "mulaw":  # before the corpus is read (the loss refuses too)
        raise InputError(f"data.input_noise is given in mu-law classes; this model's output is {recipe.model.output!r} "
                         f"(set it to 0)")
    torch.set_num_threads(recipe.threads)
    train_split = corpus_split(recipe, "train", recipe.data.max_train_clips or None)
    valid_split = corpus_split(recipe, "valid")
    config = model_config(recipe, train_split)
    torch.manual_seed(recipe.train.seed)
    model = WaveNet(config)
    valid = valid_split.fixed_batches(recipe.data.valid_batches, recipe.data.batch_size, recipe.data.crop_samples,
                                      lookahead_frames=config.cond_lookahead)
    manifest = train_split.manifest
    metadata = {"recipe": config_to_dict(recipe), "features": features_metadata(recipe), "speakers": manifest.speakers,
                "corpus": {"name": manifest.name, "licence": manifest.licence, "train_seconds": round(train_split.seconds, 1)},
                "hardware": describe_machine()}
    return train(model, loss=wavenet_batch_loss,
                 batch=lambda g: training_batch(recipe, train_split, g, config.cond_lookahead),
                 valid_batches=valid, config=recipe.train, out_dir=recipe.out_dir, metadata=metadata,
                 card=lambda record: card({"record": record, "metrics": read_metrics(recipe)}),
                 tensorboard_dir=Path(recipe.runs_dir) / recipe.name,
                 units_per_batch=recipe.data.batch_size * recipe.data.crop_samples)


def read_metrics(recipe: WaveNetRecipe) -> dict:
    path = Path(recipe.out_dir) / METRICS
    return json.loads(path.read_text()) if path.is_file() else {}


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
        "hardware": facts.get("hardware") or describe_machine(), "uniform_bits": round(math.log2(config.n_classes), 3),
    }


def has_training_state(recipe: WaveNetRecipe) -> bool:
    return (Path(recipe.out_dir) / TRAINING_STATE).is_file()


def model_card(recipe: WaveNetRecipe, facts: dict, *, title: str, summary: str, data: str, sound: str, command: str,
               training_note: str = "") -> str:
    """The model card of a WaveNet recipe: the recipe's words around the measured numbers."""
    f = card_facts(recipe, facts)
    c = recipe.model
    resynthesis = "".join(f"\n  - {k}: {v}" for k, v in f["resynthesis"].items()) or " not measured (not a vocoder)"
    judged = facts.get("metrics", {}).get("judges", {})
    tables = "\n\n".join(t["markdown"] + f"\n\n{t.get('note', '')}; generation {t.get('generation_seconds', '?')} s"
                         if "markdown" in t else f"**{name}**: {t.get('skipped', '')}" for name, t in judged.items())
    if tables:
        resynthesis += ("\n\n### Free-running resynthesis judged offline (word error rate: pocketsphinx en-us; "
                        "DNSMOS: Microsoft's model via speechmos)\n\n" + tables)
    babble = facts.get("metrics", {}).get("babble", {})
    if babble.get("markdown"):
        resynthesis += ("\n\n### Free-running samples judged offline (DNSMOS: Microsoft's model via speechmos)\n\n"
                        + babble["markdown"] + f"\n\n{babble.get('note', '')}; generation "
                        f"{babble.get('generation_seconds', '?')} s")
    piano, playback = facts.get("metrics", {}).get("piano", {}), ""
    if piano.get("markdown"):
        playback = "\n\n### Free-running playback judged offline\n\n" + piano["markdown"] + "\n\n" + piano.get("note", "")
    modelled = facts.get("metrics", {}).get("models")
    measured_at = facts.get("metrics", {}).get("step")
    stale = (f"**Measured at step {measured_at}; the weights here are at step {f['step']} and have not been "
             f"re-evaluated yet** (the validation figure is the current one).\n" if measured_at not in (None, f["step"]) else "")
    sampling = facts.get("sampling") or {}
    if sampling:
        candidates = sampling.get("candidates", {})
        keys = [k for k in SAMPLING_MEASURES if all(k in v for v in candidates.values())] if candidates else []
        rows = "\n".join(f"| {t} | " + " | ".join(f"{v[k]:.2f}" for k in keys) + " |" for t, v in candidates.items())
        how = (f"the highest {sampling['measure']}" if sampling.get("measure") else "the judges' mean rank")
        judged = "samples" if sampling.get("measure", "").startswith("babble") else "validation clips"
        sampling = (f"\n\n## Sampling\nTemperature **{sampling['temperature']:g}**, chosen by {how} on "
                    f"{sampling.get('clips', '?')} {judged} ({', '.join(sampling.get('chosen_on', []))}; "
                    "`--stage temperature`), free-running:\n\n| temperature | "
                    + " | ".join(SAMPLING_MEASURES[k] for k in keys) + " |\n| ---: |" + " ---: |" * len(keys) + f"\n{rows}")
    else:
        sampling = ""
    noise = (f", noise injection (the inputs, not the targets, off by rounded Gaussian noise of up to "
             f"{recipe.data.input_noise:g} mu-law classes' standard deviation)" if recipe.data.input_noise else "")
    conditioning = recipe.data.conditioning + (", speaker embedding" if recipe.data.speaker_conditioned else "")
    if recipe.data.onset_envelope_seconds:
        conditioning += f", with the onset envelope (decay {recipe.data.onset_envelope_seconds:g} s)"
    return f"""# {title}

{summary}

## Model
WaveNet, {f['layers']} layers (dilations up to {max(c.dilations)}), kernel {c.kernel_size},
{c.residual_channels} residual / {c.gate_channels} gate / {c.skip_channels} skip channels, receptive field
{c.receptive_field} samples ({f['receptive_ms']} ms), {c.n_classes}-class mu-law output, {c.sample_rate} Hz.
Conditioning: {conditioning}.

## Data and licence
{data}

## Training
- {f['step']} of {f['steps']} steps, batch {recipe.data.batch_size} x {recipe.data.crop_samples}-sample random crops,
  AdamW (lr {recipe.train.learning_rate}, warm-up {recipe.train.warmup_steps}, cosine), clip {recipe.train.grad_clip},
  EMA {recipe.train.ema_decay or 'off'}{noise}.
- Wall time {f['wall_seconds']} s ({f['wall_hours']} h) on {f['hardware']}, shared with other work.
- Throughput: {f['throughput']} training samples/s at the last evaluation.
{training_note}

## Held-out metrics (bits per sample over the 256 mu-law classes; lower is better)
{stale}- Validation (fixed crops): {f['valid_bits']} bits/sample.
- Test ({f['test_clips']} whole clips, {f['test_seconds']} s): **{f['test_bits']}** bits/sample; baselines on the
  same audio: mu-law marginal entropy {f['marginal_bits']}, 16th-order linear prediction {f['lpc_bits']},
  uniform {f['uniform_bits']}.{f' Measured on what the network predicts: {modelled}.' if modelled else ''}
- Resynthesis of held-out clips from their features:{resynthesis}{playback}{sampling}

## How it sounds
{sound}

## Reproduce
`{command}` (resumes from `training_state.safetensors` in this folder; then `--stage evaluate` and `--stage sample`).
"""


def run_bench(recipe: WaveNetRecipe, steps: int = 20, warmup: int = 3, max_train_clips: int = 60,
              log: Callable[[str], None] = print) -> list[dict]:
    """Training samples per second of the recipe's model on the recipe's data: each precision
    (float32, bfloat16 autocast) and thread count (1, and the recipe's), on real crops, with the
    trainer's own step (``synth.training_speed.training_speed``). Run it on a quiet machine."""
    from synth.training_speed import training_speed

    train_split = corpus_split(recipe, "train", max_train_clips)
    config = model_config(recipe, train_split)
    generator = torch.Generator().manual_seed(0)
    batches = [train_split.crops(generator, recipe.data.batch_size, recipe.data.crop_samples, config.cond_lookahead)
               for _ in range(steps + warmup)]
    results = training_speed(lambda: WaveNet(config), wavenet_batch_loss, batches, recipe.train,
                             recipe.data.batch_size * recipe.data.crop_samples, sorted({1, recipe.threads}),
                             warmup=warmup, unit="samples", log=log)
    log(f"machine: {describe_machine()}")
    return results
