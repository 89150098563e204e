"""The IAM-OnDB corpus for handwriting synthesis, built from the distribution's archives as
downloaded: lines read, cleaned, normalised and split by writer -> ``{train,valid,test}.npz``
(``synth.handwriting.dataset.LineSet``) and ``manifest.json`` (vocabulary, statistics, what was
left out and why).

Preparation follows Graves (2013, section 4.1: steps longer than a threshold removed, the offsets
normalised) and sjvasquez/handwriting-synthesis (the baseline's slope turned level, lines whose ink
and text disagree left out), with one difference: strokes are resampled at a fixed spacing along
the pen path, so that a line costs about ten network steps a character whatever the digitiser's
rate, and a user's own strokes (from a browser canvas or a file) are brought to the same form by
the same function (``synth.handwriting.ink.normalise_ink``).
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.handwriting import iam
from synth.handwriting.dataset import LineSet, offset_statistics
from synth.handwriting.ink import normalise_ink
from synth.recipe import config_to_dict
from synth.splits import SPLITS, handwriting_split

LICENCE = ("IAM On-Line Handwriting Database (M. Liwicki and H. Bunke, \"IAM-OnDB - an On-Line English Sentence "
           "Database Acquired from Handwritten Text on a Whiteboard\", ICDAR 2005): non-commercial research use "
           "only. A model trained on it inherits these terms.")
#: Forms whose transcription is a placeholder ("Please Enter Transcription here"): a known-bad form
#: that sjvasquez/handwriting-synthesis also leaves out.
KNOWN_BAD_FORMS = frozenset({"z01-000z", "z01-000"})
#: IAM-OnDB's transcribers mark illegible or struck-out words with '#': such a line's text is not its ink.
ILLEGIBLE_MARK = "#"


@dataclasses.dataclass
class IamData:
    root: str = "../shared/data/iam-ondb"  # the distribution's folder (the solver reads both relative to the repository)
    out: str = "data/iam"  # where the prepared splits go (gitignored)
    valid_percent: int = 5  # of the writers (of the forms where the writer is unknown)
    test_percent: int = 6
    line_height: float = 1.0  # a line's 5-95 percentile height after normalisation
    point_spacing: float = 0.16  # between resampled pen points, in line heights (about 10 a character)
    max_chars: int = 64  # longer lines are left out of training (the model writes up to model.max_chars)
    max_points: int = 540
    min_char_count: int = 10  # characters seen fewer times in the training lines are not in the vocabulary
    points_per_char_band: tuple[float, float] = (0.4, 2.5)  # kept: this times the median points per character
    max_jump: float = 6.0  # a pen-up move longer than this many line heights is a stray mark: the line is left out



def archive(root: Path, stem: str) -> Path:
    """``stem``.tar.xz / .tar.gz / .tgz / .tar, or the extracted folder, whichever is there."""
    for candidate in (root / f"{stem}-all.tar.xz", root / f"{stem}-all.tar.gz", root / f"{stem}-all.tgz",
                      root / f"{stem}-all.tar", root / stem):
        if candidate.exists():
            return candidate
    raise InputError(f"{root}: neither {stem}-all.tar.gz (or .tar.xz) nor an extracted {stem}/ folder; "
                     "give the IAM-OnDB folder with data.root=PATH")


def build_iam_corpus(config: IamData, root: Path, out: Path, log=print) -> dict:
    """Read, clean, normalise and split IAM-OnDB from the distribution's folder ``root``; write
    ``{train,valid,test}.npz`` and ``manifest.json`` (vocabulary, statistics, what was left out and
    why) to ``out``."""
    writers = iam.read_writers(root / "writers.tsv") if (root / "writers.tsv").is_file() else {}
    lines, left_out_forms = iam.read_iam_ondb(archive(root, "lineStrokes"), archive(root, "ascii"))
    log(f"read {len(lines)} lines ({len(left_out_forms)} forms could not be paired)")
    dropped: Counter = Counter()
    kept = []
    for line in lines:
        text = iam.clean_transcription(line.text)
        if line.form_id in KNOWN_BAD_FORMS:
            dropped["known bad form"] += 1
        elif not text or ILLEGIBLE_MARK in text:
            dropped["illegible mark (#) or empty text"] += 1
        elif len(text) > config.max_chars:
            dropped[f"over {config.max_chars} characters"] += 1
        else:
            try:
                ink = normalise_ink(line.ink, target_height=config.line_height, spacing=config.point_spacing, align=True)
            except InputError:  # no points, or flat
                dropped["unusable ink (empty or flat)"] += 1
                continue
            offsets = ink.to_offsets() if ink.n_points >= 2 else None
            if offsets is None or len(offsets) > config.max_points:
                dropped[f"over {config.max_points} points"] += 1
                continue
            if np.abs(offsets[:, :2]).max() > config.max_jump * config.line_height:
                dropped["pen jump longer than max_jump line heights"] += 1
                continue
            writer = writers.get(line.form_id)
            key = f"writer {writer}" if writer else f"form {line.form_id}"
            kept.append((handwriting_split(key, config.valid_percent, config.test_percent), text, offsets,
                         writer or f"form:{line.form_id}", line.line_id))
    # Ink and text that disagree (a line's strokes paired with the wrong text, half a line
    # missing): far from the median points per character.
    ratios = np.array([len(o) / len(t) for _, t, o, _, _ in kept])
    median = float(np.median(ratios))
    low, high = config.points_per_char_band
    in_band = (ratios >= low * median) & (ratios <= high * median)
    dropped["points per character outside the band (text and ink disagree)"] += int((~in_band).sum())
    kept = [k for k, ok in zip(kept, in_band) if ok]
    counts = Counter(c for split, text, *_ in kept if split == "train" for c in text)
    alphabet = "".join(sorted(c for c, n in counts.items() if n >= config.min_char_count))
    rare = Counter()
    splits = {name: LineSet([], [], [], []) for name in SPLITS}
    for split, text, offsets, writer, line_id in kept:
        outside = set(text) - set(alphabet)
        if outside:
            rare.update(outside)
            dropped["characters outside the vocabulary"] += 1
            continue
        s = splits[split]
        s.offsets.append(offsets)
        s.texts.append(text)
        s.writers.append(writer)
        s.line_ids.append(line_id)
    if not splits["train"].offsets:
        raise InputError(f"{root}: no training lines left after cleaning ({dict(dropped)}); check data.* settings")
    out.mkdir(parents=True, exist_ok=True)
    for name, s in splits.items():
        s.save(out / f"{name}.npz")
    train_set = splits["train"]
    statistics = offset_statistics(train_set.offsets, train_set.texts)
    manifest = {
        "source": str(root), "licence": LICENCE, "data": config_to_dict(config), "alphabet": alphabet,
        "statistics": {**statistics, "line_height": config.line_height, "point_spacing": config.point_spacing},
        "splits": {name: {"lines": len(s), "writers": len(set(s.writers)), "points": int(sum(len(o) for o in s.offsets)),
                          "characters": int(sum(len(t) for t in s.texts))} for name, s in splits.items()},
        "left_out": {**dict(dropped), "forms that could not be paired": len(left_out_forms)},
        "characters_left_out_of_the_vocabulary": dict(sorted(rare.items())),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    log(json.dumps({k: manifest[k] for k in ("splits", "left_out", "statistics", "alphabet")}, indent=1))
    return manifest

