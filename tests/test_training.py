"""The trainer: loss falls, checkpoints are complete, and resuming is exact."""
import pytest
import torch

from synth.checkpoint import load_checkpoint
from synth.models.wavenet import wavenet_loss
from synth.training import TrainConfig, train

from conftest import tiny_wavenet

SINE = torch.sin(torch.arange(20_000) * 2 * torch.pi * 440 / 16000) * 0.6


def batch(generator):
    starts = torch.randint(0, len(SINE) - 400, (4,), generator=generator)
    return torch.stack([SINE[s:s + 400] for s in starts.tolist()])


class Killed(Exception):
    pass


def run(out_dir, steps, kill_after=None, learning_rate=3e-3):
    model = tiny_wavenet(0)
    config = TrainConfig(steps=steps, learning_rate=learning_rate, warmup_steps=5, eval_every=10, checkpoint_every=10)
    valid = [batch(torch.Generator().manual_seed(99))]
    calls = 0

    def batches(generator):
        nonlocal calls
        calls += 1
        if kill_after is not None and calls > kill_after:
            raise Killed  # as if the process died in the middle of a step
        return batch(generator)

    record = train(model, loss=lambda m, x: wavenet_loss(m, m.encode(x)), batch=batches, valid_batches=valid,
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
