"""The sampling temperature, chosen by the judges on validation clips: the vocoder's mean-rank rule
by hand, the piano's highest note-onset F1, the choice stored in the checkpoint (weights untouched)
and read back as its policy."""
import dataclasses

import numpy as np
import pytest
import torch

from synth import judges
from synth.audio import MelFeatures
from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.models.wavenet_generation import default_policy
from synth.sampling.policies import Temperature
from synth.solvers import wavenet_evaluation
from synth.solvers.wavenet import WaveNetData, WaveNetRecipe
from synth.solvers.wavenet_evaluation import best_by_mean_rank, choose_temperature
from conftest import tiny_wavenet

pytestmark = pytest.mark.usefixtures("one_thread")
MEL = MelFeatures(sample_rate=16000, hop_length=256)


def test_the_best_mean_rank_over_the_three_judges_wins():
    scores = {"a": {"wer": 0.5, "stoi": 0.8, "dnsmos_overall": 2.0},
              "b": {"wer": 0.4, "stoi": 0.7, "dnsmos_overall": 2.5},
              "c": {"wer": 0.6, "stoi": 0.9, "dnsmos_overall": 1.0}}
    best, ranks = best_by_mean_rank(scores)
    # word error rate: b a c; STOI: c a b; DNSMOS: b a c -> a (1 + 1 + 1) / 3, b (0 + 2 + 0) / 3, c (2 + 0 + 2) / 3
    assert best == "b" and ranks == pytest.approx({"a": 1.0, "b": 2 / 3, "c": 4 / 3})


def test_equal_ranks_go_to_the_higher_stoi():
    scores = {"a": {"wer": 0.3, "stoi": 0.7, "dnsmos_overall": 2.0},
              "b": {"wer": 0.4, "stoi": 0.8, "dnsmos_overall": 2.0}}
    assert best_by_mean_rank(scores)[0] == "b"


@pytest.fixture
def vocoder_folder(tmp_path):
    vocoder = tiny_wavenet(cond_channels=MEL.n_mels, upsample_scales=(16, 16))
    save_checkpoint(vocoder, tmp_path / "vocoder", metadata={"features": {"kind": "mel", **dataclasses.asdict(MEL)}})
    return tmp_path / "vocoder"


def test_the_temperature_is_chosen_on_validation_clips_and_kept_in_the_checkpoint(vocoder_folder, monkeypatch):
    pytest.importorskip("jiwer")
    asked = []

    def validation_sets(recipe, n_clips, max_seconds, split="test"):
        asked.append(split)
        t = np.arange(4 * 256) / 16000
        clips = [judges.EvaluationClip(f"c{i}", (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32),
                                       16000, "the cat sat", "made by the test") for i in range(2)]
        return [judges.EvaluationSet("tiny valid split", clips)]

    monkeypatch.setattr(wavenet_evaluation, "_evaluation_sets", validation_sets)
    monkeypatch.setattr(judges.asr, "transcribe", lambda audio, rate: "the cat sat")
    monkeypatch.setattr(judges.quality, "dnsmos", lambda audio, rate: {"overall": 1.0 + float(np.abs(audio).mean()),
                                                                        "sig": 2.0, "bak": 3.0, "p808": 3.0})
    before = load_checkpoint(vocoder_folder).state_dict()
    recipe = WaveNetRecipe(out_dir=str(vocoder_folder), data=WaveNetData(conditioning="mel"), mel=MEL)
    sampling = choose_temperature(recipe, (1.0, 0.5), n_clips=2, log=lambda _: None)
    assert asked == ["valid"]
    model = load_checkpoint(vocoder_folder)
    assert model.metadata["sampling"] == sampling and sampling["temperature"] in (1.0, 0.5)
    assert set(sampling["candidates"]) == {"1", "0.5"} and sampling["chosen_on"] == ["tiny valid split"]
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    policy = default_policy(model)
    assert policy == (() if sampling["temperature"] == 1.0 else (Temperature(0.5),))
    assert model.metadata["features"]["kind"] == "mel"  # the rest of the metadata kept


@pytest.mark.parametrize("temperatures", [(), (0.0,), (1.0, 3.0)])
def test_temperatures_out_of_range_are_refused(vocoder_folder, temperatures):
    recipe = WaveNetRecipe(out_dir=str(vocoder_folder), data=WaveNetData(conditioning="mel"), mel=MEL)
    with pytest.raises(InputError, match="temperatures must be"):
        choose_temperature(recipe, temperatures)


def test_the_piano_temperature_is_the_highest_f1_on_validation_pieces_ties_to_the_higher(tmp_path, monkeypatch):
    from synth.solvers import piano

    folder = tmp_path / "piano"
    save_checkpoint(tiny_wavenet(cond_channels=176, upsample_scales=(16, 16)), folder,
                    metadata={"features": {"kind": "piano_roll", "hop_length": 256, "sample_rate": 16000}})
    asked = []

    def pieces(corpus, limit, max_seconds, split="test"):
        asked.append(split)
        return [judges.EvaluationPiece(f"p{i}", object(), "made by the test", "") for i in range(2)]

    def play(model, midi, max_seconds, seed, options=None, policy=None):
        t = policy[0].value if policy else 1.0
        return np.full(8, t, dtype=np.float32), 0.0  # the audio carries its temperature to the judge

    f1_of = {1.0: 0.40, 0.8: 0.55, 0.6: 0.55, 0.4: 0.30}  # 0.8 and 0.6 tie: the higher wins
    monkeypatch.setattr(judges, "piano_corpus_pieces", pieces)
    monkeypatch.setattr(piano, "play", play)
    monkeypatch.setattr(judges.piano, "note_onset_f1", lambda audio, rate, midi: {
        "f1": f1_of[round(float(audio[0]), 1)], "precision": 0.5, "recall": 0.6, "transcribed_notes": 10,
        "extra_restruck": 2, "extra_harmonic": 2, "extra_other": 1})  # the real judge's keys (see its tests)
    before = load_checkpoint(folder).state_dict()
    recipe = WaveNetRecipe(out_dir=str(folder), data=WaveNetData(conditioning="roll", judged_seconds=1.0))
    sampling = choose_temperature(recipe, (1.0, 0.8, 0.6, 0.4), log=lambda _: None)
    assert asked == ["valid"] and sampling["temperature"] == 0.8 and sampling["measure"] == "note-onset F1"
    assert sampling["candidates"]["0.8"] == {"f1": 0.55, "precision": 0.5, "recall": 0.6}
    model = load_checkpoint(folder)
    assert model.metadata["sampling"] == sampling and default_policy(model) == (Temperature(0.8),)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
