"""The Asterisk voice prompts (Debian ``asterisk-core-sounds-<lang>-g722``): one speaker per
language, 16 kHz G.722, with transcripts in ``asterisk-core-sounds-<lang>``. CC-BY-SA-3.0
(English: Allison Smith, Digium)."""
from __future__ import annotations

import gzip
import random
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from synth.errors import AudioError

LICENCE = ("Asterisk core sound prompts, voice of Allison Smith, (c) Digium, Inc., "
           "licensed CC-BY-SA-3.0; obtained from Debian's asterisk-core-sounds-en(-g722) packages.")
SAMPLE_RATE = 16000


def fetch_debian_package(name: str, into: Path) -> Path:
    """Download a Debian package with apt (no root needed) and unpack it under ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    marker = into / f".{name}.unpacked"
    if marker.exists():
        return into
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", name], cwd=tmp, check=True, capture_output=True)
        deb = next(Path(tmp).glob(f"{name}_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(into)], check=True)
    marker.touch()
    return into


def read_transcripts(path: Path) -> dict[str, str]:
    """``key: text`` lines (``;`` starts a comment); bracketed non-speech keys are dropped."""
    opener = gzip.open if path.suffix == ".gz" else open
    transcripts = {}
    with opener(path, "rt", encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.split(";", 1)[0].strip()
            if ":" not in line:
                continue
            key, text = (part.strip() for part in line.split(":", 1))
            if key and text and not text.startswith("["):
                transcripts[key] = text
    return transcripts


def decode_g722(path: Path) -> np.ndarray:
    """G.722 at 64 kbit/s -> float32 mono at 16 kHz in [-1, 1]."""
    import G722

    data = path.read_bytes()
    if not data:
        raise AudioError(f"{path}: empty G.722 file")
    pcm = np.asarray(G722.G722(SAMPLE_RATE, 64000).decode(data), dtype=np.float32)
    return pcm / 32768.0


def load_prompts(root: Path, language: str = "en", voice: str = "en_US_f_Allison") -> list[tuple[str, str, np.ndarray]]:
    """(key, transcript, waveform) for every transcribed prompt, after fetching the packages."""
    fetch_debian_package(f"asterisk-core-sounds-{language}-g722", root)
    fetch_debian_package(f"asterisk-core-sounds-{language}", root)
    transcripts = read_transcripts(root / f"usr/share/doc/asterisk-core-sounds-{language}/core-sounds-{language}.txt.gz")
    sounds = root / "usr/share/asterisk/sounds" / voice
    clips = []
    for path in sorted(sounds.rglob("*.g722")):
        key = str(path.relative_to(sounds).with_suffix(""))
        if key in transcripts:
            clips.append((key, transcripts[key], decode_g722(path)))
    return clips


def split_by_utterance(items: list, valid_fraction: float = 0.05, test_fraction: float = 0.05, seed: int = 0) -> dict[str, list]:
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    n_valid, n_test = max(1, round(valid_fraction * len(items))), max(1, round(test_fraction * len(items)))
    return {"valid": [items[i] for i in order[:n_valid]], "test": [items[i] for i in order[n_valid:n_valid + n_test]],
            "train": [items[i] for i in order[n_valid + n_test:]]}
