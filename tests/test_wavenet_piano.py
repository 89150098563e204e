"""The piano WaveNet as the piano recipe configures it (pre-emphasis, piano roll with onset
envelope): generation on the fused kernel equals the reference path and de-emphasis, the piano
service plays it, and the evaluate stage's judging (synth.solvers.piano) is wired to the judges."""
import dataclasses
import json

import numpy as np
import pytest
import soundfile
import torch

from synth import kernels
from synth.checkpoint import save_checkpoint
from synth.corpora.manifest import Entry, Manifest, write_manifest
from synth.errors import InputError
from synth.models.wavenet import WaveNet
from synth.models.wavenet_generation import GenerationOptions, WaveNetGenerator, generate_waveform
from synth.music import piano_midi, write_midi
from synth.music.pianoroll import conditioning_roll
from synth.solvers import piano as piano_solver
from synth.solvers.wavenet import WaveNetData, WaveNetRecipe

from conftest import tiny_config

RATE, ENVELOPE = 16000, 0.5
SCALE = [(pitch, 0.3 * i, 0.3 * i + 0.25, 90) for i, pitch in enumerate([60, 62, 64, 65, 67, 69])]


def piano_model(seed=0, hop=(4, 4), pre_emphasis=0.85, channels=264) -> WaveNet:
    torch.manual_seed(seed)
    model = WaveNet(tiny_config(cond_channels=channels, upsample_scales=hop, lpc_order=0,
                                pre_emphasis=pre_emphasis)).eval()
    model.metadata = {"features": {"kind": "piano_roll", "onset_envelope_seconds": ENVELOPE if channels == 264 else 0.0}}
    return model


def roll_frames(midi, seconds, hop) -> torch.Tensor:
    roll = conditioning_roll(midi, int(seconds * RATE), hop_length=hop, onset_envelope_seconds=ENVELOPE)  # (F, 264)
    return torch.from_numpy(roll.T.copy()).unsqueeze(0)  # (1, 264, F)


@pytest.mark.skipif(kernels.load("wavenet_cpu") is None, reason="no C compiler to build the kernel")
def test_pre_emphasis_roll_model_generates_on_the_fused_kernel_what_the_reference_path_generates(one_thread, monkeypatch):
    model = piano_model()
    frames = roll_frames(piano_midi([(60, 0.0, 0.02, 90), (64, 0.01, 0.04, 60)]), 0.05, 16)  # (1, 264, 50)
    served = []
    sample_steps = WaveNetGenerator.sample_steps

    def spy(*args, **kwargs):
        samples = sample_steps(*args, **kwargs)
        served.append(samples is not None)
        return samples

    monkeypatch.setattr(WaveNetGenerator, "sample_steps", spy)
    fused = torch.cat(list(generate_waveform(model, seconds=0.05, frames=frames, seed=7, chunk_seconds=0.01)), 1)
    assert served and all(served)  # the fused kernel made every chunk
    reference_path = GenerationOptions(path="reference")
    reference = torch.cat(list(generate_waveform(model, seconds=0.05, frames=frames, seed=7, chunk_seconds=0.02,
                                                 options=reference_path)), 1)
    assert fused.shape == (1, 800) and torch.equal(fused, reference)

    # and the audio is the network's samples through de-emphasis y_t = x_t + 0.85 y_{t-1}
    from scipy.signal import lfilter

    raw = piano_model(pre_emphasis=0.0)
    raw.load_state_dict(model.state_dict())
    excitation = torch.cat(list(generate_waveform(raw, seconds=0.05, frames=frames, seed=7, options=reference_path)), 1)
    np.testing.assert_allclose(fused[0].numpy(), lfilter([1.0], [1.0, -0.85], excitation[0].double().numpy()),
                               atol=1e-5)


def test_the_piano_service_plays_a_pre_emphasis_model_with_the_onset_envelope(tmp_path, one_thread):
    from synth.services import piano

    model = piano_model(hop=(16, 16))
    save_checkpoint(model, tmp_path / "envelope", metadata=model.metadata)
    midi = piano_midi(SCALE[:2])
    frames, cut = piano.midi_frames(model, midi, max_seconds=10.0)  # (264, F)
    assert frames.shape[0] == 264 and not cut
    assert frames[176 + 39, 0] == 1.0 and 0 < frames[176 + 39, 10] < 1.0  # middle C (column 39), struck at 0 s
    audio = piano.play(midi, checkpoint=tmp_path / "envelope", max_seconds=0.3).audio()
    assert len(audio) == -(-round(0.3 * RATE) // 256) * 256  # cut at 0.3 s, rounded up to whole frames
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    # a model of 176 channels that claims the envelope is not a piano model this service can feed
    wrong = piano_model(hop=(16, 16), channels=176)
    wrong.metadata["features"]["onset_envelope_seconds"] = ENVELOPE
    with pytest.raises(InputError, match="264-channel piano roll"):
        piano.midi_frames(wrong, midi, max_seconds=10.0)


def fake_result(sets=("held-out pieces", "app examples")) -> dict:
    return {
        "sets": {name: {"pieces": ["a", "b"], "seconds": 16.0, "note": f"{name} note",
                        "fluidsynth": {"f1": 0.9 - i / 10}, "wavenet": {"f1": 0.25 + i / 10, "mr_stft": 3.5 + i}}
                 for i, name in enumerate(sets)} | {"empty set": {"skipped": "skipped: nothing here"}},
        "speed": {"threads": 1, "fluidsynth": 250.0, "wavenet": 2.346, "generation_path": "fused CPU kernel"},
        "names": {"fluidsynth": "FluidSynth (x.sf3)", "wavenet": "wavenet-piano (free-running)"},
    }


def test_the_evaluation_table_has_a_row_per_renderer_and_baseline_and_a_column_per_measure():
    metrics = {"bits_per_sample": 3.1234, "baseline_linear_prediction_bits": 4.19, "baseline_mu_law_marginal_bits": 7.6,
               "test_clips": 3, "test_seconds": 200.0, "models": "the pre-emphasised signal (pre-emphasis 0.85)"}
    table = piano_solver.piano_evaluation_table(fake_result(), metrics).splitlines()
    header, rule, rows = table[0], table[1], table[2:]
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]  # noqa: E731
    assert cells(header)[1:] == ["note-onset F1, held-out pieces (2 pieces, 16 s in all)",
                                 "note-onset F1, app examples (2 pieces, 16 s in all)",
                                 "MR-STFT distance to FluidSynth, held-out pieces", "MR-STFT distance to FluidSynth, app examples",
                                 "bits/sample, held-out (teacher-forced)", "speed, batch 1, 1 thread (x real time)"]
    assert rule.count("---") == 7
    assert [cells(r) for r in rows] == [
        ["FluidSynth (x.sf3)", "0.90", "0.80", "0 (reference)", "0 (reference)", "—", "250.0"],
        ["wavenet-piano (free-running)", "0.25", "0.35", "3.50", "4.50", "3.123", "2.35"],
        ["16th-order linear prediction", "—", "—", "—", "—", "4.190", "—"],
        ["mu-law marginal (no time)", "—", "—", "—", "—", "7.600", "—"],
    ]
    note = piano_solver.evaluation_note(fake_result(), metrics)
    assert "the pre-emphasised signal" in note and "empty set: skipped: nothing here" in note and "(a, b)" in note


def tiny_piano_corpus(folder):
    """A manifest whose test split keeps the MIDI of one piece (and of none of the others)."""
    midi = piano_midi(SCALE)
    (folder / "midi").mkdir(parents=True)
    write_midi(midi, folder / "midi" / "scale.mid")
    entries = [Entry(path="wav/scale.wav", sha256="0", seconds=2.0, split="test", roll="roll/scale.npy"),
               Entry(path="wav/lost.wav", sha256="0", seconds=2.0, split="test", roll="roll/lost.npy"),
               Entry(path="wav/train.wav", sha256="0", seconds=2.0, split="train", roll="roll/train.npy")]
    write_manifest(Manifest("tiny-piano", RATE, "made by the test", entries), folder)
    return folder


@pytest.fixture
def fluidr3():
    pytest.importorskip("basic_pitch")
    pytest.importorskip("mir_eval")
    from synth.music.render import SOUND_FONTS, FluidSynthRenderer, fluidsynth_available

    if fluidsynth_available() is not None:
        pytest.skip(fluidsynth_available())
    fonts = [f for f in SOUND_FONTS if f.is_file()]
    font = next((f for f in fonts if f.name == "FluidR3_GM.sf2"), fonts[0] if fonts else None)  # FluidR3 loads fast
    if font is None:
        pytest.skip("no SoundFont installed")
    return FluidSynthRenderer(RATE, font)


def test_judging_plays_held_out_and_example_midi_and_scores_fluidsynth_high(tmp_path, fluidr3, one_thread):
    corpus = tiny_piano_corpus(tmp_path / "corpus")
    examples = tmp_path / "examples"
    examples.mkdir()
    write_midi(piano_midi([(72, 0.0, 0.4, 90), (67, 0.4, 0.8, 90), (64, 0.8, 1.2, 90), (60, 1.2, 1.5, 90)]),
               examples / "down.mid")
    recipe = WaveNetRecipe(name="wavenet-piano", out_dir=str(tmp_path / "model"),
                           data=WaveNetData(corpus=str(corpus), conditioning="roll", onset_envelope_seconds=ENVELOPE,
                                            judged_pieces=4, judged_seconds=1.5, examples=str(examples)))
    metrics = {"bits_per_sample": 7.9, "baseline_linear_prediction_bits": 4.2, "baseline_mu_law_marginal_bits": 7.6}
    logged = []
    result = piano_solver.judge_piano(recipe, piano_model(hop=(16, 16)), metrics, renderer=fluidr3, log=logged.append)

    held_out, example = result["sets"]["held-out pieces"], result["sets"]["app examples"]
    assert held_out["pieces"] == ["scale"] and example["pieces"] == ["down"]  # "lost" keeps no MIDI
    for judged in (held_out, example):
        # FluidSynth plays the notes, and basic-pitch hears them (notes cut at 1.5 s: 5 of the scale's 6)
        assert judged["fluidsynth"]["f1"] >= 0.8 and judged["fluidsynth"]["pieces"][judged["pieces"][0]]["reference_notes"] >= 3
        assert 0.0 <= judged["wavenet"]["f1"] <= 1.0  # an untrained network: whatever it is, it is scored
        assert judged["wavenet"]["mr_stft"] > 0 and judged["seconds"] <= 1.5
    assert result["speed"]["wavenet"] > 0 and result["speed"]["fluidsynth"] > 0 and result["speed"]["threads"] == 1
    assert logged and result["markdown"] in logged[0]
    assert "| FluidSynth (FluidR3_GM.sf2) |" in result["markdown"] and "| wavenet-piano (free-running) |" in result["markdown"]
    json.dumps(result)  # it goes to metrics.json as it is
    for renderer in ("fluidsynth", "wavenet-piano"):
        audio, rate = soundfile.read(tmp_path / "model" / "samples" / f"held-out-pieces_scale_{renderer}.wav")
        assert rate == RATE and 0 < len(audio) <= 1.5 * RATE and np.isfinite(audio).all()


def test_judging_with_no_pieces_says_why_and_still_makes_the_table(tmp_path):
    corpus = tiny_piano_corpus(tmp_path / "corpus")
    (corpus / "midi" / "scale.mid").unlink()
    recipe = WaveNetRecipe(out_dir=str(tmp_path / "model"),
                           data=WaveNetData(corpus=str(corpus), conditioning="roll", examples=""))
    result = piano_solver.judge_piano(recipe, piano_model(hop=(16, 16)), {"bits_per_sample": 5.0}, log=lambda _: None)
    assert result["sets"] == {"held-out pieces": {"skipped": f"skipped: {corpus} keeps no MIDI (midi/<piece>.mid) "
                                                             "of its test pieces"}}
    assert "| 5.000 |" in result["markdown"]


def test_wavenet_data_settings_are_checked_together():
    with pytest.raises(InputError, match="onset_envelope_seconds.*judged_pieces"):
        WaveNetData(conditioning="mel", onset_envelope_seconds=1.0, judged_pieces=-1)
    assert dataclasses.replace(WaveNetData(conditioning="roll"), onset_envelope_seconds=1.0).onset_envelope_seconds == 1.0
