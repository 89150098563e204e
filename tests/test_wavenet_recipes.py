"""The WaveNet recipes end to end on a tiny corpus the test makes: train, evaluate, sample; a run
killed with SIGKILL resumes and matches an uninterrupted one exactly."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from safetensors import safe_open

from synth.checkpoint import load_checkpoint
from synth.corpora.manifest import Entry, Manifest, sha256_file, write_manifest
from synth.audio import mel_features_of

ROOT = Path(__file__).resolve().parents[1]
RATE, HOP = 16000, 256
TINY = ["model.n_stacks=1", "model.layers_per_stack=4", "model.residual_channels=8", "model.gate_channels=12",
        "model.skip_channels=10", "model.speaker_channels=4", "model.cond_hidden_channels=6",
        "data.crop_samples=1024", "data.batch_size=2", "data.valid_batches=1", "data.eval_clips=2",
        "data.resynthesis_clips=1", "train.warmup_steps=2", "train.eval_every=4", "train.checkpoint_every=4", "threads=1"]


def make_corpus(folder: Path, with_rolls: bool = False) -> Path:
    """Two 'speakers' (tones of different pitch with noise bursts), 0.4-0.6 s clips, rolls if asked."""
    g = np.random.default_rng(0)
    entries = []
    for i in range(12):
        speaker = i % 2
        n = RATE // 2 + 1600 * (i % 3)
        t = np.arange(n) / RATE
        audio = 0.3 * np.sin(2 * np.pi * (220 + 220 * speaker) * t) * (np.sin(2 * np.pi * 4 * t) > 0) \
            + 0.01 * g.standard_normal(n)
        path = folder / f"wav/s{speaker}/{i}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, audio.astype(np.float32), RATE, subtype="PCM_16")
        split = "train" if i < 8 else "valid" if i < 10 else "test"
        entry = Entry(path=str(path.relative_to(folder)), sha256=sha256_file(path), seconds=n / RATE, split=split,
                      speaker=f"s{speaker}", speaker_id=speaker)
        if with_rolls:
            roll = np.zeros((-(-n // HOP), 176), dtype=np.float32)
            roll[:, 48 + 12 * speaker] = 0.8
            roll[0, 88 + 48 + 12 * speaker] = 0.8
            roll_path = folder / f"roll/{i}.npy"
            roll_path.parent.mkdir(parents=True, exist_ok=True)
            np.save(roll_path, roll)
            entry.roll, entry.roll_sha256 = str(roll_path.relative_to(folder)), sha256_file(roll_path)
            if split != "train":  # the MIDI that was played, kept as the piano corpus keeps it
                from synth.music import piano_midi, write_midi

                (folder / "midi").mkdir(exist_ok=True)
                write_midi(piano_midi([(69 + 12 * speaker, 0.0, n / RATE, 100)]), folder / "midi" / f"{i}.mid")
        entries.append(entry)
    write_manifest(Manifest("tiny", RATE, "made by the test", entries, speakers=["s0", "s1"]), folder)
    return folder


def recipe(name: str, corpus: Path, out: Path, *extra: str, stage: str = "all", **kwargs) -> subprocess.Popen:
    command = [sys.executable, str(ROOT / "recipes" / f"{name}.py"), "--stage", stage, f"data.corpus={corpus}",
               f"out_dir={out}", f"runs_dir={out.parent / 'runs'}", *TINY, *extra]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def finish(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]
    return output


def test_speaker_recipe_trains_evaluates_and_samples_each_voice(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    finish(recipe("wavenet_speakers", corpus, tmp_path / "model", "train.steps=8"))
    model = load_checkpoint(tmp_path / "model")
    assert model.config.n_speakers == 2 and model.metadata["speakers"] == ["s0", "s1"]
    metrics = json.loads((tmp_path / "model/metrics.json").read_text())
    for key in ("bits_per_sample", "baseline_mu_law_marginal_bits", "baseline_linear_prediction_bits"):
        assert 0 < metrics[key] < 8.5, key
    card = (tmp_path / "model/MODEL_CARD.md").read_text()
    assert str(metrics["bits_per_sample"]) in card and str(metrics["baseline_linear_prediction_bits"]) in card
    for s in (0, 1):
        audio, rate = soundfile.read(tmp_path / f"model/sample_speaker{s}.wav")
        assert rate == RATE and len(audio) == 3 * RATE and np.isfinite(audio).all()
    assert any((tmp_path / "runs/wavenet-speakers").glob("events.out.tfevents.*"))
    babble = metrics["babble"]
    try:
        import speechmos  # noqa: F401
    except ImportError:
        assert "speechmos" in babble["skipped"]
        return
    rows = babble["rows"]
    assert list(rows) == ["held-out speech of the same speakers", "white noise, as loud as the samples",
                          "WaveNet samples (free-running)"]
    assert all(1 <= row["dnsmos_overall"] <= 5 and row["clips"] == 2 for row in rows.values())
    assert rows["white noise, as loud as the samples"]["dnsmos_overall"] < 2  # noise scores as noise
    assert "Free-running samples (babble) judged by DNSMOS" in card and "Word error rate" not in babble["markdown"]


def test_vocoder_recipe_stores_its_mel_parameters_and_measures_resynthesis(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    finish(recipe("wavenet_vocoder", corpus, tmp_path / "model", "train.steps=4", "mel.n_mels=20"))
    model = load_checkpoint(tmp_path / "model")
    mel = mel_features_of(model)
    assert (mel.n_mels, mel.hop_length) == (20, HOP) and model.config.cond_channels == 20
    resynthesis = json.loads((tmp_path / "model/metrics.json").read_text())["resynthesis"]
    assert resynthesis["mr_stft"] > 0 and resynthesis["mcd_db"] > 0
    original, _ = soundfile.read(tmp_path / "model/resynthesis_original.wav")
    result, _ = soundfile.read(tmp_path / "model/resynthesis.wav")
    assert len(original) == len(result) > 0


def test_piano_recipe_trains_on_piano_rolls_and_judges_free_running_playback(tmp_path):
    pytest.importorskip("basic_pitch")
    from synth.music.render import SOUND_FONTS, fluidsynth_available

    if fluidsynth_available() is not None:
        pytest.skip(fluidsynth_available())
    fonts = [f for f in SOUND_FONTS if f.is_file()]
    font = next((f for f in fonts if f.name == "FluidR3_GM.sf2"), fonts[0] if fonts else None)  # loads fast
    corpus = make_corpus(tmp_path / "corpus", with_rolls=True)
    finish(recipe("wavenet_piano", corpus, tmp_path / "model", "train.steps=4", "data.judged_seconds=0.5",
                  env={**os.environ, "SYNTH_SOUND_FONT": str(font)}))
    model = load_checkpoint(tmp_path / "model")
    features = model.metadata["features"]
    assert features["kind"] == "piano_roll" and features["onset_envelope_seconds"] == 1.0
    assert model.config.cond_channels == 264 and model.config.pre_emphasis == 0.85 and model.config.lpc_order == 0
    assert model.metadata["train"]["precision"] == "bfloat16"
    assert soundfile.info(str(tmp_path / "model/sample.wav")).frames > 0
    metrics = json.loads((tmp_path / "model/metrics.json").read_text())
    assert metrics["models"] == "the pre-emphasised signal (pre-emphasis 0.85)"
    judged = metrics["piano"]["sets"]
    assert judged["held-out pieces"]["pieces"] == ["10", "11"] and judged["app examples"]["pieces"] == [
        "bach_bwv269_bars1-4", "c_major_scale"]
    assert metrics["piano"]["speed"]["wavenet"] > 0
    card = (tmp_path / "model/MODEL_CARD.md").read_text()
    assert metrics["piano"]["markdown"] in card and "Free-running playback judged offline" in card
    finish(recipe("wavenet_piano", corpus, tmp_path / "model", "data.judged_seconds=0.5", "temperatures=[1.0, 0.8]",
                  stage="temperature"))
    sampling = load_checkpoint(tmp_path / "model").metadata["sampling"]
    assert sampling["temperature"] in (1.0, 0.8) and set(sampling["candidates"]) == {"1", "0.8"}
    assert sampling["chosen_on"] == [f"2 validation-split pieces of {corpus} (first 0.5 s each)"]
    finish(recipe("wavenet_piano", corpus, tmp_path / "model", stage="card"))
    card = (tmp_path / "model/MODEL_CARD.md").read_text()
    assert "chosen by the highest note-onset F1 on 2 validation clips" in card and "| 0.8 |" in card


def state_step(path: Path) -> int:
    try:
        with safe_open(str(path), "pt") as f:
            return int(f.metadata()["step"])
    except Exception:  # not written yet
        return -1


def test_a_recipe_killed_with_sigkill_resumes_and_matches_an_uninterrupted_run(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    steps = ["train.steps=120", "train.ema_decay=0.9", "data.input_noise=3"]  # noise drawn from the batch generator too
    finish(recipe("wavenet_speakers", corpus, tmp_path / "straight", *steps, stage="train"))

    state = tmp_path / "killed/training_state.safetensors"
    process = recipe("wavenet_speakers", corpus, tmp_path / "killed", *steps, stage="train")
    deadline = time.time() + 300
    while state_step(state) < 8 and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.communicate()
    killed_at = state_step(state)
    assert 8 <= killed_at < 120, f"the kill came at step {killed_at}; it should land mid-run"
    finish(recipe("wavenet_speakers", corpus, tmp_path / "killed", *steps, stage="train"))

    with safe_open(str(tmp_path / "straight/training_state.safetensors"), "pt") as a, safe_open(str(state), "pt") as b:
        assert a.metadata()["step"] == b.metadata()["step"] == "120"
        for key in a.keys():  # raw weights, EMA weights and optimizer moments
            assert torch.equal(a.get_tensor(key), b.get_tensor(key)), key
    assert load_checkpoint(tmp_path / "killed").metadata["step"] == 120


def state_model(path: Path):
    """The (non-EMA) WaveNet of a training state file, with the config stored in it."""
    from synth.checkpoint import config_from_dict
    from synth.models.wavenet import WaveNet, WaveNetConfig

    with safe_open(str(path), "pt") as f:
        model = WaveNet(config_from_dict(WaveNetConfig, json.loads(f.metadata()["model_config"])))
        model.load_state_dict({k[len("model."):]: f.get_tensor(k) for k in f.keys() if k.startswith("model.")})
    return model.eval()


def outputs_of_both(before, after, channels: int, lengths: int = 2, extra_frames: int = 2):
    """Both models' outputs on the same random inputs and conditioning frames (channels x frames)."""
    g = torch.Generator().manual_seed(0)
    T = lengths * max(before.config.receptive_field, after.config.receptive_field)
    inputs = torch.randint(0, 256, (1, T), generator=g)
    frames = torch.rand(1, channels, T // HOP + extra_frames, generator=g)
    with torch.no_grad():
        return before(inputs, frames=frames), after(inputs, frames=frames)


def test_a_vocoder_trained_without_lookahead_goes_on_with_it_and_computes_the_same(tmp_path):
    corpus, out = make_corpus(tmp_path / "corpus"), tmp_path / "model"
    state = out / "training_state.safetensors"
    finish(recipe("wavenet_vocoder", corpus, out, "train.steps=4", "mel.n_mels=20", "model.cond_lookahead=0",
                  "model.cond_frame_kernel=3", stage="train"))
    before = state_model(state)
    assert before.config.cond_lookahead == 0
    finish(recipe("wavenet_vocoder", corpus, out, "mel.n_mels=20", stage="lookahead"))
    after = state_model(state)
    assert (after.config.cond_lookahead, after.config.cond_frame_kernel) == (2, 5)
    with safe_open(str(state), "pt") as f:  # the EMA weights and AdamW's moments grew the same zero taps
        for key in ("ema.module.upsampler.frame_conv.weight", "model.upsampler.frame_conv.weight"):
            assert f.get_slice(key).get_shape()[-1] == 5 and not f.get_tensor(key)[..., 3:].any()
        moments = [k for k in f.keys() if k.startswith("optimizer.") and f.get_slice(k).get_shape()[-1:] == [5]]
        assert len(moments) == 2
    a, b = outputs_of_both(before, after, 20, lengths=3)
    settled = before.config.receptive_field + 4 * HOP  # past the first frames' zero padding
    torch.testing.assert_close(a[:, settled:], b[:, settled:], atol=1e-4, rtol=0)
    output = finish(recipe("wavenet_vocoder", corpus, out, "train.steps=8", "mel.n_mels=20", stage="train"))
    assert "at step 4" in output and state_step(state) == 8
    again = recipe("wavenet_vocoder", corpus, out, "mel.n_mels=20", stage="lookahead")
    output, _ = again.communicate(timeout=600)
    assert again.returncode != 0 and "can only grow" in output


def test_a_trained_run_gains_a_stack_and_goes_on_computing_the_same(tmp_path):
    corpus, out = make_corpus(tmp_path / "corpus"), tmp_path / "model"
    state = out / "training_state.safetensors"
    finish(recipe("wavenet_vocoder", corpus, out, "train.steps=4", "mel.n_mels=20", stage="train"))
    before = state_model(state)
    with safe_open(str(state), "pt") as f:
        old = {k: f.get_tensor(k) for k in f.keys()}
    finish(recipe("wavenet_vocoder", corpus, out, "mel.n_mels=20", "model.n_stacks=2", stage="deepen"))
    after = state_model(state)
    assert (before.config.n_layers, after.config.n_layers) == (4, 8)
    residual, scale = after.config.residual_channels, 2 ** 0.5  # sqrt(8 layers / 4)
    with safe_open(str(state), "pt") as f:
        new = {k: f.get_tensor(k) for k in f.keys()}
    names = [n for n, _ in after.named_parameters()]
    for i in range(4, 8):  # the new layers add no skip yet, in the weights and the EMA; AdamW starts them afresh
        for prefix in ("model.", "ema.module."):
            assert not new[f"{prefix}layers.{i}.residual_skip.weight"][residual:].any()
            assert new[f"{prefix}layers.{i}.residual_skip.weight"][:residual].any()
        index = names.index(f"layers.{i}.conv.weight")
        assert float(new[f"optimizer.{index}.step"]) == 0 and not new[f"optimizer.{index}.exp_avg_sq"].any()
    old_names = [n for n, _ in before.named_parameters()]
    i_old, i_new = old_names.index("layers.1.residual_skip.weight"), names.index("layers.1.residual_skip.weight")
    for key, power in (("exp_avg", 1), ("exp_avg_sq", 2)):  # the old skips grew by sqrt(2), their moments with them
        torch.testing.assert_close(new[f"optimizer.{i_new}.{key}"][residual:], old[f"optimizer.{i_old}.{key}"][residual:] * scale ** power)
        torch.testing.assert_close(new[f"optimizer.{i_new}.{key}"][:residual], old[f"optimizer.{i_old}.{key}"][:residual])
    torch.testing.assert_close(new["ema.module.layers.1.residual_skip.bias"][residual:],
                               old["ema.module.layers.1.residual_skip.bias"][residual:] * scale)
    torch.testing.assert_close(*outputs_of_both(before, after, 20), atol=1e-5, rtol=1e-5)
    output = finish(recipe("wavenet_vocoder", corpus, out, "train.steps=8", "mel.n_mels=20", "model.n_stacks=2",
                          stage="train"))
    assert "at step 4" in output and state_step(state) == 8
    assert state_model(state).layers[5].residual_skip.weight[residual:].any()  # the new layers learn
    again = recipe("wavenet_vocoder", corpus, out, "mel.n_mels=20", "model.n_stacks=2", stage="deepen")
    output, _ = again.communicate(timeout=600)
    assert again.returncode != 0 and "can only be added" in output


@pytest.mark.parametrize("name", ["wavenet_vocoder", "wavenet_speakers"])
def test_a_trained_run_gains_channels_and_goes_on_computing_the_same(tmp_path, name):
    corpus, out = make_corpus(tmp_path / "corpus"), tmp_path / "model"
    state = out / "training_state.safetensors"
    extra = ["mel.n_mels=20"] if name == "wavenet_vocoder" else []
    finish(recipe(name, corpus, out, "train.steps=4", *extra, stage="train"))
    before = state_model(state)
    with safe_open(str(state), "pt") as f:
        old = {k: f.get_tensor(k) for k in f.keys()}
    wider = ["model.residual_channels=12", "model.gate_channels=20"]  # TINY: 8 / 12 (6 gate units -> 10)
    finish(recipe(name, corpus, out, *extra, *wider, stage="widen"))
    after = state_model(state)
    assert (after.config.residual_channels, after.config.gate_channels, after.config.skip_channels) == (12, 20, 10)
    with safe_open(str(state), "pt") as f:
        new = {k: f.get_tensor(k) for k in f.keys()}
    names = [n for n, _ in after.named_parameters()]
    old_names = [n for n, _ in before.named_parameters()]
    for prefix in ("model.", "ema.module."):
        out_w, conv = new[f"{prefix}layers.1.residual_skip.weight"], new[f"{prefix}layers.1.conv.weight"]
        old_out, old_conv = old[f"{prefix}layers.1.residual_skip.weight"], old[f"{prefix}layers.1.conv.weight"]
        assert out_w.shape == (12 + 10, 10, 1) and conv.shape == (20, 12, 2)
        torch.testing.assert_close(out_w[:8, :6], old_out[:8])  # old residual rows, old gate units
        torch.testing.assert_close(out_w[12:, :6], old_out[8:])  # skip rows after the new residual ones
        assert not out_w[8:12].any() and not out_w[:, 6:].any()  # nothing new is written yet
        torch.testing.assert_close(conv[:6, :8], old_conv[:6])  # filter half, then gate half, each grown
        torch.testing.assert_close(conv[10:16, :8], old_conv[6:])
        assert conv[6:10].abs().sum() > 0 and conv[:, 8:].abs().sum() > 0  # fresh weights read and make the new
        assert not new[f"{prefix}input_embedding.weight"][:, 8:].any()
    torch.testing.assert_close(new["model.layers.1.conv.weight"][6:10], new["ema.module.layers.1.conv.weight"][6:10])
    i_old, i_new = old_names.index("layers.1.conv.weight"), names.index("layers.1.conv.weight")
    avg, avg_sq = new[f"optimizer.{i_new}.exp_avg"], new[f"optimizer.{i_new}.exp_avg_sq"]
    torch.testing.assert_close(avg_sq[10:16, :8], old[f"optimizer.{i_old}.exp_avg_sq"][6:])
    assert not avg[6:10].any() and torch.allclose(avg_sq[6:10], old[f"optimizer.{i_old}.exp_avg_sq"].mean().expand(4, 12, 2))
    channels = 20 if name == "wavenet_vocoder" else 0
    if channels:
        torch.testing.assert_close(*outputs_of_both(before, after, channels), atol=1e-5, rtol=1e-5)
    else:  # the speaker model: the same with a speaker id
        g = torch.Generator().manual_seed(0)
        inputs = torch.randint(0, 256, (2, 2 * before.config.receptive_field), generator=g)
        with torch.no_grad():
            torch.testing.assert_close(before(inputs, speaker=torch.tensor([0, 1])), after(inputs, speaker=torch.tensor([0, 1])),
                                       atol=1e-5, rtol=1e-5)
    output = finish(recipe(name, corpus, out, "train.steps=8", *extra, *wider, stage="train"))
    assert "at step 4" in output and state_step(state) == 8
    trained = state_model(state)
    assert trained.layers[1].residual_skip.weight[:, 6:].any() and trained.layers[1].residual_skip.weight[8:12].any()
    for again_wider in (wider, ["model.residual_channels=8", "model.gate_channels=24"]):  # only more
        again = recipe(name, corpus, out, *extra, *again_wider, stage="widen")
        output, _ = again.communicate(timeout=600)
        assert again.returncode != 0 and "can only be added" in output


def test_a_piano_run_gains_the_keys_sines_and_goes_on_computing_the_same(tmp_path):
    corpus, out = make_corpus(tmp_path / "corpus", with_rolls=True), tmp_path / "model"
    state = out / "training_state.safetensors"
    finish(recipe("wavenet_piano", corpus, out, "train.steps=4", stage="train"))
    before = state_model(state)
    with safe_open(str(state), "pt") as f:
        old = {k: f.get_tensor(k) for k in f.keys()}
    finish(recipe("wavenet_piano", corpus, out, "model.key_harmonics=2", stage="sines"))
    after = state_model(state)
    assert (before.config.key_harmonics, after.config.key_harmonics) == (0, 2)
    hidden = before.config.cond_hidden_channels
    with safe_open(str(state), "pt") as f:
        new = {k: f.get_tensor(k) for k in f.keys()}
    index = [n for n, _ in after.named_parameters()].index("layers.2.cond_proj.weight")
    for key in ("model.layers.2.cond_proj.weight", "ema.module.layers.2.cond_proj.weight",
                f"optimizer.{index}.exp_avg", f"optimizer.{index}.exp_avg_sq"):  # 4 new input columns at zero
        assert new[key].shape == (12, hidden + 4, 1) and not new[key][:, hidden:].any()
        torch.testing.assert_close(new[key][:, :hidden], old[key])
    torch.testing.assert_close(*outputs_of_both(before, after, 264, extra_frames=1), atol=1e-5, rtol=1e-5)
    output = finish(recipe("wavenet_piano", corpus, out, "train.steps=8", "model.key_harmonics=2", stage="train"))
    assert "at step 4" in output and state_step(state) == 8
    assert state_model(state).layers[0].cond_proj.weight[:, hidden:].any()  # the sines' columns learn
    for extra in (["model.key_harmonics=2"], ["model.key_harmonics=1"]):  # only more harmonics can be added
        again = recipe("wavenet_piano", corpus, out, *extra, stage="sines")
        output, _ = again.communicate(timeout=600)
        assert again.returncode != 0 and "can only be added" in output


def test_crops_for_a_lookahead_model_carry_the_frames_after_the_crop(tmp_path):
    from synth.audio import MelFeatures
    from synth.corpora.audio import AudioSplit

    split = AudioSplit(make_corpus(tmp_path / "corpus"), "train", conditioning="mel", mel=MelFeatures(n_mels=20))
    n, L = 29, 3  # 29-frame crops of 31- to 43-frame clips: some reach the clip's end
    plain = split.crops(torch.Generator().manual_seed(4), 16, n * HOP)
    ahead = split.crops(torch.Generator().manual_seed(4), 16, n * HOP, lookahead_frames=L)
    assert torch.equal(plain["audio"], ahead["audio"]) and ahead["frames"].shape == (16, 20, n + L)
    assert torch.equal(ahead["frames"][..., :n], plain["frames"])
    copies = 0
    for frames in ahead["frames"]:  # a crop's next frames are its clip's own, then copies of the clip's last
        clip, f0 = next((c, f) for c in split.clips for f in range(c.frames.shape[1] - n + 1)
                        if torch.equal(frames[:, :n], c.frames[:, f:f + n]))
        tail = clip.frames[:, f0 + n:f0 + n + L]
        assert torch.equal(frames[:, n:n + tail.shape[1]], tail)
        for i in range(n + tail.shape[1], n + L):
            assert torch.equal(frames[:, i], clip.frames[:, -1])
            copies += 1
    assert copies > 0
