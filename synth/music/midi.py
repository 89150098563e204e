"""Reading MIDI files safely and writing them back (pretty_midi).

A MIDI file is user input: it may be too large, not MIDI at all, truncated, or hold no notes.
``read_midi`` refuses each of these with an ``InputError`` that says what was wrong and what is
allowed, before pretty_midi's own (often cryptic) errors can surface.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

import pretty_midi

from synth.errors import InputError

#: Largest MIDI file accepted (a guard against hostile or mistaken uploads; real pieces are < 1 MB).
MAX_MIDI_BYTES = 4 * 1024 ** 2
#: Longest piece accepted, in seconds.
MAX_MIDI_SECONDS = 60 * 60
PIANO_PROGRAM = 0  # General MIDI 1: Acoustic Grand Piano
ALLOWED = "a Standard MIDI File (.mid/.midi, starting with 'MThd') of at most 4 MB holding at least one note"


def read_midi(source: str | Path | bytes, *, max_bytes: int = MAX_MIDI_BYTES, require_notes: bool = True,
              name: str | None = None) -> pretty_midi.PrettyMIDI:
    """A PrettyMIDI from a path or raw bytes; InputError for anything that is not a usable MIDI file."""
    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "MIDI data"
    else:
        path = Path(source)
        label = name or str(path)
        if not path.is_file():
            raise InputError(f"{label}: no such file; expected {ALLOWED}")
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError(f"{label}: {size:,} bytes is over the {max_bytes:,} byte limit for a MIDI file")
        data = path.read_bytes()
    if len(data) > max_bytes:
        raise InputError(f"{label}: {len(data):,} bytes is over the {max_bytes:,} byte limit for a MIDI file")
    if not data:
        raise InputError(f"{label}: the file is empty (0 bytes); expected {ALLOWED}")
    if data[:4] != b"MThd":
        raise InputError(f"{label}: not a MIDI file (it does not start with 'MThd'); expected {ALLOWED}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pretty_midi warns about odd but harmless meta events
            midi = pretty_midi.PrettyMIDI(io.BytesIO(data))
    except Exception as exc:  # mido raises EOFError, OSError, KeyError, ValueError... for damaged files
        raise InputError(f"{label}: damaged or truncated MIDI file ({type(exc).__name__}: {exc}); "
                         f"expected {ALLOWED}") from None
    n_notes = sum(len(i.notes) for i in midi.instruments if not i.is_drum)
    if require_notes and n_notes == 0:
        raise InputError(f"{label}: the MIDI file holds no (non-drum) notes; expected {ALLOWED}")
    end = midi.get_end_time()
    if end > MAX_MIDI_SECONDS:
        raise InputError(f"{label}: {end:.0f} s is longer than the {MAX_MIDI_SECONDS} s allowed for a MIDI file")
    return midi


def write_midi(midi: pretty_midi.PrettyMIDI, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    midi.write(str(path))
    return path


def piano_midi(notes: list[tuple[int, float, float, int]], *, tempo_bpm: float = 120.0,
               program: int = PIANO_PROGRAM, name: str = "piano") -> pretty_midi.PrettyMIDI:
    """A one-instrument piano PrettyMIDI from (pitch, start_seconds, end_seconds, velocity) notes,
    with ``tempo_bpm`` written as the file's tempo."""
    midi = pretty_midi.PrettyMIDI(initial_tempo=float(tempo_bpm))
    piano = pretty_midi.Instrument(program=program, name=name)
    for pitch, start, end, velocity in sorted(notes, key=lambda n: (n[1], n[0])):
        piano.notes.append(pretty_midi.Note(velocity=int(velocity), pitch=int(pitch), start=float(start), end=float(end)))
    midi.instruments.append(piano)
    return midi
