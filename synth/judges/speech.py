"""Speech evaluation: ``speech_table`` scores rows of audio (original, Griffin-Lim, a vocoder, ...)
on the same clips with the judges (word error rate, STOI / PESQ, DNSMOS) and
``format_speech_table`` prints it as one markdown table; the held-out evaluation sets are picked
from paths by ``kathleen_heldout``, ``librispeech_test_other`` and ``asterisk_test``."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from synth.audio import read_audio
from synth.errors import InputError
from synth.judges import asr, quality
from synth.judges.asr import normalise_text
from synth.judges.runtime import JUDGE_SAMPLE_RATE, at_rate
from synth.splits import heldout_prompt, prompt_id

SPEECH_COLUMNS = (("wer", "word error rate"), ("stoi", "STOI"), ("pesq_wb", "PESQ (wb)"),
                  ("dnsmos_overall", "DNSMOS overall"), ("dnsmos_sig", "DNSMOS sig"), ("dnsmos_bak", "DNSMOS bak"),
                  ("active", "sound (not silence)"))


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
    references = [at_rate(r, rate) for r in references] if references is not None else None
    from_asr = [t is None or not normalise_text(t) for t in texts]
    if "wer" in measures:
        reference_texts = [asr.transcribe(r, JUDGE_SAMPLE_RATE) if heard else t
                           for r, t, heard in zip(references or [None] * n, texts, from_asr)]
    table = {}
    for name, clips in rows.items():
        clips = [at_rate(c, rate) for c in clips]
        wer, hypotheses = None, {}
        if "wer" in measures:
            # clips where the ASR heard no word in the original cannot be scored against it
            scored = [i for i in range(n) if not (name == reference_row and from_asr[i]) and reference_texts[i]]
            hypotheses = {i: asr.transcribe(clips[i], JUDGE_SAMPLE_RATE) for i in scored}
            wer = (asr.corpus_word_error_rate([reference_texts[i] for i in scored], [hypotheses[i] for i in scored])
                   if scored else None)
        fidelity = ([quality.stoi_pesq(r, c, JUDGE_SAMPLE_RATE) for r, c in zip(references, clips)]
                    if "stoi_pesq" in measures else [{}])
        scores = ([quality.dnsmos(c, JUDGE_SAMPLE_RATE) for c in clips] if "dnsmos" in measures
                  else [{"overall": None, "sig": None, "bak": None}])

        def mean(values: list) -> float | None:
            values = [v for v in values if v is not None]
            return float(np.mean(values)) if values else None

        table[name] = {"wer": wer, "stoi": mean([f.get("stoi") for f in fidelity]),
                       "pesq_wb": mean([f.get("pesq_wb") for f in fidelity]),
                       "dnsmos_overall": mean([q["overall"] for q in scores]),
                       "dnsmos_sig": mean([q["sig"] for q in scores]), "dnsmos_bak": mean([q["bak"] for q in scores]),
                       "clips": n, "transcripts": [hypotheses.get(i) for i in range(n)] if "wer" in measures else None}
    seconds = float(sum(len(r) for r in references) / JUDGE_SAMPLE_RATE) if references is not None else None
    return {"rows": table, "clips": n, "asr_reference_clips": int(sum(from_asr)) if "wer" in measures else 0,
            "seconds": seconds}


def format_speech_table(table: dict, title: str = "", columns: tuple[str, ...] | None = None) -> str:
    """One markdown table: a row per audio source, a column per judge ("-" where not measured);
    ``columns`` picks keys of SPEECH_COLUMNS (default all but "active", which babble tables ask for)."""
    labels = dict(SPEECH_COLUMNS)
    unknown = [c for c in columns or () if c not in labels]
    if unknown:
        raise InputError(f"format_speech_table: unknown columns {unknown}; allowed: {list(labels)}")
    shown = [(key, labels[key]) for key in columns] if columns else [(k, v) for k, v in SPEECH_COLUMNS if k != "active"]
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

