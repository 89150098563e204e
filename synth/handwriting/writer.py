"""From text to ink with the synthesis network, through the shared sampling engine: a batch of
lines at once, primed with a style, stopped by the window (Graves 2013, section 5), with failed
lines (stalled window, skipped characters, step budget spent) detected and resampled."""
from __future__ import annotations

import dataclasses
import math
from collections import Counter
from typing import Callable

import numpy as np
import torch

from synth.errors import InputError
from synth.handwriting.ink import Ink
from synth.handwriting.text import check_text, split_lines
from synth.models.handwriting import HandwritingSynthesis, WindowTrace
from synth.sampling.engine import generate
from synth.sampling.policies import make_policy

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


def _primer(model: HandwritingSynthesis, style: Ink | None) -> tuple[torch.Tensor | None, str]:
    if style is None:
        return None, ""
    from synth.handwriting.styles import primer_offsets

    check_text(style.text, model.config.alphabet, max_chars=model.config.max_chars, what="the style primer's text")
    if style.at_model_scale:
        offsets = style.to_offsets()
    else:
        offsets = primer_offsets(style, line_height=model.config.line_height, point_spacing=model.config.point_spacing)
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
    results: list[WrittenLine | None] = [None] * len(texts)
    failures: Counter = Counter()
    pending = list(range(len(texts)))
    for attempt in range(max_retries + 1):
        batch = [texts[i] for i in pending]
        lines = _sample(model, batch, prime, primer_text, policy, seed=base_seed + 7919 * attempt, record=record)
        still = []
        for i, line in zip(pending, lines):
            line.attempts = attempt + 1
            results[i] = line
            if line.failure is not None:
                failures[line.failure] += 1
                still.append(i)
        pending = still
        if not pending:
            break
    return WriteResult(list(results), failures, time.perf_counter() - started)


def _sample(model: HandwritingSynthesis, texts: list[str], prime: torch.Tensor | None, primer_text: str,
            policy, seed: int, record: bool) -> list[WrittenLine]:
    B = len(texts)
    lead = primer_text + " " if primer_text else ""
    budgets = [math.ceil(BUDGET_PER_CHAR * model.config.points_per_char * len(t)) + 20 for t in texts]
    trace = WindowTrace(record=record)
    conditioning = {"text": [lead + t for t in texts], "check_from": [len(lead)] * B, "budget_steps": budgets,
                    "trace": trace}
    generation = generate(model, max_steps=max(budgets) + 1, batch_size=B, conditioning=conditioning,
                          prime=prime.unsqueeze(0).expand(B, -1, -1).contiguous() if prime is not None else None,
                          policy=policy, seed=seed)
    values = model.decode(generation.collect()).cpu().numpy()  # (B, T, 3) ink units
    state = trace.state
    lines = []
    for b, text in enumerate(texts):
        n = int(generation.lengths[b])
        failure = next((kind for kind in FAILURES if bool(state[kind][b])), None)
        if failure is None and not bool(state["completed"][b]):
            failure = "over_budget"
        ink = Ink.from_offsets(values[b, :n], text, drop_unfinished=True, at_model_scale=True,
                               origin_is_lifted=prime is not None)
        line = WrittenLine(text, ink, 1, failure)
        if record and trace.phi:
            U = len(lead) + len(text)
            line.phi = torch.stack([p[b, len(lead):U + 1] for p in trace.phi[:n]]).cpu().numpy()
            params = [torch.stack([p[k][b] for p in trace.params[:n]]).cpu() for k in range(5)]
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
