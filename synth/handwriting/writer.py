"""From text to ink with the synthesis network, through the shared sampling engine: a batch of
lines at once, primed with a style, stopped by the window (Graves 2013, section 5), with failed
lines (stalled window, skipped characters, step budget spent) detected and resampled."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter

import numpy as np
import torch

from synth.errors import InputError
from synth.handwriting.ink import Ink
from synth.handwriting.text import check_text, split_lines
from synth.models.handwriting import HandwritingSynthesis
from synth.sampling.engine import generate
from synth.sampling.policies import make_policy
from synth.sampling.retry import sample_with_retries

#: Steps allowed per character of text, in multiples of the corpus's mean points per character.
BUDGET_PER_CHAR = 3.0
DEFAULT_MAX_RETRIES = 3
#: Longest text ``write_text`` accepts before splitting it into lines.
MAX_TEXT_CHARS = 2000
FAILURES = ("stalled", "skipped", "over_budget")


@dataclasses.dataclass
class WrittenLine:
    text: str
    ink: Ink
    attempts: int  # 1 when the first sample was good
    failure: str | None  # why the last attempt failed, None when it succeeded
    phi: np.ndarray | None = None  # (T, len(text) + 1) window over the line's own text, when recorded
    params: dict | None = None  # the mixture parameters of every step, when recorded


@dataclasses.dataclass
class WriteResult:
    lines: list[WrittenLine]
    failures: Counter  # failure kind -> how many attempts failed that way
    seconds: float = 0.0

    @property
    def retries(self) -> int:
        return sum(line.attempts - 1 for line in self.lines)

    @property
    def failed_lines(self) -> int:
        return sum(line.failure is not None for line in self.lines)


class WatchedWriting:
    """The synthesis network as the sampling engine sees it during one ``write_lines`` call: after
    every step the writer watches the window (the network's ``phi``) for Graves's stopping rule
    (section 5.3: the window has passed the last character and the pen is up) and for failures:
    a stall (no new character in focus for ``stall_steps``), a skip (a character never in focus),
    a spent step budget. The watch belongs to this one generation, never to the shared network.

    check_from: per stream, the first character the checks cover (after a primer's own text)."""

    def __init__(self, model: HandwritingSynthesis, check_from: list[int], budget_steps: list[int],
                 stall_steps: int | None = None, record: bool = False):
        self.model, self.check_from, self.budget_steps, self.record = model, check_from, budget_steps, record
        # A capital can take three times the mean points of a character: stalling is twice that.
        self.stall_limit = int(stall_steps or max(30, round(6 * model.config.points_per_char)))
        self.n_uniforms = model.n_uniforms
        self.watch: dict[str, torch.Tensor] = {}
        self.phi: list[torch.Tensor] = []  # per step (B, U + 1), when recording
        self.params: list[tuple[torch.Tensor, ...]] = []  # per step, the head's params, when recording

    def parameters(self):
        return self.model.parameters()

    def initial_input(self, batch_size: int) -> torch.Tensor:
        return self.model.initial_input(batch_size)

    def check_inputs(self, values: torch.Tensor) -> None:
        self.model.check_inputs(values)

    def start(self, batch_size: int, **conditioning) -> dict:
        state = self.model.start(batch_size, **conditioning)
        mask, lengths = state["char_mask"], state["lengths"]
        B, U = mask.shape
        device = mask.device
        alphabet = self.model.config.alphabet
        spaces = torch.tensor([c == " " for c in alphabet], device=device)
        never = spaces[state["chars"].argmax(-1)] & (mask > 0)  # (B, U): spaces need no ink
        before_check = torch.arange(U, device=device)[None] < torch.tensor(self.check_from, device=device)[:, None]
        positions = torch.arange(U + 1, device=device).expand(B, -1)
        false = lambda: torch.zeros(B, dtype=torch.bool, device=device)  # noqa: E731
        self.watch = dict(
            visited=never | before_check | (mask == 0), focus=torch.zeros(B, dtype=torch.long, device=device),
            steps=torch.zeros(B, dtype=torch.long, device=device), since_advance=torch.zeros(B, dtype=torch.long, device=device),
            budget=torch.tensor(self.budget_steps, device=device), positions=positions,
            outside=positions >= lengths[:, None],  # (B, U + 1) not text
            beyond=positions > lengths[:, None],  # past the end mark
            passed=false(), completed=false(), stalled=false(), skipped=false(), over_budget=false())
        return state

    def prime(self, state: dict, inputs: torch.Tensor) -> None:
        self.model.prime(state, inputs)
        # the checks start where the primer left the window
        self.watch["focus"] = state["phi"].masked_fill(self.watch["beyond"], float("-inf")).argmax(-1)

    def step(self, state: dict, x: torch.Tensor):
        dist = self.model.step(state, x)
        self.observe(x, state["phi"], state["lengths"])
        if self.record:
            self.phi.append(state["phi"])
            self.params.append((dist.pi_logits, dist.mu, dist.log_sigma, dist.rho, dist.eos_logit))
        return dist

    def observe(self, x: torch.Tensor, phi: torch.Tensor, lengths: torch.Tensor) -> None:
        """One step's input x (B, 3) and window phi (B, U + 1)."""
        watch = self.watch
        positions = watch["positions"][:, :-1]  # (B, U) character indices
        past_end = phi.gather(1, lengths[:, None])[:, 0]
        inside = phi.masked_fill(watch["outside"], float("-inf")).max(-1).values
        watch["passed"] |= past_end > inside
        focus = phi.masked_fill(watch["beyond"], float("-inf")).argmax(-1)  # (B,)
        previous = watch["focus"]
        # Characters the window jumps over in one step are never in focus.
        jumped = (positions > previous[:, None]) & (positions < focus[:, None])
        watch["skipped"] |= (jumped & ~watch["visited"]).any(-1)
        watch["visited"] |= positions == focus[:, None]
        moved_on = focus > previous
        watch["focus"] = torch.maximum(focus, previous)
        watch["since_advance"] = (watch["since_advance"] + 1) * ~moved_on
        watch["steps"] += 1
        ended = watch["passed"] & (x[:, 2] > 0.5)
        watch["completed"] |= ended
        # At the end every character (spaces aside) must have been in focus.
        watch["skipped"] |= ended & ~watch["visited"].all(-1)
        watch["stalled"] |= (watch["since_advance"] > self.stall_limit) & ~watch["passed"]
        watch["over_budget"] |= watch["steps"] >= watch["budget"]

    def finished(self, state: dict) -> torch.Tensor:
        watch = self.watch
        return watch["completed"] | watch["stalled"] | watch["skipped"] | watch["over_budget"]


def _primer(model: HandwritingSynthesis, style: Ink | None) -> tuple[torch.Tensor | None, str]:
    if style is None:
        return None, ""
    from synth.handwriting.styles import check_primer

    if style.at_model_scale:
        check_text(style.text, model.config.alphabet, max_chars=model.config.max_chars, what="the style primer's text")
        offsets = style.to_offsets()
    else:
        offsets = check_primer(style, model.config, what="the style primer")
    return model.encode(torch.from_numpy(offsets)), style.text


def write_lines(model: HandwritingSynthesis, texts: list[str], *, style: Ink | None = None, bias: float = 0.0,
                temperature: float = 1.0, seed: int | None = None, max_retries: int = DEFAULT_MAX_RETRIES,
                record: bool = False) -> WriteResult:
    """Write each text as one line, all lines sampled together as a batch of streams.

    style: a primer line (ink with its text) whose style the lines take (Graves 2013, section 5.5).
    bias: Graves's sampling bias (section 5.4), 0 = as trained, larger = neater.
    seed: the same seed gives the same lines. A line that fails is resampled with another seed,
    up to ``max_retries`` times; the result says how often.
    """
    import time

    if not isinstance(texts, (list, tuple)) or not texts:
        raise InputError("give at least one line of text")
    for text in texts:
        check_text(text, model.config.alphabet, max_chars=model.config.max_chars)
    if not isinstance(max_retries, int) or not 0 <= max_retries <= 20:
        raise InputError(f"max_retries must be a whole number from 0 to 20, got {max_retries!r}")
    policy = make_policy(bias=bias if bias else None, temperature=temperature)
    prime, primer_text = _primer(model, style)
    base_seed = seed if seed is not None else int(torch.randint(0, 2 ** 31, ()).item())
    started = time.perf_counter()
    results, failures = sample_with_retries(
        len(texts), lambda pending, seed: _sample(model, [texts[i] for i in pending], prime, primer_text, policy,
                                                  seed=seed, record=record),
        seed=base_seed, max_retries=max_retries)
    return WriteResult(results, failures, time.perf_counter() - started)


def _sample(model: HandwritingSynthesis, texts: list[str], prime: torch.Tensor | None, primer_text: str,
            policy, seed: int, record: bool) -> list[WrittenLine]:
    B = len(texts)
    lead = primer_text + " " if primer_text else ""
    budgets = [math.ceil(BUDGET_PER_CHAR * model.config.points_per_char * len(t)) + 20 for t in texts]
    watched = WatchedWriting(model, check_from=[len(lead)] * B, budget_steps=budgets, record=record)
    generation = generate(watched, max_steps=max(budgets) + 1, batch_size=B, conditioning={"text": [lead + t for t in texts]},
                          prime=prime.unsqueeze(0).expand(B, -1, -1).contiguous() if prime is not None else None,
                          policy=policy, seed=seed)
    values = model.decode(generation.collect()).cpu().numpy()  # (B, T, 3) ink units
    watch = watched.watch
    lines = []
    for b, text in enumerate(texts):
        n = int(generation.lengths[b])
        failure = next((kind for kind in FAILURES if bool(watch[kind][b])), None)
        if failure is None and not bool(watch["completed"][b]):
            failure = "over_budget"
        ink = Ink.from_offsets(values[b, :n], text, drop_unfinished=True, at_model_scale=True,
                               origin_is_lifted=prime is not None)
        line = WrittenLine(text, ink, 1, failure)
        if record and watched.phi:
            U = len(lead) + len(text)
            line.phi = torch.stack([p[b, len(lead):U + 1] for p in watched.phi[:n]]).cpu().numpy()
            params = [torch.stack([p[k][b] for p in watched.params[:n]]).cpu() for k in range(5)]
            pi_logits, mu, log_sigma, rho, eos_logit = params
            scale = model.offset_std[:2].cpu()
            line.params = {"weights": torch.softmax(pi_logits, -1).numpy(), "mu": (mu * scale).numpy(),
                           "sigma": (log_sigma.exp() * scale).numpy(), "rho": rho.numpy(),
                           "eos": torch.sigmoid(eos_logit).numpy()}
        lines.append(line)
    return lines


def write_text(model: HandwritingSynthesis, text: str, *, style: Ink | None = None, line_chars: int = 40,
               **kwargs) -> WriteResult:
    """Write text of any length: split into lines of at most ``line_chars`` characters, each in
    the style given, or (without one) in the style of the first line written."""
    if not isinstance(text, str) or not text.strip():
        raise InputError("the text is empty: give at least one character to write")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError(f"the text is {len(text)} characters long; at most {MAX_TEXT_CHARS}")
    check_text(text.replace("\n", " "), model.config.alphabet)
    if not 1 <= line_chars <= model.config.max_chars:
        raise InputError(f"line_chars must be from 1 to {model.config.max_chars}, got {line_chars}")
    lines = split_lines(text, line_chars)
    if style is not None or len(lines) == 1:
        return write_lines(model, lines, style=style, **kwargs)
    first = write_lines(model, lines[:1], **kwargs)
    primer = first.lines[0].ink
    rest = write_lines(model, lines[1:], style=primer, **kwargs)
    return WriteResult(first.lines + rest.lines, first.failures + rest.failures, first.seconds + rest.seconds)
