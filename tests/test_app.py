"""The app, served for real on loopback and called through gradio_client: every endpoint gives
valid files (read back with soundfile, mido, Pillow), and every bad input gets its message while
the server keeps answering. The models are tiny checkpoints made here, found through SYNTH_ASSETS."""
import json
import os
import re
import shutil
import struct

import mido
import numpy as np
import pytest
import soundfile
from PIL import Image

from app_assets import BUNDLED_STYLES, HANDWRITING_CODE, SPEAKERS, TINY_MEL, make_tiny_assets, serve_app

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "assets", "examples")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_tiny_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(scope="module")
def served_app(assets):
    yield from serve_app(assets)


@pytest.fixture(scope="module")
def client(served_app):
    from gradio_client import Client

    return Client(served_app, verbose=False)


def upload(path):
    from gradio_client import handle_file

    return handle_file(str(path))


def assert_still_answers(client):
    """The server answers a good request right after a refused one."""
    result = client.predict("alice", 0.1, 1.0, 1, api_name="/generate_speech")
    assert soundfile.read(result[1])[0].shape == (1600,)


def test_speech_endpoint_streams_and_returns_a_wav_and_a_spectrogram(client):
    live, wav, picture, status = client.predict("bob", 0.25, 0.9, 5, api_name="/generate_speech")
    data, rate = soundfile.read(wav)
    assert rate == 16000 and data.shape == (4000,) and data.std() > 0
    with Image.open(picture) as image:
        assert image.format == "PNG" and image.height == 160 and image.width >= 200
    assert "0.25 s at 16000 Hz" in status


def test_speech_with_a_seed_is_repeatable_and_speakers_differ(client):
    a = soundfile.read(client.predict("alice", 0.1, 1.0, 3, api_name="/generate_speech")[1])[0]
    b = soundfile.read(client.predict("alice", 0.1, 1.0, 3, api_name="/generate_speech")[1])[0]
    c = soundfile.read(client.predict("bob", 0.1, 1.0, 3, api_name="/generate_speech")[1])[0]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_resynthesis_returns_one_hop_per_frame_of_the_clip_and_both_spectrograms(client):
    clip = os.path.join(EXAMPLES, "welcome_allison.wav")
    n = soundfile.info(clip).frames
    live, wav, original, result, status = client.predict(upload(clip), SPEAKERS[1], 0, api_name="/resynthesise")
    data, rate = soundfile.read(wav)
    assert rate == 16000 and data.shape == (n // TINY_MEL.hop_length * TINY_MEL.hop_length,)
    for picture in (original, result):
        with Image.open(picture) as image:
            assert image.format == "PNG" and image.width >= 200


def test_piano_endpoints_give_the_roll_the_fluidsynth_rendering_and_the_wavenet_audio(client):
    midi = os.path.join(EXAMPLES, "c_major_scale.mid")
    roll, fluid, note = client.predict(upload(midi), api_name="/render_midi")
    with Image.open(roll) as image:
        assert image.format == "PNG"
    data, rate = soundfile.read(fluid)
    assert rate == 16000 and data.shape[0] > 6 * rate and np.abs(data).max() > 0.1  # 6 s of notes plus the release
    assert note.startswith("FluidSynth: ") and "SoundFont" in note  # with its licence
    live, wav, status = client.predict(upload(midi), 2, 1.0, 0, api_name="/play_midi")
    data, rate = soundfile.read(wav)
    assert rate == 16000 and data.shape == (2 * 16000,)  # 2 s asked of a 6.5 s piece: cut at 2 s and said so
    assert "first 2 s were played" in status


def test_composer_returns_a_midi_with_notes_a_roll_and_audio(client):
    roll, midi_path, wav, status = client.predict(4, 1.0, 2, 120, None, api_name="/compose")
    midi = mido.MidiFile(midi_path)
    notes = [m for track in midi.tracks for m in track if m.type == "note_on" and m.velocity > 0]
    assert notes and abs(midi.length - 4 * 4 * 60 / 120) < 2.0  # 4 bars of 4 beats at 120 bpm (the last note may end early)
    with Image.open(roll) as image:
        assert image.format == "PNG"
    assert soundfile.read(wav)[1] == 16000
    primed = client.predict(2, 1.0, 2, 120, upload(os.path.join(EXAMPLES, "bach_bwv269_bars1-4.mid")), api_name="/compose")
    assert "primer bars" in primed[3]


def test_models_endpoint_lists_what_was_found(client, assets):
    info = client.predict(api_name="/models")
    info = json.loads(info) if isinstance(info, str) else info
    assert info["assets"] == str(assets)
    assert info["models"]["speech"]["speakers"] == SPEAKERS
    assert info["models"]["handwriting"]["present"] is HANDWRITING_CODE


@pytest.mark.parametrize("args, words", [
    (("alice", 50.0, 1.0, 0), "greater than maximum value 10"),
    (("carol", 0.1, 1.0, 0), "unknown speaker 'carol'; this model's speakers: alice, bob"),
    (("alice", 0.1, 1.0, -5), "less than minimum value 0"),
], ids=["too-long", "unknown-speaker", "negative-seed"])
def test_bad_speech_requests_are_refused_with_the_limit(client, args, words):
    with pytest.raises(Exception, match=words):
        client.predict(*args, api_name="/generate_speech")
    assert_still_answers(client)


def _truncated_wav(path):
    soundfile.write(path, np.zeros(16000, np.float32), 16000)
    path.write_bytes(path.read_bytes()[:30])  # the header itself is cut short
    return path


@pytest.mark.parametrize("make, words", [
    (lambda p: (p / "notes.wav").write_text("import os; os.system('echo hacked')") and p / "notes.wav",
     "not a readable audio file"),
    (lambda p: _truncated_wav(p / "cut.wav"), "not a readable audio file"),
    (lambda p: soundfile.write(p / "long.wav", np.zeros(25 * 16000, np.float32), 16000) or p / "long.wav",
     "longer than the 20 s allowed"),
    (lambda p: soundfile.write(p / "short.wav", np.zeros(100, np.float32), 16000) or p / "short.wav",
     "at least 0.1 s is needed"),
    (lambda p: soundfile.write(p / "nan.wav", np.full(4000, np.nan, np.float32), 16000, subtype="FLOAT") or p / "nan.wav",
     "NaN or infinite"),
], ids=["text-as-wav", "truncated", "too-long", "too-short", "nan"])
def test_bad_clips_are_refused_with_a_clear_message(client, tmp_path, make, words):
    with pytest.raises(Exception, match=words):
        client.predict(upload(make(tmp_path)), "alice", 0, api_name="/resynthesise")
    assert_still_answers(client)


def test_a_huge_upload_is_refused_at_the_door(client, tmp_path):
    huge = tmp_path / "huge.wav"
    with open(huge, "wb") as f:
        f.truncate(61 * 1024 ** 2)
    with pytest.raises(Exception, match="(?i)file size|too large|exceeds"):
        client.predict(upload(huge), "alice", 0, api_name="/resynthesise")
    assert_still_answers(client)


def _midi_bytes():
    with open(os.path.join(EXAMPLES, "c_major_scale.mid"), "rb") as f:
        return f.read()


@pytest.mark.parametrize("content, words", [
    (b"\x7fELF\x02\x01\x01" + bytes(200), "not a MIDI file"),
    (b"", "empty"),
    (None, "damaged or truncated"),  # a real MIDI file cut in the middle of its track
    (b"MThd\x00\x00\x00\x06\x00\x00\x00\x01\x00\x60MTrk\x00\x00\x00\x04\x00\xff\x2f\x00", "holds no (non-drum) notes"),
], ids=["executable", "empty", "truncated", "no-notes"])
def test_bad_midi_files_are_refused_by_every_endpoint_that_reads_them(client, tmp_path, content, words):
    path = tmp_path / "bad.mid"
    path.write_bytes(_midi_bytes()[:40] if content is None else content)
    with pytest.raises(Exception, match=re.escape(words)):
        client.predict(upload(path), api_name="/render_midi")
    with pytest.raises(Exception, match=re.escape(words)):
        client.predict(upload(path), 2, 1.0, 0, api_name="/play_midi")
    with pytest.raises(Exception, match=re.escape(words)):
        client.predict(2, 1.0, 0, 90, upload(path), api_name="/compose")
    assert_still_answers(client)


def test_absurd_lengths_show_the_limit(client):
    midi = upload(os.path.join(EXAMPLES, "c_major_scale.mid"))
    with pytest.raises(Exception, match="greater than maximum value 30"):
        client.predict(midi, 1000, 1.0, 0, api_name="/play_midi")
    with pytest.raises(Exception, match="greater than maximum value 64"):
        client.predict(1000, 1.0, 0, 90, None, api_name="/compose")
    assert_still_answers(client)


def test_missing_and_damaged_checkpoints_are_named(client, assets, tmp_path):
    broken = shutil.copytree(assets, tmp_path / "assets")
    weights = broken / "wavenet-piano" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-8:] = struct.pack("<d", 1e300)
    weights.write_bytes(bytes(data))
    shutil.rmtree(broken / "composer")
    (broken / "wavenet-speakers" / "config.json").write_text("{not json")
    os.environ["SYNTH_ASSETS"] = str(broken)  # read by the app at each request
    try:
        midi = upload(os.path.join(EXAMPLES, "c_major_scale.mid"))
        with pytest.raises(Exception, match="do not match the checksum"):
            client.predict(midi, 2, 1.0, 0, api_name="/play_midi")
        with pytest.raises(Exception, match="the chorales composer model is missing"):
            client.predict(2, 1.0, 0, 90, None, api_name="/compose")
        with pytest.raises(Exception, match="not valid JSON"):
            client.predict("alice", 0.1, 1.0, 0, api_name="/generate_speech")
        if HANDWRITING_CODE:
            shutil.rmtree(broken / "handwriting")
            with pytest.raises(Exception, match="the handwriting model is missing"):
                client.predict("hello", None, 1.0, 0, api_name="/write_handwriting")
    finally:
        os.environ["SYNTH_ASSETS"] = str(assets)
    assert_still_answers(client)


@pytest.mark.skipif(HANDWRITING_CODE, reason="the handwriting model is in this build")
def test_handwriting_says_plainly_that_its_model_is_missing(client):
    with pytest.raises(Exception, match="handwriting model is missing"):
        client.predict("hello", None, 0.5, 0, api_name="/write_handwriting")
    assert_still_answers(client)


def test_a_request_naming_a_server_file_is_refused(served_app):
    """A raw API call that names a file instead of uploading it reads nothing outside the app's space."""
    import httpx

    payload = {"data": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]}
    with httpx.Client(base_url=served_app, timeout=60) as http:
        event = http.post("gradio_api/call/render_midi", json=payload)
        if event.status_code == 200:
            event_id = event.json()["event_id"]
            body = http.get(f"gradio_api/call/render_midi/{event_id}").text
            assert "event: error" in body
        else:
            body = event.text
    assert "root:" not in body


def test_uploaded_refuses_paths_outside_the_app_space():
    from synth.app import serving
    from synth.errors import InputError

    with pytest.raises(InputError, match="must be uploaded"):
        serving.uploaded("/etc/passwd", "MIDI file")
    with pytest.raises(InputError, match="must be uploaded"):
        serving.uploaded(str(serving.APP_SPACE / ".." / "etc" / "passwd"), "MIDI file")
    assert serving.uploaded(None, "primer", required=False) is None


def test_speech_streams_chunks_before_the_whole_wav(client):
    job = client.submit("alice", 1.0, 1.0, 4, api_name="/generate_speech")
    final = job.result(timeout=120)
    outputs = job.outputs()
    assert len(outputs) >= 5  # four 0.25 s chunks streamed, then the WAV and the spectrogram
    assert final[1] and soundfile.read(final[1])[0].shape == (16000,)


needs_handwriting = pytest.mark.skipif(not HANDWRITING_CODE, reason="synth.handwriting is not in this build yet")


def bundled_style_names() -> list[str]:
    """The names of the bundled handwriting model's gallery (held-out writers), in order."""
    return [s["name"] for s in json.loads(BUNDLED_STYLES.read_text())["styles"]]


@needs_handwriting
def test_handwriting_returns_svg_png_gif_json_and_the_attention_picture(client):
    import xml.etree.ElementTree as ET

    ink, files, attention, status = client.predict("hello there", bundled_style_names()[1], 1.0, 3, api_name="/write_handwriting")
    by_suffix = {os.path.splitext(f)[1]: f for f in files}
    assert sorted(by_suffix) == [".gif", ".json", ".png", ".svg"]
    svg = ET.parse(by_suffix[".svg"]).getroot()
    assert svg.tag.endswith("svg") and any(e.tag.endswith("path") for e in svg.iter())
    with Image.open(by_suffix[".png"]) as png, Image.open(by_suffix[".gif"]) as gif, Image.open(attention) as att:
        assert png.format == "PNG" and gif.format == "GIF" and gif.n_frames > 1 and att.format == "PNG"
    with open(by_suffix[".json"]) as f:
        lines = json.load(f)["lines"]
    assert lines[0]["text"] == "hello there" and lines[0]["strokes"]
    assert "line(s)" in status


@needs_handwriting
@pytest.mark.parametrize("text, words", [
    ("", "the text is empty"),
    ("x" * 300, "the text is 300 characters long; the app writes at most 200"),
    ("caf\u00e9 \u00a7", "characters outside the model's vocabulary: '\u00a7' '\u00e9'"),
], ids=["empty", "too-long", "unwritable"])
def test_bad_text_is_refused_naming_the_problem(client, text, words):
    with pytest.raises(Exception, match=re.escape(words)):
        client.predict(text, None, 1.0, 0, api_name="/write_handwriting")
    assert_still_answers(client)


@needs_handwriting
def test_an_unknown_style_is_refused_with_the_bundled_ones_listed(client):
    with pytest.raises(Exception, match=re.escape(f"unknown style 'scribble'; bundled styles: 0 ({bundled_style_names()[0]})")):
        client.predict("hello", "scribble", 1.0, 0, api_name="/write_handwriting")


def canvas_strokes(text: str, scale: float = 30.0) -> str:
    """The JSON the page's canvas makes of a line written in a Hershey hand: timed points, y down."""
    from synth.handwriting.hershey import STYLES, handwrite

    ink = handwrite(text, STYLES[0], seed=1)
    t, strokes = 0.0, []
    for stroke in ink.strokes:
        strokes.append([[round(x, 2), round(y, 2), (t := t + 8.0)] for x, y in stroke * scale])
    return json.dumps({"text": "", "strokes": strokes})


@needs_handwriting
def test_your_own_hand_continues_the_text_and_returns_its_files(client):
    import xml.etree.ElementTree as ET

    ink, files, attention, status = client.predict(canvas_strokes("a bad cab"), "a bad cab", "hello there", 1.0, 3,
                                                   api_name="/write_in_my_hand")
    by_suffix = {os.path.splitext(f)[1]: f for f in files}
    svg = ET.parse(by_suffix[".svg"]).getroot()
    assert svg.tag.endswith("svg") and any(e.tag.endswith("path") for e in svg.iter())
    with open(by_suffix[".json"]) as f:
        assert json.load(f)["lines"][0]["text"] == "hello there"  # the continuation, not the primer
    assert "in your hand" in status


@needs_handwriting
@pytest.mark.parametrize("strokes, written, words", [
    ("", "a bad cab", "your strokes: no strokes; write a line"),
    (json.dumps({"strokes": [[[0, 0, 0], [0, 3, 8]], [[2, 0, 16], [3, 2, 24]]]}), "ab", "your strokes: too little ink"),
    (canvas_strokes("a bad cab"), "", "the words the strokes say are missing"),
    (canvas_strokes("a bad cab a bad cab"), "ab", "type exactly what you wrote"),
    ("{broken", "ab", "not valid JSON"),
], ids=["nothing-drawn", "scribble", "no-words", "words-do-not-fit", "not-json"])
def test_strokes_that_cannot_prime_get_their_message_and_the_server_answers(client, strokes, written, words):
    with pytest.raises(Exception, match=re.escape(words)):
        client.predict(strokes, written, "hello", 1.0, 0, api_name="/write_in_my_hand")
    assert_still_answers(client)


def test_a_stopped_generation_ends_and_the_server_answers_the_next_request(client):
    import time

    job = client.submit("alice", 10.0, 1.0, 0, api_name="/generate_speech")
    deadline = time.time() + 60
    while not job.outputs() and time.time() < deadline:  # the first streamed chunk
        time.sleep(0.05)
    assert job.outputs()
    job.cancel()
    assert_still_answers(client)


def test_without_ffmpeg_the_app_still_answers_with_whole_files(assets, monkeypatch):
    """Gradio streams audio through ffmpeg; where it is missing the results come when complete."""
    from gradio_client import Client

    from synth.app import serving

    monkeypatch.setattr(serving, "STREAMING", False)
    server = serve_app(assets)
    url = next(server)
    try:
        live, wav, picture, status = Client(url, verbose=False).predict("bob", 0.1, 1.0, 1, api_name="/generate_speech")
        assert soundfile.read(wav)[0].shape == (1600,)
    finally:
        next(server, None)
