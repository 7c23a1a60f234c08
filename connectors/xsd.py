"""Compiled XML schemas from the project's ``schemas/`` folder, validated with lxml.

Each schema is compiled once per thread (libxml2 is ~25x faster than the pure-Python
``xmlschema`` package, and compiling is far costlier than validating). lxml's schema
objects keep their error log on the instance, so one instance is never shared between
threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from schemas import SCHEMA_DIR

_per_thread = threading.local()
#: Compiling is not thread-safe in libxml2 as lxml uses it: threads compiling at once have
#: crashed the process (double free) and left it unable to compile any schema again (every
#: request of the fault test's API failed with "Document is not valid XML Schema"). One
#: compilation at a time; it happens once per thread and schema, so nobody waits long.
_compiling = threading.Lock()


@dataclass(frozen=True, slots=True)
class SchemaViolation:
    """One XSD error: where (line and element path) and libxml2's message."""

    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line} {self.path}: {self.message}"


class SchemaValidationError(ValueError):
    """A document does not validate against its schema."""

    def __init__(self, schema: str, violations: list[SchemaViolation]) -> None:
        self.schema = schema
        self.violations = violations
        first = violations[0] if violations else "unknown error"
        more = f" (+{len(violations) - 1} more)" if len(violations) > 1 else ""
        super().__init__(f"{schema}: {first}{more}")


def load_schema(relative_path: str, base_dir: Path = SCHEMA_DIR) -> etree.XMLSchema:
    """Compile ``base_dir/relative_path`` once (per thread) and return the validator.

    ``base_dir`` lets the conformance tests compile the published schemas through the
    same code path.
    """
    cache: dict[tuple[str, Path], etree.XMLSchema] | None = getattr(_per_thread, "schemas", None)
    if cache is None:
        cache = _per_thread.schemas = {}
    key = (relative_path, base_dir)
    schema = cache.get(key)
    if schema is None:
        path = (base_dir / relative_path).resolve()
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        with _compiling:
            schema = cache[key] = etree.XMLSchema(etree.parse(str(path), parser=parser))
    return schema


def violations(
    schema: etree.XMLSchema, document: etree._Element | etree._ElementTree
) -> list[SchemaViolation]:
    """Validate and return the violations; an empty list means valid."""
    if schema.validate(document):
        return []
    log: Iterable[Any] = schema.error_log  # type: ignore[assignment]  # lxml-stubs lack __iter__
    return [SchemaViolation(e.line, e.path or "", e.message) for e in log]


def assert_valid(relative_path: str, document: etree._Element | etree._ElementTree) -> None:
    """Raise :class:`SchemaValidationError` unless ``document`` validates."""
    found = violations(load_schema(relative_path), document)
    if found:
        raise SchemaValidationError(relative_path, found)
