"""Linear prediction from the mel (synth.lpc): analysis against a hand computation, synthesis
against the obvious per-sample recursion, and exact round trips in chunks."""
import numpy as np
import pytest
import scipy.linalg
import torch

from synth.audio import MelFeatures
from synth.errors import InputError
from synth.lpc import ExcitationSynthesis, LinearPrediction, levinson_durbin
from synth.models.wavenet import WaveNet, WaveNetConfig
from synth.models.wavenet_generation import GenerationOptions, generate_waveform

MEL = MelFeatures(sample_rate=16000, hop_length=256)


def vowel(seconds=0.5, rate=16000, seed=0):
    """A crude voiced sound: a 120 Hz pulse train through two formant resonators, plus noise."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * rate)
    pulses = np.zeros(n)
    pulses[:: rate // 120] = 1.0
    x = pulses + 0.01 * rng.standard_normal(n)
    for f, bw in ((700, 80), (1200, 100)):
        r = np.exp(-np.pi * bw / rate)
        x = lfilter([1.0], [1.0, -2 * r * np.cos(2 * np.pi * f / rate), r * r], x)
    n_whole = n // 256 * 256  # whole frames only, as a vocoder receives them
    return torch.from_numpy(0.3 * x[:n_whole] / np.abs(x).max()).float()


def test_levinson_durbin_solves_the_normal_equations():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal(4000)
    r = np.array([signal[: len(signal) - k] @ signal[k:] for k in range(9)])
    a = levinson_durbin(torch.from_numpy(r)[None], 8)[0].numpy()
    expected = scipy.linalg.solve_toeplitz(r[:8], -r[1:9])  # R a = -r (autocorrelation method)
    np.testing.assert_allclose(a, expected, rtol=1e-9, atol=1e-12)


def test_coefficients_give_a_stable_filter_and_whiten_speech():
    x = vowel()
    lpc = LinearPrediction(order=16, pre_emphasis=0.85)
    a = lpc.coefficients(MEL(x), MEL)  # (F, 16)
    assert a.shape == (len(x) // 256, 16) and len(x) % 256 == 0
    for frame in a.double().numpy():
        assert np.abs(np.roots(np.concatenate([[1.0], frame]))).max() < 1.0  # minimum phase: 1 / A(z) is stable
    e = lpc.excitation(x, a, 256)
    emphasised = x - 0.85 * torch.nn.functional.pad(x, (1, 0))[:-1]
    assert e.pow(2).mean() < 0.5 * emphasised.pow(2).mean()  # prediction removed most of the envelope


@pytest.mark.parametrize("order", [0, 16])
def test_synthesis_in_chunks_inverts_the_excitation_exactly(order):
    x = vowel(seed=1)
    lpc = LinearPrediction(order=order, pre_emphasis=0.85)
    frames = MEL(x)
    e = lpc.excitation(x, lpc.coefficients(frames, MEL), 256)
    synthesis = ExcitationSynthesis(lpc, MEL, batch_size=1)
    synthesis.add_frames(frames[:, :10])  # frames may arrive in pieces, ahead of the samples
    pieces, at, added = [], 0, False
    for size in (1, 300, 257, 1000, 17, 10_000):
        if at >= 1500 and not added:
            synthesis.add_frames(frames[:, 10:])
            added = True
        pieces.append(synthesis(e[None, at:at + size]))
        at += size
    y = torch.cat(pieces, dim=1)[0]
    np.testing.assert_allclose(y.numpy(), x[: len(y)].numpy(), atol=1e-5)


def test_synthesis_equals_the_per_sample_recursion():
    x = vowel(seed=2)
    lpc = LinearPrediction(order=16, pre_emphasis=0.85)
    frames = MEL(x)
    a = lpc.coefficients(frames, MEL).double().numpy()
    e = np.random.default_rng(3).standard_normal(len(x)) * 0.01
    synthesis = ExcitationSynthesis(lpc, MEL, batch_size=1)
    synthesis.add_frames(frames)
    fast = synthesis(torch.from_numpy(e)[None])[0].double().numpy()
    emphasised, out = np.zeros(len(e)), np.zeros(len(e))
    for t in range(len(e)):  # x'_t = e_t - sum_k a_k x'_{t-k}; y_t = x'_t + alpha y_{t-1}
        coef = a[min(t // 256, len(a) - 1)]
        emphasised[t] = e[t] - sum(coef[k - 1] * emphasised[t - k] for k in range(1, 17) if t - k >= 0)
        out[t] = emphasised[t] + (0.85 * out[t - 1] if t else 0.0)
    np.testing.assert_allclose(fast, out, rtol=1e-4, atol=1e-5)


def test_bad_settings_are_refused():
    with pytest.raises(InputError, match="order"):
        LinearPrediction(order=-1)
    with pytest.raises(InputError, match="pre-emphasis"):
        LinearPrediction(pre_emphasis=1.0)
    with pytest.raises(InputError, match="none yet"):
        ExcitationSynthesis(LinearPrediction(), MEL, 1)(torch.zeros(1, 10))


def lpc_vocoder() -> WaveNet:
    torch.manual_seed(0)
    config = WaveNetConfig(n_stacks=1, layers_per_stack=4, residual_channels=8, gate_channels=8, skip_channels=8,
                           cond_channels=80, cond_hidden_channels=8, upsample_scales=(16, 16), lpc_order=16,
                           pre_emphasis=0.85)
    model = WaveNet(config).eval()
    model.metadata = {"features": {"kind": "mel", **{k: getattr(MEL, k) for k in MEL.__dataclass_fields__}}}
    return model


def test_an_excitation_vocoder_generates_audio_through_the_synthesis_filter():
    model = lpc_vocoder()
    config = model.config
    frames = MEL(vowel(seconds=0.2))[None]  # (1, 80, F)
    seconds = frames.shape[-1] * 256 / 16000
    audio = torch.cat(list(generate_waveform(model, seconds=seconds, frames=frames, seed=5, chunk_seconds=0.03)), 1)
    raw_config = WaveNet(config)
    raw_config.load_state_dict(model.state_dict())
    raw_config.config = WaveNetConfig(**{**config.__dict__, "lpc_order": 0, "pre_emphasis": 0.0})
    excitation = torch.cat(list(generate_waveform(raw_config, seconds=seconds, frames=frames, seed=5,
                                                  options=GenerationOptions(path="reference"))), 1)
    expected = ExcitationSynthesis(config.linear_prediction, MEL, 1)
    expected.add_frames(frames)
    np.testing.assert_allclose(audio.numpy(), expected(excitation).numpy(), atol=1e-4)


def test_streamed_frames_go_through_the_same_output_stage_as_frames_given_at_once():
    """generate_waveform owns the output stage for both kinds of conditioning: frames streamed in
    chunks (as the text-to-speech path feeds them), or some given up front and the rest streamed,
    give the float32 audio that all the frames given at once give (the network's samples are the
    same; the filter's coefficients, matrix products over a chunk's frames, round differently in
    the last float32 bits with the chunk's length)."""
    model = lpc_vocoder()
    frames = MEL(vowel(seconds=0.2))[None]  # (1, 80, F)
    seconds = frames.shape[-1] * 256 / 16000
    at_once = torch.cat(list(generate_waveform(model, seconds=seconds, frames=frames, seed=5)), 1)
    chunks = [frames[..., i:i + 3] for i in range(0, frames.shape[-1], 3)]  # (1, 80, <= 3) each
    streamed = torch.cat(list(generate_waveform(model, seconds=seconds, frames_stream=iter(chunks), seed=5,
                                                chunk_seconds=0.01)), 1)
    begun = torch.cat(list(generate_waveform(model, seconds=seconds, frames=chunks[0], frames_stream=iter(chunks[1:]),
                                             seed=5)), 1)
    assert at_once.dtype == torch.float32 and at_once.shape == (1, frames.shape[-1] * 256)
    np.testing.assert_allclose(streamed.numpy(), at_once.numpy(), atol=1e-4)
    np.testing.assert_allclose(begun.numpy(), at_once.numpy(), atol=1e-4)
