"""Graves 2013 ("Generating Sequences With Recurrent Neural Networks", sections 4-5): the
handwriting prediction network (stacked LSTMs, mixture density output) and the synthesis network
(the same, with a soft window of K Gaussians over the one-hot characters of the text).

Pen points are offsets (dx, dy, end_of_stroke); the networks see them divided by the corpus's
offset standard deviation (``offset_std``, stored in the config so a checkpoint carries its own
normalisation). Both networks take part in the sampling engine's incremental protocol.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synth.errors import InputError
from synth.models.attention import GaussianWindow, texts_per_stream
from synth.models.characters import character_ids, check_vocabulary
from synth.sampling.distributions import BivariateGaussianMixture

State = dict[str, Any]

#: The characters the bundled model writes: printable ASCII letters, digits, space and common punctuation.
ALPHABET = " !\"'(),-.0123456789:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def check_text(text: str, alphabet: str, *, max_chars: int | None = None, what: str = "text") -> str:
    """Refuse text that cannot be written: not a string, empty, too long, or with characters
    outside ``alphabet`` (all of them listed)."""
    if not isinstance(text, str):
        raise InputError(f"{what} must be a string, got {type(text).__name__}")
    if not text.strip():
        raise InputError(f"{what} is empty: give at least one character to write")
    if max_chars is not None and len(text) > max_chars:
        raise InputError(f"{what} is {len(text)} characters long; a line holds at most {max_chars} "
                         "(longer text is split into lines by write_text)")
    return check_vocabulary(text, alphabet, what=what)


def encode_text(texts: list[str], alphabet: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Character ids (B, U) padded with 0 and lengths (B,). Texts must pass ``check_text``."""
    return character_ids(texts, alphabet)


#: Graves 2013, section 4.2: derivatives clipped to [-100, 100] at the output layer's input and
#: [-10, 10] at the LSTM layers' outputs.
OUTPUT_GRADIENT_LIMIT = 100.0
LSTM_GRADIENT_LIMIT = 10.0


@dataclasses.dataclass
class HandwritingConfig:
    """Paper sizes by default (3 x 400 LSTM, K = 10 window Gaussians, M = 20 mixture components)."""

    hidden_size: int = 400
    n_layers: int = 3
    n_window: int = 10  # K
    n_mixtures: int = 20  # M
    alphabet: str = ALPHABET
    max_chars: int = 80  # longest line of text accepted
    offset_std: tuple[float, float] = (1.0, 1.0)  # corpus statistics: offsets are divided by these
    points_per_char: float = 10.0  # corpus mean, sets the window's initial speed and the step budget
    sigma_min: float = 1e-2  # floor of the mixture's standard deviations (normalised units)
    rho_max: float = 0.995  # |correlation| clamp
    line_height: float = 0.97  # corpus median of a line's 5-95 percentile height: user primers are scaled to it
    point_spacing: float = 0.285  # corpus mean distance between pen points: user primers are resampled at it
    align_baseline: bool = False  # the corpus's lines were turned level: user primers are too

    def __post_init__(self):
        self.offset_std = tuple(float(v) for v in self.offset_std)
        if len(self.offset_std) != 2 or min(self.offset_std) <= 0:
            raise InputError(f"offset_std must be two positive numbers, got {self.offset_std}")
        for name in ("hidden_size", "n_layers", "n_window", "n_mixtures", "max_chars"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if len(set(self.alphabet)) != len(self.alphabet) or not self.alphabet:
            raise InputError("alphabet must be a non-empty string of distinct characters")


class MixtureDensityHead(nn.Module):
    """Output layer: M-component bivariate Gaussian mixture + Bernoulli end of stroke
    (Graves 2013, eq. 17-22), with floored sigmas and clamped correlations."""

    def __init__(self, in_features: int, n_mixtures: int, sigma_min: float, rho_max: float):
        super().__init__()
        self.n_mixtures, self.log_sigma_min, self.rho_max = n_mixtures, math.log(sigma_min), rho_max
        self.linear = nn.Linear(in_features, 1 + 6 * n_mixtures)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """h (..., F) -> pi_logits (..., M), mu (..., M, 2), log_sigma (..., M, 2), rho (..., M), eos_logit (...)."""
        M = self.n_mixtures
        out = self.linear(h)
        eos_logit = out[..., 0]  # eq. 18 (as a logit: e = sigmoid)
        pi_logits = out[..., 1:1 + M]  # eq. 19 (softmax in the distribution)
        mu = out[..., 1 + M:1 + 3 * M].unflatten(-1, (M, 2))  # eq. 20
        log_sigma = out[..., 1 + 3 * M:1 + 5 * M].unflatten(-1, (M, 2)).clamp(min=self.log_sigma_min)  # eq. 21
        rho = torch.tanh(out[..., 1 + 5 * M:]).clamp(-self.rho_max, self.rho_max)  # eq. 22
        return pi_logits, mu, log_sigma, rho, eos_logit

    def distribution(self, h: torch.Tensor) -> BivariateGaussianMixture:
        """h (B, F) -> the next offset's distribution."""
        return BivariateGaussianMixture(*self(h))


def mixture_nll(params: tuple[torch.Tensor, ...], targets: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Summed negative log-likelihood (Graves 2013, eq. 26) of targets (B, T, 3) under the head's
    params (each (B, T, ...)), over the steps where mask (B, T) is true; log-sum-exp throughout."""
    pi_logits, mu, log_sigma, rho, eos_logit = params
    d = (targets[..., None, :2] - mu) * torch.exp(-log_sigma)  # (B, T, M, 2)
    one_minus_rho2 = 1 - rho ** 2
    z = d[..., 0] ** 2 + d[..., 1] ** 2 - 2 * rho * d[..., 0] * d[..., 1]  # eq. 25
    log_normal = (-z / (2 * one_minus_rho2) - math.log(2 * math.pi) - log_sigma.sum(-1)
                  - 0.5 * torch.log(one_minus_rho2))  # eq. 24, (B, T, M)
    log_mix = torch.logsumexp(F.log_softmax(pi_logits, -1) + log_normal, -1)  # (B, T)
    log_eos = -F.binary_cross_entropy_with_logits(eos_logit, targets[..., 2], reduction="none")
    return -((log_mix + log_eos) * mask).sum()


class HandwritingPrediction(nn.Module):
    """Unconditional handwriting prediction network (Graves 2013, section 4): stacked LSTMs with
    skip connections from the input to every layer and from every layer to the output."""

    kind = "handwriting-prediction"
    config_class = HandwritingConfig
    n_uniforms = 4
    uses_window = False

    def __init__(self, config: HandwritingConfig):
        super().__init__()
        self.config = config
        H, V = config.hidden_size, len(config.alphabet)
        window = V if self.uses_window else 0
        self.first = nn.LSTMCell(3 + window, H)
        self.upper = nn.ModuleList(nn.LSTM(3 + window + H, H, batch_first=True) for _ in range(config.n_layers - 1))
        self.head = MixtureDensityHead(config.n_layers * H, config.n_mixtures, config.sigma_min, config.rho_max)
        self.register_buffer("offset_std", torch.tensor([*config.offset_std, 1.0]), persistent=False)

    # -- normalisation -------------------------------------------------------------------------
    def encode(self, offsets: torch.Tensor) -> torch.Tensor:
        """Offsets (..., 3) in ink units -> the network's units."""
        return offsets / self.offset_std.to(offsets.device)

    def decode(self, values: torch.Tensor) -> torch.Tensor:
        return values * self.offset_std.to(values.device)

    # -- full sequences (training) ---------------------------------------------------------------
    def _first_layer(self, inputs: torch.Tensor, **conditioning) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """inputs (B, T, 3) -> first-layer outputs (B, T, H) and what the upper layers also see (B, T, 3)."""
        h, _ = _run_cell(self.first, inputs)
        return h, inputs, {}

    def forward(self, inputs: torch.Tensor, gradient_scale: float = 1.0,
                **conditioning) -> tuple[tuple[torch.Tensor, ...], dict]:
        """inputs (B, T, 3) normalised offsets, each the pen move before the one to predict
        -> head params for every step (each (B, T, ...)) and extras (the window's phi (B, T, U + 1)).
        gradient_scale: what the loss backpropagated is divided by (the points of a mean loss): the
        paper's derivative limits are for a summed loss, so they are divided by it. An argument,
        not an attribute, so that it reaches the network through a DDP wrapper's forward."""
        h, skip, extras = self._first_layer(inputs, **conditioning)  # (B, T, H), (B, T, 3 [+ V])
        outs = [_clip_gradient(h, LSTM_GRADIENT_LIMIT / gradient_scale, self.training)]
        for lstm in self.upper:
            h, _ = lstm(torch.cat([skip, h], -1))  # (B, T, H)
            outs.append(_clip_gradient(h, LSTM_GRADIENT_LIMIT / gradient_scale, self.training))
        params = self.head(_clip_gradient(torch.cat(outs, -1), OUTPUT_GRADIENT_LIMIT / gradient_scale, self.training))
        return params, extras

    # -- the engine's incremental protocol ---------------------------------------------------------
    def initial_input(self, batch_size: int) -> torch.Tensor:
        """The pen is up before the first point: (0, 0, 1)."""
        x = torch.zeros(batch_size, 3, device=self.offset_std.device)
        x[:, 2] = 1.0
        return x

    def check_inputs(self, values: torch.Tensor) -> None:
        if values.shape[-1] != 3 or not torch.isfinite(values).all():
            raise InputError(f"primer strokes must be finite (dx, dy, end_of_stroke) rows, got shape {tuple(values.shape)}")

    def start(self, batch_size: int, **conditioning) -> State:
        if conditioning:
            raise InputError(f"the prediction network takes no conditioning, got {sorted(conditioning)}")
        return self._fresh_state(batch_size)

    def _fresh_state(self, batch_size: int) -> State:
        H, device = self.config.hidden_size, self.offset_std.device
        zeros = lambda: torch.zeros(batch_size, H, device=device)
        state: State = {"h0": zeros(), "c0": zeros()}
        for i in range(1, self.config.n_layers):
            state[f"h{i}"], state[f"c{i}"] = zeros(), zeros()
        return state

    def _upper_step(self, state: State, h: torch.Tensor, skip: torch.Tensor) -> BivariateGaussianMixture:
        outs = [h]
        for i, lstm in enumerate(self.upper, start=1):
            # One step of the layer's nn.LSTM with its own weights (the same math, without the
            # sequence machinery: it is most of the cost of a step at batch 1).
            h, state[f"c{i}"] = torch.lstm_cell(torch.cat([skip, h], -1), (state[f"h{i}"], state[f"c{i}"]),
                                                lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0)
            state[f"h{i}"] = h
            outs.append(h)
        return self.head.distribution(torch.cat(outs, -1))

    def _prime_upper(self, state: State, h_seq: torch.Tensor, skip: torch.Tensor) -> None:
        """Run the upper layers over a whole primer at once: h_seq (B, P, H), skip (B, P, 3 [+ V])."""
        for i, lstm in enumerate(self.upper, start=1):
            h_seq, (h_n, c_n) = lstm(torch.cat([skip, h_seq], -1), (state[f"h{i}"][None], state[f"c{i}"][None]))
            state[f"h{i}"], state[f"c{i}"] = h_n[0], c_n[0]

    def prime(self, state: State, inputs: torch.Tensor) -> None:
        """Teacher-force inputs (B, P, 3): the first layer step by step, the rest in one call each."""
        hs = []
        for t in range(inputs.shape[1]):
            state["h0"], state["c0"] = self.first(inputs[:, t], (state["h0"], state["c0"]))
            hs.append(state["h0"])
        self._prime_upper(state, torch.stack(hs, 1), inputs)

    def step(self, state: State, x: torch.Tensor) -> BivariateGaussianMixture:
        state["h0"], state["c0"] = self.first(x, (state["h0"], state["c0"]))
        return self._upper_step(state, state["h0"], x)


def _clip_gradient(x: torch.Tensor, bound: float, training: bool) -> torch.Tensor:
    """Clip the derivative of the loss with respect to x elementwise to [-bound, bound]
    (Graves 2013, section 4.2)."""
    if training and x.requires_grad:
        x.register_hook(lambda g: g.clamp(-bound, bound))
    return x


def _run_cell(cell: nn.LSTMCell, inputs: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    B, T, _ = inputs.shape
    h = c = inputs.new_zeros(B, cell.hidden_size)
    outs = []
    for t in range(T):
        h, c = cell(inputs[:, t], (h, c))
        outs.append(h)
    return torch.stack(outs, 1), (h, c)


class HandwritingSynthesis(HandwritingPrediction):
    """Handwriting synthesis network (Graves 2013, section 5): the prediction network with a soft
    window over the text between the first LSTM layer and the rest."""

    kind = "handwriting-synthesis"
    uses_window = True

    def __init__(self, config: HandwritingConfig):
        super().__init__(config)
        self.window = GaussianWindow(config.hidden_size, config.n_window, config.points_per_char)

    def one_hot(self, chars: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """chars (B, U) ids, lengths (B,) -> one-hot (B, U, V) and mask (B, U)."""
        mask = (torch.arange(chars.shape[1], device=chars.device) < lengths.to(chars.device)[:, None]).float()
        return F.one_hot(chars, len(self.config.alphabet)).float() * mask[..., None], mask

    def _first_layer(self, inputs: torch.Tensor, chars: torch.Tensor, lengths: torch.Tensor):
        B, T, _ = inputs.shape
        onehot, mask = self.one_hot(chars, lengths)
        h = c = inputs.new_zeros(B, self.config.hidden_size)
        kappa = inputs.new_zeros(B, self.config.n_window)
        w = inputs.new_zeros(B, len(self.config.alphabet))
        u = torch.arange(chars.shape[1] + 1, device=inputs.device, dtype=inputs.dtype)  # (U + 1,)
        hs, ws, phis = [], [], []
        for t in range(T):
            h, c = self.first(torch.cat([inputs[:, t], w], -1), (h, c))
            w, kappa, phi = self.window(h, kappa, onehot, mask, u)
            hs.append(h)
            ws.append(w)
            phis.append(phi)
        h_all, w_all = torch.stack(hs, 1), torch.stack(ws, 1)  # (B, T, H), (B, T, V)
        return h_all, torch.cat([inputs, w_all], -1), {"phi": torch.stack(phis, 1)}  # phi (B, T, U + 1)

    def texts_to_ids(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        for text in texts:
            # A primer's text comes first, so the conditioning may be up to twice a line.
            check_text(text, self.config.alphabet, max_chars=2 * self.config.max_chars)
        return encode_text(texts, self.config.alphabet)

    def start(self, batch_size: int, text: str | list[str] | None = None) -> State:
        """text: one string per stream (or one for all). The state holds the window's last phi
        (B, U + 1) after every step: what a writer watches to stop a line or catch a failure."""
        texts = texts_per_stream(text, batch_size, "the synthesis network")
        device = self.offset_std.device
        chars, lengths = self.texts_to_ids(texts)
        onehot, mask = self.one_hot(chars.to(device), lengths.to(device))
        state = self._fresh_state(batch_size)
        B, U = chars.shape
        state.update(
            kappa=torch.zeros(B, self.config.n_window, device=device), w=torch.zeros(B, len(self.config.alphabet), device=device),
            chars=onehot, char_mask=mask, lengths=lengths.to(device), phi=torch.zeros(B, U + 1, device=device),
            u=torch.arange(U + 1, device=device, dtype=torch.float32).expand(B, 1, -1),  # (B, 1, U + 1)
        )
        return state

    def step(self, state: State, x: torch.Tensor) -> BivariateGaussianMixture:
        """x (B, 3) normalised offset -> the next offset's distribution; updates the window."""
        h, c = self.first(torch.cat([x, state["w"]], -1), (state["h0"], state["c0"]))
        w, kappa, phi = self.window(h, state["kappa"], state["chars"], state["char_mask"], state["u"])
        state.update(h0=h, c0=c, w=w, kappa=kappa, phi=phi)
        return self._upper_step(state, h, torch.cat([x, w], -1))

    def prime(self, state: State, inputs: torch.Tensor) -> None:
        """Teacher-force a style primer (B, P, 3) into the state (Graves 2013, section 5.5): the first
        layer and window step by step, the upper layers in one call each."""
        hs, ws = [], []
        phi = None
        for t in range(inputs.shape[1]):
            h, c = self.first(torch.cat([inputs[:, t], state["w"]], -1), (state["h0"], state["c0"]))
            w, kappa, phi = self.window(h, state["kappa"], state["chars"], state["char_mask"], state["u"])
            state.update(h0=h, c0=c, w=w, kappa=kappa)
            hs.append(h)
            ws.append(w)
        if phi is None:
            return
        self._prime_upper(state, torch.stack(hs, 1), torch.cat([inputs, torch.stack(ws, 1)], -1))
        state["phi"] = phi


def handwriting_loss(model: HandwritingPrediction, batch: dict) -> torch.Tensor:
    """Mean NLL per pen point (nats) of a batch {"offsets" (B, T, 3) ink units, "mask" (B, T),
    and for synthesis "chars" (B, U), "lengths" (B,)}: teacher forcing with inputs shifted by one."""
    targets = model.encode(batch["offsets"])  # (B, T, 3)
    inputs = torch.cat([model.initial_input(targets.shape[0])[:, None].to(targets), targets[:, :-1]], 1)
    conditioning = {"chars": batch["chars"], "lengths": batch["lengths"]} if model.uses_window else {}
    n_points = batch["mask"].sum()
    params, _ = model(inputs, gradient_scale=float(n_points), **conditioning)
    return mixture_nll(params, targets, batch["mask"]) / n_points
