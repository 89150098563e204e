"""The ``synth`` command, run as a user runs it."""
import subprocess
import sys

import soundfile

from synth.checkpoint import save_checkpoint

from conftest import tiny_wavenet


def run_synth(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_wavenet_generate_writes_a_wav_of_the_right_rate_and_length(tmp_path):
    checkpoint = save_checkpoint(tiny_wavenet(n_speakers=2), tmp_path / "ckpt")
    out = tmp_path / "speech.wav"
    result = run_synth("wavenet", "generate", "-c", str(checkpoint), "--seconds", "0.25", "--speaker", "1",
                       "--seed", "7", "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(out)
    assert rate == 16000 and data.shape == (4000,)
    assert data.std() > 0


def test_wavenet_generate_writes_one_file_per_stream(tmp_path):
    checkpoint = save_checkpoint(tiny_wavenet(), tmp_path / "ckpt")
    result = run_synth("wavenet", "generate", "-c", str(checkpoint), "--seconds", "0.05", "--batch", "2",
                       "--top-k", "20", "-o", str(tmp_path / "x.wav"), "-q")
    assert result.returncode == 0, result.stderr
    for i in range(2):
        data, rate = soundfile.read(tmp_path / f"x_{i}.wav")
        assert data.shape == (800,)


def test_bad_requests_get_a_clear_error_and_no_traceback(tmp_path):
    checkpoint = save_checkpoint(tiny_wavenet(n_speakers=2), tmp_path / "ckpt")
    result = run_synth("wavenet", "generate", "-c", str(checkpoint), "--seconds", "100000", "--speaker", "0")
    assert result.returncode == 2 and "seconds must be more than 0 and at most 600" in result.stderr
    result = run_synth("wavenet", "generate", "-c", str(checkpoint), "--seconds", "0.1", "--speaker", "5")
    assert result.returncode == 2 and "speaker id 5 is out of range; ids are 0 to 1" in result.stderr
    result = run_synth("wavenet", "generate", "-c", str(tmp_path / "nothing"))
    assert result.returncode == 2 and "no checkpoint folder here" in result.stderr
    assert "Traceback" not in result.stderr


def test_info_describes_the_checkpoint(tmp_path):
    checkpoint = save_checkpoint(tiny_wavenet(), tmp_path / "ckpt")
    result = run_synth("wavenet", "info", "-c", str(checkpoint))
    assert result.returncode == 0 and '"receptive_field_samples": 15' in result.stdout
