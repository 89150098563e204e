"""The four polyphonic music benchmarks of Boulanger-Lewandowski, Bengio & Vincent (ICML 2012),
read from the MATLAB files that the published tables use (Bai et al. 2018 took the same files):
``JSB_Chorales.mat``, ``Nottingham.mat``, ``MuseData.mat``, ``Piano_midi.mat``.

Each file holds ``traindata``, ``validdata`` and ``testdata``: (1, N) object arrays of pieces, a
piece a (frames, 88) 0/1 array whose column k is MIDI key 21 + k. The authors built the rolls by
transposing each piece to C major or C minor and sampling a frame every eighth note (every
quarter note for the JSB chorales) on the beat of the source MIDI file (the data page of the
paper, www-etud.iro.umontreal.ca/~boulanni/icml2012). So the pieces already share a key, and the
frames of every set but JSB are eighth notes: a "bar" of 4/4 is 8 frames there, 4 in JSB.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from synth.errors import InputError
from synth.music.datasets import RollDataset
from synth.music.pianoroll import LOWEST_KEY, N_KEYS

SPLITS = ("train", "valid", "test")
MAT_KEYS = {"train": "traindata", "valid": "validdata", "test": "testdata"}
#: Where the recipes look when no folder is given: ``../shared/data/polyphonic-music`` beside the repository.
DEFAULT_FOLDER = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "polyphonic-music"
SOURCE = ("the piano rolls of Boulanger-Lewandowski, Bengio & Vincent (ICML 2012) with their train / valid / test "
          "splits, in the MATLAB files redistributed with Bai et al.'s TCN code (MIT licence)")


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """One of the four data sets: its file, what a frame is, and the licence of its scores."""

    name: str
    file: str
    title: str
    steps_per_quarter: int  # frames per quarter note: 1 for JSB, 2 (eighth notes) for the others
    beats_per_bar: int  # for counting bars when composing (the sets mix metres; 4 is the common one)
    tempo_bpm: float  # a default tempo to listen at (the rolls keep no tempo)
    pieces: str  # what the pieces are
    licence: str

    @property
    def time_step(self) -> str:
        return "a quarter note" if self.steps_per_quarter == 1 else f"1/{4 * self.steps_per_quarter} note (an eighth)"


BENCHMARKS = {
    "jsb": Benchmark("jsb", "JSB_Chorales.mat", "JSB Chorales", 1, 4, 80.0,
                     "382 four-part chorales harmonised by J. S. Bach, split as Allan & Williams (2005)",
                     "Bach's chorales are public domain compositions"),
    "nottingham": Benchmark("nottingham", "Nottingham.mat", "Nottingham", 2, 4, 120.0,
                            "about 1,000 British and American folk tunes with their chords, from the ABC files "
                            "of the Nottingham Music Database",
                            "traditional tunes; the ABC transcriptions of the Nottingham Music Database (E. Foxley) "
                            "under their own terms"),
    "musedata": Benchmark("musedata", "MuseData.mat", "MuseData", 2, 4, 100.0,
                          "orchestral and piano classical music from the MuseData library of CCARH (Stanford)",
                          "MuseData encodings (CCARH) under their own terms (research and education); the "
                          "compositions are public domain"),
    "piano": Benchmark("piano", "Piano_midi.mat", "Piano-midi.de", 2, 4, 100.0,
                       "classical piano pieces from piano-midi.de (Bernd Krueger), split as Poliner & Ellis (2007)",
                       "piano-midi.de files by Bernd Krueger under the site's own terms (Creative Commons, "
                       "attribution and share-alike); the compositions are public domain"),
}


def benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        raise InputError(f"unknown benchmark {name!r}; the four are: {', '.join(BENCHMARKS)}")
    return BENCHMARKS[name]


def benchmark_path(name: str, folder: str | Path | None = None) -> Path:
    """The .mat file of ``name`` in ``folder`` (default ``DEFAULT_FOLDER``), refused plainly when absent."""
    folder = Path(folder) if folder else DEFAULT_FOLDER
    path = folder / benchmark(name).file
    if not path.is_file():
        raise InputError(f"{path}: no such file; point the recipe at the folder holding "
                         f"{', '.join(b.file for b in BENCHMARKS.values())} (data.folder=...)")
    return path


def read_rolls(path: str | Path) -> dict[str, list[np.ndarray]]:
    """{split: [(T, 88) uint8 roll, ...]} from one benchmark file; a file of another shape is refused."""
    from scipy.io import loadmat

    try:
        mat = loadmat(str(path))
    except (OSError, ValueError, NotImplementedError) as error:
        raise InputError(f"{path}: not a readable MATLAB file ({error})") from None
    out = {}
    for split, key in MAT_KEYS.items():
        if key not in mat:
            raise InputError(f"{path}: no {key!r} array; a benchmark file holds {', '.join(MAT_KEYS.values())}")
        pieces = []
        for piece in np.asarray(mat[key]).reshape(-1):
            roll = np.asarray(piece)
            if roll.ndim != 2 or roll.shape[1] != N_KEYS or not np.isin(roll, (0, 1)).all():
                raise InputError(f"{path}: {key} holds a piece of shape {roll.shape}; expected (frames, {N_KEYS}) of 0/1")
            pieces.append(roll.astype(np.uint8))
        out[split] = pieces
    return out


def load_benchmark(name: str, folder: str | Path | None = None) -> RollDataset:
    """The benchmark ``name`` as a ``RollDataset`` with its published splits."""
    spec = benchmark(name)
    splits = read_rolls(benchmark_path(name, folder))
    rolls, names, labels = [], [], []
    for split in SPLITS:
        for i, roll in enumerate(splits[split]):
            rolls.append(roll)
            names.append(f"{name}-{split}-{i:04d}")
            labels.append(split)
    return RollDataset(rolls, names, labels, spec.steps_per_quarter, licence=f"{spec.pieces}: {spec.licence}")


def key_range(rolls: list[np.ndarray]) -> tuple[int, int]:
    """(lowest, highest) column that sounds anywhere in ``rolls`` (column k = MIDI key 21 + k)."""
    used = np.flatnonzero(np.any([r.any(0) for r in rolls], axis=0))
    if not len(used):
        raise InputError("no notes in these pieces")
    return int(used[0]), int(used[-1])


def midi_name(column: int) -> str:
    """A key's name with its octave, e.g. column 39 -> 'C4' (MIDI 60)."""
    import pretty_midi

    return pretty_midi.note_number_to_name(LOWEST_KEY + column)
