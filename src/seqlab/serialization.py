"""Whole seqlab modules load with ``torch.load`` as it is called by default (``weights_only=True``).

``torch.load`` unpickles only the classes on torch's allowlist
(:func:`torch.serialization.add_safe_globals`), so a model saved whole with ``torch.save(model,
f)`` loads only if every class inside it is listed. ``import seqlab`` lists seqlab's own
``nn.Module`` classes (the engine's modules and cells, the attention modules, the models of
:mod:`seqlab.models`) and the few ``torch.nn`` classes seqlab's models are built from
(:data:`TORCH_PARTS`). Classes like a user's own model, or ``torch.nn.LSTM`` in it, stay the
user's to list, as torch asks: ``torch.serialization.safe_globals([...])``.

Listing a class lets a checkpoint create an instance and set its attributes; seqlab's modules
hold only tensors, numbers, strings and other listed modules, so nothing in them runs code on
loading.
"""

import importlib
import inspect
import logging
import pkgutil

import torch
from torch import nn

log = logging.getLogger(__name__)

# The torch.nn modules that seqlab's own models hold (CharLM with backend="torch.nn" holds
# torch's recurrent modules themselves); tests/test_serialization.py checks every model's parts.
TORCH_PARTS = (
    nn.BatchNorm2d,
    nn.Conv2d,
    nn.Dropout,
    nn.Embedding,
    nn.GRU,
    nn.LSTM,
    nn.LayerNorm,
    nn.Linear,
    nn.MaxPool2d,
    nn.ModuleList,
    nn.ReLU,
    nn.RNN,
    nn.Sequential,
    nn.Tanh,
)

# The packages whose nn.Module classes are listed, every submodule of each.
PACKAGES = ("seqlab.recurrent", "seqlab.attention", "seqlab.models")


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as error:
        log.debug("not listing the classes of %s for torch.load: %s", name, error)
        return None


def seqlab_module_classes() -> list[type[nn.Module]]:
    """Every ``nn.Module`` class defined in the modules of :data:`PACKAGES`, each once.

    A module that cannot be imported (one that needs an optional package not installed) is
    skipped: its classes could not be built in this process either.
    """
    found: dict[type, None] = {}
    for package_name in PACKAGES:
        package = _import(package_name)
        if package is None:
            continue
        names = [package_name]
        names += [m.name for m in pkgutil.walk_packages(package.__path__, package_name + ".")]
        for name in names:
            module = _import(name)
            if module is None:
                continue
            for _, cls in inspect.getmembers(module, inspect.isclass):
                if issubclass(cls, nn.Module) and cls.__module__ == name:
                    found[cls] = None
    return list(found)


def register_safe_globals() -> list[type]:
    """Adds seqlab's module classes and :data:`TORCH_PARTS` to torch's ``weights_only``
    allowlist; returns the classes. ``import seqlab`` calls it; calling it again is harmless.

    Each goes in as ``(class, "module.qualname")``, the form torch's allowlist also takes: a
    user's ``with torch.serialization.safe_globals([nn.Linear, ...])`` removes the classes it
    lists when it exits, and this form is not among them, so seqlab's entries stay.
    """
    classes = [*seqlab_module_classes(), *TORCH_PARTS]
    torch.serialization.add_safe_globals([(c, f"{c.__module__}.{c.__qualname__}") for c in classes])
    return classes
