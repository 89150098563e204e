"""The trainer: loss falls, checkpoints are complete, and resuming is exact."""
import pytest
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import InputError
from synth.models.wavenet_loss import wavenet_loss
from synth.training import BEST, TrainConfig, best_or_last, optimisation_step, train
from synth.training_speed import training_speed

from conftest import tiny_wavenet

SINE = torch.sin(torch.arange(20_000) * 2 * torch.pi * 440 / 16000) * 0.6


def batch(generator):
    starts = torch.randint(0, len(SINE) - 400, (4,), generator=generator)
    return torch.stack([SINE[s:s + 400] for s in starts.tolist()])


class Killed(Exception):
    pass


def dying_batches(kill_after=None):
    """The tone batches, raising Killed in the step after ``kill_after`` batches (as if the process
    died in the middle of a step)."""
    calls = 0

    def batches(generator):
        nonlocal calls
        calls += 1
        if kill_after is not None and calls > kill_after:
            raise Killed
        return batch(generator)

    return batches


def run(out_dir, steps, kill_after=None, learning_rate=3e-3, **model_config):
    model = tiny_wavenet(0, **model_config)
    config = TrainConfig(steps=steps, learning_rate=learning_rate, warmup_steps=5, eval_every=10, checkpoint_every=10)
    valid = [batch(torch.Generator().manual_seed(99))]
    record = train(model, loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=dying_batches(kill_after), valid_batches=valid,
                   config=config, out_dir=out_dir, log=lambda _: None)
    return model, record


def test_the_wavenet_learns_a_tone_and_checkpoints_its_progress(tmp_path):
    model, record = run(tmp_path / "a", 60, learning_rate=1e-2)
    losses = [r["valid_loss"] for r in record["history"]]
    assert losses[-1] < losses[0] - 1.0  # a pure tone is easy: the NLL must fall well below its start
    loaded = load_checkpoint(tmp_path / "a")
    assert loaded.metadata["step"] == 60
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))


def test_resuming_gives_exactly_the_uninterrupted_run(tmp_path):
    straight, _ = run(tmp_path / "straight", 30)
    with pytest.raises(Killed):
        run(tmp_path / "resumed", 30, kill_after=25)  # dies at step 26; the step-20 checkpoint survives
    assert load_checkpoint(tmp_path / "resumed").metadata["step"] == 20
    resumed, record = run(tmp_path / "resumed", 30)
    assert record["step"] == 30
    for (name, a), b in zip(straight.state_dict().items(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0, msg=name)


def test_resuming_with_ema_restores_raw_and_ema_weights_exactly(tmp_path):
    def run_ema(out_dir, kill_after=None):
        model = tiny_wavenet(0)
        config = TrainConfig(steps=24, learning_rate=3e-3, warmup_steps=5, eval_every=8, checkpoint_every=8, ema_decay=0.9)
        train(model, loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=dying_batches(kill_after), valid_batches=[batch(torch.Generator().manual_seed(1))],
              config=config, out_dir=out_dir, log=lambda _: None)
        return model, load_checkpoint(out_dir)

    straight, straight_ema = run_ema(tmp_path / "straight")
    with pytest.raises(Killed):
        run_ema(tmp_path / "resumed", kill_after=20)
    resumed, resumed_ema = run_ema(tmp_path / "resumed")
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    for a, b in zip(straight_ema.state_dict().values(), resumed_ema.state_dict().values()):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=0)


def test_ema_weights_are_the_exponential_average_of_the_raw_weights(tmp_path):
    decay, snapshots = 0.8, []
    model = tiny_wavenet(0)

    def loss(m, x):
        snapshots.append({k: v.detach().clone() for k, v in m.state_dict().items()})  # weights before each step
        return wavenet_loss(m, m.encode(x))

    train(model, loss=loss, batch=batch, valid_batches=[], config=TrainConfig(steps=5, warmup_steps=1, learning_rate=1e-2,
          eval_every=100, checkpoint_every=100, ema_decay=decay), out_dir=tmp_path, log=lambda _: None)
    after = snapshots[1:5] + [model.state_dict()]  # the raw weights after steps 1..5
    name = next(k for k in after[0] if k.endswith("weight"))
    expected = after[0][name].clone()  # the first update copies (torch AveragedModel)
    for weights in after[1:]:
        expected = decay * expected + (1 - decay) * weights[name]
    exported = load_checkpoint(tmp_path)
    assert exported.metadata["weights"] == "ema"
    torch.testing.assert_close(exported.state_dict()[name], expected, atol=1e-6, rtol=1e-5)
    assert not torch.equal(exported.state_dict()[name], model.state_dict()[name])


def test_bfloat16_autocast_trains_with_a_finite_falling_loss(tmp_path):
    model = tiny_wavenet(0)
    record = train(model, loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=batch,
                   valid_batches=[batch(torch.Generator().manual_seed(99))], log=lambda _: None, out_dir=tmp_path,
                   config=TrainConfig(steps=40, learning_rate=1e-2, warmup_steps=5, eval_every=20, checkpoint_every=40,
                                      precision="bfloat16"))
    losses = [r["valid_loss"] for r in record["history"]]
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < losses[0]


def test_tensorboard_gets_training_and_validation_scalars(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    train(tiny_wavenet(0), loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=batch,
          valid_batches=[batch(torch.Generator().manual_seed(99))], out_dir=tmp_path / "ckpt", log=lambda _: None,
          tensorboard_dir=tmp_path / "tb", units_per_batch=4 * 400,
          config=TrainConfig(steps=10, warmup_steps=2, eval_every=5, checkpoint_every=10, log_every=2))
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/learning_rate", "train/grad_norm", "train/units_per_second", "valid/loss"} <= tags
    assert [e.step for e in events.Scalars("valid/loss")] == [5, 10]


def test_a_damaged_training_state_is_reported_not_unpickled(tmp_path):
    from synth.errors import CheckpointError

    (tmp_path / "training_state.safetensors").write_bytes(b"\x80\x04not a safetensors file")
    with pytest.raises(CheckpointError, match="damaged training state"):
        run(tmp_path, 5)


def test_torchrun_with_two_processes_keeps_replicas_identical_and_averages_their_gradients(tmp_path):
    """Two gloo ranks end with identical weights, equal to one process trained on both ranks' batches."""
    import subprocess
    import sys
    from pathlib import Path

    from safetensors.torch import load_file

    script = Path(__file__).parent / "ddp_train.py"
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                    str(script), str(tmp_path / "ddp")], check=True, capture_output=True, timeout=300)
    subprocess.run([sys.executable, str(script), str(tmp_path / "single"), "--ranks", "2"], check=True,
                   capture_output=True, timeout=300)
    rank0, rank1 = load_file(tmp_path / "ddp/rank0.safetensors"), load_file(tmp_path / "ddp/rank1.safetensors")
    single = load_file(tmp_path / "single/rank0.safetensors")
    for name in rank0:
        assert torch.equal(rank0[name], rank1[name]), name
        torch.testing.assert_close(rank0[name], single[name], atol=1e-5, rtol=1e-4, msg=name)
    assert load_checkpoint(tmp_path / "ddp/checkpoint").metadata["world_size"] == 2


def test_a_training_state_made_for_another_model_config_is_refused(tmp_path):
    """Same weight shapes, other settings (here pre-emphasis): resuming would silently train the old
    weights under settings they never learned, so the trainer says what changed instead."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    from synth.errors import CheckpointError

    run(tmp_path, 10)
    with pytest.raises(CheckpointError, match=r"different model \(pre_emphasis 0.0 -> 0.85\).*fresh folder"):
        run(tmp_path, 20, pre_emphasis=0.85)
    # a state written before the model config was stored in it is checked against config.json
    state = tmp_path / "training_state.safetensors"
    with safe_open(str(state), "pt") as f:
        tensors, meta = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    assert "model_config" in meta
    del meta["model_config"]
    save_file(tensors, str(state), metadata=meta)
    with pytest.raises(CheckpointError, match=r"pre_emphasis 0.0 -> 0.85"):
        run(tmp_path, 20, pre_emphasis=0.85)
    _, record = run(tmp_path, 20)  # the same model resumes
    assert record["step"] == 20 and record["history"][0]["step"] == 10


def test_the_trainers_step_is_forward_backward_clip_and_adamw_as_written_by_hand():
    loss = lambda m, x: wavenet_loss(m, m.encode(x))  # noqa: E731
    x = batch(torch.Generator().manual_seed(3))
    stepped, by_hand = tiny_wavenet(0), tiny_wavenet(0)
    optimiser = torch.optim.AdamW(stepped.parameters(), lr=1e-2)
    value, norm = optimisation_step(stepped, stepped, optimiser, loss, x, torch.device("cpu"), None, grad_clip=0.05)
    reference = torch.optim.AdamW(by_hand.parameters(), lr=1e-2)
    expected = loss(by_hand, x)
    expected.backward()
    grads = [p.grad for p in by_hand.parameters()]
    total = torch.sqrt(sum((g ** 2).sum() for g in grads))
    for g in grads:
        g.mul_(min(1.0, 0.05 / (float(total) + 1e-6)))
    reference.step()
    assert float(value.detach()) == pytest.approx(float(expected.detach()))
    assert float(norm) == pytest.approx(float(total))
    for a, b in zip(stepped.parameters(), by_hand.parameters()):
        torch.testing.assert_close(a, b)


def test_a_non_finite_loss_stops_the_step_and_says_where():
    model = tiny_wavenet(0)
    optimiser = torch.optim.AdamW(model.parameters())
    with pytest.raises(FloatingPointError, match="at step 7"):
        optimisation_step(model, model, optimiser, lambda m, x: torch.tensor(float("nan")), None,
                          torch.device("cpu"), None, 1.0, where="at step 7")


def test_training_speed_reports_every_thread_count_and_precision_with_counted_units():
    batches = [batch(torch.Generator().manual_seed(i)) for i in range(4)]
    lines = []
    rows = training_speed(lambda: tiny_wavenet(0), lambda m, x: wavenet_loss(m, m.encode(x)), batches,
                          TrainConfig(learning_rate=1e-3), lambda x: x.numel(), threads=[1],
                          warmup=1, unit="samples", log=lines.append)
    assert [(r["threads"], r["precision"]) for r in rows] == [(1, "float32"), (1, "bfloat16")]
    for row in rows:  # three timed batches of 4 x 400 samples: the rate is samples over seconds
        assert row["samples_per_second"] == pytest.approx(3 * 1600 / (3 * row["seconds_per_step"]), rel=0.02)
    assert len(lines) == 2
    with pytest.raises(ValueError, match="more than 4 batches"):
        training_speed(lambda: tiny_wavenet(0), None, batches, TrainConfig(), 1, threads=[1], warmup=4)


def scripted_run(out_dir, steps, valid_losses, kill_after=None):
    """The tone run with validation losses taken from ``valid_losses`` (one per evaluation, in order)."""
    model = tiny_wavenet(0)
    config = TrainConfig(steps=steps, learning_rate=3e-3, warmup_steps=5, eval_every=10, checkpoint_every=10)
    scripted = iter(valid_losses)

    def loss(m, x):
        if isinstance(x, str):  # the validation "batch"
            return torch.tensor(next(scripted)) + 0 * sum(p.sum() for p in m.parameters())
        return wavenet_loss(m, m.encode(x))

    train(model, loss=loss, batch=dying_batches(kill_after), valid_batches=["valid"], config=config, out_dir=out_dir, log=lambda _: None)
    return model


def test_the_trainer_keeps_the_weights_with_the_lowest_validation_loss_across_a_resume(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(Killed):
        scripted_run(out, 60, [3.0, 2.0, 2.5, 1.5], kill_after=45)  # dies in step 46, after the step-40 save
    at_40 = load_checkpoint(out)  # the last export: the weights after step 40
    assert at_40.metadata["step"] == 40
    best = load_checkpoint(out / "best")
    assert best.metadata["best"] == {"step": 40, "valid_loss": 1.5} and best.metadata["step"] == 40
    for (name, a), b in zip(at_40.state_dict().items(), best.state_dict().values()):
        torch.testing.assert_close(a, b, atol=0, rtol=0, msg=name)
    scripted_run(out, 60, [1.8, 1.6])  # resumed at 40: neither is better than the 1.5 kept before the kill
    assert load_checkpoint(out / "best").metadata["best"] == {"step": 40, "valid_loss": 1.5}
    last = scripted_run(out, 70, [1.0])
    best = load_checkpoint(out / "best")
    assert best.metadata["best"] == {"step": 70, "valid_loss": 1.0}
    assert all(torch.equal(a, b) for a, b in zip(last.state_dict().values(), best.state_dict().values()))


def test_a_run_started_afresh_replaces_the_best_weights_an_earlier_run_left(tmp_path):
    out = tmp_path / "run"
    scripted_run(out, 10, [0.5])
    (out / "training_state.safetensors").unlink()  # a new run in the same folder
    scripted_run(out, 10, [4.0])
    assert load_checkpoint(out / "best").metadata["best"] == {"step": 10, "valid_loss": 4.0}


def test_best_or_last_prefers_the_best_weights_then_the_last_and_names_an_empty_run(tmp_path):
    with pytest.raises(InputError, match="no trained model yet"):
        best_or_last(tmp_path)
    save_checkpoint(tiny_wavenet(), tmp_path)
    assert best_or_last(tmp_path) == tmp_path
    save_checkpoint(tiny_wavenet(seed=1), tmp_path / BEST)
    assert best_or_last(tmp_path) == tmp_path / BEST
