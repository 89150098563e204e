"""Where the bundled checkpoints live: the repository's assets/ folder, or $SYNTH_ASSETS."""
from __future__ import annotations

import os
from pathlib import Path

from synth.errors import CheckpointError

#: Bundled checkpoint folders by the name users see.
BUNDLED = {
    "wavenet-tiny": "wavenet-tiny",
    "wavenet-speakers": "wavenet-speakers",
    "wavenet-vocoder": "wavenet-vocoder",
    "wavenet-piano": "wavenet-piano",
    "composer": "composer",
    "handwriting": "handwriting",
}


def assets_root() -> Path:
    return Path(os.environ.get("SYNTH_ASSETS", Path(__file__).resolve().parents[1] / "assets"))


def bundled(name: str) -> Path:
    """The folder of a bundled checkpoint; a clear error when it is not there."""
    if name not in BUNDLED:
        raise CheckpointError(f"unknown bundled model {name!r}; bundled: {sorted(BUNDLED)}")
    path = assets_root() / BUNDLED[name]
    if not (path / "config.json").is_file():
        raise CheckpointError(f"the bundled model {name!r} is missing ({path} has no checkpoint); "
                              f"train it with its recipe or set SYNTH_ASSETS to a folder that has it")
    return path
