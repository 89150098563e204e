"""The Composer tab: a piece from the LSTM composer in a style (``compose``), as a piano roll,
MIDI and FluidSynth audio, which the Piano tab can then play through the piano WaveNet."""
from __future__ import annotations

import gradio as gr

from synth.app.page import examples_file, seed_box
from synth.app.serving import request_dir, save_wav, uploaded, user_errors
from synth.errors import SynthError
from synth.services import models
from synth.services.bounds import APP


def composer_styles() -> list[tuple[str, str]]:
    """(what the page shows, style name) for the style dropdown."""
    from synth.services.composition import styles

    return [(f"{s.title} ({s.name})", s.name) for s in styles()]


def style_line(style: str | None) -> str:
    """One line for the page: the style's composer and tempo, or that its composer is missing."""
    from synth.services.composition import style_missing, style_role, styles

    try:
        missing = style_missing(style)
    except SynthError as exc:
        return f"**{exc}**"
    if missing:
        return f"**Missing model.** {missing[0].upper() + missing[1:]}."
    chosen = next(s for s in styles() if s.name == style)
    return (f"{chosen.description[0].upper() + chosen.description[1:]}; played at {chosen.tempo_bpm:g} bpm by default. "
            f"Model: `{models.checkpoint_path(style_role(style)).name}` (its MODEL_CARD.md says how it was trained).")


def style_tempo(style: str | None) -> float:
    """The style's default tempo, for the tempo slider when a style is chosen."""
    from synth.services.composition import styles

    return next((s.tempo_bpm for s in styles() if s.name == style), 90.0)


@user_errors
def compose_piece(bars: int, temperature: float, seed: int, tempo: float, primer_file: str | None,
                  style: str | None = None, progress=gr.Progress()):
    """A piece from the LSTM composer in a style: (piano roll picture, MIDI file, FluidSynth audio, status)."""
    from synth.services.composition import compose
    from synth.services.piano import render_fluidsynth

    progress(0.0, desc="composing")
    piece = compose(style=style or None, bars=bars, temperature=temperature, seed=int(seed), tempo_bpm=tempo, limits=APP,
                    primer=uploaded(primer_file, "primer MIDI file", required=False),
                    progress=lambda done, total: progress(done / total, desc="composing"))
    folder = request_dir()
    midi_path = piece.save_midi(folder / "composition.mid")
    progress(1.0, desc="rendering")
    audio, rate, _ = render_fluidsynth(piece.midi())
    primer_note = f", after {piece.primer_bars()} primer bars" if piece.primer_bars() else ""
    return (piece.picture(), str(midi_path), save_wav(audio, rate, folder, "composition.wav"),
            f"{int(bars)} bars at {piece.tempo_bpm:g} bpm{primer_note}; audio rendered with FluidSynth (a sampled piano)")


def composer_tab(piano_midi: gr.File, tabs: gr.Tabs) -> None:
    from synth.services.composition import DEFAULT_STYLE

    gr.Markdown("Compose piano music with the LSTM composer in a style, each style with its own composer "
                "(optionally continuing a primer MIDI).")
    with gr.Row():
        with gr.Column():
            style = gr.Dropdown(composer_styles(), value=DEFAULT_STYLE, label="style", elem_id="composer-style")
            about = gr.Markdown(style_line(DEFAULT_STYLE), elem_id="composer-style-line")
            bars = gr.Slider(1, APP.composer_bars, value=8, step=1, label=f"bars (at most {APP.composer_bars})")
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature (0 = greedy)")
            seed = seed_box()
            tempo = gr.Slider(40, 200, value=style_tempo(DEFAULT_STYLE), step=1,
                              label="tempo (quarter notes per minute; each style sets its own)")
            primer = gr.File(label="primer MIDI (optional)", file_types=[".mid", ".midi"], type="filepath")
            with gr.Row():
                go = gr.Button("Compose", variant="primary", elem_id="compose")
                stop = gr.Button("Stop", variant="stop")
            primer_example = examples_file("bach_bwv269_bars1-4.mid")
            gr.Examples([[8, 1.0, 3, 90, None]] + ([[4, 0.8, 7, 80, primer_example]] if primer_example else []),
                        [bars, temperature, seed, tempo, primer], label="examples")
        with gr.Column():
            roll = gr.Image(label="piano roll (primer in grey)", type="pil", format="png", elem_id="composer-roll")
            midi = gr.File(label="MIDI", elem_id="composer-midi")
            audio = gr.Audio(label="audio (FluidSynth, sampled piano)", type="filepath", elem_id="composer-wav")
            status = gr.Markdown(elem_id="composer-status")
            send = gr.Button("Play it on the Piano tab (through the piano WaveNet)")
    style.change(lambda name: (style_line(name), style_tempo(name)), [style], [about, tempo], api_name=False)
    event = go.click(compose_piece, [bars, temperature, seed, tempo, primer, style], [roll, midi, audio, status],
                     api_name="compose", concurrency_id="composer", concurrency_limit=2)
    stop.click(None, None, None, cancels=[event], api_name=False)
    send.click(lambda path: (path, gr.Tabs(selected="piano")), [midi], [piano_midi, tabs], api_name=False)
