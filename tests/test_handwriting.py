"""Graves's handwriting networks: the mixture likelihood, the window, stepping, training, and
sampling through the engine (seed, bias, priming, stopping, failure detection and retry)."""
import math

import numpy as np
import pytest
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.handwriting.dataset import pad_batch
from synth.handwriting.hershey import STYLES, handwrite
from synth.handwriting.writer import WatchedWriting, write_lines, write_text
from synth.models.handwriting import (
    _clip_gradient,
    GaussianWindow,
    HandwritingConfig,
    HandwritingPrediction,
    HandwritingSynthesis,
    handwriting_loss,
    mixture_nll,
)
from synth.sampling.engine import generate
from synth.sampling.policies import Bias


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny(seed: int = 0, cls=HandwritingSynthesis, **overrides):
    torch.manual_seed(seed)
    values = {"hidden_size": 16, "n_layers": 2, "n_window": 2, "n_mixtures": 3, "points_per_char": 4.0,
              "offset_std": (0.25, 0.24)}
    values.update(overrides)
    return cls(HandwritingConfig(**values)).eval()


def style_ink(text="ab", seed=0):
    ink = handwrite(text, STYLES[0], seed=seed)
    ink.at_model_scale = True
    return ink


def test_mixture_nll_matches_a_hand_computation():
    # Two components, one point; the density written out term by term (Graves 2013, eq. 23-26).
    pi_logits = torch.tensor([[[0.3, -0.2]]])
    mu = torch.tensor([[[[0.1, -0.4], [1.0, 0.5]]]])
    log_sigma = torch.log(torch.tensor([[[[0.5, 1.5], [2.0, 0.7]]]]))
    rho = torch.tensor([[[0.3, -0.6]]])
    eos_logit = torch.tensor([[0.8]])
    x1, x2, eos = 0.7, -0.2, 1.0
    weights = [math.exp(0.3) / (math.exp(0.3) + math.exp(-0.2)), math.exp(-0.2) / (math.exp(0.3) + math.exp(-0.2))]
    density = 0.0
    for j, (m1, m2, s1, s2, r) in enumerate([(0.1, -0.4, 0.5, 1.5, 0.3), (1.0, 0.5, 2.0, 0.7, -0.6)]):
        z = ((x1 - m1) / s1) ** 2 + ((x2 - m2) / s2) ** 2 - 2 * r * (x1 - m1) * (x2 - m2) / (s1 * s2)
        density += weights[j] * math.exp(-z / (2 * (1 - r * r))) / (2 * math.pi * s1 * s2 * math.sqrt(1 - r * r))
    e = 1 / (1 + math.exp(-0.8))
    expected = -math.log(density) - math.log(e if eos == 1.0 else 1 - e)
    got = mixture_nll((pi_logits, mu, log_sigma, rho, eos_logit), torch.tensor([[[x1, x2, eos]]]), torch.ones(1, 1))
    assert got.item() == pytest.approx(expected, rel=1e-5)


def test_mixture_nll_agrees_with_the_engines_distribution_and_ignores_padding():
    torch.manual_seed(0)
    params = (torch.randn(2, 3, 4), torch.randn(2, 3, 4, 2), torch.randn(2, 3, 4, 2) * 0.3,
              torch.tanh(torch.randn(2, 3, 4)), torch.randn(2, 3))
    targets = torch.cat([torch.randn(2, 3, 2), torch.randint(0, 2, (2, 3, 1)).float()], -1)
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    from synth.sampling.distributions import BivariateGaussianMixture
    direct = 0.0
    for b, t in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]:
        dist = BivariateGaussianMixture(*(p[b:b + 1, t] for p in params))
        direct -= dist.log_prob(targets[b:b + 1, t]).item()
    assert mixture_nll(params, targets, mask).item() == pytest.approx(direct, rel=1e-5)


def test_sigmas_are_floored_and_correlations_clamped():
    model = tiny(sigma_min=0.05, rho_max=0.9)
    with torch.no_grad():
        model.head.linear.bias.fill_(-50.0)
    _, _, log_sigma, rho, _ = model.head(torch.zeros(1, 32))
    assert log_sigma.min().item() == pytest.approx(math.log(0.05), rel=1e-6)
    assert rho.abs().max().item() <= 0.9


def test_window_location_only_moves_forward_and_phi_follows_it():
    window = GaussianWindow(hidden_size=4, n_window=3, points_per_char=5.0)
    chars = torch.nn.functional.one_hot(torch.tensor([[0, 1, 2, 1]]), 3).float()
    kappa = torch.zeros(1, 3)
    for _ in range(20):
        w, new_kappa, phi = window(torch.randn(1, 4) * 3, kappa, chars, torch.ones(1, 4))
        assert (new_kappa > kappa).all()  # eq. 51: kappa_t = kappa_{t-1} + exp(.)
        assert phi.shape == (1, 5) and w.shape == (1, 3)
        assert torch.allclose(w, (phi[:, :4, None] * chars).sum(1))  # eq. 47
        kappa = new_kappa


def test_stepping_matches_the_full_forward_pass():
    model = tiny()
    ink = handwrite("hi there", STYLES[1], seed=3)
    offsets = model.encode(torch.from_numpy(ink.to_offsets()))[None]  # (1, T, 3)
    inputs = torch.cat([model.initial_input(1)[:, None], offsets[:, :-1]], 1)
    chars, lengths = model.texts_to_ids(["hi there"])
    with torch.no_grad():
        params, extras = model(inputs, chars=chars, lengths=lengths)
        state = model.start(1, text="hi there")
        for t in range(inputs.shape[1]):
            dist = model.step(state, inputs[:, t])
            assert torch.allclose(dist.mu, params[1][:, t], atol=1e-5)
            assert torch.allclose(dist.eos_logit, params[4][:, t], atol=1e-5)
    assert extras["phi"].shape == (1, inputs.shape[1], len("hi there") + 1)


def test_bulk_priming_leaves_the_same_state_as_stepping():
    model = tiny()
    primer = model.encode(torch.from_numpy(style_ink("ab").to_offsets()))[None]
    with torch.no_grad():
        bulk = model.start(1, text="ab cd")
        model.prime(bulk, primer)
        stepped = model.start(1, text="ab cd")
        for t in range(primer.shape[1]):
            model.step(stepped, primer[:, t])
    for key in ("h0", "c0", "h1", "c1", "kappa", "w"):
        assert torch.allclose(bulk[key], stepped[key], atol=1e-5), key


def test_prediction_network_steps_like_its_forward_pass():
    model = tiny(cls=HandwritingPrediction)
    inputs = torch.randn(1, 12, 3)
    with torch.no_grad():
        params, _ = model(inputs)
        state = model.start(1)
        for t in range(12):
            dist = model.step(state, inputs[:, t])
            assert torch.allclose(dist.pi_logits, params[0][:, t], atol=1e-5)


def test_training_steps_lower_the_loss_with_finite_gradients():
    model = tiny(hidden_size=24).train()
    lines = [handwrite(t, STYLES[i % 4], seed=i) for i, t in enumerate(["ab", "cab", "bad", "dab"])]
    batch = pad_batch([l.to_offsets() for l in lines], [l.text for l in lines], model.config.alphabet)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(25):
        loss = handwriting_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5


def test_output_derivatives_are_clipped_as_in_the_paper():
    x = torch.zeros(3, requires_grad=True)
    # limit 100 in summed-loss units over 4 points = 25 per unit of the mean loss
    (_clip_gradient(x, 100.0 / 4, training=True) * torch.tensor([1000.0, -1000.0, 1.0])).sum().backward()
    assert x.grad.tolist() == [25.0, -25.0, 1.0]


def _clipping_batch(model):
    lines = [handwrite(t, STYLES[i % 4], seed=i) for i, t in enumerate(["ab", "cab", "bad"])]
    return pad_batch([l.to_offsets() for l in lines], [l.text for l in lines], model.config.alphabet)


def test_gradient_clipping_is_the_same_through_a_ddp_wrapper(tmp_path, monkeypatch):
    """handwriting_loss once wrote the point count onto the model it was given; under DDP that is
    the wrapper, so the network clipped with a scale of 1 and its gradients differed from a
    one-process run. The scale now goes in through forward, which DDP passes on."""
    import torch.distributed as dist

    from synth.models import handwriting as network
    from synth.training import _Replicated

    monkeypatch.setattr(network, "LSTM_GRADIENT_LIMIT", 1e-2)  # small enough that the clipping binds
    plain = tiny(hidden_size=12).train()
    batch = _clipping_batch(plain)
    handwriting_loss(plain, batch).backward()
    expected = {n: p.grad.clone() for n, p in plain.named_parameters()}
    unclipped = tiny(hidden_size=12).train()
    monkeypatch.setattr(network, "LSTM_GRADIENT_LIMIT", 1e9)
    handwriting_loss(unclipped, batch).backward()
    assert any(not torch.allclose(p.grad, expected[n]) for n, p in unclipped.named_parameters())  # it binds
    monkeypatch.setattr(network, "LSTM_GRADIENT_LIMIT", 1e-2)

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        inner = tiny(hidden_size=12).train()
        wrapped = _Replicated(inner)
        handwriting_loss(wrapped, batch).backward()
    finally:
        dist.destroy_process_group()
    for name, parameter in inner.named_parameters():
        torch.testing.assert_close(parameter.grad, expected[name], msg=name)


def test_a_seed_reproduces_the_strokes_exactly_and_another_differs():
    model = tiny()
    a = write_lines(model, ["abc", "de"], seed=5, max_retries=0).lines
    b = write_lines(model, ["abc", "de"], seed=5, max_retries=0).lines
    c = write_lines(model, ["abc", "de"], seed=6, max_retries=0).lines
    for x, y in zip(a, b):
        assert len(x.ink.strokes) == len(y.ink.strokes)
        assert all(np.array_equal(s, t) for s, t in zip(x.ink.strokes, y.ink.strokes))
    assert not np.array_equal(a[0].ink.points(), c[0].ink.points())


def test_high_bias_shrinks_the_spread_of_samples():
    # Graves 2013 section 5.4: the bias narrows every component (sigma * exp(-b)) and sharpens the weights.
    model = tiny()
    spreads = {}
    for bias in (0.0, 2.0):
        out = generate(model, max_steps=1, batch_size=4000, conditioning={"text": "ab"}, policy=[Bias(bias)], seed=0).collect()
        spreads[bias] = out[:, 0, :2].std(0)
    assert (spreads[2.0] < 0.35 * spreads[0.0]).all()


def test_priming_with_a_style_changes_what_is_written():
    model = tiny()
    plain = write_lines(model, ["abc"], seed=1, max_retries=0).lines[0]
    primed = write_lines(model, ["abc"], style=style_ink("dd"), seed=1, max_retries=0).lines[0]
    assert not np.array_equal(plain.ink.points()[:5], primed.ink.points()[:5])


def test_each_stream_of_a_batch_stops_on_its_own():
    model = tiny()
    lines = write_lines(model, ["a", "abcdefgh"], seed=0, max_retries=0).lines
    assert lines[0].ink.n_points < lines[1].ink.n_points


def _watch(model, text, phis, pen_ups=None, stall_steps=None, budget_steps=(10 ** 9,)):
    """What the writer's watch says after a window that moved through ``phis`` (one row a step)."""
    watched = WatchedWriting(model, check_from=[0], budget_steps=list(budget_steps), stall_steps=stall_steps)
    state = watched.start(1, text=text)
    pen_ups = pen_ups or [0.0] * len(phis)
    for phi, pen in zip(phis, pen_ups):
        watched.observe(torch.tensor([[0.0, 0.0, pen]]), torch.tensor([phi], dtype=torch.float32), state["lengths"])
    return {**watched.watch, "finished": watched.finished(state)}


def test_the_network_holds_no_watch_only_its_window():
    state = tiny().start(1, text="abc")
    assert "phi" in state and not {"completed", "stalled", "skipped", "visited"} & set(state)


def test_the_window_passing_the_end_with_the_pen_up_completes_a_line():
    model = tiny()
    phis = [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0.4, 1], [0, 0, 0.1, 1]]
    state = _watch(model, "abc", phis, pen_ups=[0, 0, 0, 0, 1])
    assert state["completed"].item() and not state["skipped"].item() and not state["stalled"].item()
    assert state["finished"].item()


def test_a_window_that_jumps_over_a_letter_is_a_skip_but_over_a_space_is_not():
    model = tiny()
    assert _watch(model, "abc", [[1, 0, 0, 0], [0, 0, 1, 0]])["skipped"].item()
    assert not _watch(model, "a c", [[1, 0, 0, 0], [0, 0, 1, 0]])["skipped"].item()
    # Ending with a letter never in focus is a skip too.
    assert _watch(model, "abc", [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1]], pen_ups=[0, 0, 1])["skipped"].item()


def test_a_window_that_stays_put_stalls_and_a_spent_budget_is_caught():
    model = tiny()
    stuck = _watch(model, "abc", [[0, 1, 0, 0]] * 30, stall_steps=10)
    assert stuck["stalled"].item() and stuck["finished"].item()
    moving = _watch(model, "abc", [[1, 0, 0, 0]] * 3 + [[0, 1, 0, 0]] * 3, budget_steps=[5], stall_steps=10)
    assert moving["over_budget"].item() and not moving["stalled"].item()


def test_failed_lines_are_resampled_with_new_seeds_and_counted():
    model = tiny()
    with torch.no_grad():  # a window that never moves: every attempt stalls
        model.window.linear.bias[2 * model.config.n_window:].fill_(-30.0)
        model.window.linear.weight.zero_()
    result = write_lines(model, ["abc", "de"], seed=0, max_retries=2)
    assert [line.attempts for line in result.lines] == [3, 3]
    assert all(line.failure == "stalled" for line in result.lines)
    assert result.failures["stalled"] == 6 and result.retries == 4 and result.failed_lines == 2


def test_long_text_is_split_into_lines_written_in_the_first_lines_style():
    model = tiny()
    result = write_text(model, "one two three four five six", line_chars=10, seed=0, max_retries=0)
    assert [line.text for line in result.lines] == ["one two", "three four", "five six"]
    assert all(line.ink.n_points > 1 for line in result.lines)


@pytest.mark.parametrize("text, message", [
    ("", "empty"),
    ("   ", "empty"),
    ("x" * 81, "at most 80"),
    ("caf\u00e9 \u00a7", "outside the model's vocabulary: '\u00a7' '\u00e9'"),
])
def test_bad_text_is_refused_with_a_clear_message(text, message):
    with pytest.raises(InputError, match=message):
        write_lines(tiny(), [text])


def test_a_huge_text_is_refused_before_any_work():
    with pytest.raises(InputError, match="at most 2000"):
        write_text(tiny(), "word " * 1000)


def test_handwriting_checkpoints_round_trip(tmp_path):
    model = tiny()
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt", expect_kind="handwriting-synthesis")
    assert loaded.config == model.config
    a = write_lines(model, ["ab"], seed=3, max_retries=0).lines[0].ink.points()
    b = write_lines(loaded, ["ab"], seed=3, max_retries=0).lines[0].ink.points()
    assert np.array_equal(a, b)


def test_recorded_attention_covers_the_lines_own_text():
    model = tiny()
    line = write_lines(model, ["abc"], style=style_ink("dd"), seed=0, max_retries=0, record=True).lines[0]
    assert line.phi.shape[1] == len("abc") + 1 and line.phi.shape[0] >= line.ink.n_points - 1
    assert line.params["weights"].shape[1] == 3 and np.allclose(line.params["weights"].sum(1), 1, atol=1e-5)


def _checkpoint_with_styles(tmp_path):
    import shutil
    from pathlib import Path

    checkpoint = save_checkpoint(tiny(), tmp_path / "ckpt")
    shutil.copy(Path(__file__).resolve().parents[1] / "assets" / "handwriting" / "styles.json", checkpoint / "styles.json")
    return checkpoint


def test_synth_write_makes_a_png_and_an_attention_picture_in_a_bundled_style(tmp_path, capsys):
    from PIL import Image

    from synth.cli import main

    import json as json_module

    checkpoint = _checkpoint_with_styles(tmp_path)
    name = json_module.loads((checkpoint / "styles.json").read_text())["styles"][1]["name"]  # picked by its name
    out, attention = tmp_path / "hi.png", tmp_path / "att.png"
    code = main(["write", "hi there", "-c", str(checkpoint), "--style", name, "--seed", "1",
                 "--out", str(out), "--attention", str(attention), "--max-retries", "1"])
    assert code == 0, capsys.readouterr().err
    for path in (out, attention):
        with Image.open(path) as image:
            assert image.format == "PNG"
    assert "wrote" in capsys.readouterr().out


def test_synth_write_takes_a_users_own_strokes_as_the_style(tmp_path, capsys):
    import json as json_module

    from synth.cli import main

    checkpoint = _checkpoint_with_styles(tmp_path)
    mine = tmp_path / "mine.json"
    ink = handwrite("a bad cab", STYLES[2], seed=4)
    mine.write_text(json_module.dumps({"text": "a bad cab", "strokes": [(s * 30).tolist() for s in ink.strokes]}))
    out = tmp_path / "x.json"
    assert main(["write", "abc", "-c", str(checkpoint), "--style", str(mine), "--out", str(out), "--seed", "0"]) == 0
    assert json_module.loads(out.read_text())["lines"][0]["text"] == "abc"


def test_synth_write_refuses_strokes_that_cannot_prime_saying_what_is_allowed(tmp_path, capsys):
    import json as json_module

    from synth.cli import main

    checkpoint = _checkpoint_with_styles(tmp_path)
    scribble = tmp_path / "scribble.json"
    scribble.write_text(json_module.dumps({"text": "a bad cab", "strokes": [[[0, 0, 0], [0, 3, 8]], [[2, 0, 16], [3, 2, 24]]]}))
    assert main(["write", "abc", "-c", str(checkpoint), "--style", str(scribble), "--out", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert f"style file {scribble}: too little ink" in err and "at least 20" in err
    assert not (tmp_path / "x.svg").exists()


def test_the_service_continues_a_canvas_line_in_its_hand_and_refuses_a_style_as_well(tmp_path):
    import json as json_module

    from synth.services import handwriting

    checkpoint = _checkpoint_with_styles(tmp_path)
    ink = handwrite("a bad cab", STYLES[2], seed=4)
    strokes = json_module.dumps({"text": "", "strokes": [[[x, y, 8.0 * i] for i, (x, y) in enumerate(s * 30)]
                                                         for s in ink.strokes]})
    result = handwriting.write("abc", strokes=strokes, style_text="a bad cab", seed=0, checkpoint=checkpoint)
    assert [line.text for line in result.lines] == ["abc"] and result.lines[0].ink.n_points > 0
    with pytest.raises(InputError, match="either a style or your own strokes, not both"):
        handwriting.write("abc", style="flowing", strokes=strokes, style_text="a bad cab", checkpoint=checkpoint)
    with pytest.raises(InputError, match="your strokes: the words the strokes say are missing"):
        handwriting.write("abc", strokes=strokes, style_text="  ", checkpoint=checkpoint)


def test_the_service_names_the_models_data_and_its_terms(tmp_path):
    from synth.services.handwriting import data_terms
    from synth.solvers.handwriting import LICENCE

    assert data_terms(save_checkpoint(tiny(), tmp_path / "plain")) is None  # neither says: the card must
    assert "IAM On-Line Handwriting Database" in data_terms(_checkpoint_with_styles(tmp_path))  # the styles' source
    iam_model = save_checkpoint(tiny(), tmp_path / "iam", metadata={"licence": LICENCE})
    assert "IAM On-Line Handwriting Database" in data_terms(iam_model)
    assert "non-commercial research use only" in data_terms(iam_model)


@pytest.mark.parametrize("args, message", [
    (["write", "caf\u00e9"], "outside the model's vocabulary: '\u00e9'"),
    (["write", ""], "empty"),
    (["write", "hi", "--style", "gothic"], "unknown style 'gothic'"),
    (["write", "hi", "--out", "x.bmp"], "unknown format '.bmp'"),
])
def test_synth_write_explains_bad_requests(tmp_path, capsys, args, message):
    from synth.cli import main

    checkpoint = _checkpoint_with_styles(tmp_path)
    assert main(args + ["-c", str(checkpoint)]) == 2
    assert message in capsys.readouterr().err


def test_the_bundled_model_writes_a_line_its_window_follows():
    from pathlib import Path

    from synth.handwriting.styles import bundled_style

    assets = Path(__file__).resolve().parents[1] / "assets" / "handwriting"
    model = load_checkpoint(assets, expect_kind="handwriting-synthesis")
    line = write_lines(model, ["a kind word"], style=bundled_style(assets / "styles.json", "1"), bias=1.0,
                       seed=0, max_retries=0, record=True).lines[0]
    assert line.failure is None
    focus = line.phi[:, :-1].argmax(1)
    assert focus[0] == 0 and focus[-10:].max() == len("a kind word") - 1
    assert (np.diff(np.maximum.accumulate(focus)) <= 1).all()  # one character at a time
    assert 3 * len("a kind word") < line.ink.n_points < 3 * model.config.points_per_char * len("a kind word")
