"""Piano: ``note_onset_f1`` scores Spotify's basic-pitch transcription (Bittner et al., ICASSP 2022;
its ONNX model runs on onnxruntime) with ``mir_eval`` against the MIDI that was played (pitch
exact, 50 ms onset tolerance, offsets ignored); the pieces a renderer is judged on, and the table
of renderers by piece."""
from __future__ import annotations

import dataclasses
import functools
import warnings
from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.judges.runtime import at_rate, onnx_session, require_package

#: mir_eval's note matching: onsets within 50 ms, pitch within 50 cents (i.e. the same MIDI key).
ONSET_TOLERANCE_SECONDS = 0.05
PITCH_TOLERANCE_CENTS = 50.0


@functools.lru_cache(maxsize=1)
def _basic_pitch_model():
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # basic_pitch warns at import that TensorFlow, CoreML and TFLite are absent
    try:
        require_package("basic_pitch")
    finally:
        root.setLevel(level)
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    from basic_pitch.inference import Model

    path = build_icassp_2022_model_path(FilenameSuffix.onnx)
    model = object.__new__(Model)  # Model(path) builds its session on every core
    model.model_type = Model.MODEL_TYPES.ONNX
    model.model = onnx_session(path)
    return model


def transcribe_notes(audio, rate: int, onset_threshold: float = 0.5, frame_threshold: float = 0.3,
                     minimum_note_milliseconds: float = 127.70) -> list[tuple[float, float, int, float]]:
    """basic-pitch's notes (start_seconds, end_seconds, midi_pitch, amplitude) for the audio, with the
    defaults of its ``predict`` (its inference, windowing and note decoding, on an array instead of a file)."""
    _basic_pitch_model()
    from basic_pitch import note_creation
    from basic_pitch.constants import AUDIO_N_SAMPLES, AUDIO_SAMPLE_RATE, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    samples = at_rate(audio, rate, AUDIO_SAMPLE_RATE)  # 22050 Hz, as librosa.load gives it there
    n_overlapping_frames = 30  # as basic_pitch.inference.run_inference
    overlap = n_overlapping_frames * FFT_HOP
    padded = np.concatenate([np.zeros(overlap // 2, dtype=np.float32), samples])
    model = _basic_pitch_model()
    outputs: dict[str, list] = {"note": [], "onset": [], "contour": []}
    for window, _ in window_audio_file(padded, AUDIO_N_SAMPLES - overlap):
        for key, value in model.predict(window[np.newaxis].astype(np.float32)).items():  # (1, AUDIO_N_SAMPLES, 1)
            outputs[key].append(value)
    model_output = {k: unwrap_output(np.concatenate(v), len(samples), n_overlapping_frames) for k, v in outputs.items()}
    _, events = note_creation.model_output_to_notes(
        model_output, onset_thresh=onset_threshold, frame_thresh=frame_threshold,
        min_note_len=int(np.round(minimum_note_milliseconds / 1000 * (AUDIO_SAMPLE_RATE / FFT_HOP))),
        min_freq=None, max_freq=None, multiple_pitch_bends=False, melodia_trick=True)
    return sorted((float(s), float(e), int(p), float(a)) for s, e, p, a, _ in events)


def _reference_notes(midi) -> list[tuple[float, float, int]]:
    import pretty_midi

    if isinstance(midi, (str, Path, bytes, bytearray)):
        from synth.music.midi import read_midi

        midi = read_midi(midi)
    if isinstance(midi, pretty_midi.PrettyMIDI):
        return [(n.start, n.end, n.pitch) for inst in midi.instruments if not inst.is_drum for n in inst.notes]
    notes = [(float(s), float(e), int(p)) for s, e, p, *_ in midi]
    return notes


def note_onset_f1(audio, rate: int, midi) -> dict[str, float]:
    """Note-level precision / recall / F1 of basic-pitch's transcription of ``audio`` against the
    notes that were played: ``midi`` is a MIDI path or bytes, a PrettyMIDI, or (start, end, pitch, ...)
    tuples. A note matches when its pitch is the same key (within 50 cents) and its onset within
    50 ms; offsets are ignored (mir_eval.transcription, offset_ratio=None)."""
    mir_eval = require_package("mir_eval")
    import pretty_midi

    reference = _reference_notes(midi)
    if not reference:
        raise InputError("note_onset_f1: the reference holds no notes")
    estimated = transcribe_notes(audio, rate)

    def arrays(notes):
        # mir_eval wants strictly positive durations; a zero-length MIDI note still has its onset
        intervals = np.array([[s, max(e, s + 1e-3)] for s, e, *_ in notes], dtype=float).reshape(-1, 2)
        pitches_hz = np.array([pretty_midi.note_number_to_hz(n[2]) for n in notes], dtype=float)
        return intervals, pitches_hz

    ref_intervals, ref_pitches = arrays(reference)
    est_intervals, est_pitches = arrays(estimated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns when nothing was transcribed: that is the score 0
        precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=ONSET_TOLERANCE_SECONDS,
            pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None)
        matched = mir_eval.transcription.match_notes(
            ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=ONSET_TOLERANCE_SECONDS,
            pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None) if reference and estimated else []
    unmatched = sorted(set(range(len(estimated))) - {j for _, j in matched})
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "reference_notes": len(reference), "transcribed_notes": len(estimated),
            **extra_note_kinds(reference, [estimated[j] for j in unmatched])}


#: Intervals above a sounding note at which a transcriber hears a strong harmonic as a note of its
#: own: the octave, the twelfth (octave + fifth) and two octaves (harmonics 2, 3 and 4).
HARMONIC_INTERVALS = (12, 19, 24)


def extra_note_kinds(reference, extra) -> dict[str, int]:
    """Why transcribed notes matched nothing that was played (what lowers precision), each
    ``extra`` note (start, end, pitch, ...) counted once, in this order: ``extra_restruck`` -- its key
    was being held at that moment (a held note's loudness wavered, so it was heard struck again);
    ``extra_harmonic`` -- it lies an octave, a twelfth or two octaves above a note sounding then (a
    harmonic loud enough to be heard as a note); ``extra_other`` -- anything else."""
    counts = {"extra_restruck": 0, "extra_harmonic": 0, "extra_other": 0}
    for start, _, pitch, *_ in extra:
        sounding = [(p, s, e) for s, e, p, *_ in reference if s - ONSET_TOLERANCE_SECONDS <= start < e]
        if any(p == pitch for p, _, _ in sounding):
            counts["extra_restruck"] += 1
        elif any(pitch - p in HARMONIC_INTERVALS for p, _, _ in sounding):
            counts["extra_harmonic"] += 1
        else:
            counts["extra_other"] += 1
    return counts


@dataclasses.dataclass
class EvaluationPiece:
    name: str
    midi: object             # pretty_midi.PrettyMIDI, every part on the piano
    source: str
    licence: str


def piano_evaluation_pieces(examples: str | Path | None = None, max_seconds: float = 30.0,
                            works: tuple[str, ...] | None = None) -> list[EvaluationPiece]:
    """The pieces a piano renderer is judged on: the app's example MIDI files (``examples``, a
    folder of .mid files) and the keyboard works of the piano corpus that its split holds out
    (``synth.corpora.piano.split_of`` == "test"), each cut to its first ``max_seconds``."""
    from synth.corpora import piano
    from synth.music.midi import read_midi
    from synth.music.scores import MUSIC21_LICENCE, piece_name, score_midi

    pieces = []
    if examples is not None:
        for path in sorted(Path(examples).glob("*.mid")):
            pieces.append(EvaluationPiece(path.stem, piano.cut(read_midi(path), max_seconds), str(path),
                                          f"see {Path(examples) / 'README.md'}"))
    works = works if works is not None else tuple(w for w in piano.PIANO_WORKS if piano.split_of(piece_name(w)) == "test")
    for work in works:
        midi, _ = score_midi(work)
        pieces.append(EvaluationPiece(piece_name(work), piano.cut(midi, max_seconds), f"music21 corpus: {work}",
                                      f"{work}: {MUSIC21_LICENCE}"))
    return pieces


def piano_corpus_pieces(corpus: str | Path, limit: int, max_seconds: float = 30.0,
                        split: str = "test") -> list[EvaluationPiece]:
    """Up to ``limit`` pieces of a piano corpus's ``split`` (``synth.corpora.piano``), read from
    the MIDI it keeps of each (``midi/<piece>.mid``; pieces without one are passed over), each cut
    to its first ``max_seconds``."""
    from synth.corpora import piano
    from synth.corpora.manifest import read_manifest
    from synth.music.midi import read_midi

    corpus = Path(corpus)
    manifest = read_manifest(corpus)
    pieces = []
    for entry in manifest.split(split):
        path = corpus / "midi" / f"{Path(entry.path).stem}.mid"
        if len(pieces) >= limit:
            break
        if path.is_file():
            pieces.append(EvaluationPiece(path.stem, piano.cut(read_midi(path), max_seconds), entry.source or str(path),
                                          manifest.licence))
    return pieces


def piano_table(rows: dict[str, list], pieces: list, rate: int) -> dict:
    """Note-onset precision / recall / F1 of each row's audio of the pieces (rows: {"FluidSynth":
    [audio per piece], "WaveNet": [...]}), per piece and the mean over pieces."""
    table = {}
    for name, clips in rows.items():
        if len(clips) != len(pieces):
            raise InputError(f"piano_table: row {name!r} has {len(clips)} renderings for {len(pieces)} pieces")
        per_piece = {piece.name: note_onset_f1(audio, rate, piece.midi) for piece, audio in zip(pieces, clips)}
        table[name] = {"pieces": per_piece, **{k: float(np.mean([s[k] for s in per_piece.values()]))
                                               for k in ("precision", "recall", "f1")},
                       **{k: int(sum(s[k] for s in per_piece.values()))
                          for k in ("transcribed_notes", "extra_restruck", "extra_harmonic", "extra_other")}}
    return table


def format_piano_table(table: dict) -> str:
    """One markdown table: a row per renderer, note-onset F1 per piece and the mean P / R / F1."""
    names = list(next(iter(table.values()))["pieces"]) if table else []
    lines = ["| | " + " | ".join(f"F1 {n}" for n in names) + " | mean precision | mean recall | mean F1 | "
             "notes heard: restruck / harmonic / other extra |",
             "| --- |" + " ---: |" * (len(names) + 4)]
    for row, scores in table.items():
        cells = [f"{scores['pieces'][n]['f1']:.2f}" for n in names] + [f"{scores[k]:.2f}" for k in ("precision", "recall", "f1")]
        extra = (f"{scores['transcribed_notes']}: {scores['extra_restruck']} / {scores['extra_harmonic']} / "
                 f"{scores['extra_other']}" if "extra_other" in scores else "")
        lines.append(f"| {row} | " + " | ".join(cells + [extra]) + " |")
    return "\n".join(lines)
