"""The one hash split (synth/splits.py): each rule reproduces, item for item, the split a bundled
model was trained on (the formulas those models were made with are written out here, apart from
the library), and the speech corpus splits Kathleen's prompts exactly as the text-to-speech model
and the judges do."""
import hashlib
import random
from pathlib import Path

import numpy as np
import pytest
import soundfile

from synth import judges
from synth.corpora import layouts
from synth.errors import InputError
from synth.splits import (
    HashSplit,
    handwriting_split,
    hash_split,
    heldout_prompt,
    prompt_id,
    prompt_split,
    shuffled_split,
    split_groups,
)

ROOT = Path(__file__).resolve().parents[1]
KATHLEEN_METADATA = ROOT.parent / "shared" / "data" / "speech-en-kathleen" / "metadata.csv"


# The formulas the bundled models were trained on, as they were written before synth/splits.py.

def trained_prompt_split(prompt: str) -> str:
    """synth.judges.prompt_split as the text-to-speech model was trained with it."""
    head, _, tail = prompt.rpartition("_")
    prompt = head if head and tail.isdigit() else prompt
    bucket = int.from_bytes(hashlib.sha256(prompt.encode("utf-8")).digest()[:8], "big") % 100
    return "test" if bucket < 5 else "valid" if bucket < 10 else "train"


def trained_hash_split(name: str, seed: int, valid_fraction: float, test_fraction: float) -> str:
    """synth.splits.hash_split / synth.corpora.piano.split_of as the chorales were split."""
    u = int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:8], "big") / 2 ** 64
    return "valid" if u < valid_fraction else "test" if u < valid_fraction + test_fraction else "train"


def trained_text_split(text: str, valid_percent: int = 5, test_percent: int = 5) -> str:
    """synth.handwriting.text.text_split (synthetic handwriting) and the IAM writer split."""
    bucket = int(hashlib.sha256(text.encode()).hexdigest()[:8], 16) % 100
    return "test" if bucket < test_percent else "valid" if bucket < test_percent + valid_percent else "train"


def kathleen_ids() -> list[str]:
    if not KATHLEEN_METADATA.is_file():
        pytest.skip(f"{KATHLEEN_METADATA}: not here")
    ids = [line.split("|", 1)[0] for line in KATHLEEN_METADATA.read_text(encoding="utf-8").splitlines() if "|" in line]
    assert len(ids) > 1000
    return ids


def synthetic_prompts() -> list[str]:
    rng = random.Random(0)
    prompts = [f"arctic_{s}{i:04d}" for s in "ab" for i in range(1, 1300)]
    prompts += [f"LJ{i // 100:03d}-{i % 100:04d}" for i in range(2000)]
    prompts += ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz-0123456789") for _ in range(rng.randint(3, 20)))
                for _ in range(3000)]
    return prompts


# ----------------------------------------------------------------------------- the prompt split

def test_prompt_split_is_the_split_the_tts_model_was_trained_on_for_every_kathleen_clip():
    ids = kathleen_ids()
    assert [prompt_split(i) for i in ids] == [trained_prompt_split(i) for i in ids]
    prompts = sorted({prompt_id(i) for i in ids})
    assert [prompt_split(p) for p in prompts] == [trained_prompt_split(p) for p in prompts]
    assert {prompt_split(p) for p in prompts} == {"train", "valid", "test"}


def test_prompt_split_is_the_trained_split_on_synthetic_prompts_and_their_takes():
    prompts = synthetic_prompts()
    assert [prompt_split(p) for p in prompts] == [trained_prompt_split(p) for p in prompts]
    takes = [f"arctic_a{i:04d}_{1592748500 + t}" for i in range(1, 1300) for t in range(3)]
    assert [prompt_split(t) for t in takes] == [trained_prompt_split(t) for t in takes]
    counts = {s: sum(prompt_split(p) == s for p in prompts) / len(prompts) for s in ("valid", "test")}
    assert abs(counts["valid"] - 0.05) < 0.01 and abs(counts["test"] - 0.05) < 0.01


def test_the_judges_hold_out_the_same_prompts_by_the_same_function():
    assert judges.prompt_split is prompt_split and judges.heldout_prompt is heldout_prompt
    assert judges.prompt_id is prompt_id is layouts.prompt_id


def test_a_take_follows_a_prompt_number():
    assert prompt_id("arctic_a0001_1592748574") == "arctic_a0001" and prompt_id("arctic_b0539") == "arctic_b0539"
    assert prompt_id("LJ001-0001") == "LJ001-0001"
    # A numbered clip of a speaker is not a take of a prompt called "speaker".
    assert prompt_id("speaker_0001") == "speaker_0001"


# ----------------------------------------------------------------------------- the speech corpus

def test_speech_corpus_groups_of_kathleen_land_where_prompt_split_puts_them():
    prompts = sorted({prompt_id(i) for i in kathleen_ids()})
    assert split_groups(prompts) == {p: prompt_split(p) for p in prompts}


def test_speech_corpus_groups_match_prompt_split_on_synthetic_prompts():
    prompts = synthetic_prompts()
    assert split_groups(prompts) == {p: prompt_split(p) for p in prompts}


def test_a_small_speaker_still_gets_a_valid_and_a_test_group():
    names = [f"utt{i:02d}" for i in range(12)]
    chosen = split_groups(names)
    assert set(chosen.values()) == {"train", "valid", "test"}
    assert split_groups(list(reversed(names))) == chosen  # input order does not matter
    moved = [n for n in names if chosen[n] != prompt_split(n)]  # only train groups move, at most one per part
    assert all(prompt_split(n) == "train" for n in moved) and len(moved) <= 2
    assert split_groups(names[:2]) == {n: prompt_split(n) for n in names[:2]}  # fewer than 3: the hash alone


def test_a_seed_gives_another_speech_split():
    names = [f"utt{i:03d}" for i in range(400)]
    assert split_groups(names, seed=1) != split_groups(names)
    assert split_groups(names, seed=1) == split_groups(names, seed=1)


def test_a_built_ljspeech_corpus_puts_each_take_where_prompt_split_puts_its_prompt(tmp_path):
    """End to end through synth.corpora: the vocoder never trains on a prompt the TTS holds out."""
    candidates = [f"arctic_a{i:04d}" for i in range(1, 400)]
    prompts = ([p for p in candidates if prompt_split(p) == "test"][:2] + [p for p in candidates if prompt_split(p) == "valid"][:2]
               + [p for p in candidates if prompt_split(p) == "train"][:4])
    rows = []
    for n, prompt in enumerate(prompts):
        for take in range(2):
            clip_id = f"{prompt}_{1592748500 + take}"
            tone = 0.5 * np.sin(2 * np.pi * (200 + 20 * n) * np.arange(4000) / 16000)
            (tmp_path / "kathleen" / "wavs").mkdir(parents=True, exist_ok=True)
            soundfile.write(tmp_path / "kathleen" / "wavs" / f"{clip_id}.flac", tone.astype(np.float32), 16000)
            rows.append(f"{clip_id}|Prompt {n}.")
    (tmp_path / "kathleen" / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    manifest = layouts.build_from_layout(tmp_path / "kathleen", tmp_path / "corpus", progress=False)
    assert len(manifest.entries) == 16
    for entry in manifest.entries:
        assert entry.split == prompt_split(Path(entry.path).stem) == trained_prompt_split(Path(entry.path).stem)


# ----------------------------------------------------------------------------- the other rules

def test_hash_split_keeps_the_chorale_and_piano_assignments():
    names = [f"bach/bwv{i}.{j}" for i in range(1, 700) for j in range(1, 4)]
    for seed, valid, test in ((0, 0.1, 0.1), (0, 0.05, 0.05), (3, 0.2, 0.1), (7, 0.05, 0.02)):
        assert [hash_split(n, seed, valid, test) for n in names] == [trained_hash_split(n, seed, valid, test) for n in names]


def test_handwriting_split_keeps_the_synthetic_and_iam_assignments():
    rng = random.Random(1)
    texts = [" ".join(rng.choice(["the", "old", "river", "kind", "words", "sings"]) for _ in range(rng.randint(2, 6)))
             + str(i) for i in range(3000)]
    writers = [f"writer {i}" for i in range(800)] + [f"form a{i:02d}-{i:03d}" for i in range(200)]
    assert [handwriting_split(t) for t in texts] == [trained_text_split(t) for t in texts]
    assert [handwriting_split(w, 5, 6) for w in writers] == [trained_text_split(w, 5, 6) for w in writers]
    assert [handwriting_split(w, 5, 2) for w in writers] == [trained_text_split(w, 5, 2) for w in writers]


def test_whole_percent_limits_are_exact_buckets():
    """5 + 2 percent is 7 buckets, not the float 0.07000000000000001."""
    rule = HashSplit(0.02, 0.05, seed=None, first="test", buckets=100)
    for name in (f"n{i}" for i in range(3000)):
        bucket = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big") % 100
        assert rule(name) == ("test" if bucket < 5 else "valid" if bucket < 7 else "train")


def test_bad_rules_are_refused_naming_what_is_allowed():
    with pytest.raises(InputError, match="split fractions"):
        hash_split("x", 0, 0.7, 0.5)
    with pytest.raises(InputError, match="whole multiples of 1/100"):
        HashSplit(0.025, 0.05, buckets=100)
    with pytest.raises(InputError, match="first must be one of"):
        HashSplit(0.1, 0.1, first="train")


def test_the_shuffled_split_of_wavenet_tiny_is_unchanged():
    items = list(range(40))
    order = list(range(40))
    random.Random(0).shuffle(order)
    assert shuffled_split(items, seed=0) == {"valid": order[:2], "test": order[2:4], "train": order[4:]}
    assert shuffled_split([1, 2]) == {"valid": [], "test": [], "train": [1, 2]}
