"""The text-to-speech solver on a tiny corpus made here: the split by prompt, features computed
once with MelFeatures, batches, training that keeps the best weights and resumes, bundling and
evaluation (files read back)."""
import dataclasses
import json

import numpy as np
import pytest
import soundfile
import torch

from synth.audio import MelFeatures, read_audio
from synth import judges
from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.solvers import tts as solver
from synth.solvers import tts_evaluation as evaluation
from synth.solvers.tts import TTSData, TTSRecipe, bundle, prepare_features, read_manifest, run_train
from synth.solvers.tts_card import model_card
from synth.solvers.tts_evaluation import run_evaluate
from synth.training import TrainConfig
from synth.splits import hash_split
from synth.tts.corpus import MelCorpus, prompt_id
from synth.tts.reader import griffin_lim, pause_frames, read_sentences
from test_tts import tiny, tiny_vocoder

pytestmark = pytest.mark.usefixtures("one_thread")

TEXTS = ["The cat sat.", "A dog ran far.", "Birds sing at dawn.", "Rain fell all day.", "We met at 3 pm.",
         "Go home now.", "It was late.", "The sun is hot."]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("kathleen")
    (root / "wavs").mkdir()
    rng = np.random.default_rng(0)
    lines = []
    for p, text in enumerate(TEXTS):
        for take in range(2):  # two takes of each prompt, as the real corpus has
            utterance = f"arctic_a{p:04d}_{1000 + take}"
            seconds = 0.3 + 0.05 * len(text) / 4
            t = np.arange(int(seconds * 16000)) / 16000
            audio = 0.3 * np.sin(2 * np.pi * (200 + 20 * p) * t) + 0.01 * rng.standard_normal(len(t))
            soundfile.write(root / "wavs" / f"{utterance}.flac", audio.astype(np.float32), 16000)
            lines.append(f"{utterance}|{text}")
    (root / "metadata.csv").write_text("\n".join(lines) + "\n")
    (root / "LICENSE").write_text("CC0 1.0 Universal\n")
    return root


def quarters(prompt: str) -> str:
    """A quarter of the tiny corpus's prompts each for valid and test (the judges' split holds out 5%)."""
    return hash_split(prompt, 0, 0.25, 0.25)


def small_recipe(corpus, tmp_path, **overrides) -> TTSRecipe:
    model = tiny().config
    values = dict(name="tts-test", out_dir=str(tmp_path / "assets"), runs_dir=str(tmp_path / "runs"),
                  model=model, train=TrainConfig(steps=4, eval_every=2, checkpoint_every=2, warmup_steps=1,
                                                 learning_rate=1e-2, ema_decay=0.9),
                  data=TTSData(corpus=str(corpus), features=str(tmp_path / "features"), batch_size=3, valid_batches=1,
                               split="test_tts_solver.quarters"),
                  eval_prompts=2, eval_samples=1, max_retries=1, griffin_lim_iters=2, vocoder="", judged_prompts=0,
                  judged_sentences=0, speed_repeats=1)
    values.update(overrides)
    return TTSRecipe(**values)


def test_prompt_id_drops_the_take():
    assert prompt_id("arctic_a0001_1592748574") == "arctic_a0001"
    assert prompt_id("arctic_b0539_1592524722") == "arctic_b0539"


def test_the_held_out_prompts_are_the_judges():
    from synth import judges
    from synth.judges import heldout_prompt
    from synth.splits import prompt_split
    from synth.tts.corpus import compute_features

    assert compute_features.__kwdefaults__["split_of"] is prompt_split is judges.prompt_split
    assert TTSData().split == "synth.splits.prompt_split"
    assert heldout_prompt("arctic_a0001") == (compute_features.__kwdefaults__["split_of"]("arctic_a0001") == "test")


def test_features_split_by_a_name_of_the_same_function_are_accepted(corpus, tmp_path):
    """The bundled model's recipe names synth.judges.prompt_split, which is synth.splits.prompt_split."""
    recipe = small_recipe(corpus, tmp_path, data=TTSData(corpus=str(corpus), features=str(tmp_path / "features"),
                                                          split="synth.judges.prompt_split"))
    manifest = prepare_features(recipe, log=lambda _: None)
    assert manifest["split"]["function"] == "synth.splits.prompt_split"
    assert read_manifest(recipe)["split"] == manifest["split"]
    with pytest.raises(Exception, match="were split by"):
        other = dataclasses.replace(recipe.data, split="test_tts_solver.quarters")
        read_manifest(dataclasses.replace(recipe, data=other))


def test_a_prompt_lands_in_one_split_whatever_the_take():
    splits = {hash_split(prompt_id(f"arctic_a{p:04d}_{t}"), 0, 0.1, 0.1) for p in range(50) for t in range(3)}
    assert splits == {"train", "valid", "test"}
    for p in range(50):
        assert len({hash_split(prompt_id(f"arctic_a{p:04d}_{t}"), 0, 0.1, 0.1) for t in range(3)}) == 1


def test_features_are_melfeatures_of_the_audio_split_by_prompt(corpus, tmp_path):
    recipe = small_recipe(corpus, tmp_path)
    manifest = prepare_features(recipe, log=lambda _: None)
    assert sum(c["utterances"] for c in manifest["counts"].values()) == 2 * len(TEXTS)
    ids = {}
    for split in ("train", "valid", "test"):
        part = MelCorpus(tmp_path / "features" / f"{split}.npz", recipe.model.characters, recipe.model.max_chars)
        ids[split] = {prompt_id(i) for i in part.ids}
        for utterance, text, mel in zip(part.ids, part.texts, part.mels):
            audio, _ = read_audio(corpus / "wavs" / f"{utterance}.flac", 16000)
            assert torch.allclose(mel, MelFeatures()(torch.from_numpy(audio)), atol=1e-5)
            assert text == text.lower() and text.endswith(".")
    assert not ids["train"] & ids["valid"] and not ids["train"] & ids["test"] and not ids["valid"] & ids["test"]
    assert read_manifest(recipe)["frames_per_char"] > 0
    with pytest.raises(Exception, match="other mel parameters"):
        read_manifest(dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, mel={**recipe.model.mel, "n_fft": 512})))


def test_batches_pad_to_the_longest_and_say_the_true_lengths(corpus, tmp_path):
    recipe = small_recipe(corpus, tmp_path)
    prepare_features(recipe, log=lambda _: None)
    train = MelCorpus(tmp_path / "features" / "train.npz", recipe.model.characters, recipe.model.max_chars)
    batch = train.random_batch(torch.Generator().manual_seed(0), 3)
    assert batch["mel"].shape[:2] == (3, 80) and batch["mel"].shape[2] == int(batch["n_frames"].max())
    for row in range(3):
        assert torch.all(batch["mel"][row, :, batch["n_frames"][row]:] == 0)
    again = train.random_batch(torch.Generator().manual_seed(0), 3)
    assert torch.equal(batch["mel"], again["mel"])


def test_training_keeps_the_best_weights_resumes_and_bundles_and_evaluates(corpus, tmp_path):
    recipe = small_recipe(corpus, tmp_path)
    prepare_features(recipe, log=lambda _: None)
    lines = []
    result = run_train(recipe, log=lines.append)
    records = [json.loads(line) for line in lines if line.startswith("{")]
    best = load_checkpoint(tmp_path / "runs" / "tts-test" / "best", expect_kind="text-to-mel")
    assert best.metadata["best"]["valid_loss"] == min(r["valid_loss"] for r in records)
    assert result["step"] == 4
    longer = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=6))
    lines.clear()
    assert run_train(longer, log=lines.append)["step"] == 6
    assert any("resumed" in line and "step 4" in line for line in lines)
    card = lambda facts: model_card(recipe, facts, command="python recipes/tts.py")  # noqa: E731
    out = tmp_path / "assets"
    bundle(dataclasses.replace(recipe, bundled_weights="best"), card, log=lambda _: None)
    best_now = load_checkpoint(tmp_path / "runs" / "tts-test" / "best", expect_kind="text-to-mel")
    assert load_checkpoint(out, expect_kind="text-to-mel").metadata["best"] == best_now.metadata["best"]
    bundle(recipe, card, log=lambda _: None)  # the default: the run's last (EMA) weights
    assert load_checkpoint(out, expect_kind="text-to-mel").metadata["step"] == 6
    metrics = run_evaluate(recipe, card, log=lambda _: None)
    assert json.loads((out / "metrics.json").read_text())["test_loss"] == metrics["test_loss"]
    assert metrics["outside_sentences"]["sentences"] >= 20
    # every test prompt (eval_prompts = 2 at most), the 24 outside sentences, then validation prompts (fewer than 100)
    counts = read_manifest(recipe)["counts"]
    assert metrics["alignment"]["sources"] == {"held_out_prompts": min(2, counts["test"]["prompts"]),
                                               "outside_sentences": 24, "validation_prompts": counts["valid"]["prompts"]}
    assert metrics["judged"] == {} and "not yet measured" in (out / "MODEL_CARD.md").read_text().split("Speed")[0]
    assert "CC0" in (out / "MODEL_CARD.md").read_text()


@pytest.fixture
def fake_judges(monkeypatch):
    """pocketsphinx, DNSMOS and espeak-ng stand-ins (the real ones are tested in test_judges.py):
    the recogniser hears "the cat sat", DNSMOS rates a clip by its peak, espeak-ng says a tone."""
    pytest.importorskip("jiwer")
    spoken = []

    def espeak(text, sample_rate=16000):
        spoken.append(text)
        return (0.1 * np.sin(np.arange(sample_rate // 2) * 0.2)).astype(np.float32)

    monkeypatch.setattr(judges.asr, "transcribe", lambda audio, rate: "the cat sat")
    monkeypatch.setattr(judges.quality, "dnsmos", lambda audio, rate: {"overall": 1.0 + float(np.abs(audio).max()), "sig": 2.0,
                                                                        "bak": 3.0, "p808": 3.0})
    monkeypatch.setattr(judges, "espeak_ng", espeak)
    return spoken


def test_the_weights_to_bundle_are_named_last_or_best(corpus, tmp_path):
    with pytest.raises(InputError, match="bundled_weights must be 'last' or 'best'"):
        small_recipe(corpus, tmp_path, bundled_weights="newest")


def test_evaluation_judges_each_row_on_held_out_and_outside_sentences(corpus, tmp_path, fake_judges):
    vocoder_dir = tmp_path / "vocoder"
    save_checkpoint(tiny_vocoder(tiny()), vocoder_dir, metadata={"features": {"kind": "mel", **tiny().config.mel}})
    recipe = small_recipe(corpus, tmp_path, vocoder=str(vocoder_dir), judged_prompts=1, judged_sentences=2,
                          eval_samples=1)
    prepare_features(recipe, log=lambda _: None)
    run_train(dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=2)), log=lambda _: None)
    card = lambda facts: model_card(recipe, facts, command="python recipes/tts.py")  # noqa: E731
    bundle(recipe, card, log=lambda _: None)
    printed = []
    metrics = run_evaluate(recipe, card, log=printed.append)
    out = tmp_path / "assets"
    stored = json.loads((out / "metrics.json").read_text())
    held, outside = stored["judged"]["held_out_prompts"], stored["judged"]["outside_sentences"]
    assert list(held["rows"]) == [evaluation.WAVENET_ROW, evaluation.GRIFFIN_LIM_ROW, evaluation.ESPEAK_ROW,
                                  evaluation.ORIGINAL_ROW]
    assert list(outside["rows"]) == [evaluation.WAVENET_ROW, evaluation.GRIFFIN_LIM_ROW, evaluation.ESPEAK_ROW]
    assert held["clips"] == 1 and outside["clips"] == 2 and outside["seconds"] is None
    # espeak-ng reads the normalised words the network read, which are the judges' reference
    assert outside["texts"] == ["the quick brown fox jumps over the lazy dog.", "please call me back after lunch."]
    assert fake_judges == [*held["texts"], *outside["texts"]]
    assert outside["rows"][evaluation.ESPEAK_ROW]["wer"] == pytest.approx(14 / 15)  # "the cat sat" for 9 + 6 words: "the" right
    assert held["rows"][evaluation.ORIGINAL_ROW]["dnsmos_sig"] == 2.0
    # one printed table per set, and the card's tables are those of metrics.json
    tables = [line for line in printed if line.startswith("**")]
    assert len(tables) == 2 and "| espeak-ng |" in tables[0] and "| original recording |" in tables[0]
    card_text = (out / "MODEL_CARD.md").read_text()
    assert evaluation.format_judged(held, held["title"]) in card_text
    assert f"Alignment over {stored['alignment']['sentences']} free-running sentences" in card_text
    # the vocoder path's speed, on the ten-word sentence
    assert metrics["speed"]["words"] == 10 and metrics["speed"]["vocoder"]["first_audio_seconds"] > 0
    assert "first audio after" in card_text
    # samples: the WaveNet and Griffin-Lim audio of the same mels, read back
    wavenet, rate = soundfile.read(out / "samples" / "held_out_0_wavenet.wav")
    gl, gl_rate = soundfile.read(out / "samples" / "held_out_0_griffin_lim.wav")
    assert rate == gl_rate == 16000 and len(wavenet) == len(gl) > 0
    assert (out / "samples" / "outside_0_attention.png").read_bytes()[:4] == b"\x89PNG"


def test_reading_aloud_plays_the_same_mels_each_way_and_is_seeded(fake_judges):
    model = tiny()
    vocoder = tiny_vocoder(model)
    a = evaluation.read_aloud(model, vocoder, "Hi there. Bye now.", seed=3, max_retries=0, griffin_lim_iters=2)
    assert a.text == "hi there. bye now." and len(a.sentences) == 2
    assert a.mel.shape[1] == sum(s.mel.shape[1] for s in a.sentences) + pause_frames(model).shape[1]
    assert len(a.audio[evaluation.WAVENET_ROW]) == len(a.audio[evaluation.GRIFFIN_LIM_ROW]) == a.mel.shape[1] * 256
    assert np.array_equal(a.audio[evaluation.GRIFFIN_LIM_ROW], griffin_lim(a.mel, model, 2, seed=3))
    b = evaluation.read_aloud(model, vocoder, "Hi there. Bye now.", seed=3, max_retries=0, griffin_lim_iters=2)
    assert all(np.array_equal(a.audio[row], b.audio[row]) for row in a.audio)
    alone = evaluation.read_aloud(model, None, "Hi there. Bye now.", seed=3, max_retries=0, griffin_lim_iters=2)
    assert evaluation.WAVENET_ROW not in alone.audio and torch.equal(alone.mel, a.mel)


def test_judged_rows_keep_the_table_order_and_pair_originals_with_readings():
    def reading(*rows):
        return evaluation.Reading("a.", [], torch.zeros(80, 1), {row: np.zeros(4, np.float32) for row in rows})

    both = [reading(evaluation.GRIFFIN_LIM_ROW, evaluation.ESPEAK_ROW, evaluation.WAVENET_ROW)] * 2
    rows = evaluation.judged_rows(both, [np.ones(4)] * 2)
    assert list(rows) == [evaluation.WAVENET_ROW, evaluation.GRIFFIN_LIM_ROW, evaluation.ESPEAK_ROW,
                          evaluation.ORIGINAL_ROW]
    assert all(len(clips) == 2 for clips in rows.values())
    one_without = [both[0], reading(evaluation.GRIFFIN_LIM_ROW, evaluation.ESPEAK_ROW)]
    assert list(evaluation.judged_rows(one_without)) == [evaluation.GRIFFIN_LIM_ROW, evaluation.ESPEAK_ROW]
    with pytest.raises(InputError, match="1 original recordings for 2 readings"):
        evaluation.judged_rows(both, [np.ones(4)])


def test_alignment_counts_add_up_over_the_sets_of_sentences():
    def part(n, first, after, stalled, early):
        kinds = {"stalled": stalled, "skipped": 0, "over_budget": 0, "early_stop": early}
        return {"sentences": n, "failed_first_attempt": first, "failed_after_retry": after, "retries": first,
                "first_attempt_kinds": kinds, "after_retry_kinds": dict(kinds, stalled=after)}

    total = evaluation.combine_alignment({"a": part(60, 3, 1, 3, 2), "b": part(40, 2, 0, 1, 0), "none": {}})
    assert total["sentences"] == 100 and total["sources"] == {"a": 60, "b": 40}
    assert total["failed_first_attempt"] == 5 and total["failed_after_retry"] == 1
    assert total["first_attempt_kinds"] == {"stalled": 4, "skipped": 0, "over_budget": 0, "early_stop": 2}
    assert total["failure_rate_first_attempt"] == 0.05 and total["failure_rate_after_retry"] == 0.01


def test_the_first_attempt_is_the_reading_without_retries():
    model = tiny()
    texts = ["the cat sat.", "a dog ran far away from home.", "birds sing."]
    measured = evaluation.read_and_measure(model, texts, seed=2, max_retries=2)
    alone = read_sentences(model, texts, seed=2, max_retries=0)
    assert measured["failed_first_attempt"] == alone.failed_sentences
    assert measured["first_attempt_kinds"]["early_stop"] == sum(s.early_stop for s in alone.sentences)
    assert measured["failed_after_retry"] <= measured["failed_first_attempt"]
    assert measured["failed_first_attempt"] - measured["failed_after_retry"] <= measured["retries"]


def test_the_speed_sentence_has_ten_words_and_the_outside_sentences_are_enough():
    assert len(solver.SPEED_SENTENCE.split()) == 10
    assert len(solver.EVAL_SENTENCES) >= 20 and TTSRecipe().judged_sentences >= 20


def test_the_recipe_names_every_bad_evaluation_setting_at_once():
    with pytest.raises(InputError, match="judged_prompts.*judged_sentences must be from 0 to 24.*speed_repeats"):
        TTSRecipe(judged_prompts=-1, judged_sentences=99, speed_repeats=0)
