"""The sampling engine: distributions, policies and the one generation loop."""
from synth.sampling.distributions import (AutoregressiveBernoulli, Bernoulli, BivariateGaussianMixture,
                                          Categorical, DiscretizedLogisticMixture, Distribution)
from synth.sampling.engine import (MAX_STEPS, Autoregressive, BeamResult, Generation, beam_search, generate,
                                   reorder_state, sample)
from synth.sampling.policies import Bias, Greedy, Temperature, TopK, TopP, apply_policy, make_policy

__all__ = [
    "AutoregressiveBernoulli", "Bernoulli", "BivariateGaussianMixture", "Categorical", "DiscretizedLogisticMixture",
    "Distribution", "MAX_STEPS", "Autoregressive", "BeamResult", "Generation", "beam_search", "generate",
    "reorder_state", "sample", "Bias", "Greedy", "Temperature", "TopK", "TopP", "apply_policy", "make_policy",
]
