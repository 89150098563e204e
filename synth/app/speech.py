"""The Speech tab: text read aloud by the text-to-mel network and the WaveNet vocoder (``say``),
speech-like babble from the unconditioned speech WaveNet (``generate_speech``), and a clip played
back through the mel vocoder (``resynthesise``), each streamed as it is made."""
from __future__ import annotations

import time

import gradio as gr

from synth.app import serving
from synth.app.page import WAVENET_CONCURRENCY, examples_file, model_line, seed_box
from synth.app.serving import (STREAM_CHUNK_SECONDS, live_chunk, live_label, request_dir, save_wav, stream, uploaded,
                               user_errors)
from synth.errors import SynthError
from synth.services.bounds import APP
from synth.services.models import chosen_temperature


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
            seed = seed_box()
            with gr.Row():
                go = gr.Button("Say it", variant="primary", elem_id="say")
                stop = gr.Button("Stop", variant="stop")
            gr.Examples([["Hello! It is 3 pm, and the tea costs $5.", "wavenet", 1]], [text, player, seed],
                        label="examples")
        with gr.Column():
            live = gr.Audio(label=live_label("speech (streaming as it is read)"), streaming=serving.STREAMING, autoplay=True,
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
            temperature = gr.Slider(0.0, 2.0, value=chosen_temperature("speech"), step=0.05, label="temperature (0 = greedy)")
            seed = seed_box()
            with gr.Row():
                go = gr.Button("Generate", variant="primary", elem_id="speech-generate")
                stop = gr.Button("Stop", variant="stop")
            gr.Examples([[speakers[0] if speakers else None, 1.0, 1.0, 1], [speakers[-1] if speakers else None, 2.0, 0.9, 7]],
                        [speaker, seconds, temperature, seed], label="examples")
        with gr.Column():
            live = gr.Audio(label=live_label("speech (streaming as it is generated)"), streaming=serving.STREAMING, autoplay=True,
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
            vocoder_seed = seed_box()
            with gr.Row():
                resynth = gr.Button("Resynthesise", variant="primary", elem_id="resynthesise")
                stop_resynth = gr.Button("Stop", variant="stop")
            original_picture = gr.Image(label="original: spectrogram", type="pil", format="png", elem_id="original-spectrogram")
            example_clip = examples_file("welcome_allison.wav")
            if example_clip:
                gr.Examples([[example_clip]], [clip], label="example clip (Asterisk prompts, Allison Smith, CC-BY-SA-3.0)")
        with gr.Column():
            result_live = gr.Audio(label=live_label("resynthesis (streaming)"), streaming=serving.STREAMING, autoplay=True)
            result_wav = gr.Audio(label="resynthesis (WAV)", type="filepath", elem_id="resynthesis-wav")
            result_picture = gr.Image(label="resynthesis: spectrogram", type="pil", format="png", elem_id="resynthesis-spectrogram")
            result_status = gr.Markdown(elem_id="resynthesis-status")
    event = resynth.click(resynthesise, [clip, vocoder_speaker, vocoder_seed],
                          [result_live, result_wav, original_picture, result_picture, result_status],
                          api_name="resynthesise", concurrency_id="wavenet", concurrency_limit=WAVENET_CONCURRENCY,
                          show_progress_on=[result_wav])
    stop_resynth.click(None, None, None, cancels=[event], api_name=False)
