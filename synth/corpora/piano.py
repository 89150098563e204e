"""Piano corpora for the piano WaveNet: audio with its aligned conditioning roll.

Two sources, one format (``synth.corpora.manifest``; one ``Entry`` per piece with ``roll`` and
``roll_sha256``):

- ``build_score_corpus``: real scores (the music21 corpus: piano works, Bach chorales,
  Palestrina) rendered through a sampled piano with
  FluidSynth at 16 kHz mono, peak-normalised, the release tail kept;
- ``build_maestro_corpus``: the MAESTRO layout (paired recordings and MIDI listed in
  ``maestro-v*.json`` or ``.csv`` with a ``split`` column), resampled to 16 kHz.

Layout: ``wav/<piece>.wav``, ``roll/<piece>.npy`` (``conditioning_roll``: (frames, 176) float32,
frames = ceil(samples / hop)), ``midi/<piece>.mid`` (the MIDI that was rendered),
``manifest.json``, ``LICENCES.md``. Splits are by piece, from a hash of (seed, piece name), so a
piece keeps its split however large the corpus grows. Building is resumable: pieces already in
the manifest, with their files present, are kept and not rendered again.
"""
from __future__ import annotations

import csv
import dataclasses
import json
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pretty_midi

from synth.audio import read_audio, write_audio
from synth.corpora.manifest import Entry, Manifest, read_manifest, sha256_file, write_manifest
from synth.errors import AudioError, InputError
from synth.music.pianoroll import DEFAULT_HOP_LENGTH, conditioning_roll
from synth.music.scores import MUSIC21_LICENCE, piece_name, score_midi
from synth.splits import hash_split

SAMPLE_RATE = 16000
HOP_LENGTH = DEFAULT_HOP_LENGTH
VALID_FRACTION, TEST_FRACTION = 0.05, 0.05
#: Longest stretch of one piece that is rendered (longer movements are cut there).
MAX_PIECE_SECONDS = 5 * 60
#: Keyboard works of the music21 corpus, played as written.
PIANO_WORKS = ("joplin/maple_leaf_rag", "bach/bwv846", "mozart/k545/movement1_exposition", "chopin/mazurka06-2",
               "schumann_clara/polonaise_op1n1", "schumann_clara/polonaise_op1n2", "schumann_clara/polonaise_op1n3",
               "schumann_clara/polonaise_op1n4", "cpebach/h186")
MAESTRO_LICENCE = ("MAESTRO dataset (Hawthorne et al. 2019), Creative Commons Attribution Non-Commercial "
                   "Share-Alike 4.0 (CC BY-NC-SA 4.0)")


def split_of(name: str, seed: int = 0, valid_fraction: float = VALID_FRACTION, test_fraction: float = TEST_FRACTION) -> str:
    """train / valid / test for a piece, fixed by (seed, name) alone: ``synth.splits.hash_split``."""
    return hash_split(name, seed, valid_fraction, test_fraction)


@dataclasses.dataclass
class PieceSource:
    """One piece to put in a corpus: ``load()`` gives its MIDI (and the tempo used, or None)."""

    name: str
    source: str
    licence: str
    load: Callable[[], tuple[pretty_midi.PrettyMIDI, float | None]]


def music21_sources(works: Iterable[str], *, tempo_bpm: float | None = None, cache_dir: Path | None = None) -> Iterator[PieceSource]:
    for work in works:
        yield PieceSource(piece_name(work), f"music21 corpus: {work}", f"{work}: {MUSIC21_LICENCE}",
                          lambda work=work: score_midi(work, tempo_bpm, cache_dir))


def midi_folder_sources(folder: str | Path, licence: str = "user-supplied MIDI files") -> Iterator[PieceSource]:
    """Every .mid/.midi file under ``folder`` (sorted); unreadable ones end up in ``skipped``."""
    from synth.music.midi import read_midi

    folder = Path(folder)
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in (".mid", ".midi")):
        name = piece_name(path.relative_to(folder).as_posix())
        yield PieceSource(name, f"MIDI file: {path.relative_to(folder).as_posix()}", licence,
                          lambda path=path: (read_midi(path), None))


def default_works() -> list[str]:
    """The music21 works of the default corpus, interleaved so that any prefix is a mix: each
    round takes a piano work, two chorales and a Palestrina piece (while each list lasts)."""
    from music21 import corpus

    chorales = list(corpus.chorales.Iterator(returnType="filename"))
    palestrina = sorted(str(Path(p).relative_to(Path(corpus.__file__).parent).with_suffix(""))
                        for p in corpus.getComposer("palestrina"))
    groups = [list(PIANO_WORKS), chorales[0::2], chorales[1::2], palestrina]
    works, seen = [], set()
    for round_ in range(max(len(g) for g in groups)):
        for group in groups:
            if round_ < len(group) and group[round_] not in seen:
                seen.add(group[round_])
                works.append(group[round_])
    return works


def cut(midi: pretty_midi.PrettyMIDI, max_seconds: float) -> pretty_midi.PrettyMIDI:
    """Drop notes that start after ``max_seconds`` and end the rest there."""
    for instrument in midi.instruments:
        instrument.notes = [n for n in instrument.notes if n.start < max_seconds]
        for note in instrument.notes:
            note.end = min(note.end, max_seconds)
        instrument.control_changes = [c for c in instrument.control_changes if c.time < max_seconds]
    return midi


def _licences_md(manifest: Manifest) -> str:
    lines = ["# Licences of this corpus", "", manifest.licence, "", "## Pieces", ""]
    lines += [f"- `{e.path}`: {e.source}" for e in manifest.entries]
    return "\n".join(lines) + "\n"


def _open(out_dir: Path, name: str, licence: str) -> Manifest:
    if (out_dir / "manifest.json").is_file():
        manifest = read_manifest(out_dir)
        manifest.entries = [e for e in manifest.entries if (out_dir / e.path).is_file() and (out_dir / e.roll).is_file()]
        manifest.licence = licence
        return manifest
    return Manifest(name=name, sample_rate=SAMPLE_RATE, licence=licence)


def _save(manifest: Manifest, out_dir: Path, extra_stats: dict | None = None) -> None:
    seconds = {s: round(sum(e.seconds for e in manifest.split(s)), 1) for s in ("train", "valid", "test")}
    manifest.stats = {**manifest.stats, **(extra_stats or {}), "pieces": len(manifest.entries),
                      "seconds": seconds, "total_minutes": round(sum(seconds.values()) / 60, 1),
                      "hop_length": HOP_LENGTH, "roll_columns": "0-87 key held (velocity/127, MIDI 21-108, "
                      "sustain applied), 88-175 onset in frame (velocity/127)"}
    write_manifest(manifest, out_dir)
    (out_dir / "LICENCES.md").write_text(_licences_md(manifest), encoding="utf-8")


def _add_piece(manifest: Manifest, out_dir: Path, name: str, source: str, split: str, waveform: np.ndarray,
               midi: pretty_midi.PrettyMIDI, text: str = "") -> Entry:
    wav, roll_path = out_dir / "wav" / f"{name}.wav", out_dir / "roll" / f"{name}.npy"
    write_audio(wav, waveform, SAMPLE_RATE)
    roll = conditioning_roll(midi, len(waveform), sample_rate=SAMPLE_RATE, hop_length=HOP_LENGTH)  # (F, 176)
    roll_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(roll_path, roll)
    entry = Entry(path=f"wav/{name}.wav", sha256=sha256_file(wav), seconds=round(len(waveform) / SAMPLE_RATE, 3),
                  split=split, source=source, roll=f"roll/{name}.npy", roll_sha256=sha256_file(roll_path), text=text)
    manifest.entries.append(entry)
    return entry


def build_score_corpus(out_dir: str | Path, sources: Iterable[PieceSource], *, max_minutes: float = 120.0,
                       renderer=None, seed: int = 0, name: str = "piano-scores",
                       max_piece_seconds: float = MAX_PIECE_SECONDS, log: Callable[[str], None] = print) -> Manifest:
    """Render pieces until the corpus holds ``max_minutes`` of audio (pieces already rendered
    count and are kept). Pieces that cannot be parsed or rendered go to ``skipped``."""
    from tqdm import tqdm

    from synth.music.render import FluidSynthRenderer

    out_dir = Path(out_dir)
    renderer = renderer or FluidSynthRenderer(sample_rate=SAMPLE_RATE)
    licence = (f"Scores: {MUSIC21_LICENCE}. Audio rendered by synth with FluidSynth through "
               f"{getattr(renderer, 'licence', getattr(renderer, 'name', 'a renderer'))}.")
    manifest = _open(out_dir, name, licence)
    done = {Path(e.path).stem for e in manifest.entries}
    manifest.skipped = [s for s in manifest.skipped if s.get("name") not in done]
    skipped_names = {s.get("name") for s in manifest.skipped}
    total = sum(e.seconds for e in manifest.entries)
    with tqdm(total=round(max_minutes * 60), initial=min(round(total), round(max_minutes * 60)), unit="s",
              desc="rendering piano corpus") as bar:
        for piece in sources:
            if total >= max_minutes * 60:
                break
            if piece.name in done or piece.name in skipped_names:
                continue
            try:
                midi, bpm = piece.load()
                midi = cut(midi, max_piece_seconds)
                waveform = renderer.render(midi)
                if waveform.size == 0 or not np.any(waveform):
                    raise InputError("rendered to silence")
            except InputError as exc:
                manifest.skipped.append({"name": piece.name, "source": piece.source, "reason": str(exc)})
                log(f"skipped {piece.name}: {exc}")
                _save(manifest, out_dir)
                continue
            _mkdir(out_dir / "midi")
            midi.write(str(out_dir / "midi" / f"{piece.name}.mid"))
            entry = _add_piece(manifest, out_dir, piece.name, piece.source, split_of(piece.name, seed), waveform, midi,
                               text=f"tempo {bpm:g} bpm" if bpm else "")
            total += entry.seconds
            bar.update(round(entry.seconds))
            _save(manifest, out_dir, {"seed": seed, "max_minutes": max_minutes, "renderer": getattr(renderer, "name", ""),
                                      "sound_font": str(getattr(renderer, "sound_font", ""))})
    _save(manifest, out_dir)
    return manifest


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


MAESTRO_SPLITS = {"train": "train", "validation": "valid", "valid": "valid", "test": "test"}


def read_maestro_index(root: str | Path) -> list[dict]:
    """Rows {midi_filename, audio_filename, split, canonical_title, canonical_composer, duration}
    from ``maestro-v*.json`` (column-oriented, as MAESTRO ships it, or a list of rows) or ``.csv``."""
    root = Path(root)
    found = sorted(root.glob("maestro-v*.json")) or sorted(root.glob("maestro-v*.csv"))
    if not found:
        raise InputError(f"{root}: no maestro-v*.json or maestro-v*.csv index here (the MAESTRO layout)")
    index = found[-1]
    try:
        if index.suffix == ".json":
            body = json.loads(index.read_text(encoding="utf-8"))
            if isinstance(body, dict):  # {column: {row_id: value}}
                row_ids = sorted(next(iter(body.values())).keys(), key=lambda k: int(k) if str(k).isdigit() else k)
                rows = [{column: values.get(r) for column, values in body.items()} for r in row_ids]
            else:
                rows = list(body)
        else:
            with open(index, newline="", encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error, AttributeError, StopIteration) as exc:
        raise InputError(f"{index}: not a readable MAESTRO index ({exc})") from None
    for row in rows:
        missing = [k for k in ("midi_filename", "audio_filename", "split") if not row.get(k)]
        if missing:
            raise InputError(f"{index}: a row lacks {missing}; each row needs midi_filename, audio_filename, split")
        if row["split"] not in MAESTRO_SPLITS:
            raise InputError(f"{index}: split {row['split']!r}; allowed: {sorted(MAESTRO_SPLITS)}")
    return rows


def build_maestro_corpus(root: str | Path, out_dir: str | Path, *, max_minutes: float | None = None,
                         name: str = "maestro", log: Callable[[str], None] = print) -> Manifest:
    """A corpus from the MAESTRO layout: each recording resampled to 16 kHz mono, its roll
    computed from the paired MIDI; MAESTRO's own split kept (validation -> valid)."""
    from tqdm import tqdm

    from synth.music.midi import read_midi

    root, out_dir = Path(root), Path(out_dir)
    rows = read_maestro_index(root)
    manifest = _open(out_dir, name, MAESTRO_LICENCE)
    done = {Path(e.path).stem for e in manifest.entries}
    manifest.skipped = []
    total = sum(e.seconds for e in manifest.entries)
    for row in tqdm(rows, desc="MAESTRO", unit="piece"):
        if max_minutes is not None and total >= max_minutes * 60:
            break
        piece = piece_name(Path(row["audio_filename"]).with_suffix("").as_posix())
        if piece in done:
            continue
        source = f"MAESTRO: {row['audio_filename']} ({row.get('canonical_composer', '')}: {row.get('canonical_title', '')})"
        try:
            waveform, _ = read_audio(root / row["audio_filename"], SAMPLE_RATE)
            midi = read_midi(root / row["midi_filename"])
        except (InputError, AudioError) as exc:
            manifest.skipped.append({"name": piece, "source": source, "reason": str(exc)})
            log(f"skipped {piece}: {exc}")
            continue
        peak = float(np.abs(waveform).max())
        entry = _add_piece(manifest, out_dir, piece, source, MAESTRO_SPLITS[row["split"]],
                           waveform * (0.9 / peak) if peak > 0 else waveform, midi)
        total += entry.seconds
    _save(manifest, out_dir, {"maestro_root": str(root)})
    return manifest
