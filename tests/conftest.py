import pytest
import torch

from synth.models.wavenet import WaveNet, WaveNetConfig


def tiny_config(**overrides) -> WaveNetConfig:
    """A WaveNet small enough to run thousands of steps in a test, with every feature switchable."""
    values = dict(n_stacks=2, layers_per_stack=3, kernel_size=2, residual_channels=8, gate_channels=12,
                  skip_channels=10, n_classes=256, n_mixtures=3, speaker_channels=4, cond_hidden_channels=6)
    values.update(overrides)
    return WaveNetConfig(**values)


def tiny_wavenet(seed: int = 0, **overrides) -> WaveNet:
    torch.manual_seed(seed)
    return WaveNet(tiny_config(**overrides)).eval()


@pytest.fixture
def wavenet():
    return tiny_wavenet()


@pytest.fixture
def one_thread():
    """Small tensors: one thread is fastest, and spinning threads only slow a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
