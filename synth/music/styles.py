"""The composer's styles: each names the data set its bundled composer learned from, the folder
the composer is bundled in (``assets/composer-<style>/``) and a tempo to play it at.

A service composes in a style with:

    s = style("folk")
    model = load_cached(bundled_checkpoint(s.folders), "composer")  # synth.bundled
    pieces = compose(model, bars=16, tempo_bpm=s.tempo_bpm, ...)    # synth.music.composition

``STYLES`` in order gives a page its choices: [(s.title, s.name) for s in STYLES.values()].
"""
from __future__ import annotations

import dataclasses

from synth.errors import InputError


@dataclasses.dataclass(frozen=True)
class Style:
    name: str  # what a user types: synth compose --style folk
    title: str  # what a page shows
    source: str  # the data set (synth.music.benchmarks) its composer learned from
    tempo_bpm: float  # quarter notes per minute to play it at
    description: str
    legacy_folder: str = ""  # an older bundled folder to fall back on while the style's own is not bundled

    @property
    def folder(self) -> str:
        """The bundled composer's folder under the assets folder."""
        return f"composer-{self.name}"

    @property
    def folders(self) -> tuple[str, ...]:
        """Folders to look for, first present wins: the shape of ``synth.bundled``'s roles
        (``bundled_checkpoint(style.folders)``)."""
        return (self.folder, self.legacy_folder) if self.legacy_folder else (self.folder,)


STYLES = {
    "chorales": Style("chorales", "Bach chorales", "jsb", 80.0,
                      "four-part chorales in the manner of J. S. Bach (JSB Chorales, a frame per quarter note)",
                      legacy_folder="composer"),
    "folk": Style("folk", "Folk tunes", "nottingham", 120.0,
                  "British and American folk tunes with chords (Nottingham, a frame per eighth note)"),
    "piano": Style("piano", "Classical piano", "piano", 100.0,
                   "classical piano music (Piano-midi.de, a frame per eighth note)"),
    "classical": Style("classical", "Classical (MuseData)", "musedata", 100.0,
                       "orchestral and piano classical music (MuseData, a frame per eighth note)"),
}
DEFAULT_STYLE = "chorales"


def style(name: str) -> Style:
    """The style called ``name``; an unknown name is refused with the ones there are."""
    if name not in STYLES:
        raise InputError(f"unknown style {name!r}; the styles are: {', '.join(STYLES)}")
    return STYLES[name]


def style_of_source(source: str) -> Style | None:
    """The style whose composer learns from the data set ``source`` (None for other data)."""
    return next((s for s in STYLES.values() if s.source == source), None)
