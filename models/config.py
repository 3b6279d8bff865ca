"""Typed configuration dataclasses, loadable from YAML and validated on load."""

from __future__ import annotations

import contextlib
import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration file or dict does not match its dataclass."""


def _check_type(name: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _check_type(name, value, arg)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0])  # a union holds at least one type besides None
    if origin in (list, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}: expected a list, got {type(value).__name__}")
        inner = args[0] if args else Any
        items = [_check_type(f"{name}[]", v, inner) for v in value]
        return type(value)(items) if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping, got {type(value).__name__}")
        return value
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if not isinstance(value, dict):
            raise ConfigError(f"{name}: expected a mapping for {hint.__name__}")
        return from_dict(hint, value, prefix=f"{name}.")
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint is bool and not isinstance(value, bool):
        raise ConfigError(f"{name}: expected true/false, got {value!r}")
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ConfigError(f"{name}: expected {hint.__name__}, got {type(value).__name__} ({value!r})")
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build dataclass `cls` from a dict: unknown keys and wrong types raise `ConfigError`."""
    if not isinstance(data, dict):
        raise ConfigError(f"{prefix or cls.__name__}: expected a mapping")
    if unknown := set(data) - {f.name for f in dataclasses.fields(cls)}:
        raise ConfigError(
            f"unknown {cls.__name__} option(s): {', '.join(sorted(prefix + k for k in unknown))}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {k: _check_type(prefix + k, v, hints[k]) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as e:
        raise ConfigError(f"{cls.__name__}: {e}") from e


def to_dict(obj: Any) -> dict[str, Any]:
    """Dataclass → plain dict (recursively), ready for JSON or YAML."""
    return dataclasses.asdict(obj)


def load_config(cls: type[T], path: str | Path, overrides: dict[str, Any] | None = None) -> T:
    """Load and validate a YAML config into `cls`; `overrides` (dotted keys allowed) win."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f) or {}
    return from_dict(cls, apply_overrides(data, overrides or {}))


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set `overrides` in `data` and return it; dotted keys reach into nested mappings, created as needed."""
    for key, value in overrides.items():
        node = data
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    return data


def parse_override(text: str) -> tuple[str, Any]:
    """`key=value` from the command line, value parsed as YAML (`epochs=3`, `encoder.name=foo`)."""
    if "=" not in text:
        raise ConfigError(f"override must look like key=value, got {text!r}")
    key, raw = text.split("=", 1)
    value = yaml.safe_load(raw)
    if isinstance(value, str):
        # YAML 1.1 reads `1e-3` (no dot) as a string; on the command line it is always meant as a number.
        with contextlib.suppress(ValueError):
            value = float(value)
    return key.strip(), value
