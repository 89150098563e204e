"""Recipe configs: one nested dataclass, a YAML file over it, command-line overrides over that."""
import dataclasses

import pytest

from synth.errors import InputError
from synth.models.wavenet import WaveNetConfig
from synth.recipe import config_to_dict, recipe_arguments, resolve_config
from synth.training import TrainConfig


@dataclasses.dataclass
class Recipe:
    model: WaveNetConfig = dataclasses.field(default_factory=WaveNetConfig)
    train: TrainConfig = dataclasses.field(default_factory=TrainConfig)
    crop_samples: int = 4000


def test_yaml_file_then_overrides_set_nested_fields(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("train:\n  steps: 50\n  learning_rate: 0.002\nmodel:\n  residual_channels: 16\ncrop_samples: 800\n")
    config = resolve_config(Recipe(), path, ["train.steps=70", "model.upsample_scales=[4, 4]"])
    assert config.train.steps == 70 and config.train.learning_rate == 0.002
    assert config.model.residual_channels == 16 and config.model.upsample_scales == (4, 4)
    assert config.crop_samples == 800 and config.train.warmup_steps == TrainConfig().warmup_steps


@pytest.mark.parametrize("override, message", [
    ("train.stepz=3", "unknown field.*stepz.*allowed"),
    ("crop_samples=many", "crop_samples.*int"),
    ("model.kernel_size=5", "kernel_size must be 2 or 3"),
    ("steps", "field.name=value"),
])
def test_bad_overrides_say_what_is_allowed(override, message):
    with pytest.raises(InputError, match=message):
        resolve_config(Recipe(), None, [override])


def test_a_config_file_that_is_not_a_mapping_is_refused(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="YAML mapping"):
        resolve_config(Recipe(), path)


def test_print_config_round_trips_through_yaml(tmp_path, capsys):
    with pytest.raises(SystemExit):
        recipe_arguments("r", Recipe(), ["prepare", "train"], ["--print-config", "train.steps=9"])
    path = tmp_path / "printed.yaml"
    path.write_text(capsys.readouterr().out)
    assert config_to_dict(resolve_config(Recipe(), path)) == config_to_dict(resolve_config(Recipe(), None, ["train.steps=9"]))
