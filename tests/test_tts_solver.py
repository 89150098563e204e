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
from synth.checkpoint import load_checkpoint
from synth.solvers.tts import (TTSData, TTSRecipe, bundle, model_card, prepare_features, read_manifest, run_evaluate,
                               run_train)
from synth.training import TrainConfig
from synth.splits import hash_split
from synth.tts.corpus import MelCorpus, prompt_id
from test_tts import tiny

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
                  eval_prompts=2, eval_samples=1, max_retries=1, griffin_lim_iters=2)
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
    assert best.metadata["valid_loss"] == min(r["valid_loss"] for r in records)
    assert result["step"] == 4
    longer = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, steps=6))
    lines.clear()
    assert run_train(longer, log=lines.append)["step"] == 6
    assert any("resumed" in line and "step 4" in line for line in lines)
    card = lambda facts: model_card(recipe, facts, command="python recipes/tts.py")  # noqa: E731
    bundle(recipe, card, log=lambda _: None)
    metrics = run_evaluate(recipe, card, log=lambda _: None)
    out = tmp_path / "assets"
    assert json.loads((out / "metrics.json").read_text())["test_loss"] == metrics["test_loss"]
    assert metrics["outside_sentences"]["sentences"] >= 20
    audio, rate = soundfile.read(out / "samples" / "held_out_0.wav")
    assert rate == 16000 and len(audio) > 0
    assert (out / "samples" / "outside_0_attention.png").read_bytes()[:4] == b"\x89PNG"
    assert "CC0" in (out / "MODEL_CARD.md").read_text()
