"""A read-speech corpus in the LJSpeech layout (``metadata.csv`` of ``id|text`` lines,
``wavs/<id>.flac``), e.g. Kathleen reading the CMU ARCTIC prompts, made ready for the text-to-mel
network: transcripts normalised, log-mel frames computed once with the model's MelFeatures, the
utterances split by PROMPT (``arctic_a0001`` from ``arctic_a0001_1592748574``: the takes of one
prompt share a split, so held-out sentences are never heard in training), cached as .npz; and
batches of utterances of similar length.
"""
from __future__ import annotations

import dataclasses
import json
import re
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from synth.audio import MelFeatures, read_audio
from synth.checkpoint import atomic_write
from synth.errors import InputError
from synth.models.tts import encode_characters
from synth.splits import SPLITS, prompt_id, prompt_split
from synth.tts.normalise import normalise


def read_metadata(corpus: Path) -> list[tuple[str, str]]:
    path = corpus / "metadata.csv"
    if not path.is_file():
        raise InputError(f"{path}: missing; a speech corpus folder holds metadata.csv (id|text lines) and wavs/")
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        if "|" not in line:
            raise InputError(f"{path}:{number}: expected 'id|text', got {line[:60]!r}")
        utterance, text = line.split("|", 1)
        rows.append((utterance.strip(), text.strip()))
    return rows


def compute_features(corpus: Path, out: Path, mel: MelFeatures, *, split_of: Callable[[str], str] = prompt_split,
                     max_seconds: float = 12.0, symbols: Callable[[list[str]], list[str]] | None = None,
                     phonemes: str = "", log: Callable[[str], None] = print) -> dict:
    """Normalise every transcript, write what the network reads of it (``symbols``: e.g. its
    phonemes, in the language ``phonemes`` that the manifest records; None reads the normalised
    characters), compute its log-mel frames once, split by prompt
    (``split_of(prompt id)``: by default the Kathleen prompt split the judges hold out, so the prompts the word error
    rate is measured on are never trained on), and cache the splits in ``out`` as .npz (no
    pickles) with a manifest of statistics."""
    rows = read_metadata(corpus)
    splits: dict[str, dict[str, list]] = {s: {"ids": [], "texts": [], "mels": []} for s in SPLITS}
    started, skipped = time.perf_counter(), []
    for i, (utterance, text) in enumerate(rows):
        audio_path = corpus / "wavs" / f"{utterance}.flac"
        if not audio_path.is_file():
            audio_path = audio_path.with_suffix(".wav")
        waveform, _ = read_audio(audio_path, mel.sample_rate)
        if len(waveform) > max_seconds * mel.sample_rate:
            skipped.append(utterance)
            continue
        frames = mel(torch.from_numpy(waveform)).T.contiguous().numpy()  # (F, n_mels)
        split = split_of(prompt_id(utterance))
        part = splits[split]
        part["ids"].append(utterance)
        part["texts"].append(normalise(text))
        part["mels"].append(frames.astype(np.float32))
        if (i + 1) % 200 == 0:
            log(f"features: {i + 1} / {len(rows)} utterances ({time.perf_counter() - started:.0f} s)")
    for part in splits.values():
        part["symbols"] = symbols(part["texts"]) if symbols is not None else list(part["texts"])
    out.mkdir(parents=True, exist_ok=True)
    for split, part in splits.items():
        lengths = np.array([len(m) for m in part["mels"]], dtype=np.int64)
        stacked = np.concatenate(part["mels"]) if part["mels"] else np.zeros((0, mel.n_mels), np.float32)  # (N, n_mels)
        np.savez(out / f"{split}.npz", mel=stacked,
                 offsets=np.concatenate([[0], np.cumsum(lengths)]), ids=np.array(part["ids"], dtype=str),
                 texts=np.array(part["texts"], dtype=str), symbols=np.array(part["symbols"], dtype=str))
    train_frames = np.concatenate(splits["train"]["mels"])  # (N, n_mels)
    prompts = {s: sorted({prompt_id(u) for u in splits[s]["ids"]}) for s in SPLITS}
    assert not (set(prompts["train"]) & (set(prompts["valid"]) | set(prompts["test"]))), "a prompt in two splits"
    manifest = {
        "corpus": str(corpus), "licence": licence(corpus), "mel": dataclasses.asdict(mel), "phonemes": phonemes,
        "split": {"by": "prompt id", "function": f"{split_of.__module__}.{split_of.__qualname__}"},
        "counts": {s: {"utterances": len(splits[s]["ids"]), "prompts": len(prompts[s]),
                       "seconds": round(sum(len(m) for m in splits[s]["mels"]) * mel.hop_length / mel.sample_rate, 1)}
                   for s in SPLITS},
        "skipped_longer_than_max_seconds": skipped,
        "mel_mean": train_frames.mean(0).round(5).tolist(), "mel_std": train_frames.std(0).round(5).tolist(),
        # A quiet frame: each band's 5th percentile (the noise floor between words).
        "mel_silence": np.percentile(train_frames, 5, axis=0).round(5).tolist(),
        # Frames per symbol the window reads (a character, or a phoneme): its speed and the step budget.
        "frames_per_char": round(len(train_frames) / sum(len(t) for t in splits["train"]["symbols"]), 4),
    }
    atomic_write(out / "manifest.json", json.dumps(manifest, indent=1).encode())
    log(json.dumps({k: manifest[k] for k in ("counts", "frames_per_char")}))
    return manifest


def licence(corpus: Path) -> str:
    """The licence's name from the corpus's LICENSE file: its first line naming a Creative
    Commons licence (CC0 1.0 Universal, CC BY 4.0, ...), else its first line."""
    path = corpus / "LICENSE"
    lines = [line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines()
             if line.strip()] if path.is_file() else []
    named = [line for line in lines if re.match(r"(CC0|CC[ -]BY|Creative Commons Attribution)", line)]
    return (named or lines or ["see the corpus folder"])[0]


def read_manifest(features: Path, mel: dict) -> dict:
    """The manifest of a features folder, refused when its mel parameters are not ``mel``."""
    path = features / "manifest.json"
    if not path.is_file():
        raise InputError(f"{path}: missing; run the features stage first")
    manifest = json.loads(path.read_text())
    if manifest["mel"] != mel:
        raise InputError(f"{path}: the cached features were computed with other mel parameters; "
                         "delete the folder and run the features stage again")
    return manifest


class MelCorpus:
    """One cached split: normalised texts, what the network reads of them (``symbols``), their
    log-mel frames, and batches of them."""

    def __init__(self, path: Path, characters: str, max_chars: int):
        with np.load(path, allow_pickle=False) as data:
            mel, offsets = torch.from_numpy(data["mel"]), data["offsets"]
            self.ids, self.texts = [str(s) for s in data["ids"]], [str(s) for s in data["texts"]]
            # (features cached before symbols were stored read the characters)
            self.symbols = [str(s) for s in data["symbols"]] if "symbols" in data.files else list(self.texts)
        self.mels = [mel[offsets[i]:offsets[i + 1]].T.contiguous() for i in range(len(self.ids))]  # (n_mels, F) each
        self.characters, self.max_chars = characters, max_chars
        self.n_frames = torch.tensor([m.shape[1] for m in self.mels])
        self.by_length = torch.argsort(self.n_frames)

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, indices: list[int]) -> dict:
        """{"chars" (B, U), "lengths" (B,), "mel" (B, n_mels, F) zero-padded, "n_frames" (B,)}."""
        chars, lengths = encode_characters([self.symbols[i] for i in indices], self.characters, self.max_chars)
        n_frames = self.n_frames[indices]
        mel = torch.zeros(len(indices), self.mels[0].shape[0], int(n_frames.max()))
        for row, i in enumerate(indices):
            mel[row, :, :n_frames[row]] = self.mels[i]
        return {"chars": chars, "lengths": lengths, "mel": mel, "n_frames": n_frames}

    def random_batch(self, generator: torch.Generator, batch_size: int, bucket: int = 3) -> dict:
        """batch_size utterances drawn from a random window of similar lengths (little padding)."""
        window = min(len(self), batch_size * bucket)
        start = int(torch.randint(0, len(self) - window + 1, (), generator=generator))
        chosen = torch.randperm(window, generator=generator)[:batch_size] + start
        return self.batch(self.by_length[chosen].tolist())

    def fixed_batches(self, n_batches: int, batch_size: int) -> list[dict]:
        """Held-out batches, the same at every evaluation: the split in length order, cut evenly."""
        order = self.by_length.tolist()
        n = min(len(order), n_batches * batch_size)
        picked = [order[round(i * (len(order) - 1) / max(1, n - 1))] for i in range(n)]
        return [self.batch(picked[i:i + batch_size]) for i in range(0, n, batch_size)]
