"""The one pipeline that turns utterances from any source into a speech corpus folder.

Every source (the Asterisk prompts, the Fish Fillets voice acting, a user's folder, LJSpeech,
VCTK) only lists :class:`Utterance` s; this module decodes each one, resamples it, trims long
silences, writes it as 16-bit WAV under ``wav/<speaker>/<key>.wav``, splits each speaker's
utterances into train/valid/test by a stable hash of their group (``synth.splits.split_groups``:
Kathleen's prompts land where the text-to-speech model and the judges have them), and writes the
manifest (``synth.corpora.manifest``). Files that cannot be used are listed in ``skipped`` with the reason.

Several sources can share one corpus folder: each is built as a *group* (``asterisk``,
``fillets``, ...). Rebuilding a group replaces that group's entries and keeps every other group's,
and a speaker keeps its ``speaker_id`` once it has one. A build is resumable: a clip whose WAV
is already in the manifest (same source, file present with its checksum) is not decoded again.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from synth.audio import read_audio, write_audio
from synth.corpora.manifest import (
    MANIFEST,
    Entry,
    Manifest,
    read_manifest,
    sha256_file,
    write_manifest,
)
from synth.errors import AudioError, InputError
from synth.splits import split_groups

SAMPLE_RATE = 16000
#: Longest clip a corpus takes, in seconds: longer files are skipped as "too long" (a corpus of
#: utterances has no business holding an hour-long recording in one clip; the longest Asterisk
#: prompt, demo-instruct, is 64-86 s).
MAX_CLIP_SECONDS = 120.0


@dataclasses.dataclass(frozen=True)
class SpeakerInfo:
    """Who a speaker is and on what terms their recordings may be used."""

    name: str            # corpus speaker name, e.g. "asterisk-en-allison"
    language: str        # ISO 639-1 code, "" when unknown
    licence: str         # e.g. "CC-BY-SA-3.0"
    attribution: str     # the credit the licence asks for


@dataclasses.dataclass
class Utterance:
    """One recording a source offers: where it is, who speaks, what is said."""

    speaker: str
    key: str                # unique per speaker; the WAV is written to wav/<speaker>/<key>.wav
    text: str
    language: str
    source: str             # original file (or package:path), kept in the entry for attribution
    #: A split fixed by the source ("train", "valid", "test"; "" = chosen by the corpus's hash
    #: split), e.g. LibriSpeech's test-other speakers are all test.
    split: str = ""
    #: Utterances sharing a group are always put in the same split ("" = the utterance alone, by
    #: its key), e.g. several takes of one prompt (the prompt id), so that no test sentence is heard
    #: in training. The split is a hash of this name.
    split_group: str = ""
    #: (sample_rate, max_seconds) -> mono float32 waveform at sample_rate; raises AudioError.
    #: None reads ``source`` as a sound file with synth.audio.read_audio.
    load: Callable[[int, float], np.ndarray] | None = None

    def waveform(self, sample_rate: int, max_seconds: float) -> np.ndarray:
        if self.load is not None:
            return self.load(sample_rate, max_seconds)
        return read_audio(self.source, sample_rate=sample_rate, max_seconds=max_seconds)[0]


def audio_file_loader(path: Path, source: str) -> Callable[[int, float], np.ndarray]:
    """A loader reading ``path`` with synth.audio.read_audio, whose errors name ``source`` (the
    file as its package names it) rather than where this machine unpacked it."""
    def load(sample_rate: int, max_seconds: float) -> np.ndarray:
        try:
            return read_audio(path, sample_rate=sample_rate, max_seconds=max_seconds)[0]
        except AudioError as error:
            raise AudioError(str(error).replace(str(path), source)) from None
    return load


# ----------------------------------------------------------------------------- silence trimming

@dataclasses.dataclass(frozen=True)
class SilenceTrim:
    """Energy-based trimming (librosa.effects.split): frames quieter than ``top_db`` below the
    clip's loudest frame are silence. Leading and trailing silence is cut to ``margin_seconds``,
    internal pauses longer than ``max_pause_seconds`` are shortened to that length (half kept
    after the speech before, half before the speech after). Non-silent frames are never cut."""

    top_db: float = 40.0            # conservative: only frames 40 dB below the peak are silence
    max_pause_seconds: float = 0.3
    margin_seconds: float = 0.05
    frame_seconds: float = 0.032
    hop_seconds: float = 0.008


@dataclasses.dataclass
class Trimmed:
    waveform: np.ndarray                 # (T',) the kept samples, in order
    kept: list[tuple[int, int]]          # [start, end) sample ranges of the input that were kept
    seconds_removed: float
    loudest_removed_db: float = -math.inf  # peak of the removed samples re the clip's peak (a check)


def trim_silence(waveform: np.ndarray, sample_rate: int, trim: SilenceTrim = SilenceTrim()) -> Trimmed:
    """Cut leading/trailing silence and shorten long internal pauses; see :class:`SilenceTrim`."""
    import librosa  # slow import; only corpus building needs it

    n = len(waveform)
    if n == 0 or not np.any(waveform):
        return Trimmed(np.zeros(0, np.float32), [], n / sample_rate)
    frame = max(1, round(trim.frame_seconds * sample_rate))
    hop = max(1, round(trim.hop_seconds * sample_rate))
    voiced = librosa.effects.split(waveform, top_db=trim.top_db, frame_length=frame, hop_length=hop)  # (K, 2)
    if len(voiced) == 0:
        return Trimmed(np.zeros(0, np.float32), [], n / sample_rate)
    margin = round(trim.margin_seconds * sample_rate)
    max_pause = round(trim.max_pause_seconds * sample_rate)
    kept = [[max(0, int(voiced[0][0]) - margin), int(voiced[0][1])]]
    for start, end in voiced[1:]:
        start, end = int(start), int(end)
        gap = start - kept[-1][1]
        if gap <= max_pause:            # a short pause stays as it is
            kept[-1][1] = end
        else:                           # a long one keeps max_pause: half after, half before
            kept[-1][1] += max_pause // 2
            kept.append([start - (max_pause - max_pause // 2), end])
    kept[-1][1] = min(n, kept[-1][1] + margin)
    ranges = [(s, e) for s, e in kept]
    out = np.concatenate([waveform[s:e] for s, e in ranges]).astype(np.float32)
    removed = np.ones(n, bool)
    for s, e in ranges:
        removed[s:e] = False
    peak = float(np.abs(waveform).max())
    loudest = float(np.abs(waveform[removed]).max()) if removed.any() else 0.0
    loudest_db = 20 * math.log10(loudest / peak) if loudest > 0 else -math.inf
    return Trimmed(out, ranges, (n - len(out)) / sample_rate, round(loudest_db, 1))


# ----------------------------------------------------------------------------- building

def _safe_part(text: str) -> str:
    """A path component made of letters, digits, '-', '_' and '.' (no '..', no separators)."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip(".")
    return cleaned or "_"


def clip_path(speaker: str, key: str) -> str:
    """Where an utterance's WAV lives, relative to the corpus folder."""
    return "/".join(["wav", _safe_part(speaker), *(_safe_part(p) for p in key.split("/") if p)]) + ".wav"


def _existing(folder: Path) -> Manifest | None:
    if not (folder / MANIFEST).is_file():
        return None
    return read_manifest(folder)


def build_corpus(utterances: Iterable[Utterance], folder: str | Path, *, group: str, speakers: dict[str, SpeakerInfo],
                 licence: str, name: str = "speech", sample_rate: int = SAMPLE_RATE, trim: SilenceTrim = SilenceTrim(),
                 seed: int | None = None, valid_fraction: float = 0.05, test_fraction: float = 0.05,
                 max_seconds: float = MAX_CLIP_SECONDS, skipped: Iterable[dict] = (), progress: bool = True,
                 checkpoint_every: int = 250, group_stats: dict | None = None) -> Manifest:
    """Build (or rebuild) ``group`` in the corpus at ``folder`` and write its manifest.

    ``speakers`` describes every speaker the utterances name; ``licence`` is this group's licence
    line; ``skipped`` lists files the source itself could not use ({"source", "reason"}), e.g.
    clips without a transcript; ``group_stats`` are extra numbers kept in ``stats.groups[group]``
    (e.g. how many transcripts matched). ``seed`` None splits by the group name alone (Kathleen's
    prompts as the text-to-speech model has them); another seed gives another split. Returns the
    manifest written.
    """
    from tqdm import tqdm

    started = time.perf_counter()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    utterances = list(utterances)
    previous = _existing(folder)
    if previous is not None and previous.sample_rate != sample_rate:
        raise InputError(f"{folder}: the corpus there is at {previous.sample_rate} Hz, not {sample_rate} Hz; "
                         "build into another folder or remove it first")
    previous_groups = previous.stats.get("groups", {}) if previous else {}
    stale = set(previous_groups.get(group, {}).get("speakers", [])) | set(speakers)
    unknown = sorted({u.speaker for u in utterances} - set(speakers))
    if unknown:
        raise InputError(f"utterances name speakers with no SpeakerInfo: {unknown[:5]}")

    # Keep every other group as it is; reuse this group's finished clips (resume).
    others = [e for e in previous.entries if e.speaker not in stale] if previous else []
    # Clips are reused only when they were made the same way (same trimming).
    same_recipe = previous_groups.get(group, {}).get("trim") == dataclasses.asdict(trim)
    reusable = {e.path: e for e in previous.entries if e.speaker in stale} if previous and same_recipe else {}
    old_trimmed = dict(previous.stats.get("trimmed_seconds", {})) if previous else {}
    other_skipped = [s for s in previous.skipped if s.get("group") != group] if previous else []
    speaker_names = list(previous.speakers) if previous else []
    for speaker in sorted({u.speaker for u in utterances}):
        if speaker not in speaker_names:
            speaker_names.append(speaker)

    made: list[tuple[Entry, float]] = []
    placement: dict[str, tuple[str, str]] = {}  # entry path -> (fixed split, split group)
    loudest_removed: dict[str, float] = {}   # speaker -> loudest removed sample, dB re its clip's peak
    bad = [{**s, "group": group} for s in skipped]
    seen_paths: dict[str, str] = {}

    def write_progress() -> None:  # a resumable snapshot: entries so far, all in train until the split
        snapshot = Manifest(name=name, sample_rate=sample_rate, licence=licence, speakers=speaker_names,
                            entries=others + [e for e, _ in made], skipped=other_skipped + bad,
                            stats={**(previous.stats if previous else {}),
                                   "groups": {**previous_groups, group: {"trim": dataclasses.asdict(trim), "partial": True}},
                                   "trimmed_seconds": {**old_trimmed, **{e.path: t for e, t in made}}})
        write_manifest(snapshot, folder)

    for n, u in enumerate(tqdm(utterances, desc=f"{name}/{group}", unit="clip", disable=not progress, mininterval=3), 1):
        rel = clip_path(u.speaker, u.key)
        if rel in seen_paths:
            bad.append({"source": u.source, "reason": f"duplicate key {u.key!r} for speaker {u.speaker} "
                        f"(already taken by {seen_paths[rel]})", "group": group})
            continue
        seen_paths[rel] = u.source
        if u.split and u.split not in ("train", "valid", "test"):
            raise InputError(f"{u.source}: split {u.split!r}; allowed: train, valid, test (or '' to let the corpus choose)")
        placement[rel] = (u.split, u.split_group or u.key)
        old = reusable.get(rel)
        if old is not None and old.source == u.source and (folder / rel).is_file() and rel in old_trimmed \
                and sha256_file(folder / rel) == old.sha256:
            entry = dataclasses.replace(old, text=u.text, language=u.language,
                                        speaker_id=speaker_names.index(u.speaker))
            made.append((entry, float(old_trimmed[rel])))
            continue
        try:
            wave = np.asarray(u.waveform(sample_rate, max_seconds), dtype=np.float32).reshape(-1)
            if not np.all(np.isfinite(wave)):
                raise AudioError(f"{u.source}: audio contains NaN or infinite samples")
            if len(wave) > max_seconds * sample_rate:
                raise AudioError(f"{u.source}: {len(wave) / sample_rate:.0f} s is longer than the "
                                 f"{max_seconds:.0f} s allowed for one clip")
            trimmed = trim_silence(wave, sample_rate, trim)
            if len(trimmed.waveform) < 0.05 * sample_rate:
                raise AudioError(f"{u.source}: nothing but silence ({len(wave) / sample_rate:.2f} s, "
                                 f"{1000 * len(trimmed.waveform) / sample_rate:.0f} ms left after trimming)")
        except AudioError as error:
            bad.append({"source": u.source, "reason": str(error), "group": group})
            continue
        write_audio(folder / rel, trimmed.waveform, sample_rate)
        entry = Entry(path=rel, sha256=sha256_file(folder / rel), seconds=round(len(trimmed.waveform) / sample_rate, 4),
                      split="train", speaker=u.speaker, speaker_id=speaker_names.index(u.speaker),
                      language=u.language, text=u.text, source=u.source)
        made.append((entry, round(trimmed.seconds_removed, 4)))
        loudest_removed[u.speaker] = max(loudest_removed.get(u.speaker, -math.inf), trimmed.loudest_removed_db)
        if checkpoint_every and n % checkpoint_every == 0:
            write_progress()

    # Splits: per speaker, by group, over the clips kept (a hash of the group name: input order doesn't matter).
    by_speaker: dict[str, list[Entry]] = {}
    for entry, _ in made:
        by_speaker.setdefault(entry.speaker, []).append(entry)
    for speaker, entries in by_speaker.items():
        entries.sort(key=lambda e: e.path)
        groups: dict[str, list[Entry]] = {}
        for entry in entries:
            fixed, group_key = placement[entry.path]
            if fixed:
                entry.split = fixed
            else:
                groups.setdefault(group_key, []).append(entry)
        for group_key, split in split_groups(groups, valid_fraction, test_fraction, seed).items():
            for entry in groups[group_key]:
                entry.split = split

    other_paths = {e.path for e in others}
    trimmed_seconds = {p: t for p, t in old_trimmed.items() if p in other_paths}
    trimmed_seconds.update({e.path: t for e, t in made})
    groups = {g: v for g, v in previous_groups.items() if g != group}
    groups[group] = {
        "licence": licence,
        "speakers": sorted(by_speaker),
        "clips": len(made),
        "minutes": round(sum(e.seconds for e, _ in made) / 60, 2),
        "trimmed_seconds": round(sum(t for _, t in made), 1),
        "skipped": len(bad),
        "build_seconds": round(time.perf_counter() - started, 1),
        "trim": dataclasses.asdict(trim),
        "seed": seed,
        **(group_stats or {}),
    }
    speaker_stats = dict(previous.stats.get("speakers", {})) if previous else {}
    previous_speaker_stats = dict(speaker_stats)
    for speaker in stale:
        speaker_stats.pop(speaker, None)
    for speaker, entries in sorted(by_speaker.items()):
        info = speakers[speaker]
        speaker_stats[speaker] = {
            "speaker_id": speaker_names.index(speaker), "group": group, "language": info.language,
            "licence": info.licence, "attribution": info.attribution, "clips": len(entries),
            "minutes": round(sum(e.seconds for e in entries) / 60, 2),
            "trimmed_seconds": round(sum(trimmed_seconds[e.path] for e in entries), 1),
            "splits": {s: sum(e.split == s for e in entries) for s in ("train", "valid", "test")},
        }
        # clips reused from an earlier run keep that run's figure
        loudest = max(loudest_removed.get(speaker, -math.inf),
                      previous_speaker_stats.get(speaker, {}).get("loudest_removed_db", -math.inf))
        if math.isfinite(loudest):
            speaker_stats[speaker]["loudest_removed_db"] = loudest
    entries = others + sorted((e for e, _ in made), key=lambda e: (e.speaker_id, e.path))
    all_skipped = other_skipped + bad
    stats = {
        "clips": len(entries),
        "minutes": round(sum(e.seconds for e in entries) / 60, 2),
        "trimmed_seconds_total": round(sum(trimmed_seconds.values()), 1),
        "skipped": len(all_skipped),
        "groups": groups,
        "speakers": speaker_stats,
        "trimmed_seconds": trimmed_seconds,
    }
    full_licence = "\n".join(v["licence"] for _, v in sorted(groups.items()))
    manifest = Manifest(name=name, sample_rate=sample_rate, licence=full_licence, entries=entries,
                        speakers=speaker_names, skipped=all_skipped, stats=stats)
    write_manifest(manifest, folder)
    _remove_orphans(folder, manifest)
    return manifest


def _remove_orphans(folder: Path, manifest: Manifest) -> None:
    """Delete WAVs under wav/ that no entry names (left by an earlier build of a changed source)."""
    wanted = {e.path for e in manifest.entries}
    for path in (folder / "wav").rglob("*.wav"):
        if path.relative_to(folder).as_posix() not in wanted:
            path.unlink()


def summary(manifest: Manifest, group: str | None = None) -> str:
    """A few lines for people: clips and minutes per speaker, silence trimmed, skipped files by reason."""
    stats = manifest.stats
    lines = [(f"{manifest.name}: {stats.get('clips', len(manifest.entries))} clips, {stats.get('minutes', 0)} min, "
              f"{stats.get('trimmed_seconds_total', 0)} s of silence trimmed, {len(manifest.skipped)} files skipped")]
    for speaker, s in manifest.stats.get("speakers", {}).items():
        if group is None or s.get("group") == group:
            lines.append(f"  [{s['speaker_id']:2d}] {speaker:28s} {s['language']:3s} {s['clips']:5d} clips "
                         f"{s['minutes']:7.2f} min  trimmed {s['trimmed_seconds']:7.1f} s  "
                         f"train/valid/test {s['splits']['train']}/{s['splits']['valid']}/{s['splits']['test']}"
                         + (f"  loudest cut {s['loudest_removed_db']} dB" if "loudest_removed_db" in s else ""))
    reasons: dict[str, int] = {}
    for s in manifest.skipped:
        if group is None or s.get("group") == group:
            kind = skip_kind(s["reason"])
            reasons[kind] = reasons.get(kind, 0) + 1
    for kind, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        lines.append(f"  skipped {count:4d}: {kind}")
    return "\n".join(lines)


def skip_kind(reason: str) -> str:
    """The reason without the file name, to count skipped files by kind."""
    for kind in ("no transcript", "minor character", "no character", "not a format a corpus takes",
                 "not a readable audio file", "empty", "longer than", "nothing but silence",
                 "damaged or truncated", "NaN or infinite", "duplicate key", "no audio file", "no such audio file"):
        if kind in reason:
            return kind
    return reason.split(": ", 1)[-1][:60]


def write_licences(manifest: Manifest, folder: str | Path) -> Path:
    """LICENCES.md beside the manifest: each group's licence and each speaker's credit."""
    lines = [f"# Licences and attributions of the `{manifest.name}` corpus", "",
             (f"Every clip here was decoded, resampled to {manifest.sample_rate} Hz and trimmed of long silences "
              "(leading and trailing silence cut, internal pauses shortened); the recordings were otherwise not "
              "modified. Keep this file with the clips and credit the speakers below wherever the clips or models "
              "trained on them are used."), ""]
    speaker_stats = manifest.stats.get("speakers", {})
    for group, info in sorted(manifest.stats.get("groups", {}).items()):
        lines += [f"## {group}", "", info["licence"], ""]
        for speaker in info["speakers"]:
            s = speaker_stats[speaker]
            lines.append(f"- `{speaker}` (speaker_id {s['speaker_id']}, {s['language'] or 'language unknown'}, "
                         f"{s['clips']} clips, {s['minutes']} min): {s['licence']}. {s['attribution']}")
        lines.append("")
    path = Path(folder) / "LICENCES.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
