"""The text-to-speech service: say / say_stream with the WaveNet vocoder (streamed) and with
Griffin-Lim, its files read back with independent libraries, and its refusals."""
import numpy as np
import pytest
import soundfile
from PIL import Image

from synth.errors import CheckpointError, InputError
from synth.services.tts import say, say_stream
from synth.tts.normalise import UnreadableTextError
from test_tts import tiny, tiny_vocoder

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def models():
    model = tiny()
    return model, tiny_vocoder(model)


def test_say_streams_audio_then_gives_wav_mel_and_attention(models, tmp_path):
    model, vocoder = models
    stream = say_stream("Hello there. See you at 3 pm!", seed=3, model=model, vocoder=vocoder, chunk_seconds=0.05)
    chunks = list(stream)
    speech = stream.result()
    assert len(chunks) > 1 and all(c.dtype == np.float32 for c in chunks)
    assert np.array_equal(np.concatenate(chunks), speech.audio)
    assert [s.text for s in speech.sentences] == ["hello there.", "see you at three pee em."]
    assert len(speech.audio) == speech.mel.shape[1] * 256  # one hop of audio per frame
    assert speech.first_audio_seconds <= speech.seconds
    audio, rate = soundfile.read(speech.write_wav(tmp_path / "a.wav"))
    assert rate == 16000 and len(audio) == len(speech.audio)
    for picture in (speech.write_mel_png(tmp_path / "mel.png"), speech.write_attention_png(tmp_path / "att.png")):
        with Image.open(picture) as image:
            assert image.format == "PNG" and image.width > 100


def test_the_same_seed_says_the_same(models):
    model, vocoder = models
    a = say("One two three.", seed=9, model=model, vocoder=vocoder).audio
    b = say("One two three.", seed=9, model=model, vocoder=vocoder, chunk_seconds=0.5).audio
    assert np.array_equal(a, b)


def test_griffin_lim_plays_the_mel_without_a_vocoder(models):
    model, _ = models
    speech = say("Quiet now. Again.", seed=0, model=model, use="griffin-lim")
    assert speech.vocoder == "griffin-lim" and speech.sample_rate == 16000
    assert len(speech.audio) == speech.mel.shape[1] * 256


def test_griffin_lim_audio_is_the_same_for_the_same_seed(models):
    model, _ = models
    a = say("Quiet now.", seed=4, model=model, use="griffin-lim").audio
    assert np.array_equal(a, say("Quiet now.", seed=4, model=model, use="griffin-lim").audio)


@pytest.mark.parametrize("text, error, message", [
    ("", InputError, "empty"),
    ("   ", InputError, "empty"),
    ("x" * 2001, InputError, "at most 2000"),
    ("Hello 世界", UnreadableTextError, "CJK"),
    ("a \u2603 snowman", UnreadableTextError, "SNOWMAN"),
    (42, InputError, "string"),
])
def test_bad_text_is_refused_with_a_clear_message(models, text, error, message):
    model, vocoder = models
    with pytest.raises(error, match=message):
        say(text, model=model, vocoder=vocoder)


@pytest.mark.parametrize("settings, message", [
    ({"seed": -1}, "seed"), ({"seed": 1.5}, "seed"), ({"max_retries": 99}, "max_retries"),
    ({"chunk_seconds": 0}, "chunk_seconds"), ({"temperature": 99}, "temperature"), ({"use": "magic"}, "griffin-lim"), ({"speaker": 7}, "speaker"),
])
def test_absurd_settings_are_refused(models, settings, message):
    model, vocoder = models
    with pytest.raises(InputError, match=message):
        say("hello.", model=model, vocoder=vocoder, **settings)


def test_the_app_reads_less_at_once_than_the_command(models):
    from synth.services.bounds import APP

    model, vocoder = models
    with pytest.raises(InputError, match="the app reads at most 500 aloud"):
        say("word " * 101, model=model, vocoder=vocoder, limits=APP)


def test_a_missing_bundled_model_is_named(monkeypatch, tmp_path):
    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    with pytest.raises(CheckpointError, match="text-to-speech"):
        say("hello.")
