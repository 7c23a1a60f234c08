"""The gateway service: API, store, delivery engine, inbound handling, CLI.

``gateway`` knows the state of messages, never the XML element names: translation to
and from the chain standards lives in :mod:`connectors`.
"""

__version__ = "0.1.0"
