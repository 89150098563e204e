"""MIDI played through the piano WaveNet, as a service for the app and the command.

The piano WaveNet is locally conditioned on ``synth.music.pianoroll.conditioning_roll`` (the one
definition, shared with its training corpus); this module computes that roll for a user's MIDI,
bounds the length, and streams the audio as it is generated. ``WaveNetPianoRenderer`` is the
same thing behind the ``Renderer`` protocol of ``synth.music.render`` (name "wavenet").
"""
from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pretty_midi
import torch

from synth.errors import InputError
from synth.music.pianoroll import CONDITIONING_CHANNELS, conditioning_roll

#: Seconds played after the last note ends, so the model can let the strings ring.
RELEASE_SECONDS = 0.5


def check_piano_model(model) -> None:
    features = getattr(model, "metadata", {}).get("features", {})
    kind = features.get("kind")
    if model.config.cond_channels != CONDITIONING_CHANNELS or kind not in (None, "piano_roll"):
        raise InputError(f"this WaveNet is not a piano model (it takes {model.config.cond_channels} conditioning "
                         f"channels of kind {kind!r}; a piano model takes the {CONDITIONING_CHANNELS}-channel piano roll)")


def piece_seconds(midi: pretty_midi.PrettyMIDI) -> float:
    """How long the piece sounds (sustain pedal included) plus the release."""
    from synth.music.pianoroll import sustained_notes

    ends = [end for inst in midi.instruments if not inst.is_drum for _, _, end, _ in sustained_notes(inst)]
    return max(ends, default=0.0) + RELEASE_SECONDS


def midi_frames(model, midi: pretty_midi.PrettyMIDI, max_seconds: float) -> tuple[torch.Tensor, bool]:
    """The model's conditioning (176, F) for the first ``max_seconds`` of ``midi``, and whether the
    piece was cut to fit."""
    check_piano_model(model)
    rate, hop = model.config.sample_rate, model.config.hop_length
    seconds = piece_seconds(midi)
    cut = seconds > max_seconds
    n_samples = math.ceil(min(seconds, max_seconds) * rate)
    roll = conditioning_roll(midi, n_samples, sample_rate=rate, hop_length=hop)  # (F, 176)
    return torch.from_numpy(roll.T.copy()), cut


def play(model, midi: pretty_midi.PrettyMIDI, *, max_seconds: float = 60.0, seed: int | None = 0,
         temperature: float = 1.0, chunk_seconds: float = 0.25,
         progress: Callable[[int, int], None] | None = None) -> Iterator[np.ndarray]:
    """The piece through the piano WaveNet: float32 chunks (t,) in [-1, 1] as they are made. A
    piece longer than ``max_seconds`` is played up to that point (``midi_frames`` says so)."""
    from synth.models.wavenet import generate_waveform
    from synth.sampling.policies import make_policy
    from synth.speech import check_temperature

    check_temperature(temperature)
    frames, _ = midi_frames(model, midi, max_seconds)
    seconds = frames.shape[-1] * model.config.hop_length / model.config.sample_rate
    for chunk in generate_waveform(model, seconds=seconds, frames=frames.unsqueeze(0), seed=seed,
                                   policy=make_policy(temperature=temperature), chunk_seconds=chunk_seconds,
                                   max_seconds=max(seconds, 1.0), progress=progress):
        yield chunk[0].numpy().astype(np.float32)


def roll_picture(midi: pretty_midi.PrettyMIDI, steps_per_quarter: int = 4):
    """The piece as a piano-roll picture (PIL image) on its own beat grid."""
    from synth.music.picture import roll_image
    from synth.music.pianoroll import PianoRoll

    return roll_image(PianoRoll.from_midi(midi, steps_per_quarter), beats_per_bar=4)


class WaveNetPianoRenderer:
    """The piano WaveNet as a ``synth.music.render.Renderer`` (renderer name "wavenet")."""

    name = "wavenet"

    def __init__(self, sample_rate: int = 16000, checkpoint: str | Path | None = None, max_seconds: float = 600.0):
        from synth.bundled import PIANO, bundled_checkpoint, load_cached
        from synth.device import pick_device

        self.model = load_cached(checkpoint or bundled_checkpoint(PIANO), "wavenet", str(pick_device()))
        check_piano_model(self.model)
        self.sample_rate, self.max_seconds = int(sample_rate), max_seconds

    def render(self, midi: pretty_midi.PrettyMIDI, seed: int | None = 0) -> np.ndarray:
        if piece_seconds(midi) > self.max_seconds:
            raise InputError(f"the piece lasts {piece_seconds(midi):.0f} s; the piano WaveNet plays at most "
                             f"{self.max_seconds:g} s")
        audio = np.concatenate(list(play(self.model, midi, max_seconds=self.max_seconds, seed=seed)))
        rate = self.model.config.sample_rate
        if rate != self.sample_rate:
            import librosa

            audio = librosa.resample(audio, orig_sr=rate, target_sr=self.sample_rate).astype(np.float32)
        return audio


_fluidsynth_lock = threading.Lock()


def render_fluidsynth(midi: pretty_midi.PrettyMIDI, sample_rate: int = 16000) -> tuple[np.ndarray, int, str]:
    """(audio, sample_rate, SoundFont licence) of the piece through FluidSynth's sampled piano.
    The renderer (one FluidSynth synth, its SoundFont loaded once) is shared, so calls from
    concurrent requests take turns."""
    from synth.music.render import make_renderer

    renderer = make_renderer("fluidsynth", sample_rate)
    with _fluidsynth_lock:
        audio = renderer.render(midi)
    return audio, renderer.sample_rate, renderer.licence
