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
from synth.handwriting.text import ALPHABET, check_text, encode_text
from synth.sampling.distributions import BivariateGaussianMixture

State = dict[str, Any]
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


class GaussianWindow(nn.Module):
    """Soft window over the characters (Graves 2013, eq. 46-51): K Gaussians with importance alpha,
    width beta and location kappa, where kappa only moves forward."""

    def __init__(self, hidden_size: int, n_window: int, points_per_char: float):
        super().__init__()
        self.linear = nn.Linear(hidden_size, 3 * n_window)
        with torch.no_grad():
            # Start the window moving at the corpus's mean speed (one character per points_per_char steps).
            self.linear.bias[2 * n_window:].fill_(-math.log(points_per_char))

    def forward(self, h: torch.Tensor, kappa: torch.Tensor, chars: torch.Tensor, char_mask: torch.Tensor,
                u: torch.Tensor | None = None):
        """h (B, H), kappa (B, K), chars (B, U, V) one-hot, char_mask (B, U), u the character positions
        0 .. U, (U + 1,) or (B, 1, U + 1) (made when not given) -> window w (B, V), new kappa (B, K), phi (B, U + 1):
        the last column of phi is one past the text."""
        # eq. 48-50: alpha = exp(alpha_hat), beta = exp(beta_hat), and the step of kappa = exp(kappa_hat).
        alpha, beta, kappa_step = self.linear(h).exp().unsqueeze(-1).chunk(3, dim=1)  # (B, K, 1) each
        kappa = kappa + kappa_step[..., 0]  # eq. 51
        if u is None:
            u = torch.arange(chars.shape[1] + 1, device=h.device, dtype=h.dtype)  # (U + 1,)
        phi = (alpha * torch.exp(-beta * (kappa.unsqueeze(-1) - u) ** 2)).sum(1)  # eq. 46, (B, U + 1)
        w = torch.bmm((phi[:, :-1] * char_mask).unsqueeze(1), chars).squeeze(1)  # eq. 47, (B, V)
        return w, kappa, phi


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
    def _first_layer(self, inputs: torch.Tensor, **kwargs) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """inputs (B, T, 3) -> first-layer outputs (B, T, H) and what the upper layers also see (B, T, 3)."""
        h, _ = _run_cell(self.first, inputs)
        return h, inputs, {}

    def forward(self, inputs: torch.Tensor, **conditioning) -> tuple[tuple[torch.Tensor, ...], dict]:
        """inputs (B, T, 3) normalised offsets, each the pen move before the one to predict
        -> head params for every step (each (B, T, ...)) and extras (the window's phi (B, T, U + 1))."""
        h, skip, extras = self._first_layer(inputs, **conditioning)  # (B, T, H), (B, T, 3 [+ V])
        outs = [self._clip_gradient(h, LSTM_GRADIENT_LIMIT)]
        for lstm in self.upper:
            h, _ = lstm(torch.cat([skip, h], -1))  # (B, T, H)
            outs.append(self._clip_gradient(h, LSTM_GRADIENT_LIMIT))
        params = self.head(self._clip_gradient(torch.cat(outs, -1), OUTPUT_GRADIENT_LIMIT))
        return params, extras

    #: Points the loss is summed over, set by ``handwriting_loss``: the paper's gradient limits are
    #: for a summed loss, and the trainer backpropagates the mean (so the limits are divided by it).
    gradient_scale: float = 1.0

    def _clip_gradient(self, x: torch.Tensor, limit: float) -> torch.Tensor:
        """Clip the derivative of the loss with respect to x elementwise to [-limit, limit]
        (Graves 2013, section 4.2), in units of the summed loss."""
        if self.training and x.requires_grad:
            bound = limit / self.gradient_scale
            x.register_hook(lambda g: g.clamp(-bound, bound))
        return x

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
        zeros = lambda: torch.zeros(batch_size, H, device=device)  # noqa: E731
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


def _run_cell(cell: nn.LSTMCell, inputs: torch.Tensor) -> tuple[torch.Tensor, tuple]:
    B, T, _ = inputs.shape
    h = c = inputs.new_zeros(B, cell.hidden_size)
    outs = []
    for t in range(T):
        h, c = cell(inputs[:, t], (h, c))
        outs.append(h)
    return torch.stack(outs, 1), (h, c)


class WindowTrace:
    """What a synthesis generation did with its window, per stream: read by the writer to detect
    failures (stall, skipped characters, budget) and to draw the attention picture."""

    def __init__(self, record: bool = False):
        self.record = record
        self.phi: list[torch.Tensor] = []  # per step (B, U + 1)
        self.params: list[tuple[torch.Tensor, ...]] = []  # per step, the head's params
        self.state: State = {}


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

    def start(self, batch_size: int, text: str | list[str] | None = None, check_from: list[int] | None = None,
              budget_steps: list[int] | None = None, stall_steps: int | None = None,
              trace: WindowTrace | None = None) -> State:
        """text: one string per stream (or one for all). check_from: per stream, the first
        character the failure checks cover (after a primer's own text). budget_steps: per stream,
        the most steps after priming. stall_steps: steps without the window moving to a new
        character before a stream counts as stalled."""
        if text is None:
            raise InputError("the synthesis network needs text to write")
        texts = [text] * batch_size if isinstance(text, str) else list(text)
        if len(texts) != batch_size:
            raise InputError(f"{len(texts)} texts for {batch_size} streams")
        device = self.offset_std.device
        chars, lengths = self.texts_to_ids(texts)
        onehot, mask = self.one_hot(chars.to(device), lengths.to(device))
        state = self._fresh_state(batch_size)
        B, U = chars.shape
        never = torch.tensor([c == " " for c in self.config.alphabet], device=device)[chars.to(device)]  # (B, U)
        check = torch.tensor(check_from or [0] * B, device=device)
        before_check = torch.arange(U, device=device)[None] < check[:, None]
        state.update(
            kappa=torch.zeros(B, self.config.n_window, device=device), w=torch.zeros(B, len(self.config.alphabet), device=device),
            chars=onehot, char_mask=mask, lengths=lengths.to(device),
            # Failure detection: which characters the window has centred on (argmax of phi).
            visited=never | before_check | (mask == 0), focus=torch.zeros(B, dtype=torch.long, device=device),
            steps=torch.zeros(B, dtype=torch.long, device=device), since_advance=torch.zeros(B, dtype=torch.long, device=device),
            budget=torch.tensor(budget_steps or [10 ** 9] * B, device=device),
            passed=torch.zeros(B, dtype=torch.bool, device=device), completed=torch.zeros(B, dtype=torch.bool, device=device),
            stalled=torch.zeros(B, dtype=torch.bool, device=device), skipped=torch.zeros(B, dtype=torch.bool, device=device),
            over_budget=torch.zeros(B, dtype=torch.bool, device=device),
            positions=torch.arange(U + 1, device=device).expand(B, -1),
            u=torch.arange(U + 1, device=device, dtype=torch.float32).expand(B, 1, -1),  # (B, 1, U + 1)
            outside=torch.arange(U + 1, device=device)[None] >= lengths.to(device)[:, None],  # (B, U + 1) not text
            beyond=torch.arange(U + 1, device=device)[None] > lengths.to(device)[:, None],  # past the end mark
            # A capital can take three times the mean points of a character: stalling is twice that.
            stall_limit=int(stall_steps or max(30, round(6 * self.config.points_per_char))),
            trace=trace or WindowTrace(),
        )
        state["trace"].state = state
        return state

    def step(self, state: State, x: torch.Tensor) -> BivariateGaussianMixture:
        """x (B, 3) normalised offset -> the next offset's distribution; updates the window and
        the failure checks."""
        h, c = self.first(torch.cat([x, state["w"]], -1), (state["h0"], state["c0"]))
        w, kappa, phi = self.window(h, state["kappa"], state["chars"], state["char_mask"], state["u"])
        state.update(h0=h, c0=c, w=w, kappa=kappa)
        dist = self._upper_step(state, h, torch.cat([x, w], -1))
        self._watch(state, x, phi)
        trace = state["trace"]
        if trace.record:
            trace.phi.append(phi)
            trace.params.append((dist.pi_logits, dist.mu, dist.log_sigma, dist.rho, dist.eos_logit))
        return dist

    def _watch(self, state: State, x: torch.Tensor, phi: torch.Tensor) -> None:
        """Graves's stopping rule and the failure checks, after one step with window phi (B, U + 1)."""
        lengths = state["lengths"]
        positions = state["positions"][:, :-1]  # (B, U) character indices
        # Stop when the window has passed the last character (Graves 2013, section 5.3) and the pen is up.
        past_end = phi.gather(1, lengths[:, None])[:, 0]
        inside = phi.masked_fill(state["outside"], float("-inf")).max(-1).values
        state["passed"] |= past_end > inside
        focus = phi.masked_fill(state["beyond"], float("-inf")).argmax(-1)  # (B,)
        previous = state["focus"]
        # Characters the window jumps over in one step are never in focus.
        jumped = (positions > previous[:, None]) & (positions < focus[:, None])
        state["skipped"] |= (jumped & ~state["visited"]).any(-1)
        state["visited"] |= positions == focus[:, None]
        moved_on = focus > previous
        state["focus"] = torch.maximum(focus, previous)
        state["since_advance"] = (state["since_advance"] + 1) * ~moved_on
        state["steps"] += 1
        ended = state["passed"] & (x[:, 2] > 0.5)
        state["completed"] |= ended
        # At the end every character (spaces aside) must have been in focus.
        state["skipped"] |= ended & ~state["visited"].all(-1)
        state["stalled"] |= (state["since_advance"] > state["stall_limit"]) & ~state["passed"]
        state["over_budget"] |= state["steps"] >= state["budget"]

    def prime(self, state: State, inputs: torch.Tensor) -> None:
        """Teacher-force a style primer (B, P, 3) into the state (Graves 2013, section 5.5): the first
        layer and window step by step, the upper layers in one call each. The failure checks start
        after it, with the window where the primer left it."""
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
        state["focus"] = phi.masked_fill(state["beyond"], float("-inf")).argmax(-1)

    def finished(self, state: State) -> torch.Tensor:
        return state["completed"] | state["stalled"] | state["skipped"] | state["over_budget"]


def handwriting_loss(model: HandwritingPrediction, batch: dict) -> torch.Tensor:
    """Mean NLL per pen point (nats) of a batch {"offsets" (B, T, 3) ink units, "mask" (B, T),
    and for synthesis "chars" (B, U), "lengths" (B,)}: teacher forcing with inputs shifted by one."""
    targets = model.encode(batch["offsets"])  # (B, T, 3)
    inputs = torch.cat([model.initial_input(targets.shape[0])[:, None].to(targets), targets[:, :-1]], 1)
    conditioning = {"chars": batch["chars"], "lengths": batch["lengths"]} if model.uses_window else {}
    n_points = batch["mask"].sum()
    model.gradient_scale = float(n_points)
    params, _ = model(inputs, **conditioning)
    return mixture_nll(params, targets, batch["mask"]) / n_points
