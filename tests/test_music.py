"""MIDI reading and writing, the conditioning roll, the composer's PianoRoll, FluidSynth rendering."""
import math
from pathlib import Path

import mido
import numpy as np
import pretty_midi
import pytest

from synth.errors import InputError
from synth.music import (N_KEYS, PianoRoll, conditioning_frames, conditioning_roll, piano_midi, read_midi,
                         sustained_notes, write_midi)
from synth.music.render import fluidsynth_available

FLUIDSYNTH_MISSING = fluidsynth_available()


def test_conditioning_roll_places_a_note_in_its_frames_and_columns():
    # Middle C (key 60 -> column 39) from 0.5 s to 1.0 s at velocity 100; hop 256 at 16 kHz.
    midi = piano_midi([(60, 0.5, 1.0, 100)])
    roll = conditioning_roll(midi, 32000)
    assert roll.shape == (conditioning_frames(32000), 176) == (125, 176)
    assert roll.dtype == np.float32
    # samples [8000, 16000) -> frames 31 (8000 // 256) .. 62 (ceil(16000 / 256) - 1)
    held = np.flatnonzero(roll[:, 39])
    assert held[0] == 31 and held[-1] == 62 and len(held) == 32
    assert np.allclose(roll[held, 39], 100 / 127)
    assert np.flatnonzero(roll[:, 88 + 39]).tolist() == [31]
    assert roll[31, 88 + 39] == pytest.approx(100 / 127)
    assert np.count_nonzero(roll) == 33  # nothing anywhere else


def test_conditioning_frames_is_ceil_of_samples_over_hop():
    assert [conditioning_frames(n, 256) for n in (0, 1, 256, 257, 512)] == [0, 1, 1, 2, 2]
    assert conditioning_roll(piano_midi([(21, 0.0, 0.1, 64)]), 257).shape == (2, 176)


def test_conditioning_roll_applies_the_sustain_pedal():
    midi = piano_midi([(108, 0.0, 0.5, 127)])  # C8 -> column 87
    midi.instruments[0].control_changes += [pretty_midi.ControlChange(64, 127, 0.25),
                                            pretty_midi.ControlChange(64, 0, 1.0)]
    roll = conditioning_roll(midi, 32000)
    held = np.flatnonzero(roll[:, 87])
    assert held[-1] == math.ceil(16000 / 256) - 1  # held until the pedal lifts at 1.0 s
    assert sustained_notes(midi.instruments[0]) == [(108, 0.0, 1.0, 127)]


def test_conditioning_roll_pedal_stops_at_the_next_strike_of_the_same_key():
    midi = piano_midi([(60, 0.0, 0.2, 90), (60, 0.6, 0.8, 50)])
    midi.instruments[0].control_changes += [pretty_midi.ControlChange(64, 127, 0.1),
                                            pretty_midi.ControlChange(64, 0, 2.0)]
    notes = sustained_notes(midi.instruments[0])
    assert notes == [(60, 0.0, 0.6, 90), (60, 0.6, 2.0, 50)]
    roll = conditioning_roll(midi, 48000)
    assert np.flatnonzero(roll[:, 88 + 39]).tolist() == [0, round(0.6 * 16000) // 256]


def test_conditioning_roll_louder_overlap_wins_and_out_of_range_keys_are_dropped():
    midi = piano_midi([(60, 0.0, 1.0, 40), (60, 0.5, 0.7, 120), (10, 0.0, 1.0, 100), (120, 0.0, 1.0, 100)])
    roll = conditioning_roll(midi, 16000, hop_length=1600)
    assert roll.shape == (10, 176)
    assert np.allclose(roll[:, 39], [40 / 127] * 5 + [120 / 127] * 2 + [40 / 127] * 3)
    assert np.count_nonzero(roll[:, :88]) == 10


def test_conditioning_roll_other_hop_and_rate():
    midi = piano_midi([(69, 1.0, 1.5, 127)])  # A4 -> column 48
    roll = conditioning_roll(midi, 22050 * 2, sample_rate=22050, hop_length=441)  # 50 frames/s
    assert np.flatnonzero(roll[:, 48]).tolist() == list(range(50, 75))


def test_onset_envelope_counts_the_time_since_each_strike_while_the_key_is_held():
    from synth.music.pianoroll import conditioning_channels, with_onset_envelope

    # Middle C struck at 0 s, struck again at 1 s (pedal keeps it held between), released at 1.5 s;
    # hop 1600 at 16 kHz = 0.1 s frames, decay 0.5 s.
    midi = piano_midi([(60, 0.0, 0.6, 100), (60, 1.0, 1.5, 60)])
    midi.instruments[0].control_changes += [pretty_midi.ControlChange(64, 127, 0.5),
                                            pretty_midi.ControlChange(64, 0, 1.2)]
    roll = conditioning_roll(midi, 32000, hop_length=1600, onset_envelope_seconds=0.5)
    assert roll.shape == (20, conditioning_channels(0.5)) == (20, 264)
    np.testing.assert_array_equal(roll[:, :176], conditioning_roll(midi, 32000, hop_length=1600))
    envelope = roll[:, 176 + 39]
    age = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4]) * 0.1  # seconds since the latest strike
    np.testing.assert_allclose(envelope[:15], np.exp(-age / 0.5), rtol=1e-5)
    assert not envelope[15:].any()  # released at 1.5 s: not held, no envelope
    assert np.count_nonzero(roll[:, 176:]) == 15  # and no other key has one
    # the same columns from a stored 176-column roll, and a roll cut short is the whole roll's start
    np.testing.assert_array_equal(with_onset_envelope(roll[:, :176], 0.5, hop_length=1600), roll)
    np.testing.assert_array_equal(with_onset_envelope(roll[:7, :176], 0.5, hop_length=1600), roll[:7])


def test_onset_envelope_is_refused_for_a_roll_of_the_wrong_shape_or_a_bad_decay():
    from synth.music.pianoroll import with_onset_envelope

    with pytest.raises(InputError, match="176-column"):
        with_onset_envelope(np.zeros((4, 264), np.float32), 1.0)
    with pytest.raises(InputError, match="more than 0 seconds"):
        with_onset_envelope(np.zeros((4, 176), np.float32), 0.0)


def test_key_sinusoids_are_the_held_keys_sines_by_hand_and_join_across_chunks():
    import torch

    from synth.models.key_sines import key_frequency, key_sinusoids

    hop, rate = 16, 16000
    held = torch.zeros(1, N_KEYS, 6)
    held[0, 48, 1:5] = 1.0  # A4 (MIDI 69 = column 48), 440 Hz, frames 1-4
    held[0, 87, 3:6] = 0.5  # C8 (4186 Hz): its second harmonic is above Nyquist
    assert key_frequency(48) == 440.0
    out = key_sinusoids(held, 0, 96, harmonics=2, hop_length=hop, sample_rate=rate)  # (1, 4, 96)
    t = np.arange(96)
    a4 = (t >= 16) & (t < 80)
    c8 = t >= 48
    count = np.maximum(1, a4.astype(int) + c8.astype(int))
    f8 = 440.0 * 2 ** (39 / 12)
    expected_sin1 = (a4 * np.sin(2 * np.pi * 440 * t / rate) + c8 * 0.5 * np.sin(2 * np.pi * f8 * t / rate)) / np.sqrt(count)
    expected_cos2 = a4 * np.cos(2 * np.pi * 880 * t / rate) / np.sqrt(count)  # C8's 8.4 kHz left out
    np.testing.assert_allclose(out[0, 0].numpy(), expected_sin1, atol=1e-5)
    np.testing.assert_allclose(out[0, 3].numpy(), expected_cos2, atol=1e-5)
    assert not out[..., :16].any()  # nothing held: silence
    # a later chunk, from a frame boundary, continues the phase of the absolute sample index
    later = key_sinusoids(held[..., 2:], 32, 64, harmonics=2, hop_length=hop, sample_rate=rate)
    torch.testing.assert_close(later, out[..., 32:])
    with pytest.raises(InputError, match="frame"):
        key_sinusoids(held, 5, 16, harmonics=1, hop_length=hop, sample_rate=rate)


def test_written_midi_reads_back_with_mido(tmp_path):
    midi = piano_midi([(60, 0.0, 0.5, 80), (64, 0.5, 1.0, 90)], tempo_bpm=100)
    path = write_midi(midi, tmp_path / "x.mid")
    ons = [(m.note, m.velocity) for m in mido.MidiFile(path) for m in [m] if m.type == "note_on" and m.velocity > 0]
    assert ons == [(60, 80), (64, 90)]
    tempos = [m.tempo for m in mido.MidiFile(path).tracks[0] if m.type == "set_tempo"]
    assert mido.tempo2bpm(tempos[0]) == pytest.approx(100)


@pytest.mark.parametrize("data, words", [
    (b"", "empty"),
    (b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a MIDI file"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\x00\x00\x01\x00\x00\x90", "damaged or truncated"),
])
def test_bad_midi_gives_a_clear_input_error(tmp_path, data, words):
    path = tmp_path / "bad.mid"
    path.write_bytes(data)
    with pytest.raises(InputError, match=words) as info:
        read_midi(path)
    assert "Standard MIDI File" in str(info.value)


def test_midi_without_notes_is_refused(tmp_path):
    path = write_midi(pretty_midi.PrettyMIDI(), tmp_path / "empty.mid")
    with pytest.raises(InputError, match="no .*notes"):
        read_midi(path)


def test_oversized_midi_is_refused(tmp_path):
    path = tmp_path / "big.mid"
    path.write_bytes(b"MThd" + bytes(100))
    with pytest.raises(InputError, match="byte limit"):
        read_midi(path, max_bytes=50)


def test_piano_roll_samples_notes_on_the_grid():
    # a quarter C4, then an eighth E4 (starts on the beat) and an eighth G4 (between beats)
    roll = PianoRoll.from_notes([(60, 0, 1), (64, 1, 1.5), (67, 1.5, 2)], steps_per_quarter=1)
    assert roll.keys.shape == (2, N_KEYS)
    assert np.flatnonzero(roll.keys[0]).tolist() == [39]
    assert np.flatnonzero(roll.keys[1]).tolist() == [43]  # G4 covers no grid point: gone (JSB sampling)
    fine = PianoRoll.from_notes([(60, 0, 1), (64, 1, 1.5), (67, 1.5, 2)], steps_per_quarter=4)
    assert fine.notes() == [(60, 0, 4), (64, 4, 6), (67, 6, 8)]


def test_piano_roll_midi_round_trip():
    roll = PianoRoll.from_notes([(60, 0, 2), (64, 1, 2), (67, 2, 4)], steps_per_quarter=2)
    midi = roll.to_midi(tempo_bpm=120)
    assert PianoRoll.from_midi(midi, steps_per_quarter=2).keys.tolist() == roll.keys.tolist()
    notes = sorted((n.pitch, n.start, n.end) for n in midi.instruments[0].notes)
    assert notes == [(60, 0.0, 1.0), (64, 0.5, 1.0), (67, 1.0, 2.0)]  # 120 bpm, 2 steps per quarter = 0.25 s


def test_piano_roll_transpose_drops_keys_off_the_keyboard():
    roll = PianoRoll.from_notes([(21, 0, 1), (60, 0, 1)])
    assert np.flatnonzero(roll.transpose(2).keys[0]).tolist() == [2, 41]
    assert np.flatnonzero(roll.transpose(-1).keys[0]).tolist() == [38]


#: The small General MIDI SoundFont inside pretty_midi's wheel: loads in a fraction of a second
#: (the default MuseScore General sf3 takes seconds), and any piano shows the timing and the pitch.
SMALL_SOUND_FONT = Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"


@pytest.mark.skipif(FLUIDSYNTH_MISSING is not None, reason=f"FluidSynth unavailable: {FLUIDSYNTH_MISSING}")
def test_fluidsynth_renders_a_short_midi_in_time():
    from synth.music.render import FluidSynthRenderer

    renderer = FluidSynthRenderer(16000, sound_font=SMALL_SOUND_FONT)
    midi = piano_midi([(60, 0.25, 0.75, 100), (67, 0.5, 0.75, 100)])
    audio = renderer.render(midi)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert len(audio) == math.ceil((0.75 + 1.5) * 16000)  # the release tail is kept
    assert np.abs(audio).max() == pytest.approx(0.9, abs=1e-4)
    assert np.abs(audio[:int(0.24 * 16000)]).max() < 1e-3  # silent before the first note
    onset = np.argmax(np.abs(audio) > 0.01) / 16000
    assert 0.25 <= onset < 0.3
    # the strongest partial below 300 Hz is C4 (261.6 Hz)
    spectrum = np.abs(np.fft.rfft(audio[4000:12000] * np.hanning(8000)))
    freqs = np.fft.rfftfreq(8000, 1 / 16000)
    assert abs(freqs[np.argmax(spectrum * (freqs < 300))] - 261.6) < 5
    renderer.render(piano_midi([(50, 0.1, 0.33, 127)]))
    again = renderer.render(midi)  # the synth is reused: each piece starts from silence, on time
    assert np.abs(again[:int(0.24 * 16000)]).max() < 1e-3
    assert np.abs(again - audio).max() < 0.05  # equal up to FluidSynth's dither and reverb modulation


def test_renderers_are_made_once_and_named(monkeypatch):
    from synth.music import render

    made = []
    monkeypatch.setitem(render.RENDERERS, "counting", lambda sample_rate: made.append(sample_rate) or object())
    render.make_renderer.cache_clear()
    assert render.make_renderer("counting", 8000) is render.make_renderer("counting", 8000)
    assert made == [8000]
    with pytest.raises(InputError, match="unknown renderer 'nope'; available"):
        render.make_renderer("nope")
    render.make_renderer.cache_clear()


def test_missing_fluidsynth_library_is_named_plainly(monkeypatch):
    import ctypes.util

    from synth.music import render

    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    assert "libfluidsynth3" in render.fluidsynth_available()
    with pytest.raises(InputError, match="libfluidsynth3"):
        render.FluidSynthRenderer()


def test_score_notes_merge_ties_and_sample_on_the_quarter_grid():
    from synth.music.scores import parse_score, score_notes

    score = parse_score("tinyNotation: 4/4 c4 d8 e8 f4~ f4")  # C4, D4 + E4 eighths, a tied F4 half
    notes = score_notes(score)
    assert sorted(notes) == [(60, 0.0, 1.0), (62, 1.0, 1.5), (64, 1.5, 2.0), (65, 2.0, 4.0)]
    roll = PianoRoll.from_notes(notes, steps_per_quarter=1)
    assert [np.flatnonzero(f).tolist() for f in roll.keys] == [[39], [41], [44], [44]]  # E4 (off the beat) vanishes


def test_score_midi_uses_the_given_or_default_tempo():
    from synth.music.scores import DEFAULT_TEMPO_BPM, score_midi

    midi, bpm = score_midi("tinyNotation: 4/4 c4 d4 e4 f4")
    assert bpm == DEFAULT_TEMPO_BPM and midi.get_end_time() == pytest.approx(4 * 60 / DEFAULT_TEMPO_BPM, abs=1e-3)
    midi, bpm = score_midi("tinyNotation: 4/4 c4 d4 e4 f4", tempo_bpm=120)
    assert bpm == 120 and [n.pitch for n in midi.instruments[0].notes] == [60, 62, 64, 65]
    assert midi.instruments[0].notes[1].start == pytest.approx(0.5, abs=1e-3)
    assert all(i.program == 0 for i in midi.instruments)


def test_unparseable_score_is_an_input_error():
    from synth.music.scores import parse_score

    with pytest.raises(InputError, match="could not be parsed"):
        parse_score("no/such/work/anywhere")
