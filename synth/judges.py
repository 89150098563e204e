"""Independent judges of generated audio: what a listener would notice, measured by models that
ship inside their PyPI wheels and never saw this project's data.

- Speech intelligibility: ``word_error_rate`` (pocketsphinx's bundled en-us acoustic model,
  dictionary and language model; ``jiwer`` for the alignment), with both texts normalised by
  ``normalise_text``; ``stoi_pesq`` against the original (``synth.evaluation.pesq_stoi``).
- Speech quality without a reference: ``dnsmos`` (Microsoft DNSMOS P.835 via ``speechmos``:
  overall / signal / background on a 1-5 scale; Reddy et al., ICASSP 2022).
- Piano: ``note_onset_f1``: Spotify's basic-pitch transcription (Bittner et al., ICASSP 2022; its
  ONNX model runs on onnxruntime) scored by ``mir_eval`` against the MIDI that was played (pitch
  exact, 50 ms onset tolerance, offsets ignored).
- The baseline a user would otherwise pick for a vocoder: ``griffin_lim_from_mel`` inverts the same
  log-mel the vocoder is given (Griffin & Lim 1984, 64 iterations, librosa); and for a whole
  text-to-speech system: ``espeak_ng`` reads the same text with the espeak-ng synthesiser (the Debian
  package, which setup.sh installs).

``speech_table`` scores rows of audio (original, Griffin-Lim, a vocoder, ...) on the same clips and
``format_speech_table`` prints it as one markdown table. The held-out evaluation sets are picked
from paths by ``kathleen_heldout``, ``librispeech_test_other`` and ``asterisk_test``; the Kathleen
prompt split is ``synth.splits.prompt_split`` / ``heldout_prompt`` (a stable hash of the prompt id),
re-exported here.

The judges are optional (the ``judges`` extra, and basic-pitch installed ``--no-deps`` by
setup.sh): a missing one raises InputError naming what to install. ONNX sessions run with
$OMP_NUM_THREADS threads (the CPU is shared with training).
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import tempfile
import warnings
from pathlib import Path

import numpy as np

from synth.audio import MelFeatures, read_audio
from synth.errors import InputError
from synth.splits import (  # noqa: F401  (re-exported: recipes name synth.judges.prompt_split)
    KATHLEEN_TEST_PERCENT,
    KATHLEEN_VALID_PERCENT,
    heldout_prompt,
    prompt_id,
    prompt_split,
)

#: The rate pocketsphinx's en-us model, DNSMOS and wide-band PESQ expect.
JUDGE_SAMPLE_RATE = 16000
GRIFFIN_LIM_ITERATIONS = 64
#: mir_eval's note matching: onsets within 50 ms, pitch within 50 cents (i.e. the same MIDI key).
ONSET_TOLERANCE_SECONDS = 0.05
PITCH_TOLERANCE_CENTS = 50.0

INSTALL_HINT = ("install the judges: pip install -e '.[judges]' and pip install --no-deps basic-pitch==0.4.0 "
                "(setup.sh does both)")


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(f"the judge needs the Python package {module!r}, which could not be imported ({exc}); "
                         f"{INSTALL_HINT}") from None


def _mono_float(audio, name: str = "audio") -> np.ndarray:
    """Any 1-D float array-like (numpy or torch) -> float32 (T,); InputError when empty or not finite."""
    if hasattr(audio, "detach"):
        audio = audio.detach().float().cpu().numpy()
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        if audio.size != max(audio.shape, default=0):  # (1, T) or (T, 1) are mono; (2, T) is not
            raise InputError(f"{name}: expected mono audio (one dimension of samples), got shape {audio.shape}")
        audio = audio.reshape(-1)
    if audio.size == 0:
        raise InputError(f"{name}: the audio is empty (0 samples)")
    if not np.all(np.isfinite(audio)):
        raise InputError(f"{name}: the audio contains NaN or infinite samples")
    return audio


def _at_rate(audio, rate: int, target: int = JUDGE_SAMPLE_RATE) -> np.ndarray:
    audio = _mono_float(audio)
    if int(rate) <= 0:
        raise InputError(f"sample rate {rate}: must be a positive number of samples per second")
    if int(rate) == target:
        return audio
    import librosa

    return librosa.resample(audio, orig_sr=int(rate), target_sr=target).astype(np.float32)


def _onnx_session(path: str | Path):
    """An onnxruntime session with $OMP_NUM_THREADS intra-op threads (default 1) and no inter-op pool:
    onnxruntime would otherwise take every core, which training jobs hold here."""
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, int(os.environ.get("OMP_NUM_THREADS", "1") or 1))
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


# ----------------------------------------------------------------------------- text normalisation

_ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
         "sixteen seventeen eighteen nineteen").split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10 ** 9, "billion"), (10 ** 6, "million"), (1000, "thousand"), (100, "hundred"))


def number_words(n: int) -> str:
    """A non-negative integer in English words, as cardinals are read: 1908 -> 'one thousand nine
    hundred eight' (no 'and'; years read 'nineteen oh eight' are not guessed)."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("" if n % 10 == 0 else " " + _ONES[n % 10])
    for scale, word in _SCALES:
        if n >= scale:
            head, rest = divmod(n, scale)
            return f"{number_words(head)} {word}" + ("" if rest == 0 else " " + number_words(rest))
    raise AssertionError(n)


def _spell_number(match: re.Match) -> str:
    whole, fraction = match.group(1).replace(",", ""), match.group(2)
    words = number_words(int(whole)) if len(whole) <= 12 else " ".join(_ONES[int(d)] for d in whole)
    if fraction:
        words += " point " + " ".join(_ONES[int(d)] for d in fraction)
    return f" {words} "


def normalise_text(text: str) -> str:
    """The form both transcripts are compared in: lower case, numbers as words, hyphens and
    punctuation removed (apostrophes inside words kept: pocketsphinx's dictionary spells "don't"),
    single spaces."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(\d[\d,]*)(?:\.(\d+))?", _spell_number, text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)  # hyphens, punctuation, symbols
    text = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", text)  # quotes, not apostrophes within words
    return " ".join(text.split())


# ----------------------------------------------------------------------------- speech recognition

@functools.lru_cache(maxsize=1)
def _sphinx_decoder():
    pocketsphinx = _require("pocketsphinx")
    # Decoder() defaults to the en-us acoustic model, cmudict-en-us.dict and en-us.lm.bin in the wheel
    return pocketsphinx.Decoder(samprate=JUDGE_SAMPLE_RATE, loglevel="FATAL")


def transcribe(audio, rate: int) -> str:
    """pocketsphinx's best hypothesis for the audio (en-us, 16 kHz), normalised; '' when it hears no word."""
    samples = _at_rate(audio, rate)
    pcm = (np.clip(samples, -1.0, 1.0) * 32767.0).astype(np.int16)
    decoder = _sphinx_decoder()
    decoder.start_utt()
    decoder.process_raw(pcm.tobytes(), full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    return normalise_text(hypothesis.hypstr) if hypothesis is not None else ""


def corpus_word_error_rate(references: list[str], hypotheses: list[str]) -> float:
    """(substitutions + deletions + insertions) / reference words, summed over all clips (jiwer),
    on normalised texts. An empty hypothesis counts every reference word as deleted."""
    jiwer = _require("jiwer")
    references = [normalise_text(r) for r in references]
    hypotheses = [normalise_text(h) for h in hypotheses]
    if len(references) != len(hypotheses):
        raise InputError(f"{len(references)} reference texts for {len(hypotheses)} hypotheses: they must pair up")
    empty = [i for i, r in enumerate(references) if not r]
    if empty:
        raise InputError(f"reference text {empty[0]} has no words after normalisation; a word error rate needs words")
    return float(jiwer.wer(references, hypotheses))


def word_error_rate(audio, rate: int, reference_text: str) -> float:
    """Word error rate of pocketsphinx's transcript of ``audio`` against ``reference_text``
    (0 is perfect; 1 when nothing is recognised; it can exceed 1 with insertions)."""
    return corpus_word_error_rate([reference_text], [transcribe(audio, rate)])


# ----------------------------------------------------------------------------- quality and fidelity

@functools.lru_cache(maxsize=1)
def _dnsmos_model():
    _require("speechmos")
    from speechmos import dnsmos as speechmos_dnsmos

    folder = Path(speechmos_dnsmos.__file__).parent / "dnsmos_models"
    model = object.__new__(speechmos_dnsmos.DNSMOS)  # its __init__ builds sessions on every core
    model.primary_model_path = str(folder / "sig_bak_ovr.onnx")
    model.onnx_sess = _onnx_session(folder / "sig_bak_ovr.onnx")
    model.p808_onnx_sess = _onnx_session(folder / "model_v8.onnx")
    return model


def dnsmos(audio, rate: int) -> dict[str, float]:
    """DNSMOS P.835 (non-personalised) of one clip: {"overall", "sig", "bak", "p808"} on 1-5.

    DNSMOS scores 9.01 s windows (hop 1 s) and averages them; speechmos repeats a shorter clip end to
    end until it fills one window. Samples are clipped to [-1, 1] first (the model's input range).
    """
    samples = np.clip(_at_rate(audio, rate), -1.0, 1.0).astype(np.float32)
    scores = _dnsmos_model()(samples, JUDGE_SAMPLE_RATE, False)
    return {"overall": float(scores["ovrl_mos"]), "sig": float(scores["sig_mos"]), "bak": float(scores["bak_mos"]),
            "p808": float(scores["p808_mos"])}


def stoi_pesq(reference, estimate, rate: int) -> dict[str, float]:
    """STOI and wide-band PESQ of ``estimate`` against ``reference`` at 16 kHz (wide-band PESQ is
    defined at 16 kHz only), by ``synth.evaluation.pesq_stoi``; keys "stoi", "pesq_wb"."""
    from synth.evaluation import pesq_stoi

    return pesq_stoi(_at_rate(reference, rate), _at_rate(estimate, rate), JUDGE_SAMPLE_RATE)


def griffin_lim_from_mel(mel_frames, features: MelFeatures = MelFeatures(), n_iter: int = GRIFFIN_LIM_ITERATIONS,
                         seed: int = 0) -> np.ndarray:
    """Griffin-Lim audio (F * hop_length,) float32 from the log-mel frames (n_mels, F) that
    ``features`` computes, i.e. exactly what a vocoder is given.

    ``MelFeatures`` is log(max(mel, log_floor)) of a magnitude (power 1) Slaney-scale,
    Slaney-normalised mel filterbank between f_min and f_max over a centred periodic-Hann STFT, so
    exp() undoes the log (floored bins come back as the floor) and librosa's non-negative least
    squares inversion with the same filterbank gives the linear magnitude. These are the two steps of
    ``librosa.feature.inverse.mel_to_audio`` (mel_to_stft, then griffinlim), written out only to give
    Griffin-Lim's random initial phase a seed: the same mel always gives the same audio.
    """
    import librosa

    if hasattr(mel_frames, "detach"):
        mel_frames = mel_frames.detach().float().cpu().numpy()
    log_mel = np.asarray(mel_frames, dtype=np.float64)
    if log_mel.ndim != 2 or log_mel.shape[0] != features.n_mels:
        raise InputError(f"mel frames of shape {log_mel.shape}: expected ({features.n_mels}, frames), "
                         "as MelFeatures returns for one clip")
    if log_mel.shape[1] == 0 or not np.all(np.isfinite(log_mel)):
        raise InputError("mel frames: expected at least one frame of finite values")
    magnitude_mel = np.exp(log_mel)  # (n_mels, F): undoes torch.log(clamp(mel, log_floor))
    stft_magnitude = librosa.feature.inverse.mel_to_stft(
        magnitude_mel, sr=features.sample_rate, n_fft=features.n_fft, power=1.0,
        fmin=features.f_min, fmax=features.f_max, htk=False, norm="slaney")  # (1 + n_fft // 2, F)
    audio = librosa.griffinlim(
        stft_magnitude, n_iter=n_iter, hop_length=features.hop_length, win_length=features.win_length,
        n_fft=features.n_fft, window="hann", center=True, random_state=seed)  # ((F - 1) * hop,)
    # frame f is centred on sample f * hop: the last hop of the clip has no frame centred in it
    n_samples = log_mel.shape[1] * features.hop_length
    return np.pad(audio, (0, max(0, n_samples - len(audio))))[:n_samples].astype(np.float32)


def griffin_lim_resynthesis(audio, rate: int, features: MelFeatures = MelFeatures(), **kwargs) -> np.ndarray:
    """The Griffin-Lim baseline for one clip: its MelFeatures log-mel, inverted (length F * hop)."""
    import torch

    if int(rate) != features.sample_rate:
        raise InputError(f"audio at {rate} Hz: these mel features are defined at {features.sample_rate} Hz")
    mel = features(torch.as_tensor(_mono_float(audio)))  # (n_mels, F)
    return griffin_lim_from_mel(mel, features, **kwargs)


# ----------------------------------------------------------------------------- a text-to-speech baseline

ESPEAK_NG = "espeak-ng"
ESPEAK_VOICE = "en-us"
ESPEAK_TIMEOUT_SECONDS = 60


def espeak_ng(text: str, sample_rate: int = JUDGE_SAMPLE_RATE, voice: str = ESPEAK_VOICE) -> np.ndarray:
    """``text`` read aloud by espeak-ng (formant synthesis, its default speed and pitch): float32
    audio (T,) at ``sample_rate`` (espeak-ng writes 22050 Hz; it is resampled). Deterministic: the
    same text gives the same audio. InputError when espeak-ng is not installed, the text is empty, or
    espeak-ng fails."""
    from synth.audio import read_audio

    if not isinstance(text, str) or not text.strip():
        raise InputError("espeak-ng: give some text to read (got an empty text)")
    executable = shutil.which(ESPEAK_NG)
    if executable is None:
        raise InputError(f"{ESPEAK_NG} is not installed (no {ESPEAK_NG} on the PATH); it is the Debian package "
                         f"{ESPEAK_NG}: apt-get install {ESPEAK_NG} (setup.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="espeak-") as folder:
        path = Path(folder) / "speech.wav"
        # the text goes on standard input, so a text starting with "-" is not read as an option
        done = subprocess.run([executable, "-v", voice, "-w", str(path), "--stdin"], input=text.encode("utf-8"),
                              capture_output=True, timeout=ESPEAK_TIMEOUT_SECONDS)
        if done.returncode != 0 or not path.is_file():
            raise InputError(f"{ESPEAK_NG} -v {voice} failed (exit {done.returncode}): "
                             f"{done.stderr.decode('utf-8', 'replace').strip()[:300]}")
        audio, _ = read_audio(path, sample_rate)
    return audio


# ----------------------------------------------------------------------------- the speech table

SPEECH_COLUMNS = (("wer", "word error rate"), ("stoi", "STOI"), ("pesq_wb", "PESQ (wb)"),
                  ("dnsmos_overall", "DNSMOS overall"), ("dnsmos_sig", "DNSMOS sig"), ("dnsmos_bak", "DNSMOS bak"))


MEASURES = ("wer", "stoi_pesq", "dnsmos")


def speech_table(rows: dict[str, list], references: list | None, texts: list[str | None], rate: int,
                 reference_row: str | None = "original", measures: tuple[str, ...] = MEASURES) -> dict:
    """Score each row of audio on the same clips; one dict per row of clip means.

    rows: {"original": [audio...], "Griffin-Lim": [...], "vocoder": [...]}, each list in the order of
    ``references`` (the original clips). texts[i] is clip i's transcript, or None when there is none:
    then pocketsphinx's transcript of the ORIGINAL clip is the reference, and the returned
    ``"asr_reference_clips"`` counts such clips (for the row named ``reference_row``, whose audio is
    the original itself, the word error rate of those clips is 0 by construction and is left out).
    references may be None where there is no original (text read by synthesisers only): then every
    clip needs its text, STOI / PESQ cannot be measured, and "seconds" is None.

    ``measures`` picks judges among MEASURES (DNSMOS is the slowest, about a second per 9 s window
    on one thread); a judge left out reads None.

    Returns {"rows": {name: {"wer", "stoi", "pesq_wb", "dnsmos_overall", "dnsmos_sig", "dnsmos_bak",
    "clips", "transcripts" (pocketsphinx's per clip, None where not scored)}}, "clips": n,
    "asr_reference_clips": k, "seconds": total reference audio}.
    """
    unknown = set(measures) - set(MEASURES)
    if unknown:
        raise InputError(f"speech_table: unknown measures {sorted(unknown)}; allowed: {list(MEASURES)}")
    if references is None:
        if "stoi_pesq" in measures:
            raise InputError("speech_table: STOI and PESQ compare with an original; without references leave "
                             "'stoi_pesq' out of the measures")
        if any(t is None or not normalise_text(t) for t in texts):
            raise InputError("speech_table: without references every clip needs a transcript with words")
    n = len(references) if references is not None else len(texts)
    if n == 0:
        raise InputError("speech_table: no clips to score")
    if len(texts) != n:
        raise InputError(f"speech_table: {len(texts)} texts for {n} reference clips")
    for name, clips in rows.items():
        if len(clips) != n:
            raise InputError(f"speech_table: row {name!r} has {len(clips)} clips for {n} reference clips")
    references = [_at_rate(r, rate) for r in references] if references is not None else None
    from_asr = [t is None or not normalise_text(t) for t in texts]
    if "wer" in measures:
        reference_texts = [transcribe(r, JUDGE_SAMPLE_RATE) if asr else t
                           for r, t, asr in zip(references or [None] * n, texts, from_asr)]
    table = {}
    for name, clips in rows.items():
        clips = [_at_rate(c, rate) for c in clips]
        wer, hypotheses = None, {}
        if "wer" in measures:
            # clips where the ASR heard no word in the original cannot be scored against it
            scored = [i for i in range(n) if not (name == reference_row and from_asr[i]) and reference_texts[i]]
            hypotheses = {i: transcribe(clips[i], JUDGE_SAMPLE_RATE) for i in scored}
            wer = (corpus_word_error_rate([reference_texts[i] for i in scored], [hypotheses[i] for i in scored])
                   if scored else None)
        fidelity = ([stoi_pesq(r, c, JUDGE_SAMPLE_RATE) for r, c in zip(references, clips)]
                    if "stoi_pesq" in measures else [{}])
        quality = ([dnsmos(c, JUDGE_SAMPLE_RATE) for c in clips] if "dnsmos" in measures
                   else [{"overall": None, "sig": None, "bak": None}])

        def mean(values: list) -> float | None:
            values = [v for v in values if v is not None]
            return float(np.mean(values)) if values else None

        table[name] = {"wer": wer, "stoi": mean([f.get("stoi") for f in fidelity]),
                       "pesq_wb": mean([f.get("pesq_wb") for f in fidelity]),
                       "dnsmos_overall": mean([q["overall"] for q in quality]),
                       "dnsmos_sig": mean([q["sig"] for q in quality]), "dnsmos_bak": mean([q["bak"] for q in quality]),
                       "clips": n, "transcripts": [hypotheses.get(i) for i in range(n)] if "wer" in measures else None}
    seconds = float(sum(len(r) for r in references) / JUDGE_SAMPLE_RATE) if references is not None else None
    return {"rows": table, "clips": n, "asr_reference_clips": int(sum(from_asr)), "seconds": seconds}


def format_speech_table(table: dict, title: str = "", columns: tuple[str, ...] | None = None) -> str:
    """One markdown table: a row per audio source, a column per judge ("-" where not measured);
    ``columns`` picks keys of SPEECH_COLUMNS (default all)."""
    labels = dict(SPEECH_COLUMNS)
    unknown = [c for c in columns or () if c not in labels]
    if unknown:
        raise InputError(f"format_speech_table: unknown columns {unknown}; allowed: {list(labels)}")
    shown = [(key, labels[key]) for key in columns] if columns else list(SPEECH_COLUMNS)
    lines = []
    if title:
        seconds = f", {table['seconds']:.0f} s" if table.get("seconds") is not None else ""
        lines += [f"**{title}** ({table['clips']} clips{seconds})", ""]
    lines.append("| | " + " | ".join(label for _, label in shown) + " |")
    lines.append("| --- |" + " ---: |" * len(shown))
    for name, scores in table["rows"].items():
        cells = ["-" if scores.get(key) is None else f"{scores[key]:.2f}" for key, _ in shown]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    if table.get("asr_reference_clips"):
        lines += ["", f"Word error rate of {table['asr_reference_clips']} clips without a transcript is measured against "
                      "pocketsphinx's transcript of the original clip (so the original's own is not shown)."]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- held-out evaluation sets

KATHLEEN_LICENCE = ("Kathleen voice data set (rhasspy/dataset-voice-cathy), CMU ARCTIC prompts read by one "
                    "US-English speaker: CC0 1.0")
LIBRISPEECH_LICENCE = ("LibriSpeech ASR corpus (V. Panayotov, G. Chen, D. Povey, S. Khudanpur, ICASSP 2015): "
                       "CC BY 4.0")


@dataclasses.dataclass
class EvaluationClip:
    key: str
    audio: np.ndarray        # (T,) float32 at sample_rate
    sample_rate: int
    text: str | None         # transcript, or None (then WER is against pocketsphinx's transcript of it)
    source: str              # the file it was read from


@dataclasses.dataclass
class EvaluationSet:
    name: str
    clips: list[EvaluationClip]
    note: str = ""           # why a set is empty or how it was scored
    licence: str = ""


def kathleen_heldout(folder: str | Path, limit: int | None = None, sample_rate: int = JUDGE_SAMPLE_RATE,
                     takes_per_prompt: int = 1) -> EvaluationSet:
    """Held-out Kathleen prompts (``heldout_prompt``), ``takes_per_prompt`` takes each (the first
    by id), in prompt order, at most ``limit`` clips. Layout: metadata.csv ``id|text``, wavs/<id>.flac."""
    folder = Path(folder)
    metadata = folder / "metadata.csv"
    if not metadata.is_file():
        return EvaluationSet("Kathleen held-out prompts", [], note=f"{metadata}: not found; set skipped",
                             licence=KATHLEEN_LICENCE)
    takes: dict[str, list[tuple[str, str]]] = {}
    for line in metadata.read_text(encoding="utf-8").splitlines():
        key, _, text = line.partition("|")
        if key and text and heldout_prompt(key):
            takes.setdefault(prompt_id(key), []).append((key, text.strip()))
    clips = []
    for prompt in sorted(takes):
        for key, text in sorted(takes[prompt])[:takes_per_prompt]:
            path = next((p for p in (folder / "wavs" / f"{key}.flac", folder / "wavs" / f"{key}.wav") if p.is_file()), None)
            if path is None:
                continue
            audio, rate = read_audio(path, sample_rate)
            clips.append(EvaluationClip(key, audio, rate, text, str(path)))
            if limit is not None and len(clips) >= limit:
                break
        if limit is not None and len(clips) >= limit:
            break
    n_prompts = len(takes)
    return EvaluationSet("Kathleen held-out prompts", clips, licence=KATHLEEN_LICENCE,
                         note=f"{n_prompts} held-out prompts (stable hash of the prompt id), {len(clips)} clips scored")


def librispeech_test_other(folder: str | Path, limit: int | None = None, sample_rate: int = JUDGE_SAMPLE_RATE,
                           max_seconds: float | None = 20.0) -> EvaluationSet:
    """LibriSpeech test-other clips (unseen speakers; the folder or its ``test-other/``), taken round
    robin over speakers (so 10 clips = one per speaker), each cut to ``max_seconds``. There are no
    transcripts: word error rate is then measured against pocketsphinx's transcript of the original."""
    folder = Path(folder)
    subset = folder / "test-other" if (folder / "test-other").is_dir() else folder
    speakers = sorted((p for p in subset.iterdir() if p.is_dir()), key=lambda p: p.name) if subset.is_dir() else []
    files = [sorted(s.glob("*.flac")) + sorted(s.glob("*.wav")) for s in speakers]
    if not any(files):
        return EvaluationSet("LibriSpeech test-other", [], note=f"{subset}: no speaker folders of FLAC files; set skipped",
                             licence=LIBRISPEECH_LICENCE)
    order = [f[i] for i in range(max(len(f) for f in files)) for f in files if i < len(f)]
    clips = []
    for path in order[:limit]:
        audio, rate = read_audio(path, sample_rate)
        if max_seconds is not None:
            audio = audio[: int(max_seconds * rate)]
        clips.append(EvaluationClip(path.stem, audio, rate, None, str(path)))
    return EvaluationSet("LibriSpeech test-other", clips, licence=LIBRISPEECH_LICENCE,
                         note=(f"{len(speakers)} unseen speakers, {len(clips)} clips (round robin over speakers"
                               + (f", cut to {max_seconds:.0f} s" if max_seconds else "") + "); no transcripts: word "
                               "error rate is against pocketsphinx's transcript of the original clip"))


def asterisk_test(corpus: str | Path, limit: int | None = None, sample_rate: int = JUDGE_SAMPLE_RATE,
                  language: str = "en") -> EvaluationSet:
    """The Asterisk English test clips of a corpus built by ``recipes/speech_corpus.py`` (its
    manifest's test split, language ``language``, with transcripts). Empty, with a note, when the
    corpus has not been built."""
    from synth.corpora.manifest import read_manifest

    corpus = Path(corpus)
    name = f"Asterisk {language} test clips"
    try:
        manifest = read_manifest(corpus)
    except InputError as error:
        return EvaluationSet(name, [], note=f"skipped: {error}")
    entries = sorted((e for e in manifest.split("test") if e.language == language and "asterisk" in e.source.lower()),
                     key=lambda e: e.path)
    clips = []
    for entry in entries:
        text = entry.text.strip()
        if not normalise_text(text) or text.startswith("["):  # "[beep]": bracketed non-speech
            continue
        audio, rate = read_audio(corpus / entry.path, sample_rate)
        clips.append(EvaluationClip(Path(entry.path).stem, audio, rate, text, str(corpus / entry.path)))
        if limit is not None and len(clips) >= limit:
            break
    if not clips:
        return EvaluationSet(name, [], note=f"skipped: {corpus} holds no {language} test clips with transcripts")
    return EvaluationSet(name, clips, note=f"{len(clips)} test-split clips of {corpus}", licence=manifest.licence)


# ----------------------------------------------------------------------------- piano transcription

@functools.lru_cache(maxsize=1)
def _basic_pitch_model():
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # basic_pitch warns at import that TensorFlow, CoreML and TFLite are absent
    try:
        _require("basic_pitch")
    finally:
        root.setLevel(level)
    from basic_pitch import FilenameSuffix, build_icassp_2022_model_path
    from basic_pitch.inference import Model

    path = build_icassp_2022_model_path(FilenameSuffix.onnx)
    model = object.__new__(Model)  # Model(path) builds its session on every core
    model.model_type = Model.MODEL_TYPES.ONNX
    model.model = _onnx_session(path)
    return model


def transcribe_notes(audio, rate: int, onset_threshold: float = 0.5, frame_threshold: float = 0.3,
                     minimum_note_milliseconds: float = 127.70) -> list[tuple[float, float, int, float]]:
    """basic-pitch's notes (start_seconds, end_seconds, midi_pitch, amplitude) for the audio, with the
    defaults of its ``predict`` (its inference, windowing and note decoding, on an array instead of a file)."""
    _basic_pitch_model()
    from basic_pitch import note_creation
    from basic_pitch.constants import AUDIO_N_SAMPLES, AUDIO_SAMPLE_RATE, FFT_HOP
    from basic_pitch.inference import unwrap_output, window_audio_file

    samples = _at_rate(audio, rate, AUDIO_SAMPLE_RATE)  # 22050 Hz, as librosa.load gives it there
    n_overlapping_frames = 30  # as basic_pitch.inference.run_inference
    overlap = n_overlapping_frames * FFT_HOP
    padded = np.concatenate([np.zeros(overlap // 2, dtype=np.float32), samples])
    model = _basic_pitch_model()
    outputs: dict[str, list] = {"note": [], "onset": [], "contour": []}
    for window, _ in window_audio_file(padded, AUDIO_N_SAMPLES - overlap):
        for key, value in model.predict(window[np.newaxis].astype(np.float32)).items():  # (1, AUDIO_N_SAMPLES, 1)
            outputs[key].append(value)
    model_output = {k: unwrap_output(np.concatenate(v), len(samples), n_overlapping_frames) for k, v in outputs.items()}
    _, events = note_creation.model_output_to_notes(
        model_output, onset_thresh=onset_threshold, frame_thresh=frame_threshold,
        min_note_len=int(np.round(minimum_note_milliseconds / 1000 * (AUDIO_SAMPLE_RATE / FFT_HOP))),
        min_freq=None, max_freq=None, multiple_pitch_bends=False, melodia_trick=True)
    return sorted((float(s), float(e), int(p), float(a)) for s, e, p, a, _ in events)


def _reference_notes(midi) -> list[tuple[float, float, int]]:
    import pretty_midi

    if isinstance(midi, (str, Path, bytes, bytearray)):
        from synth.music.midi import read_midi

        midi = read_midi(midi)
    if isinstance(midi, pretty_midi.PrettyMIDI):
        return [(n.start, n.end, n.pitch) for inst in midi.instruments if not inst.is_drum for n in inst.notes]
    notes = [(float(s), float(e), int(p)) for s, e, p, *_ in midi]
    return notes


def note_onset_f1(audio, rate: int, midi) -> dict[str, float]:
    """Note-level precision / recall / F1 of basic-pitch's transcription of ``audio`` against the
    notes that were played: ``midi`` is a MIDI path or bytes, a PrettyMIDI, or (start, end, pitch, ...)
    tuples. A note matches when its pitch is the same key (within 50 cents) and its onset within
    50 ms; offsets are ignored (mir_eval.transcription, offset_ratio=None)."""
    mir_eval = _require("mir_eval")
    import pretty_midi

    reference = _reference_notes(midi)
    if not reference:
        raise InputError("note_onset_f1: the reference holds no notes")
    estimated = transcribe_notes(audio, rate)

    def arrays(notes):
        # mir_eval wants strictly positive durations; a zero-length MIDI note still has its onset
        intervals = np.array([[s, max(e, s + 1e-3)] for s, e, *_ in notes], dtype=float).reshape(-1, 2)
        pitches_hz = np.array([pretty_midi.note_number_to_hz(n[2]) for n in notes], dtype=float)
        return intervals, pitches_hz

    ref_intervals, ref_pitches = arrays(reference)
    est_intervals, est_pitches = arrays(estimated)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mir_eval warns when nothing was transcribed: that is the score 0
        precision, recall, f1, _ = mir_eval.transcription.precision_recall_f1_overlap(
            ref_intervals, ref_pitches, est_intervals, est_pitches, onset_tolerance=ONSET_TOLERANCE_SECONDS,
            pitch_tolerance=PITCH_TOLERANCE_CENTS, offset_ratio=None)
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1),
            "reference_notes": len(reference), "transcribed_notes": len(estimated)}


@dataclasses.dataclass
class EvaluationPiece:
    name: str
    midi: object             # pretty_midi.PrettyMIDI, every part on the piano
    source: str
    licence: str


def piano_evaluation_pieces(examples: str | Path | None = None, max_seconds: float = 30.0,
                            works: tuple[str, ...] | None = None) -> list[EvaluationPiece]:
    """The pieces a piano renderer is judged on: the app's example MIDI files (``examples``, a
    folder of .mid files) and the keyboard works of the piano corpus that its split holds out
    (``synth.corpora.piano.split_of`` == "test"), each cut to its first ``max_seconds``."""
    from synth.corpora import piano
    from synth.music.midi import read_midi
    from synth.music.scores import MUSIC21_LICENCE, piece_name, score_midi

    pieces = []
    if examples is not None:
        for path in sorted(Path(examples).glob("*.mid")):
            pieces.append(EvaluationPiece(path.stem, piano.cut(read_midi(path), max_seconds), str(path),
                                          f"see {Path(examples) / 'README.md'}"))
    works = works if works is not None else tuple(w for w in piano.PIANO_WORKS if piano.split_of(piece_name(w)) == "test")
    for work in works:
        midi, _ = score_midi(work)
        pieces.append(EvaluationPiece(piece_name(work), piano.cut(midi, max_seconds), f"music21 corpus: {work}",
                                      f"{work}: {MUSIC21_LICENCE}"))
    return pieces


def piano_corpus_test_pieces(corpus: str | Path, limit: int, max_seconds: float = 30.0) -> list[EvaluationPiece]:
    """Up to ``limit`` pieces of a piano corpus's test split (``synth.corpora.piano``), read from
    the MIDI it keeps of each (``midi/<piece>.mid``; pieces without one are passed over), each cut
    to its first ``max_seconds``."""
    from synth.corpora import piano
    from synth.corpora.manifest import read_manifest
    from synth.music.midi import read_midi

    corpus = Path(corpus)
    manifest = read_manifest(corpus)
    pieces = []
    for entry in manifest.split("test"):
        path = corpus / "midi" / f"{Path(entry.path).stem}.mid"
        if len(pieces) >= limit:
            break
        if path.is_file():
            pieces.append(EvaluationPiece(path.stem, piano.cut(read_midi(path), max_seconds), entry.source or str(path),
                                          manifest.licence))
    return pieces


def piano_table(rows: dict[str, list], pieces: list, rate: int) -> dict:
    """Note-onset precision / recall / F1 of each row's audio of the pieces (rows: {"FluidSynth":
    [audio per piece], "WaveNet": [...]}), per piece and the mean over pieces."""
    table = {}
    for name, clips in rows.items():
        if len(clips) != len(pieces):
            raise InputError(f"piano_table: row {name!r} has {len(clips)} renderings for {len(pieces)} pieces")
        per_piece = {piece.name: note_onset_f1(audio, rate, piece.midi) for piece, audio in zip(pieces, clips)}
        table[name] = {"pieces": per_piece, **{k: float(np.mean([s[k] for s in per_piece.values()]))
                                               for k in ("precision", "recall", "f1")}}
    return table


def format_piano_table(table: dict) -> str:
    """One markdown table: a row per renderer, note-onset F1 per piece and the mean P / R / F1."""
    names = list(next(iter(table.values()))["pieces"]) if table else []
    lines = ["| | " + " | ".join(f"F1 {n}" for n in names) + " | mean precision | mean recall | mean F1 |",
             "| --- |" + " ---: |" * (len(names) + 3)]
    for row, scores in table.items():
        cells = [f"{scores['pieces'][n]['f1']:.2f}" for n in names] + [f"{scores[k]:.2f}" for k in ("precision", "recall", "f1")]
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
