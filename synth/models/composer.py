"""The LSTM composer: polyphonic piano rolls, one frame per step.

Two heads on one LSTM over time (the input at step t is frame t - 1):

- ``independent``: the plain LSTM with a sigmoid per key, the keys of a frame independent given
  the past (the baseline of the published tables: Bai et al. 2018, Table 4, "LSTM");
- ``nade``: RNN-NADE (Boulanger-Lewandowski, Bengio & Vincent 2012, sec. 3-4): the LSTM's state
  sets the biases of a NADE (Larochelle & Murray 2011) over the 88 keys, so the keys of a frame
  are sampled one after another in a fixed order (low to high, or high to low: ``nade_order``),
  each given the ones before it, and chords are modelled jointly:

      b_v(t) = b_v + W_hv h_t,   b_h(t) = b_h + W_hh h_t                      (B-L 2012, eq. 9-10)
      a_i = b_h(t) + sum_{j<i} W[:, j] v_j,  p(v_i = 1 | v_<i) = sigmoid(b_v(t)_i + V_i . sigmoid(a_i))
                                                                             (Larochelle 2011, eq. 2-3)

  with i, j positions in the order (W and V are indexed by position, b_v by key).

The frame NLL (``frame_nll``) is -log p(v_t | v_<t) in nats, summed over the 88 keys: the
measure of Bai et al. 2018 and Boulanger-Lewandowski 2012, reported as a mean over frames.

Sampling runs through the engine (``initial_input`` / ``start`` / ``step`` / ``prime``). A frame
of the NADE is drawn by ``NADEFrame``: a_i changes only where a note sounds, so the logits of
every key up to the next note come from one product with V; the frame costs (notes + 1) such
products instead of 88 (``sample``), and gives exactly the samples of the key-by-key reference
(``sample_key_by_key``). Keys outside ``lowest_key`` .. ``highest_key`` (the range the training
data sounds) are never sampled; the NLL still covers all 88. Two guards, set in ``start``: a key
held longer than ``max_held_steps`` is released, and after ``max_silent_steps`` silent frames
every key's logit is raised by ``SILENCE_BOOST`` per further silent frame until something sounds.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import torch
import torch.nn as nn
import torch.nn.functional as F

from synth.errors import InputError
from synth.sampling.distributions import Bernoulli, Distribution
from synth.sampling.engine import State

SILENCE_BOOST = 2.0  # logit added per silent frame beyond the guard's limit
OFF_LOGIT = -1e4  # a key that may not sound: sigmoid gives exactly 0 in float32, yet the NLL stays finite
NADE_ORDERS = ("ascending", "descending")
EVAL_CHUNK_FRAMES = 8192  # frames scored at once without gradients (a (frames, notes + 1, N) activation)


@dataclasses.dataclass
class ComposerConfig:
    head: Literal["nade", "independent"] = "nade"
    n_keys: int = 88  # MIDI 21 (A0) .. 108 (C8)
    hidden_size: int = 256  # time LSTM
    n_layers: int = 2
    nade_hidden: int = 150  # NADE hidden units per key (RNN-NADE used 150)
    nade_order: Literal["ascending", "descending"] = "ascending"  # the keys of a frame, low to high or high to low
    dropout: float = 0.3
    input_dropout: float = 0.0  # dropout on the previous frame fed to the LSTM
    steps_per_quarter: int = 1  # the grid the model was trained on
    beats_per_bar: int = 4
    lowest_key: int = 0  # the keys sampling may sound (columns, 0 = MIDI 21): the training data's range
    highest_key: int = 87

    def __post_init__(self):
        problems = []
        if self.head not in ("nade", "independent"):
            problems.append(f"head must be 'nade' or 'independent', got {self.head!r}")
        if self.nade_order not in NADE_ORDERS:
            problems.append(f"nade_order must be one of {NADE_ORDERS}, got {self.nade_order!r}")
        for name in ("n_keys", "hidden_size", "n_layers", "nade_hidden", "steps_per_quarter", "beats_per_bar"):
            if not 1 <= getattr(self, name) <= 4096:
                problems.append(f"{name} must be from 1 to 4096, got {getattr(self, name)}")
        if not 0 <= self.lowest_key <= self.highest_key < self.n_keys:
            problems.append(f"the key range must satisfy 0 <= lowest_key <= highest_key < n_keys, "
                            f"got {self.lowest_key} .. {self.highest_key}")
        if not (0.0 <= self.dropout < 1.0 and 0.0 <= self.input_dropout < 1.0):
            problems.append("dropout and input_dropout must be in [0, 1)")
        if problems:
            raise InputError("invalid composer config: " + "; ".join(problems))

    @property
    def steps_per_bar(self) -> int:
        return self.steps_per_quarter * self.beats_per_bar


@dataclasses.dataclass(frozen=True)
class NADEFrame(Distribution):
    """The NADE's distribution over one frame for a batch of streams, with the LSTM's biases and
    the guards applied. Positions p = 0 .. K - 1 follow ``order`` (position -> key); uniforms and
    results are indexed by key.

    visible: b_v(t) plus the guards' shift, by key (B, K); hidden: b_h(t) (B, N);
    W (N, K), V (K, N): the NADE's weights by position; allowed (B, K) bool: keys that may sound.
    """

    visible: torch.Tensor
    hidden: torch.Tensor
    W: torch.Tensor
    V: torch.Tensor
    order: torch.Tensor
    allowed: torch.Tensor
    temperature: float = 1.0
    is_greedy: bool = False
    supported_policies = ("greedy", "temperature")

    @property
    def n_uniforms(self) -> int:  # type: ignore[override]
        return self.visible.shape[-1]

    def tempered(self, temperature: float) -> "NADEFrame":
        return dataclasses.replace(self, temperature=self.temperature * temperature)

    def _logits(self, visible: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
        """Logits (B, K) by position of every key as if a (B, N) were its a_i (Larochelle eq. 3)."""
        return (visible + torch.sigmoid(a) @ self.V.t()) / self.temperature

    def _on(self, logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """Which keys sound (B, K) bool, by position."""
        return logits > 0 if self.is_greedy else u < torch.sigmoid(logits)

    def _by_position(self, u: torch.Tensor):
        return self.visible[:, self.order], self.allowed[:, self.order], u.to(self.visible.dtype)[:, self.order]

    def sample_key_by_key(self, u: torch.Tensor) -> torch.Tensor:
        """The obvious reference: for each position in turn, a_i from the notes before it, then key i."""
        visible, allowed, u = self._by_position(u)
        B, K = visible.shape
        frame = torch.zeros(B, K, dtype=visible.dtype, device=visible.device)  # by position
        a = self.hidden
        for i in range(K):
            if i > 0:
                a = a + frame[:, i - 1:i] * self.W[:, i - 1]  # (B, N): a_i = a_{i-1} + W[:, i-1] v_{i-1}
            on = self._on(self._logits(visible, a), u)[:, i] & allowed[:, i]  # (B,)
            frame[:, i] = on.to(frame.dtype)
        return frame[:, torch.argsort(self.order)]  # by key

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        """The same frames as ``sample_key_by_key``, with (notes + 1) products instead of K: between
        two notes a_i is constant, so one product gives the logits of every key up to the next note."""
        visible, allowed, u = self._by_position(u)
        B, K = visible.shape
        positions = torch.arange(K, device=visible.device)
        frame = torch.zeros(B, K, dtype=visible.dtype, device=visible.device)
        start = torch.zeros(B, 1, dtype=torch.long, device=visible.device)  # first undecided position
        a = self.hidden  # (B, N)
        while True:
            on = self._on(self._logits(visible, a), u) & allowed & (positions >= start)  # (B, K)
            found = on.any(-1)  # (B,) streams whose next note is in this segment
            if not bool(found.any()):
                break
            note = torch.where(found, on.float().argmax(-1), K)  # (B,) position of the next note
            rows = found.nonzero().squeeze(-1)
            frame[rows, note[rows]] = 1.0
            # a_i + 1 * W[:, note] where a note sounds, + 0 * W elsewhere: the reference's sums exactly.
            column = self.W.t()[note.clamp(max=K - 1)]  # (B, N)
            a = a + found.to(column.dtype).unsqueeze(-1) * column
            start = torch.where(found, note + 1, K).unsqueeze(-1)
        return frame[:, torch.argsort(self.order)]

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) (B,) of frames x (B, K) by key; -inf where x sounds a key that may not sound."""
        visible, allowed, _ = self._by_position(torch.zeros_like(self.visible))
        v = x.to(visible.dtype)[:, self.order]
        a, total = self.hidden, torch.zeros(v.shape[0], dtype=visible.dtype, device=visible.device)
        for i in range(v.shape[1]):
            if i > 0:
                a = a + v[:, i - 1:i] * self.W[:, i - 1]
            logit = self._logits(visible, a)[:, i]
            term = -F.binary_cross_entropy_with_logits(logit, v[:, i], reduction="none")
            total = total + torch.where(allowed[:, i], term, torch.where(v[:, i] > 0, -torch.inf, 0.0))
        return total


class NADEHead(nn.Module):
    """A NADE over the keys of one frame whose biases come from the LSTM state (RNN-NADE)."""

    def __init__(self, config: ComposerConfig):
        super().__init__()
        K, H, N = config.n_keys, config.hidden_size, config.nade_hidden
        self.visible_bias = nn.Linear(H, K)  # b_v + W_hv h_t, by key
        self.hidden_bias = nn.Linear(H, N)  # b_h + W_hh h_t
        self.W = nn.Parameter(torch.randn(N, K) * 0.05)  # position j -> hidden, used by the positions after j
        self.V = nn.Parameter(torch.randn(K, N) * 0.05)  # hidden -> position i
        order = torch.arange(K) if config.nade_order == "ascending" else torch.arange(K - 1, -1, -1)
        self.register_buffer("order", order, persistent=False)  # position -> key

    def logits(self, h: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Teacher-forced logits (..., K) by key of every key given the keys before it in ``frames``
        (..., K) and the LSTM state h (..., H), all keys at once.

        A frame holds few notes, so a_i (the hidden input at position i) takes only as many distinct
        values as there are notes, plus one: a_i = b_h + W[:, j_1] + ... + W[:, j_m] for the m notes
        j_1 < ... < j_m before i. Those m + 1 activations are computed once per frame, and each key
        reads the one of its segment: exactly the NADE, at a fraction of the (..., N, K) cost.
        """
        lead, K = frames.shape[:-1], frames.shape[-1]
        v = frames.reshape(-1, K)[:, self.order]  # (F, K) by position, F = frames in the batch
        flat_h = h.reshape(-1, h.shape[-1])
        if not torch.is_grad_enabled() and len(v) > EVAL_CHUNK_FRAMES:  # held-out sets: bounded memory
            return torch.cat([self._logits_by_key(flat_h[i:i + EVAL_CHUNK_FRAMES], v[i:i + EVAL_CHUNK_FRAMES])
                              for i in range(0, len(v), EVAL_CHUNK_FRAMES)]).reshape(*lead, K)
        return self._logits_by_key(flat_h, v).reshape(*lead, K)

    def _logits_by_key(self, h: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """``logits`` for frames v (F, K) by position and states h (F, H): (F, K) by key."""
        n_notes = int(v.sum(-1).max()) if v.numel() else 0
        sorted_v = torch.sort(v, dim=-1, descending=True, stable=True)  # the notes first, in order
        notes = sorted_v.indices[:, :n_notes]  # (F, M)
        present = sorted_v.values[:, :n_notes].unsqueeze(-1)  # (F, M, 1): 0 where a frame has fewer notes
        steps = self.W.t()[notes] * present  # (F, M, N): W[:, j_k]
        a = self.hidden_bias(h).unsqueeze(1)  # (F, 1, N)
        a = torch.cat([a, a + steps.cumsum(1)], dim=1)  # (F, M + 1, N): activation after 0..M notes
        per_segment = torch.sigmoid(a) @ self.V.t()  # (F, M + 1, K)
        segment = (v.cumsum(-1) - v).long()  # (F, K): notes strictly before position i
        hidden_term = per_segment.gather(1, segment.unsqueeze(1)).squeeze(1)  # (F, K) by position
        hidden_term = hidden_term[:, torch.argsort(self.order)]  # by key
        return self.visible_bias(h) + hidden_term

    def frame(self, h: torch.Tensor, shift: torch.Tensor, allowed: torch.Tensor) -> NADEFrame:
        """The distribution of the next frame from the LSTM state h (B, H)."""
        return NADEFrame(self.visible_bias(h) + shift, self.hidden_bias(h), self.W, self.V, self.order, allowed)


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
        in_range = torch.zeros(K, dtype=torch.bool)
        in_range[config.lowest_key:config.highest_key + 1] = True
        self.register_buffer("in_range", in_range, persistent=False)  # (K,) keys sampling may sound

    # ----- teacher forcing -----------------------------------------------------------------------

    def shift(self, rolls: torch.Tensor) -> torch.Tensor:
        """rolls (B, T, K) -> inputs (B, T, K): a silent frame, then the rolls delayed by one."""
        return torch.cat([torch.zeros_like(rolls[:, :1]), rolls[:, :-1]], dim=1)

    def hidden(self, rolls: torch.Tensor) -> torch.Tensor:
        h, _ = self.lstm(self.input_dropout(self.shift(rolls)))  # (B, T, H)
        return self.dropout(h)

    def logits(self, rolls: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, K) of each key of frame t given frames < t (and, for NADE, the keys before it)."""
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

    def _guard(self, state: State) -> tuple[torch.Tensor, torch.Tensor]:
        """(shift (B, K) added to the logits, allowed (B, K): in range and not released by the guard)."""
        K = self.config.n_keys
        shift = torch.zeros(state["silent"].shape[0], K, device=state["silent"].device)
        if state["max_silent_steps"] > 0:
            excess = (state["silent"] - state["max_silent_steps"] + 1).clamp(min=0)  # (B,)
            shift = shift + SILENCE_BOOST * excess.unsqueeze(-1).float()
        allowed = self.in_range.expand_as(shift)
        if state["max_held_steps"] > 0:
            allowed = allowed & (state["held"] < state["max_held_steps"])
        return shift, allowed

    def step(self, state: State, x: torch.Tensor) -> Distribution:
        """Advance by the frame x (B, K); the next frame's distribution."""
        self._observe(state, x)
        h = self._lstm(state, x.unsqueeze(1))  # (B, H)
        shift, allowed = self._guard(state)
        if self.config.head == "independent":
            return Bernoulli(torch.where(allowed, self.head(h) + shift, torch.full_like(shift, OFF_LOGIT)))
        return self.head.frame(h, shift, allowed)


def composer_loss(model: Composer, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Mean frame NLL over the real (unpadded) frames: nats per frame, summed over keys."""
    nll = model.frame_nll(batch["rolls"])  # (B, T)
    return (nll * batch["mask"]).sum() / batch["mask"].sum()


@torch.no_grad()
def evaluate(model: Composer, batches: list[dict[str, torch.Tensor]]) -> dict[str, float]:
    """Held-out frame NLL (nats, summed over keys, mean over frames; also without each piece's first
    frame, as Bai et al. 2018 count) and frame accuracy
    (Bay et al. 2009, as used by Boulanger-Lewandowski 2012: sum TP / sum (TP + FP + FN) over all
    frames) of the model's prediction of each frame given the true past: keys with p > 0.5 for
    the independent head; for NADE the greedy chain (each key on when p > 0.5 given the keys
    before it as predicted)."""
    model.eval()
    total_nll, frames, later_nll, later_frames, tp, fp, fn = 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    for batch in batches:
        rolls, mask = batch["rolls"], batch["mask"]
        nll = model.frame_nll(rolls) * mask  # (B, T)
        total_nll += float(nll.sum())
        frames += float(mask.sum())
        later_nll += float(nll[:, 1:].sum())  # pieces start at frame 0 of a batch
        later_frames += float(mask[:, 1:].sum())
        predicted = predict_frames(model, rolls)  # (B, T, K)
        m = mask.unsqueeze(-1)
        tp += float((predicted * rolls * m).sum())
        fp += float((predicted * (1 - rolls) * m).sum())
        fn += float(((1 - predicted) * rolls * m).sum())
    return {"frame_nll": total_nll / frames, "frame_accuracy": tp / max(1.0, tp + fp + fn), "frames": int(frames),
            # Bai et al. 2018 score frames 2..T of each piece (their code predicts data[1:] from data[:-1]).
            "frame_nll_from_second": later_nll / max(1.0, later_frames)}


@torch.no_grad()
def predict_frames(model: Composer, rolls: torch.Tensor) -> torch.Tensor:
    """The model's most likely next frame at every step given the true past: (B, T, K) of 0/1
    (every key may sound: the sampling range does not apply to prediction)."""
    h = model.hidden(rolls)  # (B, T, H)
    if model.config.head == "independent":
        return (model.head(h) > 0).float()
    B, T, H = h.shape
    flat = h.reshape(B * T, H)
    frame = model.head.frame(flat, torch.zeros(B * T, model.config.n_keys, device=flat.device),
                             torch.ones(B * T, model.config.n_keys, dtype=torch.bool, device=flat.device))
    return frame.greedy().sample(torch.zeros(B * T, model.config.n_keys, device=flat.device)).reshape(B, T, -1)
