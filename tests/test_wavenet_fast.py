"""The fast generation paths (fused C kernel on the CPU, CUDA graphs on a GPU) against the plain
cached-queue reference they replace."""
import numpy as np
import pytest
import torch

from synth import kernels
from synth.models.wavenet_cpu import cpu_kernel, kernel_policy
from synth.sampling import generate, make_policy

from test_wavenet import CONDITIONING, make_case

needs_kernel = pytest.mark.skipif(kernels.load("wavenet_cpu") is None, reason="no C compiler to build the kernel")
NO_POLICY = np.zeros((0, 2), dtype=np.float32)


def fused_teacher_forced(model, inputs, cond, n_threads):
    """Params the fused kernel computes while fed ``inputs`` (B, T) by teacher forcing."""
    state = model.start(inputs.shape[0], **cond)
    kernel = state["cpu_kernel"]
    _, params = kernel.run(state, inputs[:, 0], inputs.shape[1] - 1, None, NO_POLICY, forced=inputs[:, 1:],
                           n_threads=n_threads, want_logits=True)
    return params  # (B, T - 1, out) for steps 0 .. T - 2


def reference_params(model, inputs, cond):
    with torch.no_grad():
        return model(inputs, **cond)[:, :-1]


def sample_both(model, policy, **kwargs):
    model.generation_path = "auto"
    fast = generate(model, policy=policy, **kwargs).collect()
    model.generation_path = "reference"
    reference = generate(model, policy=policy, **kwargs).collect()
    model.generation_path = "auto"
    return fast, reference


@needs_kernel
@pytest.mark.parametrize("conditioning", list(CONDITIONING))
@pytest.mark.parametrize("output", ["mulaw", "logistic_mixture"])
@pytest.mark.parametrize("kernel_size", [2, 3])
def test_fused_kernel_logits_match_the_full_forward(kernel_size, output, conditioning):
    for batch_size in (1, 3):
        model, inputs, cond = make_case(kernel_size, output, conditioning, batch_size=batch_size)
        for n_threads in (1, 2):
            torch.testing.assert_close(fused_teacher_forced(model, inputs, cond, n_threads),
                                       reference_params(model, inputs, cond), atol=1e-4, rtol=0)


@needs_kernel
def test_fused_kernel_on_config_a_matches_the_full_forward():
    from synth.bench import CONFIG_A
    from synth.models.wavenet import WaveNet

    torch.manual_seed(0)
    model = WaveNet(CONFIG_A).eval()
    inputs = model.shift_inputs(torch.randint(0, 256, (2, 2 * CONFIG_A.receptive_field + 5)))
    for n_threads in (1, 2):
        torch.testing.assert_close(fused_teacher_forced(model, inputs[:1], {}, n_threads),
                                   reference_params(model, inputs[:1], {}), atol=1e-4, rtol=0)
    torch.testing.assert_close(fused_teacher_forced(model, inputs, {}, 2), reference_params(model, inputs, {}),
                               atol=1e-4, rtol=0)


POLICIES = {
    "plain": (),
    "temperature+top_k": make_policy(temperature=0.8, top_k=20),
    "top_p": make_policy(top_p=0.9),
    "bias": make_policy(bias=0.5),
    "greedy": make_policy(greedy=True),
}


@needs_kernel
@pytest.mark.parametrize("policy", list(POLICIES))
@pytest.mark.parametrize("batch_size", [1, 3])
def test_fused_kernel_samples_what_the_reference_samples_for_a_seed(policy, batch_size):
    model, _, cond = make_case(3, "mulaw", "global+local", batch_size=batch_size)
    fast, reference = sample_both(model, POLICIES[policy], max_steps=600, batch_size=batch_size,
                                  conditioning=cond, seed=11)
    assert torch.equal(fast, reference)


@needs_kernel
@pytest.mark.parametrize("policy", ["plain", "temperature+top_k", "greedy"])
def test_fused_kernel_samples_the_logistic_mixture_as_the_reference_does(policy):
    model, _, cond = make_case(2, "logistic_mixture", "global", batch_size=2)
    fast, reference = sample_both(model, POLICIES[policy], max_steps=600, batch_size=2, conditioning=cond, seed=3)
    torch.testing.assert_close(fast, reference, atol=1e-5, rtol=0)


@needs_kernel
def test_streamed_conditioning_on_the_fused_path_gives_the_same_audio():
    model, _, cond = make_case(3, "mulaw", "global+local", batch_size=2)
    frames = cond["frames"]
    steps = frames.shape[-1] * model.config.hop_length
    whole, reference = sample_both(model, (), max_steps=steps, batch_size=2, conditioning=cond, seed=5)
    assert torch.equal(whole, reference)
    pieces = [frames[..., i:i + 2] for i in range(0, frames.shape[-1], 2)]
    streamed = generate(model, max_steps=10 * steps, batch_size=2, seed=5,
                        conditioning={"speaker": cond["speaker"], "frames": pieces[0]},
                        conditioning_stream=pieces[1:]).collect()
    assert torch.equal(whole, streamed)


def test_graphed_steps_sample_what_the_reference_samples():
    """The CUDA-graph path's step (device-side time, gathered taps) run eagerly on the CPU."""
    for output, policy in (("mulaw", POLICIES["temperature+top_k"]), ("logistic_mixture", ())):
        model, _, cond = make_case(3, output, "global+local", batch_size=2)
        model.generation_path = "graphs"
        graphed = generate(model, max_steps=300, batch_size=2, conditioning=cond, seed=2, policy=policy).collect()
        model.generation_path = "reference"
        reference = generate(model, max_steps=300, batch_size=2, conditioning=cond, seed=2, policy=policy).collect()
        torch.testing.assert_close(graphed.float(), reference.float(), atol=1e-5, rtol=0)


def test_without_the_kernel_generation_falls_back_to_the_reference(monkeypatch):
    model, _, cond = make_case(2, "mulaw", "global", batch_size=2)
    expected = generate(model, max_steps=200, batch_size=2, conditioning=cond, seed=1).collect()
    monkeypatch.setitem(kernels._loaded, "wavenet_cpu", None)  # as on a machine with no C compiler
    state = model.start(2, **cond)
    assert state["cpu_kernel"] is None
    assert torch.equal(generate(model, max_steps=200, batch_size=2, conditioning=cond, seed=1).collect(), expected)


def test_policies_the_kernel_cannot_reproduce_are_left_to_the_reference():
    assert kernel_policy(make_policy(top_p=0.9), mixture=True) is None
    assert kernel_policy(make_policy(temperature=0.5, top_k=3), mixture=False).tolist() == [[5, 0.5], [2, 3]]
    model, _, cond = make_case(2, "logistic_mixture", "none", batch_size=1)
    with pytest.raises(Exception, match="top_p policy does not apply"):
        generate(model, max_steps=10, policy=make_policy(top_p=0.9), seed=0).collect()


@needs_kernel
def test_any_thread_count_splits_streams_and_rows_to_the_same_results():
    # bitwise equality is not promised: the stream tiling changes the order of float sums
    model, inputs, cond = make_case(2, "mulaw", "global+local", batch_size=5)
    one = fused_teacher_forced(model, inputs, cond, 1)
    for n_threads in (2, 3, 8):
        torch.testing.assert_close(fused_teacher_forced(model, inputs, cond, n_threads), one, atol=1e-5, rtol=0)
    assert cpu_kernel(model).default_threads(1) == 1  # a tiny model fits one core's cache


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_graphs_sample_what_the_reference_samples_on_the_gpu():
    model, _, cond = make_case(3, "mulaw", "global+local", batch_size=4)
    model = model.cuda()
    cond = {k: v.cuda() for k, v in cond.items()}
    fast, reference = sample_both(model, POLICIES["temperature+top_k"], max_steps=500, batch_size=4,
                                  conditioning=cond, seed=7)
    assert fast.device.type == "cuda"
    mismatch = (fast != reference).float().mean().item()
    assert mismatch == 0.0


@pytest.mark.parametrize("primer, message", [
    (torch.tensor([[5, 300]]), "primer classes must be from 0 to 255"),
    (torch.tensor([[-1, 3]]), "primer classes must be from 0 to 255"),
    (torch.tensor([[0.5, 0.2]]), "whole class numbers"),
    (torch.tensor([1, 2, 3]), r"shape \(1, steps, ...\)"),
])
def test_a_bad_primer_is_refused_before_it_reaches_the_kernel(primer, message):
    model, _, _ = make_case(2, "mulaw", "none", batch_size=1)
    with pytest.raises(Exception, match=message):
        generate(model, max_steps=10, prime=primer, seed=0).collect()


def test_a_primer_outside_the_mixture_range_is_refused():
    model, _, _ = make_case(2, "logistic_mixture", "none", batch_size=1)
    with pytest.raises(Exception, match=r"finite samples in \[-1, 1\]"):
        generate(model, max_steps=10, prime=torch.tensor([[0.1, float("nan")]]), seed=0).collect()


def graphed_teacher_forced(model, inputs, cond, dtype=None, steps_per_graph=8):
    from synth.models.wavenet_cuda import GraphedSteps

    state = model.start(inputs.shape[0], **cond)
    runner = GraphedSteps(model, state, (), steps_per_graph=steps_per_graph, dtype=dtype, teacher_forced=True)
    n = (inputs.shape[1] - 1) // steps_per_graph * steps_per_graph
    with torch.no_grad():
        return runner.run(inputs[:, 0], None, forced=inputs[:, 1:n + 1]), n


@pytest.mark.parametrize("output", ["mulaw", "logistic_mixture"])
def test_graphed_step_params_match_the_full_forward(output):
    model, inputs, cond = make_case(3, output, "global+local", batch_size=2)
    params, n = graphed_teacher_forced(model, inputs, cond)
    torch.testing.assert_close(params, reference_params(model, inputs, cond)[:, :n], atol=1e-4, rtol=0)


def test_bfloat16_graphed_steps_stay_close_to_float32():
    """Reduced precision on the layers only (queues, sums and sampling in float32): the params
    move by about bfloat16's resolution, not more."""
    model, inputs, cond = make_case(3, "mulaw", "global+local", batch_size=2)
    params, n = graphed_teacher_forced(model, inputs, cond, dtype=torch.bfloat16)
    reference = reference_params(model, inputs, cond)[:, :n]
    error = (params - reference).abs()
    assert error.max().item() < 0.01 and error.mean().item() < 0.002  # params here are ~0.17 on average
    probs, reference_probs = params.softmax(-1), reference.softmax(-1)
    assert (probs - reference_probs).abs().sum(-1).max().item() < 0.005  # total variation per step


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_cuda_graphs_teacher_forced_params_match_float32(dtype):
    model, inputs, cond = make_case(3, "mulaw", "global+local", batch_size=2)
    model = model.cuda()
    cond = {k: v.cuda() for k, v in cond.items()}
    params, n = graphed_teacher_forced(model, inputs.cuda(), cond, dtype=dtype)
    reference = reference_params(model, inputs.cuda(), cond)[:, :n]
    torch.testing.assert_close(params, reference, atol=1e-4 if dtype is None else 0.1, rtol=0)
