"""Pure translation between the gateway's domain data and the chain standards.

One package per standard or chain party. Nothing here does I/O beyond reading the
project's own schema files: no database, no HTTP.
"""
