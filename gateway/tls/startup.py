"""What ``gateway serve`` does about transport security at start-up.

Production mode needs the mutual-TLS chain listener (``GATEWAY_CHAIN_TLS__*``) and our
client certificate towards the GGk (``GATEWAY_GGK_TLS__*``) and each CORV party (its
``tls`` in ``GATEWAY_CORV__PARTIES``); without them the gateway refuses to start.
Development mode (the Quickstart, the mocks) may run plain HTTP, and says so loudly: a
warning log event ``insecure_development_mode`` and lines in the banner.
"""

from __future__ import annotations

from typing import Any

import structlog
import uvicorn

from gateway.settings import Mode, Settings
from gateway.tls.server import chain_listener_config

log = structlog.get_logger("gateway.tls")


def production_problems(settings: Settings) -> list[str]:
    """Why this configuration may not run in production mode (empty: it may)."""
    if settings.mode is not Mode.PRODUCTION:
        return []
    problems = []
    if not settings.chain_tls.enabled:
        problems.append(
            "production mode needs the mutual-TLS chain listener: set GATEWAY_CHAIN_TLS__CERT_FILE, "
            "__KEY_FILE, __CA_FILE and __PARTIES"
        )
    if not settings.ggk_tls.enabled:
        problems.append(
            "production mode needs mutual TLS to the GGk: set GATEWAY_GGK_TLS__CERT_FILE, __KEY_FILE, "
            "__CA_FILE and __SERVER_OIN"
        )
    elif not settings.ggk_tls.server_oin:
        problems.append("GATEWAY_GGK_TLS__SERVER_OIN (the GGk's OIN) is required")
    for party in settings.corv.parties:
        if not party.url or not party.tls.enabled:
            problems.append(
                f"production mode needs mutual TLS to CORV party {party.oin}: set its url (https) and "
                "tls (cert_file, key_file, ca_file) in GATEWAY_CORV__PARTIES"
            )
    return problems


def chain_listener(app: Any, settings: Settings, **options: Any) -> uvicorn.Server | None:
    """The mutual-TLS server for the chain endpoints, when configured."""
    if not settings.chain_tls.enabled:
        return None
    return uvicorn.Server(chain_listener_config(app, settings.chain_tls, settings.host, **options))


def announce(settings: Settings) -> list[str]:
    """Log the transport security in force; return lines for the start-up banner."""
    if settings.chain_tls.enabled:
        parties = ", ".join(f"{party.name} ({party.oin})" for party in settings.chain_tls.parties)
        log.info("chain_listener_mutual_tls", port=settings.chain_tls.port, parties=parties)
        lines = [
            f"chain endpoints: https://{settings.host}:{settings.chain_tls.port} (mutual TLS: {parties})"
        ]
    else:
        log.warning(
            "insecure_development_mode",
            detail="chain endpoints on plain HTTP without client certificates; never use with real data",
        )
        lines = ["INSECURE: chain endpoints (/ggk/soap, /corv/ebms) on plain HTTP, no client certificates."]
    if not settings.ggk_tls.enabled:
        lines.append("INSECURE: the GGk is reached without mutual TLS (no client certificate).")
    plain_corv = [party.oin for party in settings.corv.parties if not party.tls.enabled]
    if plain_corv:
        lines.append(
            f"INSECURE: CORV {', '.join(plain_corv)} reached without mutual TLS (no client certificate)."
        )
    if not settings.api_tls.enabled and settings.mode is Mode.PRODUCTION:
        log.warning(
            "api_plain_http", detail="the back-office API listens on plain HTTP: terminate TLS in front"
        )
    return lines


def api_tls_options(settings: Settings) -> dict[str, Any]:
    """uvicorn options for the back-office API listener: TLS when configured."""
    tls = settings.api_tls
    if not tls.enabled:
        return {}
    return {
        "ssl_certfile": str(tls.cert_file),
        "ssl_keyfile": str(tls.key_file) if tls.key_file else None,
        "ssl_keyfile_password": tls.key_password or None,
    }
