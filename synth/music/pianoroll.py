"""Piano rolls, in the two forms synth uses.

1. ``conditioning_roll``: the piano WaveNet's local conditioning, defined here and only here.
   For a PrettyMIDI and a hop of ``hop_length`` samples at ``sample_rate`` it gives an array
   (n_frames, 176) float32:

     columns   0..87   key held in the frame: velocity / 127 (MIDI keys 21..108, A0..C8),
                       with the sustain pedal (CC 64 >= 64) holding released keys until it lifts;
     columns  88..175  key struck (note onset) in the frame: velocity / 127.

   Frame t covers samples [t * hop, (t + 1) * hop); n samples give ceil(n / hop) frames. A note
   from sample s0 to s1 (exclusive) is held in every frame that overlaps [s0, s1), and its onset
   is in frame s0 // hop. Where notes overlap on one key the louder velocity wins. Notes outside
   the piano's range and drum tracks are left out. A user's MIDI at generation time goes through
   this same function, so training and generation can never disagree.

   With ``onset_envelope_seconds`` > 0 it gives (n_frames, 264): 88 more columns (176..263), the
   time since each held key was struck, as exp(-age / onset_envelope_seconds) (1 in the onset's
   frame, 0 where the key is not held; ``with_onset_envelope``). A WaveNet whose receptive field
   is a tenth of a second cannot hear how long ago a note began; these columns tell it. A stored
   176-column roll gets them from ``with_onset_envelope``, so corpora need no rebuilding.

   ``synth.models.key_sines`` turns the held-key columns into sines at the keys' harmonics, sample
   by sample: the extra input of a piano WaveNet with ``key_harmonics`` (its source signal).

2. ``PianoRoll``: a binary roll on a musical grid (``steps_per_quarter`` frames per quarter
   note, 88 keys) for the composer, as in the JSB Chorales benchmark (Boulanger-Lewandowski et
   al. 2012), which samples at quarter notes: a key is on in frame t when a note sounds at the
   grid point t / steps_per_quarter quarters. Notes shorter than the grid that cover no grid
   point vanish; repeated notes merge into one held note (the benchmark's convention).
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pretty_midi

from synth.errors import InputError

from synth.models.key_sines import LOWEST_KEY, N_KEYS  # the keyboard, defined once (the sines read it too)

HIGHEST_KEY = LOWEST_KEY + N_KEYS - 1  # C8 = 108
SUSTAIN_PEDAL = 64
CONDITIONING_CHANNELS = 2 * N_KEYS
DEFAULT_SAMPLE_RATE = 16000
DEFAULT_HOP_LENGTH = 256  # 62.5 frames per second at 16 kHz


#: Seconds a piano model plays on after the last note ends, so that the strings can ring.
RELEASE_SECONDS = 0.5


def piece_seconds(midi: pretty_midi.PrettyMIDI, release_seconds: float = RELEASE_SECONDS) -> float:
    """How long the piece sounds (sustain pedal included) plus ``release_seconds``."""
    ends = [end for inst in midi.instruments if not inst.is_drum for _, _, end, _ in sustained_notes(inst)]
    return max(ends, default=0.0) + release_seconds


def conditioning_channels(onset_envelope_seconds: float = 0.0) -> int:
    """Columns of ``conditioning_roll``: 176, or 264 with the onset envelope."""
    return CONDITIONING_CHANNELS + (N_KEYS if onset_envelope_seconds > 0 else 0)


def onset_envelope_of(model) -> float:
    """The onset envelope's decay (seconds) a piano model was trained with, from the features in
    its checkpoint's metadata (0: the 176-column roll alone)."""
    return float(getattr(model, "metadata", {}).get("features", {}).get("onset_envelope_seconds") or 0.0)


def conditioning_frames(n_samples: int, hop_length: int = DEFAULT_HOP_LENGTH) -> int:
    """Frames of conditioning for ``n_samples`` samples: ceil(n_samples / hop_length)."""
    return -(-int(n_samples) // int(hop_length))


def _pedal_intervals(instrument: pretty_midi.Instrument) -> list[tuple[float, float]]:
    """(down, up) times of the sustain pedal; a pedal still down at the end stays down forever."""
    intervals, down = [], None
    for cc in sorted((c for c in instrument.control_changes if c.number == SUSTAIN_PEDAL), key=lambda c: c.time):
        if cc.value >= 64 and down is None:
            down = cc.time
        elif cc.value < 64 and down is not None:
            intervals.append((down, cc.time))
            down = None
    if down is not None:
        intervals.append((down, math.inf))
    return intervals


def sustained_notes(instrument: pretty_midi.Instrument) -> list[tuple[int, float, float, int]]:
    """(pitch, start, end, velocity) with the sustain pedal applied: a key released while the
    pedal is down sounds on until the pedal lifts, or until the same key is struck again."""
    pedal = _pedal_intervals(instrument)
    notes = sorted(instrument.notes, key=lambda n: (n.pitch, n.start))
    out = []
    for i, note in enumerate(notes):
        end = note.end
        for down, up in pedal:
            if down <= note.end < up:
                end = up
                break
        following = notes[i + 1] if i + 1 < len(notes) and notes[i + 1].pitch == note.pitch else None
        if following is not None and following.start >= note.start:
            end = min(end, max(note.end, following.start))
        if math.isinf(end):
            end = max(note.end, instrument.get_end_time())
        out.append((note.pitch, note.start, end, note.velocity))
    return out


def conditioning_roll(midi: pretty_midi.PrettyMIDI, n_samples: int | None = None, *,
                      sample_rate: int = DEFAULT_SAMPLE_RATE, hop_length: int = DEFAULT_HOP_LENGTH,
                      onset_envelope_seconds: float = 0.0) -> np.ndarray:
    """The piano WaveNet's conditioning (n_frames, 176) float32 for ``midi`` (see the module doc);
    (n_frames, 264) with the onset envelope.

    n_samples: length of the audio it is aligned to; by default the MIDI's end (pedal included).
    """
    if hop_length < 1 or sample_rate < 1:
        raise InputError(f"hop_length and sample_rate must be positive, got {hop_length} and {sample_rate}")
    notes = [n for inst in midi.instruments if not inst.is_drum for n in sustained_notes(inst)]
    if n_samples is None:
        n_samples = math.ceil(max([end for _, _, end, _ in notes], default=0.0) * sample_rate)
    n_frames = conditioning_frames(n_samples, hop_length)
    roll = np.zeros((n_frames, CONDITIONING_CHANNELS), dtype=np.float32)  # (F, 176)
    for pitch, start, end, velocity in notes:
        if not LOWEST_KEY <= pitch <= HIGHEST_KEY:
            continue
        key, level = pitch - LOWEST_KEY, velocity / 127.0
        first_sample = round(start * sample_rate)
        last_sample = max(first_sample + 1, round(end * sample_rate))  # exclusive; every note sounds >= 1 sample
        first, stop = first_sample // hop_length, min(n_frames, conditioning_frames(last_sample, hop_length))
        if first >= n_frames:
            continue
        held = roll[first:stop, key]
        np.maximum(held, level, out=held)
        roll[first, N_KEYS + key] = max(roll[first, N_KEYS + key], level)
    if onset_envelope_seconds > 0:
        return with_onset_envelope(roll, onset_envelope_seconds, sample_rate=sample_rate, hop_length=hop_length)
    return roll


def with_onset_envelope(roll: np.ndarray, decay_seconds: float, *, sample_rate: int = DEFAULT_SAMPLE_RATE,
                        hop_length: int = DEFAULT_HOP_LENGTH) -> np.ndarray:
    """A 176-column conditioning roll (F, 176) with the onset envelope appended: (F, 264) float32.

    Column 176 + k is exp(-age / decay_seconds) while key k is held, where age is the time from the
    start of the frame of its latest onset (or, where a held run shows no onset, of the run's first
    frame) to the start of this frame; 0 where the key is not held. Frame by frame from the start,
    so a roll cut at frame f gives the first f rows of the whole roll's envelope.
    """
    if roll.ndim != 2 or roll.shape[1] != CONDITIONING_CHANNELS:
        raise InputError(f"an onset envelope is added to a ({CONDITIONING_CHANNELS}-column) conditioning roll, "
                         f"got shape {roll.shape}")
    if not decay_seconds > 0:
        raise InputError(f"the onset envelope's decay must be more than 0 seconds, got {decay_seconds}")
    held, struck = roll[:, :N_KEYS] > 0, roll[:, N_KEYS:] > 0  # (F, 88) each
    decay_per_frame = math.exp(-hop_length / sample_rate / decay_seconds)
    envelope = np.zeros((roll.shape[0], N_KEYS), dtype=np.float32)  # (F, 88)
    level, was_held = np.zeros(N_KEYS), np.zeros(N_KEYS, dtype=bool)
    for t in range(roll.shape[0]):
        restart = struck[t] | (held[t] & ~was_held)
        level = np.where(restart, 1.0, level * decay_per_frame)
        envelope[t] = np.where(held[t], level, 0.0)
        was_held = held[t]
    return np.concatenate([roll, envelope], axis=1)  # (F, 264)


@dataclasses.dataclass
class PianoRoll:
    """A binary piano roll on a musical grid: ``keys`` (T, 88) uint8, frame t at quarter note
    t / steps_per_quarter, column k = MIDI key 21 + k."""

    keys: np.ndarray
    steps_per_quarter: int = 1

    def __post_init__(self):
        self.keys = np.asarray(self.keys, dtype=np.uint8)
        assert self.keys.ndim == 2 and self.keys.shape[1] == N_KEYS, self.keys.shape

    def __len__(self) -> int:
        return self.keys.shape[0]

    @classmethod
    def from_notes(cls, notes, steps_per_quarter: int = 1, n_steps: int | None = None) -> "PianoRoll":
        """From (pitch, start_quarters, end_quarters) notes, sampled on the grid."""
        notes = [(int(p), float(s), float(e)) for p, s, e, *_ in notes]
        end = max((e for _, _, e in notes), default=0.0)
        eps = 1e-3  # a note starting a hair before a grid point still covers it
        if n_steps is None:
            n_steps = math.ceil(end * steps_per_quarter - eps)
        keys = np.zeros((max(0, n_steps), N_KEYS), dtype=np.uint8)
        for pitch, start, stop in notes:
            if LOWEST_KEY <= pitch <= HIGHEST_KEY:
                first = math.ceil(start * steps_per_quarter - eps)
                last = math.ceil(stop * steps_per_quarter - eps)
                keys[max(0, first):max(0, last), pitch - LOWEST_KEY] = 1
        return cls(keys, steps_per_quarter)

    @classmethod
    def from_midi(cls, midi: pretty_midi.PrettyMIDI, steps_per_quarter: int = 4) -> "PianoRoll":
        """From a PrettyMIDI, by its own beat grid (ticks / resolution = quarters; tempo changes
        are followed). Drum tracks are left out."""
        quarters = lambda seconds: midi.time_to_tick(seconds) / midi.resolution  # noqa: E731
        notes = [(n.pitch, quarters(n.start), quarters(n.end)) for inst in midi.instruments
                 if not inst.is_drum for n in inst.notes]
        return cls.from_notes(notes, steps_per_quarter)

    def notes(self) -> list[tuple[int, int, int]]:
        """(pitch, first_step, end_step) of every run of on-frames, in time order."""
        padded = np.pad(self.keys.astype(np.int8), ((1, 1), (0, 0)))
        change = np.diff(padded, axis=0)  # (T + 1, 88): +1 at an onset, -1 after the last frame
        out = []
        for key in range(N_KEYS):
            starts, ends = np.flatnonzero(change[:, key] == 1), np.flatnonzero(change[:, key] == -1)
            out.extend((LOWEST_KEY + key, int(s), int(e)) for s, e in zip(starts, ends))
        return sorted(out, key=lambda n: (n[1], n[0]))

    def to_midi(self, tempo_bpm: float = 100.0, velocity: int = 80, accent: int = 12,
                beats_per_bar: int = 4) -> pretty_midi.PrettyMIDI:
        """A piano MIDI at ``tempo_bpm``; notes on a bar's first beat are ``accent`` louder,
        notes off the beat ``accent`` / 2 softer (a plain metric accent, not a performance)."""
        from synth.music.midi import piano_midi

        if not 10 <= tempo_bpm <= 400:
            raise InputError(f"tempo must be from 10 to 400 beats per minute, got {tempo_bpm}")
        step_seconds = 60.0 / (tempo_bpm * self.steps_per_quarter)
        bar_steps = beats_per_bar * self.steps_per_quarter
        notes = []
        for pitch, first, end in self.notes():
            level = velocity + (accent if first % bar_steps == 0 else
                                0 if first % self.steps_per_quarter == 0 else -accent // 2)
            notes.append((pitch, first * step_seconds, end * step_seconds, max(1, min(127, level))))
        return piano_midi(notes, tempo_bpm=tempo_bpm)

    def transpose(self, semitones: int) -> "PianoRoll":
        """Shifted by ``semitones``; keys pushed off either end of the keyboard are dropped."""
        keys = np.zeros_like(self.keys)
        if semitones >= 0:
            keys[:, semitones:] = self.keys[:, :N_KEYS - semitones]
        else:
            keys[:, :semitones] = self.keys[:, -semitones:]
        return PianoRoll(keys, self.steps_per_quarter)
