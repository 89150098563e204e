"""Audio I/O and features."""
import numpy as np
import pytest
import soundfile
import torch

from synth.audio import MelFeatures, mu_law_decode, mu_law_encode, read_audio, write_audio
from synth.errors import AudioError


def test_mu_law_round_trip_is_close_and_companded():
    x = torch.linspace(-1, 1, 1001)
    classes = mu_law_encode(x)
    assert classes.min() == 0 and classes.max() == 255 and mu_law_encode(torch.zeros(1)).item() == 128
    assert (mu_law_decode(classes) - x).abs().max() < 0.04
    small = torch.linspace(-0.01, 0.01, 101)  # quiet signals get finer steps than loud ones
    assert (mu_law_decode(mu_law_encode(small)) - small).abs().max() < 0.001


def test_written_audio_reads_back_with_soundfile(tmp_path):
    wave = 0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000).astype(np.float32)
    path = write_audio(tmp_path / "a.wav", wave, 16000)
    data, rate = soundfile.read(path)
    assert rate == 16000 and data.shape == (16000,)
    assert np.abs(data - wave).max() < 1e-4
    back, rate = read_audio(path, sample_rate=8000)
    assert rate == 8000 and abs(len(back) - 8000) <= 1


def test_bad_audio_files_are_refused_with_the_reason(tmp_path):
    (tmp_path / "text.wav").write_text("this is not audio")
    with pytest.raises(AudioError, match="not a readable audio file"):
        read_audio(tmp_path / "text.wav")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="empty"):
        read_audio(tmp_path / "empty.wav")
    with pytest.raises(AudioError, match="no such audio file"):
        read_audio(tmp_path / "missing.wav")
    write_audio(tmp_path / "long.wav", np.zeros(16000 * 3, dtype=np.float32), 16000)
    with pytest.raises(AudioError, match="longer than the 2 s allowed"):
        read_audio(tmp_path / "long.wav", max_seconds=2)


def test_mel_frames_align_with_samples():
    features = MelFeatures()
    mel = features(torch.randn(2, 16000) * 0.1)
    assert mel.shape == (2, 80, 16000 // 256)
    assert torch.isfinite(mel).all()
