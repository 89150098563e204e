"""Text to speech and composer styles on the faces: ``synth say`` and ``synth compose --style`` run
as a user runs them, and the app's ``/say`` served for real on loopback; tiny checkpoints made here,
found through SYNTH_ASSETS; files read back with soundfile, Pillow and mido."""
import os
import subprocess
import sys

import mido
import pytest
import soundfile
from PIL import Image

from app_assets import TINY_MEL, make_tiny_assets, make_tiny_tts, serve_app
from synth.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    root = make_tiny_assets(tmp_path_factory.mktemp("assets"))
    make_tiny_tts(root / "tts-kathleen")
    (root / "composer").rename(root / "composer-folk")  # one style bundled, the others missing
    return root


@pytest.fixture
def bundled(assets, monkeypatch):
    monkeypatch.setenv("SYNTH_ASSETS", str(assets))


# --- synth say ---------------------------------------------------------------------------------

def test_say_runs_as_a_command_and_writes_the_wav_the_mel_and_the_attention(tmp_path, assets):
    out, mel, attention = tmp_path / "say.wav", tmp_path / "mel.png", tmp_path / "attention.png"
    result = subprocess.run([sys.executable, "-m", "synth", "say", "Hello there. It is 3 pm.", "-o", str(out),
                             "--seed", "4", "--mel-png", str(mel), "--attention-png", str(attention)],
                            capture_output=True, text=True, timeout=600, env={**os.environ, "SYNTH_ASSETS": str(assets)})
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(out)
    assert rate == 16000 and data.std() > 0
    assert len(data) % TINY_MEL.hop_length == 0  # one hop of audio per mel frame
    assert "2 sentence(s) through wavenet" in result.stdout and "saying" in result.stderr  # the progress bar
    for picture in (mel, attention):
        with Image.open(picture) as image:
            assert image.format == "PNG" and image.width > 100


def test_say_through_griffin_lim_reads_the_same_frames_for_the_same_seed(tmp_path, bundled, capsys):
    a, b = tmp_path / "a.wav", tmp_path / "b.wav"
    for out in (a, b):
        assert main(["say", "One two three.", "--vocoder", "griffin-lim", "--seed", "2", "-q", "-o", str(out)]) == 0
    assert "through griffin-lim" in capsys.readouterr().out
    (x, rate), (y, _) = soundfile.read(a), soundfile.read(b)
    # The same frames (a hop of audio each); Griffin-Lim's random starting phase is not seeded.
    assert rate == 16000 and len(x) == len(y) > 0 and len(x) % TINY_MEL.hop_length == 0 and x.std() > 0


@pytest.mark.parametrize("args, words", [
    (["   "], "empty"),
    (["x" * 2001], "at most 2000"),
    (["a \u2603 snowman"], "SNOWMAN"),
    (["hello.", "--seed", "-1"], "seed"),
    (["hello.", "--temperature", "99"], "temperature"),
    (["hello.", "--vocoder", "magic"], "griffin-lim"),
    (["hello.", "--max-retries", "99"], "max_retries"),
    (["hello.", "--mel-png", "mel.jpg"], ".png"),
], ids=["empty", "too-long", "unreadable", "seed", "temperature", "vocoder", "retries", "picture"])
def test_say_refuses_bad_input_in_one_line_with_status_2(tmp_path, bundled, capsys, args, words):
    assert main(["say", *args, "-q", "-o", str(tmp_path / "x.wav")]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and words in errors[0] and "Traceback" not in err
    assert not (tmp_path / "x.wav").exists()


def test_say_names_the_missing_text_to_mel_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    assert main(["say", "hello.", "-q", "-o", str(tmp_path / "x.wav")]) == 2
    assert "the text-to-speech model is missing" in capsys.readouterr().err


# --- synth compose --style -----------------------------------------------------------------------

def test_compose_in_a_style_uses_its_composer_and_its_tempo(tmp_path, bundled, capsys):
    out = tmp_path / "folk.mid"
    assert main(["compose", "--style", "folk", "--bars", "2", "--seed", "1", "-q", "--out", str(out)]) == 0
    midi = mido.MidiFile(out)
    assert mido.tempo2bpm(next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo")) == pytest.approx(120)
    assert "120 bpm" in capsys.readouterr().out


def test_compose_refuses_an_unknown_style_naming_the_styles(tmp_path, bundled, capsys):
    assert main(["compose", "--style", "jazz", "-q", "--out", str(tmp_path / "x.mid")]) == 2
    assert "unknown style 'jazz'; the styles are: chorales, folk, piano, classical" in capsys.readouterr().err


def test_compose_names_a_style_whose_composer_is_not_bundled(tmp_path, bundled, capsys):
    assert main(["compose", "--style", "piano", "-q", "--out", str(tmp_path / "x.mid")]) == 2
    err = capsys.readouterr().err
    assert "the piano composer model is missing" in err and "composer-piano" in err


def test_compose_help_lists_the_styles(capsys):
    with pytest.raises(SystemExit):
        main(["compose", "--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in ("chorales", "folk", "piano", "classical"))


# --- the app -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(assets):
    from gradio_client import Client

    served = serve_app(assets)
    yield Client(next(served), verbose=False)
    next(served, None)


def test_the_say_endpoint_gives_the_wav_the_mel_and_the_attention(client):
    live, wav, mel, attention, status = client.predict("Hello there. See you at 3 pm!", "wavenet", 3,
                                                       api_name="/say")
    data, rate = soundfile.read(wav)
    assert rate == 16000 and data.std() > 0 and len(data) % TINY_MEL.hop_length == 0
    for picture in (mel, attention):
        with Image.open(picture) as image:
            assert image.format == "PNG" and image.width > 100
    assert "2 sentence(s) through wavenet" in status


@pytest.mark.parametrize("text, words", [
    ("", "empty"), ("word " * 101, "the app reads at most 500 aloud"), ("Hello 世界", "CJK"),
], ids=["empty", "too-long", "unreadable"])
def test_the_say_endpoint_refuses_bad_text_and_keeps_answering(client, text, words):
    with pytest.raises(Exception, match=words):
        client.predict(text, "griffin-lim", 0, api_name="/say")
    assert soundfile.read(client.predict("Hi.", "griffin-lim", 1, api_name="/say")[1])[1] == 16000


def test_the_composer_endpoint_takes_a_style_and_names_a_missing_one(client):
    roll, midi_path, wav, status = client.predict(2, 1.0, 2, 120, None, "folk", api_name="/compose")
    assert mido.MidiFile(midi_path).length > 0 and "120 bpm" in status
    with pytest.raises(Exception, match="composer-classical"):
        client.predict(2, 1.0, 2, 100, None, "classical", api_name="/compose")


def test_without_a_text_to_mel_model_the_app_starts_and_says_so(tmp_path, monkeypatch):
    import gradio as gr

    import app
    from synth.app import speech

    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    page = app.build_app()
    text = " ".join(str(getattr(block, "value", "")) for block in page.blocks.values() if isinstance(block, gr.Markdown))
    assert "the text-to-speech model is missing" in text.lower()
    with pytest.raises(gr.Error, match="text-to-speech model is missing"):
        list(speech.say("hello.", "wavenet", 0, progress=lambda *a, **k: None))
