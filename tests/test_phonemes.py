"""The phoneme front end of the text-to-mel network: espeak-ng's IPA with the text's marks kept in
place, the inventory the network embeds, clear errors; and a phoneme-reading network through the
features stage, training batches and free-running reading."""
import dataclasses
import shutil

import numpy as np
import pytest

from synth.errors import InputError
from synth.models.characters import character_ids
from synth.solvers.tts import prepare_features, read_manifest
from synth.tts.corpus import MelCorpus
from synth.models.phonemes import PHONEMES, PUNCTUATION, phonemise
from synth.tts.reader import read_sentences
from test_tts import tiny
from test_tts_solver import corpus, small_recipe  # noqa: F401 (the tiny corpus fixture)

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs the Debian package espeak-ng")]


def marks(text: str) -> str:
    return "".join(c for c in text if c in PUNCTUATION)


def test_phonemes_keep_the_marks_in_place_and_stay_in_the_inventory():
    texts = ["hello, world.", "doctor smith said; it is three pee em.", "the cat sat"]
    read = phonemise(texts)
    assert [marks(r) for r in read] == [marks(t) for t in texts]
    assert all(set(r) <= set(PHONEMES) for r in read)
    assert read[0] == "həlˈoʊ, wˈɜːld."  # espeak-ng's US English, stress marked
    assert len(read[2].split()) == 3 and "c" not in read[2]  # sounds, not letters
    assert phonemise(texts) == read  # deterministic


def test_phonemes_are_the_same_alone_and_in_a_batch():
    texts = ["a quiet river.", "please call me back, after lunch."]
    assert phonemise(texts) == [phonemise([t])[0] for t in texts]


def test_marks_with_no_words_between_them_are_kept():
    assert phonemise([", ;"]) == [",;"]
    assert phonemise([]) == []


def test_symbols_outside_the_inventory_are_left_out():
    assert phonemise(["hello, world."], inventory=" ,.həl") == ["həl, l."]


def test_an_unknown_language_is_refused_naming_it():
    with pytest.raises(InputError, match="'xx-nowhere'"):
        phonemise(["hello"], "xx-nowhere")


def test_a_missing_espeak_ng_is_named(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(InputError, match="espeak-ng"):
        phonemise(["a sentence no other test reads"])


def test_phonemes_of_a_sentence_are_computed_once(monkeypatch):
    from synth.models import phonemes

    calls = []
    real = phonemes._espeak
    monkeypatch.setattr(phonemes, "_espeak", lambda pieces, language: calls.append(pieces) or real(pieces, language))
    first = phonemise(["once upon a time, there.", "twice"])
    assert phonemise(["twice", "once upon a time, there.", "thrice"]) == [first[1], first[0], phonemise(["thrice"])[0]]
    assert calls == [["once upon a time", "there", "twice"], ["thrice"]]


def phoneme_recipe(corpus, tmp_path):
    model = dataclasses.replace(tiny().config, characters=PHONEMES, phonemes="en-us")
    return small_recipe(corpus, tmp_path, model=model)


def test_a_phoneme_model_trains_on_phonemes_of_the_transcripts(corpus, tmp_path):  # noqa: F811
    recipe = phoneme_recipe(corpus, tmp_path)
    manifest = prepare_features(recipe, log=lambda _: None)
    assert manifest["phonemes"] == "en-us"
    split = MelCorpus(tmp_path / "features" / "train.npz", PHONEMES, 400)
    assert split.symbols == phonemise(split.texts) and split.symbols != split.texts
    # frames per symbol read: the window's speed and the step budget
    frames = sum(int(n) for n in split.n_frames)
    assert manifest["frames_per_char"] == pytest.approx(frames / sum(len(s) for s in split.symbols), abs=1e-3)
    batch = split.batch([0, 1])
    ids, lengths = character_ids(split.symbols[:2], PHONEMES)
    assert np.array_equal(batch["chars"].numpy(), ids.numpy()) and batch["lengths"].tolist() == lengths.tolist()


def test_features_read_another_way_are_refused(corpus, tmp_path):  # noqa: F811
    recipe = phoneme_recipe(corpus, tmp_path)
    prepare_features(recipe, log=lambda _: None)
    characters = dataclasses.replace(recipe.model, characters=tiny().config.characters, phonemes="")
    with pytest.raises(InputError, match="read en-us, the model reads characters"):
        read_manifest(dataclasses.replace(recipe, model=characters))


def test_a_phoneme_model_reads_its_phonemes_and_its_window_spans_them():
    model = tiny(characters=PHONEMES, phonemes="en-us")
    text = "the cat sat, at dawn."
    result = read_sentences(model, [text], seed=0, max_retries=0, record=True)
    spoken = result.sentences[0]
    assert spoken.text == text and spoken.symbols == phonemise([text])[0] and spoken.read == spoken.symbols
    assert spoken.phi.shape[1] == len(spoken.symbols) + 1


def test_a_phoneme_config_names_a_bad_language():
    with pytest.raises(InputError, match="phonemes must be"):
        tiny(phonemes="en us; rm")
