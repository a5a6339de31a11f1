"""What a training step carries besides the model: nested state tensors (truncated BPTT's
hidden state) and the random-number generators, in forms a checkpoint can hold."""

import random

import torch
from torch import Tensor


def detach(tree):
    """Tensors of a nested tuple/list/dict cut from their graph (truncated BPTT)."""
    if isinstance(tree, Tensor):
        return tree.detach()
    if isinstance(tree, (tuple, list)):
        return type(tree)(detach(t) for t in tree)
    if isinstance(tree, dict):
        return {k: detach(v) for k, v in tree.items()}
    return tree


def to_device(tree, device):
    if isinstance(tree, Tensor):
        return tree.to(device)
    if isinstance(tree, (tuple, list)):
        return type(tree)(to_device(t, device) for t in tree)
    if isinstance(tree, dict):
        return {k: to_device(v, device) for k, v in tree.items()}
    return tree


def rng_state(device: torch.device) -> dict:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict, device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
