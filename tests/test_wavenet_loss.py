"""The WaveNet's training objective against a hand computation, with and without noise injected
into the history it reads (synth.models.wavenet_loss), and the recipes' noisy training batches."""
import math

import pytest
import torch

from synth.errors import InputError
from synth.models.wavenet_loss import input_noise_offsets, wavenet_batch_loss, wavenet_loss
from synth.solvers.wavenet import WaveNetData, WaveNetRecipe, training_batch

from conftest import tiny_wavenet


def hand_loss(model, history: torch.Tensor, targets: torch.Tensor) -> float:
    """-log p(target_t | history before t), averaged by hand: the network reads silence, then
    history[:, :-1]; each target's probability is its softmax entry."""
    silence = model.encode(torch.zeros(history.shape[0], 1)).long()
    with torch.no_grad():
        logits = model(torch.cat([silence, history[:, :-1]], 1))  # (B, T, classes)
    total, count = 0.0, 0
    for b in range(targets.shape[0]):
        for t in range(targets.shape[1]):
            row = logits[b, t].double()
            total -= float(row[targets[b, t]] - torch.logsumexp(row, 0))
            count += 1
    return total / count


def test_the_loss_reads_the_noisy_history_and_predicts_the_clean_samples():
    model = tiny_wavenet(0)
    g = torch.Generator().manual_seed(1)
    targets = torch.randint(0, 256, (2, 40), generator=g)
    targets[0, :5] = 255  # loud: offsets above the top class clamp to it
    offsets = torch.randint(-3, 4, (2, 40), generator=g)
    offsets[0, :5] = 3
    noisy = (targets + offsets).clamp(0, 255)
    with torch.no_grad():
        clean_loss = float(wavenet_loss(model, targets))
        noisy_loss = float(wavenet_loss(model, targets, input_offsets=offsets))
        zero_loss = float(wavenet_loss(model, targets, input_offsets=torch.zeros_like(offsets)))
    assert clean_loss == pytest.approx(hand_loss(model, targets, targets), abs=1e-5)
    assert noisy_loss == pytest.approx(hand_loss(model, noisy, targets), abs=1e-5)
    assert zero_loss == clean_loss and noisy_loss != clean_loss


def test_input_noise_is_whole_classes_with_a_spread_drawn_per_example():
    offsets = input_noise_offsets(torch.Generator().manual_seed(0), (64, 4000), 6.0)
    again = input_noise_offsets(torch.Generator().manual_seed(0), (64, 4000), 6.0)
    assert offsets.dtype == torch.long and torch.equal(offsets, again)  # the batch generator alone decides it
    spreads = offsets.float().std(1)
    assert float(spreads.max()) < 6.3 and float(spreads.min()) < 1.0  # from about clean to the largest
    assert float(spreads.mean()) == pytest.approx(3.0, abs=0.5)  # uniform in [0, 6]: mean 3
    assert not input_noise_offsets(torch.Generator().manual_seed(0), (4, 100), 0.0).any()


def test_a_mixture_model_refuses_noise_given_in_mu_law_classes():
    model = tiny_wavenet(0, output="logistic_mixture")
    targets = torch.rand(1, 30) * 2 - 1
    with pytest.raises(InputError, match="mu-law"):
        wavenet_loss(model, targets, input_offsets=torch.ones(1, 30, dtype=torch.long))


def test_a_mixture_recipe_with_input_noise_is_refused_before_its_corpus_is_read(tmp_path):
    from synth.models.wavenet import WaveNetConfig
    from synth.solvers.wavenet import run_train

    recipe = WaveNetRecipe(out_dir=str(tmp_path / "out"), model=WaveNetConfig(output="logistic_mixture"),
                           data=WaveNetData(corpus=str(tmp_path / "no-such-corpus"), input_noise=2.0))
    with pytest.raises(InputError, match="data.input_noise is given in mu-law classes"):
        run_train(recipe, card=lambda facts: "")


@pytest.mark.parametrize("clips", [0, 1001])
def test_absurd_numbers_of_judged_clips_are_refused_with_the_range(clips):
    with pytest.raises(InputError, match="judged_clips must be from 1 to 1000"):
        WaveNetData(judged_clips=clips)


@pytest.mark.parametrize("value", [-1.0, 33.0, math.nan])
def test_absurd_input_noise_is_refused_with_the_range(value):
    with pytest.raises(InputError, match="input_noise must be from 0"):
        WaveNetData(input_noise=value)


class FakeSplit:
    """Crops as AudioSplit.crops draws them (from the generator only), without a corpus."""

    def crops(self, generator, batch_size, crop_samples, lookahead_frames=0):
        return {"audio": torch.rand(batch_size, crop_samples, generator=generator) * 2 - 1,
                "speaker": torch.zeros(batch_size, dtype=torch.long)}


def test_training_batches_carry_noise_only_when_the_recipe_asks():
    noisy = WaveNetRecipe(data=WaveNetData(input_noise=4.0, batch_size=3, crop_samples=512))
    clean = WaveNetRecipe(data=WaveNetData(batch_size=3, crop_samples=512))
    a = training_batch(noisy, FakeSplit(), torch.Generator().manual_seed(5))
    b = training_batch(noisy, FakeSplit(), torch.Generator().manual_seed(5))
    c = training_batch(clean, FakeSplit(), torch.Generator().manual_seed(5))
    assert torch.equal(a["input_offsets"], b["input_offsets"]) and a["input_offsets"].shape == (3, 512)
    assert a["input_offsets"].abs().sum() > 0 and "input_offsets" not in c
    assert torch.equal(a["audio"], c["audio"])  # the same crops: the noise is drawn after them
    model = tiny_wavenet(0)
    with torch.no_grad():
        expected = wavenet_loss(model, model.encode(a["audio"]), input_offsets=a["input_offsets"])
        assert float(wavenet_batch_loss(model, a)) == float(expected)
        assert float(wavenet_batch_loss(model, c)) == float(wavenet_loss(model, model.encode(c["audio"])))
