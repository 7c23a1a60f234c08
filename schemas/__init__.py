"""The project's own XML schemas, shipped with the package.

They are written from the facts the published standards define (element names, types,
cardinalities, code lists) and are the schemas the gateway validates against at run
time. The published originals live outside the project and are used only by the
conformance tests.
"""

from pathlib import Path

SCHEMA_DIR: Path = Path(__file__).resolve().parent

__all__ = ["SCHEMA_DIR"]
