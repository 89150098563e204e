"""The one hash split: which of train / valid / test an item (a piece, a clip, a prompt, a line of
text) belongs to, fixed by its name alone, so a data set built twice, or grown, keeps every old
item where it was, on every machine (SHA-256, not Python's per-process salted ``hash()``).

:class:`HashSplit` is the rule: the first bytes of sha256(name) (or of sha256(f"{seed}:{name}"))
read as a number, taken modulo ``buckets``, give a position in [0, 1); the position's place on a
line cut into held-out parts and train decides the split.

Its parameters exist because bundled models were trained on splits fixed before there was one
rule, and a model's held-out items must stay held out (moving them would put evaluation items
into the next training run):

- :func:`hash_split` (seeded, the full 64-bit position, valid before test) is the rule for new
  data sets: the chorales and the other composer corpora, the piano corpus.
- :data:`PROMPT_SPLIT` (the name alone, 100 buckets, test before valid) is the Kathleen prompt
  split the text-to-speech model was trained on and the judges hold out; :func:`prompt_split`
  applies it to a prompt id, and the speech corpus (:func:`split_groups`) uses the same rule, so
  a vocoder never trains on a prompt the text-to-speech model holds out.
- :func:`handwriting_split` (4 bytes of the hash, 100 buckets, test first) is the split by text of
  the bundled synthetic handwriting model; the IAM-OnDB writers are split the same way (their
  prepared data predates this module and keeps its split).

:func:`shuffled_split` is not a hash split: the seeded shuffle that made the wavenet-tiny data set
(``recipes/wavenet_tiny_speech.py``), kept so that recipe makes the set its model was trained on.
"""
from __future__ import annotations

import dataclasses
import hashlib
import random
import re
from collections.abc import Iterable

from synth.errors import InputError

SPLITS = ("train", "valid", "test")
HELD_OUT = ("valid", "test")


@dataclasses.dataclass(frozen=True)
class HashSplit:
    """train / valid / test for a name by a stable hash (see the module's docstring).

    ``seed``: None hashes the name alone, an integer hashes f"{seed}:{name}" (another seed, another
    split). ``first``: the held-out part at the low end of the hash line. ``buckets``: the hash is
    read modulo this many buckets, so with 100 buckets the fractions are whole percents.
    ``hash_bytes``: how many leading bytes of the digest make the number.
    """

    valid_fraction: float
    test_fraction: float
    seed: int | None = 0
    first: str = "valid"
    buckets: int = 2 ** 64
    hash_bytes: int = 8

    def __post_init__(self):
        problems = []
        v, t = self.valid_fraction, self.test_fraction
        if not (0.0 <= v and 0.0 <= t and v + t <= 1.0):
            problems.append(f"split fractions must be at least 0 and sum to at most 1, got valid {v}, test {t}")
        if self.first not in HELD_OUT:
            problems.append(f"first must be one of {HELD_OUT}, got {self.first!r}")
        if not 1 <= self.hash_bytes <= 32 or not 1 <= self.buckets <= 256 ** self.hash_bytes:
            problems.append(f"buckets must be between 1 and 256 ** hash_bytes (1-32 bytes), got {self.buckets} "
                            f"and {self.hash_bytes}")
        elif self.buckets < 2 ** 53 and any(abs(f * self.buckets - round(f * self.buckets)) > 1e-6 for f in (v, t)):
            problems.append(f"with {self.buckets} buckets the fractions must be whole multiples of 1/{self.buckets}, "
                            f"got valid {v}, test {t}")
        if problems:
            raise InputError("; ".join(problems))

    @property
    def order(self) -> tuple[str, str, str]:
        """The parts from the low end of the hash line to the high end."""
        return (self.first, "test" if self.first == "valid" else "valid", "train")

    def position(self, name: str) -> float:
        """Where ``name`` falls on the hash line, in [0, 1)."""
        key = name if self.seed is None else f"{self.seed}:{name}"
        number = int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:self.hash_bytes], "big")
        return (number % self.buckets) / self.buckets

    def __call__(self, name: str) -> str:
        first, second, _ = self.order
        fraction = {"valid": self.valid_fraction, "test": self.test_fraction}
        # The limits are rounded to whole buckets and divided back, so that 5 + 2 percent is bucket 7
        # exactly (not 0.07000000000000001) and the 2 ** 64 bucket line keeps its float limits as given.
        first_limit = round(fraction[first] * self.buckets) / self.buckets
        second_limit = round((fraction[first] + fraction[second]) * self.buckets) / self.buckets
        position = self.position(name)
        return first if position < first_limit else second if position < second_limit else "train"


def hash_split(name: str, seed: int = 0, valid_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """'train', 'valid' or 'test' for ``name``: a uniform number u in [0, 1) from
    sha256(f"{seed}:{name}"), valid when u < valid_fraction, test when u < valid_fraction +
    test_fraction, else train. The rule for new data sets."""
    return HashSplit(valid_fraction, test_fraction, seed)(name)


# ----------------------------------------------------------------------------- prompts (speech)

#: Share of Kathleen's prompts held out for test, and for validation, by ``prompt_split``.
KATHLEEN_TEST_PERCENT = 5
KATHLEEN_VALID_PERCENT = 5
#: The prompt split the text-to-speech model was trained on: sha256(prompt id) modulo 100, test
#: below 5, valid below 10.
PROMPT_SPLIT = HashSplit(KATHLEEN_VALID_PERCENT / 100, KATHLEEN_TEST_PERCENT / 100, seed=None, first="test",
                         buckets=100)

#: An LJSpeech-style id that is one take of a prompt: the prompt id, then "_" and a take number.
_TAKE = re.compile(r"^(?P<prompt>.+[A-Za-z]\d+)_(?P<take>\d+)$")


def prompt_id(clip_id: str) -> str:
    """The prompt an LJSpeech-style clip id reads: ``arctic_a0001`` for ``arctic_a0001_1592748574``
    (several takes of one prompt), the id itself when it names no take (``LJ001-0001``,
    ``arctic_a0001``, ``speaker_0001``: a take follows a prompt number)."""
    take = _TAKE.match(clip_id)
    return take["prompt"] if take else clip_id


def prompt_split(prompt: str) -> str:
    """'train', 'valid' or 'test' for a prompt id (or a clip id: its take is dropped) by
    :data:`PROMPT_SPLIT`: every take of a prompt goes with it."""
    return PROMPT_SPLIT(prompt_id(prompt))


def heldout_prompt(prompt: str) -> bool:
    """True for the prompts held out for testing (about 5% of them); takes a clip id too."""
    return prompt_split(prompt) == "test"


def split_groups(names: Iterable[str], valid_fraction: float = 0.05, test_fraction: float = 0.05,
                 seed: int | None = None) -> dict[str, str]:
    """The split of each group of utterances (a prompt id, or a clip's own id) of one speaker:
    :data:`PROMPT_SPLIT`'s rule with these fractions (whole percents) and seed, so Kathleen's
    prompts land where the text-to-speech model and the judges have them.

    With 3 or more groups, a held-out part the hash left empty takes the train group nearest to it
    on the hash line, so a small speaker still has something to validate and test on; a speaker
    with thousands of groups never needs this, so the rule above holds for it exactly."""
    rule = dataclasses.replace(PROMPT_SPLIT, valid_fraction=valid_fraction, test_fraction=test_fraction, seed=seed)
    names = sorted(set(names))
    chosen = {name: rule(name) for name in names}
    if len(names) >= 3:
        for part in rule.order[:2]:
            if part not in chosen.values():
                train = [n for n in names if chosen[n] == "train"]
                chosen[min(train, key=lambda n: (rule.position(n), n))] = part
    return chosen


# ----------------------------------------------------------------------------- older rules kept

#: The split of handwriting: by text for the bundled synthetic handwriting model, by writer for
#: IAM-OnDB: sha256(name), first 4 bytes, modulo 100, test below test_percent, valid above it.
HANDWRITING_SPLIT = HashSplit(0.05, 0.05, seed=None, first="test", buckets=100, hash_bytes=4)


def handwriting_split(name: str, valid_percent: int = 5, test_percent: int = 5) -> str:
    """'train', 'valid' or 'test' by a hash of a line's text or a writer's key (so all lines of a
    writer land in one split, and the test lines come from people the model never saw)."""
    rule = dataclasses.replace(HANDWRITING_SPLIT, valid_fraction=valid_percent / 100, test_fraction=test_percent / 100)
    return rule(name)


def shuffled_split(items: list, valid_fraction: float = 0.05, test_fraction: float = 0.05,
                   seed: int = 0) -> dict[str, list]:
    """Shuffle with a fixed seed and cut into valid / test / train (the rest). With 3 or more
    items valid and test get at least one each; with fewer, everything is train. Only for the
    wavenet-tiny data set: adding an item moves others, which a hash split never does."""
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    if len(items) >= 3:
        n_valid, n_test = max(1, round(valid_fraction * len(items))), max(1, round(test_fraction * len(items)))
    else:
        n_valid = n_test = 0
    return {"valid": [items[i] for i in order[:n_valid]], "test": [items[i] for i in order[n_valid:n_valid + n_test]],
            "train": [items[i] for i in order[n_valid + n_test:]]}
