"""The synth app (Gradio): Speech, Piano, Handwriting and Composer tabs over the library.

    python3 app.py            # then open http://127.0.0.1:7860 (SYNTH_HOST / SYNTH_PORT to change)

Thin over the library: every model call is in ``synth.speech``, ``synth.piano``,
``synth.music`` (and ``synth.handwriting`` when it lands); this file lays out the page, bounds
requests, streams chunks and turns the library's typed errors into messages. Every function has
a named API endpoint (``gradio_client``); a shared queue bounds concurrent work. Uploads and
everything written live in the app's own temporary folder ($GRADIO_TEMP_DIR); requests naming any
other file are refused.
"""
from __future__ import annotations

import functools
import importlib.util
import inspect
import io
import json
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

from synth import bundled  # noqa: E402
from synth.device import pick_device  # noqa: E402
from synth.errors import InputError, SynthError  # noqa: E402

log = logging.getLogger("synth.app")

APP_SPACE = Path(os.environ["GRADIO_TEMP_DIR"]).resolve()
EXAMPLES = Path(__file__).resolve().parent / "assets" / "examples"
#: Request limits of the app (the command allows more: it runs on the user's own time).
MAX_SPEECH_SECONDS = 10.0
MAX_PIANO_SECONDS = 30.0
MAX_COMPOSER_BARS = 64
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
    from synth.audio import write_audio

    return str(write_audio(folder / name, samples, sample_rate))


def stream(chunks, total_samples: int, progress, what: str, outputs):
    """Yields ``outputs(chunk)`` for each chunk as it is made, reporting progress; returns the whole
    waveform at the end (``audio = yield from stream(...)``)."""
    made = []
    progress(0.0, desc=what)
    for chunk in chunks:
        made.append(chunk)
        done = sum(len(c) for c in made)
        progress(min(1.0, done / max(1, total_samples)), desc=f"{what}: {done:,} / {total_samples:,} samples")
        yield outputs(chunk)
    return np.concatenate(made) if made else np.zeros(0, np.float32)


def model(roles: tuple[str, ...], kind: str, what: str):
    return bundled.load_cached(bundled.require(bundled.bundled_checkpoint(roles), what), kind, str(pick_device()))


def model_line(roles: tuple[str, ...], what: str) -> str:
    """One line for the page: which checkpoint a tab uses, or that it is missing."""
    directory = bundled.bundled_checkpoint(roles)
    missing = bundled.missing_model_message(directory, what)
    if missing:
        return f"**Missing model.** {missing[0].upper() + missing[1:]}."
    return f"Model: `{directory.name}` (its MODEL_CARD.md says how it was trained and how it sounds)."


# --- Speech ------------------------------------------------------------------------------

def speech_speakers() -> list[str]:
    from synth.speech import speaker_names

    try:
        return speaker_names(model(bundled.SPEECH, "wavenet", "speech WaveNet"))
    except SynthError:
        return []


def vocoder_speakers() -> list[str]:
    from synth.speech import speaker_names

    try:
        return speaker_names(model(bundled.VOCODER, "wavenet", "vocoder WaveNet"))
    except SynthError:
        return []


@user_errors
def generate_speech(speaker: str | None, seconds: float, temperature: float, seed: int, progress=gr.Progress()):
    """Speech from the speech WaveNet, streamed as it is generated. Yields (chunk, WAV, spectrogram, status)."""
    from synth.speech import check_seconds, speak, spectrogram_image

    wavenet = model(bundled.SPEECH, "wavenet", "speech WaveNet")
    seconds = check_seconds(seconds, MAX_SPEECH_SECONDS)
    rate = wavenet.config.sample_rate
    started = time.perf_counter()
    chunks = speak(wavenet, seconds=seconds, speaker=speaker or None, temperature=temperature, seed=int(seed),
                   max_seconds=MAX_SPEECH_SECONDS, chunk_seconds=STREAM_CHUNK_SECONDS)
    audio = yield from stream(chunks, round(seconds * rate), progress, "generating speech",
                              lambda chunk: (live_chunk(chunk, rate), gr.skip(), gr.skip(), gr.skip()))
    took = time.perf_counter() - started
    yield (gr.skip(), save_wav(audio, rate, request_dir(), "speech.wav"), spectrogram_image(audio, rate),
           f"{len(audio) / rate:.2f} s at {rate} Hz in {took:.1f} s ({len(audio) / took:,.0f} samples/s)")


@user_errors
def resynthesise(clip: str | None, speaker: str | None, seed: int, progress=gr.Progress()):
    """A clip played back through the mel vocoder WaveNet, streamed. Yields (chunk, WAV, original
    spectrogram, result spectrogram, status)."""
    from synth.speech import MAX_CLIP_SECONDS, read_clip, spectrogram_image, vocode

    vocoder = model(bundled.VOCODER, "wavenet", "vocoder WaveNet")
    rate = vocoder.config.sample_rate
    original = read_clip(uploaded(clip, "audio clip"), rate, max_seconds=MAX_CLIP_SECONDS)
    original_picture = spectrogram_image(original, rate)
    yield gr.skip(), gr.skip(), original_picture, gr.skip(), gr.skip()
    n_samples = len(original) // vocoder.config.hop_length * vocoder.config.hop_length
    chunks = vocode(vocoder, original, speaker=speaker or None, seed=int(seed), chunk_seconds=STREAM_CHUNK_SECONDS)
    audio = yield from stream(chunks, n_samples, progress, "resynthesising",
                              lambda chunk: (live_chunk(chunk, rate), gr.skip(), gr.skip(), gr.skip(), gr.skip()))
    yield (gr.skip(), save_wav(audio, rate, request_dir(), "resynthesis.wav"), original_picture,
           spectrogram_image(audio, rate), f"{len(audio) / rate:.2f} s resynthesised at {rate} Hz")


# --- Piano -------------------------------------------------------------------------------

@user_errors
def render_midi(midi_file: str | None):
    """The piece's piano roll and its FluidSynth rendering (a sampled piano, for comparison)."""
    from synth.music.midi import read_midi
    from synth.piano import render_fluidsynth, roll_picture

    path = uploaded(midi_file, "MIDI file")
    midi = read_midi(path, name=path.name)
    audio, rate, licence = render_fluidsynth(midi)
    return (roll_picture(midi), save_wav(audio, rate, request_dir(), "fluidsynth.wav"),
            f"FluidSynth: {len(audio) / rate:.1f} s; {licence}")


@user_errors
def play_midi(midi_file: str | None, max_seconds: float, temperature: float, seed: int, progress=gr.Progress()):
    """The piece played by the piano WaveNet from its piano roll, streamed. Yields (chunk, WAV, status)."""
    from synth.music.midi import read_midi
    from synth.piano import midi_frames, play
    from synth.speech import check_seconds

    wavenet = model(bundled.PIANO, "wavenet", "piano WaveNet")
    max_seconds = check_seconds(max_seconds, MAX_PIANO_SECONDS)
    path = uploaded(midi_file, "MIDI file")
    midi = read_midi(path, name=path.name)
    frames, cut = midi_frames(wavenet, midi, max_seconds)
    rate = wavenet.config.sample_rate
    chunks = play(wavenet, midi, max_seconds=max_seconds, temperature=temperature, seed=int(seed),
                  chunk_seconds=STREAM_CHUNK_SECONDS)
    audio = yield from stream(chunks, frames.shape[-1] * wavenet.config.hop_length, progress, "playing",
                              lambda chunk: (live_chunk(chunk, rate), gr.skip(), gr.skip()))
    note = f" (the piece is longer: its first {max_seconds:g} s were played; the limit is {MAX_PIANO_SECONDS:g} s)" if cut else ""
    yield gr.skip(), save_wav(audio, rate, request_dir(), "piano_wavenet.wav"), f"{len(audio) / rate:.1f} s{note}"


# --- Composer ----------------------------------------------------------------------------

@user_errors
def compose_piece(bars: int, temperature: float, seed: int, tempo: float, primer_file: str | None,
                  progress=gr.Progress()):
    """A piece from the LSTM composer: (piano roll picture, MIDI file, FluidSynth audio, status)."""
    from synth.music.composition import compose, primer_roll
    from synth.music.midi import MAX_MIDI_BYTES, write_midi
    from synth.music.picture import roll_image
    from synth.piano import render_fluidsynth

    composer = model(bundled.COMPOSER, "composer", "composer")
    if isinstance(bars, float) and bars.is_integer():
        bars = int(bars)
    if not isinstance(bars, int) or not 1 <= bars <= MAX_COMPOSER_BARS:
        raise InputError(f"bars must be a whole number from 1 to {MAX_COMPOSER_BARS}, got {bars!r}")
    c = composer.config
    primer_path = uploaded(primer_file, "primer MIDI file", required=False)
    primer = None
    if primer_path:
        if primer_path.stat().st_size > MAX_MIDI_BYTES:
            raise InputError(f"the primer is {primer_path.stat().st_size:,} bytes; a MIDI file may have at most {MAX_MIDI_BYTES:,}")
        primer = primer_roll(primer_path.read_bytes(), c.steps_per_quarter, None, c.beats_per_bar)
    progress(0.0, desc="composing")
    piece = compose(composer, bars=bars, temperature=float(temperature), seed=int(seed), primer=primer,
                    tempo_bpm=float(tempo), progress=lambda done, total: progress(done / total, desc="composing"))[0]
    midi = piece.to_midi()
    folder = request_dir()
    midi_path = write_midi(midi, folder / "composition.mid")
    progress(1.0, desc="rendering")
    audio, rate, _ = render_fluidsynth(midi)
    picture = roll_image(piece.roll, primer_steps=piece.primer_steps, beats_per_bar=c.beats_per_bar)
    primer_note = f", after {piece.primer_steps // c.steps_per_bar} primer bars" if piece.primer_steps else ""
    return (picture, str(midi_path), save_wav(audio, rate, folder, "composition.wav"),
            f"{bars} bars at {tempo:g} bpm{primer_note}; audio rendered with FluidSynth (a sampled piano)")


# --- Handwriting -------------------------------------------------------------------------

HANDWRITING_CODE = importlib.util.find_spec("synth.handwriting") is not None
HANDWRITING_KIND = "handwriting-synthesis"
#: Longest text the app writes (the command writes longer text, split into lines).
MAX_HANDWRITING_CHARS = 200
NO_STYLE = "(none: the model's own hand)"


def handwriting_styles() -> list[dict]:
    """The bundled styles (styles.json beside the handwriting checkpoint), [] when there are none."""
    path = bundled.bundled_checkpoint(bundled.HANDWRITING) / "styles.json"
    if not HANDWRITING_CODE or not path.is_file():
        return []
    from synth.handwriting.styles import bundled_styles

    try:
        return bundled_styles(path)
    except Exception as exc:  # a damaged styles file leaves the gallery empty; writing says why
        log.warning("styles: %s", exc)
        return []


def style_gallery() -> list[tuple[str, str]]:
    """(PNG path, caption) of every bundled style's primer line."""
    from synth.handwriting.ink import Ink
    from synth.handwriting.render import to_png

    folder, pictures = request_dir(), []
    for style in handwriting_styles():
        path = folder / f"style_{style['id']}.png"
        path.write_bytes(to_png([Ink([np.asarray(s) for s in style["strokes"]], style["text"])]))
        pictures.append((str(path), f"{style['name']}: \"{style['text']}\""))
    return pictures


def first_points(lines: list, n: int) -> list:
    """The lines cut after their first ``n`` pen points (the ink as the pen has drawn it so far)."""
    from synth.handwriting.ink import Ink

    out = []
    for ink in lines:
        strokes = []
        for stroke in ink.strokes:
            if n <= 0:
                break
            strokes.append(stroke[:n])
            n -= len(stroke)
        out.append(Ink(strokes or [ink.strokes[0][:1]], ink.text))
        if n <= 0:
            break
    return out


@user_errors
def write_handwriting(text: str, style: str | None, bias: float, seed: int, progress=gr.Progress()):
    """Text to handwriting with the Graves synthesis network. Yields (ink PNG, [SVG, PNG, GIF,
    JSON], attention PNG, status); the ink is drawn in pen order before the files come."""
    if not HANDWRITING_CODE:
        raise SynthError("the handwriting model is missing: its code (synth.handwriting) is not in this build yet, "
                         "so nothing can be written")
    from synth.handwriting.render import attention_figure, to_png, write_ink
    from synth.handwriting.styles import bundled_style
    from synth.handwriting.writer import write_text

    directory = bundled.require(bundled.bundled_checkpoint(bundled.HANDWRITING), "handwriting")
    writer = bundled.load_cached(directory, HANDWRITING_KIND, str(pick_device()))
    text = (text or "").replace("\r", "")
    if not text.strip():
        raise InputError("the text is empty: give at least one character to write")
    if len(text) > MAX_HANDWRITING_CHARS:
        raise InputError(f"the text is {len(text)} characters long; the app writes at most {MAX_HANDWRITING_CHARS} "
                         "(`synth write` takes longer text)")
    style_ink = bundled_style(directory / "styles.json", style) if style and style != NO_STYLE else None
    progress(0.0, desc="writing")
    started = time.perf_counter()
    result = write_text(writer, text, style=style_ink, bias=float(bias), seed=int(seed), record=True)
    took = time.perf_counter() - started
    lines = [line.ink for line in result.lines]
    folder = request_dir()
    total = sum(ink.n_points for ink in lines)
    for step in range(1, 5):  # the pen's path, a quarter at a time
        progress(step / 5, desc="drawing")
        path = folder / f"ink_{step}.png"
        path.write_bytes(to_png(first_points(lines, total * step // 4)))
        yield str(path), gr.skip(), gr.skip(), gr.skip()
    files = [str(write_ink(folder / f"handwriting{suffix}", lines)) for suffix in (".svg", ".png", ".gif", ".json")]
    first = result.lines[0]
    attention = str(attention_figure(folder / "attention.png", first.phi, first.text, first.ink)) if first.phi is not None else None
    failed = [line.text for line in result.lines if line.failure]
    status = (f"{len(lines)} line(s), {total} pen points in {took:.1f} s; {result.retries} resampled"
              + (f"; still imperfect: {failed}" if failed else ""))
    yield files[1], files, attention, status


# --- what is loaded ------------------------------------------------------------------------

@user_errors
def models_info() -> dict:
    """Which bundled checkpoints this app found, for API users and the page."""
    roles = {"speech": (bundled.SPEECH, "wavenet"), "vocoder": (bundled.VOCODER, "wavenet"),
             "piano": (bundled.PIANO, "wavenet"), "composer": (bundled.COMPOSER, "composer"),
             "handwriting": (bundled.HANDWRITING, HANDWRITING_KIND)}
    info = {"assets": str(bundled.assets_dir()), "device": str(pick_device()), "models": {}}
    for role, (names, kind) in roles.items():
        directory = bundled.bundled_checkpoint(names)
        entry = {"checkpoint": str(directory), "present": (directory / "config.json").is_file()}
        if entry["present"] and (kind != HANDWRITING_KIND or HANDWRITING_CODE):
            try:
                m = bundled.load_cached(directory, kind, str(pick_device()))
                entry.update(kind=kind, parameters=sum(p.numel() for p in m.parameters()),
                             speakers=m.metadata.get("speakers", []) if kind == "wavenet" else [])
            except SynthError as exc:
                entry["error"] = str(exc)
        info["models"][role] = entry
    return info


# --- the page ----------------------------------------------------------------------------

def _seed(value: int = 0) -> gr.Number:
    return gr.Number(value=value, precision=0, minimum=0, maximum=2 ** 31 - 1, label="seed")


def _examples_file(name: str) -> str | None:
    path = EXAMPLES / name
    return str(path) if path.is_file() else None


def speech_tab() -> None:
    speakers = speech_speakers()
    gr.Markdown(model_line(bundled.SPEECH, "speech WaveNet"))
    with gr.Row():
        with gr.Column():
            speaker = gr.Dropdown(speakers, value=speakers[0] if speakers else None, allow_custom_value=True,
                                  label="speaker" + ("" if speakers else " (this model has one voice)"),
                                  interactive=bool(speakers))
            seconds = gr.Slider(0.1, MAX_SPEECH_SECONDS, value=1.0, step=0.1, label=f"seconds (at most {MAX_SPEECH_SECONDS:g})")
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
                + model_line(bundled.VOCODER, "vocoder WaveNet"))
    voices = vocoder_speakers()
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
                "FluidSynth rendering with a sampled piano for comparison.\n\n" + model_line(bundled.PIANO, "piano WaveNet"))
    with gr.Row():
        with gr.Column():
            midi = gr.File(label="MIDI file (.mid, at most 4 MB)", file_types=[".mid", ".midi"], type="filepath",
                           elem_id="piano-midi")
            seconds = gr.Slider(1, MAX_PIANO_SECONDS, value=10, step=1,
                                label=f"play at most this many seconds (limit {MAX_PIANO_SECONDS:g})")
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
    gr.Markdown("Compose piano music with the LSTM composer (optionally continuing a primer MIDI).\n\n"
                + model_line(bundled.COMPOSER, "composer"))
    with gr.Row():
        with gr.Column():
            bars = gr.Slider(1, MAX_COMPOSER_BARS, value=8, step=1, label=f"bars (at most {MAX_COMPOSER_BARS})")
            temperature = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="temperature (0 = greedy)")
            seed = _seed()
            tempo = gr.Slider(40, 200, value=90, step=1, label="tempo (quarter notes per minute)")
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
    event = go.click(compose_piece, [bars, temperature, seed, tempo, primer], [roll, midi, audio, status],
                     api_name="compose", concurrency_id="composer", concurrency_limit=2)
    stop.click(None, None, None, cancels=[event], api_name=False)
    send.click(lambda path: (path, gr.Tabs(selected="piano")), [midi], [piano_midi, tabs], api_name=False)


def handwriting_tab() -> None:
    if HANDWRITING_CODE:
        gr.Markdown("Text to handwriting with Graves's synthesis network (2013), optionally in a bundled style.\n\n"
                    + model_line(bundled.HANDWRITING, "handwriting"))
    else:
        gr.Markdown("**Missing model.** The handwriting model (Graves 2013) is not in this build yet: this tab "
                    "writes nothing until it lands.")
    styles = handwriting_styles()
    names = [NO_STYLE] + [s["name"] for s in styles]
    with gr.Row():
        with gr.Column():
            text = gr.Textbox(label=f"text (at most {MAX_HANDWRITING_CHARS} characters)", value="synth writes by hand",
                              max_lines=4, elem_id="handwriting-text")
            style = gr.Dropdown(names, value=names[1] if len(names) > 1 else NO_STYLE, label="style",
                                allow_custom_value=True)
            if styles:
                gallery = gr.Gallery(style_gallery(), label="bundled styles (click one to choose it)", columns=2, object_fit="contain",
                                     height="auto", allow_preview=False)
                def choose(event: gr.SelectData) -> str:
                    return names[1 + event.index]

                gallery.select(choose, None, style, api_name=False)
            bias = gr.Slider(0.0, 5.0, value=1.0, step=0.1, label="bias (0 = as trained, higher = neater)")
            seed = _seed()
            with gr.Row():
                go = gr.Button("Write", variant="primary", elem_id="write")
                stop = gr.Button("Stop", variant="stop")
            gr.Examples([["the quick brown fox", names[-1], 1.0, 1], ["Hello, world!", NO_STYLE, 2.0, 5]],
                        [text, style, bias, seed], label="examples")
        with gr.Column():
            ink = gr.Image(label="ink (drawn in pen order)", type="filepath", elem_id="ink")
            files = gr.File(label="SVG / PNG / GIF / JSON", file_count="multiple", elem_id="handwriting-files")
            attention = gr.Image(label="attention: which character the window reads at each pen point",
                                 type="filepath", elem_id="attention")
            status = gr.Markdown(elem_id="handwriting-status")
    event = go.click(write_handwriting, [text, style, bias, seed], [ink, files, attention, status],
                     api_name="write_handwriting", concurrency_id="handwriting", concurrency_limit=2)
    stop.click(None, None, None, cancels=[event], api_name=False)


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
    from synth.piano import render_fluidsynth
    from synth.music.midi import piano_midi

    started = time.perf_counter()
    try:
        models_info()
        render_fluidsynth(piano_midi([(60, 0.0, 0.1, 64)]))
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
