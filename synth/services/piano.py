"""The piano: a MIDI file played through the piano WaveNet (streamed), rendered by FluidSynth's
sampled piano for comparison, and drawn as a piano roll.

The piano WaveNet is locally conditioned on ``synth.music.pianoroll.conditioning_roll`` (the one
definition, shared with its training corpus); this module computes that roll for a user's MIDI and
bounds the length. ``WaveNetPianoRenderer`` is the same thing behind the ``Renderer`` protocol of
``synth.music.render``, and ``render_audio`` chooses a renderer by name.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pretty_midi
import torch

from synth.errors import InputError
from synth.music.midi import piano_midi, read_midi
from synth.music.pianoroll import (RELEASE_SECONDS, conditioning_channels, conditioning_roll,  # noqa: F401
                                   onset_envelope_of, piece_seconds)
from synth.music.render import make_renderer, render_fluidsynth  # noqa: F401  (render_fluidsynth: the faces' one entry)
from synth.services import bounds
from synth.services.bounds import COMMAND, Limits
from synth.services.models import load_model
from synth.services.relay import AudioStream, wavenet_stream


def read_piece(path: str | Path, name: str | None = None) -> pretty_midi.PrettyMIDI:
    """A user's MIDI file, refused (InputError) unless it is a usable one; messages call it ``name``
    (default: the file's name, never the server's temporary path)."""
    return read_midi(path, name=name or Path(path).name)


def check_piano_model(model) -> None:
    features = getattr(model, "metadata", {}).get("features", {})
    kind = features.get("kind")
    expected = conditioning_channels(onset_envelope_of(model))
    if model.config.cond_channels != expected or kind not in (None, "piano_roll"):
        raise InputError(f"this WaveNet is not a piano model (it takes {model.config.cond_channels} conditioning "
                         f"channels of kind {kind!r}; a piano model takes the {expected}-channel piano roll)")


def midi_frames(model, midi: pretty_midi.PrettyMIDI, max_seconds: float) -> tuple[torch.Tensor, bool]:
    """The model's conditioning (C, F) for the first ``max_seconds`` of ``midi`` (C = 176, or 264
    with the onset envelope), and whether the piece was cut to fit."""
    check_piano_model(model)
    rate, hop = model.config.sample_rate, model.config.hop_length
    seconds = piece_seconds(midi)
    cut = seconds > max_seconds
    n_samples = math.ceil(min(seconds, max_seconds) * rate)
    roll = conditioning_roll(midi, n_samples, sample_rate=rate, hop_length=hop,
                             onset_envelope_seconds=onset_envelope_of(model))  # (F, C)
    return torch.from_numpy(roll.T.copy()), cut


def _play(model, midi: pretty_midi.PrettyMIDI, max_seconds: float, temperature: float | None, seed: int | None,
          chunk_seconds: float) -> AudioStream:
    frames, cut = midi_frames(model, midi, max_seconds)  # (C, F)
    seconds = frames.shape[-1] * model.config.hop_length / model.config.sample_rate
    return wavenet_stream(model, seconds=seconds, max_seconds=max(seconds, 1.0), frames=frames, temperature=temperature,
                          seed=seed, chunk_seconds=chunk_seconds, cut=cut)


def play(midi: pretty_midi.PrettyMIDI, *, max_seconds: float = 60.0, temperature: float | None = None, seed: int | None = 0,
         limits: Limits = COMMAND, checkpoint: str | Path | None = None, device: str = "auto",
         chunk_seconds: float = 0.25) -> AudioStream:
    """The piece through the piano WaveNet. A piece longer than ``max_seconds`` is played up to that
    point, and the stream's ``cut`` says so. temperature None: the checkpoint's own, chosen by its
    judges (``synth.services.relay.model_policy``)."""
    model = load_model("piano", checkpoint, device)
    max_seconds = bounds.check_seconds(max_seconds, limits.piano_seconds)
    return _play(model, midi, max_seconds, temperature, bounds.check_seed(seed), chunk_seconds)


def roll_picture(midi: pretty_midi.PrettyMIDI, steps_per_quarter: int = 4):
    """The piece as a piano-roll picture (PIL image) on its own beat grid."""
    from synth.music.picture import roll_image
    from synth.music.pianoroll import PianoRoll

    return roll_image(PianoRoll.from_midi(midi, steps_per_quarter), beats_per_bar=4)


class WaveNetPianoRenderer:
    """The piano WaveNet as a ``synth.music.render.Renderer`` (renderer name "wavenet")."""

    name = "wavenet"

    def __init__(self, sample_rate: int = 16000, checkpoint: str | Path | None = None,
                 max_seconds: float = bounds.MAX_GENERATION_SECONDS, device: str = "auto"):
        self.model = load_model("piano", checkpoint, device)
        check_piano_model(self.model)
        self.sample_rate, self.max_seconds = int(sample_rate), max_seconds

    def render(self, midi: pretty_midi.PrettyMIDI, seed: int | None = 0) -> np.ndarray:
        if piece_seconds(midi) > self.max_seconds:
            raise InputError(f"the piece lasts {piece_seconds(midi):.0f} s; the piano WaveNet plays at most "
                             f"{self.max_seconds:g} s")
        audio = _play(self.model, midi, self.max_seconds, 1.0, seed, 0.25).audio()
        rate = self.model.config.sample_rate
        if rate != self.sample_rate:
            import librosa

            audio = librosa.resample(audio, orig_sr=rate, target_sr=self.sample_rate).astype(np.float32)
        return audio


#: The renderers a face can name: FluidSynth's sampled piano, and the piano WaveNet.
RENDERERS = ("fluidsynth", "wavenet")


def render_audio(midi: pretty_midi.PrettyMIDI, renderer: str = "fluidsynth", sample_rate: int = 16000) -> np.ndarray:
    """The piece as mono float32 audio at ``sample_rate`` through a renderer named in ``RENDERERS``."""
    if renderer == "wavenet":
        return WaveNetPianoRenderer(sample_rate=sample_rate).render(midi)
    if renderer not in RENDERERS:
        raise InputError(f"unknown renderer {renderer!r}; available: {', '.join(RENDERERS)}")
    return make_renderer(renderer, sample_rate).render(midi)


def warm_up() -> None:
    """Load FluidSynth's SoundFont (seconds for the sf3) by rendering one short note."""
    render_fluidsynth(piano_midi([(60, 0.0, 0.1, 64)]))
