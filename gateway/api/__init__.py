"""The back-office JSON API (``/api/v1``), the chain's inbound endpoints and health."""
