"""The Piano tab: a MIDI file played by the piano WaveNet from its piano roll (``play_midi``,
streamed), beside its FluidSynth rendering with a sampled piano (``render_midi``)."""
from __future__ import annotations

import gradio as gr

from synth.app import serving
from synth.app.page import WAVENET_CONCURRENCY, examples_file, model_line, seed_box
from synth.app.serving import (STREAM_CHUNK_SECONDS, live_chunk, live_label, request_dir, save_wav, stream, uploaded,
                               user_errors)
from synth.services.bounds import APP
from synth.services.models import chosen_temperature


@user_errors
def render_midi(midi_file: str | None):
    """The piece's piano roll and its FluidSynth rendering (a sampled piano, for comparison)."""
    from synth.services.piano import read_piece, render_fluidsynth, roll_picture

    midi = read_piece(uploaded(midi_file, "MIDI file"))
    audio, rate, licence = render_fluidsynth(midi)
    return (roll_picture(midi), save_wav(audio, rate, request_dir(), "fluidsynth.wav"),
            f"FluidSynth: {len(audio) / rate:.1f} s; {licence}")


@user_errors
def play_midi(midi_file: str | None, max_seconds: float, temperature: float, seed: int, progress=gr.Progress()):
    """The piece played by the piano WaveNet from its piano roll, streamed. Yields (chunk, WAV, status)."""
    from synth.services.piano import play, read_piece

    path = uploaded(midi_file, "MIDI file")
    audio = play(read_piece(path), max_seconds=max_seconds, temperature=temperature, seed=int(seed), limits=APP,
                 chunk_seconds=STREAM_CHUNK_SECONDS)
    waveform = yield from stream(audio, progress, "playing",
                                 lambda chunk, rate: (live_chunk(chunk, rate), gr.skip(), gr.skip()))
    rate = audio.sample_rate
    note = (f" (the piece is longer: its first {max_seconds:g} s were played; the limit is {APP.piano_seconds:g} s)"
            if audio.cut else "")
    yield gr.skip(), save_wav(waveform, rate, request_dir(), "piano_wavenet.wav"), f"{len(waveform) / rate:.1f} s{note}"


def piano_tab() -> gr.File:
    gr.Markdown("Play a MIDI file through the piano WaveNet (conditioned on the piece's piano roll), beside a "
                "FluidSynth rendering with a sampled piano for comparison.\n\n" + model_line("piano"))
    with gr.Row():
        with gr.Column():
            midi = gr.File(label="MIDI file (.mid, at most 4 MB)", file_types=[".mid", ".midi"], type="filepath",
                           elem_id="piano-midi")
            seconds = gr.Slider(1, APP.piano_seconds, value=10, step=1,
                                label=f"play at most this many seconds (limit {APP.piano_seconds:g})")
            temperature = gr.Slider(0.0, 2.0, value=chosen_temperature("piano"), step=0.05,
                                    label="temperature (0 = greedy; it starts at the model's own, chosen by its judges)")
            seed = seed_box()
            with gr.Row():
                go = gr.Button("Play", variant="primary", elem_id="piano-play")
                stop = gr.Button("Stop", variant="stop")
            examples = [p for p in (examples_file("c_major_scale.mid"), examples_file("bach_bwv269_bars1-4.mid")) if p]
            if examples:
                gr.Examples([[p] for p in examples], [midi], label="examples")
            roll = gr.Image(label="piano roll", type="pil", format="png", elem_id="piano-roll")
        with gr.Column():
            live = gr.Audio(label=live_label("piano WaveNet (streaming)"), streaming=serving.STREAMING, autoplay=True)
            wav = gr.Audio(label="piano WaveNet (WAV)", type="filepath", elem_id="piano-wav")
            status = gr.Markdown(elem_id="piano-status")
            fluid = gr.Audio(label="FluidSynth (sampled piano), for comparison", type="filepath", elem_id="fluidsynth-wav")
            fluid_status = gr.Markdown(elem_id="fluidsynth-status")
    go.click(render_midi, [midi], [roll, fluid, fluid_status], api_name="render_midi",
             concurrency_id="render", concurrency_limit=2)
    event = go.click(play_midi, [midi, seconds, temperature, seed], [live, wav, status], api_name="play_midi",
                     concurrency_id="wavenet", concurrency_limit=WAVENET_CONCURRENCY, show_progress_on=[wav])
    stop.click(None, None, None, cancels=[event], api_name=False)
    return midi
