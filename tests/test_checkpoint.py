"""The one checkpoint format: exact round trips, and clear refusals of anything damaged."""
import json
import pickle

import pytest
import torch

from synth.checkpoint import load_checkpoint, save_checkpoint
from synth.errors import CheckpointError
from synth.models.wavenet_generation import WaveNetGenerator
from synth.sampling import generate

from conftest import tiny_wavenet


@pytest.fixture
def saved(tmp_path):
    model = tiny_wavenet(3, n_speakers=2, cond_channels=4, upsample_scales=(4,), output="logistic_mixture")
    path = save_checkpoint(model, tmp_path / "ckpt", card="# tiny\n", metadata={"steps": 0})
    return model, path


def test_a_saved_checkpoint_reloads_to_identical_outputs(saved):
    model, path = saved
    loaded = load_checkpoint(path)
    inputs = torch.rand(2, 40) * 2 - 1
    cond = {"speaker": torch.tensor([0, 1]), "frames": torch.randn(2, 4, 10)}
    with torch.no_grad():
        assert torch.equal(model(inputs, **cond), loaded(inputs, **cond))
    a = generate(WaveNetGenerator(model), max_steps=30, batch_size=2, conditioning=cond, seed=0).collect()
    b = generate(WaveNetGenerator(loaded), max_steps=30, batch_size=2, conditioning=cond, seed=0).collect()
    assert torch.equal(a, b)
    assert loaded.metadata == {"steps": 0} and loaded.card == "# tiny\n"


def test_a_corrupted_weights_file_is_refused_naming_the_file(saved):
    _, path = saved
    weights = path / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF  # one flipped byte inside a tensor: the header still parses
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"model\.safetensors: the weights do not match the checksum"):
        load_checkpoint(path)


def test_a_truncated_weights_file_is_refused(saved):
    _, path = saved
    weights = path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="damaged, truncated"):
        load_checkpoint(path)


def test_a_pickle_is_never_unpickled(saved, tmp_path):
    _, path = saved
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    payload = pickle.dumps({"weights": Exploit()})
    (path / "model.safetensors").write_bytes(payload)
    header = json.loads((path / "config.json").read_text())
    import hashlib
    header["weights_sha256"] = hashlib.sha256(payload).hexdigest()
    (path / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="not a readable safetensors file"):
        load_checkpoint(path)
    assert not marker.exists()


def test_missing_folder_and_files_are_named(saved, tmp_path):
    _, path = saved
    with pytest.raises(CheckpointError, match="no checkpoint folder here"):
        load_checkpoint(tmp_path / "nowhere")
    (path / "config.json").unlink()
    with pytest.raises(CheckpointError, match=r"config\.json: missing"):
        load_checkpoint(path)


def test_a_damaged_config_is_refused(saved):
    _, path = saved
    (path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match=r"config\.json: not valid JSON"):
        load_checkpoint(path)


def test_a_config_that_does_not_match_the_weights_is_refused(saved):
    _, path = saved
    header = json.loads((path / "config.json").read_text())
    header["config"]["residual_channels"] = 16
    (path / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="weights do not match the wavenet config.*shape mismatches"):
        load_checkpoint(path)


def test_unknown_kinds_and_fields_are_refused(saved):
    _, path = saved
    header = json.loads((path / "config.json").read_text())
    (path / "config.json").write_text(json.dumps(dict(header, kind="vocoder9000")))
    with pytest.raises(CheckpointError, match="unknown model kind 'vocoder9000'"):
        load_checkpoint(path)
    header["config"]["wings"] = 2
    (path / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match=r"unknown WaveNetConfig fields \['wings'\]"):
        load_checkpoint(path)
    header["config"].pop("wings")
    header["config"]["residual_channels"] = 10**9
    (path / "config.json").write_text(json.dumps(header))
    with pytest.raises(CheckpointError, match="residual_channels must be from 1 to 4096"):
        load_checkpoint(path)


def test_saving_over_a_checkpoint_leaves_no_temporary_files(saved):
    model, path = saved
    save_checkpoint(model, path)
    assert sorted(p.name for p in path.iterdir()) == ["MODEL_CARD.md", "config.json", "model.safetensors"]
