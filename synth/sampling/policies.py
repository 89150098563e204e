"""Sampling policies as data: small objects applied in order to a step's output distribution,
apart from the loop and from the model's state (as Hugging Face's logits warpers are)."""
from __future__ import annotations

import dataclasses
import numbers
from typing import Iterable, Sequence

from synth.errors import InputError
from synth.sampling.distributions import Distribution

#: The one bound on temperature, for every model and face: 0 is greedy; past 5 a model's
#: distribution is flattened beyond any use.
MAX_TEMPERATURE = 5.0


@dataclasses.dataclass(frozen=True)
class Temperature:
    """Divide logits (and widen continuous components) by ``value``; 0 means greedy."""

    value: float

    def __post_init__(self):
        if isinstance(self.value, bool) or not isinstance(self.value, numbers.Real) \
                or not 0.0 <= self.value <= MAX_TEMPERATURE:
            raise InputError(f"temperature must be from 0 (greedy) to {MAX_TEMPERATURE:g}, got {self.value!r}")

    def __call__(self, dist: Distribution) -> Distribution:
        return dist.greedy() if self.value == 0.0 else dist.tempered(self.value)


@dataclasses.dataclass(frozen=True)
class TopK:
    """Keep only the k most likely classes (or mixture components)."""

    k: int

    def __post_init__(self):
        if not (isinstance(self.k, int) and self.k >= 1):
            raise InputError(f"top_k must be a whole number of at least 1, got {self.k!r}")

    def __call__(self, dist: Distribution) -> Distribution:
        return dist.top_k(self.k)


@dataclasses.dataclass(frozen=True)
class TopP:
    """Nucleus sampling: keep the smallest set of classes whose probability reaches p."""

    p: float

    def __post_init__(self):
        if not (0.0 < self.p <= 1.0):
            raise InputError(f"top_p must be in (0, 1], got {self.p}")

    def __call__(self, dist: Distribution) -> Distribution:
        return dist.top_p(self.p)


@dataclasses.dataclass(frozen=True)
class Bias:
    """Graves 2013 section 5.4 sampling bias: b = 0 samples as trained, larger b is neater."""

    b: float

    def __post_init__(self):
        if not (0.0 <= self.b <= 100.0):
            raise InputError(f"bias must be between 0 and 100, got {self.b}")

    def __call__(self, dist: Distribution) -> Distribution:
        return dist.biased(self.b)


@dataclasses.dataclass(frozen=True)
class Greedy:
    """Always take the most likely value."""

    def __call__(self, dist: Distribution) -> Distribution:
        return dist.greedy()


Policy = Sequence  # a sequence of the warpers above, applied in order


def apply_policy(dist: Distribution, policy: Iterable) -> Distribution:
    for warp in policy:
        dist = warp(dist)
    return dist


def make_policy(*, temperature: float | None = None, top_k: int | None = None,
                top_p: float | None = None, bias: float | None = None, greedy: bool = False) -> tuple:
    """The usual policy from keyword settings, in the conventional order: bias, temperature, top-k, top-p."""
    policy: list = []
    if bias is not None:
        policy.append(Bias(bias))
    if temperature is not None and temperature != 1.0:
        policy.append(Temperature(temperature))
    if top_k is not None:
        policy.append(TopK(top_k))
    if top_p is not None and top_p < 1.0:
        policy.append(TopP(top_p))
    if greedy:
        policy.append(Greedy())
    return tuple(policy)
