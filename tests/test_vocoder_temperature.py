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


def test_the_babble_temperature_is_the_highest_dnsmos_on_unjudged_seeds_and_the_evaluation_plays_it(tmp_path,
                                                                                                   monkeypatch):
    """A speaker model's babble: each temperature plays the same speakers and seeds (1000 + speaker,
    2000 + speaker: never the evaluate stage's seed = speaker), the highest mean DNSMOS wins, and
    judge_babble then plays at the chosen temperature."""
    folder = tmp_path / "speakers"
    save_checkpoint(tiny_wavenet(n_speakers=3), folder)
    played = []

    def babble(model, speaker, seconds, seed, policy=(), options=None):
        t = policy[0].value if policy else 1.0
        played.append((speaker, seed, t))
        audio = np.full(1600, 1e-4 if t == 0.6 else 0.05, dtype=np.float32)  # 0.6 falls silent (1 frame of 4 sounds)
        audio[0] = t  # the audio carries its temperature to the judge
        return audio

    dnsmos_of = {1.0: 2.0, 0.9: 2.6, 0.8: 2.6, 0.7: 1.5, 0.6: 3.0}  # 0.9 and 0.8 tie: the higher wins; 0.6 is silence
    monkeypatch.setattr(wavenet_evaluation, "_babble", babble)
    monkeypatch.setattr(judges.quality, "_dnsmos_model", lambda: None)
    monkeypatch.setattr(judges.quality, "dnsmos", lambda audio, rate: {
        "overall": dnsmos_of[round(float(audio[0]), 1)], "sig": 3.0, "bak": 3.5, "p808": 3.0})
    recipe = WaveNetRecipe(out_dir=str(folder), data=WaveNetData(conditioning="none", speaker_conditioned=True))
    sampling = choose_temperature(recipe, (1.0, 0.9, 0.8, 0.7, 0.6), log=lambda _: None)
    assert sampling["temperature"] == 0.9 and sampling["measure"].startswith("babble DNSMOS overall")
    assert sampling["candidates"]["0.9"] == {"dnsmos_overall": 2.6, "dnsmos_sig": 3.0, "dnsmos_bak": 3.5, "active": 1.0}
    assert sampling["candidates"]["0.6"]["dnsmos_overall"] == 3.0 and sampling["candidates"]["0.6"]["active"] == 0.25
    assert {(s, seed) for s, seed, _ in played} == {(s, base + s) for s in range(3) for base in (1000, 2000)}
    model = load_checkpoint(folder)
    assert model.metadata["sampling"] == sampling and default_policy(model) == (Temperature(0.9),)

    class Clip:
        def __init__(self, speaker):
            self.speaker_id, self.audio = speaker, torch.zeros(16000, dtype=torch.int16)

    class Test:
        clips = [Clip(0), Clip(1)]

    monkeypatch.setattr(judges, "speech_table", lambda rows, *a, **k: {"rows": {n: {} for n in rows}})
    monkeypatch.setattr(judges, "format_speech_table", lambda table, title, columns=(): title)
    played.clear()
    table = wavenet_evaluation.judge_babble(model, Test(), log=lambda _: None)
    assert played == [(0, 0, 0.9), (1, 1, 0.9)] and "temperature 0.9" in table["note"]


def test_the_babble_temperature_needs_a_speaker_model(tmp_path):
    save_checkpoint(tiny_wavenet(), tmp_path / "plain")
    recipe = WaveNetRecipe(out_dir=str(tmp_path / "plain"), data=WaveNetData(conditioning="none", speaker_conditioned=True))
    with pytest.raises(InputError, match="speaker-conditioned"):
        wavenet_evaluation.choose_babble_temperature(recipe, (1.0,))
