"""The synth app (Gradio): Speech (text to speech first), Piano, Handwriting and Composer tabs over the library.

    python3 app.py            # then open http://127.0.0.1:7860 (SYNTH_HOST / SYNTH_PORT to change)

Thin over the services (``synth.services``): every request goes to the service for its tab, under
the app's limits (``bounds.APP``); this file lays out the page, streams what comes back and turns
the library's typed errors into messages. Every function has a named API endpoint
(``gradio_client``); a shared queue bounds concurrent work. Uploads and everything written live in
the app's own temporary folder ($GRADIO_TEMP_DIR); requests naming any other file are refused.
"""
from __future__ import annotations

import functools
import inspect
import io
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

# Uploads and outputs go to one folder of the app's own (set before Gradio reads it).
os.environ.setdefault("GRADIO_TEMP_DIR", tempfile.mkdtemp(prefix="synth-app-"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no network: nothing is reported anywhere

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import soundfile  # noqa: E402

from synth.errors import InputError, SynthError  # noqa: E402
from synth.services import models  # noqa: E402
from synth.services.bounds import APP, MAX_SEED  # noqa: E402

log = logging.getLogger("synth.app")

APP_SPACE = Path(os.environ["GRADIO_TEMP_DIR"]).resolve()
EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
MAX_UPLOAD = "60mb"
#: WaveNet jobs running at once over all tabs (each uses both CPU cores at batch 1); others wait in the queue.
WAVENET_CONCURRENCY = 2
QUEUE_SIZE = 64
#: Outputs older than this are deleted (seconds).
KEEP_OUTPUTS_SECONDS = 3600
STREAM_CHUNK_SECONDS = 0.25


# --- plumbing: errors, files, streaming ---------------------------------------------------

def user_errors(fn):
    """Errors a user can cause become a message in the page (gr.Error); anything else is logged
    and reported without a traceback. Either way the server keeps answering."""
    def translate(exc: Exception) -> gr.Error:
        if isinstance(exc, gr.Error):
            return exc
        if isinstance(exc, SynthError):
            return gr.Error(str(exc), print_exception=False)
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"internal error ({type(exc).__name__}); the request was not completed", print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except GeneratorExit:
                raise
            except Exception as exc:
                raise translate(exc) from None
        return generator

    @functools.wraps(fn)
    def function(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise translate(exc) from None
    return function


def request_dir() -> Path:
    """A fresh folder for one request's outputs; old ones are swept."""
    outputs = APP_SPACE / "outputs"
    outputs.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in outputs.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_OUTPUTS_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return Path(tempfile.mkdtemp(dir=outputs))


def uploaded(path: str | None, what: str, required: bool = True) -> Path | None:
    """An uploaded file's path, refused unless it lies in the app's own temporary space (where
    Gradio puts uploads and examples); the bytes are only ever parsed as audio or MIDI."""
    if not path:
        if required:
            raise InputError(f"no {what} was given; upload one")
        return None
    resolved = Path(path).resolve()
    if not resolved.is_relative_to(APP_SPACE):
        raise InputError(f"the {what} must be uploaded; files elsewhere on the server cannot be read")
    return resolved


def wav_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, np.clip(samples, -1, 1), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


#: Gradio encodes streamed audio with ffmpeg (Debian package ffmpeg); without it the app still
#: works, showing each result when it is complete instead of as it is made.
STREAMING = shutil.which("ffmpeg") is not None


def live_chunk(samples: np.ndarray, sample_rate: int):
    return wav_bytes(samples, sample_rate) if STREAMING else gr.skip()


def live_label(label: str) -> str:
    return label if STREAMING else f"{label}: off, ffmpeg is not installed; the WAV below comes when it is done"


def save_wav(samples: np.ndarray, sample_rate: int, folder: Path, name: str) -> str:
    path = folder / name
    soundfile.write(str(path), np.clip(np.asarray(samples, np.float32), -1, 1), sample_rate, subtype="PCM_16")
    return str(path)


def save_png(picture, folder: Path, name: str) -> str:
    path = folder / name
    path.write_bytes(picture) if isinstance(picture, bytes) else picture.save(path)
    return str(path)


def stream(audio, progress, what: str, outputs):
    """Yields ``outputs(chunk)`` for each chunk of an ``AudioStream`` as it is made, reporting
    progress; returns the whole waveform at the end (``waveform = yield from stream(...)``)."""
    progress(0.0, desc=what)
    for chunk in audio:
        progress(audio.fraction, desc=f"{what}: {audio.samples_done:,} / {audio.total_samples:,} samples")
        yield outputs(chunk, audio.sample_rate)
    return audio.audio()


def model_line(role: str, label: str = "Model") -> str:
    """One line for the page: which checkpoint a tab uses, or that it is missing."""
    missing = models.missing_message(role)
    if missing:
        return f"**Missing model.** {missing[0].upper() + missing[1:]}."
    return f"{label}: `{models.checkpoint_path(role).name}` (its MODEL_CARD.md says how it was trained and how it sounds)."


# --- Speech ------------------------------------------------------------------------------

def speakers_of(role: str) -> list[str]:
    """The speakers of a role's model for a dropdown; [] when it has one voice or is missing."""
    from synth.services.speech import speakers

    try:
        return speakers(role)
    except SynthError:
        return []


@user_errors
def generate_speech(speaker: str | None, seconds: float, temperature: float, seed: int, progress=gr.Progress()):
    """Speech from the speech WaveNet, streamed as it is generated. Yields (chunk, WAV, spectrogram, status)."""
    from synth.services.speech import speak, spectrogram_image

    started = time.perf_counter()
    audio = speak(seconds=seconds, speaker=speaker or None, temperature=temperature, seed=int(seed), limits=APP,
                  chunk_seconds=STREAM_CHUNK_SECONDS)
    rate = audio.sample_rate
    waveform = yield from stream(audio, progress, "generating speech",
                                 lambda chunk, rate: (live_chunk(chunk, rate), gr.skip(), gr.skip(), gr.skip()))
    took = time.perf_counter() - started
    yield (gr.skip(), save_wav(waveform, rate, request_dir(), "speech.wav"), spectrogram_image(waveform, rate),
           f"{len(waveform) / rate:.2f} s at {rate} Hz in {took:.1f} s ({len(waveform) / took:,.0f} samples/s)")


#: What plays the text-to-mel network's frames: (what the page shows, the service's name in synth.services.tts.USES).
PLAYERS = [("WaveNet vocoder", "wavenet"), ("Griffin-Lim (no vocoder)", "griffin-lim")]


@user_errors
def say(text: str, player: str, seed: int, progress=gr.Progress()):
    """Text read aloud by the text-to-mel network, played by the WaveNet vocoder as the frames come
    (or through Griffin-Lim). Yields (chunk, WAV, mel spectrogram PNG, attention PNG, status)."""
    from synth.services.tts import say_stream

    speech = say_stream(text, use=player, seed=int(seed), limits=APP, chunk_seconds=STREAM_CHUNK_SECONDS)
    yield from stream(speech, progress, "saying",
                      lambda chunk, rate: (live_chunk(chunk, rate), gr.skip(), gr.skip(), gr.skip(), gr.skip()))
    result = speech.result()
    folder = request_dir()
    seconds = len(result.audio) / result.sample_rate
    failed = result.failed_sentences
    status = (f"{seconds:.2f} s, {len(result.sentences)} sentence(s) through {result.vocoder} in {result.seconds:.1f} s "
              f"(first audio after {result.first_audio_seconds:.2f} s); {result.retries} re-read"
              + (f"; still imperfect: {failed}" if failed else ""))
    yield (gr.skip(), save_wav(result.audio, result.sample_rate, folder, "say.wav"),
           str(result.write_mel_png(folder / "mel.png")), str(result.write_attention_png(folder / "attention.png")), status)


@user_errors
def resynthesise(clip: str | None, speaker: str | None, seed: int, progress=gr.Progress()):
    """A clip played back through the mel vocoder WaveNet, streamed. Yields (chunk, WAV, original
    spectrogram, result spectrogram, status)."""
    from synth.services.speech import resynthesise as resynthesise_clip, spectrogram_image

    audio = resynthesise_clip(uploaded(clip, "audio clip"), speaker=speaker or None, seed=int(seed), limits=APP,
                              chunk_seconds=STREAM_CHUNK_SECONDS)
    rate = audio.sample_rate
    original_picture = spectrogram_image(audio.original, rate)
    yield gr.skip(), gr.skip(), original_picture, gr.skip(), gr.skip()
    waveform = yield from stream(audio, progress, "resynthesising",
                                 lambda chunk, rate: (live_chunk(chunk, rate), gr.skip(), gr.skip(), gr.skip(), gr.skip()))
    yield (gr.skip(), save_wav(waveform, rate, request_dir(), "resynthesis.wav"), original_picture,
           spectrogram_image(waveform, rate), f"{len(waveform) / rate:.2f} s resynthesised at {rate} Hz")


# --- Piano -------------------------------------------------------------------------------

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


# --- Composer ----------------------------------------------------------------------------

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


# --- Handwriting -------------------------------------------------------------------------

NO_STYLE = "(none: the model's own hand)"


def handwriting_styles() -> list[tuple[str, bytes, str]]:
    """(name, PNG, caption) of the bundled styles; [] when there are none or they cannot be read."""
    from synth.services.handwriting import style_pictures

    try:
        return style_pictures()
    except SynthError as exc:  # a damaged styles file leaves the gallery empty; writing says why
        log.warning("styles: %s", exc)
        return []


def _written(request, progress, note: str = ""):
    """Run a handwriting request (a thunk over the service) and yield (ink PNG, [SVG, PNG, GIF,
    JSON], attention PNG, status); the ink is drawn in pen order before the files come."""
    from synth.services import handwriting

    progress(0.0, desc="writing")
    started = time.perf_counter()
    result = request()
    took = time.perf_counter() - started
    folder = request_dir()
    drawn = handwriting.drawing(result, frames=4)  # the pen's path, a quarter at a time
    for step, png in enumerate(drawn, 1):
        progress(step / (len(drawn) + 1), desc="drawing")
        yield save_png(png, folder, f"ink_{step}.png"), gr.skip(), gr.skip(), gr.skip()
    files = [str(handwriting.save_ink(result, folder / f"handwriting{suffix}")) for suffix in (".svg", ".png", ".gif", ".json")]
    attention = handwriting.attention_picture(result, folder / "attention.png")
    failed = [line.text for line in result.lines if line.failure]
    total = sum(ink.n_points for ink in handwriting.inks(result))
    status = (f"{len(result.lines)} line(s), {total} pen points in {took:.1f} s{note}; {result.retries} resampled"
              + (f"; still imperfect: {failed}" if failed else ""))
    yield files[1], files, str(attention) if attention else None, status


@user_errors
def write_handwriting(text: str, style: str | None, bias: float, seed: int, progress=gr.Progress()):
    """Text to handwriting with the Graves synthesis network, in a bundled style or none."""
    from synth.services import handwriting

    yield from _written(lambda: handwriting.write(text, style=None if style in (None, "", NO_STYLE) else style,
                                                  bias=bias, seed=int(seed), record=True, limits=APP), progress)


@user_errors
def write_in_my_hand(strokes: str, written: str, text: str, bias: float, seed: int, progress=gr.Progress()):
    """The text continued in the hand of a line the user wrote on the canvas (Graves 2013, 5.5):
    strokes JSON (the canvas's), the words written there, the text to write."""
    from synth.services import handwriting

    yield from _written(lambda: handwriting.write(text, strokes=strokes or "", style_text=written, bias=bias,
                                                  seed=int(seed), record=True, limits=APP),
                        progress, note=", in your hand")


def handwriting_terms() -> str:
    """The model's data terms for the page (IAM-OnDB: non-commercial research use only)."""
    from synth.services.handwriting import data_terms

    terms = data_terms()
    return f"Data and licence: {terms}" if terms else ""


# --- what is loaded ------------------------------------------------------------------------

@user_errors
def models_info() -> dict:
    """Which bundled checkpoints this app found, for API users and the page."""
    from synth.device import pick_device

    return {"assets": str(models.assets_dir()), "device": str(pick_device()),
            "models": {role: models.model_status(role) for role in models.ROLES}}


# --- the page ----------------------------------------------------------------------------

def _seed(value: int = 0) -> gr.Number:
    return gr.Number(value=value, precision=0, minimum=0, maximum=MAX_SEED, label="seed")


def _examples_file(name: str) -> str | None:
    path = EXAMPLES / name
    return str(path) if path.is_file() else None


def say_section() -> None:
    """The Speech tab opens here: type text, hear it."""
    gr.Markdown("Type text and hear it: the text-to-mel network reads it with Graves's attention window and the "
                "WaveNet vocoder plays the frames as they come.\n\n" + model_line("tts", "Text to mel")
                + "\n\n" + model_line("vocoder", "Vocoder"))
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label=f"text (at most {APP.tts_chars} characters)", value="The birch canoe slid on the smooth planks.",
                              lines=3, max_lines=8, elem_id="say-text")
            player = gr.Radio(PLAYERS, value="wavenet", label="played by", elem_id="say-player")
            seed = _seed()
            with gr.Row():
                go = gr.Button("Say it", variant="primary", elem_id="say")
                stop = gr.Button("Stop", variant="stop")
            gr.Examples([["Hello! It is 3 pm, and the tea costs $5.", "wavenet", 1]], [text, player, seed],
                        label="examples")
        with gr.Column():
            live = gr.Audio(label=live_label("speech (streaming as it is read)"), streaming=STREAMING, autoplay=True,
                            elem_id="say-stream")
            wav = gr.Audio(label="speech (WAV)", type="filepath", elem_id="say-wav")
            mel = gr.Image(label="mel spectrogram", type="filepath", elem_id="say-mel")
            attention = gr.Image(label="attention: which character the window reads at each step", type="filepath",
                                 elem_id="say-attention")
            status = gr.Markdown(elem_id="say-status")
    event = go.click(say, [text, player, seed], [live, wav, mel, attention, status], api_name="say",
                     concurrency_id="wavenet", concurrency_limit=WAVENET_CONCURRENCY, show_progress_on=[wav])
    stop.click(None, None, None, cancels=[event], api_name=False)


def speech_tab() -> None:
    say_section()
    speakers = speakers_of("speech")
    gr.Markdown("### Babble with the speech WaveNet\nSpeech-like sound with no text, from the unconditioned "
                "speech WaveNet.\n\n" + model_line("speech"))
    with gr.Row():
        with gr.Column():
            speaker = gr.Dropdown(speakers, value=speakers[0] if speakers else None, allow_custom_value=True,
                                  label="speaker" + ("" if speakers else " (this model has one voice)"),
                                  interactive=bool(speakers))
            seconds = gr.Slider(0.1, APP.speech_seconds, value=1.0, step=0.1, label=f"seconds (at most {APP.speech_seconds:g})")
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature (0 = greedy)")
            seed = _seed()
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="speech-generate")
                stop = gr.Button("Stop", variant="stop")
            gr.Examples([[speakers[0] if speakers else None, 1.0, 1.0, 1], [speakers[-1] if speakers else None, 2.0, 0.9, 7]],
                        [speaker, seconds, temperature, seed], label="examples")
        with gr.Column():
            live = gr.Audio(label=live_label("speech (streaming as it is generated)"), streaming=STREAMING, autoplay=True,
                            elem_id="speech-stream")
            wav = gr.Audio(label="speech (WAV)", type="filepath", elem_id="speech-wav")
            picture = gr.Image(label="spectrogram", type="pil", format="png", elem_id="speech-spectrogram")
            status = gr.Markdown(elem_id="speech-status")
    event = go.click(generate_speech, [speaker, seconds, temperature, seed], [live, wav, picture, status],
                     api_name="generate_speech", concurrency_id="wavenet", concurrency_limit=WAVENET_CONCURRENCY,
                     show_progress_on=[wav])  # the streaming player stays visible
    stop.click(None, None, None, cancels=[event], api_name=False)

    gr.Markdown("### Resynthesis through the vocoder\nUpload or record a clip (WAV, FLAC or OGG, at most "
                f"20 s): its log-mel spectrogram is played back through the mel vocoder WaveNet.\n\n"
                + model_line("vocoder"))
    voices = speakers_of("vocoder")
    with gr.Row():
        with gr.Column():
            clip = gr.Audio(sources=["upload", "microphone"], type="filepath", label="original", elem_id="clip")
            vocoder_speaker = gr.Dropdown(voices, value=voices[0] if voices else None, allow_custom_value=True,
                                          label="vocoder speaker" + ("" if voices else " (none)"), interactive=bool(voices))
            vocoder_seed = _seed()
            with gr.Row():
                resynth = gr.Button("Resynthesise", variant="primary", elem_id="resynthesise")
                stop_resynth = gr.Button("Stop", variant="stop")
            original_picture = gr.Image(label="original: spectrogram", type="pil", format="png", elem_id="original-spectrogram")
            example_clip = _examples_file("welcome_allison.wav")
            if example_clip:
                gr.Examples([[example_clip]], [clip], label="example clip (Asterisk prompts, Allison Smith, CC-BY-SA-3.0)")
        with gr.Column():
            result_live = gr.Audio(label=live_label("resynthesis (streaming)"), streaming=STREAMING, autoplay=True)
            result_wav = gr.Audio(label="resynthesis (WAV)", type="filepath", elem_id="resynthesis-wav")
            result_picture = gr.Image(label="resynthesis: spectrogram", type="pil", format="png", elem_id="resynthesis-spectrogram")
            result_status = gr.Markdown(elem_id="resynthesis-status")
    event = resynth.click(resynthesise, [clip, vocoder_speaker, vocoder_seed],
                          [result_live, result_wav, original_picture, result_picture, result_status],
                          api_name="resynthesise", concurrency_id="wavenet", concurrency_limit=WAVENET_CONCURRENCY,
                          show_progress_on=[result_wav])
    stop_resynth.click(None, None, None, cancels=[event], api_name=False)


def piano_tab() -> gr.File:
    gr.Markdown("Play a MIDI file through the piano WaveNet (conditioned on the piece's piano roll), beside a "
                "FluidSynth rendering with a sampled piano for comparison.\n\n" + model_line("piano"))
    with gr.Row():
        with gr.Column():
            midi = gr.File(label="MIDI file (.mid, at most 4 MB)", file_types=[".mid", ".midi"], type="filepath",
                           elem_id="piano-midi")
            seconds = gr.Slider(1, APP.piano_seconds, value=10, step=1,
                                label=f"play at most this many seconds (limit {APP.piano_seconds:g})")
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature (0 = greedy)")
            seed = _seed()
            with gr.Row():
                go = gr.Button("Play", variant="primary", elem_id="piano-play")
                stop = gr.Button("Stop", variant="stop")
            examples = [p for p in (_examples_file("c_major_scale.mid"), _examples_file("bach_bwv269_bars1-4.mid")) if p]
            if examples:
                gr.Examples([[p] for p in examples], [midi], label="examples")
            roll = gr.Image(label="piano roll", type="pil", format="png", elem_id="piano-roll")
        with gr.Column():
            live = gr.Audio(label=live_label("piano WaveNet (streaming)"), streaming=STREAMING, autoplay=True)
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
            seed = _seed()
            tempo = gr.Slider(40, 200, value=style_tempo(DEFAULT_STYLE), step=1,
                              label="tempo (quarter notes per minute; each style sets its own)")
            primer = gr.File(label="primer MIDI (optional)", file_types=[".mid", ".midi"], type="filepath")
            with gr.Row():
                go = gr.Button("Compose", variant="primary", elem_id="compose")
                stop = gr.Button("Stop", variant="stop")
            primer_example = _examples_file("bach_bwv269_bars1-4.mid")
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


def handwriting_tab() -> None:
    from synth.handwriting.canvas import CANVAS_JS, STROKES_ELEMENT_ID, canvas_html

    gr.Markdown("Text to handwriting with Graves's synthesis network (2013), in a bundled style or in your own "
                "hand.\n\n" + model_line("handwriting") + "\n\n" + handwriting_terms())
    styles = handwriting_styles()
    names = [NO_STYLE] + [name for name, _, _ in styles]
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label=f"text to write (at most {APP.handwriting_chars} characters)",
                              value="synth writes by hand", max_lines=4, elem_id="handwriting-text")
            bias = gr.Slider(0.0, 5.0, value=1.0, step=0.1, label="bias (0 = as trained, higher = neater)")
            seed = _seed()
            with gr.Tab("Bundled styles", id="bundled-styles"):
                style = gr.Dropdown(names, value=names[1] if len(names) > 1 else NO_STYLE, label="style",
                                    allow_custom_value=True)
                if styles:
                    folder = request_dir()
                    pictures = [(save_png(png, folder, f"style_{i}.png"), caption) for i, (_, png, caption) in enumerate(styles)]
                    gallery = gr.Gallery(pictures, label="bundled styles, each a line with its own text (click one to choose it)",
                                         columns=2, object_fit="contain", height="auto", allow_preview=False,
                                         elem_id="handwriting-gallery")

                    def choose(event: gr.SelectData) -> str:
                        return names[1 + event.index]

                    gallery.select(choose, None, style, api_name=False)
                with gr.Row():
                    go = gr.Button("Write", variant="primary", elem_id="write")
                    stop = gr.Button("Stop", variant="stop")
                gr.Examples([["the quick brown fox", names[-1], 1.0, 1], ["Hello, world!", NO_STYLE, 2.0, 5]],
                            [text, style, bias, seed], label="examples")
            with gr.Tab("Your own hand", id="own-hand"):
                gr.Markdown("Write one line of a few words below with the mouse, a finger or a pen, type exactly "
                            "what you wrote, and the model writes the text above in your hand.")
                gr.HTML(canvas_html(), js_on_load=CANVAS_JS, elem_id="hand-canvas-html")
                strokes = gr.Textbox(visible="hidden", elem_id=STROKES_ELEMENT_ID)
                written = gr.Textbox(label="what you wrote on the canvas", max_lines=1, elem_id="hand-written")
                with gr.Row():
                    mine = gr.Button("Write in my hand", variant="primary", elem_id="write-mine")
                    stop_mine = gr.Button("Stop", variant="stop")
        with gr.Column():
            ink = gr.Image(label="ink (drawn in pen order)", type="filepath", elem_id="ink")
            files = gr.File(label="SVG / PNG / GIF / JSON", file_count="multiple", elem_id="handwriting-files")
            attention = gr.Image(label="attention: which character the window reads at each pen point",
                                 type="filepath", elem_id="attention")
            status = gr.Markdown(elem_id="handwriting-status")
    event = go.click(write_handwriting, [text, style, bias, seed], [ink, files, attention, status],
                     api_name="write_handwriting", concurrency_id="handwriting", concurrency_limit=2)
    stop.click(None, None, None, cancels=[event], api_name=False)
    own = mine.click(write_in_my_hand, [strokes, written, text, bias, seed], [ink, files, attention, status],
                     api_name="write_in_my_hand", concurrency_id="handwriting", concurrency_limit=2)
    stop_mine.click(None, None, None, cancels=[own], api_name=False)


def build_app() -> gr.Blocks:
    with gr.Blocks(title="synth", delete_cache=(600, KEEP_OUTPUTS_SECONDS)) as app:
        gr.Markdown("# synth\nSound, handwriting and music from classic autoregressive models "
                    "(WaveNet, Graves's handwriting LSTM, an LSTM composer), on the bundled checkpoints.")
        with gr.Tabs() as tabs:
            with gr.Tab("Speech", id="speech"):
                speech_tab()
            with gr.Tab("Piano", id="piano"):
                piano_midi = piano_tab()
            with gr.Tab("Handwriting", id="handwriting"):
                handwriting_tab()
            with gr.Tab("Composer", id="composer"):
                composer_tab(piano_midi, tabs)
        info = gr.JSON(visible=False)
        gr.Button("models", visible=False).click(models_info, None, info, api_name="models")
    return app.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)


def warm_up() -> None:
    """Load every present checkpoint and FluidSynth's SoundFont (seconds for the sf3) ahead of the
    first request; run in the background at launch."""
    from synth.services.piano import warm_up as warm_up_fluidsynth

    started = time.perf_counter()
    try:
        models_info()
        warm_up_fluidsynth()
    except Exception as exc:  # a missing model or SoundFont is reported by the request that needs it
        log.info("warm-up incomplete: %s", exc)
    log.info("warm-up done in %.1f s", time.perf_counter() - started)


def launch(app: gr.Blocks, host: str = "127.0.0.1", port: int = 7860, **kwargs):
    return app.launch(server_name=host, server_port=port, max_file_size=MAX_UPLOAD,
                      allowed_paths=[str(EXAMPLES)], **kwargs)


if __name__ == "__main__":
    import threading

    logging.basicConfig(level=logging.INFO)
    threading.Thread(target=warm_up, daemon=True).start()
    launch(build_app(), os.environ.get("SYNTH_HOST", "127.0.0.1"), int(os.environ.get("SYNTH_PORT", "7860")))
