"""Run the mock GGk: ``python -m mocks.ggk --port 8081 --callback-url http://127.0.0.1:8080/ggk/soap``."""

from __future__ import annotations

import argparse

import uvicorn

from mocks.ggk.app import MockGgkConfig, create_app
from mocks.ggk.faults import Faults


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mocks.ggk", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--callback-url", required=True, help="the gateway's inbound GGk SOAP endpoint")
    parser.add_argument("--retour-delay", type=float, default=0.5, help="seconds before the retour is sent")
    parser.add_argument("--callback-attempts", type=int, default=10)
    parser.add_argument("--gemeentecode", default="0637", help="default receiver of the aanbieders' messages")
    parser.add_argument(
        "--callback-backoff", type=float, default=0.2, help="first wait between callback tries"
    )
    parser.add_argument("--callback-backoff-max", type=float, default=5.0)
    parser.add_argument(
        "--faults", type=Faults.model_validate_json, default=None, help="JSON, e.g. '{\"error_5xx\": 0.1}'"
    )
    args = parser.parse_args(argv)
    config = MockGgkConfig(
        callback_url=args.callback_url,
        retour_delay_s=args.retour_delay,
        callback_attempts=args.callback_attempts,
        gemeentecode=args.gemeentecode,
        callback_backoff_s=args.callback_backoff,
        callback_backoff_max_s=args.callback_backoff_max,
        faults=args.faults,
    )
    uvicorn.run(create_app(config), host=args.host, port=args.port)


if __name__ == "__main__":
    main()
