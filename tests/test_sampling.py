"""The sampling engine and its distributions and policies."""
import math

import pytest
import torch

from synth.errors import InputError
from synth.sampling import (Bernoulli, BivariateGaussianMixture, Categorical, DiscretizedLogisticMixture,
                            Greedy, Temperature, TopK, TopP, beam_search, generate, make_policy, sample)
from synth.sampling.distributions import AutoregressiveBernoulli, inverse_cdf
from synth.models.wavenet_generation import WaveNetGenerator
from synth.sampling.engine import MAX_STEPS

from conftest import tiny_wavenet


class MarkovChain:
    """A toy categorical model: the next token's distribution depends only on the last token."""

    def __init__(self, transition_logits: torch.Tensor, start_token: int = 0):
        self.transition_logits = transition_logits  # (V, V)
        self.start_token = start_token

    def initial_input(self, batch_size):
        return torch.full((batch_size,), self.start_token, dtype=torch.long)

    def start(self, batch_size):
        return {"steps": torch.zeros(batch_size, dtype=torch.long)}

    def step(self, state, x):
        state["steps"] += 1
        return Categorical(self.transition_logits[x])


def greedy_trap() -> MarkovChain:
    """From the start token 0: token 1 (p 0.6) then any of 4 tokens (0.15 each), or token 2
    (p 0.4) then token 3 for sure. Greedy takes 1 and ends at 0.09; the best sequence is 2, 3 (0.4)."""
    p = torch.full((7, 7), 1e-9)
    p[0, 1], p[0, 2] = 0.6, 0.4
    p[1, 3:7] = 0.25
    p[2, 3] = 1.0
    p[3:, 0] = 1.0
    return MarkovChain(torch.log(p / p.sum(-1, keepdim=True)))


def test_beam_search_finds_the_best_sequence_where_greedy_does_not():
    model = greedy_trap()
    greedy, _ = sample(model, max_steps=2, policy=[Greedy()], seed=0)
    assert greedy[0, 0].item() == 1
    result = beam_search(model, beam_width=2, max_steps=2)
    assert result.sequences[0, 0].tolist() == [2, 3]
    assert result.log_probs[0, 0].item() == pytest.approx(math.log(0.4), abs=1e-4)
    greedy_log_prob = math.log(0.6 * 0.25)
    assert result.log_probs[0, 0].item() > greedy_log_prob


def test_beam_search_on_wavenet_scores_at_least_greedy():
    model = tiny_wavenet()
    greedy, _ = sample(WaveNetGenerator(model), max_steps=12, policy=[Greedy()], seed=0)
    beams = beam_search(WaveNetGenerator(model), beam_width=4, max_steps=12)

    def score(seq):
        with torch.no_grad():
            logits = model(model.shift_inputs(seq))
        return torch.log_softmax(logits, -1).gather(-1, seq.unsqueeze(-1)).sum().item()

    assert beams.log_probs[0, 0].item() == pytest.approx(score(beams.sequences[0, :1]), abs=1e-3)
    assert beams.log_probs[0, 0].item() >= score(greedy) - 1e-4


def test_a_fixed_seed_reproduces_the_output_exactly():
    model = tiny_wavenet(n_speakers=3)
    kwargs = dict(max_steps=300, batch_size=3, conditioning={"speaker": torch.tensor([0, 1, 2])},
                  policy=make_policy(temperature=0.9, top_k=50))
    a = generate(WaveNetGenerator(model), seed=1234, **kwargs).collect()
    b = generate(WaveNetGenerator(model), seed=1234, **kwargs).collect()
    c = generate(WaveNetGenerator(model), seed=4321, **kwargs).collect()
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert not torch.equal(a[0], a[1])  # streams differ from one another


def test_output_chunking_does_not_change_the_samples():
    model = WaveNetGenerator(tiny_wavenet())
    whole = generate(model, max_steps=600, seed=3, chunk_steps=10_000).collect()
    chunks = list(generate(model, max_steps=600, seed=3, chunk_steps=7))
    assert [c.shape[1] for c in chunks[:-1]] == [7] * (len(chunks) - 1)
    assert torch.equal(whole, torch.cat(chunks, 1))


def test_priming_teacher_forces_the_prefix():
    model = greedy_trap()
    out, _ = sample(model, max_steps=1, prime=torch.tensor([[2]]), policy=[Greedy()], seed=0)
    assert out.tolist() == [[3]]  # after 2 the only likely token is 3


def test_top_k_never_emits_excluded_classes():
    torch.manual_seed(0)
    logits = torch.randn(64, 256)
    dist = TopK(5)(Categorical(logits))
    allowed = logits.topk(5, -1).indices
    for _ in range(50):
        x = dist.sample(torch.rand(64, 1))
        assert (allowed == x.unsqueeze(-1)).any(-1).all()


def test_top_k_on_a_wavenet_emits_only_the_steps_top_classes():
    model = tiny_wavenet()
    out = generate(WaveNetGenerator(model), max_steps=200, policy=[TopK(3)], seed=9).collect()
    with torch.no_grad():
        logits = model(model.shift_inputs(out))  # teacher-forced logits of each step
    assert (logits.topk(3, -1).indices == out.unsqueeze(-1)).any(-1).all()


def test_top_p_never_emits_excluded_classes():
    torch.manual_seed(1)
    logits = torch.randn(32, 50) * 3
    dist = TopP(0.7)(Categorical(logits))
    probs = logits.softmax(-1)
    for row in range(32):
        order = probs[row].argsort(descending=True)
        mass_before = probs[row][order].cumsum(0) - probs[row][order]
        allowed = set(order[mass_before < 0.7].tolist())
        draws = {dist.sample(torch.rand(32, 1))[row].item() for _ in range(200)}
        assert draws <= allowed, (draws - allowed)
        assert len(allowed) >= 1


def test_inverse_cdf_never_picks_a_zero_probability_class_even_at_the_top():
    probs = torch.tensor([[0.3, 0.7, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    u = torch.tensor([1.0 - 1e-12, 0.0, 1.0 - 2 ** -24])
    assert inverse_cdf(probs, u).tolist() == [1, 3, 0]
    assert inverse_cdf(probs, torch.zeros(3)).tolist() == [0, 3, 0]


def test_categorical_sampling_follows_its_probabilities():
    probs = torch.tensor([0.5, 0.3, 0.15, 0.05])
    dist = Categorical(torch.log(probs).expand(20_000, -1))
    counts = torch.bincount(dist.sample(torch.rand(20_000, 1, generator=torch.Generator().manual_seed(0))), minlength=4)
    assert torch.allclose(counts / 20_000, probs, atol=0.015)


def test_temperature_zero_is_greedy_and_low_temperature_sharpens():
    logits = torch.tensor([[1.0, 2.0, 0.5]])
    assert Temperature(0)(Categorical(logits)).sample(torch.rand(1, 1)).item() == 1
    assert Temperature(0.5)(Categorical(logits)).log_probs()[0, 1] > Categorical(logits).log_probs()[0, 1]
    for absurd in (-1, 5.5, float("nan"), "hot", True):
        with pytest.raises(InputError, match=r"temperature must be from 0 \(greedy\) to 5, got"):
            Temperature(absurd)


def test_logistic_mixture_log_prob_matches_a_hand_computation():
    torch.manual_seed(0)
    params = torch.randn(6, 9)
    dist = DiscretizedLogisticMixture.from_params(params, n_bits=8)
    x = torch.tensor([-1.0, -0.5, 0.0, 0.3, 0.99, 1.0])
    weights = params[:, :3].double().softmax(-1)
    means, scales = params[:, 3:6].double(), params[:, 6:9].double().clamp(min=-7).exp()
    half = 1 / 255
    cdf = lambda v: torch.sigmoid((v - means) / scales)
    upper = torch.where(x.double().unsqueeze(-1) > 1 - half, torch.ones(1, dtype=torch.float64), cdf(x.double().unsqueeze(-1) + half))
    lower = torch.where(x.double().unsqueeze(-1) < -1 + half, torch.zeros(1, dtype=torch.float64), cdf(x.double().unsqueeze(-1) - half))
    expected = torch.log((weights * (upper - lower)).sum(-1))
    torch.testing.assert_close(dist.log_prob(x).double(), expected, atol=1e-4, rtol=1e-4)


def test_logistic_mixture_bins_sum_to_one():
    torch.manual_seed(2)
    dist = DiscretizedLogisticMixture.from_params(torch.randn(1, 9).expand(256, -1), n_bits=8)
    centres = torch.linspace(-1, 1, 256)
    assert dist.log_prob(centres).exp().sum().item() == pytest.approx(1.0, abs=1e-3)


def test_logistic_mixture_samples_stay_in_range_and_follow_the_mean():
    dist = DiscretizedLogisticMixture(torch.zeros(50_000, 1), torch.full((50_000, 1), 0.25), torch.full((50_000, 1), -4.0))
    x = dist.sample(torch.rand(50_000, 2, generator=torch.Generator().manual_seed(0)))
    assert x.abs().max() <= 1.0
    assert x.mean().item() == pytest.approx(0.25, abs=2e-3)


def test_bivariate_mixture_log_prob_matches_torch_distributions():
    torch.manual_seed(0)
    B, M = 5, 3
    pi, mu, log_sigma = torch.randn(B, M), torch.randn(B, M, 2), torch.randn(B, M, 2) * 0.3
    rho, eos = torch.tanh(torch.randn(B, M)), torch.randn(B)
    dist = BivariateGaussianMixture(pi, mu, log_sigma, rho, eos)
    x = torch.cat([torch.randn(B, 2), torch.randint(0, 2, (B, 1)).float()], -1)
    s = log_sigma.exp()
    cov = torch.stack([torch.stack([s[..., 0] ** 2, rho * s[..., 0] * s[..., 1]], -1),
                       torch.stack([rho * s[..., 0] * s[..., 1], s[..., 1] ** 2], -1)], -2)
    normal = torch.distributions.MultivariateNormal(mu, covariance_matrix=cov)
    log_mix = torch.logsumexp(pi.log_softmax(-1) + normal.log_prob(x[:, None, :2]), -1)
    log_pen = torch.distributions.Bernoulli(logits=eos).log_prob(x[:, 2])
    torch.testing.assert_close(dist.log_prob(x), log_mix + log_pen, atol=1e-4, rtol=1e-4)


def test_bivariate_mixture_samples_have_the_component_statistics():
    n = 40_000
    dist = BivariateGaussianMixture(torch.zeros(n, 1), torch.tensor([[[1.0, -2.0]]]).expand(n, 1, 2),
                                    torch.log(torch.tensor([[[0.5, 2.0]]])).expand(n, 1, 2),
                                    torch.full((n, 1), 0.6), torch.full((n,), 0.0))
    x = dist.sample(torch.rand(n, 4, generator=torch.Generator().manual_seed(0)))
    assert x[:, 0].mean().item() == pytest.approx(1.0, abs=0.02)
    assert x[:, 1].std().item() == pytest.approx(2.0, abs=0.05)
    assert torch.corrcoef(x[:, :2].T)[0, 1].item() == pytest.approx(0.6, abs=0.02)
    assert x[:, 2].mean().item() == pytest.approx(0.5, abs=0.02)


def test_graves_bias_narrows_the_mixture():
    dist = BivariateGaussianMixture(torch.tensor([[0.0, 1.0]]), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2),
                                    torch.zeros(1, 2), torch.zeros(1))
    biased = make_policy(bias=2.0)[0](dist)
    assert torch.allclose(biased.log_sigma, torch.full((1, 2, 2), -2.0))
    assert biased.pi_logits.softmax(-1)[0, 1] > dist.pi_logits.softmax(-1)[0, 1]


def test_autoregressive_bernoulli_conditions_each_unit_on_the_one_before():
    # unit i copies unit i - 1 with near certainty; unit 0 is a fair coin
    conditional = lambda previous, i: torch.zeros_like(previous) if i == 0 else (previous * 2 - 1) * 20
    dist = AutoregressiveBernoulli(conditional, n_units=6, batch_size=500)
    x = dist.sample(torch.rand(500, 6, generator=torch.Generator().manual_seed(0)))
    assert torch.all(x == x[:, :1])
    assert 0.4 < x[:, 0].mean().item() < 0.6
    assert dist.log_prob(torch.ones(1, 6).expand(500, -1)).mean().item() == pytest.approx(math.log(0.5), abs=1e-3)
    assert Bernoulli(torch.zeros(2, 88)).n_uniforms == 88


def test_stop_conditions_end_each_stream_on_its_own():
    model = greedy_trap()
    gen = generate(model, max_steps=50, batch_size=4, seed=0, stop=lambda x: x == 0)
    out = gen.collect()
    lengths = gen.lengths
    for row, length in zip(out, lengths):
        assert row[length - 1] == 0 and (row[:length - 1] != 0).all()
        assert (row[length:] == 0).all()
    assert gen.steps == lengths.max().item() < 50


def test_progress_is_reported_per_chunk():
    seen = []
    generate(WaveNetGenerator(tiny_wavenet()), max_steps=100, chunk_steps=30, seed=0,
             progress=lambda done, total: seen.append((done, total))).collect()
    assert seen == [(30, 100), (60, 100), (90, 100), (100, 100)]


@pytest.mark.parametrize("steps", [0, -5, MAX_STEPS + 1, 2.5])
def test_absurd_lengths_are_refused(steps):
    with pytest.raises(InputError, match="max_steps must be a whole number from 1 to"):
        generate(WaveNetGenerator(tiny_wavenet()), max_steps=steps)


def test_a_policy_a_distribution_cannot_take_says_which_it_can():
    gmm = BivariateGaussianMixture(torch.zeros(1, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2, 2), torch.zeros(1, 2), torch.zeros(1))
    with pytest.raises(InputError, match="top_p policy does not apply to BivariateGaussianMixture.*temperature"):
        TopP(0.9)(gmm)
