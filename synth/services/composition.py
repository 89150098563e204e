"""Composition: pieces from the LSTM composer (optionally continuing a primer MIDI file), as MIDI,
audio and a piano-roll picture, in a style (``synth.music.styles``): each style has its own bundled
composer (``assets/composer-<style>/``) and its own default tempo."""
from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable

import pretty_midi

from synth.errors import InputError
from synth.music.composition import Piece, compose as compose_pieces, primer_roll
from synth.services import bounds
from synth.services.bounds import COMMAND, Limits
from synth.music.styles import DEFAULT_STYLE, STYLES, Style, style as style_named
from synth.services.models import Role, load_model, missing_message
from synth.music.midi import MAX_MIDI_BYTES
from synth.services.piano import render_audio  # noqa: F401  (the faces render a piece through it)


@dataclasses.dataclass
class Composition:
    """Composed pieces and the grid they were composed on."""

    pieces: list[Piece]
    steps_per_bar: int
    beats_per_bar: int
    tempo_bpm: float

    def midi(self, index: int = 0) -> pretty_midi.PrettyMIDI:
        return self.pieces[index].to_midi()

    def save_midi(self, path: str | Path, index: int = 0) -> Path:
        from synth.music.midi import write_midi

        return write_midi(self.midi(index), path)

    def bars(self, index: int = 0) -> int:
        """Bars of the piece, the primer's included."""
        return len(self.pieces[index].roll) // self.steps_per_bar

    def primer_bars(self, index: int = 0) -> int:
        return self.pieces[index].primer_steps // self.steps_per_bar

    def picture(self, index: int = 0):
        """The piece's piano roll as a PIL image, the primer shaded."""
        from synth.music.picture import roll_image

        piece = self.pieces[index]
        return roll_image(piece.roll, primer_steps=piece.primer_steps, beats_per_bar=self.beats_per_bar)

    def save_picture(self, path: str | Path, index: int = 0) -> Path:
        from synth.music.picture import save_roll_png

        piece = self.pieces[index]
        return save_roll_png(piece.roll, path, primer_steps=piece.primer_steps, beats_per_bar=self.beats_per_bar)


def style_role(style: str | None = None) -> Role:
    """The model role of a style's bundled composer (its folder, else its older one); None = the
    default style. An unknown style is refused naming the styles there are."""
    chosen: Style = style_named(DEFAULT_STYLE if style is None else style)
    return Role(f"composer-{chosen.name}", chosen.folders, "composer", f"{chosen.name} composer")


def styles() -> list[Style]:
    """The styles a face offers, in order."""
    return list(STYLES.values())


def style_missing(style: str | None = None) -> str | None:
    """None when the style's composer is bundled, else a sentence naming the missing folder."""
    return missing_message(style_role(style))


def compose(*, style: str | None = None, bars: int = 16, batch_size: int = 1, temperature: float = 1.0,
            seed: int | None = None, tempo_bpm: float | None = None, primer: str | Path | bytes | None = None,
            primer_bars: int | None = None, max_silent_bars: float = 1.0, max_held_bars: float = 2.0,
            limits: Limits = COMMAND, checkpoint: str | Path | None = None, device: str = "auto",
            progress: Callable[[int, int], None] | None = None) -> Composition:
    """``batch_size`` pieces of ``bars`` new bars, after the first bars of ``primer`` (a MIDI file
    or its bytes) when one is given. ``progress(frames_done, frames_total)`` is called as it goes.

    style: a name in ``synth.music.styles.STYLES``: its bundled composer and its tempo (None = the
    default style, ``DEFAULT_STYLE``). checkpoint: a composer folder instead of the style's bundled
    one. tempo_bpm: None = the composer's own tempo (its checkpoint's metadata, as the bundle stage
    writes it), else the style's."""
    role = style_role(style)
    model = load_model(role, checkpoint, device)
    bars = bounds.check_whole_number(bars, "bars", 1, limits.composer_bars)
    batch_size = bounds.check_whole_number(batch_size, "the batch", 1, limits.composer_batch)
    if tempo_bpm is None:
        tempo_bpm = getattr(model, "metadata", {}).get("tempo_bpm") or style_named(style or DEFAULT_STYLE).tempo_bpm
    c = model.config
    roll = primer_roll(_primer_bytes(primer), c.steps_per_quarter, primer_bars, c.beats_per_bar) if primer is not None else None
    pieces = compose_pieces(model, bars=bars, batch_size=batch_size, temperature=float(temperature),
                            seed=bounds.check_seed(seed), primer=roll, tempo_bpm=float(tempo_bpm),
                            max_silent_bars=max_silent_bars, max_held_bars=max_held_bars, progress=progress)
    return Composition(pieces, c.steps_per_bar, c.beats_per_bar, float(tempo_bpm))


def _primer_bytes(primer: str | Path | bytes) -> bytes:
    """The primer file's bytes, read only when it is no larger than a MIDI file may be; messages
    call it "primer", never by the server's temporary path."""
    if isinstance(primer, (bytes, bytearray)):
        return bytes(primer)
    path = Path(primer)
    if not path.is_file():
        raise InputError(f"primer {path.name}: no such file; give a MIDI file (.mid)")
    size = path.stat().st_size
    if size > MAX_MIDI_BYTES:
        raise InputError(f"the primer is {size:,} bytes; a MIDI file may have at most {MAX_MIDI_BYTES:,}")
    return path.read_bytes()
