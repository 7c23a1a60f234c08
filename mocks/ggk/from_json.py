"""Build the connector's frozen message dataclasses from plain JSON, generically.

The mock aanbieder's ``send`` endpoint takes a message as JSON that mirrors the
dataclasses of :mod:`connectors.istandaard.model_inbound` (field names as attributes,
dates as ISO strings, nested records as objects, tuples as lists). Walking the type
hints here, instead of one converter per message, keeps the JSON shape and the model
from drifting apart: a field added to the model is accepted at once.

Strict on purpose - unknown keys, wrong JSON types and missing required fields are
refused with the path of the offending field - because a typo in a test's message
should fail loudly, not send a message that silently lacks the field. Error messages
name paths and types, never values, so a BSN in the input cannot leak into them.
"""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from datetime import date, time
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


class JsonModelError(ValueError):
    """The JSON does not fit the dataclass; the message names the field path."""


def from_json(cls: type[T], data: object, *, path: str = "$") -> T:
    """An instance of the dataclass ``cls`` from ``data`` (decoded JSON), or :class:`JsonModelError`."""
    value: T = _convert(cls, data, path)
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(hint: Any, data: object, path: str) -> Any:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(hint) if a is not type(None)]
        if data is None:
            return None
        if len(options) != 1:
            raise JsonModelError(f"{path}: unions of several types are not supported")
        return _convert(options[0], data, path)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) != 2 or args[1] is not Ellipsis:
            raise JsonModelError(f"{path}: only variable-length tuples are supported")
        if not isinstance(data, list):
            raise JsonModelError(f"{path}: expected a list, got {_kind(data)}")
        return tuple(_convert(args[0], item, f"{path}[{i}]") for i, item in enumerate(data))
    if origin is dict:
        key_type, value_type = typing.get_args(hint)
        if key_type is not str or not isinstance(data, dict):
            raise JsonModelError(f"{path}: expected an object, got {_kind(data)}")
        return {str(k): _convert(value_type, v, f"{path}.{k}") for k, v in data.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _dataclass(hint, data, path)
    if isinstance(hint, type):
        return _scalar(hint, data, path)
    raise JsonModelError(f"{path}: unsupported type {hint!r}")


def _dataclass(cls: type, data: object, path: str) -> Any:
    if not isinstance(data, dict):
        raise JsonModelError(f"{path}: expected an object, got {_kind(data)}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise JsonModelError(f"{path}: unknown field(s) {unknown[:5]} for {cls.__name__}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], f"{path}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise JsonModelError(f"{path}.{name}: required field of {cls.__name__} is missing")
    return cls(**kwargs)


def _scalar(cls: type, data: object, path: str) -> Any:
    if issubclass(cls, enum.Enum):
        try:
            return cls(data)
        except ValueError:
            allowed = [m.value for m in cls]
            raise JsonModelError(f"{path}: expected one of {allowed}") from None
    if cls is bool:
        if isinstance(data, bool):
            return data
    elif cls is int:
        if isinstance(data, int) and not isinstance(data, bool):
            return data
    elif cls is str:
        if isinstance(data, str):
            return data
    elif cls in (date, time):
        if isinstance(data, str):
            try:
                return cls.fromisoformat(data)
            except ValueError:
                raise JsonModelError(f"{path}: not an ISO {cls.__name__}") from None
    else:
        raise JsonModelError(f"{path}: unsupported type {cls.__name__}")
    raise JsonModelError(f"{path}: expected {cls.__name__}, got {_kind(data)}")


def _kind(data: object) -> str:
    """The JSON type of ``data`` - never its value."""
    if data is None:
        return "null"
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
    }.get(type(data), type(data).__name__)
