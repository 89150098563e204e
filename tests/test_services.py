"""The service layer (synth/services/): every request bound checked once, the same way for both
faces; models loaded by role (bundled folder, $SYNTH_ASSETS, or a path) with clear errors; the
one streaming relay giving exactly what the engine gives; and the faces importing no model code."""
import ast
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from app_assets import SPEAKERS, make_tiny_assets
from conftest import tiny_wavenet
from synth.checkpoint import save_checkpoint
from synth.errors import CheckpointError, InputError
from synth.services import bounds, models
from synth.services.bounds import APP, COMMAND

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_tiny_assets(tmp_path_factory.mktemp("assets"))


@pytest.fixture(autouse=True)
def bundled(assets, monkeypatch, one_thread):
    monkeypatch.setenv("SYNTH_ASSETS", str(assets))


# --- bounds ---------------------------------------------------------------------------------

@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), True, "2", None, 10.5])
def test_seconds_outside_the_limit_are_refused_with_the_limit(seconds):
    with pytest.raises(InputError, match=r"seconds must be more than 0 and at most 10, got"):
        bounds.check_seconds(seconds, 10.0)


def test_seconds_at_the_limit_and_whole_numbers_are_taken():
    assert bounds.check_seconds(10, 10.0) == 10.0 and isinstance(bounds.check_seconds(np.float32(0.5), 10.0), float)


def test_whole_numbers_take_whole_floats_from_sliders_and_refuse_the_rest():
    assert bounds.check_whole_number(4.0, "bars", 1, 64) == 4
    for bad in (4.5, True, "4", 0, 65):
        with pytest.raises(InputError, match=r"bars must be a whole number from 1 to 64, got"):
            bounds.check_whole_number(bad, "bars", 1, 64)


def test_seeds_are_none_or_whole_numbers_in_range():
    assert bounds.check_seed(None) is None and bounds.check_seed(7.0) == 7
    with pytest.raises(InputError, match="the seed must be a whole number from 0 to 2147483647"):
        bounds.check_seed(-1)


def test_text_is_bounded_per_face_and_never_empty():
    assert bounds.check_text("a\r\nb", APP) == "a\nb"
    for empty in ("", "  \n", "\r"):
        with pytest.raises(InputError, match="the text is empty: give at least one character to write"):
            bounds.check_text(empty, APP)
    with pytest.raises(InputError, match=r"the text is 201 characters long; the app writes at most 200 \(the `synth` "
                                         r"command takes longer requests\)"):
        bounds.check_text("x" * 201, APP)
    assert bounds.check_text("x" * 201, COMMAND) == "x" * 201
    with pytest.raises(InputError, match="the text is 2001 characters long; synth writes at most 2000$"):
        bounds.check_text("x" * 2001, COMMAND)


def test_the_app_allows_no_more_than_the_command_in_any_bound():
    for field in ("speech_seconds", "piano_seconds", "clip_seconds", "clip_bytes", "composer_bars", "composer_batch",
                  "handwriting_chars"):
        assert 0 < getattr(APP, field) <= getattr(COMMAND, field), field


def test_the_command_limits_are_the_librarys_own_ceilings():
    from synth.handwriting.writer import MAX_TEXT_CHARS
    from synth.music.composition import MAX_BARS, MAX_BATCH

    assert (COMMAND.composer_bars, COMMAND.composer_batch, COMMAND.handwriting_chars) == (MAX_BARS, MAX_BATCH, MAX_TEXT_CHARS)


def test_one_temperature_bound_answers_every_service_alike():
    """Temperature is bounded once (the Temperature policy): speech, the piano, plain WaveNet
    generation, composition and handwriting all refuse 5.5 with the same words."""
    from synth.services import composition, handwriting, piano, speech, wavenet

    midi = piano.read_piece(EXAMPLES / "c_major_scale.mid")
    requests = [lambda: speech.speak(seconds=0.01, temperature=5.5), lambda: wavenet.generate(seconds=0.01, temperature=5.5),
                lambda: piano.play(midi, max_seconds=0.1, temperature=5.5),
                lambda: composition.compose(bars=1, temperature=5.5)]
    if (Path(os.environ["SYNTH_ASSETS"]) / "handwriting").is_dir():
        requests.append(lambda: handwriting.write("hi", temperature=5.5, max_retries=0))
    for request in requests:
        with pytest.raises(InputError, match=r"^temperature must be from 0 \(greedy\) to 5, got 5.5$"):
            request()


def test_each_face_gets_its_own_seconds_limit_from_the_same_check():
    from synth.services.speech import speak

    with pytest.raises(InputError, match="seconds must be more than 0 and at most 10, got 11"):
        speak(seconds=11, limits=APP)
    assert speak(seconds=11, limits=COMMAND).total_samples == 11 * 16000  # allowed (not run: a stream is lazy)
    with pytest.raises(InputError, match="seconds must be more than 0 and at most 600, got 601"):
        speak(seconds=601)


def test_composer_bars_are_bounded_by_the_face():
    from synth.services.composition import compose

    with pytest.raises(InputError, match="bars must be a whole number from 1 to 64, got 65"):
        compose(bars=65, limits=APP)
    piece = compose(bars=2.0, seed=0, limits=APP)  # a slider's whole float is taken
    assert piece.bars() == 2 and piece.pieces[0].roll.keys.shape[1] == 88


# --- models by role -------------------------------------------------------------------------

def test_a_role_takes_the_first_of_its_bundled_folders_present(assets, tmp_path, monkeypatch):
    assert models.checkpoint_path("speech") == assets / "wavenet-speakers"
    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    assert models.checkpoint_path("speech") == tmp_path / "wavenet-speakers"  # none present: the first, to be named
    save_checkpoint(tiny_wavenet(), tmp_path / "wavenet-tiny")
    assert models.checkpoint_path("speech") == tmp_path / "wavenet-tiny"
    assert models.load_model("speech").config.n_speakers == 0


def test_synth_assets_is_read_at_every_call(assets, tmp_path, monkeypatch):
    other = tmp_path / "other"
    save_checkpoint(tiny_wavenet(seed=5, n_speakers=3), other / "wavenet-speakers")
    assert models.load_model("speech").config.n_speakers == 2
    monkeypatch.setenv("SYNTH_ASSETS", str(other))
    assert models.assets_dir() == other and models.load_model("speech").config.n_speakers == 3


def test_without_synth_assets_the_repository_assets_folder_is_used(monkeypatch):
    monkeypatch.delenv("SYNTH_ASSETS")
    assert models.assets_dir() == ROOT / "assets"


def test_a_path_given_wins_over_the_bundled_folder(assets, tmp_path):
    save_checkpoint(tiny_wavenet(seed=3, n_speakers=5), tmp_path / "mine")
    assert models.checkpoint_path("speech", tmp_path / "mine") == tmp_path / "mine"
    assert models.load_model("speech", tmp_path / "mine").config.n_speakers == 5


def test_a_model_is_loaded_once_and_again_when_its_checkpoint_is_replaced(tmp_path):
    folder = save_checkpoint(tiny_wavenet(seed=1), tmp_path / "ckpt")
    first = models.load_model("speech", folder, "cpu")
    assert models.load_model("speech", folder, "cpu") is first
    shutil.rmtree(folder)
    save_checkpoint(tiny_wavenet(seed=2, n_speakers=2), folder)
    os.utime(folder / "config.json", ns=(1, 10 ** 18))  # a different file time, whatever the clock's resolution
    again = models.load_model("speech", folder, "cpu")
    assert again is not first and again.config.n_speakers == 2


def test_a_missing_bundled_model_is_named_with_where_it_was_looked_for(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    with pytest.raises(CheckpointError) as error:
        models.load_model("composer")
    message = str(error.value)
    assert message.startswith(f"the composer model is missing: {tmp_path / 'composer'}: no checkpoint folder here")
    assert f"bundled checkpoints live in {tmp_path} (set SYNTH_ASSETS" in message
    assert models.missing_message("composer") == message


def test_a_bad_path_gives_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match=f"the speech WaveNet model is missing: {tmp_path / 'nowhere'}: "
                                              "no checkpoint folder here .*give a checkpoint folder that holds them"):
        models.load_model("speech", tmp_path / "nowhere")
    broken = save_checkpoint(tiny_wavenet(), tmp_path / "broken")
    (broken / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="config.json: not valid JSON"):
        models.load_model("speech", tmp_path / "broken")


def test_a_checkpoint_of_another_kind_is_refused_for_the_role(assets):
    with pytest.raises(CheckpointError, match="holds a composer model, but a wavenet model is needed here"):
        models.load_model("speech", assets / "composer")


def test_unknown_roles_and_devices_are_refused():
    with pytest.raises(InputError, match="unknown model role 'singer'; roles: speech, vocoder, piano, composer, handwriting, tts"):
        models.load_model("singer")
    with pytest.raises(InputError, match="unknown device 'abacus'"):
        models.load_model("speech", device="abacus")


def test_model_status_says_present_missing_or_broken(assets, tmp_path, monkeypatch):
    status = models.model_status("speech")
    assert status["present"] and status["speakers"] == SPEAKERS and status["parameters"] > 0
    broken = shutil.copytree(assets, tmp_path / "assets")
    (broken / "wavenet-piano" / "config.json").write_text("{")
    shutil.rmtree(broken / "composer")
    monkeypatch.setenv("SYNTH_ASSETS", str(broken))
    assert "not valid JSON" in models.model_status("piano")["error"]
    assert models.model_status("composer") == {"checkpoint": str(broken / "composer"), "present": False}


# --- the relay ------------------------------------------------------------------------------

def test_the_relay_gives_exactly_what_the_engine_gives():
    from synth.models.wavenet_generation import generate_waveform
    from synth.sampling.policies import make_policy
    from synth.services.relay import wavenet_stream

    model = tiny_wavenet(n_speakers=2)
    direct = torch.cat(list(generate_waveform(model, seconds=0.05, speaker=1, policy=make_policy(temperature=0.8),
                                              seed=4, chunk_seconds=0.01)), dim=1)[0].numpy()
    stream = wavenet_stream(model, seconds=0.05, max_seconds=1.0, speaker=1, temperature=0.8, seed=4, chunk_seconds=0.01)
    chunks = list(stream)
    assert len(chunks) == 5 and all(c.dtype == np.float32 and c.ndim == 1 for c in chunks)
    assert np.array_equal(np.concatenate(chunks), direct) and np.array_equal(stream.audio(), direct)


def test_every_audio_service_plays_at_the_checkpoints_own_temperature_unless_told(tmp_path):
    from synth.services import piano, speech, wavenet
    from synth.services.relay import model_policy
    from synth.sampling.policies import Temperature

    model = tiny_wavenet(n_speakers=2)
    assert model_policy(model) == () and model_policy(model, temperature=0.8) == (Temperature(0.8),)
    chosen = save_checkpoint(model, tmp_path / "chosen", metadata={"speakers": SPEAKERS, "sampling": {"temperature": 0.5}})
    assert models.chosen_temperature("speech", chosen) == 0.5 and models.chosen_temperature("speech") == 1.0
    assert models.chosen_temperature("speech", tmp_path / "missing") == 1.0
    assert model_policy(models.load_model("speech", chosen)) == (Temperature(0.5),)
    assert model_policy(models.load_model("speech", chosen), temperature=1.0) == ()  # told: plain sampling
    assert model_policy(models.load_model("speech", chosen), greedy=True) != model_policy(models.load_model("speech", chosen))
    own = speech.speak(seconds=0.02, speaker=1, seed=3, checkpoint=chosen).audio()
    assert np.array_equal(own, speech.speak(seconds=0.02, speaker=1, seed=3, temperature=0.5, checkpoint=chosen).audio())
    assert not np.array_equal(own, speech.speak(seconds=0.02, speaker=1, seed=3, temperature=1.0, checkpoint=chosen).audio())
    assert np.array_equal(own, wavenet.generate(seconds=0.02, speaker=1, seed=3, checkpoint=chosen).audio())
    midi = piano.read_piece(EXAMPLES / "c_major_scale.mid")
    piano_dir = Path(os.environ["SYNTH_ASSETS"]) / "wavenet-piano"
    marked = tmp_path / "piano"
    shutil.copytree(piano_dir, marked)
    config = json.loads((marked / "config.json").read_text())
    config["metadata"]["sampling"] = {"temperature": 0.7}
    (marked / "config.json").write_text(json.dumps(config))
    assert np.array_equal(piano.play(midi, max_seconds=0.05, seed=1, checkpoint=marked).audio(),
                          piano.play(midi, max_seconds=0.05, seed=1, temperature=0.7, checkpoint=marked).audio())


def test_collect_reports_progress_up_to_the_total():
    from synth.services.relay import collect, wavenet_stream

    seen = []
    audio = collect(wavenet_stream(tiny_wavenet(), seconds=0.02, max_seconds=1.0, seed=0, chunk_seconds=0.005),
                    lambda done, total: seen.append((done, total)))
    assert audio.shape == (320,) and seen == [(80 * k, 320) for k in range(1, 5)]


def test_a_batch_streams_chunks_of_every_stream():
    from synth.services.relay import wavenet_stream

    stream = wavenet_stream(tiny_wavenet(), seconds=0.01, max_seconds=1.0, batch_size=3, seed=0)
    assert stream.audio().shape == (3, 160) and stream.fraction == 1.0


def test_a_bad_policy_is_refused_before_anything_is_generated():
    from synth.services.relay import wavenet_stream

    with pytest.raises(InputError, match="top_k must be a whole number of at least 1"):
        wavenet_stream(tiny_wavenet(), seconds=0.01, max_seconds=1.0, top_k=0)


# --- speakers: a name or an id, everywhere ----------------------------------------------------

def test_speakers_are_chosen_by_name_or_id_in_every_service():
    from synth.services import speech, wavenet

    by_name = speech.speak(seconds=0.01, speaker="bob", seed=2).audio()
    for speaker in (1, "1"):
        assert np.array_equal(speech.speak(seconds=0.01, speaker=speaker, seed=2).audio(), by_name)
    assert np.array_equal(wavenet.generate(seconds=0.01, speaker="bob", seed=2).audio(), by_name)
    assert not np.array_equal(speech.speak(seconds=0.01, speaker="alice", seed=2).audio(), by_name)
    with pytest.raises(InputError, match="speaker id 2 is out of range; ids are 0 to 1 \\(alice, bob\\)"):
        wavenet.generate(seconds=0.01, speaker=2)
    with pytest.raises(InputError, match="unknown speaker 'carol'; this model's speakers: alice, bob"):
        speech.resynthesise(EXAMPLES / "welcome_allison.wav", speaker="carol")


def test_speech_and_plain_generation_default_to_the_same_bundled_model():
    from synth.services import speech, wavenet

    assert np.array_equal(wavenet.generate(seconds=0.01, seed=9).audio(), speech.speak(seconds=0.01, seed=9).audio())
    assert wavenet.describe()["checkpoint"] == str(models.checkpoint_path("speech"))


def test_resynthesis_keeps_the_clip_it_started_from():
    import soundfile

    from synth.services.speech import resynthesise

    stream = resynthesise(EXAMPLES / "welcome_allison.wav", seed=0, limits=APP)
    n = soundfile.info(str(EXAMPLES / "welcome_allison.wav")).frames
    assert stream.original.shape == (n,) and stream.total_samples == n // 64 * 64


# --- FluidSynth: one entry point, one lock ---------------------------------------------------

def test_concurrent_fluidsynth_renderings_match_one_at_a_time(monkeypatch):
    """The shared synth renders one piece at a time: four threads at once each get the piece as a
    lone rendering gives it (up to FluidSynth's dither and reverb modulation; without the lock,
    interleaved pieces differ by more than 0.4 and correlate below 0.995)."""
    from synth.music.render import fluidsynth_available, make_renderer, render_fluidsynth

    if fluidsynth_available() is not None:
        pytest.skip(fluidsynth_available())
    import pretty_midi

    from synth.services.piano import read_piece

    monkeypatch.setenv("SYNTH_SOUND_FONT", str(Path(pretty_midi.__file__).parent / "TimGM6mb.sf2"))
    make_renderer.cache_clear()
    try:
        midi = read_piece(EXAMPLES / "c_major_scale.mid")
        alone = render_fluidsynth(midi)[0]
        results = [None] * 4
        threads = [threading.Thread(target=lambda i=i: results.__setitem__(i, render_fluidsynth(midi)[0])) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for result in results:
            assert result.shape == alone.shape
            assert np.abs(result - alone).max() < 0.2 and np.corrcoef(result, alone)[0, 1] > 0.998
    finally:
        make_renderer.cache_clear()


def test_the_piano_renderers_are_chosen_by_name():
    from synth.services.piano import render_audio, read_piece

    midi = read_piece(EXAMPLES / "c_major_scale.mid")
    with pytest.raises(InputError, match="unknown renderer 'harpsichord'; available: fluidsynth, wavenet"):
        render_audio(midi, "harpsichord")


# --- one of each ------------------------------------------------------------------------------

def test_the_hash_split_is_the_one_the_piano_corpus_uses():
    """The piano corpus splits by synth.splits.hash_split (tests/test_splits.py: the assignments are unchanged)."""
    from synth.corpora.piano import split_of
    from synth.splits import hash_split

    names = [f"piece {i}" for i in range(2000)]
    assert [hash_split(n, 3, 0.1, 0.1) for n in names] == [split_of(n, 3, 0.1, 0.1) for n in names]
    counts = {s: sum(hash_split(n, 0, 0.2, 0.1) == s for n in names) for s in ("train", "valid", "test")}
    assert abs(counts["valid"] / 2000 - 0.2) < 0.03 and abs(counts["test"] / 2000 - 0.1) < 0.03
    with pytest.raises(InputError, match="split fractions"):
        hash_split("x", 0, 0.7, 0.5)


def test_the_machine_is_described_once():
    from synth.device import describe_machine

    line = describe_machine("cpu")
    assert "cores" in line and f"torch {torch.__version__}" in line
    # Nothing else names the processor: cards, metrics and benchmarks all ask describe_machine.
    sources = [ROOT / "app.py", *(ROOT / "synth").rglob("*.py"), *(ROOT / "recipes").rglob("*.py")]
    elsewhere = [f"{path.relative_to(ROOT)}: {probe}" for path in sources if path != ROOT / "synth" / "device.py"
                 for probe in ("platform.processor", "platform.machine", "/proc/cpuinfo", "get_device_name")
                 if probe in path.read_text()]
    assert not elsewhere, elsewhere


# --- imports run one way ----------------------------------------------------------------------

FACES = [ROOT / "app.py", *sorted((ROOT / "synth" / "app").glob("*.py")),
         *sorted((ROOT / "synth" / "cli").glob("*.py"))]
#: What a face may not import: torch itself, or model, engine, checkpoint and training code.
NOT_IN_FACES = ("torch", "torchaudio", "synth.models", "synth.sampling", "synth.checkpoint", "synth.solvers",
                "synth.training", "synth.kernels", "synth.bundled", "synth.speech", "synth.piano")


@pytest.mark.parametrize("face", FACES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_faces_import_no_model_code(face):
    imported = []
    for node in ast.walk(ast.parse(face.read_text())):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            imported += [node.module or ""] + [f"{node.module}.{alias.name}" for alias in node.names]
    bad = sorted({name for name in imported for banned in NOT_IN_FACES if name == banned or name.startswith(banned + ".")})
    assert not bad, f"{face.name} imports {bad}; it should ask a service (synth.services)"


@pytest.mark.parametrize("module, never", [
    ("synth.music.render", "synth.services"),  # was a cycle through synth/piano.py
    ("synth.music.datasets", "synth.corpora"),
    ("synth.services.speech", "synth.solvers"),  # the vocoder's mel features live beside MelFeatures
    ("synth.tts.corpus", "synth.judges"),  # the prompt split lives in synth.splits, not with the judges
    ("synth.models.wavenet_generation", "synth.solvers"),  # generation (and its output stage) is below the solvers
    ("synth.tts.reader", "synth.solvers"),  # the streamed speech path asks the model layer's generate_waveform
])
def test_lower_layers_do_not_pull_in_upper_ones(module, never):
    code = (f"import sys, {module}\n"
            f"bad = sorted(m for m in sys.modules if m == '{never}' or m.startswith('{never}.'))\n"
            "print('IMPORTED:' + ','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    # Only the marked line counts: a library may print on import (pyfluidsynth says where it found
    # libfluidsynth on some versions).
    marked = [line for line in out.stdout.splitlines() if line.startswith("IMPORTED:")]
    assert len(marked) == 1, out.stdout
    bad = marked[0].removeprefix("IMPORTED:")
    assert bad == "", f"importing {module} imports {bad}"
