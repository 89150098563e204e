"""The composer on the polyphonic benchmarks: the .mat files read with their published splits, the
NLL and the marginal baseline against hand computations, the fast NADE sampler against the
key-by-key reference, the best weights kept by validation NLL, the recipe end to end."""
import json
import math

import mido
import numpy as np
import pytest
import scipy.io
import torch

from synth.checkpoint import load_checkpoint
from synth.errors import InputError
from synth.models.composer import Composer, ComposerConfig, evaluate
from synth.music.benchmarks import BENCHMARKS, DEFAULT_FOLDER, key_range, load_benchmark, read_rolls
from synth.music.composition import compose, longest_copied_run
from synth.music.datasets import eval_batches
from synth.music.styles import STYLES, style
from synth.solvers.composer import ComposerData, ComposerRecipe, marginal_nll

PUBLISHED_SPLITS = {"jsb": (229, 76, 77), "nottingham": (694, 173, 170), "musedata": (524, 135, 124), "piano": (87, 12, 25)}


def tiny(head="nade", seed=0, **overrides):
    torch.manual_seed(seed)
    values = dict(head=head, hidden_size=16, n_layers=1, nade_hidden=8, dropout=0.0)
    values.update(overrides)
    return Composer(ComposerConfig(**values)).eval()


def write_benchmark(path, seed=0, pieces=(6, 3, 3), lowest=30, highest=60):
    """A tiny benchmark file of the published layout: chords on keys lowest..highest."""
    rng = np.random.default_rng(seed)

    def piece():
        roll = np.zeros((rng.integers(8, 20), 88), dtype=np.uint8)
        for t in range(len(roll)):
            roll[t, rng.choice(np.arange(lowest, highest + 1), size=3, replace=False)] = 1
        return roll

    arrays = {}
    for key, n in zip(("traindata", "validdata", "testdata"), pieces):
        cell = np.empty((1, n), dtype=object)
        for i in range(n):
            cell[0, i] = piece()
        arrays[key] = cell
    scipy.io.savemat(str(path), arrays)
    return path


# -- the data --------------------------------------------------------------------------------------

@pytest.mark.skipif(not DEFAULT_FOLDER.is_dir(), reason="the shared benchmark files are not here")
@pytest.mark.parametrize("name", list(BENCHMARKS))
def test_benchmark_files_hold_the_published_splits(name):
    data = load_benchmark(name)
    assert tuple(len(data.split(s)) for s in ("train", "valid", "test")) == PUBLISHED_SPLITS[name]
    assert all(r.shape[1] == 88 and r.dtype == np.uint8 for r in data.rolls)
    assert data.steps_per_quarter == (1 if name == "jsb" else 2)


def test_a_benchmark_file_reads_back_piece_for_piece(tmp_path):
    path = write_benchmark(tmp_path / "JSB_Chorales.mat")
    original = scipy.io.loadmat(str(path))
    splits = read_rolls(path)
    assert [len(splits[s]) for s in ("train", "valid", "test")] == [6, 3, 3]
    assert np.array_equal(splits["valid"][1], original["validdata"][0, 1])
    data = load_benchmark("jsb", tmp_path)
    assert key_range(data.split("train")) == (30, 60)


def test_a_file_of_another_shape_is_refused(tmp_path):
    cell = np.empty((1, 1), dtype=object)
    cell[0, 0] = np.zeros((5, 12))
    scipy.io.savemat(str(tmp_path / "bad.mat"), {"traindata": cell, "validdata": cell, "testdata": cell})
    with pytest.raises(InputError, match=r"expected \(frames, 88\)"):
        read_rolls(tmp_path / "bad.mat")


def test_a_missing_folder_or_name_is_a_clear_error(tmp_path):
    with pytest.raises(InputError, match="JSB_Chorales.mat"):
        load_benchmark("jsb", tmp_path)
    with pytest.raises(InputError, match="nottingham"):
        load_benchmark("bach", tmp_path)


# -- the measures against hand computations ---------------------------------------------------------

def test_marginal_baseline_equals_a_hand_computation():
    train = [np.zeros((3, 88), dtype=np.uint8)]
    train[0][0, 5] = train[0][1, 5] = 1  # key 5 on in 2 of 3 frames; key 6 never
    test = [np.zeros((2, 88), dtype=np.uint8)]
    test[0][0, 5] = test[0][1, 6] = 1
    p5, p_other = (2 + 1) / (3 + 2), 1 / (3 + 2)  # add-one smoothing
    frame0 = -math.log(p5) - 87 * math.log(1 - p_other)  # key 5 on, the rest off
    frame1 = -math.log(1 - p5) - math.log(p_other) - 86 * math.log(1 - p_other)  # key 6 on, 5 off
    result = marginal_nll(train, test)
    assert result["frame_nll"] == pytest.approx((frame0 + frame1) / 2, rel=1e-12)
    # p5 = 0.6 > 0.5: the baseline predicts key 5 in every frame: a hit in frame 0; in frame 1 a
    # false alarm (key 5) and a miss (key 6). TP / (TP + FP + FN) = 1 / 3.
    assert result["frame_accuracy"] == pytest.approx(1 / 3)


@pytest.mark.parametrize("head", ["nade", "independent"])
def test_evaluated_nll_is_the_mean_over_real_frames_of_whole_pieces(head):
    model = tiny(head)
    rng = np.random.default_rng(3)
    pieces = [(rng.random((n, 88)) < 0.05).astype(np.uint8) for n in (7, 3, 11)]
    per_piece = [model.frame_nll(torch.from_numpy(p).float().unsqueeze(0)).detach()[0] for p in pieces]
    expected = float(torch.cat(per_piece).sum()) / 21
    assert evaluate(model, eval_batches(pieces, 2))["frame_nll"] == pytest.approx(expected, rel=1e-5)


def test_descending_nade_nll_equals_a_direct_computation():
    model, rolls = tiny("nade", nade_order="descending"), (torch.rand(1, 4, 88, generator=torch.Generator().manual_seed(2)) < 0.1).float()
    nll = model.frame_nll(rolls).detach()
    h = model.hidden(rolls).detach()
    W, V = model.head.W.detach().double(), model.head.V.detach().double()
    for t in range(4):
        bv = model.head.visible_bias(h[0, t]).detach().double()
        a = model.head.hidden_bias(h[0, t]).detach().double().clone()
        total = 0.0
        for position, key in enumerate(range(87, -1, -1)):  # high to low
            logit = float(bv[key] + torch.dot(torch.sigmoid(a), V[position]))
            v = float(rolls[0, t, key])
            total += math.log1p(math.exp(-logit)) if v else math.log1p(math.exp(logit))
            a += v * W[:, position]
        assert nll[0, t].item() == pytest.approx(total, rel=1e-5)


# -- the fast sampler -------------------------------------------------------------------------------

@pytest.mark.parametrize("order", ["ascending", "descending"])
def test_fast_nade_sampler_gives_exactly_the_key_by_key_samples(order):
    model = tiny("nade", nade_order=order)
    with torch.no_grad():
        model.head.visible_bias.bias.add_(-1.5)  # a few notes a frame, as in music
    g = torch.Generator().manual_seed(0)
    B = 6
    frame = model.head.frame(torch.randn(B, 16, generator=g), torch.randn(B, 88, generator=g),
                             torch.rand(B, 88, generator=g) > 0.2)
    sounded = 0
    for dist in (frame, frame.tempered(0.7), frame.tempered(2.0), frame.greedy()):
        for _ in range(10):
            u = torch.rand(B, 88, generator=g)
            fast = dist.sample(u)
            assert torch.equal(fast, dist.sample_key_by_key(u))
            assert not (fast.bool() & ~frame.allowed).any()
            sounded += int(fast.sum())
    assert sounded > 100  # the comparison saw chords, not silence


def test_composed_pieces_are_the_same_as_with_the_key_by_key_sampler(monkeypatch):
    model = tiny("nade", lowest_key=20, highest_key=70)
    fast = compose(model, bars=4, batch_size=3, seed=5, temperature=1.3)
    from synth.models.composer import NADEFrame

    monkeypatch.setattr(NADEFrame, "sample", NADEFrame.sample_key_by_key)
    slow = compose(model, bars=4, batch_size=3, seed=5, temperature=1.3)
    for a, b in zip(fast, slow):
        assert np.array_equal(a.roll.keys, b.roll.keys)
    keys = np.concatenate([p.roll.keys for p in fast])
    assert keys.sum() > 0 and not keys[:, :20].any() and not keys[:, 71:].any()  # only the training range sounds


def test_the_frame_distribution_scores_what_teacher_forcing_scores():
    model, rolls = tiny("nade", nade_order="descending"), (torch.rand(2, 5, 88, generator=torch.Generator().manual_seed(4)) < 0.08).float()
    state, x, stepped = model.start(2), model.initial_input(2), []
    with torch.no_grad():
        for t in range(5):
            stepped.append(-model.step(state, x).log_prob(rolls[:, t]))
            x = rolls[:, t]
    assert torch.allclose(torch.stack(stepped, 1), model.frame_nll(rolls).detach(), atol=1e-4)


def test_longest_copied_run_agrees_with_brute_force():
    rng = np.random.default_rng(0)

    def brute(piece, corpus):
        return max((k for c in corpus for i in range(len(piece)) for j in range(len(c))
                    for k in [next((k for k in range(min(len(piece) - i, len(c) - j) + 1)
                                    if k == min(len(piece) - i, len(c) - j) or not (piece[i + k] == c[j + k]).all()))]),
                   default=0)

    for _ in range(40):
        alphabet = (rng.random((3, 88)) < 0.05).astype(np.uint8)
        corpus = [alphabet[rng.integers(0, 3, rng.integers(0, 12))] for _ in range(rng.integers(1, 4))]
        piece = alphabet[rng.integers(0, 3, rng.integers(1, 12))]
        assert longest_copied_run(piece, corpus) == brute(piece, corpus)


# -- styles ---------------------------------------------------------------------------------------

def test_every_style_names_a_benchmark_a_folder_and_a_tempo():
    for s in STYLES.values():
        assert s.source in BENCHMARKS and s.folders[0] == f"composer-{s.name}" and 40 <= s.tempo_bpm <= 200
    assert STYLES["chorales"].folders == ("composer-chorales", "composer")  # today's bundled chorale composer
    with pytest.raises(InputError, match="chorales"):
        style("jazz")


# -- the solver and the recipe ----------------------------------------------------------------------

def test_an_unknown_source_is_refused():
    with pytest.raises(InputError, match="nottingham"):
        ComposerRecipe(data=ComposerData(source="bach"))


def test_recipe_trains_keeps_the_best_weights_evaluates_and_bundles(tmp_path):
    from recipes.composer import main

    write_benchmark(tmp_path / "JSB_Chorales.mat")
    common = [f"runs_dir={tmp_path / 'runs'}", f"data.folder={tmp_path}", "model.hidden_size=16", "model.n_layers=1",
              "model.nade_hidden=8", "train.steps=30", "train.eval_every=5", "train.learning_rate=0.05",
              "train.warmup_steps=2", "data.batch_size=4", "sample.pieces=2", "sample.copy_bars=2", "sample.bars=2"]
    main(["--stage", "all", *common])
    run = tmp_path / "runs" / "jsb-nade"
    history = json.loads((run / "config.json").read_text())["metadata"]["history"]
    best = load_checkpoint(run / "best", expect_kind="composer")
    lowest = min(history, key=lambda r: r["valid_loss"])
    assert best.metadata["best"]["valid_loss"] == lowest["valid_loss"] and best.metadata["step"] == lowest["step"]
    assert (best.config.lowest_key, best.config.highest_key) == (30, 60)
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["training"]["best_step"] == lowest["step"] and metrics["test"]["frames"] > 0

    out = tmp_path / "bundle"
    main(["--stage", "bundle", *common, f"bundle_dir={out}"])
    card = (out / "MODEL_CARD.md").read_text()
    assert "public domain" in card and "test NLL" in card and "python recipes/composer.py" in card
    notes = [m for track in mido.MidiFile(out / "sample.mid").tracks for m in track if m.type == "note_on" and m.velocity]
    assert notes and all(21 + 30 <= m.note <= 21 + 60 for m in notes)
    assert load_checkpoint(out, expect_kind="composer").metadata["style"] == "chorales"


@pytest.mark.slow
def test_every_bundled_composer_writes_32_bars_in_under_a_second():
    from synth.solvers.composer import ROOT, run_bench

    folders = [p for p in (ROOT / "assets").glob("composer*") if (p / "config.json").is_file()]
    assert folders
    torch.set_num_threads(1)
    for folder, seconds in run_bench(folders, log=lambda line: None).items():
        assert seconds["cpu"] < 1.0, folder  # CPU time: the machine is shared with training jobs


def test_held_out_scoring_in_chunks_gives_the_same_nll(monkeypatch):
    import synth.models.composer as composer

    model, rolls = tiny("nade"), (torch.rand(3, 9, 88, generator=torch.Generator().manual_seed(6)) < 0.06).float()
    whole = model.frame_nll(rolls).detach()
    monkeypatch.setattr(composer, "EVAL_CHUNK_FRAMES", 5)
    with torch.no_grad():
        assert torch.allclose(model.frame_nll(rolls), whole, atol=1e-5)
