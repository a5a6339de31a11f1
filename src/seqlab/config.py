"""Experiment configurations as frozen dataclasses, with dotted ``key=value`` overrides.

A configuration is a tree of frozen dataclasses (``cfg.train.lr``). The command line changes it
with ``--set train.lr=3e-3``: the key is looked up in the tree, the value is parsed as the type
the field declares (``int``, ``float``, ``bool``, ``str``, or ``A | None``), and the changed
dataclass is rebuilt, so its ``__post_init__`` validation runs again. An unknown key or a value
that does not parse is a :class:`~seqlab.errors.ConfigError` listing what is valid.
"""

import dataclasses
import json
import types
import typing
from typing import Any

from .errors import ConfigError

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def keys(cfg) -> dict[str, Any]:
    """Every leaf key of ``cfg`` in dotted form, mapped to its current value."""
    out = {}
    for field in dataclasses.fields(cfg):
        value = getattr(cfg, field.name)
        if dataclasses.is_dataclass(value):
            out |= {f"{field.name}.{k}": v for k, v in keys(value).items()}
        else:
            out[field.name] = value
    return out


def _field_types(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _parse(text: str, annotation, key: str):
    """Parse ``text`` as a value of ``annotation`` (int, float, bool, str or X | None)."""
    options = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if type(None) in options and text.lower() in ("none", "null", ""):
            return None
        inner = [a for a in options if a is not type(None)]
        return _parse(text, inner[0], key)
    try:
        if annotation is bool:
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if annotation is int:
            return int(text)
        if annotation is float:
            return float(text)
        if annotation is str:
            return text
    except ValueError:
        pass
    else:
        raise ConfigError(f"{key}: fields of type {annotation} cannot be set from the command line")
    name = getattr(annotation, "__name__", str(annotation))
    raise ConfigError(f"{key}={text!r}: expected a value of type {name}")


def _describe_keys(cfg) -> str:
    return "\n".join(f"  {k} = {v!r}" for k, v in keys(cfg).items())


def override(cfg, assignments: list[str]):
    """Return ``cfg`` with every ``"dotted.key=value"`` of ``assignments`` applied (a later one
    wins over an earlier one of the same key). Each section is rebuilt once with all of its
    changes, so settings that are only valid together (``train.max_steps=0`` with a
    ``train.time_budget``) can be given in any order."""
    changes: dict = {}
    for assignment in assignments:
        key, sep, text = assignment.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"--set {assignment!r}: expected KEY=VALUE, e.g. train.lr=0.003; valid keys:\n"
                + _describe_keys(cfg)
            )
        _plan(cfg, key.split("."), text.strip(), key, cfg, changes)
    return _apply(cfg, changes)


def _plan(node, path: list[str], text: str, key: str, root, changes: dict) -> None:
    """Checks ``key`` against the configuration and records its parsed value in ``changes``
    (nested dicts per section)."""
    names = {f.name for f in dataclasses.fields(node)}
    head = path[0]
    if head not in names:
        raise ConfigError(f"unknown key {key!r}; valid keys:\n" + _describe_keys(root))
    current = getattr(node, head)
    if dataclasses.is_dataclass(current):
        if len(path) == 1:
            raise ConfigError(f"{key!r} is a section; set one of its keys, e.g. {key}.<name>=...")
        _plan(current, path[1:], text, key, root, changes.setdefault(head, {}))
    else:
        if len(path) > 1:
            raise ConfigError(f"unknown key {key!r}; valid keys:\n" + _describe_keys(root))
        changes[head] = (_parse(text, _field_types(type(node))[head], key), f"{key}={text!r}")


def _apply(node, changes: dict):
    values, given = {}, []
    for head, change in changes.items():
        if isinstance(change, dict):
            values[head] = _apply(getattr(node, head), change)
        else:
            values[head], assignment = change
            given.append(assignment)
    try:
        return dataclasses.replace(node, **values)
    except (ValueError, TypeError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{', '.join(given) or 'the settings'}: {err}") from None


def to_dict(cfg) -> dict[str, Any]:
    """The configuration as plain nested dicts (what ``config.json`` holds)."""
    return dataclasses.asdict(cfg)


def from_dict(cls, data: dict[str, Any], where: str = "config", prefix: str = ""):
    """Rebuild a configuration of class ``cls`` from :func:`to_dict`'s output; a ConfigError
    names the file (``where``), the dotted key and what was expected."""
    if not isinstance(data, dict):
        section = f" {prefix.rstrip('.')}" if prefix else ""
        raise ConfigError(f"{where}:{section} expected an object, got {type(data).__name__}")
    hints = _field_types(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(prefix + k for k in set(data) - names)
    if unknown:
        expected = sorted(prefix + n for n in names)
        raise ConfigError(f"{where}: unknown keys {unknown}; this seqlab expects {expected}")
    values = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            values[name] = from_dict(hint, value, where, f"{prefix}{name}.")
        else:
            values[name] = _typed(value, hint, f"{where}: {prefix}{name}")
    try:
        return cls(**values)
    except (ValueError, TypeError) as err:
        raise ConfigError(f"{where}: {err}") from None


_JSON_TYPES = {"int": ("an integer", "64"), "float": ("a number", "0.003"),
               "bool": ("true or false", "true"), "str": ("a string", '"gru"')}  # fmt: skip


def _typed(value, annotation, where: str):
    """``value`` read from JSON, checked against the field's type (an int is a fine float)."""
    options = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if value is None and type(None) in options:
            return None
        annotation = next(a for a in options if a is not type(None))
    ok = {
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        str: lambda v: isinstance(v, str),
    }.get(annotation)
    if ok is not None and not ok(value):
        what, example = _JSON_TYPES[annotation.__name__]
        raise ConfigError(f"{where}={json.dumps(value)}: expected {what} (e.g. {example})")
    return float(value) if annotation is float else value


def check(condition: bool, field: str, value, expected: str) -> None:
    """For ``__post_init__``: raise a ConfigError naming the field, the value and what was
    expected unless ``condition`` holds."""
    if not condition:
        raise ConfigError(f"{field}={value!r}: expected {expected}")


def parse_list(value: str, field: str, cast=str, allowed=None) -> tuple:
    """A comma-separated configuration value as a tuple (``"lstm,gru"`` -> ``("lstm", "gru")``);
    a ConfigError naming the field when it is empty or an item does not parse or is not allowed."""
    items = [v.strip() for v in str(value).split(",") if v.strip()]
    try:
        parsed = tuple(cast(v) for v in items)
    except ValueError:
        parsed = ()
    ok = bool(parsed) and (allowed is None or all(v in allowed for v in parsed))
    expected = "a comma-separated list" + (f" of {', '.join(map(str, allowed))}" if allowed else "")
    check(ok, field, value, expected)
    return parsed
