"""WaveNet: causality, and exact agreement of the cached-queue and naive generators with the
full convolutional forward pass; generation options belong to a request, not to the shared model."""
import pytest
import torch

from synth.errors import InputError
from synth.models.wavenet import WaveNetConfig
from synth.models.wavenet_generation import NaiveWaveNet, WaveNetGenerator
from synth.sampling import generate

from conftest import tiny_wavenet

CONDITIONING = {
    "none": {},
    "global": {"n_speakers": 3},
    "local": {"cond_channels": 5, "upsample_scales": (2, 3)},
    "global+local": {"n_speakers": 3, "cond_channels": 5, "upsample_scales": (2, 3)},
    "local+lookahead": {"cond_channels": 5, "upsample_scales": (2, 3), "cond_frame_kernel": 4, "cond_lookahead": 2},
    # a piano roll's held keys (its first 88 columns) as sines beside the upsampled frames
    "roll+sines": {"cond_channels": 90, "upsample_scales": (2, 3), "cond_frame_kernel": 4, "cond_lookahead": 2,
                   "key_harmonics": 2},
}


def make_case(kernel_size, output, conditioning, batch_size=3, seed=0):
    model = tiny_wavenet(seed, kernel_size=kernel_size, output=output, **CONDITIONING[conditioning])
    T = 2 * model.config.receptive_field + 11
    g = torch.Generator().manual_seed(seed)
    if output == "mulaw":
        targets = torch.randint(0, 256, (batch_size, T), generator=g)
    else:
        targets = torch.rand(batch_size, T, generator=g) * 2 - 1
    cond = {}
    if model.config.n_speakers:
        cond["speaker"] = torch.arange(batch_size) % 3
    if model.config.cond_channels:
        n_frames = -(-T // model.config.hop_length) + model.config.cond_lookahead
        frames = torch.randn(batch_size, model.config.cond_channels, n_frames, generator=g)
        if model.config.key_harmonics:  # held keys: a few at a time, velocities in (0, 1]
            frames[:, :88] = torch.where(torch.rand(batch_size, 88, n_frames, generator=g) < 0.1,
                                         torch.rand(batch_size, 88, n_frames, generator=g), torch.zeros(()))
        cond["frames"] = frames
    return model, model.shift_inputs(targets), cond


def as_params(dist) -> torch.Tensor:
    if hasattr(dist, "logits"):
        return dist.logits
    return torch.cat([dist.logit_probs, dist.means, dist.log_scales], -1)


def teacher_forced(generator, inputs, cond) -> torch.Tensor:
    state = generator.start(inputs.shape[0], **cond)
    with torch.no_grad():
        return torch.stack([as_params(generator.step(state, inputs[:, t])) for t in range(inputs.shape[1])], 1)


def full_params(model, inputs, cond) -> torch.Tensor:
    with torch.no_grad():
        params = model(inputs, **cond)
    return torch.stack([as_params(model.distribution(params[:, t])) for t in range(params.shape[1])], 1)


def test_receptive_field_counts_every_dilated_tap():
    config = WaveNetConfig(n_stacks=2, layers_per_stack=10, kernel_size=2)
    assert config.dilations == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512] * 2
    assert config.receptive_field == 1 + 2 * 1023
    assert WaveNetConfig(n_stacks=1, layers_per_stack=3, kernel_size=3).receptive_field == 1 + 2 * (1 + 2 + 4)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_changing_input_at_t_changes_no_output_before_t(kernel_size):
    model, inputs, cond = make_case(kernel_size, "mulaw", "global+local")
    t = inputs.shape[1] // 2
    changed = inputs.clone()
    changed[:, t:] = (changed[:, t:] + 17) % 256
    with torch.no_grad():
        before, after = model(inputs, **cond), model(changed, **cond)
    assert torch.equal(before[:, :t], after[:, :t])
    assert not torch.allclose(before[:, t], after[:, t])


def test_changing_conditioning_frame_changes_no_sample_before_it():
    model, inputs, cond = make_case(3, "mulaw", "local")
    frame = cond["frames"].shape[-1] // 2
    changed = dict(cond, frames=cond["frames"].clone())
    changed["frames"][..., frame:] += 1.0
    with torch.no_grad():
        before, after = model(inputs, **cond), model(inputs, **changed)
    first = frame * model.config.hop_length
    assert torch.equal(before[:, :first], after[:, :first])
    assert not torch.allclose(before[:, first], after[:, first])


def test_lookahead_lets_a_frame_reach_back_that_many_frames_and_no_further():
    model, inputs, cond = make_case(3, "mulaw", "local+lookahead")
    hop, L = model.config.hop_length, model.config.cond_lookahead
    frame = cond["frames"].shape[-1] // 2
    changed = dict(cond, frames=cond["frames"].clone())
    changed["frames"][..., frame] += 1.0
    with torch.no_grad():
        before, after = model(inputs, **cond), model(inputs, **changed)
    first = (frame - L) * hop  # the samples of frame - L are the first to see it
    assert torch.equal(before[:, :first], after[:, :first])
    assert not torch.allclose(before[:, first], after[:, first])


def test_lookahead_frames_past_the_end_are_copies_of_the_last():
    model, inputs, cond = make_case(2, "mulaw", "local+lookahead")
    frames, L = cond["frames"], model.config.cond_lookahead
    T = (frames.shape[-1] - L) * model.config.hop_length
    padded = model.pad_lookahead(frames[..., :-L])
    assert padded.shape == frames.shape and torch.equal(padded[..., -L:], frames[..., -L - 1:-L].expand(-1, -1, L))
    with torch.no_grad():  # forward pads what is missing the same way
        torch.testing.assert_close(model(inputs[:, :T], frames=frames[..., :-L]), model(inputs[:, :T], frames=padded))


def test_a_lookahead_vocoder_streamed_in_chunks_plays_what_it_plays_from_all_frames():
    from synth.models.wavenet_generation import generate_waveform

    model, _, cond = make_case(3, "mulaw", "local+lookahead", batch_size=1)
    frames = cond["frames"]
    seconds = frames.shape[-1] * model.config.hop_length / model.config.sample_rate
    whole = torch.cat(list(generate_waveform(model, seconds=seconds, frames=frames, seed=3)), 1)
    pieces = [frames[..., i:i + 2] for i in range(0, frames.shape[-1], 2)]
    streamed = torch.cat(list(generate_waveform(model, seconds=10 * seconds, frames_stream=pieces, seed=3)), 1)
    assert whole.shape[1] == frames.shape[-1] * model.config.hop_length  # every frame played, the last ones too
    assert torch.equal(whole, streamed)


@pytest.mark.parametrize("conditioning", list(CONDITIONING))
@pytest.mark.parametrize("output", ["mulaw", "logistic_mixture"])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_cached_generation_matches_full_forward(kernel_size, output, conditioning):
    model, inputs, cond = make_case(kernel_size, output, conditioning)
    assert inputs.shape[1] >= 2 * model.config.receptive_field and inputs.shape[0] > 1
    torch.testing.assert_close(teacher_forced(WaveNetGenerator(model), inputs, cond), full_params(model, inputs, cond),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_naive_generation_matches_full_forward(kernel_size):
    model, inputs, cond = make_case(kernel_size, "mulaw", "global+local")
    torch.testing.assert_close(teacher_forced(NaiveWaveNet(model), inputs, cond), full_params(model, inputs, cond),
                               atol=1e-4, rtol=0)


def test_config_a_cached_generation_matches_full_forward():
    from synth.bench import CONFIG_A
    from synth.models.wavenet import WaveNet

    torch.manual_seed(0)
    model = WaveNet(CONFIG_A).eval()
    T = 2 * CONFIG_A.receptive_field + 5
    inputs = model.shift_inputs(torch.randint(0, 256, (2, T)))
    torch.testing.assert_close(teacher_forced(WaveNetGenerator(model), inputs, {}), full_params(model, inputs, {}),
                               atol=1e-4, rtol=0)


@pytest.mark.parametrize("kernel_size", [2, 3])
def test_bulk_priming_leaves_the_same_state_as_stepping(kernel_size):
    model, inputs, cond = make_case(kernel_size, "mulaw", "global+local")
    primer = inputs[:, :-1]
    generator = WaveNetGenerator(model)
    stepped, bulk = generator.start(3, **cond), generator.start(3, **cond)
    with torch.no_grad():
        for t in range(primer.shape[1]):
            generator.step(stepped, primer[:, t])
        generator.prime(bulk, primer)
        for ring_bulk, ring_stepped in zip(bulk["rings"], stepped["rings"]):
            torch.testing.assert_close(ring_bulk, ring_stepped, atol=1e-5, rtol=0)
        torch.testing.assert_close(as_params(generator.step(bulk, inputs[:, -1])),
                                   as_params(generator.step(stepped, inputs[:, -1])), atol=1e-5, rtol=0)


def test_local_conditioning_fed_in_chunks_gives_the_same_audio():
    model, inputs, cond = make_case(3, "mulaw", "global+local", batch_size=2)
    frames = cond["frames"]
    steps = frames.shape[-1] * model.config.hop_length
    whole = generate(WaveNetGenerator(model), max_steps=steps, batch_size=2, conditioning=cond, seed=5).collect()
    pieces = [frames[..., i:i + 3] for i in range(0, frames.shape[-1], 3)]
    streamed_gen = generate(WaveNetGenerator(model), max_steps=10 * steps, batch_size=2, seed=5,
                            conditioning={"speaker": cond["speaker"], "frames": pieces[0]},
                            conditioning_stream=pieces[1:])
    streamed = streamed_gen.collect()
    assert torch.equal(whole, streamed)  # and it ends when the conditioning ends
    assert streamed_gen.lengths.tolist() == [steps, steps]


def test_sampled_speech_is_the_same_from_naive_and_cached_generators():
    model, _, cond = make_case(2, "logistic_mixture", "global+local", batch_size=2)
    a = generate(WaveNetGenerator(model), max_steps=80, batch_size=2, conditioning=cond, seed=1).collect()
    b = generate(NaiveWaveNet(model), max_steps=80, batch_size=2, conditioning=cond, seed=1).collect()
    torch.testing.assert_close(a, b, atol=1e-5, rtol=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cached_generation_matches_full_forward_on_cuda():
    model, inputs, cond = make_case(3, "mulaw", "global+local")
    model = model.cuda()
    inputs, cond = inputs.cuda(), {k: v.cuda() for k, v in cond.items()}
    torch.testing.assert_close(teacher_forced(WaveNetGenerator(model), inputs, cond), full_params(model, inputs, cond),
                               atol=1e-4, rtol=0)
    out = generate(WaveNetGenerator(model), max_steps=50, batch_size=3, conditioning=cond, seed=0).collect()
    assert out.device.type == "cuda" and out.shape == (3, 50)


def test_bad_conditioning_is_refused_with_what_is_allowed():
    model, inputs, cond = make_case(2, "mulaw", "global+local")
    with pytest.raises(InputError, match="speaker ids must be from 0 to 2"):
        model(inputs, speaker=torch.tensor([0, 1, 7]), frames=cond["frames"])
    with pytest.raises(InputError, match="needs local conditioning frames"):
        model(inputs, speaker=cond["speaker"])
    with pytest.raises(InputError, match=r"shape \(3, 5, n_frames\)"):
        model(inputs, speaker=cond["speaker"], frames=torch.zeros(3, 4, 100))
    with pytest.raises(InputError, match="NaN"):
        model(inputs, speaker=cond["speaker"], frames=torch.full((3, 5, 100), float("nan")))
    with pytest.raises(InputError, match="no speakers"):
        WaveNetGenerator(tiny_wavenet()).start(1, speaker=0)


def test_invalid_config_names_every_problem():
    with pytest.raises(InputError, match="kernel_size must be 2 or 3.*gate_channels must be even"):
        WaveNetConfig(kernel_size=4, gate_channels=7)


def test_the_network_file_knows_nothing_of_how_it_is_generated():
    """synth/models/wavenet.py is the network: the runners and options live in wavenet_generation
    (and its kernels); the network never imports them."""
    import ast
    from pathlib import Path

    source = Path(__file__).resolve().parents[1] / "synth" / "models" / "wavenet.py"
    imported = [node.module for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.ImportFrom)]
    imported += [alias.name for node in ast.walk(ast.parse(source.read_text())) if isinstance(node, ast.Import)
                 for alias in node.names]
    assert not [m for m in imported if m and (m.startswith("synth.models.wavenet_") or m.startswith("synth.kernels")
                                              or m == "synth.sampling.engine")]
