"""Scores (music21) to MIDI: each work is parsed once, converted by music21's own MIDI
translation, and the MIDI bytes cached (in memory, and on disk when a cache folder is given)."""
from __future__ import annotations

import functools
import re
import warnings
from pathlib import Path

import pretty_midi

from synth.errors import InputError

#: Tempo given to scores that carry none (the chorales mostly do not), in quarter notes per minute.
DEFAULT_TEMPO_BPM = 90.0
MUSIC21_LICENCE = ("music21 corpus (music21 software BSD-3-Clause; the encodings are distributed with the "
                   "permission of their encoders and are out of copyright or licensed for use in the United "
                   "States, some for non-commercial use only: see music21/corpus/license.txt and the licence "
                   "embedded in each work)")


def piece_name(work: str) -> str:
    """A file-name-safe piece name from a corpus path: 'bach/bwv66.6' -> 'bach-bwv66.6'."""
    stem = re.sub(r"\.(mxl|xml|musicxml|krn|abc|mid|midi|rntxt|musx)$", "", str(work), flags=re.I)
    return re.sub(r"[^A-Za-z0-9._-]+", "-", stem.replace("/", "-")).strip("-") or "piece"


def parse_score(work: str):
    """A music21 score from a corpus work ('bach/bwv66.6'), a file path, or 'tinyNotation: ...'."""
    from music21 import converter, corpus

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if work.startswith("tinyNotation:"):
                return converter.parse(work)
            if Path(work).is_file():
                return converter.parse(work)
            return corpus.parse(work)
        except Exception as exc:  # music21 raises many kinds (CorpusException, MusicXMLImportException, ...)
            raise InputError(f"{work}: could not be parsed as a score ({type(exc).__name__}: {exc})") from None


def score_tempo(score) -> float | None:
    """The score's first metronome mark in quarter notes per minute, or None when it has none."""
    from music21 import tempo

    for mark in score.flatten().getElementsByClass(tempo.MetronomeMark):
        bpm = mark.getQuarterBPM()
        if bpm:
            return float(bpm)
    return None


def score_to_midi_bytes(score, tempo_bpm: float | None = None) -> tuple[bytes, float]:
    """(Standard MIDI File bytes, tempo used): ties merged, and ``tempo_bpm`` (or the score's own
    tempo, or DEFAULT_TEMPO_BPM) at the start when the score has no tempo of its own."""
    from music21 import midi as m21midi
    from music21 import tempo

    own = score_tempo(score)
    score = score.stripTies(inPlace=False)
    bpm = own if own is not None and tempo_bpm is None else (tempo_bpm or DEFAULT_TEMPO_BPM)
    if own is None or tempo_bpm is not None:
        for mark in list(score.recurse().getElementsByClass(tempo.MetronomeMark)):
            mark.activeSite.remove(mark)
        score.insert(0, tempo.MetronomeMark(number=bpm))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            data = m21midi.translate.streamToMidiFile(score).writestr()
        except Exception as exc:
            raise InputError(f"the score could not be converted to MIDI ({type(exc).__name__}: {exc})") from None
    return data, bpm


def midi_from_bytes(data: bytes, name: str = "MIDI data") -> pretty_midi.PrettyMIDI:
    from synth.music.midi import read_midi

    midi = read_midi(data, name=name)
    for instrument in midi.instruments:
        if not instrument.is_drum:
            instrument.program = 0  # every part on the piano
    return midi


@functools.lru_cache(maxsize=64)
def _cached_midi_bytes(work: str, tempo_bpm: float | None) -> tuple[bytes, float]:
    return score_to_midi_bytes(parse_score(work), tempo_bpm)


def score_midi(work: str, tempo_bpm: float | None = None, cache_dir: str | Path | None = None) -> tuple[pretty_midi.PrettyMIDI, float]:
    """(PrettyMIDI with every part on the piano, tempo in bpm) for a score. The conversion is
    cached in memory, and as ``cache_dir/<piece>.mid`` when ``cache_dir`` is given (later runs
    then never parse the score again)."""
    cached = Path(cache_dir) / f"{piece_name(work)}.mid" if cache_dir else None
    if cached is not None and cached.is_file():
        midi = midi_from_bytes(cached.read_bytes(), str(cached))
        return midi, float(midi.get_tempo_changes()[1][0])
    data, bpm = _cached_midi_bytes(work, tempo_bpm)
    if cached is not None:
        from synth.checkpoint import atomic_write

        atomic_write(cached, data)
    return midi_from_bytes(data, work), bpm


def score_notes(score) -> list[tuple[int, float, float]]:
    """(midi pitch, start_quarters, end_quarters) of every note and chord tone, ties merged."""
    score = score.stripTies(inPlace=False)
    notes = []
    for element in score.flatten().notes:
        start, end = float(element.offset), float(element.offset + element.quarterLength)
        if end <= start:
            continue  # grace notes
        for pitch in element.pitches:
            notes.append((int(pitch.midi), start, end))
    return notes
