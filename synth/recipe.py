"""What every recipe shares: its hyper-parameters as one nested dataclass, read from an optional
YAML file and overridden from the command line (``train.steps=500 model.residual_channels=64``),
and its stages.

  python recipes/NAME.py --stage train --config my.yaml train.learning_rate=3e-4
  python recipes/NAME.py --print-config          # the resolved config as YAML
"""
from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any, Sequence

import yaml

from synth.checkpoint import config_from_dict
from synth.errors import CheckpointError, InputError


def config_to_dict(config: Any) -> dict:
    """Plain JSON / YAML values (tuples become lists)."""
    def plain(value):
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return [plain(v) for v in value] if isinstance(value, (list, tuple)) else value
    return plain(dataclasses.asdict(config))


def merge_config(config: Any, values: dict, source: str = "config") -> Any:
    """A copy of the dataclass ``config`` with ``values`` (nested dicts for nested dataclasses)
    applied; unknown fields and wrong types are refused with the allowed names."""
    if not isinstance(values, dict):
        raise InputError(f"{source}: expected a mapping of field names to values, got {type(values).__name__}")
    fields = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(values) - fields)
    if unknown:
        raise InputError(f"{source}: unknown field(s) {unknown} in {type(config).__name__}; allowed: {sorted(fields)}")
    flat, nested = {}, {}
    for name, value in values.items():
        current = getattr(config, name)
        if dataclasses.is_dataclass(current):
            nested[name] = merge_config(current, value, f"{source}: {name}")
        else:
            flat[name] = value
    if flat:
        plain = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                 if not dataclasses.is_dataclass(getattr(config, f.name))}
        plain = {k: list(v) if isinstance(v, tuple) else v for k, v in plain.items()}
        try:
            checked = config_from_dict(type(config), {**plain, **flat}, source)  # type checks every field
        except CheckpointError as error:
            raise InputError(str(error)) from None
        flat = {name: tuple(getattr(checked, name)) if isinstance(getattr(config, name), tuple) else getattr(checked, name)
                for name in flat}
    return dataclasses.replace(config, **flat, **nested)


def parse_override(text: str) -> dict:
    """``a.b.c=value`` -> {"a": {"b": {"c": value}}}, the value read as YAML (numbers, booleans, lists)."""
    if "=" not in text:
        raise InputError(f"override {text!r} must look like field.name=value (e.g. train.steps=500)")
    path, raw = text.split("=", 1)
    value = yaml.safe_load(raw) if raw.strip() else ""
    for part in reversed(path.strip().split(".")):
        if not part.isidentifier():
            raise InputError(f"override {text!r}: {part!r} is not a field name")
        value = {part: value}
    return value


def _deep_update(into: dict, values: dict) -> dict:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _deep_update(into[key], value)
        else:
            into[key] = value
    return into


def resolve_config(default: Any, config_file: str | Path | None = None, overrides: Sequence[str] = ()) -> Any:
    """``default`` updated by the YAML file, then by the command-line overrides."""
    values: dict = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise InputError(f"{path}: cannot read the recipe config ({error})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: a recipe config is a YAML mapping of field names to values")
        _deep_update(values, loaded)
    for text in overrides:
        _deep_update(values, parse_override(text))
    return merge_config(default, values, str(config_file or "overrides"))


def recipe_arguments(description: str, default: Any, stages: Sequence[str],
                     argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Any]:
    """Parse ``--stage``, ``--config FILE``, ``--print-config`` and ``field=value`` overrides."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stage", default="all", choices=[*stages, "all"], help="which stage to run (default: all, in order)")
    parser.add_argument("--config", help="YAML file of hyper-parameters (any subset of the fields)")
    parser.add_argument("--print-config", action="store_true", help="print the resolved config as YAML and exit")
    parser.add_argument("overrides", nargs="*", metavar="field=value",
                        help="override one field, e.g. train.steps=500 or model.residual_channels=64")
    args = parser.parse_args(argv)
    try:
        config = resolve_config(default, args.config, args.overrides)
    except InputError as error:
        parser.error(str(error))
    if args.print_config:
        print(yaml.safe_dump(config_to_dict(config), sort_keys=False), end="")
        raise SystemExit(0)
    return args, config


def wants(args: argparse.Namespace, stage: str) -> bool:
    return args.stage in (stage, "all")
