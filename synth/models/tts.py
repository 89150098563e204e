"""Text to log-mel spectrogram, read with Graves's Gaussian window: the Char2Wav / Tacotron recipe
(Sotelo et al. 2017; Wang et al. 2017; Shen et al. 2018) with GMM attention (Graves 2013, eq. 46-51;
Battenberg et al. 2020), small enough to train on one CPU thread.

Choices, and why:
- Characters or phonemes (``phonemes``: "" or an espeak-ng language): the corpus (Kathleen, the
  CMU ARCTIC prompts) is written-out prose in lower case after ``synth.tts.normalise``. A
  bidirectional encoder over characters must learn English spelling-to-sound rules from 74
  minutes of speech; trained 10,000 steps that way, free-running speech through Griffin-Lim was
  heard at 0.85 word error rate. With espeak-ng's phonemes (``synth.models.phonemes``) the text
  already says how it sounds, and the network only learns how each sound looks.
- Encoder: character embedding -> 3 convolutions (kernel 5: each character sees its neighbours,
  as in Tacotron 2) -> a bidirectional LSTM. Its outputs are the memory the window reads.
- Attention: the ONE ``GaussianWindow`` shared with handwriting. Its location only moves
  forward, so it cannot loop back, and it is driven by the attention LSTM's state alone
  (no content term), which is why GMM attention generalises to longer text than it saw.
- Decoder: Tacotron 2's two LSTMs. The attention LSTM (input: prenet of the previous frame and
  the previous window) runs step by step with zoneout 0.1 (Krueger et al. 2016) on its state; the
  decoder LSTM (input: attention state and window) does not feed back into the attention, so in
  training it runs as one ``nn.LSTM`` call over the whole sequence (several times faster on a CPU
  than a step loop), regularised with dropout on its output instead of zoneout.
- Prenet: two ReLU layers with dropout 0.5 kept on at inference (Tacotron): the bottleneck makes
  the decoder rely on the text rather than copy the previous frame, and its noise is the only
  randomness of generation (drawn from a generator seeded by the request, so a seed repeats).
- Reduction factor r = 2 (frames per decoder step): halves the steps to train and run, and
  Tacotron found larger r aligns sooner; at r = 2 the window still moves less than one
  character per step on this corpus (about 4 frames per character), so the failure checks can
  see every jump. No postnet: a whole-utterance convolution would stop frames streaming out.
- Output: log-mel frames standardised per band (statistics of the training set, stored as
  buffers), trained with L1, i.e. the mean of a Laplace with fixed scale, sampled at its location
  (L1 gives less blurred spectra than L2 and ignores the odd noisy frame); the end-of-speech
  output is a logistic trained with binary cross-entropy, up-weighted for the rare positives.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from synth.audio import MelFeatures
from synth.errors import InputError
from synth.models.attention import GaussianWindow, texts_per_stream
from synth.models.characters import character_ids, check_vocabulary
from synth.sampling.distributions import Distribution

State = dict[str, Any]

#: The characters the model reads: the marks and letters of the Kathleen / CMU ARCTIC transcripts,
#: lower-cased (``synth.tts.normalise`` writes any text into them). Index 0, the space, also pads
#: under a mask.
CHARACTERS = " ',-.;abcdefghijklmnopqrstuvwxyz"


@dataclasses.dataclass
class TextToMelConfig:
    characters: str = CHARACTERS  # the symbols the window reads: letters, or PHONEMES with ``phonemes``
    #: "" reads the normalised text's characters; an espeak-ng language (e.g. "en-us") reads its phonemes
    phonemes: str = ""
    #: synth.audio.MelFeatures fields: the vocoder's features exactly (checked against its checkpoint)
    mel: dict = dataclasses.field(default_factory=lambda: dataclasses.asdict(MelFeatures()))
    embedding_size: int = 128
    encoder_convs: int = 3
    encoder_kernel: int = 5
    encoder_size: int = 128  # bidirectional LSTM output (half each way)
    prenet_sizes: tuple[int, ...] = (128, 64)
    prenet_dropout: float = 0.5  # kept on at inference
    attention_size: int = 256  # attention LSTM
    decoder_size: int = 256  # decoder LSTM
    n_window: int = 5  # K Gaussians
    reduction: int = 2  # frames per decoder step (r)
    zoneout: float = 0.1  # attention LSTM
    dropout: float = 0.1  # encoder convolutions and decoder output
    frames_per_char: float = 4.0  # corpus mean: the window's initial speed and the step budget
    stop_weight: float = 5.0  # weight of a positive end-of-speech target in its cross-entropy
    max_chars: int = 400  # longest text the model is asked to read at once

    def __post_init__(self):
        problems = []
        self.prenet_sizes = tuple(int(v) for v in self.prenet_sizes)
        for name in ("embedding_size", "encoder_convs", "encoder_size", "attention_size", "decoder_size", "n_window",
                     "reduction", "max_chars"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be a whole number of at least 1, got {getattr(self, name)!r}")
        if self.encoder_size % 2:
            problems.append(f"encoder_size must be even (half each direction), got {self.encoder_size}")
        if self.encoder_kernel < 1 or self.encoder_kernel % 2 == 0:
            problems.append(f"encoder_kernel must be odd, got {self.encoder_kernel}")
        if not self.prenet_sizes or min(self.prenet_sizes) < 1:
            problems.append(f"prenet_sizes must be positive layer widths, got {self.prenet_sizes}")
        for name in ("prenet_dropout", "zoneout", "dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.frames_per_char > 0 or not self.stop_weight > 0:
            problems.append("frames_per_char and stop_weight must be positive")
        if not self.characters or len(set(self.characters)) != len(self.characters):
            problems.append("characters must be a non-empty string of distinct characters")
        if not isinstance(self.phonemes, str) or (self.phonemes and not self.phonemes.replace("-", "").isalnum()):
            problems.append(f"phonemes must be '' (characters) or an espeak-ng language such as 'en-us', "
                            f"got {self.phonemes!r}")
        try:
            MelFeatures(**self.mel)
        except TypeError as error:
            problems.append(f"mel must hold synth.audio.MelFeatures fields: {error}")
        if problems:
            raise InputError("; ".join(problems))

    @property
    def mel_features(self) -> MelFeatures:
        return MelFeatures(**self.mel)

    @property
    def n_mels(self) -> int:
        return self.mel_features.n_mels

    @property
    def frame_size(self) -> int:
        """Values of one decoder step's output: r frames and the end-of-speech flag."""
        return self.reduction * self.n_mels + 1


class Prenet(nn.Module):
    """Tacotron's prenet: ReLU layers with dropout that stays on at inference."""

    def __init__(self, in_features: int, sizes: tuple[int, ...], dropout: float):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip((in_features, *sizes[:-1]), sizes))
        self.dropout = dropout

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """x (..., n_mels) -> (..., sizes[-1]); dropout masks from ``generator`` when given (generation),
        from a fixed seed in eval mode (so a validation loss does not wander with the masks), else
        from torch's generator (training, which the trainer seeds per step)."""
        if generator is None and not self.training:
            generator = torch.Generator(device=x.device).manual_seed(0)
        for layer in self.layers:
            x = F.relu(layer(x))
            if self.dropout:
                if generator is None:
                    x = F.dropout(x, self.dropout, training=True)
                else:
                    keep = torch.rand(x.shape, generator=generator, device=x.device) >= self.dropout
                    x = x * keep / (1.0 - self.dropout)
        return x


class CharacterEncoder(nn.Module):
    """Characters (B, U) -> memory (B, U, D): embedding, convolutions, bidirectional LSTM."""

    def __init__(self, config: TextToMelConfig):
        super().__init__()
        E = config.embedding_size
        self.embedding = nn.Embedding(len(config.characters), E)
        self.convs = nn.ModuleList(nn.Conv1d(E, E, config.encoder_kernel, padding=config.encoder_kernel // 2)
                                   for _ in range(config.encoder_convs))
        self.norms = nn.ModuleList(nn.LayerNorm(E) for _ in range(config.encoder_convs))
        self.lstm = nn.LSTM(E, config.encoder_size // 2, batch_first=True, bidirectional=True)
        self.dropout = config.dropout

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        lengths = lengths.to(chars.device)
        mask = (torch.arange(chars.shape[1], device=chars.device) < lengths[:, None])[..., None]  # (B, U, 1)
        x = self.embedding(chars) * mask  # (B, U, E)
        for conv, norm in zip(self.convs, self.norms):
            # Padding is zeroed before every convolution, so a text reads the same alone or in a batch.
            x = F.dropout(F.relu(norm(conv(x.transpose(1, 2)).transpose(1, 2))), self.dropout, self.training) * mask
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=chars.shape[1])
        return out  # (B, U, D)


def encode_characters(texts: list[str], characters: str, max_chars: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised texts -> character ids (B, U) padded with 0 and lengths (B,). Refuses text
    with characters outside ``characters`` (naming them) or longer than ``max_chars``."""
    for text in texts:
        if not isinstance(text, str) or not text.strip():
            raise InputError("each text must be a non-empty string")
        if len(text) > max_chars:
            raise InputError(f"a text of {len(text)} characters is longer than the {max_chars} "
                             "this model reads at once; split it into sentences")
        check_vocabulary(text, characters, hint=" (synth.tts.normalise writes text into them)")
    return character_ids(texts, characters)


def zoneout(new: torch.Tensor, old: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Krueger et al. 2016: each unit keeps its previous value with probability ``rate`` in
    training, and by that fraction in expectation at inference."""
    if not rate:
        return new
    if training:
        keep = torch.rand_like(new) < rate
        return torch.where(keep, old, new)
    return rate * old + (1.0 - rate) * new


@dataclasses.dataclass(frozen=True)
class MelFrames(Distribution):
    """One decoder step's output: r standardised log-mel frames, the location of a fixed-scale
    Laplace (the L1 loss), and the end-of-speech Bernoulli. Sampled at the location, with the
    end-of-speech flag set where its probability passes one half, as Tacotron does: the
    randomness of generation is the prenet's dropout. Sample (B, r * n_mels + 1)."""

    frames: torch.Tensor  # (B, r * n_mels)
    stop_logit: torch.Tensor  # (B,)
    is_greedy: bool = False
    n_uniforms = 0
    supported_policies = ("greedy",)

    def sample(self, u: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.frames, (self.stop_logit > 0).to(self.frames.dtype)[:, None]], -1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Laplace (scale 1) log-density of the frames plus the flag's Bernoulli log-probability."""
        frames = x[:, :-1]
        log_laplace = -(frames - self.frames).abs().sum(-1) - frames.shape[-1] * math.log(2.0)
        return log_laplace - F.binary_cross_entropy_with_logits(self.stop_logit, x[:, -1], reduction="none")


class TextToMel(nn.Module):
    """Characters -> log-mel frames, r per step, with an end-of-speech output (see the module doc)."""

    kind = "text-to-mel"
    config_class = TextToMelConfig
    n_uniforms = 0

    def __init__(self, config: TextToMelConfig):
        super().__init__()
        self.config = config
        C, M, r = config, config.n_mels, config.reduction
        self.encoder = CharacterEncoder(C)
        self.prenet = Prenet(M, C.prenet_sizes, C.prenet_dropout)
        self.attention_cell = nn.LSTMCell(C.prenet_sizes[-1] + C.encoder_size, C.attention_size)
        self.window = GaussianWindow(C.attention_size, C.n_window, C.frames_per_char / r)
        self.decoder = nn.LSTM(C.attention_size + C.encoder_size, C.decoder_size, batch_first=True)
        self.frame_projection = nn.Linear(C.decoder_size + C.encoder_size, r * M)
        self.stop_projection = nn.Linear(C.decoder_size + C.encoder_size, 1)
        # Per-band statistics of the training set's log-mel frames: outputs are standardised by
        # them; ``mel_silence`` is the log-mel of a quiet frame, for pauses between sentences.
        self.register_buffer("mel_mean", torch.zeros(M))
        self.register_buffer("mel_std", torch.ones(M))
        self.register_buffer("mel_silence", torch.full((M,), math.log(MelFeatures(**C.mel).log_floor)))

    # -- conversions -------------------------------------------------------------------------------
    def set_statistics(self, mean: torch.Tensor, std: torch.Tensor, silence: torch.Tensor) -> None:
        with torch.no_grad():
            self.mel_mean.copy_(mean)
            self.mel_std.copy_(std.clamp(min=1e-3))
            self.mel_silence.copy_(silence)

    def standardise(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (B, n_mels, F) -> standardised frames (B, F, n_mels)."""
        return (mel.transpose(1, 2) - self.mel_mean) / self.mel_std

    def to_mel(self, outputs: torch.Tensor) -> torch.Tensor:
        """Generated steps (B, T, r * n_mels + 1) -> log-mel (B, n_mels, T * r), as MelFeatures makes it."""
        B, T, _ = outputs.shape
        frames = outputs[..., :-1].reshape(B, T * self.config.reduction, self.config.n_mels)
        return (frames * self.mel_std + self.mel_mean).transpose(1, 2)

    def symbols(self, texts: list[str]) -> list[str]:
        """Normalised texts -> what the window reads: the texts themselves, or their phonemes."""
        if not self.config.phonemes:
            return list(texts)
        from synth.models.phonemes import phonemise

        return phonemise(list(texts), self.config.phonemes, self.config.characters)

    def encode_text(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised texts -> symbol ids (B, U) and lengths (B,) (``symbols``, then the inventory)."""
        return encode_characters(self.symbols(texts), self.config.characters, self.config.max_chars)

    # -- training: teacher forcing over whole utterances -------------------------------------------
    def forward(self, chars: torch.Tensor, lengths: torch.Tensor, targets: torch.Tensor):
        """chars (B, U), lengths (B,), targets (B, T * r, n_mels) standardised frames
        -> predicted frames (B, T * r, n_mels), end-of-speech logits (B, T), phi (B, T, U + 1)."""
        B, U = chars.shape
        r, M = self.config.reduction, self.config.n_mels
        T = targets.shape[1] // r
        memory = self.encoder(chars, lengths)  # (B, U, D)
        mask = (torch.arange(U, device=chars.device) < lengths[:, None].to(chars.device)).float()  # (B, U)
        # The input of step t is the last frame of step t - 1 (zeros before the first).
        previous = torch.cat([targets.new_zeros(B, 1, M), targets[:, r - 1:(T - 1) * r:r]], 1)  # (B, T, M)
        prenet = self.prenet(previous)  # (B, T, P), all steps at once
        h = c = memory.new_zeros(B, self.config.attention_size)
        kappa = memory.new_zeros(B, self.config.n_window)
        context = memory.new_zeros(B, self.config.encoder_size)
        u = torch.arange(U + 1, device=chars.device, dtype=memory.dtype)
        hs, contexts, phis = [], [], []
        for t in range(T):
            h_new, c_new = self.attention_cell(torch.cat([prenet[:, t], context], -1), (h, c))
            h = zoneout(h_new, h, self.config.zoneout, self.training)
            c = zoneout(c_new, c, self.config.zoneout, self.training)
            context, kappa, phi = self.window(h, kappa, memory, mask, u)  # (B, D), (B, K), (B, U + 1)
            hs.append(h)
            contexts.append(context)
            phis.append(phi)
        h_all, context_all = torch.stack(hs, 1), torch.stack(contexts, 1)  # (B, T, A), (B, T, D)
        decoded, _ = self.decoder(torch.cat([h_all, context_all], -1))  # (B, T, H)
        features = torch.cat([F.dropout(decoded, self.config.dropout, self.training), context_all], -1)
        frames = self.frame_projection(features).reshape(B, T * r, M)
        stop_logits = self.stop_projection(features)[..., 0]  # (B, T)
        return frames, stop_logits, torch.stack(phis, 1)

    # -- the engine's incremental protocol ---------------------------------------------------------
    def initial_input(self, batch_size: int) -> torch.Tensor:
        """The go frame: zeros (the mean frame), end-of-speech off."""
        return self.mel_mean.new_zeros(batch_size, self.config.frame_size)

    def start(self, batch_size: int, text: str | list[str] | None = None, seed: int = 0) -> State:
        """text: one normalised string per stream (or one for all); seed: the prenet's dropout.
        The state also holds the last step's window, ``phi`` (B, U + 1), for whoever watches it
        (synth.tts.reader.WindowWatch: the stopping rule and the failure checks)."""
        texts = texts_per_stream(text, batch_size, "the text-to-mel model")
        device = self.mel_mean.device
        chars, lengths = self.encode_text(texts)
        chars, lengths = chars.to(device), lengths.to(device)
        B, U = chars.shape
        C = self.config
        generator = torch.Generator(device=device)
        generator.manual_seed(int(seed))
        zeros = lambda *shape: torch.zeros(*shape, device=device)  # noqa: E731
        return {
            "memory": self.encoder(chars, lengths),  # (B, U, D)
            "mask": (torch.arange(U, device=device) < lengths[:, None]).float(),  # (B, U)
            "lengths": lengths,
            "u": torch.arange(U + 1, device=device, dtype=torch.float32).expand(B, 1, -1),  # (B, 1, U + 1)
            "h_att": zeros(B, C.attention_size), "c_att": zeros(B, C.attention_size),
            "h_dec": zeros(B, C.decoder_size), "c_dec": zeros(B, C.decoder_size),
            "kappa": zeros(B, C.n_window), "context": zeros(B, C.encoder_size),
            "phi": zeros(B, U + 1),
            "generator": generator,  # shared by the streams (not batch-first)
        }

    def step(self, state: State, x: torch.Tensor) -> MelFrames:
        """x (B, r * n_mels + 1): the previous step's frames -> the next step's distribution."""
        C, M = self.config, self.config.n_mels
        prenet = self.prenet(x[:, (C.reduction - 1) * M:C.reduction * M], state["generator"])  # (B, P)
        h, c = self.attention_cell(torch.cat([prenet, state["context"]], -1), (state["h_att"], state["c_att"]))
        h = zoneout(h, state["h_att"], C.zoneout, False)
        c = zoneout(c, state["c_att"], C.zoneout, False)
        context, kappa, phi = self.window(h, state["kappa"], state["memory"], state["mask"], state["u"])
        d = self.decoder
        h_dec, c_dec = torch.lstm_cell(torch.cat([h, context], -1), (state["h_dec"], state["c_dec"]),
                                       d.weight_ih_l0, d.weight_hh_l0, d.bias_ih_l0, d.bias_hh_l0)
        state.update(h_att=h, c_att=c, context=context, kappa=kappa, phi=phi, h_dec=h_dec, c_dec=c_dec)
        features = torch.cat([h_dec, context], -1)  # (B, H + D)
        return MelFrames(self.frame_projection(features), self.stop_projection(features)[:, 0])


def tts_loss(model: TextToMel, batch: dict) -> torch.Tensor:
    """L1 on the standardised log-mel frames of the real frames, plus the end-of-speech
    cross-entropy over every step (padding after the end counts as "ended"), of a batch
    {"chars" (B, U), "lengths" (B,), "mel" (B, n_mels, F) log-mel, zero-padded,
    "n_frames" (B,)}."""
    r = model.config.reduction
    mel = batch["mel"]
    mel = F.pad(mel, (0, -mel.shape[-1] % r))  # whole steps of r frames (the padding is masked)
    targets = model.standardise(mel)  # (B, T * r, M)
    frames, stop_logits, _ = model(batch["chars"], batch["lengths"], targets)
    n_frames = batch["n_frames"].to(targets.device)
    frame_mask = (torch.arange(targets.shape[1], device=targets.device) < n_frames[:, None]).float()  # (B, T * r)
    l1 = ((frames - targets).abs().mean(-1) * frame_mask).sum() / frame_mask.sum()
    # A step ends the speech when it holds the last real frame (or comes after it).
    last_step = (n_frames - 1) // r  # (B,)
    stop_targets = (torch.arange(stop_logits.shape[1], device=targets.device) >= last_step[:, None]).float()
    weight = 1.0 + (model.config.stop_weight - 1.0) * stop_targets
    stop = F.binary_cross_entropy_with_logits(stop_logits, stop_targets, weight=weight)
    return l1 + stop
