"""The LSTM composer: polyphonic piano rolls, one frame per step.

Two heads on one LSTM over time (the input at step t is frame t - 1):

- ``independent``: the plain LSTM with a sigmoid per key, the keys of a frame independent given
  the past (the baseline of the published tables: Bai et al. 2018, Table 4, "LSTM");
- ``nade``: RNN-NADE (Boulanger-Lewandowski, Bengio & Vincent 2012, sec. 3-4): the LSTM's state
  sets the biases of a NADE (Larochelle & Murray 2011) over the 88 keys, so the keys of a frame
  are sampled one after another, low to high, each given the ones below it, and chords are
  modelled jointly:

      b_v(t) = b_v + W_hv h_t,   b_h(t) = b_h + W_hh h_t                      (B-L 2012, eq. 9-10)
      a_i = b_h(t) + sum_{j<i} W[:, j] v_j,  p(v_i = 1 | v_<i) = sigmoid(b_v(t)_i + V_i . sigmoid(a_i))
                                                                             (Larochelle 2011, eq. 2-3)

The frame NLL (``frame_nll``) is -log p(v_t | v_<t) in nats, summed over the 88 keys: the
measure of Bai et al. 2018 (JSB Chorales: LSTM 8.45, TCN 8.10) and Boulanger-Lewandowski 2012
(RNN-NADE about 5.6), reported as a mean over frames.

Sampling runs through the engine (``initial_input`` / ``start`` / ``step`` / ``prime``). Two guards,
set in ``start``: a key held longer than ``max_held_steps`` is released, and after
``max_silent_steps`` silent frames every key's logit is raised by ``SILENCE_BOOST`` per further
silent frame until something sounds.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from synth.errors import InputError
from synth.sampling.distributions import AutoregressiveBernoulli, Bernoulli, Distribution
from synth.sampling.engine import State

SILENCE_BOOST = 2.0  # logit added per silent frame beyond the guard's limit
RELEASE_LOGIT = -30.0  # a key the stuck-note guard releases


@dataclasses.dataclass
class ComposerConfig:
    head: Literal["nade", "independent"] = "nade"
    n_keys: int = 88  # MIDI 21 (A0) .. 108 (C8)
    hidden_size: int = 256  # time LSTM
    n_layers: int = 2
    nade_hidden: int = 150  # NADE hidden units per key (RNN-NADE used 150)
    dropout: float = 0.3
    input_dropout: float = 0.0  # dropout on the previous frame fed to the LSTM
    steps_per_quarter: int = 1  # the grid the model was trained on
    beats_per_bar: int = 4

    def __post_init__(self):
        problems = []
        if self.head not in ("nade", "independent"):
            problems.append(f"head must be 'nade' or 'independent', got {self.head!r}")
        for name in ("n_keys", "hidden_size", "n_layers", "nade_hidden", "steps_per_quarter", "beats_per_bar"):
            if not 1 <= getattr(self, name) <= 4096:
                problems.append(f"{name} must be from 1 to 4096, got {getattr(self, name)}")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.input_dropout < 1.0):
            problems.append("dropout and input_dropout must be in [0, 1)")
        if problems:
            raise InputError("invalid composer config: " + "; ".join(problems))

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_quarter * self.beats_per_bar


class NADEHead(nn.Module):
    """A NADE over the keys of one frame whose biases come from the LSTM state (RNN-NADE)."""

    def __init__(self, config: ComposerConfig):
        super().__init__()
        K, H, N = config.n_keys, config.hidden_size, config.nade_hidden
        self.visible_bias = nn.Linear(H, K)  # b_v + W_hv h_t
        self.hidden_bias = nn.Linear(H, N)  # b_h + W_hh h_t
        self.W = nn.Parameter(torch.randn(N, K) * 0.05)  # key j -> hidden, used by keys above j
        self.V = nn.Parameter(torch.randn(K, N) * 0.05)  # hidden -> key i

    def logits(self, h: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (..., K) of every key given the keys below it in ``frames`` (..., K)
        and the LSTM state h (..., H), all keys at once.

        A frame holds few notes, so a_i (the hidden input of key i) takes only as many distinct
        values as there are notes, plus one: a_i = b_h + W[:, j_1] + ... + W[:, j_m] for the m notes
        j_1 < ... < j_m below i. Those m + 1 activations are computed once per frame, and each key
        reads the one of its segment: exactly the NADE, at a fraction of the (..., N, K) cost.
        """
        lead, K = frames.shape[:-1], frames.shape[-1]
        v = frames.reshape(-1, K)  # (F, K), F = frames in the batch
        n_notes = int(v.sum(-1).max()) if v.numel() else 0
        order = torch.sort(v, dim=-1, descending=True, stable=True)  # the notes first, low to high
        notes = order.indices[:, :n_notes]  # (F, M)
        present = order.values[:, :n_notes].unsqueeze(-1)  # (F, M, 1): 0 where a frame has fewer notes
        steps = self.W.t()[notes] * present  # (F, M, N): W[:, j_k]
        a = self.hidden_bias(h.reshape(-1, h.shape[-1])).unsqueeze(1)  # (F, 1, N)
        a = torch.cat([a, a + steps.cumsum(1)], dim=1)  # (F, M + 1, N): activation after 0..M notes
        per_segment = torch.sigmoid(a) @ self.V.t()  # (F, M + 1, K)
        segment = (v.cumsum(-1) - v).long()  # (F, K): notes strictly below key i
        hidden_term = per_segment.gather(1, segment.unsqueeze(1)).squeeze(1)  # (F, K)
        return (self.visible_bias(h.reshape(-1, h.shape[-1])) + hidden_term).reshape(*lead, K)

    def conditional(self, h: torch.Tensor, adjust):
        """The sequential form for sampling: a function (previous key's value (B,), i) -> logit of key i
        (B,), keeping the running activation a_i; ``adjust(logit, i)`` applies the guards."""
        visible = self.visible_bias(h)  # (B, K)
        state = {"a": self.hidden_bias(h)}  # (B, N)

        def logit(previous: torch.Tensor, i: int) -> torch.Tensor:
            if i > 0:
                state["a"] = state["a"] + previous.to(h.dtype).unsqueeze(-1) * self.W[:, i - 1]
            return adjust(visible[:, i] + torch.sigmoid(state["a"]) @ self.V[i], i)  # (B,)

        return logit


class Composer(nn.Module):
    """LSTM over frames with an independent-sigmoid or NADE head (see the module doc)."""

    kind = "composer"
    config_class = ComposerConfig

    def __init__(self, config: ComposerConfig):
        super().__init__()
        self.config = config
        K, H = config.n_keys, config.hidden_size
        self.lstm = nn.LSTM(K, H, config.n_layers, batch_first=True, dropout=config.dropout if config.n_layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.input_dropout = nn.Dropout(config.input_dropout)
        self.head = NADEHead(config) if config.head == "nade" else nn.Linear(H, K)

    # ----- teacher forcing -----------------------------------------------------------------------

    def shift(self, rolls: torch.Tensor) -> torch.Tensor:
        """rolls (B, T, K) -> inputs (B, T, K): a silent frame, then the rolls delayed by one."""
        return torch.cat([torch.zeros_like(rolls[:, :1]), rolls[:, :-1]], dim=1)

    def hidden(self, rolls: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.input_dropout(self.shift(rolls)))  # (B, T, H)
        return self.dropout(h)

    def logits(self, rolls: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, K) of each key of frame t given frames < t (and, for NADE, the keys below)."""
        h = self.hidden(rolls)
        return self.head.logits(h, rolls) if self.config.head == "nade" else self.head(h)

    def frame_nll(self, rolls: torch.Tensor) -> torch.Tensor:
        """-log p(frame t | frames < t) in nats, summed over keys: (B, T)."""
        return F.binary_cross_entropy_with_logits(self.logits(rolls), rolls, reduction="none").sum(-1)

    # ----- the engine's incremental protocol -----------------------------------------------------

    def initial_input(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, self.config.n_keys, device=self.head_device)

    @property
    def head_device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def n_uniforms(self) -> int:
        return self.config.n_keys

    def check_inputs(self, values: torch.Tensor) -> None:
        if values.dim() != 3 or values.shape[-1] != self.config.n_keys:
            raise InputError(f"a primer must be piano-roll frames (batch, steps, {self.config.n_keys}), "
                             f"got shape {tuple(values.shape)}")
        if values.numel() and not torch.all((values == 0) | (values == 1)):
            raise InputError("a primer's piano-roll frames must hold only 0 (key up) and 1 (key down)")

    def start(self, batch_size: int, max_silent_steps: int = 0, max_held_steps: int = 0) -> State:
        """State for ``batch_size`` streams; the guards are off when their limit is 0."""
        device, L, H = self.head_device, self.config.n_layers, self.config.hidden_size
        return {"h": torch.zeros(batch_size, L, H, device=device), "c": torch.zeros(batch_size, L, H, device=device),
                "held": torch.zeros(batch_size, self.config.n_keys, dtype=torch.long, device=device),
                "silent": torch.zeros(batch_size, dtype=torch.long, device=device),
                "max_silent_steps": int(max_silent_steps), "max_held_steps": int(max_held_steps)}

    def _observe(self, state: State, frame: torch.Tensor) -> None:
        """Count, per stream, how long each key has been held and how long all have been silent."""
        on = frame > 0.5  # (B, K)
        state["held"] = torch.where(on, state["held"] + 1, torch.zeros_like(state["held"]))
        state["silent"] = torch.where(on.any(-1), torch.zeros_like(state["silent"]), state["silent"] + 1)

    def _lstm(self, state: State, inputs: torch.Tensor) -> torch.Tensor:
        """Run the LSTM over inputs (B, P, K) from the state's (h, c); returns the last output (B, H)."""
        hc = (state["h"].transpose(0, 1).contiguous(), state["c"].transpose(0, 1).contiguous())  # (L, B, H)
        out, (h, c) = self.lstm(inputs.float(), hc)
        state["h"], state["c"] = h.transpose(0, 1), c.transpose(0, 1)
        return out[:, -1]

    def prime(self, state: State, inputs: torch.Tensor) -> None:
        """Teacher-force inputs (B, P, K) in one LSTM call."""
        if inputs.shape[1] == 0:
            return
        self._lstm(state, inputs)
        for t in range(inputs.shape[1]):
            self._observe(state, inputs[:, t])

    def _guard(self, state: State):
        """(shift (B, K) added to the logits, release mask (B, K)) from the guards."""
        K = self.config.n_keys
        shift = torch.zeros(state["silent"].shape[0], K, device=state["silent"].device)
        if state["max_silent_steps"] > 0:
            excess = (state["silent"] - state["max_silent_steps"] + 1).clamp(min=0)  # (B,)
            shift = shift + SILENCE_BOOST * excess.unsqueeze(-1).float()
        release = state["held"] >= state["max_held_steps"] if state["max_held_steps"] > 0 else torch.zeros_like(shift, dtype=torch.bool)
        return shift, release

    def step(self, state: State, x: torch.Tensor) -> Distribution:
        """Advance by the frame x (B, K); the next frame's distribution."""
        self._observe(state, x)
        h = self._lstm(state, x.unsqueeze(1))  # (B, H)
        shift, release = self._guard(state)
        if self.config.head == "independent":
            logits = torch.where(release, torch.full_like(shift, RELEASE_LOGIT), self.head(h) + shift)
            return Bernoulli(logits)

        def adjust(logit: torch.Tensor, i: int) -> torch.Tensor:
            return torch.where(release[:, i], torch.full_like(logit, RELEASE_LOGIT), logit + shift[:, i])

        return AutoregressiveBernoulli(self.head.conditional(h, adjust), self.config.n_keys, x.shape[0])


def composer_loss(model: Composer, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean frame NLL over the real (unpadded) frames: nats per frame, summed over keys."""
    nll = model.frame_nll(batch["rolls"])  # (B, T)
    return (nll * batch["mask"]).sum() / batch["mask"].sum()


@torch.no_grad()
def evaluate(model: Composer, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Held-out frame NLL (nats, summed over keys, mean over frames) and frame accuracy
    (Bay et al. 2009, as used by Boulanger-Lewandowski 2012: sum TP / sum (TP + FP + FN) over all
    frames) of the model's prediction of each frame given the true past: keys with p > 0.5 for
    the independent head; for NADE the greedy chain (each key on when p > 0.5 given the keys
    below it as predicted)."""
    model.eval()
    total_nll, frames, tp, fp, fn = 0.0, 0.0, 0.0, 0.0, 0.0
    for batch in batches:
        rolls, mask = batch["rolls"], batch["mask"]
        total_nll += float((model.frame_nll(rolls) * mask).sum())
        frames += float(mask.sum())
        predicted = predict_frames(model, rolls)  # (B, T, K)
        m = mask.unsqueeze(-1)
        tp += float((predicted * rolls * m).sum())
        fp += float((predicted * (1 - rolls) * m).sum())
        fn += float(((1 - predicted) * rolls * m).sum())
    return {"frame_nll": total_nll / frames, "frame_accuracy": tp / max(1.0, tp + fp + fn), "frames": int(frames)}


@torch.no_grad()
def predict_frames(model: Composer, rolls: torch.Tensor) -> torch.Tensor:
    """The model's most likely next frame at every step given the true past: (B, T, K) of 0/1."""
    h = model.hidden(rolls)  # (B, T, H)
    if model.config.head == "independent":
        return (model.head(h) > 0).float()
    B, T, H = h.shape
    flat = h.reshape(B * T, H)
    logit = model.head.conditional(flat, lambda value, i: value)
    keys, previous = [], torch.zeros(B * T)
    for i in range(model.config.n_keys):
        previous = (logit(previous, i) > 0).float()
        keys.append(previous)
    return torch.stack(keys, -1).reshape(B, T, -1)
