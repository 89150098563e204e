"""The vocoder's sampling temperature, chosen by the judges on validation clips: the mean-rank rule
by hand, the choice stored in the checkpoint (weights untouched) and read back as its policy."""
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
