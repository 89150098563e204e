"""Speech corpora: the shared pipeline (trim, split, write, manifest), the user layouts (folder,
LJSpeech, VCTK), bad files, the Fish Fillets Lua reader and the Asterisk transcript reader.
Everything runs on small files the tests write in the real layouts; nothing is fetched."""
import gzip
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from synth.corpora import asterisk, fillets, layouts, speech
from synth.corpora.manifest import Entry, read_manifest, verify
from synth.errors import InputError

RATE = 22050
ENTRY_FIELDS = {"path", "sha256", "seconds", "split", "speaker", "speaker_id", "language", "text", "source"}


def bursts(spec, rate=RATE, seed=0):
    """Waveform from [(kind, seconds)], kind "tone" (0.5-amplitude sine) or "gap" (noise floor
    60 dB down); returns the waveform and the [start, end) sample ranges of the tones."""
    rng = np.random.default_rng(seed)
    pieces, tones, at = [], [], 0
    for i, (kind, seconds) in enumerate(spec):
        n = round(seconds * rate)
        if kind == "tone":
            t = np.arange(n) / rate
            pieces.append(0.5 * np.sin(2 * np.pi * (220 + 40 * i) * t))
            tones.append((at, at + n))
        else:
            pieces.append(0.0005 * rng.standard_normal(n))
        at += n
    return np.concatenate(pieces).astype(np.float32), tones


def clip(seed=0, rate=RATE):
    return bursts([("gap", 0.4), ("tone", 0.25), ("gap", 0.6), ("tone", 0.2), ("gap", 0.3)], rate, seed)[0]


def write_clip(path: Path, seed=0, rate=RATE):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, clip(seed, rate), rate)
    return path


def speaker_folder(root: Path, n_per_speaker=12):
    """Two speakers, one per sub-folder, in WAV, FLAC and OGG, each with a .txt transcript."""
    for speaker in ("anna", "bert"):
        for i in range(n_per_speaker):
            suffix = (".wav", ".flac", ".ogg")[i % 3]
            path = write_clip(root / speaker / f"utt{i:02d}{suffix}", seed=i)
            path.with_suffix(".txt").write_text(f"{speaker} says number {i}\n")
    return root


# ----------------------------------------------------------------------------- silence trimming

def test_trimming_keeps_every_burst_and_shortens_long_pauses():
    rate = 16000
    wave, tones = bursts([("gap", 0.6), ("tone", 0.4), ("gap", 1.0), ("tone", 0.3), ("gap", 0.2), ("tone", 0.3),
                          ("gap", 0.8)], rate)
    trim = speech.SilenceTrim()
    out = speech.trim_silence(wave, rate, trim)
    for start, end in tones:  # each burst lies wholly inside one kept range: no speech sample is cut
        assert any(s <= start and end <= e for s, e in out.kept), (start, end, out.kept)
    assert np.array_equal(out.waveform, np.concatenate([wave[s:e] for s, e in out.kept]))
    assert -60 < out.loudest_removed_db < -40  # only the noise floor (about -48 dB re the tones) went
    # 0.6 s lead -> 0.05 s margin, 1.0 s pause -> 0.3 s, 0.2 s pause kept, 0.8 s tail -> 0.05 s
    expected_removed = (0.6 - 0.05) + (1.0 - 0.3) + (0.8 - 0.05)
    assert out.seconds_removed == pytest.approx(expected_removed, abs=0.08)
    assert len(out.waveform) + round(out.seconds_removed * rate) == len(wave)
    short_pause = (tones[1][1], tones[2][0])  # the 0.2 s pause is kept whole
    assert any(s <= short_pause[0] and short_pause[1] <= e for s, e in out.kept)


def test_trimming_pure_silence_leaves_nothing():
    out = speech.trim_silence(np.zeros(16000, np.float32), 16000)
    assert len(out.waveform) == 0 and out.seconds_removed == pytest.approx(1.0)


# ----------------------------------------------------------------------------- the folder layout

def test_folder_of_speakers_builds_a_verified_corpus(tmp_path):
    source = speaker_folder(tmp_path / "mine")
    manifest = layouts.build_from_layout(source, tmp_path / "corpus", layout="auto", progress=False)
    assert manifest.speakers == ["anna", "bert"] and len(manifest.entries) == 24 and manifest.skipped == []
    assert verify(tmp_path / "corpus") == []
    back = read_manifest(tmp_path / "corpus")
    assert back.sample_rate == 16000 and back.licence
    for e in back.entries:
        assert ENTRY_FIELDS <= set(vars(e)) and e.split in ("train", "valid", "test")
        assert back.speakers[e.speaker_id] == e.speaker and e.path.startswith(f"wav/{e.speaker}/")
        assert e.text.startswith(f"{e.speaker} says number") and e.source.startswith(str(source))
        info = soundfile.info(tmp_path / "corpus" / e.path)  # read back with an independent library
        assert info.samplerate == 16000 and info.subtype == "PCM_16" and info.channels == 1
        assert info.frames / 16000 == pytest.approx(e.seconds, abs=1e-3)
        # a 1.75 s clip: 0.4 s lead -> 0.05, 0.6 s pause -> 0.3, 0.3 s tail -> 0.05
        assert back.stats["trimmed_seconds"][e.path] == pytest.approx(0.9, abs=0.08)
    stats = back.stats["speakers"]["anna"]
    assert stats["clips"] == 12 and stats["splits"] == {"train": 10, "valid": 1, "test": 1}
    assert back.stats["trimmed_seconds_total"] == pytest.approx(24 * 0.9, abs=24 * 0.08)
    assert (tmp_path / "corpus" / "LICENCES.md").exists() is False  # the recipe writes it, not the library


def test_splits_are_disjoint_and_a_fixed_seed_repeats_them(tmp_path):
    source = speaker_folder(tmp_path / "mine", n_per_speaker=20)
    splits = []
    for out, seed in (("a", 0), ("b", 0), ("c", 1)):
        m = layouts.build_from_layout(source, tmp_path / out, seed=seed, progress=False)
        by_split = {s: {e.path for e in m.split(s)} for s in ("train", "valid", "test")}
        assert not (by_split["train"] & by_split["valid"] or by_split["train"] & by_split["test"]
                    or by_split["valid"] & by_split["test"])
        assert sum(map(len, by_split.values())) == 40
        for speaker in m.speakers:  # each speaker has held-out clips of its own
            assert any(e.speaker == speaker for e in m.split("valid")) and any(e.speaker == speaker for e in m.split("test"))
        splits.append({e.path: e.split for e in m.entries})
    assert splits[0] == splits[1] and splits[0] != splits[2]


def test_bad_files_are_skipped_with_a_reason_and_the_rest_is_built(tmp_path):
    source = tmp_path / "mixed"
    for i in range(4):
        write_clip(source / f"good{i}.wav", seed=i)
    (source / "text.wav").write_text("this is a text file renamed to .wav")
    (source / "song.mp3").write_bytes(b"ID3" + bytes(100))
    (source / "corrupt.flac").write_bytes(b"fLaC" + np.random.default_rng(0).bytes(4000))
    soundfile.write(source / "empty.wav", np.zeros(0, np.float32), RATE)
    soundfile.write(source / "silent.wav", np.zeros(RATE, np.float32), RATE)
    soundfile.write(source / "long.ogg", np.concatenate([clip(9), clip(10)]), RATE)  # 3.5 s, over the 2 s allowed
    nan = clip(8)
    nan[100] = np.nan
    soundfile.write(source / "nan.wav", nan, RATE, subtype="FLOAT")
    manifest = layouts.build_from_layout(source, tmp_path / "corpus", layout="folder", max_seconds=2.0, progress=False)
    assert sorted(Path(e.source).name for e in manifest.entries) == [f"good{i}.wav" for i in range(4)]
    reasons = {Path(s["source"]).name: s["reason"] for s in manifest.skipped}
    assert set(reasons) == {"text.wav", "corrupt.flac", "empty.wav", "silent.wav", "long.ogg", "nan.wav", "song.mp3"}
    assert "not a format a corpus takes; allowed: .wav, .flac, .ogg" in reasons["song.mp3"]
    assert "not a readable audio file" in reasons["text.wav"]
    assert "not a readable audio file" in reasons["corrupt.flac"] or "damaged" in reasons["corrupt.flac"]
    assert "empty" in reasons["empty.wav"]
    assert "nothing but silence" in reasons["silent.wav"]
    assert "longer than the 2 s allowed" in reasons["long.ogg"]
    assert "NaN or infinite" in reasons["nan.wav"]
    assert verify(tmp_path / "corpus") == []
    text = speech.summary(manifest)
    assert "4 clips" in text and "7 files skipped" in text and "nothing but silence" in text


# ----------------------------------------------------------------------------- LJSpeech and VCTK

def test_ljspeech_layout_uses_normalized_text_and_reports_gaps(tmp_path):
    source = tmp_path / "LJSpeech-1.1"
    rows = []
    for i in range(5):
        write_clip(source / "wavs" / f"LJ001-{i:04d}.wav", seed=i)
        rows.append(f"LJ001-{i:04d}|Text {i} in 1884.|Text {i} in eighteen eighty-four.")
    rows.append("LJ001-0099|a line whose audio is missing|")
    rows.append("garbage line without separators")
    write_clip(source / "wavs" / "LJ009-0001.wav")  # audio not listed in metadata.csv
    (source / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert layouts.detect_layout(source) == "ljspeech"
    manifest = layouts.build_from_layout(source, tmp_path / "corpus", progress=False)
    assert manifest.speakers == ["LJSpeech-1.1"] and len(manifest.entries) == 5
    texts = {Path(e.path).stem: e.text for e in manifest.entries}
    assert texts["LJ001-0002"] == "Text 2 in eighteen eighty-four." and all(e.language == "en" for e in manifest.entries)
    reasons = " | ".join(s["reason"] for s in manifest.skipped)
    assert "LJ001-0099.wav: no audio file" in reasons and "malformed line" in reasons
    assert "LJ009-0001.wav: no transcript" in reasons and len(manifest.skipped) == 3


def test_vctk_layout_pairs_audio_with_text_and_prefers_mic1(tmp_path):
    source = tmp_path / "VCTK"
    for speaker in ("p225", "p226"):
        for n in range(1, 5):
            key = f"{speaker}_{n:03d}"
            for mic in (1, 2):
                write_clip(source / "wav48_silence_trimmed" / speaker / f"{key}_mic{mic}.flac", seed=n + mic)
            if not (speaker == "p226" and n == 4):
                (source / "txt" / speaker).mkdir(parents=True, exist_ok=True)
                (source / "txt" / speaker / f"{key}.txt").write_text(f"Please call Stella {n}.\n")
    assert layouts.detect_layout(source) == "vctk"
    manifest = layouts.build_from_layout(source, tmp_path / "corpus", progress=False)
    assert manifest.speakers == ["p225", "p226"] and len(manifest.entries) == 7
    assert all(e.source.endswith("_mic1.flac") for e in manifest.entries)
    assert {e.text for e in manifest.entries} == {f"Please call Stella {n}." for n in range(1, 5)}
    reasons = [s["reason"] for s in manifest.skipped]
    assert sum("second recording" in r for r in reasons) == 8
    assert any("p226_004_mic1.flac: no transcript" in r for r in reasons)


def test_unknown_layout_and_missing_folder_are_refused(tmp_path):
    with pytest.raises(InputError, match="allowed: auto, folder, ljspeech, vctk"):
        layouts.build_from_layout(tmp_path, tmp_path / "out", layout="timit")
    with pytest.raises(InputError, match="no such folder"):
        layouts.build_from_layout(tmp_path / "nope", tmp_path / "out")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no audio files"):
        layouts.build_from_layout(tmp_path / "empty", tmp_path / "out")


# ----------------------------------------------------------------------------- groups and resuming

def counted_utterances(speaker, n, calls, rate=16000):
    def loader(i):
        def load(sample_rate, max_seconds):
            calls.append(i)
            return clip(i, sample_rate)
        return load
    return [speech.Utterance(speaker=speaker, key=f"k{i}", text=f"t{i}", language="xx", source=f"src/{speaker}/{i}",
                             load=loader(i)) for i in range(n)]


def info(name):
    return speech.SpeakerInfo(name=name, language="xx", licence="CC0", attribution=f"{name} himself")


def test_rebuilding_reuses_finished_clips_and_keeps_other_groups(tmp_path):
    calls = []
    speech.build_corpus(counted_utterances("alf", 6, calls), tmp_path, group="one", speakers={"alf": info("alf")},
                            licence="one: CC0", progress=False)
    assert len(calls) == 6
    b = speech.build_corpus(counted_utterances("bea", 5, calls), tmp_path, group="two", speakers={"bea": info("bea")},
                            licence="two: CC0", progress=False)
    assert b.speakers == ["alf", "bea"] and len(b.entries) == 11 and b.licence == "one: CC0\ntwo: CC0"
    calls.clear()
    again = speech.build_corpus(counted_utterances("alf", 6, calls), tmp_path, group="one",
                                speakers={"alf": info("alf")}, licence="one: CC0", progress=False)
    assert calls == []  # resumed: nothing decoded again
    assert sorted((e.path, e.sha256, e.split) for e in again.entries) == sorted((e.path, e.sha256, e.split) for e in b.entries)
    assert {e.speaker: e.speaker_id for e in again.entries} == {"alf": 0, "bea": 1}
    assert verify(tmp_path) == [] and set(again.stats["groups"]) == {"one", "two"}
    # a changed trimming rule makes the group's clips be made again
    speech.build_corpus(counted_utterances("alf", 6, calls), tmp_path, group="one", speakers={"alf": info("alf")},
                        licence="one: CC0", trim=speech.SilenceTrim(top_db=30), progress=False)
    assert len(calls) == 6


def test_licences_file_credits_every_speaker(tmp_path):
    m = speech.build_corpus(counted_utterances("alf", 3, []), tmp_path, group="one", speakers={"alf": info("alf")},
                            licence="one: CC0", progress=False)
    text = speech.write_licences(m, tmp_path).read_text()
    assert "## one" in text and "`alf` (speaker_id 0" in text and "alf himself" in text


def run_recipe(monkeypatch, *args):
    """Run recipes/speech_corpus.py's main() in this process (a subprocess would pay torch's import twice)."""
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "speech_corpus.py"
    spec = importlib.util.spec_from_file_location("speech_corpus_recipe", recipe)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(sys, "argv", [str(recipe), *args])
    try:
        module.main()
    except SystemExit as exit:
        return exit.code
    return 0


def test_recipe_folder_stage_builds_from_the_command_line(tmp_path, monkeypatch, capsys):
    source = speaker_folder(tmp_path / "mine", n_per_speaker=3)
    (source / "anna" / "broken.wav").write_text("not audio")
    code = run_recipe(monkeypatch, "--stage", "folder", "--source", str(source), "--layout", "folder",
                      "--out", str(tmp_path / "out"))
    out = capsys.readouterr().out
    assert code == 0 and "6 clips" in out and "broken.wav" in out and "not a readable audio file" in out
    body = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert body["format"] == "synth-corpus" and len(body["entries"]) == 6 and len(body["skipped"]) == 1
    assert (tmp_path / "out" / "LICENCES.md").is_file()
    code = run_recipe(monkeypatch, "--stage", "folder", "--source", str(tmp_path / "nope"), "--out", str(tmp_path / "o2"))
    assert code == 2 and "no such folder" in capsys.readouterr().err


# ----------------------------------------------------------------------------- Fish Fillets

DIALOGS_CS = '''-- Intro dialogs (a comment with dialogId("fake", "font_big", "not real") inside)

dialogId("bar-v-co", "font_big", "What are we supposed to do with it?")
dialogStr("Ale co s tím budeme dělat?")


dialogId("m-uvedomit", "font_small",
"You need to realize -- the cylinder")
dialogStr(
"Je dobré si uvědomit, že \\"ta\\" trubka -- kolem.")

dialogId('par-x-ahoj', "font_parrot", "Hello!")
dialogStr('Ahoj!') -- parrot

dialogId("z-c-1", "", "")
dialogStr("")

dialogId("bad-1", "font_big", "concatenated")
dialogStr("a" .. "b")
'''


def test_lua_dialog_reader_reads_the_real_format_without_running_it():
    dialogs, problems = fillets.parse_dialogs(DIALOGS_CS)
    by_id = {d.id: d for d in dialogs}
    assert list(by_id) == ["bar-v-co", "m-uvedomit", "par-x-ahoj", "z-c-1", "bad-1"]
    assert by_id["bar-v-co"].speaker == "font_big" and by_id["bar-v-co"].text == "Ale co s tím budeme dělat?"
    assert by_id["m-uvedomit"].english == "You need to realize -- the cylinder"
    assert by_id["m-uvedomit"].text == 'Je dobré si uvědomit, že "ta" trubka -- kolem.'
    assert by_id["par-x-ahoj"].text == "Ahoj!" and by_id["z-c-1"].text == ""
    assert by_id["bad-1"].text == "" and len(problems) == 1 and "'..'" in problems[0] and "line 19" in problems[0]


def test_fillets_clips_are_matched_to_lines_and_minor_characters_dropped(tmp_path):
    game = tmp_path / fillets.GAME
    (game / "script" / "barrel").mkdir(parents=True)
    (game / "script" / "barrel" / "dialogs_cs.lua").write_text(DIALOGS_CS, encoding="utf-8")
    (game / "script" / "share").mkdir(parents=True)
    (game / "script" / "share" / "bore_dialogs_cs.lua").write_text(
        'dialogId("ob-m-ach", "font_small", "Oh.")\ndialogStr("Ach.")\n', encoding="utf-8")
    for name in ("bar-v-co", "m-uvedomit", "par-x-ahoj", "z-c-1", "unknown"):
        write_clip(game / "sound" / "barrel" / "cs" / f"{name}.ogg")
    write_clip(game / "sound" / "share" / "borejokes" / "cs" / "ob-m-ach.ogg")
    utterances, skipped, speakers, counts = fillets.fillets_utterances(tmp_path, "cs", min_speaker_clips=1)
    assert {u.key: u.speaker for u in utterances} == {"barrel/bar-v-co": "fillets-cs-big",
                                                      "barrel/m-uvedomit": "fillets-cs-small",
                                                      "barrel/par-x-ahoj": "fillets-cs-parrot",
                                                      "share/borejokes/ob-m-ach": "fillets-cs-small"}
    assert counts["clips"] == 6 and counts["matched"] == 4
    assert sorted(Path(s["source"]).name for s in skipped) == ["unknown.ogg", "z-c-1.ogg"]
    assert all(u.source.startswith("fillets-ng-data-cs:/usr/share/games/fillets-ng/sound/") for u in utterances)
    # with the real threshold the parrot (one clip) is a minor character: dropped, with the reason
    utterances, skipped, speakers, _ = fillets.fillets_utterances(tmp_path, "cs", min_speaker_clips=2)
    assert set(speakers) == {"fillets-cs-small"} and {u.speaker for u in utterances} == {"fillets-cs-small"}
    assert any("minor character fillets-cs-parrot with 1 clips" in s["reason"] for s in skipped)
    corpus = speech.build_corpus(utterances, tmp_path / "corpus", group="fillets", speakers=speakers,
                                 licence=fillets.LICENCE, skipped=skipped, progress=False)
    assert len(corpus.entries) == 2 and verify(tmp_path / "corpus") == []


# ----------------------------------------------------------------------------- Asterisk

def test_asterisk_transcript_reader(tmp_path):
    path = tmp_path / "core-sounds-it.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write("\ufeff; Core Asterisk Sounds in Italian\n\n"
                "activated: Attivato.\n"
                "followme/status: the person is not at their desk; I will try to locate them\n"
                "beep: [this is a simple beep tone]\n"
                "letters/dash: trattino [-]\n"
                "vm-msgsaved: Il [suo] messaggio è stato salvato.\n"
                "letters/O: O\n"
                "; commented: out\n")
    t = asterisk.read_transcripts(path)
    assert t == {"activated": "Attivato.",
                 "followme/status": "the person is not at their desk; I will try to locate them",
                 "letters/dash": "trattino", "vm-msgsaved": "Il suo messaggio è stato salvato.", "letters/O": "O"}
    assert asterisk.match_transcripts(["activated", "letters/o", "beep"], t) == {"activated": "activated",
                                                                                  "letters/o": "letters/O"}


def test_asterisk_prompts_decode_and_unlisted_tones_are_skipped(tmp_path):
    import G722

    voice = tmp_path / "usr/share/asterisk/sounds/fr_CA_f_June"
    (voice / "digits").mkdir(parents=True)
    pcm = (clip(0, 16000) * 32767).astype(np.int16)
    for key in ("activated", "digits/1", "beep"):
        (voice / f"{key}.g722").write_bytes(G722.G722(16000, 64000).encode(pcm))
    (voice / "empty.g722").write_bytes(b"")
    doc = tmp_path / "usr/share/doc/asterisk-core-sounds-fr"
    doc.mkdir(parents=True)
    with gzip.open(doc / "core-sounds-fr.txt.gz", "wt", encoding="utf-8") as f:
        f.write("activated: activé\ndigits/1: un\nempty: vide\n")
    utterances, skipped, speaker, counts = asterisk.prompt_utterances(tmp_path, "fr")
    assert speaker.name == "asterisk-fr-june" and speaker.licence == "CC-BY-SA-3.0" and "June Wallack" in speaker.attribution
    assert counts == {"clips": 4, "transcripts": 3, "matched": 3, "case_insensitive_matches": 0}
    assert [s["source"].rsplit("/", 1)[-1] for s in skipped] == ["beep.g722"]
    corpus = speech.build_corpus(utterances, tmp_path / "corpus", group="asterisk", speakers={speaker.name: speaker},
                                 licence="CC-BY-SA-3.0", skipped=skipped, progress=False)
    assert sorted(e.path for e in corpus.entries) == ["wav/asterisk-fr-june/activated.wav", "wav/asterisk-fr-june/digits/1.wav"]
    empty = [s for s in corpus.skipped if "empty" in s["reason"]]
    assert len(empty) == 1 and empty[0]["reason"].startswith("asterisk-core-sounds-fr-g722:/usr/share/asterisk/")
    decoded, _ = soundfile.read(tmp_path / "corpus" / "wav/asterisk-fr-june/activated.wav")
    assert 0.8 < len(decoded) / 16000 < 1.0 and np.abs(decoded).max() > 0.3  # 1.75 s clip trimmed to ~0.85 s
    assert Entry(**vars(corpus.entries[0])) == corpus.entries[0]


def test_ljspeech_takes_of_one_prompt_share_a_split_and_flac_is_read(tmp_path):
    source = tmp_path / "kathleen"
    rows = []
    for prompt in range(12):
        for take in range(3):
            clip_id = f"arctic_a{prompt:04d}_{1592748500 + take}"
            write_clip(source / "wavs" / f"{clip_id}.flac", seed=prompt * 3 + take)
            rows.append(f"{clip_id}|Prompt number {prompt}.")
    (source / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest = layouts.build_from_layout(source, tmp_path / "corpus", progress=False)
    assert len(manifest.entries) == 36 and not manifest.skipped
    splits_of_prompt: dict[str, set] = {}
    for entry in manifest.entries:
        splits_of_prompt.setdefault(layouts.prompt_id(Path(entry.path).stem), set()).add(entry.split)
    assert len(splits_of_prompt) == 12 and all(len(s) == 1 for s in splits_of_prompt.values())
    assert {s for splits in splits_of_prompt.values() for s in splits} == {"train", "valid", "test"}
    assert layouts.prompt_id("arctic_b0123_1592748574") == "arctic_b0123" and layouts.prompt_id("LJ001-0001") == "LJ001-0001"


def test_librispeech_subsets_fix_the_split_and_name_speakers_by_number(tmp_path):
    source = tmp_path / "LibriSpeech"
    for speaker in (103, 1034, 1040):  # files directly in the subset folder
        write_clip(source / "train-clean-100" / f"{speaker}-1240-0000.flac", seed=speaker)
    for speaker in (1688, 1998):  # <subset>/<speaker>/<file>
        for i in range(4):
            write_clip(source / "test-other" / str(speaker) / f"{speaker}-142285-{i:04d}.flac", seed=i)
    chapter = source / "dev-clean" / "84" / "121123"  # the official tree, with a transcript file
    write_clip(chapter / "84-121123-0000.flac")
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")
    write_clip(source / "test-other" / "stray.flac")
    assert layouts.detect_layout(source) == "librispeech"
    manifest = layouts.build_from_layout(source, tmp_path / "corpus", progress=False)
    by_speaker = {}
    for entry in manifest.entries:
        by_speaker.setdefault(entry.speaker, set()).add(entry.split)
    assert by_speaker == {"librispeech-103": {"train"}, "librispeech-1034": {"train"}, "librispeech-1040": {"train"},
                          "librispeech-1688": {"test"}, "librispeech-1998": {"test"}, "librispeech-84": {"valid"}}
    assert [e.text for e in manifest.entries if e.speaker == "librispeech-84"] == ["GO DO YOU HEAR"]
    assert any("stray.flac" in s["reason"] and "<speaker>" in s["reason"] for s in manifest.skipped)
