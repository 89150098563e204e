"""Speech corpora from a user's own recordings, in the layouts people bring:

- ``folder``: WAV/FLAC/OGG files, one speaker (files directly in the folder, speaker named after
  the folder) or one speaker per sub-folder (speaker named after the sub-folder; files may sit in
  deeper folders). A transcript is taken from a ``.txt`` or ``.lab`` file of the same name beside
  the audio, when there is one.
- ``ljspeech``: ``metadata.csv`` with ``id|text|normalized text`` lines, audio ``wavs/<id>.wav``;
  one speaker; the normalized text is used when present.
  Audio may be ``wavs/<id>.flac`` (or .ogg) too. Takes of one prompt
  (``arctic_a0001_1592748574``, ``arctic_a0001_1592748585``: an id ending in ``_<take>`` digits
  after a prompt id) share a split group, so a held-out sentence is never heard in training.
- ``vctk``: ``wav48*/<speaker>/<speaker>_<n>.(wav|flac)`` (VCTK 0.92's ``_mic1``/``_mic2``
  pairs: mic1 is used) with ``txt/<speaker>/<speaker>_<n>.txt``.
- ``librispeech``: ``<subset>/.../<speaker>-<chapter>-<utt>.flac`` (the official
  ``<subset>/<speaker>/<chapter>/`` tree, or files directly in the subset folder, or
  ``<subset>/<speaker>/<file>.flac`` where the folder names the speaker), transcripts from
  ``<speaker>-<chapter>.trans.txt`` when present. The subset fixes the split: ``train-*`` train,
  ``dev-*`` valid, ``test-*`` test, so test speakers are never heard in training.

Each becomes a list of :class:`~synth.corpora.speech.Utterance` and goes through the one
pipeline in :mod:`synth.corpora.speech` (decode, resample, trim, split, write, manifest).
"""
from __future__ import annotations

import re
from pathlib import Path

from synth.corpora.manifest import Manifest
from synth.corpora.speech import SAMPLE_RATE, SpeakerInfo, Utterance, build_corpus
from synth.errors import InputError
from synth.splits import prompt_id

LAYOUTS = ("auto", "folder", "ljspeech", "vctk", "librispeech")
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg")
#: Sound files people keep beside their WAVs that a corpus does not take: listed as skipped, not ignored.
OTHER_SOUND_SUFFIXES = (".mp3", ".m4a", ".aac", ".wma", ".opus", ".aiff", ".aif", ".sph")


def _is_audio(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in AUDIO_SUFFIXES and not path.name.startswith(".")


def _speaker_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text).strip("._") or "speaker"


def _sidecar_text(audio: Path) -> str:
    for suffix in (".txt", ".lab"):
        side = audio.with_suffix(suffix)
        if side.is_file():
            return " ".join(side.read_text(encoding="utf-8", errors="replace").split())
    return ""


def detect_layout(source: Path) -> str:
    """``ljspeech`` (metadata.csv + wavs/), ``vctk`` (wav48*/ + txt/), ``librispeech``
    (train-*/dev-*/test-* subset folders) or ``folder``."""
    if (source / "metadata.csv").is_file() and (source / "wavs").is_dir():
        return "ljspeech"
    if (source / "txt").is_dir() and any(p.is_dir() for p in source.glob("wav48*")):
        return "vctk"
    if any(p.is_dir() and _LIBRISPEECH_SUBSET.match(p.name) for p in source.iterdir()):
        return "librispeech"
    return "folder"


def folder_utterances(source: Path, language: str = "") -> tuple[list[Utterance], list[dict]]:
    utterances = []
    skipped = [{"source": str(p), "reason": f"{p}: {p.suffix} is not a format a corpus takes; allowed: "
                f"{', '.join(AUDIO_SUFFIXES)} (convert it first)"}
               for p in sorted(source.rglob("*")) if p.is_file() and p.suffix.lower() in OTHER_SOUND_SUFFIXES]
    top_speaker = _speaker_name(source.resolve().name)
    for path in sorted(p for p in source.rglob("*") if _is_audio(p)):
        rel = path.relative_to(source)
        speaker = top_speaker if len(rel.parts) == 1 else _speaker_name(rel.parts[0])
        key = "/".join(rel.parts[1:] if len(rel.parts) > 1 else rel.parts)
        key = key.rsplit(".", 1)[0] + ("" if path.suffix.lower() == ".wav" else f"_{path.suffix.lower()[1:]}")
        utterances.append(Utterance(speaker=speaker, key=key, text=_sidecar_text(path), language=language,
                                    source=str(path)))
    return utterances, skipped


def ljspeech_utterances(source: Path, language: str = "en") -> tuple[list[Utterance], list[dict]]:
    metadata = source / "metadata.csv"
    speaker = _speaker_name(source.resolve().name)
    utterances, skipped, listed = [], [], set()
    for number, line in enumerate(metadata.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if len(fields) < 2 or not fields[0].strip():
            skipped.append({"source": f"{metadata}:{number}", "reason": f"{metadata}:{number}: malformed line "
                            f"(expected 'id|text|normalized text'): {line[:80]!r}"})
            continue
        clip_id = fields[0].strip()
        text = (fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]).strip()
        candidates = [source / "wavs" / f"{clip_id}{suffix}" for suffix in AUDIO_SUFFIXES]
        audio = next((c for c in candidates if c.is_file()), candidates[0])
        listed.update(c.name for c in candidates)
        if not audio.is_file():
            skipped.append({"source": str(audio), "reason": f"{audio}: no audio file for metadata.csv line {number} "
                            f"(looked for {', '.join(AUDIO_SUFFIXES)})"})
            continue
        utterances.append(Utterance(speaker=speaker, key=clip_id, text=text, language=language, source=str(audio),
                                    split_group=prompt_id(clip_id)))
    for audio in sorted((source / "wavs").glob("*")):
        if _is_audio(audio) and audio.name not in listed:
            skipped.append({"source": str(audio), "reason": f"{audio}: no transcript (not listed in metadata.csv)"})
    return utterances, skipped


_LIBRISPEECH_SUBSET = re.compile(r"^(train|dev|test)-[\w-]+$")
_LIBRISPEECH_NAME = re.compile(r"^(?P<speaker>\d+)-(?P<chapter>\d+)-(?P<utt>\d+)$")


_VCTK_NAME = re.compile(r"^(?P<speaker>[^_]+)_(?P<number>[^_]+?)(?:_mic(?P<mic>\d))?$")


def vctk_utterances(source: Path, language: str = "en") -> tuple[list[Utterance], list[dict]]:
    audio_roots = sorted(p for p in source.glob("wav48*") if p.is_dir())
    recordings: dict[tuple[str, str], list[Path]] = {}
    skipped = []
    for path in sorted(p for p in audio_roots[0].rglob("*") if _is_audio(p)) if audio_roots else []:
        m = _VCTK_NAME.match(path.stem)
        if m is None:
            skipped.append({"source": str(path), "reason": f"{path}: name is not <speaker>_<n>[_mic1|_mic2]"})
            continue
        recordings.setdefault((m["speaker"], m["number"]), []).append(path)
    utterances = []
    for (speaker, number), paths in sorted(recordings.items()):
        key = f"{speaker}_{number}"
        chosen = next((p for p in paths if p.stem.endswith("_mic1")), paths[0])
        skipped += [{"source": str(p), "reason": f"{p}: second recording of {key} ({chosen.name} used)"}
                    for p in paths if p != chosen]
        txt = source / "txt" / speaker / f"{key}.txt"
        if not txt.is_file():
            skipped.append({"source": str(chosen), "reason": f"{chosen}: no transcript (txt/{speaker}/{key}.txt missing)"})
            continue
        text = " ".join(txt.read_text(encoding="utf-8", errors="replace").split())
        utterances.append(Utterance(speaker=speaker, key=key, text=text, language=language, source=str(chosen)))
    return utterances, skipped


def librispeech_utterances(source: Path, language: str = "en") -> tuple[list[Utterance], list[dict]]:
    utterances, skipped = [], []
    subsets = sorted(p for p in source.iterdir() if p.is_dir() and _LIBRISPEECH_SUBSET.match(p.name))
    for subset in subsets:
        split = {"train": "train", "dev": "valid", "test": "test"}[subset.name.split("-", 1)[0]]
        transcripts: dict[str, str] = {}
        for trans in subset.rglob("*.trans.txt"):
            for line in trans.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, text = line.strip().partition(" ")
                if key:
                    transcripts[key] = text.strip()
        for path in sorted(p for p in subset.rglob("*") if _is_audio(p)):
            m = _LIBRISPEECH_NAME.match(path.stem)
            rel = path.relative_to(subset)
            if m is not None:
                speaker = m["speaker"]
            elif len(rel.parts) > 1 and rel.parts[0].isdigit():
                speaker = rel.parts[0]
            else:
                skipped.append({"source": str(path), "reason": f"{path}: name is not <speaker>-<chapter>-<utterance> "
                                "and no <speaker> folder holds it"})
                continue
            utterances.append(Utterance(speaker=f"librispeech-{speaker}", key=f"{subset.name}/{path.stem}",
                                        text=transcripts.get(path.stem, ""), language=language, source=str(path),
                                        split=split))
    return utterances, skipped


def build_from_layout(source: str | Path, out: str | Path, layout: str = "auto", licence: str = "",
                      language: str | None = None, *, group: str | None = None, speaker_licence: str = "",
                      attribution: str = "", **options) -> Manifest:
    """Build a corpus at ``out`` from a user's folder in one of :data:`LAYOUTS`, as corpus group
    ``group`` (default: the layout's name; several folders can share one corpus as groups).
    ``licence`` / ``speaker_licence`` / ``attribution`` are what the owner's terms say. ``options``
    go to :func:`synth.corpora.speech.build_corpus` (sample_rate, trim, seed, max_seconds, ...)."""
    source = Path(source)
    if not source.is_dir():
        raise InputError(f"{source}: no such folder (give the folder that holds the recordings)")
    if layout not in LAYOUTS:
        raise InputError(f"unknown layout {layout!r}; allowed: {', '.join(LAYOUTS)}")
    if layout == "auto":
        layout = detect_layout(source)
    if layout == "ljspeech" and not (source / "metadata.csv").is_file():
        raise InputError(f"{source}: an LJSpeech folder needs metadata.csv (lines 'id|text|normalized text') and wavs/")
    if layout == "vctk" and not any(p.is_dir() for p in source.glob("wav48*")):
        raise InputError(f"{source}: a VCTK folder needs wav48*/<speaker>/ audio and txt/<speaker>/ transcripts")
    if layout == "librispeech" and not any(p.is_dir() and _LIBRISPEECH_SUBSET.match(p.name) for p in source.iterdir()):
        raise InputError(f"{source}: a LibriSpeech folder needs subset folders such as train-clean-100/ or test-other/")
    reader = {"folder": folder_utterances, "ljspeech": ljspeech_utterances, "vctk": vctk_utterances,
              "librispeech": librispeech_utterances}[layout]
    utterances, skipped = reader(source, language) if language is not None else reader(source)
    if not utterances and not skipped:
        raise InputError(f"{source}: no audio files found ({', '.join(AUDIO_SUFFIXES)}) in the {layout} layout")
    licence = licence or f"User-supplied recordings from {source.resolve().name} ({layout} layout); licence not stated."
    speakers = {u.speaker: SpeakerInfo(name=u.speaker, language=u.language,
                                       licence=speaker_licence or "as stated by the owner",
                                       attribution=attribution or f"recordings from {source.resolve()}") for u in utterances}
    options.setdefault("sample_rate", SAMPLE_RATE)
    return build_corpus(utterances, out, group=group or layout, speakers=speakers, licence=licence, skipped=skipped,
                        name=options.pop("name", _speaker_name(source.resolve().name)), **options)
