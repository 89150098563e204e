"""The fast generation paths (fused C kernel on the CPU, CUDA graphs on a GPU) against the plain
cached-queue reference they replace."""
import numpy as np
import pytest
import torch

from synth import kernels
from synth.models.wavenet_cpu import cpu_kernel, kernel_policy
from synth.models.wavenet_generation import GenerationOptions, WaveNetGenerator
from synth.sampling import generate, make_policy

from test_wavenet import CONDITIONING, make_case

needs_kernel = pytest.mark.skipif(kernels.load("wavenet_cpu") is None, reason="no C compiler to build the kernel")
NO_POLICY = np.zeros((0, 2), dtype=np.float32)
REFERENCE = GenerationOptions(path="reference")


def fused_teacher_forced(model, inputs, cond, n_threads):
    """Params the fused kernel computes while fed ``inputs`` (B, T) by teacher forcing."""
    state = WaveNetGenerator(model).start(inputs.shape[0], **cond)
    kernel = state["cpu_kernel"]
    _, params = kernel.run(state, inputs[:, 0], inputs.shape[1] - 1, None, NO_POLICY, forced=inputs[:, 1:],
                           n_threads=n_threads, want_logits=True)
    return params  # (B, T - 1, out) for steps 0 .. T - 2


def reference_params(model, inputs, cond):
    with torch.no_grad():
        return model(inputs, **cond)[:, :-1]


def sample_both(model, policy, **kwargs):
    fast = generate(WaveNetGenerator(model), policy=policy, **kwargs).collect()
    reference = generate(WaveNetGenerator(model, REFERENCE), policy=policy, **kwargs).collect()
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
    streamed = generate(WaveNetGenerator(model), max_steps=10 * steps, batch_size=2, seed=5,
                        conditioning={"speaker": cond["speaker"], "frames": pieces[0]},
                        conditioning_stream=pieces[1:]).collect()
    assert torch.equal(whole, streamed)


def test_graphed_steps_sample_what_the_reference_samples():
    """The CUDA-graph path's step (device-side time, gathered taps) run eagerly on the CPU."""
    for output, policy in (("mulaw", POLICIES["temperature+top_k"]), ("logistic_mixture", ())):
        model, _, cond = make_case(3, output, "global+local", batch_size=2)
        graphed = generate(WaveNetGenerator(model, GenerationOptions(path="graphs")), max_steps=300, batch_size=2,
                           conditioning=cond, seed=2, policy=policy).collect()
        reference = generate(WaveNetGenerator(model, REFERENCE), max_steps=300, batch_size=2, conditioning=cond, seed=2,
                             policy=policy).collect()
        torch.testing.assert_close(graphed.float(), reference.float(), atol=1e-5, rtol=0)


def test_without_the_kernel_generation_falls_back_to_the_reference(monkeypatch):
    model, _, cond = make_case(2, "mulaw", "global", batch_size=2)
    expected = generate(WaveNetGenerator(model), max_steps=200, batch_size=2, conditioning=cond, seed=1).collect()
    monkeypatch.setitem(kernels._loaded, "wavenet_cpu", None)  # as on a machine with no C compiler
    state = WaveNetGenerator(model).start(2, **cond)
    assert state["cpu_kernel"] is None
    again = generate(WaveNetGenerator(model), max_steps=200, batch_size=2, conditioning=cond, seed=1).collect()
    assert torch.equal(again, expected)


def test_policies_the_kernel_cannot_reproduce_are_left_to_the_reference():
    assert kernel_policy(make_policy(top_p=0.9), mixture=True) is None
    assert kernel_policy(make_policy(temperature=0.5, top_k=3), mixture=False).tolist() == [[5, 0.5], [2, 3]]
    model, _, cond = make_case(2, "logistic_mixture", "none", batch_size=1)
    with pytest.raises(Exception, match="top_p policy does not apply"):
        generate(WaveNetGenerator(model), max_steps=10, policy=make_policy(top_p=0.9), seed=0).collect()


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
        generate(WaveNetGenerator(model), max_steps=10, prime=primer, seed=0).collect()


def test_a_primer_outside_the_mixture_range_is_refused():
    model, _, _ = make_case(2, "logistic_mixture", "none", batch_size=1)
    with pytest.raises(Exception, match=r"finite samples in \[-1, 1\]"):
        generate(WaveNetGenerator(model), max_steps=10, prime=torch.tensor([[0.1, float("nan")]]), seed=0).collect()


def graphed_teacher_forced(model, inputs, cond, dtype=None, steps_per_graph=8):
    from synth.models.wavenet_cuda import GraphedSteps

    state = WaveNetGenerator(model).start(inputs.shape[0], **cond)
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


# --- options belong to the request ----------------------------------------------------------

def test_two_requests_with_different_options_on_one_model_do_not_interfere():
    """One shared model, two generations interleaved chunk by chunk: one graphed in bfloat16, one
    graphed in float32 (continuous mixture samples, so the precision shows in every sample). Each
    gives exactly what it gives alone: neither request's options leak into the other."""
    model, _, cond = make_case(3, "logistic_mixture", "global+local", batch_size=2)
    options = {"bf16": GenerationOptions(path="graphs", graph_dtype=torch.bfloat16),
               "fp32": GenerationOptions(path="graphs")}

    def request(name):
        return generate(WaveNetGenerator(model, options[name]), max_steps=256, batch_size=2, conditioning=cond,
                        seed=4, chunk_steps=16)  # a whole graph (16 steps) per chunk

    alone = {name: request(name).collect() for name in options}
    assert not torch.equal(alone["bf16"], alone["fp32"])
    assert alone["fp32"].shape[1] > 3 * 16  # several chunks each (the frames end the audio)
    running = {name: iter(request(name)) for name in options}
    chunks = {name: [] for name in options}
    while running:
        for name in list(running):  # one chunk of each request in turn
            chunk = next(running[name], None)
            if chunk is None:
                del running[name]
            else:
                chunks[name].append(chunk)
    for name in options:
        assert torch.equal(torch.cat(chunks[name], 1), alone[name]), name


@needs_kernel
def test_concurrent_requests_each_run_the_kernel_with_their_own_threads(monkeypatch):
    """Two threads generate from one model at once with 1 and 2 kernel threads: every kernel call
    of a request gets that request's count, and both give the reference's samples."""
    import threading

    from synth.models.wavenet_cpu import CPUKernel

    model, _, cond = make_case(3, "mulaw", "global+local", batch_size=2)
    seen, run = {}, CPUKernel.run
    both_started = threading.Barrier(2, timeout=60)

    def spy(self, state, *args, n_threads=None, **kwargs):
        name = threading.current_thread().name
        if name not in seen:
            both_started.wait()  # neither request goes on until both are under way
        seen.setdefault(name, set()).add(n_threads)
        return run(self, state, *args, n_threads=n_threads, **kwargs)

    monkeypatch.setattr(CPUKernel, "run", spy)
    expected = generate(WaveNetGenerator(model, REFERENCE), max_steps=600, batch_size=2, conditioning=cond,
                        seed=9).collect()
    results = {}

    def request(threads):
        results[threads] = generate(WaveNetGenerator(model, GenerationOptions(cpu_threads=threads)), max_steps=600,
                                    batch_size=2, conditioning=cond, seed=9, chunk_steps=50).collect()

    workers = [threading.Thread(target=request, args=(n,), name=f"request with {n} kernel threads") for n in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert seen == {"request with 1 kernel threads": {1}, "request with 2 kernel threads": {2}}
    assert torch.equal(results[1], expected) and torch.equal(results[2], expected)


@needs_kernel
def test_reference_and_kernel_requests_interleaved_step_by_step_each_give_their_solo_samples(monkeypatch):
    """One shared model, three requests started at once and advanced one sample each in turn: the
    reference queues, the fused kernel on 1 thread and on 2 threads, each with its own seed and
    speakers. Each gives exactly the samples it gives alone, and each ran on the path and thread
    count its options chose at start(): nothing of one request is kept on the model for another."""
    from synth.models.wavenet_cpu import CPUKernel

    model, _, cond = make_case(3, "mulaw", "global+local", batch_size=2)
    requests = {"reference": (REFERENCE, 1), "kernel on 1 thread": (GenerationOptions(cpu_threads=1), 2),
                "kernel on 2 threads": (GenerationOptions(cpu_threads=2), 3)}

    def request(name, chunk_steps):
        options, seed = requests[name]
        conditioning = dict(cond, speaker=(cond["speaker"] + seed) % 3)
        return generate(WaveNetGenerator(model, options), max_steps=400, batch_size=2, conditioning=conditioning,
                        seed=seed, chunk_steps=chunk_steps)

    alone = {name: request(name, chunk_steps=4096).collect() for name in requests}
    assert alone["reference"].shape[1] > 50  # the frames end the audio
    assert not torch.equal(alone["reference"], alone["kernel on 1 thread"])  # different seeds and speakers

    request_of, kernel_threads, start, run = {}, {}, WaveNetGenerator.start, CPUKernel.run

    def start_spy(self, *args, **kwargs):
        state = start(self, *args, **kwargs)
        request_of[id(state)] = next(name for name, (options, _) in requests.items() if options is self.options)
        return state

    def run_spy(self, state, *args, n_threads=None, **kwargs):
        kernel_threads.setdefault(request_of[id(state)], []).append(n_threads)
        return run(self, state, *args, n_threads=n_threads, **kwargs)

    monkeypatch.setattr(WaveNetGenerator, "start", start_spy)
    monkeypatch.setattr(CPUKernel, "run", run_spy)
    running = {name: iter(request(name, chunk_steps=1)) for name in requests}
    samples = {name: [] for name in requests}
    while running:
        for name in list(running):  # one sample of each request in turn
            chunk = next(running[name], None)
            if chunk is None:
                del running[name]
            else:
                samples[name].append(chunk)
    for name in requests:
        assert torch.equal(torch.cat(samples[name], 1), alone[name]), name
    n = alone["reference"].shape[1]
    assert kernel_threads == {"kernel on 1 thread": [1] * n, "kernel on 2 threads": [2] * n}  # a call per sample


def test_options_are_checked_and_never_written_onto_the_model():
    with pytest.raises(Exception, match="path must be one of auto, reference, graphs.*cpu_threads must be"):
        GenerationOptions(path="fast", cpu_threads=0)
    with pytest.raises(Exception, match="graph_dtype"):
        GenerationOptions(graph_dtype=torch.float64)
    model, _, _ = make_case(2, "mulaw", "none", batch_size=1)
    for name in ("generation_path", "cpu_threads", "graph_dtype"):
        assert not hasattr(model, name)
        with pytest.raises(AttributeError, match="GenerationOptions"):
            setattr(model, name, "reference")


@pytest.mark.parametrize("name", ["wavenet-tiny", "wavenet-speakers", "wavenet-piano", "wavenet-vocoder"])
def test_bundled_checkpoints_load_unchanged_and_sample_alike_on_every_path(name):
    """The network file kept its state_dict keys (load_checkpoint refuses missing or unexpected
    tensors), and the bundled weights sample the same on the fast path as on the reference."""
    from pathlib import Path

    from safetensors import safe_open

    from synth.checkpoint import load_checkpoint

    folder = Path(__file__).resolve().parents[1] / "assets" / name
    if not (folder / "model.safetensors").is_file():
        pytest.skip(f"{folder}: not bundled here")
    model = load_checkpoint(folder, expect_kind="wavenet")
    with safe_open(str(folder / "model.safetensors"), "pt") as weights:  # read back by the library itself
        assert set(weights.keys()) == set(model.state_dict())
    c = model.config
    cond = {"speaker": 0 if c.n_speakers else None,
            "frames": (torch.randn(1, c.cond_channels, 64 // c.hop_length + 1 + c.cond_lookahead)  # and the look-ahead
                       if c.cond_channels else None)}
    fast, reference = sample_both(model, (), max_steps=64, conditioning=cond, seed=1)
    torch.testing.assert_close(fast.float(), reference.float(), atol=1e-5, rtol=0)
