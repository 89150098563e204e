"""The one manifest format of every corpus synth builds (speech, piano, user folders).

A corpus is a folder with ``manifest.json``::

  {"format": "synth-corpus", "format_version": 1, "name", "sample_rate", "licence",
   "speakers": [names, index = speaker_id], "stats": {...}, "entries": [Entry...],
   "skipped": [{"source", "reason"}]}

Paths in entries are relative to the folder; every file has its SHA-256, so a damaged or
changed corpus is caught by ``verify``. Files that could not be used are listed in ``skipped``
with the reason (never silently dropped, never silently kept).
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

from synth.checkpoint import atomic_write
from synth.errors import InputError

FORMAT = "synth-corpus"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
SPLITS = ("train", "valid", "test")


@dataclasses.dataclass
class Entry:
    path: str                 # audio file (WAV, PCM16) relative to the corpus folder
    sha256: str
    seconds: float
    split: str                # train | valid | test
    speaker: str = ""
    speaker_id: int = 0
    language: str = ""
    text: str = ""
    source: str = ""          # where it came from (original file or score), for attribution
    roll: str = ""            # piano corpora: aligned piano roll (.npy) relative to the folder
    roll_sha256: str = ""


@dataclasses.dataclass
class Manifest:
    name: str
    sample_rate: int
    licence: str
    entries: list[Entry] = dataclasses.field(default_factory=list)
    speakers: list[str] = dataclasses.field(default_factory=list)
    skipped: list[dict] = dataclasses.field(default_factory=list)
    stats: dict = dataclasses.field(default_factory=dict)

    def split(self, name: str) -> list[Entry]:
        return [e for e in self.entries if e.split == name]

    def to_json(self) -> str:
        body = dataclasses.asdict(self)
        return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **body}, indent=1, ensure_ascii=False)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(manifest: Manifest, folder: str | Path) -> Path:
    path = Path(folder) / MANIFEST
    atomic_write(path, manifest.to_json().encode("utf-8"))
    return path


def read_manifest(folder: str | Path) -> Manifest:
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise InputError(f"{path}: no corpus manifest here (build the corpus with its recipe's prepare stage)")
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(body, dict) or body.get("format") != FORMAT or body.get("format_version") != FORMAT_VERSION:
        raise InputError(f"{path}: not a {FORMAT} v{FORMAT_VERSION} manifest")
    try:
        entries = [Entry(**e) for e in body["entries"]]
        manifest = Manifest(name=body["name"], sample_rate=int(body["sample_rate"]), licence=body["licence"],
                            entries=entries, speakers=list(body.get("speakers", [])),
                            skipped=list(body.get("skipped", [])), stats=dict(body.get("stats", {})))
    except (KeyError, TypeError) as error:
        raise InputError(f"{path}: malformed manifest ({error})") from None
    for e in manifest.entries:
        if e.split not in SPLITS:
            raise InputError(f"{path}: entry {e.path!r} has split {e.split!r}; allowed: {SPLITS}")
        if Path(e.path).is_absolute() or ".." in Path(e.path).parts:
            raise InputError(f"{path}: entry path {e.path!r} must stay inside the corpus folder")
    return manifest


def verify(folder: str | Path, manifest: Manifest | None = None) -> list[str]:
    """Problems found (missing files, checksum mismatches); empty when the corpus is intact."""
    folder = Path(folder)
    manifest = manifest or read_manifest(folder)
    problems = []
    for e in manifest.entries:
        for rel, expected in ((e.path, e.sha256), (e.roll, e.roll_sha256)):
            if not rel:
                continue
            path = folder / rel
            if not path.is_file():
                problems.append(f"{rel}: missing")
            elif sha256_file(path) != expected:
                problems.append(f"{rel}: checksum mismatch")
    return problems
