"""The Asterisk voice prompts (Debian ``asterisk-core-sounds-<lang>-g722``): one speaker per
language, 16 kHz G.722, with transcripts in ``asterisk-core-sounds-<lang>``
(``/usr/share/doc/asterisk-core-sounds-<lang>/core-sounds-<lang>.txt.gz``, lines ``key: text``).

Five voices, credited in the packages' copyright file (the same file in every one of them):

====  ===================  ==============================================  ============
lang  voice folder          speaker / credit                                licence
====  ===================  ==============================================  ============
en    en_US_f_Allison       Allison Smith; Digium, Inc.                     CC-BY-SA-3.0
es    es_MX_f_Allison       Allison Smith; Digium, Inc.                     CC-BY-SA-3.0
fr    fr_CA_f_June          June Wallack; translated by Clod Patry,         CC-BY-SA-3.0
                            Kristopher Lalletti, June Wallack
it    it_IT_m_Carlo         Carlo Flora; translated by Silvia Petrin        CC-BY-3.0
ru    ru_RU_f_IvrvoiceRU    provided by Maxim Topal (ivrvoice.ru); the      CC-BY-3.0
                            female speaker is not named
====  ===================  ==============================================  ============

The voice folder and the transcript file are found by unpacking, not assumed.
"""
from __future__ import annotations

import gzip
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from synth.corpora.speech import SpeakerInfo, Utterance
from synth.errors import AudioError, InputError

LANGUAGES = ("en", "fr", "it", "ru", "es")
SAMPLE_RATE = 16000
G722_BYTES_PER_SECOND = 8000    # 64 kbit/s; each byte decodes to two 16 kHz samples

#: Credits and licences per language, as the packages' copyright file states them.
CREDITS = {
    "en": ("Allison Smith", "CC-BY-SA-3.0",
           ("Asterisk core sound prompts (English), recorded by Allison Smith (theivrvoice.com), "
            "(c) 2003-2010 Allison Smith, financial contributions by Digium, Inc.")),
    "es": ("Allison Smith", "CC-BY-SA-3.0",
           ("Asterisk core sound prompts (Mexican Spanish), recorded by Allison Smith (theivrvoice.com), "
            "(c) 2003-2010 Allison Smith, financial contributions by Digium, Inc.")),
    "fr": ("June Wallack", "CC-BY-SA-3.0",
           ("Asterisk core sound prompts (Canadian French), recorded by June Wallack (junewallack.com), "
            "(c) 2006-2008 June Wallack; translated into French by Clod Patry, Kristopher Lalletti and "
            "June Wallack; financial contributions by Digium, Inc., Unlimitel, BGM Informatique.")),
    "it": ("Carlo Flora", "CC-BY-3.0",
           ("Asterisk core sound prompts (Italian), recorded by Carlo Flora (carloflora.com), (c) 2012 Carlo Flora "
            "(segreterietelefoniche.it); translated by Silvia Petrin from the English distributed by Digium.")),
    "ru": ("unnamed female speaker (ivrvoice.ru)", "CC-BY-3.0",
           "Asterisk core sound prompts (Russian), provided by Maxim Topal (ivrvoice.ru), (c) 2010 Maxim."),
}
LICENCE = ("Asterisk core sound prompts, voice of Allison Smith, (c) Digium, Inc., "
           "licensed CC-BY-SA-3.0; obtained from Debian's asterisk-core-sounds-en(-g722) packages.")


def fetch_debian_package(name: str, into: Path) -> Path:
    """Download a Debian package with apt (no root needed) and unpack it under ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    marker = into / f".{name}.unpacked"
    if marker.exists():
        return into
    with tempfile.TemporaryDirectory() as tmp:
        try:
            subprocess.run(["apt-get", "download", name], cwd=tmp, check=True, capture_output=True)
        except (OSError, subprocess.CalledProcessError) as error:
            detail = getattr(error, "stderr", b"") or b""
            raise InputError(f"could not download the Debian package {name} with apt-get "
                             f"(run 'apt-get update' once first?): {detail.decode(errors='replace').strip()[-300:]}") from None
        deb = next(Path(tmp).glob(f"{name}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)
    marker.touch()
    return into


_SYMBOL_NOTE = re.compile(r"\s*\[[^\w\]]*\]")   # "[@]", "[-]", "[ ]": the symbol a word names, not spoken


def read_transcripts(path: Path) -> dict[str, str]:
    """``key: text`` lines (a line starting with ``;`` is a comment; a ``;`` inside the text is
    text). A text that is wholly bracketed (``[beep tone]``) is non-speech and dropped; bracketed
    symbols after a word (``dash [-]``) are removed; bracketed words (``Il [suo] messaggio``) keep
    the word and lose the brackets."""
    opener = gzip.open if path.suffix == ".gz" else open
    transcripts = {}
    with opener(path, "rt", encoding="utf-8-sig", errors="replace") as f:
        for line in f:
            line = line.strip().lstrip("\ufeff")
            if not line or line.startswith(";") or ":" not in line:
                continue
            key, text = (part.strip() for part in line.split(":", 1))
            if not key or not text or (text.startswith("[") and text.endswith("]")):
                continue
            text = _SYMBOL_NOTE.sub("", text).replace("[", "").replace("]", "")
            text = " ".join(text.split())
            if text:
                transcripts[key] = text
    return transcripts


def decode_g722(path: Path, max_seconds: float | None = None) -> np.ndarray:
    """G.722 at 64 kbit/s -> float32 mono at 16 kHz in [-1, 1]."""
    import G722

    data = path.read_bytes()
    if not data:
        raise AudioError(f"{path}: the audio file is empty (0 samples)")
    if max_seconds is not None and len(data) / G722_BYTES_PER_SECOND > max_seconds:
        raise AudioError(f"{path}: {len(data) / G722_BYTES_PER_SECOND:.0f} s is longer than the "
                         f"{max_seconds:.0f} s allowed for one clip")
    pcm = np.asarray(G722.G722(SAMPLE_RATE, 64000).decode(data), dtype=np.float32)
    return pcm / 32768.0


def fetch(language: str, root: Path) -> Path:
    """Fetch (cached) and unpack both packages of one language under ``root``."""
    if language not in LANGUAGES:
        raise InputError(f"no Asterisk prompts for language {language!r}; available: {', '.join(LANGUAGES)}")
    fetch_debian_package(f"asterisk-core-sounds-{language}-g722", root)
    fetch_debian_package(f"asterisk-core-sounds-{language}", root)
    return root


def voice_folder(root: Path, language: str) -> Path:
    """The one ``usr/share/asterisk/sounds/<lang>_<REGION>_<sex>_<Name>`` folder of a language."""
    found = sorted(p for p in (root / "usr/share/asterisk/sounds").glob(f"{language}_*") if p.is_dir())
    if len(found) != 1:
        raise InputError(f"{root}: expected one Asterisk voice folder for {language!r}, found {[p.name for p in found]}")
    return found[0]


def transcript_file(root: Path, language: str) -> Path:
    found = sorted((root / f"usr/share/doc/asterisk-core-sounds-{language}").glob("core-sounds-*.txt*"))
    if not found:
        raise InputError(f"{root}: no transcript file core-sounds-{language}.txt(.gz) in asterisk-core-sounds-{language}")
    return found[0]


def speaker_name(voice: Path) -> str:
    """``fr_CA_f_June`` -> ``asterisk-fr-june``."""
    return "asterisk-" + voice.name.split("_")[0] + "-" + voice.name.split("_")[-1].lower()


def match_transcripts(keys: list[str], transcripts: dict[str, str]) -> dict[str, str]:
    """Clip key -> transcript key: exact first, then a unique case-insensitive match (the
    packages write ``letters/O`` for the clip ``letters/o`` and ``digits/1f`` for ``digits/1F``)."""
    matched = {k: k for k in keys if k in transcripts}
    taken = set(matched.values())
    unclaimed: dict[str, list[str]] = {}
    for t in transcripts:
        if t not in taken:
            unclaimed.setdefault(t.lower(), []).append(t)
    for k in keys:
        if k not in matched and len(unclaimed.get(k.lower(), [])) == 1 and \
                sum(other.lower() == k.lower() for other in keys) == 1:
            matched[k] = unclaimed[k.lower()][0]
    return matched


def prompt_utterances(root: Path, language: str) -> tuple[list[Utterance], list[dict], SpeakerInfo, dict]:
    """(utterances, skipped, speaker, counts) for one language's unpacked packages under ``root``."""
    voice = voice_folder(root, language)
    transcripts = read_transcripts(transcript_file(root, language))
    speaker = speaker_name(voice)
    name, licence, attribution = CREDITS[language]
    info = SpeakerInfo(name=speaker, language=language, licence=licence,
                       attribution=f"{attribution} Voice folder {voice.name}; speaker: {name}. "
                                   f"From Debian asterisk-core-sounds-{language}-g722.")
    paths = {str(p.relative_to(voice).with_suffix("")): p for p in sorted(voice.rglob("*.g722"))}
    matched = match_transcripts(list(paths), transcripts)
    utterances, skipped = [], []
    for key, path in paths.items():
        source = f"asterisk-core-sounds-{language}-g722:/{path.relative_to(root).as_posix()}"
        if key not in matched:
            skipped.append({"source": source, "reason": f"{source}: no transcript (non-speech tone or unlisted prompt)"})
            continue
        utterances.append(Utterance(speaker=speaker, key=key, text=transcripts[matched[key]], language=language,
                                    source=source, load=_g722_loader(path, source)))
    counts = {"clips": len(paths), "transcripts": len(transcripts), "matched": len(matched),
              "case_insensitive_matches": sum(k != t for k, t in matched.items())}
    return utterances, skipped, info, counts


def _g722_loader(path: Path, source: str):
    def load(sample_rate: int, max_seconds: float) -> np.ndarray:
        try:
            wave = decode_g722(path, max_seconds)
        except AudioError as error:  # name the packaged file, not where this machine unpacked it
            raise AudioError(str(error).replace(str(path), source)) from None
        if sample_rate != SAMPLE_RATE:
            import librosa

            wave = librosa.resample(wave, orig_sr=SAMPLE_RATE, target_sr=sample_rate).astype(np.float32)
        return wave
    return load


def load_prompts(root: Path, language: str = "en", voice: str | None = None) -> list[tuple[str, str, np.ndarray]]:
    """(key, transcript, waveform) for every transcribed prompt of one language, untrimmed, after
    fetching the packages (used by recipes/wavenet_tiny_speech.py)."""
    fetch(language, root)
    folder = root / "usr/share/asterisk/sounds" / voice if voice else voice_folder(root, language)
    transcripts = read_transcripts(transcript_file(root, language))
    paths = {str(p.relative_to(folder).with_suffix("")): p for p in sorted(folder.rglob("*.g722"))}
    matched = match_transcripts(list(paths), transcripts)
    return [(key, transcripts[matched[key]], decode_g722(path)) for key, path in paths.items() if key in matched]
