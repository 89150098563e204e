"""Output distributions that the sampling engine draws from.

Each model's step returns one of these small objects, holding the distribution's parameters for a
batch of streams. They sample from uniform random numbers that the engine draws ahead in blocks
(``n_uniforms`` per stream and step), so any faster path that consumes the same numbers produces
the same samples. Policies (temperature, top-k, top-p, bias, greedy) are applied by calling the
``tempered`` / ``top_k`` / ``top_p`` / ``biased`` / ``greedy`` methods, which return new objects.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Callable

import torch
import torch.nn.functional as F

from synth.errors import InputError

_UNIFORM_EPS = 1e-6


def inverse_cdf(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Index drawn from unnormalised ``probs`` (B, V) by inverse CDF of uniforms ``u`` (B,).

    Never returns an index whose probability is zero (excluded by top-k / top-p), even when
    ``u`` rounds to the top of the cumulative sum.
    """
    cdf = probs.cumsum(-1)  # (B, V)
    total = cdf[:, -1:]
    # Keep the target strictly below the total: then the first cdf entry above it always belongs
    # to a class of positive probability (a zero-probability class never raises the cdf).
    target = torch.minimum(u.to(cdf.dtype).unsqueeze(-1) * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, target, right=True).squeeze(-1)  # (B,)


class Distribution:
    """Base class: a batch of per-stream distributions over one step's output."""

    #: uniform random numbers consumed per stream for one sample
    n_uniforms: int = 1
    is_greedy: bool = False

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        """Draw one sample per stream from uniforms ``u`` (B, n_uniforms) in [0, 1)."""
        raise NotImplementedError

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood (B,) of the values ``x``."""
        raise NotImplementedError

    def greedy(self) -> "Distribution":
        return dataclasses.replace(self, is_greedy=True)

    def _unsupported(self, policy: str) -> InputError:
        return InputError(f"the {policy} policy does not apply to {type(self).__name__} outputs; "
                          f"it supports: {', '.join(self.supported_policies)}")

    supported_policies: tuple[str, ...] = ("greedy",)

    def tempered(self, temperature: float) -> "Distribution":
        raise self._unsupported("temperature")

    def top_k(self, k: int) -> "Distribution":
        raise self._unsupported("top_k")

    def top_p(self, p: float) -> "Distribution":
        raise self._unsupported("top_p")

    def biased(self, bias: float) -> "Distribution":
        raise self._unsupported("bias")


def _keep_top_k(logits: torch.Tensor, k: int) -> torch.Tensor:
    """Logits with everything outside the k largest set to -inf (exactly k kept)."""
    k = min(k, logits.shape[-1])
    keep = torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, logits.topk(k, dim=-1).indices, True)
    return logits.masked_fill(~keep, -math.inf)


def _keep_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Logits outside the smallest set whose probability reaches p set to -inf (nucleus, Holtzman 2019)."""
    sorted_logits, order = logits.sort(-1, descending=True)
    probs = sorted_logits.softmax(-1)
    mass_before = probs.cumsum(-1) - probs  # mass of strictly more likely entries
    drop_sorted = mass_before >= p  # the first entry always stays (mass_before = 0 < p)
    drop = torch.zeros_like(drop_sorted).scatter_(-1, order, drop_sorted)
    return logits.masked_fill(drop, -math.inf)


@dataclasses.dataclass(frozen=True)
class Categorical(Distribution):
    """Categorical over V classes (mu-law audio classes, events). logits: (B, V)."""

    logits: torch.Tensor
    is_greedy: bool = False
    n_uniforms = 1
    supported_policies = ("greedy", "temperature", "top_k", "top_p", "bias")

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        if self.is_greedy:
            return self.logits.argmax(-1)
        logits = self.logits.float()
        probs = torch.exp(logits - logits.max(-1, keepdim=True).values)  # (B, V), exp(-inf) = 0
        return inverse_cdf(probs, u[:, 0])

    def log_probs(self) -> torch.Tensor:
        return F.log_softmax(self.logits.float(), -1)  # (B, V)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.log_probs().gather(-1, x.long().unsqueeze(-1)).squeeze(-1)

    def tempered(self, temperature: float) -> "Categorical":
        return dataclasses.replace(self, logits=self.logits / temperature)

    def top_k(self, k: int) -> "Categorical":
        return dataclasses.replace(self, logits=_keep_top_k(self.logits, k))

    def top_p(self, p: float) -> "Categorical":
        return dataclasses.replace(self, logits=_keep_top_p(self.logits, p))

    def biased(self, bias: float) -> "Categorical":
        # Graves 2013 eq. 61 applied to class weights: sharpen by (1 + b).
        return dataclasses.replace(self, logits=self.logits * (1.0 + bias))


@dataclasses.dataclass(frozen=True)
class DiscretizedLogisticMixture(Distribution):
    """Mixture of M discretised logistics over [-1, 1] in 2**n_bits levels
    (Salimans et al. 2017, PixelCNN++; Oord et al. 2018, Parallel WaveNet). Params: (B, M) each."""

    logit_probs: torch.Tensor
    means: torch.Tensor
    log_scales: torch.Tensor
    n_bits: int = 16
    is_greedy: bool = False
    n_uniforms = 2
    supported_policies = ("greedy", "temperature", "top_k", "bias")
    LOG_SCALE_MIN = -7.0

    @classmethod
    def from_params(cls, params: torch.Tensor, n_bits: int = 16) -> "DiscretizedLogisticMixture":
        """params (..., 3M) laid out as [logit_probs | means | log_scales]."""
        logit_probs, means, log_scales = params.float().chunk(3, dim=-1)
        return cls(logit_probs, means, log_scales.clamp(min=cls.LOG_SCALE_MIN), n_bits)

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        if self.is_greedy:
            component = self.logit_probs.argmax(-1, keepdim=True)
            return self.means.gather(-1, component).squeeze(-1).clamp(-1.0, 1.0)
        probs = torch.exp(self.logit_probs - self.logit_probs.max(-1, keepdim=True).values)
        component = inverse_cdf(probs, u[:, 0]).unsqueeze(-1)  # (B, 1)
        mean = self.means.gather(-1, component).squeeze(-1)
        log_scale = self.log_scales.gather(-1, component).squeeze(-1)
        v = u[:, 1].clamp(_UNIFORM_EPS, 1.0 - _UNIFORM_EPS).to(mean.dtype)
        x = mean + torch.exp(log_scale) * (torch.log(v) - torch.log1p(-v))  # logistic inverse CDF
        return x.clamp(-1.0, 1.0)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-probability of the bin holding x (B,) in [-1, 1]; edge bins take the tails."""
        x = x.float().unsqueeze(-1)  # (B, 1)
        half_bin = 1.0 / (2 ** self.n_bits - 1)
        centred = x - self.means
        inv_scale = torch.exp(-self.log_scales)
        cdf_plus = torch.sigmoid(inv_scale * (centred + half_bin))
        cdf_minus = torch.sigmoid(inv_scale * (centred - half_bin))
        log_cdf_plus = F.logsigmoid(inv_scale * (centred + half_bin))  # left edge bin takes the lower tail
        log_one_minus_cdf_minus = -F.softplus(inv_scale * (centred - half_bin))  # right edge: upper tail
        mid = inv_scale * centred
        # When the bin is so narrow that cdf_plus - cdf_minus underflows, use the density times the width.
        log_pdf_mid = mid - self.log_scales - 2.0 * F.softplus(mid) + math.log(2 * half_bin)
        bin_mass = cdf_plus - cdf_minus
        log_bin = torch.where(bin_mass > 1e-5, torch.log(bin_mass.clamp(min=1e-12)), log_pdf_mid)
        # The edge bins are those within half a bin of -1 and 1 (not a fixed 0.999, which for
        # 16 bits would give the tail mass to the last few dozen interior bins).
        log_component = torch.where(x < -1.0 + half_bin, log_cdf_plus,
                                    torch.where(x > 1.0 - half_bin, log_one_minus_cdf_minus, log_bin))
        return torch.logsumexp(log_component + F.log_softmax(self.logit_probs, -1), dim=-1)

    def tempered(self, temperature: float) -> "DiscretizedLogisticMixture":
        return dataclasses.replace(self, logit_probs=self.logit_probs / temperature,
                                   log_scales=self.log_scales + math.log(temperature))

    def top_k(self, k: int) -> "DiscretizedLogisticMixture":
        return dataclasses.replace(self, logit_probs=_keep_top_k(self.logit_probs, k))

    def biased(self, bias: float) -> "DiscretizedLogisticMixture":
        return dataclasses.replace(self, logit_probs=self.logit_probs * (1.0 + bias),
                                   log_scales=self.log_scales - bias)


@dataclasses.dataclass(frozen=True)
class BivariateGaussianMixture(Distribution):
    """Pen offsets (dx, dy) from an M-component bivariate Gaussian mixture, plus a Bernoulli
    end-of-stroke (Graves 2013, eq. 18-25). Sample: (B, 3) = dx, dy, pen-up."""

    pi_logits: torch.Tensor  # (B, M)
    mu: torch.Tensor  # (B, M, 2)
    log_sigma: torch.Tensor  # (B, M, 2)
    rho: torch.Tensor  # (B, M), in (-1, 1)
    eos_logit: torch.Tensor  # (B,)
    is_greedy: bool = False
    n_uniforms = 4
    supported_policies = ("greedy", "temperature", "top_k", "bias")

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        if self.is_greedy:
            component = self.pi_logits.argmax(-1)
            xy = self.mu[torch.arange(len(component)), component]  # (B, 2)
            return torch.cat([xy, (self.eos_logit > 0).to(xy.dtype).unsqueeze(-1)], -1)
        probs = torch.exp(self.pi_logits - self.pi_logits.max(-1, keepdim=True).values)
        component = inverse_cdf(probs, u[:, 0])  # (B,)
        rows = torch.arange(len(component), device=component.device)
        mu, sigma, rho = self.mu[rows, component], self.log_sigma[rows, component].exp(), self.rho[rows, component]
        # Two standard normals by Box-Muller, then correlate them.
        radius = torch.sqrt(-2.0 * torch.log(u[:, 1].clamp(min=_UNIFORM_EPS)))
        z1, z2 = radius * torch.cos(2 * math.pi * u[:, 2]), radius * torch.sin(2 * math.pi * u[:, 2])
        dx = mu[:, 0] + sigma[:, 0] * z1
        dy = mu[:, 1] + sigma[:, 1] * (rho * z1 + torch.sqrt(1 - rho ** 2) * z2)
        pen = (u[:, 3] < torch.sigmoid(self.eos_logit)).to(dx.dtype)
        return torch.stack([dx, dy, pen], -1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """x (B, 3). Mixture density by log-sum-exp (Graves eq. 23-26)."""
        d = (x[:, None, :2] - self.mu) / self.log_sigma.exp()  # (B, M, 2)
        one_minus_rho2 = (1 - self.rho ** 2).clamp(min=1e-6)
        z = d[..., 0] ** 2 + d[..., 1] ** 2 - 2 * self.rho * d[..., 0] * d[..., 1]
        log_normal = (-z / (2 * one_minus_rho2) - math.log(2 * math.pi)
                      - self.log_sigma.sum(-1) - 0.5 * torch.log(one_minus_rho2))
        log_mix = torch.logsumexp(F.log_softmax(self.pi_logits, -1) + log_normal, -1)
        log_pen = -F.binary_cross_entropy_with_logits(self.eos_logit, x[:, 2], reduction="none")
        return log_mix + log_pen

    def tempered(self, temperature: float) -> "BivariateGaussianMixture":
        return dataclasses.replace(self, pi_logits=self.pi_logits / temperature,
                                   log_sigma=self.log_sigma + 0.5 * math.log(temperature))

    def top_k(self, k: int) -> "BivariateGaussianMixture":
        return dataclasses.replace(self, pi_logits=_keep_top_k(self.pi_logits, k))

    def biased(self, bias: float) -> "BivariateGaussianMixture":
        # Graves 2013 eq. 61-62: sharper mixture weights, narrower components.
        return dataclasses.replace(self, pi_logits=self.pi_logits * (1.0 + bias), log_sigma=self.log_sigma - bias)


@dataclasses.dataclass(frozen=True)
class Bernoulli(Distribution):
    """Independent Bernoulli per unit (notes of a piano-roll frame). logits: (B, N)."""

    logits: torch.Tensor
    is_greedy: bool = False
    supported_policies = ("greedy", "temperature", "bias")

    @property
    def n_uniforms(self) -> int:  # type: ignore[override]
        return self.logits.shape[-1]

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        if self.is_greedy:
            return (self.logits > 0).float()
        return (u.to(self.logits.dtype) < torch.sigmoid(self.logits)).float()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return -F.binary_cross_entropy_with_logits(self.logits, x.float(), reduction="none").sum(-1)

    def tempered(self, temperature: float) -> "Bernoulli":
        return dataclasses.replace(self, logits=self.logits / temperature)

    def biased(self, bias: float) -> "Bernoulli":
        return dataclasses.replace(self, logits=self.logits * (1.0 + bias))


@dataclasses.dataclass(frozen=True)
class AutoregressiveBernoulli(Distribution):
    """Bernoulli units sampled one after another, each conditioned on those before it
    (the note axis of RNN-NADE / the biaxial RNN).

    ``conditional(previous, i)`` gives the logits (B,) of unit i given ``previous`` (B,), the value
    of unit i - 1 (zeros for i = 0); it carries whatever state it needs between calls and is
    called with i = 0, 1, ..., n_units - 1 in order, once per sample or log_prob.
    """

    conditional: Callable[[torch.Tensor, int], torch.Tensor]
    n_units: int
    batch_size: int
    temperature: float = 1.0
    is_greedy: bool = False
    supported_policies = ("greedy", "temperature")

    @property
    def n_uniforms(self) -> int:  # type: ignore[override]
        return self.n_units

    def _run(self, choose: Callable[[torch.Tensor, int], torch.Tensor]) -> torch.Tensor:
        values, previous = [], None
        for i in range(self.n_units):
            logits = self.conditional(previous if previous is not None else torch.zeros(self.batch_size), i)
            previous = choose(logits / self.temperature, i)
            values.append(previous)
        return torch.stack(values, -1)  # (B, n_units)

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        if self.is_greedy:
            return self._run(lambda logits, i: (logits > 0).float())
        return self._run(lambda logits, i: (u[:, i].to(logits.dtype) < torch.sigmoid(logits)).float())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        total = torch.zeros(self.batch_size)

        def teacher(logits: torch.Tensor, i: int) -> torch.Tensor:
            nonlocal total
            total = total - F.binary_cross_entropy_with_logits(logits, x[:, i].float(), reduction="none")
            return x[:, i].float()

        self._run(teacher)
        return total

    def tempered(self, temperature: float) -> "AutoregressiveBernoulli":
        return dataclasses.replace(self, temperature=self.temperature * temperature)
