"""MIDI played through a piano-roll-conditioned WaveNet checkpoint."""
import numpy as np
import pytest
import torch

from synth.checkpoint import save_checkpoint
from synth.errors import CheckpointError, InputError
from synth.music.midi import piano_midi
from synth.music.piano_wavenet import PianoWaveNetRenderer
from synth.music.pianoroll import conditioning_roll
from synth.music.render import RELEASE_SECONDS, make_renderer
from synth.solvers.wavenet import resynthesise

from conftest import tiny_wavenet


@pytest.fixture
def piano_checkpoint(tmp_path):
    model = tiny_wavenet(0, cond_channels=176, upsample_scales=(16, 16))
    save_checkpoint(model, tmp_path, metadata={"features": {"kind": "piano_roll", "hop_length": 256}})
    return tmp_path


def test_a_midi_file_plays_for_its_length_plus_the_release_and_follows_its_roll(piano_checkpoint):
    midi = piano_midi([(60, 0.0, 0.3, 90), (64, 0.2, 0.5, 70)], tempo_bpm=120)
    renderer = PianoWaveNetRenderer(checkpoint=piano_checkpoint)
    audio = renderer.render(midi, seed=3)
    n = int(np.ceil((midi.get_end_time() + RELEASE_SECONDS) * 16000))
    assert audio.shape == (n,) and audio.dtype == np.float32 and np.isfinite(audio).all()
    frames = torch.from_numpy(conditioning_roll(midi, n)).t()
    expected = resynthesise(renderer.model, frames, None, seed=3).numpy()
    np.testing.assert_array_equal(audio, expected)  # the one conditioning function, the one engine
    assert not np.array_equal(audio, renderer.render(midi, seed=4))


def test_a_checkpoint_that_is_not_a_piano_model_is_refused(tmp_path):
    save_checkpoint(tiny_wavenet(0), tmp_path, metadata={})
    with pytest.raises(InputError, match="not a piano-roll WaveNet"):
        PianoWaveNetRenderer(checkpoint=tmp_path)


def test_an_absurdly_long_midi_is_refused_with_the_limit(piano_checkpoint):
    midi = piano_midi([(60, 0.0, 3000.0, 90)])
    with pytest.raises(InputError, match="plays at most"):
        PianoWaveNetRenderer(checkpoint=piano_checkpoint).render(midi)


def test_the_wavenet_renderer_is_found_by_name_and_says_when_its_model_is_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    make_renderer.cache_clear()
    with pytest.raises(CheckpointError, match="wavenet-piano.*missing"):
        make_renderer("wavenet")
