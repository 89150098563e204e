"""Reading text aloud with the text-to-mel network, through the shared sampling engine: sentences
sampled as a batch of streams, stopped by the end-of-speech output and the window (Graves 2013,
section 5.3), with failed sentences (stalled window, skipped characters, step budget spent)
detected and resampled, as the handwriting writer does; and the frames streamed into a WaveNet
vocoder's conditioning (``steps_ready`` / ``extend``) so audio starts before the text is read.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections import Counter
from typing import Callable, Iterator

import numpy as np
import torch

from synth.errors import InputError
from synth.models.tts import MelFrames, TextToMel
from synth.models.wavenet_generation import default_policy, generate_waveform
from synth.sampling.engine import MAX_STEPS, State, generate
from synth.sampling.retry import sample_with_retries
from synth.tts.normalise import normalise, split_sentences

#: Steps allowed per character, in multiples of the corpus's mean steps per character.
BUDGET_PER_CHAR = 3.0
#: Steps allowed beyond that for any sentence (a short one may end in a long breath).
BUDGET_EXTRA_STEPS = 20
DEFAULT_MAX_RETRIES = 3
MAX_RETRIES = 20
FAILURES = ("stalled", "skipped", "over_budget")
#: Silence between sentences when a text is joined from several.
PAUSE_SECONDS = 0.25


class WindowTrace:
    """What a reading did with its window, per stream: the watcher's state and, when recording,
    the window phi (B, U + 1) and end-of-speech probability (B,) of every step."""

    def __init__(self, record: bool = False):
        self.record = record
        self.phi: list[torch.Tensor] = []
        self.stop: list[torch.Tensor] = []
        self.state: State = {}


class WindowWatch:
    """The text-to-mel network as the engine runs it when reading: its steps, plus the stopping
    rule and the failure checks on its window (kept apart from the network, which only reads).

    Stopping: the end-of-speech output, believed only once the window is at the last characters
    (or past the text); or the window past the text for ``tail_steps``; or the step budget.
    Failures: stalled (the window on one character for ``stall_steps``), skipped (more than
    ``skip_chars`` characters passed in one step), over budget.
    """

    n_uniforms = 0

    def __init__(self, model: TextToMel):
        self.model = model

    def parameters(self):
        return self.model.parameters()

    def initial_input(self, batch_size: int) -> torch.Tensor:
        return self.model.initial_input(batch_size)

    def start(self, batch_size: int, text: str | list[str] | None = None, seed: int = 0,
              budget_steps: list[int] | None = None, stall_steps: int | None = None, skip_chars: int | None = None,
              tail_steps: int | None = None, trace: WindowTrace | None = None) -> State:
        """The network's state for ``text`` and ``seed``, and the watcher's: budget_steps per
        stream; the limits default from the corpus's speed (frames per character)."""
        state = self.model.start(batch_size, text=text, seed=seed)
        lengths = state["lengths"]
        B, U1 = state["phi"].shape
        device = lengths.device
        config = self.model.config
        steps_per_char = config.frames_per_char / config.reduction
        positions = torch.arange(U1, device=device)[None]  # (1, U + 1)
        state.update(
            focus=torch.zeros(B, dtype=torch.long, device=device),  # the character phi peaks on
            steps=torch.zeros(B, dtype=torch.long, device=device),
            since_advance=torch.zeros(B, dtype=torch.long, device=device),
            since_passed=torch.zeros(B, dtype=torch.long, device=device),
            budget=torch.tensor(budget_steps or [10 ** 9] * B, device=device),
            outside=positions >= lengths[:, None],  # (B, U + 1) not text
            beyond=positions > lengths[:, None],  # past the end mark
            stall_limit=int(stall_steps or max(25, round(8 * steps_per_char))),
            # A jump of eight times the mean characters per step is a skip, not fast speech.
            skip_limit=int(skip_chars or max(3, math.ceil(8 / steps_per_char))),
            tail_limit=int(tail_steps or max(10, round(40 / config.reduction))),
            trace=trace or WindowTrace(),
        )
        for name in ("passed", "completed", "stalled", "skipped", "over_budget", "early_stop"):
            state[name] = torch.zeros(B, dtype=torch.bool, device=device)
        state["trace"].state = state
        return state

    def step(self, state: State, x: torch.Tensor) -> MelFrames:
        dist = self.model.step(state, x)
        phi, stop = state["phi"], dist.stop_logit > 0  # (B, U + 1), (B,)
        lengths = state["lengths"]
        # Graves 2013, section 5.3: the window has passed the text when phi one past the last
        # character outweighs phi over every character.
        past_end = phi.gather(1, lengths[:, None])[:, 0]
        inside = phi.masked_fill(state["outside"], float("-inf")).max(-1).values
        state["passed"] |= past_end > inside
        focus = phi.masked_fill(state["beyond"], float("-inf")).argmax(-1)  # (B,)
        previous = state["focus"]
        state["skipped"] |= (focus - previous) > state["skip_limit"]
        moved_on = focus > previous
        state["focus"] = torch.maximum(focus, previous)
        state["since_advance"] = (state["since_advance"] + 1) * ~moved_on
        state["since_passed"] += state["passed"].long()
        state["steps"] += 1
        # The last letter or the full stop after it: end-of-speech is believed only there.
        near_end = (state["focus"] >= lengths - 2) | state["passed"]
        state["early_stop"] |= stop & ~near_end & ~state["completed"]
        state["completed"] |= (stop & near_end) | (state["since_passed"] > state["tail_limit"])
        state["stalled"] |= (state["since_advance"] > state["stall_limit"]) & ~near_end
        state["over_budget"] |= state["steps"] >= state["budget"]
        trace = state["trace"]
        if trace.record:
            trace.phi.append(phi)
            trace.stop.append(torch.sigmoid(dist.stop_logit))
        return dist

    def finished(self, state: State) -> torch.Tensor:
        return state["completed"] | state["stalled"] | state["skipped"] | state["over_budget"]


@dataclasses.dataclass
class SpokenSentence:
    text: str  # normalised, as the model was given it
    mel: torch.Tensor  # (n_mels, F) log-mel, as synth.audio.MelFeatures makes it
    attempts: int  # 1 when the first sample was good
    failure: str | None  # why the last attempt failed, None when it succeeded
    early_stop: bool = False  # end-of-speech fired before the last characters (and was ignored)
    phi: np.ndarray | None = None  # (steps, len(read) + 1) window over what was read, when recorded
    stop: np.ndarray | None = None  # (steps,) end-of-speech probability, when recorded
    symbols: str = ""  # what the window read: the text, or its phonemes ("" when not given: the text)

    @property
    def read(self) -> str:
        """The symbols along the window's axis (phi's columns but the last)."""
        return self.symbols or self.text


@dataclasses.dataclass
class ReadResult:
    sentences: list[SpokenSentence]
    failures: Counter  # failure kind -> attempts that failed that way
    seconds: float = 0.0

    @property
    def retries(self) -> int:
        return sum(s.attempts - 1 for s in self.sentences)

    @property
    def failed_sentences(self) -> int:
        return sum(s.failure is not None for s in self.sentences)


def budget_steps(model: TextToMel, text: str) -> int:
    """Steps allowed for a normalised sentence: in proportion to what the window reads of it."""
    steps_per_char = model.config.frames_per_char / model.config.reduction
    return math.ceil(BUDGET_PER_CHAR * steps_per_char * len(model.symbols([text])[0])) + BUDGET_EXTRA_STEPS


def check_retries(max_retries) -> int:
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= MAX_RETRIES:
        raise InputError(f"max_retries must be a whole number from 0 to {MAX_RETRIES}, got {max_retries!r}")
    return max_retries


def read_sentences(model: TextToMel, sentences: list[str], *, seed: int | None = None,
                   max_retries: int = DEFAULT_MAX_RETRIES, record: bool = False) -> ReadResult:
    """Read each normalised sentence, all sampled together as a batch of streams. A sentence
    that fails is resampled with another seed, up to ``max_retries`` times; the result says how
    often. The same seed gives the same frames."""
    if not isinstance(sentences, (list, tuple)) or not sentences:
        raise InputError("give at least one sentence to read")
    check_retries(max_retries)
    base_seed = seed if seed is not None else int(torch.randint(0, 2 ** 31, ()).item())
    started = time.perf_counter()
    results, failures = sample_with_retries(
        len(sentences), lambda pending, seed: _sample(model, [sentences[i] for i in pending], seed=seed, record=record),
        seed=base_seed, max_retries=max_retries)
    return ReadResult(results, failures, time.perf_counter() - started)


def _sample(model: TextToMel, texts: list[str], seed: int, record: bool) -> list[SpokenSentence]:
    B, r = len(texts), model.config.reduction
    symbols = model.symbols(texts)
    budgets = [budget_steps(model, t) for t in texts]
    trace = WindowTrace(record=record)
    conditioning = {"text": texts, "seed": seed, "budget_steps": budgets, "trace": trace}
    generation = generate(WindowWatch(model), max_steps=max(budgets) + 1, batch_size=B, conditioning=conditioning,
                          seed=seed)
    mel = model.to_mel(generation.collect()).cpu()  # (B, n_mels, T * r)
    state = trace.state
    out = []
    for b, text in enumerate(texts):
        n = int(generation.lengths[b])
        failure = next((kind for kind in FAILURES if bool(state[kind][b])), None)
        if failure is None and not bool(state["completed"][b]):
            failure = "over_budget"
        sentence = SpokenSentence(text, mel[b, :, :n * r].clone(), 1, failure, bool(state["early_stop"][b]),
                                  symbols=symbols[b])
        if record and trace.phi:
            sentence.phi = torch.stack([p[b, :len(sentence.read) + 1] for p in trace.phi[:n]]).cpu().numpy()
            sentence.stop = torch.stack([s[b] for s in trace.stop[:n]]).cpu().numpy()
        out.append(sentence)
    return out


def sentences_of(model: TextToMel, text: str) -> list[str]:
    """Text as typed -> normalised sentences the model reads one at a time (errors name what cannot be read)."""
    return split_sentences(normalise(text), max_chars=min(model.config.max_chars, 160))


def pause_frames(model: TextToMel, seconds: float = PAUSE_SECONDS) -> torch.Tensor:
    """(n_mels, F) log-mel frames of silence (the corpus's quiet level) to join sentences with."""
    mel = model.config.mel_features
    n = max(1, round(seconds * mel.sample_rate / mel.hop_length))
    return model.mel_silence.detach().cpu()[:, None].expand(-1, n).clone()


def speech_frames(model: TextToMel, text: str, *, seed: int = 0, max_retries: int = DEFAULT_MAX_RETRIES,
                  checked: bool = True, record: bool = False, pause_seconds: float = PAUSE_SECONDS,
                  on_sentence: Callable[[SpokenSentence], None] | None = None) -> Iterator[torch.Tensor]:
    """Log-mel frames (n_mels, F) of ``text`` read aloud, sentence by sentence, with a pause of
    ``pause_seconds`` between (none when 0).

    checked: each sentence is read whole first and resampled if its window failed, then its
    frames are given (the network makes a sentence's frames in a small fraction of the time the
    vocoder takes to play them, so this costs little delay); unchecked, frames are given as the
    engine makes them (a chunk of steps at a time), with no retry. ``on_sentence`` is called with
    each sentence as it is read (checked) or finished (unchecked).
    """
    sentences = sentences_of(model, text)
    check_retries(max_retries)
    for i, sentence in enumerate(sentences):
        if i and pause_seconds > 0:
            yield pause_frames(model, pause_seconds)
        sentence_seed = seed + 1009 * i
        if checked:
            result = read_sentences(model, [sentence], seed=sentence_seed, max_retries=max_retries, record=record)
            spoken = result.sentences[0]
            if on_sentence is not None:
                on_sentence(spoken)
            yield spoken.mel
        else:
            pieces = []
            for piece in mel_stream(model, sentence, seed=sentence_seed):
                pieces.append(piece)
                yield piece
            if on_sentence is not None:
                on_sentence(SpokenSentence(sentence, torch.cat(pieces, -1), 1, None,
                                           symbols=model.symbols([sentence])[0]))


def mel_stream(model: TextToMel, sentence: str, *, seed: int = 0, chunk_steps: int = 8) -> Iterator[torch.Tensor]:
    """Frames (n_mels, r * chunk_steps) of one normalised sentence as the engine makes them."""
    budget = budget_steps(model, sentence)
    generation = generate(WindowWatch(model), max_steps=budget + 1, seed=seed, chunk_steps=chunk_steps,
                          conditioning={"text": sentence, "seed": seed, "budget_steps": [budget]})
    for chunk in generation:
        yield model.to_mel(chunk)[0].cpu()


def check_vocoder(model: TextToMel, vocoder) -> None:
    """The vocoder must have been trained on exactly the features the text-to-mel network makes."""
    from synth.audio import mel_features_of

    theirs, ours = dataclasses.asdict(mel_features_of(vocoder)), model.config.mel
    if theirs != ours:
        differ = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        raise InputError(f"the vocoder's mel features differ from the text-to-mel model's in {differ}: "
                         "train them on the same synth.audio.MelFeatures")


def stream_speech(model: TextToMel, vocoder, text: str, *, seed: int = 0, speaker: int | None = None,
                  max_retries: int = DEFAULT_MAX_RETRIES, checked: bool = True, chunk_seconds: float = 0.25,
                  record: bool = False, on_sentence: Callable[[SpokenSentence], None] | None = None,
                  policy=None, options=None) -> Iterator[np.ndarray]:
    """Audio of ``text``: float32 chunks (t,) in [-1, 1] from the WaveNet ``vocoder`` as they are
    made. The mel frames stream into one vocoder generation (its conditioning is extended as
    they come), so the first chunk plays while later sentences are still to be read, and the
    sentences join without a seam. The same seed gives the same audio, however it is chunked.
    ``options``: the vocoder's ``GenerationOptions`` for this request (None: the machine chooses);
    ``policy``: its sampling policy (None: the vocoder's own, ``default_policy``)."""
    check_vocoder(model, vocoder)
    policy = default_policy(vocoder) if policy is None else policy
    rate, hop = vocoder.config.sample_rate, vocoder.config.hop_length
    frames = (f.unsqueeze(0).to(next(vocoder.parameters()).device)
              for f in speech_frames(model, text, seed=seed, max_retries=max_retries, checked=checked, record=record,
                                     on_sentence=on_sentence))  # (1, n_mels, F) each
    bound = sum(budget_steps(model, s) for s in sentences_of(model, text)) * model.config.reduction * hop * 2  # samples
    chunk_steps = max(hop, round(chunk_seconds * rate))
    chunks = generate_waveform(vocoder, seconds=min(MAX_STEPS, bound) / rate, max_seconds=MAX_STEPS / rate,
                               speaker=speaker, frames_stream=frames, policy=policy, seed=seed,
                               chunk_seconds=chunk_steps / rate, options=options)
    for audio in chunks:  # (1, t) float32: through the vocoder's one output stage (an LPC vocoder's filter)
        yield audio[0].numpy()


def griffin_lim(mel: torch.Tensor, model: TextToMel, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """Audio (float32) from log-mel frames (n_mels, F) by Griffin-Lim phase recovery with the
    model's own MelFeatures (``synth.judges.griffin_lim_from_mel``: the judges' inversion, its
    random initial phase drawn from ``seed``, so the same mel and seed give the same audio): a check
    of the acoustic model apart from the vocoder. Scaled down to a peak of 0.9 if it clips."""
    from synth.judges import griffin_lim_from_mel

    audio = griffin_lim_from_mel(mel, model.config.mel_features, n_iter=n_iter, seed=seed)  # (F * hop,)
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return (audio / peak * 0.9 if peak > 1.0 else audio).astype(np.float32)
