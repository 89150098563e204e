"""Growing a trained WaveNet run in place: its training state (weights, EMA weights, AdamW's
moments) is rewritten for a bigger model that computes the same function, so training goes on from
where it is with more to learn with: conditioning look-ahead (``--stage lookahead``), the held keys'
sines (``--stage sines``), more stacks (``--stage deepen``), more channels (``--stage widen``).
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch

from synth.errors import InputError
from synth.models.wavenet import WaveNet, WaveNetConfig
from synth.solvers.wavenet import WaveNetRecipe
from synth.training import TRAINING_STATE


def _state_to_grow(recipe: WaveNetRecipe, action: str) -> tuple[Path, WaveNetConfig]:
    """The run's training state file and the model config it was saved with."""
    from safetensors import SafetensorError

    from synth.checkpoint import config_from_dict
    from synth.training_state import stored_model_config

    path = Path(recipe.out_dir) / TRAINING_STATE
    try:
        stored = stored_model_config(path)
    except (OSError, ValueError, SafetensorError) as error:
        raise InputError(f"{path}: no training state to {action} ({error})") from None
    if stored is None:
        raise InputError(f"{path}: this training state was saved without its model config; it cannot be grown")
    return path, config_from_dict(WaveNetConfig, stored, str(path))


def grow_lookahead(recipe: WaveNetRecipe) -> dict:
    """Give the run's training state (``out_dir``) the recipe's conditioning look-ahead without
    changing what the model computes, so a model trained without it goes on training from where it
    is: the frame-level conv gains ``cond_lookahead`` taps on the future side, zero in the weights,
    the EMA weights and AdamW's moments; its old taps move ``cond_lookahead`` frames into the past
    and the upsampled conditioning is advanced as far (``WaveNet.upsample``), so every sample sees
    exactly the frames it saw before. Returns {"from": ..., "to": ...}."""
    from synth.training_state import reshape_parameters_in_state

    path, saved = _state_to_grow(recipe, "give look-ahead to")
    wanted = recipe.model
    grow = wanted.cond_lookahead - saved.cond_lookahead
    if grow <= 0 or not saved.cond_channels:
        raise InputError(f"{path}: its model looks {saved.cond_lookahead} frames ahead and the recipe asks for "
                         f"{wanted.cond_lookahead}: look-ahead can only grow, on a model with local conditioning")
    if wanted.cond_frame_kernel != saved.cond_frame_kernel + grow:
        raise InputError(f"the recipe's cond_frame_kernel must be {saved.cond_frame_kernel + grow} (the state's "
                         f"{saved.cond_frame_kernel} plus the {grow} new frames of look-ahead), got {wanted.cond_frame_kernel}")
    grown = dataclasses.replace(saved, cond_frame_kernel=wanted.cond_frame_kernel, cond_lookahead=wanted.cond_lookahead)
    # (H, C, k) -> (H, C, k + grow): zero taps for the frames ahead
    step = reshape_parameters_in_state(path, WaveNet(grown), {
        "upsampler.frame_conv.weight": lambda weight: torch.nn.functional.pad(weight, (0, grow))})
    return {"from": saved.cond_lookahead, "to": grown.cond_lookahead, "step": step}


def grow_key_harmonics(recipe: WaveNetRecipe) -> dict:
    """Give the run's training state (``out_dir``, a piano model) the recipe's ``key_harmonics``
    (the held keys' sines beside the upsampled roll) without changing what it computes, so a model
    trained without them goes on training with them: every layer's conditioning projection gains
    the sines' input columns, zero in the weights, the EMA weights and AdamW's moments.
    Returns {"from": ..., "to": ..., "step": ...}."""
    from synth.training_state import reshape_parameters_in_state

    path, saved = _state_to_grow(recipe, "give the keys' sines to")
    wanted = recipe.model.key_harmonics
    if wanted <= saved.key_harmonics or not saved.cond_channels:
        raise InputError(f"{path}: its model has {saved.key_harmonics} key harmonics and the recipe asks for {wanted}: "
                         f"they can only be added, to a model with a piano roll's conditioning")
    grown = dataclasses.replace(saved, key_harmonics=wanted)  # checks that the conditioning is a piano roll
    more = 2 * (wanted - saved.key_harmonics)  # (G, H', 1) -> (G, H' + more, 1): the new sines' columns at zero
    step = reshape_parameters_in_state(path, WaveNet(grown), {
        f"layers.{i}.cond_proj.weight": lambda weight: torch.nn.functional.pad(weight, (0, 0, 0, more))
        for i in range(grown.n_layers)})
    return {"from": saved.key_harmonics, "to": wanted, "step": step}


def grow_stacks(recipe: WaveNetRecipe) -> dict:
    """Give the run's training state (``out_dir``) the recipe's ``n_stacks`` (more than it has)
    without changing what the model computes, so it goes on training with a longer receptive field:
    the new stacks' layers come after the old ones with fresh weights except their skip outputs,
    which start at zero; the old layers' skip outputs grow by sqrt(new layers / old layers), since the
    head scales the sum of skips by 1 / sqrt(layers). Returns {"from": ..., "to": ..., "step": ...}."""
    from synth.training_state import extend_state

    path, saved = _state_to_grow(recipe, "deepen")
    if recipe.model.n_stacks <= saved.n_stacks:
        raise InputError(f"{path}: its model has {saved.n_stacks} stacks and the recipe asks for "
                         f"{recipe.model.n_stacks}: stacks can only be added")
    grown = dataclasses.replace(saved, n_stacks=recipe.model.n_stacks)
    old, new = WaveNet(saved), WaveNet(grown)
    residual = saved.residual_channels
    with torch.no_grad():
        for layer in new.layers[saved.n_layers:]:  # the new layers add nothing to the skips yet
            layer.residual_skip.weight[residual:] = 0.0
            layer.residual_skip.bias[residual:] = 0.0
    factor = torch.ones(residual + saved.skip_channels)
    factor[residual:] = math.sqrt(grown.n_layers / saved.n_layers)
    rescale = {}
    for i in range(saved.n_layers):
        rescale[f"layers.{i}.residual_skip.weight"] = factor[:, None, None]
        rescale[f"layers.{i}.residual_skip.bias"] = factor
    step = extend_state(path, old, new, rescale)
    return {"from": saved.n_stacks, "to": grown.n_stacks, "step": step}


def grow_width(recipe: WaveNetRecipe) -> dict:
    """Give the run's training state (``out_dir``) the recipe's ``residual_channels`` and
    ``gate_channels`` (at least as many as it has, one of them more) without changing what the
    model computes (Net2Net's function-preserving growth, Chen et al. 2016). New gate units read
    the residual stream and the conditioning with fresh weights, but their residual and skip outputs
    start at zero; new residual channels start at zero in the input embedding and in every layer's
    residual output, so they hold zeros until training writes to them, while the layers already
    read them with fresh weights. Skip channels stay as they are. Returns {"from": (R, G), "to": (R, G), "step": ...}."""
    from synth.training_state import widen_parameters_in_state

    path, saved = _state_to_grow(recipe, "widen")
    wanted = recipe.model
    before, after = (saved.residual_channels, saved.gate_channels), (wanted.residual_channels, wanted.gate_channels)
    if after[0] < before[0] or after[1] < before[1] or after == before:
        raise InputError(f"{path}: its model has {before[0]} residual / {before[1]} gate channels and the recipe asks "
                         f"for {after[0]} / {after[1]}: channels can only be added (set model.residual_channels or "
                         f"model.gate_channels above the state's)")
    if wanted.skip_channels != saved.skip_channels:
        raise InputError(f"widen keeps the skip channels ({saved.skip_channels}); the recipe asks for {wanted.skip_channels}")
    grown = dataclasses.replace(saved, residual_channels=after[0], gate_channels=after[1])
    torch.manual_seed(0)  # the new entries' fresh weights, the same on every run
    model = WaveNet(grown)
    residual, half, new_half = saved.residual_channels, saved.gate_channels // 2, grown.gate_channels // 2
    gates = torch.cat([torch.arange(half), new_half + torch.arange(half)])  # filter then gate halves, each grown
    outputs = torch.cat([torch.arange(residual), grown.residual_channels + torch.arange(saved.skip_channels)])
    places = {}
    for i in range(grown.n_layers):
        places[f"layers.{i}.conv.weight"] = ((gates, None, None), False)
        places[f"layers.{i}.conv.bias"] = ((gates,), False)
        if saved.cond_channels:
            places[f"layers.{i}.cond_proj.weight"] = ((gates, None, None), False)
        if saved.n_speakers:
            places[f"layers.{i}.speaker_proj.weight"] = ((gates, None), False)
        places[f"layers.{i}.residual_skip.weight"] = ((outputs, None, None), True)
        places[f"layers.{i}.residual_skip.bias"] = ((outputs,), True)
    places["input_embedding.weight"] = ((None, None), True)  # Embedding (classes, R) or Linear(1, R): (R, 1)
    if saved.output != "mulaw":
        places["input_embedding.bias"] = ((None,), True)
    step = widen_parameters_in_state(path, model, places)
    return {"from": before, "to": after, "step": step}
