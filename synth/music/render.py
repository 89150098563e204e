"""Rendering MIDI to audio.

A renderer turns a PrettyMIDI into a mono float32 waveform in [-1, 1] at its ``sample_rate``.
``FluidSynthRenderer`` plays it through a sampled piano SoundFont, and ``render_fluidsynth`` is
the one entry point to the shared one (each synth renders one piece at a time, under its lock).
The piano WaveNet is a renderer too, but a model: it lives in the service layer
(``synth.services.piano.WaveNetPianoRenderer``), which chooses between the two by name.
"""
from __future__ import annotations

import ctypes.util
import functools
import os
import threading
from pathlib import Path
from typing import Callable, Protocol

import numpy as np
import pretty_midi

from synth.errors import InputError
from synth.music.pianoroll import sustained_notes

#: SoundFonts searched in order: the MuseScore General piano (sampled from a Steinway D), then
#: FluidR3_GM, then the small TimGM6mb.sf2 inside pretty_midi's wheel.
SOUND_FONTS = (
    Path("/usr/share/sounds/sf3/MuseScore_General_Full.sf3"),
    Path("/usr/share/sounds/sf3/MuseScore_General.sf3"),
    Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    Path(pretty_midi.__file__).parent / "TimGM6mb.sf2",
)
SOUND_FONT_LICENCES = {
    "MuseScore_General_Full.sf3": "MuseScore General SoundFont by S. Christian Collins, MIT licence "
                                  "(its piano sampled from a Steinway D, public domain); Debian musescore-general-soundfont",
    "MuseScore_General.sf3": "MuseScore General SoundFont by S. Christian Collins, MIT licence; "
                             "Debian musescore-general-soundfont",
    "FluidR3_GM.sf2": "Fluid (R3) General MIDI SoundFont by Frank Wen, MIT licence; Debian fluid-soundfont-gm",
    "TimGM6mb.sf2": "TimGM6mb SoundFont by Tim Brechbill, GPL-2; shipped inside pretty_midi",
}
#: Seconds rendered after the last note ends, so the piano's release and the room decay are kept.
RELEASE_SECONDS = 1.5
MAX_RENDER_SECONDS = 30 * 60


class Renderer(Protocol):
    sample_rate: int
    name: str

    def render(self, midi: pretty_midi.PrettyMIDI) -> np.ndarray:
        """Mono float32 waveform (n_samples,) in [-1, 1]."""


def find_sound_font(preferred: str | Path | None = None) -> Path:
    """The SoundFont to use: ``preferred`` (or $SYNTH_SOUND_FONT) when given, else the first of
    ``SOUND_FONTS`` present."""
    preferred = preferred or os.environ.get("SYNTH_SOUND_FONT")
    if preferred:
        path = Path(preferred)
        if not path.is_file():
            raise InputError(f"{path}: no such SoundFont (.sf2 or .sf3 file)")
        return path
    for path in SOUND_FONTS:
        if path.is_file():
            return path
    raise InputError("no SoundFont found; install Debian musescore-general-soundfont or fluid-soundfont-gm, "
                     f"or set SYNTH_SOUND_FONT (searched: {', '.join(str(p) for p in SOUND_FONTS)})")


def sound_font_licence(path: Path) -> str:
    return SOUND_FONT_LICENCES.get(Path(path).name, f"{Path(path).name}: licence unknown (user-supplied SoundFont)")


def fluidsynth_available() -> str | None:
    """None when FluidSynth can be used, else a sentence saying what is missing."""
    if ctypes.util.find_library("fluidsynth") is None:
        return ("the FluidSynth C library is not installed (Debian package libfluidsynth3); "
                "MIDI cannot be rendered to audio without it")
    try:
        import fluidsynth  # noqa: F401  (PyPI pyfluidsynth)
    except ImportError as exc:
        return f"the Python binding pyfluidsynth could not be imported ({exc}); pip install pyfluidsynth"
    return None


class FluidSynthRenderer:
    """Renders MIDI through FluidSynth. The SoundFont is loaded once (seconds for the sf3) and
    the synth reused for every piece; ``piano_only`` plays every non-drum part on the piano."""

    name = "fluidsynth"

    def __init__(self, sample_rate: int = 16000, sound_font: str | Path | None = None, *, piano_only: bool = True,
                 gain: float = 0.5, reverb: bool = True, release_seconds: float = RELEASE_SECONDS):
        problem = fluidsynth_available()
        if problem is not None:
            raise InputError(problem)
        import fluidsynth

        self.sample_rate, self.piano_only, self.release_seconds = int(sample_rate), piano_only, release_seconds
        self.sound_font = find_sound_font(sound_font)
        self.licence = sound_font_licence(self.sound_font)
        # One FluidSynth synth holds one piece's state: concurrent requests sharing this renderer take turns.
        self._lock = threading.Lock()
        self._synth = fluidsynth.Synth(gain=gain, samplerate=float(sample_rate))
        self._synth.setting("synth.reverb.active", 1 if reverb else 0)
        self._synth.setting("synth.chorus.active", 0)
        self._position = 0  # stereo frames rendered so far
        self._sfid = self._synth.sfload(str(self.sound_font))
        if self._sfid < 0:
            raise InputError(f"{self.sound_font}: FluidSynth could not load this SoundFont")

    def _events(self, midi: pretty_midi.PrettyMIDI) -> list[tuple[float, int, Callable]]:
        """(time, order, action) for every note, pedal and program event, on 15 melodic channels + drums."""
        s, events = self._synth, []
        melodic = [inst for inst in midi.instruments if not inst.is_drum]
        for index, inst in enumerate(midi.instruments):
            channel = 9 if inst.is_drum else [c for c in range(16) if c != 9][melodic.index(inst) % 15]
            program = 0 if (self.piano_only and not inst.is_drum) else inst.program
            events.append((0.0, 0, functools.partial(s.program_select, channel, self._sfid, 128 if inst.is_drum else 0, program)))
            for cc in inst.control_changes:
                events.append((cc.time, 1, functools.partial(s.cc, channel, cc.number, cc.value)))
            for bend in inst.pitch_bends:
                events.append((bend.time, 1, functools.partial(s.pitch_bend, channel, bend.pitch)))
            for note in inst.notes:
                events.append((note.end, 2, functools.partial(s.noteoff, channel, note.pitch)))  # offs before ons
                events.append((note.start, 3, functools.partial(s.noteon, channel, note.pitch, note.velocity)))
        return sorted(events, key=lambda e: (e[0], e[1]))

    def render(self, midi: pretty_midi.PrettyMIDI) -> np.ndarray:
        """Mono float32 (n_samples,), peak-normalised to 0.9 (silence stays silence), lasting to the
        last sounding note (pedal included) plus ``release_seconds``."""
        end = max([end for inst in midi.instruments for _, _, end, _ in sustained_notes(inst)] + [midi.get_end_time()])
        if end > MAX_RENDER_SECONDS:
            raise InputError(f"{end:.0f} s of music is longer than the {MAX_RENDER_SECONDS} s that can be rendered")
        with self._lock:
            return self._render(midi, end)

    def _render(self, midi: pretty_midi.PrettyMIDI, end: float) -> np.ndarray:
        s, rate = self._synth, self.sample_rate
        s.system_reset()
        self._flush()
        n_total = int(np.ceil((end + self.release_seconds) * rate))
        pieces, done = [], 0
        for time, _, action in self._events(midi):
            at = min(n_total, round(time * rate))
            if at > done:
                pieces.append(self._samples(at - done))
                done = at
            action()
        if n_total > done:
            pieces.append(self._samples(n_total - done))
        for channel in range(16):
            s.all_sounds_off(channel)
        stereo = np.concatenate(pieces).astype(np.float32).reshape(-1, 2) / 32768.0 if pieces else np.zeros((0, 2), np.float32)
        mono = stereo.mean(axis=1)
        peak = float(np.abs(mono).max()) if mono.size else 0.0
        return (mono * (0.9 / peak) if peak > 0 else mono).astype(np.float32)

    def _flush(self, max_seconds: float = 20.0) -> None:
        """Run the synth on until the last piece's release and reverb tail have died away, so the
        next piece starts from true silence (system_reset does not clear the effect buffers)."""
        for channel in range(16):
            self._synth.all_sounds_off(channel)
        block = 4096
        for _ in range(int(max_seconds * self.sample_rate / block) + 1):
            if not np.any(self._samples(block)):
                break
        # FluidSynth renders in blocks of 64 samples and applies events at block boundaries: start
        # every piece on a boundary, so the same MIDI always renders to the same samples.
        self._samples(-self._position % 64)

    def _samples(self, n: int) -> np.ndarray:
        """The next n stereo frames (2n interleaved int16 values)."""
        self._position += n
        return self._synth.get_samples(n) if n > 0 else np.zeros(0, dtype=np.int16)

    def close(self) -> None:
        if getattr(self, "_synth", None) is not None:
            self._synth.delete()
            self._synth = None

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


#: Renderer factories by name (``make_renderer``).
RENDERERS: dict[str, Callable[..., Renderer]] = {"fluidsynth": FluidSynthRenderer}


@functools.lru_cache(maxsize=4)
def make_renderer(name: str = "fluidsynth", sample_rate: int = 16000) -> Renderer:
    """A shared renderer (loaded once per process and reused)."""
    if name not in RENDERERS:
        raise InputError(f"unknown renderer {name!r}; available: {sorted(RENDERERS)}")
    return RENDERERS[name](sample_rate=sample_rate)


def render_fluidsynth(midi: pretty_midi.PrettyMIDI, sample_rate: int = 16000) -> tuple[np.ndarray, int, str]:
    """(audio, sample_rate, SoundFont licence) of the piece through the shared FluidSynth renderer
    (its SoundFont loaded once per process; concurrent calls take turns under its lock)."""
    renderer = make_renderer("fluidsynth", sample_rate)
    return renderer.render(midi), renderer.sample_rate, renderer.licence
