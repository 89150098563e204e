"""``synth speak``, ``synth resynthesise`` / ``vocode`` and ``synth piano``: the app's tabs on the
command line, on tiny checkpoints found through SYNTH_ASSETS; files read back with soundfile and Pillow."""
import os
import subprocess
import sys

import numpy as np
import pretty_midi
import pytest
import soundfile
from PIL import Image

from app_assets import TINY_MEL, make_tiny_assets
from synth.cli import main

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "assets", "examples")


@pytest.fixture(scope="module")
def assets(tmp_path_factory):
    return make_tiny_assets(tmp_path_factory.mktemp("assets"), composer=False)


@pytest.fixture(autouse=True)
def bundled(assets, monkeypatch):
    monkeypatch.setenv("SYNTH_ASSETS", str(assets))
    monkeypatch.setenv("SYNTH_SOUND_FONT", os.path.join(os.path.dirname(pretty_midi.__file__), "TimGM6mb.sf2"))


def test_speak_runs_as_a_command_and_writes_speech_and_its_spectrogram(tmp_path, assets):
    out, picture = tmp_path / "s.wav", tmp_path / "s.png"
    result = subprocess.run([sys.executable, "-m", "synth", "speak", "--speaker", "bob", "-s", "0.25", "--seed", "3",
                             "-o", str(out), "--spectrogram", str(picture)],
                            capture_output=True, text=True, timeout=300, env={**os.environ, "SYNTH_ASSETS": str(assets)})
    assert result.returncode == 0, result.stderr
    data, rate = soundfile.read(out)
    assert rate == 16000 and data.shape == (4000,) and data.std() > 0
    assert "speaking" in result.stderr  # the progress bar
    with Image.open(picture) as image:
        assert image.format == "PNG"


def test_speakers_are_listed_and_chosen_by_name_or_id(tmp_path, capsys):
    assert main(["speak", "--list-speakers"]) == 0
    assert capsys.readouterr().out.split() == ["0:", "alice", "1:", "bob"]
    main(["speak", "--speaker", "1", "-s", "0.05", "-o", str(tmp_path / "a.wav"), "-q"])
    main(["speak", "--speaker", "bob", "-s", "0.05", "-o", str(tmp_path / "b.wav"), "-q"])
    assert np.array_equal(soundfile.read(tmp_path / "a.wav")[0], soundfile.read(tmp_path / "b.wav")[0])


@pytest.mark.parametrize("command", ["resynthesise", "vocode"])
def test_resynthesis_writes_one_hop_per_frame_of_the_clip(tmp_path, command):
    clip = os.path.join(EXAMPLES, "welcome_allison.wav")
    out = tmp_path / "r.wav"
    assert main([command, clip, "--speaker", "alice", "-o", str(out), "--original-spectrogram", str(tmp_path / "o.png"), "-q"]) == 0
    n = soundfile.info(clip).frames
    assert soundfile.read(out)[0].shape == (n // TINY_MEL.hop_length * TINY_MEL.hop_length,)
    assert Image.open(tmp_path / "o.png").format == "PNG"


def test_piano_plays_a_midi_file_and_renders_it_with_fluidsynth_for_comparison(tmp_path, capsys):
    midi = os.path.join(EXAMPLES, "c_major_scale.mid")
    assert main(["piano", midi, "--max-seconds", "1.5", "-o", str(tmp_path / "p.wav"), "--fluidsynth",
                 str(tmp_path / "f.wav"), "--roll-png", str(tmp_path / "roll.png"), "-q"]) == 0
    assert soundfile.read(tmp_path / "p.wav")[0].shape == (24000,)
    fluid, rate = soundfile.read(tmp_path / "f.wav")
    assert rate == 16000 and len(fluid) > 6 * rate
    assert Image.open(tmp_path / "roll.png").format == "PNG"
    assert "playing its first 1.5 s" in capsys.readouterr().err


@pytest.mark.parametrize("argv, words", [
    (["speak", "-s", "100000"], "seconds must be more than 0 and at most 600"),
    (["speak", "-s", "0.1", "--speaker", "carol"], "unknown speaker 'carol'; this model's speakers: alice, bob"),
    (["speak", "-s", "0.1", "-t", "50"], "temperature must be from 0 (greedy) to 5"),
    (["speak", "-c", "/nonexistent/ckpt"], "no checkpoint folder here"),
    (["resynthesise", "/nonexistent.wav"], "no audio clip was given"),
    (["resynthesise", os.path.join(os.path.dirname(__file__), "conftest.py")], "not a readable audio file"),
    (["piano", os.path.join(os.path.dirname(__file__), "conftest.py")], "not a MIDI file"),
    (["piano", os.path.join(EXAMPLES, "c_major_scale.mid"), "--max-seconds", "-3"], "seconds must be more than 0"),
], ids=["long", "speaker", "temperature", "checkpoint", "no-clip", "not-audio", "not-midi", "negative"])
def test_bad_requests_end_with_a_one_line_error(argv, words, capsys):
    assert main(argv + ["-q"]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_a_missing_piano_model_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SYNTH_ASSETS", str(tmp_path))
    assert main(["piano", os.path.join(EXAMPLES, "c_major_scale.mid"), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"{tmp_path / 'wavenet-piano'}: no checkpoint folder here" in err


def test_every_option_is_explained_by_help():
    from synth.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name in ("speak", "resynthesise", "vocode", "piano", "app", "recipe"):
        for action in commands[name]._actions:
            assert action.help, f"synth {name} {action.option_strings or action.dest} has no help"


def test_recipes_are_listed_and_unknown_ones_refused(capsys):
    assert main(["recipe"]) == 0
    listed = capsys.readouterr().out
    assert "wavenet_piano" in listed and "load_test" not in listed  # the load test is `synth bench app`
    assert main(["recipe", "no_such_recipe"]) == 2
    assert "unknown recipe 'no_such_recipe'" in capsys.readouterr().err
