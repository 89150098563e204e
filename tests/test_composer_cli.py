"""``synth compose``: MIDI, audio and picture out; bad input ends with a one-line error."""
from pathlib import Path

import mido
import pytest
import soundfile
import torch
from PIL import Image

from synth.checkpoint import save_checkpoint
from synth.cli import main
from synth.models.composer import Composer, ComposerConfig
from synth.music import piano_midi, write_midi
from synth.music.render import fluidsynth_available


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    model = Composer(ComposerConfig(hidden_size=16, n_layers=1, nade_hidden=8, steps_per_quarter=1))
    return save_checkpoint(model, tmp_path_factory.mktemp("composer"))


def test_compose_writes_midi_and_a_picture(tmp_path, checkpoint):
    out, png = tmp_path / "x.mid", tmp_path / "x.png"
    assert main(["compose", "-c", str(checkpoint), "--bars", "4", "--seed", "1", "--tempo", "100", "-q",
                 "--out", str(out), "--roll-png", str(png)]) == 0
    midi_file = mido.MidiFile(out)
    assert mido.tempo2bpm(next(m.tempo for m in midi_file.tracks[0] if m.type == "set_tempo")) == pytest.approx(100)
    assert Image.open(png).size[0] >= 16


def test_compose_batch_writes_one_file_per_piece(tmp_path, checkpoint):
    out = tmp_path / "piece.mid"
    assert main(["compose", "-c", str(checkpoint), "--bars", "2", "--batch", "2", "--seed", "1", "-q", "--out", str(out)]) == 0
    assert (tmp_path / "piece_0.mid").is_file() and (tmp_path / "piece_1.mid").is_file()


@pytest.mark.skipif(fluidsynth_available() is not None, reason=f"FluidSynth unavailable: {fluidsynth_available()}")
def test_compose_renders_audio(tmp_path, checkpoint, monkeypatch):
    import pretty_midi

    from synth.music.render import make_renderer

    monkeypatch.setenv("SYNTH_SOUND_FONT", str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"))  # loads fast
    make_renderer.cache_clear()
    primer = write_midi(piano_midi([(60, 0.0, 1.0, 80), (64, 0.0, 1.0, 80)]), tmp_path / "p.mid")
    wav = tmp_path / "x.wav"
    assert main(["compose", "-c", str(checkpoint), "--bars", "2", "--seed", "2", "-q", "--primer", str(primer),
                 "--out", str(tmp_path / "x.mid"), "--wav", str(wav), "--sample-rate", "16000"]) == 0
    audio, rate = soundfile.read(wav)
    assert rate == 16000 and len(audio) > 16000 and abs(audio).max() > 0.1
    make_renderer.cache_clear()


@pytest.mark.parametrize("extra, words", [
    (["--bars", "100000"], "bars must be a whole number from 1 to"),
    (["--primer", "NOTAFILE.mid"], "no such file"),
    (["--tempo", "0"], "tempo must be from 10 to 400"),
])
def test_bad_requests_end_with_a_clear_error(tmp_path, checkpoint, capsys, extra, words):
    assert main(["compose", "-c", str(checkpoint), "-q", "--out", str(tmp_path / "x.mid"), *extra]) == 2
    assert words in capsys.readouterr().err


def test_non_midi_primer_is_refused(tmp_path, checkpoint, capsys):
    bad = tmp_path / "song.mid"
    bad.write_bytes(b"ID3\x03\x00 an mp3 really")
    assert main(["compose", "-c", str(checkpoint), "-q", "--primer", str(bad), "--out", str(tmp_path / "x.mid")]) == 2
    assert "not a MIDI file" in capsys.readouterr().err


def test_bundled_composer_loads_and_composes(tmp_path):
    from synth.checkpoint import load_checkpoint
    from synth.music.composition import compose
    from synth.services.models import checkpoint_path

    model = load_checkpoint(checkpoint_path("composer"), expect_kind="composer")
    assert model.config.head == "nade" and "Held-out results" in model.card
    piece = compose(model, bars=2, seed=0)[0]
    assert piece.roll.keys.shape == (2 * model.config.steps_per_bar, 88) and piece.roll.keys.any()
