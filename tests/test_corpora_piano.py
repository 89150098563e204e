"""The piano corpus: scores and MIDI folders rendered with their conditioning rolls, the MAESTRO
layout, bad files reported and skipped, resumable building."""
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from synth.audio import write_audio
from synth.corpora import piano
from synth.corpora.manifest import read_manifest, verify
from synth.errors import InputError
from synth.music import conditioning_frames, conditioning_roll, piano_midi, write_midi
from synth.music.render import fluidsynth_available

FLUIDSYNTH_MISSING = fluidsynth_available()
needs_fluidsynth = pytest.mark.skipif(FLUIDSYNTH_MISSING is not None, reason=f"FluidSynth unavailable: {FLUIDSYNTH_MISSING}")


@pytest.fixture(scope="module")
def renderer():
    import pretty_midi

    from synth.music.render import FluidSynthRenderer

    # pretty_midi's small SoundFont loads fast; the corpus format does not depend on the piano
    return FluidSynthRenderer(16000, sound_font=Path(pretty_midi.__file__).parent / "TimGM6mb.sf2")


def tiny_sources(tmp_path):
    write_midi(piano_midi([(60, 0.0, 0.5, 100), (64, 0.5, 1.0, 70)]), tmp_path / "midis" / "two_notes.mid")
    (tmp_path / "midis" / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01")
    (tmp_path / "midis" / "empty.mid").write_bytes(b"")
    (tmp_path / "midis" / "not_midi.midi").write_bytes(b"hello, I am a text file")
    scores = list(piano.music21_sources(["tinyNotation: 4/4 c4 d e f", "tinyNotation: 3/4 g2 a4 B2."], tempo_bpm=120))
    scores[0].name, scores[1].name = "score-a", "score-b"
    return scores + list(piano.midi_folder_sources(tmp_path / "midis"))


@needs_fluidsynth
def test_corpus_from_two_scores_and_a_midi_folder_has_the_documented_manifest(tmp_path, renderer):
    out = tmp_path / "corpus"
    manifest = piano.build_score_corpus(out, tiny_sources(tmp_path), renderer=renderer, max_minutes=10, log=lambda m: None)
    on_disk = read_manifest(out)
    assert on_disk.name == "piano-scores" and on_disk.sample_rate == 16000
    assert "music21" in on_disk.licence and renderer.licence in on_disk.licence
    assert sorted(e.path for e in on_disk.entries) == ["wav/score-a.wav", "wav/score-b.wav", "wav/two_notes.wav"]
    assert verify(out) == []
    for entry in on_disk.entries:
        audio, rate = soundfile.read(out / entry.path)
        roll = np.load(out / entry.roll)
        assert rate == 16000 and audio.ndim == 1
        assert entry.seconds == pytest.approx(len(audio) / 16000, abs=1e-3)
        assert roll.shape == (conditioning_frames(len(audio), 256), 176) and roll.dtype == np.float32
        assert entry.split in ("train", "valid", "test") and entry.split == piano.split_of(Path(entry.path).stem)
        assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-3)
    # the roll is the conditioning of the MIDI that was rendered, aligned to the WAV
    two = next(e for e in on_disk.entries if "two_notes" in e.path)
    audio, _ = soundfile.read(out / two.path)
    expected = conditioning_roll(piano_midi([(60, 0.0, 0.5, 100), (64, 0.5, 1.0, 70)]), len(audio))
    assert np.array_equal(np.load(out / two.roll), expected)
    # score-a: four quarter notes at 120 bpm = 2 s of notes plus the 1.5 s release tail
    score_a = next(e for e in on_disk.entries if "score-a" in e.path)
    assert score_a.seconds == pytest.approx(3.5, abs=0.01)
    skipped = {s["name"]: s["reason"] for s in on_disk.skipped}
    assert set(skipped) == {"corrupt", "empty", "not_midi"}
    assert "damaged or truncated" in skipped["corrupt"] and "empty" in skipped["empty"]
    assert "not a MIDI file" in skipped["not_midi"]
    assert (out / "LICENCES.md").read_text().count("- `wav/") == 3
    assert manifest.stats["pieces"] == 3


@needs_fluidsynth
def test_corpus_building_resumes_without_rendering_again(tmp_path, renderer):
    out = tmp_path / "corpus"
    piano.build_score_corpus(out, tiny_sources(tmp_path)[:1], renderer=renderer, log=lambda m: None)
    first = (out / "wav" / "score-a.wav").stat().st_mtime_ns

    class Counting:
        name, licence, calls = "counting", "test", 0

        def render(self, midi):
            Counting.calls += 1
            return renderer.render(midi)

    manifest = piano.build_score_corpus(out, tiny_sources(tmp_path), renderer=Counting(), log=lambda m: None)
    assert Counting.calls == 2  # score-b and two_notes only
    assert (out / "wav" / "score-a.wav").stat().st_mtime_ns == first
    assert len(manifest.entries) == 3 and verify(out) == []


def test_split_by_piece_is_fixed_by_seed_and_name():
    names = [f"piece{i}" for i in range(2000)]
    splits = [piano.split_of(n, seed=0) for n in names]
    assert splits == [piano.split_of(n, seed=0) for n in names]
    assert 0.03 < splits.count("valid") / 2000 < 0.07 and 0.03 < splits.count("test") / 2000 < 0.07
    assert splits != [piano.split_of(n, seed=1) for n in names]


def make_maestro(root, index_format="json"):
    rows = []
    for i, (split, notes) in enumerate([("train", [(60, 0.1, 0.6, 90)]), ("validation", [(72, 0.0, 0.4, 50)]),
                                        ("test", [(48, 0.2, 0.9, 110)])]):
        midi_name, audio_name = f"2018/piece{i}.midi", f"2018/piece{i}.wav"
        write_midi(piano_midi(notes), root / midi_name)
        t = np.arange(44100) / 44100.0
        write_audio(root / audio_name, 0.3 * np.sin(2 * np.pi * 440 * t), 44100)
        rows.append({"canonical_composer": "Test", "canonical_title": f"Piece {i}", "split": split, "year": 2018,
                     "midi_filename": midi_name, "audio_filename": audio_name, "duration": 1.0})
    # a recording whose MIDI is damaged
    (root / "2018/broken.midi").write_bytes(b"MThd\x00\x00")
    write_audio(root / "2018/broken.wav", np.zeros(100), 44100)
    rows.append({"canonical_composer": "Test", "canonical_title": "Broken", "split": "train", "year": 2018,
                 "midi_filename": "2018/broken.midi", "audio_filename": "2018/broken.wav", "duration": 1.0})
    if index_format == "json":  # MAESTRO's column-oriented JSON
        columns = {k: {str(i): row[k] for i, row in enumerate(rows)} for k in rows[0]}
        (root / "maestro-v3.0.0.json").write_text(json.dumps(columns))
    else:
        import csv

        with open(root / "maestro-v2.0.0.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)


@pytest.mark.parametrize("index_format", ["json", "csv"])
def test_maestro_layout_gives_the_same_corpus_format(tmp_path, index_format):
    root, out = tmp_path / "maestro", tmp_path / "corpus"
    make_maestro(root, index_format)
    manifest = piano.build_maestro_corpus(root, out, log=lambda m: None)
    assert [(e.path, e.split) for e in manifest.entries] == [
        ("wav/2018-piece0.wav", "train"), ("wav/2018-piece1.wav", "valid"), ("wav/2018-piece2.wav", "test")]
    assert [s["name"] for s in manifest.skipped] == ["2018-broken"]
    assert "CC BY-NC-SA 4.0" in read_manifest(out).licence and verify(out) == []
    audio, rate = soundfile.read(out / "wav/2018-piece0.wav")
    assert rate == 16000 and len(audio) == 16000  # resampled from 44.1 kHz
    roll = np.load(out / "roll/2018-piece0.npy")
    assert roll.shape == (63, 176)
    assert np.flatnonzero(roll[:, 88 + 39]).tolist() == [1600 // 256]  # C4 struck at 0.1 s


def test_maestro_without_an_index_is_refused(tmp_path):
    with pytest.raises(InputError, match="maestro-v"):
        piano.build_maestro_corpus(tmp_path, tmp_path / "out")
