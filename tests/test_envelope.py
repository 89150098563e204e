"""Mel-envelope correction (synth.envelope): the streamed corrector against the whole-signal one (torch's
STFT and inverse), what it does to band energies, and the vocoder's output stage that runs it."""
import numpy as np
import pytest
import torch

from synth.audio import MelFeatures
from synth.envelope import EnvelopeCorrection, MelEnvelope, correct_envelope
from synth.errors import InputError
from synth.models.wavenet_generation import generate_waveform, resynthesise
from test_lpc import lpc_vocoder, vowel

MEL = MelFeatures(sample_rate=16000, hop_length=256)


@pytest.mark.parametrize("length,passes", [(16000, 1), (5000, 1), (700, 1), (513, 1), (300, 1), (5000, 2), (700, 2)])
def test_streamed_in_any_chunks_it_gives_what_the_whole_signal_gives(length, passes):
    g = torch.Generator().manual_seed(length)
    audio = torch.randn(2, length, generator=g) * 0.1
    target = MEL(torch.randn(2, length, generator=g) * 0.2) if length > 512 else torch.zeros(2, 80, 1)
    whole = correct_envelope(audio, target, MEL, MelEnvelope(passes=passes))
    for chunk in (1, 37, 256, 1000, length):
        if chunk == 1 and length > 1000:
            continue
        corrector = EnvelopeCorrection(MEL, MelEnvelope(passes=passes), 2)
        corrector.add_frames(target[..., :2])  # frames may come in pieces, ahead of the audio
        corrector.add_frames(target[..., 2:])
        pieces = [corrector(audio[:, i:i + chunk]) for i in range(0, length, chunk)] + [corrector.finish()]
        streamed = torch.cat(pieces, dim=1)
        assert streamed.shape == whole.shape == (2, length) and streamed.dtype == torch.float32
        torch.testing.assert_close(streamed, whole, atol=1e-6, rtol=0)
    if length <= 512:  # too short to reflect at the edges: as it came
        torch.testing.assert_close(whole, audio)


def test_it_brings_band_energies_to_the_mel_and_no_further_than_the_limit():
    speech = vowel(seconds=1.0)
    g = torch.Generator().manual_seed(0)
    noisy = speech + 0.01 * torch.randn(speech.shape, generator=g)  # a vocoder's hiss between the harmonics
    target = MEL(speech)
    error = lambda audio: float((MEL(audio) - target)[:, 4:-4].abs().mean())  # noqa: E731
    corrected = correct_envelope(noisy, target, MEL, MelEnvelope(limit=100.0))
    assert error(corrected) < 0.5 * error(noisy)
    assert error(correct_envelope(noisy, target, MEL, MelEnvelope())) < error(noisy)  # the default limit: 4x
    torch.testing.assert_close(correct_envelope(noisy, target, MEL, MelEnvelope(strength=0.0)), noisy, atol=1e-6, rtol=0)
    louder = correct_envelope(speech, target + 3.0, MEL, MelEnvelope(limit=2.0))  # asks for 20x, allowed 2x
    ratio = (MEL(louder) - target)[:, 4:-4].mean()
    assert abs(float(ratio) - np.log(2.0)) < 0.1


def test_the_vocoder_output_stage_corrects_what_it_generates_streamed_or_at_once():
    model = lpc_vocoder()
    frames = MEL(vowel(seconds=0.3))  # (80, F)
    raw = resynthesise(model, frames, None, seed=3, envelope=False)
    assert torch.equal(raw, resynthesise(model, frames, None, seed=3))  # the checkpoint asks for none
    setting = MelEnvelope(strength=1.0, limit=4.0)
    expected = correct_envelope(raw, frames, MEL, setting)
    model.metadata["sampling"] = {"temperature": 1.0, "envelope": {"strength": 1.0, "limit": 4.0}}
    torch.testing.assert_close(resynthesise(model, frames, None, seed=3), expected, atol=1e-5, rtol=0)
    seconds = frames.shape[-1] * 256 / 16000
    chunks = [frames[None, :, i:i + 3] for i in range(0, frames.shape[-1], 3)]
    streamed = torch.cat(list(generate_waveform(model, seconds=seconds, frames_stream=iter(chunks), seed=3,
                                                chunk_seconds=0.01)), 1)[0]
    assert streamed.shape == expected.shape
    torch.testing.assert_close(streamed, expected, atol=1e-4, rtol=0)
    assert not torch.allclose(expected, raw, atol=1e-3)


def test_bad_settings_are_refused_with_what_is_allowed():
    with pytest.raises(InputError, match="from 0 to 1"):
        MelEnvelope(strength=2.0)
    with pytest.raises(InputError, match="from 1 to 100"):
        MelEnvelope(limit=0.5)
    with pytest.raises(InputError, match="strength"):
        MelEnvelope.from_metadata({"strength": "loud"})
    with pytest.raises(InputError, match="passes"):
        MelEnvelope(passes=0)
    with pytest.raises(InputError, match="no mel frames"):
        EnvelopeCorrection(MEL, MelEnvelope(), 1)(torch.zeros(1, 2000))
    model = lpc_vocoder()
    model.metadata = {}
    with pytest.raises(InputError, match="not a mel vocoder"):
        resynthesise(model, MEL(vowel(seconds=0.1)), None, envelope=MelEnvelope())
