"""The independent judges (synth/judges/) measure what they claim, on real audio.

The speech tests read one real clip of the shared Kathleen corpus (CC0) and skip when it is absent;
the piano tests render MIDI made here through FluidSynth and skip without the FluidSynth library.
"""
import hashlib
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch

from synth import judges
from synth.audio import MelFeatures
from synth.errors import InputError

REPO = Path(__file__).resolve().parents[1]
KATHLEEN = REPO.parent / "shared" / "data" / "speech-en-kathleen"
LIBRISPEECH = REPO.parent / "shared" / "data" / "speech-librispeech-samples"
CLIP_ID, CLIP_TEXT = "arctic_a0001_1592748574", "Author of the danger trail, Philip Steels, etc."
RATE = 16000


@pytest.fixture
def kathleen_clip():
    path = KATHLEEN / "wavs" / f"{CLIP_ID}.flac"
    if not path.is_file():
        pytest.skip(f"{path} absent (the shared Kathleen corpus)")
    from synth.audio import read_audio

    audio, rate = read_audio(path, RATE)
    return audio


@pytest.fixture
def noise():
    return (np.random.default_rng(0).standard_normal(3 * RATE) * 0.1).astype(np.float32)


@pytest.fixture
def asr():
    pytest.importorskip("pocketsphinx")
    pytest.importorskip("jiwer")


@pytest.fixture
def mos():
    pytest.importorskip("speechmos")
    pytest.importorskip("onnxruntime")


@pytest.fixture
def fluidsynth_renderer():
    pytest.importorskip("basic_pitch")
    pytest.importorskip("mir_eval")
    from synth.music.render import FluidSynthRenderer, SOUND_FONTS, fluidsynth_available

    if fluidsynth_available() is not None:
        pytest.skip(fluidsynth_available())
    # FluidR3 loads in well under a second; the MuseScore sf3 takes about 4 s
    fonts = [f for f in SOUND_FONTS if f.is_file()]
    font = next((f for f in fonts if f.name == "FluidR3_GM.sf2"), fonts[0] if fonts else None)
    if font is None:
        pytest.skip("no SoundFont installed")
    return FluidSynthRenderer(RATE, font)


# ----------------------------------------------------------------------------- text

def test_number_words_reads_cardinals():
    assert judges.number_words(0) == "zero"
    assert judges.number_words(42) == "forty two"
    assert judges.number_words(1908) == "one thousand nine hundred eight"
    assert judges.number_words(2_000_015) == "two million fifteen"


def test_normalise_text_lowercases_strips_punctuation_and_spells_numbers():
    assert judges.normalise_text("Author of the danger-trail, Philip Steels, etc.") == \
        "author of the danger trail philip steels etc"
    assert judges.normalise_text("'Don't' pay $1,200.5 now!") == "don't pay one thousand two hundred point five now"


def test_word_error_rate_counts_against_the_reference_words(asr):
    # hand count: one substitution and one deletion over four reference words
    assert judges.corpus_word_error_rate(["the cat sat down"], ["the hat sat"]) == pytest.approx(0.5)
    assert judges.corpus_word_error_rate(["Hello, world."], ["hello world"]) == 0.0
    with pytest.raises(InputError, match="no words"):
        judges.corpus_word_error_rate(["..."], ["hello"])


# ----------------------------------------------------------------------------- speech judges

def test_word_error_rate_of_real_speech_is_low(asr, kathleen_clip):
    assert judges.word_error_rate(kathleen_clip, RATE, CLIP_TEXT) <= 0.4  # measured 0.25 ("philips deals")


def test_word_error_rate_of_noise_is_about_one(asr, noise):
    assert judges.word_error_rate(noise, RATE, CLIP_TEXT) >= 0.9


def test_dnsmos_rates_clean_speech_well_above_noise(mos, kathleen_clip, noise):
    # DNSMOS repeats a short clip until it fills a 9.01 s window and scores every 1 s hop of that:
    # 2.3 s (repeated to 9.2 s) is one window, where 3.3 s (to 13.2 s) would be four
    speech, hiss = judges.dnsmos(kathleen_clip[: int(2.3 * RATE)], RATE), judges.dnsmos(noise[: int(2.3 * RATE)], RATE)
    assert set(speech) == {"overall", "sig", "bak", "p808"}
    assert speech["overall"] > 2.8  # measured 3.19
    assert hiss["overall"] < 2.0
    assert speech["bak"] > hiss["bak"] + 1.0


def test_stoi_pesq_of_the_original_is_perfect_and_of_noise_poor(kathleen_clip, noise):
    pytest.importorskip("pystoi")
    same = judges.stoi_pesq(kathleen_clip, kathleen_clip, RATE)
    assert same["stoi"] == pytest.approx(1.0, abs=1e-6)
    noisy = judges.stoi_pesq(kathleen_clip, kathleen_clip + np.resize(noise, len(kathleen_clip)) * 3, RATE)
    assert noisy["stoi"] < 0.8
    if "pesq_wb" in same:
        assert same["pesq_wb"] > 4.0 > noisy["pesq_wb"]


# ----------------------------------------------------------------------------- Griffin-Lim

def test_griffin_lim_inverts_with_the_filterbank_mel_features_uses():
    """The inversion assumes librosa's Slaney mel filterbank is torchaudio's: check it is."""
    import librosa
    import torchaudio

    f = MelFeatures()
    librosa_bank = librosa.filters.mel(sr=f.sample_rate, n_fft=f.n_fft, n_mels=f.n_mels, fmin=f.f_min, fmax=f.f_max,
                                       norm="slaney", htk=False)  # (n_mels, 1 + n_fft // 2)
    torch_bank = torchaudio.functional.melscale_fbanks(1 + f.n_fft // 2, f.f_min, f.f_max, f.n_mels, f.sample_rate,
                                                       norm="slaney", mel_scale="slaney").T.numpy()
    np.testing.assert_allclose(librosa_bank, torch_bank, atol=1e-5 * librosa_bank.max())


def test_griffin_lim_of_a_sine_keeps_its_pitch_and_level():
    features = MelFeatures()
    t = np.arange(RATE) / RATE
    sine = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    mel = features(torch.from_numpy(sine))  # (80, 62)
    audio = judges.griffin_lim_from_mel(mel, features)
    assert audio.shape == (mel.shape[1] * features.hop_length,)
    middle = audio[RATE // 4: 3 * RATE // 4]
    spectrum = np.abs(np.fft.rfft(middle * np.hanning(len(middle))))
    peak_hz = np.argmax(spectrum) * RATE / len(middle)
    assert abs(peak_hz - 440.0) < 5.0
    rms = float(np.sqrt(np.mean(middle ** 2)))
    assert 0.5 * 0.354 < rms < 2 * 0.354  # a 0.5-amplitude sine's RMS is 0.354: exp() undid the log at the right scale


def test_griffin_lim_resynthesis_reproduces_the_mel_and_is_seeded(kathleen_clip):
    features = MelFeatures()
    audio = judges.griffin_lim_resynthesis(kathleen_clip[: 2 * RATE], RATE, features)
    assert np.array_equal(audio, judges.griffin_lim_resynthesis(kathleen_clip[: 2 * RATE], RATE, features))
    original = features(torch.from_numpy(kathleen_clip[: 2 * RATE]))
    again = features(torch.from_numpy(audio))
    loud = original > original.max() - 6.0  # within ~50 dB of the peak (natural log units)
    assert float((again - original)[loud].abs().mean()) < 0.3


def test_griffin_lim_rejects_frames_of_the_wrong_shape():
    with pytest.raises(InputError, match="expected \\(80, frames\\)"):
        judges.griffin_lim_from_mel(np.zeros((40, 10)), MelFeatures())


# ----------------------------------------------------------------------------- the table and the sets

def test_speech_table_scores_each_row_and_prints_one_markdown_table(asr, mos, kathleen_clip, noise):
    pytest.importorskip("pystoi")
    rows = {"original": [kathleen_clip], "noise": [np.resize(noise, len(kathleen_clip))]}
    table = judges.speech_table(rows, [kathleen_clip], [CLIP_TEXT], RATE)
    original, hiss = table["rows"]["original"], table["rows"]["noise"]
    assert original["wer"] < hiss["wer"] and hiss["wer"] >= 0.9
    assert original["stoi"] == pytest.approx(1.0, abs=1e-6) and hiss["stoi"] < 0.5
    assert original["dnsmos_overall"] > hiss["dnsmos_overall"] + 1.0
    text = judges.format_speech_table(table, "Kathleen")
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) == 4 and "word error rate" in lines[0] and lines[2].startswith("| original |")
    # no transcript: the original's own ASR transcript is the reference, and its own WER is not shown
    untranscribed = judges.speech_table(rows, [kathleen_clip], [None], RATE, measures=("wer",))
    assert untranscribed["asr_reference_clips"] == 1 and untranscribed["rows"]["original"]["wer"] is None
    assert untranscribed["rows"]["noise"]["wer"] >= 0.9 and untranscribed["rows"]["noise"]["stoi"] is None
    assert "pocketsphinx's transcript of the original" in judges.format_speech_table(untranscribed)


def test_speech_table_rejects_rows_of_another_length(kathleen_clip):
    with pytest.raises(InputError, match="row 'vocoder' has 0 clips for 1"):
        judges.speech_table({"vocoder": []}, [kathleen_clip], [CLIP_TEXT], RATE)


def test_speech_table_without_references_scores_synthesisers_on_their_texts(monkeypatch, noise):
    pytest.importorskip("jiwer")
    heard = iter(["the cat sat", "a dog ran", "the cat sat", "nothing"])
    monkeypatch.setattr(judges.asr, "transcribe", lambda audio, rate: next(heard))
    monkeypatch.setattr(judges.quality, "dnsmos", lambda audio, rate: {"overall": float(np.abs(audio).max()), "sig": 2.0,
                                                                        "bak": 3.0, "p808": 1.0})
    rows = {"loud": [noise, noise], "quiet": [noise * 0.5, noise * 0.5]}
    table = judges.speech_table(rows, None, ["The cat sat.", "A dog ran."], RATE, reference_row=None,
                                measures=("wer", "dnsmos"))
    assert table["seconds"] is None and table["clips"] == 2 and table["asr_reference_clips"] == 0
    assert table["rows"]["loud"]["wer"] == 0.0 and table["rows"]["loud"]["transcripts"] == ["the cat sat", "a dog ran"]
    assert table["rows"]["quiet"]["wer"] == pytest.approx(3 / 6)  # "a dog ran" -> "nothing": 3 words wrong of 6
    assert table["rows"]["quiet"]["dnsmos_overall"] == pytest.approx(float(np.abs(noise).max()) * 0.5)
    assert table["rows"]["loud"]["stoi"] is None
    text = judges.format_speech_table(table, "Synthesisers", columns=("wer", "dnsmos_overall"))
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert lines[0] == "| | word error rate | DNSMOS overall |" and lines[3].startswith("| quiet | 0.50 |")
    assert "**Synthesisers** (2 clips)" in text


def test_speech_table_without_references_needs_every_text_and_no_fidelity_measures(noise):
    with pytest.raises(InputError, match="every clip needs a transcript"):
        judges.speech_table({"tts": [noise]}, None, [None], RATE, measures=("dnsmos",))
    with pytest.raises(InputError, match="leave 'stoi_pesq' out"):
        judges.speech_table({"tts": [noise]}, None, ["hello"], RATE)
    with pytest.raises(InputError, match="unknown columns"):
        judges.format_speech_table({"rows": {}, "clips": 0}, columns=("mos",))


# ----------------------------------------------------------------------------- espeak-ng

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed (setup.sh installs it)")


@needs_espeak
def test_espeak_ng_reads_text_into_the_wav_it_writes(tmp_path):
    import soundfile

    path = tmp_path / "direct.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-w", str(path), "Hello there, friend."], check=True)
    direct, rate = soundfile.read(path, dtype="float32")
    assert rate == 22050
    audio = judges.espeak_ng("Hello there, friend.", sample_rate=rate)
    assert audio.dtype == np.float32 and np.array_equal(audio, direct)
    assert np.sqrt(np.mean(audio ** 2)) > 0.01  # speech, not silence


@needs_espeak
def test_espeak_ng_resamples_to_the_judges_rate_and_reads_leading_dashes_as_text():
    native = judges.espeak_ng("-- one two three", sample_rate=22050)
    audio = judges.espeak_ng("-- one two three")
    assert abs(len(audio) - len(native) * RATE / 22050) <= 2
    assert np.array_equal(audio, judges.espeak_ng("-- one two three"))  # the same text, the same audio


def test_espeak_ng_missing_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # a folder without espeak-ng
    with pytest.raises(InputError, match="apt-get install espeak-ng"):
        judges.espeak_ng("hello")


def test_espeak_ng_refuses_empty_text():
    with pytest.raises(InputError, match="empty text"):
        judges.espeak_ng("   ")


def test_prompt_split_keeps_every_take_of_a_prompt_together_by_a_stable_hash():
    assert judges.prompt_id("arctic_a0001_1592748574") == "arctic_a0001"
    assert judges.prompt_id("arctic_b0539") == "arctic_b0539"
    prompts = [f"arctic_{s}{i:04d}" for s in "ab" for i in range(1, 600)]
    for prompt in prompts[:50]:
        assert judges.prompt_split(prompt + "_1592748574") == judges.prompt_split(prompt + "_1592748600")
    held_out = [p for p in prompts if judges.heldout_prompt(p)]
    assert 0.02 < len(held_out) / len(prompts) < 0.09
    # the hash is SHA-256 of the prompt id, not Python's per-process salted hash()
    bucket = int.from_bytes(hashlib.sha256(held_out[0].encode()).digest()[:8], "big") % 100
    assert bucket < judges.KATHLEEN_TEST_PERCENT


def test_kathleen_heldout_reads_only_heldout_prompts_from_an_ljspeech_folder(tmp_path):
    import soundfile

    ids = [f"arctic_a{i:04d}" for i in range(1, 400)]
    held, kept = next(p for p in ids if judges.heldout_prompt(p)), next(p for p in ids if not judges.heldout_prompt(p))
    (tmp_path / "wavs").mkdir()
    lines = []
    for prompt in (held, kept):
        for take in ("1592748574", "1592748585"):
            soundfile.write(tmp_path / "wavs" / f"{prompt}_{take}.flac", np.zeros(1600, np.float32), RATE)
            lines.append(f"{prompt}_{take}|Text of {prompt}.")
    (tmp_path / "metadata.csv").write_text("\n".join(lines) + "\n")
    chosen = judges.kathleen_heldout(tmp_path)
    assert [c.key for c in chosen.clips] == [f"{held}_1592748574"]
    assert chosen.clips[0].text == f"Text of {held}." and chosen.clips[0].sample_rate == RATE
    assert judges.kathleen_heldout(tmp_path / "absent").clips == []


def test_librispeech_test_other_takes_one_clip_per_unseen_speaker_first():
    if not (LIBRISPEECH / "test-other").is_dir():
        pytest.skip("shared LibriSpeech samples absent")
    chosen = judges.librispeech_test_other(LIBRISPEECH, limit=10, max_seconds=1.0)
    assert len({Path(c.source).parent.name for c in chosen.clips}) == 10
    assert all(c.text is None and len(c.audio) <= RATE for c in chosen.clips)


def test_asterisk_test_is_skipped_with_a_note_when_the_corpus_is_absent(tmp_path):
    chosen = judges.asterisk_test(tmp_path)
    assert chosen.clips == [] and chosen.note.startswith("skipped")


# ----------------------------------------------------------------------------- piano

def test_note_onset_f1_of_fluidsynth_playing_a_scale_is_high(fluidsynth_renderer):
    from synth.music.midi import piano_midi

    notes = [(pitch, 0.4 * i, 0.4 * i + 0.35, 90) for i, pitch in enumerate([60, 62, 64, 65, 67, 69, 71, 72, 64, 67])]
    midi = piano_midi(notes)
    audio = fluidsynth_renderer.render(midi)
    scores = judges.note_onset_f1(audio, RATE, midi)
    assert scores["reference_notes"] == 10
    assert scores["f1"] >= 0.8 and scores["recall"] >= 0.9
    # every transcribed note either matched a played one or is counted once among the extras
    extras = scores["extra_restruck"] + scores["extra_harmonic"] + scores["extra_other"]
    assert extras == scores["transcribed_notes"] - round(scores["precision"] * scores["transcribed_notes"])
    # the same notes given as tuples score the same, and the table reports them
    assert judges.note_onset_f1(audio, RATE, [(s, e, p) for p, s, e, _ in notes])["f1"] == scores["f1"]
    table = judges.piano_table({"FluidSynth": [audio]}, [judges.EvaluationPiece("scale", midi, "test", "MIT")], RATE)
    assert table["FluidSynth"]["f1"] == scores["f1"]
    assert f"| FluidSynth | {scores['f1']:.2f} |" in judges.format_piano_table(table)


def test_extra_notes_are_sorted_into_restruck_harmonic_and_other():
    # C4 held 0-2 s, E4 held 1-2 s; what a transcriber might add that matches nothing played:
    reference = [(0.0, 2.0, 60), (1.0, 2.0, 64)]
    extra = [(0.8, 1.0, 60, 0.5),   # C4 again while it is held: restruck
             (1.5, 1.7, 72, 0.5),   # an octave above C4 while it sounds: harmonic
             (1.2, 1.4, 83, 0.5),   # a twelfth above E4 (64 + 19): harmonic
             (0.5, 0.7, 88, 0.5),   # two octaves above E4, but E4 is not yet sounding: other
             (2.5, 2.7, 60, 0.5),   # after everything ended: other
             (0.97, 1.1, 64, 0.5)]  # E4 30 ms before its onset (within the onset tolerance): restruck
    assert judges.piano.extra_note_kinds(reference, extra) == {"extra_restruck": 2, "extra_harmonic": 2, "extra_other": 2}
    assert judges.piano.extra_note_kinds(reference, []) == {"extra_restruck": 0, "extra_harmonic": 0, "extra_other": 0}


def test_piano_evaluation_pieces_cut_the_app_examples():
    pieces = judges.piano_evaluation_pieces(REPO / "assets" / "examples", max_seconds=2.0, works=())
    assert [p.name for p in pieces] == ["bach_bwv269_bars1-4", "c_major_scale"]
    assert all(0 < n.start < 2.0 and n.end <= 2.0 for p in pieces for i in p.midi.instruments for n in i.notes
               if n.start > 0)


def test_note_onset_f1_is_zero_when_the_notes_are_shifted_or_absent(fluidsynth_renderer, noise):
    from synth.music.midi import piano_midi

    notes = [(pitch, 0.5 * i, 0.5 * i + 0.4, 90) for i, pitch in enumerate([60, 64, 67, 72])]
    audio = fluidsynth_renderer.render(piano_midi(notes))
    late = [(s + 0.2, e + 0.2, p) for p, s, e, _ in notes]  # 200 ms late: outside the 50 ms tolerance
    assert judges.note_onset_f1(audio, RATE, late)["f1"] == 0.0
    assert judges.note_onset_f1(noise * 0.01, RATE, [(s, e, p) for p, s, e, _ in notes])["f1"] == 0.0


def test_active_fraction_counts_the_frames_louder_than_the_silence_floor():
    from synth.judges.quality import active_fraction

    rate = 16000
    t = np.arange(rate) / rate
    audio = np.where(t < 0.5, 0.1 * np.sin(2 * np.pi * 200 * t), 0.0)  # -23 dBFS for half a second, then silence
    assert active_fraction(audio, rate) == 0.5  # 40 frames of 25 ms: 20 above -50 dBFS
    assert active_fraction(audio * 10 ** (-40 / 20), rate) == 0.0  # the same 40 dB quieter: -63 dBFS, silence
    assert active_fraction(np.full(100, 0.5), rate) == 0.0  # shorter than one frame: nothing to count
